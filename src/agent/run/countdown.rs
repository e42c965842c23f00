//! The warnings before a stop ([`crate::countdown`]), on the agent's side:
//! a stop asked while players are online is announced over the console
//! (`say`, the same one-at-a-time RCON connection as every other command),
//! and Minecraft is stopped when the countdown ends, or as soon as nobody
//! is left to hear it. With nobody online the stop goes ahead at once, as
//! it always did.
//!
//! The countdown is anchored to the request's time in desired.json, so an
//! agent restarted mid-countdown goes on where it is; a line that cannot be
//! said (the console failing) is reported and the countdown goes on: a
//! stop is never held up by its warnings.

use tokio::time::Instant;
use tracing::info;

use super::{Agent, Trouble};
use crate::agent::traits::{Console, Control, Listener, Minecraft, Nudge, Provision, Snapshots};
use crate::countdown::Countdown;
use crate::lifecycle::{Event, Phase};
use chrono::{DateTime, Utc};

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
    /// A stop asked at `asked`: count down first when someone is on to
    /// hear it and desired.json carries warnings; else stop now.
    pub(super) async fn stop_requested(&mut self, asked: DateTime<Utc>) {
        if self.countdown.is_some() {
            return;
        }
        let someone = self.phase == Phase::Running && self.ready && !self.players_online.is_empty();
        let countdown = someone
            .then(|| Countdown::begin(&self.doc.stop_warnings, self.doc.stop_reason, asked, self.clock.now()))
            .flatten();
        let Some(c) = countdown else {
            return self.fire(Event::StopRequested).await;
        };
        info!(
            ends = %c.ends(),
            players = self.players_online.len(),
            warnings = %self.doc.stop_warnings,
            "stop requested: warning the players online first"
        );
        self.countdown = Some(c);
        self.tick_countdown().await;
        self.report().await;
    }

    /// When the countdown next needs the loop: a line, or its end.
    pub(super) fn countdown_deadline(&self) -> Option<Instant> {
        let at = self.countdown.as_ref()?.next_at();
        Some(Instant::now() + (at - self.clock.now()).to_std().unwrap_or_default())
    }

    /// Say the line that is due; stop when the countdown is over or nobody
    /// is left to warn (everyone left, or Minecraft went down).
    pub(super) async fn tick_countdown(&mut self) {
        let now = self.clock.now();
        let Some(c) = self.countdown.as_mut() else { return };
        let nobody = !self.jvm_running || self.players_online.is_empty();
        if c.over(now) || nobody {
            info!(over = c.over(now), nobody, "countdown done: stopping");
            self.countdown = None;
            return self.fire(Event::StopRequested).await;
        }
        let Some(line) = c.due(now) else { return };
        match self.ports.console.say(&line).await {
            Ok(()) => {
                info!(%line, "warned the players online");
                self.recovered(Trouble::Console);
            }
            Err(e) => self.error(Trouble::Console, crate::error::render_error(&e)),
        }
    }

    /// When the stop comes, while the players are warned (the status says it).
    pub(super) fn stopping_at(&self) -> Option<DateTime<Utc>> {
        self.countdown.as_ref().map(Countdown::ends)
    }
}
