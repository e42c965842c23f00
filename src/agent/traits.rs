//! What the agent's loop needs from the world, one trait per outside thing:
//! the JVM, its console (RCON), world snapshots, the sleeping listener, the
//! boot-time provisioning, the control channel and the nudge.
//!
//! The loop is written against these so every timer and transition is tested
//! with in-memory fakes on tokio's paused clock; the real implementations live
//! beside the protocol they speak. The agent runs on a current-thread runtime,
//! so the futures need not be `Send` and plain `async fn` is the simplest form.
#![allow(async_fn_in_trait)]

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::PlayerName;
use crate::storage::requests::{RequestDoc, RequestId, ResultDoc};
use crate::storage::{AgentStatusDoc, ControlDoc, WhitelistEntry};

/// A failure of one of the outside things, named after it. The loop never
/// stops on these: it records the message in the status and tries again later.
///
/// A variant that wraps another error keeps it as its `source`, so its own
/// Display is only the context: render one with [`crate::error::render_error`]
/// (as the loop does) for the whole chain. Variants that are only messages
/// carry a string.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("Minecraft: {0}")]
    Minecraft(String),
    /// The JVM could not be spawned or waited for (`what` says which).
    #[error("Minecraft: {what}")]
    Jvm {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("console command `{command}`: {reason}")]
    Console { command: String, reason: String },
    #[error("snapshot ({reason})")]
    Snapshot {
        reason: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("listener: {0}")]
    Listener(String),
    #[error("listener: binding {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("provisioning {what}: {message}")]
    Provision { what: String, message: String },
    /// Provisioning `what` failed on another error (storage, the world, a
    /// file): kept as the source.
    #[error("provisioning {what}")]
    ProvisionFailed {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Provisioning cannot go on until someone decides (the message says
    /// what to do); the agent waits, reading `desired.json` again.
    #[error("{0}")]
    Waiting(String),
    #[error("control channel")]
    Control(#[source] crate::storage::StorageError),
    /// The agent's local record of requests (`agent::requests::Record`).
    #[error("control channel: {what} {}", path.display())]
    Record {
        what: String,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("nudge")]
    Nudge(#[source] super::nudge::NudgeError),
}

pub type PortResult<T> = Result<T, PortError>;

/// Why a snapshot is taken; part of its key and of the session log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotReason {
    /// Every `backup_every` while Minecraft runs.
    Backup,
    /// Before Minecraft is stopped for suspension.
    Suspend,
    /// After Minecraft stopped, before the VPS is deleted.
    Final,
    /// An admin's backup request (`mc-gitops console --backup`).
    Manual,
}

impl std::fmt::Display for SnapshotReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SnapshotReason::Backup => "backup",
            SnapshotReason::Suspend => "suspend",
            SnapshotReason::Final => "final",
            SnapshotReason::Manual => "manual",
        })
    }
}

/// A snapshot that was uploaded in full and verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    pub key: String,
    pub sha256: String,
    pub size: u64,
    pub taken: DateTime<Utc>,
    /// The world directory's size on disk when it was taken, as the
    /// snapshot counted it while packing.
    #[serde(default)]
    pub world_bytes: Option<u64>,
}

/// The Minecraft server process.
pub trait Minecraft {
    /// Spawn the JVM. Returns once it is started, not loaded.
    async fn start(&mut self) -> PortResult<()>;
    /// Whether the log said `Done (…)! For help, type "help"` since the last start.
    fn loaded(&self) -> bool;
    /// The version the log announced, when it did.
    fn version(&self) -> Option<String>;
    /// Ask it to stop (it saves), wait for the exit; kill it after a grace period.
    async fn stop(&mut self) -> PortResult<()>;
    /// Resolves when the JVM exits without being asked to, with its exit code.
    /// Only polled while it runs.
    async fn exited(&mut self) -> Option<i32>;
}

/// The server console: RCON in production.
pub trait Console {
    async fn list_players(&mut self) -> PortResult<Vec<PlayerName>>;
    async fn save_off(&mut self) -> PortResult<()>;
    async fn save_all_flush(&mut self) -> PortResult<()>;
    async fn save_on(&mut self) -> PortResult<()>;
    /// Say a countdown line to everyone online (`say`). Only lines
    /// [`crate::countdown`] built: nothing anyone typed reaches the console.
    async fn say(&mut self, line: &crate::countdown::Line) -> PortResult<()>;
    async fn whitelist_add(&mut self, name: &PlayerName) -> PortResult<()>;
    async fn whitelist_remove(&mut self, name: &PlayerName) -> PortResult<()>;
    async fn op(&mut self, name: &PlayerName, level: u8) -> PortResult<()>;
    async fn deop(&mut self, name: &PlayerName) -> PortResult<()>;
    /// An admin's console command (already judged allowed,
    /// `crate::minecraft::commands::refusal`): Minecraft's reply, whatever it says.
    async fn command(&mut self, command: &str) -> PortResult<String>;
}

/// World snapshots in storage.
pub trait Snapshots {
    /// Take a snapshot of the world directory, upload it, verify it, and
    /// point `worlds/<s>/current.json` at it.
    async fn snapshot(&mut self, reason: SnapshotReason) -> PortResult<SnapshotRef>;
    /// Put the newest verified snapshot (or the one server.toml names) in
    /// place before the first start; `None` for a new world.
    async fn restore(&mut self) -> PortResult<Option<SnapshotRef>>;
}

/// The game port while Minecraft is stopped: the agent holds it itself
/// (the sleeping listener) so a status ping and a login always get an answer.
pub trait Listener {
    type Held: HeldPort;
    /// Bind the game port and answer on it, in `mode`, until the returned
    /// handle is closed. Bound once per stop of Minecraft: the loop keeps
    /// the handle across its passes instead of binding again.
    async fn open(&mut self, whitelist: &[WhitelistEntry], mode: PortMode) -> PortResult<Self::Held>;
}

/// How the held game port answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortMode {
    /// Suspended: a status ping says "sleeping"; a whitelisted login wakes the server.
    Sleeping,
    /// Terminating: a status ping says "stopping"; a login is told the
    /// server is shutting down, and wakes nothing.
    Stopping,
}

/// The game port while the agent holds it.
pub trait HeldPort {
    /// The next whitelisted login (only in [`PortMode::Sleeping`]). Cancel-safe,
    /// so it can sit in a `select!`; an error means the listener stopped.
    async fn next_wake(&mut self) -> PortResult<PlayerName>;
    fn set_whitelist(&mut self, whitelist: &[WhitelistEntry]);
    /// Answer as stopping from now on.
    fn stopping(&mut self);
    /// Release the port; returns once it is closed, so Minecraft can bind it.
    async fn close(self);
}

/// Everything before the first start: world restore, the server's files,
/// `server.properties` with the RCON settings.
pub trait Provision {
    async fn provision(&mut self, doc: &ControlDoc) -> PortResult<()>;
}

/// `control/<s>/desired.json` in, `control/<s>/status.json` out.
pub trait Control {
    async fn desired(&mut self) -> PortResult<Option<ControlDoc>>;
    async fn report(&mut self, status: &AgentStatusDoc) -> PortResult<()>;
    /// The status last written (by this agent or one before it), read once
    /// at start to carry a session's counts over an agent restart.
    async fn previous(&mut self) -> PortResult<Option<AgentStatusDoc>>;
    /// Up to `limit` admin requests to handle now, oldest first: each one
    /// to run, or its answer when one is already decided (a refused
    /// document, an answer recorded locally but not yet stored).
    async fn requests(&mut self, limit: usize) -> PortResult<Vec<Incoming>>;
    /// Record, durably and before it runs, that this request is starting:
    /// a request found started but unanswered is never run again.
    async fn starting(&mut self, id: &RequestId) -> PortResult<()>;
    /// Store the answer (kept locally until it is stored).
    async fn answer(&mut self, result: &ResultDoc) -> PortResult<()>;
}

/// A pending admin request as the control channel hands it to the loop.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// Not run yet: judge it, run it, answer it.
    Run(RequestDoc),
    /// Decided already (refused unread, or interrupted): only store the answer.
    Answered(ResultDoc),
}

/// Tell the reconciler to look now instead of at its next schedule. Carries
/// no data: the reconciler trusts storage, never the nudge.
pub trait Nudge {
    /// Whether a request was sent (`false` when no token is configured).
    async fn nudge(&mut self) -> PortResult<bool>;
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::PortError;
    use crate::error::render_error;

    /// `PortError` used to flatten its cause into a string (`render_error`
    /// or `format!("…: {e}")`): the chain was lost to anything walking
    /// `source()`. The cause is the source now, and the rendered line (what
    /// the status's `last_error` and the logs show) is the one it was.
    #[test]
    fn a_wrapped_cause_is_the_source_and_renders_the_line_it_did() {
        let full = || std::io::Error::other("disk full");
        let cases = [
            (
                PortError::Jvm {
                    what: "waiting for the JVM".into(),
                    source: full(),
                },
                "Minecraft: waiting for the JVM: disk full",
            ),
            (
                PortError::Snapshot {
                    reason: "backup".into(),
                    source: Box::new(full()),
                },
                "snapshot (backup): disk full",
            ),
            (
                PortError::Bind {
                    addr: "0.0.0.0:25565".parse().unwrap(),
                    source: full(),
                },
                "listener: binding 0.0.0.0:25565: disk full",
            ),
            (
                PortError::ProvisionFailed {
                    what: "server.properties".into(),
                    source: Box::new(full()),
                },
                "provisioning server.properties: disk full",
            ),
            (
                PortError::Control(crate::storage::StorageError::Conflict {
                    key: "control/grove/requests/x.json".into(),
                }),
                "control channel: storage object control/grove/requests/x.json was changed by another writer since it was read",
            ),
            (
                PortError::Record {
                    what: "writing".into(),
                    path: "/var/lib/mc-gitops/requests/x.tmp".into(),
                    source: full(),
                },
                "control channel: writing /var/lib/mc-gitops/requests/x.tmp: disk full",
            ),
            (
                PortError::Nudge(crate::agent::nudge::NudgeError::Refused {
                    path: "/repos/o/r/dispatches".into(),
                    status: reqwest::StatusCode::UNAUTHORIZED,
                    message: "Bad credentials".into(),
                }),
                "nudge: POST /repos/o/r/dispatches answered 401 Unauthorized: Bad credentials",
            ),
        ];
        for (e, line) in cases {
            assert!(e.source().is_some(), "{e:?} keeps its cause");
            assert_eq!(render_error(&e), line);
        }
        let message = PortError::Listener("the listener stopped".into());
        assert!(message.source().is_none(), "a message is only a message");
        assert_eq!(render_error(&message), "listener: the listener stopped");
    }
}
