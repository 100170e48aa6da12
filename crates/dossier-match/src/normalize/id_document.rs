//! Identity-document numbers: passports, national identity cards, driving licences,
//! residence permits, tax numbers.
//!
//! A document is its type, its issuing country and its number: `passport:KR:M12345678`.
//! The number is kept only as a keyed hash of that form (HMAC-SHA-256 under the ISAC's own
//! key, see [`crate::keyed`]): stored objects carry `number_hmac`, never the number, and a
//! screened applicant's number is hashed the same way before it is looked up.

use super::NormalizeError;

/// A document, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdDocument {
    /// `passport`, `national-id`, `drivers-license`, `residence-permit` or `tax-id`.
    pub kind: &'static str,
    /// ISO 3166 alpha-2.
    pub country: String,
    /// Upper-case letters and digits.
    pub number: String,
}

impl IdDocument {
    /// The text that is hashed: `passport:KR:M12345678`.
    pub fn canonical(&self) -> String {
        format!("{}:{}:{}", self.kind, self.country, self.number)
    }

    /// Its keyed hash under `key`: 64 hexadecimal digits, the stored `number_hmac`.
    pub fn hmac(&self, key: &[u8]) -> String {
        crate::keyed::hmac_hex(key, self.canonical().as_bytes(), 32)
    }
}

/// A document type as people write it.
pub fn kind_of(s: &str) -> Option<&'static str> {
    let k: String = s.trim().to_ascii_lowercase().chars().filter(char::is_ascii_alphanumeric).collect();
    Some(match k.as_str() {
        "passport" | "pp" | "passportnumber" => "passport",
        "nationalid" | "id" | "idcard" | "nationalidcard" | "identitycard" | "nid" => "national-id",
        "driverslicense" | "driverslicence" | "drivinglicence" | "drivinglicense" | "dl" | "license" | "licence" => {
            "drivers-license"
        }
        "residencepermit" | "residencecard" | "greencard" | "brp" => "residence-permit",
        "taxid" | "tin" | "ssn" | "nationalinsurance" | "nin" => "tax-id",
        _ => return None,
    })
}

/// ISO 3166 alpha-3 codes people use for the countries seen most, and alpha-2 as it is.
fn country_of(s: &str) -> Option<String> {
    let c = s.trim().to_ascii_uppercase();
    let two = match c.as_str() {
        "USA" => "US",
        "GBR" | "UK" => "GB",
        "KOR" => "KR",
        "PRK" => "KP",
        "CHN" => "CN",
        "JPN" => "JP",
        "RUS" => "RU",
        "UKR" => "UA",
        "DEU" => "DE",
        "FRA" => "FR",
        "CAN" => "CA",
        "VNM" => "VN",
        "PHL" => "PH",
        "IND" => "IN",
        "POL" => "PL",
        "ROU" => "RO",
        "NLD" => "NL",
        "AUS" => "AU",
        "LAO" => "LA",
        "KHM" => "KH",
        "MNG" => "MN",
        x if x.len() == 2 && x.bytes().all(|b| b.is_ascii_alphabetic()) => x,
        _ => return None,
    };
    Some(two.to_owned())
}

/// Normalises a document from its parts.
pub fn normalize(kind: &str, country: &str, number: &str) -> Result<IdDocument, NormalizeError> {
    let kind = kind_of(kind).ok_or(NormalizeError::IdDocument(
        "the type is passport, national-id, drivers-license, residence-permit or tax-id",
    ))?;
    let country = country_of(country)
        .ok_or(NormalizeError::IdDocument("the issuing country is an ISO 3166 code such as KR or USA"))?;
    let (cleaned, _) = super::clean::clean(number);
    let number: String = cleaned.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
    if !(4..=24).contains(&number.len()) {
        return Err(NormalizeError::IdDocument("a document number has 4 to 24 letters and digits"));
    }
    Ok(IdDocument { kind, country, number })
}

/// Reads a document written as one line: `TYPE COUNTRY NUMBER` (`passport KR M1234 5678`).
pub fn from_text(s: &str) -> Result<IdDocument, NormalizeError> {
    let mut parts = s.split([' ', ':', ',', ';', '/']).filter(|p| !p.is_empty());
    let (Some(kind), Some(country)) = (parts.next(), parts.next()) else {
        return Err(NormalizeError::IdDocument("write TYPE COUNTRY NUMBER, e.g. passport KR M12345678"));
    };
    let number: String = parts.collect::<Vec<_>>().join("");
    normalize(kind, country, &number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_document_written_many_ways_is_one_hash() {
        let key = b"isac key";
        let want = normalize("passport", "KR", "M12345678").unwrap().hmac(key);
        for (k, c, n) in
            [("Passport", "KOR", "m1234 5678"), ("PP", "kr", "M-12345678"), ("passport", "KR", "Ｍ12345678")]
        {
            assert_eq!(normalize(k, c, n).unwrap().hmac(key), want, "{k} {c} {n}");
        }
        assert_eq!(from_text("passport KR M1234 5678").unwrap().hmac(key), want);
        assert_eq!(want.len(), 64);
        // Another key, another hash: the number cannot be looked up without the ISAC's key.
        assert_ne!(normalize("passport", "KR", "M12345678").unwrap().hmac(b"other"), want);
        // Another country or type is another document.
        assert_ne!(normalize("passport", "KP", "M12345678").unwrap().hmac(key), want);
        assert_ne!(normalize("national-id", "KR", "M12345678").unwrap().hmac(key), want);
    }

    #[test]
    fn bad_documents_are_refused_with_the_reason() {
        assert!(normalize("library card", "KR", "M12345678").is_err());
        assert!(normalize("passport", "Korea", "M12345678").is_err());
        assert!(normalize("passport", "KR", "12").is_err());
        assert!(from_text("M12345678").is_err());
    }
}
