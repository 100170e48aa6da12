//! The screening engine on a small hand-made graph: decisions, explanations, TLP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use dossier_match::screen::{self, Access, Applicant, Decision, Hit, Index, Options};
use dossier_stix::{Role, Tlp, Viewer};
use serde_json::json;

const ACTOR: &str = "threat-actor--00000000-0000-4000-8000-000000000001";
const ACTOR2: &str = "threat-actor--00000000-0000-4000-8000-000000000002";
const P1: &str = "identity--00000000-0000-4000-8000-000000000011";
const P2: &str = "identity--00000000-0000-4000-8000-000000000012";
const STOLEN: &str = "identity--00000000-0000-4000-8000-000000000013";
const P3: &str = "identity--00000000-0000-4000-8000-000000000021";
const EMAIL: &str = "email-addr--00000000-0000-5000-8000-000000000101";
const WALLET: &str = "cryptocurrency-wallet--00000000-0000-5000-8000-000000000102";
const PHONE: &str = "phone-number--00000000-0000-5000-8000-000000000103";
const RED_EMAIL: &str = "email-addr--00000000-0000-5000-8000-000000000104";
const VPN: &str = "ipv4-addr--00000000-0000-5000-8000-000000000105";
const STAFF_WALLET: &str = "cryptocurrency-wallet--00000000-0000-5000-8000-000000000106";
const NOTE: &str = "note--00000000-0000-4000-8000-000000000201";

const RESUME: &str = "Senior blockchain engineer with eight years building decentralized exchanges, cross-chain bridges and smart contract audits for fintech startups; led remote teams across time zones, shipped React and TypeScript front ends, designed Solidity vaults and Rust indexers, and mentored junior developers on security reviews.";

fn access(tlp: Tlp, owner: i64) -> Access {
    Access { tlp, owner, recipients: Vec::new(), staff_only: false, confidence: Some(90) }
}

fn rel(n: u32, src: &str, dst: &str) -> (String, String) {
    let id = format!("relationship--00000000-0000-4000-8000-{n:012}");
    let j = json!({"type": "relationship", "id": id, "relationship_type": "related-to", "source_ref": src, "target_ref": dst});
    (id, j.to_string())
}

fn index() -> Index {
    let mut ix = Index::new();
    let amber = access(Tlp::Amber, 1);
    // Relationships first: the index must not depend on arrival order.
    for (n, s, d) in [
        (301, P1, ACTOR),
        (302, P2, ACTOR),
        (303, ACTOR, STOLEN),
        (304, P1, EMAIL),
        (305, P1, WALLET),
        (306, P2, WALLET),
        (307, P2, PHONE),
        (308, P1, VPN),
        (309, P3, ACTOR2),
        (310, P3, VPN),
        (312, P3, STAFF_WALLET),
    ] {
        let (id, j) = rel(n, s, d);
        ix.upsert(&id, &j, amber.clone());
    }
    let (id, j) = rel(311, P2, RED_EMAIL);
    ix.upsert(&id, &j, access(Tlp::Red, 2));
    ix.upsert(ACTOR, &json!({"type": "threat-actor", "name": "IT worker team JADE"}).to_string(), amber.clone());
    ix.upsert(ACTOR2, &json!({"type": "threat-actor", "name": "team ONYX"}).to_string(), amber.clone());
    for (id, name) in [(P1, "Kim Chol-su"), (P2, "Pak Yong-ho"), (P3, "Ri Myong-chol")] {
        ix.upsert(
            id,
            &json!({"type": "identity", "name": name, "identity_class": "individual"}).to_string(),
            amber.clone(),
        );
    }
    ix.upsert(
        STOLEN,
        &json!({"type": "identity", "name": "Daniel Whitfield", "identity_class": "individual", "labels": ["stolen-identity"]})
            .to_string(),
        amber.clone(),
    );
    ix.upsert(EMAIL, &json!({"type": "email-addr", "value": "cholsu.dev@gmail.com"}).to_string(), amber.clone());
    ix.upsert(
        WALLET,
        &json!({"type": "cryptocurrency-wallet", "value": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}).to_string(),
        amber.clone(),
    );
    ix.upsert(PHONE, &json!({"type": "phone-number", "value": "+12025550143"}).to_string(), amber.clone());
    ix.upsert(
        RED_EMAIL,
        &json!({"type": "email-addr", "value": "secret.op@proton.me"}).to_string(),
        access(Tlp::Red, 2),
    );
    ix.upsert(VPN, &json!({"type": "ipv4-addr", "value": "198.51.100.7"}).to_string(), amber.clone());
    let mut staff = access(Tlp::Green, 1);
    staff.staff_only = true;
    ix.upsert(
        STAFF_WALLET,
        &json!({"type": "cryptocurrency-wallet", "value": "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"}).to_string(),
        staff,
    );
    ix.upsert(NOTE, &json!({"type": "note", "content": RESUME, "object_refs": [P2]}).to_string(), amber);
    ix
}

/// `TYPE--00000000-0000-4000-8000-N`, an id of the tests' pattern.
fn oid(ty: &str, n: u64) -> String {
    format!("{ty}--00000000-0000-4000-8000-{n:012}")
}

/// Relationship `n`, `related-to` from `s` to `d`: its id and JSON.
fn related(n: u64, s: &str, d: &str) -> (String, String) {
    let j = json!({"type": "relationship", "relationship_type": "related-to", "source_ref": s, "target_ref": d});
    (oid("relationship", n), j.to_string())
}

/// An index filled by `fill`, object by object or (`bulk`) as a bulk load finished.
fn built(bulk: bool, fill: impl FnOnce(&mut Index)) -> Index {
    let mut ix = Index::new();
    if bulk {
        ix.begin_bulk(1000);
    }
    fill(&mut ix);
    if bulk {
        ix.finish_bulk();
    }
    ix
}

/// The address of [`team_at`].
const IP: &str = "ipv4-addr--00000000-0000-5000-8000-000000000001";

/// A team (actor 1, "JADE") with one persona named `persona` and its own address `ip`
/// (198.51.100.7), all under `a`.
fn team_at(ix: &mut Index, persona: &str, ip: &str, a: &Access) {
    ix.upsert(&oid("threat-actor", 1), &json!({"type": "threat-actor", "name": "JADE"}).to_string(), a.clone());
    let p = json!({"type": "identity", "name": persona, "identity_class": "individual"});
    ix.upsert(&oid("identity", 1), &p.to_string(), a.clone());
    ix.upsert(ip, &json!({"type": "ipv4-addr", "value": "198.51.100.7"}).to_string(), a.clone());
    for (r, s, d) in [(1, oid("identity", 1), oid("threat-actor", 1)), (2, oid("identity", 1), ip.to_owned())] {
        let (r, j) = related(r, &s, &d);
        ix.upsert(&r, &j, a.clone());
    }
}

fn member(org: i64) -> Viewer {
    Viewer { org, role: Role::Member, isac: false }
}

fn applicant(v: serde_json::Value) -> Applicant {
    screen::input::from_json(v.to_string().as_bytes(), &Default::default()).unwrap()
}

fn run(ix: &Index, v: serde_json::Value, viewer: Viewer) -> screen::Screening {
    ix.screen(&applicant(v), &viewer, &Options::default())
}

fn top(s: &screen::Screening) -> &screen::Candidate {
    match &s.matches[0] {
        Hit::Candidate(c) => c,
        Hit::Restricted(_) => panic!("restricted first"),
    }
}

#[test]
fn a_perturbed_email_is_a_match_with_its_explanation() {
    let ix = index();
    let s = run(
        &ix,
        json!({"ref": "a1", "names": ["John Smith"], "emails": ["Cholsu.Dev+jobs@googlemail.com"]}),
        member(3),
    );
    assert_eq!(s.decision, Decision::Match, "{s:?}");
    let c = top(&s);
    assert_eq!(c.actor.as_deref(), Some(ACTOR));
    let e = &c.evidence[0];
    assert_eq!((e.field, e.object.as_str(), e.normalized.as_str()), ("emails", EMAIL, "cholsudev@gmail.com"));
    assert_eq!(e.via.as_deref(), Some(P1));
    assert!(!e.rules.is_empty());
}

#[test]
fn evidence_from_two_personas_adds_up_to_one_actor() {
    let ix = index();
    let s = run(
        &ix,
        json!({"ref": "a2", "wallets": [{"address": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"}], "phones": ["(202) 555-0143"]}),
        member(3),
    );
    assert_eq!(s.decision, Decision::Match);
    let candidates: Vec<_> = s.matches.iter().filter(|h| matches!(h, Hit::Candidate(_))).collect();
    assert_eq!(candidates.len(), 1, "{s:?}");
    let c = top(&s);
    assert_eq!(c.evidence.len(), 2);
    assert_eq!(c.personas.len(), 2);
}

#[test]
fn names_alone_never_match_and_a_stolen_identity_counts_for_nothing() {
    let ix = index();
    let s = run(&ix, json!({"ref": "a3", "names": ["Gim Cheol-su"]}), member(3));
    assert_eq!(s.decision, Decision::Clear, "{s:?}");
    assert_eq!(top(&s).evidence[0].field, "names");
    let s = run(&ix, json!({"ref": "a4", "names": ["Daniel Whitfield"]}), member(3));
    assert_eq!(s.decision, Decision::Clear);
    assert!(s.matches.iter().all(|h| match h {
        Hit::Candidate(c) => c.evidence.iter().all(|e| e.weight == 0.0),
        Hit::Restricted(_) => false,
    }));
}

#[test]
fn red_data_yields_a_restricted_hit_without_values_to_other_members() {
    let ix = index();
    let input = json!({"ref": "a5", "emails": ["secret.op@proton.me"]});
    let s = run(&ix, input.clone(), member(3));
    assert_eq!(s.decision, Decision::Review);
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains("\"restricted\":true"), "{text}");
    for secret in [RED_EMAIL, P2, ACTOR, "secret.op", "Pak"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // The owner and ISAC analysts see it.
    for viewer in [member(2), Viewer { org: 9, role: Role::Analyst, isac: true }] {
        let s = run(&ix, input.clone(), viewer);
        assert_eq!(s.decision, Decision::Match, "{viewer:?}");
        assert_eq!(top(&s).evidence[0].object, RED_EMAIL);
    }
}

#[test]
fn staff_only_collections_are_hidden_from_members() {
    let ix = index();
    let input = json!({"ref": "a6", "wallets": [{"address": "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"}]});
    let s = run(&ix, input.clone(), member(1));
    assert!(s.matches.iter().all(|h| matches!(h, Hit::Restricted(_))), "{s:?}");
    let s = run(&ix, input, Viewer { org: 9, role: Role::Analyst, isac: true });
    assert_eq!(top(&s).actor.as_deref(), Some(ACTOR2));
}

#[test]
fn a_value_shared_by_several_actors_weighs_less() {
    let ix = index();
    let s = run(&ix, json!({"ref": "a7", "ips": ["198.51.100.7"]}), member(3));
    assert_eq!(s.decision, Decision::Clear);
    let c = top(&s);
    assert!(c.evidence[0].weight < 1.3, "{:?}", c.evidence[0]);
    assert!(!c.evidence[0].notes.is_empty());
}

#[test]
fn a_near_duplicate_resume_asks_for_review_and_fuzzy_names_support_it() {
    let ix = index();
    let edited = RESUME.replace("eight", "seven").replace("mentored", "coached");
    let s = run(&ix, json!({"ref": "a8", "resume_text": edited, "names": ["Pak Yongho"]}), member(3));
    assert_eq!(s.decision, Decision::Review, "{s:?}");
    let c = top(&s);
    assert!(c.evidence.iter().any(|e| e.field == "resume_text"));
    assert!(c.evidence.iter().any(|e| e.field == "names"));
}

#[test]
fn removal_and_revocation_take_effect() {
    let mut ix = index();
    ix.remove(EMAIL);
    let s = run(&ix, json!({"ref": "a9", "emails": ["cholsu.dev@gmail.com"]}), member(3));
    assert_eq!(s.decision, Decision::Clear);
    assert!(s.matches.is_empty());
    // A revoked relationship cuts the tie: the wallet then stands alone.
    let (id, _) = rel(305, P1, WALLET);
    let revoked = json!({"type": "relationship", "revoked": true}).to_string();
    ix.upsert(&id, &revoked, access(Tlp::Amber, 1));
    let (id, _) = rel(306, P2, WALLET);
    ix.upsert(&id, &revoked, access(Tlp::Amber, 1));
    let s = run(
        &ix,
        json!({"ref": "a10", "wallets": [{"address": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"}]}),
        member(3),
    );
    assert_eq!(top(&s).actor, None);
}

#[test]
fn invalid_values_are_reported_not_matched() {
    let ix = index();
    let s = run(
        &ix,
        json!({"ref": "a11", "wallets": [{"address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"}], "emails": ["nope"]}),
        member(3),
    );
    assert_eq!(s.decision, Decision::Clear);
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(s.warnings.iter().any(|w| w.reason.contains("EIP-55")));
}

#[test]
fn search_finds_identifiers_and_names() {
    let ix = index();
    let s = ix.search("cholsu.dev@gmail.com", &member(3), &Options::default());
    assert_eq!(top(&s).actor.as_deref(), Some(ACTOR));
    let s = ix.search("Ri Myong Chol", &member(3), &Options::default());
    assert_eq!(top(&s).actor.as_deref(), Some(ACTOR2));
}

#[test]
fn a_searchs_readings_of_one_value_never_count_as_absent_identifiers() {
    let a = access(Tlp::Green, 1);
    let ix = built(false, |ix| team_at(ix, "Myong Cholsu", IP, &a));
    // `myong.cholsu` reads as a website and as a name: the name finds the persona, and the
    // website reading is no identifier the person gave that agrees with nothing.
    let s = ix.search("myong.cholsu", &member(3), &Options::default());
    let c = top(&s);
    assert_eq!(c.actor.as_deref(), Some(oid("threat-actor", 1).as_str()), "{s:?}");
    assert!(c.absent.is_none(), "{c:?}");
    // An applicant who gives both is another matter.
    let s = run(&ix, json!({"ref": "s1", "names": ["Myong Cholsu"], "websites": ["myong.cholsu"]}), member(3));
    let c = top(&s);
    assert_eq!(c.absent.as_ref().map(|a| a.fields.clone()), Some(vec!["websites"]), "{s:?}");
}

#[test]
fn updating_a_persona_keeps_its_resume_and_identifiers() {
    let mut ix = index();
    ix.upsert(
        P2,
        &json!({"type": "identity", "name": "Pak Yong-ho", "identity_class": "individual", "description": "updated"})
            .to_string(),
        access(Tlp::Amber, 1),
    );
    let edited = RESUME.replace("eight", "seven");
    let s = run(&ix, json!({"ref": "u1", "resume_text": edited, "phones": ["+1 202 555 0143"]}), member(3));
    let c = top(&s);
    assert_eq!(c.actor.as_deref(), Some(ACTOR));
    assert!(c.evidence.iter().any(|e| e.field == "resume_text"), "{s:?}");
    assert!(c.evidence.iter().any(|e| e.field == "phones"), "{s:?}");
}

#[test]
fn the_same_uuid_under_two_types_is_two_objects() {
    let mut ix = Index::new();
    let uuid = "00000000-0000-5000-8000-00000000abcd";
    ix.upsert(
        &format!("email-addr--{uuid}"),
        &json!({"type": "email-addr", "value": "a@example.org"}).to_string(),
        access(Tlp::Green, 1),
    );
    ix.upsert(
        &format!("url--{uuid}"),
        &json!({"type": "url", "value": "https://github.com/someone"}).to_string(),
        access(Tlp::Green, 1),
    );
    let s = run(
        &ix,
        json!({"ref": "t", "emails": ["a@example.org"], "accounts": [{"url": "https://github.com/someone"}]}),
        member(2),
    );
    let objects: Vec<String> = s
        .matches
        .iter()
        .filter_map(|h| match h {
            Hit::Candidate(c) => Some(c.evidence[0].object.clone()),
            Hit::Restricted(_) => None,
        })
        .collect();
    assert_eq!(objects.len(), 2, "{s:?}");
}

#[test]
fn a_snapshot_reads_back_to_an_index_that_answers_the_same() {
    let ix = index();
    let mut bytes = Vec::new();
    ix.write_snapshot(&mut bytes, b"tag-42").unwrap();
    let (back, tag) = Index::read_snapshot(&mut bytes.as_slice()).unwrap();
    assert_eq!(tag, b"tag-42");
    let edited = RESUME.replace("eight", "seven");
    let applicants = [
        json!({"ref": "s1", "emails": ["Cholsu.Dev+jobs@googlemail.com"], "names": ["Gim Cheol-su"]}),
        json!({"ref": "s2", "wallets": [{"address": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"}], "phones": ["(202) 555-0143"]}),
        json!({"ref": "s3", "emails": ["secret.op@proton.me"], "ips": ["198.51.100.7"]}),
        json!({"ref": "s4", "resume_text": edited, "names": ["Pak Yongho", "Daniel Whitfield"]}),
        json!({"ref": "s5", "wallets": [{"address": "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"}]}),
    ];
    let viewers = [member(1), member(2), member(3), Viewer { org: 9, role: Role::Analyst, isac: true }];
    for a in &applicants {
        for v in viewers {
            let x = serde_json::to_string(&run(&ix, a.clone(), v)).unwrap();
            let y = serde_json::to_string(&run(&back, a.clone(), v)).unwrap();
            assert_eq!(x, y, "{a} as {v:?}");
        }
    }
    // The loaded index keeps taking changes.
    let mut back = back;
    back.remove(EMAIL);
    assert_eq!(run(&back, applicants[0].clone(), member(3)).decision, Decision::Clear);
    // A damaged snapshot is refused, never misread.
    for cut in [0, 7, 40, bytes.len() / 2, bytes.len() - 1] {
        assert!(Index::read_snapshot(&mut &bytes[..cut]).is_err(), "cut at {cut}");
    }
    for at in [8, bytes.len() / 3, bytes.len() / 2, bytes.len() - 12] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 1;
        assert!(Index::read_snapshot(&mut flipped.as_slice()).is_err(), "flipped byte {at}");
    }
}

#[test]
fn hidden_actors_sharing_a_value_do_not_change_what_it_weighs_for_the_caller() {
    let mut ix = index();
    // The VPN exit of the test graph is also held by 40 actors another member keeps RED.
    for i in 0..40u32 {
        let actor = format!("threat-actor--00000000-0000-4000-9000-{i:012}");
        ix.upsert(
            &actor,
            &json!({"type": "threat-actor", "name": format!("hidden {i}")}).to_string(),
            access(Tlp::Red, 7),
        );
        let (id, j) = rel(1000 + i, &actor, VPN);
        ix.upsert(&id, &j, access(Tlp::Red, 7));
    }
    let with_name = json!({"ref": "h", "ips": ["198.51.100.7"], "emails": ["cholsu.dev@gmail.com"]});
    let s = run(&ix, with_name.clone(), member(3));
    let before = run(&index(), with_name, member(3));
    assert_eq!(
        serde_json::to_value(&top(&s).evidence).unwrap(),
        serde_json::to_value(&top(&before).evidence).unwrap(),
        "the caller's evidence must not move"
    );
}

/// Twelve actors tied to one wallet through twelve personas: equal evidence for each, and
/// only `max_matches` of them listed. Which ten, in which order, with which persona, must
/// not depend on the order the objects reached the index (a bulk build reads on several
/// threads): ties are broken by STIX id.
#[test]
fn ties_are_listed_by_id_whatever_order_the_objects_arrived_in() {
    let amber = access(Tlp::Amber, 1);
    let wallet = "cryptocurrency-wallet--00000000-0000-5000-8000-000000000900";
    let mut objects: Vec<(String, String)> = vec![(
        wallet.to_owned(),
        json!({"type": "cryptocurrency-wallet", "value": "1KFHE7w8BhaENAswwryaoccDb6qcT6DbYY"}).to_string(),
    )];
    for i in 0..12u32 {
        let actor = format!("threat-actor--00000000-0000-4000-8000-{:012}", 500 + i);
        let persona = format!("identity--00000000-0000-4000-8000-{:012}", 600 + i);
        objects.push((actor.clone(), json!({"type": "threat-actor", "name": format!("team {i}")}).to_string()));
        objects.push((
            persona.clone(),
            json!({"type": "identity", "name": format!("Persona {i}"), "identity_class": "individual"}).to_string(),
        ));
        objects.push(rel(700 + 2 * i, &persona, &actor));
        objects.push(rel(701 + 2 * i, &persona, wallet));
    }
    let build = |objects: &[(String, String)]| {
        let mut ix = Index::new();
        for (id, j) in objects {
            ix.upsert(id, j, amber.clone());
        }
        ix
    };
    let screen = |ix: &Index| {
        let s = run(ix, json!({"ref": "a", "wallets": [{"address": "1KFHE7w8BhaENAswwryaoccDb6qcT6DbYY"}]}), member(1));
        serde_json::to_value(&s).unwrap()
    };
    let forward = screen(&build(&objects));
    objects.reverse();
    let backward = screen(&build(&objects));
    objects.sort_by_key(|(id, _)| id.chars().rev().collect::<String>());
    let shuffled = screen(&build(&objects));
    assert_eq!(forward, backward);
    assert_eq!(forward, shuffled);
    let actors: Vec<&str> =
        forward["matches"].as_array().unwrap().iter().map(|m| m["actor"].as_str().unwrap()).collect();
    let want: Vec<String> = (0..10).map(|i| format!("threat-actor--00000000-0000-4000-8000-{:012}", 500 + i)).collect();
    assert_eq!(actors, want, "the ten lowest ids, in order");
}

#[test]
fn the_census_counts_only_what_the_viewer_may_see() {
    use screen::graph::Census;
    let ix = index();
    let amber_owner = ix.census(&member(1));
    // The RED email (and its relationship) belongs to org 2; the staff-only wallet is held
    // where members may not read.
    assert_eq!(
        amber_owner,
        Census { actors: 2, personas: 4, identifiers: 4, notes: 1, sightings: 0, relationships: 11, own: 22 }
    );
    let red_owner = ix.census(&member(2));
    assert_eq!((red_owner.identifiers, red_owner.relationships, red_owner.own), (5, 12, 2));
    let other = ix.census(&member(3));
    assert_eq!((other.identifiers, other.relationships, other.own), (4, 11, 0));
    let analyst = ix.census(&Viewer { org: 9, role: Role::Analyst, isac: true });
    assert_eq!((analyst.identifiers, analyst.relationships), (6, 12));
    // Gone objects leave the count.
    let mut ix = ix;
    ix.remove(RED_EMAIL);
    assert_eq!(ix.census(&member(2)).identifiers, 4);
}

#[test]
fn a_search_lists_everyone_who_holds_a_common_name() {
    let mut ix = Index::new();
    let amber = access(Tlp::Amber, 1);
    for n in 0..70u32 {
        let actor = format!("threat-actor--00000000-0000-4000-8000-{:012}", 5000 + n);
        let persona = format!("identity--00000000-0000-4000-8000-{:012}", 6000 + n);
        ix.upsert(&actor, &json!({"type": "threat-actor", "name": format!("Team {n}")}).to_string(), amber.clone());
        ix.upsert(
            &persona,
            &json!({"type": "identity", "name": "Jordan Common", "identity_class": "individual"}).to_string(),
            amber.clone(),
        );
        let (id, j) = rel(7000 + n, &persona, &actor);
        ix.upsert(&id, &j, amber.clone());
    }
    let s = ix.search("Jordan Common", &member(1), &Options::default());
    assert_eq!(s.matches.len(), screen::query::SEARCH_CAP, "{s:?}");
    assert!(s.cut, "70 holders, 50 listed");
    let solo = "identity--00000000-0000-4000-8000-000000009999";
    ix.upsert(
        solo,
        &json!({"type": "identity", "name": "Solo Holder", "identity_class": "individual"}).to_string(),
        amber,
    );
    let s = ix.search("Solo Holder", &member(1), &Options::default());
    assert!(s.matches.len() == 1 && !s.cut, "{s:?}");
    // A screen still weighs the name down to nothing: a name held by 70 is not evidence.
    let s = run(&ix, json!({"ref": "x", "names": ["Jordan Common"]}), member(1));
    assert!(s.matches.is_empty(), "{s:?}");
}

#[test]
fn phones_stored_without_a_country_code_match_however_the_applicant_writes_them() {
    let amber = access(Tlp::Amber, 1);
    let phones = [
        ("phone-number--00000000-0000-5000-8000-000000000501", "13125550142"),
        ("phone-number--00000000-0000-5000-8000-000000000502", "090-6306-5299"),
    ];
    let mut ix = Index::new();
    ix.upsert(ACTOR, &json!({"type": "threat-actor", "name": "team"}).to_string(), amber.clone());
    ix.upsert(
        P1,
        &json!({"type": "identity", "name": "Kim Chol-su", "identity_class": "individual"}).to_string(),
        amber.clone(),
    );
    let (id, j) = rel(601, P1, ACTOR);
    ix.upsert(&id, &j, amber.clone());
    for (n, (id, value)) in phones.iter().enumerate() {
        ix.upsert(id, &json!({"type": "phone-number", "value": value}).to_string(), amber.clone());
        let (rid, j) = rel(602 + n as u32, P1, id);
        ix.upsert(&rid, &j, amber.clone());
    }
    for (input, region, object) in [
        ("+1 (312) 555-0142", None, phones[0].0),
        ("13125550142", None, phones[0].0),
        ("312-555-0142", Some("US"), phones[0].0),
        ("+81 90-6306-5299", None, phones[1].0),
        ("090 6306 5299", Some("JP"), phones[1].0),
        ("09063065299", None, phones[1].0),
    ] {
        let mut a = json!({"ref": "p", "phones": [input]});
        if let Some(r) = region {
            a["region"] = json!(r);
        }
        let s = run(&ix, a, member(3));
        assert_ne!(s.decision, Decision::Clear, "{input}: {s:?}");
        let c = top(&s);
        assert_eq!(c.actor.as_deref(), Some(ACTOR), "{input}");
        let e = &c.evidence[0];
        assert_eq!(e.object, object, "{input}");
        assert!(e.notes.iter().any(|n| n.contains("without its country code")), "{input}: {:?}", e.notes);
        assert!(e.weight < 5.0, "{input}: an ambiguous stored number weighs less than a placed one");
    }
    // Another number is not a hit, and the readings of the stored copy do not count as
    // numbers of any country.
    let s = run(&ix, json!({"ref": "q", "phones": ["+1 312 555 0143"]}), member(3));
    assert_eq!(s.decision, Decision::Clear);
}

/// A reworked resume the index's bands may miss is still compared with the resumes of an
/// actor that other evidence (a team's own IP) already points to, and the two together ask
/// for review; a name is no such evidence.
#[test]
fn a_reworked_resume_counts_beside_a_teams_own_address_but_not_beside_a_name() {
    let mut ix = Index::new();
    let amber = access(Tlp::Amber, 1);
    let farm_ip = "ipv4-addr--00000000-0000-5000-8000-000000000301";
    let note = "note--00000000-0000-4000-8000-000000000302";
    for (n, s, d) in [(401, P1, ACTOR), (402, P1, farm_ip)] {
        let (id, j) = rel(n, s, d);
        ix.upsert(&id, &j, amber.clone());
    }
    ix.upsert(ACTOR, &json!({"type": "threat-actor", "name": "team JADE"}).to_string(), amber.clone());
    ix.upsert(
        P1,
        &json!({"type": "identity", "name": "Kim Chol-su", "identity_class": "individual"}).to_string(),
        amber.clone(),
    );
    ix.upsert(farm_ip, &json!({"type": "ipv4-addr", "value": "73.22.140.9"}).to_string(), amber.clone());
    let stored = "Senior blockchain engineer with eight years building decentralized exchanges. Built cross-chain bridges and ran smart contract audits for fintech startups. Led remote teams across time zones and shipped React and TypeScript front ends. Designed Solidity vaults and Rust indexers for high-volume trading. Mentored junior developers on security reviews and incident response. Contributed to open-source wallet libraries and gas optimisation tooling.";
    ix.upsert(note, &json!({"type": "note", "content": stored, "object_refs": [P1]}).to_string(), amber);
    // Sentences re-ordered, one of six rewritten, a few words changed.
    let reworked = "Designed Solidity vaults and Rust indexers for high-volume trading. Senior blockchain developer with seven years building decentralized exchanges. Contributed to open-source wallet libraries and gas optimisation tooling. Managed distributed engineering squads and delivered modern web interfaces. Built cross-chain bridges and ran smart contract audits for fintech startups. Mentored junior developers on security reviews and incident response.";
    let s = run(&ix, json!({"ref": "w1", "ips": ["73.22.140.9"], "resume_text": reworked}), member(3));
    let c = top(&s);
    let resume = c.evidence.iter().find(|e| e.field == "resume_text").expect("the resume counts beside the IP");
    assert!(resume.weight > 0.0);
    // (Shingle similarity 0.41: below what the bands find, found by the direct comparison.)
    assert!(resume.notes.iter().any(|n| n.contains("other evidence already points")), "{resume:?}");
    assert_eq!(s.decision, Decision::Review, "{s:?}");
    // The same resume beside the persona's exact name: a name is never a way in.
    let s = run(&ix, json!({"ref": "w2", "names": ["Kim Chol-su"], "resume_text": reworked}), member(3));
    let targeted = s.matches.iter().any(|h| match h {
        Hit::Candidate(c) => {
            c.evidence.iter().any(|e| e.notes.iter().any(|n| n.contains("other evidence already points")))
        }
        Hit::Restricted(_) => false,
    });
    assert!(!targeted, "{s:?}");
    assert_eq!(s.decision, Decision::Clear, "{s:?}");
}

/// A value held by more actors than a screen follows is given up for a viewer without
/// walking its chain when that many ties are seen by every member (counted when the index
/// is built). When some of those ties stop being open — the relationships, or the personas
/// at their other end, made RED — the count is dropped and the chain is counted for each
/// viewer again: a member who cannot see the RED ties gets the value back as evidence.
#[test]
fn a_common_value_follows_ties_that_stop_being_open() {
    let amber = access(Tlp::Amber, 1);
    let red = access(Tlp::Red, 1);
    let email = |i: usize| format!("email-addr--00000000-0000-5000-8000-{i:012}");
    let persona = |i: usize| format!("identity--00000000-0000-4000-8000-{i:012}");
    let actor = |i: usize| format!("threat-actor--00000000-0000-4000-8000-{i:012}");
    let rel_id = |i: usize, k: usize| format!("relationship--00000000-0000-4000-{k:04}-{i:012}");
    let link = |ix: &mut Index, i: usize, a: &Access| {
        for (k, (s, d)) in [(persona(i), email(i)), (persona(i), actor(i))].into_iter().enumerate() {
            let j =
                json!({"type": "relationship", "relationship_type": "related-to", "source_ref": s, "target_ref": d});
            ix.upsert(&rel_id(i, k + 1), &j.to_string(), a.clone());
        }
    };
    let persona_json = |i: usize| {
        json!({"type": "identity", "name": format!("Persona {i}"), "identity_class": "individual"}).to_string()
    };
    let build = || {
        let mut ix = Index::new();
        ix.begin_bulk(70 * 5);
        for i in 0..70 {
            ix.upsert(
                &email(i),
                &json!({"type": "email-addr", "value": "shared.farm@example.org"}).to_string(),
                amber.clone(),
            );
            ix.upsert(&persona(i), &persona_json(i), amber.clone());
            ix.upsert(
                &actor(i),
                &json!({"type": "threat-actor", "name": format!("Team {i}")}).to_string(),
                amber.clone(),
            );
            link(&mut ix, i, &amber);
        }
        ix.finish_bulk();
        ix
    };
    let mut ix = build();
    let probe = json!({"ref": "c1", "emails": ["shared.farm@example.org"]});
    assert!(run(&ix, probe.clone(), member(3)).matches.is_empty(), "held by 70 actors: too common");
    // Ten ties made RED: 60 are left that member 3 sees, under the fan-out.
    for i in 0..10 {
        link(&mut ix, i, &red);
    }
    let sixty = |s: &screen::Screening| {
        s.decision != Decision::Clear
            && s.matches.iter().any(|h| match h {
                Hit::Candidate(c) => {
                    c.evidence.iter().any(|e| e.notes.iter().any(|n| n.contains("tied to 60 different actors")))
                }
                Hit::Restricted(_) => false,
            })
    };
    let s = run(&ix, probe.clone(), member(3));
    assert!(sixty(&s), "{s:?}");
    assert!(run(&ix, probe.clone(), member(1)).matches.is_empty(), "the owner still sees 70");
    // The same when personas at the other end are made RED instead (a fresh index).
    let mut ix = build();
    assert!(run(&ix, probe.clone(), member(3)).matches.is_empty());
    for i in 0..10 {
        ix.upsert(&persona(i), &persona_json(i), red.clone());
    }
    let s = run(&ix, probe, member(3));
    assert!(sixty(&s), "{s:?}");
}

/// An index of 400 personas, each of its own actor: 300 named from a small pool of common
/// parts (as a large store's Korean personas are), plus a few rare names, and one persona
/// with a rare name whose e-mail is known (for the names-beside-evidence test).
fn name_store(extra: &[(usize, &str, Access)]) -> Index {
    let amber = access(Tlp::Amber, 1);
    let persona = |i: usize| format!("identity--00000000-0000-4000-8000-{i:012}");
    let actor = |i: usize| format!("threat-actor--00000000-0000-4000-8000-{i:012}");
    let family = ["Kim", "Lee", "Park", "Choi", "Jung"];
    let given = ["Min-jun", "Seo-jun", "Ha-joon", "Do-yun", "Eun-woo", "Ji-ho"];
    let mut ix = Index::new();
    ix.begin_bulk(2000);
    let add = |ix: &mut Index, i: usize, name: &str, a: &Access| {
        ix.upsert(
            &persona(i),
            &json!({"type": "identity", "name": name, "identity_class": "individual"}).to_string(),
            a.clone(),
        );
        ix.upsert(&actor(i), &json!({"type": "threat-actor", "name": format!("Team {i}")}).to_string(), a.clone());
        let r = format!("relationship--00000000-0000-4000-0001-{i:012}");
        let j = json!({"type": "relationship", "relationship_type": "attributed-to", "source_ref": persona(i), "target_ref": actor(i)});
        ix.upsert(&r, &j.to_string(), a.clone());
    };
    for i in 0..300 {
        let name = format!("{} {}", family[i % family.len()], given[(i / family.len()) % given.len()]);
        add(&mut ix, 1000 + i, &name, &amber);
    }
    for (i, name) in [(1400, "Zbigniew Wardzinski"), (1401, "Thaddeus Okonkwo-Lindqvist")] {
        add(&mut ix, i, name, &amber);
    }
    for (i, name, a) in extra {
        add(&mut ix, *i, name, a);
    }
    ix.finish_bulk();
    ix
}

fn name_weight(s: &screen::Screening) -> Option<f64> {
    s.matches.iter().find_map(|h| match h {
        Hit::Candidate(c) => c.evidence.iter().find(|e| e.field == "names").map(|e| e.weight),
        Hit::Restricted(_) => None,
    })
}

fn all_name_weights(ix: &Index, name: &str, viewer: Viewer) -> f64 {
    let opts = Options { list_all: true, ..Options::default() };
    let s = ix.screen(&applicant(json!({"ref": "n", "names": [name]})), &viewer, &opts);
    name_weight(&s).unwrap_or(f64::NAN)
}

#[test]
fn a_name_weighs_by_how_common_its_parts_are() {
    let ix = name_store(&[]);
    // A rare name: at most the kind's weight (1.5, less the tie's 90% confidence).
    let rare = all_name_weights(&ix, "Zbigniew Wardzinski", member(3));
    assert!(rare > 1.4, "{rare}");
    // A name from the common pool (each held by ten actors, its parts by 60 or 50 of 302
    // names, Kim by a fifth of all Koreans) weighs nothing, and alone lists no one.
    let common = all_name_weights(&ix, "Min-jun Kim", member(3));
    assert!(common == 0.0, "{common}");
    let s = run(&ix, json!({"ref": "n1", "names": ["Kim Min-jun"]}), member(3));
    assert!(s.matches.is_empty(), "{s:?}");
    assert_eq!(s.decision, Decision::Clear);
    // Even the rare name alone is never more than a listed candidate.
    let s = run(&ix, json!({"ref": "n2", "names": ["Wardzinski, Zbigniew"]}), member(3));
    assert_eq!(s.decision, Decision::Clear, "{s:?}");
    assert!(name_weight(&s).is_some_and(|w| w > 1.4), "{s:?}");
}

#[test]
fn a_common_name_in_the_population_weighs_less_even_in_a_small_store() {
    // A persona called John Smith among a few hundred Korean names: its parts are rare in
    // the data but common in the population (the US census), so it weighs less than a name
    // as rare in the data that is rare everywhere.
    let ix = name_store(&[(1500, "John Smith", access(Tlp::Amber, 1))]);
    let smith = all_name_weights(&ix, "John Smith", member(3));
    let rare = all_name_weights(&ix, "Thaddeus Okonkwo-Lindqvist", member(3));
    // 303 names × 1.6% (John) × 0.83% (Smith) = 0.04 expected holders: log10(0.5 / 0.04)
    // = 1.10, less the tie's confidence; the rare name is capped at 1.5.
    assert!(smith < rare - 0.3, "John Smith {smith}, a rare name {rare}");
    assert!((smith - (1.10 + (0.9f64).log10())).abs() < 0.02, "{smith}");
}

#[test]
fn hidden_names_do_not_move_the_weight_of_a_visible_one() {
    // Member 2 keeps 200 RED personas named Wardzinski: what member 3 sees of the one AMBER
    // Wardzinski must weigh the same as without them.
    let red: Vec<(usize, String, Access)> =
        (0..200).map(|i| (2000 + i, format!("Wardzinski Person{i}"), access(Tlp::Red, 2))).collect();
    let extra: Vec<(usize, &str, Access)> = red.iter().map(|(i, n, a)| (*i, n.as_str(), a.clone())).collect();
    let with = name_store(&extra);
    let without = name_store(&[]);
    let a = all_name_weights(&with, "Zbigniew Wardzinski", member(3));
    let b = all_name_weights(&without, "Zbigniew Wardzinski", member(3));
    assert_eq!(a, b, "member 3's weight moved with member 2's hidden names");
    // Made GREEN by member 2 alone, they are set aside for another member's name (see
    // `one_members_names_never_make_another_members_name_common`); GREEN names of two
    // members are every member's data: Wardzinski is then common.
    let green: Vec<(usize, &str, Access)> =
        red.iter().map(|(i, n, _)| (*i, n.as_str(), access(Tlp::Green, 2))).collect();
    assert_eq!(all_name_weights(&name_store(&green), "Zbigniew Wardzinski", member(3)), b);
    let green: Vec<(usize, &str, Access)> =
        red.iter().map(|(i, n, _)| (*i, n.as_str(), access(Tlp::Green, 2 + 2 * (*i as i64 % 2)))).collect();
    let open = name_store(&green);
    let c = all_name_weights(&open, "Zbigniew Wardzinski", member(3));
    assert!(c < b - 0.5, "{c} vs {b}");
    // The counts survive a snapshot, and follow names that stop being open.
    let mut buf = Vec::new();
    open.write_snapshot(&mut buf, b"t").unwrap();
    let (mut back, _) = Index::read_snapshot(&mut buf.as_slice()).unwrap();
    assert_eq!(all_name_weights(&back, "Zbigniew Wardzinski", member(3)), c);
    for (i, n, _) in &red {
        let id = format!("identity--00000000-0000-4000-8000-{i:012}");
        let j = json!({"type": "identity", "name": n, "identity_class": "individual"});
        back.upsert(&id, &j.to_string(), access(Tlp::Red, 2));
    }
    assert_eq!(all_name_weights(&back, "Zbigniew Wardzinski", member(3)), b);
}

#[test]
fn a_name_beside_other_evidence_is_compared_with_that_actors_personas_only() {
    // A pool name weighs nothing found among 300; once a website ties the applicant to the
    // actor, the name is compared with that actor's one persona and counts.
    let mut ix = name_store(&[]);
    let site = "domain-name--00000000-0000-5000-8000-000000009001";
    ix.upsert(site, &json!({"type": "domain-name", "value": "minjun-builds.dev"}).to_string(), access(Tlp::Amber, 1));
    let r = "relationship--00000000-0000-4000-0002-000000009001";
    let j = json!({"type": "relationship", "relationship_type": "related-to",
        "source_ref": "identity--00000000-0000-4000-8000-000000001000", "target_ref": site});
    ix.upsert(r, &j.to_string(), access(Tlp::Amber, 1));
    let alone = run(&ix, json!({"ref": "b1", "websites": ["minjun-builds.dev"]}), member(3));
    let with_name =
        run(&ix, json!({"ref": "b2", "websites": ["minjun-builds.dev"], "names": ["Kim Min-jun"]}), member(3));
    let w = name_weight(&with_name).unwrap_or(0.0);
    assert!(w > 0.5, "{with_name:?}");
    assert!(with_name.score > alone.score, "{} vs {}", with_name.score, alone.score);
    let Hit::Candidate(c) = &with_name.matches[0] else { panic!("restricted") };
    let e = c.evidence.iter().find(|e| e.field == "names").unwrap();
    assert!(e.notes.iter().any(|n| n.contains("compared with the 1 persona")), "{:?}", e.notes);
}

#[test]
fn a_public_template_is_no_lead_for_a_name() {
    // Three actors' personas hold copies of one resume (a public template); one of them is
    // named Kim Min-jun, a name from the common pool. An applicant with the template and
    // that name: the template points to none of the three in particular, so the name is
    // weighed as found among all names (nothing). A resume of that one actor's own is a
    // lead, and beside it the same name counts.
    let mut ix = name_store(&[]);
    let note = |i: usize| format!("note--00000000-0000-4000-8000-{i:012}");
    let persona = |i: usize| format!("identity--00000000-0000-4000-8000-{i:012}");
    for i in 0..3 {
        let j = json!({"type": "note", "content": RESUME, "object_refs": [persona(1000 + 30 * i)]});
        ix.upsert(&note(5000 + i), &j.to_string(), access(Tlp::Amber, 1));
    }
    let own = "Rust engineer who built a payments ledger in Tokio and Postgres, ran chaos drills on \
               Kubernetes clusters in three regions, wrote the runbooks and trained the on-call rotation \
               of twelve engineers across two continents without a single missed handover in two years.";
    let j = json!({"type": "note", "content": own, "object_refs": [persona(1000)]});
    ix.upsert(&note(5010), &j.to_string(), access(Tlp::Amber, 1));
    let s = run(&ix, json!({"ref": "t1", "resume_text": RESUME, "names": ["Kim Min-jun"]}), member(3));
    assert!(name_weight(&s).is_none(), "{s:?}");
    let s = run(&ix, json!({"ref": "t2", "resume_text": own, "names": ["Kim Min-jun"]}), member(3));
    assert!(name_weight(&s).is_some_and(|w| w > 0.5), "{s:?}");
}

/// A team's resume (stored by member 1) that is a public template with a few words changed,
/// and an applicant who sends that very copy. While the template's other copies are few,
/// the team's copy is found and weighs as the team's own. Once more than the index follows
/// of them crowd most of the copy's bands — stored by the team's own member (an
/// installation with one contributor), or by several members — the resume is a public
/// template and singles out no actor: the applicant is not flagged for it. One other
/// member's copies alone, however many (a flood of the team's resume), and copies the
/// viewer cannot see change nothing for it.
#[test]
fn a_resume_close_to_a_template_hundreds_copy_singles_out_no_actor() {
    let team_copy = RESUME.replace("mentored junior developers", "mentored two junior developers");
    let build = |groups: &[(usize, Tlp, i64)]| {
        let mut ix = Index::new();
        let amber = access(Tlp::Amber, 1);
        let (id, j) = rel(301, P1, ACTOR);
        ix.upsert(&id, &j, amber.clone());
        let persona = json!({"type": "identity", "name": "Kim Chol-su", "identity_class": "individual"});
        ix.upsert(P1, &persona.to_string(), amber.clone());
        ix.upsert(ACTOR, &json!({"type": "threat-actor", "name": "team JADE"}).to_string(), amber.clone());
        let j = json!({"type": "note", "content": team_copy, "object_refs": [P1]});
        ix.upsert(NOTE, &j.to_string(), amber.clone());
        ix.upsert(EMAIL, &json!({"type": "email-addr", "value": "cholsu.dev@gmail.com"}).to_string(), amber.clone());
        let (id, j) = rel(304, P1, EMAIL);
        ix.upsert(&id, &j, amber.clone());
        let mut i = 0;
        for (copies, tlp, owner) in groups {
            for _ in 0..*copies {
                i += 1;
                let j = json!({"type": "note", "content": RESUME,
                    "object_refs": [format!("identity--00000000-0000-4000-9000-{i:012}")]});
                ix.upsert(
                    &format!("note--00000000-0000-4000-8000-{:012}", 7000 + i),
                    &j.to_string(),
                    access(*tlp, *owner),
                );
            }
        }
        ix
    };
    let resume_weight = |s: &screen::Screening| -> Option<f64> {
        s.matches.iter().find_map(|h| match h {
            Hit::Candidate(c) => c.evidence.iter().find(|e| e.field == "resume_text").map(|e| e.weight),
            Hit::Restricted(_) => None,
        })
    };
    let applicant = json!({"ref": "r", "resume_text": team_copy});
    let counts = |groups: &[(usize, Tlp, i64)]| {
        let s = run(&build(groups), applicant.clone(), member(3));
        assert!(resume_weight(&s).is_some_and(|w| w > 2.0), "{groups:?}: {s:?}");
        assert_ne!(s.decision, Decision::Clear, "{groups:?}: {s:?}");
    };
    let template = |groups: &[(usize, Tlp, i64)]| {
        let ix = build(groups);
        let s = run(&ix, applicant.clone(), member(3));
        assert_eq!(s.decision, Decision::Clear, "{groups:?}: {s:?}");
        assert!(resume_weight(&s).is_none(), "{groups:?}: {s:?}");
        let all = ix.screen(
            &self::applicant(applicant.clone()),
            &member(3),
            &Options { list_all: true, ..Options::default() },
        );
        let Hit::Candidate(c) = &all.matches[0] else { panic!("restricted") };
        let e = c.evidence.iter().find(|e| e.field == "resume_text").unwrap();
        assert!(e.notes.iter().any(|n| n.contains("a public template")), "{groups:?}: {:?}", e.notes);
    };
    // A few copies: the team's edited copy is found and counts.
    counts(&[(20, Tlp::Green, 2)]);
    // Hundreds of open copies stored by the team's own member, or by three members.
    template(&[(300, Tlp::Green, 1)]);
    template(&[(200, Tlp::Green, 2), (200, Tlp::Green, 4), (200, Tlp::Green, 5)]);
    // Hundreds stored by one other member alone: crowded for its own resumes only.
    counts(&[(300, Tlp::Green, 2)]);
    counts(&[(600, Tlp::Green, 2), (10, Tlp::Green, 4)]);
    // Hundreds of RED copies of member 2: member 3 sees none of them.
    counts(&[(300, Tlp::Red, 2)]);
    // Beside the team's e-mail (a lead), the template itself — every band of it crowded, so
    // the index finds no copy — is not compared with the team's resumes directly either: it
    // adds nothing to the e-mail's match.
    let with_lead = json!({"ref": "l", "resume_text": RESUME, "emails": ["cholsu.dev@gmail.com"]});
    let s = run(&build(&[(300, Tlp::Green, 1)]), with_lead.clone(), member(3));
    assert_eq!(s.decision, Decision::Match, "{s:?}");
    assert!(resume_weight(&s).is_none(), "{s:?}");
    let s = run(&build(&[(20, Tlp::Green, 2)]), with_lead, member(3));
    assert!(resume_weight(&s).is_some_and(|w| w > 2.0), "{s:?}");
}

/// Member 1's persona with an e-mail, and an applicant who gives it. Another member files
/// 70 spellings of that address (Gmail dots, tags), each tied to a persona of its own that
/// members see: the value is too common for that member's copies only, and member 3 still
/// gets member 1's match, the same as before — built object by object and in bulk. Member
/// 1's own 70 copies, or two other members' 70 each, make it too common for everyone
/// (given up, as before).
#[test]
fn one_members_visible_copies_never_switch_off_another_members_value() {
    let (id, rel) = (oid, related);
    let build = |bulk: bool, floods: &[i64]| {
        let mut ix = Index::new();
        if bulk {
            ix.begin_bulk(1000);
        }
        let a = access(Tlp::Green, 1);
        ix.upsert(&id("threat-actor", 1), &json!({"type": "threat-actor", "name": "JADE"}).to_string(), a.clone());
        let p = json!({"type": "identity", "name": "Kim Chol-su", "identity_class": "individual"});
        ix.upsert(&id("identity", 1), &p.to_string(), a.clone());
        let e = json!({"type": "email-addr", "value": "cholsu.dev@gmail.com"});
        ix.upsert(&id("email-addr", 1), &e.to_string(), a.clone());
        for (r, s, d) in [(1, id("identity", 1), id("threat-actor", 1)), (2, id("identity", 1), id("email-addr", 1))] {
            let (r, j) = rel(r, &s, &d);
            ix.upsert(&r, &j, a.clone());
        }
        for (f, owner) in floods.iter().enumerate() {
            let b = access(Tlp::Green, *owner);
            for i in 0..70u64 {
                let n = 1000 * (f as u64 + 1) + i;
                let spelled = format!("c.holsudev+{n}@gmail.com");
                ix.upsert(
                    &id("email-addr", n),
                    &json!({"type": "email-addr", "value": spelled}).to_string(),
                    b.clone(),
                );
                let p = json!({"type": "identity", "name": format!("Persona {n}"), "identity_class": "individual"});
                ix.upsert(&id("identity", n), &p.to_string(), b.clone());
                let (r, j) = rel(n, &id("identity", n), &id("email-addr", n));
                ix.upsert(&r, &j, b.clone());
            }
        }
        if bulk {
            ix.finish_bulk();
        }
        ix
    };
    let screen_it = |ix: &Index| run(ix, json!({"ref": "e", "emails": ["cholsu.dev@gmail.com"]}), member(3));
    for bulk in [false, true] {
        let before = screen_it(&build(bulk, &[]));
        assert_eq!(before.decision, Decision::Match, "{before:?}");
        let flooded = screen_it(&build(bulk, &[2]));
        assert_eq!((flooded.decision, flooded.score), (before.decision, before.score), "bulk {bulk}: {flooded:?}");
        assert_eq!(format!("{:?}", top(&flooded).evidence), format!("{:?}", top(&before).evidence), "bulk {bulk}");
        // Member 1's own copies; two other members' copies; five members' (given up part-way
        // through the chain, as soon as no one owner's copies decide it).
        for floods in [&[1][..], &[2, 4][..], &[2, 4, 5, 6, 7][..]] {
            let s = screen_it(&build(bulk, floods));
            assert_eq!(s.decision, Decision::Clear, "bulk {bulk}, {floods:?}: {s:?}");
        }
    }
}

/// Member 1's team: an actor, a persona, the team's own IP address and its resume. Another
/// member ties that very address, and copies of the resume, to twenty actors of its own
/// that everyone sees. Counted naively that made the address shared infrastructure (past
/// the ten actors an IP's weight bears, it was not even followed) and the resume a public
/// template, and member 3's `review` of member 1's actor was gone. They are counted per
/// organization now: member 3's answer about member 1's actor is the same as before, built
/// object by object and in bulk, the other member's actors carrying the discount. Member
/// 1's own twenty, or two other members' ten each, still make both common.
#[test]
fn one_members_ties_never_make_another_members_value_common() {
    let (id, rel) = (oid, related);
    let ip = IP;
    let build = |bulk: bool, floods: &[(i64, u64)]| {
        built(bulk, |ix| {
            let a = access(Tlp::Green, 1);
            team_at(ix, "Kim Chol-su", IP, &a);
            let note = json!({"type": "note", "content": RESUME, "object_refs": [id("identity", 1)]});
            ix.upsert(&id("note", 1), &note.to_string(), a.clone());
            let mut n = 1000;
            for (owner, count) in floods {
                let b = access(Tlp::Green, *owner);
                for _ in 0..*count {
                    n += 1;
                    let actor = json!({"type": "threat-actor", "name": format!("team {n}")});
                    ix.upsert(&id("threat-actor", n), &actor.to_string(), b.clone());
                    let p = json!({"type": "identity", "name": format!("Persona {n}"), "identity_class": "individual"});
                    ix.upsert(&id("identity", n), &p.to_string(), b.clone());
                    let note = json!({"type": "note", "content": RESUME, "object_refs": [id("identity", n)]});
                    ix.upsert(&id("note", n), &note.to_string(), b.clone());
                    for (k, s, d) in
                        [(0, id("identity", n), id("threat-actor", n)), (1, id("identity", n), ip.to_owned())]
                    {
                        let (r, j) = rel(2 * n + k, &s, &d);
                        ix.upsert(&r, &j, b.clone());
                    }
                }
            }
        })
    };
    let edited = RESUME.replace("mentored junior developers", "mentored two junior developers");
    let screen_it =
        |ix: &Index| run(ix, json!({"ref": "i", "ips": ["198.51.100.7"], "resume_text": edited}), member(3));
    let team = id("threat-actor", 1);
    let of_team = |s: &screen::Screening| -> Option<screen::Candidate> {
        s.matches.iter().find_map(|h| match h {
            Hit::Candidate(c) if c.actor.as_deref() == Some(team.as_str()) => Some(c.clone()),
            _ => None,
        })
    };
    let weights = |c: &screen::Candidate| -> Vec<(String, f64)> {
        c.evidence.iter().map(|e| (e.field.to_string(), e.weight)).collect()
    };
    for bulk in [false, true] {
        let before = screen_it(&build(bulk, &[]));
        assert_eq!(before.decision, Decision::Review, "{before:?}");
        let team_before = of_team(&before).expect("the team is a candidate");
        let w = weights(&team_before);
        assert!(w.iter().any(|(f, w)| f == "ips" && *w > 1.5), "a team's own address: {w:?}");
        assert!(w.iter().any(|(f, w)| f == "resume_text" && *w > 1.5), "{w:?}");
        let flooded = screen_it(&build(bulk, &[(2, 20)]));
        let team_after = of_team(&flooded).unwrap_or_else(|| panic!("bulk {bulk}: the team is gone: {flooded:?}"));
        assert_eq!(weights(&team_after), w, "bulk {bulk}: {flooded:?}");
        assert_eq!((team_after.decision, team_after.score), (team_before.decision, team_before.score));
        assert_eq!(flooded.decision, Decision::Review, "bulk {bulk}");
        // For the other member's twenty actors the address and the resume are common (their
        // own organization's data counts): the address weighs nothing, the resume carries
        // the template discount, and they stay `clear`.
        for h in &flooded.matches {
            if let Hit::Candidate(c) = h
                && c.actor.as_deref() != Some(team.as_str())
            {
                assert_eq!(c.decision, Decision::Clear, "bulk {bulk}: {c:?}");
                assert!(c.evidence.iter().all(|e| e.field == "resume_text"), "bulk {bulk}: {c:?}");
                assert!(c.evidence.iter().all(|e| e.notes.iter().any(|n| n.contains("public template"))), "{c:?}");
            }
        }
        // Member 1's own twenty, or two other members' ten each: common for everyone.
        for floods in [&[(1, 20)][..], &[(2, 10), (4, 10)][..]] {
            let s = screen_it(&build(bulk, floods));
            assert_eq!(s.decision, Decision::Clear, "bulk {bulk}, {floods:?}: {s:?}");
            if let Some(c) = of_team(&s) {
                assert!(c.evidence.iter().all(|e| e.field == "resume_text"), "bulk {bulk}, {floods:?}: {c:?}");
                assert!(c.evidence.iter().all(|e| e.notes.iter().any(|n| n.contains("public template"))), "{c:?}");
            }
        }
    }
}

/// A VPN exit one member tied to 40 actors is summarised when the index is built, and its
/// ties are then not walked (they weigh nothing for anyone). The summary must never change
/// an answer: after each change that could matter — another member's tie to the address,
/// most of the ties withdrawn, a persona or an actor made RED — a bulk-built index updated
/// object by object answers exactly as one built from scratch, in bulk or not.
#[test]
fn a_summary_of_many_ties_never_changes_an_answer() {
    let id = oid;
    let ip = IP;
    type Op = (String, Option<(String, Access)>);
    let team = |n: u64, owner: i64, tlp: Tlp, actor_tlp: Tlp| -> Vec<Op> {
        let a = access(tlp, owner);
        let rel = |r: u64, s: &str, d: &str| -> Op {
            let j =
                json!({"type": "relationship", "relationship_type": "related-to", "source_ref": s, "target_ref": d});
            (id("relationship", r), Some((j.to_string(), a.clone())))
        };
        vec![
            (
                id("threat-actor", n),
                Some((
                    json!({"type": "threat-actor", "name": format!("team {n}")}).to_string(),
                    access(actor_tlp, owner),
                )),
            ),
            (
                id("identity", n),
                Some((
                    json!({"type": "identity", "name": format!("Persona {n}"), "identity_class": "individual"})
                        .to_string(),
                    a.clone(),
                )),
            ),
            rel(2 * n, &id("identity", n), &id("threat-actor", n)),
            rel(2 * n + 1, &id("identity", n), ip),
        ]
    };
    let mut base: Vec<Op> = vec![(
        ip.to_owned(),
        Some((json!({"type": "ipv4-addr", "value": "198.51.100.7"}).to_string(), access(Tlp::Green, 1))),
    )];
    for n in 1..=40 {
        base.extend(team(n, 1, Tlp::Green, Tlp::Green));
    }
    let apply = |ix: &mut Index, ops: &[Op]| {
        for (i, o) in ops {
            match o {
                Some((j, a)) => ix.upsert(i, j, a.clone()),
                None => ix.remove(i),
            }
        }
    };
    let bulk = |ops: &[Op]| {
        let mut ix = Index::new();
        ix.begin_bulk(1000);
        apply(&mut ix, ops);
        ix.finish_bulk();
        ix
    };
    let answers = |ix: &Index| -> Vec<String> {
        let analyst = Viewer { org: 9, role: Role::Analyst, isac: true };
        [member(1), member(2), member(3), analyst]
            .into_iter()
            .map(|viewer| {
                // Member 2 and the analyst review from a posterior of 0.05: a team's own
                // address alone (2.0) is then a hit (a restricted one, when hidden).
                let review_at = if viewer.org == 3 || viewer.org == 1 { Options::default().review_at } else { 0.05 };
                let s = ix.screen(
                    &applicant(json!({"ref": "i", "ips": ["198.51.100.7"]})),
                    &viewer,
                    &Options { list_all: viewer.org == 3, review_at, ..Options::default() },
                );
                format!("{s:?}")
            })
            .collect()
    };
    let withdrawn: Vec<Op> = (6..=40).map(|n| (id("relationship", 2 * n + 1), None)).collect();
    let red_persona: Vec<Op> = team(7, 1, Tlp::Red, Tlp::Green).into_iter().skip(1).take(1).collect();
    let red_actor: Vec<Op> = team(8, 1, Tlp::Green, Tlp::Red).into_iter().take(1).collect();
    let changes: [(&str, Vec<Op>); 4] = [
        ("another member's tie", team(100, 2, Tlp::Green, Tlp::Green)),
        ("35 ties withdrawn", withdrawn),
        ("a persona made RED", red_persona),
        ("an actor made RED", red_actor),
    ];
    let built = bulk(&base);
    let before = answers(&built);
    assert!(before[0].contains("decision: Clear") && !before[0].contains("evidence: [Evidence"), "{}", before[0]);
    // The same with the member's RED ties (one: a restricted hit for others; fifteen: too
    // many to weigh anything) and another member's tie, which the summary leaves to be
    // walked or counts apart (built in bulk and object by object, before any change).
    let mixed = |red: u64| {
        let mut mixed = base.clone();
        for n in 41..41 + red {
            mixed.extend(team(n, 1, Tlp::Red, Tlp::Green));
        }
        mixed.extend(team(200, 2, Tlp::Green, Tlp::Green));
        mixed
    };
    let one_red = answers(&bulk(&mixed(1)));
    assert!(one_red[1].contains("Restricted"), "{}", one_red[1]);
    assert!(!one_red[0].contains("Restricted") && !one_red[3].contains("Restricted"), "{one_red:?}");
    // And with the address itself member 1's RED data: its ties are hidden from every
    // other member, and counted apart for them.
    let mut red_ip = base.clone();
    red_ip[0] =
        (ip.to_owned(), Some((json!({"type": "ipv4-addr", "value": "198.51.100.7"}).to_string(), access(Tlp::Red, 1))));
    for (base, red) in [(base.clone(), false), (mixed(1), false), (mixed(15), false), (red_ip, true)] {
        let mut plain = Index::new();
        apply(&mut plain, &base);
        let before = answers(&bulk(&base));
        assert_eq!(before, answers(&plain), "built in bulk vs object by object");
        // The summaries travel in the snapshot.
        let restored = |ix: Index| {
            let mut buf = Vec::new();
            ix.write_snapshot(&mut buf, b"t").unwrap();
            Index::read_snapshot(&mut buf.as_slice()).unwrap().0
        };
        assert_eq!(answers(&restored(bulk(&base))), before, "read back from a snapshot");
        for (what, change) in &changes {
            let mut from_snapshot = restored(bulk(&base));
            apply(&mut from_snapshot, change);
            let mut updated = bulk(&base);
            apply(&mut updated, change);
            assert_eq!(answers(&from_snapshot), answers(&updated), "{what}: from a snapshot");
            let all: Vec<Op> = base.iter().cloned().chain(change.iter().cloned()).collect();
            let fresh = bulk(&all);
            let mut plain = Index::new();
            apply(&mut plain, &all);
            let got = answers(&updated);
            assert_eq!(got, answers(&fresh), "{what}: updated vs built in bulk");
            assert_eq!(got, answers(&plain), "{what}: updated vs built object by object");
            // (Behind a RED address, only another member's tie of its own changes anything.)
            if !red || what.starts_with("another") {
                assert_ne!(got, before, "{what}: the change must matter to someone");
            }
        }
    }
}

/// A name weighs by how many stored names would carry it by chance, from how common its
/// parts are among the names every member sees. Another member filing 300 open personas
/// named like member 1's persona made those parts common, and member 1's name evidence
/// weighed nothing for everyone. Each part is now counted without the names of the one
/// other organization holding the most with it: member 3's answer about member 1's actor is
/// the same, built in bulk or object by object. Member 1's own 300 still lower it.
#[test]
fn one_members_names_never_make_another_members_name_common() {
    let id = oid;
    let build = |bulk: bool, flood: Option<i64>| {
        built(bulk, |ix| {
            let a = access(Tlp::Green, 1);
            team_at(ix, "Ryom Kwang-jin", IP, &a);
            // Other people's names, so that the parts' shares are measured on something.
            for n in 0..200u64 {
                let p = json!({"type": "identity", "name": format!("Person{n} Surname{n}"), "identity_class": "individual"});
                ix.upsert(&id("identity", 5000 + n), &p.to_string(), access(Tlp::Green, 2 + (n % 3) as i64));
            }
            if let Some(owner) = flood {
                for n in 0..300u64 {
                    let p = json!({"type": "identity", "name": format!("Kwang-jin Ryom{n}"), "identity_class": "individual"});
                    ix.upsert(&id("identity", 1000 + n), &p.to_string(), access(Tlp::Green, owner));
                    let p = json!({"type": "identity", "name": format!("Ryom{n} Kwang-jin"), "identity_class": "individual"});
                    ix.upsert(&id("identity", 2000 + n), &p.to_string(), access(Tlp::Green, owner));
                    let p =
                        json!({"type": "identity", "name": format!("Ryom Kwang{n}"), "identity_class": "individual"});
                    ix.upsert(&id("identity", 3000 + n), &p.to_string(), access(Tlp::Green, owner));
                }
            }
        })
    };
    let name_weight = |ix: &Index| -> f64 {
        let s = run(ix, json!({"ref": "n", "names": ["Ryom Kwang-jin"], "ips": ["198.51.100.7"]}), member(3));
        let c = top(&s);
        assert_eq!(c.actor.as_deref(), Some(id("threat-actor", 1).as_str()), "{s:?}");
        c.evidence.iter().find(|e| e.field == "names").map_or(0.0, |e| e.weight)
    };
    for bulk in [false, true] {
        let before = name_weight(&build(bulk, None));
        assert!(before > 0.5, "bulk {bulk}: {before}");
        assert_eq!(name_weight(&build(bulk, Some(4))), before, "bulk {bulk}: another member's names");
        let own = name_weight(&build(bulk, Some(1)));
        assert!(own < before - 0.5, "bulk {bulk}: member 1's own names: {own} vs {before}");
    }
}

/// Member 2 files 20 copies of one address (each its own object, as members may file them)
/// for 20 open personas of its own actors: past the 10 an IP's weight bears, its later
/// copies are counted, not walked. Member 1 ties one of them (the first or the last filed)
/// to its own RED persona by a RED relationship. Member 3, screening an applicant with that
/// persona's e-mail and the address, gets member 1's actor as a restricted hit that rests on
/// the address too, wherever that copy stands among the holders (the tie was lost when the
/// copy came after the count passed the limit); and what member 3 sees is the same as
/// without member 1's data.
#[test]
fn a_hidden_tie_on_a_holder_past_the_limit_is_still_a_restricted_hit() {
    let id = oid;
    let build = |bulk: bool, tied: Option<u64>| {
        built(bulk, |ix| {
            for n in 0..20u64 {
                let a = access(Tlp::Green, 2);
                let actor = id("threat-actor", 100 + n);
                ix.upsert(&actor, &json!({"type": "threat-actor", "name": format!("team {n}")}).to_string(), a.clone());
                let p = json!({"type": "identity", "name": format!("Person {n}"), "identity_class": "individual"});
                ix.upsert(&id("identity", 100 + n), &p.to_string(), a.clone());
                let ip = json!({"type": "ipv4-addr", "value": "198.51.100.7"});
                ix.upsert(&id("ipv4-addr", 100 + n), &ip.to_string(), a.clone());
                for (r, d) in [(100 + n, actor), (200 + n, id("ipv4-addr", 100 + n))] {
                    let (r, j) = related(r, &id("identity", 100 + n), &d);
                    ix.upsert(&r, &j, a.clone());
                }
            }
            if let Some(k) = tied {
                let red = access(Tlp::Red, 1);
                ix.upsert(
                    &id("threat-actor", 1),
                    &json!({"type": "threat-actor", "name": "JADE"}).to_string(),
                    red.clone(),
                );
                let p = json!({"type": "identity", "name": "Someone Else", "identity_class": "individual"});
                ix.upsert(&id("identity", 1), &p.to_string(), red.clone());
                let mail = json!({"type": "email-addr", "value": "kim.cholsu@proton.me"});
                ix.upsert(&id("email-addr", 1), &mail.to_string(), red.clone());
                for (r, d) in [(1, id("threat-actor", 1)), (2, id("email-addr", 1)), (900, id("ipv4-addr", 100 + k))] {
                    let (r, j) = related(r, &id("identity", 1), &d);
                    ix.upsert(&r, &j, red.clone());
                }
            }
        })
    };
    let applicant = json!({"ref": "r", "emails": ["kim.cholsu@proton.me"], "ips": ["198.51.100.7"]});
    let seen = |s: &screen::Screening| -> Vec<serde_json::Value> {
        s.matches
            .iter()
            .filter_map(|h| match h {
                Hit::Candidate(c) => Some(serde_json::to_value(c).unwrap()),
                Hit::Restricted(_) => None,
            })
            .collect()
    };
    let behind = |s: &screen::Screening| -> Vec<String> {
        s.matches
            .iter()
            .flat_map(|h| match h {
                Hit::Restricted(r) => r.objects.clone(),
                Hit::Candidate(_) => Vec::new(),
            })
            .collect()
    };
    for bulk in [false, true] {
        let without = run(&build(bulk, None), applicant.clone(), member(3));
        assert!(behind(&without).is_empty(), "{without:?}");
        for k in [0, 19] {
            let with = run(&build(bulk, Some(k)), applicant.clone(), member(3));
            assert_eq!(seen(&with), seen(&without), "bulk {bulk}, copy {k}: what member 3 sees");
            let objects = behind(&with);
            assert!(objects.contains(&id("email-addr", 1)), "bulk {bulk}, copy {k}: {objects:?}");
            assert!(objects.contains(&id("relationship", 900)), "bulk {bulk}, copy {k}: {objects:?}");
        }
    }
}

/// How many names are in the data sets how many stored names a name could be by chance:
/// member 4 filing 20,000 open personas, whatever their names, leaves the weight of member
/// 1's "Sarah Hong" (two parts common somewhere: its chance grows with the names counted)
/// as it was; member 1's own 20,000, or two members' 10,000 each, lower it.
#[test]
fn one_members_names_never_move_how_many_names_another_members_name_is_weighed_against() {
    let id = oid;
    let build = |bulk: bool, floods: &[(i64, u64)]| {
        built(bulk, |ix| {
            team_at(ix, "Sarah Hong", IP, &access(Tlp::Green, 1));
            for n in 0..200u64 {
                let p = json!({"type": "identity", "name": format!("Person{n} Surname{n}"), "identity_class": "individual"});
                ix.upsert(&id("identity", 5000 + n), &p.to_string(), access(Tlp::Green, 2 + (n % 3) as i64));
            }
            let mut next = 100_000u64;
            for &(owner, count) in floods {
                for _ in 0..count {
                    next += 1;
                    let p = json!({"type": "identity", "name": format!("Flood{next} Filed{next}"), "identity_class": "individual"});
                    ix.upsert(&id("identity", next), &p.to_string(), access(Tlp::Green, owner));
                }
            }
        })
    };
    // The name alone: weighed against every stored name (listed however weak, as a search).
    let name_weight = |ix: &Index| -> f64 {
        let opts = Options { list_all: true, ..Options::default() };
        let s = ix.screen(&applicant(json!({"ref": "n", "names": ["Sarah Hong"]})), &member(3), &opts);
        let c = top(&s);
        assert_eq!(c.actor.as_deref(), Some(id("threat-actor", 1).as_str()), "{s:?}");
        c.evidence.iter().find(|e| e.field == "names").map_or(0.0, |e| e.weight)
    };
    for bulk in [false, true] {
        let before = name_weight(&build(bulk, &[]));
        assert!(before > 1.0, "bulk {bulk}: {before}");
        assert_eq!(name_weight(&build(bulk, &[(4, 20_000)])), before, "bulk {bulk}: another member's names");
        let own = name_weight(&build(bulk, &[(1, 20_000)]));
        assert!(own < before - 0.5, "bulk {bulk}: member 1's own names: {own} vs {before}");
        let two = name_weight(&build(bulk, &[(4, 10_000), (5, 10_000)]));
        assert!(two < before - 0.5, "bulk {bulk}: two members' names: {two} vs {before}");
    }
}

/// Member 1 files 40 personas with one name (more than a name's weight bears: for member
/// 1's ties the name is too common to follow); member 2 has one persona with that name and
/// the team's own address. Member 2's persona is still followed and its name weighs what it
/// weighs beside 5 of member 1's — built in bulk and object by object, whichever order the
/// holders come in.
#[test]
fn one_members_many_holders_never_set_aside_another_members_holder() {
    let id = oid;
    let ip = IP;
    let build = |bulk: bool, many: u64, first: bool| {
        built(bulk, |ix| {
            let person = |ix: &mut Index, n: u64, owner: i64| {
                let a = access(Tlp::Green, owner);
                ix.upsert(
                    &id("threat-actor", n),
                    &json!({"type": "threat-actor", "name": format!("team {n}")}).to_string(),
                    a.clone(),
                );
                let p = json!({"type": "identity", "name": "Ryom Kwang-jin", "identity_class": "individual"});
                ix.upsert(&id("identity", n), &p.to_string(), a.clone());
                let j = json!({"type": "relationship", "relationship_type": "related-to", "source_ref": id("identity", n), "target_ref": id("threat-actor", n)});
                ix.upsert(&id("relationship", n), &j.to_string(), a);
            };
            if first {
                person(ix, 1, 2);
            }
            for n in 0..many {
                person(ix, 100 + n, 1);
            }
            if !first {
                person(ix, 1, 2);
            }
            let a = access(Tlp::Green, 2);
            ix.upsert(ip, &json!({"type": "ipv4-addr", "value": "198.51.100.7"}).to_string(), a.clone());
            let j = json!({"type": "relationship", "relationship_type": "related-to", "source_ref": id("identity", 1), "target_ref": ip});
            ix.upsert(&id("relationship", 9999), &j.to_string(), a);
        })
    };
    let name_weight = |ix: &Index| -> Option<f64> {
        let s = run(ix, json!({"ref": "n", "names": ["Ryom Kwang-jin"], "ips": ["198.51.100.7"]}), member(3));
        let c = top(&s);
        assert_eq!(c.actor.as_deref(), Some(id("threat-actor", 1).as_str()), "{s:?}");
        c.evidence.iter().find(|e| e.field == "names").map(|e| e.weight)
    };
    for bulk in [false, true] {
        for first in [false, true] {
            let few = name_weight(&build(bulk, 5, first));
            assert!(few.is_some_and(|w| w > 0.3), "bulk {bulk}, first {first}: {few:?}");
            assert_eq!(name_weight(&build(bulk, 40, first)), few, "bulk {bulk}, first {first}");
            // Member 1's own personas get nothing from the name among 40 of theirs.
            let s = run(&build(bulk, 40, first), json!({"ref": "n", "names": ["Ryom Kwang-jin"]}), member(3));
            assert_eq!(s.decision, Decision::Clear);
            let member_1s = s.matches.iter().filter(|h| match h {
                Hit::Candidate(c) => c.actor.as_deref() != Some(id("threat-actor", 1).as_str()),
                Hit::Restricted(_) => true,
            });
            assert_eq!(member_1s.count(), 0, "bulk {bulk}, first {first}: {s:?}");
        }
    }
}

/// A phone weighs at most `log10(numbers in use in its country / numbers of that country
/// in the data)`. Another member filing 7,000 open Israeli numbers lowered member 1's
/// Israeli number from 5.0 to about 3.9 for everyone. The count now leaves out the numbers
/// of the one organization, not on the evidence's tie, that holds the most: member 3's
/// weight for member 1's number is what it was, built in bulk or object by object. Member
/// 1's own 7,000, or two other members' 3,500 each, still lower it.
#[test]
fn one_members_numbers_never_lower_another_members_phone() {
    let build = |bulk: bool, floods: &[(i64, u64)]| {
        built(bulk, |ix| {
            let a = access(Tlp::Green, 1);
            team_at(ix, "Kim Chol-su", IP, &a);
            let phone = "phone-number--00000000-0000-5000-8000-000000000002";
            ix.upsert(phone, &json!({"type": "phone-number", "value": "+972502345678"}).to_string(), a.clone());
            let (r, j) = related(3, &oid("identity", 1), phone);
            ix.upsert(&r, &j, a);
            let mut i = 0u64;
            for (owner, count) in floods {
                for _ in 0..*count {
                    i += 1;
                    let v = format!("+97252{:07}", 1_000_000 + i);
                    let id = format!("phone-number--00000000-0000-5000-9000-{i:012}");
                    ix.upsert(
                        &id,
                        &json!({"type": "phone-number", "value": v}).to_string(),
                        access(Tlp::Green, *owner),
                    );
                }
            }
        })
    };
    let phone_weight = |ix: &Index| -> f64 {
        let s = run(ix, json!({"ref": "p", "phones": ["+972 50-234-5678"]}), member(3));
        top(&s).evidence.iter().find(|e| e.field == "phones").map_or(0.0, |e| e.weight)
    };
    for bulk in [false, true] {
        let before = phone_weight(&build(bulk, &[]));
        assert!(before > 4.5, "bulk {bulk}: {before}");
        assert_eq!(phone_weight(&build(bulk, &[(2, 7000)])), before, "bulk {bulk}: another member's numbers");
        for floods in [&[(1, 7000)][..], &[(2, 3500), (4, 3500)][..]] {
            let w = phone_weight(&build(bulk, floods));
            assert!(w < before - 0.5, "bulk {bulk}, {floods:?}: {w} vs {before}");
        }
    }
}

/// A candidate found by weak evidence alone (a team's own IP, a persona's name) is weighed
/// down by each kind of identifier the applicant gave that agrees with nothing of it — an
/// operative of that team would have given one of its own as often as not — and a
/// candidate with an identifier agreement is not.
#[test]
fn identifiers_that_agree_with_nothing_of_a_weakly_found_actor_weigh_against_it() {
    let a = access(Tlp::Green, 1);
    let email = oid("email-addr", 7);
    let ix = built(false, |ix| {
        team_at(ix, "Kim Chol-su", IP, &a);
        ix.upsert(&email, &json!({"type": "email-addr", "value": "cholsu.dev@gmail.com"}).to_string(), a.clone());
        let (r, j) = related(3, &oid("identity", 1), &email);
        ix.upsert(&r, &j, a.clone());
    });
    let weak = run(&ix, json!({"ref": "a1", "names": ["Kim Chol-su"], "ips": ["198.51.100.7"]}), member(3));
    let c = top(&weak);
    assert!(c.absent.is_none(), "{c:?}");
    let evidence: f64 = c.evidence.iter().map(|e| e.weight).sum();
    assert!((c.llr - evidence).abs() < 0.01, "{c:?}");

    // The same beside an e-mail address, two phone numbers and a wallet that are nobody's:
    // three kinds, each log10(1/2).
    let fresh = run(
        &ix,
        json!({"ref": "a2", "names": ["Kim Chol-su"], "ips": ["198.51.100.7"], "emails": ["k.cs.1990@example.org"],
               "phones": ["+44 20 7946 0321", "+44 20 7946 0322"], "wallets": [{"address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}]}),
        member(3),
    );
    let f = top(&fresh);
    let absent = f.absent.as_ref().expect("three kinds of identifier agree with nothing");
    assert_eq!(absent.fields, ["emails", "phones", "wallets"]);
    assert!((absent.weight - 3.0 * 0.5f64.log10()).abs() < 0.001, "{absent:?}");
    assert!((f.llr - (c.llr + 3.0 * 0.5f64.log10())).abs() < 1e-9, "{f:?} against {c:?}");
    assert!(f.score < c.score);
    // It is part of the answer, with the evidence.
    let text = serde_json::to_string(&fresh).unwrap();
    assert!(text.contains(r#""absent":{"fields":["emails","phones","wallets"],"weight":-0.903}"#), "{text}");

    // One of them is the persona's own address: an identifier agrees, nothing is absent.
    let strong = run(
        &ix,
        json!({"ref": "a3", "names": ["Kim Chol-su"], "ips": ["198.51.100.7"], "emails": ["Cholsu.Dev@gmail.com"],
               "phones": ["+44 20 7946 0321"]}),
        member(3),
    );
    let s = top(&strong);
    assert!(s.absent.is_none(), "{s:?}");
    assert_eq!(strong.decision, Decision::Match, "{strong:?}");
    // An applicant who gave no identifiers at all loses nothing for them.
    let bare = run(&ix, json!({"ref": "a4", "ips": ["198.51.100.7"]}), member(3));
    assert!(top(&bare).absent.is_none(), "{bare:?}");
}

/// Another member's data — the applicant's e-mail address and phone tied to its own
/// actors, and a RED relationship of its own tying that address to the first
/// member's persona — never adds or removes an absence on the first member's candidate as a
/// third member sees it: the hidden tie is a restricted hit, nothing more.
#[test]
fn one_members_data_never_changes_the_absences_on_another_members_candidate() {
    let a = access(Tlp::Green, 1);
    let fill_a = |ix: &mut Index| team_at(ix, "Myong Cholsu", IP, &a);
    let input = json!({"ref": "b1", "ips": ["198.51.100.7"], "emails": ["fresh.face@example.org"], "phones": ["+44 20 7946 0321"]});
    let alone = built(false, fill_a);
    let flooded = built(false, |ix| {
        fill_a(ix);
        let b = access(Tlp::Green, 2);
        let email = oid("email-addr", 50);
        let phone = oid("phone-number", 51);
        ix.upsert(&email, &json!({"type": "email-addr", "value": "fresh.face@example.org"}).to_string(), b.clone());
        ix.upsert(&phone, &json!({"type": "phone-number", "value": "+442079460321"}).to_string(), b.clone());
        // Five actors: each a candidate of its own (an identifier agrees), listed above the
        // first member's, and all within the ten candidates listed.
        for k in 0..5u64 {
            let actor = oid("threat-actor", 100 + k);
            let persona = oid("identity", 200 + k);
            ix.upsert(&actor, &json!({"type": "threat-actor", "name": format!("B team {k}")}).to_string(), b.clone());
            let p = json!({"type": "identity", "name": format!("B persona {k}"), "identity_class": "individual"});
            ix.upsert(&persona, &p.to_string(), b.clone());
            for (j, (s, d)) in [(&persona, &actor), (&persona, &email), (&persona, &phone)].into_iter().enumerate() {
                let (r, body) = related(1000 + 3 * k + j as u64, s, d);
                ix.upsert(&r, &body, b.clone());
            }
        }
        let (r, body) = related(2000, &oid("identity", 1), &email);
        ix.upsert(&r, &body, access(Tlp::Red, 2));
    });
    let candidate_of_a = |s: &screen::Screening| {
        s.matches
            .iter()
            .find_map(|h| match h {
                Hit::Candidate(c) if c.actor.as_deref() == Some(oid("threat-actor", 1).as_str()) => Some(c.clone()),
                _ => None,
            })
            .expect("member 1's actor is a candidate")
    };
    let before = candidate_of_a(&run(&alone, input.clone(), member(3)));
    let after_screen = run(&flooded, input, member(3));
    let after = candidate_of_a(&after_screen);
    assert_eq!(before.absent.as_ref().map(|a| a.fields.clone()), Some(vec!["emails", "phones"]), "{before:?}");
    assert_eq!(after.absent, before.absent, "{after:?}");
    assert!((after.llr - before.llr).abs() < 1e-9, "{} against {}", after.llr, before.llr);
    assert_eq!(screen::query::restricted_count(&after_screen), 1, "{after_screen:?}");
}
