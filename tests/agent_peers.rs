//! The agent's protocol pieces against real third-party peers: rconx (a
//! Python RCON server), flying-squid (a Minecraft server in Node), mcstatus
//! (a Python ping client) and mineflayer bots (Node). `bash scripts/test
//! --setup-only` (the README's test command) installs them into
//! `tests/peers/`; a missing peer fails the test with the command
//! that installs it, because CI always has them.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mc_gitops::agent::console::RconConsole;
use mc_gitops::agent::sleeping::{NOT_WHITELISTED, Sleeping, SleepingConfig, WAKE_MESSAGE, Woken};
use mc_gitops::agent::traits::Console;
use mc_gitops::ids::PlayerName;
use mc_gitops::minecraft::rcon::{Rcon, RconError};
use mc_gitops::minecraft::session_server::SessionServer;
use mc_gitops::minecraft::slp;
use mc_gitops::secret::Secret;
use mc_gitops::storage::WhitelistEntry;

mod common;
use common::{free_port, peers, python};

#[path = "fakes/session_server.rs"]
mod session_fake;
use session_fake::FakeSessionServer;

fn node_modules() {
    let p = peers().join("node_modules/mineflayer");
    assert!(
        p.exists(),
        "the Node test peers are not installed ({} is missing); run `bash scripts/test --setup-only` or: npm ci --prefix tests/peers",
        p.display()
    );
}

/// A child process killed on drop.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start a peer and wait for it to print "ready".
fn start(cmd: &mut Command) -> Peer {
    let mut child = cmd
        .current_dir(peers())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn peer");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.trim() == "ready" => break,
            Some(Ok(_)) => continue,
            _ => panic!("peer {cmd:?} exited before it was ready"),
        }
    }
    // Keep draining so the peer never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Peer(child)
}

fn run_json(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.current_dir(peers()).output().expect("run peer client");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON from {cmd:?}: {stdout}"));
    serde_json::from_str(last).unwrap()
}

fn rcon_server(password: &str) -> (Peer, SocketAddr) {
    let port = free_port();
    let peer = start(Command::new(python()).arg("rcon_server.py").arg(port.to_string()).arg(password));
    (peer, SocketAddr::from(([127, 0, 0, 1], port)))
}

const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn rcon_against_rconx_runs_commands_and_multi_packet_replies() {
    let (_peer, addr) = rcon_server("s3cret");
    let mut rcon = Rcon::connect(addr, &Secret::new("s3cret"), T).await.unwrap();
    assert_eq!(
        rcon.cmd("whitelist add Herobrine").await.unwrap(),
        "Added Herobrine to the whitelist"
    );
    // 10 000 bytes come back in three packets (rconx splits at 4 086).
    let long = rcon.cmd("long 10000").await.unwrap();
    assert_eq!(long.len(), 10_000);
    assert!(long.starts_with("abcdefghijklmnopqrstuvwxyza"));
    // The SRCDS-style second marker packet of the previous command is skipped.
    assert_eq!(rcon.cmd("hello").await.unwrap(), "echo:hello");
    assert_eq!(rcon.cmd("save-all flush").await.unwrap(), "Saved the game");
}

#[tokio::test]
async fn the_console_drives_rconx_and_judges_its_answers() {
    let (_peer, addr) = rcon_server("s3cret");
    let mut console = RconConsole::new(addr, Secret::new("s3cret"));
    let names = console.list_players().await.unwrap();
    assert_eq!(names, vec![PlayerName::new("Steve"), PlayerName::new("Alex")]);
    console.whitelist_add(&PlayerName::new("Herobrine")).await.unwrap();
    console.save_all_flush().await.unwrap();
    let e = console.save_on().await.unwrap_err().to_string();
    assert_eq!(e, "console command `save-on`: unexpected answer \"echo:save-on\"");
    assert_eq!(console.list_players().await.unwrap().len(), 2);
}

#[tokio::test]
async fn rcon_wrong_password_is_reported_as_rejected() {
    let (_peer, addr) = rcon_server("right");
    let err = Rcon::connect(addr, &Secret::new("wrong"), T).await.err().expect("must fail");
    assert!(matches!(err, RconError::AuthRejected { .. }), "{err}");
    assert!(err.to_string().contains("rejected the password"), "{err}");
    assert!(!err.to_string().contains("wrong"), "the password must not be printed: {err}");
}

#[tokio::test]
async fn slp_pings_flying_squid() {
    node_modules();
    let port = free_port();
    let _peer = start(Command::new("node").arg("flying_squid.js").arg(port.to_string()).arg("1.20.1"));
    let s = slp::status("127.0.0.1", port, T).await.unwrap();
    assert_eq!((s.online, s.max, s.protocol), (0, 7, slp::PROTOCOL_1_20_1));
    assert_eq!(s.version, "1.20.1");
    assert_eq!(s.description, "flying squid peer");
    let g = slp::ping("127.0.0.1", port, T).await.unwrap();
    assert_eq!((g.online, g.max, g.protocol), (0, 7, 763));
}

fn sleeping_config(session: &FakeSessionServer) -> SleepingConfig {
    SleepingConfig {
        motd: "Grove — friends only".into(),
        max_players: 12,
        whitelist: vec![WhitelistEntry::name_only("Steve")],
        version_name: "1.20.1".into(),
        protocol: 763,
        session_server: SessionServer::new(&session.url()).unwrap(),
    }
}

/// The listener, checking logins with a fake of Mojang's session server.
async fn sleeping() -> (Sleeping, FakeSessionServer) {
    let session = FakeSessionServer::start().await;
    let l = Sleeping::bind("127.0.0.1:0".parse().unwrap(), sleeping_config(&session))
        .await
        .unwrap();
    (l, session)
}

#[tokio::test]
async fn sleeping_listener_answers_mcstatus_and_our_own_client() {
    let (listener, _session) = sleeping().await;
    let port = listener.local_addr().port();
    let py = python();
    let v = tokio::task::spawn_blocking(move || run_json(Command::new(py).arg("mcstatus_ping.py").arg(port.to_string())))
        .await
        .unwrap();
    assert_eq!(v["online"], 0);
    assert_eq!(v["max"], 12);
    assert_eq!(v["protocol"], 763);
    assert_eq!(v["version"], "1.20.1");
    let motd = v["motd"].as_str().unwrap();
    assert!(
        motd.contains("Grove — friends only") && motd.contains("sleeping — join to wake"),
        "{motd}"
    );

    let s = slp::status("127.0.0.1", port, T).await.unwrap();
    assert_eq!((s.online, s.max), (0, 12));
    assert!(s.description.contains("sleeping"));
}

/// One mineflayer process joins as each name in turn, in online mode with
/// the fake session server's account of that name; one JSON line per name.
async fn join(port: u16, session: &FakeSessionServer, names: &[&str]) -> Vec<serde_json::Value> {
    node_modules();
    let args: Vec<String> = names
        .iter()
        .map(|n| {
            let a = session.account(n);
            format!("{n}:{}:{}", a.id, a.access_token)
        })
        .collect();
    let url = session.url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("mineflayer_join.js")
            .arg(port.to_string())
            .args(args)
            .env("MC_SESSION_SERVER", url)
            .current_dir(peers())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "mineflayer failed: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), names.len(), "{lines:?}");
    lines
}

fn kicked(v: &serde_json::Value) -> &str {
    v["kicked"].as_str().unwrap_or_else(|| panic!("not kicked: {v}"))
}

#[tokio::test]
async fn mineflayer_join_wakes_for_whitelisted_names_only() {
    let (mut listener, session) = sleeping().await;
    let port = listener.local_addr().port();

    let v = join(port, &session, &["Mallory", "Steve"]).await;
    assert!(kicked(&v[0]).contains(NOT_WHITELISTED), "{v:?}");
    let reason = kicked(&v[1]);
    assert!(reason.contains("starting") && reason.contains(WAKE_MESSAGE), "{reason}");
    // Exactly one wake-up, for Steve: Mallory's attempt woke nothing.
    let ev = tokio::time::timeout(T, listener.next_event()).await.unwrap();
    assert_eq!(ev, Some(Woken(PlayerName::new("Steve"))));
    let nothing = tokio::time::timeout(Duration::from_millis(200), listener.next_event()).await;
    assert!(nothing.is_err(), "a refused name must not wake the server");

    // The agent switches the whitelist at runtime.
    listener.set_whitelist(vec![WhitelistEntry::name_only("Mallory")]);
    let v = join(port, &session, &["Mallory"]).await;
    assert!(kicked(&v[0]).contains("starting"), "{v:?}");
    assert_eq!(
        tokio::time::timeout(T, listener.next_event()).await.unwrap(),
        Some(Woken(PlayerName::new("Mallory")))
    );
}
