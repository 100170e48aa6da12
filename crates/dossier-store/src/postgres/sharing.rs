//! The sharing loop's records (review queue, access requests, inboxes, follower cursors,
//! webhooks, monitoring) and federation's in PostgreSQL.

use dossier_stix::OrgId;

use super::{PgStore, WRITE_LOCK};
use crate::federation::{Federation, MAX_MIRROR_NAME, MirrorReport, SyncState};
use crate::sharing::{
    AccessRequest, AccessSide, AccessStatus, Cursors, Delivery, Disposition, DispositionCount, Inbox, Judgement,
    MAX_COMMENT, MAX_NOTE, MAX_PENDING, Monitoring, NewNotification, NewReviewEntry, NewWatch, Notification,
    ReviewEntry, ReviewQuery, ReviewStatus, Sharing, SuppressedTie, WatchRow, Webhook, Webhooks,
};
use crate::{Directory, Org, StoreError};

const ENTRY_COLUMNS: &str = "id, org, at, expires, by_name, source, ref, ref_hash, decision, score, result, \
     disposition, comment, judged_name, judged_at";

fn entry_from_row(r: &postgres::Row) -> ReviewEntry {
    let result: String = r.get(10);
    let disposition: Option<String> = r.get(11);
    ReviewEntry {
        id: r.get(0),
        org: r.get(1),
        at: r.get(2),
        expires: r.get(3),
        by: r.get(4),
        source: r.get(5),
        reference: r.get(6),
        ref_hash: r.get(7),
        decision: r.get(8),
        score: r.get(9),
        // Written by this store from a serialised value; unreadable JSON reads as null
        // rather than failing the whole listing.
        result: serde_json::from_str(&result).unwrap_or(serde_json::Value::Null),
        disposition: disposition.as_deref().and_then(Disposition::parse),
        comment: r.get(12),
        judged_by: r.get(13),
        judged_at: r.get(14),
    }
}

const ACCESS_COLUMNS: &str = "id, entry, requester, named, requested_by, owner, objects, hit_at, at, note, status, \
     decided_at, decided_by, reply";

fn access_from_row(r: &postgres::Row) -> AccessRequest {
    let objects: String = r.get(6);
    let status: String = r.get(10);
    AccessRequest {
        id: r.get(0),
        entry: r.get(1),
        requester: r.get(2),
        named: r.get::<_, i64>(3) != 0,
        requested_by: r.get(4),
        owner: r.get(5),
        objects: serde_json::from_str(&objects).unwrap_or_default(),
        hit_at: r.get(7),
        at: r.get(8),
        note: r.get(9),
        status: AccessStatus::parse(&status),
        decided_at: r.get(11),
        decided_by: r.get(12),
        reply: r.get(13),
    }
}

fn limit(n: usize, max: i64) -> i64 {
    (n as i64).clamp(1, max)
}

impl Sharing for PgStore {
    fn enqueue(&self, entries: &[NewReviewEntry]) -> Result<Vec<i64>, StoreError> {
        super::blocking(|| {
            if entries.is_empty() {
                return Ok(Vec::new());
            }
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            let entry = tx.prepare(
                "INSERT INTO review_queue (org, at, expires, by_id, by_name, source, ref, ref_hash, decision, score, result)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            )?;
            let tie = tx.prepare(
                "INSERT INTO review_ties (entry, value_hash, object) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )?;
            let hidden =
                tx.prepare("INSERT INTO review_restricted (entry, object) VALUES ($1, $2) ON CONFLICT DO NOTHING")?;
            let mut ids = Vec::with_capacity(entries.len());
            for e in entries {
                if !matches!(e.decision.as_str(), "match" | "review") {
                    return Err(StoreError::Invalid(format!(
                        "only match and review screens are queued, not {:?}",
                        e.decision
                    )));
                }
                let id: i64 = tx
                    .query_one(
                        &entry,
                        &[
                            &e.org,
                            &e.at,
                            &e.expires,
                            &e.by_id,
                            &e.by_name,
                            &e.source,
                            &e.reference,
                            &e.ref_hash,
                            &e.decision,
                            &e.score,
                            &e.result,
                        ],
                    )?
                    .get(0);
                for (value, object) in &e.ties {
                    tx.execute(&tie, &[&id, value, object])?;
                }
                for object in &e.restricted {
                    tx.execute(&hidden, &[&id, object])?;
                }
                ids.push(id);
            }
            tx.commit()?;
            Ok(ids)
        })
    }

    fn review_entries(&self, org: OrgId, query: &ReviewQuery, now: i64) -> Result<Vec<ReviewEntry>, StoreError> {
        super::blocking(|| {
            let status = match query.status {
                ReviewStatus::Open => "AND disposition IS NULL",
                ReviewStatus::Judged => "AND disposition IS NOT NULL",
                ReviewStatus::All => "",
            };
            let rows = self.conn().query(
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM review_queue WHERE org = $1 AND expires > $2 AND id < $3 {status}
                     ORDER BY id DESC LIMIT $4"
                ),
                &[&org, &now, &query.before.unwrap_or(i64::MAX), &limit(query.limit, 1000)],
            )?;
            Ok(rows.iter().map(entry_from_row).collect())
        })
    }

    fn review_entry(&self, org: OrgId, id: i64, now: i64) -> Result<Option<ReviewEntry>, StoreError> {
        super::blocking(|| {
            Ok(self
                .conn()
                .query_opt(
                    &format!("SELECT {ENTRY_COLUMNS} FROM review_queue WHERE id = $1 AND org = $2 AND expires > $3"),
                    &[&id, &org, &now],
                )?
                .map(|r| entry_from_row(&r)))
        })
    }

    fn open_reviews(&self, org: OrgId, now: i64) -> Result<u64, StoreError> {
        super::blocking(|| {
            let n: i64 = self
                .conn()
                .query_one(
                    "SELECT count(*) FROM review_queue WHERE org = $1 AND expires > $2 AND disposition IS NULL",
                    &[&org, &now],
                )?
                .get(0);
            Ok(n.max(0) as u64)
        })
    }

    fn judge(&self, org: OrgId, id: i64, j: &Judgement, now: i64) -> Result<ReviewEntry, StoreError> {
        super::blocking(|| {
            if j.comment.as_ref().is_some_and(|c| c.len() > MAX_COMMENT) {
                return Err(StoreError::Invalid(format!("a comment is at most {MAX_COMMENT} bytes")));
            }
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            let kept = tx.query_opt(
                "SELECT at, expires FROM review_queue WHERE id = $1 AND org = $2 AND expires > $3 FOR UPDATE",
                &[&id, &org, &now],
            )?;
            let Some(kept) = kept else {
                return Err(StoreError::NotFound(format!("review entry {id}")));
            };
            let (at, expires): (i64, i64) = (kept.get(0), kept.get(1));
            tx.execute(
                "UPDATE review_queue SET disposition = $2, comment = $3, judged_by = $4, judged_name = $5, judged_at = $6
                 WHERE id = $1",
                &[&id, &j.disposition.as_str(), &j.comment, &j.by_id, &j.by_name, &now],
            )?;
            // A judgement replaces the one before: its suppressions and counts go.
            tx.execute("DELETE FROM suppressions WHERE entry = $1", &[&id])?;
            tx.execute("DELETE FROM dispositions WHERE entry = $1", &[&id])?;
            if j.disposition == Disposition::FalsePositive {
                // Kept as long as an entry is, counted from the judgement.
                let until = now.saturating_add(expires - at);
                tx.execute(
                    "INSERT INTO suppressions (org, value_hash, object, entry, by_name, at, expires)
                     SELECT $2, value_hash, object, entry, $3, $4, $5 FROM review_ties WHERE entry = $1
                     ON CONFLICT (org, value_hash, object) DO UPDATE SET entry = EXCLUDED.entry,
                         by_name = EXCLUDED.by_name, at = EXCLUDED.at, expires = EXCLUDED.expires",
                    &[&id, &org, &j.by_name, &now, &until],
                )?;
            }
            tx.execute(
                "INSERT INTO dispositions (entry, object, org, disposition, at)
                 SELECT DISTINCT entry, object, $2::BIGINT, $3::TEXT, $4::BIGINT FROM review_ties WHERE entry = $1
                 ON CONFLICT DO NOTHING",
                &[&id, &org, &j.disposition.as_str(), &now],
            )?;
            let entry = tx.query_one(&format!("SELECT {ENTRY_COLUMNS} FROM review_queue WHERE id = $1"), &[&id])?;
            let entry = entry_from_row(&entry);
            tx.commit()?;
            Ok(entry)
        })
    }

    fn suppressions(&self, org: OrgId, now: i64) -> Result<Vec<SuppressedTie>, StoreError> {
        super::blocking(|| {
            let rows = self.conn().query(
                "SELECT value_hash, object, by_name, at FROM suppressions WHERE org = $1 AND expires > $2",
                &[&org, &now],
            )?;
            Ok(rows
                .iter()
                .map(|r| SuppressedTie { value_hash: r.get(0), object: r.get(1), by_name: r.get(2), at: r.get(3) })
                .collect())
        })
    }

    fn disposition_counts(&self, object: Option<&str>, limit_n: usize) -> Result<Vec<DispositionCount>, StoreError> {
        super::blocking(|| {
            let rows = self.conn().query(
                "SELECT object,
                        count(*) FILTER (WHERE disposition = 'confirmed'),
                        count(*) FILTER (WHERE disposition = 'false_positive'),
                        count(*) FILTER (WHERE disposition = 'unsure'),
                        count(DISTINCT org), max(at)
                   FROM dispositions WHERE $1::TEXT IS NULL OR object = $1
                  GROUP BY object
                  ORDER BY 3 DESC, 2 DESC, object
                  LIMIT $2",
                &[&object, &limit(limit_n, 10_000)],
            )?;
            Ok(rows
                .iter()
                .map(|r| DispositionCount {
                    object: r.get(0),
                    confirmed: r.get::<_, i64>(1).max(0) as u64,
                    false_positive: r.get::<_, i64>(2).max(0) as u64,
                    unsure: r.get::<_, i64>(3).max(0) as u64,
                    organizations: r.get::<_, i64>(4).max(0) as u64,
                    last: r.get(5),
                })
                .collect())
        })
    }

    fn request_access(
        &self,
        requester: OrgId,
        entry: i64,
        named: bool,
        requested_by: &str,
        note: Option<&str>,
        now: i64,
    ) -> Result<Vec<AccessRequest>, StoreError> {
        super::blocking(|| {
            if note.is_some_and(|n| n.len() > MAX_NOTE) {
                return Err(StoreError::Invalid(format!("a note is at most {MAX_NOTE} bytes")));
            }
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            let Some(hit) = tx.query_opt(
                "SELECT at FROM review_queue WHERE id = $1 AND org = $2 AND expires > $3",
                &[&entry, &requester, &now],
            )?
            else {
                return Err(StoreError::NotFound(format!("review entry {entry}")));
            };
            let hit_at: i64 = hit.get(0);
            // Each hidden object's owner: the organization whose version is served.
            let mut by_owner: std::collections::BTreeMap<OrgId, Vec<String>> = Default::default();
            let ids: Vec<String> = tx
                .query("SELECT object FROM review_restricted WHERE entry = $1 ORDER BY object", &[&entry])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let owner = tx.prepare(
                "SELECT DISTINCT o.org FROM objects o JOIN collection_objects co ON co.vid = o.vid AND co.latest = 1
                  WHERE o.idh = $1 AND o.id = $2",
            )?;
            for id in ids {
                for r in tx.query(&owner, &[&crate::id_hash(&id), &id])? {
                    let o: OrgId = r.get(0);
                    if o != requester {
                        by_owner.entry(o).or_default().push(id.clone());
                    }
                }
            }
            if by_owner.is_empty() {
                return Err(StoreError::NotFound(format!("a restricted hit in review entry {entry}")));
            }
            // One member cannot bury another's inbox in requests: a bounded number wait at once.
            for owner in by_owner.keys() {
                let waiting: i64 = tx
                    .query_one(
                        "SELECT count(*) FROM access_requests WHERE requester = $1 AND owner = $2 AND status = 'pending'
                           AND entry <> $3",
                        &[&requester, owner, &entry],
                    )?
                    .get(0);
                if waiting >= MAX_PENDING {
                    return Err(StoreError::Invalid(format!(
                        "{waiting} of your access requests to one owner are still waiting for an answer (at most {MAX_PENDING}); ask again once some are answered"
                    )));
                }
            }
            for (owner, objects) in &by_owner {
                tx.execute(
                    "INSERT INTO access_requests (entry, requester, named, requested_by, owner, objects, hit_at, at, note)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                    &[
                        &entry,
                        &requester,
                        &i64::from(named),
                        &requested_by,
                        owner,
                        &serde_json::to_string(objects).unwrap_or_default(),
                        &hit_at,
                        &now,
                        &note,
                    ],
                )?;
            }
            let rows = tx.query(
                &format!("SELECT {ACCESS_COLUMNS} FROM access_requests WHERE entry = $1 ORDER BY id"),
                &[&entry],
            )?;
            let out = rows.iter().map(access_from_row).collect();
            tx.commit()?;
            Ok(out)
        })
    }

    fn access_requests(&self, org: OrgId, side: AccessSide, limit_n: usize) -> Result<Vec<AccessRequest>, StoreError> {
        super::blocking(|| {
            let filter = match side {
                AccessSide::Incoming => "WHERE owner = $1",
                AccessSide::Outgoing => "WHERE requester = $1",
                AccessSide::All => "WHERE $1::BIGINT IS NOT NULL",
            };
            let rows = self.conn().query(
                &format!("SELECT {ACCESS_COLUMNS} FROM access_requests {filter} ORDER BY id DESC LIMIT $2"),
                &[&org, &limit(limit_n, 10_000)],
            )?;
            Ok(rows.iter().map(access_from_row).collect())
        })
    }

    fn decide_access(
        &self,
        owner: OrgId,
        id: i64,
        grant: bool,
        decided_by: &str,
        reply: Option<&str>,
        now: i64,
    ) -> Result<AccessRequest, StoreError> {
        super::blocking(|| {
            if reply.is_some_and(|n| n.len() > MAX_NOTE) {
                return Err(StoreError::Invalid(format!("a reply is at most {MAX_NOTE} bytes")));
            }
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            // A grant writes to the change log: it takes its turn with the other writers.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let req = tx
                .query_opt(
                    &format!("SELECT {ACCESS_COLUMNS} FROM access_requests WHERE id = $1 AND owner = $2"),
                    &[&id, &owner],
                )?
                .map(|r| access_from_row(&r))
                .ok_or_else(|| StoreError::NotFound(format!("access request {id}")))?;
            if req.status != AccessStatus::Pending {
                return Err(StoreError::Invalid(format!("access request {id} was {} already", req.status.as_str())));
            }
            let status = if grant { AccessStatus::Granted } else { AccessStatus::Declined };
            tx.execute(
                "UPDATE access_requests SET status = $2, decided_at = $3, decided_by = $4, reply = $5 WHERE id = $1",
                &[&id, &status.as_str(), &now, &decided_by, &reply],
            )?;
            if grant {
                // The owner's served versions of each object: the requester joins their
                // recipients, and the change log says so (the screening index reads it).
                let served = tx.prepare(
                    "SELECT o.vid, co.collection FROM objects o JOIN collection_objects co ON co.vid = o.vid AND co.latest = 1
                      WHERE o.idh = $1 AND o.id = $2 AND o.org = $3",
                )?;
                let add = tx.prepare(
                    "UPDATE objects SET recipients = CASE WHEN COALESCE(recipients, '') = '' THEN $2 ELSE recipients || ',' || $2 END
                      WHERE vid = $1 AND strpos(',' || COALESCE(recipients, '') || ',', ',' || $2 || ',') = 0",
                )?;
                let change =
                    tx.prepare("INSERT INTO changes (at, op, collection, vid, id) VALUES ($1, 'add', $2, $3, $4)")?;
                let requester = req.requester.to_string();
                for object in &req.objects {
                    for r in tx.query(&served, &[&crate::id_hash(object), object, &owner])? {
                        let (vid, collection): (i64, i64) = (r.get(0), r.get(1));
                        if tx.execute(&add, &[&vid, &requester])? > 0 {
                            tx.execute(&change, &[&now, &collection, &vid, object])?;
                        }
                    }
                }
            }
            let req = tx.query_one(&format!("SELECT {ACCESS_COLUMNS} FROM access_requests WHERE id = $1"), &[&id])?;
            let req = access_from_row(&req);
            tx.commit()?;
            Ok(req)
        })
    }

    fn purge_reviews(&self, now: i64) -> Result<usize, StoreError> {
        super::blocking(|| {
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM review_ties WHERE entry IN (SELECT id FROM review_queue WHERE expires <= $1)",
                &[&now],
            )?;
            let n = tx.execute("DELETE FROM review_queue WHERE expires <= $1", &[&now])?;
            tx.execute("DELETE FROM suppressions WHERE expires <= $1", &[&now])?;
            tx.commit()?;
            Ok(n as usize)
        })
    }
}

impl Cursors for PgStore {
    fn cursor(&self, name: &str) -> Result<Option<i64>, StoreError> {
        super::blocking(|| {
            Ok(self.conn().query_opt("SELECT seq FROM follower_cursors WHERE name = $1", &[&name])?.map(|r| r.get(0)))
        })
    }

    fn save_cursor(&self, name: &str, seq: i64) -> Result<(), StoreError> {
        super::blocking(|| {
            self.conn().execute(
                "INSERT INTO follower_cursors (name, seq) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq",
                &[&name, &seq],
            )?;
            Ok(())
        })
    }

    fn lead(&self, name: &str) -> Result<bool, StoreError> {
        super::blocking(|| self.lead_inner(name))
    }
}

fn notification_from_row(r: &postgres::Row) -> Notification {
    let body: String = r.get(6);
    Notification {
        id: r.get(0),
        org: r.get(1),
        at: r.get(2),
        kind: r.get(3),
        title: r.get(4),
        link: r.get(5),
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        read_at: r.get(7),
    }
}

impl Inbox for PgStore {
    fn notify(&self, items: &[NewNotification]) -> Result<Vec<i64>, StoreError> {
        super::blocking(|| {
            if items.is_empty() {
                return Ok(Vec::new());
            }
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            let stmt = tx.prepare(
                "INSERT INTO notifications (org, at, kind, title, link, body) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )?;
            let mut ids = Vec::with_capacity(items.len());
            for n in items {
                ids.push(
                    tx.query_one(&stmt, &[&n.org, &n.at, &n.kind, &n.title, &n.link, &n.body.to_string()])?.get(0),
                );
            }
            tx.commit()?;
            Ok(ids)
        })
    }

    fn notifications(&self, org: OrgId, unread: bool, limit_n: usize) -> Result<Vec<Notification>, StoreError> {
        super::blocking(|| {
            let filter = if unread { "AND read_at IS NULL" } else { "" };
            let rows = self.conn().query(
                &format!(
                    "SELECT id, org, at, kind, title, link, body, read_at FROM notifications WHERE org = $1 {filter}
                     ORDER BY id DESC LIMIT $2"
                ),
                &[&org, &limit(limit_n, 1000)],
            )?;
            Ok(rows.iter().map(notification_from_row).collect())
        })
    }

    fn unread(&self, org: OrgId) -> Result<u64, StoreError> {
        super::blocking(|| {
            let n: i64 = self
                .conn()
                .query_one("SELECT count(*) FROM notifications WHERE org = $1 AND read_at IS NULL", &[&org])?
                .get(0);
            Ok(n.max(0) as u64)
        })
    }

    fn mark_read(&self, org: OrgId, ids: &[i64], now: i64) -> Result<usize, StoreError> {
        super::blocking(|| {
            let mut conn = self.conn();
            let n = if ids.is_empty() {
                conn.execute("UPDATE notifications SET read_at = $2 WHERE org = $1 AND read_at IS NULL", &[&org, &now])?
            } else {
                conn.execute(
                    "UPDATE notifications SET read_at = $3 WHERE org = $1 AND id = ANY($2) AND read_at IS NULL",
                    &[&org, &ids, &now],
                )?
            };
            Ok(n as usize)
        })
    }
}

fn webhook_from_row(r: &postgres::Row) -> Webhook {
    let events: String = r.get(4);
    Webhook {
        id: r.get(0),
        org: r.get(1),
        url: r.get(2),
        secret: r.get(3),
        events: events.split(',').filter(|e| !e.is_empty()).map(str::to_owned).collect(),
        slack: r.get::<_, i64>(5) != 0,
        created: r.get(6),
    }
}

const DELIVERY_COLUMNS: &str =
    "id, webhook, org, kind, payload, created, attempts, next_at, status, last_error, delivered_at";

fn delivery_from_row(r: &postgres::Row) -> Delivery {
    Delivery {
        id: r.get(0),
        webhook: r.get(1),
        org: r.get(2),
        kind: r.get(3),
        payload: r.get(4),
        created: r.get(5),
        attempts: r.get::<_, i64>(6).clamp(0, i64::from(u32::MAX)) as u32,
        next_at: r.get(7),
        status: r.get(8),
        last_error: r.get(9),
        delivered_at: r.get(10),
    }
}

impl Webhooks for PgStore {
    fn add_webhook(
        &self,
        org: OrgId,
        url: &str,
        secret: &str,
        events: &[String],
        slack: bool,
        now: i64,
    ) -> Result<Webhook, StoreError> {
        super::blocking(|| {
            let r = self.conn().query_one(
                "INSERT INTO webhooks (org, url, secret, events, slack, created) VALUES ($1, $2, $3, $4, $5, $6)
                 RETURNING id, org, url, secret, events, slack, created",
                &[&org, &url, &secret, &events.join(","), &i64::from(slack), &now],
            )?;
            Ok(webhook_from_row(&r))
        })
    }

    fn webhooks(&self, org: Option<OrgId>) -> Result<Vec<Webhook>, StoreError> {
        super::blocking(|| {
            let rows = self.conn().query(
                "SELECT id, org, url, secret, events, slack, created FROM webhooks WHERE $1::BIGINT IS NULL OR org = $1 ORDER BY id",
                &[&org],
            )?;
            Ok(rows.iter().map(webhook_from_row).collect())
        })
    }

    fn remove_webhook(&self, org: OrgId, id: i64) -> Result<(), StoreError> {
        super::blocking(|| {
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            if tx.execute("DELETE FROM webhooks WHERE id = $1 AND org = $2", &[&id, &org])? == 0 {
                return Err(StoreError::NotFound(format!("webhook {id}")));
            }
            tx.execute("DELETE FROM webhook_deliveries WHERE webhook = $1 AND status = 'pending'", &[&id])?;
            tx.commit()?;
            Ok(())
        })
    }

    fn queue_deliveries(&self, items: &[(i64, OrgId, String, String)], now: i64) -> Result<(), StoreError> {
        super::blocking(|| {
            if items.is_empty() {
                return Ok(());
            }
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            let stmt = tx.prepare(
                "INSERT INTO webhook_deliveries (webhook, org, kind, payload, created, next_at) VALUES ($1, $2, $3, $4, $5, $5)",
            )?;
            for (webhook, org, kind, payload) in items {
                tx.execute(&stmt, &[webhook, org, kind, payload, &now])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn due_deliveries(&self, now: i64, limit_n: usize) -> Result<Vec<Delivery>, StoreError> {
        super::blocking(|| {
            let rows = self.conn().query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE status = 'pending' AND next_at <= $1
                     ORDER BY next_at, id LIMIT $2"
                ),
                &[&now, &limit(limit_n, 1000)],
            )?;
            Ok(rows.iter().map(delivery_from_row).collect())
        })
    }

    fn record_attempt(
        &self,
        id: i64,
        delivered: bool,
        error: Option<&str>,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        super::blocking(|| {
            let mut conn = self.conn();
            if delivered {
                conn.execute(
                    "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = $2,
                            last_error = NULL WHERE id = $1",
                    &[&id, &now],
                )?;
            } else {
                let (status, next) = match retry_at {
                    Some(at) => ("pending", at),
                    None => ("dead", now),
                };
                conn.execute(
                    "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, next_at = $3, last_error = $4
                      WHERE id = $1",
                    &[&id, &status, &next, &error],
                )?;
            }
            Ok(())
        })
    }

    fn deliveries(&self, org: OrgId, status: Option<&str>, limit_n: usize) -> Result<Vec<Delivery>, StoreError> {
        super::blocking(|| {
            let rows = self.conn().query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE org = $1 AND ($2::TEXT IS NULL OR status = $2)
                     ORDER BY id DESC LIMIT $3"
                ),
                &[&org, &status, &limit(limit_n, 1000)],
            )?;
            Ok(rows.iter().map(delivery_from_row).collect())
        })
    }

    fn resend(&self, org: OrgId, id: i64, now: i64) -> Result<Delivery, StoreError> {
        super::blocking(|| {
            let row = self.conn().query_opt(
                &format!(
                    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_at = $3, last_error = NULL
                      WHERE id = $1 AND org = $2 AND status = 'dead' RETURNING {DELIVERY_COLUMNS}"
                ),
                &[&id, &org, &now],
            )?;
            row.map(|r| delivery_from_row(&r)).ok_or_else(|| StoreError::NotFound(format!("dead delivery {id}")))
        })
    }
}

const WATCH_COLUMNS: &str = "id, org, ref, by_name, subject, created, expires, alerted, alerted_at";

fn watch_from_row(r: &postgres::Row) -> WatchRow {
    let alerted: Option<String> = r.get(7);
    WatchRow {
        id: r.get(0),
        org: r.get(1),
        reference: r.get(2),
        by: r.get(3),
        subject: r.get(4),
        created: r.get(5),
        expires: r.get(6),
        alerted: alerted.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or_default(),
        alerted_at: r.get(8),
    }
}

impl Monitoring for PgStore {
    fn watch(&self, items: &[NewWatch]) -> Result<Vec<i64>, StoreError> {
        super::blocking(|| {
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            let subject = tx.prepare(
                "INSERT INTO watched (org, ref, by_name, subject, created, expires) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )?;
            let key = tx.prepare("INSERT INTO watch_keys (hash, subject) VALUES ($1, $2) ON CONFLICT DO NOTHING")?;
            let mut ids = Vec::with_capacity(items.len());
            for w in items {
                let id: i64 = tx
                    .query_one(&subject, &[&w.org, &w.reference, &w.by_name, &w.subject, &w.created, &w.expires])?
                    .get(0);
                for h in &w.hashes {
                    // The 64 bits as a signed BIGINT, as in SQLite.
                    tx.execute(&key, &[&(*h as i64), &id])?;
                }
                ids.push(id);
            }
            tx.commit()?;
            Ok(ids)
        })
    }

    fn watched(&self, org: OrgId, now: i64, limit_n: usize) -> Result<Vec<WatchRow>, StoreError> {
        super::blocking(|| {
            let rows = self.conn().query(
                &format!(
                    "SELECT {WATCH_COLUMNS} FROM watched WHERE org = $1 AND expires > $2 ORDER BY id DESC LIMIT $3"
                ),
                &[&org, &now, &limit(limit_n, 10_000)],
            )?;
            Ok(rows.iter().map(watch_from_row).collect())
        })
    }

    fn unwatch(&self, org: OrgId, id: i64) -> Result<(), StoreError> {
        super::blocking(|| {
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            if tx.execute("DELETE FROM watched WHERE id = $1 AND org = $2", &[&id, &org])? == 0 {
                return Err(StoreError::NotFound(format!("watched subject {id}")));
            }
            tx.execute("DELETE FROM watch_keys WHERE subject = $1", &[&id])?;
            tx.commit()?;
            Ok(())
        })
    }

    fn watched_by_hashes(&self, hashes: &[u64], now: i64) -> Result<Vec<WatchRow>, StoreError> {
        super::blocking(|| {
            let keys: Vec<i64> = hashes.iter().map(|h| *h as i64).collect();
            let rows = self.conn().query(
                &format!(
                    "SELECT {WATCH_COLUMNS} FROM watched
                      WHERE id IN (SELECT subject FROM watch_keys WHERE hash = ANY($1)) AND expires > $2 ORDER BY id"
                ),
                &[&keys, &now],
            )?;
            Ok(rows.iter().map(watch_from_row).collect())
        })
    }

    fn set_alerted(&self, id: i64, objects: &[String], now: i64) -> Result<(), StoreError> {
        super::blocking(|| {
            self.conn().execute(
                "UPDATE watched SET alerted = $2, alerted_at = $3 WHERE id = $1",
                &[&id, &serde_json::to_string(objects).unwrap_or_default(), &now],
            )?;
            Ok(())
        })
    }

    fn purge_watched(&self, now: i64) -> Result<usize, StoreError> {
        super::blocking(|| {
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM watch_keys WHERE subject IN (SELECT id FROM watched WHERE expires <= $1)",
                &[&now],
            )?;
            let n = tx.execute("DELETE FROM watched WHERE expires <= $1", &[&now])?;
            tx.commit()?;
            Ok(n as usize)
        })
    }

    fn watched_count(&self) -> Result<u64, StoreError> {
        super::blocking(|| {
            let n: i64 = self.conn().query_one("SELECT count(*) FROM watched", &[])?.get(0);
            Ok(n.max(0) as u64)
        })
    }
}

fn state_from_row(r: &postgres::Row) -> SyncState {
    SyncState {
        name: r.get(0),
        cursor: r.get(1),
        objects: r.get::<_, i64>(2).max(0) as u64,
        skipped: r.get::<_, i64>(3).max(0) as u64,
        last_run: r.get(4),
        last_ok: r.get(5),
        last_error: r.get(6),
    }
}

impl Federation for PgStore {
    fn peer_org(&self, name: &str) -> Result<Org, StoreError> {
        super::blocking(|| {
            let org = match self.org_by_name(name) {
                Ok(org) => org,
                Err(StoreError::NotFound(_)) => {
                    let org = self.add_org(name)?;
                    self.conn().execute("UPDATE orgs SET kind = 'peer' WHERE id = $1", &[&org.id])?;
                    Org { peer: true, ..org }
                }
                Err(e) => return Err(e),
            };
            if !org.peer {
                return Err(StoreError::Conflict(format!(
                    "member organization {:?}: a peer needs a name of its own",
                    org.name
                )));
            }
            Ok(org)
        })
    }

    fn sync_state(&self, name: &str) -> Result<Option<SyncState>, StoreError> {
        super::blocking(|| {
            Ok(self
                .conn()
                .query_opt(
                    "SELECT name, cursor, objects, skipped, last_run, last_ok, last_error FROM sync_state WHERE name = $1",
                    &[&name],
                )?
                .map(|r| state_from_row(&r)))
        })
    }

    fn save_sync_state(&self, s: &SyncState) -> Result<(), StoreError> {
        super::blocking(|| {
            self.conn().execute(
                "INSERT INTO sync_state (name, cursor, objects, skipped, last_run, last_ok, last_error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (name) DO UPDATE SET cursor = EXCLUDED.cursor, objects = EXCLUDED.objects,
                   skipped = EXCLUDED.skipped, last_run = EXCLUDED.last_run, last_ok = EXCLUDED.last_ok,
                   last_error = EXCLUDED.last_error",
                &[
                    &s.name,
                    &s.cursor,
                    &i64::try_from(s.objects).unwrap_or(i64::MAX),
                    &i64::try_from(s.skipped).unwrap_or(i64::MAX),
                    &s.last_run,
                    &s.last_ok,
                    &s.last_error,
                ],
            )?;
            Ok(())
        })
    }

    fn sync_states(&self) -> Result<Vec<SyncState>, StoreError> {
        super::blocking(|| {
            let rows = self.conn().query(
                "SELECT name, cursor, objects, skipped, last_run, last_ok, last_error FROM sync_state ORDER BY name",
                &[],
            )?;
            Ok(rows.iter().map(state_from_row).collect())
        })
    }

    fn report_mirror(&self, m: &MirrorReport) -> Result<(), StoreError> {
        super::blocking(|| {
            let name = m.name.trim();
            if name.is_empty() || name.chars().count() > MAX_MIRROR_NAME || name.chars().any(char::is_control) {
                return Err(StoreError::Invalid(format!(
                    "a mirror's name must be 1-{MAX_MIRROR_NAME} printable characters"
                )));
            }
            self.conn().execute(
                "INSERT INTO mirrors (token, name, org, synced_at, newest, objects, reported_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (token, name) DO UPDATE SET org = EXCLUDED.org, synced_at = EXCLUDED.synced_at,
                   newest = EXCLUDED.newest, objects = EXCLUDED.objects, reported_at = EXCLUDED.reported_at",
                &[
                    &m.token,
                    &name,
                    &m.org,
                    &m.synced_at,
                    &m.newest,
                    &i64::try_from(m.objects).unwrap_or(i64::MAX),
                    &m.reported_at,
                ],
            )?;
            Ok(())
        })
    }

    fn mirrors(&self) -> Result<Vec<MirrorReport>, StoreError> {
        super::blocking(|| {
            let rows = self.conn().query(
                "SELECT token, name, org, synced_at, newest, objects, reported_at FROM mirrors ORDER BY reported_at DESC",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| MirrorReport {
                    token: r.get(0),
                    name: r.get(1),
                    org: r.get(2),
                    synced_at: r.get(3),
                    newest: r.get(4),
                    objects: r.get::<_, i64>(5).max(0) as u64,
                    reported_at: r.get(6),
                })
                .collect())
        })
    }
}
