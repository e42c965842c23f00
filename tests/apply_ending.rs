//! `mc-gitops apply` at the end of a session and around the world's
//! backups (issue 11): the real end reason in the session file, the commit
//! and Discord, across runs and a crash between steps; what the agent
//! reported recorded in the session file; retention run by the reconciler;
//! no fresh world started over backups that lost their `current.json`.

mod common;
use common::git;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/discord.rs"]
mod discord_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "common/apply_world.rs"]
mod world;

use mc_gitops::ids::ServerName;
use mc_gitops::storage::Store;
use mc_gitops::world::retention;
use world::{World, at, ok, session0};

fn control(w: &World) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(w.storage_file("control/grove/desired.json")).unwrap()).unwrap()
}

fn agent_reports(w: &World, status: serde_json::Value) {
    std::fs::write(w.storage_file("control/grove/status.json"), serde_json::to_vec(&status).unwrap()).unwrap();
}

fn session_file(w: &World) -> String {
    std::fs::read_to_string(w.repo.path().join(session0().1)).unwrap()
}

fn posted(d: &discord_fake::FakeDiscord) -> Vec<String> {
    d.posts().iter().map(|p| p["content"].as_str().unwrap().to_string()).collect()
}

fn edit_server_toml(w: &World, from: &str, to: &str) {
    let p = w.repo.path().join("server.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(p, text.replacen(from, to, 1)).unwrap();
}

fn store(w: &World) -> Store {
    Store::local(w.storage.path(), &ServerName::new("grove")).unwrap()
}

/// The 1-based position of the first change of `kind` in the plan at `now`.
async fn position_of(w: &World, kind: &str, now: &str) -> usize {
    let out = w.run(&["plan", "--json"], now, &[]).await;
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    1 + changes
        .iter()
        .position(|c| c["step"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {changes:#?}"))
}

/// Breaks 5 and 6 of issue 11: a budget stop was closed as `idle` (in the
/// file, the commit and on Discord), lost its reason entirely when a run
/// crashed between the delete and the close, and the session file never
/// got `peak_players`, `backups` or `world_bytes`.
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection (bash scripts/test passes it)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_stop_keeps_its_reason_across_runs_and_a_crash_and_the_file_records_the_agents_report() {
    let w = World::new().await;
    git(w.repo.path(), &["init", "-q", "-b", "main"]);
    git(w.repo.path(), &["add", "-A"]);
    git(w.repo.path(), &["commit", "-qm", "seed"]);
    let discord = discord_fake::FakeDiscord::start().await;
    let url = discord.url();
    let hook = [("DISCORD_WEBHOOK_URL", url.as_str())];
    ok(&w.run(&["apply"], &at(0), &hook).await);
    let session = session0().0;

    // Playing: what the agent reports reaches the session file.
    agent_reports(
        &w,
        serde_json::json!({
            "phase": "running", "heartbeat": at(10), "session": session,
            "players_online": ["Steve", "Alex"], "players_seen": ["Steve", "Alex"],
            "peak_players": 2, "backups": 1, "world_bytes": 4096,
            "boot": { "started": at(1), "ready": at(3), "deadline": at(11) },
        }),
    );
    ok(&w.apply(&at(10)).await);
    let file = session_file(&w);
    assert!(
        file.contains("peak_players = 2") && file.contains("backups = 1") && file.contains("world_bytes = 4096"),
        "{file}"
    );
    assert!(file.contains("\"Steve\"") && file.contains("\"Alex\""), "{file}");

    // The month's budget is cut below what was spent: the stop is asked, and
    // its reason goes into desired.json with it.
    edit_server_toml(&w, "monthly = 10.00", "monthly = 0.001");
    ok(&w.run(&["apply"], &at(30), &hook).await);
    let doc = control(&w);
    assert_eq!(
        (doc["stop_requested"].as_str(), doc["stop_reason"].as_str()),
        (Some(at(30).as_str()), Some("budget"))
    );

    // The agent stopped Minecraft and verified its final snapshot; nobody
    // else is online, and one peak fewer is reported (a restarted agent).
    agent_reports(
        &w,
        serde_json::json!({
            "phase": "terminating", "heartbeat": at(31), "session": session, "stopped_at": at(31),
            "players_seen": ["Steve"], "peak_players": 1, "backups": 3, "world_bytes": 8192,
            "ready_to_terminate": true,
        }),
    );
    w.agent_uploads_snapshot(&at(31)).await;
    // A run deletes the server and crashes before closing the session.
    let delete = position_of(&w, "delete-server", &at(32)).await;
    let out = w.run(&["apply"], &at(32), &[("MC_GITOPS_CRASH_AFTER", &delete.to_string())]).await;
    assert_eq!(out.status.code(), Some(70), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(w.h.server_count(), 0);
    assert_eq!(w.open_sessions().len(), 1);

    // The next run finishes the stop with its reason, and starts nothing.
    let text = ok(&w.run(&["apply", "--commit"], &at(33), &hook).await);
    assert_eq!(w.h.server_count(), 0, "{text}");
    assert!(w.open_sessions().is_empty(), "{text}");
    let file = session_file(&w);
    assert!(file.contains("end_reason = \"budget\""), "{file}");
    assert!(
        file.contains("peak_players = 2") && file.contains("backups = 3") && file.contains("world_bytes = 8192"),
        "the peak is never lowered; backups and size are the latest: {file}"
    );
    let toml = std::fs::read_to_string(w.repo.path().join("server.toml")).unwrap();
    assert!(toml.contains("state = \"stopped\""), "{toml}");
    let message = git(w.repo.path(), &["log", "-1", "--format=%B"]);
    assert!(message.contains(&format!("stop session {session} (budget)")), "{message}");
    assert!(message.contains("set state = \"stopped\" (budget)"), "{message}");
    let posts = posted(&discord);
    assert!(posts.last().unwrap().contains("budget is reached"), "{posts:?}");
    assert!(!posts.iter().any(|p| p.contains("idle")), "{posts:?}");
    let out = w.run(&["plan"], &at(40), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

/// Break 5 of issue 11: an agent that gave up on a crashing Minecraft was
/// reported and nothing else; `crash` was never produced or posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_is_stopped_closed_and_posted_as_crash() {
    let w = World::new().await;
    let discord = discord_fake::FakeDiscord::start().await;
    let url = discord.url();
    let hook = [("DISCORD_WEBHOOK_URL", url.as_str())];
    ok(&w.run(&["apply"], &at(0), &hook).await);
    let session = session0().0;
    agent_reports(
        &w,
        serde_json::json!({
            "phase": "idle", "heartbeat": at(20), "session": session, "crashes": 5, "crashed": true,
            "last_error": "Minecraft crashed 5 times in a row",
        }),
    );
    let text = ok(&w.run(&["apply"], &at(20), &hook).await);
    assert!(text.contains("crashed 5 times in a row"), "{text}");
    assert_eq!(control(&w)["stop_reason"], "crash");
    agent_reports(
        &w,
        serde_json::json!({
            "phase": "terminating", "heartbeat": at(21), "session": session, "stopped_at": at(21), "crashed": true,
        }),
    );
    w.agent_uploads_snapshot(&at(21)).await;
    ok(&w.run(&["apply"], &at(22), &hook).await);
    assert!(session_file(&w).contains("end_reason = \"crash\""), "{}", session_file(&w));
    let posts = posted(&discord);
    assert!(posts.last().unwrap().contains("Minecraft kept crashing"), "{posts:?}");
}

/// Break 4 of issue 11: `keep_backups` was applied only by a manual
/// `world prune`; storage grew without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_prunes_backups_beyond_keep_backups_sparing_current_and_pinned() {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    for m in 0..12 {
        w.agent_uploads_snapshot(&at(1 + m)).await;
    }
    let s = store(&w);
    let all = retention::list(&s).await.unwrap();
    assert_eq!(all.len(), 12);
    retention::set_pin(&s, &all[0].name, true).await.unwrap();
    let text = ok(&w.apply(&at(20)).await);
    assert!(text.contains("prune 1 old snapshot(s)"), "{text}");
    let left: Vec<_> = retention::list(&s).await.unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(left.len(), 11, "the newest ten and the pinned one: {left:?}");
    assert!(left.contains(&all[0].name) && !left.contains(&all[1].name));
    let current = s.current_snapshot().await.unwrap().unwrap();
    assert!(left.contains(&mc_gitops::world::BackupName::from_key(&current.key).unwrap()));
    // Safe to repeat: nothing more to do.
    let out = w.run(&["plan"], &at(21), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

/// Break 10 of issue 11: with backups in storage but no current.json, a
/// start began a fresh world.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_over_backups_without_current_json_is_refused_until_one_is_named() {
    let w = World::new().await;
    w.agent_uploads_snapshot("2026-11-01T18:00:00Z").await;
    w.agent_uploads_snapshot("2026-11-01T21:30:00Z").await;
    std::fs::remove_file(w.storage_file("worlds/grove/current.json")).unwrap();
    let newest = retention::list(&store(&w)).await.unwrap().last().unwrap().name.to_string();
    let out = w.apply(&at(0)).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("set restore = \"{newest}\" in server.toml")),
        "names the newest backup: {err}"
    );
    assert_eq!(w.h.server_count(), 0, "no fresh world");
    assert!(w.open_sessions().is_empty());

    edit_server_toml(&w, "region = ", &format!("restore = \"{newest}\"\nregion = "));
    ok(&w.apply(&at(1)).await);
    assert_eq!(w.h.server_count(), 1);
    assert_eq!(control(&w)["restore"], newest.as_str());
}

/// Review of issue 11: desired.json's `stop_reason` was a free string and an
/// unknown one read as `admin`. It is typed now; a stored document this
/// version cannot decode is reported with its key and written anew, so
/// observation and apply still converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desired_json_with_an_unknown_stop_reason_is_reported_and_rewritten() {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    let session = session0().0;
    let mut doc = control(&w);
    let whitelist = doc["whitelist"].clone();
    assert!(whitelist.as_array().is_some_and(|l| !l.is_empty()), "{doc}");
    doc["stop_reason"] = "bored".into();
    std::fs::write(w.storage_file("control/grove/desired.json"), serde_json::to_vec(&doc).unwrap()).unwrap();
    agent_reports(
        &w,
        serde_json::json!({ "phase": "running", "heartbeat": at(10), "session": session }),
    );

    let out = w.run(&["plan"], &at(10), &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("control/grove/desired.json") && text.contains("bored"), "{text}");
    ok(&w.apply(&at(10)).await);
    let doc = control(&w);
    assert_eq!(doc["stop_reason"], serde_json::Value::Null, "{doc}");
    assert_eq!(doc["session"], session, "{doc}");
    assert_eq!(doc["whitelist"], whitelist, "{doc}");
    let out = w.run(&["plan"], &at(11), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}
