//! MISP events (the MISP core JSON format) to STIX, and an actor back to a MISP event.
//!
//! **In.** A file holds one event (`{"Event": {…}}`), a search answer
//! (`{"response": [{"Event": …}, …]}`) or a list of them; a feed is a `manifest.json`
//! naming events kept as `UUID.json` beside it (the caller fetches them). Per event:
//!
//! - the creating organization (`Orgc`) becomes an `identity` and every object's
//!   `created_by_ref` (provenance);
//! - the actor: each `threat-actor` galaxy cluster (or `misp-galaxy:threat-actor="…"` tag)
//!   becomes a `threat-actor` (its synonyms as aliases; the same cluster in two events is one
//!   actor); an event without one becomes an actor named by the event's `info`;
//! - each `person` object becomes a persona (`identity`) attributed to the actor, with the
//!   identifiers among its attributes; identifiers elsewhere (attributes, and objects such
//!   as `email`, `github-user`, `telegram-account`, `social-media`,
//!   `cryptocurrency-transaction`) go to one persona per event, `unnamed persona of ACTOR`;
//! - attribute types: `email`, `email-src`, `email-dst`, `email-reply-to`,
//!   `whois-registrant-email` → e-mail; `phone-number`, `whois-registrant-phone` → phone;
//!   `btc`, `eth`, `xmr`, `trx`, … and a transaction object's `address` → wallet;
//!   `github-username` → GitHub account; `url`, `link`, `uri` → an account when it is a
//!   profile URL, else a website; `domain`, `hostname` → website; `ip-src`, `ip-dst` (and
//!   `|port` forms) → IP; `iban`, `bank-account-nr` → bank account; `passport-number` (with
//!   the person's `passport-country`) → identity document (keyed hash only); `sha256` →
//!   document. Other types are counted in a note, not imported. Each value goes through the
//!   contribution form's checks; one that fails is refused with its attribute's uuid.
//! - TLP: an attribute's `tlp:` tag, else its distribution (0 → RED; 1, 2 and sharing groups
//!   → AMBER; 3 → GREEN; 5 → the event's), else the event's tag or distribution, else the
//!   caller's default. An object several attributes name takes the most restrictive.
//!
//! Ids derive from the MISP uuids, so importing an event again updates the same objects.
//!
//! **Out.** [`export_event`] writes an actor, its personas and their identifiers as one
//! MISP event: a `threat-actor` galaxy cluster, a `person` object per persona with its
//! identifiers, a `tlp:` tag of the most restrictive level among them.

use std::collections::{BTreeMap, HashMap};

use dossier_stix::Tlp;
use serde_json::{Value, json};

use crate::persona::{Problems, identifiers};
use crate::{Converted, ImportError, derived_id};

/// Settings of one import.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// TLP when neither a tag nor a distribution says.
    pub tlp: Tlp,
    pub confidence: u8,
    /// Region of phone numbers written without a country code.
    pub region: Option<&'a str>,
    /// The installation's key for identity-document hashes.
    pub id_key: &'a [u8],
    pub now: &'a str,
}

/// The events in a MISP JSON document.
pub fn events(bytes: &[u8]) -> Result<Vec<Value>, ImportError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| ImportError::Format(format!("not MISP JSON: {e}")))?;
    let mut out = Vec::new();
    let mut take = |x: &Value| {
        if let Some(e) = x.get("Event") {
            out.push(e.clone());
        }
    };
    match &v {
        Value::Array(items) => items.iter().for_each(&mut take),
        Value::Object(m) if m.contains_key("response") => match &v["response"] {
            Value::Array(items) => items.iter().for_each(&mut take),
            other => take(other),
        },
        other => take(other),
    }
    if out.is_empty() {
        return Err(ImportError::Format("no MISP event ({\"Event\": {…}}) in the document".into()));
    }
    Ok(out)
}

/// The event uuids a feed's `manifest.json` lists.
pub fn manifest(bytes: &[u8]) -> Result<Vec<String>, ImportError> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| ImportError::Format(format!("manifest.json is not JSON: {e}")))?;
    let m = v.as_object().ok_or_else(|| ImportError::Format("manifest.json is not an object of events".into()))?;
    let uuids: Vec<String> = m.keys().filter(|k| uuid::Uuid::parse_str(k).is_ok()).cloned().collect();
    if uuids.len() != m.len() {
        return Err(ImportError::Format("manifest.json names something that is not an event uuid".into()));
    }
    Ok(uuids)
}

fn tag_tlp(tags: &Value) -> Option<Tlp> {
    tags.as_array()?.iter().filter_map(|t| t["name"].as_str()).find_map(|n| {
        let n = n.trim().to_ascii_lowercase();
        n.starts_with("tlp:").then(|| Tlp::parse(&n)).flatten()
    })
}

fn distribution_tlp(d: &Value) -> Option<Tlp> {
    let n = match d {
        Value::String(s) => s.parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    match n {
        0 => Some(Tlp::Red),
        1 | 2 | 4 => Some(Tlp::Amber),
        3 => Some(Tlp::Green),
        _ => None, // 5: inherit
    }
}

/// The event's `timestamp` (unix seconds, as MISP writes it: a string or a number), else
/// its `date`, as an RFC 3339 time.
fn event_time(event: &Value) -> Option<String> {
    let seconds = match &event["timestamp"] {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    if let Some(s) = seconds.filter(|s| *s > 0) {
        return Some(dossier_stix::Timestamp::from_unix_micros(s.saturating_mul(1_000_000)).as_str().to_owned());
    }
    let date = event["date"].as_str()?;
    let t = dossier_stix::Timestamp::parse(&format!("{date}T00:00:00Z")).ok()?;
    Some(dossier_stix::Timestamp::from_unix_micros(t.unix_micros()).as_str().to_owned())
}

/// Which contribution-form field an attribute type feeds, with the value as the form takes it.
fn identifier(ty: &str, value: &str, person: &HashMap<String, String>) -> Option<(&'static str, String)> {
    let v = value.trim();
    let ty = ty.trim().to_ascii_lowercase();
    Some(match ty.as_str() {
        "email"
        | "email-src"
        | "email-dst"
        | "email-reply-to"
        | "whois-registrant-email"
        | "target-email"
        | "from"
        | "to"
        | "reply-to" => ("emails", v.to_owned()),
        "phone-number" | "whois-registrant-phone" | "phone" => ("phones", v.to_owned()),
        "btc" | "eth" | "xmr" | "trx" | "ltc" | "bch" | "dash" | "zec" | "xrp" | "usdt" | "address" => {
            ("wallets", v.to_owned())
        }
        "github-username" => ("accounts", format!("github:{v}")),
        "url" | "link" | "uri" => {
            if dossier_match::normalize::account::from_url(v).is_ok() {
                ("accounts", v.to_owned())
            } else {
                ("websites", v.to_owned())
            }
        }
        "domain" | "hostname" => ("websites", v.to_owned()),
        "ip-src" | "ip-dst" | "ip-src|port" | "ip-dst|port" => ("ips", v.split('|').next().unwrap_or(v).to_owned()),
        "iban" | "bank-account-nr" => ("bank_accounts", v.to_owned()),
        "passport-number" => {
            let country = person.get("passport-country").map(String::as_str).unwrap_or("");
            ("id_documents", format!("passport {country} {v}"))
        }
        "sha256" => ("documents", v.to_owned()),
        _ => return None,
    })
}

/// An object's relation → the attribute type its value is (for objects whose attributes are
/// typed loosely, e.g. `text`).
fn object_relation(object: &str, relation: &str, ty: &str) -> String {
    match (object, relation) {
        ("github-user", "username") => "github-username".into(),
        ("telegram-account", "username") => "telegram-username".into(),
        ("telegram-account", "id") => "telegram-id".into(),
        ("telegram-account", "phone") => "phone-number".into(),
        ("cryptocurrency-transaction", "address") => "address".into(),
        ("social-media", "username") => "social-username".into(),
        (_, "first-name" | "last-name" | "full-name" | "passport-country" | "platform") => relation.to_owned(),
        _ => ty.to_owned(),
    }
}

struct Building {
    object: Value,
    tlp: Tlp,
}

/// Converts events (see the module's documentation).
pub fn convert(events: &[Value], opts: &Options<'_>) -> Converted {
    let mut out = Converted::default();
    let mut built: BTreeMap<String, Building> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut put = |id: &str, object: Value, tlp: Tlp, order: &mut Vec<String>| match built.get_mut(id) {
        Some(b) => b.tlp = b.tlp.max(tlp),
        None => {
            order.push(id.to_owned());
            built.insert(id.to_owned(), Building { object, tlp });
        }
    };
    let mut ignored: BTreeMap<String, usize> = BTreeMap::new();
    for (n, event) in events.iter().enumerate() {
        let Some(event_uuid) = event["uuid"].as_str().filter(|u| uuid::Uuid::parse_str(u).is_ok()) else {
            out.refuse(format!("event #{}", n + 1), "no uuid");
            continue;
        };
        let info = event["info"].as_str().unwrap_or("MISP event").trim().to_owned();
        // The event's own time stamps its objects: members importing the same event make the
        // same objects (the store counts the second as corroboration, not a conflict), and
        // importing it again changes nothing until the event changes.
        let stamp = event_time(event).unwrap_or_else(|| opts.now.to_owned());
        let now = stamp.as_str();
        let event_tlp = tag_tlp(&event["Tag"]).or_else(|| distribution_tlp(&event["distribution"])).unwrap_or(opts.tlp);
        // Provenance: the creating organization.
        let orgc = &event["Orgc"];
        let org_key = orgc["uuid"].as_str().or(orgc["name"].as_str()).unwrap_or("unknown");
        let org_id = derived_id("identity", &["misp-org", org_key]);
        put(
            &org_id,
            json!({"type": "identity", "spec_version": "2.1", "id": org_id, "created": now, "modified": now,
                   "name": orgc["name"].as_str().unwrap_or("a MISP organization"), "identity_class": "organization"}),
            Tlp::Clear,
            &mut order,
        );
        let base = |ty: &str, id: &str| {
            json!({"type": ty, "spec_version": "2.1", "id": id, "created": now, "modified": now,
                   "created_by_ref": org_id, "confidence": opts.confidence})
        };
        let reference = json!([{"source_name": "misp", "external_id": event_uuid, "description": info}]);
        // The actor(s).
        let mut actors: Vec<(String, String, Vec<String>)> = Vec::new();
        for g in event["Galaxy"].as_array().into_iter().flatten() {
            if g["type"].as_str() != Some("threat-actor") {
                continue;
            }
            for c in g["GalaxyCluster"].as_array().into_iter().flatten() {
                if let Some(name) = c["value"].as_str() {
                    let key = c["uuid"].as_str().unwrap_or(name);
                    let synonyms = c["meta"]["synonyms"]
                        .as_array()
                        .map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default();
                    actors.push((derived_id("threat-actor", &["misp-galaxy", key]), name.to_owned(), synonyms));
                }
            }
        }
        for t in event["Tag"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()) {
            if let Some(name) = t.strip_prefix("misp-galaxy:threat-actor=") {
                let name = name.trim_matches('"');
                if !actors.iter().any(|(_, n, _)| n == name) {
                    actors.push((derived_id("threat-actor", &["misp-galaxy-name", name]), name.to_owned(), Vec::new()));
                }
            }
        }
        if actors.is_empty() {
            actors.push((derived_id("threat-actor", &["misp-event", event_uuid]), info.clone(), Vec::new()));
        }
        for (id, name, synonyms) in &actors {
            let mut a = base("threat-actor", id);
            a["name"] = json!(name);
            if !synonyms.is_empty() {
                a["aliases"] = json!(synonyms);
            }
            a["external_references"] = reference.clone();
            put(id, a, event_tlp, &mut order);
        }
        let actor_name = actors[0].1.clone();
        // Personas: person objects, and one for identifiers outside them.
        struct Group {
            persona: String,
            name: String,
            attributes: Vec<(String, String, String, Tlp)>, // uuid, type, value, tlp
            person: HashMap<String, String>,
        }
        let attr_tlp = |a: &Value| {
            tag_tlp(&a["Tag"]).or_else(|| distribution_tlp(&a["distribution"])).unwrap_or(event_tlp).max(event_tlp)
        };
        let mut groups: Vec<Group> = Vec::new();
        let mut loose = Group {
            persona: derived_id("identity", &["misp-event-persona", event_uuid]),
            name: format!("unnamed persona of {actor_name}"),
            attributes: Vec::new(),
            person: HashMap::new(),
        };
        for a in event["Attribute"].as_array().into_iter().flatten() {
            loose.attributes.push((
                a["uuid"].as_str().unwrap_or("?").to_owned(),
                a["type"].as_str().unwrap_or("").to_owned(),
                a["value"].as_str().unwrap_or("").to_owned(),
                attr_tlp(a),
            ));
        }
        for o in event["Object"].as_array().into_iter().flatten() {
            let object_name = o["name"].as_str().unwrap_or("");
            let mut attributes = Vec::new();
            let mut person = HashMap::new();
            for a in o["Attribute"].as_array().into_iter().flatten() {
                let relation = a["object_relation"].as_str().unwrap_or("");
                let ty = object_relation(object_name, relation, a["type"].as_str().unwrap_or(""));
                let value = a["value"].as_str().unwrap_or("").to_owned();
                person.insert(relation.to_owned(), value.clone());
                attributes.push((a["uuid"].as_str().unwrap_or("?").to_owned(), ty, value, attr_tlp(a)));
            }
            // Social-media accounts need their platform.
            if object_name == "social-media"
                && let (Some(platform), Some(user)) = (person.get("platform"), person.get("username"))
            {
                for a in &mut attributes {
                    if a.1 == "social-username" {
                        a.1 = "account".into();
                        a.2 = format!("{platform}:{user}");
                    }
                }
            }
            if object_name == "person" {
                let name = person.get("full-name").cloned().unwrap_or_else(|| {
                    let first = person.get("first-name").map(String::as_str).unwrap_or("");
                    let last = person.get("last-name").map(String::as_str).unwrap_or("");
                    format!("{first} {last}").trim().to_owned()
                });
                let key = o["uuid"].as_str().unwrap_or(&name).to_owned();
                groups.push(Group {
                    persona: derived_id("identity", &["misp-object", &key]),
                    name: if name.is_empty() { format!("unnamed persona of {actor_name}") } else { name },
                    attributes,
                    person,
                });
            } else {
                loose.person.extend(person);
                loose.attributes.extend(attributes);
            }
        }
        groups.push(loose);
        for g in groups {
            let mut ties: Vec<(String, Tlp)> = Vec::new();
            for (uuid, ty, value, tlp) in &g.attributes {
                let (field, text) = match ty.as_str() {
                    "telegram-username" => ("accounts", format!("telegram:{value}")),
                    "telegram-id" => ("accounts", format!("tg://user?id={value}")),
                    "account" => ("accounts", value.clone()),
                    _ => match identifier(ty, value, &g.person) {
                        Some(x) => x,
                        None => {
                            if !matches!(
                                ty.as_str(),
                                "first-name"
                                    | "last-name"
                                    | "full-name"
                                    | "passport-country"
                                    | "social-username"
                                    | "platform"
                            ) {
                                *ignored.entry(ty.clone()).or_insert(0) += 1;
                            }
                            continue;
                        }
                    },
                };
                let mut problems = Problems::new();
                let ids = identifiers(
                    &mut |f, _| if f == field { vec![text.clone()] } else { Vec::new() },
                    opts.region,
                    *tlp,
                    opts.id_key,
                    &mut problems,
                );
                if let Some(why) = problems.values().flatten().next() {
                    let shown: String = value.chars().take(60).collect();
                    out.refuse(
                        format!("attribute {uuid}"),
                        format!("{ty} {shown:?}: {}", why.trim_start_matches("line 1: ")),
                    );
                    continue;
                }
                for sco in ids.scos {
                    let id = sco["id"].as_str().unwrap_or_default().to_owned();
                    put(&id, sco, *tlp, &mut order);
                    ties.push((id, *tlp));
                }
                for address in ids.addresses {
                    out.refuse(format!("attribute {uuid}"), format!("address {address:?}: no country"));
                }
            }
            if ties.is_empty() && g.name.starts_with("unnamed persona") {
                continue;
            }
            let persona_tlp = ties.iter().map(|(_, t)| *t).max().unwrap_or(event_tlp).max(event_tlp);
            let mut p = base("identity", &g.persona);
            p["name"] = json!(g.name);
            p["identity_class"] = json!("individual");
            p["labels"] = json!(["persona"]);
            p["external_references"] = reference.clone();
            put(&g.persona, p, persona_tlp, &mut order);
            for (actor, _, _) in &actors {
                let id = derived_id("relationship", &[&g.persona, "attributed-to", actor]);
                let mut r = base("relationship", &id);
                r["relationship_type"] = json!("attributed-to");
                r["source_ref"] = json!(g.persona);
                r["target_ref"] = json!(actor);
                put(&id, r, persona_tlp, &mut order);
            }
            for (target, tlp) in ties {
                let id = derived_id("relationship", &[&g.persona, "related-to", &target]);
                let mut r = base("relationship", &id);
                r["relationship_type"] = json!("related-to");
                r["source_ref"] = json!(g.persona);
                r["target_ref"] = json!(target);
                put(&id, r, tlp, &mut order);
            }
        }
    }
    for id in order {
        if let Some(b) = built.remove(&id) {
            let mut o = b.object;
            o["object_marking_refs"] = json!([b.tlp.marking_id()]);
            out.objects.push(o);
        }
    }
    if !ignored.is_empty() {
        let list: Vec<String> = ignored.iter().map(|(t, n)| format!("{t} ({n})")).collect();
        out.notes.push(format!("attribute types not imported: {}", list.join(", ")));
    }
    out
}

/// The MISP attribute type of an identifier object, with its value.
fn misp_attribute(o: &Value) -> Option<(&'static str, String)> {
    let v = |k: &str| o[k].as_str().map(str::to_owned);
    Some(match o["type"].as_str()? {
        "email-addr" => ("email", v("value")?),
        "phone-number" => ("phone-number", v("value")?),
        "cryptocurrency-wallet" => {
            let chain = o["x_dossier_chain"].as_str().unwrap_or("");
            let ty = match chain {
                "bitcoin" => "btc",
                "tron" => "trx",
                "monero" => "xmr",
                "litecoin" => "ltc",
                _ if v("value")?.starts_with("0x") => "eth",
                _ => "btc",
            };
            (ty, v("value")?)
        }
        "user-account" => {
            let login = v("account_login").or_else(|| v("user_id"))?;
            match o["account_type"].as_str() {
                Some("github") => ("github-username", login),
                Some(p) => ("text", format!("{p}:{login}")),
                None => ("text", login),
            }
        }
        "ipv4-addr" | "ipv6-addr" => ("ip-src", v("value")?),
        "url" => ("url", v("value")?),
        "bank-account" => ("iban", v("iban").or_else(|| v("account_number"))?),
        "file" => ("sha256", o["hashes"]["SHA-256"].as_str()?.to_owned()),
        _ => return None,
    })
}

/// One actor and what is tied to it, as a MISP event. `objects` holds the actor, its
/// personas, the relationships between them and the identifiers they are tied to (other
/// objects are left out).
pub fn export_event(actor_id: &str, objects: &[Value], now: &str) -> Result<Value, ImportError> {
    let by_id: HashMap<&str, &Value> = objects.iter().filter_map(|o| Some((o["id"].as_str()?, o))).collect();
    let actor =
        by_id.get(actor_id).ok_or_else(|| ImportError::Format(format!("{actor_id} is not among the objects")))?;
    let tlp_of = |o: &Value| {
        o["object_marking_refs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str())
            .filter_map(|m| Tlp::ALL.into_iter().find(|t| t.marking_id() == m))
            .max()
            .unwrap_or(Tlp::Amber)
    };
    let mut tlp = tlp_of(actor);
    let personas: Vec<&str> = objects
        .iter()
        .filter(|r| r["relationship_type"] == "attributed-to" && r["target_ref"] == actor_id)
        .filter_map(|r| r["source_ref"].as_str())
        .collect();
    let uuid_of = |id: &str| id.split_once("--").map(|(_, u)| u.to_owned()).unwrap_or_default();
    let mut misp_objects = Vec::new();
    for p in &personas {
        let Some(persona) = by_id.get(p) else { continue };
        tlp = tlp.max(tlp_of(persona));
        let mut attributes = vec![json!({"object_relation": "full-name", "type": "full-name",
            "value": persona["name"].as_str().unwrap_or(""), "uuid": uuid::Uuid::new_v4().to_string()})];
        for r in objects.iter().filter(|r| r["relationship_type"] == "related-to" && r["source_ref"] == *p) {
            let Some(target) = r["target_ref"].as_str().and_then(|t| by_id.get(t)) else { continue };
            if let Some((ty, value)) = misp_attribute(target) {
                tlp = tlp.max(tlp_of(target));
                attributes.push(json!({"object_relation": ty, "type": ty, "value": value, "to_ids": false,
                    "uuid": uuid_of(target["id"].as_str().unwrap_or(""))}));
            }
        }
        misp_objects.push(json!({"name": "person", "meta-category": "misc", "uuid": uuid_of(p),
            "template_uuid": "a15b0477-e9d1-4b9c-9546-abe78a4f6a8d", "Attribute": attributes}));
    }
    let name = actor["name"].as_str().unwrap_or("threat actor");
    let date = now.get(..10).unwrap_or(now);
    let timestamp = dossier_stix::Timestamp::parse(now).map(|t| t.unix_micros() / 1_000_000).unwrap_or(0);
    let tlp_tag = if tlp == Tlp::Clear { "tlp:clear".to_owned() } else { format!("tlp:{}", tlp.as_str()) };
    Ok(json!({"Event": {
        "uuid": uuid_of(actor_id), "info": name, "date": date, "timestamp": timestamp.to_string(),
        "threat_level_id": "2", "analysis": "2", "distribution": if tlp == Tlp::Red { "0" } else { "1" },
        "published": false,
        "Tag": [{"name": tlp_tag}],
        "Galaxy": [{"type": "threat-actor", "name": "Threat Actor", "GalaxyCluster": [{
            "type": "threat-actor", "value": name, "uuid": uuid_of(actor_id),
            "meta": {"synonyms": actor["aliases"].clone()}}]}],
        "Object": misp_objects,
        "Attribute": [],
    }}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options<'static> {
        Options { tlp: Tlp::Amber, confidence: 60, region: None, id_key: b"k", now: "2026-01-01T00:00:00.000Z" }
    }

    const EVENT: &str = r#"{"Event": {
        "uuid": "5f0c1c3a-1b2c-4d5e-8f90-0123456789ab", "info": "DPRK IT worker applicant", "distribution": "1",
        "Orgc": {"name": "Exchange CERT", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
        "Tag": [{"name": "tlp:amber"}, {"name": "misp-galaxy:threat-actor=\"Famous Chollima\""}],
        "Attribute": [
          {"uuid": "a1", "type": "email-src", "value": "chol.su.dev@gmail.com"},
          {"uuid": "a2", "type": "btc", "value": "1KFHE7w8BhaENAswwryaoccDb6qcT6DbYY", "Tag": [{"name": "tlp:green"}]},
          {"uuid": "a3", "type": "ip-src", "value": "203.0.113.7", "distribution": "0"},
          {"uuid": "a4", "type": "comment", "value": "seen on a call"},
          {"uuid": "a5", "type": "eth", "value": "0x52908400098527886E0F7030069857D2E4169Ee7"}
        ],
        "Object": [
          {"name": "person", "uuid": "0b7e6b1c-2222-4333-8444-555566667777", "Attribute": [
            {"uuid": "p1", "object_relation": "first-name", "type": "first-name", "value": "Chol-su"},
            {"uuid": "p2", "object_relation": "last-name", "type": "last-name", "value": "Kim"},
            {"uuid": "p3", "object_relation": "phone-number", "type": "phone-number", "value": "+1 312 555 0142"},
            {"uuid": "p4", "object_relation": "passport-number", "type": "passport-number", "value": "M12345678"},
            {"uuid": "p5", "object_relation": "passport-country", "type": "text", "value": "KR"}]},
          {"name": "github-user", "uuid": "0b7e6b1c-2222-4333-8444-555566667778", "Attribute": [
            {"uuid": "g1", "object_relation": "username", "type": "text", "value": "cs-dev"}]},
          {"name": "telegram-account", "uuid": "0b7e6b1c-2222-4333-8444-555566667779", "Attribute": [
            {"uuid": "t1", "object_relation": "username", "type": "text", "value": "chol_su"}]}
        ]}}"#;

    #[test]
    fn an_event_becomes_an_actor_its_personas_and_their_identifiers() {
        let out = convert(&events(EVENT.as_bytes()).unwrap(), &opts());
        let counts = out.counts();
        assert_eq!(counts["threat-actor"], 1);
        assert_eq!(counts["identity"], 3, "the organization, Chol-su Kim, the event's unnamed persona: {counts:?}");
        assert_eq!(counts["user-account"], 2);
        assert_eq!(counts["x-dossier-identity-document"], 1);
        // A bad EIP-55 checksum is refused by name.
        assert_eq!(out.refused.len(), 1, "{:?}", out.refused);
        assert_eq!(out.refused[0].at, "attribute a5");
        assert_eq!(out.notes, ["attribute types not imported: comment (1)"]);
        let find = |ty: &str| out.objects.iter().find(|o| o["type"] == ty).unwrap();
        assert_eq!(find("threat-actor")["name"], "Famous Chollima");
        // The attribute's own tag is not below the event's TLP; distribution 0 is RED.
        assert_eq!(find("cryptocurrency-wallet")["object_marking_refs"][0], Tlp::Amber.marking_id());
        assert_eq!(find("ipv4-addr")["object_marking_refs"][0], Tlp::Red.marking_id());
        let org = derived_id("identity", &["misp-org", "55f6ea5e-2c60-40e5-964f-47a8950d210f"]);
        assert!(
            out.objects.iter().filter(|o| o["type"] == "relationship").all(|r| r["created_by_ref"] == org.as_str())
        );
        for o in &out.objects {
            dossier_stix::StixObject::parse(o.to_string().as_bytes()).unwrap();
        }
        // Exported back, the actor's person objects carry the identifiers.
        let event =
            export_event(find("threat-actor")["id"].as_str().unwrap(), &out.objects, "2026-01-02T00:00:00Z").unwrap();
        let again = convert(&events(event.to_string().as_bytes()).unwrap(), &opts());
        assert_eq!(again.counts()["email-addr"], 1);
        assert_eq!(again.counts()["phone-number"], 1);
        assert_eq!(event["Event"]["Tag"][0]["name"], "tlp:red");
    }
}
