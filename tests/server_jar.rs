//! The server jar in mods.lock's `[server]`: `mods lock` / `mods update`
//! pinning Fabric's launcher or Mojang's jar from their bytes, against the
//! in-process fake of Fabric meta and Mojang's piston-meta / piston-data.

#[path = "fakes/modrinth.rs"]
mod modrinth_fake;

use std::path::Path;

use mc_gitops::assets;
use mc_gitops::modrinth::admin::{ModsCommand, run_with};
use mc_gitops::modrinth::lockfile;
use mc_gitops::repo::{self, Loader, ModsLock, ServerJar};
use modrinth_fake::*;
use sha1::Sha1;
use sha2::{Digest, Sha512};
use tempfile::TempDir;

const LAUNCHER: &str = "fabric-server-mc.1.20.1-loader.0.16.10-launcher.1.0.1.jar";
const LAUNCHER_URL: &str = "https://meta.fabricmc.net/v2/versions/loader/1.20.1/0.16.10/1.0.1/server/jar";

/// A state repo with the example's server.toml (edited by `edit`), no mods.toml and no mods.lock.
fn repo(edit: impl Fn(String) -> String) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example/server.toml");
    let server = edit(std::fs::read_to_string(example).unwrap());
    std::fs::write(dir.path().join("server.toml"), server).unwrap();
    dir
}

fn vanilla(version: &'static str) -> impl Fn(String) -> String {
    move |s| {
        s.replace("loader = \"fabric\"", "loader = \"vanilla\"")
            .replace("version = \"1.20.1\"", &format!("version = \"{version}\""))
    }
}

async fn mods(fake: &FakeModrinth, repo: &TempDir, cmd: ModsCommand) -> anyhow::Result<String> {
    let mut out = Vec::new();
    run_with(cmd, repo.path(), &fake.endpoints(), &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

fn loaded_lock(repo: &TempDir) -> ModsLock {
    match repo::load(repo.path()) {
        Ok(loaded) => loaded.desired.lock,
        Err(e) => panic!("{e:?}"),
    }
}

fn digests(bytes: &[u8]) -> (u64, String, String) {
    (
        bytes.len() as u64,
        hex::encode(Sha1::digest(bytes)),
        hex::encode(Sha512::digest(bytes)),
    )
}

fn jar_digests(jar: &ServerJar) -> (u64, String, String) {
    (jar.size, jar.sha1.clone(), jar.sha512.clone())
}

/// A lock as an older run would have left it: Fabric `loader`, and a server jar only if `with_jar`.
fn fabric_lock(loader: &str, with_jar: bool) -> String {
    let server = with_jar.then(|| {
        let (size, sha1, sha512) = digests(&fabric_server_bytes("1.20.1", loader, STABLE_INSTALLER));
        ServerJar {
            file: format!("fabric-server-mc.1.20.1-loader.{loader}-launcher.{STABLE_INSTALLER}.jar"),
            url: format!("https://meta.fabricmc.net/v2/versions/loader/1.20.1/{loader}/{STABLE_INSTALLER}/server/jar"),
            size,
            sha1,
            sha512,
        }
    });
    lockfile::render(&ModsLock {
        minecraft: "1.20.1".into(),
        loader: Loader::Fabric,
        loader_version: Some(loader.into()),
        installer_version: Some(STABLE_INSTALLER.into()),
        server,
        mods: Vec::new(),
        cache: Vec::new(),
    })
}

#[tokio::test]
async fn lock_pins_the_fabric_launcher_from_its_bytes_and_ships_it_as_server_jar() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let repo = repo(|s| s);
    let out = mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    assert!(out.contains(&format!("+ server.jar        {LAUNCHER}")), "{out}");

    let lock = loaded_lock(&repo);
    let jar = lock.server.clone().expect("a server jar");
    assert_eq!(
        (jar.file.as_str(), jar.url.as_str()),
        (LAUNCHER, LAUNCHER_URL),
        "the public URL, not the fake's"
    );
    assert_eq!(
        jar_digests(&jar),
        digests(&fabric_server_bytes("1.20.1", STABLE_LOADER, STABLE_INSTALLER))
    );
    let calls: Vec<String> = fake.calls().into_iter().map(|c| c.uri).collect();
    assert_eq!(
        calls.iter().filter(|u| u.ends_with("/server/jar")).collect::<Vec<_>>(),
        ["/v2/versions/loader/1.20.1/0.16.10/1.0.1/server/jar"],
        "downloaded once"
    );

    // The planner ships it where the agent's `java -jar server.jar` looks.
    let files = assets::render_files(&repo::load(repo.path()).unwrap().desired);
    let shipped = &files[assets::SERVER_JAR];
    assert_eq!(shipped.state.hash, format!("sha512:{}", jar.sha512));
    assert_eq!((shipped.url.as_deref(), shipped.size), (Some(LAUNCHER_URL), Some(jar.size)));
    assert!(shipped.bytes.is_none(), "downloaded by the VPS, not stored");

    // Nothing new: no request at all, and the file is untouched.
    fake.clear_calls();
    let again = mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    assert!(again.starts_with("mods.lock is up to date: 0 mods"), "{again}");
    assert_eq!(fake.calls().len(), 0, "{:?}", fake.calls());
}

/// Upgrading: a lock from before server jars were pinned keeps its versions and gains the jar.
#[tokio::test]
async fn an_old_lock_keeps_its_loader_and_gains_the_matching_jar() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let repo = repo(|s| s);
    std::fs::write(repo.path().join("mods.lock"), fabric_lock("0.16.9", false)).unwrap();
    let stale = format!("{:?}", repo::load(repo.path()).unwrap_err());
    assert!(stale.contains("pins no server jar"), "{stale}");

    let out = mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    assert!(
        out.contains("+ server.jar  fabric-server-mc.1.20.1-loader.0.16.9-launcher.1.0.1.jar\n"),
        "{out}"
    );
    // The jar pinned, then the cache it gains too (tests/library_cache.rs).
    let text = std::fs::read_to_string(repo.path().join("mods.lock")).unwrap();
    let (pinned, cache) = text.split_at(text.find("\n[[cache]]\n").expect("a [[cache]] table"));
    assert_eq!(pinned, fabric_lock("0.16.9", true));
    assert!(cache.contains("path = \".fabric/server/1.20.1-server.jar\""), "{cache}");
}

#[tokio::test]
async fn update_moves_the_launcher_and_the_diff_shows_it() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let repo = repo(|s| s);
    std::fs::write(repo.path().join("mods.lock"), fabric_lock("0.16.9", true)).unwrap();
    let out = mods(&fake, &repo, ModsCommand::Update { slugs: vec![] }).await.unwrap();
    for line in [
        "~ fabric-loader  0.16.9 → 0.16.10",
        "~ server.jar     fabric-server-mc.1.20.1-loader.0.16.9-launcher.1.0.1.jar → fabric-server-mc.1.20.1-loader.0.16.10-launcher.1.0.1.jar",
        &format!("+url = \"{LAUNCHER_URL}\""),
    ] {
        assert!(out.contains(line), "`{line}` missing from: {out}");
    }
    assert_eq!(loaded_lock(&repo).server.unwrap().file, LAUNCHER);

    // Same versions, other bytes (the example's illustrative hashes): update re-downloads and says so.
    let text = std::fs::read_to_string(repo.path().join("mods.lock")).unwrap();
    let real = loaded_lock(&repo).server.unwrap().sha512;
    std::fs::write(repo.path().join("mods.lock"), text.replace(&real, &"c".repeat(128))).unwrap();
    let kept = mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    assert!(kept.starts_with("mods.lock is up to date"), "`lock` keeps a pinned jar: {kept}");
    let out = mods(&fake, &repo, ModsCommand::Update { slugs: vec![] }).await.unwrap();
    assert!(
        out.contains(&format!("~ server.jar  {LAUNCHER} (sha512 cccccccccccc… → {}…)", &real[..12])),
        "{out}"
    );
}

#[tokio::test]
async fn a_launcher_fabric_meta_does_not_have_is_refused_naming_the_versions() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let repo = repo(|s| s);
    std::fs::write(repo.path().join("mods.lock"), fabric_lock("0.15.99", false)).unwrap();
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    for part in [
        "Fabric meta has no server launcher for Minecraft 1.20.1 with loader 0.15.99 and installer 1.0.1",
        "answered 404",
        "mc-gitops mods update",
    ] {
        assert!(err.contains(part), "`{part}` missing from: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(repo.path().join("mods.lock")).unwrap(),
        fabric_lock("0.15.99", false),
        "the lock is left as it was"
    );
}

#[tokio::test]
async fn a_busy_fabric_meta_is_retried_and_an_unavailable_one_leaves_no_lock() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let jar_calls = |fake: &FakeModrinth| fake.calls().iter().filter(|c| c.uri.ends_with("/server/jar")).count();
    let repo = repo(|s| s);
    fake.fail_launcher_with_503(2);
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    assert_eq!(jar_calls(&fake), 3, "two 503s, then the jar");
    assert_eq!(loaded_lock(&repo).server.unwrap().file, LAUNCHER);

    let fake = FakeModrinth::start(Vec::new()).await;
    let repo = self::repo(|s| s);
    fake.fail_launcher_with_503(10);
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    assert!(
        err.contains(&format!("cannot lock the server jar `{LAUNCHER}`")) && err.contains("answered 503"),
        "{err}"
    );
    assert_eq!(jar_calls(&fake), 3, "three attempts, then it gives up");
    assert!(!repo.path().join("mods.lock").exists());
}

#[tokio::test]
async fn vanilla_pins_mojangs_jar_checked_against_its_sha1() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let repo = repo(vanilla("1.20.1"));
    let out = mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    assert!(out.contains("+ server.jar  minecraft_server.1.20.1.jar"), "{out}");

    let lock = loaded_lock(&repo);
    assert_eq!((lock.loader, &lock.loader_version, lock.mods.len()), (Loader::Vanilla, &None, 0));
    let jar = lock.server.unwrap();
    let bytes = vanilla_server_bytes("1.20.1");
    let (_, sha1, _) = digests(&bytes);
    assert_eq!(jar.file, "minecraft_server.1.20.1.jar");
    assert_eq!(
        jar.url,
        format!("https://piston-data.mojang.com/v1/objects/{sha1}/server.jar"),
        "Mojang's URL, not the fake's"
    );
    assert_eq!(jar_digests(&jar), digests(&bytes));
    let calls: Vec<String> = fake.calls().into_iter().map(|c| c.uri).collect();
    assert_eq!(
        calls.len(),
        3,
        "manifest, version JSON, jar; neither Modrinth nor Fabric meta: {calls:?}"
    );
    assert_eq!(calls[0], "/mc/game/version_manifest_v2.json");
    let text = std::fs::read_to_string(repo.path().join("mods.lock")).unwrap();
    assert!(!text.contains("loader_version") && !text.contains("[[mod]]"), "{text}");
    let pack = repo.path().join("grove.mrpack");
    let err = mods(&fake, &repo, ModsCommand::Export { mrpack: pack.clone() }).await.unwrap_err();
    assert!(
        err.to_string().contains("runs vanilla Minecraft: there are no mods to export"),
        "{err}"
    );
    assert!(!pack.exists());
}

#[tokio::test]
async fn a_vanilla_jar_that_does_not_match_mojangs_sha1_is_refused() {
    let fake = FakeModrinth::start(Vec::new()).await;
    fake.tamper_vanilla_jar();
    let repo = repo(vanilla("1.20.1"));
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    let (size, sha1, _) = digests(&vanilla_server_bytes("1.20.1"));
    for part in [
        "the Minecraft 1.20.1 server jar does not match Mojang's manifest",
        &format!("the manifest says {size} bytes with sha1 {sha1}"),
        "refusing to lock it",
    ] {
        assert!(err.contains(part), "`{part}` missing from: {err}");
    }
    assert!(!repo.path().join("mods.lock").exists());
}

#[tokio::test]
async fn vanilla_refuses_mods_and_unknown_versions() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let repo = repo(vanilla("1.20.1"));
    std::fs::write(repo.path().join("mods.toml"), "[mods]\nlithium = {}\n").unwrap();
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    assert!(err.contains("mods need `loader = \"fabric\"`"), "{err}");

    let repo = self::repo(vanilla("1.7.10"));
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    assert!(
        err.contains("Mojang's version manifest has no Minecraft 1.7.10; the newest release is 1.20.2"),
        "{err}"
    );
}

/// The path a user takes: the binary with the Mojang address from the environment, then `check`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_locks_a_vanilla_repo_that_check_then_accepts() {
    let fake = FakeModrinth::start(Vec::new()).await;
    let repo = repo(vanilla("1.20.2"));
    let (base, dir) = (fake.base.clone(), repo.path().display().to_string());
    let run = move |args: &'static [&'static str]| {
        let (base, dir) = (base.clone(), dir.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
                .args(args)
                .args(["--repo", &dir])
                .env("MOJANG_META_BASE_URL", &base)
                .env("MODRINTH_API_BASE_URL", "http://127.0.0.1:9")
                .env("FABRIC_META_BASE_URL", "http://127.0.0.1:9")
                .output()
                .unwrap()
        })
    };
    let out = run(&["check"]).await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mods.lock") && stderr.contains("is missing"), "{stderr}");
    assert!(stderr.contains("mc-gitops mods lock"), "{stderr}");

    let out = run(&["mods", "lock"]).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(loaded_lock(&repo).server.unwrap().file, "minecraft_server.1.20.2.jar");
    let out = run(&["check"]).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
