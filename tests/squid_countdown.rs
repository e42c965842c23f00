//! Warnings before a stop (issue 13), through the user's path: the real
//! agent binary runs `tests/peers/squid_server.js` (flying-squid with
//! vanilla's RCON) as its Minecraft, real mineflayer bots play on it, and
//! desired.json asks for a stop the way the reconciler writes it. The
//! countdown's `say` lines must reach the bots before the stop disconnects
//! them, and a bot that joins mid-countdown hears the lines still to come.
//! The agent runs with its real timers and clock; only the countdown is
//! short ("10s", "2s"), and the control channel is polled every second as
//! in tests/squid_peer.rs, so the test takes seconds, not minutes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use mc_gitops::agent::traits::Console;
use mc_gitops::countdown::{Countdown, StopWarnings};
use mc_gitops::lifecycle::EndReason;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod common;
use common::{agent_process, agent_status, free_port};
#[path = "peers/squid.rs"]
mod squid;
use squid::{Bots, Props, Squid, write_minecraft_dir};

/// Vanilla's `multiplayer.disconnect.server_shutdown`.
const SERVER_CLOSED: &str = "Server closed";
/// Vanilla's `say` over RCON: `chat.type.announcement` with the RCON
/// source's name ("Rcon").
const SAID: &str = "[Rcon] Server stopping in ";
const T: Duration = Duration::from_secs(30);

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(90);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A stored asset (by sha256) and its entry for desired.json.
fn asset(storage: &Path, bytes: &[u8]) -> Value {
    let hex = hex::encode(Sha256::digest(bytes));
    std::fs::write(storage.join(format!("assets/grove/sha256-{hex}")), bytes).unwrap();
    json!({ "hash": format!("sha256:{hex}"), "size": bytes.len() })
}

/// The next countdown line or disconnect `name` sees, in the order they arrived.
fn next_line_or_kick(bots: &mut Bots, name: &str) -> Value {
    bots.expect(&format!("a countdown line or a kick for {name}"), T, |e| {
        e["name"] == name
            && (e["event"] == "kicked" || (e["event"] == "message" && e["text"].as_str().is_some_and(|t| t.starts_with(SAID))))
    })
}

/// The console's `say`, against the RCON peer the end-to-end tests use:
/// every bot online sees the line as a system chat message, as vanilla
/// broadcasts it.
#[test]
fn a_countdown_line_said_over_rcon_reaches_every_bot_online() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("minecraft");
    write_minecraft_dir(
        &dir,
        &Props {
            port: free_port(),
            rcon_port: free_port(),
            password: "rcon-pw-for-tests",
            whitelist: &["Steve", "Alex"],
            motd: "Grove",
        },
    );
    let squid = Squid::start(&dir, &[]);
    let mut bots = Bots::start();
    for name in ["Steve", "Alex"] {
        bots.join(name, squid.port());
        bots.expect_event("spawn", name, T);
    }
    let now = Utc::now();
    let warnings = StopWarnings::new(["1m".parse().unwrap()]).unwrap();
    let line = Countdown::begin(&warnings, Some(EndReason::Budget), now, now)
        .unwrap()
        .due(now)
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(squid.console().say(&line)).unwrap();
    for name in ["Steve", "Alex"] {
        let seen = next_line_or_kick(&mut bots, name);
        assert_eq!(
            seen["text"], "[Rcon] Server stopping in 1 minute (monthly budget reached)",
            "{seen}"
        );
    }
    // The server log records it too (read by another thread: waited for).
    squid.wait_log("the line in the server log", T, |l| {
        l.ends_with("[Rcon] Server stopping in 1 minute (monthly budget reached)")
    });
}

#[test]
fn the_countdown_reaches_a_connected_bot_before_the_stop_disconnects_it() {
    squid::require_node_peers();
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let mc = tmp.path().join("minecraft");
    std::fs::create_dir_all(storage.join("control/grove")).unwrap();
    std::fs::create_dir_all(storage.join("assets/grove")).unwrap();
    let whitelist = br#"[{"uuid":"8667ba71-b85a-4004-af54-457a9734eed7","name":"Steve"},{"uuid":"ec561538-f3fd-461d-aff5-086b22154bce","name":"Alex"}]"#;
    let mut desired = json!({
        "version": 1, "session": "20261122-1800-eu", "stop_requested": null, "stop_reason": null,
        "whitelist": ["Alex", "Steve"], "ops": [],
        "assets": {
            "server.properties": asset(&storage, b"motd=Grove\nmax-players=5\nonline-mode=true\n"),
            "whitelist.json": asset(&storage, whitelist),
        },
        "written": "2026-11-22T18:00:00Z"
    });
    let desired_path = storage.join("control/grove/desired.json");
    std::fs::write(&desired_path, desired.to_string()).unwrap();
    let game = free_port();
    let config = tmp.path().join("agent.toml");
    let squid_server = squid::peers_dir().join("squid_server.js");
    let java = [std::path::PathBuf::from("node"), squid_server];
    std::fs::write(&config, common::agent_toml_1s(&mc, &storage, None, &java, game)).unwrap();
    let mut agent = agent_process(&config, &[]);
    // The agent logs at debug level: drained as it goes, so it never blocks on a full pipe.
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    let stderr = agent.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("agent: {line}");
            sink.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    let status = |key: &str| agent_status(&storage).map_or(Value::Null, |v| v[key].clone());
    wait_for("the agent to report idle", || status("phase") == "idle");

    let mut bots = Bots::start();
    bots.join("Steve", game);
    bots.expect_event("spawn", "Steve", T);
    wait_for("the agent to see Steve", || {
        status("phase") == "running" && status("players_online") == json!(["Steve"])
    });

    // The admin's stop, as the reconciler writes it.
    desired["stop_requested"] = json!(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    desired["stop_reason"] = json!("admin");
    desired["stop_warnings"] = json!(["10s", "2s"]);
    std::fs::write(&desired_path, desired.to_string()).unwrap();

    // The first line: "in 10 seconds", or the time really left if the
    // agent's poll saw the request a moment late.
    let first = next_line_or_kick(&mut bots, "Steve");
    let text = first["text"]
        .as_str()
        .unwrap_or_else(|| panic!("kicked before any warning: {first}"));
    assert!(text.ends_with(" (admin stop)") && text.contains(" second"), "{text}");
    assert_eq!(status("phase"), "running", "Minecraft runs while the players are warned");
    // The agent writes its status right after the `say` returns, which can
    // be just after the bot hears the line (it failed 2 of 2 runs on a loaded
    // machine without this bounded wait).
    wait_for("the status to say when the stop comes", || status("stopping_at").is_string());

    // Alex joins mid-countdown and hears what is left of it.
    bots.join("Alex", game);
    bots.expect_event("spawn", "Alex", T);
    for name in ["Steve", "Alex"] {
        let last = next_line_or_kick(&mut bots, name);
        assert_eq!(
            last["text"], "[Rcon] Server stopping in 2 seconds (admin stop)",
            "{name} hears the last line before the stop: {last}"
        );
        let kicked = next_line_or_kick(&mut bots, name);
        assert_eq!(
            (kicked["event"].as_str(), kicked["reason"].as_str()),
            (Some("kicked"), Some(SERVER_CLOSED)),
            "{kicked}"
        );
    }

    // Then the stop it always did: the final snapshot, and the word to the reconciler.
    wait_for("the agent to be ready to terminate", || status("ready_to_terminate") == true);
    assert_eq!(status("phase"), "terminating");
    assert!(status("stopping_at").is_null());
    let pid = agent.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(agent.wait().unwrap().success());
    let log = log.lock().unwrap().clone();
    assert!(log.contains("stop requested: warning the players online first"), "{log}");
    assert_eq!(log.matches("warned the players online").count(), 2, "{log}");
}
