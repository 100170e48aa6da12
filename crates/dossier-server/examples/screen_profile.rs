//! Screens applicants against a data directory's index, for profiling the query path:
//! `cargo run --release -p dossier-server --example screen_profile -- DIR APPLICANTS.jsonl [N] [batch]`.
//! One at a time by default; `batch` runs the batch path (JSON Lines in, JSON Lines out) on
//! one thread. The index is loaded from `DIR/screening.snapshot` when present (and written
//! there otherwise), so that the profile holds the queries, not the build.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report
fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("data directory");
    let apps = args.next().expect("applicants file");
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let batch = args.next().as_deref() == Some("batch");
    let store = dossier_store::open(&dir).expect("open");
    let isac = dossier_server::screening::snapshot_tag(store.as_ref()).expect("store id");
    let snapshot = std::path::Path::new(&dir).join("screening.snapshot");
    let s = dossier_server::screening::Screener::open(store.as_ref(), &isac, Default::default(), Some(&snapshot))
        .expect("index");
    if !s.report().from_snapshot {
        s.save(&isac, &snapshot).expect("snapshot");
    }
    let text = std::fs::read_to_string(apps).expect("applicants");
    let limits = dossier_match::screen::Limits::default();
    let viewer = dossier_stix::Viewer { org: 1, role: dossier_stix::Role::Analyst, isac: true };
    let started = std::time::Instant::now();
    if batch {
        use dossier_server::screening::batch;
        let input: String = text.lines().take(n).flat_map(|l| [l, "\n"]).collect();
        let reader: Box<dyn std::io::BufRead + Send> = Box::new(std::io::Cursor::new(input.into_bytes()));
        let mut records = batch::records(reader, None, limits).expect("records").peekable();
        let mut outcome = batch::Outcome::default();
        let (mut chunk, mut out) = (Vec::new(), Vec::new());
        while records.peek().is_some() {
            chunk.clear();
            chunk.extend(records.by_ref().take(batch::CHUNK).map(|r| r.expect("record")));
            out.clear();
            batch::screen_chunk(&s, &viewer, &chunk, &s.options, 1, &mut outcome, &mut out, &|_, _| ());
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "batch: {} applicants in {secs:.2}s = {:.0}/s on one thread",
            outcome.screened,
            outcome.screened as f64 / secs
        );
        return;
    }
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
