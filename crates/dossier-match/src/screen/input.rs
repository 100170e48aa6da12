//! Screening requests: one applicant, from a JSON object or a CSV row.
//!
//! Unknown fields are an error, never silently dropped. Limits are explicit (see
//! [`Limits`]); a record that breaks one is refused with the field named, and a batch goes on
//! with the next record.

use serde::Deserialize;

/// Size limits of one applicant record.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of one JSON line or CSV row.
    pub record_bytes: usize,
    /// Entries in any one list (names, emails, …).
    pub list_len: usize,
    /// Bytes of any one value except the resume.
    pub value_bytes: usize,
    /// Bytes of `resume_text`.
    pub resume_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { record_bytes: 256 * 1024, list_len: 50, value_bytes: 1024, resume_bytes: 100 * 1024 }
    }
}

/// One applicant or counterparty to screen.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    #[serde(rename = "ref")]
    pub reference: String,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<AccountInput>,
    #[serde(default)]
    pub wallets: Vec<WalletInput>,
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
    pub resume_text: Option<String>,
    #[serde(default)]
    pub documents: Vec<DocumentInput>,
    /// ISO 3166 region for phone numbers written without a country code (an addition to the
    /// request format; when absent the region is taken from the applicant's other data).
    #[serde(default)]
    pub region: Option<String>,
}

/// A platform account: a profile URL, or a platform with a user name or a numeric id.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// A cryptocurrency address, with its chain when the caller knows it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WalletInput {
    #[serde(default)]
    pub chain: Option<String>,
    pub address: String,
}

/// A document by its hash.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DocumentInput {
    pub sha256: String,
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct RecordError {
    /// The record's `ref`, when it could be read.
    pub reference: Option<String>,
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub reason: String,
}

impl RecordError {
    fn new(reference: Option<&str>, field: Option<&str>, reason: impl Into<String>) -> Self {
        Self { reference: reference.map(str::to_owned), field: field.map(str::to_owned), reason: reason.into() }
    }
}

/// Parses one JSON object (a line of JSON Lines or a request body).
pub fn from_json(bytes: &[u8], limits: &Limits) -> Result<Applicant, RecordError> {
    if bytes.len() > limits.record_bytes {
        return Err(RecordError::new(
            None,
            None,
            format!("record is {} bytes, the limit is {}", bytes.len(), limits.record_bytes),
        ));
    }
    let applicant: Applicant = serde_json::from_slice(bytes).map_err(|e| {
        // serde names the unknown or mistyped field in its message; the ref, when present,
        // is recovered for the report.
        let reference = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("ref").and_then(|r| r.as_str()).map(str::to_owned));
        let field = e.to_string().split('`').nth(1).map(str::to_owned);
        let mut err = RecordError::new(reference.as_deref(), None, e.to_string());
        err.field = field;
        err
    })?;
    check(&applicant, limits)?;
    Ok(applicant)
}

/// Checks the limits and that `ref` is present.
pub fn check(a: &Applicant, limits: &Limits) -> Result<(), RecordError> {
    let r = Some(a.reference.as_str());
    if a.reference.trim().is_empty() {
        return Err(RecordError::new(None, Some("ref"), "ref must not be empty"));
    }
    if a.reference.len() > 200 {
        return Err(RecordError::new(None, Some("ref"), "ref is longer than 200 bytes"));
    }
    let lists: [(&str, Vec<&str>); 7] = [
        ("names", a.names.iter().map(String::as_str).collect()),
        ("emails", a.emails.iter().map(String::as_str).collect()),
        ("phones", a.phones.iter().map(String::as_str).collect()),
        (
            "accounts",
            a.accounts
                .iter()
                .flat_map(|x| [&x.platform, &x.username, &x.user_id, &x.url])
                .filter_map(|v| v.as_deref())
                .collect(),
        ),
        ("wallets", a.wallets.iter().flat_map(|w| [w.chain.as_deref(), Some(w.address.as_str())]).flatten().collect()),
        ("ips", a.ips.iter().map(String::as_str).collect()),
        ("documents", a.documents.iter().map(|d| d.sha256.as_str()).collect()),
    ];
    let counts = [
        a.names.len(),
        a.emails.len(),
        a.phones.len(),
        a.accounts.len(),
        a.wallets.len(),
        a.ips.len(),
        a.documents.len(),
    ];
    for ((field, values), n) in lists.iter().zip(counts) {
        if n > limits.list_len {
            return Err(RecordError::new(r, Some(field), format!("{n} entries, the limit is {}", limits.list_len)));
        }
        if let Some(v) = values.iter().find(|v| v.len() > limits.value_bytes) {
            return Err(RecordError::new(
                r,
                Some(field),
                format!("a value is {} bytes, the limit is {}", v.len(), limits.value_bytes),
            ));
        }
    }
    if let Some(text) = &a.resume_text
        && text.len() > limits.resume_bytes
    {
        return Err(RecordError::new(
            r,
            Some("resume_text"),
            format!("{} bytes, the limit is {}", text.len(), limits.resume_bytes),
        ));
    }
    for (i, acc) in a.accounts.iter().enumerate() {
        if acc.url.is_none() && acc.platform.is_none() {
            return Err(RecordError::new(r, Some("accounts"), format!("entry {i} needs a url or a platform")));
        }
        if acc.url.is_none() && acc.username.is_none() && acc.user_id.is_none() {
            return Err(RecordError::new(r, Some("accounts"), format!("entry {i} needs a username or a user_id")));
        }
    }
    if let Some(region) = &a.region
        && (region.len() != 2 || !region.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(RecordError::new(r, Some("region"), "region must be an ISO 3166 alpha-2 code such as US or KR"));
    }
    Ok(())
}

/// The CSV columns, in the documented order. A header row names the columns used; any
/// subset in any order is accepted, an unknown column is an error.
pub const CSV_COLUMNS: &[&str] =
    &["ref", "names", "emails", "phones", "accounts", "wallets", "ips", "resume_text", "documents", "region"];

/// Checks a CSV header and returns the column order.
pub fn csv_header(header: &csv::StringRecord) -> Result<Vec<usize>, RecordError> {
    let mut order = Vec::new();
    for name in header {
        let name = name.trim();
        match CSV_COLUMNS.iter().position(|c| *c == name) {
            Some(i) => order.push(i),
            None => {
                return Err(RecordError::new(
                    None,
                    Some(name),
                    format!("unknown column `{name}`; expected some of {}", CSV_COLUMNS.join(", ")),
                ));
            }
        }
    }
    if !order.contains(&0) {
        return Err(RecordError::new(None, Some("ref"), "the header has no `ref` column"));
    }
    Ok(order)
}

/// Splits a multi-valued CSV cell: values are separated by `;` (or new lines).
fn cell_values(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '\n']).map(str::trim).filter(|v| !v.is_empty())
}

/// One CSV row. Lists are `;`-separated; an account is a URL or `platform:username`; a
/// wallet is `address` or `chain:address`; documents are SHA-256 hex digests.
/// An account written as text (a CSV cell, a form line): a profile URL, `platform:name`,
/// or a bare `@handle`.
pub fn account_from_text(v: &str) -> AccountInput {
    let v = v.trim();
    if v.contains("://") || v.contains('/') {
        AccountInput { url: Some(v.to_owned()), ..Default::default() }
    } else if let Some((p, u)) = v.split_once(':') {
        AccountInput { platform: Some(p.trim().to_owned()), username: Some(u.trim().to_owned()), ..Default::default() }
    } else {
        AccountInput { url: Some(v.to_owned()), ..Default::default() }
    }
}

/// A wallet written as text: `chain:address` or the bare address.
pub fn wallet_from_text(v: &str) -> WalletInput {
    let v = v.trim();
    match v.split_once(':') {
        Some((c, addr)) => WalletInput { chain: Some(c.trim().to_owned()), address: addr.trim().to_owned() },
        None => WalletInput { chain: None, address: v.to_owned() },
    }
}

pub fn from_csv(row: &csv::StringRecord, order: &[usize], limits: &Limits) -> Result<Applicant, RecordError> {
    let bytes: usize = row.iter().map(str::len).sum();
    if bytes > limits.record_bytes {
        return Err(RecordError::new(
            None,
            None,
            format!("row is {bytes} bytes, the limit is {}", limits.record_bytes),
        ));
    }
    let mut a = Applicant::default();
    for (cell, col) in row.iter().zip(order) {
        match CSV_COLUMNS[*col] {
            "ref" => a.reference = cell.trim().to_owned(),
            "names" => a.names = cell_values(cell).map(str::to_owned).collect(),
            "emails" => a.emails = cell_values(cell).map(str::to_owned).collect(),
            "phones" => a.phones = cell_values(cell).map(str::to_owned).collect(),
            "ips" => a.ips = cell_values(cell).map(str::to_owned).collect(),
            "resume_text" => a.resume_text = Some(cell.to_owned()).filter(|t| !t.trim().is_empty()),
            "documents" => {
                a.documents = cell_values(cell).map(|v| DocumentInput { sha256: v.to_owned() }).collect();
            }
            "region" => a.region = Some(cell.trim().to_owned()).filter(|r| !r.is_empty()),
            "accounts" => a.accounts = cell_values(cell).map(account_from_text).collect(),
            "wallets" => a.wallets = cell_values(cell).map(wallet_from_text).collect(),
            _ => {}
        }
    }
    check(&a, limits)?;
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_example_parses() {
        let a = from_json(
            br#"{"ref": "app-123", "names": ["Kim Chol-su"], "emails": ["chol.su.dev@gmail.com"],
                 "phones": ["+1 (555) 010-1234"],
                 "accounts": [{"platform": "github", "username": "cs-dev"}, {"url": "https://t.me/csdev"}],
                 "wallets": [{"chain": "eth", "address": "0xabc"}, {"address": "T123"}],
                 "ips": ["203.0.113.7"], "resume_text": "text", "documents": [{"sha256": "00"}]}"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(a.reference, "app-123");
        assert_eq!(a.accounts.len(), 2);
        assert_eq!(a.wallets[1].chain, None);
    }

    #[test]
    fn unknown_fields_and_limits_name_the_field_and_ref() {
        let e = from_json(br#"{"ref": "a1", "nmes": ["x"]}"#, &Limits::default()).unwrap_err();
        assert_eq!(e.reference.as_deref(), Some("a1"));
        assert_eq!(e.field.as_deref(), Some("nmes"));
        let e = from_json(br#"{"names": ["x"]}"#, &Limits::default()).unwrap_err();
        assert!(e.reason.contains("ref"), "{e:?}");
        let many: Vec<String> = (0..51).map(|i| format!("\"e{i}@x.org\"")).collect();
        let body = format!(r#"{{"ref": "a2", "emails": [{}]}}"#, many.join(","));
        let e = from_json(body.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!((e.reference.as_deref(), e.field.as_deref()), (Some("a2"), Some("emails")));
        let e = from_json(br#"{"ref": "a3", "accounts": [{"username": "x"}]}"#, &Limits::default()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("accounts"));
        let big = format!(r#"{{"ref": "a4", "resume_text": "{}"}}"#, "x".repeat(300_000));
        assert!(from_json(big.as_bytes(), &Limits::default()).is_err());
    }

    #[test]
    fn csv_rows_use_the_same_names() {
        let mut r = csv::ReaderBuilder::new().from_reader(
            "ref,names,emails,accounts,wallets\napp-1,Kim Chol-su,a@x.org;b@y.org,github:cs-dev;https://t.me/csdev,eth:0xabc\n"
                .as_bytes(),
        );
        let order = csv_header(r.headers().unwrap()).unwrap();
        let row = r.records().next().unwrap().unwrap();
        let a = from_csv(&row, &order, &Limits::default()).unwrap();
        assert_eq!(a.emails, ["a@x.org", "b@y.org"]);
        assert_eq!(a.accounts[0].platform.as_deref(), Some("github"));
        assert_eq!(a.accounts[1].url.as_deref(), Some("https://t.me/csdev"));
        assert_eq!(a.wallets[0].chain.as_deref(), Some("eth"));
        let bad = csv::StringRecord::from(vec!["ref", "colour"]);
        assert_eq!(csv_header(&bad).unwrap_err().field.as_deref(), Some("colour"));
    }
}
