//! Continuous monitoring at scale: enrol many watched subjects, then measure how soon a new
//! persona with five identifiers alerts the watching organization after its write commits,
//! and how long a bulk import takes to be re-checked.
//!
//! `cargo bench -p dossier-server --bench monitoring` (1,000,000 subjects; set
//! `DOSSIER_BENCH_WATCHED=N` for another number). A real server runs (its background
//! follower of the change log does the work); subjects are enrolled through the store with
//! the engine's keyed hashes, as the API does.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tool code: a panic is a failure report

use std::time::{Duration, Instant};

use dossier_match::screen::{Index, Options, input};
use dossier_server::{AppState, Config};
use dossier_stix::StixObject;
use dossier_store::{Item, NewWatch, Submission};
use serde_json::{Value, json};

fn sco(ty: &str, mut v: Value) -> Value {
    v["type"] = json!(ty);
    v["spec_version"] = json!("2.1");
    v["object_marking_refs"] = json!(["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]);
    let id = dossier_stix::id::deterministic_sco_id(ty, v.as_object().unwrap()).unwrap();
    v["id"] = json!(id.as_str());
    v
}

/// A persona of actor `actor` with the five identifiers of subject `i`.
fn persona(i: usize, actor: &str, t: &str) -> Vec<Value> {
    let green = ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"];
    let p = format!("identity--{}", uuid(0x9000_0000 + i as u64));
    let ids = [
        sco("email-addr", json!({"value": format!("emp{i}@example.org")})),
        sco("phone-number", json!({"value": format!("+1415{:07}", 1_000_000 + i)})),
        sco("user-account", json!({"account_type": "github", "account_login": format!("emp-dev-{i}")})),
        sco("cryptocurrency-wallet", json!({"value": wallet(i)})),
        sco("url", json!({"value": format!("https://emp{i}-portfolio.dev")})),
    ];
    let mut out = vec![json!({"type": "identity", "spec_version": "2.1", "id": p, "created": t, "modified": t,
        "name": format!("Persona {i}"), "identity_class": "individual", "object_marking_refs": green})];
    let rel = |k: u64, src: &str, dst: &str| {
        json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", uuid(k)),
            "created": t, "modified": t, "relationship_type": "related-to", "source_ref": src, "target_ref": dst,
            "object_marking_refs": green})
    };
    out.push(rel(0xa000_0000 + i as u64 * 8, &p, actor));
    for (k, s) in ids.iter().enumerate() {
        out.push(rel(0xa000_0000 + i as u64 * 8 + 1 + k as u64, &p, s["id"].as_str().unwrap()));
    }
    out.extend(ids);
    out
}

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn wallet(i: usize) -> String {
    format!("0x{:040x}", 0x5aae_b605_3f3e_94c9u64 as u128 * 1_000_003 + i as u128)
}

fn import(store: &std::sync::Arc<dyn dossier_store::Store>, org: i64, objects: &[Value]) {
    let sub = Submission { org, collection: store.default_collection().unwrap().id, named: true, curator: false };
    let mut items = objects.iter().enumerate().map(|(index, v)| Item::Valid {
        index,
        line: 1,
        object: StixObject::from_value(v).unwrap().into_record(),
    });
    store.import(&sub, &mut items, &mut |_| {}).unwrap();
}

fn main() {
    let n: usize = std::env::var("DOSSIER_BENCH_WATCHED").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let store = dossier_store::open(&dir.path().display().to_string()).unwrap();
    let intel = store.add_org("Exchange A").unwrap();
    let watcher = store.add_org("Wallet B").unwrap();
    let t = "2026-12-01T00:00:00.000Z";
    let actor = format!("threat-actor--{}", uuid(1));
    import(
        &store,
        intel.id,
        &[json!({"type": "threat-actor", "spec_version": "2.1", "id": actor, "created": t, "modified": t,
            "name": "team BENCH", "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]})],
    );
    // The server first: it keys the index's hashes with this store's key.
    let state = AppState::new(store.clone(), Config::default()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            dossier_server::serve(listener, state, std::future::pending()).await.unwrap();
        });
    });
    println!("machine: {} cores", std::thread::available_parallelism().map_or(1, |n| n.get()));

    // Enrol: each subject's five values, as the API keeps them (keyed hashes).
    let index = Index::new();
    let opts = Options::default();
    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    let now = dossier_stix::timestamp::now_micros();
    for i in 0..n {
        let a = input::from_json(
            json!({"ref": format!("emp-{i}"), "emails": [format!("emp{i}@example.org")],
                   "phones": [format!("+1 415 {:07}", 1_000_000 + i)],
                   "accounts": [{"platform": "github", "username": format!("emp-dev-{i}")}],
                   "wallets": [{"address": wallet(i)}], "websites": [format!("emp{i}-portfolio.dev")]})
            .to_string()
            .as_bytes(),
            &Default::default(),
        )
        .unwrap();
        let w = index.watch(&a, &opts);
        batch.push(NewWatch {
            org: watcher.id,
            reference: a.reference.clone(),
            by_name: "bench".into(),
            subject: serde_json::to_string(&w).unwrap(),
            hashes: w.hashes(),
            created: now,
            expires: now + 86_400_000_000,
        });
        if batch.len() == 10_000 {
            store.watch(&batch).unwrap();
            batch.clear();
        }
    }
    store.watch(&batch).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "enrolled {} subjects (5 values each) in {secs:.1} s = {:.0} subjects/s",
        store.watched_count().unwrap(),
        n as f64 / secs
    );

    let caught_up = |store: &dyn dossier_store::Store| {
        let last = store.last_change().unwrap();
        for _ in 0..600_000 {
            if store.cursor("monitoring").unwrap().unwrap_or(0) >= last {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("the monitor did not catch up");
    };
    caught_up(store.as_ref());

    // One new persona with five identifiers of one subject: commit → alert.
    let mut lat = Vec::new();
    for k in 0..20 {
        let i = (k * 7919 + 13) % n;
        let before = store.notifications(watcher.id, false, 1).unwrap().first().map_or(0, |x| x.id);
        let objects = persona(i, &actor, t);
        import(&store, intel.id, &objects);
        let t0 = Instant::now();
        loop {
            let latest = store.notifications(watcher.id, false, 1).unwrap();
            if latest.first().is_some_and(|x| x.id > before && x.kind == "monitoring") {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "no alert for subject {i}");
            std::thread::sleep(Duration::from_micros(500));
        }
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "a new persona with 5 identifiers: alert {:.1} ms median, {:.1} ms max after its write committed ({} subjects watched)",
        lat[lat.len() / 2],
        lat[lat.len() - 1],
        n
    );

    // A bulk import of 100,000 objects (12,500 personas; 1 in 10 meets a subject).
    let mut bulk = Vec::with_capacity(100_000);
    for j in 0..12_500usize {
        let i = if j % 10 == 0 { (j * 104_729) % n } else { n + 1_000_000 + j };
        bulk.extend(persona(i, &actor, t));
        bulk.truncate(bulk.len().min(100_000));
    }
    let alerts_before = store.notifications(watcher.id, false, 1000).unwrap().len();
    let started = Instant::now();
    import(&store, intel.id, &bulk);
    let imported = started.elapsed().as_secs_f64();
    let t0 = Instant::now();
    caught_up(store.as_ref());
    let checked = t0.elapsed().as_secs_f64();
    let alerts = store.notifications(watcher.id, false, 1000).unwrap().len() - alerts_before;
    println!(
        "bulk import of {} objects: stored in {imported:.1} s, re-checked {checked:.2} s after its commit ({alerts} alerts; at most 1000 counted)",
        bulk.len()
    );
}
