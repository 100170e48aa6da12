//! The screening index: the parts of the STIX graph screening needs, in memory.
//!
//! Nodes are threat actors, identities (personas and stolen real identities), identifier
//! SCOs and resume notes; edges are relationships (any type, either direction) and a note's
//! `object_refs`. Identifier keys, folded names and resume LSH bands point at nodes. The
//! graph is resolved at query time, so objects may arrive in any order (a relationship before
//! its endpoints) and a change to one object never requires rebuilding others.
//!
//! Memory is kept small for millions of objects: ids are stored as (type, UUID), access facts
//! are interned (most objects share a handful), and key postings are chained through the
//! nodes instead of one vector per key.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

use serde::Deserialize;
use smallvec::SmallVec;

use dossier_stix::Viewer;

use super::Access;
use super::ids::{IdTable, KeyTable, Keyed};
use crate::normalize::{account, bank, email, ip, name, phone, website};
use crate::photo;
use crate::resume::{self, Signature};
use crate::wallet;

type Fast = foldhash::fast::FixedState;
const NONE: u32 = u32::MAX;
/// The edge of a note to an object it refers to (not a relationship).
pub(crate) const NOTE_REF: u32 = u32::MAX - 1;

/// Object types the index keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Ty {
    ThreatActor,
    Identity,
    EmailAddr,
    PhoneNumber,
    Wallet,
    UserAccount,
    Url,
    Ipv4,
    Ipv6,
    File,
    Note,
    Relationship,
    /// A sighting of a persona or actor ("this persona applied to us"): kept for the graph
    /// and the pages, like a note without a resume signature.
    Sighting,
    BankAccount,
    DomainName,
}

impl Ty {
    pub fn parse(s: &str) -> Option<Ty> {
        Some(match s {
            "threat-actor" => Ty::ThreatActor,
            "identity" => Ty::Identity,
            "email-addr" => Ty::EmailAddr,
            "phone-number" => Ty::PhoneNumber,
            "cryptocurrency-wallet" => Ty::Wallet,
            "user-account" => Ty::UserAccount,
            "url" => Ty::Url,
            "ipv4-addr" => Ty::Ipv4,
            "ipv6-addr" => Ty::Ipv6,
            "file" => Ty::File,
            "note" => Ty::Note,
            "relationship" => Ty::Relationship,
            "sighting" => Ty::Sighting,
            "bank-account" => Ty::BankAccount,
            "domain-name" => Ty::DomainName,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Ty::ThreatActor => "threat-actor",
            Ty::Identity => "identity",
            Ty::EmailAddr => "email-addr",
            Ty::PhoneNumber => "phone-number",
            Ty::Wallet => "cryptocurrency-wallet",
            Ty::UserAccount => "user-account",
            Ty::Url => "url",
            Ty::Ipv4 => "ipv4-addr",
            Ty::Ipv6 => "ipv6-addr",
            Ty::File => "file",
            Ty::Note => "note",
            Ty::Relationship => "relationship",
            Ty::Sighting => "sighting",
            Ty::BankAccount => "bank-account",
            Ty::DomainName => "domain-name",
        }
    }
}

/// The STIX types the index keeps (everything else is ignored).
pub const INDEXED_TYPES: &[&str] = &[
    "threat-actor",
    "identity",
    "email-addr",
    "phone-number",
    "cryptocurrency-wallet",
    "user-account",
    "url",
    "ipv4-addr",
    "ipv6-addr",
    "file",
    "note",
    "relationship",
    "sighting",
    "bank-account",
    "domain-name",
];

/// Which normalised key space a value lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KeyKind {
    Email,
    Phone,
    Wallet,
    Account,
    Ip,
    Document,
    Name,
    Bank,
    Website,
}

/// Parses `type--uuid` into (type, UUID bits). The UUID is in its hyphenated form (as
/// the store requires of every id), in either case.
pub fn parse_id(id: &str) -> Option<(Ty, u128)> {
    // The UUID is the last 36 characters; the type ends two dashes before it.
    let cut = id.len().checked_sub(36)?;
    let (head, uuid) = (id.get(..cut)?, id.as_bytes().get(cut..)?);
    let ty = head.strip_suffix("--")?;
    let ty = Ty::parse(ty)?;
    // Run for every object and both ends of every relationship while the index is built:
    // the digits sit at fixed places, so this is a straight run of table lookups with no
    // branch per character (a bad digit sets a high bit in `bad`).
    const BAD: u8 = 0xf0;
    static DIGIT: [u8; 256] = {
        let mut t = [BAD; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };
    let uuid: &[u8; 36] = uuid.try_into().ok()?;
    if uuid[8] != b'-' || uuid[13] != b'-' || uuid[18] != b'-' || uuid[23] != b'-' {
        return None;
    }
    fn read(acc: u64, digits: &[u8], bad: &mut u8) -> u64 {
        let mut acc = acc;
        for &b in digits {
            let d = DIGIT[usize::from(b)];
            *bad |= d;
            acc = (acc << 4) | u64::from(d);
        }
        acc
    }
    let mut bad = 0u8;
    // xxxxxxxx-xxxx-xxxx | -xxxx-xxxxxxxxxxxx: sixteen digits on each side.
    let hi = read(read(read(0, &uuid[0..8], &mut bad), &uuid[9..13], &mut bad), &uuid[14..18], &mut bad);
    let lo = read(read(0, &uuid[19..23], &mut bad), &uuid[24..36], &mut bad);
    (bad & BAD == 0).then_some((ty, (u128::from(hi) << 64) | u128::from(lo)))
}

/// Formats an id back.
pub fn format_id(ty: Ty, uuid: u128) -> String {
    // Written digit by digit: ids are formatted for every piece of evidence and persona.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let prefix = ty.as_str();
    let mut out = String::with_capacity(prefix.len() + 2 + 36);
    out.push_str(prefix);
    out.push_str("--");
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(char::from(HEX[((uuid >> (124 - 4 * i)) & 0xf) as usize]));
    }
    out
}

pub(crate) const ALIVE: u8 = 1;
pub(crate) const STOLEN: u8 = 2;
pub(crate) const INDIVIDUAL: u8 = 4;
pub(crate) const ACCOUNT_ID: u8 = 16;
/// A second node of one object, holding its second key.
pub(crate) const IS_TWIN: u8 = 32;
/// An identifier whose value could not be normalised (counted in the stats).
pub(crate) const UNUSABLE: u8 = 8;
/// A phone number stored without its country code: indexed under each reading where it is
/// valid, each weighed down by the ambiguity.
pub(crate) const GUESSED: u8 = 64;
/// A profile photo's node: its `key` is the perceptual hash, compared by Hamming distance
/// through [`Index::photo_candidates`], not chained in the key table.
pub(crate) const PHOTO: u8 = 128;

/// One object. 64 bytes: names live in a side table, identifiers are kept by their key hash
/// only (the caller's own normalised value is what an explanation shows), and up to two
/// edges are stored inline.
pub(crate) struct Node {
    pub uuid: [u64; 2],
    /// The key hash of an identifier or of a folded name (0 when none).
    pub key: u64,
    pub access: u32,
    /// The next node with the same key hash (a chain through the nodes).
    pub next: u32,
    /// A slot in `names` (actors, identities) or `sigs` (resume notes).
    pub aux: u32,
    pub ty: Ty,
    pub flags: u8,
    pub edges: SmallVec<[Edge; 2]>,
}

impl Node {
    pub fn alive(&self) -> bool {
        self.flags & ALIVE != 0
    }
    /// The node holding this object's edges (itself, unless it is a twin).
    pub fn primary(&self, me: u32) -> u32 {
        if self.flags & IS_TWIN != 0 { self.edges.first().map_or(me, |e| e.other) } else { me }
    }
    pub fn id(&self) -> String {
        format_id(self.ty, (u128::from(self.uuid[0]) << 64) | u128::from(self.uuid[1]))
    }
}

fn split(uuid: u128) -> [u64; 2] {
    [(uuid >> 64) as u64, uuid as u64]
}

/// The UUID of each relationship, by number.
#[derive(Default)]
struct RelUuids(Vec<[u64; 2]>);

impl Keyed for RelUuids {
    fn key(&self, r: u32) -> (Ty, [u64; 2]) {
        (Ty::Relationship, self.0[r as usize])
    }
}

impl Keyed for Vec<Node> {
    fn key(&self, n: u32) -> (Ty, [u64; 2]) {
        let node = &self[n as usize];
        (node.ty, node.uuid)
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Edge {
    /// The relationship, or [`NOTE_REF`].
    pub rel: u32,
    pub other: u32,
}

pub(crate) struct Rel {
    pub access: u32,
    pub src: u32,
    pub dst: u32,
    pub alive: bool,
}

/// Sizes, for stats and benchmarks.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct IndexStats {
    pub nodes: usize,
    pub relationships: usize,
    pub keys: usize,
    pub names: usize,
    pub resumes: usize,
    pub access_facts: usize,
    /// Stored values that could not be normalised (kept as objects, never matched).
    pub unusable_values: usize,
    /// Phone numbers every member may see (what weighs a phone agreement down in a country
    /// with many stored numbers).
    pub open_phones: usize,
    /// Estimated heap bytes.
    pub approx_bytes: usize,
}

/// The screening index.
pub struct Index {
    pub(crate) nodes: Vec<Node>,
    pub(crate) rels: Vec<Rel>,
    /// (type, UUID) → node.
    ids: IdTable,
    /// Relationship UUID → relationship, and each relationship's UUID.
    rel_ids: IdTable,
    rel_uuids: RelUuids,
    /// Key hash → first node of its chain, and its length.
    keys: KeyTable,
    /// Name key hash → first identity of its chain, and its length.
    names: KeyTable,
    /// Names of actors and identities.
    pub(crate) texts: Vec<Box<str>>,
    /// Stored CIDR ranges.
    pub(crate) ranges: Vec<(ip::Net, u32)>,
    pub(crate) sigs: Vec<[u16; resume::SIGNATURE_LEN]>,
    /// Nodes holding a profile photo's perceptual hash (their `key`), scanned by Hamming
    /// distance; rebuilt from the nodes' flags when a snapshot is read.
    pub(crate) photos: Vec<u32>,
    /// LSH band (32-bit) → notes, sorted (bulk) plus a map for later additions.
    bands_sorted: Vec<(u32, u32)>,
    /// Where the bands whose top [`OFFSET_BITS`] bits are i start in `bands_sorted`
    /// (2^20 + 1 entries once built): a probe is one table read and a short search.
    band_offsets: Vec<u32>,
    bands_extra: HashMap<u32, Vec<u32>, Fast>,
    pub(crate) access: Vec<Access>,
    access_ids: HashMap<Access, u32, Fast>,
    last_access: usize,
    unusable: usize,
    /// Stored phone numbers per calling-code bucket (see `score::phone_bucket`).
    phones: Vec<u32>,
    /// Between [`Index::begin_bulk`] and [`Index::finish_bulk`]: band postings go straight
    /// into `bands_sorted`, unsorted, and are sorted once at the end.
    bulk: bool,
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn key_hash(kind: KeyKind, canonical: &str) -> u64 {
    let mut h = Fast::default().build_hasher();
    (kind as u8).hash(&mut h);
    canonical.hash(&mut h);
    h.finish()
}

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
}

/// A normalised identifier reduced to what the index keeps: its key hash, flags, and for a
/// phone number the calling-code bucket it counts towards (hashing here, on the preparing
/// threads, keeps the single applying thread short).
#[derive(Clone)]
struct PreparedKey {
    hash: u64,
    flags: u8,
    phone_bucket: Option<u16>,
}

impl PreparedKey {
    fn new(kind: KeyKind, canonical: &str, flags: u8) -> Self {
        // A guessed reading of a stored number counts towards no country: the number is
        // one, and which country it is in is not known.
        let phone_bucket =
            (kind == KeyKind::Phone && flags & GUESSED == 0).then(|| super::score::phone_bucket(canonical) as u16);
        Self { hash: key_hash(kind, canonical), flags, phone_bucket }
    }
}

/// An object prepared for the index: parsed and normalised, ready to apply. Preparing is
/// the costly part and needs no access to the index, so a bulk load can prepare on several
/// threads and apply on one.
#[derive(Clone)]
pub struct Prepared {
    ty: Ty,
    uuid: u128,
    access: Access,
    body: Body,
}

#[derive(Clone)]
enum Body {
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
fn quick_value(json: &str) -> Option<&str> {
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
fn quick_rel(json: &str) -> Option<(&str, &str)> {
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
fn quick_account(json: &str) -> Option<[Option<&str>; 3]> {
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
                let name_key = if flags & INDIVIDUAL != 0 {
                    name::normalize(&name).map(|folded| key_hash(KeyKind::Name, &folded.key))
                } else {
                    None
                };
                Body::Identity { name, flags, name_key }
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

impl Index {
    pub fn new() -> Self {
        Self {
            nodes: Vec::new(),
            rels: Vec::new(),
            ids: IdTable::default(),
            rel_ids: IdTable::default(),
            rel_uuids: RelUuids::default(),
            keys: KeyTable::default(),
            names: KeyTable::default(),
            texts: Vec::new(),
            ranges: Vec::new(),
            sigs: Vec::new(),
            photos: Vec::new(),
            bands_sorted: Vec::new(),
            band_offsets: Vec::new(),
            bands_extra: HashMap::with_hasher(Fast::default()),
            access: Vec::new(),
            access_ids: HashMap::with_hasher(Fast::default()),
            last_access: 0,
            unusable: 0,
            phones: vec![0; super::score::PHONE_BUCKETS],
            bulk: false,
        }
    }

    /// Starts a bulk load: [`Index::apply`] many objects, then [`Index::finish_bulk`]. Until
    /// then the index must not be queried.
    ///
    /// `expected` is about how many objects will come (0 when unknown): the tables are
    /// sized for it up front instead of growing by doubling and rehashing millions of
    /// entries. It is an estimate — about half of a store's objects are relationships
    /// and a third identifiers — so at most a few bytes per object are reserved in vain.
    pub fn begin_bulk(&mut self, expected: usize) {
        self.bulk = true;
        let half = expected / 2;
        self.nodes.reserve(half);
        if self.ids.len() == 0 {
            self.ids = IdTable::with_capacity(half);
        }
        self.rels.reserve(half);
        if self.rel_ids.len() == 0 {
            self.rel_ids = IdTable::with_capacity(half);
        }
        self.rel_uuids.0.reserve(half);
        if self.keys.len() == 0 {
            self.keys = KeyTable::with_capacity(expected * 3 / 8);
        }
    }

    /// The name of an actor or identity ("" for other nodes).
    pub(crate) fn label(&self, n: u32) -> &str {
        let node = &self.nodes[n as usize];
        match node.ty {
            Ty::ThreatActor | Ty::Identity if node.aux != NONE => &self.texts[node.aux as usize],
            _ => "",
        }
    }

    /// Phone numbers every member may see stored under the calling code of `e164` (never
    /// less than 1). Only those count: a member's hidden numbers must not lower the weight
    /// of what another member sees, and what every member sees is the same for all.
    pub(crate) fn phones_stored(&self, e164: &str) -> u32 {
        self.phones[super::score::phone_bucket(e164)].max(1)
    }

    /// The compact signature of a resume note.
    pub(crate) fn sig_of(&self, n: u32) -> Option<&[u16; resume::SIGNATURE_LEN]> {
        let node = &self.nodes[n as usize];
        (node.ty == Ty::Note && node.aux != NONE).then(|| &self.sigs[node.aux as usize])
    }

    fn set_text(&mut self, n: u32, text: String) {
        let aux = self.nodes[n as usize].aux;
        if aux == NONE {
            self.nodes[n as usize].aux = self.texts.len() as u32;
            self.texts.push(text.into_boxed_str());
        } else {
            self.texts[aux as usize] = text.into_boxed_str();
        }
    }

    pub(crate) fn find_node(&self, ty: Ty, uuid: u128) -> Option<u32> {
        self.find(ty, uuid)
    }

    fn find(&self, ty: Ty, uuid: u128) -> Option<u32> {
        self.ids.get(ty, split(uuid), &self.nodes)
    }

    /// Prepares and applies one object version (the newest the store holds for its id).
    pub fn upsert(&mut self, id: &str, json: &str, access: Access) {
        if let Some(p) = prepare(id, json, access) {
            self.apply(p);
        }
    }

    fn intern(&mut self, access: Access) -> u32 {
        // Objects come in runs with the same facts (one submission, one marking); most have
        // no recipients, so the cheap fields are compared first.
        if let Some(last) = self.access.get(self.last_access)
            && last.tlp == access.tlp
            && last.owner == access.owner
            && last.staff_only == access.staff_only
            && last.confidence == access.confidence
            && (last.recipients.is_empty() && access.recipients.is_empty() || last.recipients == access.recipients)
        {
            return self.last_access as u32;
        }
        if let Some(i) = self.access_ids.get(&access) {
            self.last_access = *i as usize;
            return *i;
        }
        let i = self.access.len() as u32;
        self.access.push(access.clone());
        self.access_ids.insert(access, i);
        self.last_access = i as usize;
        i
    }

    fn blank(ty: Ty, uuid: u128) -> Node {
        Node { uuid: split(uuid), key: 0, access: 0, next: NONE, aux: NONE, ty, flags: 0, edges: SmallVec::new() }
    }

    /// The node for (type, uuid), created as a placeholder when unknown.
    fn node(&mut self, ty: Ty, uuid: u128) -> u32 {
        if let Some(n) = self.find(ty, uuid) {
            return n;
        }
        let n = self.nodes.len() as u32;
        self.nodes.push(Self::blank(ty, uuid));
        self.ids.insert(ty, split(uuid), n, &self.nodes);
        n
    }

    /// Applies prepared objects in order, as [`Index::apply`] one by one would, but faster
    /// in bulk: applying is bound by cache misses in the id and key tables (a random place
    /// per object, per relationship end and per identifier key), so the places the next 16
    /// objects will look up are read first, with nothing depending on what is read, and the
    /// processor waits for those misses together rather than one after another.
    pub fn apply_all(&mut self, batch: Vec<Prepared>) {
        const AHEAD: usize = 16;
        let mut batch = batch.into_iter();
        loop {
            let window: SmallVec<[Prepared; AHEAD]> = batch.by_ref().take(AHEAD).collect();
            if window.is_empty() {
                return;
            }
            let mut touched = 0u64;
            for p in &window {
                match &p.body {
                    Body::Rel { src, dst } => {
                        touched ^= self.rel_ids.touch(Ty::Relationship, split(p.uuid))
                            ^ self.ids.touch(src.0, split(src.1))
                            ^ self.ids.touch(dst.0, split(dst.1));
                    }
                    Body::Identifier { keys, .. } => {
                        touched ^= self.ids.touch(p.ty, split(p.uuid));
                        for k in keys {
                            touched ^= self.keys.touch(k.hash);
                        }
                    }
                    _ => touched ^= self.ids.touch(p.ty, split(p.uuid)),
                }
            }
            std::hint::black_box(touched);
            for p in window {
                self.apply(p);
            }
        }
    }

    /// Applies a prepared object: it replaces whatever the index held for its id.
    pub fn apply(&mut self, p: Prepared) {
        let access = self.intern(p.access);
        if p.ty == Ty::Relationship {
            let existing = self.rel_ids.get(Ty::Relationship, split(p.uuid), &self.rel_uuids);
            if let Some(r) = existing {
                self.unlink_rel(r);
            }
            if let Body::Rel { src, dst } = p.body {
                let s = self.node(src.0, src.1);
                let d = self.node(dst.0, dst.1);
                let r = match existing {
                    Some(r) => r,
                    None => {
                        self.rels.push(Rel { access, src: s, dst: d, alive: false });
                        self.rel_uuids.0.push(split(p.uuid));
                        let r = (self.rels.len() - 1) as u32;
                        self.rel_ids.insert(Ty::Relationship, split(p.uuid), r, &self.rel_uuids);
                        r
                    }
                };
                self.rels[r as usize] = Rel { access, src: s, dst: d, alive: true };
                self.nodes[s as usize].edges.push(Edge { rel: r, other: d });
                self.nodes[d as usize].edges.push(Edge { rel: r, other: s });
            }
            return;
        }
        let n = self.node(p.ty, p.uuid);
        self.clear_node(n);
        let node_access = access;
        match p.body {
            Body::Gone => return,
            Body::Actor { name } => self.set_text(n, name),
            Body::Identity { name, flags, name_key } => {
                if let Some(h) = name_key {
                    let head = push_chain(&mut self.names, h, n);
                    let node = &mut self.nodes[n as usize];
                    node.next = head;
                    node.key = h;
                }
                self.set_text(n, name);
                self.nodes[n as usize].flags |= flags;
            }
            Body::Identifier { keys, ranges, photo } => {
                if keys.is_empty() && ranges.is_empty() && photo.is_none() {
                    self.unusable += 1;
                    self.nodes[n as usize].flags |= UNUSABLE;
                }
                let open = self.access[access as usize].open();
                let n_keys = keys.len();
                // One key per node keeps the chain simple; a second key (an account with
                // both a login and an id) is chained through a twin node.
                for (i, PreparedKey { hash: h, flags, phone_bucket }) in keys.into_iter().enumerate() {
                    let target = if i == 0 { n } else { self.twin(n, i - 1) };
                    if let Some(b) = phone_bucket
                        && open
                    {
                        self.phones[usize::from(b)] += 1;
                        self.nodes[target as usize].aux = u32::from(b);
                    }
                    let head = push_chain(&mut self.keys, h, target);
                    let node = &mut self.nodes[target as usize];
                    node.next = head;
                    node.key = h;
                    // A node chained under a key is no photo (an earlier version's photo
                    // may have sat here).
                    node.flags = (node.flags & !PHOTO) | flags | ALIVE;
                    node.access = node_access;
                }
                for net in ranges {
                    self.ranges.push((net, n));
                }
                // A photo's hash sits on its own node (after the keys), listed for the
                // Hamming-distance scan.
                if let Some(h) = photo {
                    let target = if n_keys == 0 { n } else { self.twin(n, n_keys - 1) };
                    let node = &mut self.nodes[target as usize];
                    let listed = node.flags & PHOTO != 0;
                    node.key = h;
                    node.next = NONE;
                    node.flags |= PHOTO | ALIVE;
                    node.access = node_access;
                    if !listed {
                        self.photos.push(target);
                    }
                }
            }
            Body::Note { sig, refs } => {
                if let Some(sig) = sig {
                    let slot = self.sigs.len() as u32;
                    for band in sig.bands() {
                        if self.bulk {
                            self.bands_sorted.push((band as u32, n));
                        } else {
                            self.bands_extra.entry(band as u32).or_default().push(n);
                        }
                    }
                    self.sigs.push(sig.compact());
                    self.nodes[n as usize].aux = slot;
                }
                for (ty, uuid) in refs {
                    let o = self.node(ty, uuid);
                    self.nodes[n as usize].edges.push(Edge { rel: NOTE_REF, other: o });
                    self.nodes[o as usize].edges.push(Edge { rel: NOTE_REF, other: n });
                }
            }
            Body::Rel { .. } => {}
        }
        let node = &mut self.nodes[n as usize];
        node.flags |= ALIVE;
        node.access = node_access;
    }

    /// A second node sharing `n`'s identity (same type and UUID) for a second key: it is
    /// reached through `n`'s id only via `n`, and carries `n`'s edges through `twin_of`.
    fn twin(&mut self, n: u32, i: usize) -> u32 {
        // A twin left by an earlier version of the object is taken again.
        if let Some(t) = self.nodes[n as usize].edges.iter().filter(|e| e.rel == TWIN).nth(i).map(|e| e.other) {
            return t;
        }
        let node = &self.nodes[n as usize];
        let mut twin = Self::blank(node.ty, 0);
        twin.uuid = node.uuid;
        twin.flags = IS_TWIN;
        twin.edges.push(Edge { rel: TWIN, other: n });
        let t = self.nodes.len() as u32;
        self.nodes.push(twin);
        self.nodes[n as usize].edges.push(Edge { rel: TWIN, other: t });
        t
    }

    /// Removes an object (deleted, or its newest version revoked).
    pub fn remove(&mut self, id: &str) {
        let Some((ty, uuid)) = parse_id(id) else { return };
        if ty == Ty::Relationship {
            if let Some(r) = self.rel_ids.get(Ty::Relationship, split(uuid), &self.rel_uuids) {
                self.unlink_rel(r);
            }
            return;
        }
        if let Some(n) = self.find(ty, uuid) {
            self.clear_node(n);
        }
    }

    fn unlink_rel(&mut self, r: u32) {
        let rel = &mut self.rels[r as usize];
        if !rel.alive {
            return;
        }
        rel.alive = false;
        let (s, d) = (rel.src, rel.dst);
        for n in [s, d] {
            self.nodes[n as usize].edges.retain(|e| e.rel != r);
        }
    }

    /// Takes a node out of every key, name and band it was in, and drops its own edges
    /// (a note's refs, twins); relationships stay, as they are objects of their own.
    fn clear_node(&mut self, n: u32) {
        if !self.nodes[n as usize].alive() {
            return;
        }
        let twins: Vec<u32> = self.nodes[n as usize].edges.iter().filter(|e| e.rel == TWIN).map(|e| e.other).collect();
        for t in twins.iter().copied().chain(std::iter::once(n)) {
            self.unchain(t);
            // What the node added to the counts goes with it.
            let node = &self.nodes[t as usize];
            if is_identifier(node.ty) {
                if node.aux != NONE
                    && let Some(count) = self.phones.get_mut(node.aux as usize)
                {
                    *count = count.saturating_sub(1);
                }
                if node.flags & UNUSABLE != 0 {
                    self.unusable = self.unusable.saturating_sub(1);
                }
                self.nodes[t as usize].aux = NONE;
            }
        }
        // A twin stays linked to its object, dead until a later version needs it again.
        for t in &twins {
            let node = &mut self.nodes[*t as usize];
            // A photo twin stays listed for the Hamming scan (dead, so not matched).
            node.flags = IS_TWIN | (node.flags & PHOTO);
            node.key = 0;
        }
        // A note's references are its own edges; an actor's or identity's NOTE_REF edges
        // belong to the notes that refer to it and stay.
        let is_note = matches!(self.nodes[n as usize].ty, Ty::Note | Ty::Sighting);
        if is_note {
            let refs: Vec<u32> =
                self.nodes[n as usize].edges.iter().filter(|e| e.rel == NOTE_REF).map(|e| e.other).collect();
            for o in refs {
                self.nodes[o as usize].edges.retain(|e| !(e.rel == NOTE_REF && e.other == n));
            }
        }
        if !self.ranges.is_empty() {
            self.ranges.retain(|(_, r)| *r != n);
        }
        let node = &mut self.nodes[n as usize];
        if is_note {
            node.edges.retain(|e| e.rel != NOTE_REF);
        }
        // A photo node stays listed for the Hamming scan (dead, so not matched).
        node.flags &= PHOTO;
        node.key = 0;
        if node.ty == Ty::Note {
            node.aux = NONE;
        }
    }

    /// Removes node `n` from the key or name chain it heads or sits in.
    fn unchain(&mut self, n: u32) {
        let node = &self.nodes[n as usize];
        let (h, next) = (node.key, node.next);
        if h == 0 || node.flags & PHOTO != 0 {
            return;
        }
        let map = if node.ty == Ty::Identity { &mut self.names } else { &mut self.keys };
        let Some((head, len)) = map.get(h) else { return };
        if head == n {
            if next == NONE {
                map.remove(h);
            } else {
                map.set(h, (next, len.saturating_sub(1)));
            }
        } else {
            let mut cur = head;
            while cur != NONE {
                let nx = self.nodes[cur as usize].next;
                if nx == n {
                    self.nodes[cur as usize].next = next;
                    map.set(h, (head, len.saturating_sub(1)));
                    break;
                }
                cur = nx;
            }
        }
        self.nodes[n as usize].next = NONE;
    }

    /// Moves the bands gathered during a bulk load into the sorted array (smaller, and
    /// faster to probe). Call once after the initial build.
    pub fn finish_bulk(&mut self) {
        self.bulk = false;
        let mut v: Vec<(u32, u32)> = std::mem::take(&mut self.bands_sorted);
        for (band, notes) in self.bands_extra.drain() {
            v.extend(notes.into_iter().map(|n| (band, n)));
        }
        sort_postings(&mut v);
        v.shrink_to_fit();
        let mut offsets = vec![0u32; (1 << OFFSET_BITS) + 1];
        for (band, _) in &v {
            offsets[(*band >> (32 - OFFSET_BITS)) as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        self.band_offsets = offsets;
        self.bands_sorted = v;
        self.bands_extra.shrink_to_fit();
        self.nodes.shrink_to_fit();
        self.rels.shrink_to_fit();
        self.texts.shrink_to_fit();
        self.sigs.shrink_to_fit();
    }

    /// Nodes whose key is `(kind, canonical)` that may matter to `viewer`: `None` when
    /// more than `max` of them are visible to the viewer (a value that common is not
    /// evidence). Keys are compared by their 64-bit hash: among millions of keys a false
    /// agreement has a probability of about 1e-13.
    ///
    /// Only what the viewer may see decides whether the value is too common: another
    /// member's hidden copies of a value never switch the viewer's own matches off. Hidden
    /// nodes beyond `max` are left out (they could only add a restricted hit).
    pub(crate) fn lookup(&self, kind: KeyKind, canonical: &str, max: usize, viewer: &Viewer) -> Option<Vec<u32>> {
        let h = key_hash(kind, canonical);
        let map = if kind == KeyKind::Name { &self.names } else { &self.keys };
        let Some((head, len)) = map.get(h) else { return Some(Vec::new()) };
        // A chain no longer than `max` is taken whole (the usual case); a longer one is
        // walked counting what the viewer may see, and given up as soon as that is too much.
        let short = len as usize <= max;
        let mut out = Vec::new();
        let mut lone = Vec::new();
        let (mut visible, mut hidden) = (0usize, 0usize);
        let mut cur = head;
        while cur != NONE {
            let node = &self.nodes[cur as usize];
            let kind_ok = holds_key(node.ty, kind);
            if kind_ok && node.key == h && node.alive() {
                if short {
                    out.push(cur);
                } else if self.visible_to(node.access, viewer) {
                    // Copies of a value tied to nothing the viewer may see are one value on
                    // record, however many spellings of it were filed: they do not make it
                    // common (a member filing 70 spellings of another's address must not
                    // switch its match off), and a few of them stand for all.
                    if self.tied_for(cur, viewer) {
                        visible += 1;
                        if visible > max {
                            return None;
                        }
                        out.push(cur);
                    } else {
                        lone.push(cur);
                    }
                } else if hidden < max {
                    hidden += 1;
                    out.push(cur);
                }
            }
            cur = node.next;
        }
        if lone.len() > LONE_KEPT {
            lone.sort_unstable_by_key(|n| (self.nodes[*n as usize].ty as u8, self.nodes[*n as usize].uuid));
            lone.truncate(LONE_KEPT);
        }
        out.extend(lone);
        Some(out)
    }

    /// Whether an identifier is tied, through a live relationship or note the viewer may
    /// see, to a live object the viewer may see.
    fn tied_for(&self, n: u32, viewer: &Viewer) -> bool {
        let p = self.nodes[n as usize].primary(n);
        self.nodes[p as usize].edges.iter().any(|e| {
            if e.rel == TWIN {
                return false;
            }
            let other = &self.nodes[e.other as usize];
            let rel_ok = e.rel == NOTE_REF || {
                let r = &self.rels[e.rel as usize];
                r.alive && self.visible_to(r.access, viewer)
            };
            rel_ok && other.alive() && self.visible_to(other.access, viewer)
        })
    }

    /// Resume notes sharing an LSH band with `sig` that may matter to `viewer`.
    pub(crate) fn resume_candidates(&self, sig: &Signature, viewer: &Viewer) -> Vec<u32> {
        let mut out = Vec::new();
        let bands = sig.bands().map(|b| b as u32);
        // The 32 probes are independent: read all their offsets, then touch the start of
        // every run, before searching any of them, so that the cache misses overlap instead
        // of following one another.
        let spans = bands.map(|band| {
            let slot = (band >> (32 - OFFSET_BITS)) as usize;
            match self.band_offsets.get(slot..slot + 2) {
                Some([lo, hi]) => (*lo as usize, *hi as usize),
                _ => (0, 0),
            }
        });
        for (band, (lo, hi)) in bands.into_iter().zip(spans) {
            let bucket = &self.bands_sorted[lo..hi];
            let start = lo + bucket.partition_point(|(b, _)| *b < band);
            let end = start + self.bands_sorted[start..hi].partition_point(|(b, _)| *b == band);
            let extra = self.bands_extra.get(&band).map_or(&[][..], Vec::as_slice);
            let postings = self.bands_sorted[start..end].iter().map(|(_, n)| *n).chain(extra.iter().copied());
            if end - start + extra.len() <= MAX_BAND_POSTINGS {
                out.extend(postings);
                continue;
            }
            // A band shared by this many resumes comes from boilerplate everybody writes,
            // not from copying: it finds nothing worth the comparisons. Only the resumes
            // the viewer may see count towards that (another member's hidden copies never
            // switch the viewer's own near-duplicates off), and the hidden ones of so
            // crowded a band are left out (they could only add a restricted hit).
            let before = out.len();
            out.extend(postings.filter(|n| self.visible_to(self.nodes[*n as usize].access, viewer)));
            if out.len() - before > MAX_BAND_POSTINGS {
                out.truncate(before);
            }
        }
        // A near-duplicate shares many bands (a Jaccard similarity of 0.65 shares two or more
        // of the 32 in 98.5% of pairs); one shared band is mostly chance and boilerplate.
        out.sort_unstable();
        let mut kept = Vec::new();
        let mut i = 0;
        while i < out.len() {
            let mut j = i + 1;
            while j < out.len() && out[j] == out[i] {
                j += 1;
            }
            if j - i >= MIN_SHARED_BANDS {
                kept.push(out[i]);
            }
            i = j;
        }
        kept.retain(|n| self.nodes[*n as usize].alive() && self.sig_of(*n).is_some());
        kept
    }

    /// Stored photos within [`photo::NEAR`] bits of `h`, with their distance: a linear scan
    /// reading each photo node's 64-bit hash, run only for applicants who give a photo (an
    /// index by hash chunks is the next step when stores hold many photos).
    pub(crate) fn photo_candidates(&self, h: photo::PhotoHash) -> Vec<(u32, u32)> {
        self.photos
            .iter()
            .filter_map(|&n| {
                let node = &self.nodes[n as usize];
                let d = (node.key ^ h.0).count_ones();
                (node.alive() && node.flags & PHOTO != 0 && d <= photo::NEAR).then_some((n, d))
            })
            .collect()
    }

    /// Stored ranges containing `addr`.
    pub(crate) fn ranges_containing(&self, addr: IpAddr) -> Vec<(ip::Net, u32)> {
        self.ranges.iter().filter(|(net, n)| net.contains(addr) && self.nodes[*n as usize].alive()).copied().collect()
    }

    pub fn stats(&self) -> IndexStats {
        let spilled: usize = self
            .nodes
            .iter()
            .filter(|n| n.edges.spilled())
            .map(|n| n.edges.capacity() * std::mem::size_of::<Edge>())
            .sum();
        let texts: usize = self.texts.iter().map(|t| t.len() + 16).sum();
        let approx_bytes = self.nodes.capacity() * std::mem::size_of::<Node>()
            + spilled
            + texts
            + self.rels.capacity() * std::mem::size_of::<Rel>()
            + self.ids.bytes()
            + self.rel_ids.bytes()
            + self.rel_uuids.0.capacity() * 16
            + self.keys.bytes()
            + self.names.bytes()
            + self.sigs.capacity() * std::mem::size_of::<[u16; resume::SIGNATURE_LEN]>()
            + self.bands_sorted.capacity() * 8
            + self.band_offsets.capacity() * 4
            + self.bands_extra.values().map(|v| v.capacity() * 4 + 40).sum::<usize>();
        IndexStats {
            nodes: self.nodes.iter().filter(|n| n.alive()).count(),
            relationships: self.rels.iter().filter(|r| r.alive).count(),
            keys: self.keys.len(),
            names: self.names.len(),
            resumes: self.nodes.iter().filter(|n| n.alive() && n.ty == Ty::Note && n.aux != NONE).count(),
            access_facts: self.access.len(),
            unusable_values: self.unusable,
            open_phones: self.phones.iter().map(|p| *p as usize).sum(),
            approx_bytes,
        }
    }
}

/// Sorts the resume postings of a bulk load: millions of pairs, sorted when every object
/// has been read and the cores are otherwise idle, so split at the median and the halves
/// sorted on two threads. Postings read back from a snapshot are sorted already: checked
/// in one pass, they are left as they are (splitting at the median still cost a third of
/// a second at 7.3M pairs).
fn sort_postings(v: &mut [(u32, u32)]) {
    if v.is_sorted() {
        return;
    }
    let two = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    if !two || v.len() < 1 << 20 {
        v.sort_unstable();
        return;
    }
    let mid = v.len() / 2;
    v.select_nth_unstable(mid);
    let (low, high) = v.split_at_mut(mid);
    std::thread::scope(|s| {
        s.spawn(|| low.sort_unstable());
        high.sort_unstable();
    });
}

/// Adds `n` at the head of the chain of `h`; returns the previous head.
fn push_chain(map: &mut KeyTable, h: u64, n: u32) -> u32 {
    let e = map.entry(h, NONE);
    let head = e.0;
    *e = (n, e.1 + 1);
    head
}

/// The top bits of a band that index `band_offsets`: 2^20 slots (4 MiB) leave a handful of
/// postings per slot at millions of postings, so a probe reads the table and one short run
/// instead of binary-searching a long one (cache misses dominated resume probes).
const OFFSET_BITS: u32 = 20;

/// Resumes one LSH band may point at before it is ignored as boilerplate.
const MAX_BAND_POSTINGS: usize = 256;
/// Copies of one value tied to nothing (for the viewer) that a crowded key still follows.
const LONE_KEPT: usize = 8;
/// Bands a stored resume must share with the query to be compared.
const MIN_SHARED_BANDS: usize = 2;

/// The edge between a node and its twin (a second key of one object).
pub(crate) const TWIN: u32 = u32::MAX - 2;

/// Whether objects of type `ty` hold keys of `kind` (a URL is a platform account or a
/// website).
pub(crate) fn holds_key(ty: Ty, kind: KeyKind) -> bool {
    match ty {
        Ty::EmailAddr => kind == KeyKind::Email,
        Ty::PhoneNumber => kind == KeyKind::Phone,
        Ty::Wallet => kind == KeyKind::Wallet,
        Ty::UserAccount => kind == KeyKind::Account,
        Ty::Url => matches!(kind, KeyKind::Account | KeyKind::Website),
        Ty::Ipv4 | Ty::Ipv6 => kind == KeyKind::Ip,
        Ty::File => kind == KeyKind::Document,
        Ty::BankAccount => kind == KeyKind::Bank,
        Ty::DomainName => kind == KeyKind::Website,
        Ty::Identity => kind == KeyKind::Name,
        Ty::ThreatActor | Ty::Note | Ty::Relationship | Ty::Sighting => false,
    }
}

/// Whether objects of type `ty` are identifiers (hold keys other than names).
pub(crate) fn is_identifier(ty: Ty) -> bool {
    !matches!(ty, Ty::Identity | Ty::ThreatActor | Ty::Note | Ty::Relationship | Ty::Sighting)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
        let (ty, u) = parse_id(id).unwrap();
        assert_eq!(format_id(ty, u), id);
        assert!(parse_id("identity--xyz").is_none());
        assert!(parse_id("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_none());
    }

    #[test]
    fn relationship_endpoints_are_read_without_parsing_only_when_unambiguous() {
        let s = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
        let t = "email-addr--1e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f";
        let plain =
            format!(r#"{{"type":"relationship","id":"relationship--1","source_ref":"{s}","target_ref":"{t}"}}"#);
        assert_eq!(quick_rel(&plain), Some((s, t)));
        // The key quoted inside a string value is escaped, so it is not taken for the key.
        let described = format!(
            r#"{{"description":"see \"source_ref\":\"x\"","source_ref":"{s}","target_ref":"{t}","type":"relationship"}}"#
        );
        assert_eq!(quick_rel(&described), Some((s, t)));
        // Ambiguous or revoked: left to the parser, which prepare() falls back to.
        let nested =
            format!(r#"{{"source_ref":"{s}","target_ref":"{t}","extensions":{{"x":{{"source_ref":"{t}"}}}}}}"#);
        assert_eq!(quick_rel(&nested), None);
        let revoked = format!(r#"{{"source_ref":"{s}","target_ref":"{t}","revoked":true}}"#);
        assert_eq!(quick_rel(&revoked), None);
        let spaced = format!(r#"{{"source_ref": "{s}", "target_ref": "{t}"}}"#);
        assert_eq!(quick_rel(&spaced), None);
        // Either way prepare() gives the same edge, and a revoked one none.
        let access = || Access {
            tlp: dossier_stix::Tlp::Green,
            owner: 1,
            recipients: vec![],
            staff_only: false,
            confidence: None,
        };
        for json in [&plain, &described, &nested, &spaced] {
            let p = prepare("relationship--00000000-0000-4000-8000-000000000001", json, access()).unwrap();
            assert!(matches!(p.body, Body::Rel { .. }), "{json}");
        }
        let p = prepare("relationship--00000000-0000-4000-8000-000000000001", &revoked, access()).unwrap();
        assert!(matches!(p.body, Body::Gone));
    }

    proptest::proptest! {
        /// Whatever the other properties hold (quoted keys, escapes, nested objects, any
        /// order), a value the fast path reads is the one the JSON parser reads.
        #[test]
        fn the_fast_paths_agree_with_the_parser(
            extra in proptest::collection::vec((
                "([a-z_]|\"|\\\\|source_ref|user_id|value|revoked){1,6}",
                "(\\PC|\"|\\\\|\\{|source_ref|target_ref|value|revoked|account_type|user_id|:){0,24}",
            ), 0..5),
            nested in proptest::option::of(("source_ref|target_ref|value|revoked|account_login|other", "[a-z0-9:-]{0,20}")),
            account in proptest::collection::vec(proptest::option::of("[a-zA-Z0-9@./:_-]{0,20}"), 3),
            order in 0usize..6,
            value in "[a-zA-Z0-9@.:+-]{1,30}",
        ) {
            let src = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
            let dst = "email-addr--1e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f";
            let mut props: Vec<(String, serde_json::Value)> = vec![
                ("source_ref".into(), src.into()),
                ("target_ref".into(), dst.into()),
                ("value".into(), value.clone().into()),
            ];
            for (k, v) in ["account_type", "account_login", "user_id"].iter().zip(&account) {
                if let Some(v) = v {
                    props.push(((*k).into(), v.clone().into()));
                }
            }
            for (k, v) in &extra {
                if !props.iter().any(|(p, _)| p == k) {
                    props.push((k.clone(), v.clone().into()));
                }
            }
            if let Some((k, v)) = &nested {
                props.push(("extensions".into(), serde_json::json!({"x": {k.clone(): v}})));
            }
            let n = props.len();
            props.rotate_left(order % n);
            let body: Vec<String> = props
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::Value::from(k.as_str()), v))
                .collect();
            let json = format!("{{{}}}", body.join(","));
            let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
            if let Some((s, t)) = quick_rel(&json) {
                proptest::prop_assert_eq!(Some(s), parsed["source_ref"].as_str());
                proptest::prop_assert_eq!(Some(t), parsed["target_ref"].as_str());
                proptest::prop_assert!(parsed.get("revoked").is_none());
            }
            if let Some(v) = quick_value(&json) {
                proptest::prop_assert_eq!(Some(v), parsed["value"].as_str());
                proptest::prop_assert!(parsed.get("revoked").is_none());
            }
            if let Some([t, l, u]) = quick_account(&json) {
                proptest::prop_assert_eq!(t, parsed.get("account_type").and_then(|v| v.as_str()));
                proptest::prop_assert_eq!(l, parsed.get("account_login").and_then(|v| v.as_str()));
                proptest::prop_assert_eq!(u, parsed.get("user_id").and_then(|v| v.as_str()));
                proptest::prop_assert!(parsed.get("revoked").is_none());
            }
        }
    }

    proptest::proptest! {
        /// The table-driven id parser reads what a plain digit-by-digit reading does, and
        /// formatting gives the id back.
        #[test]
        fn ids_parse_as_written(
            ty in "identity|relationship|threat-actor|note|Identity|x",
            uuid in "[0-9a-fA-Fg-]{36}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-Fg]{4}-[0-9a-fA-F-]{4}-[0-9a-fA-F]{12}",
        ) {
            let id = format!("{ty}--{uuid}");
            // The reference: dashes where the hyphenated form has them and nowhere else,
            // the digits read as one hexadecimal number.
            let reference = Ty::parse(&ty).and_then(|t| {
                let dashes: Vec<usize> = uuid.match_indices('-').map(|(i, _)| i).collect();
                let digits: String = uuid.chars().filter(|c| *c != '-').collect();
                (dashes == [8, 13, 18, 23]).then(|| u128::from_str_radix(&digits, 16).ok().map(|v| (t, v))).flatten()
            });
            proptest::prop_assert_eq!(parse_id(&id), reference);
            if let Some((t, v)) = reference {
                proptest::prop_assert_eq!(parse_id(&format_id(t, v)), Some((t, v)));
            }
        }
    }

    #[test]
    fn postings_sorted_in_two_halves_are_sorted() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut v: Vec<(u32, u32)> = (0..(1u32 << 20) + 7)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x as u32) & 0xffff_f000, i % 1000)
            })
            .collect();
        let mut want = v.clone();
        want.sort_unstable();
        sort_postings(&mut v);
        assert_eq!(v, want);
    }

    #[test]
    fn a_key_inside_another_key_is_not_read_as_one() {
        // The key `x"user_id` (escaped quote) is not `user_id`.
        let json = r#"{"account_type":"github","x\"user_id":"12345","account_login":"chol"}"#;
        let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
        assert!(parsed.get("user_id").is_none());
        assert_eq!(quick_account(json), None);
        let flat = r#"{"account_type":"github","user_id":"12345","account_login":"chol","id":"user-account--x"}"#;
        assert_eq!(quick_account(flat), Some([Some("github"), Some("chol"), Some("12345")]));
        let nested = r#"{"account_type":"github","account_login":"chol","extensions":{"x":{"user_id":"1"}}}"#;
        assert_eq!(quick_account(nested), None);
        let rel = r#"{"x\"source_ref":"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#;
        assert_eq!(quick_rel(rel), None);
    }

    #[test]
    fn identifier_values_read_without_parsing_give_the_parsed_keys() {
        let access = || Access {
            tlp: dossier_stix::Tlp::Green,
            owner: 1,
            recipients: vec![],
            staff_only: false,
            confidence: None,
        };
        let keys = |id: &str, json: &str| -> Vec<u64> {
            match prepare(id, json, access()).map(|p| p.body) {
                Some(Body::Identifier { keys, .. }) => keys.iter().map(|k| k.hash).collect(),
                Some(Body::Gone) => vec![],
                _ => panic!("{json}"),
            }
        };
        let id = "email-addr--1e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f";
        let compact = r#"{"type":"email-addr","id":"x","value":"Chol.Su@Gmail.com"}"#;
        let spaced = r#"{"type": "email-addr", "id": "x", "value": "Chol.Su@Gmail.com"}"#;
        let escaped = r#"{"type":"email-addr","id":"x","value":"Chol.Su\u0040Gmail.com"}"#;
        let nested =
            r#"{"type":"email-addr","value":"chol.su@gmail.com","extensions":{"e":{"value":"other@example.com"}}}"#;
        assert_eq!(quick_value(compact), Some("Chol.Su@Gmail.com"));
        assert_eq!(quick_value(spaced), None);
        assert_eq!(quick_value(escaped), None);
        assert_eq!(quick_value(nested), None);
        let want = keys(id, spaced);
        assert_eq!(want.len(), 1);
        for json in [compact, escaped, nested] {
            assert_eq!(keys(id, json), want, "{json}");
        }
        let revoked = r#"{"type":"email-addr","value":"chol.su@gmail.com","revoked":true}"#;
        assert!(keys(id, revoked).is_empty());
    }
}

/// Snapshots: the index written to bytes and read back, so that a restart does not re-read
/// and re-normalise every stored object. The caller records which change-log position the
/// snapshot reflects and applies the changes after it.
pub mod snapshot {
    use std::io::{self, Read, Write};

    use dossier_stix::Tlp;
    use smallvec::SmallVec;

    use super::*;

    /// Bump when anything that shapes the index changes (normalisation, key hashing,
    /// signatures, this format): an older snapshot is then rebuilt, never misread.
    /// 2: sightings and notes without a resume signature are kept (for the graph and pages).
    /// 5: phone numbers stored without a country code are keyed under each valid reading;
    /// Skype, Discord, Telegram and WhatsApp accounts in their other forms.
    /// 6: copy-paste artefacts, full-width forms and look-alike letters cleaned from stored
    /// values; IP and resume weights (one-team addresses, shared templates).
    const FORMAT: u64 = 7;
    const MAGIC: &[u8; 8] = b"DSXIDX01";

    fn bad(what: &str) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("screening snapshot: {what}"))
    }

    /// Everything written passes through a checksum, so that a damaged file (a flipped TLP
    /// code would be a leak) is refused rather than read.
    struct Sum<T>(T, <Fast as BuildHasher>::Hasher);

    impl<T: Write> Write for Sum<T> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.write_all(buf)?;
            self.1.write(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.0.flush()
        }
    }

    impl<T: Read> Read for Sum<T> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read_exact(buf)?;
            self.1.write(buf);
            Ok(buf.len())
        }
    }

    struct W<'a, T: Write>(&'a mut T);
    impl<T: Write> W<'_, T> {
        fn u8(&mut self, v: u8) -> io::Result<()> {
            self.0.write_all(&[v])
        }
        fn u32(&mut self, v: u32) -> io::Result<()> {
            self.0.write_all(&v.to_le_bytes())
        }
        fn u64(&mut self, v: u64) -> io::Result<()> {
            self.0.write_all(&v.to_le_bytes())
        }
        fn i64(&mut self, v: i64) -> io::Result<()> {
            self.0.write_all(&v.to_le_bytes())
        }
        fn len(&mut self, n: usize) -> io::Result<()> {
            self.u64(n as u64)
        }
        fn str(&mut self, s: &str) -> io::Result<()> {
            self.len(s.len())?;
            self.0.write_all(s.as_bytes())
        }
    }

    struct R<'a, T: Read>(&'a mut T);
    impl<T: Read> R<'_, T> {
        fn bytes<const N: usize>(&mut self) -> io::Result<[u8; N]> {
            let mut b = [0u8; N];
            self.0.read_exact(&mut b)?;
            Ok(b)
        }
        fn u8(&mut self) -> io::Result<u8> {
            Ok(self.bytes::<1>()?[0])
        }
        fn u32(&mut self) -> io::Result<u32> {
            Ok(u32::from_le_bytes(self.bytes()?))
        }
        fn u64(&mut self) -> io::Result<u64> {
            Ok(u64::from_le_bytes(self.bytes()?))
        }
        fn i64(&mut self) -> io::Result<i64> {
            Ok(i64::from_le_bytes(self.bytes()?))
        }
        /// A length, refused when absurd (a corrupt file must not allocate terabytes).
        fn len(&mut self, max: usize) -> io::Result<usize> {
            let n = self.u64()?;
            usize::try_from(n).ok().filter(|n| *n <= max).ok_or_else(|| bad("a length is out of range"))
        }
        fn str(&mut self) -> io::Result<String> {
            let n = self.len(1 << 20)?;
            let mut b = vec![0u8; n];
            self.0.read_exact(&mut b)?;
            String::from_utf8(b).map_err(|_| bad("a name is not UTF-8"))
        }
    }

    const MAX: usize = 1 << 32;

    fn ty_of(v: u8) -> io::Result<Ty> {
        const ALL: [Ty; 15] = [
            Ty::ThreatActor,
            Ty::Identity,
            Ty::EmailAddr,
            Ty::PhoneNumber,
            Ty::Wallet,
            Ty::UserAccount,
            Ty::Url,
            Ty::Ipv4,
            Ty::Ipv6,
            Ty::File,
            Ty::Note,
            Ty::Relationship,
            Ty::Sighting,
            Ty::BankAccount,
            Ty::DomainName,
        ];
        ALL.iter().copied().find(|t| *t as u8 == v).ok_or_else(|| bad("unknown object type"))
    }

    /// A value that changes when key hashing changes (foldhash's fixed seed, our key layout).
    fn hash_check() -> u64 {
        key_hash(KeyKind::Email, "snapshot-check@example.org")
    }

    impl Index {
        /// Writes the index; `tag` is the caller's own header (its change-log position and
        /// installation id), returned by [`Index::read_snapshot`].
        pub fn write_snapshot(&self, out: &mut impl Write, tag: &[u8]) -> io::Result<()> {
            let mut sum = Sum(out, Fast::default().build_hasher());
            self.write_body(&mut sum, tag)?;
            let check = sum.1.finish();
            sum.0.write_all(&check.to_le_bytes())
        }

        fn write_body(&self, out: &mut impl Write, tag: &[u8]) -> io::Result<()> {
            let mut w = W(out);
            w.0.write_all(MAGIC)?;
            w.u64(FORMAT)?;
            w.u64(hash_check())?;
            w.len(tag.len())?;
            w.0.write_all(tag)?;
            w.len(self.access.len())?;
            for a in &self.access {
                w.u8(a.tlp.code() as u8)?;
                w.i64(a.owner)?;
                w.len(a.recipients.len())?;
                for r in &a.recipients {
                    w.i64(*r)?;
                }
                w.u8(u8::from(a.staff_only))?;
                w.u8(a.confidence.map_or(255, |c| c.min(254)))?;
            }
            w.len(self.nodes.len())?;
            for n in &self.nodes {
                w.u64(n.uuid[0])?;
                w.u64(n.uuid[1])?;
                w.u64(n.key)?;
                w.u32(n.access)?;
                w.u32(n.next)?;
                w.u32(n.aux)?;
                w.u8(n.ty as u8)?;
                w.u8(n.flags)?;
                w.len(n.edges.len())?;
                for e in &n.edges {
                    w.u32(e.rel)?;
                    w.u32(e.other)?;
                }
            }
            w.len(self.rels.len())?;
            for (r, uuid) in self.rels.iter().zip(&self.rel_uuids.0) {
                w.u32(r.access)?;
                w.u32(r.src)?;
                w.u32(r.dst)?;
                w.u8(u8::from(r.alive))?;
                w.u64(uuid[0])?;
                w.u64(uuid[1])?;
            }
            for map in [&self.keys, &self.names] {
                w.len(map.len())?;
                for (h, (head, len)) in map.iter() {
                    w.u64(h)?;
                    w.u32(head)?;
                    w.u32(len)?;
                }
            }
            w.len(self.texts.len())?;
            for t in &self.texts {
                w.str(t)?;
            }
            w.len(self.ranges.len())?;
            for (net, n) in &self.ranges {
                w.str(&net.canonical())?;
                w.u32(*n)?;
            }
            w.len(self.sigs.len())?;
            for s in &self.sigs {
                for v in s {
                    w.0.write_all(&v.to_le_bytes())?;
                }
            }
            let mut bands: Vec<(u32, u32)> = self.bands_sorted.clone();
            for (b, notes) in &self.bands_extra {
                bands.extend(notes.iter().map(|n| (*b, *n)));
            }
            bands.sort_unstable();
            w.len(bands.len())?;
            for (b, n) in &bands {
                w.u32(*b)?;
                w.u32(*n)?;
            }
            w.u64(self.unusable as u64)?;
            w.len(self.phones.len())?;
            for p in &self.phones {
                w.u32(*p)?;
            }
            w.0.write_all(MAGIC)
        }

        /// Reads an index written by [`Index::write_snapshot`]; returns it with the
        /// caller's tag. Any inconsistency is an error (the caller then rebuilds).
        pub fn read_snapshot(input: &mut impl Read) -> io::Result<(Index, Vec<u8>)> {
            let mut sum = Sum(input, Fast::default().build_hasher());
            let result = Self::read_body(&mut sum)?;
            let mut check = [0u8; 8];
            sum.0.read_exact(&mut check)?;
            if u64::from_le_bytes(check) != sum.1.finish() {
                return Err(bad("checksum mismatch (the file is damaged)"));
            }
            Ok(result)
        }

        fn read_body(input: &mut impl Read) -> io::Result<(Index, Vec<u8>)> {
            let mut r = R(input);
            if &r.bytes::<8>()? != MAGIC {
                return Err(bad("not a snapshot"));
            }
            if r.u64()? != FORMAT {
                return Err(bad("written by another version"));
            }
            if r.u64()? != hash_check() {
                return Err(bad("key hashing differs"));
            }
            let n = r.len(1 << 16)?;
            let mut tag = vec![0u8; n];
            r.0.read_exact(&mut tag)?;
            let mut ix = Index::new();
            let n = r.len(MAX)?;
            for _ in 0..n {
                let tlp = Tlp::from_code(i64::from(r.u8()?)).ok_or_else(|| bad("TLP"))?;
                let owner = r.i64()?;
                let k = r.len(1 << 16)?;
                let recipients = (0..k).map(|_| r.i64()).collect::<io::Result<Vec<_>>>()?;
                let staff_only = r.u8()? != 0;
                let confidence = Some(r.u8()?).filter(|c| *c != 255);
                let access = Access { tlp, owner, recipients, staff_only, confidence };
                ix.access_ids.insert(access.clone(), ix.access.len() as u32);
                ix.access.push(access);
            }
            let n = r.len(MAX)?;
            ix.nodes.reserve_exact(n);
            for _ in 0..n {
                let uuid = [r.u64()?, r.u64()?];
                let key = r.u64()?;
                let access = r.u32()?;
                let next = r.u32()?;
                let aux = r.u32()?;
                let ty = ty_of(r.u8()?)?;
                let flags = r.u8()?;
                let k = r.len(MAX)?;
                let mut edges = SmallVec::new();
                for _ in 0..k {
                    edges.push(Edge { rel: r.u32()?, other: r.u32()? });
                }
                ix.nodes.push(Node { uuid, key, access, next, aux, ty, flags, edges });
            }
            ix.photos = (0..ix.nodes.len() as u32).filter(|i| ix.nodes[*i as usize].flags & PHOTO != 0).collect();
            // The id table follows from the nodes (twins are reached through their primary).
            ix.ids = IdTable::with_capacity(ix.nodes.len());
            for (i, node) in ix.nodes.iter().enumerate() {
                if node.flags & IS_TWIN == 0 {
                    ix.ids.insert(node.ty, node.uuid, i as u32, &ix.nodes);
                }
            }
            let n = r.len(MAX)?;
            ix.rels.reserve_exact(n);
            ix.rel_uuids.0.reserve_exact(n);
            for _ in 0..n {
                ix.rels.push(Rel { access: r.u32()?, src: r.u32()?, dst: r.u32()?, alive: r.u8()? != 0 });
                ix.rel_uuids.0.push([r.u64()?, r.u64()?]);
            }
            ix.rel_ids = IdTable::with_capacity(n);
            for (i, uuid) in ix.rel_uuids.0.iter().enumerate() {
                ix.rel_ids.insert(Ty::Relationship, *uuid, i as u32, &ix.rel_uuids);
            }
            for names in [false, true] {
                let n = r.len(MAX)?;
                for _ in 0..n {
                    let h = r.u64()?;
                    let v = (r.u32()?, r.u32()?);
                    if h == 0 {
                        return Err(bad("a key hash of 0"));
                    }
                    if names { &mut ix.names } else { &mut ix.keys }.set(h, v);
                }
            }
            let n = r.len(MAX)?;
            for _ in 0..n {
                ix.texts.push(r.str()?.into_boxed_str());
            }
            let n = r.len(MAX)?;
            for _ in 0..n {
                let net = ip::normalize(&r.str()?).map_err(|_| bad("a range"))?;
                ix.ranges.push((net, r.u32()?));
            }
            let n = r.len(MAX)?;
            ix.sigs.reserve_exact(n);
            for _ in 0..n {
                let mut s = [0u16; resume::SIGNATURE_LEN];
                for v in s.iter_mut() {
                    *v = u16::from_le_bytes(r.bytes()?);
                }
                ix.sigs.push(s);
            }
            let n = r.len(MAX)?;
            let mut bands = Vec::with_capacity(n);
            for _ in 0..n {
                bands.push((r.u32()?, r.u32()?));
            }
            ix.bands_sorted = bands;
            ix.unusable = r.u64()? as usize;
            let n = r.len(1 << 10)?;
            ix.phones = (0..n).map(|_| r.u32()).collect::<io::Result<_>>()?;
            if ix.phones.len() != super::super::score::PHONE_BUCKETS {
                return Err(bad("phone buckets differ"));
            }
            if &r.bytes::<8>()? != MAGIC {
                return Err(bad("truncated"));
            }
            // Every index must point inside its table.
            let (nodes, rels, texts, sigs, access) =
                (ix.nodes.len(), ix.rels.len(), ix.texts.len(), ix.sigs.len(), ix.access.len());
            let node_ok = |n: u32| (n as usize) < nodes || n == NONE;
            for node in &ix.nodes {
                let aux_ok = match node.ty {
                    Ty::ThreatActor | Ty::Identity => node.aux == NONE || (node.aux as usize) < texts,
                    Ty::Note => node.aux == NONE || (node.aux as usize) < sigs,
                    _ => true,
                };
                let edges_ok =
                    node.edges.iter().all(|e| (e.other as usize) < nodes && (e.rel >= TWIN || (e.rel as usize) < rels));
                if !node_ok(node.next) || (node.access as usize) >= access.max(1) || !aux_ok || !edges_ok {
                    return Err(bad("a node points outside the index"));
                }
            }
            for rel in &ix.rels {
                if (rel.src as usize) >= nodes || (rel.dst as usize) >= nodes || (rel.access as usize) >= access.max(1)
                {
                    return Err(bad("a relationship points outside the index"));
                }
            }
            if ix.keys.iter().chain(ix.names.iter()).any(|(_, (head, _))| !node_ok(head))
                || ix.bands_sorted.iter().any(|(_, n)| (*n as usize) >= nodes)
                || ix.ranges.iter().any(|(_, n)| (*n as usize) >= nodes)
            {
                return Err(bad("a key points outside the index"));
            }
            ix.finish_bulk();
            Ok((ix, tag))
        }
    }
}
