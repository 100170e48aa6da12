//! Platform accounts: a profile URL, an `@handle` or a bare name become one key,
//! `platform:kind:value`, where kind is `login` (a name the user chose) or `id` (a number or
//! opaque id the platform assigned) — the two are never compared with each other.

use super::NormalizeError;

/// A normalised account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Account {
    pub platform: String,
    pub kind: Kind,
    pub value: String,
    /// The rules that changed the value, in the order applied.
    pub rules: Vec<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Login,
    Id,
}

impl Account {
    /// The index key: `github:login:cs-dev`.
    pub fn key(&self) -> String {
        // Built for every stored account when the index is built: concatenated, not formatted.
        [&*self.platform, if self.kind == Kind::Login { ":login:" } else { ":id:" }, &*self.value].concat()
    }
}

/// Hosts (without `www.` or a locale prefix) and the platform they belong to.
const HOSTS: &[(&str, &str)] = &[
    ("github.com", "github"),
    ("gitlab.com", "gitlab"),
    ("linkedin.com", "linkedin"),
    ("t.me", "telegram"),
    ("telegram.me", "telegram"),
    ("upwork.com", "upwork"),
    ("freelancer.com", "freelancer"),
    ("twitter.com", "twitter"),
    ("x.com", "twitter"),
    ("discord.com", "discord"),
    ("skype.com", "skype"),
    ("wa.me", "whatsapp"),
];

/// Whether `host` (lower case, without `www.`) is a platform's, or a locale subdomain of
/// one (`uk.linkedin.com`): its pages are profiles, not anybody's website.
pub fn is_platform_host(host: &str) -> bool {
    HOSTS.iter().any(|(h, _)| host == *h || host.strip_suffix(h).is_some_and(|rest| rest.ends_with('.')))
}

/// Platform names people write, mapped to ours.
fn platform_name(p: &str) -> String {
    let p = p.trim().to_lowercase();
    match p.as_str() {
        "tg" | "telegram" => "telegram".into(),
        "x" | "twitter" => "twitter".into(),
        "gh" | "github" => "github".into(),
        "li" | "linkedin" => "linkedin".into(),
        "wa" | "whatsapp" => "whatsapp".into(),
        _ => p,
    }
}

/// From a profile URL.
pub fn from_url(url: &str) -> Result<Account, NormalizeError> {
    let (cleaned, pre) = super::clean::clean(url);
    if !pre.is_empty() {
        let mut a = from_url(&cleaned)?;
        a.rules.splice(0..0, pre);
        return Ok(a);
    }
    let s = url.trim();
    // Application links: `skype:name?chat`, `tg://resolve?domain=name`, `tg://user?id=123`.
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("skype:") {
        return from_handle("skype", s);
    }
    if let Some(query) = lower.strip_prefix("tg://resolve?").or_else(|| lower.strip_prefix("tg://user?")) {
        let value = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("domain=").or_else(|| kv.strip_prefix("id=")))
            .ok_or(NormalizeError::Account("the Telegram link names no user"))?;
        let mut a = from_handle("telegram", value)?;
        a.rules.insert(0, "Telegram link");
        return Ok(a);
    }
    let mut rules = vec!["profile URL"];
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_lowercase();
    let host = host.split(':').next().unwrap_or("");
    let mut bare = host.strip_prefix("www.").unwrap_or(host);
    // Locale and mobile subdomains: uk.linkedin.com, de.linkedin.com, m.facebook.com …
    if let Some((sub, parent)) = bare.split_once('.')
        && (sub.len() == 2 || sub == "m" || sub == "mobile")
        && HOSTS.iter().any(|(h, _)| *h == parent)
    {
        bare = parent;
        rules.push("locale subdomain");
    }
    let platform = HOSTS
        .iter()
        .find(|(h, _)| *h == bare)
        .map(|(_, p)| *p)
        .ok_or(NormalizeError::Account("unknown platform host"))?;
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let value = match (platform, segments.as_slice()) {
        ("linkedin", ["in", name, ..]) => name,
        ("upwork", ["freelancers", id, ..]) | ("upwork", ["o", "profiles", "users", id, ..]) => {
            return Ok(Account { platform: platform.into(), kind: Kind::Id, value: id.to_lowercase(), rules });
        }
        ("freelancer", ["u", name, ..]) => name,
        ("discord", ["users", id, ..]) => {
            return Ok(Account { platform: platform.into(), kind: Kind::Id, value: (*id).into(), rules });
        }
        (_, [name, ..]) => name,
        _ => return Err(NormalizeError::Account("the URL names no profile")),
    };
    let mut a = from_handle(platform, value)?;
    rules.append(&mut a.rules);
    a.rules = rules;
    Ok(a)
}

/// From a platform name and a handle (`@cs_dev`, `CS-Dev`, `123456789`).
pub fn from_handle(platform: &str, handle: &str) -> Result<Account, NormalizeError> {
    let platform = platform_name(platform);
    if platform.is_empty() {
        return Err(NormalizeError::Account("no platform"));
    }
    let (pasted, mut rules) = super::clean::clean(handle);
    let (cleaned, forced) = platform_form(&platform, pasted.trim(), &mut rules);
    let mut v = cleaned.as_str();
    if let Some(stripped) = v.strip_prefix('@') {
        v = stripped;
        rules.push("@ removed");
    }
    let v = v.trim_end_matches('/');
    if v.is_empty() || v.len() > 100 || v.contains(char::is_whitespace) || v.contains('/') {
        return Err(NormalizeError::Account("not a single user name"));
    }
    let lower = v.to_lowercase();
    if lower != v {
        rules.push("case");
    }
    let kind = forced.unwrap_or(if lower.bytes().all(|b| b.is_ascii_digit()) || lower.starts_with("~0") {
        Kind::Id
    } else {
        Kind::Login
    });
    Ok(Account { platform, kind, value: lower, rules })
}

/// The forms users of a platform paste, brought to one: what is left of `v`, and the kind
/// when the form says it.
///
/// - Skype: `skype:name?chat` (a link), `live:name` (the id of an account made with a
///   Microsoft address) and `name` are one login; `live:.cid.4a3b…` and `.cid.4a3b…` one id.
/// - Discord: `name#1234` (the discriminator Discord dropped in 2023) and `name` are one.
/// - WhatsApp: the account is its number, written however (`+1 312-555-0142`).
fn platform_form(platform: &str, v: &str, rules: &mut Vec<&'static str>) -> (String, Option<Kind>) {
    match platform {
        "skype" => {
            let mut v = v;
            if v.len() > 6 && v[..6].eq_ignore_ascii_case("skype:") {
                v = &v[6..];
                v = v.split('?').next().unwrap_or(v);
                rules.push("skype: link");
            }
            if v.len() > 5 && v[..5].eq_ignore_ascii_case("live:") {
                v = &v[5..];
                rules.push("live: prefix");
            }
            if let Some(cid) = v.strip_prefix(".cid.").or_else(|| v.strip_prefix("cid."))
                && !cid.is_empty()
                && cid.bytes().all(|b| b.is_ascii_hexdigit())
            {
                rules.push("Skype cid");
                return (v.trim_start_matches('.').to_owned(), Some(Kind::Id));
            }
            (v.to_owned(), None)
        }
        "discord" => match v.rsplit_once('#') {
            Some((name, tag)) if !name.is_empty() && tag.len() == 4 && tag.bytes().all(|b| b.is_ascii_digit()) => {
                rules.push("Discord discriminator dropped");
                (name.to_owned(), None)
            }
            _ => (v.to_owned(), None),
        },
        "whatsapp" => {
            let digits = v.trim_start_matches('+');
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || " -().".contains(c)) {
                rules.push("number: digits only");
                return (digits.chars().filter(char::is_ascii_digit).collect(), Some(Kind::Id));
            }
            (v.to_owned(), None)
        }
        _ => (v.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn url(input: &str, want: &str) {
        assert_eq!(from_url(input).unwrap().key(), want, "{input}");
    }

    #[test]
    fn urls_handles_and_names_meet() {
        url("https://github.com/CS-Dev", "github:login:cs-dev");
        url("github.com/cs-dev/", "github:login:cs-dev");
        url("http://www.github.com/cs-dev?tab=repositories", "github:login:cs-dev");
        url("https://uk.linkedin.com/in/kim-chol-su-12ab/", "linkedin:login:kim-chol-su-12ab");
        url("https://www.linkedin.com/in/Kim-Chol-Su-12ab", "linkedin:login:kim-chol-su-12ab");
        url("https://t.me/csdev", "telegram:login:csdev");
        url("telegram.me/CSDev", "telegram:login:csdev");
        url("https://www.upwork.com/freelancers/~01ABCDEF0123456789", "upwork:id:~01abcdef0123456789");
        url("https://www.freelancer.com/u/csdev", "freelancer:login:csdev");
        url("https://x.com/csdev", "twitter:login:csdev");
        assert_eq!(from_handle("telegram", "@CSDev").unwrap().key(), "telegram:login:csdev");
        assert_eq!(from_handle("GitHub", "cs-dev").unwrap().key(), "github:login:cs-dev");
        assert_eq!(from_handle("telegram", "123456789").unwrap().key(), "telegram:id:123456789");
    }

    #[test]
    fn each_platform_takes_the_forms_its_users_paste() {
        let key = |p: &str, h: &str| from_handle(p, h).unwrap().key();
        // Skype: one id whatever the prefix, one login whatever the link.
        for form in ["live:.cid.4a3b5c6d7e8f9a0b", ".cid.4a3b5c6d7e8f9a0b", "cid.4A3B5C6D7E8F9A0B"] {
            assert_eq!(key("skype", form), "skype:id:cid.4a3b5c6d7e8f9a0b", "{form}");
        }
        for form in ["live:cs.dev", "cs.dev", "skype:cs.dev?chat", "Skype:CS.Dev?call"] {
            assert_eq!(key("skype", form), "skype:login:cs.dev", "{form}");
        }
        assert_eq!(from_url("skype:cs.dev?chat").unwrap().key(), "skype:login:cs.dev");
        assert_ne!(key("skype", "live:.cid.4a3b"), key("skype", "4a3b"), "an id is not a login");
        // Discord: the legacy discriminator dropped or added.
        assert_eq!(key("discord", "CSDev#0420"), key("discord", "csdev"));
        assert_eq!(key("discord", "cs#dev"), "discord:login:cs#dev", "not a discriminator");
        // Telegram links.
        assert_eq!(from_url("tg://resolve?domain=CSDev").unwrap().key(), "telegram:login:csdev");
        assert_eq!(from_url("tg://user?id=123456789").unwrap().key(), "telegram:id:123456789");
        // WhatsApp: the number, however written.
        assert_eq!(key("whatsapp", "+1 (312) 555-0142"), "whatsapp:id:13125550142");
        assert_eq!(from_url("https://wa.me/13125550142").unwrap().key(), "whatsapp:id:13125550142");
    }

    #[test]
    fn ids_and_logins_stay_apart() {
        assert_ne!(from_handle("telegram", "12345").unwrap().key(), from_handle("telegram", "u12345").unwrap().key());
    }

    #[test]
    fn refuses_what_is_not_an_account() {
        assert!(from_url("https://example.com/cs-dev").is_err());
        assert!(from_url("https://github.com/").is_err());
        assert!(from_handle("github", "two words").is_err());
        assert!(from_handle("", "x").is_err());
    }
}
