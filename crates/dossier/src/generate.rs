//! `dossier generate`: a realistic synthetic data set of DPRK-IT-worker-style teams, and
//! applicant profiles to screen against it with a separate ground-truth file.
//!
//! What makes it realistic (and hard):
//! - teams of 1–6 personas that reuse identifiers (wallets, phones, resumes, laptop-farm IPs)
//!   across personas, as real teams do;
//! - names drawn from the same Korean, Chinese, Japanese, Vietnamese, Eastern European and
//!   Western distributions for operatives and for legitimate applicants, with romanisation
//!   variants (Kim/Gim, Lee/Yi/Rhee, Park/Pak/Bak, Sato/Satou …);
//! - legitimate applicants who share a persona's exact name, use the same VPN exits and
//!   email providers, write resumes from the same stock phrases, or are the real person
//!   whose identity was stolen;
//! - operatives who come back under new personas with perturbed identifiers (Gmail dots and
//!   `+tags`, phone formats, profile URLs vs handles, wallet case, edited resumes).

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use dossier_match::wallet;
use dossier_stix::Tlp;
use dossier_stix::id::deterministic_sco_id;
use dossier_stix::timestamp::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::rng::Rng;

#[derive(Args, Clone)]
pub struct GenerateArgs {
    /// Number of threat actors (teams).
    #[arg(long, default_value_t = 100)]
    pub actors: u32,
    /// Random seed; the same seed gives the same output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the bundle (`-` for stdout).
    #[arg(long, default_value = "-")]
    pub out: String,
    /// Number of applicant profiles to write (JSON Lines in the screening format).
    #[arg(long, default_value_t = 0)]
    pub applicants: u32,
    /// Where to write applicants (required with --applicants).
    #[arg(long)]
    pub applicants_out: Option<PathBuf>,
    /// Where to write the ground truth for the applicants.
    #[arg(long)]
    pub truth_out: Option<PathBuf>,
    /// Share of applicants who are operatives presenting new personas.
    #[arg(long, default_value_t = 0.05)]
    pub operative_share: f64,
    /// The evaluating store's key for identity-document hashes (`dossier evaluate` gives
    /// it): documents are stored only as keyed hashes, so without it none are drawn.
    #[arg(skip)]
    pub id_key: Option<Vec<u8>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Culture {
    Korean,
    Chinese,
    Japanese,
    Vietnamese,
    EastEuropean,
    Western,
}

#[derive(Clone, Debug)]
struct Name {
    given: String,
    family: String,
    culture: Culture,
}

impl Name {
    fn full(&self) -> String {
        format!("{} {}", self.given, self.family)
    }
}

const KOREAN_FAMILY: &[&[&str]] = &[
    &["Kim", "Gim"],
    &["Lee", "Yi", "Rhee", "Ri"],
    &["Park", "Pak", "Bak"],
    &["Jung", "Jeong", "Chung", "Chong"],
    &["Choi", "Choe"],
    &["Cho", "Jo"],
    &["Kang", "Gang"],
    &["Yoon", "Yun"],
    &["Jang", "Chang"],
    &["Lim", "Im", "Rim"],
    &["Han"],
    &["Oh", "O"],
    &["Seo", "Suh"],
    &["Shin", "Sin"],
    &["Kwon", "Gwon"],
    &["Hwang"],
    &["Ahn", "An"],
    &["Song"],
    &["Ryu", "Yu", "Yoo"],
    &["Hong"],
];
const KOREAN_SYLLABLES: &[&[&str]] = &[
    &["Chol", "Chul", "Cheol"],
    &["Su", "Soo"],
    &["Min"],
    &["Jun", "Joon"],
    &["Young", "Yong", "Yeong"],
    &["Ho"],
    &["Jin", "Chin"],
    &["Hyun", "Hyeon"],
    &["Sung", "Seong", "Song"],
    &["Il"],
    &["Kwang", "Gwang"],
    &["Myong", "Myung"],
    &["Dong"],
    &["Sang"],
    &["Hoon", "Hun"],
    &["Tae"],
    &["Kyung", "Gyeong"],
    &["Jae"],
    &["Woo", "U"],
    &["Nam"],
    &["Hyok", "Hyuk"],
    &["Ji"],
    &["Eun"],
    &["Seo"],
];
const CHINESE_FAMILY: &[&[&str]] = &[
    &["Wang", "Wong"],
    &["Li", "Lee"],
    &["Zhang", "Chang", "Cheung"],
    &["Liu", "Lau"],
    &["Chen", "Chan"],
    &["Yang", "Yeung"],
    &["Huang", "Wong"],
    &["Zhao", "Chao"],
    &["Wu", "Ng"],
    &["Zhou", "Chou", "Chow"],
    &["Xu", "Hsu"],
    &["Sun"],
    &["Ma"],
    &["Zhu", "Chu"],
    &["Hu"],
    &["Guo", "Kuo"],
    &["Lin", "Lam"],
    &["Gao", "Kao"],
];
const CHINESE_GIVEN: &[&str] = &[
    "Wei", "Fang", "Min", "Jing", "Lei", "Jun", "Yan", "Hao", "Tao", "Ming", "Xiaoming", "Yifan", "Jian", "Hui",
    "Qiang", "Yong", "Lina", "Xin", "Bo", "Chen",
];
const JAPANESE_FAMILY: &[&[&str]] = &[
    &["Sato", "Satou", "Satoh"],
    &["Suzuki"],
    &["Takahashi"],
    &["Tanaka"],
    &["Watanabe"],
    &["Ito", "Itou", "Itoh"],
    &["Yamamoto"],
    &["Nakamura"],
    &["Kobayashi"],
    &["Kato", "Katou", "Katoh"],
    &["Ono", "Ohno", "Oono"],
    &["Saito", "Saitou"],
];
const JAPANESE_GIVEN: &[&[&str]] = &[
    &["Hiroshi"],
    &["Takeshi"],
    &["Kenji"],
    &["Yuki", "Yuuki"],
    &["Haruto"],
    &["Sota", "Souta"],
    &["Yuto", "Yuuto"],
    &["Ren"],
    &["Daiki"],
    &["Kenta"],
    &["Shota", "Shouta"],
    &["Ryo", "Ryou"],
];
const VIETNAMESE_FAMILY: &[&[&str]] = &[
    &["Nguyễn", "Nguyen"],
    &["Trần", "Tran"],
    &["Lê", "Le"],
    &["Phạm", "Pham"],
    &["Hoàng", "Hoang", "Huynh"],
    &["Phan"],
    &["Vũ", "Vu", "Vo"],
    &["Đặng", "Dang"],
    &["Bùi", "Bui"],
    &["Đỗ", "Do"],
];
const VIETNAMESE_GIVEN: &[&str] =
    &["Văn Anh", "Minh", "Thanh", "Đức", "Hùng", "Quang", "Thị Lan", "Tuấn", "Huy", "Long", "Thu Hà", "Bảo"];
const EAST_EU_FAMILY: &[&[&str]] = &[
    &["Ivanov"],
    &["Petrov"],
    &["Kovalenko"],
    &["Shevchenko", "Ševčenko"],
    &["Nowak"],
    &["Kowalski"],
    &["Popescu"],
    &["Horvat"],
    &["Bondarenko"],
    &["Novák", "Novak"],
];
const EAST_EU_GIVEN: &[&str] =
    &["Ivan", "Dmytro", "Oleksandr", "Andrei", "Piotr", "Mihai", "Tomasz", "Sergiy", "Marko", "Pavel", "Olena", "Anna"];
const WESTERN_FAMILY: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Moore", "Taylor", "Anderson",
    "Thomas", "Martin", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green",
];
const WESTERN_GIVEN: &[&str] = &[
    "James", "Michael", "Daniel", "Kevin", "Ryan", "Jason", "Eric", "Brian", "Kenneth", "David", "Chris", "Alex",
    "Steven", "Andrew", "Mark", "Paul", "Emily", "Sarah", "Jessica", "Laura",
];

const EMAIL_DOMAINS: &[&str] =
    &["gmail.com", "gmail.com", "gmail.com", "gmail.com", "outlook.com", "hotmail.com", "proton.me", "yahoo.com"];
const US_AREA: &[u32] = &[201, 212, 213, 305, 312, 415, 469, 512, 617, 646, 702, 713, 718, 786, 832, 917, 929];
const INTRUSION_SETS: &[&str] = &[
    "DPRK IT Worker Programme (cluster A)",
    "DPRK IT Worker Programme (cluster B)",
    "DPRK IT Worker Programme (cluster C)",
    "Laptop-farm facilitator network",
];

/// Stock resume sentences that legitimate and fraudulent resumes both draw from.
const PHRASES: &[&str] = &[
    "Senior full-stack engineer with a passion for building scalable web applications.",
    "Experienced blockchain developer focused on DeFi protocols and smart contract security.",
    "Designed and implemented RESTful APIs serving millions of requests per day.",
    "Built decentralized exchange front ends with React, TypeScript and ethers.js.",
    "Wrote and audited Solidity smart contracts for token launches and staking.",
    "Led a team of five engineers delivering a cross-chain bridge on schedule.",
    "Migrated a monolith to microservices on Kubernetes, cutting costs by 40%.",
    "Strong background in Node.js, Python and Go backend development.",
    "Integrated payment gateways and KYC providers for a fintech start-up.",
    "Improved page load times by 60% through code splitting and caching.",
    "Comfortable working remotely across time zones with distributed teams.",
    "Developed NFT marketplace features including minting, bidding and royalties.",
    "Implemented CI/CD pipelines with GitHub Actions, Docker and Terraform.",
    "Contributed to open-source Web3 libraries and developer tooling.",
    "Designed PostgreSQL schemas and optimised slow queries for analytics.",
    "Built mobile wallets with React Native supporting multiple chains.",
    "Experience with Rust and Substrate for blockchain runtime development.",
    "Delivered real-time trading dashboards using WebSockets and Redis.",
    "Mentored junior developers and ran weekly code reviews.",
    "Bachelor of Science in Computer Science.",
    "Fluent in English; available to start immediately.",
    "Hands-on experience with AWS Lambda, S3, DynamoDB and CloudFront.",
    "Created automated test suites with Jest, Cypress and Hardhat.",
    "Worked closely with product managers to ship features every sprint.",
    "Built GraphQL gateways aggregating on-chain and off-chain data.",
    "Optimised gas usage of smart contracts by up to 35%.",
    "Implemented role-based access control and OAuth2 single sign-on.",
    "Developed trading bots and market-making strategies for centralized exchanges.",
    "Designed Figma prototypes and turned them into responsive interfaces.",
    "Maintained high availability services with 99.99% uptime.",
    "Seeking a long-term remote contract with an innovative crypto company.",
    "Experienced in Laravel, PHP and WordPress plugin development.",
    "Implemented zero-knowledge proof verification in a rollup prototype.",
    "Built data pipelines with Kafka, Spark and Airflow.",
    "Excellent communication skills and a strong sense of ownership.",
    "Shipped iOS and Android apps with Flutter used by 100k monthly users.",
    "Audited DeFi lending protocols and reported critical vulnerabilities.",
    "Master of Science in Software Engineering.",
    "Integrated Chainlink oracles and The Graph subgraphs.",
    "Managed cloud infrastructure costs and monitoring with Grafana and Prometheus.",
];
const COMPANIES: &[&str] = &[
    "Blockwave Labs",
    "Nimbus Pay",
    "ChainForge",
    "Helios Finance",
    "Vertex Digital",
    "Orbit Exchange",
    "Lumen Wallet",
    "Atlas Protocol",
    "Quantum Ledger",
    "BrightCode",
    "Northwind Tech",
    "Silverline Systems",
    "Cobalt Capital",
    "Meridian Software",
    "Apex Web Studio",
];

#[derive(Clone, Debug, Default)]
struct Persona {
    id: String,
    name: Option<Name>,
    stolen: bool,
    emails: Vec<String>,
    phones: Vec<String>,
    accounts: Vec<(String, String)>,
    wallets: Vec<(wallet::Chain, String)>,
    ips: Vec<String>,
    resume: Option<String>,
    resume_sha256: Option<String>,
}

#[derive(Debug)]
struct Actor {
    id: String,
    personas: Vec<Persona>,
    farm_ips: Vec<String>,
    /// Payout bank accounts (UK IBANs) and their sort code and account number.
    banks: Vec<(String, String, String)>,
    /// Where the team's laptops are shipped: a facilitator's home.
    farm: Option<Farm>,
    /// The perceptual hash of the edited headshot its personas share, if any.
    headshot: Option<u64>,
    /// Passports its personas showed: (issuing country, number).
    passports: Vec<(&'static str, String)>,
}

/// A laptop farm's address, in the US or the UK.
#[derive(Debug, Clone)]
struct Farm {
    number: u64,
    street: &'static str,
    kind: (&'static str, &'static str),
    unit: Option<u64>,
    city: &'static str,
    /// US state, or empty in the UK.
    state: &'static str,
    postcode: String,
}

const FARM_STREETS: &[&str] = &[
    "Maple", "Kingsley", "Birch", "Harbor", "Sycamore", "Victoria", "Juniper", "Aspen", "Magnolia", "Mill", "Orchard",
];

fn farm(r: &mut Rng) -> Farm {
    let street = *r.pick(FARM_STREETS);
    let unit = r.chance(0.4).then(|| r.range(1, 30));
    if r.chance(0.75) {
        let (city, state, zip) = *r.pick(&[
            ("Austin", "TX", 78701),
            ("Seattle", "WA", 98101),
            ("Boise", "ID", 83702),
            ("Raleigh", "NC", 27601),
        ]);
        Farm {
            number: r.range(10, 4999),
            street,
            kind: *r.pick(&[("Avenue", "Ave"), ("Street", "St"), ("Drive", "Dr"), ("Boulevard", "Blvd")]),
            unit,
            city,
            state,
            postcode: format!("{:05}", zip + r.below(40)),
        }
    } else {
        let (city, area) = *r.pick(&[("Leeds", "LS"), ("Manchester", "M"), ("Bristol", "BS")]);
        let letters = |r: &mut Rng| char::from(b'A' + r.below(26) as u8);
        Farm {
            number: r.range(1, 200),
            street,
            kind: *r.pick(&[("Road", "Rd"), ("Street", "St"), ("Lane", "Ln")]),
            unit,
            city,
            state: "",
            postcode: format!("{area}{} {}{}{}", r.range(1, 20), r.below(10), letters(r), letters(r)),
        }
    }
}

impl Farm {
    fn typed(&self, r: &mut Rng) -> (String, &'static str) {
        let Farm { number: n, street: st, kind: (long, short), unit, city, state, postcode } = self;
        let uk = state.is_empty();
        match r.below(4) {
            0 if uk => (
                format!(
                    "{}{n} {st} {long}, {city} {postcode}",
                    unit.map(|u| format!("Flat {u}, ")).unwrap_or_default()
                ),
                "address_written_out",
            ),
            0 => (
                format!(
                    "{n} {st} {long}{}, {city}, {state} {postcode}",
                    unit.map(|u| format!(", Apt {u}")).unwrap_or_default()
                ),
                "address_written_out",
            ),
            1 => (
                format!(
                    "{n} {st} {short}{} {city} {state} {postcode}",
                    unit.map(|u| format!(" #{u}")).unwrap_or_default()
                )
                .to_lowercase(),
                "address_abbreviated",
            ),
            2 => (format!("{n} {st} {short}, {city}, {postcode}"), "address_without_unit"),
            _ => (
                format!(
                    "{n} {} {short}{}\n{}",
                    st.to_uppercase(),
                    unit.map(|u| format!(" UNIT {u}")).unwrap_or_default(),
                    city.to_uppercase()
                ),
                "address_without_postcode",
            ),
        }
    }
}

/// The laptop farm of an actor, on a random stream of its own (`ra`): half the actors have
/// one, stored as a `location` every persona is `located-at`.
fn gen_farm(ra: &mut Rng, w: &mut BundleWriter, actor: &mut Actor, tlp: Tlp, t: i64) -> Result<()> {
    if !ra.chance(0.5) {
        return Ok(());
    }
    let f = farm(ra);
    let id = format!("location--{}", ra.uuid());
    let unit = f.unit.map(|u| if f.state.is_empty() { format!("Flat {u}, ") } else { format!(" Apt {u}") });
    let street = if f.state.is_empty() {
        format!("{}{} {} {}", unit.unwrap_or_default(), f.number, f.street, f.kind.0)
    } else {
        format!("{} {} {}{}", f.number, f.street, f.kind.1, unit.unwrap_or_default())
    };
    w.write(&json!({
        "type": "location", "spec_version": "2.1", "id": id, "created": ts(t), "modified": ts(t),
        "street_address": street, "city": f.city, "postal_code": f.postcode,
        "country": if f.state.is_empty() { "GB" } else { "US" }, "confidence": 80,
        "object_marking_refs": [tlp.marking_id()],
    }))?;
    for p in actor.personas.iter().filter(|p| !p.stolen) {
        relationship(ra, w, "located-at", &p.id, &id, t, Marks { tlp, confidence: 80 })?;
    }
    actor.farm = Some(f);
    Ok(())
}

/// `hash` with `k` distinct bits flipped: the same picture re-saved or cropped (a few bits),
/// another portrait of the same pose (a dozen and more).
fn flip_bits(r: &mut Rng, hash: u64, k: u32) -> u64 {
    let mut out = hash;
    while (out ^ hash).count_ones() < k {
        out ^= 1u64 << r.below(64);
    }
    out
}

/// Half the teams reuse one edited headshot on their personas' profiles (stored as its
/// perceptual hash on a `file`, each copy re-saved: 0-2 bits differ), drawn from a random
/// stream of their own (`rp`) so that every other value of a data set stays as it was.
fn gen_photos(rp: &mut Rng, w: &mut BundleWriter, actor: &mut Actor, tlp: Tlp, t: i64) -> Result<()> {
    if !rp.chance(0.5) {
        return Ok(());
    }
    let headshot = rp.next_u64();
    let mut written = std::collections::HashSet::new();
    for p in actor.personas.iter().filter(|p| !p.stolen) {
        if !rp.chance(0.6) {
            continue;
        }
        let k = rp.below(3) as u32;
        let hash = dossier_match::photo::PhotoHash(flip_bits(rp, headshot, k)).hex();
        let mut v = json!({"type": "file", "spec_version": "2.1", "name": format!("profile photo {hash}"),
                           "x_dossier_phash": hash, "object_marking_refs": [tlp.marking_id()]});
        let id = v.as_object().and_then(|m| deterministic_sco_id("file", m)).context("a file id")?.as_str().to_owned();
        v["id"] = json!(id);
        // Two personas with the very same copy share one object.
        if written.insert(id.clone()) {
            w.write(&v)?;
        }
        relationship(rp, w, "related-to", &p.id, &id, t, Marks { tlp, confidence: 80 })?;
    }
    actor.headshot = Some(headshot);
    Ok(())
}

/// Applicants' photos: operatives of a team with a headshot often present it again (re-saved
/// or cropped: 0-5 bits); innocents a portrait of their own, and 2% one of the same pose as a
/// team's headshot (10-14 bits) as a hard negative.
fn add_photo(rp: &mut Rng, actors: &[Actor], app: &mut Value, truth: &mut Value) {
    let operative = truth["label"] == "operative";
    let team = truth["actor"].as_str().and_then(|id| actors.iter().find(|a| a.id == id));
    let (hash, tag, list) = match team.and_then(|a| a.headshot) {
        Some(h) if operative && rp.chance(if truth["category"] == "weak_only" { 0.5 } else { 0.3 }) => {
            let k = rp.below(6) as u32;
            (flip_bits(rp, h, k), if k <= 2 { "photo_resaved" } else { "photo_cropped" }, "perturbations")
        }
        _ if operative => return,
        _ => {
            let shots: Vec<u64> = actors.iter().filter_map(|a| a.headshot).take(100).collect();
            match rp.below(100) {
                0..=1 if !shots.is_empty() => {
                    let h = shots[rp.below(shots.len() as u64) as usize];
                    let k = rp.range(10, 14) as u32;
                    (flip_bits(rp, h, k), "photo_similar_portrait", "hard_negative")
                }
                2..=26 => (rp.next_u64(), "", ""),
                _ => return,
            }
        }
    };
    app["photos"] = json!([dossier_match::photo::PhotoHash(hash).hex()]);
    if !tag.is_empty()
        && let Some(l) = truth[list].as_array_mut()
    {
        l.push(json!(tag));
    }
}

const PASSPORT_ISSUERS: [&str; 4] = ["KR", "CN", "JP", "RU"];

fn passport_number(r: &mut Rng) -> String {
    let digits: String = (0..8).map(|_| char::from(b'0' + r.below(10) as u8)).collect();
    format!("{}{digits}", char::from(b'A' + r.below(26) as u8))
}

/// A quarter of the personas showed a passport (forged or stolen), stored only as its keyed
/// hash under `key` and tied to the persona.
fn gen_passports(rd: &mut Rng, w: &mut BundleWriter, actor: &mut Actor, key: &[u8], tlp: Tlp, t: i64) -> Result<()> {
    for p in actor.personas.iter().filter(|p| !p.stolen) {
        if !rd.chance(0.25) {
            continue;
        }
        let (country, number) = (*rd.pick(&PASSPORT_ISSUERS), passport_number(rd));
        let doc = dossier_match::normalize::id_document::normalize("passport", country, &number)
            .context("a generated passport")?;
        let mut v = json!({"type": "x-dossier-identity-document", "spec_version": "2.1", "document_type": doc.kind,
                           "issuing_country": doc.country, "number_hmac": doc.hmac(key),
                           "object_marking_refs": [tlp.marking_id()]});
        let id = v
            .as_object()
            .and_then(|m| deterministic_sco_id("x-dossier-identity-document", m))
            .context("a document id")?
            .as_str()
            .to_owned();
        v["id"] = json!(id);
        w.write(&v)?;
        relationship(rd, w, "related-to", &p.id, &id, t, Marks { tlp, confidence: 80 })?;
        actor.passports.push((country, number));
    }
    Ok(())
}

/// Applicants' passports: a quarter of the operatives who reuse identifiers give one their
/// team's personas showed; innocents their own (8%), or one digit from a persona's (2%, a
/// hard negative).
fn add_passport(rd: &mut Rng, actors: &[Actor], app: &mut Value, truth: &mut Value) {
    let operative = truth["label"] == "operative";
    let team = truth["actor"].as_str().and_then(|id| actors.iter().find(|a| a.id == id));
    let (text, tag, list) = match team {
        Some(a) if operative && truth["category"] != "weak_only" && !a.passports.is_empty() && rd.chance(0.25) => {
            let (country, number) = &a.passports[rd.below(a.passports.len() as u64) as usize];
            (format!("passport {country} {number}"), "passport", "perturbations")
        }
        _ if operative => return,
        _ => {
            let held: Vec<&(&'static str, String)> = actors.iter().flat_map(|a| a.passports.iter()).take(200).collect();
            match rd.below(100) {
                0..=1 if !held.is_empty() => {
                    let (country, number) = held[rd.below(held.len() as u64) as usize];
                    let mut digits: Vec<u8> = number.bytes().collect();
                    let last = digits.len() - 1;
                    digits[last] = b'0' + ((digits[last] - b'0' + 1 + rd.below(9) as u8) % 10);
                    (
                        format!("passport {country} {}", String::from_utf8_lossy(&digits)),
                        "passport_one_digit",
                        "hard_negative",
                    )
                }
                2..=9 => (format!("passport {} {}", rd.pick(&PASSPORT_ISSUERS), passport_number(rd)), "", ""),
                _ => return,
            }
        }
    };
    app["id_documents"] = json!([text]);
    if !tag.is_empty()
        && let Some(l) = truth[list].as_array_mut()
    {
        l.push(json!(tag));
    }
}

/// A UK bank account: its IBAN, sort code and account number.
fn uk_account(r: &mut Rng) -> (String, String, String) {
    let bank = *r.pick(&["NWBK", "BARC", "LOYD", "HBUK", "MONZ"]);
    let sort: String = (0..6).map(|_| char::from(b'0' + r.below(10) as u8)).collect();
    let number: String = (0..8).map(|_| char::from(b'0' + r.below(10) as u8)).collect();
    (dossier_match::normalize::bank::iban_of("GB", &format!("{bank}{sort}{number}")), sort, number)
}

/// The bank accounts of an actor, stored and tied to its personas, drawn from a random
/// stream of their own (`rb`) so that every other value of a data set stays as it was
/// before bank accounts were added.
fn gen_banks(rb: &mut Rng, w: &mut BundleWriter, actor: &mut Actor, tlp: Tlp, t: i64) -> Result<()> {
    if !rb.chance(0.5) {
        return Ok(());
    }
    let account = uk_account(rb);
    let confidence = 80;
    // Stored as the IBAN, or as the sort code and number a member's payment file had.
    let v = if rb.chance(0.7) {
        json!({"type": "bank-account", "iban": account.0, "currency": "GBP"})
    } else {
        json!({"type": "bank-account", "account_number": account.2, "x_dossier_bank_code": account.1, "country": "GBR"})
    };
    let id = w.sco(v, tlp)?;
    for p in actor.personas.iter().filter(|p| !p.stolen) {
        relationship(rb, w, "related-to", &p.id, &id, t, Marks { tlp, confidence })?;
    }
    actor.banks.push(account);
    Ok(())
}

struct BundleWriter {
    out: Box<dyn Write>,
    first: bool,
    count: u64,
    emitted_scos: HashSet<String>,
}

impl BundleWriter {
    fn new(mut out: Box<dyn Write>, bundle_id: &str) -> Result<Self> {
        write!(out, "{{\"type\":\"bundle\",\"id\":\"{bundle_id}\",\"objects\":[")?;
        Ok(Self { out, first: true, count: 0, emitted_scos: HashSet::new() })
    }
    fn write(&mut self, v: &Value) -> Result<()> {
        self.out.write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        serde_json::to_writer(&mut self.out, v)?;
        self.count += 1;
        Ok(())
    }
    /// Writes an SCO once per bundle and returns its deterministic id.
    fn sco(&mut self, mut v: Value, tlp: Tlp) -> Result<String> {
        let ty = v["type"].as_str().unwrap_or_default().to_owned();
        let id = v
            .as_object()
            .and_then(|m| deterministic_sco_id(&ty, m))
            .map(|i| i.to_string())
            .unwrap_or_else(|| format!("{ty}--00000000-0000-4000-8000-000000000000"));
        if self.emitted_scos.insert(id.clone()) {
            if let Some(m) = v.as_object_mut() {
                m.insert("id".into(), json!(id));
                m.insert("spec_version".into(), json!("2.1"));
                m.insert("object_marking_refs".into(), json!([tlp.marking_id()]));
                if let Some(ext) = dossier_stix::extension::for_sco_type(&ty) {
                    m.insert("extensions".into(), json!({ ext: {"extension_type": "new-sco"} }));
                }
            }
            self.write(&v)?;
        }
        Ok(id)
    }
    fn finish(mut self) -> Result<u64> {
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()?;
        Ok(self.count)
    }
}

/// A row of spelling variants, then one spelling (the first is the most common one).
fn variant(rng: &mut Rng, table: &[&[&'static str]]) -> &'static str {
    let row: &[&'static str] = table[rng.below(table.len() as u64) as usize];
    if rng.chance(0.6) { row[0] } else { row[rng.below(row.len() as u64) as usize] }
}

fn culture(rng: &mut Rng, operative: bool) -> Culture {
    let r = rng.below(100);
    let weights: [(Culture, u64); 6] = if operative {
        [
            (Culture::Japanese, 25),
            (Culture::Western, 30),
            (Culture::Korean, 20),
            (Culture::Chinese, 15),
            (Culture::Vietnamese, 5),
            (Culture::EastEuropean, 5),
        ]
    } else {
        [
            (Culture::Western, 30),
            (Culture::Korean, 15),
            (Culture::Chinese, 20),
            (Culture::Japanese, 10),
            (Culture::Vietnamese, 10),
            (Culture::EastEuropean, 15),
        ]
    };
    let mut acc = 0;
    for (c, w) in weights {
        acc += w;
        if r < acc {
            return c;
        }
    }
    Culture::Western
}

fn korean_given(rng: &mut Rng) -> String {
    let a = variant(rng, KOREAN_SYLLABLES);
    let b = variant(rng, KOREAN_SYLLABLES).to_lowercase();
    match rng.below(4) {
        0 => format!("{a}-{b}"),
        1 => format!("{a}{b}"),
        2 => format!("{a} {}", capitalise(&b)),
        _ => format!("{a}-{}", capitalise(&b)),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn name(rng: &mut Rng, operative: bool) -> Name {
    let culture = culture(rng, operative);
    let (given, family) = match culture {
        Culture::Korean => (korean_given(rng), variant(rng, KOREAN_FAMILY).to_owned()),
        Culture::Chinese => (rng.pick(CHINESE_GIVEN).to_string(), variant(rng, CHINESE_FAMILY).to_owned()),
        Culture::Japanese => (variant(rng, JAPANESE_GIVEN).to_owned(), variant(rng, JAPANESE_FAMILY).to_owned()),
        Culture::Vietnamese => (rng.pick(VIETNAMESE_GIVEN).to_string(), variant(rng, VIETNAMESE_FAMILY).to_owned()),
        Culture::EastEuropean => (rng.pick(EAST_EU_GIVEN).to_string(), variant(rng, EAST_EU_FAMILY).to_owned()),
        Culture::Western => (rng.pick(WESTERN_GIVEN).to_string(), rng.pick(WESTERN_FAMILY).to_string()),
    };
    Name { given, family, culture }
}

/// A romanisation or formatting variant of the same name.
fn name_variant(rng: &mut Rng, n: &Name) -> (String, &'static str) {
    let tables: &[&[&str]] = match n.culture {
        Culture::Korean => KOREAN_FAMILY,
        Culture::Chinese => CHINESE_FAMILY,
        Culture::Japanese => JAPANESE_FAMILY,
        Culture::Vietnamese => VIETNAMESE_FAMILY,
        Culture::EastEuropean => EAST_EU_FAMILY,
        Culture::Western => &[],
    };
    if let Some(row) = tables.iter().find(|row| row.contains(&n.family.as_str()))
        && row.len() > 1
        && rng.chance(0.5)
    {
        let other = row.iter().find(|v| **v != n.family).copied().unwrap_or(row[0]);
        return (format!("{} {other}", n.given), "name_romanisation");
    }
    match rng.below(3) {
        0 => (format!("{} {}", n.family, n.given), "name_order"),
        1 => (format!("{} {}", n.given.replace(['-', ' '], ""), n.family).to_uppercase(), "name_case_hyphen"),
        _ => (format!("{}, {}", n.family, n.given), "name_comma"),
    }
}

/// The ASCII letters and digits of a name, as people type it into handles and emails.
fn ascii_fold(s: &str) -> String {
    deunicode::deunicode(s).chars().filter(char::is_ascii_alphanumeric).collect()
}

fn email_for(rng: &mut Rng, n: &Name) -> String {
    let g = ascii_fold(&n.given).to_lowercase();
    let f = ascii_fold(&n.family).to_lowercase();
    let digits = rng.range(1, 9999);
    let local = match rng.below(6) {
        0 => format!("{g}.{f}{digits}"),
        1 => format!("{g}{f}{digits}"),
        2 => format!("{}.{f}.dev{digits}", &g[..1.min(g.len())]),
        3 => format!("{f}{g}{}", rng.range(70, 2005)),
        4 => format!("{g}{}dev{digits}", &f[..1.min(f.len())]),
        _ => format!("{g}.{f}.{}{}", rng.pick(&["web3", "eng", "work", "jobs", "tech"]), digits),
    };
    format!("{local}@{}", rng.pick(EMAIL_DOMAINS))
}

fn phone(rng: &mut Rng, operative: bool) -> String {
    let us_share = if operative { 0.75 } else { 0.5 };
    if rng.chance(us_share) {
        let area = rng.pick(US_AREA);
        format!("+1{area}{}{:06}", rng.range(2, 9), rng.below(1_000_000))
    } else {
        match rng.below(5) {
            0 => format!("+8210{:08}", rng.below(100_000_000)),
            1 => format!("+861{}{:09}", rng.range(3, 9), rng.below(1_000_000_000)),
            2 => format!("+8190{:08}", rng.below(100_000_000)),
            3 => format!("+84{}{:08}", rng.pick(&[90, 91, 93, 97, 98]), rng.below(100_000_000)),
            _ => format!("+38067{:07}", rng.below(10_000_000)),
        }
    }
}

fn handle(rng: &mut Rng, n: &Name) -> String {
    let g = ascii_fold(&n.given).to_lowercase();
    let f = ascii_fold(&n.family).to_lowercase();
    match rng.below(5) {
        0 => format!("{g}{f}{}", rng.range(1, 999)),
        1 => format!("{g}-{f}-dev{}", rng.range(1, 99)),
        2 => format!("{}{f}{}", &g[..1.min(g.len())], rng.range(10, 9999)),
        3 => format!("{f}{}{}", rng.pick(&["code", "dev", "eth", "sol", "chain"]), rng.range(1, 999)),
        _ => format!("{g}{}{}", rng.pick(&["_web3", "_eng", "dev", "_x"]), rng.range(1, 9999)),
    }
}

fn account(rng: &mut Rng, n: &Name, platform: &str) -> String {
    match platform {
        "linkedin" => format!("{}-{:x}", handle(rng, n), rng.below(1 << 28)),
        "upwork" => format!("~01{:018x}", rng.next_u64() as u128 * 7 % (1u128 << 72)),
        _ => handle(rng, n),
    }
}

fn wallet_for(rng: &mut Rng) -> (wallet::Chain, String) {
    let bytes = rng.bytes::<20>();
    match rng.below(10) {
        0..=4 => (wallet::Chain::Eth, wallet::eip55(&bytes)),
        5..=7 => (wallet::Chain::Tron, wallet::tron_address(&bytes)),
        _ => (wallet::Chain::Btc, wallet::btc_p2wpkh(&bytes)),
    }
}

fn vpn_ip(rng: &mut Rng) -> String {
    // A small pool of commercial VPN exits that operatives and ordinary people both use.
    let i = rng.below(200);
    format!("45.{}.{}.{}", 80 + i / 50, 10 + (i * 7) % 200, 1 + (i * 13) % 250)
}

fn residential_ip(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        rng.pick(&[24, 67, 71, 73, 98, 104, 172, 174]),
        rng.below(256),
        rng.below(256),
        rng.range(1, 254)
    )
}

fn resume_text(rng: &mut Rng, sentences: &[usize], n: &Name, years: u64) -> String {
    let mut out = format!("{}\n{} years of professional experience.\n", n.full(), years);
    for &s in sentences {
        out.push_str(PHRASES[s % PHRASES.len()]);
        out.push('\n');
    }
    out.push_str(&format!("Previously at {} and {}.\n", rng.pick(COMPANIES), rng.pick(COMPANIES)));
    out
}

fn sample_sentences(rng: &mut Rng, k: usize) -> Vec<usize> {
    let mut chosen = Vec::with_capacity(k);
    while chosen.len() < k {
        let s = rng.below(PHRASES.len() as u64) as usize;
        if !chosen.contains(&s) {
            chosen.push(s);
        }
    }
    chosen
}

/// A near-duplicate of a resume: a few words and one sentence changed.
fn perturb_resume(rng: &mut Rng, text: &str, new_name: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if !lines.is_empty() {
        lines[0] = new_name.to_owned();
    }
    if lines.len() > 4 && rng.chance(0.5) {
        let i = rng.range(2, lines.len() as u64 - 2) as usize;
        lines.remove(i);
    }
    let mut words: Vec<String> = lines.join("\n").split(' ').map(str::to_owned).collect();
    let edits = (words.len() / 40).max(1);
    for _ in 0..edits {
        let i = rng.below(words.len() as u64) as usize;
        words[i] = rng.pick(&["strong", "solid", "extensive", "proven", "deep", "broad"]).to_string();
    }
    words.join(" ")
}

fn ts(micros: i64) -> String {
    Timestamp::from_unix_micros(micros).as_str().to_owned()
}

const BASE_TIME: i64 = 1_672_531_200_000_000; // 2023-01-01T00:00:00Z
const YEAR: i64 = 365 * 86_400 * 1_000_000;

fn tlp_for(rng: &mut Rng) -> Tlp {
    match rng.below(100) {
        0..=4 => Tlp::Clear,
        5..=24 => Tlp::Green,
        25..=84 => Tlp::Amber,
        85..=89 => Tlp::AmberStrict,
        _ => Tlp::Red,
    }
}

fn open_out(path: &str) -> Result<Box<dyn Write>> {
    Ok(if path == "-" {
        Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout()))
    } else {
        Box::new(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(path).with_context(|| format!("creating {path}"))?,
        ))
    })
}

/// The TLP level and confidence every object of one actor carries.
#[derive(Clone, Copy)]
struct Marks {
    tlp: Tlp,
    confidence: u64,
}

fn relationship(rng: &mut Rng, w: &mut BundleWriter, rel: &str, src: &str, dst: &str, t: i64, m: Marks) -> Result<()> {
    w.write(&json!({
        "type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", rng.uuid()),
        "created": ts(t), "modified": ts(t), "relationship_type": rel, "source_ref": src, "target_ref": dst,
        "confidence": m.confidence, "object_marking_refs": [m.tlp.marking_id()],
    }))
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    let mut rng = Rng::new(args.seed);
    let mut w = BundleWriter::new(open_out(&args.out)?, &format!("bundle--{}", rng.uuid()))?;

    let mut set_ids = Vec::new();
    for name in INTRUSION_SETS {
        let id = format!("intrusion-set--{}", rng.uuid());
        w.write(&json!({
            "type": "intrusion-set", "spec_version": "2.1", "id": id, "created": ts(BASE_TIME), "modified": ts(BASE_TIME),
            "name": name, "aliases": ["Famous Chollima", "Jasper Sleet", "UNC5267"], "confidence": 80,
            "object_marking_refs": [Tlp::Green.marking_id()],
        }))?;
        set_ids.push(id);
    }

    let mut actors = Vec::with_capacity(args.actors as usize);
    for a in 0..args.actors {
        let mut r = rng.fork(u64::from(a));
        let mut actor = gen_actor(&mut r, &mut w, &set_ids, a)?;
        let mut rb = Rng::new(args.seed ^ 0xba4c_0000_0000 ^ u64::from(a));
        gen_banks(&mut rb, &mut w, &mut actor, Tlp::Green, BASE_TIME)?;
        let mut ra = Rng::new(args.seed ^ 0xadd2_0000_0000 ^ u64::from(a));
        gen_farm(&mut ra, &mut w, &mut actor, Tlp::Green, BASE_TIME)?;
        let mut rp = Rng::new(args.seed ^ 0x9407_0000_0000 ^ u64::from(a));
        gen_photos(&mut rp, &mut w, &mut actor, Tlp::Green, BASE_TIME)?;
        if let Some(key) = &args.id_key {
            let mut rd = Rng::new(args.seed ^ 0x1d0c_0000_0000 ^ u64::from(a));
            gen_passports(&mut rd, &mut w, &mut actor, key, Tlp::Green, BASE_TIME)?;
        }
        actors.push(actor);
    }
    let objects = w.finish()?;
    eprintln!("generated {} actors, {objects} objects", actors.len());

    if args.applicants > 0 {
        let path = args.applicants_out.as_ref().context("--applicants needs --applicants-out FILE")?;
        let mut out =
            BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
        let mut truth: Box<dyn Write> = match &args.truth_out {
            Some(p) => {
                Box::new(BufWriter::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?))
            }
            None => Box::new(std::io::sink()),
        };
        let mut r = rng.fork(0xa991);
        let mut rb = Rng::new(args.seed ^ 0xba4c_a991);
        let mut ra = Rng::new(args.seed ^ 0xadd2_a991);
        let mut rp = Rng::new(args.seed ^ 0x9407_a991);
        let mut rd = Rng::new(args.seed ^ 0x1d0c_a991);
        let taken = Taken::of(&actors);
        for i in 0..args.applicants {
            let reference = format!("app-{:06}", i + 1);
            let (mut app, mut t) = if !actors.is_empty() && r.chance(args.operative_share) {
                operative_applicant(&mut r, &actors, &taken, &reference)
            } else {
                legit_applicant(&mut r, &actors, &taken, &reference)
            };
            add_bank(&mut rb, &actors, &mut app, &mut t);
            add_address(&mut ra, &actors, &mut app, &mut t);
            add_photo(&mut rp, &actors, &mut app, &mut t);
            if args.id_key.is_some() {
                add_passport(&mut rd, &actors, &mut app, &mut t);
            }
            serde_json::to_writer(&mut out, &app)?;
            out.write_all(b"\n")?;
            serde_json::to_writer(&mut truth, &t)?;
            truth.write_all(b"\n")?;
        }
        out.flush()?;
        truth.flush()?;
        eprintln!("generated {} applicants", args.applicants);
    }
    Ok(())
}

fn gen_actor(r: &mut Rng, w: &mut BundleWriter, set_ids: &[String], a: u32) -> Result<Actor> {
    let tlp = tlp_for(r);
    let confidence = r.range(50, 95);
    let first_seen = BASE_TIME + (r.below(2 * YEAR as u64) as i64);
    let created = first_seen + (r.below(30 * 86_400_000_000) as i64);
    let last_seen = created + (r.below(YEAR as u64) as i64);
    let actor_id = format!("threat-actor--{}", r.uuid());
    let codename = format!(
        "{}-{}",
        r.pick(&["JADE", "ONYX", "COBALT", "AMBERFOX", "NIGHTOWL", "SILKROAD", "PAEKTU", "TAEDONG"]),
        100 + a
    );
    w.write(&json!({
        "type": "threat-actor", "spec_version": "2.1", "id": actor_id, "created": ts(created), "modified": ts(last_seen),
        "name": format!("IT worker team {codename}"), "threat_actor_types": ["nation-state", "criminal"],
        "aliases": [codename], "first_seen": ts(first_seen), "last_seen": ts(last_seen), "roles": ["agent"],
        "labels": ["dprk-it-worker"], "confidence": confidence, "object_marking_refs": [tlp.marking_id()],
    }))?;
    let set = r.pick(set_ids).clone();
    relationship(r, w, "attributed-to", &set, &actor_id, created, Marks { tlp, confidence })?;

    let n_personas = match r.below(100) {
        0..=19 => 1,
        20..=44 => 2,
        45..=69 => 3,
        70..=84 => 4,
        85..=94 => 5,
        _ => 6,
    };
    let template = sample_sentences(r, 9);
    let farm_ips: Vec<String> = (0..r.range(1, 3)).map(|_| residential_ip(r)).collect();
    let team_wallets: Vec<(wallet::Chain, String)> = (0..r.range(1, 3)).map(|_| wallet_for(r)).collect();
    let team_phone = phone(r, true);
    let mut personas = Vec::new();
    for _ in 0..n_personas {
        let stolen = r.chance(0.08);
        let n = name(r, true);
        let pid = format!("identity--{}", r.uuid());
        let t = created + (r.below(YEAR as u64 / 2) as i64);
        let mut p = Persona { id: pid.clone(), name: Some(n.clone()), stolen, ..Default::default() };
        let mut identity = json!({
            "type": "identity", "spec_version": "2.1", "id": pid, "created": ts(t), "modified": ts(t),
            "name": n.full(), "identity_class": "individual", "confidence": confidence,
            "object_marking_refs": [tlp.marking_id()],
        });
        if stolen {
            identity["labels"] = json!(["stolen-identity"]);
            identity["x_dossier_stolen_identity"] = json!(true);
            identity["description"] = json!("Real person whose identity documents were used by the team.");
        } else {
            identity["labels"] = json!(["persona"]);
        }
        w.write(&identity)?;
        if stolen {
            relationship(r, w, "impersonates", &actor_id, &pid, t, Marks { tlp, confidence })?;
        } else {
            relationship(r, w, "attributed-to", &pid, &actor_id, t, Marks { tlp, confidence })?;
        }
        // Identifiers, some shared with the team.
        for _ in 0..r.range(1, 2) {
            p.emails.push(email_for(r, &n));
        }
        p.phones.push(if r.chance(0.4) { team_phone.clone() } else { phone(r, true) });
        for platform in ["github", "linkedin", "telegram", "upwork"] {
            if r.chance(if platform == "github" { 0.85 } else { 0.5 }) {
                p.accounts.push((platform.to_owned(), account(r, &n, platform)));
            }
        }
        if r.chance(0.8) {
            p.wallets.push(if r.chance(0.7) { r.pick(&team_wallets).clone() } else { wallet_for(r) });
        }
        p.ips.push(if r.chance(0.6) { r.pick(&farm_ips).clone() } else { vpn_ip(r) });
        if r.chance(0.8) {
            let years = r.range(4, 12);
            let text = resume_text(r, &template, &n, years);
            p.resume_sha256 = Some(Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect());
            p.resume = Some(text);
        }
        emit_identifiers(r, w, &p, &n, t, tlp, confidence)?;
        personas.push(p);
    }
    Ok(Actor { id: actor_id, personas, farm_ips, banks: Vec::new(), farm: None, headshot: None, passports: Vec::new() })
}

fn emit_identifiers(
    r: &mut Rng,
    w: &mut BundleWriter,
    p: &Persona,
    n: &Name,
    t: i64,
    tlp: Tlp,
    confidence: u64,
) -> Result<()> {
    let mut sco_ids = Vec::new();
    for e in &p.emails {
        sco_ids.push(w.sco(json!({"type": "email-addr", "value": e, "display_name": n.full()}), tlp)?);
    }
    for ph in &p.phones {
        sco_ids.push(w.sco(json!({"type": "phone-number", "value": ph}), tlp)?);
    }
    for (platform, login) in &p.accounts {
        let v = if platform == "upwork" {
            json!({"type": "user-account", "account_type": platform, "user_id": login, "display_name": n.full()})
        } else {
            json!({"type": "user-account", "account_type": platform, "account_login": login})
        };
        sco_ids.push(w.sco(v, tlp)?);
    }
    for (chain, addr) in &p.wallets {
        let mut v = json!({"type": "cryptocurrency-wallet", "value": addr});
        v["x_dossier_chain"] = json!(chain.as_str());
        sco_ids.push(w.sco(v, tlp)?);
    }
    for ip in &p.ips {
        sco_ids.push(w.sco(json!({"type": "ipv4-addr", "value": ip}), tlp)?);
    }
    if let (Some(text), Some(hash)) = (&p.resume, &p.resume_sha256) {
        let file = w.sco(
            json!({"type": "file", "name": format!("{}_Resume.pdf", ascii_fold(&n.full())), "hashes": {"SHA-256": hash}, "mime_type": "application/pdf"}),
            tlp,
        )?;
        sco_ids.push(file);
        w.write(&json!({
            "type": "note", "spec_version": "2.1", "id": format!("note--{}", r.uuid()), "created": ts(t), "modified": ts(t),
            "abstract": "Resume text", "content": text, "object_refs": [p.id], "object_marking_refs": [tlp.marking_id()],
        }))?;
    }
    for sco in sco_ids {
        relationship(r, w, "related-to", &p.id, &sco, t, Marks { tlp, confidence })?;
    }
    Ok(())
}

// ---- applicants -------------------------------------------------------------------------

/// A bank account on an applicant, from its own random stream: an operative who reused an
/// identifier gives a team account a quarter of the time (as an IBAN in groups, compact, or
/// by sort code and number); an innocent gives an account of their own a fifth of the
/// time, or now and then a look-alike of a team's IBAN (one digit changed).
fn add_bank(rb: &mut Rng, actors: &[Actor], app: &mut Value, truth: &mut Value) {
    let operative = truth["label"] == "operative";
    let team = truth["actor"].as_str().and_then(|id| actors.iter().find(|a| a.id == id));
    let (value, tag, list) = match team {
        Some(a) if operative && truth["category"] == "strong" && !a.banks.is_empty() && rb.chance(0.25) => {
            let (iban, sort, number) = rb.pick(&a.banks).clone();
            let (v, tag) = match rb.below(3) {
                0 => (
                    iban.as_bytes()
                        .chunks(4)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect::<Vec<_>>()
                        .join(" "),
                    "bank_iban_grouped",
                ),
                1 => (iban.to_lowercase(), "bank_iban_lowercase"),
                _ => (format!("{}-{}-{} {number}", &sort[..2], &sort[2..4], &sort[4..]), "bank_sort_code"),
            };
            (v, tag, "perturbations")
        }
        _ if operative => return,
        _ => match rb.below(100) {
            0..=19 => (uk_account(rb).0, "", ""),
            20..=22 => {
                let banked: Vec<&Actor> = actors.iter().filter(|a| !a.banks.is_empty()).take(100).collect();
                let Some(a) = banked.get(rb.below(banked.len().max(1) as u64) as usize) else { return };
                let iban = &a.banks[0].0;
                let at = iban.len() - 1 - rb.below(6) as usize;
                let d = iban.as_bytes()[at];
                let changed = if d == b'9' { b'0' } else { d + 1 };
                (
                    format!("{}{}{}", &iban[..at], char::from(changed), &iban[at + 1..]),
                    "iban_lookalike",
                    "hard_negative",
                )
            }
            _ => return,
        },
    };
    app["bank_accounts"] = json!([value]);
    if !tag.is_empty()
        && let Some(l) = truth[list].as_array_mut()
    {
        l.push(json!(tag));
    }
}

/// A postal address on an applicant, from its own random stream: an operative gives the
/// team's laptop farm as the shipping address (half of those who reuse no identifier, a
/// tenth of the others); an innocent gives a home of their own a third of the time, and
/// now and then lives in a farm's building (another flat) or next door.
fn add_address(ra: &mut Rng, actors: &[Actor], app: &mut Value, truth: &mut Value) {
    let operative = truth["label"] == "operative";
    let team = truth["actor"].as_str().and_then(|id| actors.iter().find(|a| a.id == id));
    let share = if truth["category"] == "weak_only" { 0.5 } else { 0.1 };
    let (value, tag, list) = match team.and_then(|a| a.farm.as_ref()) {
        Some(f) if operative && ra.chance(share) => {
            let (v, tag) = f.typed(ra);
            (v, tag, "perturbations")
        }
        _ if operative => return,
        _ => {
            let farms: Vec<&Farm> = actors.iter().filter_map(|a| a.farm.as_ref()).take(100).collect();
            match ra.below(100) {
                0..=1 if farms.iter().any(|f| f.unit.is_some()) => {
                    // Another flat of a farm's building.
                    let flats: Vec<&&Farm> = farms.iter().filter(|f| f.unit.is_some()).collect();
                    let mut f = (*flats[ra.below(flats.len() as u64) as usize]).clone();
                    f.unit = f.unit.map(|u| u + 1);
                    (f.typed(ra).0, "address_same_building", "hard_negative")
                }
                2..=3 if !farms.is_empty() => {
                    let mut f = farms[ra.below(farms.len() as u64) as usize].clone();
                    f.number += 1;
                    (f.typed(ra).0, "address_next_door", "hard_negative")
                }
                4..=33 => {
                    // A home of their own, on any street of the town.
                    let mut f = farm(ra);
                    f.street = *ra.pick(WESTERN_FAMILY);
                    (f.typed(ra).0, "", "")
                }
                _ => return,
            }
        }
    };
    app["addresses"] = json!([value]);
    if !tag.is_empty()
        && let Some(l) = truth[list].as_array_mut()
    {
        l.push(json!(tag));
    }
}

fn format_phone(r: &mut Rng, e164: &str) -> (String, &'static str) {
    if let Some(rest) = e164.strip_prefix("+1")
        && rest.len() == 10
    {
        let (a, b, c) = (&rest[..3], &rest[3..6], &rest[6..]);
        return match r.below(5) {
            0 => (format!("+1 ({a}) {b}-{c}"), "phone_formatting"),
            1 => (format!("({a}) {b}-{c}"), "phone_national"),
            2 => (format!("1-{a}-{b}-{c}"), "phone_trunk_prefix"),
            3 => (format!("{a}.{b}.{c}"), "phone_national"),
            _ => (format!("+1 {a} {b} {c}"), "phone_formatting"),
        };
    }
    if let Some(rest) = e164.strip_prefix("+82") {
        return (format!("0{}-{}-{}", &rest[..2], &rest[2..6], &rest[6..]), "phone_national_kr");
    }
    let cc = if e164.starts_with("+380") { 4 } else { 3 };
    (format!("{} {} {}", &e164[..cc], &e164[cc..cc + 2], &e164[cc + 2..]), "phone_formatting")
}

fn perturb_email(r: &mut Rng, email: &str) -> (String, &'static str) {
    let Some((local, domain)) = email.split_once('@') else {
        return (email.to_owned(), "email_exact");
    };
    let gmail = domain == "gmail.com";
    match r.below(5) {
        0 if gmail => {
            let stripped = local.replace('.', "");
            let mut dotted = String::new();
            for (i, c) in stripped.chars().enumerate() {
                if i > 0 && i % 3 == 0 {
                    dotted.push('.');
                }
                dotted.push(c);
            }
            (format!("{dotted}@{domain}"), "email_gmail_dots")
        }
        1 if gmail || domain == "outlook.com" || domain == "proton.me" => {
            (format!("{local}+{}@{domain}", r.pick(&["jobs", "work", "apply", "hr"])), "email_plus_tag")
        }
        2 if gmail => (format!("{local}@googlemail.com"), "email_googlemail"),
        3 => (format!("{}@{}", capitalise(local), domain.to_uppercase()), "email_case"),
        _ => (email.to_owned(), "email_exact"),
    }
}

fn present_account(r: &mut Rng, platform: &str, login: &str) -> (Value, &'static str) {
    match (platform, r.below(4)) {
        ("github", 0) => (json!({"url": format!("https://github.com/{login}")}), "account_url"),
        ("github", 1) => (json!({"url": format!("github.com/{}/", login.to_uppercase())}), "account_url_case"),
        ("linkedin", 0 | 1) => (
            json!({"url": format!("https://{}.linkedin.com/in/{login}/", r.pick(&["www", "uk", "de", "kr"]))}),
            "account_url_locale",
        ),
        ("telegram", 0 | 1) => (json!({"url": format!("https://t.me/{login}")}), "account_url"),
        ("telegram", 2) => (json!({"platform": "telegram", "username": format!("@{login}")}), "account_at_handle"),
        ("upwork", 0 | 1) => (json!({"url": format!("https://www.upwork.com/freelancers/{login}")}), "account_url"),
        (_, 3) => (json!({"platform": platform, "username": login.to_uppercase()}), "account_case"),
        _ => (json!({"platform": platform, "username": login}), "account_exact"),
    }
}

fn present_wallet(r: &mut Rng, chain: wallet::Chain, addr: &str) -> (Value, &'static str) {
    match chain {
        wallet::Chain::Eth if r.chance(0.5) => {
            (json!({"chain": "eth", "address": addr.to_lowercase()}), "wallet_lowercase")
        }
        wallet::Chain::Btc if r.chance(0.3) => (json!({"address": addr.to_uppercase()}), "wallet_uppercase"),
        _ if r.chance(0.5) => (json!({"address": addr}), "wallet_no_chain"),
        _ => (json!({"chain": chain.as_str(), "address": addr}), "wallet_exact"),
    }
}

/// Emails and platform logins already held by a persona. A platform gives each login and
/// each address to one person at a time, so a fresh applicant never draws one of these
/// (names-derived handles would otherwise collide for people who share a common name).
/// Addresses are compared as mailboxes: `paul.king3967@gmail.com` is the mailbox of
/// `paulking3967@gmail.com` (Gmail ignores dots and `+tags`), so an applicant giving it is
/// the persona's holder, not an innocent.
#[derive(Default)]
struct Taken(HashSet<String>);

/// The mailbox an address delivers to: case folded; for Gmail (and googlemail.com) without
/// the local part's dots and `+tag`.
fn mailbox(e: &str) -> String {
    let e = e.to_lowercase();
    match e.rsplit_once('@') {
        Some((local, "gmail.com" | "googlemail.com")) => {
            let local = local.split('+').next().unwrap_or(local).replace('.', "");
            format!("{local}@gmail.com")
        }
        _ => e,
    }
}

impl Taken {
    fn of(actors: &[Actor]) -> Self {
        let mut t = HashSet::new();
        for p in actors.iter().flat_map(|a| a.personas.iter()) {
            t.extend(p.emails.iter().map(|e| format!("email:{}", mailbox(e))));
            t.extend(p.accounts.iter().map(|(pl, l)| format!("acct:{pl}:{}", l.to_lowercase())));
        }
        Self(t)
    }
    fn email(&self, e: &str) -> bool {
        self.0.contains(&format!("email:{}", mailbox(e)))
    }
    fn account(&self, platform: &str, login: &str) -> bool {
        self.0.contains(&format!("acct:{platform}:{}", login.to_lowercase()))
    }
}

fn fresh_identifiers(r: &mut Rng, n: &Name, app: &mut serde_json::Map<String, Value>, taken: &Taken) {
    let mut email = email_for(r, n);
    for _ in 0..50 {
        if !taken.email(&email) {
            break;
        }
        email = email_for(r, n);
    }
    app.insert("emails".into(), json!([email]));
    let fresh_phone = phone(r, false);
    let (ph, _) = format_phone(r, &fresh_phone);
    app.insert("phones".into(), json!([ph]));
    let mut accounts = Vec::new();
    for platform in ["github", "linkedin"] {
        if r.chance(0.6) {
            let mut login = account(r, n, platform);
            for _ in 0..50 {
                if !taken.account(platform, &login) {
                    break;
                }
                login = account(r, n, platform);
            }
            accounts.push(present_account(r, platform, &login).0);
        }
    }
    if !accounts.is_empty() {
        app.insert("accounts".into(), Value::Array(accounts));
    }
    if r.chance(0.3) {
        let (chain, addr) = wallet_for(r);
        app.insert("wallets".into(), json!([present_wallet(r, chain, &addr).0]));
    }
}

fn legit_applicant(r: &mut Rng, actors: &[Actor], taken: &Taken, reference: &str) -> (Value, Value) {
    let mut hard = Vec::new();
    let mut n = name(r, false);
    let roll = r.below(100);
    if roll < 3 && !actors.is_empty() {
        // Shares the exact name of a known persona.
        let a = r.pick(actors);
        if let Some(pn) = r.pick(&a.personas).name.clone() {
            n = pn;
            hard.push("same_name_as_persona");
        }
    } else if roll < 5 && !actors.is_empty() {
        // The real person whose identity a team stole, applying under their own name.
        let stolen: Vec<&Persona> =
            actors.iter().flat_map(|a| a.personas.iter()).filter(|p| p.stolen).take(500).collect();
        if !stolen.is_empty()
            && let Some(pn) = r.pick(&stolen).name.clone()
        {
            n = pn;
            hard.push("stolen_identity_owner");
        }
    }
    let mut app = serde_json::Map::new();
    app.insert("ref".into(), json!(reference));
    app.insert("names".into(), json!([n.full()]));
    fresh_identifiers(r, &n, &mut app, taken);
    let near = if r.chance(0.02) && !actors.is_empty() {
        let a = r.pick(actors);
        let p = r.pick(&a.personas);
        p.accounts.iter().find(|(pl, _)| pl == "github").map(|(_, l)| l.clone())
    } else {
        None
    };
    if let Some(login) = near {
        // A handle one character away from a persona's: exact identifiers must not meet it.
        let similar = match login.trim_end_matches(|c: char| c.is_ascii_digit()) {
            stem if stem.len() < login.len() => {
                format!("{stem}{}", login[stem.len()..].parse::<u64>().unwrap_or(0) + 1)
            }
            _ => format!("{login}1"),
        };
        if !taken.account("github", &similar) {
            let accounts = app.entry("accounts").or_insert_with(|| json!([]));
            if let Some(list) = accounts.as_array_mut() {
                list.retain(|a| {
                    a.get("platform").and_then(|p| p.as_str()) != Some("github")
                        && !a.get("url").and_then(|u| u.as_str()).is_some_and(|u| u.contains("github"))
                });
                list.push(json!({"platform": "github", "username": similar}));
            }
            hard.push("similar_handle");
        }
    }
    if r.chance(0.4) {
        let ip = if r.chance(0.3) {
            hard.push("shared_vpn_ip");
            vpn_ip(r)
        } else {
            residential_ip(r)
        };
        app.insert("ips".into(), json!([ip]));
    }
    if r.chance(0.6) {
        let sentences = sample_sentences(r, 8);
        let years = r.range(1, 15);
        let text = resume_text(r, &sentences, &n, years);
        hard.push("stock_resume_phrases");
        app.insert("resume_text".into(), json!(text));
    }
    (
        Value::Object(app),
        json!({"ref": reference, "label": "legit", "actor": null, "perturbations": [], "hard_negative": hard}),
    )
}

fn operative_applicant(r: &mut Rng, actors: &[Actor], taken: &Taken, reference: &str) -> (Value, Value) {
    let actor = r.pick(actors);
    let source = r.pick(&actor.personas);
    let mut perturbations: Vec<&'static str> = Vec::new();
    let source_name = source.name.clone().unwrap_or_else(|| name(r, true));
    let new_name = match r.below(10) {
        0..=4 => {
            perturbations.push("new_name");
            name(r, true).full()
        }
        5..=7 => {
            let (v, kind) = name_variant(r, &source_name);
            perturbations.push(kind);
            v
        }
        _ => {
            perturbations.push("same_name");
            source_name.full()
        }
    };
    let mut app = serde_json::Map::new();
    app.insert("ref".into(), json!(reference));
    app.insert("names".into(), json!([new_name]));
    let persona_name = Name { given: new_name.clone(), family: String::new(), culture: source_name.culture };
    // Which identifiers come back: usually one to three strong ones, sometimes only weak ties.
    let pool: Vec<&Persona> = actor.personas.iter().collect();
    let weak_only = r.chance(0.04);
    let mut reused = 0;
    if !weak_only {
        let k = r.range(1, 3);
        let mut kinds = vec!["email", "phone", "account", "wallet", "document"];
        for _ in 0..k {
            if kinds.is_empty() {
                break;
            }
            let i = r.below(kinds.len() as u64) as usize;
            let kind = kinds.remove(i);
            let p = *r.pick(&pool);
            match kind {
                "email" if !p.emails.is_empty() => {
                    let e = r.pick(&p.emails).clone();
                    let (e, how) = perturb_email(r, &e);
                    app.insert("emails".into(), json!([e]));
                    perturbations.push(how);
                    reused += 1;
                }
                "phone" if !p.phones.is_empty() => {
                    let (ph, how) = format_phone(r, &p.phones[0]);
                    app.insert("phones".into(), json!([ph]));
                    perturbations.push(how);
                    reused += 1;
                }
                "account" if !p.accounts.is_empty() => {
                    let (platform, login) = r.pick(&p.accounts).clone();
                    let (v, how) = present_account(r, &platform, &login);
                    app.insert("accounts".into(), json!([v]));
                    perturbations.push(how);
                    reused += 1;
                }
                "wallet" if !p.wallets.is_empty() => {
                    let (chain, addr) = r.pick(&p.wallets).clone();
                    let (v, how) = present_wallet(r, chain, &addr);
                    app.insert("wallets".into(), json!([v]));
                    perturbations.push(how);
                    reused += 1;
                }
                "document" if p.resume_sha256.is_some() => {
                    app.insert("documents".into(), json!([{"sha256": p.resume_sha256}]));
                    perturbations.push("document_hash");
                    reused += 1;
                }
                _ => {}
            }
        }
    }
    // Fill the rest with fresh identifiers, as a new persona would.
    let mut fresh = serde_json::Map::new();
    fresh_identifiers(r, &persona_name, &mut fresh, taken);
    for (k, v) in fresh {
        app.entry(k).or_insert(v);
    }
    if r.chance(0.6) {
        let ip = if r.chance(0.6) { r.pick(&actor.farm_ips).clone() } else { vpn_ip(r) };
        app.insert("ips".into(), json!([ip]));
        perturbations.push("ip_reuse");
    }
    if let Some(text) = pool.iter().find_map(|p| p.resume.as_ref())
        && r.chance(if weak_only { 0.7 } else { 0.5 })
    {
        app.insert("resume_text".into(), json!(perturb_resume(r, text, &new_name)));
        perturbations.push("resume_near_duplicate");
    }
    let category = if reused > 0 { "strong" } else { "weak_only" };
    (
        Value::Object(app),
        json!({"ref": reference, "label": "operative", "actor": actor.id, "persona": source.id, "category": category,
               "perturbations": perturbations, "hard_negative": []}),
    )
}

#[cfg(test)]
mod tests {
    use super::mailbox;

    #[test]
    fn a_mailbox_is_compared_as_gmail_delivers() {
        assert_eq!(mailbox("Paul.King3967@gmail.com"), mailbox("paulking3967@gmail.com"));
        assert_eq!(mailbox("paul.king+jobs@googlemail.com"), "paulking@gmail.com");
        assert_ne!(mailbox("paul.king@proton.me"), mailbox("paulking@proton.me"));
    }
}
