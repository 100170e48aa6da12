//! Validation tables: each bad object must be refused with an error naming the object id,
//! the property path and a reason a person can act on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use dossier_stix::StixObject;
use serde_json::{Value, json};

const ID: &str = "threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

fn actor() -> Value {
    json!({
        "type": "threat-actor", "spec_version": "2.1", "id": ID,
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-02T00:00:00.000Z",
        "name": "Team JADE", "confidence": 80,
        "object_marking_refs": ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"],
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

#[track_caller]
fn check(v: Value, path: &str, reason: &str) {
    let errs = StixObject::from_value(&v).expect_err("should be invalid");
    assert!(
        errs.iter().any(|e| e.path == path && e.reason.contains(reason)),
        "expected {path}: …{reason}…, got {errs:#?}"
    );
    for e in &errs {
        if let Some(id) = v.get("id").and_then(Value::as_str) {
            assert_eq!(e.object_id.as_deref(), Some(id), "every error names the object");
        }
    }
}

#[test]
fn a_valid_actor_passes_and_keeps_its_json() {
    let text = r#"{"type":"threat-actor","spec_version":"2.1","id":"threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00.100Z","modified":"2024-01-01T00:00:00.1000Z","name":"x","x_custom":{"n":1.50}}"#;
    let o = StixObject::parse(text.as_bytes()).unwrap();
    assert_eq!(o.json(), text);
    assert_eq!(o.version().unwrap().as_str(), "2024-01-01T00:00:00.1000Z");
}

#[test]
fn validation_table() {
    check(without(actor(), "type"), "$.type", "missing");
    check(with(actor(), "type", json!("Threat_Actor")), "$.type", "not a valid STIX type name");
    check(with(actor(), "id", json!("threat-actor--1234")), "$.id", "not a STIX identifier");
    check(with(actor(), "id", json!("identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")), "$.id", "does not match type");
    check(with(actor(), "spec_version", json!("2.0")), "$.spec_version", "STIX 2.1 only");
    check(without(actor(), "spec_version"), "$.spec_version", "missing");
    check(without(actor(), "name"), "$.name", "missing");
    check(with(actor(), "name", json!(42)), "$.name", "expected a string, found a number");
    check(with(actor(), "created", json!("2024-01-01T00:00:00Z")), "$.created", "millisecond");
    check(with(actor(), "created", json!("2024-01-01 00:00:00.000Z")), "$.created", "not a valid timestamp");
    check(with(actor(), "modified", json!("2024-02-30T00:00:00.000Z")), "$.modified", "calendar");
    check(with(actor(), "modified", json!("2023-12-31T23:59:59.999Z")), "$.modified", "later than or equal to created");
    check(with(actor(), "confidence", json!(101)), "$.confidence", "outside the allowed range");
    check(with(actor(), "confidence", json!(50.5)), "$.confidence", "non-integer");
    check(with(actor(), "aliases", json!(["ok", 3])), "$.aliases[1]", "expected a string");
    check(with(actor(), "aliases", json!([])), "$.aliases", "empty");
    check(
        with(actor(), "created_by_ref", json!("threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")),
        "$.created_by_ref",
        "must reference identity",
    );
    check(
        with(actor(), "object_marking_refs", json!(["identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"])),
        "$.object_marking_refs[0]",
        "marking-definition",
    );
    check(with(actor(), "x_target_ref", json!("nope")), "$.x_target_ref", "not a STIX identifier");
    check(
        with(actor(), "external_references", json!([{"url": "https://example.com"}])),
        "$.external_references[0].source_name",
        "missing",
    );
    check(
        with(actor(), "granular_markings", json!([{"selectors": []}])),
        "$.granular_markings[0].selectors",
        "non-empty",
    );
    let seen = with(actor(), "first_seen", json!("2024-05-01T00:00:00Z"));
    check(with(seen, "last_seen", json!("2024-04-01T00:00:00Z")), "$.last_seen", "later than or equal to first_seen");
}

#[test]
fn relationship_and_sighting_reference_rules() {
    let rel = json!({"type": "relationship", "spec_version": "2.1", "id": "relationship--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "relationship_type": "related-to",
        "source_ref": "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "target_ref": "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"});
    check(rel, "$.target_ref", "must reference");
    let s = json!({"type": "sighting", "spec_version": "2.1", "id": "sighting--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "sighting_of_ref": "email-addr--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "count": -1});
    check(s.clone(), "$.sighting_of_ref", "domain object");
    check(s, "$.count", "outside");
}

#[test]
fn sco_rules() {
    check(
        json!({"type": "email-addr", "id": "email-addr--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f"}),
        "$.value",
        "missing",
    );
    check(
        json!({"type": "file", "id": "file--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f", "hashes": {"SHA-256": "abc"}}),
        "$.hashes.SHA-256",
        "64 hexadecimal",
    );
    check(
        json!({"type": "file", "id": "file--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f", "size": 1}),
        "$",
        "hashes or name",
    );
    check(
        json!({"type": "phone-number", "id": "phone-number--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f", "value": 15550101234u64}),
        "$.value",
        "expected a string",
    );
    assert!(StixObject::from_value(&json!({"type": "cryptocurrency-wallet", "id": "cryptocurrency-wallet--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f", "value": "T..."})).is_ok());
    // The identifier kinds added with the kinds table: each bad shape named.
    check(
        json!({"type": "bank-account", "id": "bank-account--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f", "currency": "GBP"}),
        "$.iban",
        "at least one of iban and account_number",
    );
    check(
        json!({"type": "file", "id": "file--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f", "name": "x.jpg", "x_dossier_phash": "12ab"}),
        "$.x_dossier_phash",
        "16 hexadecimal digits",
    );
    check(
        json!({"type": "x-dossier-identity-document", "id": "x-dossier-identity-document--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f",
               "number_hmac": "M12345678"}),
        "$.number_hmac",
        "never the number",
    );
    check(
        json!({"type": "x-dossier-identity-document", "id": "x-dossier-identity-document--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f",
               "number_hmac": "0".repeat(64), "number": "M12345678"}),
        "$.number",
        "only as number_hmac",
    );
    assert!(StixObject::from_value(&json!({"type": "bank-account", "id": "bank-account--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f", "iban": "GB33BUKB20201555555555"})).is_ok());
}

#[test]
fn fixed_tlp_markings_cannot_be_redefined() {
    let red_as_clear = json!({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        "created": "2022-10-01T00:00:00.000Z", "name": "TLP:CLEAR",
        "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {"extension_type": "property-extension", "tlp_2_0": "clear"}}});
    check(red_as_clear, "$", "cannot be redefined");
    for m in dossier_stix::tlp::TLP2.iter().chain(dossier_stix::tlp::TLP1.iter()) {
        StixObject::parse(m.json.as_bytes()).unwrap_or_else(|e| panic!("{}: {e:?}", m.id));
    }
    let with_modified = json!({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2022-10-01T00:00:00.000Z", "modified": "2022-10-01T00:00:00.000Z", "definition_type": "statement", "definition": {"statement": "x"}});
    check(with_modified, "$.modified", "immutable");
}

#[test]
fn every_problem_is_reported_at_once() {
    let v = json!({"type": "threat-actor", "spec_version": "2.1", "id": ID, "created": "bad", "confidence": "high"});
    let errs = StixObject::from_value(&v).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    for p in ["$.created", "$.modified", "$.name", "$.confidence"] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
}

#[test]
fn non_objects_and_bad_json_are_refused() {
    assert!(StixObject::parse(b"[1,2]").unwrap_err()[0].reason.contains("must be a JSON object"));
    assert!(StixObject::parse(b"{\"type\":").unwrap_err()[0].reason.contains("invalid JSON"));
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let text = format!("{{\"type\":\"x-deep\",\"id\":\"x-deep--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\",\"v\":{deep}}}");
    assert!(
        StixObject::parse(text.as_bytes()).is_err(),
        "serde_json's recursion limit refuses it without overflowing the stack"
    );
}

#[test]
fn typed_views_read_the_well_known_types() {
    use dossier_stix::typed::Typed;
    let ta = StixObject::from_value(&actor()).unwrap();
    match ta.typed().unwrap() {
        Typed::ThreatActor(t) => {
            assert_eq!(t.name, "Team JADE");
            assert_eq!(t.common.confidence, Some(80));
            assert_eq!(t.common.object_marking_refs.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    let wallet = StixObject::from_value(
        &json!({"type": "cryptocurrency-wallet", "id": "cryptocurrency-wallet--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f",
        "value": "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7", "x_chain": "tron"}),
    )
    .unwrap();
    match wallet.typed().unwrap() {
        Typed::CryptocurrencyWallet(w) => assert_eq!(w.value, "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"),
        other => panic!("{other:?}"),
    }
    let file = StixObject::from_value(&json!({"type": "file", "id": "file--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f",
        "name": "cv.pdf", "hashes": {"SHA-256": "a".repeat(64)}}))
    .unwrap();
    match file.typed().unwrap() {
        Typed::File(f) => assert_eq!(f.hashes.get("SHA-256").map(|h| h.len()), Some(64)),
        other => panic!("{other:?}"),
    }
    let custom = StixObject::from_value(
        &json!({"type": "x-thing", "id": "x-thing--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f", "v": 1}),
    )
    .unwrap();
    assert!(matches!(custom.typed().unwrap(), Typed::Other(_)));
}

/// STIX 2.1 requires no property of a user-account beyond the common ones (OASIS
/// `stix2-validator` accepts one with none of user_id, account_login, account_type,
/// display_name): a member's bundle with such an account must not be refused.
#[test]
fn a_user_account_needs_no_particular_property() {
    let v = json!({"type": "user-account", "spec_version": "2.1",
        "id": "user-account--0d5b424b-93b8-4cd8-ac36-306e1789d63c", "is_service_account": true});
    let o = StixObject::from_value(&v).expect("a spec-valid user-account");
    assert_eq!(o.id().as_str(), "user-account--0d5b424b-93b8-4cd8-ac36-306e1789d63c");
}
