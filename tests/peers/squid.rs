//! Rust handles on two Node peers, for any test crate that plays against a
//! real Minecraft server (`#[path = "peers/squid.rs"] mod squid;`):
//! [`Squid`], a `squid_server.js` process in a Minecraft directory, and
//! [`Bots`], one `bots.js` process driving mineflayer bots by line commands
//! and answering with JSON events. Both are killed when dropped; waits are
//! bounded and fail with what was seen.
#![allow(dead_code)] // each test crate uses its own subset

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mc_gitops::agent::console::RconConsole;
use mc_gitops::secret::Secret;
use serde_json::Value;

/// `tests/peers/`.
pub(crate) fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// Fail, with the install command, when the Node peers are missing.
pub(crate) fn require_node_peers() {
    let p = peers_dir().join("node_modules/flying-squid");
    assert!(
        p.exists(),
        "the Node test peers are not installed ({} is missing); run `bash scripts/test --setup-only` or: npm ci --prefix tests/peers",
        p.display()
    );
}

/// What a test Minecraft directory starts with.
pub(crate) struct Props<'a> {
    pub port: u16,
    pub rcon_port: u16,
    pub password: &'a str,
    pub whitelist: &'a [&'a str],
    pub motd: &'a str,
}

/// Write `server.properties` and `whitelist.json` as the agent would.
pub(crate) fn write_minecraft_dir(dir: &Path, p: &Props<'_>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("server.properties"),
        format!(
            "motd={}\nmax-players=5\nenable-rcon=true\nrcon.port={}\nrcon.password={}\nserver-port={}\nwhite-list=true\nenforce-whitelist=true\n",
            p.motd, p.rcon_port, p.password, p.port
        ),
    )
    .unwrap();
    let entries: Vec<Value> = p.whitelist.iter().map(|n| serde_json::json!({ "name": n })).collect();
    std::fs::write(dir.join("whitelist.json"), serde_json::to_string_pretty(&entries).unwrap()).unwrap();
}

/// `squid_server.js` running in a Minecraft directory; its stdout (the
/// server log) is collected line by line.
pub(crate) struct Squid {
    child: Child,
    pub dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl Squid {
    /// Start the server in `dir` and wait for its `Done` line and, when RCON
    /// is on, for its listener: like vanilla, RCON starts after `Done`.
    pub(crate) fn start(dir: &Path, env: &[(&str, &str)]) -> Squid {
        require_node_peers();
        let mut child = Command::new("node")
            .arg(peers_dir().join("squid_server.js"))
            .arg("nogui")
            .current_dir(dir)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node squid_server.js");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                eprintln!("squid: {line}");
                sink.lock().unwrap().push(line);
            }
        });
        let squid = Squid {
            child,
            dir: dir.to_path_buf(),
            log,
        };
        squid.wait_log("the Done line", Duration::from_secs(30), |l| {
            l.contains("! For help, type \"help\"")
        });
        if squid.property("enable-rcon") == "true" {
            // Regression: a test that connected right after `Done` was refused under load.
            squid.wait_log("the RCON listener", Duration::from_secs(30), |l| l.contains("RCON running on"));
        }
        squid
    }

    /// Every log line so far.
    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Wait for a log line that `pred` accepts; the line.
    pub(crate) fn wait_log(&self, what: &str, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + within;
        loop {
            if let Some(l) = self.log().into_iter().find(|l| pred(l)) {
                return l;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; the log:\n{}",
                self.log().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A property of the directory's server.properties.
    pub(crate) fn property(&self, key: &str) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.properties")).unwrap();
        let prefix = format!("{key}=");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_default().to_string()
    }

    pub(crate) fn port(&self) -> u16 {
        self.property("server-port").parse().unwrap()
    }

    /// The agent's own console on this server's RCON port and password.
    pub(crate) fn console(&self) -> RconConsole {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.property("rcon.port").parse::<u16>().unwrap()));
        RconConsole::new(addr, Secret::new(self.property("rcon.password")))
    }

    /// Send SIGTERM, as the agent does when RCON cannot take `stop`.
    pub(crate) fn terminate(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    }

    /// Wait (bounded) for the process to exit.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "squid_server.js did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Squid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `bots.js` process: bots join, leave, walk and chat on command; every
/// event it prints is kept until a test takes it with [`Bots::expect`].
pub(crate) struct Bots {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Value>,
    backlog: VecDeque<Value>,
}

impl Bots {
    pub(crate) fn start() -> Bots {
        require_node_peers();
        let mut child = Command::new("node")
            .arg(peers_dir().join("bots.js"))
            .current_dir(peers_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node bots.js");
        let stdin = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                eprintln!("bots: {line}");
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                    Err(_) => continue,
                }
            }
        });
        let mut bots = Bots {
            child,
            stdin,
            events,
            backlog: VecDeque::new(),
        };
        bots.expect("bots.js to be ready", Duration::from_secs(30), |e| e["event"] == "ready");
        bots
    }

    /// Send one command line.
    pub(crate) fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("bots.js takes commands");
        self.stdin.flush().unwrap();
    }

    pub(crate) fn join(&mut self, name: &str, port: u16) {
        self.send(&format!("join {name} 127.0.0.1 {port}"));
    }

    /// The first event (oldest first, kept ones included) that `pred` accepts;
    /// the others stay for later calls.
    pub(crate) fn expect(&mut self, what: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i).unwrap();
        }
        let until = Instant::now() + within;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(v) => self.backlog.push_back(v),
                Err(RecvTimeoutError::Timeout) => panic!("timed out waiting for {what}; events seen: {:?}", self.backlog),
                Err(RecvTimeoutError::Disconnected) => panic!("bots.js exited while waiting for {what}; events seen: {:?}", self.backlog),
            }
        }
    }

    /// The next event of `kind` for bot `name`.
    pub(crate) fn expect_event(&mut self, kind: &str, name: &str, within: Duration) -> Value {
        self.expect(&format!("{kind} of {name}"), within, |e| e["event"] == kind && e["name"] == name)
    }

    /// Whether an event of `kind` for `name` has arrived (without waiting).
    pub(crate) fn seen(&mut self, kind: &str, name: &str) -> bool {
        while let Ok(v) = self.events.try_recv() {
            self.backlog.push_back(v);
        }
        self.backlog.iter().any(|e| e["event"] == kind && e["name"] == name)
    }
}

impl Drop for Bots {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
