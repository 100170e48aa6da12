//! Storing a member's objects through the same rules as every write, and the collections
//! it may write to. The objects themselves (personas from typed identifiers, sightings) are
//! made by `dossier_import::persona`.

use dossier_stix::StixObject;
use dossier_store::{Access, Collection, Item, Submission};

pub(crate) use dossier_import::persona::{
    MAX_LINES, NewPersona, NewSighting, Problems, identifiers, persona_objects, problem, sighting_object,
};

use crate::error::ApiError;
use crate::{AppState, Caller};

/// The collections `caller` may write to (and that somebody may read).
pub(crate) fn writable(collections: &[Collection], caller: &Caller) -> Vec<Collection> {
    collections.iter().filter(|c| c.write.allows(&caller.viewer) && c.read != Access::Nobody).cloned().collect()
}

/// Validates every object, then stores them for `caller` in one transaction (the write
/// quota, the trust rules and the audit apply as on every write); errors name the object.
pub(crate) async fn store_as(
    state: &AppState,
    caller: &Caller,
    collection: i64,
    named: bool,
    objects: Vec<Vec<u8>>,
) -> Result<usize, ApiError> {
    let n = objects.len();
    store_validated(state, caller, collection, named, objects, false).await?;
    Ok(n)
}

/// [`store_as`] for converted uploads: objects the store refuses (another organization's
/// object of the same id) are left out and named, the rest stored in one transaction.
/// Returns how many were stored and why each left-out one was.
pub(crate) async fn store_as_leaving_out(
    state: &AppState,
    caller: &Caller,
    collection: i64,
    named: bool,
    objects: Vec<Vec<u8>>,
) -> Result<(usize, Vec<String>), ApiError> {
    store_validated(state, caller, collection, named, objects, true).await
}

/// Takes the write quota, validates every object (an invalid one refuses the whole
/// request, named by its position) and stores them as `caller`: all or nothing, or
/// `leaving_out` what the store refuses.
async fn store_validated(
    state: &AppState,
    caller: &Caller,
    collection: i64,
    named: bool,
    objects: Vec<Vec<u8>>,
    leaving_out: bool,
) -> Result<(usize, Vec<String>), ApiError> {
    let org = caller.org.id;
    let curator = caller.viewer.is_isac_staff();
    let bytes: usize = objects.iter().map(Vec::len).sum();
    state.0.quotas.take(org, objects.len() as u64, bytes as u64)?;
    state
        .blocking(move |store| {
            let mut records = Vec::with_capacity(objects.len());
            for (index, bytes) in objects.iter().enumerate() {
                match StixObject::parse(bytes) {
                    Ok(obj) => records.push(obj.into_record()),
                    Err(errs) => {
                        let text: Vec<String> = errs.iter().map(|e| format!("{}: {}", e.path, e.reason)).collect();
                        return Err(ApiError::bad_request(format!(
                            "object {index} is not valid STIX: {}",
                            text.join("; ")
                        )));
                    }
                }
            }
            let sub = Submission { org, collection, named, curator };
            if !leaving_out {
                let mut items: Vec<Item> = records
                    .into_iter()
                    .enumerate()
                    .map(|(index, object)| Item::Valid { index, line: 1, object })
                    .collect();
                dossier_store::markings_first(&mut items);
                let summary = store.import(&sub, &mut items.into_iter(), &mut |_| {})?;
                return Ok((summary.total() as usize, Vec::new()));
            }
            let (summary, refused) = dossier_store::import_leaving_out(store, &sub, &records)?;
            let why = refused
                .into_iter()
                .map(|(i, p)| format!("{}: {p}", records.get(i).map(|r| r.id.to_string()).unwrap_or_default()))
                .collect();
            Ok((summary.total() as usize, why))
        })
        .await
}
