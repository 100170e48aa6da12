//! Federation's records: the organizations that stand for other TAXII servers (peers), the
//! durable state of each pull and push (cursor, counts, last error), and what members'
//! mirrors last reported of their freshness.
//!
//! Credentials of peers are never stored here: they live in the configuration (or the
//! environment) of whoever runs the sync.

use dossier_stix::OrgId;
use serde::Serialize;

use crate::{Org, StoreError};

/// The durable state of one pull or push (`pull:PEER:COLLECTION`, `push:PEER:COLLECTION`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncState {
    pub name: String,
    /// A pull: the remote's `X-TAXII-Date-Added-Last` of the last page stored. A push: the
    /// sequence number of the last change-log entry sent.
    pub cursor: Option<String>,
    /// Objects stored (pull) or sent (push) in all.
    pub objects: u64,
    /// Objects refused (invalid, or another organization's) in all.
    pub skipped: u64,
    /// Unix microseconds.
    pub last_run: Option<i64>,
    pub last_ok: Option<i64>,
    pub last_error: Option<String>,
}

/// What a member's mirror last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorReport {
    /// The token the mirror reads with (its id, never the secret).
    pub token: String,
    /// The name the mirror gave itself (e.g. its host).
    pub name: String,
    #[serde(skip)]
    pub org: OrgId,
    /// When the mirror last finished a complete sync (unix microseconds).
    pub synced_at: i64,
    /// The newest date added it holds (unix microseconds), if any.
    pub newest: Option<i64>,
    /// Objects it holds.
    pub objects: u64,
    /// When it reported (unix microseconds, the server's clock).
    pub reported_at: i64,
}

/// Most characters of a mirror's name.
pub const MAX_MIRROR_NAME: usize = 100;

/// Federation's records.
pub trait Federation: Send + Sync {
    /// The organization standing for peer `name`, made (of kind `peer`) on first use. An
    /// existing member organization of that name is refused: a peer's objects must never
    /// be attributed to a member.
    fn peer_org(&self, name: &str) -> Result<Org, StoreError>;
    fn sync_state(&self, name: &str) -> Result<Option<SyncState>, StoreError>;
    fn save_sync_state(&self, state: &SyncState) -> Result<(), StoreError>;
    /// Every pull's and push's state, by name.
    fn sync_states(&self) -> Result<Vec<SyncState>, StoreError>;
    /// Records (or replaces) what a mirror reported.
    fn report_mirror(&self, report: &MirrorReport) -> Result<(), StoreError>;
    /// Every mirror's last report, newest first.
    fn mirrors(&self) -> Result<Vec<MirrorReport>, StoreError>;
}
