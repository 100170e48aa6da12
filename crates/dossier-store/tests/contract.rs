//! The store's contract: every behaviour the callers rely on, run against each backend —
//! the embedded SQLite store and PostgreSQL (a throwaway cluster; see
//! `dossier_test_support::postgres`). `cargo test -p dossier-store --test contract postgres`
//! runs the PostgreSQL half alone.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::sync::{Arc, OnceLock};

use dossier_stix::{Role, StixObject, Tlp};
use dossier_store::transfer::Value;
use dossier_store::{Item, Query, Store, StoreError, Submission, Versions};
use dossier_test_support::postgres::Cluster;
use serde_json::json;

const ACTOR: &str = "threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

fn actor(modified: &str, name: &str) -> StixObject {
    StixObject::from_value(&json!({"type": "threat-actor", "spec_version": "2.1", "id": ACTOR,
        "created": "2024-01-01T00:00:00.000Z", "modified": modified, "name": name}))
    .unwrap()
}

fn email(value: &str) -> StixObject {
    let mut v = json!({"type": "email-addr", "value": value});
    let id = dossier_stix::id::deterministic_sco_id("email-addr", v.as_object().unwrap()).unwrap();
    v["id"] = json!(id.as_str());
    StixObject::from_value(&v).unwrap()
}

fn cluster() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    CLUSTER.get_or_init(Cluster::start).as_ref()
}

/// Where a test's store lives, to open it again (a restart).
struct Place {
    _dir: Option<tempfile::TempDir>,
    url: String,
}

impl Place {
    fn reopen(&self) -> Arc<dyn Store> {
        dossier_store::open(&self.url).unwrap()
    }
    /// No value of any row of the store holds `needle`.
    fn assert_nowhere(&self, needle: &[u8]) {
        let store = self.reopen();
        store
            .dump(&mut |t, row| {
                for v in row {
                    let bytes: &[u8] = match v {
                        Value::Text(s) => s.as_bytes(),
                        Value::Blob(b) => b,
                        _ => continue,
                    };
                    assert!(!bytes.windows(needle.len()).any(|w| w == needle), "found in {}", t.table);
                }
                Ok(())
            })
            .unwrap();
    }
}

/// A new store on SQLite, or on PostgreSQL (`pg`; `None` when PostgreSQL is to be skipped).
fn setup(pg: bool) -> Option<(Place, Arc<dyn Store>, Submission)> {
    let place = if pg {
        Place { _dir: None, url: cluster()?.database() }
    } else {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().display());
        Place { _dir: Some(dir), url }
    };
    let store = place.reopen();
    let sub = Submission {
        org: store.isac().unwrap().id,
        collection: store.default_collection().unwrap().id,
        named: false,
        curator: true,
    };
    Some((place, store, sub))
}

fn import(
    store: &Arc<dyn Store>,
    sub: &Submission,
    objects: Vec<StixObject>,
) -> Result<dossier_store::ImportSummary, StoreError> {
    let mut items = objects.into_iter().enumerate().map(|(index, object)| Item::Valid {
        index,
        line: 1,
        object: object.into_record(),
    });
    store.import(sub, &mut items, &mut |_| {})
}

fn latest(store: &Arc<dyn Store>, id: &str) -> Vec<String> {
    let q = Query { ids: vec![id.to_owned()], ..Query::default() };
    let mut out = Vec::new();
    store
        .scan(&q, &mut |e| {
            out.push(e.json);
            true
        })
        .unwrap();
    out
}

/// Each test once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(false) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(true) })*
        }
    };
}

backends!(
    large_imports_see_what_their_earlier_chunks_wrote,
    scans_read_every_row_in_order_past_any_batch_size,
    a_member_cannot_version_withdraw_or_hide_another_members_intelligence,
    a_follower_waiting_on_the_log_wakes_on_another_nodes_commit,
    failed_authentications_are_counted_per_key_within_a_window,
    leads_and_durable_cursors,
    newer_version_supersedes_and_older_arrival_stays_history,
    same_version_with_different_content_is_refused_and_nothing_is_stored,
    two_organizations_submitting_one_sco_make_one_object,
    unmarked_objects_get_the_collection_default_tlp,
    date_added_is_strictly_increasing_within_a_collection,
    tokens_are_hashed_expire_and_can_be_revoked,
    builtin_tlp_markings_and_extension_definitions_are_present,
    background_checkpoints_keep_the_data_readable,
    the_parallel_newest_version_scan_sees_each_object_once_in_its_newest_version,
    the_parallel_scan_sums_up_a_versions_memberships,
    users_are_disabled_enabled_and_given_new_passwords,
    web_sessions_are_kept_by_their_cookie_hash_and_pruned,
    every_read_of_the_newest_versions_serves_the_same_assertion_of_a_shared_identifier,
    review_queues_are_per_organization_and_judgements_suppress_only_for_the_judge,
    objects_submitted_again_settle_from_what_was_read_ahead,
);

fn entry(org: i64, at: i64, decision: &str, ties: &[(&str, &str)]) -> dossier_store::NewReviewEntry {
    dossier_store::NewReviewEntry {
        org,
        at,
        expires: at + 1_000,
        by_id: "user:alice".into(),
        by_name: "alice".into(),
        source: "api".into(),
        reference: Some(format!("cand-{at}")),
        ref_hash: format!("h{at}"),
        decision: decision.into(),
        score: 0.9,
        result: json!({"decision": decision}).to_string(),
        ties: ties.iter().map(|(v, o)| ((*v).to_owned(), (*o).to_owned())).collect(),
        restricted: Vec::new(),
    }
}

/// An email at `tlp` with `confidence`.
fn marked_email(value: &str, tlp: Tlp, confidence: u8) -> StixObject {
    let mut v = json!({"type": "email-addr", "value": value, "spec_version": "2.1",
        "object_marking_refs": [tlp.marking_id()], "confidence": confidence});
    let id = dossier_stix::id::deterministic_sco_id("email-addr", v.as_object().unwrap()).unwrap();
    v["id"] = json!(id.as_str());
    StixObject::from_value(&v).unwrap()
}

fn newer_version_supersedes_and_older_arrival_stays_history(pg: bool) {
    let Some((_d, store, sub)) = setup(pg) else { return };
    let s = import(&store, &sub, vec![actor("2024-02-01T00:00:00.000Z", "v2")]).unwrap();
    assert_eq!(s.added, 1);
    let s = import(&store, &sub, vec![actor("2024-03-01T00:00:00.000Z", "v3")]).unwrap();
    assert_eq!(s.updated, 1);
    let s = import(&store, &sub, vec![actor("2024-01-15T00:00:00.000Z", "v1")]).unwrap();
    assert_eq!(s.history, 1);
    let s = import(&store, &sub, vec![actor("2024-03-01T00:00:00.000Z", "v3")]).unwrap();
    assert_eq!(s.unchanged, 1);
    let l = latest(&store, ACTOR);
    assert_eq!(l.len(), 1);
    assert!(l[0].contains("\"v3\""));
    let versions = store.versions(ACTOR).unwrap();
    let names: Vec<bool> = ["v1", "v2", "v3"].iter().zip(&versions).map(|(n, e)| e.json.contains(n)).collect();
    assert_eq!(names, vec![true, true, true], "oldest first");
    // First version and a given version.
    let mut first = Vec::new();
    store
        .scan(
            &Query {
                ids: vec![ACTOR.into()],
                versions: vec![Versions::First],
                collection: Some(sub.collection),
                ..Query::default()
            },
            &mut |e| {
                first.push(e.version);
                true
            },
        )
        .unwrap();
    assert_eq!(first, vec!["2024-01-15T00:00:00.000Z".to_owned()]);
}

fn same_version_with_different_content_is_refused_and_nothing_is_stored(pg: bool) {
    let Some((_d, store, sub)) = setup(pg) else { return };
    import(&store, &sub, vec![actor("2024-02-01T00:00:00.000Z", "v2")]).unwrap();
    let before = store.last_change().unwrap();
    let err =
        import(&store, &sub, vec![email("new@example.com"), actor("2024-02-01T00:00:00.000Z", "changed")]).unwrap_err();
    let StoreError::Rejected(r) = err else { panic!("expected a rejection") };
    assert_eq!(r.invalid_objects, 1);
    assert_eq!(r.errors[0].index, 1);
    assert!(r.errors[0].problem.reason.contains("different content"), "{r}");
    assert_eq!(store.last_change().unwrap(), before, "the valid email was not stored either");
    assert!(latest(&store, email("new@example.com").id().as_str()).is_empty());
}

fn two_organizations_submitting_one_sco_make_one_object(pg: bool) {
    let Some((_d, store, sub)) = setup(pg) else { return };
    let other = store.add_org("Example Exchange").unwrap();
    import(&store, &sub, vec![email("kim@example.com")]).unwrap();
    let s =
        import(&store, &Submission { org: other.id, curator: false, ..sub }, vec![email("kim@example.com")]).unwrap();
    assert_eq!(s.unchanged, 1);
    let id = email("kim@example.com").id().to_string();
    assert_eq!(store.versions(&id).unwrap().len(), 1);
    assert_eq!(store.provenance(&id).unwrap().len(), 2, "one object, two provenances");
}

fn unmarked_objects_get_the_collection_default_tlp(pg: bool) {
    let Some((_d, store, _sub)) = setup(pg) else { return };
    let isac = store.isac().unwrap();
    let c = store.add_collection("Red room", Some("red-room"), None, Tlp::Red).unwrap();
    import(
        &store,
        &Submission { org: isac.id, collection: c.id, named: false, curator: false },
        vec![email("x@example.com")],
    )
    .unwrap();
    let mut tlps = Vec::new();
    store
        .scan(&Query { collection: Some(c.id), ..Query::default() }, &mut |e| {
            tlps.push(e.tlp);
            true
        })
        .unwrap();
    assert_eq!(tlps, vec![Tlp::Red]);
    let mut n = 0;
    store
        .scan(&Query { collection: Some(c.id), max_tlp: Some(Tlp::Amber), ..Query::default() }, &mut |_| {
            n += 1;
            true
        })
        .unwrap();
    assert_eq!(n, 0);
}

fn date_added_is_strictly_increasing_within_a_collection(pg: bool) {
    let Some((_d, store, sub)) = setup(pg) else { return };
    let objs: Vec<StixObject> = (0..200).map(|i| email(&format!("u{i}@example.com"))).collect();
    import(&store, &sub, objs).unwrap();
    import(&store, &sub, vec![email("late@example.com")]).unwrap();
    let mut dates = Vec::new();
    store
        .scan(&Query { collection: Some(sub.collection), ..Query::default() }, &mut |e| {
            dates.push(e.date_added);
            true
        })
        .unwrap();
    assert!(dates.windows(2).all(|w| w[0] < w[1]));
}

fn tokens_are_hashed_expire_and_can_be_revoked(pg: bool) {
    let Some((dir, store, _sub)) = setup(pg) else { return };
    let org = store.add_org("Example Wallet").unwrap();
    let t = store.create_token(org.id, Role::Member, Some("ci"), None).unwrap();
    let now = dossier_stix::timestamp::now_micros();
    assert_eq!(store.token_for_secret(&t.secret, now).unwrap().unwrap().id, t.info.id);
    assert!(store.token_for_secret("dsk_wrong", now).unwrap().is_none());
    // The secret is stored nowhere: no value of any row holds it.
    drop(store);
    dir.assert_nowhere(t.secret.as_bytes());
    let store = dir.reopen();
    let expiring = store.create_token(org.id, Role::Analyst, None, Some(now + 1_000_000)).unwrap();
    assert!(store.token_for_secret(&expiring.secret, now).unwrap().is_some());
    assert!(store.token_for_secret(&expiring.secret, now + 2_000_000).unwrap().is_none());
    store.revoke_token(&t.info.id).unwrap();
    assert!(store.token_for_secret(&t.secret, now).unwrap().is_none());
    assert!(matches!(store.revoke_token("tok_missing"), Err(StoreError::NotFound(_))));
}

fn builtin_tlp_markings_and_extension_definitions_are_present(pg: bool) {
    let Some((_d, store, _sub)) = setup(pg) else { return };
    for id in
        [Tlp::Red.marking_id(), dossier_stix::extension::PHONE_NUMBER, dossier_stix::extension::CRYPTOCURRENCY_WALLET]
    {
        assert_eq!(latest(&store, id).len(), 1, "{id}");
    }
}

fn background_checkpoints_keep_the_data_readable(pg: bool) {
    let Some((_d, store, sub)) = setup(pg) else { return };
    store.start_serving().unwrap();
    import(&store, &sub, vec![email("a@example.com")]).unwrap();
    store.upkeep(10, 1 << 30).unwrap();
    import(&store, &sub, vec![email("b@example.com")]).unwrap();
    store.upkeep(20, 1 << 30).unwrap();
    assert_eq!(latest(&store, email("b@example.com").id().as_str()).len(), 1);
}

fn the_parallel_newest_version_scan_sees_each_object_once_in_its_newest_version(pg: bool) {
    let Some((_dir, store, sub)) = setup(pg) else { return };
    let (builtin_versions, builtin_ids) = store.counts().unwrap();
    import(&store, &sub, vec![actor("2024-03-01T00:00:00.000Z", "v3"), email("a@example.com")]).unwrap();
    // An older version arriving later is history; a newer one supersedes.
    import(&store, &sub, vec![actor("2024-02-01T00:00:00.000Z", "v2")]).unwrap();
    import(&store, &sub, vec![email("b@example.com"), actor("2024-04-01T00:00:00.000Z", "v4")]).unwrap();
    for parts in [1, 2, 3] {
        let seen = std::sync::Mutex::new(Vec::new());
        store
            .scan_latest_parallel(&[], parts, &|_, e, _| {
                seen.lock().unwrap().push((e.id.to_owned(), e.json.contains("\"v4\"")));
                true
            })
            .unwrap();
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        let actors: Vec<_> = seen.iter().filter(|(id, _)| id == ACTOR).collect();
        assert_eq!(actors.len(), 1, "{parts} parts: {seen:?}");
        assert!(actors[0].1, "the newest version (v4) is the one read");
        assert_eq!(seen.iter().filter(|(id, _)| id.starts_with("email-addr--")).count(), 2);
    }
    assert_eq!(store.counts().unwrap(), (builtin_versions + 5, builtin_ids + 3), "5 versions of 3 objects");
    // Nothing was deleted: the cheap estimate is the exact number of objects.
    assert_eq!(store.objects_estimate().unwrap(), builtin_ids + 3);
}

/// What the index's scan says of a version held in several collections: the highest TLP of
/// its memberships, analysts-only only when every collection holding it is, and read when
/// it is the newest in any of them.
fn the_parallel_scan_sums_up_a_versions_memberships(pg: bool) {
    use dossier_store::Access;
    let Some((_dir, store, sub)) = setup(pg) else { return };
    let staff = store.add_collection("Analysts' notes", Some("staff"), None, Tlp::Red).unwrap();
    store.set_collection_access(staff.id, Access::Analysts, Access::Analysts).unwrap();
    let amber = store.add_collection("Amber", Some("amber"), None, Tlp::Amber).unwrap();
    let into = |c: &dossier_store::Collection| Submission { collection: c.id, ..sub };
    // Both in the default (GREEN) collection and in the analysts' (RED).
    let both = email("both@example.com");
    import(&store, &sub, vec![both.clone()]).unwrap();
    import(&store, &into(&staff), vec![both.clone()]).unwrap();
    // Only in the analysts' collection; in the analysts' and the AMBER one.
    let staff_only = email("staff@example.com");
    import(&store, &into(&staff), vec![staff_only.clone()]).unwrap();
    let two_staffless = email("amber@example.com");
    import(&store, &into(&amber), vec![two_staffless.clone()]).unwrap();
    import(&store, &into(&staff), vec![two_staffless.clone()]).unwrap();
    // An older version in the AMBER collection after a newer one there: read once, newest.
    import(&store, &into(&amber), vec![actor("2024-03-01T00:00:00.000Z", "v3")]).unwrap();
    import(&store, &into(&staff), vec![actor("2024-02-01T00:00:00.000Z", "v2")]).unwrap();
    for parts in [1, 2] {
        let seen = std::sync::Mutex::new(std::collections::HashMap::new());
        store
            .scan_latest_parallel(&[], parts, &|_, e, staff| {
                let first = seen.lock().unwrap().insert(e.id.to_owned(), (e.tlp, staff, e.json.to_owned()));
                assert!(first.is_none(), "{} read twice", e.id);
                true
            })
            .unwrap();
        let seen = seen.into_inner().unwrap();
        let of = |o: &StixObject| seen.get(o.id().as_str()).map(|(t, s, _)| (*t, *s));
        assert_eq!(of(&both), Some((Tlp::Red, false)), "{parts} parts");
        assert_eq!(of(&staff_only), Some((Tlp::Red, true)), "{parts} parts");
        assert_eq!(of(&two_staffless), Some((Tlp::Red, false)), "{parts} parts");
        let (tlp, staff, json) = &seen[ACTOR];
        assert!(json.contains("\"v3\""), "{parts} parts: {json}");
        assert_eq!((*tlp, *staff), (Tlp::Amber, false), "{parts} parts");
    }
}

fn users_are_disabled_enabled_and_given_new_passwords(pg: bool) {
    let Some((_dir, store, _)) = setup(pg) else { return };
    let org = store.add_org("Example Exchange").unwrap();
    let u = store.add_user(org.id, "alice", Role::Member, "$argon2id$first").unwrap();
    store.disable_user(&u.id).unwrap();
    assert!(store.user("alice").unwrap().unwrap().disabled.is_some());
    store.disable_user(&u.id).unwrap(); // already disabled: not an error
    store.enable_user(&u.id).unwrap();
    assert!(store.user("alice").unwrap().unwrap().disabled.is_none());
    store.set_password(&u.id, "$argon2id$second").unwrap();
    assert_eq!(store.user(&u.id).unwrap().unwrap().password_hash, "$argon2id$second");
    assert!(matches!(store.set_password(&u.id, "plain text"), Err(StoreError::Invalid(_))));
    assert_eq!(
        store.user(&u.id).unwrap().unwrap().password_hash,
        "$argon2id$second",
        "a refused change changes nothing"
    );
    for r in [store.enable_user("usr_nobody"), store.disable_user("usr_nobody"), store.set_password("usr_nobody", "$x")]
    {
        assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    }
}

fn web_sessions_are_kept_by_their_cookie_hash_and_pruned(pg: bool) {
    use dossier_store::WebSession;
    let Some((dir, store, _)) = setup(pg) else { return };
    let s = |k: u8, principal: &str, started: i64, last: i64| WebSession {
        key: [k; 32],
        principal: principal.into(),
        csrf: format!("csrf{k}"),
        started,
        last,
    };
    store.save_session(&s(1, "user:usr_a", 100, 100)).unwrap();
    store.save_session(&s(2, "user:usr_a", 200, 200)).unwrap();
    store.save_session(&s(3, "token:tok_b", 300, 300)).unwrap();
    store.touch_session(&[1; 32], 150).unwrap();
    assert_eq!(store.session(&[1; 32]).unwrap(), Some(s(1, "user:usr_a", 100, 150)));
    assert_eq!(store.session(&[9; 32]).unwrap(), None);
    // Kept across a reopen (a restart).
    drop(store);
    let store = dir.reopen();
    assert!(store.session(&[3; 32]).unwrap().is_some());
    // Every session of a user but one; then pruning by idle time and by age.
    assert_eq!(store.delete_sessions_of("user:usr_a", Some(&[2; 32])).unwrap(), 1);
    assert!(store.session(&[1; 32]).unwrap().is_none() && store.session(&[2; 32]).unwrap().is_some());
    assert_eq!(store.prune_sessions(250, 0).unwrap(), 1, "idle since 200");
    assert_eq!(store.prune_sessions(0, 301).unwrap(), 1, "started at 300");
    store.save_session(&s(4, "user:usr_c", 1, 1)).unwrap();
    store.delete_session(&[4; 32]).unwrap();
    assert!(store.session(&[4; 32]).unwrap().is_none());
    assert_eq!(store.delete_sessions_of("user:usr_c", None).unwrap(), 0);
}

fn every_read_of_the_newest_versions_serves_the_same_assertion_of_a_shared_identifier(pg: bool) {
    let Some((_d, store, sub)) = setup(pg) else { return };
    let a = store.add_org("Exchange A").unwrap();
    let b = store.add_org("Wallet B").unwrap();
    let as_a = Submission { org: a.id, curator: false, ..sub };
    let as_b = Submission { org: b.id, curator: false, ..sub };
    import(&store, &as_a, vec![marked_email("shared@example.com", Tlp::Green, 80)]).unwrap();
    // B's later copies, RED and CLEAR, with other confidences: neither takes A's place.
    import(&store, &as_b, vec![marked_email("shared@example.com", Tlp::Red, 5)]).unwrap();
    import(&store, &as_b, vec![marked_email("shared@example.com", Tlp::Clear, 1)]).unwrap();
    let id = marked_email("shared@example.com", Tlp::Green, 80).id().to_string();
    assert_eq!(store.versions(&id).unwrap().len(), 3);
    // The index's cold build (scan_latest over everything, and its parallel variant) and its
    // catch-up (scan_latest by id) read what TAXII serves as the latest: A's assertion.
    let mut cold = Vec::new();
    store
        .scan_latest(&["email-addr"], None, &mut |e, _| {
            cold.push((e.id.to_owned(), e.owner, e.tlp, e.confidence));
            true
        })
        .unwrap();
    let by_id = std::sync::Mutex::new(Vec::new());
    store
        .scan_latest_parallel(&["email-addr"], 2, &|_, e, _| {
            by_id.lock().unwrap().push((e.id.to_owned(), e.owner, e.tlp, e.confidence));
            true
        })
        .unwrap();
    let mut warm = Vec::new();
    store
        .scan_latest(&[], Some(std::slice::from_ref(&id)), &mut |e, _| {
            warm.push((e.id.to_owned(), e.owner, e.tlp, e.confidence));
            true
        })
        .unwrap();
    let expected = vec![(id.clone(), a.id, Tlp::Green, Some(80))];
    assert_eq!(cold, expected);
    assert_eq!(by_id.into_inner().unwrap(), expected);
    assert_eq!(warm, expected);
    let served = latest(&store, &id);
    assert_eq!(served.len(), 1);
    assert!(served[0].contains("\"confidence\":80"), "{served:?}");

    // A newer copy in a second collection, one only analysts read: still A's, everywhere.
    let drop = store.add_collection("drop box", None, None, Tlp::Amber).unwrap();
    store.set_collection_access(drop.id, dossier_store::Access::Analysts, dossier_store::Access::Members).unwrap();
    import(
        &store,
        &Submission { collection: drop.id, ..as_b },
        vec![marked_email("shared@example.com", Tlp::Green, 2)],
    )
    .unwrap();
    let mut cold = Vec::new();
    store
        .scan_latest(&["email-addr"], None, &mut |e, staff_only| {
            cold.push((e.id.to_owned(), e.owner, e.tlp, e.confidence, staff_only));
            true
        })
        .unwrap();
    assert_eq!(cold, vec![(id.clone(), a.id, Tlp::Green, Some(80), false)]);
    let mut warm = Vec::new();
    store
        .scan_latest(&[], Some(std::slice::from_ref(&id)), &mut |e, staff_only| {
            warm.push((e.id.to_owned(), e.owner, e.tlp, e.confidence, staff_only));
            true
        })
        .unwrap();
    assert_eq!(warm, cold);
    let served = latest(&store, &id);
    assert_eq!(served.len(), 1);
    assert!(served[0].contains("\"confidence\":80"), "{served:?}");
}

fn review_queues_are_per_organization_and_judgements_suppress_only_for_the_judge(pg: bool) {
    use dossier_store::{Disposition, Judgement, ReviewQuery, ReviewStatus};
    let Some((_dir, store, _)) = setup(pg) else { return };
    let a = store.add_org("Exchange A").unwrap().id;
    let b = store.add_org("Wallet B").unwrap().id;
    let ids = store
        .enqueue(&[
            entry(a, 100, "review", &[("v1", "email-addr--1"), ("v2", "identity--2")]),
            entry(a, 200, "match", &[("v3", "email-addr--1")]),
            entry(b, 150, "review", &[("v1", "email-addr--1")]),
        ])
        .unwrap();
    assert_eq!(ids.len(), 3);
    // Nothing but match and review is queued; nothing of the batch is stored then.
    assert!(matches!(store.enqueue(&[entry(a, 300, "clear", &[])]), Err(StoreError::Invalid(_))));
    let open = |org| store.review_entries(org, &ReviewQuery { limit: 50, ..Default::default() }, 150).unwrap();
    assert_eq!(open(a).iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[1], ids[0]], "newest first");
    assert_eq!(open(b).len(), 1);
    assert_eq!(store.open_reviews(a, 150).unwrap(), 2);
    // B cannot read or judge A's entries.
    assert!(store.review_entry(b, ids[0], 150).unwrap().is_none());
    let j = |d| Judgement {
        disposition: d,
        comment: Some("checked the ATS".into()),
        by_id: "user:bob".into(),
        by_name: "bob".into(),
    };
    assert!(matches!(store.judge(b, ids[0], &j(Disposition::FalsePositive), 150), Err(StoreError::NotFound(_))));
    assert!(store.suppressions(b, 150).unwrap().is_empty());
    // A judges its first entry a false positive: its two ties are suppressed for A only.
    let judged = store.judge(a, ids[0], &j(Disposition::FalsePositive), 160).unwrap();
    assert_eq!(judged.disposition, Some(Disposition::FalsePositive));
    assert_eq!(judged.judged_by.as_deref(), Some("bob"));
    let sup = store.suppressions(a, 170).unwrap();
    assert_eq!(sup.len(), 2);
    assert!(sup.iter().all(|s| s.by_name == "bob" && s.at == 160));
    assert!(store.suppressions(b, 170).unwrap().is_empty());
    assert_eq!(store.open_reviews(a, 170).unwrap(), 1);
    let judged_list =
        store.review_entries(a, &ReviewQuery { status: ReviewStatus::Judged, limit: 10, before: None }, 170).unwrap();
    assert_eq!(judged_list.len(), 1);
    // B confirms its own entry: the analysts' counts see both judgements of the object.
    store.judge(b, ids[2], &j(Disposition::Confirmed), 180).unwrap();
    let counts = store.disposition_counts(Some("email-addr--1"), 10).unwrap();
    assert_eq!((counts[0].false_positive, counts[0].confirmed, counts[0].organizations), (1, 1, 2));
    // Judging again replaces the judgement: the suppressions go.
    store.judge(a, ids[0], &j(Disposition::Unsure), 190).unwrap();
    assert!(store.suppressions(a, 195).unwrap().is_empty());
    let counts = store.disposition_counts(None, 10).unwrap();
    assert!(counts.iter().all(|c| c.false_positive == 0), "{counts:?}");
    // Retention: entries and suppressions expire and are purged.
    store.judge(a, ids[0], &j(Disposition::FalsePositive), 200).unwrap();
    assert_eq!(store.suppressions(a, 1_199).unwrap().len(), 2, "kept an entry's lifetime from the judgement");
    assert!(store.suppressions(a, 1_200).unwrap().is_empty());
    assert!(store.review_entry(a, ids[0], 1_100).unwrap().is_none(), "expired entries are not served");
    assert_eq!(store.purge_reviews(1_250).unwrap(), 3);
    assert!(
        store
            .review_entries(a, &ReviewQuery { status: ReviewStatus::All, limit: 10, before: None }, 0)
            .unwrap()
            .is_empty()
    );
    // A comment has a limit.
    let long = Judgement { comment: Some("x".repeat(5000)), ..j(Disposition::Unsure) };
    assert!(matches!(store.judge(a, ids[1], &long, 100), Err(StoreError::Invalid(_))));
}

fn failed_authentications_are_counted_per_key_within_a_window(pg: bool) {
    let Some((_d, store, _)) = setup(pg) else { return };
    assert_eq!(store.shares_throttle(), pg, "only a store several nodes share keeps the counts");
    let (window, t0) = (60_000_000, 1_000_000_000);
    // Two attempts allowed per address, ten per account.
    for i in 0..2 {
        assert_eq!(store.attempt(&[("addr:192.0.2.1", 2), ("account:alice", 10)], window, t0 + i).unwrap(), None);
    }
    assert_eq!(store.refused_since("addr:192.0.2.1", 2, window, t0 + 5).unwrap(), Some(t0));
    // Refused: nothing counted, for either key.
    assert_eq!(store.attempt(&[("addr:192.0.2.1", 2), ("account:alice", 10)], window, t0 + 5).unwrap(), Some(t0));
    assert_eq!(store.refused_since("account:alice", 2, window, t0 + 5).unwrap(), Some(t0), "alice has two");
    assert_eq!(store.refused_since("account:alice", 3, window, t0 + 5).unwrap(), None, "not three");
    // A success takes back its own attempt.
    store.refund(&["addr:192.0.2.1"]).unwrap();
    assert_eq!(store.refused_since("addr:192.0.2.1", 2, window, t0 + 6).unwrap(), None);
    assert_eq!(store.attempt(&[("addr:192.0.2.1", 2)], window, t0 + 7).unwrap(), None);
    // After the window a key starts again.
    assert_eq!(store.refused_since("addr:192.0.2.1", 2, window, t0 + window).unwrap(), None);
    assert_eq!(store.attempt(&[("addr:192.0.2.1", 2)], window, t0 + window + 1).unwrap(), None);
    assert_eq!(store.refused_since("addr:192.0.2.1", 2, window, t0 + window + 2).unwrap(), None, "one of two");
    // Another address is unaffected.
    assert_eq!(store.refused_since("addr:198.51.100.7", 2, window, t0 + 5).unwrap(), None);
}

fn leads_and_durable_cursors(pg: bool) {
    let Some((place, store, _)) = setup(pg) else { return };
    assert_eq!(store.cursor("notify").unwrap(), None);
    store.save_cursor("notify", 7).unwrap();
    store.save_cursor("notify", 9).unwrap();
    assert_eq!(place.reopen().cursor("notify").unwrap(), Some(9), "durable");
    assert!(store.lead("monitor").unwrap());
    assert!(store.lead("monitor").unwrap(), "kept");
    let second = place.reopen();
    if pg {
        // A second node on the same database does not lead what the first leads, until the
        // first is gone.
        assert!(!second.lead("monitor").unwrap());
        assert!(second.lead("webhooks").unwrap());
        drop(store);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !second.lead("monitor").unwrap() {
            assert!(std::time::Instant::now() < deadline, "the lead passes on when its holder is gone");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    } else {
        assert!(second.lead("monitor").unwrap(), "one process serves an embedded store: it always leads");
    }
}

fn a_follower_waiting_on_the_log_wakes_on_another_nodes_commit(pg: bool) {
    let Some((place, store, sub)) = setup(pg) else { return };
    let end = store.last_change().unwrap();
    // Nothing new: the wait lasts its timeout.
    let started = std::time::Instant::now();
    store.wait_for_change(end, std::time::Duration::from_millis(200)).unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(190));
    // A commit through another handle (another node) ends a long wait at once.
    let other = place.reopen();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let started = std::time::Instant::now();
            store.wait_for_change(end, std::time::Duration::from_secs(10)).unwrap();
            started.elapsed()
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        import(&other, &sub, vec![email("woken@example.org")]).unwrap();
        let waited = waiter.join().unwrap();
        assert!(waited < std::time::Duration::from_secs(2), "woken {waited:?} after it began waiting");
    });
    assert!(store.last_change().unwrap() > end);
}

fn a_member_cannot_version_withdraw_or_hide_another_members_intelligence(pg: bool) {
    let Some((_d, store, sub)) = setup(pg) else { return };
    let a = store.add_org("Exchange A").unwrap().id;
    let b = store.add_org("Wallet B").unwrap().id;
    let as_a = Submission { org: a, curator: false, named: true, ..sub };
    let as_b = Submission { org: b, curator: false, named: false, ..sub };
    import(&store, &as_a, vec![actor("2024-01-01T00:00:00.000Z", "A's team")]).unwrap();
    // B cannot add a version of A's object, however new.
    let err = import(&store, &as_b, vec![actor("2030-01-01T00:00:00.000Z", "B's rewrite")]).unwrap_err();
    assert!(err.to_string().contains("another organization created this object"), "{err}");
    assert!(latest(&store, ACTOR)[0].contains("A's team"));
    // B cannot withdraw A's version (nothing of B's is there to withdraw).
    let vids: Vec<i64> = store.versions(ACTOR).unwrap().iter().map(|e| e.vid).collect();
    assert_eq!(store.withdraw(sub.collection, ACTOR, &vids, Some(b)).unwrap(), 0);
    assert!(latest(&store, ACTOR)[0].contains("A's team"), "still served");
    // B asserting the same identifier as RED does not hide A's GREEN assertion.
    let green = marked_email("shared@example.org", Tlp::Green, 80);
    let red = marked_email("shared@example.org", Tlp::Red, 5);
    import(&store, &as_a, vec![green.clone()]).unwrap();
    import(&store, &as_b, vec![red]).unwrap();
    let mut served = Vec::new();
    store
        .scan(&Query { ids: vec![green.id().to_string()], ..Query::default() }, &mut |e| {
            served.push((e.owner, e.tlp));
            true
        })
        .unwrap();
    assert_eq!(served, vec![(a, Tlp::Green)], "A's assertion is the one served");
    // B withdrawing its own RED copy leaves A's alone; A's stays whatever B does.
    let b_vids: Vec<i64> =
        store.versions(green.id().as_str()).unwrap().iter().filter(|e| e.owner == b).map(|e| e.vid).collect();
    assert_eq!(store.withdraw(sub.collection, green.id().as_str(), &b_vids, Some(b)).unwrap(), 1);
    let a_vids: Vec<i64> =
        store.versions(green.id().as_str()).unwrap().iter().filter(|e| e.owner == a).map(|e| e.vid).collect();
    assert_eq!(store.withdraw(sub.collection, green.id().as_str(), &a_vids, Some(b)).unwrap(), 0);
    assert_eq!(latest(&store, green.id().as_str()).len(), 1);
}

fn scans_read_every_row_in_order_past_any_batch_size(pg: bool) {
    let Some((_d, store, sub)) = setup(pg) else { return };
    let (_, before) = store.counts().unwrap();
    let n = 12_345;
    import(&store, &sub, (0..n).map(|i| email(&format!("bulk.{i}@example.org"))).collect()).unwrap();
    for collection in [Some(sub.collection), None] {
        let (mut seen, mut last) = (0u64, i64::MIN);
        let mut ids = std::collections::HashSet::new();
        store
            .scan(&Query { collection, ..Query::default() }, &mut |e| {
                if collection.is_some() {
                    assert!(e.date_added > last, "in date-added order");
                    last = e.date_added;
                }
                assert!(ids.insert(e.id), "each object once");
                seen += 1;
                true
            })
            .unwrap();
        assert_eq!(seen, before + n as u64, "{collection:?}");
    }
    // A limit, and a visitor that stops, end the scan where they say.
    let mut seen = 0;
    store
        .scan(&Query { collection: Some(sub.collection), limit: 10_001, ..Query::default() }, &mut |_| {
            seen += 1;
            true
        })
        .unwrap();
    assert_eq!(seen, 10_001);
    let mut seen = 0;
    store
        .scan(&Query { collection: Some(sub.collection), ..Query::default() }, &mut |_| {
            seen += 1;
            seen < 10_500
        })
        .unwrap();
    assert_eq!(seen, 10_500);
}

fn numbered_actor(i: usize, modified: &str) -> StixObject {
    StixObject::from_value(&json!({"type": "threat-actor", "spec_version": "2.1",
        "id": format!("threat-actor--00000000-0000-4000-8000-{i:012}"),
        "created": "2024-01-01T00:00:00.000Z", "modified": modified, "name": format!("Team {i}")}))
    .unwrap()
}

/// An import reads the stored versions of its objects a chunk (2,000) at a time and
/// PostgreSQL buffers the rows it writes, skipping the write-out before a read when every
/// buffered version is one it already holds. Ids written by an earlier chunk of the same
/// import, ids stored before it, and ids read again after another member's copy changed a
/// version's recipients (which empties what it holds) all come out as SQLite has them.
fn large_imports_see_what_their_earlier_chunks_wrote(pg: bool) {
    let Some((_d, store, sub)) = setup(pg) else { return };
    let n = 5_000;
    let emails = |prefix: &str, range: std::ops::Range<usize>| -> Vec<StixObject> {
        range.map(|i| email(&format!("{prefix}{i}@example.org"))).collect()
    };
    let s = import(&store, &sub, emails("e", 0..n)).unwrap();
    assert_eq!(s.added as usize, n);
    // Four chunks in one transaction: new actors; the same actors, newer (written by the
    // first chunk, after the second's read-ahead began); stored e-mails; new e-mails.
    let mut objects: Vec<StixObject> = (0..n).map(|i| numbered_actor(i, "2024-02-01T00:00:00.000Z")).collect();
    objects.extend((0..n).map(|i| numbered_actor(i, "2024-03-01T00:00:00.000Z")));
    objects.extend(emails("e", 0..n));
    objects.extend(emails("f", 0..n));
    let s = import(&store, &sub, objects).unwrap();
    assert_eq!((s.added as usize, s.updated as usize, s.unchanged as usize, s.history), (2 * n, n, n, 0));
    let actor = numbered_actor(7, "2024-03-01T00:00:00.000Z");
    assert_eq!(store.versions(actor.id().as_str()).unwrap().len(), 2);
    assert!(latest(&store, actor.id().as_str())[0].contains("2024-03-01"));
    // Another member sends new e-mails, then stored ones (it joins their recipients:
    // versions change in a way the read-ahead does not follow), then other new ones, then
    // the first new ones again — two chunks later, read while nothing of this import is
    // committed.
    let other = store.add_org("Example Exchange").unwrap();
    let half = n / 2;
    let mut objects = emails("g", 0..half);
    objects.extend(emails("e", 0..half));
    objects.extend(emails("h", 0..n));
    objects.extend(emails("g", 0..half));
    let s = import(&store, &Submission { org: other.id, curator: false, named: true, ..sub }, objects).unwrap();
    assert_eq!((s.added as usize, s.updated, s.unchanged as usize), (half + n, 0, 2 * half));
    for id in [email("g1@example.org").id(), email("h4999@example.org").id(), email("f4999@example.org").id()] {
        assert_eq!(store.versions(id.as_str()).unwrap().len(), 1, "{id}");
    }
    assert_eq!(store.provenance(email("e3@example.org").id().as_str()).unwrap().len(), 2);
}

/// Objects submitted again unchanged are settled from what the read-ahead read of them
/// (PostgreSQL answers from it: a re-import of 100,000 unchanged objects made two queries per
/// object, and another member's copy four), with the same outcome as SQLite: a membership in
/// a collection that did not hold the version, a further submitter joining the recipients
/// once, the change log saying so once, and nothing for the same member sending it again.
fn objects_submitted_again_settle_from_what_was_read_ahead(pg: bool) {
    let Some((_d, store, sub)) = setup(pg) else { return };
    let n = 3_000;
    let emails = |range: std::ops::Range<usize>| -> Vec<StixObject> {
        range.map(|i| email(&format!("again{i}@example.org"))).collect()
    };
    let count = |store: &Arc<dyn Store>, collection: i64| {
        let q = Query { collection: Some(collection), ..Query::default() };
        let mut seen = 0;
        store
            .scan(&q, &mut |_| {
                seen += 1;
                true
            })
            .unwrap();
        seen
    };
    let log = |store: &Arc<dyn Store>| store.changes_since(0, 1_000_000).unwrap().len();
    assert_eq!(import(&store, &sub, emails(0..n)).unwrap().added as usize, n);
    let after_first = log(&store);
    let in_default = count(&store, sub.collection);
    // The same member again: nothing changes, nothing is logged.
    let s = import(&store, &sub, emails(0..n)).unwrap();
    assert_eq!((s.added, s.unchanged as usize), (0, n));
    assert_eq!(log(&store), after_first);
    // Into another collection, each twice in one import: the versions join it once (one
    // log entry each), and stay one version.
    let other_collection = store.add_collection("Second", Some("second"), None, Tlp::Amber).unwrap();
    let into = Submission { collection: other_collection.id, ..sub };
    let mut twice = emails(0..n);
    twice.extend(emails(0..n));
    let s = import(&store, &into, twice).unwrap();
    assert_eq!(s.unchanged as usize, 2 * n);
    assert_eq!(count(&store, other_collection.id), n);
    assert_eq!(count(&store, sub.collection), in_default);
    assert_eq!(log(&store), after_first + n);
    let id = email("again7@example.org").id().to_string();
    assert_eq!(store.versions(&id).unwrap().len(), 1);
    // Another member, each object twice in one import and then once more: it becomes a
    // further submitter and a recipient once, logged once per object.
    let member = store.add_org("Example Exchange").unwrap();
    let theirs = Submission { org: member.id, curator: false, ..sub };
    let mut twice = emails(0..n);
    twice.extend(emails(0..n));
    let s = import(&store, &theirs, twice).unwrap();
    assert_eq!(s.unchanged as usize, 2 * n);
    assert_eq!(log(&store), after_first + 2 * n);
    let s = import(&store, &theirs, emails(0..n)).unwrap();
    assert_eq!(s.unchanged as usize, n);
    assert_eq!(log(&store), after_first + 2 * n);
    let provenance = store.provenance(&id).unwrap();
    assert_eq!(provenance.len(), 2, "{provenance:?}");
    let q = Query { ids: vec![id.clone()], ..Query::default() };
    let mut recipients = Vec::new();
    store
        .scan(&q, &mut |e| {
            recipients.push(e.recipients.clone());
            true
        })
        .unwrap();
    assert_eq!(recipients, vec![vec![member.id]]);
    // What was stored is what a store opened afresh reads.
    let fresh = _d.reopen();
    assert_eq!(fresh.provenance(&id).unwrap().len(), 2);
    assert_eq!(count(&fresh, other_collection.id), n);
}

/// PostgreSQL writes an import's rows on a second thread while the next objects are worked
/// through: a write that the server refuses there (here a check the test adds, which the
/// first chunk's rows break) fails the whole import — nothing of it is stored, neither that
/// chunk nor the ones after — and the store goes on working.
#[test]
fn postgres_a_write_refused_behind_an_import_fails_all_of_it() {
    let Some((place, store, sub)) = setup(true) else { return };
    let cluster = cluster().unwrap();
    cluster.psql(&place.url, "ALTER TABLE objects ADD CONSTRAINT poison CHECK (json NOT LIKE '%poison%')");
    let objects = |n: usize| -> Vec<StixObject> {
        (0..n).map(|i| email(&format!("{}{i}@example.org", if i == 100 { "poison" } else { "a" }))).collect()
    };
    let err = import(&store, &sub, objects(5_000)).unwrap_err();
    assert!(err.to_string().contains("poison"), "{err}");
    for value in ["a0@example.org", "a2500@example.org", "a4999@example.org"] {
        assert!(latest(&store, email(value).id().as_str()).is_empty(), "{value} was stored");
    }
    assert_eq!(cluster.psql(&place.url, "SELECT count(*) FROM objects WHERE type = 'email-addr'").trim(), "0");
    cluster.psql(&place.url, "ALTER TABLE objects DROP CONSTRAINT poison");
    let s = import(&store, &sub, objects(5_000)).unwrap();
    assert_eq!(s.added, 5_000);
    assert_eq!(latest(&store, email("a4999@example.org").id().as_str()).len(), 1);
}

/// The error of opening `url`, which must fail.
fn refused(url: &str) -> String {
    match dossier_store::open(url) {
        Ok(_) => panic!("opened {url}"),
        Err(e) => e.to_string(),
    }
}

/// TLS to PostgreSQL as libpq's `sslmode` says: `verify-full` checks the chain and the
/// host name, `verify-ca` the chain only, `require` encrypts without checking unless given
/// a root; a certificate from another CA, a name that does not match, or a server without
/// TLS are refused with a message that says which (and never the password). A role the
/// server admits by client certificate only signs in with `sslcert` and `sslkey`; without
/// them, with another CA's certificate, with a key others may read or with a key that is
/// not the certificate's, it is refused, saying why.
#[test]
fn tls_to_postgresql_follows_sslmode() {
    let Some(secure) = Cluster::start_tls() else { return };
    let url = secure.database().replace("dossier@", "dossier:hunter2@");
    let by_name = url.replace("127.0.0.1", "localhost");
    let root = |p: &std::path::Path| format!("sslrootcert={}", p.display().to_string().replace('/', "%2F"));
    let ca = root(&secure.ca_file());
    let encrypted = || {
        secure
            .psql(
                &url,
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                  WHERE s.ssl AND a.datname = current_database() AND a.pid <> pg_backend_pid()",
            )
            .trim()
            .parse::<usize>()
            .unwrap()
    };
    let store = dossier_store::open(&format!("{by_name}?sslmode=verify-full&{ca}")).unwrap();
    assert!(store.isac().is_ok());
    assert!(encrypted() >= dossier_store::PG_POOL, "the pool's connections use TLS");
    drop(store);
    // The certificate names localhost, not 127.0.0.1.
    let err = refused(&format!("{url}?sslmode=verify-full&{ca}"));
    assert!(err.contains("host name verified") && err.contains("invalid peer certificate"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // The chain alone is enough for verify-ca, and for require with a root.
    for mode in ["verify-ca", "require"] {
        let store = dossier_store::open(&format!("{url}?sslmode={mode}&{ca}")).unwrap();
        assert!(store.isac().is_ok(), "{mode}");
    }
    // A CA that did not sign the server's certificate.
    let other = tempfile::tempdir().unwrap();
    Cluster::make_certificates(other.path());
    let wrong = root(&other.path().join("ca.pem"));
    for mode in ["verify-full", "verify-ca", "require"] {
        let err = refused(&format!("{by_name}?sslmode={mode}&{wrong}"));
        // (The other CA has the same name: its signature is what fails.)
        assert!(err.contains("invalid peer certificate") && err.contains(&format!("sslmode={mode}")), "{mode}: {err}");
    }
    // require without a root: encrypted, not checked.
    let store = dossier_store::open(&format!("{url}?sslmode=require")).unwrap();
    assert!(store.isac().is_ok());
    assert!(encrypted() >= dossier_store::PG_POOL);
    drop(store);
    // A server without TLS, asked for it: refused, saying so.
    if let Some(plain) = cluster().map(|c| c.database()) {
        let err = refused(&format!("{plain}?sslmode=require"));
        assert!(err.contains("TLS"), "{err}");
    }
    // Without sslmode (or with prefer), no TLS.
    let _store = dossier_store::open(&format!("{url}?sslmode=prefer")).unwrap();

    // A role the server lets in only with a client certificate its CA signed.
    let only = secure.certificate_only_database().replace("127.0.0.1", "localhost");
    let (cert, key) = secure.client_files();
    let path = |p: &std::path::Path| p.display().to_string().replace('/', "%2F");
    let with = |cert: &str, key: &str| format!("{only}?sslmode=verify-full&{ca}&sslcert={cert}&sslkey={key}");
    let store = dossier_store::open(&with(&path(&cert), &path(&key))).unwrap();
    assert!(store.isac().is_ok(), "signed in by certificate");
    drop(store);
    let err = refused(&format!("{only}?sslmode=verify-full&{ca}"));
    assert!(err.contains("requires a valid client certificate"), "without a certificate: {err}");
    // A certificate of another CA (for the same name) is refused by the server.
    let err = refused(&with(&path(&other.path().join("client.crt")), &path(&other.path().join("client.key"))));
    assert!(err.contains("UnknownCA"), "another CA's certificate: {err}");
    // A key others may read is refused before anything is sent, naming the file.
    let open_key = other.path().join("open.key");
    std::fs::copy(&key, &open_key).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = refused(&with(&path(&cert), &path(&open_key)));
    assert!(err.contains("open.key") && err.contains("may be read by others"), "{err}");
    // A key that is not the certificate's is refused before anything is sent.
    let err = refused(&with(&path(&cert), &path(&other.path().join("client.key"))));
    assert!(err.contains("sslcert and sslkey") && err.contains("KeyMismatch"), "{err}");
}
