//! Stand-ins for the two ports whose real implementations are built beside
//! this module (world snapshots in `src/world/`, the sleeping listener in
//! `src/agent/sleeping.rs`) and wired in when both land. They fail safe and
//! say so in the status: no snapshot means the termination guard never opens
//! (the VPS is kept, never deleted with an unsaved world), and an existing
//! world in storage refuses to boot rather than start a fresh one over it.

use super::traits::{Listener, PortError, PortResult, SnapshotReason, SnapshotRef, Snapshots};
use crate::ids::PlayerName;
use crate::storage::Store;

pub struct NoSnapshots {
    pub store: Store,
}

impl Snapshots for NoSnapshots {
    async fn snapshot(&mut self, reason: SnapshotReason) -> PortResult<SnapshotRef> {
        Err(PortError::Snapshot {
            reason: reason.to_string(),
            message: "world snapshots are not part of this build".into(),
        })
    }

    async fn restore(&mut self) -> PortResult<Option<SnapshotRef>> {
        match self.store.current_snapshot().await {
            Ok(None) => Ok(None),
            Ok(Some(p)) => Err(PortError::Provision {
                what: "the world".into(),
                message: format!("{} exists but this build cannot restore snapshots", p.key),
            }),
            Err(e) => Err(PortError::Provision {
                what: "the world".into(),
                message: super::control::chain(&e),
            }),
        }
    }
}

pub struct NoListener;

impl Listener for NoListener {
    async fn wait_for_wake(&mut self, _whitelist: &[PlayerName]) -> PortResult<PlayerName> {
        Err(PortError::Listener("the sleeping listener is not part of this build".into()))
    }
}
