//! Players: `tests/peers/bots.js` (mineflayer) driven over its stdin with
//! `join <name> <host> <port> <id> <token>` and `leave <name>`, each bot
//! logging in online with its account at the fake of Mojang's session
//! server (as a real player's launcher does); every JSON line it prints
//! is kept, so the test asserts on what the bots saw (logged in, kicked and
//! why, refused). One process for all bots: loading mineflayer costs seconds.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::session_fake::FakeSessionServer;

pub(crate) struct Bots {
    child: Child,
    stdin: ChildStdin,
    session: FakeSessionServer,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Drop for Bots {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bots {
    pub(crate) fn start(session: &FakeSessionServer) -> Bots {
        let peers = crate::common::peers();
        assert!(
            peers.join("node_modules/mineflayer").exists(),
            "the Node test peers are not installed; run `bash .ci/run` or: npm ci --prefix tests/peers"
        );
        let mut child = Command::new("node")
            .arg(peers.join("bots.js"))
            .current_dir(&peers)
            .env("MC_SESSION_SERVER", session.url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node tests/peers/bots.js");
        let stdin = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        Bots {
            child,
            stdin,
            session: session.clone(),
            events,
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("bots.js reads its stdin");
        self.stdin.flush().unwrap();
    }

    pub(crate) fn join(&mut self, name: &str, host: &str, port: u16) {
        let a = self.session.account(name);
        self.send(&format!("join {name} {host} {port} {} {}", a.id, a.access_token));
    }

    /// Walk forward for `ms` milliseconds (the world changes under the bot).
    pub(crate) fn walk(&mut self, name: &str, ms: u64) {
        self.send(&format!("walk {name} {ms}"));
    }

    pub(crate) fn leave(&mut self, name: &str) {
        self.send(&format!("leave {name}"));
    }

    pub(crate) fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// Events about `name` so far.
    pub(crate) fn of(&self, name: &str) -> Vec<Value> {
        self.events().into_iter().filter(|e| e["name"] == name).collect()
    }

    /// Wait (bounded) for an event about `name` whose `event` is one of
    /// `kinds`, later than the `after`-th event about it; returns it.
    pub(crate) fn wait(&self, name: &str, kinds: &[&str], after: usize, timeout: Duration) -> Result<Value, String> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(e) = self
                .of(name)
                .into_iter()
                .skip(after)
                .find(|e| kinds.iter().any(|k| e["event"] == *k))
            {
                return Ok(e);
            }
            if Instant::now() > until {
                return Err(format!(
                    "{name}: no {kinds:?} within {timeout:?}; what {name} saw: {:?}",
                    self.of(name)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
