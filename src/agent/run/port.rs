//! The game port while Minecraft is stopped: bound once when it stops
//! (suspended: sleeping, terminating: stopping), kept across every pass of
//! the loop, and closed (waiting until the socket is gone) right before
//! Minecraft starts on it. Binding it anew on each pass raced the old
//! socket's close and lost the port (issue 11).

use tokio::time::Instant;

use super::{Agent, LISTENER_RETRY, Trouble};
use crate::agent::traits::{Console, Control, HeldPort, Listener, Minecraft, Nudge, PortError, PortMode, Provision, Snapshots};
use crate::ids::PlayerName;
use crate::lifecycle::Phase;

/// The next login at the held port; never, when none is held.
pub(super) async fn next_wake<H: HeldPort>(held: Option<&mut H>) -> Result<PlayerName, PortError> {
    match held {
        Some(h) => h.next_wake().await,
        None => std::future::pending().await,
    }
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
    /// Hold the game port while Minecraft is stopped (suspended: sleeping,
    /// terminating: stopping), bound once and kept; nothing to do otherwise
    /// (the port is released only right before Minecraft starts).
    pub(super) async fn hold_port(&mut self) {
        let mode = match self.phase {
            Phase::Suspended => PortMode::Sleeping,
            Phase::Terminating => PortMode::Stopping,
            _ => return,
        };
        if self.jvm_running {
            return;
        }
        match &mut self.held {
            Some(h) => {
                if mode == PortMode::Stopping {
                    h.stopping();
                }
            }
            None => match self.ports.listener.open(&self.doc.whitelist_entries(), mode).await {
                Ok(h) => {
                    self.held = Some(h);
                    self.listener_retry_at = None;
                    self.recovered(Trouble::Listener);
                }
                Err(e) => {
                    self.error(Trouble::Listener, crate::error::render_error(&e));
                    self.listener_retry_at = Some(Instant::now() + LISTENER_RETRY);
                }
            },
        }
    }

    /// Give the game port back (and wait until it is closed) before
    /// Minecraft binds it.
    pub(super) async fn release_port(&mut self) {
        self.listener_retry_at = None;
        if let Some(h) = self.held.take() {
            h.close().await;
        }
    }
}
