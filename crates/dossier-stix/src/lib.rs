//! # dossier-stix
//!
//! The STIX 2.1 model dossier is built on, with no I/O of any kind.
//!
//! Design choices:
//! - **The JSON is the object.** A [`StixObject`] keeps the compact original bytes of what
//!   was submitted and only *reads* typed views from them ([`typed`]). Unknown properties,
//!   custom objects and extensions therefore survive every round trip, and timestamps are
//!   never re-formatted ([`Timestamp`] keeps its text and compares by instant).
//! - **Validation names what is wrong**: object id, JSON path, reason — every problem at
//!   once ([`validate`]).
//! - **Deterministic SCO ids** follow the specification exactly (UUIDv5 over RFC 8785
//!   canonical JSON, [`id::deterministic_sco_id`]) and are tested against ids the OASIS
//!   `stix2` library produced.
//! - **One visibility policy** ([`policy::may_see`]) lives here, beside the model, so every
//!   read path applies the same rule.
//! - **Bounded input**: [`split::Splitter`] cuts a bundle or JSON Lines stream into objects
//!   with explicit size and nesting limits, fed chunk by chunk.

pub mod extension;
pub mod id;
pub mod jcs;
pub mod object;
pub mod policy;
pub mod split;
pub mod timestamp;
pub mod tlp;
pub mod typed;
pub mod validate;

pub use id::StixId;
pub use object::{Family, Record, StixObject};
pub use policy::{Access, OrgId, Role, Viewer};
pub use timestamp::Timestamp;
pub use tlp::Tlp;
pub use validate::Invalid;
