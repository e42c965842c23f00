//! Exporting mods.lock as a Modrinth modpack (`.mrpack`), so friends install
//! the same mods in their launcher (Modrinth App, Prism, …) with one click.
//!
//! A pack is a zip holding `modrinth.index.json` (format version 1): every
//! locked mod as a file to download into `mods/`, with both hashes the format
//! requires, where it runs (`env`), and the game and loader versions. Client-
//! only mods are in it too: they are exactly what the lock keeps them for.
//! Launchers write `path` into the instance directory, so a path that could
//! leave it (`..`, absolute, a drive) is refused here rather than trusted
//! there; and launchers only download from a few hosts, so any other URL is
//! refused too. The zip carries fixed timestamps: the same lock always gives
//! the same bytes.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use super::{is_safe_file_name, lockfile};
use crate::repo::{Loader, LockedMod, ModsLock, Side};

pub const INDEX: &str = "modrinth.index.json";

/// Hosts the format allows in `downloads`.
const ALLOWED_HOSTS: &[&str] = &["cdn.modrinth.com", "github.com", "raw.githubusercontent.com", "gitlab.com"];

#[derive(Debug, thiserror::Error)]
pub enum MrpackError {
    #[error("`{slug}`: `{file}` is not a plain file name, so `mods/{file}` could leave the instance directory")]
    UnsafePath { slug: String, file: String },
    #[error("`{slug}`: launchers only download from {}, not {url}", ALLOWED_HOSTS.join(", "))]
    Host { slug: String, url: String },
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub format_version: u32,
    pub game: String,
    pub version_id: String,
    pub name: String,
    pub summary: String,
    pub files: Vec<IndexFile>,
    pub dependencies: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexFile {
    pub path: String,
    pub hashes: BTreeMap<String, String>,
    pub env: Env,
    pub downloads: Vec<String>,
    pub file_size: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Env {
    pub client: &'static str,
    pub server: &'static str,
}

impl Env {
    /// The lock records where a mod runs, so each side is required or unsupported.
    pub fn of(side: Side) -> Self {
        let on = |yes: bool| if yes { "required" } else { "unsupported" };
        Env {
            client: on(matches!(side, Side::Client | Side::Both)),
            server: on(side.on_server()),
        }
    }
}

/// The pack's index for a lock. `name` is the server's name.
pub fn index(lock: &ModsLock, name: &str) -> Result<Index, MrpackError> {
    let files = lock.mods.iter().map(file).collect::<Result<Vec<_>, _>>()?;
    let mut dependencies = BTreeMap::from([("minecraft".to_string(), lock.minecraft.clone())]);
    if lock.loader == Loader::Fabric
        && let Some(v) = &lock.loader_version
    {
        dependencies.insert("fabric-loader".into(), v.clone());
    }
    // Same lock, same id: the hash of its canonical rendering.
    let digest = hex::encode(Sha256::digest(lockfile::render(lock).as_bytes()));
    Ok(Index {
        format_version: 1,
        game: "minecraft".into(),
        version_id: format!("{}-{}", lock.minecraft, &digest[..12]),
        name: name.into(),
        summary: format!("The mods of the {name} Minecraft server, from its mods.lock"),
        files,
        dependencies,
    })
}

fn file(m: &LockedMod) -> Result<IndexFile, MrpackError> {
    if !is_safe_file_name(&m.file) {
        return Err(MrpackError::UnsafePath {
            slug: m.slug.clone(),
            file: m.file.clone(),
        });
    }
    let host_ok = url::Url::parse(&m.url)
        .ok()
        .filter(|u| u.scheme() == "https")
        .and_then(|u| u.host_str().map(|h| ALLOWED_HOSTS.contains(&h)))
        .unwrap_or(false);
    if !host_ok {
        return Err(MrpackError::Host {
            slug: m.slug.clone(),
            url: m.url.clone(),
        });
    }
    Ok(IndexFile {
        path: format!("mods/{}", m.file),
        hashes: BTreeMap::from([("sha1".to_string(), m.sha1.clone()), ("sha512".to_string(), m.sha512.clone())]),
        env: Env::of(m.side),
        downloads: vec![m.url.clone()],
        file_size: m.size,
    })
}

/// Write the pack to `out` (through `out.part`, renamed when complete).
pub fn write(lock: &ModsLock, name: &str, out: &Path) -> Result<Index, MrpackError> {
    let index = index(lock, name)?;
    let json = serde_json::to_vec_pretty(&index).expect("the index serializes");
    let mut part = out.as_os_str().to_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    let io = |source| MrpackError::Io { path: out.into(), source };
    let zip_err = |source| MrpackError::Zip { path: out.into(), source };
    let result = (|| {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&part).map_err(io)?);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        zip.start_file(INDEX, options).map_err(zip_err)?;
        zip.write_all(&json).map_err(io)?;
        zip.finish().map_err(zip_err)?.sync_all().map_err(io)?;
        std::fs::rename(&part, out).map_err(io)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result.map(|()| index)
}
