//! Two witnesses of a running session: the agent's status (its heartbeat)
//! and the reconciler's own ping of the game. When they disagree the plan
//! says how, in one line: an agent that went silent while Minecraft still
//! answers players is not a server that is gone, and an agent that reports
//! Minecraft up while nobody can reach it points at the network. Neither
//! witness alone ever leads to a delete: that still waits for a verified
//! snapshot (the stop's guard).

use super::{Builder, HEARTBEAT_STALE_SECS, ago};
use crate::lifecycle::Phase;
use crate::observe::game::GameAnswer;
use crate::plan::Level;

impl Builder<'_> {
    pub(super) fn witness_notices(&mut self) {
        let o = self.o;
        let game = o.game.as_ref();
        // With no server, a kept report only says how the session ended.
        let Some(a) = o.agent.as_ref().filter(|_| o.server.is_some()) else {
            if let Some(g) = game {
                self.notice(Level::Info, g.describe());
            }
            return;
        };
        let stale = (o.now - a.heartbeat).num_seconds() > HEARTBEAT_STALE_SECS;
        let silent = format!("the agent's last heartbeat is {} old", ago(o.now, a.heartbeat));
        let guard = "nothing is deleted without a verified snapshot";
        match (stale, game.map(|g| (&g.answer, g))) {
            (true, None) => self.notice(Level::Warning, format!("{silent}: it may be down; {guard}")),
            (true, Some((GameAnswer::Online { players, .. }, g))) => self.notice(
                Level::Warning,
                format!(
                    "agent silent, Minecraft answering {players} player(s): {silent}, yet the game at {} answers; {guard}",
                    g.address
                ),
            ),
            (true, Some((GameAnswer::NoAnswer { .. }, g))) => self.notice(
                Level::Warning,
                format!("{silent} and {}: the server may be down; {guard}", g.describe()),
            ),
            (false, Some((GameAnswer::NoAnswer { .. }, g))) if matches!(o.phase(), Phase::Running | Phase::Idle) => self.notice(
                Level::Warning,
                format!(
                    "the agent reports Minecraft {}, but {} (a firewall, or the network?)",
                    a.phase,
                    g.describe().replacen("Minecraft does", "it does", 1)
                ),
            ),
            (false, Some((_, g))) => self.notice(Level::Info, g.describe()),
            (false, None) => {}
        }
    }
}
