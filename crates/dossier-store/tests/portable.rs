//! Whole-store copies between backends: the embedded store → PostgreSQL → the embedded store
//! gives back every row exactly, PostgreSQL's schema keeps the audit log append-only, and a
//! copy never lands in a store in use. Runs a throwaway PostgreSQL cluster (see
//! `dossier_test_support::postgres`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::sync::OnceLock;

use dossier_stix::{Role, StixObject};
use dossier_store::transfer::Value;
use dossier_store::{
    Accounts, AuditLog, AuditRecord, Collections, Cursors, Directory, Federation, Inbox, Item, NewNotification,
    ObjectStore, PgStore, SqliteStore, Submission, SyncState, Transfer, Upkeep, WebSession,
};
use dossier_test_support::postgres::Cluster;
use serde_json::json;

/// One cluster for this test binary.
fn cluster() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    CLUSTER.get_or_init(Cluster::start).as_ref()
}

/// Every row of every table, as the store dumps it.
fn rows(store: &dyn Transfer) -> Vec<(String, Vec<String>, Vec<Value>)> {
    let mut out = Vec::new();
    store
        .dump(&mut |t, row| {
            out.push((t.table.to_owned(), t.columns.to_vec(), row.to_vec()));
            Ok(())
        })
        .unwrap();
    out
}

fn object(v: serde_json::Value) -> StixObject {
    StixObject::from_value(&v).unwrap()
}

/// A store with something in every kind of table, and values that test the copy's quoting:
/// tabs, newlines, backslashes, quotes, non-ASCII text, NULLs and bytes of every value.
fn populated(dir: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(dir).unwrap();
    let acme = store.add_org("Acme Exchange \\ \"Ünïcode\" 김").unwrap();
    let other = store.add_org("Other Member").unwrap();
    store.create_token(acme.id, Role::Member, Some("line\nbreak"), None).unwrap();
    store.create_token(other.id, Role::Admin, None, Some(4_102_444_800_000_000)).unwrap();
    store.add_user(acme.id, "alice", Role::Analyst, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").unwrap();
    store.secret("audit-hash").unwrap();
    let key: [u8; 32] = std::array::from_fn(|i| (i * 37 % 256) as u8 | if i == 3 { 0x5c } else { 0 });
    store
        .save_session(&WebSession { key, principal: "user:x".into(), csrf: "c\\sr\tf".into(), started: 1, last: 2 })
        .unwrap();
    let collection = store.default_collection().unwrap().id;
    let mut items = Vec::new();
    for (i, m) in ["2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"].iter().enumerate() {
        items.push(object(json!({"type": "threat-actor", "spec_version": "2.1",
            "id": "threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": "2024-01-01T00:00:00.000Z",
            "modified": m, "name": format!("Team \"Jade\"\t{i}\n김철수 \\ back")})));
    }
    for v in ["chol@example.org", "tab\there@example.org"] {
        let mut e = json!({"type": "email-addr", "value": v});
        e["id"] = json!(dossier_stix::id::deterministic_sco_id("email-addr", e.as_object().unwrap()).unwrap().as_str());
        items.push(object(e));
    }
    for (org, named) in [(acme.id, true), (other.id, false)] {
        let mut it =
            items.iter().cloned().enumerate().map(|(index, o)| Item::Valid { index, line: 1, object: o.into_record() });
        store.import(&Submission { org, collection, named, curator: false }, &mut it, &mut |_| {}).unwrap_or_default();
    }
    store
        .audit_many(&[
            AuditRecord {
                at: 10,
                org: Some(acme.id),
                token: Some("tok_1".into()),
                method: "POST".into(),
                path: "/api/v1/screen".into(),
                params: Some("{\"email\":\"h:ab\\\\cd\",\"x\":\"\t\n\"}".into()),
                status: 200,
                returned: 3,
            },
            AuditRecord {
                at: 11,
                org: None,
                token: None,
                method: "CLI".into(),
                path: "export".into(),
                params: None,
                status: 0,
                returned: 0,
            },
        ])
        .unwrap();
    store.put_status("status--1", acme.id, "{\"status\":\"complete\"}").unwrap();
    store.save_cursor("notify", 7).unwrap();
    store
        .notify(&[NewNotification {
            org: acme.id,
            at: 12,
            kind: "hit".into(),
            title: "A hit\ton yours".into(),
            link: None,
            body: json!({"k": "v\\w"}),
        }])
        .unwrap();
    let peer = store.peer_org("Peer ISAC").unwrap();
    store
        .save_sync_state(&SyncState {
            name: format!("pull:{}", peer.name),
            cursor: Some("2024-01-01T00:00:00Z".into()),
            objects: 3,
            skipped: 1,
            last_run: Some(5),
            last_ok: None,
            last_error: Some("timed\nout".into()),
        })
        .unwrap();
    store
}

#[test]
fn sqlite_to_postgres_and_back_gives_every_row_back() {
    let dir = tempfile::tempdir().unwrap();
    let source = populated(&dir.path().join("a"));
    let Some(cluster) = cluster() else { return };
    let url = cluster.database();
    let pg = PgStore::open(&url).unwrap();
    let there = dossier_store::copy(&source, &pg).unwrap();
    assert!(there.rows > 20, "{there:?}");
    for table in ["orgs", "tokens", "users", "objects", "provenance", "audit", "web_sessions", "notifications"] {
        assert!(there.fingerprint.rows[table] > 0, "{table} copied: {there:?}");
    }
    let back = SqliteStore::open(&dir.path().join("b")).unwrap();
    let again = dossier_store::copy(&pg, &back).unwrap();
    assert_eq!(again.fingerprint, there.fingerprint);
    assert_eq!(rows(&back), rows(&source), "every row of every table, exactly");
    assert_eq!(rows(&pg), rows(&source), "PostgreSQL holds the same rows with the same types");
    // The copy is a working store: a token made at the source authenticates at the copy,
    // and new rows continue after the copied keys.
    let other = back.org_by_name("Other Member").unwrap();
    assert!(back.add_org("Third").unwrap().id > other.id);
    assert_eq!(back.tokens().unwrap().len(), 2);
    // PostgreSQL's identity sequences were moved past the copied keys too.
    let next =
        cluster.psql(&url, "INSERT INTO orgs (name, identity_id, isac, created) VALUES ('n', 'i', 0, 0) RETURNING id");
    let max_before: i64 = other.id.max(source.orgs().unwrap().iter().map(|o| o.id).max().unwrap());
    assert!(next.lines().next().unwrap().trim().parse::<i64>().unwrap() > max_before, "{next}");
}

#[test]
fn postgres_keeps_the_audit_log_append_only_and_names_case_insensitively_unique() {
    let Some(cluster) = cluster() else { return };
    let url = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let pg = PgStore::open(&url).unwrap();
    dossier_store::copy(&populated(dir.path()), &pg).unwrap();
    for sql in ["UPDATE audit SET status = 500", "DELETE FROM audit", "TRUNCATE audit"] {
        let out = std::panic::catch_unwind(|| cluster.psql(&url, sql));
        assert!(out.is_err(), "{sql} must be refused");
    }
    assert_eq!(cluster.psql(&url, "SELECT count(*) FROM audit").trim(), "2");
    let dup = std::panic::catch_unwind(|| {
        cluster.psql(&url, "INSERT INTO orgs (name, identity_id, isac, created) VALUES ('OTHER member', 'x', 0, 0)")
    });
    assert!(dup.is_err(), "organization names are unique regardless of case");
    // Opening again (a second node) finds the schema current and changes nothing.
    let before = rows(&pg);
    let second = PgStore::open(&url).unwrap();
    assert_eq!(second.schema_version().unwrap(), pg.schema_version().unwrap());
    assert_eq!(rows(&second), before);
    assert!(second.location().contains("127.0.0.1") && !second.location().contains("password"));
}

#[test]
fn a_copy_never_lands_in_a_store_in_use() {
    let Some(cluster) = cluster() else { return };
    let url = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let pg = PgStore::open(&url).unwrap();
    dossier_store::copy(&populated(&dir.path().join("a")), &pg).unwrap();
    let before = rows(&pg);
    let err = dossier_store::copy(&populated(&dir.path().join("b")), &pg).unwrap_err().to_string();
    assert!(err.contains("the target store is in use"), "{err}");
    assert_eq!(rows(&pg), before, "nothing changed");
    // And the other way: a SQLite store in use refuses a copy from PostgreSQL.
    let used = populated(&dir.path().join("c"));
    let before = rows(&used);
    assert!(dossier_store::copy(&pg, &used).is_err());
    assert_eq!(rows(&used), before);
}

#[test]
fn a_postgres_store_backs_up_to_a_file_that_restores_anywhere() {
    let Some(cluster) = cluster() else { return };
    let url = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let source = populated(&dir.path().join("a"));
    let pg = PgStore::open(&url).unwrap();
    dossier_store::copy(&source, &pg).unwrap();
    let file = dir.path().join("pg.bak");
    pg.backup(&file).unwrap();
    assert!(pg.backup(&file).is_err(), "never over an existing file");
    let restored = PgStore::open(&cluster.database()).unwrap();
    dossier_store::copy(&SqliteStore::open_file(&file).unwrap(), &restored).unwrap();
    assert_eq!(rows(&restored), rows(&source));
}

#[test]
fn a_wrong_url_or_an_unreachable_server_is_a_clear_error() {
    let err = dossier_store::open("postgres://dossier:hunter2@127.0.0.1:1/x").err().unwrap();
    let text = err.to_string();
    assert!(text.contains("connecting to postgres://dossier:***@127.0.0.1:1/x"), "{text}");
    assert!(!text.contains("hunter2"));
    assert_eq!(err.storage_failure(), Some(dossier_store::StorageFailure::Unavailable));
}
