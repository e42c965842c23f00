//! The real protocol peer the day test runs as the agent's "java":
//! `tests/peers/squid_server.js` (flying-squid 1.20.1 with vanilla's log
//! lines, whitelist, ops, RCON and a world on disk) driven by real mineflayer
//! bots (`tests/peers/bots.js`) and by the agent's own RCON client. These
//! tests prove the peer keeps the contract the agent relies on (the same one
//! `fake_minecraft.py` imitates), and the last one runs the real agent binary
//! with the peer as its Minecraft.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mc_gitops::agent::traits::Console;
use mc_gitops::ids::PlayerName;
use mc_gitops::minecraft::rcon::{Rcon, RconError};
use mc_gitops::secret::Secret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod common;
use common::{agent_process, agent_status, free_port};
#[path = "peers/squid.rs"]
mod squid;
use squid::{Bots, Props, Squid, write_minecraft_dir};

/// Vanilla 1.20.1's `multiplayer.disconnect.not_whitelisted`.
const NOT_WHITELISTED: &str = "You are not white-listed on this server!";
/// Vanilla's `multiplayer.disconnect.server_shutdown`.
const SERVER_CLOSED: &str = "Server closed";
const T: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn names(list: &[&str]) -> Vec<PlayerName> {
    let mut v: Vec<PlayerName> = list.iter().map(|n| PlayerName::new(*n)).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<PlayerName>) -> Vec<PlayerName> {
    v.sort();
    v
}

/// A fresh Minecraft directory with free ports; `whitelist` names the players.
fn minecraft_dir(tmp: &Path, whitelist: &[&str]) -> PathBuf {
    let dir = tmp.join("minecraft");
    write_minecraft_dir(
        &dir,
        &Props {
            port: free_port(),
            rcon_port: free_port(),
            password: "rcon-pw-for-tests",
            whitelist,
            // As the reconciler writes it: Java properties escape non-ASCII.
            motd: "Grove \\u2014 friends only",
        },
    );
    dir
}

/// Every file under `dir` by relative path, with its sha256.
fn hashes(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, hex::encode(Sha256::digest(std::fs::read(&p).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn region(h: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    h.iter()
        .filter(|(k, _)| k.starts_with("region/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn whitelisted_bots_join_and_list_names_them_a_stranger_is_refused_until_whitelisted() {
    let tmp = tempfile::tempdir().unwrap();
    let squid = Squid::start(&minecraft_dir(tmp.path(), &["Steve"]), &[]);
    let port = squid.port();
    let rt = runtime();
    let mut console = squid.console();
    assert_eq!(rt.block_on(console.list_players()).unwrap(), names(&[]));

    let mut bots = Bots::start();
    bots.join("Steve", port);
    bots.expect_event("spawn", "Steve", T);
    assert_eq!(rt.block_on(console.list_players()).unwrap(), names(&["Steve"]));

    bots.join("Mallory", port);
    let kicked = bots.expect_event("kicked", "Mallory", T);
    assert_eq!(kicked["reason"], NOT_WHITELISTED, "{kicked}");
    assert_eq!(kicked["logged_in"], false, "refused at login, as vanilla does: {kicked}");
    // Regression: the refused login's socket stayed open until minecraft-protocol's 30 s close timer.
    bots.expect_event("end", "Mallory", Duration::from_secs(5));
    assert_eq!(rt.block_on(console.list_players()).unwrap(), names(&["Steve"]));

    // Whitelisted live over RCON: written to whitelist.json, and let in.
    rt.block_on(console.whitelist_add(&PlayerName::new("Mallory"))).unwrap();
    rt.block_on(console.whitelist_add(&PlayerName::new("Mallory"))).unwrap();
    let listed: Value = serde_json::from_str(&std::fs::read_to_string(squid.dir.join("whitelist.json")).unwrap()).unwrap();
    assert_eq!(
        listed.as_array().unwrap().iter().filter(|e| e["name"] == "Mallory").count(),
        1,
        "{listed}"
    );
    bots.join("Mallory", port);
    bots.expect_event("spawn", "Mallory", T);
    assert_eq!(sorted(rt.block_on(console.list_players()).unwrap()), names(&["Mallory", "Steve"]));

    // enforce-whitelist: a player taken off the list is disconnected at once.
    rt.block_on(console.whitelist_remove(&PlayerName::new("Steve"))).unwrap();
    // Regression: a kicked player stayed in `list` until the socket closed (vanilla drops them at once).
    assert_eq!(rt.block_on(console.list_players()).unwrap(), names(&["Mallory"]));
    let kicked = bots.expect_event("kicked", "Steve", T);
    assert_eq!(kicked["reason"], NOT_WHITELISTED, "{kicked}");
    assert_eq!(rt.block_on(console.list_players()).unwrap(), names(&["Mallory"]));

    // Ops land in ops.json; an op needs no whitelist entry.
    rt.block_on(console.op(&PlayerName::new("Steve"), 4)).unwrap();
    let ops = std::fs::read_to_string(squid.dir.join("ops.json")).unwrap();
    assert!(ops.contains("\"Steve\"") && ops.contains("\"level\": 4"), "{ops}");
    bots.join("Steve", port);
    bots.expect_event("spawn", "Steve", T);
    rt.block_on(console.deop(&PlayerName::new("Steve"))).unwrap();
    assert!(!std::fs::read_to_string(squid.dir.join("ops.json")).unwrap().contains("Steve"));

    // A leaving bot leaves the list.
    bots.send("leave Mallory");
    bots.expect_event("end", "Mallory", T);
    let until = Instant::now() + T;
    while rt.block_on(console.list_players()).unwrap() != names(&["Steve"]) {
        assert!(Instant::now() < until, "Mallory still listed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = squid.log().join("\n");
    assert!(
        log.contains("Disconnecting Mallory") && log.contains("Steve joined the game"),
        "{log}"
    );
}

#[test]
fn the_world_changes_as_bots_play_is_saved_as_vanilla_saves_and_is_loaded_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = minecraft_dir(tmp.path(), &["Steve"]);
    let world = dir.join("world");
    // Autosave every second: save-off must still keep the chunks still.
    let mut squid = Squid::start(&dir, &[("SQUID_AUTOSAVE_SECONDS", "1")]);
    let port = squid.port();
    let rt = runtime();
    let mut console = squid.console();
    assert!(world.join("level.dat").is_file(), "a new world is on disk by Done");

    let mut bots = Bots::start();
    bots.join("Steve", port);
    let spawn = bots.expect_event("spawn", "Steve", T);
    // The agent's backup sequence: save-off, then save-all flush (a save
    // already under way finishes), then the files stay still until save-on.
    rt.block_on(console.save_off()).unwrap();
    rt.block_on(console.save_all_flush()).unwrap();
    let before = hashes(&world);
    bots.send("walk Steve 6000"); // past 16 blocks: new chunks are generated
    let walked = bots.expect_event("walked", "Steve", T);
    assert_ne!(walked["position"], spawn["position"], "{walked}");
    std::thread::sleep(Duration::from_millis(2500));
    let still = hashes(&world);
    assert_eq!(region(&still), region(&before), "no chunk is written while saving is off");

    rt.block_on(console.save_all_flush()).unwrap();
    let after = hashes(&world);
    // Regression: a walking mineflayer bot never loaded new chunks (flying-squid waits for a packet it never sends).
    assert_ne!(region(&after), region(&before), "save-all flush writes the chunks the bot loaded");
    let player = after
        .keys()
        .find(|k| k.starts_with("playerdata/"))
        .expect("playerdata written")
        .clone();
    assert_ne!(after["level.dat"], before["level.dat"]);
    rt.block_on(console.save_on()).unwrap();

    // `stop` over RCON, as the agent's Jvm sends it: players told, world saved, exit 0.
    let addr = SocketAddr::from(([127, 0, 0, 1], squid.property("rcon.port").parse::<u16>().unwrap()));
    let password = Secret::new(squid.property("rcon.password"));
    let game_time = |rcon: &mut Rcon| -> u64 {
        let reply = rt.block_on(rcon.cmd("time query gametime")).unwrap();
        reply
            .strip_prefix("The time is ")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{reply}"))
    };
    let mut rcon = rt.block_on(Rcon::connect(addr, &password, T)).unwrap();
    let saved_time = game_time(&mut rcon);
    rt.block_on(rcon.stop()).unwrap();
    let kicked = bots.expect_event("kicked", "Steve", T);
    assert_eq!(kicked["reason"], SERVER_CLOSED, "{kicked}");
    assert!(squid.wait_exit(T).success());
    let log = squid.log().join("\n");
    assert!(log.contains("All chunks are saved"), "{log}");
    drop(squid);

    // The next start loads that world: its game time goes on from where it
    // stopped, and the bot comes back where it walked to.
    let squid = Squid::start(&dir, &[]);
    assert!(
        squid.log().iter().any(|l| l.contains("Loaded level \"world\"")),
        "{:?}",
        squid.log()
    );
    let mut rcon = rt.block_on(Rcon::connect(addr, &password, T)).unwrap();
    let now = game_time(&mut rcon);
    assert!(now >= saved_time && saved_time > 0, "{now} after {saved_time}");
    bots.join("Steve", port);
    let back = bots.expect_event("spawn", "Steve", T);
    let (p, w) = (&back["position"], &walked["position"]);
    for axis in ["x", "z"] {
        let d = (p[axis].as_f64().unwrap() - w[axis].as_f64().unwrap()).abs();
        assert!(d < 2.0, "back at {p}, walked to {w}");
    }
    assert!(world.join(&player).is_file());
}

#[test]
fn rcon_refuses_a_wrong_password_and_sigterm_saves_and_exits_like_a_jvm() {
    let tmp = tempfile::tempdir().unwrap();
    let mut squid = Squid::start(&minecraft_dir(tmp.path(), &["Steve"]), &[]);
    let rt = runtime();
    let addr = SocketAddr::from(([127, 0, 0, 1], squid.property("rcon.port").parse::<u16>().unwrap()));
    let err = rt.block_on(Rcon::connect(addr, &Secret::new("wrong"), T)).err().expect("refused");
    assert!(matches!(err, RconError::AuthRejected { .. }), "{err}");
    let mut rcon = rt
        .block_on(Rcon::connect(addr, &Secret::new(squid.property("rcon.password")), T))
        .unwrap();
    let reply = rt.block_on(rcon.cmd("list")).unwrap();
    assert_eq!(reply, "There are 0 of a max of 5 players online: ");
    let reply = rt.block_on(rcon.cmd("frobnicate now")).unwrap();
    assert!(reply.starts_with("Unknown or incomplete command"), "{reply}");
    assert_eq!(rt.block_on(rcon.cmd("say hello")).unwrap(), "");

    let mut bots = Bots::start();
    bots.join("Steve", squid.port());
    bots.expect_event("spawn", "Steve", T);
    // The status ping shows the players and the motd, unescaped.
    let ping = rt
        .block_on(mc_gitops::minecraft::slp::status("127.0.0.1", squid.port(), T))
        .unwrap();
    assert_eq!((ping.online, ping.max, ping.protocol), (1, 5, 763));
    assert_eq!(ping.description, "Grove — friends only");
    squid.terminate();
    let kicked = bots.expect_event("kicked", "Steve", T);
    assert_eq!(kicked["reason"], SERVER_CLOSED, "{kicked}");
    let status = squid.wait_exit(T);
    assert_eq!(status.code(), Some(143), "a JVM that ran its shutdown hook on SIGTERM");
    let log = squid.log().join("\n");
    assert!(log.contains("Saving worlds") && log.contains("All chunks are saved"), "{log}");
    assert!(squid.dir.join("world/playerdata").read_dir().unwrap().next().is_some());
}

/// The agent's status document, if written.
fn status(storage: &Path) -> Option<Value> {
    agent_status(storage)
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
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

#[test]
fn the_agent_runs_squid_as_its_java_and_sees_a_real_bot_online() {
    squid::require_node_peers();
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let mc = tmp.path().join("minecraft");
    std::fs::create_dir_all(storage.join("control/grove")).unwrap();
    std::fs::create_dir_all(storage.join("assets/grove")).unwrap();
    // As the reconciler renders them: Steve with his Mojang UUID.
    let whitelist = br#"[{"uuid":"8667ba71-b85a-4004-af54-457a9734eed7","name":"Steve"}]"#;
    let desired = json!({
        "version": 1, "session": "20261122-1800-eu", "stop_requested": null, "stop_reason": null,
        "whitelist": ["Steve"], "ops": [],
        "assets": {
            "server.properties": asset(&storage, b"motd=Grove\nmax-players=5\nonline-mode=true\n"),
            "whitelist.json": asset(&storage, whitelist),
        },
        "written": "2026-11-22T18:00:00Z"
    });
    std::fs::write(storage.join("control/grove/desired.json"), desired.to_string()).unwrap();
    let game = free_port();
    let config = tmp.path().join("agent.toml");
    let squid_server = squid::peers_dir().join("squid_server.js");
    let java = [std::path::PathBuf::from("node"), squid_server];
    std::fs::write(&config, common::agent_toml_1s(&mc, &storage, None, &java, game)).unwrap();
    let agent = agent_process(&config, &[]);
    wait_for("the agent to report idle", || {
        status(&storage).is_some_and(|v| v["phase"] == "idle")
    });
    let st = status(&storage).unwrap();
    assert_eq!(
        (st["minecraft_version"].as_str(), st["protocol"].as_i64()),
        (Some("1.20.1"), Some(763))
    );

    let mut bots = Bots::start();
    bots.join("Mallory", game);
    let kicked = bots.expect_event("kicked", "Mallory", T);
    assert_eq!(kicked["reason"], NOT_WHITELISTED, "{kicked}");
    bots.join("Steve", game);
    bots.expect_event("spawn", "Steve", T);
    wait_for("the agent to see Steve", || {
        status(&storage).is_some_and(|v| v["phase"] == "running" && v["players_online"] == json!(["Steve"]))
    });
    // The agent's own console, on the port and password it provisioned.
    let password = std::fs::read_to_string(mc.join("server.properties"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("rcon.password=").map(String::from))
        .unwrap();
    let rcon_port: u16 = std::fs::read_to_string(mc.join("server.properties"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("rcon.port=").map(|p| p.parse().unwrap()))
        .unwrap();
    let rt = runtime();
    let mut console = mc_gitops::agent::console::RconConsole::new(([127, 0, 0, 1], rcon_port).into(), Secret::new(password));
    assert_eq!(rt.block_on(console.list_players()).unwrap(), names(&["Steve"]));

    let pid = agent.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let kicked = bots.expect_event("kicked", "Steve", T);
    assert_eq!(kicked["reason"], SERVER_CLOSED, "{kicked}");
    let out = agent.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("asked Minecraft to stop over RCON"), "{stderr}");
    assert!(!stderr.contains("killing"), "{stderr}");
    assert!(mc.join("world/level.dat").is_file() && mc.join("world/region").is_dir());
}
