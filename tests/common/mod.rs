//! Helpers shared by the integration tests (and the no-op apply bench):
//! copies of the example state repo to run the binary against, and where the
//! real protocol peers (`tests/peers/`) live.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::{Path, PathBuf};

pub(crate) mod actions;
pub(crate) mod fuzz;
pub(crate) mod log;

/// The shipped example state repo.
pub(crate) fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example")
}

/// Copy a directory tree.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Run `git` in `dir` as "Grove Admin" with no system or user config
/// (`HOME` is `dir`); fails the test with git's stderr when git fails.
/// Returns git's stdout as it printed it.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Grove Admin")
        .env("GIT_AUTHOR_EMAIL", "admin@example.org")
        .env("GIT_COMMITTER_NAME", "Grove Admin")
        .env("GIT_COMMITTER_EMAIL", "admin@example.org")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const PEERS_INSTALL: &str = "run `bash scripts/test --setup-only` or: python3 -m venv tests/peers/.venv && tests/peers/.venv/bin/pip install -r tests/peers/requirements.txt && npm ci --prefix tests/peers";

/// `tests/peers/`: the third-party peers and the scripts that drive them.
pub(crate) fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// The test venv's Python (rconx, mcstatus); a missing venv fails with the
/// command that installs it, because CI always has it.
pub(crate) fn python() -> PathBuf {
    let p = peers().join(".venv/bin/python");
    assert!(
        p.exists(),
        "the Python test peers are not installed ({} is missing); {PEERS_INSTALL}",
        p.display()
    );
    p
}

/// agent.toml for the agent binary with `fake_minecraft.py` as its
/// Minecraft, local storage and 1 s timers (`session`: the one it serves,
/// or none: any session desired.json names).
pub(crate) fn fake_minecraft_agent_toml(mc: &Path, storage: &Path, session: Option<&str>) -> String {
    let java = [python(), peers().join("fake_minecraft.py")];
    agent_toml_1s(mc, storage, session, &java, free_port())
}

/// agent.toml with local storage, 1 s heartbeat and polls, `java` as the
/// command that runs Minecraft on `game_port` (RCON on a free port).
pub(crate) fn agent_toml_1s(mc: &Path, storage: &Path, session: Option<&str>, java: &[PathBuf], game_port: u16) -> String {
    let java: Vec<String> = java.iter().map(|p| p.display().to_string()).collect();
    format!(
        "server = \"grove\"\n{session}minecraft_dir = {mc:?}\njava = {java:?}\n\
         game_port = {game_port}\nrcon_port = {rcon}\n[storage]\ndir = {storage:?}\n\
         [lifecycle]\nheartbeat = \"1s\"\ncontrol_poll = \"1s\"\nplayers_poll = \"1s\"\n",
        session = session.map(|s| format!("session = \"{s}\"\n")).unwrap_or_default(),
        mc = mc.display().to_string(),
        rcon = free_port(),
        storage = storage.display().to_string(),
    )
}

/// A port free on 127.0.0.1 a moment ago, and never handed out before in
/// this process: the kernel may give the port it just freed to the next
/// `bind(0)`, so two calls in a row (a game port and an RCON port) could
/// otherwise name the same port (seen: flying-squid's RCON failed to bind
/// to its own game port).
pub(crate) fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Fail if any file below `dir` holds `secret`.
pub(crate) fn assert_no_secret_in(dir: &Path, secret: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            assert_no_secret_in(&p, secret);
        } else if let Ok(bytes) = std::fs::read(&p) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "a secret was written to {}",
                p.display()
            );
        }
    }
}

/// The agent binary run on `config` (debug log, no GitHub API address
/// unless `env` gives one), its output piped for the caller to read.
pub(crate) fn agent_process(config: &Path, env: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
        .args(["agent", "--config"])
        .arg(config)
        .env("MC_GITOPS_LOG", "debug")
        .env_remove("GITHUB_API_URL")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The agent's `status.json` in a local-dir store of server `grove`, if written.
pub(crate) fn agent_status(storage: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(storage.join("control/grove/status.json")).ok()?).ok()
}
