//! Bank accounts: IBANs (ISO 13616, with their mod-97 check digits), national account
//! numbers with their bank or routing code, and bare account numbers.
//!
//! A bank account is one fact written several ways: `GB33 BUKB 2020 1555 5555 55`, sort
//! code `20-20-15` with account `55555555`, or the account number alone. Each reading is a
//! key of its own, from the most to the least specific:
//!
//! - `iban:GB33BUKB20201555555555` — the IBAN, upper case, without spaces, check digits
//!   verified (a look-alike with one character changed fails them and matches nothing);
//! - `nat:GB:202015:55555555` — the country, the national bank code (a UK or Irish sort
//!   code, a German Bankleitzahl, a US ABA routing number with its checksum) and the
//!   account number without leading zeros; an IBAN of those countries gives this key too,
//!   so the IBAN and the national form of one account meet;
//! - `acct:55555555` — the account number alone, without leading zeros: the same digits
//!   are an account at many banks, so this key weighs little and never makes a match.

use super::NormalizeError;

/// How specific a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An IBAN with valid check digits.
    Iban,
    /// Country, national bank code and account number.
    National,
    /// The account number alone.
    Number,
}

/// One key of a bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub kind: Kind,
    pub key: String,
}

/// A bank account as written, in parts (any may be missing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parts {
    pub iban: Option<String>,
    pub account_number: Option<String>,
    /// A national bank code: sort code, Bankleitzahl, ABA routing number.
    pub bank_code: Option<String>,
    /// ISO 3166 alpha-2 (or alpha-3) country of the account.
    pub country: Option<String>,
}

/// IBAN lengths by country (the ISO 13616 registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

/// Where the national bank code and account number sit inside the BBAN (after the four
/// characters of country and check digits), for the countries whose national form is
/// commonly written apart: (country, bank code range, account range).
/// Character positions `(start, end)` inside a compact IBAN.
type Span = (usize, usize);

const NATIONAL_IN_IBAN: &[(&str, Span, Span)] = &[
    // Four letters of bank, six digits of sort code, eight of account.
    ("GB", (8, 14), (14, 22)),
    ("IE", (8, 14), (14, 22)),
    // Eight digits of Bankleitzahl, ten of account.
    ("DE", (4, 12), (12, 22)),
];

/// Upper case letters and digits only (spaces, dashes, dots and other separators dropped).
pub fn compact(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// Digits without leading zeros (`0` stays `0`).
fn strip_zeros(digits: &str) -> &str {
    let t = digits.trim_start_matches('0');
    if t.is_empty() && !digits.is_empty() { "0" } else { t }
}

/// Whether the ISO 7064 mod 97-10 check of an IBAN (in compact form) holds.
fn iban_checks(iban: &str) -> bool {
    let (head, tail) = iban.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// Normalises an IBAN: compact, upper case, known country and length, valid check digits.
pub fn iban(s: &str) -> Result<String, NormalizeError> {
    let c = compact(super::clean::clean(s).0.as_ref());
    let country = c.get(..2).ok_or(NormalizeError::Bank("an IBAN starts with a two-letter country code"))?;
    let Some((_, len)) = IBAN_LENGTHS.iter().find(|(cc, _)| *cc == country) else {
        return Err(NormalizeError::Bank("not an IBAN country code"));
    };
    if c.len() != *len {
        return Err(NormalizeError::Bank("wrong length for an IBAN of its country"));
    }
    if !c[2..4].bytes().all(|b| b.is_ascii_digit()) {
        return Err(NormalizeError::Bank("an IBAN's check digits are two digits after the country code"));
    }
    if !iban_checks(&c) {
        return Err(NormalizeError::Bank("the IBAN's check digits do not verify (ISO 13616): a typo or a look-alike"));
    }
    Ok(c)
}

/// The IBAN of a BBAN (upper-case letters and digits) in `country`, with its check digits
/// computed (ISO 7064 mod 97-10): for test data and generators.
pub fn iban_of(country: &str, bban: &str) -> String {
    let mut rem: u32 = 0;
    for c in bban.chars().chain(country.chars()).chain("00".chars()) {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => 0,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    format!("{country}{:02}{bban}", 98 - rem)
}

/// Whether a 9-digit US routing number passes the ABA checksum (weights 3, 7, 1).
fn aba_checks(d: &str) -> bool {
    let v: Vec<u32> = d.bytes().map(|b| u32::from(b - b'0')).collect();
    v.len() == 9 && (3 * (v[0] + v[3] + v[6]) + 7 * (v[1] + v[4] + v[7]) + v[2] + v[5] + v[8]).is_multiple_of(10)
}

/// A country given as ISO 3166 alpha-2 or alpha-3 (the `bank-account` SCO uses alpha-3),
/// as alpha-2 for the countries whose national form dossier reads.
fn country2(c: &str) -> Option<&'static str> {
    match c.trim().to_ascii_uppercase().as_str() {
        "US" | "USA" => Some("US"),
        "GB" | "GBR" | "UK" => Some("GB"),
        "IE" | "IRL" => Some("IE"),
        "DE" | "DEU" => Some("DE"),
        _ => None,
    }
}

/// The keys of a bank account: each reading its parts allow, most specific first. An
/// error when no part reads as an account, or when an IBAN fails its check.
pub fn keys(p: &Parts) -> Result<Vec<Key>, NormalizeError> {
    let mut out: Vec<Key> = Vec::new();
    let mut push = |kind: Kind, key: String| {
        if !out.iter().any(|k| k.key == key) {
            out.push(Key { kind, key });
        }
    };
    if let Some(i) = p.iban.as_deref().filter(|s| !s.trim().is_empty()) {
        let i = iban(i)?;
        push(Kind::Iban, format!("iban:{i}"));
        if let Some((cc, bank, acct)) = NATIONAL_IN_IBAN.iter().find(|(cc, _, _)| i.starts_with(cc)) {
            let acct_digits = &i[acct.0..acct.1];
            let bank_code = &i[bank.0..bank.1];
            if acct_digits.bytes().all(|b| b.is_ascii_digit()) && bank_code.bytes().all(|b| b.is_ascii_digit()) {
                push(Kind::National, format!("nat:{cc}:{bank_code}:{}", strip_zeros(acct_digits)));
                push(Kind::Number, format!("acct:{}", strip_zeros(acct_digits)));
            }
        }
    }
    if let Some(n) = p.account_number.as_deref().filter(|s| !s.trim().is_empty()) {
        // `CODE ACCOUNT` written in the account number (as the contribute form stores a
        // national account, so that its STIX id, made from the number, covers the bank).
        if p.bank_code.is_none() {
            let q = parts_from_text(n);
            if q.bank_code.is_some() {
                return keys(&Parts { account_number: q.account_number, bank_code: q.bank_code, ..p.clone() });
            }
        }
        let n = compact(super::clean::clean(n).0.as_ref());
        // An IBAN written where the account number goes.
        if n.len() > 14 && n.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic) {
            return keys(&Parts { iban: Some(n), ..p.clone() });
        }
        if !(4..=34).contains(&n.len()) {
            return Err(NormalizeError::Bank("an account number has 4 to 34 letters and digits"));
        }
        let number = strip_zeros(&n).to_owned();
        let bank = p.bank_code.as_deref().map(|b| compact(super::clean::clean(b).0.as_ref()));
        let country = p.country.as_deref().and_then(country2);
        match (bank.as_deref(), country) {
            (Some(b), c) if b.len() == 9 && b.bytes().all(|x| x.is_ascii_digit()) && matches!(c, None | Some("US")) => {
                if !aba_checks(b) {
                    return Err(NormalizeError::Bank("the routing number fails the ABA checksum"));
                }
                push(Kind::National, format!("nat:US:{b}:{number}"));
            }
            (Some(b), c) if b.len() == 6 && b.bytes().all(|x| x.is_ascii_digit()) => {
                push(Kind::National, format!("nat:{}:{b}:{number}", c.unwrap_or("GB")));
            }
            (Some(b), Some("DE")) if b.len() == 8 && b.bytes().all(|x| x.is_ascii_digit()) => {
                push(Kind::National, format!("nat:DE:{b}:{number}"));
            }
            _ => {}
        }
        push(Kind::Number, format!("acct:{number}"));
    }
    if out.is_empty() {
        return Err(NormalizeError::Bank("needs an iban or an account_number"));
    }
    Ok(out)
}

/// Reads a bank account pasted as one piece of text: an IBAN (`GB33 BUKB 2020 1555 5555
/// 55`), a routing or sort code and an account number (`021000021 / 123456789`,
/// `20-20-15 55555555`), or an account number alone.
pub fn parts_from_text(s: &str) -> Parts {
    let (cleaned, _) = super::clean::clean(s);
    let t = cleaned.trim();
    let c = compact(t);
    if c.len() >= 15 && c.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic) && c.as_bytes()[2].is_ascii_digit() {
        return Parts { iban: Some(c), ..Parts::default() };
    }
    // Code and account written apart: the last group of digits is the account.
    let groups: Vec<&str> = t.split([' ', '/', ':', ';', ',', '|']).filter(|g| !g.is_empty()).collect();
    if groups.len() == 2 {
        let code = compact(groups[0]);
        let acct = compact(groups[1]);
        if code.bytes().all(|b| b.is_ascii_digit()) && matches!(code.len(), 6 | 8 | 9) {
            return Parts { account_number: Some(acct), bank_code: Some(code), ..Parts::default() };
        }
    }
    Parts { account_number: Some(c), ..Parts::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(p: Parts) -> Vec<String> {
        keys(&p).unwrap().into_iter().map(|k| k.key).collect()
    }

    #[test]
    fn ibans_are_checked_and_meet_their_national_form() {
        let gb = keys_of(Parts { iban: Some("gb33 bukb 2020 1555 5555 55".into()), ..Parts::default() });
        assert_eq!(gb, ["iban:GB33BUKB20201555555555", "nat:GB:202015:55555555", "acct:55555555"]);
        let national = keys_of(parts_from_text("20-20-15 55555555"));
        assert!(national.contains(&"nat:GB:202015:55555555".to_owned()));
        let de = keys_of(Parts { iban: Some("DE89 3704 0044 0532 0130 00".into()), ..Parts::default() });
        assert_eq!(de, ["iban:DE89370400440532013000", "nat:DE:37040044:532013000", "acct:532013000"]);
        let de_nat = keys_of(Parts {
            account_number: Some("0532013000".into()),
            bank_code: Some("370 400 44".into()),
            country: Some("DEU".into()),
            ..Parts::default()
        });
        assert!(de_nat.contains(&"nat:DE:37040044:532013000".to_owned()));
        // One character changed: the check digits fail, nothing matches.
        assert!(keys(&Parts { iban: Some("GB33BUKB20201555555556".into()), ..Parts::default() }).is_err());
        assert!(keys(&Parts { iban: Some("GB33BUKB2020155555555".into()), ..Parts::default() }).is_err());
        assert!(keys(&Parts { iban: Some("ZZ33BUKB20201555555555".into()), ..Parts::default() }).is_err());
        // Pasted with a zero-width space and in full-width digits.
        let full_width: String =
            "20201555555555".chars().map(|c| char::from_u32(c as u32 - 0x30 + 0xFF10).unwrap()).collect();
        let pasted = keys_of(parts_from_text(&format!("GB33\u{200b}BUKB{full_width}")));
        assert_eq!(pasted[0], "iban:GB33BUKB20201555555555");
    }

    #[test]
    fn check_digits_are_computed_as_the_standard_says() {
        assert_eq!(iban_of("GB", "BUKB20201555555555"), "GB33BUKB20201555555555");
        assert_eq!(iban_of("DE", "370400440532013000"), "DE89370400440532013000");
    }

    #[test]
    fn us_routing_numbers_carry_their_checksum() {
        let k = keys_of(parts_from_text("021000021 / 000123456789"));
        assert_eq!(k, ["nat:US:021000021:123456789", "acct:123456789"]);
        assert!(keys(&parts_from_text("021000022 123456789")).is_err());
        assert_eq!(keys_of(parts_from_text("123456789")), ["acct:123456789"]);
        // The code and the number in the account number field.
        let within = Parts { account_number: Some("021000021 000123456789".into()), ..Parts::default() };
        assert_eq!(keys_of(within), ["nat:US:021000021:123456789", "acct:123456789"]);
        assert!(keys(&Parts::default()).is_err());
    }
}
