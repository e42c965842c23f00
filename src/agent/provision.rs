//! Getting the Minecraft directory ready before the first start: the world
//! restored (through the snapshot port) while every file `desired.json` lists
//! is fetched and verified (text files and the cached jars of mods.lock's
//! `[[cache]]` from storage by sha256, `server.jar` and the mods from their
//! URL by sha512), and `server.properties` given the settings the agent's
//! safety rests on: RCON on localhost with a password generated here, the
//! whitelist enforced. Then it waits for Java, which cloud-init installs
//! while this runs (the cold start's critical path: docs/coldstart.md).
//!
//! The RCON password is made on the VPS, lives in memory and in
//! `server.properties` (mode 600), and goes nowhere else: not to storage, not
//! to a log. Every file is written to `<name>.part` and renamed into place, so
//! a crash mid-way leaves either the old file or the new one.
//!
//! The agent may be more privileged than Minecraft (`super::user`): when a
//! `minecraft_user` is set, everything in the directory is handed to it
//! once it is ready, and `server.properties` — which Minecraft could have
//! replaced with a link to the agent's own files before a restart — is read
//! without following a link.

use std::path::{Component, Path, PathBuf};

use rand::Rng;
use rand::distr::Alphanumeric;

use super::traits::{PortError, PortResult, Provision, Snapshots};
use super::user::RunAs;
use crate::assets::sha256_hex;
use crate::secret::Secret;
use crate::storage::{AssetRef, ControlDoc, Store};

/// A fresh RCON password: 32 random alphanumerics from the OS's generator.
pub(crate) fn rcon_password() -> Secret {
    Secret::new(rand::rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect::<String>())
}

pub(crate) struct FilesProvision<W> {
    pub store: Store,
    pub dir: PathBuf,
    pub client: reqwest::Client,
    pub game_port: u16,
    pub rcon_port: u16,
    pub rcon_password: Secret,
    pub world: W,
    /// Who gets the directory before Minecraft starts (`None`: it stays the agent's).
    pub owner: Option<RunAs>,
    /// The JVM's program (agent.toml `java[0]`), waited for once the files
    /// are in place (`None`: not waited for).
    pub java: Option<String>,
    /// The document whose files are in place (set once they all are).
    pub placed: Option<ControlDoc>,
}

fn err(what: &str, message: impl Into<String>) -> PortError {
    PortError::Provision {
        what: what.to_string(),
        message: message.into(),
    }
}

/// Provisioning `what` failed on `e`, kept as the cause.
fn failed(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> PortError {
    PortError::ProvisionFailed {
        what: what.to_string(),
        source: Box::new(e),
    }
}

/// A path from `desired.json` as a path inside the Minecraft directory, or
/// `None` if it would leave it.
pub(crate) fn inside(dir: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    let plain = !rel.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then(|| dir.join(p))
}

async fn write_atomically(dest: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut part = dest.as_os_str().to_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    tokio::fs::write(&part, bytes).await?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o600)).await?;
    }
    #[cfg(not(unix))]
    let _ = private;
    tokio::fs::rename(&part, dest).await
}

/// A file's text, refusing a symlink (`O_NOFOLLOW`: ELOOP).
async fn read_no_follow(path: &Path) -> std::io::Result<String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&path)?;
        let mut s = String::new();
        f.read_to_string(&mut s)?;
        Ok(s)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// `server.properties` with the managed keys set, every other line kept.
pub(crate) fn managed_properties(text: &str, game_port: u16, rcon_port: u16, password: &Secret) -> String {
    let managed = [
        ("enable-rcon", "true".to_string()),
        ("rcon.port", rcon_port.to_string()),
        ("rcon.password", password.expose().to_string()),
        ("server-port", game_port.to_string()),
        ("white-list", "true".to_string()),
        ("enforce-whitelist", "true".to_string()),
    ];
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| {
            let key = l.split('=').next().unwrap_or_default().trim();
            !managed.iter().any(|(k, _)| *k == key)
        })
        .map(String::from)
        .collect();
    out.extend(managed.iter().map(|(k, v)| format!("{k}={v}")));
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// How many listed files are downloaded at once (mods from their CDN,
/// stored files from storage): enough to hide each request's latency.
const PARALLEL_FETCHES: usize = 4;
/// How long provisioning waits in one go for the Java runtime cloud-init
/// installs beside it (`install-packages.sh`, after the agent started);
/// then it reports that it waits and looks again at its next attempt.
pub(crate) const JAVA_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
/// How often it looks for Java meanwhile.
const JAVA_POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// The directory the world is restored into (the wiring's `world_dir`):
/// files listed under it are written after the restore, never beside it.
const WORLD_DIR: &str = "world";

/// Whether `program` (a path, or a name looked up on `PATH` as the JVM's
/// spawn does) names an executable file now.
pub(crate) fn executable_now(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        return runnable(Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| runnable(&d.join(program))))
}

/// One listed file fetched and verified into the Minecraft directory. A
/// cached file (`cache`) that cannot be placed is skipped with a warning:
/// the server downloads it itself on its first boot, as without a cache.
async fn fetch(store: &Store, dir: &Path, client: &reqwest::Client, rel: &str, a: &AssetRef) -> PortResult<()> {
    match fetch_one(store, dir, client, rel, a).await {
        Err(e @ (PortError::Provision { .. } | PortError::ProvisionFailed { .. })) if a.cache && inside(dir, rel).is_some() => {
            let error = crate::error::render_error(&e);
            tracing::warn!(file = rel, %error, "cached file not placed; the server downloads it itself");
            Ok(())
        }
        other => other,
    }
}

async fn fetch_one(store: &Store, dir: &Path, client: &reqwest::Client, rel: &str, a: &AssetRef) -> PortResult<()> {
    let dest = inside(dir, rel).ok_or_else(|| err(rel, "the path leaves the Minecraft directory"))?;
    if let Some(hex) = a.hash.strip_prefix("sha256:") {
        let key = store.asset_key(&a.hash);
        let bytes = stored_bytes(store, &key, a.size)
            .await
            .map_err(|e| failed(rel, e))?
            .ok_or_else(|| err(rel, format!("{key} is not in {}", store.describe)))?;
        let bytes = bytes.map_err(|(stored, size)| err(rel, format!("{key} is {stored} bytes, desired.json says {size}; not read")))?;
        let got = sha256_hex(&bytes);
        if got != hex {
            return Err(err(rel, format!("{key} has sha256 {got}, desired.json says {hex}")));
        }
        write_atomically(&dest, &bytes, false).await.map_err(|e| failed(rel, e))
    } else if let Some(hex) = a.hash.strip_prefix("sha512:") {
        let (Some(url), Some(size)) = (&a.url, a.size) else {
            return Err(err(rel, "a sha512 file needs a url and a size"));
        };
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| failed(rel, e))?;
        }
        crate::modrinth::fetch::fetch_verified(client, url, hex, size, &dest)
            .await
            .map_err(|e| failed(rel, e))
    } else {
        Err(err(rel, format!("unknown hash `{}` (expected sha256:… or sha512:…)", a.hash)))
    }
}

/// A stored object's bytes, or `Err((its size, the listed size))` unread when desired.json
/// lists another size: the VPS's keys can write `assets/<server>/`, so an
/// object is never read further than the size the reconciler listed.
async fn stored_bytes(
    store: &Store,
    key: &str,
    size: Option<u64>,
) -> Result<Option<Result<Vec<u8>, (u64, u64)>>, crate::storage::StorageError> {
    let e = |source: object_store::Error| crate::storage::StorageError::Object {
        key: key.into(),
        source: source.into(),
    };
    let got = match store.object_store().get(&object_store::path::Path::from(key)).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(x) => return Err(e(x)),
    };
    if let Some(size) = size
        && got.meta.size != size
    {
        return Ok(Some(Err((got.meta.size, size))));
    }
    Ok(Some(Ok(got.bytes().await.map_err(e)?.to_vec())))
}

/// Every file of `files`, [`PARALLEL_FETCHES`] at a time; the first error wins.
async fn fetch_all(store: &Store, dir: &Path, client: &reqwest::Client, files: &[(&String, &AssetRef)]) -> PortResult<()> {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(files.iter().map(|(rel, a)| fetch(store, dir, client, rel, a)))
        .buffer_unordered(PARALLEL_FETCHES)
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
}

impl<W: Snapshots> FilesProvision<W> {
    /// The world restored while the listed files download (the cold start's
    /// two transfers overlap: docs/coldstart.md), then the files that go
    /// inside the world, then `server.properties` and the hand-over.
    async fn place_files(&mut self, doc: &ControlDoc) -> PortResult<()> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| failed("the Minecraft directory", e))?;
        let (in_world, beside): (Vec<_>, Vec<_>) = doc
            .assets
            .iter()
            .partition(|(rel, _)| Path::new(rel.as_str()).components().next() == Some(Component::Normal(WORLD_DIR.as_ref())));
        let Self {
            world, store, dir, client, ..
        } = self;
        let (restored, fetched) = tokio::join!(world.restore(), fetch_all(store, dir, client, &beside));
        if let Some(s) = restored? {
            tracing::info!(key = %s.key, taken = %s.taken, "world restored");
        }
        fetched?;
        fetch_all(store, dir, client, &in_world).await?;
        let path = self.dir.join("server.properties");
        let text = match read_no_follow(&path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(err("server.properties", format!("{e} (a link is never followed)"))),
        };
        let props = managed_properties(&text, self.game_port, self.rcon_port, &self.rcon_password);
        write_atomically(&path, props.as_bytes(), true)
            .await
            .map_err(|e| failed("server.properties", e))?;
        if let Some(user) = self.owner.clone() {
            let dir = self.dir.clone();
            let n = tokio::task::spawn_blocking(move || super::user::hand_over(&dir, &user))
                .await
                .map_err(|e| failed("the Minecraft directory", e))?
                .map_err(|e| failed("the Minecraft directory", e))?;
            tracing::debug!(entries = n, "handed the Minecraft directory to its user");
        }
        Ok(())
    }

    /// Wait (up to [`JAVA_WAIT`]) for the JVM's program: on a stock image
    /// cloud-init installs Java while the agent restores the world.
    async fn await_java(&self) -> PortResult<()> {
        let Some(java) = &self.java else { return Ok(()) };
        let until = tokio::time::Instant::now() + JAVA_WAIT;
        while !executable_now(java) {
            if tokio::time::Instant::now() >= until {
                return Err(PortError::Waiting(format!(
                    "waiting for `{java}`: cloud-init is still installing Java (the world and the files are in place)"
                )));
            }
            tokio::time::sleep(JAVA_POLL).await;
        }
        Ok(())
    }
}

impl<W: Snapshots> Provision for FilesProvision<W> {
    async fn provision(&mut self, doc: &ControlDoc) -> PortResult<()> {
        // A retry after waiting for Java does not restore the world again.
        if self.placed.as_ref() != Some(doc) {
            self.placed = None;
            self.place_files(doc).await?;
            self.placed = Some(doc.clone());
        }
        self.await_java().await
    }
}

#[cfg(test)]
#[path = "tests_provision.rs"]
mod tests;
