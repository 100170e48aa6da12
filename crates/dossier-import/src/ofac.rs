//! The U.S. Treasury's Specially Designated Nationals (SDN) list, in the CSV files OFAC
//! publishes: `sdn.csv` (no header; `ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign,
//! Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks`, with `-0-` for an empty
//! field), and the optional `add.csv` (`ent_num, Add_num, Address, City/State/Postal Code,
//! Country, Add_remarks`), `alt.csv` (`ent_num, alt_num, alt_type, alt_name, alt_remarks`)
//! and `sdn_comments.csv` (`ent_num, Remarks_Extended`: the rest of a long remark).
//!
//! Only entries of the chosen programs are kept (by default every program whose name holds
//! `DPRK` or `CYBER`). Each becomes, at TLP:CLEAR and created by OFAC's identity:
//!
//! - a `threat-actor` labelled `sanctioned`, with the entry's names as `aliases`, its
//!   programs in `x_dossier_programs`, the remarks (birth dates, nationalities, documents) in
//!   its description and the entry number as an external reference;
//! - a persona (`identity`, individual or organization) per name — the primary name and each
//!   `a.k.a.` — attributed to it; an individual's `LAST, First` is written `First LAST`;
//! - every `Digital Currency Address - XBT/ETH/USDT/TRX/…` in the remarks as a
//!   `cryptocurrency-wallet` tied to the primary persona (an address the chain's checksum
//!   refuses is reported, not kept), e-mail addresses and websites likewise, and the
//!   addresses of `add.csv` as `location`s.
//!
//! Ids derive from the entry number, so a newer list updates the same objects. Objects an
//! earlier import made that the newer list no longer holds (delisted entries, dropped
//! aliases) get a revoked version; objects whose content did not change keep their version,
//! so that re-importing the same list changes nothing. A sanctioned wallet is an exact
//! identifier and matches; names alone never do.

use std::collections::{BTreeMap, HashMap, HashSet};

use dossier_match::wallet;
use dossier_stix::Tlp;
use serde_json::{Value, json};

use crate::{Converted, ImportError, derived_id};

/// The files of one list.
#[derive(Debug, Clone, Copy, Default)]
pub struct Files<'a> {
    pub sdn: &'a [u8],
    pub add: Option<&'a [u8]>,
    pub alt: Option<&'a [u8]>,
    pub comments: Option<&'a [u8]>,
}

/// Settings of one import.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Programs to keep: an entry is kept when one of its programs contains one of these
    /// (case-insensitive). Empty: every program.
    pub programs: &'a [String],
    /// The time new versions are stamped with (RFC 3339).
    pub now: &'a str,
    /// The latest version of every object an earlier SDN import made (see
    /// [`is_from_sdn`]): to keep unchanged objects' versions and revoke what was delisted.
    pub previous: &'a [Value],
}

/// The programs kept unless told otherwise.
pub fn default_programs() -> Vec<String> {
    vec!["DPRK".into(), "CYBER".into()]
}

/// OFAC's identity: `created_by_ref` of everything an SDN import makes.
pub fn ofac_identity() -> String {
    derived_id("identity", &["ofac"])
}

/// Whether a stored object was made by an SDN import.
pub fn is_from_sdn(object: &Value) -> bool {
    object["created_by_ref"].as_str() == Some(ofac_identity().as_str())
}

fn field(s: Option<&str>) -> Option<String> {
    let s = s?.trim().trim_end_matches('\u{1a}').trim();
    (!s.is_empty() && s != "-0-").then(|| s.to_owned())
}

fn read_csv(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes)
}

/// Rows of a side file by entry number.
fn side_rows(bytes: Option<&[u8]>, name: &str, out: &mut Converted) -> HashMap<String, Vec<Vec<String>>> {
    let mut rows: HashMap<String, Vec<Vec<String>>> = HashMap::new();
    let Some(bytes) = bytes else { return rows };
    for (i, r) in read_csv(bytes).records().enumerate() {
        match r {
            Ok(r) => {
                // Kept as written: a remark's continuation may start or end with a space.
                let cells: Vec<String> = r.iter().map(str::to_owned).collect();
                match cells.first().map(|c| c.trim_end_matches('\u{1a}').trim()) {
                    Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                        rows.entry(n.to_owned()).or_default().push(cells)
                    }
                    Some("") | None => {}
                    Some(_) => out.refuse(format!("{name} line {}", i + 1), "no entry number"),
                }
            }
            Err(e) => out.refuse(format!("{name} line {}", i + 1), format!("not a CSV row: {e}")),
        }
    }
    rows
}

/// `LAST, First Middle` → `First Middle LAST` (individuals); other names as published.
fn display_name(name: &str, individual: bool) -> String {
    match name.split_once(',') {
        Some((last, first)) if individual && !first.trim().is_empty() => format!("{} {}", first.trim(), last.trim()),
        _ => name.trim().to_owned(),
    }
}

/// What the remarks say: currency addresses (`(currency, address)`), e-mail addresses,
/// websites.
fn remarks_identifiers(remarks: &str) -> (Vec<(String, String)>, Vec<String>, Vec<String>) {
    let (mut wallets, mut emails, mut sites) = (Vec::new(), Vec::new(), Vec::new());
    for item in remarks.split(';') {
        let item = item.trim().trim_start_matches("alt.").trim();
        if let Some(rest) = item.strip_prefix("Digital Currency Address - ") {
            let mut parts = rest.split_whitespace();
            if let (Some(currency), Some(address)) = (parts.next(), parts.next()) {
                wallets.push((currency.to_owned(), address.trim_end_matches(['.', ',']).to_owned()));
            }
        } else if let Some(rest) = item.strip_prefix("Email Address ") {
            emails.push(rest.trim().trim_end_matches('.').to_owned());
        } else if let Some(rest) = item.strip_prefix("Website ") {
            sites.push(rest.trim().trim_end_matches('.').to_owned());
        }
    }
    (wallets, emails, sites)
}

/// Converts the list (see the module's documentation).
pub fn convert(files: &Files<'_>, opts: &Options<'_>) -> Result<Converted, ImportError> {
    let mut out = Converted::default();
    let alts = side_rows(files.alt, "alt.csv", &mut out);
    let adds = side_rows(files.add, "add.csv", &mut out);
    let comments = side_rows(files.comments, "sdn_comments.csv", &mut out);
    let ofac = ofac_identity();
    let clear = json!([Tlp::Clear.marking_id()]);
    let now = opts.now;
    let mut made: Vec<Value> = vec![json!({
        "type": "identity", "spec_version": "2.1", "id": ofac, "created": "2020-01-01T00:00:00.000Z",
        "modified": "2020-01-01T00:00:00.000Z", "name": "Office of Foreign Assets Control (U.S. Department of the Treasury)",
        "identity_class": "organization", "sectors": ["government-national"], "object_marking_refs": clear,
    })];
    let base = |ty: &str, id: &str| {
        json!({"type": ty, "spec_version": "2.1", "id": id, "created": now, "modified": now, "created_by_ref": ofac,
               "object_marking_refs": clear})
    };
    let (mut entries, mut skipped) = (0usize, 0usize);
    let mut rows = 0usize;
    for (i, r) in read_csv(files.sdn).records().enumerate() {
        let line = i + 1;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                out.refuse(format!("sdn.csv line {line}"), format!("not a CSV row: {e}"));
                continue;
            }
        };
        let ent = match field(r.get(0)) {
            Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => n,
            None => continue, // the end-of-file mark OFAC appends
            Some(other) => {
                out.refuse(format!("sdn.csv line {line}"), format!("{other:?} is not an entry number"));
                continue;
            }
        };
        rows += 1;
        let Some(name) = field(r.get(1)) else {
            out.refuse(format!("entry {ent}"), "no name");
            continue;
        };
        let kind = field(r.get(2)).unwrap_or_default().to_ascii_lowercase();
        if kind == "vessel" || kind == "aircraft" {
            skipped += 1;
            continue;
        }
        let individual = kind == "individual";
        let programs: Vec<String> = field(r.get(3))
            .unwrap_or_default()
            .split(['[', ']'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        let wanted = opts.programs.is_empty()
            || programs
                .iter()
                .any(|p| opts.programs.iter().any(|w| p.to_ascii_uppercase().contains(&w.to_ascii_uppercase())));
        if !wanted {
            skipped += 1;
            continue;
        }
        entries += 1;
        // As written (a remark cut by the field's length may end with a space).
        let mut remarks =
            field(r.get(11)).map(|_| r.get(11).unwrap_or_default().trim_start().to_owned()).unwrap_or_default();
        for c in comments.get(&ent).into_iter().flatten() {
            // The continuation of a remark cut where the field ended (mid-word, often).
            if let Some(more) =
                c.get(1).map(|m| m.trim_end_matches(['\u{1a}', '\r', '\n'])).filter(|m| !m.trim().is_empty())
            {
                remarks.push_str(more);
            }
        }
        let remarks = remarks.trim().to_owned();
        let title = field(r.get(4));
        let aliases: Vec<String> = alts
            .get(&ent)
            .into_iter()
            .flatten()
            .filter_map(|a| field(a.get(3).map(String::as_str)))
            .map(|a| display_name(&a, individual))
            .collect();
        let primary = display_name(&name, individual);
        let actor = derived_id("threat-actor", &["ofac-sdn", &ent]);
        let mut a = base("threat-actor", &actor);
        a["name"] = json!(primary);
        a["labels"] = json!(["sanctioned"]);
        a["threat_actor_types"] = json!([if individual { "criminal" } else { "crime-syndicate" }]);
        a["confidence"] = json!(95);
        a["x_dossier_programs"] = json!(programs);
        let mut names = vec![primary.clone()];
        names.extend(aliases.iter().cloned());
        names.dedup();
        if names.len() > 1 {
            a["aliases"] = json!(names[1..]);
        }
        let mut description = format!("OFAC SDN entry {ent} ({}): {name}.", programs.join(", "));
        if let Some(t) = &title {
            description.push_str(&format!(" Title: {t}."));
        }
        if !remarks.is_empty() {
            description.push_str(&format!(" {remarks}"));
        }
        a["description"] = json!(description);
        a["external_references"] = json!([{
            "source_name": "ofac-sdn", "external_id": ent,
            "url": format!("https://sanctionssearch.ofac.treas.gov/Details.aspx?id={ent}"),
        }]);
        made.push(a);
        let class = if individual { "individual" } else { "organization" };
        let mut primary_persona = String::new();
        for (k, n) in names.iter().enumerate() {
            let persona = derived_id("identity", &["ofac-sdn", &ent, &n.to_lowercase()]);
            let mut p = base("identity", &persona);
            p["name"] = json!(n);
            p["identity_class"] = json!(class);
            p["labels"] = json!(["persona", "sanctioned"]);
            p["confidence"] = json!(95);
            made.push(p);
            let rel = derived_id("relationship", &[&persona, "attributed-to", &actor]);
            let mut t = base("relationship", &rel);
            t["relationship_type"] = json!("attributed-to");
            t["source_ref"] = json!(persona);
            t["target_ref"] = json!(actor);
            t["confidence"] = json!(95);
            made.push(t);
            if k == 0 {
                primary_persona = persona;
            }
        }
        let tie = |made: &mut Vec<Value>, rel: &str, target: &str| {
            let id = derived_id("relationship", &[&primary_persona, rel, target]);
            let mut t = base("relationship", &id);
            t["relationship_type"] = json!(rel);
            t["source_ref"] = json!(primary_persona);
            t["target_ref"] = json!(target);
            t["confidence"] = json!(95);
            made.push(t);
        };
        let (wallets, emails, sites) = remarks_identifiers(&remarks);
        for (currency, address) in wallets {
            match wallet::parse(&address) {
                Ok(w) => {
                    let mut v = json!({"type": "cryptocurrency-wallet", "value": address,
                                       "x_dossier_chain": w.chain.as_str(), "x_dossier_currency": currency});
                    if let Some(sco) = crate::persona::sco(v.take(), Tlp::Clear) {
                        let id = sco["id"].as_str().unwrap_or_default().to_owned();
                        made.push(sco);
                        tie(&mut made, "related-to", &id);
                    }
                }
                Err(e) => out.refuse(format!("entry {ent}"), format!("{currency} address {address:?}: {e}")),
            }
        }
        for e in emails {
            match dossier_match::normalize::email::normalize(&e) {
                Ok(_) => {
                    if let Some(sco) = crate::persona::sco(json!({"type": "email-addr", "value": e}), Tlp::Clear) {
                        let id = sco["id"].as_str().unwrap_or_default().to_owned();
                        made.push(sco);
                        tie(&mut made, "related-to", &id);
                    }
                }
                Err(err) => out.refuse(format!("entry {ent}"), format!("e-mail {e:?}: {err}")),
            }
        }
        for s in sites {
            let url = if s.contains("://") { s.clone() } else { format!("https://{s}") };
            if let Some(sco) = crate::persona::sco(json!({"type": "url", "value": url}), Tlp::Clear) {
                let id = sco["id"].as_str().unwrap_or_default().to_owned();
                made.push(sco);
                tie(&mut made, "related-to", &id);
            }
        }
        for add in adds.get(&ent).into_iter().flatten() {
            let street = add.get(2).and_then(|s| field(Some(s)));
            let city = add.get(3).and_then(|s| field(Some(s)));
            let country = add.get(4).and_then(|s| field(Some(s)));
            if street.is_none() && city.is_none() && country.is_none() {
                continue;
            }
            let num = add.get(1).cloned().unwrap_or_default();
            let id = derived_id("location", &["ofac-sdn", &ent, &num]);
            let mut l = base("location", &id);
            if let Some(s) = street {
                l["street_address"] = json!(s);
            }
            if let Some(c) = city {
                l["city"] = json!(c);
            }
            // STIX wants a country code; OFAC writes the name ("Korea, North"): kept as the
            // region's name.
            if let Some(c) = country {
                l["region"] = json!(c);
            }
            l["name"] = json!(format!("Address of OFAC SDN entry {ent}"));
            made.push(l);
            tie(&mut made, "located-at", &id);
        }
    }
    if rows == 0 {
        return Err(ImportError::Format("sdn.csv holds no entries".into()));
    }
    out.notes.push(format!("{entries} entries of the chosen programs kept, {skipped} others left out"));
    // Keep unchanged objects' versions; revoke what the list no longer holds.
    let previous: HashMap<&str, &Value> = opts.previous.iter().filter_map(|p| Some((p["id"].as_str()?, p))).collect();
    let mut ids = HashSet::new();
    for mut o in made {
        let Some(id) = o["id"].as_str().map(str::to_owned) else { continue };
        if !ids.insert(id.clone()) {
            continue;
        }
        if let Some(p) = previous.get(id.as_str())
            && o.get("created").is_some()
        {
            o["created"] = p["created"].clone();
            if same_but_dates(&o, p) {
                o["modified"] = p["modified"].clone();
            }
        }
        out.objects.push(o);
    }
    let mut revoked: BTreeMap<String, Value> = BTreeMap::new();
    for p in opts.previous {
        let Some(id) = p["id"].as_str() else { continue };
        let sdo = p.get("created").is_some() && p.get("modified").is_some();
        if sdo && !ids.contains(id) && p["revoked"] != json!(true) && id != ofac {
            let mut r = p.clone();
            r["revoked"] = json!(true);
            r["modified"] = json!(now);
            revoked.insert(id.to_owned(), r);
        }
    }
    out.revoked = revoked.keys().cloned().collect();
    out.objects.extend(revoked.into_values());
    Ok(out)
}

/// Equal but for `created` and `modified`.
fn same_but_dates(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("created");
            m.remove("modified");
        }
        v
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDN: &str = "\
36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n\
9001,\"PAK, Jin Hyok\",\"individual\",\"DPRK3] [CYBER2\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 15 Aug 1984; nationality Korea, North; Digital Currency Address - XBT 1KFHE7w8BhaENAswwryaoccDb6qcT6DbYY; alt. Digital Currency Address - ETH 0x52908400098527886E0F7030069857D2E4169EE7; Email Address pjh.dev@example.org; Gender Male.\"\n\
9002,\"CHOSON EXPO JOINT VENTURE\",-0- ,\"DPRK2\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"Digital Currency Address - TRX TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7; Digital Currency Address - XBT 1KFHE7w8BhaENAswwryaoccDb6qcT6DbYZ.\"\n\
\u{1a}\n";

    fn opts<'a>(programs: &'a [String], previous: &'a [Value]) -> Options<'a> {
        Options { programs, now: "2026-05-01T00:00:00.000Z", previous }
    }

    #[test]
    fn dprk_and_cyber_entries_become_sanctioned_actors_with_their_wallets() {
        let alt = "9001,101,\"a.k.a.\",\"PAK, Kwang Jin\",-0- \n";
        let files = Files { sdn: SDN.as_bytes(), alt: Some(alt.as_bytes()), ..Default::default() };
        let programs = default_programs();
        let out = convert(&files, &opts(&programs, &[])).unwrap();
        let counts = out.counts();
        assert_eq!(counts["threat-actor"], 2, "the Cuban airline is left out: {counts:?}");
        assert_eq!(counts["cryptocurrency-wallet"], 3, "the checksum-failing XBT address is refused");
        assert_eq!(out.refused.len(), 1, "{:?}", out.refused);
        assert!(out.refused[0].reason.contains("1KFHE7w8BhaENAswwryaoccDb6qcT6DbYZ"));
        let actor = out.objects.iter().find(|o| o["name"] == "Jin Hyok PAK").unwrap();
        assert_eq!(actor["labels"], json!(["sanctioned"]));
        assert_eq!(actor["aliases"], json!(["Kwang Jin PAK"]));
        assert_eq!(actor["x_dossier_programs"], json!(["DPRK3", "CYBER2"]));
        assert!(actor["description"].as_str().unwrap().contains("DOB 15 Aug 1984"));
        assert_eq!(counts["identity"], 1 + 3, "OFAC, two names of Pak, the venture");
        for o in &out.objects {
            dossier_stix::StixObject::parse(o.to_string().as_bytes()).unwrap();
            assert_eq!(o["object_marking_refs"][0], Tlp::Clear.marking_id());
        }
    }

    #[test]
    fn a_newer_list_revokes_delisted_entries_and_keeps_unchanged_versions() {
        let programs = default_programs();
        let first = convert(&Files { sdn: SDN.as_bytes(), ..Default::default() }, &opts(&programs, &[])).unwrap();
        let previous: Vec<Value> =
            first.objects.iter().filter(|o| is_from_sdn(o) || o["id"] == ofac_identity()).cloned().collect();
        // The same list again: every dated object keeps its version.
        let mut later = opts(&programs, &previous);
        later.now = "2026-06-01T00:00:00.000Z";
        let same = convert(&Files { sdn: SDN.as_bytes(), ..Default::default() }, &later).unwrap();
        assert!(same.revoked.is_empty());
        assert_eq!(first.objects, same.objects);
        // The venture is delisted.
        let newer: String = SDN.lines().filter(|l| !l.starts_with("9002")).map(|l| format!("{l}\n")).collect();
        let out = convert(&Files { sdn: newer.as_bytes(), ..Default::default() }, &later).unwrap();
        let venture = derived_id("threat-actor", &["ofac-sdn", "9002"]);
        assert!(out.revoked.contains(&venture), "{:?}", out.revoked);
        let revoked = out.objects.iter().find(|o| o["id"] == venture.as_str()).unwrap();
        assert_eq!(revoked["revoked"], true);
        assert_eq!(revoked["modified"], "2026-06-01T00:00:00.000Z");
        assert!(!out.revoked.iter().any(|id| id.starts_with("cryptocurrency-wallet")), "SCOs cannot be revoked");
    }
}
