//! Postal addresses: where a persona lives or receives a laptop. Teams of remote IT workers
//! have their company laptops shipped to a facilitator's home (a "laptop farm") and give the
//! same residential address on several personas; the address is weak evidence of its own,
//! strong beside a team's resume or IP.
//!
//! An address is keyed by its house number, the core of its street name and a locality —
//! the postal code, and the city — with and without the unit:
//!
//! - `1420 N. Oak Street, Apt 3, Springfield, IL 62704` and `1420 oak st #3 springfield
//!   62704` give `u|1420|oak-st|62704|3` (the unit) and `b|1420|oak-st|62704` (the building), and
//!   the same two keys with `springfield` for the locality;
//! - the street is its name's core without the directions (`n`, `north`, …) and its type
//!   abbreviated (`street`/`st`, `avenue`, `strasse` …, also glued as in `Hauptstraße`);
//!   ordinals are written as numbers (`fifth` → `5th`); diacritics are folded (`ß` → `ss`);
//! - the postal code is found in the text (US ZIP, UK and Canadian codes in either spacing,
//!   or 4–6 digits after the street line) and compacted; the city is the locality segment's
//!   words, without a state or country.
//!
//! Free text is ambiguous where it has no commas and no street type (`1420 Broadway New
//! York`): the street is then everything up to the locality's digits, which may not meet the
//! same address written with commas. That costs recall, never a false tie.

use super::NormalizeError;

/// Words that name the type of a street, with the abbreviation they are keyed as.
const STREET_TYPES: &[(&str, &str)] = &[
    ("street", "st"),
    ("st", "st"),
    ("str", "st"),
    ("strasse", "st"),
    ("avenue", "ave"),
    ("ave", "ave"),
    ("av", "ave"),
    ("road", "rd"),
    ("rd", "rd"),
    ("drive", "dr"),
    ("dr", "dr"),
    ("lane", "ln"),
    ("ln", "ln"),
    ("boulevard", "blvd"),
    ("blvd", "blvd"),
    ("court", "ct"),
    ("ct", "ct"),
    ("place", "pl"),
    ("pl", "pl"),
    ("way", "way"),
    ("terrace", "ter"),
    ("ter", "ter"),
    ("circle", "cir"),
    ("cir", "cir"),
    ("highway", "hwy"),
    ("hwy", "hwy"),
    ("parkway", "pkwy"),
    ("pkwy", "pkwy"),
    ("square", "sq"),
    ("sq", "sq"),
    ("trail", "trl"),
    ("trl", "trl"),
    ("close", "cl"),
    ("crescent", "cres"),
    ("cres", "cres"),
    ("gardens", "gdns"),
    ("weg", "weg"),
    ("platz", "pl"),
    ("gasse", "gasse"),
    ("allee", "allee"),
    ("ring", "ring"),
];

/// Street types written glued to the name (`Hauptstraße`, `Lindenweg`).
const GLUED_TYPES: &[&str] = &["strasse", "str", "weg", "platz", "gasse", "allee"];

/// Directions, with the letters they are keyed as.
const DIRECTIONS: &[(&str, &str)] = &[
    ("n", "n"),
    ("north", "n"),
    ("s", "s"),
    ("south", "s"),
    ("e", "e"),
    ("east", "e"),
    ("w", "w"),
    ("west", "w"),
    ("ne", "ne"),
    ("northeast", "ne"),
    ("nw", "nw"),
    ("northwest", "nw"),
    ("se", "se"),
    ("southeast", "se"),
    ("sw", "sw"),
    ("southwest", "sw"),
];

/// Words that introduce a unit (`Apt 3`, `#3`, `Flat 2B`).
const UNIT_WORDS: &[&str] =
    &["apt", "apartment", "unit", "suite", "ste", "flat", "rm", "room", "#", "no", "app", "appt", "whg", "wohnung"];

/// Ordinals written as words.
const ORDINALS: &[(&str, &str)] = &[
    ("first", "1st"),
    ("second", "2nd"),
    ("third", "3rd"),
    ("fourth", "4th"),
    ("fifth", "5th"),
    ("sixth", "6th"),
    ("seventh", "7th"),
    ("eighth", "8th"),
    ("ninth", "9th"),
    ("tenth", "10th"),
];

/// Words of a locality that name a country or are filler, not the city.
const NOT_CITY: &[&str] = &[
    "usa",
    "us",
    "united",
    "states",
    "america",
    "of",
    "uk",
    "kingdom",
    "great",
    "britain",
    "england",
    "germany",
    "deutschland",
    "canada",
];

/// A normalised postal address: the keys it is indexed and looked up under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The address with its unit (`u|number|street|locality|unit`, unit `-` when none),
    /// once per locality known (postal code, city).
    pub unit_keys: Vec<String>,
    /// The building (`b|number|street|locality`), once per locality known.
    pub building_keys: Vec<String>,
    /// What an explanation shows: `1420 oak #3, 62704`.
    pub display: String,
}

fn tokens(segment: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in segment.chars() {
        if c.is_ascii_alphanumeric() {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if c == '#' {
                out.push("#".into());
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Folds the text to lower-case ASCII (diacritics and `ß` spelled out) and splits it into
/// its comma- or line-separated segments of tokens.
fn segments(input: &str) -> Vec<Vec<String>> {
    let (cleaned, _) = super::clean::clean(input);
    let folded = deunicode::deunicode(&cleaned).to_ascii_lowercase();
    folded.split([',', ';', '\n', '|']).map(tokens).filter(|t| !t.is_empty()).collect()
}

fn is_unit_word(t: &str) -> bool {
    UNIT_WORDS.contains(&t)
}

fn starts_with_digit(t: &str) -> bool {
    t.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

fn uk_outward(t: &str) -> bool {
    let b = t.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    (1..=2).contains(&letters)
        && b.len() > letters
        && b.len() <= letters + 2
        && b[letters].is_ascii_digit()
        && b[letters + 1..].iter().all(u8::is_ascii_alphanumeric)
}

fn uk_inward(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 3 && b[0].is_ascii_digit() && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphabetic()
}

fn ca_half(t: &str, letter_first: bool) -> bool {
    let b = t.as_bytes();
    b.len() == 3
        && if letter_first {
            b[0].is_ascii_alphabetic() && b[1].is_ascii_digit() && b[2].is_ascii_alphabetic()
        } else {
            b[0].is_ascii_digit() && b[1].is_ascii_alphabetic() && b[2].is_ascii_digit()
        }
}

/// A postal code starting at `tokens[i]`: the code compacted and how many tokens it spans.
fn postcode_at(tokens: &[String], i: usize) -> Option<(String, usize)> {
    let t = tokens[i].as_str();
    let next = tokens.get(i + 1).map(String::as_str);
    if let Some(n) = next {
        if uk_outward(t) && uk_inward(n) && !t.bytes().all(|b| b.is_ascii_digit()) {
            return Some((format!("{t}{n}"), 2));
        }
        if ca_half(t, true) && ca_half(n, false) {
            return Some((format!("{t}{n}"), 2));
        }
    }
    // Compact UK (`sw1a1aa`) and Canadian (`k1a0b1`) codes.
    if t.len() >= 5 && t.len() <= 7 && !t.bytes().all(|b| b.is_ascii_digit()) {
        let (out, inw) = t.split_at(t.len() - 3);
        if uk_outward(out) && uk_inward(inw) {
            return Some((t.to_owned(), 1));
        }
        if t.len() == 6 && ca_half(out, true) && ca_half(inw, false) {
            return Some((t.to_owned(), 1));
        }
    }
    if (4..=6).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()) {
        // A US ZIP+4's four digits are part of the code, not kept.
        let span = match next {
            Some(n) if t.len() == 5 && n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()) => 2,
            _ => 1,
        };
        return Some((t.to_owned(), span));
    }
    None
}

fn street_type(t: &str) -> Option<&'static str> {
    STREET_TYPES.iter().find(|(w, _)| *w == t).map(|(_, a)| *a)
}

fn direction(t: &str) -> Option<&'static str> {
    DIRECTIONS.iter().find(|(w, _)| *w == t).map(|(_, a)| *a)
}

/// The street: its name's core — the words without the street type and the directions —
/// and the type abbreviated (`North Oak Street` → `oak-st`, `Hauptstraße` → `haupt-st`); a
/// street named by a direction alone keeps it (`N Street` → `n-st`). Oak Street and Oak
/// Avenue are two streets of one town, so the type is kept; an address written without its
/// type (`1420 Oak, Springfield`) does not meet one written with it.
fn street_core(words: &[String]) -> String {
    let ordinal = |t: &str| ORDINALS.iter().find(|(w, _)| *w == t).map_or_else(|| t.to_owned(), |(_, n)| (*n).into());
    let mut core = String::new();
    let mut kind: Option<&str> = None;
    let mut directions = String::new();
    for w in words {
        if let Some(t) = street_type(w) {
            kind.get_or_insert(t);
            continue;
        }
        if let Some(d) = direction(w) {
            directions.push_str(d);
            continue;
        }
        let mut w = ordinal(w);
        for glued in GLUED_TYPES {
            if w.len() >= glued.len() + 3 && w.ends_with(glued) {
                w.truncate(w.len() - glued.len());
                kind.get_or_insert(street_type(glued).unwrap_or(glued));
                break;
            }
        }
        core.push_str(&w);
    }
    if core.is_empty() {
        core = directions;
    }
    match kind {
        Some(k) if !core.is_empty() => format!("{core}-{k}"),
        Some(k) => k.to_owned(),
        None => core,
    }
}

/// The city among a locality's words: without the postal code, a state abbreviation or a
/// country.
fn city_of(words: &[String]) -> Option<String> {
    let letters: Vec<&String> = words
        .iter()
        .filter(|w| w.bytes().all(|b| b.is_ascii_alphabetic()) && !NOT_CITY.contains(&w.as_str()))
        .collect();
    let long: Vec<&&String> = letters.iter().filter(|w| w.len() > 2).collect();
    let city: String = if long.is_empty() {
        letters.iter().map(|w| w.as_str()).collect()
    } else {
        long.iter().map(|w| w.as_str()).collect()
    };
    (city.len() >= 2).then_some(city)
}

struct Parts {
    number: String,
    street: String,
    unit: Option<String>,
    postcode: Option<String>,
    city: Option<String>,
}

impl Parts {
    fn into_address(self) -> Result<Address, NormalizeError> {
        if self.number.is_empty() || self.street.is_empty() {
            return Err(NormalizeError::Address("an address needs a house number and a street"));
        }
        let localities: Vec<&String> = self.postcode.iter().chain(&self.city).collect();
        if localities.is_empty() {
            return Err(NormalizeError::Address("an address needs a postal code or a city"));
        }
        let unit = self.unit.as_deref().unwrap_or("-");
        let building: Vec<String> =
            localities.iter().map(|l| format!("b|{}|{}|{l}", self.number, self.street)).collect();
        let unit_keys = building.iter().map(|b| format!("u{}|{unit}", &b[1..])).collect();
        let display = format!(
            "{} {}{}, {}",
            self.number,
            self.street,
            self.unit.as_deref().map(|u| format!(" #{u}")).unwrap_or_default(),
            localities[0]
        );
        Ok(Address { unit_keys, building_keys: building, display })
    }
}

/// Takes the unit out of a segment's tokens (`apt 3`, `# 3`, `flat 2b`).
fn take_unit(tokens: &mut Vec<String>) -> Option<String> {
    let i = tokens.iter().position(|t| is_unit_word(t))?;
    // `No. 12` before a street is a house number, not a unit.
    if tokens[i] == "no" && i == 0 {
        return None;
    }
    let value = tokens.get(i + 1).filter(|v| v.bytes().any(|b| b.is_ascii_digit()) || v.len() <= 2).cloned();
    let end = if value.is_some() { i + 2 } else { i + 1 };
    tokens.drain(i..end);
    value
}

/// Reads an address as people write it, on one line or several.
pub fn parse(input: &str) -> Result<Address, NormalizeError> {
    let mut segs = segments(input);
    let mut unit = None;
    // A segment that is only a unit (`Flat 3, 12 High Street`) or a unit inside the street
    // line (`1420 Oak St Apt 3`).
    for seg in &mut segs {
        if unit.is_none() {
            unit = take_unit(seg);
        }
    }
    segs.retain(|s| !s.is_empty());
    // The street line: the first segment with a number and a word.
    let at = segs
        .iter()
        .position(|s| s.iter().any(|t| starts_with_digit(t)) && s.iter().any(|t| t.len() >= 2 && !starts_with_digit(t)))
        .ok_or(NormalizeError::Address("no street line with a house number"))?;
    let line = &segs[at];
    // The house number comes first (`1420 Oak St`) or after the street (`Hauptstr. 12a`).
    let (number, street_words, mut rest): (String, Vec<String>, Vec<String>) = if starts_with_digit(&line[0]) {
        let words: Vec<String> = line[1..].to_vec();
        // The street ends at its type, else before the next number (a one-line address's
        // postal code) — what follows is the locality.
        let end = words
            .iter()
            .position(|w| street_type(w).is_some())
            .map(|i| i + 1)
            .or_else(|| words.iter().position(|w| starts_with_digit(w)))
            .unwrap_or(words.len());
        (line[0].clone(), words[..end].to_vec(), words[end..].to_vec())
    } else {
        let i = line.iter().position(|t| starts_with_digit(t)).unwrap_or(0);
        (line[i].clone(), line[..i].to_vec(), line[i + 1..].to_vec())
    };
    // The locality: the rest of the street line, then the following segments.
    for s in segs.iter().skip(at + 1) {
        rest.extend(s.iter().cloned());
    }
    let mut postcode = None;
    let mut locality_words = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        if postcode.is_none()
            && let Some((code, span)) = postcode_at(&rest, i)
        {
            postcode = Some(code);
            i += span;
            continue;
        }
        locality_words.push(rest[i].clone());
        i += 1;
    }
    // The city is the first segment's worth of words after the street (a later segment is a
    // state or a country).
    let city_words: Vec<String> = {
        let first_seg_len = if at + 1 < segs.len() && rest.len() == segs[at + 1..].iter().map(Vec::len).sum::<usize>() {
            segs[at + 1].len()
        } else {
            rest.len()
        };
        let first: std::collections::HashSet<&String> = rest[..first_seg_len].iter().collect();
        locality_words.iter().filter(|w| first.contains(w)).cloned().collect()
    };
    Parts {
        number: number.trim_start_matches('0').to_owned(),
        street: street_core(&street_words),
        unit: unit.map(|u| u.trim_start_matches('0').to_owned()).filter(|u| !u.is_empty()),
        postcode,
        city: city_of(&city_words),
    }
    .into_address()
}

/// Reads a stored address from its parts (a STIX `location`'s `street_address`, `city` and
/// `postal_code`); `street_address` may also hold the whole address.
pub fn from_parts(
    street_address: &str,
    postal_code: Option<&str>,
    city: Option<&str>,
) -> Result<Address, NormalizeError> {
    let mut text = street_address.to_owned();
    for part in [city, postal_code].into_iter().flatten().filter(|p| !p.trim().is_empty()) {
        text.push_str(", ");
        text.push_str(part);
    }
    parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &str) -> Vec<String> {
        let a = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        a.unit_keys
    }

    #[test]
    fn one_address_written_many_ways() {
        let want = vec!["u|1420|oak-st|62704|3".to_owned(), "u|1420|oak-st|springfield|3".to_owned()];
        for s in [
            "1420 N. Oak Street, Apt 3, Springfield, IL 62704",
            "1420 oak st #3, springfield il 62704",
            "1420 North Oak St. Apt. 3\nSpringfield, IL 62704-1234\nUSA",
            "1420 OAK ST UNIT 3, SPRINGFIELD, IL, 62704, United States",
            "1420\u{a0}Oak Street Apt 3 Springfield IL 62704",
        ] {
            assert_eq!(keys(s), want, "{s}");
        }
    }

    #[test]
    fn without_a_postal_code_the_city_is_the_locality() {
        assert_eq!(keys("1420 Oak St, Springfield"), ["u|1420|oak-st|springfield|-"]);
        assert_eq!(
            parse("1420 Oak St, Springfield").map(|a| a.building_keys).ok(),
            Some(vec!["b|1420|oak-st|springfield".into()])
        );
    }

    #[test]
    fn german_and_british_forms() {
        assert_eq!(keys("Hauptstraße 12a, 10115 Berlin"), ["u|12a|haupt-st|10115|-", "u|12a|haupt-st|berlin|-"]);
        assert_eq!(
            keys("Hauptstr. 12A 10115 Berlin Deutschland"),
            ["u|12a|haupt-st|10115|-", "u|12a|haupt-st|berlin|-"]
        );
        assert_eq!(
            keys("Flat 2B, 12 High Street, London SW1A 1AA"),
            ["u|12|high-st|sw1a1aa|2b", "u|12|high-st|london|2b"]
        );
        assert_eq!(keys("12 high st flat 2b london sw1a1aa uk"), ["u|12|high-st|sw1a1aa|2b", "u|12|high-st|london|2b"]);
    }

    #[test]
    fn ordinals_and_street_types_alone() {
        assert_eq!(keys("77 Fifth Avenue, New York, NY 10003")[0], "u|77|5th-ave|10003|-");
        assert_eq!(keys("77 5th Ave, New York NY 10003")[0], "u|77|5th-ave|10003|-");
        assert_eq!(keys("9 N Street, Washington, DC 20001")[0], "u|9|n-st|20001|-");
        assert_eq!(keys("9 North St, Washington DC 20001")[0], "u|9|n-st|20001|-");
    }

    #[test]
    fn a_stored_location_meets_the_text() {
        let stored = from_parts("1420 N Oak St Apt 3", Some("62704"), Some("Springfield")).unwrap();
        let typed = parse("1420 oak street #3, springfield, il 62704").unwrap();
        assert_eq!(stored.unit_keys, typed.unit_keys);
        assert_eq!(stored.building_keys, typed.building_keys);
        let de = from_parts("Lindenweg 4", Some("80331"), Some("München")).unwrap();
        assert_eq!(de.unit_keys, ["u|4|linden-weg|80331|-", "u|4|linden-weg|munchen|-"]);
        assert_eq!(parse("Lindenweg 4, 80331 Muenchen").unwrap().unit_keys[0], "u|4|linden-weg|80331|-");
    }

    #[test]
    fn what_is_not_an_address() {
        for s in ["", "Springfield, IL", "Oak Street", "62704", "1420"] {
            assert!(parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn neighbours_differ() {
        let a = parse("1420 Oak St Apt 3, Springfield IL 62704").unwrap();
        let b = parse("1422 Oak St Apt 3, Springfield IL 62704").unwrap();
        let c = parse("1420 Oak St Apt 4, Springfield IL 62704").unwrap();
        let d = parse("1420 Oak Ave Apt 3, Springfield IL 62704").unwrap();
        assert_ne!(a.building_keys, d.building_keys, "Oak Street and Oak Avenue are two streets");
        assert_ne!(a.unit_keys, b.unit_keys);
        assert_ne!(a.building_keys, b.building_keys);
        assert_ne!(a.unit_keys, c.unit_keys);
        assert_eq!(a.building_keys, c.building_keys);
    }
}
