//! Black-box tests of screening jobs (`/api/v1/screen/jobs`): a batch uploaded whole before
//! anything is read, screened in the background, downloaded when done; visible to its own
//! organization only; limits; resumed after a restart. And the idle-connection limit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use dossier_server::Config;
use dossier_server::jobs::JobLimits;
use dossier_stix::Tlp;
use dossier_store::AuditQuery;
use serde_json::{Value, json};

fn post_job(app: &App, who: &str, content_type: &str, body: &str) -> Response {
    app.request(
        "POST",
        "/api/v1/screen/jobs",
        Some(who),
        &[("Content-Type", content_type), ("Accept", "application/json")],
        Some(body),
    )
}

fn api_get(app: &App, path: &str, who: &str) -> Response {
    app.request("GET", path, Some(who), &[("Accept", "application/json")], None)
}

/// Polls a job until it has ended; its last status.
fn wait_done(app: &App, who: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let r = api_get(app, &format!("/api/v1/screen/jobs/{id}"), who);
        assert_eq!(r.status, 200, "{}", r.body);
        let job = r.json();
        if job["status"] == "done" || job["status"] == "failed" {
            return job;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the job did not end: {job}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn applicants(n: usize, hits: &[(usize, &str)]) -> String {
    let mut body = String::new();
    for i in 0..n {
        let email = hits
            .iter()
            .find(|(at, _)| *at == i)
            .map_or_else(|| format!("applicant{i}@example.org"), |(_, e)| (*e).to_owned());
        body.push_str(&json!({"ref": format!("r{i}"), "names": ["Jordan Smith"], "emails": [email]}).to_string());
        body.push('\n');
    }
    body
}

#[test]
fn a_large_job_uploaded_whole_is_screened_and_only_its_organization_reads_it() {
    let app = spawn_app(Config::default());
    let green = email("green.op@proton.me", Tlp::Green);
    let red = email("red.op@proton.me", Tlp::Red);
    app.submit("Exchange A", false, &actor_with(1, &green, Tlp::Green));
    app.submit("Exchange A", false, &actor_with(2, &red, Tlp::Red));
    let n = 30_000;
    let body = applicants(n, &[(7, "green.op@proton.me"), (29_998, "red.op@proton.me")]);
    let mut outcomes = Vec::new();
    for who in ["Wallet B", "Exchange A"] {
        // The whole body goes out before anything is read, as most HTTP clients do.
        let r = post_job(&app, who, "application/x-ndjson", &body);
        assert_eq!(r.status, 202, "{}", r.body);
        let job = r.json();
        let id = job["id"].as_str().unwrap().to_owned();
        assert_eq!(r.header("location"), Some(format!("/api/v1/screen/jobs/{id}").as_str()));
        assert_eq!(job["size"], json!(body.len()));
        let done = wait_done(&app, who, &id);
        assert_eq!(done["status"], "done", "{done}");
        assert_eq!(done["outcome"]["screened"], json!(n));
        assert!(done["expires"].is_string());
        let r = api_get(&app, &format!("/api/v1/screen/jobs/{id}/results"), who);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
        let lines: Vec<Value> = r.body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), n, "one result per record");
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line["ref"], json!(format!("r{i}")), "input order");
        }
        assert_eq!(lines[7]["decision"], "match");
        outcomes.push((who, id, lines[29_998].clone(), done));
    }
    // TLP holds on this path: the RED hit is Exchange A's own, restricted for Wallet B.
    let (_, b_job, b_red, _) = &outcomes[0];
    assert_eq!(b_red["decision"], "review");
    assert_eq!(b_red["matches"], json!([{"restricted": true, "contact": "the ISAC analysts"}]));
    let (_, a_job, a_red, a_done) = &outcomes[1];
    assert_eq!(a_red["decision"], "match");
    assert_eq!(a_done["outcome"]["matched"], json!(2));
    // Nobody else sees a job: not another member, not the ISAC's analysts.
    for who in ["Exchange A", "Recruiter C", "analyst"] {
        for path in [format!("/api/v1/screen/jobs/{b_job}"), format!("/api/v1/screen/jobs/{b_job}/results")] {
            assert_eq!(api_get(&app, &path, who).status, 404, "{who} {path}");
        }
        let listed = api_get(&app, "/api/v1/screen/jobs", who).json();
        assert!(!listed.to_string().contains(b_job.as_str()), "{who} lists B's job");
        let r = app.request("DELETE", &format!("/api/v1/screen/jobs/{b_job}"), Some(who), &[], None);
        assert_eq!(r.status, 404, "{who} deletes B's job");
    }
    let listed = api_get(&app, "/api/v1/screen/jobs", "Wallet B").json();
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(listed["jobs"][0]["id"], json!(b_job));
    // The screens are audited as a batch's are: hashes only.
    let log = app
        .store
        .audit_log(&AuditQuery {
            org: Some(app.orgs["Wallet B"].id),
            path_prefix: Some("/api/v1/screen/jobs (records)".into()),
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    let audited: u64 = log.iter().map(|r| r.returned).sum();
    assert_eq!(audited, n as u64);
    let all = app.store.audit_log(&AuditQuery { limit: 10_000, ..Default::default() }).unwrap();
    let text = serde_json::to_string(&all.iter().map(|r| r.params.clone()).collect::<Vec<_>>()).unwrap();
    for clear in ["green.op@proton.me", "applicant12@example.org", "Jordan Smith"] {
        assert!(!text.contains(clear), "{clear} reached the audit log");
    }
    // The upload is gone once screened; DELETE removes the results too.
    let jobs_dir = app.dir.path().join("jobs");
    assert!(!jobs_dir.join(format!("{a_job}.in")).exists());
    assert!(jobs_dir.join(format!("{a_job}.out")).exists());
    let r = app.request("DELETE", &format!("/api/v1/screen/jobs/{a_job}"), Some("Exchange A"), &[], None);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(api_get(&app, &format!("/api/v1/screen/jobs/{a_job}"), "Exchange A").status, 404);
    let left: Vec<_> = std::fs::read_dir(&jobs_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(a_job.as_str()))
        .collect();
    assert!(left.is_empty(), "files left: {left:?}");
}

#[test]
fn jobs_refuse_what_they_cannot_take_and_keep_nothing_of_it() {
    let limits = JobLimits { per_org: 2, max_bytes: 4096, ..JobLimits::default() };
    let app = spawn_app(Config { job_limits: limits, ..Config::default() });
    let jobs_dir = app.dir.path().join("jobs");
    // A CSV header that names no field: refused at once, naming it.
    let r = post_job(&app, "Wallet B", "text/csv", "Candidate,Shoe size\nx,9\n");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.json()["description"].as_str().unwrap().contains("CSV header"), "{}", r.body);
    // Too large.
    let r = post_job(&app, "Wallet B", "application/x-ndjson", &applicants(200, &[]));
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(std::fs::read_dir(&jobs_dir).unwrap().count(), 0, "nothing kept of refused uploads");
    // At most two kept per organization; another organization is not affected.
    for _ in 0..2 {
        assert_eq!(post_job(&app, "Wallet B", "application/x-ndjson", &applicants(3, &[])).status, 202);
    }
    let r = post_job(&app, "Wallet B", "application/x-ndjson", &applicants(3, &[]));
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    assert_eq!(post_job(&app, "Recruiter C", "application/x-ndjson", &applicants(3, &[])).status, 202);
    // A record that cannot be read gets its error line; the rest are screened.
    let listed = api_get(&app, "/api/v1/screen/jobs", "Recruiter C").json();
    let id = listed["jobs"][0]["id"].as_str().unwrap().to_owned();
    wait_done(&app, "Recruiter C", &id);
    app.request("DELETE", &format!("/api/v1/screen/jobs/{id}"), Some("Recruiter C"), &[], None);
    let r = post_job(
        &app,
        "Recruiter C",
        "application/x-ndjson",
        "{\"ref\": \"a\", \"emails\": [\"x@example.org\"]}\n{oops\n",
    );
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let done = wait_done(&app, "Recruiter C", &id);
    assert_eq!(done["outcome"]["screened"], json!(1));
    assert_eq!(done["outcome"]["errors"], json!(1));
    let results = api_get(&app, &format!("/api/v1/screen/jobs/{id}/results"), "Recruiter C").body;
    assert_eq!(results.lines().count(), 2);
    assert!(results.lines().nth(1).unwrap().contains("\"line\":2"), "{results}");
    // Without a token, nothing.
    assert_eq!(app.request("GET", "/api/v1/screen/jobs", None, &[], None).status, 401);
}

#[test]
fn a_job_left_unfinished_by_a_stopped_server_runs_again_at_the_next_start() {
    let first = spawn_app(Config::default());
    let org = first.orgs["Wallet B"].id;
    let jobs = tempfile::tempdir().unwrap();
    let id = "0123456789abcdef0123456789abcdef";
    std::fs::write(jobs.path().join(format!("{id}.in")), applicants(1000, &[])).unwrap();
    std::fs::write(jobs.path().join(format!("{id}.out.part")), "half of an old run\n").unwrap();
    let kept = json!({
        "info": {"id": id, "status": "running", "created": "2026-01-01T00:00:00.000Z",
                 "started": "2026-01-01T00:00:01.000Z", "size": 1,
                 "outcome": {"screened": 10, "errors": 0, "matched": 0, "review": 0, "clear": 10}},
        "org": org, "token": "t", "role": "member", "isac": false, "csv": false, "expires_at": null
    });
    std::fs::write(jobs.path().join(format!("{id}.json")), kept.to_string()).unwrap();
    // The same organizations exist in the next store (they are created in the same order).
    let app = spawn_app(Config { jobs_dir: Some(jobs.path().to_owned()), ..Config::default() });
    assert_eq!(app.orgs["Wallet B"].id, org);
    let done = wait_done(&app, "Wallet B", id);
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["outcome"]["screened"], json!(1000));
    let r = api_get(&app, &format!("/api/v1/screen/jobs/{id}/results"), "Wallet B");
    assert_eq!(r.body.lines().count(), 1000, "the old partial results are not kept");
    assert!(!jobs.path().join(format!("{id}.in")).exists());
    assert_eq!(api_get(&app, &format!("/api/v1/screen/jobs/{id}"), "Exchange A").status, 404);
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_limit() {
    let app = spawn_app(Config { idle_timeout: Duration::from_secs(1), ..Config::default() });
    let mut s = std::net::TcpStream::connect(app.addr).unwrap();
    s.write_all(b"GET /healthz/live HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "kept alive after an answer");
    let idle = Instant::now();
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server closes the idle connection");
    assert!(idle.elapsed() < Duration::from_secs(5), "closed after {:?}", idle.elapsed());
    // A connection that never sends a whole request is closed as well.
    let mut s = std::net::TcpStream::connect(app.addr).unwrap();
    s.write_all(b"GET /healthz/live HTTP/1.1\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = s.read(&mut buf).unwrap_or(0);
    assert!(n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"), "{}", String::from_utf8_lossy(&buf[..n]));
}

#[test]
fn exports_as_they_come_are_taken_by_the_batch_and_the_job_with_their_notes() {
    let app = spawn_app(Config::default());
    let stored = email("cs.dev@proton.me", Tlp::Green);
    app.submit("Exchange A", false, &actor_with(1, &stored, Tlp::Green));
    let csv = "Candidate ID,First Name,Last Name,Email Address,Stage\nc-1,Chol-su,Kim,cs.dev@proton.me,Applied\nc-2,Jo,Doe,jo@example.org,Applied\n";
    let r = app.request(
        "POST",
        "/api/v1/screen/batch",
        Some("Wallet B"),
        &[("Content-Type", "text/csv"), ("Accept", "application/x-ndjson")],
        Some(csv),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-dossier-note"), Some("columns ignored (not recognised): Stage"));
    let lines: Vec<Value> = r.dechunked().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!((lines[0]["ref"].as_str(), lines[0]["decision"].as_str()), (Some("c-1"), Some("match")));
    // A mapping in the query; a bad one is refused naming it.
    let odd = "Applicant,Mail\nx-1,cs.dev@proton.me\n";
    let r = app.request(
        "POST",
        "/api/v1/screen/batch?map=Applicant%3Dref&map=Mail%3Demails",
        Some("Wallet B"),
        &[("Content-Type", "text/csv")],
        Some(odd),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.dechunked().contains("\"ref\":\"x-1\""), "{}", r.body);
    let r = app.request(
        "POST",
        "/api/v1/screen/batch?map=Mail%3Dshoe_size",
        Some("Wallet B"),
        &[("Content-Type", "text/csv")],
        Some(odd),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["description"].as_str().unwrap().contains("unknown field"), "{}", r.body);
    // A job keeps its mapping and tells its notes.
    let r = app.request(
        "POST",
        "/api/v1/screen/jobs?map=Mail%3Demails",
        Some("Wallet B"),
        &[("Content-Type", "text/csv"), ("Accept", "application/json")],
        Some(odd),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let job = r.json();
    assert_eq!(
        job["notes"],
        json!(["columns ignored (not recognised): Applicant", "no ref column: each record's ref is its line number"])
    );
    let done = wait_done(&app, "Wallet B", job["id"].as_str().unwrap());
    assert_eq!(done["outcome"]["matched"], json!(1));
}

#[test]
fn a_client_that_sends_everything_and_never_reads_is_disconnected() {
    // The streamed batch with a client that sends the whole body before reading, and
    // never reads: both sides' buffers fill. The batch ends after the time limit, and the
    // connection — whose answer can never be delivered — is closed too.
    let app = spawn_app(Config { request_timeout: Duration::from_secs(2), ..Config::default() });
    let mut body = String::new();
    for i in 0..80_000 {
        body.push_str(
            &json!({"ref": format!("r{i}"), "names": ["Jordan Smith"], "emails": [format!("p{i}@example.org")]})
                .to_string(),
        );
        body.push('\n');
    }
    let mut s = std::net::TcpStream::connect(app.addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    // A body announced far larger than what is sent, sent on and on: the server reads
    // it only as fast as its answer is taken, which is never.
    let head = format!(
        "POST /api/v1/screen/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
        app.tokens["Wallet B"],
        1u64 << 40
    );
    let started = Instant::now();
    let mut sent: std::io::Result<()> = s.write_all(head.as_bytes());
    while sent.is_ok() && started.elapsed() < Duration::from_secs(60) {
        sent = s.write_all(body.as_bytes());
    }
    let e = sent.expect_err("the server never closed the connection");
    assert!(
        !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        "the server never closed the connection: {e}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "closed only after {:?}", started.elapsed());
    // The server goes on serving.
    assert_eq!(app.request("GET", "/healthz/live", None, &[], None).status, 200);
}

#[test]
fn a_large_streamed_batch_keeps_records_whole_and_lines_right_across_steps() {
    // The streamed batch screens about 256 KiB at a time: a CSV record with a line break
    // inside quotes and error lines far into the upload must come out whole and rightly
    // numbered, in order.
    let app = spawn_app(Config::default());
    let mut csv = String::from("ref,names,resume_text\n");
    let mut line = 2u64;
    let mut bad_lines = Vec::new();
    for i in 0..6000 {
        if i % 1500 == 1499 {
            // A row with a field too many: an error naming its line.
            csv.push_str(&format!("r{i},Jo Doe,x,extra\n"));
            bad_lines.push((i, line));
            line += 1;
        } else {
            csv.push_str(&format!(
                "r{i},Jo Doe,\"first line {i}\nsecond line of a quoted resume field {}\"\n",
                "x".repeat(40)
            ));
            line += 2;
        }
    }
    let r = app.request(
        "POST",
        "/api/v1/screen/batch",
        Some("Wallet B"),
        &[("Content-Type", "text/csv"), ("Accept", "application/x-ndjson")],
        Some(&csv),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let out: Vec<Value> = r.dechunked().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(out.len(), 6000, "one line per record");
    for (i, l) in out.iter().enumerate() {
        match bad_lines.iter().find(|(at, _)| *at == i) {
            Some((_, want)) => assert_eq!(l["line"], json!(want), "record {i}: {l}"),
            None => assert_eq!(l["ref"], json!(format!("r{i}")), "record {i}: {l}"),
        }
    }
    // JSON Lines alike.
    let mut jsonl = String::new();
    for i in 0..8000 {
        if i == 7777 {
            jsonl.push_str("{not json\n");
        } else {
            jsonl.push_str(
                &json!({"ref": format!("j{i}"), "names": ["Jo Doe"], "resume_text": "y".repeat(30)}).to_string(),
            );
            jsonl.push('\n');
        }
    }
    let r = app.request(
        "POST",
        "/api/v1/screen/batch",
        Some("Wallet B"),
        &[("Content-Type", "application/x-ndjson")],
        Some(&jsonl),
    );
    let out: Vec<Value> = r.dechunked().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(out.len(), 8000);
    assert_eq!(out[7777]["line"], json!(7778), "{}", out[7777]);
    assert_eq!(out[7999]["ref"], json!("j7999"));
}
