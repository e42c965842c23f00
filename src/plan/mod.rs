//! The plan: a list of changes from what is observed to what the repo asks
//! for. [`plan`] is a pure function of the two; `apply` is the only code that
//! acts on it. Each change carries a typed [`Step`] for apply, and `before` /
//! `after` values for people and the JSON output.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::lifecycle::Phase;

pub use crate::assets;
#[cfg(test)]
mod effect;
mod planner;
pub mod render;
mod step;
pub use step::{
    AskOrphanToStop, AwaitCountdown, AwaitSnapshot, BootImage, ClearRestore, CloseSession, CreateServer, DeleteDnsA, DeleteServer,
    HandOver, IpTarget, OpenSession, PruneBackups, PruneRequest, PutAsset, RecordActivity, RecordReady, RecordRequests, RecordStopOverdue,
    RecordSuspend, RefuseQuietStart, RemoveAsset, RenewCredentials, RequestPrune, RequestStop, SealBackups, SetDnsA, SetDnsSrv,
    SetStateRunning, SetStateStopped, Step, UpdateOps, UpdateShutdownPolicy, UpdateWhitelist,
};

/// Planned sittings in the plan: the schedule it shows, the allowances it
/// pre-warms with, and the workflow ticks it is told (`Observed::reconcile_ticks`).
pub use crate::repo::workflow_schedule::ticks_between;
pub use planner::schedule::{COLD_START_ALLOWANCE, PlanSchedule, SAFETY_NET_INTERVAL};
pub use planner::{EXPIRED_GRACE, MAX_REQUESTS_PRUNED, OVERDUE_EVENT, STOP_ALERT_AFTER, UNREADABLE_KEPT, plan};

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
mod tests_running;
#[cfg(test)]
mod tests_schedule;
#[cfg(test)]
mod tests_session;
#[cfg(test)]
mod tests_step_json;
