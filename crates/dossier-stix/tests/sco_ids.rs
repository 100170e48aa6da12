//! Deterministic SCO ids must equal those the OASIS `stix2` library computes
//! (fixture made by tests/fixtures/gen_sco_ids.py).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use dossier_stix::id::deterministic_sco_id;
use serde_json::Value;

#[test]
fn deterministic_ids_match_the_oasis_stix2_library_for_every_sco_type() {
    let fixture: Value = serde_json::from_str(include_str!("../../../tests/fixtures/sco_ids.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    let mut types = std::collections::BTreeSet::new();
    for case in cases {
        let obj = case["object"].as_object().unwrap();
        let ty = obj["type"].as_str().unwrap();
        types.insert(ty.to_owned());
        let id = deterministic_sco_id(ty, obj).unwrap_or_else(|| panic!("no id for {obj:?}"));
        assert_eq!(id.as_str(), case["id"].as_str().unwrap(), "{obj:?}");
    }
    for ty in [
        "email-addr",
        "url",
        "domain-name",
        "ipv4-addr",
        "ipv6-addr",
        "user-account",
        "file",
        "phone-number",
        "cryptocurrency-wallet",
    ] {
        assert!(types.contains(ty), "fixture lacks {ty}");
    }
}
