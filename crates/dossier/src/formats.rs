//! `dossier import --format misp|ofac|csv`: other formats converted to STIX by
//! `dossier_import`, previewed (`--dry-run`) or stored through the store's one import path.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use dossier_import::{Converted, Format};
use dossier_stix::{StixObject, Tlp};
use dossier_store::{Query, Store, Submission, Versions};

/// The largest input read into memory for a conversion (a MISP feed's event, an SDN list).
const MAX_INPUT: usize = 512 * 1024 * 1024;

/// What to convert: a file, a directory (an SDN list's files, a MISP feed), stdin or a URL.
pub enum Source {
    Stdin(Vec<u8>),
    File(PathBuf),
    Dir(PathBuf),
    Url(String),
}

impl Source {
    pub fn of(arg: &str) -> Result<Source> {
        if arg == "-" {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf).context("reading stdin")?;
            return Ok(Source::Stdin(buf));
        }
        if arg.starts_with("http://") || arg.starts_with("https://") {
            return Ok(Source::Url(arg.to_owned()));
        }
        let p = PathBuf::from(arg);
        if p.is_dir() { Ok(Source::Dir(p)) } else { Ok(Source::File(p)) }
    }

    /// The format, as given or detected.
    pub fn format(&self, given: Option<Format>) -> Result<Format> {
        if let Some(f) = given {
            return Ok(f);
        }
        let detected = match self {
            Source::Stdin(b) => Format::detect("-", b),
            Source::File(p) => {
                let mut head = vec![0u8; 4096];
                let n = std::fs::File::open(p)
                    .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
                    .with_context(|| format!("opening {}", p.display()))?;
                head.truncate(n);
                Format::detect(&p.to_string_lossy(), &head)
            }
            Source::Dir(p) if p.join("sdn.csv").exists() || p.join("SDN.CSV").exists() => Some(Format::Ofac),
            Source::Dir(p) if p.join("manifest.json").exists() => Some(Format::Misp),
            Source::Dir(_) => None,
            Source::Url(u) if u.ends_with("manifest.json") || u.ends_with('/') => Some(Format::Misp),
            Source::Url(_) => None,
        };
        detected.context("cannot tell the input's format: give --format stix, misp, ofac or csv")
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("opening {}", path.display()))?;
    if meta.len() > MAX_INPUT as u64 {
        bail!("{} is larger than {} MiB", path.display(), MAX_INPUT >> 20);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// A file in `dir` by name, whatever its case.
fn sibling(dir: &Path, name: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.eq_ignore_ascii_case(name)))
}

fn fetch(url: &str) -> Result<Vec<u8>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(dossier_server::fetch(url, MAX_INPUT)).map_err(|e| anyhow::anyhow!(e))
}

/// Settings of a conversion.
pub struct Settings<'a> {
    pub by: Option<&'a str>,
    /// See [`dossier_import::scope`].
    pub scope: &'a str,
    pub tlp: Tlp,
    pub confidence: u8,
    pub region: Option<&'a str>,
    pub programs: Vec<String>,
    pub id_key: &'a [u8],
    pub now: String,
}

/// The latest version of every object earlier SDN imports made.
fn previous_sdn(store: &dyn Store) -> Result<Vec<serde_json::Value>> {
    let ofac = dossier_import::ofac::ofac_identity();
    let needle = format!("\"created_by_ref\":\"{ofac}\"");
    let mut out = Vec::new();
    let query = Query {
        types: ["threat-actor", "identity", "relationship", "location"].map(str::to_owned).to_vec(),
        versions: vec![Versions::Latest],
        ..Default::default()
    };
    let mut seen = std::collections::HashSet::new();
    store.scan_raw(&query, &mut |e| {
        if e.json.contains(&needle)
            && seen.insert(e.id.to_owned())
            && let Ok(v) = serde_json::from_str(e.json)
        {
            out.push(v);
        }
        true
    })?;
    Ok(out)
}

/// Converts the source.
pub fn convert(store: &dyn Store, source: &Source, format: Format, s: &Settings<'_>) -> Result<Converted> {
    Ok(match format {
        Format::Stix => bail!("STIX is imported as it is, not converted"),
        Format::Csv => {
            let bytes = match source {
                Source::Stdin(b) => b.clone(),
                Source::File(p) => read(p)?,
                _ => bail!("a CSV of identifiers is one file"),
            };
            let opts = dossier_import::csv_ids::Options {
                by: s.by,
                scope: s.scope,
                tlp: s.tlp,
                confidence: s.confidence,
                region: s.region,
                id_key: s.id_key,
                now: &s.now,
            };
            dossier_import::csv_ids::convert(bytes.as_slice(), &opts)?
        }
        Format::Ofac => {
            let (dir, sdn) = match source {
                Source::Dir(d) => {
                    let sdn = sibling(d, "sdn.csv").with_context(|| format!("no sdn.csv in {}", d.display()))?;
                    (d.clone(), sdn)
                }
                Source::File(p) => (p.parent().map(Path::to_path_buf).unwrap_or_default(), p.clone()),
                _ => bail!("the SDN list is read from its files: give sdn.csv or its directory"),
            };
            let sdn = read(&sdn)?;
            let side = |name: &str| sibling(&dir, name).map(|p| read(&p)).transpose();
            let (add, alt, comments) = (side("add.csv")?, side("alt.csv")?, side("sdn_comments.csv")?);
            let previous = previous_sdn(store)?;
            let files = dossier_import::ofac::Files {
                sdn: &sdn,
                add: add.as_deref(),
                alt: alt.as_deref(),
                comments: comments.as_deref(),
            };
            let opts = dossier_import::ofac::Options { programs: &s.programs, now: &s.now, previous: &previous };
            let mut out = dossier_import::ofac::convert(&files, &opts)?;
            let found: Vec<&str> =
                [("add.csv", add.is_some()), ("alt.csv", alt.is_some()), ("sdn_comments.csv", comments.is_some())]
                    .iter()
                    .filter(|(_, f)| !f)
                    .map(|(n, _)| *n)
                    .collect();
            if !found.is_empty() {
                out.notes.push(format!("not found beside sdn.csv (left out): {}", found.join(", ")));
            }
            out
        }
        Format::Misp => {
            let events = match source {
                Source::Stdin(b) => dossier_import::misp::events(b)?,
                Source::File(p) => dossier_import::misp::events(&read(p)?)?,
                Source::Dir(d) => {
                    let mut events = Vec::new();
                    for uuid in dossier_import::misp::manifest(&read(&d.join("manifest.json"))?)? {
                        events.extend(dossier_import::misp::events(&read(&d.join(format!("{uuid}.json")))?)?);
                    }
                    events
                }
                Source::Url(u) => {
                    let base = u.trim_end_matches("manifest.json").trim_end_matches('/');
                    let mut events = Vec::new();
                    for uuid in dossier_import::misp::manifest(&fetch(&format!("{base}/manifest.json"))?)? {
                        events.extend(dossier_import::misp::events(&fetch(&format!("{base}/{uuid}.json"))?)?);
                    }
                    events
                }
            };
            let opts = dossier_import::misp::Options {
                tlp: s.tlp,
                confidence: s.confidence,
                region: s.region,
                id_key: s.id_key,
                now: &s.now,
            };
            dossier_import::misp::convert(&events, &opts)
        }
    })
}

/// Stores converted objects in one transaction, leaving out those the store refuses (e.g.
/// another organization's object of the same id); returns the summary and those left out.
pub fn store(
    store: &dyn Store,
    sub: &Submission,
    converted: &Converted,
) -> Result<(dossier_store::ImportSummary, Vec<String>)> {
    let mut records = Vec::with_capacity(converted.objects.len());
    for o in &converted.objects {
        match StixObject::parse(o.to_string().as_bytes()) {
            Ok(obj) => records.push(obj.into_record()),
            Err(problems) => bail!(
                "the conversion made an invalid object {}: {}",
                o["id"].as_str().unwrap_or("?"),
                problems.iter().map(|p| format!("{}: {}", p.path, p.reason)).collect::<Vec<_>>().join("; ")
            ),
        }
    }
    let (summary, refused) = dossier_store::import_leaving_out(store, sub, &records)?;
    Ok((
        summary,
        refused
            .into_iter()
            .map(|(i, why)| format!("{}: {why}", records.get(i).map(|r| r.id.to_string()).unwrap_or_default()))
            .collect(),
    ))
}

/// The installation's key for identity-document hashes.
pub fn id_key(store: &dyn Store) -> Result<Vec<u8>> {
    Ok(store.secret("id-document")?)
}
