//! Who is online and how often they sat down today: the presence records
//! opened and closed from each `list`, and the day's sittings count the
//! shutdown policy reads.

use super::Agent;
use crate::agent::traits::{Console, Control, Listener, Minecraft, Nudge, Provision, Snapshots};
use crate::ids::PlayerName;

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
    /// Who is online now: a player new to the list opens a presence record,
    /// one gone from it closes theirs.
    pub(super) fn set_online(&mut self, now: Vec<PlayerName>) {
        let at = self.clock.now();
        for p in &now {
            if !self.players_online.contains(p) {
                let open = crate::storage::Presence {
                    player: p.clone(),
                    join: at,
                    leave: None,
                };
                crate::storage::merge_presence(&mut self.presence, &[open]);
            }
        }
        for p in &self.players_online {
            if !now.contains(p)
                && let Some(r) = self.presence.iter_mut().rev().find(|r| &r.player == p && r.leave.is_none())
            {
                r.leave = Some(at);
            }
        }
        self.players_online = now;
    }

    /// A sitting ended now: count it for the day.
    pub(super) fn count_sitting(&mut self) {
        let day = self.clock.now().date_naive();
        self.sittings = match self.sittings {
            (Some(d), n) if d == day => (Some(d), n + 1),
            _ => (Some(day), 1),
        };
    }

    /// Sittings that ended today, earlier sessions' (as the reconciler counted them) included.
    pub(super) fn sittings_today(&self) -> u32 {
        let day = self.clock.now().date_naive();
        let mine = if self.sittings.0 == Some(day) { self.sittings.1 } else { 0 };
        let before = self.doc.shutdown.as_ref().map_or(0, |p| p.sittings_before_on(day));
        before + mine
    }
}
