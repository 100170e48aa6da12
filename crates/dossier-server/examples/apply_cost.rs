//! Cost of applying prepared objects to the screening index, apart from reading and
//! preparing them (all are prepared into memory first): ROUNDS (default 3) fresh indexes,
//! each filled one object at a time (`Index::apply`) and in batches of 1,024 as the
//! server's build does (`Index::apply_all`), alternately, since this machine's speed
//! drifts. `cargo run --release -p dossier-server --example apply_cost -- DIR [ROUNDS]`
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report
use std::sync::Mutex;

use dossier_match::screen::{Access, Index, Prepared, index::INDEXED_TYPES, prepare};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("data directory");
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(3);
    let store = dossier_store::open(&dir).expect("open");
    let parts: Vec<Mutex<Vec<Prepared>>> = (0..2).map(|_| Mutex::default()).collect();
    let t = std::time::Instant::now();
    store
        .scan_latest_parallel(INDEXED_TYPES, 2, &|part, e, staff_only| {
            let access =
                Access { tlp: e.tlp, owner: e.owner, recipients: e.recipients(), staff_only, confidence: e.confidence };
            if let Some(p) = prepare(e.id, e.json, access) {
                parts[part].lock().expect("lock").push(p);
            }
            true
        })
        .expect("scan");
    println!("read and prepare: {:.2} s", t.elapsed().as_secs_f64());
    let all: Vec<Prepared> = parts.into_iter().flat_map(|m| m.into_inner().expect("lock")).collect();
    let n = all.len();
    for round in 0..rounds {
        for batched in [false, true] {
            let one_by_one = all.clone();
            let batches: Vec<Vec<Prepared>> = all.chunks(1024).map(<[Prepared]>::to_vec).collect();
            let mut index = Index::new();
            index.begin_bulk(n);
            let t = std::time::Instant::now();
            if batched {
                for batch in batches {
                    index.apply_all(batch);
                }
            } else {
                for p in one_by_one {
                    index.apply(p);
                }
            }
            let applied = t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            index.finish_bulk();
            let how = if batched { "apply_all" } else { "apply" };
            println!("round {round}: {how:9} {n} objects {applied:.2} s, finish {:.2} s", t.elapsed().as_secs_f64());
        }
    }
}
