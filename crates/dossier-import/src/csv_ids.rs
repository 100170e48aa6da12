//! A spreadsheet of identifiers, as members keep them: one identifier per row.
//!
//! ```text
//! actor,persona,kind,value,tlp,confidence,source,first_seen,country
//! Famous Chollima,Kim Chol-su,email,chol.su.dev@gmail.com,amber,80,LinkedIn case 12,2025-03-01,
//! Famous Chollima,Kim Chol-su,phone,+1 312 555 0142,amber,80,,,
//! Famous Chollima,Kim Chol-su,address,"12 Oak St Apt 3, Springfield IL 62704",amber,60,,,US
//! ```
//!
//! Columns (any order, case-insensitive; a header row is required): `kind` and `value`, and
//! `actor` and/or `persona`; optional `tlp` (default: the caller's), `confidence` (0–100),
//! `source` (kept as an external reference on the tie), `first_seen` (a date or an RFC 3339
//! time: the tie's `start_time`), `country` (ISO 3166 alpha-2: the region of phone numbers
//! written without one, and the country of postal addresses, where it is required). Other
//! columns are ignored with one note naming them.
//!
//! Kinds: `email`, `phone`, `account` (a profile URL or `platform:name`), `wallet`,
//! `bank_account` (IBAN, or a national number with its bank code), `website`, `ip`,
//! `photo` (a perceptual hash from `dossier photo-hash`), `id_document`
//! (`TYPE COUNTRY NUMBER`, kept only as its keyed hash), `address`, `document` (SHA-256).
//! Every value goes through the same checks as the contribution form; a row that fails is
//! refused with its line number, and the other rows are kept.
//!
//! Per actor one `threat-actor`, per persona one `identity` attributed to it, per value an
//! SCO (or a `location`) tied to the persona by `related-to` (`located-at`). Ids are derived
//! from the names within the submitting organization's scope (a keyed hash of it), so
//! importing a sheet again updates the same objects instead of making new ones, two members'
//! sheets never collide, and an id does not tell who submitted it. An object mentioned by several rows takes the
//! most restrictive of their TLP levels and the highest confidence.

use std::collections::{BTreeMap, BTreeSet};

use dossier_stix::Tlp;
use serde_json::{Value, json};

use crate::persona::{Problems, identifiers};
use crate::{Converted, ImportError, derived_id};

/// Settings of one import.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// The submitting organization's identity (`created_by_ref`), if it is named.
    pub by: Option<&'a str>,
    /// Scopes the derived ids to the submitting organization without revealing it (callers
    /// pass a keyed hash of the organization): two members' sheets never make the same ids,
    /// and an id says nothing of who submitted it.
    pub scope: &'a str,
    /// TLP of rows without one.
    pub tlp: Tlp,
    /// Confidence of rows without one.
    pub confidence: u8,
    /// Region of phone numbers written without a country code, when the row gives none.
    pub region: Option<&'a str>,
    /// The installation's key for identity-document hashes.
    pub id_key: &'a [u8],
    /// The time the objects are stamped with (RFC 3339).
    pub now: &'a str,
}

/// The kinds a row may have, with the contribution form's field each goes through.
pub const KINDS: [(&str, &str); 11] = [
    ("email", "emails"),
    ("phone", "phones"),
    ("account", "accounts"),
    ("wallet", "wallets"),
    ("bank_account", "bank_accounts"),
    ("website", "websites"),
    ("ip", "ips"),
    ("photo", "photos"),
    ("id_document", "id_documents"),
    ("address", "addresses"),
    ("document", "documents"),
];

fn kind_field(kind: &str) -> Option<&'static str> {
    let k = kind.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    let k = match k.as_str() {
        "e_mail" | "mail" | "email_address" => "email",
        "phone_number" | "telephone" | "mobile" => "phone",
        "user_account" | "handle" | "profile" | "username" => "account",
        "crypto_wallet" | "cryptocurrency_wallet" | "wallet_address" => "wallet",
        "bank" | "iban" | "bank_account_number" => "bank_account",
        "url" | "domain" | "site" | "portfolio" => "website",
        "ip_address" | "ipv4" | "ipv6" => "ip",
        "phash" | "profile_photo" => "photo",
        "passport" | "id" | "identity_document" | "document_number" => "id_document",
        "postal_address" | "street_address" => "address",
        "sha256" | "file" | "resume" => "document",
        other => other,
    };
    KINDS.iter().find(|(name, _)| *name == k).map(|(_, field)| *field)
}

/// Recognised column names.
fn column(name: &str) -> Option<&'static str> {
    let n = name.trim().trim_start_matches('\u{feff}').to_ascii_lowercase().replace([' ', '-'], "_");
    Some(match n.as_str() {
        "actor" | "threat_actor" | "team" | "group" => "actor",
        "persona" | "persona_name" | "alias" => "persona",
        "kind" | "type" | "identifier_type" => "kind",
        "value" | "identifier" => "value",
        "tlp" => "tlp",
        "confidence" => "confidence",
        "source" => "source",
        "first_seen" | "seen" | "date" => "first_seen",
        "country" | "region" => "country",
        _ => return None,
    })
}

/// An object being built from rows.
struct Building {
    object: Value,
    tlp: Tlp,
    confidence: Option<u8>,
}

fn first_seen(s: &str) -> Option<String> {
    let s = s.trim();
    // A bare date is midnight UTC; either way written with the precision STIX asks for.
    let t = dossier_stix::Timestamp::parse(s).or_else(|_| dossier_stix::Timestamp::parse(&format!("{s}T00:00:00Z")));
    t.ok().map(|t| dossier_stix::Timestamp::from_unix_micros(t.unix_micros()).as_str().to_owned())
}

/// Converts a CSV of identifiers (see the module's documentation).
pub fn convert(input: impl std::io::Read, opts: &Options<'_>) -> Result<Converted, ImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(input);
    let headers = reader.headers().map_err(|e| ImportError::Format(format!("the header row: {e}")))?.clone();
    let mut at: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        match column(h) {
            Some(c) => {
                at.entry(c).or_insert(i);
            }
            None if h.trim().is_empty() => {}
            None => unknown.push(h.trim().to_owned()),
        }
    }
    let missing: Vec<&str> = ["kind", "value"].into_iter().filter(|c| !at.contains_key(c)).collect();
    if !missing.is_empty() || !(at.contains_key("actor") || at.contains_key("persona")) {
        return Err(ImportError::Format(format!(
            "the header row needs kind, value and actor and/or persona columns{}; it has {:?}",
            if missing.is_empty() { String::new() } else { format!(" (missing {})", missing.join(", ")) },
            headers.iter().collect::<Vec<_>>()
        )));
    }
    let mut out = Converted::default();
    if !unknown.is_empty() {
        out.notes.push(format!("columns ignored: {}", unknown.join(", ")));
    }
    let by = opts.by;
    let mut objects: BTreeMap<String, Building> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut put = |id: String, object: Value, tlp: Tlp, confidence: Option<u8>| match objects.get_mut(&id) {
        Some(b) => {
            b.tlp = b.tlp.max(tlp);
            b.confidence = b.confidence.max(confidence);
        }
        None => {
            order.push(id.clone());
            objects.insert(id, Building { object, tlp, confidence });
        }
    };
    let now = opts.now;
    let base = |ty: &str, id: &str| {
        let mut o = json!({"type": ty, "spec_version": "2.1", "id": id, "created": now, "modified": now});
        if let Some(by) = by {
            o["created_by_ref"] = json!(by);
        }
        o
    };
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.refuse(format!("line {line}"), format!("not a CSV row: {e}"));
                continue;
            }
        };
        let get = |c: &str| at.get(c).and_then(|&i| record.get(i)).map(str::trim).unwrap_or("");
        let (actor, persona, kind, value) = (get("actor"), get("persona"), get("kind"), get("value"));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if actor.is_empty() && persona.is_empty() {
            out.refuse(format!("line {line}"), "neither an actor nor a persona");
            continue;
        }
        if value.is_empty() {
            out.refuse(format!("line {line}"), "no value");
            continue;
        }
        let Some(field) = kind_field(kind) else {
            let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            out.refuse(format!("line {line}"), format!("kind {kind:?} is not one of {}", kinds.join(", ")));
            continue;
        };
        let tlp = match get("tlp") {
            "" => opts.tlp,
            t => match Tlp::parse(t) {
                Some(t) => t,
                None => {
                    out.refuse(format!("line {line}"), format!("tlp {t:?}: clear, green, amber, amber+strict or red"));
                    continue;
                }
            },
        };
        let confidence = match get("confidence") {
            "" => opts.confidence,
            c => match c.parse::<u8>() {
                Ok(n) if n <= 100 => n,
                _ => {
                    out.refuse(format!("line {line}"), format!("confidence {c:?} is not 0-100"));
                    continue;
                }
            },
        };
        let seen = match get("first_seen") {
            "" => None,
            s => match first_seen(s) {
                Some(t) => Some(t),
                None => {
                    out.refuse(format!("line {line}"), format!("first_seen {s:?} is not a date"));
                    continue;
                }
            },
        };
        let country = match get("country") {
            "" => opts.region.map(str::to_owned),
            c if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => Some(c.to_ascii_uppercase()),
            c => {
                out.refuse(format!("line {line}"), format!("country {c:?} is not a two-letter ISO 3166 code"));
                continue;
            }
        };
        // The value, through the contribution form's checks.
        let mut problems = Problems::new();
        let ids = identifiers(
            &mut |f, _| if f == field { vec![value.to_owned()] } else { Vec::new() },
            country.as_deref(),
            tlp,
            opts.id_key,
            &mut problems,
        );
        if let Some(why) = problems.values().flatten().next() {
            let why = why.trim_start_matches("line 1: ");
            out.refuse(format!("line {line}"), format!("{kind} {}: {why}", preview(value)));
            continue;
        }
        // The actor and persona.
        let actor_id = (!actor.is_empty()).then(|| derived_id("threat-actor", &[opts.scope, &actor.to_lowercase()]));
        if let Some(id) = &actor_id {
            let mut o = base("threat-actor", id);
            o["name"] = json!(actor);
            put(id.clone(), o, tlp, Some(confidence));
        }
        let persona_name = if persona.is_empty() { format!("unnamed persona of {actor}") } else { persona.to_owned() };
        let persona_id = derived_id("identity", &[opts.scope, &actor.to_lowercase(), &persona_name.to_lowercase()]);
        let mut p = base("identity", &persona_id);
        p["name"] = json!(persona_name);
        p["identity_class"] = json!("individual");
        p["labels"] = json!(["persona"]);
        put(persona_id.clone(), p, tlp, Some(confidence));
        let tie = |rel: &str, target: &str| -> (String, Value) {
            let id = derived_id("relationship", &[&persona_id, rel, target]);
            let mut r = base("relationship", &id);
            r["relationship_type"] = json!(rel);
            r["source_ref"] = json!(persona_id);
            r["target_ref"] = json!(target);
            (id, r)
        };
        if let Some(actor_id) = &actor_id {
            let (id, r) = tie("attributed-to", actor_id);
            put(id, r, tlp, Some(confidence));
        }
        let mut targets = Vec::new();
        for sco in ids.scos {
            let id = sco["id"].as_str().unwrap_or_default().to_owned();
            put(id.clone(), sco, tlp, None);
            targets.push(("related-to", id));
        }
        for address in ids.addresses {
            let id = derived_id("location", &[&persona_id, &address.to_lowercase()]);
            let mut l = base("location", &id);
            l["street_address"] = json!(address);
            l["country"] = json!(country.clone().unwrap_or_default());
            put(id.clone(), l, tlp, Some(confidence));
            targets.push(("located-at", id));
        }
        for (rel, target) in targets {
            let (id, mut r) = tie(rel, &target);
            if let Some(seen) = &seen {
                r["start_time"] = json!(seen);
            }
            let source = get("source");
            if !source.is_empty() {
                r["external_references"] = json!([{"source_name": source}]);
            }
            put(id, r, tlp, Some(confidence));
        }
    }
    let mut seen_ids = BTreeSet::new();
    for id in order {
        let Some(b) = objects.remove(&id) else { continue };
        if !seen_ids.insert(id) {
            continue;
        }
        let mut o = b.object;
        o["object_marking_refs"] = json!([b.tlp.marking_id()]);
        // Identifiers (SCOs) carry no confidence in STIX: their ties do.
        if let Some(c) = b.confidence {
            o["confidence"] = json!(c);
        }
        out.objects.push(o);
    }
    Ok(out)
}

/// A value as an error message may show it: the start only (the rest may be long).
fn preview(value: &str) -> String {
    let v: String = value.chars().take(60).collect();
    if v.len() < value.len() { format!("{v:?}…") } else { format!("{v:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options<'static> {
        Options {
            by: Some("identity--00000000-0000-4000-8000-000000000001"),
            scope: "member-a",
            tlp: Tlp::Amber,
            confidence: 50,
            region: None,
            id_key: b"k",
            now: "2026-01-01T00:00:00.000Z",
        }
    }

    #[test]
    fn rows_become_an_actor_personas_identifiers_and_ties() {
        let csv = "Actor,Persona,Kind,Value,TLP,Confidence,Source,First Seen,Country,Notes\n\
            Famous Chollima,Kim Chol-su,email,chol.su.dev@gmail.com,amber,80,LinkedIn case,2025-03-01,,x\n\
            Famous Chollima,Kim Chol-su,phone,(312) 555-0142,red,,,,US,\n\
            Famous Chollima,Kim Chol-su,wallet,0x52908400098527886E0F7030069857D2E4169EE7,green,,,,,\n\
            Famous Chollima,Kim Chol-su,address,\"12 Oak St Apt 3, Springfield IL 62704\",,,,,US,\n\
            Famous Chollima,,account,github:cs-dev,,,,,,\n\
            Famous Chollima,Kim Chol-su,email,not-an-email,,,,,,\n\
            Famous Chollima,Kim Chol-su,shoe size,42,,,,,,\n\
            ,,email,a@b.example,,,,,,\n";
        let out = convert(csv.as_bytes(), &opts()).unwrap();
        let counts = out.counts();
        assert_eq!(counts["threat-actor"], 1);
        assert_eq!(counts["identity"], 2, "Kim Chol-su and the actor's unnamed persona");
        assert_eq!(counts["location"], 1);
        assert_eq!(counts["email-addr"] + counts["phone-number"] + counts["cryptocurrency-wallet"], 3);
        assert_eq!(out.refused.len(), 3, "{:?}", out.refused);
        assert_eq!(out.refused[0].at, "line 7");
        assert!(out.refused[1].reason.contains("shoe size"));
        assert_eq!(out.notes, ["columns ignored: Notes"]);
        // The persona is as restricted as its most restricted row (the RED phone).
        let persona = out.objects.iter().find(|o| o["name"] == "Kim Chol-su").unwrap();
        assert_eq!(persona["object_marking_refs"][0], Tlp::Red.marking_id());
        assert_eq!(persona["confidence"], 80);
        let tie =
            out.objects.iter().find(|o| o["relationship_type"] == "related-to" && o["start_time"].is_string()).unwrap();
        assert_eq!(tie["external_references"][0]["source_name"], "LinkedIn case");
        assert!(tie["start_time"].as_str().unwrap().starts_with("2025-03-01T00:00:00.000"));
        // The same sheet again: the same ids; another member's: others.
        let again = convert(csv.as_bytes(), &opts()).unwrap();
        let ids = |c: &Converted| c.objects.iter().map(|o| o["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(&out), ids(&again));
        let other = convert(csv.as_bytes(), &Options { scope: "member-b", ..opts() }).unwrap();
        let actor = |c: &Converted| c.objects.iter().find(|o| o["type"] == "threat-actor").unwrap()["id"].clone();
        assert_ne!(actor(&out), actor(&other));
        // Every object is valid STIX.
        for o in &out.objects {
            dossier_stix::StixObject::parse(o.to_string().as_bytes()).unwrap();
        }
    }

    #[test]
    fn a_sheet_without_the_needed_columns_is_refused_whole() {
        let err = convert("name,email\nx,y\n".as_bytes(), &opts()).unwrap_err();
        assert!(err.to_string().contains("kind, value"), "{err}");
    }
}
