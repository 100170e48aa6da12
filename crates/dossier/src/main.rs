//! `dossier`: the command-line entry point. The only place that reads argv and the
//! environment and picks exit codes; everything else lives in the library crates.

/// `println!` that returns the write's error instead of panicking: a reader that goes away
/// (`dossier audit | head -1`) ends the command quietly (see `main`), never with a panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod client;
mod evaluate;
mod formats;
mod generate;
mod independent;
mod pipeline;
mod rng;
mod screen_cmd;
mod store_cmd;
mod sync_cmd;

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use dossier_stix::{Role, Tlp};
use dossier_store::{Query, SqliteStore, Store, StoreError, Versions};
use std::sync::Arc;

/// dossier: a self-hostable threat-intelligence exchange for screening job applicants and
/// payment counterparties against known fake-identity operatives.
#[derive(Parser)]
#[command(name = "dossier", version, about, long_about = None)]
struct Cli {
    /// Data directory: the embedded store's database (unless --database-url names another),
    /// and this node's own files (the screening index snapshot, batch jobs).
    #[arg(long, global = true, env = "DOSSIER_DATA", default_value = "./dossier-data")]
    data: PathBuf,
    /// Where the store lives instead of the data directory: `sqlite:PATH`, or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` for several nodes on one database.
    #[arg(long, global = true, env = "DOSSIER_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Log filter (e.g. `info`, `dossier=debug`); logs go to stderr.
    #[arg(long, global = true, env = "DOSSIER_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import a STIX 2.1 bundle or JSON Lines of objects, a MISP event or feed, the OFAC SDN
    /// list, or a CSV of identifiers (FILE, a directory, a feed URL, or - for stdin).
    Import(ImportArgs),
    /// Export objects as a STIX 2.1 bundle on stdout.
    Export(ExportArgs),
    /// Manage member organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the people who sign in to the web interface with a password.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage collections.
    #[command(subcommand)]
    Collection(CollectionCommand),
    /// Write a realistic synthetic data set (a STIX bundle, and optionally applicants).
    Generate(generate::GenerateArgs),
    /// Screen applicants (JSON Lines or CSV) against the data and print explained results.
    Screen(screen_cmd::ScreenArgs),
    /// Print the perceptual hash of profile photos (JPEG or PNG), to screen with or share:
    /// only the hash leaves this machine.
    PhotoHash(PhotoHashArgs),
    /// Print the keyed hash (`number_hmac`) of identity documents under this installation's
    /// key, for an `x-dossier-identity-document` object in a bundle: `TYPE COUNTRY NUMBER`
    /// per line on stdin or as arguments. The key never leaves the data directory.
    IdHash(IdHashArgs),
    /// Measure screening quality on a generated data set with ground truth.
    Evaluate(evaluate::EvaluateArgs),
    /// Make a fresh data directory with synthetic data and print what to do next.
    Demo(DemoArgs),
    /// Serve TAXII 2.1 (and the other HTTP interfaces) on the data directory.
    Serve(Box<ServeArgs>),
    /// Read the audit log (newest first, JSON Lines).
    Audit(AuditArgs),
    /// Pull from and push to other TAXII 2.1 servers (peers from flags or the configuration
    /// file's `[[peers]]`), resuming from durable cursors; one JSON line per pull or push.
    Sync(sync_cmd::SyncArgs),
    /// Keep this data directory a replica of exactly what one member may see on the ISAC's
    /// server (withdrawals, TLP changes and grants included), to screen locally: applicant
    /// data never leaves the member. `dossier screen` and `dossier serve` work on it.
    Mirror(sync_cmd::MirrorArgs),
    /// Write a consistent copy of the whole store to FILE while it keeps serving (a
    /// self-contained SQLite database, whichever backend the store is on).
    Backup(store_cmd::BackupArgs),
    /// Load a backup into a new store (the data directory, or --database-url), and check
    /// it row by row and by a checksum of every object's JSON.
    Restore(store_cmd::RestoreArgs),
    /// Copy a whole store into another (a new one), e.g. from the embedded store to
    /// PostgreSQL, and check the copy row by row and by a checksum of every object's JSON.
    Migrate(store_cmd::MigrateArgs),
}

#[derive(Args)]
struct AuditArgs {
    /// Only requests by this organization.
    #[arg(long)]
    org: Option<String>,
    /// Only requests at or after this RFC 3339 timestamp.
    #[arg(long)]
    since: Option<String>,
    /// Only requests whose path starts with this.
    #[arg(long)]
    path: Option<String>,
    /// Only requests made with this credential (a token id, or `user:NAME`).
    #[arg(long)]
    token: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// `dossier serve` settings. Precedence: flag, then environment variable, then the
/// configuration file (`--config`, TOML with the same names in snake_case), then the default.
#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// TOML configuration file (keys: listen, api_root, title, max_content_length, page_size).
    #[arg(long, env = "DOSSIER_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "DOSSIER_LISTEN")]
    listen: Option<String>,
    /// Name of the TAXII API root [default: api].
    #[arg(long, env = "DOSSIER_API_ROOT")]
    api_root: Option<String>,
    /// Title shown in TAXII discovery [default: dossier].
    #[arg(long, env = "DOSSIER_TITLE")]
    title: Option<String>,
    /// Largest request body in bytes, TAXII max_content_length [default: 10485760].
    #[arg(long, env = "DOSSIER_MAX_CONTENT_LENGTH")]
    max_content_length: Option<usize>,
    /// Objects per page when a client sets no limit [default: 1000].
    #[arg(long, env = "DOSSIER_PAGE_SIZE")]
    page_size: Option<usize>,
    /// Seconds one request may take before it is answered with 503 [default: 60].
    #[arg(long, env = "DOSSIER_REQUEST_TIMEOUT")]
    request_timeout: Option<u64>,
    /// Objects one organization may write per minute; 0: no limit [default: 100000].
    #[arg(long, env = "DOSSIER_WRITE_OBJECTS_PER_MINUTE")]
    write_objects_per_minute: Option<u64>,
    /// Bytes one organization may write per minute; 0: no limit [default: 268435456].
    #[arg(long, env = "DOSSIER_WRITE_BYTES_PER_MINUTE")]
    write_bytes_per_minute: Option<u64>,
    /// Open connections at most; more wait to be accepted [default: 1024].
    #[arg(long, env = "DOSSIER_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Screening batches one organization may run at once [default: 2].
    #[arg(long, env = "DOSSIER_BATCHES_PER_ORG")]
    batches_per_org: Option<usize>,
    /// Screening batches the server runs at once [default: 8].
    #[arg(long, env = "DOSSIER_BATCHES")]
    batches: Option<usize>,
    /// Largest size in bytes of the write-ahead log under sustained writes [default: 268435456].
    #[arg(long, env = "DOSSIER_WAL_LIMIT")]
    wal_limit: Option<u64>,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For
    /// names the client [default: none: the header is ignored].
    #[arg(long, env = "DOSSIER_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Option<Vec<String>>,
    /// Seconds a connection may sit idle between requests before it is closed [default: 30].
    #[arg(long, env = "DOSSIER_IDLE_TIMEOUT")]
    idle_timeout: Option<u64>,
    /// Screening jobs one organization may keep at once [default: 16].
    #[arg(long, env = "DOSSIER_JOBS_PER_ORG")]
    jobs_per_org: Option<usize>,
    /// Largest upload of one screening job, in bytes [default: 1073741824].
    #[arg(long, env = "DOSSIER_JOB_MAX_BYTES")]
    job_max_bytes: Option<u64>,
    /// Hours a screening job's results are kept after it ended [default: 24].
    #[arg(long, env = "DOSSIER_JOB_RETENTION_HOURS")]
    job_retention_hours: Option<u64>,
    /// The share of screened applicants you expect to be operatives, the prior of every
    /// screening score (0 < share < 1) [default: 0.001].
    #[arg(long, env = "DOSSIER_OPERATIVE_SHARE")]
    operative_share: Option<f64>,
    /// Days a review-queue entry (a screen that ended in match or review) and the
    /// suppressions judged on it are kept [default: 180].
    #[arg(long, env = "DOSSIER_REVIEW_RETENTION_DAYS")]
    review_retention_days: Option<u64>,
    /// Keep review-queue entries' applicant `ref` only as a keyed hash (by default the ref
    /// is kept as given, so that a reviewer finds the applicant in their own system).
    #[arg(long, env = "DOSSIER_REVIEW_REF_HASHED_ONLY")]
    review_ref_hashed_only: bool,
    /// Attempts of one webhook delivery before it is dead [default: 8].
    #[arg(long, env = "DOSSIER_WEBHOOK_ATTEMPTS")]
    webhook_attempts: Option<u32>,
    /// Let webhooks call loopback, private and link-local addresses (off by default: a
    /// member could otherwise make the server call into its own network).
    #[arg(long, env = "DOSSIER_WEBHOOK_ALLOW_PRIVATE")]
    webhook_allow_private: bool,
    /// Days a watched subject is kept [default: 365].
    #[arg(long, env = "DOSSIER_WATCH_RETENTION_DAYS")]
    watch_retention_days: Option<u64>,
    /// SMTP server for e-mailed notifications (`mailto:` webhooks) [default: none: e-mail off].
    #[arg(long, env = "DOSSIER_SMTP_HOST")]
    smtp_host: Option<String>,
    /// Its port [default: 587 with starttls, 465 with tls, 25 with none].
    #[arg(long, env = "DOSSIER_SMTP_PORT")]
    smtp_port: Option<u16>,
    /// starttls (the upgrade must succeed), tls (from the first byte) or none (a local relay
    /// only) [default: starttls].
    #[arg(long, env = "DOSSIER_SMTP_TLS")]
    smtp_tls: Option<String>,
    /// User name, if the server wants one (the password only from DOSSIER_SMTP_PASSWORD or
    /// the configuration file, never a flag).
    #[arg(long, env = "DOSSIER_SMTP_USER")]
    smtp_user: Option<String>,
    /// The sender address [default: dossier at the SMTP host's name].
    #[arg(long, env = "DOSSIER_SMTP_FROM")]
    smtp_from: Option<String>,
}

#[derive(Args)]
struct PhotoHashArgs {
    /// Image files (JPEG or PNG).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print each as a STIX 2.1 `file` object (SHA-256 of the file and `x_dossier_phash`),
    /// one per line, ready to tie to a persona in a bundle.
    #[arg(long)]
    stix: bool,
}

#[derive(Args)]
struct IdHashArgs {
    /// Documents as `TYPE COUNTRY NUMBER` (quote each); none: one per line on stdin.
    documents: Vec<String>,
}

/// `dossier id-hash`: one `x-dossier-identity-document` object per document, one per line;
/// a line that is no document is named on stderr and the command fails at the end.
fn id_hash(data: &Path, args: &IdHashArgs) -> Result<()> {
    let store = open(data)?;
    let key = store.secret("id-document")?;
    let lines: Vec<String> = if args.documents.is_empty() {
        std::io::stdin().lines().collect::<std::io::Result<_>>()?
    } else {
        args.documents.clone()
    };
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for (i, l) in lines.iter().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match dossier_match::normalize::id_document::from_text(l) {
            Ok(doc) => {
                let mut v = serde_json::json!({"type": "x-dossier-identity-document", "spec_version": "2.1",
                    "document_type": doc.kind, "issuing_country": doc.country, "number_hmac": doc.hmac(&key)});
                let id = dossier_stix::id::deterministic_sco_id(
                    "x-dossier-identity-document",
                    v.as_object().context("a JSON object")?,
                )
                .context("an identity document has an id")?;
                v["id"] = serde_json::json!(id.as_str());
                writeln!(out, "{v}")?;
            }
            // The line is not repeated: it may hold a number.
            Err(e) => {
                eprintln!("document {}: {e}", i + 1);
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} document(s) could not be read");
    }
    Ok(())
}

/// `dossier photo-hash`: one line per image, `HASH  FILE` (or a STIX object); an image
/// that cannot be read is named on stderr and the command fails at the end.
fn photo_hash(args: &PhotoHashArgs) -> Result<()> {
    use sha2::Digest;
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for f in &args.files {
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                failed += 1;
                continue;
            }
        };
        match dossier_match::photo::hash_image(&bytes) {
            Ok(h) if args.stix => {
                let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
                let mut v = serde_json::json!({"type": "file", "spec_version": "2.1", "hashes": {"SHA-256": sha},
                    "x_dossier_phash": h.hex()});
                let id = dossier_stix::id::deterministic_sco_id("file", v.as_object().context("a JSON object")?)
                    .context("a file with a SHA-256 has an id")?;
                v["id"] = serde_json::json!(id.as_str());
                writeln!(out, "{v}")?;
            }
            Ok(h) => writeln!(out, "{}  {}", h.hex(), f.display())?,
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} images could not be hashed", args.files.len());
    }
    Ok(())
}

/// The configuration file's shape; unknown keys are an error, not silently ignored.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    api_root: Option<String>,
    title: Option<String>,
    max_content_length: Option<usize>,
    page_size: Option<usize>,
    request_timeout: Option<u64>,
    write_objects_per_minute: Option<u64>,
    write_bytes_per_minute: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    wal_limit: Option<u64>,
    max_connections: Option<usize>,
    batches_per_org: Option<usize>,
    batches: Option<usize>,
    idle_timeout: Option<u64>,
    jobs_per_org: Option<usize>,
    job_max_bytes: Option<u64>,
    job_retention_hours: Option<u64>,
    operative_share: Option<f64>,
    review_retention_days: Option<u64>,
    review_ref_hashed_only: Option<bool>,
    webhook_attempts: Option<u32>,
    webhook_allow_private: Option<bool>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_tls: Option<String>,
    smtp_user: Option<String>,
    smtp_password: Option<String>,
    smtp_from: Option<String>,
    watch_retention_days: Option<u64>,
    #[serde(default)]
    peers: Vec<sync_cmd::PeerConfig>,
}

impl ServeArgs {
    /// The configuration file, if one was given.
    fn file_config(&self) -> Result<FileConfig> {
        Ok(match &self.config {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("configuration file {}", p.display()))?
            }
            None => FileConfig::default(),
        })
    }

    /// Resolves flags, environment and file into the address and the server config.
    fn resolve(&self) -> Result<(String, dossier_server::Config)> {
        let file = self.file_config()?;
        let defaults = dossier_server::Config::default();
        let listen = self.listen.clone().or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
        let config = dossier_server::Config {
            api_root: self.api_root.clone().or(file.api_root).unwrap_or(defaults.api_root.clone()),
            title: self.title.clone().or(file.title).unwrap_or(defaults.title.clone()),
            max_content_length: self
                .max_content_length
                .or(file.max_content_length)
                .unwrap_or(defaults.max_content_length),
            default_page: self
                .page_size
                .or(file.page_size)
                .unwrap_or(defaults.default_page)
                .clamp(1, defaults.max_page),
            request_timeout: self
                .request_timeout
                .or(file.request_timeout)
                .map_or(defaults.request_timeout, |s| std::time::Duration::from_secs(s.max(1))),
            write_quota: dossier_server::quota::WriteQuota {
                objects_per_minute: self
                    .write_objects_per_minute
                    .or(file.write_objects_per_minute)
                    .unwrap_or(defaults.write_quota.objects_per_minute),
                bytes_per_minute: self
                    .write_bytes_per_minute
                    .or(file.write_bytes_per_minute)
                    .unwrap_or(defaults.write_quota.bytes_per_minute),
            },
            max_connections: self.max_connections.or(file.max_connections).unwrap_or(defaults.max_connections).max(1),
            batch_limits: dossier_server::quota::BatchLimits {
                per_org: self.batches_per_org.or(file.batches_per_org).unwrap_or(defaults.batch_limits.per_org).max(1),
                global: self.batches.or(file.batches).unwrap_or(defaults.batch_limits.global).max(1),
            },
            idle_timeout: self
                .idle_timeout
                .or(file.idle_timeout)
                .map_or(defaults.idle_timeout, |s| std::time::Duration::from_secs(s.max(1))),
            job_limits: dossier_server::jobs::JobLimits {
                per_org: self.jobs_per_org.or(file.jobs_per_org).unwrap_or(defaults.job_limits.per_org).max(1),
                max_bytes: self.job_max_bytes.or(file.job_max_bytes).unwrap_or(defaults.job_limits.max_bytes).max(1),
                retention: self
                    .job_retention_hours
                    .or(file.job_retention_hours)
                    .map_or(defaults.job_limits.retention, |h| std::time::Duration::from_secs(h.max(1) * 3600)),
            },
            operative_share: match self.operative_share.or(file.operative_share) {
                Some(p) if p > 0.0 && p < 1.0 => p,
                Some(p) => bail!("operative_share {p} must be above 0 and below 1"),
                None => defaults.operative_share,
            },
            review_retention: self
                .review_retention_days
                .or(file.review_retention_days)
                .map_or(defaults.review_retention, |d| std::time::Duration::from_secs(d.max(1) * 86_400)),
            review_keeps_ref: !(self.review_ref_hashed_only || file.review_ref_hashed_only.unwrap_or(false)),
            webhook_attempts: self
                .webhook_attempts
                .or(file.webhook_attempts)
                .unwrap_or(defaults.webhook_attempts)
                .clamp(1, 30),
            webhook_allow_private: self.webhook_allow_private || file.webhook_allow_private.unwrap_or(false),
            watch_retention: self
                .watch_retention_days
                .or(file.watch_retention_days)
                .map_or(defaults.watch_retention, |d| std::time::Duration::from_secs(d.max(1) * 86_400)),
            smtp: match self.smtp_host.clone().or(file.smtp_host.clone()) {
                None => None,
                Some(host) => {
                    use dossier_server::webhooks::{Smtp, SmtpTls};
                    let tls = match self.smtp_tls.clone().or(file.smtp_tls.clone()).as_deref() {
                        None | Some("starttls") => SmtpTls::Starttls,
                        Some("tls") => SmtpTls::Implicit,
                        Some("none") => SmtpTls::None,
                        Some(other) => bail!("smtp_tls {other:?}: starttls, tls or none"),
                    };
                    let port = self.smtp_port.or(file.smtp_port).unwrap_or(match tls {
                        SmtpTls::Starttls => 587,
                        SmtpTls::Implicit => 465,
                        SmtpTls::None => 25,
                    });
                    let password = std::env::var("DOSSIER_SMTP_PASSWORD").ok().or(file.smtp_password.clone());
                    let credentials = match (self.smtp_user.clone().or(file.smtp_user.clone()), password) {
                        (Some(u), Some(p)) => Some((u, p)),
                        (None, None) => None,
                        _ => bail!(
                            "smtp_user and the SMTP password (DOSSIER_SMTP_PASSWORD or smtp_password) go together"
                        ),
                    };
                    let from =
                        self.smtp_from.clone().or(file.smtp_from.clone()).unwrap_or_else(|| format!("dossier@{host}"));
                    Some(Smtp { host, port, tls, credentials, from })
                }
            },
            trusted_proxies: self
                .trusted_proxies
                .clone()
                .or(file.trusted_proxies)
                .unwrap_or_default()
                .iter()
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    dossier_match::normalize::ip::normalize(p.trim())
                        .map_err(|e| anyhow::anyhow!("trusted_proxies: {p:?} is not an address or CIDR range: {e}"))
                })
                .collect::<Result<_>>()?,
            peers: file.peers.iter().map(sync_cmd::PeerConfig::to_peer).collect::<Result<_>>()?,
            ..defaults
        };
        if config.api_root.is_empty()
            || !config.api_root.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            bail!("api_root {:?} may only hold letters, digits, '-' and '_'", config.api_root);
        }
        Ok((listen, config))
    }
}

#[derive(Args)]
struct ImportArgs {
    /// The bundle or JSON Lines file; `-` reads stdin.
    file: String,
    /// Submitting organization (default: the ISAC itself).
    #[arg(long)]
    org: Option<String>,
    /// Target collection (id, UUID or alias; default: the first collection).
    #[arg(long)]
    collection: Option<String>,
    /// Let other members see the submitting organization (default: anonymous to them).
    #[arg(long)]
    named: bool,
    /// Largest accepted object, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_object_bytes: usize,
    /// stix, misp, ofac or csv [default: detected from the file's name and content].
    #[arg(long)]
    format: Option<String>,
    /// Show what would be created, and every record that would be refused; store nothing.
    #[arg(long)]
    dry_run: bool,
    /// MISP, CSV: TLP of what says none [default: the collection's].
    #[arg(long)]
    tlp: Option<String>,
    /// MISP, CSV: confidence of what says none.
    #[arg(long, default_value_t = 50)]
    confidence: u8,
    /// MISP, CSV: region (ISO 3166 alpha-2) of phone numbers written without a country code.
    #[arg(long)]
    region: Option<String>,
    /// OFAC: keep entries whose programs contain one of these (comma-separated), or `all`.
    #[arg(long, default_value = "DPRK,CYBER")]
    programs: String,
}

#[derive(Args)]
struct ExportArgs {
    /// Only these object types (repeatable).
    #[arg(long = "type")]
    types: Vec<String>,
    /// Only this collection (id, UUID or alias).
    #[arg(long)]
    collection: Option<String>,
    /// Only objects added after this RFC 3339 timestamp (e.g. 2026-01-01T00:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// Every version, not only the latest.
    #[arg(long)]
    all_versions: bool,
    /// Leave out anything more restricted than this TLP level (e.g. `green` for a public export).
    #[arg(long)]
    max_tlp: Option<String>,
    /// `stix` (a bundle) or `misp` (one MISP event per --actor).
    #[arg(long, default_value = "stix")]
    format: String,
    /// With --format misp: the actors to export (repeatable), each with its personas and
    /// their identifiers.
    #[arg(long)]
    actor: Vec<String>,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Add a member organization (or, with --peer, one standing for another TAXII server
    /// that syncs with this one: what it pushes with its token is never pushed back to it);
    /// prints its id.
    Add {
        name: String,
        #[arg(long)]
        peer: bool,
    },
    /// List organizations (JSON Lines).
    List,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; prints its id, then the secret alone on the last line.
    Create {
        /// Organization name.
        #[arg(long)]
        org: String,
        /// admin, analyst or member.
        #[arg(long)]
        role: String,
        /// A note on what the token is for.
        #[arg(long)]
        label: Option<String>,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// Revoke a token by id.
    Revoke { id: String },
    /// List tokens (never their secrets), as JSON Lines.
    List,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from the first line of standard input (or from
    /// DOSSIER_PASSWORD), never from the command line. Prints the user's id.
    Add {
        /// The name to sign in with.
        name: String,
        /// Organization name.
        #[arg(long)]
        org: String,
        /// admin, analyst or member.
        #[arg(long)]
        role: String,
    },
    /// Disable a user by id or name (their sessions end at their next request).
    Disable { user: String },
    /// Let a disabled user sign in again.
    Enable { user: String },
    /// Give a user a new password, read like `add`'s (stdin or DOSSIER_PASSWORD). Sessions
    /// already open in a running server last until they expire (at most 24 hours): for a
    /// leaked password use the admin page, which ends them at once.
    Password { user: String },
    /// List users (never their password hashes), as JSON Lines.
    List,
}

#[derive(Subcommand)]
enum CollectionCommand {
    /// Add a collection; prints its UUID.
    Add {
        #[arg(long)]
        title: String,
        #[arg(long)]
        alias: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// TLP level given to unmarked objects.
        #[arg(long, default_value = "amber")]
        default_tlp: String,
        /// Who may read it: `members` or `analysts` (ISAC staff).
        #[arg(long, default_value = "members")]
        read: String,
        /// Who may write it: `members`, `analysts` or `nobody` (filled by import only).
        #[arg(long, default_value = "members")]
        write: String,
    },
    /// List collections (JSON Lines).
    List,
}

#[derive(Args)]
struct DemoArgs {
    /// Number of threat actors to generate.
    #[arg(long, default_value_t = 300)]
    actors: u32,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Reuse a data directory that already exists.
    #[arg(long)]
    force: bool,
    /// Prepare the data only; do not start the server.
    #[arg(long)]
    no_serve: bool,
    /// Address the demo server listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
}

/// Exit codes: 0 success, 1 failure (I/O, database), 2 bad command line (clap), 3 input
/// rejected (invalid objects; nothing was stored).
const EXIT_FAILURE: u8 = 1;
const EXIT_REJECTED: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`| head`): nothing is wrong, stop quietly.
        Err(err)
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<serde_json::Error>()
                        .is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            let rejected = err.chain().any(|c| matches!(c.downcast_ref::<StoreError>(), Some(StoreError::Rejected(_))));
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(if rejected { EXIT_REJECTED } else { EXIT_FAILURE })
        }
    }
}

/// The `--database-url` of this run, if one was given (set once, before any command runs).
static DATABASE_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Opens the store: the `--database-url` if one was given, else the embedded store in the
/// data directory `data`.
fn open(data: &Path) -> Result<Arc<dyn Store>> {
    match DATABASE_URL.get() {
        Some(url) => dossier_store::open(url).with_context(|| format!("opening {}", dossier_store::redact(url))),
        None => Ok(Arc::new(
            SqliteStore::open(data).with_context(|| format!("opening the data directory {}", data.display()))?,
        )),
    }
}

/// Records a command in the audit log, like every HTTP request (every export is
/// audited). Local commands run with the data directory's authority: no token.
pub(crate) fn audit_cli(
    store: &dyn dossier_store::AuditLog,
    org: Option<i64>,
    command: &str,
    params: String,
    returned: u64,
) -> Result<()> {
    store
        .audit(&dossier_store::AuditRecord {
            at: dossier_stix::timestamp::now_micros(),
            org,
            token: None,
            method: "CLI".into(),
            path: command.into(),
            params: (!params.is_empty()).then_some(params),
            status: 0,
            returned,
        })
        .context("writing the audit log")
}

fn parse_tlp(s: &str) -> Result<Tlp> {
    Tlp::parse(s).with_context(|| format!("unknown TLP level {s:?} (clear, green, amber, amber+strict, red)"))
}

fn run(cli: Cli) -> Result<()> {
    if let Some(url) = &cli.database_url {
        dossier_store::Location::parse(url)?;
        let _ = DATABASE_URL.set(url.clone());
    }
    match cli.command {
        Command::Import(args) => import(&cli.data, args),
        Command::Export(args) => export(&cli.data, args),
        Command::Org(cmd) => {
            let store = open(&cli.data)?;
            match cmd {
                OrgCommand::Add { name, peer } => {
                    let org = if peer { store.peer_org(&name)? } else { store.add_org(&name)? };
                    outln!("{}", org.id)?;
                }
                OrgCommand::List => {
                    for org in store.orgs()? {
                        outln!("{}", serde_json::to_string(&org)?)?;
                    }
                }
            }
            Ok(())
        }
        Command::Token(cmd) => {
            let store = open(&cli.data)?;
            match cmd {
                TokenCommand::Create { org, role, label, expires_days } => {
                    let role = Role::parse(&role)
                        .with_context(|| format!("unknown role {role:?} (admin, analyst, member)"))?;
                    let org = store.org_by_name(&org)?;
                    let expires =
                        expires_days.map(|d| dossier_stix::timestamp::now_micros() + i64::from(d) * 86_400_000_000);
                    let token = store.create_token(org.id, role, label.as_deref(), expires)?;
                    outln!("{}", token.info.id)?;
                    outln!("{}", token.secret)?;
                }
                TokenCommand::Revoke { id } => {
                    store.revoke_token(&id)?;
                    outln!("{id}")?;
                }
                TokenCommand::List => {
                    for t in store.tokens()? {
                        outln!("{}", serde_json::to_string(&t)?)?;
                    }
                }
            }
            Ok(())
        }
        Command::User(cmd) => {
            let store = open(&cli.data)?;
            match cmd {
                UserCommand::Add { name, org, role } => {
                    let role = Role::parse(&role)
                        .with_context(|| format!("unknown role {role:?} (admin, analyst, member)"))?;
                    let org = store.org_by_name(&org)?;
                    let hash = new_password_hash()?;
                    let user = store.add_user(org.id, &name, role, &hash)?;
                    outln!("{}", user.id)?;
                }
                UserCommand::Disable { user } => {
                    let found = store.user(&user)?.with_context(|| format!("no user {user:?}"))?;
                    store.disable_user(&found.id)?;
                    outln!("{}", found.id)?;
                }
                UserCommand::Enable { user } => {
                    let found = store.user(&user)?.with_context(|| format!("no user {user:?}"))?;
                    store.enable_user(&found.id)?;
                    outln!("{}", found.id)?;
                }
                UserCommand::Password { user } => {
                    let found = store.user(&user)?.with_context(|| format!("no user {user:?}"))?;
                    let hash = new_password_hash()?;
                    store.set_password(&found.id, &hash)?;
                    outln!("{}", found.id)?;
                }
                UserCommand::List => {
                    for u in store.users()? {
                        outln!("{}", serde_json::to_string(&u)?)?;
                    }
                }
            }
            Ok(())
        }
        Command::Collection(cmd) => {
            let store = open(&cli.data)?;
            match cmd {
                CollectionCommand::Add { title, alias, description, default_tlp, read, write } => {
                    let access = |s: &str| {
                        dossier_store::Access::parse(s)
                            .with_context(|| format!("unknown access {s:?} (members, analysts, nobody)"))
                    };
                    let (read, write) = (access(&read)?, access(&write)?);
                    // Checked before anything is created.
                    dossier_store::validate_access(read, write)?;
                    let c = store.add_collection(
                        &title,
                        alias.as_deref(),
                        description.as_deref(),
                        parse_tlp(&default_tlp)?,
                    )?;
                    store.set_collection_access(c.id, read, write)?;
                    outln!("{}", c.uuid)?;
                }
                CollectionCommand::List => {
                    for c in store.collections()? {
                        outln!("{}", serde_json::to_string(&c)?)?;
                    }
                }
            }
            Ok(())
        }
        Command::Generate(args) => generate::run(&args),
        Command::Evaluate(args) => evaluate::run(&args, &cli.data),
        Command::Screen(args) => screen_cmd::run(&cli.data, args),
        Command::PhotoHash(args) => photo_hash(&args),
        Command::IdHash(args) => id_hash(&cli.data, &args),
        Command::Demo(args) => demo(&cli.data, args),
        Command::Serve(args) => serve(&cli.data, *args),
        Command::Sync(args) => sync_cmd::run(&cli.data, args),
        Command::Mirror(args) => sync_cmd::mirror(&cli.data, args),
        Command::Backup(args) => store_cmd::backup(&cli.data, &args),
        Command::Restore(args) => store_cmd::restore(&cli.data, &args),
        Command::Migrate(args) => store_cmd::migrate(&args),
        Command::Audit(args) => {
            let store = open(&cli.data)?;
            let org = args.org.as_deref().map(|o| store.org_by_name(o)).transpose()?;
            let since = match &args.since {
                Some(s) => Some(
                    dossier_stix::Timestamp::parse(s).map_err(|e| anyhow::anyhow!("--since {s:?}: {e}"))?.unix_micros(),
                ),
                None => None,
            };
            let q = dossier_store::AuditQuery {
                org: org.map(|o| o.id),
                since,
                path_prefix: args.path,
                limit: args.limit,
                token: args.token,
                ..Default::default()
            };
            for r in store.audit_log(&q)? {
                let mut v = serde_json::to_value(&r)?;
                v["at"] = serde_json::json!(dossier_stix::Timestamp::from_unix_micros(r.at).as_str());
                outln!("{v}")?;
            }
            Ok(())
        }
    }
}

fn serve(data: &Path, args: ServeArgs) -> Result<()> {
    let (listen, mut config) = args.resolve()?;
    let wal_limit = args.wal_limit.or(args.file_config()?.wal_limit).unwrap_or(DEFAULT_WAL_LIMIT).max(1 << 20);
    config.index_snapshot = Some(data.join(SNAPSHOT));
    config.jobs_dir = Some(data.join("jobs"));
    let store = open(data)?;
    // A server that cannot write answers every request with an error: refuse to start.
    store.probe_write().map_err(|e| {
        let cause = match e.storage_failure() {
            Some(dossier_store::StorageFailure::Full) => "the disk is full".to_owned(),
            _ => e.to_string(),
        };
        anyhow::anyhow!(
            "the data directory {} cannot take writes: {cause}; free space or fix its permissions, then start again",
            data.display()
        )
    })?;
    // The store's upkeep in the background, so that no request pays for it inside its commit
    // (SQLite: a passive checkpoint every second, and a truncating one as soon as the
    // write-ahead log passes half its limit, checked every 100 ms, so that it stays under
    // the limit whatever the load).
    store.start_serving()?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checkpointer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::Builder::new().name("dossier-upkeep".into()).spawn(move || {
            let mut tick = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                tick += 1;
                if let Err(e) = store.upkeep(tick, wal_limit) {
                    tracing::warn!(%e, "store upkeep (WAL checkpoint) failed");
                }
            }
        })?
    };
    let state = dossier_server::AppState::new(store.clone(), config).context("starting the server")?;
    let report = state.screening().report();
    tracing::info!(
        seconds = report.seconds,
        from_snapshot = report.from_snapshot,
        objects = report.objects,
        phases = ?report.phases,
        "screening index ready"
    );
    if !report.from_snapshot {
        // Snapshot the fresh index in the background: the next start loads it.
        let state = state.clone();
        std::thread::Builder::new().name("dossier-snapshot".into()).spawn(move || {
            if let Err(e) = state.save_index_snapshot() {
                tracing::warn!(error = %e, "writing the screening index snapshot failed");
            }
        })?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let served = state.clone();
    let result = runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        eprintln!("dossier serving TAXII 2.1 at http://{addr}/taxii2/ (data {})", data.display());
        // Machine-readable: the bound address on stdout (useful with port 0).
        outln!("http://{addr}/taxii2/")?;
        dossier_server::serve(listener, served, shutdown_signal()).await.context("serving")
    });
    if let Err(e) = state.save_index_snapshot() {
        tracing::warn!(error = %e, "writing the screening index snapshot failed");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = checkpointer.join();
    // Leave a self-contained dossier.db: everything checkpointed, the log emptied.
    if let Err(e) = store.close() {
        tracing::warn!(error = %e, "emptying the write-ahead log at shutdown");
    }
    result
}

/// `dossier export --format misp --actor ID…`: each actor, its personas and their
/// identifiers (up to `--max-tlp`) as a MISP event; several actors give a JSON list.
fn export_misp(data: &Path, args: &ExportArgs) -> Result<()> {
    if args.actor.is_empty() {
        bail!("--format misp needs --actor ID (repeatable)");
    }
    let store = open(data)?;
    let max = args.max_tlp.as_deref().map(parse_tlp).transpose()?.unwrap_or(Tlp::Red);
    let latest = |ids: Vec<String>, types: Vec<String>| -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        let query = Query { ids, types, max_tlp: Some(max), ..Query::default() };
        let mut seen = std::collections::HashSet::new();
        store.scan_raw(&query, &mut |e| {
            if seen.insert(e.id.to_owned())
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(e.json)
                && v["revoked"] != serde_json::json!(true)
            {
                out.push(v);
            }
            true
        })?;
        Ok(out)
    };
    let relationships = latest(Vec::new(), vec!["relationship".into()])?;
    let now = dossier_stix::Timestamp::from_unix_micros(dossier_stix::timestamp::now_micros()).as_str().to_owned();
    let mut events = Vec::new();
    for actor in &args.actor {
        let personas: Vec<String> = relationships
            .iter()
            .filter(|r| r["relationship_type"] == "attributed-to" && r["target_ref"] == actor.as_str())
            .filter_map(|r| r["source_ref"].as_str().map(str::to_owned))
            .collect();
        let ties: Vec<&serde_json::Value> = relationships
            .iter()
            .filter(|r| {
                (r["relationship_type"] == "attributed-to" && r["target_ref"] == actor.as_str())
                    || (r["relationship_type"] == "related-to"
                        && r["source_ref"].as_str().is_some_and(|s| personas.iter().any(|p| p == s)))
            })
            .collect();
        let mut ids: Vec<String> = vec![actor.clone()];
        ids.extend(personas.iter().cloned());
        ids.extend(ties.iter().filter_map(|r| r["target_ref"].as_str().map(str::to_owned)));
        let mut objects = latest(ids, Vec::new())?;
        if !objects.iter().any(|o| o["id"] == actor.as_str()) {
            bail!("no actor {actor} (or it is above --max-tlp)");
        }
        objects.extend(ties.into_iter().cloned());
        events.push(dossier_import::misp::export_event(actor, &objects, &now)?);
    }
    let out = if events.len() == 1 { events.remove(0) } else { serde_json::Value::Array(events) };
    outln!("{}", serde_json::to_string_pretty(&out)?)?;
    Ok(())
}

/// The write-ahead log's default bound under sustained writes.
const DEFAULT_WAL_LIMIT: u64 = 256 * 1024 * 1024;

/// The screening index snapshot in a data directory.
pub(crate) const SNAPSHOT: &str = "screening.snapshot";

/// Resolves on SIGINT or SIGTERM; the server then stops accepting and lets in-flight
/// requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    eprintln!("shutting down: finishing in-flight requests");
}

fn import(data: &Path, args: ImportArgs) -> Result<()> {
    let store = open(data)?;
    let org = match &args.org {
        Some(name) => store.org_by_name(name)?,
        None => store.isac()?,
    };
    let collection = match &args.collection {
        Some(key) => store.collection(key)?,
        None => store.default_collection()?,
    };
    let given = match &args.format {
        Some(f) => {
            Some(dossier_import::Format::parse(f).with_context(|| format!("--format {f:?}: stix, misp, ofac or csv"))?)
        }
        None => None,
    };
    let source = formats::Source::of(&args.file)?;
    let format = match (&source, given) {
        // A STIX file streams as before; only other formats are converted in memory.
        (formats::Source::File(_), Some(dossier_import::Format::Stix)) => dossier_import::Format::Stix,
        (s, g) => s.format(g)?,
    };
    if format != dossier_import::Format::Stix {
        return import_converted(store.as_ref(), &args, &org, &collection, &source, format);
    }
    if args.dry_run {
        bail!(
            "--dry-run is for MISP, OFAC and CSV inputs (a STIX import is validated whole and stores nothing when anything is invalid)"
        );
    }
    if let formats::Source::Stdin(bytes) = source {
        return import_stix(store.as_ref(), &args, &org, &collection, Box::new(std::io::Cursor::new(bytes)), None);
    }
    if matches!(source, formats::Source::Url(_) | formats::Source::Dir(_)) {
        bail!("a STIX bundle is imported from a file or stdin");
    }
    let f = std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file))?;
    let size = f.metadata().ok().map(|m| m.len());
    import_stix(store.as_ref(), &args, &org, &collection, Box::new(f), size)
}

/// `dossier import --format misp|ofac|csv`: converted, previewed or stored at once.
fn import_converted(
    store: &dyn Store,
    args: &ImportArgs,
    org: &dossier_store::Org,
    collection: &dossier_store::Collection,
    source: &formats::Source,
    format: dossier_import::Format,
) -> Result<()> {
    let key = formats::id_key(store)?;
    let programs: Vec<String> = if args.programs.trim().eq_ignore_ascii_case("all") {
        Vec::new()
    } else {
        args.programs.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
    };
    let scope = dossier_import::scope(&key, &org.identity_id);
    let settings = formats::Settings {
        by: (args.named || org.isac).then_some(org.identity_id.as_str()),
        scope: &scope,
        tlp: args.tlp.as_deref().map(parse_tlp).transpose()?.unwrap_or(collection.default_tlp),
        confidence: args.confidence.min(100),
        region: args.region.as_deref(),
        programs,
        id_key: &key,
        now: dossier_stix::Timestamp::from_unix_micros(dossier_stix::timestamp::now_micros()).as_str().to_owned(),
    };
    let converted = formats::convert(store, source, format, &settings)?;
    for r in &converted.refused {
        eprintln!("refused {}: {}", r.at, r.reason);
    }
    for n in &converted.notes {
        eprintln!("note: {n}");
    }
    if args.dry_run {
        let out = serde_json::json!({
            "format": format, "dry_run": true, "would_create": converted.counts(),
            "objects": converted.objects.len(), "revoked": converted.revoked, "refused": converted.refused,
            "notes": converted.notes,
        });
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(());
    }
    let started = std::time::Instant::now();
    let submission =
        dossier_store::Submission { org: org.id, collection: collection.id, named: args.named, curator: org.isac };
    let (summary, left_out) = formats::store(store, &submission, &converted)
        .with_context(|| format!("importing {} as {format:?}", args.file))?;
    for why in &left_out {
        eprintln!("left out {why}");
    }
    let secs = started.elapsed().as_secs_f64();
    audit_cli(
        store,
        Some(org.id),
        "import",
        format!("file={} format={} collection={}", args.file, serde_json::to_string(&format)?, collection.uuid),
        summary.total(),
    )?;
    eprintln!(
        "imported {} objects in {secs:.2}s: {} added, {} updated, {} history, {} unchanged; {} refused, {} left out, {} revoked (org {}, collection {})",
        summary.total(),
        summary.added,
        summary.updated,
        summary.history,
        summary.unchanged,
        converted.refused.len(),
        left_out.len(),
        converted.revoked.len(),
        org.name,
        collection.alias.as_deref().unwrap_or(&collection.uuid)
    );
    let out = serde_json::json!({
        "format": format, "added": summary.added, "updated": summary.updated, "history": summary.history,
        "unchanged": summary.unchanged, "objects": summary.total(), "refused": converted.refused.len(),
        "left_out": left_out.len(),
        "revoked": converted.revoked.len(), "seconds": secs,
    });
    outln!("{out}")?;
    Ok(())
}

fn import_stix(
    store: &dyn Store,
    args: &ImportArgs,
    org: &dossier_store::Org,
    collection: &dossier_store::Collection,
    reader: Box<dyn std::io::Read + Send>,
    size: Option<u64>,
) -> Result<()> {
    let limits = dossier_stix::split::Limits { max_object_bytes: args.max_object_bytes, ..Default::default() };
    let bar = pipeline::progress_bar(size);
    let started = std::time::Instant::now();
    let submission =
        dossier_store::Submission { org: org.id, collection: collection.id, named: args.named, curator: org.isac };
    let summary = pipeline::import(store, &submission, reader, limits, bar.clone())
        .with_context(|| format!("importing {}", if args.file == "-" { "stdin" } else { &args.file }))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    audit_cli(
        store,
        Some(org.id),
        "import",
        format!("file={} collection={}", args.file, collection.uuid),
        summary.total(),
    )?;
    eprintln!(
        "imported {} objects in {secs:.2}s: {} added, {} updated, {} history, {} unchanged (org {}, collection {})",
        summary.total(),
        summary.added,
        summary.updated,
        summary.history,
        summary.unchanged,
        org.name,
        collection.alias.as_deref().unwrap_or(&collection.uuid)
    );
    let out = serde_json::json!({
        "added": summary.added, "updated": summary.updated, "history": summary.history,
        "unchanged": summary.unchanged, "objects": summary.total(), "seconds": secs,
    });
    outln!("{out}")?;
    Ok(())
}

fn export(data: &Path, args: ExportArgs) -> Result<()> {
    match args.format.as_str() {
        "stix" => {}
        "misp" => return export_misp(data, &args),
        other => bail!("--format {other:?}: stix or misp"),
    }
    let store = open(data)?;
    store.stream_reads()?;
    let collection = args.collection.as_deref().map(|c| store.collection(c)).transpose()?;
    let added_after = match &args.since {
        Some(s) => Some(
            dossier_stix::Timestamp::parse(s).map_err(|e| anyhow::anyhow!("--since {s:?}: {e}"))?.unix_micros() - 1,
        ),
        None => None,
    };
    let query = Query {
        collection: collection.map(|c| c.id),
        types: args.types,
        versions: vec![if args.all_versions { Versions::All } else { Versions::Latest }],
        added_after,
        max_tlp: args.max_tlp.as_deref().map(parse_tlp).transpose()?,
        ..Query::default()
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    write!(out, "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[", uuid::Uuid::new_v4())?;
    let mut first = true;
    let mut io_err = None;
    let mut n = 0u64;
    store.scan(&query, &mut |entry| {
        let sep: &[u8] = if first { b"\n" } else { b",\n" };
        first = false;
        n += 1;
        match out.write_all(sep).and_then(|()| out.write_all(entry.json.as_bytes())) {
            Ok(()) => true,
            Err(e) => {
                io_err = Some(e);
                false
            }
        }
    })?;
    if let Some(e) = io_err {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(());
        }
        return Err(e).context("writing the bundle to stdout");
    }
    out.write_all(b"\n]}\n")?;
    out.flush()?;
    let params = format!(
        "types={} collection={} since={} all_versions={} max_tlp={}",
        query.types.join(","),
        args.collection.as_deref().unwrap_or("*"),
        args.since.as_deref().unwrap_or("-"),
        args.all_versions,
        args.max_tlp.as_deref().unwrap_or("-")
    );
    audit_cli(store.as_ref(), None, "export", params, n)?;
    if std::io::stderr().is_terminal() {
        eprintln!("exported {n} objects");
    }
    Ok(())
}

fn demo(data: &Path, args: DemoArgs) -> Result<()> {
    if data.join("dossier.db").exists() && !args.force {
        bail!("{} already holds a data directory; pass --force to reuse it or --data DIR for another", data.display());
    }
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let bundle = data.join("demo-bundle.json");
    let applicants = data.join("demo-applicants.jsonl");
    let truth = data.join("demo-truth.jsonl");
    eprintln!("generating {} actors (seed {}) …", args.actors, args.seed);
    // The store first: the personas' passports are drawn hashed under its key.
    let store = open(data)?;
    let stats = generate::run(&generate::GenerateArgs {
        actors: args.actors,
        seed: args.seed,
        out: bundle.display().to_string(),
        applicants: 1000,
        applicants_out: Some(applicants.clone()),
        truth_out: Some(truth.clone()),
        operative_share: 0.05,
        id_key: Some(store.secret("id-document")?),
    });
    stats?;
    let mut orgs = Vec::new();
    for name in ["Example Exchange", "Example Wallet", "Example Recruiters"] {
        match store.add_org(name) {
            Ok(o) => orgs.push(o),
            Err(StoreError::Conflict(_)) => orgs.push(store.org_by_name(name)?),
            Err(e) => return Err(e.into()),
        }
    }
    let isac = store.isac()?;
    let summary = pipeline::import_generated(store.as_ref(), &bundle)?;
    let admin = store.create_token(isac.id, Role::Admin, Some("demo admin"), None)?;
    let member = store.create_token(orgs[0].id, Role::Member, Some("demo member"), None)?;
    // A web user for the browser, with a fresh random password.
    let mut raw = [0u8; 9];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let password: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let hash = dossier_server::hash_password(&password).map_err(anyhow::Error::msg)?;
    let web_login = match store.user("analyst")? {
        Some(u) => format!("user {:?} (its password is unchanged)", u.name),
        None => {
            let u = store.add_user(isac.id, "analyst", Role::Admin, &hash)?;
            format!("user {:?} with password {password} (shown once)", u.name)
        }
    };
    let (versions, ids) = store.counts()?;
    let data_arg = data.display();
    let apps = applicants.display();
    eprintln!(
        "\ndemo data ready in {data_arg}: {} objects imported ({versions} versions of {ids} objects stored)\n\
         \n  organizations: ISAC, {}\n  applicants to screen: {}\n  ground truth:         {}\n\
         \nnext:\n  dossier --data {data_arg} serve\n  dossier --data {data_arg} screen {apps}\n  dossier --data {data_arg} export --type threat-actor | head\n  dossier --data {data_arg} audit\n\
         \nweb interface: sign in as {web_login}, or with a token\
         \nmember token for {} (shown once): {}\nadmin token for ISAC (shown once, also on stdout):",
        summary.total(),
        orgs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", "),
        applicants.display(),
        truth.display(),
        orgs[0].name,
        member.secret,
    );
    outln!("{}", admin.secret)?;
    if args.no_serve {
        return Ok(());
    }
    drop(store);
    eprintln!(
        "\nstarting the server; open http://{1}/ in a browser, or try:\n  curl -u 'ISAC:{0}' http://{1}/taxii2/\n  curl -u 'ISAC:{0}' -H 'Content-Type: application/json' -d '{{\"ref\": \"a1\", \"names\": [\"Kim Chol-su\"]}}' http://{1}/api/v1/screen\n(Ctrl-C stops it)",
        admin.secret, args.listen
    );
    serve(data, ServeArgs { listen: Some(args.listen), ..ServeArgs::default() })
}

/// Reads a new password from DOSSIER_PASSWORD or the first line of standard input (never
/// from the command line, where other users of the machine could read it), checks its
/// length and hashes it.
fn new_password_hash() -> Result<String> {
    let password = match std::env::var("DOSSIER_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if let Some(problem) = dossier_server::password_problem(&password) {
        bail!("{problem}");
    }
    dossier_server::hash_password(&password).map_err(anyhow::Error::msg)
}
