//! Personas from what people type: identifiers one per line, turned into STIX 2.1 objects
//! (the contribution form, the new identifiers a member shares with a sighting, and the
//! spreadsheet and feed importers), and members' sightings.

use std::collections::HashMap;

use dossier_match::normalize::{account, address, bank, email, id_document, ip, phone, website};
use dossier_match::{photo, wallet};
use dossier_stix::Tlp;
use dossier_stix::id::deterministic_sco_id;
use serde_json::{Value, json};

/// Field → problems, shown beside the field.
pub type Problems = HashMap<String, Vec<String>>;

pub fn problem(p: &mut Problems, field: &str, text: impl Into<String>) {
    p.entry(field.to_owned()).or_default().push(text.into());
}

/// An SCO with its deterministic id.
pub fn sco(mut v: Value, tlp: Tlp) -> Option<Value> {
    let ty = v.get("type")?.as_str()?.to_owned();
    let id = deterministic_sco_id(&ty, v.as_object()?)?;
    let m = v.as_object_mut()?;
    m.insert("id".into(), Value::String(id.as_str().to_owned()));
    m.insert("spec_version".into(), json!("2.1"));
    m.insert("object_marking_refs".into(), json!([tlp.marking_id()]));
    Some(v)
}

/// The most identifiers of one kind a persona may be given at once.
pub const MAX_LINES: usize = 50;

/// Identifier objects of a persona-to-be.
pub struct Identifiers {
    pub scos: Vec<Value>,
    pub addresses: Vec<String>,
}

/// The identifiers typed for a persona (one value per line, by field), as STIX objects: an
/// SCO per valid value (with its deterministic id and `tlp`), and the postal addresses
/// (locations are objects of their own, made with the persona). A line that does not read
/// is a problem of its field, naming the line.
pub fn identifiers(
    lines: &mut dyn FnMut(&str, &mut Problems) -> Vec<String>,
    region: Option<&str>,
    tlp: Tlp,
    id_key: &[u8],
    p: &mut Problems,
) -> Identifiers {
    let mut scos: Vec<Value> = Vec::new();
    for (i, e) in lines("emails", p).iter().enumerate() {
        match email::normalize(e) {
            Ok(_) => scos.extend(sco(json!({"type": "email-addr", "value": e}), tlp)),
            Err(err) => problem(p, "emails", format!("line {}: {err}", i + 1)),
        }
    }
    for (i, ph) in lines("phones", p).iter().enumerate() {
        match phone::normalize(ph, region) {
            Ok(n) => scos.extend(sco(json!({"type": "phone-number", "value": n.canonical}), tlp)),
            Err(err) => problem(p, "phones", format!("line {}: {err}", i + 1)),
        }
    }
    for (i, a) in lines("accounts", p).iter().enumerate() {
        let parsed = if a.contains("://") || a.contains('/') {
            account::from_url(a)
        } else {
            match a.split_once(':') {
                Some((platform, handle)) => account::from_handle(platform.trim(), handle.trim()),
                None => account::from_url(a),
            }
        };
        match parsed {
            Ok(acc) => {
                let key = if acc.kind == account::Kind::Id { "user_id" } else { "account_login" };
                scos.extend(sco(json!({"type": "user-account", "account_type": acc.platform, key: acc.value}), tlp));
            }
            Err(err) => problem(p, "accounts", format!("line {}: {err} (write a profile URL or platform:name)", i + 1)),
        }
    }
    for (i, w) in lines("wallets", p).iter().enumerate() {
        let addr = w.rsplit(':').next().unwrap_or(w).trim();
        match wallet::parse(addr) {
            Ok(parsed) => scos.extend(sco(
                json!({"type": "cryptocurrency-wallet", "value": addr, "x_dossier_chain": parsed.chain.as_str()}),
                tlp,
            )),
            Err(err) => problem(p, "wallets", format!("line {}: {err}", i + 1)),
        }
    }
    for (i, b) in lines("bank_accounts", p).iter().enumerate() {
        let parts = bank::parts_from_text(b);
        match bank::keys(&parts) {
            Ok(_) => {
                let mut v = json!({"type": "bank-account"});
                if let Some(iban) = parts.iban.as_deref() {
                    v["iban"] = json!(bank::iban(iban).unwrap_or_else(|_| iban.to_owned()));
                }
                // A national account keeps its bank code in `account_number` too: the STIX
                // id is made from that number, and the same number at two banks is two
                // accounts.
                match (&parts.account_number, &parts.bank_code) {
                    (Some(n), Some(c)) => {
                        v["account_number"] = json!(format!("{c} {n}"));
                        v["x_dossier_bank_code"] = json!(c);
                    }
                    (Some(n), None) => v["account_number"] = json!(n),
                    _ => {}
                }
                scos.extend(sco(v, tlp));
            }
            Err(err) => problem(p, "bank_accounts", format!("line {}: {err}", i + 1)),
        }
    }
    for (i, w) in lines("websites", p).iter().enumerate() {
        match website::key(w) {
            Ok(k) => {
                let site = k.trim_start_matches("site:");
                scos.extend(sco(json!({"type": "url", "value": format!("https://{site}")}), tlp));
            }
            Err(err) => problem(p, "websites", format!("line {}: {err}", i + 1)),
        }
    }
    for (i, h) in lines("photos", p).iter().enumerate() {
        match photo::PhotoHash::parse(h) {
            // Only the perceptual hash is shared, never the picture; the name makes the id.
            Ok(h) => scos.extend(sco(
                json!({"type": "file", "name": format!("profile photo {}", h.hex()), "x_dossier_phash": h.hex()}),
                tlp,
            )),
            Err(err) => problem(p, "photos", format!("line {}: {err}", i + 1)),
        }
    }
    for (i, d) in lines("id_documents", p).iter().enumerate() {
        match id_document::from_text(d) {
            // The number never enters the store: only its keyed hash under the ISAC's key.
            Ok(doc) => scos.extend(sco(
                json!({"type": "x-dossier-identity-document", "document_type": doc.kind,
                       "issuing_country": doc.country, "number_hmac": doc.hmac(id_key)}),
                tlp,
            )),
            Err(err) => problem(p, "id_documents", format!("line {}: {err}", i + 1)),
        }
    }
    // Postal addresses are STIX locations (objects of their own, not observables): a
    // location needs its country, taken from the form's country field.
    let mut addresses: Vec<String> = Vec::new();
    for (i, a) in lines("addresses", p).iter().enumerate() {
        match address::parse(a) {
            Ok(_) if region.is_none() => {
                problem(p, "addresses", "give the country of the addresses in the country field");
                break;
            }
            Ok(_) => addresses.push(a.clone()),
            Err(err) => problem(p, "addresses", format!("line {}: {err}", i + 1)),
        }
    }
    for (i, a) in lines("ips", p).iter().enumerate() {
        match ip::normalize(a) {
            Ok(net) => {
                let ty = if net.addr.is_ipv4() { "ipv4-addr" } else { "ipv6-addr" };
                scos.extend(sco(json!({"type": ty, "value": net.canonical()}), tlp));
            }
            Err(err) => problem(p, "ips", format!("line {}: {err}", i + 1)),
        }
    }
    for (i, d) in lines("documents", p).iter().enumerate() {
        if d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()) {
            scos.extend(sco(json!({"type": "file", "hashes": {"SHA-256": d.to_ascii_lowercase()}}), tlp));
        } else {
            problem(p, "documents", format!("line {}: a SHA-256 is 64 hexadecimal digits", i + 1));
        }
    }
    Identifiers { scos, addresses }
}

/// What a new persona is made of, besides its identifiers.
#[derive(Clone, Copy)]
pub struct NewPersona<'a> {
    /// The contributing organization's identity.
    pub by: &'a str,
    pub name: &'a str,
    pub confidence: u8,
    pub tlp: Tlp,
    /// The name and documents belong to a real person whose identity was stolen.
    pub stolen: bool,
    /// The actor it is attributed to (or, when stolen, that impersonates it).
    pub actor: Option<&'a str>,
    /// Or a new actor of this name.
    pub new_actor: Option<&'a str>,
    /// The country of its phone numbers and addresses.
    pub region: Option<&'a str>,
    pub resume: &'a str,
    /// For TLP:RED, the member organizations' identities it is also shared with.
    pub share_with: &'a [String],
}

/// The persona's objects: the identity, its actor tie (and the new actor), an SCO and a
/// `related-to` per identifier, a location and a `located-at` per address, the resume as a
/// note. Returns the persona's id, the actor's, and the objects.
pub fn persona_objects(spec: &NewPersona<'_>, ids: Identifiers, now: &str) -> (String, Option<String>, Vec<Value>) {
    let NewPersona { by, name, confidence, tlp, stolen, region, resume, share_with, .. } = *spec;
    let Identifiers { scos, addresses } = ids;
    let marks = json!([tlp.marking_id()]);
    let persona = format!("identity--{}", uuid::Uuid::new_v4());
    let mut actor_id = spec.actor.map(str::to_owned);
    let mut objects: Vec<Value> = Vec::new();
    let mut identity = json!({
        "type": "identity", "spec_version": "2.1", "id": persona, "created": now, "modified": now,
        "created_by_ref": by, "name": name, "identity_class": "individual", "confidence": confidence,
        "labels": [if stolen { "stolen-identity" } else { "persona" }], "object_marking_refs": marks,
    });
    if stolen {
        identity["x_dossier_stolen_identity"] = json!(true);
    }
    let rel = |ty: &str, src: &str, dst: &str| {
        json!({
            "type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", uuid::Uuid::new_v4()),
            "created": now, "modified": now, "created_by_ref": by, "relationship_type": ty,
            "source_ref": src, "target_ref": dst, "confidence": confidence, "object_marking_refs": marks,
        })
    };
    objects.push(identity);
    if let Some(new_actor) = spec.new_actor {
        let id = format!("threat-actor--{}", uuid::Uuid::new_v4());
        objects.push(json!({
            "type": "threat-actor", "spec_version": "2.1", "id": id, "created": now, "modified": now,
            "created_by_ref": by, "name": new_actor, "confidence": confidence, "object_marking_refs": marks,
        }));
        actor_id = Some(id);
    }
    if let Some(a) = &actor_id {
        objects.push(if stolen { rel("impersonates", a, &persona) } else { rel("attributed-to", &persona, a) });
    }
    let mut seen_sco = std::collections::HashSet::new();
    for s in scos {
        let id = s["id"].as_str().unwrap_or_default().to_owned();
        if seen_sco.insert(id.clone()) {
            objects.push(rel("related-to", &persona, &id));
            objects.push(s);
        }
    }
    for a in &addresses {
        let id = format!("location--{}", uuid::Uuid::new_v4());
        objects.push(json!({
            "type": "location", "spec_version": "2.1", "id": id, "created": now, "modified": now,
            "created_by_ref": by, "street_address": a, "country": region.unwrap_or_default(),
            "confidence": confidence, "object_marking_refs": marks,
        }));
        objects.push(rel("located-at", &persona, &id));
    }
    if !resume.is_empty() {
        objects.push(json!({
            "type": "note", "spec_version": "2.1", "id": format!("note--{}", uuid::Uuid::new_v4()),
            "created": now, "modified": now, "created_by_ref": by, "abstract": "Resume text", "content": resume,
            "object_refs": [persona], "object_marking_refs": marks,
        }));
    }
    if tlp == Tlp::Red && !share_with.is_empty() {
        for o in &mut objects {
            o[dossier_stix::object::SHARE_WITH] = json!(share_with);
        }
    }
    (persona, actor_id, objects)
}

/// A member's sighting of an actor or persona.
pub struct NewSighting<'a> {
    /// The member's identity.
    pub by: &'a str,
    /// The ISAC's identity: where an anonymous member's sighting is said to be seen.
    pub isac: &'a str,
    /// The actor or persona sighted.
    pub of: &'a str,
    /// When (RFC 3339).
    pub when: &'a str,
    pub tlp: Tlp,
    /// Name the member in `where_sighted_refs`.
    pub named: bool,
    pub description: Option<&'a str>,
}

/// The STIX sighting: where it was seen is the member when named, else the ISAC standing
/// for an anonymous member.
pub fn sighting_object(s: &NewSighting<'_>, now: &str) -> Value {
    let mut sighting = json!({
        "type": "sighting", "spec_version": "2.1", "id": format!("sighting--{}", uuid::Uuid::new_v4()),
        "created": now, "modified": now, "created_by_ref": s.by, "sighting_of_ref": s.of,
        "first_seen": s.when, "last_seen": s.when, "count": 1,
        "where_sighted_refs": [if s.named { s.by } else { s.isac }], "object_marking_refs": [s.tlp.marking_id()],
    });
    if let Some(d) = s.description.map(str::trim).filter(|d| !d.is_empty()) {
        sighting["description"] = json!(d);
    }
    sighting
}
