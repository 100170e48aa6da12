//! A parsed STIX object that keeps its exact JSON.

use serde_json::{Map, Value};

use crate::id::StixId;
use crate::timestamp::Timestamp;
use crate::tlp::{self, Tlp};
use crate::validate::{self, Invalid};

/// The broad family of a STIX type, which decides its common properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// STIX Domain Object (including custom objects that carry `created`/`modified`).
    Sdo,
    /// STIX Relationship Object (`relationship`, `sighting`).
    Sro,
    /// STIX Cyber-observable Object.
    Sco,
    /// `marking-definition`, `language-content`, `extension-definition`.
    Meta,
}

pub const SDO_TYPES: &[&str] = &[
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
];
pub const SRO_TYPES: &[&str] = &["relationship", "sighting"];
pub const SCO_TYPES: &[&str] = &[
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
    "phone-number",
    "cryptocurrency-wallet",
    "bank-account",
];
pub const META_TYPES: &[&str] = &["marking-definition", "language-content", "extension-definition"];

/// The family of `ty`. Unknown (custom) types are SDO-like when they carry `created`,
/// otherwise SCO-like.
pub fn family_of(ty: &str, object: &Map<String, Value>) -> Family {
    if SDO_TYPES.contains(&ty) {
        Family::Sdo
    } else if SRO_TYPES.contains(&ty) {
        Family::Sro
    } else if SCO_TYPES.contains(&ty) {
        Family::Sco
    } else if META_TYPES.contains(&ty) {
        Family::Meta
    } else if object.contains_key("created") {
        Family::Sdo
    } else {
        Family::Sco
    }
}

/// One validated STIX object: its compact original JSON plus the parsed form.
///
/// The JSON is the input with insignificant whitespace removed and nothing else changed
/// (same property order, same number and string tokens), so what goes in comes back equal.
#[derive(Clone, Debug)]
pub struct StixObject {
    json: String,
    map: Map<String, Value>,
    id: StixId,
    family: Family,
    version: Option<Timestamp>,
}

impl StixObject {
    /// Parses and validates one object from its JSON bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, Vec<Invalid>> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            vec![Invalid { object_id: None, path: String::new(), reason: format!("invalid JSON: {e}") }]
        })?;
        let Value::Object(map) = value else {
            return Err(vec![Invalid {
                object_id: None,
                path: String::new(),
                reason: "a STIX object must be a JSON object".into(),
            }]);
        };
        let checked = validate::validate(&map)?;
        let json = String::from_utf8(crate::split::minify(bytes)).map_err(|_| {
            vec![Invalid { object_id: Some(checked.id.to_string()), path: String::new(), reason: "not UTF-8".into() }]
        })?;
        Ok(Self { json, map, id: checked.id, family: checked.family, version: checked.version })
    }

    /// Parses a value that is already in memory (the JSON is re-serialised compactly).
    pub fn from_value(value: &Value) -> Result<Self, Vec<Invalid>> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| vec![Invalid { object_id: None, path: String::new(), reason: e.to_string() }])?;
        Self::parse(&bytes)
    }

    pub fn id(&self) -> &StixId {
        &self.id
    }
    pub fn object_type(&self) -> &str {
        self.id.object_type()
    }
    pub fn family(&self) -> Family {
        self.family
    }
    /// The compact original JSON.
    pub fn json(&self) -> &str {
        &self.json
    }
    pub fn properties(&self) -> &Map<String, Value> {
        &self.map
    }
    pub fn get(&self, property: &str) -> Option<&Value> {
        self.map.get(property)
    }
    pub fn get_str(&self, property: &str) -> Option<&str> {
        self.map.get(property).and_then(Value::as_str)
    }
    /// The version timestamp: `modified`, else `created`, else none (most SCOs).
    pub fn version(&self) -> Option<&Timestamp> {
        self.version.as_ref()
    }
    pub fn spec_version(&self) -> Option<&str> {
        self.get_str("spec_version")
    }
    /// `confidence` (0–100) when present.
    pub fn confidence(&self) -> Option<u8> {
        self.map.get("confidence").and_then(Value::as_u64).and_then(|c| u8::try_from(c).ok())
    }
    /// The TLP level from the fixed TLP markings it references (whole or granular), if any.
    pub fn tlp(&self) -> Option<Tlp> {
        tlp::level_of(&self.map)
    }
    pub fn created_by_ref(&self) -> Option<&str> {
        self.get_str("created_by_ref")
    }
    /// What storage needs of the object, dropping the parsed properties (cheaper to move
    /// between threads and to keep in bulk).
    pub fn into_record(self) -> Record {
        let share_with = self
            .map
            .get(SHARE_WITH)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let claims_tlp = (self.object_type() == "marking-definition" && tlp::fixed_marking(self.id.as_str()).is_none())
            .then(|| tlp::claimed_level(&self.map))
            .flatten();
        Record {
            share_with,
            tlp: self.tlp(),
            custom_markings: tlp::custom_refs(&self.map),
            claims_tlp,
            confidence: self.confidence(),
            spec_version: self.spec_version().map(str::to_owned),
            id: self.id,
            family: self.family,
            version: self.version,
            json: self.json,
        }
    }

    /// Typed, borrowed access to the properties of the well-known types.
    pub fn typed(&self) -> Result<crate::typed::Typed<'_>, serde_json::Error> {
        crate::typed::Typed::from_object(self)
    }
}

/// The property that names the member organizations (by their STIX identity ids) that may
/// see a TLP:RED object besides its submitter and ISAC analysts.
pub const SHARE_WITH: &str = "x_dossier_share_with_refs";

/// A validated object reduced to what storage needs: its identity, version, markings and
/// exact JSON.
#[derive(Clone, Debug)]
pub struct Record {
    pub id: StixId,
    pub family: Family,
    /// `modified`, else `created`; `None` for versionless objects (most SCOs).
    pub version: Option<Timestamp>,
    pub spec_version: Option<String>,
    /// The level from the fixed TLP markings the object references (whole or granular).
    pub tlp: Option<Tlp>,
    /// Marking-definitions it references other than the fixed TLP ones: a TLP marking
    /// defined under its own id counts too (the store knows the definitions).
    pub custom_markings: Vec<String>,
    /// For a marking-definition under its own id: the TLP level it defines, if any.
    pub claims_tlp: Option<Tlp>,
    pub confidence: Option<u8>,
    /// Identity ids named in [`SHARE_WITH`].
    pub share_with: Vec<String>,
    /// The compact original JSON.
    pub json: String,
}

impl Record {
    pub fn object_type(&self) -> &str {
        self.id.object_type()
    }
}
