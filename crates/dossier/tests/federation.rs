//! Federation, black-box: `dossier sync` between two `dossier serve` installations and
//! medallion (the OASIS TAXII 2.1 reference server, from PyPI), with `kill -9` in the middle
//! of a pull and of a push.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dossier_test_support::{python, python_script};
use serde_json::{Value, json};

mod common;
use common::{dossier_in, ok_in, run_in, serve, use_store};

const CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
const AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
const RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
const LEVELS: [(&str, &str); 5] =
    [("clear", CLEAR), ("green", GREEN), ("amber", AMBER), ("amber+strict", AMBER_STRICT), ("red", RED)];

/// A bundle of `n` threat actors per TLP level, named `TAG LEVEL i`, created by `creator`.
fn tlp_bundle(tag: &str, n: usize, creator: Option<&str>) -> String {
    let mut objects = Vec::new();
    for (level, marking) in LEVELS {
        for i in 0..n {
            let mut o = json!({
                "type": "threat-actor", "spec_version": "2.1",
                "id": format!("threat-actor--{}", uuid::Uuid::new_v4()),
                "created": "2026-01-02T03:04:05.000Z", "modified": "2026-01-02T03:04:05.000Z",
                "name": format!("{tag} {level} {i}"), "object_marking_refs": [marking],
            });
            if let Some(c) = creator {
                o["created_by_ref"] = json!(c);
            }
            objects.push(o);
        }
    }
    json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects}).to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

/// The identity id of organization `name` in `data`.
fn identity_of(data: &Path, name: &str) -> String {
    ok_in(data, &["org", "list"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|o| o["name"] == name)
        .map(|o| o["identity_id"].as_str().unwrap().to_owned())
        .unwrap()
}

/// A token for a new peer organization `name`.
fn peer_token(data: &Path, name: &str) -> String {
    ok_in(data, &["org", "add", name, "--peer"]);
    ok_in(data, &["token", "create", "--org", name, "--role", "member"]).lines().last().unwrap().to_owned()
}

/// Every object version these credentials read over TAXII, as the OASIS client sees it:
/// (collection, canonical JSON) lines.
fn taxii_dump(api_root: &str, user: &str, password: &str) -> Vec<(String, Value)> {
    let out =
        Command::new(python()).arg(python_script("taxii_dump.py")).args([api_root, user, password]).output().unwrap();
    assert!(out.status.success(), "taxii_dump: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (c, j) = l.split_once('\t').unwrap();
            (c.to_owned(), serde_json::from_str(j).unwrap())
        })
        .collect()
}

/// `dossier export` of a collection (every version), as JSON values.
fn export(data: &Path, collection: &str) -> Vec<Value> {
    let out = ok_in(data, &["export", "--collection", collection, "--all-versions"]);
    let bundle: Value = serde_json::from_str(&out).unwrap();
    bundle["objects"].as_array().cloned().unwrap_or_default()
}

fn key(o: &Value) -> (String, String) {
    (o["id"].as_str().unwrap().to_owned(), o["modified"].as_str().or(o["created"].as_str()).unwrap_or("").to_owned())
}

/// The saved state of the sync named `prefix…` in `data` (objects so far), if any.
fn sync_objects(data: &Path, prefix: &str) -> Option<u64> {
    let out = run_in(data, &["sync", "--status"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .and_then(|s| s["objects"].as_u64())
}

/// Starts `dossier sync ARGS` with `env`, kills it with SIGKILL once its saved state for
/// `prefix` counts at least `at` objects, and returns that count (it must not have finished).
fn kill_mid_way(data: &Path, args: &[&str], env: (&str, &str), prefix: &str, at: u64) -> u64 {
    let mut child = dossier_in(data)
        .arg("sync")
        .args(args)
        .env(env.0, env.1)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(n) = sync_objects(data, prefix)
            && n >= at
        {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return n;
        }
        assert!(child.try_wait().unwrap().is_none(), "the sync finished before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(60), "the sync made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn sync(data: &Path, args: &[&str], env: (&str, &str)) -> Vec<Value> {
    let out = dossier_in(data).arg("sync").args(args).env(env.0, env.1).output().unwrap();
    assert!(out.status.success(), "dossier sync {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn marking(o: &Value) -> Option<&str> {
    o["object_marking_refs"].as_array().and_then(|m| m.first()).and_then(Value::as_str)
}

#[test]
fn a_pull_killed_mid_way_resumes_with_nothing_lost_or_duplicated_and_holds_exactly_what_the_peer_may_see() {
    a_pull_killed_mid_way_resumes_on(None);
}

/// The same with the pulling installation's store on PostgreSQL (its cursor, the peer's
/// objects and the audit in the database; the kill -9 mid-transaction).
#[test]
fn a_pull_killed_mid_way_resumes_with_nothing_lost_or_duplicated_on_postgres() {
    if let Some(cluster) = pg_cluster() {
        a_pull_killed_mid_way_resumes_on(Some(&cluster.database()));
    }
}

/// This test binary's throwaway PostgreSQL cluster (started on first use).
fn pg_cluster() -> Option<&'static dossier_test_support::postgres::Cluster> {
    static CLUSTER: std::sync::OnceLock<Option<dossier_test_support::postgres::Cluster>> = std::sync::OnceLock::new();
    CLUSTER.get_or_init(dossier_test_support::postgres::Cluster::start).as_ref()
}

fn a_pull_killed_mid_way_resumes_on(pulling_store: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    if let Some(url) = pulling_store {
        use_store(&b, url);
    }
    ok_in(&a, &["org", "add", "Alpha"]);
    let alpha = identity_of(&a, "Alpha");
    let generated = dir.path().join("gen.json");
    ok_in(&a, &["generate", "--actors", "8", "--out", generated.to_str().unwrap()]);
    ok_in(&a, &["import", generated.to_str().unwrap(), "--org", "Alpha"]);
    let levels = write(dir.path(), "levels.json", &tlp_bundle("Alpha", 20, Some(&alpha)));
    ok_in(&a, &["import", &levels, "--org", "Alpha"]);
    let token = peer_token(&a, "bravo");
    let served = serve(&a, &[]);
    let api = format!("{}/taxii2/api/", served.base());
    let args = ["--peer", "alpha", "--url", api.as_str(), "--token-env", "PEER_TOKEN", "--page", "1"];

    let killed_at = kill_mid_way(&b, &args, ("PEER_TOKEN", &token), "pull:alpha:", 100);
    let reports = sync(&b, &args, ("PEER_TOKEN", &token));
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0]["skipped"], 0, "{reports:?}");
    // It resumed: at most the page in flight, plus the one object asked again, came twice.
    let received = reports[0]["objects"].as_u64().unwrap();

    // What bravo may see over TAXII (the OASIS client), against what B holds.
    let seen: Vec<Value> = taxii_dump(&api, "bravo", &token)
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| !matches!(o["type"].as_str(), Some("marking-definition" | "extension-definition")))
        .collect();
    let held: Vec<Value> = export(&b, "peer-alpha")
        .into_iter()
        .filter(|o| !matches!(o["type"].as_str(), Some("marking-definition" | "extension-definition")))
        .collect();
    let seen_keys: BTreeSet<_> = seen.iter().map(key).collect();
    let held_keys: Vec<_> = held.iter().map(key).collect();
    let held_set: BTreeSet<_> = held_keys.iter().cloned().collect();
    assert_eq!(held_keys.len(), held_set.len(), "duplicates held");
    let lost: Vec<_> = seen_keys.difference(&held_set).take(5).collect();
    let extra: Vec<_> = held_set.difference(&seen_keys).take(5).collect();
    assert!(lost.is_empty() && extra.is_empty(), "lost {lost:?}, extra {extra:?}");
    assert!(killed_at < seen.len() as u64 && received + killed_at < seen.len() as u64 + 20, "{killed_at} {received}");
    // The JSON is kept as the peer served it.
    let held_by_key: BTreeMap<_, _> = held.iter().map(|o| (key(o), o)).collect();
    for o in &seen {
        assert_eq!(held_by_key[&key(o)], o);
    }
    // RED never reached bravo; AMBER+STRICT did (a member of Alpha's ISAC may see it).
    assert!(!held.iter().any(|o| marking(o) == Some(RED)));
    let named = |o: &&Value, prefix: &str| o["name"].as_str().is_some_and(|n| n.starts_with(prefix));
    assert_eq!(held.iter().filter(|o| named(o, "Alpha amber+strict")).count(), 20);
    assert_eq!(held.iter().filter(|o| named(o, "Alpha red")).count(), 0);
    // Attributed to the peer, screenable and searchable here.
    let orgs = ok_in(&b, &["org", "list"]);
    assert!(orgs.lines().any(|l| l.contains("\"name\":\"alpha\"") && l.contains("\"peer\":true")), "{orgs}");
    // Each run is in the audit log, without the token.
    let audit = ok_in(&b, &["audit", "--path", "sync"]);
    assert!(audit.contains("peer=alpha") && !audit.contains(&token), "{audit}");
    // A run with nothing new asks once and gets back only the object at the cursor.
    let again = sync(&b, &args, ("PEER_TOKEN", &token));
    assert_eq!(again[0]["requests"], 1, "{again:?}");
    assert_eq!(again[0]["added"], 0);
    // Nothing changes another run; a newer object arrives.
    let more = write(dir.path(), "more.json", &tlp_bundle("Later", 1, None));
    ok_in(&a, &["import", &more, "--org", "Alpha"]);
    let after = sync(&b, &args, ("PEER_TOKEN", &token));
    assert_eq!(after[0]["added"], 4, "CLEAR, GREEN, AMBER and AMBER+STRICT, not RED: {after:?}");
}

#[test]
fn a_push_sends_only_what_may_leave_resumes_after_kill_9_and_never_sends_back() {
    a_push_sends_only_what_may_leave_on(None);
}

/// The same with the pushing installation's store on PostgreSQL.
#[test]
fn a_push_sends_only_what_may_leave_on_postgres() {
    if let Some(cluster) = pg_cluster() {
        a_push_sends_only_what_may_leave_on(Some(&cluster.database()));
    }
}

fn a_push_sends_only_what_may_leave_on(pushing_store: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    if let Some(url) = pushing_store {
        use_store(&a, url);
    }
    ok_in(&a, &["org", "add", "Alpha"]);
    let alpha = identity_of(&a, "Alpha");
    // Alpha is anonymous to other members: its identity must not leave with its objects.
    let levels = write(dir.path(), "levels.json", &tlp_bundle("Alpha", 150, Some(&alpha)));
    ok_in(&a, &["import", &levels, "--org", "Alpha"]);
    ok_in(&b, &["org", "add", "Bravo Member"]);
    let b_objects = write(dir.path(), "b.json", &tlp_bundle("Bravo", 3, None));
    ok_in(&b, &["import", &b_objects, "--org", "Bravo Member"]);
    // Each side's token for the other is a peer organization's.
    let token_at_b = peer_token(&b, "alpha");
    let token_at_a = peer_token(&a, "bravo");
    let served_b = serve(&b, &[]);
    let served_a = serve(&a, &[]);
    let api_b = format!("{}/taxii2/api/", served_b.base());
    let api_a = format!("{}/taxii2/api/", served_a.base());
    let uuid_of = |data: &Path| -> String {
        let line = ok_in(data, &["collection", "list"]).lines().next().unwrap().to_owned();
        serde_json::from_str::<Value>(&line).unwrap()["uuid"].as_str().unwrap().to_owned()
    };
    let (collection_b, collection_a) = (uuid_of(&b), uuid_of(&a));
    let to_b = [
        "--peer",
        "bravo",
        "--url",
        &api_b,
        "--push",
        "--collection",
        &collection_b,
        "--token-env",
        "T",
        "--page",
        "1",
    ];
    let killed_at = kill_mid_way(&a, &to_b, ("T", &token_at_b), "push:bravo:", 20);
    let reports = sync(&a, &to_b, ("T", &token_at_b));
    assert_eq!(reports[0]["skipped"], 0, "{reports:?}");
    // B holds each CLEAR and GREEN object once; nothing else of Alpha's.
    let at_b: Vec<Value> = taxii_dump(&api_b, "alpha", &token_at_b)
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| o["name"].as_str().is_some_and(|n| n.starts_with("Alpha ")))
        .collect();
    let keys: BTreeSet<_> = at_b.iter().map(key).collect();
    assert_eq!(keys.len(), at_b.len(), "duplicates at the peer");
    assert_eq!(at_b.len(), 300, "150 CLEAR + 150 GREEN (killed after {killed_at})");
    assert!(at_b.iter().all(|o| matches!(marking(o), Some(CLEAR | GREEN))));
    assert!(at_b.iter().all(|o| o.get("created_by_ref").is_none()), "the anonymous submitter left with its objects");

    // Inside the agreement AMBER goes too; AMBER+STRICT and RED never.
    let mut agreed = to_b.to_vec();
    agreed.push("--agreement");
    // The cursor already passed the AMBER objects of before: only what changes from now on
    // is sent under the new policy.
    let amber_later = write(dir.path(), "amber.json", &tlp_bundle("Alpha later", 2, Some(&alpha)));
    ok_in(&a, &["import", &amber_later, "--org", "Alpha"]);
    sync(&a, &agreed, ("T", &token_at_b));
    let later: Vec<Value> = taxii_dump(&api_b, "alpha", &token_at_b)
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| o["name"].as_str().is_some_and(|n| n.starts_with("Alpha later")))
        .collect();
    let mut levels: Vec<&str> = later.iter().filter_map(marking).collect();
    levels.sort_unstable();
    let mut want = vec![CLEAR, CLEAR, GREEN, GREEN, AMBER, AMBER];
    want.sort_unstable();
    assert_eq!(levels, want, "AMBER+STRICT or RED left, or AMBER did not");

    // B pushes back to A: its member's CLEAR and GREEN objects, none of Alpha's.
    let to_a = ["--peer", "alpha", "--url", &api_a, "--push", "--collection", &collection_a, "--token-env", "T"];
    let back = sync(&b, &to_a, ("T", &token_at_a));
    assert_eq!(back[0]["objects"], 6, "{back:?}");
    let at_a: Vec<Value> = taxii_dump(&api_a, "bravo", &token_at_a).into_iter().map(|(_, o)| o).collect();
    assert_eq!(at_a.iter().filter(|o| o["name"].as_str().is_some_and(|n| n.starts_with("Bravo "))).count(), 6);
}

/// A free TCP port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Medallion(std::process::Child);

impl Drop for Medallion {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts medallion (memory backend) with one readable and writable collection; returns
/// it, its API root URL and the collection id.
fn medallion(dir: &Path) -> (Medallion, String, &'static str) {
    let port = free_port();
    let collection = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";
    let root = format!("http://127.0.0.1:{port}/api1/");
    let data = json!({
        "/discovery": {"title": "medallion", "description": "test", "contact": "", "default": root, "api_roots": [root]},
        "api1": {
            "information": {"title": "api1", "description": "test", "versions": ["application/taxii+json;version=2.1"],
                            "max_content_length": 9_765_625},
            "status": [],
            "collections": [{"id": collection, "title": "shared", "description": "", "can_read": true,
                             "can_write": true, "media_types": ["application/stix+json;version=2.1"],
                             "objects": [], "manifest": []}]
        }
    });
    let data_file = write(dir, "medallion-data.json", &data.to_string());
    let config = json!({
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend", "filename": data_file},
        "users": {"peer": "s3cret-medallion"},
        "taxii": {"max_page_size": 100}
    });
    let config_file = write(dir, "medallion.json", &config.to_string());
    let exe = python().parent().unwrap().join("medallion");
    let child = Command::new(exe)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), &config_file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "medallion did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Medallion(child), root, collection)
}

#[test]
fn medallion_takes_a_push_and_a_third_installation_pulls_it_with_basic_authentication() {
    medallion_takes_a_push_and_a_pull_on(None);
}

/// The same with the pushing and the pulling installations' stores on PostgreSQL (one
/// database each).
#[test]
fn medallion_takes_a_push_and_a_third_installation_pulls_it_on_postgres() {
    if let Some(cluster) = pg_cluster() {
        medallion_takes_a_push_and_a_pull_on(Some((&cluster.database(), &cluster.database())));
    }
}

fn medallion_takes_a_push_and_a_pull_on(stores: Option<(&str, &str)>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, c) = (dir.path().join("a"), dir.path().join("c"));
    if let Some((pushing, pulling)) = stores {
        use_store(&a, pushing);
        use_store(&c, pulling);
    }
    ok_in(&a, &["org", "add", "Alpha"]);
    let levels = write(dir.path(), "levels.json", &tlp_bundle("Alpha", 30, None));
    ok_in(&a, &["import", &levels, "--org", "Alpha", "--named"]);
    let (_m, root, collection) = medallion(dir.path());
    let auth = ["--user", "peer", "--password-env", "MEDALLION_PASSWORD"];
    let push =
        [&["--peer", "medallion", "--url", &root, "--push", "--agreement", "--page", "7"][..], &auth[..]].concat();
    let pushed = sync(&a, &push, ("MEDALLION_PASSWORD", "s3cret-medallion"));
    assert_eq!(pushed[0]["objects"], 90, "CLEAR, GREEN and AMBER: {pushed:?}");
    assert_eq!(pushed[0]["collection"], collection);
    // Again: nothing new to send.
    let again = sync(&a, &push, ("MEDALLION_PASSWORD", "s3cret-medallion"));
    assert_eq!(again[0]["objects"], 0, "{again:?}");

    let pull = [&["--peer", "medallion", "--url", &root, "--page", "20"][..], &auth[..]].concat();
    let pulled = sync(&c, &pull, ("MEDALLION_PASSWORD", "s3cret-medallion"));
    assert_eq!(pulled[0]["added"], 90, "{pulled:?}");
    let held = export(&c, "peer-medallion");
    assert_eq!(held.len(), 90);
    assert!(held.iter().all(|o| matches!(marking(o), Some(CLEAR | GREEN | AMBER))));
    // The named member's identity went along (it chose to be named).
    assert!(held.iter().all(|o| o.get("created_by_ref").is_none()), "no creator was set in this bundle");
    // Wrong credentials: a clear error, the password nowhere in it.
    let out = dossier_in(&c).arg("sync").args(&pull).env("MEDALLION_PASSWORD", "wrong-password-xyz").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("401"), "{err}");
    assert!(!err.contains("wrong-password-xyz") && !err.contains("s3cret"), "{err}");
}

/// `METHOD URL` with a Bearer token through Python's requests: (status, body).
fn http(method: &str, url: &str, token: &str, body: Option<&str>) -> (u16, String) {
    let mut cmd = Command::new(python());
    cmd.arg(python_script("http_call.py")).args([method, url, token]);
    if let Some(b) = body {
        cmd.arg(b);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (status, body) = text.split_once('\n').unwrap();
    (status.trim().parse().unwrap(), body.trim_end().to_owned())
}

fn email_sco(value: &str, marking: &str) -> Value {
    let mut v = json!({"type": "email-addr", "spec_version": "2.1", "value": value, "object_marking_refs": [marking]});
    let id = dossier_stix::id::deterministic_sco_id("email-addr", v.as_object().unwrap()).unwrap();
    v["id"] = json!(id.as_str());
    v
}

/// An actor with a persona tied to `email`, all under `marking`.
fn actor_with(n: u32, email: &Value, marking: &str) -> Vec<Value> {
    let t = "2025-01-01T00:00:00.000Z";
    let actor = format!("threat-actor--00000000-0000-4000-8000-{n:012}");
    let persona = format!("identity--00000000-0000-4000-8000-{n:012}");
    vec![
        json!({"type": "threat-actor", "spec_version": "2.1", "id": actor, "created": t, "modified": t,
               "name": format!("team {n}"), "object_marking_refs": [marking]}),
        json!({"type": "identity", "spec_version": "2.1", "id": persona, "created": t, "modified": t,
               "name": format!("Persona Number{n}"), "identity_class": "individual", "object_marking_refs": [marking]}),
        json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--00000000-0000-4000-8001-{n:012}"),
               "created": t, "modified": t, "relationship_type": "attributed-to", "source_ref": persona, "target_ref": actor,
               "object_marking_refs": [marking]}),
        json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--00000000-0000-4000-8002-{n:012}"),
               "created": t, "modified": t, "relationship_type": "related-to", "source_ref": persona,
               "target_ref": email["id"], "object_marking_refs": [marking]}),
        email.clone(),
    ]
}

/// Object versions the mirror holds, without the built-in definitions.
fn mirrored(data: &Path) -> BTreeSet<(String, String)> {
    let listing = ok_in(data, &["collection", "list"]);
    let mut out = BTreeSet::new();
    for line in listing.lines() {
        let c: Value = serde_json::from_str(line).unwrap();
        if c["alias"].as_str().is_some_and(|a| a.starts_with("mirror-")) {
            for o in export(data, c["alias"].as_str().unwrap()) {
                if !matches!(o["type"].as_str(), Some("marking-definition" | "extension-definition")) {
                    out.insert(key(&o));
                }
            }
        }
    }
    out
}

fn visible(api: &str, user: &str, token: &str) -> BTreeSet<(String, String)> {
    taxii_dump(api, user, token)
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| !matches!(o["type"].as_str(), Some("marking-definition" | "extension-definition")))
        .map(|o| key(&o))
        .collect()
}

#[test]
fn a_mirror_holds_exactly_what_its_member_sees_through_withdrawals_tlp_changes_and_grants_and_screens_locally() {
    a_mirror_holds_exactly_what_its_member_sees_on(None);
}

/// The same with the mirror's store on PostgreSQL.
#[test]
fn a_mirror_holds_exactly_what_its_member_sees_on_postgres() {
    if let Some(cluster) = pg_cluster() {
        a_mirror_holds_exactly_what_its_member_sees_on(Some(&cluster.database()));
    }
}

fn a_mirror_holds_exactly_what_its_member_sees_on(mirror_store: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (s, mirror) = (dir.path().join("server"), dir.path().join("mirror"));
    if let Some(url) = mirror_store {
        use_store(&mirror, url);
    }
    ok_in(&s, &["org", "add", "Alpha"]);
    let alpha_token =
        ok_in(&s, &["token", "create", "--org", "Alpha", "--role", "member"]).lines().last().unwrap().to_owned();
    let member_token = common::member_token(&s, "Member M");
    let levels = write(dir.path(), "levels.json", &tlp_bundle("Alpha", 3, None));
    ok_in(&s, &["import", &levels, "--org", "Alpha", "--named"]);
    // A RED team Member M may not see, and two GREEN objects that will change.
    let red_email = email_sco("red.farm@example.org", RED);
    let mut objects = actor_with(7, &red_email, RED);
    let green_email = email_sco("green.team@example.org", GREEN);
    objects.extend(actor_with(8, &green_email, GREEN));
    let bundle = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects});
    let more = write(dir.path(), "teams.json", &bundle.to_string());
    ok_in(&s, &["import", &more, "--org", "Alpha"]);
    let served = serve(&s, &[]);
    let api = format!("{}/taxii2/api/", served.base());
    let run_mirror = || {
        let out = dossier_in(&mirror)
            .args(["mirror", "--from", &served.base(), "--name", "laptop-7", "--page", "4"])
            .env("DOSSIER_MIRROR_TOKEN", &member_token)
            .output()
            .unwrap();
        assert!(out.status.success(), "dossier mirror: {}", String::from_utf8_lossy(&out.stderr));
        let run: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(run["reported"], true, "{run}");
        run
    };
    run_mirror();
    let seen = visible(&api, "Member M", &member_token);
    assert_eq!(mirrored(&mirror), seen, "the mirror differs from what the member sees");
    assert!(!seen.iter().any(|(id, _)| id == red_email["id"].as_str().unwrap()));
    let screen_local = |email: &str| -> Value {
        let applicants =
            write(dir.path(), "applicants.jsonl", &format!("{{\"ref\":\"a1\",\"emails\":[\"{email}\"]}}\n"));
        let out = ok_in(&mirror, &["screen", &applicants]);
        serde_json::from_str(out.lines().next().unwrap()).unwrap()
    };
    assert_eq!(screen_local("green.team@example.org")["decision"], "match");
    assert_eq!(screen_local("red.farm@example.org")["decision"], "clear");

    // Alpha withdraws one of its GREEN objects and makes the GREEN team's persona RED.
    let collection =
        ok_in(&s, &["collection", "list"]).lines().next().map(|l| serde_json::from_str::<Value>(l).unwrap()).unwrap();
    let cid = collection["uuid"].as_str().unwrap();
    let withdrawn = "threat-actor--00000000-0000-4000-8000-000000000008";
    let (status, body) = http("DELETE", &format!("{api}collections/{cid}/objects/{withdrawn}/"), &alpha_token, None);
    assert_eq!(status, 200, "{body}");
    let mut persona = objects[6].clone();
    assert_eq!(persona["type"], "identity");
    persona["modified"] = json!("2025-06-01T00:00:00.000Z");
    persona["object_marking_refs"] = json!([RED]);
    let (status, body) = http(
        "POST",
        &format!("{api}collections/{cid}/objects/"),
        &alpha_token,
        Some(&json!({"objects": [persona]}).to_string()),
    );
    assert_eq!(status, 202, "{body}");
    // Member M's screen of the RED email is a restricted hit; it asks, and Alpha grants.
    let base = served.base();
    let (status, body) = http(
        "POST",
        &format!("{base}/api/v1/screen"),
        &member_token,
        Some(r#"{"ref": "cand-1", "emails": ["red.farm@example.org"]}"#),
    );
    assert_eq!(status, 200, "{body}");
    let (_, queue) = http("GET", &format!("{base}/api/v1/review?status=open"), &member_token, None);
    let entry = serde_json::from_str::<Value>(&queue).unwrap()["entries"][0]["id"].as_i64().unwrap();
    let (status, asked) =
        http("POST", &format!("{base}/api/v1/review/{entry}/access-request"), &member_token, Some("{}"));
    assert_eq!(status, 201, "{asked}");
    let request = serde_json::from_str::<Value>(&asked).unwrap()["requests"][0]["id"].as_i64().unwrap();
    let (status, body) = http(
        "POST",
        &format!("{base}/api/v1/access-requests/{request}"),
        &alpha_token,
        Some(r#"{"decision": "grant"}"#),
    );
    assert_eq!(status, 200, "{body}");

    let run = run_mirror();
    let seen = visible(&api, "Member M", &member_token);
    assert_eq!(mirrored(&mirror), seen, "after the changes: {run}");
    let held = mirrored(&mirror);
    assert!(held.iter().any(|(id, _)| id == red_email["id"].as_str().unwrap()), "the grant did not reach the mirror");
    assert!(!held.iter().any(|(id, _)| id == withdrawn), "a withdrawn object stayed");
    assert!(!held.iter().any(|(id, _)| id == persona_id()), "a persona made RED stayed");
    assert!(run["removed"].as_u64().unwrap() >= 2 && run["fetched"].as_u64().unwrap() >= 1, "{run}");
    assert_eq!(screen_local("red.farm@example.org")["decision"], "match");
    // Nothing changes a third run.
    let again = run_mirror();
    assert_eq!((again["removed"].as_u64(), again["fetched"].as_u64()), (Some(0), Some(0)), "{again}");
    // The ISAC sees the mirror's freshness.
    let db = rusqlite::Connection::open_with_flags(s.join("dossier.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let (name, objects): (String, i64) =
        db.query_row("SELECT name, objects FROM mirrors", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(name, "laptop-7");
    assert!(objects as usize >= seen.len());
}

fn persona_id() -> &'static str {
    "identity--00000000-0000-4000-8000-000000000008"
}

#[test]
fn serve_runs_the_configured_peers_in_the_background() {
    serve_runs_the_configured_peers_on(None);
}

/// The same with the pulling node's store on PostgreSQL (the pull's cursor and lead in the
/// database).
#[test]
fn serve_runs_the_configured_peers_in_the_background_on_postgres() {
    if let Some(cluster) = pg_cluster() {
        serve_runs_the_configured_peers_on(Some(&cluster.database()));
    }
}

fn serve_runs_the_configured_peers_on(pulling_store: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    if let Some(url) = pulling_store {
        use_store(&b, url);
    }
    ok_in(&a, &["org", "add", "Alpha"]);
    let levels = write(dir.path(), "levels.json", &tlp_bundle("Alpha", 2, None));
    ok_in(&a, &["import", &levels, "--org", "Alpha"]);
    let token = peer_token(&a, "bravo");
    let served_a = serve(&a, &[]);
    let config = format!(
        "[[peers]]\nname = \"alpha\"\nurl = \"{}/taxii2/api/\"\ntoken_env = \"ALPHA_TOKEN\"\ninterval = 1\n",
        served_a.base()
    );
    let config_file = write(dir.path(), "dossier.toml", &config);
    // The token comes from the environment the server runs in.
    let mut child = dossier_in(&b)
        .args(["serve", "--listen", "127.0.0.1:0", "--config", &config_file])
        .env("ALPHA_TOKEN", &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let pulled = loop {
        if let Some(n) = sync_objects(&b, "pull:alpha:")
            && n >= 8
        {
            break n;
        }
        // Generous: on a loaded machine (this binary's PostgreSQL tests start a cluster
        // beside it) a first request can time out, and retries back off up to 30 s.
        assert!(started.elapsed() < Duration::from_secs(90), "the background pull did not run");
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(pulled >= 8, "CLEAR, GREEN, AMBER and AMBER+STRICT, two each");
    let held = export(&b, "peer-alpha");
    assert_eq!(held.iter().filter(|o| o["name"].as_str().is_some_and(|n| n.starts_with("Alpha "))).count(), 8);
    // A configuration naming a variable that is not set is refused at start, by name.
    let out = dossier_in(&b)
        .args(["serve", "--listen", "127.0.0.1:0", "--config", &config_file])
        .env_remove("ALPHA_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ALPHA_TOKEN"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_hostile_peer_can_neither_overwrite_a_members_object_nor_speak_for_a_member() {
    a_hostile_peer_can_do_nothing_on(None);
}

/// The same with the receiving installation's store on PostgreSQL.
#[test]
fn a_hostile_peer_can_neither_overwrite_nor_speak_for_a_member_on_postgres() {
    if let Some(cluster) = pg_cluster() {
        a_hostile_peer_can_do_nothing_on(Some(&cluster.database()));
    }
}

fn a_hostile_peer_can_do_nothing_on(receiving_store: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    if let Some(url) = receiving_store {
        use_store(&b, url);
    }
    ok_in(&b, &["org", "add", "Local Member"]);
    let member = identity_of(&b, "Local Member");
    let original = json!({"type": "threat-actor", "spec_version": "2.1", "id": "threat-actor--00000000-0000-4000-8000-0000000000aa",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "Local team",
        "object_marking_refs": [GREEN]});
    let bundle = |objects: Vec<Value>| {
        json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects}).to_string()
    };
    ok_in(&b, &["import", &write(dir.path(), "local.json", &bundle(vec![original.clone()])), "--org", "Local Member"]);
    // The peer serves a newer version of that object, one claiming the member made it, and
    // one honest object.
    ok_in(&a, &["org", "add", "Impostor"]);
    let mut overwrite = original.clone();
    overwrite["modified"] = json!("2026-06-01T00:00:00.000Z");
    overwrite["name"] = json!("Overwritten by a peer");
    let mut spoof = original.clone();
    spoof["id"] = json!("threat-actor--00000000-0000-4000-8000-0000000000bb");
    spoof["name"] = json!("Spoofed team");
    spoof["created_by_ref"] = json!(member);
    let mut honest = original.clone();
    honest["id"] = json!("threat-actor--00000000-0000-4000-8000-0000000000cc");
    honest["name"] = json!("Honest team");
    ok_in(
        &a,
        &["import", &write(dir.path(), "peer.json", &bundle(vec![overwrite, spoof, honest])), "--org", "Impostor"],
    );
    let token = peer_token(&a, "bravo");
    let served = serve(&a, &[]);
    let api = format!("{}/taxii2/api/", served.base());
    let reports = sync(&b, &["--peer", "alpha", "--url", &api, "--token-env", "T"], ("T", &token));
    assert_eq!(reports[0]["skipped"], 2, "{reports:?}");
    let reasons = reports[0]["reasons"].to_string();
    assert!(
        reasons.contains("0000000000aa") && reasons.contains("0000000000bb") && reasons.contains("Local Member"),
        "{reasons}"
    );
    let all: Vec<Value> =
        serde_json::from_str::<Value>(&ok_in(&b, &["export"])).unwrap()["objects"].as_array().unwrap().clone();
    let names: Vec<&str> = all.iter().filter_map(|o| o["name"].as_str()).collect();
    assert!(names.contains(&"Local team") && names.contains(&"Honest team"), "{names:?}");
    assert!(!names.contains(&"Overwritten by a peer") && !names.contains(&"Spoofed team"), "{names:?}");
}
