//! Behaviour of the embedded SQLite store of its own (schema upgrades, the write-ahead log);
//! what every backend must do is in `contract.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use dossier_stix::{StixObject, Tlp};
use dossier_store::{ChangeLog, Collections};
use dossier_store::{Directory, Item, ObjectStore, Query, SqliteStore, StoreError, Submission};
use serde_json::json;

const ACTOR: &str = "threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

fn import(
    store: &SqliteStore,
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

fn setup() -> (tempfile::TempDir, SqliteStore, Submission) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let sub = Submission {
        org: store.isac().unwrap().id,
        collection: store.default_collection().unwrap().id,
        named: false,
        curator: true,
    };
    (dir, store, sub)
}

fn latest(store: &SqliteStore, id: &str) -> Vec<String> {
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

#[test]
fn a_data_directory_from_a_newer_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("dossier.db")).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = SqliteStore::open(dir.path()).err().expect("must refuse");
    assert!(matches!(err, StoreError::NewerSchema { found: 999, .. }), "{err}");
    assert!(err.to_string().contains("newer dossier"));
}

/// An email at `tlp` with `confidence`.
fn marked_email(value: &str, tlp: Tlp, confidence: u8) -> StixObject {
    let mut v = json!({"type": "email-addr", "value": value, "spec_version": "2.1",
        "object_marking_refs": [tlp.marking_id()], "confidence": confidence});
    let id = dossier_stix::id::deterministic_sco_id("email-addr", v.as_object().unwrap()).unwrap();
    v["id"] = json!(id.as_str());
    StixObject::from_value(&v).unwrap()
}

#[test]
fn upgrading_a_store_from_before_per_member_assertions_serves_the_first_members_identifier_again() {
    let dir = tempfile::tempdir().unwrap();
    let id = marked_email("upgrade@example.com", Tlp::Green, 80).id().to_string();
    let b_vid;
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        let a = store.add_org("Exchange A").unwrap();
        let b = store.add_org("Wallet B").unwrap();
        let collection = store.default_collection().unwrap().id;
        let sub = |org| Submission { org, collection, named: false, curator: false };
        import(&store, &sub(a.id), vec![marked_email("upgrade@example.com", Tlp::Green, 80)]).unwrap();
        import(&store, &sub(b.id), vec![marked_email("upgrade@example.com", Tlp::Red, 5)]).unwrap();
        b_vid = store.versions(&id).unwrap().iter().find(|e| e.owner == b.id).unwrap().vid;
    }
    let before_upgrade = {
        // Put the store back as schema 10 wrote it: the newest copy served, whoever made it.
        let conn = rusqlite::Connection::open(dir.path().join("dossier.db")).unwrap();
        conn.execute_batch(&format!(
            "UPDATE collection_objects SET latest = (vid = {b_vid})
               WHERE vid IN (SELECT vid FROM objects WHERE id = '{id}');
             ALTER TABLE objects DROP COLUMN curator;
             DROP TABLE review_queue; DROP TABLE review_ties; DROP TABLE suppressions; DROP TABLE dispositions;
             DROP TABLE review_restricted; DROP TABLE access_requests;
             DROP TABLE follower_cursors; DROP TABLE notifications;
             DROP TABLE webhooks; DROP TABLE webhook_deliveries; DROP TABLE watched; DROP TABLE watch_keys;
             ALTER TABLE orgs DROP COLUMN kind; DROP TABLE sync_state; DROP TABLE mirrors; DROP TABLE auth_attempts;
             PRAGMA user_version = 10;"
        ))
        .unwrap();
        conn.query_row("SELECT max(seq) FROM changes", [], |r| r.get::<_, i64>(0)).unwrap()
    };
    let store = SqliteStore::open(dir.path()).unwrap();
    let served = latest(&store, &id);
    assert_eq!(served.len(), 1);
    assert!(served[0].contains("\"confidence\":80"), "{served:?}");
    // The screening index (and its snapshot) learn of it through the change log.
    let changes = store.changes_since(before_upgrade, 10).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].id.as_deref(), Some(id.as_str()));
}

/// Under back-to-back writes with readers always busy and only passive checkpoints (what a
/// busy server had), the log only grows; `bound_wal` keeps it under its limit.
#[test]
fn the_write_ahead_log_stays_under_its_limit_under_back_to_back_writes() {
    let (_dir, store, sub) = setup();
    store.background_checkpoints().unwrap();
    let limit: u64 = 4 * 1024 * 1024;
    let batch = |round: usize| -> Vec<StixObject> {
        (0..100)
            .map(|i| {
                StixObject::from_value(&json!({"type": "note", "spec_version": "2.1",
                    "id": format!("note--00000000-0000-4000-8000-{:012}", round * 1000 + i),
                    "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                    "content": "x".repeat(2000), "object_refs": [ACTOR]}))
                .unwrap()
            })
            .collect()
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (unbounded, largest, one_write) = std::thread::scope(|s| {
        // Two readers that always have a query running: the log can never restart from
        // its beginning under passive checkpoints.
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let q = Query { types: vec!["note".into()], limit: 50, ..Query::default() };
                    store.scan(&q, &mut |_| true).unwrap();
                }
            });
        }
        // The readers stop however this body ends: a failed assertion or import below must
        // fail the test, not leave the scope waiting for readers that never stop (a hang).
        struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let _stop_readers = StopOnDrop(&stop);
        let mut one_write = 0;
        for round in 0..30 {
            let before = store.wal_bytes();
            import(&store, &sub, batch(round)).unwrap();
            one_write = one_write.max(store.wal_bytes().saturating_sub(before));
            store.checkpoint().unwrap();
        }
        let unbounded = store.wal_bytes();
        let first = store.bound_wal(limit).unwrap();
        assert!(first <= limit / 2, "{first} bytes after the first bounding");
        let mut largest = 0;
        let mut failures = Vec::new();
        for round in 30..60 {
            import(&store, &sub, batch(round)).unwrap();
            largest = largest.max(store.wal_bytes());
            let t = std::time::Instant::now();
            if let Err(e) = store.bound_wal(limit) {
                failures.push(format!("{e} after {:?}", t.elapsed()));
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(failures.is_empty(), "{failures:?}");
        (unbounded, largest, one_write)
    });
    assert!(unbounded > limit, "passive checkpoints alone kept the log at {unbounded} bytes: the test shows nothing");
    // Half the limit plus what the writes between two checks append (here one write), checked
    // after every write.
    assert!(largest <= limit, "the log reached {largest} bytes (limit {limit}, one write {one_write})");
    // Closing leaves nothing in the log.
    store.close().unwrap();
    assert_eq!(store.wal_bytes(), 0);
}
