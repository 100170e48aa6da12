//! Email addresses.
//!
//! Rules: trim; lower-case (addresses are case-insensitive in practice at every large
//! provider); `googlemail.com` is `gmail.com`; Gmail ignores dots in the local part; the
//! `+tag` is dropped only at providers that deliver `name+tag` to `name` (Gmail, Outlook,
//! Proton, iCloud, Fastmail, Yandex) — elsewhere `+` may be part of the real address.

use super::NormalizeError;

/// A normalised email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The key to match on.
    pub canonical: String,
    /// The rules that changed the value, in the order applied.
    pub rules: Vec<&'static str>,
}

const PLUS_TAG_PROVIDERS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "icloud.com",
    "me.com",
    "fastmail.com",
    "yandex.ru",
    "yandex.com",
];

pub fn normalize(input: &str) -> Result<Email, NormalizeError> {
    let (cleaned, mut rules) = super::clean::clean(input);
    let input: &str = &cleaned;
    let trimmed = input.trim().trim_start_matches("mailto:");
    let (local, domain) = trimmed.rsplit_once('@').ok_or(NormalizeError::Email("no @"))?;
    if local.is_empty() || local.len() > 64 {
        return Err(NormalizeError::Email("the part before @ must be 1-64 characters"));
    }
    let mut domain = domain.trim_end_matches('.').to_lowercase();
    if domain.is_empty() || !domain.contains('.') || domain.len() > 253 || domain.contains(['@', ' ', '/']) {
        return Err(NormalizeError::Email("the domain is not a host name"));
    }
    if local.contains(char::is_whitespace) {
        return Err(NormalizeError::Email("spaces in the address"));
    }
    let mut local = local.to_lowercase();
    if trimmed != input || local != trimmed.rsplit_once('@').map_or("", |(l, _)| l) {
        rules.push("case and spacing");
    }
    if domain == "googlemail.com" {
        domain = "gmail.com".into();
        rules.push("googlemail.com is gmail.com");
    }
    if PLUS_TAG_PROVIDERS.contains(&domain.as_str())
        && let Some((base, _)) = local.split_once('+')
        && !base.is_empty()
    {
        local = base.to_owned();
        rules.push("+tag removed");
    }
    if domain == "gmail.com" && local.contains('.') {
        local = local.replace('.', "");
        rules.push("Gmail ignores dots");
    }
    if local.is_empty() {
        return Err(NormalizeError::Email("nothing is left before @ once Gmail's dots are ignored"));
    }
    Ok(Email { canonical: [&*local, "@", &*domain].concat(), rules })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, want: &str) {
        assert_eq!(normalize(input).unwrap().canonical, want, "{input}");
    }

    #[test]
    fn table() {
        check("chol.su.dev@gmail.com", "cholsudev@gmail.com");
        check(" Chol.Su.Dev+jobs@GoogleMail.com ", "cholsudev@gmail.com");
        check("c.h.o.l.s.u.d.e.v@gmail.com.", "cholsudev@gmail.com");
        check("kim+hr@outlook.com", "kim@outlook.com");
        check("kim.dev+x@proton.me", "kim.dev@proton.me");
        check("kim.dev+x@example.org", "kim.dev+x@example.org");
        check("Kim.Dev@Example.ORG", "kim.dev@example.org");
        check("mailto:a@b.co", "a@b.co");
        check("\"odd@local\"@example.com", "\"odd@local\"@example.com");
    }

    #[test]
    fn rules_explain_the_change() {
        let e = normalize("Chol.Su+jobs@googlemail.com").unwrap();
        assert_eq!(
            e.rules,
            vec!["case and spacing", "googlemail.com is gmail.com", "+tag removed", "Gmail ignores dots"]
        );
        assert!(normalize("a@b.co").unwrap().rules.is_empty());
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        // Found by the idempotence property: dots alone are no Gmail address.
        for bad in [
            "",
            "no-at-sign",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@exa mple.com",
            "...@gmail.com",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }
}
