//! Phone numbers in E.164, with Google's numbering metadata (the `phonenumber` crate).
//!
//! A number written with `+` or an international prefix (`00`, `011`) needs nothing else; a
//! national number (`(650) 253-0000`, `010-1234-5678`) needs a region hint, which the caller
//! takes from the applicant's other data. VoIP, toll-free and premium numbers are flagged:
//! they are cheap to obtain and weaker evidence.

use phonenumber::{Mode, Type};

use super::NormalizeError;

/// A normalised phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    /// E.164, e.g. `+16502530000`.
    pub canonical: String,
    /// ISO 3166 region of the number, when the metadata knows it.
    pub region: Option<String>,
    /// `voip`, `toll-free`, `premium`, `shared-cost`, `personal`, `pager`, `uan`.
    pub flags: Vec<&'static str>,
    /// The rules that changed the value, in the order applied.
    pub rules: Vec<&'static str>,
}

/// Normalises `input`; `region` (ISO 3166 alpha-2, e.g. `US`, `KR`) places a number written
/// without a country code.
/// The `phonenumber` metadata compiles its regular expressions lazily into a shared cache
/// of only 100 entries; numbers from a dozen countries then evict each other and every parse
/// recompiles (milliseconds each). A cache that holds them all makes a parse microseconds.
fn warm_cache() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(mut cache) = phonenumber::metadata::DATABASE.cache().lock() {
            *cache = regex_cache::RegexCache::new(50_000);
        }
    });
}

pub fn normalize(input: &str, region: Option<&str>) -> Result<Phone, NormalizeError> {
    warm_cache();
    let (cleaned, mut rules) = super::clean::clean(input);
    let input: &str = &cleaned;
    let mut s = input.trim().to_owned();
    if s.is_empty() || s.len() > 40 {
        return Err(NormalizeError::Phone("empty or longer than 40 characters"));
    }
    for prefix in ["00", "011"] {
        if let Some(rest) = s.strip_prefix(prefix)
            && !s.starts_with('+')
            && rest.trim_start().starts_with(|c: char| c.is_ascii_digit() && c != '0')
            && rest.chars().filter(char::is_ascii_digit).count() >= 8
        {
            s = format!("+{}", rest.trim_start());
            rules.push("international prefix");
            break;
        }
    }
    let hint = if s.starts_with('+') {
        None
    } else {
        let r = region.ok_or(NormalizeError::Phone("no country code and no region hint"))?;
        Some(
            r.trim()
                .to_ascii_uppercase()
                .parse::<phonenumber::country::Id>()
                .map_err(|_| NormalizeError::Phone("unknown region"))?,
        )
    };
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    // A number with its country code that the parser refuses for a stray character (a
    // bracket left open) is read again from its digits: otherwise the digit-by-digit form
    // below would be a key the same number, written cleanly, does not get.
    let parsed = phonenumber::parse(hint, &s).ok().filter(phonenumber::is_valid).or_else(|| {
        s.starts_with('+')
            .then(|| phonenumber::parse(None, format!("+{digits}")).ok())
            .flatten()
            .filter(phonenumber::is_valid)
    });
    let Some(number) = parsed else {
        // A number written with its country code that the numbering plan does not know (a
        // new range, outdated metadata, a typo in the stored copy) is still compared, digit
        // by digit, and flagged as unverified.
        if s.starts_with('+')
            && (8..=15).contains(&digits.len())
            && s.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            rules.push("not valid in its numbering plan: compared digit by digit");
            return Ok(Phone { canonical: format!("+{digits}"), region: None, flags: vec!["unverified"], rules });
        }
        return Err(NormalizeError::Phone("not a valid number for its country"));
    };
    if hint.is_some() {
        rules.push("national number placed by region hint");
    }
    let canonical = number.format().mode(Mode::E164).to_string();
    if canonical != s.chars().filter(|c| *c == '+' || c.is_ascii_digit()).collect::<String>() {
        rules.push("trunk prefix or formatting");
    } else if canonical != s {
        rules.push("formatting");
    }
    let flags = match number.number_type(&phonenumber::metadata::DATABASE) {
        Type::Voip => vec!["voip"],
        Type::TollFree => vec!["toll-free"],
        Type::PremiumRate => vec!["premium"],
        Type::SharedCost => vec!["shared-cost"],
        Type::PersonalNumber => vec!["personal"],
        Type::Pager => vec!["pager"],
        Type::Uan => vec!["uan"],
        _ => Vec::new(),
    };
    let region = number.country().id().map(|id| id.as_ref().to_owned());
    Ok(Phone { canonical, region, flags, rules })
}

/// The E.164 form read without the numbering plan, when the input allows it: a number
/// written with `+` (or `00`/`011`) and its country code, or a ten-digit North American
/// number under a US or CA hint. Formatting and a `(0)` after the country code are
/// dropped. Parsing with the full metadata costs tens of microseconds; this costs well
/// under one, and gives the same key for every valid number it accepts. `None` when the
/// metadata is needed (other national numbers).
pub fn quick_e164(input: &str, region: Option<&str>) -> Option<String> {
    let (cleaned, _) = super::clean::clean(input);
    let s = cleaned.trim();
    if s.is_empty() || s.len() > 40 || !s.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
        return None;
    }
    let s = s.replace("(0)", "");
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let international = if s.starts_with('+') {
        Some(digits.as_str())
    } else if let Some(rest) = digits.strip_prefix("011").or_else(|| digits.strip_prefix("00")) {
        (!rest.starts_with('0') && rest.len() >= 8).then_some(rest)
    } else {
        None
    };
    if let Some(d) = international {
        return ((8..=15).contains(&d.len()) && !d.starts_with('0')).then(|| ["+", d].concat());
    }
    let nanp = matches!(region.map(str::to_ascii_uppercase).as_deref(), Some("US" | "CA"));
    if nanp {
        let national = match digits.len() {
            10 => Some(digits.as_str()),
            11 => digits.strip_prefix('1'),
            _ => None,
        };
        // NANP area and exchange codes start with 2-9.
        if let Some(n) = national
            && n.as_bytes()[0] >= b'2'
            && n.as_bytes()[3] >= b'2'
        {
            return Some(["+1", n].concat());
        }
    }
    None
}

/// Calling codes of regions whose national numbers start with a trunk prefix 0.
const TRUNK_ZERO: &[&str] = &["82", "81", "86", "84", "44", "49", "380", "40", "91", "63", "61", "33", "31", "7"];

/// The E.164 readings of a number written without `+` that no hint placed, without the
/// numbering plan: candidates to look up, not validated numbers ([`readings`] validates).
/// A national number with trunk prefix 0 (`010-1234-5678`) in every region that dials that
/// way; digits that may begin with their country code (`13125550142`, `821012345678`) as
/// such; ten digits as a North American number.
pub fn trunk_readings(input: &str) -> Vec<String> {
    let (cleaned, _) = super::clean::clean(input);
    let s = cleaned.trim();
    if !s.chars().all(|c| c.is_ascii_digit() || " -().".contains(c)) {
        return Vec::new();
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.strip_prefix('0') {
        Some(n) if n.starts_with('0') => return Vec::new(),
        Some(n) => n,
        None => digits.as_str(),
    };
    if national.len() < 6 {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    if !digits.starts_with('0') && (10..=15).contains(&digits.len()) {
        out.push(format!("+{digits}"));
    }
    let codes = if digits.starts_with('0') { TRUNK_ZERO } else { GUESS_CODES };
    for cc in codes {
        let e = format!("+{cc}{national}");
        if (9..=16).contains(&e.len()) && !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

/// Calling codes of [`GUESS_REGIONS`].
const GUESS_CODES: &[&str] =
    &["1", "82", "86", "81", "84", "44", "49", "380", "7", "48", "40", "91", "63", "61", "33", "31"];

/// Every valid reading of a number as it was written, when nothing says which country it
/// belongs to: the number itself when `normalize` places it (with its `+`, or under
/// `region`); otherwise the digits read as beginning with their country code, and the
/// number read as national in each region of [`GUESS_REGIONS`] where it is valid — for
/// stored copies shared in whatever format the member had (`13125550142`,
/// `090-6306-5299`). Each guessed reading carries the rule that says so; the caller weighs
/// the ambiguity (several readings, each less likely).
pub fn readings(input: &str, region: Option<&str>) -> Vec<Phone> {
    let (cleaned, _) = super::clean::clean(input);
    let input: &str = &cleaned;
    match normalize(input, region) {
        Ok(p) if !p.flags.contains(&"unverified") || input.trim_start().starts_with('+') => return vec![p],
        Err(_) if input.trim_start().starts_with('+') => return Vec::new(),
        _ => {}
    }
    let s = input.trim();
    if s.is_empty() || s.len() > 40 || !s.chars().all(|c| c.is_ascii_digit() || " -().".contains(c)) {
        return Vec::new();
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let mut out: Vec<Phone> = Vec::new();
    let mut push = |mut p: Phone, rule: &'static str| {
        if !p.flags.contains(&"unverified") && !out.iter().any(|o| o.canonical == p.canonical) {
            p.rules.push(rule);
            out.push(p);
        }
    };
    if !digits.starts_with('0')
        && (10..=15).contains(&digits.len())
        && let Ok(p) = normalize(&format!("+{digits}"), None)
    {
        push(p, "written without +: read as beginning with its country code");
    }
    for r in GUESS_REGIONS {
        if Some(*r) == region {
            continue;
        }
        if let Ok(p) = normalize(s, Some(r)) {
            push(p, "written without a country code: read as national in a region where it is valid");
        }
    }
    // Nothing valid, but the digits begin with a calling code and are long enough to hold
    // one: most likely the number with its country code and no `+`, from a range the
    // numbering plan does not know — compared digit by digit, like any unverified number.
    if out.is_empty()
        && !digits.starts_with('0')
        && (11..=15).contains(&digits.len())
        && GUESS_CODES.iter().any(|cc| digits.starts_with(cc))
    {
        out.push(Phone {
            canonical: format!("+{digits}"),
            region: None,
            flags: vec!["unverified"],
            rules: vec![
                "written without +, not valid in any plan: compared digit by digit as beginning with its country code",
            ],
        });
    }
    out
}

/// Regions tried, in order, for a national number when the hint does not fit it.
pub const GUESS_REGIONS: &[&str] =
    &["US", "KR", "CN", "JP", "VN", "GB", "DE", "UA", "RU", "PL", "RO", "IN", "PH", "CA", "AU", "FR", "NL"];

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, region: Option<&str>, want: &str) {
        assert_eq!(normalize(input, region).unwrap().canonical, want, "{input} / {region:?}");
    }

    #[test]
    fn formats_trunk_prefixes_and_region_hints_meet() {
        check("+1 (650) 253-0000", None, "+16502530000");
        check("+16502530000", None, "+16502530000");
        check("(650) 253-0000", Some("US"), "+16502530000");
        check("1-650-253-0000", Some("us"), "+16502530000");
        check("650.253.0000", Some("US"), "+16502530000");
        check("011 1 650 253 0000", None, "+16502530000");
        check("010-1234-5678", Some("KR"), "+821012345678");
        check("+82 10 1234 5678", None, "+821012345678");
        check("090-1234-5678", Some("JP"), "+819012345678");
        check("0044 20 7946 0958", None, "+442079460958");
        check("020 7946 0958", Some("GB"), "+442079460958");
    }

    #[test]
    fn flags_cheap_numbers() {
        assert_eq!(normalize("+1 800 253 0000", None).unwrap().flags, vec!["toll-free"]);
        let kr = normalize("010-1234-5678", Some("KR")).unwrap();
        assert_eq!(kr.region.as_deref(), Some("KR"));
        assert!(kr.rules.contains(&"national number placed by region hint"));
    }

    #[test]
    fn numbers_outside_the_plan_are_compared_digit_by_digit() {
        let p = normalize("+84 91 47345929", None).unwrap();
        assert_eq!(p.canonical, "+849147345929");
        assert_eq!(p.flags, vec!["unverified"]);
        assert_eq!(normalize("+84 914 734 592 9", None).unwrap().canonical, "+849147345929");
        // A stray bracket does not make a valid number "unverified": it gets the key the
        // clean number gets (found by the idempotence property test: `+14730000(`).
        let clean = normalize("+14730000", None).unwrap();
        let stray = normalize("+14730000(", Some("US")).unwrap();
        assert_eq!(stray.canonical, clean.canonical);
        assert_eq!(normalize(&stray.canonical, None).unwrap().canonical, stray.canonical);
    }

    #[test]
    fn the_quick_reading_agrees_with_the_metadata_for_valid_numbers() {
        for (input, region) in [
            ("+1 (650) 253-0000", None),
            ("(650) 253-0000", Some("US")),
            ("1-650-253-0000", Some("us")),
            ("650.253.0000", Some("CA")),
            ("011 1 650 253 0000", None),
            ("+82 10 1234 5678", None),
            ("0044 20 7946 0958", None),
            ("+44 (0)20 7946 0958", None),
            ("+81 90-1234-5678", None),
        ] {
            let quick = quick_e164(input, region).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(quick, normalize(input, region).unwrap().canonical, "{input}");
        }
        assert_eq!(quick_e164("010-1234-5678", Some("KR")), None, "needs the metadata");
        assert_eq!(quick_e164("(650) 253-0000", None), None);
        assert_eq!(quick_e164("call me", Some("US")), None);
    }

    #[test]
    fn a_national_number_that_does_not_fit_the_hint_is_guessed() {
        let all = readings("010-9843-0251", Some("US"));
        assert!(all.iter().any(|p| p.canonical == "+821098430251"), "{all:?}");
        assert_eq!(readings("(650) 253-0000", Some("US")).len(), 1);
    }

    #[test]
    fn numbers_stored_without_a_country_code_are_read_in_every_plausible_way() {
        let canon = |input: &str| readings(input, None).into_iter().map(|p| p.canonical).collect::<Vec<_>>();
        // Country code without +.
        assert!(canon("13125550142").contains(&"+13125550142".to_owned()), "{:?}", canon("13125550142"));
        assert!(canon("82 10 1234 5678").contains(&"+821012345678".to_owned()));
        // National, with a trunk prefix.
        assert!(canon("090-6306-5299").contains(&"+819063065299".to_owned()), "{:?}", canon("090-6306-5299"));
        assert!(canon("010-9843-0251").contains(&"+821098430251".to_owned()));
        // Ten digits: North American among others.
        assert!(canon("(312) 555-0142").contains(&"+13125550142".to_owned()));
        // Placed numbers are read once.
        assert_eq!(canon("+81 90 6306 5299"), vec!["+819063065299"]);
        assert_eq!(readings("010-1234-5678", Some("KR")).len(), 1);
        assert!(canon("call me").is_empty());
        assert!(canon("12").is_empty());
        // Every cheap candidate a reading could come from is looked up.
        for input in ["13125550142", "090-6306-5299", "(312) 555-0142", "821012345678"] {
            let quick = trunk_readings(input);
            for r in canon(input) {
                assert!(quick.contains(&r), "{input}: {r} is not among the cheap readings {quick:?}");
            }
        }
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        assert!(normalize("(650) 253-0000", None).is_err(), "needs a region");
        assert!(normalize("+1 123", None).is_err());
        assert!(normalize("call me", Some("US")).is_err());
        assert!(normalize("650 253 0000", Some("ZZ")).is_err());
        assert!(normalize("", None).is_err());
    }
}
