//! Choosing a backend by URL, and the upkeep every backend answers for, so that callers (the
//! command line, the server, the evaluation, the benchmarks) name no backend.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{
    Accounts, AuditLog, ChangeLog, Collections, Cursors, Directory, Federation, Inbox, Monitoring, ObjectStore,
    Sharing, SqliteStore, StoreError, Throttles, Transfer, Webhooks,
};

/// A backend's own upkeep, run by callers without naming the backend. Every method but
/// [`Upkeep::location`] and [`Upkeep::backup`] does nothing where a backend needs nothing.
pub trait Upkeep: Send + Sync {
    /// Where the data lives, for messages: `sqlite:PATH`, or a PostgreSQL URL without its
    /// password.
    fn location(&self) -> String;

    /// Prepares for a long-running server, which then calls [`Upkeep::upkeep`] every
    /// 100 ms (SQLite: commits stop copying the write-ahead log into the database; the
    /// upkeep does it in the background instead).
    fn start_serving(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Bounded background work of a running server; `tick` counts the calls (one every
    /// 100 ms). SQLite: keeps the write-ahead log under `wal_limit` bytes and checkpoints it
    /// once a second.
    fn upkeep(&self, tick: u64, wal_limit: u64) -> Result<(), StoreError> {
        let _ = (tick, wal_limit);
        Ok(())
    }

    /// Prepares for reading the whole store once (an export): reads then keep little in
    /// memory.
    fn stream_reads(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Leaves the store self-contained before the process ends (SQLite: everything in
    /// the write-ahead log copied into the database file, the log emptied).
    fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Writes a consistent copy of everything to `to` (a new file) while the store keeps
    /// serving. SQLite: a compacted database file that `dossier restore` (or copying it in
    /// as `dossier.db`) brings back.
    fn backup(&self, to: &Path) -> Result<(), StoreError>;
}

/// Everything a dossier node needs of its storage, whichever backend holds it.
pub trait Store:
    ObjectStore
    + ChangeLog
    + AuditLog
    + Directory
    + Accounts
    + Collections
    + Sharing
    + Inbox
    + Cursors
    + Webhooks
    + Monitoring
    + Federation
    + Upkeep
    + Transfer
    + Throttles
{
}
impl<T> Store for T where
    T: ObjectStore
        + ChangeLog
        + AuditLog
        + Directory
        + Accounts
        + Collections
        + Sharing
        + Inbox
        + Cursors
        + Webhooks
        + Monitoring
        + Federation
        + Upkeep
        + Transfer
        + Throttles
{
}

/// Where a store lives, parsed from a database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `sqlite:PATH` (or a bare path): the embedded store in the data directory PATH.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`: a PostgreSQL database.
    Postgres(String),
}

impl Location {
    /// Parses `sqlite:PATH`, `sqlite://PATH`, a bare path, or a `postgres://` /
    /// `postgresql://` URL.
    pub fn parse(url: &str) -> Result<Location, StoreError> {
        let bad = |reason: &str| StoreError::Url { url: redact(url), reason: reason.to_owned() };
        if url.trim().is_empty() {
            return Err(bad("the database URL is empty"));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(bad("sqlite: needs the data directory's path, as in sqlite:./dossier-data"));
            }
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(bad(&format!("unknown scheme {scheme:?}: use sqlite:PATH or postgres://…")));
        }
        Ok(Location::Sqlite(PathBuf::from(url)))
    }
}

/// `url` without the password it may carry (for messages and logs).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (auth, host),
        None => return url.to_owned(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Opens (creating and migrating as needed) the store at `url`: `sqlite:PATH` (a bare path
/// too) or `postgres://…`.
pub fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match Location::parse(url)? {
        Location::Sqlite(path) => Ok(Arc::new(SqliteStore::open(&path)?)),
        Location::Postgres(url) => Ok(Arc::new(crate::PgStore::open(&url)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(Location::parse("sqlite:/tmp/d").unwrap(), Location::Sqlite("/tmp/d".into()));
        assert_eq!(Location::parse("sqlite:///tmp/d").unwrap(), Location::Sqlite("/tmp/d".into()));
        assert_eq!(Location::parse("./data").unwrap(), Location::Sqlite("./data".into()));
        assert!(matches!(Location::parse("postgres://u:p@h/db").unwrap(), Location::Postgres(_)));
        assert!(matches!(Location::parse("postgresql://h/db").unwrap(), Location::Postgres(_)));
        let e = Location::parse("mysql://u:secret@h/db").unwrap_err().to_string();
        assert!(e.contains("unknown scheme \"mysql\""), "{e}");
        assert!(!e.contains("secret"), "{e}");
        assert!(Location::parse("sqlite:").is_err());
        assert!(Location::parse(" ").is_err());
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("postgres://dossier:hunter2@db:5432/x"), "postgres://dossier:***@db:5432/x");
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
        assert_eq!(redact("sqlite:/p@x"), "sqlite:/p@x");
    }
}
