//! The review queue over HTTP, as members and as a hostile member: every screen that ends
//! in match or review enters the screening organization's queue (API, batch, page), without
//! the applicant's values; a judgement is that organization's alone; a false positive
//! suppresses its ties in that organization's later screens and nobody else's; analysts see
//! the judgements per object; entries expire.

mod common;

use common::*;
use dossier_server::Config;
use dossier_stix::Tlp;
use dossier_store::{AuditQuery, ObjectStore};
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
    let app = spawn_app(Config::default());
    let object = world(&app);
    // A clear screen is not queued; a match is.
    assert_eq!(screen(&app, "Wallet B", "cand-0", &["someone.else@example.org"])["decision"], "clear");
    assert!(queue(&app, "Wallet B", "all").is_empty());
    assert_eq!(screen(&app, "Wallet B", "cand-17", &[" OPS.Farm@example.org"])["decision"], "match");
    let entries = queue(&app, "Wallet B", "open");
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
        assert!(queue(&app, other, "all").is_empty(), "{other} sees Wallet B's queue");
        assert_eq!(app.api("GET", &format!("/api/v1/review/{id}"), other, None).status, 404);
        assert_eq!(judge(&app, other, id, "false_positive", "").status, 404, "{other} judged Wallet B's entry");
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
    let entries = queue(&app, "Wallet B", "open");
    assert_eq!(entries.iter().map(|e| e["ref"].as_str().unwrap()).collect::<Vec<_>>(), ["b-1", "cand-17"]);
    assert_eq!(entries[0]["source"], "batch");
    // Bad judgements are refused and change nothing.
    assert_eq!(judge(&app, "Wallet B", id, "maybe", "").status, 400);
    let long = "x".repeat(5000);
    assert_eq!(judge(&app, "Wallet B", id, "unsure", &long).status, 400);
    let r = app.api("POST", &format!("/api/v1/review/{id}"), "Wallet B", Some(r#"{"disposition":"unsure","by":"x"}"#));
    assert_eq!(r.status, 400, "unknown fields are an error");
    assert_eq!(queue(&app, "Wallet B", "open").len(), 2);
}

#[test]
fn a_false_positive_suppresses_the_tie_for_the_judge_only_and_analysts_see_the_counts() {
    let app = spawn_app(Config::default());
    let object = world(&app);
    for who in ["Wallet B", "Recruiter C"] {
        assert_eq!(screen(&app, who, "cand-1", &[EMAIL])["decision"], "match");
    }
    let id = queue(&app, "Wallet B", "open")[0]["id"].as_i64().unwrap();
    let r = judge(&app, "Wallet B", id, "false_positive", "our employee since 2019");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["disposition"], "false_positive");
    assert!(queue(&app, "Wallet B", "open").is_empty());
    assert_eq!(queue(&app, "Wallet B", "judged").len(), 1);
    // Wallet B's next screen of that value leaves the tie out, and says why.
    let again = screen(&app, "Wallet B", "cand-1b", &[EMAIL]);
    assert_eq!(again["decision"], "clear", "{again}");
    assert_eq!(again["suppressed"][0]["object"], json!(object));
    let note = again["suppressed"][0]["note"].as_str().unwrap();
    assert!(note.starts_with("suppressed: judged a false positive by"), "{note}");
    // Nobody else's screens change: Recruiter C, Exchange A, the analysts still match.
    for who in ["Recruiter C", "Exchange A", "analyst"] {
        let s = screen(&app, who, "cand-2", &[EMAIL]);
        assert_eq!(s["decision"], "match", "{who}: {s}");
        assert!(s.get("suppressed").is_none(), "{who}: {s}");
    }
    // Analysts see how members judged the object; members may not.
    let r = app.api("GET", "/api/v1/review-counts", "analyst", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.json()["objects"][0];
    assert_eq!((c["object"].as_str(), c["false_positive"].as_u64()), (Some(object.as_str()), Some(1)));
    assert_eq!(app.api("GET", "/api/v1/review-counts", "Wallet B", None).status, 403);
    // Judged again as confirmed, the suppression is lifted.
    assert_eq!(judge(&app, "Wallet B", id, "confirmed", "").status, 200);
    assert_eq!(screen(&app, "Wallet B", "cand-1c", &[EMAIL])["decision"], "match");
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
}
