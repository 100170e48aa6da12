//! The PostgreSQL backend, for several dossier nodes on one database.
//!
//! - The schema is versioned like SQLite's (the same migrations, in PostgreSQL's dialect),
//!   applied under an advisory lock so that nodes starting together migrate once.
//! - Writes to objects take turns through a transaction-scoped advisory lock
//!   ([`WRITE_LOCK`]), so that version ids, change-log sequence numbers and each
//!   collection's `date_added` grow in commit order on every node (see `objects`).
//! - A small pool of connections ([`POOL`]) serves reads and writes of one node.
//! - Whole-store copies in and out ([`Transfer`]) back `dossier migrate`, `backup` and
//!   `restore`.

mod directory;
mod objects;
mod sharing;
mod tls;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use postgres::Client;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::Type;

use crate::pg_schema::PG_MIGRATIONS;
use crate::transfer::{LoadRow, RowVisitor, TABLES, TableDump, Transfer, Value, key_of};
use crate::{StorageFailure, StoreError, Upkeep};

/// An arbitrary constant: the advisory lock every node takes while it migrates the schema.
const MIGRATION_LOCK: i64 = 0x646f_7373_6965_7201;

/// Rows fetched per round trip when a dump streams a table.
const DUMP_BATCH: i32 = 5_000;

/// The lock every write to objects takes (see `objects`).
const WRITE_LOCK: i64 = 0x646f_7373_6965_7202;

/// Connections per node.
pub const POOL: usize = 4;

/// A PostgreSQL store.
pub struct PgStore {
    url: String,
    /// How to reach it (the URL's TLS settings applied).
    connector: tls::Connector,
    pool: Vec<Mutex<Client>>,
    next: std::sync::atomic::AtomicUsize,
    /// The connection whose session holds this node's leads (session advisory locks: they
    /// go with the connection when the process dies), and the leads it holds.
    leases: Mutex<Option<(Client, std::collections::HashSet<String>)>>,
    /// Commits seen by this node's listener (LISTEN dossier_changes), for
    /// [`crate::ChangeLog::wait_for_change`]; started on first use.
    commits: std::sync::OnceLock<std::sync::Arc<Commits>>,
    /// Object versions this node has written, and how many it had written at the last
    /// refresh of the planner's statistics.
    unanalyzed: std::sync::atomic::AtomicU64,
    analyzed: std::sync::atomic::AtomicU64,
}

/// Versions written by this node after which it refreshes the planner's statistics
/// (`ANALYZE`): right after a bulk load they describe a much smaller store, and plans for a
/// handful of ids turn into whole-table reads.
const ANALYZE_AFTER: u64 = 50_000;

/// How many commits the listener has heard of; waiters sleep on the condition variable.
#[derive(Default)]
struct Commits {
    heard: Mutex<u64>,
    changed: std::sync::Condvar,
}

/// The channel every write to objects notifies on commit.
const CHANNEL: &str = "dossier_changes";

/// Runs `f`, which blocks on the database, so that it may be called from anywhere: an async
/// task on a runtime's worker thread hands its thread over first (`block_in_place`; the
/// client's own I/O cannot run inside another runtime's worker), a blocking-pool thread or
/// a thread outside any runtime just runs it.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Drop for PgStore {
    /// The driver's clients close on a runtime of their own, which cannot start inside
    /// another: when the last handle to the store goes inside an async caller (`dossier
    /// sync` ends its run in a runtime), they are closed on a thread of their own.
    fn drop(&mut self) {
        let pool = std::mem::take(&mut self.pool);
        let leases = self.leases.get_mut().map_or(None, Option::take);
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new()
                .name("dossier-pg-close".into())
                .spawn(move || drop((pool, leases)))
                .map(|t| t.join());
        } else {
            drop((pool, leases));
        }
    }
}

/// A listener that cannot start leaves waiters polling; say so once on stderr (the store
/// has no logger of its own).
fn tracing_free_warning(e: &std::io::Error) {
    eprintln!("dossier: cannot start the PostgreSQL change listener ({e}); followers poll instead");
}

/// Whether the error is a unique constraint's.
fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        let failure = if e.is_closed() || e.as_db_error().is_none() && e.code().is_none() {
            Some(StorageFailure::Unavailable)
        } else {
            match e.code().map(postgres::error::SqlState::code) {
                // disk_full, insufficient_resources
                Some("53100" | "53000") => Some(StorageFailure::Full),
                // admin_shutdown, crash_shutdown, cannot_connect_now, read_only_sql_transaction
                Some("57P01" | "57P02" | "57P03" | "25006") => Some(StorageFailure::Unavailable),
                _ => None,
            }
        };
        let message = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => e.to_string(),
        };
        StoreError::Database { message, failure }
    }
}

/// A transaction that reads one snapshot of the database throughout (REPEATABLE READ): a
/// scan, a dump or a build sees no commit made while it runs.
pub(super) fn snapshot(conn: &mut Client, read_only: bool) -> Result<postgres::Transaction<'_>, StoreError> {
    Ok(conn
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(read_only)
        .start()?)
}

/// A connection with the session settings every statement here is written for.
fn connect(connector: &tls::Connector) -> Result<Client, StoreError> {
    let mut client = connector.connect()?;
    // Every statement is planned for its own parameters: a generic plan for
    // `idh = ANY($1)` (made after a statement's fifth run) reads whole tables, where
    // the plan for a handful of ids reads a handful of index entries.
    client.batch_execute("SET plan_cache_mode = force_custom_plan")?;
    // Pages and look-ups are short: starting parallel workers costs more than it saves.
    client.batch_execute("SET max_parallel_workers_per_gather = 0")?;
    // Nor does compiling a statement: JIT, started by cost estimates that run high
    // while a growing table's statistics lag, took 50–90 ms to save less than 1 ms
    // on an import's read-ahead.
    client.batch_execute("SET jit = off")?;
    Ok(client)
}

impl PgStore {
    /// Connects to `url` (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`) and applies pending
    /// migrations.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let connector = tls::Connector::parse(url)?;
        let mut pool = Vec::with_capacity(POOL);
        for _ in 0..POOL {
            pool.push(Mutex::new(connect(&connector)?));
        }
        let store = Self {
            url: url.to_owned(),
            connector,
            pool,
            next: Default::default(),
            leases: Mutex::new(None),
            commits: Default::default(),
            unanalyzed: Default::default(),
            analyzed: Default::default(),
        };
        // Nodes starting together: one migrates and creates the ISAC, the others wait.
        store.conn().execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let ready = store.migrate().and_then(|()| store.bootstrap());
        store.conn().execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
        ready?;
        Ok(store)
    }

    /// A connection: a free one if any, else the next in turn.
    fn conn(&self) -> std::sync::MutexGuard<'_, Client> {
        for c in &self.pool {
            if let Ok(guard) = c.try_lock() {
                return guard;
            }
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.pool.len();
        // A panic while holding the lock leaves no transaction open (it rolls back when its
        // handle drops), so a poisoned lock is safe to reuse.
        self.pool[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`crate::Cursors::lead`]: a session advisory lock per name on a connection of its
    /// own; a lost connection loses every lead (they are taken again from scratch).
    pub(crate) fn lead_inner(&self, name: &str) -> Result<bool, StoreError> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        if leases.as_mut().is_some_and(|(c, _)| c.is_closed()) {
            *leases = None;
        }
        if leases.is_none() {
            *leases = Some((self.connector.connect()?, Default::default()));
        }
        let Some((client, held)) = leases.as_mut() else { return Ok(false) };
        if held.contains(name) {
            return Ok(true);
        }
        let key = crate::id_hash(&format!("dossier-lead:{name}"));
        match client.query_one("SELECT pg_try_advisory_lock($1)", &[&key]) {
            Ok(row) => {
                let got: bool = row.get(0);
                if got {
                    held.insert(name.to_owned());
                }
                Ok(got)
            }
            Err(e) => {
                *leases = None;
                Err(e.into())
            }
        }
    }

    /// The listener: a thread of its own on a connection of its own that LISTENs and wakes
    /// every waiter on each notification; reconnects after a second when the connection
    /// drops (waiters fall back to polling meanwhile). It ends with the process.
    fn commits(&self) -> std::sync::Arc<Commits> {
        self.commits
            .get_or_init(|| {
                let commits = std::sync::Arc::new(Commits::default());
                let (connector, heard) = (self.connector.clone(), commits.clone());
                let started = std::thread::Builder::new().name("dossier-pg-listen".into()).spawn(move || {
                    loop {
                        if let Ok(mut client) = connector.connect()
                            && client.batch_execute(&format!("LISTEN {CHANNEL}")).is_ok()
                        {
                            loop {
                                let mut got = false;
                                let mut failed = false;
                                {
                                    let mut notes = client.notifications();
                                    let mut iter = notes.timeout_iter(std::time::Duration::from_secs(1));
                                    loop {
                                        match iter.next() {
                                            Ok(Some(_)) => got = true,
                                            Ok(None) => break,
                                            Err(_) => {
                                                failed = true;
                                                break;
                                            }
                                        }
                                    }
                                }
                                if got {
                                    *heard.heard.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                                    heard.changed.notify_all();
                                }
                                if failed || client.is_closed() {
                                    break;
                                }
                            }
                        }
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                });
                if let Err(e) = started {
                    tracing_free_warning(&e);
                }
                commits
            })
            .clone()
    }

    /// Counts `written` versions; refreshes the statistics when this node has written at
    /// least [`ANALYZE_AFTER`] since the last refresh and as many as it had written by then
    /// (so a bulk load of a million objects analyses a handful of times, not twenty).
    pub(crate) fn wrote(&self, written: u64) {
        use std::sync::atomic::Ordering;
        let total = self.unanalyzed.fetch_add(written, Ordering::Relaxed) + written;
        let last = self.analyzed.load(Ordering::Relaxed);
        let due = total - last.min(total);
        if due >= ANALYZE_AFTER
            && due >= last
            && self.analyzed.compare_exchange(last, total, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            // Best effort, on a connection of its own in the background (ANALYZE reads while
            // writers go on; the writer that crossed the threshold should not wait for it):
            // the statistics also come with autovacuum, only later.
            let connector = self.connector.clone();
            let _ = std::thread::Builder::new().name("dossier-analyze".into()).spawn(move || {
                if let Ok(mut client) = connect(&connector) {
                    let _ = client.batch_execute("ANALYZE objects, collection_objects, changes, multi_version");
                }
            });
        }
    }

    /// Creates the ISAC organization, the default collection and the built-in objects on
    /// first open (under the migration lock).
    fn bootstrap(&self) -> Result<(), StoreError> {
        let exists: bool = self.conn().query_one("SELECT EXISTS (SELECT 1 FROM orgs WHERE isac = 1)", &[])?.get(0);
        if exists {
            return Ok(());
        }
        let isac = self.add_org_inner("ISAC", true)?;
        let (title, alias, description, tlp) = crate::DEFAULT_COLLECTION;
        let coll = crate::Collections::add_collection(self, title, Some(alias), Some(description), tlp)?;
        crate::ObjectStore::import(
            self,
            &crate::Submission { org: isac.id, collection: coll.id, named: true, curator: true },
            &mut crate::builtin_items()?.into_iter(),
            &mut |_| {},
        )?;
        Ok(())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS dossier_schema (version BIGINT NOT NULL)")?;
        let found: Option<i64> = tx.query_opt("SELECT version FROM dossier_schema", &[])?.map(|r| r.get(0));
        let latest = PG_MIGRATIONS.len() as i64;
        let current = found.unwrap_or(0);
        if current > latest {
            return Err(StoreError::NewerSchema { found: current, supported: latest });
        }
        for sql in PG_MIGRATIONS.iter().skip(usize::try_from(current).unwrap_or(0)) {
            tx.batch_execute(sql)?;
        }
        if found.is_none() {
            tx.execute("INSERT INTO dossier_schema (version) VALUES ($1)", &[&latest])?;
        } else {
            tx.execute("UPDATE dossier_schema SET version = $1", &[&latest])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn().query_one("SELECT version FROM dossier_schema", &[])?.get(0))
    }
}

/// A table's columns with their types, in order.
fn columns(tx: &mut postgres::Transaction<'_>, table: &str) -> Result<Vec<(String, Type)>, StoreError> {
    // A query that returns no rows still describes its columns.
    let stmt = tx.prepare(&format!("SELECT * FROM {table} LIMIT 0"))?;
    let cols: Vec<(String, Type)> = stmt.columns().iter().map(|c| (c.name().to_owned(), c.type_().clone())).collect();
    if cols.is_empty() {
        return Err(StoreError::Corrupt(format!("table {table} has no columns")));
    }
    Ok(cols)
}

fn value_of(row: &postgres::Row, i: usize, ty: &Type) -> Result<Value, StoreError> {
    Ok(match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map_or(Value::Null, Value::Real),
        Type::TEXT | Type::VARCHAR => row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Value::Null, Value::Blob),
        ref other => return Err(StoreError::Corrupt(format!("a column of unexpected type {other}"))),
    })
}

/// Text in COPY's text format: backslash, tab, newline and carriage return escaped, the
/// rest copied in runs (an object's JSON is most of an import's bytes).
fn copy_escape(out: &mut String, t: &str) {
    let mut start = 0;
    for (i, b) in t.bytes().enumerate() {
        let escaped = match b {
            b'\\' => "\\\\",
            b'\t' => "\\t",
            b'\n' => "\\n",
            b'\r' => "\\r",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices end on character boundaries.
        out.push_str(&t[start..i]);
        out.push_str(escaped);
        start = i + 1;
    }
    out.push_str(&t[start..]);
}

/// One value in COPY's text format.
pub(super) fn copy_text(out: &mut String, v: &Value, ty: &Type) -> Result<(), StoreError> {
    match (v, ty) {
        (Value::Null, _) => out.push_str("\\N"),
        (Value::Int(i), &Type::INT8 | &Type::INT4 | &Type::FLOAT8) => {
            let _ = write!(out, "{i}");
        }
        (Value::Real(f), &Type::FLOAT8) if f.is_finite() => {
            let _ = write!(out, "{f:?}");
        }
        (Value::Text(t), &Type::TEXT | &Type::VARCHAR) => copy_escape(out, t),
        (Value::Blob(b), &Type::BYTEA) => {
            out.push_str("\\\\x");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
        }
        // SQLite keeps what a column is given; a flag or count stored as text (none is
        // written so) would not fit PostgreSQL's typed column: refuse it by name.
        (v, ty) => return Err(StoreError::Invalid(format!("a value {v:?} that a {ty} column cannot hold"))),
    }
    Ok(())
}

impl Transfer for PgStore {
    fn dump(&self, visit: &mut RowVisitor<'_>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let mut tx = snapshot(&mut conn, true)?;
        for table in TABLES {
            let key = key_of(table).ok_or_else(|| StoreError::Corrupt(format!("no key listed for {table}")))?;
            let cols = columns(&mut tx, table)?;
            let names: Vec<String> = cols.iter().map(|(n, _)| n.clone()).collect();
            let stmt = tx.prepare(&format!("SELECT {} FROM {table} ORDER BY {key}", names.join(", ")))?;
            let portal = tx.bind(&stmt, &[])?;
            let dump = TableDump { table, columns: &names };
            let mut values = Vec::with_capacity(cols.len());
            loop {
                let rows = tx.query_portal(&portal, DUMP_BATCH)?;
                for row in &rows {
                    values.clear();
                    for (i, (_, ty)) in cols.iter().enumerate() {
                        values.push(value_of(row, i, ty)?);
                    }
                    visit(&dump, &values)?;
                }
                if rows.len() < DUMP_BATCH as usize {
                    break;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn load(&self, rows: &mut dyn Iterator<Item = LoadRow>) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let mut tx = conn.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        // One load at a time, and no node writes while it runs.
        for table in TABLES {
            tx.batch_execute(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))?;
        }
        let used: i64 = tx
            .query_one(
                "SELECT (SELECT count(*) FROM tokens) + (SELECT count(*) FROM users) + (SELECT count(*) FROM audit)
                      + (SELECT count(*) FROM orgs WHERE isac = 0)",
                &[],
            )?
            .get(0);
        if used > 0 {
            return Err(StoreError::Invalid(
                "the target store is in use (it has tokens, users, members or audit records): copy into a new, empty store"
                    .into(),
            ));
        }
        for table in TABLES.iter().rev() {
            if *table != "audit" {
                tx.batch_execute(&format!("DELETE FROM {table}"))?;
            }
        }
        let mut n = 0u64;
        let mut current: Option<(String, Vec<String>, Vec<Type>)> = None;
        let mut buf = String::new();
        let flush = |tx: &mut postgres::Transaction<'_>, table: &str, names: &[String], buf: &mut String| {
            if buf.is_empty() {
                return Ok::<(), StoreError>(());
            }
            let mut w = tx.copy_in(&format!("COPY {table} ({}) FROM STDIN", names.join(", ")))?;
            w.write_all(buf.as_bytes()).map_err(|e| StoreError::Invalid(format!("copying {table}: {e}")))?;
            w.finish()?;
            buf.clear();
            Ok(())
        };
        for row in rows {
            let (table, names, values) = row?;
            if !TABLES.contains(&table.as_str()) {
                return Err(StoreError::Invalid(format!("unknown table {table:?} in the copy")));
            }
            if names.len() != values.len() {
                return Err(StoreError::Invalid(format!("a malformed row of table {table} in the copy")));
            }
            let same = current.as_ref().is_some_and(|(t, c, _)| *t == table && *c == names);
            if !same {
                if let Some((t, c, _)) = &current {
                    flush(&mut tx, t, c, &mut buf)?;
                }
                let cols = columns(&mut tx, &table)?;
                let mut types = Vec::with_capacity(names.len());
                for name in &names {
                    let ty = cols
                        .iter()
                        .find(|(c, _)| c == name)
                        .map(|(_, t)| t.clone())
                        .ok_or_else(|| StoreError::Invalid(format!("table {table} has no column {name:?}")))?;
                    types.push(ty);
                }
                current = Some((table.clone(), names.clone(), types));
            }
            let Some((_, _, types)) = &current else { continue };
            for (i, (v, ty)) in values.iter().zip(types).enumerate() {
                if i > 0 {
                    buf.push('\t');
                }
                copy_text(&mut buf, v, ty).map_err(|e| StoreError::Invalid(format!("table {table}: {e}")))?;
            }
            buf.push('\n');
            n += 1;
            if buf.len() > 8 << 20
                && let Some((t, c, _)) = &current
            {
                flush(&mut tx, t, c, &mut buf)?;
            }
        }
        if let Some((t, c, _)) = &current {
            flush(&mut tx, t, c, &mut buf)?;
        }
        // Identity columns continue after the highest copied key.
        let identities = tx.query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
              WHERE table_schema = current_schema() AND is_identity = 'YES'",
            &[],
        )?;
        for r in identities {
            let (table, column): (String, String) = (r.get(0), r.get(1));
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE(max({column}), 0) + 1, false) FROM {table}"
                ),
                &[],
            )?;
        }
        tx.commit()?;
        Ok(n)
    }
}

impl Upkeep for PgStore {
    fn location(&self) -> String {
        crate::redact(&self.url)
    }

    /// A consistent copy into a new SQLite database file (one repeatable-read transaction
    /// on this side), which `dossier restore` loads into either backend. `pg_dump` is the
    /// native alternative (see the operations guide).
    fn backup(&self, to: &Path) -> Result<(), StoreError> {
        if to.exists() {
            return Err(StoreError::Conflict(format!("{}", to.display())));
        }
        let target = crate::SqliteStore::open_file(to)?;
        crate::copy(self, &target)?;
        target.close()?;
        Ok(())
    }
}
