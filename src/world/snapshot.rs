//! Taking a snapshot. Every backup writes pieces and a file list
//! ([`snapshot_as`], `super::pieces::put`): upload what the bucket lacks,
//! write the list, check the list and every piece it names are stored,
//! then write the manifest and move the pointer. An interrupted one leaves
//! pieces no list names (swept later, `super::pieces::sweep`) and
//! `current.json` on the previous snapshot.
//!
//! The old format, one archive ([`snapshot_archive_as`], kept so tests
//! can write what earlier versions wrote): pack on a blocking thread, hand the compressed bytes
//! over a small bounded channel to a multipart upload of fixed-size parts
//! (at most two in flight), hash them on the way, read the upload back and
//! hash it again, and only then write the manifest and move the pointer.
//!
//! Memory stays at a few parts whatever the world's size. Any failure aborts
//! the multipart upload, so an interrupted snapshot leaves no object behind
//! and `current.json` still names the previous one.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::WriteMultipart;
use object_store::path::Path as Key;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{BackupName, Manifest, Origin, PART_SIZE, WorldError, archive, guard};
use crate::storage::cas::Expect;
use crate::storage::{SnapshotPointer, StorageError, Store};

/// Told how many bytes moved so far; returns `false` to cancel.
pub type Progress<'a> = &'a (dyn Fn(u64) -> bool + Send + Sync);

/// Bytes handed from the packer to the uploader at a time.
const HANDOFF: usize = 1024 * 1024;
/// Parts being uploaded at once.
const IN_FLIGHT: usize = 2;

/// Snapshot `dir` as a new backup taken by hand at `taken`: see [`snapshot_as`].
pub async fn snapshot(store: &Store, dir: &Path, taken: DateTime<Utc>, progress: Progress<'_>) -> Result<Manifest, WorldError> {
    snapshot_as(store, dir, taken, &Origin::manual(), progress).await
}

/// Snapshot `dir` as a new backup taken at `taken` (when Minecraft stopped
/// or saved; named by its second, or a unique name when that one is taken)
/// by `origin` (the session and why, recorded in the manifest): upload the
/// pieces the bucket lacks, write the file list, verify, and point
/// `current.json` at it unless a newer snapshot is there already.
pub async fn snapshot_as(
    store: &Store,
    dir: &Path,
    taken: DateTime<Utc>,
    origin: &Origin,
    progress: Progress<'_>,
) -> Result<Manifest, WorldError> {
    use super::pieces::{self, sweep::MAX_BACKUP};
    if !dir.is_dir() {
        return Err(super::io(dir)(std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory")));
    }
    let name = free_name(store, taken).await?;
    let started = Utc::now();
    let known = known_pieces(store).await?;
    let stored = pieces::put::upload(store, dir, &known, progress).await?;
    let ran = Utc::now() - started;
    if ran > MAX_BACKUP {
        return Err(WorldError::TooSlow {
            minutes: ran.num_minutes(),
            max: MAX_BACKUP.num_minutes(),
        });
    }
    let key = pieces::list_key(store, &name);
    let bytes = stored.list.to_bytes();
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    store
        .object_store()
        .put_opts(
            &Key::from(key.as_str()),
            bytes.into(),
            object_store::PutOptions::from(object_store::PutMode::Create),
        )
        .await
        .map_err(|source| match source {
            object_store::Error::AlreadyExists { .. } => WorldError::Exists { key: key.clone() },
            source => WorldError::Upload {
                key: key.clone(),
                source: source.into(),
            },
        })?;
    // Verified: the list reads back as written, and every piece it names
    // is stored at its size (uploaded pieces were read back as they went).
    pieces::read_list(store, &key, &sha256, size).await?;
    let prefix = pieces::prefix(store);
    let listed = pieces::listing(store, &prefix).await?;
    for p in &stored.list.pieces {
        if !pieces::stored_as_listed(&listed, &prefix, p) {
            let key = format!("{prefix}{}", p.sha256);
            let found = match listed.get(&key) {
                None => "missing".to_string(),
                Some((size, etag)) => format!(
                    "listed at {size} bytes, ETag {etag:?} (verified: {} bytes, ETag {:?})",
                    p.stored, p.etag
                ),
            };
            return Err(WorldError::MissingPiece {
                key,
                list: pieces::list_key(store, &name),
                found,
            });
        }
    }
    let now = Utc::now();
    let manifest = Manifest {
        version: super::PIECES_VERSION,
        name: name.clone(),
        key,
        sha256,
        size,
        files: stored.list.files.len() as u64,
        world_bytes: Some(stored.list.bytes()),
        taken: super::to_millis(taken),
        part_size: pieces::PIECE_BYTES,
        uploaded: now,
        verified: now,
        session: origin.session.clone(),
        kind: Some(origin.kind),
        added_pieces: Some(stored.added_pieces),
        added_bytes: Some(stored.added_bytes),
    };
    store.put_json_if(&name.manifest_key(store), &manifest, &Expect::Absent).await?;
    advance_pointer(store, &manifest).await?;
    Ok(manifest)
}

/// The pieces a backup need not upload: those the current snapshot's
/// verified file list names that one listing of `pieces/` shows at their
/// stored size. None when there is no current snapshot of pieces.
async fn known_pieces(store: &Store) -> Result<super::pieces::put::Known, WorldError> {
    use super::pieces;
    let mut known = pieces::put::Known::new();
    let Some(p) = store.current_snapshot().await? else {
        return Ok(known);
    };
    let Some(name) = BackupName::from_key(&p.key) else {
        return Ok(known);
    };
    // The manifest the pointer names, agreeing with it; each piece is then
    // trusted on its own, by the listing (a corrupted one is uploaded again).
    let Ok(Some(m)) = super::manifest(store, &name).await else {
        return Ok(known);
    };
    if !p.verified || !m.is_pieces() || m.key != m.own_key(store) || m.key != p.key || m.sha256 != p.sha256 {
        return Ok(known);
    }
    let list = match pieces::read_list(store, &m.key, &m.sha256, m.size).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(key = m.key, error = %e, "the current snapshot's file list is unusable: every piece is uploaded");
            return Ok(known);
        }
    };
    let prefix = pieces::prefix(store);
    let listed = pieces::listing(store, &prefix).await?;
    for piece in list.pieces {
        if pieces::stored_as_listed(&listed, &prefix, &piece) {
            known.insert(piece.sha256.clone(), piece);
        }
    }
    Ok(known)
}

/// The old format: `dir` as one tar + zstd archive (manifest version 1).
/// No backup writes it any more; tests use it to check that such
/// snapshots stay readable.
pub async fn snapshot_archive_as(
    store: &Store,
    dir: &Path,
    taken: DateTime<Utc>,
    origin: &Origin,
    progress: Progress<'_>,
) -> Result<Manifest, WorldError> {
    if !dir.is_dir() {
        return Err(super::io(dir)(std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory")));
    }
    let name = free_name(store, taken).await?;
    let key = name.archive_key(store);
    let (packed, sha256, size) = upload(store, dir, &key, progress).await?;
    let (actual, stored) = hash_object(store, &key, &|_| true).await?;
    if stored != size || actual != sha256 {
        store.delete(&key).await?;
        return Err(WorldError::Corrupt {
            key,
            expected: sha256,
            actual,
        });
    }
    let now = Utc::now();
    let manifest = Manifest {
        version: 1,
        name: name.clone(),
        key,
        sha256,
        size,
        files: packed.files,
        world_bytes: Some(packed.bytes),
        taken: super::to_millis(taken),
        part_size: PART_SIZE as u64,
        uploaded: now,
        verified: now,
        session: origin.session.clone(),
        kind: Some(origin.kind),
        added_pieces: None,
        added_bytes: None,
    };
    store.put_json_if(&name.manifest_key(store), &manifest, &Expect::Absent).await?;
    advance_pointer(store, &manifest).await?;
    Ok(manifest)
}

/// The second `taken` falls in, or when a backup has that name already
/// (a suspend snapshot and the final one in one second), the millisecond
/// and a random tag. Never an existing name: a snapshot is never overwritten.
async fn free_name(store: &Store, taken: DateTime<Utc>) -> Result<BackupName, WorldError> {
    let mut last = None;
    for name in [BackupName::at(taken), BackupName::unique(taken), BackupName::unique(taken)] {
        let mut free = true;
        for k in [
            name.archive_key(store),
            name.manifest_key(store),
            super::pieces::list_key(store, &name),
        ] {
            if store.head(&k).await?.is_some() {
                free = false;
                last = Some(k);
            }
        }
        if free {
            return Ok(name);
        }
    }
    Err(WorldError::Exists {
        key: last.expect("a name was taken"),
    })
}

async fn upload(store: &Store, dir: &Path, key: &str, progress: Progress<'_>) -> Result<(archive::Packed, String, u64), WorldError> {
    let up_err = |source: object_store::Error| WorldError::Upload {
        key: key.into(),
        source: source.into(),
    };
    let upload = store.object_store().put_multipart(&Key::from(key)).await.map_err(up_err)?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let (tx, mut rx) = mpsc::channel::<Bytes>(2);
    let owned = dir.to_path_buf();
    let packer = tokio::task::spawn_blocking(move || {
        let mut sink = Sink {
            tx,
            buf: Vec::with_capacity(HANDOFF),
            hash: Sha256::new(),
            size: 0,
        };
        let packed = archive::pack(&owned, &mut sink)?;
        sink.flush().map_err(super::io(&owned))?;
        Ok::<_, WorldError>((packed, hex::encode(sink.hash.finalize()), sink.size))
    });
    let mut sent = 0u64;
    let mut failed: Option<WorldError> = None;
    while let Some(b) = rx.recv().await {
        if let Err(e) = w.wait_for_capacity(IN_FLIGHT).await {
            failed = Some(up_err(e));
            break;
        }
        sent += b.len() as u64;
        w.put(b);
        if !progress(sent) {
            failed = Some(WorldError::Cancelled);
            break;
        }
    }
    drop(rx); // a packer still writing sees a closed pipe and stops
    let packed = packer.await.expect("the packer does not panic");
    let result = match (failed, packed) {
        (Some(e), _) | (None, Err(e)) => Err(e),
        (None, Ok(r)) => Ok(r),
    };
    match result {
        Ok(r) => {
            w.finish().await.map_err(up_err)?;
            Ok(r)
        }
        Err(e) => {
            // Nothing of an aborted upload becomes visible.
            let _ = w.abort().await;
            Err(e)
        }
    }
}

/// The packer's end of the pipe: hashes, counts and hands over in 1 MiB pieces.
struct Sink {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
    hash: Sha256,
    size: u64,
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.hash.update(data);
        self.size += data.len() as u64;
        self.buf.extend_from_slice(data);
        if self.buf.len() >= HANDOFF {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(HANDOFF)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

/// Stream an object and hash it: (sha256 hex, size).
pub async fn hash_object(store: &Store, key: &str, progress: Progress<'_>) -> Result<(String, u64), WorldError> {
    let obj_err = |source: object_store::Error| {
        WorldError::Storage(StorageError::Object {
            key: key.into(),
            source: source.into(),
        })
    };
    let got = store.object_store().get(&Key::from(key)).await.map_err(obj_err)?;
    let mut stream = got.into_stream();
    let mut hash = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(obj_err)?;
        hash.update(&chunk);
        size += chunk.len() as u64;
        if !progress(size) {
            return Err(WorldError::Cancelled);
        }
    }
    Ok((hex::encode(hash.finalize()), size))
}

/// Re-read a stored snapshot and compare it with its manifest: an
/// archive's sha256, or a file list's and then every piece it names
/// (downloaded, decompressed, hashed against its name).
pub async fn verify(store: &Store, m: &Manifest, progress: Progress<'_>) -> Result<(), WorldError> {
    if m.is_pieces() {
        let list = super::pieces::read_list(store, &m.key, &m.sha256, m.size).await?;
        return super::pieces::verify_pieces(store, &super::pieces::prefix(store), &list, progress).await;
    }
    let (actual, size) = hash_object(store, &m.key, progress).await?;
    if size != m.size {
        return Err(WorldError::WrongSize {
            key: m.key.clone(),
            expected: m.size,
            actual: size,
        });
    }
    if actual != m.sha256 {
        return Err(WorldError::Corrupt {
            key: m.key.clone(),
            expected: m.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// Point `current.json` at `m` unless it already names a newer snapshot.
/// The write is conditional on the version read, so of two writers racing,
/// one re-reads and decides again. Returns whether the pointer moved.
///
/// "Newer" is by `taken`, but only for a pointer that holds: one whose
/// snapshot is not verified (no manifest, a disagreeing one, a missing
/// archive) or that claims a time later than storage's own record of its
/// upload ([`guard::future_dated`]) is replaced whatever it claims, so one
/// bad write (a fast clock, a hostile VPS) cannot freeze the pointer.
pub async fn advance_pointer(store: &Store, m: &Manifest) -> Result<bool, WorldError> {
    let key = store.current_key();
    for _ in 0..5 {
        let expect = match store.get_json_versioned::<SnapshotPointer>(&key).await {
            Ok(None) => Expect::Absent,
            Ok(Some((p, v))) => {
                if p.taken > m.taken && holds(store, &p).await? {
                    return Ok(false);
                }
                v
            }
            // A pointer that does not parse holds nothing back; its version is read raw.
            Err(StorageError::Decode { .. } | StorageError::TooLarge { .. }) => match store.head(&key).await? {
                None => Expect::Absent,
                Some(h) => Expect::Version {
                    e_tag: h.e_tag,
                    version: h.version,
                },
            },
            Err(e) => return Err(e.into()),
        };
        match store.put_json_if(&key, &m.pointer(), &expect).await {
            Ok(()) => return Ok(true),
            Err(StorageError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StorageError::Conflict { key }.into())
}

/// Whether the pointer names a verified snapshot dated no later than its
/// upload allows: only such a pointer keeps an older snapshot out.
async fn holds(store: &Store, p: &SnapshotPointer) -> Result<bool, StorageError> {
    Ok(p.verified
        && super::backing(store, p)
            .await?
            .is_some_and(|(m, stored)| !guard::future_dated(m.taken, stored)))
}
