//! server.toml's `restore = "<backup>"`, used once. The session that starts
//! from the backup records it (`restored_from` in its session file); from
//! then on the backup counts as restored: a later start takes the newest
//! snapshot, and the line is removed from server.toml so the repo says what
//! the next start will do. Without this, every start would go back to the
//! old backup and silently drop all play since.

use serde_json::{Value, json};

use super::Builder;
use crate::ids::SessionId;
use crate::plan::{ClearRestore, Level, Op, Step};

impl Builder<'_> {
    /// The backup a start now restores: server.toml's `restore`, unless a
    /// session already used it.
    pub(super) fn restore_for_start(&mut self) -> Option<String> {
        let backup = self.d.server.restore.clone()?;
        match self.o.restores_done.get(&backup) {
            Some(used_by) => {
                self.notice(
                    Level::Info,
                    format!(
                        "server.toml `restore = \"{backup}\"` was already restored by session {used_by}: this start uses the newest snapshot"
                    ),
                );
                None
            }
            None => {
                self.notice(
                    Level::Info,
                    format!("the world is restored from backup {backup} (server.toml `restore`, used once)"),
                );
                Some(backup)
            }
        }
    }

    /// Remove a used `restore` line: right after the start that uses it
    /// (`starting` names that session), or whenever the ledger shows a
    /// session already did (an earlier commit-back did not get through).
    pub(super) fn clear_used_restore(&mut self, starting: Option<&SessionId>) {
        let Some(backup) = self.d.server.restore.clone() else { return };
        let used_by = match (self.o.restores_done.get(&backup), starting) {
            (Some(earlier), _) => earlier.clone(),
            (None, Some(session)) => session.clone(),
            (None, None) => return,
        };
        self.change(
            Op::Update,
            "server.toml restore",
            Step::ClearRestore(ClearRestore {
                backup: backup.clone(),
                used_by: used_by.clone(),
            }),
            json!(backup),
            Value::Null,
            format!("session {used_by} started from backup {backup}; a restore is used once, later starts take the newest snapshot"),
        );
    }
}
