//! Hostile-input corpus, the VPS side (issue 12, item 4): what a mod running
//! in Minecraft, or someone holding a key that leaked from a VPS, could do
//! to the agent's secrets, the renewals and the backups. Each test is one
//! attack, reproduced against the code before the fix.

mod common;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/discord.rs"]
mod discord_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "common/apply_world.rs"]
mod world;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use mc_gitops::agent::console::RconConsole;
use mc_gitops::agent::jvm::Jvm;
use mc_gitops::agent::traits::Minecraft;
use mc_gitops::agent::user::RunAs;
use mc_gitops::secret::Secret;
use world::{World, at, ok, session0};

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
