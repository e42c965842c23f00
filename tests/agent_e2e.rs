//! `mc-gitops agent` end to end: the real binary, a config file, a local-dir
//! store holding `desired.json` and one asset, and a fake "java"
//! (`tests/peers/fake_minecraft.py`, run with the test venv) that prints the
//! vanilla start-up lines and serves RCON with rconx on the port and password
//! the agent wrote into server.properties. Proves config parsing,
//! provisioning, status writing, the console over RCON (readiness, `list`,
//! a live whitelist change), the SIGTERM shutdown path (`stop` over RCON),
//! a crash restarted with backoff, and that the RCON password the agent
//! makes stays out of storage and its output.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod common;
use common::{agent_process, agent_status};

struct Setup {
    _tmp: tempfile::TempDir,
    storage: PathBuf,
    mc: PathBuf,
    config: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let mc = tmp.path().join("minecraft");
    std::fs::create_dir_all(storage.join("control/grove")).unwrap();
    std::fs::create_dir_all(storage.join("assets/grove")).unwrap();
    let props = b"motd=Grove\nenable-rcon=false\n";
    let hex = hex::encode(Sha256::digest(props));
    std::fs::write(storage.join(format!("assets/grove/sha256-{hex}")), props).unwrap();
    let desired = json!({
        "version": 1, "session": "20261122-1800-eu", "stop_requested": null, "stop_reason": null,
        "whitelist": ["Steve"], "ops": [],
        "assets": { "server.properties": { "hash": format!("sha256:{hex}"), "size": props.len() } },
        "written": "2026-11-22T18:00:00Z"
    });
    std::fs::write(storage.join("control/grove/desired.json"), desired.to_string()).unwrap();
    let config = tmp.path().join("agent.toml");
    std::fs::write(&config, common::fake_minecraft_agent_toml(&mc, &storage, None)).unwrap();
    Setup {
        _tmp: tmp,
        storage,
        mc,
        config,
    }
}

fn agent(config: &Path) -> Child {
    agent_with(config, &[])
}

fn agent_with(config: &Path, env: &[(&str, &str)]) -> Child {
    agent_process(config, env)
}

fn status(storage: &Path) -> Option<Value> {
    agent_status(storage)
}

/// Wait (bounded) until `f` holds; the bound is a safety net, not a timing
/// target (60 s: the crash test's 10 s backoff and reboot took 11 s alone and
/// over 30 s beside the whole suite on two loaded cores).
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn boots_to_idle_reports_and_shuts_down_cleanly_on_sigterm() {
    let s = setup();
    let child = agent(&s.config);
    wait_for("the agent to report idle", || {
        status(&s.storage).is_some_and(|v| v["phase"] == "idle")
    });
    let st = status(&s.storage).unwrap();
    assert_eq!(st["minecraft_version"], "1.20.1");
    assert_eq!(st["protocol"], 763);
    assert_eq!(st["session"], "20261122-1800-eu");
    assert!(st["boot"]["ready"].is_string(), "{st}");
    assert_eq!(st["boot"]["deadline_missed"], false);
    assert_eq!(st["players_online"], json!([]));

    let props = std::fs::read_to_string(s.mc.join("server.properties")).unwrap();
    assert!(props.starts_with("motd=Grove\n"), "{props}");
    assert!(
        props.contains("enable-rcon=true\n") && props.contains("enforce-whitelist=true\n"),
        "{props}"
    );
    let password = props.lines().find_map(|l| l.strip_prefix("rcon.password=")).unwrap().to_string();
    assert_eq!(password.len(), 32);

    // A heartbeat follows within a few seconds.
    let first = st["heartbeat"].clone();
    wait_for("a second heartbeat", || status(&s.storage).is_some_and(|v| v["heartbeat"] != first));

    // A player added to desired.json is whitelisted live, over RCON.
    let path = s.storage.join("control/grove/desired.json");
    let mut desired: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    desired["whitelist"] = json!(["Steve", "Alex"]);
    std::fs::write(&path, desired.to_string()).unwrap();
    wait_for("Alex in whitelist.json", || {
        std::fs::read_to_string(s.mc.join("whitelist.json")).is_ok_and(|t| t.contains("\"Alex\""))
    });
    assert!(
        status(&s.storage).unwrap()["last_error"].is_null(),
        "{}",
        status(&s.storage).unwrap()
    );

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("agent stopped in phase idle"), "{stderr}");
    assert!(stderr.contains("whitelist add Alex"), "{stderr}");
    assert!(stderr.contains("asked Minecraft to stop over RCON"), "{stderr}");
    assert!(!stderr.contains("SIGTERM") && !stderr.contains("killing"), "{stderr}");
    assert!(s.mc.join("stopped.marker").is_file(), "Minecraft saved and stopped");
    let last = status(&s.storage).unwrap();
    assert!(last["stopped_at"].is_string(), "{last}");

    // The password is in server.properties and nowhere else.
    assert!(!stderr.contains(&password));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&password));
    let mut files = Vec::new();
    all_files(&s.storage, &mut files);
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&password),
            "{} holds the password",
            f.display()
        );
    }
}

#[test]
fn a_bad_config_names_the_line_and_exits_1() {
    let s = setup();
    let text = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("heartbeat = \"1s\"", "heartbeet = \"1s\"");
    std::fs::write(&s.config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
        .args(["agent", "--config"])
        .arg(&s.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("agent.toml:9:1: error: unknown key `heartbeet` in [lifecycle]"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `heartbeat`?"), "{stderr}");
    assert!(status(&s.storage).is_none(), "nothing started");
}

#[test]
fn a_file_whose_hash_does_not_match_is_refused_and_reported() {
    let s = setup();
    let key = std::fs::read_dir(s.storage.join("assets/grove"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&key, b"motd=Tampered\n").unwrap();
    let mut child = agent(&s.config);
    wait_for("the agent to report the problem", || {
        // Another size than listed: refused unread (the same size would be refused by its sha256).
        status(&s.storage).is_some_and(|v| v["last_error"].as_str().is_some_and(|e| e.contains("bytes, desired.json says")))
    });
    assert_eq!(status(&s.storage).unwrap()["phase"], "provisioning");
    assert!(!s.mc.join("server.properties").exists(), "nothing unverified was written");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_crash_is_reported_and_minecraft_restarted_after_a_pause() {
    let s = setup();
    let child = agent_with(&s.config, &[("FAKE_MINECRAFT_CRASH_ONCE", "1")]);
    wait_for("the crash in the status", || {
        status(&s.storage).is_some_and(|v| v["crashes"] == 1 && v["restart_at"].is_string())
    });
    let st = status(&s.storage).unwrap();
    assert_eq!(st["phase"], "provisioning");
    assert_eq!(st["crashed"], false, "one crash is not the last");
    let e = st["last_error"].as_str().unwrap();
    assert!(e.contains("Minecraft exited by itself (exit code Some(1))"), "{e}");
    assert!(s.mc.join("crashed.marker").is_file());
    // The first backoff is 10 s; then the second run loads and answers.
    wait_for("the restarted server to be ready", || {
        status(&s.storage).is_some_and(|v| v["phase"] == "idle")
    });
    let st = status(&s.storage).unwrap();
    assert_eq!(st["crashes"], 0, "a good boot resets the count: {st}");
    assert!(st["boot"]["ready"].is_string(), "{st}");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.mc.join("stopped.marker").is_file());
}

/// Regression: a VPS whose desired.json was not written for its session (a
/// failed write right after the create) provisioned from the previous
/// session's document. It now waits, saying so, until its own appears.
#[test]
fn provisions_only_once_desired_json_names_its_session() {
    let s = setup();
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, format!("session = \"20261122-1900-eu\"\n{config}")).unwrap();
    let child = agent(&s.config);
    let waiting = "waiting for desired.json for session 20261122-1900-eu (it names 20261122-1800-eu)";
    wait_for("the agent to say what it waits for", || {
        status(&s.storage).is_some_and(|v| v["waiting"] == waiting)
    });
    let st = status(&s.storage).unwrap();
    assert_eq!(
        (st["phase"].as_str(), st["session"].as_str()),
        (Some("provisioning"), Some("20261122-1900-eu"))
    );
    assert_eq!(st["last_error"], waiting);
    // It keeps reading (the heartbeat moves) and provisions nothing.
    let first = st["heartbeat"].clone();
    wait_for("a second heartbeat", || status(&s.storage).is_some_and(|v| v["heartbeat"] != first));
    assert!(
        !s.mc.join("server.properties").exists(),
        "nothing provisioned from another session's document"
    );

    // The reconciler hands it its document.
    let path = s.storage.join("control/grove/desired.json");
    let mut desired: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    desired["session"] = json!("20261122-1900-eu");
    std::fs::write(&path, desired.to_string()).unwrap();
    wait_for("the agent to report idle", || {
        status(&s.storage).is_some_and(|v| v["phase"] == "idle")
    });
    let st = status(&s.storage).unwrap();
    assert!(st.get("waiting").is_none() && st["last_error"].is_null(), "{st}");
    assert!(
        std::fs::read_to_string(s.mc.join("server.properties"))
            .unwrap()
            .starts_with("motd=Grove\n")
    );
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(child.wait_with_output().unwrap().status.success());
}

/// Regression (issue 11, break 10): with `current.json` gone but backups in
/// the bucket, the agent started a fresh world over them. It now waits,
/// saying which backup to name, and restores it once server.toml names it.
#[test]
fn backups_without_current_json_are_not_started_over_and_the_status_names_the_newest() {
    let s = setup();
    let world = s.storage.join("w");
    std::fs::create_dir_all(world.join("region")).unwrap();
    std::fs::write(world.join("level.dat"), b"the group's world").unwrap();
    let store = mc_gitops::storage::Store::local(&s.storage, &mc_gitops::ids::ServerName::new("grove")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let m = rt
        .block_on(mc_gitops::world::snapshot(&store, &world, chrono::Utc::now(), &|_| true))
        .unwrap();
    std::fs::remove_file(s.storage.join("worlds/grove/current.json")).unwrap();
    let name = m.name.to_string();

    let child = agent(&s.config);
    let hint = format!("set restore = \"{name}\" in server.toml");
    wait_for("the agent to say which backup to name", || {
        status(&s.storage).is_some_and(|v| v["last_error"].as_str().is_some_and(|e| e.contains(&hint)))
    });
    let st = status(&s.storage).unwrap();
    assert_eq!(st["phase"], "provisioning");
    assert!(st["last_error"].as_str().unwrap().contains("current.json is missing"), "{st}");
    assert_eq!(st["waiting"], st["last_error"], "waiting for the admin, read every control_poll");
    assert!(!s.mc.join("world").exists(), "no fresh world");
    // The listed files download while the restore runs (docs/coldstart.md),
    // but provisioning stopped at the restore's refusal: the managed keys
    // (RCON's password) were never written, and Minecraft never started.
    let props = std::fs::read_to_string(s.mc.join("server.properties")).unwrap_or_default();
    assert!(!props.contains("rcon.password"), "nothing started: {props}");

    // The reconciler hands over the admin's choice: the world comes back.
    let path = s.storage.join("control/grove/desired.json");
    let mut desired: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    desired["restore"] = json!(name);
    std::fs::write(&path, desired.to_string()).unwrap();
    wait_for("the restored server", || status(&s.storage).is_some_and(|v| v["phase"] == "idle"));
    let st = status(&s.storage).unwrap();
    assert!(st["last_error"].is_null() && st.get("waiting").is_none(), "{st}");
    assert_eq!(std::fs::read(s.mc.join("world/level.dat")).unwrap(), b"the group's world");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(child.wait_with_output().unwrap().status.success());
}
