//! The stored copies of the files desired.json lists, checked before a
//! start and while the session's agent is still provisioning. `assets/<s>/` is inside the VPS's scoped credentials, so a hostile
//! or broken earlier VPS can delete or overwrite a stored file that is still
//! listed; the next agent would refuse it (sha256 mismatch) and retry for
//! ever while the server bills. Observing the damage lets the plan send
//! such a file again (see docs/security.md).
//!
//! Each listed stored file whose hash is still the repo's is read once: one
//! GET, whose size is compared with the repo's rendering before the body is
//! read, then the body is hashed. So the bytes read are at most the repo's
//! own rendered files (small text and config files), and the requests one
//! per such file, however much the VPS wrote. ETags are not used: R2's is
//! the MD5 of a single-part upload only, and the local store's is not a
//! content hash at all.

use std::collections::BTreeMap;

use object_store::path::Path as Key;
use serde::Serialize;

use crate::assets::{Rendered, sha256_hex};
use crate::observe::FileState;
use crate::storage::{StorageError, Store};

/// What is wrong with a listed file's stored copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "damage", rename_all = "kebab-case")]
pub enum AssetDamage {
    /// No object under its key.
    Missing,
    /// An object of another size than the file's.
    Resized { stored: u64, expected: u64 },
    /// The file's size, but bytes of another sha256.
    Altered,
}

impl std::fmt::Display for AssetDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssetDamage::Missing => write!(f, "stored copy missing"),
            AssetDamage::Resized { stored, expected } => {
                write!(f, "stored copy altered: {stored} bytes, {expected} expected")
            }
            AssetDamage::Altered => write!(f, "stored copy altered: its sha256 is not the listed one"),
        }
    }
}

/// The listed files (desired.json's `assets`) whose stored copy is damaged,
/// among those the repo still renders with the listed hash (any other is
/// sent anew by the plan anyway). Downloaded files (mods) are not stored;
/// cached files (`[[cache]]`) are checked by size only.
pub(crate) async fn stored_damage(
    store: &Store,
    want: &BTreeMap<String, Rendered>,
    listed: &BTreeMap<String, FileState>,
) -> Result<BTreeMap<String, AssetDamage>, StorageError> {
    let mut out = BTreeMap::new();
    for (path, a) in listed {
        let Some(w) = want.get(path).filter(|w| w.state.hash == a.hash) else {
            continue;
        };
        let key = store.asset_key(&a.hash);
        let damage = match (&w.bytes, &w.source, w.size) {
            (Some(bytes), _, _) => check(store, &key, bytes).await?,
            (None, Some(_), Some(size)) => check_size(store, &key, size).await?,
            _ => None,
        };
        if let Some(damage) = damage {
            out.insert(path.clone(), damage);
        }
    }
    Ok(out)
}

/// A cached file (tens of MB, `[[cache]]`): only its presence and size are
/// looked at here (one HEAD). Same-size substitutes are caught where it
/// matters: the agent refuses them by sha256, and apply re-reads the object
/// whenever it stores the file again.
async fn check_size(store: &Store, key: &str, size: u64) -> Result<Option<AssetDamage>, StorageError> {
    match store.object_store().head(&Key::from(key)).await {
        Ok(m) if m.size == size => Ok(None),
        Ok(m) => Ok(Some(AssetDamage::Resized {
            stored: m.size,
            expected: size,
        })),
        Err(object_store::Error::NotFound { .. }) => Ok(Some(AssetDamage::Missing)),
        Err(e) => Err(StorageError::Object {
            key: key.into(),
            source: e.into(),
        }),
    }
}

/// Whether the object at `key` holds exactly `bytes`; its body is read only
/// when its size is theirs.
async fn check(store: &Store, key: &str, bytes: &[u8]) -> Result<Option<AssetDamage>, StorageError> {
    let err = |source: object_store::Error| StorageError::Object {
        key: key.into(),
        source: source.into(),
    };
    let got = match store.object_store().get(&Key::from(key)).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => return Ok(Some(AssetDamage::Missing)),
        Err(e) => return Err(err(e)),
    };
    let expected = bytes.len() as u64;
    if got.meta.size != expected {
        return Ok(Some(AssetDamage::Resized {
            stored: got.meta.size,
            expected,
        }));
    }
    let stored = got.bytes().await.map_err(err)?;
    Ok(match stored.len() as u64 {
        n if n != expected => Some(AssetDamage::Resized { stored: n, expected }),
        _ if sha256_hex(&stored) != sha256_hex(bytes) => Some(AssetDamage::Altered),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ServerName;

    fn rendered(bytes: &[u8]) -> Rendered {
        Rendered {
            state: crate::observe::FileState {
                hash: format!("sha256:{}", sha256_hex(bytes)),
                text: None,
            },
            bytes: Some(bytes.to_vec()),
            url: None,
            size: Some(bytes.len() as u64),
            source: None,
        }
    }

    #[tokio::test]
    async fn missing_resized_and_altered_copies_are_found_and_whole_ones_pass() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        let files = [("a", b"aaaa".as_slice()), ("b", b"bbbb"), ("c", b"cccc"), ("d", b"dddd")];
        let want: BTreeMap<String, Rendered> = files.iter().map(|(p, b)| (p.to_string(), rendered(b))).collect();
        let listed: BTreeMap<String, FileState> = want.iter().map(|(p, r)| (p.clone(), r.state.clone())).collect();
        for (p, b) in files {
            s.put_asset(&want[p].state.hash, b.to_vec()).await.unwrap();
        }
        let key = |p: &str| s.asset_key(&want[p].state.hash);
        s.object_store().delete(&Key::from(key("b"))).await.unwrap();
        s.put_bytes(&key("c"), b"longer than four".to_vec()).await.unwrap();
        s.put_bytes(&key("d"), b"DDDD".to_vec()).await.unwrap();
        let got = stored_damage(&s, &want, &listed).await.unwrap();
        let want_damage = BTreeMap::from([
            ("b".to_string(), AssetDamage::Missing),
            ("c".to_string(), AssetDamage::Resized { stored: 16, expected: 4 }),
            ("d".to_string(), AssetDamage::Altered),
        ]);
        assert_eq!(got, want_damage);
        // A listed hash the repo no longer renders is not read: the plan sends the new file anyway.
        let mut stale = listed.clone();
        stale.get_mut("b").unwrap().hash = "sha256:00".into();
        assert!(!stored_damage(&s, &want, &stale).await.unwrap().contains_key("b"));
    }

    /// A cached jar (`[[cache]]`) is looked at by size only: missing and
    /// resized copies are found with one HEAD each, its body is never read.
    #[tokio::test]
    async fn cached_files_are_checked_by_size_without_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        let cached = |hash: &str, size: u64| Rendered {
            state: crate::observe::FileState {
                hash: hash.into(),
                text: None,
            },
            bytes: None,
            url: None,
            size: Some(size),
            source: Some("https://piston-data.mojang.com/v1/objects/x/server.jar".into()),
        };
        let (a, b, c) = (
            format!("sha256:{}", "a".repeat(64)),
            format!("sha256:{}", "b".repeat(64)),
            format!("sha256:{}", "c".repeat(64)),
        );
        let want: BTreeMap<String, Rendered> = [("a.jar", &a), ("b.jar", &b), ("c.jar", &c)]
            .into_iter()
            .map(|(p, h)| (p.to_string(), cached(h, 4)))
            .collect();
        let listed: BTreeMap<String, FileState> = want.iter().map(|(p, r)| (p.clone(), r.state.clone())).collect();
        s.put_bytes(&s.asset_key(&a), b"same".to_vec()).await.unwrap(); // same size, other bytes: not read here
        s.put_bytes(&s.asset_key(&c), b"longer".to_vec()).await.unwrap();
        let got = stored_damage(&s, &want, &listed).await.unwrap();
        assert_eq!(
            got,
            BTreeMap::from([
                ("b.jar".to_string(), AssetDamage::Missing),
                ("c.jar".to_string(), AssetDamage::Resized { stored: 6, expected: 4 }),
            ])
        );
    }
}
