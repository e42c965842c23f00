//! Provisioning, before Minecraft's first start: read `desired.json` until it
//! is this session's own (never the previous session's: its restore, assets
//! and lists are not this one's), then provision from it, retrying a failure
//! and reporting what the agent waits for meanwhile.

use std::future::Future;

use super::{Agent, Applied, RETRY, Trouble, WAITING, std};
use crate::agent::traits::{Console, Control, Listener, Minecraft, Nudge, PortError, Provision, Snapshots};
use crate::storage::ControlDoc;

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
    /// Read `desired.json` and provision until it works (or shutdown). A
    /// document for another session (the previous one's, when the
    /// reconciler's write after the create did not happen) is not
    /// provisioned from: its restore, assets and lists are not this
    /// session's. The agent waits, reporting what for, until the reconciler
    /// hands it its own.
    pub(super) async fn provision(&mut self, shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>) -> bool {
        loop {
            let attempt = match self.ports.control.desired().await {
                Ok(doc) => {
                    let doc = doc.unwrap_or_default();
                    self.waiting = self.not_mine(&doc);
                    match self.waiting.clone() {
                        Some(waiting) => Err((Trouble::Provision, waiting)),
                        None => {
                            self.doc = doc;
                            match self.ports.provision.provision(&self.doc).await {
                                // Waiting for a decision: said as such, asked again soon.
                                Err(PortError::Waiting(why)) => {
                                    self.waiting = Some(why.clone());
                                    Err((Trouble::Provision, why))
                                }
                                r => r.map_err(|e| (Trouble::Provision, crate::error::render_error(&e))),
                            }
                        }
                    }
                }
                Err(e) => Err((Trouble::Control, crate::error::render_error(&e))),
            };
            match attempt {
                Ok(()) => {
                    self.waiting = None;
                    self.applied = Applied::from_doc(&self.doc);
                    self.recovered(Trouble::Control);
                    self.recovered(Trouble::Provision);
                    return true;
                }
                Err((trouble, e)) => self.error(trouble, e),
            }
            self.report().await;
            // Waiting is reading desired.json again, at its usual interval
            // (the status is the heartbeat meanwhile); a failure is retried later.
            let pause = if self.waiting.is_some() {
                std(self.timers.control_poll)
            } else {
                RETRY
            };
            tokio::select! {
                _ = shutdown.as_mut() => return false,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Why `doc` is not this session's document; `None` when it is (or the
    /// agent does not know its session).
    fn not_mine(&self, doc: &ControlDoc) -> Option<String> {
        let mine = self.session.as_ref()?;
        if doc.session.as_ref() == Some(mine) {
            return None;
        }
        let names = doc.session.as_ref().map_or("none".to_string(), |s| s.to_string());
        Some(format!("{WAITING} for session {mine} (it names {names})"))
    }
}
