//! Hostile documents in storage (issue 12): anything on the VPS can write
//! `control/<s>/status.json`, and it must not be able to stop the reconciler
//! from stopping and deleting the VPS; nor, through the stored server files
//! in `assets/<s>/`, keep the next session from ever becoming playable. Each test is one attack, run through
//! `mc-gitops apply` against the fakes and a local object store, as
//! tests/hostile_guard.rs does.

mod common;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/discord.rs"]
mod discord_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "common/apply_world.rs"]
mod world;

use world::{World, at, ok};

/// Start a session, have the VPS write `status` as its status.json, ask for
/// a stop, then deliver the real final snapshot: the server must be deleted.
async fn a_stop_goes_through_despite(status: Vec<u8>) {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    std::fs::write(w.storage_file("control/grove/status.json"), status).unwrap();
    w.set_state("stopped");
    let text = ok(&w.apply(&at(10)).await);
    assert!(text.contains("status.json"), "the plan names the unreadable document: {text}");
    assert_eq!(w.h.server_count(), 1, "{text}");
    w.agent_uploads_snapshot(&at(11)).await;
    let text = ok(&w.apply(&at(12)).await);
    assert_eq!(w.h.server_count(), 0, "deleted after its final snapshot: {text}");
}

// A status.json that is not JSON failed every plan: a hostile VPS kept itself alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_status_json_does_not_keep_the_server_alive() {
    a_stop_goes_through_despite(b"{\"phase\": \"running\", \x00 not json".to_vec()).await;
}

// A 64 MiB status.json was read whole into the reconciler's memory, then failed the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_status_json_is_refused_unread_and_does_not_keep_the_server_alive() {
    let mut big = b"{\"phase\":\"running\",\"pad\":\"".to_vec();
    big.resize(64 << 20, b'x');
    big.extend_from_slice(b"\"}");
    a_stop_goes_through_despite(big).await;
}

// A current.json that is not JSON failed every plan, the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_current_json_does_not_keep_the_server_alive() {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    let current = w.storage_file("worlds/grove/current.json");
    std::fs::create_dir_all(current.parent().unwrap()).unwrap();
    std::fs::write(current, b"[not a pointer").unwrap();
    w.set_state("stopped");
    let text = ok(&w.apply(&at(10)).await);
    assert!(text.contains("current.json"), "the plan names the unreadable document: {text}");
    w.agent_uploads_snapshot(&at(11)).await;
    let text = ok(&w.apply(&at(12)).await);
    assert_eq!(w.h.server_count(), 0, "deleted after its final snapshot: {text}");
}

/// The stored bytes of `rel` as desired.json lists it: its key under `assets/grove/`.
fn stored_asset(w: &World, rel: &str) -> std::path::PathBuf {
    let doc: mc_gitops::storage::ControlDoc =
        serde_json::from_slice(&std::fs::read(w.storage_file("control/grove/desired.json")).unwrap()).unwrap();
    w.storage_file(&w.store().asset_key(&doc.assets[rel].hash))
}

// The VPS's scoped key can write `assets/<s>/`: it deleted one stored file
// and overwrote another. The next start listed them again unchanged (their
// hashes had not changed in the repo), so its agent refused the files and
// retried forever while the server billed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_vps_tampered_assets_are_sent_again_at_the_next_start() {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    let whitelist = stored_asset(&w, "whitelist.json");
    let properties = stored_asset(&w, "server.properties");
    std::fs::remove_file(&whitelist).unwrap();
    std::fs::write(&properties, b"enable-rcon=false\n").unwrap();
    w.set_state("stopped");
    ok(&w.apply(&at(10)).await);
    w.agent_uploads_snapshot(&at(11)).await;
    ok(&w.apply(&at(12)).await);
    assert_eq!(w.h.server_count(), 0);

    w.set_state("running");
    let text = ok(&w.apply(&at(20)).await);
    assert_eq!(w.h.server_count(), 1, "{text}");
    assert!(text.contains("whitelist.json") && text.contains("stored copy missing"), "{text}");
    assert!(text.contains("server.properties") && text.contains("stored copy altered"), "{text}");
    world::assert_desired_complete(&w, "the start after the VPS tampered with its assets");
    // The next start finds them whole and sends nothing again.
    w.set_state("stopped");
    ok(&w.apply(&at(30)).await);
    w.agent_uploads_snapshot(&at(31)).await;
    ok(&w.apply(&at(32)).await);
    w.set_state("running");
    let text = ok(&w.apply(&at(40)).await);
    assert_eq!(w.h.server_count(), 1, "{text}");
    assert!(!text.contains("stored copy") && !text.contains("file server.properties"), "{text}");
    world::assert_desired_complete(&w, "the start after that");
}

// Keys an earlier VPS kept (they live until their expiry) can strike after
// the start's check, while the new agent is still fetching its files: the
// next run sees the agent still provisioning, checks again and sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_vps_an_asset_altered_while_the_agent_provisions_is_sent_again() {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    assert_eq!(w.h.server_count(), 1);
    std::fs::write(stored_asset(&w, "ops.json"), b"[]").unwrap();
    let text = ok(&w.apply(&at(1)).await);
    assert!(text.contains("file ops.json") && text.contains("stored copy altered"), "{text}");
    assert!(text.contains("still provisioning"), "{text}");
    world::assert_desired_complete(&w, "the run after the tampering");
    let text = ok(&w.apply(&at(2)).await);
    assert!(!text.contains("stored copy"), "{text}");
}
