//! A second, independent evaluation generator (`dossier evaluate --generator independent`).
//!
//! `dossier generate` and the engine were tuned together, so they share assumptions about
//! what data looks like. This generator is written apart from it — its own name lists, its
//! own team model and its own perturbation models for *both* sides: what members store
//! (numbers in national formats or without `+`, Skype ids with their prefixes, Discord
//! names with the old discriminator, copy-paste artefacts) and what applicants present
//! (zero-width and non-breaking spaces, full-width digits, smart quotes, homoglyphs,
//! OCR-like resume errors, re-ordered and partly rewritten resumes, new personas with only
//! weak evidence). Legitimate applicants include hard negatives that share a name, a VPN
//! exit, a public resume template, a phone prefix, or a look-alike of a team's wallet
//! (address poisoning: first and last characters equal).
//!
//! Profile photos are drawn as their 64-bit perceptual hashes (what members store and
//! screen with): 40% of teams share one edited headshot across their personas, each copy
//! re-saved (0-3 bits differ); operatives present it again re-saved or cropped (0-6 bits);
//! innocents present portraits of their own, and 3% one of the same pose and framing as a
//! team's headshot (10-16 bits differ) as a hard negative. (A model of the hash, not of
//! pictures: how many bits a real re-encoding or crop flips is measured apart, in the
//! photo unit tests and the photo-hashing benchmark.) Passports are drawn when the caller
//! gives the evaluating store's key (they are stored only as keyed hashes): 30% of personas
//! showed one, a third of the operatives who reuse identifiers type it again, innocents give
//! their own, and 2% a number one digit from a persona's as a hard negative.
//!
//! It writes the same three files as `dossier generate` (bundle, applicants, truth), so
//! `dossier evaluate` measures both the same way. Every operative and hard negative carries
//! tags naming what was done to it, for the robustness tables.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::rng::Rng;

const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const PHONE_EXT: &str = "extension-definition--14a97ee2-e666-5ada-a6bd-b7177f79e211";
const WALLET_EXT: &str = "extension-definition--be78509e-6958-51b1-8b26-d17ee0eba2d7";
const BANK_EXT: &str = "extension-definition--f19f3291-6a84-5674-b311-d75a925d5bd9";
const T0: &str = "2024-03-01T00:00:00.000Z";

const SURNAMES: &[&[&str]] = &[
    &["Kim", "Gim"],
    &["Lee", "Yi", "Rhee", "Ri"],
    &["Park", "Pak", "Bak"],
    &["Choi", "Choe"],
    &["Jung", "Jeong", "Chung"],
    &["Kang"],
    &["Cho", "Jo"],
    &["Yoon", "Yun"],
    &["Jang", "Chang"],
    &["Han"],
    &["Shin", "Sin"],
    &["Hwang"],
];
const GIVEN: &[&[&str]] = &[
    &["Min-jun", "Minjun", "Min Jun"],
    &["Seo-yeon", "Seoyeon", "So-yon"],
    &["Ji-ho", "Jiho", "Chi-ho"],
    &["Hyun-woo", "Hyunwoo", "Hyon-u"],
    &["Eun-ji", "Eunji", "Un-ji"],
    &["Sung-min", "Sungmin", "Song-min"],
    &["Jae-won", "Jaewon", "Chae-won"],
    &["Young-ho", "Youngho", "Yong-ho"],
    &["Dong-hyun", "Donghyun", "Tong-hyon"],
    &["Myung-soo", "Myungsoo", "Myong-su"],
];
/// Names of the stolen or invented Western identities personas also use, and of most
/// legitimate applicants.
const WEST_FIRST: &[&str] = &[
    "Daniel", "Emily", "Michael", "Sarah", "David", "Jessica", "James", "Ashley", "Robert", "Laura", "Kevin", "Rachel",
    "Brian", "Megan", "Jason", "Nicole", "Eric", "Olivia", "Ryan", "Hannah",
];
const WEST_LAST: &[&str] = &[
    "Miller", "Johnson", "Brown", "Davis", "Wilson", "Moore", "Taylor", "Anderson", "Thomas", "Jackson", "White",
    "Harris", "Martin", "Garcia", "Clark", "Lewis", "Walker", "Young", "Allen", "King",
];
const PROVIDERS: &[&str] = &["gmail.com", "proton.me", "outlook.com", "yahoo.com", "protonmail.com", "hotmail.com"];
/// Regions whose numbers a member may store in national form, with a trunk prefix.
const NATIONAL: &[(&str, &str, usize)] = &[("81", "0", 10), ("82", "0", 10), ("380", "0", 9), ("84", "0", 9)];
/// Resume sentences; a team's template takes some, stock templates on the web others.
const SENTENCES: &[&str] = &[
    "Built scalable backend services in Go and Node.js handling millions of daily transactions.",
    "Led the migration of a legacy payments platform to event-driven microservices on AWS.",
    "Designed smart contracts in Solidity for a decentralized lending protocol with audited vaults.",
    "Implemented React and Next.js front ends with server-side rendering and strict accessibility.",
    "Optimised PostgreSQL queries and indexes, cutting the p99 latency of the API by sixty percent.",
    "Maintained CI pipelines with GitHub Actions, Terraform and Kubernetes for twelve services.",
    "Developed a cross-chain bridge relayer in Rust with reorg handling and replay protection.",
    "Integrated Stripe and Plaid for onboarding flows in a regulated neobank application.",
    "Wrote mobile wallets in React Native and Kotlin supporting hardware key signing.",
    "Mentored junior engineers and ran weekly code reviews focused on security and testing.",
    "Shipped a real-time analytics dashboard with WebSockets, Redis streams and ClickHouse.",
    "Automated market-making bots on centralized exchanges with risk limits and kill switches.",
    "Refactored a monolithic Django application into typed modules with full test coverage.",
    "Created GraphQL gateways federating eight domain services behind one schema.",
    "Audited DeFi protocols for reentrancy, oracle manipulation and access-control flaws.",
    "Containerised machine-learning inference with ONNX runtime and autoscaling on GPUs.",
    "Built NFT marketplace features including lazy minting, royalties and IPFS pinning.",
    "Reduced cloud spend by forty percent through rightsizing and spot-instance scheduling.",
    "Owned the on-call rotation and wrote postmortems that halved repeat incidents.",
    "Designed a multi-tenant SaaS permission model with row-level security and SSO.",
    "Developed Chrome extensions and Electron apps for traders with encrypted local storage.",
    "Implemented zero-knowledge proof verification circuits in Circom for a privacy pool.",
    "Built ETL pipelines in Python and Airflow feeding a Snowflake data warehouse.",
    "Coordinated releases across time zones as the technical lead of a remote team of nine.",
];

struct Persona {
    id: String,
    name: String,
    korean: Option<(usize, usize, usize, usize)>,
    emails: Vec<String>,
    phones: Vec<(String, String)>,
    accounts: Vec<(&'static str, String)>,
    resume: Option<String>,
    /// A personal site or portfolio (`janedoe.dev`, `jane.github.io`).
    website: Option<String>,
    /// A passport the persona showed (issuing country, number), forged or stolen.
    passport: Option<(&'static str, String)>,
}

/// Countries whose passports personas show.
const PASSPORT_COUNTRIES: [&str; 5] = ["KR", "CN", "JP", "US", "VN"];

fn passport_number(r: &mut Rng) -> String {
    format!("{}{}", char::from(b'A' + r.below(26) as u8), decimal(r, 8))
}

/// A team's bank account: a UK or German IBAN with its national parts, or a US account
/// by routing number.
#[derive(Clone)]
struct Bank {
    iban: Option<String>,
    code: String,
    account: String,
    country: &'static str,
}

/// A US routing number with a valid ABA check digit.
fn aba(r: &mut Rng) -> String {
    let d: Vec<u32> = (0..8).map(|_| r.below(10) as u32).collect();
    let sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5];
    let check = (10 - sum % 10) % 10;
    d.iter().chain(std::iter::once(&check)).map(|v| char::from(b'0' + *v as u8)).collect()
}

fn bank(r: &mut Rng) -> Bank {
    use dossier_match::normalize::bank::iban_of;
    match r.below(10) {
        0..=3 => {
            let (sort, account) = (decimal(r, 6), decimal(r, 8));
            let code = *r.pick(&["BUKB", "NWBK", "MIDL", "BARC", "LOYD"]);
            Bank { iban: Some(iban_of("GB", &format!("{code}{sort}{account}"))), code: sort, account, country: "GB" }
        }
        4..=6 => {
            let (blz, account) = (format!("{}{}", r.range(1, 9), decimal(r, 7)), decimal(r, 10));
            Bank { iban: Some(iban_of("DE", &format!("{blz}{account}"))), code: blz, account, country: "DE" }
        }
        _ => {
            let code = aba(r);
            let len = r.range(8, 12) as usize;
            Bank { iban: None, code, account: decimal(r, len), country: "US" }
        }
    }
}

/// An IBAN in groups of four, as printed on statements.
fn spaced(iban: &str) -> String {
    iban.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// A look-alike of an IBAN: one digit of the account changed (the check digits then fail),
/// or the same bank with another account (valid, but not the team's).
fn iban_lookalike(r: &mut Rng, b: &Bank, tags: &mut Vec<&'static str>) -> String {
    let iban = b.iban.clone().unwrap_or_default();
    if r.chance(0.5) {
        tags.push("iban-one-digit-changed");
        let at = iban.len() - 1 - r.below(6) as usize;
        let old = iban.as_bytes()[at];
        let new = if old == b'9' { b'0' } else { old + 1 };
        format!("{}{}{}", &iban[..at], char::from(new), &iban[at + 1..])
    } else {
        tags.push("iban-same-bank-other-account");
        let bban_head = &iban[4..iban.len() - b.account.len()];
        let mut account = decimal(r, b.account.len());
        if account == b.account {
            account = b.account.chars().rev().collect();
        }
        dossier_match::normalize::bank::iban_of(&iban[..2], &format!("{bban_head}{account}"))
    }
}

/// A US residential address: a laptop farm's, or an applicant's own.
#[derive(Clone)]
struct Postal {
    number: u64,
    street: &'static str,
    ty: usize,
    unit: Option<u64>,
    city: usize,
    zip: String,
}

const STREETS: &[&str] = &[
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Main",
    "Sunset",
    "Ridge",
    "Willow",
    "Lincoln",
    "Jackson",
    "Highland",
    "Meadow",
    "Forest",
    "River",
    "Church",
    "Spring",
    "Madison",
    "Walnut",
    "Cherry",
    "Chestnut",
    "Center",
    "Franklin",
    "Hickory",
    "Dogwood",
    "Adams",
];
const STREET_KINDS: &[(&str, &str)] =
    &[("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Drive", "Dr"), ("Lane", "Ln"), ("Court", "Ct")];
const CITIES: &[(&str, &str, u64)] = &[
    ("Springfield", "IL", 62700),
    ("Dallas", "TX", 75200),
    ("Atlanta", "GA", 30300),
    ("Phoenix", "AZ", 85000),
    ("Columbus", "OH", 43200),
    ("Nashville", "TN", 37200),
    ("Charlotte", "NC", 28200),
    ("Denver", "CO", 80200),
    ("Tampa", "FL", 33600),
    ("Richmond", "VA", 23200),
];

fn postal(r: &mut Rng) -> Postal {
    let city = r.below(CITIES.len() as u64) as usize;
    Postal {
        number: r.range(100, 9999),
        street: STREETS[r.below(STREETS.len() as u64) as usize],
        ty: r.below(STREET_KINDS.len() as u64) as usize,
        unit: r.chance(0.5).then(|| r.range(1, 40)),
        city,
        zip: format!("{:05}", CITIES[city].2 + r.below(100)),
    }
}

impl Postal {
    /// As a member stores it: a STIX location with its parts, or the whole address in
    /// `street_address`.
    fn stored(&self, r: &mut Rng) -> Value {
        let (city, state, _) = CITIES[self.city];
        let kind = STREET_KINDS[self.ty];
        let unit = self.unit.map(|u| format!(" Apt {u}")).unwrap_or_default();
        if r.chance(0.7) {
            json!({"street_address": format!("{} {} {}{unit}", self.number, self.street, kind.1),
                   "city": city, "administrative_area": state, "postal_code": self.zip, "country": "US"})
        } else {
            json!({"street_address": format!("{} {} {}{unit}, {city}, {state} {}", self.number, self.street, kind.0, self.zip),
                   "country": "US"})
        }
    }

    /// As an applicant types it.
    fn typed(&self, r: &mut Rng, tags: &mut Vec<&'static str>) -> String {
        let (city, state, _) = CITIES[self.city];
        let (long, short) = STREET_KINDS[self.ty];
        let (n, st) = (self.number, self.street);
        match r.below(6) {
            0 => {
                tags.push("address:full");
                let unit = self.unit.map(|u| format!(", Apt {u}")).unwrap_or_default();
                format!("{n} {st} {long}{unit}, {city}, {state} {}", self.zip)
            }
            1 => {
                tags.push("address:abbreviated-no-commas");
                let unit = self.unit.map(|u| format!(" #{u}")).unwrap_or_default();
                format!("{n} {st} {short}{unit} {city} {state} {}", self.zip).to_lowercase()
            }
            2 => {
                tags.push("address:upper-multiline");
                let unit = self.unit.map(|u| format!(" UNIT {u}")).unwrap_or_default();
                format!("{n} {st} {short}.{unit}\n{city}, {state} {}-{}", self.zip, decimal(r, 4)).to_uppercase()
            }
            3 => {
                tags.push("address:no-zip");
                let unit = self.unit.map(|u| format!(" Apt. {u}")).unwrap_or_default();
                format!("{n} {st} {short}.{unit}, {city}, {state}")
            }
            4 => {
                tags.push("address:pasted");
                let unit = self.unit.map(|u| format!("\u{a0}Apt\u{a0}{u}")).unwrap_or_default();
                format!("\u{a0}{n}\u{a0}{st}\u{a0}{long}{unit},\u{200b} {city} {}", self.zip)
            }
            _ => {
                // The unit left out: only the building agrees.
                tags.push("address:no-unit");
                format!("{n} {st} {long}, {city}, {state} {}", self.zip)
            }
        }
    }
}

struct Team {
    actor: String,
    personas: Vec<Persona>,
    wallets: Vec<String>,
    farm_ip: String,
    vpn: String,
    template: Vec<usize>,
    banks: Vec<Bank>,
    /// Where the team's laptops are shipped (a facilitator's home), if a member knows it.
    farm: Option<Postal>,
    /// The perceptual hash of the edited headshot the team's personas share, if any.
    headshot: Option<u64>,
}

/// `hash` with `k` distinct bits flipped: the same picture re-encoded, resized or cropped
/// (a few bits), or another portrait of the same layout (a dozen and more).
fn flipped(r: &mut Rng, hash: u64, k: u32) -> u64 {
    let mut out = hash;
    let mut done = 0;
    while done < k {
        let bit = 1u64 << r.below(64);
        if (out ^ hash) & bit == 0 {
            out ^= bit;
            done += 1;
        }
    }
    out
}

fn hex(r: &mut Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b"0123456789abcdef"[r.below(16) as usize])).collect()
}

fn wallet(r: &mut Rng) -> String {
    if r.chance(0.5) { format!("0x{}", hex(r, 40)) } else { dossier_match::wallet::base58check(0x41, &r.bytes::<20>()) }
}

/// A look-alike of `w`: the first and last characters equal, the middle different — what
/// an address-poisoning attacker sends from.
fn lookalike(r: &mut Rng, w: &str) -> String {
    if let Some(hexpart) = w.strip_prefix("0x") {
        let keep = r.range(4, 6) as usize;
        format!("0x{}{}{}", &hexpart[..keep], hex(r, 40 - 2 * keep), &hexpart[40 - keep..])
    } else {
        // TRON: a valid address whose ends match as far as a checksum allows is out of reach
        // without a search; an EVM look-alike of an EVM wallet is the common case.
        dossier_match::wallet::base58check(0x41, &r.bytes::<20>())
    }
}

/// A mobile number of region `cc` as E.164, and its national significant digits.
fn phone(r: &mut Rng) -> (String, String) {
    if r.chance(0.5) {
        // North American, area and exchange codes 2-9.
        let n = format!("{}{}{}{}", r.range(2, 9), decimal(r, 2), r.range(2, 9), decimal(r, 6));
        (format!("+1{n}"), n)
    } else {
        let (cc, _, len) = *r.pick(NATIONAL);
        let lead = match cc {
            "81" => *r.pick(&["90", "80", "70"]),
            "82" => "10",
            "380" => *r.pick(&["67", "50", "63"]),
            _ => *r.pick(&["91", "98", "90"]),
        };
        let n = format!("{lead}{}", decimal(r, len - lead.len()));
        (format!("+{cc}{n}"), n)
    }
}

fn decimal(r: &mut Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + r.below(10) as u8)).collect()
}

/// How a member stored a number: not always E.164.
fn stored_phone(r: &mut Rng, e164: &str, national: &str, tags: &mut Vec<&'static str>) -> String {
    let cc = &e164[1..e164.len() - national.len()];
    match r.below(10) {
        0..=3 => e164.to_owned(),
        4 | 5 => format!("+{cc} {} {}", &national[..3], &national[3..]),
        6 | 7 => {
            tags.push("stored-phone:no-plus");
            format!("{cc}{national}")
        }
        _ if cc == "1" => {
            tags.push("stored-phone:national");
            format!("({}) {}-{}", &national[..3], &national[3..6], &national[6..])
        }
        _ => {
            tags.push("stored-phone:trunk-prefix");
            format!("0{}-{}-{}", &national[..2], &national[2..6], &national[6..])
        }
    }
}

fn resume_from(r: &mut Rng, template: &[usize], name: &str) -> String {
    let mut lines = vec![format!("{name} — Senior Software Engineer, {} years of experience.", r.range(5, 14))];
    lines.extend(template.iter().map(|i| SENTENCES[*i].to_owned()));
    lines.join("\n")
}

/// OCR-like errors (`rn`→`m`, `l`→`1`, `O`→`0`, dropped spaces) on about `rate` of words.
fn ocr(r: &mut Rng, text: &str, rate: f64) -> String {
    text.split(' ')
        .map(|w| {
            if !r.chance(rate) {
                return w.to_owned();
            }
            match r.below(4) {
                0 => w.replacen("rn", "m", 1),
                1 => w.replacen('l', "1", 1),
                2 => w.replacen('o', "0", 1),
                _ => format!("{w}{}", ""),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sections re-ordered and about a quarter of the sentences rewritten.
fn rework(r: &mut Rng, template: &[usize]) -> Vec<usize> {
    let mut t: Vec<usize> = template.to_vec();
    for i in (1..t.len()).rev() {
        let j = r.below(i as u64 + 1) as usize;
        t.swap(i, j);
    }
    for s in t.iter_mut() {
        if r.chance(0.25) {
            *s = r.below(SENTENCES.len() as u64) as usize;
        }
    }
    t
}

/// Copy-paste artefacts on a value an applicant typed: a zero-width space, a non-breaking
/// space, full-width digits, smart quotes.
fn paste(r: &mut Rng, v: &str, tags: &mut Vec<&'static str>) -> String {
    match r.below(4) {
        0 => {
            tags.push("paste:zero-width");
            let at = v.char_indices().nth(v.chars().count() / 2).map_or(0, |(i, _)| i);
            format!("{}\u{200b}{}", &v[..at], &v[at..])
        }
        1 => {
            tags.push("paste:nbsp");
            format!("\u{a0}{v}\u{a0}")
        }
        2 if v.chars().any(|c| c.is_ascii_digit()) => {
            tags.push("paste:full-width-digits");
            v.chars()
                .map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 - 0x30 + 0xFF10).unwrap_or(c) } else { c })
                .collect()
        }
        _ => {
            tags.push("paste:quotes");
            format!("“{v}”")
        }
    }
}

struct Writer<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> Writer<W> {
    fn obj(&mut self, v: &Value) -> Result<()> {
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, v)?;
        Ok(())
    }
    fn sco(&mut self, mut v: Value) -> Result<String> {
        let ty = v["type"].as_str().unwrap_or_default().to_owned();
        let id = dossier_stix::id::deterministic_sco_id(&ty, v.as_object().context("an SCO is an object")?)
            .context("an SCO without the properties its id is made of")?;
        v["id"] = json!(id.as_str());
        v["spec_version"] = json!("2.1");
        v["object_marking_refs"] = json!([TLP_GREEN]);
        self.obj(&v)?;
        Ok(id.as_str().to_owned())
    }
    fn rel(&mut self, r: &mut Rng, ty: &str, src: &str, dst: &str) -> Result<()> {
        self.obj(&json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", r.uuid()),
            "created": T0, "modified": T0, "relationship_type": ty, "source_ref": src, "target_ref": dst,
            "object_marking_refs": [TLP_GREEN], "confidence": 75}))
    }
}

/// Writes the bundle, the applicants and the truth (same formats as `dossier generate`).
/// `id_key`: the evaluating store's key for identity-document hashes (documents are stored
/// only as keyed hashes); without it no documents are drawn.
pub fn generate(
    actors: u32,
    applicants: u32,
    operative_share: f64,
    seed: u64,
    dir: &Path,
    id_key: Option<&[u8]>,
) -> Result<()> {
    let mut r = Rng::new(seed ^ 0x1d6e_9e4d_7c3a_b5f1);
    let stock: Vec<Vec<usize>> =
        (0..6).map(|_| (0..6).map(|_| r.below(SENTENCES.len() as u64) as usize).collect()).collect();
    let vpns: Vec<String> = (0..30)
        .map(|_| format!("{}.{}.{}.{}", r.range(23, 212), r.below(256), r.below(256), r.range(1, 254)))
        .collect();
    // Bank accounts and websites come from a stream of their own, so that adding them left
    // every other draw (and the figures measured before) as it was.
    let mut rb = Rng::new(seed ^ 0x6a09_e667_f3bc_c908);
    // Postal addresses likewise.
    let mut ra = Rng::new(seed ^ 0x3c6e_f372_fe94_f82b);
    // Profile photos (their perceptual hashes) likewise.
    let mut rp = Rng::new(seed ^ 0xa54f_f53a_5f1d_36f1);
    // Identity documents likewise.
    let mut rd = Rng::new(seed ^ 0x510e_527f_ade6_82d1);
    let mut teams = Vec::new();
    let mut emails_seen = std::collections::HashSet::new();
    for _ in 0..actors {
        let template = if r.chance(0.3) {
            r.pick(&stock).clone()
        } else {
            (0..7).map(|_| r.below(SENTENCES.len() as u64) as usize).collect()
        };
        let mut team = Team {
            actor: format!("threat-actor--{}", r.uuid()),
            personas: Vec::new(),
            wallets: (0..r.range(1, 3)).map(|_| wallet(&mut r)).collect(),
            farm_ip: format!("{}.{}.{}.{}", r.range(24, 99), r.below(256), r.below(256), r.range(1, 254)),
            vpn: r.pick(&vpns).clone(),
            template,
            banks: if rb.chance(0.5) { (0..rb.range(1, 2)).map(|_| bank(&mut rb)).collect() } else { Vec::new() },
            farm: ra.chance(0.6).then(|| postal(&mut ra)),
            headshot: rp.chance(0.4).then(|| rp.next_u64()),
        };
        for _ in 0..r.range(2, 5) {
            let (korean, name) = if r.chance(0.6) {
                let (s, g) = (r.below(SURNAMES.len() as u64) as usize, r.below(GIVEN.len() as u64) as usize);
                let (sv, gv) = (r.below(SURNAMES[s].len() as u64) as usize, r.below(GIVEN[g].len() as u64) as usize);
                (Some((s, sv, g, gv)), format!("{} {}", GIVEN[g][gv], SURNAMES[s][sv]))
            } else {
                (None, format!("{} {}", r.pick(WEST_FIRST), r.pick(WEST_LAST)))
            };
            let handle: String =
                name.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).take(10).collect::<String>();
            let mut emails = Vec::new();
            for _ in 0..r.range(1, 2) {
                let e = format!("{handle}.{}@{}", r.range(10, 9999), r.pick(PROVIDERS));
                if emails_seen.insert(e.clone()) {
                    emails.push(e);
                }
            }
            let phones = if r.chance(0.6) { vec![phone(&mut r)] } else { Vec::new() };
            let mut accounts = vec![("github", format!("{handle}-{}", hex(&mut r, 3)))];
            if r.chance(0.5) {
                accounts.push(("telegram", format!("{handle}{}", r.range(1, 99))));
            }
            if r.chance(0.4) {
                accounts.push(("skype", format!("live:.cid.{}", hex(&mut r, 16))));
            }
            if r.chance(0.3) {
                accounts.push(("discord", format!("{handle}{}", r.range(1, 999))));
            }
            let resume = r.chance(0.8).then(|| resume_from(&mut r, &team.template, &name));
            let website = rb.chance(0.3).then(|| {
                if rb.chance(0.5) {
                    format!("{handle}{}.dev", rb.range(1, 99))
                } else {
                    format!("{handle}-{}.github.io", hex(&mut rb, 3))
                }
            });
            team.personas.push(Persona {
                id: format!("identity--{}", r.uuid()),
                name,
                korean,
                emails,
                phones,
                accounts,
                resume,
                website,
                passport: (id_key.is_some() && rd.chance(0.3))
                    .then(|| (*rd.pick(&PASSPORT_COUNTRIES), passport_number(&mut rd))),
            });
        }
        teams.push(team);
    }

    // The bundle, with stored values in the forms members keep them.
    let f = std::fs::File::create(dir.join("bundle.json")).context("creating bundle.json")?;
    let mut w = Writer { out: std::io::BufWriter::new(f), first: true };
    w.out.write_all(b"{\"type\":\"bundle\",\"id\":\"bundle--")?;
    w.out.write_all(r.uuid().to_string().as_bytes())?;
    w.out.write_all(b"\",\"objects\":[\n")?;
    let mut stored_tags: std::collections::HashMap<String, Vec<&'static str>> = Default::default();
    let mut photos_written: std::collections::HashMap<String, String> = Default::default();
    for (ti, team) in teams.iter().enumerate() {
        w.obj(&json!({"type": "threat-actor", "spec_version": "2.1", "id": team.actor, "created": T0, "modified": T0,
            "name": format!("independent team {ti}"), "object_marking_refs": [TLP_GREEN], "confidence": 80}))?;
        let mut team_scos = Vec::new();
        for wv in &team.wallets {
            team_scos.push(w.sco(json!({"type": "cryptocurrency-wallet", "value": wv, "extensions": {WALLET_EXT: {"extension_type": "new-sco"}}}))?);
        }
        let mut bank_scos = Vec::new();
        for b in &team.banks {
            // Kept as members have them: the IBAN printed in groups or compact, or the
            // national parts; a US account by routing number.
            let mut v = json!({"type": "bank-account", "extensions": {BANK_EXT: {"extension_type": "new-sco"}}});
            match &b.iban {
                Some(iban) if rb.chance(0.8) => {
                    v["iban"] = json!(if rb.chance(0.5) { spaced(iban) } else { iban.clone() });
                }
                _ => {
                    v["account_number"] = json!(b.account);
                    v["x_dossier_bank_code"] = json!(b.code);
                    v["country"] = json!(match b.country {
                        "GB" => "GBR",
                        "DE" => "DEU",
                        _ => "USA",
                    });
                }
            }
            bank_scos.push(w.sco(v)?);
        }
        let farm = match &team.farm {
            Some(f) => {
                let mut loc = f.stored(&mut ra);
                let id = format!("location--{}", ra.uuid());
                loc["type"] = json!("location");
                loc["spec_version"] = json!("2.1");
                loc["id"] = json!(id);
                loc["created"] = json!(T0);
                loc["modified"] = json!(T0);
                loc["object_marking_refs"] = json!([TLP_GREEN]);
                w.obj(&loc)?;
                Some(id)
            }
            None => None,
        };
        team_scos.push(w.sco(json!({"type": "ipv4-addr", "value": team.farm_ip}))?);
        // The commercial VPN exit the team was seen on: shared with many teams and with
        // legitimate applicants.
        team_scos.push(w.sco(json!({"type": "ipv4-addr", "value": team.vpn}))?);
        for p in &team.personas {
            w.obj(&json!({"type": "identity", "spec_version": "2.1", "id": p.id, "created": T0, "modified": T0,
                "name": p.name, "identity_class": "individual", "object_marking_refs": [TLP_GREEN], "confidence": 75}))?;
            w.rel(&mut r, "attributed-to", &p.id, &team.actor)?;
            let mut scos = Vec::new();
            for e in &p.emails {
                scos.push(w.sco(json!({"type": "email-addr", "value": e}))?);
            }
            for (e164, national) in &p.phones {
                let mut tags = Vec::new();
                let v = stored_phone(&mut r, e164, national, &mut tags);
                stored_tags.entry(e164.clone()).or_default().extend(tags);
                scos.push(w.sco(json!({"type": "phone-number", "value": v, "extensions": {PHONE_EXT: {"extension_type": "new-sco"}}}))?);
            }
            for (platform, login) in &p.accounts {
                // Discord names are kept with the old discriminator by some members.
                let v = if *platform == "discord" && r.chance(0.5) {
                    stored_tags.entry(format!("discord:{login}")).or_default().push("stored-discord:discriminator");
                    format!("{login}#{:04}", r.below(10_000))
                } else {
                    login.clone()
                };
                let sco = if *platform == "skype" {
                    json!({"type": "user-account", "account_type": platform, "user_id": v})
                } else {
                    json!({"type": "user-account", "account_type": platform, "account_login": v})
                };
                scos.push(w.sco(sco)?);
            }
            for sco in scos.iter().chain(&team_scos) {
                w.rel(&mut r, "related-to", &p.id, sco)?;
            }
            for sco in &bank_scos {
                w.rel(&mut rb, "related-to", &p.id, sco)?;
            }
            if let Some(loc) = &farm
                && ra.chance(0.8)
            {
                w.rel(&mut ra, "located-at", &p.id, loc)?;
            }
            // A passport the persona showed, stored only as its keyed hash.
            if let (Some((country, number)), Some(key)) = (&p.passport, id_key) {
                let doc = dossier_match::normalize::id_document::normalize("passport", country, number)
                    .context("a generated passport")?;
                let sco = w.sco(json!({"type": "x-dossier-identity-document", "document_type": doc.kind,
                                       "issuing_country": doc.country, "number_hmac": doc.hmac(key)}))?;
                w.rel(&mut rd, "related-to", &p.id, &sco)?;
            }
            // The team's headshot on most of its personas' profiles, each copy re-saved.
            if let Some(h) = team.headshot
                && rp.chance(0.7)
            {
                let k = rp.below(4) as u32;
                let hash = dossier_match::photo::PhotoHash(flipped(&mut rp, h, k)).hex();
                let v = json!({"type": "file", "name": format!("profile photo {hash}"), "x_dossier_phash": hash});
                // Two personas with the very same copy share one object.
                let sco = match photos_written.get(&hash) {
                    Some(id) => id.clone(),
                    None => {
                        let id = w.sco(v)?;
                        photos_written.insert(hash, id.clone());
                        id
                    }
                };
                w.rel(&mut rp, "related-to", &p.id, &sco)?;
            }
            if let Some(site) = &p.website {
                let v =
                    if rb.chance(0.5) { format!("https://www.{site}/portfolio") } else { format!("https://{site}") };
                let sco = w.sco(json!({"type": "url", "value": v}))?;
                w.rel(&mut rb, "related-to", &p.id, &sco)?;
            }
            if let Some(text) = &p.resume {
                w.obj(&json!({"type": "note", "spec_version": "2.1", "id": format!("note--{}", r.uuid()),
                    "created": T0, "modified": T0, "abstract": "Resume text", "content": text,
                    "object_refs": [p.id], "object_marking_refs": [TLP_GREEN]}))?;
            }
        }
    }
    w.out.write_all(b"\n]}\n")?;
    w.out.flush()?;

    // Applicants and truth.
    let mut apps = std::io::BufWriter::new(std::fs::File::create(dir.join("applicants.jsonl"))?);
    let mut truth = std::io::BufWriter::new(std::fs::File::create(dir.join("truth.jsonl"))?);
    for i in 0..applicants {
        let reference = format!("ind-{i:06}");
        let mut tags: Vec<&'static str> = Vec::new();
        let mut a = json!({"ref": reference});
        let operative = r.chance(operative_share);
        let t = if operative {
            let team = &teams[r.below(teams.len() as u64) as usize];
            let p = &team.personas[r.below(team.personas.len() as u64) as usize];
            let weak = r.chance(0.13);
            // A new persona: a new name, or a variant of the one reused.
            let name = match p.korean {
                Some((s, sv, g, gv)) if r.chance(0.5) => {
                    let sv2 = (sv + 1 + r.below(SURNAMES[s].len() as u64) as usize) % SURNAMES[s].len();
                    let gv2 = (gv + 1) % GIVEN[g].len();
                    tags.push("name:romanisation-variant");
                    if r.chance(0.5) {
                        format!("{} {}", SURNAMES[s][sv2], GIVEN[g][gv2])
                    } else {
                        format!("{} {}", GIVEN[g][gv2], SURNAMES[s][sv2])
                    }
                }
                _ => format!("{} {}", r.pick(WEST_FIRST), r.pick(WEST_LAST)),
            };
            a["names"] = json!([name]);
            let handle: String = name.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            a["emails"] = json!([format!("{handle}{}@{}", r.range(1, 99), r.pick(PROVIDERS))]);
            if weak {
                // Nothing hard reused: a reworked team resume, the farm's address, the name.
                let reworked = rework(&mut r, &team.template);
                let text = resume_from(&mut r, &reworked, &name);
                let text = if r.chance(0.5) {
                    tags.push("resume:ocr-errors");
                    ocr(&mut r, &text, 0.05)
                } else {
                    text
                };
                tags.push("resume:reworked");
                a["resume_text"] = json!(text);
                if r.chance(0.7) {
                    a["ips"] = json!([team.farm_ip]);
                    tags.push("ip:laptop-farm");
                }
            } else {
                let mut reused = 0;
                while reused == 0 {
                    if r.chance(0.4) && !p.emails.is_empty() {
                        let e = r.pick(&p.emails).clone();
                        let v = match r.below(5) {
                            0 => {
                                tags.push("email:case");
                                e.to_uppercase()
                            }
                            1 if e.ends_with("@gmail.com") => {
                                tags.push("email:gmail-dots-and-tag");
                                let (local, _) = e.split_once('@').unwrap_or((&e, ""));
                                let dotted: String = local
                                    .chars()
                                    .flat_map(|c| [c, '.'])
                                    .collect::<String>()
                                    .trim_end_matches('.')
                                    .to_owned();
                                format!("{}+jobs@googlemail.com", dotted.replace("..", "."))
                            }
                            2 => paste(&mut r, &e, &mut tags),
                            3 => {
                                tags.push("email:homoglyph");
                                e.replacen('a', "а", 1).replacen('o', "о", 1)
                            }
                            _ => {
                                tags.push("email:as-stored");
                                e
                            }
                        };
                        if let Some(l) = a["emails"].as_array_mut() {
                            l.push(json!(v));
                        }
                        reused += 1;
                    }
                    if r.chance(0.35)
                        && let Some((e164, national)) = p.phones.first()
                    {
                        tags.extend(stored_tags.get(e164).cloned().unwrap_or_default());
                        let cc = &e164[1..e164.len() - national.len()];
                        let v = match r.below(4) {
                            0 => {
                                tags.push("phone:national-no-hint");
                                if cc == "1" {
                                    format!("{}-{}-{}", &national[..3], &national[3..6], &national[6..])
                                } else {
                                    format!("0{national}")
                                }
                            }
                            1 => {
                                tags.push("phone:no-plus");
                                format!("{cc}{national}")
                            }
                            2 => paste(&mut r, e164, &mut tags),
                            _ => {
                                tags.push("phone:dotted");
                                format!("+{cc}.{}.{}", &national[..3], &national[3..])
                            }
                        };
                        a["phones"] = json!([v]);
                        reused += 1;
                    }
                    if r.chance(0.35) {
                        let (platform, login) = r.pick(&p.accounts).clone();
                        let v = match platform {
                            "github" => {
                                tags.push("account:github-url");
                                json!({"url": format!("https://github.com/{}/", login.to_uppercase())})
                            }
                            "telegram" => {
                                tags.push("account:telegram-link");
                                json!({"url": format!("tg://resolve?domain={login}")})
                            }
                            "skype" => {
                                tags.push("account:skype-cid-form");
                                let cid = login.trim_start_matches("live:");
                                json!({"platform": "skype", "user_id": cid})
                            }
                            _ => {
                                tags.extend(stored_tags.get(&format!("discord:{login}")).cloned().unwrap_or_default());
                                if r.chance(0.5) {
                                    tags.push("account:discord-with-tag");
                                    json!({"platform": "discord", "username": format!("{login}#{:04}", r.below(10_000))})
                                } else {
                                    tags.push("account:discord-plain");
                                    json!({"platform": "discord", "username": login})
                                }
                            }
                        };
                        a["accounts"] = json!([v]);
                        reused += 1;
                    }
                    if r.chance(0.25) {
                        let wv = r.pick(&team.wallets).clone();
                        let v = if wv.starts_with("0x") && r.chance(0.5) {
                            tags.push("wallet:upper-case");
                            format!("0x{}", wv[2..].to_uppercase())
                        } else {
                            tags.push("wallet:as-stored");
                            wv
                        };
                        a["wallets"] = json!([{"address": v}]);
                        reused += 1;
                    }
                }
                if r.chance(0.3)
                    && let Some(text) = &p.resume
                {
                    a["resume_text"] = json!(ocr(&mut r, text, 0.03));
                }
            }
            if !weak {
                // A payout account of the team, written as the applicant's bank has it.
                if !team.banks.is_empty() && rb.chance(0.3) {
                    let b = rb.pick(&team.banks).clone();
                    let v = match &b.iban {
                        Some(iban) if rb.chance(0.6) => {
                            if rb.chance(0.5) {
                                tags.push("bank:iban-spaced-lower");
                                json!(spaced(iban).to_lowercase())
                            } else {
                                tags.push("bank:iban-compact");
                                json!(iban)
                            }
                        }
                        Some(_) if b.country == "GB" => {
                            tags.push("bank:sort-code-and-account");
                            json!(format!("{}-{}-{} {}", &b.code[..2], &b.code[2..4], &b.code[4..], b.account))
                        }
                        Some(_) => {
                            tags.push("bank:blz-and-account");
                            json!({"bank_code": b.code, "account_number": b.account.trim_start_matches('0'), "country": "DE"})
                        }
                        None => {
                            tags.push("bank:us-routing-and-account");
                            json!(format!("{} / {}", b.code, b.account))
                        }
                    };
                    a["bank_accounts"] = json!([v]);
                }
                if let Some(site) = &p.website
                    && rb.chance(0.4)
                {
                    tags.push("website:other-form");
                    a["websites"] = json!([format!("http://{}/", site.to_uppercase())]);
                }
            }
            if r.chance(0.5) {
                match a["ips"].as_array_mut() {
                    Some(l) => l.push(json!(team.vpn)),
                    None => a["ips"] = json!([team.vpn]),
                }
            }
            // The laptop farm's address, where the company is to ship the laptop: given by
            // most operatives who reuse nothing else, now and then by the others.
            if let Some(f) = &team.farm
                && ra.chance(if weak { 0.6 } else { 0.15 })
            {
                a["addresses"] = json!([f.typed(&mut ra, &mut tags)]);
                tags.push("address:laptop-farm");
            }
            // The persona's passport again (a third of those who reuse identifiers), typed as
            // people type it.
            if let Some((country, number)) = &p.passport
                && !weak
                && rd.chance(0.33)
            {
                let typed = match rd.below(3) {
                    0 => format!("passport {country} {number}"),
                    1 => format!("Passport, {}, {}", country.to_lowercase(), number.to_lowercase()),
                    _ => format!("PASSPORT {country} {} {}", &number[..4], &number[4..]),
                };
                tags.push("id-document:passport");
                a["id_documents"] = json!([typed]);
            }
            // The team's headshot again, re-encoded or cropped on the way: most operatives
            // who reuse nothing else use it, a third of the others.
            if let Some(h) = team.headshot
                && rp.chance(if weak { 0.6 } else { 0.35 })
            {
                let k = rp.below(7) as u32;
                tags.push(if k <= 3 { "photo:team-headshot-resaved" } else { "photo:team-headshot-cropped" });
                a["photos"] = json!([dossier_match::photo::PhotoHash(flipped(&mut rp, h, k)).hex()]);
            }
            json!({"ref": reference, "label": "operative", "actor": team.actor,
                   "category": if weak { "weak-only" } else { "reuses-identifier" },
                   "perturbations": tags, "hard_negative": []})
        } else {
            let name = format!("{} {}", r.pick(WEST_FIRST), r.pick(WEST_LAST));
            let handle: String = name.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            a["names"] = json!([name]);
            // An address is one person's mailbox: an innocent never gives a persona's (at
            // 100,000 teams the draw repeats one a few times in 40,000; both are drawn as
            // `handle.digits`, so the same mailbox is the same string).
            let mut email = format!("{handle}.{}@{}", r.range(1, 99_999), r.pick(PROVIDERS));
            while emails_seen.contains(&email) {
                email = format!("{handle}.{}@{}", r.range(1, 99_999), r.pick(PROVIDERS));
            }
            a["emails"] = json!([email]);
            let (mut e164, _) = phone(&mut r);
            let roll = r.below(100);
            let team = &teams[r.below(teams.len() as u64) as usize];
            let p = &team.personas[r.below(team.personas.len() as u64) as usize];
            match roll {
                0..=9 => {
                    tags.push("same-name-as-persona");
                    a["names"] = json!([p.name]);
                }
                10..=19 => {
                    tags.push("vpn-exit");
                    a["ips"] = json!([team.vpn]);
                }
                20..=29 => {
                    tags.push("public-resume-template");
                    let which = r.below(stock.len() as u64) as usize;
                    let text = resume_from(&mut r, &stock[which], &name);
                    a["resume_text"] = json!(text);
                }
                30..=37 => {
                    if let Some((pe, national)) = p.phones.first() {
                        tags.push("phone-prefix");
                        let keep = pe.len() - 3;
                        e164 = format!("{}{}", &pe[..keep], decimal(&mut r, 3));
                        if e164 == *pe {
                            e164 = format!("{}{}", &pe[..keep], if national.ends_with('0') { "111" } else { "000" });
                        }
                    }
                }
                38..=42 => {
                    tags.push("wallet-lookalike");
                    let wv = r.pick(&team.wallets).clone();
                    a["wallets"] = json!([{"address": lookalike(&mut r, &wv)}]);
                }
                _ => {}
            }
            if r.chance(0.7) {
                a["phones"] = json!([e164]);
            }
            // Bank accounts and websites: most innocents give their own; some give a
            // look-alike of a team's account, or a site on the same host as a persona's.
            let banked: Vec<&Team> = teams.iter().filter(|t| !t.banks.is_empty()).take(200).collect();
            match rb.below(100) {
                0..=3 if !banked.is_empty() => {
                    let t = banked[rb.below(banked.len() as u64) as usize];
                    if let Some(b) = t.banks.iter().find(|b| b.iban.is_some()) {
                        tags.push("bank-lookalike");
                        a["bank_accounts"] = json!([iban_lookalike(&mut rb, b, &mut tags)]);
                    }
                }
                4..=6 => {
                    tags.push("website-same-host");
                    a["websites"] = json!([format!("https://{}-{}.github.io/", handle, hex(&mut rb, 4))]);
                }
                7..=30 => {
                    let b = bank(&mut rb);
                    a["bank_accounts"] = json!([b.iban.clone().unwrap_or_else(|| format!("{} {}", b.code, b.account))]);
                }
                31..=40 => a["websites"] = json!([format!("{handle}{}.com", rb.range(1, 999))]),
                _ => {}
            }
            // Postal addresses: four in ten give their own; a few live in a laptop farm's
            // building (another flat) or next door to one.
            let farms: Vec<&Postal> = teams.iter().filter_map(|t| t.farm.as_ref()).take(200).collect();
            let flats: Vec<&Postal> = farms.iter().copied().filter(|f| f.unit.is_some()).collect();
            match ra.below(100) {
                0..=2 if !flats.is_empty() => {
                    let mut f = flats[ra.below(flats.len() as u64) as usize].clone();
                    tags.push("address-same-building");
                    f.unit = f.unit.map(|u| u + 1 + ra.below(5));
                    let mut no_tags = Vec::new();
                    a["addresses"] = json!([f.typed(&mut ra, &mut no_tags)]);
                }
                3..=5 if !farms.is_empty() => {
                    let mut f = farms[ra.below(farms.len() as u64) as usize].clone();
                    tags.push("address-next-door");
                    f.number += 2;
                    let mut no_tags = Vec::new();
                    a["addresses"] = json!([f.typed(&mut ra, &mut no_tags)]);
                }
                6..=45 => {
                    let mut no_tags = Vec::new();
                    a["addresses"] = json!([postal(&mut ra).typed(&mut ra, &mut no_tags)]);
                }
                _ => {}
            }
            // Passports: a tenth give their own; a few a number one digit from a persona's
            // (same country: a typo, or a forger's neighbour in a series).
            if id_key.is_some() {
                let held: Vec<&(&'static str, String)> = teams
                    .iter()
                    .flat_map(|t| t.personas.iter().filter_map(|p| p.passport.as_ref()))
                    .take(200)
                    .collect();
                match rd.below(100) {
                    0..=1 if !held.is_empty() => {
                        let (country, number) = held[rd.below(held.len() as u64) as usize];
                        let mut digits: Vec<u8> = number.bytes().collect();
                        let last = digits.len() - 1;
                        digits[last] = b'0' + ((digits[last] - b'0' + 1 + rd.below(9) as u8) % 10);
                        tags.push("passport-one-digit");
                        a["id_documents"] = json!([format!("passport {country} {}", String::from_utf8_lossy(&digits))]);
                    }
                    2..=11 => {
                        let country = *rd.pick(&PASSPORT_COUNTRIES);
                        a["id_documents"] = json!([format!("passport {country} {}", passport_number(&mut rd))]);
                    }
                    _ => {}
                }
            }
            // Photos: a third give one of their own; a few a portrait that looks like a
            // team's headshot (the same pose and framing: 10-16 bits of 64 differ).
            let headshots: Vec<u64> = teams.iter().filter_map(|t| t.headshot).take(200).collect();
            match rp.below(100) {
                0..=2 if !headshots.is_empty() => {
                    tags.push("photo-similar-portrait");
                    let h = headshots[rp.below(headshots.len() as u64) as usize];
                    let k = rp.range(10, 16) as u32;
                    a["photos"] = json!([dossier_match::photo::PhotoHash(flipped(&mut rp, h, k)).hex()]);
                }
                3..=32 => a["photos"] = json!([dossier_match::photo::PhotoHash(rp.next_u64()).hex()]),
                _ => {}
            }
            json!({"ref": reference, "label": "legit", "actor": null, "category": "legit",
                   "perturbations": [], "hard_negative": tags})
        };
        serde_json::to_writer(&mut apps, &a)?;
        apps.write_all(b"\n")?;
        serde_json::to_writer(&mut truth, &t)?;
        truth.write_all(b"\n")?;
    }
    apps.flush()?;
    truth.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tron_addresses_it_makes_are_valid() {
        let mut r = Rng::new(1);
        for _ in 0..50 {
            let w = wallet(&mut r);
            assert!(dossier_match::wallet::parse(&w).is_ok(), "{w}");
        }
    }
}
