//! Screening: an in-memory index of the identifiers, names and resumes tied to threat actors,
//! and the scorer that turns an applicant's data into ranked, explained hits.
//!
//! Pure: the index is fed STIX objects with their access facts (TLP, owner, recipients) by
//! whoever reads the store, and answers with values the caller is allowed to see. Hidden
//! data only ever yields a restricted hit without values.
//!
//! Scoring is a likelihood-ratio model: each piece of evidence carries
//! `log10 P(agreement | the applicant is this actor) / P(agreement | an innocent applicant)`
//! (see [`score`]), the pieces of one actor add up, and the prior odds that a screened
//! applicant is an operative turn the sum into a posterior probability — the `score`.

pub mod graph;
mod ids;
pub mod index;
pub mod input;
pub mod query;
pub mod score;
pub mod suppress;

use dossier_stix::{OrgId, Tlp};
use serde::Serialize;

pub use index::{Index, IndexStats, Prepared, prepare, set_hash_key};
pub use input::{Applicant, Limits, RecordError};
pub use query::{Options, WatchProbe, Watched};
pub use suppress::{Suppressed, Suppressions};

/// The outcome for one applicant or one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Clear,
    Review,
    Match,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Clear => "clear",
            Decision::Review => "review",
            Decision::Match => "match",
        }
    }
}

/// The answer for one applicant.
#[derive(Debug, Clone, Serialize)]
pub struct Screening {
    #[serde(rename = "ref")]
    pub reference: String,
    pub decision: Decision,
    /// Posterior probability (0–1) that the applicant is the best candidate.
    pub score: f64,
    pub matches: Vec<Hit>,
    /// Values that could not be used (an invalid wallet checksum, an unparsable phone …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// Ties the screening organization judged false positives: left out of the score.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppressed>,
    /// Whether more candidates were found than `max_matches` lists (the weakest were left
    /// out). Not part of the answer's JSON.
    #[serde(skip)]
    pub cut: bool,
}

impl Screening {
    /// Ids of the objects revealed in this answer (for the audit log).
    pub fn revealed_objects(&self) -> Vec<String> {
        let mut out = Vec::new();
        for hit in &self.matches {
            if let Hit::Candidate(c) = hit {
                out.extend(c.actor.iter().cloned());
                out.extend(c.personas.iter().map(|p| p.id.clone()));
                out.extend(c.evidence.iter().map(|e| e.object.clone()));
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A ranked candidate, or a restricted hit that says only that hidden data matched.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Hit {
    Candidate(Candidate),
    Restricted(Restricted),
}

/// A match on data the caller may not see: no values, no ids.
#[derive(Debug, Clone, Serialize)]
pub struct Restricted {
    pub restricted: bool,
    pub contact: String,
    /// The hidden objects behind the hit — identifiers, personas, actors and the
    /// relationships between them — for the server to route an access request to their
    /// owners. Never part of the answer.
    #[serde(skip)]
    pub objects: Vec<String>,
}

/// One actor (or a persona or identifier not yet tied to an actor) and why it matched.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The `threat-actor` id; `null` when the evidence ties to no actor.
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    pub personas: Vec<PersonaRef>,
    pub score: f64,
    pub decision: Decision,
    pub evidence: Vec<Evidence>,
    /// Found by weak evidence alone: the kinds of identifier the applicant gave that agree
    /// with nothing of this actor, and what they weigh against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub absent: Option<Absent>,
    /// Whether any evidence is of a strong kind (an identifier).
    #[serde(skip)]
    pub strong: bool,
    /// The summed log-likelihood ratio (without the prior).
    #[serde(skip)]
    pub llr: f64,
}

/// Identifiers the applicant gave that a candidate found by weak evidence alone does not
/// hold: an operative of it would have reused one of his team's as often as not.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Absent {
    /// The applicant's fields (`emails`, `phones`, `accounts`, …), one per kind.
    pub fields: Vec<&'static str>,
    /// Their summed weight (log10 likelihood ratio, negative).
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PersonaRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stolen_identity: bool,
}

/// How an input value met a stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchKind {
    Exact,
    Fuzzy,
    NearDuplicate,
    /// The input address lies in a stored CIDR range.
    InRange,
}

/// One piece of evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The applicant field: `emails`, `phones`, `accounts`, `wallets`, `ips`, `names`,
    /// `resume_text`, `documents`.
    pub field: &'static str,
    /// The value as the applicant gave it (the resume is not echoed).
    pub input: String,
    /// The value after normalisation, as compared.
    pub normalized: String,
    /// The normalisation rules that changed the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<&'static str>,
    /// The stored object that matched.
    pub object: String,
    /// The stored value, when it differs from the normalised input (fuzzy names, ranges).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<String>,
    pub kind: MatchKind,
    /// Similarity for fuzzy and near-duplicate evidence (0–1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    pub tlp: Tlp,
    pub confidence: Option<u8>,
    /// The persona through which the object ties to the actor, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Contribution to the score: log10 of the likelihood ratio.
    pub weight: f64,
    /// Why the weight is what it is, when it was reduced.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A value that was not used.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Warning {
    pub field: &'static str,
    pub index: usize,
    pub reason: String,
}

/// Access facts of one stored object, for the policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Access {
    pub tlp: Tlp,
    pub owner: OrgId,
    pub recipients: Vec<OrgId>,
    /// Held only in collections that members may not read.
    pub staff_only: bool,
    pub confidence: Option<u8>,
}

impl Access {
    /// Seen by every member: not RED, and held in a collection members read. What counts
    /// over all the data (how many numbers of a country are stored) counts only these, so
    /// that it is the same for every viewer and no hidden object moves it.
    pub fn open(&self) -> bool {
        self.tlp != Tlp::Red && !self.staff_only
    }
}
