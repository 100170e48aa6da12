//! Black-box tests of screening and search over HTTP: TLP on every path, freshness after a
//! write, batch streaming with per-record errors, and the audit log keeping hashes only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

mod common;

use common::*;
use dossier_server::Config;
use dossier_stix::Tlp;
use dossier_store::AuditQuery;
use serde_json::{Value, json};

#[test]
fn screening_and_search_show_each_tlp_level_to_exactly_the_right_organizations() {
    screening_and_search_show_each_tlp_level_to_exactly_the_right_organizations_on(&spawn_app(Config::default()));
}

#[test]
fn screening_and_search_show_each_tlp_level_to_exactly_the_right_organizations_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        screening_and_search_show_each_tlp_level_to_exactly_the_right_organizations_on(&app);
    }
}

fn screening_and_search_show_each_tlp_level_to_exactly_the_right_organizations_on(app: &App) {
    let mut cases = Vec::new();
    for (i, tlp) in Tlp::ALL.into_iter().enumerate() {
        let value = format!("operative.{}@proton.me", i);
        let e = sco("email-addr", &value, tlp);
        app.submit("Exchange A", false, &actor_with(i as u32 + 1, &e, tlp));
        cases.push((
            tlp,
            value,
            e["id"].as_str().unwrap().to_owned(),
            format!("threat-actor--00000000-0000-4000-8000-{:012}", i + 1),
        ));
    }
    for (tlp, value, object, actor) in &cases {
        for who in ["Exchange A", "Wallet B", "Recruiter C", "analyst"] {
            let sees = *tlp != Tlp::Red || who == "Exchange A" || who == "analyst";
            // Screening.
            let r = post_json(app, "/api/v1/screen", who, &json!({"ref": "x", "emails": [value]}).to_string());
            assert_eq!(r.status, 200, "{}", r.body);
            let body = r.json();
            if sees {
                assert_eq!(body["decision"], "match", "{tlp:?} {who}: {}", r.body);
                assert_eq!(body["matches"][0]["actor"], json!(actor));
                assert_eq!(body["matches"][0]["evidence"][0]["object"], json!(object));
                assert_eq!(body["matches"][0]["evidence"][0]["tlp"], json!(tlp.as_str()));
            } else {
                assert_eq!(body["decision"], "review", "{tlp:?} {who}: {}", r.body);
                assert_eq!(body["matches"], json!([{"restricted": true, "contact": "the ISAC analysts"}]));
                for secret in [object.as_str(), actor.as_str(), "Persona", "team "] {
                    assert!(!r.body.contains(secret), "{tlp:?} {who} learned {secret}: {}", r.body);
                }
            }
            // Search.
            let r = app.request(
                "GET",
                &format!("/api/v1/search?q={value}"),
                Some(who),
                &[("Accept", "application/json")],
                None,
            );
            assert_eq!(r.status, 200, "{}", r.body);
            let body = r.json();
            if sees {
                assert_eq!(body["results"][0]["actor"], json!(actor), "{tlp:?} {who}");
                assert_eq!(body["restricted"], 0);
            } else {
                assert_eq!(body["results"], json!([]), "{tlp:?} {who}: {}", r.body);
                assert_eq!(body["restricted"], 1);
                assert!(!r.body.contains(object.as_str()) && !r.body.contains(actor.as_str()));
            }
        }
    }
    // A name search is TLP-filtered too.
    let r = app.request(
        "GET",
        "/api/v1/search?q=Persona%20Number5",
        Some("Wallet B"),
        &[("Accept", "application/json")],
        None,
    );
    assert_eq!(r.json()["results"], json!([]), "{}", r.body);
    let r = app.request(
        "GET",
        "/api/v1/search?q=Persona%20Number5",
        Some("Exchange A"),
        &[("Accept", "application/json")],
        None,
    );
    assert_eq!(r.json()["results"][0]["personas"][0]["name"], "Persona Number5", "{}", r.body);
}

#[test]
fn a_write_is_screenable_as_soon_as_it_commits_and_removal_takes_effect() {
    let app = spawn_app(Config::default());
    let body = json!({"ref": "w", "wallets": [{"address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}]}).to_string();
    assert_eq!(post_json(&app, "/api/v1/screen", "Wallet B", &body).json()["decision"], "clear");
    let w = sco("cryptocurrency-wallet", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", Tlp::Amber);
    // Through TAXII, as a member would.
    let envelope = json!({"objects": actor_with(9, &w, Tlp::Amber)}).to_string();
    let r = app.request(
        "POST",
        &app.col("objects/"),
        Some("Exchange A"),
        &[("Content-Type", "application/taxii+json;version=2.1")],
        Some(&envelope),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let r = post_json(&app, "/api/v1/screen", "Wallet B", &body);
    assert_eq!(r.json()["decision"], "match", "{}", r.body);
    // Deleting the wallet from the collection takes it out of screening.
    let c = app.store.default_collection().unwrap();
    app.store.delete(c.id, w["id"].as_str().unwrap(), &[]).unwrap();
    let r = post_json(&app, "/api/v1/screen", "Wallet B", &body);
    assert_eq!(r.json()["decision"], "clear", "{}", r.body);
}

#[test]
fn batches_stream_results_in_order_and_report_bad_records_by_line() {
    let app = spawn_app(Config::default());
    let e = sco("email-addr", "known.operative@gmail.com", Tlp::Green);
    app.submit("Exchange A", false, &actor_with(1, &e, Tlp::Green));
    let jsonl = [
        json!({"ref": "a-1", "emails": ["Known.Operative+jobs@googlemail.com"]}).to_string(),
        json!({"ref": "a-2", "emails": ["someone.else@example.org"], "colour": "blue"}).to_string(),
        String::new(),
        json!({"ref": "a-3", "names": ["Jane Doe"]}).to_string(),
        "{not json".to_owned(),
    ]
    .join("\n");
    let r = app.request(
        "POST",
        "/api/v1/screen/batch",
        Some("Recruiter C"),
        &[("Content-Type", "application/x-ndjson"), ("Accept", "application/x-ndjson")],
        Some(&jsonl),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let text = r.dechunked();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!((lines[0]["ref"].as_str(), lines[0]["decision"].as_str()), (Some("a-1"), Some("match")));
    assert_eq!(lines[1]["ref"], "a-2");
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[1]["error"]["field"], "colour");
    assert_eq!((lines[2]["ref"].as_str(), lines[2]["decision"].as_str()), (Some("a-3"), Some("clear")));
    assert_eq!(lines[3]["line"], 5);

    let csv = "ref,names,emails,wallets\nc-1,Jane Doe,known.operative@gmail.com,\nc-2,John Roe,,0xZZ\n";
    let r = app.request(
        "POST",
        "/api/v1/screen/batch",
        Some("Recruiter C"),
        &[("Content-Type", "text/csv"), ("Accept", "application/x-ndjson")],
        Some(csv),
    );
    let text = r.dechunked();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["decision"], "match", "{text}");
    assert_eq!(lines[1]["decision"], "clear");
    assert!(lines[1]["warnings"][0]["reason"].as_str().is_some(), "{text}");
    // A bad header is refused before anything runs.
    let r = app.request(
        "POST",
        "/api/v1/screen/batch",
        Some("Recruiter C"),
        &[("Content-Type", "text/csv"), ("Accept", "application/x-ndjson")],
        Some("ref,favourite_colour\n1,blue\n"),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("favourite_colour"), "{}", r.body);
}

#[test]
fn bad_requests_name_the_field_and_nothing_identifying_reaches_the_audit_log() {
    let app = spawn_app(Config::default());
    let r = post_json(&app, "/api/v1/screen", "Wallet B", r#"{"ref": "r1", "emails": "not-a-list@x.org"}"#);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["ref"], "r1");
    let r = post_json(&app, "/api/v1/screen", "Wallet B", r#"{"emails": ["a@b.org"]}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app.request("POST", "/api/v1/screen", None, &[("Content-Type", "application/json")], Some("{}"));
    assert_eq!(r.status, 401);
    let secret_values = ["applicant.private@gmail.com", "+1 202 555 0199", "Jonathan Q. Applicant"];
    let body = json!({"ref": "hr-42", "emails": [secret_values[0]], "phones": [secret_values[1]], "names": [secret_values[2]]});
    assert_eq!(post_json(&app, "/api/v1/screen", "Wallet B", &body.to_string()).status, 200);
    let r = app.request(
        "GET",
        "/api/v1/search?q=applicant.private%40gmail.com",
        Some("Wallet B"),
        &[("Accept", "application/json")],
        None,
    );
    assert_eq!(r.status, 200);
    let batch = json!({"ref": "hr-43", "emails": [secret_values[0]]}).to_string();
    let r = app.request(
        "POST",
        "/api/v1/screen/batch",
        Some("Wallet B"),
        &[("Content-Type", "application/x-ndjson")],
        Some(&batch),
    );
    assert_eq!(r.status, 200);
    let _ = r.dechunked();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let records = app.store.audit_log(&AuditQuery { limit: 100, ..Default::default() }).unwrap();
    let screens: Vec<_> = records
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/screen") || r.path.starts_with("/api/v1/search"))
        .collect();
    assert!(screens.len() >= 4, "{records:?}");
    for rec in &records {
        let text = format!("{rec:?}");
        for v in secret_values.iter().chain(["hr-42", "hr-43", "applicant.private"].iter()) {
            assert!(!text.contains(v), "audit record holds {v}: {text}");
        }
    }
    let with_hashes = screens.iter().filter(|r| r.params.as_deref().is_some_and(|p| p.contains("identifiers"))).count();
    assert!(with_hashes >= 2, "{screens:?}");
}

#[test]
fn bank_accounts_and_websites_are_screened_per_tlp_level_and_audited_as_hashes_only() {
    let app = spawn_app(Config::default());
    let mut cases = Vec::new();
    for (i, tlp) in Tlp::ALL.into_iter().enumerate() {
        // A UK IBAN per level (valid check digits), stored compact.
        let iban = dossier_match::normalize::bank::iban_of("GB", &format!("NWBK60161331926{i:03}"));
        let mut b = json!({"type": "bank-account", "spec_version": "2.1", "iban": iban, "object_marking_refs": [tlp.marking_id()]});
        let id = dossier_stix::id::deterministic_sco_id("bank-account", b.as_object().unwrap()).unwrap();
        b["id"] = json!(id.as_str());
        app.submit("Exchange A", false, &actor_with(i as u32 + 1, &b, tlp));
        cases.push((tlp, iban, id.as_str().to_owned()));
    }
    let site = sco("url", "https://www.ops-portfolio.dev/about", Tlp::Green);
    app.submit("Exchange A", false, &actor_with(20, &site, Tlp::Green));
    for (tlp, iban, object) in &cases {
        // The applicant writes it in groups of four, lower case.
        let spaced: String = iban
            .to_lowercase()
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        for who in ["Exchange A", "Wallet B", "Recruiter C", "analyst"] {
            let sees = *tlp != Tlp::Red || who == "Exchange A" || who == "analyst";
            let body = json!({"ref": "pay-1", "bank_accounts": [spaced]}).to_string();
            let r = post_json(&app, "/api/v1/screen", who, &body);
            assert_eq!(r.status, 200, "{}", r.body);
            let v = r.json();
            if sees {
                assert_eq!(v["decision"], "match", "{tlp:?} {who}: {}", r.body);
                assert_eq!(v["matches"][0]["evidence"][0]["object"], json!(object));
                assert_eq!(v["matches"][0]["evidence"][0]["field"], "bank_accounts");
            } else {
                assert_eq!(v["decision"], "review", "{tlp:?} {who}: {}", r.body);
                assert_eq!(v["matches"], json!([{"restricted": true, "contact": "the ISAC analysts"}]));
                assert!(!r.body.contains(object.as_str()), "{who} learned the object: {}", r.body);
            }
        }
    }
    // A look-alike (one digit changed) is a warning naming the field, never a hit.
    let (_, iban, _) = &cases[0];
    let mut lookalike = iban.clone().into_bytes();
    let last = lookalike.len() - 1;
    lookalike[last] = if lookalike[last] == b'9' { b'0' } else { lookalike[last] + 1 };
    let lookalike = String::from_utf8(lookalike).unwrap();
    let r = post_json(
        &app,
        "/api/v1/screen",
        "Wallet B",
        &json!({"ref": "pay-2", "bank_accounts": [lookalike]}).to_string(),
    );
    let v = r.json();
    assert_eq!(v["decision"], "clear", "{}", r.body);
    assert_eq!(v["warnings"][0]["field"], "bank_accounts", "{}", r.body);
    // A website, however written, asks for review; the audit log keeps neither value.
    let r = post_json(
        &app,
        "/api/v1/screen",
        "Wallet B",
        &json!({"ref": "pay-3", "websites": ["OPS-PORTFOLIO.dev"]}).to_string(),
    );
    assert_eq!(r.json()["decision"], "review", "{}", r.body);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let records = app.store.audit_log(&AuditQuery { limit: 200, ..Default::default() }).unwrap();
    for rec in &records {
        let text = format!("{rec:?}").to_lowercase();
        for secret in [iban.to_lowercase(), lookalike.to_lowercase(), "ops-portfolio".to_owned(), "pay-1".to_owned()] {
            assert!(!text.contains(&secret), "audit record holds {secret}: {text}");
        }
    }
}

#[test]
fn postal_addresses_are_screened_per_tlp_level_and_audited_as_hashes_only() {
    let app = spawn_app(Config::default());
    let mut cases = Vec::new();
    for (i, tlp) in Tlp::ALL.into_iter().enumerate() {
        // A laptop farm per level, stored in its parts.
        let number = 1400 + i;
        let id = format!("location--00000000-0000-4000-8000-{:012}", 700 + i);
        let loc = json!({"type": "location", "spec_version": "2.1", "id": id, "created": "2025-01-01T00:00:00.000Z",
            "modified": "2025-01-01T00:00:00.000Z", "street_address": format!("{number} N Oak St Apt 3"),
            "city": "Springfield", "postal_code": "62704", "country": "US", "object_marking_refs": [tlp.marking_id()]});
        app.submit("Exchange A", false, &actor_with(40 + i as u32, &loc, tlp));
        cases.push((tlp, number, id));
    }
    for (tlp, number, object) in &cases {
        // The applicant types it another way.
        let typed = format!("{number} north oak street #3\nSpringfield, IL 62704");
        for who in ["Exchange A", "Wallet B", "Recruiter C", "analyst"] {
            let sees = *tlp != Tlp::Red || who == "Exchange A" || who == "analyst";
            let body = json!({"ref": "hire-1", "addresses": [typed]}).to_string();
            let r = post_json(&app, "/api/v1/screen", who, &body);
            assert_eq!(r.status, 200, "{}", r.body);
            let v = r.json();
            // Weak evidence: at most review, never a match.
            assert_eq!(v["decision"], "review", "{tlp:?} {who}: {}", r.body);
            if sees {
                assert_eq!(v["matches"][0]["evidence"][0]["object"], json!(object));
                assert_eq!(v["matches"][0]["evidence"][0]["field"], "addresses");
            } else {
                assert_eq!(v["matches"], json!([{"restricted": true, "contact": "the ISAC analysts"}]));
                assert!(!r.body.contains(object.as_str()), "{who} learned the object: {}", r.body);
            }
        }
    }
    // Another flat of the building is not enough; an unreadable address is a warning.
    let r = post_json(
        &app,
        "/api/v1/screen",
        "Wallet B",
        &json!({"ref": "hire-2", "addresses": ["1400 Oak St Apt 9, Springfield IL 62704", "Springfield"]}).to_string(),
    );
    let v = r.json();
    assert_eq!(v["decision"], "clear", "{}", r.body);
    assert_eq!(v["warnings"][0]["field"], "addresses", "{}", r.body);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let records = app.store.audit_log(&AuditQuery { limit: 200, ..Default::default() }).unwrap();
    for rec in &records {
        // What a record says, not when: a timestamp's digits may hold "62704" by chance.
        let text = format!("{} {} {:?} {:?}", rec.method, rec.path, rec.params, rec.token).to_lowercase();
        for secret in ["oak", "springfield", "62704", "hire-1"] {
            assert!(!text.contains(secret), "audit record holds {secret}: {text}");
        }
    }
}

/// Over HTTP: a candidate found by weak evidence alone (a laptop farm's unit) lists the kinds
/// of identifier the applicant gave that agree with nothing of it, and what they weigh; a
/// candidate an identifier agrees with lists none; a restricted hit says nothing of either.
#[test]
fn identifiers_that_agree_with_nothing_are_listed_against_a_weakly_found_actor() {
    identifiers_that_agree_with_nothing_are_listed_against_a_weakly_found_actor_on(&spawn_app(Config::default()));
}

#[test]
fn identifiers_that_agree_with_nothing_are_listed_against_a_weakly_found_actor_on_postgres() {
    if let Some(app) = spawn_app_pg(Config::default()) {
        identifiers_that_agree_with_nothing_are_listed_against_a_weakly_found_actor_on(&app);
    }
}

fn identifiers_that_agree_with_nothing_are_listed_against_a_weakly_found_actor_on(app: &App) {
    for (n, tlp) in [(60u32, Tlp::Amber), (61, Tlp::Red)] {
        let id = format!("location--00000000-0000-4000-8000-{:012}", 760 + n);
        let loc = json!({"type": "location", "spec_version": "2.1", "id": id, "created": "2025-01-01T00:00:00.000Z",
            "modified": "2025-01-01T00:00:00.000Z", "street_address": format!("{} N Elm St Apt 2", 1500 + n),
            "city": "Springfield", "postal_code": "62704", "country": "US", "object_marking_refs": [tlp.marking_id()]});
        let mut objects = actor_with(n, &loc, tlp);
        let mail = email(&format!("farm.hand{n}@example.net"), tlp);
        objects.push(json!({"type": "relationship", "spec_version": "2.1",
            "id": format!("relationship--00000000-0000-4000-8003-{n:012}"), "created": "2025-01-01T00:00:00.000Z",
            "modified": "2025-01-01T00:00:00.000Z", "relationship_type": "related-to",
            "source_ref": format!("identity--00000000-0000-4000-8000-{n:012}"), "target_ref": mail["id"],
            "object_marking_refs": [tlp.marking_id()]}));
        objects.push(mail);
        app.submit("Exchange A", false, &objects);
    }
    let screen = |who: &str, body: Value| {
        let r = post_json(app, "/api/v1/screen", who, &body.to_string());
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    // The AMBER farm's unit beside an e-mail address and a phone number that are nobody's.
    let v = screen(
        "Wallet B",
        json!({"ref": "hire-1", "addresses": ["1560 North Elm Street #2, Springfield, IL 62704"],
               "emails": ["new.hire@example.org"], "phones": ["+1 217 555 0199"]}),
    );
    let c = &v["matches"][0];
    assert_eq!(c["evidence"][0]["field"], "addresses", "{v}");
    assert_eq!(c["absent"], json!({"fields": ["emails", "phones"], "weight": -0.602}), "{v}");
    // 3.5 for the unit, −0.6 for the two: still worth a look.
    assert_eq!(v["decision"], "review", "{v}");
    // The same unit beside the persona's own address: an identifier agrees, nothing is absent.
    let v = screen(
        "Wallet B",
        json!({"ref": "hire-2", "addresses": ["1560 North Elm Street #2, Springfield, IL 62704"],
               "emails": ["Farm.Hand60@example.net"], "phones": ["+1 217 555 0199"]}),
    );
    assert_eq!(v["decision"], "match", "{v}");
    assert!(v["matches"][0].get("absent").is_none(), "{v}");
    // The RED farm: another member gets a restricted hit and nothing else.
    let v = screen(
        "Wallet B",
        json!({"ref": "hire-3", "addresses": ["1561 N Elm St Apt 2, Springfield IL 62704"],
               "emails": ["new.hire@example.org"], "phones": ["+1 217 555 0199"]}),
    );
    assert_eq!(v["matches"], json!([{"restricted": true, "contact": "the ISAC analysts"}]), "{v}");
    assert_eq!(v["decision"], "review", "{v}");
    // Its owner sees its own candidate with the absence.
    let v = screen(
        "Exchange A",
        json!({"ref": "hire-3", "addresses": ["1561 N Elm St Apt 2, Springfield IL 62704"],
               "emails": ["new.hire@example.org"], "phones": ["+1 217 555 0199"]}),
    );
    assert_eq!(v["matches"][0]["absent"]["fields"], json!(["emails", "phones"]), "{v}");
}
