//! The import pipeline: one thread reads, splits, parses and validates; the calling thread
//! writes to the store. Bounded channels keep memory flat whatever the input size.

use std::io::{IsTerminal, Read};
use std::sync::mpsc::sync_channel;

use anyhow::Result;
use dossier_stix::StixObject;
use dossier_stix::split::{Limits, Splitter};
use dossier_store::{ImportSummary, Item, ObjectStore, Submission};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const BATCH: usize = 512;
const CHUNK: usize = 1 << 20;

/// A byte progress bar on stderr when it is a terminal, hidden otherwise.
pub fn progress_bar(total: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn parse(raw: dossier_stix::split::RawObject) -> Item {
    match StixObject::parse(&raw.bytes) {
        Ok(object) => Item::Valid { index: raw.index, line: raw.line, object: object.into_record() },
        Err(problems) => Item::Invalid { index: raw.index, line: raw.line, problems },
    }
}

/// Reads `reader` to the end and imports everything in it atomically.
pub fn import(
    store: &dyn ObjectStore,
    submission: &Submission,
    mut reader: Box<dyn Read + Send>,
    limits: Limits,
    bar: ProgressBar,
) -> Result<ImportSummary> {
    let (tx, rx) = sync_channel::<Vec<Item>>(16);
    let producer = std::thread::Builder::new().name("dossier-reader".into()).spawn(move || {
        let mut splitter = Splitter::new(limits);
        let mut buf = vec![0u8; CHUNK];
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    batch.push(Item::Broken(format!("reading the input failed: {e}")));
                    let _ = tx.send(batch);
                    return;
                }
            };
            bar.inc(n as u64);
            let mut pending = Vec::new();
            let r = splitter.feed(&buf[..n], &mut |raw| pending.push(raw));
            for raw in pending {
                batch.push(parse(raw));
                if batch.len() >= BATCH && tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).is_err() {
                    return;
                }
            }
            if let Err(e) = r {
                batch.push(Item::Broken(e.to_string()));
                let _ = tx.send(batch);
                return;
            }
        }
        if let Err(e) = splitter.finish() {
            batch.push(Item::Broken(e.to_string()));
        }
        let _ = tx.send(batch);
    })?;
    let mut items = rx.into_iter().flatten();
    let result = store.import(submission, &mut items, &mut |_| {});
    // Drain so the producer can finish even when the store stopped early.
    drop(items);
    let _ = producer.join();
    Ok(result?)
}

/// Imports the bundle file at `path` as the ISAC (named), into the default collection, with
/// a progress bar: how `demo` and `evaluate` load their generated data.
pub fn import_generated(store: &dyn dossier_store::Store, path: &std::path::Path) -> Result<ImportSummary> {
    use anyhow::Context;
    let isac = store.isac()?;
    let collection = store.default_collection()?;
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let bar = progress_bar(f.metadata().ok().map(|m| m.len()));
    let summary = import(
        store,
        &Submission { org: isac.id, collection: collection.id, named: true, curator: true },
        Box::new(f),
        Limits::default(),
        bar.clone(),
    )?;
    bar.finish_and_clear();
    Ok(summary)
}
