//! Tests of provisioning: the managed keys, paths kept inside the
//! directory, verified downloads, the hand-over, the restore overlapping the
//! downloads and the wait for Java.

use super::*;

#[test]
fn paths_stay_inside_the_directory() {
    let d = Path::new("/srv/mc");
    assert_eq!(
        inside(d, "config/lithium.properties"),
        Some(PathBuf::from("/srv/mc/config/lithium.properties"))
    );
    for bad in ["../etc/passwd", "/etc/passwd", "mods/../../x", "", "./x"] {
        assert_eq!(inside(d, bad), None, "{bad}");
    }
}

#[test]
fn managed_keys_replace_whatever_the_file_had() {
    let pw = Secret::new("pw123");
    let out = managed_properties("motd=Grove\nenable-rcon=false\nwhite-list=false\n", 25565, 25575, &pw);
    assert!(out.starts_with("motd=Grove\n"));
    assert_eq!(out.matches("enable-rcon=").count(), 1);
    assert!(out.contains("enable-rcon=true\n"));
    assert!(out.contains("rcon.password=pw123\n"));
    assert!(out.contains("white-list=true\n") && out.contains("enforce-whitelist=true\n"));
}

struct NewWorld;
impl Snapshots for NewWorld {
    async fn snapshot(&mut self, reason: super::super::traits::SnapshotReason) -> PortResult<super::super::traits::SnapshotRef> {
        Err(err("snapshot", format!("not in this test ({reason})")))
    }
    async fn restore(&mut self) -> PortResult<Option<super::super::traits::SnapshotRef>> {
        Ok(None)
    }
}

/// A one-file CDN on 127.0.0.1.
async fn cdn(bytes: &'static [u8]) -> String {
    let app = axum::Router::new().route("/mod.jar", axum::routing::get(move || async move { bytes }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mod.jar", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn setup(tmp: &Path) -> FilesProvision<NewWorld> {
    setup_with(tmp, NewWorld)
}

fn setup_with<W>(tmp: &Path, world: W) -> FilesProvision<W> {
    FilesProvision {
        store: Store::local(&tmp.join("storage"), &crate::ids::ServerName::new("grove")).unwrap(),
        dir: tmp.join("mc"),
        client: reqwest::Client::new(),
        game_port: 25565,
        rcon_port: 25575,
        rcon_password: Secret::new("pw-from-the-vps"),
        world,
        owner: None,
        java: None,
        placed: None,
    }
}

#[tokio::test]
async fn fetches_stored_files_and_mods_verified_and_sets_the_managed_keys() {
    use sha2::{Digest, Sha512};
    let tmp = tempfile::tempdir().unwrap();
    let mut p = setup(tmp.path());
    let props = b"motd=Grove\n".to_vec();
    let h = format!("sha256:{}", sha256_hex(&props));
    p.store.put_asset(&h, props.clone()).await.unwrap();
    let jar: &'static [u8] = b"PK fake jar";
    let url = cdn(jar).await;
    let mut doc = ControlDoc::default();
    doc.assets.insert(
        "server.properties".into(),
        AssetRef {
            hash: h,
            url: None,
            size: Some(props.len() as u64),
            cache: false,
        },
    );
    doc.assets.insert(
        "mods/lithium.jar".into(),
        AssetRef {
            hash: format!("sha512:{}", hex::encode(Sha512::digest(jar))),
            url: Some(url.clone()),
            size: Some(jar.len() as u64),
            cache: false,
        },
    );
    p.provision(&doc).await.unwrap();
    assert_eq!(std::fs::read(tmp.path().join("mc/mods/lithium.jar")).unwrap(), jar);
    let out = std::fs::read_to_string(tmp.path().join("mc/server.properties")).unwrap();
    assert!(
        out.starts_with("motd=Grove\n") && out.contains("rcon.password=pw-from-the-vps\n"),
        "{out}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join("mc/server.properties"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A mod whose bytes do not match is refused and not left behind.
    doc.assets.insert(
        "mods/evil.jar".into(),
        AssetRef {
            hash: format!("sha512:{}", "0".repeat(128)),
            url: Some(url),
            size: Some(jar.len() as u64),
            cache: false,
        },
    );
    let e = p.provision(&doc).await.unwrap_err();
    assert!(crate::error::render_error(&e).contains("mods/evil.jar"), "{e}");
    assert!(!tmp.path().join("mc/mods/evil.jar").exists());
}

/// The server jar arrives as apply writes it into desired.json (a url asset named
/// `server.jar`) and lands where `java -jar server.jar` looks, only with the locked bytes.
#[tokio::test]
async fn the_server_jar_is_downloaded_verified_and_a_mismatch_is_refused() {
    use sha2::{Digest, Sha512};
    let tmp = tempfile::tempdir().unwrap();
    let mut p = setup(tmp.path());
    let jar: &'static [u8] = b"PK fabric server launcher";
    let url = cdn(jar).await;
    let doc = |sha512: String| -> ControlDoc {
        let json = serde_json::json!({
            "version": 1, "session": null, "stop_requested": null, "stop_reason": null,
            "whitelist": [], "ops": [], "written": null,
            "assets": { crate::assets::SERVER_JAR: { "hash": format!("sha512:{sha512}"), "url": url, "size": jar.len() } },
        });
        serde_json::from_value(json).unwrap()
    };
    p.provision(&doc(hex::encode(Sha512::digest(jar)))).await.unwrap();
    assert_eq!(std::fs::read(tmp.path().join("mc/server.jar")).unwrap(), jar);

    let other = tempfile::tempdir().unwrap();
    let mut p = setup(other.path());
    let e = p.provision(&doc("ab".repeat(64))).await.unwrap_err();
    let e = crate::error::render_error(&e);
    assert!(e.contains("server.jar") && e.contains(&"ab".repeat(64)), "{e}");
    let left: Vec<_> = std::fs::read_dir(other.path().join("mc"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "neither server.jar nor a .part is left: {left:?}");
}

#[tokio::test]
async fn refuses_paths_outside_the_directory_and_missing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = setup(tmp.path());
    let mut doc = ControlDoc::default();
    doc.assets.insert(
        "../escape".into(),
        AssetRef {
            hash: "sha256:00".into(),
            url: None,
            size: None,
            cache: false,
        },
    );
    let e = p.provision(&doc).await.unwrap_err();
    assert!(crate::error::render_error(&e).contains("leaves the Minecraft directory"), "{e}");
    let mut doc = ControlDoc::default();
    doc.assets.insert(
        "ops.json".into(),
        AssetRef {
            hash: "sha256:ab".into(),
            url: None,
            size: None,
            cache: false,
        },
    );
    let e = p.provision(&doc).await.unwrap_err();
    assert!(
        crate::error::render_error(&e).contains("assets/grove/sha256-ab is not in local directory"),
        "{e}"
    );
}

/// Minecraft replaced server.properties with a link to the agent's
/// config before an agent restart: the agent refuses to read through it
/// (the credentials would land in a file Minecraft reads).
#[tokio::test]
async fn a_linked_server_properties_is_not_read_through() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = setup(tmp.path());
    std::fs::create_dir_all(&p.dir).unwrap();
    std::fs::write(tmp.path().join("agent.toml"), "secret_access_key = \"s3cr3t\"").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("agent.toml"), p.dir.join("server.properties")).unwrap();
    let e = p.provision(&ControlDoc::default()).await.unwrap_err();
    let e = crate::error::render_error(&e);
    assert!(e.contains("server.properties") && e.contains("a link is never followed"), "{e}");
    let text = std::fs::read_to_string(p.dir.join("server.properties")).unwrap();
    assert!(!text.contains("rcon.password"), "nothing was written through the link");
}

/// With a `minecraft_user`, the whole directory is theirs once provisioned.
#[tokio::test]
async fn the_directory_is_handed_to_the_minecraft_user() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let user = super::super::user::tests::someone();
    let mut p = setup(tmp.path());
    p.owner = Some(user.clone());
    let props = b"motd=Grove\n".to_vec();
    let h = format!("sha256:{}", sha256_hex(&props));
    p.store.put_asset(&h, props.clone()).await.unwrap();
    let mut doc = ControlDoc::default();
    doc.assets.insert(
        "config/x/server.properties.example".into(),
        AssetRef {
            hash: h,
            url: None,
            size: Some(props.len() as u64),
            cache: false,
        },
    );
    p.provision(&doc).await.unwrap();
    for rel in ["", "config", "config/x", "config/x/server.properties.example", "server.properties"] {
        let m = std::fs::symlink_metadata(tmp.path().join("mc").join(rel)).unwrap();
        assert_eq!((m.uid(), m.gid()), (user.uid, user.gid), "{rel}");
    }
}

/// A world that counts its restores and writes `world/level.dat`, as a
/// restore replaces the world directory.
struct CountingWorld {
    dir: PathBuf,
    restores: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}
impl Snapshots for CountingWorld {
    async fn snapshot(&mut self, reason: super::super::traits::SnapshotReason) -> PortResult<super::super::traits::SnapshotRef> {
        Err(err("snapshot", format!("not in this test ({reason})")))
    }
    async fn restore(&mut self) -> PortResult<Option<super::super::traits::SnapshotRef>> {
        self.restores.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let world = self.dir.join(WORLD_DIR);
        let _ = std::fs::remove_dir_all(&world);
        std::fs::create_dir_all(&world).unwrap();
        std::fs::write(world.join("level.dat"), b"restored").unwrap();
        Ok(None)
    }
}

/// Java is installed by cloud-init while the agent provisions: the
/// agent waits for it after the files are in place, and an attempt
/// after a reported wait does not restore the world a second time.
#[tokio::test]
async fn provisioning_waits_for_java_and_a_retry_does_not_restore_again() {
    let tmp = tempfile::tempdir().unwrap();
    let restores = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let java = tmp.path().join("bin/java");
    let world = CountingWorld {
        dir: tmp.path().join("mc"),
        restores: restores.clone(),
    };
    let mut p = FilesProvision {
        java: Some(java.display().to_string()),
        ..setup_with(tmp.path(), world)
    };
    assert!(!executable_now(&java.display().to_string()));
    let doc = ControlDoc::default();
    // cloud-init's apt finishes while the agent waits.
    let installer = {
        let java = java.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            std::fs::create_dir_all(java.parent().unwrap()).unwrap();
            std::fs::write(&java, "#!/bin/sh\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&java, std::fs::Permissions::from_mode(0o755)).unwrap();
        })
    };
    p.provision(&doc).await.unwrap();
    installer.await.unwrap();
    assert!(tmp.path().join("mc/server.properties").exists() && tmp.path().join("mc/world/level.dat").exists());
    assert_eq!(restores.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The same document again (a retry): nothing is restored again.
    p.provision(&doc).await.unwrap();
    assert_eq!(restores.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(executable_now("sh"), "a name is looked up on PATH");
    assert!(!executable_now("no-such-java-mcg"));
}

/// Files listed under `world/` (a datapack) are written after the
/// restore that replaces the world directory, never lost to it.
#[tokio::test]
async fn files_inside_the_world_are_placed_after_the_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let world = CountingWorld {
        dir: tmp.path().join("mc"),
        restores: Default::default(),
    };
    let mut p = setup_with(tmp.path(), world);
    let pack = b"datapack bytes".to_vec();
    let h = format!("sha256:{}", sha256_hex(&pack));
    p.store.put_bytes(&p.store.asset_key(&h), pack.clone()).await.unwrap();
    let mut doc = ControlDoc::default();
    doc.assets.insert(
        "world/datapacks/grove.zip".into(),
        AssetRef {
            hash: h,
            url: None,
            size: Some(pack.len() as u64),
            cache: false,
        },
    );
    p.provision(&doc).await.unwrap();
    assert_eq!(std::fs::read(tmp.path().join("mc/world/datapacks/grove.zip")).unwrap(), pack);
    assert_eq!(std::fs::read(tmp.path().join("mc/world/level.dat")).unwrap(), b"restored");
}

#[test]
fn passwords_are_long_and_fresh() {
    let (a, b) = (rcon_password(), rcon_password());
    assert_eq!(a.expose().len(), 32);
    assert_ne!(a.expose(), b.expose());
}

/// A `[[cache]]` file (the vanilla jar a Fabric server would download on its
/// first boot) is placed from storage where the launcher looks for it. The
/// VPS's keys can write `assets/<server>/`, so a substituted object is never
/// placed: another size is not read, the same size is refused by its sha256.
/// A listed stored file is then an error; a cached one is skipped (the
/// launcher downloads the jar itself, checked against Mojang's sha1).
#[tokio::test]
async fn a_cached_library_is_placed_and_a_substituted_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = setup(tmp.path());
    let jar = b"PK the vanilla server jar".to_vec();
    let h = format!("sha256:{}", sha256_hex(&jar));
    let rel = ".fabric/server/1.20.1-server.jar";
    let listed = |cache: bool| {
        let mut doc = ControlDoc::default();
        doc.assets.insert(
            rel.into(),
            AssetRef {
                hash: h.clone(),
                url: None,
                size: Some(jar.len() as u64),
                cache,
            },
        );
        doc
    };
    let key = p.store.asset_key(&h);

    let mut evil = jar.clone();
    evil[0] = b'X';
    p.store.put_bytes(&key, evil).await.unwrap();
    let e = p.provision(&listed(false)).await.unwrap_err();
    let e = crate::error::render_error(&e);
    assert!(e.contains(rel) && e.contains("desired.json says"), "{e}");
    assert!(!p.dir.join(rel).exists(), "a substitute of the same size is not placed");
    p.provision(&listed(true)).await.unwrap();
    assert!(!p.dir.join(rel).exists(), "a cached one is skipped, not placed");

    p.store.put_bytes(&key, vec![b'X'; 10_000]).await.unwrap();
    let e = p.provision(&listed(false)).await.unwrap_err();
    let e = crate::error::render_error(&e);
    assert!(e.contains("is 10000 bytes") && e.contains("not read"), "{e}");
    p.placed = None;
    p.provision(&listed(true)).await.unwrap();
    assert!(!p.dir.join(rel).exists());

    p.store.put_bytes(&key, jar.clone()).await.unwrap();
    p.placed = None;
    p.provision(&listed(true)).await.unwrap();
    assert_eq!(std::fs::read(p.dir.join(rel)).unwrap(), jar);

    // Even a cached file never leaves the directory.
    let mut doc = listed(true);
    let a = doc.assets.remove(rel).unwrap();
    doc.assets.insert("../outside.jar".into(), a);
    let e = p.provision(&doc).await.unwrap_err();
    let e = crate::error::render_error(&e);
    assert!(e.contains("leaves the Minecraft directory"), "{e}");
}
