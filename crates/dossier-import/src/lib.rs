//! # dossier-import
//!
//! Conversions between STIX 2.1 and the formats members and the outside world keep their
//! intelligence in — pure functions from bytes to STIX objects (and back), with every record
//! they refuse named by where it was:
//!
//! - [`csv_ids`]: a spreadsheet of identifiers (`actor, persona, kind, value, tlp, …`);
//! - [`misp`]: MISP events (the MISP core JSON format) and feeds, and an actor exported as a
//!   MISP event;
//! - [`ofac`]: the U.S. Treasury's SDN list in its published CSV files;
//! - [`persona`]: personas from typed identifiers (the contribution form) and sightings.
//!
//! Nothing here knows SQL or HTTP: callers read the files (or fetch the feeds) and store
//! what comes out through the store's one import path, where TLP and ownership rules apply.

pub mod csv_ids;
pub mod misp;
pub mod ofac;
pub mod persona;

use serde::Serialize;
use uuid::Uuid;

/// The namespace of the ids importers derive (so that importing the same record again
/// gives the same object).
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6d1a_4c0e_8f43_4f6a_9b8e_3c2a_71d4_0e55);

/// A derived id: the same `parts` give the same id.
pub fn derived_id(ty: &str, parts: &[&str]) -> String {
    dossier_stix::StixId::new_v5(ty, &NAMESPACE, &parts.join("\u{1f}")).as_str().to_owned()
}

/// The scope of the ids a spreadsheet import derives for organization `identity`, keyed with
/// the installation's secret `key`: members' ids never collide, and nobody without the key
/// can tell from an id who submitted it.
pub fn scope(key: &[u8], identity: &str) -> String {
    dossier_match::keyed::hmac_hex(key, format!("import-scope:{identity}").as_bytes(), 16)
}

/// Something an importer left out, and where it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// `line 7`, `attribute 5f1c…`, `entry 36`.
    pub at: String,
    pub reason: String,
}

/// What an import produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Converted {
    pub objects: Vec<serde_json::Value>,
    /// Records left out, with why.
    pub refused: Vec<Refusal>,
    /// What the caller should know (e.g. unknown columns ignored).
    pub notes: Vec<String>,
    /// Objects to revoke: ids of earlier imports' objects the new input no longer holds
    /// (their revoked versions are in `objects`).
    pub revoked: Vec<String>,
}

impl Converted {
    pub fn refuse(&mut self, at: impl Into<String>, reason: impl Into<String>) {
        self.refused.push(Refusal { at: at.into(), reason: reason.into() });
    }

    /// Objects by type, for a preview.
    pub fn counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for o in &self.objects {
            *out.entry(o["type"].as_str().unwrap_or("?").to_owned()).or_insert(0) += 1;
        }
        out
    }
}

/// Why an input could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Format(String),
    #[error("reading the input: {0}")]
    Io(#[from] std::io::Error),
}

/// The formats `dossier import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Stix,
    Misp,
    Ofac,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "stix" | "json" | "bundle" => Format::Stix,
            "misp" => Format::Misp,
            "ofac" | "sdn" => Format::Ofac,
            "csv" => Format::Csv,
            _ => return None,
        })
    }

    /// The format of a file from its name and first bytes, where that is unambiguous.
    pub fn detect(name: &str, head: &[u8]) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        let file = lower.rsplit(['/', '\\']).next().unwrap_or(&lower);
        if matches!(file, "sdn.csv" | "add.csv" | "alt.csv" | "sdn_comments.csv") {
            return Some(Format::Ofac);
        }
        let text = String::from_utf8_lossy(&head[..head.len().min(4096)]);
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            if file == "manifest.json" || trimmed.contains("\"Event\"") || trimmed.contains("\"response\"") {
                return Some(Format::Misp);
            }
            return Some(Format::Stix);
        }
        let first = trimmed.lines().next().unwrap_or("").to_ascii_lowercase();
        let cols: Vec<&str> = first.split(',').map(|c| c.trim().trim_matches('"')).collect();
        if cols.contains(&"kind") && cols.contains(&"value") {
            return Some(Format::Csv);
        }
        // sdn.csv has no header: an entry number, then a quoted name.
        if cols.first().is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit())) && cols.len() >= 10 {
            return Some(Format::Ofac);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_where_unambiguous() {
        assert_eq!(Format::detect("x.json", br#"{"type": "bundle", "objects": []}"#), Some(Format::Stix));
        assert_eq!(Format::detect("e.json", br#"{"Event": {"info": "x"}}"#), Some(Format::Misp));
        assert_eq!(Format::detect("feed/manifest.json", b"{}"), Some(Format::Misp));
        assert_eq!(Format::detect("ids.csv", b"actor,persona,kind,value\n"), Some(Format::Csv));
        assert_eq!(Format::detect("data/SDN.CSV", b""), Some(Format::Ofac));
        assert_eq!(
            Format::detect(
                "list.csv",
                b"36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n"
            ),
            Some(Format::Ofac)
        );
        assert_eq!(Format::detect("x.txt", b"hello"), None);
        assert_eq!(derived_id("identity", &["a", "b"]), derived_id("identity", &["a", "b"]));
        assert_ne!(derived_id("identity", &["a", "b"]), derived_id("identity", &["ab"]));
    }
}
