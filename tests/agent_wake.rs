//! The agent binary's stopped phases with real sockets and real time, at the
//! DEFAULT poll and heartbeat timers (players every 10 s, desired.json and
//! the heartbeat every 30 s; only idle is shortened), so a race between the
//! loop's passes and the game port shows: a fake "java"
//! (`tests/peers/fake_minecraft.py`, which binds the game port as vanilla
//! does), a local-dir store, a Server List Ping every quarter second, and a
//! real mineflayer bot (`tests/peers/mineflayer_join.js`) logging in, in
//! online mode against a fake of Mojang's session server that agent.toml's
//! `session_server` names.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{agent_process, agent_status, free_port, peers, python};

#[path = "fakes/session_server.rs"]
mod session_fake;
use session_fake::{Call, FakeSessionServer};

use mc_gitops::agent::sleeping::{STOPPING_MESSAGE, STOPPING_STATUS, WAKE_MESSAGE};
use mc_gitops::minecraft::slp;

struct Setup {
    _tmp: tempfile::TempDir,
    session: FakeSessionServer,
    storage: PathBuf,
    config: PathBuf,
    game: u16,
}

/// `extra` is appended at the top level of agent.toml.
fn setup(extra: &str) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let mc = tmp.path().join("minecraft");
    std::fs::create_dir_all(storage.join("control/grove")).unwrap();
    // A world already on the disk (the agent keeps it): something to snapshot.
    std::fs::create_dir_all(mc.join("world/region")).unwrap();
    std::fs::write(mc.join("world/level.dat"), b"level").unwrap();
    std::fs::write(mc.join("world/region/r.0.0.mca"), vec![7u8; 40_000]).unwrap();
    let session = FakeSessionServer::start_in_background();
    // Steve's account UUID, dashed as the reconciler writes it from the
    // player file: the listener wakes only for that account.
    let steve = mc_gitops::ids::PlayerUuid::parse(&session.account("Steve").id).unwrap();
    let desired = json!({
        "version": 1, "session": "20261122-1800-eu", "stop_requested": null, "stop_reason": null,
        "whitelist": ["Steve"], "whitelist_uuids": { "Steve": steve.to_string() },
        "ops": [], "assets": {}, "written": "2026-11-22T18:00:00Z"
    });
    std::fs::write(storage.join("control/grove/desired.json"), desired.to_string()).unwrap();
    let game = free_port();
    let config = tmp.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "server = \"grove\"\nsession = \"20261122-1800-eu\"\n{extra}minecraft_dir = {mc:?}\n\
             session_server = {url:?}\n\
             java = [{python:?}, {fake:?}]\ngame_port = {game}\nrcon_port = {rcon}\n\
             [storage]\ndir = {storage:?}\n[lifecycle]\nidle = \"2s\"\nsuspended = \"2s\"\n",
            mc = mc.display().to_string(),
            python = python().display().to_string(),
            fake = peers().join("fake_minecraft.py").display().to_string(),
            rcon = free_port(),
            storage = storage.display().to_string(),
            url = session.url(),
        ),
    )
    .unwrap();
    Setup {
        _tmp: tmp,
        session,
        storage,
        config,
        game,
    }
}

fn agent(config: &Path) -> Child {
    agent_process(config, &[])
}

fn status(storage: &Path) -> Option<Value> {
    agent_status(storage)
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn phase_is(storage: &Path, phase: &str) -> bool {
    status(storage).is_some_and(|v| v["phase"] == phase)
}

/// Pings the game port every 250 ms on its own thread until stopped;
/// returns the descriptions seen and every failure.
struct Pinger {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<String>, Vec<String>)>,
}

impl Pinger {
    fn start(port: u16) -> Pinger {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (mut seen, mut failed) = (Vec::new(), Vec::new());
            while !flag.load(Ordering::SeqCst) {
                match rt.block_on(slp::status("127.0.0.1", port, Duration::from_secs(2))) {
                    Ok(s) => seen.push(s.description),
                    Err(e) => failed.push(e.to_string()),
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            (seen, failed)
        });
        Pinger { stop, thread }
    }
    fn finish(self) -> (Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// A mineflayer bot tries to join as `name`, in online mode with the fake
/// session server's account of that name; how it ended, as the bot saw it.
fn join(session: &FakeSessionServer, port: u16, name: &str) -> Value {
    let a = session.account(name);
    let out = Command::new("node")
        .arg("mineflayer_join.js")
        .arg(port.to_string())
        .arg(format!("{name}:{}:{}", a.id, a.access_token))
        .env("MC_SESSION_SERVER", session.url())
        .current_dir(peers())
        .output()
        .unwrap();
    assert!(out.status.success(), "mineflayer: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("mineflayer said {line:?}"))
}

fn sigterm(child: Child) -> (bool, String) {
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Regression (issue 11, break 11): the listener was bound anew on each
/// pass of the loop and the previous socket was still open, so from the
/// first timer on nothing listened ("Address already in use") and a
/// whitelisted player got "connection refused" for the whole countdown.
#[test]
fn a_login_during_the_suspended_countdown_wakes_the_server_at_default_timers() {
    let s = setup("");
    assert!(peers().join("node_modules/mineflayer").exists(), "mineflayer is not installed");
    let child = agent(&s.config);
    wait_for("the agent to suspend", 60, || phase_is(&s.storage, "suspended"));
    let first_boot = status(&s.storage).unwrap()["boot"]["started"].clone();

    // Several passes of the loop (10 s player polls, 30 s control reads and
    // heartbeats): the port answers at every ping.
    let pinger = Pinger::start(s.game);
    std::thread::sleep(Duration::from_secs(12));
    let (seen, failed) = pinger.finish();
    assert!(failed.is_empty(), "pings failed during suspension: {failed:?}");
    assert!(seen.len() >= 30, "{} pings", seen.len());
    assert!(seen.iter().all(|d| d.contains("sleeping")), "{seen:?}");
    assert!(phase_is(&s.storage, "suspended"));

    let bot = join(&s.session, s.game, "Steve");
    assert!(bot["kicked"].as_str().is_some_and(|k| k.contains(WAKE_MESSAGE)), "{bot}");
    let calls = s.session.calls();
    assert!(
        calls
            .iter()
            .any(|c| matches!(c, Call::HasJoined { username, status: 200, .. } if username == "Steve")),
        "the agent asked agent.toml's session server: {calls:?}"
    );

    // Minecraft starts again on the port the listener gave back, boots, and
    // with nobody on yet the server is idle (never "running" with nobody on).
    let mut phases = Vec::new();
    wait_for("the woken server to be idle", 60, || {
        let st = status(&s.storage).unwrap();
        phases.push((st["phase"].clone(), st["players_online"].clone()));
        st["phase"] == "idle" && st["boot"]["started"] != first_boot
    });
    assert!(!phases.iter().any(|(p, on)| p == "running" && on == &json!([])), "{phases:?}");
    let st = status(&s.storage).unwrap();
    assert_eq!(st["crashes"], 0, "{st}");
    assert!(st["last_error"].is_null(), "{st}");
    assert!(st["players_seen"].as_array().unwrap().contains(&json!("Steve")), "{st}");
    assert!(st["backups"].as_u64().unwrap() >= 1, "the suspend snapshot counts: {st}");
    assert!(st["world_bytes"].as_u64().unwrap() >= 40_005, "{st}");

    let (ok, stderr) = sigterm(child);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("Address already in use"), "{stderr}");
    assert!(!stderr.contains("FAILED TO BIND"), "{stderr}");
    assert_eq!(stderr.matches("holding the game port").count(), 1, "bound once: {stderr}");
}

/// Regression (issue 11, breaks 12, 13 and 14): the suspend snapshot and the
/// final one in the same second collided; between the final snapshot and
/// the agent's exit nothing answered on the game port; SIGTERM overwrote
/// `stopped_at`.
#[test]
fn while_terminating_the_port_says_stopping_and_a_login_wakes_nothing() {
    // Created almost an hour ago: the paid hour ends soon, so the suspended
    // countdown ends within seconds.
    let created = chrono::Utc::now() - chrono::Duration::minutes(55) + chrono::Duration::seconds(20);
    let s = setup(&format!(
        "server_created = {}\n",
        created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ));
    let child = agent(&s.config);
    wait_for("the agent to suspend", 60, || phase_is(&s.storage, "suspended"));
    wait_for("the final snapshot", 60, || {
        status(&s.storage).is_some_and(|v| v["ready_to_terminate"] == true)
    });
    let st = status(&s.storage).unwrap();
    assert_eq!(st["phase"], "terminating");
    assert!(st["last_error"].is_null(), "{st}");
    assert_eq!(st["backups"], 2, "suspend and final snapshots, both verified: {st}");
    let stopped_at = st["stopped_at"].clone();
    let boot = st["boot"]["started"].clone();

    let pinger = Pinger::start(s.game);
    let bot = join(&s.session, s.game, "Steve");
    std::thread::sleep(Duration::from_secs(2));
    let (seen, failed) = pinger.finish();
    assert!(failed.is_empty(), "pings failed while terminating: {failed:?}");
    assert!(!seen.is_empty() && seen.iter().all(|d| d.contains(STOPPING_STATUS)), "{seen:?}");
    assert!(bot["kicked"].as_str().is_some_and(|k| k.contains(STOPPING_MESSAGE)), "{bot}");

    let st = status(&s.storage).unwrap();
    assert_eq!(
        (&st["phase"], &st["boot"]["started"]),
        (&json!("terminating"), &boot),
        "nothing woke"
    );
    let backups = std::fs::read_dir(s.storage.join("worlds/grove/backups")).unwrap().count();
    assert_eq!(backups, 4, "two snapshots, archive and manifest each");

    let (ok, stderr) = sigterm(child);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("exists already"), "{stderr}");
    let last = status(&s.storage).unwrap();
    assert_eq!(last["stopped_at"], stopped_at, "the exit is not when Minecraft stopped");
}
