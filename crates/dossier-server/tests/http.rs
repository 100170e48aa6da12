//! Black-box tests of the TAXII server: a real listener on port 0, a fresh data directory
//! per test, requests over plain HTTP/1.1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

mod common;

use common::*;
use dossier_server::Config;
use dossier_stix::Tlp;
use dossier_store::AuditQuery;
use serde_json::{Value, json};

#[test]
fn each_tlp_level_is_seen_by_exactly_the_right_organizations_on_every_read_path() {
    each_tlp_level_is_seen_by_exactly_the_right_organizations_on_every_read_path_on(&spawn_app(Config::default()));
}

#[test]
fn each_tlp_level_is_seen_by_exactly_the_right_organizations_on_every_read_path_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        each_tlp_level_is_seen_by_exactly_the_right_organizations_on_every_read_path_on(&app);
    }
}

fn each_tlp_level_is_seen_by_exactly_the_right_organizations_on_every_read_path_on(app: &App) {
    let mut by_level = Vec::new();
    for tlp in Tlp::ALL {
        let o = email(&format!("{}@owner-a.example", tlp.as_str().replace('+', "-")), tlp);
        app.submit("Exchange A", false, std::slice::from_ref(&o));
        by_level.push((tlp, o["id"].as_str().unwrap().to_owned()));
    }
    for viewer in ["Exchange A", "Wallet B", "Recruiter C", "analyst"] {
        let objects = app.get(&app.col("objects/?limit=1000"), viewer).json();
        let manifest = app.get(&app.col("manifest/"), viewer).json();
        for (tlp, id) in &by_level {
            let should = *tlp != Tlp::Red || viewer == "Exchange A" || viewer == "analyst";
            assert_eq!(ids(&objects, "objects").contains(id), should, "objects: {viewer} / {tlp:?}");
            assert_eq!(ids(&manifest, "objects").contains(id), should, "manifest: {viewer} / {tlp:?}");
            let one = app.get(&app.col(&format!("objects/{id}/")), viewer);
            assert_eq!(one.status == 200, should, "object: {viewer} / {tlp:?}: {}", one.body);
            let versions = app.get(&app.col(&format!("objects/{id}/versions/")), viewer);
            assert_eq!(versions.status == 200, should, "versions: {viewer} / {tlp:?}");
            if !should {
                // Indistinguishable from an object that does not exist.
                let missing = app.get(&app.col("objects/email-addr--00000000-0000-5000-8000-000000000000/"), viewer);
                assert_eq!(
                    (one.status, one.json()["title"].clone()),
                    (missing.status, missing.json()["title"].clone())
                );
                assert!(!one.body.contains(id.as_str()) && !one.body.contains("owner-a"), "errors reveal nothing");
            }
        }
    }
}

/// A request for a rare type reads that type's rows first (schema 9's type index) instead of
/// walking the collection: the same TLP rules hold on that path, for objects, the manifest
/// and the paging flags.
#[test]
fn each_tlp_level_is_seen_by_exactly_the_right_organizations_when_asked_by_type() {
    each_tlp_level_is_seen_by_exactly_the_right_organizations_when_asked_by_type_on(&spawn_app(Config::default()));
}

#[test]
fn each_tlp_level_is_seen_by_exactly_the_right_organizations_when_asked_by_type_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        each_tlp_level_is_seen_by_exactly_the_right_organizations_when_asked_by_type_on(&app);
    }
}

fn each_tlp_level_is_seen_by_exactly_the_right_organizations_when_asked_by_type_on(app: &App) {
    let mut by_level = Vec::new();
    for (i, tlp) in Tlp::ALL.into_iter().enumerate() {
        let id = format!("intrusion-set--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd{i:02}");
        let o = json!({"type": "intrusion-set", "spec_version": "2.1", "id": id, "name": format!("set {i}"),
            "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
            "object_marking_refs": [tlp.marking_id()]});
        app.submit("Exchange A", false, &[o, email(&format!("noise{i}@example.com"), Tlp::Green)]);
        by_level.push((tlp, id));
    }
    for viewer in ["Exchange A", "Wallet B", "Recruiter C", "analyst"] {
        let objects = app.get(&app.col("objects/?match[type]=intrusion-set"), viewer).json();
        let manifest = app.get(&app.col("manifest/?match[type]=intrusion-set"), viewer).json();
        let mut want = Vec::new();
        for (tlp, id) in &by_level {
            let should = *tlp != Tlp::Red || viewer == "Exchange A" || viewer == "analyst";
            assert_eq!(ids(&objects, "objects").contains(id), should, "objects: {viewer} / {tlp:?}");
            assert_eq!(ids(&manifest, "objects").contains(id), should, "manifest: {viewer} / {tlp:?}");
            if should {
                want.push(id.clone());
            }
        }
        assert_eq!(ids(&objects, "objects"), want, "{viewer}: only intrusion sets, in the order added");
        // Paging one at a time: a hidden RED set last must not show up as `more`.
        let mut seen = Vec::new();
        let mut page = app.get(&app.col("objects/?match[type]=intrusion-set&limit=1"), viewer).json();
        loop {
            seen.extend(ids(&page, "objects"));
            let Some(next) = page["next"].as_str().map(str::to_owned) else { break };
            page = app.get(&app.col(&format!("objects/?match[type]=intrusion-set&limit=1&next={next}")), viewer).json();
        }
        assert_eq!(seen, want, "{viewer}: paging reaches every visible set once");
        assert_eq!(page["more"], false);
    }
}

#[test]
fn paging_counts_and_more_flags_do_not_reveal_hidden_objects() {
    let app = spawn_app(Config::default());
    app.submit("Exchange A", false, &[email("visible@a.example", Tlp::Green)]);
    let red: Vec<Value> = (0..5).map(|i| email(&format!("secret{i}@a.example"), Tlp::Red)).collect();
    app.submit("Exchange A", false, &red);
    let page = app.get(&app.col("objects/?match[type]=email-addr&limit=1"), "Wallet B").json();
    assert_eq!(ids(&page, "objects").len(), 1);
    assert_eq!(page["more"], false, "five hidden objects after it must not show up as more");
    assert!(page.get("next").is_none());
    let owner = app.get(&app.col("objects/?match[type]=email-addr&limit=1"), "Exchange A").json();
    assert_eq!(owner["more"], true);
    // Following `next` reaches every visible object exactly once.
    let mut seen = ids(&owner, "objects");
    let mut next = owner["next"].as_str().map(str::to_owned);
    while let Some(n) = next {
        let p = app.get(&app.col(&format!("objects/?match[type]=email-addr&limit=1&next={n}")), "Exchange A").json();
        seen.extend(ids(&p, "objects"));
        next = p["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 6);
}

#[test]
fn anonymous_submitters_are_shown_as_the_isac_to_other_members() {
    let app = spawn_app(Config::default());
    let a = app.orgs["Exchange A"].identity_id.clone();
    let isac = app.orgs["analyst"].identity_id.clone();
    let persona = json!({"type": "identity", "spec_version": "2.1", "id": "identity--0b0f4a0c-8f5e-4b8e-9a53-2b4d6e3f1a11",
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z", "name": "Kim Chol-su",
        "identity_class": "individual", "created_by_ref": a});
    app.submit("Exchange A", false, &[persona]);
    let path = app.col("objects/identity--0b0f4a0c-8f5e-4b8e-9a53-2b4d6e3f1a11/");
    let by = |who: &str| app.get(&path, who).json()["objects"][0]["created_by_ref"].as_str().unwrap().to_owned();
    assert_eq!(by("Exchange A"), a, "the submitter sees itself");
    assert_eq!(by("analyst"), a, "analysts see the real submitter");
    assert_eq!(by("Wallet B"), isac, "other members see the ISAC");
}

#[test]
fn posting_as_another_member_is_refused_and_nothing_is_stored() {
    let app = spawn_app(Config::default());
    let b = app.orgs["Wallet B"].identity_id.clone();
    let forged = json!({"type": "threat-actor", "spec_version": "2.1", "id": "threat-actor--3c0f4a0c-8f5e-4b8e-9a53-2b4d6e3f1a11",
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z", "name": "x", "created_by_ref": b});
    let ok = email("fine@example.com", Tlp::Green);
    let body = json!({"objects": [ok, forged]}).to_string();
    let r = app.request(
        "POST",
        &app.col("objects/"),
        Some("Exchange A"),
        &[("Content-Type", "application/taxii+json;version=2.1")],
        Some(&body),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("created_by_ref") && r.body.contains("Wallet B"));
    let after = app.get(&app.col("objects/?match[type]=email-addr"), "analyst").json();
    assert!(ids(&after, "objects").is_empty(), "the valid object was not stored either");
    // Its own identity is fine.
    let own = json!({"objects": [email("fine@example.com", Tlp::Green)]}).to_string();
    let r = app.request(
        "POST",
        &app.col("objects/"),
        Some("Exchange A"),
        &[("Content-Type", "application/taxii+json")],
        Some(&own),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let status = r.json();
    let s = app.get(&format!("/taxii2/api/status/{}/", status["id"].as_str().unwrap()), "Exchange A");
    assert_eq!(s.json()["success_count"], 1);
    assert_eq!(
        app.get(&format!("/taxii2/api/status/{}/", status["id"].as_str().unwrap()), "Wallet B").status,
        404,
        "status is the poster's"
    );
}

#[test]
fn unauthenticated_requests_get_401_with_a_challenge_and_failures_are_throttled() {
    let app = spawn_app(Config { auth_failures: 3, ..Config::default() });
    let r = app.request("GET", "/taxii2/", None, &[], None);
    assert_eq!(r.status, 401);
    assert!(r.header("WWW-Authenticate").is_some_and(|v| v.contains("Basic")));
    assert_eq!(r.header("Content-Type"), Some("application/taxii+json;version=2.1"));
    assert_eq!(r.json()["http_status"], "401");
    for _ in 0..3 {
        let r = app.request("GET", "/taxii2/", None, &[("Authorization", "Bearer dsk_wrong")], None);
        assert_eq!(r.status, 401);
    }
    let r = app.request("GET", "/taxii2/", None, &[("Authorization", "Bearer dsk_wrong")], None);
    assert_eq!(r.status, 429, "throttled after repeated failures");
    assert_eq!(app.request("GET", "/healthz", None, &[], None).status, 200);
    // Someone else's failures from the same address (a NAT, a proxy) never lock out a
    // valid token, and its successes never clear them.
    for _ in 0..3 {
        assert_eq!(app.get("/taxii2/", "Wallet B").status, 200);
        let r = app.request("GET", "/taxii2/", None, &[("Authorization", "Bearer dsk_wrong")], None);
        assert_eq!(r.status, 429);
    }
}

#[test]
fn every_request_is_audited_with_the_number_of_objects_returned() {
    let app = spawn_app(Config::default());
    app.submit("Exchange A", false, &[email("a@x.example", Tlp::Green), email("b@x.example", Tlp::Red)]);
    let r = app.get(&app.col("objects/?match[type]=email-addr"), "Wallet B");
    assert_eq!(ids(&r.json(), "objects").len(), 1);
    let log = app.store.audit_log(&AuditQuery { org: Some(app.orgs["Wallet B"].id), ..Default::default() }).unwrap();
    let rec = log.iter().find(|r| r.path.ends_with("/objects/")).expect("audited");
    assert_eq!(rec.returned, 1);
    assert_eq!(rec.status, 200);
    assert_eq!(rec.params.as_deref(), Some("match[type]=email-addr"));
    assert!(rec.token.as_deref().is_some_and(|t| t.starts_with("tok_")));
}

#[test]
fn media_types_and_errors_follow_taxii() {
    let app = spawn_app(Config { max_content_length: 1000, ..Config::default() });
    let xml = app.request("GET", "/taxii2/", Some("Wallet B"), &[("Accept", "application/xml")], None);
    assert_eq!(xml.status, 406);
    let r = app.request(
        "POST",
        &app.col("objects/"),
        Some("Wallet B"),
        &[("Content-Type", "application/json")],
        Some("{\"objects\":[]}"),
    );
    assert_eq!(r.status, 415);
    let big = format!("{{\"objects\":[], \"pad\": \"{}\"}}", "x".repeat(2000));
    let r = app.request(
        "POST",
        &app.col("objects/"),
        Some("Wallet B"),
        &[("Content-Type", "application/taxii+json")],
        Some(&big),
    );
    assert_eq!(r.status, 413);
    let r = app.get(&app.col("objects/?limit=0"), "Wallet B");
    assert_eq!(r.status, 400);
    assert!(r.json()["description"].as_str().unwrap().contains("limit"));
    assert_eq!(app.get("/taxii2/nope/", "Wallet B").status, 404);
    assert_eq!(app.get("/taxii2/api/collections/00000000-0000-4000-8000-000000000000/", "Wallet B").status, 404);
}

#[test]
fn the_audit_api_is_for_analysts_only() {
    let app = spawn_app(Config::default());
    app.get(&app.col("objects/"), "Wallet B");
    let member = app.get("/api/v1/audit", "Wallet B");
    assert_eq!(member.status, 403);
    let r = app.get("/api/v1/audit?org=Wallet%20B&limit=10", "analyst");
    assert_eq!(r.status, 200, "{}", r.body);
    let records = r.json()["records"].as_array().unwrap().clone();
    assert!(records.iter().any(|x| x["path"].as_str().unwrap().ends_with("/objects/") && x["org"] == "Wallet B"));
    assert!(records.iter().all(|x| x["org"] == "Wallet B"), "filtered by organization");
    assert_eq!(app.get("/api/v1/audit?since=yesterday", "analyst").status, 400);
}

#[test]
fn a_revoked_token_stops_working_once_the_cache_expires() {
    let app = spawn_app(Config { cache_ttl: std::time::Duration::ZERO, ..Config::default() });
    assert_eq!(app.get("/taxii2/", "Wallet B").status, 200);
    let token = app.store.tokens().unwrap().into_iter().find(|t| t.org == app.orgs["Wallet B"].id).unwrap();
    app.store.revoke_token(&token.id).unwrap();
    assert_eq!(app.get("/taxii2/", "Wallet B").status, 401);
}

#[test]
fn red_shared_with_a_named_member_is_seen_by_that_member_only() {
    red_shared_with_a_named_member_is_seen_by_that_member_only_on(&spawn_app(Config::default()));
}

#[test]
fn red_shared_with_a_named_member_is_seen_by_that_member_only_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        red_shared_with_a_named_member_is_seen_by_that_member_only_on(&app);
    }
}

fn red_shared_with_a_named_member_is_seen_by_that_member_only_on(app: &App) {
    let mut o = email("shared@a.example", Tlp::Red);
    o["x_dossier_share_with_refs"] =
        json!([app.orgs["Recruiter C"].identity_id, "identity--0b0f4a0c-8f5e-4b8e-9a53-2b4d6e3f1a99"]);
    app.submit("Exchange A", false, std::slice::from_ref(&o));
    let id = o["id"].as_str().unwrap();
    for (viewer, should) in [("Exchange A", true), ("Recruiter C", true), ("analyst", true), ("Wallet B", false)] {
        let list = app.get(&app.col("objects/"), viewer).json();
        assert_eq!(ids(&list, "objects").contains(&id.to_owned()), should, "objects: {viewer}");
        assert_eq!(app.get(&app.col(&format!("objects/{id}/")), viewer).status == 200, should, "object: {viewer}");
        assert_eq!(
            app.get(&app.col(&format!("objects/{id}/versions/")), viewer).status == 200,
            should,
            "versions: {viewer}"
        );
        let manifest = app.get(&app.col("manifest/"), viewer).json();
        assert_eq!(ids(&manifest, "objects").contains(&id.to_owned()), should, "manifest: {viewer}");
    }
}

#[test]
fn submitting_an_object_another_member_holds_as_red_reveals_nothing_and_grants_only_your_copy() {
    submitting_an_object_another_member_holds_as_red_reveals_nothing_and_grants_only_your_copy_on(&spawn_app(
        Config::default(),
    ));
}

#[test]
fn submitting_an_object_another_member_holds_as_red_reveals_nothing_and_grants_only_your_copy_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        submitting_an_object_another_member_holds_as_red_reveals_nothing_and_grants_only_your_copy_on(&app);
    }
}

fn submitting_an_object_another_member_holds_as_red_reveals_nothing_and_grants_only_your_copy_on(app: &App) {
    let o = email("known@a.example", Tlp::Red);
    app.submit("Exchange A", false, std::slice::from_ref(&o));
    let id = o["id"].as_str().unwrap();
    // Wallet B saw the same address and submits the identical (deterministic-id) object.
    let body = json!({"objects": [o]}).to_string();
    let r = app.request(
        "POST",
        &app.col("objects/"),
        Some("Wallet B"),
        &[("Content-Type", "application/taxii+json")],
        Some(&body),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    // It can read what it submitted (otherwise a 202 followed by a 404 would reveal that
    // someone else holds it as RED); a third member still cannot.
    assert_eq!(app.get(&app.col(&format!("objects/{id}/")), "Wallet B").status, 200);
    assert_eq!(app.get(&app.col(&format!("objects/{id}/")), "Recruiter C").status, 404);
}

/// A slow upload is told what went wrong (408: the body did not arrive in time) and nothing
/// of it is stored; the message is about the upload, not about narrowing a query.
#[test]
fn a_slow_upload_is_refused_as_such_and_nothing_is_stored() {
    use std::io::{Read, Write};
    let app = spawn_app(Config { request_timeout: std::time::Duration::from_secs(1), ..Config::default() });
    let body = json!({"objects": [{"type": "threat-actor", "spec_version": "2.1",
        "id": "threat-actor--00000000-0000-4000-8000-000000000777", "created": "2025-01-01T00:00:00.000Z",
        "modified": "2025-01-01T00:00:00.000Z", "name": "slow upload"}]})
    .to_string();
    let mut s = std::net::TcpStream::connect(app.addr).unwrap();
    write!(
        s,
        "POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/taxii+json;version=2.1\r\nAccept: application/taxii+json;version=2.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        app.col("objects/"),
        app.tokens["Exchange A"],
        body.len(),
        &body[..20]
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let _ = s.write_all(&body.as_bytes()[20..]);
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    assert!(resp.contains("did not arrive within 1 s") && resp.contains("nothing was stored"), "{resp}");
    let r = app.get(&app.col("objects/threat-actor--00000000-0000-4000-8000-000000000777/"), "Exchange A");
    assert_eq!(r.status, 404);
}

/// Liveness and readiness are separate; when storage fills up, a write is answered 507 with
/// "nothing was stored" (not a generic 500), and what was stored before is intact.
#[test]
fn a_full_store_answers_507_and_health_tells_live_from_ready() {
    let app = spawn_app(Config::default());
    for path in ["/healthz/live", "/healthz/ready", "/healthz"] {
        let r = app.request("GET", path, None, &[], None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    assert_eq!(app.request("GET", "/healthz/ready", None, &[], None).json()["ready"], true);
    let post = |n: u32| {
        let objects: Vec<serde_json::Value> = (0..200)
            .map(|i| {
                json!({"type": "note", "spec_version": "2.1",
                "id": format!("note--00000000-0000-4000-8000-{:012}", n * 1000 + i),
                "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
                "content": "x".repeat(4000), "object_refs": ["threat-actor--00000000-0000-4000-8000-000000000001"]})
            })
            .collect();
        app.request(
            "POST",
            &app.col("objects/"),
            Some("Exchange A"),
            &[("Content-Type", "application/taxii+json;version=2.1")],
            Some(&json!({"objects": objects}).to_string()),
        )
    };
    assert_eq!(post(1).status, 202);
    app.sqlite.as_ref().unwrap().fill_up_after(4).unwrap();
    let r = post(2);
    assert_eq!(r.status, 507, "{}", r.body);
    assert!(r.json()["description"].as_str().unwrap().contains("nothing was stored"), "{}", r.body);
    assert!(r.header("retry-after").is_some());
    let r = app.get(&app.col("objects/note--00000000-0000-4000-8000-000000002000/"), "Exchange A");
    assert_eq!(r.status, 404, "nothing of the refused request");
    let r = app.get(&app.col("objects/note--00000000-0000-4000-8000-000000001000/"), "Exchange A");
    assert_eq!(r.status, 200, "what was stored before is intact");
    // Still alive, whatever readiness says.
    assert_eq!(app.request("GET", "/healthz/live", None, &[], None).status, 200);
}

/// Screening batches are bounded: one organization runs at most its share at once (429
/// with Retry-After beyond), and a client that stalls gives its place back after the time
/// limit instead of holding a thread for ever.
#[test]
fn batches_are_bounded_and_a_stalled_one_gives_its_place_back() {
    use std::io::{Read, Write};
    let limits = dossier_server::quota::BatchLimits { per_org: 1, global: 4 };
    let app = spawn_app(Config {
        batch_limits: limits,
        request_timeout: std::time::Duration::from_secs(1),
        ..Config::default()
    });
    let post = |body: &str| {
        app.request(
            "POST",
            "/api/v1/screen/batch",
            Some("Exchange A"),
            &[("Content-Type", "application/x-ndjson"), ("Accept", "application/x-ndjson")],
            Some(body),
        )
    };
    // A client that announces a large upload and stops sending.
    let mut stalled = std::net::TcpStream::connect(app.addr).unwrap();
    write!(
        stalled,
        "POST /api/v1/screen/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n{{\"ref\": \"a\"}}\n",
        app.tokens["Exchange A"]
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = post("{\"ref\": \"b\"}\n");
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    // Another organization is not held back by A's share.
    let other = app.request(
        "POST",
        "/api/v1/screen/batch",
        Some("Wallet B"),
        &[("Content-Type", "application/x-ndjson"), ("Accept", "application/x-ndjson")],
        Some("{\"ref\": \"c\"}\n"),
    );
    assert_eq!(other.status, 200, "{}", other.body);
    // The stalled upload is given up after the time limit, and A may run a batch again.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let r = post("{\"ref\": \"d\"}\n");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.dechunked().contains("\"d\""), "{}", r.body);
    let mut rest = String::new();
    let _ = stalled.set_read_timeout(Some(std::time::Duration::from_secs(1)));
    let _ = stalled.read_to_string(&mut rest);
}
