//! The embedded SQLite backend.

mod federation;
mod sharing;
mod transfer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use dossier_stix::timestamp::now_micros;
use dossier_stix::{OrgId, Role, Tlp};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use std::collections::{HashMap, HashSet};

use crate::schema::{LATEST, MIGRATIONS};
use crate::versions::{
    Candidate, Existing, Importer, Member, NewVersion, SettleRow, VersionRows, is_versionless, settle_latest,
};
use crate::*;

/// The SQLite store in one data directory (`dossier.db` plus its WAL).
pub struct SqliteStore {
    path: PathBuf,
    /// The one writer (SQLite allows one at a time).
    conn: Mutex<Connection>,
    /// Read-only connections: in WAL mode readers never wait for the writer.
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// Set while [`SqliteStore::bound_wal`] gathers the read connections: new reads wait
    /// for it to finish instead of taking a connection back the moment one is released
    /// (busy readers otherwise kept it from ever holding them all, and the log grew).
    pausing: std::sync::atomic::AtomicBool,
    /// The background checkpointer's own connection, opened on first use.
    checkpointer: Mutex<Option<Connection>>,
}

impl Drop for SqliteStore {
    /// Closes the read connections first, so that the writer is the last connection to the
    /// database: SQLite then checkpoints the whole log into `dossier.db` and removes it (a
    /// read-only connection closing last cannot, and used to leave every write in the log).
    fn drop(&mut self) {
        self.readers.clear();
        if let Ok(mut c) = self.checkpointer.lock() {
            c.take();
        }
        // Best effort: a log left behind is still read at the next open.
        let _ = self.close();
    }
}

/// Read connections per store: enough for the server's blocking pool on a small machine.
const READERS: usize = 4;

const DB_FILE: &str = "dossier.db";

/// SQLite's errors become the store's backend-neutral error, classified by what failed.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let failure = match &e {
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                C::DiskFull => Some(StorageFailure::Full),
                C::SystemIoFailure
                | C::CannotOpen
                | C::ReadOnly
                | C::DatabaseBusy
                | C::DatabaseLocked
                | C::FileLockingProtocolFailed => Some(StorageFailure::Unavailable),
                _ => None,
            },
            _ => None,
        };
        StoreError::Database { message: e.to_string(), failure }
    }
}

fn io_err(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io { path: path.display().to_string(), source }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`, applying pending migrations.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        Self::open_file(&dir.join(DB_FILE))
    }

    /// Opens (creating if needed) the store in the database file `path` itself (a backup,
    /// say), applying pending migrations.
    pub fn open_file(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_path_buf();
        let conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Large pages suit rows of a few hundred bytes of JSON; only applies to a new file.
        conn.pragma_update(None, "page_size", 16_384)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // After each WAL reset, shrink the file back to at most 64 MiB: a busy server must not
        // keep a WAL the size of its largest burst forever.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -65_536)?; // 64 MiB page cache
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        let mut store = Self {
            path,
            conn: Mutex::new(conn),
            readers: Vec::new(),
            next_reader: Default::default(),
            pausing: Default::default(),
            checkpointer: Mutex::new(None),
        };
        store.migrate()?;
        store.bootstrap()?;
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                &store.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            r.busy_timeout(std::time::Duration::from_secs(10))?;
            r.pragma_update(None, "cache_size", -65_536)?; // 64 MiB each (allocated only as used)
            // Memory-mapped reads: a full scan (the screening index build) then copies no
            // pages through read(2). The mapping is the OS page cache, not process memory.
            r.pragma_update(None, "mmap_size", 1i64 << 36)?;
            store.readers.push(Mutex::new(r));
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves committed WAL frames into the database file without blocking writers or readers
    /// (a passive checkpoint on a connection of its own). A long-running server calls this
    /// from a background thread and turns off the automatic checkpoint that otherwise runs
    /// inside whichever commit crosses the WAL threshold (see [`SqliteStore::background_checkpoints`]).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let mut slot = self.checkpointer.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            let conn = Connection::open(&self.path)?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            *slot = Some(conn);
        }
        let Some(conn) = slot.as_ref() else { return Ok(()) };
        // PASSIVE never waits for readers or writers. Once everything is copied, the writer's
        // next transaction restarts the WAL and journal_size_limit shrinks the file.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Lets the database file grow by at most `pages` more pages, after which writes fail
    /// as on a full disk (SQLite's `max_page_count`). For fault tests of what callers do when
    /// storage fills up; never called in normal operation.
    #[doc(hidden)]
    pub fn fill_up_after(&self, pages: u32) -> Result<(), StoreError> {
        let conn = self.lock();
        let count: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        conn.query_row(&format!("PRAGMA max_page_count = {}", count + i64::from(pages)), [], |_| Ok(()))?;
        Ok(())
    }

    /// Reads through ordinary I/O instead of memory-mapping the database: a whole-store
    /// read (an export) then keeps only SQLite's page cache resident, where mapped pages it
    /// touched would all count as the process's memory (an export of 1M objects peaked at
    /// the database's size). The index build keeps the mapping: it reads faster with it.
    pub fn stream_reads(&self) -> Result<(), StoreError> {
        for r in &self.readers {
            let conn = r.lock().unwrap_or_else(|p| p.into_inner());
            conn.pragma_update(None, "mmap_size", 0)?;
            // A small cache: a scan reads each page once.
            conn.pragma_update(None, "cache_size", -8_192)?;
        }
        Ok(())
    }

    /// The write-ahead log's size on disk (0 when there is none).
    pub fn wal_bytes(&self) -> u64 {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len())
    }

    /// Keeps the write-ahead log under `limit` bytes under any sustained write load. A
    /// passive checkpoint cannot restart the log while writes keep coming and reads overlap
    /// (each write appends behind the readers), so once the log passes half the limit this
    /// pauses the store for a moment — the writer, and every read connection as soon as its
    /// current query ends, new reads waiting meanwhile (at most 5 s in all; a longer read,
    /// such as a full export, postpones this to the next call) — copies the log whole into the database
    /// and truncates it (`wal_checkpoint(TRUNCATE)`). Writers and readers wait for that
    /// copy: well under a second for 128 MiB on a local disk. Returns the log's size after.
    /// The server calls it every 100 ms from a thread of its own.
    pub fn bound_wal(&self, limit: u64) -> Result<u64, StoreError> {
        let size = self.wal_bytes();
        if size <= limit / 2 {
            return Ok(size);
        }
        let writer = self.lock();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        // New reads wait from here until the log is emptied (or this gives up), however
        // this ends.
        struct Resume<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Resume<'_> {
            fn drop(&mut self) {
                self.0.store(false, std::sync::atomic::Ordering::Release);
            }
        }
        self.pausing.store(true, std::sync::atomic::Ordering::Release);
        let _resume = Resume(&self.pausing);
        let mut paused = Vec::with_capacity(self.readers.len());
        for r in &self.readers {
            loop {
                match r.try_lock() {
                    Ok(g) => {
                        paused.push(g);
                        break;
                    }
                    Err(std::sync::TryLockError::Poisoned(p)) => {
                        paused.push(p.into_inner());
                        break;
                    }
                    Err(std::sync::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Err(std::sync::TryLockError::WouldBlock) => return Ok(size),
                }
            }
        }
        let busy: i64 = writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        drop(paused);
        drop(writer);
        if busy != 0 {
            return Err(StoreError::Invalid(format!(
                "the write-ahead log ({size} bytes) could not be emptied: another process reads or writes this data directory"
            )));
        }
        Ok(self.wal_bytes())
    }

    /// Copies everything in the write-ahead log into `dossier.db` and empties the log, so
    /// that the database file alone holds every committed write (a backup or a copy of a
    /// stopped data directory needs nothing else). Every command does this when it closes
    /// the store; the server when it stops.
    pub fn close(&self) -> Result<(), StoreError> {
        // Read connections and the checkpointer may still hold the log open; the writer
        // checkpoints through them (they hold no transaction when idle).
        let conn = self.lock();
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(StoreError::Invalid("the write-ahead log is still in use; it was not emptied".into()));
        }
        Ok(())
    }

    /// Stops checkpointing inside commits; the caller must then call [`SqliteStore::checkpoint`]
    /// periodically (the server does, every second). The last connection to close still
    /// checkpoints everything.
    pub fn background_checkpoints(&self) -> Result<(), StoreError> {
        self.lock().pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    /// A read-only connection: a free one if any, else the next in turn.
    fn read(&self) -> std::sync::MutexGuard<'_, Connection> {
        // While the write-ahead log is being bounded (at most 5 s, usually a few ms).
        while self.pausing.load(std::sync::atomic::Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        for r in &self.readers {
            if let Ok(guard) = r.try_lock() {
                return guard;
            }
        }
        if self.readers.is_empty() {
            return self.lock();
        }
        let i = self.next_reader.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.readers.len();
        self.readers[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back on drop), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > LATEST {
            return Err(StoreError::NewerSchema { found, supported: LATEST });
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
        }
        // Schema 11 made an identifier's versions per-member assertions: a store written
        // before it served the newest copy, whoever made it. Settle those once, so that an
        // upgrade does not keep one member's copy over another's.
        if (1..ASSERTIONS_SCHEMA).contains(&current) {
            resettle_identifiers(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Creates the ISAC organization, the default collection and the built-in objects (TLP
    /// markings, extension-definitions) on first open.
    fn bootstrap(&self) -> Result<(), StoreError> {
        let exists: bool = {
            let conn = self.lock();
            conn.query_row("SELECT EXISTS (SELECT 1 FROM orgs WHERE isac = 1)", [], |r| r.get(0))?
        };
        if exists {
            return Ok(());
        }
        let isac = self.add_org_inner("ISAC", true)?;
        let (title, alias, description, tlp) = crate::DEFAULT_COLLECTION;
        let coll = self.add_collection(title, Some(alias), Some(description), tlp)?;
        let items = crate::builtin_items()?;
        self.import(
            &Submission { org: isac.id, collection: coll.id, named: true, curator: true },
            &mut items.into_iter(),
            &mut |_| {},
        )?;
        Ok(())
    }

    fn add_org_inner(&self, name: &str, isac: bool) -> Result<Org, StoreError> {
        let (name, identity_id) = crate::org_name(name)?;
        let conn = self.lock();
        let r = conn.execute(
            "INSERT INTO orgs (name, identity_id, isac, created) VALUES (?1, ?2, ?3, ?4)",
            params![name, identity_id, isac, now_micros()],
        );
        match r {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                return Err(StoreError::Conflict(format!("organization {name:?}")));
            }
            r => r?,
        };
        Ok(Org { id: conn.last_insert_rowid(), name: name.to_owned(), identity_id, isac, peer: false })
    }
}

fn tlp_of(code: i64) -> Result<Tlp, StoreError> {
    Tlp::from_code(code).ok_or_else(|| StoreError::Corrupt(format!("unknown TLP code {code}")))
}

/// The statements one import runs for every object, prepared once.
struct Stmts<'t> {
    existing: rusqlite::Statement<'t>,
    insert_object: rusqlite::Statement<'t>,
    insert_member: rusqlite::Statement<'t>,
    insert_change: rusqlite::Statement<'t>,
    in_collection: rusqlite::Statement<'t>,
    version_of: rusqlite::Statement<'t>,
    current_latest: rusqlite::Statement<'t>,
    unset_latest: rusqlite::Statement<'t>,
    insert_provenance: rusqlite::Statement<'t>,
    add_recipient: rusqlite::Statement<'t>,
    mark_multi: rusqlite::Statement<'t>,
}

impl<'t> Stmts<'t> {
    fn new(tx: &'t Transaction<'t>) -> rusqlite::Result<Self> {
        Ok(Self {
            existing: tx.prepare(
                "SELECT vid, version, json, org, named, COALESCE(recipients, '') FROM objects WHERE idh = ?1 AND id = ?2",
            )?,
            insert_object: tx.prepare(
                "INSERT INTO objects (vid, id, type, version, modified, spec_version, tlp, confidence, org, json, idh, named, recipients, curator)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?,
            insert_member: tx.prepare(
                "INSERT INTO collection_objects (collection, date_added, vid, latest, tlp) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            insert_change: tx.prepare("INSERT INTO changes (at, op, collection, vid) VALUES (?1, 'add', ?2, ?3)")?,
            in_collection: tx.prepare("SELECT EXISTS (SELECT 1 FROM collection_objects WHERE collection = ?1 AND vid = ?2)")?,
            version_of: tx.prepare("SELECT id, version, tlp, org FROM objects WHERE vid = ?1")?,
            current_latest: tx.prepare(CURRENT_LATEST)?,
            unset_latest: tx.prepare("UPDATE collection_objects SET latest = 0 WHERE collection = ?1 AND vid = ?2")?,
            insert_provenance: tx.prepare("INSERT OR IGNORE INTO provenance (vid, org, named, at) VALUES (?1, ?2, ?3, ?4)")?,
            mark_multi: tx.prepare("INSERT OR IGNORE INTO multi_version (idh) VALUES (?1)")?,
            add_recipient: tx.prepare(ADD_RECIPIENT)?,
        })
    }
}

/// The SQL condition selecting the objects `ids` (on `objects o`), and its arguments.
fn ids_filter(ids: &[String]) -> (String, Vec<rusqlite::types::Value>) {
    let n = ids.len();
    let list = |from: usize| (from..from + n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(",");
    let args = ids.iter().map(|i| id_hash(i).into()).chain(ids.iter().map(|i| i.clone().into())).collect();
    (format!("o.idh IN ({}) AND o.id IN ({})", list(1), list(n + 1)), args)
}

/// Which version of each id is served across collections — what the screening index reads
/// and an export without a collection writes — among the ids the SQL condition `filter`
/// (on `objects o`, with `args`) selects: id → version id.
///
/// The candidates are the collections' latest versions. A versioned object: the newest.
/// A versionless one (SCO), whose versions are different organizations' assertions, by the
/// rule [`settle_latest`] applies in one collection: one that members may read beats one
/// that only analysts may (a copy in an analysts-only drop box must not hide an identifier
/// from the members), one any member may see beats a RED one, else the earliest added.
fn served_across(
    conn: &Connection,
    filter: &str,
    args: &[rusqlite::types::Value],
) -> Result<HashMap<String, i64>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT o.id, o.vid, o.version, o.type, o.modified IS NULL, max(co.tlp), min(c.read_access = 'analysts'),
                min(co.date_added)
           FROM objects o JOIN collection_objects co ON co.vid = o.vid JOIN collections c ON c.id = co.collection
          WHERE {filter} AND EXISTS (SELECT 1 FROM collection_objects cl WHERE cl.vid = o.vid AND cl.latest = 1)
          GROUP BY o.vid"
    ))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut by_id: HashMap<String, Vec<Candidate>> = HashMap::new();
    let red = Tlp::Red.code();
    while let Some(r) = rows.next()? {
        let ty: String = r.get(3)?;
        by_id.entry(r.get(0)?).or_default().push(Candidate {
            vid: r.get(1)?,
            version: r.get(2)?,
            versionless: is_versionless(&ty, r.get(4)?),
            rank: (r.get(6)?, r.get::<_, i64>(5)? == red, r.get(7)?),
        });
    }
    Ok(crate::versions::served(by_id))
}

/// The schema version from which an identifier's versions are per-member assertions.
const ASSERTIONS_SCHEMA: i64 = 11;

/// Settles the served version of every versionless object with several versions, in every
/// collection holding it (after an upgrade from before [`ASSERTIONS_SCHEMA`]).
fn resettle_identifiers(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let pairs: Vec<(CollectionId, String, String, bool)> = {
        let mut stmt = tx.prepare(
            "SELECT DISTINCT co.collection, o.id, o.type, o.modified IS NULL FROM objects o
               JOIN collection_objects co ON co.vid = o.vid
              WHERE o.idh IN (SELECT idh FROM multi_version)",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let now = now_micros();
    for (collection, id, ty, no_version) in pairs {
        if is_versionless(&ty, no_version)
            && let Some(vid) = settle_latest(&mut VersionTx { tx, st: Stmts::new(tx)? }, collection, &id)?
        {
            // Followers (the screening index and its snapshot) re-read the object.
            tx.execute(
                "INSERT INTO changes (at, op, collection, vid, id) VALUES (?1, 'add', ?2, ?3, ?4)",
                params![now, collection, vid, id],
            )?;
        }
    }
    Ok(())
}

/// The versions of id `?3` (hash `?2`) in collection `?1`, for [`settle_latest`]. CROSS JOIN
/// fixes the order — the id's versions first, then their membership — as in
/// [`CURRENT_LATEST`]: left to itself the planner walked the whole collection for each call
/// (an upgrade re-settling 50,000 identifiers of a 1M-object store ran for over 14 minutes).
const SETTLE_ROWS: &str = "SELECT o.vid, o.version, o.org, co.tlp, co.date_added, o.type, o.modified IS NULL
       FROM objects o CROSS JOIN collection_objects co ON co.collection = ?1 AND co.vid = o.vid
      WHERE o.idh = ?2 AND o.id = ?3";

/// Adds organization `?2` to the recipients of version `?1`, unless it is there already.
const ADD_RECIPIENT: &str =
    "UPDATE objects SET recipients = CASE WHEN COALESCE(recipients, '') = '' THEN ?2 ELSE recipients || ',' || ?2 END
      WHERE vid = ?1 AND instr(',' || COALESCE(recipients, '') || ',', ',' || ?2 || ',') = 0";

/// The version rules' row operations on one SQLite transaction.
struct VersionTx<'t> {
    tx: &'t Transaction<'t>,
    st: Stmts<'t>,
}

impl VersionRows for VersionTx<'_> {
    fn existing(&mut self, id: &str) -> Result<Vec<Existing>, StoreError> {
        let rows = self.st.existing.query_map(params![id_hash(id), id], |r| {
            Ok(Existing {
                vid: r.get(0)?,
                version: r.get(1)?,
                json: r.get(2)?,
                org: r.get(3)?,
                named: r.get(4)?,
                recipients: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_version(&mut self, v: &NewVersion<'_>) -> Result<(), StoreError> {
        self.st.insert_object.execute(params![
            v.vid,
            v.id,
            v.object_type,
            v.version,
            v.modified,
            v.spec_version,
            v.tlp,
            v.confidence,
            v.owner,
            v.json,
            id_hash(v.id),
            v.named,
            v.recipients,
            v.curator,
        ])?;
        Ok(())
    }

    fn mark_multi(&mut self, id: &str) -> Result<(), StoreError> {
        self.st.mark_multi.execute([id_hash(id)])?;
        Ok(())
    }

    fn in_collection(&mut self, collection: CollectionId, vid: i64) -> Result<bool, StoreError> {
        Ok(self.st.in_collection.query_row(params![collection, vid], |r| r.get(0))?)
    }

    fn version_of(&mut self, vid: i64) -> Result<(String, String, Option<i64>, OrgId), StoreError> {
        Ok(self.st.version_of.query_row([vid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?)
    }

    fn current_latest(&mut self, collection: CollectionId, id: &str) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .st
            .current_latest
            .query_row(params![collection, id, id_hash(id)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn unset_latest(&mut self, collection: CollectionId, vid: i64) -> Result<(), StoreError> {
        self.st.unset_latest.execute(params![collection, vid])?;
        Ok(())
    }

    fn insert_member(
        &mut self,
        collection: CollectionId,
        date_added: i64,
        vid: i64,
        latest: bool,
        tlp: i64,
    ) -> Result<(), StoreError> {
        self.st.insert_member.execute(params![collection, date_added, vid, latest, tlp])?;
        Ok(())
    }

    fn log_change(
        &mut self,
        at: i64,
        remove: bool,
        collection: CollectionId,
        vid: i64,
        id: Option<&str>,
    ) -> Result<(), StoreError> {
        if !remove && id.is_none() {
            self.st.insert_change.execute(params![at, collection, vid])?;
        } else {
            self.tx
                .prepare_cached("INSERT INTO changes (at, op, collection, vid, id) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![at, if remove { "remove" } else { "add" }, collection, vid, id])?;
        }
        Ok(())
    }

    fn insert_provenance(&mut self, vid: i64, org: OrgId, named: bool, at: i64) -> Result<(), StoreError> {
        self.st.insert_provenance.execute(params![vid, org, named, at])?;
        Ok(())
    }

    fn add_recipient(&mut self, vid: i64, org: OrgId) -> Result<bool, StoreError> {
        Ok(self.st.add_recipient.execute(params![vid, org.to_string()])? > 0)
    }

    fn settle_rows(&mut self, collection: CollectionId, id: &str) -> Result<Vec<SettleRow>, StoreError> {
        let mut stmt = self.tx.prepare_cached(SETTLE_ROWS)?;
        let rows = stmt.query_map(params![collection, id_hash(id), id], |r| {
            Ok(SettleRow {
                vid: r.get(0)?,
                version: r.get(1)?,
                org: r.get(2)?,
                tlp: r.get(3)?,
                date_added: r.get(4)?,
                versioned: !is_versionless(&r.get::<_, String>(5)?, r.get(6)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_latest(&mut self, collection: CollectionId, date_added: i64, latest: bool) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "UPDATE collection_objects SET latest = ?3 WHERE collection = ?1 AND date_added = ?2 AND latest <> ?3",
            )?
            .execute(params![collection, date_added, latest])?;
        Ok(())
    }

    fn member(&mut self, collection: CollectionId, id: &str, vid: i64) -> Result<Option<Member>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT o.org, co.date_added, o.json, o.recipients FROM objects o
                   JOIN collection_objects co ON co.vid = o.vid AND co.collection = ?1
                  WHERE o.vid = ?2 AND o.idh = ?3 AND o.id = ?4",
            )?
            .query_row(params![collection, vid, id_hash(id), id], |r| {
                Ok(Member { owner: r.get(0)?, date_added: r.get(1)?, json: r.get(2)?, recipients: r.get(3)? })
            })
            .optional()?)
    }

    fn members(&mut self, collection: CollectionId, id: &str) -> Result<Vec<(i64, String)>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT o.vid, o.version FROM objects o
             JOIN collection_objects co ON co.vid = o.vid AND co.collection = ?1
             WHERE o.idh = ?2 AND o.id = ?3 ORDER BY o.version, o.vid",
        )?;
        let rows = stmt.query_map(params![collection, id_hash(id), id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_provenance(&mut self, vid: i64, org: OrgId) -> Result<bool, StoreError> {
        Ok(self.tx.execute("DELETE FROM provenance WHERE vid = ?1 AND org = ?2", params![vid, org])? > 0)
    }

    fn org_identity(&mut self, org: OrgId) -> Result<String, StoreError> {
        Ok(self.tx.query_row("SELECT identity_id FROM orgs WHERE id = ?1", [org], |r| r.get(0))?)
    }

    fn set_recipients(&mut self, vid: i64, recipients: Option<&str>) -> Result<(), StoreError> {
        self.tx.execute("UPDATE objects SET recipients = ?2 WHERE vid = ?1", params![vid, recipients])?;
        Ok(())
    }

    fn remove_member(&mut self, collection: CollectionId, date_added: i64) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM collection_objects WHERE collection = ?1 AND date_added = ?2",
            params![collection, date_added],
        )?;
        Ok(())
    }

    fn held(&mut self, vid: i64) -> Result<bool, StoreError> {
        Ok(self.tx.query_row("SELECT EXISTS (SELECT 1 FROM collection_objects WHERE vid = ?1)", [vid], |r| r.get(0))?)
    }

    fn delete_version(&mut self, vid: i64) -> Result<(), StoreError> {
        self.tx.execute("DELETE FROM provenance WHERE vid = ?1", [vid])?;
        self.tx.execute("DELETE FROM objects WHERE vid = ?1", [vid])?;
        Ok(())
    }
}

const ENTRY_COLUMNS: &str = "o.vid, o.id, o.type, COALESCE(o.modified, ''), o.spec_version, co.date_added, co.tlp, o.confidence, o.org, o.json, o.named, COALESCE(o.recipients, '')";

/// One row of [`ENTRY_COLUMNS`], borrowed.
fn entry_ref<'r>(row: &'r rusqlite::Row<'_>) -> rusqlite::Result<EntryRef<'r>> {
    let text = |i: usize| -> rusqlite::Result<&'r str> {
        row.get_ref(i)?
            .as_str()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
    };
    let tlp_code: i64 = row.get(6)?;
    Ok(EntryRef {
        vid: row.get(0)?,
        id: text(1)?,
        object_type: text(2)?,
        modified: text(3)?,
        spec_version: row
            .get_ref(4)?
            .as_str_or_null()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e)))?,
        date_added: row.get(5)?,
        // An unknown code is treated as the most restrictive level.
        tlp: Tlp::from_code(tlp_code).unwrap_or(Tlp::Red),
        confidence: row.get::<_, Option<i64>>(7)?.and_then(|c| u8::try_from(c).ok()),
        owner: row.get(8)?,
        json: text(9)?,
        named: row.get(10)?,
        recipients: text(11)?,
    })
}

impl SqliteStore {
    /// One import transaction, optionally storing a status resource with it.
    fn import_tx(
        &self,
        submission: &Submission,
        items: &mut dyn Iterator<Item = Item>,
        progress: &mut dyn FnMut(u64),
        status: Option<(&str, &str)>,
    ) -> Result<ImportSummary, StoreError> {
        let mut conn = self.lock();

        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let default_tlp: i64 = tx
            .query_row("SELECT default_tlp FROM collections WHERE id = ?1", [submission.collection], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("collection {}", submission.collection)))?;
        let last: Option<i64> = tx.query_row(
            "SELECT max(date_added) FROM collection_objects WHERE collection = ?1",
            [submission.collection],
            |r| r.get(0),
        )?;
        let next_vid: i64 = tx.query_row("SELECT COALESCE(max(vid), 0) + 1 FROM objects", [], |r| r.get(0))?;
        let org_by_identity = {
            let mut stmt = tx.prepare_cached("SELECT identity_id, id FROM orgs")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, OrgId>(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut rows = VersionTx { tx: &tx, st: Stmts::new(&tx)? };
        let outcome = Importer {
            rows: &mut rows,
            next_vid,
            org_by_identity,
            sub: *submission,
            default_tlp: tlp_of(default_tlp)?,
            last_date_added: last.unwrap_or(0),
            now: now_micros(),
            custom_tlp: Default::default(),
            unresolved: Default::default(),
        }
        .run(items, progress)?;
        drop(rows);
        let summary = match outcome {
            Ok(summary) => summary,
            // Dropping the transaction rolls it back.
            Err(rejection) => return Err(StoreError::Rejected(rejection)),
        };
        if let Some((id, json)) = status {
            tx.execute(
                "INSERT OR REPLACE INTO statuses (id, org, created, json) VALUES (?1, ?2, ?3, ?4)",
                params![id, submission.org, now_micros(), json],
            )?;
        }
        tx.commit()?;
        Ok(summary)
    }
}

/// Facts a fast full scan prepares before it reads rows.
struct Prepass {
    /// Id → the version id served, for ids with several versions.
    newest: HashMap<String, i64>,
    multi_idh: HashSet<i64>,
    staff_only: HashSet<i64>,
    one_default: Option<i64>,
    lo: i64,
    hi: i64,
}

impl SqliteStore {
    /// [`ObjectStore::scan_latest`] over everything, built for speed on millions of rows: one
    /// sequential pass over `objects` in rowid order, without a per-row join or subquery.
    /// What the join would give is prepared up front: the ids with several versions (and
    /// the newest of each), the collections' default TLPs for unmarked objects, and the
    /// versions held only in analysts-only collections.
    fn latest_prepass(&self) -> Result<Prepass, StoreError> {
        let conn = self.read();
        // The version served of every id that has more than one.
        let newest = served_across(&conn, "o.idh IN (SELECT idh FROM multi_version)", &[])?;
        let multi_idh: HashSet<i64> = newest.keys().map(|id| id_hash(id)).collect();
        // Collections: default TLP and who may read.
        let mut defaults: HashMap<i64, i64> = HashMap::new();
        let mut staff_cols: Vec<i64> = Vec::new();
        let mut member_cols: Vec<i64> = Vec::new();
        {
            let mut stmt = conn.prepare("SELECT id, default_tlp, read_access FROM collections")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                defaults.insert(id, r.get(1)?);
                let access: String = r.get(2)?;
                if access == "analysts" { staff_cols.push(id) } else { member_cols.push(id) }
            }
        }
        let list = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let mut staff_only: HashSet<i64> = HashSet::new();
        if !staff_cols.is_empty() {
            let mut stmt = conn.prepare(&format!(
                "SELECT co.vid FROM collection_objects co WHERE co.collection IN ({})
                  AND NOT EXISTS (SELECT 1 FROM collection_objects c2 WHERE c2.vid = co.vid AND c2.collection IN ({}))",
                list(&staff_cols),
                if member_cols.is_empty() { "NULL".to_owned() } else { list(&member_cols) }
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                staff_only.insert(r.get(0)?);
            }
        }
        let one_default = {
            let mut d: Vec<i64> = defaults.values().copied().collect();
            d.sort_unstable();
            d.dedup();
            (d.len() == 1).then(|| d[0])
        };
        let (lo, hi) = vid_span(&conn)?;
        Ok(Prepass { newest, multi_idh, staff_only, one_default, lo, hi })
    }

    fn scan_latest_all(
        &self,
        types: &[&str],
        visit: &mut dyn FnMut(&EntryRef<'_>, bool) -> bool,
    ) -> Result<(), StoreError> {
        let pre = self.latest_prepass()?;
        self.scan_latest_range(&pre, types, pre.lo, pre.hi, Columns::All, visit)
    }

    /// One sequential pass over the versions with `lo <= vid <= hi`. With
    /// [`Columns::Latest`], the entries' `modified`, `spec_version` and `named` are not read
    /// (empty, `None`, `false`).
    #[allow(clippy::too_many_arguments)]
    fn scan_latest_range(
        &self,
        pre: &Prepass,
        types: &[&str],
        lo: i64,
        hi: i64,
        columns: Columns,
        visit: &mut dyn FnMut(&EntryRef<'_>, bool) -> bool,
    ) -> Result<(), StoreError> {
        let Prepass { newest, multi_idh, staff_only, one_default, .. } = pre;
        let one_default = *one_default;
        let conn = self.read();
        let mut unmarked = conn.prepare_cached(
            "SELECT max(c.default_tlp), min(co.date_added) FROM collection_objects co
               JOIN collections c ON c.id = co.collection WHERE co.vid = ?1",
        )?;
        // The type filter is applied here rather than as `type IN (…)`: SQLite answers that
        // with a probe of a temporary b-tree per row (a tenth of a second per million rows).
        // Each column read costs: a scan for an index leaves out what it does not use.
        let all = columns == Columns::All;
        let mut stmt = conn.prepare_cached(if all {
            "SELECT o.vid, o.id, o.type, COALESCE(o.modified, ''), o.spec_version, o.tlp, o.confidence, o.org,
                    o.json, o.named, COALESCE(o.recipients, ''), o.idh
               FROM objects o WHERE o.vid BETWEEN ?1 AND ?2 ORDER BY o.vid"
        } else {
            "SELECT o.vid, o.id, o.type, NULL, NULL, o.tlp, o.confidence, o.org,
                    o.json, NULL, COALESCE(o.recipients, ''), o.idh
               FROM objects o WHERE o.vid BETWEEN ?1 AND ?2 ORDER BY o.vid"
        })?;
        let mut rows = stmt.query([lo, hi])?;
        let multi = !multi_idh.is_empty();
        // Compared per row: the length and first letter rule out nearly every other type
        // before the bytes are compared.
        let wanted = |t: &str| {
            types.is_empty()
                || types.iter().any(|w| w.len() == t.len() && w.as_bytes().first() == t.as_bytes().first() && *w == t)
        };
        while let Some(row) = rows.next()? {
            let object_type = row_str(row, 2)?;
            if !wanted(object_type) {
                continue;
            }
            let id_ref = row_str(row, 1)?;
            if multi
                && multi_idh.contains(&row.get::<_, i64>(11)?)
                && let Some(&served) = newest.get(id_ref)
                && row.get::<_, i64>(0)? != served
            {
                continue;
            }
            let vid: i64 = row.get(0)?;
            let marked: Option<i64> = row.get(5)?;
            let (tlp_code, date_added) = match (marked, one_default) {
                (Some(t), _) => (t, 0),
                (None, Some(d)) => (d, 0),
                (None, None) => unmarked.query_row([vid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?,
            };
            let tlp = Tlp::from_code(tlp_code).ok_or_else(|| StoreError::Corrupt(format!("TLP code {tlp_code}")))?;
            let str_at = |i: usize| -> Result<&str, StoreError> {
                row.get_ref(i)?.as_str().map_err(|e| StoreError::Corrupt(e.to_string()))
            };
            let entry = EntryRef {
                vid,
                id: id_ref,
                object_type,
                modified: if all { str_at(3)? } else { "" },
                spec_version: if all {
                    row.get_ref(4)?.as_str_or_null().map_err(|e| StoreError::Corrupt(e.to_string()))?
                } else {
                    None
                },
                date_added,
                tlp,
                confidence: row.get::<_, Option<i64>>(6)?.and_then(|c| u8::try_from(c).ok()),
                owner: row.get(7)?,
                named: all && row.get(9)?,
                // The JSON is most of the bytes read: checked with SIMD instead of byte by byte.
                json: simdutf8::basic::from_utf8(
                    row.get_ref(8)?.as_bytes().map_err(|e| StoreError::Corrupt(e.to_string()))?,
                )
                .map_err(|e| StoreError::Corrupt(format!("object {vid} is not UTF-8: {e}")))?,
                recipients: str_at(10)?,
            };
            if !visit(&entry, staff_only.contains(&vid)) {
                break;
            }
        }
        Ok(())
    }
}

/// Which columns a scan of the newest versions reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Columns {
    /// Everything in an [`EntryRef`].
    All,
    /// What a [`LatestRef`] holds.
    Latest,
}

/// The newest version of an id in a collection. CROSS JOIN fixes the order: the id's few
/// versions first, then their membership; left to itself the planner walked the whole
/// collection (a second per object imported at 5M objects).
const CURRENT_LATEST: &str = "SELECT co.vid, o.version FROM objects o
     CROSS JOIN collection_objects co ON co.collection = ?1 AND co.vid = o.vid
     WHERE o.idh = ?3 AND o.id = ?2 AND co.latest = 1";

/// Versions of the asked-for types at most this many (all collections): then a collection
/// query starts from the types' rows and sorts them, rather than walking the collection.
const RARE_TYPES: i64 = 20_000;

/// The types the type index leaves out (schema migration 9): a store holds them by the
/// million, so they are never rare.
const BULK_TYPES: &[&str] = &[
    "relationship",
    "identity",
    "user-account",
    "email-addr",
    "phone-number",
    "cryptocurrency-wallet",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "url",
    "note",
];

/// The type index's condition on the column `type` of `table` (qualified when given), as
/// a query must repeat it, term by term, for SQLite to use the index.
fn not_bulk(table: &str) -> String {
    BULK_TYPES.iter().map(|t| format!("{table}type <> '{t}'")).collect::<Vec<_>>().join(" AND ")
}

/// Whether `types` have at most [`RARE_TYPES`] versions in the store (reads at most that
/// many entries of the type index).
fn rare_types(conn: &Connection, types: &[String]) -> Result<bool, StoreError> {
    if types.iter().any(|t| BULK_TYPES.contains(&t.as_str())) {
        return Ok(false);
    }
    let ps: Vec<String> = (1..=types.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM objects WHERE type IN ({}) AND {} LIMIT {})",
        ps.join(","),
        not_bulk(""),
        RARE_TYPES + 1
    );
    let n: i64 = conn.prepare_cached(&sql)?.query_row(rusqlite::params_from_iter(types), |r| r.get(0))?;
    Ok(n <= RARE_TYPES)
}

/// The SQL (and its arguments) of [`ObjectStore::scan_raw`] for `query`. `types_first`: the
/// asked-for types are rare (see [`rare_types`]).
fn raw_query_sql(query: &Query, types_first: bool) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = String::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let arg = |v: rusqlite::types::Value, args: &mut Vec<rusqlite::types::Value>| {
        args.push(v);
        format!("?{}", args.len())
    };
    // With a collection: its memberships in date-added order. Without: every version
    // once, in insertion order, through the earliest of its collections that matches.
    match query.collection {
        Some(c) => {
            // Asked for ids, or for rare types: their versions first, then the membership
            // (CROSS JOIN keeps that order; otherwise SQLite walked the whole collection
            // looking for them). Common types are found soon enough in date order.
            let from = if query.ids.is_empty() && !types_first {
                "collection_objects co JOIN objects o"
            } else {
                "objects o CROSS JOIN collection_objects co"
            };
            let p = arg(c.into(), &mut args);
            sql.push_str(&format!("SELECT {ENTRY_COLUMNS} FROM {from} ON co.vid = o.vid WHERE co.collection = {p}"));
        }
        // SQLite takes the bare columns (co.tlp) from the row that holds the min().
        None => sql.push_str(
            "SELECT o.vid, o.id, o.type, COALESCE(o.modified, ''), o.spec_version, min(co.date_added), co.tlp,
                    o.confidence, o.org, o.json, o.named, COALESCE(o.recipients, '')
               FROM objects o JOIN collection_objects co ON co.vid = o.vid WHERE 1=1",
        ),
    }
    if let Some(after) = query.added_after {
        let p = arg(after.into(), &mut args);
        sql.push_str(&format!(" AND co.date_added > {p}"));
    }
    if let Some(max) = query.max_tlp {
        let p = arg(max.code().into(), &mut args);
        sql.push_str(&format!(" AND co.tlp <= {p}"));
    }
    if !query.ids.is_empty() {
        let ps: Vec<String> = query.ids.iter().map(|i| arg(i.clone().into(), &mut args)).collect();
        let hs: Vec<String> = query.ids.iter().map(|i| arg(id_hash(i).into(), &mut args)).collect();
        sql.push_str(&format!(" AND o.idh IN ({}) AND o.id IN ({})", hs.join(","), ps.join(",")));
    }
    if !query.types.is_empty() {
        let ps: Vec<String> = query.types.iter().map(|t| arg(t.clone().into(), &mut args)).collect();
        sql.push_str(&format!(" AND o.type IN ({})", ps.join(",")));
        if types_first {
            sql.push_str(&format!(" AND {}", not_bulk("o.")));
        }
    }
    let mut alts = Vec::new();
    for v in &query.versions {
        match v {
            Versions::All => {
                alts.clear();
                break;
            }
            Versions::Latest if query.collection.is_some() => alts.push("co.latest = 1".to_owned()),
            // Some collection's latest; scan_raw keeps the one served across collections.
            Versions::Latest => {
                alts.push("EXISTS (SELECT 1 FROM collection_objects cl WHERE cl.vid = o.vid AND cl.latest = 1)".to_owned())
            }
            Versions::First if query.collection.is_some() => alts.push(
                "NOT EXISTS (SELECT 1 FROM objects o2 JOIN collection_objects c2 ON c2.vid = o2.vid AND c2.collection = co.collection
                  WHERE o2.idh = o.idh AND o2.id = o.id AND o2.version < o.version)"
                    .to_owned(),
            ),
            Versions::First => {
                alts.push("NOT EXISTS (SELECT 1 FROM objects o2 WHERE o2.idh = o.idh AND o2.id = o.id AND o2.version < o.version)".to_owned())
            }
            Versions::At(key) => {
                let p = arg(key.clone().into(), &mut args);
                alts.push(format!("o.version = {p}"));
            }
        }
    }
    if !alts.is_empty() && !query.versions.contains(&Versions::All) {
        sql.push_str(&format!(" AND ({})", alts.join(" OR ")));
    }
    sql.push_str(if query.collection.is_some() { " ORDER BY co.date_added" } else { " GROUP BY o.vid ORDER BY o.vid" });
    if query.limit != usize::MAX {
        let p = arg((query.limit as i64).into(), &mut args);
        sql.push_str(&format!(" LIMIT {p}"));
    }
    (sql, args)
}

/// The lowest and highest version row ids (two end-of-b-tree lookups: SQLite answers a lone
/// min() or max() from the end of the b-tree, but both in one statement with a full scan).
fn vid_span(conn: &Connection) -> Result<(i64, i64), StoreError> {
    let lo: i64 = conn.query_row("SELECT COALESCE(min(vid), 1) FROM objects", [], |r| r.get(0))?;
    let hi: i64 = conn.query_row("SELECT COALESCE(max(vid), 0) FROM objects", [], |r| r.get(0))?;
    Ok((lo, hi))
}

/// Versions beyond the first of the ids that have several, read through `multi_version`
/// (a superset of those ids) instead of counting distinct ids over every row.
fn extra_versions(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) - count(DISTINCT id) FROM objects WHERE idh IN (SELECT idh FROM multi_version)",
        [],
        |r| r.get(0),
    )?)
}

/// Column `i` of `row` as text borrowed from the row.
fn row_str<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str, StoreError> {
    row.get_ref(i)?.as_str().map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl ObjectStore for SqliteStore {
    fn import(
        &self,
        submission: &Submission,
        items: &mut dyn Iterator<Item = Item>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportSummary, StoreError> {
        self.import_tx(submission, items, progress, None)
    }

    fn import_with_status(
        &self,
        submission: &Submission,
        items: &mut dyn Iterator<Item = Item>,
        status: (&str, &str),
    ) -> Result<ImportSummary, StoreError> {
        self.import_tx(submission, items, &mut |_| {}, Some(status))
    }

    fn scan_raw(&self, query: &Query, visit: &mut dyn FnMut(&EntryRef<'_>) -> bool) -> Result<(), StoreError> {
        let conn = self.read();
        let types_first = query.collection.is_some()
            && query.ids.is_empty()
            && !query.types.is_empty()
            && rare_types(&conn, &query.types)?;
        // Across collections, the latest of an id with several versions is the one served
        // across collections (the rule every index uses), applied here; the limit with it.
        let served = if query.collection.is_none() && query.versions == [Versions::Latest] {
            Some(if query.ids.is_empty() {
                served_across(&conn, "o.idh IN (SELECT idh FROM multi_version)", &[])?
            } else {
                let (filter, args) = ids_filter(&query.ids);
                served_across(&conn, &filter, &args)?
            })
        } else {
            None
        };
        let limit = if served.is_some() { query.limit } else { usize::MAX };
        let (sql, args) = match &served {
            Some(_) => raw_query_sql(&Query { limit: usize::MAX, ..query.clone() }, types_first),
            None => raw_query_sql(query, types_first),
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut visited = 0usize;
        while let Some(row) = rows.next()? {
            let entry = entry_ref(row)?;
            if let Some(served) = &served
                && served.get(entry.id).is_some_and(|v| *v != entry.vid)
            {
                continue;
            }
            visited += 1;
            if !visit(&entry) || visited == limit {
                break;
            }
        }
        Ok(())
    }

    fn versions(&self, id: &str) -> Result<Vec<Entry>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM objects o
             JOIN collection_objects co ON co.vid = o.vid
              AND co.date_added = (SELECT min(c2.date_added) FROM collection_objects c2 WHERE c2.vid = o.vid)
             WHERE o.idh = ?2 AND o.id = ?1 ORDER BY o.version"
        ))?;
        let rows = stmt.query_map(params![id, id_hash(id)], |r| entry_ref(r).map(|e| e.to_entry()))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn provenance(&self, id: &str) -> Result<Vec<Provenance>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT o.vid, o.org, o.named,
                    (SELECT min(co.date_added) FROM collection_objects co WHERE co.vid = o.vid) AS at, o.curator
               FROM objects o WHERE o.idh = ?2 AND o.id = ?1
             UNION ALL
             SELECT p.vid, p.org, p.named, p.at, NULL FROM provenance p JOIN objects o ON o.vid = p.vid
              WHERE o.idh = ?2 AND o.id = ?1
             ORDER BY 4, 2, 1",
        )?;
        let rows = stmt.query_map(params![id, id_hash(id)], |r| {
            Ok(Provenance {
                vid: r.get(0)?,
                org: r.get(1)?,
                named: r.get(2)?,
                at: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                curator: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete(&self, collection: CollectionId, id: &str, versions: &[Versions]) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let removed = crate::versions::delete(
            &mut VersionTx { tx: &tx, st: Stmts::new(&tx)? },
            collection,
            id,
            versions,
            now_micros(),
        )?;
        tx.commit()?;
        Ok(removed)
    }

    fn withdraw(
        &self,
        collection: CollectionId,
        id: &str,
        vids: &[i64],
        by: Option<OrgId>,
    ) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let removed = crate::versions::withdraw(
            &mut VersionTx { tx: &tx, st: Stmts::new(&tx)? },
            collection,
            id,
            vids,
            by,
            now_micros(),
        )?;
        tx.commit()?;
        Ok(removed)
    }

    fn put_status(&self, id: &str, org: OrgId, json: &str) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT OR REPLACE INTO statuses (id, org, created, json) VALUES (?1, ?2, ?3, ?4)",
            params![id, org, now_micros(), json],
        )?;
        Ok(())
    }

    fn status(&self, id: &str) -> Result<Option<(OrgId, String)>, StoreError> {
        let conn = self.read();
        Ok(conn
            .query_row("SELECT org, json FROM statuses WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn scan_latest_parallel(
        &self,
        types: &[&str],
        parts: usize,
        visit: &(dyn Fn(usize, &LatestRef<'_>, bool) -> bool + Sync),
    ) -> Result<(), StoreError> {
        let pre = self.latest_prepass()?;
        let parts = parts.clamp(1, READERS) as i64;
        let span = (pre.hi - pre.lo + 1).max(0);
        let step = ((span + parts - 1) / parts).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..parts)
                .map(|i| {
                    let pre = &pre;
                    scope.spawn(move || {
                        let lo = pre.lo + i * step;
                        let hi = (lo + step - 1).min(pre.hi);
                        if lo > hi {
                            return Ok(());
                        }
                        self.scan_latest_range(pre, types, lo, hi, Columns::Latest, &mut |e, staff| {
                            visit(i as usize, &e.latest(), staff)
                        })
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join().unwrap_or_else(|_| Err(StoreError::Invalid("a scan thread panicked".into())))
            })
        })
    }

    fn scan_latest(
        &self,
        types: &[&str],
        ids: Option<&[String]>,
        visit: &mut dyn FnMut(&EntryRef<'_>, bool) -> bool,
    ) -> Result<(), StoreError> {
        if ids.is_none() {
            return self.scan_latest_all(types, visit);
        }
        let conn = self.read();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut sql = String::from(
            "SELECT o.vid, o.id, o.type, COALESCE(o.modified, ''), o.spec_version, min(co.date_added), max(co.tlp),
                    o.confidence, o.org, o.json, o.named, COALESCE(o.recipients, ''),
                    min(c.read_access = 'analysts')
               FROM objects o
               JOIN collection_objects co ON co.vid = o.vid
               JOIN collections c ON c.id = co.collection
              WHERE 1 = 1",
        );
        let placeholders = |vals: Vec<rusqlite::types::Value>, args: &mut Vec<rusqlite::types::Value>| {
            let ps: Vec<String> = vals
                .into_iter()
                .map(|v| {
                    args.push(v);
                    format!("?{}", args.len())
                })
                .collect();
            ps.join(",")
        };
        if !types.is_empty() {
            let ps = placeholders(types.iter().map(|t| (*t).to_owned().into()).collect(), &mut args);
            sql.push_str(&format!(" AND o.type IN ({ps})"));
        }
        if let Some(ids) = ids {
            if ids.is_empty() {
                return Ok(());
            }
            // Which version of each is served (one query for the choice, one for the rows).
            let (filter, choice_args) = ids_filter(ids);
            let served = served_across(&conn, &filter, &choice_args)?;
            if served.is_empty() {
                return Ok(());
            }
            let vs = placeholders(served.values().map(|v| (*v).into()).collect(), &mut args);
            sql.push_str(&format!(" AND o.vid IN ({vs})"));
        }
        sql.push_str(" GROUP BY o.vid ORDER BY o.vid");
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            let entry = entry_ref(row)?;
            let staff_only: bool = row.get(12)?;
            if !visit(&entry, staff_only) {
                break;
            }
        }
        Ok(())
    }

    fn objects_estimate(&self) -> Result<u64, StoreError> {
        let conn = self.read();
        let (lo, hi) = vid_span(&conn)?;
        Ok(u64::try_from(hi - lo + 1 - extra_versions(&conn)?).unwrap_or(0))
    }

    fn counts(&self) -> Result<(u64, u64), StoreError> {
        let conn = self.read();
        let versions: i64 = conn.query_row("SELECT count(*) FROM objects", [], |r| r.get(0))?;
        let ids = versions - extra_versions(&conn)?;
        Ok((versions as u64, ids as u64))
    }
}

fn org_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Org> {
    let kind: String = r.get(4)?;
    Ok(Org { id: r.get(0)?, name: r.get(1)?, identity_id: r.get(2)?, isac: r.get(3)?, peer: kind == "peer" })
}

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    let role: String = r.get(2)?;
    Ok(TokenInfo {
        id: r.get(0)?,
        org: r.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Member),
        label: r.get(3)?,
        created: r.get(4)?,
        expires: r.get(5)?,
        revoked: r.get(6)?,
    })
}

fn collection_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Collection> {
    let tlp: i64 = r.get(5)?;
    Ok(Collection {
        id: r.get(0)?,
        uuid: r.get(1)?,
        alias: r.get(2)?,
        title: r.get(3)?,
        description: r.get(4)?,
        default_tlp: Tlp::from_code(tlp).unwrap_or(Tlp::Amber),
        read: Access::parse(&r.get::<_, String>(6)?).unwrap_or(Access::Analysts),
        write: Access::parse(&r.get::<_, String>(7)?).unwrap_or(Access::Nobody),
    })
}

const COLLECTION_COLUMNS: &str = "id, uuid, alias, title, description, default_tlp, read_access, write_access";
const TOKEN_COLUMNS: &str = "id, org, role, label, created, expires, revoked";
const USER_COLUMNS: &str = "id, name, org, role, password, created, disabled";

/// Rows of the directory that are changed in place by id.
#[derive(Clone, Copy)]
enum Row {
    User,
    Token,
}

impl SqliteStore {
    /// Runs one `UPDATE … WHERE id = ?1 …` on a user or token; an unknown id is an error
    /// (one already in the wanted state is not).
    fn update_row(&self, row: Row, id: &str, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<(), StoreError> {
        let conn = self.lock();
        let n = conn.execute(sql, args)?;
        if n == 0 {
            let (exists_sql, what) = match row {
                Row::User => ("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)", "user"),
                Row::Token => ("SELECT EXISTS (SELECT 1 FROM tokens WHERE id = ?1)", "token"),
            };
            let exists: bool = conn.query_row(exists_sql, [id], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::NotFound(format!("{what} {id}")));
            }
        }
        Ok(())
    }
}

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(3)?;
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        org: r.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Member),
        password_hash: r.get(4)?,
        created: r.get(5)?,
        disabled: r.get(6)?,
    })
}

impl Directory for SqliteStore {
    fn probe_write(&self) -> Result<(), StoreError> {
        let conn = self.lock();
        // A fresh random value each time: the page really changes and reaches the log.
        conn.execute("INSERT OR REPLACE INTO secrets (name, value) VALUES ('health-probe', randomblob(64))", [])?;
        Ok(())
    }

    fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let conn = self.lock();
        let mut fresh = vec![0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| StoreError::Invalid(format!("no system randomness: {e}")))?;
        conn.execute("INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)", params![name, fresh])?;
        Ok(conn.query_row("SELECT value FROM secrets WHERE name = ?1", [name], |r| r.get(0))?)
    }

    fn add_org(&self, name: &str) -> Result<Org, StoreError> {
        self.add_org_inner(name, false)
    }

    fn orgs(&self) -> Result<Vec<Org>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare("SELECT id, name, identity_id, isac, kind FROM orgs ORDER BY id")?;
        let rows = stmt.query_map([], org_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn org_by_name(&self, name: &str) -> Result<Org, StoreError> {
        let conn = self.read();
        conn.query_row(
            "SELECT id, name, identity_id, isac, kind FROM orgs WHERE name = ?1",
            [name.trim()],
            org_from_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("organization {name:?}")))
    }

    fn isac(&self) -> Result<Org, StoreError> {
        let conn = self.read();
        conn.query_row("SELECT id, name, identity_id, isac, kind FROM orgs WHERE isac = 1", [], org_from_row)
            .optional()?
            .ok_or_else(|| StoreError::Corrupt("the ISAC organization is missing".into()))
    }

    fn create_token(
        &self,
        org: OrgId,
        role: Role,
        label: Option<&str>,
        expires: Option<i64>,
    ) -> Result<NewToken, StoreError> {
        let id = format!("tok_{}", random_hex(6)?);
        let secret = format!("dsk_{}", random_hex(24)?);
        let created = now_micros();
        let conn = self.lock();
        let exists: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)", [org], |r| r.get(0))?;
        if !exists {
            return Err(StoreError::NotFound(format!("organization {org}")));
        }
        conn.execute(
            "INSERT INTO tokens (id, org, role, hash, label, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, org, role.as_str(), hash_secret(&secret), label, created, expires],
        )?;
        Ok(NewToken {
            info: TokenInfo { id, org, role, label: label.map(str::to_owned), created, expires, revoked: None },
            secret,
        })
    }

    fn revoke_token(&self, id: &str) -> Result<(), StoreError> {
        self.update_row(
            Row::Token,
            id,
            "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
            &[&id, &now_micros()],
        )
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created"))?;
        let rows = stmt.query_map([], token_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn token(&self, id: &str) -> Result<Option<TokenInfo>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"))?;
        Ok(stmt.query_row([id], token_from_row).optional()?)
    }

    fn token_for_secret(&self, secret: &str, now: i64) -> Result<Option<TokenInfo>, StoreError> {
        // Secrets carry 192 random bits, so looking up by their SHA-256 is safe; the final
        // comparison of hashes runs in constant time.
        let want = hash_secret(secret);
        let conn = self.read();
        let found: Option<(TokenInfo, Vec<u8>)> = conn
            .query_row(&format!("SELECT {TOKEN_COLUMNS}, hash FROM tokens WHERE hash = ?1"), [&want], |r| {
                Ok((token_from_row(r)?, r.get(7)?))
            })
            .optional()?;
        Ok(found.and_then(|(info, hash)| {
            let same = crate::same_hash(&hash, &want);
            let live = info.revoked.is_none() && info.expires.is_none_or(|e| e > now);
            (same && live).then_some(info)
        }))
    }
}

impl ChangeLog for SqliteStore {
    fn last_change(&self) -> Result<i64, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached("SELECT COALESCE(max(seq), 0) FROM changes")?;
        Ok(stmt.query_row([], |r| r.get(0))?)
    }

    fn changes_since(&self, seq: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT c.seq, c.op, COALESCE(c.id, o.id), c.at FROM changes c LEFT JOIN objects o ON o.vid = c.vid
              WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![seq, limit.min(i64::MAX as usize) as i64], |r| {
            let op: String = r.get(1)?;
            Ok(Change {
                seq: r.get(0)?,
                at: r.get(3)?,
                op: if op == "remove" { ChangeOp::Remove } else { ChangeOp::Add },
                id: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl AuditLog for SqliteStore {
    fn audit_many(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO audit (at, org, token, method, path, params, status, returned) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for r in records {
                stmt.execute(params![r.at, r.org, r.token, r.method, r.path, r.params, r.status, r.returned as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.read();
        // With an organization, `org = ?` (not `?1 IS NULL OR …`) lets SQLite walk that
        // organization's rows newest first on the (org, seq) index instead of every row.
        let org_filter = if q.org.is_some() { "org = ?1" } else { "?1 IS NULL" };
        let lookup = !q.params_any.is_empty();
        // A lookup by value reads every record the other filters leave (newest first, no
        // SQL limit: -1) and tests its parameters here, in one pass: SQLite's instr() took
        // one pass per needle.
        let mut stmt = conn.prepare(&format!(
            "SELECT at, org, token, method, path, params, status, returned FROM audit
             WHERE {org_filter} AND (?2 IS NULL OR at >= ?2) AND (?3 IS NULL OR substr(path, 1, length(?3)) = ?3)
               AND (?5 IS NULL OR token = ?5)
             ORDER BY seq DESC LIMIT ?4"
        ))?;
        let limit = if q.limit == 0 { 100 } else { q.limit };
        let sql_limit = if lookup { -1 } else { limit as i64 };
        let needles: std::collections::HashSet<&[u8]> = q.params_any.iter().map(|n| n.as_bytes()).collect();
        let mut rows = stmt.query(params![q.org, q.since, q.path_prefix, sql_limit, q.token])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            if lookup {
                let held = match r.get_ref(5)? {
                    rusqlite::types::ValueRef::Text(p) => holds_quoted(p, &needles),
                    _ => false,
                };
                if !held {
                    continue;
                }
            }
            out.push(AuditRecord {
                at: r.get(0)?,
                org: r.get(1)?,
                token: r.get(2)?,
                method: r.get(3)?,
                path: r.get(4)?,
                params: r.get(5)?,
                status: r.get(6)?,
                returned: r.get::<_, i64>(7)? as u64,
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}

impl Accounts for SqliteStore {
    fn save_session(&self, s: &WebSession) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT OR REPLACE INTO web_sessions (key, principal, csrf, started, last) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![&s.key[..], s.principal, s.csrf, s.started, s.last],
        )?;
        Ok(())
    }

    fn session(&self, key: &[u8; 32]) -> Result<Option<WebSession>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached("SELECT principal, csrf, started, last FROM web_sessions WHERE key = ?1")?;
        Ok(stmt
            .query_row([&key[..]], |r| {
                Ok(WebSession { key: *key, principal: r.get(0)?, csrf: r.get(1)?, started: r.get(2)?, last: r.get(3)? })
            })
            .optional()?)
    }

    fn touch_session(&self, key: &[u8; 32], last: i64) -> Result<(), StoreError> {
        self.lock().execute("UPDATE web_sessions SET last = ?2 WHERE key = ?1", params![&key[..], last])?;
        Ok(())
    }

    fn delete_session(&self, key: &[u8; 32]) -> Result<(), StoreError> {
        self.lock().execute("DELETE FROM web_sessions WHERE key = ?1", [&key[..]])?;
        Ok(())
    }

    fn delete_sessions_of(&self, principal: &str, keep: Option<&[u8; 32]>) -> Result<usize, StoreError> {
        let keep: &[u8] = keep.map_or(&[], |k| &k[..]);
        Ok(self
            .lock()
            .execute("DELETE FROM web_sessions WHERE principal = ?1 AND key <> ?2", params![principal, keep])?)
    }

    fn prune_sessions(&self, idle_before: i64, started_before: i64) -> Result<usize, StoreError> {
        Ok(self.lock().execute(
            "DELETE FROM web_sessions WHERE last < ?1 OR started < ?2",
            params![idle_before, started_before],
        )?)
    }

    fn add_user(&self, org: OrgId, name: &str, role: Role, password_hash: &str) -> Result<User, StoreError> {
        let name = crate::user_name(name)?;
        let id = format!("usr_{}", random_hex(6)?);
        let created = now_micros();
        let conn = self.lock();
        let exists: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)", [org], |r| r.get(0))?;
        if !exists {
            return Err(StoreError::NotFound(format!("organization {org}")));
        }
        let taken: bool =
            conn.query_row("SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)", [name], |r| r.get(0))?;
        if taken {
            return Err(StoreError::Conflict(format!("a user named {name:?} already exists")));
        }
        conn.execute(
            "INSERT INTO users (id, name, org, role, password, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, name, org, role.as_str(), password_hash, created],
        )?;
        Ok(User {
            id,
            name: name.to_owned(),
            org,
            role,
            password_hash: password_hash.to_owned(),
            created,
            disabled: None,
        })
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY created"))?;
        let rows = stmt.query_map([], user_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn user(&self, key: &str) -> Result<Option<User>, StoreError> {
        let conn = self.read();
        Ok(conn
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1 OR name = ?1"),
                [key.trim()],
                user_from_row,
            )
            .optional()?)
    }

    fn disable_user(&self, id: &str) -> Result<(), StoreError> {
        self.update_row(
            Row::User,
            id,
            "UPDATE users SET disabled = ?2 WHERE id = ?1 AND disabled IS NULL",
            &[&id, &now_micros()],
        )
    }

    fn enable_user(&self, id: &str) -> Result<(), StoreError> {
        self.update_row(Row::User, id, "UPDATE users SET disabled = NULL WHERE id = ?1", &[&id])
    }

    fn set_password(&self, id: &str, password_hash: &str) -> Result<(), StoreError> {
        if !password_hash.starts_with('$') {
            return Err(StoreError::Invalid("a password is stored as a PHC hash string".into()));
        }
        self.update_row(Row::User, id, "UPDATE users SET password = ?2 WHERE id = ?1", &[&id, &password_hash])
    }
}

impl Collections for SqliteStore {
    fn add_collection(
        &self,
        title: &str,
        alias: Option<&str>,
        description: Option<&str>,
        default_tlp: Tlp,
    ) -> Result<Collection, StoreError> {
        crate::collection_names(title, alias)?;
        let uuid = uuid::Uuid::new_v4().to_string();
        let conn = self.lock();
        let r = conn.execute(
            "INSERT INTO collections (uuid, alias, title, description, default_tlp, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![uuid, alias, title.trim(), description, default_tlp.code(), now_micros()],
        );
        match r {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                return Err(StoreError::Conflict(format!("collection alias {:?}", alias.unwrap_or_default())));
            }
            r => r?,
        };
        Ok(Collection {
            id: conn.last_insert_rowid(),
            uuid,
            alias: alias.map(str::to_owned),
            title: title.trim().to_owned(),
            description: description.map(str::to_owned),
            default_tlp,
            read: Access::Members,
            write: Access::Members,
        })
    }

    fn set_collection_access(&self, id: CollectionId, read: Access, write: Access) -> Result<(), StoreError> {
        crate::validate_access(read, write)?;
        let conn = self.lock();
        let n = conn.execute(
            "UPDATE collections SET read_access = ?2, write_access = ?3 WHERE id = ?1",
            params![id, read.as_str(), write.as_str()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("collection {id}")));
        }
        Ok(())
    }

    fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!("SELECT {COLLECTION_COLUMNS} FROM collections ORDER BY id"))?;
        let rows = stmt.query_map([], collection_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn collection(&self, key: &str) -> Result<Collection, StoreError> {
        let conn = self.read();
        conn.query_row(
            &format!(
                "SELECT {COLLECTION_COLUMNS} FROM collections WHERE uuid = ?1 OR alias = ?1 OR CAST(id AS TEXT) = ?1"
            ),
            [key],
            collection_from_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("collection {key:?}")))
    }

    fn default_collection(&self) -> Result<Collection, StoreError> {
        let conn = self.read();
        conn.query_row(
            &format!("SELECT {COLLECTION_COLUMNS} FROM collections ORDER BY id LIMIT 1"),
            [],
            collection_from_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::Corrupt("no collection exists".into()))
    }
}

impl Throttles for SqliteStore {
    fn refused_since(&self, key: &str, limit: u32, window: i64, now: i64) -> Result<Option<i64>, StoreError> {
        let conn = self.read();
        let row: Option<(i64, i64)> = conn
            .query_row("SELECT count, since FROM auth_attempts WHERE key = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.and_then(|(n, since)| (n >= i64::from(limit) && now - since < window).then_some(since)))
    }

    fn attempt(&self, keys: &[(&str, u32)], window: i64, now: i64) -> Result<Option<i64>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (key, limit) in keys {
            let row: Option<(i64, i64)> = tx
                .query_row("SELECT count, since FROM auth_attempts WHERE key = ?1", [key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((n, since)) = row
                && n >= i64::from(*limit)
                && now - since < window
            {
                return Ok(Some(since));
            }
        }
        for (key, _) in keys {
            tx.execute(
                "INSERT INTO auth_attempts (key, count, since) VALUES (?1, 1, ?2)
                 ON CONFLICT (key) DO UPDATE SET
                   count = CASE WHEN ?2 - since >= ?3 THEN 1 ELSE count + 1 END,
                   since = CASE WHEN ?2 - since >= ?3 THEN ?2 ELSE since END",
                params![key, now, window],
            )?;
        }
        tx.execute("DELETE FROM auth_attempts WHERE since < ?1", [now - window])?;
        tx.commit()?;
        Ok(None)
    }

    fn refund(&self, keys: &[&str]) -> Result<(), StoreError> {
        let conn = self.lock();
        for key in keys {
            conn.execute("UPDATE auth_attempts SET count = max(count - 1, 0) WHERE key = ?1", [key])?;
        }
        Ok(())
    }
}

impl Upkeep for SqliteStore {
    fn location(&self) -> String {
        let dir = self.path.parent().unwrap_or(&self.path);
        format!("sqlite:{}", dir.display())
    }

    fn start_serving(&self) -> Result<(), StoreError> {
        self.background_checkpoints()
    }

    /// Every call: keeps the log under `wal_limit` (a truncating checkpoint once it passes
    /// half); every tenth (once a second): a passive checkpoint.
    fn upkeep(&self, tick: u64, wal_limit: u64) -> Result<(), StoreError> {
        self.bound_wal(wal_limit)?;
        if tick.is_multiple_of(10) {
            self.checkpoint()?;
        }
        Ok(())
    }

    fn stream_reads(&self) -> Result<(), StoreError> {
        SqliteStore::stream_reads(self)
    }

    fn close(&self) -> Result<(), StoreError> {
        SqliteStore::close(self)
    }

    /// `VACUUM INTO`: a consistent snapshot (one read transaction: writers go on), compacted.
    fn backup(&self, to: &Path) -> Result<(), StoreError> {
        if to.exists() {
            return Err(StoreError::Conflict(format!("{}", to.display())));
        }
        let target = to.to_str().ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", to.display())))?;
        let conn = self.read();
        conn.execute("VACUUM INTO ?1", [target])?;
        Ok(())
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    /// The query plan of `sql`, one line per step.
    fn plan(store: &SqliteStore, sql: &str, args: &[rusqlite::types::Value]) -> String {
        let conn = store.lock();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    /// Lookups by id start from the id's index, never from a walk through a collection
    /// (which at millions of objects took a second per lookup: per object imported, and per
    /// TAXII request for one object). Without statistics SQLite's planner preferred the
    /// collection's primary key, so the order is fixed in the SQL.
    #[test]
    fn lookups_by_id_start_from_the_id_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let p = plan(&store, CURRENT_LATEST, &[1i64.into(), "x".to_owned().into(), 7i64.into()]);
        assert!(p.starts_with("SEARCH o USING INDEX objects_idh"), "{p}");
        assert!(!p.contains("PRIMARY KEY (collection=?)"), "{p}");
        let p = plan(&store, SETTLE_ROWS, &[1i64.into(), 7i64.into(), "x".to_owned().into()]);
        assert!(p.starts_with("SEARCH o USING INDEX objects_idh"), "{p}");
        assert!(!p.contains("PRIMARY KEY (collection=?)"), "{p}");
        for versions in [vec![Versions::Latest], vec![Versions::All], vec![Versions::First]] {
            let query = Query {
                collection: Some(1),
                ids: vec!["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f".into()],
                versions,
                limit: 10,
                ..Query::default()
            };
            let (sql, args) = raw_query_sql(&query, false);
            let p = plan(&store, &sql, &args);
            assert!(p.starts_with("SEARCH o USING INDEX objects_idh"), "{p}");
            assert!(!p.contains("PRIMARY KEY (collection=?)"), "{p}");
        }
    }

    /// A request for rare types starts from the type index (at 5M objects, walking the
    /// collection for 4 intrusion sets took 1.4 s); common types keep the walk in date order,
    /// which finds a page without sorting.
    #[test]
    fn rare_types_start_from_the_type_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let query = Query {
            collection: Some(1),
            types: vec!["intrusion-set".into(), "malware".into()],
            added_after: Some(5),
            limit: 10,
            ..Query::default()
        };
        let (sql, args) = raw_query_sql(&query, true);
        let p = plan(&store, &sql, &args);
        assert!(p.starts_with("SEARCH o USING INDEX objects_type"), "{p}");
        let (sql, args) = raw_query_sql(&query, false);
        let p = plan(&store, &sql, &args);
        assert!(p.starts_with("SEARCH co USING PRIMARY KEY (collection=? AND date_added>?)"), "{p}");
        assert!(rare_types(&store.lock(), &query.types).unwrap());
        assert!(!rare_types(&store.lock(), &["intrusion-set".to_owned(), "relationship".to_owned()]).unwrap());
    }

    /// The type index's condition, the list of types it leaves out and the condition the
    /// queries repeat are one list.
    #[test]
    fn the_bulk_types_agree_with_the_type_index() {
        let listed = |text: &str| -> Vec<String> {
            text.split("type <> '").skip(1).map(|t| t[..t.find('\'').unwrap()].to_owned()).collect()
        };
        let migration = MIGRATIONS.iter().find(|m| m.contains("objects_type")).unwrap();
        assert_eq!(listed(migration), BULK_TYPES);
        assert_eq!(listed(&not_bulk("o.")), BULK_TYPES);
    }

    /// Both plans give the same entries in the same order (date added), with every filter
    /// a TAXII request can combine with a type (of those the type index holds).
    #[test]
    fn both_plans_for_types_answer_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let sub = Submission {
            org: store.isac().unwrap().id,
            collection: store.default_collection().unwrap().id,
            named: false,
            curator: true,
        };
        let actor = "threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
        for round in 0..3 {
            let mut objects = Vec::new();
            for i in 0..10 {
                let mut v = serde_json::json!({"type": "email-addr", "value": format!("a{round}-{i}@example.com")});
                let id = dossier_stix::id::deterministic_sco_id("email-addr", v.as_object().unwrap()).unwrap();
                v["id"] = serde_json::json!(id.as_str());
                objects.push(v);
                if i % 3 == 0 {
                    objects.push(serde_json::json!({"type": "intrusion-set", "spec_version": "2.1",
                        "id": format!("intrusion-set--8e2e2d2b-17d4-4cbf-938f-{round:06}{i:06}"),
                        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                        "name": format!("set {round} {i}")}));
                }
            }
            objects.push(serde_json::json!({"type": "threat-actor", "spec_version": "2.1", "id": actor,
                "created": "2024-01-01T00:00:00.000Z", "modified": format!("2024-0{}-01T00:00:00.000Z", round + 2),
                "name": format!("v{round}")}));
            let mut items = objects.into_iter().enumerate().map(|(index, v)| Item::Valid {
                index,
                line: 1,
                object: dossier_stix::StixObject::from_value(&v).unwrap().into_record(),
            });
            store.import(&sub, &mut items, &mut |_| {}).unwrap();
        }
        let run = |sql: &str, args: &[rusqlite::types::Value]| -> Vec<i64> {
            let conn = store.read();
            let mut stmt = conn.prepare(sql).unwrap();
            let mut rows = stmt.query(rusqlite::params_from_iter(args)).unwrap();
            let mut out = Vec::new();
            while let Some(row) = rows.next().unwrap() {
                out.push(entry_ref(row).unwrap().vid);
            }
            out
        };
        let mut checked = 0;
        for types in [vec!["threat-actor"], vec!["intrusion-set"], vec!["intrusion-set", "threat-actor"]] {
            for versions in [vec![Versions::Latest], vec![Versions::All], vec![Versions::First]] {
                for (added_after, limit) in [(None, usize::MAX), (None, 4), (Some(1), 7)] {
                    let query = Query {
                        collection: Some(sub.collection),
                        types: types.iter().map(|t| (*t).to_owned()).collect(),
                        versions: versions.clone(),
                        added_after,
                        limit,
                        ..Query::default()
                    };
                    let (a, args_a) = raw_query_sql(&query, true);
                    let (b, args_b) = raw_query_sql(&query, false);
                    let (x, y) = (run(&a, &args_a), run(&b, &args_b));
                    assert!(!x.is_empty());
                    assert_eq!(x, y, "{types:?} {versions:?} {added_after:?} {limit}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 27);
    }
}

#[cfg(test)]
mod audit_lookup_tests {
    use super::holds_quoted;

    #[test]
    fn a_needle_counts_only_as_a_whole_json_string() {
        let needles: std::collections::HashSet<&[u8]> =
            [&b"5cfbf06fb023272c6ff4dc84b3e1d873"[..]].into_iter().collect();
        let yes = [
            r#"{"search":"5cfbf06fb023272c6ff4dc84b3e1d873","objects":[]}"#,
            r#"{"screen":[{"identifiers":["aa","5cfbf06fb023272c6ff4dc84b3e1d873"]}]}"#,
            r#"{"q":"a\"b\\","x":"5cfbf06fb023272c6ff4dc84b3e1d873"}"#,
        ];
        let no = [
            r#"{"search":"5cfbf06fb023272c6ff4dc84b3e1d8731"}"#,
            r#"{"search":"x5cfbf06fb023272c6ff4dc84b3e1d873"}"#,
            r#"{"q":"a\"5cfbf06fb023272c6ff4dc84b3e1d873\""}"#,
            "match[id]=5cfbf06fb023272c6ff4dc84b3e1d873",
            r#"{"open":"5cfbf06fb023272c6ff4dc84b3e1d873"#,
        ];
        for t in yes {
            assert!(holds_quoted(t.as_bytes(), &needles), "{t}");
        }
        for t in no {
            assert!(!holds_quoted(t.as_bytes(), &needles), "{t}");
        }
    }
}
