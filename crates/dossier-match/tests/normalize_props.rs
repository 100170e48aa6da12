//! Normalisers are idempotent (a canonical value normalises to itself) and never panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use dossier_match::normalize::{account, address, clean, email, ip, name, phone};
use proptest::prelude::*;

/// Pastes `junk` into `value` at `at` (a char boundary), as a document or chat would.
fn pasted(value: &str, junk: &str, at: usize) -> String {
    let at = value.char_indices().nth(at % (value.chars().count() + 1)).map_or(value.len(), |(i, _)| i);
    format!("{}{junk}{}", &value[..at], &value[at..])
}

proptest! {
    #[test]
    fn cleaning_is_idempotent_and_never_panics(s in "\\PC{0,60}") {
        let (once, _) = clean::clean(&s);
        let (twice, rules) = clean::clean(&once);
        prop_assert_eq!(&*twice, &*once);
        prop_assert!(rules.is_empty(), "{:?}", rules);
    }

    #[test]
    fn invisible_characters_and_quotes_change_no_key(
        local in "[a-z0-9]{1,12}",
        junk in prop::sample::select(vec!["\u{200b}", "\u{200d}", "\u{feff}", "\u{2060}", "\u{ad}"]),
        at in 0usize..20,
        quote in prop::sample::select(vec![("", ""), ("\"", "\""), ("“", "”"), ("'", "'"), ("\u{a0}", "\u{a0}")]),
    ) {
        let plain = format!("{local}@gmail.com");
        let messy = format!("{}{}{}", quote.0, pasted(&plain, junk, at), quote.1);
        prop_assert_eq!(email::normalize(&messy).unwrap().canonical, email::normalize(&plain).unwrap().canonical);
        let handle = account::from_handle("github", &pasted(&local, junk, at)).unwrap().key();
        prop_assert_eq!(handle, account::from_handle("github", &local).unwrap().key());
        let number = format!("+1 312 555 {:04}", local.len() * 7);
        let wide: String = number.chars().map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c }).collect();
        prop_assert_eq!(phone::quick_e164(&pasted(&wide, junk, at), None), phone::quick_e164(&number, None));
    }

    #[test]
    fn email_normalisation_is_idempotent(local in "[A-Za-z0-9._+-]{1,20}", domain in prop::sample::select(vec!["gmail.com", "GoogleMail.com", "outlook.com", "example.org", "Proton.me"])) {
        let first = email::normalize(&format!("{local}@{domain}"));
        if let Ok(first) = first {
            let again = email::normalize(&first.canonical).unwrap();
            prop_assert_eq!(again.canonical, first.canonical);
        }
    }

    #[test]
    fn email_never_panics(s in "\\PC{0,80}") {
        let _ = email::normalize(&s);
    }

    #[test]
    fn handles_and_urls_give_the_same_key(name in "[A-Za-z][A-Za-z0-9-]{0,30}") {
        let from_handle = account::from_handle("github", &format!("@{name}")).unwrap().key();
        let from_url = account::from_url(&format!("https://www.github.com/{name}/")).unwrap().key();
        prop_assert_eq!(&from_handle, &from_url);
        let again = account::from_handle("github", from_handle.rsplit(':').next().unwrap()).unwrap().key();
        prop_assert_eq!(again, from_handle);
    }

    #[test]
    fn account_parsing_never_panics(s in "\\PC{0,80}") {
        let _ = account::from_url(&s);
        let _ = account::from_handle("telegram", &s);
    }

    #[test]
    fn ip_canonical_form_round_trips(a in any::<u32>(), b in any::<u128>(), p4 in 0u8..=32, p6 in 0u8..=128) {
        for text in [std::net::Ipv4Addr::from(a).to_string(), format!("{}/{p4}", std::net::Ipv4Addr::from(a)), format!("{}/{p6}", std::net::Ipv6Addr::from(b))] {
            let n = ip::normalize(&text).unwrap();
            prop_assert_eq!(ip::normalize(&n.canonical()).unwrap(), n);
            prop_assert!(n.contains(n.addr) || n.addr.is_ipv6() != text.contains(':'));
        }
    }

    #[test]
    fn phone_normalisation_is_idempotent_and_never_panics(s in "[+0-9 ().-]{0,24}", region in prop::sample::select(vec!["US", "KR", "JP", "GB", "VN"])) {
        if let Ok(p) = phone::normalize(&s, Some(region)) {
            prop_assert!(p.canonical.starts_with('+'));
            prop_assert_eq!(phone::normalize(&p.canonical, None).unwrap().canonical, p.canonical);
        }
    }

    #[test]
    fn phone_never_panics_on_any_text(s in "\\PC{0,60}") {
        let _ = phone::normalize(&s, Some("US"));
        let _ = phone::normalize(&s, None);
    }

    #[test]
    fn name_folding_is_idempotent_and_ignores_order(words in prop::collection::vec("[A-Za-z\u{00C0}-\u{017F}\u{AC00}-\u{AC20}-]{1,10}", 1..4)) {
        let text = words.join(" ");
        if let Some(n) = name::normalize(&text) {
            prop_assert_eq!(&name::normalize(&n.key).unwrap().key, &n.key);
            let reversed: Vec<&str> = words.iter().rev().map(String::as_str).collect();
            prop_assert_eq!(name::normalize(&reversed.join(" ")).unwrap().key, n.key);
        }
    }

    #[test]
    fn name_never_panics(s in "\\PC{0,60}") {
        let _ = name::normalize(&s);
    }

    #[test]
    fn resume_similarity_is_symmetric_bounded_and_one_for_identical_text(a in prop::collection::vec("[a-z]{2,8}", 20..60), b in prop::collection::vec("[a-z]{2,8}", 20..60)) {
        let (ta, tb) = (a.join(" "), b.join(" "));
        let (sa, sb) = (dossier_match::resume::signature(&ta).unwrap(), dossier_match::resume::signature(&tb).unwrap());
        let s = sa.similarity(&sb);
        prop_assert!((0.0..=1.0).contains(&s));
        prop_assert_eq!(s, sb.similarity(&sa));
        prop_assert_eq!(sa.similarity(&sa), 1.0);
    }

    #[test]
    fn ip_never_panics(s in "\\PC{0,60}") {
        let _ = ip::normalize(&s);
    }

    #[test]
    fn address_never_panics(s in "\\PC{0,80}", p in "\\PC{0,12}", c in "\\PC{0,12}") {
        let _ = address::parse(&s);
        let _ = address::from_parts(&s, Some(&p), Some(&c));
    }

    /// The same address typed with a different case, spacing, punctuation, unit word, street
    /// type or pasted junk gives the same keys; as a stored location's parts too.
    #[test]
    fn address_spellings_give_the_same_keys(
        number in 1u32..9999,
        street in "[A-Z][a-z]{3,9}",
        unit in prop::option::of(1u32..400),
        zip in 10000u32..99999,
        city in "[A-Z][a-z]{3,9}",
        ty in prop::sample::select(vec![("Street", "St."), ("Avenue", "Ave"), ("Road", "rd"), ("Drive", "DR")]),
        unit_word in prop::sample::select(vec!["Apt", "Apt.", "#", "Unit", "Suite"]),
        junk in prop::sample::select(vec!["", "\u{200b}", "\u{a0}"]),
        upper in any::<bool>(),
    ) {
        let u = unit.map(|u| format!(", Apt {u}")).unwrap_or_default();
        let plain = format!("{number} {street} {}{u}, {city}, IL {zip}", ty.0);
        let u2 = unit.map(|u| format!(" {unit_word} {u}")).unwrap_or_default();
        let other = format!("{number}{junk} {street} {}{u2} {city} {zip} USA", ty.1);
        let other = if upper { other.to_uppercase() } else { other.to_lowercase() };
        let a = address::parse(&plain).unwrap();
        let b = address::parse(&other).unwrap();
        prop_assert_eq!(&a.unit_keys, &b.unit_keys, "{} / {}", plain, other);
        prop_assert_eq!(&a.building_keys, &b.building_keys);
        let stored = address::from_parts(&format!("{number} {street} {}{u2}", ty.0), Some(&zip.to_string()), Some(&city)).unwrap();
        prop_assert_eq!(&a.unit_keys, &stored.unit_keys);
    }
}

proptest! {
    /// The quick E.164 reading never disagrees with the numbering plan on a valid number.
    #[test]
    fn quick_phone_reading_agrees_with_the_metadata(
        cc in prop::sample::select(vec!["1", "44", "82", "81", "49", "84", "380", "86"]),
        national in "[2-9][0-9]{7,10}",
        style in 0u8..4,
    ) {
        let input = match style {
            0 => format!("+{cc}{national}"),
            1 => format!("+{cc} {} {}", &national[..3], &national[3..]),
            2 => format!("00{cc}-{national}"),
            _ => format!("+{cc} ({}) {}", &national[..3], &national[3..]),
        };
        let quick = dossier_match::normalize::phone::quick_e164(&input, None);
        let full = dossier_match::normalize::phone::normalize(&input, None);
        if let (Some(q), Ok(full)) = (quick, full)
            && !full.flags.contains(&"unverified")
        {
            prop_assert_eq!(q, full.canonical);
        }
    }
}
