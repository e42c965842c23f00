//! The reconciler's own Server List Ping, through the binary: `plan --json`
//! and `apply` against the Hetzner and Cloudflare fakes, where the fake
//! server's address is 127.0.0.1 and a real Minecraft server in Node
//! (flying-squid, from `tests/peers/`) answers. Every other test turns the
//! ping off (`MC_GITOPS_GAME_PING=off`): the fakes hand out TEST-NET
//! addresses that must never be dialled.

mod common;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/discord.rs"]
mod discord_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "common/apply_world.rs"]
mod world;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use axum::http::Method;
use world::{World, at, ok, session0};

const INSTALL: &str = "run `bash scripts/test --setup-only` or: npm ci --prefix tests/peers";

fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// flying-squid on 127.0.0.1:`port`, killed on drop.
struct FlyingSquid(Child);

impl FlyingSquid {
    fn start(port: u16) -> FlyingSquid {
        let m = peers().join("node_modules/flying-squid");
        assert!(
            m.exists(),
            "the Node test peers are not installed ({} is missing); {INSTALL}",
            m.display()
        );
        let mut child = Command::new("node")
            .args(["flying_squid.js", &port.to_string(), "1.20.1"])
            .current_dir(peers())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.trim() == "ready" => break,
                Some(Ok(_)) => continue,
                _ => panic!("flying-squid exited before it was ready"),
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        FlyingSquid(child)
    }
}

impl Drop for FlyingSquid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The ping turned on (the harness turns it off), at the peer's port.
fn ping_on(port: &str) -> [(&'static str, &str); 2] {
    [("MC_GITOPS_GAME_PING", "on"), ("MC_GITOPS_GAME_PING_PORT", port)]
}

async fn plan_json(w: &World, mins: i64, env: &[(&str, &str)]) -> serde_json::Value {
    let out = w.run(&["plan", "--json"], &at(mins), env).await;
    assert!(matches!(out.status.code(), Some(0 | 2)), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn notices(plan: &serde_json::Value) -> Vec<String> {
    plan["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["message"].as_str().unwrap().to_string())
        .collect()
}

/// What the agent writes to `control/grove/status.json`.
fn agent_reports(w: &World, status: serde_json::Value) {
    std::fs::write(w.storage_file("control/grove/status.json"), serde_json::to_vec(&status).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_pings_the_game_and_a_silent_agent_with_players_is_no_reason_to_delete() {
    let w = World::new().await;
    let port = free_port();
    let squid = FlyingSquid::start(port);
    w.h.next_server_ipv4("127.0.0.1");
    let port_text = port.to_string();
    let env = ping_on(&port_text);
    ok(&w.run(&["apply"], &at(0), &env).await);

    // The server runs: the plan carries the ping, and says it in a line.
    let plan = plan_json(&w, 1, &env).await;
    let game = &plan["game"];
    assert_eq!(game["address"], format!("127.0.0.1:{port}"));
    assert_eq!(game["status"], "online", "{game}");
    assert_eq!((game["players"].as_u64(), game["max"].as_u64()), (Some(0), Some(7)));
    assert_eq!((game["version"].as_str(), game["protocol"].as_i64()), (Some("1.20.1"), Some(763)));
    assert!(game["latency_ms"].as_u64().unwrap() < 3000);
    assert!(
        notices(&plan)
            .iter()
            .any(|n| n.starts_with(&format!("Minecraft answers at 127.0.0.1:{port}: 0/7 players, 1.20.1"))),
        "{plan}"
    );

    // The agent went silent ten minutes ago; the game still answers. The
    // admin stops the server: the plan says what it sees, asks for the stop
    // and waits for a verified snapshot; nothing is deleted.
    agent_reports(
        &w,
        serde_json::json!({ "phase": "running", "heartbeat": at(-5), "session": session0().0 }),
    );
    w.set_state("stopped");
    let plan = plan_json(&w, 10, &env).await;
    assert!(
        notices(&plan).iter().any(|n| n
            .starts_with("agent silent, Minecraft answering 0 player(s): the agent's last heartbeat is 15m old")
            && n.ends_with("nothing is deleted without a verified snapshot")),
        "{plan}"
    );
    let text = ok(&w.run(&["apply"], &at(10), &env).await);
    assert!(text.contains("waiting"), "{text}");
    assert_eq!(w.h.count(Method::DELETE, "/servers"), 0, "no delete without a verified snapshot");
    let status = std::fs::read_to_string(w.repo.path().join("STATUS.md")).unwrap();
    assert!(
        status.contains("| game (the reconciler's ping) | answers, 0/7 players, 1.20.1 |"),
        "{status}"
    );

    // Minecraft is gone too: a refused ping is an observation, not an error.
    drop(squid);
    let plan = plan_json(&w, 11, &env).await;
    assert_eq!(plan["game"]["status"], "no-answer", "{plan}");
    let error = plan["game"]["error"].as_str().unwrap();
    assert!(error.contains(&format!("cannot connect to 127.0.0.1:{port}")), "{error}");
    assert!(
        notices(&plan)
            .iter()
            .any(|n| n.contains(&format!("and Minecraft does not answer at 127.0.0.1:{port}")) && n.contains("the server may be down")),
        "{plan}"
    );
    let text = ok(&w.run(&["apply"], &at(11), &env).await);
    assert!(text.contains("waiting"), "apply goes on and still waits: {text}");
    assert_eq!(w.h.server_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_that_times_out_is_reported_and_apply_goes_on() {
    let w = World::new().await;
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((c, _)) = silent.accept().await {
            held.push(c);
        }
    });
    w.h.next_server_ipv4("127.0.0.1");
    let port_text = port.to_string();
    let env = ping_on(&port_text);
    ok(&w.run(&["apply"], &at(0), &env).await);
    let started = std::time::Instant::now();
    let out = w.run(&["apply", "--json"], &at(1), &env).await;
    let text = ok(&out);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the ping is bounded");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["plan"]["game"]["status"], "no-answer", "{v}");
    assert!(v["plan"]["game"]["error"].as_str().unwrap().contains("timed out after 3s"), "{v}");
    assert!(v["report"]["failed"].is_null(), "{v}");
}
