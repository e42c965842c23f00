//! Object operations beyond plain get/put: listing, deleting, presigned URLs,
//! and the conditional write that keeps two writers of `current.json` from
//! clobbering each other.
//!
//! On S3/R2 the condition is the object's ETag (`If-Match`, or
//! `If-None-Match: *` for a first write), checked by the server. The local
//! file system has no conditional update in `object_store`, so there the
//! compare and the write happen under an exclusive file lock
//! (`<root>/.locks/<key>`), which is as good between processes on one machine
//! — the only place a local store is shared.

use std::time::Duration;

use object_store::path::Path as Key;
use object_store::{ObjectMeta, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{StorageError, Store};

/// What the writer believes is stored now.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// Nothing: the write creates the object.
    Absent,
    /// The version read earlier.
    Version { e_tag: Option<String>, version: Option<String> },
}

fn object_err(key: &str) -> impl FnOnce(object_store::Error) -> StorageError + '_ {
    move |source| StorageError::Object {
        key: key.into(),
        source: source.into(),
    }
}

impl Store {
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StorageError> {
        match self.inner.head(&Key::from(key)).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(object_err(key)(e)),
        }
    }

    /// Every object under `prefix` (a folder, ending in `/`), in key order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StorageError> {
        use futures::TryStreamExt;
        let p = Key::from(prefix.trim_end_matches('/'));
        let mut all: Vec<ObjectMeta> = match self.inner.list(Some(&p)).try_collect().await {
            Ok(v) => v,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(object_err(prefix)(e)),
        };
        all.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(all)
    }

    /// Delete an object; one that is already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.inner.delete(&Key::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(object_err(key)(e)),
        }
    }

    /// A JSON document and the version it was read at (for [`Store::put_json_if`]).
    pub async fn get_json_versioned<T: DeserializeOwned>(&self, key: &str) -> Result<Option<(T, Expect)>, StorageError> {
        let got = match self.inner.get(&Key::from(key)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(object_err(key)(e)),
        };
        let expect = Expect::Version {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        super::check_document_size(key, got.meta.size)?;
        let bytes = got.bytes().await.map_err(object_err(key))?;
        super::check_document_size(key, bytes.len() as u64)?;
        let value = serde_json::from_slice(&bytes).map_err(|source| StorageError::Decode { key: key.into(), source })?;
        Ok(Some((value, expect)))
    }

    /// Write `value` only if the object is still as `expect` says;
    /// [`StorageError::Conflict`] when another writer got there first.
    pub async fn put_json_if<T: Serialize>(&self, key: &str, value: &T, expect: &Expect) -> Result<(), StorageError> {
        let mut bytes = serde_json::to_vec_pretty(value).expect("storage documents always serialise");
        bytes.push(b'\n');
        match &self.local_root {
            Some(root) => self.put_if_locked(root, key, bytes, expect).await,
            None => {
                let mode = match expect {
                    Expect::Absent => PutMode::Create,
                    Expect::Version { e_tag, version } => PutMode::Update(UpdateVersion {
                        e_tag: e_tag.clone(),
                        version: version.clone(),
                    }),
                };
                let opts = PutOptions {
                    mode,
                    ..Default::default()
                };
                match self.inner.put_opts(&Key::from(key), PutPayload::from(bytes), opts).await {
                    Ok(_) => Ok(()),
                    Err(object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }) => {
                        Err(StorageError::Conflict { key: key.into() })
                    }
                    Err(e) => Err(object_err(key)(e)),
                }
            }
        }
    }

    async fn put_if_locked(&self, root: &std::path::Path, key: &str, bytes: Vec<u8>, expect: &Expect) -> Result<(), StorageError> {
        let lock_path = root.join(".locks").join(key.replace('/', "%"));
        let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            std::fs::create_dir_all(lock_path.parent().expect("has a parent"))?;
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)?;
            // `File::lock` is Rust 1.89; the crate builds with 1.95 (its
            // dev-dependencies need 1.92), the declared MSRV is older.
            #[allow(clippy::incompatible_msrv)]
            f.lock()?;
            Ok(f)
        })
        .await
        .expect("the lock task does not panic")
        .map_err(|e| StorageError::Local {
            path: root.display().to_string(),
            source: Box::new(object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            }),
        })?;
        let now = self.head(key).await?;
        let holds = match (expect, &now) {
            (Expect::Absent, None) => true,
            (Expect::Version { e_tag, .. }, Some(m)) => e_tag.is_some() && *e_tag == m.e_tag,
            _ => false,
        };
        let result = if holds {
            self.put_bytes(key, bytes).await
        } else {
            Err(StorageError::Conflict { key: key.into() })
        };
        drop(lock); // closing the file releases the lock
        result
    }

    /// A presigned URL for `method` on `key`, valid for `ttl` (S3/R2 only:
    /// a local directory has nothing to sign).
    pub async fn signed_url(&self, method: reqwest::Method, key: &str, ttl: Duration) -> Result<url::Url, StorageError> {
        let Some(signer) = &self.signer else {
            return Err(StorageError::Config(format!("{} cannot presign URLs", self.describe)));
        };
        signer.signed_url(method, &Key::from(key), ttl).await.map_err(object_err(key))
    }
}
