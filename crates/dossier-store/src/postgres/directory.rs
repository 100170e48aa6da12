//! Organizations, tokens, secrets, web users and sessions, collections, the audit log and
//! the change log in PostgreSQL.

use dossier_stix::timestamp::now_micros;
use dossier_stix::{OrgId, Role, Tlp};
use postgres::types::ToSql;

use super::{PgStore, is_unique_violation};
use crate::{
    Access, Accounts, AuditLog, AuditQuery, AuditRecord, Change, ChangeLog, ChangeOp, Collection, CollectionId,
    Collections, Directory, NewToken, Org, StoreError, TokenInfo, User, WebSession,
};

const ORG_COLUMNS: &str = "id, name, identity_id, isac, kind";
const COLLECTION_COLUMNS: &str = "id, uuid, alias, title, description, default_tlp, read_access, write_access";
const TOKEN_COLUMNS: &str = "id, org, role, label, created, expires, revoked";
const USER_COLUMNS: &str = "id, name, org, role, password, created, disabled";

fn org_from_row(r: &postgres::Row) -> Org {
    let kind: String = r.get(4);
    Org { id: r.get(0), name: r.get(1), identity_id: r.get(2), isac: r.get::<_, i64>(3) != 0, peer: kind == "peer" }
}

fn token_from_row(r: &postgres::Row) -> TokenInfo {
    let role: String = r.get(2);
    TokenInfo {
        id: r.get(0),
        org: r.get(1),
        role: Role::parse(&role).unwrap_or(Role::Member),
        label: r.get(3),
        created: r.get(4),
        expires: r.get(5),
        revoked: r.get(6),
    }
}

fn user_from_row(r: &postgres::Row) -> User {
    let role: String = r.get(3);
    User {
        id: r.get(0),
        name: r.get(1),
        org: r.get(2),
        role: Role::parse(&role).unwrap_or(Role::Member),
        password_hash: r.get(4),
        created: r.get(5),
        disabled: r.get(6),
    }
}

fn collection_from_row(r: &postgres::Row) -> Collection {
    let tlp: i64 = r.get(5);
    Collection {
        id: r.get(0),
        uuid: r.get(1),
        alias: r.get(2),
        title: r.get(3),
        description: r.get(4),
        default_tlp: Tlp::from_code(tlp).unwrap_or(Tlp::Amber),
        read: Access::parse(&r.get::<_, String>(6)).unwrap_or(Access::Analysts),
        write: Access::parse(&r.get::<_, String>(7)).unwrap_or(Access::Nobody),
    }
}

impl PgStore {
    pub(super) fn add_org_inner(&self, name: &str, isac: bool) -> Result<Org, StoreError> {
        let (name, identity_id) = crate::org_name(name)?;
        let r = self.conn().query_one(
            "INSERT INTO orgs (name, identity_id, isac, created) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&name, &identity_id, &i64::from(isac), &now_micros()],
        );
        match r {
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!("organization {name:?}"))),
            r => Ok(Org { id: r?.get(0), name: name.to_owned(), identity_id, isac, peer: false }),
        }
    }

    /// Runs one `UPDATE … WHERE id = $1 …` on a user or token; an unknown id is an error
    /// (one already in the wanted state is not).
    fn update_row(&self, table: &str, id: &str, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        if conn.execute(sql, args)? == 0 {
            let exists: bool =
                conn.query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = $1)"), &[&id])?.get(0);
            if !exists {
                let what = if table == "users" { "user" } else { "token" };
                return Err(StoreError::NotFound(format!("{what} {id}")));
            }
        }
        Ok(())
    }

    fn org_exists(&self, org: OrgId) -> Result<bool, StoreError> {
        Ok(self.conn().query_one("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = $1)", &[&org])?.get(0))
    }
}

impl Directory for PgStore {
    fn probe_write(&self) -> Result<(), StoreError> {
        super::blocking(|| {
            let mut fresh = vec![0u8; 64];
            getrandom::fill(&mut fresh).map_err(|e| StoreError::Invalid(format!("no system randomness: {e}")))?;
            self.conn().execute(
                "INSERT INTO secrets (name, value) VALUES ('health-probe', $1) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                &[&fresh],
            )?;
            Ok(())
        })
    }

    fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        super::blocking(|| {
            let mut fresh = vec![0u8; 32];
            getrandom::fill(&mut fresh).map_err(|e| StoreError::Invalid(format!("no system randomness: {e}")))?;
            let mut conn = self.conn();
            // Two nodes asking at once keep the one secret that was stored first.
            conn.execute("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&name, &fresh])?;
            Ok(conn.query_one("SELECT value FROM secrets WHERE name = $1", &[&name])?.get(0))
        })
    }

    fn add_org(&self, name: &str) -> Result<Org, StoreError> {
        super::blocking(|| self.add_org_inner(name, false))
    }

    fn orgs(&self) -> Result<Vec<Org>, StoreError> {
        super::blocking(|| {
            Ok(self
                .conn()
                .query(&format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY id"), &[])?
                .iter()
                .map(org_from_row)
                .collect())
        })
    }

    fn org_by_name(&self, name: &str) -> Result<Org, StoreError> {
        super::blocking(|| {
            self.conn()
                .query_opt(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE lower(name) = lower($1)"), &[&name.trim()])?
                .map(|r| org_from_row(&r))
                .ok_or_else(|| StoreError::NotFound(format!("organization {name:?}")))
        })
    }

    fn isac(&self) -> Result<Org, StoreError> {
        super::blocking(|| {
            self.conn()
                .query_opt(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE isac = 1"), &[])?
                .map(|r| org_from_row(&r))
                .ok_or_else(|| StoreError::Corrupt("the ISAC organization is missing".into()))
        })
    }

    fn create_token(
        &self,
        org: OrgId,
        role: Role,
        label: Option<&str>,
        expires: Option<i64>,
    ) -> Result<NewToken, StoreError> {
        super::blocking(|| {
            let id = format!("tok_{}", crate::random_hex(6)?);
            let secret = format!("dsk_{}", crate::random_hex(24)?);
            let created = now_micros();
            if !self.org_exists(org)? {
                return Err(StoreError::NotFound(format!("organization {org}")));
            }
            self.conn().execute(
                "INSERT INTO tokens (id, org, role, hash, label, created, expires) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&id, &org, &role.as_str(), &crate::hash_secret(&secret), &label, &created, &expires],
            )?;
            Ok(NewToken {
                info: TokenInfo { id, org, role, label: label.map(str::to_owned), created, expires, revoked: None },
                secret,
            })
        })
    }

    fn revoke_token(&self, id: &str) -> Result<(), StoreError> {
        super::blocking(|| {
            self.update_row(
                "tokens",
                id,
                "UPDATE tokens SET revoked = $2 WHERE id = $1 AND revoked IS NULL",
                &[&id, &now_micros()],
            )
        })
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        super::blocking(|| {
            Ok(self
                .conn()
                .query(&format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created"), &[])?
                .iter()
                .map(token_from_row)
                .collect())
        })
    }

    fn token_for_secret(&self, secret: &str, now: i64) -> Result<Option<TokenInfo>, StoreError> {
        super::blocking(|| {
            // Secrets carry 192 random bits, so looking up by their SHA-256 is safe; the final
            // comparison of hashes runs in constant time.
            let want = crate::hash_secret(secret);
            let row = self
                .conn()
                .query_opt(&format!("SELECT {TOKEN_COLUMNS}, hash FROM tokens WHERE hash = $1"), &[&want])?;
            Ok(row.and_then(|r| {
                let info = token_from_row(&r);
                let hash: Vec<u8> = r.get(7);
                let live = info.revoked.is_none() && info.expires.is_none_or(|e| e > now);
                (crate::same_hash(&hash, &want) && live).then_some(info)
            }))
        })
    }

    fn token(&self, id: &str) -> Result<Option<TokenInfo>, StoreError> {
        super::blocking(|| {
            Ok(self
                .conn()
                .query_opt(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = $1"), &[&id])?
                .map(|r| token_from_row(&r)))
        })
    }
}

impl Accounts for PgStore {
    fn save_session(&self, s: &WebSession) -> Result<(), StoreError> {
        super::blocking(|| {
            self.conn().execute(
                "INSERT INTO web_sessions (key, principal, csrf, started, last) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (key) DO UPDATE SET principal = EXCLUDED.principal, csrf = EXCLUDED.csrf,
                     started = EXCLUDED.started, last = EXCLUDED.last",
                &[&&s.key[..], &s.principal, &s.csrf, &s.started, &s.last],
            )?;
            Ok(())
        })
    }

    fn session(&self, key: &[u8; 32]) -> Result<Option<WebSession>, StoreError> {
        super::blocking(|| {
            Ok(self
                .conn()
                .query_opt("SELECT principal, csrf, started, last FROM web_sessions WHERE key = $1", &[&&key[..]])?
                .map(|r| WebSession {
                    key: *key,
                    principal: r.get(0),
                    csrf: r.get(1),
                    started: r.get(2),
                    last: r.get(3),
                }))
        })
    }

    fn touch_session(&self, key: &[u8; 32], last: i64) -> Result<(), StoreError> {
        super::blocking(|| {
            self.conn().execute("UPDATE web_sessions SET last = $2 WHERE key = $1", &[&&key[..], &last])?;
            Ok(())
        })
    }

    fn delete_session(&self, key: &[u8; 32]) -> Result<(), StoreError> {
        super::blocking(|| {
            self.conn().execute("DELETE FROM web_sessions WHERE key = $1", &[&&key[..]])?;
            Ok(())
        })
    }

    fn delete_sessions_of(&self, principal: &str, keep: Option<&[u8; 32]>) -> Result<usize, StoreError> {
        super::blocking(|| {
            let keep: &[u8] = keep.map_or(&[], |k| &k[..]);
            let n = self
                .conn()
                .execute("DELETE FROM web_sessions WHERE principal = $1 AND key <> $2", &[&principal, &keep])?;
            Ok(n as usize)
        })
    }

    fn prune_sessions(&self, idle_before: i64, started_before: i64) -> Result<usize, StoreError> {
        super::blocking(|| {
            let n = self.conn().execute(
                "DELETE FROM web_sessions WHERE last < $1 OR started < $2",
                &[&idle_before, &started_before],
            )?;
            Ok(n as usize)
        })
    }

    fn add_user(&self, org: OrgId, name: &str, role: Role, password_hash: &str) -> Result<User, StoreError> {
        super::blocking(|| {
            let name = crate::user_name(name)?;
            let id = format!("usr_{}", crate::random_hex(6)?);
            let created = now_micros();
            if !self.org_exists(org)? {
                return Err(StoreError::NotFound(format!("organization {org}")));
            }
            let r = self.conn().execute(
                "INSERT INTO users (id, name, org, role, password, created) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&id, &name, &org, &role.as_str(), &password_hash, &created],
            );
            match r {
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::Conflict(format!("a user named {name:?} already exists")));
                }
                r => r?,
            };
            Ok(User {
                id,
                name: name.to_owned(),
                org,
                role,
                password_hash: password_hash.to_owned(),
                created,
                disabled: None,
            })
        })
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        super::blocking(|| {
            Ok(self
                .conn()
                .query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY created"), &[])?
                .iter()
                .map(user_from_row)
                .collect())
        })
    }

    fn user(&self, key: &str) -> Result<Option<User>, StoreError> {
        super::blocking(|| {
            Ok(self
                .conn()
                .query_opt(
                    &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 OR lower(name) = lower($1) LIMIT 1"),
                    &[&key.trim()],
                )?
                .map(|r| user_from_row(&r)))
        })
    }

    fn disable_user(&self, id: &str) -> Result<(), StoreError> {
        super::blocking(|| {
            self.update_row(
                "users",
                id,
                "UPDATE users SET disabled = $2 WHERE id = $1 AND disabled IS NULL",
                &[&id, &now_micros()],
            )
        })
    }

    fn enable_user(&self, id: &str) -> Result<(), StoreError> {
        super::blocking(|| self.update_row("users", id, "UPDATE users SET disabled = NULL WHERE id = $1", &[&id]))
    }

    fn set_password(&self, id: &str, password_hash: &str) -> Result<(), StoreError> {
        super::blocking(|| {
            if !password_hash.starts_with('$') {
                return Err(StoreError::Invalid("a password is stored as a PHC hash string".into()));
            }
            self.update_row("users", id, "UPDATE users SET password = $2 WHERE id = $1", &[&id, &password_hash])
        })
    }
}

impl Collections for PgStore {
    fn add_collection(
        &self,
        title: &str,
        alias: Option<&str>,
        description: Option<&str>,
        default_tlp: Tlp,
    ) -> Result<Collection, StoreError> {
        super::blocking(|| {
            crate::collection_names(title, alias)?;
            let uuid = uuid::Uuid::new_v4().to_string();
            let r = self.conn().query_one(
                "INSERT INTO collections (uuid, alias, title, description, default_tlp, created)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[&uuid, &alias, &title.trim(), &description, &default_tlp.code(), &now_micros()],
            );
            let id: CollectionId = match r {
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::Conflict(format!("collection alias {:?}", alias.unwrap_or_default())));
                }
                r => r?.get(0),
            };
            Ok(Collection {
                id,
                uuid,
                alias: alias.map(str::to_owned),
                title: title.trim().to_owned(),
                description: description.map(str::to_owned),
                default_tlp,
                read: Access::Members,
                write: Access::Members,
            })
        })
    }

    fn set_collection_access(&self, id: CollectionId, read: Access, write: Access) -> Result<(), StoreError> {
        super::blocking(|| {
            crate::validate_access(read, write)?;
            let n = self.conn().execute(
                "UPDATE collections SET read_access = $2, write_access = $3 WHERE id = $1",
                &[&id, &read.as_str(), &write.as_str()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("collection {id}")));
            }
            Ok(())
        })
    }

    fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        super::blocking(|| {
            Ok(self
                .conn()
                .query(&format!("SELECT {COLLECTION_COLUMNS} FROM collections ORDER BY id"), &[])?
                .iter()
                .map(collection_from_row)
                .collect())
        })
    }

    fn collection(&self, key: &str) -> Result<Collection, StoreError> {
        super::blocking(|| {
            self.conn()
                .query_opt(
                    &format!(
                        "SELECT {COLLECTION_COLUMNS} FROM collections WHERE uuid = $1 OR alias = $1 OR CAST(id AS TEXT) = $1
                          ORDER BY id LIMIT 1"
                    ),
                    &[&key],
                )?
                .map(|r| collection_from_row(&r))
                .ok_or_else(|| StoreError::NotFound(format!("collection {key:?}")))
        })
    }

    fn default_collection(&self) -> Result<Collection, StoreError> {
        super::blocking(|| {
            self.conn()
                .query_opt(&format!("SELECT {COLLECTION_COLUMNS} FROM collections ORDER BY id LIMIT 1"), &[])?
                .map(|r| collection_from_row(&r))
                .ok_or_else(|| StoreError::Corrupt("no collection exists".into()))
        })
    }
}

impl AuditLog for PgStore {
    fn audit_many(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        super::blocking(|| {
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            let stmt = tx.prepare(
                "INSERT INTO audit (at, org, token, method, path, params, status, returned) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )?;
            for r in records {
                tx.execute(
                    &stmt,
                    &[
                        &r.at,
                        &r.org,
                        &r.token,
                        &r.method,
                        &r.path,
                        &r.params,
                        &i64::from(r.status),
                        &(r.returned as i64),
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        super::blocking(|| {
            let limit = if q.limit == 0 { 100 } else { q.limit };
            let lookup = !q.params_any.is_empty();
            // A lookup by value reads every record the other filters leave, newest first, and
            // tests its parameters here in one pass.
            let sql_limit: Option<i64> = if lookup { None } else { Some(limit as i64) };
            let needles: std::collections::HashSet<&[u8]> = q.params_any.iter().map(|n| n.as_bytes()).collect();
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            let stmt = tx.prepare(
                "SELECT at, org, token, method, path, params, status, returned FROM audit
                  WHERE ($1::BIGINT IS NULL OR org = $1) AND ($2::BIGINT IS NULL OR at >= $2)
                    AND ($3::TEXT IS NULL OR left(path, length($3)) = $3) AND ($5::TEXT IS NULL OR token = $5)
                  ORDER BY seq DESC LIMIT $4",
            )?;
            let portal = tx.bind(&stmt, &[&q.org, &q.since, &q.path_prefix, &sql_limit, &q.token])?;
            let mut out = Vec::new();
            'read: loop {
                let rows = tx.query_portal(&portal, 2_000)?;
                let done = rows.len() < 2_000;
                for r in rows {
                    if lookup {
                        let params: Option<String> = r.get(5);
                        if !params.is_some_and(|p| crate::holds_quoted(p.as_bytes(), &needles)) {
                            continue;
                        }
                    }
                    out.push(AuditRecord {
                        at: r.get(0),
                        org: r.get(1),
                        token: r.get(2),
                        method: r.get(3),
                        path: r.get(4),
                        params: r.get(5),
                        status: u16::try_from(r.get::<_, i64>(6)).unwrap_or(0),
                        returned: r.get::<_, i64>(7).max(0) as u64,
                    });
                    if out.len() >= limit {
                        break 'read;
                    }
                }
                if done {
                    break;
                }
            }
            Ok(out)
        })
    }
}

impl ChangeLog for PgStore {
    /// Waits for the listener to hear of a commit (checking the log's end at least every
    /// 100 ms, in case a notification was missed while the listener reconnected).
    fn wait_for_change(&self, after: i64, timeout: std::time::Duration) -> Result<(), StoreError> {
        let commits = self.commits();
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let seen = *commits.heard.lock().unwrap_or_else(|p| p.into_inner());
            if self.last_change()? > after {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            let heard = commits.heard.lock().unwrap_or_else(|p| p.into_inner());
            if *heard == seen {
                let _ = commits
                    .changed
                    .wait_timeout(heard, left.min(std::time::Duration::from_millis(100)))
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    fn last_change(&self) -> Result<i64, StoreError> {
        super::blocking(|| Ok(self.conn().query_one("SELECT COALESCE(max(seq), 0) FROM changes", &[])?.get(0)))
    }

    fn changes_since(&self, seq: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        super::blocking(|| {
            let rows = self.conn().query(
                "SELECT c.seq, c.op, COALESCE(c.id, (SELECT o.id FROM objects o WHERE o.vid = c.vid)), c.at FROM changes c
                  WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
                &[&seq, &(limit.min(i64::MAX as usize) as i64)],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    let op: String = r.get(1);
                    Change {
                        seq: r.get(0),
                        at: r.get(3),
                        op: if op == "remove" { ChangeOp::Remove } else { ChangeOp::Add },
                        id: r.get(2),
                    }
                })
                .collect())
        })
    }
}

impl crate::Throttles for PgStore {
    /// Several nodes share a PostgreSQL database.
    fn shares_throttle(&self) -> bool {
        super::blocking(|| true)
    }

    fn refused_since(&self, key: &str, limit: u32, window: i64, now: i64) -> Result<Option<i64>, StoreError> {
        super::blocking(|| {
            let row = self.conn().query_opt("SELECT count, since FROM auth_attempts WHERE key = $1", &[&key])?;
            Ok(row.and_then(|r| {
                let (n, since): (i64, i64) = (r.get(0), r.get(1));
                (n >= i64::from(limit) && now - since < window).then_some(since)
            }))
        })
    }

    fn attempt(&self, keys: &[(&str, u32)], window: i64, now: i64) -> Result<Option<i64>, StoreError> {
        super::blocking(|| {
            let mut conn = self.conn();
            let mut tx = conn.transaction()?;
            // Rows first (so that two nodes counting a new key at once both see it), then
            // locked in key order (no deadlock between two attempts on the same keys).
            let mut sorted: Vec<&(&str, u32)> = keys.iter().collect();
            sorted.sort_by_key(|(k, _)| *k);
            for (key, _) in &sorted {
                tx.execute(
                    "INSERT INTO auth_attempts (key, count, since) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
                    &[key, &now],
                )?;
            }
            for (key, limit) in &sorted {
                let r = tx.query_one("SELECT count, since FROM auth_attempts WHERE key = $1 FOR UPDATE", &[key])?;
                let (n, since): (i64, i64) = (r.get(0), r.get(1));
                if n >= i64::from(*limit) && now - since < window {
                    return Ok(Some(since));
                }
            }
            for (key, _) in &sorted {
                tx.execute(
                    "UPDATE auth_attempts SET
                       count = CASE WHEN $2 - since >= $3 THEN 1 ELSE count + 1 END,
                       since = CASE WHEN $2 - since >= $3 THEN $2 ELSE since END
                     WHERE key = $1",
                    &[key, &now, &window],
                )?;
            }
            tx.execute("DELETE FROM auth_attempts WHERE since < $1", &[&(now - window)])?;
            tx.commit()?;
            Ok(None)
        })
    }

    fn refund(&self, keys: &[&str]) -> Result<(), StoreError> {
        super::blocking(|| {
            let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
            self.conn()
                .execute("UPDATE auth_attempts SET count = greatest(count - 1, 0) WHERE key = ANY($1)", &[&keys])?;
            Ok(())
        })
    }
}
