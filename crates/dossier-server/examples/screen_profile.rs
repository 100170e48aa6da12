//! Builds the index of a data directory and screens applicants one at a time (for
//! profiling the query path). `cargo run --release -p dossier-server --example
//! screen_profile -- DIR APPLICANTS.jsonl [N]`
fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("data directory");
    let apps = args.next().expect("applicants file");
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let store = dossier_store::SqliteStore::open(std::path::Path::new(&dir)).expect("open");
    let s = dossier_server::screening::Screener::build(&store, Default::default()).expect("build");
    let text = std::fs::read_to_string(apps).expect("applicants");
    let limits = dossier_match::screen::Limits::default();
    let viewer = dossier_stix::Viewer { org: 1, role: dossier_stix::Role::Analyst, isac: true };
    let started = std::time::Instant::now();
    let mut lat: Vec<f64> = Vec::new();
    for line in text.lines().take(n) {
        let Ok(a) = dossier_match::screen::input::from_json(line.as_bytes(), &limits) else { continue };
        let t = std::time::Instant::now();
        std::hint::black_box(s.screen(&a, &viewer));
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "{} screens in {:.2}s; p50 {:.3} ms p99 {:.3} ms",
        lat.len(),
        started.elapsed().as_secs_f64(),
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100]
    );
}
