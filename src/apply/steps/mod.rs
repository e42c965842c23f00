//! One struct per plan step (`crate::plan::step`), and here what apply does
//! for each: [`Apply`], one file per kind or small family. Each checks its
//! precondition, makes one attempt, and records what it did in the report
//! (and, for the ledger, in the session file), so a crash between two steps
//! leaves a state the next plan continues from.

use super::{ApplyError, Ctx, Outcome, Report, RunState, flush_control};
use crate::ids::SessionId;
use crate::plan::{Change, Step};
use crate::repo::ledger::{self, Session};
use crate::storage::ControlDoc;

mod close;
mod control;
mod create;
mod dns;
mod handover;
mod prune;
mod record;
mod renew;
mod state;
mod stop;

/// What apply does for one kind of step: its precondition, its one
/// attempt, its outcome. `resource` names the change (`Change::resource`)
/// for errors and the report.
trait Apply {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, resource: &str) -> Result<Outcome, ApplyError>;
}

pub(super) async fn run(cx: &Ctx<'_>, st: &mut RunState, change: &Change, report: &mut Report) -> Result<Outcome, ApplyError> {
    let r = change.resource.as_str();
    match &change.step {
        Step::OpenSession(s) => s.apply(cx, st, report, r).await,
        Step::CreateServer(s) => s.apply(cx, st, report, r).await,
        Step::SetDnsA(s) => s.apply(cx, st, report, r).await,
        Step::SetDnsSrv(s) => s.apply(cx, st, report, r).await,
        Step::DeleteDnsA(s) => s.apply(cx, st, report, r).await,
        Step::PutAsset(s) => s.apply(cx, st, report, r).await,
        Step::RemoveAsset(s) => s.apply(cx, st, report, r).await,
        Step::UpdateWhitelist(s) => s.apply(cx, st, report, r).await,
        Step::UpdateShutdownPolicy(s) => s.apply(cx, st, report, r).await,
        Step::UpdateOps(s) => s.apply(cx, st, report, r).await,
        Step::HandOver(s) => s.apply(cx, st, report, r).await,
        Step::RequestStop(s) => s.apply(cx, st, report, r).await,
        Step::RenewCredentials(s) => s.apply(cx, st, report, r).await,
        Step::AwaitCountdown(s) => s.apply(cx, st, report, r).await,
        Step::AwaitSnapshot(s) => s.apply(cx, st, report, r).await,
        Step::AskOrphanToStop(s) => s.apply(cx, st, report, r).await,
        Step::DeleteServer(s) => s.apply(cx, st, report, r).await,
        Step::CloseSession(s) => s.apply(cx, st, report, r).await,
        Step::SetStateStopped(s) => s.apply(cx, st, report, r).await,
        Step::SetStateRunning(s) => s.apply(cx, st, report, r).await,
        Step::RefuseQuietStart(s) => s.apply(cx, st, report, r).await,
        Step::RecordReady(s) => s.apply(cx, st, report, r).await,
        Step::RecordSuspend(s) => s.apply(cx, st, report, r).await,
        Step::RecordStopOverdue(s) => s.apply(cx, st, report, r).await,
        Step::RecordActivity(s) => s.apply(cx, st, report, r).await,
        Step::RecordRequests(s) => s.apply(cx, st, report, r).await,
        Step::ClearRestore(s) => s.apply(cx, st, report, r).await,
        Step::PruneRequest(s) => s.apply(cx, st, report, r).await,
        Step::PruneBackups(s) => s.apply(cx, st, report, r).await,
        Step::SealBackups(s) => s.apply(cx, st, report, r).await,
    }
}

/// Session `id` as this run last wrote it, else as the ledger holds it:
/// the one place a step finds its session.
fn find_session<'a>(cx: &'a Ctx<'_>, st: &'a RunState, id: &SessionId) -> Option<&'a Session> {
    st.sessions
        .get(id.as_str())
        .or_else(|| cx.ledger.sessions.iter().find(|s| &s.id == id))
}

/// The control document, read once per run. One this version cannot decode
/// starts afresh, as observe saw it: the plan rewrote every part of it, and
/// this run's write replaces the stored one.
pub(super) async fn control<'s>(cx: &Ctx<'_>, st: &'s mut RunState) -> Result<&'s mut ControlDoc, ApplyError> {
    let doc = match st.control.take() {
        Some(doc) => doc,
        None => match cx.store.control().await {
            Ok(doc) => doc.unwrap_or_default(),
            Err(e @ (crate::storage::StorageError::Decode { .. } | crate::storage::StorageError::TooLarge { .. })) => {
                tracing::warn!(error = %crate::error::render_error(&e), "replacing an unreadable desired.json");
                ControlDoc::default()
            }
            Err(source) => {
                return Err(ApplyError::Storage {
                    resource: cx.store.control_key(),
                    source,
                });
            }
        },
    };
    Ok(st.control.insert(doc))
}

pub(super) fn write(cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, s: Session) -> Result<(), ApplyError> {
    if let Some(warning) = ledger::write::write_session(cx.repo, &s)? {
        tracing::warn!("{warning}");
        if !report.warnings.contains(&warning) {
            report.warnings.push(warning);
        }
    }
    if !report.files.contains(&s.file) {
        report.files.push(s.file.clone());
    }
    st.sessions.insert(s.id.to_string(), s);
    Ok(())
}
