//! Retention, carried out: delete the backups the plan listed. The rule was
//! applied by the planner on one list of the backups; right before the
//! deletes this checks again what may have moved since (one read of
//! `current.json`, one look at each listed backup's pin), so a backup that
//! became current or was pinned in between is kept. Deleting a backup that
//! is already gone is not an error: a rerun after a crash converges.

use super::{ApplyError, Ctx, Outcome, Report};
use crate::world::{BackupName, WorldError, retention};

pub(super) async fn prune(
    cx: &Ctx<'_>,
    report: &mut Report,
    resource: &str,
    keep: u32,
    names: &[BackupName],
) -> Result<Outcome, ApplyError> {
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
    report.message.push(format!(
        "prune {} old snapshot(s) beyond keep_backups = {keep}: {}",
        gone.len(),
        gone.join(", ")
    ));
    Ok(Outcome::Done(format!("deleted {}", gone.join(", "))))
}
