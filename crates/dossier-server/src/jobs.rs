//! Screening jobs: a batch uploaded whole, screened in the background, its results
//! downloaded when ready — for clients that send a whole body before they read the answer
//! (most HTTP libraries, and applicant-tracking integrations), which the streamed
//! `POST /api/v1/screen/batch` would cut short once the answer waits on them too long.
//!
//! - `POST /api/v1/screen/jobs` — the body (JSON Lines or CSV, as for a batch) is spooled to
//!   disk; 202 with the job and its `Location`.
//! - `GET /api/v1/screen/jobs` — the organization's jobs; `GET …/{id}` one job's status and
//!   counts; `GET …/{id}/results` the results (JSON Lines, in input order) once done;
//!   `DELETE …/{id}` cancels or removes it.
//!
//! Only the organization that created a job sees it, and only with a role at least the
//! creator's (the results show what the creator may see). The upload is deleted as soon as
//! the job has run; results are kept `retention` after the job ended, then deleted. Jobs
//! survive a restart: one not finished runs again from its upload. Each job runs under the
//! same limits as a streamed batch (per organization and in all) and its screens are audited
//! the same way, under `/api/v1/screen/jobs (records)`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dossier_match::screen::Limits;
use dossier_stix::{OrgId, Role, Timestamp, Viewer};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::screen_api::{ChannelBody, Stopped, screen_records};
use crate::screening::batch::{self, Format, Outcome};
use crate::{AppState, AuditParams, Caller, Returned};

/// Where the jobs of one organization stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    /// Jobs one organization may keep at once (queued, running or with results waiting).
    pub per_org: usize,
    /// Largest upload of one job, in bytes.
    pub max_bytes: u64,
    /// How long results are kept after a job ended.
    pub retention: Duration,
}

impl Default for JobLimits {
    fn default() -> Self {
        Self { per_org: 16, max_bytes: 1 << 30, retention: Duration::from_secs(24 * 3600) }
    }
}

/// The audit path of a job's screens.
const AUDIT_PATH: &str = "/api/v1/screen/jobs (records)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Done,
    Failed,
}

/// What a client is told of a job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobInfo {
    pub id: String,
    pub status: Status,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// When the results are deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Bytes uploaded.
    pub size: u64,
    /// Records screened and errors so far, and the decisions.
    pub outcome: Outcome,
    /// Why a failed job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to know about the upload (CSV columns ignored, refs made from line numbers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A job as kept on disk next to its files.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Kept {
    info: JobInfo,
    org: OrgId,
    token: String,
    role: String,
    isac: bool,
    csv: Option<bool>,
    /// CSV column mappings given with the upload.
    #[serde(default)]
    mapping: Vec<(String, String)>,
    /// Unix seconds after which it is deleted (once ended).
    expires_at: Option<u64>,
}

struct Job {
    kept: Kept,
    cancel: Arc<AtomicBool>,
}

/// The jobs of this server.
pub struct Jobs {
    dir: Option<PathBuf>,
    limits: JobLimits,
    jobs: Mutex<HashMap<String, Job>>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn now() -> String {
    Timestamp::from_unix_micros(dossier_stix::timestamp::now_micros()).as_str().to_owned()
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Jobs {
    /// The jobs kept in `dir` (created if missing); without a directory, jobs are refused.
    pub fn open(dir: Option<PathBuf>, limits: JobLimits) -> std::io::Result<Self> {
        let mut jobs = HashMap::new();
        if let Some(dir) = &dir {
            // Uploads are about people: only the server's user may read them.
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir)?;
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                let Some(id) = path.file_stem().and_then(|s| s.to_str()).filter(|s| valid_id(s)) else { continue };
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let kept: Kept = match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
                    Some(k) => k,
                    None => {
                        tracing::warn!(path = %path.display(), "unreadable job record: removed");
                        remove_files(dir, id);
                        continue;
                    }
                };
                jobs.insert(id.to_owned(), Job { kept, cancel: Arc::new(AtomicBool::new(false)) });
            }
        }
        Ok(Self { dir, limits, jobs: Mutex::new(jobs) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Persists a job's record (write to a temporary file, then rename).
    fn save(&self, kept: &Kept) {
        let Some(dir) = &self.dir else { return };
        let id = &kept.info.id;
        let tmp = dir.join(format!("{id}.json.tmp"));
        let result = serde_json::to_vec(kept)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|()| std::fs::rename(&tmp, dir.join(format!("{id}.json"))));
        if let Err(e) = result {
            tracing::warn!(error = %e, job = %id, "saving a job's record failed");
        }
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Kept)) -> Option<Kept> {
        let mut jobs = self.lock();
        let job = jobs.get_mut(id)?;
        change(&mut job.kept);
        Some(job.kept.clone())
    }

    /// Deletes jobs whose results have expired.
    pub fn expire(&self) {
        let now = unix_now();
        let gone: Vec<String> = {
            let mut jobs = self.lock();
            let gone: Vec<String> = jobs
                .iter()
                .filter(|(_, j)| j.kept.expires_at.is_some_and(|t| t <= now))
                .map(|(id, _)| id.clone())
                .collect();
            for id in &gone {
                jobs.remove(id);
            }
            gone
        };
        if let Some(dir) = &self.dir {
            for id in gone {
                remove_files(dir, &id);
            }
        }
    }

    /// The jobs that had not finished when the server last stopped.
    fn unfinished(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, j)| matches!(j.kept.info.status, Status::Queued | Status::Running))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

fn remove_files(dir: &Path, id: &str) {
    for ext in ["in", "out", "out.part", "json", "json.tmp"] {
        let _ = std::fs::remove_file(dir.join(format!("{id}.{ext}")));
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/screen/jobs", get(list).post(create))
        .route("/api/v1/screen/jobs/{id}", get(status).delete(remove))
        .route("/api/v1/screen/jobs/{id}/results", get(results))
}

/// Restarts the jobs a previous run left unfinished, and deletes expired results (and
/// expired review-queue entries) every minute. Called once the runtime runs.
pub(crate) fn start(state: &AppState) {
    for id in state.0.jobs.unfinished() {
        tracing::info!(job = %id, "restarting a screening job left unfinished");
        spawn_runner(state.clone(), id);
    }
    let state2 = state.clone();
    let hooks = state.clone();
    let watching = state.clone();
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            let jobs = state.clone();
            let _ = tokio::task::spawn_blocking(move || jobs.0.jobs.expire()).await;
            // Review-queue entries and suppressions past their retention go too.
            let inner = state.0.clone();
            let purged =
                tokio::task::spawn_blocking(move || inner.store.purge_reviews(dossier_stix::timestamp::now_micros()))
                    .await;
            match purged {
                Ok(Ok(n)) if n > 0 => tracing::info!(entries = n, "review queue: expired entries deleted"),
                Ok(Err(e)) => tracing::error!(error = %e, "review queue: deleting expired entries failed"),
                _ => {}
            }
            // And watched subjects past their retention.
            let inner = state.0.clone();
            if let Ok(Err(e)) =
                tokio::task::spawn_blocking(move || inner.store.purge_watched(dossier_stix::timestamp::now_micros()))
                    .await
            {
                tracing::error!(error = %e, "monitoring: deleting expired subjects failed");
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    });
    // Federation: each peer pulled from and pushed to every its interval, one run at a time.
    for peer in hooks.0.config.peers.clone() {
        let store = hooks.0.store.clone();
        tokio::spawn(async move {
            loop {
                let lead = format!("sync:{}", peer.name);
                let leading = {
                    let store = store.clone();
                    tokio::task::spawn_blocking(move || store.lead(&lead)).await
                };
                if !matches!(leading, Ok(Ok(true))) {
                    tokio::time::sleep(peer.interval).await;
                    continue;
                }
                match crate::sync::run(&store, &peer).await {
                    Ok(reports) => tracing::debug!(peer = %peer.name, runs = reports.len(), "sync done"),
                    Err(e) => tracing::warn!(peer = %peer.name, error = %e, "sync failed; the next run resumes"),
                }
                tokio::time::sleep(peer.interval).await;
            }
        });
    }
    // Webhook deliveries that are due.
    tokio::spawn(async move {
        loop {
            if crate::jobs::leads(&hooks, "webhooks").await {
                crate::webhooks::deliver_due(hooks.0.clone()).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    // Watched subjects: re-screened when intelligence that may concern them arrives.
    tokio::spawn(async move {
        loop {
            if !leads(&watching, "monitor").await {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let inner = watching.0.clone();
            // The log's end before following: the wait below returns at once if anything
            // came after it, whether or not this round already applied it.
            let end = match tokio::task::spawn_blocking(move || {
                let end = inner.store.last_change()?;
                crate::monitor::follow(&inner)
                    .map(|_| end)
                    .map_err(|e| dossier_store::StoreError::Invalid(e.to_string()))
            })
            .await
            {
                Ok(Ok(end)) => Some(end),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "monitoring: following the change log failed");
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, "monitoring: the follower stopped");
                    None
                }
            };
            // Wait for the next commit (told at once by PostgreSQL; the embedded store is
            // read every 20 ms): an alert follows a write in tens of milliseconds.
            match end {
                Some(end) => {
                    let inner = watching.0.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        inner.store.wait_for_change(end, Duration::from_millis(500))
                    })
                    .await;
                }
                None => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    });
    // Notifications of what arrives by any write path (sightings) follow the change log.
    tokio::spawn(async move {
        loop {
            if !leads(&state2, "sightings").await {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let inner = state2.0.clone();
            match tokio::task::spawn_blocking(move || crate::notify::follow_sightings(&inner)).await {
                Ok(Err(e)) => tracing::error!(error = %e, "notifications: following the change log failed"),
                Err(e) => tracing::error!(error = %e, "notifications: the follower stopped"),
                Ok(Ok(_)) => {}
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

/// Whether this node leads the background work `name` (one node of several on one
/// database does it; see `Cursors::lead`). A store that cannot say is not led here.
pub(crate) async fn leads(state: &AppState, name: &'static str) -> bool {
    let inner = state.0.clone();
    match tokio::task::spawn_blocking(move || inner.store.lead(name)).await {
        Ok(Ok(lead)) => lead,
        Ok(Err(e)) => {
            tracing::warn!(work = name, error = %e, "cannot tell whether this node leads; not doing it now");
            false
        }
        Err(_) => false,
    }
}

/// The job `id` as `caller` may see it: its organization's, created with a role no higher.
fn visible(state: &AppState, caller: &Caller, id: &str) -> Result<Kept, ApiError> {
    let jobs = state.0.jobs.lock();
    jobs.get(id)
        .map(|j| j.kept.clone())
        .filter(|k| may_see(caller, k))
        .ok_or_else(|| ApiError::not_found(format!("screening job {id}")))
}

fn may_see(caller: &Caller, k: &Kept) -> bool {
    k.org == caller.org.id && Role::parse(&k.role).is_some_and(|r| r <= caller.viewer.role)
}

fn described(info: &JobInfo) -> serde_json::Value {
    let mut v = serde_json::to_value(info).unwrap_or_default();
    let base = format!("/api/v1/screen/jobs/{}", info.id);
    v["links"] = json!({ "self": base, "results": format!("{base}/results") });
    v
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn storage_error(e: &std::io::Error, what: &str) -> ApiError {
    if e.kind() == std::io::ErrorKind::StorageFull {
        ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "Storage full",
            format!("the server's disk is full: {what} failed and the job was not created"),
        )
        .retry_after(10)
    } else {
        ApiError::internal(what, e)
    }
}

/// `GET /api/v1/screen/jobs`: the caller's organization's jobs, newest first.
async fn list(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    let mut infos: Vec<JobInfo> =
        state.0.jobs.lock().values().filter(|j| may_see(&caller, &j.kept)).map(|j| j.kept.info.clone()).collect();
    infos.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    let n = infos.len() as u64;
    let mut resp = json_response(StatusCode::OK, &json!({ "jobs": infos.iter().map(described).collect::<Vec<_>>() }));
    resp.extensions_mut().insert(Returned(n));
    resp
}

/// `GET /api/v1/screen/jobs/{id}`.
async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    match visible(&state, &caller, &id) {
        Ok(k) => json_response(StatusCode::OK, &described(&k.info)),
        Err(e) => e.into_response(),
    }
}

/// `DELETE /api/v1/screen/jobs/{id}`: cancels a job not yet done, and deletes its files.
async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    if let Err(e) = visible(&state, &caller, &id) {
        return e.into_response();
    }
    if let Some(job) = state.0.jobs.lock().remove(&id) {
        job.cancel.store(true, Ordering::Relaxed);
    }
    if let Some(dir) = state.0.jobs.dir.clone() {
        let _ = tokio::task::spawn_blocking(move || remove_files(&dir, &id)).await;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /api/v1/screen/jobs/{id}/results`: the results once the job is done (409 before),
/// streamed from disk; a reader that stops reading for the request time limit is cut off.
async fn results(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let kept = match visible(&state, &caller, &id) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let info = kept.info;
    if info.status != Status::Done {
        let what = match info.status {
            Status::Failed => format!("the job failed: {}", info.error.as_deref().unwrap_or("unknown reason")),
            _ => format!(
                "the job is {}; ask again when its status is done",
                if info.status == Status::Queued { "queued" } else { "running" }
            ),
        };
        let mut e = ApiError::new(StatusCode::CONFLICT, "Results not ready", what);
        if info.status != Status::Failed {
            e = e.retry_after(2);
        }
        return e.into_response();
    }
    let Some(dir) = state.0.jobs.dir.clone() else {
        return ApiError::not_found(format!("screening job {id}")).into_response();
    };
    let path = dir.join(format!("{id}.out"));
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => return ApiError::internal("opening the job's results", e).into_response(),
    };
    let size = file.metadata().await.map(|m| m.len()).ok();
    let stall = state.0.config.request_timeout;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut file = file;
        loop {
            let mut buf = vec![0u8; 64 << 10];
            let item = match file.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    Ok(Bytes::from(buf))
                }
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            // A reader that takes none of it for the time limit is cut off: the connection
            // ends, and nothing waits on it any more.
            if tx.send_timeout(item, stall).await.is_err() || failed {
                return;
            }
        }
    });
    let mut resp = Response::new(Body::new(ChannelBody(rx)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    if let Some(size) = size {
        resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    resp.extensions_mut().insert(Returned(info.outcome.screened + info.outcome.errors));
    resp.extensions_mut().insert(AuditParams(json!({ "job": id }).to_string()));
    resp
}

/// `POST /api/v1/screen/jobs`: spools the upload and queues the job.
async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mapping = match crate::screen_api::mappings(&query) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    match create_job(&state, &caller, &headers, body, mapping).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn create_job(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
    mapping: Vec<(String, String)>,
) -> Result<Response, ApiError> {
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;
    let jobs = &state.0.jobs;
    let Some(dir) = jobs.dir.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Jobs unavailable",
            "this server keeps no spool directory for screening jobs; use POST /api/v1/screen/batch",
        ));
    };
    let limits = jobs.limits;
    let kept_now = jobs.lock().values().filter(|j| j.kept.org == caller.org.id).count();
    if kept_now >= limits.per_org.max(1) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many jobs",
            format!(
                "your organization keeps {kept_now} screening jobs, the most it may keep; download and DELETE finished ones, or wait for them to end"
            ),
        )
        .retry_after(10));
    }
    let format = crate::screen_api::batch_format(headers);
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| ApiError::internal("no system randomness", e))?;
    let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let upload = dir.join(format!("{id}.in"));
    // Receive the body: it may take as long as it needs as long as it keeps coming; a pause
    // of the request time limit ends it (408), and nothing is kept.
    let stall = state.0.config.request_timeout;
    let received: Result<u64, ApiError> = async {
        let mut file = tokio::fs::File::create(&upload).await.map_err(|e| storage_error(&e, "spooling the upload"))?;
        let mut size = 0u64;
        let mut body = body;
        loop {
            let frame = match tokio::time::timeout(stall, body.frame()).await {
                Err(_) => {
                    return Err(ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "Request body too slow",
                        format!("the upload stopped for {} s; no job was created", stall.as_secs()),
                    ));
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(ApiError::bad_request(format!("reading the upload failed: {e}"))),
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else { continue };
            size += data.len() as u64;
            if size > limits.max_bytes {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Request too large",
                    format!("a screening job takes at most {} bytes; split the file", limits.max_bytes),
                ));
            }
            file.write_all(&data).await.map_err(|e| storage_error(&e, "spooling the upload"))?;
        }
        file.sync_all().await.map_err(|e| storage_error(&e, "spooling the upload"))?;
        Ok(size)
    }
    .await;
    let size = match received {
        Ok(s) => s,
        Err(e) => {
            let _ = tokio::fs::remove_file(&upload).await;
            return Err(e);
        }
    };
    // A file that cannot be read at all (a CSV header naming no field) is refused now.
    let check = upload.clone();
    let check_mapping = mapping.clone();
    let checked = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<String>> {
        let file = std::io::BufReader::new(std::fs::File::open(&check)?);
        batch::open(Box::new(file), format, Limits::default(), &check_mapping).map(|o| o.notes)
    })
    .await
    .map_err(|e| ApiError::internal("checking the upload", e))?;
    let notes = match checked {
        Ok(notes) => notes,
        Err(e) => {
            let _ = tokio::fs::remove_file(&upload).await;
            return Err(ApiError::bad_request(e.to_string()));
        }
    };
    let created = now();
    let kept = Kept {
        info: JobInfo {
            id: id.clone(),
            status: Status::Queued,
            created,
            started: None,
            finished: None,
            expires: None,
            size,
            outcome: Outcome::default(),
            error: None,
            notes,
        },
        org: caller.org.id,
        token: caller.token.id.clone(),
        role: caller.viewer.role.as_str().to_owned(),
        isac: caller.viewer.isac,
        csv: format.map(|f| f == Format::Csv),
        mapping,
        expires_at: None,
    };
    {
        let save = kept.clone();
        let state = state.clone();
        tokio::task::spawn_blocking(move || state.0.jobs.save(&save))
            .await
            .map_err(|e| ApiError::internal("saving the job", e))?;
    }
    jobs.lock().insert(id.clone(), Job { kept: kept.clone(), cancel: Arc::new(AtomicBool::new(false)) });
    spawn_runner(state.clone(), id.clone());
    let mut resp = json_response(StatusCode::ACCEPTED, &described(&kept.info));
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/screen/jobs/{id}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.extensions_mut().insert(AuditParams(json!({ "job": id, "bytes": size }).to_string()));
    Ok(resp)
}

/// Waits for a batch place for the job's organization, then screens it on the blocking pool.
fn spawn_runner(state: AppState, id: String) {
    tokio::spawn(async move {
        let Some((org, cancel)) = state.0.jobs.lock().get(&id).map(|j| (j.kept.org, j.cancel.clone())) else { return };
        let permit = loop {
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            match state.0.batches.admit(org) {
                Ok(p) => break p,
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        };
        let runner = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            run(&runner, &id, &cancel);
        })
        .await;
    });
}

/// Screens job `id` from its upload into its results file.
fn run(state: &AppState, id: &str, cancel: &AtomicBool) {
    let jobs = &state.0.jobs;
    let Some(dir) = jobs.dir.clone() else { return };
    let Some(kept) = jobs.update(id, |k| {
        k.info.status = Status::Running;
        k.info.started = Some(now());
        k.info.outcome = Outcome::default();
    }) else {
        return;
    };
    jobs.save(&kept);
    let Some(role) = Role::parse(&kept.role) else { return };
    let viewer = Viewer { org: kept.org, role, isac: kept.isac };
    let format = kept.csv.map(|csv| if csv { Format::Csv } else { Format::JsonLines });
    let part = dir.join(format!("{id}.out.part"));
    let result: Result<Outcome, String> = (|| {
        let input =
            std::fs::File::open(dir.join(format!("{id}.in"))).map_err(|e| format!("the upload is gone: {e}"))?;
        let records =
            batch::records(Box::new(std::io::BufReader::with_capacity(1 << 16, input)), format, Limits::default())
                .map_err(|e| e.to_string())?;
        let out = std::fs::File::create(&part).map_err(|e| format!("writing the results failed: {e}"))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        let mut write_error = None;
        let mut sink = |bytes: Bytes, outcome: &Outcome| {
            use std::io::Write;
            if let Err(e) = out.write_all(&bytes) {
                write_error = Some(e);
                return false;
            }
            let progress = *outcome;
            jobs.update(id, |k| k.info.outcome = progress);
            true
        };
        let mut outcome = Outcome::default();
        let stopped = screen_records(
            &state.0,
            &viewer,
            kept.org,
            &kept.token,
            records,
            AUDIT_PATH,
            &mut outcome,
            &mut sink,
            &|| cancel.load(Ordering::Relaxed),
        );
        if let Some(e) = write_error {
            return Err(format!("writing the results failed: {e}"));
        }
        match stopped {
            Ok(()) | Err(Stopped::Unreadable) => {}
            Err(Stopped::Early) => return Err("cancelled".into()),
            Err(Stopped::Failed(reason)) => return Err(reason),
        }
        let out = out.into_inner().map_err(|e| format!("writing the results failed: {}", e.error()))?;
        out.sync_all().map_err(|e| format!("writing the results failed: {e}"))?;
        std::fs::rename(&part, dir.join(format!("{id}.out")))
            .map_err(|e| format!("writing the results failed: {e}"))?;
        Ok(outcome)
    })();
    if cancel.load(Ordering::Relaxed) {
        remove_files(&dir, id);
        return;
    }
    let _ = std::fs::remove_file(dir.join(format!("{id}.in")));
    let retention = jobs.limits.retention;
    let ended = jobs.update(id, |k| {
        k.info.finished = Some(now());
        k.expires_at = Some(unix_now() + retention.as_secs());
        k.info.expires = Some(
            Timestamp::from_unix_micros(dossier_stix::timestamp::now_micros() + retention.as_micros() as i64)
                .as_str()
                .to_owned(),
        );
        match &result {
            Ok(outcome) => {
                k.info.status = Status::Done;
                k.info.outcome = *outcome;
            }
            Err(reason) => {
                k.info.status = Status::Failed;
                k.info.error = Some(reason.clone());
            }
        }
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    match ended {
        Some(k) => {
            jobs.save(&k);
            tracing::info!(
                job = %id,
                status = ?k.info.status,
                screened = k.info.outcome.screened,
                errors = k.info.outcome.errors,
                "screening job ended"
            );
        }
        // Deleted meanwhile.
        None => remove_files(&dir, id),
    }
}
