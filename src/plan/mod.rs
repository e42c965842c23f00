//! The plan: a list of changes from what is observed to what the repo asks
//! for. [`plan`] is a pure function of the two; `apply` is the only code that
//! acts on it. Each change carries a typed [`Step`] for apply, and `before` /
//! `after` values for people and the JSON output.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::ids::{HetznerServerId, Location, PlayerName, RegionKey, ServerType, SessionId};
use crate::lifecycle::Phase;
use crate::observe::{FileState, OpEntry};

pub use crate::assets;
pub mod effect;
mod planner;

/// Planned sittings in the plan: the schedule it shows, the allowances it
/// pre-warms with, and the workflow ticks it is told (`Observed::reconcile_ticks`).
pub use crate::repo::workflow_schedule::ticks_between;
pub use planner::schedule::{COLD_START_ALLOWANCE, PlanSchedule, SAFETY_NET_INTERVAL};
pub use planner::{EXPIRED_GRACE, MAX_REQUESTS_PRUNED, OVERDUE_EVENT, STOP_ALERT_AFTER, plan};

/// The version of the JSON shape; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Create,
    Update,
    Delete,
    /// A step that waits on something outside (a verified snapshot).
    Wait,
}

pub use crate::lifecycle::EndReason;

/// Where the A record points: at a server about to be created, or an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpTarget {
    NewServer,
    Address(String),
}

/// A snapshot image a new server may boot from: Java, nftables and the
/// agent already installed, so cloud-init skips the installs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BootImage {
    pub id: crate::hetzner::images::ImageId,
    /// `x86` or `arm`: only server types of this architecture can boot it.
    pub architecture: String,
}

/// What apply does for one change. Each is one attempt, safe to repeat.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    OpenSession {
        session: SessionId,
        region: RegionKey,
        /// The server already exists but the ledger lost its session (a run
        /// crashed before committing): the record is rebuilt from the server.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        recovered: bool,
        /// A recovered session whose agent has not been handed its
        /// desired.json yet starts from this backup (server.toml `restore`,
        /// not used by any session): the record says so.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restore: Option<String>,
    },
    CreateServer {
        name: String,
        session: SessionId,
        region: RegionKey,
        locations: Vec<Location>,
        server_types: Vec<ServerType>,
        image: String,
        /// A prebuilt snapshot image (`mc-gitops image build`) to boot
        /// instead of `image` on the region's types of its architecture;
        /// the stock `image` where none of them is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<BootImage>,
        labels: BTreeMap<String, String>,
        restore: Option<String>,
    },
    SetDnsA {
        name: String,
        target: IpTarget,
        ttl: u32,
        proxied: bool,
    },
    SetDnsSrv {
        name: String,
        target: String,
        port: u16,
        priority: u16,
        weight: u16,
        ttl: u32,
    },
    /// Ship one file to the server's asset set (used at the next start).
    PutAsset {
        path: String,
        file: FileState,
    },
    RemoveAsset {
        path: String,
    },
    UpdateWhitelist {
        players: Vec<PlayerName>,
    },
    /// Hand the agent the shutdown policy learned from the ledger
    /// (`desired.json`'s `shutdown`; `None` removes it: the timers' rule).
    UpdateShutdownPolicy {
        policy: Option<crate::shutdown::ShutdownPolicy>,
    },
    UpdateOps {
        ops: Vec<OpEntry>,
    },
    RequestStop {
        reason: EndReason,
        /// The countdown players online hear first, written into
        /// desired.json with the request (`[lifecycle] stop_warnings`;
        /// `[]` for a stop nobody would feel, [`crate::countdown::warns`]).
        warnings: crate::countdown::StopWarnings,
    },
    /// Wait while the agent warns the players online in game (`say`) that
    /// the server stops; Minecraft stops at `ends`, the stop request's time
    /// plus its longest warning.
    AwaitCountdown {
        session: SessionId,
        reason: EndReason,
        ends: DateTime<Utc>,
    },
    /// Write desired.json naming an orphan's session with a stop request
    /// (it names no session now): the orphan's agent stops Minecraft and
    /// uploads its final snapshot, after which the orphan may be deleted.
    AskOrphanToStop {
        name: String,
        session: SessionId,
    },
    /// Write `desired.json` for the open session whose server runs but whose
    /// agent was not handed its document (the write after the create failed,
    /// or the run crashed): the agent waits for a document naming its session.
    HandOver {
        session: SessionId,
        /// The backup the session starts from (its `restored_from`).
        restore: Option<String>,
        whitelist: Vec<PlayerName>,
        ops: Vec<OpEntry>,
    },
    /// Mint new storage credentials for the running server's agent, hand
    /// them over in `control/<s>/credentials/<session>.json`, record their
    /// life in the server's labels. Only for the open session the server
    /// was created for; never once it has ended.
    RenewCredentials {
        name: String,
        id: Option<HetznerServerId>,
        session: SessionId,
        /// How long the new credentials live.
        ttl_seconds: u64,
    },
    /// Wait for the final snapshot of `session`, taken after `taken_after`
    /// (the stop's time), verified (`crate::world::guard`).
    AwaitSnapshot {
        session: SessionId,
        taken_after: DateTime<Utc>,
    },
    DeleteServer {
        name: String,
        id: Option<HetznerServerId>,
        /// Only after a verified final snapshot of this session...
        session: SessionId,
        /// ...taken after this time.
        snapshot_after: DateTime<Utc>,
        /// The admin's force-stop: deleted without the final snapshot, once
        /// apply has checked that `accept_backup` is still the current one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        force: Option<crate::repo::model::ForceStop>,
    },
    /// Record in the session file that its stop has waited past
    /// [`STOP_ALERT_AFTER`] (once; the moment Discord is told).
    RecordStopOverdue {
        session: SessionId,
        since: DateTime<Utc>,
    },
    DeleteDnsA {
        name: String,
    },
    CloseSession {
        session: SessionId,
        reason: EndReason,
    },
    SetStateStopped {
        reason: EndReason,
    },
    /// `state = "running"` for a planned sitting (server.toml `[schedule]`),
    /// committed with the session it starts.
    SetStateRunning {
        sitting: DateTime<Utc>,
    },
    /// `state = "running"` during quiet hours: set back to stopped, with
    /// when the quiet hours end in the commit message.
    RefuseQuietStart {
        until: DateTime<Utc>,
    },
    /// Remove `restore = "<backup>"` from server.toml: a session has started
    /// from that backup (`used_by`), and every later start must take the
    /// newest snapshot instead of going back to it.
    ClearRestore {
        backup: String,
        used_by: SessionId,
    },
    /// Record in the session file that Minecraft is up (the agent's status
    /// says so): once per session, and the moment friends are told "ready".
    RecordReady {
        session: SessionId,
        at: DateTime<Utc>,
    },
    /// Record the agent's newest suspension (`at`: when Minecraft stopped
    /// after saving) in the session file: once per suspension, and the
    /// moment friends are told "suspend".
    RecordSuspend {
        session: SessionId,
        at: DateTime<Utc>,
    },
    /// Record what the agent reports of the session in its file: everyone
    /// seen (a union), the most players online at once (never lowered), and
    /// the latest count of verified backups and size of the world.
    RecordActivity {
        session: SessionId,
        players_seen: Vec<PlayerName>,
        /// Who was online when (the session file's `[[presence]]`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        presence: Vec<crate::storage::Presence>,
        peak_players: u32,
        backups: u32,
        world_bytes: Option<u64>,
    },
    /// Record the admin's requests the agent answered this session
    /// (`control/<s>/requests/*.result.json`) in the session file's
    /// `[[requests]]`, each once.
    RecordRequests {
        session: SessionId,
        requests: Vec<crate::repo::ledger::RequestRecord>,
    },
    /// Delete one admin request and its answer from
    /// `control/<s>/requests/` (`crate::plan::planner` `requests.rs` says
    /// which may go); the request first, so no request is ever left
    /// looking unanswered to an agent.
    PruneRequest {
        id: crate::storage::requests::RequestId,
        because: RequestPrune,
    },
    /// Delete old world backups beyond `lifecycle.keep_backups` (newest
    /// complete ones kept; the current, pinned and restore-named ones are
    /// never listed). The reconciler does it, not the VPS, which may never
    /// destroy older backups.
    PruneBackups {
        keep: u32,
        backups: Vec<crate::world::BackupName>,
    },
    /// Copy verified backups into `vault/<s>/backups/`, which the VPS's
    /// credentials cannot reach (`crate::world::vault`): they outlive
    /// whatever the VPS does to `worlds/<s>/`.
    SealBackups {
        backups: Vec<crate::world::BackupName>,
    },
}

/// Why a request may leave `control/<s>/requests/`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "because", rename_all = "kebab-case")]
pub enum RequestPrune {
    /// Answered, and a closed session's file records the answer: the
    /// request and its result are deleted.
    Recorded { file: String },
    /// Never answered, and past its `expires` by [`planner::EXPIRED_GRACE`]:
    /// no agent runs it any more. Only the request is deleted (an answer
    /// written since stays, for the other rules).
    Expired { expires: DateTime<Utc> },
    /// An answer whose request is gone, that no open session can record
    /// (none is open, or the id is older than the open one could have
    /// answered): the result is deleted.
    ResultAlone,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub op: Op,
    /// What it is about, for people: `hetzner server grove-20261122-0350-eu`.
    pub resource: String,
    pub step: Step,
    pub before: Value,
    pub after: Value,
    pub reason: String,
    /// A unified diff, for rendered text files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    /// Something that costs money until an admin acts (a stop that has
    /// waited past [`STOP_ALERT_AFTER`]): `apply` posts it to Discord,
    /// writes it into STATUS.md and the Actions step summary.
    Alert,
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notice {
    pub level: Level,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub wait: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseChange {
    pub before: Phase,
    pub after: Phase,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub format_version: u32,
    pub server: String,
    pub now: DateTime<Utc>,
    pub observed_from: crate::observe::ObservedFrom,
    pub phase: PhaseChange,
    pub changes: Vec<Change>,
    pub notices: Vec<Notice>,
    pub summary: Summary,
    /// The reconciler's own ping of the game, when it pinged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub game: Option<crate::observe::game::ObservedGame>,
    /// server.toml's `[schedule]`: the next planned start, quiet hours now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<planner::schedule::PlanSchedule>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_assets;
#[cfg(test)]
mod tests_cadence;
#[cfg(test)]
mod tests_countdown;
#[cfg(test)]
mod tests_ending;
#[cfg(test)]
mod tests_handover;
#[cfg(test)]
mod tests_image;
#[cfg(test)]
mod tests_requests;
#[cfg(test)]
mod tests_schedule;
#[cfg(test)]
mod tests_session;
