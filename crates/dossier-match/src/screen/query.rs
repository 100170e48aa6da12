//! Screening an applicant against the index: normalise each value, find the stored objects
//! with the same key, follow their ties to personas and actors, weigh the evidence per actor
//! and decide. Every object on a tie must be visible to the caller (the one policy,
//! [`dossier_stix::policy::may_see`]); ties through hidden objects only count towards a
//! restricted hit.

use super::index::{Edge, key_hash};
use crate::resume::Signature;
use std::collections::BTreeSet;

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::net::IpAddr;

use dossier_stix::OrgId;
use dossier_stix::Tlp;
use dossier_stix::policy::{self, Viewer};

use super::index::{
    ACCOUNT_ID, Crowded, Fanned, GUESSED, Index, KeyKind, MAX_BAND_POSTINGS, NOTE_REF, STOLEN, TWIN, Ty,
};
use super::input::Applicant;
use super::score::{self, Kind};

mod probes;
pub(crate) mod reach;
use super::{Candidate, Decision, Evidence, Hit, MatchKind, PersonaRef, Restricted, Screening, Warning};
use crate::normalize::{account, address, bank, email, ip, name, phone, website};
use crate::{photo, resume, wallet};
use reach::{Chain, Reach};

/// Screening settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Whom a restricted hit tells the caller to contact.
    pub contact: String,
    /// Region for national phone numbers when the applicant's data gives none.
    pub default_region: Option<String>,
    /// Posterior from which a candidate with strong evidence is a match.
    pub match_at: f64,
    /// Posterior from which a candidate is review.
    pub review_at: f64,
    /// Candidates listed per applicant.
    pub max_matches: usize,
    /// The ISAC's key for identity-document numbers (stored and screened as keyed hashes
    /// only); without it, documents given are a warning.
    pub id_document_key: Option<std::sync::Arc<[u8]>>,
    /// log10 prior odds that a screened applicant is an operative ([`score::PRIOR_LOG_ODDS`]
    /// unless the ISAC set its own share of operatives among those screened).
    pub prior_log_odds: f64,
    /// A search, not a screen: list everyone who holds a value, however common (up to
    /// [`SEARCH_FANOUT`] holders), strongest first. A screen weighs a common value down to
    /// nothing, stops following it, and does not list candidates below a posterior of
    /// about 1% — noise to a screener, but what an analyst searching a name wants to see.
    /// A search's readings of one typed value (a name, a website) are not identifiers a
    /// person gave, so none counts as absent.
    pub list_all: bool,
    /// Ties the screening organization judged false positives: they do not count, and the
    /// answer lists them.
    pub suppressions: Option<std::sync::Arc<super::Suppressions>>,
}

/// Crowded bands (see `Index::resume_candidates`) from which a resume is taken for a copy
/// of a public template: more than a third of its 32. A near copy (similarity 0.8) of a
/// document shares each band with probability 0.4, about 13 of them; a resume that only
/// shares stock phrases with many meets a crowded band now and then. Measured on the
/// independent generator at 100,000 actors: from 4 to 24 bands the same 148 innocents with
/// a public template are no longer flagged; at 4 and 8, 11 and 2 weak-only operatives whose
/// team resume grew out of a template lose their `review`, from 12 on one.
const TEMPLATE_CROWDED_BANDS: usize = 12;

/// The weight of non-name evidence for an actor above which an applicant's resume is
/// compared with that actor's resumes directly (not only through the index's bands).
const TARGETED_RESUME_LEAD: f64 = 1.5;

/// How a watched name's hint starts: its parts follow (see [`folded_parts`]).
const NAME_PARTS: &str = "parts:";

/// A folded name's parts, each once: its keyed hash and, for a common part, its share in
/// the population where it is most common.
fn folded_parts(key: &str) -> Vec<(u64, Option<f64>)> {
    let mut tokens: Vec<&str> = key.split(' ').filter(|t| !t.is_empty()).collect();
    tokens.sort_unstable();
    tokens.dedup();
    tokens.into_iter().map(|t| (key_hash(KeyKind::Name, t), name::population_share(t))).collect()
}

impl Default for Options {
    fn default() -> Self {
        Self {
            contact: "the ISAC analysts".into(),
            default_region: Some("US".into()),
            match_at: score::MATCH_POSTERIOR,
            review_at: score::REVIEW_POSTERIOR,
            max_matches: 10,
            id_document_key: None,
            prior_log_odds: score::PRIOR_LOG_ODDS,
            list_all: false,
            suppressions: None,
        }
    }
}

/// What a screen reads: an applicant's values, or a watched subject's keyed hashes.
#[derive(Clone, Copy)]
enum Source<'a> {
    Applicant(&'a Applicant),
    Watched(&'a Watched),
}

/// A watched subject's values as kept: keyed hashes and signatures only (see
/// [`Index::watch`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Watched {
    #[serde(rename = "ref")]
    pub reference: String,
    pub probes: Vec<WatchProbe>,
    /// The resume's MinHash signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Vec<u32>>,
    /// Profile photos' perceptual hashes (hex).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
}

/// One watched value: its field, evidence kind, key space and keyed hash.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WatchProbe {
    pub field: String,
    pub kind: u8,
    pub key: u8,
    pub hash: u64,
    /// For phones, the calling code (`+1`, `+82`): the per-country weight needs it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
    /// Which value of the field it reads (several readings of one value count once).
    pub origin: usize,
}

impl Watched {
    /// The key hashes a change to the index may meet (what to look a subject up by).
    pub fn hashes(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.probes.iter().map(|p| p.hash).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

fn kind_of(v: u8) -> Option<Kind> {
    crate::kinds::EVIDENCE.iter().map(|e| e.kind).find(|k| *k as u8 == v)
}

fn key_kind_of(v: u8) -> Option<KeyKind> {
    const ALL: [KeyKind; 11] = [
        KeyKind::Email,
        KeyKind::Phone,
        KeyKind::Wallet,
        KeyKind::Account,
        KeyKind::Ip,
        KeyKind::Document,
        KeyKind::Name,
        KeyKind::Bank,
        KeyKind::Website,
        KeyKind::IdDocument,
        KeyKind::Address,
    ];
    ALL.iter().copied().find(|k| *k as u8 == v)
}

/// Ties not walked (see `Index::fanned`), for the ties the viewer sees and for those hidden
/// from it: for each, the organization whose data alone they run through and how many actors
/// they reach.
#[derive(Debug, Default)]
struct Unwalked(Vec<(OrgId, usize)>, Vec<(OrgId, usize)>);

/// One normalised input value.
struct Probe {
    field: &'static str,
    input: String,
    normalized: String,
    rules: Vec<&'static str>,
    kind: Kind,
    key: KeyKind,
    /// Weight taken off for an ambiguous reading (log10 of the number of readings).
    penalty: f64,
    /// The input value the probe reads (field, position): several readings of one value
    /// (a phone's regions, a bank account's IBAN and national form) count once.
    origin: (&'static str, usize),
}

/// Where a tie leads: an actor, else a persona tied to no actor, else a lone object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Group {
    Actor(u32),
    Persona(u32),
    Lone(u32),
}

impl Group {
    /// The actor, persona or object the group stands for.
    fn node(self) -> u32 {
        match self {
            Group::Actor(n) | Group::Persona(n) | Group::Lone(n) => n,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Tie {
    group: Group,
    persona: Option<u32>,
    visible: bool,
    confidence: Option<u8>,
    /// The most restrictive TLP on the way (the objects and relationships of the tie): the
    /// evidence is handled under it.
    tlp: Tlp,
    /// The organizations whose data the tie runs through.
    chain: Chain,
}

/// A group's evidence, weighed.
struct Scored {
    g: Group,
    kept: Vec<Ev>,
    /// The kinds of identifier the applicant gave that agree with nothing of the group
    /// (counted only when no identifier agrees: see [`score::absence_weight`]).
    absent: Vec<&'static str>,
    llr: f64,
    strong: bool,
    posterior: f64,
    decision: Decision,
}

/// Evidence before it is written out.
struct Ev {
    probe: usize,
    kind: Kind,
    node: u32,
    persona: Option<u32>,
    weight: f64,
    match_kind: MatchKind,
    similarity: Option<f64>,
    stored: Option<String>,
    confidence: Option<u8>,
    /// The most restrictive TLP of the tie.
    tlp: Tlp,
    notes: Vec<String>,
}

fn min_conf(a: Option<u8>, b: Option<u8>) -> Option<u8> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Index {
    pub(crate) fn visible_to(&self, access: u32, viewer: &Viewer) -> bool {
        self.visible(access, viewer)
    }

    fn tlp_of(&self, access: u32) -> Tlp {
        self.access[access as usize].tlp
    }

    fn visible(&self, access: u32, viewer: &Viewer) -> bool {
        let a = &self.access[access as usize];
        if a.staff_only && !viewer.is_isac_staff() {
            return false;
        }
        policy::may_see(viewer, &policy::Access { tlp: a.tlp, owner: a.owner, recipients: &a.recipients })
    }

    #[allow(clippy::too_many_arguments)]
    fn ties_of_persona(
        &self,
        p: u32,
        visible: bool,
        conf: Option<u8>,
        tlp: Tlp,
        chain: Chain,
        viewer: &Viewer,
        out: &mut Vec<Tie>,
    ) {
        let before = out.len();
        let tlp = tlp.max(self.tlp_of(self.nodes[p as usize].access));
        let chain = chain.with(self.owner_of(p));
        for e in &self.nodes[p as usize].edges {
            if e.rel == NOTE_REF || e.rel == TWIN {
                continue;
            }
            // Most of a persona's edges lead to identifiers: the type decides before the
            // relationship is read (a cache miss saved per edge).
            let other = &self.nodes[e.other as usize];
            if other.ty != Ty::ThreatActor || !other.alive() {
                continue;
            }
            let rel = &self.rels[e.rel as usize];
            if !rel.alive {
                continue;
            }
            let rel_access = &self.access[rel.access as usize];
            out.push(Tie {
                group: Group::Actor(e.other),
                persona: Some(p),
                visible: visible && self.visible(rel.access, viewer) && self.visible(other.access, viewer),
                confidence: min_conf(conf, rel_access.confidence),
                tlp: tlp.max(rel_access.tlp).max(self.tlp_of(other.access)),
                chain: chain.with(rel_access.owner).with(self.owner_of(e.other)),
            });
        }
        // A persona tied to no actor the viewer may see stands for itself (hidden ties to
        // actors only add restricted hits beside it).
        if !out[before..].iter().any(|t| t.visible) && (visible || out.len() == before) {
            out.push(Tie { group: Group::Persona(p), persona: Some(p), visible, confidence: conf, tlp, chain });
        }
    }

    /// Every way `start` ties to an actor or persona.
    fn ties(&self, start: u32, viewer: &Viewer) -> Vec<Tie> {
        self.ties_within(start, viewer, usize::MAX, &mut Unwalked::default()).unwrap_or_default()
    }

    /// The ties through one edge of an identifier, note or other object (`vis`: whether
    /// the object is visible; `own_tlp`, `own`: its marking and owner).
    fn edge_ties(&self, e: &Edge, vis: bool, own_tlp: Tlp, own: Chain, viewer: &Viewer, out: &mut Vec<Tie>) {
        if e.rel == TWIN {
            return;
        }
        let other = &self.nodes[e.other as usize];
        if !other.alive() {
            return;
        }
        // A note's references are its owner's; a relationship is its creator's.
        let (rel_vis, conf, rel_tlp, chain) = if e.rel == NOTE_REF {
            (true, None, Tlp::Clear, own)
        } else {
            let rel = &self.rels[e.rel as usize];
            if !rel.alive {
                return;
            }
            let a = &self.access[rel.access as usize];
            (self.visible(rel.access, viewer), a.confidence, a.tlp, Chain::of(a.owner))
        };
        let tlp = own_tlp.max(rel_tlp);
        match other.ty {
            Ty::Identity => {
                let v = vis && rel_vis && self.visible(other.access, viewer);
                self.ties_of_persona(e.other, v, conf, tlp, chain, viewer, out);
            }
            Ty::ThreatActor => out.push(Tie {
                group: Group::Actor(e.other),
                persona: None,
                visible: vis && rel_vis && self.visible(other.access, viewer),
                confidence: conf,
                tlp: tlp.max(self.tlp_of(other.access)),
                chain: chain.with(self.owner_of(e.other)),
            }),
            _ => {}
        }
    }

    /// The one organization whose data every tie of holder `n` the viewer sees runs
    /// through, from what is read without walking the ties — the owner of a persona; for
    /// another object, the owner of every relationship tying it (a note's references are
    /// its owner's) — how many ties at most, and whether the holder has relationships the
    /// viewer does not see; `None` when there are several, when `n` is hidden, or when a
    /// relationship the viewer sees leads to an object it does not (walked, so that what it
    /// sees stands apart). Relationships hidden from the viewer are left out: whether a
    /// holder is walked, and what it counts, never depend on data the viewer may not see.
    fn sole_owner(&self, n: u32, viewer: &Viewer) -> Option<(OrgId, usize, bool)> {
        let node = &self.nodes[self.nodes[n as usize].primary(n) as usize];
        if !node.alive() || !self.visible(node.access, viewer) {
            return None;
        }
        let hidden_rel = |e: &Edge| {
            e.rel != TWIN && e.rel != NOTE_REF && {
                let rel = &self.rels[e.rel as usize];
                rel.alive && !self.visible(rel.access, viewer)
            }
        };
        match node.ty {
            Ty::Identity | Ty::ThreatActor => {
                // A persona's ties run to actors: hidden when the relationship or the actor is.
                let hidden = node.edges.iter().any(|e| {
                    hidden_rel(e)
                        || (e.rel != TWIN
                            && e.rel != NOTE_REF
                            && !self.visible(self.nodes[e.other as usize].access, viewer))
                });
                Some((self.owner_of(n), 1, hidden))
            }
            _ => {
                let mut owner = None;
                let mut ties = 0;
                let mut hidden = false;
                for e in node.edges.iter().filter(|e| e.rel != TWIN) {
                    if hidden_rel(e) {
                        hidden = true;
                        continue;
                    }
                    let o = if e.rel == NOTE_REF {
                        self.access[node.access as usize].owner
                    } else {
                        let rel = &self.rels[e.rel as usize];
                        if !rel.alive {
                            continue;
                        }
                        self.access[rel.access as usize].owner
                    };
                    let other = &self.nodes[e.other as usize];
                    if !other.alive() {
                        continue;
                    }
                    if !self.visible(other.access, viewer) {
                        return None;
                    }
                    if owner.is_some_and(|w| w != o) {
                        return None;
                    }
                    owner = Some(o);
                    ties += 1;
                }
                owner.map(|o| (o, ties, hidden))
            }
        }
    }

    /// Whether everything on the ties through edge `e` (the relationship, the persona, its
    /// relationships to actors and the actors) is either seen by every member or RED data
    /// of `org` shared with no one: so that `org` and the ISAC's staff see these ties and no
    /// one else does.
    fn private_to(&self, e: &Edge, org: OrgId) -> bool {
        let ok = |access: u32| {
            let a = &self.access[access as usize];
            a.open() || (a.tlp == Tlp::Red && a.owner == org && a.recipients.is_empty() && !a.staff_only)
        };
        if e.rel == TWIN || e.rel == NOTE_REF || !ok(self.rels[e.rel as usize].access) {
            return false;
        }
        let other = &self.nodes[e.other as usize];
        ok(other.access)
            && (other.ty != Ty::Identity
                || other.edges.iter().filter(|p| p.rel != NOTE_REF && p.rel != TWIN).all(|p| {
                    let actor = &self.nodes[p.other as usize];
                    actor.ty != Ty::ThreatActor || (ok(self.rels[p.rel as usize].access) && ok(actor.access))
                }))
    }

    /// The ties of `start`, or `None` as soon as they reach more than `limit` groups the
    /// viewer may see even without the groups of the one organization whose data alone
    /// reaches the most (see [`Reach`]): common for everyone. Ties that weigh nothing for
    /// any viewer by the index's summary (see `Index::fanned`) are not walked: `skipped`
    /// gets, for ties the viewer sees (`.0`) and for ties hidden from it (`.1`), the
    /// organization whose data alone they run through and how many actors they reach.
    fn ties_within(&self, start: u32, viewer: &Viewer, limit: usize, skipped: &mut Unwalked) -> Option<Vec<Tie>> {
        let start = self.nodes[start as usize].primary(start);
        let node = &self.nodes[start as usize];
        let mut out = Vec::new();
        if !node.alive() {
            return Some(out);
        }
        let vis = self.visible(node.access, viewer);
        let own_tlp = self.tlp_of(node.access);
        let own = Chain::of(self.owner_of(start));
        match node.ty {
            Ty::ThreatActor => {
                out.push(Tie {
                    group: Group::Actor(start),
                    persona: None,
                    visible: vis,
                    confidence: None,
                    tlp: own_tlp,
                    chain: own,
                });
            }
            Ty::Identity => self.ties_of_persona(start, vis, None, own_tlp, own, viewer, &mut out),
            _ => {
                // The ties of the organization whose data alone reaches the most actors, as
                // counted when the index was built (see `Index::fanned`): when they weigh
                // nothing for any viewer, only the object's other edges are walked, and
                // that organization's actors are counted without being walked.
                if let Some(f) = self.fanned.get(&start)
                    && f.alone as usize > limit
                {
                    if f.everyone as usize > limit {
                        return None;
                    }
                    // The organization's RED edges: its own and the ISAC's staff see them (and
                    // they weigh nothing as its open ones); for everyone else they are
                    // hidden, counted apart, and weigh nothing past the limit too.
                    let private = f.private_alone as usize;
                    let walk = |edges: &[u32], out: &mut Vec<Tie>| {
                        for i in edges {
                            if let Some(e) = node.edges.get(*i as usize) {
                                self.edge_ties(e, vis, own_tlp, own, viewer, out);
                            }
                        }
                    };
                    if viewer.org == f.top || viewer.is_isac_staff() {
                        skipped.0.push((f.top, f.alone as usize + private));
                    } else if f.object_private {
                        // An object of the organization's RED data: every tie of it is
                        // hidden from this viewer, counted apart.
                        skipped.1.push((f.top, f.alone as usize));
                    } else {
                        skipped.0.push((f.top, f.alone as usize));
                        if private > limit {
                            skipped.1.push((f.top, private));
                        } else {
                            walk(&f.private, &mut out);
                        }
                    }
                    walk(&f.exceptions, &mut out);
                    // The organization's ties are there, and every member sees them.
                    return Some(out);
                }
                // Whether the ties are common for everyone is checked each time their
                // number doubles past the limit (a tie adds at most one group).
                let mut check_at = limit.saturating_add(1);
                for e in &node.edges {
                    self.edge_ties(e, vis, own_tlp, own, viewer, &mut out);
                    // Only visible actors count, so hidden data never changes what the
                    // caller's own evidence weighs.
                    if out.len() >= check_at {
                        check_at = check_at.saturating_mul(2);
                        if Reach::of(out.iter().filter(|t| t.visible)).beyond(limit) {
                            return None;
                        }
                    }
                }
                // An object tied to nothing the viewer may see stands alone.
                if !out.iter().any(|t| t.visible) && (vis || out.is_empty()) {
                    out.push(Tie {
                        group: Group::Lone(start),
                        persona: None,
                        visible: vis,
                        confidence: None,
                        tlp: own_tlp,
                        chain: own,
                    });
                }
            }
        }
        Some(out)
    }

    /// Fills [`Index::fanned`]: for each object with [`FANNED_EDGES`] edges or more, the
    /// organization whose edges, every one of them seen by every member and running
    /// through that organization's data only, reach the most actors — how many, and the
    /// object's other edges.
    pub(super) fn count_fanned(&mut self) {
        // Sees what every member sees, and nothing more.
        let everyone = Viewer { org: OrgId::MIN, role: dossier_stix::Role::Member, isac: false };
        let mut fanned: std::collections::HashMap<u32, Fanned, foldhash::fast::FixedState> = Default::default();
        let mut ties = Vec::new();
        for n in 0..self.nodes.len() as u32 {
            let node = &self.nodes[n as usize];
            if node.edges.len() < FANNED_EDGES || matches!(node.ty, Ty::Identity | Ty::ThreatActor) || !node.alive() {
                continue;
            }
            // An object every member sees (who sees which of its ties is then up to the ties
            // alone), or one organization's RED object shared with no one: its ties are
            // then sorted as that organization sees them.
            let access = &self.access[node.access as usize];
            let object_private = !access.open();
            let looks = if object_private {
                if access.tlp != Tlp::Red || !access.recipients.is_empty() || access.staff_only {
                    continue;
                }
                Viewer { org: access.owner, role: dossier_stix::Role::Member, isac: false }
            } else {
                everyone
            };
            let vis = true;
            let (own_tlp, own) = (self.tlp_of(node.access), Chain::of(self.owner_of(n)));
            // Per edge: the one organization all its ties run through alone, when every
            // member sees them all (open) or when they are that organization's RED data
            // only (private); and the actors each organization's such edges reach.
            let mut open: Vec<Tie> = Vec::new();
            let mut kinds: Vec<Option<(OrgId, bool)>> = Vec::with_capacity(node.edges.len());
            let mut groups: HashMap<OrgId, (BTreeSet<Group>, BTreeSet<Group>)> = HashMap::default();
            for e in &node.edges {
                ties.clear();
                self.edge_ties(e, vis, own_tlp, own, &looks, &mut ties);
                let single = ties
                    .first()
                    .and_then(|t| t.chain.single())
                    .filter(|_| ties.iter().all(|t| t.chain == ties[0].chain && !matches!(t.group, Group::Lone(_))));
                let kind = single.and_then(|o| {
                    if object_private {
                        // Seen by the object's organization, and by no other member.
                        (o == looks.org && ties.iter().all(|t| t.visible) && self.private_to(e, o)).then_some((o, true))
                    } else if ties.iter().all(|t| t.visible) {
                        Some((o, true))
                    } else if ties.iter().all(|t| !t.visible) && self.private_to(e, o) {
                        Some((o, false))
                    } else {
                        None
                    }
                });
                if let Some((o, is_open)) = kind {
                    let g = groups.entry(o).or_default();
                    if is_open { &mut g.0 } else { &mut g.1 }.extend(ties.iter().map(|t| t.group));
                }
                kinds.push(kind);
                open.extend(ties.iter().filter(|t| t.visible).copied());
            }
            let Some((top, (reached, private))) =
                groups.into_iter().max_by(|a, b| a.1.0.len().cmp(&b.1.0.len()).then(b.0.cmp(&a.0)))
            else {
                continue;
            };
            let positions = |want: Option<(OrgId, bool)>, of: bool| -> Vec<u32> {
                (0..node.edges.len() as u32).filter(|i| (kinds[*i as usize] == want) == of).collect()
            };
            let private_edges = positions(Some((top, false)), true);
            let exceptions: Vec<u32> = positions(Some((top, true)), false)
                .into_iter()
                .filter(|i| kinds[*i as usize] != Some((top, false)))
                .collect();
            if reached.len() < FANNED_REACHED || exceptions.len() > node.edges.len() / 2 {
                continue;
            }
            let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            // (What every member sees of the object: nothing, when it is RED.)
            let everyone_count = if object_private { 0 } else { Reach::of(open.iter()).for_everyone() };
            fanned.insert(
                n,
                Fanned {
                    top,
                    alone: count(reached.len()),
                    everyone: count(everyone_count),
                    private_alone: count(private.len()),
                    object_private,
                    private: private_edges.into(),
                    exceptions: exceptions.into(),
                },
            );
        }
        self.fanned = fanned;
    }

    /// The personas of a group the viewer may see, for fuzzy name comparison, with the
    /// most restrictive TLP of the persona and its tie to the group.
    fn personas_of(&self, g: Group, viewer: &Viewer) -> Vec<(u32, Tlp)> {
        match g {
            Group::Persona(p) => vec![(p, self.tlp_of(self.nodes[p as usize].access))],
            Group::Lone(_) => Vec::new(),
            Group::Actor(a) => self.nodes[a as usize]
                .edges
                .iter()
                .filter(|e| e.rel != NOTE_REF && e.rel != TWIN)
                .filter(|e| {
                    let o = &self.nodes[e.other as usize];
                    let r = &self.rels[e.rel as usize];
                    o.ty == Ty::Identity
                        && o.alive()
                        && r.alive
                        && self.visible(o.access, viewer)
                        && self.visible(r.access, viewer)
                })
                .map(|e| {
                    let tlp = self
                        .tlp_of(self.nodes[e.other as usize].access)
                        .max(self.tlp_of(self.rels[e.rel as usize].access))
                        .max(self.tlp_of(self.nodes[a as usize].access));
                    (e.other, tlp)
                })
                .collect(),
        }
    }

    /// Screens one applicant.
    pub fn screen(&self, a: &Applicant, viewer: &Viewer, opts: &Options) -> Screening {
        self.screen_source(Source::Applicant(a), viewer, opts)
    }

    /// What a watched subject is kept as: each value's field, evidence kind, key space and
    /// keyed hash (never the value), the resume's MinHash signature and the photos'
    /// perceptual hashes. Fuzzy names and IP ranges need the value itself and are not
    /// kept; phones keep their calling code (for the per-country weight).
    pub fn watch(&self, a: &Applicant, opts: &Options) -> Watched {
        let mut warnings = Vec::new();
        let probes = self.probes(a, opts, &mut warnings);
        let mut out = Vec::new();
        for p in probes.iter().filter(|p| !p.penalty.is_nan()) {
            let mut kind = p.kind;
            let mut hint = String::new();
            if p.key == KeyKind::Name {
                // The name's parts as keyed hashes, with a common part's population share
                // (which says only that the name holds a part that common), for its weight.
                let parts: Vec<String> = folded_parts(&p.normalized)
                    .into_iter()
                    .map(|(h, share)| share.map_or(format!("{h:016x}"), |s| format!("{h:016x}={s}")))
                    .collect();
                hint = format!("{NAME_PARTS}{}", parts.join(" "));
            }
            if p.key == KeyKind::Phone {
                // Settled now, from the value: a VoIP or toll-free number weighs less.
                if let Ok(n) = phone::normalize(&p.normalized, None) {
                    if n.flags.iter().any(|f| *f != "personal") {
                        kind = Kind::PhoneCheap;
                    }
                    hint = n.canonical.chars().take(4).collect();
                }
            }
            out.push(WatchProbe {
                field: p.field.to_owned(),
                kind: kind as u8,
                key: p.key as u8,
                hash: key_hash(p.key, &p.normalized),
                hint,
                origin: p.origin.1,
            });
        }
        Watched {
            reference: a.reference.clone(),
            probes: out,
            resume: a.resume_text.as_deref().and_then(resume::signature).map(|s| s.0.to_vec()),
            photos: a.photos.iter().filter_map(|h| photo::PhotoHash::parse(h).ok()).map(|h| h.hex()).collect(),
        }
    }

    /// How many stored individuals would carry a name probe's folded name by chance
    /// ([`Index::name_holders_by_chance`]), from its folded key or, for a watched name, from
    /// its parts kept in the hint; `None` when a watched name was kept without them.
    fn name_chance(&self, normalized: &str, owner: OrgId) -> Option<f64> {
        let parts: Vec<(u64, Option<f64>)> = match normalized.strip_prefix(NAME_PARTS) {
            Some(kept) => kept
                .split(' ')
                .filter_map(|p| {
                    let (h, share) = p.split_once('=').map_or((p, None), |(h, s)| (h, s.parse::<f64>().ok()));
                    u64::from_str_radix(h, 16).ok().map(|h| (h, share))
                })
                .collect(),
            None => folded_parts(normalized),
        };
        (!parts.is_empty()).then(|| self.name_holders_by_chance(&parts, owner))
    }

    /// Screens a watched subject from its keyed hashes: the answer a screen of the same
    /// values gives, but for fuzzy names and IP ranges.
    pub fn screen_watched(&self, w: &Watched, viewer: &Viewer, opts: &Options) -> Screening {
        self.screen_source(Source::Watched(w), viewer, opts)
    }

    /// The key hashes a change to `id` may newly meet: the object's own keys; for a persona
    /// or an actor also those of what is tied to it (a persona attributed to an actor after
    /// its identifiers were filed); for a relationship those of both ends, the same way.
    /// Nothing when the index does not hold it.
    pub fn key_hashes_of(&self, id: &str) -> Vec<u64> {
        let own = |n: u32, out: &mut Vec<u64>| {
            let node = &self.nodes[n as usize];
            out.push(node.key);
            out.extend(node.edges.iter().filter(|e| e.rel == TWIN).map(|e| self.nodes[e.other as usize].key));
        };
        let around = |n: u32, out: &mut Vec<u64>| {
            own(n, out);
            if matches!(self.nodes[n as usize].ty, Ty::Identity | Ty::ThreatActor) {
                for e in self.nodes[n as usize].edges.iter().filter(|e| e.rel != TWIN) {
                    own(e.other, out);
                }
            }
        };
        let mut out = Vec::new();
        if let Some(n) = self.node_of(id) {
            around(n, &mut out);
        } else if let Some((a, b)) = self.rel_ends(id) {
            around(a, &mut out);
            around(b, &mut out);
        }
        out.retain(|k| *k != 0);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn screen_source(&self, src: Source<'_>, viewer: &Viewer, opts: &Options) -> Screening {
        let mut warnings = Vec::new();
        let (mut probes, hashes, keyed) = match src {
            Source::Applicant(a) => {
                let probes = self.probes(a, opts, &mut warnings);
                let hashes: Vec<u64> = probes.iter().map(|p| key_hash(p.key, &p.normalized)).collect();
                let n = probes.len();
                (probes, hashes, vec![false; n])
            }
            Source::Watched(w) => {
                let mut probes = Vec::new();
                let mut hashes = Vec::new();
                for p in &w.probes {
                    let (Some(kind), Some(key)) = (kind_of(p.kind), key_kind_of(p.key)) else { continue };
                    let Some(field) = crate::kinds::field(&p.field).map(|f| f.name) else { continue };
                    probes.push(Probe {
                        field,
                        input: "(a watched value, kept as a keyed hash)".into(),
                        normalized: p.hint.clone(),
                        rules: Vec::new(),
                        kind,
                        key,
                        penalty: 0.0,
                        origin: (field, p.origin),
                    });
                    hashes.push(p.hash);
                }
                let n = probes.len();
                (probes, hashes, vec![true; n])
            }
        };
        // Evidence per group, split by visibility.
        let mut shown: HashMap<Group, Vec<Ev>> = HashMap::default();
        let mut hidden: HashMap<Group, Vec<Ev>> = HashMap::default();
        // Indexed: a probe's kind and penalty are settled on its first hit, in place.
        #[allow(clippy::needless_range_loop)]
        for pi in 0..probes.len() {
            let probe = &probes[pi];
            let mut found: Vec<(u32, Tie, MatchKind, Option<String>)> = Vec::new();
            // A value held by this many objects weighs nothing after the commonness discount
            // (1.5 − log10 64 < 0 for a name): it is not evidence, and not worth following.
            let fanout = if opts.list_all { SEARCH_FANOUT } else { MAX_FANOUT };
            let Some(nodes) = self.lookup(probe.key, hashes[pi], fanout, viewer) else { continue };
            if probe.penalty.is_nan() {
                // A guessed reading: on a hit, keep it only if the numbering plan agrees, and
                // weigh it by how many regions the number fits (k readings, log10 k).
                if nodes.is_empty() {
                    continue;
                }
                let valid = phone::readings(&probe.input, None);
                let Some(reading) = valid.iter().find(|v| v.canonical == probe.normalized) else { continue };
                let cheap = reading.flags.iter().any(|f| *f != "personal");
                let penalty = (valid.len().max(1) as f64).log10();
                let p = &mut probes[pi];
                p.penalty = penalty;
                if cheap {
                    p.kind = Kind::PhoneCheap;
                }
            } else if probe.key == KeyKind::Phone && probe.kind == Kind::Phone && !nodes.is_empty() && !keyed[pi] {
                let cheap = match phone::normalize(&probe.normalized, None) {
                    Ok(n) => n.flags.iter().any(|f| *f != "personal"),
                    Err(_) => true,
                };
                if cheap {
                    probes[pi].kind = Kind::PhoneCheap;
                }
            }
            let probe = &probes[pi];
            // A value tied to more actors than its weight can bear (10^weight, after which
            // the commonness discount leaves nothing) is common infrastructure — a VPN
            // exit, a popular name — not evidence: stop following it.
            let limit = if opts.list_all { SEARCH_FANOUT } else { 10f64.powf(probe.kind.weight()).min(1e6) as usize };
            // Counted per organization (see `Reach`): one member's ties, however many,
            // never make another member's value common. Checked each time the visible
            // ties double past the limit.
            let mut common = false;
            let mut check_at = limit.saturating_add(1);
            let mut seen = 0;
            let mut skipped = Unwalked::default();
            // Organizations for whose data the count of actors is already past the limit (it
            // only grows): ties through their data weigh nothing any more. A later holder
            // all of whose ties the viewer sees run through one such organization's data —
            // a persona of its own, or an object whose every relationship it made — is not
            // walked for them, and counts as one actor per tie. A holder with relationships
            // hidden from the viewer is walked for its hidden ties only (a restricted hit
            // through another member's hidden data on it), so what the viewer sees is the
            // same whether or not such data exists.
            let mut saturated: Vec<OrgId> = Vec::new();
            let mut not_walked: Vec<(OrgId, usize)> = Vec::new();
            for n in nodes {
                if !saturated.is_empty()
                    && let Some((owner, ties, hidden)) = self.sole_owner(n, viewer)
                    && saturated.contains(&owner)
                {
                    match not_walked.iter_mut().find(|(o, _)| *o == owner) {
                        Some(e) => e.1 += ties,
                        None => not_walked.push((owner, ties)),
                    }
                    if hidden {
                        let behind = self.ties(n, viewer).into_iter().filter(|t| !t.visible);
                        found.extend(behind.map(|t| (n, t, MatchKind::Exact, None)));
                    }
                    continue;
                }
                let Some(ties) = self.ties_within(n, viewer, limit, &mut skipped) else {
                    common = true;
                    break;
                };
                seen += ties.iter().filter(|t| t.visible).count();
                found.extend(ties.into_iter().map(|t| (n, t, MatchKind::Exact, None)));
                if seen >= check_at {
                    check_at = check_at.saturating_mul(2);
                    let reach = Reach::of(found.iter().map(|f| &f.1).filter(|t| t.visible))
                        .with_unwalked(&skipped.0)
                        .with_unwalked(&not_walked);
                    if reach.beyond(limit) {
                        common = true;
                        break;
                    }
                    saturated = reach.past(limit);
                }
            }
            skipped.0.extend(not_walked);
            if common {
                continue;
            }
            if probe.key == KeyKind::Ip
                && !keyed[pi]
                && let Ok(addr) = probe.normalized.parse::<IpAddr>()
            {
                for (net, n) in self.ranges_containing(addr) {
                    for t in self.ties(n, viewer) {
                        found.push((n, t, MatchKind::InRange, Some(net.canonical())));
                    }
                }
            }
            self.weigh(pi, probe, &found, &skipped, opts.list_all, &mut shown, &mut hidden);
        }
        // Resume near-duplicates.
        let resume: Option<(Signature, String)> = match src {
            Source::Applicant(a) => a.resume_text.as_ref().and_then(|text| {
                resume::signature(text).map(|sig| (sig, format!("({} characters)", text.chars().count())))
            }),
            Source::Watched(w) => w
                .resume
                .as_ref()
                .and_then(|v| <[u32; resume::SIGNATURE_LEN]>::try_from(v.as_slice()).ok())
                .map(|a| (Signature(a), "(a watched resume, kept as its MinHash signature)".to_owned())),
        };
        // Kept for the targeted comparison below: the probe, the signature, the actors whose
        // resumes it is a copy of and the crowded bands (a template is compared with no one).
        let mut resume_probe: Option<(usize, Signature, Reach, Crowded)> = None;
        if let Some((sig, input)) = resume {
            let pi = probes.len();
            probes.push(Probe {
                field: "resume_text",
                input,
                normalized: "MinHash of 3-word shingles".into(),
                rules: Vec::new(),
                kind: Kind::Resume,
                key: KeyKind::Document,
                penalty: 0.0,
                origin: ("resume_text", 0),
            });
            let mut near: Vec<(u32, f64, f64, Vec<Tie>)> = Vec::new();
            let (candidates, crowded) = self.resume_candidates(&sig, viewer);
            for note in candidates {
                let Some(stored) = self.sig_of(note) else { continue };
                let s = sig.similarity_compact(stored);
                // The model's weight, or less where the data shows that unrelated resumes
                // come this close to one of all the stored ones often enough.
                let mut w = score::resume_weight(s);
                if let Some(m) = self.resume_measured_weight(s, None, self.owner_of(note)) {
                    w = w.min(m);
                }
                if w <= 0.0 {
                    continue;
                }
                near.push((note, s, w, self.ties(note, viewer)));
            }
            // Only what the viewer may see counts: hidden data must not change which
            // visible evidence is looked for.
            let copied = Reach::of(
                near.iter()
                    .filter(|(_, s, _, _)| *s >= score::NEAR_DUPLICATE)
                    .flat_map(|(_, _, _, ties)| ties.iter().filter(|t| t.visible)),
            );
            // Bands shared with more resumes than the index follows: the resume is close to
            // a document hundreds of the stored ones copy — a public template — and what
            // copies of it the other bands found single out no actor (at 100,000 actors
            // such a template's copies crowd every band but a few, which then found one
            // or two actors and weighed the template as a team's own resume). Counted per
            // stored resume's owner (see `Crowd`): another member's copies, however many,
            // never make a member's resume a template.
            let at_least = |note: u32| {
                if crowded.for_owner(self.owner_of(note)) >= TEMPLATE_CROWDED_BANDS { MAX_BAND_POSTINGS } else { 1 }
            };
            self.weigh_near(
                pi,
                Kind::Resume,
                near,
                score::NEAR_DUPLICATE,
                "resumes",
                &at_least,
                opts,
                &mut shown,
                &mut hidden,
            );
            resume_probe = Some((pi, sig.clone(), copied, crowded));
        }
        // Profile photos: perceptual hashes within a few bits.
        let photos: &[String] = match src {
            Source::Applicant(a) => &a.photos,
            Source::Watched(w) => &w.photos,
        };
        for (i, ph) in photos.iter().enumerate() {
            let h = match photo::PhotoHash::parse(ph) {
                Ok(h) => h,
                Err(err) => {
                    warnings.push(Warning { field: "photos", index: i, reason: err.to_string() });
                    continue;
                }
            };
            let pi = probes.len();
            probes.push(Probe {
                field: "photos",
                input: h.hex(),
                normalized: "perceptual hash (64 bits)".into(),
                rules: Vec::new(),
                kind: Kind::Photo,
                key: KeyKind::Document,
                penalty: 0.0,
                origin: ("photos", i),
            });
            let near: Vec<(u32, f64, f64, Vec<Tie>)> = self
                .photo_candidates(h)
                .into_iter()
                .map(|(n, d)| (n, 1.0 - f64::from(d) / 64.0, photo::weight(d), self.ties(n, viewer)))
                .filter(|(_, _, w, _)| *w > 0.0)
                .collect();
            // Within 4 bits a photo is the same one re-saved: only those make a stock photo.
            self.weigh_near(pi, Kind::Photo, near, 1.0 - 4.0 / 64.0, "photos", &|_| 1, opts, &mut shown, &mut hidden);
        }
        // A resume compared with the resumes of an actor that other evidence already points
        // to: the index's bands find a reworked copy (a quarter of its sentences rewritten,
        // all re-ordered) as a candidate in about half the pairs, but once a team's address,
        // IP or headshot names the actor, reading its few resumes costs nothing. Only beside
        // evidence that is not a name (a name is never a way in) weighing 1.5 or more, and
        // never for a resume that copies several actors' (a public template).
        // Whether the applicant's resume is a public template, for the evidence of group `g`:
        // it is close to the resumes of several actors, or crowds the bands of the resumes
        // of `g`'s organization — both counted so that one other organization's copies,
        // however many, never make it one (see `Reach` and `Crowd`).
        let template = |g: Group| -> Option<usize> {
            let (pi, _, copied, crowded) = resume_probe.as_ref()?;
            let owner = self.owner_of(g.node());
            (crowded.for_owner(owner) >= TEMPLATE_CROWDED_BANDS || copied.for_chain(&Chain::of(owner)) > 1)
                .then_some(*pi)
        };
        if let Some((pi, sig, _, crowded)) = &resume_probe {
            for (g, evs) in shown.iter_mut() {
                if evs.iter().any(|e| e.kind == Kind::Resume) || template(*g).is_some() {
                    continue;
                }
                let lead: f64 =
                    evs.iter().filter(|e| !matches!(e.kind, Kind::Name | Kind::NameFuzzy)).map(|e| e.weight).sum();
                if lead < TARGETED_RESUME_LEAD {
                    continue;
                }
                let mut best: Option<(f64, u32, u32, Tlp)> = None;
                let mut compared = 0;
                for (p, _) in self.personas_of(*g, viewer) {
                    for e in self.nodes[p as usize].edges.iter().filter(|e| e.rel == NOTE_REF) {
                        let note = &self.nodes[e.other as usize];
                        if !note.alive() || !self.visible(note.access, viewer) {
                            continue;
                        }
                        // Not a resume of which the applicant's is, by its owner's data, a
                        // copy of a public template (see `TEMPLATE_CROWDED_BANDS`).
                        if crowded.for_owner(self.owner_of(e.other)) >= TEMPLATE_CROWDED_BANDS {
                            continue;
                        }
                        let Some(stored) = self.sig_of(e.other) else { continue };
                        compared += 1;
                        let sim = sig.similarity_compact(stored);
                        if best.is_none_or(|b| sim > b.0) {
                            best = Some((sim, e.other, p, self.tlp_of(note.access)));
                        }
                    }
                }
                // The model's weight, or less where the data shows unrelated resumes come
                // this close to `compared` of them often enough.
                let weight = |sim: f64, note: u32| {
                    let w = score::resume_weight(sim);
                    self.resume_measured_weight(sim, Some(compared), self.owner_of(note)).map_or(w, |m| w.min(m))
                };
                if let Some((sim, note, p, tlp)) = best
                    && weight(sim, note) > 0.0
                {
                    evs.push(Ev {
                        probe: *pi,
                        kind: Kind::Resume,
                        node: note,
                        persona: Some(p),
                        weight: weight(sim, note),
                        match_kind: MatchKind::NearDuplicate,
                        similarity: Some((sim * 1000.0).round() / 1000.0),
                        stored: None,
                        confidence: None,
                        tlp,
                        notes: vec![
                            "compared with this actor's resumes because other evidence already points to it".into(),
                        ],
                    });
                }
            }
        }
        // A resume that copies several actors' (a public template) singles none of them out.
        self.weigh_names_beside(&mut shown, &probes, &template, viewer, opts.list_all);
        for evs in hidden.values_mut() {
            // Restricted hits keep the weight of a name found among all stored names.
            evs.retain(|e| e.kind != Kind::Name || e.weight > 0.0 || opts.list_all || is_stolen_note(e));
        }
        // Fuzzy names, only beside other evidence (never a way in on their own).
        let names: Vec<(usize, String)> = probes
            .iter()
            .enumerate()
            .filter(|(i, p)| p.key == KeyKind::Name && !keyed.get(*i).copied().unwrap_or(false))
            .map(|(i, p)| (i, p.normalized.clone()))
            .collect();
        if !names.is_empty() {
            for (g, evs) in shown.iter_mut() {
                if evs.iter().any(|e| matches!(e.kind, Kind::Name | Kind::NameFuzzy)) {
                    continue;
                }
                // Half a unit of weight only matters beside substantial evidence: an
                // identifier, or weak pieces that together weigh 2 or more (a team's
                // address and a reworked resume) — not counting a public template, which
                // points to none of its actors in particular.
                let weak: f64 = evs.iter().filter(|e| Some(e.probe) != template(*g)).map(|e| e.weight).sum();
                if !evs.iter().any(|e| e.kind.is_strong()) && weak < 2.0 {
                    continue;
                }
                let mut best: Option<(f64, usize, u32, Tlp, String)> = None;
                let personas = self.personas_of(*g, viewer);
                let k = personas.len().max(1);
                for (p, tlp) in personas {
                    let Some(stored) = name::normalize(self.label(p)) else { continue };
                    for (pi, key) in &names {
                        // The very name was weighed as such (and dropped if it weighs
                        // nothing): a variant is another name.
                        if *key == stored.key {
                            continue;
                        }
                        let s = strsim::jaro_winkler(key, &stored.key);
                        let better = best.as_ref().is_none_or(|b| {
                            s > b.0 || s == b.0 && (*pi, self.stable_key(p)) < (b.1, self.stable_key(b.2))
                        });
                        if s >= 0.9 && better {
                            best = Some((s, *pi, p, tlp, stored.key.clone()));
                        }
                    }
                }
                if let Some((s, pi, p, tlp, stored_key)) = best {
                    let stolen = self.nodes[p as usize].flags & STOLEN != 0;
                    // Compared with this actor's k personas, as a name beside other evidence
                    // is (see `weigh_names_beside`), but a variant: any of about
                    // FUZZY_SPELLINGS names as common would have come this close.
                    let named = f64::from(self.named_for(self.owner_of(p)).max(1));
                    let chance = self.name_chance(&stored_key, self.owner_of(p)).unwrap_or(named);
                    let holders = k as f64 * chance / named * score::FUZZY_SPELLINGS;
                    let weight = Kind::NameFuzzy.weight().min(score::name_weight(holders));
                    if weight <= 0.0 && !stolen {
                        continue;
                    }
                    evs.push(Ev {
                        probe: pi,
                        kind: Kind::NameFuzzy,
                        node: p,
                        persona: Some(p),
                        weight: if stolen { 0.0 } else { weight },
                        match_kind: MatchKind::Fuzzy,
                        similarity: Some((s * 1000.0).round() / 1000.0),
                        stored: Some(self.label(p).to_owned()),
                        confidence: None,
                        tlp,
                        notes: if stolen { vec![STOLEN_NOTE.into()] } else { Vec::new() },
                    });
                }
            }
        }

        // Ties the organization judged false positives stop counting (its own judgement,
        // over what it sees: hidden ties are no one's to judge).
        let mut suppressed = Vec::new();
        if let Some(sup) = opts.suppressions.as_deref().filter(|s| !s.is_empty()) {
            for evs in shown.values_mut() {
                evs.retain(|e| {
                    let p = &probes[e.probe];
                    let node = &self.nodes[e.node as usize];
                    let object = self.nodes[node.primary(e.node) as usize].id();
                    match sup.get(p.field, &p.input, &p.normalized, &object) {
                        Some(note) => {
                            suppressed.push(super::Suppressed {
                                field: p.field,
                                input: p.input.clone(),
                                object,
                                note: note.to_owned(),
                            });
                            false
                        }
                        None => true,
                    }
                });
            }
            suppressed.sort();
            suppressed.dedup();
        }
        let mut scored: Vec<Scored> =
            shown.into_iter().map(|(g, evs)| self.score_group(g, evs, &probes, opts)).collect();
        // Listed: candidates with some real weight (a posterior of about 1%), or a
        // stolen identity's name set aside; the rest is noise to a screener.
        scored.retain(|c| {
            !c.kept.is_empty()
                && (opts.list_all || c.llr >= MIN_LISTED_LLR || c.kept.iter().any(|e| !e.notes.is_empty()))
        });
        // Ties in weight are broken by STIX id, not by where the build happened to put the
        // nodes: the same data gives the same answer, whichever order it was read in.
        scored.sort_by(|x, y| y.llr.total_cmp(&x.llr).then_with(|| self.group_key(x.g).cmp(&self.group_key(y.g))));
        let flagged_hidden: Vec<Scored> = hidden
            .into_iter()
            .map(|(g, evs)| self.score_group(g, evs, &probes, opts))
            .filter(|s| s.decision >= Decision::Review)
            .collect();
        let restricted: Option<Decision> = flagged_hidden.iter().map(|s| s.decision).max();
        // What lies behind a restricted hit, for an access request (never shown).
        let mut hidden_objects: Vec<String> = flagged_hidden.iter().flat_map(|s| self.tie_objects(s)).collect();
        hidden_objects.sort();
        hidden_objects.dedup();
        let mut decision = scored.iter().map(|c| c.decision).max().unwrap_or(Decision::Clear);
        let score = scored.iter().map(|c| c.posterior).fold(0.0, f64::max);
        let score = (score * 10_000.0).round() / 10_000.0;
        let cut = scored.len() > opts.max_matches;
        scored.truncate(opts.max_matches);
        let mut matches: Vec<Hit> = scored.into_iter().map(|c| Hit::Candidate(self.candidate(c, &probes))).collect();
        if restricted.is_some() {
            decision = decision.max(Decision::Review);
            matches.push(Hit::Restricted(Restricted {
                restricted: true,
                contact: opts.contact.clone(),
                objects: hidden_objects,
            }));
        }
        let reference = match src {
            Source::Applicant(a) => a.reference.clone(),
            Source::Watched(w) => w.reference.clone(),
        };
        Screening { reference, decision, score, matches, warnings, suppressed, cut }
    }

    /// Near-duplicates (resumes, photos) of one probe as evidence: `near` holds each stored
    /// node with its similarity, weight and ties. A document that near-duplicates those of
    /// several actors is most likely public — a resume template, a stock headshot — not a
    /// team's own: it weighs `TEMPLATE_DISCOUNT × log10 n` less, `n` counted apart for what
    /// the viewer sees and what it does not, and only among copies at least `copy_at`
    /// similar (things merely sharing stock phrases do not make a template), and for each
    /// stored node at least `at_least(node)` (more than the index follows when its owner's
    /// data shows the document that widely copied).
    #[allow(clippy::too_many_arguments)]
    fn weigh_near(
        &self,
        pi: usize,
        kind: Kind,
        near: Vec<(u32, f64, f64, Vec<Tie>)>,
        copy_at: f64,
        what: &str,
        at_least: &dyn Fn(u32) -> usize,
        opts: &Options,
        shown: &mut HashMap<Group, Vec<Ev>>,
        hidden: &mut HashMap<Group, Vec<Ev>>,
    ) {
        // Counted per organization (see `Reach`): one member's copies never make another
        // member's document a template.
        let actors = |visible: bool| {
            Reach::of(
                near.iter()
                    .filter(|(_, s, _, _)| *s >= copy_at)
                    .flat_map(|(_, _, _, ties)| ties.iter())
                    .filter(|t| t.visible == visible),
            )
        };
        let (seen, hidden_reach) = (actors(true), actors(false));
        for (node, s, w, ties) in near {
            let floor = at_least(node);
            for t in ties {
                let n = if t.visible { &seen } else { &hidden_reach }.for_chain(&t.chain).max(floor);
                let mut notes = Vec::new();
                let mut w = w;
                if n > 1 {
                    let lowered = score::TEMPLATE_DISCOUNT * (n as f64).log10();
                    w -= lowered;
                    notes.push(if n == floor && floor > 1 {
                        format!(
                            "more than {n} stored {what} share parts of this one: a public template, weight lowered by {lowered:.2}"
                        )
                    } else {
                        format!(
                            "{what} of {n} different actors are this close: likely a public template, weight lowered by {lowered:.2}"
                        )
                    });
                }
                let weight = w + score::confidence_penalty(t.confidence);
                if weight <= 0.0 && !opts.list_all {
                    continue;
                }
                let ev = Ev {
                    probe: pi,
                    kind,
                    node,
                    persona: t.persona,
                    weight: weight.max(0.0),
                    match_kind: MatchKind::NearDuplicate,
                    similarity: Some((s * 1000.0).round() / 1000.0),
                    stored: None,
                    confidence: t.confidence,
                    tlp: t.tlp,
                    notes,
                };
                if t.visible { &mut *shown } else { &mut *hidden }.entry(t.group).or_default().push(ev);
            }
        }
    }

    /// Names beside other evidence. A name found among all stored names weighs by how many
    /// of them would carry it by chance (`N·f`); but once other evidence (weighing
    /// [`TARGETED_RESUME_LEAD`] or more, names aside, and not a resume that copies several
    /// actors' — a public template points to none of them in particular) points to an
    /// actor, its name is compared with that actor's few personas only, and a coincidence
    /// there is `N/k` times rarer: the name weighs `log10(NAME_REUSE / (k·f))` (at most the
    /// kind's weight) when that is more. `k` counts the personas the viewer sees: what it
    /// cannot see does not move its scores. Names that still weigh nothing are dropped.
    fn weigh_names_beside(
        &self,
        shown: &mut HashMap<Group, Vec<Ev>>,
        probes: &[Probe],
        template: &dyn Fn(Group) -> Option<usize>,
        viewer: &Viewer,
        list_all: bool,
    ) {
        for (g, evs) in shown.iter_mut() {
            if !evs.iter().any(|e| e.kind == Kind::Name) {
                continue;
            }
            let lead: f64 = evs
                .iter()
                .filter(|e| !matches!(e.kind, Kind::Name | Kind::NameFuzzy) && Some(e.probe) != template(*g))
                .map(|e| e.weight)
                .sum();
            if lead >= TARGETED_RESUME_LEAD {
                let k = self.personas_of(*g, viewer).len().max(1);
                for e in evs.iter_mut().filter(|e| e.kind == Kind::Name && !is_stolen_note(e)) {
                    let owner = self.owner_of(e.persona.unwrap_or(e.node));
                    let named = f64::from(self.named_for(owner).max(1));
                    let Some(chance) = self.name_chance(&probes[e.probe].normalized, owner) else { continue };
                    let w = score::name_weight(k as f64 * chance / named);
                    let weight = w + score::confidence_penalty(e.confidence);
                    if weight > e.weight {
                        e.weight = weight;
                        e.notes = vec![format!(
                            "compared with the {k} persona{} of an actor other evidence already points to, not with all {named} names in the data (weight {w:.2})",
                            if k == 1 { "" } else { "s" }
                        )];
                    }
                }
            }
            evs.retain(|e| e.kind != Kind::Name || e.weight > 0.0 || list_all || is_stolen_note(e));
        }
    }

    /// Turns the ties found for one probe into evidence, with the commonness discount.
    #[allow(clippy::too_many_arguments)]
    fn weigh(
        &self,
        pi: usize,
        probe: &Probe,
        found: &[(u32, Tie, MatchKind, Option<String>)],
        skipped: &Unwalked,
        list_all: bool,
        shown: &mut HashMap<Group, Vec<Ev>>,
        hidden: &mut HashMap<Group, Vec<Ev>>,
    ) {
        if found.is_empty() {
            return;
        }
        // How many stored names would be a name probe's by chance (the same for both sides),
        // for the names of each organization (see `PartCount`).
        let mut chances: Vec<(OrgId, Option<f64>)> = Vec::new();
        let limit = if list_all { SEARCH_FANOUT } else { 10f64.powf(probe.kind.weight()).min(1e6) as usize };
        for visible in [true, false] {
            // The actors the value reaches, counted per organization (see `Reach`); copies
            // of the value tied to nothing are not actors and do not make it common.
            if !found.iter().any(|f| f.1.visible == visible) {
                continue;
            }
            let reach = Reach::of(found.iter().map(|f| &f.1).filter(|t| t.visible == visible));
            // Ties not walked are visible to every viewer (see `Index::fanned`).
            let reach = reach.with_unwalked(if visible { &skipped.0 } else { &skipped.1 });
            for (node, tie, mk, stored) in found.iter().filter(|f| f.1.visible == visible) {
                let flags = self.nodes[*node as usize].flags;
                let mut kind = if *mk == MatchKind::InRange { Kind::IpRange } else { probe.kind };
                if kind == Kind::AccountLogin && flags & ACCOUNT_ID != 0 {
                    kind = Kind::AccountId;
                }
                let mut notes = Vec::new();
                let n = reach.for_chain(&tie.chain);
                // Past the limit a screen stops following a value (see `screen_source`): a
                // value that common for this tie's organizations is not evidence (a name's
                // weight does not fall with `n`, so this is what sets it aside).
                if n > limit {
                    continue;
                }
                let one_team_ip = kind == Kind::Ip && n == 1;
                // A name's weight follows from how many stored personas would carry it by
                // chance (not from the `n` actors found: each is one of them; see
                // `score::name_weight`).
                let name = (probe.kind == Kind::Name).then(|| {
                    let owner = self.owner_of(tie.persona.unwrap_or(*node));
                    let chance = match chances.iter().find(|(o, _)| *o == owner) {
                        Some((_, c)) => *c,
                        None => {
                            let c = self.name_chance(&probe.normalized, owner);
                            chances.push((owner, c));
                            c
                        }
                    };
                    (score::name_weight(chance.unwrap_or(n as f64)), chance)
                });
                let base = if matches!(kind, Kind::Phone | Kind::PhoneCheap) {
                    score::phone_weight(
                        kind,
                        &probe.normalized,
                        self.phones_stored(&probe.normalized, |o| tie.chain.contains(o)),
                    )
                } else if let Some((w, chance)) = name.filter(|_| kind == Kind::Name) {
                    if w < kind.weight() {
                        notes.push(match chance {
                            Some(c) => format!(
                                "a common name: about {} of the {} names in the data would be this one by chance, from how common its parts are (weight {w:.2})",
                                if c < 0.1 { format!("{c:.3}") } else { format!("{c:.1}") },
                                self.named_for(self.owner_of(tie.persona.unwrap_or(*node)))
                            ),
                            None => format!("the name is carried by {n} different actors (weight {w:.2})"),
                        });
                    }
                    w
                } else if one_team_ip {
                    notes.push(
                        "the address is tied to one actor only: a team's own address (a laptop farm), not shared infrastructure"
                            .to_owned(),
                    );
                    score::ONE_TEAM_IP
                } else {
                    kind.weight()
                };
                let mut weight = base + score::confidence_penalty(tie.confidence) - probe.penalty;
                if matches!(kind, Kind::Phone | Kind::PhoneCheap) && base < kind.weight() {
                    notes.push(format!(
                        "{} numbers of this country are in the data: a coincidence is likelier (weight at most {base:.2})",
                        self.phones_stored(&probe.normalized, |o| tie.chain.contains(o))
                    ));
                }
                if probe.penalty > 0.0 {
                    notes.push(format!(
                        "the number was read in several regions: weight lowered by {:.2}",
                        probe.penalty
                    ));
                }
                if flags & GUESSED != 0 {
                    // The stored copy was shared without its country code: it was read in
                    // each region where it is valid, and is in one of them only.
                    let p = self.nodes[*node as usize].primary(*node);
                    let k = 1 + self.nodes[p as usize]
                        .edges
                        .iter()
                        .filter(|e| e.rel == TWIN && self.nodes[e.other as usize].alive())
                        .count();
                    let lowered = (k.max(2) as f64).log10();
                    weight -= lowered;
                    notes.push(format!(
                        "the stored number was shared without its country code and read in {k} region{}: weight lowered by {lowered:.2}",
                        if k == 1 { "" } else { "s" }
                    ));
                }
                if n > 1 && kind != Kind::Name {
                    weight -= (n as f64).log10();
                    notes.push(format!("the value is tied to {n} different actors: weight lowered by log10({n})"));
                }
                let aside = reach.set_aside(&tie.chain);
                if aside > 0 && kind != Kind::Name {
                    // Past the limit an organization's later holders are counted, not walked
                    // (see `screen_source`), in the order the index keeps them: only that it
                    // is past the limit is the same in every order.
                    let counted = if aside > limit { format!("more than {limit}") } else { aside.to_string() };
                    notes.push(format!(
                        "{counted} other actor{} tied to the value by one other organization's data alone {} not counted against it",
                        if aside == 1 { "" } else { "s" },
                        if aside == 1 { "is" } else { "are" }
                    ));
                }
                if matches!(kind, Kind::Name | Kind::IdDocument)
                    && let Some(p) = tie.persona
                    && self.nodes[p as usize].flags & STOLEN != 0
                {
                    weight = 0.0;
                    notes.push(STOLEN_NOTE.into());
                }
                // Evidence that weighs nothing is dropped, except a stolen identity's name,
                // which the caller should see was considered and set aside, and in a search,
                // which lists whoever holds the value. A name is kept until the screen knows
                // whether other evidence points to its actor (see `weigh_names_beside`).
                if weight <= 0.0 && !list_all && kind != Kind::Name && notes.iter().all(|n| n != STOLEN_NOTE) {
                    continue;
                }
                let ev = Ev {
                    probe: pi,
                    kind,
                    node: *node,
                    persona: tie.persona,
                    weight: weight.max(0.0),
                    match_kind: *mk,
                    similarity: None,
                    stored: stored.clone(),
                    confidence: tie.confidence,
                    tlp: tie.tlp,
                    notes,
                };
                if visible { &mut *shown } else { &mut *hidden }.entry(tie.group).or_default().push(ev);
            }
        }
    }

    /// A node's place in an order that does not depend on how the index was built: its
    /// type and UUID.
    fn stable_key(&self, n: u32) -> (u8, [u64; 2]) {
        let node = &self.nodes[n as usize];
        (node.ty as u8, node.uuid)
    }

    fn group_key(&self, g: Group) -> (u8, (u8, [u64; 2])) {
        match g {
            Group::Actor(n) => (0, self.stable_key(n)),
            Group::Persona(n) => (1, self.stable_key(n)),
            Group::Lone(n) => (2, self.stable_key(n)),
        }
    }

    /// Weighs the evidence of one group: one piece per input value (the best tie), then one
    /// per correlated kind, summed.
    fn score_group(&self, g: Group, mut evs: Vec<Ev>, probes: &[Probe], opts: &Options) -> Scored {
        evs.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| self.stable_key(a.node).cmp(&self.stable_key(b.node)))
                .then_with(|| a.persona.map(|p| self.stable_key(p)).cmp(&b.persona.map(|p| self.stable_key(p))))
                // Of two ties that weigh the same, the one under the less restrictive marking.
                .then_with(|| a.tlp.cmp(&b.tlp))
                // Then a fixed order, whatever order the ties were stored in (an index kept up
                // to date object by object answers as one built afresh): two relationships
                // of different members between the same persona and actor differ in what
                // their notes count.
                .then_with(|| b.confidence.cmp(&a.confidence))
                .then_with(|| a.notes.cmp(&b.notes))
        });
        // Fields with any agreement with this group, weighed or not.
        let agreed: BTreeSet<&'static str> = evs.iter().map(|e| probes[e.probe].field).collect();
        let mut seen_origin = BTreeSet::new();
        let mut seen_class = BTreeSet::new();
        let mut kept = Vec::new();
        for e in evs {
            if !seen_origin.insert(probes[e.probe].origin) {
                continue;
            }
            if let Some(class) = e.kind.class()
                && !seen_class.insert(class)
            {
                continue;
            }
            kept.push(e);
        }
        let strong = kept.iter().any(|e| e.kind.is_strong() && e.weight > 0.0);
        // Found by weak evidence alone: each kind of identifier the applicant gave that
        // agrees with nothing of this actor is evidence against it. Not in a search: its
        // readings are guesses at what one typed value is, not values a person gave.
        let mut absent: Vec<&'static str> = Vec::new();
        if !strong && !opts.list_all {
            absent =
                probes.iter().filter(|p| p.kind.is_strong() && !agreed.contains(p.field)).map(|p| p.field).collect();
            absent.sort_unstable();
            absent.dedup();
        }
        let llr: f64 = kept.iter().map(|e| e.weight).sum::<f64>() + score::absence_weight(absent.len());
        let posterior = score::posterior_with(llr, opts.prior_log_odds);
        let decision = score::decide(posterior, strong, opts.match_at, opts.review_at);
        Scored { g, kept, absent, llr, strong, posterior, decision }
    }

    /// The objects of a scored group's ties: each piece of evidence's object, its persona,
    /// the actor, and the relationships between them.
    fn tie_objects(&self, s: &Scored) -> Vec<String> {
        let id = |n: u32| self.nodes[n as usize].id();
        let rels_between = |a: u32, b: u32| -> Vec<String> {
            self.nodes[a as usize]
                .edges
                .iter()
                .filter(|e| e.other == b && e.rel != TWIN && e.rel != NOTE_REF)
                .filter_map(|e| self.rel_id(e.rel))
                .collect()
        };
        let actor = match s.g {
            Group::Actor(a) => Some(a),
            _ => None,
        };
        let mut out = Vec::new();
        for e in &s.kept {
            let n = self.nodes[e.node as usize].primary(e.node);
            out.push(id(n));
            if let Some(p) = e.persona {
                out.push(id(p));
                out.extend(rels_between(n, p));
                if let Some(a) = actor {
                    out.extend(rels_between(p, a));
                }
            } else if let Some(a) = actor {
                out.extend(rels_between(n, a));
            }
        }
        if let Some(a) = actor {
            out.push(id(a));
        }
        out
    }

    /// Writes a scored group out, with ids and names.
    fn candidate(&self, scored: Scored, probes: &[Probe]) -> Candidate {
        let Scored { g, kept, absent, llr, strong, posterior, decision } = scored;
        let mut personas: Vec<u32> = kept.iter().filter_map(|e| e.persona).collect();
        personas.sort_unstable_by_key(|p| self.stable_key(*p));
        personas.dedup();
        let (actor, actor_name) = match g {
            Group::Actor(a) => {
                let n = &self.nodes[a as usize];
                (Some(n.id()), Some(self.label(a).to_owned()).filter(|s| !s.is_empty()))
            }
            _ => (None, None),
        };
        let evidence = kept
            .into_iter()
            .map(|e| {
                let p = &probes[e.probe];
                let node = &self.nodes[e.node as usize];
                let object = self.nodes[node.primary(e.node) as usize].id();
                Evidence {
                    field: p.field,
                    input: p.input.clone(),
                    normalized: p.normalized.clone(),
                    rules: p.rules.clone(),
                    object,
                    stored: e.stored,
                    kind: e.match_kind,
                    similarity: e.similarity,
                    tlp: e.tlp.max(self.access[node.access as usize].tlp),
                    confidence: e.confidence,
                    via: e.persona.map(|p| self.nodes[p as usize].id()),
                    weight: (e.weight * 1000.0).round() / 1000.0,
                    notes: e.notes,
                }
            })
            .collect();
        Candidate {
            actor,
            actor_name,
            personas: personas
                .into_iter()
                .map(|p| {
                    let n = &self.nodes[p as usize];
                    PersonaRef {
                        id: n.id(),
                        name: Some(self.label(p).to_owned()).filter(|s| !s.is_empty()),
                        stolen_identity: n.flags & STOLEN != 0,
                    }
                })
                .collect(),
            score: (posterior * 10_000.0).round() / 10_000.0,
            decision,
            evidence,
            absent: (!absent.is_empty()).then(|| super::Absent {
                weight: (score::absence_weight(absent.len()) * 1000.0).round() / 1000.0,
                fields: absent,
            }),
            strong,
            llr,
        }
    }

    /// Looks up one identifier or name typed into a search box: every reading of `q` that
    /// normalises (email, phone, wallet, account, IBAN, website, postal address, IP, document hash, name) is screened, and
    /// the candidates come back ranked, with restricted hits counted but not shown.
    pub fn search(&self, q: &str, viewer: &Viewer, opts: &Options) -> Screening {
        let q = q.trim();
        let mut a = Applicant { reference: "search".into(), ..Default::default() };
        if q.contains('@') && !q.starts_with('@') {
            a.emails.push(q.into());
        }
        if wallet::parse(q).is_ok() {
            a.wallets.push(super::input::WalletInput { chain: None, address: q.into() });
        }
        if ip::normalize(q).is_ok_and(|n| n.is_single()) {
            a.ips.push(q.into());
        }
        if q.len() == 64 && q.bytes().all(|b| b.is_ascii_hexdigit()) {
            a.documents.push(super::input::DocumentInput { sha256: q.into() });
        }
        if (q.contains('/') || q.contains("://")) && account::from_url(q).is_ok() {
            a.accounts.push(super::input::AccountInput { url: Some(q.into()), ..Default::default() });
        }
        if let Some((p, u)) = q.split_once(':')
            && !u.starts_with("//")
            && account::from_handle(p, u).is_ok()
        {
            a.accounts.push(super::input::AccountInput {
                platform: Some(p.into()),
                username: Some(u.into()),
                ..Default::default()
            });
        }
        if bank::iban(q).is_ok() {
            a.bank_accounts.push(super::input::bank_from_text(q));
        }
        // A website when written as one (a scheme, `www.` or a path); a bare `word.word` is
        // also searched as a name (`kim.cholsu`, `J.Smith`).
        let site_like = q.contains("://") || q.starts_with("www.") || q.contains('/');
        if !q.contains('@') && wallet::parse(q).is_err() && ip::normalize(q).is_err() && website::key(q).is_ok() {
            a.websites.push(q.into());
            if !site_like {
                a.names.push(q.into());
            }
        }
        let digits = q.chars().filter(char::is_ascii_digit).count();
        if digits >= 7 && q.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            a.phones.push(q.into());
        }
        // A postal address: a house number, a street and a postal code or city.
        if q.chars().any(|c| c.is_ascii_digit()) && q.contains(' ') && address::parse(q).is_ok() {
            a.addresses.push(q.into());
        }
        if a.emails.is_empty()
            && a.addresses.is_empty()
            && a.wallets.is_empty()
            && a.ips.is_empty()
            && a.documents.is_empty()
            && a.phones.is_empty()
            && a.bank_accounts.is_empty()
            && a.websites.is_empty()
            && a.names.is_empty()
        {
            a.names.push(q.into());
        }
        // An analyst searching a name wants everyone who holds it, however common the name
        // (a screen would weigh a common name down to nothing): every candidate found is
        // listed, strongest first.
        let mut opts = opts.clone();
        opts.max_matches = SEARCH_CAP;
        opts.list_all = true;
        let mut s = self.screen(&a, viewer, &opts);
        s.warnings.clear();
        s
    }
}

/// Candidates a search lists at most (the strongest first).
pub const SEARCH_CAP: usize = 50;
/// Objects (and actors) one searched value may tie to and still be followed.
pub const SEARCH_FANOUT: usize = 2_000;

/// Objects a single value may tie to before it stops counting as evidence.
pub(crate) const MAX_FANOUT: usize = 64;

/// Objects with this many edges or more get a summary of their ties when the index is
/// built (see `Index::fanned`), kept when one organization's edges reach more actors than
/// the smallest limit of a value (an IP address's: 10).
const FANNED_EDGES: usize = 12;
const FANNED_REACHED: usize = 11;
/// The least summed weight for a candidate to be listed.
const MIN_LISTED_LLR: f64 = 1.0;

fn is_stolen_note(e: &Ev) -> bool {
    e.notes.iter().any(|n| n == STOLEN_NOTE)
}

const STOLEN_NOTE: &str = "the name or document of a real person whose identity was stolen: not evidence on its own";

/// How many restricted hits an answer holds.
pub fn restricted_count(s: &Screening) -> usize {
    s.matches.iter().filter(|h| matches!(h, Hit::Restricted(_))).count()
}
