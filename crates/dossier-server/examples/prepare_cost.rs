//! Cost of preparing one stored object for the screening index, by object type (up to
//! 100,000 objects of each, read into memory first; one thread).
//! `cargo run --release -p dossier-server --example prepare_cost -- DIR`
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report
use std::collections::BTreeMap;
use std::sync::Mutex;

fn main() {
    let dir = std::env::args().nth(1).expect("data directory");
    let store = dossier_store::open(&dir).expect("open");
    let by_type: Mutex<BTreeMap<String, Vec<(String, String)>>> = Mutex::default();
    store
        .scan_latest_parallel(&[], 1, &|_, e, _| {
            let mut g = by_type.lock().expect("lock");
            let rows = g.entry(e.object_type.to_owned()).or_default();
            if rows.len() < 100_000 {
                rows.push((e.id.to_owned(), e.json.to_owned()));
            }
            true
        })
        .expect("scan");
    let access = || dossier_match::screen::Access {
        tlp: dossier_stix::Tlp::Green,
        owner: 1,
        recipients: vec![],
        staff_only: false,
        confidence: None,
    };
    for (ty, rows) in by_type.into_inner().expect("lock") {
        let started = std::time::Instant::now();
        let mut prepared = 0;
        for (id, json) in &rows {
            if let Some(p) = dossier_match::screen::prepare(id, json, access()) {
                prepared += 1;
                std::hint::black_box(p);
            }
        }
        let ns = started.elapsed().as_nanos() as f64 / rows.len() as f64;
        println!("{ty:24} {:>7} objects {ns:>8.0} ns each ({prepared} kept)", rows.len());
    }
}
