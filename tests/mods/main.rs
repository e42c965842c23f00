//! `mods lock | update | export` and the VPS download, against an in-process
//! fake of Modrinth and Fabric meta, on temporary state repos.

mod locked;
#[path = "../fakes/modrinth.rs"]
mod modrinth_fake;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use mc_gitops::modrinth::admin::{ModsCommand, run_with};
use mc_gitops::modrinth::resolve::{Request, Step, resolve};
use mc_gitops::modrinth::{Catalog, Need, Project, Version, fetch, lockfile, mrpack};
use mc_gitops::repo::{self, LoadError, ModsLock, Side, WantedMod};
use modrinth_fake::*;
use tempfile::TempDir;

const FABRIC_API: &str = "P7dR8mSH";

/// Enough of Modrinth for every test here.
fn world() -> Vec<FakeProject> {
    vec![
        project("fabric-api", FABRIC_API)
            .version(version("FAPI0921", "0.92.1+1.20.1", 1))
            .version(version("FAPI0922", "0.92.2+1.20.1", 2))
            .version(version("FAPI0930", "0.93.0+1.20.2", 9).for_game("1.20.2")),
        project("needs-api", "NEEDSAPI").version(version("NEEDS100", "1.0.0", 3).requires(FABRIC_API).optional("SODIUM01")),
        project("old-api-user", "OLDAPIUS").version(version("OLDAPI10", "1.0", 3).requires_version(FABRIC_API, "FAPI0921")),
        project("lithium", "gvQqBUqZ")
            .version(version("LITH0111", "mc1.20.1-0.11.1", 1))
            .version(version("LITH0112", "mc1.20.1-0.11.2", 4)),
        project("sodium", "SODIUM01")
            .client_only()
            .version(version("SODI0511", "mc1.20.1-0.5.11", 2)),
        project("sodium-extra", "SODEXTRA")
            .client_only()
            .version(version("SOEX0001", "0.5.1", 2).requires("SODIUM01").requires("CLOTHLIB")),
        project("cloth-lib", "CLOTHLIB").version(version("CLOTH110", "11.0", 1)),
        project("betamod", "BETAMOD1")
            .version(version("BETA0100", "1.0.0", 1))
            .version(version("BETA0110", "1.1.0-beta.1", 6).beta()),
        project("onlybeta", "ONLYBETA").version(version("ONLY0200", "2.0.0-beta.2", 5).beta()),
        project("grief-guard", "GRIEFGRD").version(version("GRIEF100", "1.0", 2).incompatible("gvQqBUqZ")),
        project("wants-old-lib", "WANTSOLD").version(version("WOLD0001", "1.0", 2).requires_version("SHAREDLB", "SHLIB100")),
        project("wants-new-lib", "WANTSNEW").version(version("WNEW0001", "1.0", 2).requires_version("SHAREDLB", "SHLIB200")),
        project("shared-lib", "SHAREDLB")
            .version(version("SHLIB100", "1.0", 1))
            .version(version("SHLIB200", "2.0", 2)),
    ]
}

/// A state repo with the example's server.toml and this mods.toml.
fn repo_with(mods_toml: &str) -> TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example/server.toml");
    std::fs::copy(example, dir.path().join("server.toml")).expect("copy server.toml");
    std::fs::write(dir.path().join("mods.toml"), mods_toml).expect("write mods.toml");
    dir
}

async fn mods(fake: &FakeModrinth, repo: &TempDir, cmd: ModsCommand) -> anyhow::Result<String> {
    let mut out = Vec::new();
    run_with(cmd, repo.path(), &fake.endpoints(), &mut out).await?;
    Ok(String::from_utf8(out).expect("UTF-8 output"))
}

/// The lock as the repo loader reads it: any problem, staleness included, fails the test.
fn loaded_lock(repo: &TempDir) -> ModsLock {
    let files = repo::read(repo.path()).expect("readable repo");
    match repo::parse(&files) {
        Ok(loaded) => loaded.desired.lock,
        Err(diags) => panic!("{}", diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

fn entry<'a>(lock: &'a ModsLock, slug: &str) -> &'a mc_gitops::repo::LockedMod {
    lock.mods
        .iter()
        .find(|m| m.slug == slug)
        .unwrap_or_else(|| panic!("no `{slug}` in the lock"))
}

#[tokio::test]
async fn a_required_dependency_is_pulled_in_unrequested_and_the_lock_is_valid() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nneeds-api = {}\n");
    let out = mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    assert!(out.contains("wrote mods.lock: 2 mods, 2 on the server"), "{out}");

    let lock = loaded_lock(&repo);
    let (needs, api) = (entry(&lock, "needs-api"), entry(&lock, "fabric-api"));
    assert!(needs.requested && !api.requested);
    assert_eq!(needs.dependencies, [FABRIC_API], "optional dependencies are not recorded");
    assert_eq!(api.version_number, "0.92.2+1.20.1", "the newest for 1.20.1, not the 1.20.2 one");
    let served = fake.version("FAPI0922");
    assert_eq!(
        (api.size, api.sha1.as_str(), api.sha512.as_str()),
        (served.bytes.len() as u64, &*served.sha1(), &*served.sha512())
    );
    assert_eq!(
        (lock.loader_version.as_deref(), lock.installer_version.as_deref()),
        (Some(STABLE_LOADER), Some(STABLE_INSTALLER))
    );
    assert!(lock.mods.iter().all(|m| m.slug != "sodium"), "optional dependencies stay out");
    let text = std::fs::read_to_string(repo.path().join("mods.lock")).unwrap();
    assert!(text.starts_with(lockfile::HEADER));
    assert_eq!(text, lockfile::render(&lock), "deterministic: parse and render give the same bytes");
    assert!(repo::load(repo.path()).is_ok());

    // The request shape: JSON-array filters, URL-encoded, and who is asking.
    let calls = fake.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.uri == "/v2/project/NEEDSAPI/version?loaders=%5B%22fabric%22%5D&game_versions=%5B%221.20.1%22%5D"),
        "{calls:#?}"
    );
    assert!(
        calls
            .iter()
            .all(|c| c.user_agent.as_deref().is_some_and(|ua| ua.starts_with("mc-gitops/")))
    );
    let mut meta: Vec<&str> = calls
        .iter()
        .filter(|c| c.uri.starts_with("/v2/versions/"))
        .map(|c| c.uri.as_str())
        .collect();
    meta.sort();
    assert_eq!(
        meta,
        [
            "/v2/versions/installer",
            "/v2/versions/loader/1.20.1",
            "/v2/versions/loader/1.20.1/0.16.10/1.0.1/server/jar"
        ],
        "loader, installer and the server launcher, once each"
    );
}

#[tokio::test]
async fn a_dependency_demanding_an_exact_version_gets_it() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nold-api-user = {}\nfabric-api = {}\n");
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    let api = entry(&loaded_lock(&repo), "fabric-api").clone();
    assert_eq!(api.version_id, "FAPI0921");
    assert!(api.requested, "still requested by mods.toml");
}

#[tokio::test]
async fn two_mods_demanding_different_versions_are_refused_naming_both() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nwants-old-lib = {}\nwants-new-lib = {}\n");
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    for name in ["wants-old-lib", "wants-new-lib", "shared-lib"] {
        assert!(err.contains(name), "{err}");
    }
    assert!(!repo.path().join("mods.lock").exists());
}

#[tokio::test]
async fn a_pin_against_a_demanded_version_is_refused() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nold-api-user = {}\nfabric-api = { version = \"0.92.2+1.20.1\" }\n");
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    assert!(
        err.contains("`old-api-user` requires `fabric-api` 0.92.1+1.20.1") && err.contains("mods.toml pins it"),
        "{err}"
    );
}

#[tokio::test]
async fn an_incompatible_pair_is_refused_naming_both() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\ngrief-guard = {}\nlithium = {}\n");
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    assert!(err.contains("`grief-guard` and `lithium` cannot be installed together"), "{err}");
}

#[tokio::test]
async fn client_only_mods_stay_in_the_lock_but_off_the_server() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nsodium-extra = {}\nlithium = {}\nfabric-api = { side = \"server\" }\n");
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    let lock = loaded_lock(&repo);
    let side = |slug| entry(&lock, slug).side;
    assert_eq!(side("sodium-extra"), Side::Client);
    assert_eq!(side("sodium"), Side::Client);
    assert_eq!(
        side("cloth-lib"),
        Side::Client,
        "a library only client mods need stays off the server"
    );
    assert_eq!(side("lithium"), Side::Both);
    assert_eq!(side("fabric-api"), Side::Server, "mods.toml's side wins");
    let server: Vec<&str> = lock.mods.iter().filter(|m| m.side.on_server()).map(|m| m.slug.as_str()).collect();
    assert_eq!(server, ["fabric-api", "lithium"]);
}

#[tokio::test]
async fn a_pin_is_honoured_and_a_missing_pin_lists_what_exists() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nlithium = { version = \"mc1.20.1-0.11.1\" }\n");
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    assert_eq!(entry(&loaded_lock(&repo), "lithium").version_id, "LITH0111");

    let repo = repo_with("[mods]\nlithium = { version = \"9.9\" }\n");
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    assert!(
        err.contains("pins `lithium` to 9.9") && err.contains("mc1.20.1-0.11.2, mc1.20.1-0.11.1"),
        "{err}"
    );
}

#[tokio::test]
async fn betas_are_taken_only_when_allowed_and_no_release_fits() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nbetamod = {}\n");
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    assert_eq!(
        entry(&loaded_lock(&repo), "betamod").version_number,
        "1.0.0",
        "the older release, not the newer beta"
    );

    let repo = repo_with("[mods]\nonlybeta = {}\n");
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    assert!(
        err.contains("`onlybeta` has no release") && err.contains("allow_beta = true"),
        "{err}"
    );

    let repo = repo_with("allow_beta = true\n[mods]\nonlybeta = {}\nbetamod = {}\n");
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    let lock = loaded_lock(&repo);
    assert_eq!(entry(&lock, "onlybeta").version_number, "2.0.0-beta.2");
    assert_eq!(
        entry(&lock, "betamod").version_number,
        "1.0.0",
        "a release still wins when one fits"
    );
}

#[tokio::test]
async fn an_unknown_slug_is_named_with_mods_toml() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nfabric-api = {}\nno-such-mod = {}\n");
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    assert!(
        err.contains("mods.toml asks for `no-such-mod`, but Modrinth has no project"),
        "{err}"
    );
    assert!(fake.calls().iter().any(|c| c.uri == "/v2/project/no-such-mod"));
}

#[tokio::test]
async fn rate_limit_headers_are_honoured() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nlithium = {}\n");
    fake.exhaust_window_at(2, 1);
    fake.fail_with_429(1, 1);
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    let calls = fake.calls();
    // 1: 429 (reset 1 s), 2: the retry, whose answer says the window is used up for 1 s, 3: next request.
    assert_eq!(calls[0].uri, calls[1].uri, "a 429 is retried");
    for pair in [(0, 1), (1, 2)] {
        let gap = calls[pair.1].at - calls[pair.0].at;
        assert!(
            gap >= Duration::from_millis(950),
            "call {} came {gap:?} after call {}",
            pair.1,
            pair.0
        );
    }
    assert!(
        calls[3].at - calls[2].at < Duration::from_millis(500),
        "no waiting while requests remain"
    );
}

#[tokio::test]
async fn the_loader_catches_a_stale_lock_and_lock_keeps_what_is_locked() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nfabric-api = {}\n");
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();

    std::fs::write(repo.path().join("mods.toml"), "[mods]\nfabric-api = {}\nlithium = {}\n").unwrap();
    match repo::load(repo.path()) {
        Err(LoadError::Invalid(diags)) => assert!(
            diags
                .iter()
                .any(|d| d.file == "mods.lock" && d.message.contains("stale") && d.message.contains("lithium")),
            "{diags:?}"
        ),
        other => panic!("a stale lock loaded: {other:?}"),
    }

    fake.publish("fabric-api", version("FAPI0923", "0.92.3+1.20.1", 7));
    let out = mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    let lock = loaded_lock(&repo);
    assert_eq!(
        entry(&lock, "fabric-api").version_number,
        "0.92.2+1.20.1",
        "kept, though a newer one exists"
    );
    assert_eq!(entry(&lock, "lithium").version_number, "mc1.20.1-0.11.2");
    assert!(out.contains("+ lithium") && !out.contains("fabric-api"), "{out}");

    fake.clear_calls();
    let again = mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    assert!(again.starts_with("mods.lock is up to date"), "{again}");
    // Kept versions are re-read by id (to re-check dependencies and incompatibilities); version
    // lists and Fabric meta are never asked.
    let mut uris: Vec<String> = fake.calls().into_iter().map(|c| c.uri).collect();
    uris.sort();
    assert_eq!(
        uris,
        [
            "/v2/project/fabric-api",
            "/v2/project/lithium",
            "/v2/version/FAPI0922",
            "/v2/version/LITH0112"
        ]
    );
}

#[tokio::test]
async fn update_moves_to_newer_versions_and_prints_the_diff() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nfabric-api = {}\nlithium = { version = \"mc1.20.1-0.11.1\" }\nbetamod = {}\n");
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    fake.publish("fabric-api", version("FAPI0923", "0.92.3+1.20.1", 7));
    fake.publish("betamod", version("BETA0200", "2.0.0", 8));

    let out = mods(
        &fake,
        &repo,
        ModsCommand::Update {
            slugs: vec!["fabric-api".into()],
        },
    )
    .await
    .unwrap();
    assert!(out.contains("~ fabric-api  0.92.2+1.20.1 → 0.92.3+1.20.1"), "{out}");
    for line in [
        "--- mods.lock (before)",
        "-version_number = \"0.92.2+1.20.1\"",
        "+version_number = \"0.92.3+1.20.1\"",
    ] {
        assert!(out.contains(line), "`{line}` missing from: {out}");
    }
    assert!(!out.contains("betamod"), "only the named mod moves: {out}");

    let out = mods(&fake, &repo, ModsCommand::Update { slugs: vec![] }).await.unwrap();
    assert!(out.contains("~ betamod  1.0.0 → 2.0.0"), "{out}");
    let lock = loaded_lock(&repo);
    assert_eq!(
        entry(&lock, "lithium").version_number,
        "mc1.20.1-0.11.1",
        "a pin holds through update"
    );

    let err = mods(
        &fake,
        &repo,
        ModsCommand::Update {
            slugs: vec!["nope".into()],
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("`nope` is neither in mods.toml nor in mods.lock"), "{err}");
}
