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

pub use error_policy::{ErrorClass, error_policy};

pub mod cache;
mod error_policy;
mod nudge;
pub mod prepare;
mod steps;

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
    /// The new server's user-data could not be rendered.
    #[error("{resource}: its user-data")]
    UserData {
        resource: String,
        #[source]
        source: crate::cloudinit::CloudInitError,
    },
    /// The download client for a cached file could not be built.
    #[error("{resource}: building the download client")]
    Download {
        resource: String,
        #[source]
        source: reqwest::Error,
    },
    /// `MC_GITOPS_CRASH_AFTER=<point>` ended the run here (src/fault.rs).
    #[cfg(feature = "fault-injection")]
    #[error("MC_GITOPS_CRASH_AFTER: a crash injected at {point}")]
    Crashed { point: &'static str },
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
    /// The change that failed, with its error (causes kept) and whether
    /// the next run may retry it.
    pub failed: Option<Failed>,
    /// Things that went wrong after the plan was carried out (summaries,
    /// notifications): reported, never a reason to fail the run.
    pub warnings: Vec<String>,
    /// A fault injected with `MC_GITOPS_CRASH_AFTER` ended the run where
    /// this says, as a crash would: nothing after it ran (src/fault.rs).
    #[cfg(feature = "fault-injection")]
    #[serde(skip)]
    pub crashed: Option<String>,
}

impl Report {
    pub fn waiting(&self) -> bool {
        self.results.iter().any(|(_, o)| matches!(o, Outcome::Waiting(_)))
    }
}

/// The change a run stopped at: its resource, its error with every cause,
/// and [`error_policy()`]'s class of it. Serialised as it always was,
/// `[resource, "the error: its causes"]`.
#[derive(Clone, Debug)]
pub struct Failed {
    pub resource: String,
    pub error: std::sync::Arc<ApplyError>,
    pub class: ErrorClass,
}

impl Failed {
    fn new(resource: String, error: ApplyError) -> Self {
        let class = error_policy(&error);
        Failed {
            resource,
            error: std::sync::Arc::new(error),
            class,
        }
    }

    /// The error and its causes, one line.
    pub fn rendered(&self) -> String {
        crate::error::render_error(self.error.as_ref())
    }
}

impl Serialize for Failed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.resource, self.rendered()).serialize(s)
    }
}

impl std::fmt::Display for Failed {
    /// `<resource>: <error: causes>`, and what the next run does about it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.resource, self.rendered(), self.class.what_next())
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
    /// Mojang's version meta (`MOJANG_META_BASE_URL`), where the launcher's
    /// cached files are fetched from.
    pub mojang_meta: String,
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
    #[cfg(feature = "fault-injection")]
    let crash_after = crate::fault::crash_after();
    for (i, change) in plan.changes.iter().enumerate() {
        match run_one(cx, &mut st, change, &mut report).await {
            Ok(outcome) => {
                #[cfg(not(feature = "fault-injection"))]
                let _ = i; // only the fault switch counts changes
                #[cfg(feature = "fault-injection")]
                if crash_after == Some(i + 1) {
                    // A real crash: no flush, no report, nothing after this change.
                    report.crashed = Some(format!("after change {}", i + 1));
                    return report;
                }
                let stop = matches!(outcome, Outcome::Waiting(_));
                tracing::info!(resource = %change.resource, ?outcome, "applied");
                report.results.push((change.resource.clone(), outcome));
                if stop {
                    break;
                }
            }
            #[cfg(feature = "fault-injection")]
            Err(ApplyError::Crashed { point }) => {
                report.crashed = Some(format!("at {point}"));
                return report;
            }
            Err(e) => {
                report.failed = Some(Failed::new(change.resource.clone(), e));
                break;
            }
        }
    }
    // Control changes made before a failure or a wait still reach the agent.
    if let Err(e) = flush_control(cx, &mut st).await
        && report.failed.is_none()
    {
        report.failed = Some(Failed::new("control channel".into(), e));
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

/// `MC_GITOPS_CRASH_AFTER=<point>` (feature `fault-injection`, src/fault.rs)
/// ends the run at a named point inside a change (between its writes), as a
/// crash would: the crash tests use it to prove that the next apply
/// converges from every point. Always `Ok` without the feature.
fn crash_here(point: &'static str) -> Result<(), ApplyError> {
    #[cfg(feature = "fault-injection")]
    if crate::fault::crash_at(point) {
        return Err(ApplyError::Crashed { point });
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = point;
    Ok(())
}

async fn run_one(cx: &Ctx<'_>, st: &mut RunState, change: &Change, report: &mut Report) -> Result<Outcome, ApplyError> {
    steps::run(cx, st, change, report).await
}

/// `MC_GITOPS_FAIL_CONTROL_WRITE=1` (feature `fault-injection`) makes every
/// write of desired.json fail as storage answering 5xx past the client's
/// retries does: the tests use it to prove that the next run hands the new
/// server's agent its document.
#[cfg(feature = "fault-injection")]
fn control_write_fails(key: &str) -> Result<(), ApplyError> {
    if crate::fault::control_write_fails() {
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
    #[cfg(feature = "fault-injection")]
    control_write_fails(&key)?;
    cx.store
        .put_json(&key, doc)
        .await
        .map_err(|source| ApplyError::Storage { resource: key, source })?;
    st.control_dirty = false;
    Ok(())
}
