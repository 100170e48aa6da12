//! dossier's own TAXII ceiling with a native client (no Python in the way).
//!
//!     scripts/bench-taxii-native        # prepares 1M objects, then runs this
//!
//! or, on a data directory you prepared: `DOSSIER_BENCH_DATA=DIR cargo bench -p dossier-server
//! --bench taxii_load`. Measures: a full paginated read of the default collection, POST
//! throughput, the latency of 1,000-object pages under 32 concurrent readers, and the
//! server's memory while a slow client pages through everything.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dossier_server::{AppState, Config};
use dossier_stix::Role;

struct Client {
    stream: BufReader<TcpStream>,
    addr: SocketAddr,
    token: String,
}

impl Client {
    fn new(addr: SocketAddr, token: &str) -> Self {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Self { stream: BufReader::new(s), addr, token: token.to_owned() }
    }
    /// One keep-alive request; returns status and body.
    fn call(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, Vec<u8>) {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: application/taxii+json;version=2.1\r\n",
            self.addr, self.token
        );
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/taxii+json;version=2.1\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let s = self.stream.get_mut();
        s.write_all(req.as_bytes()).unwrap();
        if let Some(b) = body {
            s.write_all(b.as_bytes()).unwrap();
        }
        let mut line = String::new();
        self.stream.read_line(&mut line).unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut len = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap();
            }
        }
        let mut buf = vec![0u8; len];
        self.stream.read_exact(&mut buf).unwrap();
        (status, buf)
    }
}

/// Pages through a collection; returns (objects, cursors of each page, seconds).
fn full_read(c: &mut Client, col: &str, slow: Option<Duration>) -> (usize, Vec<String>, f64) {
    let started = Instant::now();
    let mut next: Option<String> = None;
    let mut n = 0;
    let mut cursors = Vec::new();
    loop {
        let path = match &next {
            Some(cur) => format!("/taxii2/api/collections/{col}/objects/?limit=1000&next={cur}"),
            None => format!("/taxii2/api/collections/{col}/objects/?limit=1000"),
        };
        let (status, body) = c.call("GET", &path, None);
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        n += v["objects"].as_array().map_or(0, Vec::len);
        match v["next"].as_str() {
            Some(cur) if v["more"] == true => {
                cursors.push(cur.to_owned());
                next = Some(cur.to_owned());
            }
            _ => break,
        }
        if let Some(d) = slow {
            std::thread::sleep(d);
        }
    }
    (n, cursors, started.elapsed().as_secs_f64())
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let Some(data) = std::env::var_os("DOSSIER_BENCH_DATA") else {
        eprintln!("set DOSSIER_BENCH_DATA to a data directory with imported objects (scripts/bench-taxii-native does)");
        return;
    };
    let store = dossier_store::open(&data.to_string_lossy()).unwrap();
    // As `dossier serve` does: checkpoints in the background, not inside commits.
    store.start_serving().unwrap();
    {
        let store = store.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let _ = store.upkeep(10, 256 << 20);
            }
        });
    }
    let isac = store.isac().unwrap();
    let token = store.create_token(isac.id, Role::Analyst, Some("bench"), None).unwrap().secret;
    let col = store.default_collection().unwrap().uuid;
    let post_col = store
        .add_collection(&format!("bench-post-{}", uuid::Uuid::new_v4()), None, None, dossier_stix::Tlp::Amber)
        .unwrap()
        .uuid;
    let (versions, ids) = dossier_store::ObjectStore::counts(store.as_ref()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let state = AppState::new(store.clone(), Config::default()).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            dossier_server::serve(l, state, std::future::pending()).await.unwrap();
        });
    });
    println!(
        "store: {versions} versions of {ids} objects; {} cores; RSS at start {:.0} MiB",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        rss_mib()
    );

    // 1. Full paginated read.
    let mut c = Client::new(addr, &token);
    let (n, cursors, secs) = full_read(&mut c, &col, None);
    println!(
        "full read: {n} objects in {secs:.2} s -> {:.0} objects/s ({} pages of 1,000)",
        n as f64 / secs,
        cursors.len() + 1
    );

    // 2. POST throughput: 20,000 new objects in POSTs of 1,000.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let bodies: Vec<String> = (0..20)
        .map(|batch| {
            let objects: Vec<String> = (0..1000)
            .map(|i| {
                let mut v = serde_json::json!({"type": "email-addr", "spec_version": "2.1", "value": format!("bench.{run}.{batch}.{i}@example.com")});
                let id = dossier_stix::id::deterministic_sco_id("email-addr", v.as_object().unwrap()).unwrap();
                v["id"] = serde_json::json!(id.as_str());
                    v.to_string()
                })
                .collect();
            format!("{{\"objects\":[{}]}}", objects.join(","))
        })
        .collect();
    // Bodies are built before the clock starts: this measures the server, not the client.
    let started = Instant::now();
    let mut posted = 0;
    for body in &bodies {
        let (status, _) = c.call("POST", &format!("/taxii2/api/collections/{post_col}/objects/"), Some(body));
        assert_eq!(status, 202);
        posted += 1000;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("POST: {posted} objects in 20 requests in {secs:.2} s -> {:.0} objects/s", posted as f64 / secs);

    // 3. 32 concurrent readers, each fetching 1,000-object pages at random cursors.
    let cursors = Arc::new(cursors);
    let per_reader = 40;
    let started = Instant::now();
    let handles: Vec<_> = (0..32)
        .map(|r| {
            let cursors = cursors.clone();
            let token = token.clone();
            let col = col.clone();
            std::thread::spawn(move || {
                let mut c = Client::new(addr, &token);
                let mut lat = Vec::with_capacity(per_reader);
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ r as u64;
                for _ in 0..per_reader {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let cur = &cursors[(x as usize) % cursors.len().max(1)];
                    let t = Instant::now();
                    let (status, body) =
                        c.call("GET", &format!("/taxii2/api/collections/{col}/objects/?limit=1000&next={cur}"), None);
                    lat.push(t.elapsed());
                    assert_eq!(status, 200);
                    assert!(body.len() > 1000);
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "32 concurrent readers, {} pages of 1,000: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.0} pages/s ({:.0} objects/s)",
        lat.len(),
        pct(0.5),
        pct(0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        lat.len() as f64 / secs,
        lat.len() as f64 * 1000.0 / secs
    );

    // 4. A slow client pages through everything; the server's memory is sampled meanwhile.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak: f64 = 0.0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(rss_mib());
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        })
    };
    let before = rss_mib();
    let mut slow = Client::new(addr, &token);
    let (n, _, secs) = full_read(&mut slow, &col, Some(Duration::from_millis(10)));
    done.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    println!(
        "slow client (10 ms pause per page): {n} objects in {secs:.1} s; process RSS {before:.0} MiB before, peak {peak:.0} MiB"
    );
}
