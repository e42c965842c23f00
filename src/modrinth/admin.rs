//! The admin's commands for mods (`mc-gitops mods lock | update | export`,
//! whose arguments are `src/cli/mods.rs`).
//!
//! `lock` and `update` exist to repair a lock that no longer answers
//! mods.toml, and the repo loader refuses exactly such a repo. So they do not
//! go through [`crate::repo::load`]: they read server.toml and mods.toml with
//! the loader's own parsers (same diagnostics, same rules), and read the
//! current mods.lock only as a hint of which versions to keep; a lock that
//! does not even parse is reported and ignored. Unrelated files (players,
//! sessions) do not block them either. `export` is the opposite: it ships
//! what friends will install, so it loads the whole repo and refuses a stale
//! lock like every other command.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use toml::Spanned;
use toml::de::DeTable;

use super::resolve::Request;
use super::{Client, Endpoints, lockfile, mrpack, resolve_with, server_jar};
use crate::repo::diag::{Diagnostics, Source};
use crate::repo::reader::{self, Cx};
use crate::repo::{self, LoadError, Loader, LockedMod, Mods, ModsLock, RepoFiles, ServerConfig, ServerJar, Side};

/// One of the admin's commands (`mc-gitops mods …` parses into this).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModsCommand {
    /// Resolve mods.toml into mods.lock, keeping the versions already locked.
    Lock,
    /// Move these mods (every mod, the loader and the installer when empty)
    /// to their newest fitting versions.
    Update { slugs: Vec<String> },
    /// Write the locked mods as a Modrinth modpack to `mrpack`.
    Export { mrpack: PathBuf },
}

/// Run one command against the public Modrinth, Fabric meta and Mojang meta
/// (or the `MODRINTH_API_BASE_URL` / `FABRIC_META_BASE_URL` /
/// `MOJANG_META_BASE_URL` overrides), printing to stdout.
pub async fn run(inputs: &crate::inputs::Inputs, cmd: ModsCommand, repo: &Path) -> anyhow::Result<()> {
    run_with(cmd, repo, &Endpoints::from_inputs(inputs), &mut std::io::stdout()).await
}

/// [`run`] with explicit endpoints and output, for tests.
pub async fn run_with(cmd: ModsCommand, repo: &Path, endpoints: &Endpoints, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    match cmd {
        ModsCommand::Lock => lock(repo, endpoints, Scope::Keep, out).await,
        ModsCommand::Update { slugs } if slugs.is_empty() => lock(repo, endpoints, Scope::All, out).await,
        ModsCommand::Update { slugs } => lock(repo, endpoints, Scope::Only(slugs.into_iter().collect()), out).await,
        ModsCommand::Export { mrpack } => export(repo, &mrpack, out),
    }
}

/// What to move to newer versions.
enum Scope {
    /// Nothing: keep every locked version that still fits.
    Keep,
    /// Everything, the Fabric loader and installer included.
    All,
    /// These mods (by slug); everything else is kept.
    Only(BTreeSet<String>),
}

struct Inputs {
    server: ServerConfig,
    mods: Mods,
    lock: Option<ModsLock>,
    lock_text: Option<String>,
}

async fn lock(root: &Path, endpoints: &Endpoints, scope: Scope, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let inputs = read_inputs(root, out)?;
    let mc = &inputs.server.minecraft;
    if mc.loader == Loader::Vanilla && !inputs.mods.wanted.is_empty() {
        bail!("server.toml has `minecraft.loader = \"vanilla\"`, but mods.toml asks for mods; mods need `loader = \"fabric\"`");
    }
    // A lock for another game version or loader has nothing worth keeping.
    let previous = inputs.lock.as_ref().filter(|l| l.minecraft == mc.version && l.loader == mc.loader);
    let prefer = preferences(&scope, &inputs.mods, previous)?;
    let client = Client::new(endpoints)?;
    let mods = match mc.loader {
        Loader::Fabric => {
            let req = Request {
                minecraft: &mc.version,
                loader: "fabric",
                allow_beta: inputs.mods.allow_beta,
                wanted: &inputs.mods.wanted,
                prefer,
            };
            resolve_with(&client, &req)
                .await
                .context("cannot resolve mods.toml against Modrinth")?
        }
        Loader::Vanilla => Vec::new(),
    };
    let (loader_version, installer_version) = match (mc.loader, previous) {
        (Loader::Vanilla, _) => (None, None),
        (Loader::Fabric, Some(p)) if !matches!(scope, Scope::All) && p.loader_version.is_some() && p.installer_version.is_some() => {
            (p.loader_version.clone(), p.installer_version.clone())
        }
        (Loader::Fabric, _) => (
            Some(client.fabric_loader(&mc.version).await.context("cannot lock the Fabric loader")?),
            Some(client.fabric_installer().await.context("cannot lock the Fabric installer")?),
        ),
    };
    let mut new = ModsLock {
        minecraft: mc.version.clone(),
        loader: mc.loader,
        loader_version,
        installer_version,
        server: None,
        mods,
        cache: Vec::new(),
    };
    // `update` re-downloads the jar: how a lock's jar is re-checked, and how
    // an illustrative one (the example's) gets real hashes.
    let keep_jar = previous.filter(|_| !matches!(scope, Scope::All));
    new.server = Some(server_jar(&client, keep_jar, &new).await?);
    new.cache = cache(&client, keep_jar, &new).await?;
    if let Some(why) = repo::mods::staleness(&inputs.mods, &new, mc) {
        bail!("the resolved lock does not answer mods.toml ({why}); this is a bug in mc-gitops");
    }
    let text = lockfile::render(&new);
    let on_server = new.mods.iter().filter(|m| m.side.on_server()).count();
    if inputs.lock_text.as_deref() == Some(text.as_str()) {
        writeln!(out, "mods.lock is up to date: {}, {on_server} on the server", count(new.mods.len()))?;
        return Ok(());
    }
    write_atomically(&root.join("mods.lock"), text.as_bytes())?;
    writeln!(out, "wrote mods.lock: {}, {on_server} on the server", count(new.mods.len()))?;
    out.write_all(lockfile::changes(inputs.lock.as_ref(), &new).as_bytes())?;
    if !matches!(scope, Scope::Keep) {
        writeln!(out)?;
        out.write_all(lockfile::unified_diff(inputs.lock_text.as_deref().unwrap_or(""), &text).as_bytes())?;
    }
    Ok(())
}

/// The `[server]` table: the kept lock's when it is the same jar (same name
/// and, for Fabric, URL: the same versions), else downloaded and hashed.
/// Keeping it means `mods lock` with nothing new sends no download, and a
/// jar once verified is not silently swapped for other bytes.
async fn server_jar(client: &Client, previous: Option<&ModsLock>, new: &ModsLock) -> anyhow::Result<ServerJar> {
    let (file, url) = repo::mods::expected_server_jar(new);
    if let Some(jar) = previous.and_then(|p| p.server.as_ref())
        && jar.file == file
        && url.as_ref().is_none_or(|u| *u == jar.url)
    {
        return Ok(jar.clone());
    }
    server_jar::lock(client, new)
        .await
        .with_context(|| format!("cannot lock the server jar `{file}`"))
}

/// The `[[cache]]` files: the kept lock's when it has them for the same game
/// version and loader (no download), else fetched and hashed anew.
async fn cache(client: &Client, previous: Option<&ModsLock>, new: &ModsLock) -> anyhow::Result<Vec<repo::CachedFile>> {
    if let Some(p) = previous
        && (p.minecraft == new.minecraft && p.loader == new.loader && !p.cache.is_empty())
    {
        return Ok(p.cache.clone());
    }
    server_jar::cache(client, new)
        .await
        .with_context(|| format!("cannot lock the cached files of Minecraft {}", new.minecraft))
}

/// The locked versions to keep, by project id: all of them for `lock`,
/// none for a full `update`, all but the named mods otherwise.
fn preferences(scope: &Scope, mods: &Mods, previous: Option<&ModsLock>) -> anyhow::Result<BTreeMap<String, String>> {
    let locked = previous.map_or(&[][..], |p| &p.mods[..]);
    if let Scope::Only(slugs) = scope {
        let mut known: BTreeSet<&str> = mods.wanted.keys().map(String::as_str).collect();
        known.extend(locked.iter().map(|m| m.slug.as_str()));
        if let Some(unknown) = slugs.iter().find(|s| !known.contains(s.as_str())) {
            let known: Vec<&str> = known.into_iter().collect();
            bail!(
                "`{unknown}` is neither in mods.toml nor in mods.lock; they have: {}",
                known.join(", ")
            );
        }
    }
    let keep = |m: &&LockedMod| match scope {
        Scope::Keep => true,
        Scope::All => false,
        Scope::Only(slugs) => !slugs.contains(&m.slug),
    };
    Ok(locked
        .iter()
        .filter(keep)
        .map(|m| (m.project_id.clone(), m.version_id.clone()))
        .collect())
}

fn export(root: &Path, path: &Path, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let loaded = repo::load(root)?;
    let lock = &loaded.desired.lock;
    if lock.loader != Loader::Fabric {
        bail!("server.toml runs vanilla Minecraft: there are no mods to export");
    }
    let index = mrpack::write(lock, loaded.desired.server.name.as_str(), path)?;
    let only = |side: Side| lock.mods.iter().filter(|m| m.side == side).count();
    writeln!(
        out,
        "wrote {}: {} for Minecraft {} with Fabric loader {} ({} client-only, {} server-only)",
        path.display(),
        count(index.files.len()),
        lock.minecraft,
        lock.loader_version.as_deref().unwrap_or("?"),
        only(Side::Client),
        only(Side::Server)
    )?;
    Ok(())
}

fn count(mods: usize) -> String {
    if mods == 1 { "1 mod".into() } else { format!("{mods} mods") }
}

/// server.toml and mods.toml (errors stop here, as the loader reports them),
/// and the current mods.lock when it reads.
fn read_inputs(root: &Path, out: &mut (dyn Write + Send)) -> anyhow::Result<Inputs> {
    let files = repo::read(root)?;
    let mut diags = Diagnostics::default();
    for d in files.refusals_of(&["server.toml", "mods.toml", "mods.lock"]) {
        diags.add(d);
    }
    let server = parse_file(&files, "server.toml", &mut diags, repo::server::parse).flatten();
    let mods = parse_file(&files, "mods.toml", &mut diags, repo::mods::parse_mods).unwrap_or_else(|| Some(Mods::default()));
    let (Some(server), Some(mods)) = (server, mods) else {
        if !diags.has_errors() {
            diags.file_error("server.toml", "could not be read for a reason not reported above");
        }
        return Err(LoadError::Invalid(diags.into_sorted()).into());
    };
    if diags.has_errors() {
        return Err(LoadError::Invalid(diags.into_sorted()).into());
    }
    let mut lock_diags = Diagnostics::default();
    let lock = parse_file(&files, "mods.lock", &mut lock_diags, repo::mods::parse_lock).flatten();
    if lock_diags.has_errors() {
        writeln!(out, "note: the current mods.lock does not read, so no version is kept:")?;
        for d in lock_diags.into_sorted() {
            writeln!(out, "  {d}")?;
        }
    }
    let lock_text = files.files.get("mods.lock").map(|b| String::from_utf8_lossy(b).into_owned());
    Ok(Inputs {
        server,
        mods,
        lock,
        lock_text,
    })
}

/// Parse one file with a loader parser: `None` when the file is absent,
/// `Some(None)` when it has problems (reported into `diags`).
fn parse_file<T>(
    files: &RepoFiles,
    path: &str,
    diags: &mut Diagnostics,
    parse: impl FnOnce(&mut Cx<'_>, &Spanned<DeTable<'_>>) -> Option<T>,
) -> Option<Option<T>> {
    let bytes = files.files.get(path)?;
    let Ok(text) = std::str::from_utf8(bytes) else {
        diags.file_error(path, "is not UTF-8 text").help("save it as UTF-8");
        return Some(None);
    };
    let src = Source::new(path, text);
    let mut cx = Cx { src: &src, diags };
    Some(reader::parse_document(&mut cx, &src.text).and_then(|doc| parse(&mut cx, &doc)))
}

/// Write through `<path>.part` and rename, so a crash never leaves half a lock.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut part = path.as_os_str().to_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    std::fs::write(&part, bytes).with_context(|| format!("cannot write {}", part.display()))?;
    std::fs::rename(&part, path).with_context(|| format!("cannot write {}", path.display()))
}
