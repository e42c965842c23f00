//! Taking an incremental snapshot: walk the world (never following a
//! link, as the archive's packer), cut it into pieces, upload in parallel
//! only the pieces the bucket does not hold yet, check each upload (the
//! ETag S3 and R2 answer is the MD5 of what they stored; where it is not,
//! the piece is read back), and return the file list. The caller writes
//! the list and the manifest after.
//!
//! Which pieces the bucket holds is known once per backup: the pieces the
//! current snapshot's verified file list names that a single listing of
//! `pieces/` still shows at their stored size. Any other piece is uploaded
//! (again, if a crashed backup left it: its bytes are unknown).
//!
//! A file is read only when it may have changed: a stat cache beside the
//! world (`.<world>.pieces.json`, [`StatCache`]) remembers each large
//! file's size, mtime and inode at the last backup with its piece hashes;
//! a file whose stat is unchanged, and older than the cache by more than
//! [`RACY`] (git's racy-clean rule), is not read again when every one of
//! its pieces is known to be stored. A mod could write the cache; it could
//! write the world as well, so it gains nothing.
//!
//! Memory: the walker hands whole pieces (at most [`PIECE_BYTES`]) through
//! a channel of [`IN_FLIGHT`] to at most [`IN_FLIGHT`] uploads at once.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use object_store::PutPayload;
use object_store::path::Path as Key;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{FileEntry, FileList, LIST_VERSION, PIECE_BYTES, Part, Piece, SOLO_BYTES, piece_key};
use crate::storage::{StorageError, Store};
use crate::world::archive::{self, Limits};
use crate::world::snapshot::Progress;
use crate::world::{WorldError, io};

mod stat_cache;

use stat_cache::mtime_ns;
pub(crate) use stat_cache::{Cached, StatCache, cache_path};

/// zstd level of pieces: -1 (`zstd --fast=1`), not the archive's 3.
/// Region files are zlib-compressed chunks padded to 4 KiB sectors: what
/// zstd can take out is the padding, which its fastest levels find as well
/// as level 1 does. On the bench's region files (240 MB) level -1 stored
/// slightly fewer bytes than 1 (124.96 against 125.03 MB) in 0.17-0.19 s
/// of CPU against 0.24-0.28 s (`zstd` CLI, 3 interleaved rounds), and a
/// backup on a 2-core VPS waits for its CPU. The level changes only the
/// stored bytes, not a piece's name (the hash of its bytes before
/// compression), so pieces stored at level 1 are still reused.
pub(crate) const PIECE_ZSTD_LEVEL: i32 = -1;

/// Pieces compressed and uploaded at once (and waiting in the channel).
/// 8 was no faster than 4 against a local S3 server (bench/world.py,
/// 1 GiB: the two cores are the bound) and took peak RSS from 56 to 75 MB.
pub(crate) const IN_FLIGHT: usize = 4;

/// A file changed less than this before the stat cache was written may
/// have changed again within the same mtime tick: it is read again.
pub(crate) const RACY: std::time::Duration = std::time::Duration::from_secs(2);

/// What a backup stored.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    pub list: FileList,
    /// Pieces uploaded by this backup, and their stored bytes.
    pub added_pieces: u64,
    pub added_bytes: u64,
}

/// Pieces known to be stored intact: name → the listed piece.
pub(crate) type Known = HashMap<String, Piece>;

/// Cut `dir` into pieces, upload the ones not in `known`, and return the
/// file list (not yet written).
pub(crate) async fn upload(store: &Store, dir: &Path, known: &Known, progress: Progress<'_>) -> Result<Stored, WorldError> {
    let cache_path = cache_path(dir);
    let cache = StatCache::load(&cache_path);
    let (tx, mut rx) = mpsc::channel::<(String, Vec<u8>)>(IN_FLIGHT);
    let owned = dir.to_path_buf();
    let known_names: HashSet<String> = known.keys().cloned().collect();
    let walker = tokio::task::spawn_blocking(move || {
        let mut w = Walker::new(&owned, tx, known_names, cache)?;
        w.walk()?;
        w.finish()
    });
    let mut stored: HashMap<String, (u64, Option<String>)> = HashMap::new();
    let mut uploads = FuturesUnordered::new();
    let mut failed: Option<WorldError> = None;
    let mut sent = 0u64;
    let mut open = true;
    while open || !uploads.is_empty() {
        tokio::select! {
            got = rx.recv(), if open && uploads.len() < IN_FLIGHT => match got {
                Some((sha, bytes)) => {
                    sent += bytes.len() as u64;
                    uploads.push(put_piece(store, sha, bytes));
                    if !progress(sent) {
                        failed = Some(WorldError::Cancelled);
                        break;
                    }
                }
                None => open = false,
            },
            Some(done) = uploads.next() => match done {
                Ok((sha, size, etag)) => { stored.insert(sha, (size, etag)); }
                Err(e) => { failed = Some(e); break; }
            },
        }
    }
    drop(rx); // a walker still sending sees a closed channel and stops
    let walked = walker.await.expect("the walker does not panic");
    if let Some(e) = failed {
        return Err(e);
    }
    let (mut list, cache) = walked?;
    let mut added_bytes = 0;
    for p in &mut list.pieces {
        if let Some((size, etag)) = stored.get(&p.sha256) {
            p.stored = *size;
            p.etag = etag.clone();
            added_bytes += size;
        } else if let Some(k) = known.get(&p.sha256) {
            p.stored = k.stored;
            p.etag = k.etag.clone();
        }
    }
    // A cache that cannot be written costs the next backup a read, nothing more.
    if let Err(e) = cache.save(&cache_path) {
        tracing::warn!(path = %cache_path.display(), error = %e, "the stat cache was not written");
    }
    Ok(Stored {
        list,
        added_pieces: stored.len() as u64,
        added_bytes,
    })
}

/// Compress, upload and read back one piece: (its name, stored bytes, ETag read back).
async fn put_piece(store: &Store, sha: String, bytes: Vec<u8>) -> Result<(String, u64, Option<String>), WorldError> {
    let key = piece_key(store, &sha);
    // The MD5 the ETag is compared with is taken on the same blocking
    // thread as the compression, not on the runtime's.
    let (compressed, md5) = tokio::task::spawn_blocking(move || {
        zstd::bulk::compress(&bytes, PIECE_ZSTD_LEVEL).map(|c| {
            let md5 = format!("\"{}\"", hex::encode(md5::Md5::digest(&c)));
            (c, md5)
        })
    })
    .await
    .expect("compression does not panic")
    .map_err(io(Path::new(&key)))?;
    let compressed = Bytes::from(compressed);
    let obj_err = |source: object_store::Error| {
        WorldError::Storage(StorageError::Object {
            key: key.clone(),
            source: source.into(),
        })
    };
    let put = store
        .object_store()
        .put(&Key::from(key.as_str()), PutPayload::from(compressed.clone()))
        .await
        .map_err(|source| WorldError::Upload {
            key: key.clone(),
            source: source.into(),
        })?;
    // Known good by hash: S3 and R2 answer a single-part upload with the
    // MD5 of the bytes they stored as its ETag. Where the ETag is something
    // else (a local directory), read the piece back.
    if put.e_tag.as_deref() == Some(md5.as_str()) {
        return Ok((sha, compressed.len() as u64, put.e_tag));
    }
    let got = store.object_store().get(&Key::from(key.as_str())).await.map_err(obj_err)?;
    let etag = got.meta.e_tag.clone();
    let back = got.bytes().await.map_err(obj_err)?;
    if back != compressed {
        return Err(WorldError::Corrupt {
            key: key.clone(),
            expected: hex::encode(Sha256::digest(&compressed)),
            actual: hex::encode(Sha256::digest(&back)),
        });
    }
    Ok((sha, compressed.len() as u64, etag))
}

/// The blocking side: walks, hashes, packs and hands pieces over.
struct Walker {
    root: PathBuf,
    tx: mpsc::Sender<(String, Vec<u8>)>,
    /// Pieces stored already or handed over by this backup.
    have: HashSet<String>,
    old: StatCache,
    new: StatCache,
    list: FileList,
    index: HashMap<String, u32>,
    /// Small files waiting to be packed: the pack's bytes and (file, offset).
    pack: Vec<u8>,
    pack_files: Vec<usize>,
    members: u64,
    bytes: u64,
    limits: Limits,
}

impl Walker {
    fn new(root: &Path, tx: mpsc::Sender<(String, Vec<u8>)>, have: HashSet<String>, old: StatCache) -> Result<Self, WorldError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        Ok(Walker {
            root: root.to_path_buf(),
            tx,
            have,
            old,
            new: StatCache {
                written_ns: now,
                files: HashMap::new(),
            },
            list: FileList {
                version: LIST_VERSION,
                dirs: vec![],
                files: vec![],
                pieces: vec![],
            },
            index: HashMap::new(),
            pack: Vec::new(),
            pack_files: Vec::new(),
            members: 0,
            bytes: 0,
            limits: Limits::WORLD,
        })
    }

    fn walk(&mut self) -> Result<(), WorldError> {
        let root = self.root.clone();
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            &root,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| io(&root)(e.into()))?;
        self.dir(&File::from(fd), "")
    }

    fn dir(&mut self, dir: &File, rel: &str) -> Result<(), WorldError> {
        let here = self.root.join(rel);
        for name in crate::world::archive::dir_names(dir, &here)? {
            let path = here.join(std::ffi::OsStr::from_bytes(&name));
            let Ok(name) = String::from_utf8(name) else {
                skip(&path, "a name that is not UTF-8");
                continue;
            };
            let rel = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let f: File = match archive::open_nofollow(dir, Path::new(&name)) {
                Ok(fd) => fd.into(),
                Err(e)
                    if e.raw_os_error()
                        .is_some_and(|n| [libc::ELOOP, libc::ENXIO, libc::ENOENT].contains(&n)) =>
                {
                    skip(&path, "a symlink, socket or vanished entry");
                    continue;
                }
                Err(e) => return Err(io(&path)(e)),
            };
            let meta = f.metadata().map_err(io(&path))?;
            if !meta.is_dir() && !meta.is_file() {
                skip(&path, "not a regular file or directory");
                continue;
            }
            if rel.len() > archive::MAX_MEMBER_PATH {
                skip(&path, "a path longer than MAX_MEMBER_PATH");
                continue;
            }
            self.members += 1;
            let size = if meta.is_file() { meta.len() } else { 0 };
            if self.members > self.limits.members || self.bytes + size > self.limits.bytes {
                return Err(WorldError::TooBig {
                    dir: self.root.display().to_string(),
                    members: self.members,
                    bytes: self.bytes + size,
                    max_members: self.limits.members,
                    max_bytes: self.limits.bytes,
                });
            }
            self.bytes += size;
            if meta.is_dir() {
                self.list.dirs.push(rel.clone());
                self.dir(&f, &rel)?;
            } else {
                self.file(f, &meta, rel, &path)?;
            }
        }
        Ok(())
    }

    fn file(&mut self, mut f: File, meta: &std::fs::Metadata, rel: String, path: &Path) -> Result<(), WorldError> {
        let size = meta.len();
        let mode = meta.mode() & 0o777;
        if size < SOLO_BYTES {
            let mut bytes = Vec::with_capacity(size as usize);
            (&mut f).take(size + 1).read_to_end(&mut bytes).map_err(io(path))?;
            if bytes.len() as u64 != size {
                return Err(changed(path));
            }
            if self.pack.len() as u64 + size > PIECE_BYTES {
                self.seal_pack()?;
            }
            let offset = self.pack.len() as u64;
            self.pack.extend_from_slice(&bytes);
            self.list.files.push(FileEntry {
                path: rel,
                size,
                mode,
                sha256: hex::encode(Sha256::digest(&bytes)),
                // Filled when the pack is sealed; the offset waits here.
                parts: if size == 0 {
                    vec![]
                } else {
                    vec![Part {
                        piece: u32::MAX,
                        offset,
                        len: size,
                    }]
                },
            });
            if size > 0 {
                self.pack_files.push(self.list.files.len() - 1);
            }
            return Ok(());
        }
        let stat = (size, mtime_ns(meta), meta.ino());
        if let Some(c) = self.old.files.get(&rel).filter(|c| {
            (c.size, c.mtime_ns, c.ino) == stat
                && stat.1 < self.old.written_ns - RACY.as_nanos() as i128
                && c.pieces.iter().all(|p| self.have.contains(p))
        }) {
            let c = c.clone();
            let mut parts = Vec::new();
            for (i, sha) in c.pieces.iter().enumerate() {
                let len = (size - i as u64 * PIECE_BYTES).min(PIECE_BYTES);
                parts.push(Part {
                    piece: self.piece(sha, len),
                    offset: 0,
                    len,
                });
            }
            self.new.files.insert(rel.clone(), c.clone());
            self.list.files.push(FileEntry {
                path: rel,
                size,
                mode,
                sha256: c.sha256,
                parts,
            });
            return Ok(());
        }
        let mut whole = Sha256::new();
        let mut parts = Vec::new();
        let mut names = Vec::new();
        let mut left = size;
        while left > 0 {
            let len = left.min(PIECE_BYTES);
            let mut buf = vec![0u8; len as usize];
            f.read_exact(&mut buf).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => changed(path),
                _ => io(path)(e),
            })?;
            let sha = hex::encode(Sha256::digest(&buf));
            if size > PIECE_BYTES {
                whole.update(&buf);
            }
            parts.push(Part {
                piece: self.piece(&sha, len),
                offset: 0,
                len,
            });
            self.send(&sha, buf)?;
            names.push(sha);
            left -= len;
        }
        // One piece: the file's hash is the piece's, computed once.
        let sha256 = if size > PIECE_BYTES {
            hex::encode(whole.finalize())
        } else {
            names[0].clone()
        };
        self.new.files.insert(
            rel.clone(),
            Cached {
                size,
                mtime_ns: stat.1,
                ino: stat.2,
                sha256: sha256.clone(),
                pieces: names,
            },
        );
        self.list.files.push(FileEntry {
            path: rel,
            size,
            mode,
            sha256,
            parts,
        });
        Ok(())
    }

    /// The index of piece `sha` in the list, added if new.
    fn piece(&mut self, sha: &str, size: u64) -> u32 {
        if let Some(i) = self.index.get(sha) {
            return *i;
        }
        let i = self.list.pieces.len() as u32;
        self.list.pieces.push(Piece {
            sha256: sha.into(),
            size,
            stored: 0,
            etag: None,
        });
        self.index.insert(sha.into(), i);
        i
    }

    /// Hand a piece to the uploads unless it is stored or on its way.
    fn send(&mut self, sha: &str, bytes: Vec<u8>) -> Result<(), WorldError> {
        if !self.have.insert(sha.to_string()) {
            return Ok(());
        }
        self.tx.blocking_send((sha.to_string(), bytes)).map_err(|_| WorldError::Cancelled)
    }

    fn seal_pack(&mut self) -> Result<(), WorldError> {
        if self.pack.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.pack);
        let sha = hex::encode(Sha256::digest(&bytes));
        let i = self.piece(&sha, bytes.len() as u64);
        for f in std::mem::take(&mut self.pack_files) {
            self.list.files[f].parts[0].piece = i;
        }
        self.send(&sha, bytes)
    }

    fn finish(mut self) -> Result<(FileList, StatCache), WorldError> {
        self.seal_pack()?;
        Ok((self.list, self.new))
    }
}

fn skip(path: &Path, why: &str) {
    tracing::warn!(path = %path.display(), why, "not backed up: {}", archive::ALLOWED);
}

fn changed(path: &Path) -> WorldError {
    io(path)(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the file changed size while it was being backed up",
    ))
}
