//! The control channel's documents, as the reconciler and the agent write
//! and read them: `desired.json` ([`ControlDoc`]), `status.json`
//! ([`AgentStatusDoc`] and its parts) and `current.json`
//! ([`SnapshotPointer`]). One type per document, serialized and deserialized
//! by the same derive, read through [`super::decode`]; their keys are
//! formatted by [`super::Store`] only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{PlayerName, PlayerUuid, SessionId};
use crate::lifecycle::Phase;

/// One line of `ops.json` as the control channel carries it: the same type
/// the plan renders ([`crate::assets::OpEntry`]), so nothing converts between them.
pub use crate::assets::OpEntry as ControlOp;

/// One file the server should have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRef {
    /// `sha256:<hex>` for stored files, `sha512:<hex>` for jars fetched from their URL
    /// (`server.jar` and the mods, as mods.lock pins them).
    pub hash: String,
    /// Where the VPS downloads it from when it is not in storage (the jars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// A cached file (mods.lock `[[cache]]`): the server downloads it itself
    /// when it is missing, so a stored copy the agent refuses is skipped (and
    /// logged) rather than holding the start back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cache: bool,
}

/// `control/<s>/desired.json`: what the reconciler wants the agent to do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlDoc {
    pub version: u32,
    pub session: Option<SessionId>,
    /// Set when the reconciler asks the agent to stop Minecraft and sync the world.
    pub stop_requested: Option<DateTime<Utc>>,
    /// Why the stop was asked (`null` in documents written before reasons
    /// were kept). A value this version does not know fails the decode, with
    /// the key named: the reconciler then writes the document anew.
    pub stop_reason: Option<crate::lifecycle::EndReason>,
    /// Said in game before the stop, when players are online: how long
    /// before it each warning comes, counted from `stop_requested`
    /// ([`crate::countdown`]). Absent (an older reconciler) or `[]`: the
    /// agent stops at once, as before countdowns existed.
    #[serde(default, skip_serializing_if = "crate::countdown::StopWarnings::is_empty")]
    pub stop_warnings: crate::countdown::StopWarnings,
    pub whitelist: Vec<PlayerName>,
    /// The account UUID of each whitelisted player whose file has one, by
    /// name: the sleeping listener wakes the server only for that account.
    /// A map beside `whitelist` rather than objects inside it, so an agent
    /// of an older release, mid-session, still decodes the document (and
    /// ignores this). Absent (an older reconciler) or a name missing from
    /// it: that player is matched by name alone, as before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub whitelist_uuids: BTreeMap<PlayerName, PlayerUuid>,
    pub ops: Vec<ControlOp>,
    pub assets: BTreeMap<String, AssetRef>,
    pub written: Option<DateTime<Utc>>,
    /// A backup to restore at this session's start (`restore` in server.toml),
    /// checked to exist before the server was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<String>,
    /// The shutdown policy learned from the ledger ([`crate::shutdown`]).
    /// Absent (an older reconciler, or no history yet): the agent's timers,
    /// the seed's rule. An older agent ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<crate::shutdown::ShutdownPolicy>,
}

impl ControlDoc {
    /// The whitelist with each player's UUID, for the sleeping listener.
    pub fn whitelist_entries(&self) -> Vec<WhitelistEntry> {
        self.whitelist
            .iter()
            .map(|name| WhitelistEntry {
                name: name.clone(),
                uuid: self.whitelist_uuids.get(name).copied(),
            })
            .collect()
    }
}

/// One whitelisted player as the sleeping listener matches a login: by
/// name (case-insensitively) and, when known, by account UUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhitelistEntry {
    pub name: PlayerName,
    pub uuid: Option<PlayerUuid>,
}

impl WhitelistEntry {
    /// An entry without a UUID (a player file `check --fix` has not filled
    /// in yet, or an older reconciler's document): matched by name alone.
    pub fn name_only(name: &str) -> WhitelistEntry {
        WhitelistEntry {
            name: PlayerName::new(name),
            uuid: None,
        }
    }
}

/// `control/<s>/status.json`: what the agent reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentStatusDoc {
    pub phase: Phase,
    #[serde(default)]
    pub players_online: Vec<PlayerName>,
    #[serde(default)]
    pub players_seen: Vec<PlayerName>,
    pub heartbeat: DateTime<Utc>,
    #[serde(default)]
    pub stopped_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub minecraft_version: Option<String>,
    #[serde(default)]
    pub protocol: Option<i32>,
    /// The session the agent serves (its agent.toml's, or else
    /// `desired.json`'s), so a report from an earlier session is recognised
    /// as such.
    #[serde(default)]
    pub session: Option<SessionId>,
    /// What provisioning waits for: a `desired.json` naming the agent's
    /// session (the reconciler's next run writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// The newest snapshot the agent took and verified.
    #[serde(default)]
    pub last_backup: Option<BackupRef>,
    #[serde(default)]
    pub boot: Option<BootReport>,
    /// JVM crashes in a row (reset when it loads again).
    #[serde(default)]
    pub crashes: u32,
    /// The agent gave up restarting Minecraft after too many crashes in a row.
    #[serde(default)]
    pub crashed: bool,
    /// When a crashed JVM is restarted next.
    #[serde(default)]
    pub restart_at: Option<DateTime<Utc>>,
    /// While the agent warns the players online of a stop (`say`
    /// countdown): when it stops Minecraft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping_at: Option<DateTime<Utc>>,
    /// While suspended: when the agent will ask for termination.
    #[serde(default)]
    pub terminate_at: Option<DateTime<Utc>>,
    /// The final snapshot is verified: the reconciler may delete the VPS.
    #[serde(default)]
    pub ready_to_terminate: bool,
    /// The newest problem the agent could not fix by itself.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Its storage credentials, when they expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<CredentialsStatus>,
    /// The most players online at once this session (the session file's `peak_players`).
    #[serde(default)]
    pub peak_players: u32,
    /// Verified snapshots the agent took this session (the session file's `backups`).
    #[serde(default)]
    pub backups: u32,
    /// The world's size on disk at the newest verified snapshot, in bytes
    /// (the session file's `world_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world_bytes: Option<u64>,
    /// Who was online when, this session (the newest [`MAX_PRESENCE`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub presence: Vec<Presence>,
}

pub use crate::repo::ledger::{MAX_PRESENCE, Presence, merge_presence};

/// The agent's storage credentials, as its status reports them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsStatus {
    pub expires: DateTime<Utc>,
    /// The last renewal problem, until a renewal succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A snapshot as the status reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRef {
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub taken: DateTime<Utc>,
}

/// How the last boot went: a missed deadline is reported, never a silent kill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootReport {
    pub started: DateTime<Utc>,
    #[serde(default)]
    pub ready: Option<DateTime<Utc>>,
    pub deadline: DateTime<Utc>,
    #[serde(default)]
    pub deadline_missed: bool,
}

/// Why a snapshot was taken; written by the agent (and `manual` by
/// `world backup`) into the manifest and the pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    /// Every `backup_every` while Minecraft runs.
    Backup,
    /// Before Minecraft is stopped for suspension.
    Suspend,
    /// After Minecraft stopped, before the VPS is deleted: the guard's kind.
    Final,
    /// `mc-gitops world backup` by hand.
    Manual,
}

/// `worlds/<s>/current.json`: the newest snapshot that was uploaded in full
/// and verified.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotPointer {
    pub key: String,
    pub taken: DateTime<Utc>,
    pub sha256: String,
    pub size: u64,
    pub verified: bool,
    /// A copy of the manifest's `session` and `kind`, so the plan sees
    /// without another read whether the current snapshot is a stop's final
    /// one; apply decides on the manifest itself (`world::guard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SnapshotKind>,
}
