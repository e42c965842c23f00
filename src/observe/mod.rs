//! What is true now, as seen from outside the repo, in one [`Observed`].
//!
//! [`ledger_only::observe`] reads what the ledger says (month to date,
//! restores done, the last start, the learned shutdown policy); with
//! credentials [`live::observe`] starts from it and adds what Hetzner,
//! Cloudflare, the store (desired.json and status.json through
//! `documents`) and the game port say. Without credentials only the ledger
//! is read and the model says so (`ObservedFrom::Ledger`): a field that could
//! not be observed is `None`, and the planner treats "unknown" differently
//! from "absent".

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::ids::{HetznerServerId, Location, PlayerName, RegionKey, ServerType, SessionId};
use crate::lifecycle::Phase;
use crate::repo::ledger::{Ledger, Session};

pub(crate) mod assets;
pub(crate) mod documents;
pub mod game;
pub mod ledger_only;
pub mod live;
pub(crate) mod requests;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObservedFrom {
    /// Only the repo's own `sessions/`: no credentials, nothing outside called.
    Ledger,
    /// The cloud, DNS, storage and the game itself.
    Live,
}

/// A VPS that carries this repo's labels (or, from the ledger, one believed to exist).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObservedServer {
    pub id: Option<HetznerServerId>,
    pub name: String,
    pub session: SessionId,
    pub region: RegionKey,
    pub location: Option<Location>,
    pub server_type: Option<ServerType>,
    pub ipv4: Option<String>,
    /// For an orphan: when the ledger says its session started and ended.
    /// A closed session passed the snapshot guard before it was closed, so
    /// such a server's world is known safe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_session: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The two DNS records the bot owns.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ObservedDns {
    /// The A record's address, if the record exists.
    pub a: Option<String>,
    /// The SRV record's target host and port, if it exists.
    pub srv: Option<(String, u16)>,
    /// How the records differ from what the bot leaves behind (a duplicate,
    /// proxied, another TTL): non-empty means "set them again".
    pub drift: Vec<String>,
}

/// The agent's `status.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentStatus {
    pub phase: Phase,
    pub players_online: Vec<PlayerName>,
    pub heartbeat: DateTime<Utc>,
    /// When Minecraft last stopped after saving: the final snapshot must be newer.
    pub stopped_at: Option<DateTime<Utc>>,
    /// What the agent reports it cannot fix by itself (crash loop, missed
    /// boot deadline), for the plan's notices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The session the agent serves (from `desired.json`): a report for
    /// another session says nothing about this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    /// When Minecraft finished loading, this boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<DateTime<Utc>>,
    /// What the session file records from the agent: everyone seen, the
    /// most online at once, verified snapshots taken, the world's size.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub players_seen: Vec<PlayerName>,
    /// Who was online when, this session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub presence: Vec<crate::storage::Presence>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub peak_players: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub backups: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world_bytes: Option<u64>,
    /// The agent gave up restarting a crashing Minecraft.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub crashed: bool,
}

impl AgentStatus {
    /// What the session file records from this report.
    pub fn activity(&self) -> crate::repo::ledger::Activity {
        let mut players_seen = self.players_seen.clone();
        for p in &self.players_online {
            if !players_seen.contains(p) {
                players_seen.push(p.clone());
            }
        }
        crate::repo::ledger::Activity {
            players_seen,
            presence: self.presence.clone(),
            peak_players: self.peak_players.max(self.players_online.len() as u32),
            backups: self.backups,
            world_bytes: self.world_bytes,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

pub use crate::assets::{FileState, OpEntry};

/// The last `control/<server>/desired.json` the reconciler wrote.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ControlState {
    /// The session the document is for: the agent of another session waits
    /// until it names that one (see `plan::planner::handover`).
    pub session: Option<SessionId>,
    pub stop_requested: Option<DateTime<Utc>>,
    /// Why the stop was asked (`desired.json`'s `stop_reason`): what the
    /// session is closed with, however many runs the stop takes. `None`
    /// for a document that names no reason (written before reasons were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<crate::lifecycle::EndReason>,
    /// The countdown sent with the stop (`desired.json`'s `stop_warnings`):
    /// the stop is not overdue before it has run.
    #[serde(default, skip_serializing_if = "crate::countdown::StopWarnings::is_empty")]
    pub stop_warnings: crate::countdown::StopWarnings,
    pub whitelist: Vec<PlayerName>,
    /// `desired.json`'s `whitelist_uuids`: the listed players' account UUIDs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub whitelist_uuids: BTreeMap<PlayerName, crate::ids::PlayerUuid>,
    pub ops: Vec<OpEntry>,
    /// The learned shutdown policy the document carries (`shutdown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<crate::shutdown::ShutdownPolicy>,
    /// Server files by path (`server.properties`, `config/…`, `mods/…`).
    pub assets: BTreeMap<String, FileState>,
    /// Listed files whose stored copy under `assets/<s>/` is missing or not
    /// the bytes its hash names (anything on the VPS can write there).
    /// Checked only before a start and while the session's agent has not
    /// reported past provisioning (`assets::stored_damage`); empty otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub damaged: BTreeMap<String, assets::AssetDamage>,
    /// The stored document could not be decoded (the error, its key named):
    /// the rest of this state is empty, so the plan writes it anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// The running server's agent credentials, as the server's labels record
/// them (the reconciler reads the server list anyway, so this costs no call).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "labels", rename_all = "kebab-case")]
pub enum ObservedCredentials {
    /// No readable credential labels: a server created before renewal
    /// existed, or labels edited by hand. Its expiry is unknown.
    Unlabelled,
    Known(crate::storage::credentials::CredentialsLife),
}

/// The world backups in storage, listed once per run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObservedBackups {
    /// The backup `worlds/<s>/current.json` points at; `None`: no pointer.
    pub current: Option<crate::world::BackupName>,
    /// Every backup, oldest first.
    pub all: Vec<crate::world::retention::Backup>,
}

impl ObservedBackups {
    /// The newest backup that was uploaded and verified in full.
    pub fn newest_complete(&self) -> Option<&crate::world::BackupName> {
        self.all.iter().rev().find(|b| b.complete()).map(|b| &b.name)
    }
}

/// A session's final snapshot, as `current.json` names it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinalSnapshot {
    pub session: SessionId,
    pub taken: DateTime<Utc>,
}

impl FinalSnapshot {
    /// `None` when it is the final snapshot of `session`'s stop at
    /// `stop_at` ([`crate::world::guard::refuses`]); else why not.
    pub fn refuses(&self, session: &SessionId, stop_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
        let claim = crate::world::guard::Claim {
            session: Some(&self.session),
            kind: Some(crate::world::SnapshotKind::Final),
            taken: self.taken,
        };
        crate::world::guard::refuses(claim, session, stop_at, now)
    }
}

/// Everything the planner knows about the world outside the repo.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Observed {
    pub now: DateTime<Utc>,
    pub from: ObservedFrom,
    /// Our server, if one exists (live) or is believed to (ledger).
    pub server: Option<ObservedServer>,
    /// Servers with our repo label that no open session explains.
    pub orphans: Vec<ObservedServer>,
    /// `None`: not observed.
    pub dns: Option<ObservedDns>,
    /// `None`: not observed, or no agent has reported yet, or its report
    /// could not be read ([`Observed::unreadable`]).
    pub agent: Option<AgentStatus>,
    /// Why `status.json` or `current.json` could not be read (not JSON of
    /// the expected shape, or over the document size limit). Anything on
    /// the VPS can write them: the plan warns and goes on as if the agent
    /// had not reported and no snapshot were current, so a stop still ends
    /// with the final snapshot (which writes `current.json` anew) or the
    /// overdue alert, instead of every run failing while the VPS bills.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
    /// `None`: not observed.
    pub control: Option<ControlState>,
    /// When the newest verified world snapshot was taken; `None` if unknown or none.
    pub latest_snapshot: Option<DateTime<Utc>>,
    /// The current snapshot, when `current.json` says it is a session's
    /// final one (taken after Minecraft stopped): what the plan's guard
    /// reads. Apply decides on the snapshot's manifest, not on this copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_snapshot: Option<FinalSnapshot>,
    /// `None`: not observed (no storage credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backups: Option<ObservedBackups>,
    /// The ledger's open session.
    pub session: Option<Session>,
    /// Our server's agent credentials. `None`: not observed, or nothing to
    /// renew (no server, local storage, no R2 account to mint with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<ObservedCredentials>,
    /// Gross spend this calendar month, open session included.
    pub month_to_date: Decimal,
    /// Backups already restored by a session (the ledger's `restored_from`),
    /// each with the first session that used it: a `restore` is used once.
    pub restores_done: BTreeMap<String, SessionId>,
    /// Admin requests the agent answered for the open session
    /// (`control/<s>/requests/*.result.json`) that its file may not record
    /// yet; the plan records the new ones. Empty when not observed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answered: Vec<crate::repo::ledger::RequestRecord>,
    /// What `control/<s>/requests/` holds, for pruning (`None`: not
    /// observed, no storage credentials).
    pub requests: Option<requests::ObservedRequests>,
    /// The reconciler's own Server List Ping of the session's server;
    /// `None`: not pinged (no server or address, ledger only, or turned off).
    pub game: Option<game::ObservedGame>,
    /// When the newest session in the ledger started: a planned sitting
    /// starts once (`plan::planner::schedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_start: Option<DateTime<Utc>>,
    /// The reconcile workflow's scheduled ticks from now on, at least past
    /// the next planned sitting (reconcile.yml's `schedule:` crons). Empty:
    /// not known; the plan then assumes one tick per safety-net interval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reconcile_ticks: Vec<DateTime<Utc>>,
    /// This month's GitHub Actions minutes (the tally in storage, brought
    /// up to date by apply); `None`: not observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<crate::actions_minutes::ActionsUsage>,
    /// The newest prebuilt snapshot image for this server and this agent
    /// version (`mc-gitops image build`); looked up only when a start may be
    /// planned. `None`: none, or not looked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::hetzner::images::Image>,
    /// The shutdown policy the ledger's `[[presence]]` teaches under
    /// server.toml's `[lifecycle]` ([`crate::shutdown::learn::from_ledger`]),
    /// for `desired.json`; `None` without history. Learned where the ledger
    /// is observed ([`ledger_only::observe`], which the live observation
    /// starts from), so the repo's `Desired` holds only what the files say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_shutdown: Option<crate::shutdown::ShutdownPolicy>,
}

impl Observed {
    /// The lifecycle phase the evidence points to, through the same
    /// transition function the agent runs ([`crate::lifecycle::observed_phase`]).
    pub fn phase(&self) -> Phase {
        crate::lifecycle::observed_phase(crate::lifecycle::Evidence {
            server: self.server.is_some(),
            agent: self.agent.as_ref().map(|a| a.phase),
            ready_recorded: self.session.as_ref().is_some_and(|s| s.ready.is_some()),
            stop_asked: self.control.as_ref().is_some_and(|c| c.stop_requested.is_some()),
        })
    }

    /// The agent's report when it is about the open session (it names it).
    pub fn report_of_session(&self) -> Option<&AgentStatus> {
        let session = self.session.as_ref()?;
        self.agent.as_ref().filter(|a| a.session.as_ref() == Some(&session.id))
    }
}

/// The ledger as an observer's source: what [`ledger_only::observe`] reads.
pub trait LedgerObserver {
    fn ledger(&self) -> &Ledger;
}

pub use crate::minecraft::slp::GamePing;

/// The reconcile workflow's scheduled ticks for the next 8 days (a planned
/// sitting is at most a week away), from the repo's own reconcile.yml, for
/// [`Observed::reconcile_ticks`]. Empty when the workflow cannot be read or
/// has no schedule: the plan then assumes one tick per safety-net interval.
pub fn reconcile_ticks(repo_root: &std::path::Path, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    match crate::repo::workflow_schedule::WorkflowSchedule::read(repo_root) {
        Ok(ws) => crate::repo::workflow_schedule::ticks_between(|t| ws.next_tick(t), now, now + chrono::TimeDelta::days(8)),
        Err(e) => {
            let why = crate::error::render_error(&e);
            tracing::warn!("{why}; planning as if reconcile.yml ran once an hour");
            Vec::new()
        }
    }
}
