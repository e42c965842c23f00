//! The server's life as one state machine, shared by the reconciler (which
//! derives the phase from what it observes) and the agent on the VPS (which
//! drives it from timers and RCON).
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
    /// The JVM exited without being asked to.
    Crashed,
    /// The final snapshot is in storage and verified.
    SnapshotVerified,
    /// The VPS no longer exists.
    ServerDeleted,
}

impl Event {
    pub const ALL: [Event; 10] = [
        Event::StartRequested,
        Event::Ready,
        Event::PlayerJoined,
        Event::AllLeft,
        Event::IdleElapsed,
        Event::SuspendElapsed,
        Event::StopRequested,
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
        (P::Running, E::ServerDeleted) => moved(P::Offline, &[CloseSession]),
        (P::Running, _) => Outcome::Ignored("players are online"),

        (P::Idle, E::PlayerJoined) => moved(P::Running, &[CancelIdleTimer]),
        (P::Idle, E::IdleElapsed) => moved(P::Suspended, &[SaveSnapshotAndStop, StartSuspendTimer]),
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
mod tests {
    use super::*;
    use Event as E;
    use Phase as P;

    fn to(phase: Phase, event: Event) -> Option<Phase> {
        match transition(phase, event) {
            Outcome::Moved { to, .. } => Some(to),
            Outcome::Ignored(_) => None,
        }
    }

    /// Every pair, written out: a change to the machine must change this table.
    #[test]
    fn every_phase_and_event_pair() {
        let table: &[(Phase, [Option<Phase>; 10])] = &[
            //                 Start               Ready          Joined           AllLeft        IdleEl          SuspEl              Stop                Crash                 Snapshot            Deleted
            (
                P::Offline,
                [Some(P::Provisioning), None, None, None, None, None, None, None, None, None],
            ),
            (
                P::Provisioning,
                [
                    None,
                    Some(P::Idle),
                    None,
                    None,
                    None,
                    None,
                    Some(P::Terminating),
                    Some(P::Provisioning),
                    None,
                    Some(P::Offline),
                ],
            ),
            (
                P::Running,
                [
                    None,
                    None,
                    None,
                    Some(P::Idle),
                    None,
                    None,
                    Some(P::Terminating),
                    Some(P::Running),
                    None,
                    Some(P::Offline),
                ],
            ),
            (
                P::Idle,
                [
                    None,
                    None,
                    Some(P::Running),
                    None,
                    Some(P::Suspended),
                    None,
                    Some(P::Terminating),
                    Some(P::Idle),
                    None,
                    Some(P::Offline),
                ],
            ),
            (
                P::Suspended,
                [
                    None,
                    None,
                    Some(P::Running),
                    None,
                    None,
                    Some(P::Terminating),
                    Some(P::Terminating),
                    None,
                    None,
                    Some(P::Offline),
                ],
            ),
            (
                P::Terminating,
                [
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some(P::Terminating),
                    Some(P::Offline),
                ],
            ),
        ];
        assert_eq!(table.len(), Phase::ALL.len());
        for (phase, row) in table {
            for (event, want) in Event::ALL.iter().zip(row) {
                assert_eq!(to(*phase, *event), *want, "{phase:?} + {event:?}");
            }
        }
    }

    #[test]
    fn the_happy_path_reaches_offline_again() {
        let mut p = P::Offline;
        for e in [
            E::StartRequested,
            E::Ready,
            E::PlayerJoined,
            E::AllLeft,
            E::IdleElapsed,
            E::SuspendElapsed,
            E::SnapshotVerified,
            E::ServerDeleted,
        ] {
            p = to(p, e).unwrap_or_else(|| panic!("{p:?} + {e:?} ignored"));
        }
        assert_eq!(p, P::Offline);
    }

    #[test]
    fn a_join_during_the_suspend_countdown_wakes_the_server() {
        assert_eq!(
            transition(P::Suspended, E::PlayerJoined),
            Outcome::Moved {
                to: P::Running,
                effects: vec![Effect::StartMinecraft]
            }
        );
    }

    #[test]
    fn deletion_only_follows_a_verified_snapshot() {
        for phase in Phase::ALL {
            for event in Event::ALL {
                if let Outcome::Moved { effects, .. } = transition(phase, event)
                    && effects.contains(&Effect::DeleteServer)
                {
                    assert_eq!((phase, event), (P::Terminating, E::SnapshotVerified));
                }
            }
        }
    }

    #[test]
    fn every_stop_path_snapshots_first() {
        for phase in [P::Running, P::Idle, P::Suspended, P::Provisioning] {
            match transition(phase, E::StopRequested) {
                Outcome::Moved { to, effects } => {
                    assert_eq!(to, P::Terminating);
                    assert!(effects.contains(&Effect::FinalSnapshot), "{phase:?}");
                }
                other => panic!("{phase:?}: {other:?}"),
            }
        }
    }
}
