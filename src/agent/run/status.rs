//! What the agent says about itself: `last_error` kept with what failed,
//! so the next success of that same thing clears it; the phase as the
//! status tells it; the session's counts, carried over an agent restart;
//! and writing `status.json`.

use tokio::time::Instant;
use tracing::{info, warn};

use super::{Agent, std};
use crate::agent::traits::{Console, Control, Listener, Minecraft, Nudge, Provision, Snapshots};
use crate::lifecycle::Phase;
use crate::storage::AgentStatusDoc;

/// What failed, so its success clears it from the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trouble {
    Provision,
    /// The JVM: crashes, a failed start or stop, a missed boot deadline.
    Minecraft,
    Console,
    Snapshot,
    Listener,
    Control,
    Nudge,
}

impl<M, C, S, L, P, K, N> Agent<M, C, S, L, P, K, N>
where
    M: Minecraft,
    C: Console,
    S: Snapshots,
    L: Listener,
    P: Provision,
    K: Control,
    N: Nudge,
{
    pub(super) fn error(&mut self, trouble: Trouble, message: String) {
        warn!(%message, ?trouble, "agent problem");
        self.last_error = Some((trouble, message));
    }

    /// `trouble` works again: its error no longer describes now.
    pub(super) fn recovered(&mut self, trouble: Trouble) {
        if self.last_error.as_ref().is_some_and(|(t, _)| *t == trouble) {
            self.last_error = None;
        }
    }

    /// Carry the session's counts over an agent restart (a crash, an
    /// upgrade): the previous status of the same session has them.
    pub(super) async fn resume(&mut self) {
        let Some(mine) = self.session.clone() else { return };
        match self.ports.control.previous().await {
            Ok(Some(prev)) if prev.session.as_ref() == Some(&mine) => {
                info!(peak = prev.peak_players, backups = prev.backups, "resuming this session's counts");
                self.peak_players = prev.peak_players;
                self.backups = prev.backups;
                self.world_bytes = prev.world_bytes;
                self.last_backup = prev.last_backup;
                self.players_seen.extend(prev.players_seen);
            }
            Ok(_) => {}
            Err(e) => warn!(error = %crate::error::render_error(&e), "cannot read the previous status; counting from zero"),
        }
    }

    /// The phase as the status tells it. A warm start (suspended → running on
    /// a login) or a crash restart boots with nobody online: Minecraft is
    /// booting, which the lifecycle calls provisioning, not running
    /// ("Minecraft is up with players online"), until it answers.
    pub(super) fn reported_phase(&self) -> Phase {
        if self.phase == Phase::Running && !self.ready && self.players_online.is_empty() {
            Phase::Provisioning
        } else {
            self.phase
        }
    }

    pub(crate) fn status(&self) -> AgentStatusDoc {
        AgentStatusDoc {
            phase: self.reported_phase(),
            players_online: self.players_online.clone(),
            players_seen: self.players_seen.iter().cloned().collect(),
            heartbeat: self.clock.now(),
            stopped_at: self.stopped_at,
            protocol: self.ports.minecraft.version().as_deref().and_then(crate::agent::jvm::protocol_of),
            minecraft_version: self.ports.minecraft.version(),
            // Its own session, also while it waits for that session's document.
            session: self.session.clone().or_else(|| self.doc.session.clone()),
            waiting: self.waiting.clone(),
            last_backup: self.last_backup.clone(),
            boot: self.boot.clone(),
            crashes: self.crashes,
            crashed: self.crashed,
            restart_at: self
                .restart_at
                .map(|t| self.clock.now() + chrono::Duration::from_std(t - Instant::now()).unwrap_or_default()),
            stopping_at: self.stopping_at(),
            terminate_at: self.terminate_at,
            ready_to_terminate: self.ready_to_terminate,
            last_error: self.last_error.as_ref().map(|(_, m)| m.clone()),
            // Filled in by the control channel, which keeps the credentials.
            credentials: None,
            peak_players: self.peak_players,
            backups: self.backups,
            world_bytes: self.world_bytes,
            presence: self.presence.clone(),
        }
    }

    pub(super) async fn report(&mut self) {
        self.next_heartbeat = Instant::now() + std(self.timers.heartbeat);
        let status = self.status();
        if let Err(e) = self.ports.control.report(&status).await {
            warn!(error = %crate::error::render_error(&e), "cannot write the status");
        }
    }
}
