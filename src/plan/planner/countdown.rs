//! The countdown before a stop, as the plan sees it: while the agent warns
//! the players online in game, the stop waits (a wait, like the final
//! snapshot's), and the overdue alert counts from the countdown's end, so a
//! countdown is never reported as a stop that is late.
//!
//! The times come from desired.json, which only the reconciler writes: the
//! request's time plus its longest warning. The agent's own report says
//! only whether anyone is online to hear it (with nobody on, it stops at
//! once and the plan shows no wait).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Builder;
use crate::countdown;
use crate::lifecycle::Phase;
use crate::plan::{AwaitCountdown, EndReason, Op, Step};
use crate::repo::duration::Duration;

impl Builder<'_> {
    /// When the stop's countdown ends and Minecraft is stopped: the
    /// request's time plus its longest warning, as desired.json carries
    /// them, or, for the request this plan makes, now plus server.toml's.
    /// `None` for a stop without a countdown.
    pub(super) fn countdown_ends(&self, reason: EndReason) -> Option<DateTime<Utc>> {
        let o = self.o;
        let asked = o
            .control
            .as_ref()
            .and_then(|c| c.stop_requested.map(|at| (at, c.stop_warnings.clone())));
        let (at, warnings) = match asked {
            Some(asked) => asked,
            None if o.phase() != Phase::Terminating && countdown::warns(reason) => (o.now, self.d.server.lifecycle.stop_warnings.clone()),
            None => return None,
        };
        (!warnings.is_empty()).then(|| at + warnings.longest())
    }

    /// The wait while players are warned, when the agent reports players
    /// online and the countdown has not ended.
    pub(super) fn await_countdown(&mut self, reason: EndReason, ends: Option<DateTime<Utc>>) {
        let o = self.o;
        let Some(ends) = ends.filter(|e| *e > o.now) else { return };
        let (Some(server), Some(agent)) = (o.server.as_ref(), o.report_of_session()) else {
            return;
        };
        if agent.phase != Phase::Running || agent.players_online.is_empty() {
            return;
        }
        let left = Duration::from_secs(u64::try_from((ends - o.now).num_seconds()).unwrap_or(0));
        self.change(
            Op::Wait,
            "warning players",
            Step::AwaitCountdown(AwaitCountdown {
                session: server.session.clone(),
                reason,
                ends,
            }),
            json!(format!("{} player(s) online", agent.players_online.len())),
            json!(format!(
                "stop in {left} ({reason}), at {}",
                ends.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
            "players online hear the countdown in game (`say`); Minecraft stops when it ends",
        );
    }
}
