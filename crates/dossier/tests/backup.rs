//! `dossier backup`, `dossier restore` and `dossier migrate`: black-box, on the embedded
//! store (the PostgreSQL side runs where a PostgreSQL server is installed; see
//! `crates/dossier-store/tests/contract.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;

use common::{bin, member_token, ok_in, run_in, serve};

/// Every exported object, by id (the bundle's own id differs per export).
fn objects(data: &Path) -> std::collections::BTreeMap<String, Value> {
    let bundle: Value = serde_json::from_str(&ok_in(data, &["export"])).unwrap();
    bundle["objects"].as_array().unwrap().iter().map(|o| (o["id"].as_str().unwrap().to_owned(), o.clone())).collect()
}

fn bundle(n: usize, tag: &str) -> String {
    let objects: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "type": "email-addr", "spec_version": "2.1",
                "id": format!("email-addr--{}", uuid_like(tag, i)),
                "value": format!("{tag}.{i}@example.org"),
            })
        })
        .collect();
    serde_json::json!({"type": "bundle", "id": "bundle--6c1b3a0e-5d2f-4a4b-9b7e-0f3c2d1e4a5b", "objects": objects})
        .to_string()
}

fn uuid_like(tag: &str, i: usize) -> String {
    let h = tag.bytes().fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("{h:08x}-0000-4000-8000-{i:012x}")
}

#[test]
fn a_backup_taken_while_serving_and_writing_restores_to_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = member_token(&data, "Acme Exchange");
    std::fs::write(dir.path().join("first.json"), bundle(300, "first")).unwrap();
    ok_in(&data, &["import", "--org", "Acme Exchange", dir.path().join("first.json").to_str().unwrap()]);
    let base = objects(&data).len() as u64;
    let served = serve(&data, &[]);
    // A write in flight while the backup runs: the backup holds all of it or none.
    std::fs::write(dir.path().join("second.json"), bundle(5000, "second")).unwrap();
    let mut writer = Command::new(bin())
        .arg("--data")
        .arg(&data)
        .args(["import", "--org", "Acme Exchange", dir.path().join("second.json").to_str().unwrap()])
        .spawn()
        .unwrap();
    let backup = dir.path().join("dossier.bak");
    let out = ok_in(&data, &["backup", backup.to_str().unwrap()]);
    assert!(writer.wait().unwrap().success());
    let line: Value = serde_json::from_str(out.trim()).unwrap();
    let in_backup = line["objects"].as_u64().unwrap();
    assert!(
        in_backup == base || in_backup == base + 5000,
        "a consistent snapshot holds the whole second import or none of it: {in_backup}"
    );
    drop(served);

    // Restore into a new data directory: the copy is checked against the backup.
    let restored = dir.path().join("restored");
    let out = ok_in(&restored, &["restore", backup.to_str().unwrap()]);
    let line: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(line["object_versions"].as_u64(), Some(in_backup), "{out}");
    assert_eq!(line["verified"]["rows"]["tokens"], 1, "{out}");
    let sha = line["verified"]["objects_sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    if in_backup == base + 5000 {
        assert_eq!(objects(&restored), objects(&data), "everything comes back as it was");
    }
    // Members, tokens and the audit log come back too: the member's token still works.
    let orgs = ok_in(&restored, &["org", "list"]);
    assert!(orgs.contains("Acme Exchange"), "{orgs}");
    let served = serve(&restored, &[]);
    let status_of = |secret: &str| {
        let auth = format!("Bearer {secret}");
        let headers = [("Authorization", auth.as_str()), ("Accept", "application/taxii+json;version=2.1")];
        dossier_test_support::http::request(&served.addr(), "GET", "/taxii2/", &headers, None).status.to_string()
    };
    assert_eq!(status_of(&token), "200", "the restored token authenticates");
    assert_eq!(status_of("dsk_not-a-token"), "401");
}

#[test]
fn restore_and_migrate_refuse_a_store_in_use_and_files_that_are_no_backup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    member_token(&data, "Acme Exchange");
    let backup = dir.path().join("b.db");
    ok_in(&data, &["backup", backup.to_str().unwrap()]);
    // Never over an existing file.
    let again = run_in(&data, &["backup", backup.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    // Never into a store in use: its members and tokens would be lost.
    let before = ok_in(&data, &["org", "list"]);
    let into_used = run_in(&data, &["restore", backup.to_str().unwrap()]);
    assert_eq!(into_used.status.code(), Some(1));
    let err = String::from_utf8_lossy(&into_used.stderr);
    assert!(err.contains("the target store is in use"), "{err}");
    assert_eq!(ok_in(&data, &["org", "list"]), before, "nothing changed");
    // A file that is not a backup is named as such.
    let json = dir.path().join("x.json");
    std::fs::write(&json, "{}").unwrap();
    let bad = run_in(&dir.path().join("other"), &["restore", json.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a dossier backup"));
    // Unknown backends are named, passwords never printed.
    let url = run_in(&data, &["migrate", "--from", "mysql://u:hunter2@h/db", "--to", "sqlite:/tmp/x"]);
    let err = String::from_utf8_lossy(&url.stderr);
    assert!(err.contains("unknown scheme \"mysql\"") && !err.contains("hunter2"), "{err}");
}

#[test]
fn migrate_copies_everything_and_database_url_opens_the_copy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    member_token(&data, "Acme Exchange");
    std::fs::write(dir.path().join("b.json"), bundle(50, "m")).unwrap();
    ok_in(&data, &["import", "--org", "Acme Exchange", dir.path().join("b.json").to_str().unwrap()]);
    ok_in(&data, &["audit"]);
    let to = dir.path().join("copy");
    let out = ok_in(
        &data,
        &["migrate", "--from", &format!("sqlite:{}", data.display()), "--to", &format!("sqlite:{}", to.display())],
    );
    let line: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(line["verified"]["rows"]["audit"].as_u64().unwrap() >= 1, "the audit log is copied: {out}");
    // --database-url opens the copy (the data directory only holds node-local files).
    let elsewhere = dir.path().join("node");
    let via_url = Command::new(bin())
        .arg("--data")
        .arg(&elsewhere)
        .arg("--database-url")
        .arg(format!("sqlite:{}", to.display()))
        .arg("export")
        .output()
        .unwrap();
    assert!(via_url.status.success());
    let copied: Value = serde_json::from_slice(&via_url.stdout).unwrap();
    let ids: std::collections::BTreeSet<String> =
        copied["objects"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, objects(&data).into_keys().collect());
    assert!(!elsewhere.join("dossier.db").exists(), "the store was not opened in the data directory");
}

#[test]
fn migrate_to_postgres_back_up_there_and_restore_gives_the_same_export() {
    let Some(cluster) = dossier_test_support::postgres::Cluster::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    member_token(&data, "Acme Exchange");
    std::fs::write(dir.path().join("b.json"), bundle(200, "pg")).unwrap();
    ok_in(&data, &["import", "--org", "Acme Exchange", dir.path().join("b.json").to_str().unwrap()]);
    let url = cluster.database();
    let out = ok_in(&data, &["migrate", "--from", &format!("sqlite:{}", data.display()), "--to", &url]);
    let line: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(line["to"], url.as_str(), "{out}");
    assert!(line["verified"]["objects_sha256"].as_str().is_some_and(|s| s.len() == 64));
    // `dossier backup` of the PostgreSQL store (named by --database-url), restored into a
    // new data directory, exports what the original exports.
    let file = dir.path().join("pg.bak");
    let backup = Command::new(bin())
        .arg("--data")
        .arg(dir.path().join("node"))
        .args(["--database-url", &url, "backup", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    let restored = dir.path().join("restored");
    ok_in(&restored, &["restore", file.to_str().unwrap()]);
    assert_eq!(objects(&restored), objects(&data));
    // The same store serves the CLI through --database-url.
    let orgs = Command::new(bin()).args(["--database-url", &url, "org", "list"]).output().unwrap();
    assert!(orgs.status.success(), "{}", String::from_utf8_lossy(&orgs.stderr));
    assert!(String::from_utf8_lossy(&orgs.stdout).contains("Acme Exchange"));
}
