//! # dossier-store
//!
//! Persistence behind capability traits — objects ([`ObjectStore`]), the change log
//! ([`ChangeLog`]), the audit log ([`AuditLog`]), organizations and tokens ([`Directory`]),
//! users and sessions ([`Accounts`]), [`Collections`], the sharing loop ([`Sharing`],
//! [`Inbox`], [`Cursors`], [`Webhooks`], [`Monitoring`]), [`Federation`], [`Throttles`],
//! whole-store copies ([`Transfer`]) and upkeep ([`Upkeep`]) — gathered in [`Store`] and
//! opened by URL with [`open`], so that callers name no backend. Errors are backend-neutral
//! ([`StoreError`]).
//!
//! Two backends: the embedded SQLite store ([`SqliteStore`]) in WAL mode with
//! `synchronous = FULL` (a write is durable once the call that made it returns, and a crash
//! at any point leaves the last committed state), and PostgreSQL ([`PgStore`]) for several
//! nodes on one database. The rules of versions are written once (`versions.rs`) over the
//! row operations each backend supplies.
//!
//! ## Object versions
//! Every version `(id, modified)` is one row holding its exact compact JSON. The version key
//! is the instant of `modified` (else `created`), so `…00.1Z` and `…00.100Z` are the same
//! version. Objects without either (most SCOs) have one version per distinct content: the
//! first is keyed `""`, later different contents are keyed by the date they were added.
//!
//! ## Imports are atomic
//! [`ObjectStore::import`] runs one transaction: every object valid → all stored; any
//! invalid → nothing stored, and the error lists every invalid object with its position.
//! Re-importing changes nothing; a newer version supersedes; an older version arriving later
//! is kept as history and does not become the latest.

mod backend;
mod federation;
mod pg_schema;
mod postgres;
mod schema;
mod sharing;
mod sqlite;
mod throttle;
pub mod transfer;
mod versions;

pub use backend::{Location, Store, Upkeep, open, redact};
pub use federation::{Federation, MirrorReport, SyncState};
pub use postgres::{POOL as PG_POOL, PgStore};
pub use throttle::Throttles;
pub use transfer::{Copied, Fingerprint, Transfer, copy};

pub use sharing::{
    AccessRequest, AccessSide, AccessStatus, Cursors, Disposition, DispositionCount, Inbox, Judgement, MAX_COMMENT,
    NewNotification, NewReviewEntry, Notification, ReviewEntry, ReviewQuery, ReviewStatus, Sharing, SuppressedTie,
};
pub use sharing::{Delivery, Monitoring, NewWatch, WatchRow, Webhook, Webhooks};
pub use sqlite::SqliteStore;

use dossier_stix::{Invalid, OrgId, Record, Role, Tlp};
use serde::Serialize;

/// Errors of the store. Backend-neutral: a database's own error is kept as its message and
/// how it failed ([`StorageFailure`]), so callers never name a backend's types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed the operation.
    #[error("database error: {message}")]
    Database {
        message: String,
        /// Whether the storage itself failed (disk full, unavailable), not the request.
        failure: Option<StorageFailure>,
    },
    #[error("cannot use data directory {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(
        "the database was written by a newer dossier (schema version {found}; this binary supports up to {supported}); upgrade dossier"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("{0}")]
    Rejected(Rejection),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database URL names no backend this binary has, or is malformed.
    #[error("cannot open {url}: {reason}")]
    Url { url: String, reason: String },
}

/// A failure of the storage itself rather than of the request: the answer says so, and
/// that nothing was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFailure {
    /// The disk (or the filesystem's quota) is full.
    Full,
    /// The database cannot be read or written right now (I/O error, read-only filesystem,
    /// locked by another process, the database server unreachable).
    Unavailable,
}

impl StoreError {
    /// Whether this error is the storage failing (and which way), not the request.
    pub fn storage_failure(&self) -> Option<StorageFailure> {
        match self {
            StoreError::Database { failure, .. } => *failure,
            StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                Some(StorageFailure::Full)
            }
            StoreError::Io { .. } => Some(StorageFailure::Unavailable),
            _ => None,
        }
    }
}

/// Why an import stored nothing.
#[derive(Debug, Serialize)]
pub struct Rejection {
    /// Every invalid object (up to [`MAX_REPORTED_ERRORS`]), in input order.
    pub errors: Vec<ItemError>,
    /// How many invalid objects there were in all.
    pub invalid_objects: usize,
    /// A structural problem that stopped reading (truncated file, oversized object, …).
    pub fatal: Option<String>,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(fatal) = &self.fatal {
            writeln!(f, "{fatal}")?;
        }
        if self.invalid_objects > 0 {
            writeln!(f, "{} invalid object(s):", self.invalid_objects)?;
        }
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        if self.errors.len() < self.invalid_objects {
            writeln!(f, "  … and {} more", self.invalid_objects - self.errors.len())?;
        }
        f.write_str("nothing was stored")
    }
}

/// The most invalid objects one rejection lists in detail.
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// One problem with one input object.
#[derive(Debug, Clone, Serialize)]
pub struct ItemError {
    /// 0-based position among the input's objects.
    pub index: usize,
    /// 1-based line where the object starts.
    pub line: u64,
    pub problem: Invalid,
}

impl std::fmt::Display for ItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "object #{} (line {}): {}", self.index, self.line, self.problem)
    }
}

/// One input item for [`ObjectStore::import`].
pub enum Item {
    Valid {
        index: usize,
        line: u64,
        object: Record,
    },
    Invalid {
        index: usize,
        line: u64,
        problems: Vec<Invalid>,
    },
    /// Reading stopped; the import must store nothing.
    Broken(String),
}

/// Puts the marking-definitions of a submission first, in their order, the rest after in
/// theirs: an object that references a TLP marking defined under its own id in the same
/// submission is then stored under it. (A streamed import cannot reorder; the store refuses
/// a definition that arrives after objects already referenced it.)
pub fn markings_first(items: &mut [Item]) {
    items.sort_by_key(|i| !matches!(i, Item::Valid { object, .. } if object.object_type() == "marking-definition"));
}

/// Imports `records` leaving out those the store refuses (another organization's object, an
/// older version than one already refused, …): what is left is stored in one transaction.
/// For conversions and federation, where one refused record must not stop the rest; a
/// plain import stays all-or-nothing. Returns the summary and each refused record's position
/// in `records` with why.
pub fn import_leaving_out(
    store: &dyn ObjectStore,
    submission: &Submission,
    records: &[Record],
) -> Result<(ImportSummary, Vec<(usize, Invalid)>), StoreError> {
    let mut refused: Vec<(usize, Invalid)> = Vec::new();
    let mut left_out = std::collections::HashSet::new();
    loop {
        let mut items: Vec<Item> = records
            .iter()
            .enumerate()
            .filter(|(i, _)| !left_out.contains(i))
            .map(|(index, r)| Item::Valid { index, line: 1, object: r.clone() })
            .collect();
        markings_first(&mut items);
        match store.import(submission, &mut items.into_iter(), &mut |_| {}) {
            Ok(summary) => return Ok((summary, refused)),
            Err(StoreError::Rejected(r)) if r.fatal.is_none() && !r.errors.is_empty() => {
                let before = left_out.len();
                for e in r.errors {
                    if left_out.insert(e.index) {
                        refused.push((e.index, e.problem));
                    }
                }
                if left_out.len() == before {
                    return Err(StoreError::Invalid("the store refused the same records twice".into()));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// The namespace for the STIX identities that stand for member organizations.
const ORG_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_9b0e_4d7a_5c3b_8e2f_1a9d_0c4b_7e61);

/// A new organization's name (trimmed) and the STIX identity that stands for it.
fn org_name(name: &str) -> Result<(&str, String), StoreError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(StoreError::Invalid("an organization name must be 1-200 printable characters".into()));
    }
    let identity_id = dossier_stix::StixId::new_v5("identity", &ORG_NAMESPACE, &name.to_lowercase()).to_string();
    Ok((name, identity_id))
}

/// A new web user's name, trimmed.
fn user_name(name: &str) -> Result<&str, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c == ':') {
        return Err(StoreError::Invalid(format!(
            "user name {name:?} must be 1-64 characters without ':' or control characters"
        )));
    }
    Ok(name)
}

/// Checks a new collection's title and alias.
fn collection_names(title: &str, alias: Option<&str>) -> Result<(), StoreError> {
    if title.trim().is_empty() {
        return Err(StoreError::Invalid("a collection needs a title".into()));
    }
    if let Some(a) = alias
        && (a.is_empty() || !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        return Err(StoreError::Invalid(format!("alias {a:?} may only hold letters, digits, '-' and '_'")));
    }
    Ok(())
}

/// A random secret of `bytes` bytes, in hex.
fn random_hex(bytes: usize) -> Result<String, StoreError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| StoreError::Invalid(format!("no system randomness: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A token secret as stored: its SHA-256.
fn hash_secret(secret: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes()).to_vec()
}

/// A stable 64-bit hash of an object id (the first 8 bytes of its SHA-256), used as the
/// compact key of the version index. Stable across releases and backends: it is stored.
fn id_hash(id: &str) -> i64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(id.as_bytes());
    i64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Whether a stored token hash equals `want`, in constant time.
fn same_hash(hash: &[u8], want: &[u8]) -> bool {
    hash.len() == want.len() && hash.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Whether JSON text holds one of `needles` as a whole string value or key (`"needle"`):
/// one pass over the quotes (escaped ones stay inside their string), each string compared
/// by length first.
pub(crate) fn holds_quoted(text: &[u8], needles: &std::collections::HashSet<&[u8]>) -> bool {
    let lengths: std::collections::BTreeSet<usize> = needles.iter().map(|n| n.len()).collect();
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'"', &text[at..]) {
        let start = at + i + 1;
        // The closing quote: the next one not escaped by an odd run of backslashes.
        let mut end = start;
        loop {
            let Some(j) = memchr::memchr(b'"', &text[end..]) else { return false };
            let q = end + j;
            let backslashes = text[start..q].iter().rev().take_while(|&&b| b == b'\\').count();
            if backslashes % 2 == 0 {
                end = q;
                break;
            }
            end = q + 1;
        }
        if lengths.contains(&(end - start)) && needles.contains(&text[start..end]) {
            return true;
        }
        at = end + 1;
    }
    false
}

/// The objects every store holds from the start: the TLP marking-definitions and dossier's
/// extension-definitions, stored by the ISAC.
fn builtin_items() -> Result<Vec<Item>, StoreError> {
    let builtins = dossier_stix::tlp::TLP2
        .iter()
        .chain(dossier_stix::tlp::TLP1.iter())
        .map(|m| m.json)
        .chain(dossier_stix::extension::DEFINITIONS);
    let mut items = Vec::new();
    for (index, json) in builtins.enumerate() {
        let object = dossier_stix::StixObject::parse(json.as_bytes())
            .map_err(|e| StoreError::Corrupt(format!("built-in object does not validate: {e:?}")))?;
        items.push(Item::Valid { index, line: 1, object: object.into_record() });
    }
    Ok(items)
}

/// The name, alias, description and TLP default of the collection every store starts with.
const DEFAULT_COLLECTION: (&str, &str, &str, Tlp) =
    ("dossier intelligence", "default", "Intelligence shared by the members", Tlp::Amber);

/// Who submits, and where to.
#[derive(Clone, Copy, Debug)]
pub struct Submission {
    pub org: OrgId,
    pub collection: CollectionId,
    /// Whether other members may see the submitter's real identity.
    pub named: bool,
    /// ISAC staff curating: may add versions to objects other organizations created (the
    /// versions stay the creator's). Everyone else may only version its own objects.
    pub curator: bool,
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct ImportSummary {
    /// Objects whose id was new.
    pub added: u64,
    /// New versions that became the latest of an existing object.
    pub updated: u64,
    /// Older versions stored as history (they did not become the latest).
    pub history: u64,
    /// Versions already stored with the same content.
    pub unchanged: u64,
}

impl ImportSummary {
    pub fn total(&self) -> u64 {
        self.added + self.updated + self.history + self.unchanged
    }
}

pub type CollectionId = i64;

/// Who may read or write a collection, beyond TLP (which still applies to every object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Every member organization.
    Members,
    /// ISAC analysts and admins only.
    Analysts,
    /// Nobody (writes only: a read-only collection fed by import).
    Nobody,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Members => "members",
            Access::Analysts => "analysts",
            Access::Nobody => "nobody",
        }
    }
    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "members" => Some(Access::Members),
            "analysts" => Some(Access::Analysts),
            "nobody" => Some(Access::Nobody),
            _ => None,
        }
    }
    /// Does this rule let `viewer` in?
    pub fn allows(self, viewer: &dossier_stix::Viewer) -> bool {
        match self {
            Access::Members => true,
            Access::Analysts => viewer.is_isac_staff(),
            Access::Nobody => false,
        }
    }
}

/// Refuses access rules no collection can have (nobody may read it).
pub fn validate_access(read: Access, _write: Access) -> Result<(), StoreError> {
    if read == Access::Nobody {
        return Err(StoreError::Invalid("a collection is readable by members or by analysts".into()));
    }
    Ok(())
}

/// A collection.
#[derive(Debug, Clone, Serialize)]
pub struct Collection {
    pub id: CollectionId,
    pub uuid: String,
    pub alias: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub default_tlp: Tlp,
    pub read: Access,
    pub write: Access,
}

/// One request recorded in the audit log. Identifiers a member searched for are stored
/// hashed by the caller, never in clear.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub at: i64,
    pub org: Option<OrgId>,
    pub token: Option<String>,
    pub method: String,
    pub path: String,
    pub params: Option<String>,
    pub status: u16,
    pub returned: u64,
}

/// Filters for reading the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub org: Option<OrgId>,
    pub since: Option<i64>,
    pub path_prefix: Option<String>,
    pub limit: usize,
    /// The credential (token id, or `user:NAME` for a web user).
    pub token: Option<String>,
    /// Records whose parameters (JSON) hold any of these as a whole string — the keyed
    /// hashes of a value, to find who searched or screened it; none: no such filter. Such
    /// a lookup reads every record the other filters leave.
    pub params_any: Vec<String>,
}

/// An organization.
#[derive(Debug, Clone, Serialize)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    /// The STIX identity that stands for the organization in `created_by_ref`.
    pub identity_id: String,
    /// The ISAC itself (exactly one).
    pub isac: bool,
    /// Another TAXII server (kind `peer`): the objects pulled from it, and those it pushes
    /// with a token of its own, are attributed to it, and are never pushed back to it.
    pub peer: bool,
}

/// A token as stored (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub org: OrgId,
    pub role: Role,
    pub label: Option<String>,
    pub created: i64,
    pub expires: Option<i64>,
    pub revoked: Option<i64>,
}

/// A signed-in web session, kept so that sessions outlive a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// SHA-256 of the session cookie (the cookie itself is never stored).
    pub key: [u8; 32],
    /// Whom the session stands for: `token:ID` or `user:ID`.
    pub principal: String,
    pub csrf: String,
    /// Unix microseconds.
    pub started: i64,
    pub last: i64,
}

/// A person who signs in to the web interface with a password.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub org: OrgId,
    pub role: Role,
    /// The password hash (a PHC string); never shown.
    #[serde(skip)]
    pub password_hash: String,
    pub created: i64,
    pub disabled: Option<i64>,
}

/// A freshly created token; `secret` is shown once and never stored.
#[derive(Debug)]
pub struct NewToken {
    pub info: TokenInfo,
    pub secret: String,
}

/// Which versions of each object a query returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Versions {
    Latest,
    First,
    All,
    /// The version with this version key.
    At(String),
}

/// A query over the objects of one collection (or all, when `collection` is `None`).
#[derive(Debug, Clone)]
pub struct Query {
    pub collection: Option<CollectionId>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: Vec<Versions>,
    /// Only entries added strictly after this date (microseconds).
    pub added_after: Option<i64>,
    /// Only entries up to this TLP level.
    pub max_tlp: Option<Tlp>,
    pub limit: usize,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            collection: None,
            ids: Vec::new(),
            types: Vec::new(),
            versions: vec![Versions::Latest],
            added_after: None,
            max_tlp: None,
            limit: usize::MAX,
        }
    }
}

/// One stored object version as a query returns it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub vid: i64,
    pub id: String,
    pub object_type: String,
    /// Original text of `modified`/`created`, or the date added for versionless objects.
    pub version: String,
    pub spec_version: Option<String>,
    pub date_added: i64,
    /// Effective TLP in the collection the entry was read from.
    pub tlp: Tlp,
    pub confidence: Option<u8>,
    pub owner: OrgId,
    /// Whether the first submitter chose to be named to other members.
    pub named: bool,
    pub json: String,
    /// Organizations besides the first submitter that may see a RED version.
    pub recipients: Vec<OrgId>,
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    /// When the change was made (unix microseconds; for an addition, the version's
    /// `date_added` in its collection).
    pub at: i64,
    pub op: ChangeOp,
    /// The object's id (for a removal, recorded with the change; `None` in logs written
    /// before schema 4 when the version is gone).
    pub id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    Add,
    Remove,
}

/// One organization's submission of one version of an object: the version's owner, or a
/// further organization that submitted the same content.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Provenance {
    /// The version: who may learn of this submission is who may see this version.
    pub vid: i64,
    pub org: OrgId,
    pub named: bool,
    /// When it submitted the version (microseconds).
    pub at: i64,
    /// The ISAC staff organization that wrote this version into another organization's
    /// object (curation), if any.
    pub curator: Option<OrgId>,
}

/// One stored object version, borrowed from the store for the duration of a visit.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub vid: i64,
    pub id: &'a str,
    pub object_type: &'a str,
    /// The version key's original text (empty for the first version of a versionless object).
    pub modified: &'a str,
    pub spec_version: Option<&'a str>,
    pub date_added: i64,
    pub tlp: Tlp,
    pub confidence: Option<u8>,
    pub owner: OrgId,
    pub named: bool,
    pub json: &'a str,
    /// Organizations (comma-separated ids) besides the first submitter that may see a RED
    /// version: those it names, and those that submitted it too.
    pub recipients: &'a str,
}

/// The parts of an object version an index built from the store needs: what
/// [`ObjectStore::scan_latest_parallel`] reads (the other columns of [`EntryRef`] cost a fifth
/// of such a scan).
#[derive(Debug, Clone, Copy)]
pub struct LatestRef<'a> {
    pub id: &'a str,
    pub object_type: &'a str,
    pub tlp: Tlp,
    pub confidence: Option<u8>,
    pub owner: OrgId,
    pub json: &'a str,
    /// As [`EntryRef::recipients`].
    pub recipients: &'a str,
}

fn parse_recipients(list: &str) -> Vec<OrgId> {
    if list.is_empty() {
        return Vec::new();
    }
    list.split(',').filter_map(|r| r.parse().ok()).collect()
}

impl LatestRef<'_> {
    /// The organizations the submitter shared this version with.
    pub fn recipients(&self) -> Vec<OrgId> {
        parse_recipients(self.recipients)
    }
}

impl<'a> EntryRef<'a> {
    /// The parts an index needs.
    pub fn latest(&self) -> LatestRef<'a> {
        LatestRef {
            id: self.id,
            object_type: self.object_type,
            tlp: self.tlp,
            confidence: self.confidence,
            owner: self.owner,
            json: self.json,
            recipients: self.recipients,
        }
    }

    /// The organizations the submitter shared this version with.
    pub fn recipients(&self) -> Vec<OrgId> {
        parse_recipients(self.recipients)
    }

    /// The TAXII version: `modified`/`created`, else the date added.
    pub fn version(&self) -> String {
        if self.modified.is_empty() {
            dossier_stix::Timestamp::from_unix_micros(self.date_added).as_str().to_owned()
        } else {
            self.modified.to_owned()
        }
    }

    pub fn to_entry(&self) -> Entry {
        Entry {
            vid: self.vid,
            id: self.id.to_owned(),
            object_type: self.object_type.to_owned(),
            version: self.version(),
            spec_version: self.spec_version.map(str::to_owned),
            date_added: self.date_added,
            tlp: self.tlp,
            confidence: self.confidence,
            owner: self.owner,
            named: self.named,
            json: self.json.to_owned(),
            recipients: self.recipients(),
        }
    }
}

/// Storage of STIX object versions (and the status resources of their imports). Every
/// write to objects is recorded in the change log, so an object store is one.
pub trait ObjectStore: ChangeLog + Send + Sync {
    /// Stores a stream of objects atomically (see the crate docs). `progress` is called with
    /// the number of items consumed so far, now and then.
    fn import(
        &self,
        submission: &Submission,
        items: &mut dyn Iterator<Item = Item>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportSummary, StoreError>;

    /// [`ObjectStore::import`], also storing a TAXII status resource `(id, json)` in the same
    /// transaction: one durable commit for both.
    fn import_with_status(
        &self,
        submission: &Submission,
        items: &mut dyn Iterator<Item = Item>,
        status: (&str, &str),
    ) -> Result<ImportSummary, StoreError>;

    /// Visits matching entries in date-added order (then insertion order), stopping after
    /// `query.limit` or when `visit` returns `false`.
    fn scan(&self, query: &Query, visit: &mut dyn FnMut(Entry) -> bool) -> Result<(), StoreError> {
        self.scan_raw(query, &mut |e| visit(e.to_entry()))
    }

    /// [`ObjectStore::scan`] without copying: each row is lent to `visit` (the hot path of
    /// feeds, which write the JSON straight into a response).
    fn scan_raw(&self, query: &Query, visit: &mut dyn FnMut(&EntryRef<'_>) -> bool) -> Result<(), StoreError>;

    /// Every stored version of `id`, oldest first.
    fn versions(&self, id: &str) -> Result<Vec<Entry>, StoreError>;

    /// Every submission of every version of `id` (owners and further submitters, with
    /// whether each chose to be named), oldest first. Callers show only the submissions of
    /// versions the viewer may see.
    fn provenance(&self, id: &str) -> Result<Vec<Provenance>, StoreError>;

    /// The newest version of every object of `types` (or of the objects `ids`, when given),
    /// across all collections, for an index that must apply the policy itself: the entry's
    /// `tlp` is the most restrictive of its collections', and `staff_only` tells whether
    /// every collection holding it is readable by ISAC staff only. Revoked versions are
    /// included (the index drops them).
    fn scan_latest(
        &self,
        types: &[&str],
        ids: Option<&[String]>,
        visit: &mut dyn FnMut(&EntryRef<'_>, bool) -> bool,
    ) -> Result<(), StoreError>;

    /// [`Self::scan_latest`] over everything, split into `parts` ranges read at the same time
    /// (on the store's read connections), reading only what an index needs of each version;
    /// `visit` gets the part number. The default reads one part.
    fn scan_latest_parallel(
        &self,
        types: &[&str],
        parts: usize,
        visit: &(dyn Fn(usize, &LatestRef<'_>, bool) -> bool + Sync),
    ) -> Result<(), StoreError> {
        let _ = parts;
        self.scan_latest(types, None, &mut |e, staff| visit(0, &e.latest(), staff))
    }

    /// Number of stored object versions and of distinct objects.
    fn counts(&self) -> Result<(u64, u64), StoreError>;

    /// About how many distinct objects are stored, cheaply (no pass over every row): an
    /// upper bound that is close unless many versions were deleted (0 when unknown). For
    /// sizing what a full scan will fill.
    fn objects_estimate(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Removes the matching versions of `id` from `collection` (every version when
    /// `versions` is empty or holds `All`); returns how many memberships were removed.
    /// Versions left in no collection are deleted.
    fn delete(&self, collection: CollectionId, id: &str, versions: &[Versions]) -> Result<usize, StoreError>;

    /// Withdraws the versions `vids` of `id` from `collection` on behalf of `by` (`None`: ISAC
    /// staff, who may remove anything). An organization removes only what it owns: its own
    /// versions, and its own submission of another organization's version (its provenance
    /// and the sight it gave it); everything else is left as it is. Returns how many were
    /// withdrawn; which version the collection serves as latest is settled again.
    fn withdraw(
        &self,
        collection: CollectionId,
        id: &str,
        vids: &[i64],
        by: Option<OrgId>,
    ) -> Result<usize, StoreError>;

    /// Stores a TAXII status resource (JSON) under its id.
    fn put_status(&self, id: &str, org: OrgId, json: &str) -> Result<(), StoreError>;
    /// A status resource and the organization that owns it.
    fn status(&self, id: &str) -> Result<Option<(OrgId, String)>, StoreError>;
}

/// Organizations, their tokens and the installation's secrets.
pub trait Directory: Send + Sync {
    fn add_org(&self, name: &str) -> Result<Org, StoreError>;
    fn orgs(&self) -> Result<Vec<Org>, StoreError>;
    /// A random 32-byte secret of this installation, created on first use and never
    /// changed (e.g. `audit-hash`, the key of the identifier hashes in the audit log).
    fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError>;
    /// Commits a tiny write and reports whether the store can take writes (disk space,
    /// permissions, locks): for readiness checks and start-up.
    fn probe_write(&self) -> Result<(), StoreError>;
    fn org_by_name(&self, name: &str) -> Result<Org, StoreError>;
    fn isac(&self) -> Result<Org, StoreError>;

    fn create_token(
        &self,
        org: OrgId,
        role: Role,
        label: Option<&str>,
        expires: Option<i64>,
    ) -> Result<NewToken, StoreError>;
    fn revoke_token(&self, id: &str) -> Result<(), StoreError>;
    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;
    /// The live (unrevoked, unexpired at `now`) token with this secret.
    fn token_for_secret(&self, secret: &str, now: i64) -> Result<Option<TokenInfo>, StoreError>;
    /// A token by id, revoked or not.
    fn token(&self, id: &str) -> Result<Option<TokenInfo>, StoreError>;
}

/// The append-only log of writes to objects, which feeds, the screening index, the sharing
/// loop and federation follow.
pub trait ChangeLog: Send + Sync {
    /// Returns once the log may hold entries after `after`, or after `timeout`: what a
    /// follower waits on between catch-ups. This default reads the log's end every 20 ms;
    /// PostgreSQL is told of every commit (LISTEN/NOTIFY) and polls only as a fallback.
    fn wait_for_change(&self, after: i64, timeout: std::time::Duration) -> Result<(), StoreError> {
        let deadline = std::time::Instant::now() + timeout;
        while self.last_change()? <= after {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(std::time::Duration::from_millis(20)));
        }
        Ok(())
    }

    /// The sequence number of the newest change-log entry (0 when empty).
    fn last_change(&self) -> Result<i64, StoreError>;

    /// Change-log entries after `seq`, oldest first, at most `limit`: for followers such as
    /// the screening index.
    fn changes_since(&self, seq: i64, limit: usize) -> Result<Vec<Change>, StoreError>;
}

/// The append-only audit log: rows are added, never changed or removed.
pub trait AuditLog: Send + Sync {
    /// Appends to the audit log.
    fn audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.audit_many(std::slice::from_ref(record))
    }
    /// Appends several records in one durable transaction (group commit).
    fn audit_many(&self, records: &[AuditRecord]) -> Result<(), StoreError>;
    /// Reads the audit log, newest first.
    fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
}

/// People who sign in to the web interface, and signed-in web sessions.
pub trait Accounts: Send + Sync {
    /// Stores (or replaces) a web session.
    fn save_session(&self, session: &WebSession) -> Result<(), StoreError>;
    fn session(&self, key: &[u8; 32]) -> Result<Option<WebSession>, StoreError>;
    /// Records the session's last use.
    fn touch_session(&self, key: &[u8; 32], last: i64) -> Result<(), StoreError>;
    fn delete_session(&self, key: &[u8; 32]) -> Result<(), StoreError>;
    /// Deletes every session of `principal` but `keep`; returns how many.
    fn delete_sessions_of(&self, principal: &str, keep: Option<&[u8; 32]>) -> Result<usize, StoreError>;
    /// Deletes sessions last used before `idle_before` or started before `started_before`.
    fn prune_sessions(&self, idle_before: i64, started_before: i64) -> Result<usize, StoreError>;

    /// Adds a web user; `password_hash` is a PHC string made by the caller.
    fn add_user(&self, org: OrgId, name: &str, role: Role, password_hash: &str) -> Result<User, StoreError>;
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// By user id or (case-insensitive) name, disabled or not.
    fn user(&self, key: &str) -> Result<Option<User>, StoreError>;
    fn disable_user(&self, id: &str) -> Result<(), StoreError>;
    /// Lets a disabled user sign in again.
    fn enable_user(&self, id: &str) -> Result<(), StoreError>;
    /// Replaces a user's password; `password_hash` is a PHC string made by the caller.
    fn set_password(&self, id: &str, password_hash: &str) -> Result<(), StoreError>;
}

/// Collections and who may read and write them.
pub trait Collections: Send + Sync {
    fn add_collection(
        &self,
        title: &str,
        alias: Option<&str>,
        description: Option<&str>,
        default_tlp: Tlp,
    ) -> Result<Collection, StoreError>;
    /// Sets who may read and write a collection.
    fn set_collection_access(&self, id: CollectionId, read: Access, write: Access) -> Result<(), StoreError>;
    fn collections(&self) -> Result<Vec<Collection>, StoreError>;
    /// By numeric id, UUID or alias.
    fn collection(&self, key: &str) -> Result<Collection, StoreError>;
    /// The collection imports go to when none is named.
    fn default_collection(&self) -> Result<Collection, StoreError>;
}
