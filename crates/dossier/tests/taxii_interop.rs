//! `dossier serve` driven by the OASIS `taxii2-client` (PyPI), as member tooling would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use dossier_test_support::{python, workspace};
use std::process::Command;

mod common;

#[test]
fn taxii2_client_adds_pages_and_reads_back_objects_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = common::member_token(&data, "Interop Member");
    let served = common::serve(&data, &[]);
    let out = Command::new(python())
        .arg(workspace().join("tests/python/taxii_client_check.py"))
        .args([served.url.as_str(), "Interop Member", &token])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "taxii2-client checks failed:\n{report}");
    assert!(report.contains(" 0 failed"));
}
