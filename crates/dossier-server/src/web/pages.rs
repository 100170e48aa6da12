//! Dashboard, search, the actor list and the object (actor, persona, identifier) page.

use std::collections::{HashMap, HashSet};

use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use dossier_match::screen::graph::Walk;
use dossier_match::screen::{Candidate, Hit};
use dossier_store::AuditQuery;
use minijinja::context;
use serde::Serialize;
use serde_json::{Value, json};

use super::data::{self, Shown};
use super::{Web, WebError, render};
use crate::screen_api::search_hash;
use crate::{AppState, AuditParams, Returned};

/// Types that make the "recent intelligence" list.
const RECENT_TYPES: &[&str] = &["threat-actor", "identity", "intrusion-set", "report"];

#[derive(Serialize)]
struct ScreenRow {
    at: i64,
    channel: &'static str,
    decision: String,
    hits: Vec<Link>,
    restricted: u64,
}

#[derive(Serialize, Clone)]
struct Link {
    href: String,
    label: String,
    tlp: &'static str,
    tlp_class: &'static str,
}

fn link(s: &Shown) -> Link {
    let href = if s.ty == "threat-actor" { format!("/actors/{}", s.id) } else { format!("/objects/{}", s.id) };
    Link {
        href,
        label: if s.label.is_empty() { s.id.clone() } else { s.label.clone() },
        tlp: s.tlp,
        tlp_class: s.tlp_class,
    }
}

/// Objects the dashboard lists as recent intelligence.
const RECENT: usize = 12;
/// Objects looked up at a time for it.
const RECENT_BATCH: usize = 200;
/// Change-log entries read at a time for it.
const RECENT_CHUNK: i64 = 5_000;
/// How far back in the change log it looks, at most (a bound on the work of one page).
const RECENT_LOOKBACK: i64 = 500_000;

pub async fn dashboard(State(state): State<AppState>, Extension(web): Extension<Web>) -> Result<Response, WebError> {
    let viewer = web.viewer();
    let org = web.caller.org.id;
    let orgs = state.orgs().await?;
    let inner = state.0.clone();
    let shared = state.0.clone();
    let (recent, screens, counts, last) = state
        .read(move |store| {
            // Recent intelligence: the objects whose version the viewer may see were added
            // most recently. Only what the viewer may see decides the list: the change log is
            // read back in chunks until RECENT visible objects are known to be the newest
            // (another member's hidden writes neither push them out nor move an object it
            // re-submits up), and ordered by the date the visible version was added.
            let last = store.last_change()?;
            let mut recent: Vec<Shown> = Vec::new();
            let mut seen = HashSet::new();
            let mut upper = last;
            // Objects are looked up RECENT_BATCH at a time, newest first: on ordinary data the
            // first batch settles the list, as the 200 ids read before did.
            let mut ids: Vec<String> = Vec::new();
            'chunks: while upper > 0 && last - upper < RECENT_LOOKBACK {
                let from = (upper - RECENT_CHUNK).max(0);
                let changes = store.changes_since(from, RECENT_CHUNK as usize)?;
                upper = from;
                let count = changes.len();
                for (i, c) in changes.iter().rev().enumerate() {
                    if let Some(id) = &c.id
                        && RECENT_TYPES.iter().any(|t| id.starts_with(&format!("{t}--")))
                        && seen.insert(id.clone())
                    {
                        ids.push(id.clone());
                    }
                    if ids.len() >= RECENT_BATCH || (i + 1 == count && !ids.is_empty()) {
                        recent.extend(data::visible(store, &viewer, &orgs, &ids)?);
                        ids.clear();
                        // Anything not looked up yet was added before this change.
                        if recent.iter().filter(|s| s.date_added >= c.at).count() >= RECENT {
                            break 'chunks;
                        }
                    }
                }
            }
            recent.sort_by(|a, b| b.date_added.cmp(&a.date_added).then_with(|| a.id.cmp(&b.id)));
            recent.truncate(RECENT);
            // The organization's own recent screens that hit.
            let log = store.audit_log(&AuditQuery { org: Some(org), limit: 400, ..Default::default() })?;
            let mut rows = Vec::new();
            let mut wanted: Vec<String> = Vec::new();
            for r in &log {
                let channel = match r.path.as_str() {
                    "/api/v1/screen" => "API",
                    "/api/v1/screen/batch (records)" => "API batch",
                    "/api/v1/screen/jobs (records)" => "API job",
                    "web:/screen" => "web",
                    "web:/screen/batch (records)" => "web batch",
                    _ => continue,
                };
                let Some(params) = r.params.as_deref().and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
                    continue;
                };
                for entry in params.get("screen").and_then(Value::as_array).into_iter().flatten() {
                    let decision = entry.get("decision").and_then(Value::as_str).unwrap_or("clear").to_owned();
                    let restricted = entry.get("restricted").and_then(Value::as_u64).unwrap_or(0);
                    if decision == "clear" && restricted == 0 {
                        continue;
                    }
                    let objects: Vec<String> = entry
                        .get("objects")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .filter(|id| id.starts_with("threat-actor--") || id.starts_with("identity--"))
                        .map(str::to_owned)
                        .collect();
                    wanted.extend(objects.iter().cloned());
                    rows.push((r.at, channel, decision, objects, restricted));
                    if rows.len() >= 10 {
                        break;
                    }
                }
                if rows.len() >= 10 {
                    break;
                }
            }
            wanted.sort();
            wanted.dedup();
            // What a screen revealed then is shown again only if the viewer may still see it.
            let shown: HashMap<String, Shown> =
                data::visible(store, &viewer, &orgs, &wanted)?.into_iter().map(|s| (s.id.clone(), s)).collect();
            let screens: Vec<ScreenRow> = rows
                .into_iter()
                .map(|(at, channel, decision, objects, restricted)| {
                    let mut hits: Vec<Link> = objects.iter().filter_map(|id| shown.get(id)).map(link).collect();
                    hits.sort_by_key(|l| !l.href.starts_with("/actors/"));
                    hits.truncate(4);
                    ScreenRow { at, channel, decision, hits, restricted }
                })
                .collect();
            // Store-wide figures count every member's objects, RED ones included: for ISAC
            // staff only. Members get the census of what they may see.
            let counts = if viewer.is_isac_staff() {
                let cached = *shared.counts.lock().unwrap_or_else(|p| p.into_inner());
                Some(match cached {
                    Some((at, c)) if at.elapsed() < std::time::Duration::from_secs(60) => c,
                    _ => {
                        let c = store.counts()?;
                        *shared.counts.lock().unwrap_or_else(|p| p.into_inner()) = Some((std::time::Instant::now(), c));
                        c
                    }
                })
            } else {
                None
            };
            shared.screener.catch_up(store).map_err(|e| crate::ApiError::internal("screening index", e))?;
            Ok((recent, screens, counts, last))
        })
        .await?;
    let report = inner.screener.report().clone();
    let census = inner.screener.census(&viewer);
    let stats = viewer.is_isac_staff().then(|| inner.screener.recent_stats());
    let taxii = inner.taxii_seen.lock().unwrap_or_else(|p| p.into_inner()).get(&org).copied();
    let newest = recent.first().map(|s| s.date_added);
    let recent: Vec<(Link, &Shown)> = recent.iter().map(|s| (link(s), s)).collect();
    let recent: Vec<Value> = recent
        .iter()
        .map(|(l, s)| json!({"link": l, "type": s.ty, "added": s.date_added, "source": s.source, "confidence": s.confidence}))
        .collect();
    let ctx = context! {
        ..web.ctx("dashboard"),
        ..context! {
            recent => recent,
            screens => screens,
            census => census,
            newest => newest,
            taxii => taxii.map(|(at, status)| json!({"at": at, "status": status})),
            global => counts.map(|(versions, objects)| json!({"versions": versions, "objects": objects, "last_change": last, "index": stats})),
            built_from_snapshot => report.from_snapshot,
            build_seconds => format!("{:.1}", report.seconds),
            api_root => state.0.config.api_root,
        }
    };
    Ok(render("dashboard.html", ctx))
}

#[derive(serde::Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    field: String,
    #[serde(default)]
    tlp: String,
    #[serde(default)]
    min_confidence: String,
    #[serde(default)]
    since: String,
}

/// The evidence fields a search may be narrowed to: the identifier fields of the one
/// table of kinds.
fn search_fields() -> impl Iterator<Item = (&'static str, &'static str)> {
    dossier_match::kinds::FIELDS.iter().map(|f| (f.name, f.label))
}

pub async fn search(
    State(state): State<AppState>,
    Extension(web): Extension<Web>,
    Query(q): Query<SearchQuery>,
) -> Result<Response, WebError> {
    let text = q.q.trim().to_owned();
    if text.len() > 1024 {
        return Err(WebError::bad_request("the search text is longer than 1024 bytes"));
    }
    let min_conf: Option<u8> = match q.min_confidence.trim() {
        "" => None,
        s => Some(s.parse().map_err(|_| WebError::bad_request("minimum confidence must be a number from 0 to 100"))?),
    };
    let since = super::day_start(&q.since)?;
    let tlp = match q.tlp.trim() {
        "" => None,
        s => Some(dossier_stix::Tlp::parse(s).ok_or_else(|| WebError::bad_request("unknown TLP level"))?),
    };
    let field = search_fields().find(|(f, _)| *f == q.field).map(|(f, _)| f);
    let base = context! {
        ..web.ctx("search"),
        ..context! {
            q => text, field => field.unwrap_or(""), tlp => q.tlp, min_confidence => q.min_confidence, since => q.since,
            fields => search_fields().map(|(v, l)| json!({"value": v, "label": l})).collect::<Vec<_>>(),
        }
    };
    if text.is_empty() {
        return Ok(render("search.html", base));
    }
    // A STIX id goes straight to its page (which answers 404 alike for unknown and hidden).
    if dossier_stix::StixId::parse(&text).is_ok() {
        let to = if text.starts_with("threat-actor--") { "actors" } else { "objects" };
        return Ok(Redirect::to(&format!("/{to}/{}", super::urlencode(&text))).into_response());
    }
    let viewer = web.viewer();
    let inner = state.0.clone();
    let orgs = state.orgs().await?;
    let q2 = text.clone();
    let (screening, objects) = state
        .blocking(move |store| {
            inner.screener.catch_up(store).map_err(|e| crate::ApiError::internal("screening index", e))?;
            let s = inner.screener.search(&q2, &viewer);
            let ids = s.revealed_objects();
            // The stored objects, for their values as submitted and their dates.
            let objects: HashMap<String, (i64, String)> = data::visible(store, &viewer, &orgs, &ids)?
                .into_iter()
                .map(|o| (o.id, (o.date_added, o.label)))
                .collect();
            Ok((s, objects))
        })
        .await?;
    let restricted = dossier_match::screen::query::restricted_count(&screening);
    let mut groups: Vec<Value> = Vec::new();
    let mut returned = 0u64;
    for hit in &screening.matches {
        let Hit::Candidate(c) = hit else { continue };
        let evidence: Vec<Value> = c
            .evidence
            .iter()
            .filter(|e| field.is_none_or(|f| e.field == f))
            .filter(|e| tlp.is_none_or(|t| e.tlp == t))
            .filter(|e| min_conf.is_none_or(|m| e.confidence.unwrap_or(0) >= m))
            .filter(|e| since.is_none_or(|s| objects.get(&e.object).is_some_and(|o| o.0 >= s)))
            .map(|e| {
                let value = objects.get(&e.object).map(|o| o.1.clone()).filter(|v| !v.is_empty());
                json!({
                    "field": e.field, "normalized": e.normalized, "stored": e.stored, "object": e.object, "value": value,
                    "kind": e.kind, "tlp": e.tlp.as_str(), "tlp_class": data::tlp_class(e.tlp),
                    "confidence": e.confidence, "via": e.via, "similarity": e.similarity,
                })
            })
            .collect();
        if evidence.is_empty() {
            continue;
        }
        returned += 1;
        groups.push(candidate_json(c, evidence));
    }
    // The engine lists the strongest SEARCH_CAP candidates: say so when it left some out.
    let ctx = context! { ..base, ..context! { searched => true, groups => groups, restricted => restricted, contact => state.0.screener.options.contact,
    capped => screening.cut, cap => dossier_match::screen::query::SEARCH_CAP } };
    let mut resp = render("search.html", ctx);
    resp.extensions_mut().insert(Returned(returned));
    let audit = json!({"search": search_hash(&state.0.audit_key, &text), "objects": screening.revealed_objects()});
    resp.extensions_mut().insert(AuditParams(audit.to_string()));
    Ok(resp)
}

pub(crate) fn candidate_json(c: &Candidate, evidence: Vec<Value>) -> Value {
    json!({
        "actor": c.actor, "actor_name": c.actor_name,
        "personas": c.personas.iter().map(|p| json!({"id": p.id, "name": p.name, "stolen": p.stolen_identity})).collect::<Vec<_>>(),
        "score": c.score, "decision": c.decision.as_str(), "evidence": evidence,
        "absent": c.absent.as_ref().map(|a| json!({"fields": a.fields, "weight": format!("{:+.1}", a.weight)})),
    })
}

#[derive(serde::Deserialize, Default)]
pub struct Page {
    #[serde(default)]
    page: usize,
}

const ACTORS_PER_PAGE: usize = 50;

pub async fn actors(
    State(state): State<AppState>,
    Extension(web): Extension<Web>,
    Query(p): Query<Page>,
) -> Result<Response, WebError> {
    let viewer = web.viewer();
    let orgs = state.orgs().await?;
    let page = p.page.max(1);
    let skip = (page - 1) * ACTORS_PER_PAGE;
    let (rows, more) = state
        .read(move |store| {
            let mut rows = Vec::new();
            let mut seen = 0usize;
            let mut more = false;
            store.scan_latest(&["threat-actor"], None, &mut |e, staff_only| {
                if !data::admits(&viewer, e, staff_only) {
                    return true;
                }
                seen += 1;
                if seen <= skip {
                    return true;
                }
                if rows.len() == ACTORS_PER_PAGE {
                    more = true;
                    return false;
                }
                let v: Value = serde_json::from_str(e.json).unwrap_or(Value::Null);
                rows.push(json!({
                    "id": e.id, "name": data::label_of("threat-actor", &v),
                    "aliases": v.get("aliases"), "tlp": e.tlp.as_str(), "tlp_class": data::tlp_class(e.tlp),
                    "confidence": e.confidence, "last_seen": v.get("last_seen"),
                    "source": data::source_name(&viewer, &orgs, e.owner, e.named),
                }));
                true
            })?;
            Ok((rows, more))
        })
        .await?;
    let n = rows.len() as u64;
    let mut resp = render(
        "actors.html",
        context! { ..web.ctx("actors"), ..context! { actors => rows, page_no => page, more => more } },
    );
    resp.extensions_mut().insert(Returned(n));
    Ok(resp)
}

/// Types drawn as identifiers on an object page, in display order.
const IDENTIFIER_ORDER: &[(&str, &str)] = &[
    ("email-addr", "Emails"),
    ("phone-number", "Phones"),
    ("user-account", "Accounts"),
    ("cryptocurrency-wallet", "Wallets"),
    ("bank-account", "Bank accounts"),
    ("ipv4-addr", "IPv4 addresses"),
    ("ipv6-addr", "IPv6 addresses"),
    ("file", "Documents and resumes"),
    ("url", "URLs"),
    ("domain-name", "Domains"),
];

pub async fn object(
    State(state): State<AppState>,
    Extension(web): Extension<Web>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    if dossier_stix::StixId::parse(&id).is_err() {
        return Err(WebError::not_found());
    }
    let viewer = web.viewer();
    let orgs = state.orgs().await?;
    let inner = state.0.clone();
    let id2 = id.clone();
    let found = state
        .read(move |store| {
            inner.screener.catch_up(store).map_err(|e| crate::ApiError::internal("screening index", e))?;
            let Some(g) = inner.screener.neighbourhood(&id2, &viewer, Walk::default()) else { return Ok(None) };
            let mut ids: Vec<String> = g.nodes.iter().map(|n| n.id.clone()).collect();
            ids.extend(g.notes.iter().cloned());
            ids.extend(g.sightings.iter().cloned());
            let shown = data::visible(store, &viewer, &orgs, &ids)?;
            let provenance = data::sources(store, &viewer, &orgs, &id2)?;
            Ok(Some((g, shown, provenance)))
        })
        .await?;
    // Objects the index does not keep (reports, sightings, relationships …) have no
    // neighbourhood; show them alone if the viewer may see them.
    let (graph, shown, provenance) = match found {
        Some(x) => x,
        None => {
            let orgs = state.orgs().await?;
            let id2 = id.clone();
            let alone = state
                .read(move |store| {
                    let shown = data::visible(store, &viewer, &orgs, std::slice::from_ref(&id2))?;
                    Ok((shown, data::sources(store, &viewer, &orgs, &id2)?))
                })
                .await?;
            match alone {
                (shown, prov) if !shown.is_empty() => (Default::default(), shown, prov),
                _ => return Err(WebError::not_found()),
            }
        }
    };
    let by_id: HashMap<&str, &Shown> = shown.iter().map(|s| (s.id.as_str(), s)).collect();
    let Some(subject) = by_id.get(id.as_str()).copied() else { return Err(WebError::not_found()) };
    // Keep only nodes the store confirms the viewer may see (the index and the store agree
    // unless a write landed in between; the store wins).
    let nodes: Vec<&dossier_match::screen::graph::GraphNode> =
        graph.nodes.iter().filter(|n| by_id.contains_key(n.id.as_str())).collect();
    let index_of: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut adjacency: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut edges = Vec::new();
    for (a, b) in &graph.edges {
        let (Some(na), Some(nb)) = (graph.nodes.get(*a as usize), graph.nodes.get(*b as usize)) else { continue };
        if let (Some(&ia), Some(&ib)) = (index_of.get(na.id.as_str()), index_of.get(nb.id.as_str())) {
            edges.push((ia, ib));
            adjacency.entry(ia).or_default().push(ib);
            adjacency.entry(ib).or_default().push(ia);
        }
    }
    let is_party = |t: &str| t == "threat-actor" || t == "identity" || t == "intrusion-set";
    // Direct parties (personas of an actor, the actor of a persona) and identifiers held by
    // the subject or by those parties; everything further out is an association.
    let mut close: HashSet<usize> = HashSet::new();
    if let Some(&start) = index_of.get(id.as_str()) {
        close.insert(start);
        for &n in adjacency.get(&start).into_iter().flatten() {
            if is_party(nodes[n].ty) {
                close.insert(n);
            }
        }
    }
    let mut personas = Vec::new();
    let mut identifiers: HashMap<&str, Vec<Value>> = HashMap::new();
    let mut associated = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let s = by_id[n.id.as_str()];
        if n.id == id {
            continue;
        }
        let holders: Vec<&str> = adjacency
            .get(&i)
            .into_iter()
            .flatten()
            .filter(|&&o| close.contains(&o) && is_party(nodes[o].ty))
            .map(|&o| by_id[nodes[o].id.as_str()].label.as_str())
            .collect();
        let row = json!({
            "link": link(s), "type": s.ty, "confidence": s.confidence, "source": s.source,
            "stolen": s.json.get("x_dossier_stolen_identity").and_then(Value::as_bool).unwrap_or(false)
                || s.json.get("labels").and_then(Value::as_array).is_some_and(|l| l.iter().any(|x| x == "stolen-identity")),
            "first_seen": s.json.get("first_seen").or_else(|| s.json.get("created")),
            "last_seen": s.json.get("last_seen").or_else(|| s.json.get("modified")),
            "holders": holders, "shared": adjacency.get(&i).map_or(0, |a| a.iter().filter(|&&o| is_party(nodes[o].ty)).count()),
        });
        if close.contains(&i) {
            personas.push(row);
        } else if !is_party(n.ty) && (!holders.is_empty() || n.depth <= 1) {
            identifiers.entry(static_type(&s.ty)).or_default().push(row);
        } else if is_party(n.ty) {
            associated.push(row);
        }
    }
    let mut groups: Vec<Value> = Vec::new();
    for (t, title) in IDENTIFIER_ORDER {
        if let Some(rows) = identifiers.remove(t) {
            groups.push(json!({"title": title, "rows": rows}));
        }
    }
    groups.extend(identifiers.into_iter().map(|(t, rows)| json!({"title": t, "rows": rows})));
    let notes: Vec<Value> = graph
        .notes
        .iter()
        .filter_map(|n| by_id.get(n.as_str()))
        .map(|s| {
            json!({
                "title": s.json.get("abstract"), "content": s.json.get("content"), "tlp": s.tlp, "tlp_class": s.tlp_class,
                "source": s.source, "added": s.date_added,
            })
        })
        .collect();
    let mut sightings: Vec<Value> = graph
        .sightings
        .iter()
        .filter_map(|n| by_id.get(n.as_str()))
        .map(|s| {
            let of = s.json.get("sighting_of_ref").and_then(Value::as_str).unwrap_or("");
            json!({
                "first_seen": s.json.get("first_seen"), "last_seen": s.json.get("last_seen"), "count": s.json.get("count"),
                "description": s.json.get("description"), "tlp": s.tlp, "source": s.source, "added": s.date_added,
                "of": by_id.get(of).map(|o| link(o)),
            })
        })
        .collect();
    sightings.sort_by(|a, b| b["last_seen"].as_str().cmp(&a["last_seen"].as_str()));
    let corroboration = corroboration(subject, graph.sightings.iter().filter_map(|n| by_id.get(n.as_str())).copied());
    let sources: Vec<Value> = provenance;
    let graph_json = json!({
        "nodes": nodes.iter().map(|n| {
            let s = by_id[n.id.as_str()];
            json!({"id": n.id, "type": n.ty, "label": s.label, "tlp": s.tlp, "depth": n.depth, "href": link(s).href})
        }).collect::<Vec<_>>(),
        "edges": edges,
        "truncated": graph.truncated,
    });
    // For ISAC analysts: how members judged this object in their review queues.
    let judged = if web.staff() {
        let object = subject.id.clone();
        state.blocking(move |store| Ok(store.disposition_counts(Some(&object), 1)?)).await?.into_iter().next()
    } else {
        None
    };
    let subject_json = &subject.json;
    let ctx = context! {
        ..web.ctx(if subject.ty == "threat-actor" { "actors" } else { "object" }),
        ..context! {
            subject => subject,
            description => subject_json.get("description"),
            aliases => subject_json.get("aliases"),
            labels => subject_json.get("labels"),
            kinds => subject_json.get("threat_actor_types"),
            first_seen => subject_json.get("first_seen").or_else(|| subject_json.get("created")),
            last_seen => subject_json.get("last_seen").or_else(|| subject_json.get("modified")),
            stolen => subject_json.get("x_dossier_stolen_identity").and_then(Value::as_bool).unwrap_or(false),
            personas => personas,
            groups => groups,
            associated => associated,
            notes => notes,
            sightings => sightings,
            corroboration => corroboration,
            judged => judged,
            can_sight => subject.ty == "identity" || subject.ty == "threat-actor",
            today => dossier_stix::Timestamp::from_unix_micros(dossier_stix::timestamp::now_micros()).as_str()[..10].to_owned(),
            sources => sources,
            graph => graph_json.to_string(),
            node_count => nodes.len(),
            truncated => graph.truncated,
            raw => serde_json::to_string_pretty(subject_json).unwrap_or_default(),
        }
    };
    let mut resp = render("object.html", ctx);
    resp.extensions_mut().insert(Returned(nodes.len().max(1) as u64));
    Ok(resp)
}

fn static_type(t: &str) -> &'static str {
    IDENTIFIER_ORDER.iter().find(|(x, _)| *x == t).map_or("other", |(x, _)| x)
}

/// `GET /objects/{id}/sources.csv`: the object's sources as the page lists them.
pub async fn sources_csv(
    State(state): State<AppState>,
    Extension(web): Extension<Web>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    if dossier_stix::StixId::parse(&id).is_err() {
        return Err(WebError::not_found());
    }
    let viewer = web.viewer();
    let orgs = state.orgs().await?;
    let sources = state.read(move |store| Ok(data::sources(store, &viewer, &orgs, &id)?)).await?;
    if sources.is_empty() {
        return Err(WebError::not_found());
    }
    let body = data::sources_csv(&sources).map_err(|e| WebError::internal("writing the sources CSV", e))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"dossier-sources.csv\""),
        ],
        body,
    )
        .into_response())
}

/// How many organizations' sightings of an actor or persona (or of its personas) the viewer
/// may see, the latest, and the confidence recomputed from them: each organization other
/// than the one that reported the object, by its own sighting, halves the doubt left —
/// `100 − (100 − c) × 0.5^m`, at most 99 — since independent members meeting the same
/// operative are independent evidence. Counted, never named (an anonymous sighting stays
/// anonymous).
pub(crate) fn corroboration<'a>(subject: &data::Shown, sightings: impl Iterator<Item = &'a data::Shown>) -> Value {
    let mut orgs = std::collections::BTreeSet::new();
    let mut last: Option<String> = None;
    for s in sightings {
        orgs.insert(s.owner);
        if let Some(l) = s.json.get("last_seen").and_then(Value::as_str)
            && last.as_deref().is_none_or(|x| l > x)
        {
            last = Some(l.to_owned());
        }
    }
    if orgs.is_empty() {
        return Value::Null;
    }
    let others = orgs.iter().filter(|o| **o != subject.owner).count();
    let confidence = subject.confidence.map(|c| corroborated(c, others));
    json!({"organizations": orgs.len(), "others": others, "last": last, "confidence": confidence})
}

/// The confidence `c` (0–100) after `others` independent organizations' sightings: each
/// halves the doubt left, at most 99.
pub(crate) fn corroborated(c: u8, others: usize) -> u8 {
    if others == 0 {
        return c;
    }
    let doubt = f64::from(100 - c.min(100)) * 0.5f64.powi(others.min(32) as i32);
    ((100.0 - doubt).round() as u8).min(99).max(c.min(99))
}

#[cfg(test)]
mod tests {
    use super::corroborated;

    #[test]
    fn each_other_member_halves_the_doubt_left() {
        assert_eq!(corroborated(60, 0), 60);
        assert_eq!(corroborated(60, 1), 80);
        assert_eq!(corroborated(60, 2), 90);
        assert_eq!(corroborated(60, 10), 99, "never certain");
        assert_eq!(corroborated(100, 0), 100, "an object's own confidence stands");
        assert_eq!(corroborated(0, 1), 50);
    }
}
