//! Downloading locked mod files on the VPS, trusting nothing but mods.lock.
//!
//! A file is streamed to `<dest>.part` while its sha512 and length are
//! computed, and renamed into place only when both match the lock; on any
//! failure the partial file is removed, so `dest` either holds exactly the
//! locked bytes or does not exist. A `dest` that already holds them is not
//! downloaded again, so a rerun after a crash converges.
//!
//! [`digest`] is the lock-time side: it downloads a jar nobody publishes a
//! sha512 for (the server jar) only to hash it.
//!
//! Downloads are not API calls and do not go through [`crate::http::Api`]
//! (which reads whole JSON bodies); `fetch_once` and `digest_once` are the
//! places they are sent. Transport errors and 5xx are retried a few times; a hash or size
//! mismatch never is, because the CDN answered and the bytes are wrong.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha512};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, warn};

const ATTEMPTS: u32 = 3;
const BACKOFF: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{name}: {url} does not match mods.lock: its sha512 is {actual}, mods.lock has {expected}")]
    Hash {
        name: String,
        url: String,
        expected: String,
        actual: String,
    },
    #[error("{name}: {url} is {actual} bytes, mods.lock says {expected}")]
    Size {
        name: String,
        url: String,
        expected: u64,
        actual: String,
    },
    #[error("{name}: GET {url} answered {status}")]
    Status { name: String, url: String, status: u16 },
    #[error("{name}: GET {url} failed")]
    Transport {
        name: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{name}: cannot write {}", path.display())]
    Io {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{name}: {url} is larger than {max} bytes; no server or mod jar is that large")]
    TooLarge { name: String, url: String, max: u64 },
}

/// Download `url` to `dest`, keeping it only if it has `expected_size` bytes
/// and the sha512 `expected_sha512` (hex). Errors name the file as the mod.
pub async fn fetch_verified(
    client: &reqwest::Client,
    url: &str,
    expected_sha512: &str,
    expected_size: u64,
    dest: &Path,
) -> Result<(), FetchError> {
    let name = dest
        .file_name()
        .map_or_else(|| dest.display().to_string(), |n| n.to_string_lossy().into_owned());
    fetch_named(&name, client, url, expected_sha512, expected_size, dest).await
}

async fn fetch_named(name: &str, client: &reqwest::Client, url: &str, sha512: &str, size: u64, dest: &Path) -> Result<(), FetchError> {
    let expected = sha512.to_ascii_lowercase();
    if matches!(sha512_of_file(dest).await, Ok((got, len)) if got == expected && len == size) {
        debug!(name, dest = %dest.display(), "already downloaded and verified");
        return Ok(());
    }
    let part = part_path(dest);
    let result = download(name, client, url, &expected, size, &part).await;
    let result = match result {
        Ok(()) => tokio::fs::rename(&part, dest).await.map_err(|source| FetchError::Io {
            name: name.into(),
            path: dest.to_path_buf(),
            source,
        }),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = tokio::fs::remove_file(&part).await;
    }
    result
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Retry the download on transient failures; verify the last one.
async fn download(name: &str, client: &reqwest::Client, url: &str, expected: &str, size: u64, part: &Path) -> Result<(), FetchError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match fetch_once(name, client, url, size, part).await {
            Ok(actual) if actual == expected => return Ok(()),
            Ok(actual) => {
                return Err(FetchError::Hash {
                    name: name.into(),
                    url: url.into(),
                    expected: expected.into(),
                    actual,
                });
            }
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                warn!(name, url, attempt, error = %e, "download failed; retrying");
                tokio::time::sleep(BACKOFF * attempt).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn transient(e: &FetchError) -> bool {
    match e {
        FetchError::Transport { .. } => true,
        FetchError::Status { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

/// One GET, streamed into `part`; answers the sha512 of what was written.
async fn fetch_once(name: &str, client: &reqwest::Client, url: &str, size: u64, part: &Path) -> Result<String, FetchError> {
    let transport = |source: reqwest::Error| FetchError::Transport {
        name: name.into(),
        url: url.into(),
        source: source.without_url(),
    };
    let io = |source: std::io::Error| FetchError::Io {
        name: name.into(),
        path: part.to_path_buf(),
        source,
    };
    debug!(name, url, "download");
    let mut resp = client.get(url).send().await.map_err(transport)?;
    if !resp.status().is_success() {
        return Err(FetchError::Status {
            name: name.into(),
            url: url.into(),
            status: resp.status().as_u16(),
        });
    }
    let mut file = tokio::fs::File::create(part).await.map_err(io)?;
    let mut hasher = Sha512::new();
    let mut received: u64 = 0;
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        received += chunk.len() as u64;
        if received > size {
            // Stop early: a file larger than locked can never verify.
            return Err(FetchError::Size {
                name: name.into(),
                url: url.into(),
                expected: size,
                actual: format!("more than {size}"),
            });
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    if received != size {
        return Err(FetchError::Size {
            name: name.into(),
            url: url.into(),
            expected: size,
            actual: received.to_string(),
        });
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The size and hashes of a download, computed from its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests {
    pub size: u64,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

/// Download `url` without keeping it and answer its size and hashes: how
/// `mods lock` pins a jar whose publisher gives no sha512 (Fabric meta gives
/// no hash at all, Mojang only sha1). Retried like [`fetch_verified`]; a body
/// over `max_size` bytes is refused rather than read to the end.
pub async fn digest(client: &reqwest::Client, name: &str, url: &str, max_size: u64) -> Result<Digests, FetchError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match digest_once(name, client, url, max_size).await {
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                warn!(name, url, attempt, error = %e, "download failed; retrying");
                tokio::time::sleep(BACKOFF * attempt).await;
            }
            result => return result,
        }
    }
}

async fn digest_once(name: &str, client: &reqwest::Client, url: &str, max_size: u64) -> Result<Digests, FetchError> {
    let transport = |source: reqwest::Error| FetchError::Transport {
        name: name.into(),
        url: url.into(),
        source: source.without_url(),
    };
    debug!(name, url, "download to hash");
    let mut resp = client.get(url).send().await.map_err(transport)?;
    if !resp.status().is_success() {
        return Err(FetchError::Status {
            name: name.into(),
            url: url.into(),
            status: resp.status().as_u16(),
        });
    }
    let (mut sha1, mut sha256, mut sha512, mut size) = (sha1::Sha1::new(), sha2::Sha256::new(), Sha512::new(), 0u64);
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        size += chunk.len() as u64;
        if size > max_size {
            return Err(FetchError::TooLarge {
                name: name.into(),
                url: url.into(),
                max: max_size,
            });
        }
        sha1.update(&chunk);
        sha256.update(&chunk);
        sha512.update(&chunk);
    }
    Ok(Digests {
        size,
        sha1: hex::encode(sha1.finalize()),
        sha256: hex::encode(sha256.finalize()),
        sha512: hex::encode(sha512.finalize()),
    })
}

/// sha512 (hex) and length of a file on disk.
async fn sha512_of_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha512::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok((hex::encode(hasher.finalize()), len));
        }
        len += n as u64;
        hasher.update(&buf[..n]);
    }
}
