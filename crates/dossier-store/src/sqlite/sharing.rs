//! The sharing loop's records in SQLite.

use dossier_stix::OrgId;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::StoreError;
use crate::sharing::{
    Disposition, DispositionCount, Judgement, MAX_COMMENT, NewReviewEntry, ReviewEntry, ReviewQuery, ReviewStatus,
    Sharing, SuppressedTie,
};

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
