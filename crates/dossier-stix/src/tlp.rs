//! Traffic Light Protocol markings: the fixed TLP 1.0 and TLP 2.0 marking-definitions and
//! the level an object carries.

use serde_json::Value;

/// TLP 2.0 levels, ordered from least to most restrictive. TLP 1.0 WHITE, GREEN, AMBER
/// and RED map to CLEAR, GREEN, AMBER and RED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    Clear = 0,
    Green = 1,
    Amber = 2,
    AmberStrict = 3,
    Red = 4,
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// Parses a level name (`clear`, `green`, `amber`, `amber+strict`, `red`, and the TLP
    /// 1.0 name `white`), case-insensitively, with or without a `TLP:` prefix.
    pub fn parse(s: &str) -> Option<Tlp> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix("tlp:").unwrap_or(&s);
        Some(match s {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" | "amber_strict" | "amber-strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return None,
        })
    }

    pub fn from_code(code: i64) -> Option<Tlp> {
        Tlp::ALL.get(usize::try_from(code).ok()?).copied()
    }

    pub fn code(self) -> i64 {
        self as i64
    }

    /// The fixed TLP 2.0 marking-definition id of this level.
    pub fn marking_id(self) -> &'static str {
        TLP2.iter().find(|m| m.level == self).map(|m| m.id).unwrap_or_default()
    }
}

/// One of the fixed TLP marking-definitions.
pub struct FixedMarking {
    pub id: &'static str,
    pub level: Tlp,
    /// `true` for TLP 2.0, `false` for TLP 1.0.
    pub v2: bool,
    /// The canonical object, as published by OASIS.
    pub json: &'static str,
}

/// The TLP 2.0 extension-definition the TLP 2.0 markings use.
pub const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

macro_rules! tlp2 {
    ($id:literal, $level:expr, $name:literal, $value:literal) => {
        FixedMarking {
            id: $id,
            level: $level,
            v2: true,
            json: concat!(
                r#"{"type":"marking-definition","spec_version":"2.1","id":""#,
                $id,
                r#"","created":"2022-10-01T00:00:00.000Z","name":""#,
                $name,
                r#"","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"extension_type":"property-extension","tlp_2_0":""#,
                $value,
                r#""}}}"#
            ),
        }
    };
}
macro_rules! tlp1 {
    ($id:literal, $level:expr, $name:literal, $value:literal) => {
        FixedMarking {
            id: $id,
            level: $level,
            v2: false,
            json: concat!(
                r#"{"type":"marking-definition","spec_version":"2.1","id":""#,
                $id,
                r#"","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":""#,
                $name,
                r#"","definition":{"tlp":""#,
                $value,
                r#""}}"#
            ),
        }
    };
}

pub const TLP2: [FixedMarking; 5] = [
    tlp2!("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", Tlp::Clear, "TLP:CLEAR", "clear"),
    tlp2!("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", Tlp::Green, "TLP:GREEN", "green"),
    tlp2!("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", Tlp::Amber, "TLP:AMBER", "amber"),
    tlp2!(
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::AmberStrict,
        "TLP:AMBER+STRICT",
        "amber+strict"
    ),
    tlp2!("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", Tlp::Red, "TLP:RED", "red"),
];

pub const TLP1: [FixedMarking; 4] = [
    tlp1!("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", Tlp::Clear, "TLP:WHITE", "white"),
    tlp1!("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", Tlp::Green, "TLP:GREEN", "green"),
    tlp1!("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", Tlp::Amber, "TLP:AMBER", "amber"),
    tlp1!("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", Tlp::Red, "TLP:RED", "red"),
];

/// The fixed marking with this id, if any.
pub fn fixed_marking(id: &str) -> Option<&'static FixedMarking> {
    TLP2.iter().chain(TLP1.iter()).find(|m| m.id == id)
}

/// Every marking-definition an object references: its `object_marking_refs` and the
/// `marking_ref` of each of its `granular_markings`.
pub fn marking_refs(object: &serde_json::Map<String, Value>) -> impl Iterator<Item = &str> {
    let whole =
        object.get("object_marking_refs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
    let granular = object
        .get("granular_markings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("marking_ref").and_then(Value::as_str));
    whole.chain(granular)
}

/// The TLP level an object declares through the fixed TLP markings it references: the most
/// restrictive one, or `None` when it references none. A granular marking counts for the
/// whole object: an object is shared whole or not at all, so a RED part makes it RED.
pub fn level_of(object: &serde_json::Map<String, Value>) -> Option<Tlp> {
    marking_refs(object).filter_map(|r| fixed_marking(r).map(|m| m.level)).max()
}

/// The marking-definitions an object references that are not the fixed TLP ones: one of
/// them may be a TLP marking defined under its own id, which the store resolves.
pub fn custom_refs(object: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = marking_refs(object)
        .filter(|r| r.starts_with("marking-definition--") && fixed_marking(r).is_none())
        .map(str::to_owned)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The TLP level a submitted marking-definition with a fixed TLP id claims, so a
/// redefinition (the RED id claiming `clear`, say) can be refused.
pub fn claimed_level(object: &serde_json::Map<String, Value>) -> Option<Tlp> {
    if let Some(ext) = object.get("extensions").and_then(|e| e.get(TLP2_EXTENSION)) {
        return ext.get("tlp_2_0").and_then(Value::as_str).and_then(Tlp::parse);
    }
    if let Some(t) = object.get("definition").and_then(|d| d.get("tlp")).and_then(Value::as_str) {
        return Tlp::parse(t);
    }
    object.get("name").and_then(Value::as_str).and_then(Tlp::parse)
}

impl serde::Serialize for Tlp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_markings_parse_and_claim_their_level() {
        for m in TLP2.iter().chain(TLP1.iter()) {
            let v: Value = serde_json::from_str(m.json).unwrap();
            assert_eq!(v["id"], m.id);
            assert_eq!(claimed_level(v.as_object().unwrap()), Some(m.level), "{}", m.id);
        }
    }

    #[test]
    fn a_granular_red_marking_makes_the_object_red() {
        let v = serde_json::json!({"object_marking_refs": [Tlp::Green.marking_id()],
            "granular_markings": [{"marking_ref": Tlp::Red.marking_id(), "selectors": ["description"]},
                                  {"marking_ref": "marking-definition--00000000-0000-4000-8000-000000000001", "selectors": ["name"]}]});
        assert_eq!(level_of(v.as_object().unwrap()), Some(Tlp::Red));
        assert_eq!(
            custom_refs(v.as_object().unwrap()),
            vec!["marking-definition--00000000-0000-4000-8000-000000000001"]
        );
    }

    #[test]
    fn most_restrictive_marking_wins() {
        let v = serde_json::json!({"object_marking_refs": [TLP1[1].id, Tlp::Red.marking_id(), "marking-definition--00000000-0000-4000-8000-000000000000"]});
        assert_eq!(level_of(v.as_object().unwrap()), Some(Tlp::Red));
    }
}
