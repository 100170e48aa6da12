//! Media-type negotiation for TAXII 2.1 (`Accept`, `Content-Type`).

/// The TAXII 2.1 media type this server speaks.
pub const TAXII_21: &str = "application/taxii+json;version=2.1";
/// The STIX media type of the objects it serves.
pub const STIX_21: &str = "application/stix+json;version=2.1";

struct Range<'a> {
    essence: String,
    version: Option<&'a str>,
    q: f32,
}

fn parse_range(part: &str) -> Range<'_> {
    let mut pieces = part.split(';');
    let essence = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
    let mut version = None;
    let mut q = 1.0;
    for p in pieces {
        let Some((k, v)) = p.split_once('=') else { continue };
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "version" => version = Some(v),
            "q" => q = v.parse().unwrap_or(0.0),
            _ => {}
        }
    }
    Range { essence, version, q }
}

/// Does an `Accept` header allow a TAXII 2.1 response? A missing header does.
pub fn accepts_taxii(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return true };
    if accept.trim().is_empty() {
        return true;
    }
    accept.split(',').map(parse_range).any(|r| {
        r.q > 0.0
            && match r.essence.as_str() {
                "application/taxii+json" => r.version.is_none_or(|v| v == "2.1"),
                "*/*" | "application/*" => true,
                _ => false,
            }
    })
}

/// Is a request `Content-Type` TAXII 2.1 (with or without the version parameter)?
pub fn is_taxii_content(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let r = parse_range(ct);
    r.essence == "application/taxii+json" && r.version.is_none_or(|v| v == "2.1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_table() {
        for ok in [
            None,
            Some("application/taxii+json;version=2.1"),
            Some("application/taxii+json"),
            Some("application/taxii+json; version=2.1"),
            Some("application/json, application/taxii+json;version=2.1"),
            Some("application/taxii+json;version=2.1;q=0.9"),
            Some("*/*"),
        ] {
            assert!(accepts_taxii(ok), "{ok:?}");
        }
        for bad in [
            Some("application/xml"),
            Some("application/taxii+json;version=2.0"),
            Some("application/taxii+json;q=0"),
            Some("application/json"),
        ] {
            assert!(!accepts_taxii(bad), "{bad:?}");
        }
        assert!(is_taxii_content(Some("application/taxii+json")));
        assert!(!is_taxii_content(Some("application/json")));
        assert!(!is_taxii_content(Some("application/taxii+json;version=2.0")));
    }
}
