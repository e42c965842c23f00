//! Storing a `[[cache]]` file of mods.lock (what a first Fabric boot would
//! download: Mojang's server jar) in `assets/<server>/`, so the agent places
//! it during the world's restore instead of the server fetching it after.
//!
//! The object under the file's key is never trusted: the VPS's own keys can
//! write `assets/<server>/`. One of the locked size is read and hashed and
//! kept only with the locked sha256; anything else is replaced by the bytes
//! of the public URL, which are stored only if they have the locked size and
//! sha256. The agent checks the sha256 again when it fetches the object.

use object_store::path::Path as Key;
use sha2::{Digest, Sha256};

use crate::storage::{StorageError, Store};

/// Why a cached file could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("`{hash}` is not a sha256:… hash")]
    NotSha256 { hash: String },
    #[error("GET {url} failed")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} is {got} bytes, mods.lock says {want}")]
    Size { url: String, want: u64, got: String },
    #[error("{url} has sha256 {got}, mods.lock says {want}; nothing was stored")]
    Hash { url: String, want: String, got: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Make the object for `hash` (`sha256:<hex>`) hold the `size` bytes of
/// `url` with that sha256. Answers whether bytes were uploaded (`false`: the
/// stored object was already right, checked by reading it).
pub async fn store_cached(store: &Store, client: &reqwest::Client, hash: &str, url: &str, size: u64) -> Result<bool, CacheError> {
    let want = hash
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64)
        .ok_or_else(|| CacheError::NotSha256 { hash: hash.into() })?;
    let key = store.asset_key(hash);
    let err = |source: object_store::Error| StorageError::Object {
        key: key.clone(),
        source: source.into(),
    };
    match store.object_store().get(&Key::from(key.as_str())).await {
        Ok(got) if got.meta.size == size => {
            let bytes = got.bytes().await.map_err(err)?;
            if hex::encode(Sha256::digest(&bytes)) == want {
                return Ok(false);
            }
        }
        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(err(e).into()),
    }
    let bytes = download(client, url, size).await?;
    let got = hex::encode(Sha256::digest(&bytes));
    if got != want {
        return Err(CacheError::Hash {
            url: url.into(),
            want: want.into(),
            got,
        });
    }
    store.put_bytes(&key, bytes).await?;
    Ok(true)
}

/// The body of `url`, refused past `size` bytes or short of them.
async fn download(client: &reqwest::Client, url: &str, size: u64) -> Result<Vec<u8>, CacheError> {
    let transport = |source: reqwest::Error| CacheError::Transport {
        url: url.into(),
        source: source.without_url(),
    };
    let mut resp = client.get(url).send().await.map_err(transport)?;
    if !resp.status().is_success() {
        return Err(CacheError::Status {
            url: url.into(),
            status: resp.status().as_u16(),
        });
    }
    let mut out = Vec::with_capacity(usize::try_from(size.min(64 << 20)).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if out.len() as u64 + chunk.len() as u64 > size {
            return Err(CacheError::Size {
                url: url.into(),
                want: size,
                got: format!("more than {size}"),
            });
        }
        out.extend_from_slice(&chunk);
    }
    if out.len() as u64 != size {
        return Err(CacheError::Size {
            url: url.into(),
            want: size,
            got: out.len().to_string(),
        });
    }
    Ok(out)
}
