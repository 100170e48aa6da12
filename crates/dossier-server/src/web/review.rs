//! The review queue in the browser: the organization's screens that asked for a look, a
//! judgement form on each, and for ISAC analysts the judgements across members.

use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use dossier_stix::timestamp::now_micros;
use dossier_store::{Disposition, ReviewQuery, ReviewStatus};
use minijinja::context;

use super::{Posted, Web, WebError, render};
use crate::{AppState, Returned};

/// Entries shown per page.
const PER_PAGE: usize = 50;

#[derive(serde::Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    judged: Option<i64>,
}

pub async fn page(
    State(state): State<AppState>,
    Extension(web): Extension<Web>,
    Query(f): Query<Filter>,
) -> Result<Response, WebError> {
    let (status, label) = match f.status.as_deref() {
        None | Some("open") => (ReviewStatus::Open, "open"),
        Some("judged") => (ReviewStatus::Judged, "judged"),
        Some("all") => (ReviewStatus::All, "all"),
        Some(_) => return Err(WebError::bad_request("status is open, judged or all")),
    };
    let org = web.caller.org.id;
    let staff = web.staff();
    let query = ReviewQuery { status, limit: PER_PAGE + 1, before: f.before };
    let orgs = state.orgs().await?;
    let (mut entries, counts, incoming, outgoing, every) = state
        .blocking(move |store| {
            use dossier_store::AccessSide;
            let entries = store.review_entries(org, &query, now_micros())?;
            let counts = if staff { Some(store.disposition_counts(None, 50)?) } else { None };
            let incoming = store.access_requests(org, AccessSide::Incoming, 200)?;
            let outgoing = store.access_requests(org, AccessSide::Outgoing, 200)?;
            let every = if staff { Some(store.access_requests(org, AccessSide::All, 200)?) } else { None };
            Ok((entries, counts, incoming, outgoing, every))
        })
        .await?;
    let incoming: Vec<serde_json::Value> = incoming.iter().map(|r| crate::review::owner_view(r, &orgs)).collect();
    // Each entry's own requests, by entry.
    let mut asked: std::collections::HashMap<i64, Vec<serde_json::Value>> = Default::default();
    for r in &outgoing {
        asked.entry(r.entry).or_default().push(crate::review::requester_view(r));
    }
    let every: Option<Vec<serde_json::Value>> =
        every.map(|all| all.iter().map(|r| crate::review::staff_view(r, &orgs)).collect());
    let more = (entries.len() > PER_PAGE).then(|| entries[PER_PAGE - 1].id);
    entries.truncate(PER_PAGE);
    let entries: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["access"] = serde_json::json!(asked.remove(&e.id).unwrap_or_default());
            v
        })
        .collect();
    let n = entries.len() as u64;
    let config = &state.0.config;
    let mut resp = render(
        "review.html",
        context! { ..web.ctx("review"), ..context! {
            entries => entries, status => label, more => more, counts => counts, judged => f.judged,
            incoming => incoming, every => every,
            retention_days => config.review_retention.as_secs() / 86_400, keeps_ref => config.review_keeps_ref,
        } },
    );
    resp.extensions_mut().insert(Returned(n));
    Ok(resp)
}

pub async fn judge(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { web, f }: Posted,
) -> Result<Response, WebError> {
    let disposition = Disposition::parse(f.get("disposition"))
        .ok_or_else(|| WebError::bad_request("choose confirmed, false positive or unsure"))?;
    let comment = Some(f.get("comment").trim().to_owned()).filter(|c| !c.is_empty());
    crate::review::judge_entry(&state, &web.caller, id, disposition, comment).await?;
    Ok(Redirect::to(&format!("/review?status=judged&judged={id}#entry-{id}")).into_response())
}

/// The sighting form of a confirmed entry: where it was seen, at what TLP, named or not, and
/// optionally the new identifiers the applicant used (one per line, as on the contribution
/// form), which become a new persona of the actor.
pub async fn share(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { web, f }: Posted,
) -> Result<Response, WebError> {
    let tlp = dossier_stix::Tlp::parse(f.get("tlp")).ok_or_else(|| WebError::bad_request("choose a TLP level"))?;
    let name = f.get("persona_name").trim().to_owned();
    let mut lines = std::collections::HashMap::new();
    for field in dossier_match::kinds::FIELDS.iter().filter(|x| x.name != "names") {
        let v = f.lines(&format!("persona_{}", field.name));
        if !v.is_empty() {
            lines.insert(field.name.to_owned(), v);
        }
    }
    let resume = f.get("persona_resume_text").trim().to_owned();
    let persona = (!name.is_empty() || !lines.is_empty() || !resume.is_empty()).then(|| crate::review::SharedPersona {
        name,
        region: Some(f.get("persona_region").trim().to_uppercase()).filter(|r| !r.is_empty()),
        resume,
        lines,
    });
    let share = crate::review::Share {
        tlp,
        named: f.get("named") == "on",
        description: Some(f.get("description").trim().to_owned()).filter(|d| !d.is_empty()),
        persona,
    };
    let shared = crate::review::share_sighting(&state, &web.caller, id, share).await?;
    let to = if shared.sighting_of.starts_with("threat-actor--") { "actors" } else { "objects" };
    let mut resp = Redirect::to(&format!("/{to}/{}#sightings", shared.sighting_of)).into_response();
    resp.extensions_mut().insert(Returned(shared.stored as u64));
    Ok(resp)
}

/// A restricted hit's "request access" form.
pub async fn ask(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { web, f }: Posted,
) -> Result<Response, WebError> {
    let note = Some(f.get("note").trim().to_owned()).filter(|n| !n.is_empty());
    crate::review::ask_access(&state, &web.caller, id, f.get("named") == "on", note).await?;
    Ok(Redirect::to(&format!("/review?status=all#entry-{id}")).into_response())
}

/// The owner's grant or decline.
pub async fn answer(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { web, f }: Posted,
) -> Result<Response, WebError> {
    let grant = match f.get("decision") {
        "grant" => true,
        "decline" => false,
        _ => return Err(WebError::bad_request("grant or decline")),
    };
    let reply = Some(f.get("reply").trim().to_owned()).filter(|n| !n.is_empty());
    crate::review::answer_access(&state, &web.caller, id, grant, reply).await?;
    Ok(Redirect::to("/review#access-requests").into_response())
}

/// The organization's inbox: what happened that concerns it, newest first; its webhooks
/// and their dead deliveries.
pub async fn inbox(State(state): State<AppState>, Extension(web): Extension<Web>) -> Result<Response, WebError> {
    inbox_page(&state, &web, None).await
}

async fn inbox_page(state: &AppState, web: &Web, secret: Option<(i64, String)>) -> Result<Response, WebError> {
    let org = web.caller.org.id;
    let (items, hooks, dead) = state
        .blocking(move |store| {
            Ok((
                store.notifications(org, false, 200)?,
                store.webhooks(Some(org))?,
                store.deliveries(org, Some("dead"), 100)?,
            ))
        })
        .await?;
    let n = items.len() as u64;
    let mut resp = render(
        "inbox.html",
        context! { ..web.ctx("inbox"), ..context! {
            items => items, hooks => hooks, dead => dead, events => crate::webhooks::EVENTS, secret => secret,
        } },
    );
    resp.extensions_mut().insert(Returned(n));
    Ok(resp)
}

/// Adds a webhook from the inbox page; the page shows its secret this once.
pub async fn add_webhook(State(state): State<AppState>, Posted { web, f }: Posted) -> Result<Response, WebError> {
    let events: Vec<String> = f.all("events").into_iter().map(str::to_owned).collect();
    let (hook, secret) =
        crate::webhooks::make(&state, &web.caller, f.get("url").trim().to_owned(), events, f.get("slack") == "on")
            .await?;
    inbox_page(&state, &web, Some((hook.id, secret))).await
}

pub async fn remove_webhook(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { web, .. }: Posted,
) -> Result<Response, WebError> {
    let org = web.caller.org.id;
    state.blocking(move |store| Ok(store.remove_webhook(org, id)?)).await?;
    Ok(Redirect::to("/inbox#webhooks").into_response())
}

pub async fn resend_delivery(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { web, .. }: Posted,
) -> Result<Response, WebError> {
    let org = web.caller.org.id;
    state.blocking(move |store| Ok(store.resend(org, id, now_micros())?)).await?;
    Ok(Redirect::to("/inbox#webhooks").into_response())
}

/// Marks the inbox read.
pub async fn inbox_read(State(state): State<AppState>, Posted { web, .. }: Posted) -> Result<Response, WebError> {
    let org = web.caller.org.id;
    state.blocking(move |store| Ok(store.mark_read(org, &[], now_micros())?)).await?;
    state.0.unread.forget(org);
    Ok(Redirect::to("/inbox").into_response())
}

/// The organization's watched subjects: their references, fields and last alert — never
/// their values — with removal.
pub async fn watchlist(State(state): State<AppState>, Extension(web): Extension<Web>) -> Result<Response, WebError> {
    let org = web.caller.org.id;
    let rows = state.blocking(move |store| Ok(store.watched(org, now_micros(), 1000)?)).await?;
    let n = rows.len() as u64;
    let subjects: Vec<serde_json::Value> = rows.iter().map(crate::monitor::listing).collect();
    let days = state.0.config.watch_retention.as_secs() / 86_400;
    let mut resp = render(
        "watchlist.html",
        context! { ..web.ctx("watchlist"), ..context! { subjects => subjects, retention_days => days } },
    );
    resp.extensions_mut().insert(Returned(n));
    Ok(resp)
}

pub async fn unwatch(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Posted { web, .. }: Posted,
) -> Result<Response, WebError> {
    let org = web.caller.org.id;
    state.blocking(move |store| Ok(store.unwatch(org, id)?)).await?;
    Ok(Redirect::to("/watchlist").into_response())
}
