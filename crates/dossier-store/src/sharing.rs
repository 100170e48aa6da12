//! The sharing loop's records: each organization's review queue of screens that asked for a
//! person's look, the judgements on them, the ties an organization judged false positives,
//! and the judgements per stored object that ISAC analysts read.
//!
//! Nothing here holds an applicant's values in the clear: a queue entry keeps the explained
//! result without them (the caller redacts it), the applicant's `ref` only if the member
//! keeps it, and each tie's value as a keyed hash.

use dossier_stix::OrgId;
use serde::Serialize;

use crate::StoreError;

/// How a member judged a queue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// The applicant is the actor (or one of its operatives).
    Confirmed,
    /// Not the actor: the entry's ties stop counting in this organization's screens.
    FalsePositive,
    /// Not settled.
    Unsure,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Confirmed => "confirmed",
            Disposition::FalsePositive => "false_positive",
            Disposition::Unsure => "unsure",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "confirmed" => Disposition::Confirmed,
            "false_positive" | "false-positive" => Disposition::FalsePositive,
            "unsure" => Disposition::Unsure,
            _ => return None,
        })
    }
}

/// A screen to queue.
#[derive(Debug, Clone)]
pub struct NewReviewEntry {
    pub org: OrgId,
    pub at: i64,
    /// When it is deleted (unix microseconds).
    pub expires: i64,
    /// Who screened: a token id or `user:NAME`, and how pages name them.
    pub by_id: String,
    pub by_name: String,
    /// Where the screen came from: `api`, `batch`, `job`, `web`.
    pub source: String,
    /// The applicant's `ref` as the member keeps it (`None`: only its keyed hash).
    pub reference: Option<String>,
    pub ref_hash: String,
    /// `match` or `review`.
    pub decision: String,
    pub score: f64,
    /// The explained result without the applicant's values (JSON).
    pub result: String,
    /// The visible ties: (keyed hash of the applicant's value, stored object id).
    pub ties: Vec<(String, String)>,
    /// The hidden objects behind a restricted hit (routing an access request; never shown
    /// to the screener).
    pub restricted: Vec<String>,
}

/// A queued screen.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewEntry {
    pub id: i64,
    #[serde(skip)]
    pub org: OrgId,
    pub at: i64,
    pub expires: i64,
    pub by: String,
    pub source: String,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub ref_hash: String,
    pub decision: String,
    pub score: f64,
    pub result: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged_at: Option<i64>,
}

/// Which entries a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReviewStatus {
    /// Not judged yet.
    #[default]
    Open,
    Judged,
    All,
}

#[derive(Debug, Clone, Default)]
pub struct ReviewQuery {
    pub status: ReviewStatus,
    pub limit: usize,
    /// Entries with a smaller id only (paging, newest first).
    pub before: Option<i64>,
}

/// A judgement on one entry.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub disposition: Disposition,
    pub comment: Option<String>,
    pub by_id: String,
    pub by_name: String,
}

/// A tie an organization judged a false positive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressedTie {
    pub value_hash: String,
    pub object: String,
    pub by_name: String,
    pub at: i64,
}

/// The judgements on one stored object across members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispositionCount {
    pub object: String,
    pub confirmed: u64,
    pub false_positive: u64,
    pub unsure: u64,
    /// Distinct organizations that judged it.
    pub organizations: u64,
    /// The latest judgement (unix microseconds).
    pub last: i64,
}

/// Longest comment kept on a judgement, in bytes.
pub const MAX_COMMENT: usize = 4096;

/// Where an access request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessStatus {
    Pending,
    Granted,
    Declined,
}

impl AccessStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            "granted" => AccessStatus::Granted,
            "declined" => AccessStatus::Declined,
            _ => AccessStatus::Pending,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            AccessStatus::Pending => "pending",
            AccessStatus::Granted => "granted",
            AccessStatus::Declined => "declined",
        }
    }
}

/// A member's request to see the hidden objects behind a restricted hit, addressed to the
/// organization that owns them. Holds no applicant data. What each side may read of it is
/// for the caller to decide (the requester never learns the objects or the owner).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRequest {
    pub id: i64,
    /// The requester's review entry.
    pub entry: i64,
    pub requester: OrgId,
    /// Whether the requester let the owner know who asks.
    pub named: bool,
    pub requested_by: String,
    pub owner: OrgId,
    /// The owner's objects behind the hit.
    pub objects: Vec<String>,
    /// When the hit happened (the screen).
    pub hit_at: i64,
    pub at: i64,
    pub note: Option<String>,
    pub status: AccessStatus,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub reply: Option<String>,
}

/// Which requests a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessSide {
    /// Addressed to the organization (it owns the objects).
    Incoming,
    /// Made by the organization.
    Outgoing,
    /// Every request (ISAC analysts).
    All,
}

/// The sharing loop's records.
pub trait Sharing: Send + Sync {
    /// Queues screens in one transaction; returns their ids.
    fn enqueue(&self, entries: &[NewReviewEntry]) -> Result<Vec<i64>, StoreError>;
    /// One organization's entries, newest first, that have not expired at `now`.
    fn review_entries(&self, org: OrgId, query: &ReviewQuery, now: i64) -> Result<Vec<ReviewEntry>, StoreError>;
    /// One entry of `org`'s queue (another organization's is not found).
    fn review_entry(&self, org: OrgId, id: i64, now: i64) -> Result<Option<ReviewEntry>, StoreError>;
    /// How many of `org`'s entries are not judged yet.
    fn open_reviews(&self, org: OrgId, now: i64) -> Result<u64, StoreError>;
    /// Judges an entry of `org`'s queue (again, if it was): a false positive suppresses the
    /// entry's ties for `org` for as long as entries are kept, counted from now; any other
    /// judgement lifts the suppressions this entry made.
    fn judge(&self, org: OrgId, id: i64, judgement: &Judgement, now: i64) -> Result<ReviewEntry, StoreError>;
    /// `org`'s suppressed ties that have not expired at `now`.
    fn suppressions(&self, org: OrgId, now: i64) -> Result<Vec<SuppressedTie>, StoreError>;
    /// Judgements per stored object across organizations, the most false positives first;
    /// `object` narrows it to one.
    fn disposition_counts(&self, object: Option<&str>, limit: usize) -> Result<Vec<DispositionCount>, StoreError>;
    /// Deletes entries and suppressions expired at `now`; returns how many entries.
    fn purge_reviews(&self, now: i64) -> Result<usize, StoreError>;

    /// Asks the owners of the hidden objects behind entry `entry`'s restricted hit (an
    /// entry of `requester`'s queue) for access: one request per owning organization (the
    /// organization whose version of an object is served), at most one per entry and owner
    /// (asking again returns the existing one). `NotFound` when the entry is not the
    /// requester's or holds no restricted hit.
    fn request_access(
        &self,
        requester: OrgId,
        entry: i64,
        named: bool,
        requested_by: &str,
        note: Option<&str>,
        now: i64,
    ) -> Result<Vec<AccessRequest>, StoreError>;
    /// Requests addressed to or made by `org`, or all, newest first.
    fn access_requests(&self, org: OrgId, side: AccessSide, limit: usize) -> Result<Vec<AccessRequest>, StoreError>;
    /// The owner's answer to request `id`: a grant adds the requester to the recipients of
    /// the owner's served versions of the request's objects (and records the change, so
    /// that every follower — the screening index — learns it); a decline changes nothing.
    /// `NotFound` unless `owner` owns the request; `Invalid` when it was answered already.
    fn decide_access(
        &self,
        owner: OrgId,
        id: i64,
        grant: bool,
        decided_by: &str,
        reply: Option<&str>,
        now: i64,
    ) -> Result<AccessRequest, StoreError>;
}

/// Durable cursors of the change log's followers.
pub trait Cursors: Send + Sync {
    /// How far follower `name` got (`None`: never ran).
    fn cursor(&self, name: &str) -> Result<Option<i64>, StoreError>;
    fn save_cursor(&self, name: &str, seq: i64) -> Result<(), StoreError>;
    /// Whether this process leads the background work `name` (a follower with a durable
    /// cursor, webhook deliveries, a peer's sync): one process at a time does it, so that
    /// several nodes on one database neither announce a change twice nor deliver a webhook
    /// twice. Once held, the lead stays with the process until it ends (or loses its
    /// database connection); another node then takes it over. A store that only one
    /// process serves always leads.
    fn lead(&self, name: &str) -> Result<bool, StoreError> {
        let _ = name;
        Ok(true)
    }
}

/// One event in an organization's inbox. Holds no applicant data: titles and bodies name
/// objects, organizations (as the recipient may know them) and counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub id: i64,
    #[serde(skip)]
    pub org: OrgId,
    pub at: i64,
    /// `review`, `access_request`, `access_granted`, `access_declined`, `sighting`, …
    pub kind: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub body: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
}

/// A notification to add.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub org: OrgId,
    pub at: i64,
    pub kind: String,
    pub title: String,
    pub link: Option<String>,
    pub body: serde_json::Value,
}

/// Longest note or reply on an access request, in bytes.
pub const MAX_NOTE: usize = 4096;

/// Access requests one organization may have waiting with one owner.
pub const MAX_PENDING: i64 = 50;

/// The organizations' inboxes.
pub trait Inbox: Send + Sync {
    fn notify(&self, items: &[NewNotification]) -> Result<Vec<i64>, StoreError>;
    /// `org`'s notifications, newest first (`unread`: only those not read).
    fn notifications(&self, org: OrgId, unread: bool, limit: usize) -> Result<Vec<Notification>, StoreError>;
    fn unread(&self, org: OrgId) -> Result<u64, StoreError>;
    /// Marks `ids` (all, when empty) of `org` read; returns how many changed.
    fn mark_read(&self, org: OrgId, ids: &[i64], now: i64) -> Result<usize, StoreError>;
}

/// An organization's outgoing webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Webhook {
    pub id: i64,
    #[serde(skip)]
    pub org: OrgId,
    pub url: String,
    /// The signing secret (HMAC-SHA-256): shown once, when the webhook is made.
    #[serde(skip)]
    pub secret: String,
    /// Notification kinds delivered (empty: all).
    pub events: Vec<String>,
    /// Send a Slack-compatible `{"text": …}` body instead of the event.
    pub slack: bool,
    pub created: i64,
}

/// One delivery of one event to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub webhook: i64,
    #[serde(skip)]
    pub org: OrgId,
    pub kind: String,
    /// The body sent (JSON).
    #[serde(skip)]
    pub payload: String,
    pub created: i64,
    pub attempts: u32,
    pub next_at: i64,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
}

/// Outgoing webhooks and their deliveries.
pub trait Webhooks: Send + Sync {
    fn add_webhook(
        &self,
        org: OrgId,
        url: &str,
        secret: &str,
        events: &[String],
        slack: bool,
        now: i64,
    ) -> Result<Webhook, StoreError>;
    /// `org`'s webhooks (all organizations' when `None`).
    fn webhooks(&self, org: Option<OrgId>) -> Result<Vec<Webhook>, StoreError>;
    /// Deletes one of `org`'s webhooks and its pending deliveries.
    fn remove_webhook(&self, org: OrgId, id: i64) -> Result<(), StoreError>;
    /// Queues deliveries: (webhook, organization, kind, payload), due at `now`.
    fn queue_deliveries(&self, items: &[(i64, OrgId, String, String)], now: i64) -> Result<(), StoreError>;
    /// Pending deliveries due at `now`, oldest first.
    fn due_deliveries(&self, now: i64, limit: usize) -> Result<Vec<Delivery>, StoreError>;
    /// Records an attempt: delivered, or failed with `error` and retried at `retry_at`
    /// (`None`: no more attempts — dead).
    fn record_attempt(
        &self,
        id: i64,
        delivered: bool,
        error: Option<&str>,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// `org`'s deliveries, newest first, of one status or all.
    fn deliveries(&self, org: OrgId, status: Option<&str>, limit: usize) -> Result<Vec<Delivery>, StoreError>;
    /// Sends a dead delivery of `org` again: pending, attempts from zero, due now.
    fn resend(&self, org: OrgId, id: i64, now: i64) -> Result<Delivery, StoreError>;
}

/// A subject to watch.
#[derive(Debug, Clone)]
pub struct NewWatch {
    pub org: OrgId,
    /// The member's reference of the subject.
    pub reference: String,
    pub by_name: String,
    /// The subject as the screening engine keeps it (keyed hashes, signatures; JSON).
    pub subject: String,
    /// The key hashes to look it up by.
    pub hashes: Vec<u64>,
    pub created: i64,
    pub expires: i64,
}

/// A watched subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchRow {
    pub id: i64,
    #[serde(skip)]
    pub org: OrgId,
    #[serde(rename = "ref")]
    pub reference: String,
    pub by: String,
    #[serde(skip)]
    pub subject: String,
    pub created: i64,
    pub expires: i64,
    /// The objects already announced in an alert.
    #[serde(skip)]
    pub alerted: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerted_at: Option<i64>,
}

/// Continuous monitoring's watched subjects.
pub trait Monitoring: Send + Sync {
    /// Adds subjects in one transaction; returns their ids.
    fn watch(&self, items: &[NewWatch]) -> Result<Vec<i64>, StoreError>;
    /// `org`'s subjects not expired at `now`, newest first.
    fn watched(&self, org: OrgId, now: i64, limit: usize) -> Result<Vec<WatchRow>, StoreError>;
    /// Stops watching one of `org`'s subjects (its hashes go with it).
    fn unwatch(&self, org: OrgId, id: i64) -> Result<(), StoreError>;
    /// The subjects (of any organization, not expired at `now`) holding any of `hashes`.
    fn watched_by_hashes(&self, hashes: &[u64], now: i64) -> Result<Vec<WatchRow>, StoreError>;
    /// Records the objects announced for subject `id`.
    fn set_alerted(&self, id: i64, objects: &[String], now: i64) -> Result<(), StoreError>;
    /// Deletes subjects expired at `now`; returns how many.
    fn purge_watched(&self, now: i64) -> Result<usize, StoreError>;
    /// How many subjects are watched (all organizations).
    fn watched_count(&self) -> Result<u64, StoreError>;
}
