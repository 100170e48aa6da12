//! Outgoing webhooks and e-mail: each organization may have its notifications POSTed to
//! URLs of its own — the event as JSON, or a Slack-compatible `{"text": …}` body — signed so
//! that the receiver can tell them from forgeries, or e-mailed (a `mailto:` address, sent
//! through the installation's SMTP server, STARTTLS by default):
//!
//! ```text
//! X-Dossier-Signature: t=1764806400,v1=<hex HMAC-SHA-256(secret, "1764806400." + body)>
//! X-Dossier-Event: access_request
//! X-Dossier-Delivery: 42
//! ```
//!
//! The receiver recomputes the HMAC over the timestamp, a dot and the raw body with the
//! secret it was shown when the webhook was made, compares in constant time, and refuses
//! old timestamps (replays). A delivery that fails (no connection, a timeout of 10 s, any
//! answer but 2xx) is tried again after 5 s, 10 s, 20 s … (doubling, at most an hour), up
//! to `webhook_attempts` times (8: about 21 minutes); then it is dead, listed in the
//! dead-letter list, and can be sent again from there. HTTPS uses the system's root
//! certificates (rustls); addresses on loopback, private or link-local networks are refused
//! unless the installation allows them (`webhook_allow_private`), so that a member cannot
//! make the server call into its own network.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use dossier_stix::timestamp::now_micros;
use dossier_store::{Delivery, NewNotification};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::{AppState, Caller, Inner};

/// Longest a webhook URL may be.
const MAX_URL: usize = 2048;
/// Webhooks one organization may have.
const PER_ORG: usize = 10;
/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The deliveries of `items` (already stored, with their ids) to their organizations'
/// webhooks that take their kind.
pub(crate) fn fan_out(inner: &Inner, items: &[NewNotification], ids: &[i64]) {
    let orgs: std::collections::BTreeSet<_> = items.iter().map(|n| n.org).collect();
    let mut hooks = Vec::new();
    for org in orgs {
        match inner.store.webhooks(Some(org)) {
            Ok(h) => hooks.extend(h),
            Err(e) => tracing::error!(error = %e, "reading webhooks failed"),
        }
    }
    if hooks.is_empty() {
        return;
    }
    let mut out = Vec::new();
    for (n, id) in items.iter().zip(ids) {
        for h in hooks.iter().filter(|h| h.org == n.org && (h.events.is_empty() || h.events.contains(&n.kind))) {
            let payload = if h.slack {
                let link = n.link.as_deref().map(|l| format!(" ({l})")).unwrap_or_default();
                json!({"text": format!("dossier: {}{link}", n.title)})
            } else {
                json!({"id": id, "event": n.kind, "at": n.at, "title": n.title, "link": n.link, "body": n.body})
            };
            out.push((h.id, h.org, n.kind.clone(), payload.to_string()));
        }
    }
    if let Err(e) = inner.store.queue_deliveries(&out, now_micros()) {
        tracing::error!(error = %e, "queueing webhook deliveries failed");
    }
}

/// The signature header of `body` sent at `t` (unix seconds).
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut text = format!("{t}.").into_bytes();
    text.extend_from_slice(body);
    format!("t={t},v1={}", dossier_match::keyed::hmac_hex(secret.as_bytes(), &text, 32))
}

/// How the server reaches its SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// User name and password, if the server wants them.
    pub credentials: Option<(String, String)>,
    /// The sender (`dossier@isac.example`).
    pub from: String,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only for a relay on the same host or network.
    None,
}

/// Sends one e-mail through `smtp`.
async fn mail(smtp: &Smtp, to: &str, subject: &str, text: String) -> Result<(), String> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let message = Message::builder()
        .from(smtp.from.parse().map_err(|e| format!("the sender {:?}: {e}", smtp.from))?)
        .to(to.parse().map_err(|e| format!("the address: {e}"))?)
        .subject(subject)
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| format!("the message: {e}"))?;
    let builder = match smtp.tls {
        SmtpTls::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(|e| e.to_string())?
        }
        SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|e| e.to_string())?,
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
    };
    let mut builder = builder.port(smtp.port).timeout(Some(TIMEOUT));
    if let Some((user, password)) = &smtp.credentials {
        builder = builder
            .credentials(lettre::transport::smtp::authentication::Credentials::new(user.clone(), password.clone()));
    }
    builder.build().send(message).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
}

/// The e-mail of one delivery's event: its title as the subject; the link and the event.
fn mail_text(payload: &str) -> (String, String) {
    let v: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let title = v["title"].as_str().or_else(|| v["text"].as_str()).unwrap_or("an event").to_owned();
    let mut text = format!("{title}\n\n");
    if let Some(link) = v["link"].as_str() {
        text.push_str(&format!("See {link} on the ISAC's dossier.\n\n"));
    }
    text.push_str(&serde_json::to_string_pretty(&v).unwrap_or_default());
    text.push('\n');
    (format!("dossier: {title}"), text)
}

/// A URL a webhook may use: `http` or `https`, a host, no credentials; or `mailto:` and one
/// e-mail address.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL {
        return Err(format!("at most {MAX_URL} characters"));
    }
    if let Some(address) = url.strip_prefix("mailto:") {
        return dossier_match::normalize::email::normalize(address)
            .map(|_| ())
            .map_err(|_| format!("{address:?} is not an e-mail address"));
    }
    let (scheme, rest) = url.split_once("://").ok_or("an http:// or https:// URL")?;
    if !matches!(scheme, "http" | "https") {
        return Err("only http:// and https:// URLs".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || url.chars().any(char::is_whitespace) {
        return Err("a host, without user name or password, and no spaces".into());
    }
    Ok(())
}

/// One POST: Ok when the receiver answered 2xx.
async fn post_once(url: &str, headers: &[(&str, String)], body: Bytes, allow_private: bool) -> Result<(), String> {
    let mut all: Vec<(&str, String)> = vec![("content-type", "application/json".to_owned())];
    all.extend(headers.iter().cloned());
    let answer = crate::outbound::call(crate::outbound::Call {
        method: hyper::Method::POST,
        url,
        headers: &all,
        body,
        public_only: !allow_private,
        max_answer: 64 * 1024,
        user_agent: "dossier-webhooks",
    })
    .await;
    match answer {
        Ok(a) if a.status.is_success() => Ok(()),
        Ok(a) => Err(format!("answered {}", a.status)),
        // A receiver that answers 2xx with an oversized body still got the delivery.
        Err(e) if e.message.starts_with("reading the answer") => Ok(()),
        Err(e) => Err(e.message),
    }
}

/// Delivers what is due: one attempt each, recorded (delivered, retried later, or dead).
pub(crate) async fn deliver_due(inner: Arc<Inner>) {
    let due = {
        let inner = inner.clone();
        tokio::task::spawn_blocking(move || inner.store.due_deliveries(now_micros(), 50)).await
    };
    let due: Vec<Delivery> = match due {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "reading due webhook deliveries failed");
            return;
        }
        Err(_) => return,
    };
    if due.is_empty() {
        return;
    }
    let hooks: HashMap<i64, dossier_store::Webhook> = {
        let inner = inner.clone();
        match tokio::task::spawn_blocking(move || inner.store.webhooks(None)).await {
            Ok(Ok(h)) => h.into_iter().map(|h| (h.id, h)).collect(),
            _ => return,
        }
    };
    for d in due {
        let Some(h) = hooks.get(&d.webhook) else { continue };
        let t = now_micros() / 1_000_000;
        let body = Bytes::from(d.payload.clone());
        let headers = [
            ("x-dossier-signature", signature(&h.secret, t, &body)),
            ("x-dossier-event", d.kind.clone()),
            ("x-dossier-delivery", d.id.to_string()),
        ];
        let allow_private = inner.config.webhook_allow_private;
        let attempt = async {
            match h.url.strip_prefix("mailto:") {
                Some(to) => match &inner.config.smtp {
                    Some(smtp) => {
                        let (subject, text) = mail_text(&d.payload);
                        mail(smtp, to, &subject, text).await
                    }
                    None => Err("e-mail is not configured on this server (smtp_host)".to_owned()),
                },
                None => post_once(&h.url, &headers, body, allow_private).await,
            }
        };
        let result = match tokio::time::timeout(TIMEOUT + Duration::from_secs(5), attempt).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
        };
        let attempts = d.attempts + 1;
        let (delivered, error, retry_at) = match result {
            Ok(()) => (true, None, None),
            Err(e) => {
                let retry = (attempts < inner.config.webhook_attempts).then(|| {
                    let base = i64::try_from(inner.config.webhook_backoff.as_micros()).unwrap_or(i64::MAX);
                    let wait = base.saturating_mul(1i64 << (attempts - 1).min(20)).min(3_600_000_000);
                    now_micros().saturating_add(wait)
                });
                tracing::warn!(delivery = d.id, attempts, error = %e, dead = retry.is_none(), "webhook delivery failed");
                (false, Some(e), retry)
            }
        };
        let inner = inner.clone();
        let id = d.id;
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = inner.store.record_attempt(id, delivered, error.as_deref(), retry_at, now_micros()) {
                tracing::error!(error = %e, "recording a webhook attempt failed");
            }
        })
        .await;
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks", get(list).post(add))
        .route("/api/v1/webhooks/{id}", delete(remove))
        .route("/api/v1/webhooks/deliveries", get(deliveries))
        .route("/api/v1/webhooks/deliveries/{id}/resend", post(resend))
}

/// The notification kinds a webhook may ask for.
pub const EVENTS: &[&str] =
    &["review", "access_request", "access_granted", "access_declined", "sighting", "monitoring"];

/// Makes a webhook for the caller's organization; the secret is returned this once.
pub(crate) async fn make(
    state: &AppState,
    caller: &Caller,
    url: String,
    events: Vec<String>,
    slack: bool,
) -> Result<(dossier_store::Webhook, String), ApiError> {
    check_url(&url).map_err(|e| ApiError::bad_request(format!("url: {e}")))?;
    if url.starts_with("mailto:") && state.0.config.smtp.is_none() {
        return Err(ApiError::bad_request("url: e-mail is not configured on this server (smtp_host)"));
    }
    if let Some(e) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(ApiError::bad_request(format!("events: {e:?} is not one of {}", EVENTS.join(", "))));
    }
    let org = caller.org.id;
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal("randomness", e))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let s2 = secret.clone();
    let hook = state
        .blocking(move |store| {
            if store.webhooks(Some(org))?.len() >= PER_ORG {
                return Err(ApiError::bad_request(format!("an organization has at most {PER_ORG} webhooks")));
            }
            Ok(store.add_webhook(org, &url, &s2, &events, slack, now_micros())?)
        })
        .await?;
    Ok((hook, secret))
}

/// `POST /api/v1/webhooks` with `{"url": "https://…", "events": ["access_request"], "slack": false}`.
async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let m = crate::error::json_object(&body, &["url", "events", "slack"])?;
    let url = m.get("url").and_then(Value::as_str).ok_or_else(|| ApiError::bad_request("url is required"))?;
    let events: Vec<String> = match m.get("events") {
        None => Vec::new(),
        Some(list) => list
            .as_array()
            .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
            .ok_or_else(|| ApiError::bad_request("events must be a list of event names"))?,
    };
    let slack = crate::error::optional_bool(&m, "slack")?.unwrap_or(false);
    let (hook, secret) = make(&state, &caller, url.trim().to_owned(), events, slack).await?;
    let mut out = serde_json::to_value(&hook).unwrap_or_default();
    out["secret"] = json!(secret);
    Ok((axum::http::StatusCode::CREATED, axum::Json(out)).into_response())
}

/// `GET /api/v1/webhooks`: the caller's organization's webhooks (never their secrets).
async fn list(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Result<Response, ApiError> {
    let org = caller.org.id;
    let hooks = state.blocking(move |store| Ok(store.webhooks(Some(org))?)).await?;
    Ok(axum::Json(json!({"webhooks": hooks, "events": EVENTS})).into_response())
}

/// `DELETE /api/v1/webhooks/{id}`.
async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let org = caller.org.id;
    state.blocking(move |store| Ok(store.remove_webhook(org, id)?)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/webhooks/deliveries?status=dead|pending|delivered`.
async fn deliveries(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let status = match q.get("status").map(String::as_str) {
        None => None,
        Some(s @ ("dead" | "pending" | "delivered")) => Some(s.to_owned()),
        Some(other) => return Err(ApiError::bad_request(format!("status {other:?}: dead, pending or delivered"))),
    };
    let org = caller.org.id;
    let rows = state.blocking(move |store| Ok(store.deliveries(org, status.as_deref(), 200)?)).await?;
    Ok(axum::Json(json!({"deliveries": rows})).into_response())
}

/// `POST /api/v1/webhooks/deliveries/{id}/resend`: a dead delivery, again.
async fn resend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let org = caller.org.id;
    let d = state.blocking(move |store| Ok(store.resend(org, id, now_micros())?)).await?;
    Ok(axum::Json(d).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_internal_addresses() {
        assert!(check_url("https://hooks.example.com/T1/B2").is_ok());
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("https://user:pw@example.com/").is_err());
        use crate::outbound::internal;
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(!internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_signature_is_an_hmac_over_the_timestamp_and_body() {
        let s = signature("k", 1_700_000_000, b"{}");
        let want = dossier_match::keyed::hmac_hex(b"k", b"1700000000.{}", 32);
        assert_eq!(s, format!("t=1700000000,v1={want}"));
    }
}
