//! Backups the VPS cannot destroy: the reconciler copies every verified
//! backup from `worlds/<s>/backups/` into `vault/<s>/backups/`, a prefix the
//! VPS's credentials are not scoped to (they cover `worlds/<s>/`,
//! `control/<s>/` and `assets/<s>/` only, `storage::credentials::
//! agent_prefixes`): a VPS, or a mod, or a key that leaked from one, can
//! delete or overwrite what is under `worlds/<s>/`, but not these copies.
//!
//! Chosen over R2 bucket lock rules: the Cloudflare API document this
//! project builds from (2024-08) has no bucket lock or lifecycle endpoint,
//! and an age-based lock would also stop the reconciler's own retention
//! (it locks the newest objects, not the older ones). The copy needs no
//! other permission than the admin's keys the reconciler already holds.
//!
//! - [`seal`]: re-read the archive, check it against its manifest (sha256 and
//!   size), copy it, then its manifest (the manifest is the commit mark, as
//!   for the agent's uploads). A vault copy is never overwritten. For a
//!   snapshot of pieces: read its file list (checked against the
//!   manifest), then copy only the pieces the vault lacks
//!   (`vault/<s>/pieces/`), each downloaded, decompressed and hashed
//!   against its name before the very bytes read are written to the vault
//!   (never a server-side copy, which the VPS could race), then the list,
//!   then the manifest.
//! - [`mend`]: before a session restores a backup, put the vault's copy back
//!   under `worlds/<s>/` if the VPS deleted or altered it there.
//! - [`remove`]: retention deletes both copies.

use super::{BackupName, Manifest, WorldError};
use crate::storage::{StorageError, Store};

/// `vault/<s>/backups/`.
pub fn prefix(store: &Store) -> String {
    format!("vault/{}/backups/", store.server())
}

/// `vault/<s>/pieces/`.
pub fn pieces_prefix(store: &Store) -> String {
    format!("vault/{}/pieces/", store.server())
}

/// `vault/<s>/backups/<name>.files`.
pub fn list_key(store: &Store, name: &BackupName) -> String {
    format!("{}{name}.files", prefix(store))
}

pub fn archive_key(store: &Store, name: &BackupName) -> String {
    format!("{}{name}.tar.zst", prefix(store))
}

pub fn manifest_key(store: &Store, name: &BackupName) -> String {
    format!("{}{name}.json", prefix(store))
}

/// Whether the vault holds `name` (its manifest is written last).
pub async fn holds(store: &Store, name: &BackupName) -> Result<bool, WorldError> {
    Ok(store.exists(&manifest_key(store, name)).await?)
}

async fn copy(store: &Store, from: &str, to: &str) -> Result<(), WorldError> {
    use object_store::path::Path as Key;
    store.object_store().copy(&Key::from(from), &Key::from(to)).await.map_err(|source| {
        WorldError::Storage(StorageError::Object {
            key: to.to_string(),
            source: Box::new(source),
        })
    })
}

/// Copy one verified backup into the vault. Returns `false` when the vault
/// already holds it (never overwritten). A backup whose archive does not
/// match its manifest is refused and not copied.
pub async fn seal(store: &Store, name: &BackupName) -> Result<bool, WorldError> {
    if holds(store, name).await? {
        return Ok(false);
    }
    let manifest_bytes = store
        .get_document(&name.manifest_key(store))
        .await?
        .ok_or_else(|| WorldError::NoSuchBackup {
            name: name.to_string(),
            store: store.describe.clone(),
            available: vec![],
        })?;
    let m: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|source| StorageError::Decode {
        key: name.manifest_key(store),
        source,
    })?;
    if m.is_pieces() {
        seal_pieces(store, name, &m).await?;
        store.put_bytes(&manifest_key(store, name), manifest_bytes).await?;
        return Ok(true);
    }
    super::verify(store, &m, &|_| true).await?;
    let vault_archive = archive_key(store, name);
    copy(store, &m.key, &vault_archive).await?;
    let size = store.head(&vault_archive).await?.map(|h| h.size);
    if size != Some(m.size) {
        return Err(WorldError::WrongSize {
            key: vault_archive,
            expected: m.size,
            actual: size.unwrap_or(0),
        });
    }
    store.put_bytes(&manifest_key(store, name), manifest_bytes).await?;
    Ok(true)
}

/// The list and the pieces the vault lacks, each checked by hash.
async fn seal_pieces(store: &Store, name: &BackupName, m: &Manifest) -> Result<(), WorldError> {
    use super::pieces;
    use futures::StreamExt;
    let own = m.own_key(store);
    if m.key != own {
        return Err(WorldError::ForeignKey {
            name: name.to_string(),
            key: m.key.clone(),
            expected: own,
        });
    }
    let (list, bytes) = pieces::read_list_bytes(store, &m.key, &m.sha256, m.size).await?;
    let held: std::collections::HashMap<String, u64> = store
        .list(&pieces_prefix(store))
        .await?
        .into_iter()
        .map(|o| (o.location.to_string(), o.size))
        .collect();
    let vault_pieces = pieces_prefix(store);
    let lacking: Vec<_> = list
        .pieces
        .iter()
        .filter(|p| held.get(&format!("{vault_pieces}{}", p.sha256)) != Some(&p.stored))
        .cloned()
        .collect();
    let mut copies = futures::stream::iter(lacking)
        .map(|p| async move {
            let from = pieces::piece_key(store, &p.sha256);
            let stored = pieces::get_capped(store, &from, pieces::max_stored()).await?;
            let to = format!("{}{}", pieces_prefix(store), p.sha256);
            let (checked, from2) = (stored.clone(), from.clone());
            tokio::task::spawn_blocking(move || pieces::unpack_piece(&from2, &checked, &p.sha256, p.size).map(drop))
                .await
                .expect("checking does not panic")?;
            store.put_bytes(&to, stored).await?;
            Ok::<(), WorldError>(())
        })
        .buffer_unordered(pieces::get::IN_FLIGHT);
    while let Some(r) = copies.next().await {
        r?;
    }
    store.put_bytes(&list_key(store, name), bytes).await?;
    Ok(())
}

/// Put the vault's copy of `name` back under `worlds/<s>/` when the copy
/// there is missing or differs (its manifest is not the vault's, or its
/// archive is not the manifest's size). Returns whether it did; `false`
/// also when the vault does not hold `name`.
pub async fn mend(store: &Store, name: &BackupName) -> Result<bool, WorldError> {
    let Some(sealed) = store.get_document(&manifest_key(store, name)).await? else {
        return Ok(false);
    };
    let m: Manifest = serde_json::from_slice(&sealed).map_err(|source| StorageError::Decode {
        key: manifest_key(store, name),
        source,
    })?;
    let worlds_manifest = store.get_document(&name.manifest_key(store)).await?;
    if m.is_pieces() {
        return mend_pieces(store, name, &m, sealed, worlds_manifest).await;
    }
    let worlds_size = store.head(&name.archive_key(store)).await?.map(|h| h.size);
    if worlds_manifest.as_deref() == Some(&sealed[..]) && worlds_size == Some(m.size) {
        return Ok(false);
    }
    copy(store, &archive_key(store, name), &name.archive_key(store)).await?;
    store.put_bytes(&name.manifest_key(store), sealed).await?;
    Ok(true)
}

/// [`mend`] for a snapshot of pieces: the list and manifest, and every
/// piece missing under `worlds/<s>/pieces/` or stored there at another
/// size, copied from the vault.
async fn mend_pieces(
    store: &Store,
    name: &BackupName,
    m: &Manifest,
    sealed: Vec<u8>,
    worlds_manifest: Option<Vec<u8>>,
) -> Result<bool, WorldError> {
    use super::pieces;
    let (list, list_bytes) = pieces::read_list_bytes(store, &list_key(store, name), &m.sha256, m.size).await?;
    let worlds: std::collections::HashMap<String, u64> = store
        .list(&pieces::prefix(store))
        .await?
        .into_iter()
        .map(|o| (o.location.to_string(), o.size))
        .collect();
    let mut mended = false;
    for p in &list.pieces {
        let to = pieces::piece_key(store, &p.sha256);
        if worlds.get(&to) != Some(&p.stored) {
            copy(store, &format!("{}{}", pieces_prefix(store), p.sha256), &to).await?;
            mended = true;
        }
    }
    let worlds_list = store.head(&m.key).await?.map(|h| h.size);
    if worlds_list != Some(m.size) || worlds_manifest.as_deref() != Some(&sealed[..]) {
        store.put_bytes(&m.key, list_bytes).await?;
        store.put_bytes(&name.manifest_key(store), sealed).await?;
        mended = true;
    }
    Ok(mended)
}

/// Delete the vault's copy (archive or list first, manifest last); one
/// already gone is not an error. Its pieces go with the next sweep
/// (`super::pieces::sweep`).
pub async fn remove(store: &Store, name: &BackupName) -> Result<(), WorldError> {
    store.delete(&archive_key(store, name)).await?;
    store.delete(&list_key(store, name)).await?;
    store.delete(&manifest_key(store, name)).await?;
    Ok(())
}

/// The names the vault holds (a manifest there), oldest first.
pub async fn sealed(store: &Store) -> Result<Vec<BackupName>, WorldError> {
    let mut out: Vec<BackupName> = store
        .list(&prefix(store))
        .await?
        .into_iter()
        .map(|o| o.location.to_string())
        .filter(|k| k.ends_with(".json"))
        .filter_map(|k| BackupName::from_key(&k))
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ServerName;

    async fn backup(store: &Store, dir: &std::path::Path, taken: &str) -> Manifest {
        let world = dir.join(taken);
        std::fs::create_dir_all(world.join("region")).unwrap();
        std::fs::write(world.join("level.dat"), taken).unwrap();
        crate::world::snapshot(store, &world, taken.parse().unwrap(), &|_| true)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn sealed_backups_survive_the_worlds_copy_and_are_mended() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::local(&tmp.path().join("s"), &ServerName::new("grove")).unwrap();
        let m = backup(&store, tmp.path(), "2026-11-22T18:00:00Z").await;
        let name = BackupName::from_key(&m.key).unwrap();
        assert!(seal(&store, &name).await.unwrap());
        assert!(!seal(&store, &name).await.unwrap(), "sealed once, never overwritten");
        assert_eq!(sealed(&store).await.unwrap(), std::slice::from_ref(&name));
        assert!(archive_key(&store, &name).starts_with("vault/grove/backups/"));

        // The VPS deletes its copy; the vault's is put back, byte for byte.
        store.delete(&m.key).await.unwrap();
        store.delete(&name.manifest_key(&store)).await.unwrap();
        assert!(mend(&store, &name).await.unwrap());
        crate::world::verify(&store, &m, &|_| true).await.unwrap();
        assert!(!mend(&store, &name).await.unwrap(), "nothing to mend now");

        // An altered worlds copy (another archive, its own manifest) is replaced too.
        store.put_bytes(&m.key, b"not the world".to_vec()).await.unwrap();
        assert!(mend(&store, &name).await.unwrap());
        crate::world::verify(&store, &m, &|_| true).await.unwrap();

        remove(&store, &name).await.unwrap();
        assert!(sealed(&store).await.unwrap().is_empty());
        assert!(!mend(&store, &name).await.unwrap(), "not in the vault: nothing to mend");
    }

    #[tokio::test]
    async fn a_backup_that_does_not_match_its_manifest_is_not_sealed() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::local(&tmp.path().join("s"), &ServerName::new("grove")).unwrap();
        let m = backup(&store, tmp.path(), "2026-11-22T18:00:00Z").await;
        let name = BackupName::from_key(&m.key).unwrap();
        let mut bytes = store.get_bytes(&m.key).await.unwrap().unwrap();
        bytes[0] ^= 1;
        store.put_bytes(&m.key, bytes).await.unwrap();
        let e = seal(&store, &name).await.unwrap_err();
        assert!(matches!(e, WorldError::Corrupt { .. }), "{e}");
        assert!(!holds(&store, &name).await.unwrap());
    }
}
