//! Validation of STIX 2.1 objects. Every problem names the object id, the property (as a
//! JSON path) and the reason; all problems of an object are reported, not just the first.

use serde_json::{Map, Value};
use std::fmt;

use crate::id::StixId;
use crate::object::{Family, SCO_TYPES, SDO_TYPES, family_of};
use crate::timestamp::Timestamp;
use crate::tlp;

/// One problem in one object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Invalid {
    /// The object's `id` when it could be read.
    pub object_id: Option<String>,
    /// JSON path of the offending property (`$.created`, `$.external_references[0].source_name`).
    pub path: String,
    pub reason: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.object_id, self.path.is_empty()) {
            (Some(id), false) => write!(f, "{id}: {}: {}", self.path, self.reason),
            (Some(id), true) => write!(f, "{id}: {}", self.reason),
            (None, false) => write!(f, "{}: {}", self.path, self.reason),
            (None, true) => f.write_str(&self.reason),
        }
    }
}

/// What validation learnt about a valid object.
pub struct Checked {
    pub id: StixId,
    pub family: Family,
    pub version: Option<Timestamp>,
}

/// Which object types a reference may point at.
#[derive(Clone, Copy)]
enum Target {
    Any,
    Types(&'static [&'static str]),
    Sdo,
    SdoOrSco,
    Sco,
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Int(i64, i64),
    Float(f64, f64),
    Ts,
    TsMillis,
    Ref(Target),
    RefList(Target),
    StrList,
    Obj,
    ObjList,
    Hashes,
}

use Kind::*;

const SDO_COMMON: &[(&str, Kind)] = &[
    ("created", TsMillis),
    ("modified", TsMillis),
    ("created_by_ref", Ref(Target::Types(&["identity"]))),
    ("revoked", Bool),
    ("labels", StrList),
    ("confidence", Int(0, 100)),
    ("lang", Str),
    ("external_references", ObjList),
    ("object_marking_refs", RefList(Target::Types(&["marking-definition"]))),
    ("granular_markings", ObjList),
    ("extensions", Obj),
];

const SCO_COMMON: &[(&str, Kind)] = &[
    ("defanged", Bool),
    ("object_marking_refs", RefList(Target::Types(&["marking-definition"]))),
    ("granular_markings", ObjList),
    ("extensions", Obj),
];

fn type_props(ty: &str) -> (&'static [&'static str], &'static [(&'static str, Kind)]) {
    match ty {
        "threat-actor" => (
            &["name"],
            &[
                ("name", Str),
                ("description", Str),
                ("threat_actor_types", StrList),
                ("aliases", StrList),
                ("first_seen", Ts),
                ("last_seen", Ts),
                ("roles", StrList),
                ("goals", StrList),
                ("sophistication", Str),
                ("resource_level", Str),
                ("primary_motivation", Str),
                ("secondary_motivations", StrList),
                ("personal_motivations", StrList),
            ],
        ),
        "identity" => (
            &["name"],
            &[
                ("name", Str),
                ("description", Str),
                ("roles", StrList),
                ("identity_class", Str),
                ("sectors", StrList),
                ("contact_information", Str),
            ],
        ),
        "intrusion-set" | "campaign" => (
            &["name"],
            &[
                ("name", Str),
                ("description", Str),
                ("aliases", StrList),
                ("first_seen", Ts),
                ("last_seen", Ts),
                ("goals", StrList),
                ("resource_level", Str),
                ("primary_motivation", Str),
                ("secondary_motivations", StrList),
                ("objective", Str),
            ],
        ),
        "indicator" => (
            &["pattern", "pattern_type", "valid_from"],
            &[
                ("name", Str),
                ("description", Str),
                ("indicator_types", StrList),
                ("pattern", Str),
                ("pattern_type", Str),
                ("pattern_version", Str),
                ("valid_from", Ts),
                ("valid_until", Ts),
                ("kill_chain_phases", ObjList),
            ],
        ),
        "relationship" => (
            &["relationship_type", "source_ref", "target_ref"],
            &[
                ("relationship_type", Str),
                ("description", Str),
                ("source_ref", Ref(Target::SdoOrSco)),
                ("target_ref", Ref(Target::SdoOrSco)),
                ("start_time", Ts),
                ("stop_time", Ts),
            ],
        ),
        "sighting" => (
            &["sighting_of_ref"],
            &[
                ("description", Str),
                ("first_seen", Ts),
                ("last_seen", Ts),
                ("count", Int(0, 999_999_999)),
                ("sighting_of_ref", Ref(Target::Sdo)),
                ("observed_data_refs", RefList(Target::Types(&["observed-data"]))),
                ("where_sighted_refs", RefList(Target::Types(&["identity", "location"]))),
                ("summary", Bool),
            ],
        ),
        "note" => (
            &["content", "object_refs"],
            &[("abstract", Str), ("content", Str), ("authors", StrList), ("object_refs", RefList(Target::Any))],
        ),
        "report" => (
            &["name", "published", "object_refs"],
            &[
                ("name", Str),
                ("description", Str),
                ("report_types", StrList),
                ("published", Ts),
                ("object_refs", RefList(Target::Any)),
            ],
        ),
        "grouping" => {
            (&["context", "object_refs"], &[("name", Str), ("context", Str), ("object_refs", RefList(Target::Any))])
        }
        "location" => (
            &[],
            &[
                ("name", Str),
                ("description", Str),
                ("latitude", Float(-90.0, 90.0)),
                ("longitude", Float(-180.0, 180.0)),
                ("precision", Float(0.0, f64::MAX)),
                ("region", Str),
                ("country", Str),
                ("administrative_area", Str),
                ("city", Str),
                ("street_address", Str),
                ("postal_code", Str),
            ],
        ),
        "observed-data" => (
            &["first_observed", "last_observed", "number_observed"],
            &[
                ("first_observed", Ts),
                ("last_observed", Ts),
                ("number_observed", Int(1, 999_999_999)),
                ("object_refs", RefList(Target::Sco)),
                ("objects", Obj),
            ],
        ),
        "marking-definition" => (
            &[],
            &[
                ("created", TsMillis),
                ("created_by_ref", Ref(Target::Types(&["identity"]))),
                ("name", Str),
                ("definition_type", Str),
                ("definition", Obj),
                ("external_references", ObjList),
                ("object_marking_refs", RefList(Target::Types(&["marking-definition"]))),
                ("granular_markings", ObjList),
                ("extensions", Obj),
            ],
        ),
        "extension-definition" => (
            &["name", "schema", "version", "extension_types", "created_by_ref"],
            &[
                ("name", Str),
                ("description", Str),
                ("schema", Str),
                ("version", Str),
                ("extension_types", StrList),
                ("extension_properties", StrList),
            ],
        ),
        "email-addr" => (
            &["value"],
            &[("value", Str), ("display_name", Str), ("belongs_to_ref", Ref(Target::Types(&["user-account"])))],
        ),
        "url" => (&["value"], &[("value", Str)]),
        "domain-name" => (
            &["value"],
            &[("value", Str), ("resolves_to_refs", RefList(Target::Types(&["ipv4-addr", "ipv6-addr", "domain-name"])))],
        ),
        "ipv4-addr" | "ipv6-addr" => (
            &["value"],
            &[
                ("value", Str),
                ("resolves_to_refs", RefList(Target::Types(&["mac-addr"]))),
                ("belongs_to_refs", RefList(Target::Types(&["autonomous-system"]))),
            ],
        ),
        "user-account" => (
            &[],
            &[
                ("user_id", Str),
                ("credential", Str),
                ("account_login", Str),
                ("account_type", Str),
                ("display_name", Str),
                ("is_service_account", Bool),
                ("is_privileged", Bool),
                ("can_escalate_privs", Bool),
                ("is_disabled", Bool),
                ("account_created", Ts),
                ("account_expires", Ts),
                ("credential_last_changed", Ts),
                ("account_first_login", Ts),
                ("account_last_login", Ts),
            ],
        ),
        "file" => (
            &[],
            &[
                ("hashes", Hashes),
                ("size", Int(0, i64::MAX)),
                ("name", Str),
                ("name_enc", Str),
                ("magic_number_hex", Str),
                ("mime_type", Str),
                ("ctime", Ts),
                ("mtime", Ts),
                ("atime", Ts),
                ("parent_directory_ref", Ref(Target::Types(&["directory"]))),
                ("contains_refs", RefList(Target::Sco)),
                ("content_ref", Ref(Target::Types(&["artifact"]))),
            ],
        ),
        "phone-number" | "cryptocurrency-wallet" => (&["value"], &[("value", Str)]),
        // An identity document kept as a keyed hash of `type:country:number` (the number
        // itself never enters the store).
        "x-dossier-identity-document" => {
            (&["number_hmac"], &[("number_hmac", Str), ("document_type", Str), ("issuing_country", Str)])
        }
        "bank-account" => (
            &[],
            &[
                ("iban", Str),
                ("account_number", Str),
                ("bic", Str),
                ("country", Str),
                ("currency", Str),
                ("holder_ref", Ref(Target::Types(&["identity"]))),
                ("issuer_ref", Ref(Target::Types(&["identity"]))),
                ("x_dossier_bank_code", Str),
            ],
        ),
        _ => (&[], &[]),
    }
}

struct Ctx<'a> {
    id: Option<&'a str>,
    errors: Vec<Invalid>,
}

impl Ctx<'_> {
    fn err(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(Invalid { object_id: self.id.map(str::to_owned), path: path.into(), reason: reason.into() });
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_ref(ctx: &mut Ctx<'_>, path: &dyn Fn() -> String, v: &Value, target: Target) {
    let Some(s) = v.as_str() else {
        ctx.err(path(), format!("expected a STIX identifier string, found {}", json_kind(v)));
        return;
    };
    let id = match StixId::parse(s) {
        Ok(id) => id,
        Err(e) => {
            ctx.err(path(), format!("{s:?} is not a STIX identifier: {e}"));
            return;
        }
    };
    let ty = id.object_type();
    let ok = match target {
        Target::Any => true,
        Target::Types(types) => types.contains(&ty),
        Target::Sdo => {
            !SCO_TYPES.contains(&ty)
                && !matches!(
                    ty,
                    "relationship"
                        | "sighting"
                        | "marking-definition"
                        | "extension-definition"
                        | "language-content"
                        | "bundle"
                )
        }
        Target::SdoOrSco => !matches!(
            ty,
            "relationship" | "sighting" | "marking-definition" | "extension-definition" | "language-content" | "bundle"
        ),
        Target::Sco => {
            !SDO_TYPES.contains(&ty)
                && !matches!(ty, "marking-definition" | "extension-definition" | "language-content" | "bundle")
        }
    };
    if !ok {
        let allowed = match target {
            Target::Types(t) => t.join(" or "),
            Target::Sdo => "a domain object".into(),
            Target::SdoOrSco => "a domain or cyber-observable object".into(),
            Target::Sco => "a cyber-observable object".into(),
            Target::Any => String::new(),
        };
        ctx.err(path(), format!("references a {ty}, but must reference {allowed}"));
    }
}

fn check_kind(ctx: &mut Ctx<'_>, path: &dyn Fn() -> String, v: &Value, kind: Kind) {
    match kind {
        Str => {
            if !v.is_string() {
                ctx.err(path(), format!("expected a string, found {}", json_kind(v)));
            }
        }
        Bool => {
            if !v.is_boolean() {
                ctx.err(path(), format!("expected a boolean, found {}", json_kind(v)));
            }
        }
        Int(min, max) => match v.as_i64() {
            Some(i) if (min..=max).contains(&i) => {}
            Some(i) => ctx.err(path(), format!("{i} is outside the allowed range {min}..={max}")),
            None => ctx.err(
                path(),
                format!(
                    "expected an integer, found {}",
                    if v.is_number() { "a non-integer number".to_string() } else { json_kind(v).to_string() }
                ),
            ),
        },
        Float(min, max) => match v.as_f64() {
            Some(f) if f >= min && f <= max => {}
            Some(f) => ctx.err(path(), format!("{f} is outside the allowed range {min}..={max}")),
            None => ctx.err(path(), format!("expected a number, found {}", json_kind(v))),
        },
        Ts | TsMillis => match v.as_str() {
            Some(s) => {
                let r = if matches!(kind, TsMillis) { Timestamp::parse_millis(s) } else { Timestamp::parse(s) };
                if let Err(e) = r {
                    ctx.err(path(), format!("{s:?} is not a valid timestamp: {e}"));
                }
            }
            None => ctx.err(path(), format!("expected a timestamp string, found {}", json_kind(v))),
        },
        Ref(target) => check_ref(ctx, path, v, target),
        RefList(target) => match v.as_array() {
            Some(items) if items.is_empty() => ctx.err(path(), "must not be an empty list"),
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_ref(ctx, &|| format!("{}[{i}]", path()), item, target);
                }
            }
            None => ctx.err(path(), format!("expected a list of identifiers, found {}", json_kind(v))),
        },
        StrList => match v.as_array() {
            Some(items) if items.is_empty() => ctx.err(path(), "must not be an empty list"),
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        ctx.err(format!("{}[{i}]", path()), format!("expected a string, found {}", json_kind(item)));
                    }
                }
            }
            None => ctx.err(path(), format!("expected a list of strings, found {}", json_kind(v))),
        },
        Obj => {
            if !v.is_object() {
                ctx.err(path(), format!("expected an object, found {}", json_kind(v)));
            }
        }
        ObjList => match v.as_array() {
            Some(items) if items.is_empty() => ctx.err(path(), "must not be an empty list"),
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_object() {
                        ctx.err(format!("{}[{i}]", path()), format!("expected an object, found {}", json_kind(item)));
                    }
                }
            }
            None => ctx.err(path(), format!("expected a list of objects, found {}", json_kind(v))),
        },
        Hashes => match v.as_object() {
            Some(map) if map.is_empty() => ctx.err(path(), "must not be empty"),
            Some(map) => {
                for (alg, h) in map {
                    let p = || format!("{}.{alg}", path());
                    let Some(h) = h.as_str() else {
                        ctx.err(p(), format!("expected a hash string, found {}", json_kind(h)));
                        continue;
                    };
                    let want = match alg.as_str() {
                        "MD5" => Some(32),
                        "SHA-1" => Some(40),
                        "SHA-256" | "SHA3-256" => Some(64),
                        "SHA-512" | "SHA3-512" => Some(128),
                        _ => None,
                    };
                    if let Some(n) = want
                        && (h.len() != n || !h.bytes().all(|b| b.is_ascii_hexdigit()))
                    {
                        ctx.err(p(), format!("expected {n} hexadecimal digits"));
                    }
                }
            }
            None => ctx.err(path(), format!("expected a hashes dictionary, found {}", json_kind(v))),
        },
    }
}

/// Validates one STIX object.
pub fn validate(map: &Map<String, Value>) -> Result<Checked, Vec<Invalid>> {
    let raw_id = map.get("id").and_then(Value::as_str);
    let mut ctx = Ctx { id: raw_id, errors: Vec::new() };

    let ty = match map.get("type") {
        Some(Value::String(t)) if crate::id::is_type_name(t) => Some(t.as_str()),
        Some(Value::String(t)) => {
            ctx.err("$.type", format!("{t:?} is not a valid STIX type name"));
            None
        }
        Some(v) => {
            ctx.err("$.type", format!("expected a string, found {}", json_kind(v)));
            None
        }
        None => {
            ctx.err("$.type", "required property is missing");
            None
        }
    };
    if ty == Some("bundle") {
        ctx.err("$.type", "a bundle cannot be nested inside a bundle");
    }

    let id = match map.get("id") {
        Some(Value::String(s)) => match StixId::parse(s) {
            Ok(id) => {
                if let Some(t) = ty
                    && id.object_type() != t
                {
                    ctx.err("$.id", format!("the id's type prefix {:?} does not match type {t:?}", id.object_type()));
                }
                Some(id)
            }
            Err(e) => {
                ctx.err("$.id", format!("{s:?} is not a STIX identifier: {e}"));
                None
            }
        },
        Some(v) => {
            ctx.err("$.id", format!("expected a string, found {}", json_kind(v)));
            None
        }
        None => {
            ctx.err("$.id", "required property is missing");
            None
        }
    };

    let Some(ty) = ty else { return Err(ctx.errors) };
    let family = family_of(ty, map);

    match map.get("spec_version") {
        Some(Value::String(v)) if v == "2.1" => {}
        Some(Value::String(v)) => {
            ctx.err("$.spec_version", format!("{v:?} is not supported; dossier accepts STIX 2.1 only"))
        }
        Some(v) => ctx.err("$.spec_version", format!("expected the string \"2.1\", found {}", json_kind(v))),
        None if family != Family::Sco => ctx.err("$.spec_version", "required property is missing"),
        None => {}
    }

    // A type defined by an extension follows that extension's schema: dossier's own rules for
    // phone-number and cryptocurrency-wallet apply only to the community definition.
    let foreign_schema = crate::extension::for_sco_type(ty).is_some_and(|known| {
        map.get("extensions")
            .and_then(Value::as_object)
            .is_some_and(|e| e.keys().any(|k| k.starts_with("extension-definition--") && k != known))
    });
    let (required, props) = if foreign_schema { (&[][..], &[][..]) } else { type_props(ty) };
    let common: &[(&str, Kind)] = match family {
        Family::Sdo | Family::Sro => SDO_COMMON,
        Family::Meta if ty == "extension-definition" || ty == "language-content" => SDO_COMMON,
        Family::Meta => &[],
        Family::Sco => SCO_COMMON,
    };
    let mut req: Vec<&str> = required.to_vec();
    if matches!(family, Family::Sdo | Family::Sro) || ty == "extension-definition" || ty == "language-content" {
        req.extend(["created", "modified"]);
    }
    if ty == "marking-definition" {
        req.push("created");
    }
    for r in req {
        if !map.contains_key(r) {
            ctx.err(format!("$.{r}"), "required property is missing");
        }
    }
    if ty == "file"
        && let Some(h) = map.get("x_dossier_phash")
        && !h.as_str().is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        ctx.err("$.x_dossier_phash", "a photo's perceptual hash is 16 hexadecimal digits (dossier photo-hash)");
    }
    if ty == "x-dossier-identity-document" {
        if let Some(h) = map.get("number_hmac").and_then(Value::as_str)
            && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            ctx.err(
                "$.number_hmac",
                "must be the 64-hex HMAC of TYPE:COUNTRY:NUMBER under the ISAC's key, never the number",
            );
        }
        for raw in ["number", "document_number", "value"] {
            if map.contains_key(raw) {
                ctx.err(format!("$.{raw}"), "an identity document's number is kept only as number_hmac");
            }
        }
    }
    if ty == "bank-account" && !foreign_schema && !map.contains_key("iban") && !map.contains_key("account_number") {
        ctx.err("$.iban", "a bank-account needs at least one of iban and account_number");
    }

    for (name, value) in map {
        let path = || format!("$.{name}");
        if matches!(name.as_str(), "type" | "id" | "spec_version") {
            continue;
        }
        let kind = props.iter().chain(common.iter()).find(|(n, _)| n == name).map(|(_, k)| *k);
        match kind {
            Some(k) => check_kind(&mut ctx, &path, value, k),
            None if name.ends_with("_ref") => check_ref(&mut ctx, &path, value, Target::Any),
            None if name.ends_with("_refs") => check_kind(&mut ctx, &path, value, RefList(Target::Any)),
            None => {}
        }
    }

    if let Some(refs) = map.get("external_references").and_then(Value::as_array) {
        for (i, r) in refs.iter().enumerate() {
            if let Some(r) = r.as_object()
                && !r.get("source_name").is_some_and(Value::is_string)
            {
                ctx.err(format!("$.external_references[{i}].source_name"), "required string property is missing");
            }
        }
    }
    if let Some(gms) = map.get("granular_markings").and_then(Value::as_array) {
        for (i, gm) in gms.iter().enumerate() {
            let Some(gm) = gm.as_object() else { continue };
            match gm.get("selectors").and_then(Value::as_array) {
                Some(s) if !s.is_empty() => {}
                _ => ctx.err(format!("$.granular_markings[{i}].selectors"), "must be a non-empty list of selectors"),
            }
            match gm.get("marking_ref") {
                Some(m) => check_ref(
                    &mut ctx,
                    &|| format!("$.granular_markings[{i}].marking_ref"),
                    m,
                    Target::Types(&["marking-definition"]),
                ),
                None if gm.contains_key("lang") => {}
                None => ctx.err(format!("$.granular_markings[{i}]"), "needs marking_ref or lang"),
            }
        }
    }
    if let Some(ext) = map.get("extensions").and_then(Value::as_object) {
        for (k, v) in ext {
            if !v.is_object() {
                ctx.err(format!("$.extensions.{k}"), format!("expected an object, found {}", json_kind(v)));
            }
            if k.starts_with("extension-definition--")
                && let Err(e) = StixId::parse(k)
            {
                ctx.err(format!("$.extensions.{k}"), format!("not a valid extension-definition id: {e}"));
            }
        }
    }

    // Cross-property rules.
    let ts = |name: &str| map.get(name).and_then(Value::as_str).and_then(|s| Timestamp::parse(s).ok());
    for (early, late, strict) in [
        ("created", "modified", false),
        ("first_seen", "last_seen", false),
        ("valid_from", "valid_until", true),
        ("first_observed", "last_observed", false),
        ("start_time", "stop_time", false),
    ] {
        if let (Some(a), Some(b)) = (ts(early), ts(late))
            && (b < a || (strict && b == a))
        {
            let rel = if strict { "later than" } else { "later than or equal to" };
            ctx.err(format!("$.{late}"), format!("must be {rel} {early} ({a})"));
        }
    }
    match ty {
        "location" => {
            let has = |k: &str| map.contains_key(k);
            if !(has("region") || has("country") || (has("latitude") && has("longitude"))) {
                ctx.err("$", "a location needs region, country, or latitude and longitude");
            }
            if has("latitude") != has("longitude") {
                ctx.err("$.latitude", "latitude and longitude must be given together");
            }
        }
        "file" if !map.contains_key("hashes") && !map.contains_key("name") => {
            ctx.err("$", "a file needs hashes or name");
        }
        "observed-data" if !map.contains_key("object_refs") && !map.contains_key("objects") => {
            ctx.err("$.object_refs", "required property is missing");
        }
        "marking-definition" => {
            if map.contains_key("modified") {
                ctx.err("$.modified", "marking-definitions are immutable and have no modified property");
            }
            if map.contains_key("definition") != map.contains_key("definition_type") {
                ctx.err("$.definition", "definition and definition_type must be given together");
            }
            if !map.contains_key("definition") && !map.contains_key("extensions") {
                ctx.err("$.definition", "needs definition and definition_type, or extensions");
            }
            if let Some(id) = &id
                && let Some(fixed) = tlp::fixed_marking(id.as_str())
            {
                match tlp::claimed_level(map) {
                    Some(level) if level == fixed.level => {}
                    _ => ctx.err(
                        "$",
                        format!(
                            "{} is the fixed TLP:{} marking and cannot be redefined",
                            fixed.id,
                            fixed.level.as_str().to_uppercase()
                        ),
                    ),
                }
            }
        }
        _ => {}
    }
    if !ctx.errors.is_empty() {
        return Err(ctx.errors);
    }
    let version = match family {
        Family::Sco => None,
        _ => ts("modified").or_else(|| ts("created")),
    };
    let id = id.ok_or_else(Vec::new)?;
    Ok(Checked { id, family, version })
}
