//! Where the world, the server's files and the control channel live: one
//! object store, reached through `object_store` so the same code runs against
//! Cloudflare R2 (S3) in production and a local directory on a machine with
//! no credentials or in tests.
//!
//! Keys, per server (`<s>` is `name` from server.toml):
//! - `control/<s>/desired.json` — written by the reconciler only ([`ControlDoc`])
//! - `control/<s>/status.json` — written by the agent only ([`AgentStatusDoc`])
//! - `control/<s>/credentials/<session>.json` — renewed agent credentials,
//!   written by the reconciler only, deleted when the session closes
//!   ([`credentials::CredentialsDoc`])
//! - `control/<s>/nudge.json` — how the agent nudges the reconciler, written
//!   by the reconciler only ([`nudge::NudgeDoc`])
//! - `control/<s>/requests/<id>.json` — an admin's request to the agent,
//!   written by `mc-gitops console` with a conditional create; and
//!   `<id>.result.json`, the agent's answer, also never overwritten
//!   ([`requests::RequestDoc`], [`requests::ResultDoc`])
//! - `assets/<s>/sha256-<hex>` — rendered files, content-addressed, so an
//!   unchanged file is uploaded again only when its stored copy is gone or
//!   altered (the VPS can write here: [`crate::observe::assets`])
//! - `worlds/<s>/current.json` — the latest verified snapshot ([`SnapshotPointer`])
//!
//! - `worlds/<s>/backups/<UTC time>.tar.zst` + `.json` — snapshots and their
//!   manifests (`world`, above)
//!
//! Each document has one writer, so plain overwrites are safe for the control
//! documents; the world pointer uses a conditional write ([`cas`]), because
//! the agent and an admin's `world backup` may both move it; requests and
//! their results are created once and never rewritten ([`requests`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use object_store::path::Path as Key;
use object_store::{ObjectStore, PutPayload};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::ids::{PlayerName, ServerName, SessionId};
use crate::lifecycle::Phase;

pub mod cas;
pub mod credentials;
pub mod nudge;
pub mod r2;
pub mod requests;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage object {key}")]
    Object {
        key: String,
        #[source]
        source: Box<object_store::Error>,
    },
    #[error("storage object {key} is not valid JSON of the expected shape")]
    Decode {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    /// A conditional write lost: someone else wrote the object since it was read.
    #[error("storage object {key} was changed by another writer since it was read")]
    Conflict { key: String },
    /// A document larger than [`MAX_DOCUMENT_BYTES`]: refused before its
    /// body is read, since anything on the VPS can write one.
    #[error("storage object {key} is {size} bytes; a document is at most {limit} bytes (MAX_DOCUMENT_BYTES)")]
    TooLarge { key: String, size: u64, limit: u64 },
    #[error("R2 storage is misconfigured: {0}")]
    Config(String),
    #[error("cannot open local storage at {path}")]
    Local {
        path: String,
        #[source]
        source: Box<object_store::Error>,
    },
}

/// One line of `ops.json` as the control channel carries it: the same type
/// the plan renders ([`crate::assets::OpEntry`]), so nothing converts between them.
pub use crate::assets::OpEntry as ControlOp;

/// One file the server should have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRef {
    /// `sha256:<hex>` for stored files, `sha512:<hex>` for jars fetched from their URL
    /// (`server.jar` and the mods, as mods.lock pins them).
    pub hash: String,
    /// Where the VPS downloads it from when it is not in storage (the jars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// A cached file (mods.lock `[[cache]]`): the server downloads it itself
    /// when it is missing, so a stored copy the agent refuses is skipped (and
    /// logged) rather than holding the start back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cache: bool,
}

/// `control/<s>/desired.json`: what the reconciler wants the agent to do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlDoc {
    pub version: u32,
    pub session: Option<SessionId>,
    /// Set when the reconciler asks the agent to stop Minecraft and sync the world.
    pub stop_requested: Option<DateTime<Utc>>,
    /// Why the stop was asked (`null` in documents written before reasons
    /// were kept). A value this version does not know fails the decode, with
    /// the key named: the reconciler then writes the document anew.
    pub stop_reason: Option<crate::lifecycle::EndReason>,
    /// Said in game before the stop, when players are online: how long
    /// before it each warning comes, counted from `stop_requested`
    /// ([`crate::countdown`]). Absent (an older reconciler) or `[]`: the
    /// agent stops at once, as before countdowns existed.
    #[serde(default, skip_serializing_if = "crate::countdown::StopWarnings::is_empty")]
    pub stop_warnings: crate::countdown::StopWarnings,
    pub whitelist: Vec<PlayerName>,
    pub ops: Vec<ControlOp>,
    pub assets: BTreeMap<String, AssetRef>,
    pub written: Option<DateTime<Utc>>,
    /// A backup to restore at this session's start (`restore` in server.toml),
    /// checked to exist before the server was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<String>,
    /// The shutdown policy learned from the ledger ([`crate::shutdown`]).
    /// Absent (an older reconciler, or no history yet): the agent's timers,
    /// the seed's rule. An older agent ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<crate::shutdown::ShutdownPolicy>,
}

/// `control/<s>/status.json`: what the agent reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentStatusDoc {
    pub phase: Phase,
    #[serde(default)]
    pub players_online: Vec<PlayerName>,
    #[serde(default)]
    pub players_seen: Vec<PlayerName>,
    pub heartbeat: DateTime<Utc>,
    #[serde(default)]
    pub stopped_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub minecraft_version: Option<String>,
    #[serde(default)]
    pub protocol: Option<i32>,
    /// The session the agent serves (its agent.toml's, or else
    /// `desired.json`'s), so a report from an earlier session is recognised
    /// as such.
    #[serde(default)]
    pub session: Option<SessionId>,
    /// What provisioning waits for: a `desired.json` naming the agent's
    /// session (the reconciler's next run writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// The newest snapshot the agent took and verified.
    #[serde(default)]
    pub last_backup: Option<BackupRef>,
    #[serde(default)]
    pub boot: Option<BootReport>,
    /// JVM crashes in a row (reset when it loads again).
    #[serde(default)]
    pub crashes: u32,
    /// The agent gave up restarting Minecraft after too many crashes in a row.
    #[serde(default)]
    pub crashed: bool,
    /// When a crashed JVM is restarted next.
    #[serde(default)]
    pub restart_at: Option<DateTime<Utc>>,
    /// While the agent warns the players online of a stop (`say`
    /// countdown): when it stops Minecraft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping_at: Option<DateTime<Utc>>,
    /// While suspended: when the agent will ask for termination.
    #[serde(default)]
    pub terminate_at: Option<DateTime<Utc>>,
    /// The final snapshot is verified: the reconciler may delete the VPS.
    #[serde(default)]
    pub ready_to_terminate: bool,
    /// The newest problem the agent could not fix by itself.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Its storage credentials, when they expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<CredentialsStatus>,
    /// The most players online at once this session (the session file's `peak_players`).
    #[serde(default)]
    pub peak_players: u32,
    /// Verified snapshots the agent took this session (the session file's `backups`).
    #[serde(default)]
    pub backups: u32,
    /// The world's size on disk at the newest verified snapshot, in bytes
    /// (the session file's `world_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world_bytes: Option<u64>,
    /// Who was online when, this session (the newest [`MAX_PRESENCE`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub presence: Vec<Presence>,
}

pub use crate::repo::ledger::{MAX_PRESENCE, Presence, merge_presence};

/// The agent's storage credentials, as its status reports them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsStatus {
    pub expires: DateTime<Utc>,
    /// The last renewal problem, until a renewal succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A snapshot as the status reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRef {
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub taken: DateTime<Utc>,
}

/// How the last boot went: a missed deadline is reported, never a silent kill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootReport {
    pub started: DateTime<Utc>,
    #[serde(default)]
    pub ready: Option<DateTime<Utc>>,
    pub deadline: DateTime<Utc>,
    #[serde(default)]
    pub deadline_missed: bool,
}

/// Why a snapshot was taken; written by the agent (and `manual` by
/// `world backup`) into the manifest and the pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    /// Every `backup_every` while Minecraft runs.
    Backup,
    /// Before Minecraft is stopped for suspension.
    Suspend,
    /// After Minecraft stopped, before the VPS is deleted: the guard's kind.
    Final,
    /// `mc-gitops world backup` by hand.
    Manual,
}

/// `worlds/<s>/current.json`: the newest snapshot that was uploaded in full
/// and verified.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotPointer {
    pub key: String,
    pub taken: DateTime<Utc>,
    pub sha256: String,
    pub size: u64,
    pub verified: bool,
    /// A copy of the manifest's `session` and `kind`, so the plan sees
    /// without another read whether the current snapshot is a stop's final
    /// one; apply decides on the manifest itself (`world::guard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SnapshotKind>,
}

/// The largest JSON document read from storage (desired.json, status.json,
/// current.json, a manifest, a renewal or nudge document). The largest one
/// written by this program is desired.json with 1,000 players, ops and mods
/// (a few hundred KiB); a bigger one was written by someone else and is
/// refused before its body is read.
pub const MAX_DOCUMENT_BYTES: u64 = 4 << 20;

/// How every document read from storage is decoded (desired.json,
/// status.json, current.json, manifests): the one parser, public so the
/// fuzz target (tests/fuzz_control.rs) feeds it what a hostile writer could.
pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|source| StorageError::Decode { key: key.into(), source })
}

fn check_document_size(key: &str, size: u64) -> Result<(), StorageError> {
    if size > MAX_DOCUMENT_BYTES {
        return Err(StorageError::TooLarge {
            key: key.into(),
            size,
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    server: ServerName,
    /// Set for the local file system, which has no conditional update:
    /// [`cas`] serialises writers with a file lock under this root instead.
    local_root: Option<PathBuf>,
    /// Set for S3/R2: presigned URLs.
    signer: Option<Arc<dyn object_store::signer::Signer>>,
    /// For messages: `local directory …` or `R2 bucket …`.
    pub describe: String,
}

impl Store {
    /// A store in a local directory (created if missing).
    pub fn local(dir: &Path, server: &ServerName) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Local {
            path: dir.display().to_string(),
            source: Box::new(object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            }),
        })?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(|source| StorageError::Local {
            path: dir.display().to_string(),
            source: source.into(),
        })?;
        Ok(Store {
            inner: Arc::new(fs),
            server: server.clone(),
            local_root: Some(dir.to_path_buf()),
            signer: None,
            describe: format!("local directory {}", dir.display()),
        })
    }

    pub fn from_object_store(inner: Arc<dyn ObjectStore>, server: &ServerName, describe: String) -> Self {
        Store {
            inner,
            server: server.clone(),
            local_root: None,
            signer: None,
            describe,
        }
    }

    /// A local directory: no R2, so no agent credentials to mint or renew.
    pub fn is_local(&self) -> bool {
        self.local_root.is_some()
    }

    /// `control/<s>/credentials/<session>.json`: renewed agent credentials.
    pub fn credentials_key(&self, session: &SessionId) -> String {
        credentials::credentials_key(&self.server, session)
    }

    pub fn server(&self) -> &ServerName {
        &self.server
    }

    /// The object store itself, for streaming reads and multipart uploads.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    /// `worlds/<s>/`: snapshots, their manifests and the pointer.
    pub fn world_prefix(&self) -> String {
        format!("worlds/{}/", self.server)
    }

    pub fn control_key(&self) -> String {
        format!("control/{}/desired.json", self.server)
    }
    pub fn status_key(&self) -> String {
        format!("control/{}/status.json", self.server)
    }
    /// `control/<s>/nudge.json` ([`nudge::NudgeDoc`]).
    pub fn nudge_key(&self) -> String {
        format!("control/{}/nudge.json", self.server)
    }
    pub fn current_key(&self) -> String {
        format!("worlds/{}/current.json", self.server)
    }
    /// `sha256:<hex>` → `assets/<s>/sha256-<hex>`.
    pub fn asset_key(&self, hash: &str) -> String {
        format!("assets/{}/{}", self.server, hash.replace(':', "-"))
    }

    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        match self.inner.get(&Key::from(key)).await {
            Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())).map_err(|source| StorageError::Object {
                key: key.into(),
                source: source.into(),
            }),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(StorageError::Object {
                key: key.into(),
                source: source.into(),
            }),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.inner.head(&Key::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(StorageError::Object {
                key: key.into(),
                source: source.into(),
            }),
        }
    }

    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.inner
            .put(&Key::from(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|source| StorageError::Object {
                key: key.into(),
                source: source.into(),
            })
    }

    /// A document's bytes, refused with [`StorageError::TooLarge`] when the
    /// object is over [`MAX_DOCUMENT_BYTES`] (checked on the object's size
    /// before the body is read, and again on what arrived).
    pub async fn get_document(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let got = match self.inner.get(&Key::from(key)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => {
                return Err(StorageError::Object {
                    key: key.into(),
                    source: source.into(),
                });
            }
        };
        check_document_size(key, got.meta.size)?;
        let bytes = got.bytes().await.map_err(|source| StorageError::Object {
            key: key.into(),
            source: source.into(),
        })?;
        check_document_size(key, bytes.len() as u64)?;
        Ok(Some(bytes.to_vec()))
    }

    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError> {
        match self.get_document(key).await? {
            None => Ok(None),
            Some(b) => decode(key, &b).map(Some),
        }
    }

    pub async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StorageError> {
        let mut bytes = serde_json::to_vec_pretty(value).expect("control documents always serialise");
        bytes.push(b'\n');
        self.put_bytes(key, bytes).await
    }

    pub async fn control(&self) -> Result<Option<ControlDoc>, StorageError> {
        self.get_json(&self.control_key()).await
    }
    pub async fn status(&self) -> Result<Option<AgentStatusDoc>, StorageError> {
        self.get_json(&self.status_key()).await
    }
    pub async fn nudge(&self) -> Result<Option<nudge::NudgeDoc>, StorageError> {
        self.get_json(&self.nudge_key()).await
    }
    /// `current.json`; one that does not parse or is over the document
    /// limit names nothing (anything on the VPS can write it: it must not
    /// make every later run fail). [`Store::current_snapshot_strict`] is the
    /// read that reports it, for the plan's warning.
    pub async fn current_snapshot(&self) -> Result<Option<SnapshotPointer>, StorageError> {
        match self.current_snapshot_strict().await {
            Err(e @ (StorageError::Decode { .. } | StorageError::TooLarge { .. })) => {
                tracing::warn!(error = %crate::error::render_error(&e), "current.json is read as absent");
                Ok(None)
            }
            other => other,
        }
    }

    /// `current.json`, failing on a document that does not parse.
    pub async fn current_snapshot_strict(&self) -> Result<Option<SnapshotPointer>, StorageError> {
        self.get_json(&self.current_key()).await
    }

    /// Upload a file unless its key already holds exactly these bytes.
    /// Returns whether bytes were sent. The stored object is not trusted
    /// (the VPS can write `assets/<s>/`): one of another size is replaced
    /// unread, one of this size is read and compared.
    pub async fn put_asset(&self, hash: &str, bytes: Vec<u8>) -> Result<bool, StorageError> {
        let key = self.asset_key(hash);
        let err = |source: object_store::Error| StorageError::Object {
            key: key.clone(),
            source: source.into(),
        };
        match self.inner.get(&Key::from(key.as_str())).await {
            Ok(got) if got.meta.size == bytes.len() as u64 => {
                if got.bytes().await.map_err(err)? == bytes {
                    return Ok(false);
                }
            }
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(err(e)),
        }
        self.put_bytes(&key, bytes).await?;
        Ok(true)
    }

    /// Bytes stored under this server's prefixes (worlds, assets, control):
    /// what R2 bills for, summed from the listing's object sizes.
    pub async fn stored_bytes(&self) -> Result<u64, StorageError> {
        use futures::TryStreamExt;
        let mut total = 0u64;
        for top in ["worlds", "assets", "control"] {
            let prefix = Key::from(format!("{top}/{}", self.server));
            let metas: Vec<_> = self
                .inner
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(|source| StorageError::Object {
                    key: prefix.to_string(),
                    source: source.into(),
                })?;
            total += metas.iter().map(|m| m.size).sum::<u64>();
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests_desired;

#[cfg(test)]
mod tests_status;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn assets_are_uploaded_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        assert!(s.put_asset("sha256:ab", b"x".to_vec()).await.unwrap());
        assert!(!s.put_asset("sha256:ab", b"x".to_vec()).await.unwrap());
        // A stored copy the VPS changed is replaced, whatever its size.
        for tampered in [b"y".as_slice(), b"longer"] {
            std::fs::write(dir.path().join("assets/grove/sha256-ab"), tampered).unwrap();
            assert!(s.put_asset("sha256:ab", b"x".to_vec()).await.unwrap());
            assert_eq!(std::fs::read(dir.path().join("assets/grove/sha256-ab")).unwrap(), b"x");
        }
        std::fs::remove_file(dir.path().join("assets/grove/sha256-ab")).unwrap();
        assert!(s.put_asset("sha256:ab", b"x".to_vec()).await.unwrap());
        assert!(dir.path().join("assets/grove/sha256-ab").is_file());
        s.put_bytes("worlds/grove/backups/a.tar.zst", vec![0; 1000]).await.unwrap();
        s.put_bytes("worlds/other/backups/a.tar.zst", vec![0; 7]).await.unwrap();
        assert_eq!(s.stored_bytes().await.unwrap(), 1001, "this server's objects only");
    }

    // Regression (issue 12, resource bounds): a document of any size was read
    // whole into memory; anything on the VPS can write status.json.
    #[tokio::test]
    async fn a_document_over_the_limit_is_refused_naming_key_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        let mut big = b"{\"version\":1,\"pad\":\"".to_vec();
        big.resize(MAX_DOCUMENT_BYTES as usize + 1 - 2, b'x');
        big.extend_from_slice(b"\"}");
        s.put_bytes(&s.status_key(), big).await.unwrap();
        let e = s.status().await.unwrap_err().to_string();
        assert!(e.contains("control/grove/status.json") && e.contains("MAX_DOCUMENT_BYTES"), "{e}");
        let e = s.get_json_versioned::<serde_json::Value>(&s.status_key()).await.unwrap_err();
        assert!(matches!(e, StorageError::TooLarge { .. }), "{e}");
        // Exactly at the limit is still read (and here refused only as the wrong shape).
        let mut at = b"\"".to_vec();
        at.resize(MAX_DOCUMENT_BYTES as usize - 1, b'x');
        at.push(b'"');
        s.put_bytes(&s.nudge_key(), at).await.unwrap();
        let v: serde_json::Value = s.get_json(&s.nudge_key()).await.unwrap().unwrap();
        assert_eq!(v.as_str().unwrap().len(), MAX_DOCUMENT_BYTES as usize - 2);
    }

    // desired.json has one typed stop_reason: every reason (and none) reads back as written.
    #[tokio::test]
    async fn desired_json_round_trips_every_stop_reason() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        let reasons = crate::lifecycle::EndReason::ALL.into_iter().map(Some).chain([None]);
        for reason in reasons {
            let doc = ControlDoc {
                version: 1,
                stop_requested: reason.map(|_| "2026-11-22T19:30:00Z".parse().unwrap()),
                stop_reason: reason,
                stop_warnings: reason.map_or_else(Default::default, |_| crate::countdown::StopWarnings::standard()),
                ..ControlDoc::default()
            };
            s.put_json(&s.control_key(), &doc).await.unwrap();
            let text = String::from_utf8(s.get_bytes(&s.control_key()).await.unwrap().unwrap()).unwrap();
            let expected = reason.map_or("null".to_string(), |r| format!("\"{}\"", r.as_str()));
            assert!(text.contains(&format!("\"stop_reason\": {expected}")), "{text}");
            assert_eq!(s.control().await.unwrap(), Some(doc));
        }
    }

    // Regression: an unknown stop_reason used to become "admin" silently; it is now a decode error naming the key.
    #[tokio::test]
    async fn desired_json_with_an_unknown_stop_reason_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        let doc = r#"{"version": 1, "session": null, "stop_requested": "2026-11-22T19:30:00Z", "stop_reason": "bored",
            "whitelist": [], "ops": [], "assets": {}, "written": null}"#;
        s.put_bytes(&s.control_key(), doc.as_bytes().to_vec()).await.unwrap();
        let e = s.control().await.unwrap_err();
        assert!(
            matches!(&e, StorageError::Decode { key, .. } if key == "control/grove/desired.json"),
            "{e:?}"
        );
        let chain = crate::error::render_error(&e);
        assert!(chain.contains("control/grove/desired.json") && chain.contains("bored"), "{chain}");
    }
}
