//! Administration for ISAC analysts and admins: organizations, users, tokens (a new token's
//! secret is shown once), collections, and the audit log with filters.

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dossier_stix::Role;
use dossier_stix::Tlp;
use dossier_stix::timestamp::now_micros;
use dossier_store::{Access, AuditQuery};
use minijinja::context;
use serde_json::{Value, json};

use super::{Posted, Web, WebError, hash_password, render};
use crate::{AppState, Returned};

fn require_staff(web: &Web) -> Result<(), WebError> {
    if web.staff() { Ok(()) } else { Err(WebError::forbidden("administration is for ISAC analysts and admins")) }
}

/// Creating organizations, users and tokens is for admins; analysts read.
fn require_admin(web: &Web) -> Result<(), WebError> {
    require_staff(web)?;
    if web.caller.token.role == Role::Admin {
        Ok(())
    } else {
        Err(WebError::forbidden("only ISAC admins may change organizations, users, tokens and collections"))
    }
}

async fn overview_ctx(state: &AppState, web: &Web) -> Result<minijinja::Value, WebError> {
    let (orgs, users, tokens, collections, syncs, mirrors) = state
        .blocking(|store| {
            Ok((
                store.orgs()?,
                store.users()?,
                store.tokens()?,
                store.collections()?,
                store.sync_states()?,
                store.mirrors()?,
            ))
        })
        .await?;
    let org_name = |id: i64| orgs.iter().find(|o| o.id == id).map_or_else(|| id.to_string(), |o| o.name.clone());
    let now = now_micros();
    let tokens: Vec<Value> = tokens
        .iter()
        .rev()
        .map(|t| {
            let state = if t.revoked.is_some() {
                "revoked"
            } else if t.expires.is_some_and(|e| e <= now) {
                "expired"
            } else {
                "active"
            };
            json!({"id": t.id, "org": org_name(t.org), "role": t.role.as_str(), "label": t.label, "created": t.created,
                   "expires": t.expires, "state": state})
        })
        .collect();
    let users: Vec<Value> = users
        .iter()
        .map(|u| json!({"id": u.id, "name": u.name, "org": org_name(u.org), "role": u.role.as_str(), "created": u.created, "disabled": u.disabled.is_some()}))
        .collect();
    let collections: Vec<Value> = collections
        .iter()
        .map(|c| json!({"id": c.id, "uuid": c.uuid, "alias": c.alias, "title": c.title, "default_tlp": c.default_tlp.as_str(),
                        "read": c.read.as_str(), "write": c.write.as_str()}))
        .collect();
    let syncs: Vec<Value> = syncs
        .iter()
        .map(|s| {
            let (direction, rest) = s.name.split_once(':').unwrap_or(("", &s.name));
            let (peer, collection) = rest.split_once(':').unwrap_or((rest, ""));
            json!({"direction": direction, "peer": peer, "collection": collection, "cursor": s.cursor,
                   "objects": s.objects, "skipped": s.skipped, "last_run": s.last_run, "last_ok": s.last_ok,
                   "error": s.last_error})
        })
        .collect();
    // A mirror's freshness: how long ago it last finished a complete sync (it holds what its
    // member could see then), by this server's clock when it reported.
    let mirrors: Vec<Value> = mirrors
        .iter()
        .map(|m| {
            let age = (now - m.synced_at).max(0) / 1_000_000;
            json!({"org": org_name(m.org), "name": m.name, "synced_at": m.synced_at, "reported_at": m.reported_at,
                   "objects": m.objects, "age_seconds": age, "stale": age > 3600})
        })
        .collect();
    let orgs: Vec<Value> = orgs
        .iter()
        .map(|o| json!({"id": o.id, "name": o.name, "identity": o.identity_id, "isac": o.isac, "peer": o.peer}))
        .collect();
    Ok(context! {
        ..web.ctx("admin"),
        ..context! {
            orgs => orgs, users => users, tokens => tokens, collections => collections,
            syncs => syncs, mirrors => mirrors,
            admin => web.caller.token.role == Role::Admin,
            roles => ["member", "analyst", "admin"], tlps => ["clear", "green", "amber", "amber+strict", "red"],
        }
    })
}

pub async fn overview(State(state): State<AppState>, Extension(web): Extension<Web>) -> Result<Response, WebError> {
    require_staff(&web)?;
    Ok(render("admin.html", overview_ctx(&state, &web).await?))
}

/// Re-renders the admin page with a message (an error keeps the status it names).
async fn answer(
    state: &AppState,
    web: &Web,
    status: StatusCode,
    extra: minijinja::Value,
) -> Result<Response, WebError> {
    let ctx = overview_ctx(state, web).await?;
    let mut resp = render("admin.html", context! { ..extra, ..ctx });
    *resp.status_mut() = status;
    Ok(resp)
}

fn failed(e: WebError) -> minijinja::Value {
    context! { flash_error => e.detail }
}

pub async fn add_org(State(state): State<AppState>, Posted { web, f }: Posted) -> Result<Response, WebError> {
    require_admin(&web)?;
    let name = f.get("name").trim().to_owned();
    match state.blocking(move |store| Ok(store.add_org(&name)?)).await {
        Ok(o) => {
            answer(&state, &web, StatusCode::OK, context! { flash => format!("Organization {} added.", o.name) }).await
        }
        Err(e) => answer(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, failed(e.into())).await,
    }
}

fn org_by_id(orgs: &[dossier_store::Org], s: &str) -> Result<i64, WebError> {
    s.parse::<i64>()
        .ok()
        .filter(|id| orgs.iter().any(|o| o.id == *id))
        .ok_or_else(|| WebError::bad_request("choose an organization"))
}

pub async fn add_user(State(state): State<AppState>, Posted { web, f }: Posted) -> Result<Response, WebError> {
    require_admin(&web)?;
    let orgs = state.orgs().await?;
    let checked = (|| {
        let org = org_by_id(&orgs, f.get("org"))?;
        let role = Role::parse(f.get("role")).ok_or_else(|| WebError::bad_request("choose a role"))?;
        let password: String = f.get("password").to_owned();
        password_rules(&password)?;
        Ok::<_, WebError>((org, role, password))
    })();
    let (org, role, password) = match checked {
        Ok(x) => x,
        Err(e) => return answer(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, failed(e)).await,
    };
    let name = f.get("name").trim().to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| WebError::internal("hashing", e))?
        .map_err(|e| WebError::internal("hashing", e))?;
    match state.blocking(move |store| Ok(store.add_user(org, &name, role, &hash)?)).await {
        Ok(u) => answer(&state, &web, StatusCode::OK, context! { flash => format!("User {} added.", u.name) }).await,
        Err(e) => answer(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, failed(e.into())).await,
    }
}

pub async fn disable_user(state: State<AppState>, id: Path<String>, form: Posted) -> Result<Response, WebError> {
    set_user_enabled(state, id, form, false).await
}

pub async fn enable_user(state: State<AppState>, id: Path<String>, form: Posted) -> Result<Response, WebError> {
    set_user_enabled(state, id, form, true).await
}

/// Disabling ends the user's sessions at their next request; enabling lets them sign in again.
async fn set_user_enabled(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { web, .. }: Posted,
    enabled: bool,
) -> Result<Response, WebError> {
    require_admin(&web)?;
    state
        .blocking(move |store| {
            if enabled {
                store.enable_user(&id)?
            } else {
                store.disable_user(&id)?
            }
            Ok(())
        })
        .await?;
    Ok(Redirect::to("/admin#users").into_response())
}

/// An admin gives a user a new password (the user forgot theirs, or it leaked); every
/// session of that user ends.
pub async fn reset_password(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { web, f }: Posted,
) -> Result<Response, WebError> {
    require_admin(&web)?;
    let password = f.get("password").to_owned();
    if let Err(e) = password_rules(&password) {
        return answer(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, failed(e)).await;
    }
    let key = id.clone();
    let Some(user) = state.blocking(move |store| Ok(store.user(&key)?)).await? else {
        return Err(WebError::not_found());
    };
    let phc = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| WebError::internal("hashing", e))?
        .map_err(|e| WebError::internal("hashing", e))?;
    let uid = user.id.clone();
    state.blocking(move |store| Ok(store.set_password(&uid, &phc)?)).await?;
    let ended = super::close_user_sessions(&state, &user.id, None).await?;
    let flash = format!("Password of {} reset; {ended} of their sessions signed out.", user.name);
    answer(&state, &web, StatusCode::OK, context! { flash => flash }).await
}

/// [`super::password_problem`] as a refusal.
fn password_rules(password: &str) -> Result<(), WebError> {
    super::password_problem(password).map_or(Ok(()), |p| Err(WebError::bad_request(p)))
}

pub async fn add_token(State(state): State<AppState>, Posted { web, f }: Posted) -> Result<Response, WebError> {
    require_admin(&web)?;
    let orgs = state.orgs().await?;
    let checked = (|| {
        let org = org_by_id(&orgs, f.get("org"))?;
        let role = Role::parse(f.get("role")).ok_or_else(|| WebError::bad_request("choose a role"))?;
        let expires = match f.get("days").trim() {
            "" => None,
            d => {
                let days: i64 = d
                    .parse()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| WebError::bad_request("expiry is a number of days from 1 to 3650"))?;
                Some(now_micros() + days * 86_400_000_000)
            }
        };
        Ok::<_, WebError>((org, role, expires))
    })();
    let (org, role, expires) = match checked {
        Ok(x) => x,
        Err(e) => return answer(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, failed(e)).await,
    };
    let label = Some(f.get("label").trim().to_owned()).filter(|l| !l.is_empty());
    match state.blocking(move |store| Ok(store.create_token(org, role, label.as_deref(), expires)?)).await {
        Ok(t) => {
            answer(&state, &web, StatusCode::OK, context! { new_secret => t.secret, new_token => t.info.id }).await
        }
        Err(e) => answer(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, failed(e.into())).await,
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { web, .. }: Posted,
) -> Result<Response, WebError> {
    require_admin(&web)?;
    state.blocking(move |store| Ok(store.revoke_token(&id)?)).await?;
    // Cached authentications end within the cache's lifetime; drop them now.
    state.0.tokens.lock().unwrap_or_else(|p| p.into_inner()).clear();
    Ok(Redirect::to("/admin#tokens").into_response())
}

pub async fn add_collection(State(state): State<AppState>, Posted { web, f }: Posted) -> Result<Response, WebError> {
    require_admin(&web)?;
    let title = f.get("title").trim().to_owned();
    let alias = Some(f.get("alias").trim().to_owned()).filter(|a| !a.is_empty());
    let tlp = Tlp::parse(f.get("default_tlp")).unwrap_or(Tlp::Amber);
    let read = Access::parse(f.get("read")).unwrap_or(Access::Members);
    let write = Access::parse(f.get("write")).unwrap_or(Access::Members);
    let r = state
        .blocking(move |store| {
            dossier_store::validate_access(read, write)?;
            let c = store.add_collection(&title, alias.as_deref(), None, tlp)?;
            store.set_collection_access(c.id, read, write)?;
            Ok(c)
        })
        .await;
    match r {
        Ok(c) => {
            answer(&state, &web, StatusCode::OK, context! { flash => format!("Collection {} added.", c.title) }).await
        }
        Err(e) => answer(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, failed(e.into())).await,
    }
}

#[derive(serde::Deserialize, Default)]
pub struct AuditFilter {
    #[serde(default)]
    org: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    limit: String,
    /// A credential: a token id, or `user:NAME`.
    #[serde(default)]
    token: String,
    /// A value as somebody may have typed it into a search or a screen.
    #[serde(default)]
    value: String,
    /// `csv` for a download instead of the page.
    #[serde(default)]
    format: String,
}

impl AuditFilter {
    /// At most this many records (200 unless asked, 1 to 5,000).
    fn limit(&self) -> usize {
        self.limit.trim().parse::<usize>().unwrap_or(200).clamp(1, 5000)
    }
}

/// The records an audit filter selects, with organization names.
async fn audit_rows(state: &AppState, q: &AuditFilter) -> Result<Vec<Value>, WebError> {
    let orgs = state.orgs().await?;
    let org = match q.org.trim() {
        "" => None,
        s => Some(org_by_id(&orgs, s)?),
    };
    let since = super::day_start(&q.since)?;
    let limit = q.limit();
    let path_prefix = Some(q.path.trim().to_owned()).filter(|p| !p.is_empty());
    let token = Some(q.token.trim().to_owned()).filter(|t| !t.is_empty());
    if q.value.len() > 1024 {
        return Err(WebError::bad_request("the value is longer than 1024 bytes"));
    }
    let value = q.value.trim();
    let params_any =
        if value.is_empty() { Vec::new() } else { crate::screen_api::audit_hashes_of(&state.0.audit_key, value) };
    let query = AuditQuery { org, since, path_prefix, limit, token, params_any };
    let records = state.read(move |store| Ok(store.audit_log(&query)?)).await?;
    Ok(records
        .iter()
        .map(|r| {
            let org = r.org.and_then(|id| orgs.iter().find(|o| o.id == id)).map(|o| o.name.clone());
            json!({"at": r.at, "org": org, "token": r.token, "method": r.method, "path": r.path, "params": r.params,
                   "status": r.status, "returned": r.returned})
        })
        .collect())
}

pub async fn audit(
    State(state): State<AppState>,
    Extension(web): Extension<Web>,
    Query(q): Query<AuditFilter>,
) -> Result<Response, WebError> {
    require_staff(&web)?;
    let rows = audit_rows(&state, &q).await?;
    let n = rows.len() as u64;
    // This request is audited too: the filters, with the looked-up value as a keyed hash
    // only (the session layer records no query string for this path).
    let value = q.value.trim();
    let params = json!({"org": q.org, "path": q.path, "since": q.since, "limit": q.limit, "token": q.token,
        "value": (!value.is_empty()).then(|| crate::screen_api::search_hash(&state.0.audit_key, value)), "format": q.format});
    let params = crate::AuditParams(params.to_string());
    if q.format == "csv" {
        let mut resp = audit_csv(&rows)?;
        resp.extensions_mut().insert(Returned(n));
        resp.extensions_mut().insert(params);
        return Ok(resp);
    }
    let orgs = state.orgs().await?;
    let org_list: Vec<Value> = orgs.iter().map(|o| json!({"id": o.id, "name": o.name})).collect();
    let limit = q.limit();
    let f = json!({"org": q.org, "path": q.path, "since": q.since, "limit": limit, "token": q.token, "value": q.value});
    let csv_link = format!(
        "/admin/audit?format=csv&org={}&path={}&since={}&limit={limit}&token={}&value={}",
        super::urlencode(&q.org),
        super::urlencode(&q.path),
        super::urlencode(&q.since),
        super::urlencode(&q.token),
        super::urlencode(&q.value)
    );
    let mut resp = render(
        "audit.html",
        context! { ..web.ctx("admin"), ..context! { rows => rows, orgs => org_list, f => f, csv_link => csv_link } },
    );
    resp.extensions_mut().insert(Returned(n));
    resp.extensions_mut().insert(params);
    Ok(resp)
}

/// The selected records as a CSV download; cells a spreadsheet would run as a formula are
/// prefixed with `'` (paths and parameters hold what callers sent).
fn audit_csv(rows: &[Value]) -> Result<Response, WebError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| WebError::internal("writing the audit CSV", e);
    w.write_record(["at", "organization", "credential", "method", "path", "status", "returned", "parameters"])
        .map_err(fail)?;
    let cell = |v: &Value| {
        let s = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s }
    };
    for r in rows {
        let at = r["at"].as_i64().map(|m| dossier_stix::Timestamp::from_unix_micros(m).as_str().to_owned());
        w.write_record([
            at.unwrap_or_default(),
            cell(&r["org"]),
            cell(&r["token"]),
            cell(&r["method"]),
            cell(&r["path"]),
            cell(&r["status"]),
            cell(&r["returned"]),
            cell(&r["params"]),
        ])
        .map_err(fail)?;
    }
    let body = w.into_inner().map_err(|e| WebError::internal("writing the audit CSV", e))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"dossier-audit.csv\""),
        ],
        body,
    )
        .into_response())
}
