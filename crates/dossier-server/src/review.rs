//! The review queue: every screen that ends in `match` or `review` — over the API, in a
//! batch or a job, on the screening page — becomes an entry of the screening
//! organization's queue, and a member judges it confirmed, false positive or unsure.
//!
//! An entry keeps the explained result without the applicant's values: no input, no
//! normalised value, no normalisation rules (the stored side — objects, actors, personas,
//! weights — stays, since the screener could see it). The applicant's `ref` is kept as the
//! member gave it unless the installation keeps only its keyed hash
//! (`review_keeps_ref = false`); every tie's value only as a keyed hash. Entries are deleted
//! after `review_retention` (180 days unless set).
//!
//! A false positive suppresses the entry's ties (applicant value → stored object) in that
//! organization's later screens, which say so; it changes nothing for anyone else. ISAC
//! analysts see, per stored object, how members judged it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dossier_match::screen::{Applicant, Hit, Screening, Suppressions};
use dossier_stix::OrgId;
use dossier_stix::timestamp::{Timestamp, now_micros};
use dossier_store::{Disposition, Judgement, NewReviewEntry, ReviewQuery, ReviewStatus};
use serde_json::{Value, json};

use crate::error::{ApiError, json_object, limit_param, optional_bool, optional_text};
use crate::{AppState, Caller, Inner, Returned};

/// How long entries are kept, unless set.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(180 * 86_400);

/// Each organization's suppressed ties, kept for `config.cache_ttl` (a judgement in this
/// process refreshes its organization's at once).
#[derive(Default)]
pub(crate) struct SuppressionCache(std::sync::Mutex<HashMap<OrgId, Cached>>);

/// When an organization's suppressions were read, and what they were.
type Cached = (Instant, Option<Arc<Suppressions>>);

impl SuppressionCache {
    fn forget(&self, org: OrgId) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&org);
    }
}

/// A count per organization for the header's badges (review entries waiting, unread
/// notifications), kept for `config.cache_ttl`; what changes it in this process forgets
/// the organization's count.
#[derive(Default)]
pub(crate) struct OrgCounts(std::sync::Mutex<HashMap<OrgId, (Instant, u64)>>);

impl OrgCounts {
    pub(crate) fn forget(&self, org: OrgId) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&org);
    }

    /// `org`'s count, from the cache or from `load` (0, logged, when it fails).
    pub(crate) fn get(
        &self,
        org: OrgId,
        ttl: std::time::Duration,
        load: impl FnOnce() -> Result<u64, dossier_store::StoreError>,
    ) -> u64 {
        if let Some((at, n)) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&org)
            && at.elapsed() < ttl
        {
            return *n;
        }
        let n = load().unwrap_or_else(|e| {
            tracing::error!(error = %e, "counting for the header failed");
            0
        });
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(org, (Instant::now(), n));
        n
    }
}

/// How many of `org`'s entries wait for a judgement.
pub(crate) fn open_count(inner: &Inner, org: OrgId) -> u64 {
    inner.open_reviews.get(org, inner.config.cache_ttl, || inner.store.open_reviews(org, now_micros()))
}

/// The ties `org` judged false positives (none: `None`), from the cache or the store.
pub(crate) fn suppressions_for(inner: &Inner, org: OrgId) -> Option<Arc<Suppressions>> {
    let ttl = inner.config.cache_ttl;
    if let Some((at, s)) = inner.suppressions.0.lock().unwrap_or_else(|p| p.into_inner()).get(&org)
        && at.elapsed() < ttl
    {
        return s.clone();
    }
    let loaded = match inner.store.suppressions(org, now_micros()) {
        Ok(rows) if rows.is_empty() => None,
        Ok(rows) => {
            let mut s = Suppressions::new(Arc::from(inner.audit_key.as_slice()));
            for r in rows {
                let date = Timestamp::from_unix_micros(r.at).as_str().get(..10).unwrap_or_default().to_owned();
                s.insert(
                    r.value_hash,
                    r.object,
                    format!("suppressed: judged a false positive by {}, {date}", r.by_name),
                );
            }
            Some(Arc::new(s))
        }
        Err(e) => {
            // Screening goes on without them rather than failing; the error is logged.
            tracing::error!(error = %e, "reading suppressed ties failed");
            return None;
        }
    };
    inner.suppressions.0.lock().unwrap_or_else(|p| p.into_inner()).insert(org, (Instant::now(), loaded.clone()));
    loaded
}

/// How pages name whoever screened with `token_id` (`user:NAME`, or a token id).
pub(crate) fn who(inner: &Inner, token_id: &str) -> String {
    if let Some(name) = token_id.strip_prefix("user:") {
        return name.to_owned();
    }
    match inner.store.token(token_id) {
        Ok(Some(t)) => t.label.map_or_else(|| format!("token {}", t.id), |l| format!("{l} (token {})", t.id)),
        _ => format!("token {token_id}"),
    }
}

/// The result as a queue entry keeps it: without the applicant's values.
pub(crate) fn redact(s: &Screening) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.remove("ref");
        m.remove("warnings");
        if let Some(list) = m.get_mut("suppressed").and_then(Value::as_array_mut) {
            for x in list {
                if let Some(x) = x.as_object_mut() {
                    x.remove("input");
                }
            }
        }
        if let Some(matches) = m.get_mut("matches").and_then(Value::as_array_mut) {
            for c in matches {
                if let Some(evidence) = c.get_mut("evidence").and_then(Value::as_array_mut) {
                    for e in evidence {
                        if let Some(e) = e.as_object_mut() {
                            e.remove("input");
                            e.remove("normalized");
                            e.remove("rules");
                        }
                    }
                }
            }
        }
    }
    v
}

/// The queue entry of a screen, if it asks for a look (`match` or `review`). `by` names
/// whoever screened (see [`who`]); called only for those screens.
pub(crate) fn entry_of(
    inner: &Inner,
    org: OrgId,
    token_id: &str,
    by: &str,
    source: &str,
    a: &Applicant,
    s: &Screening,
) -> Option<NewReviewEntry> {
    if s.decision < dossier_match::screen::Decision::Review {
        return None;
    }
    let key = &inner.audit_key;
    let mut ties = Vec::new();
    for hit in &s.matches {
        if let Hit::Candidate(c) = hit {
            for e in &c.evidence {
                ties.push((e.tie_hash(key), e.object.clone()));
            }
        }
    }
    ties.sort();
    ties.dedup();
    let restricted: Vec<String> = s
        .matches
        .iter()
        .filter_map(|h| match h {
            Hit::Restricted(r) => Some(r.objects.iter().cloned()),
            Hit::Candidate(_) => None,
        })
        .flatten()
        .collect();
    let at = now_micros();
    let retention = i64::try_from(inner.config.review_retention.as_micros()).unwrap_or(i64::MAX);
    Some(NewReviewEntry {
        org,
        at,
        expires: at.saturating_add(retention),
        by_id: token_id.to_owned(),
        by_name: by.to_owned(),
        source: source.to_owned(),
        reference: inner.config.review_keeps_ref.then(|| a.reference.clone()),
        ref_hash: crate::screen_api::field_hash(key, "ref", &a.reference),
        decision: s.decision.as_str().to_owned(),
        score: s.score,
        result: redact(s).to_string(),
        ties,
        restricted,
    })
}

/// Queues `entries` (a failure is logged: the screen itself was answered and audited).
pub(crate) fn enqueue(inner: &Inner, entries: &[NewReviewEntry]) {
    if entries.is_empty() {
        return;
    }
    match inner.store.enqueue(entries) {
        Ok(ids) => crate::notify::send(inner, crate::notify::queued(entries, &ids)),
        Err(e) => tracing::error!(error = %e, entries = entries.len(), "queueing screens for review failed"),
    }
    for e in entries {
        inner.open_reviews.forget(e.org);
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/review", get(list))
        .route("/api/v1/review/{id}", get(one).post(judge))
        .route("/api/v1/review/{id}/sighting", axum::routing::post(sighting))
        .route("/api/v1/review/{id}/access-request", axum::routing::post(access_request))
        .route("/api/v1/access-requests", get(access_list))
        .route("/api/v1/access-requests/{id}", axum::routing::post(access_decide))
        .route("/api/v1/review-counts", get(counts))
}

fn status_of(q: &HashMap<String, String>) -> Result<ReviewStatus, ApiError> {
    Ok(match q.get("status").map(String::as_str) {
        None | Some("open") => ReviewStatus::Open,
        Some("judged") => ReviewStatus::Judged,
        Some("all") => ReviewStatus::All,
        Some(other) => return Err(ApiError::bad_request(format!("status {other:?}: use open, judged or all"))),
    })
}

/// `GET /api/v1/review?status=open|judged|all&limit=N&before=ID`: the caller's
/// organization's queue, newest first.
async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let query = ReviewQuery {
        status: status_of(&q)?,
        limit: limit_param(&q, 100, 1000)?,
        before: match q.get("before") {
            Some(b) => Some(b.parse::<i64>().map_err(|_| ApiError::bad_request("before must be an entry id"))?),
            None => None,
        },
    };
    let org = caller.org.id;
    let entries = state.blocking(move |store| Ok(store.review_entries(org, &query, now_micros())?)).await?;
    let n = entries.len() as u64;
    let mut resp = axum::Json(json!({ "entries": entries })).into_response();
    resp.extensions_mut().insert(Returned(n));
    Ok(resp)
}

/// `GET /api/v1/review/{id}`: one entry of the caller's organization's queue.
async fn one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let org = caller.org.id;
    let entry = state.blocking(move |store| Ok(store.review_entry(org, id, now_micros())?)).await?;
    match entry {
        Some(e) => Ok(axum::Json(e).into_response()),
        None => Err(ApiError::not_found(format!("review entry {id}"))),
    }
}

/// `POST /api/v1/review/{id}` with `{"disposition": "confirmed" | "false_positive" |
/// "unsure", "comment": "…"}`.
async fn judge(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (disposition, comment) = parse_judgement(&json_object(&body, &["disposition", "comment"])?)?;
    let entry = judge_entry(&state, &caller, id, disposition, comment).await?;
    Ok(axum::Json(entry).into_response())
}

fn parse_judgement(m: &serde_json::Map<String, Value>) -> Result<(Disposition, Option<String>), ApiError> {
    let d = m
        .get("disposition")
        .and_then(Value::as_str)
        .and_then(Disposition::parse)
        .ok_or_else(|| ApiError::bad_request("disposition must be confirmed, false_positive or unsure"))?;
    Ok((d, optional_text(m, "comment")?))
}

/// Judges an entry of the caller's organization (the page and the API share this).
pub(crate) async fn judge_entry(
    state: &AppState,
    caller: &Caller,
    id: i64,
    disposition: Disposition,
    comment: Option<String>,
) -> Result<dossier_store::ReviewEntry, ApiError> {
    if comment.as_ref().is_some_and(|c| c.len() > dossier_store::MAX_COMMENT) {
        return Err(ApiError::bad_request(format!("comment: at most {} bytes", dossier_store::MAX_COMMENT)));
    }
    let org = caller.org.id;
    let by_id = caller.token.id.clone();
    let inner = state.0.clone();
    let entry = state
        .blocking(move |store| {
            let by_name = who(&inner, &by_id);
            Ok(store.judge(org, id, &Judgement { disposition, comment, by_id, by_name }, now_micros())?)
        })
        .await?;
    state.0.suppressions.forget(org);
    state.0.open_reviews.forget(org);
    Ok(entry)
}

/// `GET /api/v1/review-counts?object=ID&limit=N`: how members judged each stored object,
/// the most false positives first. For ISAC analysts: an identifier that keeps producing
/// false positives is one whose confidence should be revised.
async fn counts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !caller.viewer.is_isac_staff() {
        return Err(ApiError::forbidden("judgement counts across members are for ISAC analysts"));
    }
    let limit = limit_param(&q, 100, 10_000)?;
    let object = q.get("object").cloned();
    let rows = state.blocking(move |store| Ok(store.disposition_counts(object.as_deref(), limit)?)).await?;
    let n = rows.len() as u64;
    let mut resp = axum::Json(json!({ "objects": rows })).into_response();
    resp.extensions_mut().insert(Returned(n));
    Ok(resp)
}

/// A confirmed hit shared back as a STIX sighting.
pub(crate) struct Share {
    pub tlp: dossier_stix::Tlp,
    /// Name the organization in `where_sighted_refs` (else the ISAC's identity stands there,
    /// and the sighting is anonymous to other members).
    pub named: bool,
    pub description: Option<String>,
    /// The new identifiers the applicant used, contributed as a new persona tied to the
    /// actor.
    pub persona: Option<SharedPersona>,
}

/// The new persona of a shared sighting: a name and identifiers typed one per line.
pub(crate) struct SharedPersona {
    pub name: String,
    pub region: Option<String>,
    pub resume: String,
    /// Applicant field (`emails`, `phones`, … as in a screen) → values.
    pub lines: HashMap<String, Vec<String>>,
}

/// What a share stored.
#[derive(serde::Serialize)]
pub(crate) struct Shared {
    pub sighting: String,
    pub sighting_of: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persona: Option<String>,
    pub stored: usize,
}

/// Shares entry `id` of the caller's organization — judged confirmed — as a sighting of its
/// first candidate's actor (or persona), at the TLP the member chose, with the new persona
/// if given. The applicant's values were never kept: new identifiers are what the member
/// types now.
pub(crate) async fn share_sighting(
    state: &AppState,
    caller: &Caller,
    id: i64,
    share: Share,
) -> Result<Shared, ApiError> {
    let org = caller.org.id;
    let entry = state
        .blocking(move |store| Ok(store.review_entry(org, id, now_micros())?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("review entry {id}")))?;
    if entry.disposition != Some(Disposition::Confirmed) {
        return Err(ApiError::conflict("only a confirmed hit is shared: judge the entry confirmed first"));
    }
    let candidate =
        entry.result["matches"]
            .as_array()
            .and_then(|m| m.iter().find(|c| c.get("restricted").is_none()))
            .ok_or_else(|| ApiError::conflict("the entry has no candidate you may see (only restricted hits)"))?;
    let actor = candidate["actor"].as_str().map(str::to_owned);
    let of = actor
        .clone()
        .or_else(|| candidate["personas"][0]["id"].as_str().map(str::to_owned))
        .ok_or_else(|| ApiError::conflict("the entry's candidate is neither an actor nor a persona"))?;
    // It must still be visible to the member (withdrawn or re-marked since?).
    let orgs = state.orgs().await?;
    let viewer = caller.viewer;
    let of2 = of.clone();
    let seen = state.read(move |store| Ok(crate::web::data::visible(store, &viewer, &orgs, &[of2])?)).await?;
    if seen.is_empty() {
        return Err(ApiError::not_found(of));
    }
    if share.description.as_ref().is_some_and(|d| d.len() > 4096) {
        return Err(ApiError::bad_request("description: at most 4096 bytes"));
    }
    let by = caller.org.identity_id.clone();
    let now = Timestamp::from_unix_micros(now_micros()).as_str().to_owned();
    let seen_at = Timestamp::from_unix_micros(entry.at).as_str().to_owned();
    let sighting = crate::persona::sighting_object(
        &crate::persona::NewSighting {
            by: &by,
            isac: &state.0.isac.identity_id,
            of: &of,
            when: &seen_at,
            tlp: share.tlp,
            named: share.named,
            description: share.description.as_deref(),
        },
        &now,
    );
    let sighting_id = sighting["id"].as_str().unwrap_or_default().to_owned();
    let mut objects = vec![sighting];
    let mut persona_id = None;
    if let Some(p) = &share.persona {
        let name = p.name.trim();
        if name.is_empty() || name.chars().count() > 256 {
            return Err(ApiError::bad_request("persona.name: the name the applicant used, 1 to 256 characters"));
        }
        let mut problems = crate::persona::Problems::new();
        let ids = crate::persona::identifiers(
            &mut |field, probs| {
                let v = p.lines.get(field).cloned().unwrap_or_default();
                if v.len() > crate::persona::MAX_LINES {
                    crate::persona::problem(probs, field, format!("at most {} values", crate::persona::MAX_LINES));
                }
                v
            },
            p.region.as_deref(),
            share.tlp,
            &state.0.id_document_key,
            &mut problems,
        );
        if !problems.is_empty() {
            let mut list: Vec<String> =
                problems.iter().map(|(f, ps)| format!("persona.{f}: {}", ps.join("; "))).collect();
            list.sort();
            return Err(ApiError::bad_request(list.join(" | ")));
        }
        let spec = crate::persona::NewPersona {
            by: &by,
            name,
            confidence: 80,
            tlp: share.tlp,
            stolen: false,
            actor: actor.as_deref(),
            new_actor: None,
            region: p.region.as_deref(),
            resume: p.resume.trim(),
            share_with: &[],
        };
        let (pid, _, more) = crate::persona::persona_objects(&spec, ids, &now);
        persona_id = Some(pid);
        objects.extend(more);
    }
    let collections = state.blocking(|store| Ok(store.collections()?)).await?;
    let Some(collection) = crate::persona::writable(&collections, caller).first().cloned() else {
        return Err(ApiError::forbidden("no collection accepts your contributions; ask the ISAC analysts"));
    };
    let bytes: Vec<Vec<u8>> = objects.iter().map(|o| o.to_string().into_bytes()).collect();
    let stored = crate::persona::store_as(state, caller, collection.id, share.named, bytes).await?;
    Ok(Shared { sighting: sighting_id, sighting_of: of, persona: persona_id, stored })
}

/// `POST /api/v1/review/{id}/sighting` with `{"tlp": "amber", "named": false,
/// "description": "…", "persona": {"name": "…", "emails": […], …}}`.
async fn sighting(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let share = parse_share(&json_object(&body, &["tlp", "named", "description", "persona"])?)?;
    let shared = share_sighting(&state, &caller, id, share).await?;
    let n = shared.stored as u64;
    let mut resp = (axum::http::StatusCode::CREATED, axum::Json(shared)).into_response();
    resp.extensions_mut().insert(Returned(n));
    Ok(resp)
}

fn parse_share(m: &serde_json::Map<String, Value>) -> Result<Share, ApiError> {
    let tlp = match m.get("tlp") {
        None => dossier_stix::Tlp::Amber,
        Some(t) => t
            .as_str()
            .and_then(dossier_stix::Tlp::parse)
            .ok_or_else(|| ApiError::bad_request("tlp must be clear, green, amber, amber+strict or red"))?,
    };
    let named = optional_bool(m, "named")?.unwrap_or(false);
    let description = optional_text(m, "description")?;
    let persona = match m.get("persona") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => {
            let text = |k: &str| -> Result<Option<String>, ApiError> {
                match p.get(k) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(ApiError::bad_request(format!("persona.{k} must be a string"))),
                }
            };
            let mut lines = HashMap::new();
            for (k, val) in p {
                if matches!(k.as_str(), "name" | "region" | "resume_text") {
                    continue;
                }
                if k == "names" || dossier_match::kinds::field(k).is_none() {
                    return Err(ApiError::bad_request(format!(
                        "persona.{k}: unknown field; give name, region, resume_text and identifier fields as in a screen ({})",
                        dossier_match::kinds::FIELDS
                            .iter()
                            .filter(|f| f.name != "names")
                            .map(|f| f.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                let list = val
                    .as_array()
                    .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
                    .ok_or_else(|| ApiError::bad_request(format!("persona.{k} must be a list of strings")))?;
                lines.insert(k.clone(), list);
            }
            Some(SharedPersona {
                name: text("name")?.unwrap_or_default(),
                region: text("region")?.map(|r| r.trim().to_uppercase()).filter(|r| !r.is_empty()),
                resume: text("resume_text")?.unwrap_or_default(),
                lines,
            })
        }
        Some(_) => return Err(ApiError::bad_request("persona must be an object")),
    };
    Ok(Share { tlp, named, description, persona })
}

/// An access request as the organization that asked sees it: where it stands, never whom
/// it went to or which objects it is about.
pub(crate) fn requester_view(r: &dossier_store::AccessRequest) -> Value {
    json!({
        "id": r.id, "entry": r.entry, "status": r.status, "at": r.at, "note": r.note,
        "decided_at": r.decided_at, "reply": r.reply,
    })
}

/// An access request as the owner of the objects sees it: its own objects, when they were
/// hit, and by whom — "an ISAC member" when the requester did not name itself. Never the
/// applicant's data (the request holds none).
pub(crate) fn owner_view(r: &dossier_store::AccessRequest, orgs: &[dossier_store::Org]) -> Value {
    let requester = if r.named {
        orgs.iter().find(|o| o.id == r.requester).map_or_else(|| "a member".to_owned(), |o| o.name.clone())
    } else {
        "an ISAC member".to_owned()
    };
    json!({
        "id": r.id, "objects": r.objects, "hit_at": r.hit_at, "at": r.at, "requester": requester,
        "requested_by": r.named.then_some(&r.requested_by), "note": r.note, "status": r.status,
        "decided_at": r.decided_at, "decided_by": r.decided_by, "reply": r.reply,
    })
}

/// Everything, for ISAC analysts.
pub(crate) fn staff_view(r: &dossier_store::AccessRequest, orgs: &[dossier_store::Org]) -> Value {
    let name =
        |id: dossier_stix::OrgId| orgs.iter().find(|o| o.id == id).map_or_else(|| id.to_string(), |o| o.name.clone());
    json!({
        "id": r.id, "entry": r.entry, "requester": name(r.requester), "named": r.named, "requested_by": r.requested_by,
        "owner": name(r.owner), "objects": r.objects, "hit_at": r.hit_at, "at": r.at, "note": r.note,
        "status": r.status, "decided_at": r.decided_at, "decided_by": r.decided_by, "reply": r.reply,
    })
}

/// Asks for access to what is behind entry `id`'s restricted hit.
pub(crate) async fn ask_access(
    state: &AppState,
    caller: &Caller,
    id: i64,
    named: bool,
    note: Option<String>,
) -> Result<Vec<dossier_store::AccessRequest>, ApiError> {
    let org = caller.org.id;
    let token = caller.token.id.clone();
    let inner = state.0.clone();
    state
        .blocking(move |store| {
            let by = who(&inner, &token);
            let now = now_micros();
            let rows = store.request_access(org, id, named, &by, note.as_deref(), now)?;
            // Tell the owners of the requests made now (one asked again is not announced
            // again: it keeps its first time).
            let fresh: Vec<dossier_store::AccessRequest> = rows.iter().filter(|r| r.at == now).cloned().collect();
            crate::notify::send(&inner, crate::notify::asked(&fresh, &store.orgs()?));
            Ok(rows)
        })
        .await
}

/// The owner's answer.
pub(crate) async fn answer_access(
    state: &AppState,
    caller: &Caller,
    id: i64,
    grant: bool,
    reply: Option<String>,
) -> Result<dossier_store::AccessRequest, ApiError> {
    let org = caller.org.id;
    let token = caller.token.id.clone();
    let inner = state.0.clone();
    state
        .blocking(move |store| {
            let by = who(&inner, &token);
            let r = store.decide_access(org, id, grant, &by, reply.as_deref(), now_micros())?;
            crate::notify::send(&inner, vec![crate::notify::answered(&r)]);
            Ok(r)
        })
        .await
}

/// `POST /api/v1/review/{id}/access-request` with `{"named": false, "note": "…"}`.
async fn access_request(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let m = json_object(&body, &["named", "note"])?;
    let named = optional_bool(&m, "named")?.unwrap_or(false);
    let note = optional_text(&m, "note")?;
    let rows = ask_access(&state, &caller, id, named, note).await?;
    let body = json!({ "requests": rows.iter().map(requester_view).collect::<Vec<_>>() });
    Ok((axum::http::StatusCode::CREATED, axum::Json(body)).into_response())
}

/// `GET /api/v1/access-requests[?side=all]`: requests addressed to the caller's
/// organization and made by it; `side=all` lists every request (ISAC analysts).
async fn access_list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let org = caller.org.id;
    let all = match q.get("side").map(String::as_str) {
        None => false,
        Some("all") if caller.viewer.is_isac_staff() => true,
        Some("all") => return Err(ApiError::forbidden("every organization's requests are for ISAC analysts")),
        Some(other) => return Err(ApiError::bad_request(format!("side {other:?}: leave it out, or all"))),
    };
    let orgs = state.orgs().await?;
    let (incoming, outgoing, every) = state
        .blocking(move |store| {
            use dossier_store::AccessSide;
            let every = if all { Some(store.access_requests(org, AccessSide::All, 1000)?) } else { None };
            Ok((
                store.access_requests(org, AccessSide::Incoming, 1000)?,
                store.access_requests(org, AccessSide::Outgoing, 1000)?,
                every,
            ))
        })
        .await?;
    let mut body = json!({
        "incoming": incoming.iter().map(|r| owner_view(r, &orgs)).collect::<Vec<_>>(),
        "outgoing": outgoing.iter().map(requester_view).collect::<Vec<_>>(),
    });
    if let Some(every) = every {
        body["all"] = json!(every.iter().map(|r| staff_view(r, &orgs)).collect::<Vec<_>>());
    }
    Ok(axum::Json(body).into_response())
}

/// `POST /api/v1/access-requests/{id}` with `{"decision": "grant" | "decline", "reply": "…"}`:
/// the owner of the objects answers.
async fn access_decide(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let m = json_object(&body, &["decision", "reply"])?;
    let grant = match m.get("decision").and_then(Value::as_str) {
        Some("grant") => true,
        Some("decline") => false,
        _ => return Err(ApiError::bad_request("decision must be grant or decline")),
    };
    let reply = optional_text(&m, "reply")?;
    let r = answer_access(&state, &caller, id, grant, reply).await?;
    let orgs = state.orgs().await?;
    Ok(axum::Json(owner_view(&r, &orgs)).into_response())
}
