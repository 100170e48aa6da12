//! Builds the screening index of a data directory and prints its report (for profiling).
//! `cargo run --release -p dossier-server --example build_index -- DIR`
fn main() {
    let dir = std::env::args().nth(1).expect("data directory");
    let store = dossier_store::SqliteStore::open(std::path::Path::new(&dir)).expect("open");
    let s = dossier_server::screening::Screener::build(&store, Default::default()).expect("build");
    println!("{}", serde_json::to_string(s.report()).unwrap_or_default());
}
