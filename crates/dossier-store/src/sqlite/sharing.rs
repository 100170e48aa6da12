//! The sharing loop's records in SQLite.

use dossier_stix::OrgId;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::StoreError;
use crate::sharing::{
    AccessRequest, AccessSide, AccessStatus, Cursors, Disposition, DispositionCount, Inbox, Judgement, MAX_COMMENT,
    MAX_NOTE, MAX_PENDING, NewNotification, NewReviewEntry, Notification, ReviewEntry, ReviewQuery, ReviewStatus,
    Sharing, SuppressedTie,
};
use crate::sharing::{Delivery, Monitoring, NewWatch, WatchRow, Webhook, Webhooks};

const ENTRY_COLUMNS: &str = "id, org, at, expires, by_name, source, ref, ref_hash, decision, score, result, \
     disposition, comment, judged_name, judged_at";

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReviewEntry> {
    let result: String = r.get(10)?;
    let disposition: Option<String> = r.get(11)?;
    Ok(ReviewEntry {
        id: r.get(0)?,
        org: r.get(1)?,
        at: r.get(2)?,
        expires: r.get(3)?,
        by: r.get(4)?,
        source: r.get(5)?,
        reference: r.get(6)?,
        ref_hash: r.get(7)?,
        decision: r.get(8)?,
        score: r.get(9)?,
        // Written by this store from a serialised value; unreadable JSON reads as null
        // rather than failing the whole listing.
        result: serde_json::from_str(&result).unwrap_or(serde_json::Value::Null),
        disposition: disposition.as_deref().and_then(Disposition::parse),
        comment: r.get(12)?,
        judged_by: r.get(13)?,
        judged_at: r.get(14)?,
    })
}

impl Sharing for SqliteStore {
    fn enqueue(&self, entries: &[NewReviewEntry]) -> Result<Vec<i64>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut ids = Vec::with_capacity(entries.len());
        {
            let mut entry = tx.prepare_cached(
                "INSERT INTO review_queue (org, at, expires, by_id, by_name, source, ref, ref_hash, decision, score, result)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            let mut tie =
                tx.prepare_cached("INSERT OR IGNORE INTO review_ties (entry, value_hash, object) VALUES (?1, ?2, ?3)")?;
            let mut hidden =
                tx.prepare_cached("INSERT OR IGNORE INTO review_restricted (entry, object) VALUES (?1, ?2)")?;
            for e in entries {
                if !matches!(e.decision.as_str(), "match" | "review") {
                    return Err(StoreError::Invalid(format!(
                        "only match and review screens are queued, not {:?}",
                        e.decision
                    )));
                }
                entry.execute(params![
                    e.org,
                    e.at,
                    e.expires,
                    e.by_id,
                    e.by_name,
                    e.source,
                    e.reference,
                    e.ref_hash,
                    e.decision,
                    e.score,
                    e.result
                ])?;
                let id = tx.last_insert_rowid();
                for (value, object) in &e.ties {
                    tie.execute(params![id, value, object])?;
                }
                for object in &e.restricted {
                    hidden.execute(params![id, object])?;
                }
                ids.push(id);
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    fn review_entries(&self, org: OrgId, query: &ReviewQuery, now: i64) -> Result<Vec<ReviewEntry>, StoreError> {
        let status = match query.status {
            ReviewStatus::Open => "AND disposition IS NULL",
            ReviewStatus::Judged => "AND disposition IS NOT NULL",
            ReviewStatus::All => "",
        };
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM review_queue WHERE org = ?1 AND expires > ?2 AND id < ?3 {status}
             ORDER BY id DESC LIMIT ?4"
        ))?;
        let rows = stmt.query_map(
            params![org, now, query.before.unwrap_or(i64::MAX), query.limit.clamp(1, 1000) as i64],
            entry_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn review_entry(&self, org: OrgId, id: i64, now: i64) -> Result<Option<ReviewEntry>, StoreError> {
        let conn = self.read();
        Ok(conn
            .query_row(
                &format!("SELECT {ENTRY_COLUMNS} FROM review_queue WHERE id = ?1 AND org = ?2 AND expires > ?3"),
                params![id, org, now],
                entry_from_row,
            )
            .optional()?)
    }

    fn open_reviews(&self, org: OrgId, now: i64) -> Result<u64, StoreError> {
        let conn = self.read();
        let n: i64 = conn.query_row(
            "SELECT count(*) FROM review_queue WHERE org = ?1 AND expires > ?2 AND disposition IS NULL",
            params![org, now],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }

    fn judge(&self, org: OrgId, id: i64, j: &Judgement, now: i64) -> Result<ReviewEntry, StoreError> {
        if j.comment.as_ref().is_some_and(|c| c.len() > MAX_COMMENT) {
            return Err(StoreError::Invalid(format!("a comment is at most {MAX_COMMENT} bytes")));
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let kept: Option<(i64, i64)> = tx
            .query_row(
                "SELECT at, expires FROM review_queue WHERE id = ?1 AND org = ?2 AND expires > ?3",
                params![id, org, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((at, expires)) = kept else {
            return Err(StoreError::NotFound(format!("review entry {id}")));
        };
        tx.execute(
            "UPDATE review_queue SET disposition = ?2, comment = ?3, judged_by = ?4, judged_name = ?5, judged_at = ?6
             WHERE id = ?1",
            params![id, j.disposition.as_str(), j.comment, j.by_id, j.by_name, now],
        )?;
        // A judgement replaces the one before: its suppressions and counts go.
        tx.execute("DELETE FROM suppressions WHERE entry = ?1", [id])?;
        tx.execute("DELETE FROM dispositions WHERE entry = ?1", [id])?;
        if j.disposition == Disposition::FalsePositive {
            // Kept as long as an entry is, counted from the judgement.
            let until = now.saturating_add(expires - at);
            tx.execute(
                "INSERT OR REPLACE INTO suppressions (org, value_hash, object, entry, by_name, at, expires)
                 SELECT ?2, value_hash, object, entry, ?3, ?4, ?5 FROM review_ties WHERE entry = ?1",
                params![id, org, j.by_name, now, until],
            )?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO dispositions (entry, object, org, disposition, at)
             SELECT DISTINCT entry, object, ?2, ?3, ?4 FROM review_ties WHERE entry = ?1",
            params![id, org, j.disposition.as_str(), now],
        )?;
        let entry =
            tx.query_row(&format!("SELECT {ENTRY_COLUMNS} FROM review_queue WHERE id = ?1"), [id], entry_from_row)?;
        tx.commit()?;
        Ok(entry)
    }

    fn suppressions(&self, org: OrgId, now: i64) -> Result<Vec<SuppressedTie>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT value_hash, object, by_name, at FROM suppressions WHERE org = ?1 AND expires > ?2",
        )?;
        let rows = stmt.query_map(params![org, now], |r| {
            Ok(SuppressedTie { value_hash: r.get(0)?, object: r.get(1)?, by_name: r.get(2)?, at: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn disposition_counts(&self, object: Option<&str>, limit: usize) -> Result<Vec<DispositionCount>, StoreError> {
        let conn = self.read();
        let filter = if object.is_some() { "WHERE object = ?1" } else { "WHERE ?1 IS NULL" };
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT object,
                    sum(disposition = 'confirmed'), sum(disposition = 'false_positive'), sum(disposition = 'unsure'),
                    count(DISTINCT org), max(at)
             FROM dispositions {filter}
             GROUP BY object
             ORDER BY 3 DESC, 2 DESC, object
             LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![object, limit.clamp(1, 10_000) as i64], |r| {
            Ok(DispositionCount {
                object: r.get(0)?,
                confirmed: r.get::<_, i64>(1)?.max(0) as u64,
                false_positive: r.get::<_, i64>(2)?.max(0) as u64,
                unsure: r.get::<_, i64>(3)?.max(0) as u64,
                organizations: r.get::<_, i64>(4)?.max(0) as u64,
                last: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        self.request_access_impl(requester, entry, named, requested_by, note, now)
    }

    fn access_requests(&self, org: OrgId, side: AccessSide, limit: usize) -> Result<Vec<AccessRequest>, StoreError> {
        self.access_requests_impl(org, side, limit)
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
        self.decide_access_impl(owner, id, grant, decided_by, reply, now)
    }

    fn purge_reviews(&self, now: i64) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM review_ties WHERE entry IN (SELECT id FROM review_queue WHERE expires <= ?1)", [now])?;
        let n = tx.execute("DELETE FROM review_queue WHERE expires <= ?1", [now])?;
        tx.execute("DELETE FROM suppressions WHERE expires <= ?1", [now])?;
        tx.commit()?;
        Ok(n)
    }
}

const ACCESS_COLUMNS: &str = "id, entry, requester, named, requested_by, owner, objects, hit_at, at, note, status, \
     decided_at, decided_by, reply";

fn access_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccessRequest> {
    let objects: String = r.get(6)?;
    let status: String = r.get(10)?;
    Ok(AccessRequest {
        id: r.get(0)?,
        entry: r.get(1)?,
        requester: r.get(2)?,
        named: r.get::<_, i64>(3)? != 0,
        requested_by: r.get(4)?,
        owner: r.get(5)?,
        objects: serde_json::from_str(&objects).unwrap_or_default(),
        hit_at: r.get(7)?,
        at: r.get(8)?,
        note: r.get(9)?,
        status: AccessStatus::parse(&status),
        decided_at: r.get(11)?,
        decided_by: r.get(12)?,
        reply: r.get(13)?,
    })
}

impl SqliteStore {
    pub(super) fn request_access_impl(
        &self,
        requester: OrgId,
        entry: i64,
        named: bool,
        requested_by: &str,
        note: Option<&str>,
        now: i64,
    ) -> Result<Vec<AccessRequest>, StoreError> {
        if note.is_some_and(|n| n.len() > MAX_NOTE) {
            return Err(StoreError::Invalid(format!("a note is at most {MAX_NOTE} bytes")));
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let hit_at: Option<i64> = tx
            .query_row(
                "SELECT at FROM review_queue WHERE id = ?1 AND org = ?2 AND expires > ?3",
                params![entry, requester, now],
                |r| r.get(0),
            )
            .optional()?;
        let Some(hit_at) = hit_at else {
            return Err(StoreError::NotFound(format!("review entry {entry}")));
        };
        // Each hidden object's owner: the organization whose version is served.
        let mut by_owner: std::collections::BTreeMap<OrgId, Vec<String>> = Default::default();
        {
            let mut objects = tx.prepare("SELECT object FROM review_restricted WHERE entry = ?1 ORDER BY object")?;
            let mut owner = tx.prepare(
                "SELECT DISTINCT o.org FROM objects o JOIN collection_objects co ON co.vid = o.vid AND co.latest = 1
                  WHERE o.idh = ?1 AND o.id = ?2",
            )?;
            let ids: Vec<String> = objects.query_map([entry], |r| r.get(0))?.collect::<Result<_, _>>()?;
            for id in ids {
                let owners: Vec<OrgId> =
                    owner.query_map(params![super::id_hash(&id), id], |r| r.get(0))?.collect::<Result<_, _>>()?;
                for o in owners.into_iter().filter(|o| *o != requester) {
                    by_owner.entry(o).or_default().push(id.clone());
                }
            }
        }
        if by_owner.is_empty() {
            return Err(StoreError::NotFound(format!("a restricted hit in review entry {entry}")));
        }
        // One member cannot bury another's inbox in requests: a bounded number wait at once.
        for owner in by_owner.keys() {
            let waiting: i64 = tx.query_row(
                "SELECT count(*) FROM access_requests WHERE requester = ?1 AND owner = ?2 AND status = 'pending'
                   AND entry <> ?3",
                params![requester, owner, entry],
                |r| r.get(0),
            )?;
            if waiting >= MAX_PENDING {
                return Err(StoreError::Invalid(format!(
                    "{waiting} of your access requests to one owner are still waiting for an answer (at most {MAX_PENDING}); ask again once some are answered"
                )));
            }
        }
        for (owner, objects) in &by_owner {
            tx.execute(
                "INSERT OR IGNORE INTO access_requests (entry, requester, named, requested_by, owner, objects, hit_at, at, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    entry,
                    requester,
                    named,
                    requested_by,
                    owner,
                    serde_json::to_string(objects).unwrap_or_default(),
                    hit_at,
                    now,
                    note
                ],
            )?;
        }
        let rows = {
            let mut stmt =
                tx.prepare(&format!("SELECT {ACCESS_COLUMNS} FROM access_requests WHERE entry = ?1 ORDER BY id"))?;
            stmt.query_map([entry], access_from_row)?.collect::<Result<Vec<_>, _>>()?
        };
        tx.commit()?;
        Ok(rows)
    }

    pub(super) fn decide_access_impl(
        &self,
        owner: OrgId,
        id: i64,
        grant: bool,
        decided_by: &str,
        reply: Option<&str>,
        now: i64,
    ) -> Result<AccessRequest, StoreError> {
        if reply.is_some_and(|n| n.len() > MAX_NOTE) {
            return Err(StoreError::Invalid(format!("a reply is at most {MAX_NOTE} bytes")));
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let req = tx
            .query_row(
                &format!("SELECT {ACCESS_COLUMNS} FROM access_requests WHERE id = ?1 AND owner = ?2"),
                params![id, owner],
                access_from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("access request {id}")))?;
        if req.status != AccessStatus::Pending {
            return Err(StoreError::Invalid(format!("access request {id} was {} already", req.status.as_str())));
        }
        let status = if grant { AccessStatus::Granted } else { AccessStatus::Declined };
        tx.execute(
            "UPDATE access_requests SET status = ?2, decided_at = ?3, decided_by = ?4, reply = ?5 WHERE id = ?1",
            params![id, status.as_str(), now, decided_by, reply],
        )?;
        if grant {
            // The owner's served versions of each object: the requester joins their
            // recipients, and the change log says so (the screening index reads it).
            let mut served = tx.prepare(
                "SELECT o.vid, co.collection FROM objects o JOIN collection_objects co ON co.vid = o.vid AND co.latest = 1
                  WHERE o.idh = ?1 AND o.id = ?2 AND o.org = ?3",
            )?;
            let mut add = tx.prepare(super::ADD_RECIPIENT)?;
            let mut change =
                tx.prepare("INSERT INTO changes (at, op, collection, vid, id) VALUES (?1, 'add', ?2, ?3, ?4)")?;
            for object in &req.objects {
                let rows: Vec<(i64, i64)> = served
                    .query_map(params![super::id_hash(object), object, owner], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                for (vid, collection) in rows {
                    if add.execute(params![vid, req.requester.to_string()])? > 0 {
                        change.execute(params![now, collection, vid, object])?;
                    }
                }
            }
        }
        let req = tx.query_row(
            &format!("SELECT {ACCESS_COLUMNS} FROM access_requests WHERE id = ?1"),
            [id],
            access_from_row,
        )?;
        tx.commit()?;
        Ok(req)
    }

    pub(super) fn access_requests_impl(
        &self,
        org: OrgId,
        side: AccessSide,
        limit: usize,
    ) -> Result<Vec<AccessRequest>, StoreError> {
        let filter = match side {
            AccessSide::Incoming => "WHERE owner = ?1",
            AccessSide::Outgoing => "WHERE requester = ?1",
            AccessSide::All => "WHERE ?1 IS NOT NULL",
        };
        let conn = self.read();
        let mut stmt =
            conn.prepare(&format!("SELECT {ACCESS_COLUMNS} FROM access_requests {filter} ORDER BY id DESC LIMIT ?2"))?;
        let rows = stmt.query_map(params![org, limit.clamp(1, 10_000) as i64], access_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Cursors for SqliteStore {
    fn cursor(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let conn = self.read();
        Ok(conn.query_row("SELECT seq FROM follower_cursors WHERE name = ?1", [name], |r| r.get(0)).optional()?)
    }

    fn save_cursor(&self, name: &str, seq: i64) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO follower_cursors (name, seq) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
            params![name, seq],
        )?;
        Ok(())
    }
}

fn notification_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Notification> {
    let body: String = r.get(6)?;
    Ok(Notification {
        id: r.get(0)?,
        org: r.get(1)?,
        at: r.get(2)?,
        kind: r.get(3)?,
        title: r.get(4)?,
        link: r.get(5)?,
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        read_at: r.get(7)?,
    })
}

impl Inbox for SqliteStore {
    fn notify(&self, items: &[NewNotification]) -> Result<Vec<i64>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut ids = Vec::with_capacity(items.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO notifications (org, at, kind, title, link, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for n in items {
                stmt.execute(params![n.org, n.at, n.kind, n.title, n.link, n.body.to_string()])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    fn notifications(&self, org: OrgId, unread: bool, limit: usize) -> Result<Vec<Notification>, StoreError> {
        let conn = self.read();
        let filter = if unread { "AND read_at IS NULL" } else { "" };
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT id, org, at, kind, title, link, body, read_at FROM notifications WHERE org = ?1 {filter}
             ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![org, limit.clamp(1, 1000) as i64], notification_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn unread(&self, org: OrgId) -> Result<u64, StoreError> {
        let conn = self.read();
        let n: i64 =
            conn.query_row("SELECT count(*) FROM notifications WHERE org = ?1 AND read_at IS NULL", [org], |r| {
                r.get(0)
            })?;
        Ok(n.max(0) as u64)
    }

    fn mark_read(&self, org: OrgId, ids: &[i64], now: i64) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut n = 0;
        if ids.is_empty() {
            n += tx.execute(
                "UPDATE notifications SET read_at = ?2 WHERE org = ?1 AND read_at IS NULL",
                params![org, now],
            )?;
        } else {
            let mut stmt =
                tx.prepare("UPDATE notifications SET read_at = ?3 WHERE org = ?1 AND id = ?2 AND read_at IS NULL")?;
            for id in ids {
                n += stmt.execute(params![org, id, now])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }
}

fn webhook_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Webhook> {
    let events: String = r.get(4)?;
    Ok(Webhook {
        id: r.get(0)?,
        org: r.get(1)?,
        url: r.get(2)?,
        secret: r.get(3)?,
        events: events.split(',').filter(|e| !e.is_empty()).map(str::to_owned).collect(),
        slack: r.get::<_, i64>(5)? != 0,
        created: r.get(6)?,
    })
}

const DELIVERY_COLUMNS: &str =
    "id, webhook, org, kind, payload, created, attempts, next_at, status, last_error, delivered_at";

fn delivery_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        webhook: r.get(1)?,
        org: r.get(2)?,
        kind: r.get(3)?,
        payload: r.get(4)?,
        created: r.get(5)?,
        attempts: r.get::<_, i64>(6)?.clamp(0, i64::from(u32::MAX)) as u32,
        next_at: r.get(7)?,
        status: r.get(8)?,
        last_error: r.get(9)?,
        delivered_at: r.get(10)?,
    })
}

impl Webhooks for SqliteStore {
    fn add_webhook(
        &self,
        org: OrgId,
        url: &str,
        secret: &str,
        events: &[String],
        slack: bool,
        now: i64,
    ) -> Result<Webhook, StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO webhooks (org, url, secret, events, slack, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![org, url, secret, events.join(","), slack, now],
        )?;
        let id = conn.last_insert_rowid();
        Ok(conn.query_row(
            "SELECT id, org, url, secret, events, slack, created FROM webhooks WHERE id = ?1",
            [id],
            webhook_from_row,
        )?)
    }

    fn webhooks(&self, org: Option<OrgId>) -> Result<Vec<Webhook>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT id, org, url, secret, events, slack, created FROM webhooks WHERE ?1 IS NULL OR org = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([org], webhook_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn remove_webhook(&self, org: OrgId, id: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if tx.execute("DELETE FROM webhooks WHERE id = ?1 AND org = ?2", params![id, org])? == 0 {
            return Err(StoreError::NotFound(format!("webhook {id}")));
        }
        tx.execute("DELETE FROM webhook_deliveries WHERE webhook = ?1 AND status = 'pending'", [id])?;
        tx.commit()?;
        Ok(())
    }

    fn queue_deliveries(&self, items: &[(i64, OrgId, String, String)], now: i64) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO webhook_deliveries (webhook, org, kind, payload, created, next_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?;
            for (webhook, org, kind, payload) in items {
                stmt.execute(params![webhook, org, kind, payload, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn due_deliveries(&self, now: i64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE status = 'pending' AND next_at <= ?1
             ORDER BY next_at, id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now, limit.clamp(1, 1000) as i64], delivery_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn record_attempt(
        &self,
        id: i64,
        delivered: bool,
        error: Option<&str>,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        if delivered {
            conn.execute(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?2,
                        last_error = NULL WHERE id = ?1",
                params![id, now],
            )?;
        } else {
            let (status, next) = match retry_at {
                Some(at) => ("pending", at),
                None => ("dead", now),
            };
            conn.execute(
                "UPDATE webhook_deliveries SET status = ?2, attempts = attempts + 1, next_at = ?3, last_error = ?4
                  WHERE id = ?1",
                params![id, status, next, error],
            )?;
        }
        Ok(())
    }

    fn deliveries(&self, org: OrgId, status: Option<&str>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE org = ?1 AND (?2 IS NULL OR status = ?2)
             ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![org, status, limit.clamp(1, 1000) as i64], delivery_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn resend(&self, org: OrgId, id: i64, now: i64) -> Result<Delivery, StoreError> {
        let conn = self.lock();
        let n = conn.execute(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_at = ?3, last_error = NULL
              WHERE id = ?1 AND org = ?2 AND status = 'dead'",
            params![id, org, now],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("dead delivery {id}")));
        }
        Ok(conn.query_row(
            &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?1"),
            [id],
            delivery_from_row,
        )?)
    }
}

const WATCH_COLUMNS: &str = "id, org, ref, by_name, subject, created, expires, alerted, alerted_at";

fn watch_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WatchRow> {
    let alerted: Option<String> = r.get(7)?;
    Ok(WatchRow {
        id: r.get(0)?,
        org: r.get(1)?,
        reference: r.get(2)?,
        by: r.get(3)?,
        subject: r.get(4)?,
        created: r.get(5)?,
        expires: r.get(6)?,
        alerted: alerted.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or_default(),
        alerted_at: r.get(8)?,
    })
}

impl Monitoring for SqliteStore {
    fn watch(&self, items: &[NewWatch]) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut ids = Vec::with_capacity(items.len());
        {
            let mut subject = tx.prepare_cached(
                "INSERT INTO watched (org, ref, by_name, subject, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut key = tx.prepare_cached("INSERT OR IGNORE INTO watch_keys (hash, subject) VALUES (?1, ?2)")?;
            for w in items {
                subject.execute(params![w.org, w.reference, w.by_name, w.subject, w.created, w.expires])?;
                let id = tx.last_insert_rowid();
                for h in &w.hashes {
                    // The 64 bits as SQLite's signed integer.
                    key.execute(params![*h as i64, id])?;
                }
                ids.push(id);
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    fn watched(&self, org: OrgId, now: i64, limit: usize) -> Result<Vec<WatchRow>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {WATCH_COLUMNS} FROM watched WHERE org = ?1 AND expires > ?2 ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![org, now, limit.clamp(1, 10_000) as i64], watch_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn unwatch(&self, org: OrgId, id: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if tx.execute("DELETE FROM watched WHERE id = ?1 AND org = ?2", params![id, org])? == 0 {
            return Err(StoreError::NotFound(format!("watched subject {id}")));
        }
        tx.execute("DELETE FROM watch_keys WHERE subject = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }

    fn watched_by_hashes(&self, hashes: &[u64], now: i64) -> Result<Vec<WatchRow>, StoreError> {
        let conn = self.read();
        let mut ids = std::collections::BTreeSet::new();
        {
            let mut stmt = conn.prepare_cached("SELECT subject FROM watch_keys WHERE hash = ?1")?;
            for h in hashes {
                for id in stmt.query_map([*h as i64], |r| r.get::<_, i64>(0))? {
                    ids.insert(id?);
                }
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {WATCH_COLUMNS} FROM watched WHERE id = ?1 AND expires > ?2"))?;
        for id in ids {
            if let Some(w) = stmt.query_row(params![id, now], watch_from_row).optional()? {
                out.push(w);
            }
        }
        Ok(out)
    }

    fn set_alerted(&self, id: i64, objects: &[String], now: i64) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute(
            "UPDATE watched SET alerted = ?2, alerted_at = ?3 WHERE id = ?1",
            params![id, serde_json::to_string(objects).unwrap_or_default(), now],
        )?;
        Ok(())
    }

    fn purge_watched(&self, now: i64) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM watch_keys WHERE subject IN (SELECT id FROM watched WHERE expires <= ?1)", [now])?;
        let n = tx.execute("DELETE FROM watched WHERE expires <= ?1", [now])?;
        tx.commit()?;
        Ok(n)
    }

    fn watched_count(&self) -> Result<u64, StoreError> {
        let conn = self.read();
        let n: i64 = conn.query_row("SELECT count(*) FROM watched", [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }
}
