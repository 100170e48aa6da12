//! The screening index fed from the store: built in bulk at start-up, then kept current by
//! following the change log before each screen, so that an object is screenable as soon as
//! its write commits (by this server, the CLI or anyone else writing the data directory).
//!
//! No HTTP here: the CLI's local `dossier screen` uses it too.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use dossier_match::screen::graph::Census;
use dossier_match::screen::index::{INDEXED_TYPES, parse_id};
use dossier_match::screen::{self, Access, Applicant, Index, IndexStats, Options, Prepared, Screening};
use dossier_stix::{OrgId, Viewer};
use dossier_store::{LatestRef, ObjectStore, StoreError};

/// How long the bulk build took and what it holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuildReport {
    /// Objects read from the store (0 when the index came from a snapshot).
    pub objects: u64,
    pub seconds: f64,
    /// Whether the index was loaded from a snapshot (then brought up to date).
    pub from_snapshot: bool,
    pub stats: IndexStats,
    /// Where a build from the store spent its time (absent after a snapshot load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phases: Option<BuildPhases>,
}

/// The phases of a build from the store, in seconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct BuildPhases {
    /// Reading, parsing and normalising every object (on as many threads as cores), until
    /// the last one was applied.
    pub read_seconds: f64,
    /// Of which the single applying thread was busy for.
    pub apply_seconds: f64,
    /// Sorting the resume postings and trimming the structures at the end.
    pub finish_seconds: f64,
}

/// The screening index as a follower of the change log: each batch's changed ids are read
/// again (their newest version held, or gone).
struct IndexFollower<'a> {
    screener: &'a Screener,
    applied: std::sync::atomic::AtomicUsize,
}

impl dossier_follow::Follower for IndexFollower<'_> {
    fn name(&self) -> &'static str {
        "screening-index"
    }

    fn apply(
        &self,
        store: &dyn ObjectStore,
        changes: &[dossier_store::Change],
    ) -> Result<(), dossier_follow::FollowError> {
        let Some(last) = changes.last().map(|c| c.seq) else { return Ok(()) };
        // Additions and removals alike: the newest version now held is read again.
        let mut ids: Vec<String> =
            changes.iter().filter_map(|c| c.id.clone()).filter(|id| parse_id(id).is_some()).collect();
        ids.sort();
        ids.dedup();
        // The newest version now held of each changed id (a removal may uncover an older
        // one); ids with none left are removed from the index.
        let mut fresh: Vec<Prepared> = Vec::new();
        let mut present: Vec<String> = Vec::new();
        for chunk in ids.chunks(400) {
            store.scan_latest(&[], Some(chunk), &mut |e, staff_only| {
                present.push(e.id.to_owned());
                if let Some(p) = screen::prepare(e.id, e.json, access_of(&e.latest(), staff_only)) {
                    fresh.push(p);
                }
                true
            })?;
        }
        present.sort();
        let mut index = self.screener.index.write().unwrap_or_else(|p| p.into_inner());
        for id in &ids {
            if present.binary_search(id).is_err() {
                index.remove(id);
            }
        }
        self.applied.fetch_add(fresh.len(), std::sync::atomic::Ordering::Relaxed);
        index.apply_all(fresh);
        // Under the write lock: a reader never sees the index ahead of its position.
        dossier_follow::Cursor::save(&self.screener.applied, last)
    }
}

/// The index and the change-log position it reflects.
pub struct Screener {
    index: RwLock<Index>,
    /// Held while catching up, so two requests never apply the same changes twice and
    /// neither screens before the index is current.
    catching: Mutex<()>,
    /// The last change applied, readable without the lock: a screen that finds the log no
    /// further than this does not queue behind others. It moves only under the index's
    /// write lock, so it is always the position of exactly the index a reader sees.
    applied: dossier_follow::MemoryCursor,
    pub options: Options,
    report: BuildReport,
    /// Recent whole-index counts for pages: each walks every node (30–50 ms at 2.4M nodes),
    /// so one is reused while the index has not moved, or for up to [`COUNT_TTL`].
    counted: Mutex<Counted>,
}

/// Cached counts.
#[derive(Default)]
struct Counted {
    census: HashMap<(OrgId, bool), Taken<Census>>,
    stats: Option<Taken<IndexStats>>,
}

/// A count, when it was taken and the change-log position it reflects.
#[derive(Clone, Copy)]
struct Taken<T> {
    at: Instant,
    seq: i64,
    value: T,
}

impl<T: Copy> Taken<T> {
    fn new(seq: i64, value: T) -> Self {
        Self { at: Instant::now(), seq, value }
    }
    /// The value while the index is still at `seq`, or for [`COUNT_TTL`] after it moved.
    fn fresh(&self, seq: i64) -> Option<T> {
        (self.seq == seq || self.at.elapsed() < COUNT_TTL).then_some(self.value)
    }
}

/// How long a count may be reused after the index has moved on.
const COUNT_TTL: std::time::Duration = std::time::Duration::from_secs(10);

fn access_of(e: &LatestRef<'_>, staff_only: bool) -> Access {
    Access { tlp: e.tlp, owner: e.owner, recipients: e.recipients(), staff_only, confidence: e.confidence }
}

/// Reads the newest version of every indexed object and builds the index: the store is
/// read in as many ranges as there are cores, each reading thread parses and normalises its
/// rows itself (no copies of the JSON), and this thread applies the results.
/// The store's estimate of how many objects it holds sizes the index's tables up front.
fn bulk_build(store: &dyn ObjectStore) -> Result<(Index, u64, BuildPhases), StoreError> {
    let started = Instant::now();
    let mut phases = BuildPhases::default();
    const BATCH: usize = 1024;
    let parts = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    let (tx, rx) = mpsc::sync_channel::<Vec<Prepared>>(parts * 4);
    let pending: Vec<Mutex<Vec<Prepared>>> = (0..parts).map(|_| Mutex::new(Vec::with_capacity(BATCH))).collect();
    let mut index = Index::new();
    index.begin_bulk(usize::try_from(store.objects_estimate()?).unwrap_or(0));
    let mut objects = 0u64;
    std::thread::scope(|scope| -> Result<(), StoreError> {
        let pending = &pending;
        let reader = scope.spawn(move || {
            let r = store.scan_latest_parallel(INDEXED_TYPES, parts, &|part, e, staff_only| {
                let Some(p) = screen::prepare(e.id, e.json, access_of(e, staff_only)) else { return true };
                let mut batch = pending[part].lock().unwrap_or_else(|p| p.into_inner());
                batch.push(p);
                if batch.len() >= BATCH {
                    let full = std::mem::replace(&mut *batch, Vec::with_capacity(BATCH));
                    drop(batch);
                    return tx.send(full).is_ok();
                }
                true
            });
            for p in pending {
                let rest = std::mem::take(&mut *p.lock().unwrap_or_else(|p| p.into_inner()));
                if !rest.is_empty() {
                    let _ = tx.send(rest);
                }
            }
            r
        });
        let mut busy = std::time::Duration::ZERO;
        for batch in rx {
            let t = Instant::now();
            objects += batch.len() as u64;
            index.apply_all(batch);
            busy += t.elapsed();
        }
        phases.read_seconds = started.elapsed().as_secs_f64();
        phases.apply_seconds = busy.as_secs_f64();
        reader.join().unwrap_or_else(|_| Err(StoreError::Invalid("the index reader thread panicked".into())))
    })?;
    let t = Instant::now();
    index.finish_bulk();
    phases.finish_seconds = t.elapsed().as_secs_f64();
    Ok((index, objects, phases))
}

/// Whether catching a snapshot up by `changes` change-log entries would take longer than a
/// fresh build. Catching up re-reads each changed object on one thread (about 15 µs each at
/// 5M objects, 2 cores), a build reads everything on all cores (about 2 µs per object):
/// past one change for every eight objects held, building is quicker. Small backlogs are
/// always caught up.
fn stale(stats: &IndexStats, changes: i64) -> bool {
    let held = (stats.nodes + stats.relationships) as i64;
    changes > 50_000 && changes.saturating_mul(8) > held
}

/// The id a snapshot of this store's index is tagged with: a random value created with the
/// data directory (kept with the store's secrets), so that a snapshot copied from another
/// installation — whose ISAC identity may well be the same — is never taken for this one's.
pub fn snapshot_tag(store: &dyn dossier_store::Directory) -> Result<String, StoreError> {
    let id = store.secret("snapshot-id")?;
    Ok(id.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads a snapshot and checks that it belongs to this store and is not ahead of it.
fn load(path: &Path, store_tag: &str, last_change: i64) -> std::io::Result<(Index, i64)> {
    let f = std::fs::File::open(path)?;
    let (index, tag) = Index::read_snapshot(&mut std::io::BufReader::with_capacity(1 << 20, f))?;
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let (seq, id) = tag.split_at_checked(8).ok_or_else(|| bad("no tag"))?;
    let seq = i64::from_le_bytes(seq.try_into().map_err(|_| bad("tag"))?);
    if id != store_tag.as_bytes() {
        return Err(bad("the snapshot belongs to another data directory"));
    }
    if seq > last_change {
        return Err(bad("the snapshot is ahead of the store (restored from a backup?)"));
    }
    Ok((index, seq))
}

impl Screener {
    /// Builds the index from everything in the store.
    pub fn build(store: &dyn ObjectStore, options: Options) -> Result<Self, StoreError> {
        let started = Instant::now();
        // Changes after this point are applied again by the first catch-up; applying an
        // object twice is harmless (it replaces itself).
        let seq = store.last_change()?;
        let (index, objects, phases) = bulk_build(store)?;
        let report = BuildReport {
            objects,
            seconds: started.elapsed().as_secs_f64(),
            from_snapshot: false,
            stats: index.stats(),
            phases: Some(phases),
        };
        Ok(Self::ready(index, seq, options, report))
    }

    /// A screener over `index`, which reflects the change log up to `seq`.
    fn ready(index: Index, seq: i64, options: Options, report: BuildReport) -> Self {
        Self {
            index: RwLock::new(index),
            catching: Mutex::new(()),
            applied: dossier_follow::MemoryCursor::new(seq),
            options,
            report,
            counted: Default::default(),
        }
    }

    /// Loads the index from the snapshot at `path` when it belongs to this store and is not
    /// ahead of it, and brings it up to date from the change log; otherwise builds it from
    /// the store (and the caller may [`Self::save`] a fresh snapshot).
    pub fn open(
        store: &dyn ObjectStore,
        store_tag: &str,
        options: Options,
        path: Option<&Path>,
    ) -> Result<Self, StoreError> {
        if let Some(path) = path
            && path.exists()
        {
            let started = Instant::now();
            let last = store.last_change()?;
            match load(path, store_tag, last) {
                Ok((index, seq)) => {
                    // Counting walks every node: once, for the decision and the report.
                    let stats = index.stats();
                    if stale(&stats, last - seq) {
                        tracing::info!(
                            changes = last - seq,
                            "screening snapshot too far behind the store to catch up; rebuilding"
                        );
                    } else {
                        let report = BuildReport { objects: 0, seconds: 0.0, from_snapshot: true, stats, phases: None };
                        let mut s = Self::ready(index, seq, options, report);
                        s.catch_up(store)?;
                        if s.applied.position() != seq {
                            s.report.stats = s.stats();
                        }
                        s.report.seconds = started.elapsed().as_secs_f64();
                        return Ok(s);
                    }
                }
                Err(e) => tracing::warn!(error = %e, path = %path.display(), "screening snapshot not used; rebuilding"),
            }
        }
        Self::build(store, options)
    }

    /// Writes a snapshot of the index as it is now to `path` (atomically: a temporary file
    /// renamed over it), tagged with this store's snapshot id ([`snapshot_tag`]) and change-log position.
    pub fn save(&self, store_tag: &str, path: &Path) -> std::io::Result<()> {
        // Only the read lock: the applied position moves only under the write lock, so it
        // is the position of exactly this index, and screens (and a catch-up that finds
        // nothing to do) are not held up for the seconds the file takes.
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let seq = self.applied.position();
        let tmp = path.with_extension("tmp");
        {
            let f = std::fs::File::create(&tmp)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            let mut tag = seq.to_le_bytes().to_vec();
            tag.extend_from_slice(store_tag.as_bytes());
            index.write_snapshot(&mut w, &tag)?;
            std::io::Write::flush(&mut w)?;
            w.get_ref().sync_all()?;
        }
        std::fs::rename(&tmp, path)
    }

    pub fn report(&self) -> &BuildReport {
        &self.report
    }

    pub fn stats(&self) -> IndexStats {
        self.index.read().unwrap_or_else(|p| p.into_inner()).stats()
    }

    /// What `viewer` may see of the index, by kind (see [`Census`]). Reused while the index
    /// has not moved, or for up to `COUNT_TTL`: what one viewer may see depends only on its
    /// organization and whether it is ISAC staff, and the key is exactly that.
    pub fn census(&self, viewer: &Viewer) -> Census {
        let key = (viewer.org, viewer.is_isac_staff());
        let seq = self.applied.position();
        if let Some(c) = self.counted().census.get(&key).and_then(|t| t.fresh(seq)) {
            return c;
        }
        let c = self.index.read().unwrap_or_else(|p| p.into_inner()).census(viewer);
        let mut counted = self.counted();
        if counted.census.len() > 10_000 {
            counted.census.clear();
        }
        counted.census.insert(key, Taken::new(seq, c));
        c
    }

    /// [`Self::stats`], reused like [`Self::census`].
    pub fn recent_stats(&self) -> IndexStats {
        let seq = self.applied.position();
        if let Some(s) = self.counted().stats.and_then(|t| t.fresh(seq)) {
            return s;
        }
        let s = self.stats();
        self.counted().stats = Some(Taken::new(seq, s));
        s
    }

    fn counted(&self) -> std::sync::MutexGuard<'_, Counted> {
        self.counted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the index already reflects every committed change (one small query): then a
    /// screen needs no catching up and is short enough to run where the request is handled.
    pub fn is_current(&self, store: &dyn ObjectStore) -> Result<bool, StoreError> {
        Ok(self.applied.reached(store.last_change()?))
    }

    /// Applies the change log since the last call, through the one seam every follower of
    /// the log uses ([`dossier_follow::catch_up`]). Cheap when nothing changed (one query).
    pub fn catch_up(&self, store: &dyn ObjectStore) -> Result<usize, StoreError> {
        let last = store.last_change()?;
        if self.applied.reached(last) {
            return Ok(0);
        }
        let _one = self.catching.lock().unwrap_or_else(|p| p.into_inner());
        if self.applied.reached(last) {
            return Ok(0);
        }
        let follower = IndexFollower { screener: self, applied: Default::default() };
        dossier_follow::catch_up(store, &follower, &self.applied, 20_000).map_err(|e| match e {
            dossier_follow::FollowError::Store(e) => e,
            other => StoreError::Corrupt(other.to_string()),
        })?;
        Ok(follower.applied.into_inner())
    }

    /// Screens one applicant against the index as it is now (call [`Self::catch_up`] first).
    pub fn screen(&self, applicant: &Applicant, viewer: &Viewer) -> Screening {
        self.index.read().unwrap_or_else(|p| p.into_inner()).screen(applicant, viewer, &self.options)
    }

    /// The screening options with the ties the screening organization judged false
    /// positives (the usual options when there are none).
    pub fn options_with(
        &self,
        suppressions: Option<std::sync::Arc<dossier_match::screen::Suppressions>>,
    ) -> std::borrow::Cow<'_, Options> {
        match suppressions {
            Some(s) => {
                let mut o = self.options.clone();
                o.suppressions = Some(s);
                std::borrow::Cow::Owned(o)
            }
            None => std::borrow::Cow::Borrowed(&self.options),
        }
    }

    /// An applicant as a watched subject: keyed hashes and signatures only.
    pub fn watch(&self, applicant: &Applicant) -> dossier_match::screen::Watched {
        self.index.read().unwrap_or_else(|p| p.into_inner()).watch(applicant, &self.options)
    }

    /// Screens a watched subject with `options` (call [`Self::catch_up`] first).
    pub fn screen_watched(
        &self,
        subject: &dossier_match::screen::Watched,
        viewer: &Viewer,
        options: &Options,
    ) -> Screening {
        self.index.read().unwrap_or_else(|p| p.into_inner()).screen_watched(subject, viewer, options)
    }

    /// The key hashes of each of `ids` the index now holds.
    pub fn key_hashes_of(&self, ids: &[String]) -> Vec<u64> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<u64> = ids.iter().flat_map(|id| index.key_hashes_of(id)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Screens one applicant with `options` (see [`Self::options_with`]).
    pub fn screen_with(&self, applicant: &Applicant, viewer: &Viewer, options: &Options) -> Screening {
        self.index.read().unwrap_or_else(|p| p.into_inner()).screen(applicant, viewer, options)
    }

    /// The associations around `id` that `viewer` may see (call [`Self::catch_up`] first).
    pub fn neighbourhood(
        &self,
        id: &str,
        viewer: &Viewer,
        walk: screen::graph::Walk,
    ) -> Option<screen::graph::Neighbourhood> {
        self.index.read().unwrap_or_else(|p| p.into_inner()).neighbourhood(id, viewer, walk)
    }

    pub fn search(&self, q: &str, viewer: &Viewer) -> Screening {
        self.index.read().unwrap_or_else(|p| p.into_inner()).search(q, viewer, &self.options)
    }
}

/// Batch screening: JSON Lines or CSV in, JSON Lines out, in input order, in bounded memory.
pub mod batch {
    use std::io::{self, BufRead};

    use dossier_match::screen::input::{self, Limits, RecordError};
    use dossier_match::screen::{Applicant, Decision};
    use dossier_stix::Viewer;
    use serde::Serialize;

    use super::Screener;

    /// Records screened together (and held in memory at once).
    pub const CHUNK: usize = 512;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Format {
        JsonLines,
        Csv,
    }

    /// Counts for the summary.
    #[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
    pub struct Outcome {
        pub screened: u64,
        pub errors: u64,
        pub matched: u64,
        pub review: u64,
        pub clear: u64,
    }

    #[derive(Serialize)]
    struct ErrorLine<'a> {
        #[serde(rename = "ref")]
        reference: Option<&'a str>,
        line: u64,
        error: ErrorBody<'a>,
    }

    #[derive(Serialize)]
    struct ErrorBody<'a> {
        field: Option<&'a str>,
        reason: &'a str,
    }

    /// One input record: its line number and the applicant or why it was refused.
    pub type Record = (u64, Result<Applicant, RecordError>);

    /// Reads one line of at most `max` bytes; a longer line is consumed and reported.
    fn read_line(r: &mut dyn BufRead, max: usize, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
        buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = r.fill_buf()?;
            if chunk.is_empty() {
                return Ok(if any { Some(!too_long) } else { None });
            }
            any = true;
            let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if buf.len() + take > max + 2 {
                    too_long = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(&chunk[..take]);
                }
            }
            r.consume(take);
            if done {
                return Ok(Some(!too_long));
            }
        }
    }

    /// The records of an upload, and what the caller should be told once about it (CSV
    /// columns ignored, refs made from line numbers).
    pub struct Opened<'r> {
        pub records: Box<dyn Iterator<Item = io::Result<Record>> + Send + 'r>,
        pub notes: Vec<String>,
    }

    /// Streams the records of `reader`, detecting the format from the first byte (`{` is
    /// JSON Lines, anything else CSV with a header row) unless `format` is given.
    pub fn records<'r>(
        reader: Box<dyn BufRead + Send + 'r>,
        format: Option<Format>,
        limits: Limits,
    ) -> io::Result<Box<dyn Iterator<Item = io::Result<Record>> + Send + 'r>> {
        open(reader, format, limits, &[]).map(|o| o.records)
    }

    /// Like [`records`], with the caller's CSV column mappings (`(column, field)`, see
    /// [`input::CsvLayout`]) and the notes about the upload.
    pub fn open<'r>(
        mut reader: Box<dyn BufRead + Send + 'r>,
        format: Option<Format>,
        limits: Limits,
        mapping: &[(String, String)],
    ) -> io::Result<Opened<'r>> {
        let mut notes = Vec::new();
        let format = match format {
            Some(f) => f,
            None => {
                let head = reader.fill_buf()?;
                match head.iter().find(|b| !b.is_ascii_whitespace()) {
                    Some(b'{') | None => Format::JsonLines,
                    Some(_) => Format::Csv,
                }
            }
        };
        match format {
            Format::JsonLines => {
                let mut line = 0u64;
                let mut buf = Vec::new();
                let records = Box::new(std::iter::from_fn(move || {
                    loop {
                        line += 1;
                        match read_line(reader.as_mut(), limits.record_bytes, &mut buf) {
                            Err(e) => return Some(Err(e)),
                            Ok(None) => return None,
                            Ok(Some(false)) => {
                                return Some(Ok((
                                    line,
                                    Err(RecordError {
                                        reference: None,
                                        field: None,
                                        reason: format!("record longer than {} bytes", limits.record_bytes),
                                    }),
                                )));
                            }
                            Ok(Some(true)) => {
                                if buf.iter().all(u8::is_ascii_whitespace) {
                                    continue;
                                }
                                return Some(Ok((line, input::from_json(&buf, &limits))));
                            }
                        }
                    }
                }));
                Ok(Opened { records, notes })
            }
            Format::Csv => {
                // The csv crate holds a whole record in memory before we can look at it; the
                // guard stops a record (a quoted field without its closing quote, say) from
                // growing past the limit.
                let since = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
                let guarded =
                    RecordGuard { inner: reader, since: since.clone(), max: limits.record_bytes + (64 << 10) };
                let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(guarded);
                let header = csv.headers().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let layout = input::CsvLayout::from_header(header, mapping)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("CSV header: {}", e.reason)))?;
                if !layout.ignored.is_empty() {
                    notes.push(format!("columns ignored (not recognised): {}", layout.ignored.join(", ")));
                }
                if layout.refs_from_lines {
                    notes.push("no ref column: each record's ref is its line number".to_owned());
                }
                let mut row = csv::StringRecord::new();
                let records = Box::new(std::iter::from_fn(move || match csv.read_record(&mut row) {
                    Ok(false) => None,
                    Ok(true) => {
                        since.store(0, std::sync::atomic::Ordering::Relaxed);
                        let line = row.position().map_or(0, |p| p.line());
                        Some(Ok((line, layout.row(&row, line, &limits))))
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        let reason = e.to_string();
                        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                            return Some(Err(io::Error::other(reason)));
                        }
                        Some(Ok((line, Err(RecordError { reference: None, field: None, reason }))))
                    }
                }));
                Ok(Opened { records, notes })
            }
        }
    }

    /// Counts the bytes read since the last complete CSV record and fails past `max`.
    struct RecordGuard<R> {
        inner: R,
        since: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        max: usize,
    }

    impl<R: io::Read> io::Read for RecordGuard<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            let total = self.since.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
            if total > self.max {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a CSV record is longer than {} bytes (is a quote left open?)", self.max),
                ));
            }
            Ok(n)
        }
    }

    /// Screens a chunk on `threads` threads and writes one JSON line per record, in order.
    /// `each` sees every applicant with its result (for the audit log) and what it returns is
    /// collected in order.
    #[allow(clippy::too_many_arguments)]
    pub fn screen_chunk<T: Send>(
        screener: &Screener,
        viewer: &Viewer,
        chunk: &[Record],
        options: &dossier_match::screen::Options,
        threads: usize,
        outcome: &mut Outcome,
        out: &mut Vec<u8>,
        each: &(dyn Fn(&Applicant, &dossier_match::screen::Screening) -> T + Sync),
    ) -> Vec<T> {
        let per = chunk.len().div_ceil(threads.max(1)).max(1);
        type Part<T> = Vec<(Vec<u8>, Option<(Decision, T)>)>;
        let results: Vec<Part<T>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .chunks(per)
                .map(|part| {
                    s.spawn(move || {
                        let index = screener.index.read().unwrap_or_else(|p| p.into_inner());
                        part.iter()
                            .map(|(line, r)| match r {
                                Ok(a) => {
                                    let s = index.screen(a, viewer, options);
                                    let bytes = serde_json::to_vec(&s).unwrap_or_default();
                                    (bytes, Some((s.decision, each(a, &s))))
                                }
                                Err(e) => {
                                    let bytes = serde_json::to_vec(&ErrorLine {
                                        reference: e.reference.as_deref(),
                                        line: *line,
                                        error: ErrorBody { field: e.field.as_deref(), reason: &e.reason },
                                    })
                                    .unwrap_or_default();
                                    (bytes, None)
                                }
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        let mut collected = Vec::with_capacity(chunk.len());
        for (line, result) in results.into_iter().flatten() {
            match result {
                Some((decision, t)) => {
                    outcome.screened += 1;
                    match decision {
                        Decision::Match => outcome.matched += 1,
                        Decision::Review => outcome.review += 1,
                        Decision::Clear => outcome.clear += 1,
                    }
                    collected.push(t);
                }
                None => outcome.errors += 1,
            }
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        collected
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn an_endless_csv_record_is_refused_without_buffering_it() {
            let mut body = b"ref,resume_text\nr1,short\nr2,\"".to_vec();
            body.extend(std::iter::repeat_n(b'x', 2 << 20));
            let limits = Limits::default();
            let items: Vec<io::Result<Record>> =
                records(Box::new(io::BufReader::new(io::Cursor::new(body))), Some(Format::Csv), limits)
                    .unwrap()
                    .collect();
            assert!(items[0].as_ref().is_ok_and(|(_, r)| r.is_ok()), "the first row is screened");
            let err = items.iter().find_map(|i| i.as_ref().err()).expect("the open quote is refused");
            assert!(err.to_string().contains("longer than"), "{err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding(objects: usize) -> IndexStats {
        IndexStats { nodes: objects / 2, relationships: objects - objects / 2, ..IndexStats::default() }
    }

    #[test]
    fn a_snapshot_is_caught_up_unless_building_is_quicker() {
        // Small backlogs are always caught up, whatever the store's size.
        assert!(!stale(&holding(100), 50_000));
        assert!(!stale(&holding(0), 1));
        // At 5M objects: 200k changes are caught up (seconds), 1M are rebuilt.
        assert!(!stale(&holding(5_000_000), 200_000));
        assert!(!stale(&holding(5_000_000), 625_000));
        assert!(stale(&holding(5_000_000), 625_001));
        assert!(stale(&holding(5_000_000), 1_000_000));
        // A demo-sized store far behind: rebuilt.
        assert!(stale(&holding(2_000), 60_000));
    }
}
