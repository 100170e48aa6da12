//! Notifications: each organization's inbox of what happened that concerns it — a screen
//! entered its review queue, a member asks for access to its restricted data, its own
//! request was granted or declined, another member sighted an actor or persona it reported.
//! Every event obeys the trust rules: an organization is told only what it may see (a RED
//! sighting it may not see is not announced to it), an anonymous requester stays "an ISAC
//! member", and no notification holds an applicant's data.
//!
//! Sightings can arrive by any write path (TAXII, import, the forms), so they are found by
//! following the change log through the one seam ([`dossier_follow`]) with a durable cursor
//! that starts at the end of the log the first time (history is not announced).

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dossier_follow::{FollowError, Follower, Start, StoredCursor};
use dossier_stix::OrgId;
use dossier_stix::timestamp::now_micros;
use dossier_store::{AccessRequest, Change, NewNotification, NewReviewEntry, ObjectStore};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::{AppState, Caller, Inner, Returned};

/// Adds `items` to their organizations' inboxes (a failure is logged: the event itself
/// happened and was audited).
pub(crate) fn send(inner: &Inner, items: Vec<NewNotification>) {
    if items.is_empty() {
        return;
    }
    match inner.store.notify(&items) {
        // Each organization's webhooks that take the event get a delivery.
        Ok(ids) => crate::webhooks::fan_out(inner, &items, &ids),
        Err(e) => tracing::error!(error = %e, n = items.len(), "storing notifications failed"),
    }
    for n in &items {
        inner.unread.forget(n.org);
    }
}

/// Screens entered the organization's review queue: one notification for a single screen;
/// one per organization for a batch's chunk (a batch of thousands must not bury the inbox).
pub(crate) fn queued(entries: &[NewReviewEntry], ids: &[i64]) -> Vec<NewNotification> {
    if entries.len() > 1 {
        let mut by_org: std::collections::BTreeMap<OrgId, Vec<(&NewReviewEntry, i64)>> = Default::default();
        for (e, id) in entries.iter().zip(ids) {
            by_org.entry(e.org).or_default().push((e, *id));
        }
        return by_org
            .into_iter()
            .map(|(org, list)| {
                let matches = list.iter().filter(|(e, _)| e.decision == "match").count();
                let first = list[0].0;
                NewNotification {
                    org,
                    at: first.at,
                    kind: "review".into(),
                    title: format!(
                        "{} screens of {}'s {} entered the review queue ({matches} match, {} review)",
                        list.len(),
                        first.by_name,
                        first.source,
                        list.len() - matches
                    ),
                    link: Some("/review".into()),
                    body: json!({"entries": list.iter().map(|(_, id)| id).collect::<Vec<_>>(), "source": first.source}),
                }
            })
            .collect();
    }
    entries
        .iter()
        .zip(ids)
        .map(|(e, id)| {
            let who = e.reference.clone().unwrap_or_else(|| format!("an applicant (ref hash {})", e.ref_hash));
            NewNotification {
                org: e.org,
                at: e.at,
                kind: "review".into(),
                title: format!("{} screened {}: {}", e.by_name, who, e.decision),
                link: Some(format!("/review#entry-{id}")),
                body: json!({"entry": id, "decision": e.decision, "score": e.score, "source": e.source}),
            }
        })
        .collect()
}

/// A member asks the owner for access.
pub(crate) fn asked(requests: &[AccessRequest], orgs: &[dossier_store::Org]) -> Vec<NewNotification> {
    requests
        .iter()
        .filter(|r| r.status == dossier_store::AccessStatus::Pending)
        .map(|r| {
            let view = crate::review::owner_view(r, orgs);
            NewNotification {
                org: r.owner,
                at: r.at,
                kind: "access_request".into(),
                title: format!(
                    "{} asks to see {} of your objects, hit {}",
                    view["requester"].as_str().unwrap_or("an ISAC member"),
                    r.objects.len(),
                    dossier_stix::Timestamp::from_unix_micros(r.hit_at).as_str().get(..10).unwrap_or_default()
                ),
                link: Some(format!("/review#request-{}", r.id)),
                body: view,
            }
        })
        .collect()
}

/// The owner answered.
pub(crate) fn answered(r: &AccessRequest) -> NewNotification {
    NewNotification {
        org: r.requester,
        at: r.decided_at.unwrap_or(r.at),
        kind: format!("access_{}", r.status.as_str()),
        title: format!("Your access request for review entry {} was {}", r.entry, r.status.as_str()),
        link: Some(format!("/review?status=all#entry-{}", r.entry)),
        body: crate::review::requester_view(r),
    }
}

/// Finds new sightings in the change log and tells the organizations whose actor or persona
/// was sighted — when they may see the sighting, and not for their own.
struct Sightings<'a> {
    inner: &'a Inner,
    out: std::sync::Mutex<Vec<NewNotification>>,
}

impl Follower for Sightings<'_> {
    fn name(&self) -> &'static str {
        "notifications:sightings"
    }

    fn apply(&self, store: &dyn ObjectStore, changes: &[Change]) -> Result<(), FollowError> {
        let ids: Vec<String> = changes
            .iter()
            .filter(|c| c.op == dossier_store::ChangeOp::Add)
            .filter_map(|c| c.id.clone())
            .filter(|id| id.starts_with("sighting--"))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        // The sightings as stored, with who made them and who may see them.
        struct Seen {
            id: String,
            of: String,
            owner: OrgId,
            named: bool,
            tlp: dossier_stix::Tlp,
            recipients: Vec<OrgId>,
            staff_only: bool,
            last_seen: Option<String>,
        }
        let mut sightings = Vec::new();
        store.scan_latest(&[], Some(&ids), &mut |e, staff_only| {
            let v: Value = serde_json::from_str(e.json).unwrap_or(Value::Null);
            if let Some(of) = v.get("sighting_of_ref").and_then(Value::as_str) {
                sightings.push(Seen {
                    id: e.id.to_owned(),
                    of: of.to_owned(),
                    owner: e.owner,
                    named: e.named,
                    tlp: e.tlp,
                    recipients: e.recipients(),
                    staff_only,
                    last_seen: v.get("last_seen").and_then(Value::as_str).map(str::to_owned),
                });
            }
            true
        })?;
        let targets: Vec<String> = sightings.iter().map(|s| s.of.clone()).collect();
        // Who reported each sighted object (its served versions' organizations).
        let mut owners: HashMap<String, Vec<OrgId>> = HashMap::new();
        store.scan_latest(&[], Some(&targets), &mut |e, _| {
            owners.entry(e.id.to_owned()).or_default().push(e.owner);
            true
        })?;
        let orgs = self.inner.store.orgs()?;
        let mut out = Vec::new();
        for s in &sightings {
            for owner in owners.get(&s.of).into_iter().flatten() {
                if *owner == s.owner {
                    continue;
                }
                let Some(org) = orgs.iter().find(|o| o.id == *owner) else { continue };
                let role = if org.isac { dossier_stix::Role::Analyst } else { dossier_stix::Role::Member };
                let viewer = dossier_stix::Viewer { org: org.id, role, isac: org.isac };
                // Only what the owner may see of the sighting.
                let access = dossier_stix::policy::Access { tlp: s.tlp, owner: s.owner, recipients: &s.recipients };
                if (s.staff_only && !org.isac) || !dossier_stix::policy::may_see(&viewer, &access) {
                    continue;
                }
                let by = crate::web::data::source_name(&viewer, &orgs, s.owner, s.named);
                let kind = if s.of.starts_with("threat-actor--") { "actor" } else { "persona" };
                let page = if kind == "actor" { "actors" } else { "objects" };
                out.push(NewNotification {
                    org: *owner,
                    at: now_micros(),
                    kind: "sighting".into(),
                    title: format!("{by} sighted an {kind} you reported"),
                    link: Some(format!("/{page}/{}#sightings", s.of)),
                    body: json!({"sighting": s.id, "of": s.of, "by": by, "last_seen": s.last_seen, "tlp": s.tlp.as_str()}),
                });
            }
        }
        self.out.lock().unwrap_or_else(|p| p.into_inner()).extend(out);
        Ok(())
    }
}

/// Follows the change log for sightings since the last call (one caller at a time: the
/// background task).
pub(crate) fn follow_sightings(inner: &Inner) -> Result<usize, FollowError> {
    let f = Sightings { inner, out: Default::default() };
    let store = inner.store.as_ref();
    let cursor = StoredCursor { name: f.name(), store, log: store, start: Start::End };
    // A batch's notifications are stored before the cursor moves past it: a crash repeats
    // a batch (announcing it twice) rather than losing it.
    struct Sending<'a, 'b>(&'a Sightings<'b>);
    impl Follower for Sending<'_, '_> {
        fn name(&self) -> &'static str {
            self.0.name()
        }
        fn apply(&self, store: &dyn ObjectStore, changes: &[Change]) -> Result<(), FollowError> {
            self.0.apply(store, changes)?;
            let items = std::mem::take(&mut *self.0.out.lock().unwrap_or_else(|p| p.into_inner()));
            send(self.0.inner, items);
            Ok(())
        }
    }
    dossier_follow::catch_up(store, &Sending(&f), &cursor, 5_000)
}

/// How many of `org`'s notifications are unread (the header's badge).
pub(crate) fn unread_count(inner: &Inner, org: OrgId) -> u64 {
    inner.unread.get(org, inner.config.cache_ttl, || inner.store.unread(org))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/notifications", get(list)).route("/api/v1/notifications/read", post(read))
}

/// `GET /api/v1/notifications?unread=true&limit=N`: the caller's organization's inbox,
/// newest first.
async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let unread = q.get("unread").is_some_and(|v| v == "true" || v == "1");
    let limit = crate::error::limit_param(&q, 100, 1000)?;
    let org = caller.org.id;
    let (items, n) =
        state.blocking(move |store| Ok((store.notifications(org, unread, limit)?, store.unread(org)?))).await?;
    let count = items.len() as u64;
    let mut resp = axum::Json(json!({"unread": n, "notifications": items})).into_response();
    resp.extensions_mut().insert(Returned(count));
    Ok(resp)
}

/// `POST /api/v1/notifications/read` with `{"ids": [1, 2]}` (or `{}`: all).
async fn read(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let m = crate::error::json_object(&body, &["ids"])?;
    let ids: Vec<i64> = match m.get("ids") {
        None => Vec::new(),
        Some(list) => list
            .as_array()
            .and_then(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
            .ok_or_else(|| ApiError::bad_request("ids must be a list of notification ids"))?,
    };
    let org = caller.org.id;
    let n = state.blocking(move |store| Ok(store.mark_read(org, &ids, now_micros())?)).await?;
    state.0.unread.forget(org);
    Ok(axum::Json(json!({"marked": n})).into_response())
}
