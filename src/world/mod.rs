//! World snapshots: the one thing that cannot be recreated.
//!
//! A snapshot (manifest version 2, what every backup writes) is a file list
//! plus content-addressed pieces ([`pieces`]): a backup uploads only the
//! pieces the bucket does not hold yet, a restore fetches them in parallel
//! and skips those already on disk. Its manifest (the list's sha256 and
//! size, file count, when Minecraft saved) is written only after the list
//! and every piece it names were read back or are known good; only then
//! does `worlds/<s>/current.json` move, by a conditional write.
//!
//! Older snapshots (manifest version 1) are the world directory as one
//! tar + zstd archive; they stay readable: restore, verify, seal and prune
//! handle both.
//!
//! Keys: `worlds/<s>/backups/<2026-11-22T19-30-00Z>.files` (the file list;
//! `.tar.zst` for an old archive), `.json` (the manifest), `.pin` (kept by
//! retention whatever its age); `worlds/<s>/pieces/<sha256>`. A name is the
//! second the snapshot was taken; when that name is taken already (a suspend
//! snapshot and the final one in one second), the millisecond and a random
//! tag are added (`2026-11-22T19-30-00-123Z-7f3a`), so every snapshot has
//! its own name while the names people read and type in `restore` stay short.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::SessionId;
use crate::storage::{SnapshotPointer, StorageError, Store};

pub mod archive;
pub mod guard;
pub mod pieces;
pub(crate) mod restore;
pub mod retention;
pub mod snapshot;
pub mod vault;

pub use guard::{MAX_CLOCK_SKEW, Origin, SnapshotKind};
pub use restore::restore;
pub use snapshot::{snapshot, snapshot_as, verify};

/// Parts are this size, all but the last: R2 needs equal parts, 5 MiB at
/// least, and 8 MiB keeps memory low while a 80 GB world still fits the
/// 10,000-part limit.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// A name to the second: the usual one.
const OLD_NAME_FORMAT: &str = "%Y-%m-%dT%H-%M-%SZ";
/// The time part of a name: to the millisecond, `Z` and the tag follow.
const NAME_TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%S-%3f";
/// Hex digits of the random tag.
const TAG_LEN: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("world directory {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{name:?} is not a backup name; names look like 2026-11-22T19-30-00-123Z-7f3a (or 2026-11-22T19-30-00Z for older ones); `mc-gitops world list` shows them"
    )]
    BadName { name: String },
    #[error("no backup named {name} in {store}{}", if .available.is_empty() { "; there are none".to_string() } else { format!("; the newest are: {}", .available.join(", ")) })]
    NoSuchBackup {
        name: String,
        store: String,
        available: Vec<String>,
    },
    #[error("no snapshot in {store} yet (worlds/<server>/current.json is missing)")]
    NoCurrent { store: String },
    #[error("snapshot {key} is corrupt: sha256 {actual} but its manifest says {expected}")]
    Corrupt { key: String, expected: String, actual: String },
    #[error("snapshot {key} is {actual} bytes but its manifest says {expected}")]
    WrongSize { key: String, expected: u64, actual: u64 },
    /// A member of an untrusted archive that a restore refuses.
    #[error("{archive}: member {member} refused: {why}; {}", archive::ALLOWED)]
    Unsafe { archive: String, member: String, why: String },
    #[error("the manifest of backup {name} names the archive {key:?}; a manifest names only its own archive, {expected}")]
    ForeignKey { name: String, key: String, expected: String },
    /// An archive that is not whole tar + zstd.
    #[error("{archive} is not a readable world archive: {why}")]
    Damaged { archive: String, why: String },
    #[error(
        "{dir} has {members} files and directories and {bytes} bytes so far, over what a restore accepts ({max_members} and {max_bytes} bytes: MAX_MEMBERS and MAX_UNPACKED_BYTES in src/world/archive.rs); not backed up, because no restore could unpack it"
    )]
    TooBig {
        dir: String,
        members: u64,
        bytes: u64,
        max_members: u64,
        max_bytes: u64,
    },
    #[error("uploading {key}")]
    Upload {
        key: String,
        #[source]
        source: Box<object_store::Error>,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("{key} is {found}, not as it was verified; the file list {list} names it")]
    MissingPiece { key: String, list: String, found: String },
    #[error(
        "the backup ran {minutes} minutes, longer than MAX_BACKUP ({max} minutes, src/world/pieces/sweep.rs): the pieces it relied on may have been swept meanwhile; take it again"
    )]
    TooSlow { minutes: i64, max: i64 },
    #[error("{key} exists already; a snapshot is never overwritten")]
    Exists { key: String },
    #[error(
        "--taken {taken} is in the future (this machine's clock says {now}; at most {} s ahead is allowed): a future-dated snapshot would claim to be newer than every real one",
        guard::MAX_CLOCK_SKEW.num_seconds()
    )]
    FutureTaken { taken: DateTime<Utc>, now: DateTime<Utc> },
}

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> WorldError + '_ {
    move |source| WorldError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A backup's name: the UTC time it was taken, as it appears in keys, and
/// for a snapshot whose second was taken already, the millisecond and a
/// random tag. Ordered by time, then tag: newest last.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BackupName {
    time: DateTime<Utc>,
    /// `None` for the usual, second-resolution form.
    tag: Option<String>,
}

impl BackupName {
    /// The usual name: `t` to the second, no tag. Two snapshots in one
    /// second would share it; the second one takes [`BackupName::unique`].
    pub fn at(t: DateTime<Utc>) -> Self {
        BackupName {
            time: t.with_nanosecond_zero(),
            tag: None,
        }
    }
    /// A fresh name for a snapshot taken at `t`: `t` to the millisecond and a
    /// random tag.
    pub fn unique(t: DateTime<Utc>) -> Self {
        use rand::Rng;
        let tag: u16 = rand::rng().random();
        BackupName {
            time: t.with_millis_only(),
            tag: Some(format!("{tag:0width$x}", width = TAG_LEN)),
        }
    }
    pub fn parse(s: &str) -> Result<Self, WorldError> {
        let bad = || WorldError::BadName { name: s.into() };
        if let Ok(t) = NaiveDateTime::parse_from_str(s, OLD_NAME_FORMAT) {
            return Ok(BackupName {
                time: t.and_utc(),
                tag: None,
            });
        }
        let (time, tag) = s.split_once("Z-").ok_or_else(bad)?;
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        // Exactly three digits of milliseconds, so a name has one spelling.
        if tag.len() != TAG_LEN || !tag.chars().all(hex) || time.rsplit('-').next().is_none_or(|ms| ms.len() != 3) {
            return Err(bad());
        }
        let time = NaiveDateTime::parse_from_str(time, NAME_TIME_FORMAT).map_err(|_| bad())?;
        Ok(BackupName {
            time: time.and_utc(),
            tag: Some(tag.to_string()),
        })
    }
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }
    pub fn archive_key(&self, store: &Store) -> String {
        format!("{}backups/{self}.tar.zst", store.world_prefix())
    }
    pub fn manifest_key(&self, store: &Store) -> String {
        format!("{}backups/{self}.json", store.world_prefix())
    }
    pub fn pin_key(&self, store: &Store) -> String {
        format!("{}backups/{self}.pin", store.world_prefix())
    }
    /// The name in a backup key (`…/backups/<name>.<ext>`).
    pub fn from_key(key: &str) -> Option<Self> {
        let file = key.rsplit('/').next()?;
        let stem = file.split_once('.')?.0;
        Self::parse(stem).ok()
    }
}

trait NoNanos {
    fn with_nanosecond_zero(self) -> Self;
    fn with_millis_only(self) -> Self;
}

/// `t` to the millisecond, as manifests record it.
pub(crate) fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_millis_only()
}
impl NoNanos for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).expect("0 ns is valid")
    }
    fn with_millis_only(self) -> Self {
        use chrono::Timelike;
        // A leap second's nanoseconds (≥ 1e9) stay ≥ 1e9: still valid.
        let ns = self.nanosecond();
        self.with_nanosecond(ns - ns % 1_000_000).expect("fewer nanoseconds are valid")
    }
}

impl std::fmt::Display for BackupName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.tag {
            None => write!(f, "{}", self.time.format(OLD_NAME_FORMAT)),
            Some(tag) => write!(f, "{}Z-{tag}", self.time.format(NAME_TIME_FORMAT)),
        }
    }
}
impl TryFrom<String> for BackupName {
    type Error = WorldError;
    fn try_from(s: String) -> Result<Self, WorldError> {
        Self::parse(&s)
    }
}
impl From<BackupName> for String {
    fn from(n: BackupName) -> String {
        n.to_string()
    }
}

/// `backups/<name>.json`: what was uploaded, written after the upload was
/// re-read and its hash matched (so its presence means verified).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub name: BackupName,
    pub key: String,
    pub sha256: String,
    pub size: u64,
    pub files: u64,
    /// The world directory's size on disk (its files' bytes, uncompressed);
    /// absent in manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world_bytes: Option<u64>,
    /// When Minecraft stopped or last saved, to the millisecond: what the
    /// termination guard compares.
    pub taken: DateTime<Utc>,
    pub part_size: u64,
    pub uploaded: DateTime<Utc>,
    /// When the upload was read back and hashed equal.
    pub verified: DateTime<Utc>,
    /// The session whose agent took it; absent for `world backup` by hand
    /// and in manifests written before it was recorded. Only a snapshot
    /// naming the session being stopped can satisfy the guard ([`guard`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    /// Why it was taken; absent in manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SnapshotKind>,
    /// Version 2: pieces this backup uploaded (the others were stored
    /// already), and their stored bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_pieces: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_bytes: Option<u64>,
}

/// Manifests naming a file list and pieces; 1 names one tar + zstd archive.
pub const PIECES_VERSION: u32 = 2;

impl Manifest {
    /// Whether it names a file list and pieces (else one archive).
    pub fn is_pieces(&self) -> bool {
        self.version >= PIECES_VERSION
    }

    /// The key its `key` must be: its own archive or file list, never another backup's.
    pub fn own_key(&self, store: &Store) -> String {
        if self.is_pieces() {
            pieces::list_key(store, &self.name)
        } else {
            self.name.archive_key(store)
        }
    }

    pub fn pointer(&self) -> SnapshotPointer {
        SnapshotPointer {
            key: self.key.clone(),
            taken: self.taken,
            sha256: self.sha256.clone(),
            size: self.size,
            verified: true,
            session: self.session.clone(),
            kind: self.kind,
        }
    }

    /// What the guard reads of it.
    pub fn claim(&self) -> guard::Claim<'_> {
        guard::Claim {
            session: self.session.as_ref(),
            kind: self.kind,
            taken: self.taken,
        }
    }
}

pub async fn manifest(store: &Store, name: &BackupName) -> Result<Option<Manifest>, WorldError> {
    Ok(store.get_json(&name.manifest_key(store)).await?)
}

/// The manifest `restore = "<name>"` names, or a clear error listing what exists.
pub async fn resolve(store: &Store, name: &str) -> Result<Manifest, WorldError> {
    let parsed = BackupName::parse(name)?;
    if let Some(m) = manifest(store, &parsed).await? {
        return Ok(m);
    }
    let available: Vec<String> = retention::list(store)
        .await?
        .iter()
        .rev()
        .take(5)
        .map(|b| b.name.to_string())
        .collect();
    Err(WorldError::NoSuchBackup {
        name: name.into(),
        store: store.describe.clone(),
        available,
    })
}

/// The guard's check behind a pointer: its manifest exists and agrees, and
/// the archive is stored at the manifest's size (for a snapshot of pieces:
/// the file list, and every piece as verified, `pieces_stored`).
pub async fn pointer_is_backed(store: &Store, p: &SnapshotPointer) -> Result<bool, StorageError> {
    Ok(backing(store, p).await?.is_some())
}

/// A verified snapshot behind a pointer: its manifest (which must agree
/// with the pointer) and when storage says the archive was uploaded
/// (`LastModified`, the server's clock). `None` when the pointer names no
/// backup, the manifest is missing, unreadable or disagrees, or the archive
/// is not stored at the manifest's size.
pub async fn backing(store: &Store, p: &SnapshotPointer) -> Result<Option<(Manifest, DateTime<Utc>)>, StorageError> {
    let Some(name) = BackupName::from_key(&p.key) else {
        return Ok(None);
    };
    let m: Option<Manifest> = store.get_json(&name.manifest_key(store)).await.or_else(|e| match e {
        // A manifest that does not parse verifies nothing.
        StorageError::Decode { .. } | StorageError::TooLarge { .. } => Ok(None),
        e => Err(e),
    })?;
    let Some(m) = m else { return Ok(None) };
    if m.sha256 != p.sha256 || m.size != p.size || m.key != p.key || m.taken != p.taken {
        return Ok(None);
    }
    let Some(h) = store.head(&m.key).await?.filter(|h| h.size == m.size) else {
        return Ok(None);
    };
    if m.is_pieces() && !pieces_stored(store, &m).await? {
        return Ok(None);
    }
    Ok(Some((m, h.last_modified)))
}

/// A snapshot of pieces is backed when its file list is its own, reads
/// back at the manifest's sha256, and every piece it names is listed at
/// the size and ETag it had when it was verified: a piece deleted or
/// rewritten since (by the VPS, a mod) makes it unverified.
async fn pieces_stored(store: &Store, m: &Manifest) -> Result<bool, StorageError> {
    if m.key != m.own_key(store) {
        return Ok(false);
    }
    let list = match pieces::read_list(store, &m.key, &m.sha256, m.size).await {
        Ok(l) => l,
        Err(WorldError::Storage(e)) => return Err(e),
        Err(_) => return Ok(false),
    };
    let prefix = pieces::prefix(store);
    let listed = match pieces::listing(store, &prefix).await {
        Ok(l) => l,
        Err(WorldError::Storage(e)) => return Err(e),
        Err(_) => return Ok(false),
    };
    Ok(list.pieces.iter().all(|p| pieces::stored_as_listed(&listed, &prefix, p)))
}

#[cfg(test)]
pub(crate) mod tests;
