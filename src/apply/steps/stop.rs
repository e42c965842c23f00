//! The end of a server: wait for the termination guard, ask an orphan to
//! stop, and delete. The guard's rule lives in `crate::world::guard`; here it
//! is checked against storage right before each delete, so a plan made on an
//! older observation can never delete a server whose world is not safe.

use chrono::{DateTime, Utc};

use super::{Apply, ApplyError, Ctx, Outcome, Report, RunState, control, flush_control};
use crate::ids::{HetznerServerId, SessionId};
use crate::plan::{AskOrphanToStop, AwaitCountdown, AwaitSnapshot, DeleteServer, EndReason};

/// The current snapshot when it is `session`'s final one for the stop at
/// `after`, verified; else why not.
async fn guard(
    cx: &Ctx<'_>,
    session: &SessionId,
    after: DateTime<Utc>,
    resource: &str,
) -> Result<Result<crate::world::Manifest, String>, ApplyError> {
    crate::world::guard::final_snapshot(cx.store, session, after, cx.now)
        .await
        .map_err(|source| ApplyError::Storage {
            resource: resource.to_string(),
            source,
        })
}

async fn await_snapshot(
    cx: &Ctx<'_>,
    st: &mut RunState,
    resource: &str,
    session: &SessionId,
    taken_after: DateTime<Utc>,
) -> Result<Outcome, ApplyError> {
    flush_control(cx, st).await?;
    Ok(match guard(cx, session, taken_after, resource).await? {
        Ok(m) => Outcome::Done(format!("the final snapshot {} is verified", m.name)),
        Err(why) => Outcome::Waiting(format!(
            "no verified final snapshot of session {session} taken after {} yet ({why}); the next run continues",
            taken_after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
    })
}

/// The agent is warning the players online before it stops Minecraft
/// (`say`, [`crate::countdown`]): the run waits until the countdown's end,
/// and the next run goes on to the final snapshot.
fn await_countdown(cx: &Ctx<'_>, ends: DateTime<Utc>) -> Outcome {
    let at = ends.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if cx.now < ends {
        Outcome::Waiting(format!(
            "the agent is warning the players online; Minecraft stops at {at}; the next run continues"
        ))
    } else {
        Outcome::Done(format!("the countdown ended at {at}"))
    }
}

/// The admin's force-stop holds only while the backup it accepts is still
/// the current one, verified: otherwise more (or other) play would be lost
/// than the admin accepted, and the delete is refused with the reason.
async fn check_force(cx: &Ctx<'_>, resource: &str, force: &crate::repo::model::ForceStop) -> Result<(), ApplyError> {
    let storage = |source| ApplyError::Storage {
        resource: resource.to_string(),
        source,
    };
    let refused = |why: String| ApplyError::Invalid {
        resource: resource.to_string(),
        why: format!("force-stop refused: {why}; nothing was deleted"),
    };
    let Some(p) = cx.store.current_snapshot().await.map_err(storage)? else {
        return Err(refused(format!(
            "accept_backup = \"{}\" but there is no current.json",
            force.accept_backup
        )));
    };
    let name = crate::world::BackupName::from_key(&p.key).map(|n| n.to_string());
    if name.as_deref() != Some(force.accept_backup.as_str()) {
        return Err(refused(format!(
            "accept_backup = \"{}\" but the current backup is now {}",
            force.accept_backup,
            name.unwrap_or(p.key.clone())
        )));
    }
    if crate::world::backing(cx.store, &p).await.map_err(storage)?.is_none() || !p.verified {
        return Err(refused(format!("backup {} is not verified in storage", force.accept_backup)));
    }
    Ok(())
}

/// desired.json names the orphan's session and asks it to stop; only while
/// the document names no session (no other session may lose its document).
async fn ask_orphan(
    cx: &Ctx<'_>,
    st: &mut RunState,
    report: &mut Report,
    resource: &str,
    name: &str,
    session: &SessionId,
) -> Result<Outcome, ApplyError> {
    let doc = control(cx, st).await?;
    if doc.session.as_ref() == Some(session) && doc.stop_requested.is_some() {
        return Ok(Outcome::Unchanged("already asked".into()));
    }
    if let Some(other) = doc.session.as_ref() {
        return Err(ApplyError::Stale {
            resource: resource.to_string(),
            why: format!("desired.json names session {other} now"),
        });
    }
    doc.session = Some(session.clone());
    doc.stop_requested = Some(cx.now);
    doc.stop_reason = Some(EndReason::Drift);
    // An orphan's session has ended: nobody is meant to be on it.
    doc.stop_warnings = Default::default();
    st.control_dirty = true;
    flush_control(cx, st).await?;
    report
        .message
        .push(format!("ask orphan server {name} (session {session}) to stop and sync"));
    Ok(Outcome::Done("its agent stops Minecraft and uploads a final snapshot".into()))
}

/// Delete the server (the caller checked the guard, or the admin forced
/// it). An orphan's stop request is then taken out of desired.json, so the
/// document is free for the next session.
async fn delete_server(
    cx: &Ctx<'_>,
    st: &mut RunState,
    report: &mut Report,
    resource: &str,
    name: &str,
    id: Option<HetznerServerId>,
    session: &SessionId,
) -> Result<Outcome, ApplyError> {
    let hetzner = |source: crate::hetzner::HetznerError| ApplyError::Hetzner {
        resource: resource.to_string(),
        source: source.into(),
    };
    let id = match id {
        Some(id) => Some(id),
        None => cx.hetzner.server_by_name(name).await.map_err(hetzner)?.map(|s| s.id),
    };
    let outcome = match id {
        None => Outcome::Unchanged("already gone".into()),
        Some(id) => match cx.hetzner.delete_server(id).await.map_err(hetzner)? {
            None => Outcome::Unchanged("already gone".into()),
            Some(action) => {
                cx.hetzner
                    .wait_action(action.id, std::time::Duration::from_secs(300))
                    .await
                    .map_err(hetzner)?;
                report.message.push(format!("delete server {name}"));
                Outcome::Done(format!("server {id} deleted"))
            }
        },
    };
    let open = cx.observed.session.as_ref().is_some_and(|s| &s.id == session);
    if !open {
        let doc = control(cx, st).await?;
        if doc.session.as_ref() == Some(session) {
            doc.session = None;
            doc.stop_requested = None;
            doc.stop_reason = None;
            doc.stop_warnings = Default::default();
            st.control_dirty = true;
        }
    }
    Ok(outcome)
}

impl Apply for AwaitCountdown {
    async fn apply(&self, cx: &Ctx<'_>, _st: &mut RunState, _report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        Ok(await_countdown(cx, self.ends))
    }
}

impl Apply for AwaitSnapshot {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, _report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        await_snapshot(cx, st, resource, &self.session, self.taken_after).await
    }
}

impl Apply for AskOrphanToStop {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        ask_orphan(cx, st, report, resource, &self.name, &self.session).await
    }
}

impl Apply for DeleteServer {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        let Self {
            name,
            id,
            session,
            snapshot_after,
            force,
        } = self;
        if let Some(force) = force {
            check_force(cx, resource, force).await?;
            return delete_server(cx, st, report, resource, name, *id, session).await;
        }
        // The termination guard, checked again right before the delete.
        if let Err(why) = guard(cx, session, *snapshot_after, resource).await? {
            return Ok(Outcome::Waiting(format!("the world is not safe in storage yet: {why}")));
        }
        delete_server(cx, st, report, resource, name, *id, session).await
    }
}
