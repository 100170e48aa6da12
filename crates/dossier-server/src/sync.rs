//! TAXII 2.1 federation: pull from and push to other TAXII servers (another ISAC's dossier,
//! a vendor feed, OpenCTI, medallion …).
//!
//! **Pull.** Per remote collection a durable cursor: the `X-TAXII-Date-Added-Last` of the
//! last page stored. A run asks for what was added after it (all versions), follows `next`
//! while the server says there is `more`, stores each page in one transaction and only then
//! moves the cursor. A crash (even `kill -9`) between storing a page and moving the cursor
//! repeats that page on the next run, which changes nothing: a version already stored is
//! `unchanged`, never a duplicate. The cursor is asked for one microsecond early (the last
//! object stored comes again, unchanged), so that a server that gives several objects the
//! same date added (medallion gives one envelope's objects one) cannot hide the rest of such
//! a group behind a page boundary. Pulled objects keep their JSON and their markings (unmarked ones
//! take the local collection's default TLP) and are attributed to the peer's organization
//! (kind `peer`). An object that is invalid, names one of this ISAC's member organizations
//! as its creator (a peer cannot speak for a member), or is another organization's object
//! here, is skipped and counted; the rest of the page is stored. (An ISAC's identity may
//! be the same on every installation of that name — another dossier shows its ISAC's
//! identity for anonymous members — so naming it is allowed: the object is the peer's.)
//!
//! **Push.** A follower of the local change log, cursor per remote collection. What may
//! leave: CLEAR and GREEN; AMBER only to a peer inside the sharing agreement (`agreement`);
//! AMBER+STRICT and RED never. Never: an object the peer itself sent (no loops), objects
//! pulled from other peers (unless `forward`), TLP marking and extension definitions,
//! member organizations' identities, collections readable only by ISAC analysts. The
//! `created_by_ref` of a submitter who chose not to be named is left out (inside, the ISAC's
//! identity stands in; outside, that identity means nothing and may be another
//! installation's), and so is this ISAC's own. Withdrawals are not propagated (TAXII has no portable way to say so);
//! revocations are (they are new versions). An envelope the peer refuses is split until the
//! refused objects are found; they are skipped and counted.
//!
//! **Retries.** A failed connection, a 5xx or a 429 is tried again after 0.5 s, 1 s, 2 s …
//! (at most 30 s, or the server's `Retry-After`), `retries` times; then the run stops with
//! the error recorded, and the next run starts from the cursor.
//!
//! Credentials (Bearer token, or Basic user and password) go in the `Authorization` header
//! only; they are never logged, stored or printed (`Debug` shows them redacted).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use dossier_stix::timestamp::{Timestamp, now_micros};
use dossier_stix::{OrgId, Role, StixObject, Tlp, Viewer, policy};
use dossier_store::{
    Access, ChangeOp, Collection, Org, Query as StoreQuery, StoreError, Submission, SyncState, Versions,
};
use hyper::{Method, StatusCode};
use serde_json::Value;

use crate::Store;
use crate::outbound::{Answer, Call, call};

const TAXII: &str = "application/taxii+json;version=2.1";
/// The largest page answer read (a TAXII server's page of 10,000 objects fits).
const MAX_ANSWER: usize = 256 * 1024 * 1024;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest envelope pushed, whatever the peer allows.
const MAX_ENVELOPE: usize = 10 * 1024 * 1024;

/// How to authenticate to a peer.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    #[default]
    None,
    Bearer(String),
    Basic {
        user: String,
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("none"),
            Auth::Bearer(_) => f.write_str("bearer(redacted)"),
            Auth::Basic { user, .. } => write!(f, "basic({user}, redacted)"),
        }
    }
}

impl Auth {
    fn header(&self) -> Option<String> {
        use base64::Engine;
        match self {
            Auth::None => None,
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
            Auth::Basic { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
        }
    }
}

/// One peer: another TAXII 2.1 server.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The peer's name here: also the name of the organization its objects are attributed
    /// to (made, of kind `peer`, on first use).
    pub name: String,
    /// The peer's API root, e.g. `https://taxii.example.org/taxii2/api/`.
    pub url: String,
    /// Remote collection ids (none: every collection the credentials may read, for a pull,
    /// or write, for a push).
    pub collections: Vec<String>,
    /// Local collection (id, UUID or alias) pulled objects go to; made when missing.
    /// Default: `peer-NAME`.
    pub into: Option<String>,
    /// TLP of pulled objects that carry no marking, when `into` is made. Default AMBER.
    pub tlp: Tlp,
    pub pull: bool,
    pub push: bool,
    /// Inside the ISAC's sharing agreement: AMBER may be pushed to it.
    pub agreement: bool,
    /// Objects pulled from other peers may be pushed to this one.
    pub forward: bool,
    /// Local collections pushed from (none: every collection members may read).
    pub push_from: Vec<String>,
    pub auth: Auth,
    /// Objects per page asked for, and per pushed envelope.
    pub page: usize,
    /// Retries of a failed request.
    pub retries: u32,
    /// Time between runs when served.
    pub interval: Duration,
    /// Refuse hosts on loopback, private and link-local networks.
    pub public_only: bool,
}

impl Peer {
    /// A peer with the defaults: pull only, AMBER for unmarked objects, pages of 1,000, 5
    /// retries, every 5 minutes.
    pub fn new(name: &str, url: &str) -> Self {
        Self {
            name: name.trim().to_owned(),
            url: url.trim().to_owned(),
            collections: Vec::new(),
            into: None,
            tlp: Tlp::Amber,
            pull: true,
            push: false,
            agreement: false,
            forward: false,
            push_from: Vec::new(),
            auth: Auth::None,
            page: 1000,
            retries: 5,
            interval: Duration::from_secs(300),
            public_only: false,
        }
    }

    /// The API root URL ending in `/`.
    fn root(&self) -> String {
        if self.url.ends_with('/') { self.url.clone() } else { format!("{}/", self.url) }
    }

    /// Checks what a configuration gave.
    pub fn check(&self) -> Result<(), SyncError> {
        let bad = |why: String| Err(SyncError::Config(format!("peer {:?}: {why}", self.name)));
        if self.name.is_empty() || self.name.len() > 100 || self.name.chars().any(|c| c.is_control() || c == ':') {
            return bad("a name of 1-100 printable characters without ':'".into());
        }
        if let Err(e) = crate::outbound::target(&self.url) {
            return bad(format!("url {:?}: {e}", self.url));
        }
        if !self.pull && !self.push {
            return bad("neither pull nor push".into());
        }
        if self.page == 0 || self.page > 10_000 {
            return bad("page must be 1-10000".into());
        }
        Ok(())
    }
}

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Config(String),
    #[error("{url}: {reason}")]
    Remote { url: String, reason: String },
    #[error("local store: {0}")]
    Store(#[from] StoreError),
}

/// What one pull or push of one remote collection did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub peer: String,
    pub collection: String,
    pub direction: &'static str,
    /// Pages read (pull) or envelopes accepted (push).
    pub requests: u64,
    /// Objects received (pull) or sent (push).
    pub objects: u64,
    /// Of those pulled: new, newer versions, older versions kept as history, already held.
    pub added: u64,
    pub updated: u64,
    pub history: u64,
    pub unchanged: u64,
    /// Objects skipped (invalid, refused) with the first few reasons (ids only).
    pub skipped: u64,
    pub reasons: Vec<String>,
}

impl Report {
    fn skip(&mut self, reason: String) {
        self.skipped += 1;
        self.reason(reason);
    }

    /// Keeps the first few reasons.
    fn reason(&mut self, reason: String) {
        if self.reasons.len() < 20 {
            self.reasons.push(reason);
        }
    }
}

async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SyncError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| SyncError::Config(format!("a blocking task failed: {e}")))?
        .map_err(SyncError::Store)
}

/// A request with retries on failures that may pass (no connection, 5xx, 429).
async fn request(peer: &Peer, method: Method, url: &str, body: Option<Bytes>) -> Result<Answer, SyncError> {
    let mut headers = vec![("accept", TAXII.to_owned())];
    if body.is_some() {
        headers.push(("content-type", TAXII.to_owned()));
    }
    if let Some(a) = peer.auth.header() {
        headers.push(("authorization", a));
    }
    let mut wait = Duration::from_millis(500);
    let mut attempt = 0;
    loop {
        let answer = tokio::time::timeout(
            REQUEST_TIMEOUT,
            call(Call {
                method: method.clone(),
                url,
                headers: &headers,
                body: body.clone().unwrap_or_default(),
                public_only: peer.public_only,
                max_answer: MAX_ANSWER,
                user_agent: "dossier-sync",
            }),
        )
        .await
        .unwrap_or_else(|_| {
            Err(crate::outbound::CallError {
                transient: true,
                message: format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
            })
        });
        let retry_after = match &answer {
            Ok(a) if a.status.is_server_error() || a.status == StatusCode::TOO_MANY_REQUESTS => a
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(300)))
                .or(Some(wait)),
            Ok(_) => None,
            Err(e) if e.transient => Some(wait),
            Err(_) => None,
        };
        match (answer, retry_after) {
            (Ok(a), None) => return Ok(a),
            (answer, Some(pause)) if attempt < peer.retries => {
                let why = match &answer {
                    Ok(a) => a.status.to_string(),
                    Err(e) => e.message.clone(),
                };
                tracing::warn!(peer = %peer.name, %url, attempt = attempt + 1, error = %why, "sync request failed; retrying");
                tokio::time::sleep(pause).await;
                attempt += 1;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
            (Ok(a), Some(_)) => return Err(remote(url, &a)),
            (Err(e), _) => return Err(SyncError::Remote { url: url.to_owned(), reason: e.message }),
        }
    }
}

/// The answer's status and (the start of) its description.
fn reason(a: &Answer) -> String {
    let description = serde_json::from_slice::<Value>(&a.body)
        .ok()
        .and_then(|v| v["title"].as_str().or(v["description"].as_str()).map(str::to_owned))
        .unwrap_or_default();
    let description: String = description.chars().take(300).collect();
    format!("answered {} {description}", a.status).trim_end().to_owned()
}

/// An error naming the answer's status and (the start of) its description.
fn remote(url: &str, a: &Answer) -> SyncError {
    SyncError::Remote { url: url.to_owned(), reason: reason(a) }
}

fn json_of(url: &str, a: &Answer) -> Result<Value, SyncError> {
    if !a.status.is_success() {
        return Err(remote(url, a));
    }
    serde_json::from_slice(&a.body)
        .map_err(|e| SyncError::Remote { url: url.to_owned(), reason: format!("the answer is not JSON: {e}") })
}

/// The remote collections to use: those configured, else every one the credentials may
/// read (pull) or write (push).
async fn remote_collections(peer: &Peer, write: bool) -> Result<Vec<String>, SyncError> {
    if !peer.collections.is_empty() {
        return Ok(peer.collections.clone());
    }
    let url = format!("{}collections/", peer.root());
    let v = json_of(&url, &request(peer, Method::GET, &url, None).await?)?;
    let key = if write { "can_write" } else { "can_read" };
    Ok(v["collections"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| c[key].as_bool() == Some(true))
                .filter_map(|c| c["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// `PEER:COLLECTION` state names never hold a second `:` from the peer's name (refused by
/// [`Peer::check`]); a collection id may hold anything.
fn state_name(direction: &str, peer: &Peer, collection: &str) -> String {
    format!("{direction}:{}:{collection}", peer.name)
}

/// The local collection pulled objects go to, made (readable by members, written by sync
/// only) when missing.
fn local_collection(store: &dyn Store, peer: &Peer) -> Result<Collection, StoreError> {
    let alias = peer.into.clone().unwrap_or_else(|| format!("peer-{}", peer.name.to_lowercase().replace(' ', "-")));
    match store.collection(&alias) {
        Ok(c) => Ok(c),
        Err(StoreError::NotFound(_)) => {
            let c = store.add_collection(
                &format!("From peer {}", peer.name),
                Some(&alias),
                Some(&format!("Objects pulled from the TAXII server {}", peer.url)),
                peer.tlp,
            )?;
            store.set_collection_access(c.id, Access::Members, Access::Nobody)?;
            store.collection(&alias)
        }
        Err(e) => Err(e),
    }
}

/// Runs what the peer is configured for: a pull of each collection, then a push to each.
pub async fn run(store: &Arc<dyn Store>, peer: &Peer) -> Result<Vec<Report>, SyncError> {
    peer.check()?;
    let mut reports = Vec::new();
    if peer.pull {
        for c in remote_collections(peer, false).await? {
            reports.push(recorded(store, state_name("pull", peer, &c), pull(store, peer, &c)).await?);
        }
    }
    if peer.push {
        for c in remote_collections(peer, true).await? {
            reports.push(recorded(store, state_name("push", peer, &c), push(store, peer, &c)).await?);
        }
    }
    Ok(reports)
}

/// Records the run's outcome (time, error) in its state, keeping the cursor it saved.
async fn recorded(
    store: &Arc<dyn Store>,
    name: String,
    work: impl std::future::Future<Output = Result<Report, SyncError>>,
) -> Result<Report, SyncError> {
    let started = now_micros();
    let result = work.await;
    let error = result.as_ref().err().map(ToString::to_string);
    blocking(store, move |s| {
        let mut state = s.sync_state(&name)?.unwrap_or(SyncState { name: name.clone(), ..Default::default() });
        state.last_run = Some(started);
        if error.is_none() {
            state.last_ok = Some(started);
        }
        state.last_error = error;
        s.save_sync_state(&state)
    })
    .await?;
    result
}

/// Pulls one remote collection (see the module's documentation).
pub async fn pull(store: &Arc<dyn Store>, peer: &Peer, collection: &str) -> Result<Report, SyncError> {
    let name = state_name("pull", peer, collection);
    let (org, local, state) = {
        let (peer2, name2) = (peer.clone(), name.clone());
        blocking(store, move |s| {
            let org = s.peer_org(&peer2.name)?;
            let local = local_collection(s, &peer2)?;
            let state = s.sync_state(&name2)?.unwrap_or(SyncState { name: name2, ..Default::default() });
            Ok((org, local, state))
        })
        .await?
    };
    let mut state = state;
    let mut report =
        Report { peer: peer.name.clone(), collection: collection.to_owned(), direction: "pull", ..Default::default() };
    let base = format!("{}collections/{}/objects/", peer.root(), crate::urlencode(collection));
    let since = state
        .cursor
        .as_deref()
        .and_then(|c| Timestamp::parse(c).ok())
        .map(|t| Timestamp::from_unix_micros(t.unix_micros() - 1).as_str().to_owned());
    let url_of = |next: Option<&str>| {
        let mut url = format!("{base}?limit={}&match%5Bversion%5D=all", peer.page);
        if let Some(since) = &since {
            url.push_str(&format!("&added_after={}", crate::urlencode(since)));
        }
        if let Some(n) = next {
            url.push_str(&format!("&next={}", crate::urlencode(n)));
        }
        url
    };
    // The next page is fetched while the last one is stored: the network and the peer's
    // work overlap with this store's.
    let mut inflight = tokio::spawn(fetch_page(peer.clone(), url_of(None)));
    loop {
        let page = inflight.await.map_err(|e| SyncError::Config(format!("a fetch failed: {e}")))??;
        report.requests += 1;
        let following = match (page.more, &page.next) {
            (true, Some(n)) => Some(tokio::spawn(fetch_page(peer.clone(), url_of(Some(n))))),
            _ => None,
        };
        let (summary, skipped, count) = store_body(store, &org, &local, page.body).await?;
        report.objects += count as u64;
        report.added += summary.added;
        report.updated += summary.updated;
        report.history += summary.history;
        report.unchanged += summary.unchanged;
        let page_skipped = skipped.len() as u64;
        for reason in skipped {
            report.skip(reason);
        }
        if let Some(last) = page.last
            && Timestamp::parse(&last).is_ok()
        {
            state.cursor = Some(last);
        }
        state.objects = state.objects.saturating_add((count as u64).saturating_sub(page_skipped));
        state.skipped = state.skipped.saturating_add(page_skipped);
        let save = state.clone();
        blocking(store, move |s| s.save_sync_state(&save)).await?;
        match following {
            Some(f) => inflight = f,
            None => break,
        }
    }
    tracing::info!(peer = %peer.name, collection, objects = report.objects, added = report.added,
        updated = report.updated, skipped = report.skipped, "pulled");
    Ok(report)
}

/// One page as fetched: its body (parsed when stored), whether more follow, and the peer's
/// date added of its last object.
struct Page {
    body: Bytes,
    more: bool,
    next: Option<String>,
    last: Option<String>,
}

async fn fetch_page(peer: Peer, url: String) -> Result<Page, SyncError> {
    let answer = request(&peer, Method::GET, &url, None).await?;
    if !answer.status.is_success() {
        return Err(remote(&url, &answer));
    }
    let last = answer.headers.get("x-taxii-date-added-last").and_then(|v| v.to_str().ok()).map(str::to_owned);
    // Only what paging needs now; the objects are read when the page is stored.
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(default)]
        more: bool,
        next: Option<String>,
    }
    let head: Head = serde_json::from_slice(&answer.body).map_err(|e| SyncError::Remote {
        url: url.clone(),
        reason: format!("the answer is not a TAXII envelope: {e}"),
    })?;
    Ok(Page { body: answer.body, more: head.more, next: head.next, last })
}

/// Stores a page's objects as the peer, read from its body as they came; returns the
/// summary, why objects were skipped, and how many objects the page held.
async fn store_body(
    store: &Arc<dyn Store>,
    org: &Org,
    local: &Collection,
    body: Bytes,
) -> Result<(dossier_store::ImportSummary, Vec<String>, usize), SyncError> {
    let (org, collection) = (org.id, local.id);
    blocking(store, move |s| {
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow, default)]
            objects: Vec<&'a serde_json::value::RawValue>,
        }
        let env: Envelope<'_> = serde_json::from_slice(&body)
            .map_err(|e| StoreError::Invalid(format!("a page is not a TAXII envelope: {e}")))?;
        let texts: Vec<&[u8]> = env.objects.iter().map(|o| o.get().as_bytes()).collect();
        let (summary, skipped) = store_objects(s, org, collection, &texts)?;
        Ok((summary, skipped, texts.len()))
    })
    .await
}

/// Stores objects (as JSON values) as the peer.
async fn store_page(
    store: &Arc<dyn Store>,
    org: &Org,
    local: &Collection,
    objects: Vec<Value>,
) -> Result<(dossier_store::ImportSummary, Vec<String>), SyncError> {
    let (org, collection) = (org.id, local.id);
    blocking(store, move |s| {
        let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
        let texts: Vec<&[u8]> = texts.iter().map(String::as_bytes).collect();
        store_objects(s, org, collection, &texts)
    })
    .await
}

/// Validates and stores objects as organization `org`: invalid ones, ones naming a member
/// as their creator, and ones the store refuses are skipped with why.
fn store_objects(
    s: &dyn Store,
    org: OrgId,
    collection: dossier_store::CollectionId,
    texts: &[&[u8]],
) -> Result<(dossier_store::ImportSummary, Vec<String>), StoreError> {
    let members: HashMap<String, String> =
        s.orgs()?.into_iter().filter(|o| !o.peer && !o.isac).map(|o| (o.identity_id, o.name)).collect();
    let mut skipped = Vec::new();
    let mut records = Vec::with_capacity(texts.len());
    for text in texts {
        match StixObject::parse(text) {
            Ok(o) => {
                if let Some(by) = o.created_by_ref()
                    && let Some(name) = members.get(by)
                {
                    skipped.push(format!("{}: names member organization {name:?} as its creator", o.id().as_str()));
                    continue;
                }
                records.push(o.into_record());
            }
            Err(errs) => {
                let id = serde_json::from_slice::<Value>(text)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "an object without id".into());
                let why = errs.first().map(|e| format!("{} {}", e.path, e.reason)).unwrap_or_default();
                skipped.push(format!("{id}: invalid ({why})"));
            }
        }
    }
    let sub = Submission { org, collection, named: true, curator: false };
    let (summary, refused) = dossier_store::import_leaving_out(s, &sub, &records)?;
    for (i, why) in refused {
        let id = records.get(i).map(|r| r.id.to_string()).unwrap_or_default();
        skipped.push(format!("{id}: {why}"));
    }
    Ok((summary, skipped))
}

/// Whether an object of TLP `tlp` may be pushed to `peer`.
pub fn may_push(peer: &Peer, tlp: Tlp) -> bool {
    policy::may_leave_isac(tlp) || (tlp == Tlp::Amber && peer.agreement)
}

/// Types never pushed: the peer has its own definitions.
const NEVER_PUSHED: [&str; 2] = ["marking-definition", "extension-definition"];

/// The objects of these change-log additions that may go to `peer`: (id, JSON as the peer
/// may see it), each object once, in change order.
fn pushable(
    store: &dyn Store,
    peer: &Peer,
    peer_org: &Org,
    from: &[Collection],
    ids: &[String],
    added: (i64, i64),
) -> Result<Vec<(String, String)>, StoreError> {
    let orgs = store.orgs()?;
    let isac = orgs.iter().find(|o| o.isac).map(|o| o.identity_id.clone()).unwrap_or_default();
    let peers: HashSet<OrgId> = orgs.iter().filter(|o| o.peer).map(|o| o.id).collect();
    let identities: HashSet<&str> = orgs.iter().filter(|o| !o.isac).map(|o| o.identity_id.as_str()).collect();
    let identity_of: HashMap<OrgId, &str> = orgs.iter().map(|o| (o.id, o.identity_id.as_str())).collect();
    let viewer = Viewer { org: peer_org.id, role: Role::Member, isac: false };
    let mut found: HashMap<String, String> = HashMap::new();
    let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut seen: HashSet<String> = HashSet::new();
    for c in from {
        // The changes' objects were added in this window: read it in date-added order (an
        // index range), not the collection by ids. What the window misses (an object added
        // to this collection at another time) is looked up by id below.
        let window = StoreQuery {
            collection: Some(c.id),
            added_after: Some(added.0 - 1),
            versions: vec![Versions::Latest],
            ..Default::default()
        };
        let mut in_window = Vec::new();
        store.scan_raw(&window, &mut |e| {
            if e.date_added > added.1 {
                return false;
            }
            if wanted.contains(e.id) {
                seen.insert(e.id.to_owned());
                in_window.push(e.to_entry());
            }
            true
        })?;
        let rest: Vec<String> = ids.iter().filter(|i| !seen.contains(*i)).cloned().collect();
        let by_id =
            StoreQuery { collection: Some(c.id), ids: rest, versions: vec![Versions::Latest], ..Default::default() };
        let mut more = Vec::new();
        if !by_id.ids.is_empty() {
            store.scan_raw(&by_id, &mut |e| {
                more.push(e.to_entry());
                true
            })?;
        }
        for e in in_window.into_iter().chain(more) {
            let refused = e.owner == peer_org.id
                || (peers.contains(&e.owner) && !peer.forward)
                || !may_push(peer, e.tlp)
                || NEVER_PUSHED.contains(&e.object_type.as_str())
                || (e.object_type == "identity" && identities.contains(e.id.as_str()))
                || found.contains_key(&e.id);
            if !refused {
                let hide = !policy::may_see_submitter(&viewer, e.owner, e.named);
                let hidden = identity_of.get(&e.owner).copied().filter(|_| hide);
                let json = without_creator(&e.json, &[hidden.unwrap_or(""), &isac]).into_owned();
                found.insert(e.id, json);
            }
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id).map(|json| (id.clone(), json))).collect())
}

/// The object without `created_by_ref` when it names one of `creators`: an anonymous
/// submitter, or this ISAC (whose identity another installation may share, and whose staff
/// speak for nobody outside). Other objects are sent as stored.
fn without_creator<'a>(json: &'a str, creators: &[&str]) -> std::borrow::Cow<'a, str> {
    let names =
        creators.iter().filter(|c| !c.is_empty()).any(|c| json.contains(&format!("\"created_by_ref\":\"{c}\"")));
    if !names {
        return std::borrow::Cow::Borrowed(json);
    }
    match serde_json::from_str::<serde_json::Map<String, Value>>(json) {
        Ok(mut object) => {
            object.remove("created_by_ref");
            std::borrow::Cow::Owned(Value::Object(object).to_string())
        }
        Err(_) => std::borrow::Cow::Borrowed(json),
    }
}

/// The local collections a push reads: those configured, else every one members may read.
fn push_sources(store: &dyn Store, peer: &Peer) -> Result<Vec<Collection>, StoreError> {
    if peer.push_from.is_empty() {
        return Ok(store.collections()?.into_iter().filter(|c| c.read == Access::Members).collect());
    }
    let mut out = Vec::new();
    for key in &peer.push_from {
        let c = store.collection(key)?;
        if c.read != Access::Members {
            return Err(StoreError::Invalid(format!(
                "collection {key:?} is readable by analysts only: it is never pushed"
            )));
        }
        out.push(c);
    }
    Ok(out)
}

/// The most bytes one envelope may have at this peer (its API root's `max_content_length`).
async fn envelope_limit(peer: &Peer) -> Result<usize, SyncError> {
    let url = peer.root();
    let v = json_of(&url, &request(peer, Method::GET, &url, None).await?)?;
    Ok(v["max_content_length"].as_u64().map_or(MAX_ENVELOPE, |n| (n as usize).min(MAX_ENVELOPE)).max(4096))
}

/// Pushes the change log to one remote collection (see the module's documentation).
pub async fn push(store: &Arc<dyn Store>, peer: &Peer, collection: &str) -> Result<Report, SyncError> {
    let name = state_name("push", peer, collection);
    let (org, from, state) = {
        let (peer2, name2) = (peer.clone(), name.clone());
        blocking(store, move |s| {
            let org = s.peer_org(&peer2.name)?;
            let from = push_sources(s, &peer2)?;
            let state = s.sync_state(&name2)?.unwrap_or(SyncState { name: name2, ..Default::default() });
            Ok((org, from, state))
        })
        .await?
    };
    let mut state = state;
    let mut report =
        Report { peer: peer.name.clone(), collection: collection.to_owned(), direction: "push", ..Default::default() };
    let limit = envelope_limit(peer).await?;
    let url = format!("{}collections/{}/objects/", peer.root(), crate::urlencode(collection));
    let mut seq: i64 = state.cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
    loop {
        let (changes, objects) = {
            let (peer2, org2, from2) = (peer.clone(), org.clone(), from.clone());
            blocking(store, move |s| {
                // About one envelope per batch: the cursor moves after each.
                let changes = s.changes_since(seq, peer2.page)?;
                let mut ids: Vec<String> = Vec::new();
                let mut seen = HashSet::new();
                for c in &changes {
                    if c.op == ChangeOp::Add
                        && let Some(id) = &c.id
                        && seen.insert(id.clone())
                    {
                        ids.push(id.clone());
                    }
                }
                let added = changes
                    .iter()
                    .filter(|c| c.op == ChangeOp::Add)
                    .fold((i64::MAX, i64::MIN), |(lo, hi), c| (lo.min(c.at), hi.max(c.at)));
                let objects =
                    if ids.is_empty() { Vec::new() } else { pushable(s, &peer2, &org2, &from2, &ids, added)? };
                Ok((changes, objects))
            })
            .await?
        };
        let Some(last) = changes.last().map(|c| c.seq) else { break };
        let mut sent = 0u64;
        let mut skipped = 0u64;
        for envelope in envelopes(&objects, peer.page, limit) {
            let (ok, refused) = send_envelope(peer, &url, envelope, &mut report).await?;
            sent += ok;
            skipped += refused;
        }
        seq = last;
        state.cursor = Some(seq.to_string());
        state.objects = state.objects.saturating_add(sent);
        state.skipped = state.skipped.saturating_add(skipped);
        report.objects += sent;
        let save = state.clone();
        blocking(store, move |s| s.save_sync_state(&save)).await?;
    }
    tracing::info!(peer = %peer.name, collection, objects = report.objects, skipped = report.skipped, "pushed");
    Ok(report)
}

/// Splits objects into envelopes of at most `count` objects and `bytes` bytes.
fn envelopes(objects: &[(String, String)], count: usize, bytes: usize) -> Vec<&[(String, String)]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = 16;
    for (i, (_, json)) in objects.iter().enumerate() {
        if i > start && (i - start >= count || size + json.len() + 1 > bytes) {
            out.push(&objects[start..i]);
            start = i;
            size = 16;
        }
        size += json.len() + 1;
    }
    if start < objects.len() {
        out.push(&objects[start..]);
    }
    out
}

fn envelope_body(objects: &[(String, String)]) -> Bytes {
    let mut body = String::with_capacity(objects.iter().map(|(_, j)| j.len() + 1).sum::<usize>() + 16);
    body.push_str("{\"objects\":[");
    for (i, (_, json)) in objects.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(json);
    }
    body.push_str("]}");
    Bytes::from(body)
}

/// Sends one envelope; an envelope the peer refuses as a whole (400, 413, 422) is split in
/// halves until each refused object is alone, and skipped. Returns (sent, skipped).
async fn send_envelope(
    peer: &Peer,
    url: &str,
    objects: &[(String, String)],
    report: &mut Report,
) -> Result<(u64, u64), SyncError> {
    let mut pending: Vec<&[(String, String)]> = vec![objects];
    let (mut sent, mut skipped) = (0u64, 0u64);
    while let Some(part) = pending.pop() {
        if part.is_empty() {
            continue;
        }
        let answer = request(peer, Method::POST, url, Some(envelope_body(part))).await?;
        match answer.status {
            s if s.is_success() => {
                report.requests += 1;
                let status: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                // Counted from `failure_count` (a peer may list fewer failures than it had);
                // the reasons shown are those it lists.
                let failures = status["failure_count"].as_u64().unwrap_or(0).min(part.len() as u64);
                report.skipped += failures;
                for f in status["failures"].as_array().into_iter().flatten() {
                    report.reason(format!(
                        "{}: refused by the peer ({})",
                        f["id"].as_str().unwrap_or("?"),
                        f["message"].as_str().unwrap_or("no reason given")
                    ));
                }
                sent += part.len() as u64 - failures;
                skipped += failures;
            }
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNPROCESSABLE_ENTITY => {
                if part.len() == 1 {
                    report.skip(format!("{}: refused by the peer ({})", part[0].0, reason(&answer)));
                    skipped += 1;
                } else {
                    let (a, b) = part.split_at(part.len() / 2);
                    pending.push(b);
                    pending.push(a);
                }
            }
            _ => return Err(remote(url, &answer)),
        }
    }
    Ok((sent, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_be_pushed_follows_tlp_and_the_agreement() {
        let mut peer = Peer::new("p", "http://x/taxii2/api/");
        assert!(may_push(&peer, Tlp::Clear) && may_push(&peer, Tlp::Green));
        assert!(!may_push(&peer, Tlp::Amber));
        peer.agreement = true;
        assert!(may_push(&peer, Tlp::Amber));
        assert!(!may_push(&peer, Tlp::AmberStrict) && !may_push(&peer, Tlp::Red));
    }

    #[test]
    fn envelopes_respect_count_and_bytes() {
        let objects: Vec<(String, String)> = (0..10)
            .map(|i| (format!("x--{i}"), format!("{{\"id\":\"x--{i}\",\"pad\":\"{}\"}}", "x".repeat(78))))
            .collect();
        assert!(objects.iter().all(|(_, j)| j.len() == 100));
        assert_eq!(envelopes(&objects, 3, 1 << 20).iter().map(|e| e.len()).collect::<Vec<_>>(), [3, 3, 3, 1]);
        assert_eq!(envelopes(&objects, 100, 350).iter().map(|e| e.len()).collect::<Vec<_>>(), [3, 3, 3, 1]);
        // An object larger than the limit still goes alone (the peer decides).
        assert_eq!(envelopes(&objects[..2], 100, 10).len(), 2);
        let body = envelope_body(&objects[..2]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["objects"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn an_anonymous_or_isac_creator_is_left_out() {
        let json = r#"{"type":"x","id":"x--1","created_by_ref":"identity--a","name":"n"}"#;
        let out = without_creator(json, &["identity--a", "identity--isac"]);
        assert!(!out.contains("created_by_ref") && out.contains("\"name\":\"n\""));
        assert_eq!(without_creator(json, &["", "identity--isac"]), json);
    }

    #[test]
    fn api_roots_resolve_against_the_discovery_url() {
        let d = "https://isac.example:8443/taxii2/";
        assert_eq!(origin(d), "https://isac.example:8443");
        assert_eq!(resolve_root(d, "/taxii2/api/"), "https://isac.example:8443/taxii2/api/");
        assert_eq!(resolve_root(d, "api"), "https://isac.example:8443/taxii2/api/");
        assert_eq!(resolve_root(d, "https://other.example/root"), "https://other.example/root/");
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let a = Auth::Bearer("s3cret".into());
        assert!(!format!("{a:?}").contains("s3cret"));
        let b = Auth::Basic { user: "u".into(), password: "pw-s3cret".into() };
        assert!(!format!("{b:?}").contains("s3cret"));
        assert_eq!(b.header().unwrap(), "Basic dTpwdy1zM2NyZXQ=");
    }
}

/// A member's mirror: a local replica of exactly what one member may see on a dossier (or
/// any TAXII 2.1 server), for screening locally so that applicant data never leaves the
/// member.
#[derive(Debug, Clone)]
pub struct Mirror {
    /// The server: its address (`https://isac.example.org`), its discovery URL (`…/taxii2/`)
    /// or an API root (`…/taxii2/api/`).
    pub url: String,
    pub auth: Auth,
    /// The name the mirror reports itself under (e.g. this host's name).
    pub name: String,
    pub page: usize,
    pub retries: u32,
}

/// What one mirror run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MirrorRun {
    pub collections: u64,
    /// Objects received by the incremental pulls.
    pub pulled: u64,
    /// Versions fetched because the manifest listed them and the mirror lacked them
    /// (access granted to older objects, and the like).
    pub fetched: u64,
    /// Versions removed because the member may no longer see them (withdrawn, made RED,
    /// collection closed).
    pub removed: u64,
    /// Object versions held after the run.
    pub objects: u64,
    /// Whether the server took the freshness report (a server that is not a dossier does not).
    pub reported: bool,
}

/// The organization mirrored objects are attributed to in the mirror's store.
pub const MIRROR_SOURCE: &str = "mirror-source";
/// Local collections of a mirror have this alias prefix, then the remote collection's id.
pub const MIRROR_PREFIX: &str = "mirror-";

/// The API root behind `url` (discovery's default, else its first).
async fn api_root(peer: &Peer) -> Result<String, SyncError> {
    let url = peer.url.trim_end_matches('/');
    let t = crate::outbound::target(url).map_err(|e| SyncError::Config(format!("{url:?}: {e}")))?;
    let discovery = if t.path == "/" {
        format!("{url}/taxii2/")
    } else if url.ends_with("/taxii2") {
        format!("{url}/")
    } else {
        return Ok(format!("{url}/"));
    };
    let v = json_of(&discovery, &request(peer, Method::GET, &discovery, None).await?)?;
    let root = v["default"]
        .as_str()
        .or_else(|| v["api_roots"].as_array()?.first()?.as_str())
        .ok_or_else(|| SyncError::Remote { url: discovery.clone(), reason: "discovery names no API root".into() })?;
    Ok(resolve_root(&discovery, root))
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split(['/', '?', '#']).next().unwrap_or("")),
        None => url.to_owned(),
    }
}

/// An API root as discovery names it — absolute, absolute-path, or relative to the discovery
/// URL — as a URL ending in `/`.
fn resolve_root(discovery: &str, root: &str) -> String {
    let url = if root.starts_with("http://") || root.starts_with("https://") {
        root.to_owned()
    } else if root.starts_with('/') {
        format!("{}{root}", origin(discovery))
    } else {
        format!("{}/{root}", discovery.trim_end_matches('/'))
    };
    if url.ends_with('/') { url } else { format!("{url}/") }
}

/// Versions by instant (microseconds); `None` for an object without `modified`/`created`.
fn instant(version: &str) -> Option<i64> {
    Timestamp::parse(version).ok().map(|t| t.unix_micros())
}

/// Every page of `url` (an objects or manifest endpoint with its query), following `next`.
async fn all_pages(peer: &Peer, url: &str, mut each: impl FnMut(Vec<Value>)) -> Result<(), SyncError> {
    let mut next: Option<String> = None;
    loop {
        let mut u = url.to_owned();
        if let Some(n) = &next {
            u.push_str(&format!("&next={}", crate::urlencode(n)));
        }
        let v = json_of(&u, &request(peer, Method::GET, &u, None).await?)?;
        each(v["objects"].as_array().cloned().unwrap_or_default());
        next = v["next"].as_str().map(str::to_owned);
        if v["more"].as_bool() != Some(true) || next.is_none() {
            return Ok(());
        }
    }
}

/// Brings the local collection in line with the remote manifest: fetches versions it lacks,
/// removes versions the member may no longer see.
async fn reconcile(
    store: &Arc<dyn Store>,
    peer: &Peer,
    remote_collection: &str,
    run: &mut MirrorRun,
) -> Result<(), SyncError> {
    let base = format!("{}collections/{}/", peer.root(), crate::urlencode(remote_collection));
    // The remote: id → versions (instants; versionless objects count as one each).
    let mut remote: HashMap<String, Vec<Option<i64>>> = HashMap::new();
    all_pages(peer, &format!("{base}manifest/?limit={}&match%5Bversion%5D=all", peer.page), |objects| {
        for m in objects {
            if let Some(id) = m["id"].as_str() {
                remote.entry(id.to_owned()).or_default().push(m["version"].as_str().and_then(instant));
            }
        }
    })
    .await?;
    let (org, local) = {
        let peer2 = peer.clone();
        blocking(store, move |s| Ok((s.peer_org(&peer2.name)?, local_collection(s, &peer2)?))).await?
    };
    // The mirror: id → (versions with their keys, versionless).
    let local_versions = {
        let cid = local.id;
        blocking(store, move |s| {
            let mut out: HashMap<String, (Vec<(i64, String)>, usize)> = HashMap::new();
            let query = StoreQuery { collection: Some(cid), versions: vec![Versions::All], ..Default::default() };
            s.scan_raw(&query, &mut |e| {
                let slot = out.entry(e.id.to_owned()).or_default();
                #[derive(serde::Deserialize)]
                struct Dates {
                    modified: Option<String>,
                    created: Option<String>,
                }
                let dated = serde_json::from_str::<Dates>(e.json)
                    .ok()
                    .and_then(|d| d.modified.or(d.created))
                    .and_then(|v| Timestamp::parse(&v).ok());
                match dated {
                    Some(t) => slot.0.push((t.unix_micros(), t.sort_key().to_owned())),
                    None => slot.1 += 1,
                }
                true
            })?;
            Ok(out)
        })
        .await?
    };
    let mut fetch: Vec<String> = Vec::new();
    let mut remove: Vec<(String, Vec<Versions>)> = Vec::new();
    for (id, versions) in &remote {
        let Some((dated, versionless)) = local_versions.get(id) else {
            fetch.push(id.clone());
            continue;
        };
        let remote_dated: HashSet<i64> = versions.iter().flatten().copied().collect();
        let local_dated: HashSet<i64> = dated.iter().map(|(t, _)| *t).collect();
        if *versionless > 0 || versions.iter().any(Option::is_none) {
            // Versionless objects (a server lists their date added as their version): compare
            // counts. More here than there: something went; fewer: something came.
            let here = *versionless + dated.len();
            if here != versions.len() {
                if here > versions.len() {
                    remove.push((id.clone(), Vec::new()));
                }
                fetch.push(id.clone());
            }
            continue;
        }
        if remote_dated.iter().any(|v| !local_dated.contains(v)) {
            fetch.push(id.clone());
        }
        let extra: Vec<Versions> =
            dated.iter().filter(|(t, _)| !remote_dated.contains(t)).map(|(_, key)| Versions::At(key.clone())).collect();
        if !extra.is_empty() {
            remove.push((id.clone(), extra));
        }
    }
    for id in local_versions.keys() {
        if !remote.contains_key(id) {
            remove.push((id.clone(), Vec::new()));
        }
    }
    // Removals first (a whole id removed is fetched again just after, when listed).
    if !remove.is_empty() {
        let cid = local.id;
        run.removed += blocking(store, move |s| {
            let mut n = 0u64;
            for (id, versions) in &remove {
                n += s.delete(cid, id, versions)? as u64;
            }
            Ok(n)
        })
        .await?;
    }
    for chunk in fetch.chunks(50) {
        let ids = chunk.iter().map(|i| crate::urlencode(i)).collect::<Vec<_>>().join(",");
        let url = format!("{base}objects/?limit={}&match%5Bversion%5D=all&match%5Bid%5D={ids}", peer.page);
        let mut got = Vec::new();
        all_pages(peer, &url, |objects| got.extend(objects)).await?;
        run.fetched += got.len() as u64;
        if !got.is_empty() {
            store_page(store, &org, &local, got).await?;
        }
    }
    Ok(())
}

/// One mirror run: for each collection the member may read, an incremental pull, then a
/// reconciliation against the manifest; collections it may no longer read are emptied;
/// then the freshness report to the server.
pub async fn mirror(store: &Arc<dyn Store>, m: &Mirror) -> Result<MirrorRun, SyncError> {
    let started = now_micros();
    let mut peer = Peer::new(MIRROR_SOURCE, &m.url);
    peer.auth = m.auth.clone();
    peer.page = m.page;
    peer.retries = m.retries;
    // Unmarked objects are as restricted here as the most a member may see there says.
    peer.tlp = Tlp::Amber;
    peer.check()?;
    peer.url = api_root(&peer).await?;
    let collections = remote_collections(&peer, false).await?;
    let mut run = MirrorRun { collections: collections.len() as u64, ..Default::default() };
    for c in &collections {
        let mut one = peer.clone();
        one.into = Some(format!("{MIRROR_PREFIX}{c}"));
        let report = recorded(store, state_name("pull", &one, c), pull(store, &one, c)).await?;
        run.pulled += report.objects;
        reconcile(store, &one, c, &mut run).await?;
    }
    // Collections the member may no longer read.
    let keep: HashSet<String> = collections.iter().map(|c| format!("{MIRROR_PREFIX}{c}")).collect();
    let (removed, objects) = blocking(store, move |s| {
        let mut removed = 0u64;
        for c in s.collections()? {
            if c.alias.as_deref().is_some_and(|a| a.starts_with(MIRROR_PREFIX) && !keep.contains(a)) {
                let mut ids = Vec::new();
                let query = StoreQuery { collection: Some(c.id), ..Default::default() };
                s.scan_raw(&query, &mut |e| {
                    ids.push(e.id.to_owned());
                    true
                })?;
                for id in ids {
                    removed += s.delete(c.id, &id, &[])? as u64;
                }
            }
        }
        let mut objects = 0u64;
        for c in s.collections()? {
            if c.alias.as_deref().is_some_and(|a| a.starts_with(MIRROR_PREFIX)) {
                let query = StoreQuery { collection: Some(c.id), versions: vec![Versions::All], ..Default::default() };
                s.scan_raw(&query, &mut |_| {
                    objects += 1;
                    true
                })?;
            }
        }
        Ok((removed, objects))
    })
    .await?;
    run.removed += removed;
    run.objects = objects;
    // The freshness report (a dossier's API; another TAXII server answers 404: fine).
    let origin = origin(&peer.url);
    let body = serde_json::json!({"name": m.name, "synced_at": Timestamp::from_unix_micros(started).as_str(),
                                  "objects": run.objects});
    let url = format!("{origin}/api/v1/mirrors");
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(a) = peer.auth.header() {
        headers.push(("authorization", a));
    }
    let answer = call(Call {
        method: Method::POST,
        url: &url,
        headers: &headers,
        body: Bytes::from(body.to_string()),
        public_only: false,
        max_answer: 64 * 1024,
        user_agent: "dossier-mirror",
    })
    .await;
    run.reported = matches!(&answer, Ok(a) if a.status.is_success());
    if !run.reported {
        tracing::info!(%url, "the server took no freshness report (not a dossier, or an older one)");
    }
    Ok(run)
}
