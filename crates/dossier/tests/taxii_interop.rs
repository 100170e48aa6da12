//! `dossier serve` driven by the OASIS `taxii2-client` (PyPI), as member tooling would.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let p =
        std::env::var_os("DOSSIER_PYTHON").map(PathBuf::from).unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(p.exists(), "{} not found: run tests/python/setup.sh (the README's test command does)", p.display());
    p
}

struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn taxii2_client_adds_pages_and_reads_back_objects_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_dossier")).arg("--data").arg(&data).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["org", "add", "Interop Member"]);
    let token =
        run(&["token", "create", "--org", "Interop Member", "--role", "member"]).lines().last().unwrap().to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dossier"))
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut url).unwrap();
    let _server = Server(child);
    let out = Command::new(python())
        .arg(workspace().join("tests/python/taxii_client_check.py"))
        .args([url.trim(), "Interop Member", &token])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "taxii2-client checks failed:\n{report}");
    assert!(report.contains(" 0 failed"));
}
