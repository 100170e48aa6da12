//! Preparing a stored object for the index: parse what the index reads from its JSON (by a
//! fast path for the flat objects that make up most of a store, else by serde), normalise
//! its identifiers into key hashes and note what it ties together. Preparing needs no
//! access to the index, so a bulk load prepares on several threads and applies on one.

use super::*;

/// The fields the index reads, borrowed from the object's JSON.
#[derive(Deserialize, Default)]
struct Fields<'a> {
    #[serde(borrow, default)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    identity_class: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    labels: Vec<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    x_dossier_stolen_identity: Option<bool>,
    #[serde(default)]
    revoked: Option<bool>,
    #[serde(borrow, default)]
    source_ref: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    target_ref: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    value: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    account_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    account_login: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    user_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    hashes: Option<HashMap<std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>>>,
    #[serde(borrow, default)]
    content: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    object_refs: Vec<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    sighting_of_ref: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    iban: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    account_number: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    x_dossier_bank_code: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    country: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    x_dossier_phash: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    number_hmac: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    street_address: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    postal_code: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    city: Option<std::borrow::Cow<'a, str>>,
}

/// A normalised identifier reduced to what the index keeps: its key hash, flags, and for a
/// phone number the calling-code bucket it counts towards (hashing here, on the preparing
/// threads, keeps the single applying thread short).
#[derive(Clone)]
pub(super) struct PreparedKey {
    pub(super) hash: u64,
    pub(super) flags: u8,
    pub(super) phone_bucket: Option<u16>,
}

impl PreparedKey {
    fn new(kind: KeyKind, canonical: &str, flags: u8) -> Self {
        // A guessed reading of a stored number counts towards no country: the number is
        // one, and which country it is in is not known.
        let phone_bucket = (kind == KeyKind::Phone && flags & GUESSED == 0)
            .then(|| super::super::score::phone_bucket(canonical) as u16);
        Self { hash: key_hash(kind, canonical), flags, phone_bucket }
    }
}

/// An object prepared for the index: parsed and normalised, ready to apply. Preparing is
/// the costly part and needs no access to the index, so a bulk load can prepare on several
/// threads and apply on one.
#[derive(Clone)]
pub struct Prepared {
    pub(super) ty: Ty,
    pub(super) uuid: u128,
    pub(super) access: Access,
    pub(super) body: Body,
}

#[derive(Clone)]
pub(super) enum Body {
    /// Revoked, or nothing the index uses: remove any older version.
    Gone,
    Actor {
        name: String,
    },
    Identity {
        name: String,
        flags: u8,
        /// The hash of the folded name, for individuals.
        name_key: Option<u64>,
        /// The hashes of its folded parts, each once (for how common they are).
        parts: SmallVec<[u64; 4]>,
    },
    Identifier {
        keys: SmallVec<[PreparedKey; 1]>,
        ranges: Vec<ip::Net>,
        /// A profile photo's perceptual hash (`x_dossier_phash` of a `file`).
        photo: Option<u64>,
    },
    /// A note (with a resume signature when its text makes one) or a sighting, and the
    /// actors and identities it is about.
    Note {
        sig: Option<Box<Signature>>,
        refs: Vec<(Ty, u128)>,
    },
    Rel {
        src: (Ty, u128),
        dst: (Ty, u128),
    },
}

/// The keyed hashes of a folded name's parts, each once.
pub(in crate::screen) fn part_hashes(tokens: &[String]) -> SmallVec<[u64; 4]> {
    let mut out: SmallVec<[u64; 4]> = tokens.iter().map(|t| key_hash(KeyKind::Name, t)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn is_stolen(f: &Fields<'_>) -> bool {
    f.x_dossier_stolen_identity == Some(true)
        || f.labels
            .iter()
            .any(|l| matches!(l.as_ref(), "stolen-identity" | "stolen_identity" | "identity-theft-victim" | "stolen"))
}

/// The SHA-256 of a `hashes` dictionary, lower-case hex.
fn sha256_of(hashes: &HashMap<std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>>) -> Option<String> {
    hashes.iter().find_map(|(k, v)| {
        let k = k.to_ascii_uppercase().replace('-', "");
        (k == "SHA256" && v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
    })
}

/// The normalised key of a stored account.
fn account_keys(f: &Fields<'_>) -> Vec<(KeyKind, String, u8)> {
    let mut out = Vec::new();
    let Some(platform) = f.account_type.as_deref() else {
        return out;
    };
    for v in [f.account_login.as_deref(), f.user_id.as_deref()].into_iter().flatten() {
        let parsed = if v.contains('/') { account::from_url(v) } else { account::from_handle(platform, v) };
        if let Ok(a) = parsed {
            let flag = if a.kind == account::Kind::Id { ACCOUNT_ID } else { 0 };
            let key = (KeyKind::Account, a.key(), flag);
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    out
}

/// The `value` of an identifier read straight from its JSON: the key occurs once, the value
/// has no escapes, and there is no `revoked` property (see [`quick_rel`]).
pub(super) fn quick_value(json: &str) -> Option<&str> {
    use memchr::memmem::Finder;
    static FINDERS: std::sync::OnceLock<[Finder<'static>; 2]> = std::sync::OnceLock::new();
    let [value, revoked] = FINDERS.get_or_init(|| [Finder::new(b"\"value\""), Finder::new(b"\"revoked\"")]);
    if revoked.find(json.as_bytes()).is_some() {
        return None;
    }
    quick_flat(json, value)?
}

/// The endpoints of a relationship read straight from its JSON, without parsing it: each
/// key occurs exactly once, as `"key":"`, and there is no `revoked` property. A raw `"` cannot
/// occur inside a JSON string, so a single match is the object's own property (a relationship
/// always has both at its top level); anything else is left to the parser.
/// A key preceded by a backslash is declined too (see [`escaped_quote`]).
pub(super) fn quick_rel(json: &str) -> Option<(&str, &str)> {
    use memchr::memmem::Finder;
    static FINDERS: std::sync::OnceLock<[Finder<'static>; 3]> = std::sync::OnceLock::new();
    let [source, target, revoked] = FINDERS
        .get_or_init(|| [Finder::new(b"\"source_ref\""), Finder::new(b"\"target_ref\""), Finder::new(b"\"revoked\"")]);
    if revoked.find(json.as_bytes()).is_some() {
        return None;
    }
    Some((quick_flat(json, source)??, quick_flat(json, target)??))
}

/// Whether the `"` at `at` may be an escaped one (inside a string, so not a key's start):
/// any backslash before it counts, which also declines the rare `\\"` that ends a string.
fn escaped_quote(bytes: &[u8], at: usize) -> bool {
    at > 0 && bytes[at - 1] == b'\\'
}

/// The string value of `key` (the quoted name): `Some(None)` when it does not occur,
/// `Some(Some(v))` when it occurs once, not after a backslash, followed by `:"` and a string
/// without escapes; `None` (ask the parser) otherwise — say when the key text is also some
/// value. Whether that one occurrence is a top-level key is for the caller to know (the
/// property is required at the top level, or the object is flat).
fn quick_flat<'a>(json: &'a str, key: &memchr::memmem::Finder<'_>) -> Option<Option<&'a str>> {
    let bytes = json.as_bytes();
    let Some(at) = key.find(bytes) else { return Some(None) };
    if escaped_quote(bytes, at) {
        return None;
    }
    let at = at + key.needle().len();
    if key.find(&bytes[at..]).is_some() {
        return None;
    }
    let start = bytes.len() - bytes[at..].strip_prefix(b":\"")?.len();
    let end = start + memchr::memchr(b'"', &bytes[start..])?;
    let value = json.get(start..end)?;
    (!value.contains('\\')).then_some(Some(value))
}

/// `account_type`, `account_login` and `user_id` of a user-account read straight from its
/// JSON when the object is flat (no `{` after the first: every key is then a top-level
/// one) and has no `revoked` property; anything else is left to the parser.
pub(super) fn quick_account(json: &str) -> Option<[Option<&str>; 3]> {
    use memchr::memmem::Finder;
    static FINDERS: std::sync::OnceLock<[Finder<'static>; 4]> = std::sync::OnceLock::new();
    let [ty, login, id, revoked] = FINDERS.get_or_init(|| {
        [
            Finder::new(b"\"account_type\""),
            Finder::new(b"\"account_login\""),
            Finder::new(b"\"user_id\""),
            Finder::new(b"\"revoked\""),
        ]
    });
    let bytes = json.as_bytes();
    if bytes.first() != Some(&b'{') || memchr::memchr(b'{', &bytes[1..]).is_some() || revoked.find(bytes).is_some() {
        return None;
    }
    Some([quick_flat(json, ty)?, quick_flat(json, login)?, quick_flat(json, id)?])
}

/// Readings of one stored phone number kept at most.
const MAX_READINGS: usize = 6;

/// A relationship between two objects the index keeps (a relationship about a relationship
/// ties nothing).
fn rel_body(src: Option<&str>, dst: Option<&str>) -> Body {
    match (src.and_then(parse_id), dst.and_then(parse_id)) {
        (Some(s), Some(d)) if s.0 != Ty::Relationship && d.0 != Ty::Relationship => Body::Rel { src: s, dst: d },
        _ => Body::Gone,
    }
}

/// The keys of an identifier SCO.
fn identifier_body(ty: Ty, f: &Fields<'_>) -> Body {
    match ty {
        Ty::UserAccount => {
            let keys = account_keys(f).into_iter().map(|(kind, c, flags)| PreparedKey::new(kind, &c, flags)).collect();
            Body::Identifier { keys, ranges: Vec::new(), photo: None }
        }
        Ty::File => {
            let keys = f
                .hashes
                .as_ref()
                .and_then(sha256_of)
                .map(|h| PreparedKey::new(KeyKind::Document, &h, 0))
                .into_iter()
                .collect();
            let photo = f.x_dossier_phash.as_deref().and_then(|h| photo::PhotoHash::parse(h).ok()).map(|h| h.0);
            Body::Identifier { keys, ranges: Vec::new(), photo }
        }
        Ty::BankAccount => {
            let parts = bank::Parts {
                iban: f.iban.as_deref().map(str::to_owned),
                account_number: f.account_number.as_deref().map(str::to_owned),
                bank_code: f.x_dossier_bank_code.as_deref().map(str::to_owned),
                country: f.country.as_deref().map(str::to_owned),
            };
            // Every reading is a key: the IBAN, the national form, the number alone.
            let keys = bank::keys(&parts)
                .unwrap_or_default()
                .into_iter()
                .map(|k| PreparedKey::new(KeyKind::Bank, &k.key, 0))
                .collect();
            Body::Identifier { keys, ranges: Vec::new(), photo: None }
        }
        Ty::IdDocument => {
            // Only the keyed hash is kept; it is the key as it stands.
            let keys = f
                .number_hmac
                .as_deref()
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(|h| PreparedKey::new(KeyKind::IdDocument, &h.to_ascii_lowercase(), 0))
                .into_iter()
                .collect();
            Body::Identifier { keys, ranges: Vec::new(), photo: None }
        }
        Ty::Location => {
            // A location without a street (a country, a city) is no one's address: the index
            // keeps nothing of it.
            let Some(street) = f.street_address.as_deref().filter(|s| !s.trim().is_empty()) else {
                return Body::Gone;
            };
            // The unit and the building, under each locality known.
            let keys = address::from_parts(street, f.postal_code.as_deref(), f.city.as_deref())
                .map(|a| a.unit_keys.into_iter().chain(a.building_keys).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .map(|k| PreparedKey::new(KeyKind::Address, &k, 0))
                .collect();
            Body::Identifier { keys, ranges: Vec::new(), photo: None }
        }
        _ => value_body(ty, f.value.as_deref().unwrap_or_default()),
    }
}

/// The keys of an identifier SCO known by its `value` alone.
fn value_body(ty: Ty, value: &str) -> Body {
    let mut keys = Vec::new();
    let mut ranges = Vec::new();
    match ty {
        Ty::EmailAddr => {
            if let Ok(e) = email::normalize(value) {
                keys.push((KeyKind::Email, e.canonical, 0));
            }
        }
        Ty::PhoneNumber => {
            // Stored numbers are E.164 nearly always: the quick reading gives the
            // key without the numbering plan. Whether a number is VoIP or
            // toll-free is read from the applicant's side on a hit (it is the
            // same number).
            let key =
                phone::quick_e164(value, None).or_else(|| phone::normalize(value, None).ok().map(|p| p.canonical));
            if let Some(k) = key {
                keys.push((KeyKind::Phone, k, 0));
            } else {
                // Shared in whatever format the member had: without `+`, or national with
                // a trunk prefix. Every valid reading is a key (at most a few).
                for p in phone::readings(value, None).into_iter().take(MAX_READINGS) {
                    keys.push((KeyKind::Phone, p.canonical, GUESSED));
                }
            }
        }
        Ty::Wallet => match wallet::parse(value) {
            Ok(w) => keys.push((KeyKind::Wallet, w.canonical, 0)),
            // An address format dossier does not know (Solana, Monero …) is still
            // matched, exactly as written.
            Err(wallet::WalletError::Unrecognised) if !value.trim().is_empty() => {
                keys.push((KeyKind::Wallet, value.trim().to_owned(), 0));
            }
            Err(_) => {}
        },
        Ty::Url => {
            if let Ok(a) = account::from_url(value) {
                let flag = if a.kind == account::Kind::Id { ACCOUNT_ID } else { 0 };
                keys.push((KeyKind::Account, a.key(), flag));
            } else if let Ok(site) = website::key(value) {
                // Not a profile on a platform: a personal website or portfolio.
                keys.push((KeyKind::Website, site, 0));
            }
        }
        Ty::DomainName => {
            if let Ok(site) = website::key(value) {
                keys.push((KeyKind::Website, site, 0));
            }
        }
        Ty::Ipv4 | Ty::Ipv6 => {
            if let Ok(n) = ip::normalize(value) {
                if n.is_single() {
                    keys.push((KeyKind::Ip, n.canonical(), 0));
                } else {
                    ranges.push(n);
                }
            }
        }
        _ => {}
    }
    let keys = keys.into_iter().map(|(kind, canonical, flags)| PreparedKey::new(kind, &canonical, flags)).collect();
    Body::Identifier { keys, ranges, photo: None }
}

/// Prepares a stored object version (its compact JSON) for the index. `None` when the type is
/// not one the index keeps.
pub fn prepare(id: &str, json: &str, access: Access) -> Option<Prepared> {
    let (ty, uuid) = parse_id(id)?;
    // Identifiers whose only property used is `value`: read it straight from the JSON when
    // that is unambiguous (see `quick_value`).
    if matches!(ty, Ty::EmailAddr | Ty::PhoneNumber | Ty::Wallet | Ty::Ipv4 | Ty::Ipv6 | Ty::DomainName)
        && let Some(value) = quick_value(json)
    {
        return Some(Prepared { ty, uuid, access, body: value_body(ty, value) });
    }
    // Accounts (a sixth of all objects) likewise, when the object is flat.
    if ty == Ty::UserAccount
        && let Some([account_type, account_login, user_id]) = quick_account(json)
    {
        let f = Fields {
            account_type: account_type.map(Into::into),
            account_login: account_login.map(Into::into),
            user_id: user_id.map(Into::into),
            ..Fields::default()
        };
        return Some(Prepared { ty, uuid, access, body: identifier_body(ty, &f) });
    }
    // Relationships (half of all objects): their endpoints likewise; the parser below is
    // the fallback for anything the fast path declines.
    if ty == Ty::Relationship
        && let Some((src, dst)) = quick_rel(json)
    {
        return Some(Prepared { ty, uuid, access, body: rel_body(Some(src), Some(dst)) });
    }
    let f: Fields<'_> = serde_json::from_str(json).unwrap_or_default();
    let body = if f.revoked == Some(true) {
        Body::Gone
    } else {
        match ty {
            Ty::ThreatActor => Body::Actor { name: f.name.as_deref().unwrap_or_default().to_owned() },
            Ty::Identity => {
                let mut flags = 0;
                if is_stolen(&f) {
                    flags |= STOLEN;
                }
                if matches!(f.identity_class.as_deref(), None | Some("individual")) {
                    flags |= INDIVIDUAL;
                }
                let name = f.name.as_deref().unwrap_or_default().to_owned();
                let folded = if flags & INDIVIDUAL != 0 { name::normalize(&name) } else { None };
                let name_key = folded.as_ref().map(|f| key_hash(KeyKind::Name, &f.key));
                let parts = folded.as_ref().map(|f| part_hashes(&f.tokens)).unwrap_or_default();
                Body::Identity { name, flags, name_key, parts }
            }
            Ty::Relationship => rel_body(f.source_ref.as_deref(), f.target_ref.as_deref()),
            Ty::Note => {
                let refs: Vec<(Ty, u128)> = f
                    .object_refs
                    .iter()
                    .filter_map(|r| parse_id(r))
                    .filter(|(t, _)| matches!(t, Ty::Identity | Ty::ThreatActor))
                    .collect();
                if refs.is_empty() {
                    Body::Gone
                } else {
                    Body::Note { sig: f.content.as_deref().and_then(resume::signature).map(Box::new), refs }
                }
            }
            Ty::Sighting => {
                let refs: Vec<(Ty, u128)> = f
                    .sighting_of_ref
                    .as_deref()
                    .and_then(parse_id)
                    .filter(|(t, _)| matches!(t, Ty::Identity | Ty::ThreatActor))
                    .into_iter()
                    .collect();
                if refs.is_empty() { Body::Gone } else { Body::Note { sig: None, refs } }
            }
            _ => identifier_body(ty, &f),
        }
    };
    Some(Prepared { ty, uuid, access, body })
}
