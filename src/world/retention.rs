//! Which backups exist and which go: the newest `keep` complete backups
//! stay, so do pinned ones (a `.pin` marker beside them) and the one
//! `current.json` names, whatever their age. An archive without a manifest
//! (its upload finished but verification never did) is removed once a newer
//! complete backup exists; a newer one may still be being verified.
//!
//! [`to_prune`] is pure, so the rule is tested exactly; [`prune`] deletes
//! the archive first and the manifest last, so a crash in between leaves an
//! entry the next prune still sees.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{BackupName, WorldError};
use crate::storage::Store;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Backup {
    pub name: BackupName,
    /// The archive's size, if the archive is there.
    pub size: Option<u64>,
    pub manifest: bool,
    pub pinned: bool,
    /// The vault holds a copy the VPS cannot touch (`super::vault`).
    #[serde(default)]
    pub sealed: bool,
}

impl Backup {
    /// Uploaded in full with its manifest, or sealed in the vault (the VPS
    /// may have deleted its own copy; the vault's is as good).
    pub fn complete(&self) -> bool {
        (self.size.is_some() && self.manifest) || self.sealed
    }

    /// Complete under `worlds/<s>/` and not yet in the vault.
    pub fn to_seal(&self) -> bool {
        self.size.is_some() && self.manifest && !self.sealed
    }
}

/// Every backup, oldest first, under `worlds/<s>/backups/` or in the vault.
pub async fn list(store: &Store) -> Result<Vec<Backup>, WorldError> {
    let prefix = format!("{}backups/", store.world_prefix());
    let mut by_name: BTreeMap<BackupName, Backup> = BTreeMap::new();
    for o in store.list(&prefix).await? {
        let key = o.location.to_string();
        let Some(name) = BackupName::from_key(&key) else { continue };
        let b = by_name.entry(name.clone()).or_insert(Backup {
            name,
            size: None,
            manifest: false,
            pinned: false,
            sealed: false,
        });
        if key.ends_with(".tar.zst") || key.ends_with(".files") {
            b.size = Some(o.size);
        } else if key.ends_with(".json") {
            b.manifest = true;
        } else if key.ends_with(".pin") {
            b.pinned = true;
        }
    }
    for name in super::vault::sealed(store).await? {
        by_name
            .entry(name.clone())
            .or_insert(Backup {
                name,
                size: None,
                manifest: false,
                pinned: false,
                sealed: false,
            })
            .sealed = true;
    }
    Ok(by_name.into_values().collect())
}

/// The backups to delete, oldest first.
pub fn to_prune(backups: &[Backup], keep: usize, current: Option<&BackupName>) -> Vec<BackupName> {
    let mut complete: Vec<&Backup> = backups.iter().filter(|b| b.complete()).collect();
    complete.sort_by(|a, b| b.name.cmp(&a.name));
    let newest_complete = complete.first().map(|b| b.name.clone());
    let kept: Vec<&BackupName> = complete.iter().take(keep).map(|b| &b.name).collect();
    let mut out: Vec<BackupName> = backups
        .iter()
        .filter(|b| !b.pinned && Some(&b.name) != current)
        .filter(|b| {
            if b.complete() {
                !kept.contains(&&b.name)
            } else {
                newest_complete.as_ref().is_some_and(|n| b.name < *n)
            }
        })
        .map(|b| b.name.clone())
        .collect();
    out.sort();
    out
}

/// Apply the rule, also sparing `spare` (what a restore names: `world prune`
/// passes server.toml's `restore`, as the reconciler's retention does);
/// returns what was deleted.
pub async fn prune(store: &Store, keep: usize, spare: &[BackupName]) -> Result<Vec<BackupName>, WorldError> {
    let current = store.current_snapshot().await?.and_then(|p| BackupName::from_key(&p.key));
    let mut gone = to_prune(&list(store).await?, keep, current.as_ref());
    gone.retain(|n| !spare.contains(n));
    for name in &gone {
        remove(store, name).await?;
    }
    sweep(store).await?;
    Ok(gone)
}

/// Sweep the pieces no file list names, under `worlds/<s>/` and in the
/// vault (`super::pieces::sweep`): after every prune, by hand or by the
/// reconciler.
pub async fn sweep(store: &Store) -> Result<(), WorldError> {
    use super::pieces::sweep::{GRACE, Place, sweep};
    let now = chrono::Utc::now();
    for place in [Place::worlds(store), Place::vault(store)] {
        let s = sweep(store, &place, now, GRACE).await?;
        if !s.deleted.is_empty() || s.marked > 0 {
            tracing::info!(prefix = place.pieces, deleted = s.deleted.len(), marked = s.marked, "swept pieces");
        }
    }
    Ok(())
}

/// Delete one backup, archive or file list first and manifest last (a
/// crash in between leaves an entry the next prune still sees); one already
/// gone is not an error. Its pieces go with a later sweep ([`sweep`]). The
/// caller has applied the rule (the reconciler's retention step).
pub async fn remove(store: &Store, name: &BackupName) -> Result<(), WorldError> {
    store.delete(&name.archive_key(store)).await?;
    store.delete(&super::pieces::list_key(store, name)).await?;
    store.delete(&name.manifest_key(store)).await?;
    super::vault::remove(store, name).await
}

/// Whether a backup carries a pin marker (one request, no list).
pub async fn is_pinned(store: &Store, name: &BackupName) -> Result<bool, WorldError> {
    Ok(store.exists(&name.pin_key(store)).await?)
}

/// Pin or unpin a backup (a marker object, so pinning never rewrites the manifest).
pub async fn set_pin(store: &Store, name: &BackupName, pinned: bool) -> Result<(), WorldError> {
    super::resolve(store, &name.to_string()).await?;
    let key = name.pin_key(store);
    if pinned {
        store.put_bytes(&key, b"pinned\n".to_vec()).await?;
    } else {
        store.delete(&key).await?;
    }
    Ok(())
}
