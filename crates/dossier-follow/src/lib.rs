//! # dossier-follow
//!
//! Everything that reacts to writes — the screening index, the sharing loop's
//! notifications, and later monitoring and sync — follows the store's change log through
//! this one seam, whatever path the write took (TAXII, `dossier import`, the web form,
//! another process):
//!
//! - a [`Follower`] applies a batch of changes, in sequence order;
//! - a [`Cursor`] says how far it got: [`MemoryCursor`] for a follower whose state lives in
//!   memory (the screening index, which rebuilds or loads a snapshot at start), or the
//!   store's durable cursors ([`dossier_store::Cursors`]) through [`StoredCursor`] for one that
//!   must resume after a restart without repeating or losing anything;
//! - [`catch_up`] reads the log from the cursor in batches of at most `batch` changes,
//!   applies each, and moves the cursor only after the batch was applied. That is the
//!   back-pressure: a follower is never handed more than one batch, the log waits in the
//!   store, and a slow follower only falls behind — it never holds up a writer. After a crash
//!   between applying and saving, the batch is applied again: followers are idempotent.
//!
//! Knows nothing of SQL or HTTP: it reads through [`dossier_store::ObjectStore`]'s
//! `changes_since`.

use std::sync::atomic::{AtomicI64, Ordering};

use dossier_store::{Change, Cursors, ObjectStore, StoreError};

/// Why following stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("reading the change log: {0}")]
    Store(#[from] StoreError),
    #[error("{follower}: {reason}")]
    Apply { follower: &'static str, reason: String },
}

/// Something that reacts to the change log.
pub trait Follower: Send + Sync {
    /// A stable name: a durable cursor is kept under it.
    fn name(&self) -> &'static str;
    /// Applies `changes` (in sequence order, never empty). Applying a batch again must do no
    /// harm (it happens after a crash between applying and saving the cursor).
    fn apply(&self, store: &dyn ObjectStore, changes: &[Change]) -> Result<(), FollowError>;
}

/// How far a follower got in the change log.
pub trait Cursor: Send + Sync {
    /// The sequence number of the last change applied (0: none).
    fn load(&self) -> Result<i64, FollowError>;
    fn save(&self, seq: i64) -> Result<(), FollowError>;
}

/// A cursor in memory, for a follower whose state does not outlive the process.
#[derive(Debug, Default)]
pub struct MemoryCursor(AtomicI64);

impl MemoryCursor {
    pub fn new(seq: i64) -> Self {
        Self(AtomicI64::new(seq))
    }
    /// Without a lock: whether the follower has seen everything up to `last`.
    pub fn reached(&self, last: i64) -> bool {
        self.0.load(Ordering::Acquire) >= last
    }
    /// The last change applied.
    pub fn position(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }
}

impl Cursor for MemoryCursor {
    fn load(&self) -> Result<i64, FollowError> {
        Ok(self.0.load(Ordering::Acquire))
    }
    fn save(&self, seq: i64) -> Result<(), FollowError> {
        self.0.store(seq, Ordering::Release);
        Ok(())
    }
}

/// Where a durable cursor starts the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the first change: the follower sees the whole history.
    Beginning,
    /// After the last change at the time: the follower sees what comes next only (a
    /// notifier should not announce years of history when it is first switched on).
    End,
}

/// A cursor kept in the store under the follower's name: it survives restarts.
pub struct StoredCursor<'a> {
    pub name: &'static str,
    pub store: &'a dyn Cursors,
    pub log: &'a dyn ObjectStore,
    pub start: Start,
}

impl Cursor for StoredCursor<'_> {
    fn load(&self) -> Result<i64, FollowError> {
        match self.store.cursor(self.name)? {
            Some(seq) => Ok(seq),
            None => {
                let seq = match self.start {
                    Start::Beginning => 0,
                    Start::End => self.log.last_change()?,
                };
                self.store.save_cursor(self.name, seq)?;
                Ok(seq)
            }
        }
    }
    fn save(&self, seq: i64) -> Result<(), FollowError> {
        Ok(self.store.save_cursor(self.name, seq)?)
    }
}

/// Applies the change log after `cursor` to `follower`, `batch` changes at a time, moving
/// the cursor after each batch. Returns how many changes were applied. One caller at a time
/// per follower (the caller holds whatever lock makes it so).
pub fn catch_up(
    store: &dyn ObjectStore,
    follower: &dyn Follower,
    cursor: &dyn Cursor,
    batch: usize,
) -> Result<usize, FollowError> {
    let mut done = 0;
    loop {
        let from = cursor.load()?;
        let changes = store.changes_since(from, batch.max(1))?;
        let Some(last) = changes.last().map(|c| c.seq) else { return Ok(done) };
        follower.apply(store, &changes)?;
        cursor.save(last)?;
        done += changes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_store::{ChangeLog, Collections};
    use std::sync::Mutex;

    /// Records what it was given; fails once when asked to.
    struct Recorder {
        seen: Mutex<Vec<i64>>,
        fail_at: Mutex<Option<i64>>,
    }

    impl Follower for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        fn apply(&self, _: &dyn ObjectStore, changes: &[Change]) -> Result<(), FollowError> {
            let mut fail = self.fail_at.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(at) = *fail
                && changes.iter().any(|c| c.seq == at)
            {
                *fail = None;
                return Err(FollowError::Apply { follower: "recorder", reason: "failed once".into() });
            }
            self.seen.lock().unwrap_or_else(|p| p.into_inner()).extend(changes.iter().map(|c| c.seq));
            Ok(())
        }
    }

    /// A store with `n` changes after whatever it starts with; returns the sequence number
    /// before them.
    fn store_with(n: usize) -> (tempfile::TempDir, dossier_store::SqliteStore, i64) {
        use dossier_store::{Directory, Item, Submission};
        let dir = tempfile::tempdir().unwrap();
        let store = dossier_store::SqliteStore::open(dir.path()).unwrap();
        let sub = Submission {
            org: store.isac().unwrap().id,
            collection: store.default_collection().unwrap().id,
            named: false,
            curator: true,
        };
        let base = store.last_change().unwrap();
        for i in 0..n {
            let mut v = serde_json::json!({"type": "email-addr", "value": format!("u{i}@example.org")});
            let id = dossier_stix::id::deterministic_sco_id("email-addr", v.as_object().unwrap()).unwrap();
            v["id"] = serde_json::json!(id.as_str());
            let o = dossier_stix::StixObject::from_value(&v).unwrap();
            let mut items = std::iter::once(Item::Valid { index: 0, line: 1, object: o.into_record() });
            store.import(&sub, &mut items, &mut |_| {}).unwrap();
        }
        (dir, store, base)
    }

    #[test]
    fn batches_in_order_and_a_failed_batch_is_applied_again_not_skipped() {
        let (_dir, store, b) = store_with(7);
        let r = Recorder { seen: Mutex::new(Vec::new()), fail_at: Mutex::new(Some(b + 5)) };
        let cursor = MemoryCursor::new(b);
        assert!(catch_up(&store, &r, &cursor, 2).is_err());
        let seen = |r: &Recorder| r.seen.lock().unwrap().iter().map(|s| s - b).collect::<Vec<_>>();
        assert_eq!(seen(&r), [1, 2, 3, 4], "stopped before the failed batch");
        assert_eq!(cursor.load().unwrap(), b + 4);
        assert_eq!(catch_up(&store, &r, &cursor, 2).unwrap(), 3);
        assert_eq!(seen(&r), [1, 2, 3, 4, 5, 6, 7], "nothing lost, nothing twice");
        assert!(cursor.reached(b + 7));
    }

    #[test]
    fn a_stored_cursor_resumes_after_a_restart_and_can_start_at_the_end() {
        let (_dir, store, b) = store_with(3);
        let r = Recorder { seen: Mutex::new(Vec::new()), fail_at: Mutex::new(None) };
        let from_end = StoredCursor { name: "late", store: &store, log: &store, start: Start::End };
        assert_eq!(catch_up(&store, &r, &from_end, 10).unwrap(), 0, "history is not replayed");
        let c = StoredCursor { name: "recorder", store: &store, log: &store, start: Start::Beginning };
        assert_eq!(catch_up(&store, &r, &c, 10).unwrap() as i64, b + 3);
        // A new process: the cursor is where it was.
        let again = StoredCursor { name: "recorder", store: &store, log: &store, start: Start::Beginning };
        assert_eq!(again.load().unwrap(), b + 3);
        assert_eq!(catch_up(&store, &r, &again, 10).unwrap(), 0);
    }
}
