//! The web interface, black-box over HTTP: sign-in, sessions, CSRF, and TLP on every page
//! that reads data — each level seen by exactly the right organizations.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a panic is a failure report

mod common;

use common::*;
use dossier_server::Config;
use dossier_stix::Tlp;
use serde_json::{Value, json};

const T: &str = "2026-01-02T03:04:05.000Z";

fn sdo(ty: &str, n: u32, extra: Value, tlp: Tlp) -> Value {
    let mut v = json!({
        "type": ty, "spec_version": "2.1", "id": format!("{ty}--00000000-0000-4000-8000-{n:012}"),
        "created": T, "modified": T, "confidence": 80, "object_marking_refs": [tlp.marking_id()],
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn rel(n: u32, ty: &str, src: &Value, dst: &Value, tlp: Tlp) -> Value {
    sdo("relationship", n, json!({"relationship_type": ty, "source_ref": src["id"], "target_ref": dst["id"]}), tlp)
}

fn wallet(value: &str, tlp: Tlp) -> Value {
    let mut v = json!({"type": "cryptocurrency-wallet", "spec_version": "2.1", "value": value, "object_marking_refs": [tlp.marking_id()]});
    let id = dossier_stix::id::deterministic_sco_id("cryptocurrency-wallet", v.as_object().unwrap()).unwrap();
    v["id"] = json!(id.as_str());
    v
}

const RED_WALLET: &str = "0x52908400098527886e0f7030069857d2e4169ee7";

struct World {
    app: App,
    red_actor: String,
    green_persona: String,
}

/// Wallet B shares a RED actor with its persona, email and wallet (anonymously); Exchange A
/// shares a GREEN actor whose persona uses the same wallet (anonymously too).
fn world() -> World {
    world_on(spawn_app(Config::default()))
}

/// The same world on PostgreSQL; `None` when its tests are skipped.
fn world_pg() -> Option<World> {
    spawn_app_pg(Config::default()).map(world_on)
}

/// Each test below that runs on this world runs on both stores: `name` on the embedded
/// one, `name_on_postgres` on a PostgreSQL database of its own, the same body.
macro_rules! on_both_stores {
    ($($name:ident, $pg:ident, $body:ident;)*) => {$(
        #[test]
        fn $name() {
            $body(world());
        }
        #[test]
        fn $pg() {
            if let Some(w) = world_pg() {
                $body(w);
            }
        }
    )*};
}

fn world_on(app: App) -> World {
    let red_actor = sdo("threat-actor", 1, json!({"name": "Crimson Secret Team"}), Tlp::Red);
    let red_persona =
        sdo("identity", 2, json!({"name": "Redacted Hiddenname", "identity_class": "individual"}), Tlp::Red);
    let red_email = email("red.only@example.com", Tlp::Red);
    let red_wallet = wallet(RED_WALLET, Tlp::Red);
    app.submit(
        "Wallet B",
        false,
        &[
            red_actor.clone(),
            red_persona.clone(),
            red_email.clone(),
            red_wallet.clone(),
            rel(3, "attributed-to", &red_persona, &red_actor, Tlp::Red),
            rel(4, "related-to", &red_persona, &red_email, Tlp::Red),
            rel(5, "related-to", &red_persona, &red_wallet, Tlp::Red),
        ],
    );
    let green_actor = sdo("threat-actor", 11, json!({"name": "Verdant Team"}), Tlp::Green);
    let green_persona =
        sdo("identity", 12, json!({"name": "Gil Dong Hong", "identity_class": "individual"}), Tlp::Green);
    let green_email = email("green.persona@example.com", Tlp::Green);
    app.submit(
        "Exchange A",
        false,
        &[
            green_actor.clone(),
            green_persona.clone(),
            green_email.clone(),
            rel(13, "attributed-to", &green_persona, &green_actor, Tlp::Green),
            rel(14, "related-to", &green_persona, &green_email, Tlp::Green),
            // A GREEN tie to Wallet B's RED wallet: the tie is visible, the wallet is not.
            rel(15, "related-to", &green_persona, &red_wallet, Tlp::Green),
        ],
    );
    World {
        app,
        red_actor: red_actor["id"].as_str().unwrap().to_owned(),
        green_persona: green_persona["id"].as_str().unwrap().to_owned(),
    }
}

/// A signed-in browser: its session cookie and CSRF token.
fn pages_need_a_session_and_sign_in_checks_credentials_in(w: World) {
    let r = w.app.request("GET", "/search?q=x", None, &[("Accept", "text/html")], None);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login?next=/search"));
    let r = w.app.request("GET", "/login", None, &[("Accept", "text/html")], None);
    assert_eq!(r.status, 200);
    assert!(r.header("content-security-policy").unwrap().contains("default-src 'self'"));
    let r = w.app.request(
        "POST",
        "/login",
        None,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some("token=dsk_wrong&next=%2F"),
    );
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    // An open redirect is refused: only local paths follow sign-in.
    let body = format!("token={}&next=https%3A%2F%2Fevil.example%2F", w.app.tokens["Exchange A"]);
    let r =
        w.app.request("POST", "/login", None, &[("Content-Type", "application/x-www-form-urlencoded")], Some(&body));
    assert_eq!(r.header("location"), Some("/"));
}

fn forms_need_the_session_csrf_token_and_this_origin_in(w: World) {
    let b = sign_in(&w.app, "Exchange A");
    let r = b.post("/screen", "csrf=wrong&emails=a%40example.com");
    assert_eq!(r.status, 403, "{}", r.body);
    let r = w.app.request(
        "POST",
        "/screen",
        None,
        &[
            ("Cookie", &b.cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "https://evil.example"),
        ],
        Some(&format!("csrf={}&emails=a%40example.com", b.csrf)),
    );
    assert_eq!(r.status, 403);
    let r = b.post("/screen", &format!("csrf={}&emails=a%40example.com", b.csrf));
    assert_eq!(r.status, 200);
    // Signing out ends the session for good.
    let r = b.post("/logout", &format!("csrf={}", b.csrf));
    assert_eq!(r.status, 303);
    assert_eq!(b.get("/").status, 303);
}

fn a_revoked_token_ends_its_sessions_in(w: World) {
    let b = sign_in(&w.app, "Recruiter C");
    assert_eq!(b.get("/").status, 200);
    let org = w.app.orgs["Recruiter C"].id;
    let token = w.app.store.tokens().unwrap().into_iter().find(|t| t.org == org).unwrap();
    w.app.store.revoke_token(&token.id).unwrap();
    std::thread::sleep(Config::default().cache_ttl + std::time::Duration::from_millis(200));
    assert_eq!(b.get("/").status, 303);
}

fn red_data_is_seen_by_exactly_its_owner_and_isac_analysts_on_every_page_in(w: World) {
    for (who, sees_red) in [("Wallet B", true), ("analyst", true), ("Exchange A", false), ("Recruiter C", false)] {
        let b = sign_in(&w.app, who);
        let red_name = "Crimson Secret Team";
        let markers = [red_name, "Redacted Hiddenname", RED_WALLET, w.red_actor.as_str()];
        // What must show where (when the viewer may see it); nothing of it may show otherwise.
        let check = |path: &str, page: &Response, expected: &[&str]| {
            assert_eq!(page.status, 200, "{who} {path}: {}", page.body);
            for m in markers {
                if !sees_red {
                    assert!(!page.body.contains(m), "{who} sees {m} on {path}");
                }
            }
            if sees_red {
                for m in expected {
                    assert!(page.body.contains(m), "{who} misses {m} on {path}");
                }
            }
        };
        check("/", &b.get("/"), &[red_name]);
        check("/actors", &b.get("/actors"), &[red_name]);
        check("/contribute", &b.get("/contribute"), &[red_name]);
        check("search email", &b.get("/search?q=red.only%40example.com"), &[red_name, "Redacted Hiddenname"]);
        // Lower case: the page echoes the query, which is not a leak.
        check("search name", &b.get("/search?q=redacted+hiddenname"), &["Redacted Hiddenname"]);
        // The GREEN persona's page and its graph: the RED wallet tied to it stays hidden.
        let page = b.get(&format!("/objects/{}", w.green_persona));
        check("green persona", &page, &[RED_WALLET, red_name]);
        assert!(page.body.contains("Gil Dong Hong"));
        // Screening: a hidden match is restricted, with no values.
        // The checksummed spelling: the form echoes what was typed, which is not a leak.
        let page = b.post(
            "/screen",
            &format!(
                "csrf={}&emails=red.only%40example.com&wallets=0x52908400098527886E0F7030069857D2E4169EE7",
                b.csrf
            ),
        );
        check("screen", &page, &[red_name]);
        assert_eq!(page.body.contains("restricted match"), !sees_red, "{who} screen");
        // The batch upload of the screen page: the same rule, line by line.
        let batch = "{\"ref\":\"b1\",\"emails\":[\"red.only@example.com\"]}\n{\"ref\":\"b2\",\"wallets\":[{\"address\":\"0x52908400098527886E0F7030069857D2E4169EE7\"}]}\n";
        let page = w.app.request(
            "POST",
            "/screen/batch",
            None,
            &[("Cookie", &b.cookie), ("X-CSRF-Token", &b.csrf), ("Content-Type", "application/x-ndjson")],
            Some(batch),
        );
        check("batch", &page, &[red_name]);
        let lines: Vec<Value> = page.dechunked().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{who}: {}", page.body);
        for l in &lines {
            let restricted =
                l["matches"].as_array().unwrap_or_else(|| panic!("{who}: {l}")).iter().any(|m| m["restricted"] == true);
            assert_eq!(restricted, !sees_red, "{who} batch: {l}");
        }
        // The RED actor's own page answers like an unknown id.
        let page = b.get(&format!("/actors/{}", w.red_actor));
        let unknown = b.get("/actors/threat-actor--00000000-0000-4000-8000-999999999999");
        assert_eq!(unknown.status, 404);
        if sees_red {
            assert_eq!(page.status, 200);
            assert!(page.body.contains(red_name));
        } else {
            assert_eq!(page.status, 404, "{who}");
            assert_eq!(page.body, unknown.body, "hidden and unknown must look alike");
        }
    }
}

fn anonymous_sources_stay_anonymous_except_to_their_owner_and_analysts_in(w: World) {
    // An object that names its anonymous submitter in created_by_ref: the STIX shown on its
    // page carries the ISAC's identity instead, for whoever may not know the submitter.
    let exchange = w.app.orgs["Exchange A"].identity_id.clone();
    let signed = sdo(
        "identity",
        31,
        json!({"name": "Signed Persona", "identity_class": "individual", "created_by_ref": exchange}),
        Tlp::Green,
    );
    w.app.submit("Exchange A", false, std::slice::from_ref(&signed));
    for (who, sees_name) in [("Exchange A", true), ("analyst", true), ("Recruiter C", false)] {
        let b = sign_in(&w.app, who);
        let page = b.get(&format!("/objects/{}", signed["id"].as_str().unwrap()));
        assert_eq!(page.status, 200);
        assert_eq!(page.body.contains(&exchange), sees_name, "{who}: created_by_ref");
        let page = b.get(&format!("/objects/{}", w.green_persona));
        assert_eq!(page.status, 200);
        assert_eq!(page.body.contains("Exchange A"), sees_name, "{who}");
        assert!(page.body.contains("an ISAC member") || sees_name);
        let actors = b.get("/actors");
        assert_eq!(actors.body.contains("<td>Exchange A</td>"), sees_name, "{who} on /actors");
    }
}

fn searches_and_screens_are_audited_with_hashes_only_in(w: World) {
    let b = sign_in(&w.app, "Exchange A");
    assert_eq!(b.get("/search?q=green.persona%40example.com").status, 200);
    let r = b.post("/screen", &format!("csrf={}&names=Gil+Dong+Hong&emails=green.persona%40example.com", b.csrf));
    assert!(r.body.contains("Verdant Team"), "{}", r.body);
    let log = w.app.store.audit_log(&dossier_store::AuditQuery { limit: 100, ..Default::default() }).unwrap();
    let web: Vec<_> = log.iter().filter(|r| r.path.starts_with("web:/s")).collect();
    assert!(web.iter().any(|r| r.path == "web:/search"), "{log:?}");
    assert!(web.iter().any(|r| r.path == "web:/screen" && r.params.as_deref().unwrap_or("").contains("\"decision\"")));
    for r in &log {
        let p = r.params.as_deref().unwrap_or("");
        assert!(!p.contains("green.persona") && !p.contains("Gil Dong"), "clear identifier in the audit log: {p}");
    }
}

fn a_contributed_persona_is_stored_and_bad_fields_are_named_in(w: World) {
    let b = sign_in(&w.app, "Recruiter C");
    let bad = format!(
        "csrf={}&name=New+Persona&wallets=0x123&emails=not-an-email&bank_accounts=GB33BUKB20201555555556&websites=ftp%3A%2F%2Fx.dev&photos=xyz&id_documents=library+card+1234&addresses=1420+Oak+St%2C+Springfield&tlp=amber&confidence=70&collection=",
        b.csrf
    );
    let r = b.post("/contribute", &bad);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"err-wallets\""), "{}", r.body);
    assert!(r.body.contains("id=\"err-emails\""));
    // A look-alike IBAN (check digits fail) and a non-web address are named too.
    assert!(r.body.contains("id=\"err-bank_accounts\"") && r.body.contains("check digits"), "{}", r.body);
    assert!(r.body.contains("id=\"err-websites\""), "{}", r.body);
    assert!(r.body.contains("id=\"err-photos\""), "{}", r.body);
    assert!(r.body.contains("id=\"err-id_documents\""), "{}", r.body);
    // An address needs its country (a STIX location does).
    assert!(r.body.contains("id=\"err-addresses\"") && r.body.contains("country"), "{}", r.body);
    let before = w.app.store.counts().unwrap();
    let good = format!(
        "csrf={}&name=New+Persona&wallets={RED_WALLET}&emails=new.persona%40example.com&bank_accounts=GB33+BUKB+2020+1555+5555+55&websites=https%3A%2F%2Fwww.fresh-persona.dev%2Fcv&photos=9a3c5e710f2db468&id_documents=passport+KR+M12345678&addresses=1420+N+Oak+St+Apt+3%2C+Springfield%2C+IL+62704&region=US&tlp=amber&confidence=70&actor=new&new_actor=Fresh+Team",
        b.csrf
    );
    let r = b.post("/contribute", &good);
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap().to_owned();
    assert!(to.starts_with("/objects/identity--"), "{to}");
    assert!(w.app.store.counts().unwrap().1 > before.1);
    let page = b.get(to.split('?').next().unwrap());
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("New Persona")
            && page.body.contains("Fresh Team")
            && page.body.contains("new.persona@example.com")
    );
    // Another member screening that email finds it at once.
    let other = sign_in(&w.app, "Exchange A");
    let r = other.post("/screen", &format!("csrf={}&emails=new.persona%40example.com", other.csrf));
    assert!(r.body.contains("Fresh Team"), "{}", r.body);
    // And its bank account in the national form, and its website, from the screening form.
    let r = other.post("/screen", &format!("csrf={}&bank_accounts=20-20-15+55555555", other.csrf));
    assert!(r.body.contains("Fresh Team") && r.body.contains("nat:GB:202015:55555555"), "{}", r.body);
    let r = other.post("/screen", &format!("csrf={}&websites=fresh-persona.dev", other.csrf));
    assert!(r.body.contains("Fresh Team") && r.body.contains("site:fresh-persona.dev"), "{}", r.body);
    // Its photo, from a hash two bits away (the same picture re-saved).
    let r = other.post("/screen", &format!("csrf={}&photos=9a3c5e710f2db46b", other.csrf));
    assert!(r.body.contains("Fresh Team") && r.body.contains("perceptual hash"), "{}", r.body);
    // Its passport, written another way; the number is in the store only as a keyed hash,
    // and the result page does not echo it.
    let r = other.post("/screen", &format!("csrf={}&id_documents=Passport+KOR+m1234-5678", other.csrf));
    let result = r.body.split("id=\"screen-form\"").next().unwrap_or_default();
    assert!(result.contains("Fresh Team") && result.contains("…678"), "{}", r.body);
    assert!(!result.contains("1234-5678") && !result.contains("12345678"), "the result echoes the number: {result}");
    // Its address, typed another way: the same flat asks for review.
    let r = other.post("/screen", &format!("csrf={}&addresses=1420+oak+street+%233+springfield+62704", other.csrf));
    assert!(r.body.contains("Fresh Team") && r.body.contains("same unit"), "{}", r.body);
    assert!(!r.body.contains("class=\"absent\""), "nothing else was given: {}", r.body);
    // Beside an e-mail address and a phone that are nobody's, the page says they count against it.
    let r = other.post(
        "/screen",
        &format!(
            "csrf={}&addresses=1420+oak+street+%233+springfield+62704&emails=someone.else%40example.org&phones=%2B1+217+555+0199",
            other.csrf
        ),
    );
    let result = r.body.split("id=\"screen-form\"").next().unwrap_or_default();
    assert!(result.contains("Fresh Team") && result.contains("class=\"absent\""), "{result}");
    assert!(result.contains("emails, phones") && result.contains("-0.6"), "{result}");
    let stored: Vec<String> = {
        use dossier_store::Query;
        let mut all = Vec::new();
        w.app
            .store
            .scan_raw(&Query::default(), &mut |e| {
                all.push(e.json.to_string());
                true
            })
            .unwrap();
        all
    };
    assert!(stored.iter().any(|j| j.contains("x-dossier-identity-document")), "no document stored");
    assert!(
        stored.iter().any(|j| j.contains("\"located-at\"")) && stored.iter().any(|j| j.contains("\"country\":\"US\"")),
        "no location stored"
    );
    assert!(stored.iter().all(|j| !j.contains("M12345678") && !j.contains("12345678")), "a raw number was stored");
}

fn a_bundle_upload_is_validated_whole_in(w: World) {
    let b = sign_in(&w.app, "Exchange A");
    let collection = { w.app.store.default_collection().unwrap().id };
    let bad = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": [
        sdo("threat-actor", 21, json!({"name": "Bundle Team"}), Tlp::Green),
        sdo("identity", 22, json!({"identity_class": "individual", "created": "not a date"}), Tlp::Green),
    ]});
    let form = |v: &Value| format!("csrf={}&collection={collection}&bundle={}", b.csrf, urlencode(&v.to_string()));
    let r = b.post("/contribute/bundle", &form(&bad));
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("object #1") && r.body.contains("identity--00000000-0000-4000-8000-000000000022"),
        "{}",
        r.body
    );
    assert!(!b.get("/actors").body.contains("Bundle Team"), "nothing of a refused bundle is stored");
    let good = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000002", "objects": [
        sdo("threat-actor", 21, json!({"name": "Bundle Team"}), Tlp::Green),
    ]});
    let r = b.post("/contribute/bundle", &form(&good));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("1 objects stored"));
    assert!(b.get("/actors").body.contains("Bundle Team"));
}

fn administration_is_for_isac_staff_and_a_new_token_is_shown_once_in(w: World) {
    let member = sign_in(&w.app, "Exchange A");
    assert_eq!(member.get("/admin").status, 403);
    assert_eq!(member.get("/admin/audit").status, 403);
    assert_eq!(member.post("/admin/orgs", &format!("csrf={}&name=Rogue", member.csrf)).status, 403);
    let analyst = sign_in(&w.app, "analyst");
    assert_eq!(analyst.get("/admin").status, 200);
    assert_eq!(analyst.get("/admin/audit?path=web%3A").status, 200);
    // Analysts read; only admins change.
    assert_eq!(analyst.post("/admin/orgs", &format!("csrf={}&name=Rogue", analyst.csrf)).status, 403);
}

fn every_page_renders_in(w: World) {
    let b = sign_in(&w.app, "analyst");
    for path in [
        "/",
        "/search",
        "/search?q=Gil&field=names&tlp=green&min_confidence=10&since=2020-01-01",
        "/actors",
        "/actors?page=2",
        "/screen",
        "/screen/batch",
        "/contribute",
        "/admin",
        "/admin/audit",
        "/static/app.css",
        "/static/app.js",
    ] {
        let r = b.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    assert_eq!(b.get("/static/nope.js").status, 404);
    assert_eq!(b.get("/search?since=yesterday&q=x").status, 400);
    // A path that is nothing: the web's own 404 page (with its security headers), while
    // TAXII and the API keep answering in their own media types.
    let r = b.get("/no/such/page");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("<h1>Not found</h1>") && r.header("content-security-policy").is_some(), "{}", r.body);
    let r = b.get("/api/v1/nothing");
    assert_eq!(r.status, 404);
    assert!(!r.body.contains("<html"), "{}", r.body);
    // A TAXII client probing for an API root that does not exist (roots may live at any
    // path) gets a TAXII error message, not the page.
    let r = w.app.request("GET", "/no-such-root/", Some("Wallet B"), &[], None);
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").is_some_and(|t| t.starts_with("application/taxii+json")), "{:?}", r.headers);
    assert_eq!(r.json()["http_status"], "404");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn a_recorded_sighting_shows_on_the_persona_page_to_whom_its_tlp_allows_in(w: World) {
    let b = sign_in(&w.app, "Exchange A");
    let path = format!("/objects/{}/sighting", w.green_persona);
    for (tlp, text) in [("red", "Applied+for+a+backend+role+%28red%29"), ("amber", "Applied+again+%28amber%29")] {
        let r = b.post(&path, &format!("csrf={}&date=2026-11-20&tlp={tlp}&description={text}", b.csrf));
        assert_eq!(r.status, 303, "{}", r.body);
    }
    // Unknown or hidden objects cannot be sighted.
    let r = b.post(&format!("/objects/{}/sighting", w.red_actor), &format!("csrf={}&tlp=amber", b.csrf));
    assert_eq!(r.status, 404);
    for (who, sees_red) in [("Exchange A", true), ("analyst", true), ("Recruiter C", false), ("Wallet B", false)] {
        let page = sign_in(&w.app, who).get(&format!("/objects/{}", w.green_persona));
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Applied again (amber)"), "{who}");
        assert!(page.body.contains("2026-11-20"), "{who}");
        assert_eq!(page.body.contains("Applied for a backend role (red)"), sees_red, "{who}");
    }
    // The sighting is also on the actor's page (it is about the actor's persona).
    let actor = sign_in(&w.app, "Recruiter C").get("/search?q=green.persona%40example.com");
    let at = actor.body.find("href=\"/actors/").unwrap() + 6;
    let href = &actor.body[at..at + actor.body[at..].find('"').unwrap()];
    let page = sign_in(&w.app, "Recruiter C").get(href);
    assert!(page.body.contains("Applied again (amber)"));
    assert!(!page.body.contains("Exchange A"), "an anonymous sighting stays anonymous");
}

fn the_dashboard_counts_only_what_each_organization_may_see_in(w: World) {
    // Wallet B's RED actor, persona, email, wallet and three relationships are counted for
    // Wallet B and ISAC staff only; store-wide figures (which count them too) are staff-only.
    for (who, census, own, staff) in [
        ("Wallet B", "2 actors, 2 personas, 3 identifiers, 6 relationships", 7, false),
        ("analyst", "2 actors, 2 personas, 3 identifiers, 6 relationships", 0, true),
        ("Exchange A", "1 actor, 1 persona, 1 identifier, 3 relationships", 6, false),
        ("Recruiter C", "1 actor, 1 persona, 1 identifier, 3 relationships", 0, false),
    ] {
        let b = sign_in(&w.app, who);
        let page = b.get("/");
        assert_eq!(page.status, 200, "{who}: {}", page.body);
        assert!(page.body.contains(&format!("<dd id=\"census\">{census}</dd>")), "{who}: {}", page.body);
        assert!(page.body.contains(&format!("<dd>{own} of them</dd>")), "{who} own");
        assert_eq!(page.body.contains("Objects stored"), staff, "{who} store-wide counts");
        assert_eq!(page.body.contains("Change log position"), staff, "{who} change log position");
    }
    // A TAXII request shows as the organization's latest, for that organization only.
    let r =
        w.app.request("GET", "/taxii2/", Some("Exchange A"), &[("Accept", "application/taxii+json;version=2.1")], None);
    assert_eq!(r.status, 200);
    let page = sign_in(&w.app, "Exchange A").get("/");
    assert!(page.body.contains("last request") && page.body.contains("(HTTP 200)"), "{}", page.body);
    let page = sign_in(&w.app, "Recruiter C").get("/");
    assert!(page.body.contains("no request since the server started"));
}

/// Signs in with a user name and password; `None` when refused.
fn sign_in_user<'a>(app: &'a App, user: &str, password: &str) -> Option<Browser<'a>> {
    log_in(app, &format!("user={}&password={}&next=%2Faccount", urlencode(user), urlencode(password)))
}

fn a_user_changes_their_password_and_their_other_sessions_end_in(w: World) {
    let app = &w.app;
    let first = "correct horse battery";
    let hash = dossier_server::hash_password(first).unwrap();
    app.store.add_user(app.orgs["Exchange A"].id, "alice", dossier_stix::Role::Member, &hash).unwrap();
    let b1 = sign_in_user(app, "alice", first).expect("alice signs in");
    let b2 = sign_in_user(app, "alice", first).expect("a second session");
    assert!(b1.get("/account").body.contains("alice"));
    let change = |b: &Browser, current: &str, new: &str, confirm: &str| {
        b.post(
            "/account/password",
            &format!(
                "csrf={}&current={}&new={}&confirm={}",
                b.csrf,
                urlencode(current),
                urlencode(new),
                urlencode(confirm)
            ),
        )
    };
    let next = "staple paper clip tower";
    // Each problem is named beside its field, and nothing changes.
    let r = change(&b1, "wrong password here", next, next);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"err-current\"") && r.body.contains("is not your current password"), "{}", r.body);
    let r = change(&b1, first, "short", "short");
    assert!(r.status == 422 && r.body.contains("id=\"err-new\"") && r.body.contains("at least 12 characters"));
    let r = change(&b1, first, next, "staple paper clip towel");
    assert!(r.status == 422 && r.body.contains("id=\"err-confirm\""));
    let r = change(&b1, first, first, first);
    assert!(r.status == 422 && r.body.contains("the same as the current password"));
    let r = change(&b1, first, &"x".repeat(1025), &"x".repeat(1025));
    assert!(r.status == 422 && r.body.contains("at most 1024 bytes"));
    assert_eq!(b2.get("/").status, 200, "refused changes end no session");
    let b3 = sign_in_user(app, "alice", first).expect("the password is unchanged");
    // The change: this session stays, the two others end.
    let r = change(&b1, first, next, next);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Password changed; your 2 other sessions were signed out."), "{}", r.body);
    assert_eq!(b1.get("/").status, 200);
    assert_eq!(b2.get("/").status, 303);
    assert_eq!(b3.get("/").status, 303);
    assert!(sign_in_user(app, "alice", first).is_none(), "the old password is refused");
    assert!(sign_in_user(app, "alice", next).is_some(), "the new one works");
    // A token session has no password to change.
    let t = sign_in(app, "Exchange A");
    let r = t.post("/account/password", &format!("csrf={}&current=a&new=b&confirm=b", t.csrf));
    assert_eq!(r.status, 400);
    assert!(t.get("/account").body.contains("opened with an API token"));
}

fn an_admin_resets_a_password_and_disables_and_enables_a_user_in(mut w: World) {
    let isac = w.app.orgs["analyst"].id;
    let secret = w.app.store.create_token(isac, dossier_stix::Role::Admin, None, None).unwrap().secret;
    w.app.tokens.insert("admin", secret);
    let app = &w.app;
    let hash = dossier_server::hash_password("correct horse battery").unwrap();
    let bob = app.store.add_user(app.orgs["Wallet B"].id, "bob", dossier_stix::Role::Member, &hash).unwrap();
    let session = sign_in_user(app, "bob", "correct horse battery").unwrap();
    let reset = |b: &Browser, password: &str| {
        b.post(
            &format!("/admin/users/{}/password", bob.id),
            &format!("csrf={}&password={}", b.csrf, urlencode(password)),
        )
    };
    // Analysts read the admin page; only admins change users.
    let analyst = sign_in(app, "analyst");
    assert_eq!(reset(&analyst, "a brand new password").status, 403);
    let member = sign_in(app, "Wallet B");
    let r = member.post(&format!("/admin/users/{}/disable", bob.id), &format!("csrf={}", member.csrf));
    assert!(r.status == 403 && r.body.contains("administration is for ISAC"), "{}", r.body);
    let admin = sign_in(app, "admin");
    let r = reset(&admin, "too short");
    assert!(r.status == 422 && r.body.contains("at least 12 characters"), "{}", r.body);
    assert_eq!(session.get("/").status, 200, "a refused reset ends nothing");
    let r = reset(&admin, "a brand new password");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Password of bob reset; 1 of their sessions signed out."), "{}", r.body);
    assert_eq!(session.get("/").status, 303, "bob's session ended");
    assert!(sign_in_user(app, "bob", "correct horse battery").is_none());
    let again = sign_in_user(app, "bob", "a brand new password").expect("the new password works");
    // Disable ends the session at its next request; enable lets bob back in.
    let r = admin.post(&format!("/admin/users/{}/disable", bob.id), &format!("csrf={}", admin.csrf));
    assert_eq!(r.status, 303);
    assert_eq!(again.get("/").status, 303);
    assert!(sign_in_user(app, "bob", "a brand new password").is_none());
    assert!(admin.get("/admin").body.contains(&format!("/admin/users/{}/enable", bob.id)));
    let r = admin.post(&format!("/admin/users/{}/enable", bob.id), &format!("csrf={}", admin.csrf));
    assert_eq!(r.status, 303);
    assert!(sign_in_user(app, "bob", "a brand new password").is_some());
    assert_eq!(
        admin
            .post("/admin/users/usr_nobody/password", &format!("csrf={}&password=a+brand+new+password", admin.csrf))
            .status,
        404
    );
}

#[test]
fn a_search_says_when_it_lists_only_the_strongest_results() {
    a_search_says_when_it_lists_only_the_strongest_results_in(|c| Some(spawn_app(c)));
}

#[test]
fn a_search_says_when_it_lists_only_the_strongest_results_on_postgres() {
    a_search_says_when_it_lists_only_the_strongest_results_in(spawn_app_pg);
}

fn a_search_says_when_it_lists_only_the_strongest_results_in(spawn: fn(Config) -> Option<App>) {
    let Some(app) = spawn(Config::default()) else { return };
    let mut objects = Vec::new();
    for n in 0..51u32 {
        let actor = sdo("threat-actor", 1000 + n, json!({"name": format!("Team {n}")}), Tlp::Green);
        let persona =
            sdo("identity", 2000 + n, json!({"name": "Jordan Common", "identity_class": "individual"}), Tlp::Green);
        objects.push(rel(3000 + n, "attributed-to", &persona, &actor, Tlp::Green));
        objects.extend([actor, persona]);
    }
    objects.push(sdo("identity", 2999, json!({"name": "Solo Holder", "identity_class": "individual"}), Tlp::Green));
    app.submit("Exchange A", false, &objects);
    let b = sign_in(&app, "Wallet B");
    let page = b.get("/search?q=Jordan+Common");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("50 results for") && page.body.contains("These are the 50 strongest"), "{}", page.body);
    let page = b.get("/search?q=Solo+Holder");
    assert!(page.body.contains("1 result for") && !page.body.contains("strongest"), "{}", page.body);
}

fn analysts_find_who_searched_or_screened_a_value_and_download_the_records_in(w: World) {
    let app = &w.app;
    // Exchange A screens a value on the web page; Wallet B searches it over the API, typed
    // in another case with spaces around; Recruiter C screens something else, and sends a
    // query string a spreadsheet would run as a formula.
    let a = sign_in(app, "Exchange A");
    let r = a.post("/screen", &format!("csrf={}&emails=wanted.person%40example.com", a.csrf));
    assert_eq!(r.status, 200);
    let r = app.get("/api/v1/search?q=%20Wanted.Person%40Example.com%20", "Wallet B");
    assert_eq!(r.status, 200, "{}", r.body);
    let c = sign_in(app, "Recruiter C");
    assert_eq!(c.post("/screen", &format!("csrf={}&emails=someone.else%40example.com", c.csrf)).status, 200);
    assert_eq!(app.get("/taxii2/?=HYPERLINK(1)", "Recruiter C").status, 200);

    let analyst = sign_in(app, "analyst");
    let page = analyst.get("/admin/audit?value=wanted.person%40example.com");
    assert_eq!(page.status, 200, "{}", page.body);
    let page = Response { body: page.body.replace("&#x2f;", "/"), ..page };
    let rows = page.body.matches("<tr><td>").count();
    assert_eq!(rows, 2, "the web screen and the API search: {}", page.body);
    assert!(page.body.contains("web:/screen") && page.body.contains("/api/v1/search"), "{}", page.body);
    assert!(!page.body.contains("Recruiter C</td>"), "{}", page.body);
    // The lookup itself is audited with the value hashed, never in clear.
    let log = app.store.audit_log(&dossier_store::AuditQuery { limit: 500, ..Default::default() }).unwrap();
    let lookup = log.iter().find(|r| r.path == "web:/admin/audit").expect("the lookup is audited");
    let params = lookup.params.as_deref().unwrap_or("");
    assert!(params.contains("\"value\":\"") && !params.to_lowercase().contains("wanted.person"), "{params}");
    for r in &log {
        assert!(!r.params.as_deref().unwrap_or("").to_lowercase().contains("wanted.person"), "{r:?}");
    }
    // By credential: Recruiter C's token only.
    let token =
        log.iter().find(|r| r.path.starts_with("/taxii2/") && r.params.is_some()).unwrap().token.clone().unwrap();
    let page = analyst.get(&format!("/admin/audit?token={token}"));
    assert!(page.body.contains("Recruiter C") && !page.body.contains("Exchange A</td>"), "{}", page.body);
    // The CSV download: a header, a row per record, formula-like cells defused.
    let org = app.orgs["Recruiter C"].id;
    let csv = analyst.get(&format!("/admin/audit?format=csv&org={org}"));
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").is_some_and(|t| t.starts_with("text/csv")), "{:?}", csv.headers);
    assert!(csv.header("content-disposition").is_some_and(|d| d.contains("attachment")));
    let text = csv.dechunked();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().get(7), Some("parameters"));
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(records.len() >= 3, "{text}");
    assert!(records.iter().all(|r| &r[1] == "Recruiter C"), "{text}");
    assert!(records.iter().any(|r| &r[7] == "'=HYPERLINK(1)"), "{text}");
    // Members have no audit log.
    assert_eq!(a.get("/admin/audit?value=x").status, 403);
}

fn sign_in_follows_only_same_origin_paths_in(w: World) {
    let token = &w.app.tokens["Exchange A"];
    // Browsers drop tabs and line breaks from URLs: `/\t/evil.example/` is `//evil.example/`.
    for (next, expect) in [
        ("%2F%09%2Fevil.example%2F", "/"),
        ("%2F%0A%2Fx", "/"),
        ("%2F%5Cevil.example", "/"),
        ("%2F%2Fevil.example", "/"),
        ("%2F%20%2Fevil.example", "/"),
        ("%2Fsearch%3Fq%3Dx", "/search?q=x"),
    ] {
        let r = w.app.request(
            "POST",
            "/login",
            None,
            &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/html")],
            Some(&format!("token={token}&next={next}")),
        );
        assert_eq!(r.status, 303, "{next}: {}", r.body);
        assert_eq!(r.header("location"), Some(expect), "{next}");
    }
}

fn the_sign_in_form_takes_at_most_16_kib_and_overlong_passwords_are_not_hashed_in(w: World) {
    let big = format!("user=alice&password={}", "x".repeat(20 * 1024));
    let r = w.app.request(
        "POST",
        "/login",
        None,
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/html")],
        Some(&big),
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(sign_in_user(&w.app, "alice", &"y".repeat(2000)).is_none());
}

fn a_success_never_clears_failed_guesses_and_concurrent_guesses_are_counted_before_hashing_in(w: World) {
    let app = &w.app;
    let hash = dossier_server::hash_password("correct horse battery").unwrap();
    app.store.add_user(app.orgs["Exchange A"].id, "alice", dossier_stix::Role::Member, &hash).unwrap();
    // A member guesses alice's password, signing in with its own valid token between
    // guesses: the valid sign-ins no longer wipe the count (limit: 20 per address).
    let mut refused = 0;
    for i in 0..30 {
        if i % 5 == 4 {
            let r = app.request(
                "POST",
                "/login",
                None,
                &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/html")],
                Some(&format!("token={}&next=%2F", app.tokens["Wallet B"])),
            );
            assert!(r.status == 303 || r.status == 429, "{}", r.status);
            continue;
        }
        let r = app.request(
            "POST",
            "/login",
            None,
            &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/html")],
            Some(&format!("user=alice&password=guess{i}&next=%2F")),
        );
        if r.status == 429 {
            refused += 1;
        } else {
            assert_eq!(r.status, 401);
        }
    }
    assert_eq!(refused, 4, "24 guesses, 20 allowed");

    // Concurrent guesses on a fresh server: each is counted before its hash, so no more
    // than the limit get through however many arrive at once.
    let w = world();
    let app = &w.app;
    app.store.add_user(app.orgs["Exchange A"].id, "alice", dossier_stix::Role::Member, &hash).unwrap();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..60)
            .map(|i| {
                s.spawn(move || {
                    app.request(
                        "POST",
                        "/login",
                        None,
                        &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/html")],
                        Some(&format!("user=alice&password=concurrent{i}&next=%2F")),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 20, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 40, "{statuses:?}");
}

fn an_object_page_lists_only_submitters_of_versions_the_viewer_may_see_in(w: World) {
    let app = &w.app;
    // Recruiter C submits a RED object under its own name; Exchange A the same content.
    let secret = email("named.red@example.com", Tlp::Red);
    let id = secret["id"].as_str().unwrap().to_owned();
    app.submit("Recruiter C", true, std::slice::from_ref(&secret));
    app.submit("Exchange A", true, std::slice::from_ref(&secret));
    // A sees it (it submitted it too) with both named sources; B sees nothing at all.
    let page = sign_in(app, "Exchange A").get(&format!("/objects/{id}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Recruiter C") && page.body.contains("Exchange A"), "{}", page.body);
    assert_eq!(sign_in(app, "Wallet B").get(&format!("/objects/{id}")).status, 404);
    // A GREEN email whose only other assertion is a RED, named one: viewers who may not
    // see that version never learn who made it.
    let green = email("open.value@example.com", Tlp::Green);
    let gid = green["id"].as_str().unwrap().to_owned();
    app.submit("Exchange A", false, std::slice::from_ref(&green));
    let mut red = email("open.value@example.com", Tlp::Red);
    red["confidence"] = json!(10);
    app.submit("Recruiter C", true, &[red]);
    let page = sign_in(app, "Wallet B").get(&format!("/objects/{gid}"));
    assert_eq!(page.status, 200, "{}", page.body);
    let sources = &page.body[page.body.find("h-sources").unwrap()..];
    assert!(!sources.contains("Recruiter C"), "{sources}");
    assert!(sources.contains("an ISAC member"), "{sources}");
    let page = sign_in(app, "analyst").get(&format!("/objects/{gid}"));
    assert!(page.body[page.body.find("h-sources").unwrap()..].contains("Recruiter C"));

    // A version held only in a collection that analysts alone may read: its submitter is
    // not named to members either, whatever its TLP.
    let staff = app.store.add_collection("staff only", None, None, Tlp::Amber).unwrap();
    app.store
        .set_collection_access(staff.id, dossier_store::Access::Analysts, dossier_store::Access::Analysts)
        .unwrap();
    let mut copy = email("open.value@example.com", Tlp::Green);
    copy["confidence"] = json!(55);
    let sub =
        dossier_store::Submission { org: app.orgs["Wallet B"].id, collection: staff.id, named: true, curator: false };
    let record = dossier_stix::StixObject::from_value(&copy).unwrap().into_record();
    let mut items = std::iter::once(dossier_store::Item::Valid { index: 0, line: 1, object: record });
    app.store.import(&sub, &mut items, &mut |_| {}).unwrap();
    let page = sign_in(app, "Recruiter C").get(&format!("/objects/{gid}"));
    assert_eq!(page.status, 200);
    assert!(!page.body[page.body.find("h-sources").unwrap()..].contains("Wallet B"), "{}", page.body);
    let page = sign_in(app, "analyst").get(&format!("/objects/{gid}"));
    assert!(page.body[page.body.find("h-sources").unwrap()..].contains("Wallet B"));

    // The CSV and the API list exactly what the page lists.
    for (who, named, hidden) in [
        ("Recruiter C", vec!["Recruiter C", "an ISAC member"], vec!["Wallet B"]),
        // B filed its copy where only analysts read: not a version B may see here either.
        ("Wallet B", vec!["an ISAC member"], vec!["Recruiter C"]),
        ("analyst", vec!["Exchange A", "Recruiter C", "Wallet B"], vec![]),
    ] {
        let csv = sign_in(app, who).get(&format!("/objects/{gid}/sources.csv"));
        assert_eq!(csv.status, 200, "{who}: {}", csv.body);
        assert!(csv.header("content-type").is_some_and(|c| c.starts_with("text/csv")));
        let api = app.get(&format!("/api/v1/objects/{gid}/sources"), who);
        assert_eq!(api.status, 200, "{who}: {}", api.body);
        let names: Vec<String> =
            api.json()["sources"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect();
        let api_csv = app.get(&format!("/api/v1/objects/{gid}/sources?format=csv"), who);
        for n in &named {
            assert!(names.iter().any(|x| x == n), "{who} via the API: {names:?}");
            assert!(csv.dechunked().contains(n) && api_csv.dechunked().contains(n), "{who}: {n}");
        }
        for n in &hidden {
            assert!(!names.iter().any(|x| x == n), "{who} learns of {n} via the API");
            assert!(!csv.dechunked().contains(n) && !api_csv.dechunked().contains(n), "{who} learns of {n} via CSV");
        }
    }
    // Nothing about an object the caller may not see at all.
    assert_eq!(app.get(&format!("/api/v1/objects/{id}/sources"), "Wallet B").status, 404);
    assert_eq!(sign_in(app, "Wallet B").get(&format!("/objects/{id}/sources.csv")).status, 404);
    assert_eq!(app.get(&format!("/api/v1/objects/{id}/sources"), "Recruiter C").status, 200);
}

fn a_file_with_a_multibyte_custom_hash_renders_in(w: World) {
    let mut file = json!({"type": "file", "spec_version": "2.1", "name": "resume.pdf",
        "hashes": {"x-custom": "ééééééééééééééééééé"}, "object_marking_refs": [Tlp::Green.marking_id()]});
    let id = dossier_stix::id::deterministic_sco_id("file", file.as_object().unwrap()).unwrap();
    file["id"] = json!(id.as_str());
    w.app.submit("Exchange A", false, &[file]);
    let page = sign_in(&w.app, "Wallet B").get(&format!("/objects/{}", id.as_str()));
    assert_eq!(page.status, 200, "{}", page.body);
}

/// Posts the sign-in form as if a proxy forwarded it for `forwarded` (`X-Forwarded-For`).
fn login_via(app: &App, forwarded: &str, form: &str) -> Response {
    app.request(
        "POST",
        "/login",
        None,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "text/html"),
            ("X-Forwarded-For", forwarded),
        ],
        Some(form),
    )
}

/// Behind a trusted proxy the throttle counts the client the proxy names, so one attacker
/// does not lock out everyone behind the same proxy; without a trusted proxy the header is
/// ignored, so that an attacker cannot escape the limit by writing a new address into it.
#[test]
fn the_throttle_counts_the_client_a_trusted_proxy_names_and_ignores_the_header_otherwise() {
    the_throttle_counts_the_client_a_trusted_proxy_names_and_ignores_the_header_otherwise_in(|c| Some(spawn_app(c)));
}

#[test]
fn the_throttle_counts_the_client_a_trusted_proxy_names_and_ignores_the_header_otherwise_on_postgres() {
    the_throttle_counts_the_client_a_trusted_proxy_names_and_ignores_the_header_otherwise_in(spawn_app_pg);
}

fn the_throttle_counts_the_client_a_trusted_proxy_names_and_ignores_the_header_otherwise_in(
    spawn: fn(Config) -> Option<App>,
) {
    let hash = dossier_server::hash_password("correct horse battery").unwrap();
    let proxy = dossier_match::normalize::ip::normalize("127.0.0.1").unwrap();
    let Some(app) = spawn(Config { trusted_proxies: vec![proxy], ..Config::default() }) else { return };
    app.store.add_user(app.orgs["Exchange A"].id, "alice", dossier_stix::Role::Member, &hash).unwrap();
    // 25 guesses from one client; it writes a forged address first, the proxy appends the
    // real one, which is what counts.
    let statuses: Vec<u16> = (0..25)
        .map(|i| login_via(&app, &format!("198.51.100.{i}, 203.0.113.5"), &format!("user=alice&password=g{i}")).status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5, "{statuses:?}");
    let refused = login_via(&app, "203.0.113.5", "user=alice&password=again");
    assert_eq!(refused.status, 429);
    assert!(
        refused.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)),
        "{:?}",
        refused.headers
    );
    // alice herself, from another address behind the same proxy, signs in.
    let r = login_via(&app, "203.0.113.77", "user=alice&password=correct+horse+battery&next=%2F");
    assert_eq!(r.status, 303, "{}", r.body);

    // No trusted proxy: the header is anyone's to write and changes nothing.
    let app = spawn_app(Config::default());
    app.store.add_user(app.orgs["Exchange A"].id, "alice", dossier_stix::Role::Member, &hash).unwrap();
    let statuses: Vec<u16> = (0..25)
        .map(|i| login_via(&app, &format!("192.0.2.{i}"), &format!("user=alice&password=g{i}")).status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5, "{statuses:?}");
}

/// Sign-ins, failed sign-ins and sign-outs are in the audit log, with the account and the
/// client address, never a password or a token's secret.
#[test]
fn sign_ins_failures_and_sign_outs_are_audited_without_secrets() {
    sign_ins_failures_and_sign_outs_are_audited_without_secrets_in(|c| Some(spawn_app(c)));
}

#[test]
fn sign_ins_failures_and_sign_outs_are_audited_without_secrets_on_postgres() {
    sign_ins_failures_and_sign_outs_are_audited_without_secrets_in(spawn_app_pg);
}

fn sign_ins_failures_and_sign_outs_are_audited_without_secrets_in(spawn: fn(Config) -> Option<App>) {
    let Some(app) = spawn(Config::default()) else { return };
    let hash = dossier_server::hash_password("correct horse battery").unwrap();
    app.store.add_user(app.orgs["Exchange A"].id, "alice", dossier_stix::Role::Member, &hash).unwrap();
    assert!(log_in(&app, "user=alice&password=wrong+guess+here&next=%2F").is_none());
    assert!(log_in(&app, "token=not-a-token&next=%2F").is_none());
    let b = log_in(&app, "user=alice&password=correct+horse+battery&next=%2F").expect("alice signs in");
    let t = sign_in(&app, "Wallet B");
    assert_eq!(b.post("/logout", &format!("csrf={}", b.csrf)).status, 303);
    let log = app.store.audit_log(&dossier_store::AuditQuery { limit: 500, ..Default::default() }).unwrap();
    let sign_ins: Vec<&dossier_store::AuditRecord> = log.iter().filter(|r| r.path == "web:/login").collect();
    let events: Vec<(Option<String>, u16, String)> = sign_ins
        .iter()
        .map(|r| {
            let p: Value = serde_json::from_str(r.params.as_deref().unwrap_or("{}")).unwrap();
            (r.token.clone(), r.status, p["event"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    let alice = Some("user:alice".to_owned());
    assert!(events.contains(&(alice.clone(), 401, "sign-in failed".into())), "{events:?}");
    assert!(events.contains(&(None, 401, "sign-in failed".into())), "a failed token attempt: {events:?}");
    assert!(events.contains(&(alice, 303, "sign-in".into())), "{events:?}");
    assert!(
        events
            .iter()
            .any(|(who, s, e)| who.as_deref().is_some_and(|w| !w.starts_with("user:")) && *s == 303 && e == "sign-in")
    );
    for r in &sign_ins {
        let p = r.params.as_deref().unwrap_or_default();
        assert!(p.contains("127.0.0.1"), "the client address: {p}");
        assert!(
            !p.contains("wrong") && !p.contains("horse") && !p.contains(&app.tokens["Wallet B"]),
            "a secret in {p}"
        );
        assert!(r.token.as_deref().is_none_or(|t| !t.contains("not-a-token")), "a presented secret was kept");
    }
    let alice_org = app.orgs["Exchange A"].id;
    assert!(sign_ins.iter().any(|r| r.org == Some(alice_org) && r.status == 303));
    assert!(log.iter().any(|r| r.path == "web:/logout" && r.org == Some(alice_org)), "sign-out audited");
    drop(t);
}

/// The bundle upload obeys the creator rule like TAXII: Wallet B cannot version Exchange
/// A's actor by uploading it, and nothing of the upload is stored.
fn a_bundle_upload_cannot_version_another_members_object_in(w: World) {
    let a = sign_in(&w.app, "Exchange A");
    let b = sign_in(&w.app, "Wallet B");
    let collection = { w.app.store.default_collection().unwrap().id };
    let form = |who: &Browser<'_>, v: &Value| {
        format!("csrf={}&collection={collection}&bundle={}", who.csrf, urlencode(&v.to_string()))
    };
    let original = sdo("threat-actor", 31, json!({"name": "Original Team"}), Tlp::Green);
    let bundle =
        |o: &Value| json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000031", "objects": [o]});
    assert_eq!(a.post("/contribute/bundle", &form(&a, &bundle(&original))).status, 200);
    let mut forged = original.clone();
    forged["name"] = json!("Forged Team");
    forged["modified"] = json!("2030-01-01T00:00:00.000Z");
    let r = b.post("/contribute/bundle", &form(&b, &bundle(&forged)));
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("only its creator or ISAC analysts"), "{}", r.body);
    for who in [&a, &b] {
        let page = who.get("/actors");
        assert!(page.body.contains("Original Team") && !page.body.contains("Forged Team"));
    }
}

fn misp_and_csv_uploads_are_previewed_then_stored_and_another_members_objects_are_left_out_in(w: World) {
    let a = sign_in(&w.app, "Exchange A");
    let b = sign_in(&w.app, "Wallet B");
    let collection = { w.app.store.default_collection().unwrap().id };
    let form = |who: &Browser<'_>, format: &str, text: &str, preview: bool| {
        format!(
            "csrf={}&collection={collection}&format={format}&bundle={}{}",
            who.csrf,
            urlencode(text),
            if preview { "&preview=on" } else { "" }
        )
    };
    let sheet = "actor,persona,kind,value\nSheet Team,Sheet Persona,email,sheet.persona@example.org\n\
                 Sheet Team,Sheet Persona,wallet,0xnot-a-wallet\n";
    let r = a.post("/contribute/bundle", &form(&a, "csv", sheet, true));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Preview") && r.body.contains("line 3"), "{}", r.body);
    assert!(!a.get("/actors").body.contains("Sheet Team"), "a preview stored something");
    let r = a.post("/contribute/bundle", &form(&a, "csv", sheet, false));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Stored 5 objects"), "{}", r.body);
    assert!(a.get("/actors").body.contains("Sheet Team"));
    // A hostile member who knows how MISP imports derive ids made one of them first: the
    // upload of the event stores the rest and names what it left out; A's object stays A's.
    let event =
        std::fs::read_to_string(dossier_test_support::workspace().join("tests/fixtures/misp/event.json")).unwrap();
    let squatted = dossier_import::derived_id("threat-actor", &["misp-galaxy", "8cd3f6d7-4b8a-4c5e-9a65-0c6a2a3b1f11"]);
    let mut squat = sdo("threat-actor", 41, json!({"name": "Squatted Team"}), Tlp::Green);
    squat["id"] = json!(squatted);
    let bundle = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000041", "objects": [squat]});
    assert_eq!(a.post("/contribute/bundle", &form(&a, "stix", &bundle.to_string(), false)).status, 200);
    let r = b.post("/contribute/bundle", &form(&b, "misp", &event, false));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Left out") && r.body.contains(&squatted), "{}", r.body);
    assert!(r.body.contains("1 refused"), "the bad ETH checksum: {}", r.body);
    let actors = b.get("/actors").body;
    assert!(actors.contains("Squatted Team") && !actors.contains("Famous Chollima"), "{actors}");
    // An unknown format is refused, naming the ones there are.
    let r = a.post("/contribute/bundle", &form(&a, "xlsx", sheet, false));
    assert_eq!(r.status, 400);
}

fn mirrors_report_their_freshness_for_themselves_and_only_isac_staff_see_it_in(w: World) {
    let body = r#"{"name": "laptop-9", "synced_at": "2026-01-01T00:00:00Z", "objects": 1234}"#;
    let r = post_json(&w.app, "/api/v1/mirrors", "Exchange A", body);
    assert_eq!(r.status, 204, "{}", r.body);
    let long = format!(r#"{{"name": "{}", "synced_at": "2026-01-01T00:00:00Z", "objects": 1}}"#, "x".repeat(101));
    assert_eq!(post_json(&w.app, "/api/v1/mirrors", "Exchange A", &long).status, 400);
    let future = r#"{"name": "n", "synced_at": "2999-01-01T00:00:00Z", "objects": 1}"#;
    assert_eq!(post_json(&w.app, "/api/v1/mirrors", "Exchange A", future).status, 400);
    let analyst = sign_in(&w.app, "analyst");
    let page = analyst.get("/admin").body;
    assert!(page.contains("id=\"federation\"") && page.contains("laptop-9") && page.contains("1234"), "{page}");
    assert!(page.contains("Exchange A"), "the mirror's organization is named to staff");
    assert_eq!(sign_in(&w.app, "Wallet B").get("/admin").status, 403);
}

on_both_stores! {
    pages_need_a_session_and_sign_in_checks_credentials, pages_need_a_session_and_sign_in_checks_credentials_on_postgres, pages_need_a_session_and_sign_in_checks_credentials_in;
    forms_need_the_session_csrf_token_and_this_origin, forms_need_the_session_csrf_token_and_this_origin_on_postgres, forms_need_the_session_csrf_token_and_this_origin_in;
    a_revoked_token_ends_its_sessions, a_revoked_token_ends_its_sessions_on_postgres, a_revoked_token_ends_its_sessions_in;
    red_data_is_seen_by_exactly_its_owner_and_isac_analysts_on_every_page, red_data_is_seen_by_exactly_its_owner_and_isac_analysts_on_every_page_on_postgres, red_data_is_seen_by_exactly_its_owner_and_isac_analysts_on_every_page_in;
    anonymous_sources_stay_anonymous_except_to_their_owner_and_analysts, anonymous_sources_stay_anonymous_except_to_their_owner_and_analysts_on_postgres, anonymous_sources_stay_anonymous_except_to_their_owner_and_analysts_in;
    searches_and_screens_are_audited_with_hashes_only, searches_and_screens_are_audited_with_hashes_only_on_postgres, searches_and_screens_are_audited_with_hashes_only_in;
    a_contributed_persona_is_stored_and_bad_fields_are_named, a_contributed_persona_is_stored_and_bad_fields_are_named_on_postgres, a_contributed_persona_is_stored_and_bad_fields_are_named_in;
    a_bundle_upload_is_validated_whole, a_bundle_upload_is_validated_whole_on_postgres, a_bundle_upload_is_validated_whole_in;
    administration_is_for_isac_staff_and_a_new_token_is_shown_once, administration_is_for_isac_staff_and_a_new_token_is_shown_once_on_postgres, administration_is_for_isac_staff_and_a_new_token_is_shown_once_in;
    every_page_renders, every_page_renders_on_postgres, every_page_renders_in;
    a_recorded_sighting_shows_on_the_persona_page_to_whom_its_tlp_allows, a_recorded_sighting_shows_on_the_persona_page_to_whom_its_tlp_allows_on_postgres, a_recorded_sighting_shows_on_the_persona_page_to_whom_its_tlp_allows_in;
    the_dashboard_counts_only_what_each_organization_may_see, the_dashboard_counts_only_what_each_organization_may_see_on_postgres, the_dashboard_counts_only_what_each_organization_may_see_in;
    a_user_changes_their_password_and_their_other_sessions_end, a_user_changes_their_password_and_their_other_sessions_end_on_postgres, a_user_changes_their_password_and_their_other_sessions_end_in;
    an_admin_resets_a_password_and_disables_and_enables_a_user, an_admin_resets_a_password_and_disables_and_enables_a_user_on_postgres, an_admin_resets_a_password_and_disables_and_enables_a_user_in;
    analysts_find_who_searched_or_screened_a_value_and_download_the_records, analysts_find_who_searched_or_screened_a_value_and_download_the_records_on_postgres, analysts_find_who_searched_or_screened_a_value_and_download_the_records_in;
    sign_in_follows_only_same_origin_paths, sign_in_follows_only_same_origin_paths_on_postgres, sign_in_follows_only_same_origin_paths_in;
    the_sign_in_form_takes_at_most_16_kib_and_overlong_passwords_are_not_hashed, the_sign_in_form_takes_at_most_16_kib_and_overlong_passwords_are_not_hashed_on_postgres, the_sign_in_form_takes_at_most_16_kib_and_overlong_passwords_are_not_hashed_in;
    a_success_never_clears_failed_guesses_and_concurrent_guesses_are_counted_before_hashing, a_success_never_clears_failed_guesses_and_concurrent_guesses_are_counted_before_hashing_on_postgres, a_success_never_clears_failed_guesses_and_concurrent_guesses_are_counted_before_hashing_in;
    an_object_page_lists_only_submitters_of_versions_the_viewer_may_see, an_object_page_lists_only_submitters_of_versions_the_viewer_may_see_on_postgres, an_object_page_lists_only_submitters_of_versions_the_viewer_may_see_in;
    a_file_with_a_multibyte_custom_hash_renders, a_file_with_a_multibyte_custom_hash_renders_on_postgres, a_file_with_a_multibyte_custom_hash_renders_in;
    a_bundle_upload_cannot_version_another_members_object, a_bundle_upload_cannot_version_another_members_object_on_postgres, a_bundle_upload_cannot_version_another_members_object_in;
    misp_and_csv_uploads_are_previewed_then_stored_and_another_members_objects_are_left_out, misp_and_csv_uploads_are_previewed_then_stored_and_another_members_objects_are_left_out_on_postgres, misp_and_csv_uploads_are_previewed_then_stored_and_another_members_objects_are_left_out_in;
    mirrors_report_their_freshness_for_themselves_and_only_isac_staff_see_it, mirrors_report_their_freshness_for_themselves_and_only_isac_staff_see_it_on_postgres, mirrors_report_their_freshness_for_themselves_and_only_isac_staff_see_it_in;
}
