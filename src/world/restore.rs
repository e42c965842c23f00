//! Restoring a snapshot: download as a stream, unzstd and untar on a
//! blocking thread into a fresh directory beside the target, check the
//! sha256 of every byte downloaded against the manifest, and only then swap
//! the fresh directory in by renames. A failure at any point leaves the
//! target as it was and removes the half-written directory.

use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path as Key;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::snapshot::Progress;
use super::{Manifest, WorldError, archive, io};
use crate::storage::{StorageError, Store};

/// Restore the snapshot `m` into `target`; returns the number of files.
pub async fn restore(store: &Store, m: &Manifest, target: &Path, progress: Progress<'_>) -> Result<u64, WorldError> {
    let (fresh, old) = beside(target);
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).map_err(io(&fresh))?; // left by a crash
    }
    std::fs::create_dir_all(&fresh).map_err(io(&fresh))?;
    match download_into(store, m, &fresh, progress).await {
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

/// `.world.restore` and `.world.old` in the target's directory, so both
/// renames stay on one file system.
fn beside(target: &Path) -> (PathBuf, PathBuf) {
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map_or_else(|| "world".into(), |n| n.to_string_lossy().into_owned());
    (parent.join(format!(".{name}.restore")), parent.join(format!(".{name}.old")))
}

fn swap(fresh: &Path, target: &Path, old: &Path) -> Result<(), WorldError> {
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

async fn download_into(store: &Store, m: &Manifest, fresh: &Path, progress: Progress<'_>) -> Result<u64, WorldError> {
    let obj_err = |source: object_store::Error| {
        WorldError::Storage(StorageError::Object {
            key: m.key.clone(),
            source: source.into(),
        })
    };
    let got = store.object_store().get(&Key::from(m.key.as_str())).await.map_err(obj_err)?;
    let mut stream = got.into_stream();
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    let dir = fresh.to_path_buf();
    let unpacker = tokio::task::spawn_blocking(move || {
        let mut r = Hashing {
            rx,
            cur: Bytes::new(),
            hash: Sha256::new(),
            size: 0,
        };
        let files = archive::unpack(&mut r, &dir)?;
        // The tar ends before the zstd frame does; hash every byte.
        std::io::copy(&mut r, &mut std::io::sink()).map_err(io(&dir))?;
        Ok::<_, WorldError>((files, hex::encode(r.hash.finalize()), r.size))
    });
    let mut got_bytes = 0u64;
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => {
                got_bytes += b.len() as u64;
                if tx.send(Ok(b)).await.is_err() {
                    break; // the unpacker stopped; its error says why
                }
                if !progress(got_bytes) {
                    failed = Some(WorldError::Cancelled);
                    break;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other("download failed"))).await;
                failed = Some(obj_err(e));
                break;
            }
        }
    }
    drop(tx);
    let unpacked = unpacker.await.expect("the unpacker does not panic");
    if let Some(e) = failed {
        return Err(e);
    }
    let (files, sha, size) = unpacked.map_err(|e| match e {
        // A damaged archive usually fails to decode before the hash is in:
        // say what is wrong with it rather than how zstd noticed.
        WorldError::Io { ref source, .. }
            if matches!(
                source.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other
            ) =>
        {
            WorldError::Corrupt {
                key: m.key.clone(),
                expected: m.sha256.clone(),
                actual: "(undecodable)".into(),
            }
        }
        e => e,
    })?;
    if size != m.size {
        return Err(WorldError::WrongSize {
            key: m.key.clone(),
            expected: m.size,
            actual: size,
        });
    }
    if sha != m.sha256 {
        return Err(WorldError::Corrupt {
            key: m.key.clone(),
            expected: m.sha256.clone(),
            actual: sha,
        });
    }
    Ok(files)
}

/// The unpacker's end of the pipe: a `Read` over downloaded chunks that
/// hashes what passes.
struct Hashing {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    cur: Bytes,
    hash: Sha256,
    size: u64,
}

impl Read for Hashing {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len());
        let piece = self.cur.split_to(n);
        self.hash.update(&piece);
        self.size += n as u64;
        out[..n].copy_from_slice(&piece);
        Ok(n)
    }
}
