//! The server console over RCON: the [`Console`] port in production, and the
//! `stop` that [`super::jvm::Jvm`] sends.
//!
//! One connection to `127.0.0.1:<rcon.port>`, made when the first command
//! needs it, with the password the agent generated at start (the same
//! [`Secret`] `super::provision::FilesProvision` writes into
//! `server.properties`; it is never logged). Both owners share it behind one
//! mutex, so one command runs at a time and replies never interleave. A
//! connection that fails is dropped; a command that finds its cached
//! connection closed (the JVM restarted, or hung up) reconnects and is sent
//! once more, which is safe because every command here is idempotent.
//!
//! Every answer is matched against the vanilla 1.20.1 message for it (the
//! `en_us` text of the translation key named beside it); anything else is
//! an error that quotes the reply.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tracing::{debug, info, warn};

use super::traits::{Console, PortError, PortResult};
use crate::ids::PlayerName;
use crate::minecraft::rcon::{Rcon, RconError};
use crate::secret::Secret;

/// How long connecting, and each packet of an ordinary reply, may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// `save-all flush` answers once the world is on disk, which takes a while
/// for a big world on a small VPS.
pub const SAVE_TIMEOUT: Duration = Duration::from_secs(120);

/// The console on a local Minecraft server's RCON port. Clones share the
/// connection.
#[derive(Clone)]
pub struct RconConsole {
    link: Arc<Mutex<Link>>,
    /// The running server's `server.properties`, for the level `op` grants.
    properties: Option<Arc<PathBuf>>,
}

struct Link {
    addr: SocketAddr,
    password: Secret,
    timeout: Duration,
    conn: Option<Rcon>,
}

impl Link {
    /// One attempt: connect if needed, run the command; a connection that
    /// failed is dropped so the next attempt starts afresh.
    async fn once(&mut self, command: &str, within: Duration) -> Result<String, RconError> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => self.conn.insert(Rcon::connect(self.addr, &self.password, self.timeout).await?),
        };
        let reply = conn.cmd_within(command, within).await;
        if let Err(e) = &reply
            && !e.refused_before_sending()
        {
            self.conn = None;
        }
        reply
    }
}

/// What answers a command: success fragments, failure fragments.
struct Answer {
    ok: &'static [&'static str],
    err: &'static [&'static str],
}

/// `argument.player.unknown`, for every command that takes a player name.
const UNKNOWN_PLAYER: &[&str] = &["That player does not exist"];
/// `commands.save.disabled`, `commands.save.alreadyOff`.
const SAVE_OFF: Answer = Answer {
    ok: &["Automatic saving is now disabled", "Saving is already turned off"],
    err: &[],
};
/// `commands.save.success`; `commands.save.failed`.
const SAVE_ALL: Answer = Answer {
    ok: &["Saved the game"],
    err: &["Unable to save the game"],
};
/// `commands.save.enabled`, `commands.save.alreadyOn`.
const SAVE_ON: Answer = Answer {
    ok: &["Automatic saving is now enabled", "Saving is already turned on"],
    err: &[],
};
/// `commands.whitelist.add.success`, `commands.whitelist.add.failed`.
const WHITELIST_ADD: Answer = Answer {
    ok: &["to the whitelist", "Player is already whitelisted"],
    err: UNKNOWN_PLAYER,
};
/// `commands.whitelist.remove.success`, `commands.whitelist.remove.failed`.
const WHITELIST_REMOVE: Answer = Answer {
    ok: &["from the whitelist", "Player is not whitelisted"],
    err: UNKNOWN_PLAYER,
};
/// `commands.op.success`, `commands.op.failed`.
const OP: Answer = Answer {
    ok: &["a server operator", "The player already is an operator"],
    err: UNKNOWN_PLAYER,
};
/// `commands.deop.success`, `commands.deop.failed`.
const DEOP: Answer = Answer {
    ok: &["no longer a server operator", "The player is not an operator"],
    err: UNKNOWN_PLAYER,
};

fn failed(command: &str, reason: impl Into<String>) -> PortError {
    PortError::Console {
        command: command.to_string(),
        reason: reason.into(),
    }
}

impl RconConsole {
    /// A console for the server at `addr`; nothing connects until a command runs.
    pub fn new(addr: SocketAddr, password: Secret) -> Self {
        RconConsole {
            link: Arc::new(Mutex::new(Link {
                addr,
                password,
                timeout: COMMAND_TIMEOUT,
                conn: None,
            })),
            properties: None,
        }
    }

    /// Read the level RCON's `op` grants from this `server.properties`
    /// (without it, vanilla's default 4 is assumed).
    pub fn with_properties(mut self, path: PathBuf) -> Self {
        self.properties = Some(Arc::new(path));
        self
    }

    /// The level `op` grants on the running server: `op-permission-level`.
    async fn granted_op_level(&self) -> u8 {
        let Some(path) = &self.properties else {
            return DEFAULT_OP_LEVEL;
        };
        match tokio::fs::read_to_string(path.as_path()).await {
            Ok(text) => granted_op_level(&text),
            Err(e) => {
                warn!(path = %path.display(), error = %e, "cannot read the op level; assuming {DEFAULT_OP_LEVEL}");
                DEFAULT_OP_LEVEL
            }
        }
    }

    /// Drop the connection, so the next command connects afresh (a new JVM).
    pub async fn disconnect(&self) {
        self.link.lock().await.conn = None;
    }

    /// Send `stop`. The connection is dropped either way: the server is going.
    pub async fn stop(&self) -> Result<(), RconError> {
        let mut link = self.link.lock().await;
        let mut conn = match link.conn.take() {
            Some(c) => c,
            None => Rcon::connect(link.addr, &link.password, link.timeout).await?,
        };
        conn.stop().await
    }

    /// Run one command, reconnecting once if the cached connection was lost.
    async fn run(&self, command: &str, within: Duration) -> PortResult<String> {
        let mut link = self.link.lock().await;
        let reused = link.conn.is_some();
        let reply = match link.once(command, within).await {
            Err(e) if reused && e.connection_lost() => {
                debug!(error = %e, "the RCON connection was lost; reconnecting");
                link.once(command, within).await
            }
            other => other,
        };
        reply.map_err(|e| failed(command, e.to_string()))
    }

    /// Run `command` and judge its reply by `answer`.
    async fn expect(&self, command: &str, answer: &Answer, within: Duration) -> PortResult<()> {
        let reply = self.run(command, within).await?;
        if answer.ok.iter().any(|f| reply.contains(f)) {
            debug!(command, %reply, "console");
            Ok(())
        } else if answer.err.iter().any(|f| reply.contains(f)) {
            Err(failed(command, reply))
        } else {
            Err(failed(command, format!("unexpected answer {reply:?}")))
        }
    }

    async fn with_player(&self, verb: &str, name: &PlayerName, answer: &Answer) -> PortResult<()> {
        let command = format!("{verb} {}", checked(verb, name)?);
        self.expect(&command, answer, COMMAND_TIMEOUT).await?;
        info!(command, "console");
        Ok(())
    }
}

/// A name goes into a command line only if it is a valid Minecraft name, so
/// nothing after it can ride along (`Steve op Mallory`).
fn checked<'a>(verb: &str, name: &'a PlayerName) -> PortResult<&'a str> {
    let s = name.as_str();
    if (3..=16).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        Ok(s)
    } else {
        Err(failed(
            &format!("{verb} …"),
            format!("{s:?} is not a Minecraft name (3–16 of A-Z, a-z, 0-9, _)"),
        ))
    }
}

/// Vanilla's `op-permission-level` when server.properties does not say.
const DEFAULT_OP_LEVEL: u8 = 4;

/// `op-permission-level` from server.properties text; an unreadable value
/// counts as the highest level, so nothing below it is ever granted live.
pub fn granted_op_level(properties: &str) -> u8 {
    properties
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("op-permission-level"))
        .filter_map(|rest| rest.trim_start().strip_prefix(['=', ':']))
        .next_back()
        .map_or(DEFAULT_OP_LEVEL, |v| {
            v.trim().parse().ok().filter(|l| *l <= 4).unwrap_or(DEFAULT_OP_LEVEL)
        })
}

/// `commands.list.players`: `There are 2 of a max of 20 players online: Steve, Alex`;
/// `None` when the reply has another shape or the count disagrees with the names.
pub fn parse_list(reply: &str) -> Option<Vec<PlayerName>> {
    let rest = reply.trim_end().strip_prefix("There are ")?;
    let (count, rest) = rest.split_once(" of a max of ")?;
    let count: usize = count.trim().parse().ok()?;
    let (_max, names) = rest.split_once(" players online:")?;
    let names: Vec<PlayerName> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(PlayerName::new)
        .collect();
    (names.len() == count).then_some(names)
}

impl Console for RconConsole {
    async fn list_players(&mut self) -> PortResult<Vec<PlayerName>> {
        let reply = self.run("list", COMMAND_TIMEOUT).await?;
        parse_list(&reply).ok_or_else(|| failed("list", format!("unexpected answer {reply:?}")))
    }
    async fn save_off(&mut self) -> PortResult<()> {
        self.expect("save-off", &SAVE_OFF, COMMAND_TIMEOUT).await
    }
    async fn save_all_flush(&mut self) -> PortResult<()> {
        self.expect("save-all flush", &SAVE_ALL, SAVE_TIMEOUT).await
    }
    async fn save_on(&mut self) -> PortResult<()> {
        self.expect("save-on", &SAVE_ON, COMMAND_TIMEOUT).await
    }
    /// `say` broadcasts to everyone online and answers the console nothing
    /// (vanilla's RCON source receives no chat); any reply is an error that
    /// quotes it (`Unknown or incomplete command`, a plugin's refusal).
    async fn say(&mut self, line: &crate::countdown::Line) -> PortResult<()> {
        let command = format!("say {line}");
        let reply = self.run(&command, COMMAND_TIMEOUT).await?;
        if reply.trim().is_empty() {
            info!(command, "console");
            Ok(())
        } else {
            Err(failed(&command, format!("unexpected answer {reply:?}")))
        }
    }
    async fn whitelist_add(&mut self, name: &PlayerName) -> PortResult<()> {
        self.with_player("whitelist add", name, &WHITELIST_ADD).await
    }
    async fn whitelist_remove(&mut self, name: &PlayerName) -> PortResult<()> {
        self.with_player("whitelist remove", name, &WHITELIST_REMOVE).await
    }
    /// RCON's `op` can only grant `op-permission-level`. A wanted level at or
    /// above it is granted live (a higher one arrives from ops.json at the
    /// next start); a lower one is never granted live, which would give more
    /// than ops.toml says: the player is `deop`ped until the next start
    /// brings ops.json with the right level.
    async fn op(&mut self, name: &PlayerName, level: u8) -> PortResult<()> {
        let granted = self.granted_op_level().await;
        if level >= granted {
            return self.with_player("op", name, &OP).await;
        }
        self.with_player("deop", name, &DEOP).await?;
        warn!(
            player = %name,
            level,
            granted,
            "not an operator until the next start: RCON's op would grant level {granted}, more than {level}"
        );
        Ok(())
    }
    async fn deop(&mut self, name: &PlayerName) -> PortResult<()> {
        self.with_player("deop", name, &DEOP).await
    }
    /// An admin's command is not idempotent (`give`, `summon`): it is sent
    /// once and never again on a lost connection. A cached connection is
    /// first proved alive with `list` (which may reconnect), so a JVM
    /// restart since the last command does not fail the admin's.
    async fn command(&mut self, command: &str) -> PortResult<String> {
        let mut link = self.link.lock().await;
        if link.conn.is_some() {
            let probe = link.once("list", COMMAND_TIMEOUT).await;
            if let Err(e) = probe
                && e.connection_lost()
            {
                debug!(error = %e, "the RCON connection was lost; reconnecting before the admin's command");
            }
        }
        let reply = link.once(command, COMMAND_TIMEOUT).await.map_err(|e| {
            let note = if e.refused_before_sending() {
                "not sent"
            } else {
                "it may or may not have run"
            };
            failed(command, format!("{e} ({note})"))
        })?;
        info!(command, "console (admin request)");
        Ok(reply)
    }
}

#[cfg(test)]
mod tests;
