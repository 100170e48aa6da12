//! Versioned schema migrations. `PRAGMA user_version` records how many have been applied;
//! a data directory written by a newer binary is refused, never downgraded.

/// Each entry upgrades the schema by one version. Never edit an entry once released:
/// append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: objects, collections, provenance, change log, organizations, tokens.
    r#"
    CREATE TABLE orgs (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        identity_id TEXT NOT NULL UNIQUE,
        isac        INTEGER NOT NULL DEFAULT 0,
        created     INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id       TEXT PRIMARY KEY,
        org      INTEGER NOT NULL REFERENCES orgs(id),
        role     TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'member')),
        hash     BLOB NOT NULL UNIQUE,
        label    TEXT,
        created  INTEGER NOT NULL,
        expires  INTEGER,
        revoked  INTEGER
    );
    CREATE TABLE collections (
        id          INTEGER PRIMARY KEY,
        uuid        TEXT NOT NULL UNIQUE,
        alias       TEXT UNIQUE,
        title       TEXT NOT NULL,
        description TEXT,
        default_tlp INTEGER NOT NULL,
        created     INTEGER NOT NULL
    );
    -- One row per object version, with its exact compact JSON.
    CREATE TABLE objects (
        vid          INTEGER PRIMARY KEY,
        id           TEXT NOT NULL,
        type         TEXT NOT NULL,
        version      TEXT NOT NULL,   -- sortable version key (see store docs)
        modified     TEXT,            -- original text of modified/created, if any
        spec_version TEXT,
        tlp          INTEGER,         -- from object_marking_refs; NULL when unmarked
        confidence   INTEGER,
        org          INTEGER NOT NULL, -- first submitting organization
        named        INTEGER NOT NULL, -- whether it chose to be named to other members
        json         TEXT NOT NULL,
        idh          INTEGER NOT NULL  -- 64-bit hash of id: a compact key for the index below
    );
    -- Versions by id. Keyed by the id's hash (8 bytes instead of ~50), so this random-key
    -- index stays small; lookups compare the id itself as well.
    CREATE UNIQUE INDEX objects_idh ON objects (idh, version, vid);
    -- Membership of versions in collections; date_added is unique and strictly
    -- increasing per collection (microseconds since the epoch).
    CREATE TABLE collection_objects (
        collection INTEGER NOT NULL,
        date_added INTEGER NOT NULL,
        vid        INTEGER NOT NULL,
        latest     INTEGER NOT NULL,  -- 1 for the newest version of the id in this collection
        tlp        INTEGER NOT NULL,  -- effective TLP (marking, else the collection default)
        PRIMARY KEY (collection, date_added)
    ) WITHOUT ROWID;
    -- By version: which collections hold it (covering: carries date_added, the key).
    CREATE UNIQUE INDEX collection_objects_vid ON collection_objects (vid, collection);
    -- Every further organization that submitted a version (the first is objects.org),
    -- and whether it chose to be named.
    CREATE TABLE provenance (
        vid   INTEGER NOT NULL,
        org   INTEGER NOT NULL,
        named INTEGER NOT NULL,
        at    INTEGER NOT NULL,
        PRIMARY KEY (vid, org)
    ) WITHOUT ROWID;
    -- Append-only change log that feeds, the screening index and sync follow.
    CREATE TABLE changes (
        seq        INTEGER PRIMARY KEY,
        at         INTEGER NOT NULL,
        op         TEXT NOT NULL CHECK (op IN ('add', 'remove')),
        collection INTEGER NOT NULL,
        vid        INTEGER NOT NULL
    );
    "#,
    // 2: collection access, TAXII status resources, the audit log.
    r#"
    ALTER TABLE collections ADD COLUMN read_access TEXT NOT NULL DEFAULT 'members'
        CHECK (read_access IN ('members', 'analysts'));
    ALTER TABLE collections ADD COLUMN write_access TEXT NOT NULL DEFAULT 'members'
        CHECK (write_access IN ('members', 'analysts', 'nobody'));
    CREATE TABLE statuses (
        id      TEXT PRIMARY KEY,
        org     INTEGER NOT NULL,
        created INTEGER NOT NULL,
        json    TEXT NOT NULL
    );
    -- Append-only: rows are inserted, never updated or deleted.
    CREATE TABLE audit (
        seq      INTEGER PRIMARY KEY,
        at       INTEGER NOT NULL,
        org      INTEGER,
        token    TEXT,
        method   TEXT NOT NULL,
        path     TEXT NOT NULL,
        params   TEXT,
        status   INTEGER NOT NULL,
        returned INTEGER NOT NULL
    );
    CREATE INDEX audit_org ON audit (org, at);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    "#,
    // 3: organizations besides the first submitter that may see a TLP:RED version
    //    (comma-separated org ids): those it names in x_dossier_share_with_refs, and those
    //    that submitted the same version too. Never edit: append a migration instead.
    r#"
    ALTER TABLE objects ADD COLUMN recipients TEXT;
    "#,
    // 4: removals record the object id, since the version row itself may be gone by the
    //    time a follower (the screening index) reads the change.
    r#"
    ALTER TABLE changes ADD COLUMN id TEXT;
    "#,
    // 5: installation secrets (e.g. the key that hashes identifiers in the audit log).
    r#"
    CREATE TABLE secrets (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    "#,
    // 6: people who sign in to the web interface with a password (argon2id PHC string,
    //    hashed by the caller; the store never sees the password).
    r#"
    CREATE TABLE users (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE COLLATE NOCASE,
        org      INTEGER NOT NULL REFERENCES orgs (id),
        role     TEXT NOT NULL,
        password TEXT NOT NULL,
        created  INTEGER NOT NULL,
        disabled INTEGER
    );
    "#,
    // 7: ids stored in more than one version (by id hash), kept by imports, so that reading
    //    the newest version of everything need not first group every row by id. May hold
    //    ids that are down to one version again after a delete (harmless: a superset).
    r#"
    CREATE TABLE multi_version (idh INTEGER PRIMARY KEY);
    INSERT OR IGNORE INTO multi_version SELECT idh FROM objects GROUP BY idh, id HAVING count(*) > 1;
    "#,
    // 8: one organization's audit records newest first (the dashboard's recent screens, the
    //    audit page's organization filter) without reading everyone's.
    r#"
    CREATE INDEX audit_org_seq ON audit (org, seq);
    "#,
    // 9: versions by type, so that a TAXII request for a rare type (match[type]) reads that
    //    type's few rows instead of walking a whole collection. The types a store holds by
    //    the million are left out (a full index slowed imports by a sixth); a request for them
    //    walks the collection, which finds a page of them soon. The list is BULK_TYPES.
    //    Written as comparisons, not NOT IN: SQLite builds a NOT IN list's lookup table
    //    afresh for every row inserted (a fifth more import time).
    r#"
    CREATE INDEX objects_type ON objects (type, vid) WHERE type <> 'relationship' AND type <> 'identity'
        AND type <> 'user-account' AND type <> 'email-addr' AND type <> 'phone-number'
        AND type <> 'cryptocurrency-wallet' AND type <> 'file' AND type <> 'ipv4-addr'
        AND type <> 'ipv6-addr' AND type <> 'url' AND type <> 'note';
    "#,
    // 10: web sessions, so that a restart signs nobody out. The key is the SHA-256 of the
    //     session cookie (the cookie itself is never stored); the principal is `token:ID` or
    //     `user:ID` (never a token's secret).
    r#"
    CREATE TABLE web_sessions (
        key       BLOB PRIMARY KEY,
        principal TEXT NOT NULL,
        csrf      TEXT NOT NULL,
        started   INTEGER NOT NULL,
        last      INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX web_sessions_principal ON web_sessions (principal);
    "#,
    // 11: the ISAC analyst's organization that curated a version (added it to an object
    //     another organization created). The version itself stays the creator's (`org`,
    //     `named`), so curation changes neither who may see it nor its anonymity.
    r#"
    ALTER TABLE objects ADD COLUMN curator INTEGER;
    "#,
    // 12: the sharing loop's review queue. A screen that ended in `match` or `review` is an
    //     entry of the screening organization's queue: the explained result without the
    //     applicant's values (those only as keyed hashes), who screened, when, until when it
    //     is kept. `review_ties` holds each visible tie of an entry (the keyed hash of the
    //     applicant's value, the stored object) so that a false-positive judgement can
    //     suppress them; `suppressions` holds those per organization; `dispositions` the
    //     judgements per stored object, for the analysts' counts (no applicant data).
    r#"
    CREATE TABLE review_queue (
        id            INTEGER PRIMARY KEY,
        org           INTEGER NOT NULL,
        at            INTEGER NOT NULL,
        expires       INTEGER NOT NULL,
        by_id         TEXT NOT NULL,
        by_name       TEXT NOT NULL,
        source        TEXT NOT NULL,
        ref           TEXT,
        ref_hash      TEXT NOT NULL,
        decision      TEXT NOT NULL CHECK (decision IN ('match', 'review')),
        score         REAL NOT NULL,
        result        TEXT NOT NULL,
        disposition   TEXT CHECK (disposition IN ('confirmed', 'false_positive', 'unsure')),
        comment       TEXT,
        judged_by     TEXT,
        judged_name   TEXT,
        judged_at     INTEGER
    );
    CREATE INDEX review_queue_org ON review_queue (org, id);
    CREATE INDEX review_queue_expires ON review_queue (expires);
    CREATE TABLE review_ties (
        entry      INTEGER NOT NULL,
        value_hash TEXT NOT NULL,
        object     TEXT NOT NULL,
        PRIMARY KEY (entry, value_hash, object)
    ) WITHOUT ROWID;
    CREATE TABLE suppressions (
        org        INTEGER NOT NULL,
        value_hash TEXT NOT NULL,
        object     TEXT NOT NULL,
        entry      INTEGER NOT NULL,
        by_name    TEXT NOT NULL,
        at         INTEGER NOT NULL,
        expires    INTEGER NOT NULL,
        PRIMARY KEY (org, value_hash, object)
    ) WITHOUT ROWID;
    CREATE INDEX suppressions_entry ON suppressions (entry);
    CREATE TABLE dispositions (
        entry       INTEGER NOT NULL,
        object      TEXT NOT NULL,
        org         INTEGER NOT NULL,
        disposition TEXT NOT NULL,
        at          INTEGER NOT NULL,
        PRIMARY KEY (entry, object)
    ) WITHOUT ROWID;
    CREATE INDEX dispositions_object ON dispositions (object);
    "#,
    // 13: access requests for restricted hits. `review_restricted` holds the hidden objects
    //     behind an entry's restricted hit (kept for routing a request, never shown to the
    //     screener); `access_requests` one request per entry and owning organization, with
    //     that owner's objects (a JSON list), and its answer.
    r#"
    CREATE TABLE review_restricted (
        entry  INTEGER NOT NULL,
        object TEXT NOT NULL,
        PRIMARY KEY (entry, object)
    ) WITHOUT ROWID;
    CREATE TABLE access_requests (
        id           INTEGER PRIMARY KEY,
        entry        INTEGER NOT NULL,
        requester    INTEGER NOT NULL,
        named        INTEGER NOT NULL,
        requested_by TEXT NOT NULL,
        owner        INTEGER NOT NULL,
        objects      TEXT NOT NULL,
        hit_at       INTEGER NOT NULL,
        at           INTEGER NOT NULL,
        note         TEXT,
        status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'granted', 'declined')),
        decided_at   INTEGER,
        decided_by   TEXT,
        reply        TEXT
    );
    CREATE UNIQUE INDEX access_requests_entry_owner ON access_requests (entry, owner);
    CREATE INDEX access_requests_owner ON access_requests (owner, id);
    CREATE INDEX access_requests_requester ON access_requests (requester, id);
    "#,
    // 14: durable cursors of the change log's followers (how far each got), and the
    //     organizations' notifications (the inbox).
    r#"
    CREATE TABLE follower_cursors (
        name TEXT PRIMARY KEY,
        seq  INTEGER NOT NULL
    );
    CREATE TABLE notifications (
        id      INTEGER PRIMARY KEY,
        org     INTEGER NOT NULL,
        at      INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        title   TEXT NOT NULL,
        link    TEXT,
        body    TEXT NOT NULL,
        read_at INTEGER
    );
    CREATE INDEX notifications_org ON notifications (org, id);
    "#,
    // 15: organizations' outgoing webhooks and their deliveries (pending with the time of
    //     the next attempt, delivered, or dead after the last attempt failed).
    r#"
    CREATE TABLE webhooks (
        id      INTEGER PRIMARY KEY,
        org     INTEGER NOT NULL,
        url     TEXT NOT NULL,
        secret  TEXT NOT NULL,
        events  TEXT NOT NULL,
        slack   INTEGER NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE INDEX webhooks_org ON webhooks (org);
    CREATE TABLE webhook_deliveries (
        id           INTEGER PRIMARY KEY,
        webhook      INTEGER NOT NULL,
        org          INTEGER NOT NULL,
        kind         TEXT NOT NULL,
        payload      TEXT NOT NULL,
        created      INTEGER NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_at      INTEGER NOT NULL,
        status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
        last_error   TEXT,
        delivered_at INTEGER
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_at);
    CREATE INDEX webhook_deliveries_org ON webhook_deliveries (org, id);
    "#,
    // 16: continuous monitoring. A watched subject is kept as the screening engine's keyed
    //     hashes of its values (JSON, never the values) with the key hashes in
    //     `watch_keys` for looking subjects up by what changed; `alerted` lists the objects
    //     already announced.
    r#"
    CREATE TABLE watched (
        id         INTEGER PRIMARY KEY,
        org        INTEGER NOT NULL,
        ref        TEXT NOT NULL,
        by_name    TEXT NOT NULL,
        subject    TEXT NOT NULL,
        created    INTEGER NOT NULL,
        expires    INTEGER NOT NULL,
        alerted    TEXT,
        alerted_at INTEGER
    );
    CREATE INDEX watched_org ON watched (org, id);
    CREATE TABLE watch_keys (
        hash    INTEGER NOT NULL,
        subject INTEGER NOT NULL,
        PRIMARY KEY (hash, subject)
    ) WITHOUT ROWID;
    CREATE INDEX watch_keys_subject ON watch_keys (subject);
    "#,
    // 17: federation. Organizations of kind `peer` stand for other TAXII servers whose
    //     objects are pulled in; `sync_state` holds each pull's and push's durable cursor
    //     (a pull: the remote's last date added; a push: the change-log sequence) and its
    //     counts and last error; `mirrors` what members' mirrors last reported.
    r#"
    ALTER TABLE orgs ADD COLUMN kind TEXT NOT NULL DEFAULT 'member' CHECK (kind IN ('member', 'peer'));
    CREATE TABLE sync_state (
        name       TEXT PRIMARY KEY,
        cursor     TEXT,
        objects    INTEGER NOT NULL DEFAULT 0,
        skipped    INTEGER NOT NULL DEFAULT 0,
        last_run   INTEGER,
        last_ok    INTEGER,
        last_error TEXT
    );
    CREATE TABLE mirrors (
        token       TEXT NOT NULL,
        name        TEXT NOT NULL,
        org         INTEGER NOT NULL,
        synced_at   INTEGER NOT NULL,
        newest      INTEGER,
        objects     INTEGER NOT NULL,
        reported_at INTEGER NOT NULL,
        PRIMARY KEY (token, name)
    );
    "#,
    // 18: failed sign-ins and token failures counted per key (`addr:IP`, `account:NAME`)
    //     within a window, for nodes that share one database (see `Throttles`).
    r#"
    CREATE TABLE auth_attempts (
        key   TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        since INTEGER NOT NULL
    );
    CREATE INDEX auth_attempts_since ON auth_attempts (since);
    "#,
    // 19: nothing here. PostgreSQL's 19 narrows its index of versions by id hash to the hash
    //     alone (a smaller index for imports to write); SQLite keeps `objects_idh` as it is
    //     (its plans read an id's versions in order from it). The number moves with it so
    //     that a schema version names the same schema on both backends.
    r#"
    SELECT 1;
    "#,
    // 20: nothing here either. PostgreSQL's 20 keeps the id hash in a hash index (all its
    //     lookups are by equality); SQLite has no hash indexes and reads an id's versions in
    //     order from `objects_idh`.
    r#"
    SELECT 1;
    "#,
];

/// The schema version this binary writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;
