//! Federation's records in SQLite.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::federation::{Federation, MAX_MIRROR_NAME, MirrorReport, SyncState};
use crate::{Directory, Org, StoreError};

fn state_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SyncState> {
    Ok(SyncState {
        name: r.get(0)?,
        cursor: r.get(1)?,
        objects: r.get::<_, i64>(2)?.max(0) as u64,
        skipped: r.get::<_, i64>(3)?.max(0) as u64,
        last_run: r.get(4)?,
        last_ok: r.get(5)?,
        last_error: r.get(6)?,
    })
}

impl Federation for SqliteStore {
    fn peer_org(&self, name: &str) -> Result<Org, StoreError> {
        let org = match self.org_by_name(name) {
            Ok(org) => org,
            Err(StoreError::NotFound(_)) => {
                let org = self.add_org(name)?;
                self.lock().execute("UPDATE orgs SET kind = 'peer' WHERE id = ?1", [org.id])?;
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
    }

    fn sync_state(&self, name: &str) -> Result<Option<SyncState>, StoreError> {
        let conn = self.read();
        Ok(conn
            .query_row(
                "SELECT name, cursor, objects, skipped, last_run, last_ok, last_error FROM sync_state WHERE name = ?1",
                [name],
                state_from_row,
            )
            .optional()?)
    }

    fn save_sync_state(&self, s: &SyncState) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO sync_state (name, cursor, objects, skipped, last_run, last_ok, last_error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, objects = excluded.objects,
               skipped = excluded.skipped, last_run = excluded.last_run, last_ok = excluded.last_ok,
               last_error = excluded.last_error",
            params![
                s.name,
                s.cursor,
                i64::try_from(s.objects).unwrap_or(i64::MAX),
                i64::try_from(s.skipped).unwrap_or(i64::MAX),
                s.last_run,
                s.last_ok,
                s.last_error
            ],
        )?;
        Ok(())
    }

    fn sync_states(&self) -> Result<Vec<SyncState>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT name, cursor, objects, skipped, last_run, last_ok, last_error FROM sync_state ORDER BY name",
        )?;
        let rows = stmt.query_map([], state_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn report_mirror(&self, m: &MirrorReport) -> Result<(), StoreError> {
        let name = m.name.trim();
        if name.is_empty() || name.chars().count() > MAX_MIRROR_NAME || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid(format!(
                "a mirror's name must be 1-{MAX_MIRROR_NAME} printable characters"
            )));
        }
        self.lock().execute(
            "INSERT INTO mirrors (token, name, org, synced_at, newest, objects, reported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (token, name) DO UPDATE SET org = excluded.org, synced_at = excluded.synced_at,
               newest = excluded.newest, objects = excluded.objects, reported_at = excluded.reported_at",
            params![
                m.token,
                name,
                m.org,
                m.synced_at,
                m.newest,
                i64::try_from(m.objects).unwrap_or(i64::MAX),
                m.reported_at
            ],
        )?;
        Ok(())
    }

    fn mirrors(&self) -> Result<Vec<MirrorReport>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT token, name, org, synced_at, newest, objects, reported_at FROM mirrors ORDER BY reported_at DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(MirrorReport {
                token: r.get(0)?,
                name: r.get(1)?,
                org: r.get(2)?,
                synced_at: r.get(3)?,
                newest: r.get(4)?,
                objects: r.get::<_, i64>(5)?.max(0) as u64,
                reported_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_never_takes_a_members_name_and_its_state_persists() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        store.add_org("Acme").unwrap();
        assert!(matches!(store.peer_org("acme"), Err(StoreError::Conflict(_))));
        let peer = store.peer_org("other-isac").unwrap();
        assert!(peer.peer);
        assert_eq!(store.peer_org("other-isac").unwrap().id, peer.id);
        assert!(store.orgs().unwrap().iter().any(|o| o.id == peer.id && o.peer));
        assert!(store.sync_state("pull:x:y").unwrap().is_none());
        let s = SyncState { name: "pull:x:y".into(), cursor: Some("c".into()), objects: 3, ..Default::default() };
        store.save_sync_state(&s).unwrap();
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.sync_state("pull:x:y").unwrap(), Some(s));
        assert_eq!(store.sync_states().unwrap().len(), 1);
    }
}
