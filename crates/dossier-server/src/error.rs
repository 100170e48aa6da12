//! The one table of public errors: each maps to an HTTP status and a TAXII error message
//! body. Internal details (database errors) are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::media::TAXII_21;

/// Seconds readiness stays failed after a write failed for lack of space.
pub(crate) const FULL_HOLD_SECS: u64 = 10;

/// An error a request ends with.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub title: &'static str,
    pub description: String,
    /// Further structured detail (invalid objects, …).
    pub details: Option<serde_json::Value>,
    /// Seconds after which a refused request may be tried again (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, title: &'static str, description: impl Into<String>) -> Self {
        Self { status, title, description: description.into(), details: None, retry_after: None }
    }
    /// Says when the request may be tried again.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad request", description)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Authentication required",
            "send an API token as HTTP Basic password or Bearer token",
        )
    }
    pub fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", description)
    }
    pub fn conflict(description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", description)
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", format!("{} not found", what.into()))
    }
    pub fn not_acceptable() -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            "Not acceptable",
            "this server answers application/taxii+json;version=2.1 only",
        )
    }
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            "send Content-Type: application/taxii+json;version=2.1",
        )
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request too large",
            format!("the body exceeds max_content_length ({limit} bytes)"),
        )
    }
    pub fn unprocessable(description: impl Into<String>, details: serde_json::Value) -> Self {
        Self {
            details: Some(details),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid STIX content", description)
        }
    }
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, "{context}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", "the server could not complete the request")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "title": self.title,
            "description": self.description,
            "http_status": self.status.as_u16().to_string(),
        });
        if let Some(d) = self.details {
            body["details"] = d;
        }
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_21));
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"dossier\", Bearer realm=\"dossier\""),
            );
        }
        resp
    }
}

impl From<dossier_store::StoreError> for ApiError {
    fn from(e: dossier_store::StoreError) -> Self {
        match e {
            dossier_store::StoreError::NotFound(what) => ApiError::not_found(what),
            // The request named something the store refuses (a limit, a state): the caller's to fix.
            dossier_store::StoreError::Invalid(what) => ApiError::bad_request(what),
            dossier_store::StoreError::Rejected(r) => {
                let problems: Vec<serde_json::Value> = r
                    .errors
                    .iter()
                    .map(|e| {
                        json!({"index": e.index, "id": e.problem.object_id, "property": e.problem.path,
                            "reason": e.problem.reason})
                    })
                    .collect();
                let n = r.invalid_objects.max(problems.len());
                let description = match (&r.fatal, problems.first()) {
                    (Some(fatal), _) => format!("{fatal}; nothing was stored"),
                    (None, Some(first)) if n == 1 => format!(
                        "{}: {}; nothing was stored",
                        first["id"].as_str().unwrap_or("an object"),
                        first["reason"].as_str().unwrap_or("refused")
                    ),
                    _ => format!("{n} problem(s) in the submitted objects; nothing was stored"),
                };
                ApiError::unprocessable(description, json!(problems))
            }
            other => match other.storage_failure() {
                Some(dossier_store::StorageFailure::Full) => {
                    tracing::error!(error = %other, "storage full");
                    ApiError::new(
                        StatusCode::INSUFFICIENT_STORAGE,
                        "Storage full",
                        "the server's disk is full: nothing was stored; the operator must free space",
                    )
                    .retry_after(60)
                }
                Some(dossier_store::StorageFailure::Unavailable) => {
                    tracing::error!(error = %other, "storage unavailable");
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Storage unavailable",
                        "the server cannot use its storage right now: nothing was stored; try again later",
                    )
                    .retry_after(10)
                }
                None => ApiError::internal("store error", other),
            },
        }
    }
}

/// The `limit` query parameter: `default` when absent, refused unless 1..=`max`.
pub(crate) fn limit_param(
    q: &std::collections::HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match q.get("limit") {
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be 1..={max}"))),
        None => Ok(default),
    }
}

/// A request body that must be one JSON object with only the `allowed` fields (an empty
/// body reads as `{}`); anything else is refused, naming the field.
pub(crate) fn json_object(
    body: &[u8],
    allowed: &[&str],
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let v: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("the body: {e}")))?
    };
    let serde_json::Value::Object(m) = v else { return Err(ApiError::bad_request("the body must be a JSON object")) };
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("unknown field {k:?}: give {}", allowed.join(", "))));
    }
    Ok(m)
}

/// An optional string field (blank reads as absent), trimmed.
pub(crate) fn optional_text(
    m: &serde_json::Map<String, serde_json::Value>,
    k: &str,
) -> Result<Option<String>, ApiError> {
    match m.get(k) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ApiError::bad_request(format!("{k} must be a string"))),
    }
}

/// An optional boolean field.
pub(crate) fn optional_bool(m: &serde_json::Map<String, serde_json::Value>, k: &str) -> Result<Option<bool>, ApiError> {
    match m.get(k) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(b) => b.as_bool().map(Some).ok_or_else(|| ApiError::bad_request(format!("{k} must be true or false"))),
    }
}
