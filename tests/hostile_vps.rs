//! Hostile-input corpus, the VPS side (issue 12, item 4): what a mod running
//! in Minecraft, or someone holding a key that leaked from a VPS, could do
//! to the agent's secrets, the renewals and the backups. Each test is one
//! attack, reproduced against the code before the fix.

mod common;

#[path = "common/apply_world.rs"]
mod apply_world;
#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/discord.rs"]
mod discord_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "fakes/s3.rs"]
mod s3_fake;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use apply_world::{World, at, ok, session0};
use mc_gitops::agent::console::RconConsole;
use mc_gitops::agent::jvm::Jvm;
use mc_gitops::agent::traits::Minecraft;
use mc_gitops::agent::user::RunAs;
use mc_gitops::ids::ServerName;
use mc_gitops::secret::Secret;
use mc_gitops::world::{self as mc_world, BackupName, retention, vault};

fn is_root() -> bool {
    // SAFETY: a plain getter.
    unsafe { libc::geteuid() == 0 }
}

/// A console nobody answers: `stop` falls back to SIGTERM.
fn no_rcon() -> RconConsole {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    RconConsole::new(([127, 0, 0, 1], port).into(), Secret::new("pw"))
}

// A mod reads agent.toml (the R2 keys) from inside the JVM. Before: the JVM
// ran as the agent's user and read it. Now it runs as `minecraft_user`; as
// root (as on the VPS) the read is refused; not as root, the agent cannot
// switch users, and it refuses to start Minecraft at all rather than run it
// as itself.
#[tokio::test]
async fn a_mod_cannot_read_the_agents_config() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("agent.toml");
    std::fs::write(&secret, "secret_access_key = \"R2-KEY-the-mod-wants\"\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The "JVM" prints what it could read into the version line the agent parses.
    let script = format!(
        "v=$(cat {} 2>/dev/null || echo refused); echo \"Starting minecraft server version $v\"; echo 'Done (0.1s)! For help, type \"help\"'; while :; do sleep 0.05; done",
        secret.display()
    );
    let nobody = RunAs::lookup("nobody").expect("`nobody` exists");
    let mut jvm = Jvm::new(tmp.path().to_path_buf(), vec!["sh".into(), "-c".into(), script], no_rcon()).run_as(Some(nobody));
    let started = jvm.start().await;
    if !is_root() {
        let e = started.unwrap_err().to_string();
        assert!(e.contains("as nobody") && e.contains("Operation not permitted"), "{e}");
        return;
    }
    started.unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !jvm.loaded() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the fake server loads");
    let seen = jvm.version().unwrap();
    jvm.stop().await.unwrap();
    assert_eq!(seen, "refused", "the JVM read the agent's config");
}

// A key that leaked from a VPS keeps receiving renewals: before, the one
// `control/<s>/credentials.json` outlived every session. Now each session
// has its own document, deleted when the session closes (and the old shared
// one with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_session_leaves_no_renewal_document() {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    let session = session0().0;
    let doc = serde_json::json!({
        "version": 1, "access_key_id": "AK-renewed", "secret_access_key": "renewed-secret",
        "session_token": "renewed-token", "issued": at(5), "expires": at(600),
    });
    let per_session = format!("control/grove/credentials/{session}.json");
    for key in [per_session.as_str(), "control/grove/credentials.json"] {
        let p = w.storage_file(key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, serde_json::to_vec(&doc).unwrap()).unwrap();
    }

    // The session ends: stop asked, the agent's final snapshot, the server deleted.
    w.set_state("stopped");
    ok(&w.apply(&at(10)).await);
    let status = serde_json::json!({
        "phase": "terminating", "heartbeat": at(11), "session": session, "stopped_at": at(11),
        "ready_to_terminate": true,
    });
    std::fs::write(w.storage_file("control/grove/status.json"), serde_json::to_vec(&status).unwrap()).unwrap();
    w.agent_uploads_snapshot(&at(11)).await;
    let text = ok(&w.apply(&at(12)).await);
    assert!(w.open_sessions().is_empty(), "the session closed: {text}");
    for key in [per_session.as_str(), "control/grove/credentials.json"] {
        assert!(!w.storage_file(key).exists(), "{key} outlived its session");
    }
}

// The VPS (a mod, or a key that leaked from it) deletes every backup it can
// reach. Before: every backup lived under worlds/<s>/, inside the scope of
// its credentials, and was gone. Now the reconciler seals verified backups
// into vault/<s>/, which those credentials can neither read, list, copy,
// overwrite nor delete (the S3 fake enforces the minted scope as R2 does);
// the next start mends the deleted copy from the vault and restores it, and
// retention still deletes both copies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vps_cannot_destroy_sealed_backups() {
    let s3 = s3_fake::S3Server::start().await;
    let admin = s3.store_as(s3_fake::ACCESS_KEY, s3_fake::SECRET_KEY, "grove");
    let prefixes = mc_gitops::storage::credentials::agent_prefixes(&ServerName::new("grove"));
    s3.allow_scoped("AKVPSSCOPED0001", "vps-scoped-secret", &prefixes);
    let vps = s3.store_as("AKVPSSCOPED0001", "vps-scoped-secret", "grove");

    // Two snapshots, uploaded by the agent with the VPS's keys.
    let tmp = tempfile::tempdir().unwrap();
    let mut names = vec![];
    let mut manifests = vec![];
    for taken in ["2026-11-22T18:00:00Z", "2026-11-22T19:00:00Z"] {
        let dir = tmp.path().join(taken);
        std::fs::create_dir_all(dir.join("region")).unwrap();
        std::fs::write(dir.join("level.dat"), taken).unwrap();
        let m = mc_world::snapshot(&vps, &dir, taken.parse().unwrap(), &|_| true).await.unwrap();
        names.push(BackupName::from_key(&m.key).unwrap());
        manifests.push(m);
    }
    // The reconciler seals them (admin keys).
    for n in &names {
        assert!(vault::seal(&admin, n).await.unwrap());
    }

    // The attack on the vault: every way in is refused.
    let vault_pieces: Vec<String> = admin
        .list(&vault::pieces_prefix(&admin))
        .await
        .unwrap()
        .iter()
        .map(|o| o.location.to_string())
        .collect();
    assert!(!vault_pieces.is_empty(), "the pieces were sealed too");
    for key in &vault_pieces {
        assert!(vps.get_bytes(key).await.is_err(), "the VPS read {key}");
        assert!(vps.put_bytes(key, b"ransom".to_vec()).await.is_err(), "the VPS overwrote {key}");
        vps.delete(key).await.expect_err(&format!("the VPS deleted {key}"));
    }
    for n in &names {
        for key in [vault::list_key(&admin, n), vault::manifest_key(&admin, n)] {
            assert!(vps.get_bytes(&key).await.is_err(), "the VPS read {key}");
            assert!(vps.put_bytes(&key, b"ransom".to_vec()).await.is_err(), "the VPS overwrote {key}");
            vps.delete(&key).await.expect_err(&format!("the VPS deleted {key}"));
        }
        let e = vault::mend(&vps, n).await.expect_err("the VPS cannot even read the vault");
        assert!(format!("{e:?}").contains("AccessDenied"), "{e:?}");
    }
    assert!(vps.list(&vault::prefix(&admin)).await.is_err(), "the VPS listed the vault");
    // A copy out of the vault into the VPS's own prefix reads the vault: refused.
    let from = object_store::path::Path::from(vault::list_key(&admin, &names[0]));
    let to = object_store::path::Path::from("worlds/grove/stolen.tar.zst");
    assert!(
        vps.object_store().copy(&from, &to).await.is_err(),
        "the VPS copied out of the vault"
    );
    // What it can reach, it destroys: every piece, every list and manifest.
    for o in vps.list("worlds/grove/pieces/").await.unwrap() {
        vps.delete(o.location.as_ref()).await.unwrap();
    }
    for m in &manifests {
        vps.delete(&m.key).await.unwrap();
        vps.put_bytes(&BackupName::from_key(&m.key).unwrap().manifest_key(&vps), b"{}".to_vec())
            .await
            .unwrap();
    }
    vps.delete(&vps.current_key()).await.unwrap();

    // Both backups are still listed (sealed) and complete, for retention and restore.
    let listed = retention::list(&admin).await.unwrap();
    assert!(listed.iter().all(|b| b.sealed && b.complete()), "{listed:?}");
    // The next start: the reconciler mends, the agent restores with its own keys.
    assert!(vault::mend(&admin, &names[1]).await.unwrap());
    let target = tmp.path().join("restored");
    mc_world::restore(&vps, &manifests[1], &target, &|_| true).await.unwrap();
    assert_eq!(std::fs::read_to_string(target.join("level.dat")).unwrap(), "2026-11-22T19:00:00Z");
    // Retention removes a backup from both places.
    retention::remove(&admin, &names[0]).await.unwrap();
    assert!(!vault::holds(&admin, &names[0]).await.unwrap());
    assert!(vault::holds(&admin, &names[1]).await.unwrap());
}
