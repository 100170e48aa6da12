//! `dossier screen FILE|-`: screens applicants (JSON Lines or CSV) against the local data
//! directory, or against a running server with `--server URL --token T`. Results go to
//! stdout as JSON Lines in input order; a progress bar and a summary table go to stderr.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Args;
use dossier_match::screen::{Limits, Options};
use dossier_server::screening::Screener;
use dossier_server::screening::batch::{self, Format, Outcome};
use dossier_stix::{Role, Viewer};

use crate::pipeline;

#[derive(Args)]
pub struct ScreenArgs {
    /// JSON Lines or CSV file of applicants (`-` for stdin).
    pub file: String,
    /// Input format [default: JSON Lines when the input starts with `{`, else CSV].
    #[arg(long, value_parser = ["jsonl", "csv"])]
    pub format: Option<String>,
    /// Screen against a running dossier server (http://host:port) instead of the local data.
    #[arg(long)]
    pub server: Option<String>,
    /// API token for --server.
    #[arg(long, env = "DOSSIER_TOKEN")]
    pub token: Option<String>,
    /// Local mode: screen as a member of this organization (sees only what it may see)
    /// instead of as an ISAC analyst.
    #[arg(long)]
    pub org: Option<String>,
    /// Worker threads [default: the number of cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Region for national phone numbers when an applicant's data gives none.
    #[arg(long, default_value = "US")]
    pub default_region: String,
    /// Local mode: the share of screened applicants you expect to be operatives, the prior
    /// of every score (0 < share < 1).
    #[arg(long, default_value_t = 0.001)]
    pub operative_share: f64,
    /// CSV: read column COLUMN as FIELD (`--map 'Candidate=ref' --map 'Handle=account:telegram'`);
    /// fields: ref, names, emails, phones, accounts, wallets, bank_accounts, websites, addresses, photos, ips,
    /// resume_text, documents, region, first_name, middle_name, last_name, chain, website,
    /// bank_code, account:PLATFORM, ignore.
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub map: Vec<String>,
}

/// The `--map` pairs, checked.
pub fn mappings(map: &[String]) -> Result<Vec<(String, String)>> {
    map.iter()
        .map(|m| {
            let (column, field) =
                m.split_once('=').with_context(|| format!("--map {m:?}: write it as COLUMN=FIELD"))?;
            dossier_match::screen::input::parse_target(field).map_err(|e| anyhow::anyhow!("--map {m:?}: {e}"))?;
            Ok((column.trim().to_owned(), field.trim().to_owned()))
        })
        .collect()
}

fn format_of(args: &ScreenArgs) -> Option<Format> {
    match args.format.as_deref() {
        Some("csv") => Some(Format::Csv),
        Some("jsonl") => Some(Format::JsonLines),
        _ => None,
    }
}

fn input(file: &str) -> Result<(Box<dyn BufRead + Send>, Option<u64>)> {
    if file == "-" {
        return Ok((Box::new(std::io::BufReader::with_capacity(1 << 16, std::io::stdin())), None));
    }
    let f = std::fs::File::open(file).with_context(|| format!("opening {file}"))?;
    let size = f.metadata().ok().map(|m| m.len());
    Ok((Box::new(std::io::BufReader::with_capacity(1 << 16, f)), size))
}

pub fn summary(outcome: &Outcome, secs: f64) {
    let total = outcome.screened + outcome.errors;
    eprintln!(
        "\n  decision   count\n  match    {:>7}\n  review   {:>7}\n  clear    {:>7}\n  errors   {:>7}\n  total    {:>7}   ({:.2}s, {:.0} records/s)",
        outcome.matched,
        outcome.review,
        outcome.clear,
        outcome.errors,
        total,
        secs,
        total as f64 / secs.max(1e-9)
    );
}

pub fn run(data: &Path, args: ScreenArgs) -> Result<()> {
    if let Some(server) = &args.server {
        let token = args.token.as_deref().context("--server needs --token (or DOSSIER_TOKEN)")?;
        return crate::client::screen_remote(server, token, &args.file, format_of(&args), &mappings(&args.map)?);
    }
    let store = crate::open(data)?;
    let viewer = match &args.org {
        Some(name) => {
            let org = store.org_by_name(name)?;
            Viewer { org: org.id, role: Role::Member, isac: org.isac }
        }
        None => Viewer { org: store.isac()?.id, role: Role::Analyst, isac: true },
    };
    let started = std::time::Instant::now();
    if !(args.operative_share > 0.0 && args.operative_share < 1.0) {
        anyhow::bail!("--operative-share {} must be above 0 and below 1", args.operative_share);
    }
    let options = Options {
        id_document_key: Some(store.secret("id-document")?.as_slice().into()),
        default_region: Some(args.default_region.clone()),
        prior_log_odds: dossier_match::screen::score::prior_log_odds(args.operative_share),
        ..Options::default()
    };
    // The same keyed value hashes as the server's, so that both share one snapshot.
    dossier_match::screen::set_hash_key(&store.secret("index-key")?);
    let tag = dossier_server::screening::snapshot_tag(store.as_ref())?;
    let snapshot = data.join(crate::SNAPSHOT);
    let screener =
        Screener::open(store.as_ref(), &tag, options, Some(&snapshot)).context("building the screening index")?;
    if !screener.report().from_snapshot
        && let Err(e) = screener.save(&tag, &snapshot)
    {
        tracing::warn!(error = %e, "writing the screening index snapshot failed");
    }
    if std::io::stderr().is_terminal() {
        let r = screener.report();
        eprintln!("screening index: {} objects in {:.2}s", r.objects, r.seconds);
    }
    let (reader, size) = input(&args.file)?;
    let bar = pipeline::progress_bar(size);
    let counting = CountingReader { inner: reader, bar: bar.clone() };
    let opened = batch::open(Box::new(counting), format_of(&args), Limits::default(), &mappings(&args.map)?)
        .with_context(|| format!("reading {}", args.file))?;
    for note in &opened.notes {
        bar.suspend(|| eprintln!("note: {note}"));
    }
    let records = opened.records;
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut outcome = Outcome::default();
    let mut chunk = Vec::with_capacity(batch::CHUNK);
    let mut buf = Vec::with_capacity(1 << 20);
    let screen_started = std::time::Instant::now();
    let mut records = records.peekable();
    while records.peek().is_some() {
        chunk.clear();
        while chunk.len() < batch::CHUNK {
            match records.next() {
                Some(r) => chunk.push(r.with_context(|| format!("reading {}", args.file))?),
                None => break,
            }
        }
        buf.clear();
        batch::screen_chunk(&screener, &viewer, &chunk, &screener.options, threads, &mut outcome, &mut buf, &|_, _| ());
        match out.write_all(&buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            r => r.context("writing results")?,
        }
    }
    out.flush()?;
    bar.finish_and_clear();
    let secs = screen_started.elapsed().as_secs_f64();
    crate::audit_cli(
        store.as_ref(),
        Some(viewer.org),
        "screen",
        format!("file={} records={}", args.file, outcome.screened + outcome.errors),
        outcome.screened,
    )?;
    summary(&outcome, secs);
    if std::io::stderr().is_terminal() {
        eprintln!("  (with index build: {:.2}s)", started.elapsed().as_secs_f64());
    }
    if outcome.screened == 0 && outcome.errors > 0 {
        bail!("no record could be screened ({} errors)", outcome.errors);
    }
    Ok(())
}

/// Advances the progress bar as bytes are read.
struct CountingReader {
    inner: Box<dyn BufRead + Send>,
    bar: indicatif::ProgressBar,
}

impl std::io::Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

impl BufRead for CountingReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.bar.inc(amt as u64);
        self.inner.consume(amt);
    }
}
