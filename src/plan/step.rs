//! The typed steps of a plan: one struct per kind of change, carrying
//! everything apply needs to make its one attempt (what the planner knew, so
//! apply never re-derives it). The behaviour of each lives beside apply, in
//! `crate::apply::steps::<kind>`; this file is only the data and its JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::EndReason;
use crate::ids::{HetznerServerId, Location, PlayerName, PlayerUuid, RegionKey, ServerType, SessionId};
use crate::observe::{FileState, OpEntry};

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

/// What apply does for one change: one struct per kind (below), which
/// `crate::apply::steps` gives its precondition, its one attempt and its
/// outcome. Each is one attempt, safe to repeat. Serialised as
/// `{"kind": "<kebab-name>", <the struct's fields>}` (docs/plan-json.md).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    OpenSession(OpenSession),
    CreateServer(CreateServer),
    SetDnsA(SetDnsA),
    SetDnsSrv(SetDnsSrv),
    PutAsset(PutAsset),
    RemoveAsset(RemoveAsset),
    UpdateWhitelist(UpdateWhitelist),
    UpdateShutdownPolicy(UpdateShutdownPolicy),
    UpdateOps(UpdateOps),
    RequestStop(RequestStop),
    AwaitCountdown(AwaitCountdown),
    AskOrphanToStop(AskOrphanToStop),
    HandOver(HandOver),
    RenewCredentials(RenewCredentials),
    AwaitSnapshot(AwaitSnapshot),
    DeleteServer(DeleteServer),
    RecordStopOverdue(RecordStopOverdue),
    DeleteDnsA(DeleteDnsA),
    CloseSession(CloseSession),
    SetStateStopped(SetStateStopped),
    SetStateRunning(SetStateRunning),
    RefuseQuietStart(RefuseQuietStart),
    ClearRestore(ClearRestore),
    RecordReady(RecordReady),
    RecordSuspend(RecordSuspend),
    RecordActivity(RecordActivity),
    RecordRequests(RecordRequests),
    PruneRequest(PruneRequest),
    PruneBackups(PruneBackups),
    SealBackups(SealBackups),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpenSession {
    pub session: SessionId,
    pub region: RegionKey,
    /// The server already exists but the ledger lost its session (a run
    /// crashed before committing): the record is rebuilt from the server.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
    /// A recovered session whose agent has not been handed its
    /// desired.json yet starts from this backup (server.toml `restore`,
    /// not used by any session): the record says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreateServer {
    pub name: String,
    pub session: SessionId,
    pub region: RegionKey,
    pub locations: Vec<Location>,
    pub server_types: Vec<ServerType>,
    pub image: String,
    /// A prebuilt snapshot image (`mc-gitops image build`) to boot
    /// instead of `image` on the region's types of its architecture;
    /// the stock `image` where none of them is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<BootImage>,
    pub labels: BTreeMap<String, String>,
    pub restore: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetDnsA {
    pub name: String,
    pub target: IpTarget,
    pub ttl: u32,
    pub proxied: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetDnsSrv {
    pub name: String,
    pub target: String,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
    pub ttl: u32,
}

/// Ship one file to the server's asset set (used at the next start).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PutAsset {
    pub path: String,
    pub file: FileState,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RemoveAsset {
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateWhitelist {
    pub players: Vec<PlayerName>,
    /// Their account UUIDs, for those whose file has one (`desired.json`'s
    /// `whitelist_uuids`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub uuids: BTreeMap<PlayerName, PlayerUuid>,
}

/// Hand the agent the shutdown policy learned from the ledger
/// (`desired.json`'s `shutdown`; `None` removes it: the timers' rule).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateShutdownPolicy {
    pub policy: Option<crate::shutdown::ShutdownPolicy>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateOps {
    pub ops: Vec<OpEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestStop {
    pub reason: EndReason,
    /// The countdown players online hear first, written into
    /// desired.json with the request (`[lifecycle] stop_warnings`;
    /// `[]` for a stop nobody would feel, [`crate::countdown::warns`]).
    pub warnings: crate::countdown::StopWarnings,
}

/// Wait while the agent warns the players online in game (`say`) that
/// the server stops; Minecraft stops at `ends`, the stop request's time
/// plus its longest warning.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AwaitCountdown {
    pub session: SessionId,
    pub reason: EndReason,
    pub ends: DateTime<Utc>,
}

/// Write desired.json naming an orphan's session with a stop request
/// (it names no session now): the orphan's agent stops Minecraft and
/// uploads its final snapshot, after which the orphan may be deleted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AskOrphanToStop {
    pub name: String,
    pub session: SessionId,
}

/// Write `desired.json` for the open session whose server runs but whose
/// agent was not handed its document (the write after the create failed,
/// or the run crashed): the agent waits for a document naming its session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HandOver {
    pub session: SessionId,
    /// The backup the session starts from (its `restored_from`).
    pub restore: Option<String>,
    pub whitelist: Vec<PlayerName>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub whitelist_uuids: BTreeMap<PlayerName, PlayerUuid>,
    pub ops: Vec<OpEntry>,
}

/// Mint new storage credentials for the running server's agent, hand
/// them over in `control/<s>/credentials/<session>.json`, record their
/// life in the server's labels. Only for the open session the server
/// was created for; never once it has ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RenewCredentials {
    pub name: String,
    pub id: Option<HetznerServerId>,
    pub session: SessionId,
    /// How long the new credentials live.
    pub ttl_seconds: u64,
}

/// Wait for the final snapshot of `session`, taken after `taken_after`
/// (the stop's time), verified (`crate::world::guard`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AwaitSnapshot {
    pub session: SessionId,
    pub taken_after: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeleteServer {
    pub name: String,
    pub id: Option<HetznerServerId>,
    /// Only after a verified final snapshot of this session...
    pub session: SessionId,
    /// ...taken after this time.
    pub snapshot_after: DateTime<Utc>,
    /// The admin's force-stop: deleted without the final snapshot, once
    /// apply has checked that `accept_backup` is still the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<crate::repo::model::ForceStop>,
}

/// Record in the session file that its stop has waited past
/// [`super::STOP_ALERT_AFTER`] (once; the moment Discord is told).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordStopOverdue {
    pub session: SessionId,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeleteDnsA {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CloseSession {
    pub session: SessionId,
    pub reason: EndReason,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetStateStopped {
    pub reason: EndReason,
}

/// `state = "running"` for a planned sitting (server.toml `[schedule]`),
/// committed with the session it starts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetStateRunning {
    pub sitting: DateTime<Utc>,
}

/// `state = "running"` during quiet hours: set back to stopped, with
/// when the quiet hours end in the commit message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefuseQuietStart {
    pub until: DateTime<Utc>,
}

/// Remove `restore = "<backup>"` from server.toml: a session has started
/// from that backup (`used_by`), and every later start must take the
/// newest snapshot instead of going back to it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClearRestore {
    pub backup: String,
    pub used_by: SessionId,
}

/// Record in the session file that Minecraft is up (the agent's status
/// says so): once per session, and the moment friends are told "ready".
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordReady {
    pub session: SessionId,
    pub at: DateTime<Utc>,
}

/// Record the agent's newest suspension (`at`: when Minecraft stopped
/// after saving) in the session file: once per suspension, and the
/// moment friends are told "suspend".
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordSuspend {
    pub session: SessionId,
    pub at: DateTime<Utc>,
}

/// Record what the agent reports of the session in its file: everyone
/// seen (a union), the most players online at once (never lowered), and
/// the latest count of verified backups and size of the world.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordActivity {
    pub session: SessionId,
    pub players_seen: Vec<PlayerName>,
    /// Who was online when (the session file's `[[presence]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub presence: Vec<crate::storage::Presence>,
    pub peak_players: u32,
    pub backups: u32,
    pub world_bytes: Option<u64>,
}

/// Record the admin's requests the agent answered this session
/// (`control/<s>/requests/*.result.json`) in the session file's
/// `[[requests]]`, each once.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordRequests {
    pub session: SessionId,
    pub requests: Vec<crate::repo::ledger::RequestRecord>,
}

/// Delete one admin request and its answer from
/// `control/<s>/requests/` (`crate::plan::planner` `requests.rs` says
/// which may go); the request first, so no request is ever left
/// looking unanswered to an agent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PruneRequest {
    pub id: crate::storage::requests::RequestId,
    pub because: RequestPrune,
}

/// Delete old world backups beyond `lifecycle.keep_backups` (newest
/// complete ones kept; the current, pinned and restore-named ones are
/// never listed). The reconciler does it, not the VPS, which may never
/// destroy older backups.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PruneBackups {
    pub keep: u32,
    pub backups: Vec<crate::world::BackupName>,
}

/// Copy verified backups into `vault/<s>/backups/`, which the VPS's
/// credentials cannot reach (`crate::world::vault`): they outlive
/// whatever the VPS does to `worlds/<s>/`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SealBackups {
    pub backups: Vec<crate::world::BackupName>,
}

/// Why a request may leave `control/<s>/requests/`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "because", rename_all = "kebab-case")]
pub enum RequestPrune {
    /// Answered, and a closed session's file records the answer: the
    /// request and its result are deleted.
    Recorded { file: String },
    /// Never answered, and past its `expires` by [`super::EXPIRED_GRACE`]:
    /// no agent runs it any more. Only the request is deleted (an answer
    /// written since stays, for the other rules).
    Expired { expires: DateTime<Utc> },
    /// An answer whose request is gone, that no open session can record
    /// (none is open, or the id is older than the open one could have
    /// answered): the result is deleted.
    ResultAlone,
    /// Answered (refused unread: the request cannot be read), recorded in
    /// no session file and none open can record it, and asked (by its id)
    /// over [`super::UNREADABLE_KEPT`] ago: the request and its result are
    /// deleted.
    Unreadable,
}
