//! The web interface in a real headless Chromium: sign in, search, open an actor and click
//! through its graph, screen a hit and a clear applicant, upload a batch and download the
//! results, contribute a persona (with a field error first), a member failing to see another
//! member's RED data, and an analyst signing in with a password to the admin pages.
//!
//! The browser is Debian's `chromium` with `chromium-driver` (installed by `.ci/run`), driven
//! by Selenium from `.venv` (`tests/python/setup.sh`). Screenshots land in
//! `target/web-screenshots/`. Set `DOSSIER_SKIP_BROWSER=1` to skip on a machine without
//! Chromium; the test otherwise fails, so that CI cannot pass without running it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

mod common;

use dossier_test_support::{python, workspace};
use std::path::Path;
use std::process::Command;

use common::{ok_in, serve};
use serde_json::{Value, json};

/// An operative's email, persona name and actor id from the demo bundle.
fn an_operative(bundle: &Path) -> (String, String, String) {
    let b: Value = serde_json::from_str(&std::fs::read_to_string(bundle).unwrap()).unwrap();
    let objects = b["objects"].as_array().unwrap();
    let by_id = |id: &str| objects.iter().find(|o| o["id"] == id);
    for r in objects.iter().filter(|o| o["type"] == "relationship" && o["relationship_type"] == "related-to") {
        let (src, dst) = (r["source_ref"].as_str().unwrap(), r["target_ref"].as_str().unwrap());
        if src.starts_with("identity--") && dst.starts_with("email-addr--") {
            let persona = by_id(src).unwrap();
            let stolen = persona["labels"].as_array().is_some_and(|l| l.iter().any(|x| x == "stolen-identity"));
            let actor = objects.iter().find(|o| {
                o["type"] == "relationship" && o["source_ref"] == src && o["relationship_type"] == "attributed-to"
            });
            if let (false, Some(actor)) = (stolen, actor) {
                return (
                    by_id(dst).unwrap()["value"].as_str().unwrap().to_owned(),
                    persona["name"].as_str().unwrap().to_owned(),
                    actor["target_ref"].as_str().unwrap().to_owned(),
                );
            }
        }
    }
    panic!("no operative email in the demo bundle");
}

#[test]
fn main_journeys_in_headless_chromium() {
    let chromium = std::env::var("DOSSIER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = std::env::var("DOSSIER_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if !Path::new(&chromium).exists() || !Path::new(&driver).exists() {
        if std::env::var_os("DOSSIER_SKIP_BROWSER").is_some() {
            eprintln!("skipped: no {chromium} or {driver} (DOSSIER_SKIP_BROWSER is set)");
            return;
        }
        panic!(
            "{chromium} and {driver} are needed: apt-get install chromium chromium-driver (.ci/run does), or set DOSSIER_SKIP_BROWSER=1"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(common::bin())
        .arg("--data")
        .arg(&data)
        .args(["demo", "--no-serve", "--actors", "40"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let member_token = stderr
        .lines()
        .find_map(|l| {
            l.split_once("member token for Example Exchange (shown once): ").map(|(_, t)| t.trim().to_owned())
        })
        .expect("demo prints a member token");
    let owner_token = ok_in(&data, &["token", "create", "--org", "Example Wallet", "--role", "member"])
        .lines()
        .last()
        .unwrap()
        .to_owned();
    // Example Wallet's TLP:RED actor, persona and email.
    let red = |ty: &str, n: u32, extra: Value| {
        let mut v = json!({"type": ty, "spec_version": "2.1", "id": format!("{ty}--00000000-0000-4000-8000-{n:012}"),
            "created": "2026-03-01T00:00:00.000Z", "modified": "2026-03-01T00:00:00.000Z", "confidence": 90,
            "object_marking_refs": ["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let red_email = "red.e2e.only@example.com";
    let email_id = "email-addr--5a1e6a3e-5e2b-5b5a-9d6f-3f0c8b8a1e01";
    let bundle = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000099", "objects": [
        red("threat-actor", 1, json!({"name": "Crimson E2E Team"})),
        red("identity", 2, json!({"name": "Hidden E2E Persona", "identity_class": "individual"})),
        {"type": "email-addr", "spec_version": "2.1", "id": email_id, "value": red_email,
         "object_marking_refs": ["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]},
        red("relationship", 3, json!({"relationship_type": "attributed-to", "source_ref": "identity--00000000-0000-4000-8000-000000000002", "target_ref": "threat-actor--00000000-0000-4000-8000-000000000001"})),
        red("relationship", 4, json!({"relationship_type": "related-to", "source_ref": "identity--00000000-0000-4000-8000-000000000002", "target_ref": email_id})),
    ]});
    let red_file = dir.path().join("red.json");
    std::fs::write(&red_file, bundle.to_string()).unwrap();
    ok_in(&data, &["import", red_file.to_str().unwrap(), "--org", "Example Wallet"]);
    let password = "e2e correct horse battery";
    let out = Command::new(common::bin())
        .arg("--data")
        .arg(&data)
        .args(["user", "add", "e2e-analyst", "--org", "ISAC", "--role", "admin"])
        .env("DOSSIER_PASSWORD", password)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (hit_email, hit_name, hit_actor) = an_operative(&data.join("demo-bundle.json"));
    // A batch: the first demo applicants and one operative.
    let applicants = std::fs::read_to_string(data.join("demo-applicants.jsonl")).unwrap();
    let mut batch: Vec<String> = applicants.lines().take(40).map(str::to_owned).collect();
    batch.push(json!({"ref": "e2e-batch-hit", "emails": [hit_email]}).to_string());
    // A ref a spreadsheet would run as a formula (the CSV download must defuse it), and a
    // line that is not JSON (an error row; the rest still run).
    batch.push(json!({"ref": "=HYPERLINK(\"http://example.com\")", "names": ["Jane Formula"]}).to_string());
    batch.push("{not json".to_owned());
    let batch_file = dir.path().join("batch.jsonl");
    std::fs::write(&batch_file, batch.join("\n") + "\n").unwrap();

    let served = serve(&data, &[]);
    let shots = workspace().join("target/web-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let args = json!({
        "base": served.base(), "screenshots": shots, "profile": dir.path().join("profile"), "downloads": downloads,
        "chromium": chromium, "chromedriver": driver,
        "member_token": member_token, "owner_token": owner_token,
        "hit_email": hit_email, "hit_name": hit_name, "hit_actor_path": format!("/actors/{hit_actor}"),
        "batch_file": batch_file, "batch_records": batch.len(),
        "fresh_wallet": "0x52908400098527886E0F7030069857D2E4169EE7",
        "red_email": red_email, "red_actor_name": "Crimson E2E Team", "red_actor_id": "threat-actor--00000000-0000-4000-8000-000000000001",
        "user": "e2e-analyst", "password": password,
    });
    let out = Command::new(python())
        .arg(workspace().join("tests/python/web_e2e.py"))
        .arg(args.to_string())
        .env("SE_OFFLINE", "true")
        .output()
        .expect("run tests/python/web_e2e.py (tests/python/setup.sh makes .venv)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser journeys failed (screenshots in {}):\n{stdout}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all journeys passed"));
}
