//! Moving a whole store between backends, or out to a backup and back: every row of every
//! table, as it is (version ids, sequence numbers and dates added included, so that TAXII
//! cursors, change-log followers and the audit log carry on where they were), checked by a
//! fingerprint of both sides.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// One column's value, as every backend can store it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Every table of the schema, in the order a copy writes them (organizations before what
/// refers to them). A table added by a migration must be added here: a unit test compares
/// this list with the schema.
pub const TABLES: &[&str] = &[
    "orgs",
    "tokens",
    "users",
    "secrets",
    "collections",
    "objects",
    "collection_objects",
    "provenance",
    "multi_version",
    "changes",
    "statuses",
    "audit",
    "web_sessions",
    "review_queue",
    "review_ties",
    "suppressions",
    "dispositions",
    "review_restricted",
    "access_requests",
    "follower_cursors",
    "notifications",
    "webhooks",
    "webhook_deliveries",
    "watched",
    "watch_keys",
    "sync_state",
    "mirrors",
    "auth_attempts",
];

/// Each table's key: a dump lists its rows in this order.
pub fn key_of(table: &str) -> Option<&'static str> {
    Some(match table {
        "orgs" => "id",
        "tokens" => "id",
        "users" => "id",
        "secrets" => "name",
        "collections" => "id",
        "objects" => "vid",
        "collection_objects" => "collection, date_added",
        "provenance" => "vid, org",
        "multi_version" => "idh",
        "changes" => "seq",
        "statuses" => "id",
        "audit" => "seq",
        "web_sessions" => "key",
        "review_queue" => "id",
        "review_ties" => "entry, value_hash, object",
        "suppressions" => "org, value_hash, object",
        "dispositions" => "entry, object",
        "review_restricted" => "entry, object",
        "access_requests" => "id",
        "follower_cursors" => "name",
        "notifications" => "id",
        "webhooks" => "id",
        "webhook_deliveries" => "id",
        "watched" => "id",
        "watch_keys" => "hash, subject",
        "sync_state" => "name",
        "mirrors" => "token, name",
        "auth_attempts" => "key",
        _ => return None,
    })
}

/// What a store holds, to compare two stores after a copy: the rows of every table, and a
/// SHA-256 over every object version (its id, version id and exact JSON, in version order)
/// and over every audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fingerprint {
    pub rows: BTreeMap<String, u64>,
    pub objects_sha256: String,
    pub audit_sha256: String,
}

/// Builds a [`Fingerprint`] from a dump's rows as they stream past.
#[derive(Default)]
pub struct Fingerprinter {
    rows: BTreeMap<String, u64>,
    objects: Sha256,
    audit: Sha256,
}

impl Fingerprinter {
    /// Takes one row of `table` with its `columns`. Rows must come in each table's key
    /// order (a dump gives them so).
    pub fn row(&mut self, table: &str, columns: &[String], row: &[Value]) {
        *self.rows.entry(table.to_owned()).or_default() += 1;
        let hasher = match table {
            "objects" => &mut self.objects,
            "audit" => &mut self.audit,
            _ => return,
        };
        for (c, v) in columns.iter().zip(row) {
            if table == "objects" && !matches!(c.as_str(), "vid" | "id" | "json") {
                continue;
            }
            hasher.update(c.as_bytes());
            hasher.update([0]);
            match v {
                Value::Null => hasher.update([0]),
                Value::Int(i) => hasher.update(i.to_le_bytes()),
                Value::Real(f) => hasher.update(f.to_le_bytes()),
                Value::Text(t) => hasher.update(t.as_bytes()),
                Value::Blob(b) => hasher.update(b),
            }
            hasher.update([0xff]);
        }
    }

    pub fn finish(self) -> Fingerprint {
        let hex = |d: Sha256| d.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>();
        let mut rows = self.rows;
        for t in TABLES {
            rows.entry((*t).to_owned()).or_default();
        }
        Fingerprint { rows, objects_sha256: hex(self.objects), audit_sha256: hex(self.audit) }
    }
}

/// One table's rows in a dump: its name and columns, then its rows.
pub struct TableDump<'a> {
    pub table: &'a str,
    pub columns: &'a [String],
}

/// What a dump hands each row to.
pub type RowVisitor<'v> = dyn FnMut(&TableDump<'_>, &[Value]) -> Result<(), StoreError> + 'v;

/// One row of a load: table, columns, values.
pub type LoadRow = Result<(String, Vec<String>, Vec<Value>), StoreError>;

/// Whole-store copies: a consistent dump of every row, and a load of such a dump into a
/// store that holds nothing yet.
pub trait Transfer: Send + Sync {
    /// Visits every row of every table in [`TABLES`] order, each table in key order, all
    /// read in one transaction (a consistent snapshot while writers go on).
    fn dump(&self, visit: &mut RowVisitor<'_>) -> Result<(), StoreError>;

    /// Replaces everything in this store by `rows` (table name, columns, values), in one
    /// transaction: all or nothing. Refused unless the store is new (no tokens, no users,
    /// no audit records, no organization but the ISAC's), so that a copy never overwrites
    /// a store in use.
    fn load(&self, rows: &mut dyn Iterator<Item = LoadRow>) -> Result<u64, StoreError>;

    /// The store's [`Fingerprint`] (reads everything).
    fn fingerprint(&self) -> Result<Fingerprint, StoreError> {
        let mut f = Fingerprinter::default();
        self.dump(&mut |t, row| {
            f.row(t.table, t.columns, row);
            Ok(())
        })?;
        Ok(f.finish())
    }
}

/// What [`copy`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Copied {
    pub rows: u64,
    pub fingerprint: Fingerprint,
}

/// Copies everything from `from` into `to` (which must be new; see [`Transfer::load`]),
/// then checks that `to` holds exactly what `from` held when the copy read it.
pub fn copy(from: &dyn Transfer, to: &dyn Transfer) -> Result<Copied, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<LoadRow>(1024);
    let mut source = Fingerprinter::default();
    let (loaded, dumped) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let tx = tx;
            let r = from.dump(&mut |t, row| {
                source.row(t.table, t.columns, row);
                tx.send(Ok((t.table.to_owned(), t.columns.to_vec(), row.to_vec())))
                    .map_err(|_| StoreError::Invalid("the copy's writer stopped".into()))
            });
            if let Err(e) = &r {
                let _ = tx.send(Err(StoreError::Invalid(format!("reading the source: {e}"))));
            }
            r
        });
        let loaded = to.load(&mut rx.into_iter());
        let dumped = reader.join().unwrap_or_else(|_| Err(StoreError::Invalid("the copy's reader panicked".into())));
        (loaded, dumped)
    });
    // The writer's own refusal (a store in use, say) explains more than the reader's
    // "writer stopped" that follows from it.
    let rows = loaded?;
    dumped?;
    let expected = source.finish();
    let found = to.fingerprint()?;
    if found != expected {
        return Err(StoreError::Corrupt(format!(
            "the copy differs from its source: expected {expected:?}, found {found:?}"
        )));
    }
    Ok(Copied { rows, fingerprint: found })
}
