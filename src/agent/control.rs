//! The agent's end of the control channel: read `control/<s>/desired.json`,
//! write `control/<s>/status.json`, hand the loop the admin's requests
//! (`control/<s>/requests/`, [`super::requests`]), and turn a change of whitelist or ops
//! into the console commands that apply it live.
//!
//! The diff is pure: it compares what the running server was last given (the
//! files provisioned at boot, then every change applied since) with what the
//! reconciler wants now, so a change is sent once and a failed command is
//! simply computed again at the next poll.

use std::collections::{BTreeMap, BTreeSet};

use super::renew::Renewer;
use super::traits::{Console, Control, Incoming, PortError, PortResult};
use crate::ids::PlayerName;
use crate::storage::requests::{RequestId, ResultDoc};
use crate::storage::{AgentStatusDoc, ControlDoc, ControlOp, Store};

/// What the running server has been given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub whitelist: BTreeSet<PlayerName>,
    pub ops: BTreeMap<PlayerName, u8>,
}

impl Applied {
    /// What a server provisioned from `doc` was given: its whitelist and ops
    /// only when the document lists the file that carries them
    /// (`whitelist.json`, `ops.json`). A server that booted without one has
    /// not been given that list, so every name in it is sent over RCON once
    /// the server is ready, rather than taken as already there.
    pub fn from_doc(doc: &ControlDoc) -> Self {
        let listed = |file: &str| doc.assets.contains_key(file);
        Applied {
            whitelist: if listed(WHITELIST_FILE) {
                doc.whitelist.iter().cloned().collect()
            } else {
                BTreeSet::new()
            },
            ops: if listed(OPS_FILE) {
                doc.ops.iter().map(|o| (o.name.clone(), o.level)).collect()
            } else {
                BTreeMap::new()
            },
        }
    }
}

/// The files that give a booting server its whitelist and its operators.
pub const WHITELIST_FILE: &str = "whitelist.json";
pub const OPS_FILE: &str = "ops.json";

/// One console command that moves the server toward `desired.json`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    WhitelistAdd(PlayerName),
    /// Removals of operators come before removals from the whitelist, so a
    /// player leaving both is never an operator who is not whitelisted.
    Deop(PlayerName),
    WhitelistRemove(PlayerName),
    /// New operators, and level changes (applied as the new level).
    Op(PlayerName, u8),
}

/// The commands that take `applied` to `want`, in the order to send them:
/// additions to the whitelist first, so a new operator is already allowed in.
pub fn changes(applied: &Applied, want: &ControlDoc) -> Vec<Change> {
    let want_wl: BTreeSet<&PlayerName> = want.whitelist.iter().collect();
    let want_ops: BTreeMap<&PlayerName, u8> = want.ops.iter().map(|o: &ControlOp| (&o.name, o.level)).collect();
    let mut out = Vec::new();
    out.extend(
        want_wl
            .iter()
            .filter(|p| !applied.whitelist.contains(**p))
            .map(|p| Change::WhitelistAdd((*p).clone())),
    );
    out.extend(
        applied
            .ops
            .keys()
            .filter(|p| !want_ops.contains_key(p))
            .map(|p| Change::Deop(p.clone())),
    );
    out.extend(
        applied
            .whitelist
            .iter()
            .filter(|p| !want_wl.contains(p))
            .map(|p| Change::WhitelistRemove(p.clone())),
    );
    out.extend(
        want_ops
            .iter()
            .filter(|(p, level)| applied.ops.get(**p) != Some(level))
            .map(|(p, level)| Change::Op((*p).clone(), *level)),
    );
    out
}

/// Send the changes through the console, recording each one that succeeded.
/// Stops at the first failure; the rest is recomputed next time.
pub async fn apply_changes(console: &mut impl Console, applied: &mut Applied, changes: Vec<Change>) -> PortResult<usize> {
    let mut done = 0;
    for change in changes {
        match &change {
            Change::WhitelistAdd(p) => {
                console.whitelist_add(p).await?;
                applied.whitelist.insert(p.clone());
            }
            Change::WhitelistRemove(p) => {
                console.whitelist_remove(p).await?;
                applied.whitelist.remove(p);
            }
            Change::Op(p, level) => {
                console.op(p, *level).await?;
                applied.ops.insert(p.clone(), *level);
            }
            Change::Deop(p) => {
                console.deop(p).await?;
                applied.ops.remove(p);
            }
        }
        done += 1;
    }
    Ok(done)
}

/// The control channel in the object store. Each poll first renews the
/// storage credentials when they are due ([`Renewer`]), so the read that
/// follows already uses the new ones; the status carries their expiry.
pub struct StoreControl {
    pub store: Store,
    /// `None` for a local directory or keys that do not expire.
    pub renewer: Option<Renewer>,
    /// Requests started and answered, on the VPS's own disk ([`super::requests`]).
    pub record: super::requests::Record,
}

impl Control for StoreControl {
    async fn desired(&mut self) -> PortResult<Option<ControlDoc>> {
        if let Some(r) = self.renewer.as_mut() {
            r.poll(chrono::Utc::now()).await;
        }
        self.store.control().await.map_err(PortError::Control)
    }

    async fn report(&mut self, status: &AgentStatusDoc) -> PortResult<()> {
        let key = self.store.status_key();
        let mut status = status.clone();
        status.credentials = self.renewer.as_ref().and_then(Renewer::report);
        self.store.put_json(&key, &status).await.map_err(PortError::Control)
    }

    async fn previous(&mut self) -> PortResult<Option<AgentStatusDoc>> {
        self.store.get_json(&self.store.status_key()).await.map_err(PortError::Control)
    }

    async fn requests(&mut self, limit: usize) -> PortResult<Vec<Incoming>> {
        super::requests::incoming(&self.store, &self.record, limit).await
    }

    async fn starting(&mut self, id: &RequestId) -> PortResult<()> {
        self.record.start(id)
    }

    async fn answer(&mut self, result: &ResultDoc) -> PortResult<()> {
        super::requests::answer(&self.store, &self.record, result).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PlayerName {
        PlayerName::new(s)
    }

    fn doc(wl: &[&str], ops: &[(&str, u8)]) -> ControlDoc {
        let file = |h: &str| crate::storage::AssetRef {
            hash: format!("sha256:{h}"),
            url: None,
            size: None,
            cache: false,
        };
        ControlDoc {
            whitelist: wl.iter().map(|s| p(s)).collect(),
            ops: ops.iter().map(|(n, l)| ControlOp { name: p(n), level: *l }).collect(),
            assets: [(WHITELIST_FILE.into(), file("aa")), (OPS_FILE.into(), file("bb"))].into(),
            ..ControlDoc::default()
        }
    }

    /// Regression (`tests/day.rs`, Steve "not white-listed"): a server
    /// provisioned from a document listing no whitelist.json or ops.json
    /// booted without them; its lists are sent over RCON, not taken as given.
    #[test]
    fn lists_whose_file_was_not_provisioned_are_sent_over_rcon() {
        let mut d = doc(&["Alex", "Steve"], &[("Steve", 4)]);
        d.assets.clear();
        assert_eq!(
            changes(&Applied::from_doc(&d), &d),
            vec![
                Change::WhitelistAdd(p("Alex")),
                Change::WhitelistAdd(p("Steve")),
                Change::Op(p("Steve"), 4)
            ]
        );
        d.assets = doc(&[], &[]).assets;
        d.assets.remove(OPS_FILE);
        assert_eq!(changes(&Applied::from_doc(&d), &d), vec![Change::Op(p("Steve"), 4)]);
    }

    #[test]
    fn nothing_to_do_when_the_server_has_what_is_wanted() {
        let d = doc(&["Alex", "Steve"], &[("Steve", 4)]);
        assert!(changes(&Applied::from_doc(&d), &d).is_empty());
    }

    #[test]
    fn adds_removes_and_relevels_in_a_safe_order() {
        let before = Applied::from_doc(&doc(&["Alex", "Steve", "Herobrine"], &[("Steve", 4), ("Herobrine", 2)]));
        let want = doc(&["Alex", "Steve", "Notch"], &[("Steve", 3), ("Notch", 2)]);
        assert_eq!(
            changes(&before, &want),
            vec![
                Change::WhitelistAdd(p("Notch")),
                Change::Deop(p("Herobrine")),
                Change::WhitelistRemove(p("Herobrine")),
                Change::Op(p("Notch"), 2),
                Change::Op(p("Steve"), 3),
            ]
        );
    }
}
