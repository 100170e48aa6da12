//! The signed-in person's own account: who the session stands for and, for a password user,
//! changing the password — which ends every other session of that user.

use std::collections::BTreeMap;

use axum::extract::{ConnectInfo, Extension, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::{MIN_PASSWORD, Posted, SessionCookie, Web, WebError, hash_password, render, verify_password};
use crate::AppState;

async fn account_ctx(state: &AppState, web: &Web, extra: minijinja::Value) -> Result<minijinja::Value, WebError> {
    let user = match &web.user {
        Some(id) => {
            let id = id.clone();
            state.blocking(move |store| Ok(store.user(&id)?)).await?
        }
        None => None,
    };
    let t = &web.caller.token;
    Ok(context! {
        ..extra,
        ..web.ctx("account"),
        ..context! {
            user => user.map(|u| context! { name => u.name, created => u.created }),
            token => web.user.is_none().then(|| context! { id => t.id, label => t.label, created => t.created, expires => t.expires }),
            session_started => web.since,
            min_password => MIN_PASSWORD,
        }
    })
}

pub async fn page(State(state): State<AppState>, Extension(web): Extension<Web>) -> Result<Response, WebError> {
    Ok(render("account.html", account_ctx(&state, &web, context! {}).await?))
}

pub async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Extension(cookie): Extension<SessionCookie>,
    headers: axum::http::HeaderMap,
    Posted { web, f }: Posted,
) -> Result<Response, WebError> {
    let Some(user_id) = web.user.clone() else {
        return Err(WebError::bad_request(
            "this session was opened with an API token, which has no password; sign in with your user name",
        ));
    };
    let (current, new, confirm) = (f.get("current").to_owned(), f.get("new").to_owned(), f.get("confirm").to_owned());
    let mut problems: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    if let Some(p) = super::password_problem(&new) {
        problems.entry("new").or_default().push(p);
    } else if new == current {
        problems.entry("new").or_default().push("the same as the current password".into());
    }
    if confirm != new {
        problems.entry("confirm").or_default().push("does not repeat the new password".into());
    }
    let id = user_id.clone();
    let user = state
        .blocking(move |store| Ok(store.user(&id)?))
        .await?
        .ok_or_else(|| WebError::internal("password change", "the session's user is gone"))?;
    // Guessing the current password from a borrowed session counts like failed sign-ins:
    // against the address and the account, before the password is hashed.
    let ip = state.client_ip(peer.ip(), &headers);
    let keys = [crate::auth::Key::Addr(ip), crate::auth::Key::Account(user.name.to_lowercase())];
    state.0.throttle.begin(&keys).await.map_err(WebError::from)?;
    let hash = user.password_hash.clone();
    let right = current.len() <= super::MAX_PASSWORD
        && tokio::task::spawn_blocking(move || verify_password(&current, &hash)).await.unwrap_or(false);
    if right {
        state.0.throttle.refund(&keys).await;
    } else {
        tracing::warn!(%ip, "password change with a wrong current password");
        problems.entry("current").or_default().push("is not your current password".into());
    }
    if !problems.is_empty() {
        let ctx = account_ctx(&state, &web, context! { problems => problems }).await?;
        let mut resp = render("account.html", ctx);
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let phc = tokio::task::spawn_blocking(move || hash_password(&new))
        .await
        .map_err(|e| WebError::internal("hashing", e))?
        .map_err(|e| WebError::internal("hashing", e))?;
    let id = user_id.clone();
    state.blocking(move |store| Ok(store.set_password(&id, &phc)?)).await?;
    let ended = super::close_user_sessions(&state, &user_id, Some(&cookie.0)).await?;
    let flash = match ended {
        0 => "Password changed.".to_owned(),
        1 => "Password changed; your one other session was signed out.".to_owned(),
        n => format!("Password changed; your {n} other sessions were signed out."),
    };
    Ok(render("account.html", account_ctx(&state, &web, context! { flash => flash }).await?))
}
