//! Incremental, content-addressed snapshots: a snapshot is a file list
//! (every file's path, size, mode and sha256, and which pieces hold its
//! bytes) plus pieces, each stored once under the sha256 of its bytes.
//!
//! - A file of [`SOLO_BYTES`] or more (region `.mca`, large `.dat`) is cut
//!   into pieces of at most [`PIECE_BYTES`]; an unchanged file's pieces are
//!   the ones already stored, so a backup after a session uploads only the
//!   region files the players were in. Cutting at a fixed size bounds
//!   memory (a piece is read, compressed and uploaded whole) and lets a
//!   region file that changed in one place share its other pieces.
//! - Smaller files are packed together, in path order, into pieces of at
//!   most [`PIECE_BYTES`] (a world has thousands of them: stats,
//!   advancements, player data).
//!
//! Keys, under `worlds/<s>/` (the only prefix the VPS's minted credentials
//! can write): `pieces/<sha256>` (zstd of the piece's bytes; the name is the
//! hash of the bytes *before* compression, so a reader trusts a piece only
//! once its decompressed bytes hash to its name) and
//! `backups/<name>.files` (the [`FileList`], JSON), beside the
//! `backups/<name>.json` manifest that names the list by sha256 and size,
//! written last, after every piece was read back or known good.
//!
//! The file list is as untrusted as the pieces (anything on the VPS can
//! write `worlds/<s>/`): [`FileList::check`] applies the archive's rules to
//! it (relative paths without `..`, [`archive::MAX_MEMBER_PATH`],
//! [`archive::MAX_MEMBERS`], [`archive::MAX_UNPACKED_BYTES`], files and
//! directories only, each once) and checks every reference before a
//! restore writes a byte.

use serde::{Deserialize, Serialize};

use super::archive::{self, Limits};
use super::{BackupName, WorldError};
use crate::storage::Store;

pub(crate) mod get;
pub(crate) mod put;
pub(crate) mod sweep;
#[cfg(test)]
mod tests;

/// Files this size or larger are stored as their own pieces; smaller ones
/// are packed. 64 KiB: every region file with a chunk in it (8 KiB of
/// tables, then 4 KiB sectors) is well over it, and the files under it
/// (stats, advancements, small `.dat`) are many and change together.
pub const SOLO_BYTES: u64 = 64 * 1024;

/// The largest piece, before compression: 2 MiB. Small enough that the
/// pieces in flight at once (`put::IN_FLIGHT`, `get::IN_FLIGHT`) stay
/// within a few tens of MiB, large enough that a 1 GiB world is ~500
/// requests.
pub const PIECE_BYTES: u64 = 2 * 1024 * 1024;

/// The largest file list read: a world at [`archive::MAX_MEMBERS`] would
/// need more, but one of 100,000 files (~20 MiB of list) fits.
pub const MAX_LIST_BYTES: u64 = 64 << 20;

/// Version of the file list format.
pub const LIST_VERSION: u32 = 1;

/// `backups/<name>.files`: every directory and file of one snapshot, and
/// the pieces that hold the files' bytes. Written once by a backup, read
/// by restore, verify, the vault and retention's sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileList {
    pub version: u32,
    /// Directories, relative, parents before children.
    pub dirs: Vec<String>,
    pub files: Vec<FileEntry>,
    /// Every piece a file names, once each.
    pub pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    /// Permission bits (at most 0o777).
    pub mode: u32,
    pub sha256: String,
    /// The file's bytes, in order: ranges of pieces.
    pub parts: Vec<Part>,
}

/// `len` bytes of piece number `piece` (an index into [`FileList::pieces`])
/// from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub piece: u32,
    pub offset: u64,
    pub len: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Piece {
    /// sha256 of the piece's bytes (before compression): its key.
    pub sha256: String,
    /// Its bytes before compression, at most [`PIECE_BYTES`].
    pub size: u64,
    /// The stored object's size (compressed).
    pub stored: u64,
    /// The stored object's ETag when the backup that uploaded it read it
    /// back: storage's own fingerprint of the object (on S3 and R2 the MD5
    /// of a single-part upload; on a local directory, inode, size and
    /// mtime). A piece listed later with the same size and ETag is the
    /// piece that was verified; a rewritten one is not ([`stored_as_listed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// One listing of a pieces prefix: key → (size, ETag).
pub type Listing = std::collections::HashMap<String, (u64, Option<String>)>;

/// List `prefix` once.
pub async fn listing(store: &Store, prefix: &str) -> Result<Listing, WorldError> {
    Ok(store
        .list(prefix)
        .await?
        .into_iter()
        .map(|o| (o.location.to_string(), (o.size, o.e_tag)))
        .collect())
}

/// Whether `listed` shows `p` under `prefix` as it was verified: its
/// stored size, and its ETag when both the list and the listing carry one
/// (R2, S3 and a local directory do; the in-process S3 of the tests,
/// s3s-fs, lists none, and there the size alone is compared).
pub fn stored_as_listed(listed: &Listing, prefix: &str, p: &Piece) -> bool {
    listed.get(&format!("{prefix}{}", p.sha256)).is_some_and(|(size, etag)| {
        let (listed, verified) = (etag.as_deref().map(bare), p.etag.as_deref().map(bare));
        *size == p.stored && (verified.is_none() || listed.is_none_or(str::is_empty) || listed == verified)
    })
}

/// An ETag without its quotes (S3 quotes it; rclone's listing does not).
fn bare(etag: &str) -> &str {
    etag.trim_matches('"')
}

/// `worlds/<s>/pieces/`.
pub fn prefix(store: &Store) -> String {
    format!("{}pieces/", store.world_prefix())
}

/// `worlds/<s>/pieces/<sha256>`.
pub fn piece_key(store: &Store, sha256: &str) -> String {
    format!("{}{sha256}", prefix(store))
}

/// `worlds/<s>/backups/<name>.files`.
pub fn list_key(store: &Store, name: &BackupName) -> String {
    format!("{}backups/{name}.files", store.world_prefix())
}

/// The most a piece's stored (compressed) form may be: zstd's bound for
/// [`PIECE_BYTES`] of input, so a reader caps what it downloads.
pub fn max_stored() -> u64 {
    zstd::zstd_safe::compress_bound(PIECE_BYTES as usize) as u64
}

/// Whether `s` is a sha256 as keys spell it: 64 lowercase hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl FileList {
    /// The JSON stored at [`list_key`].
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a file list always serialises")
    }

    /// Parse and [`check`](Self::check) a stored list; `key` names it in errors.
    pub fn parse(key: &str, bytes: &[u8], limits: Limits) -> Result<FileList, WorldError> {
        let list: FileList = serde_json::from_slice(bytes).map_err(|e| WorldError::Damaged {
            archive: key.into(),
            why: format!("not a file list: {e}"),
        })?;
        list.check(key, limits)?;
        Ok(list)
    }

    /// The archive's rules, applied to an untrusted list: every path
    /// relative without `..` (and at most [`archive::MAX_MEMBER_PATH`]),
    /// each once, members and bytes within `limits`, modes permission bits
    /// only, every part inside a listed piece and every file's parts adding
    /// up to its size, pieces named by a sha256 and no larger than
    /// [`PIECE_BYTES`].
    pub fn check(&self, key: &str, limits: Limits) -> Result<(), WorldError> {
        let refuse = |member: &str, why: String| WorldError::Unsafe {
            archive: key.into(),
            member: archive::shown(member.as_bytes()),
            why,
        };
        if self.version != LIST_VERSION {
            return Err(WorldError::Damaged {
                archive: key.into(),
                why: format!("file list version {}, this program reads {LIST_VERSION}", self.version),
            });
        }
        let members = (self.dirs.len() + self.files.len()) as u64;
        if members > limits.members {
            return Err(refuse(
                "",
                format!("the list has {members} members, over MAX_MEMBERS ({})", limits.members),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut total = 0u64;
        for d in &self.dirs {
            let rel = archive::relative(d.as_bytes()).map_err(|why| refuse(d, why))?;
            if rel.as_os_str().is_empty() {
                return Err(refuse(d, "a directory without a name".into()));
            }
            if !seen.insert(rel) {
                return Err(refuse(d, "it appears more than once".into()));
            }
        }
        let mut hashes = std::collections::HashSet::new();
        for p in &self.pieces {
            if !is_sha256(&p.sha256) {
                return Err(refuse(&p.sha256, "a piece not named by a sha256".into()));
            }
            if p.size > PIECE_BYTES || p.stored > max_stored() {
                return Err(refuse(
                    &p.sha256,
                    format!(
                        "a piece of {} bytes ({} stored), over PIECE_BYTES ({PIECE_BYTES})",
                        p.size, p.stored
                    ),
                ));
            }
            if !hashes.insert(&p.sha256) {
                return Err(refuse(&p.sha256, "a piece listed more than once".into()));
            }
        }
        for f in &self.files {
            let rel = archive::relative(f.path.as_bytes()).map_err(|why| refuse(&f.path, why))?;
            if rel.as_os_str().is_empty() {
                return Err(refuse(&f.path, "a file without a name".into()));
            }
            if !seen.insert(rel) {
                return Err(refuse(&f.path, "it appears more than once".into()));
            }
            if f.mode > 0o777 {
                return Err(refuse(&f.path, format!("mode {:o}: only permission bits are kept", f.mode)));
            }
            if !is_sha256(&f.sha256) {
                return Err(refuse(&f.path, "its sha256 is not 64 hex digits".into()));
            }
            total = total.saturating_add(f.size);
            if total > limits.bytes {
                return Err(refuse(
                    &f.path,
                    format!(
                        "it declares {} bytes, which takes the snapshot to {total} bytes, over MAX_UNPACKED_BYTES ({} bytes)",
                        f.size, limits.bytes
                    ),
                ));
            }
            let mut sum = 0u64;
            for part in &f.parts {
                let piece = self.pieces.get(part.piece as usize).ok_or_else(|| {
                    refuse(
                        &f.path,
                        format!("it names piece {}, the list has {}", part.piece, self.pieces.len()),
                    )
                })?;
                if part.offset.checked_add(part.len).is_none_or(|end| end > piece.size) || part.len == 0 {
                    return Err(refuse(
                        &f.path,
                        format!(
                            "it names bytes {}+{} of piece {}, which holds {}",
                            part.offset, part.len, piece.sha256, piece.size
                        ),
                    ));
                }
                sum = sum.saturating_add(part.len);
            }
            if sum != f.size {
                return Err(refuse(&f.path, format!("its parts hold {sum} bytes, its size is {}", f.size)));
            }
        }
        Ok(())
    }

    /// The bytes of all files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Read a file list: at most [`MAX_LIST_BYTES`], its sha256 and size the
/// manifest's (so a list swapped under a verified manifest is refused),
/// then [`FileList::check`]ed.
pub async fn read_list(store: &Store, key: &str, sha256: &str, size: u64) -> Result<FileList, WorldError> {
    Ok(read_list_bytes(store, key, sha256, size).await?.0)
}

/// [`read_list`], with the bytes read (to copy them unchanged).
pub async fn read_list_bytes(store: &Store, key: &str, sha256: &str, size: u64) -> Result<(FileList, Vec<u8>), WorldError> {
    use sha2::{Digest, Sha256};
    let bytes = get_capped(store, key, MAX_LIST_BYTES.min(size)).await?;
    if bytes.len() as u64 != size {
        return Err(WorldError::WrongSize {
            key: key.into(),
            expected: size,
            actual: bytes.len() as u64,
        });
    }
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != sha256 {
        return Err(WorldError::Corrupt {
            key: key.into(),
            expected: sha256.into(),
            actual,
        });
    }
    let list = FileList::parse(key, &bytes, Limits::WORLD)?;
    Ok((list, bytes))
}

/// An object's bytes, refused once more than `cap` arrive (checked on the
/// declared size first, then on what streams in).
pub async fn get_capped(store: &Store, key: &str, cap: u64) -> Result<Vec<u8>, WorldError> {
    use futures::StreamExt;
    use object_store::path::Path as Key;
    let obj_err = |source: object_store::Error| {
        WorldError::Storage(crate::storage::StorageError::Object {
            key: key.into(),
            source: source.into(),
        })
    };
    let got = store.object_store().get(&Key::from(key)).await.map_err(obj_err)?;
    let too_big = |actual: u64| WorldError::WrongSize {
        key: key.into(),
        expected: cap,
        actual,
    };
    if got.meta.size > cap {
        return Err(too_big(got.meta.size));
    }
    let mut out = Vec::with_capacity(got.meta.size as usize);
    let mut stream = got.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(obj_err)?;
        if (out.len() + chunk.len()) as u64 > cap {
            return Err(too_big((out.len() + chunk.len()) as u64));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A piece's stored bytes decompressed, refused unless they are at most
/// `size` bytes and hash to `sha256` (the piece's name): the only way a
/// piece is trusted.
pub fn unpack_piece(key: &str, stored: &[u8], sha256: &str, size: u64) -> Result<Vec<u8>, WorldError> {
    let out = decompress(key, stored, size)?;
    check_hash(key, &out, sha256)?;
    Ok(out)
}

/// Decompress a stored piece that should hold `size` bytes: a longer or
/// shorter one is refused (one byte over is all that is ever read).
pub fn decompress(key: &str, stored: &[u8], size: u64) -> Result<Vec<u8>, WorldError> {
    use std::io::Read;
    let damaged = |why: String| WorldError::Damaged { archive: key.into(), why };
    let mut dec = zstd::Decoder::with_buffer(stored).map_err(|e| damaged(format!("zstd: {e}")))?;
    dec.window_log_max(archive::MAX_WINDOW_LOG)
        .map_err(|e| damaged(format!("zstd: {e}")))?;
    let mut out = Vec::with_capacity(size as usize);
    dec.take(size + 1)
        .read_to_end(&mut out)
        .map_err(|e| damaged(format!("zstd: {e}")))?;
    if out.len() as u64 != size {
        return Err(WorldError::WrongSize {
            key: key.into(),
            expected: size,
            actual: out.len() as u64,
        });
    }
    Ok(out)
}

/// `bytes` hash to `sha256`, or [`WorldError::Corrupt`] naming `key`.
pub fn check_hash(key: &str, bytes: &[u8], sha256: &str) -> Result<(), WorldError> {
    use sha2::{Digest, Sha256};
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != sha256 {
        return Err(WorldError::Corrupt {
            key: key.into(),
            expected: sha256.into(),
            actual,
        });
    }
    Ok(())
}

/// Download every piece `list` names from `prefix` (`worlds/<s>/pieces/`
/// or the vault's), decompress it and check it against its name,
/// `get::IN_FLIGHT` at a time.
pub async fn verify_pieces(
    store: &Store,
    prefix: &str,
    list: &FileList,
    progress: super::snapshot::Progress<'_>,
) -> Result<(), WorldError> {
    use futures::StreamExt;
    let mut checks = futures::stream::iter(list.pieces.iter().cloned())
        .map(|p| async move {
            let key = format!("{prefix}{}", p.sha256);
            let stored = get_capped(store, &key, max_stored()).await?;
            tokio::task::spawn_blocking(move || unpack_piece(&key, &stored, &p.sha256, p.size).map(|b| b.len() as u64))
                .await
                .expect("checking does not panic")
        })
        .buffer_unordered(get::IN_FLIGHT);
    let mut done = 0u64;
    while let Some(r) = checks.next().await {
        done += r?;
        if !progress(done) {
            return Err(WorldError::Cancelled);
        }
    }
    Ok(())
}
