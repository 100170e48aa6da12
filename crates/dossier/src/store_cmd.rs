//! `dossier backup`, `dossier restore` and `dossier migrate`: whole-store copies between
//! backends, checked row by row and by a checksum of every object's JSON.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use dossier_store::{Copied, ObjectStore, SqliteStore};

#[derive(Args)]
pub struct BackupArgs {
    /// The backup file to write (must not exist): a self-contained SQLite database that
    /// `dossier restore` brings back into any backend.
    pub file: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A file written by `dossier backup` (or a stopped data directory's `dossier.db`).
    pub file: PathBuf,
}

#[derive(Args)]
pub struct MigrateArgs {
    /// The store to copy from: `sqlite:PATH` (a data directory) or `postgres://…`.
    #[arg(long)]
    pub from: String,
    /// The store to copy into, which must be new (no members, tokens, users or audit
    /// records yet): `sqlite:PATH` or `postgres://…`.
    #[arg(long)]
    pub to: String,
}

/// `dossier backup FILE`: a consistent copy of everything while the store keeps serving.
pub fn backup(data: &Path, args: &BackupArgs) -> Result<()> {
    if args.file.exists() {
        bail!("{} exists already: a backup never overwrites a file", args.file.display());
    }
    let store = crate::open(data)?;
    store.backup(&args.file).with_context(|| format!("writing the backup {}", args.file.display()))?;
    // Check what was written: it opens, and holds as many objects as the store did then.
    let (written, _scratch) = open_copy(&args.file)?;
    let (versions, objects) = written.counts()?;
    report("backup", &store.location(), &args.file.display().to_string(), None, Some((versions, objects)))
}

/// `dossier restore FILE`: loads a backup into the (new) store.
pub fn restore(data: &Path, args: &RestoreArgs) -> Result<()> {
    let (source, _scratch) = open_copy(&args.file)?;
    let target = crate::open(data)?;
    let copied = dossier_store::copy(&source, target.as_ref())
        .with_context(|| format!("restoring {} into {}", args.file.display(), target.location()))?;
    report("restore", &args.file.display().to_string(), &target.location(), Some(&copied), None)
}

/// `dossier migrate --from URL --to URL`.
pub fn migrate(args: &MigrateArgs) -> Result<()> {
    let from =
        dossier_store::open(&args.from).with_context(|| format!("opening {}", dossier_store::redact(&args.from)))?;
    let to = dossier_store::open(&args.to).with_context(|| format!("opening {}", dossier_store::redact(&args.to)))?;
    if from.location() == to.location() {
        bail!("--from and --to are the same store");
    }
    let copied = dossier_store::copy(from.as_ref(), to.as_ref())
        .with_context(|| format!("copying {} into {}", from.location(), to.location()))?;
    report("migrate", &from.location(), &to.location(), Some(&copied), None)
}

/// A backup file opened as a store of its own, without changing it: a copy in a scratch
/// directory (opening migrates an older schema, which must not touch the backup).
fn open_copy(file: &Path) -> Result<(SqliteStore, tempfile::TempDir)> {
    let meta = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", file.display());
    }
    let mut head = [0u8; 16];
    use std::io::Read;
    let n = std::fs::File::open(file)
        .and_then(|mut f| f.read(&mut head))
        .with_context(|| format!("reading {}", file.display()))?;
    if n < 16 || &head != b"SQLite format 3\0" {
        bail!("{} is not a dossier backup (not an SQLite database file)", file.display());
    }
    let scratch = tempfile::tempdir().context("making a scratch directory")?;
    let copy = scratch.path().join("backup.db");
    std::fs::copy(file, &copy).with_context(|| format!("copying {}", file.display()))?;
    let store = SqliteStore::open_file(&copy).with_context(|| format!("opening the backup {}", file.display()))?;
    Ok((store, scratch))
}

/// One JSON line: what was copied where, how many object versions (and, for a backup,
/// distinct objects), and for a checked copy its rows and fingerprint.
fn report(what: &str, from: &str, to: &str, copied: Option<&Copied>, counts: Option<(u64, u64)>) -> Result<()> {
    let mut line = serde_json::json!({ "command": what, "from": from, "to": to });
    if let Some((versions, objects)) = counts {
        line["object_versions"] = versions.into();
        line["objects"] = objects.into();
    }
    if let Some(c) = copied {
        line["rows"] = c.rows.into();
        line["object_versions"] = c.fingerprint.rows.get("objects").copied().unwrap_or(0).into();
        line["verified"] = serde_json::to_value(&c.fingerprint)?;
    }
    outln!("{line}")?;
    Ok(())
}
