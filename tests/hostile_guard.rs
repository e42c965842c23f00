//! Hostile inputs against the termination guard and the stop (issue 12,
//! items 3 and 6): writers whose clocks or claims are not to be trusted (a
//! future-dated `--taken`, a fast laptop, a hostile VPS), orphans, and an
//! agent that never delivers its final snapshot. Each test is one attack,
//! run through `mc-gitops apply` against the Hetzner and Cloudflare fakes
//! and a local object store, as tests/apply_ending.rs does.

mod common;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/discord.rs"]
mod discord_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "common/apply_world.rs"]
mod world;

use chrono::{Duration, Utc};
use mc_gitops::world::SnapshotKind;
use world::{World, at, ok, session0};

fn control(w: &World) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(w.storage_file("control/grove/desired.json")).unwrap()).unwrap()
}

fn agent_reports(w: &World, status: serde_json::Value) {
    std::fs::write(w.storage_file("control/grove/status.json"), serde_json::to_vec(&status).unwrap()).unwrap();
}

fn rfc(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A day after the runs' clock: far beyond any allowed skew.
fn tomorrow() -> String {
    rfc(world::t0() + Duration::days(1))
}

fn current_key(w: &World) -> String {
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(w.storage_file("worlds/grove/current.json")).unwrap()).unwrap();
    p["key"].as_str().unwrap().to_string()
}

/// Start a session, then ask it to stop (`state = "stopped"`) at `at(10)`:
/// the agent was running and says so.
async fn started_then_stopped(w: &World) {
    ok(&w.apply(&at(0)).await);
    agent_reports(
        w,
        serde_json::json!({ "phase": "running", "heartbeat": at(9), "session": session0().0 }),
    );
    w.set_state("stopped");
}

// A snapshot dated tomorrow (`world backup --taken`, a fast laptop) satisfied a later stop's guard: the server was deleted without its final snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_dated_snapshot_does_not_satisfy_a_later_stops_guard() {
    let w = World::new().await;
    started_then_stopped(&w).await;
    w.upload_snapshot(&tomorrow(), None, SnapshotKind::Manual).await;
    let text = ok(&w.apply(&at(10)).await);
    assert_eq!(w.h.server_count(), 1, "not deleted on a snapshot from tomorrow: {text}");
    assert!(text.contains("names no session"), "the wait says why: {text}");
    assert_eq!(control(&w)["stop_requested"], at(10).as_str());

    // The hostile VPS itself claims a final snapshot of this session, dated tomorrow.
    w.upload_snapshot(&tomorrow(), Some(&session0().0), SnapshotKind::Final).await;
    let text = ok(&w.apply(&at(11)).await);
    assert_eq!(w.h.server_count(), 1, "{text}");
    assert!(text.contains("later than now"), "{text}");

    // A periodic backup of this session after the stop is not the final one either.
    w.upload_snapshot(&at(11), Some(&session0().0), SnapshotKind::Backup).await;
    let text = ok(&w.apply(&at(12)).await);
    assert_eq!(w.h.server_count(), 1, "{text}");
    assert!(text.contains("not the final one"), "{text}");

    // The real final snapshot: the stop completes.
    w.agent_uploads_snapshot(&at(13)).await;
    let text = ok(&w.apply(&at(14)).await);
    assert_eq!(w.h.server_count(), 0, "{text}");
    assert!(w.open_sessions().is_empty(), "{text}");
}

// A future-dated current.json kept every real final snapshot from becoming current (the pointer never moved back), so the next session restored the stale world.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_dated_pointer_does_not_keep_the_final_snapshot_out() {
    let w = World::new().await;
    started_then_stopped(&w).await;
    let bogus = w.upload_snapshot(&tomorrow(), None, SnapshotKind::Manual).await;
    assert_eq!(current_key(&w), bogus.key, "the bad write did take the pointer");
    ok(&w.apply(&at(10)).await);
    let fin = w.upload_snapshot(&at(11), Some(&session0().0), SnapshotKind::Final).await;
    assert_eq!(current_key(&w), fin.key, "the real final snapshot is current");
    let text = ok(&w.apply(&at(12)).await);
    assert_eq!(w.h.server_count(), 0, "{text}");
}

// `world backup --taken <tomorrow>` was accepted and became current: a mistyped or hostile flag froze the pointer and passed every guard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_backup_refuses_a_taken_time_in_the_future() {
    let w = World::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("level.dat"), b"x").unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let taken = rfc(Utc::now() + Duration::days(1));
    let out = w.run(&["world", "backup", "--dir", dir_arg, "--taken", &taken], &at(0), &[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--taken"), "{err}");
    assert!(err.contains("is in the future") && err.contains("120 s"), "{err}");
    assert!(!w.storage_file("worlds/grove/current.json").exists(), "nothing written");
    // Within the skew (a clock a little ahead) it is accepted.
    let soon = rfc(Utc::now() + Duration::seconds(30));
    ok(&w.run(&["world", "backup", "--dir", dir_arg, "--taken", &soon], &at(0), &[]).await);
}

// An orphan whose session the ledger closed was deleted on any snapshot taken after that session started (a periodic one, another session's): its world since was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_is_asked_to_stop_and_deleted_only_after_its_own_final_snapshot() {
    let w = World::new().await;
    let old = "20261101-1802-eu";
    let labels = [
        ("managed-by", "mc-gitops"),
        ("mc-gitops/server", "grove"),
        ("mc-gitops/session", old),
        ("mc-gitops/region", "eu"),
    ];
    ok(&w.apply(&at(0)).await);
    let orphan = w.h.seed_server("grove-old", &labels, "fsn1", "cx33");
    // A periodic backup of the orphan's session, and our session's snapshot,
    // both after the orphan's session started: neither is its final snapshot.
    w.upload_snapshot("2026-11-01T21:30:00Z", Some(old), SnapshotKind::Backup).await;
    w.upload_snapshot(&at(1), Some(&session0().0), SnapshotKind::Backup).await;
    let text = ok(&w.apply(&at(2)).await);
    assert!(w.h.server(orphan).is_some(), "{text}");
    assert!(text.contains("once the current session ends"), "{text}");

    // Our session ends; the next run asks the orphan through desired.json.
    w.set_state("stopped");
    ok(&w.apply(&at(3)).await);
    w.agent_uploads_snapshot(&at(4)).await;
    ok(&w.apply(&at(5)).await);
    assert!(w.open_sessions().is_empty());
    assert!(w.h.server(orphan).is_some());
    let text = ok(&w.apply(&at(6)).await);
    assert!(text.contains("ask orphan server grove-old"), "{text}");
    let doc = control(&w);
    assert_eq!(
        (doc["session"].as_str(), doc["stop_requested"].as_str()),
        (Some(old), Some(at(6).as_str())),
        "{doc}"
    );
    assert_eq!(doc["stop_reason"], "drift");
    let text = ok(&w.apply(&at(7)).await);
    assert!(w.h.server(orphan).is_some(), "waits for its final snapshot: {text}");

    // Its agent obeys: its final snapshot names its session.
    w.agent_uploads_snapshot(&at(8)).await;
    let text = ok(&w.apply(&at(9)).await);
    assert!(w.h.server(orphan).is_none(), "{text}");
    assert_eq!(control(&w)["session"], serde_json::Value::Null, "desired.json is free again");
    let out = w.run(&["plan"], &at(10), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

fn session_file(w: &World) -> String {
    std::fs::read_to_string(w.repo.path().join(session0().1)).unwrap()
}

fn add_force(w: &World, accept_backup: &str) {
    let p = w.repo.path().join("server.toml");
    let mut text = std::fs::read_to_string(&p).unwrap();
    if let Some(i) = text.find("\n[stop]") {
        text.truncate(i + 1);
    }
    text.push_str(&format!(
        "\n[stop]\nforce = {{ session = \"{}\", accept_backup = \"{accept_backup}\", reason = \"the VPS is unreachable\" }}\n",
        session0().0
    ));
    std::fs::write(p, text).unwrap();
}

// A dead agent never uploads its final snapshot: the stop waited without end, only warning, and the server billed forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_agent_raises_an_alert_once_and_the_admins_force_stop_names_the_backup() {
    let w = World::new().await;
    let discord = discord_fake::FakeDiscord::start().await;
    let url = discord.url();
    let summary = tempfile::NamedTempFile::new().unwrap();
    let summary_path = summary.path().to_str().unwrap().to_string();
    let env = [
        ("DISCORD_WEBHOOK_URL", url.as_str()),
        ("GITHUB_STEP_SUMMARY", summary_path.as_str()),
    ];
    ok(&w.run(&["apply"], &at(0), &env).await);
    // The agent's last periodic backup, then it dies; the admin asks for a stop.
    let last = w.upload_snapshot(&at(5), Some(&session0().0), SnapshotKind::Backup).await;
    agent_reports(
        &w,
        serde_json::json!({ "phase": "running", "heartbeat": at(6), "session": session0().0 }),
    );
    w.set_state("stopped");
    ok(&w.run(&["apply"], &at(10), &env).await);
    let text = ok(&w.run(&["apply"], &at(30), &env).await);
    assert!(!text.contains("ALERT"), "not before the bound: {text}");
    assert_eq!(discord.posts().len(), 1, "the start only");

    // Past the bound, counted from the end of the stop's 5-minute countdown
    // (the example's stop_warnings): an alert everywhere, Discord once.
    let text = ok(&w.run(&["apply"], &at(45), &env).await);
    assert!(!text.contains("ALERT"), "the countdown is no delay: {text}");
    let text = ok(&w.run(&["apply"], &at(46), &env).await);
    assert_eq!(w.h.server_count(), 1, "{text}");
    let force_line = format!(
        "[stop] force = {{ session = \"{}\", accept_backup = \"{}\", reason = \"...\" }}",
        session0().0,
        last.name
    );
    assert!(
        text.contains("has waited 31 min since its countdown ended") && text.contains(&force_line),
        "{text}"
    );
    let status = std::fs::read_to_string(w.repo.path().join("STATUS.md")).unwrap();
    assert!(status.contains("ALERT: the stop of session"), "{status}");
    let steps = std::fs::read_to_string(summary.path()).unwrap();
    assert!(steps.contains("mc-gitops apply: alert") && steps.contains(&force_line), "{steps}");
    assert!(session_file(&w).contains("stop overdue: waiting since"), "{}", session_file(&w));
    let posts: Vec<String> = discord.posts().iter().map(|p| p["content"].as_str().unwrap().to_string()).collect();
    assert!(posts.last().unwrap().contains("is still billing"), "{posts:?}");
    ok(&w.run(&["apply"], &at(50), &env).await);
    assert_eq!(discord.posts().len(), 2, "posted once, whatever the runs");

    // A force naming a backup that is not the current one is refused, with the reason.
    add_force(&w, "2026-11-01T18-00-00Z");
    let out = w.run(&["apply"], &at(55), &env).await;
    let err = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "force-stop refused: accept_backup = \"2026-11-01T18-00-00Z\" but the current backup is \"{}\"",
            last.name
        )),
        "{err}"
    );
    assert_eq!(w.h.server_count(), 1);

    // Naming the current backup: the plan shows it, apply deletes, the ledger records it.
    add_force(&w, &last.name.to_string());
    let out = w.run(&["plan"], &at(60), &env).await;
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("forced by the admin") && plan.contains(&format!("play since backup {} is lost", last.name)),
        "{plan}"
    );
    let text = ok(&w.run(&["apply"], &at(60), &env).await);
    assert_eq!(w.h.server_count(), 0, "{text}");
    let file = session_file(&w);
    assert!(file.contains("end_reason = \"forced\""), "{file}");
    assert!(
        file.contains(&format!("play since backup {} lost (the VPS is unreachable)", last.name)),
        "{file}"
    );
    let out = w.run(&["plan"], &at(61), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

// A friend's pull request adding `[stop] force` to server.toml would delete the server without its final snapshot: it must be an admin's word.
#[test]
fn a_force_stop_by_anyone_but_an_admin_is_flagged_by_the_check() {
    use mc_gitops::check::privilege::{Changed, judge};
    let changed = [Changed {
        path: "server.toml".into(),
        deleted: false,
        added_by: None,
    }];
    let admins = std::collections::BTreeSet::from(["grove-admin".to_string()]);
    let flagged = judge(&changed, "alex-builds", &admins);
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert!(
        flagged[0].message.contains("is not an admin and changed server.toml"),
        "{flagged:?}"
    );
    assert!(judge(&changed, "Grove-Admin", &admins).is_empty());
}
