//! Ties an organization has judged false positives.
//!
//! When a member marks a screening hit a false positive, each tie of that hit — the value
//! the applicant gave (by field, normalised) and the stored object it met — stops counting
//! in that organization's later screens, and the answer says so. The value is kept only as
//! a keyed hash (HMAC-SHA-256 under the installation's key, like the audit log's), never in
//! the clear. Suppressions are per organization: one member's judgement never changes what
//! another member gets.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

/// The applicant value a tie is judged by: the normalised value, except for photos (whose
/// normalised form names the method, not the picture), where it is the perceptual hash.
/// A resume is judged against the stored resume whatever the text (its normalised form is
/// the method too): a resume that keeps meeting one stored resume for innocents stops
/// counting against it.
pub fn tie_value<'a>(field: &str, input: &'a str, normalized: &'a str) -> &'a str {
    if field == "photos" { input } else { normalized }
}

/// The keyed hash of one tie's applicant value: HMAC-SHA-256 under `key` of the field and
/// the value ([`tie_value`]), first 16 bytes in hex.
pub fn value_hash(key: &[u8], field: &str, value: &str) -> String {
    crate::keyed::hmac_hex(key, format!("tie\u{1f}{field}\u{1f}{value}").as_bytes(), 16)
}

/// One organization's suppressed ties: (value hash, stored object id) → the note an answer
/// shows ("judged a false positive by …, date").
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    key: Arc<[u8]>,
    ties: HashMap<(String, String), String>,
}

impl Suppressions {
    /// An empty set whose values are hashed under `key`.
    pub fn new(key: Arc<[u8]>) -> Self {
        Self { key, ties: HashMap::new() }
    }

    /// Suppresses the tie of the value hashed `value_hash` to `object`.
    pub fn insert(&mut self, value_hash: String, object: String, note: String) {
        self.ties.insert((value_hash, object), note);
    }

    pub fn is_empty(&self) -> bool {
        self.ties.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ties.len()
    }

    /// The note of a suppressed tie, if the tie is suppressed.
    pub fn get(&self, field: &str, input: &str, normalized: &str, object: &str) -> Option<&str> {
        let h = value_hash(&self.key, field, tie_value(field, input, normalized));
        self.ties.get(&(h, object.to_owned())).map(String::as_str)
    }
}

/// A tie left out of an answer because the screening organization judged it a false
/// positive.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Suppressed {
    pub field: &'static str,
    /// The value as the applicant gave it.
    pub input: String,
    /// The stored object it met.
    pub object: String,
    /// Who judged it, and when.
    pub note: String,
}

impl super::Evidence {
    /// The keyed hash of this tie's applicant value (what a suppression is kept under).
    pub fn tie_hash(&self, key: &[u8]) -> String {
        value_hash(key, self.field, tie_value(self.field, &self.input, &self.normalized))
    }
}
