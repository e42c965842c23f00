//! The lock as a file and what is made from it: downloads keep only the locked
//! bytes, the mrpack export, a pure resolution, the example lock read back, a
//! project named twice, and the binary's lock → check → export.

use super::*;

#[tokio::test]
async fn fetch_verified_keeps_only_the_locked_bytes() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nlithium = {}\n");
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    let lithium = entry(&loaded_lock(&repo), "lithium").clone();
    let (client, dir) = (reqwest::Client::new(), tempfile::tempdir().unwrap());
    let url = fake.local_url(&lithium.url);

    let dest = dir.path().join(&lithium.file);
    fetch::fetch_verified(&client, &url, &lithium.sha512, lithium.size, &dest)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), fake.version("LITH0112").bytes);

    let wrong = "ab".repeat(64);
    let bad = dir.path().join("tampered.jar");
    let err = fetch::fetch_verified(&client, &url, &wrong, lithium.size, &bad)
        .await
        .unwrap_err()
        .to_string();
    for part in ["tampered.jar", url.as_str(), wrong.as_str(), lithium.sha512.as_str()] {
        assert!(err.contains(part), "`{part}` missing from: {err}");
    }
    let err = fetch::fetch_verified(&client, &url, &lithium.sha512, lithium.size - 1, &bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("mods.lock says"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from(&lithium.file)], "no file and no .part left behind");
}

#[tokio::test]
async fn the_mrpack_lists_every_locked_mod_with_hashes_env_and_versions() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nneeds-api = {}\nsodium = {}\n");
    mods(&fake, &repo, ModsCommand::Lock).await.unwrap();
    let out_path = repo.path().join("grove.mrpack");
    let out = mods(&fake, &repo, ModsCommand::Export { mrpack: out_path.clone() }).await.unwrap();
    assert!(out.contains("3 mods") && out.contains("1 client-only"), "{out}");

    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out_path).unwrap()).unwrap();
    assert_eq!(zip.len(), 1);
    let index: serde_json::Value = serde_json::from_reader(zip.by_name(mrpack::INDEX).unwrap()).unwrap();
    assert_eq!(index["formatVersion"], 1);
    assert_eq!(index["game"], "minecraft");
    assert_eq!(index["name"], "grove");
    assert!(index["versionId"].as_str().unwrap().starts_with("1.20.1-"));
    assert_eq!(
        index["dependencies"],
        serde_json::json!({"minecraft": "1.20.1", "fabric-loader": STABLE_LOADER})
    );
    let client = reqwest::Client::new();
    let files = index["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    for f in files {
        let path = f["path"].as_str().unwrap();
        let file = path.strip_prefix("mods/").unwrap();
        assert!(!file.contains('/') && !file.contains("..") && !path.starts_with('/'), "{path}");
        let url = f["downloads"][0].as_str().unwrap();
        assert!(url.starts_with("https://cdn.modrinth.com/"), "{url}");
        let bytes = client.get(fake.local_url(url)).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(f["fileSize"], bytes.len());
        assert_eq!(f["hashes"]["sha1"], hex::encode(<sha1::Sha1 as sha2::Digest>::digest(&bytes)));
        assert_eq!(f["hashes"]["sha512"], hex::encode(<sha2::Sha512 as sha2::Digest>::digest(&bytes)));
        let env = (f["env"]["client"].as_str().unwrap(), f["env"]["server"].as_str().unwrap());
        let expected = if file.starts_with("sodi") {
            ("required", "unsupported")
        } else {
            ("required", "required")
        };
        assert_eq!(env, expected, "{path}");
    }

    let mut evil = loaded_lock(&repo);
    evil.mods[0].file = "../../.bashrc".into();
    let err = mrpack::index(&evil, "grove").unwrap_err().to_string();
    assert!(err.contains("../../.bashrc"), "{err}");
}

#[test]
fn resolution_is_pure_and_asks_only_for_what_it_lacks() {
    let world = world();
    let fake = |slug: &str| world.iter().find(|p| p.slug == slug).unwrap();
    let project = |slug: &str| serde_json::from_value::<Project>(project_json(fake(slug))).unwrap();
    let versions = |slug: &str| {
        let p = fake(slug);
        p.versions
            .iter()
            .map(|v| serde_json::from_value::<Version>(version_json(p, v)).unwrap())
            .collect()
    };
    let wanted = BTreeMap::from([("needs-api".to_string(), WantedMod::default())]);
    let req = Request {
        minecraft: "1.20.1",
        loader: "fabric",
        allow_beta: false,
        wanted: &wanted,
        prefer: BTreeMap::new(),
    };
    let mut cat = Catalog::default();
    let need = |n: Need| Ok(Step::Need(BTreeSet::from([n])));
    assert_eq!(resolve(&req, &cat), need(Need::Project("needs-api".into())));
    cat.add_project("needs-api", Some(project("needs-api")));
    assert_eq!(resolve(&req, &cat), need(Need::Versions("NEEDSAPI".into())));
    cat.add_versions("NEEDSAPI", versions("needs-api"));
    assert_eq!(resolve(&req, &cat), need(Need::Project(FABRIC_API.into())));
    cat.add_project(FABRIC_API, Some(project("fabric-api")));
    assert_eq!(resolve(&req, &cat), need(Need::Versions(FABRIC_API.into())));
    cat.add_versions(FABRIC_API, versions("fabric-api"));
    let Ok(Step::Done(mods)) = resolve(&req, &cat) else {
        panic!("not done")
    };
    let got: Vec<(&str, &str, bool)> = mods.iter().map(|m| (m.slug.as_str(), m.version_id.as_str(), m.requested)).collect();
    assert_eq!(got, [("fabric-api", "FAPI0922", false), ("needs-api", "NEEDS100", true)]);
}

#[test]
fn the_example_lock_renders_to_a_lock_that_reads_back_the_same() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
    let lock = repo::load(&example).expect("the example loads").desired.lock;
    let repo = repo_with(&std::fs::read_to_string(example.join("mods.toml")).unwrap());
    std::fs::write(repo.path().join("mods.lock"), lockfile::render(&lock)).unwrap();
    let mut back = loaded_lock(&repo);
    let mut sorted = lock.clone();
    sorted.mods.sort_by(|a, b| a.slug.cmp(&b.slug));
    back.mods.sort_by(|a, b| a.slug.cmp(&b.slug));
    assert_eq!(back, sorted);
}

/// Regression: a slug and its project id in one mods.toml were fetched in the same batch, and the
/// second name, already known through the first, tripped the "no progress" guard instead of this error.
#[tokio::test]
async fn a_project_named_by_slug_and_by_id_is_refused_as_a_duplicate() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nfabric-api = {}\nP7dR8mSH = {}\n");
    let err = format!("{:#}", mods(&fake, &repo, ModsCommand::Lock).await.unwrap_err());
    assert!(
        err.contains("names project P7dR8mSH twice, as `P7dR8mSH` and as `fabric-api`"),
        "{err}"
    );
}

/// The path a user takes: the binary, with the API addresses from the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_locks_then_check_accepts_and_export_writes_a_pack() {
    let fake = FakeModrinth::start(world()).await;
    let repo = repo_with("[mods]\nneeds-api = {}\nsodium = {}\n");
    let ep = fake.endpoints();
    let run = |args: Vec<String>| {
        let (modrinth, meta, mojang) = (ep.modrinth.clone(), ep.fabric_meta.clone(), ep.mojang_meta.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
                .args(args)
                .env("MODRINTH_API_BASE_URL", modrinth)
                .env("FABRIC_META_BASE_URL", meta)
                .env("MOJANG_META_BASE_URL", mojang)
                .output()
                .unwrap()
        })
    };
    let dir = repo.path().display().to_string();
    let out = run(vec!["mods".into(), "--repo".into(), dir.clone(), "lock".into()]).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lock = loaded_lock(&repo);
    assert!(!entry(&lock, "fabric-api").requested, "pulled in as a dependency");
    let out = run(vec!["check".into(), "--repo".into(), dir.clone()]).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pack = repo.path().join("grove.mrpack").display().to_string();
    let out = run(vec![
        "mods".into(),
        "--repo".into(),
        dir,
        "export".into(),
        "--mrpack".into(),
        pack.clone(),
    ])
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(pack).unwrap().len() > 0);
}
