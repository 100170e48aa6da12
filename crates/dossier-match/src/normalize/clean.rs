//! What copy and paste does to a value, undone before any other rule: zero-width and
//! other invisible format characters, non-breaking and other Unicode spaces, full-width
//! forms (`＋８１`, `ａ＠ｂ`), the quotes a document or chat wraps it in, and letters of
//! another script that look like Latin ones (Cyrillic `а`, Greek `ο`) inside a Latin
//! value — an old trick to make a reused address look new. Used on both sides: stored
//! values and applicants' values are cleaned alike.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// Rules [`clean`] may report.
pub const PASTE: &str = "copy-paste artefacts removed (invisible characters, odd spaces, quotes)";
pub const WIDTH: &str = "full-width or compatibility characters folded";
pub const HOMOGLYPHS: &str = "letters of another script that look like Latin ones folded";

const QUOTES: &[char] = &['"', '\'', '`', '“', '”', '‘', '’', '«', '»', '„', '‚', '‹', '›', '「', '」'];

fn invisible(c: char) -> bool {
    matches!(c, '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}'
        | '\u{feff}' | '\u{fe00}'..='\u{fe0f}')
}

/// The Latin letter a Cyrillic or Greek look-alike stands for.
fn latin_of(c: char) -> Option<char> {
    Some(match c {
        'а' => 'a',
        'е' => 'e',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'у' => 'y',
        'х' => 'x',
        'і' => 'i',
        'ј' => 'j',
        'ѕ' => 's',
        'ԁ' => 'd',
        'һ' => 'h',
        'ӏ' => 'l',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'ɡ' => 'g',
        'ո' => 'n',
        'А' => 'A',
        'В' => 'B',
        'Е' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'Х' => 'X',
        'У' => 'Y',
        'І' => 'I',
        'Ј' => 'J',
        'Ѕ' => 'S',
        'ο' => 'o',
        'α' => 'a',
        'ν' => 'v',
        'ρ' => 'p',
        'ι' => 'i',
        'κ' => 'k',
        'υ' => 'u',
        'Ο' => 'O',
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Χ' => 'X',
        'Υ' => 'Y',
        _ => return None,
    })
}

/// `input` cleaned, and the rules that changed it. Plain ASCII without quotes around it —
/// nearly every stored value — is returned as it is, without allocating.
pub fn clean(input: &str) -> (Cow<'_, str>, Vec<&'static str>) {
    let t = input.trim();
    // Quotes around the whole value (not a quoted local part such as `"a b"@x.org`).
    let quoted = t.starts_with(QUOTES) && t.ends_with(QUOTES) && t.chars().count() > 1;
    if input.bytes().all(|b| (0x20..0x7f).contains(&b)) && !quoted {
        return (Cow::Borrowed(input), Vec::new());
    }
    let mut rules = Vec::new();
    let without: String = input.chars().filter(|c| !invisible(*c)).collect();
    if without.len() != input.len() {
        rules.push(PASTE);
    }
    // Compatibility forms folded (after which an invisible character may appear: a
    // half-width filler becomes a filler).
    let nfkc: String = without.nfkc().filter(|c| !invisible(*c)).collect();
    let s = if nfkc == without {
        without
    } else {
        // NFKC also turns a non-breaking space into a space: say which it was.
        let only_spaces = without.chars().filter(|c| !c.is_ascii()).all(char::is_whitespace);
        let rule = if only_spaces { PASTE } else { WIDTH };
        if !rules.contains(&rule) {
            rules.push(rule);
        }
        nfkc
    };
    let mut s: String =
        s.chars().map(|c| if c.is_whitespace() { ' ' } else { c }).collect::<String>().trim().to_owned();
    let around = s.starts_with(QUOTES) && s.ends_with(QUOTES) && s.chars().count() > 1;
    let unquoted = if around { s.trim_matches(QUOTES).trim() } else { s.as_str() };
    if unquoted.len() != s.len() {
        s = unquoted.to_owned();
        if !rules.contains(&PASTE) {
            rules.push(PASTE);
        }
    }
    // Look-alikes only inside a value that is otherwise Latin: a Cyrillic name stays one.
    if s.chars().any(|c| c.is_ascii_alphabetic()) && s.chars().any(|c| latin_of(c).is_some()) {
        let other_letters = s.chars().filter(|c| c.is_alphabetic() && !c.is_ascii() && latin_of(*c).is_none()).count();
        if other_letters == 0 {
            s = s.chars().map(|c| latin_of(c).unwrap_or(c)).collect();
            rules.push(HOMOGLYPHS);
        }
    }
    (Cow::Owned(s), rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paste_artefacts_widths_quotes_and_look_alikes_go() {
        assert!(matches!(clean("kim.dev@gmail.com").0, Cow::Borrowed(_)));
        assert_eq!(clean("kim\u{200b}.dev@gmail.com").0, "kim.dev@gmail.com");
        assert_eq!(clean("\u{a0}kim.dev@gmail.com\u{a0}").0, "kim.dev@gmail.com");
        assert_eq!(clean("“kim.dev@gmail.com”").0, "kim.dev@gmail.com");
        assert_eq!(clean("'kim.dev@gmail.com'").0, "kim.dev@gmail.com");
        assert_eq!(clean("\"odd@local\"@example.com").0, "\"odd@local\"@example.com");
        assert_eq!(clean("＋８１ ９０-６３０６-５２９９").0, "+81 90-6306-5299");
        assert_eq!(clean("kіm.dеv@gmаil.com").0, "kim.dev@gmail.com");
        assert_eq!(clean("kіm.dеv@gmаil.com").1, vec![HOMOGLYPHS]);
        // A value in another script is not "folded" into Latin.
        assert_eq!(clean("Ким Чолсу").0, "Ким Чолсу");
        assert_eq!(clean("café@example.fr").0, "café@example.fr");
    }
}
