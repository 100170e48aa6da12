//! Shared helpers of the black-box HTTP tests: a real listener on port 0, a fresh data
//! directory per test, requests over plain HTTP/1.1.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use dossier_server::{AppState, Config};
use dossier_stix::{Role, StixObject, Tlp};
use dossier_store::{Item, SqliteStore, Submission};
use serde_json::{Value, json};

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The body of a chunked response, joined (or the body as it is).
    pub fn dechunked(&self) -> String {
        if !self.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            return self.body.clone();
        }
        let mut out = String::new();
        let mut rest = self.body.as_str();
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub struct App {
    pub addr: std::net::SocketAddr,
    pub store: Arc<dyn dossier_store::Store>,
    /// The embedded store itself, for fault tests of SQLite (none on PostgreSQL).
    pub sqlite: Option<Arc<SqliteStore>>,
    pub dir: tempfile::TempDir,
    pub tokens: std::collections::HashMap<&'static str, String>,
    pub orgs: std::collections::HashMap<&'static str, dossier_store::Org>,
    pub collection: String,
}

pub const MEMBERS: [&str; 3] = ["Exchange A", "Wallet B", "Recruiter C"];

pub fn spawn_app(config: Config) -> App {
    spawn_app_on(None, config)
}

/// [`spawn_app`] on a database of its own in this test binary's throwaway PostgreSQL
/// cluster (started on first use, stopped when the binary ends); `None` when PostgreSQL is
/// not installed and `DOSSIER_SKIP_POSTGRES=1` says to skip.
pub fn spawn_app_pg(config: Config) -> Option<App> {
    static CLUSTER: std::sync::OnceLock<Option<dossier_test_support::postgres::Cluster>> = std::sync::OnceLock::new();
    let cluster = CLUSTER.get_or_init(dossier_test_support::postgres::Cluster::start).as_ref()?;
    Some(spawn_app_on(Some(&cluster.database()), config))
}

/// [`spawn_app`] on the store at `url` (a PostgreSQL database, say) instead of an embedded
/// store in the temporary directory.
pub fn spawn_app_on(url: Option<&str>, mut config: Config) -> App {
    let dir = tempfile::tempdir().unwrap();
    if config.jobs_dir.is_none() {
        config.jobs_dir = Some(dir.path().join("jobs"));
    }
    let (store, sqlite): (Arc<dyn dossier_store::Store>, _) = match url {
        Some(url) => (dossier_store::open(url).unwrap(), None),
        None => {
            let s = Arc::new(SqliteStore::open(dir.path()).unwrap());
            (s.clone(), Some(s))
        }
    };
    let mut tokens = std::collections::HashMap::new();
    let mut orgs = std::collections::HashMap::new();
    for name in MEMBERS {
        let org = store.add_org(name).unwrap();
        tokens.insert(name, store.create_token(org.id, Role::Member, None, None).unwrap().secret);
        orgs.insert(name, org);
    }
    let isac = store.isac().unwrap();
    tokens.insert("analyst", store.create_token(isac.id, Role::Analyst, None, None).unwrap().secret);
    orgs.insert("analyst", isac);
    let collection = store.default_collection().unwrap().uuid;
    let addr = serve_store(store.clone(), config);
    App { addr, store, sqlite, dir, tokens, orgs, collection }
}

/// A server on `store` (its index built from what is stored), on a port of its own.
fn serve_store(store: Arc<dyn dossier_store::Store>, config: Config) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let state = AppState::new(store, config).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            dossier_server::serve(listener, state, std::future::pending()).await.unwrap();
        });
    });
    addr
}

impl App {
    /// A second server on the same store, with its index built afresh from what is stored
    /// (as after a restart, or on another node), answering to the same tokens.
    pub fn another_node(&self, mut config: Config) -> App {
        let dir = tempfile::tempdir().unwrap();
        if config.jobs_dir.is_none() {
            config.jobs_dir = Some(dir.path().join("jobs"));
        }
        App {
            addr: serve_store(self.store.clone(), config),
            store: self.store.clone(),
            sqlite: self.sqlite.clone(),
            dir,
            tokens: self.tokens.clone(),
            orgs: self.orgs.clone(),
            collection: self.collection.clone(),
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        who: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Response {
        let mut s = TcpStream::connect(self.addr).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if let Some(who) = who {
            req.push_str(&format!("Authorization: Bearer {}\r\n", self.tokens[who]));
        }
        let mut has_accept = false;
        for (k, v) in headers {
            has_accept |= k.eq_ignore_ascii_case("accept");
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !has_accept {
            req.push_str("Accept: application/taxii+json;version=2.1\r\n");
        }
        if let Some(b) = body {
            req.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        req.push_str("\r\n");
        if let Some(b) = body {
            req.push_str(b);
        }
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers =
            lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
        Response { status, headers, body: body.to_owned() }
    }
    pub fn get(&self, path: &str, who: &str) -> Response {
        self.request("GET", path, Some(who), &[], None)
    }
    /// A JSON request to the REST API as `who`.
    pub fn api(&self, method: &str, path: &str, who: &str, body: Option<&str>) -> Response {
        self.request(
            method,
            path,
            Some(who),
            &[("Content-Type", "application/json"), ("Accept", "application/json")],
            body,
        )
    }
    pub fn col(&self, rest: &str) -> String {
        format!("/taxii2/api/collections/{}/{rest}", self.collection)
    }
    /// Stores objects as if `org` had submitted them.
    pub fn submit(&self, org: &str, named: bool, objects: &[Value]) {
        let sub = Submission {
            org: self.orgs[org].id,
            collection: self.store.default_collection().unwrap().id,
            named,
            curator: self.orgs[org].isac,
        };
        let mut items = objects.iter().enumerate().map(|(index, v)| Item::Valid {
            index,
            line: 1,
            object: StixObject::from_value(v).unwrap().into_record(),
        });
        self.store.import(&sub, &mut items, &mut |_| {}).unwrap();
    }
}

pub fn email(value: &str, tlp: Tlp) -> Value {
    sco("email-addr", value, tlp)
}

/// A cyber-observable of type `ty` with its `value`, marked `tlp`, under its deterministic id.
pub fn sco(ty: &str, value: &str, tlp: Tlp) -> Value {
    let mut v = json!({"type": ty, "spec_version": "2.1", "value": value, "object_marking_refs": [tlp.marking_id()]});
    let id = dossier_stix::id::deterministic_sco_id(ty, v.as_object().unwrap()).unwrap();
    v["id"] = json!(id.as_str());
    v
}

pub fn ids(body: &Value, key: &str) -> Vec<String> {
    body[key].as_array().map(|a| a.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect()).unwrap_or_default()
}

/// An actor with one persona tied to `identifier`, all at `tlp`.
pub fn actor_with(n: u32, identifier: &Value, tlp: Tlp) -> Vec<Value> {
    let mut objects = team(n, &format!("Persona Number{n}"), tlp);
    let persona = format!("identity--00000000-0000-4000-8000-{n:012}");
    objects.push(json!({"type": "relationship", "spec_version": "2.1",
        "id": format!("relationship--00000000-0000-4000-8002-{n:012}"), "created": "2025-01-01T00:00:00.000Z",
        "modified": "2025-01-01T00:00:00.000Z", "relationship_type": "related-to", "source_ref": persona,
        "target_ref": identifier["id"], "object_marking_refs": [tlp.marking_id()]}));
    objects.push(identifier.clone());
    objects
}

/// Actor `n` ("team n") and its persona `n` named `persona`, attributed to it, all under
/// `tlp`: the first three objects of [`actor_with`].
pub fn team(n: u32, persona: &str, tlp: Tlp) -> Vec<Value> {
    let m = json!([tlp.marking_id()]);
    let t = "2025-01-01T00:00:00.000Z";
    let actor = format!("threat-actor--00000000-0000-4000-8000-{n:012}");
    let id = format!("identity--00000000-0000-4000-8000-{n:012}");
    vec![
        json!({"type": "threat-actor", "spec_version": "2.1", "id": actor, "created": t, "modified": t,
               "name": format!("team {n}"), "object_marking_refs": m}),
        json!({"type": "identity", "spec_version": "2.1", "id": id, "created": t, "modified": t,
               "name": persona, "identity_class": "individual", "object_marking_refs": m}),
        json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--00000000-0000-4000-8001-{n:012}"),
               "created": t, "modified": t, "relationship_type": "attributed-to", "source_ref": id, "target_ref": actor,
               "object_marking_refs": m}),
    ]
}

/// A signed-in browser: its session cookie and CSRF token.
pub struct Browser<'a> {
    pub app: &'a App,
    pub cookie: String,
    pub csrf: String,
}

pub fn sign_in<'a>(app: &'a App, who: &str) -> Browser<'a> {
    log_in(app, &format!("token={}&next=%2F", app.tokens[who])).expect("the token signs in")
}

/// Posts the sign-in form; the signed-in browser with its cookie and CSRF token, or `None`
/// when the credentials are refused (401).
pub fn log_in<'a>(app: &'a App, form: &str) -> Option<Browser<'a>> {
    let r = app.request(
        "POST",
        "/login",
        None,
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/html")],
        Some(form),
    );
    if r.status != 303 {
        assert_eq!(r.status, 401, "{}", r.body);
        return None;
    }
    let set = r.header("set-cookie").expect("a session cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    let mut b = Browser { app, cookie, csrf: String::new() };
    let page = b.get("/account");
    assert_eq!(page.status, 200, "{}", page.body);
    let at = page.body.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    b.csrf = page.body[at..at + 48].to_owned();
    Some(b)
}

impl Browser<'_> {
    pub fn get(&self, path: &str) -> Response {
        self.app.request("GET", path, None, &[("Cookie", &self.cookie), ("Accept", "text/html")], None)
    }
    pub fn post(&self, path: &str, form: &str) -> Response {
        self.app.request(
            "POST",
            path,
            None,
            &[("Cookie", &self.cookie), ("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/html")],
            Some(form),
        )
    }
}

/// `POST` of a JSON body to the REST API as `who`.
pub fn post_json(app: &App, path: &str, who: &str, body: &str) -> Response {
    app.api("POST", path, who, Some(body))
}

#[allow(unused_imports)]
pub use dossier_test_support::{python, python_script};
