//! `dossier import` of the other formats, black-box, with the fixtures in `tests/fixtures`:
//! the OFAC SDN list's CSV files, MISP events and a MISP feed, a CSV of identifiers.
//! Counts, provenance, TLP, a dry run that stores nothing, and screens that match what was
//! imported.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::Path;

use dossier_test_support::workspace;
use serde_json::Value;

mod common;
use common::{ok_in, run_in};

const CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

fn fixture(p: &str) -> String {
    workspace().join("tests/fixtures").join(p).to_str().unwrap().to_owned()
}

fn objects(data: &Path) -> Vec<Value> {
    let bundle: Value = serde_json::from_str(&ok_in(data, &["export"])).unwrap();
    bundle["objects"].as_array().cloned().unwrap_or_default()
}

/// Screens one applicant locally; returns its result.
fn screen(data: &Path, dir: &Path, applicant: &str) -> Value {
    let file = dir.join("applicant.jsonl");
    std::fs::write(&file, format!("{applicant}\n")).unwrap();
    let out = ok_in(data, &["screen", file.to_str().unwrap()]);
    serde_json::from_str(out.lines().next().unwrap()).unwrap()
}

fn summary(out: &str) -> Value {
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

#[test]
fn the_ofac_sdn_list_imports_dprk_entries_matches_their_wallets_and_revokes_delisted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = summary(&ok_in(&data, &["import", &fixture("ofac")]));
    assert_eq!(
        (s["format"].as_str(), s["added"].as_u64(), s["refused"].as_u64()),
        (Some("ofac"), Some(33), Some(1)),
        "{s}"
    );
    let all = objects(&data);
    let actors: Vec<&Value> = all.iter().filter(|o| o["type"] == "threat-actor").collect();
    let names: Vec<&str> = actors.iter().filter_map(|a| a["name"].as_str()).collect();
    assert!(names.contains(&"Chol Ung RI") && names.contains(&"SOBAEKSU IT TRADING COMPANY"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.contains("AEROCARIBBEAN") || n.contains("LIN")),
        "other programs were kept: {names:?}"
    );
    let ri = actors.iter().find(|a| a["name"] == "Chol Ung RI").unwrap();
    assert_eq!(ri["labels"][0], "sanctioned");
    assert_eq!(ri["aliases"], serde_json::json!(["Chol-ung RI", "Cheol Woong LEE"]));
    assert_eq!(ri["object_marking_refs"][0], CLEAR);
    // The continuation in sdn_comments.csv completed a cut address.
    let wallets: Vec<&str> =
        all.iter().filter(|o| o["type"] == "cryptocurrency-wallet").filter_map(|o| o["value"].as_str()).collect();
    assert!(wallets.contains(&"0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BAe"), "{wallets:?}");
    // Screening: a sanctioned wallet matches exactly; the name alone never does.
    let r = screen(
        &data,
        dir.path(),
        r#"{"ref": "cp-1", "wallets": [{"address": "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae"}]}"#,
    );
    assert_eq!(r["decision"], "match", "{r}");
    let r = screen(&data, dir.path(), r#"{"ref": "cp-2", "names": ["Ri Chol Ung"]}"#);
    assert_ne!(r["decision"], "match", "{r}");
    // The same list again changes nothing.
    let s = summary(&ok_in(&data, &["import", &fixture("ofac")]));
    assert_eq!((s["added"].as_u64(), s["updated"].as_u64()), (Some(0), Some(0)), "{s}");
    // A newer list without the trading company revokes it.
    let newer = dir.path().join("newer");
    std::fs::create_dir(&newer).unwrap();
    let sdn = std::fs::read_to_string(fixture("ofac/sdn.csv")).unwrap();
    let kept: String = sdn.split_inclusive('\n').filter(|l| !l.starts_with("9102,")).collect();
    std::fs::write(newer.join("sdn.csv"), kept).unwrap();
    let s = summary(&ok_in(&data, &["import", newer.to_str().unwrap(), "--format", "ofac"]));
    assert!(s["revoked"].as_u64().unwrap() >= 3, "the actor, its personas and ties: {s}");
    let company = objects(&data)
        .into_iter()
        .find(|o| o["name"] == "SOBAEKSU IT TRADING COMPANY" && o["type"] == "threat-actor")
        .unwrap();
    assert_eq!(company["revoked"], true);
}

#[test]
fn misp_events_and_feeds_import_with_their_provenance_and_tlp_and_screen() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok_in(&data, &["org", "add", "Exchange A"]);
    let s = summary(&ok_in(&data, &["import", &fixture("misp/event.json"), "--org", "Exchange A"]));
    assert_eq!(
        (s["format"].as_str(), s["added"].as_u64(), s["refused"].as_u64()),
        (Some("misp"), Some(18), Some(1)),
        "{s}"
    );
    let all = objects(&data);
    let cert = all.iter().find(|o| o["name"] == "Exchange CERT").unwrap()["id"].as_str().unwrap().to_owned();
    let actor = all.iter().find(|o| o["type"] == "threat-actor").unwrap();
    assert_eq!(actor["name"], "Famous Chollima");
    assert_eq!(actor["created_by_ref"], cert.as_str(), "the event's organization is the provenance");
    let ip = all.iter().find(|o| o["type"] == "ipv4-addr").unwrap();
    assert_eq!(ip["object_marking_refs"][0], RED, "distribution 0 is RED");
    let person = all.iter().find(|o| o["name"] == "Chol-su Kim").unwrap();
    assert_eq!(person["identity_class"], "individual");
    for (field, value) in [
        ("emails", r#""chol.su.dev@gmail.com""#),
        ("phones", r#""+1 (312) 555-0142""#),
        ("wallets", r#"{"address": "1KFHE7w8BhaENAswwryaoccDb6qcT6DbYY"}"#),
    ] {
        let r = screen(&data, dir.path(), &format!(r#"{{"ref": "a", "{field}": [{value}]}}"#));
        assert_eq!(r["decision"], "match", "{field}: {r}");
    }
    // Another member imports the same event: the same objects, counted as corroboration —
    // neither a conflict that stops its import nor a second copy.
    ok_in(&data, &["org", "add", "Wallet B"]);
    let s = summary(&ok_in(&data, &["import", &fixture("misp/event.json"), "--org", "Wallet B"]));
    assert_eq!(
        (s["added"].as_u64(), s["unchanged"].as_u64(), s["left_out"].as_u64()),
        (Some(0), Some(18), Some(0)),
        "{s}"
    );
    // A feed: manifest.json and its events.
    let s = summary(&ok_in(&data, &["import", &fixture("misp/feed")]));
    assert_eq!(s["added"].as_u64(), Some(16), "{s}");
    let all = objects(&data);
    let chollima: Vec<&Value> =
        all.iter().filter(|o| o["type"] == "threat-actor" && o["name"] == "Famous Chollima").collect();
    assert_eq!(chollima.len(), 2, "a tag names the actor, the galaxy cluster names it too: two sources, two objects");
    let r = screen(
        &data,
        dir.path(),
        r#"{"ref": "b", "wallets": [{"address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"}]}"#,
    );
    assert_eq!(r["decision"], "match", "{r}");
    // Export one actor as a MISP event and read it back.
    let id = chollima
        .iter()
        .find(|a| a["external_references"][0]["external_id"] == "5f0c1c3a-1b2c-4d5e-8f90-0123456789ab")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let event: Value = serde_json::from_str(&ok_in(&data, &["export", "--format", "misp", "--actor", &id])).unwrap();
    assert_eq!(event["Event"]["info"], "Famous Chollima");
    let attrs: Vec<&str> = event["Event"]["Object"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["Attribute"].as_array().unwrap().iter().filter_map(|a| a["type"].as_str()))
        .collect();
    assert!(attrs.contains(&"email") && attrs.contains(&"phone-number") && attrs.contains(&"btc"), "{attrs:?}");
}

#[test]
fn a_csv_of_identifiers_previews_every_refused_row_then_imports_and_screens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok_in(&data, &["org", "add", "Recruiter C"]);
    let before = objects(&data).len();
    let out = run_in(&data, &["import", &fixture("identifiers.csv"), "--org", "Recruiter C", "--dry-run"]);
    assert!(out.status.success());
    let preview: Value = serde_json::from_slice(&out.stdout).unwrap();
    let refused: Vec<&str> = preview["refused"].as_array().unwrap().iter().filter_map(|r| r["at"].as_str()).collect();
    assert_eq!(refused, ["line 8", "line 9", "line 10", "line 11"], "{preview}");
    assert_eq!(preview["would_create"]["threat-actor"], 1);
    assert_eq!(objects(&data).len(), before, "a dry run stored something");
    let s = summary(&ok_in(&data, &["import", &fixture("identifiers.csv"), "--org", "Recruiter C", "--named"]));
    assert_eq!(s["added"].as_u64(), Some(17), "{s}");
    let all = objects(&data);
    let location = all.iter().find(|o| o["type"] == "location").unwrap();
    assert_eq!(location["object_marking_refs"][0], RED);
    let persona = all.iter().find(|o| o["name"] == "Kim Chol-su").unwrap();
    assert_eq!(persona["object_marking_refs"][0], RED, "as restricted as its most restricted row");
    for (field, value) in [
        ("wallets", r#"{"address": "0x52908400098527886e0f7030069857d2e4169ee7"}"#),
        ("emails", r#""jongho.ri.web3@proton.me""#),
    ] {
        let r = screen(&data, dir.path(), &format!(r#"{{"ref": "c", "{field}": [{value}]}}"#));
        assert_eq!(r["decision"], "match", "{field}: {r}");
    }
    // Importing the sheet again updates the same objects: no new ones.
    let s = summary(&ok_in(&data, &["import", &fixture("identifiers.csv"), "--org", "Recruiter C", "--named"]));
    assert_eq!(s["added"].as_u64(), Some(0), "{s}");
    // A sheet without the needed columns: a clear error, nothing stored.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "name,email\nx,y\n").unwrap();
    let out = run_in(&data, &["import", bad.to_str().unwrap(), "--format", "csv"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("kind, value"), "{}", String::from_utf8_lossy(&out.stderr));
}
