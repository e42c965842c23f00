//! `mc-gitops apply` end to end: the real binary against the Hetzner and
//! Cloudflare fakes, a local object store and a copy of the example repo.
//! Start, converge, stop behind the snapshot guard, crash at every step,
//! race, and never print a secret.

mod common;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/discord.rs"]
mod discord_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "common/apply_world.rs"]
mod world;

use std::path::Path;

use axum::http::Method;
use world::{World, assert_desired_complete, assert_running_state, at, ok, session0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_then_apply_again_changes_nothing() {
    let w = World::new().await;
    let text = ok(&w.apply(&at(0)).await);
    assert!(
        text.contains(&format!("Commit message: start eu session {} (cx33, fsn1)", session0().0)),
        "{text}"
    );
    assert_running_state(&w);
    let session = std::fs::read_to_string(w.repo.path().join(session0().1)).unwrap();
    assert!(
        session.contains("server_type = \"cx33\"") && session.contains("location = \"fsn1\""),
        "{session}"
    );
    assert!(session.contains("[price]") && session.contains("currency = \"EUR\""), "{session}");
    let a = &w.records("A")[0];
    assert!(
        session.contains(&format!("ipv4 = \"{}\"", a.content)),
        "the A record points at the new server"
    );
    // The agent's control document and the files it will fetch.
    let control: serde_json::Value = serde_json::from_slice(&std::fs::read(w.storage_file("control/grove/desired.json")).unwrap()).unwrap();
    assert_eq!(control["session"], session0().0);
    assert_eq!(control["whitelist"].as_array().unwrap().len(), 3);
    assert!(
        control["assets"]["server.properties"]["hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        control["assets"]["mods/fabric-api-0.92.2+1.20.1.jar"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://cdn.modrinth.com/")
    );
    // The server jar mods.lock pins goes to the top of the Minecraft directory, fetched by URL.
    let loaded = mc_gitops::repo::load(w.repo.path()).unwrap();
    let jar = loaded.desired.lock.server.expect("the example pins a server jar");
    assert_eq!(
        control["assets"]["server.jar"],
        serde_json::json!({"hash": format!("sha512:{}", jar.sha512), "url": jar.url, "size": jar.size})
    );
    // The repo still loads: the session file is valid.
    mc_gitops::repo::load(w.repo.path()).unwrap();
    // The summaries follow the ledger as this run left it, and the report lists them.
    assert!(text.contains("STATUS.md") && text.contains("COSTS.md"), "{text}");
    let status = std::fs::read_to_string(w.repo.path().join("STATUS.md")).unwrap();
    assert!(status.contains(&format!("| session | `{}`", session0().0)), "{status}");
    assert!(
        status.contains("| phase | **provisioning (started by this run)** (observed from live) |"),
        "{status}"
    );
    let month: toml::Table = std::fs::read_to_string(w.repo.path().join(format!("costs/{}.toml", &at(0)[..7])))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(month["open"].as_bool(), Some(true), "{month:?}");
    assert!(month.contains_key("storage"), "the bucket was measured: {month:?}");

    // No-op: nothing mutating, few calls.
    w.h.clear_calls();
    w.cf.clear_calls();
    let out = w.run(&["plan"], &at(5), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = w.apply(&at(5)).await;
    ok(&out);
    assert_eq!(w.mutations(), 0, "{:?} {:?}", w.h.calls(), w.cf.calls());
    let calls = w.h.calls().len() + w.cf.calls().len();
    assert!(
        calls <= 8,
        "a no-op apply made {calls} API calls: {:?} {:?}",
        w.h.calls(),
        w.cf.calls()
    );
    assert_running_state(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sold_out_location_falls_back_and_retired_type_is_skipped() {
    let w = World::new().await;
    w.h.sold_out("fsn1");
    w.h.retire("cx33");
    let text = ok(&w.apply(&at(0)).await);
    assert!(text.contains("(cpx32, nbg1)"), "{text}");
    assert_running_state(&w);
    let session = &w.sessions().into_iter().find(|(n, _)| n.starts_with(&session0().0)).unwrap().1;
    assert!(session.contains("refused"), "the refusal is in the session's events: {session}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_waits_for_a_verified_snapshot_then_deletes() {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    w.set_state("stopped");

    // First run: ask the agent to stop, then wait. Nothing is deleted.
    let text = ok(&w.apply(&at(60)).await);
    assert!(text.contains("waiting"), "{text}");
    assert_eq!(w.h.server_count(), 1);
    assert_eq!(w.h.count(Method::DELETE, "/servers"), 0, "no delete before the snapshot");
    let control: serde_json::Value = serde_json::from_slice(&std::fs::read(w.storage_file("control/grove/desired.json")).unwrap()).unwrap();
    assert_eq!(control["stop_requested"], at(60));

    // A snapshot from before the stop request does not count.
    w.agent_uploads_snapshot(&at(30)).await;
    ok(&w.apply(&at(62)).await);
    assert_eq!(w.h.server_count(), 1);

    // The agent's final snapshot arrives: the server goes, the A record goes,
    // the SRV record stays, and the session is closed with its cost.
    w.agent_uploads_snapshot(&at(63)).await;
    let text = ok(&w.apply(&at(64)).await);
    assert_eq!(w.h.server_count(), 0, "{text}");
    assert!(w.records("A").is_empty());
    assert_eq!(w.records("SRV").len(), 1);
    assert!(w.open_sessions().is_empty());
    let session = std::fs::read_to_string(w.repo.path().join(session0().1)).unwrap();
    assert!(
        session.contains("end_reason = \"admin\"") && session.contains("billed_hours = 2"),
        "{session}"
    );
    mc_gitops::repo::load(w.repo.path()).unwrap();

    // And then nothing more to do.
    let out = w.run(&["plan"], &at(70), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection (bash scripts/test passes it)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_any_step_converges_on_the_next_run() {
    // The start plan for the example has 14 changes.
    for k in 1..=14 {
        let w = World::new().await;
        let out = w.run(&["apply"], &at(0), &[("MC_GITOPS_CRASH_AFTER", &k.to_string())]).await;
        assert_eq!(
            out.status.code(),
            Some(70),
            "crash after {k}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The new server's agent may boot now: whatever document names its
        // session already holds all its files.
        assert_desired_complete(&w, &format!("after a crash after change {k}"));
        ok(&w.apply(&at(1)).await);
        assert_desired_complete(&w, &format!("after the rerun of a crash after change {k}"));
        let out = w.run(&["plan"], &at(2), &[]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "after a crash at {k}, plan is not empty:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_running_state(&w);
        mc_gitops::repo::load(w.repo.path()).unwrap_or_else(|e| panic!("crash at {k}: {e:?}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_applies_end_with_one_server() {
    let w = World::new().await;
    let runs: Vec<_> = (0..4)
        .map(|i| {
            let mut c = w.command(&["apply"], &at(i), &[]);
            tokio::task::spawn_blocking(move || c.output().unwrap())
        })
        .collect();
    let mut succeeded = 0;
    let mut log = String::new();
    for r in runs {
        let out = r.await.unwrap();
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(
            &String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.contains("DEBUG"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        log.push_str("\n=====\n");
        if out.status.success() {
            succeeded += 1;
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("first") || err.contains("already exists"),
                "a losing run says why: {err}"
            );
        }
    }
    assert!(succeeded >= 1);
    assert_eq!(w.h.server_count(), 1, "one server whatever the race");
    // The winner's document stands: a losing run, which read desired.json
    // and stored its files before the winner's create, did not write back
    // its older document over the one naming the winner's session.
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(w.storage_file("control/grove/desired.json")).unwrap()).unwrap();
    assert!(doc["session"].is_string(), "{doc}\n{log}");
    assert_desired_complete(&w, "after the race");
    // The next run converges the ledger and DNS.
    let follow = ok(&w.apply(&at(10)).await);
    let out = w.run(&["plan"], &at(11), &[]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n--- the racing runs:\n{log}\n--- the follow-up:\n{follow}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_running_state(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_credentials_refuses_clearly() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
        .args(["apply", "--repo"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example"))
        .env_remove("HCLOUD_TOKEN")
        .env_remove("CLOUDFLARE_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("apply needs HCLOUD_TOKEN and CLOUDFLARE_API_TOKEN"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_not_deleted_before_their_world_is_known_safe() {
    let w = World::new().await;
    let labels = |session: &'static str| {
        [
            ("managed-by", "mc-gitops"),
            ("mc-gitops/server", "grove"),
            ("mc-gitops/session", session),
            ("mc-gitops/region", "eu"),
        ]
    };
    ok(&w.apply(&at(0)).await);
    // Beside our running server: one whose session the ledger closed (the
    // example's November session), and one that no record explains.
    let closed = w.h.seed_server("grove-old", &labels("20261101-1802-eu"), "fsn1", "cx33");
    let unknown = w.h.seed_server("grove-stray", &labels("20250101-0000-eu"), "nbg1", "cx33");
    w.agent_uploads_snapshot("2026-11-01T21:30:00Z").await;
    let text = ok(&w.apply(&at(1)).await);
    // Issue 12: a closed session's orphan is deleted only after its own final
    // snapshot, which it is asked for once desired.json is free (the whole
    // path: tests/hostile_guard.rs).
    assert!(w.h.server(closed).is_some(), "not on another session's snapshot: {text}");
    assert!(text.contains("grove-old (session 20261101-1802-eu"), "{text}");
    assert!(w.h.server(unknown).is_some(), "the unexplained one is only reported");
    assert!(text.contains("grove-stray carries this repo's label"), "{text}");
    assert_eq!(w.h.servers_named("grove-mc"), 1, "ours is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_stop_are_posted_to_discord_and_a_failing_webhook_fails_nothing() {
    let w = World::new().await;
    let discord = discord_fake::FakeDiscord::start().await;
    let url = discord.url();
    ok(&w.run(&["apply"], &at(0), &[("DISCORD_WEBHOOK_URL", &url)]).await);
    let posts = discord.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let text = posts[0]["content"].as_str().unwrap();
    assert!(
        text.contains("grove** is starting (region eu)") && text.contains("mc.grove.place"),
        "{text}"
    );
    assert!(!text.contains(discord_fake::WEBHOOK_TOKEN));

    // The stop, once the final snapshot is there, with a webhook that keeps
    // failing: apply still succeeds, and the report says what was not sent.
    w.set_state("stopped");
    ok(&w.run(&["apply"], &at(60), &[("DISCORD_WEBHOOK_URL", &url)]).await);
    w.agent_uploads_snapshot(&at(61)).await;
    discord.then_answer(&[500, 500, 500]);
    let text = ok(&w.run(&["apply"], &at(62), &[("DISCORD_WEBHOOK_URL", &url)]).await);
    assert!(w.open_sessions().is_empty(), "{text}");
    assert!(text.contains("notifying Discord of stop") && text.contains("500"), "{text}");
    assert_eq!(discord.posts().len(), 1, "nothing more was delivered");
    let status = std::fs::read_to_string(w.repo.path().join("STATUS.md")).unwrap();
    assert!(
        status.contains("notifying Discord of stop"),
        "the warning reaches STATUS.md: {status}"
    );
    assert!(!status.contains(discord_fake::WEBHOOK_TOKEN));
    assert!(status.contains("**offline (stopped by this run)**"), "{status}");

    // No webhook configured: no call, and the report says so.
    let quiet = World::new().await;
    let text = ok(&quiet.apply(&at(0)).await);
    assert!(text.contains("DISCORD_WEBHOOK_URL is not set"), "{text}");
}

/// A start boots the prebuilt snapshot (`mc-gitops image build`) labelled
/// for this server and this agent version, on the region's types of its
/// architecture; an arm image is not used on the x86-only region: the stock
/// image is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_boots_the_prebuilt_image_of_its_architecture() {
    use mc_gitops::hetzner::images::{AGENT_VERSION, image_labels};
    let labels = |arch: &str| -> Vec<(String, String)> {
        image_labels(&mc_gitops::ids::ServerName::new("grove"), AGENT_VERSION, arch)
            .into_iter()
            .collect()
    };

    fn pairs(l: &[(String, String)]) -> Vec<(&str, &str)> {
        l.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
    let w = World::new().await;
    let x86 = labels("x86");
    let image = w.h.seed_snapshot(&pairs(&x86), "x86", "2026-11-20T00:00:00Z");
    ok(&w.apply(&at(0)).await);
    let create = w.h.bodies(Method::POST, "/servers").pop().unwrap();
    assert_eq!(create["image"], image.to_string(), "{create:#}");
    assert_eq!(create["server_type"], "cx33");
    assert_running_state(&w);

    let w = World::new().await;
    let arm = labels("arm");
    w.h.seed_snapshot(&pairs(&arm), "arm", "2026-11-20T00:00:00Z");
    ok(&w.apply(&at(0)).await);
    let create = w.h.bodies(Method::POST, "/servers").pop().unwrap();
    assert_eq!(create["image"], "debian-12", "no x86 image: the stock one");
}
