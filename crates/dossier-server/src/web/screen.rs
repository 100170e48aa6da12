//! Screening in the browser: one applicant from a form, or a batch file streamed to the
//! same engine as `POST /api/v1/screen/batch`.

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dossier_match::screen::input::{self, DocumentInput, Limits};
use dossier_match::screen::{Applicant, Hit};
use minijinja::context;
use serde_json::{Value, json};

use super::data;
use super::pages::candidate_json;
use super::{Fields, Posted, Web, WebError, render};
use crate::screen_api::{audit_entry, run_batch};
use crate::{AppState, AuditParams, Returned};

/// The form's fields with one value per line: the identifier fields of the one table of
/// kinds.
fn list_fields() -> impl Iterator<Item = &'static str> {
    dossier_match::kinds::FIELDS.iter().map(|f| f.name)
}

pub async fn form(Extension(web): Extension<Web>) -> Response {
    render("screen.html", context! { ..web.ctx("screen"), ..context! { form => json!({}) } })
}

fn applicant_of(f: &Fields) -> Applicant {
    Applicant {
        reference: Some(f.get("ref").trim().to_owned()).filter(|r| !r.is_empty()).unwrap_or_else(|| "web".to_owned()),
        names: f.lines("names"),
        emails: f.lines("emails"),
        phones: f.lines("phones"),
        accounts: f.lines("accounts").iter().map(|l| input::account_from_text(l)).collect(),
        wallets: f.lines("wallets").iter().map(|l| input::wallet_from_text(l)).collect(),
        bank_accounts: f.lines("bank_accounts").iter().map(|l| input::bank_from_text(l)).collect(),
        websites: f.lines("websites"),
        addresses: f.lines("addresses"),
        photos: f.lines("photos"),
        id_documents: f.lines("id_documents").iter().map(|l| input::id_document_from_text(l)).collect(),
        ips: f.lines("ips"),
        resume_text: Some(f.get("resume_text").to_owned()).filter(|t| !t.trim().is_empty()),
        documents: f.lines("documents").into_iter().map(|sha256| DocumentInput { sha256 }).collect(),
        region: Some(f.get("region").trim().to_uppercase()).filter(|r| !r.is_empty()),
    }
}

pub async fn submit(State(state): State<AppState>, Posted { web, f }: Posted) -> Result<Response, WebError> {
    let mut echo = serde_json::Map::new();
    for k in list_fields().chain(["ref", "resume_text", "region", "watch"]) {
        echo.insert(k.to_owned(), Value::String(f.get(k).to_owned()));
    }
    let applicant = applicant_of(&f);
    let base = context! { ..web.ctx("screen"), ..context! { form => echo } };
    if let Err(e) = input::check(&applicant, &Limits::default()) {
        let field = e.field.clone().unwrap_or_default();
        let field = field.split(['[', '.']).next().unwrap_or("").to_owned();
        let mut resp =
            render("screen.html", context! { ..base, ..context! { error_field => field, error => e.reason } });
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let empty = applicant.names.is_empty()
        && applicant.emails.is_empty()
        && applicant.phones.is_empty()
        && applicant.accounts.is_empty()
        && applicant.wallets.is_empty()
        && applicant.ips.is_empty()
        && applicant.documents.is_empty()
        && applicant.bank_accounts.is_empty()
        && applicant.websites.is_empty()
        && applicant.addresses.is_empty()
        && applicant.photos.is_empty()
        && applicant.id_documents.is_empty()
        && applicant.resume_text.is_none();
    if empty {
        let mut resp = render(
            "screen.html",
            context! { ..base, ..context! { error => "Give at least one name or identifier to screen." } },
        );
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let viewer = web.viewer();
    let inner = state.0.clone();
    let org = web.caller.org.id;
    let token = web.caller.token.id.clone();
    let by = web.who.clone();
    let watch = f.get("watch") == "on";
    let caller = web.caller.clone();
    let (s, audit, queued, watched) = state
        .blocking(move |store| {
            inner.screener.catch_up(store).map_err(|e| crate::ApiError::internal("screening index", e))?;
            let options = inner.screener.options_with(crate::review::suppressions_for(&inner, org));
            let s = inner.screener.screen_with(&applicant, &viewer, &options);
            let audit = audit_entry(&inner.audit_key, &applicant, &s);
            // A screen that asks for a look enters the organization's review queue.
            let entry = crate::review::entry_of(&inner, org, &token, &by, "web", &applicant, &s);
            if let Some(e) = &entry {
                crate::review::enqueue(&inner, std::slice::from_ref(e));
            }
            // Enrolled for monitoring, as keyed hashes only, when asked.
            let watched = watch && crate::monitor::enrol(&inner, &caller, std::slice::from_ref(&applicant)).is_ok();
            Ok((s, audit, entry.is_some(), watched))
        })
        .await?;
    let mut candidates = Vec::new();
    let mut restricted = 0;
    for hit in &s.matches {
        match hit {
            Hit::Candidate(c) => {
                let evidence: Vec<Value> = c
                    .evidence
                    .iter()
                    .map(|e| {
                        json!({
                            "field": e.field, "input": e.input, "normalized": e.normalized, "rules": e.rules,
                            "stored": e.stored, "object": e.object, "kind": e.kind, "similarity": e.similarity,
                            "tlp": e.tlp.as_str(), "tlp_class": data::tlp_class(e.tlp), "confidence": e.confidence,
                            "via": e.via, "weight": format!("{:+.1}", e.weight), "notes": e.notes,
                        })
                    })
                    .collect();
                candidates.push(candidate_json(c, evidence));
            }
            Hit::Restricted(_) => restricted += 1,
        }
    }
    let result = json!({
        "decision": s.decision.as_str(), "score": s.score, "candidates": candidates, "restricted": restricted,
        "warnings": s.warnings, "contact": state.0.screener.options.contact, "suppressed": s.suppressed,
        "queued": queued, "watched": watched,
    });
    let at = dossier_stix::timestamp::now_micros();
    let mut resp = render("screen.html", context! { ..base, ..context! { result => result, screened_at => at } });
    resp.extensions_mut().insert(Returned(s.matches.len() as u64));
    resp.extensions_mut().insert(AuditParams(json!({ "screen": [audit] }).to_string()));
    Ok(resp)
}

pub async fn batch_page(Extension(web): Extension<Web>) -> Response {
    let limits = Limits::default();
    render(
        "batch.html",
        context! { ..web.ctx("batch"), ..context! { record_kib => limits.record_bytes / 1024, columns => input::CSV_COLUMNS } },
    )
}

/// The batch upload: the page's script sends the file as the body with the CSRF token in
/// `X-CSRF-Token`, and reads the JSON Lines answer as it streams (for its progress bar).
pub async fn batch_run(
    State(state): State<AppState>,
    Extension(web): Extension<Web>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    web.check_csrf(token)?;
    let mapping = match crate::screen_api::mappings(&query) {
        Ok(m) => m,
        Err(e) => return Ok(e.into_response()),
    };
    Ok(run_batch(state, web.caller.clone(), &headers, body, "web:/screen/batch (records)", mapping)
        .await
        .into_response())
}
