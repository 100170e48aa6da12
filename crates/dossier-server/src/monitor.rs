//! Continuous monitoring: a member enrols subjects — hired applicants, employees,
//! counterparties — kept only as the screening index's keyed hashes of their values, their
//! resume's MinHash signature and their photos' perceptual hashes (never the values), until
//! they expire or are removed. When intelligence arrives by any write path, the follower of
//! the change log (the one seam, [`dossier_follow`]) looks up only the subjects whose hashes
//! the changed objects carry (by key, not by re-running every watchlist), screens each as
//! its organization would — the same explained answer a screen gives, showing only what that
//! organization may see — and alerts it (inbox, webhooks, e-mail) when the answer reaches
//! review with objects not announced before.
//!
//! What is not monitored: fuzzy names and IP ranges (they need the value itself); a resume
//! or photo counts when another value of the subject brings it up, but a new resume or photo
//! alone does not trigger a re-screen.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use dossier_follow::{FollowError, Follower, Start, StoredCursor};
use dossier_match::screen::input::{self, Limits};
use dossier_match::screen::{Decision, Watched};
use dossier_stix::timestamp::now_micros;
use dossier_store::{Change, NewNotification, NewWatch, ObjectStore};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::{AppState, Caller, Inner, Returned};

/// Subjects one request may enrol.
const PER_REQUEST: usize = 10_000;

/// Enrols applicants for `caller`'s organization; returns their ids.
pub(crate) fn enrol(
    inner: &Inner,
    caller: &Caller,
    applicants: &[dossier_match::screen::Applicant],
) -> Result<Vec<i64>, ApiError> {
    inner.screener.catch_up(inner.store.as_ref()).map_err(|e| ApiError::internal("screening index", e))?;
    let now = now_micros();
    let retention = i64::try_from(inner.config.watch_retention.as_micros()).unwrap_or(i64::MAX);
    let by = crate::review::who(inner, &caller.token.id);
    let mut items: Vec<NewWatch> = Vec::with_capacity(applicants.len());
    for (i, a) in applicants.iter().enumerate() {
        let w = inner.screener.watch(a);
        // Nothing to look the subject up by: refused, not kept as an empty record.
        if w.probes.is_empty() && w.resume.is_none() && w.photos.is_empty() {
            return Err(ApiError::bad_request(format!(
                "subject {} ({:?}): no value that can be watched (give an identifier, a name, a resume or a photo hash)",
                i + 1,
                a.reference
            )));
        }
        items.push(NewWatch {
            org: caller.org.id,
            reference: a.reference.clone(),
            by_name: by.clone(),
            subject: serde_json::to_string(&w).unwrap_or_default(),
            hashes: w.hashes(),
            created: now,
            expires: now.saturating_add(retention),
        });
    }
    Ok(inner.store.watch(&items)?)
}

/// Re-screens the subjects that changes may concern.
struct Monitor<'a> {
    inner: &'a Inner,
}

impl Follower for Monitor<'_> {
    fn name(&self) -> &'static str {
        "monitoring"
    }

    fn apply(&self, store: &dyn ObjectStore, changes: &[Change]) -> Result<(), FollowError> {
        let inner = self.inner;
        let ids: Vec<String> =
            changes.iter().filter(|c| c.op == dossier_store::ChangeOp::Add).filter_map(|c| c.id.clone()).collect();
        if ids.is_empty() {
            return Ok(());
        }
        inner.screener.catch_up(store)?;
        let hashes = inner.screener.key_hashes_of(&ids);
        if hashes.is_empty() {
            return Ok(());
        }
        let now = now_micros();
        let subjects = inner.store.watched_by_hashes(&hashes, now)?;
        let orgs = inner.store.orgs()?;
        let mut out = Vec::new();
        for row in subjects {
            let Ok(subject) = serde_json::from_str::<Watched>(&row.subject) else { continue };
            let Some(org) = orgs.iter().find(|o| o.id == row.org) else { continue };
            let role = if org.isac { dossier_stix::Role::Analyst } else { dossier_stix::Role::Member };
            let viewer = dossier_stix::Viewer { org: org.id, role, isac: org.isac };
            let options = inner.screener.options_with(crate::review::suppressions_for(inner, org.id));
            let s = inner.screener.screen_watched(&subject, &viewer, &options);
            if s.decision < Decision::Review {
                continue;
            }
            let mut objects = s.revealed_objects();
            let restricted = s.matches.iter().any(|h| matches!(h, dossier_match::screen::Hit::Restricted(_)));
            if restricted {
                objects.push("restricted".into());
            }
            if objects.iter().all(|o| row.alerted.contains(o)) {
                continue; // nothing new to say
            }
            let mut alerted = row.alerted.clone();
            alerted.extend(objects);
            alerted.sort();
            alerted.dedup();
            inner.store.set_alerted(row.id, &alerted, now)?;
            out.push(NewNotification {
                org: row.org,
                at: now,
                kind: "monitoring".into(),
                title: format!("Watched {} now screens {}", row.reference, s.decision.as_str()),
                link: Some("/watchlist".into()),
                body: json!({"subject": row.id, "ref": row.reference, "result": crate::review::redact(&s)}),
            });
        }
        crate::notify::send(inner, out);
        Ok(())
    }
}

/// Follows the change log for the watched subjects since the last call (one caller at a
/// time: the background task).
pub(crate) fn follow(inner: &Inner) -> Result<usize, FollowError> {
    let m = Monitor { inner };
    let store = inner.store.as_ref();
    let cursor = StoredCursor { name: m.name(), store, log: store, start: Start::End };
    dossier_follow::catch_up(store, &m, &cursor, 5_000)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/watchlist", get(list).post(add)).route("/api/v1/watchlist/{id}", delete(remove))
}

/// `POST /api/v1/watchlist`: one applicant as JSON, or JSON Lines of them
/// (`Content-Type: application/x-ndjson`), in the screening request format.
async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let limits = Limits::default();
    let lines = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("ndjson") || t.contains("jsonl"));
    let mut applicants = Vec::new();
    if lines {
        for (i, line) in body.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let a = input::from_json(line, &limits).map_err(|e| {
                ApiError::bad_request(format!(
                    "line {}: {}{}",
                    i + 1,
                    e.field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default(),
                    e.reason
                ))
            })?;
            applicants.push(a);
            if applicants.len() > PER_REQUEST {
                return Err(ApiError::bad_request(format!("at most {PER_REQUEST} subjects per request")));
            }
        }
    } else {
        let a = input::from_json(&body, &limits).map_err(|e| {
            ApiError::bad_request(format!(
                "{}{}",
                e.field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default(),
                e.reason
            ))
        })?;
        applicants.push(a);
    }
    let inner = state.0.clone();
    let caller2 = caller.clone();
    let ids = state.blocking(move |_| enrol(&inner, &caller2, &applicants)).await?;
    let n = ids.len() as u64;
    let mut resp = (axum::http::StatusCode::CREATED, axum::Json(json!({"watched": ids}))).into_response();
    resp.extensions_mut().insert(Returned(n));
    Ok(resp)
}

/// What a listing says of a subject: its reference, who enrolled it, when, until when, when
/// last alerted, and how many values of which fields are watched — never the values.
pub(crate) fn listing(row: &dossier_store::WatchRow) -> Value {
    let mut fields: std::collections::BTreeMap<String, usize> = Default::default();
    if let Ok(w) = serde_json::from_str::<Watched>(&row.subject) {
        let mut seen = std::collections::BTreeSet::new();
        for p in &w.probes {
            if seen.insert((p.field.clone(), p.origin)) {
                *fields.entry(p.field.clone()).or_default() += 1;
            }
        }
        if w.resume.is_some() {
            fields.insert("resume_text".into(), 1);
        }
        if !w.photos.is_empty() {
            fields.insert("photos".into(), w.photos.len());
        }
    }
    json!({"id": row.id, "ref": row.reference, "by": row.by, "created": row.created, "expires": row.expires,
           "alerted_at": row.alerted_at, "fields": fields})
}

/// `GET /api/v1/watchlist`: the caller's organization's subjects.
async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limit = crate::error::limit_param(&q, 1000, 10_000)?;
    let org = caller.org.id;
    let rows = state.blocking(move |store| Ok(store.watched(org, now_micros(), limit)?)).await?;
    let n = rows.len() as u64;
    let mut resp = axum::Json(json!({"watched": rows.iter().map(listing).collect::<Vec<_>>()})).into_response();
    resp.extensions_mut().insert(Returned(n));
    Ok(resp)
}

/// `DELETE /api/v1/watchlist/{id}`.
async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let org = caller.org.id;
    state.blocking(move |store| Ok(store.unwatch(org, id)?)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}
