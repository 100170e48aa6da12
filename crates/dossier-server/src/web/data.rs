//! Reading objects for pages: every object passes the one visibility policy (TLP with its
//! recipients, and collections only analysts may read) before a page may use it.

use dossier_stix::policy::{self, Access as PolicyAccess};
use dossier_stix::{Tlp, Viewer};
use dossier_store::{EntryRef, Org};
use serde::Serialize;
use serde_json::Value;

use crate::Store;

/// One object a viewer may see, ready for a template.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub id: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub tlp: &'static str,
    pub tlp_class: &'static str,
    pub confidence: Option<u8>,
    pub date_added: i64,
    /// Who submitted it, as the viewer may know it ("an ISAC member" when anonymous).
    pub source: String,
    /// A one-line rendering of what the object says (a name, a value, a login …).
    pub label: String,
    pub json: Value,
    /// The submitting organization: counted (distinct members who sighted an actor), never
    /// shown.
    #[serde(skip)]
    pub owner: dossier_stix::OrgId,
}

pub fn tlp_class(t: Tlp) -> &'static str {
    match t {
        Tlp::Clear => "tlp-clear",
        Tlp::Green => "tlp-green",
        Tlp::Amber => "tlp-amber",
        Tlp::AmberStrict => "tlp-amber-strict",
        Tlp::Red => "tlp-red",
    }
}

/// The rule every page applies: the TLP policy, and staff-only collections.
pub fn admits(viewer: &Viewer, e: &EntryRef<'_>, staff_only: bool) -> bool {
    if staff_only && !viewer.is_isac_staff() {
        return false;
    }
    let recipients = if e.tlp == Tlp::Red { e.recipients() } else { Vec::new() };
    policy::may_see(viewer, &PolicyAccess { tlp: e.tlp, owner: e.owner, recipients: &recipients })
}

/// The name a viewer may know a submitter by.
pub fn source_name(viewer: &Viewer, orgs: &[Org], owner: i64, named: bool) -> String {
    if policy::may_see_submitter(viewer, owner, named) {
        orgs.iter().find(|o| o.id == owner).map_or_else(|| "an ISAC member".to_owned(), |o| o.name.clone())
    } else {
        "an ISAC member".to_owned()
    }
}

/// A short text for an object.
pub fn label_of(ty: &str, v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match ty {
        "user-account" => {
            let login = v.get("account_login").or_else(|| v.get("user_id")).and_then(Value::as_str).unwrap_or("");
            let platform = v.get("account_type").and_then(Value::as_str).unwrap_or("account");
            format!("{platform}: {login}")
        }
        "file" => {
            let name = s("name");
            let hash = v
                .get("hashes")
                .and_then(Value::as_object)
                .and_then(|h| h.get("SHA-256").or_else(|| h.values().next()))
                .and_then(Value::as_str)
                .unwrap_or("");
            // By characters: a custom hash value may hold multibyte characters.
            let short: String = hash.chars().take(16).collect();
            if name.is_empty() { hash.to_owned() } else { format!("{name} ({short})") }
        }
        "note" => {
            let a = s("abstract");
            if a.is_empty() { s("content").chars().take(80).collect() } else { a }
        }
        "relationship" => s("relationship_type"),
        "sighting" => "sighting".to_owned(),
        "bank-account" => {
            let iban = s("iban");
            if iban.is_empty() { s("account_number") } else { iban }
        }
        _ => {
            let name = s("name");
            if name.is_empty() { s("value") } else { name }
        }
    }
}

/// The newest version of each of `ids` that `viewer` may see, in the order asked.
pub fn visible(
    store: &dyn Store,
    viewer: &Viewer,
    orgs: &[Org],
    ids: &[String],
) -> Result<Vec<Shown>, dossier_store::StoreError> {
    let mut found: Vec<Shown> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(400) {
        store.scan_latest(&[], Some(chunk), &mut |e, staff_only| {
            if admits(viewer, e, staff_only) {
                // An anonymous submitter's identity gives way to the ISAC's: the rule TAXII
                // applies, through the same function.
                let hidden = (!policy::may_see_submitter(viewer, e.owner, e.named))
                    .then(|| orgs.iter().find(|o| o.id == e.owner && !o.isac).map(|o| o.identity_id.as_str()))
                    .flatten();
                let isac = orgs.iter().find(|o| o.isac).map_or("", |o| o.identity_id.as_str());
                let json: Value =
                    serde_json::from_str(&crate::taxii::shown_json(e.json, hidden, isac)).unwrap_or(Value::Null);
                found.push(Shown {
                    id: e.id.to_owned(),
                    ty: e.object_type.to_owned(),
                    tlp: e.tlp.as_str(),
                    tlp_class: tlp_class(e.tlp),
                    confidence: e.confidence,
                    date_added: e.date_added,
                    source: source_name(viewer, orgs, e.owner, e.named),
                    label: label_of(e.object_type, &json),
                    json,
                    owner: e.owner,
                });
            }
            true
        })?;
    }
    let order: std::collections::HashMap<&str, usize> =
        ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    found.sort_by_key(|s| order.get(s.id.as_str()).copied().unwrap_or(usize::MAX));
    Ok(found)
}

/// Who submitted `id`, as `viewer` may know it: only submissions of versions the viewer may
/// see (a RED version's submitter stays unknown to those it hides from), each organization
/// once with its first submission, anonymous ones as "an ISAC member" — through the same
/// rule as every page ([`admits`], in the collections the viewer may read). ISAC staff also see
/// who curated a version.
pub fn sources(
    store: &dyn Store,
    viewer: &Viewer,
    orgs: &[Org],
    id: &str,
) -> Result<Vec<Value>, dossier_store::StoreError> {
    // The versions the viewer may see: in a collection it may read, at a TLP it may see there.
    let mut visible = std::collections::HashSet::new();
    for c in store.collections()?.into_iter().filter(|c| c.read.allows(viewer)) {
        let q = dossier_store::Query {
            collection: Some(c.id),
            ids: vec![id.to_owned()],
            versions: vec![dossier_store::Versions::All],
            ..Default::default()
        };
        store.scan_raw(&q, &mut |e| {
            if admits(viewer, e, false) {
                visible.insert(e.vid);
            }
            true
        })?;
    }
    let mut out: Vec<(String, i64)> = Vec::new();
    let mut add = |name: String, at: i64| {
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, at));
        }
    };
    for p in store.provenance(id)? {
        if !visible.contains(&p.vid) {
            continue;
        }
        add(source_name(viewer, orgs, p.org, p.named), p.at);
        if let Some(c) = p.curator.filter(|_| viewer.is_isac_staff()) {
            let name = orgs.iter().find(|o| o.id == c).map_or("ISAC", |o| o.name.as_str());
            add(format!("{name} (curated)"), p.at);
        }
    }
    Ok(out.into_iter().map(|(name, at)| serde_json::json!({"name": name, "at": at})).collect())
}

/// The sources of an object as CSV (`name,at`), as the page lists them: one row per
/// submitter of a version the viewer may see, anonymous ones as "an ISAC member".
pub fn sources_csv(sources: &[Value]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["name", "at"])?;
    for s in sources {
        let name = s["name"].as_str().unwrap_or_default();
        // A cell a spreadsheet would read as a formula is written as text.
        let name =
            if name.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{name}") } else { name.to_owned() };
        let at = s["at"].as_i64().map(|m| dossier_stix::Timestamp::from_unix_micros(m).as_str().to_owned());
        w.write_record([name, at.unwrap_or_default()])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
