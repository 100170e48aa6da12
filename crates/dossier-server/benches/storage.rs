//! The two backends side by side, in one run: import throughput, TAXII read throughput
//! (over HTTP, the server in-process), the screening index's cold build, and catch-up
//! latency from a commit on one node to the change being screenable on another; then a
//! fifth of the objects sent again unchanged, by the same member and by another one.
//!
//!     cargo bench -p dossier-server --bench storage
//!
//! `DOSSIER_BENCH_OBJECTS` (default 200,000; the target is stated at 1,000,000) sets
//! the store's size. PostgreSQL runs as a throwaway cluster (`initdb`/`pg_ctl`, as in the
//! tests: fsync on, the server's defaults otherwise), or an empty database of yours named by
//! `DOSSIER_BENCH_PG_URL`; `DOSSIER_BENCH_BACKENDS=sqlite` leaves it out. With both, each
//! runs in a process of its own, one after the other.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use std::time::{Duration, Instant};

use dossier_server::screening::Screener;
use dossier_server::{AppState, Config};
use dossier_stix::{Role, StixObject, Tlp};
use dossier_store::{Item, Store, Submission};
use dossier_test_support::http::request;
use serde_json::json;

const LEVELS: [Tlp; 3] = [Tlp::Clear, Tlp::Green, Tlp::Amber];

/// Unit `i`: an actor, its persona, the persona's e-mail and the two relationships.
fn unit(i: usize) -> Vec<serde_json::Value> {
    let t = "2025-01-01T00:00:00.000Z";
    let m = json!([LEVELS[i % LEVELS.len()].marking_id()]);
    let actor = format!("threat-actor--00000000-0000-4000-8000-{i:012}");
    let persona = format!("identity--00000000-0000-4000-8000-{i:012}");
    let mut email = json!({"type": "email-addr", "spec_version": "2.1", "value": format!("dev.{i}@example.org"),
                           "object_marking_refs": m});
    let id = dossier_stix::id::deterministic_sco_id("email-addr", email.as_object().unwrap()).unwrap();
    email["id"] = json!(id.as_str());
    vec![
        json!({"type": "threat-actor", "spec_version": "2.1", "id": actor, "created": t, "modified": t,
            "name": format!("Team {i}"), "description": "A team of remote IT workers under fake identities.",
            "confidence": 70, "object_marking_refs": m}),
        json!({"type": "identity", "spec_version": "2.1", "id": persona, "created": t, "modified": t,
            "name": format!("Persona Number{i}"), "identity_class": "individual", "confidence": 70,
            "object_marking_refs": m}),
        json!({"type": "relationship", "spec_version": "2.1",
            "id": format!("relationship--00000000-0000-4000-8001-{i:012}"), "created": t, "modified": t,
            "relationship_type": "attributed-to", "source_ref": persona, "target_ref": actor, "object_marking_refs": m}),
        json!({"type": "relationship", "spec_version": "2.1",
            "id": format!("relationship--00000000-0000-4000-8002-{i:012}"), "created": t, "modified": t,
            "relationship_type": "related-to", "source_ref": persona, "target_ref": id.as_str(), "object_marking_refs": m}),
        email,
    ]
}

fn import(store: &dyn Store, sub: &Submission, objects: Vec<serde_json::Value>) {
    let mut items = objects.into_iter().enumerate().map(|(index, v)| Item::Valid {
        index,
        line: 1,
        object: StixObject::from_value(&v).unwrap().into_record(),
    });
    store.import(sub, &mut items, &mut |_| {}).unwrap();
}

struct Figures {
    import_per_s: f64,
    taxii_per_s: f64,
    build_s: f64,
    catch_up_p50_ms: f64,
    catch_up_p99_ms: f64,
    again_per_s: f64,
    copy_per_s: f64,
}

/// `units` units (5 objects each) in envelopes of 10,000 objects.
fn import_all(store: &dyn Store, sub: &Submission, units: usize) {
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..units {
        batch.extend(unit(i));
        if batch.len() >= 10_000 {
            import(store, sub, std::mem::take(&mut batch));
        }
    }
    if !batch.is_empty() {
        import(store, sub, batch);
    }
}

fn run(url: &str, objects: usize) -> Figures {
    let store = dossier_store::open(url).unwrap();
    let org = store.add_org("Acme Exchange").unwrap();
    let token = store.create_token(org.id, Role::Member, None, None).unwrap().secret;
    let collection = store.default_collection().unwrap();
    let sub = Submission { org: org.id, collection: collection.id, named: true, curator: false };
    // Import: envelopes of 10,000 objects, as TAXII clients and `dossier sync` send them.
    let units = objects / 5;
    let started = Instant::now();
    import_all(store.as_ref(), &sub, units);
    let import_per_s = (units * 5) as f64 / started.elapsed().as_secs_f64();
    eprintln!("  import: {import_per_s:.0} objects/s");

    // TAXII reads: every page of the collection, 10,000 objects a page, over HTTP.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let state = AppState::new(store.clone(), Config { max_page: 10_000, ..Config::default() }).unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    runtime.spawn(dossier_server::serve(listener, state, std::future::pending()));
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str()), ("Accept", "application/taxii+json;version=2.1")];
    let started = Instant::now();
    let (mut read, mut next) = (0usize, None::<String>);
    loop {
        let mut path = format!("/taxii2/api/collections/{}/objects/?limit=10000", collection.uuid);
        if let Some(n) = &next {
            path.push_str(&format!("&next={n}"));
        }
        let r = request(&addr, "GET", &path, &headers, None);
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.json();
        read += page["objects"].as_array().map_or(0, Vec::len);
        match page["next"].as_str() {
            Some(n) if page["more"] == true => next = Some(n.to_owned()),
            _ => break,
        }
    }
    let taxii_per_s = read as f64 / started.elapsed().as_secs_f64();
    assert!(read >= units * 5, "read {read} of {}", units * 5);
    eprintln!("  TAXII read: {taxii_per_s:.0} objects/s ({read} objects)");

    // The screening index, built cold from the store.
    let started = Instant::now();
    let screener = Screener::build(store.as_ref(), Default::default()).unwrap();
    let build_s = started.elapsed().as_secs_f64();
    eprintln!("  index cold build: {build_s:.2} s");

    // Catch-up: a commit through one node (another handle on the same store), then what a
    // screen request on this node does first (read the log, apply what is new).
    let other = dossier_store::open(url).unwrap();
    let mut lat = Vec::new();
    for i in 0..200 {
        import(other.as_ref(), &sub, unit(units + i));
        let committed = Instant::now();
        let applied = screener.catch_up(store.as_ref()).unwrap();
        lat.push(committed.elapsed());
        assert!(applied >= 1);
        std::thread::sleep(Duration::from_millis(2));
    }
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p99) = (ms(lat[lat.len() / 2]), ms(lat[lat.len() * 99 / 100]));
    eprintln!("  catch-up commit → screenable: p50 {p50:.2} ms, p99 {p99:.2} ms");

    // The first fifth again, unchanged: by the same member (a feed pulled again), then by
    // another member (the same public feed, or a mirror), which joins each version's
    // submitters and recipients.
    let again = units / 5;
    let started = Instant::now();
    import_all(store.as_ref(), &sub, again);
    let again_per_s = (again * 5) as f64 / started.elapsed().as_secs_f64();
    eprintln!("  the same objects again, unchanged: {again_per_s:.0} objects/s");
    let member = store.add_org("Other Exchange").unwrap();
    let theirs = Submission { org: member.id, ..sub };
    let started = Instant::now();
    import_all(store.as_ref(), &theirs, again);
    let copy_per_s = (again * 5) as f64 / started.elapsed().as_secs_f64();
    eprintln!("  the same objects from another member: {copy_per_s:.0} objects/s");
    runtime.shutdown_background();
    Figures { import_per_s, taxii_per_s, build_s, catch_up_p50_ms: p50, catch_up_p99_ms: p99, again_per_s, copy_per_s }
}

fn main() {
    let objects: usize = std::env::var("DOSSIER_BENCH_OBJECTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let backends = std::env::var("DOSSIER_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let chosen: Vec<&str> = ["sqlite", "postgres"].into_iter().filter(|b| backends.contains(b)).collect();
    if std::env::var_os("DOSSIER_BENCH_ROW_ONLY").is_none() {
        println!(
            "| backend | import objects/s | TAXII read objects/s | index cold build s | catch-up p50 ms | catch-up p99 ms | again, unchanged objects/s | another member's copy objects/s |"
        );
        println!("|---|---|---|---|---|---|---|---|");
    }
    if chosen.len() > 1 {
        // Each backend in a process of its own, one after the other: what the first leaves
        // behind (its server's background tasks, its index in memory, its writes still going
        // to the disk) slowed the second by a quarter when both ran in one process.
        for backend in chosen {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(std::env::args().skip(1))
                .env("DOSSIER_BENCH_BACKENDS", backend)
                .env("DOSSIER_BENCH_ROW_ONLY", "1")
                .stderr(std::process::Stdio::inherit())
                .output()
                .unwrap();
            assert!(out.status.success(), "the {backend} run failed");
            print!("{}", String::from_utf8_lossy(&out.stdout));
            let _ = std::process::Command::new("sync").status();
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let row = |name: &str, f: Figures| {
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} |",
            f.import_per_s, f.taxii_per_s, f.build_s, f.catch_up_p50_ms, f.catch_up_p99_ms, f.again_per_s, f.copy_per_s
        );
    };
    if chosen.contains(&"sqlite") {
        eprintln!("SQLite, {objects} objects:");
        row("SQLite", run(&format!("sqlite:{}", dir.path().join("data").display()), objects));
    } else if let Ok(url) = std::env::var("DOSSIER_BENCH_PG_URL") {
        // An empty database of yours, else a throwaway cluster.
        eprintln!("PostgreSQL ({}), {objects} objects:", dossier_store::redact(&url));
        row("PostgreSQL", run(&url, objects));
    } else if let Some(cluster) = dossier_test_support::postgres::Cluster::start_with(true) {
        eprintln!("PostgreSQL, {objects} objects:");
        row("PostgreSQL", run(&cluster.database(), objects));
    }
}
