//! The web interface at `/`: server-rendered pages for screeners, contributors and ISAC
//! analysts. Templates, styles and scripts are compiled into the binary (no CDN, works
//! offline). Every page reads through the same policy as the API: objects pass
//! [`dossier_stix::policy::may_see`] and collection access, and an object the viewer may not
//! see answers exactly like one that does not exist.
//!
//! Sessions: signing in with an API token or a user's password opens a server-side session
//! named by a random cookie (`HttpOnly`, `SameSite=Strict`, `Secure` unless the browser
//! talks to a loopback address), kept in the store by the cookie's SHA-256 so that a restart
//! signs nobody out. Every form carries the session's CSRF token, and every
//! POST must come from this origin. Every page request is audited like an API request, with
//! searched and screened values hashed.

mod account;
mod admin;
mod contribute;
pub(crate) mod data;
mod pages;
mod review;
mod screen;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use dossier_stix::Viewer;
use dossier_stix::timestamp::now_micros;
use dossier_store::{Org, TokenInfo};
use minijinja::Environment;
use sha2::{Digest, Sha256};

use crate::{AppState, Caller, auth};

/// Name of the session cookie.
const COOKIE: &str = "dossier_session";
/// A session ends after this long without a request …
const IDLE: Duration = Duration::from_secs(8 * 3600);
/// … and at the latest this long after sign-in.
const ABSOLUTE: Duration = Duration::from_secs(24 * 3600);
/// Largest form body, URL-encoded (a pasted bundle of `max_content_length` bytes can grow
/// to about three times its size when encoded).
pub(crate) const FORM_LIMIT: usize = 32 * 1024 * 1024;
/// Largest sign-in form: the one body anybody may send without credentials.
pub(crate) const LOGIN_LIMIT: usize = 16 * 1024;

pub fn router(state: AppState) -> Router<AppState> {
    let signed_in = Router::new()
        .route("/", get(pages::dashboard))
        .route("/search", get(pages::search))
        .route("/actors", get(pages::actors))
        .route("/actors/{id}", get(pages::object))
        .route("/objects/{id}", get(pages::object))
        .route("/screen", get(screen::form).post(screen::submit))
        .route("/screen/batch", get(screen::batch_page).post(screen::batch_run))
        .route("/contribute", get(contribute::form).post(contribute::submit))
        .route("/contribute/bundle", post(contribute::bundle))
        .route("/objects/{id}/sighting", post(contribute::sighting))
        .route("/objects/{id}/sources.csv", get(pages::sources_csv))
        .route("/inbox", get(review::inbox))
        .route("/watchlist", get(review::watchlist))
        .route("/watchlist/{id}/remove", post(review::unwatch))
        .route("/inbox/read", post(review::inbox_read))
        .route("/inbox/webhooks", post(review::add_webhook))
        .route("/inbox/webhooks/{id}/delete", post(review::remove_webhook))
        .route("/inbox/deliveries/{id}/resend", post(review::resend_delivery))
        .route("/review", get(review::page))
        .route("/review/{id}", post(review::judge))
        .route("/review/{id}/sighting", post(review::share))
        .route("/review/{id}/access", post(review::ask))
        .route("/access-requests/{id}", post(review::answer))
        .route("/admin", get(admin::overview))
        .route("/admin/orgs", post(admin::add_org))
        .route("/admin/users", post(admin::add_user))
        .route("/admin/users/{id}/disable", post(admin::disable_user))
        .route("/admin/users/{id}/enable", post(admin::enable_user))
        .route("/admin/users/{id}/password", post(admin::reset_password))
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/admin/tokens", post(admin::add_token))
        .route("/admin/tokens/{id}/revoke", post(admin::revoke_token))
        .route("/admin/collections", post(admin::add_collection))
        .route("/admin/audit", get(admin::audit))
        .route("/logout", post(logout))
        .layer(axum::middleware::from_fn_with_state(state.clone(), session_layer));
    Router::new()
        .route("/login", get(login_page).post(login).layer(axum::extract::DefaultBodyLimit::max(LOGIN_LIMIT)))
        .route("/static/{file}", get(asset))
        .merge(signed_in)
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
        .layer(axum::middleware::from_fn(headers_layer))
}

// ---- sessions ---------------------------------------------------------------------------

/// Who a session stands for: a token or a password user, by id (a token's secret is never
/// kept). Both are looked up again on every request, so that revoking or expiring a token,
/// or disabling a user, ends the session at once.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Principal {
    Token(String),
    User(String),
}

impl Principal {
    /// How the store names it: `token:ID` or `user:ID`.
    fn key(&self) -> String {
        match self {
            Principal::Token(id) => format!("token:{id}"),
            Principal::User(id) => format!("user:{id}"),
        }
    }
    fn parse(key: &str) -> Option<Self> {
        match key.split_once(':')? {
            ("token", id) => Some(Principal::Token(id.to_owned())),
            ("user", id) => Some(Principal::User(id.to_owned())),
            _ => None,
        }
    }
}

#[derive(Clone)]
struct Session {
    principal: Principal,
    csrf: String,
    /// Unix microseconds.
    started: i64,
    last: i64,
    /// The `last` the store holds (written at most once a minute).
    stored_last: i64,
}

impl Session {
    fn expired(&self, now: i64) -> bool {
        now - self.last >= IDLE.as_micros() as i64 || now - self.started >= ABSOLUTE.as_micros() as i64
    }
}

/// How stale the stored last use of a session may get (the idle limit after a restart is
/// this much more lenient).
const TOUCH_EVERY: i64 = 60_000_000;

/// Signed-in sessions, keyed by the SHA-256 of the cookie value: kept in the store, so that
/// a restart signs nobody out, and in memory in front of it.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Opens a session for `principal`; returns the cookie value.
async fn open_session(state: &AppState, principal: Principal) -> Result<String, WebError> {
    let id = random_hex(32)?;
    let now = now_micros();
    let session = Session { principal, csrf: random_hex(24)?, started: now, last: now, stored_last: now };
    let stored = dossier_store::WebSession {
        key: digest(&id),
        principal: session.principal.key(),
        csrf: session.csrf.clone(),
        started: now,
        last: now,
    };
    state
        .blocking(move |store| {
            store.prune_sessions(now - IDLE.as_micros() as i64, now - ABSOLUTE.as_micros() as i64)?;
            Ok(store.save_session(&stored)?)
        })
        .await?;
    let mut map = state.0.sessions.lock();
    if map.len() > 50_000 {
        map.retain(|_, s| !s.expired(now));
    }
    map.insert(digest(&id), session);
    Ok(id)
}

/// The live session named by a cookie, from memory or (after a restart) the store.
async fn find_session(state: &AppState, cookie: &str) -> Result<Option<Session>, WebError> {
    let key = digest(cookie);
    let now = now_micros();
    let cached = state.0.sessions.lock().get(&key).cloned();
    let mut session = match cached {
        Some(s) => s,
        None => {
            let Some(stored) = state.blocking(move |store| Ok(store.session(&key)?)).await? else {
                return Ok(None);
            };
            let Some(principal) = Principal::parse(&stored.principal) else { return Ok(None) };
            Session {
                principal,
                csrf: stored.csrf,
                started: stored.started,
                last: stored.last,
                stored_last: stored.last,
            }
        }
    };
    if session.expired(now) {
        close_session(state, cookie).await?;
        return Ok(None);
    }
    session.last = now;
    if now - session.stored_last >= TOUCH_EVERY {
        session.stored_last = now;
        state.blocking(move |store| Ok(store.touch_session(&key, now)?)).await?;
    }
    state.0.sessions.lock().insert(key, session.clone());
    Ok(Some(session))
}

async fn close_session(state: &AppState, cookie: &str) -> Result<(), WebError> {
    let key = digest(cookie);
    state.0.sessions.lock().remove(&key);
    state.blocking(move |store| Ok(store.delete_session(&key)?)).await?;
    Ok(())
}

/// Ends every session of a password user (after a password change or reset), except the
/// one named by the cookie `keep`; returns how many ended.
pub(crate) async fn close_user_sessions(state: &AppState, user: &str, keep: Option<&str>) -> Result<usize, WebError> {
    let keep = keep.map(digest);
    let principal = Principal::User(user.to_owned());
    state.0.sessions.lock().retain(|k, s| Some(*k) == keep || s.principal != principal);
    let key = principal.key();
    Ok(state.blocking(move |store| Ok(store.delete_sessions_of(&key, keep.as_ref())?)).await?)
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

fn random_hex(bytes: usize) -> Result<String, WebError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| WebError::internal("no system randomness", e))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == COOKIE && !v.is_empty()).then(|| v.to_owned())
    })
}

/// Whether the browser reached us on a loopback name, where `Secure` cookies would not be
/// sent back over plain HTTP.
fn loopback_host(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let name =
        if host.starts_with('[') { host.split(']').next().unwrap_or("") } else { host.split(':').next().unwrap_or("") };
    matches!(name.trim_start_matches('['), "localhost" | "::1") || name.starts_with("127.")
}

fn session_cookie(headers: &HeaderMap, value: &str, max_age: u64) -> HeaderValue {
    let secure = if loopback_host(headers) { "" } else { "; Secure" };
    HeaderValue::from_str(&format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static("dossier_session=; Path=/; Max-Age=0"))
}

/// The signed-in user of a page request.
#[derive(Clone)]
pub(crate) struct Web {
    pub caller: Caller,
    pub csrf: String,
    /// How the page names who is signed in ("alice", or the token's label).
    pub who: String,
    /// The user's id when signed in with a password (`None` for a token session).
    pub user: Option<String>,
    /// When this session began, unix microseconds (for the account page).
    pub since: i64,
    /// The organization's review entries waiting for a judgement (the header's badge).
    pub reviews: u64,
    /// The organization's unread notifications (the header's badge).
    pub unread: u64,
}

impl Web {
    pub fn viewer(&self) -> Viewer {
        self.caller.viewer
    }
    pub fn staff(&self) -> bool {
        self.caller.viewer.is_isac_staff()
    }
    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), WebError> {
        let (a, b) = (presented.as_bytes(), self.csrf.as_bytes());
        let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        if same {
            Ok(())
        } else {
            Err(WebError::new(
                StatusCode::FORBIDDEN,
                "The form has expired",
                "this form was not issued by your current session; reload the page and try again",
            ))
        }
    }
    /// The common template context.
    pub fn ctx(&self, page: &str) -> minijinja::Value {
        minijinja::context! {
            page => page,
            who => self.who,
            org => self.caller.org.name,
            role => self.caller.token.role.as_str(),
            staff => self.staff(),
            csrf => self.csrf,
            reviews => self.reviews,
            unread => self.unread,
        }
    }
}

/// Resolves the session into a caller, or sends the browser to the sign-in page. Then runs
/// the page and writes its audit record (the write is part of the request, as for the API).
async fn session_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    if method == Method::POST && !same_origin(req.headers()) {
        return WebError::new(
            StatusCode::FORBIDDEN,
            "Cross-site request refused",
            "forms are accepted from this site only",
        )
        .into_response();
    }
    let to_login = || {
        let target = if method == Method::GET { req_target(&path) } else { String::new() };
        Redirect::to(&format!("/login{target}")).into_response()
    };
    let Some(cookie) = cookie_value(req.headers()) else { return to_login() };
    let session = match find_session(&state, &cookie).await {
        Ok(Some(s)) => s,
        Ok(None) => return to_login(),
        Err(e) => return e.into_response(),
    };
    let resolved = resolve(&state, &session.principal).await;
    let (caller, who) = match resolved {
        Ok(Some(x)) => x,
        Ok(None) => {
            if let Err(e) = close_session(&state, &cookie).await {
                return e.into_response();
            }
            return to_login();
        }
        Err(e) => return e.into_response(),
    };
    let user = match &session.principal {
        Principal::User(id) => Some(id.clone()),
        Principal::Token(_) => None,
    };
    let (reviews, unread) = {
        let inner = state.0.clone();
        let org = caller.org.id;
        tokio::task::spawn_blocking(move || {
            (crate::review::open_count(&inner, org), crate::notify::unread_count(&inner, org))
        })
        .await
        .unwrap_or((0, 0))
    };
    let web =
        Web { caller: caller.clone(), csrf: session.csrf.clone(), who, user, since: session.started, reviews, unread };
    let params = req.uri().query().map(str::to_owned);
    req.extensions_mut().insert(web);
    req.extensions_mut().insert(SessionCookie(cookie));
    // A form that stores something runs to its end (its body was received in time): its
    // answer, not a timeout, says whether it was stored.
    let is_write = crate::writes(&method, &path);
    if is_write
        && let Err(e) =
            crate::audit_received(&state, &caller.org, &caller.token.id, method.as_str(), &format!("web:{path}")).await
    {
        state.note_storage(e.status);
        return WebError::from(e).into_response();
    }
    let mut resp = if is_write {
        match crate::receive_body(&state, req).await {
            Ok(req) => next.run(req).await,
            Err(resp) => resp,
        }
    } else {
        match tokio::time::timeout(state.0.config.request_timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => WebError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Timed out",
                "the page took too long; narrow the request",
            )
            .into_response(),
        }
    };
    state.note_storage(resp.status());
    // Pages whose query names people (searches, screens, the audit lookup of a value)
    // record only what their handler hashed.
    let sensitive = path.starts_with("/search") || path.starts_with("/screen") || path.starts_with("/admin/audit");
    let record = crate::audit_record(
        &resp,
        &caller.org,
        &caller.token.id,
        method.as_str(),
        format!("web:{path}"),
        params,
        sensitive,
    );
    if let Err(e) = crate::audit_answered(&state, record, is_write, resp.status()).await {
        return WebError::from(e).into_response();
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(%method, path = %format!("web:{path}"), status = resp.status().as_u16(), org = %caller.org.name, ms = ms as u64, "page");
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        resp.headers_mut().insert("server-timing", v);
    }
    resp
}

fn req_target(path: &str) -> String {
    if path == "/" || !path.starts_with('/') { String::new() } else { format!("?next={}", urlencode(path)) }
}

/// The session cookie of this request (for sign-out, and to keep this session when a
/// password change ends the others).
#[derive(Clone)]
pub(crate) struct SessionCookie(pub String);

/// A POST must come from this origin: `Origin` (or, failing it, `Referer`) names our host.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let from = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|v| v.to_str().ok());
    match from {
        // Browsers send Origin on every POST; a client that sends neither is not a browser
        // and carries no ambient cookie it did not set itself.
        None => true,
        Some(o) => {
            let rest = o.split_once("://").map_or(o, |(_, r)| r);
            rest.split('/').next() == Some(host)
        }
    }
}

/// The caller a session stands for, or `None` when its token or user is no longer valid.
async fn resolve(state: &AppState, p: &Principal) -> Result<Option<(Caller, String)>, WebError> {
    match p {
        Principal::Token(id) => {
            let id = id.clone();
            let token = state.blocking(move |store| Ok(store.token(&id)?)).await.map_err(WebError::from)?;
            let now = now_micros();
            let Some(token) = token.filter(|t| t.revoked.is_none() && t.expires.is_none_or(|e| e > now)) else {
                return Ok(None);
            };
            let orgs = state.orgs().await.map_err(WebError::from)?;
            let Some(org) = orgs.iter().find(|o| o.id == token.org).cloned() else { return Ok(None) };
            let who = token.label.clone().unwrap_or_else(|| token.id.clone());
            Ok(Some((caller_of(token, org), who)))
        }
        Principal::User(id) => {
            let id = id.clone();
            let user = state.blocking(move |store| Ok(store.user(&id)?)).await.map_err(WebError::from)?;
            let Some(user) = user.filter(|u| u.disabled.is_none()) else { return Ok(None) };
            let orgs = state.orgs().await.map_err(WebError::from)?;
            let Some(org) = orgs.iter().find(|o| o.id == user.org).cloned() else { return Ok(None) };
            let token = TokenInfo {
                id: format!("user:{}", user.name),
                org: user.org,
                role: user.role,
                label: Some(user.name.clone()),
                created: user.created,
                expires: None,
                revoked: None,
            };
            Ok(Some((caller_of(token, org), user.name)))
        }
    }
}

fn caller_of(token: TokenInfo, org: Org) -> Caller {
    let viewer = Viewer { org: org.id, role: token.role, isac: org.isac };
    Caller { token, org, viewer }
}

// ---- sign-in ----------------------------------------------------------------------------

#[derive(serde::Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
}

async fn login_page(axum::extract::Query(q): axum::extract::Query<LoginQuery>) -> Response {
    render("login.html", minijinja::context! { page => "login", next => safe_next(q.next.as_deref()) })
}

/// Only a same-origin path may follow sign-in (no open redirect): it starts with one `/`,
/// and holds no backslash, no whitespace and no control character — browsers drop tabs and
/// line breaks from URLs, so `/\t/evil.example` would become `//evil.example`, another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control())
                && n.len() <= 2048 =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: axum::extract::Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(form.0);
    let ip = state.client_ip(peer.ip(), &headers);
    if !same_origin(&headers) {
        return WebError::new(StatusCode::FORBIDDEN, "Cross-site request refused", "sign in from this site")
            .into_response();
    }
    let next = safe_next(Some(f.get("next")));
    let token = f.get("token").trim().to_owned();
    let (user, password) = (f.get("user").trim().to_owned(), f.get("password").to_owned());
    // A password attempt is counted before the password is hashed (no race between
    // concurrent guesses and the slow hash), against the address and the account. A token is
    // a hash lookup that cannot be guessed: a valid one signs in whatever others failed from
    // this address; an invalid one counts against the address.
    let mut keys = vec![auth::Key::Addr(ip)];
    if token.is_empty() && !user.is_empty() {
        keys.push(auth::Key::Account(user.to_lowercase()));
    }
    let valid_token = if token.is_empty() {
        None
    } else {
        match state.authenticate(token.clone()).await {
            Ok(found) => found.map(|(info, _)| (info.id, info.org)),
            Err(e) => return WebError::from(e).into_response(),
        }
    };
    // Who the attempt was for, for the audit log: the account named (never a secret).
    let mut who: (Option<i64>, Option<String>) =
        (None, (!user.is_empty()).then(|| format!("user:{}", user.chars().take(128).collect::<String>())));
    if valid_token.is_none()
        && let Err(e) = state.0.throttle.begin(&keys).await
    {
        let _ = audit_sign_in(&state, who.0, who.1, ip, "sign-in refused: too many failures", 429).await;
        return WebError { title: "Too many failed sign-ins", ..WebError::from(e) }.into_response();
    }
    let principal = if let Some((id, org)) = valid_token {
        who = (Some(org), Some(id.clone()));
        Some(Principal::Token(id))
    } else if !token.is_empty() {
        None
    } else if !user.is_empty() {
        let found = state.blocking(move |store| Ok(store.user(&user)?)).await;
        match found {
            // No password is longer than the longest one can set: refused without hashing.
            Ok(Some(u)) if u.disabled.is_none() && password.len() <= MAX_PASSWORD => {
                who.0 = Some(u.org);
                let hash = u.password_hash.clone();
                let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
                ok.then_some(Principal::User(u.id))
            }
            Ok(found) => {
                who.0 = found.map(|u| u.org);
                // Spend the same time as a real check, so that names cannot be probed.
                let _ = tokio::task::spawn_blocking(move || verify_password(&password, dummy_hash())).await;
                None
            }
            Err(e) => return WebError::from(e).into_response(),
        }
    } else {
        None
    };
    let Some(principal) = principal else {
        let _ = audit_sign_in(&state, who.0, who.1, ip, "sign-in failed", 401).await;
        tracing::warn!(%ip, "web sign-in failed");
        let mut resp = render(
            "login.html",
            minijinja::context! { page => "login", next => next, error => "Those credentials were not accepted. Check the token, or the user name and password." },
        );
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        return resp;
    };
    if matches!(principal, Principal::User(_)) {
        state.0.throttle.refund(&keys).await;
    }
    // Like every request, a sign-in that cannot be audited does not happen.
    if let Err(e) = audit_sign_in(&state, who.0, who.1, ip, "sign-in", 303).await {
        return WebError::from(e).into_response();
    }
    let id = match open_session(&state, principal).await {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let mut resp = Redirect::to(&next).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&headers, &id, ABSOLUTE.as_secs()));
    resp
}

/// Writes a sign-in attempt to the audit log: the account or token id it was for (never a
/// password or a token's secret), the client address and what came of it.
async fn audit_sign_in(
    state: &AppState,
    org: Option<i64>,
    credential: Option<String>,
    ip: std::net::IpAddr,
    event: &str,
    status: u16,
) -> Result<(), crate::ApiError> {
    let record = dossier_store::AuditRecord {
        at: dossier_stix::timestamp::now_micros(),
        org,
        token: credential,
        method: "POST".into(),
        path: "web:/login".into(),
        params: Some(serde_json::json!({"event": event, "address": ip.to_string()}).to_string()),
        status,
        returned: 0,
    };
    state.0.audit.write(record).await
}

async fn logout(
    State(state): State<AppState>,
    axum::extract::Extension(cookie): axum::extract::Extension<SessionCookie>,
    headers: HeaderMap,
    _form: Posted,
) -> Response {
    if let Err(e) = close_session(&state, &cookie.0).await {
        return e.into_response();
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&headers, "", 0));
    resp
}

/// An argon2id hash (PHC string) of `password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no system randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub(crate) fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A valid hash of a random password, checked when the user name is unknown.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_hex(16).unwrap_or_default()).unwrap_or_default())
}

/// The shortest password a user may be given.
pub const MIN_PASSWORD: usize = 12;
/// The longest, in bytes (argon2 takes any length; this bounds the work a form can ask for).
pub const MAX_PASSWORD: usize = 1024;

/// What is wrong with a new password, if anything: the one rule for the admin page, the
/// account page and the command line.
pub fn password_problem(password: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD {
        Some(format!("a password has at least {MIN_PASSWORD} characters (this has {length})"))
    } else if password.len() > MAX_PASSWORD {
        Some(format!("a password has at most {MAX_PASSWORD} bytes"))
    } else {
        None
    }
}

// ---- rendering --------------------------------------------------------------------------

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../web/templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "login.html",
    "error.html",
    "dashboard.html",
    "search.html",
    "actors.html",
    "object.html",
    "screen.html",
    "batch.html",
    "contribute.html",
    "admin.html",
    "audit.html",
    "account.html",
    "review.html",
    "inbox.html",
    "watchlist.html",
    "macros.html",
);

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                // A template that does not compile is a build defect; the tests render every page.
                tracing::error!(template = name, %e, "template does not compile");
            }
        }
        env.add_filter("ts", |micros: i64| {
            dossier_stix::Timestamp::from_unix_micros(micros).as_str()[..16].replace('T', " ")
        });
        // "1 actor", "2 actors" (every noun the pages count takes a plain s).
        env.add_filter(
            "count",
            |n: u64, noun: String| if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") },
        );
        env.add_filter("pct", |v: f64| format!("{:.0}%", v * 100.0));
        env.add_filter("stixtype", |s: String| s.split("--").next().unwrap_or_default().to_owned());
        // The identifier fields of the screening form, from the one table of kinds.
        env.add_global(
            "screen_fields",
            minijinja::Value::from_serialize(
                dossier_match::kinds::FIELDS.iter().map(|f| (f.name, f.label, f.example)).collect::<Vec<_>>(),
            ),
        );
        env
    })
}

/// Renders a page (200).
pub(crate) fn render(name: &str, ctx: minijinja::Value) -> Response {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => WebError::internal("rendering a page", e).into_response(),
    }
}

/// The start (UTC, microseconds) of a day given as a form's date field (`YYYY-MM-DD`);
/// `None` when the field is empty.
pub(crate) fn day_start(field: &str) -> Result<Option<i64>, WebError> {
    match field.trim() {
        "" => Ok(None),
        s => dossier_stix::Timestamp::parse(&format!("{s}T00:00:00Z"))
            .map(|t| Some(t.unix_micros()))
            .map_err(|_| WebError::bad_request("the date must read YYYY-MM-DD")),
    }
}

/// Percent-encodes everything but unreserved characters (and `/`), for a path or a query
/// value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Headers every page carries: a strict content security policy (no inline script, no
/// third-party anything), no framing, no sniffing, no caching of data pages.
async fn headers_layer(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    secure_headers(resp.headers_mut(), is_asset);
    resp
}

/// The page a browser gets for a path that is nothing (outside TAXII and the API, which
/// answer in their own media types): the web interface's 404, with its headers.
pub(crate) fn page_not_found() -> Response {
    let mut resp = WebError::not_found().into_response();
    secure_headers(resp.headers_mut(), false);
    resp
}

fn secure_headers(h: &mut HeaderMap, is_asset: bool) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("../../web/static/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../web/static/app.js")),
];

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, ty, body)) => {
            ([(header::CONTENT_TYPE, *ty), (header::CACHE_CONTROL, "public, max-age=3600")], *body).into_response()
        }
        None => WebError::not_found().into_response(),
    }
}

// ---- errors and forms -------------------------------------------------------------------

/// An error page.
#[derive(Debug)]
pub(crate) struct WebError {
    status: StatusCode,
    title: &'static str,
    detail: String,
    /// Seconds after which the request may be tried again (`Retry-After`).
    retry_after: Option<u64>,
}

impl WebError {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, title, detail: detail.into(), retry_after: None }
    }
    /// Unknown and hidden look the same: the page never tells which.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", "there is nothing here that you may see")
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Not allowed", detail)
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad request", detail)
    }
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "the server could not complete the request",
        )
    }
}

impl From<crate::ApiError> for WebError {
    fn from(e: crate::ApiError) -> Self {
        Self { status: e.status, title: e.title, detail: e.description, retry_after: e.retry_after }
    }
}

impl From<dossier_store::StoreError> for WebError {
    fn from(e: dossier_store::StoreError) -> Self {
        crate::ApiError::from(e).into()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut resp = render(
            "error.html",
            minijinja::context! { page => "error", status => self.status.as_u16(), title => self.title, detail => self.detail },
        );
        *resp.status_mut() = self.status;
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// A form posted by the signed-in user, its CSRF token checked: handlers that change
/// anything take this instead of a plain form.
pub(crate) struct Posted {
    pub web: Web,
    pub f: Fields,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let web = req
            .extensions()
            .get::<Web>()
            .cloned()
            .ok_or_else(|| WebError::internal("posted form", "no session on a signed-in route").into_response())?;
        let axum::extract::Form(pairs) = axum::extract::Form::<Vec<(String, String)>>::from_request(req, state)
            .await
            .map_err(|e| WebError::bad_request(e.body_text()).into_response())?;
        let f = Fields(pairs);
        web.check_csrf(f.get("csrf")).map_err(IntoResponse::into_response)?;
        Ok(Posted { web, f })
    }
}

/// A submitted form as its fields in order (repeated names allowed).
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
    /// The non-empty lines of a text area.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.get(name).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
    }
}
