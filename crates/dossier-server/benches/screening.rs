//! Screening speed on a large store (issue: 100,000 actors, >= 1,000,000 identifiers).
//!
//!     scripts/bench-screening            # generates and imports the data, then runs this
//!
//! or `DOSSIER_BENCH_DATA=DIR DOSSIER_BENCH_APPLICANTS=FILE cargo bench -p dossier-server
//! --bench screening`. `DOSSIER_BENCH_ONLY=http` (or `batch`, `single`, comma-separated)
//! runs only those parts, from `DIR/screening.snapshot` instead of a fresh build (for
//! profiling one path). Measures: index build time and memory, single-applicant latency
//! in-process (p50/p99), batch throughput on all cores, and `POST /api/v1/screen` latency
//! under 32 concurrent clients.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use dossier_match::screen::{Limits, Options, input};
use dossier_server::screening::Screener;
use dossier_server::screening::batch::{self, Outcome};
use dossier_server::{AppState, Config};
use dossier_stix::{Role, Viewer};

/// Anonymous resident memory (the heap): file pages the store maps for reading are the
/// OS page cache, not the index.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// POSTs one applicant over a kept-alive connection; returns the status.
fn post(stream: &mut BufReader<TcpStream>, addr: SocketAddr, token: &str, body: &str) -> u16 {
    let req = format!(
        "POST /api/v1/screen HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.get_mut().write_all(req.as_bytes()).unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).unwrap();
    let status: u16 = line.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    let mut len = 0usize;
    loop {
        line.clear();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).unwrap();
    status
}

fn main() {
    let Ok(data) = std::env::var("DOSSIER_BENCH_DATA") else {
        eprintln!(
            "set DOSSIER_BENCH_DATA (a data directory) and DOSSIER_BENCH_APPLICANTS, or run scripts/bench-screening"
        );
        return;
    };
    let applicants_path = std::env::var("DOSSIER_BENCH_APPLICANTS").expect("DOSSIER_BENCH_APPLICANTS");
    let store = dossier_store::open(&data).unwrap();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("machine: {cores} cores");

    let only = std::env::var("DOSSIER_BENCH_ONLY").ok();
    let run = |part: &str| only.as_deref().is_none_or(|o| o.split(',').any(|p| p == part));
    if !run("build") {
        return partial(store, &data, &applicants_path, cores, &run);
    }

    // 1. Index build.
    let before = rss_mib();
    let started = Instant::now();
    let screener = Screener::build(store.as_ref(), Options::default()).unwrap();
    let build = started.elapsed().as_secs_f64();
    let after = rss_mib();
    let stats = screener.stats();
    println!(
        "index build: {build:.2} s for {} objects; {} nodes, {} relationships, {} identifier keys, {} names, {} resumes",
        screener.report().objects,
        stats.nodes,
        stats.relationships,
        stats.keys,
        stats.names,
        stats.resumes
    );
    println!(
        "index memory: {:.0} MiB estimated from its structures; process anonymous RSS {before:.0} -> {after:.0} MiB (+{:.0} MiB)",
        stats.approx_bytes as f64 / 1048576.0,
        after - before
    );

    // 1b. The snapshot a restart loads instead of rebuilding.
    let isac_id = dossier_server::screening::snapshot_tag(store.as_ref()).unwrap();
    let snap = std::env::temp_dir().join(format!("dossier-bench-{}.snapshot", std::process::id()));
    let t = Instant::now();
    screener.save(&isac_id, &snap).unwrap();
    let saved = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&snap).map_or(0, |m| m.len());
    // A restart starts with no index in memory: the built one goes first, and the one read
    // back from the snapshot serves the rest of the bench.
    drop(screener);
    let t = Instant::now();
    let screener = Screener::open(store.as_ref(), &isac_id, Options::default(), Some(&snap)).unwrap();
    let loaded = t.elapsed().as_secs_f64();
    assert!(screener.report().from_snapshot, "the snapshot was not used");
    println!(
        "index snapshot: written in {saved:.2} s ({:.0} MiB); start-up from it (load and catch up, the built index dropped first): {loaded:.2} s",
        size as f64 / 1048576.0
    );
    let _ = std::fs::remove_file(&snap);

    // Applicants.
    let text = std::fs::read_to_string(&applicants_path).unwrap();
    let isac = store.isac().unwrap();
    let analyst = Viewer { org: isac.id, role: Role::Analyst, isac: true };
    query_phases(&screener, &text, &analyst, cores, &run);
    drop(screener);
    http_phase(store, &text, Config::default());
}

/// The parts asked for by `DOSSIER_BENCH_ONLY`, on the index from the data directory's
/// snapshot (written there first when missing).
fn partial(
    store: Arc<dyn dossier_store::Store>,
    data: &str,
    applicants_path: &str,
    cores: usize,
    run: &dyn Fn(&str) -> bool,
) {
    let isac = store.isac().unwrap();
    let snap = std::path::Path::new(data).join("screening.snapshot");
    let text = std::fs::read_to_string(applicants_path).unwrap();
    if run("single") || run("batch") {
        let tag = dossier_server::screening::snapshot_tag(store.as_ref()).unwrap();
        let screener = Screener::open(store.as_ref(), &tag, Options::default(), Some(&snap)).unwrap();
        if !screener.report().from_snapshot {
            screener.save(&tag, &snap).unwrap();
        }
        let analyst = Viewer { org: isac.id, role: Role::Analyst, isac: true };
        query_phases(&screener, &text, &analyst, cores, run);
    }
    if run("http") {
        http_phase(store, &text, Config { index_snapshot: Some(snap), ..Config::default() });
    }
}

/// Parts 2 and 3: single screens and batch throughput, in process.
fn query_phases(screener: &Screener, text: &str, analyst: &Viewer, cores: usize, run: &dyn Fn(&str) -> bool) {
    let limits = Limits::default();
    let applicants: Vec<_> = text.lines().filter_map(|l| input::from_json(l.as_bytes(), &limits).ok()).collect();
    let analyst = *analyst;
    if run("single") {
        // 2. Single applicant, in process, one at a time.
        let n = applicants.len().min(20_000);
        let mut lat = Vec::with_capacity(n);
        for a in &applicants[..n] {
            let t = Instant::now();
            let s = screener.screen(a, &analyst);
            std::hint::black_box(&s);
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "single screen in-process ({n} applicants, one thread): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(0.0)
        );
    }
    if run("batch") {
        // 3. Batch throughput (JSON Lines parsing, screening and serialising), all cores.
        for round in 1..=2 {
            let started = Instant::now();
            let reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(1 << 16, text.as_bytes()));
            let records = batch::records(reader, None, limits).unwrap();
            let mut outcome = Outcome::default();
            let mut chunk = Vec::with_capacity(batch::CHUNK);
            let mut out = Vec::new();
            let mut bytes = 0usize;
            let mut records = records.peekable();
            while records.peek().is_some() {
                chunk.clear();
                while chunk.len() < batch::CHUNK {
                    match records.next() {
                        Some(r) => chunk.push(r.unwrap()),
                        None => break,
                    }
                }
                out.clear();
                batch::screen_chunk(
                    screener,
                    &analyst,
                    &chunk,
                    &screener.options,
                    cores,
                    &mut outcome,
                    &mut out,
                    &|_, _| (),
                );
                bytes += out.len();
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "batch round {round}: {} applicants in {secs:.2} s = {:.0} applicants/s on {cores} threads ({} match, {} review, {} clear; {:.0} MiB of results)",
                outcome.screened,
                outcome.screened as f64 / secs,
                outcome.matched,
                outcome.review,
                outcome.clear,
                bytes as f64 / 1048576.0
            );
        }
    }
}

/// Part 4: `POST /api/v1/screen` over HTTP, 1 and 32 clients.
fn http_phase(store: Arc<dyn dossier_store::Store>, text: &str, config: Config) {
    // 4. HTTP: POST /api/v1/screen under 32 concurrent clients.
    let org = store.add_org(&format!("Bench Member {}", std::process::id())).unwrap();
    let token = store.create_token(org.id, Role::Member, Some("bench"), None).unwrap().secret;
    let started = Instant::now();
    let state = AppState::new(store.clone(), config).unwrap();
    println!("server start (index build included): {:.2} s", started.elapsed().as_secs_f64());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            dossier_server::serve(listener, state, std::future::pending()).await.unwrap();
        });
    });
    let bodies: Arc<Vec<String>> = Arc::new(text.lines().take(40_000).map(str::to_owned).collect());
    for clients in [1usize, 32] {
        let per_client = if clients == 1 { 2000 } else { 400 };
        let started = Instant::now();
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let bodies = bodies.clone();
                let token = token.clone();
                std::thread::spawn(move || {
                    let s = TcpStream::connect(addr).unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut stream = BufReader::new(s);
                    let mut lat = Vec::with_capacity(per_client);
                    for i in 0..per_client {
                        let body = &bodies[(c * per_client + i) % bodies.len()];
                        let t = Instant::now();
                        let status = post(&mut stream, addr, &token, body);
                        assert_eq!(status, 200);
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    lat
                })
            })
            .collect();
        let mut lat: Vec<f64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let secs = started.elapsed().as_secs_f64();
        lat.sort_by(f64::total_cmp);
        println!(
            "POST /api/v1/screen, {clients} concurrent clients: {} requests in {secs:.2} s ({:.0}/s); p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            lat.len(),
            lat.len() as f64 / secs,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(0.0)
        );
    }
    println!("process anonymous RSS at the end: {:.0} MiB", rss_mib());
}
