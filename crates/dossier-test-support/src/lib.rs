//! Test plumbing shared by the workspace's test suites (a dev-dependency only): where the
//! workspace is, the Python of the test environment (`tests/python/setup.sh` makes `.venv`
//! with the pinned independent clients — OASIS `taxii2-client`, `stix2`, `stix2-validator`,
//! Selenium, `aiosmtpd` …; the README's test command runs it first), and the scripts under
//! `tests/python`.

pub mod http;
pub mod postgres;

use std::path::PathBuf;

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The Python of the test environment: `DOSSIER_PYTHON`, else `.venv/bin/python`.
///
/// # Panics
/// When it does not exist, saying how to make it: a test that needs it must not pass
/// without it.
#[allow(clippy::panic)]
pub fn python() -> PathBuf {
    let p = std::env::var_os("DOSSIER_PYTHON").map_or_else(|| workspace().join(".venv/bin/python"), PathBuf::from);
    if !p.exists() {
        panic!(
            "{} not found: run tests/python/setup.sh (the README's test command does) or set DOSSIER_PYTHON",
            p.display()
        );
    }
    p
}

/// A script under `tests/python`.
pub fn python_script(name: &str) -> PathBuf {
    workspace().join("tests/python").join(name)
}
