//! Pinning the jar the server runs, for mods.lock's `[server]` table.
//!
//! - Fabric: the server launcher Fabric meta builds for a game, loader and
//!   installer version (`/v2/versions/loader/{mc}/{loader}/{installer}/server/jar`).
//!   Fabric meta publishes no hash for it, so it is downloaded once here and
//!   its size, sha1 and sha512 are what the lock records.
//! - Vanilla: Mojang's server jar, found through the version manifest and the
//!   version's JSON (`downloads.server`: url, sha1, size). Mojang gives no
//!   sha512, so the jar is downloaded once too; its sha1 and size must be
//!   Mojang's or nothing is locked.
//!
//! - The cache (`[[cache]]`, Fabric only): what the Fabric server launcher
//!   downloads on its first boot when it is missing. Its `ServerLauncher`
//!   (fabric-installer) looks for the vanilla jar at
//!   `.fabric/server/<mc>-server.jar` and downloads it from Mojang's manifest
//!   only when that file does not exist; so the lock pins Mojang's jar for
//!   that path (sha1 checked against Mojang's, sha256 computed) and the VPS
//!   places it before the first boot (docs/coldstart.md).
//!
//! The VPS verifies the sha512 and size (`fetch::fetch_verified`), so what
//! runs there is byte for byte what was downloaded here. The recorded URL is
//! always the public one, whatever base URL the lock was made through.

use serde::Deserialize;

use super::fetch::{self, FetchError};
use super::{Client, MOJANG_META_DEFAULT_BASE, ModrinthError, Which};
use crate::http::{Api, Policy, RateLimit};
use crate::repo::mods::{expected_server_jar, fabric_server_path};
use crate::repo::{CachedFile, Loader, ModsLock, ServerJar};

/// Larger than any server jar (vanilla's is about 50 MB): a body beyond this is refused.
const MAX_SERVER_JAR: u64 = 256 * 1024 * 1024;

const MANIFEST_PATH: &str = "/mc/game/version_manifest_v2.json";

#[derive(Deserialize)]
struct Manifest {
    latest: Latest,
    versions: Vec<ManifestVersion>,
}

#[derive(Deserialize)]
struct Latest {
    release: String,
}

#[derive(Deserialize)]
struct ManifestVersion {
    id: String,
    url: String,
}

#[derive(Deserialize)]
struct VersionJson {
    #[serde(default)]
    downloads: Downloads,
}

#[derive(Default, Deserialize)]
struct Downloads {
    server: Option<Download>,
}

#[derive(Deserialize)]
struct Download {
    sha1: String,
    size: u64,
    url: String,
}

/// The `[server]` table for a lock's `minecraft`, `loader` and Fabric versions.
pub(crate) async fn lock(client: &Client, lock: &ModsLock) -> Result<ServerJar, ModrinthError> {
    let (file, public_url) = expected_server_jar(lock);
    match (lock.loader, &lock.loader_version, &lock.installer_version, public_url) {
        (Loader::Fabric, Some(loader), Some(installer), Some(public_url)) => {
            let path = fabric_server_path(&lock.minecraft, loader, installer);
            let from = format!("{}{path}", client.fabric_meta.base());
            let d = match fetch::digest(&client.download, &file, &from, MAX_SERVER_JAR).await {
                // Fabric meta answers a client error for versions it does not know.
                Err(FetchError::Status {
                    status: status @ (400 | 404),
                    ..
                }) => {
                    return Err(ModrinthError::NoFabricServer {
                        minecraft: lock.minecraft.clone(),
                        loader: loader.clone(),
                        installer: installer.clone(),
                        url: from,
                        status,
                    });
                }
                other => other?,
            };
            Ok(ServerJar {
                file,
                url: public_url,
                size: d.size,
                sha1: d.sha1,
                sha512: d.sha512,
            })
        }
        (Loader::Vanilla, ..) => vanilla(client, &lock.minecraft, file).await,
        (Loader::Fabric, ..) => Err(ModrinthError::NoFabricVersions),
    }
}

async fn vanilla(client: &Client, version: &str, file: String) -> Result<ServerJar, ModrinthError> {
    let (url, d) = mojang_server(client, version, &file).await?;
    Ok(ServerJar {
        file,
        url,
        size: d.size,
        sha1: d.sha1,
        sha512: d.sha512,
    })
}

/// Where fabric-installer's `ServerLauncher` keeps the vanilla jar, relative
/// to the server directory (its `DATA_DIR` and `"%s-server.jar"`).
pub(crate) fn fabric_vanilla_jar_path(minecraft: &str) -> String {
    format!(".fabric/server/{minecraft}-server.jar")
}

/// The `[[cache]]` files for a lock: for Fabric, Mojang's server jar where
/// the launcher looks for it; nothing for vanilla (its `server.jar` is that
/// jar already). A version whose name cannot be a cache path has no cache.
pub(crate) async fn cache(client: &Client, lock: &ModsLock) -> Result<Vec<CachedFile>, ModrinthError> {
    let path = fabric_vanilla_jar_path(&lock.minecraft);
    if lock.loader != Loader::Fabric || !crate::repo::mods::valid_cache_path(&path) {
        return Ok(Vec::new());
    }
    let (url, d) = mojang_server(client, &lock.minecraft, &path).await?;
    Ok(vec![CachedFile {
        path,
        url,
        size: d.size,
        sha256: d.sha256,
        sha1: Some(d.sha1),
    }])
}

/// Mojang's server jar for `version`: its public URL and the digests of its
/// bytes, which must have the size and sha1 Mojang's version JSON gives.
async fn mojang_server(client: &Client, version: &str, file: &str) -> Result<(String, fetch::Digests), ModrinthError> {
    let manifest: Manifest = client
        .get(Which::MojangMeta, MANIFEST_PATH)
        .await?
        .ok_or_else(|| ModrinthError::Status {
            url: format!("{}{MANIFEST_PATH}", client.mojang_meta.base()),
            status: 404,
            body: "no version manifest".into(),
        })?;
    let entry = manifest
        .versions
        .iter()
        .find(|v| v.id == version)
        .ok_or_else(|| ModrinthError::NoMinecraftVersion {
            version: version.into(),
            latest: manifest.latest.release.clone(),
        })?;
    let json_url = via(client, &entry.url);
    let (origin, path) = split(&json_url).ok_or_else(|| ModrinthError::BadServerUrl {
        what: format!("Minecraft {version}'s version JSON"),
        url: entry.url.clone(),
    })?;
    let api = if origin == client.mojang_meta.base() {
        client.mojang_meta.clone()
    } else {
        Api::anonymous(&origin, RateLimit::RetryAfterSeconds("Retry-After"), Policy::default())?
    };
    let v: VersionJson = get_json(&api, &path).await?.ok_or_else(|| ModrinthError::Status {
        url: json_url.clone(),
        status: 404,
        body: "the version JSON the manifest names is gone".into(),
    })?;
    let server = v.downloads.server.ok_or_else(|| ModrinthError::NoVanillaServer(version.into()))?;
    if !server.url.starts_with("https://") || split(&server.url).is_none() {
        return Err(ModrinthError::BadServerUrl {
            what: format!("Minecraft {version}'s server jar"),
            url: server.url,
        });
    }
    let from = via(client, &server.url);
    let d = fetch::digest(&client.download, file, &from, MAX_SERVER_JAR).await?;
    if d.sha1 != server.sha1.to_ascii_lowercase() || d.size != server.size {
        return Err(ModrinthError::VanillaMismatch {
            version: version.into(),
            url: from,
            want_sha1: server.sha1,
            got_sha1: d.sha1,
            want_size: server.size,
            got_size: d.size,
        });
    }
    Ok((server.url, d))
}

/// Through the Api (retries, timeouts), mapping 404 to `None`.
async fn get_json<T: serde::de::DeserializeOwned>(api: &Api, path: &str) -> Result<Option<T>, ModrinthError> {
    let resp = api.send(reqwest::Method::GET, path, None, crate::http::Retry::Transient).await?;
    super::answer(api, path, resp)
}

/// Where to read a Mojang URL from: the URL itself, or, when the Mojang
/// base is overridden (a mirror, a test's fake), the same path there.
fn via(client: &Client, url: &str) -> String {
    mojang_source(client.mojang_meta.base(), url)
}

/// [`via`] for a caller without a client: apply storing a `[[cache]]` file
/// reads Mojang's URL through the same `MOJANG_META_BASE_URL` mirror that
/// `mods lock` read it through.
pub(crate) fn mojang_source(base: &str, url: &str) -> String {
    let on_mojang = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h == "mojang.com" || h.ends_with(".mojang.com")))
        .unwrap_or(false);
    match split(url) {
        Some((_, path)) if on_mojang && base != MOJANG_META_DEFAULT_BASE => format!("{base}{path}"),
        _ => url.to_string(),
    }
}

/// `https://host[:port]` and `/path?query` of a URL with a path.
fn split(url: &str) -> Option<(String, String)> {
    let u = url::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "https" | "http") || u.path().len() < 2 {
        return None;
    }
    let origin = u.origin().ascii_serialization();
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    Some((origin, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_origin_and_path() {
        assert_eq!(
            split("https://piston-data.mojang.com/v1/objects/abc/server.jar"),
            Some(("https://piston-data.mojang.com".into(), "/v1/objects/abc/server.jar".into()))
        );
        assert_eq!(split("https://example.org/"), None);
        assert_eq!(split("ftp://example.org/x"), None);
    }

    #[test]
    fn only_mojang_urls_are_read_through_an_overridden_base() {
        let endpoints = |mojang: &str| super::super::Endpoints {
            modrinth: "https://api.modrinth.com".into(),
            fabric_meta: "https://meta.fabricmc.net".into(),
            mojang_meta: mojang.into(),
        };
        let jar = "https://piston-data.mojang.com/v1/objects/abc/server.jar";
        let public = Client::new(&endpoints(MOJANG_META_DEFAULT_BASE)).unwrap();
        assert_eq!(via(&public, jar), jar, "no override: Mojang's own URL");
        let mirror = Client::new(&endpoints("http://127.0.0.1:8080")).unwrap();
        assert_eq!(via(&mirror, jar), "http://127.0.0.1:8080/v1/objects/abc/server.jar");
        let elsewhere = "https://evil.example/v1/objects/abc/server.jar";
        assert_eq!(via(&mirror, elsewhere), elsewhere, "other hosts are never redirected");
        assert_eq!(via(&mirror, "https://notmojang.com/x"), "https://notmojang.com/x");
    }
}
