//! Builds the screening index of a data directory and prints its report (for profiling).
//! `cargo run --release -p dossier-server --example build_index -- DIR [--snapshot]`
//! With `--snapshot`, starts as the server does: from `DIR/screening.snapshot` when there
//! is one, brought up to date from the change log.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("data directory");
    let from_snapshot = args.next().as_deref() == Some("--snapshot");
    let store = dossier_store::open(&dir).expect("open");
    let s = if from_snapshot {
        let isac = store.isac().expect("isac");
        let path = std::path::Path::new(&dir).join("screening.snapshot");
        dossier_server::screening::Screener::open(store.as_ref(), &isac.identity_id, Default::default(), Some(&path))
    } else {
        dossier_server::screening::Screener::build(store.as_ref(), Default::default())
    }
    .expect("build");
    println!("{}", serde_json::to_string(s.report()).unwrap_or_default());
}
