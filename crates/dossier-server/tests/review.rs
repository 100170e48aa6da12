//! The review queue over HTTP, as members and as a hostile member: every screen that ends
//! in match or review enters the screening organization's queue (API, batch, page), without
//! the applicant's values; a judgement is that organization's alone; a false positive
//! suppresses its ties in that organization's later screens and nobody else's; analysts see
//! the judgements per object; entries expire.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

mod common;

use common::*;
use dossier_server::Config;
use dossier_stix::Tlp;
use dossier_store::AuditQuery;
use serde_json::{Value, json};

const EMAIL: &str = "ops.farm@example.org";

/// An actor (GREEN) with one email, filed by Exchange A; returns the email's object id.
fn world(app: &App) -> String {
    let e = email(EMAIL, Tlp::Green);
    app.submit("Exchange A", false, &actor_with(1, &e, Tlp::Green));
    e["id"].as_str().unwrap().to_owned()
}

fn screen(app: &App, who: &str, reference: &str, emails: &[&str]) -> Value {
    let r = post_json(app, "/api/v1/screen", who, &json!({"ref": reference, "emails": emails}).to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn queue(app: &App, who: &str, status: &str) -> Vec<Value> {
    let r = app.api("GET", &format!("/api/v1/review?status={status}"), who, None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["entries"].as_array().cloned().unwrap_or_default()
}

fn judge(app: &App, who: &str, id: i64, disposition: &str, comment: &str) -> Response {
    let body = json!({"disposition": disposition, "comment": comment}).to_string();
    app.api("POST", &format!("/api/v1/review/{id}"), who, Some(&body))
}

#[test]
fn a_flagged_screen_is_queued_for_its_organization_only_and_without_the_applicants_values() {
    a_flagged_screen_is_queued_for_its_organization_only_and_without_the_applicants_values_on(&spawn_app(
        Config::default(),
    ));
}

#[test]
fn a_flagged_screen_is_queued_for_its_organization_only_and_without_the_applicants_values_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        a_flagged_screen_is_queued_for_its_organization_only_and_without_the_applicants_values_on(&app);
    }
}

fn a_flagged_screen_is_queued_for_its_organization_only_and_without_the_applicants_values_on(app: &App) {
    let object = world(app);
    // A clear screen is not queued; a match is.
    assert_eq!(screen(app, "Wallet B", "cand-0", &["someone.else@example.org"])["decision"], "clear");
    assert!(queue(app, "Wallet B", "all").is_empty());
    assert_eq!(screen(app, "Wallet B", "cand-17", &[" OPS.Farm@example.org"])["decision"], "match");
    let entries = queue(app, "Wallet B", "open");
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e["ref"], "cand-17");
    assert_eq!(e["decision"], "match");
    assert_eq!(e["source"], "api");
    assert_eq!(e["result"]["matches"][0]["evidence"][0]["object"], json!(object));
    let text = e.to_string().to_lowercase();
    assert!(!text.contains("ops.farm"), "the entry keeps the applicant's value: {text}");
    // Nobody else sees, reads or judges it.
    let id = e["id"].as_i64().unwrap();
    for other in ["Exchange A", "Recruiter C", "analyst"] {
        assert!(queue(app, other, "all").is_empty(), "{other} sees Wallet B's queue");
        assert_eq!(app.api("GET", &format!("/api/v1/review/{id}"), other, None).status, 404);
        assert_eq!(judge(app, other, id, "false_positive", "").status, 404, "{other} judged Wallet B's entry");
    }
    assert_eq!(app.api("GET", &format!("/api/v1/review/{id}"), "Wallet B", None).status, 200);
    // A batch queues what it flags, once each.
    let batch = format!(
        "{}\n{}\n",
        json!({"ref": "b-1", "emails": [EMAIL]}),
        json!({"ref": "b-2", "emails": ["nobody@example.org"]})
    );
    let r = app.request(
        "POST",
        "/api/v1/screen/batch",
        Some("Wallet B"),
        &[("Content-Type", "application/x-ndjson"), ("Accept", "application/x-ndjson")],
        Some(&batch),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let entries = queue(app, "Wallet B", "open");
    assert_eq!(entries.iter().map(|e| e["ref"].as_str().unwrap()).collect::<Vec<_>>(), ["b-1", "cand-17"]);
    assert_eq!(entries[0]["source"], "batch");
    // Bad judgements are refused and change nothing.
    assert_eq!(judge(app, "Wallet B", id, "maybe", "").status, 400);
    let long = "x".repeat(5000);
    assert_eq!(judge(app, "Wallet B", id, "unsure", &long).status, 400);
    let r = app.api("POST", &format!("/api/v1/review/{id}"), "Wallet B", Some(r#"{"disposition":"unsure","by":"x"}"#));
    assert_eq!(r.status, 400, "unknown fields are an error");
    assert_eq!(queue(app, "Wallet B", "open").len(), 2);
}

#[test]
fn a_false_positive_suppresses_the_tie_for_the_judge_only_and_analysts_see_the_counts() {
    a_false_positive_suppresses_the_tie_for_the_judge_only_and_analysts_see_the_counts_on(
        &spawn_app(Config::default()),
    );
}

#[test]
fn a_false_positive_suppresses_the_tie_for_the_judge_only_and_analysts_see_the_counts_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        a_false_positive_suppresses_the_tie_for_the_judge_only_and_analysts_see_the_counts_on(&app);
    }
}

fn a_false_positive_suppresses_the_tie_for_the_judge_only_and_analysts_see_the_counts_on(app: &App) {
    let object = world(app);
    for who in ["Wallet B", "Recruiter C"] {
        assert_eq!(screen(app, who, "cand-1", &[EMAIL])["decision"], "match");
    }
    let id = queue(app, "Wallet B", "open")[0]["id"].as_i64().unwrap();
    let r = judge(app, "Wallet B", id, "false_positive", "our employee since 2019");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["disposition"], "false_positive");
    assert!(queue(app, "Wallet B", "open").is_empty());
    assert_eq!(queue(app, "Wallet B", "judged").len(), 1);
    // Wallet B's next screen of that value leaves the tie out, and says why.
    let again = screen(app, "Wallet B", "cand-1b", &[EMAIL]);
    assert_eq!(again["decision"], "clear", "{again}");
    assert_eq!(again["suppressed"][0]["object"], json!(object));
    let note = again["suppressed"][0]["note"].as_str().unwrap();
    assert!(note.starts_with("suppressed: judged a false positive by"), "{note}");
    // Nobody else's screens change: Recruiter C, Exchange A, the analysts still match.
    for who in ["Recruiter C", "Exchange A", "analyst"] {
        let s = screen(app, who, "cand-2", &[EMAIL]);
        assert_eq!(s["decision"], "match", "{who}: {s}");
        assert!(s.get("suppressed").is_none(), "{who}: {s}");
    }
    // Analysts see how members judged the object; members may not.
    let r = app.api("GET", "/api/v1/review-counts", "analyst", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.json()["objects"][0];
    assert_eq!((c["object"].as_str(), c["false_positive"].as_u64()), (Some(object.as_str()), Some(1)));
    assert_eq!(app.api("GET", "/api/v1/review-counts", "Wallet B", None).status, 403);
    // The object's page says so to analysts, and to nobody else.
    let page = sign_in(app, "analyst").get(&format!("/objects/{object}"));
    assert!(
        page.body.contains("id=\"judged-by-members\"") && page.body.contains("1</strong> false positive,"),
        "{}",
        page.body
    );
    assert!(!sign_in(app, "Recruiter C").get(&format!("/objects/{object}")).body.contains("judged-by-members"));
    // Judged again as confirmed, the suppression is lifted.
    assert_eq!(judge(app, "Wallet B", id, "confirmed", "").status, 200);
    assert_eq!(screen(app, "Wallet B", "cand-1c", &[EMAIL])["decision"], "match");
    let r = app.api("GET", &format!("/api/v1/review-counts?object={object}"), "analyst", None);
    let c = &r.json()["objects"][0];
    assert_eq!((c["false_positive"].as_u64(), c["confirmed"].as_u64()), (Some(0), Some(1)));
    // The audit log has the judgements' requests, and no applicant value anywhere.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let records = app.store.audit_log(&AuditQuery { limit: 500, ..Default::default() }).unwrap();
    assert!(records.iter().any(|r| r.path == format!("/api/v1/review/{id}") && r.method == "POST"));
    for rec in &records {
        assert!(!format!("{rec:?}").to_lowercase().contains("ops.farm"), "{rec:?}");
    }
}

#[test]
fn entries_expire_and_the_ref_can_be_kept_as_a_hash_only() {
    let app = spawn_app(Config {
        review_retention: std::time::Duration::from_millis(1),
        review_keeps_ref: false,
        ..Config::default()
    });
    world(&app);
    assert_eq!(screen(&app, "Wallet B", "cand-9", &[EMAIL])["decision"], "match");
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert!(queue(&app, "Wallet B", "all").is_empty(), "an expired entry is served");
    let app = spawn_app(Config { review_keeps_ref: false, ..Config::default() });
    world(&app);
    screen(&app, "Wallet B", "cand-9", &[EMAIL]);
    let e = &queue(&app, "Wallet B", "open")[0];
    assert!(e.get("ref").is_none(), "{e}");
    assert_eq!(e["ref_hash"].as_str().map(str::len), Some(32));
    assert!(!e.to_string().contains("cand-9"));
}

#[test]
fn the_review_page_lists_judges_and_counts() {
    let app = spawn_app(Config::default());
    let object = world(&app);
    let b = sign_in(&app, "Wallet B");
    // A screen from the page is queued, and the page says so.
    let r = b.post("/screen", &format!("csrf={}&ref=web-1&emails={}", b.csrf, EMAIL.replace('@', "%40")));
    assert!(r.body.contains("id=\"queued\""), "{}", r.body);
    let page = b.get("/review");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("web-1") && page.body.contains(&object), "{}", page.body);
    assert!(page.body.contains("aria-label=\"1 waiting\""), "the header counts it: {}", page.body);
    let id = queue(&app, "Wallet B", "open")[0]["id"].as_i64().unwrap();
    // Judging takes the session's CSRF token.
    let r = b.post(&format!("/review/{id}"), "csrf=wrong&disposition=false_positive");
    assert_eq!(r.status, 403, "{}", r.body);
    let r =
        b.post(&format!("/review/{id}"), &format!("csrf={}&disposition=false_positive&comment=known+employee", b.csrf));
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.get("/review?status=judged");
    assert!(page.body.contains("false positive") && page.body.contains("known employee"), "{}", page.body);
    // The next screen on the page shows the suppressed tie.
    let r = b.post("/screen", &format!("csrf={}&emails={}", b.csrf, EMAIL.replace('@', "%40")));
    assert!(r.body.contains("id=\"suppressed\"") && r.body.contains("judged a false positive"), "{}", r.body);
    // Another member's page shows none of it; an analyst's shows the counts.
    let c = sign_in(&app, "Recruiter C");
    let page = c.get("/review?status=all");
    assert!(!page.body.contains("web-1") && !page.body.contains("judgement-counts"), "{}", page.body);
    assert_eq!(c.post(&format!("/review/{id}"), &format!("csrf={}&disposition=confirmed", c.csrf)).status, 404);
    let analyst = sign_in(&app, "analyst");
    let page = analyst.get("/review");
    assert!(page.body.contains("judgement-counts") && page.body.contains(&object), "{}", page.body);
    // Confirmed, the entry offers a sighting form; sharing it with a new persona from the
    // page lands on the actor's sightings.
    let r = b.post(&format!("/review/{id}"), &format!("csrf={}&disposition=confirmed", b.csrf));
    assert_eq!(r.status, 303);
    let page = b.get("/review?status=judged");
    assert!(page.body.contains(&format!("id=\"share-{id}\"")), "{}", page.body);
    let r = b.post(
        &format!("/review/{id}/sighting"),
        &format!(
            "csrf={}&tlp=amber&named=on&description=Interviewed+by+video&persona_name=Liam+Carter&persona_emails=l.carter.codes%40example.net",
            b.csrf
        ),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap().to_owned();
    assert!(to.starts_with("/actors/threat-actor--") && to.ends_with("#sightings"), "{to}");
    let page = c.get(to.split('#').next().unwrap());
    assert!(page.body.contains("Interviewed by video") && page.body.contains("Liam Carter"), "{}", page.body);
}

#[test]
fn a_confirmed_hit_is_shared_as_a_sighting_with_a_new_persona_and_others_see_the_corroboration() {
    a_confirmed_hit_is_shared_as_a_sighting_with_a_new_persona_and_others_see_the_corroboration_on(&spawn_app(
        Config::default(),
    ));
}

#[test]
fn a_confirmed_hit_is_shared_as_a_sighting_with_a_new_persona_and_others_see_the_corroboration_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        a_confirmed_hit_is_shared_as_a_sighting_with_a_new_persona_and_others_see_the_corroboration_on(&app);
    }
}

fn a_confirmed_hit_is_shared_as_a_sighting_with_a_new_persona_and_others_see_the_corroboration_on(app: &App) {
    world(app);
    let actor = "threat-actor--00000000-0000-4000-8000-000000000001";
    assert_eq!(screen(app, "Wallet B", "cand-5", &[EMAIL])["decision"], "match");
    let id = queue(app, "Wallet B", "open")[0]["id"].as_i64().unwrap();
    let share = json!({"tlp": "green", "description": "Applied for a Solidity role",
        "persona": {"name": "Daniel Brooks", "emails": ["d.brooks.dev@example.net"], "phones": ["+1 312 555 0199"],
                    "accounts": ["github:dbrooks-dev"], "region": "US"}});
    let path = format!("/api/v1/review/{id}/sighting");
    // Only a confirmed hit is shared; not another member's entry.
    let r = app.api("POST", &path, "Wallet B", Some(&share.to_string()));
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(judge(app, "Wallet B", id, "confirmed", "").status, 200);
    assert_eq!(app.api("POST", &path, "Recruiter C", Some(&share.to_string())).status, 404);
    // A bad identifier names its field, and nothing is stored.
    let before = app.store.counts().unwrap();
    let bad = json!({"persona": {"name": "X", "emails": ["not-an-email"]}});
    let r = app.api("POST", &path, "Wallet B", Some(&bad.to_string()));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("persona.emails"), "{}", r.body);
    let r = app.api("POST", &path, "Wallet B", Some(&json!({"persona": {"name": "X", "names": ["Y"]}}).to_string()));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(app.store.counts().unwrap(), before);
    let r = app.api("POST", &path, "Wallet B", Some(&share.to_string()));
    assert_eq!(r.status, 201, "{}", r.body);
    let shared = r.json();
    assert_eq!(shared["sighting_of"], actor);
    let sighting = shared["sighting"].as_str().unwrap().to_owned();
    // Anonymous: the ISAC stands where the sighting happened, for everyone but Wallet B.
    let isac = app.store.isac().unwrap().identity_id;
    let r = app.get(&app.col(&format!("objects/{sighting}/")), "Recruiter C");
    assert_eq!(r.status, 200, "{}", r.body);
    let o = &r.json()["objects"][0];
    assert_eq!(o["where_sighted_refs"], json!([isac]));
    assert_eq!(o["created_by_ref"], json!(isac), "an anonymous sighting names nobody");
    assert!(!r.body.contains(&app.orgs["Wallet B"].identity_id));
    // The new persona's identifiers are screenable by every member at once.
    let s = screen(app, "Recruiter C", "cand-6", &["d.brooks.dev@example.net"]);
    assert_eq!(s["decision"], "match", "{s}");
    assert_eq!(s["matches"][0]["actor"], actor);
    // The actor's page shows the corroboration: one organization besides the reporter.
    let c = sign_in(app, "Recruiter C");
    let page = c.get(&format!("/actors/{actor}"));
    assert!(
        page.body.contains("id=\"corroboration\"") && page.body.contains("Sighted by 1 organization"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Applied for a Solidity role") && page.body.contains("an ISAC member"), "{}", page.body);
    // A RED sighting is seen by its maker only: Recruiter C's page does not move.
    let before_page = c.get(&format!("/actors/{actor}")).body.replace(&c.csrf, "");
    assert_eq!(screen(app, "Wallet B", "cand-7", &[EMAIL])["decision"], "match");
    let id2 = queue(app, "Wallet B", "open")[0]["id"].as_i64().unwrap();
    judge(app, "Wallet B", id2, "confirmed", "");
    let r =
        app.api("POST", &format!("/api/v1/review/{id2}/sighting"), "Wallet B", Some(r#"{"tlp":"red","named":true}"#));
    assert_eq!(r.status, 201, "{}", r.body);
    let after_page = c.get(&format!("/actors/{actor}")).body.replace(&c.csrf, "");
    assert_eq!(before_page, after_page, "a RED sighting moved another member's page");
    let b = sign_in(app, "Wallet B");
    let page = b.get(&format!("/actors/{actor}"));
    assert!(page.body.contains("Wallet B") && page.body.contains("id=\"corroboration\""), "{}", page.body);
}

#[test]
fn a_restricted_hit_can_ask_its_owner_who_grants_or_declines_without_seeing_the_applicant() {
    a_restricted_hit_can_ask_its_owner_who_grants_or_declines_without_seeing_the_applicant_on(&spawn_app(
        Config::default(),
    ));
}

#[test]
fn a_restricted_hit_can_ask_its_owner_who_grants_or_declines_without_seeing_the_applicant_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        a_restricted_hit_can_ask_its_owner_who_grants_or_declines_without_seeing_the_applicant_on(&app);
    }
}

fn a_restricted_hit_can_ask_its_owner_who_grants_or_declines_without_seeing_the_applicant_on(app: &App) {
    // Exchange A holds a RED actor, persona and email, shared with nobody.
    let red = email("red.farm@example.org", Tlp::Red);
    let red_id = red["id"].as_str().unwrap().to_owned();
    app.submit("Exchange A", false, &actor_with(7, &red, Tlp::Red));
    let actor = "threat-actor--00000000-0000-4000-8000-000000000007";
    let s = screen(app, "Wallet B", "cand-r1", &["red.farm@example.org"]);
    assert_eq!(s["decision"], "review", "{s}");
    assert_eq!(s["matches"], json!([{"restricted": true, "contact": "the ISAC analysts"}]));
    let entry = &queue(app, "Wallet B", "open")[0];
    let id = entry["id"].as_i64().unwrap();
    assert!(!entry.to_string().contains(&red_id), "the queue names a hidden object: {entry}");
    // Nobody but the screener may ask; an entry without a restricted hit has nothing to ask.
    let ask = json!({"named": false, "note": "Our applicant; may we see?"}).to_string();
    let path = format!("/api/v1/review/{id}/access-request");
    assert_eq!(app.api("POST", &path, "Recruiter C", Some(&ask)).status, 404);
    let r = app.api("POST", &path, "Wallet B", Some(&ask));
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(!r.body.contains(&red_id) && !r.body.contains("Exchange A"), "the requester learns the owner: {}", r.body);
    let request = r.json()["requests"][0]["id"].as_i64().unwrap();
    assert_eq!(r.json()["requests"][0]["status"], "pending");
    // Asking again is the same request.
    let again = app.api("POST", &path, "Wallet B", Some(&ask)).json();
    assert_eq!(again["requests"].as_array().map(Vec::len), Some(1));
    // The owner sees which of its objects was hit, when, by "an ISAC member" — no applicant data.
    let list = app.api("GET", "/api/v1/access-requests", "Exchange A", None).json();
    let incoming = &list["incoming"][0];
    assert_eq!(incoming["requester"], "an ISAC member");
    assert!(incoming["requested_by"].is_null());
    let objects: Vec<&str> = incoming["objects"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(objects.contains(&red_id.as_str()) && objects.contains(&actor), "{objects:?}");
    assert!(!list.to_string().contains("red.farm") && !list.to_string().contains("cand-r1"), "{list}");
    // Recruiter C sees nothing of it; the analysts see everything, the requester named.
    let c = app.api("GET", "/api/v1/access-requests", "Recruiter C", None).json();
    assert_eq!((c["incoming"].as_array().map(Vec::len), c["outgoing"].as_array().map(Vec::len)), (Some(0), Some(0)));
    assert_eq!(app.api("GET", "/api/v1/access-requests?side=all", "Recruiter C", None).status, 403);
    let all = app.api("GET", "/api/v1/access-requests?side=all", "analyst", None).json();
    assert_eq!(
        (all["all"][0]["requester"].as_str(), all["all"][0]["owner"].as_str()),
        (Some("Wallet B"), Some("Exchange A"))
    );
    // Only the owner answers, once.
    let decide = |who: &str, d: &str| {
        app.api(
            "POST",
            &format!("/api/v1/access-requests/{request}"),
            who,
            Some(&json!({"decision": d, "reply": "granted for this case"}).to_string()),
        )
    };
    assert_eq!(decide("Wallet B", "grant").status, 404, "the requester granted itself access");
    assert_eq!(decide("Recruiter C", "grant").status, 404);
    let r = decide("Exchange A", "grant");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "granted");
    assert_eq!(decide("Exchange A", "decline").status, 400, "answered twice");
    // Wallet B now sees the hit, at once; Recruiter C still gets a restricted hit.
    let s = screen(app, "Wallet B", "cand-r2", &["red.farm@example.org"]);
    assert_eq!(s["decision"], "match", "{s}");
    assert_eq!(s["matches"][0]["actor"], actor);
    let out = app.api("GET", "/api/v1/access-requests", "Wallet B", None).json();
    assert_eq!(out["outgoing"][0]["status"], "granted");
    assert_eq!(out["outgoing"][0]["reply"], "granted for this case");
    assert!(!out.to_string().contains(&red_id));
    let s = screen(app, "Recruiter C", "cand-r3", &["red.farm@example.org"]);
    assert_eq!(s["decision"], "review");
    assert!(!s.to_string().contains(&red_id));
    assert_eq!(
        app.get(&app.col(&format!("objects/{red_id}/")), "Wallet B").status,
        200,
        "TAXII serves the granted object"
    );
    assert_eq!(app.get(&app.col(&format!("objects/{red_id}/")), "Recruiter C").status, 404);
    // A declined request changes nothing: Recruiter C asks, Exchange A declines.
    screen(app, "Recruiter C", "cand-r4", &["red.farm@example.org"]);
    let cid = queue(app, "Recruiter C", "open")[0]["id"].as_i64().unwrap();
    let r = app.api("POST", &format!("/api/v1/review/{cid}/access-request"), "Recruiter C", Some(r#"{"named":true}"#));
    let creq = r.json()["requests"][0]["id"].as_i64().unwrap();
    let inc = app.api("GET", "/api/v1/access-requests", "Exchange A", None).json();
    assert!(inc["incoming"].as_array().unwrap().iter().any(|x| x["requester"] == "Recruiter C"), "{inc}");
    let r =
        app.api("POST", &format!("/api/v1/access-requests/{creq}"), "Exchange A", Some(r#"{"decision":"decline"}"#));
    assert_eq!(r.json()["status"], "declined");
    assert_eq!(screen(app, "Recruiter C", "cand-r5", &["red.farm@example.org"])["decision"], "review");
    // Every step is in the audit log.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let records = app.store.audit_log(&AuditQuery { limit: 500, ..Default::default() }).unwrap();
    for p in [format!("/api/v1/review/{id}/access-request"), format!("/api/v1/access-requests/{request}")] {
        assert!(records.iter().any(|r| r.path == p && r.method == "POST"), "{p} not audited");
    }
}

#[test]
fn access_requests_on_the_review_page() {
    let app = spawn_app(Config::default());
    let red = email("red.page@example.org", Tlp::Red);
    let red_id = red["id"].as_str().unwrap().to_owned();
    app.submit("Exchange A", false, &actor_with(8, &red, Tlp::Red));
    let b = sign_in(&app, "Wallet B");
    b.post("/screen", &format!("csrf={}&ref=web-r&emails=red.page%40example.org", b.csrf));
    let id = queue(&app, "Wallet B", "open")[0]["id"].as_i64().unwrap();
    let page = b.get("/review");
    assert!(page.body.contains(&format!("id=\"ask-{id}\"")), "{}", page.body);
    let r = b.post(&format!("/review/{id}/access"), &format!("csrf={}&note=backend+role", b.csrf));
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.get("/review?status=all");
    assert!(page.body.contains("access-pending") && !page.body.contains(&red_id), "{}", page.body);
    let a = sign_in(&app, "Exchange A");
    let page = a.get("/review");
    assert!(
        page.body.contains("an ISAC member") && page.body.contains("backend role") && page.body.contains(&red_id),
        "{}",
        page.body
    );
    let request =
        app.api("GET", "/api/v1/access-requests", "Exchange A", None).json()["incoming"][0]["id"].as_i64().unwrap();
    let r = a.post(&format!("/access-requests/{request}"), &format!("csrf={}&decision=grant&reply=ok", a.csrf));
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.get("/review?status=all");
    assert!(page.body.contains("access-granted"), "{}", page.body);
    let analyst = sign_in(&app, "analyst");
    assert!(analyst.get("/review").body.contains("id=\"all-access\""));
}

fn inbox(app: &App, who: &str) -> Vec<Value> {
    let r = app.api("GET", "/api/v1/notifications", who, None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["notifications"].as_array().cloned().unwrap_or_default()
}

/// Waits for the background follower to announce what `who` expects.
fn wait_for(app: &App, who: &str, kind: &str) -> Value {
    for _ in 0..100 {
        if let Some(n) = inbox(app, who).into_iter().find(|n| n["kind"] == kind) {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{who} was never told of a {kind}: {:?}", inbox(app, who));
}

#[test]
fn each_organization_is_told_what_concerns_it_and_nothing_it_may_not_see() {
    each_organization_is_told_what_concerns_it_and_nothing_it_may_not_see_on(&spawn_app(Config::default()));
}

#[test]
fn each_organization_is_told_what_concerns_it_and_nothing_it_may_not_see_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        each_organization_is_told_what_concerns_it_and_nothing_it_may_not_see_on(&app);
    }
}

fn each_organization_is_told_what_concerns_it_and_nothing_it_may_not_see_on(app: &App) {
    world(app); // Exchange A's GREEN actor 1 with EMAIL.
    let red = email("red.inbox@example.org", Tlp::Red);
    app.submit("Exchange A", false, &actor_with(9, &red, Tlp::Red));
    // A screen in Wallet B's queue is in Wallet B's inbox, not anyone else's.
    screen(app, "Wallet B", "cand-n1", &[EMAIL]);
    let n = wait_for(app, "Wallet B", "review");
    assert!(n["title"].as_str().unwrap().contains("cand-n1: match"), "{n}");
    assert!(!n.to_string().contains("ops.farm"), "a notification holds the applicant's value: {n}");
    for other in ["Exchange A", "Recruiter C"] {
        assert!(inbox(app, other).iter().all(|n| n["kind"] != "review"), "{other}");
    }
    // An access request reaches the owner, anonymous; the answer reaches the requester.
    screen(app, "Wallet B", "cand-n2", &["red.inbox@example.org"]);
    let entry = queue(app, "Wallet B", "open")[0]["id"].as_i64().unwrap();
    app.api("POST", &format!("/api/v1/review/{entry}/access-request"), "Wallet B", Some("{}"));
    let n = wait_for(app, "Exchange A", "access_request");
    assert!(n["title"].as_str().unwrap().starts_with("an ISAC member asks to see"), "{n}");
    assert!(!n.to_string().contains("Wallet B") && !n.to_string().contains("red.inbox"), "{n}");
    let req = n["body"]["id"].as_i64().unwrap();
    app.api("POST", &format!("/api/v1/access-requests/{req}"), "Exchange A", Some(r#"{"decision":"decline"}"#));
    let n = wait_for(app, "Wallet B", "access_declined");
    assert!(!n.to_string().contains("Exchange A"), "the requester learns the owner: {n}");
    // Sightings by any write path reach the reporter when it may see them: Recruiter C's
    // GREEN sighting of Exchange A's actor is announced; a RED one is not.
    let t = "2026-12-01T00:00:00.000Z";
    let sighting = |k: u32, tlp: Tlp| {
        json!({"type": "sighting", "spec_version": "2.1", "id": format!("sighting--00000000-0000-4000-8000-{k:012}"),
            "created": t, "modified": t, "sighting_of_ref": "threat-actor--00000000-0000-4000-8000-000000000001",
            "first_seen": t, "last_seen": t, "count": 1, "object_marking_refs": [tlp.marking_id()]})
    };
    app.submit("Recruiter C", false, &[sighting(901, Tlp::Red)]);
    app.submit("Recruiter C", true, &[sighting(902, Tlp::Green)]);
    let n = wait_for(app, "Exchange A", "sighting");
    assert_eq!(n["body"]["sighting"], "sighting--00000000-0000-4000-8000-000000000902");
    assert_eq!(n["body"]["by"], "Recruiter C");
    std::thread::sleep(std::time::Duration::from_millis(700));
    let sightings: Vec<Value> = inbox(app, "Exchange A").into_iter().filter(|n| n["kind"] == "sighting").collect();
    assert_eq!(sightings.len(), 1, "a RED sighting Exchange A may not see was announced: {sightings:?}");
    // Marked read, the count drops.
    let r = app.api("POST", "/api/v1/notifications/read", "Exchange A", Some("{}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.api("GET", "/api/v1/notifications", "Exchange A", None).json()["unread"], 0);
    // The page: the header counts, the inbox lists, "mark all read" clears.
    let b = sign_in(app, "Wallet B");
    let page = b.get("/inbox");
    assert!(
        page.body.contains("id=\"nav-inbox\"") && page.body.contains("unread\">") && page.body.contains("cand-n1"),
        "{}",
        page.body
    );
    assert_eq!(b.post("/inbox/read", &format!("csrf={}", b.csrf)).status, 303);
    assert_eq!(app.api("GET", "/api/v1/notifications", "Wallet B", None).json()["unread"], 0);
}

/// A local HTTP receiver: records each request (headers and body) and answers with the
/// status `status` holds at the time.
struct Receiver {
    url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
}

fn receiver(status: u16) -> Receiver {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let code = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(status));
    let (g, c) = (got.clone(), code.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            g.lock().unwrap().push((head, String::from_utf8_lossy(&body).into_owned()));
            let s = c.load(std::sync::atomic::Ordering::SeqCst);
            let mut w = stream;
            let _ = write!(w, "HTTP/1.1 {s} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    Receiver { url, got, status: code }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn webhooks_are_signed_retried_dead_lettered_and_sent_again() {
    let app = spawn_app(Config {
        webhook_allow_private: true,
        webhook_backoff: std::time::Duration::from_millis(50),
        webhook_attempts: 3,
        ..Config::default()
    });
    world(&app);
    let ok = receiver(200);
    let r = app.api(
        "POST",
        "/api/v1/webhooks",
        "Wallet B",
        Some(&json!({"url": ok.url, "events": ["review"]}).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    let slack = receiver(200);
    app.api("POST", "/api/v1/webhooks", "Wallet B", Some(&json!({"url": slack.url, "slack": true}).to_string()));
    let down = receiver(500);
    app.api("POST", "/api/v1/webhooks", "Wallet B", Some(&json!({"url": down.url}).to_string()));
    // Bad webhooks are refused.
    for bad in [
        json!({"url": "ftp://x/"}),
        json!({"url": "http://x/", "events": ["everything"]}),
        json!({"url": "http://x/", "as": 1}),
        json!({"url": "http://x/", "slack": "yes"}),
    ] {
        assert_eq!(app.api("POST", "/api/v1/webhooks", "Wallet B", Some(&bad.to_string())).status, 400, "{bad}");
    }
    // Another member sees none of them.
    let listed = app.api("GET", "/api/v1/webhooks", "Recruiter C", None).json();
    assert_eq!(listed["webhooks"].as_array().map(Vec::len), Some(0));
    assert!(!app.api("GET", "/api/v1/webhooks", "Wallet B", None).body.contains(&secret), "a listing shows the secret");
    // A flagged screen: the event goes out, signed.
    screen(&app, "Wallet B", "cand-w1", &[EMAIL]);
    let wait = |rx: &Receiver, n: usize| {
        for _ in 0..100 {
            if rx.got.lock().unwrap().len() >= n {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("{} got {} requests, not {n}", rx.url, rx.got.lock().unwrap().len());
    };
    wait(&ok, 1);
    let (head, body) = ok.got.lock().unwrap()[0].clone();
    let sig = header(&head, "x-dossier-signature").unwrap();
    let t = sig.split(',').next().unwrap().trim_start_matches("t=");
    let want = dossier_match::keyed::hmac_hex(secret.as_bytes(), format!("{t}.{body}").as_bytes(), 32);
    assert_eq!(sig, format!("t={t},v1={want}"), "the signature does not verify");
    assert_eq!(header(&head, "x-dossier-event"), Some("review"));
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["event"], "review");
    assert!(!body.contains("ops.farm"), "a webhook carries the applicant's value: {body}");
    wait(&slack, 1);
    let text: Value = serde_json::from_str(&slack.got.lock().unwrap()[0].1).unwrap();
    assert!(text["text"].as_str().unwrap().starts_with("dossier: "), "{text}");
    // The receiver that answers 500 is tried 3 times, then the delivery is dead.
    wait(&down, 3);
    let mut dead = Vec::new();
    for _ in 0..50 {
        dead = app.api("GET", "/api/v1/webhooks/deliveries?status=dead", "Wallet B", None).json()["deliveries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !dead.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["attempts"], 3);
    assert!(dead[0]["last_error"].as_str().unwrap().contains("500"), "{dead:?}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(down.got.lock().unwrap().len(), 3, "a dead delivery was tried again");
    // Fixed, and sent again from the dead-letter list (only by its organization).
    let id = dead[0]["id"].as_i64().unwrap();
    assert_eq!(app.api("POST", &format!("/api/v1/webhooks/deliveries/{id}/resend"), "Recruiter C", None).status, 404);
    down.status.store(200, std::sync::atomic::Ordering::SeqCst);
    let r = app.api("POST", &format!("/api/v1/webhooks/deliveries/{id}/resend"), "Wallet B", None);
    assert_eq!(r.status, 200, "{}", r.body);
    wait(&down, 4);
    for _ in 0..50 {
        let d = app.api("GET", "/api/v1/webhooks/deliveries?status=delivered", "Wallet B", None).json();
        if d["deliveries"].as_array().unwrap().iter().any(|x| x["id"] == id) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the re-sent delivery was not recorded as delivered");
}

#[test]
fn webhooks_on_the_inbox_page() {
    let app = spawn_app(Config::default());
    let b = sign_in(&app, "Wallet B");
    let r = b.post(
        "/inbox/webhooks",
        &format!(
            "csrf={}&url=https%3A%2F%2Fhooks.example.com%2Fdossier&events=review&events=sighting&slack=on",
            b.csrf
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"webhook-secret\""), "{}", r.body);
    let page = b.get("/inbox");
    assert!(
        page.body.contains("https://hooks.example.com/dossier") && page.body.contains("review, sighting"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("id=\"webhook-secret\""), "the secret is shown once only");
    // Every new page has a plain title.
    for path in ["/inbox", "/review", "/watchlist", "/screen"] {
        let page = b.get(path);
        let title = page.body.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap_or_default();
        assert!(!title.contains('<') && title.len() < 80, "{path}'s title: {title}");
    }
    let r = b.post("/inbox/webhooks", &format!("csrf={}&url=gopher%3A%2F%2Fx", b.csrf));
    assert_eq!(r.status, 400, "{}", r.body);
    let id = app.api("GET", "/api/v1/webhooks", "Wallet B", None).json()["webhooks"][0]["id"].as_i64().unwrap();
    let c = sign_in(&app, "Recruiter C");
    assert_eq!(c.post(&format!("/inbox/webhooks/{id}/delete"), &format!("csrf={}", c.csrf)).status, 404);
    assert_eq!(b.post(&format!("/inbox/webhooks/{id}/delete"), &format!("csrf={}", b.csrf)).status, 303);
    assert!(!b.get("/inbox").body.contains("<code>https://hooks.example.com/dossier</code>"));
}

/// A real SMTP server (aiosmtpd, `tests/python/smtp_sink.py`) that wants a password; each
/// message it receives comes out as a JSON line.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp_sink() -> SmtpSink {
    use std::io::BufRead;
    let mut child = std::process::Command::new(python())
        .arg(python_script("smtp_sink.py"))
        .args(["--auth", "dossier:s3cret"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap();
    let port = first.trim_start_matches("port ").parse().unwrap();
    SmtpSink { child, port, lines: rx }
}

#[test]
fn notifications_are_e_mailed_through_a_real_smtp_server_per_event() {
    let sink = smtp_sink();
    let app = spawn_app(Config {
        smtp: Some(dossier_server::webhooks::Smtp {
            host: "127.0.0.1".into(),
            port: sink.port,
            tls: dossier_server::webhooks::SmtpTls::None,
            credentials: Some(("dossier".into(), "s3cret".into())),
            from: "dossier@isac.example".into(),
        }),
        webhook_backoff: std::time::Duration::from_millis(50),
        ..Config::default()
    });
    world(&app);
    // Wallet B's security desk wants review events by e-mail; access answers are not asked for.
    let r = app.api(
        "POST",
        "/api/v1/webhooks",
        "Wallet B",
        Some(&json!({"url": "mailto:secdesk@wallet-b.example", "events": ["review"]}).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(app.api("POST", "/api/v1/webhooks", "Wallet B", Some(r#"{"url":"mailto:not-an-address"}"#)).status, 400);
    screen(&app, "Wallet B", "cand-m1", &[EMAIL]);
    let line = sink.lines.recv_timeout(std::time::Duration::from_secs(20)).expect("no e-mail arrived");
    let m: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(m["from"], "dossier@isac.example");
    assert_eq!(m["to"], json!(["secdesk@wallet-b.example"]));
    let data = m["data"].as_str().unwrap();
    assert!(data.contains("Subject: dossier: ") && data.contains("cand-m1"), "{data}");
    assert!(!data.contains("ops.farm"), "an e-mail carries the applicant's value: {data}");
    // Another event kind is not e-mailed.
    let red = email("red.mail@example.org", Tlp::Red);
    app.submit("Exchange A", false, &actor_with(11, &red, Tlp::Red));
    let screened = screen(&app, "Wallet B", "cand-m2", &["red.mail@example.org"]);
    assert_eq!(screened["decision"], "review");
    let line = sink.lines.recv_timeout(std::time::Duration::from_secs(20)).expect("the review e-mail");
    assert!(line.contains("cand-m2"), "{line}");
    let entry = queue(&app, "Wallet B", "open")[0]["id"].as_i64().unwrap();
    app.api("POST", &format!("/api/v1/review/{entry}/access-request"), "Wallet B", Some("{}"));
    let req = wait_for(&app, "Exchange A", "access_request")["body"]["id"].as_i64().unwrap();
    app.api("POST", &format!("/api/v1/access-requests/{req}"), "Exchange A", Some(r#"{"decision":"grant"}"#));
    wait_for(&app, "Wallet B", "access_granted");
    assert!(
        sink.lines.recv_timeout(std::time::Duration::from_millis(1500)).is_err(),
        "an event not asked for was e-mailed"
    );
}

#[test]
fn one_member_cannot_bury_an_owner_in_access_requests_or_a_batch_in_notifications() {
    let app = spawn_app(Config::default());
    let red = email("red.spam@example.org", Tlp::Red);
    app.submit("Exchange A", false, &actor_with(12, &red, Tlp::Red));
    // 50 requests may wait with one owner; the 51st is refused until some are answered.
    let mut last = 0;
    for i in 0..51 {
        screen(&app, "Wallet B", &format!("spam-{i}"), &["red.spam@example.org"]);
        let id = queue(&app, "Wallet B", "open")[0]["id"].as_i64().unwrap();
        last = app.api("POST", &format!("/api/v1/review/{id}/access-request"), "Wallet B", Some("{}")).status;
        if i < 50 {
            assert_eq!(last, 201, "request {i}");
        }
    }
    assert_eq!(last, 400, "the 51st waiting request was accepted");
    // A batch's flagged screens are one notification, not one each.
    let lines: String = (0..3)
        .map(|i| format!("{}\n", json!({"ref": format!("bulk-{i}"), "emails": ["red.spam@example.org"]})))
        .collect();
    let r = app.request(
        "POST",
        "/api/v1/screen/batch",
        Some("Recruiter C"),
        &[("Content-Type", "application/x-ndjson"), ("Accept", "application/x-ndjson")],
        Some(&lines),
    );
    assert_eq!(r.status, 200);
    let n: Vec<Value> = inbox(&app, "Recruiter C").into_iter().filter(|n| n["kind"] == "review").collect();
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(n[0]["title"].as_str().unwrap().starts_with("3 screens of"), "{}", n[0]);
}

/// Whether `text` holds the watched hire's phone number (+1 415 555 0188) in any form.
/// Not just "555": a token id or a timestamp holds those three digits now and then.
fn holds_the_hires_number(text: &str) -> bool {
    ["5550188", "555 0188", "555-0188", "555.0188"].iter().any(|form| text.contains(form))
}

#[test]
fn a_watched_subject_is_alerted_when_new_intelligence_meets_it_and_only_its_organization_is() {
    a_watched_subject_is_alerted_when_new_intelligence_meets_it_and_only_its_organization_is_on(&spawn_app(
        Config::default(),
    ));
}

#[test]
fn a_watched_subject_is_alerted_when_new_intelligence_meets_it_and_only_its_organization_is_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        a_watched_subject_is_alerted_when_new_intelligence_meets_it_and_only_its_organization_is_on(&app);
    }
}

fn a_watched_subject_is_alerted_when_new_intelligence_meets_it_and_only_its_organization_is_on(app: &App) {
    world(app); // other intelligence, unrelated to the subject
    // Wallet B hires someone and watches them: nothing is known of their values yet.
    let hire = json!({"ref": "emp-7", "emails": ["later.exposed@example.org"], "phones": ["+1 415 555 0188"],
                      "names": ["Jordan Lee"]});
    let r = app.api("POST", "/api/v1/watchlist", "Wallet B", Some(&hire.to_string()));
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["watched"][0].as_i64().unwrap();
    let listed = app.api("GET", "/api/v1/watchlist", "Wallet B", None).json();
    assert_eq!(listed["watched"][0]["ref"], "emp-7");
    assert_eq!(listed["watched"][0]["fields"]["emails"], 1);
    assert!(!listed.to_string().contains("later.exposed") && !holds_the_hires_number(&listed.to_string()), "{listed}");
    assert_eq!(
        app.api("GET", "/api/v1/watchlist", "Recruiter C", None).json()["watched"].as_array().map(Vec::len),
        Some(0)
    );
    // Nothing watchable, a bad line or a bad limit is refused, naming what was wrong.
    let r = app.api("POST", "/api/v1/watchlist", "Wallet B", Some(r#"{"ref": "empty"}"#));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("no value that can be watched"), "{}", r.body);
    let lines =
        format!("{}\n{{\"ref\": \"x\", \"colour\": 1}}\n", json!({"ref": "ok-1", "emails": ["a.b@example.org"]}));
    let r = app.request(
        "POST",
        "/api/v1/watchlist",
        Some("Wallet B"),
        &[("Content-Type", "application/x-ndjson"), ("Accept", "application/json")],
        Some(&lines),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("line 2"), "{}", r.body);
    assert_eq!(app.api("GET", "/api/v1/watchlist?limit=abc", "Wallet B", None).status, 400);
    let still = app.api("GET", "/api/v1/watchlist", "Wallet B", None).json();
    assert_eq!(still["watched"].as_array().map(Vec::len), Some(1), "a refused request stored something: {still}");
    // The kept subject holds no value (only keyed hashes).
    let kept = app.store.watched(app.orgs["Wallet B"].id, i64::MAX - 1, 10);
    assert!(kept.is_ok());
    // A RED actor with that email, which Wallet B may not see: a restricted alert only.
    let red = email("later.exposed@example.org", Tlp::Red);
    app.submit("Exchange A", false, &actor_with(20, &red, Tlp::Red));
    let n = wait_for(app, "Wallet B", "monitoring");
    assert!(n["title"].as_str().unwrap().contains("emp-7") && n["title"].as_str().unwrap().ends_with("review"), "{n}");
    assert_eq!(n["body"]["result"]["matches"], json!([{"restricted": true, "contact": "the ISAC analysts"}]), "{n}");
    assert!(!n.to_string().contains(red["id"].as_str().unwrap()), "a hidden object in an alert: {n}");
    // Another member's identical GREEN intelligence: a match, explained, with the actor.
    let green = json!({"type": "phone-number", "spec_version": "2.1", "value": "+14155550188",
                       "object_marking_refs": [Tlp::Green.marking_id()]});
    let mut green = green;
    let pid = dossier_stix::id::deterministic_sco_id("phone-number", green.as_object().unwrap()).unwrap();
    green["id"] = json!(pid.as_str());
    app.submit("Recruiter C", false, &actor_with(21, &green, Tlp::Green));
    let mut alerts = Vec::new();
    for _ in 0..100 {
        alerts = inbox(app, "Wallet B").into_iter().filter(|n| n["kind"] == "monitoring").collect();
        if alerts.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let m = &alerts[0];
    assert_eq!(m["body"]["result"]["decision"], "match", "{m}");
    assert_eq!(m["body"]["result"]["matches"][0]["actor"], "threat-actor--00000000-0000-4000-8000-000000000021");
    assert!(!holds_the_hires_number(&m.to_string()), "an alert holds the subject's value: {m}");
    // Only Wallet B is told; nothing new, nothing again.
    for other in ["Exchange A", "Recruiter C", "analyst"] {
        assert!(inbox(app, other).iter().all(|n| n["kind"] != "monitoring"), "{other} was alerted");
    }
    app.submit("Recruiter C", false, &actor_with(21, &green, Tlp::Green));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(inbox(app, "Wallet B").iter().filter(|n| n["kind"] == "monitoring").count(), 2);
    // Removed, it is watched no more (and only its organization may remove it).
    assert_eq!(app.api("DELETE", &format!("/api/v1/watchlist/{id}"), "Recruiter C", None).status, 404);
    assert_eq!(app.api("DELETE", &format!("/api/v1/watchlist/{id}"), "Wallet B", None).status, 204);
    assert_eq!(
        app.api("GET", "/api/v1/watchlist", "Wallet B", None).json()["watched"].as_array().map(Vec::len),
        Some(0)
    );
}

#[test]
fn watching_from_the_screening_page_and_the_watchlist() {
    let app = spawn_app(Config::default());
    let b = sign_in(&app, "Wallet B");
    let r = b.post("/screen", &format!("csrf={}&ref=emp-9&emails=quiet.hire%40example.org&watch=on", b.csrf));
    assert!(r.body.contains("id=\"watched\""), "{}", r.body);
    let page = b.get("/watchlist");
    assert!(
        page.body.contains("emp-9") && page.body.contains("emails 1") && !page.body.contains("quiet.hire"),
        "{}",
        page.body
    );
    let id = app.api("GET", "/api/v1/watchlist", "Wallet B", None).json()["watched"][0]["id"].as_i64().unwrap();
    let c = sign_in(&app, "Recruiter C");
    assert!(!c.get("/watchlist").body.contains("emp-9"));
    assert_eq!(c.post(&format!("/watchlist/{id}/remove"), &format!("csrf={}", c.csrf)).status, 404);
    assert_eq!(b.post(&format!("/watchlist/{id}/remove"), &format!("csrf={}", b.csrf)).status, 303);
    assert!(!b.get("/watchlist").body.contains("emp-9"));
}
