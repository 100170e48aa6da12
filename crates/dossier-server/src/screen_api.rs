//! Screening over HTTP: `POST /api/v1/screen` (one applicant), `POST /api/v1/screen/batch`
//! (JSON Lines or CSV in, JSON Lines out, streamed) and `GET /api/v1/search?q=`.
//!
//! The data screened is about people who are mostly innocent: it is never logged, and the
//! audit log keeps only keyed hashes (HMAC-SHA-256 with an installation secret) of each
//! identifier, with the decision and the ids of the objects revealed.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dossier_match::screen::{Applicant, Hit, Limits, Screening, input};
use dossier_stix::Viewer;
use serde_json::json;

use crate::error::ApiError;
use crate::screening::batch::{self, Format, Outcome};
use crate::{AppState, AuditParams, Caller, Returned};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/screen", post(screen_one))
        .route("/api/v1/screen/batch", post(screen_batch))
        .route("/api/v1/search", get(search))
}

/// HMAC-SHA-256 (RFC 2104) of `text` under `key`, first 16 bytes in hex.
pub(crate) fn keyed_hash(key: &[u8], text: &str) -> String {
    dossier_match::keyed::hmac_hex(key, text.as_bytes(), 16)
}

/// The keyed hash the audit log keeps of one value given for `field`.
pub(crate) fn field_hash(key: &[u8], field: &str, v: &str) -> String {
    keyed_hash(key, &format!("{field}:{}", v.trim().to_lowercase()))
}

/// The keyed hash the audit log keeps of a search for `q`.
pub(crate) fn search_hash(key: &[u8], q: &str) -> String {
    keyed_hash(key, &format!("q:{}", q.trim().to_lowercase()))
}

/// Every hash under which the audit log may hold `value` as somebody typed it (any field of
/// a screen, or a search), for finding who searched or screened it.
pub(crate) fn audit_hashes_of(key: &[u8], value: &str) -> Vec<String> {
    let mut out: Vec<String> = dossier_match::kinds::FIELDS
        .iter()
        .map(|f| f.audit)
        .chain(["ref"])
        .map(|f| field_hash(key, f, value))
        .collect();
    // A bank account is hashed in its compact form (as screens hash it), however typed.
    out.push(field_hash(key, "bank", &dossier_match::screen::input::bank_from_text(value).text()));
    out.push(field_hash(key, "address", &address_text(value)));
    out.push(search_hash(key, value));
    out
}

/// A postal address as the audit log hashes it: its normalised key, so that one address
/// typed two ways hashes alike (the text as typed, lower case, when it does not read as an
/// address).
fn address_text(value: &str) -> String {
    dossier_match::normalize::address::parse(value)
        .ok()
        .and_then(|a| a.unit_keys.into_iter().next())
        .unwrap_or_else(|| value.trim().to_lowercase())
}

/// The audit entry of one screened applicant: hashes only.
pub(crate) fn audit_entry(key: &[u8], a: &Applicant, s: &Screening) -> serde_json::Value {
    let h = |field: &str, v: &str| field_hash(key, field, v);
    let mut ids: Vec<String> = Vec::new();
    ids.extend(a.names.iter().map(|v| h("name", v)));
    ids.extend(a.emails.iter().map(|v| h("email", v)));
    ids.extend(a.phones.iter().map(|v| h("phone", v)));
    ids.extend(a.accounts.iter().map(|v| {
        let text = v.url.clone().unwrap_or_else(|| {
            format!(
                "{}:{}",
                v.platform.as_deref().unwrap_or_default(),
                v.username.as_deref().or(v.user_id.as_deref()).unwrap_or_default()
            )
        });
        h("account", &text)
    }));
    ids.extend(a.wallets.iter().map(|v| h("wallet", &v.address)));
    ids.extend(a.ips.iter().map(|v| h("ip", v)));
    ids.extend(a.documents.iter().map(|v| h("document", &v.sha256)));
    ids.extend(a.bank_accounts.iter().map(|v| h("bank", &v.text())));
    ids.extend(a.websites.iter().map(|v| h("website", v)));
    ids.extend(a.addresses.iter().map(|v| h("address", &address_text(v))));
    ids.extend(a.photos.iter().map(|v| h("photo", v)));
    ids.extend(a.id_documents.iter().map(|v| h("id_document", &v.text())));
    if let Some(t) = &a.resume_text {
        ids.push(h("resume", t));
    }
    json!({
        "ref": h("ref", &a.reference),
        "identifiers": ids,
        "decision": s.decision,
        "objects": s.revealed_objects(),
        "restricted": dossier_match::screen::query::restricted_count(s),
    })
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A record refused: 400 with the field and the ref.
fn record_error(e: &input::RecordError) -> Response {
    let body = json!({
        "title": "Invalid applicant record", "description": e.reason,
        "field": e.field, "ref": e.reference, "http_status": "400",
    });
    json_response(StatusCode::BAD_REQUEST, body.to_string())
}

/// `POST /api/v1/screen`: one applicant as a JSON object.
async fn screen_one(State(state): State<AppState>, Extension(caller): Extension<Caller>, body: Body) -> Response {
    let limits = Limits::default();
    let bytes = match axum::body::to_bytes(body, limits.record_bytes).await {
        Ok(b) => b,
        Err(_) => return ApiError::too_large(limits.record_bytes).into_response(),
    };
    let applicant = match input::from_json(&bytes, &limits) {
        Ok(a) => a,
        Err(e) => return record_error(&e),
    };
    let viewer = caller.viewer;
    let inner = state.0.clone();
    // A screen takes tens of microseconds: when the index is current it runs right here,
    // sparing two thread hand-offs per request; catching up (store reads) goes to the
    // blocking pool.
    let org = caller.org.id;
    let token = caller.token.id.clone();
    let run = move |inner: &crate::Inner| {
        let options = inner.screener.options_with(crate::review::suppressions_for(inner, org));
        let s = inner.screener.screen_with(&applicant, &viewer, &options);
        let audit = audit_entry(&inner.audit_key, &applicant, &s);
        let queued = if s.decision >= dossier_match::screen::Decision::Review {
            let by = crate::review::who(inner, &token);
            crate::review::entry_of(inner, org, &token, &by, "api", &applicant, &s)
        } else {
            None
        };
        (s, audit, queued)
    };
    let result = if inner.screener.is_current(inner.store.as_ref()).unwrap_or(false) {
        Ok(run(&inner))
    } else {
        state
            .blocking(move |store| {
                inner.screener.catch_up(store).map_err(|e| ApiError::internal("screening index", e))?;
                Ok(run(&inner))
            })
            .await
    };
    let (s, audit, queued) = match result {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    // A screen that asks for a look enters the organization's review queue before the
    // answer goes out (a reviewer opening the queue right after finds it).
    if let Some(entry) = queued {
        let inner = state.0.clone();
        let _ = tokio::task::spawn_blocking(move || crate::review::enqueue(&inner, &[entry])).await;
    }
    let n = s.matches.len() as u64;
    let body = serde_json::to_string(&s).unwrap_or_default();
    let mut resp = json_response(StatusCode::OK, body);
    resp.extensions_mut().insert(Returned(n));
    resp.extensions_mut().insert(AuditParams(json!({ "screen": [audit] }).to_string()));
    resp
}

/// `GET /api/v1/search?q=`: any identifier or name.
async fn search(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(query) = q.get("q").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) else {
        return ApiError::bad_request("give the identifier or name to look up as ?q=").into_response();
    };
    if query.len() > 1024 {
        return ApiError::bad_request("q is longer than 1024 bytes").into_response();
    }
    let viewer = caller.viewer;
    let inner = state.0.clone();
    let q2 = query.clone();
    let result = state
        .blocking(move |store| {
            inner.screener.catch_up(store).map_err(|e| ApiError::internal("screening index", e))?;
            Ok(inner.screener.search(&q2, &viewer))
        })
        .await;
    let s = match result {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let results: Vec<&dossier_match::screen::Candidate> = s
        .matches
        .iter()
        .filter_map(|h| match h {
            Hit::Candidate(c) => Some(c),
            Hit::Restricted(_) => None,
        })
        .collect();
    let restricted = dossier_match::screen::query::restricted_count(&s);
    let body = json!({
        "results": results,
        "restricted": restricted,
        "contact": (restricted > 0).then(|| state.0.screener.options.contact.clone()),
    });
    let mut resp = json_response(StatusCode::OK, body.to_string());
    resp.extensions_mut().insert(Returned(results.len() as u64));
    let audit = json!({"search": search_hash(&state.0.audit_key, &query), "objects": s.revealed_objects()});
    resp.extensions_mut().insert(AuditParams(audit.to_string()));
    resp
}

/// Splits an upload into whole records as it arrives, so that each piece can be parsed on
/// its own: a record ends at a line break — in CSV one outside quotes (RFC 4180: inside a
/// quoted field the count of `"` so far is odd). The format is the one given, or read from
/// the first byte (`{`: JSON Lines) as `batch::open` does.
#[derive(Default)]
struct Splitter {
    csv: Option<bool>,
    in_quotes: bool,
    pending: Vec<u8>,
    scanned: usize,
}

impl Splitter {
    fn new(format: Option<Format>) -> Self {
        Self { csv: format.map(|f| f == Format::Csv), ..Self::default() }
    }

    /// Takes `data`; gives back the whole records completed so far.
    fn push(&mut self, data: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(data);
        if self.csv.is_none() {
            match self.pending.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b) => self.csv = Some(*b != b'{'),
                None => return Vec::new(),
            }
        }
        let csv = self.csv == Some(true);
        let mut last = None;
        for (i, b) in self.pending.iter().enumerate().skip(self.scanned) {
            if csv && *b == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if *b == b'\n' && !(csv && self.in_quotes) {
                last = Some(i);
            }
        }
        self.scanned = self.pending.len();
        match last {
            Some(i) => {
                let rest = self.pending.split_off(i + 1);
                self.scanned -= i + 1;
                std::mem::replace(&mut self.pending, rest)
            }
            None => Vec::new(),
        }
    }

    /// What is left once the upload has ended.
    fn finish(&mut self) -> Vec<u8> {
        self.scanned = 0;
        std::mem::take(&mut self.pending)
    }

    /// Bytes waiting for the end of their record.
    fn waiting(&self) -> usize {
        self.pending.len()
    }
}

/// The end of the first record (the CSV header) in `bytes`: after its line break.
fn first_record_end(bytes: &[u8]) -> Option<usize> {
    let mut quoted = false;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'"' {
            quoted = !quoted;
        } else if *b == b'\n' && !quoted {
            return Some(i + 1);
        }
    }
    None
}

/// How many bytes of whole records a batch screens in one step on the blocking pool.
const STEP_BYTES: usize = 256 << 10;

/// A response body fed from a channel.
pub(crate) struct ChannelBody(pub tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|o| o.map(|r| r.map(http_body::Frame::data)))
    }
}

pub(crate) fn batch_format(headers: &HeaderMap) -> Option<Format> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?.to_ascii_lowercase();
    if ct.starts_with("text/csv") {
        Some(Format::Csv)
    } else if ct.contains("ndjson")
        || ct.contains("jsonl")
        || ct.contains("json-seq")
        || ct.starts_with("application/json")
    {
        Some(Format::JsonLines)
    } else {
        None
    }
}

/// `POST /api/v1/screen/batch`: JSON Lines (`application/x-ndjson`) or CSV (`text/csv`, a
/// header row with the field names) of applicants; answers JSON Lines, one result per
/// record in input order, streamed as records are screened. A record that cannot be read
/// gets an error line with its `ref` and line number; the rest still run.
async fn screen_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mapping = match mappings(&query) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    run_batch(state, caller, &headers, body, "/api/v1/screen/batch (records)", mapping).await
}

/// The CSV column mappings of a request: each `map=COLUMN=FIELD` query parameter.
pub(crate) fn mappings(query: &[(String, String)]) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for (k, v) in query {
        if k != "map" {
            return Err(ApiError::bad_request(format!(
                "unknown parameter `{k}`; this endpoint takes map=COLUMN=FIELD"
            )));
        }
        let Some((column, field)) = v.split_once('=') else {
            return Err(ApiError::bad_request(format!("map={v}: write it as map=COLUMN=FIELD")));
        };
        input::parse_target(field).map_err(|e| ApiError::bad_request(format!("map={v}: {e}")))?;
        out.push((column.trim().to_owned(), field.trim().to_owned()));
    }
    Ok(out)
}

/// Notes about an upload (CSV columns ignored …) as response headers.
pub(crate) fn note_headers(resp: &mut Response, notes: &[String]) {
    for note in notes {
        let ascii: String = note.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
        if let Ok(v) = HeaderValue::from_str(&ascii) {
            resp.headers_mut().append("x-dossier-note", v);
        }
    }
}

/// Screens an uploaded batch for `caller` and streams the results; each chunk's audit
/// record is written under `audit_path` before its results are sent.
pub(crate) async fn run_batch(
    state: AppState,
    caller: Caller,
    headers: &HeaderMap,
    body: Body,
    audit_path: &'static str,
    mapping: Vec<(String, String)>,
) -> Response {
    let format = batch_format(headers);
    // At most so many batches at once, for one organization and for all: a batch holds a
    // thread while it screens, and a client that stops reading must not be able to pile
    // them up. Beyond, 429 with Retry-After.
    let permits = match state.0.batches.admit(caller.org.id) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let stall = state.0.config.request_timeout;
    let (out_tx, out_rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<Vec<String>, String>>();
    let inner = state.0.clone();
    let viewer: Viewer = caller.viewer;
    let org = caller.org.id;
    let token = caller.token.id.clone();
    // The batch is driven from an async task and holds no thread while it waits — on an
    // upload that has paused or on a client that does not read its results (each wait at
    // most the stall limit, then the batch ends): the upload is read here and cut into
    // whole records, each step of about 256 KiB is parsed and screened on the blocking
    // pool, and its results are sent from here. A step parses its records on their own
    // (with the CSV header in front), so nothing on the blocking pool ever waits for bytes.
    tokio::spawn(async move {
        use http_body_util::BodyExt;
        let _permits = permits;
        let mut body = body;
        let mut splitter = Splitter::new(format);
        let mut header: Option<Vec<u8>> = None;
        let mut ready: Vec<u8> = Vec::new();
        let mut ended = false;
        let mut lines_before = 0u64;
        let mut ready_tx = Some(ready_tx);
        let mut outcome = Outcome::default();
        let record_limit = Limits::default().record_bytes + (64 << 10);
        loop {
            // Fill: wait (at most the stall limit per frame) for whole records, then take
            // whatever else has already arrived, up to a step's worth.
            let mut failure: Option<String> = None;
            while !ended && ready.len() < STEP_BYTES {
                let wait = if ready.is_empty() || (header.is_none() && splitter.csv != Some(false)) {
                    stall
                } else {
                    std::time::Duration::ZERO
                };
                match tokio::time::timeout(wait, body.frame()).await {
                    Err(_) if wait.is_zero() => break,
                    Err(_) => {
                        failure = Some(format!("the upload stalled for {} s", stall.as_secs()));
                        break;
                    }
                    Ok(None) => {
                        ended = true;
                        ready.extend(splitter.finish());
                    }
                    Ok(Some(Err(e))) => {
                        failure = Some(e.to_string());
                        break;
                    }
                    Ok(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            ready.extend(splitter.push(&data));
                            if splitter.waiting() > record_limit {
                                failure = Some(format!("a record is longer than {record_limit} bytes"));
                                break;
                            }
                        }
                    }
                }
                // A CSV file's first record is its header: kept apart, put in front of
                // every step.
                if header.is_none() && splitter.csv == Some(true) && !ready.is_empty() {
                    let end = first_record_end(&ready).unwrap_or(ready.len());
                    let rest = ready.split_off(end);
                    header = Some(std::mem::replace(&mut ready, rest));
                }
            }
            let csv = splitter.csv == Some(true);
            // The first step also checks the header (or an empty upload) and answers.
            if let Some(tx) = ready_tx.take() {
                let head = header.clone().unwrap_or_default();
                let fmt = splitter.csv.map(|c| if c { Format::Csv } else { Format::JsonLines }).or(format);
                let mapping = mapping.clone();
                let checked = tokio::task::spawn_blocking(move || {
                    batch::open(Box::new(std::io::Cursor::new(head)), fmt, Limits::default(), &mapping).map(|o| o.notes)
                })
                .await;
                match checked {
                    Ok(Ok(notes)) => {
                        let _ = tx.send(Ok(notes));
                    }
                    Ok(Err(e)) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("the batch task stopped: {e}")));
                        return;
                    }
                }
                if csv {
                    lines_before = 1;
                }
            }
            if !ready.is_empty() {
                let piece = std::mem::take(&mut ready);
                let piece_lines = piece.iter().filter(|b| **b == b'\n').count() as u64;
                let head = header.clone().unwrap_or_default();
                let (inner, token, mapping) = (inner.clone(), token.clone(), mapping.clone());
                let offset = if csv { lines_before.saturating_sub(1) } else { lines_before };
                let step = tokio::task::spawn_blocking(move || {
                    let mut text = head;
                    text.extend_from_slice(&piece);
                    let fmt = Some(if csv { Format::Csv } else { Format::JsonLines });
                    let opened = batch::open(Box::new(std::io::Cursor::new(text)), fmt, Limits::default(), &mapping);
                    let records = match opened {
                        Ok(o) => o.records,
                        Err(e) => {
                            return (
                                Err(Stopped::Failed(format!("reading the upload failed: {e}"))),
                                Vec::new(),
                                outcome,
                            );
                        }
                    };
                    let records = Box::new(records.map(move |r| r.map(|(line, rec)| (line + offset, rec))));
                    let mut out = Vec::new();
                    let mut sink = |bytes: Bytes, _: &Outcome| {
                        out.push(bytes);
                        true
                    };
                    let r = screen_records(
                        &inner,
                        &viewer,
                        org,
                        &token,
                        records,
                        audit_path,
                        &mut outcome,
                        &mut sink,
                        &|| false,
                    );
                    (r, out, outcome)
                })
                .await;
                let Ok((result, pieces, counted)) = step else { return };
                outcome = counted;
                lines_before += piece_lines;
                for bytes in pieces {
                    match out_tx.send_timeout(Ok(bytes), stall).await {
                        Ok(()) => {}
                        Err(tokio::sync::mpsc::error::SendTimeoutError::Timeout(_)) => {
                            tracing::warn!(seconds = stall.as_secs(), "batch client stopped reading: batch ended");
                            return;
                        }
                        Err(tokio::sync::mpsc::error::SendTimeoutError::Closed(_)) => return,
                    }
                }
                match result {
                    Ok(()) => {}
                    Err(Stopped::Failed(reason)) => {
                        let _ = out_tx.send_timeout(Err(std::io::Error::other(reason)), stall).await;
                        return;
                    }
                    Err(Stopped::Early | Stopped::Unreadable) => return,
                }
            }
            if let Some(reason) = failure {
                tracing::warn!(%reason, "reading a batch upload failed");
                let line = json!({"error": {"reason": format!("reading the upload failed: {reason}")}});
                let _ = out_tx.send_timeout(Ok(Bytes::from(format!("{line}\n"))), stall).await;
                return;
            }
            if ended && ready.is_empty() {
                break;
            }
        }
        tracing::info!(
            screened = outcome.screened,
            errors = outcome.errors,
            matched = outcome.matched,
            review = outcome.review,
            "batch screened"
        );
    });
    let notes = match ready_rx.await {
        Ok(Ok(notes)) => notes,
        Ok(Err(e)) => return ApiError::bad_request(e).into_response(),
        Err(_) => return ApiError::internal("batch", "the batch task stopped").into_response(),
    };
    let mut resp = Response::new(Body::new(ChannelBody(out_rx)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    note_headers(&mut resp, &notes);
    resp
}

/// Why screening a stream of records stopped before its end.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// The reader of the results went away, or the run was cancelled.
    Early,
    /// The index or the audit log failed: the reason, for the answer.
    Failed(String),
    /// The upload could not be read on (an error line says so in the results).
    Unreadable,
}

/// Screens `records` for `viewer` chunk by chunk: each chunk's audit record (keyed hashes
/// only, under `audit_path`, for `org` and `token`) is written before its results go to
/// `sink`; a record that cannot be read becomes an error line. Stops when `sink` returns
/// false or `cancelled` says so. Shared by the streamed batch and batch jobs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn screen_records(
    inner: &crate::Inner,
    viewer: &Viewer,
    org: dossier_stix::OrgId,
    token: &str,
    records: Box<dyn Iterator<Item = std::io::Result<batch::Record>> + Send + '_>,
    audit_path: &str,
    outcome: &mut Outcome,
    sink: &mut dyn FnMut(Bytes, &Outcome) -> bool,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), Stopped> {
    let mut records = records.peekable();
    loop {
        if cancelled() {
            return Err(Stopped::Early);
        }
        match screen_next_chunk(inner, viewer, org, token, &mut records, audit_path, outcome)? {
            Chunk::Done => return Ok(()),
            Chunk::Results(bytes) => {
                if !sink(bytes, outcome) {
                    return Err(Stopped::Early); // the client went away or stopped reading
                }
            }
            Chunk::Last(bytes) => {
                sink(bytes, outcome);
                return Err(Stopped::Unreadable);
            }
        }
    }
}

/// What one step of a batch gave.
pub(crate) enum Chunk {
    /// No record left.
    Done,
    /// The results of the next chunk of records.
    Results(Bytes),
    /// The last results: the upload could not be read on (its error line is included).
    Last(Bytes),
}

/// Records read and screened together by [`screen_next_chunk`].
pub(crate) type Records<'a> = std::iter::Peekable<Box<dyn Iterator<Item = std::io::Result<batch::Record>> + Send + 'a>>;

/// Screens the next chunk of `records` for `viewer` and writes its audit record (keyed
/// hashes only) before handing back its results.
pub(crate) fn screen_next_chunk(
    inner: &crate::Inner,
    viewer: &Viewer,
    org: dossier_stix::OrgId,
    token: &str,
    records: &mut Records<'_>,
    audit_path: &str,
    outcome: &mut Outcome,
) -> Result<Chunk, Stopped> {
    if records.peek().is_none() {
        return Ok(Chunk::Done);
    }
    let threads = inner.config.screen_threads.max(1);
    let mut chunk = Vec::with_capacity(batch::CHUNK);
    let mut read_error = None;
    while chunk.len() < batch::CHUNK {
        match records.next() {
            Some(Ok(r)) => chunk.push(r),
            Some(Err(e)) => {
                read_error = Some(e);
                break;
            }
            None => break,
        }
    }
    if let Err(e) = inner.screener.catch_up(inner.store.as_ref()) {
        tracing::error!(error = %e, "screening index: catch-up failed");
        return Err(Stopped::Failed("screening index unavailable".into()));
    }
    let mut buf = Vec::with_capacity(chunk.len() * 512);
    let key = &inner.audit_key;
    let options = inner.screener.options_with(crate::review::suppressions_for(inner, org));
    let by = std::sync::OnceLock::new();
    let source = if audit_path.contains("jobs") { "job" } else { "batch" };
    let results =
        batch::screen_chunk(&inner.screener, viewer, &chunk, &options, threads, outcome, &mut buf, &|a, s| {
            let queued = if s.decision >= dossier_match::screen::Decision::Review {
                let by = by.get_or_init(|| crate::review::who(inner, token));
                crate::review::entry_of(inner, org, token, by, source, a, s)
            } else {
                None
            };
            (audit_entry(key, a, s), queued)
        });
    let (entries, queued): (Vec<serde_json::Value>, Vec<Option<dossier_store::NewReviewEntry>>) =
        results.into_iter().unzip();
    let record = dossier_store::AuditRecord {
        at: dossier_stix::timestamp::now_micros(),
        org: Some(org),
        token: Some(token.to_owned()),
        method: "POST".into(),
        path: audit_path.into(),
        params: Some(json!({ "screen": entries }).to_string()),
        status: 200,
        returned: entries.len() as u64,
    };
    if let Err(e) = inner.store.audit(&record) {
        tracing::error!(error = %e, "audit log write failed: stopping the batch");
        return Err(Stopped::Failed("audit log unavailable".into()));
    }
    crate::review::enqueue(inner, &queued.into_iter().flatten().collect::<Vec<_>>());
    match read_error {
        Some(e) => {
            tracing::warn!(error = %e, "reading a batch upload failed");
            outcome.errors += 1;
            let line = json!({"error": {"reason": format!("reading the upload failed: {e}")}});
            buf.extend_from_slice(format!("{line}\n").as_bytes());
            Ok(Chunk::Last(Bytes::from(buf)))
        }
        None => Ok(Chunk::Results(Bytes::from(buf))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hash_is_hmac_sha256() {
        // RFC 4231 test case 2.
        let full = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(keyed_hash(b"Jefe", "what do ya want for nothing?"), full[..32]);
    }
}
