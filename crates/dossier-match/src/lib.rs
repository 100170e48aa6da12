//! # dossier-match
//!
//! Identifier normalisation, the screening index and scoring. Pure: it knows
//! nothing of SQL or HTTP, takes STIX objects and applicant records in, and gives
//! explained results out.

pub mod keyed;
pub mod kinds;
pub mod normalize;
pub mod photo;
pub mod resume;
pub mod screen;
pub mod wallet;
