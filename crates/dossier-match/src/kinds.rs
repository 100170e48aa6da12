//! The identifier kinds in one place: which applicant field each comes in, which STIX
//! types hold it, how it is labelled, and what its evidence weighs and why.
//!
//! Derived from these two tables: the weights and rules of [`Kind`], the identifier fields
//! of the web forms and the search filter, the audit log's field hashes, and the table of
//! weights in the screening docs (a test checks that the docs say what this table says).

use crate::screen::score::Kind;

/// One kind of evidence.
#[derive(Debug, Clone, Copy)]
pub struct EvidenceSpec {
    pub kind: Kind,
    /// The name used in the docs' table.
    pub name: &'static str,
    /// log10 likelihood ratio: minus the log of how often an innocent applicant would
    /// present the very same value.
    pub weight: f64,
    /// Whether it can make a `match` (identifiers); names, IPs and resumes never can.
    pub strong: bool,
    /// Correlated kinds: of the kinds in one class only the best piece counts per
    /// candidate (two spellings of a name, two IPs of one VPN, two resumes).
    pub class: Option<u8>,
    /// Why the weight is what it is.
    pub why: &'static str,
}

/// Every kind of evidence, in the order of [`Kind`].
pub const EVIDENCE: &[EvidenceSpec] = &[
    EvidenceSpec {
        kind: Kind::Email,
        name: "email address",
        weight: 6.0,
        strong: true,
        class: None,
        why: "an address belongs to one person; reuse by someone else after deletion or by typo is of order one in a million",
    },
    EvidenceSpec {
        kind: Kind::Document,
        name: "document SHA-256",
        weight: 6.0,
        strong: true,
        class: None,
        why: "the same file byte for byte",
    },
    EvidenceSpec {
        kind: Kind::AccountId,
        name: "platform user id",
        weight: 6.0,
        strong: true,
        class: None,
        why: "assigned by the platform (a Telegram or Skype numeric id, a LinkedIn member id), never reissued",
    },
    EvidenceSpec {
        kind: Kind::AccountLogin,
        name: "platform login",
        weight: 5.0,
        strong: true,
        class: None,
        why: "unique at any time, but renamed and reclaimed",
    },
    EvidenceSpec {
        kind: Kind::Wallet,
        name: "wallet address",
        weight: 5.0,
        strong: true,
        class: None,
        why: "unique keys, but exchange deposit and hot wallets serve many people",
    },
    EvidenceSpec {
        kind: Kind::Phone,
        name: "phone number",
        weight: 5.0,
        strong: true,
        class: None,
        why: "numbers are recycled, but only after months: that a random applicant holds the very number a persona used is of order 1e-5 (and at most log10(numbers in use in its country / numbers of that country in the index))",
    },
    EvidenceSpec {
        kind: Kind::PhoneCheap,
        name: "VoIP / toll-free / premium / unverified phone",
        weight: 4.0,
        strong: true,
        class: None,
        why: "rented and recycled quickly; an unverified number may be mistyped",
    },
    EvidenceSpec {
        kind: Kind::Resume,
        name: "resume near-duplicate",
        weight: 4.0,
        strong: false,
        class: Some(2),
        why: "0-4.0 by similarity: independent resumes share phrases, not documents; shingle Jaccard above 0.5 means copying",
    },
    EvidenceSpec {
        kind: Kind::Ip,
        name: "IP address",
        weight: 1.0,
        strong: false,
        class: Some(1),
        why: "residential addresses rotate to other customers; VPN and proxy exits are shared by thousands (2.0 when tied to exactly one actor: a team's own address)",
    },
    EvidenceSpec {
        kind: Kind::IpRange,
        name: "IP inside a stored range",
        weight: 0.5,
        strong: false,
        class: Some(1),
        why: "a range holds many customers",
    },
    EvidenceSpec {
        kind: Kind::Name,
        name: "name, after folding",
        weight: 1.5,
        strong: false,
        class: Some(0),
        why: "at most: a name weighs log10(0.5 / how many stored personas would carry it by chance), from how common its parts are in the data and in the population (0 for the name of a stolen real identity)",
    },
    EvidenceSpec {
        kind: Kind::NameFuzzy,
        name: "name, fuzzy (Jaro-Winkler >= 0.9), only beside other evidence",
        weight: 0.5,
        strong: false,
        class: Some(0),
        why: "at most, and never more than the stored name itself weighs: a spelling variant alone says little",
    },
    EvidenceSpec {
        kind: Kind::Iban,
        name: "IBAN",
        weight: 6.0,
        strong: true,
        class: None,
        why: "one account at one bank, checked by its ISO 13616 check digits (a look-alike fails them)",
    },
    EvidenceSpec {
        kind: Kind::BankNational,
        name: "bank code and account number",
        weight: 6.0,
        strong: true,
        class: None,
        why: "the national form of one account (sort code, Bankleitzahl, ABA routing number with its checksum)",
    },
    EvidenceSpec {
        kind: Kind::BankNumber,
        name: "account number alone",
        weight: 2.0,
        strong: false,
        class: None,
        why: "the same digits are an account at many banks: weak, never a match on its own",
    },
    EvidenceSpec {
        kind: Kind::Website,
        name: "personal website / portfolio",
        weight: 4.0,
        strong: true,
        class: None,
        why: "a domain (or a page on a shared host) belongs to one person, but a lapsed domain is bought again and people list sites they do not own; alone it asks for review",
    },
    EvidenceSpec {
        kind: Kind::Photo,
        name: "profile photo near-duplicate",
        weight: 4.0,
        strong: false,
        class: Some(3),
        why: "4.0 within 3 bits of 64, 3.0 to 6, 2.0 to 8: the same headshot re-saved, resized or cropped; portraits share their layout, so never a match on its own, and a photo close to several actors' is a stock picture",
    },
    EvidenceSpec {
        kind: Kind::IdDocument,
        name: "identity-document number",
        weight: 6.0,
        strong: true,
        class: None,
        why: "type, issuing country and number name one document; compared as keyed hashes; 0 when the document belongs to a stolen real identity (its owner applying is innocent)",
    },
    EvidenceSpec {
        kind: Kind::Address,
        name: "postal address, same unit",
        weight: 3.5,
        strong: false,
        class: Some(4),
        why: "a household: the people at the very unit a team used (its laptop farm) are its facilitator's household; an innocent applicant gives that unit only as a later tenant, of order 1 in 3,000 screened at most; never a match alone (a mail drop or a co-working address serves many, and an address held by several actors is discounted as such)",
    },
    EvidenceSpec {
        kind: Kind::AddressBuilding,
        name: "postal address, same building",
        weight: 1.5,
        strong: false,
        class: Some(4),
        why: "the house number and street agree but the unit differs or one side has none: an apartment building holds many households",
    },
];

/// The spec of `kind`.
pub fn evidence(kind: Kind) -> &'static EvidenceSpec {
    // The table is in the order of the enum (checked by a test).
    &EVIDENCE[kind as usize]
}

/// One field of an applicant (the request format, the CSV columns, the forms).
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// The request field (`emails`).
    pub name: &'static str,
    /// The label on the web forms.
    pub label: &'static str,
    /// The field's name in the audit log's keyed hashes (`email`).
    pub audit: &'static str,
    /// The STIX types whose objects the field is compared with.
    pub stix_types: &'static [&'static str],
    /// An example value, shown as the placeholder of the screening form's box (one value
    /// per line there).
    pub example: &'static str,
}

/// The applicant fields that carry identifiers, in the order forms show them.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec { name: "names", label: "Names", audit: "name", stix_types: &["identity"], example: "Kim Chol-su" },
    FieldSpec {
        name: "emails",
        label: "Emails",
        audit: "email",
        stix_types: &["email-addr"],
        example: "chol.su.dev@gmail.com",
    },
    FieldSpec {
        name: "phones",
        label: "Phones",
        audit: "phone",
        stix_types: &["phone-number"],
        example: "+1 (555) 010-1234",
    },
    FieldSpec {
        name: "accounts",
        label: "Accounts",
        audit: "account",
        stix_types: &["user-account", "url"],
        example: "https://github.com/cs-dev or telegram:csdev",
    },
    FieldSpec {
        name: "wallets",
        label: "Wallets",
        audit: "wallet",
        stix_types: &["cryptocurrency-wallet"],
        example: "0x… or eth:0x…, T…, bc1…",
    },
    FieldSpec {
        name: "bank_accounts",
        label: "Bank accounts",
        audit: "bank",
        stix_types: &["bank-account"],
        example: "GB33 BUKB 2020 1555 5555 55, or 021000021 123456789",
    },
    FieldSpec {
        name: "websites",
        label: "Websites",
        audit: "website",
        stix_types: &["url", "domain-name"],
        example: "https://chol-su.dev",
    },
    FieldSpec {
        name: "photos",
        label: "Profile photo hashes",
        audit: "photo",
        stix_types: &["file"],
        example: "16 hexadecimal digits from dossier photo-hash IMAGE",
    },
    FieldSpec {
        name: "id_documents",
        label: "Identity documents",
        audit: "id_document",
        stix_types: &["x-dossier-identity-document"],
        example: "passport KR M12345678",
    },
    FieldSpec {
        name: "addresses",
        label: "Postal addresses",
        audit: "address",
        stix_types: &["location"],
        example: "1420 Oak St Apt 3, Springfield, IL 62704",
    },
    FieldSpec {
        name: "ips",
        label: "IP addresses",
        audit: "ip",
        stix_types: &["ipv4-addr", "ipv6-addr"],
        example: "203.0.113.7",
    },
    FieldSpec {
        name: "documents",
        label: "Documents",
        audit: "document",
        stix_types: &["file"],
        example: "64 hexadecimal digits",
    },
];

/// The field spec named `name`.
pub fn field(name: &str) -> Option<&'static FieldSpec> {
    FIELDS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_order_of_the_enum() {
        for (i, e) in EVIDENCE.iter().enumerate() {
            assert_eq!(e.kind as usize, i, "{}", e.name);
        }
    }

    #[test]
    fn names_ips_and_resumes_never_make_a_match() {
        for k in [
            Kind::Name,
            Kind::NameFuzzy,
            Kind::Ip,
            Kind::IpRange,
            Kind::Resume,
            Kind::BankNumber,
            Kind::Photo,
            Kind::Address,
            Kind::AddressBuilding,
        ] {
            assert!(!evidence(k).strong, "{k:?}");
        }
    }

    #[test]
    fn the_docs_table_says_what_the_table_says() {
        let docs = include_str!("../../../docs/screening.md");
        for e in EVIDENCE {
            let row = format!("| {} | {} |", e.name, fmt_weight(e.weight));
            assert!(docs.contains(&row), "docs/screening.md lacks the row `{row}`");
        }
    }

    fn fmt_weight(w: f64) -> String {
        format!("{w:.1}")
    }
}
