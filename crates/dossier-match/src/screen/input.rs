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
    /// Bank accounts: an IBAN as a string, or an object with its parts.
    #[serde(default)]
    pub bank_accounts: Vec<BankInput>,
    /// Personal websites and portfolios (profiles on known platforms go in `accounts`).
    #[serde(default)]
    pub websites: Vec<String>,
    /// Perceptual hashes of profile photos (16 hexadecimal digits, `dossier photo-hash`).
    #[serde(default)]
    pub photos: Vec<String>,
    /// Identity documents: `TYPE COUNTRY NUMBER` or an object with `type`, `country`,
    /// `number`. Compared as keyed hashes only.
    #[serde(default)]
    pub id_documents: Vec<IdDocumentInput>,
    /// Postal addresses as written (`1420 Oak St Apt 3, Springfield, IL 62704`).
    #[serde(default)]
    pub addresses: Vec<String>,
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

/// A bank account: an IBAN, or an account number with its national bank code (an ABA
/// routing number, a sort code, a Bankleitzahl) and country. In JSON either a string (an
/// IBAN, or `code account`) or an object with `iban`, `account_number`,
/// `routing_number` / `sort_code` / `bank_code`, `country`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(try_from = "serde_json::Value")]
pub struct BankInput {
    pub iban: Option<String>,
    pub account_number: Option<String>,
    pub bank_code: Option<String>,
    pub country: Option<String>,
}

impl BankInput {
    /// The parts the normaliser reads.
    pub fn parts(&self) -> crate::normalize::bank::Parts {
        crate::normalize::bank::Parts {
            iban: self.iban.clone(),
            account_number: self.account_number.clone(),
            bank_code: self.bank_code.clone(),
            country: self.country.clone(),
        }
    }

    /// The account as one line of text, its parts in upper case without separators (for
    /// explanations and the audit log's keyed hashes: the same account typed two ways hashes
    /// alike).
    pub fn text(&self) -> String {
        [&self.iban, &self.bank_code, &self.account_number]
            .into_iter()
            .flatten()
            .map(|p| crate::normalize::bank::compact(&crate::normalize::clean::clean(p).0))
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl TryFrom<serde_json::Value> for BankInput {
    type Error = String;

    fn try_from(v: serde_json::Value) -> Result<Self, String> {
        const SHAPE: &str = "a bank account is a string (an IBAN, or `code account`) or an object with iban, account_number, routing_number, sort_code, bank_code, country";
        match v {
            serde_json::Value::String(t) => Ok(bank_from_text(&t)),
            serde_json::Value::Object(m) => {
                let mut b = BankInput::default();
                for (k, v) in m {
                    let v = v.as_str().ok_or_else(|| format!("bank account `{k}` must be a string"))?.to_owned();
                    match k.as_str() {
                        "iban" => b.iban = Some(v),
                        "account_number" => b.account_number = Some(v),
                        "routing_number" | "sort_code" | "bank_code" => b.bank_code = Some(v),
                        "country" => b.country = Some(v),
                        _ => return Err(format!("unknown bank account field `{k}`: {SHAPE}")),
                    }
                }
                Ok(b)
            }
            _ => Err(SHAPE.to_owned()),
        }
    }
}

/// An identity document as given: its type, issuing country and number.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(try_from = "serde_json::Value")]
pub struct IdDocumentInput {
    pub kind: String,
    pub country: String,
    pub number: String,
}

impl IdDocumentInput {
    /// Normalised, or why not.
    pub fn document(&self) -> Result<crate::normalize::id_document::IdDocument, crate::normalize::NormalizeError> {
        crate::normalize::id_document::normalize(&self.kind, &self.country, &self.number)
    }

    /// The document as one line with the number masked but for its last 3 characters (for
    /// explanations).
    pub fn masked(&self) -> String {
        let n: Vec<char> = self.number.chars().filter(char::is_ascii_alphanumeric).collect();
        let shown: String = n.iter().skip(n.len().saturating_sub(3)).collect();
        format!("{} {} …{shown}", self.kind.trim(), self.country.trim())
    }

    /// The text the audit log's keyed hash is taken of (its canonical form when it reads).
    pub fn text(&self) -> String {
        self.document().map_or_else(|_| format!("{} {} {}", self.kind, self.country, self.number), |d| d.canonical())
    }
}

impl TryFrom<serde_json::Value> for IdDocumentInput {
    type Error = String;

    fn try_from(v: serde_json::Value) -> Result<Self, String> {
        const SHAPE: &str =
            "an identity document is a string `TYPE COUNTRY NUMBER` or an object with type, country, number";
        match v {
            serde_json::Value::String(t) => Ok(id_document_from_text(&t)),
            serde_json::Value::Object(m) => {
                let mut d = IdDocumentInput::default();
                for (k, v) in m {
                    let v = v.as_str().ok_or_else(|| format!("identity document `{k}` must be a string"))?.to_owned();
                    match k.as_str() {
                        "type" => d.kind = v,
                        "country" => d.country = v,
                        "number" => d.number = v,
                        _ => return Err(format!("unknown identity document field `{k}`: {SHAPE}")),
                    }
                }
                Ok(d)
            }
            _ => Err(SHAPE.to_owned()),
        }
    }
}

/// An identity document written as `TYPE COUNTRY NUMBER` (the number may hold spaces).
pub fn id_document_from_text(v: &str) -> IdDocumentInput {
    let mut parts = v.split_whitespace();
    let kind = parts.next().unwrap_or_default().to_owned();
    let country = parts.next().unwrap_or_default().to_owned();
    IdDocumentInput { kind, country, number: parts.collect::<Vec<_>>().join(" ") }
}

/// A bank account written as text: an IBAN, `routing account`, `sort-code account`, or the
/// account number alone.
pub fn bank_from_text(v: &str) -> BankInput {
    let p = crate::normalize::bank::parts_from_text(v);
    BankInput { iban: p.iban, account_number: p.account_number, bank_code: p.bank_code, country: p.country }
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
    let lists: [(&str, Vec<&str>); 12] = [
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
        (
            "bank_accounts",
            a.bank_accounts
                .iter()
                .flat_map(|b| [&b.iban, &b.account_number, &b.bank_code, &b.country])
                .filter_map(|v| v.as_deref())
                .collect(),
        ),
        ("websites", a.websites.iter().map(String::as_str).collect()),
        ("addresses", a.addresses.iter().map(String::as_str).collect()),
        ("photos", a.photos.iter().map(String::as_str).collect()),
        (
            "id_documents",
            a.id_documents.iter().flat_map(|d| [d.kind.as_str(), d.country.as_str(), d.number.as_str()]).collect(),
        ),
    ];
    let counts = [
        a.names.len(),
        a.emails.len(),
        a.phones.len(),
        a.accounts.len(),
        a.wallets.len(),
        a.ips.len(),
        a.documents.len(),
        a.bank_accounts.len(),
        a.websites.len(),
        a.addresses.len(),
        a.photos.len(),
        a.id_documents.len(),
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

/// The CSV columns of dossier's own format, in the documented order. A header row names
/// the columns used, in any order; [`CsvLayout`] also recognises the headers of common
/// applicant-tracking and exchange exports.
pub const CSV_COLUMNS: &[&str] = &[
    "ref",
    "names",
    "emails",
    "phones",
    "accounts",
    "wallets",
    "ips",
    "resume_text",
    "documents",
    "region",
    "bank_accounts",
    "websites",
    "photos",
    "id_documents",
    "addresses",
];

/// What one CSV column feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// One of [`CSV_COLUMNS`].
    Field(&'static str),
    /// Parts of a name, joined in this order: first, middle, last.
    FirstName,
    MiddleName,
    LastName,
    /// A profile on one platform: a URL, or the handle alone.
    Account(&'static str),
    /// A personal website or portfolio: an account when it is a profile on a known
    /// platform, a website otherwise.
    Website,
    /// A national bank code (routing number, sort code) for the row's bank accounts.
    BankCode,
    /// A part of the row's postal address (a street line, the city, the state, the postal
    /// code): the parts are joined, in the file's order, into one address.
    AddressPart,
    /// The network of the row's wallets (`ETH`, `TRX`, `BSC`, `bitcoin`).
    Chain,
    /// The asset of the row (`USDT`, `BTC`): the wallets' chain when it names one and no
    /// network column says otherwise.
    Asset,
    Ignore,
}

/// Header names (lower case, letters and digits only) and what they feed.
const HEADERS: &[(&str, Column)] = {
    use Column::*;
    &[
        ("ref", Field("ref")),
        ("id", Field("ref")),
        ("candidateid", Field("ref")),
        ("applicantid", Field("ref")),
        ("applicationid", Field("ref")),
        ("personid", Field("ref")),
        ("profileid", Field("ref")),
        ("customerid", Field("ref")),
        ("clientid", Field("ref")),
        ("userid", Field("ref")),
        ("reference", Field("ref")),
        ("referenceid", Field("ref")),
        ("externalid", Field("ref")),
        ("txid", Field("ref")),
        ("txhash", Field("ref")),
        ("transactionid", Field("ref")),
        ("transactionhash", Field("ref")),
        ("hash", Field("ref")),
        ("names", Field("names")),
        ("name", Field("names")),
        ("fullname", Field("names")),
        ("candidatename", Field("names")),
        ("applicantname", Field("names")),
        ("displayname", Field("names")),
        ("legalname", Field("names")),
        ("customername", Field("names")),
        ("beneficiaryname", Field("names")),
        ("counterpartyname", Field("names")),
        ("accountholder", Field("names")),
        ("aliases", Field("names")),
        ("firstname", FirstName),
        ("givenname", FirstName),
        ("forename", FirstName),
        ("first", FirstName),
        ("middlename", MiddleName),
        ("lastname", LastName),
        ("surname", LastName),
        ("familyname", LastName),
        ("last", LastName),
        ("emails", Field("emails")),
        ("email", Field("emails")),
        ("emailaddress", Field("emails")),
        ("emailaddresses", Field("emails")),
        ("mail", Field("emails")),
        ("primaryemail", Field("emails")),
        ("personalemail", Field("emails")),
        ("workemail", Field("emails")),
        ("contactemail", Field("emails")),
        ("phones", Field("phones")),
        ("phone", Field("phones")),
        ("phonenumber", Field("phones")),
        ("phonenumbers", Field("phones")),
        ("mobile", Field("phones")),
        ("mobilephone", Field("phones")),
        ("mobilenumber", Field("phones")),
        ("cell", Field("phones")),
        ("cellphone", Field("phones")),
        ("telephone", Field("phones")),
        ("tel", Field("phones")),
        ("contactnumber", Field("phones")),
        ("accounts", Field("accounts")),
        ("profiles", Field("accounts")),
        ("sociallinks", Field("accounts")),
        ("socialprofiles", Field("accounts")),
        ("links", Field("accounts")),
        ("linkedin", Account("linkedin")),
        ("linkedinprofile", Account("linkedin")),
        ("linkedinurl", Account("linkedin")),
        ("linkedinprofileurl", Account("linkedin")),
        ("github", Account("github")),
        ("githubprofile", Account("github")),
        ("githuburl", Account("github")),
        ("githubusername", Account("github")),
        ("gitlab", Account("gitlab")),
        ("telegram", Account("telegram")),
        ("telegramhandle", Account("telegram")),
        ("telegramid", Account("telegram")),
        ("skype", Account("skype")),
        ("skypeid", Account("skype")),
        ("discord", Account("discord")),
        ("discordusername", Account("discord")),
        ("twitter", Account("twitter")),
        ("x", Account("twitter")),
        ("upwork", Account("upwork")),
        ("upworkprofile", Account("upwork")),
        ("freelancer", Account("freelancer")),
        ("whatsapp", Account("whatsapp")),
        ("whatsappnumber", Account("whatsapp")),
        ("website", Website),
        ("personalwebsite", Website),
        ("portfolio", Website),
        ("portfoliourl", Website),
        ("websiteurl", Website),
        ("homepage", Website),
        ("url", Website),
        ("blog", Website),
        ("wallets", Field("wallets")),
        ("wallet", Field("wallets")),
        ("walletaddress", Field("wallets")),
        ("counterparty", Field("wallets")),
        ("counterpartyaddress", Field("wallets")),
        ("toaddress", Field("wallets")),
        ("fromaddress", Field("wallets")),
        ("destination", Field("wallets")),
        ("destinationaddress", Field("wallets")),
        ("recipient", Field("wallets")),
        ("recipientaddress", Field("wallets")),
        ("beneficiaryaddress", Field("wallets")),
        ("withdrawaladdress", Field("wallets")),
        ("depositaddress", Field("wallets")),
        ("cryptoaddress", Field("wallets")),
        ("payoutaddress", Field("wallets")),
        ("chain", Chain),
        ("network", Chain),
        ("blockchain", Chain),
        ("currency", Chain),
        ("asset", Chain),
        ("coin", Chain),
        ("ips", Field("ips")),
        ("ip", Field("ips")),
        ("ipaddress", Field("ips")),
        ("lastip", Field("ips")),
        ("lastloginip", Field("ips")),
        ("loginip", Field("ips")),
        ("signupip", Field("ips")),
        ("registrationip", Field("ips")),
        ("resumetext", Field("resume_text")),
        ("resume", Field("resume_text")),
        ("cv", Field("resume_text")),
        ("cvtext", Field("resume_text")),
        ("resumecontent", Field("resume_text")),
        ("documents", Field("documents")),
        ("sha256", Field("documents")),
        ("documentsha256", Field("documents")),
        ("resumesha256", Field("documents")),
        ("filehash", Field("documents")),
        ("bankaccounts", Field("bank_accounts")),
        ("bankaccount", Field("bank_accounts")),
        ("bankaccountnumber", Field("bank_accounts")),
        ("accountnumber", Field("bank_accounts")),
        ("iban", Field("bank_accounts")),
        ("ibannumber", Field("bank_accounts")),
        ("beneficiaryiban", Field("bank_accounts")),
        ("beneficiaryaccount", Field("bank_accounts")),
        ("beneficiaryaccountnumber", Field("bank_accounts")),
        ("payoutaccount", Field("bank_accounts")),
        ("routingnumber", BankCode),
        ("abaroutingnumber", BankCode),
        ("aba", BankCode),
        ("sortcode", BankCode),
        ("bankcode", BankCode),
        ("blz", BankCode),
        ("websites", Field("websites")),
        ("photos", Field("photos")),
        ("iddocuments", Field("id_documents")),
        ("iddocument", Field("id_documents")),
        ("passport", Field("id_documents")),
        ("photohash", Field("photos")),
        ("photophash", Field("photos")),
        ("phash", Field("photos")),
        ("addresses", Field("addresses")),
        ("postaladdress", Field("addresses")),
        ("homeaddress", Field("addresses")),
        ("mailingaddress", Field("addresses")),
        ("streetaddress", Field("addresses")),
        ("residentialaddress", Field("addresses")),
        ("shippingaddress", Field("addresses")),
        ("fulladdress", Field("addresses")),
        ("addressline1", AddressPart),
        ("addressline2", AddressPart),
        ("address1", AddressPart),
        ("address2", AddressPart),
        ("street", AddressPart),
        ("city", AddressPart),
        ("town", AddressPart),
        ("state", AddressPart),
        ("province", AddressPart),
        ("zip", AddressPart),
        ("zipcode", AddressPart),
        ("postalcode", AddressPart),
        ("postcode", AddressPart),
        ("region", Field("region")),
        ("countrycode", Field("region")),
        ("country", Field("region")),
    ]
};

/// The header name as [`HEADERS`] holds it: lower case, letters and digits only.
fn header_key(name: &str) -> String {
    name.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The fields `--map` accepts: [`CSV_COLUMNS`], the name parts, `chain`, `website`,
/// `ignore`, and `account:PLATFORM`.
pub fn parse_target(field: &str) -> Result<Column, String> {
    let f = field.trim().to_ascii_lowercase();
    if let Some(c) = CSV_COLUMNS.iter().find(|c| **c == f) {
        return Ok(Column::Field(c));
    }
    Ok(match f.as_str() {
        "first_name" => Column::FirstName,
        "middle_name" => Column::MiddleName,
        "last_name" => Column::LastName,
        "chain" => Column::Chain,
        "asset" => Column::Asset,
        "website" => Column::Website,
        "street" | "city" | "state" | "postal_code" | "zip" | "address_part" => Column::AddressPart,
        "bank_code" | "routing_number" | "sort_code" => Column::BankCode,
        "ignore" => Column::Ignore,
        _ => {
            if let Some(p) = f.strip_prefix("account:") {
                let known = HEADERS.iter().find_map(|(_, c)| match c {
                    Column::Account(q) if *q == p => Some(*q),
                    _ => None,
                });
                if let Some(q) = known {
                    return Ok(Column::Account(q));
                }
            }
            return Err(format!(
                "unknown field `{field}`; map a column to one of {}, first_name, middle_name, last_name, chain, website, bank_code, street, city, state, postal_code, account:PLATFORM (linkedin, github, telegram, skype, discord, …) or ignore",
                CSV_COLUMNS.join(", ")
            ));
        }
    })
}

/// How the columns of one CSV file feed an applicant: from its header, the recognised
/// names of common exports, and the caller's `Column=field` mappings (which win).
#[derive(Debug, Clone)]
pub struct CsvLayout {
    columns: Vec<Column>,
    /// Columns neither recognised nor mapped: ignored, and said once.
    pub ignored: Vec<String>,
    /// No column gives a ref: each record's ref is `line N`.
    pub refs_from_lines: bool,
}

impl CsvLayout {
    /// Reads a header; `mapping` holds `(column as in the header, field)`. Errors name the
    /// column or the mapping at fault.
    pub fn from_header(header: &csv::StringRecord, mapping: &[(String, String)]) -> Result<Self, RecordError> {
        let mut columns = Vec::with_capacity(header.len());
        let mut ignored = Vec::new();
        let names: Vec<&str> = header.iter().map(|n| n.trim().trim_start_matches('\u{feff}')).collect();
        for (column, _) in mapping {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(column.trim())) {
                return Err(RecordError::new(
                    None,
                    Some(column),
                    format!(
                        "--map names the column `{column}`, which the header does not have (it has {})",
                        names.join(", ")
                    ),
                ));
            }
        }
        let has_person = names.iter().any(|n| {
            matches!(
                HEADERS.iter().find(|(k, _)| *k == header_key(n)).map(|(_, c)| *c),
                Some(Column::Field("names" | "emails" | "phones") | Column::FirstName | Column::LastName)
            )
        });
        for name in &names {
            let mapped = mapping.iter().find(|(c, _)| c.trim().eq_ignore_ascii_case(name));
            let column = match mapped {
                Some((_, field)) => parse_target(field).map_err(|e| RecordError::new(None, Some(name), e))?,
                None => {
                    let key = header_key(name);
                    match HEADERS.iter().find(|(k, _)| *k == key) {
                        Some((_, c)) => *c,
                        // An exchange file's `Address` is a wallet; an applicant file's is
                        // where the person lives.
                        None if key == "address" && !has_person => Column::Field("wallets"),
                        None if key == "address" => Column::Field("addresses"),
                        None => {
                            if !name.is_empty() {
                                ignored.push((*name).to_owned());
                            }
                            Column::Ignore
                        }
                    }
                }
            };
            columns.push(column);
        }
        if !columns.iter().any(|c| !matches!(c, Column::Ignore | Column::Field("ref"))) {
            return Err(RecordError::new(
                None,
                None,
                format!(
                    "the header names no column to screen (it has {}); name columns as {} or map them with Column=field",
                    names.join(", "),
                    CSV_COLUMNS.join(", ")
                ),
            ));
        }
        let refs_from_lines = !columns.contains(&Column::Field("ref"));
        Ok(Self { columns, ignored, refs_from_lines })
    }

    /// One CSV row, found at `line`. Lists are `;`-separated; an account is a URL or
    /// `platform:username`; a wallet is `address` or `chain:address`; documents are SHA-256
    /// hex digests; first, middle and last names are joined into one name.
    pub fn row(&self, row: &csv::StringRecord, line: u64, limits: &Limits) -> Result<Applicant, RecordError> {
        let bytes: usize = row.iter().map(str::len).sum();
        if bytes > limits.record_bytes {
            return Err(RecordError::new(
                None,
                None,
                format!("row is {bytes} bytes, the limit is {}", limits.record_bytes),
            ));
        }
        let mut a = Applicant::default();
        let mut parts: [Vec<&str>; 3] = Default::default();
        let mut chain: Option<&str> = None;
        let mut asset: Option<&str> = None;
        let mut bank_code: Option<&str> = None;
        let mut address_parts: Vec<&str> = Vec::new();
        for (cell, col) in row.iter().zip(&self.columns) {
            match col {
                Column::Field("ref") => {
                    if a.reference.is_empty() {
                        a.reference = cell.trim().to_owned();
                    }
                }
                Column::Field("names") => a.names.extend(cell_values(cell).map(str::to_owned)),
                Column::Field("emails") => a.emails.extend(cell_values(cell).map(str::to_owned)),
                Column::Field("phones") => a.phones.extend(cell_values(cell).map(str::to_owned)),
                Column::Field("ips") => a.ips.extend(cell_values(cell).map(str::to_owned)),
                Column::Field("resume_text") => {
                    if !cell.trim().is_empty() {
                        a.resume_text = Some(match a.resume_text.take() {
                            Some(t) => format!("{t}\n{cell}"),
                            None => cell.to_owned(),
                        });
                    }
                }
                Column::Field("documents") => {
                    a.documents.extend(cell_values(cell).map(|v| DocumentInput { sha256: v.to_owned() }));
                }
                Column::Field("region") => {
                    if let Some(r) = region_of(cell) {
                        a.region = Some(r);
                    }
                }
                Column::Field("accounts") => a.accounts.extend(cell_values(cell).map(account_from_text)),
                Column::Field("wallets") => a.wallets.extend(cell_values(cell).map(wallet_from_text)),
                Column::Field("bank_accounts") => a.bank_accounts.extend(cell_values(cell).map(bank_from_text)),
                Column::Field("websites") => a.websites.extend(cell_values(cell).map(str::to_owned)),
                // An address spans lines: only `;` separates two of them.
                Column::Field("addresses") => {
                    a.addresses.extend(cell.split(';').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned));
                }
                Column::AddressPart => {
                    if !cell.trim().is_empty() {
                        address_parts.push(cell.trim());
                    }
                }
                Column::Field("photos") => a.photos.extend(cell_values(cell).map(str::to_owned)),
                Column::Field("id_documents") => a.id_documents.extend(cell_values(cell).map(id_document_from_text)),
                Column::BankCode => bank_code = Some(cell.trim()).filter(|c| !c.is_empty()),
                Column::Field(_) | Column::Ignore => {}
                Column::FirstName => parts[0].push(cell.trim()),
                Column::MiddleName => parts[1].push(cell.trim()),
                Column::LastName => parts[2].push(cell.trim()),
                Column::Account(platform) => a.accounts.extend(cell_values(cell).map(|v| {
                    if v.contains('/') || v.contains("://") {
                        AccountInput { url: Some(v.to_owned()), ..Default::default() }
                    } else {
                        AccountInput {
                            platform: Some((*platform).to_owned()),
                            username: Some(v.to_owned()),
                            ..Default::default()
                        }
                    }
                })),
                Column::Website => {
                    for v in cell_values(cell) {
                        if crate::normalize::account::from_url(v).is_ok() {
                            a.accounts.push(AccountInput { url: Some(v.to_owned()), ..Default::default() });
                        } else {
                            a.websites.push(v.to_owned());
                        }
                    }
                }
                Column::Chain => chain = Some(cell.trim()).filter(|c| !c.is_empty()),
                Column::Asset => {
                    asset = Some(cell.trim()).filter(|c| crate::wallet::Chain::named(c).is_some());
                }
            }
        }
        let joined: Vec<&str> = parts.iter().flatten().copied().filter(|p| !p.is_empty()).collect();
        if !joined.is_empty() {
            a.names.insert(0, joined.join(" "));
        }
        if !address_parts.is_empty() {
            a.addresses.push(address_parts.join(", "));
        }
        if let Some(code) = bank_code {
            for b in &mut a.bank_accounts {
                if b.iban.is_none() && b.bank_code.is_none() {
                    b.bank_code = Some(code.to_owned());
                }
            }
        }
        if let Some(chain) = chain.or(asset) {
            for w in &mut a.wallets {
                if w.chain.is_none() {
                    w.chain = Some(chain.to_owned());
                }
            }
        }
        if self.refs_from_lines || a.reference.is_empty() {
            a.reference = format!("line {line}");
        }
        check(&a, limits)?;
        Ok(a)
    }
}

/// A region from a country cell: an ISO 3166 alpha-2 code, or a few common country names.
fn region_of(cell: &str) -> Option<String> {
    let c = cell.trim();
    if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Some(c.to_ascii_uppercase());
    }
    let code = match c.to_ascii_lowercase().as_str() {
        "united states" | "usa" | "united states of america" => "US",
        "canada" => "CA",
        "united kingdom" | "uk" | "great britain" => "GB",
        "south korea" | "korea" | "republic of korea" => "KR",
        "japan" => "JP",
        "china" => "CN",
        "vietnam" | "viet nam" => "VN",
        "germany" => "DE",
        "ukraine" => "UA",
        "russia" | "russian federation" => "RU",
        "poland" => "PL",
        "romania" => "RO",
        "india" => "IN",
        "philippines" => "PH",
        "australia" => "AU",
        "france" => "FR",
        "netherlands" => "NL",
        _ => return None,
    };
    Some(code.to_owned())
}

/// Splits a multi-valued CSV cell: values are separated by `;` (or new lines).
fn cell_values(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '\n']).map(str::trim).filter(|v| !v.is_empty())
}

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

    fn layout(csv_text: &str, mapping: &[(&str, &str)]) -> Result<(CsvLayout, Vec<Applicant>), RecordError> {
        let mut r = csv::ReaderBuilder::new().from_reader(csv_text.as_bytes());
        let mapping: Vec<(String, String)> = mapping.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
        let l = CsvLayout::from_header(r.headers().unwrap(), &mapping)?;
        let rows = r
            .records()
            .map(|row| {
                let row = row.unwrap();
                let line = row.position().unwrap().line();
                l.row(&row, line, &Limits::default()).unwrap()
            })
            .collect();
        Ok((l, rows))
    }

    #[test]
    fn csv_rows_use_the_same_names() {
        let (l, rows) = layout(
            "ref,names,emails,accounts,wallets\napp-1,Kim Chol-su,a@x.org;b@y.org,github:cs-dev;https://t.me/csdev,eth:0xabc\n",
            &[],
        )
        .unwrap();
        let a = &rows[0];
        assert!(l.ignored.is_empty() && !l.refs_from_lines);
        assert_eq!(a.reference, "app-1");
        assert_eq!(a.emails, ["a@x.org", "b@y.org"]);
        assert_eq!(a.accounts[0].platform.as_deref(), Some("github"));
        assert_eq!(a.accounts[1].url.as_deref(), Some("https://t.me/csdev"));
        assert_eq!(a.wallets[0].chain.as_deref(), Some("eth"));
    }

    #[test]
    fn exports_of_applicant_tracking_systems_and_exchanges_are_read_as_they_come() {
        // An ATS export: ids, split names, profile columns, a column of its own.
        let (l, rows) = layout(
            "\u{feff}Candidate ID,First Name,Last Name,Email Address,Phone Number,LinkedIn,GitHub Profile,Website,Source,Address\n\
             c-17,Chol-su,Kim,cs@example.org,+1 312 555 0142,https://www.linkedin.com/in/kim-cs,cs-dev,https://github.com/cs-dev,Referral,1 Main St\n",
            &[],
        )
        .unwrap();
        assert_eq!(l.ignored, ["Source"]);
        assert_eq!(rows[0].addresses, ["1 Main St"], "an applicant file's address is a postal one");
        let a = &rows[0];
        assert_eq!(a.reference, "c-17");
        assert_eq!(a.names, ["Chol-su Kim"]);
        assert_eq!(a.emails, ["cs@example.org"]);
        assert_eq!(a.phones, ["+1 312 555 0142"]);
        assert_eq!(a.accounts.len(), 3);
        assert_eq!(a.accounts[1].platform.as_deref(), Some("github"));
        assert_eq!(a.accounts[1].username.as_deref(), Some("cs-dev"));
        // An address in parts, as applicant-tracking systems export it, joined in order.
        let (l, rows) = layout(
            "Name,Address Line 1,Address Line 2,City,State,Zip Code\nKim,1420 Oak St,Apt 3,Springfield,IL,62704\n",
            &[],
        )
        .unwrap();
        assert!(l.ignored.is_empty(), "{:?}", l.ignored);
        assert_eq!(rows[0].addresses, ["1420 Oak St, Apt 3, Springfield, IL, 62704"]);
        let (_, rows) = layout("Email,Home Address\na@x.org,\"1420 Oak St\nSpringfield IL 62704\"\n", &[]).unwrap();
        assert_eq!(rows[0].addresses, ["1420 Oak St\nSpringfield IL 62704"], "an address spans lines");
        // A website that is no known profile is not an account (yet): not an error either.
        let (_, rows) = layout("Email,Portfolio\na@x.org,https://cs.dev\n", &[]).unwrap();
        assert!(rows[0].accounts.is_empty());
        assert_eq!(rows[0].reference, "line 2", "no ref column: the line stands for it");
        // An exchange export: counterparties, a network column, a postal-free `Address`.
        let (l, rows) =
            layout("txid,Network,to_address\n0xfeed,TRX,TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7\n", &[]).unwrap();
        assert!(l.ignored.is_empty());
        assert_eq!(rows[0].reference, "0xfeed");
        assert_eq!(rows[0].wallets[0].chain.as_deref(), Some("TRX"));
        let (_, rows) = layout("Address\nTLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7\n", &[]).unwrap();
        assert_eq!(rows[0].wallets.len(), 1);
        // --map wins over recognition, and names what it cannot do.
        let (l, rows) =
            layout("Applicant,Handle,Src\nx1,@csdev,web\n", &[("Applicant", "ref"), ("Handle", "account:telegram")])
                .unwrap();
        assert_eq!(l.ignored, ["Src"]);
        assert_eq!(rows[0].reference, "x1");
        assert_eq!(rows[0].accounts[0].platform.as_deref(), Some("telegram"));
        let e = layout("A,B\n1,2\n", &[("C", "emails")]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("C"));
        let e = layout("A,B\n1,2\n", &[("A", "shoe_size")]).unwrap_err();
        assert!(e.reason.contains("unknown field"), "{e:?}");
        let e = layout("ref,colour\n1,red\n", &[]).unwrap_err();
        assert!(e.reason.contains("no column to screen"), "{e:?}");
        // Country names become regions; what is not one is left out.
        let (_, rows) = layout("Email,Country\na@x.org,South Korea\nb@x.org,Atlantis\n", &[]).unwrap();
        assert_eq!(rows[0].region.as_deref(), Some("KR"));
        assert_eq!(rows[1].region, None);
    }
}
