//! A watched subject, kept only as keyed hashes and signatures, screens like the applicant
//! it was made from (but for fuzzy names and IP ranges), and its kept form holds no value.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use dossier_match::screen::{self, Access, Applicant, Index, Options, Watched};
use dossier_stix::{Role, Tlp, Viewer};
use serde_json::json;

const ACTOR: &str = "threat-actor--00000000-0000-4000-8000-000000000001";
const P1: &str = "identity--00000000-0000-4000-8000-000000000011";
const RESUME: &str = "Senior Rust engineer with eight years of experience building payment systems, \
    distributed ledgers and trading engines for exchanges in Singapore and Seoul, leading teams of \
    five to ten developers, designing gRPC services and Kafka pipelines, with a strong record in \
    performance tuning, observability and incident response for high volume platforms.";

fn access(tlp: Tlp) -> Access {
    Access { tlp, owner: 1, recipients: Vec::new(), staff_only: false, confidence: None }
}

fn index() -> Index {
    let mut ix = Index::new();
    let a = access(Tlp::Amber);
    ix.upsert(ACTOR, &json!({"type": "threat-actor", "name": "team JADE"}).to_string(), a.clone());
    ix.upsert(
        P1,
        &json!({"type": "identity", "name": "Kim Chol-su", "identity_class": "individual"}).to_string(),
        a.clone(),
    );
    let objects = [
        (
            "email-addr--00000000-0000-5000-8000-000000000101",
            json!({"type": "email-addr", "value": "kim.cholsu@gmail.com"}),
        ),
        (
            "phone-number--00000000-0000-5000-8000-000000000102",
            json!({"type": "phone-number", "value": "+13125550142"}),
        ),
        ("note--00000000-0000-4000-8000-000000000103", json!({"type": "note", "content": RESUME, "object_refs": [P1]})),
    ];
    for (n, (id, j)) in objects.iter().enumerate() {
        ix.upsert(id, &j.to_string(), a.clone());
        if !id.starts_with("note--") {
            let r =
                json!({"type": "relationship", "relationship_type": "related-to", "source_ref": P1, "target_ref": id});
            ix.upsert(&format!("relationship--00000000-0000-4000-8000-{:012}", 300 + n), &r.to_string(), a.clone());
        }
    }
    let r =
        json!({"type": "relationship", "relationship_type": "attributed-to", "source_ref": P1, "target_ref": ACTOR});
    ix.upsert("relationship--00000000-0000-4000-8000-000000000399", &r.to_string(), a);
    ix
}

fn member() -> Viewer {
    Viewer { org: 3, role: Role::Member, isac: false }
}

#[test]
fn a_watched_subject_screens_like_its_applicant_and_keeps_no_value() {
    let ix = index();
    let opts = Options::default();
    let a: Applicant = screen::input::from_json(
        json!({"ref": "hire-1", "emails": ["Kim.Chol.Su+jobs@googlemail.com"], "phones": ["(312) 555-0142"],
               "resume_text": RESUME.replace("eight", "nine"), "names": ["Kim Chol Su"]})
        .to_string()
        .as_bytes(),
        &Default::default(),
    )
    .unwrap();
    let w = ix.watch(&a, &opts);
    let kept = serde_json::to_string(&w).unwrap();
    for value in ["kim", "cholsu", "5550142", "Rust engineer", "Chol"] {
        assert!(!kept.to_lowercase().contains(&value.to_lowercase()), "the kept form holds {value}: {kept}");
    }
    let back: Watched = serde_json::from_str(&kept).unwrap();
    let direct = ix.screen(&a, &member(), &opts);
    let watched = ix.screen_watched(&back, &member(), &opts);
    assert_eq!(direct.decision, watched.decision);
    assert_eq!(direct.score, watched.score);
    let objects = |s: &screen::Screening| s.revealed_objects();
    assert_eq!(objects(&direct), objects(&watched));
    let text = serde_json::to_string(&watched).unwrap();
    assert!(!text.contains("googlemail") && !text.contains("555-0142"), "{text}");
    // What a change to the index may meet: the email's key hash is one of the subject's.
    let email_keys = ix.key_hashes_of("email-addr--00000000-0000-5000-8000-000000000101");
    assert!(email_keys.iter().any(|h| back.hashes().contains(h)));
    assert!(ix.key_hashes_of("threat-actor--00000000-0000-4000-8000-000000000999").is_empty());
}
