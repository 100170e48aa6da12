//! Several `dossier serve` nodes on one PostgreSQL database (a throwaway cluster): what one
//! node accepts, the others serve over TAXII, screen and find within a second; a node
//! killed mid-write loses nothing it acknowledged and stores no half submission; web
//! sessions and sign-in throttling hold across the nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::process::Command;
use std::time::{Duration, Instant};

use dossier_test_support::http::{Response, request, try_request};
use dossier_test_support::postgres::Cluster;
use serde_json::{Value, json};

mod common;

use common::{Served, bin, serve};

const TAXII: &str = "application/taxii+json;version=2.1";

/// `dossier --database-url URL ARGS…`; stdout.
fn cli(url: &str, args: &[&str]) -> String {
    let out = Command::new(bin()).args(["--database-url", url]).args(args).output().unwrap();
    assert!(out.status.success(), "dossier {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn member(url: &str, org: &str) -> String {
    cli(url, &["org", "add", org]);
    cli(url, &["token", "create", "--org", org, "--role", "member"]).lines().last().unwrap().to_owned()
}

fn nodes(dir: &std::path::Path, url: &str, n: usize) -> Vec<Served> {
    (0..n).map(|i| serve(&dir.join(format!("node{i}")), &["--database-url", url])).collect()
}

fn get(node: &Served, path: &str, token: &str, accept: &str) -> Response {
    request(&node.addr(), "GET", path, &[("Authorization", &format!("Bearer {token}")), ("Accept", accept)], None)
}

fn default_collection(node: &Served, token: &str) -> String {
    let r = get(node, "/taxii2/api/collections/", token, TAXII);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["collections"][0]["id"].as_str().unwrap().to_owned()
}

fn post_objects(addr: &str, collection: &str, token: &str, objects: &[Value]) -> std::io::Result<Response> {
    let body = json!({"objects": objects}).to_string();
    try_request(
        addr,
        "POST",
        &format!("/taxii2/api/collections/{collection}/objects/"),
        &[("Authorization", &format!("Bearer {token}")), ("Accept", TAXII), ("Content-Type", TAXII)],
        Some(&body),
    )
}

fn email(value: &str, n: usize) -> Value {
    json!({"type": "email-addr", "spec_version": "2.1", "value": value,
           "id": format!("email-addr--{:08x}-0000-4000-8000-{n:012x}", value.len())})
}

const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

/// Actor `n`, its persona and the persona's email, under `marking`.
fn actor_with_email(value: &str, n: u32, marking: &str) -> Vec<Value> {
    let m = json!([marking]);
    let t = "2025-01-01T00:00:00.000Z";
    let actor = format!("threat-actor--00000000-0000-4000-8000-{n:012}");
    let persona = format!("identity--00000000-0000-4000-8000-{n:012}");
    let e = json!({"type": "email-addr", "spec_version": "2.1", "value": value,
                   "id": format!("email-addr--5d3f6a1e-0000-4000-8000-{n:012}"), "object_marking_refs": m});
    vec![
        json!({"type": "threat-actor", "spec_version": "2.1", "id": actor, "created": t, "modified": t,
               "name": "team one", "object_marking_refs": m}),
        json!({"type": "identity", "spec_version": "2.1", "id": persona, "created": t, "modified": t,
               "name": "Persona Numberone", "identity_class": "individual", "object_marking_refs": m}),
        json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--00000000-0000-4000-8001-{n:012}"),
               "created": t, "modified": t, "relationship_type": "attributed-to", "source_ref": persona, "target_ref": actor,
               "object_marking_refs": m}),
        json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--00000000-0000-4000-8002-{n:012}"),
               "created": t, "modified": t, "relationship_type": "related-to", "source_ref": persona,
               "target_ref": e["id"], "object_marking_refs": m}),
        e,
    ]
}

#[test]
fn what_one_node_accepts_the_others_serve_screen_and_find_within_a_second() {
    let Some(cluster) = Cluster::start() else { return };
    let url = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let writer = member(&url, "Acme Exchange");
    let reader = member(&url, "Other Wallet");
    let nodes = nodes(dir.path(), &url, 3);
    let collection = default_collection(&nodes[0], &writer);
    // Every node has built its screening index before the write.
    for n in &nodes {
        let body = json!({"ref": "warm-up", "emails": ["nobody@example.org"]}).to_string();
        let r = request(
            &n.addr(),
            "POST",
            "/api/v1/screen",
            &[("Authorization", &format!("Bearer {reader}")), ("Content-Type", "application/json")],
            Some(&body),
        );
        assert_eq!(r.json()["decision"], "clear", "{}", r.body);
    }
    let value = "kim.operative@proton.me";
    let objects = actor_with_email(value, 1, GREEN);
    let r = post_objects(&nodes[0].addr(), &collection, &writer, &objects).unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["status"], "complete", "{}", r.body);
    let written = Instant::now();
    let email_id = objects[4]["id"].as_str().unwrap().to_owned();
    for n in &nodes[1..] {
        // Over TAXII.
        let path = format!("/taxii2/api/collections/{collection}/objects/?match[id]={email_id}");
        let r = get(n, &path, &reader, TAXII);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["objects"][0]["value"], value, "{}", r.body);
        // Screening.
        let body = json!({"ref": "applicant-1", "emails": [value]}).to_string();
        let r = request(
            &n.addr(),
            "POST",
            "/api/v1/screen",
            &[("Authorization", &format!("Bearer {reader}")), ("Content-Type", "application/json")],
            Some(&body),
        );
        assert_eq!(r.json()["decision"], "match", "{}", r.body);
        assert_eq!(r.json()["matches"][0]["actor"], objects[0]["id"]);
        // Search.
        let r = get(n, &format!("/api/v1/search?q={value}"), &reader, "application/json");
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains(&email_id), "{}", r.body);
    }
    let took = written.elapsed();
    assert!(took < Duration::from_secs(1), "readable, screenable and searchable on two other nodes in {took:?}");

    // TLP holds on every node: a RED actor written through node 0 is the writer's on
    // node 2, and on node 1 the other member gets neither the object nor the actor.
    let secret = "red.operative@proton.me";
    let red = actor_with_email(secret, 2, RED);
    assert_eq!(post_objects(&nodes[0].addr(), &collection, &writer, &red).unwrap().status, 202);
    let red_id = red[4]["id"].as_str().unwrap();
    let path = format!("/taxii2/api/collections/{collection}/objects/?match[id]={red_id}");
    assert_eq!(get(&nodes[2], &path, &writer, TAXII).json()["objects"][0]["value"], secret);
    let hidden = get(&nodes[1], &path, &reader, TAXII);
    assert!(!hidden.body.contains(secret), "{}", hidden.body);
    let body = json!({"ref": "applicant-2", "emails": [secret]}).to_string();
    let screened = request(
        &nodes[1].addr(),
        "POST",
        "/api/v1/screen",
        &[("Authorization", &format!("Bearer {reader}")), ("Content-Type", "application/json")],
        Some(&body),
    );
    assert_eq!(screened.json()["decision"], "review", "{}", screened.body);
    assert!(!screened.body.contains(red[0]["id"].as_str().unwrap()) && !screened.body.contains(red_id));

    // A web session made on one node is good on every node.
    let login = request(
        &nodes[0].addr(),
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/html")],
        Some(&format!("token={reader}&next=%2Faccount")),
    );
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    for n in &nodes {
        let page = request(&n.addr(), "GET", "/account", &[("Cookie", &cookie), ("Accept", "text/html")], None);
        assert_eq!(page.status, 200, "the session holds on {}: {}", n.addr(), page.body);
        assert!(page.body.contains("Other Wallet"));
    }

    // Failed authentications count across the nodes: twenty failures spread over three
    // nodes, and every node refuses the next.
    let bad = |n: &Served| get(n, "/taxii2/", "dsk_wrong-guess", TAXII).status;
    for i in 0..20 {
        assert_eq!(bad(&nodes[i % 3]), 401, "failure {i}");
    }
    for n in &nodes {
        assert_eq!(bad(n), 429, "{} refuses once the address reached its limit anywhere", n.addr());
    }
    // A valid token is never refused for others' failures.
    assert_eq!(get(&nodes[2], "/taxii2/", &reader, TAXII).status, 200);
}

#[test]
fn a_node_killed_mid_write_loses_nothing_it_acknowledged() {
    let Some(cluster) = Cluster::start() else { return };
    let url = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let writer = member(&url, "Acme Exchange");
    let mut nodes = nodes(dir.path(), &url, 2);
    let collection = default_collection(&nodes[1], &writer);
    let addr = nodes[0].addr();
    // Submissions of 200 objects each, as fast as node 0 takes them, until it dies.
    let (acks, bundles) = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            let mut acknowledged = Vec::new();
            let mut sent = Vec::new();
            for b in 0..10_000usize {
                let objects: Vec<Value> =
                    (0..200).map(|i| email(&format!("b{b}.n{i}@example.org"), b * 1000 + i)).collect();
                let ids: Vec<String> = objects.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
                sent.push(ids.clone());
                match post_objects(&addr, &collection, &writer, &objects) {
                    Ok(r) if r.status == 202 && r.body.contains("\"complete\"") => acknowledged.push(ids),
                    Ok(r) => panic!("refused: {} {}", r.status, r.body),
                    Err(_) => break,
                }
            }
            (acknowledged, sent)
        });
        std::thread::sleep(Duration::from_millis(1500));
        nodes[0].child.kill().unwrap(); // SIGKILL
        nodes[0].child.wait().unwrap();
        sender.join().unwrap()
    });
    assert!(acks.len() >= 2, "some submissions were acknowledged before the kill: {}", acks.len());
    // Node 1 (another process, the same database) holds every acknowledged object, and of
    // the submission in flight all or nothing.
    let exported: Value = serde_json::from_str(&cli(&url, &["export"])).unwrap();
    let stored: std::collections::HashSet<&str> =
        exported["objects"].as_array().unwrap().iter().filter_map(|o| o["id"].as_str()).collect();
    for ids in &acks {
        assert!(ids.iter().all(|i| stored.contains(i.as_str())), "an acknowledged submission is stored whole");
    }
    for ids in &bundles {
        let n = ids.iter().filter(|i| stored.contains(i.as_str())).count();
        assert!(n == 0 || n == ids.len(), "a submission is stored whole or not at all: {n} of {}", ids.len());
    }
    let r = get(&nodes[1], &format!("/taxii2/api/collections/{collection}/manifest/?limit=1"), &writer, TAXII);
    assert_eq!(r.status, 200, "the surviving node serves on: {}", r.body);
}
