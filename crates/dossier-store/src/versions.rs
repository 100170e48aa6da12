//! The rules of versions, written once for every backend: what an import stores (a new
//! object, a newer or an older version, the same version again, a further organization's
//! assertion of an identifier), who may add versions to an object, which version a
//! collection serves, and what an organization may withdraw. A backend supplies the few row
//! operations these rules need ([`VersionRows`]) inside its own transaction.

use std::collections::HashMap;

use dossier_stix::timestamp::Timestamp;
use dossier_stix::{Invalid, OrgId, Record, Tlp};

use crate::{
    CollectionId, ImportSummary, Item, ItemError, MAX_REPORTED_ERRORS, Rejection, StoreError, Submission, Versions,
};

/// A stored version of the id being imported.
#[derive(Clone)]
pub(crate) struct Existing {
    pub vid: i64,
    pub version: String,
    pub json: String,
    pub org: OrgId,
    pub named: bool,
    pub recipients: String,
}

/// A version to insert.
pub(crate) struct NewVersion<'a> {
    pub vid: i64,
    pub id: &'a str,
    pub object_type: &'a str,
    pub version: &'a str,
    pub modified: Option<&'a str>,
    pub spec_version: Option<&'a str>,
    pub tlp: Option<i64>,
    pub confidence: Option<u8>,
    pub owner: OrgId,
    pub json: &'a str,
    pub named: bool,
    pub recipients: Option<&'a str>,
    pub curator: Option<OrgId>,
}

/// One version of an id in one collection, for [`settle_latest`].
pub(crate) struct SettleRow {
    pub vid: i64,
    pub version: String,
    pub org: OrgId,
    pub tlp: i64,
    pub date_added: i64,
    pub versioned: bool,
}

/// A version of an id in a collection, for [`withdraw`].
pub(crate) struct Member {
    pub owner: OrgId,
    pub date_added: i64,
    pub json: String,
    pub recipients: Option<String>,
}

/// The row operations the rules need, inside one transaction of the backend.
pub(crate) trait VersionRows {
    /// Every stored version of `id`.
    fn existing(&mut self, id: &str) -> Result<Vec<Existing>, StoreError>;
    fn insert_version(&mut self, v: &NewVersion<'_>) -> Result<(), StoreError>;
    /// Records that `id` now has several versions.
    fn mark_multi(&mut self, id: &str) -> Result<(), StoreError>;
    fn in_collection(&mut self, collection: CollectionId, vid: i64) -> Result<bool, StoreError>;
    /// A version's id, version key, marked TLP code and owner.
    fn version_of(&mut self, vid: i64) -> Result<(String, String, Option<i64>, OrgId), StoreError>;
    /// The version of `id` the collection now serves as latest, with its version key.
    fn current_latest(&mut self, collection: CollectionId, id: &str) -> Result<Option<(i64, String)>, StoreError>;
    fn unset_latest(&mut self, collection: CollectionId, vid: i64) -> Result<(), StoreError>;
    fn insert_member(
        &mut self,
        collection: CollectionId,
        date_added: i64,
        vid: i64,
        latest: bool,
        tlp: i64,
    ) -> Result<(), StoreError>;
    /// Appends to the change log (`remove` false: an addition; `id` recorded when given).
    fn log_change(
        &mut self,
        at: i64,
        remove: bool,
        collection: CollectionId,
        vid: i64,
        id: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Records a further submitter (nothing when it is recorded already).
    fn insert_provenance(&mut self, vid: i64, org: OrgId, named: bool, at: i64) -> Result<(), StoreError>;
    /// Adds `org` to the version's recipients; whether it was not there yet.
    fn add_recipient(&mut self, vid: i64, org: OrgId) -> Result<bool, StoreError>;
    /// The versions of `id` in `collection` (reading only that id's rows).
    fn settle_rows(&mut self, collection: CollectionId, id: &str) -> Result<Vec<SettleRow>, StoreError>;
    /// Sets the membership's latest flag (no write when it holds already).
    fn set_latest(&mut self, collection: CollectionId, date_added: i64, latest: bool) -> Result<(), StoreError>;
    /// The version `vid` of `id` as a member of `collection`, if it is one.
    fn member(&mut self, collection: CollectionId, id: &str, vid: i64) -> Result<Option<Member>, StoreError>;
    /// The versions of `id` in `collection`: (version id, version key), oldest first.
    fn members(&mut self, collection: CollectionId, id: &str) -> Result<Vec<(i64, String)>, StoreError>;
    /// Removes organization `org`'s provenance of a version; whether it had one.
    fn delete_provenance(&mut self, vid: i64, org: OrgId) -> Result<bool, StoreError>;
    fn org_identity(&mut self, org: OrgId) -> Result<String, StoreError>;
    fn set_recipients(&mut self, vid: i64, recipients: Option<&str>) -> Result<(), StoreError>;
    fn remove_member(&mut self, collection: CollectionId, date_added: i64) -> Result<(), StoreError>;
    /// Whether any collection still holds the version.
    fn held(&mut self, vid: i64) -> Result<bool, StoreError>;
    /// Deletes the version and its provenance.
    fn delete_version(&mut self, vid: i64) -> Result<(), StoreError>;

    /// Reads the stored versions of `ids` ahead, for the [`VersionRows::existing`] calls to
    /// come (a backend for which a round trip costs makes one for many objects).
    fn prefetch(&mut self, ids: &[&str]) -> Result<(), StoreError> {
        let _ = ids;
        Ok(())
    }

    /// Writes whatever the backend buffered; called before the transaction commits.
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Starts writing what is buffered while the rules go on, if the backend can (the next
    /// statement waits for it); called once the next objects' versions are read ahead.
    fn handoff(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Objects read ahead at a time by [`Importer::run`].
const CHUNK: usize = 2_000;

pub(crate) enum Outcome {
    Added,
    Updated,
    History,
    Unchanged,
}

/// Why a new version of another organization's object is refused.
fn not_yours(id: &str) -> Invalid {
    Invalid {
        object_id: Some(id.to_owned()),
        path: "$.id".into(),
        reason: "another organization created this object, and only its creator or ISAC analysts may add versions \
                 of it; submit an object of your own instead (a new object with a derived-from relationship to it, \
                 a note, an opinion or a sighting)"
            .into(),
    }
}

/// Whether objects of `ty` are versionless (SCOs, and custom types without `created` or
/// `modified`): each organization's submission of one is its own assertion.
pub(crate) fn is_versionless(ty: &str, no_version: bool) -> bool {
    no_version || dossier_stix::object::SCO_TYPES.contains(&ty)
}

/// Same object content: identical text, or equal JSON values (property order and
/// insignificant formatting aside).
fn same_content(stored: &str, json: &str) -> bool {
    if stored == json {
        return true;
    }
    type Map = serde_json::Map<String, serde_json::Value>;
    match (serde_json::from_str::<Map>(stored), serde_json::from_str::<Map>(json)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Decides which version of `id` the collection serves as its latest, after a version was
/// added or removed.
///
/// Versioned objects (SDOs, SROs): the newest. Versionless objects (SCOs), where each
/// organization's submission is its own assertion: every organization's newest version
/// competes, one every member may see (any level but RED) beats a RED one, and otherwise
/// the organization that asserted first keeps its place. So one member's RED re-marking
/// never hides another member's assertion, and nobody replaces another's by choosing
/// another level that every member sees anyway (CLEAR over GREEN). The
/// organizations whose assertions lost join the winner's recipients: they know the value,
/// so a RED winner must not hide it from them.
/// Returns the version served, if the collection holds any.
///
/// Runs once per identifier that several organizations submitted differently, inside
/// imports: it must read that id's few versions, never the collection.
pub(crate) fn settle_latest(
    rows: &mut dyn VersionRows,
    collection: CollectionId,
    id: &str,
) -> Result<Option<i64>, StoreError> {
    let versions = rows.settle_rows(collection, id)?;
    let mut losers: Vec<OrgId> = Vec::new();
    let winner = if versions.iter().any(|r| r.versioned) {
        versions.iter().max_by(|a, b| a.version.cmp(&b.version).then(a.vid.cmp(&b.vid)))
    } else {
        // Per organization: its newest version and when it first asserted the value.
        let mut per_org: HashMap<OrgId, (&SettleRow, i64)> = HashMap::new();
        for r in &versions {
            let e = per_org.entry(r.org).or_insert((r, r.date_added));
            if (r.version.as_str(), r.vid) > (e.0.version.as_str(), e.0.vid) {
                e.0 = r;
            }
            e.1 = e.1.min(r.date_added);
        }
        // Inside the ISAC only RED restricts who sees an object: CLEAR, GREEN and AMBER are
        // all seen by every member, so a lower level must not let a later member take over.
        let red = Tlp::Red.code();
        let best = per_org.values().min_by_key(|(r, first)| (r.tlp == red, *first, r.org)).map(|(r, _)| *r);
        if let Some(w) = best {
            losers = per_org.keys().copied().filter(|o| *o != w.org).collect();
            losers.sort_unstable();
        }
        best
    };
    let Some(winner) = winner else { return Ok(None) };
    let winner_vid = winner.vid;
    for r in &versions {
        rows.set_latest(collection, r.date_added, r.vid == winner_vid)?;
    }
    for org in losers {
        rows.add_recipient(winner_vid, org)?;
    }
    Ok(Some(winner_vid))
}

/// A collection's latest version of an id, competing to be the one served across
/// collections.
pub(crate) struct Candidate {
    pub vid: i64,
    pub version: String,
    pub versionless: bool,
    /// (only analysts may read it, it is RED, when first added): lowest is served.
    pub rank: (bool, bool, i64),
}

/// Which version of each id is served across collections — what the screening index reads
/// and an export without a collection writes — from each id's candidates (the collections'
/// latest versions). A versioned object: the newest. A versionless one (SCO), whose versions
/// are different organizations' assertions, by the rule [`settle_latest`] applies in one
/// collection: one that members may read beats one that only analysts may (a copy in an
/// analysts-only drop box must not hide an identifier from the members), one any member may
/// see beats a RED one, else the earliest added.
pub(crate) fn served(by_id: HashMap<String, Vec<Candidate>>) -> HashMap<String, i64> {
    by_id
        .into_iter()
        .filter_map(|(id, c)| {
            let chosen = if c.iter().all(|c| c.versionless) {
                c.iter().min_by_key(|c| (c.rank, c.vid))
            } else {
                c.iter().max_by(|a, b| a.version.cmp(&b.version).then(a.vid.cmp(&b.vid)))
            };
            chosen.map(|c| (id, c.vid))
        })
        .collect()
}

/// Whether the version's JSON names organization `org` in its share-with list.
fn names_recipient(rows: &mut dyn VersionRows, json: &str, org: OrgId) -> Result<bool, StoreError> {
    let identity = rows.org_identity(org)?;
    let object: serde_json::Value = serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(object
        .get(dossier_stix::object::SHARE_WITH)
        .and_then(serde_json::Value::as_array)
        .is_some_and(|names| names.iter().any(|n| n.as_str() == Some(identity.as_str()))))
}

/// [`crate::ObjectStore::withdraw`] inside a transaction: removes the versions `vids` of
/// `id` from `collection`, or for an organization `by` only its own versions and its own
/// submissions of others' versions, then settles which version the collection serves.
pub(crate) fn withdraw(
    rows: &mut dyn VersionRows,
    collection: CollectionId,
    id: &str,
    vids: &[i64],
    by: Option<OrgId>,
    now: i64,
) -> Result<usize, StoreError> {
    let mut withdrawn = 0;
    for &vid in vids {
        // Only versions of this id in this collection, whatever the caller passed.
        let Some(m) = rows.member(collection, id, vid)? else { continue };
        match by {
            Some(org) if org != m.owner => {
                // Not the caller's version: withdraw only the caller's own submission of it
                // (a second submitter of the same content), if it made one. The sight that
                // submission gave goes with it, unless the owner named the caller itself.
                if !rows.delete_provenance(vid, org)? {
                    continue;
                }
                if !names_recipient(rows, &m.json, org)? {
                    let org = org.to_string();
                    let kept: Vec<&str> = m
                        .recipients
                        .as_deref()
                        .unwrap_or("")
                        .split(',')
                        .filter(|r| !r.is_empty() && *r != org)
                        .collect();
                    let joined = kept.join(",");
                    rows.set_recipients(vid, (!kept.is_empty()).then_some(joined.as_str()))?;
                }
                // Followers (the screening index) re-read the object.
                rows.log_change(now, false, collection, vid, Some(id))?;
            }
            _ => {
                rows.remove_member(collection, m.date_added)?;
                rows.log_change(now, true, collection, vid, Some(id))?;
                if !rows.held(vid)? {
                    rows.delete_version(vid)?;
                }
            }
        }
        withdrawn += 1;
    }
    settle_latest(rows, collection, id)?;
    rows.flush()?;
    Ok(withdrawn)
}

/// [`crate::ObjectStore::delete`] inside a transaction: the selected versions of `id` in
/// `collection` (every one when `versions` is empty or holds `All`), withdrawn by staff.
pub(crate) fn delete(
    rows: &mut dyn VersionRows,
    collection: CollectionId,
    id: &str,
    versions: &[Versions],
    now: i64,
) -> Result<usize, StoreError> {
    let members = rows.members(collection, id)?;
    let all = versions.is_empty() || versions.contains(&Versions::All);
    let last = members.len().saturating_sub(1);
    let doomed: Vec<i64> = members
        .iter()
        .enumerate()
        .filter(|(i, (_, v))| {
            all || versions.iter().any(|sel| match sel {
                Versions::Latest => *i == last,
                Versions::First => *i == 0,
                Versions::At(key) => key == v,
                Versions::All => true,
            })
        })
        .map(|(_, (vid, _))| *vid)
        .collect();
    withdraw(rows, collection, id, &doomed, None, now)
}

/// Per-import state inside the backend's transaction.
pub(crate) struct Importer<'r> {
    pub rows: &'r mut dyn VersionRows,
    /// Version ids are assigned here: the import holds the store's write lock throughout.
    pub next_vid: i64,
    /// Member organizations by the STIX identity that stands for them.
    pub org_by_identity: HashMap<String, OrgId>,
    pub sub: Submission,
    pub default_tlp: Tlp,
    pub last_date_added: i64,
    pub now: i64,
    /// TLP levels of marking-definitions under their own ids, as resolved so far.
    pub custom_tlp: HashMap<String, Option<Tlp>>,
    /// Marking-definitions referenced before any definition of them was known, with the
    /// first object that referenced each.
    pub unresolved: HashMap<String, String>,
}

impl Importer<'_> {
    /// Stores every item, or (any invalid, or reading broke) nothing: the caller commits on
    /// `Ok(Ok(_))` and rolls back otherwise.
    pub fn run(
        &mut self,
        items: &mut dyn Iterator<Item = Item>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Result<ImportSummary, Rejection>, StoreError> {
        let mut summary = ImportSummary::default();
        let mut errors: Vec<ItemError> = Vec::new();
        let mut invalid_objects = 0usize;
        let mut fatal = None;
        let mut consumed = 0u64;
        let mut chunk: Vec<Item> = Vec::with_capacity(CHUNK);
        let mut items = items.peekable();
        'read: while items.peek().is_some() {
            chunk.clear();
            chunk.extend(items.by_ref().take(CHUNK));
            let ids: Vec<&str> = chunk
                .iter()
                .filter_map(|i| match i {
                    Item::Valid { object, .. } => Some(object.id.as_str()),
                    _ => None,
                })
                .collect();
            self.rows.prefetch(&ids)?;
            // The last chunk's rows are written while this one is worked through: read
            // ahead first, so that the read does not wait for the write.
            self.rows.handoff()?;
            for item in chunk.drain(..) {
                consumed += 1;
                if consumed.is_multiple_of(8192) {
                    progress(consumed);
                }
                match item {
                    Item::Valid { index, line, object } => {
                        // Once anything is invalid nothing will be stored: only keep validating.
                        match self.store(&object)? {
                            Ok(_) if invalid_objects > 0 => {}
                            Ok(Outcome::Added) => summary.added += 1,
                            Ok(Outcome::Updated) => summary.updated += 1,
                            Ok(Outcome::History) => summary.history += 1,
                            Ok(Outcome::Unchanged) => summary.unchanged += 1,
                            Err(problem) => {
                                invalid_objects += 1;
                                if errors.len() < MAX_REPORTED_ERRORS {
                                    errors.push(ItemError { index, line, problem });
                                }
                            }
                        }
                    }
                    Item::Invalid { index, line, problems } => {
                        invalid_objects += 1;
                        for problem in problems {
                            if errors.len() < MAX_REPORTED_ERRORS {
                                errors.push(ItemError { index, line, problem });
                            }
                        }
                    }
                    Item::Broken(message) => {
                        fatal = Some(message);
                        break 'read;
                    }
                }
            }
        }
        self.rows.flush()?;
        progress(consumed);
        if invalid_objects > 0 || fatal.is_some() {
            return Ok(Err(Rejection { errors, invalid_objects, fatal }));
        }
        Ok(Ok(summary))
    }

    /// The member organizations a version names in `x_dossier_share_with_refs`, as stored.
    /// Identities that are not members grant nothing (they stay in the JSON).
    fn recipients(&self, object: &Record) -> Option<String> {
        let ids: Vec<String> =
            object.share_with.iter().filter_map(|i| self.org_by_identity.get(i)).map(|o| o.to_string()).collect();
        (!ids.is_empty()).then(|| ids.join(","))
    }

    fn next_date_added(&mut self) -> i64 {
        // Unique and strictly increasing within the collection, close to wall-clock time.
        let t = self.now.max(self.last_date_added + 1);
        self.last_date_added = t;
        t
    }

    /// The level of one marking-definition under its own id: the most restrictive TLP level
    /// any stored version of it defines (`None`: not a TLP marking, or unknown).
    fn custom_level(&mut self, marking: &str) -> Result<Option<Tlp>, StoreError> {
        if let Some(level) = self.custom_tlp.get(marking) {
            return Ok(*level);
        }
        let mut level = None;
        let mut known = false;
        for e in self.rows.existing(marking)? {
            known = true;
            if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&e.json) {
                level = level.max(dossier_stix::tlp::claimed_level(&map));
            }
        }
        if !known {
            self.unresolved.entry(marking.to_owned()).or_default();
        }
        self.custom_tlp.insert(marking.to_owned(), level);
        Ok(level)
    }

    /// The TLP level an object is stored under: the most restrictive of the fixed TLP
    /// markings it references and of the TLP markings defined under their own ids; `None`
    /// leaves the collection's default.
    fn effective_tlp(&mut self, object: &Record) -> Result<Option<Tlp>, StoreError> {
        let mut tlp = object.tlp;
        for m in &object.custom_markings {
            let level = self.custom_level(m)?;
            if level.is_none()
                && let Some(first) = self.unresolved.get_mut(m)
                && first.is_empty()
            {
                object.id.as_str().clone_into(first);
            }
            tlp = tlp.max(level);
        }
        Ok(tlp)
    }

    fn store(&mut self, object: &Record) -> Result<Result<Outcome, Invalid>, StoreError> {
        let id = object.id.as_str();
        // A TLP marking defined under its own id after objects of this submission already
        // referenced it: they were taken at the collection's default, so the submission is
        // refused rather than stored under a weaker marking than the member chose.
        if let Some(level) = object.claims_tlp {
            if let Some(first) = self.unresolved.get(id).filter(|f| !f.is_empty()) {
                return Ok(Err(Invalid {
                    object_id: Some(id.to_owned()),
                    path: "$".into(),
                    reason: format!(
                        "this marking-definition defines TLP:{} but {first} referenced it earlier in the submission; send marking-definitions before the objects they mark",
                        level.as_str().to_uppercase()
                    ),
                }));
            }
            let current = self.custom_tlp.get(id).copied().flatten();
            self.custom_tlp.insert(id.to_owned(), current.max(Some(level)));
        }
        let tlp = self.effective_tlp(object)?;
        let existing = self.rows.existing(id)?;
        // Versionless objects (SCOs): a different content is a new version keyed by when it
        // arrived, and each organization's is its own assertion. Versioned objects carry
        // their version key and belong to their creator.
        let versionless = is_versionless(object.object_type(), object.version.is_none());
        let key = if versionless { None } else { object.version.as_ref().map(|v| v.sort_key().to_owned()) };
        // The same version submitted again: nothing new, but a further submitter.
        let fixed_tlp = dossier_stix::tlp::fixed_marking(id).is_some();
        if let Some(e) = existing.iter().find(|e| match &key {
            None => same_content(&e.json, &object.json),
            Some(k) => e.version == *k && (fixed_tlp || same_content(&e.json, &object.json)),
        }) {
            self.attach_existing(e.vid, versionless)?;
            return Ok(Ok(Outcome::Unchanged));
        }
        // Versions belong to their creator, the organization of the first stored version:
        // anyone else needs to be ISAC staff curating.
        let foreign =
            (!versionless).then(|| existing.iter().min_by_key(|e| e.vid)).flatten().filter(|c| c.org != self.sub.org);
        if foreign.is_some() && !self.sub.curator {
            return Ok(Err(not_yours(id)));
        }
        let version_key = match key {
            Some(k) if existing.iter().any(|e| e.version == k) => {
                return Ok(Err(Invalid {
                    object_id: Some(id.to_owned()),
                    path: "$.modified".into(),
                    reason: format!(
                        "version {} is already stored with different content; a changed object needs a new modified timestamp",
                        object.version.as_ref().map_or("", Timestamp::as_str)
                    ),
                }));
            }
            Some(k) => k,
            None if existing.is_empty() => String::new(),
            None => Timestamp::from_unix_micros(self.now.max(self.last_date_added + 1)).sort_key().to_owned(),
        };
        // A curated version stays the creator's: same owner, same anonymity, and every
        // organization that could see the object before still can.
        let (owner, named, curator, recipients) = match foreign {
            Some(c) => {
                let newest = existing.iter().max_by(|a, b| a.version.cmp(&b.version)).unwrap_or(c);
                let mut list: Vec<String> =
                    newest.recipients.split(',').filter(|r| !r.is_empty()).map(str::to_owned).collect();
                for r in self.recipients(object).iter().flat_map(|r| r.split(',')) {
                    if !list.iter().any(|x| x == r) {
                        list.push(r.to_owned());
                    }
                }
                (c.org, c.named, Some(self.sub.org), (!list.is_empty()).then(|| list.join(",")))
            }
            _ => (self.sub.org, self.sub.named, None, self.recipients(object)),
        };
        let newest_existing = existing.iter().map(|e| e.version.as_str()).max();
        let outcome = match newest_existing {
            None => Outcome::Added,
            Some(n) if version_key.as_str() > n => Outcome::Updated,
            Some(_) => Outcome::History,
        };
        let vid = self.next_vid;
        self.next_vid += 1;
        self.rows.insert_version(&NewVersion {
            vid,
            id,
            object_type: object.object_type(),
            version: &version_key,
            modified: object.version.as_ref().map(Timestamp::as_str),
            spec_version: object.spec_version.as_deref(),
            tlp: tlp.map(Tlp::code),
            confidence: object.confidence,
            owner,
            json: &object.json,
            named,
            recipients: recipients.as_deref(),
            curator,
        })?;
        if !existing.is_empty() {
            self.rows.mark_multi(id)?;
        }
        self.add_to_collection(vid, id, &version_key, tlp, existing.is_empty())?;
        if versionless && !existing.is_empty() {
            settle_latest(self.rows, self.sub.collection, id)?;
        }
        Ok(Ok(outcome))
    }

    /// An already stored version was submitted again: make sure it is in this collection
    /// and record this organization's provenance.
    fn attach_existing(&mut self, vid: i64, versionless: bool) -> Result<(), StoreError> {
        let present = self.rows.in_collection(self.sub.collection, vid)?;
        let (id, version, tlp, first_org) = self.rows.version_of(vid)?;
        if !present {
            let tlp = tlp.map(|c| Tlp::from_code(c).unwrap_or(Tlp::Red));
            self.add_to_collection(vid, &id, &version, tlp, false)?;
            if versionless {
                settle_latest(self.rows, self.sub.collection, &id)?;
            }
        }
        // The first submitter is recorded on the version itself. A later submitter of the
        // same content already knows it, so it may see the version whatever its TLP: it joins
        // the recipients (otherwise a success followed by "not found" would reveal that
        // another member holds the object as RED). The change log says so, so that the
        // screening index, which decides who sees what from the recipients, learns it too.
        if first_org != self.sub.org {
            self.rows.insert_provenance(vid, self.sub.org, self.sub.named, self.now)?;
            if self.rows.add_recipient(vid, self.sub.org)? && present {
                self.rows.log_change(self.now, false, self.sub.collection, vid, None)?;
            }
        }
        Ok(())
    }

    fn add_to_collection(
        &mut self,
        vid: i64,
        id: &str,
        version: &str,
        tlp: Option<Tlp>,
        new_id: bool,
    ) -> Result<(), StoreError> {
        let mut latest = true;
        if !new_id {
            // The current latest version of this id in this collection, if any.
            if let Some((cur_vid, cur_version)) = self.rows.current_latest(self.sub.collection, id)? {
                if version > cur_version.as_str() {
                    self.rows.unset_latest(self.sub.collection, cur_vid)?;
                } else {
                    latest = false;
                }
            }
        }
        let date_added = self.next_date_added();
        let effective = tlp.unwrap_or(self.default_tlp);
        self.rows.insert_member(self.sub.collection, date_added, vid, latest, effective.code())?;
        self.rows.log_change(date_added, false, self.sub.collection, vid, None)?;
        Ok(())
    }
}
