//! Contributing: a form that reports a persona with its identifiers (turned into STIX 2.1
//! objects here), and a STIX bundle upload. Either is validated whole before anything is
//! stored; problems are shown next to the field (or with the object's index, id and
//! property), and nothing of a refused submission is kept.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dossier_stix::timestamp::now_micros;
use dossier_stix::{StixObject, Tlp};
use dossier_store::Collection;
use minijinja::context;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::{Fields, Posted, Web, WebError, data, render};
use crate::persona::{NewPersona, Problems, persona_objects, problem};
use crate::{AppState, Returned};

use crate::persona::MAX_LINES;

fn writable(collections: &[Collection], web: &Web) -> Vec<Collection> {
    crate::persona::writable(collections, &web.caller)
}

async fn page_ctx(state: &AppState, web: &Web) -> Result<minijinja::Value, WebError> {
    let viewer = web.viewer();
    let orgs = state.orgs().await?;
    let me = web.caller.org.id;
    let (collections, actors) = state
        .read(move |store| {
            let collections = store.collections()?;
            // Actors the contributor may attach a persona to: those it may see.
            let mut actors = Vec::new();
            store.scan_latest(&["threat-actor"], None, &mut |e, staff_only| {
                if data::admits(&viewer, e, staff_only) {
                    let v: Value = serde_json::from_str(e.json).unwrap_or(Value::Null);
                    actors.push(json!({"id": e.id, "name": data::label_of("threat-actor", &v)}));
                }
                actors.len() < 2000
            })?;
            Ok((collections, actors))
        })
        .await?;
    let collections: Vec<Value> = writable(&collections, web)
        .iter()
        .map(|c| json!({"id": c.id, "title": c.title, "default_tlp": c.default_tlp.as_str()}))
        .collect();
    let members: Vec<Value> =
        orgs.iter().filter(|o| !o.isac && o.id != me).map(|o| json!({"id": o.identity_id, "name": o.name})).collect();
    Ok(context! {
        ..web.ctx("contribute"),
        ..context! {
            collections => collections, actors => actors, members => members,
            tlps => ["clear", "green", "amber", "amber+strict", "red"],
        }
    })
}

pub async fn form(State(state): State<AppState>, Extension(web): Extension<Web>) -> Result<Response, WebError> {
    let ctx = page_ctx(&state, &web).await?;
    Ok(render(
        "contribute.html",
        context! { ..ctx, ..context! { form => json!({"tlp": "amber", "confidence": "70"}) } },
    ))
}

fn lines(f: &Fields, field: &str, p: &mut Problems) -> Vec<String> {
    let v = f.lines(field);
    if v.len() > MAX_LINES {
        problem(p, field, format!("at most {MAX_LINES} lines"));
    }
    for (i, l) in v.iter().enumerate() {
        if l.len() > 1024 {
            problem(p, field, format!("line {} is longer than 1024 bytes", i + 1));
        }
    }
    v
}

pub async fn submit(State(state): State<AppState>, Posted { web, f }: Posted) -> Result<Response, WebError> {
    let mut p = Problems::new();
    let name = f.get("name").trim().to_owned();
    if name.is_empty() {
        problem(&mut p, "name", "a persona needs the name it used");
    } else if name.chars().count() > 256 {
        problem(&mut p, "name", "at most 256 characters");
    }
    let tlp = Tlp::parse(f.get("tlp")).unwrap_or_else(|| {
        problem(&mut p, "tlp", "choose a TLP level");
        Tlp::Amber
    });
    let confidence: u8 = match f.get("confidence").trim().parse::<u8>() {
        Ok(c) if c <= 100 => c,
        _ => {
            problem(&mut p, "confidence", "a whole number from 0 to 100");
            0
        }
    };
    let region = Some(f.get("region").trim().to_uppercase()).filter(|r| !r.is_empty());
    let now = dossier_stix::Timestamp::from_unix_micros(now_micros()).as_str().to_owned();
    let ids = crate::persona::identifiers(
        &mut |field, p| lines(&f, field, p),
        region.as_deref(),
        tlp,
        &state.0.id_document_key,
        &mut p,
    );
    let resume = f.get("resume_text").trim().to_owned();
    if resume.len() > 100 * 1024 {
        problem(&mut p, "resume_text", "at most 100 KiB of text");
    }
    // Where it goes and with whom a RED report is shared.
    let viewer = web.viewer();
    let orgs = state.orgs().await?;
    let collections = state.blocking(|store| Ok(store.collections()?)).await?;
    let writable = writable(&collections, &web);
    let collection = match f.get("collection").parse::<i64>().ok().and_then(|id| writable.iter().find(|c| c.id == id)) {
        Some(c) => Some(c.clone()),
        None if f.get("collection").is_empty() => writable.first().cloned(),
        None => {
            problem(&mut p, "collection", "choose a collection you may write to");
            None
        }
    };
    if collection.is_none() && !p.contains_key("collection") {
        problem(&mut p, "collection", "no collection accepts your contributions; ask the ISAC analysts");
    }
    let share: Vec<String> = f
        .all("share_with")
        .into_iter()
        .filter(|id| orgs.iter().any(|o| o.identity_id == *id && !o.isac))
        .map(str::to_owned)
        .collect();
    if !share.is_empty() && tlp != Tlp::Red {
        problem(&mut p, "share_with", "naming recipients only applies to TLP:RED");
    }
    let actor_choice = f.get("actor").trim().to_owned();
    let new_actor = f.get("new_actor").trim().to_owned();
    let mut actor_id: Option<String> = None;
    if actor_choice == "new" {
        if new_actor.is_empty() {
            problem(&mut p, "new_actor", "name the new actor");
        }
    } else if !actor_choice.is_empty() {
        let id = actor_choice.clone();
        let orgs2 = orgs.clone();
        let seen = state.read(move |store| Ok(data::visible(store, &viewer, &orgs2, &[id])?)).await?;
        if seen.first().is_some_and(|s| s.ty == "threat-actor") {
            actor_id = Some(actor_choice.clone());
        } else {
            problem(&mut p, "actor", "no such actor that you may see");
        }
    }
    if !p.is_empty() {
        let ctx = page_ctx(&state, &web).await?;
        let echo: Map<String, Value> =
            f.0.iter().filter(|(k, _)| k != "csrf").map(|(k, v)| (k.clone(), json!(v))).collect();
        let mut resp = render(
            "contribute.html",
            context! { ..ctx, ..context! { form => echo, problems => p, shared => share, error => "Nothing was stored: correct the fields marked below." } },
        );
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let Some(collection) = collection else { return Err(WebError::bad_request("no collection")) };
    // The objects.
    let by = web.caller.org.identity_id.clone();
    let spec = NewPersona {
        by: &by,
        name: &name,
        confidence,
        tlp,
        stolen: f.get("stolen") == "on",
        actor: actor_id.as_deref(),
        new_actor: (actor_choice == "new").then_some(new_actor.as_str()),
        region: region.as_deref(),
        resume: &resume,
        share_with: &share,
    };
    let (persona, _, objects) = persona_objects(&spec, ids, &now);
    let named = f.get("named") == "on";
    let objects: Vec<Vec<u8>> = objects.iter().map(|o| o.to_string().into_bytes()).collect();
    let n = store_objects(&state, &web, collection.id, named, objects).await?;
    let mut resp = Redirect::to(&format!("/objects/{persona}?stored={n}")).into_response();
    resp.extensions_mut().insert(Returned(n as u64));
    Ok(resp)
}

/// Validates every object, then stores them in one transaction; errors name the object.
async fn store_objects(
    state: &AppState,
    web: &Web,
    collection: i64,
    named: bool,
    objects: Vec<Vec<u8>>,
) -> Result<usize, WebError> {
    Ok(crate::persona::store_as(state, &web.caller, collection, named, objects).await?)
}

/// An upload in another format than STIX: a MISP event (JSON) or a CSV of identifiers,
/// converted by `dossier_import` (every refused record named), previewed or stored through
/// the same rules as every write.
async fn converted_upload(state: &AppState, web: &Web, f: &Fields, format: &str) -> Result<Response, WebError> {
    let text = f.get("bundle").trim().to_owned();
    let max = state.0.config.max_content_length;
    let collections = state.blocking(|store| Ok(store.collections()?)).await?;
    let collection = f
        .get("collection")
        .parse::<i64>()
        .ok()
        .and_then(|id| writable(&collections, web).into_iter().find(|c| c.id == id));
    let refuse = |reason: String| -> Result<Response, WebError> { Err(WebError::bad_request(reason)) };
    let Some(collection) = collection else { return refuse("choose a collection you may write to".into()) };
    if text.is_empty() {
        return refuse("paste the file's content or choose a file".into());
    }
    if text.len() > max {
        return refuse(format!("the upload is {} bytes; the limit is {max} bytes", text.len()));
    }
    let named = f.get("named") == "on";
    let preview = f.get("preview") == "on";
    let now = dossier_stix::Timestamp::from_unix_micros(now_micros()).as_str().to_owned();
    let by = named.then(|| web.caller.org.identity_id.clone());
    let key = state.0.id_document_key.clone();
    let scope = dossier_import::scope(&key, &web.caller.org.identity_id);
    let tlp = collection.default_tlp;
    let converted = match format {
        "misp" => dossier_import::misp::events(text.as_bytes()).map(|events| {
            let opts = dossier_import::misp::Options { tlp, confidence: 50, region: None, id_key: &key, now: &now };
            dossier_import::misp::convert(&events, &opts)
        }),
        _ => {
            let opts = dossier_import::csv_ids::Options {
                by: by.as_deref(),
                scope: &scope,
                tlp,
                confidence: 50,
                region: None,
                id_key: &key,
                now: &now,
            };
            dossier_import::csv_ids::convert(text.as_bytes(), &opts)
        }
    };
    let ctx = page_ctx(state, web).await?;
    let form = json!({"tlp": "amber", "confidence": "70"});
    let converted = match converted {
        Ok(c) => c,
        Err(e) => {
            let mut resp = render(
                "contribute.html",
                context! { ..ctx, ..context! { form => form, bundle_problems => vec![json!({"reason": e.to_string()})],
                bundle_text => text, bundle_error => "The upload was refused; nothing was stored.", upload_format => format } },
            );
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(resp);
        }
    };
    let mut refused = converted.refused.clone();
    refused.truncate(200);
    let mut summary = json!({"counts": converted.counts(), "objects": converted.objects.len(), "refused": refused,
        "refused_total": converted.refused.len(), "notes": converted.notes, "preview": preview});
    if !preview && !converted.objects.is_empty() {
        let objects: Vec<Vec<u8>> = converted.objects.iter().map(|o| o.to_string().into_bytes()).collect();
        let (n, left_out) =
            crate::persona::store_as_leaving_out(state, &web.caller, collection.id, named, objects).await?;
        summary["stored"] = json!(n);
        summary["left_out"] = json!(left_out);
        summary["collection"] = json!(collection.title);
    }
    let mut resp = render(
        "contribute.html",
        context! { ..ctx, ..context! { form => form, converted => summary, upload_format => format,
        bundle_text => if preview { text } else { String::new() } } },
    );
    resp.extensions_mut().insert(Returned(converted.objects.len() as u64));
    Ok(resp)
}

pub async fn bundle(State(state): State<AppState>, Posted { web, f }: Posted) -> Result<Response, WebError> {
    match f.get("format") {
        "" | "stix" => {}
        format @ ("misp" | "csv") => return converted_upload(&state, &web, &f, format).await,
        other => return Err(WebError::bad_request(format!("format {other:?}: stix, misp or csv"))),
    }
    let text = f.get("bundle").trim().to_owned();
    let mut problems: Vec<Value> = Vec::new();
    // Objects are kept as the bytes given: what goes in comes back unchanged.
    let mut objects: Vec<Box<RawValue>> = Vec::new();
    if text.is_empty() {
        problems.push(json!({"reason": "paste a bundle or choose a file"}));
    } else if text.len() > state.0.config.max_content_length {
        // The same limit as a TAXII POST.
        let max = state.0.config.max_content_length;
        problems.push(json!({"reason": format!("the bundle is {} bytes; the limit is {max} bytes", text.len())}));
    } else {
        #[derive(serde::Deserialize)]
        struct Envelope {
            objects: Vec<Box<RawValue>>,
        }
        let parsed = if text.starts_with('[') {
            serde_json::from_str::<Vec<Box<RawValue>>>(&text)
        } else {
            serde_json::from_str::<Envelope>(&text).map(|e| e.objects)
        };
        match parsed {
            Ok(list) => objects = list,
            Err(_) => match serde_json::from_str::<Value>(&text) {
                Err(e) => {
                    problems.push(json!({"reason": format!("not JSON: line {}, column {}: {e}", e.line(), e.column())}))
                }
                Ok(_) => problems
                    .push(json!({"reason": "expected a STIX bundle {\"type\": \"bundle\", \"objects\": [...]}"})),
            },
        }
    }
    let collections = state.blocking(|store| Ok(store.collections()?)).await?;
    let writable = writable(&collections, &web);
    let collection =
        f.get("collection").parse::<i64>().ok().and_then(|id| writable.iter().find(|c| c.id == id)).cloned();
    if collection.is_none() {
        problems.push(json!({"property": "collection", "reason": "choose a collection you may write to"}));
    }
    // The same checks as a TAXII POST: valid STIX, and no speaking for another member.
    let orgs = state.orgs().await?;
    let me = web.caller.org.identity_id.clone();
    for (index, o) in objects.iter().enumerate() {
        match StixObject::parse(o.get().as_bytes()) {
            Ok(obj) => {
                if let Some(by) = obj.created_by_ref()
                    && by != me
                    && !web.staff()
                    && let Some(other) = orgs.iter().find(|x| x.identity_id == by)
                {
                    problems.push(json!({"index": index, "id": obj.id().as_str(), "property": "created_by_ref",
                        "reason": format!("names member organization {:?}; you may only submit as {:?}", other.name, web.caller.org.name)}));
                }
            }
            Err(errs) => {
                for e in errs {
                    problems.push(json!({"index": index, "id": e.object_id, "property": e.path, "reason": e.reason}));
                }
            }
        }
    }
    if !problems.is_empty() || objects.is_empty() {
        if problems.is_empty() {
            problems.push(json!({"reason": "the bundle holds no objects"}));
        }
        problems.truncate(200);
        let ctx = page_ctx(&state, &web).await?;
        let mut resp = render(
            "contribute.html",
            context! { ..ctx, ..context! { form => json!({"tlp": "amber", "confidence": "70"}), bundle_problems => problems, bundle_text => text, bundle_error => "The bundle was refused; nothing was stored." } },
        );
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let Some(collection) = collection else { return Err(WebError::bad_request("no collection")) };
    let named = f.get("named") == "on";
    let objects: Vec<Vec<u8>> = objects.iter().map(|o| o.get().as_bytes().to_vec()).collect();
    let n = store_objects(&state, &web, collection.id, named, objects).await?;
    let ctx = page_ctx(&state, &web).await?;
    let mut resp = render(
        "contribute.html",
        context! { ..ctx, ..context! { form => json!({"tlp": "amber", "confidence": "70"}), stored => n, stored_collection => collection.title } },
    );
    resp.extensions_mut().insert(Returned(n as u64));
    Ok(resp)
}

/// Records "we saw this persona (or actor)": a STIX sighting of the object, by the member's
/// organization, on the given day. `where_sighted_refs` names the organization only when it
/// chose to be named, so that an anonymous sighting stays anonymous.
pub async fn sighting(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { web, f }: Posted,
) -> Result<Response, WebError> {
    let viewer = web.viewer();
    let orgs = state.orgs().await?;
    let id2 = id.clone();
    let seen = state.read(move |store| Ok(data::visible(store, &viewer, &orgs, &[id2])?)).await?;
    if !seen.first().is_some_and(|s| s.ty == "identity" || s.ty == "threat-actor") {
        return Err(WebError::not_found());
    }
    let tlp = Tlp::parse(f.get("tlp")).ok_or_else(|| WebError::bad_request("choose a TLP level"))?;
    let day = f.get("date").trim();
    let when = match day {
        "" => dossier_stix::Timestamp::from_unix_micros(now_micros()).as_str().to_owned(),
        d => dossier_stix::Timestamp::parse(&format!("{d}T00:00:00.000Z"))
            .map_err(|_| WebError::bad_request("the date must read YYYY-MM-DD"))?
            .as_str()
            .to_owned(),
    };
    let description = f.get("description").trim();
    if description.len() > 4096 {
        return Err(WebError::bad_request("the description is longer than 4 KiB"));
    }
    let now = dossier_stix::Timestamp::from_unix_micros(now_micros()).as_str().to_owned();
    let named = f.get("named") == "on";
    let by = web.caller.org.identity_id.clone();
    let sighting = crate::persona::sighting_object(
        &crate::persona::NewSighting {
            by: &by,
            isac: &state.0.isac.identity_id,
            of: &id,
            when: &when,
            tlp,
            named,
            description: Some(description),
        },
        &now,
    );
    let collections = state.blocking(|store| Ok(store.collections()?)).await?;
    let Some(collection) = writable(&collections, &web).first().cloned() else {
        return Err(WebError::forbidden("no collection accepts your contributions"));
    };
    store_objects(&state, &web, collection.id, named, vec![sighting.to_string().into_bytes()]).await?;
    let to = if id.starts_with("threat-actor--") { "actors" } else { "objects" };
    let mut resp = Redirect::to(&format!("/{to}/{id}#sightings")).into_response();
    resp.extensions_mut().insert(Returned(1));
    Ok(resp)
}
