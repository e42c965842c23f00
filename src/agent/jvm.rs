//! The Minecraft server process: the configured java command line run in the
//! Minecraft directory, its stdout scanned for the lines that matter, and its
//! stdin, which is a console too.
//!
//! [`Jvm`] is the real [`Minecraft`]. [`StdinConsole`] speaks the same
//! commands as RCON through stdin and reads the answers from the log; it
//! serves until the RCON client is wired in, and stays useful where RCON is
//! off. Every answer is matched against the vanilla 1.20.1 message, named
//! below, and a command that gets none within [`ANSWER_TIMEOUT`] is an error.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

use super::traits::{Console, Minecraft, PortError, PortResult};
use crate::ids::PlayerName;

/// The line a server prints when it finished loading: `Done (12.345s)! For help, type "help"`.
const DONE_PREFIX: &str = "Done (";
const DONE_SUFFIX: &str = "! For help, type \"help\"";
/// `Starting minecraft server version 1.20.1`.
const VERSION_PREFIX: &str = "Starting minecraft server version ";
/// How long `stop` may take (saving a big world) before the JVM is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(90);
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Log {
    loaded: AtomicBool,
    version: Mutex<Option<String>>,
}

type Stdin = Arc<tokio::sync::Mutex<Option<ChildStdin>>>;

pub struct Jvm {
    dir: PathBuf,
    command: Vec<String>,
    child: Option<Child>,
    stdin: Stdin,
    lines: broadcast::Sender<String>,
    log: Arc<Log>,
}

/// The console over the JVM's stdin and stdout.
pub struct StdinConsole {
    stdin: Stdin,
    lines: broadcast::Sender<String>,
}

impl Jvm {
    /// The process and a console on it.
    pub fn new(dir: PathBuf, command: Vec<String>) -> (Jvm, StdinConsole) {
        let (lines, _) = broadcast::channel(256);
        let stdin: Stdin = Arc::default();
        let console = StdinConsole {
            stdin: stdin.clone(),
            lines: lines.clone(),
        };
        let jvm = Jvm {
            dir,
            command,
            child: None,
            stdin,
            lines,
            log: Arc::default(),
        };
        (jvm, console)
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
        let mut child = Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| PortError::Minecraft(format!("cannot start `{program}` in {}: {e}", self.dir.display())))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        *self.stdin.lock().await = child.stdin.take();
        let (log, lines) = (self.log.clone(), self.lines.clone());
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                debug!(target: "minecraft", "{line}");
                scan(&log, &line);
                let _ = lines.send(line);
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
        if let Some(stdin) = self.stdin.lock().await.as_mut() {
            let _ = stdin.write_all(b"stop\n").await;
            let _ = stdin.flush().await;
        }
        let result = match tokio::time::timeout(STOP_GRACE, child.wait()).await {
            Ok(Ok(status)) => {
                info!(%status, "Minecraft stopped");
                Ok(())
            }
            Ok(Err(e)) => Err(PortError::Minecraft(format!("waiting for the JVM: {e}"))),
            Err(_) => {
                warn!("Minecraft did not stop in time; killing it");
                let _ = child.kill().await;
                Err(PortError::Minecraft(format!(
                    "did not stop within {}s and was killed",
                    STOP_GRACE.as_secs()
                )))
            }
        };
        *self.stdin.lock().await = None;
        self.log.loaded.store(false, Ordering::SeqCst);
        result
    }

    async fn exited(&mut self) -> Option<i32> {
        let Some(child) = self.child.as_mut() else {
            return std::future::pending().await;
        };
        let status = child.wait().await.ok();
        self.child = None;
        *self.stdin.lock().await = None;
        self.log.loaded.store(false, Ordering::SeqCst);
        status.and_then(|s| s.code())
    }
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

/// The messages that answer a command: success fragments, failure fragments.
struct Answer {
    ok: &'static [&'static str],
    err: &'static [&'static str],
}

const UNKNOWN_PLAYER: &[&str] = &["That player does not exist"];

impl StdinConsole {
    async fn command(&self, command: &str, answer: Answer) -> PortResult<String> {
        let err = |reason: String| PortError::Console {
            command: command.to_string(),
            reason,
        };
        let mut rx = self.lines.subscribe();
        {
            let mut stdin = self.stdin.lock().await;
            let stdin = stdin.as_mut().ok_or_else(|| err("Minecraft is not running".into()))?;
            stdin
                .write_all(format!("{command}\n").as_bytes())
                .await
                .map_err(|e| err(e.to_string()))?;
            stdin.flush().await.map_err(|e| err(e.to_string()))?;
        }
        let wait = async {
            loop {
                match rx.recv().await {
                    Ok(line) if answer.ok.iter().any(|f| line.contains(f)) => return Ok(line),
                    Ok(line) if answer.err.iter().any(|f| line.contains(f)) => return Err(err(line)),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Err(err("the JVM's output closed".into())),
                }
            }
        };
        tokio::time::timeout(ANSWER_TIMEOUT, wait)
            .await
            .map_err(|_| err(format!("no answer within {}s", ANSWER_TIMEOUT.as_secs())))?
    }
}

/// `There are 2 of a max of 20 players online: Steve, Alex`.
pub fn parse_list(line: &str) -> Option<Vec<PlayerName>> {
    let (_, names) = line.split_once("players online:")?;
    Some(
        names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(PlayerName::new)
            .collect(),
    )
}

impl Console for StdinConsole {
    async fn list_players(&mut self) -> PortResult<Vec<PlayerName>> {
        let line = self
            .command(
                "list",
                Answer {
                    ok: &["players online:"],
                    err: &[],
                },
            )
            .await?;
        parse_list(&line).ok_or_else(|| PortError::Console {
            command: "list".into(),
            reason: format!("unexpected answer {line:?}"),
        })
    }
    async fn save_off(&mut self) -> PortResult<()> {
        let ok = &["Automatic saving is now disabled", "Saving is already turned off"];
        self.command("save-off", Answer { ok, err: &[] }).await.map(drop)
    }
    async fn save_all_flush(&mut self) -> PortResult<()> {
        let ok = &["Saved the game"];
        self.command("save-all flush", Answer { ok, err: &[] }).await.map(drop)
    }
    async fn save_on(&mut self) -> PortResult<()> {
        let ok = &["Automatic saving is now enabled", "Saving is already turned on"];
        self.command("save-on", Answer { ok, err: &[] }).await.map(drop)
    }
    async fn whitelist_add(&mut self, name: &PlayerName) -> PortResult<()> {
        let ok = &["to the whitelist", "Player is already whitelisted"];
        self.command(&format!("whitelist add {name}"), Answer { ok, err: UNKNOWN_PLAYER })
            .await
            .map(drop)
    }
    async fn whitelist_remove(&mut self, name: &PlayerName) -> PortResult<()> {
        let ok = &["from the whitelist", "Player is not whitelisted"];
        self.command(&format!("whitelist remove {name}"), Answer { ok, err: UNKNOWN_PLAYER })
            .await
            .map(drop)
    }
    /// The console's `op` grants `op-permission-level`; another level takes
    /// effect from ops.json at the next start.
    async fn op(&mut self, name: &PlayerName, _level: u8) -> PortResult<()> {
        let ok = &["a server operator", "The player already is an operator"];
        self.command(&format!("op {name}"), Answer { ok, err: UNKNOWN_PLAYER })
            .await
            .map(drop)
    }
    async fn deop(&mut self, name: &PlayerName) -> PortResult<()> {
        let ok = &["no longer a server operator", "The player is not an operator"];
        self.command(&format!("deop {name}"), Answer { ok, err: UNKNOWN_PLAYER })
            .await
            .map(drop)
    }
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

    fn sh(script: &str) -> (Jvm, StdinConsole) {
        Jvm::new(std::env::temp_dir(), vec!["sh".into(), "-c".into(), script.into()])
    }

    const SERVER: &str = r#"echo 'Starting minecraft server version 1.20.1'; echo 'Done (0.1s)! For help, type "help"'
        while read -r l; do case "$l" in
          list) echo 'There are 1 of a max of 20 players online: Steve' ;;
          save-off) echo 'Automatic saving is now disabled' ;;
          'whitelist add Nobody') echo 'That player does not exist' ;;
          stop) exit 0 ;;
          crash) exit 3 ;;
        esac; done"#;

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
    async fn a_real_process_loads_answers_and_stops_when_asked() {
        let (mut j, mut c) = sh(SERVER);
        j.start().await.unwrap();
        until_loaded(&j).await;
        assert_eq!(j.version().as_deref(), Some("1.20.1"));
        assert_eq!(c.list_players().await.unwrap(), [PlayerName::new("Steve")]);
        c.save_off().await.unwrap();
        let e = c.whitelist_add(&PlayerName::new("Nobody")).await.unwrap_err();
        assert!(e.to_string().contains("That player does not exist"), "{e}");
        j.stop().await.unwrap();
        assert!(!j.loaded());
        let e = c.list_players().await.unwrap_err();
        assert!(e.to_string().contains("not running"), "{e}");
    }

    #[tokio::test]
    async fn an_exit_nobody_asked_for_is_seen_with_its_code() {
        let (mut j, c) = sh(SERVER);
        j.start().await.unwrap();
        until_loaded(&j).await;
        c.stdin.lock().await.as_mut().unwrap().write_all(b"crash\n").await.unwrap();
        assert_eq!(j.exited().await, Some(3));
        assert!(!j.loaded());
    }

    #[tokio::test]
    async fn a_missing_java_is_an_error_naming_it() {
        let (mut j, _) = Jvm::new(std::env::temp_dir(), vec!["/nonexistent/java".into()]);
        let e = j.start().await.unwrap_err();
        assert!(e.to_string().contains("cannot start `/nonexistent/java`"), "{e}");
    }

    #[test]
    fn parses_the_player_list() {
        let l = "[18:01:00] [Server thread/INFO]: There are 2 of a max of 20 players online: Steve, Alex";
        assert_eq!(parse_list(l), Some(vec![PlayerName::new("Steve"), PlayerName::new("Alex")]));
        let empty = "[18:01:00] [Server thread/INFO]: There are 0 of a max of 20 players online: ";
        assert_eq!(parse_list(empty), Some(vec![]));
        assert_eq!(parse_list("something else"), None);
    }
}
