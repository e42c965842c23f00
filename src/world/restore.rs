//! Restoring a snapshot. One of pieces (manifest version 2) is restored by
//! [`super::pieces::get`]; an old single archive (version 1) as below.
//!
//! An archive: download it into a file beside the target,
//! hashing as it arrives, and refuse it unless its size and sha256 are the
//! manifest's — before a single member is unpacked, so a damaged or
//! substituted archive never reaches the tar reader. Then unpack it on a
//! blocking thread into a fresh directory beside the target (the reader
//! refuses anything but files and directories inside it, see
//! [`archive`]), and only then swap the fresh directory in by renames.
//! A failure at any point leaves the target as it was and removes the
//! download and the half-written directory.
//!
//! Downloading first and unpacking after costs one local write and read of
//! the compressed archive (page-cache warm, well under the download's own
//! time on a VPS disk) and the archive's size in free disk space until the
//! restore ends; unpacking while downloading would run the reader on bytes
//! nobody has verified.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use object_store::path::Path as Key;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::snapshot::Progress;
use super::{Manifest, WorldError, archive, io};
use crate::storage::{StorageError, Store};

/// Restore the snapshot `m` into `target`; returns the number of files.
pub async fn restore(store: &Store, m: &Manifest, target: &Path, progress: Progress<'_>) -> Result<u64, WorldError> {
    // A manifest is as untrusted as its archive: it may only name its own.
    let own = m.own_key(store);
    if m.key != own {
        return Err(WorldError::ForeignKey {
            name: m.name.to_string(),
            key: m.key.clone(),
            expected: own,
        });
    }
    if m.is_pieces() {
        let list = super::pieces::read_list(store, &m.key, &m.sha256, m.size).await?;
        return super::pieces::get::restore(store, list, target, progress).await;
    }
    let (fresh, old, download) = beside(target);
    clear(&fresh)?;
    clear(&download)?;
    let result = async {
        fetch_verified(store, m, &download, progress).await?;
        std::fs::create_dir_all(&fresh).map_err(io(&fresh))?;
        unpack(&download, &fresh, &m.key).await
    }
    .await;
    let _ = std::fs::remove_file(&download);
    match result {
        Ok(files) => {
            swap(&fresh, target, &old)?;
            Ok(files)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&fresh);
            Err(e)
        }
    }
}

/// Remove what a crashed restore left at `leftover` (never following a link).
pub(crate) fn clear(leftover: &Path) -> Result<(), WorldError> {
    if std::fs::symlink_metadata(leftover).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir_all(leftover).map_err(io(leftover))?;
    } else if std::fs::symlink_metadata(leftover).is_ok() {
        std::fs::remove_file(leftover).map_err(io(leftover))?;
    }
    Ok(())
}

/// `.world.restore`, `.world.old` and `.world.download` in the target's
/// directory, so both renames stay on one file system.
pub(crate) fn beside(target: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map_or_else(|| "world".into(), |n| n.to_string_lossy().into_owned());
    (
        parent.join(format!(".{name}.restore")),
        parent.join(format!(".{name}.old")),
        parent.join(format!(".{name}.download")),
    )
}

/// Put `fresh` where `target` is. Where the file system can (Linux
/// `renameat2` with `RENAME_EXCHANGE`), the two trade places in one step,
/// so no moment exists without a world; elsewhere, two renames.
pub(crate) fn swap(fresh: &Path, target: &Path, old: &Path) -> Result<(), WorldError> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    if target.exists() && renameat_with(CWD, fresh, CWD, target, RenameFlags::EXCHANGE).is_ok() {
        // `fresh` now holds the previous world.
        return std::fs::remove_dir_all(fresh).map_err(io(fresh));
    }
    if old.exists() {
        std::fs::remove_dir_all(old).map_err(io(old))?;
    }
    let had = target.exists();
    if had {
        std::fs::rename(target, old).map_err(io(target))?;
    }
    if let Err(e) = std::fs::rename(fresh, target) {
        if had {
            let _ = std::fs::rename(old, target);
        }
        return Err(io(target)(e));
    }
    if had {
        std::fs::remove_dir_all(old).map_err(io(old))?;
    }
    Ok(())
}

/// Bytes written to the download file at a time.
const WRITE_SIZE: usize = 1024 * 1024;

/// Download `m`'s archive into `to`, hashing it on the way; refused unless
/// its size and sha256 are the manifest's. Stops reading once the object is
/// longer than the manifest says, so a swapped object cannot fill the disk.
async fn fetch_verified(store: &Store, m: &Manifest, to: &Path, progress: Progress<'_>) -> Result<(), WorldError> {
    let obj_err = |source: object_store::Error| {
        WorldError::Storage(StorageError::Object {
            key: m.key.clone(),
            source: source.into(),
        })
    };
    let got = store.object_store().get(&Key::from(m.key.as_str())).await.map_err(obj_err)?;
    let mut stream = got.into_stream();
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .await
        .map_err(io(to))?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    // Stores hand over small chunks (8 KiB from a local directory); each
    // write to a tokio file is a trip to the blocking pool, so write MiBs.
    let mut buf = Vec::with_capacity(WRITE_SIZE);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(obj_err)?;
        size += chunk.len() as u64;
        if size > m.size {
            break;
        }
        hash.update(&chunk);
        buf.extend_from_slice(&chunk);
        if buf.len() >= WRITE_SIZE {
            file.write_all(&buf).await.map_err(io(to))?;
            buf.clear();
        }
        if !progress(size) {
            return Err(WorldError::Cancelled);
        }
    }
    file.write_all(&buf).await.map_err(io(to))?;
    file.flush().await.map_err(io(to))?;
    if size != m.size {
        return Err(WorldError::WrongSize {
            key: m.key.clone(),
            expected: m.size,
            actual: size,
        });
    }
    let sha = hex::encode(hash.finalize());
    if sha != m.sha256 {
        return Err(WorldError::Corrupt {
            key: m.key.clone(),
            expected: m.sha256.clone(),
            actual: sha,
        });
    }
    Ok(())
}

/// Unpack the verified download into `fresh` on a blocking thread.
async fn unpack(download: &Path, fresh: &Path, key: &str) -> Result<u64, WorldError> {
    let (download, fresh, key) = (download.to_path_buf(), fresh.to_path_buf(), key.to_string());
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&download).map_err(io(&download))?;
        archive::unpack(file, &fresh, &key)
    })
    .await
    .expect("the unpacker does not panic")
}
