//! # dossier-server
//!
//! The HTTP face of dossier: TAXII 2.1 under `/taxii2/`, with authentication, the TLP policy
//! applied to every read, and an audit record for every request. It knows the store only
//! through its traits ([`dossier_store::ObjectStore`], [`dossier_store::Directory`]) — no
//! SQL — and calls them on the blocking pool, since the embedded store is synchronous.
//!
//! [`app`] builds the router (tests drive it on a real listener on port 0); [`serve`] runs
//! it until the shutdown future resolves, letting in-flight requests finish.

mod api;
mod auth;
mod error;
pub mod jobs;
mod media;
mod monitor;
mod notify;
mod outbound;
mod persona;
pub mod quota;
pub mod review;
mod screen_api;
pub mod screening;
pub mod sync;
mod taxii;
mod web;
pub mod webhooks;

pub use outbound::fetch;
pub use web::{hash_password, password_problem, urlencode};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dossier_stix::Viewer;
use dossier_stix::timestamp::now_micros;
use dossier_store::{AuditRecord, Org};

pub use auth::Caller;
pub use error::ApiError;
pub use media::{STIX_21, TAXII_21};

/// Everything the server needs from storage: [`dossier_store::Store`], whichever backend.
pub use dossier_store::Store;

/// Server settings (see the README for the matching flags and environment variables).
#[derive(Clone, Debug)]
pub struct Config {
    /// Name of the single API root (`/taxii2/{api_root}/`).
    pub api_root: String,
    pub title: String,
    /// Largest request body, in bytes (TAXII `max_content_length`).
    pub max_content_length: usize,
    /// Page size when a client gives no `limit`, and the largest it may ask for.
    pub default_page: usize,
    pub max_page: usize,
    /// Failed authentications per address allowed within `auth_window`.
    pub auth_failures: u32,
    pub auth_window: Duration,
    /// Page reads served at once (match the store's read connections).
    pub concurrent_reads: usize,
    /// How long an authenticated token and the organization list are cached: a revoked
    /// token stops working within this time.
    pub cache_ttl: Duration,
    /// Longest time one request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// Whom a restricted screening hit tells the member to contact.
    pub screen_contact: String,
    /// Region for national phone numbers when an applicant's data gives none.
    pub default_region: Option<String>,
    /// The share of screened applicants expected to be operatives (the prior of every
    /// screening score; 0.001 unless set).
    pub operative_share: f64,
    /// Threads that screen one batch.
    pub screen_threads: usize,
    /// Where the screening index is snapshotted between runs (none: built at every start).
    pub index_snapshot: Option<std::path::PathBuf>,
    /// What one organization may write per minute (TAXII POST, the web form and uploads).
    pub write_quota: quota::WriteQuota,
    /// Screening batches running at once, per organization and in all.
    pub batch_limits: quota::BatchLimits,
    /// Open connections at most; further ones wait to be accepted.
    pub max_connections: usize,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client: behind
    /// them, sign-in throttling and the audit log use the address they forwarded for. From
    /// any other peer the header is ignored (anyone can send it).
    pub trusted_proxies: Vec<dossier_match::normalize::ip::Net>,
    /// Where screening jobs spool their uploads and results (none: jobs are refused).
    pub jobs_dir: Option<std::path::PathBuf>,
    /// How many jobs an organization keeps, how large one may be, how long results stay.
    pub job_limits: jobs::JobLimits,
    /// How long a connection may sit idle between requests (or take to send a request's
    /// headers) before the server closes it.
    pub idle_timeout: Duration,
    /// How long review-queue entries (and the suppressions judged on them) are kept.
    pub review_retention: Duration,
    /// Whether a review-queue entry keeps the applicant's `ref` as given (else only its
    /// keyed hash).
    pub review_keeps_ref: bool,
    /// Attempts of one webhook delivery before it is dead (8 unless set).
    pub webhook_attempts: u32,
    /// The wait before the second attempt; it doubles each time, at most an hour.
    pub webhook_backoff: Duration,
    /// Let webhooks call loopback, private and link-local addresses (off: a member could
    /// otherwise make the server call into its own network).
    pub webhook_allow_private: bool,
    /// The SMTP server notifications are e-mailed through (none: e-mail is off).
    pub smtp: Option<webhooks::Smtp>,
    /// How long a watched subject is kept (365 days unless set).
    pub watch_retention: Duration,
    /// Other TAXII servers pulled from and pushed to in the background, each every its
    /// `interval`.
    pub peers: Vec<sync::Peer>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            api_root: "api".into(),
            title: "dossier".into(),
            max_content_length: 10 * 1024 * 1024,
            default_page: 1000,
            max_page: 10_000,
            auth_failures: 20,
            auth_window: Duration::from_secs(60),
            concurrent_reads: 4,
            cache_ttl: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            screen_contact: "the ISAC analysts".into(),
            default_region: Some("US".into()),
            operative_share: 0.001,
            screen_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            index_snapshot: None,
            write_quota: quota::WriteQuota::default(),
            batch_limits: quota::BatchLimits::default(),
            max_connections: 1024,
            trusted_proxies: Vec::new(),
            jobs_dir: None,
            job_limits: jobs::JobLimits::default(),
            idle_timeout: Duration::from_secs(30),
            review_retention: review::DEFAULT_RETENTION,
            review_keeps_ref: true,
            webhook_attempts: 8,
            webhook_backoff: Duration::from_secs(5),
            webhook_allow_private: false,
            smtp: None,
            watch_retention: Duration::from_secs(365 * 86_400),
            peers: Vec::new(),
        }
    }
}

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub config: Config,
    pub isac: Org,
    pub throttle: auth::Throttle,
    pub quotas: quota::Quotas,
    pub batches: quota::Batches,
    /// Screening jobs: uploaded whole, screened in the background.
    pub jobs: jobs::Jobs,
    /// What this store's screening snapshots are tagged with.
    pub snapshot_tag: String,
    /// When (unix seconds) a request was last answered 507 (storage full): readiness
    /// reports the node not ready for a while after, even if a tiny probe still fits.
    pub last_full: std::sync::atomic::AtomicU64,
    /// The last readiness probe: when, and what it found.
    pub health: std::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    pub audit: AuditWriter,
    /// Admission for page reads: as many at once as the store has readers, the rest wait
    /// in arrival order (tokio's semaphore is fair), which keeps tail latency close to the
    /// median under load.
    pub read_slots: tokio::sync::Semaphore,
    /// Recently authenticated tokens by the SHA-256 of their secret, and the organization
    /// list, each kept for `config.cache_ttl` to spare two store look-ups per request.
    pub tokens: std::sync::Mutex<std::collections::HashMap<[u8; 32], (Instant, dossier_store::TokenInfo, Org)>>,
    pub orgs: std::sync::Mutex<Option<(Instant, Arc<Vec<Org>>)>>,
    /// The screening index, kept current from the change log.
    pub screener: Arc<screening::Screener>,
    /// Key of the identifier hashes in the audit log.
    pub audit_key: Vec<u8>,
    /// The ISAC's key for identity-document numbers: stored and screened as keyed hashes.
    pub id_document_key: Vec<u8>,
    /// Signed-in web sessions.
    pub sessions: web::Sessions,
    /// Object counts for the dashboard, refreshed at most once a minute (counting millions
    /// of rows takes a fraction of a second).
    pub counts: std::sync::Mutex<Option<(Instant, (u64, u64))>>,
    /// Each organization's latest TAXII request since the server started (time, status), for
    /// the dashboard's feed health: "is our TAXII client pulling?".
    pub taxii_seen: std::sync::Mutex<std::collections::HashMap<dossier_stix::OrgId, (i64, u16)>>,
    /// Each organization's ties judged false positives, cached.
    pub suppressions: review::SuppressionCache,
    /// Each organization's count of review entries not judged yet, cached.
    pub open_reviews: review::OrgCounts,
    /// Each organization's count of unread notifications, cached.
    pub unread: review::OrgCounts,
    /// Per (collection, organization): the ids whose latest version it may not see, as of a
    /// change-log position (paging every version of a collection needs them on each page).
    pub hidden_latest: taxii::HiddenCache,
}

type AuditReply = tokio::sync::oneshot::Sender<Result<(), (Option<dossier_store::StorageFailure>, String)>>;

/// Group commit for the audit log: one thread writes whatever records are waiting in one
/// durable transaction, and each request waits for its own record before it is answered.
/// Under load many requests share one fsync instead of queueing for one each.
pub(crate) struct AuditWriter {
    tx: std::sync::Mutex<std::sync::mpsc::Sender<(AuditRecord, AuditReply)>>,
}

impl AuditWriter {
    fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<(AuditRecord, AuditReply)>();
        std::thread::Builder::new()
            .name("dossier-audit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < 1024 {
                        match rx.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    let records: Vec<AuditRecord> = batch.iter().map(|(r, _)| r.clone()).collect();
                    let result = store.audit_many(&records).map_err(|e| (e.storage_failure(), e.to_string()));
                    for (_, reply) in batch {
                        let _ = reply.send(result.clone());
                    }
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(%e, "cannot start the audit writer"));
        Self { tx: std::sync::Mutex::new(tx) }
    }

    /// Writes `record` durably; an error means the request must fail.
    async fn write(&self, record: AuditRecord) -> Result<(), ApiError> {
        let (reply, wait) = tokio::sync::oneshot::channel();
        let sent = self.tx.lock().unwrap_or_else(|p| p.into_inner()).send((record, reply));
        if sent.is_err() {
            return Err(ApiError::internal("audit log", "the audit writer stopped"));
        }
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((Some(failure), e))) => {
                tracing::error!(error = %e, "audit log write failed");
                Err(match failure {
                    dossier_store::StorageFailure::Full => ApiError::new(
                        axum::http::StatusCode::INSUFFICIENT_STORAGE,
                        "Storage full",
                        "the server's disk is full and the request could not be audited: it was not carried out",
                    ),
                    dossier_store::StorageFailure::Unavailable => ApiError::new(
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "Storage unavailable",
                        "the server cannot use its storage right now and the request could not be audited: it was not carried out; try again later",
                    ),
                }
                .retry_after(10))
            }
            Ok(Err((None, e))) => Err(ApiError::internal("audit log write failed", e)),
            Err(e) => Err(ApiError::internal("audit log", e)),
        }
    }
}

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: Config) -> Result<Self, dossier_store::StoreError> {
        let isac = store.isac()?;
        let throttle = auth::Throttle::for_store(config.auth_failures, config.auth_window, store.clone());
        let audit = AuditWriter::start(store.clone());
        let read_slots = tokio::sync::Semaphore::new(config.concurrent_reads.max(1));
        let id_document_key = store.secret("id-document")?;
        // The index's value hashes are keyed with this installation's own key (watched
        // subjects are kept as those hashes). One key per process: a second installation
        // opened by the same process (tests) keeps the first one's.
        if !dossier_match::screen::set_hash_key(&store.secret("index-key")?) {
            tracing::debug!("the index hash key was set already in this process");
        }
        let options = dossier_match::screen::Options {
            id_document_key: Some(id_document_key.as_slice().into()),
            contact: config.screen_contact.clone(),
            default_region: config.default_region.clone(),
            prior_log_odds: dossier_match::screen::score::prior_log_odds(config.operative_share),
            ..Default::default()
        };
        let snapshot_tag = screening::snapshot_tag(store.as_ref())?;
        let screener = Arc::new(screening::Screener::open(
            store.as_ref(),
            &snapshot_tag,
            options,
            config.index_snapshot.as_deref(),
        )?);
        let audit_key = store.secret("audit-hash")?;
        let quotas = quota::Quotas::new(config.write_quota);
        let batches = quota::Batches::new(config.batch_limits);
        let jobs = jobs::Jobs::open(config.jobs_dir.clone(), config.job_limits).map_err(|e| {
            dossier_store::StoreError::Invalid(format!(
                "the screening jobs directory {} cannot be used: {e}",
                config.jobs_dir.as_deref().map(|p| p.display().to_string()).unwrap_or_default()
            ))
        })?;
        Ok(Self(Arc::new(Inner {
            batches,
            jobs,
            snapshot_tag,
            health: Default::default(),
            last_full: Default::default(),
            store,
            config,
            isac,
            throttle,
            quotas,
            audit,
            read_slots,
            tokens: Default::default(),
            orgs: Default::default(),
            screener,
            audit_key,
            id_document_key,
            sessions: Default::default(),
            counts: Default::default(),
            taxii_seen: Default::default(),
            suppressions: Default::default(),
            open_reviews: Default::default(),
            unread: Default::default(),
            hidden_latest: Default::default(),
        })))
    }

    /// The client's address: the peer's, or — when the peer is a trusted proxy — the
    /// right-most address in `X-Forwarded-For` that is not itself a trusted proxy (the
    /// left-most entries are whatever the client wrote, so they are never believed over a
    /// proxy's own).
    pub(crate) fn client_ip(&self, peer: std::net::IpAddr, headers: &axum::http::HeaderMap) -> std::net::IpAddr {
        let trusted = &self.0.config.trusted_proxies;
        let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
        if !is_trusted(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<std::net::IpAddr>() {
                Ok(ip) if is_trusted(ip) => client = ip,
                Ok(ip) => return ip,
                // Garbage: the last address vouched for stands.
                Err(_) => return client,
            }
        }
        client
    }

    /// Remembers a 507 answer (storage full) for readiness.
    pub(crate) fn note_storage(&self, status: axum::http::StatusCode) {
        if status == axum::http::StatusCode::INSUFFICIENT_STORAGE {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            self.0.last_full.store(now, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The organizations, cached for `config.cache_ttl`.
    pub(crate) async fn orgs(&self) -> Result<Arc<Vec<Org>>, ApiError> {
        let ttl = self.0.config.cache_ttl;
        if let Some((at, orgs)) = self.0.orgs.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && at.elapsed() < ttl
        {
            return Ok(orgs.clone());
        }
        let fresh = Arc::new(self.blocking(|store| Ok(store.orgs()?)).await?);
        *self.0.orgs.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    /// The live token for `secret` and its organization, from the cache when fresh.
    async fn authenticate(&self, secret: String) -> Result<Option<(dossier_store::TokenInfo, Org)>, ApiError> {
        use sha2::Digest;
        let key: [u8; 32] = sha2::Sha256::digest(secret.as_bytes()).into();
        let ttl = self.0.config.cache_ttl;
        let now = now_micros();
        if let Some((at, token, org)) = self.0.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
            && at.elapsed() < ttl
        {
            // Expiry is checked on every use, cached or not.
            return Ok(token.expires.is_none_or(|e| e > now).then(|| (token.clone(), org.clone())));
        }
        let found = self.blocking(move |store| Ok(store.token_for_secret(&secret, now)?)).await?;
        let Some(token) = found else { return Ok(None) };
        let orgs = self.orgs().await?;
        let Some(org) = orgs.iter().find(|o| o.id == token.org).cloned() else { return Ok(None) };
        let mut cache = self.0.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.retain(|_, (at, _, _)| at.elapsed() < ttl);
        }
        cache.insert(key, (Instant::now(), token.clone(), org.clone()));
        Ok(Some((token, org)))
    }

    /// Runs a page read on the blocking pool once a read slot is free.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _slot = self.0.read_slots.acquire().await.map_err(|e| ApiError::internal("read slots closed", e))?;
        self.blocking(f).await
    }

    /// Runs a store call on the blocking pool.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || f(inner.store.as_ref()))
            .await
            .map_err(|e| ApiError::internal("blocking task failed", e))?
    }
}

/// How many objects a response returned, for the audit log.
#[derive(Clone, Copy, Debug, Default)]
pub struct Returned(pub u64);

/// What the audit log records as the request's parameters, when the handler knows better
/// than the query string (screening and search: keyed hashes instead of identifiers).
#[derive(Clone, Debug)]
pub struct AuditParams(pub String);

impl AppState {
    /// Index statistics and the build report, for `/healthz`-style checks and benchmarks.
    pub fn screening(&self) -> &screening::Screener {
        &self.0.screener
    }

    /// Writes the screening index snapshot (when one is configured), so that the next start
    /// loads it instead of re-reading every object.
    pub fn save_index_snapshot(&self) -> std::io::Result<()> {
        match &self.0.config.index_snapshot {
            Some(path) => {
                // Bring it up to date first, so the snapshot covers every committed write.
                if let Err(e) = self.0.screener.catch_up(self.0.store.as_ref()) {
                    return Err(std::io::Error::other(e.to_string()));
                }
                self.0.screener.save(&self.0.snapshot_tag, path)
            }
            None => Ok(()),
        }
    }
}

/// Builds the router.
pub fn app(state: AppState) -> Router {
    let authed = taxii::router(state.clone())
        .merge(api::router())
        .merge(screen_api::router())
        .merge(jobs::router())
        .merge(review::router())
        .merge(notify::router())
        .merge(webhooks::router())
        .merge(monitor::router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), authenticate_and_audit));
    Router::new()
        // Liveness: the process answers. Readiness: it can serve — the store takes writes.
        .route("/healthz/live", axum::routing::get(|| async { "ok" }))
        .route("/healthz/ready", axum::routing::get(ready))
        .route("/healthz", axum::routing::get(ready))
        .route("/api/v1/openapi.json", axum::routing::get(openapi))
        .merge(authed)
        .merge(web::router(state.clone()))
        .fallback(|uri: axum::http::Uri, headers: axum::http::HeaderMap| async move {
            // A browser asking for a page gets the web's 404; anything else — TAXII clients
            // probing for API roots, which may live at any path, and API callers — a TAXII
            // error message.
            let p = uri.path();
            let browser = headers
                .get(axum::http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("text/html"));
            if browser && !p.starts_with("/taxii2") && !p.starts_with("/api/") {
                web::page_not_found()
            } else {
                ApiError::not_found("this resource").into_response()
            }
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), every_request_timeout))
        .with_state(state)
}

/// The answer to a request that ran out of time: what to change depends on whether it
/// sent a body (a slow upload, or a large one) or asked for data (a broad query).
pub(crate) fn timed_out(limit: Duration, uploads: bool) -> ApiError {
    let secs = limit.as_secs();
    let advice = if uploads {
        format!(
            "the request took longer than {secs} s to send and answer; send smaller requests (split the batch) or over a faster connection"
        )
    } else {
        format!("the request took longer than {secs} s; narrow it (limit, filters)")
    };
    ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "Request timed out", advice)
}

/// Whether a request may store or remove something. Such a request is never answered
/// "timed out" once it is being processed — the write would go on and might commit after a
/// failure was reported — so its time limit covers receiving its body only (see
/// [`every_request_timeout`]); what follows is bounded by the body's size and the store's
/// lock wait.
pub(crate) fn writes(method: &axum::http::Method, path: &str) -> bool {
    use axum::http::Method;
    match *method {
        Method::DELETE => true,
        Method::POST => {
            if path.starts_with("/taxii2/") {
                path.ends_with("/objects/")
            } else {
                // Web forms change something, except screening, searching and signing in.
                !path.starts_with("/api/")
                    && !path.starts_with("/screen")
                    && !path.starts_with("/search")
                    && path != "/login"
            }
        }
        _ => false,
    }
}

/// Uploads that may take longer than the request time limit as long as they keep coming
/// (a screening job's file): their handler ends one that pauses for the limit.
pub(crate) fn long_upload(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::POST && path == "/api/v1/screen/jobs"
}

/// Request bodies read under the time limit before the handler runs: the largest a route
/// takes (web forms; TAXII takes at most `max_content_length`, checked again by its handler).
const BUFFERED_BODY_LIMIT: usize = web::FORM_LIMIT;

/// Receives the whole body of an authenticated write within the request time limit: a slow
/// upload is told so (408) and nothing is stored. Called once the caller is known, so that
/// nobody unauthenticated makes the server hold a body.
pub(crate) async fn receive_body(state: &AppState, req: Request) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    // TAXII takes at most max_content_length; web forms their own (larger) limit.
    let limit = if parts.uri.path().starts_with("/taxii2/") {
        state.0.config.max_content_length
    } else {
        BUFFERED_BODY_LIMIT.max(state.0.config.max_content_length)
    };
    match tokio::time::timeout(state.0.config.request_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(b)) => Ok(Request::from_parts(parts, axum::body::Body::from(b))),
        Ok(Err(_)) => Err(ApiError::too_large(limit).into_response()),
        Err(_) => Err(ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "Request body too slow",
            format!(
                "the request body did not arrive within {} s; nothing was stored — send smaller requests (split the bundle) or over a faster connection",
                state.0.config.request_timeout.as_secs()
            ),
        )
        .into_response()),
    }
}

/// A time limit on every route, the unauthenticated ones (sign-in, discovery of the login
/// page, health) included. Authenticated requests meet their own, audited limit first; this
/// one, a little later, catches the rest.
async fn every_request_timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.0.config.request_timeout + Duration::from_secs(2);
    let path = req.uri().path().to_owned();
    if writes(req.method(), &path) || long_upload(req.method(), &path) {
        // Authentication comes first, then the body is received within the limit
        // ([`receive_body`]), then the write runs to its end: its answer is the truth.
        return next.run(req).await;
    }
    let uploads = req.method() == axum::http::Method::POST || req.method() == axum::http::Method::PUT;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => timed_out(limit, uploads).into_response(),
    }
}

/// `/healthz/ready` (and `/healthz`): 200 when the store takes writes, else 503 with the
/// reason — what a load balancer needs to stop sending traffic to a node whose disk is full
/// or whose storage fails. The probe (one tiny committed write) runs at most once a second.
async fn ready(State(state): State<AppState>) -> Response {
    let cached = state.0.health.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let outcome = match cached {
        Some((at, outcome)) if at.elapsed() < Duration::from_secs(1) => outcome,
        _ => {
            let store = state.0.store.clone();
            // A store that does not answer within a second is not ready either (a write
            // stuck on failing storage holds it).
            let probe = tokio::task::spawn_blocking(move || store.probe_write());
            let outcome = match tokio::time::timeout(Duration::from_secs(1), probe).await {
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(e))) => Err(match e.storage_failure() {
                    Some(dossier_store::StorageFailure::Full) => "the disk is full: writes fail".to_owned(),
                    _ => format!("the store cannot write: {e}"),
                }),
                Ok(Err(e)) => Err(format!("the probe failed: {e}")),
                Err(_) => Err("the store did not take a write within 1 s".to_owned()),
            };
            *state.0.health.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), outcome.clone()));
            outcome
        }
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let full_at = state.0.last_full.load(std::sync::atomic::Ordering::Relaxed);
    let outcome = match outcome {
        Ok(()) if full_at > 0 && now.saturating_sub(full_at) < error::FULL_HOLD_SECS => {
            Err(format!("a write failed for lack of disk space {} s ago", now.saturating_sub(full_at)))
        }
        other => other,
    };
    let (status, body) = match outcome {
        Ok(()) => (axum::http::StatusCode::OK, serde_json::json!({"ready": true})),
        Err(reason) => {
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"ready": false, "reason": reason}))
        }
    };
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The OpenAPI 3.1 description of `/api/v1/`, compiled in (public, like TAXII discovery's
/// shape: it holds no data).
async fn openapi() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/json"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../api/openapi.json"),
    )
        .into_response()
}

/// Authenticates every TAXII request and writes its audit record. The audit write is part
/// of the request: if it fails, the request fails.
async fn authenticate_and_audit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let params = req.uri().query().map(str::to_owned);
    let ip = state.client_ip(peer.ip(), req.headers());
    // A token is 192 random bits and checked by a hash lookup: it cannot be guessed, and a
    // valid one is never refused because others failed from the same address (a NAT, a
    // proxy, a client that once had a typo). The address limit answers failures only.
    let refuse = async |state: &AppState| match state.0.throttle.check(ip).await {
        Err(e) => e.into_response(),
        Ok(()) => {
            state.0.throttle.failed(ip).await;
            tracing::warn!(%ip, %path, "authentication failed");
            ApiError::unauthorized().into_response()
        }
    };
    let Some((user, secret)) = auth::presented_secret(req.headers()) else {
        return match state.0.throttle.check(ip).await {
            Err(e) => e.into_response(),
            Ok(()) => ApiError::unauthorized().into_response(),
        };
    };
    let caller = state.authenticate(secret).await;
    let (token, org) = match caller {
        Ok(Some((token, org)))
            if user.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(&org.name) || u == token.id) =>
        {
            (token, org)
        }
        Ok(_) => return refuse(&state).await,
        Err(e) => return e.into_response(),
    };
    let viewer = Viewer { org: org.id, role: token.role, isac: org.isac };
    let caller = Caller { token: token.clone(), org: org.clone(), viewer };
    req.extensions_mut().insert(caller);
    let uploads = req.method() == axum::http::Method::POST || req.method() == axum::http::Method::PUT;
    let is_write = writes(req.method(), &path);
    if is_write && let Err(e) = audit_received(&state, &org, &token.id, &method, &path).await {
        let resp = e.into_response();
        state.note_storage(resp.status());
        return resp;
    }
    let mut resp = if is_write {
        match receive_body(&state, req).await {
            Ok(req) => next.run(req).await,
            Err(resp) => resp,
        }
    } else if long_upload(req.method(), &path) {
        next.run(req).await
    } else {
        match tokio::time::timeout(state.0.config.request_timeout, next.run(req)).await {
            Ok(resp) => resp,
            Err(_) => timed_out(state.0.config.request_timeout, uploads).into_response(),
        }
    };
    state.note_storage(resp.status());
    let sensitive = path.starts_with("/api/v1/search") || path.starts_with("/api/v1/screen");
    let record = audit_record(&resp, &org, &token.id, &method, path.clone(), params, sensitive);
    let returned = record.returned;
    if path.starts_with("/taxii2/") {
        state.0.taxii_seen.lock().unwrap_or_else(|p| p.into_inner()).insert(org.id, (record.at, record.status));
    }
    if let Err(e) = audit_answered(&state, record, is_write, resp.status()).await {
        return e.into_response();
    }
    tracing::info!(%method, %path, status = resp.status().as_u16(), org = %org.name, returned, ms = started.elapsed().as_millis() as u64, "request");
    resp.headers_mut().entry("cache-control").or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// Records that a write was received, before it runs: if this fails, the write is not
/// carried out (and the answer says so). With it, a write whose outcome cannot be audited
/// afterwards (the disk filled meanwhile) is still in the log.
pub(crate) async fn audit_received(
    state: &AppState,
    org: &Org,
    credential: &str,
    method: &str,
    path: &str,
) -> Result<(), ApiError> {
    state
        .0
        .audit
        .write(AuditRecord {
            at: now_micros(),
            org: Some(org.id),
            token: Some(credential.to_owned()),
            method: method.to_owned(),
            path: path.to_owned(),
            params: Some(r#"{"stage":"received"}"#.to_owned()),
            status: 0,
            returned: 0,
        })
        .await
}

/// Writes the audit record of an answered request. A failure fails the request — except
/// for a write that was carried out: its answer must stay the truth (it committed, and its
/// "received" record is in the log), so the failure is logged instead.
pub(crate) async fn audit_answered(
    state: &AppState,
    record: AuditRecord,
    is_write: bool,
    status: axum::http::StatusCode,
) -> Result<(), ApiError> {
    match state.0.audit.write(record).await {
        Err(e) if is_write && (status.is_success() || status.is_redirection()) => {
            tracing::error!(error = %e.description, status = status.as_u16(), "the outcome of a completed write could not be audited");
            Ok(())
        }
        other => other,
    }
}

/// The audit record of an answered request (API or page). The handler's [`AuditParams`]
/// (keyed hashes) stand for the request's parameters; without them a `sensitive` request
/// (search, screening) records none, so that identifiers of people never reach the log in
/// clear — even in a refused request — and any other records its query string.
pub(crate) fn audit_record(
    resp: &Response,
    org: &Org,
    credential: &str,
    method: &str,
    path: String,
    query: Option<String>,
    sensitive: bool,
) -> AuditRecord {
    let params = match resp.extensions().get::<AuditParams>() {
        Some(p) => Some(p.0.clone()),
        None if sensitive => None,
        None => query,
    };
    AuditRecord {
        at: now_micros(),
        org: Some(org.id),
        token: Some(credential.to_owned()),
        method: method.to_owned(),
        path,
        params,
        status: resp.status().as_u16(),
        returned: resp.extensions().get::<Returned>().copied().unwrap_or_default().0,
    }
}

/// A connection whose writes may wait on the client for at most `limit`: a client that
/// stops reading (its receive window full) is disconnected, instead of holding the
/// connection — and whatever answer it was being sent — forever.
struct WriteTimeout<T> {
    inner: T,
    limit: Duration,
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<T> WriteTimeout<T> {
    fn new(inner: T, limit: Duration) -> Self {
        Self { inner, limit, stalled: None }
    }

    /// What a write (or flush) gave: done, the clock is reset; still waiting on the client,
    /// the clock runs (started at the first wait), and once it has run out the connection
    /// ends.
    fn settle<R>(
        &mut self,
        polled: std::task::Poll<std::io::Result<R>>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<R>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let limit = self.limit;
        let sleep = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => {
                tracing::info!(seconds = limit.as_secs(), "a client stopped reading: connection closed");
                std::task::Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client stopped reading the answer",
                )))
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for WriteTimeout<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for WriteTimeout<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.settle(polled, cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.settle(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.settle(polled, cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves `app(state)` on `listener` until `shutdown` resolves; in-flight requests finish.
///
/// Header names go out in title case (`Content-Type`): HTTP says case does not matter, but
/// some TAXII clients and test harnesses look headers up case-sensitively.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::TokioIo;
    // Open connections at most: beyond, new ones wait in the listen backlog until one
    // closes (idle keep-alive connections cost memory; an unbounded number of them is a
    // way to exhaust it).
    let slots = Arc::new(tokio::sync::Semaphore::new(state.0.config.max_connections.max(1)));
    let router = app(state.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .title_case_headers(true)
        .timer(hyper_util::rt::TokioTimer::new())
        // Also the idle limit: hyper starts this timer as soon as a connection waits for
        // its next request, so a keep-alive connection idle this long is closed.
        .header_read_timeout(state.0.config.idle_timeout.max(Duration::from_secs(1)));
    jobs::start(&state);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = hyper_util::service::TowerToHyperService::new(
                    router.clone().layer(axum::Extension(ConnectInfo(peer))),
                );
                let stream = WriteTimeout::new(stream, state.0.config.request_timeout);
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let watched = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = watched.await {
                        tracing::debug!(%e, "connection ended with an error");
                    }
                    drop(slot);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
