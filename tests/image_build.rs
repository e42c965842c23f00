//! `mc-gitops image build` against the fake Hetzner: the builder server's
//! user-data (packages, checked agent, power-off; nothing of a session), the
//! wait for it to power off, the snapshot with the server's and the agent
//! version's labels, the builder deleted, older images deleted, the monthly
//! cost from the pricing API; and on a failed snapshot, the builder deleted
//! all the same. Then a plan of a start boots the new image.

#[path = "fakes/hetzner.rs"]
mod hetzner_fake;

use std::path::{Path, PathBuf};
use std::process::Output;

use hetzner_fake::{FakeHetzner, TOKEN};
use mc_gitops::hetzner::images::{AGENT_VERSION, VERSION_LABEL, image_labels};
use mc_gitops::ids::ServerName;
use reqwest::Method;

const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example")
}

async fn build(fake: &FakeHetzner, extra: &[&str]) -> Output {
    let base = fake.base_url();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("mc-gitops")
            .unwrap()
            .args(["image", "build", "--repo"])
            .arg(example())
            .args(extra)
            .env("HCLOUD_TOKEN", TOKEN)
            .env("HCLOUD_ENDPOINT", base)
            .env("MC_GITOPS_POLL_INTERVAL_MS", "10")
            .env("MC_GITOPS_AGENT_URL", "https://example.com/mc-gitops")
            .env("MC_GITOPS_AGENT_SHA256", SHA)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_built_from_a_builder_that_powers_off_and_is_deleted() {
    let fake = FakeHetzner::start().await;
    let older = image_labels(&ServerName::new("grove"), "0.0.9", "x86");
    let pairs: Vec<(&str, &str)> = older.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let old = fake.seed_snapshot(&pairs, "x86", "2026-10-01T00:00:00Z");
    let other = fake.seed_snapshot(
        &[("managed-by", "mc-gitops"), ("mc-gitops/server", "other")],
        "x86",
        "2026-10-01T00:00:00Z",
    );

    let out = build(&fake, &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    // The builder: the stock image, user-data without a session, labels the reconciler never selects.
    let create = fake.bodies(Method::POST, "/servers").pop().unwrap();
    assert_eq!(create["name"], "grove-mc-image");
    assert_eq!(create["image"], "debian-12");
    assert_eq!(create["labels"]["managed-by"], "mc-gitops-image-build");
    let ud = create["user_data"].as_str().unwrap();
    assert!(
        ud.contains("\npower_state:") && ud.contains(SHA) && ud.contains("--binary-only"),
        "{ud}"
    );
    assert!(
        !ud.contains("path: /etc/mc-gitops/agent.toml") && !ud.contains("[storage]"),
        "nothing of a session: {ud}"
    );

    // Snapshot after it powered off; labelled for the server and this agent version.
    let snaps = fake.snapshots();
    assert_eq!(snaps.len(), 2, "the new one and the other server's: {snaps:#?}");
    let new = snaps.iter().find(|i| i["labels"]["mc-gitops/server"] == "grove").unwrap();
    assert_eq!(new["labels"][VERSION_LABEL], AGENT_VERSION);
    assert_eq!(new["labels"]["mc-gitops/arch"], "x86");
    assert_eq!(new["type"], "snapshot");
    assert!(snaps.iter().any(|i| i["id"] == other), "another server's image is not touched");
    assert!(!snaps.iter().any(|i| i["id"] == old), "the older image is deleted");
    let snapshot_call = fake
        .requests()
        .iter()
        .position(|c| c.route().ends_with("/actions/create_image"))
        .unwrap();
    let off_seen = fake
        .requests()
        .iter()
        .position(|c| c.method == Method::GET && c.route().starts_with("/servers/"))
        .unwrap();
    assert!(off_seen < snapshot_call, "polled the builder before snapshotting it");
    assert_eq!(fake.server_count(), 0, "the builder is deleted");
    assert_eq!(fake.count_route(Method::POST, "/servers"), 1);

    assert!(stdout.contains("0.02 EUR a month gross"), "{stdout}");
    assert!(
        stdout.contains("deleted the builder server") && stdout.contains("deleted the older image"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_snapshot_still_deletes_the_builder() {
    let fake = FakeHetzner::start().await;
    fake.fail_actions("create_image", "action_failed", "Action failed");
    let out = build(&fake, &["--keep-old"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("create_image") || stderr.contains("action_failed"), "{stderr}");
    assert_eq!(fake.server_count(), 0, "no builder left billing: {stdout}");
    assert!(stdout.contains("deleted the builder server"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_nothing_is_created() {
    let out = tokio::task::spawn_blocking(|| {
        assert_cmd::Command::cargo_bin("mc-gitops")
            .unwrap()
            .args(["image", "build", "--repo"])
            .arg(example())
            .env_remove("HCLOUD_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HCLOUD_TOKEN"));
}
