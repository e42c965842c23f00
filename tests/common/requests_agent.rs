//! The agent and `mc-gitops console` for the admin-request tests
//! (`tests/console.rs`, `tests/hostile_requests.rs`): the real binary as
//! agent with the fake "java" (`tests/peers/fake_minecraft.py`, which logs
//! every command it runs to console.log) over a local-dir store, and the
//! example repo for the CLI.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{self, agent_process, agent_status};

pub(crate) const SESSION: &str = "20261122-1800-eu";

pub(crate) struct Setup {
    pub tmp: tempfile::TempDir,
    pub storage: PathBuf,
    pub mc: PathBuf,
    pub config: PathBuf,
    pub repo: PathBuf,
}

pub(crate) fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let mc = tmp.path().join("minecraft");
    std::fs::create_dir_all(storage.join("control/grove")).unwrap();
    std::fs::create_dir_all(storage.join("assets/grove")).unwrap();
    // A world on disk: the agent keeps it (as after a restart) and backs it up.
    std::fs::create_dir_all(mc.join("world/region")).unwrap();
    std::fs::write(mc.join("world/level.dat"), b"the group's world").unwrap();
    std::fs::write(mc.join("world/region/r.0.0.mca"), vec![7u8; 40_000]).unwrap();
    let props = b"motd=Grove\nenable-rcon=false\n";
    let hex = hex::encode(Sha256::digest(props));
    std::fs::write(storage.join(format!("assets/grove/sha256-{hex}")), props).unwrap();
    let desired = json!({
        "version": 1, "session": SESSION, "stop_requested": null, "stop_reason": null,
        "whitelist": ["Steve"], "ops": [],
        "assets": { "server.properties": { "hash": format!("sha256:{hex}"), "size": props.len() } },
        "written": "2026-11-22T18:00:00Z"
    });
    std::fs::write(storage.join("control/grove/desired.json"), desired.to_string()).unwrap();
    let config = tmp.path().join("agent.toml");
    std::fs::write(&config, common::fake_minecraft_agent_toml(&mc, &storage, Some(SESSION))).unwrap();
    let repo = tmp.path().join("repo");
    common::copy_dir(&common::example(), &repo);
    Setup {
        tmp,
        storage,
        mc,
        config,
        repo,
    }
}

/// Wait (bounded) until `f` holds: a safety net, not a timing target.
pub(crate) fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(90);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn agent(s: &Setup) -> Child {
    let child = agent_process(&s.config, &[]);
    wait_for("the agent to report idle", || {
        agent_status(&s.storage).is_some_and(|v| v["phase"] == "idle")
    });
    child
}

pub(crate) fn stop(child: Child) -> Output {
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    child.wait_with_output().unwrap()
}

/// `mc-gitops console ARGS` against the setup's store, outside Actions.
pub(crate) fn console_cmd(s: &Setup, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
    c.arg("console")
        .arg("--repo")
        .arg(&s.repo)
        .args(args)
        .env("MC_GITOPS_STORAGE_DIR", &s.storage)
        .env("MC_GITOPS_POLL_INTERVAL_MS", "100")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("R2_ACCESS_KEY_ID")
        .env_remove("R2_SECRET_ACCESS_KEY");
    c
}

pub(crate) fn console(s: &Setup, args: &[&str]) -> Output {
    console_cmd(s, args).output().unwrap()
}

pub(crate) fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The commands Minecraft received, in order.
pub(crate) fn received(s: &Setup) -> Vec<String> {
    std::fs::read_to_string(s.mc.join("console.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

pub(crate) fn times(s: &Setup, cmd: &str) -> usize {
    received(s).iter().filter(|c| *c == cmd).count()
}

pub(crate) fn requests_dir(s: &Setup) -> PathBuf {
    s.storage.join("control/grove/requests")
}

/// Every stored answer, by id.
pub(crate) fn results(s: &Setup) -> Vec<Value> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(requests_dir(s))
        .map(|d| d.map(|e| e.unwrap().path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".result.json"))
        .map(|p| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (v["id"].as_str().unwrap().to_string(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}

/// A request written straight into storage, as anything holding the
/// server's storage credentials could.
pub(crate) fn plant(s: &Setup, id: &str, body: &[u8]) {
    std::fs::create_dir_all(requests_dir(s)).unwrap();
    std::fs::write(requests_dir(s).join(format!("{id}.json")), body).unwrap();
}

pub(crate) fn planted(id: &str, command: &str) -> Value {
    let now = chrono::Utc::now();
    json!({
        "version": 1, "id": id, "action": "console", "command": command, "actor": "grove-admin",
        "asked": now, "expires": now + chrono::Duration::minutes(10),
    })
}

pub(crate) fn fresh_id(tag: &str) -> String {
    format!("{}-{tag}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"))
}
