//! Cost of the store's scan for the screening index alone (a visitor that only counts),
//! on PARTS reading threads (default 2).
//! `cargo run --release -p dossier-server --example scan_cost -- DIR [PARTS]`
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report
use std::sync::atomic::{AtomicU64, Ordering};

fn main() {
    let dir = std::env::args().nth(1).expect("data directory");
    let parts: usize = std::env::args().nth(2).and_then(|p| p.parse().ok()).unwrap_or(2);
    let store = dossier_store::open(&dir).expect("open");
    let n = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let t = std::time::Instant::now();
    store
        .scan_latest_parallel(dossier_match::screen::index::INDEXED_TYPES, parts, &|_, e, _| {
            n.fetch_add(1, Ordering::Relaxed);
            bytes.fetch_add(e.json.len() as u64, Ordering::Relaxed);
            true
        })
        .expect("scan");
    println!("{} objects, {} bytes, {:.2} s", n.into_inner(), bytes.into_inner(), t.elapsed().as_secs_f64());
}
