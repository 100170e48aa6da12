//! Bank accounts, personal websites, photos, identity documents and postal addresses: stored as STIX (`bank-account`, `url`,
//! `domain-name`), matched however either side writes them, look-alikes refused, and each
//! TLP level seen by exactly the right organizations.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use dossier_match::screen::{self, Access, Applicant, Decision, Hit, Index, Options};
use dossier_stix::{Role, Tlp, Viewer};
use serde_json::json;

const ACTOR: &str = "threat-actor--00000000-0000-4000-8000-000000000001";
const P1: &str = "identity--00000000-0000-4000-8000-000000000011";
const IBAN: &str = "bank-account--00000000-0000-5000-8000-000000000101";
const US_ACCT: &str = "bank-account--00000000-0000-5000-8000-000000000102";
const SITE: &str = "url--00000000-0000-5000-8000-000000000103";
const DOMAIN: &str = "domain-name--00000000-0000-5000-8000-000000000104";
const RED_IBAN: &str = "bank-account--00000000-0000-5000-8000-000000000105";
const PHOTO: &str = "file--00000000-0000-5000-8000-000000000106";
const RED_PHOTO: &str = "file--00000000-0000-5000-8000-000000000107";
/// A headshot's perceptual hash, and another persona's (red) one far from it.
const PHASH: u64 = 0x9a3c_5e71_0f2d_b468;
const RED_PHASH: u64 = 0x1111_2222_4444_8888;
const OWNER: i64 = 1;
const RED_OWNER: i64 = 2;

fn access(tlp: Tlp, owner: i64) -> Access {
    Access { tlp, owner, recipients: Vec::new(), staff_only: false, confidence: None }
}

fn index() -> Index {
    let mut ix = Index::new();
    let amber = access(Tlp::Amber, OWNER);
    ix.upsert(ACTOR, &json!({"type": "threat-actor", "name": "team JADE"}).to_string(), amber.clone());
    ix.upsert(
        P1,
        &json!({"type": "identity", "name": "Kim Chol-su", "identity_class": "individual"}).to_string(),
        amber.clone(),
    );
    let objects = [
        (IBAN, json!({"type": "bank-account", "iban": "GB33BUKB20201555555555", "currency": "GBP"}), Tlp::Amber, OWNER),
        (
            US_ACCT,
            json!({"type": "bank-account", "account_number": "000123456789", "x_dossier_bank_code": "021000021", "country": "USA"}),
            Tlp::Green,
            OWNER,
        ),
        (SITE, json!({"type": "url", "value": "https://www.Chol-Su.dev/portfolio"}), Tlp::Amber, OWNER),
        (DOMAIN, json!({"type": "domain-name", "value": "cs-builds.io"}), Tlp::Clear, OWNER),
        (RED_IBAN, json!({"type": "bank-account", "iban": "DE89 3704 0044 0532 0130 00"}), Tlp::Red, RED_OWNER),
        (
            PHOTO,
            json!({"type": "file", "name": "headshot.jpg", "x_dossier_phash": format!("{PHASH:016x}")}),
            Tlp::Amber,
            OWNER,
        ),
        (
            RED_PHOTO,
            json!({"type": "file", "hashes": {"SHA-256": "a".repeat(64)}, "x_dossier_phash": format!("{RED_PHASH:016X}")}),
            Tlp::Red,
            RED_OWNER,
        ),
    ];
    for (n, (id, j, tlp, owner)) in objects.into_iter().enumerate() {
        ix.upsert(id, &j.to_string(), access(tlp, owner));
        let rid = format!("relationship--00000000-0000-4000-8000-{:012}", 300 + n);
        let r = json!({"type": "relationship", "relationship_type": "related-to", "source_ref": P1, "target_ref": id});
        ix.upsert(&rid, &r.to_string(), access(tlp, owner));
    }
    let r =
        json!({"type": "relationship", "relationship_type": "attributed-to", "source_ref": P1, "target_ref": ACTOR});
    ix.upsert("relationship--00000000-0000-4000-8000-000000000399", &r.to_string(), amber);
    ix
}

fn member(org: i64) -> Viewer {
    Viewer { org, role: Role::Member, isac: false }
}

fn run(ix: &Index, v: serde_json::Value, viewer: Viewer) -> screen::Screening {
    let a: Applicant = screen::input::from_json(v.to_string().as_bytes(), &Default::default()).unwrap();
    ix.screen(&a, &viewer, &Options::default())
}

fn evidence_objects(s: &screen::Screening) -> Vec<String> {
    s.matches
        .iter()
        .filter_map(|h| match h {
            Hit::Candidate(c) => Some(c.evidence.iter().map(|e| e.object.clone()).collect::<Vec<_>>()),
            Hit::Restricted(_) => None,
        })
        .flatten()
        .collect()
}

#[test]
fn an_iban_matches_however_it_is_written_and_its_national_form_meets_it() {
    let ix = index();
    for written in [
        json!("gb33 bukb 2020 1555 5555 55"),
        json!("GB33-BUKB-2020-1555-5555-55"),
        json!({"iban": "GB33BUKB20201555555555"}),
        json!({"sort_code": "20-20-15", "account_number": "55555555", "country": "GB"}),
        json!("20-20-15 55555555"),
    ] {
        let s = run(&ix, json!({"ref": "b1", "bank_accounts": [written.clone()]}), member(3));
        assert_eq!(s.decision, Decision::Match, "{written}: {s:?}");
        assert_eq!(evidence_objects(&s), [IBAN], "{written}");
    }
    // A US account by routing number and account number, leading zeros or not.
    let s = run(&ix, json!({"ref": "b2", "bank_accounts": ["021000021 123456789"]}), member(3));
    assert_eq!(s.decision, Decision::Match, "{s:?}");
    assert_eq!(evidence_objects(&s), [US_ACCT]);
}

#[test]
fn look_alike_and_bare_account_numbers_never_match() {
    let ix = index();
    // One character changed: the check digits fail, a warning and nothing else.
    let s = run(&ix, json!({"ref": "b3", "bank_accounts": ["GB33BUKB20201555555556"]}), member(3));
    assert_eq!(s.decision, Decision::Clear);
    assert!(s.matches.is_empty());
    assert_eq!(s.warnings.len(), 1);
    assert!(s.warnings[0].reason.contains("check digits"), "{:?}", s.warnings);
    // A routing number that fails the ABA checksum is refused too.
    let s = run(&ix, json!({"ref": "b4", "bank_accounts": ["021000022 123456789"]}), member(3));
    assert!(s.matches.is_empty() && s.warnings.len() == 1, "{s:?}");
    // The account number alone is an account at many banks: weak, never a match.
    let s = run(&ix, json!({"ref": "b5", "bank_accounts": [{"account_number": "55555555"}]}), member(3));
    assert_ne!(s.decision, Decision::Match, "{s:?}");
}

#[test]
fn a_personal_website_asks_for_review_and_supports_other_evidence() {
    let ix = index();
    for site in ["chol-su.dev", "http://CHOL-SU.dev:443/about", "https://www.chol-su.dev/"] {
        let s = run(&ix, json!({"ref": "w1", "websites": [site]}), member(3));
        assert_eq!(s.decision, Decision::Review, "{site}: {s:?}");
        assert_eq!(evidence_objects(&s), [SITE]);
    }
    let s = run(&ix, json!({"ref": "w2", "websites": ["https://cs-builds.io/"], "names": ["Kim Chol Su"]}), member(3));
    assert_eq!(s.decision, Decision::Match, "{s:?}");
    // A website that is really a platform profile is refused with the reason.
    let s = run(&ix, json!({"ref": "w3", "websites": ["https://github.com/cs-dev"]}), member(3));
    assert!(s.warnings.iter().any(|w| w.field == "websites" && w.reason.contains("account")), "{s:?}");
}

#[test]
fn each_tlp_level_of_a_bank_account_is_seen_by_exactly_the_right_organizations() {
    let ix = index();
    let red = json!({"ref": "r1", "bank_accounts": ["DE89370400440532013000"]});
    // Another member: a restricted hit, nothing of the account or its persona.
    let s = run(&ix, red.clone(), member(3));
    assert_eq!(s.decision, Decision::Review);
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains("\"restricted\":true"));
    for secret in [RED_IBAN, P1, ACTOR, "DE89", "Kim"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // Its owner and the ISAC analysts see it; the German national form meets it.
    for viewer in [member(RED_OWNER), Viewer { org: 9, role: Role::Analyst, isac: true }] {
        let s = run(&ix, red.clone(), viewer);
        assert_eq!(s.decision, Decision::Match, "{viewer:?}");
        assert_eq!(evidence_objects(&s), [RED_IBAN]);
        let national = json!({"ref": "r2", "bank_accounts": [{"bank_code": "37040044", "account_number": "532013000", "country": "DE"}]});
        assert_eq!(evidence_objects(&run(&ix, national, viewer)), [RED_IBAN]);
    }
    // GREEN and AMBER are seen by every member.
    for org in [OWNER, RED_OWNER, 3] {
        let s = run(
            &ix,
            json!({"ref": "g", "bank_accounts": ["021000021 123456789", "GB33BUKB20201555555555"]}),
            member(org),
        );
        assert_eq!(s.decision, Decision::Match);
        let mut seen = evidence_objects(&s);
        seen.sort();
        assert_eq!(seen, [IBAN, US_ACCT], "org {org}");
    }
}

#[test]
fn one_account_written_twice_counts_once() {
    let ix = index();
    // The IBAN and its national form in one input value are one fact; the score is that
    // of one IBAN, not two.
    let one = run(&ix, json!({"ref": "c1", "bank_accounts": ["GB33BUKB20201555555555"]}), member(3));
    let Hit::Candidate(c) = &one.matches[0] else { panic!("restricted") };
    assert_eq!(c.evidence.len(), 1, "{c:?}");
    assert_eq!(c.evidence[0].normalized, "iban:GB33BUKB20201555555555");
}

#[test]
fn search_finds_an_iban_and_a_website() {
    let ix = index();
    let s = ix.search("GB33 BUKB 2020 1555 5555 55", &member(3), &Options::default());
    assert_eq!(evidence_objects(&s), [IBAN], "{s:?}");
    let s = ix.search("chol-su.dev", &member(3), &Options::default());
    assert_eq!(evidence_objects(&s), [SITE], "{s:?}");
    // A name written with a dot is still searched as a name.
    let s = ix.search("Kim.Chol-su", &member(3), &Options::default());
    let Hit::Candidate(c) = &s.matches[0] else { panic!("restricted") };
    assert_eq!(c.evidence[0].field, "names", "{s:?}");
}

fn flipped(h: u64, bits: u32) -> String {
    // The lowest `bits` bits flipped.
    format!("{:016x}", h ^ ((1u64 << bits) - 1))
}

#[test]
fn a_reused_headshot_is_found_within_a_few_bits_and_asks_for_review_only() {
    let ix = index();
    for bits in [0, 3, 6, 8] {
        let s = run(&ix, json!({"ref": "f1", "photos": [flipped(PHASH, bits)]}), member(3));
        assert_eq!(evidence_objects(&s), [PHOTO], "{bits} bits: {s:?}");
        // A photo is never a match on its own.
        assert_ne!(s.decision, Decision::Match, "{bits} bits");
        let Hit::Candidate(c) = &s.matches[0] else { panic!("restricted") };
        assert_eq!(c.evidence[0].field, "photos");
    }
    assert_eq!(run(&ix, json!({"ref": "f2", "photos": [flipped(PHASH, 3)]}), member(3)).decision, Decision::Review);
    // Beyond the threshold: another picture.
    let s = run(&ix, json!({"ref": "f3", "photos": [flipped(PHASH, 9)]}), member(3));
    assert!(s.matches.is_empty(), "{s:?}");
    // With a name of the persona it is a review with more weight, still not a match.
    let s = run(&ix, json!({"ref": "f4", "photos": [flipped(PHASH, 1)], "names": ["Kim Chol-su"]}), member(3));
    assert_eq!(s.decision, Decision::Review, "{s:?}");
    // Bad hashes are warnings naming the field.
    let s = run(&ix, json!({"ref": "f5", "photos": ["not-a-hash"]}), member(3));
    assert_eq!(s.warnings[0].field, "photos");
}

#[test]
fn a_red_photo_is_a_restricted_hit_for_others_and_removal_takes_effect() {
    let mut ix = index();
    let input = json!({"ref": "f6", "photos": [flipped(RED_PHASH, 2)]});
    let s = run(&ix, input.clone(), member(3));
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains("\"restricted\":true") && !text.contains(RED_PHOTO) && !text.contains(P1), "{text}");
    assert_eq!(evidence_objects(&run(&ix, input.clone(), member(RED_OWNER))), [RED_PHOTO]);
    // A later version without the hash, then the object removed: nothing left to find.
    ix.upsert(
        RED_PHOTO,
        &json!({"type": "file", "hashes": {"SHA-256": "a".repeat(64)}}).to_string(),
        access(Tlp::Red, RED_OWNER),
    );
    assert!(run(&ix, input.clone(), member(RED_OWNER)).matches.is_empty());
    ix.upsert(
        RED_PHOTO,
        &json!({"type": "file", "hashes": {"SHA-256": "a".repeat(64)}, "x_dossier_phash": format!("{RED_PHASH:016x}")})
            .to_string(),
        access(Tlp::Red, RED_OWNER),
    );
    assert_eq!(evidence_objects(&run(&ix, input.clone(), member(RED_OWNER))), [RED_PHOTO]);
    ix.remove(RED_PHOTO);
    assert!(run(&ix, input, member(RED_OWNER)).matches.is_empty());
}

#[test]
fn a_stock_photo_held_by_several_actors_weighs_less() {
    let mut ix = index();
    // The same picture filed for three more actors' personas.
    for k in 0..3u32 {
        let actor = format!("threat-actor--00000000-0000-4000-8000-{:012}", 900 + k);
        let persona = format!("identity--00000000-0000-4000-8000-{:012}", 910 + k);
        let file = format!("file--00000000-0000-5000-8000-{:012}", 920 + k);
        let a = access(Tlp::Green, OWNER);
        ix.upsert(&actor, &json!({"type": "threat-actor", "name": format!("team {k}")}).to_string(), a.clone());
        ix.upsert(
            &persona,
            &json!({"type": "identity", "name": "Someone", "identity_class": "individual"}).to_string(),
            a.clone(),
        );
        ix.upsert(
            &file,
            &json!({"type": "file", "name": format!("stock {k}"), "x_dossier_phash": flipped(PHASH, k)}).to_string(),
            a.clone(),
        );
        for (j, (src, dst)) in [(&persona, &actor), (&persona, &file)].into_iter().enumerate() {
            let r = json!({"type": "relationship", "relationship_type": "related-to", "source_ref": src, "target_ref": dst});
            ix.upsert(
                &format!("relationship--00000000-0000-4000-8000-{:012}", 930 + 2 * k + j as u32),
                &r.to_string(),
                a.clone(),
            );
        }
    }
    // Alone, it weighs 2 × log10 4 less than a team's own headshot (4.0) and is at most
    // worth a look: one chance in three.
    let s = run(&ix, json!({"ref": "f7", "photos": [flipped(PHASH, 0)]}), member(3));
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains("likely a public template"), "{text}");
    assert!(s.score < 0.5, "{text}");
    for c in s.matches.iter().filter_map(|h| match h {
        screen::Hit::Candidate(c) => Some(c),
        screen::Hit::Restricted(_) => None,
    }) {
        assert!(c.llr < 4.0 - 1.2 + 1e-9, "{text}");
    }
    // Beside the e-mail address and phone number every applicant gives, which are nobody's
    // in the data, it is no lead.
    let s = run(
        &ix,
        json!({"ref": "f7", "photos": [flipped(PHASH, 0)], "emails": ["someone.else@example.org"], "phones": ["+44 20 7946 0321"]}),
        member(3),
    );
    assert_eq!(s.decision, Decision::Clear, "{s:?}");
}

#[test]
fn a_snapshot_keeps_bank_accounts_websites_and_photos() {
    let ix = index();
    let mut bytes = Vec::new();
    ix.write_snapshot(&mut bytes, b"t").unwrap();
    let (back, _) = Index::read_snapshot(&mut bytes.as_slice()).unwrap();
    for a in [
        json!({"ref": "s1", "bank_accounts": ["20-20-15 55555555"]}),
        json!({"ref": "s2", "websites": ["chol-su.dev"], "photos": [flipped(PHASH, 2)]}),
        json!({"ref": "s3", "photos": [flipped(RED_PHASH, 1)], "bank_accounts": ["DE89370400440532013000"]}),
    ] {
        for v in [member(3), member(RED_OWNER)] {
            let x = serde_json::to_string(&run(&ix, a.clone(), v)).unwrap();
            let y = serde_json::to_string(&run(&back, a.clone(), v)).unwrap();
            assert_eq!(x, y, "{a}");
            assert!(x.contains("\"decision\":\"match\"") || x.contains("\"decision\":\"review\""), "{x}");
        }
    }
}

const KEY: &[u8] = b"the ISAC's id-document key";

fn doc_hmac(kind: &str, country: &str, number: &str) -> String {
    dossier_match::normalize::id_document::normalize(kind, country, number).unwrap().hmac(KEY)
}

/// An index with a persona's passport, and a stolen identity's, both stored as keyed hashes.
fn with_documents() -> Index {
    let mut ix = index();
    let stolen = "identity--00000000-0000-4000-8000-000000000013";
    let a = access(Tlp::Amber, OWNER);
    ix.upsert(
        stolen,
        &json!({"type": "identity", "name": "Daniel Whitfield", "identity_class": "individual", "labels": ["stolen-identity"]}).to_string(),
        a.clone(),
    );
    for (n, (id, owner_persona, number)) in [
        ("x-dossier-identity-document--00000000-0000-5000-8000-000000000201", P1, "M12345678"),
        ("x-dossier-identity-document--00000000-0000-5000-8000-000000000202", stolen, "548120377"),
    ]
    .into_iter()
    .enumerate()
    {
        let country = if n == 0 { "KR" } else { "US" };
        let doc = json!({"type": "x-dossier-identity-document", "document_type": "passport", "issuing_country": country,
            "number_hmac": doc_hmac("passport", country, number)});
        ix.upsert(id, &doc.to_string(), a.clone());
        let r = json!({"type": "relationship", "relationship_type": "related-to", "source_ref": owner_persona, "target_ref": id});
        ix.upsert(&format!("relationship--00000000-0000-4000-8000-{:012}", 500 + n), &r.to_string(), a.clone());
    }
    let r =
        json!({"type": "relationship", "relationship_type": "impersonates", "source_ref": ACTOR, "target_ref": stolen});
    ix.upsert("relationship--00000000-0000-4000-8000-000000000599", &r.to_string(), a);
    ix
}

fn with_key() -> Options {
    Options { id_document_key: Some(KEY.into()), ..Options::default() }
}

#[test]
fn an_identity_document_matches_by_keyed_hash_and_never_shows_its_number() {
    let ix = with_documents();
    let a: Applicant = screen::input::from_json(
        json!({"ref": "d1", "id_documents": ["Passport KOR m1234 5678"]}).to_string().as_bytes(),
        &Default::default(),
    )
    .unwrap();
    let s = ix.screen(&a, &member(3), &with_key());
    assert_eq!(s.decision, Decision::Match, "{s:?}");
    let text = serde_json::to_string(&s).unwrap();
    assert!(!text.contains("12345678") && !text.contains("M1234"), "the number leaked: {text}");
    // Without the key: a warning, never a comparison.
    let s = ix.screen(&a, &member(3), &Options::default());
    assert!(s.matches.is_empty() && s.warnings[0].field == "id_documents", "{s:?}");
    // Another key gives other hashes: nothing matches.
    let other = Options { id_document_key: Some(b"another key".as_slice().into()), ..Options::default() };
    assert!(ix.screen(&a, &member(3), &other).matches.is_empty());
}

#[test]
fn the_owner_of_a_stolen_identity_applying_with_their_own_passport_is_not_flagged() {
    let ix = with_documents();
    let a: Applicant = screen::input::from_json(
        json!({"ref": "d2", "names": ["Daniel Whitfield"], "id_documents": [{"type": "passport", "country": "US", "number": "548120377"}]})
            .to_string()
            .as_bytes(),
        &Default::default(),
    )
    .unwrap();
    let s = ix.screen(&a, &member(3), &with_key());
    assert_eq!(s.decision, Decision::Clear, "{s:?}");
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains("identity was stolen"), "{text}");
}

const LOCATION: &str = "location--00000000-0000-4000-8000-000000000401";
const RED_LOCATION: &str = "location--00000000-0000-4000-8000-000000000402";

/// The index with the team's laptop-farm address (AMBER) and another member's RED one.
fn with_addresses() -> Index {
    let mut ix = index();
    for (n, (id, loc, tlp, owner)) in [
        (
            LOCATION,
            json!({"type": "location", "street_address": "1420 N Oak St Apt 3", "city": "Springfield", "postal_code": "62704", "country": "US"}),
            Tlp::Amber,
            OWNER,
        ),
        (
            RED_LOCATION,
            json!({"type": "location", "street_address": "Hauptstraße 12a", "city": "Berlin", "postal_code": "10115", "country": "DE"}),
            Tlp::Red,
            RED_OWNER,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        ix.upsert(id, &loc.to_string(), access(tlp, owner));
        let r = json!({"type": "relationship", "relationship_type": "located-at", "source_ref": P1, "target_ref": id});
        ix.upsert(&format!("relationship--00000000-0000-4000-8000-{:012}", 450 + n), &r.to_string(), access(tlp, owner));
    }
    // A country is a location too, and nobody's address.
    ix.upsert(
        "location--00000000-0000-4000-8000-000000000403",
        &json!({"type": "location", "country": "KP"}).to_string(),
        access(Tlp::Clear, OWNER),
    );
    ix
}

#[test]
fn a_laptop_farms_address_is_weak_evidence_that_reaches_review_and_never_a_match() {
    let ix = with_addresses();
    // The same unit written another way asks for review, never more.
    for typed in
        ["1420 oak street #3, springfield il 62704", "1420 North Oak Street, Apt. 3\nSpringfield, IL 62704-0001"]
    {
        let s = run(&ix, json!({"ref": "a1", "addresses": [typed]}), member(3));
        assert_eq!(s.decision, Decision::Review, "{typed}: {s:?}");
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains(LOCATION) && text.contains("same unit"), "{text}");
        // Beside a name it is still no match: neither is an identifier.
        let s = run(&ix, json!({"ref": "a2", "addresses": [typed], "names": ["Kim Chol Su"]}), member(3));
        assert_eq!(s.decision, Decision::Review, "{s:?}");
    }
    // Another flat in the building, a neighbour's house, another town: not enough or nothing.
    let s = run(&ix, json!({"ref": "a3", "addresses": ["1420 Oak St Apt 4, Springfield IL 62704"]}), member(3));
    assert_eq!(s.decision, Decision::Clear, "{s:?}");
    for other in ["1422 Oak St Apt 3, Springfield IL 62704", "1420 Oak St Apt 3, Peoria IL 61602"] {
        let s = run(&ix, json!({"ref": "a4", "addresses": [other]}), member(3));
        assert!(s.matches.is_empty(), "{other}: {s:?}");
    }
    // What does not read as an address is a warning naming the field.
    let s = run(&ix, json!({"ref": "a5", "addresses": ["Springfield, IL"]}), member(3));
    assert!(s.warnings.iter().any(|w| w.field == "addresses"), "{s:?}");
}

#[test]
fn a_red_address_is_seen_by_its_owner_only_and_moves_nothing_for_others() {
    let ix = with_addresses();
    let berlin = json!({"ref": "r1", "addresses": ["Hauptstr. 12A, 10115 Berlin"]});
    let owner = run(&ix, berlin.clone(), member(RED_OWNER));
    assert_eq!(owner.decision, Decision::Review, "{owner:?}");
    assert!(serde_json::to_string(&owner).unwrap().contains(RED_LOCATION));
    for v in [member(3), member(OWNER)] {
        let s = run(&ix, berlin.clone(), v);
        let text = serde_json::to_string(&s).unwrap();
        assert!(!text.contains(RED_LOCATION), "{text}");
        assert!(s.matches.iter().all(|h| !matches!(h, Hit::Candidate(_))), "{text}");
    }
    // The visible address weighs the same for everyone, with or without the RED one.
    let farm = json!({"ref": "r2", "addresses": ["1420 Oak St #3, Springfield 62704"]});
    let with = serde_json::to_string(&run(&ix, farm.clone(), member(3))).unwrap();
    let without = serde_json::to_string(&run(&with_addresses_but_red_removed(), farm, member(3))).unwrap();
    assert_eq!(with, without);
}

fn with_addresses_but_red_removed() -> Index {
    let mut ix = with_addresses();
    ix.remove(RED_LOCATION);
    ix
}

#[test]
fn a_snapshot_keeps_addresses() {
    let ix = with_addresses();
    let mut bytes = Vec::new();
    ix.write_snapshot(&mut bytes, b"t").unwrap();
    let (back, _) = Index::read_snapshot(&mut bytes.as_slice()).unwrap();
    let a = json!({"ref": "s4", "addresses": ["1420 oak st apt 3, springfield, il 62704"]});
    for v in [member(3), member(RED_OWNER)] {
        assert_eq!(
            serde_json::to_string(&run(&ix, a.clone(), v)).unwrap(),
            serde_json::to_string(&run(&back, a.clone(), v)).unwrap()
        );
    }
}
