//! The Minecraft server process: the configured java command line run in the
//! Minecraft directory as the agent's child, its stdout scanned for the lines
//! that matter, its exit status watched.
//!
//! The agent is the JVM's parent so it sees every exit and its code (a crash
//! is restarted with backoff and reported), reads the log for readiness, and
//! the JVM inherits the agent unit's hardening and cgroup. It runs as
//! another user ([`RunAs`], agent.toml `minecraft_user`; see `super::user`
//! for why a uid and not a second unit), with a clean environment: it can
//! read nothing the agent holds. The JVM's stdin is
//! null: commands go over RCON ([`RconConsole`]). Stopping is `stop` over
//! RCON; if RCON cannot take it, SIGTERM (vanilla's shutdown hook saves the
//! world too); after [`STOP_GRACE`] the JVM is killed. Each step is logged.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tracing::{debug, info, warn};

use super::console::RconConsole;
use super::traits::{Minecraft, PortError, PortResult};
use super::user::RunAs;

/// The line a server prints when it finished loading: `Done (12.345s)! For help, type "help"`.
const DONE_PREFIX: &str = "Done (";
const DONE_SUFFIX: &str = "! For help, type \"help\"";
/// `Starting minecraft server version 1.20.1`.
const VERSION_PREFIX: &str = "Starting minecraft server version ";
/// How long `stop` may take (saving a big world) before the JVM is killed.
/// The agent unit's `TimeoutStopSec` leaves room for it.
pub const STOP_GRACE: Duration = Duration::from_secs(90);

#[derive(Default)]
struct Log {
    loaded: AtomicBool,
    version: Mutex<Option<String>>,
}

pub struct Jvm {
    dir: PathBuf,
    command: Vec<String>,
    console: RconConsole,
    grace: Duration,
    run_as: Option<RunAs>,
    child: Option<Child>,
    log: Arc<Log>,
}

impl Jvm {
    /// The process, stopped through `console`.
    pub fn new(dir: PathBuf, command: Vec<String>, console: RconConsole) -> Jvm {
        Jvm {
            dir,
            command,
            console,
            grace: STOP_GRACE,
            run_as: None,
            child: None,
            log: Arc::default(),
        }
    }

    /// Run the JVM as `user` (`None`: as the agent's own user).
    pub fn run_as(mut self, user: Option<RunAs>) -> Jvm {
        self.run_as = user;
        self
    }

    /// The command that starts the JVM: as [`RunAs`]'s uid and gid when one
    /// is set, with only `PATH` and `LANG` of the agent's environment and the
    /// user's own `HOME` (the Minecraft directory), `USER` and `LOGNAME`.
    fn command(&self, program: &str, args: &[String]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(&self.dir);
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid).gid(user.gid).env_clear();
            for key in ["PATH", "LANG"] {
                if let Some(v) = std::env::var_os(key) {
                    cmd.env(key, v);
                }
            }
            cmd.env("HOME", &self.dir).env("USER", &user.name).env("LOGNAME", &user.name);
        }
        cmd
    }

    /// Another wait before the kill (tests).
    pub fn with_grace(mut self, grace: Duration) -> Jvm {
        self.grace = grace;
        self
    }
}

/// What a log line tells: loaded, or the version.
fn scan(log: &Log, line: &str) {
    if let Some(i) = line.find(DONE_PREFIX)
        && line[i..].contains(DONE_SUFFIX)
    {
        log.loaded.store(true, Ordering::SeqCst);
    }
    if let Some(i) = line.find(VERSION_PREFIX) {
        let v = line[i + VERSION_PREFIX.len()..].trim().to_string();
        *log.version.lock().expect("the log lock is never poisoned") = Some(v);
    }
}

impl Minecraft for Jvm {
    async fn start(&mut self) -> PortResult<()> {
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| PortError::Minecraft("the java command line is empty".into()))?;
        self.log.loaded.store(false, Ordering::SeqCst);
        // A new JVM listens anew: no connection to the old one may be reused.
        self.console.disconnect().await;
        let mut child = self
            .command(program, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                let user = self.run_as.as_ref().map(|u| format!(" as {}", u.name)).unwrap_or_default();
                PortError::Jvm {
                    what: format!("cannot start `{program}` in {}{user}", self.dir.display()),
                    source: e,
                }
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let log = self.log.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                debug!(target: "minecraft", "{line}");
                scan(&log, &line);
            }
        });
        info!(pid = ?child.id(), "Minecraft started");
        self.child = Some(child);
        Ok(())
    }

    fn loaded(&self) -> bool {
        self.child.is_some() && self.log.loaded.load(Ordering::SeqCst)
    }

    fn version(&self) -> Option<String> {
        self.log.version.lock().expect("the log lock is never poisoned").clone()
    }

    async fn stop(&mut self) -> PortResult<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let grace = self.grace.as_secs_f32();
        match self.console.stop().await {
            Ok(()) => info!(grace_secs = grace, "asked Minecraft to stop over RCON; waiting for it to exit"),
            Err(e) => {
                warn!(error = %e, grace_secs = grace, "RCON cannot take `stop`; sending the JVM SIGTERM (its shutdown hook saves the world)");
                terminate(&child);
            }
        }
        let result = match tokio::time::timeout(self.grace, child.wait()).await {
            Ok(Ok(status)) => {
                info!(%status, "Minecraft stopped");
                Ok(())
            }
            Ok(Err(e)) => Err(PortError::Jvm {
                what: "waiting for the JVM".into(),
                source: e,
            }),
            Err(_) => {
                warn!(grace_secs = grace, "Minecraft did not stop in time; killing it");
                let _ = child.kill().await;
                Err(PortError::Minecraft(format!("did not stop within {grace}s and was killed")))
            }
        };
        self.log.loaded.store(false, Ordering::SeqCst);
        result
    }

    async fn exited(&mut self) -> Option<i32> {
        let Some(child) = self.child.as_mut() else {
            return std::future::pending().await;
        };
        let status = child.wait().await.ok();
        self.child = None;
        self.log.loaded.store(false, Ordering::SeqCst);
        status.and_then(|s| s.code())
    }
}

/// SIGTERM to the JVM, if it still runs.
fn terminate(child: &Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) takes plain integers; the pid is our own child's,
        // not yet reaped (`child.id()` is `None` once it has been).
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    #[cfg(not(unix))]
    let _ = child;
}

/// The protocol number of a release, for the status (the reconciler's
/// Server List Ping reports the same number). Only releases this project runs.
pub fn protocol_of(version: &str) -> Option<i32> {
    Some(match version {
        "1.20" | "1.20.1" => 763,
        "1.20.2" => 764,
        "1.20.3" | "1.20.4" => 765,
        "1.20.5" | "1.20.6" => 766,
        "1.21" | "1.21.1" => 767,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_done_and_version_lines() {
        let log = Log::default();
        scan(&log, "[18:00:01] [Server thread/INFO]: Starting minecraft server version 1.20.1");
        scan(&log, "[18:00:09] [Server thread/INFO]: Preparing spawn area: 84%");
        assert!(!log.loaded.load(Ordering::SeqCst));
        scan(&log, "[18:00:12] [Server thread/INFO]: Done (11.482s)! For help, type \"help\"");
        assert!(log.loaded.load(Ordering::SeqCst));
        assert_eq!(log.version.lock().unwrap().as_deref(), Some("1.20.1"));
    }

    #[test]
    fn a_chat_line_saying_done_is_not_the_done_line() {
        let log = Log::default();
        scan(&log, "[18:00:12] [Server thread/INFO]: <Steve> Done (with the farm)");
        assert!(!log.loaded.load(Ordering::SeqCst));
    }

    /// A console on a port nobody listens on: `stop` falls back to SIGTERM.
    fn no_rcon() -> RconConsole {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        RconConsole::new(([127, 0, 0, 1], port).into(), crate::secret::Secret::new("pw"))
    }

    fn sh(script: &str) -> Jvm {
        Jvm::new(std::env::temp_dir(), vec!["sh".into(), "-c".into(), script.into()], no_rcon())
    }

    const LOADS: &str = r#"echo 'Starting minecraft server version 1.20.1'; echo 'Done (0.1s)! For help, type "help"'"#;

    async fn until_loaded(j: &Jvm) {
        tokio::time::timeout(Duration::from_secs(20), async {
            while !j.loaded() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the fake server loads");
    }

    #[tokio::test]
    async fn without_rcon_stop_sends_sigterm_and_the_jvm_exits() {
        let mut j = sh(&format!("{LOADS}; while :; do sleep 0.05; done"));
        j.start().await.unwrap();
        until_loaded(&j).await;
        assert_eq!(j.version().as_deref(), Some("1.20.1"));
        let t = std::time::Instant::now();
        j.stop().await.unwrap();
        assert!(t.elapsed() < Duration::from_secs(10), "SIGTERM, not the grace period");
        assert!(!j.loaded());
        j.stop().await.unwrap();
    }

    #[tokio::test]
    async fn a_jvm_that_ignores_sigterm_is_killed_after_the_grace_period() {
        let mut j = sh(&format!("trap '' TERM; {LOADS}; while :; do sleep 0.05; done")).with_grace(Duration::from_millis(500));
        j.start().await.unwrap();
        until_loaded(&j).await;
        let e = j.stop().await.unwrap_err();
        assert_eq!(e.to_string(), "Minecraft: did not stop within 0.5s and was killed");
    }

    #[tokio::test]
    async fn an_exit_nobody_asked_for_is_seen_with_its_code() {
        let mut j = sh(&format!("{LOADS}; sleep 0.2; exit 3"));
        j.start().await.unwrap();
        until_loaded(&j).await;
        assert_eq!(j.exited().await, Some(3));
        assert!(!j.loaded());
    }

    /// The JVM runs with the configured uid and gid; run as root (as the
    /// agent on the VPS), it also has no capability and no other group, and
    /// none of the agent's environment. (Not root: it runs as the test's own
    /// user, which still goes through the same uid/gid path.)
    #[tokio::test]
    async fn the_jvm_runs_as_the_configured_user_with_nothing_of_the_agents() {
        let user = super::super::user::tests::someone();
        // The version line carries what the child is: uid, gid, groups, capabilities, a secret.
        let script = r#"echo "Starting minecraft server version $(id -u)/$(id -g)/$(id -G | tr ' ' ,)/$(grep CapEff /proc/self/status | cut -f2)/${MC_GITOPS_TEST_SECRET:-none}/$HOME"; echo 'Done (0.1s)! For help, type "help"'; while :; do sleep 0.05; done"#;
        // SAFETY: set before any thread of this test reads it; no other test reads it.
        unsafe { std::env::set_var("MC_GITOPS_TEST_SECRET", "agent-only") };
        let mut j = sh(script).run_as(Some(user.clone()));
        j.start().await.unwrap();
        until_loaded(&j).await;
        let seen = j.version().unwrap();
        j.stop().await.unwrap();
        let home = std::env::temp_dir();
        let parts: Vec<&str> = seen.split('/').collect();
        assert_eq!(parts[..2], [user.uid.to_string(), user.gid.to_string()], "uid and gid: {seen}");
        assert_eq!(
            parts[4..].join("/"),
            format!("none/{}", home.display()),
            "no agent env, its own HOME: {seen}"
        );
        // SAFETY: a plain getter.
        if unsafe { libc::geteuid() } == 0 {
            assert_eq!(
                parts[2..4],
                [user.gid.to_string(), "0000000000000000".into()],
                "no other group, no capability: {seen}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_java_is_an_error_naming_it() {
        let mut j = Jvm::new(std::env::temp_dir(), vec!["/nonexistent/java".into()], no_rcon());
        let e = j.start().await.unwrap_err();
        let shown = crate::error::render_error(&e);
        assert!(shown.starts_with("Minecraft: cannot start `/nonexistent/java` in "), "{shown}");
        assert!(shown.contains(": No such file or directory"), "the cause is kept: {shown}");
    }
}
