//! The real ports behind the agent's traits that live in other modules:
//! world snapshots (`crate::world`) and the sleeping listener
//! (`super::sleeping`). Thin adapters: the behaviour and its tests are in
//! those modules; the loop's tests use in-memory ports.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::Utc;

use super::sleeping::{Sleeping, SleepingConfig};
use super::traits::{HeldPort, Listener, PortError, PortMode, PortResult, SnapshotReason, SnapshotRef, Snapshots};
use crate::ids::PlayerName;
use crate::minecraft::session_server::SessionServer;
use crate::storage::{Store, WhitelistEntry};
use crate::world::{self, BackupName, Manifest};

/// Snapshots of `<minecraft_dir>/world` in the server's store.
pub(crate) struct WorldSnapshots {
    pub store: Store,
    pub world_dir: PathBuf,
    /// The session this VPS serves (agent.toml's), written into every
    /// manifest: the termination guard accepts only its own session's final
    /// snapshot. `None` (a config written before sessions were carried):
    /// the session `desired.json` names at the time of the snapshot.
    pub session: Option<crate::ids::SessionId>,
}

impl WorldSnapshots {
    async fn origin(&self, reason: SnapshotReason) -> world::Origin {
        let session = match &self.session {
            Some(s) => Some(s.clone()),
            None => self.store.control().await.ok().flatten().and_then(|d| d.session),
        };
        let kind = match reason {
            SnapshotReason::Backup => world::SnapshotKind::Backup,
            SnapshotReason::Suspend => world::SnapshotKind::Suspend,
            SnapshotReason::Final => world::SnapshotKind::Final,
            SnapshotReason::Manual => world::SnapshotKind::Manual,
        };
        world::Origin { session, kind }
    }
}

fn as_ref(m: &Manifest) -> SnapshotRef {
    SnapshotRef {
        key: m.key.clone(),
        sha256: m.sha256.clone(),
        size: m.size,
        taken: m.taken,
        world_bytes: m.world_bytes,
    }
}

impl Snapshots for WorldSnapshots {
    async fn snapshot(&mut self, reason: SnapshotReason) -> PortResult<SnapshotRef> {
        // `taken` is now: the loop calls this right after `save-all flush`
        // (or after Minecraft stopped), so the world on disk is that moment's.
        let origin = self.origin(reason).await;
        let m = world::snapshot::snapshot_as(&self.store, &self.world_dir, Utc::now(), &origin, &|_| true)
            .await
            .map_err(|e| PortError::Snapshot {
                reason: reason.to_string(),
                source: Box::new(e),
            })?;
        Ok(as_ref(&m))
    }

    async fn restore(&mut self) -> PortResult<Option<SnapshotRef>> {
        // A world already on this disk is this session's: the agent was
        // restarted (a crash, an upgrade) after provisioning. It is newer than
        // any snapshot taken from it, so restoring would throw away the play
        // since the last backup. Restores land beside the world and are
        // swapped in whole, so a world directory is never a partial restore.
        if tokio::fs::try_exists(&self.world_dir).await.unwrap_or(false) {
            tracing::info!(dir = %self.world_dir.display(), "keeping the world already on disk (agent restarted)");
            return Ok(None);
        }
        let named = named_restore(self.store.control().await.map_err(world_failed)?);
        let manifest = match named {
            Some(name) => world::resolve(&self.store, &name).await.map_err(world_failed)?,
            None => {
                let Some(p) = self.store.current_snapshot().await.map_err(world_failed)? else {
                    return no_current(&self.store).await.map(|()| None);
                };
                let name = BackupName::from_key(&p.key).ok_or_else(|| PortError::Provision {
                    what: "the world".into(),
                    message: format!("current.json points at {}, which is not a backup", p.key),
                })?;
                world::manifest(&self.store, &name)
                    .await
                    .map_err(world_failed)?
                    .ok_or_else(|| PortError::Provision {
                        what: "the world".into(),
                        message: format!("the manifest of {} is missing", p.key),
                    })?
            }
        };
        world::restore::restore(&self.store, &manifest, &self.world_dir, &|_| true)
            .await
            .map_err(world_failed)?;
        Ok(Some(as_ref(&manifest)))
    }
}

/// Restoring the world failed on `e` (storage or the world's own checks).
fn world_failed(e: impl std::error::Error + Send + Sync + 'static) -> PortError {
    PortError::ProvisionFailed {
        what: "the world".into(),
        source: Box::new(e),
    }
}

/// With no `current.json`: a new world only if there are no backups either.
/// Backups without a pointer (a deleted or lost `current.json`) are the
/// group's world; starting a fresh one over them would hide it, so the agent
/// refuses, names the newest, and waits for server.toml to name one.
async fn no_current(store: &Store) -> PortResult<()> {
    let backups = world::retention::list(store).await.map_err(world_failed)?;
    let Some(newest) = backups.iter().rev().find(|b| b.complete()) else {
        return Ok(()); // a new world
    };
    Err(PortError::Waiting(format!(
        "{}current.json is missing but {} backup(s) exist (the newest is {}); not starting a new world over them: \
             set restore = \"{}\" in server.toml (or name another backup) and the next start restores it",
        store.world_prefix(),
        backups.iter().filter(|b| b.complete()).count(),
        newest.name,
        newest.name
    )))
}

/// The backup `desired.json` names for this start, if any: server.toml's
/// `restore` wins over the newest snapshot, but only in a document written
/// for a session. The reconciler writes `restore` together with the new
/// session and clears both when the session closes, so a document left from
/// an earlier session (a run that crashed before writing the new one) never
/// carries that session's restore into this one.
fn named_restore(doc: Option<crate::storage::ControlDoc>) -> Option<String> {
    doc.filter(|d| d.session.is_some()).and_then(|d| d.restore)
}

/// The sleeping listener on the game port, bound while Minecraft is stopped.
pub(crate) struct GamePortListener {
    pub addr: SocketAddr,
    pub motd: String,
    pub max_players: u32,
    /// Where the listener checks a login before it wakes the server.
    pub session_server: SessionServer,
}

impl Listener for GamePortListener {
    type Held = Sleeping;
    async fn open(&mut self, whitelist: &[WhitelistEntry], mode: PortMode) -> PortResult<Sleeping> {
        let config = SleepingConfig {
            motd: self.motd.clone(),
            max_players: self.max_players,
            whitelist: whitelist.to_vec(),
            version_name: "1.20.1".into(),
            protocol: 763,
            session_server: self.session_server.clone(),
        };
        let sleeping = Sleeping::bind(self.addr, config)
            .await
            .map_err(|source| PortError::Bind { addr: self.addr, source })?;
        if mode == PortMode::Stopping {
            sleeping.set_stopping();
        }
        tracing::info!(addr = %sleeping.local_addr(), ?mode, "holding the game port");
        Ok(sleeping)
    }
}

impl HeldPort for Sleeping {
    async fn next_wake(&mut self) -> PortResult<PlayerName> {
        match self.next_event().await {
            Some(woken) => Ok(woken.0),
            None => Err(PortError::Listener("the listener stopped".into())),
        }
    }
    fn set_whitelist(&mut self, whitelist: &[WhitelistEntry]) {
        Sleeping::set_whitelist(self, whitelist.to_vec());
    }
    fn stopping(&mut self) {
        self.set_stopping();
    }
    async fn close(self) {
        let addr = self.local_addr();
        Sleeping::close(self).await;
        tracing::info!(%addr, "released the game port");
    }
}

#[cfg(test)]
mod tests {
    use super::{WorldSnapshots, named_restore};
    use crate::agent::traits::{SnapshotReason, Snapshots};
    use crate::ids::{ServerName, SessionId};
    use crate::storage::{ControlDoc, Store};

    #[tokio::test]
    async fn an_agent_restart_keeps_the_world_on_disk_and_a_fresh_disk_gets_the_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::local(&tmp.path().join("storage"), &ServerName::new("grove")).unwrap();
        let world_dir = tmp.path().join("minecraft/world");
        std::fs::create_dir_all(world_dir.join("region")).unwrap();
        std::fs::write(world_dir.join("level.dat"), b"backed up").unwrap();
        let mut w = WorldSnapshots {
            store: store.clone(),
            world_dir: world_dir.clone(),
            session: Some(SessionId::new("20261122-1800-eu")),
        };
        w.snapshot(SnapshotReason::Backup).await.unwrap();
        let name = crate::world::BackupName::from_key(&store.current_snapshot().await.unwrap().unwrap().key).unwrap();
        let m = crate::world::manifest(&store, &name).await.unwrap().unwrap();
        assert_eq!(
            (m.session.as_ref().map(SessionId::as_str), m.kind),
            (Some("20261122-1800-eu"), Some(crate::world::SnapshotKind::Backup)),
            "the manifest names the agent's session and why it was taken"
        );
        std::fs::write(world_dir.join("level.dat"), b"played since").unwrap();

        assert!(w.restore().await.unwrap().is_none(), "nothing restored over a live world");
        assert_eq!(std::fs::read(world_dir.join("level.dat")).unwrap(), b"played since");

        std::fs::remove_dir_all(&world_dir).unwrap();
        let restored = w.restore().await.unwrap().expect("a fresh disk gets the newest snapshot");
        assert!(restored.key.starts_with("worlds/grove/"), "{}", restored.key);
        assert_eq!(std::fs::read(world_dir.join("level.dat")).unwrap(), b"backed up");
    }

    #[test]
    fn a_restore_is_honoured_only_in_a_document_written_for_a_session() {
        let mut doc = ControlDoc {
            restore: Some("2026-11-01T18-00-00Z".into()),
            ..ControlDoc::default()
        };
        assert_eq!(named_restore(Some(doc.clone())), None, "a closed session's leftover");
        doc.session = Some(SessionId::new("20261122-1930-eu"));
        assert_eq!(named_restore(Some(doc)).as_deref(), Some("2026-11-01T18-00-00Z"));
        assert_eq!(named_restore(None), None);
    }
}
