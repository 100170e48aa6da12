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

use dossier_stix::{OrgId, Viewer};

use super::Access;
use super::ids::{IdTable, KeyTable, Keyed};
use crate::normalize::{account, address, bank, email, ip, name, phone, website};
use crate::photo;
use crate::resume::{self, Signature};
use crate::wallet;

mod prepare;
use prepare::{Body, PreparedKey};
pub use prepare::{Prepared, prepare};

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
    /// An identity document, by the keyed hash of its number.
    IdDocument,
    /// A postal address (a STIX `location` with a `street_address`).
    Location,
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
            "x-dossier-identity-document" => Ty::IdDocument,
            "location" => Ty::Location,
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
            Ty::IdDocument => "x-dossier-identity-document",
            Ty::Location => "location",
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
    "x-dossier-identity-document",
    "location",
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
    IdDocument,
    Address,
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
/// Below this many stored photos a probe reads them all (a few microseconds); above, it
/// looks them up by hash chunks.
const PHOTO_SCAN: usize = 2048;

/// Profile photos by the four 16-bit chunks of their 64-bit hash. Two hashes within 8 bits
/// of each other differ in at most 2 bits on at least one chunk (8 bits over 4 chunks), so a
/// probe looks up, for each chunk, the 137 values within 2 bits of the probe's (1 + 16 +
/// 120): 548 look-ups whatever the number of photos, each returning the few photos that
/// share that chunk value, instead of reading every photo.
#[derive(Default, Clone)]
pub(crate) struct PhotoChunks {
    tables: [HashMap<u16, SmallVec<[u32; 2]>, Fast>; 4],
}

impl PhotoChunks {
    fn chunk(h: u64, i: usize) -> u16 {
        (h >> (16 * i)) as u16
    }

    pub(crate) fn insert(&mut self, h: u64, node: u32) {
        for (i, t) in self.tables.iter_mut().enumerate() {
            t.entry(Self::chunk(h, i)).or_default().push(node);
        }
    }

    /// Every node sharing a chunk within 2 bits of `h`'s (a superset of the photos within 8
    /// bits; duplicates possible).
    pub(crate) fn candidates(&self, h: u64) -> Vec<u32> {
        let mut out = Vec::new();
        for (i, t) in self.tables.iter().enumerate() {
            let c = Self::chunk(h, i);
            let mut probe = |v: u16| {
                if let Some(nodes) = t.get(&v) {
                    out.extend_from_slice(nodes);
                }
            };
            probe(c);
            for a in 0..16 {
                probe(c ^ (1 << a));
                for b in a + 1..16 {
                    probe(c ^ (1 << a) ^ (1 << b));
                }
            }
        }
        out
    }
}

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
    /// The same photos by chunks of their hash, for stores holding many.
    pub(crate) photo_chunks: PhotoChunks,
    /// LSH band (32-bit) → notes, sorted (bulk) plus a map for later additions.
    bands_sorted: Vec<(u32, u32)>,
    /// Where the bands whose top [`OFFSET_BITS`] bits are i start in `bands_sorted`
    /// (2^20 + 1 entries once built): a probe is one table read and a short search.
    band_offsets: Vec<u32>,
    bands_extra: HashMap<u32, Vec<u32>, Fast>,
    /// Bands of `bands_sorted` crowded, with the resumes every member sees
    /// ([`Access::open`]), for the resumes of their largest owner at least — how those are
    /// spread over their owners, and the band's postings of other owners when it is not
    /// crowded for every owner: a probe skips the largest owner's postings (or all of them)
    /// without reading each one's access. Later postings only add to a band (the summary
    /// then undercounts: a probe follows more than it must, never less); a resume that
    /// stops being open empties the map (probes then count what each viewer sees).
    open_crowded: HashMap<u32, (Crowd, Vec<u32>), Fast>,
    /// Key and name chains longer than a screen's fan-out that are too common, with what
    /// every member sees, for the nodes of their largest owner at least: how their nodes
    /// every member sees tied to something every member sees are spread over their owners
    /// ([`Crowd`]), and the chain's nodes of other owners (a value that common for every
    /// owner is given up without walking its chain; one that common for one owner's nodes
    /// is walked over the others' only). A node chained later by another owner joins that
    /// list; a change that could lower a count (a node leaving the chain, a tie unlinked, a
    /// neighbour cleared) drops the chain's entry, and lookups walk it again.
    open_common: HashMap<(bool, u64), (Crowd, Vec<u32>), Fast>,
    /// Objects with many ties, every one of which every member sees: the fewest actors any
    /// of those ties is counted against, with what every member sees (see
    /// `screen::query::Reach`). A value past its limit at that count weighs nothing through
    /// the object for any viewer — a viewer sees at least those ties, and more ties never
    /// lower the count — so a screen does not walk its ties (a VPN exit one member tied to
    /// thousands of actors). Counted when the index is built; a change to the object, to a
    /// tie's relationship, persona or actor drops the entry, and screens walk the ties again.
    pub(crate) fanned: HashMap<u32, Fanned, Fast>,
    pub(crate) access: Vec<Access>,
    access_ids: HashMap<Access, u32, Fast>,
    last_access: usize,
    unusable: usize,
    /// Stored phone numbers per calling-code bucket (see `score::phone_bucket`).
    phones: Vec<PartCount>,
    /// Individuals' names every member sees: how many carry each folded name part (by its
    /// keyed hash), and how many there are — how common a name is in the data.
    name_parts: HashMap<u64, PartCount, Fast>,
    /// Per organization (see [`PartCount`]): how many names every member sees each files.
    named_open: PartCount,
    /// How often two resumes of unrelated actors are alike, measured on the open resumes at
    /// each full build or snapshot read (see [`Index::measure_resumes`]).
    resume_tail: ResumeTails,
    /// Between [`Index::begin_bulk`] and [`Index::finish_bulk`]: band postings go straight
    /// into `bands_sorted`, unsorted, and are sorted once at the end.
    bulk: bool,
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

/// The installation's key for [`key_hash`] (SipHash's 128 bits), set once per process.
static HASH_KEY: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();

/// Keys the index's value hashes with `secret` (an installation secret): from then on a
/// key hash is a keyed hash (SipHash-1-3, a PRF), so the hashes a watched subject is kept
/// as reveal nothing without the key. Call once, before any index is built or loaded; a
/// later call with another secret is refused (`false`): every hash of a process uses one
/// key. Without a call the key is all zeros (tests, evaluations).
pub fn set_hash_key(secret: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest([b"dossier index key\x00".as_slice(), secret].concat());
    let k0 = u64::from_le_bytes(d[..8].try_into().unwrap_or_default());
    let k1 = u64::from_le_bytes(d[8..16].try_into().unwrap_or_default());
    HASH_KEY.get_or_init(|| (k0, k1)) == &(k0, k1)
}

/// The 64-bit keyed hash of one normalised value of `kind`: what the index keys values by,
/// and what a watched subject's values are kept as.
pub(crate) fn key_hash(kind: KeyKind, canonical: &str) -> u64 {
    let (k0, k1) = *HASH_KEY.get_or_init(|| (0, 0));
    let mut h = siphasher::sip::SipHasher13::new_with_keys(k0, k1);
    (kind as u8).hash(&mut h);
    canonical.hash(&mut h);
    h.finish()
}

impl Index {
    /// The node holding object `id`, if the index holds it.
    pub(crate) fn node_of(&self, id: &str) -> Option<u32> {
        let (ty, uuid) = parse_id(id)?;
        self.find(ty, uuid)
    }

    /// The two nodes relationship `id` ties, if the index holds it.
    pub(crate) fn rel_ends(&self, id: &str) -> Option<(u32, u32)> {
        let (ty, uuid) = parse_id(id)?;
        if ty != Ty::Relationship {
            return None;
        }
        let r = self.rel_ids.get(Ty::Relationship, split(uuid), &self.rel_uuids)?;
        let rel = self.rels.get(r as usize).filter(|r| r.alive)?;
        Some((rel.src, rel.dst))
    }

    /// The STIX id of relationship `r` (by its number in the index).
    pub(crate) fn rel_id(&self, r: u32) -> Option<String> {
        let u = self.rel_uuids.0.get(r as usize)?;
        Some(format_id(Ty::Relationship, (u128::from(u[0]) << 64) | u128::from(u[1])))
    }
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
            photo_chunks: PhotoChunks::default(),
            bands_sorted: Vec::new(),
            band_offsets: Vec::new(),
            bands_extra: HashMap::with_hasher(Fast::default()),
            open_crowded: HashMap::with_hasher(Fast::default()),
            open_common: HashMap::with_hasher(Fast::default()),
            fanned: HashMap::with_hasher(Fast::default()),
            access: Vec::new(),
            access_ids: HashMap::with_hasher(Fast::default()),
            last_access: 0,
            unusable: 0,
            phones: vec![PartCount::default(); super::score::PHONE_BUCKETS],
            name_parts: HashMap::with_hasher(Fast::default()),
            named_open: PartCount::default(),
            resume_tail: ResumeTails::default(),
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
    /// of what another member sees, and what every member sees is the same for all. Nor
    /// do the numbers of the one organization, other than those `on` the evidence's tie,
    /// that holds the most: one member filing thousands of open numbers of a country never
    /// lowers the weight of another member's number.
    pub(crate) fn phones_stored(&self, e164: &str, on: impl Fn(OrgId) -> bool) -> u32 {
        self.phones[super::score::phone_bucket(e164)].without_largest(on).max(1)
    }

    /// How many of the individuals every member sees would carry a folded name made of
    /// `parts` (each a part's keyed hash and, for a common part, its share in the population
    /// where it is most common) by chance: their number times the product of how common
    /// each part is — the larger of its share among their names and its population share.
    /// The share among their names is smoothed towards [`score::NAME_PART_SHARE`] as if
    /// [`score::NAME_PART_PSEUDO`] more names had been seen, so that a handful of names
    /// (a new installation) does not make every part look common. Only names every member
    /// sees count, as for phones; and for a name filed by `owner`, each part's count leaves
    /// out the names of the one other organization that holds the most with it (see
    /// [`PartCount`]), and the number of names leaves out those of the one other
    /// organization that files the most (see [`Index::named_for`]).
    pub(crate) fn name_holders_by_chance(&self, parts: &[(u64, Option<f64>)], owner: OrgId) -> f64 {
        use super::score::{NAME_PART_PSEUDO, NAME_PART_SHARE};
        let named = f64::from(self.named_for(owner));
        let share: f64 = parts
            .iter()
            .map(|(h, population)| {
                let seen = f64::from(self.name_parts.get(h).map_or(0, |c| c.without_largest_other(owner)));
                let measured = (seen + NAME_PART_PSEUDO * NAME_PART_SHARE) / (named + NAME_PART_PSEUDO);
                population.map_or(measured, |p| p.max(measured)).min(1.0)
            })
            .product();
        named.max(1.0) * share
    }

    /// Individuals' names every member sees, as counted for a name filed by `owner` (for
    /// [`Index::name_holders_by_chance`]): without the names of the one other organization
    /// that files the most. The count sets how many stored names a name could be by chance;
    /// one member filing thousands of open names, whatever they are, must not move the
    /// weight of another member's name (it would lower a name with common parts, and raise
    /// one with rare parts).
    pub(crate) fn named_for(&self, owner: OrgId) -> u32 {
        self.named_open.without_largest_other(owner)
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
                self.forget_fanned(s);
                self.forget_fanned(d);
            }
            return;
        }
        let n = self.node(p.ty, p.uuid);
        // A resume with band postings (from an earlier version) that every member saw.
        let open_postings = p.ty == Ty::Note
            && self.nodes[n as usize].aux != NONE
            && self.access.get(self.nodes[n as usize].access as usize).is_some_and(Access::open);
        self.clear_node(n);
        let node_access = access;
        match p.body {
            Body::Gone => return,
            Body::Actor { name } => self.set_text(n, name),
            Body::Identity { name, flags, name_key, parts } => {
                if let Some(h) = name_key {
                    let head = push_chain(&mut self.names, h, n);
                    let node = &mut self.nodes[n as usize];
                    node.next = head;
                    node.key = h;
                    node.access = node_access;
                    self.chained(true, h, n);
                    // Only what every member sees counts: a member's hidden names must not
                    // change the weight of what another member sees.
                    if self.access[access as usize].open() && !parts.is_empty() {
                        let owner = self.access[access as usize].owner;
                        self.named_open.add(owner);
                        for t in parts {
                            self.name_parts.entry(t).or_default().add(owner);
                        }
                    }
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
                        self.phones[usize::from(b)].add(self.access[access as usize].owner);
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
                    self.chained(false, h, target);
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
                    let moved = !listed || node.key != h;
                    node.key = h;
                    node.next = NONE;
                    node.flags |= PHOTO | ALIVE;
                    node.access = node_access;
                    if !listed {
                        self.photos.push(target);
                    }
                    // A new hash on a listed node: indexed under it too (the old entry is
                    // checked against the node's key at every probe, so it finds nothing).
                    if moved {
                        self.photo_chunks.insert(h, target);
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
        if open_postings && !self.access[node_access as usize].open() {
            // A resume that every member saw no longer is: the crowded bands were counted
            // with it.
            self.open_crowded.clear();
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
            self.forget_fanned(n);
            self.nodes[n as usize].edges.retain(|e| e.rel != r);
            self.forget_common(n);
        }
    }

    /// Takes a node out of every key, name and band it was in, and drops its own edges
    /// (a note's refs, twins); relationships stay, as they are objects of their own.
    fn clear_node(&mut self, n: u32) {
        // A placeholder (a relationship's end not yet filed) becoming an object changes the
        // ties through it, as a change to a filed one does.
        self.forget_fanned(n);
        if !self.nodes[n as usize].alive() {
            return;
        }
        // What this node was to its neighbours' ties (alive, open) may change.
        if !self.open_common.is_empty() {
            // (On the apply path: no allocation for the handful of edges most nodes have.)
            let neighbours: SmallVec<[u32; 8]> =
                self.nodes[n as usize].edges.iter().filter(|e| e.rel != TWIN).map(|e| e.other).collect();
            for o in neighbours {
                self.forget_common(o);
            }
        }
        // What an individual's name added to the name counts goes with it (it was counted
        // when it was chained under a name and every member saw it).
        let node = &self.nodes[n as usize];
        if node.ty == Ty::Identity
            && node.key != 0
            && self.access.get(node.access as usize).is_some_and(Access::open)
            && let Some(folded) = name::normalize(self.label(n))
        {
            let parts = prepare::part_hashes(&folded.tokens);
            if !parts.is_empty() {
                let owner = self.owner_of(n);
                self.named_open.sub(owner);
                for t in parts {
                    if let Some(c) = self.name_parts.get_mut(&t)
                        && c.sub(owner)
                    {
                        self.name_parts.remove(&t);
                    }
                }
            }
        }
        let twins: Vec<u32> = self.nodes[n as usize].edges.iter().filter(|e| e.rel == TWIN).map(|e| e.other).collect();
        for t in twins.iter().copied().chain(std::iter::once(n)) {
            self.unchain(t);
            // What the node added to the counts goes with it.
            let node = &self.nodes[t as usize];
            if is_identifier(node.ty) {
                let owner = self.access[node.access as usize].owner;
                if node.aux != NONE
                    && let Some(count) = self.phones.get_mut(node.aux as usize)
                {
                    count.sub(owner);
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
        self.open_common.remove(&(node.ty == Ty::Identity, h));
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
        self.finish(true);
    }

    /// [`Index::finish_bulk`], counting [`Index::fanned`] or not (a snapshot carries it).
    pub(crate) fn finish(&mut self, count_fanned: bool) {
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
        self.open_crowded.clear();
        let mut i = 0;
        while i < v.len() {
            let band = v[i].0;
            let run = v[i..].partition_point(|(b, _)| *b == band);
            if run > MAX_BAND_POSTINGS {
                let open = v[i..i + run]
                    .iter()
                    .map(|(_, n)| &self.access[self.nodes[*n as usize].access as usize])
                    .filter(|a| a.open())
                    .map(|a| a.owner);
                let crowd = Crowd::of(open);
                let top = crowd.top[0].0;
                if crowd.crowds_all(MAX_BAND_POSTINGS) {
                    self.open_crowded.insert(band, (crowd, Vec::new()));
                } else if crowd.crowds(top, MAX_BAND_POSTINGS) {
                    let others = v[i..i + run].iter().map(|(_, n)| *n).filter(|n| self.owner_of(*n) != top).collect();
                    self.open_crowded.insert(band, (crowd, others));
                }
            }
            i += run;
        }
        self.bands_sorted = v;
        self.count_open_common();
        if count_fanned {
            self.count_fanned();
        }
        self.measure_resumes();
        self.bands_extra.shrink_to_fit();
        self.nodes.shrink_to_fit();
        self.rels.shrink_to_fit();
        self.texts.shrink_to_fit();
        self.sigs.shrink_to_fit();
    }

    /// Measures how alike the resumes of unrelated actors are, twice: without the
    /// organization that holds the most open resumes, and without the one that holds the
    /// second most (see [`ResumeTails`]): one member filing thousands of open resumes alike
    /// never lowers the weight of another member's resume.
    fn measure_resumes(&mut self) {
        // The open resumes and who filed them, in node order: one pass over the nodes.
        let open: Vec<(u32, OrgId)> = (0..self.nodes.len() as u32)
            .filter(|&n| self.open_resume(&self.nodes[n as usize]))
            .map(|n| (n, self.owner_of(n)))
            .collect();
        let mut by_org: HashMap<OrgId, usize, Fast> = HashMap::default();
        for (_, org) in &open {
            *by_org.entry(*org).or_default() += 1;
        }
        let mut orgs: Vec<(OrgId, usize)> = by_org.into_iter().collect();
        orgs.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let largest = [orgs.first().map(|o| o.0), orgs.get(1).map(|o| o.0)];
        let without = [self.measure_tail(&open, largest[0]), self.measure_tail(&open, largest[1])];
        self.resume_tail = ResumeTails { largest, without };
    }

    /// Whether `node` is a resume every member sees.
    fn open_resume(&self, node: &Node) -> bool {
        node.ty == Ty::Note
            && node.alive()
            && node.aux != NONE
            && self.access.get(node.access as usize).is_some_and(Access::open)
    }

    /// [`RESUME_PAIRS`] pairs of the `open` resumes (but those of `without`) drawn at random
    /// (the same pairs for the same data; among at most [`RESUME_SAMPLE`] of them chosen by
    /// id), each of two different owners (the actor its persona is tied to, else what it is
    /// about), and the share of them at each similarity or more. Stored resumes are written
    /// for the same jobs as applicants' and from the same templates: that two unrelated ones
    /// come this close is how often an innocent's resume comes this close to a stored one.
    /// Fewer than [`RESUME_MIN_MEASURED`] open resumes measure nothing (the model's weights
    /// stand).
    fn measure_tail(&self, open: &[(u32, OrgId)], without: Option<OrgId>) -> Option<ResumeTail> {
        let total = open.iter().filter(|(_, org)| Some(*org) != without).count();
        if total < RESUME_MIN_MEASURED {
            return None;
        }
        // Pairs are drawn among at most RESUME_SAMPLE of them, chosen by their ids (so the
        // same data draws the same pairs, whichever order it was read in), and small enough
        // to stay in cache.
        let every = total.div_ceil(RESUME_SAMPLE) as u64;
        let mut notes: Vec<(u32, u32)> = open
            .iter()
            .filter(|(n, org)| {
                let node = &self.nodes[*n as usize];
                Some(*org) != without && (node.uuid[0] ^ node.uuid[1].rotate_left(17)).is_multiple_of(every)
            })
            .map(|(n, _)| (*n, self.resume_owner(*n)))
            .collect();
        notes.sort_unstable_by_key(|(n, _)| self.nodes[*n as usize].uuid);
        if notes.len() < 2 {
            return None;
        }
        let mut at_least = [0u64; resume::SIGNATURE_LEN + 1];
        let mut pairs = 0u64;
        let mut state = notes.len() as u64;
        // SplitMix64 over a counter: the same pairs for the same resumes.
        let mut next = || {
            let z = resume::splitmix(state);
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z
        };
        // The sample's signatures side by side: a pair reads two of them, not two nodes and
        // two signatures spread over the whole index (four cache misses a pair).
        let sigs: Vec<[u16; resume::SIGNATURE_LEN]> =
            notes.iter().map(|(n, _)| self.sigs[self.nodes[*n as usize].aux as usize]).collect();
        for _ in 0..RESUME_PAIRS {
            let (a, b) = ((next() % notes.len() as u64) as usize, (next() % notes.len() as u64) as usize);
            if notes[a].1 == notes[b].1 {
                continue;
            }
            let same = sigs[a].iter().zip(sigs[b].iter()).filter(|(x, y)| x == y).count();
            at_least[same] += 1;
            pairs += 1;
        }
        for i in (0..resume::SIGNATURE_LEN).rev() {
            at_least[i] += at_least[i + 1];
        }
        Some(ResumeTail { at_least, pairs, resumes: total as u64 })
    }

    /// Who a resume belongs to, for telling related resumes from unrelated ones: of the
    /// actors it is about (directly or through a persona tied to one), the first by id; else
    /// the first object it is about by id; else itself.
    fn resume_owner(&self, note: u32) -> u32 {
        let by_id = |n: &u32| (self.nodes[*n as usize].ty as u8, self.nodes[*n as usize].uuid);
        // Only ties every member sees: a hidden relationship must not regroup open resumes
        // (which pairs count as unrelated moves every member's resume weights).
        let open = |access: u32| self.access.get(access as usize).is_some_and(Access::open);
        let refs: SmallVec<[u32; 4]> =
            self.nodes[note as usize].edges.iter().filter(|e| e.rel == NOTE_REF).map(|e| e.other).collect();
        let actors = refs.iter().flat_map(|&r| {
            let node = &self.nodes[r as usize];
            let own = (node.ty == Ty::ThreatActor && open(node.access)).then_some(r);
            let tied = node
                .edges
                .iter()
                .filter(|e| {
                    let actor = &self.nodes[e.other as usize];
                    e.rel < TWIN
                        && self.rels.get(e.rel as usize).is_some_and(|rel| rel.alive && open(rel.access))
                        && actor.ty == Ty::ThreatActor
                        && actor.alive()
                        && open(actor.access)
                })
                .map(|e| e.other);
            own.into_iter().chain(tied)
        });
        actors.min_by_key(by_id).or_else(|| refs.iter().copied().min_by_key(by_id)).unwrap_or(note)
    }

    /// The measured likelihood ratio bound for a resume whose similarity with the closest
    /// of `compared` stored resumes is `s`: `1 / (compared × q(s))`, where `q(s)` is the
    /// share of unrelated pairs at least that alike — `None` when nothing was measured or
    /// no measured pair came that close (the model's weight then stands). `compared` is
    /// every open resume for a resume found through the index, an actor's few for the
    /// direct comparison.
    ///
    /// Measured without the one organization, other than `owner` (who filed the stored
    /// resume), that holds the most open resumes: however many open resumes one member
    /// files, and however alike, they never move the weight of another member's resume.
    pub(crate) fn resume_measured_weight(&self, s: f64, compared: Option<usize>, owner: OrgId) -> Option<f64> {
        let t = self.resume_tail.for_owner(owner)?;
        let i = ((s * resume::SIGNATURE_LEN as f64).round() as usize).min(resume::SIGNATURE_LEN);
        // Pairs alike by shared phrases, not copies: a copy (a public template several
        // actors' resumes are taken from) is weighed by the copies discount instead.
        let copy = (COPY_SIMILARITY * resume::SIGNATURE_LEN as f64) as usize;
        if i >= copy {
            return None;
        }
        let alike = t.at_least[i] - t.at_least[copy];
        if alike == 0 {
            return None;
        }
        let q = alike as f64 / t.pairs.max(1) as f64;
        let n = compared.map_or(t.resumes as f64, |k| k.max(1) as f64);
        Some(-(n * q).min(1.0).log10())
    }

    /// Nodes whose key is `(kind, canonical)` that may matter to `viewer`: `None` when
    /// more than `max` of them are visible to the viewer (a value that common is not
    /// evidence). Keys are compared by their 64-bit hash: among millions of keys a false
    /// agreement has a probability of about 1e-13.
    ///
    /// Only what the viewer may see decides whether the value is too common: another
    /// member's hidden copies of a value never switch the viewer's own matches off. Hidden
    /// nodes beyond `max` are left out (they could only add a restricted hit).
    pub(crate) fn lookup(&self, kind: KeyKind, h: u64, max: usize, viewer: &Viewer) -> Option<Vec<u32>> {
        let map = if kind == KeyKind::Name { &self.names } else { &self.keys };
        let Some((head, len)) = map.get(h) else { return Some(Vec::new()) };
        // A chain no longer than `max` is taken whole (the usual case).
        if len as usize <= max {
            let mut out = Vec::with_capacity(len as usize);
            let mut cur = head;
            while cur != NONE {
                let node = &self.nodes[cur as usize];
                if holds_key(node.ty, kind) && node.key == h && node.alive() {
                    out.push(cur);
                }
                cur = node.next;
            }
            return Some(out);
        }
        // A longer one counts, per owner, the nodes the viewer may see tied to something it
        // may see: too many even without any one other organization's, and an owner's nodes
        // are too common to follow (see `Crowd`) — so one member's copies, however many, never
        // switch off another member's value.
        if let Some((crowd, others)) = self.open_common.get(&(kind == KeyKind::Name, h)) {
            if crowd.crowds_all(max) {
                // Too common for every owner's nodes with what every member sees.
                return None;
            }
            let top = crowd.top[0].0;
            if crowd.crowds(top, max) {
                // The largest owner's nodes are too common for every viewer: only the
                // others' are read (its count, what every member sees of it, stands in).
                let rest = others.iter().copied().filter(|n| self.owner_of(*n) != top);
                return self.holders(rest, kind, h, max, viewer, Some((top, crowd.top[0].1)));
            }
        }
        // No summary (a change near the chain dropped it until the next build): walked. A
        // value common across owners is given up part-way; one made common by a single
        // owner's nodes (a store with one contributor) is walked whole, as the others'
        // nodes may come anywhere in it.
        let mut chain = Vec::with_capacity(len as usize);
        let mut cur = head;
        while cur != NONE {
            chain.push(cur);
            cur = self.nodes[cur as usize].next;
        }
        self.holders(chain.into_iter(), kind, h, max, viewer, None)
    }

    /// The holders of key `h` among `nodes` that a screen follows for `viewer` (see
    /// [`Index::lookup`]), in the order given, copies tied to nothing after the rest;
    /// `skipped` is an owner whose nodes were left out, with how many of them count.
    fn holders(
        &self,
        nodes: impl Iterator<Item = u32>,
        kind: KeyKind,
        h: u64,
        max: usize,
        viewer: &Viewer,
        skipped: Option<(OrgId, u32)>,
    ) -> Option<Vec<u32>> {
        // Visible and tied (true), or hidden (false), in order; visible copies tied to
        // nothing the viewer may see apart: they are one value on record, however many
        // spellings of it were filed, do not make it common, and a few stand for all.
        let mut out: Vec<(u32, bool)> = Vec::new();
        let mut lone = Vec::new();
        let (mut tied, mut hidden) = (0usize, 0usize);
        // Past the limit, the owners are counted again at each doubling: once the value is
        // too common for every owner's nodes it stays so whatever follows (each node adds
        // to the total at least as much as to the largest owner's count), so a chain common
        // across owners is given up without walking the rest of it.
        let mut check_at = max + 1;
        for n in nodes {
            let node = &self.nodes[n as usize];
            if !(holds_key(node.ty, kind) && node.key == h && node.alive()) {
                continue;
            }
            if self.visible_to(node.access, viewer) {
                if self.tied_for(n, viewer) {
                    tied += 1;
                    out.push((n, true));
                    if tied == check_at {
                        check_at = check_at.saturating_mul(2);
                        let owners = out.iter().filter(|(_, t)| *t).map(|(n, _)| self.owner_of(*n));
                        if Crowd::counted(owners, skipped).crowds_all(max) {
                            return None;
                        }
                    }
                } else {
                    lone.push(n);
                }
            } else if hidden < max {
                hidden += 1;
                out.push((n, false));
            }
        }
        let crowded = skipped.is_some() || tied > max;
        if crowded {
            let owners = out.iter().filter(|(_, t)| *t).map(|(n, _)| self.owner_of(*n));
            let crowd = Crowd::counted(owners, skipped);
            if crowd.crowds_all(max) {
                return None;
            }
            // The nodes of an owner for whose nodes the value is too common are not followed,
            // tied, hidden or lone alike.
            let keep = |n: &u32| !crowd.crowds(self.owner_of(*n), max);
            out.retain(|(n, _)| keep(n));
            lone.retain(keep);
        }
        if lone.len() > LONE_KEPT {
            lone.sort_unstable_by_key(|n| (self.nodes[*n as usize].ty as u8, self.nodes[*n as usize].uuid));
            lone.truncate(LONE_KEPT);
        }
        let found: Vec<u32> = out.into_iter().map(|(n, _)| n).chain(lone).collect();
        // Nothing left of a value too common to follow: given up, as for every owner.
        if crowded && found.is_empty() {
            return None;
        }
        Some(found)
    }

    /// Fills [`Index::open_common`] from the chains as they are.
    fn count_open_common(&mut self) {
        let mut common = HashMap::with_hasher(Fast::default());
        let fanout = crate::screen::query::MAX_FANOUT;
        for (is_name, map) in [(false, &self.keys), (true, &self.names)] {
            for (h, (head, len)) in map.iter() {
                if (len as usize) <= fanout {
                    continue;
                }
                let mut chain = Vec::with_capacity(len as usize);
                let mut cur = head;
                while cur != NONE {
                    let node = &self.nodes[cur as usize];
                    if node.key == h && node.alive() {
                        chain.push(cur);
                    }
                    cur = node.next;
                }
                let open = chain
                    .iter()
                    .filter(|n| self.is_open(self.nodes[**n as usize].access) && self.tied_openly(**n))
                    .map(|n| self.owner_of(*n));
                let crowd = Crowd::of(open);
                let top = crowd.top[0].0;
                if crowd.crowds(top, fanout) {
                    chain.retain(|n| self.owner_of(*n) != top);
                    common.insert((is_name, h), (crowd, chain));
                }
            }
        }
        self.open_common = common;
    }

    /// A node chained under key `h` (a name's when `is_name`): it joins the other owners'
    /// nodes of the chain's [`Index::open_common`] entry, if any.
    fn chained(&mut self, is_name: bool, h: u64, n: u32) {
        let owner = self.owner_of(n);
        if let Some((crowd, others)) = self.open_common.get_mut(&(is_name, h))
            && crowd.top[0].0 != owner
        {
            others.push(n);
        }
    }

    fn is_open(&self, access: u32) -> bool {
        self.access.get(access as usize).is_some_and(Access::open)
    }

    /// [`Index::tied_for`] for a viewer who sees only what every member sees.
    fn tied_openly(&self, n: u32) -> bool {
        self.tied_where(n, |access| self.is_open(access))
    }

    /// Drops the [`Index::fanned`] entries a change at `n` may affect: a tie runs from an
    /// object through a persona to an actor (or to the actor directly), so `n`'s own, and
    /// for a persona or an actor those of the objects whose ties run through it.
    fn forget_fanned(&mut self, n: u32) {
        if self.fanned.is_empty() {
            return;
        }
        self.fanned.remove(&n);
        let node = &self.nodes[n as usize];
        if !matches!(node.ty, Ty::Identity | Ty::ThreatActor) {
            return;
        }
        for e in node.edges.iter().filter(|e| e.rel != TWIN) {
            self.fanned.remove(&e.other);
            let other = &self.nodes[e.other as usize];
            if node.ty == Ty::ThreatActor && other.ty == Ty::Identity {
                for e2 in other.edges.iter().filter(|e| e.rel != TWIN) {
                    self.fanned.remove(&e2.other);
                }
            }
        }
    }

    /// Drops the [`Index::open_common`] entries of `n`'s key and its twins' keys.
    fn forget_common(&mut self, n: u32) {
        if self.open_common.is_empty() {
            return;
        }
        let node = &self.nodes[n as usize];
        self.open_common.remove(&(node.ty == Ty::Identity, node.key));
        for e in &node.edges {
            if e.rel == TWIN {
                let twin = &self.nodes[e.other as usize];
                self.open_common.remove(&(twin.ty == Ty::Identity, twin.key));
            }
        }
    }

    /// Whether an identifier is tied, through a live relationship or note the viewer may
    /// see, to a live object the viewer may see.
    fn tied_for(&self, n: u32, viewer: &Viewer) -> bool {
        self.tied_where(n, |access| self.visible_to(access, viewer))
    }

    /// Whether an identifier is tied, through a live relationship or note whose access
    /// `sees`, to a live object whose access `sees`.
    fn tied_where(&self, n: u32, sees: impl Fn(u32) -> bool) -> bool {
        let p = self.nodes[n as usize].primary(n);
        self.nodes[p as usize].edges.iter().any(|e| {
            if e.rel == TWIN {
                return false;
            }
            let other = &self.nodes[e.other as usize];
            let rel_ok = e.rel == NOTE_REF || {
                let r = &self.rels[e.rel as usize];
                r.alive && sees(r.access)
            };
            rel_ok && other.alive() && sees(other.access)
        })
    }

    /// Resume notes sharing an LSH band with `sig` that may matter to `viewer`, and which
    /// of `sig`'s bands were crowded (more than [`MAX_BAND_POSTINGS`] resumes the viewer
    /// sees) for whose resumes — see [`Crowd`]. A band crowded for some owners' resumes is
    /// still followed for the others'.
    pub(crate) fn resume_candidates(&self, sig: &Signature, viewer: &Viewer) -> (Vec<u32>, Crowded) {
        let mut out = Vec::new();
        let mut crowded = Crowded::default();
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
            if let Some((crowd, others)) = self.open_crowded.get(&band) {
                // Crowded with what every member sees: for this viewer too — for every
                // owner's resumes, or for the largest owner's, whose postings are skipped
                // and the others' followed (unless the viewer sees more than the limit).
                let top = crowd.top[0].0;
                if crowd.crowds_all(MAX_BAND_POSTINGS) {
                    crowded.all += 1;
                    continue;
                }
                let rest: Vec<u32> = others
                    .iter()
                    .copied()
                    .chain(extra.iter().copied().filter(|n| self.owner_of(*n) != top))
                    .filter(|n| self.visible_to(self.nodes[*n as usize].access, viewer))
                    .collect();
                if rest.len() > MAX_BAND_POSTINGS {
                    crowded.all += 1;
                } else {
                    *crowded.by_owner.entry(top).or_default() += 1;
                    out.extend(rest);
                }
                continue;
            }
            // A band shared by this many resumes comes from boilerplate everybody writes,
            // or from a document hundreds copy: it finds nothing worth the comparisons. Only
            // the resumes the viewer may see count towards that (another member's hidden
            // copies never switch the viewer's own near-duplicates off), and the hidden ones
            // of so crowded a band are left out (they could only add a restricted hit).
            let visible: Vec<u32> =
                postings.filter(|n| self.visible_to(self.nodes[*n as usize].access, viewer)).collect();
            if visible.len() <= MAX_BAND_POSTINGS {
                out.extend(visible);
                continue;
            }
            let crowd = Crowd::of(visible.iter().map(|n| self.owner_of(*n)));
            if crowd.crowds_all(MAX_BAND_POSTINGS) {
                crowded.all += 1;
                continue;
            }
            // Crowded only for the resumes of the organization that stored most of it (one
            // member's copies, however many, never switch off another member's resumes):
            // the others' are followed.
            let top = crowd.top[0].0;
            if crowd.crowds(top, MAX_BAND_POSTINGS) {
                *crowded.by_owner.entry(top).or_default() += 1;
            }
            out.extend(visible.into_iter().filter(|n| !crowd.crowds(self.owner_of(*n), MAX_BAND_POSTINGS)));
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
        (kept, crowded)
    }

    /// The organization that stored node `n`.
    pub(crate) fn owner_of(&self, n: u32) -> OrgId {
        self.access[self.nodes[n as usize].access as usize].owner
    }

    /// Stored photos within [`photo::NEAR`] bits of `h`, with their distance, in node order:
    /// a linear scan of the photos while they are few, else a look-up by hash chunks
    /// ([`PhotoChunks`]); either way each candidate's distance is read from its node.
    pub(crate) fn photo_candidates(&self, h: photo::PhotoHash) -> Vec<(u32, u32)> {
        let near = |n: u32| {
            let node = &self.nodes[n as usize];
            let d = (node.key ^ h.0).count_ones();
            (node.alive() && node.flags & PHOTO != 0 && d <= photo::NEAR).then_some((n, d))
        };
        if self.photos.len() <= PHOTO_SCAN {
            return self.photos.iter().filter_map(|&n| near(n)).collect();
        }
        let mut found: Vec<(u32, u32)> = self.photo_chunks.candidates(h.0).into_iter().filter_map(near).collect();
        found.sort_unstable();
        found.dedup();
        found
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
            open_phones: self.phones.iter().map(|p| p.total() as usize).sum(),
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
pub(crate) const MAX_BAND_POSTINGS: usize = 256;

/// How many of the names (or phone numbers of a country) every member sees hold a name part:
/// in all, and per organization.
/// A part's share among the stored names sets how much a name made of it weighs; counted
/// per organization, one member filing a thousand personas named like another member's
/// never makes that member's name common (its names are set aside for the other's).
#[derive(Debug, Clone, Default)]
pub(crate) struct PartCount {
    total: u32,
    by: SmallVec<[(OrgId, u32); 1]>,
}

impl PartCount {
    pub(crate) fn add(&mut self, org: OrgId) {
        self.add_n(org, 1);
    }

    pub(crate) fn add_n(&mut self, org: OrgId, n: u32) {
        self.total = self.total.saturating_add(n);
        match self.by.iter_mut().find(|(o, _)| *o == org) {
            Some(e) => e.1 = e.1.saturating_add(n),
            None => self.by.push((org, n)),
        }
    }

    /// Takes one of `org`'s away; true when none is left.
    fn sub(&mut self, org: OrgId) -> bool {
        self.total = self.total.saturating_sub(1);
        if let Some(i) = self.by.iter().position(|(o, _)| *o == org) {
            self.by[i].1 = self.by[i].1.saturating_sub(1);
            if self.by[i].1 == 0 {
                self.by.swap_remove(i);
            }
        }
        self.total == 0
    }

    /// The count without the names of the organization other than `owner` that holds the
    /// most of them.
    pub(crate) fn without_largest_other(&self, owner: OrgId) -> u32 {
        self.without_largest(|o| o == owner)
    }

    /// The count without those of the organization, not one of those `exempt`, that holds
    /// the most.
    pub(crate) fn without_largest(&self, exempt: impl Fn(OrgId) -> bool) -> u32 {
        let other = self.by.iter().filter(|(o, _)| !exempt(*o)).map(|(_, c)| *c).max().unwrap_or(0);
        self.total.saturating_sub(other)
    }

    pub(crate) fn total(&self) -> u32 {
        self.total
    }

    /// Each organization's count.
    pub(crate) fn per_org(&self) -> &[(OrgId, u32)] {
        &self.by
    }
}

/// The ties of an object with many ties that a screen need not walk (see [`Index::fanned`]).
#[derive(Debug, Clone)]
pub(crate) struct Fanned {
    /// The organization whose edges reach the most actors through its data alone, every
    /// member seeing every tie.
    pub(crate) top: OrgId,
    /// How many actors those edges reach: past a value's limit, they weigh nothing for
    /// any viewer.
    pub(crate) alone: u32,
    /// The actors all of the object's ties every member sees reach without those of the
    /// organization whose data alone reaches the most: past a value's limit, the value is
    /// common for everyone.
    pub(crate) everyone: u32,
    /// Edges (by position) through that organization's RED data only, whose ties it and
    /// the ISAC's staff see and no one else, and how many actors they reach: hidden from
    /// every other viewer, and past a value's limit weighing nothing for them either.
    pub(crate) private: Box<[u32]>,
    pub(crate) private_alone: u32,
    /// The object itself is that organization's RED data, shared with no one: the edges
    /// counted in `alone` are seen by it and the ISAC's staff only.
    pub(crate) object_private: bool,
    /// The object's other edges (by position), walked.
    pub(crate) exceptions: Box<[u32]>,
}

/// How the resumes of a crowded LSH band are spread over the organizations that stored
/// them: how many there are, and the two owners with most (their counts).
///
/// The band is crowded *for the resumes of* an organization when it holds more than
/// [`MAX_BAND_POSTINGS`] even without the resumes of any one other organization: so no
/// member's copies alone — a flood of another member's team resume — can switch off a
/// resume the member did not store, while a band crowded by an organization's own data
/// (an installation with one contributor) is crowded for it as before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Crowd {
    total: u32,
    top: [(OrgId, u32); 2],
}

impl Crowd {
    fn of(owners: impl Iterator<Item = OrgId>) -> Self {
        Self::counted(owners, None)
    }
    /// As [`Crowd::of`], with `more` entries of one owner counted besides.
    fn counted(owners: impl Iterator<Item = OrgId>, more: Option<(OrgId, u32)>) -> Self {
        let mut counts: HashMap<OrgId, u32, Fast> = HashMap::default();
        for o in owners {
            *counts.entry(o).or_default() += 1;
        }
        if let Some((o, c)) = more {
            *counts.entry(o).or_default() += c;
        }
        let mut top = [(OrgId::MIN, 0u32); 2];
        for (o, c) in &counts {
            if *c > top[0].1 || (*c == top[0].1 && *o < top[0].0) {
                top[1] = top[0];
                top[0] = (*o, *c);
            } else if *c > top[1].1 || (*c == top[1].1 && *o < top[1].0) {
                top[1] = (*o, *c);
            }
        }
        Self { total: counts.values().sum(), top }
    }
    /// Crowded for `owner`'s entries: more than `limit` without the largest other
    /// owner's.
    pub(crate) fn crowds(&self, owner: OrgId, limit: usize) -> bool {
        let other = if self.top[0].0 == owner { self.top[1].1 } else { self.top[0].1 };
        (self.total - other) as usize > limit
    }
    /// Crowded for every owner's entries (for the largest owner's too, as its largest
    /// other owner holds no more than the largest).
    pub(crate) fn crowds_all(&self, limit: usize) -> bool {
        (self.total - self.top[0].1) as usize > limit
    }
}

/// The bands of a resume probe crowded for every owner's resumes (`all`) and those crowded
/// only for one organization's (`by_owner`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Crowded {
    pub(crate) all: usize,
    pub(crate) by_owner: HashMap<OrgId, usize>,
}

impl Crowded {
    /// Crowded bands for the resumes of `owner`.
    pub(crate) fn for_owner(&self, owner: OrgId) -> usize {
        self.all + self.by_owner.get(&owner).copied().unwrap_or(0)
    }
}

/// Pairs of unrelated resumes compared to measure how alike such resumes are.
const RESUME_PAIRS: usize = 400_000;

/// From this similarity two resumes are copies of one document (or of one template),
/// not texts sharing phrases.
const COPY_SIMILARITY: f64 = 0.6;

/// At most this many open resumes are drawn from to measure their likeness.
const RESUME_SAMPLE: usize = 20_000;

/// Open resumes needed before their likeness is measured.
const RESUME_MIN_MEASURED: usize = 200;

/// The measured likeness of unrelated resumes: of `pairs` pairs, how many agree in at
/// least `i` of the signature's slots, for every `i`; and how many open resumes there are.
#[derive(Debug, Clone)]
struct ResumeTail {
    at_least: [u64; resume::SIGNATURE_LEN + 1],
    pairs: u64,
    resumes: u64,
}

/// The likeness of unrelated resumes, measured per organization: without the
/// organization that holds the most open resumes, and without the one that holds the
/// second most. A stored resume is weighed by the measure without the largest
/// organization other than its owner: the open resumes of any one other member, however
/// many and however alike, never move its weight (two members together can, as two
/// members' names or numbers can).
#[derive(Debug, Clone, Default)]
struct ResumeTails {
    /// The two organizations with the most open resumes, the largest first.
    largest: [Option<OrgId>; 2],
    /// Measured without `largest[0]`, and without `largest[1]` (without no one when there
    /// is no such organization); `None`: too few resumes to measure anything.
    without: [Option<ResumeTail>; 2],
}

impl ResumeTails {
    /// The measure a resume filed by `owner` is weighed by.
    fn for_owner(&self, owner: OrgId) -> Option<&ResumeTail> {
        let i = usize::from(self.largest[0] == Some(owner));
        self.without[i].as_ref()
    }
}
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
        Ty::IdDocument => kind == KeyKind::IdDocument,
        Ty::Location => kind == KeyKind::Address,
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
    use super::prepare::{quick_account, quick_rel, quick_value};
    use super::*;

    /// A resume's signature and a note holding it, its copies made with [`note`] and [`open`].
    fn resume_note() -> (Signature, String) {
        let text = "Senior blockchain engineer with eight years building decentralized exchanges, cross-chain \
                    bridges and smart contract audits for fintech startups; led remote teams across time zones.";
        let json = serde_json::json!({"type": "note", "content": text,
            "object_refs": ["identity--00000000-0000-4000-8000-000000000011"]});
        (resume::signature(text).unwrap(), json.to_string())
    }

    fn note(i: usize) -> String {
        format!("note--00000000-0000-4000-8000-{i:012}")
    }

    /// What `owner` stores GREEN.
    fn open(owner: OrgId) -> Access {
        Access { tlp: dossier_stix::Tlp::Green, owner, recipients: Vec::new(), staff_only: false, confidence: None }
    }

    /// A band holding more resumes that every member sees than the limit is skipped for
    /// every viewer without reading its postings; once some of them stop being open (made
    /// RED by their owner) the band is counted per viewer again: a member who cannot see
    /// the RED copies finds the rest, another index's stale count never hides them.
    #[test]
    fn crowded_bands_follow_what_stops_being_open() {
        let (sig, json) = resume_note();
        let copies = MAX_BAND_POSTINGS + 2;
        let mut ix = Index::new();
        ix.begin_bulk(copies);
        for i in 0..copies {
            ix.upsert(&note(i), &json, open(1));
        }
        ix.finish_bulk();
        let member = Viewer { org: 3, role: dossier_stix::Role::Member, isac: false };
        assert!(!ix.open_crowded.is_empty(), "{} postings", ix.bands_sorted.len());
        // Crowded for the resumes of their one owner, for every viewer.
        let own = |n| Crowded { all: 0, by_owner: HashMap::from([(1, n)]) };
        assert_eq!(ix.resume_candidates(&sig, &member), (Vec::new(), own(resume::BANDS)), "crowded for everyone");
        // Three copies become RED: 255 open copies are left, under the limit.
        for i in 0..3 {
            ix.upsert(&note(i), &json, Access { tlp: dossier_stix::Tlp::Red, ..open(1) });
        }
        assert!(ix.open_crowded.is_empty());
        let (found, crowded) = ix.resume_candidates(&sig, &member);
        assert_eq!((found.len(), crowded), (copies - 3, Crowded::default()), "the open copies, not the RED ones");
        // The owner sees all of them: still crowded for it.
        let owner = Viewer { org: 1, ..member };
        assert_eq!(ix.resume_candidates(&sig, &owner), (Vec::new(), own(resume::BANDS)));
    }

    /// One member's copies of a resume, however many, crowd the bands for that member's
    /// resumes only: another member's copy in the same bands is still found, from the
    /// bulk-built summary and when counted per viewer. Copies by several members crowd the
    /// bands for everyone's.
    #[test]
    fn one_members_copies_never_crowd_out_another_members_resume() {
        let (sig, json) = resume_note();
        let member = Viewer { org: 3, role: dossier_stix::Role::Member, isac: false };
        for bulk in [true, false] {
            let mut ix = Index::new();
            if bulk {
                ix.begin_bulk(400);
            }
            ix.upsert(&note(0), &json, open(1));
            for i in 1..=300 {
                ix.upsert(&note(i), &json, open(2));
            }
            if bulk {
                ix.finish_bulk();
            }
            let (found, crowded) = ix.resume_candidates(&sig, &member);
            assert_eq!(found, vec![ix.node_of(&note(0)).unwrap()], "bulk {bulk}");
            assert_eq!(crowded, Crowded { all: 0, by_owner: HashMap::from([(2, resume::BANDS)]) }, "bulk {bulk}");
            // A third member's 300 copies: crowded for everyone's resumes.
            for i in 301..=600 {
                ix.upsert(&note(i), &json, open(4));
            }
            let (found, crowded) = ix.resume_candidates(&sig, &member);
            assert!(found.is_empty(), "bulk {bulk}");
            assert_eq!(crowded.for_owner(1), resume::BANDS, "bulk {bulk}");
        }
    }

    /// How alike unrelated resumes are is measured on open resumes of different owners
    /// only: resumes written from a small pool of stock sentences make a similarity that
    /// the model weighs lower, hidden resumes change nothing, a team's own resumes (one
    /// owner) measure nothing, and copies (from 0.6) are left to the copies discount.
    #[test]
    fn resume_likeness_is_measured_on_open_resumes_of_different_actors() {
        use crate::screen::score;
        use dossier_stix::Tlp;
        let sentences: Vec<String> = (0..24)
            .map(|i| {
                format!("delivered project number {i} on time with a distributed team using modern tooling and care")
            })
            .collect();
        let mut state = 7u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let texts: Vec<String> = (0..600)
            .map(|_| (0..8).map(|_| sentences[next() % sentences.len()].as_str()).collect::<Vec<_>>().join(". "))
            .collect();
        let access = |tlp| Access { tlp, owner: 1, recipients: Vec::new(), staff_only: false, confidence: None };
        let build = |n: usize, red: usize, one_owner: bool| {
            let mut ix = Index::new();
            ix.begin_bulk(n + red);
            for (i, text) in texts.iter().take(n + red).enumerate() {
                let about = if one_owner { 1 } else { i + 1 };
                let refs = [format!("identity--00000000-0000-4000-8000-{about:012}")];
                let json = serde_json::json!({"type": "note", "content": text, "object_refs": refs}).to_string();
                let tlp = if i < n { Tlp::Green } else { Tlp::Red };
                ix.upsert(&format!("note--00000000-0000-4000-8000-{i:012}"), &json, access(tlp));
            }
            ix.finish_bulk();
            ix
        };
        let few = build(150, 0, false);
        assert!(few.resume_measured_weight(0.4, None, 1).is_none(), "150 open resumes measure nothing");
        let ix = build(300, 0, false);
        let w = ix.resume_measured_weight(0.4, None, 1).expect("measured");
        assert!(w < score::resume_weight(0.4), "{w} vs the model's {}", score::resume_weight(0.4));
        // Compared with one actor's two resumes instead of all 300: 150 times rarer.
        let k = ix.resume_measured_weight(0.4, Some(2), 1).expect("measured");
        assert!(k > w, "{k} vs {w}");
        assert!(ix.resume_measured_weight(0.7, None, 1).is_none(), "copies are weighed by the copies discount");
        // 300 RED resumes of the same kind: the same measure.
        let hidden = build(300, 300, false);
        assert_eq!(hidden.resume_measured_weight(0.4, None, 1), Some(w));
        // One owner's resumes are related to each other: no unrelated pair, nothing measured.
        assert!(build(300, 0, true).resume_measured_weight(0.4, None, 1).is_none());
        // A member's RED relationships tying every one of those personas to one (open) actor
        // regroup nothing: the measure others' weights follow stays the same. The same
        // ties made GREEN make the resumes one actor's: nothing unrelated is left to measure.
        let tie_all = |tlp| {
            let mut ix = build(300, 0, false);
            let actor = "threat-actor--00000000-0000-4000-8000-000000009999";
            ix.upsert(actor, &serde_json::json!({"type": "threat-actor", "name": "T"}).to_string(), access(Tlp::Green));
            for i in 0..300 {
                let j = serde_json::json!({"type": "relationship", "relationship_type": "attributed-to",
                    "source_ref": format!("identity--00000000-0000-4000-8000-{:012}", i + 1), "target_ref": actor});
                ix.upsert(&format!("relationship--00000000-0000-4000-8000-{i:012}"), &j.to_string(), access(tlp));
            }
            ix.finish_bulk();
            ix.resume_measured_weight(0.4, None, 1)
        };
        assert_eq!(tie_all(Tlp::Red), Some(w));
        assert_eq!(tie_all(Tlp::Green), None);
    }

    /// One member filing thousands of open resumes alike (each about another persona: pairs
    /// of "unrelated" resumes at 0.3-0.6) lowers the measured weight of its own resumes, never
    /// that of another member's; two members doing it together lower everyone's.
    #[test]
    fn one_members_resumes_alike_never_lower_another_members_resume() {
        use dossier_stix::Tlp;
        let mut state = 11u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        // Honest resumes: eight sentences of a pool of 200 (unrelated pairs share little).
        // The flood: eight of a pool of 10 (unrelated pairs share about half).
        let mut text = |pool: usize, tag: &str| {
            (0..8)
                .map(|_| format!("{tag} built system number {} for the payments group with rust", next() % pool))
                .collect::<Vec<_>>()
                .join(". ")
        };
        let honest: Vec<String> = (0..600).map(|_| text(200, "honestly")).collect();
        let flood: Vec<String> = (0..2000).map(|_| text(10, "flood")).collect();
        // Who files what: `honest_by(k)` the k-th honest resume, then the flood's ranges.
        let build = |honest_by: &dyn Fn(usize) -> OrgId, floods: &[(OrgId, std::ops::Range<usize>)]| {
            let mut ix = Index::new();
            ix.begin_bulk(3000);
            let mut i = 0usize;
            let mut put = |ix: &mut Index, text: &str, owner: OrgId| {
                i += 1;
                let refs = [format!("identity--00000000-0000-4000-8000-{i:012}")];
                let json = serde_json::json!({"type": "note", "content": text, "object_refs": refs}).to_string();
                let access =
                    Access { tlp: Tlp::Green, owner, recipients: Vec::new(), staff_only: false, confidence: None };
                ix.upsert(&format!("note--00000000-0000-4000-8000-{i:012}"), &json, access);
            };
            for (k, t) in honest.iter().enumerate() {
                put(&mut ix, t, honest_by(k));
            }
            for (owner, range) in floods {
                for t in &flood[range.clone()] {
                    put(&mut ix, t, *owner);
                }
            }
            ix.finish_bulk();
            ix
        };
        let weight = |ix: &Index, owner: OrgId| ix.resume_measured_weight(0.4, None, owner);
        // The 600 honest resumes, measured by themselves.
        let w = weight(&build(&|_| 1, &[]), 1).expect("measured");
        // Members 1 and 3 file 300 each; member 2 floods 2,000: member 1's and member 3's
        // resumes are weighed exactly as on the honest ones alone.
        let split = |k: usize| if k < 300 { 1 } else { 3 };
        let one = build(&split, &[(2, 0..2000)]);
        assert_eq!(weight(&one, 1), Some(w));
        assert_eq!(weight(&one, 3), Some(w));
        // Member 2's own resumes are weighed with its flood in: lower.
        let own = weight(&one, 2).expect("measured");
        assert!(own < w - 0.5, "member 2's own: {own} vs {w}");
        // Two members' floods, 1,000 each: member 1's weight falls too.
        let both = weight(&build(&split, &[(2, 0..1000), (4, 1000..2000)]), 1).expect("measured");
        assert!(both < w - 0.5, "two members' floods: {both} vs {w}");
    }

    /// The chunk look-up finds exactly what reading every hash finds, at every distance up
    /// to the limit (pigeonhole), for hashes made to sit at each distance from the probe.
    #[test]
    fn photo_chunks_find_every_hash_within_eight_bits() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut chunks = PhotoChunks::default();
        let mut stored = Vec::new();
        for n in 0..20_000u32 {
            let h = next();
            chunks.insert(h, n);
            stored.push(h);
        }
        for _ in 0..200 {
            let probe = next();
            // Plant hashes at distances 0..=10 from the probe, bits spread over the chunks.
            for d in 0..=10u32 {
                let mut h = probe;
                let mut flipped = 0;
                while flipped < d {
                    let bit = 1u64 << (next() % 64);
                    if (h ^ probe) & bit == 0 {
                        h ^= bit;
                        flipped += 1;
                    }
                }
                let n = stored.len() as u32;
                chunks.insert(h, n);
                stored.push(h);
            }
            let mut want: Vec<u32> = (0..stored.len() as u32)
                .filter(|&n| (stored[n as usize] ^ probe).count_ones() <= photo::NEAR)
                .collect();
            let mut got: Vec<u32> = chunks
                .candidates(probe)
                .into_iter()
                .filter(|&n| (stored[n as usize] ^ probe).count_ones() <= photo::NEAR)
                .collect();
            want.sort_unstable();
            got.sort_unstable();
            got.dedup();
            assert_eq!(got, want);
            assert!(want.len() >= 9, "the planted hashes at distance 0..=8 are found");
        }
    }

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
pub mod snapshot;
