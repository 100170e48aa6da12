//! Black-box tests of the `dossier` binary: every test gets its own data directory.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

mod common;

use common::bin;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn run(&self, args: &[&str]) -> Output {
        Command::new(bin()).arg("--data").arg(self.data()).args(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "dossier {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
    fn write(&self, name: &str, content: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }
    /// Every object currently exported, by id.
    fn exported(&self) -> std::collections::BTreeMap<String, Value> {
        let bundle: Value = serde_json::from_str(&self.ok(&["export"])).unwrap();
        assert_eq!(bundle["type"], "bundle");
        bundle["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["id"].as_str().unwrap().to_owned(), o.clone()))
            .collect()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A hand-written bundle with everything that must survive: custom objects, unknown and
/// nested properties, extensions, unusual timestamp precisions, escapes, non-ASCII text
/// and number formats.
const TRICKY: &str = r#"{
  "type": "bundle",
  "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
  "objects": [
    {
      "type": "threat-actor", "spec_version": "2.1",
      "id": "threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
      "created": "2024-01-01T00:00:00.123Z", "modified": "2024-01-01T00:00:00.123456789Z",
      "name": "Team \u00c9clair \"JADE\" 김철수", "confidence": 85,
      "x_dossier_notes": {"nested": [1, 2.50, -0.0, 1e3, {"deep": null}], "flag": true},
      "object_marking_refs": ["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]
    },
    {"type":"x-dossier-custom","spec_version":"2.1","id":"x-dossier-custom--1b0c3c77-7e0f-4c0d-9c2e-2f5b1a4f6e01","created":"2024-02-01T00:00:00.000Z","modified":"2024-02-01T00:00:00.000Z","anything":["goes",{"here":1}]},
    {"type":"phone-number","spec_version":"2.1","id":"phone-number--4de5ad5e-9df5-5b26-8cd1-3f3e0a1b5f52","value":"+15550101234","extensions":{"extension-definition--14a97ee2-e666-5ada-a6bd-b7177f79e211":{"extension_type":"new-sco"}},"country":"USA"},
    {"type":"email-addr","spec_version":"2.1","id":"email-addr--cf99966c-06a0-517e-8288-ff0092b901a3","value":"Chol.Su.Dev+jobs@Gmail.com","x_seen":"2025-03-04T05:06:07Z"}
  ]
}"#;

#[test]
fn round_trip_returns_every_object_equal_as_json() {
    let env = Env::new();
    let generated = env.path("gen.json");
    env.ok(&["generate", "--actors", "25", "--seed", "11", "--out", generated.to_str().unwrap()]);
    env.ok(&["import", generated.to_str().unwrap()]);
    let tricky = env.write("tricky.json", TRICKY.as_bytes());
    env.ok(&["import", &tricky]);

    let exported = env.exported();
    let mut checked = 0;
    for input in [std::fs::read_to_string(&generated).unwrap(), TRICKY.to_owned()] {
        let bundle: Value = serde_json::from_str(&input).unwrap();
        for o in bundle["objects"].as_array().unwrap() {
            let id = o["id"].as_str().unwrap();
            assert_eq!(exported.get(id), Some(o), "{id} changed on the round trip");
            checked += 1;
        }
    }
    assert!(checked > 1000);
    // Tokens, not just values, survive: the timestamp and number texts are untouched.
    let text = env.ok(&["export", "--type", "threat-actor"]);
    assert!(text.contains(r#""modified":"2024-01-01T00:00:00.123456789Z""#));
    assert!(text.contains(r#"[1,2.50,-0.0,1e3,{"deep":null}]"#));
    assert!(text.contains(r#"Team \u00c9clair \"JADE\" 김철수"#));
}

#[test]
fn reimporting_the_same_bundle_changes_nothing() {
    let env = Env::new();
    let f = env.write("t.json", TRICKY.as_bytes());
    let first: Value = serde_json::from_str(&env.ok(&["import", &f])).unwrap();
    assert_eq!(first["added"], 4);
    let before = env.ok(&["export", "--all-versions"]);
    let second: Value = serde_json::from_str(&env.ok(&["import", &f])).unwrap();
    assert_eq!(
        second,
        json!({"added": 0, "updated": 0, "history": 0, "unchanged": 4, "objects": 4, "seconds": second["seconds"]})
    );
    let after = env.ok(&["export", "--all-versions"]);
    // Bundle ids differ per export; the objects must not.
    assert_eq!(before.split_once("\"objects\"").unwrap().1, after.split_once("\"objects\"").unwrap().1);
}

#[test]
fn json_lines_and_stdin_are_accepted() {
    let env = Env::new();
    let bundle: Value = serde_json::from_str(TRICKY).unwrap();
    let lines: Vec<String> = bundle["objects"].as_array().unwrap().iter().map(Value::to_string).collect();
    let mut child = Command::new(bin())
        .arg("--data")
        .arg(env.data())
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(lines.join("\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["added"], 4);
}

#[test]
fn a_bundle_with_one_bad_object_stores_nothing_and_names_the_problem() {
    let env = Env::new();
    let baseline = env.exported();
    let mut bundle: Value = serde_json::from_str(TRICKY).unwrap();
    bundle["objects"][1]["created"] = json!("yesterday");
    bundle["objects"][3]["value"] = json!(17);
    let text = serde_json::to_string_pretty(&bundle).unwrap();
    let f = env.write("bad.json", text.as_bytes());
    let out = env.run(&["import", &f]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("x-dossier-custom--1b0c3c77-7e0f-4c0d-9c2e-2f5b1a4f6e01: $.created"), "{err}");
    assert!(err.contains("email-addr--cf99966c-06a0-517e-8288-ff0092b901a3: $.value: expected a string"), "{err}");
    assert!(err.contains("2 invalid object(s)") && err.contains("nothing was stored"), "{err}");
    assert!(err.contains("object #1 (line "), "positions are reported: {err}");
    assert_eq!(env.exported(), baseline, "not even the valid objects were stored");
}

#[test]
fn bad_input_is_refused_clearly_without_storing_anything() {
    let env = Env::new();
    let baseline = env.exported();
    let valid =
        r#"{"type":"email-addr","id":"email-addr--7165e2a9-671f-585d-b1e1-ca59c671d934","value":"john@example.com"}"#;
    let huge =
        format!(r#"{{"type":"bundle","objects":[{valid},{{"type":"note","x":"{}"}}]}}"#, "a".repeat(100 * 1024 * 1024));
    let deep = format!(
        r#"{{"type":"bundle","objects":[{valid},{{"type":"x-deep","v":{}{}}}]}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("invalid JSON", format!("{{\"objects\":[{valid},{{\"type\":\"email-addr\",,}}]}}").into_bytes(), "invalid JSON"),
        ("wrong types", format!("{{\"objects\":[{valid},{{\"type\":\"email-addr\",\"id\":\"email-addr--7165e2a9-671f-585d-b1e1-ca59c671d935\",\"value\":[1]}}]}}").into_bytes(), "expected a string"),
        ("100 MB string", huge.into_bytes(), "larger than the limit"),
        ("nesting 10,000 deep", deep.into_bytes(), "nesting deeper than the limit"),
        ("truncated file", format!("{{\"type\":\"bundle\",\"objects\":[{valid},{{\"type\":\"email-addr\",\"val").into_bytes(), "truncated"),
        ("not an object", b"[1,2,3]".to_vec(), "expected a JSON object"),
        ("a bundle of the wrong type", format!("{{\"type\":\"report\",\"objects\":[{valid}]}}").into_bytes(), "expected \"bundle\""),
    ];
    for (name, content, want) in cases {
        let f = env.write("bad.json", &content);
        let out = env.run(&["import", &f]);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(want), "{name}: expected {want:?} in {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_eq!(env.exported(), baseline, "{name}: nothing stored");
    }
}

#[test]
fn a_killed_import_leaves_all_or_none_of_the_bundle() {
    let source = Env::new();
    let big = source.path("big.json");
    source.ok(&["generate", "--actors", "600", "--seed", "5", "--out", big.to_str().unwrap()]);
    let ids: Vec<String> = {
        let b: Value = serde_json::from_str(&std::fs::read_to_string(&big).unwrap()).unwrap();
        b["objects"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect()
    };
    // How long a whole import takes here, so kills land inside it (the later ones in the
    // commit itself).
    let started = std::time::Instant::now();
    source.ok(&["import", big.to_str().unwrap()]);
    let full = started.elapsed();
    let mut outcomes = Vec::new();
    for fraction in [0.3, 0.6, 0.85, 0.95, 0.99] {
        let env = Env::new();
        let baseline = env.exported().len();
        let mut child = Command::new(bin())
            .arg("--data")
            .arg(env.data())
            .args(["import", big.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(fraction));
        // SIGKILL: no destructor, rollback or checkpoint runs.
        let was_running = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let _ = child.wait();
        let exported = env.exported();
        let present = ids.iter().filter(|id| exported.contains_key(*id)).count();
        assert!(present == 0 || present == ids.len(), "half a bundle is stored: {present} of {}", ids.len());
        assert_eq!(exported.len(), baseline + present);
        outcomes.push((fraction, was_running, present));
        // The store opens cleanly, passes SQLite's integrity check, and imports again.
        let conn = rusqlite::Connection::open(env.data().join("dossier.db")).unwrap();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        drop(conn);
        env.ok(&["import", big.to_str().unwrap()]);
        let exported = env.exported();
        assert!(ids.iter().all(|id| exported.contains_key(id)));
    }
    eprintln!("full import {full:?}; (kill at fraction, was running, objects present): {outcomes:?}");
    assert!(outcomes.iter().any(|(_, running, _)| *running), "at least one kill hit a running import");
}

#[test]
fn organizations_and_tokens() {
    let env = Env::new();
    let id = env.ok(&["org", "add", "Example Exchange"]);
    assert!(id.trim().parse::<i64>().is_ok(), "prints the new id: {id}");
    let dup = env.run(&["org", "add", "example exchange"]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(stderr(&dup).contains("already exists"));
    let orgs = env.ok(&["org", "list"]);
    assert!(orgs.contains("\"name\":\"ISAC\"") && orgs.contains("\"name\":\"Example Exchange\""));

    let out = env.ok(&["token", "create", "--org", "Example Exchange", "--role", "member", "--label", "ci"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("tok_"));
    let secret = lines[1];
    assert!(secret.starts_with("dsk_") && secret.len() > 40);
    let list = env.ok(&["token", "list"]);
    assert!(list.contains(lines[0]) && !list.contains(secret), "secrets are never listed");
    env.ok(&["token", "revoke", lines[0]]);
    assert!(
        env.ok(&["token", "list"]).contains("\"revoked\":1") || env.ok(&["token", "list"]).contains("\"revoked\":")
    );
    let bad = env.run(&["token", "create", "--org", "Nobody", "--role", "member"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("organization \"Nobody\" not found"), "{}", stderr(&bad));
    let bad_role = env.run(&["token", "create", "--org", "ISAC", "--role", "root"]);
    assert!(stderr(&bad_role).contains("unknown role"));
}

#[test]
fn import_is_attributed_to_the_named_org_and_collection() {
    let env = Env::new();
    env.ok(&["org", "add", "Example Wallet"]);
    let uuid =
        env.ok(&["collection", "add", "--title", "Wallet screening", "--alias", "wallets", "--default-tlp", "green"]);
    assert_eq!(uuid.trim().len(), 36);
    let f = env.write("t.json", TRICKY.as_bytes());
    env.ok(&["import", &f, "--org", "Example Wallet", "--collection", "wallets"]);
    let only = env.ok(&["export", "--collection", "wallets"]);
    let b: Value = serde_json::from_str(&only).unwrap();
    assert_eq!(b["objects"].as_array().unwrap().len(), 4);
    // RED stays out of an export capped at AMBER; the unmarked objects take the green default.
    let capped: Value =
        serde_json::from_str(&env.ok(&["export", "--collection", "wallets", "--max-tlp", "amber"])).unwrap();
    assert_eq!(capped["objects"].as_array().unwrap().len(), 3);
    // Bad access is refused before anything is created.
    let bad = env.run(&["collection", "add", "--title", "Unreadable", "--alias", "unreadable", "--read", "nobody"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("readable by members or by analysts"), "{}", stderr(&bad));
    assert!(!env.ok(&["collection", "list"]).contains("unreadable"), "nothing half-created");
    let missing = env.run(&["import", &f, "--collection", "nope"]);
    assert!(stderr(&missing).contains("collection \"nope\" not found"));
}

#[test]
fn export_filters_by_type_and_date() {
    let env = Env::new();
    let f = env.write("t.json", TRICKY.as_bytes());
    env.ok(&["import", &f]);
    let only: Value =
        serde_json::from_str(&env.ok(&["export", "--type", "phone-number", "--type", "email-addr"])).unwrap();
    assert_eq!(only["objects"].as_array().unwrap().len(), 2);
    let future: Value = serde_json::from_str(&env.ok(&["export", "--since", "2999-01-01T00:00:00Z"])).unwrap();
    assert!(future["objects"].as_array().unwrap().is_empty());
    let bad = env.run(&["export", "--since", "last week"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--since"));
    // Local exports and imports are audited like HTTP requests.
    let log = env.ok(&["audit", "--path", "export", "--limit", "10"]);
    let recent: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(recent["method"], "CLI");
    assert_eq!(recent["returned"], 0, "the last export (since 2999) returned nothing");
    assert!(log.lines().any(|l| l.contains("\"returned\":2") && l.contains("types=phone-number,email-addr")));
    assert!(env.ok(&["audit", "--path", "import"]).contains("\"returned\":4"));
}

#[test]
fn versions_supersede_and_history_is_kept() {
    let env = Env::new();
    let v = |modified: &str, name: &str| {
        json!({"type": "threat-actor", "spec_version": "2.1", "id": "threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
               "created": "2024-01-01T00:00:00.000Z", "modified": modified, "name": name})
        .to_string()
    };
    let f = env.write("a.json", v("2024-02-01T00:00:00.000Z", "second").as_bytes());
    env.ok(&["import", &f]);
    let f = env.write("b.json", v("2024-03-01T00:00:00.000Z", "third").as_bytes());
    let s: Value = serde_json::from_str(&env.ok(&["import", &f])).unwrap();
    assert_eq!(s["updated"], 1);
    let f = env.write("c.json", v("2024-01-15T00:00:00.000Z", "first").as_bytes());
    let s: Value = serde_json::from_str(&env.ok(&["import", &f])).unwrap();
    assert_eq!(s["history"], 1);
    let latest = env.ok(&["export", "--type", "threat-actor"]);
    assert!(latest.contains("third") && !latest.contains("second") && !latest.contains("\"first\""));
    let all = env.ok(&["export", "--type", "threat-actor", "--all-versions"]);
    assert!(all.contains("third") && all.contains("second") && all.contains("\"first\""));
}

#[test]
fn generate_is_deterministic_and_writes_applicants_and_truth() {
    let env = Env::new();
    let a = env.path("a.json");
    let b = env.path("b.json");
    let apps = env.path("apps.jsonl");
    let truth = env.path("truth.jsonl");
    env.ok(&[
        "generate",
        "--actors",
        "40",
        "--seed",
        "3",
        "--out",
        a.to_str().unwrap(),
        "--applicants",
        "400",
        "--applicants-out",
        apps.to_str().unwrap(),
        "--truth-out",
        truth.to_str().unwrap(),
    ]);
    env.ok(&["generate", "--actors", "40", "--seed", "3", "--out", b.to_str().unwrap()]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let apps = std::fs::read_to_string(&apps).unwrap();
    let truth = std::fs::read_to_string(&truth).unwrap();
    assert_eq!(apps.lines().count(), 400);
    assert_eq!(truth.lines().count(), 400);
    // The fields of the screening request (its CSV columns are the same names).
    let allowed = dossier_match::screen::input::CSV_COLUMNS;
    for line in apps.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for k in v.as_object().unwrap().keys() {
            assert!(allowed.contains(&k.as_str()), "applicant field {k} is not in the screening contract");
        }
    }
    let operatives = truth.lines().filter(|l| l.contains("\"label\":\"operative\"")).count();
    assert!((5..=50).contains(&operatives), "about 5% operatives, got {operatives}");
    assert!(truth.contains("same_name_as_persona") && truth.contains("shared_vpn_ip"), "hard negatives are present");
}

#[test]
fn demo_prepares_a_data_directory_and_prints_an_admin_token() {
    let env = Env::new();
    let out = env.run(&["demo", "--actors", "20", "--no-serve"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(stdout.trim().starts_with("dsk_"), "the admin token alone on stdout: {stdout}");
    let err = stderr(&out);
    assert!(err.contains("next:"), "{err}");
    assert!(env.exported().values().any(|o| o["type"] == "threat-actor"));
    let again = env.run(&["demo", "--actors", "20", "--no-serve"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"));
}

#[test]
fn serve_stops_cleanly_on_sigterm_and_requests_are_in_the_audit_log() {
    let env = Env::new();
    let token = common::member_token(&env.data(), "Example Exchange");
    let mut served = common::serve(&env.data(), &[]);
    let (status, resp) = http(
        &served.addr(),
        &format!(
            "GET /taxii2/api/collections/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, "200", "{resp}");
    let killed = Command::new("kill").args(["-TERM", &served.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = served.child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status:?}");
    // The stopped server left everything in dossier.db: no write-ahead log to depend on.
    let wal = env.data().join("dossier.db-wal");
    assert!(std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0, "a WAL was left behind");
    let log = env.ok(&["audit", "--org", "Example Exchange"]);
    let rec: Value = serde_json::from_str(log.lines().next().expect("one audit record")).unwrap();
    assert_eq!(rec["path"], "/taxii2/api/collections/");
    assert_eq!(rec["status"], 200);
    assert!(rec["at"].as_str().unwrap().ends_with('Z'));
    // By credential: that token's requests, and none for another.
    let id = rec["token"].as_str().unwrap().to_owned();
    assert_eq!(env.ok(&["audit", "--token", &id]).lines().count(), log.lines().count());
    assert_eq!(env.ok(&["audit", "--token", "tok_000000000000"]).lines().count(), 0);
}

#[test]
fn serve_reads_a_configuration_file_and_flags_override_it() {
    use std::io::Read;
    let env = Env::new();
    let token = common::member_token(&env.data(), "Example Exchange");
    let conf = env.write("dossier.toml", b"listen = \"127.0.0.1:1\"\napi_root = \"intel\"\ntitle = \"Example ISAC\"\n");
    let served = common::serve(&env.data(), &["--config", &conf]);
    let mut s = std::net::TcpStream::connect(served.addr()).unwrap();
    write!(s, "GET /taxii2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    drop(served);
    assert!(resp.contains("\"/taxii2/intel/\"") && resp.contains("Example ISAC"), "{resp}");
    let bad = env.write("bad.toml", b"listen = \"127.0.0.1:0\"\nlisten_port = 8080\n");
    let out = env.run(&["serve", "--config", &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("listen_port"), "the unknown key is named: {}", stderr(&out));
}

#[test]
fn help_is_available_for_every_command() {
    for cmd in
        ["import", "export", "org", "token", "collection", "generate", "demo", "serve", "audit", "screen", "evaluate"]
    {
        let out = Command::new(bin()).args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success(), "{cmd} --help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{cmd}");
    }
}

#[test]
fn users_are_managed_from_the_command_line_with_passwords_never_in_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let with_password = |args: &[&str], password: &str| {
        Command::new(bin()).arg("--data").arg(&data).args(args).env("DOSSIER_PASSWORD", password).output().unwrap()
    };
    let out = with_password(&["user", "add", "carol", "--org", "ISAC", "--role", "analyst"], "first long password");
    assert!(out.status.success(), "{}", stderr(&out));
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let hash_of = || {
        let out = common::ok_in(&data, &["user", "list"]);
        let u: Value = serde_json::from_str(out.lines().find(|l| l.contains("\"carol\"")).unwrap()).unwrap();
        (u["password_hash"].as_str().map(str::to_owned), u["disabled"].clone())
    };
    let (before, _) = hash_of();
    assert!(before.is_none(), "user list never prints password hashes");
    // A short password is refused and changes nothing.
    let out = with_password(&["user", "password", "carol"], "short");
    assert!(!out.status.success() && stderr(&out).contains("at least 12 characters"), "{}", stderr(&out));
    let out = with_password(&["user", "password", "carol"], "second long password");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), id);
    common::ok_in(&data, &["user", "disable", "carol"]);
    assert!(!hash_of().1.is_null(), "disabled");
    common::ok_in(&data, &["user", "enable", &id]);
    assert!(hash_of().1.is_null(), "enabled again");
    let out = common::run_in(&data, &["user", "enable", "nobody"]);
    assert!(!out.status.success() && stderr(&out).contains("no user \"nobody\""), "{}", stderr(&out));
    // The web sign-in takes the new password and refuses the old one.
    let served = common::serve(&data, &[]);
    let sign_in = |password: &str| {
        let body = format!("user=carol&password={}", password.replace(' ', "+"));
        let addr = served.addr();
        http(
            &addr,
            &format!("POST /login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}", body.len()),
        )
        .0
    };
    assert_eq!(sign_in("first long password"), "401");
    assert_eq!(sign_in("second long password"), "303");
}

/// A raw HTTP/1.1 request to a served binary: (status, headers and body as text).
fn http(addr: &str, request: &str) -> (String, String) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    (answer.split(' ').nth(1).unwrap_or_default().to_owned(), answer)
}

#[test]
fn web_sessions_outlive_a_restart_and_sign_out_ends_them_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(bin())
        .arg("--data")
        .arg(&data)
        .args(["user", "add", "dana", "--org", "ISAC", "--role", "analyst"])
        .env("DOSSIER_PASSWORD", "restart proof password")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let served = common::serve(&data, &[]);
    let addr = served.addr();
    let body = "user=dana&password=restart+proof+password";
    let (status, answer) = http(
        &addr,
        &format!(
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(status, "303", "{answer}");
    let cookie = answer
        .lines()
        .find_map(|l| l.strip_prefix("Set-Cookie: ").or_else(|| l.strip_prefix("set-cookie: ")))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let page = |addr: &str| {
        http(addr, &format!("GET /account HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"))
    };
    assert_eq!(page(&addr).0, "200");
    drop(served);
    // The same cookie after a restart: still signed in, with the same CSRF token.
    let served = common::serve(&data, &[]);
    let addr = served.addr();
    let (status, answer) = page(&addr);
    assert_eq!(status, "200", "{answer}");
    assert!(answer.contains("dana"));
    let at = answer.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &answer[at..at + 48];
    let body = format!("csrf={csrf}");
    let (status, _) = http(
        &addr,
        &format!(
            "POST /logout HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(status, "303");
    drop(served);
    // Signed out, and it stays so across the next restart.
    let served = common::serve(&data, &[]);
    assert_eq!(page(&served.addr()).0, "303");
}

/// `dossier import --org` obeys the creator rule like every other write path: another
/// member's newer version of an object is refused whole, with the rule named.
#[test]
fn import_for_one_member_cannot_version_another_members_object() {
    let env = Env::new();
    env.ok(&["org", "add", "Exchange A"]);
    env.ok(&["org", "add", "Wallet B"]);
    let actor = |modified: &str, name: &str| {
        json!({"type": "threat-actor", "spec_version": "2.1", "id": "threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
               "created": "2024-01-01T00:00:00.000Z", "modified": modified, "name": name})
    };
    let mine = env.write("a.json", actor("2024-01-01T00:00:00.000Z", "A's text").to_string().as_bytes());
    env.ok(&["import", &mine, "--org", "Exchange A"]);
    let forged = env.write("b.json", actor("2025-01-01T00:00:00.000Z", "B's text").to_string().as_bytes());
    let out = env.run(&["import", &forged, "--org", "Wallet B"]);
    assert_eq!(out.status.code(), Some(3), "rejected input: {}", stderr(&out));
    assert!(stderr(&out).contains("only its creator or ISAC analysts"), "{}", stderr(&out));
    let now = env.exported();
    assert_eq!(now["threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]["name"], "A's text");
    // The ISAC itself (the default for import) curates.
    env.ok(&["import", &forged]);
    assert_eq!(env.exported()["threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]["name"], "B's text");
}

#[test]
fn a_trusted_proxy_that_is_not_an_address_is_refused_at_start() {
    let env = Env::new();
    let out = env.run(&["serve", "--listen", "127.0.0.1:0", "--trusted-proxies", "10.0.0.0/8,not-an-ip"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not-an-ip"), "{}", stderr(&out));
}

/// Every command closes the store cleanly: `dossier.db` alone holds what was imported, so a
/// backup or a copy of the database file without its write-ahead log loses nothing.
#[test]
fn after_an_import_the_database_file_alone_holds_everything() {
    let env = Env::new();
    let f = env.write("t.json", TRICKY.as_bytes());
    env.ok(&["import", &f]);
    let wal = env.data().join("dossier.db-wal");
    assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0, "the import left a WAL behind");
    let copy = Env::new();
    std::fs::create_dir_all(copy.data()).unwrap();
    std::fs::copy(env.data().join("dossier.db"), copy.data().join("dossier.db")).unwrap();
    assert_eq!(copy.exported(), env.exported(), "the database file alone holds every object");
}

/// A reader that goes away (`dossier export | head -c 100`) ends the command quietly with
/// exit 0, as other Unix tools do: no panic, no error message.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    use std::io::Read;
    let env = Env::new();
    let generated = env.path("gen.json");
    env.ok(&["generate", "--actors", "200", "--seed", "3", "--out", generated.to_str().unwrap()]);
    env.ok(&["import", generated.to_str().unwrap()]);
    for args in [vec!["export"], vec!["audit"], vec!["generate", "--actors", "300", "--seed", "4"], vec!["org", "list"]]
    {
        let mut child = Command::new(bin())
            .arg("--data")
            .arg(env.data())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 1];
        let mut out = child.stdout.take().unwrap();
        let _ = out.read(&mut first);
        drop(out);
        let result = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&result.stderr);
        assert!(result.status.success(), "{args:?}: {:?} {err}", result.status);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    }
}
