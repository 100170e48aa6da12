//! TAXII 2.1 endpoints. Every read goes through [`visible`], the one place that applies
//! the TLP policy ([`dossier_stix::policy::may_see`]) to store entries; hidden objects
//! never show up in bodies, counts, `more` flags, headers or errors.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dossier_stix::StixObject;
use dossier_stix::policy::{self, Access as PolicyAccess};
use dossier_stix::timestamp::{Timestamp, now_micros};
use dossier_store::{Collection, Entry, Item, Query as StoreQuery, Submission, Versions};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::media::{STIX_21, TAXII_21, accepts_taxii, is_taxii_content};
use crate::{AppState, Caller, Returned};

pub fn router(_state: AppState) -> Router<AppState> {
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/taxii2/{root}/", get(api_root))
        .route("/taxii2/{root}/status/{id}/", get(status))
        .route("/taxii2/{root}/collections/", get(collections))
        .route("/taxii2/{root}/collections/{cid}/", get(collection))
        .route("/taxii2/{root}/collections/{cid}/objects/", get(get_objects).post(post_objects))
        .route("/taxii2/{root}/collections/{cid}/objects/{oid}/", get(get_object).delete(delete_object))
        .route("/taxii2/{root}/collections/{cid}/objects/{oid}/versions/", get(versions))
        .route("/taxii2/{root}/collections/{cid}/manifest/", get(manifest))
}

fn taxii(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_21));
    resp
}

fn negotiate(headers: &HeaderMap) -> Result<(), ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if accepts_taxii(accept) { Ok(()) } else { Err(ApiError::not_acceptable()) }
}

fn check_root(state: &AppState, root: &str) -> Result<(), ApiError> {
    if root == state.0.config.api_root { Ok(()) } else { Err(ApiError::not_found(format!("API root {root:?}"))) }
}

fn ts(micros: i64) -> String {
    Timestamp::from_unix_micros(micros).as_str().to_owned()
}

async fn discovery(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    negotiate(&headers)?;
    let root = format!("/taxii2/{}/", state.0.config.api_root);
    Ok(taxii(
        StatusCode::OK,
        json!({
            "title": state.0.config.title,
            "description": "dossier: shared intelligence on fake-identity operatives",
            "default": root,
            "api_roots": [root],
        }),
    ))
}

async fn api_root(
    State(state): State<AppState>,
    Path(root): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    negotiate(&headers)?;
    check_root(&state, &root)?;
    Ok(taxii(
        StatusCode::OK,
        json!({
            "title": state.0.config.title,
            "versions": [TAXII_21],
            "max_content_length": state.0.config.max_content_length,
        }),
    ))
}

/// A collection the caller may at least read or write; others do not exist for it.
async fn find_collection(state: &AppState, caller: &Caller, cid: String) -> Result<Collection, ApiError> {
    let viewer = caller.viewer;
    let c = state
        .blocking(move |store| match store.collection(&cid) {
            Ok(c) if c.uuid == cid => Ok(Some(c)),
            Ok(_) => Ok(None),
            Err(dossier_store::StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        })
        .await?;
    match c {
        Some(c) if c.read.allows(&viewer) || c.write.allows(&viewer) => Ok(c),
        _ => Err(ApiError::not_found("collection")),
    }
}

fn collection_json(c: &Collection, caller: &Caller) -> Value {
    let mut v = json!({
        "id": c.uuid,
        "title": c.title,
        "can_read": c.read.allows(&caller.viewer),
        "can_write": c.write.allows(&caller.viewer),
        "media_types": [STIX_21],
    });
    if let Some(d) = &c.description {
        v["description"] = json!(d);
    }
    if let Some(a) = &c.alias {
        v["alias"] = json!(a);
    }
    v
}

async fn collections(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(root): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    negotiate(&headers)?;
    check_root(&state, &root)?;
    let all = state.blocking(|store| Ok(store.collections()?)).await?;
    let list: Vec<Value> = all
        .iter()
        .filter(|c| c.read.allows(&caller.viewer) || c.write.allows(&caller.viewer))
        .map(|c| collection_json(c, &caller))
        .collect();
    Ok(taxii(StatusCode::OK, if list.is_empty() { json!({}) } else { json!({ "collections": list }) }))
}

async fn collection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((root, cid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    negotiate(&headers)?;
    check_root(&state, &root)?;
    let c = find_collection(&state, &caller, cid).await?;
    Ok(taxii(StatusCode::OK, collection_json(&c, &caller)))
}

/// The filters of objects, manifest, object and versions requests.
struct Filters {
    added_after: Option<i64>,
    limit: usize,
    cursor: Option<i64>,
    ids: Vec<String>,
    types: Vec<String>,
    versions: Vec<Versions>,
    spec_versions: Vec<String>,
}

fn parse_filters(
    state: &AppState,
    q: &HashMap<String, String>,
    default_versions: Versions,
) -> Result<Filters, ApiError> {
    let cfg = &state.0.config;
    let list = |k: &str| -> Vec<String> {
        q.get(k)
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    };
    let added_after = match q.get("added_after") {
        Some(s) => Some(
            Timestamp::parse(s)
                .map_err(|e| ApiError::bad_request(format!("added_after {s:?} is not a timestamp: {e}")))?
                .unix_micros(),
        ),
        None => None,
    };
    let limit = match q.get("limit") {
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n.min(cfg.max_page),
            _ => return Err(ApiError::bad_request(format!("limit {s:?} must be a positive integer"))),
        },
        None => cfg.default_page,
    };
    let cursor = match q.get("next") {
        Some(s) => Some(
            s.strip_prefix('d')
                .and_then(|d| d.parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request(format!("next {s:?} is not a cursor this server issued")))?,
        ),
        None => None,
    };
    for t in list("match[type]") {
        if !dossier_stix::id::is_type_name(&t) {
            return Err(ApiError::bad_request(format!("match[type] {t:?} is not a STIX type name")));
        }
    }
    let mut versions = Vec::new();
    for v in list("match[version]") {
        versions.push(match v.as_str() {
            "last" => Versions::Latest,
            "first" => Versions::First,
            "all" => Versions::All,
            t => Versions::At(
                Timestamp::parse(t)
                    .map_err(|e| {
                        ApiError::bad_request(format!(
                            "match[version] {t:?} is not last, first, all or a timestamp: {e}"
                        ))
                    })?
                    .sort_key()
                    .to_owned(),
            ),
        });
    }
    if versions.is_empty() {
        versions.push(default_versions);
    }
    Ok(Filters {
        added_after,
        limit,
        cursor,
        ids: list("match[id]"),
        types: list("match[type]"),
        versions,
        spec_versions: list("match[spec_version]"),
    })
}

fn store_query(collection: &Collection, f: Filters) -> (StoreQuery, usize, Vec<String>) {
    let query = StoreQuery {
        collection: Some(collection.id),
        ids: f.ids,
        types: f.types,
        versions: f.versions,
        added_after: match (f.added_after, f.cursor) {
            (Some(a), Some(c)) => Some(a.max(c)),
            (a, c) => a.or(c),
        },
        max_tlp: None,
        limit: usize::MAX,
    };
    (query, f.limit, f.spec_versions)
}

/// Whether `viewer` receives this row: the visibility policy (with the organizations a RED
/// version is shared with) and the `match[spec_version]` filter. Every read path uses it.
fn admits(viewer: &dossier_stix::Viewer, spec: &[String], e: &dossier_store::EntryRef<'_>) -> bool {
    let recipients = if e.tlp == dossier_stix::Tlp::Red { e.recipients() } else { Vec::new() };
    policy::may_see(viewer, &PolicyAccess { tlp: e.tlp, owner: e.owner, recipients: &recipients })
        && spec_matches(spec, e.spec_version)
}

/// Ids whose latest version in the collection the viewer may not see (a newer RED version
/// of what it could see before). Their older versions are withheld too: otherwise
/// `/versions/` and `match[version]=first` would show that a newer, hidden version exists,
/// the latest answering 404 beside an older one that answers 200. Only queries for other
/// versions than the latest pay for this look-up; the set for a whole collection is kept per
/// organization until the change log moves (a client paging every version of a large
/// collection would otherwise pay a full scan per page).
fn hidden_latest(
    store: &dyn crate::Store,
    cache: &HiddenCache,
    query: &StoreQuery,
    viewer: &dossier_stix::Viewer,
) -> Result<Arc<std::collections::HashSet<String>>, dossier_store::StoreError> {
    if viewer.is_isac_staff() || query.versions.iter().all(|v| *v == Versions::Latest) {
        return Ok(Arc::default());
    }
    let whole = query.ids.is_empty() && query.types.is_empty();
    let key = (query.collection.unwrap_or(0), viewer.org);
    let seq = store.last_change()?;
    if whole
        && let Some((at, set)) = cache.0.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
        && *at == seq
    {
        return Ok(set.clone());
    }
    let latest = StoreQuery {
        collection: query.collection,
        ids: query.ids.clone(),
        types: query.types.clone(),
        versions: vec![Versions::Latest],
        added_after: None,
        max_tlp: None,
        limit: usize::MAX,
    };
    let mut hidden = std::collections::HashSet::new();
    store.scan_raw(&latest, &mut |e| {
        if e.tlp == dossier_stix::Tlp::Red && !admits(viewer, &[], e) {
            hidden.insert(e.id.to_owned());
        }
        true
    })?;
    let hidden = Arc::new(hidden);
    if whole {
        let mut c = cache.0.lock().unwrap_or_else(|p| p.into_inner());
        // A bound on what the cache holds: one entry per collection and organization paging
        // every version; beyond, it starts over.
        if c.len() >= 1024 {
            c.clear();
        }
        c.insert(key, (seq, hidden.clone()));
    }
    Ok(hidden)
}

/// Ids whose latest version one organization may not see, as of a change-log position.
type HiddenIds = (i64, Arc<std::collections::HashSet<String>>);

/// See [`hidden_latest`]: per (collection, organization).
#[derive(Default)]
pub(crate) struct HiddenCache(std::sync::Mutex<HashMap<(i64, dossier_stix::OrgId), HiddenIds>>);

fn spec_matches(spec: &[String], entry: Option<&str>) -> bool {
    // Objects without spec_version (SCOs) are STIX 2.1 here.
    spec.is_empty() || spec.iter().any(|s| s == entry.unwrap_or("2.1"))
}

/// The objects and object endpoints' page, written straight from the store's rows into the
/// body: the same admission as [`visible`], without copying each object's JSON twice.
/// Returns the response and how many objects it holds.
async fn objects_page(
    state: &AppState,
    caller: &Caller,
    collection: &Collection,
    f: Filters,
) -> Result<(Response, usize), ApiError> {
    let viewer = caller.viewer;
    let (query, limit, spec) = store_query(collection, f);
    let isac_identity = state.0.isac.identity_id.clone();
    let orgs = state.orgs().await?;
    let inner = state.0.clone();
    let (body, count, first, last) = state
        .read(move |store| {
            let identity = |org: i64| orgs.iter().find(|o| o.id == org && !o.isac).map(|o| o.identity_id.as_str());
            let mut objects = String::with_capacity(limit.min(2000) * 512);
            let (mut count, mut first, mut last, mut more) = (0usize, None, 0i64, false);
            let hidden = hidden_latest(store, &inner.hidden_latest, &query, &viewer)?;
            store.scan_raw(&query, &mut |e| {
                if !admits(&viewer, &spec, e) || hidden.contains(e.id) {
                    return true;
                }
                if count == limit {
                    more = true;
                    return false;
                }
                if count > 0 {
                    objects.push(',');
                }
                let hide = !policy::may_see_submitter(&viewer, e.owner, e.named);
                objects.push_str(&shown_json(e.json, identity(e.owner).filter(|_| hide), &isac_identity));
                first.get_or_insert(e.date_added);
                last = e.date_added;
                count += 1;
                true
            })?;
            let mut body = String::with_capacity(objects.len() + 64);
            body.push('{');
            if count > 0 {
                body.push_str(if more { "\"more\":true" } else { "\"more\":false" });
                if more {
                    body.push_str(&format!(",\"next\":\"d{last}\""));
                }
                body.push_str(",\"objects\":[");
                body.push_str(&objects);
                body.push(']');
            }
            body.push('}');
            Ok((body, count, first, last))
        })
        .await?;
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_21));
    if let Some(first) = first {
        date_headers(&mut resp, first, last);
    }
    resp.extensions_mut().insert(Returned(count as u64));
    Ok((resp, count))
}

/// The JSON a viewer receives: the stored bytes, except that when `hidden_submitter` (the
/// identity of an anonymous submitter the viewer may not know) is its `created_by_ref`, the
/// ISAC's identity stands in its place.
pub(crate) fn shown_json<'a>(
    json: &'a str,
    hidden_submitter: Option<&str>,
    isac_identity: &str,
) -> std::borrow::Cow<'a, str> {
    if let Some(id) = hidden_submitter {
        let from = format!("\"created_by_ref\":\"{id}\"");
        if json.contains(&from) {
            return json.replace(&from, &format!("\"created_by_ref\":\"{isac_identity}\"")).into();
        }
    }
    std::borrow::Cow::Borrowed(json)
}

/// One page of entries the caller may see, plus whether more exist.
async fn visible(
    state: &AppState,
    caller: &Caller,
    collection: &Collection,
    f: Filters,
) -> Result<(Vec<Entry>, bool), ApiError> {
    let viewer = caller.viewer;
    let (query, limit, spec) = store_query(collection, f);
    let inner = state.0.clone();
    state
        .read(move |store| {
            let mut page = Vec::with_capacity(limit.min(4096));
            let mut more = false;
            let hidden = hidden_latest(store, &inner.hidden_latest, &query, &viewer)?;
            store.scan_raw(&query, &mut |e| {
                if !admits(&viewer, &spec, e) || hidden.contains(e.id) {
                    return true;
                }
                if page.len() == limit {
                    more = true;
                    return false;
                }
                page.push(e.to_entry());
                true
            })?;
            Ok((page, more))
        })
        .await
}

/// `X-TAXII-Date-Added-First/Last` for a page whose entries were added between `first`
/// and `last`.
fn date_headers(resp: &mut Response, first: i64, last: i64) {
    for (name, at) in [("X-TAXII-Date-Added-First", first), ("X-TAXII-Date-Added-Last", last)] {
        if let Ok(v) = HeaderValue::from_str(&ts(at)) {
            resp.headers_mut().insert(name, v);
        }
    }
}

fn page_headers(resp: &mut Response, page: &[Entry]) {
    if let (Some(first), Some(last)) =
        (page.iter().map(|e| e.date_added).min(), page.iter().map(|e| e.date_added).max())
    {
        date_headers(resp, first, last);
    }
}

fn require_read(c: &Collection, caller: &Caller) -> Result<(), ApiError> {
    if c.read.allows(&caller.viewer) {
        Ok(())
    } else {
        Err(ApiError::forbidden("this collection is not readable with these credentials"))
    }
}

/// The checks every read of a collection starts with: media type, API root, a collection
/// the caller knows of (404 otherwise) and may read (403 otherwise).
async fn readable_collection(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    root: &str,
    cid: String,
) -> Result<Collection, ApiError> {
    negotiate(headers)?;
    check_root(state, root)?;
    let c = find_collection(state, caller, cid).await?;
    require_read(&c, caller)?;
    Ok(c)
}

async fn get_objects(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((root, cid)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let c = readable_collection(&state, &caller, &headers, &root, cid).await?;
    let f = parse_filters(&state, &q, Versions::Latest)?;
    Ok(objects_page(&state, &caller, &c, f).await?.0)
}

async fn get_object(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((root, cid, oid)): Path<(String, String, String)>,
    Query(mut q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let c = readable_collection(&state, &caller, &headers, &root, cid).await?;
    q.insert("match[id]".into(), oid.clone());
    let f = parse_filters(&state, &q, Versions::Latest)?;
    match objects_page(&state, &caller, &c, f).await? {
        (_, 0) => Err(ApiError::not_found("object")),
        (resp, _) => Ok(resp),
    }
}

async fn versions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((root, cid, oid)): Path<(String, String, String)>,
    Query(mut q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let c = readable_collection(&state, &caller, &headers, &root, cid).await?;
    q.insert("match[id]".into(), oid.clone());
    q.insert("match[version]".into(), "all".into());
    let f = parse_filters(&state, &q, Versions::All)?;
    let (page, more) = visible(&state, &caller, &c, f).await?;
    if page.is_empty() {
        return Err(ApiError::not_found("object"));
    }
    let mut body = json!({"more": more, "versions": page.iter().map(|e| e.version.clone()).collect::<Vec<_>>()});
    if more && let Some(last) = page.last() {
        body["next"] = json!(format!("d{}", last.date_added));
    }
    let mut resp = taxii(StatusCode::OK, body);
    page_headers(&mut resp, &page);
    resp.extensions_mut().insert(Returned(page.len() as u64));
    Ok(resp)
}

async fn manifest(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((root, cid)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let c = readable_collection(&state, &caller, &headers, &root, cid).await?;
    let f = parse_filters(&state, &q, Versions::Latest)?;
    let (page, more) = visible(&state, &caller, &c, f).await?;
    let mut body = json!({});
    if !page.is_empty() {
        body["more"] = json!(more);
        if more && let Some(last) = page.last() {
            body["next"] = json!(format!("d{}", last.date_added));
        }
        body["objects"] = page
            .iter()
            .map(|e| json!({"id": e.id, "date_added": ts(e.date_added), "version": e.version, "media_type": STIX_21}))
            .collect();
    }
    let mut resp = taxii(StatusCode::OK, body);
    page_headers(&mut resp, &page);
    resp.extensions_mut().insert(Returned(page.len() as u64));
    Ok(resp)
}

#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    objects: Vec<&'a serde_json::value::RawValue>,
}

async fn post_objects(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((root, cid)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    negotiate(&headers)?;
    check_root(&state, &root)?;
    let c = find_collection(&state, &caller, cid).await?;
    if !c.write.allows(&caller.viewer) {
        return Err(ApiError::forbidden("this collection is not writable with these credentials"));
    }
    if !is_taxii_content(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())) {
        return Err(ApiError::unsupported_media_type());
    }
    let max = state.0.config.max_content_length;
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > max)
    {
        return Err(ApiError::too_large(max));
    }
    let bytes: Bytes = axum::body::to_bytes(body, max).await.map_err(|_| ApiError::too_large(max))?;
    let request_timestamp = ts(now_micros());
    let viewer = caller.viewer;
    let (org_id, org_identity, org_name) = (caller.org.id, caller.org.identity_id.clone(), caller.org.name.clone());
    let collection = c.id;
    // Parsing, validation and storage are CPU and disk work: all of it on the blocking pool.
    let inner = state.0.clone();
    let status = state
        .blocking(move |store| {
            let env: Envelope<'_> = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::bad_request(format!("the body is not a TAXII envelope {{\"objects\": [...]}}: {e}"))
            })?;
            // Every object offered counts against the organization's write quota, valid or
            // not (validating is work too).
            inner.quotas.take(org_id, env.objects.len() as u64, bytes.len() as u64)?;
            let members: HashMap<String, String> = store.orgs()?.into_iter().map(|o| (o.identity_id, o.name)).collect();
            // Validate everything first: a bad object refuses the whole request, nothing is stored.
            let mut items = Vec::with_capacity(env.objects.len());
            let mut problems = Vec::new();
            for (index, raw) in env.objects.iter().enumerate() {
                match StixObject::parse(raw.get().as_bytes()) {
                    Ok(o) => {
                        if let Some(by) = o.created_by_ref()
                            && let Some(name) = members.get(by)
                            && by != org_identity
                            && !viewer.is_isac_staff()
                        {
                            problems.push(json!({"index": index, "id": o.id().as_str(), "property": "$.created_by_ref",
                                "reason": format!("names member organization {name:?}; you may only submit as {org_name:?}")}));
                            continue;
                        }
                        items.push(o);
                    }
                    Err(errs) => {
                        for e in errs {
                            problems.push(json!({"index": index, "id": e.object_id, "property": e.path, "reason": e.reason}));
                        }
                    }
                }
            }
            if !problems.is_empty() {
                let n = problems.len();
                return Err(ApiError::unprocessable(
                    format!("{n} problem(s) in the submitted objects; nothing was stored"),
                    json!(problems),
                ));
            }
            let successes: Vec<Value> = items
                .iter()
                .map(|o| {
                    let version = o.version().map(|t| t.as_str().to_owned()).unwrap_or_else(|| request_timestamp.clone());
                    json!({"id": o.id().as_str(), "version": version})
                })
                .collect();
            let total = items.len();
            let id = uuid::Uuid::new_v4().to_string();
            let mut status = json!({
                "id": id,
                "status": "complete",
                "request_timestamp": request_timestamp,
                "total_count": total,
                "success_count": total,
                "failure_count": 0,
                "pending_count": 0,
            });
            if !successes.is_empty() {
                status["successes"] = json!(successes);
            }
            let stored = status.to_string();
            let sub = Submission { org: org_id, collection, named: false, curator: viewer.is_isac_staff() };
            let mut items: Vec<Item> =
                items.into_iter().enumerate().map(|(index, o)| Item::Valid { index, line: 1, object: o.into_record() }).collect();
            dossier_store::markings_first(&mut items);
            store.import_with_status(&sub, &mut items.into_iter(), (&id, &stored))?;
            Ok(status)
        })
        .await?;
    let total = status["total_count"].as_u64().unwrap_or(0);
    let mut resp = taxii(StatusCode::ACCEPTED, status);
    resp.extensions_mut().insert(Returned(total));
    Ok(resp)
}

async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((root, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    negotiate(&headers)?;
    check_root(&state, &root)?;
    let found = state.blocking(move |store| Ok(store.status(&id)?)).await?;
    match found {
        Some((org, json)) if org == caller.org.id || caller.viewer.is_isac_staff() => {
            let v: Value =
                serde_json::from_str(&json).map_err(|e| ApiError::internal("stored status is not JSON", e))?;
            Ok(taxii(StatusCode::OK, v))
        }
        _ => Err(ApiError::not_found("status")),
    }
}

async fn delete_object(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((root, cid, oid)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    negotiate(&headers)?;
    check_root(&state, &root)?;
    let c = find_collection(&state, &caller, cid).await?;
    if !(c.read.allows(&caller.viewer) && c.write.allows(&caller.viewer)) {
        return Err(ApiError::forbidden("deleting needs read and write access to the collection"));
    }
    // DELETE takes match[version] and match[spec_version] only; every other parameter (an
    // added_after, a limit) is ignored, so no filter can narrow what the ownership check
    // sees while the removal reaches further. The versions removed are exactly those the
    // check looked at: the matching versions the caller may see.
    let mut f: HashMap<String, String> = HashMap::from([
        ("match[id]".to_owned(), oid.clone()),
        ("match[version]".to_owned(), q.get("match[version]").cloned().unwrap_or_else(|| "all".into())),
    ]);
    if let Some(spec) = q.get("match[spec_version]") {
        f.insert("match[spec_version]".into(), spec.clone());
    }
    let f = parse_filters(&state, &f, Versions::All)?;
    let (page, _) = visible(&state, &caller, &c, Filters { limit: usize::MAX, ..f }).await?;
    if page.is_empty() {
        return Err(ApiError::not_found("object"));
    }
    let by = (!caller.viewer.is_isac_staff()).then_some(caller.org.id);
    let vids: Vec<i64> = page.iter().map(|e| e.vid).collect();
    let cid = c.id;
    let removed = state.blocking(move |store| Ok(store.withdraw(cid, &oid, &vids, by)?)).await?;
    if removed == 0 {
        return Err(ApiError::forbidden(
            "your organization submitted none of the matching versions: an organization may withdraw only what it \
             submitted (ISAC analysts may remove anything)",
        ));
    }
    let mut resp = StatusCode::OK.into_response();
    resp.extensions_mut().insert(Returned(removed as u64));
    Ok(resp)
}
