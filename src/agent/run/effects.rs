//! The effects of a transition, carried out through the ports: starting and
//! stopping the JVM, timers, snapshots, backups and the crash backoff. Kept
//! apart from the loop so each reads on its own; both are one `impl Agent`.

use tokio::time::Instant;
use tracing::{info, warn};

use super::{Agent, RESTART_BACKOFF, RETRY, Trouble, std};
use crate::agent::traits::{Console, Control, Listener, Minecraft, Nudge, Provision, SnapshotReason, SnapshotRef, Snapshots};
use crate::lifecycle::{Effect, Event, Phase};
use crate::storage::{BackupRef, BootReport};

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
    /// One effect; answers the event it leads to, if any.
    pub(super) async fn effect(&mut self, effect: Effect) -> Option<Event> {
        let now = Instant::now();
        match effect {
            // The reconciler's side: the VPS holds no Hetzner token.
            Effect::CreateServer | Effect::DeleteServer | Effect::CloseSession => None,
            Effect::StartMinecraft => {
                self.suspend_at = None;
                self.terminate_at = None;
                self.start_jvm().await;
                None
            }
            Effect::StartIdleTimer => {
                let decided =
                    crate::shutdown::after_leave(&self.timers, self.doc.shutdown.as_ref(), self.clock.now(), self.sittings_today());
                self.keep = decided.keep;
                self.idle_at = Some(now + decided.idle.to_std().unwrap_or_default());
                None
            }
            Effect::CancelIdleTimer => {
                self.idle_at = None;
                None
            }
            Effect::SaveSnapshotAndStop => {
                self.idle_at = None;
                self.next_backup = None;
                if self.ready {
                    let saved = match self.ports.console.save_off().await {
                        Ok(()) => self.ports.console.save_all_flush().await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = saved {
                        self.error(Trouble::Console, crate::error::render_error(&e));
                    }
                }
                self.take_snapshot(SnapshotReason::Suspend).await;
                self.stop_jvm().await;
                None
            }
            Effect::StartSuspendTimer => {
                let since = self.clock.now();
                // An admin's suspend while players are on is no leave: the timers decide.
                let keep = self.keep.take().filter(|_| self.players_online.is_empty());
                let at = crate::shutdown::terminate_at(&self.timers, keep, self.created, since);
                self.terminate_at = Some(at);
                self.suspend_at = Some(now + (at - since).to_std().unwrap_or_default());
                None
            }
            Effect::FinalSnapshot => {
                self.idle_at = None;
                self.suspend_at = None;
                self.next_backup = None;
                if self.jvm_running || self.stopped_at.is_none() {
                    self.stop_jvm().await;
                }
                // Players hear "shutting down" while the final snapshot uploads.
                self.hold_port().await;
                match self.take_snapshot(SnapshotReason::Final).await {
                    Some(_) => Some(Event::SnapshotVerified),
                    None => {
                        self.final_retry_at = Some(now + RETRY);
                        None
                    }
                }
            }
            Effect::RequestTermination => {
                self.ready_to_terminate = true;
                self.terminate_at = Some(self.clock.now());
                self.report().await;
                self.nudge().await;
                None
            }
            Effect::RestartMinecraft => self.after_crash(),
        }
    }

    /// Count the crash; restart later with backoff, or give up.
    pub(super) fn after_crash(&mut self) -> Option<Event> {
        self.crashes += 1;
        if self.crashes >= self.timers.max_crashes {
            self.crashed = true;
            self.restart_at = None;
            self.error(
                Trouble::Minecraft,
                format!("Minecraft crashed {} times in a row; not restarting it", self.crashes),
            );
            // Nobody can be online: let the idle countdown run.
            return (self.phase == Phase::Running).then_some(Event::AllLeft);
        }
        let wait = RESTART_BACKOFF[(self.crashes as usize - 1).min(RESTART_BACKOFF.len() - 1)];
        warn!(
            crashes = self.crashes,
            wait_secs = wait.as_secs(),
            "Minecraft crashed; restarting after a pause"
        );
        self.restart_at = Some(Instant::now() + wait);
        None
    }

    pub(super) async fn start_jvm(&mut self) {
        // The port is Minecraft's again: closed before it starts binding.
        self.release_port().await;
        let now = Instant::now();
        self.stopped_at = None;
        match self.ports.minecraft.start().await {
            Ok(()) => {
                self.jvm_running = true;
                self.ready = false;
                self.boot_deadline = Some(now + std(self.timers.boot_deadline));
                self.boot = Some(BootReport {
                    started: self.clock.now(),
                    ready: None,
                    deadline: self.clock.now() + self.timers.boot_deadline.to_chrono(),
                    deadline_missed: false,
                });
                self.next_poll = now;
            }
            Err(e) => {
                self.error(Trouble::Minecraft, crate::error::render_error(&e));
                if let Some(next) = self.after_crash() {
                    Box::pin(self.fire(next)).await;
                }
            }
        }
    }

    /// Stop a running JVM (it saves). `stopped_at` is the moment Minecraft
    /// stopped, so only stopping one that ran moves it: not a shutdown of an
    /// agent whose Minecraft was already stopped. (A JVM killed after the
    /// grace period stopped too; the error says how.)
    pub(super) async fn stop_jvm(&mut self) {
        if self.jvm_running {
            if let Err(e) = self.ports.minecraft.stop().await {
                self.error(Trouble::Minecraft, crate::error::render_error(&e));
            }
            self.stopped_at = Some(self.clock.now());
        }
        self.jvm_running = false;
        self.ready = false;
        self.boot_deadline = None;
        self.restart_at = None;
        self.set_online(Vec::new());
        // Someone may knock right away: hold the port in the stopped phases.
        self.hold_port().await;
    }

    /// The periodic backup, while Minecraft is up.
    pub(super) async fn backup(&mut self) {
        if !self.ready || !matches!(self.phase, Phase::Running | Phase::Idle) {
            return;
        }
        let _ = self.backup_as(SnapshotReason::Backup).await;
    }

    /// `save-off`, `save-all flush`, snapshot, `save-on` (always, even after
    /// a failure), then report: the periodic backup and an admin's backup
    /// request alike. The verified snapshot, or what failed.
    pub(super) async fn backup_as(&mut self, reason: SnapshotReason) -> Result<SnapshotRef, String> {
        let saved = match self.ports.console.save_off().await {
            Ok(()) => self.ports.console.save_all_flush().await,
            Err(e) => Err(e),
        };
        let taken = match saved {
            Ok(()) => self.take_snapshot(reason).await.ok_or_else(|| {
                self.last_error
                    .as_ref()
                    .map_or_else(|| "the snapshot failed".to_string(), |(_, m)| m.clone())
            }),
            Err(e) => {
                self.error(Trouble::Console, crate::error::render_error(&e));
                Err(crate::error::render_error(&e))
            }
        };
        if let Err(e) = self.ports.console.save_on().await {
            self.error(Trouble::Console, crate::error::render_error(&e));
        }
        self.report().await;
        taken
    }

    async fn take_snapshot(&mut self, reason: SnapshotReason) -> Option<SnapshotRef> {
        match self.ports.snapshots.snapshot(reason).await {
            Ok(s) => {
                info!(key = %s.key, size = s.size, %reason, "snapshot verified");
                self.recovered(Trouble::Snapshot);
                self.backups += 1;
                if s.world_bytes.is_some() {
                    self.world_bytes = s.world_bytes;
                }
                self.last_backup = Some(BackupRef {
                    key: s.key.clone(),
                    size: s.size,
                    sha256: s.sha256.clone(),
                    taken: s.taken,
                });
                Some(s)
            }
            Err(e) => {
                self.error(Trouble::Snapshot, crate::error::render_error(&e));
                None
            }
        }
    }
}
