//! Interop with independent OASIS tools (`stix2-validator`, `stix2`), installed from PyPI by
//! `tests/python/setup.sh`, which the README's test command runs first.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use dossier_test_support::{python, workspace};
use std::process::Command;

fn dossier(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_dossier")).arg("--data").arg(data).args(args).output().unwrap();
    assert!(out.status.success(), "dossier {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn an_exported_generated_bundle_passes_stix2_validator_with_zero_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let generated = dir.path().join("gen.json");
    dossier(&data, &["generate", "--actors", "60", "--seed", "21", "--out", generated.to_str().unwrap()]);
    dossier(&data, &["import", generated.to_str().unwrap()]);
    let exported = dossier(&data, &["export"]).stdout;
    let path = dir.path().join("export.json");
    std::fs::write(&path, &exported).unwrap();
    let out = Command::new(python()).arg(workspace().join("tests/python/check_export.py")).arg(&path).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "OASIS tools found errors:\n{report}");
    assert!(report.contains(" 0 errors"), "{report}");
}

#[test]
fn the_openapi_document_is_valid_and_real_answers_conform_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let generated = dir.path().join("gen.json");
    dossier(&data, &["generate", "--actors", "30", "--seed", "5", "--out", generated.to_str().unwrap()]);
    dossier(&data, &["import", generated.to_str().unwrap()]);
    dossier(&data, &["org", "add", "Member One"]);
    let token = |org: &str, role: &str| {
        let out = dossier(&data, &["token", "create", "--org", org, "--role", role]);
        String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned()
    };
    let (member, analyst) = (token("Member One", "member"), token("ISAC", "analyst"));
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&generated).unwrap()).unwrap();
    let email = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["type"] == "email-addr")
        .and_then(|o| o["value"].as_str())
        .unwrap()
        .to_owned();
    let mut server = Command::new(env!("CARGO_BIN_EXE_dossier"))
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut url).unwrap();
    let base = url.trim().trim_end_matches("/taxii2/").to_owned();
    let out = Command::new(python())
        .arg(workspace().join("tests/python/check_openapi.py"))
        .args([&base, &member, &analyst, &email])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "OpenAPI check failed:\n{report}");
    assert!(report.contains("all OpenAPI checks passed"));
}
