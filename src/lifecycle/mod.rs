//! The server's life as one state machine, shared by the reconciler (which
//! derives the phase from what it observes, [`observed_phase`]) and the agent
//! on the VPS (which drives it from timers and RCON).
//!
//! `OFFLINE → PROVISIONING → RUNNING ⇄ IDLE → SUSPENDED → TERMINATING → OFFLINE`,
//! and `SUSPENDED → RUNNING` when a whitelisted player joins.
//!
//! A server that finishes booting goes to IDLE, not RUNNING: nobody is on it
//! yet, and the idle countdown must start at boot, or a server nobody joins
//! would run until `max_session`. The function is total: every (phase, event)
//! pair has an answer, either a transition with the effects to carry out, or
//! `Ignored` with the reason, and the test enumerates all of them.

use serde::{Deserialize, Serialize};

pub(crate) mod timers;
pub use timers::Timers;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// No server exists.
    Offline,
    /// The VPS is being created and Minecraft is booting.
    Provisioning,
    /// Minecraft is up with players online.
    Running,
    /// Minecraft is up with nobody online; the idle countdown runs.
    Idle,
    /// Minecraft is stopped, the world saved; the VPS stays warm for a quick wake.
    Suspended,
    /// A final snapshot is being verified and the VPS deleted.
    Terminating,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Offline,
        Phase::Provisioning,
        Phase::Running,
        Phase::Idle,
        Phase::Suspended,
        Phase::Terminating,
    ];

    /// Whether a VPS exists (and is billed) in this phase.
    pub fn has_server(self) -> bool {
        self != Phase::Offline
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Phase::Offline => "offline",
            Phase::Provisioning => "provisioning",
            Phase::Running => "running",
            Phase::Idle => "idle",
            Phase::Suspended => "suspended",
            Phase::Terminating => "terminating",
        };
        f.write_str(s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// The admin (or the Start button) asks for the server.
    StartRequested,
    /// Minecraft finished loading and RCON answers.
    Ready,
    /// The first player came online (or one joined the sleeping listener).
    PlayerJoined,
    /// The last player left.
    AllLeft,
    /// Nobody was online for `lifecycle.idle`.
    IdleElapsed,
    /// Suspended for `lifecycle.suspended`.
    SuspendElapsed,
    /// The admin, the budget guard or `max_session` wants the server gone.
    StopRequested,
    /// An admin asked the agent to suspend now (`mc-gitops console --suspend`):
    /// the same stop as an idle suspension, players online or not.
    SuspendRequested,
    /// The JVM exited without being asked to.
    Crashed,
    /// The final snapshot is in storage and verified.
    SnapshotVerified,
    /// The VPS no longer exists.
    ServerDeleted,
}

impl Event {
    pub const ALL: [Event; 11] = [
        Event::StartRequested,
        Event::Ready,
        Event::PlayerJoined,
        Event::AllLeft,
        Event::IdleElapsed,
        Event::SuspendElapsed,
        Event::StopRequested,
        Event::SuspendRequested,
        Event::Crashed,
        Event::SnapshotVerified,
        Event::ServerDeleted,
    ];
}

/// What the caller must do on a transition, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    CreateServer,
    StartMinecraft,
    StartIdleTimer,
    CancelIdleTimer,
    /// `save-off`, `save-all flush`, snapshot, stop the JVM.
    SaveSnapshotAndStop,
    StartSuspendTimer,
    /// Final verified snapshot, then ask the reconciler to delete the VPS.
    FinalSnapshot,
    RequestTermination,
    RestartMinecraft,
    DeleteServer,
    CloseSession,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Moved {
        to: Phase,
        effects: Vec<Effect>,
    },
    /// The event means nothing in this phase; the reason says why.
    Ignored(&'static str),
}

/// Why a session ended: what the session file's `end_reason`, the commit
/// message and the Discord post say. The reason a stop was asked for is kept
/// in `desired.json` (`stop_reason`) until the session is closed, so a stop
/// asked in one run and completed in a later one keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// The agent ended the session itself after the suspended countdown.
    Idle,
    /// `state = "stopped"` in server.toml.
    Admin,
    Budget,
    MaxSession,
    /// The agent gave up restarting a crashing Minecraft.
    Crash,
    /// The server disappeared without a stop.
    Drift,
    /// Reserved for an admin's force-stop, which does not exist yet: nothing
    /// produces it, but session files and desired.json that name it still read.
    Forced,
}

impl EndReason {
    pub const ALL: [EndReason; 7] = [
        EndReason::Idle,
        EndReason::Admin,
        EndReason::Budget,
        EndReason::MaxSession,
        EndReason::Crash,
        EndReason::Drift,
        EndReason::Forced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Admin => "admin",
            EndReason::Budget => "budget",
            EndReason::MaxSession => "max-session",
            EndReason::Crash => "crash",
            EndReason::Drift => "drift",
            EndReason::Forced => "forced",
        }
    }

    /// What the reason means, for people (plans, Discord).
    pub fn why(self) -> &'static str {
        match self {
            EndReason::Admin => "state = \"stopped\" in server.toml",
            EndReason::Idle => "nobody played through idle and suspend",
            EndReason::Budget => "this month's spend is over the budget",
            EndReason::MaxSession => "the session reached lifecycle.max_session",
            EndReason::Crash => "Minecraft kept crashing",
            EndReason::Drift => "the server disappeared",
            EndReason::Forced => "forced by the admin",
        }
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The phase after `events`, each taken through [`transition`] (an ignored
/// event leaves the phase as it is).
pub fn replay(from: Phase, events: &[Event]) -> Phase {
    events.iter().fold(from, |phase, event| match transition(phase, *event) {
        Outcome::Moved { to, .. } => to,
        Outcome::Ignored(_) => phase,
    })
}

/// What the reconciler sees of a server's life from outside.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The session's VPS exists (Hetzner lists it, or the ledger believes so).
    pub server: bool,
    /// The phase the agent reports for this session: the agent drives this
    /// same machine on the VPS, so its phase is a state [`transition`] reached.
    pub agent: Option<Phase>,
    /// The session file records Minecraft ready (used when the agent is not
    /// observed).
    pub ready_recorded: bool,
    /// The reconciler asked the agent to stop and sync (`desired.json`).
    pub stop_asked: bool,
}

/// The reconciler's view of the phase: the agent's phase when it reports
/// (otherwise the events the ledger records: a server was started, it was
/// ready), then the events only the reconciler knows of, each through
/// [`transition`]: a stop it asked for, a server that is gone.
pub fn observed_phase(e: Evidence) -> Phase {
    let reported = match e.agent {
        Some(phase) => phase,
        None if e.server => {
            let booted: &[Event] = if e.ready_recorded {
                &[Event::StartRequested, Event::Ready]
            } else {
                &[Event::StartRequested]
            };
            replay(Phase::Offline, booted)
        }
        None => Phase::Offline,
    };
    match (e.server, e.stop_asked) {
        (false, _) => replay(reported, &[Event::ServerDeleted]),
        (true, true) => replay(reported, &[Event::StopRequested]),
        (true, false) => reported,
    }
}

/// The transition function. Pure and total.
pub fn transition(phase: Phase, event: Event) -> Outcome {
    use Effect::*;
    use Event as E;
    use Phase as P;
    let moved = |to, effects: &[Effect]| Outcome::Moved {
        to,
        effects: effects.to_vec(),
    };
    match (phase, event) {
        (P::Offline, E::StartRequested) => moved(P::Provisioning, &[CreateServer]),
        (P::Offline, E::ServerDeleted | E::StopRequested) => Outcome::Ignored("already offline"),
        (P::Offline, _) => Outcome::Ignored("no server exists"),

        (P::Provisioning, E::Ready) => moved(P::Idle, &[StartIdleTimer]),
        (P::Provisioning, E::PlayerJoined) => Outcome::Ignored("players cannot join before the server is ready"),
        (P::Provisioning, E::Crashed) => moved(P::Provisioning, &[RestartMinecraft]),
        (P::Provisioning, E::StopRequested) => moved(P::Terminating, &[FinalSnapshot]),
        (P::Provisioning, E::ServerDeleted) => moved(P::Offline, &[CloseSession]),
        (P::Provisioning, _) => Outcome::Ignored("still booting"),

        (P::Running, E::AllLeft) => moved(P::Idle, &[StartIdleTimer]),
        (P::Running, E::PlayerJoined) => Outcome::Ignored("already running with players"),
        (P::Running, E::Crashed) => moved(P::Running, &[RestartMinecraft]),
        (P::Running, E::StopRequested) => moved(P::Terminating, &[SaveSnapshotAndStop, FinalSnapshot]),
        (P::Running, E::SuspendRequested) => moved(P::Suspended, &[SaveSnapshotAndStop, StartSuspendTimer]),
        (P::Running, E::ServerDeleted) => moved(P::Offline, &[CloseSession]),
        (P::Running, _) => Outcome::Ignored("players are online"),

        (P::Idle, E::PlayerJoined) => moved(P::Running, &[CancelIdleTimer]),
        (P::Idle, E::IdleElapsed | E::SuspendRequested) => moved(P::Suspended, &[SaveSnapshotAndStop, StartSuspendTimer]),
        (P::Idle, E::Crashed) => moved(P::Idle, &[RestartMinecraft]),
        (P::Idle, E::StopRequested) => moved(P::Terminating, &[SaveSnapshotAndStop, FinalSnapshot]),
        (P::Idle, E::ServerDeleted) => moved(P::Offline, &[CloseSession]),
        (P::Idle, _) => Outcome::Ignored("idle countdown running"),

        (P::Suspended, E::PlayerJoined) => moved(P::Running, &[StartMinecraft]),
        (P::Suspended, E::SuspendElapsed | E::StopRequested) => moved(P::Terminating, &[FinalSnapshot]),
        (P::Suspended, E::ServerDeleted) => moved(P::Offline, &[CloseSession]),
        (P::Suspended, _) => Outcome::Ignored("Minecraft is stopped"),

        (P::Terminating, E::SnapshotVerified) => moved(P::Terminating, &[RequestTermination, DeleteServer]),
        (P::Terminating, E::ServerDeleted) => moved(P::Offline, &[CloseSession]),
        (P::Terminating, E::PlayerJoined) => Outcome::Ignored("shutting down: the player is told to try again shortly"),
        (P::Terminating, _) => Outcome::Ignored("shutting down"),
    }
}

#[cfg(test)]
mod tests;
