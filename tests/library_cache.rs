//! The Fabric/Mojang library cache (docs/coldstart.md): `mods lock` pins
//! the vanilla jar a first Fabric boot would download in mods.lock's
//! `[[cache]]`, the loader reads it back (and refuses a path that leaves
//! the server directory, with its file:line), the planner lists it as a
//! stored file, and apply stores it in `assets/<server>/` only with the
//! locked bytes, never trusting the object there. The agent's side (placing
//! it, refusing a substitute) is `agent::provision`'s tests.

#[path = "fakes/modrinth.rs"]
mod modrinth_fake;

use std::path::Path;

use mc_gitops::apply::cache::{CacheError, store_cached};
use mc_gitops::assets;
use mc_gitops::ids::ServerName;
use mc_gitops::modrinth::admin::{ModsCommand, run_with};
use mc_gitops::modrinth::lockfile;
use mc_gitops::repo::{self, CachedFile, RepoFiles};
use mc_gitops::storage::Store;
use modrinth_fake::*;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const JAR_PATH: &str = ".fabric/server/1.20.1-server.jar";

/// A state repo with the example's server.toml (Fabric 1.20.1), no mods.
fn repo() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example/server.toml");
    std::fs::copy(example, dir.path().join("server.toml")).unwrap();
    dir
}

async fn lock(fake: &FakeModrinth, repo: &TempDir) -> anyhow::Result<String> {
    let mut out = Vec::new();
    run_with(ModsCommand::Lock, repo.path(), &fake.endpoints(), &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

fn expected() -> CachedFile {
    let bytes = vanilla_server_bytes("1.20.1");
    let sha1 = hex::encode(Sha1::digest(&bytes));
    CachedFile {
        path: JAR_PATH.into(),
        url: format!("https://piston-data.mojang.com/v1/objects/{sha1}/server.jar"),
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
        sha1: Some(sha1),
    }
}

#[tokio::test]
async fn a_fabric_lock_pins_mojangs_jar_where_the_launcher_looks_and_reads_it_back() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let repo = repo();
    let out = lock(&fake, &repo).await.unwrap();
    assert!(out.contains(&format!("+ cache             {JAR_PATH}\n")), "{out}");

    let loaded = repo::load(repo.path()).unwrap();
    assert_eq!(
        loaded.desired.lock.cache,
        vec![expected()],
        "Mojang's URL and sha1, sha256 of its bytes"
    );

    // One type reads and writes it: the lock renders back to its own bytes.
    let text = std::fs::read_to_string(repo.path().join("mods.lock")).unwrap();
    assert!(
        text.contains("\n[[cache]]\npath = \".fabric/server/1.20.1-server.jar\"\n"),
        "{text}"
    );
    assert_eq!(lockfile::render(&loaded.desired.lock), text);

    // The planner lists it as a stored file by sha256, fetched by apply from Mojang.
    let files = assets::render_files(&loaded.desired);
    let f = &files[JAR_PATH];
    assert_eq!(f.state.hash, format!("sha256:{}", expected().sha256));
    assert_eq!(
        (f.source.as_deref(), f.size, f.url.as_deref()),
        (Some(expected().url.as_str()), Some(expected().size), None)
    );
    assert!(f.bytes.is_none());

    // Nothing new: no request at all, the cache is kept.
    fake.clear_calls();
    let again = lock(&fake, &repo).await.unwrap();
    assert!(again.starts_with("mods.lock is up to date"), "{again}");
    assert_eq!(fake.calls().len(), 0, "{:?}", fake.calls());
}

#[tokio::test]
async fn a_lock_without_a_cache_still_reads_and_means_no_cache() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let repo = repo();
    lock(&fake, &repo).await.unwrap();
    let text = std::fs::read_to_string(repo.path().join("mods.lock")).unwrap();
    let old = &text[..text.find("\n[[cache]]").unwrap()];
    std::fs::write(repo.path().join("mods.lock"), format!("{old}\n")).unwrap();
    let loaded = repo::load(repo.path()).unwrap();
    assert!(loaded.desired.lock.cache.is_empty());
    assert!(!assets::render_files(&loaded.desired).contains_key(JAR_PATH));
}

#[tokio::test]
async fn a_mojang_jar_that_does_not_match_its_sha1_leaves_no_lock() {
    let fake = FakeModrinth::start(Vec::new()).await;
    fake.tamper_vanilla_jar();
    let repo = repo();
    let err = format!("{:#}", lock(&fake, &repo).await.unwrap_err());
    assert!(err.contains("cannot lock the cached files of Minecraft 1.20.1"), "{err}");
    assert!(err.contains("does not match Mojang's manifest"), "{err}");
    assert!(!repo.path().join("mods.lock").exists());
}

/// `mc-gitops check` reads the lock through the same parser: every path
/// that would leave the server directory or land elsewhere is refused at
/// its line.
#[test]
fn cache_paths_outside_the_launchers_directories_are_refused_at_their_line() {
    let server = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example/server.toml")).unwrap();
    let fake_lock = |path: &str| {
        format!(
            "version = 1\nminecraft = \"1.20.1\"\nloader = \"fabric\"\nloader_version = \"0.16.10\"\ninstaller_version = \"1.0.1\"\n\
             \n[server]\nfile = \"fabric-server-mc.1.20.1-loader.0.16.10-launcher.1.0.1.jar\"\n\
             url = \"https://meta.fabricmc.net/v2/versions/loader/1.20.1/0.16.10/1.0.1/server/jar\"\n\
             size = 72\nsha1 = \"{}\"\nsha512 = \"{}\"\n\
             \n[[cache]]\npath = \"{path}\"\nurl = \"https://piston-data.mojang.com/x/server.jar\"\nsize = 9\nsha256 = \"{}\"\n",
            "a".repeat(40),
            "b".repeat(128),
            "c".repeat(64)
        )
    };
    let problems = |path: &str| {
        let mut f = RepoFiles::default();
        f.files.insert("server.toml".into(), server.clone());
        f.files.insert("mods.lock".into(), fake_lock(path).into_bytes());
        match repo::parse(&f) {
            Ok(_) => Vec::new(),
            Err(d) => d.iter().map(|d| d.to_string().lines().next().unwrap().to_string()).collect(),
        }
    };
    for bad in [
        "../../etc/cron.d/x.jar",
        "libraries/../../x.jar",
        "/root/x.jar",
        "mods/x.jar",
        ".fabric/server/.hidden.jar",
        "libraries/a//b.jar",
        "libraries/x.sh",
        ".fabric/server/../../x.jar",
    ] {
        let p = problems(bad);
        assert_eq!(p.len(), 1, "{bad}: {p:?}");
        assert!(
            p[0].starts_with("mods.lock:15:") && p[0].contains("is not a jar below `.fabric/server/` or `libraries/`"),
            "{bad}: {p:?}"
        );
    }
    assert_eq!(
        problems("libraries/net/fabricmc/intermediary/1.20.1/intermediary-1.20.1.jar"),
        Vec::<String>::new()
    );
    assert_eq!(problems(JAR_PATH), Vec::<String>::new());
}

/// Apply stores the bytes only when they are the locked ones, and never
/// trusts what is already under the key (the VPS can write there).
#[tokio::test]
async fn apply_stores_a_cached_file_only_with_the_locked_bytes() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::local(tmp.path(), &ServerName::new("grove")).unwrap();
    let client = reqwest::Client::new();
    let c = expected();
    let url = c.url.replacen("https://piston-data.mojang.com", &fake.endpoints().mojang_meta, 1);
    let hash = format!("sha256:{}", c.sha256);
    let key = store.asset_key(&hash);
    let stored = || async { store.get_bytes(&key).await.unwrap() };

    assert!(store_cached(&store, &client, &hash, &url, c.size).await.unwrap(), "uploaded");
    assert_eq!(stored().await, Some(vanilla_server_bytes("1.20.1")));
    assert!(!store_cached(&store, &client, &hash, &url, c.size).await.unwrap(), "already right");

    // A substitute of the same size, written by the VPS, is read, found wrong and replaced.
    let mut evil = vanilla_server_bytes("1.20.1");
    evil[0] = b'X';
    store.put_bytes(&key, evil).await.unwrap();
    assert!(store_cached(&store, &client, &hash, &url, c.size).await.unwrap());
    assert_eq!(stored().await, Some(vanilla_server_bytes("1.20.1")));

    // The source now answers other bytes: refused, nothing stored.
    store
        .object_store()
        .delete(&object_store::path::Path::from(key.as_str()))
        .await
        .unwrap();
    fake.tamper_vanilla_jar();
    let e = store_cached(&store, &client, &hash, &url, c.size).await.unwrap_err();
    assert!(matches!(e, CacheError::Hash { .. } | CacheError::Size { .. }), "{e}");
    assert_eq!(stored().await, None);
}
