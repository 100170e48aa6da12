//! The REST API under `/api/v1/` (JSON): the audit log, for ISAC analysts, and the sources
//! of an object.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dossier_stix::timestamp::Timestamp;
use dossier_store::AuditQuery;
use serde_json::json;

use crate::error::ApiError;
use crate::{AppState, Caller, Returned};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/objects/{id}/sources", get(sources))
        .route("/api/v1/mirrors", axum::routing::post(report_mirror))
}

/// `POST /api/v1/mirrors` `{"name": …, "synced_at": RFC 3339, "objects": N}`: a member's
/// mirror (`dossier mirror`) reports its freshness after each complete sync; ISAC staff see
/// it on the admin page. Kept per token and name; a member reports only for itself.
async fn report_mirror(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let m = crate::error::json_object(&body, &["name", "synced_at", "objects", "newest"])?;
    let name = crate::error::optional_text(&m, "name")?.ok_or_else(|| ApiError::bad_request("name is required"))?;
    let time = |k: &str| -> Result<Option<i64>, ApiError> {
        match crate::error::optional_text(&m, k)? {
            Some(s) => Ok(Some(
                Timestamp::parse(&s).map_err(|e| ApiError::bad_request(format!("{k} {s:?}: {e}")))?.unix_micros(),
            )),
            None => Ok(None),
        }
    };
    let now = dossier_stix::timestamp::now_micros();
    let synced_at = time("synced_at")?.ok_or_else(|| ApiError::bad_request("synced_at is required"))?;
    if synced_at > now + 300_000_000 {
        return Err(ApiError::bad_request("synced_at is in the future"));
    }
    let objects = m
        .get("objects")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| ApiError::bad_request("objects must be a count"))?;
    let report = dossier_store::MirrorReport {
        token: caller.token.id.clone(),
        name,
        org: caller.org.id,
        synced_at,
        newest: time("newest")?,
        objects,
        reported_at: now,
    };
    state.blocking(move |store| Ok(store.report_mirror(&report)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/audit?org=NAME&since=RFC3339&path=PREFIX&limit=N`: newest first.
async fn audit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !caller.viewer.is_isac_staff() {
        return Err(ApiError::forbidden("the audit log is for ISAC analysts"));
    }
    let since = match q.get("since") {
        Some(s) => {
            Some(Timestamp::parse(s).map_err(|e| ApiError::bad_request(format!("since {s:?}: {e}")))?.unix_micros())
        }
        None => None,
    };
    let limit = crate::error::limit_param(&q, 100, 10_000)?;
    let org_name = q.get("org").cloned();
    let path_prefix = q.get("path").cloned();
    let (records, orgs) = state
        .blocking(move |store| {
            let org = match &org_name {
                Some(name) => Some(store.org_by_name(name)?.id),
                None => None,
            };
            Ok((store.audit_log(&AuditQuery { org, since, path_prefix, limit, ..Default::default() })?, store.orgs()?))
        })
        .await?;
    let name = |id: Option<i64>| id.and_then(|id| orgs.iter().find(|o| o.id == id)).map(|o| o.name.clone());
    let body: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "at": Timestamp::from_unix_micros(r.at).as_str(), "org": name(r.org), "token": r.token,
                "method": r.method, "path": r.path, "params": r.params, "status": r.status, "returned": r.returned,
            })
        })
        .collect();
    let n = body.len();
    let mut resp = (StatusCode::OK, json!({ "records": body }).to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.extensions_mut().insert(Returned(n as u64));
    Ok(resp)
}

/// `GET /api/v1/objects/{id}/sources[?format=csv]`: who submitted the versions of an object
/// the caller may see (in a collection it may read, at a TLP it may see), with when; an
/// anonymous submitter is "an ISAC member" to everyone but itself and ISAC analysts, who
/// also see who curated a version. 404 when the caller may see no version of it.
async fn sources(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if dossier_stix::StixId::parse(&id).is_err() {
        return Err(ApiError::bad_request(format!("{id:?} is not a STIX id")));
    }
    let csv = match q.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::bad_request(format!("format {other:?}: json or csv"))),
    };
    let viewer = caller.viewer;
    let orgs = state.orgs().await?;
    let id2 = id.clone();
    let sources = state.read(move |store| Ok(crate::web::data::sources(store, &viewer, &orgs, &id2)?)).await?;
    if sources.is_empty() {
        return Err(ApiError::not_found("object"));
    }
    let n = sources.len();
    let mut resp = if csv {
        let body = crate::web::data::sources_csv(&sources).map_err(|e| ApiError::internal("sources CSV", e))?;
        let mut r = (StatusCode::OK, body).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        r
    } else {
        let list: Vec<serde_json::Value> = sources
            .iter()
            .map(|s| json!({"name": s["name"], "at": s["at"].as_i64().map(|m| Timestamp::from_unix_micros(m).as_str().to_owned())}))
            .collect();
        let mut r = (StatusCode::OK, json!({"id": id, "sources": list}).to_string()).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    };
    resp.extensions_mut().insert(Returned(n as u64));
    Ok(resp)
}
