//! The agent's loop: one task that owns the phase and every timer, wakes on
//! the nearest deadline, a JVM exit, a login at the sleeping listener or
//! shutdown, and changes phase only through [`crate::lifecycle::transition`],
//! carrying out the effects it returns through the ports in [`super::traits`].
//!
//! Nothing here stops the loop: a failing port is recorded in the status
//! (`last_error`) and retried at its next deadline, because the reconciler
//! reads the status and a quiet agent would be worse than a complaining one.
//! The error is cleared when the same thing next succeeds, so the status
//! says what is true now.
//!
//! Long-lived things are held once: the JVM child (one `start` per stop),
//! and while Minecraft is stopped (suspended, terminating) the game port,
//! bound once on the stop and kept across every pass of the loop until
//! Minecraft starts again (closed first, so Minecraft can bind it) or the
//! agent exits.
//! Wall-clock times in the status are derived from tokio's monotonic clock,
//! so the paused-clock tests see exact times.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info};

use super::control::{Applied, apply_changes, changes};
use super::traits::{Console, Control, HeldPort, Listener, Minecraft, Nudge, PortError, Provision, Snapshots};
use crate::ids::{PlayerName, SessionId};
use crate::lifecycle::Timers;
use crate::lifecycle::{Effect, Event, Outcome, Phase, transition};
use crate::storage::{BackupRef, BootReport, ControlDoc};

/// Waits before restarting a crashed JVM; the last one repeats.
pub(crate) const RESTART_BACKOFF: [StdDuration; 3] = [StdDuration::from_secs(10), StdDuration::from_secs(30), StdDuration::from_secs(120)];
/// How soon a failed provisioning or final snapshot is tried again.
pub(crate) const RETRY: StdDuration = StdDuration::from_secs(60);
/// How soon binding the game port is tried again: players are knocking.
pub(crate) const LISTENER_RETRY: StdDuration = StdDuration::from_secs(5);
/// How the status says the agent waits for its session's document.
const WAITING: &str = "waiting for desired.json";

/// The outside things the loop drives.
pub(crate) struct Ports<M, C, S, L, P, K, N> {
    pub minecraft: M,
    pub console: C,
    pub snapshots: S,
    pub listener: L,
    pub provision: P,
    pub control: K,
    pub nudge: N,
}

/// Wall-clock time from the monotonic clock and one reading of the wall clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    wall0: DateTime<Utc>,
    mono0: Instant,
}

impl Clock {
    pub(crate) fn starting_at(wall0: DateTime<Utc>) -> Self {
        Clock {
            wall0,
            mono0: Instant::now(),
        }
    }
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.wall0 + chrono::Duration::from_std(self.mono0.elapsed()).unwrap_or_default()
    }
}

enum Wake {
    Timer,
    Exited(Option<i32>),
    Join(Result<PlayerName, PortError>),
    Shutdown,
}

fn std(d: crate::repo::duration::Duration) -> StdDuration {
    StdDuration::from_secs(d.as_secs())
}

fn due(t: Option<Instant>, now: Instant) -> bool {
    t.is_some_and(|t| t <= now)
}

mod countdown;
mod effects;
mod port;
mod presence;
mod provision;
mod requests;
mod status;

use port::next_wake;
pub(super) use status::Trouble;

pub(crate) struct Agent<M, C, S, L: Listener, P, K, N> {
    ports: Ports<M, C, S, L, P, K, N>,
    /// The game port, while the agent holds it (Minecraft stopped).
    held: Option<L::Held>,
    timers: Timers,
    clock: Clock,
    /// When Hetzner created the VPS (billed hours count from here).
    created: DateTime<Utc>,
    phase: Phase,

    jvm_running: bool,
    /// Loaded (the log's Done line) and the console answered, since the last start.
    ready: bool,
    boot: Option<BootReport>,
    boot_deadline: Option<Instant>,
    crashes: u32,
    crashed: bool,
    restart_at: Option<Instant>,

    next_poll: Instant,
    next_control: Instant,
    next_heartbeat: Instant,
    next_backup: Option<Instant>,
    idle_at: Option<Instant>,
    suspend_at: Option<Instant>,
    terminate_at: Option<DateTime<Utc>>,
    /// The decision at the newest leave ([`crate::shutdown::after_leave`]):
    /// with a learned policy, the leave and its keep time.
    keep: Option<(DateTime<Utc>, chrono::Duration)>,
    /// Sittings that ended on this UTC day, in this session.
    sittings: (Option<chrono::NaiveDate>, u32),
    final_retry_at: Option<Instant>,
    listener_retry_at: Option<Instant>,

    players_online: Vec<PlayerName>,
    players_seen: BTreeSet<PlayerName>,
    /// Who was online when, from each `list` ([`Self::set_online`]).
    presence: Vec<crate::storage::Presence>,
    /// Most players online at once this session.
    peak_players: u32,
    /// Verified snapshots taken this session.
    backups: u32,
    /// The world's size at the newest verified snapshot.
    world_bytes: Option<u64>,
    /// When Minecraft last stopped after saving.
    stopped_at: Option<DateTime<Utc>>,
    last_backup: Option<BackupRef>,
    ready_to_terminate: bool,
    last_error: Option<(Trouble, String)>,

    doc: ControlDoc,
    applied: Applied,
    stop_seen: Option<DateTime<Utc>>,
    /// Players are being warned of a stop asked for ([`crate::countdown`]);
    /// Minecraft is stopped when it ends.
    countdown: Option<crate::countdown::Countdown>,
    /// The session this VPS was created for (agent.toml); `None` for a config
    /// that does not say.
    session: Option<SessionId>,
    /// What provisioning waits for, while it waits.
    waiting: Option<String>,
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
    pub(crate) fn new(ports: Ports<M, C, S, L, P, K, N>, timers: Timers, clock: Clock, created: Option<DateTime<Utc>>) -> Self {
        let now = Instant::now();
        Agent {
            ports,
            held: None,
            timers,
            created: created.unwrap_or_else(|| clock.now()),
            clock,
            phase: Phase::Provisioning,
            jvm_running: false,
            ready: false,
            boot: None,
            boot_deadline: None,
            crashes: 0,
            crashed: false,
            restart_at: None,
            next_poll: now,
            next_control: now,
            next_heartbeat: now,
            next_backup: None,
            idle_at: None,
            suspend_at: None,
            terminate_at: None,
            keep: None,
            sittings: (None, 0),
            final_retry_at: None,
            listener_retry_at: None,
            players_online: Vec::new(),
            players_seen: BTreeSet::new(),
            presence: Vec::new(),
            peak_players: 0,
            backups: 0,
            world_bytes: None,
            stopped_at: None,
            last_backup: None,
            ready_to_terminate: false,
            last_error: None,
            doc: ControlDoc::default(),
            applied: Applied::default(),
            stop_seen: None,
            countdown: None,
            session: None,
            waiting: None,
        }
    }

    /// Provision only from a `desired.json` that names `session`.
    pub(crate) fn for_session(mut self, session: Option<SessionId>) -> Self {
        self.session = session;
        self
    }

    /// Provision, start Minecraft, and run until `shutdown` resolves; then
    /// stop Minecraft (it saves) and report. Returns the last phase.
    pub(crate) async fn run(mut self, shutdown: impl Future<Output = ()>) -> Phase {
        tokio::pin!(shutdown);
        self.resume().await;
        if !self.provision(&mut shutdown).await {
            self.report().await;
            return self.phase;
        }
        self.start_jvm().await;
        self.report().await;
        loop {
            let deadline = self.next_deadline();
            let listen = self.phase == Phase::Suspended && self.held.is_some();
            let jvm = self.jvm_running;
            // The held port's future is made anew each pass, but the port is
            // not: waiting for its next login is cancel-safe.
            let wake = tokio::select! {
                biased;
                _ = &mut shutdown => Wake::Shutdown,
                code = self.ports.minecraft.exited(), if jvm => Wake::Exited(code),
                r = next_wake(self.held.as_mut()), if listen => Wake::Join(r),
                _ = sleep_until(deadline) => Wake::Timer,
            };
            match wake {
                Wake::Shutdown => break,
                Wake::Timer => self.on_timers().await,
                Wake::Exited(code) => {
                    self.jvm_running = false;
                    self.ready = false;
                    self.set_online(Vec::new());
                    self.error(Trouble::Minecraft, format!("Minecraft exited by itself (exit code {code:?})"));
                    self.fire(Event::Crashed).await;
                }
                Wake::Join(Ok(name)) => {
                    info!(player = %name, "login at the sleeping listener");
                    self.players_seen.insert(name);
                    self.fire(Event::PlayerJoined).await;
                }
                Wake::Join(Err(e)) => {
                    self.error(Trouble::Listener, crate::error::render_error(&e));
                    if let Some(h) = self.held.take() {
                        h.close().await;
                    }
                    self.listener_retry_at = Some(Instant::now() + LISTENER_RETRY);
                }
            }
            // A line due, the end, or nobody left to warn (after a crash too).
            self.tick_countdown().await;
        }
        info!("shutting down");
        self.stop_jvm().await;
        self.report().await;
        self.phase
    }

    fn next_deadline(&self) -> Instant {
        [
            self.restart_at,
            self.boot_deadline,
            self.next_backup,
            self.idle_at,
            self.suspend_at,
            self.final_retry_at,
            self.listener_retry_at,
            self.countdown_deadline(),
        ]
        .into_iter()
        .flatten()
        .chain([self.next_poll, self.next_control, self.next_heartbeat])
        .min()
        .expect("the periodic deadlines are always set")
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        if due(self.restart_at, now) {
            self.restart_at = None;
            self.start_jvm().await;
        }
        if now >= self.next_poll {
            self.next_poll = now + std(self.timers.players_poll);
            self.poll_players().await;
        }
        if due(self.boot_deadline, now) {
            self.boot_deadline = None;
            if let Some(b) = &mut self.boot {
                b.deadline_missed = true;
            }
            self.error(
                Trouble::Minecraft,
                format!("Minecraft did not finish loading within {}", self.timers.boot_deadline),
            );
            self.report().await;
        }
        if due(self.idle_at, now) {
            self.idle_at = None;
            self.fire(Event::IdleElapsed).await;
        }
        if due(self.suspend_at, now) {
            self.suspend_at = None;
            self.fire(Event::SuspendElapsed).await;
        }
        if due(self.final_retry_at, now) {
            self.final_retry_at = None;
            if let Some(next) = self.effect(Effect::FinalSnapshot).await {
                self.fire(next).await;
            }
        }
        if due(self.next_backup, now) {
            self.next_backup = Some(now + std(self.timers.backup_every));
            // Not while the players are warned: the stop's snapshot follows.
            if self.countdown.is_none() {
                self.backup().await;
            }
        }
        if due(self.listener_retry_at, now) {
            self.listener_retry_at = None;
            self.hold_port().await;
            self.report().await;
        }
        if now >= self.next_control {
            self.next_control = now + std(self.timers.control_poll);
            self.poll_control().await;
        }
        if Instant::now() >= self.next_heartbeat {
            self.report().await;
        }
    }

    /// Ask the console who is online (once loaded); a first answer means ready.
    async fn poll_players(&mut self) {
        if !self.jvm_running || !self.ports.minecraft.loaded() {
            return;
        }
        let players = match self.ports.console.list_players().await {
            Ok(p) => p,
            Err(e) => {
                // Before ready this is only RCON not listening yet.
                if self.ready {
                    self.error(Trouble::Console, crate::error::render_error(&e));
                }
                return;
            }
        };
        self.recovered(Trouble::Console);
        // Who is on comes first, so no report says "running" with nobody on.
        self.players_seen.extend(players.iter().cloned());
        self.peak_players = self.peak_players.max(u32::try_from(players.len()).unwrap_or(u32::MAX));
        self.set_online(players);
        let first = !self.ready;
        if first {
            self.on_ready().await;
        }
        let before = self.phase;
        if !self.players_online.is_empty() && self.phase == Phase::Idle {
            self.fire(Event::PlayerJoined).await;
        } else if self.players_online.is_empty() && self.phase == Phase::Running {
            self.fire(Event::AllLeft).await;
        }
        if first && self.phase == before {
            self.report().await;
        }
        self.sync_console().await;
    }

    async fn on_ready(&mut self) {
        let now = Instant::now();
        self.ready = true;
        self.crashes = 0;
        self.crashed = false;
        self.boot_deadline = None;
        // A healthy start: whatever the JVM did before is over.
        self.recovered(Trouble::Minecraft);
        if let Some(b) = &mut self.boot {
            b.ready = Some(self.clock.now());
        }
        self.next_backup = Some(now + std(self.timers.backup_every));
        info!(version = ?self.ports.minecraft.version(), "Minecraft is ready");
        if self.phase == Phase::Provisioning {
            self.fire(Event::Ready).await;
            self.nudge().await;
        }
    }

    async fn poll_control(&mut self) {
        match self.ports.control.desired().await {
            Ok(Some(doc)) => {
                self.recovered(Trouble::Control);
                let stop = doc.stop_requested.is_some() && doc.stop_requested != self.stop_seen;
                self.stop_seen = doc.stop_requested;
                self.doc = doc;
                if let Some(h) = &mut self.held {
                    h.set_whitelist(&self.doc.whitelist_entries());
                }
                if let Some(asked) = self.doc.stop_requested.filter(|_| stop) {
                    info!(reason = ?self.doc.stop_reason, "stop requested");
                    self.stop_requested(asked).await;
                } else {
                    self.sync_console().await;
                }
            }
            Ok(None) => self.recovered(Trouble::Control),
            Err(e) => return self.error(Trouble::Control, crate::error::render_error(&e)),
        }
        self.handle_requests().await;
    }

    /// Apply whitelist and ops changes live, when there is a console to apply them to.
    async fn sync_console(&mut self) {
        if !self.ready || !matches!(self.phase, Phase::Running | Phase::Idle) {
            return;
        }
        let todo = changes(&self.applied, &self.doc);
        if todo.is_empty() {
            return;
        }
        info!(changes = ?todo, "applying whitelist and ops changes");
        if let Err(e) = apply_changes(&mut self.ports.console, &mut self.applied, todo).await {
            self.error(Trouble::Console, crate::error::render_error(&e));
        }
    }

    /// Carry out an event: move, run the effects in order, report.
    async fn fire(&mut self, first: Event) {
        let mut queue = VecDeque::from([first]);
        while let Some(event) = queue.pop_front() {
            match transition(self.phase, event) {
                Outcome::Ignored(why) => debug!(phase = %self.phase, ?event, why, "event ignored"),
                Outcome::Moved { to, effects } => {
                    info!(from = %self.phase, %to, ?event, "transition");
                    self.phase = to;
                    if event == Event::AllLeft {
                        self.count_sitting();
                    }
                    for e in effects {
                        if let Some(next) = self.effect(e).await {
                            queue.push_back(next);
                        }
                    }
                    self.hold_port().await;
                    self.report().await;
                    if to == Phase::Suspended {
                        self.nudge().await;
                    }
                }
            }
        }
    }

    async fn nudge(&mut self) {
        match self.ports.nudge.nudge().await {
            Ok(_) => self.recovered(Trouble::Nudge),
            Err(e) => self.error(Trouble::Nudge, crate::error::render_error(&e)),
        }
    }
}
