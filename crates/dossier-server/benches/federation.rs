//! Federation throughput: a pull from a second dossier over TAXII, a push to one, and the
//! import of an OFAC SDN list of realistic size.
//!
//!     cargo bench -p dossier-server --bench federation
//!
//! `DOSSIER_BENCH_OBJECTS` (default 200,000) sets the pulled collection's size. The source is
//! served in-process on loopback (the same server code as `dossier serve`); the pull and push
//! are `dossier sync`'s, with pages of 10,000 objects (the most a dossier serves) and
//! envelopes of 1,000.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

use std::sync::Arc;
use std::time::Instant;

use dossier_server::sync::{Auth, Peer};
use dossier_server::{AppState, Config};
use dossier_stix::{Role, StixObject, Tlp};
use dossier_store::{Item, Submission};
use serde_json::json;

const LEVELS: [Tlp; 4] = [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::Green];

/// `units` × (actor, persona, e-mail, two relationships), at CLEAR/GREEN/AMBER.
fn objects(units: usize) -> Vec<serde_json::Value> {
    let t = "2025-01-01T00:00:00.000Z";
    let mut out = Vec::with_capacity(units * 5);
    for i in 0..units {
        let m = json!([LEVELS[i % LEVELS.len()].marking_id()]);
        let actor = format!("threat-actor--00000000-0000-4000-8000-{i:012}");
        let persona = format!("identity--00000000-0000-4000-8000-{i:012}");
        let mut email = json!({"type": "email-addr", "spec_version": "2.1", "value": format!("dev.{i}@example.org"),
                               "object_marking_refs": m});
        let id = dossier_stix::id::deterministic_sco_id("email-addr", email.as_object().unwrap()).unwrap();
        email["id"] = json!(id.as_str());
        out.push(json!({"type": "threat-actor", "spec_version": "2.1", "id": actor, "created": t, "modified": t,
            "name": format!("Team {i}"), "description": "A team of remote IT workers under fake identities, paid in stablecoins.",
            "confidence": 70, "object_marking_refs": m}));
        out.push(json!({"type": "identity", "spec_version": "2.1", "id": persona, "created": t, "modified": t,
            "name": format!("Persona Number{i}"), "identity_class": "individual", "labels": ["persona"],
            "confidence": 70, "object_marking_refs": m}));
        out.push(json!({"type": "relationship", "spec_version": "2.1",
            "id": format!("relationship--00000000-0000-4000-8001-{i:012}"), "created": t, "modified": t,
            "relationship_type": "attributed-to", "source_ref": persona, "target_ref": actor, "object_marking_refs": m}));
        out.push(json!({"type": "relationship", "spec_version": "2.1",
            "id": format!("relationship--00000000-0000-4000-8002-{i:012}"), "created": t, "modified": t,
            "relationship_type": "related-to", "source_ref": persona, "target_ref": id.as_str(), "object_marking_refs": m}));
        out.push(email);
    }
    out
}

fn import(store: &Arc<dyn dossier_store::Store>, org: i64, objects: &[serde_json::Value]) {
    let collection = store.default_collection().unwrap().id;
    let sub = Submission { org, collection, named: true, curator: false };
    let mut items = objects.iter().enumerate().map(|(index, v)| Item::Valid {
        index,
        line: 1,
        object: StixObject::from_value(v).unwrap().into_record(),
    });
    store.import(&sub, &mut items, &mut |_| {}).unwrap();
}

/// Serves `store` on a free loopback port; returns the base URL. The write quota is lifted:
/// a peer pushing is otherwise held to the receiving server's 100,000 objects a minute
/// per organization, which is what this would measure.
fn serve(store: Arc<dyn dossier_store::Store>, runtime: &tokio::runtime::Runtime) -> String {
    let config = Config {
        write_quota: dossier_server::quota::WriteQuota {
            objects_per_minute: u64::MAX / 2,
            bytes_per_minute: u64::MAX / 2,
        },
        ..Config::default()
    };
    let state = AppState::new(store, config).unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(dossier_server::serve(listener, state, std::future::pending()));
    format!("http://{addr}")
}

fn main() {
    let n: usize = std::env::var("DOSSIER_BENCH_OBJECTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    println!("federation bench: {n} objects, {} cores", std::thread::available_parallelism().map_or(1, |c| c.get()));

    // The source: a second dossier, served.
    let source = dossier_store::open(&dir.path().join("source").display().to_string()).unwrap();
    let alpha = source.add_org("Alpha").unwrap();
    let made = objects(n / 5);
    let started = Instant::now();
    import(&source, alpha.id, &made);
    println!("source import: {} objects in {:.2} s", made.len(), started.elapsed().as_secs_f64());
    let peer_org = source.peer_org("bravo").unwrap();
    let token = source.create_token(peer_org.id, Role::Member, None, None).unwrap().secret;
    let source_url = serve(source.clone(), &runtime);

    // The pull: everything, then again with nothing new.
    let dest: Arc<dyn dossier_server::Store> =
        dossier_store::open(&dir.path().join("dest").display().to_string()).unwrap();
    let mut peer = Peer::new("alpha", &format!("{source_url}/taxii2/api/"));
    peer.auth = Auth::Bearer(token);
    peer.page = 10_000;
    let started = Instant::now();
    let reports = runtime.block_on(dossier_server::sync::run(&dest, &peer)).unwrap();
    let secs = started.elapsed().as_secs_f64();
    let pulled: u64 = reports.iter().map(|r| r.objects).sum();
    let added: u64 = reports.iter().map(|r| r.added).sum();
    println!(
        "pull: {pulled} objects ({added} added) in {secs:.2} s = {:.0} objects/s, {} pages",
        pulled as f64 / secs,
        reports.iter().map(|r| r.requests).sum::<u64>()
    );
    let started = Instant::now();
    let again = runtime.block_on(dossier_server::sync::run(&dest, &peer)).unwrap();
    println!(
        "pull with nothing new: {} object(s) asked again, {:.1} ms",
        again.iter().map(|r| r.objects).sum::<u64>(),
        started.elapsed().as_secs_f64() * 1000.0
    );

    // The push: the source's CLEAR and GREEN objects to a third dossier, served.
    let target = dossier_store::open(&dir.path().join("target").display().to_string()).unwrap();
    let alpha_there = target.peer_org("alpha").unwrap();
    let target_token = target.create_token(alpha_there.id, Role::Member, None, None).unwrap().secret;
    let collection = target.default_collection().unwrap().uuid;
    let target_url = serve(target.clone(), &runtime);
    let source_dyn: Arc<dyn dossier_server::Store> = source.clone();
    let mut to = Peer::new("bravo", &format!("{target_url}/taxii2/api/"));
    to.pull = false;
    to.push = true;
    to.collections = vec![collection];
    to.auth = Auth::Bearer(target_token);
    to.page = 1000;
    let started = Instant::now();
    let reports = runtime.block_on(dossier_server::sync::run(&source_dyn, &to)).unwrap();
    let secs = started.elapsed().as_secs_f64();
    let pushed: u64 = reports.iter().map(|r| r.objects).sum();
    println!(
        "push: {pushed} objects (CLEAR and GREEN of {}) in {secs:.2} s = {:.0} objects/s, {} envelopes",
        made.len(),
        pushed as f64 / secs,
        reports.iter().map(|r| r.requests).sum::<u64>()
    );

    // The OFAC SDN list at its real size: about 18,000 entries, ~1,200 in DPRK and cyber
    // programs, each of those with two currency addresses and an alias.
    let mut sdn = String::new();
    let mut alt = String::new();
    for i in 0..18_000u64 {
        let (program, remarks) = if i % 15 == 0 {
            (
                "DPRK3] [CYBER2",
                format!(
                    "DOB 01 Jan 1990; nationality Korea, North; Digital Currency Address - ETH 0x{:040x}; alt. Digital Currency Address - XBT 1KFHE7w8BhaENAswwryaoccDb6qcT6DbYY; Gender Male.",
                    i + 1
                ),
            )
        } else {
            ("SDGT", "DOB 1970; nationality Somewhere.".to_owned())
        };
        sdn.push_str(&format!(
            "{i},\"NAME{i}, Given\",\"individual\",\"{program}\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"{remarks}\"\r\n"
        ));
        alt.push_str(&format!("{i},{i},\"a.k.a.\",\"ALIAS{i}, Given\",-0- \r\n"));
    }
    let ofac_store = dossier_store::open(&dir.path().join("ofac").display().to_string()).unwrap();
    let isac = ofac_store.isac().unwrap();
    let collection = ofac_store.default_collection().unwrap().id;
    let started = Instant::now();
    let programs = dossier_import::ofac::default_programs();
    let files = dossier_import::ofac::Files { sdn: sdn.as_bytes(), alt: Some(alt.as_bytes()), ..Default::default() };
    let opts = dossier_import::ofac::Options { programs: &programs, now: "2026-01-01T00:00:00.000Z", previous: &[] };
    let converted = dossier_import::ofac::convert(&files, &opts).unwrap();
    let convert_secs = started.elapsed().as_secs_f64();
    let records: Vec<_> =
        converted.objects.iter().map(|o| StixObject::parse(o.to_string().as_bytes()).unwrap().into_record()).collect();
    let sub = Submission { org: isac.id, collection, named: true, curator: true };
    let (summary, _) = dossier_store::import_leaving_out(ofac_store.as_ref(), &sub, &records).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "OFAC SDN import: 18,000 entries ({} kept) → {} objects in {secs:.2} s (conversion {convert_secs:.2} s)",
        converted.notes.first().map(String::as_str).unwrap_or(""),
        summary.total()
    );
}
