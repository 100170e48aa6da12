//! Helpers shared by the binary's black-box tests: run `dossier` on a data directory, make a
//! member token, and serve on a free port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dossier"))
}

/// The file in a data directory that, when a test writes it, names the store the
/// directory's commands use instead of its embedded one (a PostgreSQL database).
pub const STORE_URL_FILE: &str = "test-store-url";

/// `dossier --data DATA` (and `--database-url` when the directory names another store,
/// see [`STORE_URL_FILE`]), ready for its arguments.
pub fn dossier_in(data: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("--data").arg(data);
    if let Ok(url) = std::fs::read_to_string(data.join(STORE_URL_FILE)) {
        c.arg("--database-url").arg(url.trim());
    }
    c
}

/// A data directory at `data` whose commands use the store at `url`.
pub fn use_store(data: &Path, url: &str) {
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(data.join(STORE_URL_FILE), url).unwrap();
}

/// `dossier --data DATA ARGS…`
pub fn run_in(data: &Path, args: &[&str]) -> Output {
    dossier_in(data).args(args).output().unwrap()
}

/// Like [`run_in`], failing the test unless it succeeds; returns stdout.
pub fn ok_in(data: &Path, args: &[&str]) -> String {
    let out = run_in(data, args);
    assert!(out.status.success(), "dossier {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Adds organization `org` and returns a fresh member token's secret.
pub fn member_token(data: &Path, org: &str) -> String {
    ok_in(data, &["org", "add", org]);
    ok_in(data, &["token", "create", "--org", org, "--role", "member"]).lines().last().unwrap().to_owned()
}

/// A running `dossier serve`, killed when dropped unless it already stopped.
pub struct Served {
    pub child: Child,
    /// The TAXII discovery URL it printed, e.g. `http://127.0.0.1:40123/taxii2/`.
    pub url: String,
}

impl Served {
    /// `host:port`.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").trim_end_matches("/taxii2/").to_owned()
    }
    /// `http://host:port` (no path).
    pub fn base(&self) -> String {
        self.url.trim_end_matches("/taxii2/").to_owned()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `dossier --data DATA serve --listen 127.0.0.1:0 EXTRA…` and waits for its URL.
pub fn serve(data: &Path, extra: &[&str]) -> Served {
    let mut child = dossier_in(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut url).unwrap();
    Served { child, url: url.trim().to_owned() }
}
