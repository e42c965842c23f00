//! Retention, run by the reconciler: the DESIGN's trust boundary says the
//! VPS can never destroy older backups, so the agent only adds snapshots
//! and this step deletes the old ones, by `lifecycle.keep_backups`, through
//! the same rule as `world prune` ([`crate::world::retention::to_prune`]).
//!
//! Never listed: the backup `current.json` points at, pinned ones, and any
//! a restore names (server.toml's `restore`, the open session's
//! `restored_from`). Without a `current.json` nothing is pruned: the world
//! pointer is lost and the admin has to name the backup to go on from.
//!
//! Sealing: every complete backup not in the vault yet (and not about to be
//! pruned) is copied there (`crate::world::vault`), out of the VPS's reach.

use serde_json::{Value, json};

use super::Builder;
use crate::plan::{Op, PruneBackups, SealBackups, Step};
use crate::world::BackupName;
use crate::world::retention;

impl Builder<'_> {
    pub(super) fn prune_backups(&mut self) {
        let (d, o) = (self.d, self.o);
        let Some(backups) = &o.backups else { return };
        let Some(current) = &backups.current else { return };
        let keep = d.server.lifecycle.keep_backups;
        let protected = self.named_by_a_restore();
        let names: Vec<BackupName> = retention::to_prune(&backups.all, keep as usize, Some(current))
            .into_iter()
            .filter(|n| !protected.contains(n))
            .collect();
        if names.is_empty() {
            return;
        }
        let complete = backups.all.iter().filter(|b| b.complete()).count();
        self.change(
            Op::Delete,
            "world backups",
            Step::PruneBackups(PruneBackups {
                keep,
                backups: names.clone(),
            }),
            json!(names),
            Value::Null,
            format!(
                "prune {} old snapshot(s): {complete} complete backups, lifecycle.keep_backups = {keep}; the current ({current}), pinned and restore-named ones stay",
                names.len()
            ),
        );
    }

    pub(super) fn seal_backups(&mut self) {
        let Some(backups) = &self.o.backups else { return };
        let pruned: Vec<BackupName> = self
            .changes
            .iter()
            .filter_map(|c| match &c.step {
                Step::PruneBackups(PruneBackups { backups, .. }) => Some(backups.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        let names: Vec<BackupName> = backups
            .all
            .iter()
            .filter(|b| b.to_seal() && !pruned.contains(&b.name))
            .map(|b| b.name.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        self.change(
            Op::Create,
            "world backups in the vault",
            Step::SealBackups(SealBackups { backups: names.clone() }),
            Value::Null,
            json!(names),
            format!(
                "copy {} verified backup(s) to vault/{}/backups/, where the VPS's credentials cannot delete or overwrite them",
                names.len(),
                self.d.server.name
            ),
        );
    }

    fn named_by_a_restore(&self) -> Vec<BackupName> {
        let (d, o) = (self.d, self.o);
        let named = [
            d.server.restore.as_deref(),
            o.session.as_ref().and_then(|s| s.restored_from.as_deref()),
            self.restoring.as_ref().map(|(_, b)| b.as_str()),
        ];
        named.into_iter().flatten().filter_map(|n| BackupName::parse(n).ok()).collect()
    }
}
