//! Personal names, folded so that spellings of one name meet: Unicode NFKC, transliteration
//! to Latin (Hangul syllable by syllable), diacritics, case, punctuation, hyphenated or
//! joined Korean given names split into syllables, romanisation variants (Kim/Gim,
//! Lee/Yi/Rhee/Ri, Park/Pak/Bak, Jung/Jeong/Chung, Sato/Satou/Satoh, …) mapped to one form,
//! and token order ignored.
//!
//! A folded name is only ever weak evidence: common names collide by design here, and the
//! scorer must never decide a match on a name alone.

use unicode_normalization::UnicodeNormalization;

/// A folded name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// Canonical tokens, sorted.
    pub tokens: Vec<String>,
    /// The tokens joined by spaces: the blocking key.
    pub key: String,
    pub rules: Vec<&'static str>,
}

/// Spelling variants of one romanised name part, each mapped to its first entry.
const VARIANTS: &[&[&str]] = &[
    // Korean family names
    &["kim", "gim"],
    &["lee", "yi", "rhee", "ri", "rhie"],
    &["park", "pak", "bak", "bag"],
    &["jung", "jeong", "chung", "chong", "jong"],
    &["choi", "choe", "coe"],
    &["cho", "jo"],
    &["kang", "gang"],
    &["yoon", "yun"],
    &["jang", "chang"],
    &["lim", "im", "rim"],
    &["oh"],
    &["seo", "suh"],
    &["shin", "sin"],
    &["kwon", "gwon"],
    &["ahn", "an"],
    &["ryu", "yu", "yoo", "ryoo"],
    // Korean given-name syllables
    &["chol", "chul", "cheol", "ceol"],
    &["su", "soo"],
    &["yong", "young", "yeong"],
    &["jun", "joon"],
    &["hyon", "hyun", "hyeon"],
    &["song", "sung", "seong"],
    &["kyong", "kyung", "gyeong", "gyong"],
    &["myong", "myung", "myeong"],
    &["hun", "hoon"],
    &["hyok", "hyuk", "hyeok"],
    &["kwang", "gwang"],
    &["eun", "un"],
    &["jin", "chin"],
    // Chinese (pinyin, Wade-Giles, Cantonese)
    &["zhang", "cheung"],
    &["zhou", "chou", "chow"],
    &["xu", "hsu"],
    &["chen", "chan"],
    &["wang", "wong"],
    &["wu", "ng"],
    &["zhao", "chao"],
    &["guo", "kuo"],
    &["gao", "kao"],
    &["zhu", "chu"],
    &["liu", "lau"],
    &["lin", "lam"],
    // Japanese long vowels
    &["sato", "satou", "satoh"],
    &["ito", "itou", "itoh"],
    &["kato", "katou", "katoh"],
    &["ono", "ohno", "oono"],
    &["saito", "saitou", "saitoh"],
    &["yuki", "yuuki"],
    &["sota", "souta"],
    &["yuto", "yuuto"],
    &["shota", "shouta"],
    &["ryo", "ryou"],
    // Vietnamese regional forms
    &["hoang", "huynh"],
    &["vu", "vo"],
];

/// How common the most common name parts are: the share of people carrying each one in
/// the population where it is most common (national statistics, rounded: Statistics Korea's
/// 2015 census for Korean family names, China's 2020 household register, Vietnamese and
/// Japanese surname surveys, the 2010 US census for surnames and the US Social Security
/// Administration's name counts for given names). An applicant pool mixes populations, so
/// this is an upper bound of how often an innocent applicant carries the part: a name
/// weighs at most what it should. Keys are folded tokens ([`normalize`]); parts not listed
/// are measured from the names in the data alone.
const POPULATION_SHARES: &[(&str, f64)] = &[
    // Korean family names
    ("kim", 0.215),
    ("lee", 0.147),
    ("park", 0.084),
    ("choi", 0.047),
    ("jung", 0.043),
    ("kang", 0.023),
    ("cho", 0.021),
    ("yoon", 0.021),
    ("jang", 0.020),
    ("lim", 0.017),
    ("han", 0.015),
    ("oh", 0.015),
    ("seo", 0.015),
    ("shin", 0.014),
    ("kwon", 0.014),
    ("hwang", 0.014),
    ("ahn", 0.013),
    ("song", 0.013),
    ("ryu", 0.011),
    ("hong", 0.011),
    // Chinese family names (pinyin; Wong, Chan, Cheung… fold to these)
    ("wang", 0.072),
    ("li", 0.070),
    ("zhang", 0.068),
    ("liu", 0.054),
    ("chen", 0.045),
    ("yang", 0.031),
    ("huang", 0.023),
    ("zhao", 0.021),
    ("wu", 0.021),
    ("zhou", 0.019),
    ("xu", 0.015),
    ("sun", 0.014),
    ("hu", 0.013),
    ("ma", 0.013),
    ("zhu", 0.013),
    ("guo", 0.012),
    ("he", 0.011),
    ("lin", 0.011),
    ("gao", 0.011),
    ("luo", 0.010),
    // Vietnamese family names
    ("nguyen", 0.38),
    ("tran", 0.11),
    ("le", 0.095),
    ("pham", 0.071),
    ("hoang", 0.051),
    ("phan", 0.045),
    ("vu", 0.039),
    ("dang", 0.021),
    ("bui", 0.020),
    ("do", 0.014),
    ("ho", 0.013),
    ("ngo", 0.013),
    // Japanese family names
    ("sato", 0.015),
    ("suzuki", 0.015),
    ("takahashi", 0.011),
    ("tanaka", 0.011),
    ("watanabe", 0.009),
    ("ito", 0.009),
    ("yamamoto", 0.009),
    ("nakamura", 0.009),
    ("kobayashi", 0.008),
    ("kato", 0.007),
    // US family names
    ("smith", 0.0083),
    ("johnson", 0.0066),
    ("williams", 0.0055),
    ("brown", 0.0049),
    ("jones", 0.0048),
    ("garcia", 0.0040),
    ("miller", 0.0040),
    ("davis", 0.0038),
    ("rodriguez", 0.0035),
    ("martinez", 0.0035),
    ("hernandez", 0.0034),
    ("lopez", 0.0029),
    ("gonzalez", 0.0029),
    ("wilson", 0.0028),
    ("anderson", 0.0028),
    ("taylor", 0.0026),
    ("moore", 0.0025),
    ("jackson", 0.0024),
    ("martin", 0.0024),
    // US given names (share of all people)
    ("james", 0.016),
    ("john", 0.016),
    ("robert", 0.015),
    ("michael", 0.014),
    ("william", 0.012),
    ("david", 0.011),
    ("mary", 0.011),
    // Thomas: a family name (0.26%) and, more often, a given name
    ("thomas", 0.006),
    ("richard", 0.007),
    ("joseph", 0.006),
    ("charles", 0.006),
    ("christopher", 0.006),
    ("daniel", 0.005),
    ("matthew", 0.004),
    ("anthony", 0.004),
    ("mark", 0.004),
    ("patricia", 0.004),
    ("jennifer", 0.004),
    ("linda", 0.004),
    ("elizabeth", 0.004),
    ("kevin", 0.003),
    ("brian", 0.003),
    ("jessica", 0.003),
    ("sarah", 0.003),
];

/// The share of people carrying folded name part `token` where it is most common, if it
/// is one of the common parts listed (see `POPULATION_SHARES`).
pub fn population_share(token: &str) -> Option<f64> {
    POPULATION_SHARES.iter().find(|(t, _)| *t == token).map(|(_, s)| *s)
}

/// Romanised Korean syllables that joined given names are split into.
const SYLLABLES: &[&str] = &[
    "chol", "chul", "cheol", "su", "soo", "min", "jun", "joon", "young", "yong", "yeong", "ho", "jin", "hyun", "hyeon",
    "sung", "seong", "song", "il", "kwang", "gwang", "myong", "myung", "dong", "sang", "hoon", "hun", "tae", "kyung",
    "gyeong", "jae", "woo", "nam", "hyok", "hyuk", "ji", "eun", "seo", "hye", "won", "hee", "yeon", "bin", "woon",
];

/// Every variant spelling → its row's first entry.
fn variants() -> &'static std::collections::HashMap<&'static str, &'static str> {
    static MAP: std::sync::OnceLock<std::collections::HashMap<&'static str, &'static str>> = std::sync::OnceLock::new();
    MAP.get_or_init(|| VARIANTS.iter().flat_map(|row| row.iter().map(move |v| (*v, row[0]))).collect())
}

fn canonical(token: &str) -> &str {
    variants().get(token).copied().unwrap_or(token)
}

/// Splits a joined romanised Korean given name ("cholsu", "minjun") into syllables when
/// it is made of them entirely; anything else stays whole.
fn split_syllables(token: &str) -> Option<Vec<&'static str>> {
    fn go(rest: &str, acc: &mut Vec<&'static str>) -> bool {
        if rest.is_empty() {
            return (2..=3).contains(&acc.len());
        }
        let mut candidates: Vec<&'static str> = SYLLABLES.iter().copied().filter(|s| rest.starts_with(s)).collect();
        candidates.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in candidates {
            acc.push(s);
            if go(&rest[s.len()..], acc) {
                return true;
            }
            acc.pop();
        }
        false
    }
    let mut acc = Vec::new();
    (token.len() >= 4 && go(token, &mut acc)).then_some(acc)
}

fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// Folds a personal name; `None` when nothing name-like is left.
pub fn normalize(input: &str) -> Option<Name> {
    let mut rules = Vec::new();
    // NFKC and transliteration leave ASCII as it is.
    let nfkc: String = if input.is_ascii() { input.to_owned() } else { input.nfkc().collect() };
    // Hangul: one token per syllable, so 김철수 gives gim ceol su.
    let spaced: String = if nfkc.chars().any(is_hangul) {
        rules.push("Hangul romanised");
        nfkc.chars()
            .map(|c| {
                if !is_hangul(c) {
                    return c.to_string();
                }
                // 이 and 오 romanise to bare "i" and "o", which as Latin text are initials.
                let r = match deunicode::deunicode_char(c).unwrap_or("") {
                    "i" => "lee",
                    "o" => "oh",
                    other => other,
                };
                format!(" {r} ")
            })
            .collect()
    } else {
        nfkc
    };
    let latin = if spaced.is_ascii() { spaced.clone() } else { deunicode::deunicode(&spaced) };
    if latin != spaced {
        rules.push("transliterated to Latin");
    }
    let lower = latin.to_lowercase();
    let mut tokens: Vec<String> = Vec::new();
    for raw in lower.split(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '\'') {
        let raw = raw.trim_matches(|c| c == '-' || c == '\'');
        if raw.is_empty() {
            continue;
        }
        let parts: Vec<&str> = raw.split('-').filter(|p| !p.is_empty()).collect();
        if parts.len() > 1 {
            rules.push("hyphen split");
        }
        for p in parts {
            let p = p.replace('\'', "");
            if variants().contains_key(p.as_str()) {
                tokens.push(p);
            } else if let Some(syllables) = split_syllables(&p) {
                rules.push("joined given name split");
                tokens.extend(syllables.into_iter().map(str::to_owned));
            } else {
                tokens.push(p);
            }
        }
    }
    if tokens.is_empty() {
        return None;
    }
    let mut folded: Vec<String> = tokens.iter().map(|t| canonical(t).to_owned()).collect();
    if folded != tokens {
        rules.push("romanisation variant");
    }
    folded.sort();
    let key = folded.join(" ");
    Some(Name { tokens: folded, key, rules })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> String {
        normalize(s).unwrap().key
    }

    #[test]
    fn spellings_of_one_name_meet() {
        let want = key("Kim Chol-su");
        for v in ["Gim Cholsu", "CHOL SU KIM", "Kim, Chul-Soo", "김철수", "Cheol-su Kim", "kim chol su"] {
            assert_eq!(key(v), want, "{v}");
        }
        assert_eq!(key("Lee Young-ho"), key("Rhee Yongho"));
        assert_eq!(key("Park Min-jun"), key("Bak Minjoon"));
        assert_eq!(key("Nguyễn Văn Anh"), key("Anh Van Nguyen"));
        assert_eq!(key("Satou Yuuki"), key("Yuki Sato"));
        assert_eq!(key("Ševčenko Olena"), key("Olena Sevcenko"));
        assert_eq!(key("Zhang Wei"), key("Cheung Wei"));
    }

    #[test]
    fn different_names_stay_apart() {
        assert_ne!(key("Kim Chol-su"), key("Kim Min-jun"));
        assert_ne!(key("Kim Chol-su"), key("Park Chol-su"));
        assert_ne!(key("James Smith"), key("James Johnson"));
        // Western names made of letters that happen to look Korean are not split.
        assert_eq!(key("Johnson"), "johnson");
        // Initials stay initials: "I." is not the surname Lee.
        assert_eq!(key("J. I. Smith"), "i j smith");
        assert_eq!(key("이영호"), key("Lee Young-ho"));
    }

    #[test]
    fn nothing_name_like_is_none() {
        assert!(normalize("  -- , ").is_none());
        assert!(normalize("").is_none());
    }
}
