//! Retention, carried out: delete the backups the plan listed (both copies:
//! `worlds/<s>/` and the vault), and the admin requests it listed
//! ([`prune_request`]); and sealing: copy verified backups into the
//! vault (`crate::world::vault`). The rule was
//! applied by the planner on one list of the backups; right before the
//! deletes this checks again what may have moved since (one read of
//! `current.json`, one look at each listed backup's pin), so a backup that
//! became current or was pinned in between is kept. Deleting a backup that
//! is already gone is not an error: a rerun after a crash converges.

use super::{Apply, ApplyError, Ctx, Outcome, Report, RunState};
use crate::plan::{PruneBackups, PruneRequest, RequestPrune, SealBackups};
use crate::storage::requests::RequestId;
use crate::world::{BackupName, WorldError, retention, vault};

async fn prune(cx: &Ctx<'_>, report: &mut Report, resource: &str, keep: u32, names: &[BackupName]) -> Result<Outcome, ApplyError> {
    let world = |source: WorldError| ApplyError::World {
        resource: resource.to_string(),
        source: Box::new(source),
    };
    let current = cx
        .store
        .current_snapshot()
        .await
        .map_err(|source| ApplyError::Storage {
            resource: resource.to_string(),
            source,
        })?
        .and_then(|p| BackupName::from_key(&p.key));
    let Some(current) = current else {
        return Ok(Outcome::Unchanged(
            "no current.json: nothing is pruned until the world pointer is back".into(),
        ));
    };
    let mut gone = Vec::new();
    for name in names {
        if *name == current || retention::is_pinned(cx.store, name).await.map_err(world)? {
            continue;
        }
        retention::remove(cx.store, name).await.map_err(world)?;
        gone.push(name.to_string());
    }
    if gone.is_empty() {
        return Ok(Outcome::Unchanged("kept: current or pinned since the plan".into()));
    }
    // The pieces no remaining file list names: marked now, deleted a grace period later.
    retention::sweep(cx.store).await.map_err(world)?;
    report.message.push(format!(
        "prune {} old snapshot(s) beyond keep_backups = {keep}: {}",
        gone.len(),
        gone.join(", ")
    ));
    Ok(Outcome::Done(format!("deleted {}", gone.join(", "))))
}

/// Delete one request of `control/<s>/requests/`: the request first, then
/// its answer (never the other way: a request without its answer would
/// look unanswered to an agent). What is gone already is not an error, so
/// a run that stopped between the two converges on the next.
async fn prune_request(
    cx: &Ctx<'_>,
    report: &mut Report,
    resource: &str,
    id: &RequestId,
    because: &RequestPrune,
) -> Result<Outcome, ApplyError> {
    let storage = |source| ApplyError::Storage {
        resource: resource.to_string(),
        source,
    };
    let (request, result) = match because {
        RequestPrune::Recorded { .. } | RequestPrune::Unreadable => (true, true),
        RequestPrune::Expired { .. } => (true, false),
        RequestPrune::ResultAlone => (false, true),
    };
    if request {
        cx.store.delete(&cx.store.request_key(id)).await.map_err(storage)?;
    }
    if result {
        cx.store.delete(&cx.store.result_key(id)).await.map_err(storage)?;
    }
    let what = match because {
        RequestPrune::Recorded { file } => format!("prune request {id} (recorded in {file})"),
        RequestPrune::Expired { .. } => format!("prune request {id} (never answered, expired)"),
        RequestPrune::ResultAlone => format!("prune the answer to {id} (its request is gone)"),
        RequestPrune::Unreadable => format!("prune request {id} (it cannot be read; refused unread)"),
    };
    report.message.push(what.clone());
    Ok(Outcome::Done(what))
}

/// Copy each listed backup into the vault, verified first. A backup that
/// went away since the plan (pruned by an admin, or deleted by the VPS before
/// it was sealed) is skipped and named; a corrupt one fails the step.
async fn seal(cx: &Ctx<'_>, report: &mut Report, resource: &str, names: &[BackupName]) -> Result<Outcome, ApplyError> {
    let world = |source: WorldError| ApplyError::World {
        resource: resource.to_string(),
        source: Box::new(source),
    };
    let (mut sealed, mut gone) = (Vec::new(), Vec::new());
    for name in names {
        match vault::seal(cx.store, name).await {
            Ok(true) => sealed.push(name.to_string()),
            Ok(false) => {}
            Err(WorldError::NoSuchBackup { .. }) => gone.push(name.to_string()),
            Err(e) => return Err(world(e)),
        }
    }
    if !gone.is_empty() {
        tracing::warn!(gone = %gone.join(", "), "backups went away before they were sealed");
    }
    if sealed.is_empty() {
        return Ok(Outcome::Unchanged("already in the vault".into()));
    }
    report
        .message
        .push(format!("seal {} backup(s) in the vault: {}", sealed.len(), sealed.join(", ")));
    Ok(Outcome::Done(format!(
        "copied {} to vault/{}/backups/",
        sealed.join(", "),
        cx.store.server()
    )))
}

impl Apply for PruneRequest {
    async fn apply(&self, cx: &Ctx<'_>, _st: &mut RunState, report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        prune_request(cx, report, resource, &self.id, &self.because).await
    }
}

impl Apply for PruneBackups {
    async fn apply(&self, cx: &Ctx<'_>, _st: &mut RunState, report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        prune(cx, report, resource, self.keep, &self.backups).await
    }
}

impl Apply for SealBackups {
    async fn apply(&self, cx: &Ctx<'_>, _st: &mut RunState, report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        seal(cx, report, resource, &self.backups).await
    }
}
