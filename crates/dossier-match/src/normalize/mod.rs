//! Normalisation of identifiers, used both when intelligence is indexed and when an
//! applicant is screened, so that the same person's identifier written two ways gives the
//! same key. Each normaliser returns the canonical key plus the rules it applied, so a hit
//! can be explained ("matched after removing Gmail dots and the +tag").

pub mod account;
pub mod address;
pub mod bank;
pub mod clean;
pub mod email;
pub mod id_document;
pub mod ip;
pub mod name;
pub mod phone;
pub mod website;

/// Why a value could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("not an email address: {0}")]
    Email(&'static str),
    #[error("not a platform account: {0}")]
    Account(&'static str),
    #[error("not an IP address or CIDR range")]
    Ip,
    #[error("not a phone number: {0}")]
    Phone(&'static str),
    #[error("not a bank account: {0}")]
    Bank(&'static str),
    #[error("not a website: {0}")]
    Website(&'static str),
    #[error("not a postal address: {0}")]
    Address(&'static str),
    #[error("not an identity document: {0}")]
    IdDocument(&'static str),
}
