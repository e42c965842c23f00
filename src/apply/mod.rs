//! Apply: carry a plan out, one change at a time, in order.
//!
//! Each change makes one attempt and checks its precondition first, so
//! running apply again after any failure or crash converges (the next plan
//! holds only what is still missing). A change that must wait (a snapshot
//! not yet verified) stops the run there: the rest of the plan depends on
//! it, and the next scheduled run continues. Nothing here decides what to
//! do; the plan did.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cloudflare::{Cloudflare, CloudflareError, Zone};
use crate::hetzner::{Hetzner, HetznerError, Server};
use crate::observe::Observed;
use crate::plan::assets::Rendered;
use crate::plan::{Change, Plan};
use crate::repo::Desired;
use crate::repo::edit::EditError;
use crate::repo::ledger::write::WriteError;
use crate::repo::ledger::{Ledger, Session};
use crate::storage::{ControlDoc, StorageError, Store};

pub mod cache;
mod handover;
mod ledger_steps;
mod nudge;
pub mod prepare;
mod prune;
mod renew;
mod steps;
mod stop;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{resource}")]
    Hetzner {
        resource: String,
        #[source]
        source: Box<HetznerError>,
    },
    #[error("{resource}")]
    Cloudflare {
        resource: String,
        #[source]
        source: Box<CloudflareError>,
    },
    #[error("{resource}")]
    Storage {
        resource: String,
        #[source]
        source: StorageError,
    },
    #[error("{resource}")]
    World {
        resource: String,
        #[source]
        source: Box<crate::world::WorldError>,
    },
    #[error("writing the ledger")]
    Ledger(#[from] WriteError),
    #[error("editing server.toml")]
    Edit(#[from] EditError),
    /// What the plan was made against is no longer true (another run got
    /// there first). Nothing was changed by this step; plan again.
    #[error("{resource}: {why}; nothing was changed, run again to plan from what is there now")]
    Stale { resource: String, why: String },
    #[error("{resource}: {why}")]
    Invalid { resource: String, why: String },
}

/// How one change ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    Done(String),
    /// Already as wanted: nothing was sent.
    Unchanged(String),
    /// A precondition does not hold yet; the run stops here.
    Waiting(String),
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub results: Vec<(String, Outcome)>,
    /// Repo files written (relative paths), for the commit.
    pub files: Vec<String>,
    /// What happened, as a commit message.
    pub message: Vec<String>,
    /// A change failed: its resource and the error, rendered.
    pub failed: Option<(String, String)>,
    /// Things that went wrong after the plan was carried out (summaries,
    /// notifications): reported, never a reason to fail the run.
    pub warnings: Vec<String>,
}

impl Report {
    pub fn waiting(&self) -> bool {
        self.results.iter().any(|(_, o)| matches!(o, Outcome::Waiting(_)))
    }
}

/// Everything apply works with.
pub struct Ctx<'a> {
    pub repo: &'a Path,
    pub desired: &'a Desired,
    pub ledger: &'a Ledger,
    pub observed: &'a Observed,
    pub hetzner: &'a Hetzner,
    pub cloudflare: &'a Cloudflare,
    pub zone: &'a Zone,
    pub store: &'a Store,
    pub now: DateTime<Utc>,
    /// Cloud-init for a new server, if one is to be created; rendered right
    /// before the create request.
    pub user_data: Option<crate::cloudinit::UserData>,
    /// The new server's R2 credentials ([`prepare::prepare`]), for the
    /// agent's config; never printed.
    pub agent_credentials: Option<crate::storage::credentials::AgentCredentials>,
    /// The backup the new server starts from, when server.toml names one.
    pub restore: Option<crate::world::Manifest>,
    /// What the agent's credentials are minted with (renewal); `None` for
    /// local storage.
    pub mint: Option<&'a crate::storage::credentials::MintSettings>,
    /// The agent's nudge settings (`MC_GITOPS_NUDGE_TOKEN`), handed over
    /// beside the control document; never printed.
    pub nudge: Option<crate::storage::nudge::NudgeDoc>,
}

/// What earlier changes of this run produced for later ones.
struct RunState {
    /// The server created (or adopted) by this run.
    created: Option<Server>,
    /// Sessions touched by this run, by id.
    sessions: BTreeMap<String, Session>,
    control: Option<ControlDoc>,
    control_dirty: bool,
    files: BTreeMap<String, Rendered>,
}

pub async fn apply(cx: &Ctx<'_>, plan: &Plan) -> Report {
    let mut st = RunState {
        created: None,
        sessions: BTreeMap::new(),
        control: None,
        control_dirty: false,
        files: crate::plan::assets::render_files(cx.desired),
    };
    let mut report = Report::default();
    let crash_after = failpoint();
    for (i, change) in plan.changes.iter().enumerate() {
        match run_one(cx, &mut st, change, &mut report).await {
            Ok(outcome) => {
                if crash_after == Some(i + 1) {
                    // A real crash: no flush, no report, nothing after this change.
                    eprintln!("MC_GITOPS_CRASH_AFTER: exiting after change {}", i + 1);
                    std::process::exit(70);
                }
                let stop = matches!(outcome, Outcome::Waiting(_));
                tracing::info!(resource = %change.resource, ?outcome, "applied");
                report.results.push((change.resource.clone(), outcome));
                if stop {
                    break;
                }
            }
            Err(e) => {
                report.failed = Some((change.resource.clone(), crate::error::render_error(&e)));
                break;
            }
        }
    }
    // Control changes made before a failure or a wait still reach the agent.
    if let Err(e) = flush_control(cx, &mut st).await
        && report.failed.is_none()
    {
        report.failed = Some(("control channel".into(), crate::error::render_error(&e)));
    }
    if let Some(doc) = &cx.nudge
        && let Err(e) = nudge::hand_over(cx.store, doc).await
    {
        report
            .warnings
            .push(format!("handing the agent its nudge settings: {}", crate::error::render_error(&e)));
    }
    report
}

/// `MC_GITOPS_CRASH_AFTER=N` ends the process right after the Nth change,
/// as a crash would (no flush, no report): the crash tests use it to prove
/// that the next apply converges from every point.
fn failpoint() -> Option<usize> {
    std::env::var("MC_GITOPS_CRASH_AFTER").ok()?.parse().ok()
}

/// `MC_GITOPS_CRASH_AFTER=<point>` ends the process at a named point inside
/// a change (between its writes), as a crash would.
fn crash_here(point: &str) {
    if std::env::var("MC_GITOPS_CRASH_AFTER").is_ok_and(|v| v == point) {
        eprintln!("MC_GITOPS_CRASH_AFTER: exiting at {point}");
        std::process::exit(70);
    }
}

async fn run_one(cx: &Ctx<'_>, st: &mut RunState, change: &Change, report: &mut Report) -> Result<Outcome, ApplyError> {
    steps::run(cx, st, change, report).await
}

/// `MC_GITOPS_FAIL_CONTROL_WRITE=1` makes every write of desired.json fail
/// as storage answering 5xx past the client's retries does: the tests use it
/// to prove that the next run hands the new server's agent its document.
fn control_write_fails(key: &str) -> Result<(), ApplyError> {
    if std::env::var("MC_GITOPS_FAIL_CONTROL_WRITE").is_ok_and(|v| v == "1") {
        return Err(ApplyError::Storage {
            resource: key.into(),
            source: crate::storage::StorageError::Object {
                key: key.into(),
                source: Box::new(object_store::Error::Generic {
                    store: "MC_GITOPS_FAIL_CONTROL_WRITE",
                    source: "503 Service Unavailable (injected)".into(),
                }),
            },
        });
    }
    Ok(())
}

async fn flush_control(cx: &Ctx<'_>, st: &mut RunState) -> Result<(), ApplyError> {
    if !st.control_dirty {
        return Ok(());
    }
    let Some(doc) = st.control.as_mut() else { return Ok(()) };
    doc.version = 1;
    doc.written = Some(cx.now);
    let key = cx.store.control_key();
    control_write_fails(&key)?;
    cx.store
        .put_json(&key, doc)
        .await
        .map_err(|source| ApplyError::Storage { resource: key, source })?;
    st.control_dirty = false;
    Ok(())
}
