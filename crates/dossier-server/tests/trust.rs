//! The write side between members, tried as a hostile member would: for every write path,
//! what member B can do to member A's data, and to what member C sees. Three member
//! organizations (A, B, C) and an ISAC analyst, black-box over HTTP against a real server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

mod common;

use common::*;
use dossier_server::Config;
use dossier_stix::Tlp;
use serde_json::{Value, json};

const A: &str = "Exchange A";
const B: &str = "Wallet B";
const C: &str = "Recruiter C";
const EVERYONE: [&str; 4] = [A, B, C, "analyst"];

fn post(app: &App, who: &str, objects: &[Value]) -> Response {
    let body = json!({ "objects": objects }).to_string();
    app.request("POST", &app.col("objects/"), Some(who), &[("Content-Type", "application/taxii+json")], Some(&body))
}

fn screen(app: &App, who: &str, request: Value) -> Value {
    let r = app.request(
        "POST",
        "/api/v1/screen",
        Some(who),
        &[("Content-Type", "application/json"), ("Accept", "application/json")],
        Some(&request.to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn actor(n: u32, name: &str, modified: &str, tlp: Tlp) -> Value {
    json!({"type": "threat-actor", "spec_version": "2.1", "id": format!("threat-actor--00000000-0000-4000-8000-{n:012}"),
           "created": "2025-01-01T00:00:00.000Z", "modified": modified, "name": name,
           "object_marking_refs": [tlp.marking_id()]})
}

fn object_name(app: &App, id: &str, who: &str) -> Option<String> {
    let r = app.get(&app.col(&format!("objects/{id}/")), who);
    (r.status == 200).then(|| r.json()["objects"][0]["name"].as_str().unwrap_or_default().to_owned())
}

#[test]
fn a_member_cannot_add_a_version_to_another_members_object() {
    a_member_cannot_add_a_version_to_another_members_object_on(&spawn_app(Config::default()));
}

#[test]
fn a_member_cannot_add_a_version_to_another_members_object_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        a_member_cannot_add_a_version_to_another_members_object_on(&app);
    }
}

fn a_member_cannot_add_a_version_to_another_members_object_on(app: &App) {
    let mine = actor(1, "Famous Chollima cell 3", "2025-01-01T00:00:00.000Z", Tlp::Green);
    assert_eq!(post(app, A, std::slice::from_ref(&mine)).status, 202);
    let id = mine["id"].as_str().unwrap();

    // B posts a newer version of A's actor: refused as a whole, with the rule and what to do.
    let forged = actor(1, "nothing to see here", "2026-06-01T00:00:00.000Z", Tlp::Green);
    let other = actor(2, "B's own actor", "2026-06-01T00:00:00.000Z", Tlp::Green);
    let r = post(app, B, &[other.clone(), forged.clone()]);
    assert_eq!(r.status, 422, "{}", r.body);
    let body = r.json();
    assert_eq!(body["details"][0]["id"], json!(id), "{}", r.body);
    assert_eq!(body["details"][0]["index"], 1);
    let reason = body["details"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("only its creator or ISAC analysts") && reason.contains("derived-from"), "{reason}");
    // An older version (history) is a version too.
    let older = actor(1, "rewritten history", "2024-06-01T00:00:00.000Z", Tlp::Green);
    assert_eq!(post(app, B, &[older]).status, 422);
    // Nothing of the refused request was stored, and everyone still reads A's text.
    assert_eq!(app.get(&app.col(&format!("objects/{}/", other["id"].as_str().unwrap())), B).status, 404);
    for who in EVERYONE {
        assert_eq!(object_name(app, id, who).as_deref(), Some("Famous Chollima cell 3"), "{who}");
        let versions = app.get(&app.col(&format!("objects/{id}/versions/")), who).json();
        assert_eq!(versions["versions"].as_array().unwrap().len(), 1, "{who}");
    }

    // The creator may version its own object.
    let update = actor(1, "Famous Chollima cell 3 (renamed)", "2026-01-01T00:00:00.000Z", Tlp::Green);
    assert_eq!(post(app, A, &[update]).status, 202);
    assert_eq!(object_name(app, id, C).as_deref(), Some("Famous Chollima cell 3 (renamed)"));
    // Resubmitting the identical version is harmless, and B's own objects are fine.
    assert_eq!(post(app, B, &[other]).status, 202);
}

#[test]
fn a_curated_version_keeps_the_creators_anonymity_and_audience() {
    let app = spawn_app(Config::default());
    let isac_identity = app.orgs["analyst"].identity_id.clone();
    let a_identity = app.orgs[A].identity_id.clone();
    let mut original = actor(1, "cell 7", "2025-01-01T00:00:00.000Z", Tlp::Red);
    original["created_by_ref"] = json!(a_identity);
    original["x_dossier_share_with_refs"] = json!([app.orgs[C].identity_id]);
    assert_eq!(post(&app, A, std::slice::from_ref(&original)).status, 202);
    let id = original["id"].as_str().unwrap();

    // The analyst reads the object (sees the real submitter), edits it and posts it back.
    let r = app.get(&app.col(&format!("objects/{id}/")), "analyst");
    let mut curated = r.json()["objects"][0].clone();
    assert_eq!(curated["created_by_ref"], json!(a_identity));
    curated["name"] = json!("cell 7 (merged with cell 9)");
    curated["modified"] = json!("2026-02-01T00:00:00.000Z");
    curated["confidence"] = json!(85);
    let r = post(&app, "analyst", &[curated]);
    assert_eq!(r.status, 202, "{}", r.body);

    // Who may see it did not change: A, the recipient C and ISAC staff; not B.
    for (who, sees) in [(A, true), (B, false), (C, true), ("analyst", true)] {
        let r = app.get(&app.col(&format!("objects/{id}/")), who);
        assert_eq!(r.status == 200, sees, "{who}: {}", r.body);
        if !sees {
            continue;
        }
        let o = &r.json()["objects"][0];
        assert_eq!(o["name"], "cell 7 (merged with cell 9)", "{who}");
        // The anonymous creator stays anonymous to other members, as before curation.
        let shown = if who == C { &isac_identity } else { &a_identity };
        assert_eq!(o["created_by_ref"], json!(shown), "{who}");
        assert!(!r.body.contains(&a_identity) || who != C, "{who} learned the submitter");
    }
}

#[test]
fn delete_withdraws_only_what_the_caller_owns_whatever_the_filters() {
    delete_withdraws_only_what_the_caller_owns_whatever_the_filters_on(&spawn_app(Config::default()));
}

#[test]
fn delete_withdraws_only_what_the_caller_owns_whatever_the_filters_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        delete_withdraws_only_what_the_caller_owns_whatever_the_filters_on(&app);
    }
}

fn delete_withdraws_only_what_the_caller_owns_whatever_the_filters_on(app: &App) {
    let v1 = actor(1, "A's actor", "2025-01-01T00:00:00.000Z", Tlp::Red);
    let v2 = actor(1, "A's actor v2", "2025-02-01T00:00:00.000Z", Tlp::Red);
    assert_eq!(post(app, A, &[v1, v2]).status, 202);
    let id = "threat-actor--00000000-0000-4000-8000-000000000001";
    // B cannot add a version, so it tries the filters: before, the ownership check looked
    // at what added_after left (B's own version) and the removal took every version.
    let before = "2000-01-01T00:00:00.000Z";
    for query in ["", "?match[version]=all", &format!("?added_after={before}"), "?match[version]=first"] {
        let r = app.request("DELETE", &app.col(&format!("objects/{id}/{query}")), Some(B), &[], None);
        assert_eq!(r.status, 404, "{query}: a RED object B may not see answers like a missing one: {}", r.body);
    }
    // An object B may see but does not own: 403, nothing removed.
    let green = actor(2, "A's green actor", "2025-01-01T00:00:00.000Z", Tlp::Green);
    assert_eq!(post(app, A, &[green]).status, 202);
    let gid = "threat-actor--00000000-0000-4000-8000-000000000002";
    for query in ["", &format!("?added_after={before}"), "?match[version]=last"] {
        let r = app.request("DELETE", &app.col(&format!("objects/{gid}/{query}")), Some(B), &[], None);
        assert_eq!(r.status, 403, "{query}: {}", r.body);
        assert!(r.json()["description"].as_str().unwrap().contains("withdraw only what it submitted"));
    }
    for who in EVERYONE {
        assert_eq!(app.get(&app.col(&format!("objects/{gid}/")), who).status, 200, "{who}");
    }
    assert_eq!(
        app.get(&app.col(&format!("objects/{id}/versions/")), A).json()["versions"].as_array().unwrap().len(),
        2
    );

    // The owner deletes one version, then the rest; an analyst may delete anything.
    let r = app.request("DELETE", &app.col(&format!("objects/{id}/?match[version]=first")), Some(A), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(object_name(app, id, A).as_deref(), Some("A's actor v2"));
    assert_eq!(app.request("DELETE", &app.col(&format!("objects/{id}/")), Some(A), &[], None).status, 200);
    assert_eq!(app.get(&app.col(&format!("objects/{id}/")), A).status, 404);
    assert_eq!(app.request("DELETE", &app.col(&format!("objects/{gid}/")), Some("analyst"), &[], None).status, 200);
    assert_eq!(app.get(&app.col(&format!("objects/{gid}/")), C).status, 404);
}

#[test]
fn deleting_a_shared_identifier_withdraws_only_the_callers_assertion() {
    deleting_a_shared_identifier_withdraws_only_the_callers_assertion_on(&spawn_app(Config::default()));
}

#[test]
fn deleting_a_shared_identifier_withdraws_only_the_callers_assertion_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        deleting_a_shared_identifier_withdraws_only_the_callers_assertion_on(&app);
    }
}

fn deleting_a_shared_identifier_withdraws_only_the_callers_assertion_on(app: &App) {
    let e = email("shared.value@example.com", Tlp::Green);
    let id = e["id"].as_str().unwrap();
    app.submit(A, false, &actor_with(1, &e, Tlp::Green));
    // B asserts the same identifier (same content) and then withdraws it.
    assert_eq!(post(app, B, std::slice::from_ref(&e)).status, 202);
    let r = app.request("DELETE", &app.col(&format!("objects/{id}/")), Some(B), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    // A's identifier and its match are untouched for everyone.
    for who in EVERYONE {
        assert_eq!(app.get(&app.col(&format!("objects/{id}/")), who).status, 200, "{who}");
        let s = screen(app, who, json!({"ref": "x", "emails": ["shared.value@example.com"]}));
        assert_eq!(s["decision"], "match", "{who}: {s}");
    }
    // C never asserted it: nothing to withdraw.
    assert_eq!(app.request("DELETE", &app.col(&format!("objects/{id}/")), Some(C), &[], None).status, 403);
}

#[test]
fn a_stricter_marking_of_a_shared_identifier_never_hides_another_members_assertion() {
    a_stricter_marking_of_a_shared_identifier_never_hides_another_members_assertion_on(&spawn_app(Config::default()));
}

#[test]
fn a_stricter_marking_of_a_shared_identifier_never_hides_another_members_assertion_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        a_stricter_marking_of_a_shared_identifier_never_hides_another_members_assertion_on(&app);
    }
}

fn a_stricter_marking_of_a_shared_identifier_never_hides_another_members_assertion_on(app: &App) {
    let green = email("chol.su.dev@example.com", Tlp::Green);
    let id = green["id"].as_str().unwrap().to_owned();
    app.submit(A, false, &actor_with(1, &green, Tlp::Green));
    let before: Vec<Value> =
        EVERYONE.iter().map(|w| screen(app, w, json!({"ref": "x", "emails": ["chol.su.dev@example.com"]}))).collect();
    for s in &before {
        assert_eq!(s["decision"], "match", "{s}");
    }

    // B files the same email (same deterministic id) as RED, over TAXII and as a later
    // resubmission with a new confidence: nothing any viewer gets changes.
    let red = email("chol.su.dev@example.com", Tlp::Red);
    assert_eq!(red["id"], json!(id));
    assert_eq!(post(app, B, std::slice::from_ref(&red)).status, 202);
    let mut red2 = red.clone();
    red2["confidence"] = json!(5);
    assert_eq!(post(app, B, &[red2]).status, 202);

    for (who, s_before) in EVERYONE.iter().zip(&before) {
        let r = app.get(&app.col(&format!("objects/{id}/")), who);
        assert_eq!(r.status, 200, "{who}: {}", r.body);
        assert_eq!(r.json()["objects"][0]["object_marking_refs"], json!([Tlp::Green.marking_id()]), "{who}");
        let s = screen(app, who, json!({"ref": "x", "emails": ["chol.su.dev@example.com"]}));
        assert_eq!(s["decision"], "match", "{who}: {s}");
        assert_eq!(s["score"], s_before["score"], "{who}");
        assert_eq!(s["matches"][0]["evidence"][0]["tlp"], "green", "{who}: {s}");
    }
    // B still reads its own RED assertion among the versions.
    let v = app.get(&app.col(&format!("objects/{id}/versions/")), B).json();
    assert_eq!(v["versions"].as_array().unwrap().len(), 3, "{v}");
    let v = app.get(&app.col(&format!("objects/{id}/versions/")), C).json();
    assert_eq!(v["versions"].as_array().unwrap().len(), 1, "C sees only the GREEN assertion: {v}");

    // The other way round: an identifier only A holds as RED becomes visible once B shares
    // it as GREEN (B knows it independently); A's RED assertion stays A's.
    let secret = email("quiet@example.com", Tlp::Red);
    let sid = secret["id"].as_str().unwrap();
    assert_eq!(post(app, A, std::slice::from_ref(&secret)).status, 202);
    assert_eq!(app.get(&app.col(&format!("objects/{sid}/")), C).status, 404);
    assert_eq!(post(app, B, &[email("quiet@example.com", Tlp::Green)]).status, 202);
    let r = app.get(&app.col(&format!("objects/{sid}/")), C);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["objects"][0]["object_marking_refs"], json!([Tlp::Green.marking_id()]));
    // A re-marks its own copy as RED again: B's GREEN assertion still stands.
    let mut again = secret.clone();
    again["confidence"] = json!(90);
    assert_eq!(post(app, A, &[again]).status, 202);
    assert_eq!(app.get(&app.col(&format!("objects/{sid}/")), C).status, 200);
}

#[test]
fn the_same_red_identifier_from_two_members_stays_visible_to_both() {
    let app = spawn_app(Config::default());
    let mut a = email("both.red@example.com", Tlp::Red);
    a["x_dossier_share_with_refs"] = json!([app.orgs[C].identity_id]);
    let id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(post(&app, A, &[a]).status, 202);
    let mut b = email("both.red@example.com", Tlp::Red);
    b["confidence"] = json!(40);
    assert_eq!(post(&app, B, &[b]).status, 202);
    for (who, sees) in [(A, true), (B, true), (C, true), ("analyst", true)] {
        assert_eq!(app.get(&app.col(&format!("objects/{id}/")), who).status == 200, sees, "{who}");
    }
    // Without A's naming C, the same two assertions hide the value from C.
    let a = email("both.red.unshared@example.com", Tlp::Red);
    let id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(post(&app, A, &[a]).status, 202);
    let mut b = email("both.red.unshared@example.com", Tlp::Red);
    b["confidence"] = json!(40);
    assert_eq!(post(&app, B, &[b]).status, 202);
    for (who, sees) in [(A, true), (B, true), (C, false), ("analyst", true)] {
        assert_eq!(app.get(&app.col(&format!("objects/{id}/")), who).status == 200, sees, "{who}");
        let s = screen(&app, who, json!({"ref": "x", "emails": ["both.red.unshared@example.com"]}));
        assert!(!s.to_string().contains(&id) || sees, "{who}: {s}");
    }
}

#[test]
fn a_level_every_member_sees_anyway_never_lets_another_member_take_over_an_identifier() {
    let app = spawn_app(Config::default());
    let green = email("taken.over@example.com", Tlp::Green);
    let id = green["id"].as_str().unwrap().to_owned();
    app.submit(A, false, &actor_with(1, &green, Tlp::Green));
    let request = json!({"ref": "x", "emails": ["taken.over@example.com"]});
    let before: Vec<Value> = EVERYONE.iter().map(|w| screen(&app, w, request.clone())).collect();
    // B posts the same identifier as CLEAR (every member sees GREEN already) with its own
    // confidence and properties: before, the least restrictive level won and B's copy
    // replaced A's for everyone.
    let mut clear = email("taken.over@example.com", Tlp::Clear);
    clear["confidence"] = json!(1);
    clear["x_b_says"] = json!("nothing to see here");
    assert_eq!(post(&app, B, &[clear]).status, 202);
    for (who, s_before) in EVERYONE.iter().zip(&before) {
        let r = app.get(&app.col(&format!("objects/{id}/")), who);
        assert_eq!(r.status, 200, "{who}");
        assert_eq!(r.json()["objects"][0], green, "{who} is served A's assertion");
        assert_eq!(&screen(&app, who, request.clone()), s_before, "{who}");
    }
}

#[test]
fn withdrawing_a_copy_keeps_what_the_owner_shared_by_name() {
    let app = spawn_app(Config::default());
    let mut shared = email("named.share@example.com", Tlp::Red);
    shared["x_dossier_share_with_refs"] = json!([app.orgs[B].identity_id]);
    let id = shared["id"].as_str().unwrap().to_owned();
    assert_eq!(post(&app, A, std::slice::from_ref(&shared)).status, 202);
    // B submits the identical object, then withdraws its copy: what A shared with B by name
    // stays shared (before, the withdrawal took B off the recipients).
    assert_eq!(post(&app, B, std::slice::from_ref(&shared)).status, 202);
    assert_eq!(app.request("DELETE", &app.col(&format!("objects/{id}/")), Some(B), &[], None).status, 200);
    for (who, sees) in [(A, true), (B, true), (C, false), ("analyst", true)] {
        assert_eq!(app.get(&app.col(&format!("objects/{id}/")), who).status == 200, sees, "{who}");
    }
    // A copy that gave the only sight of a RED object takes it away when withdrawn.
    let secret = email("unnamed.share@example.com", Tlp::Red);
    let sid = secret["id"].as_str().unwrap().to_owned();
    assert_eq!(post(&app, A, std::slice::from_ref(&secret)).status, 202);
    assert_eq!(post(&app, C, std::slice::from_ref(&secret)).status, 202);
    assert_eq!(app.get(&app.col(&format!("objects/{sid}/")), C).status, 200);
    assert_eq!(app.request("DELETE", &app.col(&format!("objects/{sid}/")), Some(C), &[], None).status, 200);
    assert_eq!(app.get(&app.col(&format!("objects/{sid}/")), C).status, 404);
    assert_eq!(app.get(&app.col(&format!("objects/{sid}/")), A).status, 200);
}

#[test]
fn a_second_submitter_of_a_red_identifier_screens_it_at_once() {
    let app = spawn_app(Config::default());
    // Everything GREEN but the identifier, which A holds as RED.
    let red = email("second.submitter@example.com", Tlp::Red);
    let mut objects = actor_with(1, &red, Tlp::Green);
    objects.pop();
    objects.push(red.clone());
    app.submit(A, false, &objects);
    let request = json!({"ref": "x", "emails": ["second.submitter@example.com"]});
    assert_eq!(screen(&app, B, request.clone())["decision"], "review", "restricted for B");
    // B saw the same address and submits it: it may now see the identifier, and the
    // screening index knows at once (before, only a rebuild told it).
    assert_eq!(post(&app, B, std::slice::from_ref(&red)).status, 202);
    let s = screen(&app, B, request.clone());
    assert_eq!(s["decision"], "match", "{s}");
    assert_eq!(screen(&app, C, request)["decision"], "review");
}

#[test]
fn a_copy_in_a_collection_only_analysts_read_never_hides_an_identifier_from_members() {
    let app = spawn_app(Config::default());
    // A drop box: members write, only analysts read.
    let drop = app.store.add_collection("tips for the ISAC", Some("tips"), None, Tlp::Amber).unwrap();
    app.store.set_collection_access(drop.id, dossier_store::Access::Analysts, dossier_store::Access::Members).unwrap();
    let green = email("drop.box@example.com", Tlp::Green);
    app.submit(A, false, &actor_with(1, &green, Tlp::Green));
    let request = json!({"ref": "x", "emails": ["drop.box@example.com"]});
    let before: Vec<Value> = EVERYONE.iter().map(|w| screen(&app, w, request.clone())).collect();
    let mut copy = email("drop.box@example.com", Tlp::Green);
    copy["confidence"] = json!(3);
    let body = json!({ "objects": [copy] }).to_string();
    let r = app.request(
        "POST",
        &format!("/taxii2/api/collections/{}/objects/", drop.uuid),
        Some(B),
        &[("Content-Type", "application/taxii+json")],
        Some(&body),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    for (who, s_before) in EVERYONE.iter().zip(&before) {
        assert_eq!(s_before["decision"], "match", "{who}");
        assert_eq!(&screen(&app, who, request.clone()), s_before, "{who}");
        assert_eq!(
            app.get(&app.col(&format!("objects/{}/", green["id"].as_str().unwrap())), who).json()["objects"][0],
            green
        );
    }
}

/// Visible floods by one member never switch off another member's match: A files an actor
/// whose persona has a GREEN address; B files 70 GREEN spellings of that address (Gmail
/// dots and tags), each tied to B's own GREEN persona. Before, the address was then held by
/// more than 64 tied objects and given up for everyone; now it is too common for B's
/// copies only, and C's screen (decision, score, evidence) is what it was.
#[test]
fn one_members_visible_flood_never_switches_off_another_members_match() {
    one_members_visible_flood_never_switches_off_on(&spawn_app(Config::default()));
}

#[test]
fn one_members_visible_flood_never_switches_off_another_members_match_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        one_members_visible_flood_never_switches_off_on(&app);
    }
}

fn one_members_visible_flood_never_switches_off_on(app: &App) {
    let t = "2025-01-01T00:00:00.000Z";
    let green = json!([Tlp::Green.marking_id()]);
    let mail = email("kim.cholsu.dev@gmail.com", Tlp::Green);
    assert_eq!(post(app, A, &actor_with(50, &mail, Tlp::Green)).status, 202);
    let probe = json!({"ref": "e", "emails": ["kimcholsu.dev@gmail.com"]});
    let before = screen(app, C, probe.clone());
    assert_eq!(before["decision"], "match", "{before}");
    let persona = "identity--00000000-0000-4000-8000-000000000051";
    let mut flood = vec![json!({"type": "identity", "spec_version": "2.1", "id": persona, "created": t, "modified": t,
        "name": "Someone Else", "identity_class": "individual", "object_marking_refs": green})];
    for i in 0..70 {
        let spelled = email(&format!("k.imcholsu.dev+{i}@gmail.com"), Tlp::Green);
        flood.push(json!({"type": "relationship", "spec_version": "2.1",
            "id": format!("relationship--00000000-0000-4000-9100-{i:012}"), "created": t, "modified": t,
            "relationship_type": "related-to", "source_ref": persona, "target_ref": spelled["id"], "object_marking_refs": green}));
        flood.push(spelled);
    }
    assert_eq!(post(app, B, &flood).status, 202);
    let after = screen(app, C, probe.clone());
    assert_eq!(after, before, "C's screen after B's flood");
    // B's own copies are too common for B to follow: a screen by B finds A's, not its own.
    let by_b = screen(app, B, probe);
    assert_eq!(by_b["decision"], "match", "{by_b}");
}

/// A files a persona named "Sarah Hong" (both parts common somewhere, so how many names the
/// data holds sets how likely a coincidence it is). B files 20,000 GREEN personas of other
/// names. Before, A's name then weighed less in C's search: the count of names was
/// everyone's. It leaves out the one other member filing the most now: C's search answers
/// about A's actor as it did.
#[test]
fn one_members_names_never_make_another_members_name_weigh_less() {
    one_members_names_never_make_another_members_name_weigh_less_on(&spawn_app(Config::default()));
}

#[test]
fn one_members_names_never_make_another_members_name_weigh_less_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        one_members_names_never_make_another_members_name_weigh_less_on(&app);
    }
}

fn one_members_names_never_make_another_members_name_weigh_less_on(app: &App) {
    a_name_weighs_the_same_after(app, "Sarah Hong", 20_000, |n| format!("Flood{n} Filed{n}"));
}

/// Last session's rule over HTTP: B files 900 GREEN personas named with the parts of A's
/// persona's name ("Kwang-jin Ryom7", "Ryom8 Kwang-jin", "Ryom Kwang9"); each part is
/// counted without the names of the one other member holding the most with it, so C's
/// search answers about A's actor as it did (with the parts counted over everyone's names,
/// A's name weighed less after B's).
#[test]
fn one_members_names_never_make_another_members_name_common() {
    one_members_names_never_make_another_members_name_common_on(&spawn_app(Config::default()));
}

#[test]
fn one_members_names_never_make_another_members_name_common_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        one_members_names_never_make_another_members_name_common_on(&app);
    }
}

fn one_members_names_never_make_another_members_name_common_on(app: &App) {
    a_name_weighs_the_same_after(app, "Ryom Kwang-jin", 900, |n| match n % 3 {
        0 => format!("Kwang-jin Ryom{n}"),
        1 => format!("Ryom{n} Kwang-jin"),
        _ => format!("Ryom Kwang{n}"),
    });
}

/// A files a persona named `name` for its actor, C 200 other names; then B files `count`
/// GREEN personas named `flood(n)`. C's search for `name` answers about A's actor as it did
/// before B's names (where the name weighed more than 1).
fn a_name_weighs_the_same_after(app: &App, name: &str, count: usize, flood: impl Fn(usize) -> String) {
    let t = "2025-01-01T00:00:00.000Z";
    let green = json!([Tlp::Green.marking_id()]);
    let identity = |id: String, name: &str| {
        json!({"type": "identity", "spec_version": "2.1", "id": id, "created": t, "modified": t,
               "name": name, "identity_class": "individual", "object_marking_refs": green})
    };
    let actor = "threat-actor--00000000-0000-4000-8000-000000000070";
    assert_eq!(post(app, A, &team(70, name, Tlp::Green)).status, 202);
    // Other people's names (C's), so that the parts' shares are measured on something.
    let others: Vec<Value> = (0..200)
        .map(|n| identity(format!("identity--00000000-0000-4000-8300-{n:012}"), &format!("Person{n} Surname{n}")))
        .collect();
    assert_eq!(post(app, C, &others).status, 202);
    let path = format!("/api/v1/search?q={}", name.replace(' ', "%20"));
    let of_a = |who: &str| -> Value {
        let r = app.request("GET", &path, Some(who), &[("Accept", "application/json")], None);
        assert_eq!(r.status, 200, "{}", r.body);
        let body = r.json();
        body["results"].as_array().unwrap().iter().find(|c| c["actor"] == actor).cloned().unwrap_or(Value::Null)
    };
    let before = of_a(C);
    let weight =
        |c: &Value| c["evidence"].as_array().unwrap().iter().find(|e| e["field"] == "names").unwrap()["weight"].clone();
    assert!(weight(&before).as_f64().unwrap() > 1.0, "{before}");
    let names: Vec<Value> =
        (0..count).map(|n| identity(format!("identity--00000000-0000-4000-8400-{n:012}"), &flood(n))).collect();
    for part in names.chunks(10_000) {
        assert_eq!(post(app, B, part).status, 202);
    }
    assert_eq!(of_a(C), before, "A's actor in C's search after B's {count} names");
}

/// A files a persona with an Israeli mobile number (GREEN); C screens an applicant giving it
/// in national format. B then files 7,000 GREEN numbers of the same country. The weight of a
/// number falls with how many numbers of its country the data holds; that count leaves out
/// the one other member holding the most, so C's answer about A's actor is what it was.
#[test]
fn one_members_numbers_never_lower_another_members_phone() {
    one_members_numbers_never_lower_another_members_phone_on(&spawn_app(Config::default()));
}

#[test]
fn one_members_numbers_never_lower_another_members_phone_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        one_members_numbers_never_lower_another_members_phone_on(&app);
    }
}

fn one_members_numbers_never_lower_another_members_phone_on(app: &App) {
    let phone = sco("phone-number", "+972502345678", Tlp::Green);
    assert_eq!(post(app, A, &actor_with(90, &phone, Tlp::Green)).status, 202);
    let actor = "threat-actor--00000000-0000-4000-8000-000000000090";
    let probe = json!({"ref": "p", "phones": ["+972 50-234-5678"]});
    let of_a = || -> Value {
        let s = screen(app, C, probe.clone());
        s["matches"].as_array().unwrap().iter().find(|m| m["actor"] == actor).cloned().unwrap_or(Value::Null)
    };
    let before = of_a();
    assert!(before["evidence"][0]["weight"].as_f64().is_some_and(|w| w > 4.5), "{before}");
    let flood: Vec<Value> =
        (0..7000).map(|k| sco("phone-number", &format!("+97252{:07}", 1_000_000 + k), Tlp::Green)).collect();
    assert_eq!(post(app, B, &flood).status, 202);
    assert_eq!(of_a(), before, "A's actor in C's screen after B's 7,000 numbers");
}

/// How alike unrelated resumes are is measured when the index is built. B files 500 open
/// resumes of its own, C 300, A its team's resume; a node built on that answers C's screen
/// of an applicant whose resume is close to A's (but not a copy). B then files 2,000 open
/// resumes alike (each about another persona: "unrelated" pairs at 0.3-0.6). A node built
/// afresh answers C exactly as before about A's actor: the likeness A's resume is weighed
/// by leaves out B, the member filing the most. (Measured on everyone's resumes, as
/// before, B's flood took A's resume, 2.39 at a similarity of 0.58, out of C's answer.)
#[test]
fn one_members_resumes_alike_never_lower_another_members_resume() {
    one_members_resumes_alike_never_lower_another_members_resume_on(&spawn_app(Config::default()));
}

#[test]
fn one_members_resumes_alike_never_lower_another_members_resume_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        one_members_resumes_alike_never_lower_another_members_resume_on(&app);
    }
}

fn one_members_resumes_alike_never_lower_another_members_resume_on(app: &App) {
    let t = "2025-01-01T00:00:00.000Z";
    let green = json!([Tlp::Green.marking_id()]);
    let mut state = 23u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    // Eight sentences of a pool: of 200 for honest resumes (unrelated pairs share little),
    // of 10 for the flood (unrelated pairs share about half).
    let mut text = |pool: usize, tag: &str| -> String {
        (0..8)
            .map(|_| format!("{tag} built system number {} for the payments group with rust", next() % pool))
            .collect::<Vec<_>>()
            .join(". ")
    };
    let note = |id: String, about: String, content: String| {
        json!({"type": "note", "spec_version": "2.1", "id": id, "created": t, "modified": t,
               "content": content, "object_refs": [about], "object_marking_refs": green})
    };
    let resumes = |prefix: u32, from: usize, count: usize, texts: &mut dyn FnMut() -> String| -> Vec<Value> {
        (from..from + count)
            .map(|n| {
                note(
                    format!("note--00000000-0000-4000-{prefix:04}-{n:012}"),
                    format!("identity--00000000-0000-4000-{prefix:04}-{n:012}"),
                    texts(),
                )
            })
            .collect()
    };
    assert_eq!(post(app, B, &resumes(8500, 0, 500, &mut || text(200, "honestly"))).status, 202);
    assert_eq!(post(app, C, &resumes(8600, 0, 300, &mut || text(200, "honestly"))).status, 202);
    // A's team: an actor, a persona and its resume; the applicant's resume keeps six of
    // its eight sentences, and adds three.
    let sentences: Vec<String> =
        (0..12).map(|i| format!("team jade shipped wallet feature {i} to production on a tight deadline")).collect();
    let actor = "threat-actor--00000000-0000-4000-8000-000000000080";
    let persona = "identity--00000000-0000-4000-8000-000000000080";
    let mut objects = team(80, "Persona Eighty", Tlp::Green);
    objects.push(note("note--00000000-0000-4000-8000-000000000080".into(), persona.into(), sentences[..8].join(". ")));
    assert_eq!(post(app, A, &objects).status, 202);
    let applicant = sentences[..6].iter().chain(&sentences[8..11]).cloned().collect::<Vec<_>>().join(". ");
    let probe = json!({"ref": "cv", "resume_text": applicant});
    let of_a = |node: &App| -> Value {
        let s = screen(node, C, probe.clone());
        s["matches"].as_array().unwrap().iter().find(|c| c["actor"] == actor).cloned().unwrap_or(Value::Null)
    };
    let before = of_a(&app.another_node(Config::default()));
    assert!(before["evidence"][0]["weight"].as_f64().is_some_and(|w| w > 1.0), "{before}");
    for part in 0..2 {
        let flood = resumes(8700, part * 1000, 1000, &mut || text(10, "flood"));
        assert_eq!(post(app, B, &flood).status, 202);
    }
    let after = of_a(&app.another_node(Config::default()));
    assert_eq!(after, before, "A's actor in C's screen on a node built after B's flood");
}

/// A files its team's own IP address and resume (GREEN); C's screen of an applicant who
/// gives both is `review` on A's actor. B then ties that very address to twenty GREEN
/// actors of its own and files copies of the resume for each. Before, the address was then
/// tied to more actors than an IP's weight bears and was no longer followed, and the
/// resume counted as a public template: A's actor fell to `clear` for everyone. Actors only
/// one other organization's data reaches are not counted against A's evidence now: C's
/// answer about A's actor is what it was.
#[test]
fn one_members_ties_never_make_another_members_address_common() {
    one_members_ties_never_make_another_members_address_common_on(&spawn_app(Config::default()));
}

#[test]
fn one_members_ties_never_make_another_members_address_common_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        one_members_ties_never_make_another_members_address_common_on(&app);
    }
}

fn one_members_ties_never_make_another_members_address_common_on(app: &App) {
    let t = "2025-01-01T00:00:00.000Z";
    let green = json!([Tlp::Green.marking_id()]);
    let mut ip =
        json!({"type": "ipv4-addr", "spec_version": "2.1", "value": "198.51.100.7", "object_marking_refs": green});
    ip["id"] = json!(dossier_stix::id::deterministic_sco_id("ipv4-addr", ip.as_object().unwrap()).unwrap().as_str());
    let resume = "Senior blockchain engineer with eight years building decentralized exchanges, cross-chain bridges and smart contract audits for fintech startups; led remote teams across time zones, shipped React and TypeScript front ends, designed Solidity vaults and Rust indexers, and mentored junior developers on security reviews.";
    let note = |n: u32| {
        json!({"type": "note", "spec_version": "2.1", "id": format!("note--00000000-0000-4000-8000-{n:012}"),
            "created": t, "modified": t, "content": resume,
            "object_refs": [format!("identity--00000000-0000-4000-8000-{n:012}")], "object_marking_refs": green})
    };
    let mut objects = actor_with(60, &ip, Tlp::Green);
    objects.push(note(60));
    assert_eq!(post(app, A, &objects).status, 202);
    let probe = json!({"ref": "i", "ips": ["198.51.100.7"], "resume_text": resume.replace("eight", "nine")});
    let team = "threat-actor--00000000-0000-4000-8000-000000000060";
    let of_team = |s: &Value| -> Value {
        s["matches"].as_array().unwrap().iter().find(|m| m["actor"] == team).cloned().unwrap_or(Value::Null)
    };
    let before = screen(app, C, probe.clone());
    assert_eq!(before["decision"], "review", "{before}");
    assert!(of_team(&before)["evidence"].as_array().unwrap().iter().any(|e| e["field"] == "ips"), "{before}");
    let mut flood = Vec::new();
    for n in 61..=80 {
        flood.extend(actor_with(n, &ip, Tlp::Green));
        flood.push(note(n));
    }
    assert_eq!(post(app, B, &flood).status, 202);
    let after = screen(app, C, probe.clone());
    // The same, but for a note that says what was set aside.
    let mut team_after = of_team(&after);
    let mut set_aside = 0;
    for e in team_after["evidence"].as_array_mut().unwrap() {
        if let Some(notes) = e.get_mut("notes").and_then(Value::as_array_mut) {
            notes.retain(|n| {
                let aside = n
                    .as_str()
                    .unwrap()
                    .contains("more than 10 other actors tied to the value by one other organization's data");
                set_aside += usize::from(aside);
                !aside
            });
        }
    }
    assert_eq!(set_aside, 1, "{after}");
    assert_eq!(team_after, of_team(&before), "A's actor in C's screen after B's ties: {after}");
    assert_eq!(after["decision"], "review", "{after}");
    // For B's own actors the address is common: none of them is more than `clear`.
    for m in after["matches"].as_array().unwrap().iter().filter(|m| m["actor"] != team) {
        assert_eq!(m["decision"], "clear", "{m}");
    }
}

/// Hidden floods never move what another member sees: B posts 70 RED Gmail dot variants of
/// A's GREEN address, 700 RED numbers of the country of A's GREEN phone and 300 RED copies
/// of the resume A filed. C's and A's screens, searches and census stay what they were
/// (apart from a restricted hit), where before the emails switched the match off (a guard
/// against values held by more than 64 objects), the numbers lowered the phone's weight and
/// the copies hid the resume (a cap on crowded resume bands).
#[test]
fn floods_of_hidden_copies_never_move_what_another_member_sees() {
    floods_of_hidden_copies_never_move_what_another_member_sees_on(&spawn_app(Config::default()));
}

#[test]
fn floods_of_hidden_copies_never_move_what_another_member_sees_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        floods_of_hidden_copies_never_move_what_another_member_sees_on(&app);
    }
}

fn floods_of_hidden_copies_never_move_what_another_member_sees_on(app: &App) {
    let t = "2025-01-01T00:00:00.000Z";
    let green = json!([Tlp::Green.marking_id()]);
    let red = json!([Tlp::Red.marking_id()]);
    let mail = email("kim.cholsu.dev@gmail.com", Tlp::Green);
    let mut objects = actor_with(40, &mail, Tlp::Green);
    let mut phone =
        json!({"type": "phone-number", "spec_version": "2.1", "value": "+972502345678", "object_marking_refs": green});
    phone["id"] =
        json!(dossier_stix::id::deterministic_sco_id("phone-number", phone.as_object().unwrap()).unwrap().as_str());
    let persona = "identity--00000000-0000-4000-8000-000000000040";
    objects.push(phone.clone());
    objects.push(json!({"type": "relationship", "spec_version": "2.1", "id": "relationship--00000000-0000-4000-8003-000000000040",
        "created": t, "modified": t, "relationship_type": "related-to", "source_ref": persona, "target_ref": phone["id"],
        "object_marking_refs": green}));
    let resume = "Senior blockchain engineer with eight years building decentralized exchanges, cross-chain bridges and smart contract audits for fintech startups; led remote teams across time zones, shipped React and TypeScript front ends, designed Solidity vaults and Rust indexers, and mentored junior developers on security reviews.";
    objects.push(json!({"type": "note", "spec_version": "2.1", "id": "note--00000000-0000-4000-8000-000000000040",
        "created": t, "modified": t, "content": resume, "object_refs": [persona], "object_marking_refs": green}));
    assert_eq!(post(app, A, &objects).status, 202);

    let probes = [
        json!({"ref": "e", "emails": ["kimcholsu.dev@gmail.com"]}),
        json!({"ref": "p", "phones": ["+972 50-234-5678"]}),
        json!({"ref": "r", "resume_text": resume.replace("eight", "nine")}),
    ];
    let visible = |s: &Value| -> Value {
        let mut s = s.clone();
        let kept: Vec<Value> =
            s["matches"].as_array().unwrap().iter().filter(|m| m.get("restricted").is_none()).cloned().collect();
        s["matches"] = json!(kept);
        s.as_object_mut().unwrap().remove("decision");
        s
    };
    let seen = |who: &str| -> Vec<Value> {
        let mut out: Vec<Value> = probes.iter().map(|p| visible(&screen(app, who, p.clone()))).collect();
        let q = app.get("/api/v1/search?q=kimcholsu.dev%40gmail.com", who);
        assert_eq!(q.status, 200, "{}", q.body);
        out.push(q.json()["results"].clone());
        out
    };
    // What a signed-in member's pages show (the CSRF token aside): the dashboard's census,
    // the actor's page with its picture of associations and sources, the email's page.
    let mail_id = mail["id"].as_str().unwrap().to_owned();
    let pages = |who: &str| -> Vec<String> {
        let b = sign_in(app, who);
        [
            "/".to_owned(),
            "/actors/threat-actor--00000000-0000-4000-8000-000000000040".to_owned(),
            format!("/objects/{mail_id}"),
        ]
        .iter()
        .map(|p| {
            let r = b.get(p);
            assert_eq!(r.status, 200, "{who} {p}");
            let mut page = r.body.replace(&b.csrf, "CSRF");
            // The viewer's own activity (its screens, its review queue, its TAXII client) is
            // its own to change.
            for (from, to) in [
                ("aria-labelledby=\"h-hits\"", "aria-labelledby=\"h-health\""),
                ("<dt>Your TAXII client", "<dt>TAXII 2.1"),
                ("id=\"nav-review\"", "</nav>"),
            ] {
                if let (Some(i), Some(j)) = (page.find(from), page.find(to)) {
                    page.replace_range(i..j, "");
                }
            }
            page
        })
        .collect()
    };
    // A batch of the three applicants, and the TAXII manifest.
    let batch = |who: &str| -> String {
        let lines: String = probes.iter().map(|p| format!("{p}\n")).collect();
        let r = app.request(
            "POST",
            "/api/v1/screen/batch",
            Some(who),
            &[("Content-Type", "application/x-ndjson"), ("Accept", "application/x-ndjson")],
            Some(&lines),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.dechunked()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                visible(&v).to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let manifest = |who: &str| app.get(&app.col("manifest/"), who).json()["objects"].clone();
    let before_pages: Vec<Vec<String>> = [A, C].iter().map(|w| pages(w)).collect();
    assert_eq!(before_pages, [A, C].iter().map(|w| pages(w)).collect::<Vec<_>>(), "pages are stable");
    let before_batch: Vec<String> = [A, C].iter().map(|w| batch(w)).collect();
    let before_manifest: Vec<Value> = [A, C].iter().map(|w| manifest(w)).collect();
    let before: Vec<Vec<Value>> = [A, C].iter().map(|w| seen(w)).collect();
    assert_eq!(before[1][0]["matches"][0]["decision"], "match", "{}", before[1][0]);
    assert_eq!(before[1][1]["matches"][0]["decision"], "match", "{}", before[1][1]);
    assert_eq!(before[1][2]["matches"][0]["decision"], "review", "{}", before[1][2]);

    let hidden_persona = "identity--00000000-0000-4000-8000-000000000041";
    let tie = |n: usize, target: &Value| {
        json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--00000000-0000-4000-9000-{n:012}"),
            "created": t, "modified": t, "relationship_type": "related-to", "source_ref": hidden_persona, "target_ref": target,
            "object_marking_refs": red})
    };
    let mut flood =
        vec![json!({"type": "identity", "spec_version": "2.1", "id": hidden_persona, "created": t, "modified": t,
        "name": "Someone Else", "identity_class": "individual", "object_marking_refs": red})];
    // Dot variants and +tags: 70 different addresses, one mailbox, one key.
    let local = "kimcholsudev";
    for k in 0..70usize {
        let v = if k < local.len() - 1 {
            format!("{}.{}@gmail.com", &local[..k + 1], &local[k + 1..])
        } else {
            format!("kim.cholsu.dev+job{k}@gmail.com")
        };
        let e = email(&v, Tlp::Red);
        flood.push(tie(k, &e["id"]));
        flood.push(e);
    }
    assert_eq!(post(app, B, &flood).status, 202);
    let mut flood = Vec::new();
    for k in 0..700usize {
        let mut p = json!({"type": "phone-number", "spec_version": "2.1", "value": format!("+97252{:07}", 2_000_000 + k), "object_marking_refs": red});
        p["id"] =
            json!(dossier_stix::id::deterministic_sco_id("phone-number", p.as_object().unwrap()).unwrap().as_str());
        flood.push(tie(1000 + k, &p["id"]));
        flood.push(p);
    }
    assert_eq!(post(app, B, &flood).status, 202);
    let flood: Vec<Value> = (0..300usize)
        .map(|k| json!({"type": "note", "spec_version": "2.1", "id": format!("note--00000000-0000-4000-9000-{k:012}"),
            "created": t, "modified": t, "content": resume, "object_refs": [hidden_persona], "object_marking_refs": red}))
        .collect();
    assert_eq!(post(app, B, &flood).status, 202);
    // And 250 RED actors: newer than anything A shared, never on A's or C's dashboard.
    let flood: Vec<Value> = (0..250u32).map(|k| actor(5000 + k, &format!("hidden {k}"), t, Tlp::Red)).collect();
    assert_eq!(post(app, B, &flood).status, 202);

    for (i, who) in [A, C].iter().enumerate() {
        assert_eq!(seen(who), before[i], "{who}");
        assert_eq!(batch(who), before_batch[i], "{who}: batch");
        assert_eq!(manifest(who), before_manifest[i], "{who}: manifest");
        let now = pages(who);
        for (p, (x, y)) in now.iter().zip(&before_pages[i]).enumerate() {
            if x != y {
                let at = x.bytes().zip(y.bytes()).position(|(a, b)| a != b).unwrap_or(0);
                panic!(
                    "{who}: page {p} changed: …{}… was …{}…",
                    &x[at.saturating_sub(300)..(at + 200).min(x.len())],
                    &y[at.saturating_sub(300)..(at + 200).min(y.len())]
                );
            }
        }
        // The hidden copies may only add a restricted hit.
        let s = screen(app, who, probes[0].clone());
        assert_eq!(s["decision"], "match", "{who}: {s}");
    }
}

/// Per-organization write quotas: a member over its allowance gets 429 with `Retry-After`
/// and nothing is stored; other members write on; a request larger than a minute's
/// allowance is refused outright.
#[test]
fn a_member_over_its_write_quota_is_told_when_to_come_back_and_others_write_on() {
    let quota = dossier_server::quota::WriteQuota { objects_per_minute: 10, bytes_per_minute: 0 };
    let app = spawn_app(Config { write_quota: quota, ..Config::default() });
    let actors = |from: u32, n: u32| -> Vec<Value> {
        (from..from + n).map(|i| actor(i, &format!("team {i}"), "2025-01-01T00:00:00.000Z", Tlp::Green)).collect()
    };
    assert_eq!(post(&app, B, &actors(100, 8)).status, 202);
    let r = post(&app, B, &actors(200, 5));
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(r.json()["description"].as_str().unwrap().contains("10 objects"), "{}", r.body);
    assert_eq!(app.get(&app.col("objects/threat-actor--00000000-0000-4000-8000-000000000200/"), B).status, 404);
    // Another member is not held back by B's flood.
    assert_eq!(post(&app, A, &actors(300, 10)).status, 202);
    // More than a minute's allowance in one request can never pass: 413, said at once.
    assert_eq!(post(&app, C, &actors(400, 11)).status, 413);
    // Reading is never limited by the write quota.
    assert_eq!(app.get("/taxii2/", B).status, 200);
}

/// A newer version the viewer may not see does not show through the older ones: when the
/// creator re-marks its object RED, other members get 404 on the latest, the versions list
/// and `match[version]=first|all` alike, and the owner still sees every version.
#[test]
fn a_hidden_newer_version_is_not_detectable_through_older_ones() {
    a_hidden_newer_version_is_not_detectable_through_older_ones_on(&spawn_app(Config::default()));
}

#[test]
fn a_hidden_newer_version_is_not_detectable_through_older_ones_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        a_hidden_newer_version_is_not_detectable_through_older_ones_on(&app);
    }
}

fn a_hidden_newer_version_is_not_detectable_through_older_ones_on(app: &App) {
    let v1 = actor(50, "Shared first", "2025-01-01T00:00:00.000Z", Tlp::Green);
    let id = v1["id"].as_str().unwrap().to_owned();
    assert_eq!(post(app, A, &[v1]).status, 202);
    assert_eq!(app.get(&app.col(&format!("objects/{id}/versions/")), C).status, 200);
    let v2 = actor(50, "Now restricted", "2025-06-01T00:00:00.000Z", Tlp::Red);
    assert_eq!(post(app, A, &[v2]).status, 202);
    for path in [
        format!("objects/{id}/"),
        format!("objects/{id}/versions/"),
        format!("objects/{id}/?match[version]=first"),
        format!("objects/{id}/?match[version]=all"),
        format!("objects/{id}/?match[version]=2025-01-01T00:00:00.000Z"),
    ] {
        assert_eq!(app.get(&app.col(&path), C).status, 404, "C: {path}");
        assert_eq!(app.get(&app.col(&path), A).status, 200, "A: {path}");
        assert_eq!(app.get(&app.col(&path), "analyst").status, 200, "analyst: {path}");
    }
    for q in ["objects/?match[version]=all", "objects/?match[version]=first", "manifest/?match[version]=all"] {
        let body = app.get(&app.col(q), C).body;
        assert!(!body.contains(&id), "C learns of {id} through {q}: {body}");
        assert!(app.get(&app.col(q), A).body.contains(&id), "A: {q}");
    }
}

/// A RED granular marking, or TLP:RED defined under a marking-definition id of the
/// submitter's own, makes the object RED; an object that references such a definition
/// before it comes is refused in a stream, and sorted after it in a TAXII request.
#[test]
fn red_granular_markings_and_tlp_markings_under_their_own_ids_are_honoured() {
    let app = spawn_app(Config::default());
    let mut granular = actor(60, "Granular red", "2025-01-01T00:00:00.000Z", Tlp::Green);
    granular["description"] = json!("operational detail");
    granular["granular_markings"] = json!([{"marking_ref": Tlp::Red.marking_id(), "selectors": ["description"]}]);
    let own_red = json!({"type": "marking-definition", "spec_version": "2.1",
        "id": "marking-definition--a0000000-0000-4000-8000-000000000001", "created": "2025-01-01T00:00:00.000Z",
        "definition_type": "tlp", "name": "TLP:RED", "definition": {"tlp": "red"}});
    let mut custom = actor(61, "Custom red", "2025-01-01T00:00:00.000Z", Tlp::Green);
    custom["object_marking_refs"] = json!([own_red["id"]]);
    // The object comes before its marking in the request: the server stores the marking first.
    assert_eq!(post(&app, A, &[granular.clone(), custom.clone(), own_red.clone()]).status, 202);
    for id in [granular["id"].as_str().unwrap(), custom["id"].as_str().unwrap()] {
        assert_eq!(app.get(&app.col(&format!("objects/{id}/")), C).status, 404, "{id} is RED");
        assert_eq!(app.get(&app.col(&format!("objects/{id}/")), A).status, 200);
        assert_eq!(app.get(&app.col(&format!("objects/{id}/")), "analyst").status, 200);
    }
    // A later object under the stored definition is RED too.
    let mut later = actor(62, "Later custom red", "2025-01-01T00:00:00.000Z", Tlp::Green);
    later["object_marking_refs"] = json!([own_red["id"]]);
    assert_eq!(post(&app, A, &[later.clone()]).status, 202);
    assert_eq!(app.get(&app.col(&format!("objects/{}/", later["id"].as_str().unwrap())), C).status, 404);
    // A stream cannot be reordered: a definition after its use is refused, nothing stored.
    let other_red = json!({"type": "marking-definition", "spec_version": "2.1",
        "id": "marking-definition--a0000000-0000-4000-8000-000000000002", "created": "2025-01-01T00:00:00.000Z",
        "definition_type": "tlp", "name": "TLP:RED", "definition": {"tlp": "red"}});
    let mut early = actor(63, "Too early", "2025-01-01T00:00:00.000Z", Tlp::Green);
    early["object_marking_refs"] = json!([other_red["id"]]);
    let sub = dossier_store::Submission {
        org: app.orgs[A].id,
        collection: { app.store.default_collection().unwrap().id },
        named: false,
        curator: false,
    };
    let mut items = [early, other_red].into_iter().enumerate().map(|(index, v)| dossier_store::Item::Valid {
        index,
        line: index as u64 + 1,
        object: dossier_stix::StixObject::from_value(&v).unwrap().into_record(),
    });
    let err = { app.store.import(&sub, &mut items, &mut |_| {}) }.expect_err("refused");
    assert!(format!("{err:?}").contains("send marking-definitions before the objects they mark"), "{err:?}");
    assert_eq!(app.get(&app.col("objects/threat-actor--00000000-0000-4000-8000-000000000063/"), A).status, 404);
}

/// STIX 2.1 requires none of user_id, account_login, account_type, display_name: such an
/// account is stored like any other SCO.
#[test]
fn a_user_account_without_a_login_is_accepted() {
    let app = spawn_app(Config::default());
    let account = json!({"type": "user-account", "spec_version": "2.1",
        "id": "user-account--0d5b424b-93b8-4cd8-ac36-306e1789d63c", "is_service_account": true,
        "object_marking_refs": [Tlp::Green.marking_id()]});
    let r = post(&app, A, &[account]);
    assert_eq!(r.status, 202, "{}", r.body);
}
