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
//!   altered (the VPS can write here: `crate::observe::assets`)
//! - `worlds/<s>/current.json` — the latest verified snapshot ([`SnapshotPointer`])
//!
//! - `worlds/<s>/backups/<UTC time>.tar.zst` + `.json` — snapshots and their
//!   manifests (`world`, above)
//!
//! Each document has one writer, so plain overwrites are safe for the control
//! documents; the world pointer uses a conditional write ([`cas`]), because
//! the agent and an admin's `world backup` may both move it; requests and
//! their results are created once and never rewritten ([`requests`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::path::Path as Key;
use object_store::{ObjectStore, PutPayload};
use serde::{Serialize, de::DeserializeOwned};

use crate::ids::{ServerName, SessionId};

pub mod cas;
pub mod credentials;
pub(crate) mod documents;
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

pub use documents::*;

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
