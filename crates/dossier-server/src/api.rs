//! The REST API under `/api/v1/` (JSON). For now: the audit log, for ISAC analysts.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dossier_stix::timestamp::Timestamp;
use dossier_store::AuditQuery;
use serde_json::json;

use crate::error::ApiError;
use crate::{AppState, Caller, Returned};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/audit", get(audit))
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
    let limit = match q.get("limit") {
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit must be 1..=10000"))?,
        None => 100,
    };
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
