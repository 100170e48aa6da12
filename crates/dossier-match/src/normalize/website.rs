//! Personal websites and portfolios: `https://www.JaneDoe.dev/about`, `janedoe.dev` and
//! `http://janedoe.dev:443/` are one site, keyed `site:janedoe.dev`.
//!
//! The key is the host, lower case, without `www.`, a port, user info, a trailing dot or
//! the path — except on hosts where many people's sites live under one name and the first
//! path segment is the person's (`sites.google.com/view/jane`): there the segment is kept.
//! A profile on a platform dossier knows (GitHub, LinkedIn, Telegram …) is an account, not a
//! website; a host shared by everyone (a job board, a code host's front page, a link
//! shortener) identifies nobody and is refused.

use super::NormalizeError;

/// Hosts whose sites are told apart by the first path segment.
const PATH_HOSTS: &[&str] = &["sites.google.com", "about.me", "behance.net", "dribbble.com", "medium.com", "carrd.co"];

/// Hosts that identify nobody: link shorteners, job boards, code hosts and platforms
/// whose front page people paste, file sharing.
const GENERIC_HOSTS: &[&str] = &[
    "google.com",
    "docs.google.com",
    "drive.google.com",
    "bit.ly",
    "tinyurl.com",
    "linktr.ee",
    "indeed.com",
    "glassdoor.com",
    "angel.co",
    "wellfound.com",
    "dropbox.com",
    "notion.so",
    "facebook.com",
    "instagram.com",
    "youtube.com",
    "stackoverflow.com",
    "localhost",
];

/// The key of a website (`site:host` or `site:host/segment`).
pub fn key(input: &str) -> Result<String, NormalizeError> {
    let (cleaned, _) = super::clean::clean(input);
    let s = cleaned.trim();
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return Err(NormalizeError::Website("a website is one URL or host name"));
    }
    let lower = s.to_lowercase();
    let rest = match lower.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        Some(_) => return Err(NormalizeError::Website("only http and https addresses are websites")),
        None => lower.as_str(),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split_once(':').map_or(host, |(h, _)| h).trim_end_matches('.');
    let host = host.strip_prefix("www.").unwrap_or(host);
    if host.is_empty() || !host.contains('.') {
        return Err(NormalizeError::Website("no host name with a domain"));
    }
    if host.split('.').any(|l| l.is_empty() || l.len() > 63)
        || host.chars().any(|c| !(c.is_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(NormalizeError::Website("not a valid host name"));
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(NormalizeError::Website("an IP address, not a website"));
    }
    if super::account::from_url(input).is_ok() {
        return Err(NormalizeError::Website("a profile on a platform: screen it as an account"));
    }
    if GENERIC_HOSTS.contains(&host) || super::account::is_platform_host(host) {
        return Err(NormalizeError::Website("a host shared by everyone identifies nobody"));
    }
    if PATH_HOSTS.contains(&host) {
        let segment = path.trim_start_matches('/').split(['/', '?', '#']).next().unwrap_or_default();
        // `sites.google.com/view/jane`: the person is the segment after `view`.
        let segment = if segment == "view" || segment == "site" {
            path.trim_start_matches('/').split(['/', '?', '#']).nth(1).unwrap_or_default()
        } else {
            segment
        };
        let segment = segment.trim_start_matches('@');
        if segment.is_empty() {
            return Err(NormalizeError::Website("a shared host without the person's page"));
        }
        return Ok(format!("site:{host}/{segment}"));
    }
    Ok(format!("site:{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_site_written_many_ways_is_one_key() {
        for v in [
            "https://www.JaneDoe.dev/about",
            "janedoe.dev",
            "http://janedoe.dev:443/",
            "janedoe.dev.",
            "JANEDOE.DEV\u{200b}",
        ] {
            assert_eq!(key(v).unwrap(), "site:janedoe.dev", "{v}");
        }
        assert_eq!(key("https://jane.github.io/portfolio").unwrap(), "site:jane.github.io");
        assert_eq!(key("https://sites.google.com/view/jane-doe/home").unwrap(), "site:sites.google.com/jane-doe");
        assert_eq!(key("medium.com/@jane").unwrap(), "site:medium.com/jane");
    }

    #[test]
    fn platforms_and_shared_hosts_are_not_websites() {
        for v in [
            "https://github.com/jane",
            "linkedin.com",
            "https://uk.linkedin.com/",
            "https://bit.ly/x",
            "ftp://jane.dev",
            "10.0.0.1",
            "jane",
            "sites.google.com",
            "",
        ] {
            assert!(key(v).is_err(), "{v}");
        }
    }
}
