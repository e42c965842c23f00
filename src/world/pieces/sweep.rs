//! Retention of pieces: mark and sweep with a grace period.
//!
//! Retention deletes a backup's manifest and file list ([`super::super::
//! retention::remove`]); its pieces go only here, and only when no file
//! list under `worlds/<s>/backups/` names them: not a kept backup's, not
//! an incomplete one's (a backup writes its list before its manifest), not
//! a list that appeared while the sweep ran (lists are read again just
//! before deleting). An unnamed piece is first *marked*
//! (`worlds/<s>/sweep.json` records when) and deleted by a later sweep at
//! least [`GRACE`] after, if it is still unnamed and was not uploaded again
//! since the mark.
//!
//! Why that is safe against a concurrent backup: a backup relies without
//! uploading only on pieces named by the list of the snapshot that was
//! current when it started, and gives up if it ran longer than
//! [`MAX_BACKUP`] ([`super::super::snapshot`](mod@super::super::snapshot)). A piece it relies on was
//! named by that list when the backup started, so it was marked, at the
//! earliest, after the backup started; deleting it needs a mark [`GRACE`]
//! (> [`MAX_BACKUP`]) old, by which time the backup has written its list,
//! which names the piece and so unmarks it. Any other piece a backup needs
//! it uploads, which dates it after any mark. An interrupted backup's
//! uploads are named by no list: marked, then swept, never kept forever.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{FileList, is_sha256, prefix};

use crate::storage::Store;
use crate::world::WorldError;
use crate::world::archive::Limits;

/// How long an unnamed piece stays marked before it may go.
pub(crate) const GRACE: TimeDelta = TimeDelta::hours(24);

/// The longest a backup may run from reading the current snapshot's list
/// to writing its own (a 64 GiB world at 100 MB/s takes 11 minutes).
pub(crate) const MAX_BACKUP: TimeDelta = TimeDelta::hours(6);

/// `worlds/<s>/sweep.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Marks {
    pub version: u32,
    /// Unnamed pieces and when a sweep first found them so.
    pub marked: BTreeMap<String, DateTime<Utc>>,
}

/// Where pieces, their lists and the marks live: under `worlds/<s>/`, or
/// in the vault (`vault/<s>/`, which only the reconciler writes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub pieces: String,
    pub backups: String,
    pub marks: String,
}

impl Place {
    pub(crate) fn worlds(store: &Store) -> Place {
        Place {
            pieces: prefix(store),
            backups: format!("{}backups/", store.world_prefix()),
            marks: format!("{}sweep.json", store.world_prefix()),
        }
    }
    pub(crate) fn vault(store: &Store) -> Place {
        Place {
            pieces: crate::world::vault::pieces_prefix(store),
            backups: crate::world::vault::prefix(store),
            marks: format!("vault/{}/sweep.json", store.server()),
        }
    }
}

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Swept {
    pub deleted: Vec<String>,
    pub marked: usize,
    pub named: usize,
}

/// Every piece a file list under `prefix_backups` names. A list that does
/// not parse names nothing (no restore could use it).
pub(crate) async fn named(store: &Store, backups_prefix: &str) -> Result<(HashSet<String>, HashSet<String>), WorldError> {
    let mut lists = HashSet::new();
    let mut out = HashSet::new();
    for o in store.list(backups_prefix).await? {
        let key = o.location.to_string();
        if !key.ends_with(".files") {
            continue;
        }
        lists.insert(key.clone());
        let Ok(bytes) = super::get_capped(store, &key, super::MAX_LIST_BYTES).await else {
            continue;
        };
        match FileList::parse(&key, &bytes, Limits::WORLD) {
            Ok(l) => out.extend(l.pieces.into_iter().map(|p| p.sha256)),
            Err(e) => tracing::warn!(key, error = %e, "a file list that does not parse names no piece"),
        }
    }
    Ok((out, lists))
}

/// Mark the unnamed pieces of `place`, delete those marked at least
/// `grace` before `now` and not uploaded since.
pub(crate) async fn sweep(store: &Store, place: &Place, now: DateTime<Utc>, grace: TimeDelta) -> Result<Swept, WorldError> {
    let backups = place.backups.clone();
    let stored = store.list(&place.pieces).await?;
    let (mut named_now, lists) = named(store, &backups).await?;
    let old: Marks = match store.get_json(&place.marks).await {
        Ok(m) => m.unwrap_or_default(),
        // Marks that do not read start again: deletion only waits longer.
        Err(_) => Marks::default(),
    };
    let mut marks = Marks {
        version: 1,
        marked: BTreeMap::new(),
    };
    let mut doomed = Vec::new();
    for o in &stored {
        let key = o.location.to_string();
        let sha = key.rsplit('/').next().unwrap_or_default().to_string();
        if !is_sha256(&sha) || named_now.contains(&sha) {
            continue;
        }
        match old.marked.get(&sha) {
            Some(at) if now - *at >= grace && o.last_modified <= *at => doomed.push((sha, key)),
            Some(at) => {
                marks.marked.insert(sha, *at);
            }
            None => {
                marks.marked.insert(sha, now);
            }
        }
    }
    // Lists written while this sweep ran name pieces too.
    for o in store.list(&backups).await? {
        let key = o.location.to_string();
        if key.ends_with(".files") && !lists.contains(&key) {
            if let Ok(bytes) = super::get_capped(store, &key, super::MAX_LIST_BYTES).await {
                if let Ok(l) = FileList::parse(&key, &bytes, Limits::WORLD) {
                    named_now.extend(l.pieces.into_iter().map(|p| p.sha256));
                }
            }
        }
    }
    let mut swept = Swept {
        named: named_now.len(),
        ..Swept::default()
    };
    for (sha, key) in doomed {
        if named_now.contains(&sha) {
            continue;
        }
        store.delete(&key).await?;
        swept.deleted.push(sha);
    }
    swept.marked = marks.marked.len();
    if marks != old {
        store.put_json(&place.marks, &marks).await?;
    }
    Ok(swept)
}
