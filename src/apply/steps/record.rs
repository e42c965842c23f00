//! The steps that only write the repo: what the agent reported, recorded in
//! the open session's file (ready, each suspension: the notifications
//! follow from these; who played, the peak, backups, world size), and the removal of a used `restore` line from
//! server.toml. Each is a no-op when already done, so a rerun records (and
//! posts) nothing twice.

use chrono::{DateTime, Utc};

use super::{Apply, ApplyError, Ctx, Outcome, Report, RunState, control, find_session, write};
use crate::ids::SessionId;
use crate::plan::{ClearRestore, RecordActivity, RecordReady, RecordRequests, RecordStopOverdue, RecordSuspend};
use crate::repo::ledger::{Activity, Event, RequestRecord, Session};

/// Also takes `restore` out of desired.json: the world is restored and
/// Minecraft runs on it, so an agent that restarts later in this session
/// (a reboot) starts from the newest snapshot, not from the old backup again.
async fn record_ready(
    cx: &Ctx<'_>,
    st: &mut RunState,
    report: &mut Report,
    id: &SessionId,
    at: DateTime<Utc>,
) -> Result<Outcome, ApplyError> {
    let outcome = record(cx, st, report, id, at, |s| {
        if s.ready.is_some() {
            return None;
        }
        s.ready = Some(at);
        Some("Minecraft is ready".into())
    })?;
    let doc = control(cx, st).await?;
    if doc.session.as_ref() == Some(id) && doc.restore.is_some() {
        doc.restore = None;
        st.control_dirty = true;
    }
    Ok(outcome)
}

fn record_suspend(cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, id: &SessionId, at: DateTime<Utc>) -> Result<Outcome, ApplyError> {
    record(cx, st, report, id, at, |s| {
        if s.last_suspended.is_some_and(|seen| seen >= at) {
            return None;
        }
        s.last_suspended = Some(at);
        Some("Minecraft suspended: nobody online".into())
    })
}

/// Record the agent's report of who played, the peak, backups and world
/// size. No event: the file's fields say it, and a long session would
/// otherwise collect one event per backup.
fn record_activity(cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, id: &SessionId, a: &Activity) -> Result<Outcome, ApplyError> {
    let mut s = open_session(cx, st, id)?;
    if !s.take_activity(a) {
        return Ok(Outcome::Unchanged("already recorded".into()));
    }
    let what = format!(
        "{} player(s) seen, peak {}, {} backup(s){}",
        s.players_seen.len(),
        s.peak_players,
        s.backups,
        s.world_bytes.map_or(String::new(), |b| format!(", world {b} bytes"))
    );
    write(cx, st, report, s)?;
    report.message.push(format!("session {id}: {what}"));
    Ok(Outcome::Done(what))
}

/// Record the admin's requests the agent answered (`[[requests]]`), each
/// id once: a rerun, or a request seen by two runs, is recorded once.
fn record_requests(
    cx: &Ctx<'_>,
    st: &mut RunState,
    report: &mut Report,
    id: &SessionId,
    requests: &[RequestRecord],
) -> Result<Outcome, ApplyError> {
    let mut s = open_session(cx, st, id)?;
    let new: Vec<RequestRecord> = requests
        .iter()
        .filter(|r| !s.requests.iter().any(|have| have.id == r.id))
        .cloned()
        .collect();
    if new.is_empty() {
        return Ok(Outcome::Unchanged("already recorded".into()));
    }
    let what = format!(
        "{} admin request(s) answered: {}",
        new.len(),
        new.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
    );
    s.requests.extend(new);
    write(cx, st, report, s)?;
    report.message.push(format!("session {id}: {what}"));
    Ok(Outcome::Done(what))
}

/// The stop has waited past the bound: recorded once (Discord follows from it).
fn record_stop_overdue(
    cx: &Ctx<'_>,
    st: &mut RunState,
    report: &mut Report,
    id: &SessionId,
    since: DateTime<Utc>,
) -> Result<Outcome, ApplyError> {
    let now = cx.now;
    record(cx, st, report, id, now, |s| {
        if s.events.iter().any(|e| e.what.starts_with(crate::plan::OVERDUE_EVENT)) {
            return None;
        }
        Some(format!(
            "{}: waiting since {} for the final snapshot; the agent may be dead",
            crate::plan::OVERDUE_EVENT,
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))
    })
}

fn clear_restore(cx: &Ctx<'_>, report: &mut Report, backup: &str, used_by: &SessionId) -> Result<Outcome, ApplyError> {
    let changed = crate::repo::edit::clear_restore(cx.repo, backup)?;
    let what = format!("server.toml no longer names {backup}");
    if !changed {
        return Ok(Outcome::Unchanged(what));
    }
    report.files.push("server.toml".into());
    report.message.push(format!(
        "remove restore = \"{backup}\" from server.toml: session {used_by} restored it, later starts use the newest snapshot"
    ));
    Ok(Outcome::Done(what))
}

/// Record what the agent reported (as of `at`) in an open session's file.
/// `note` changes the session and says what happened, or `None` when it is
/// already recorded.
fn record(
    cx: &Ctx<'_>,
    st: &mut RunState,
    report: &mut Report,
    id: &SessionId,
    at: DateTime<Utc>,
    note: impl FnOnce(&mut Session) -> Option<String>,
) -> Result<Outcome, ApplyError> {
    let mut s = open_session(cx, st, id)?;
    let Some(what) = note(&mut s) else {
        return Ok(Outcome::Unchanged("already recorded".into()));
    };
    s.events.push(Event { at, what: what.clone() });
    write(cx, st, report, s)?;
    report.message.push(format!("session {id}: {what}"));
    Ok(Outcome::Done(what))
}

/// The open session `id`, as this run last wrote it.
fn open_session(cx: &Ctx<'_>, st: &RunState, id: &SessionId) -> Result<Session, ApplyError> {
    find_session(cx, st, id)
        .filter(|s| s.is_open())
        .cloned()
        .ok_or_else(|| ApplyError::Stale {
            resource: format!("session {id}"),
            why: "it is not open in the ledger".into(),
        })
}

impl Apply for RecordReady {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        record_ready(cx, st, report, &self.session, self.at).await
    }
}

impl Apply for RecordSuspend {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        record_suspend(cx, st, report, &self.session, self.at)
    }
}

impl Apply for RecordActivity {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        let a = Activity {
            players_seen: self.players_seen.clone(),
            presence: self.presence.clone(),
            peak_players: self.peak_players,
            backups: self.backups,
            world_bytes: self.world_bytes,
        };
        record_activity(cx, st, report, &self.session, &a)
    }
}

impl Apply for RecordRequests {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        record_requests(cx, st, report, &self.session, &self.requests)
    }
}

impl Apply for RecordStopOverdue {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        record_stop_overdue(cx, st, report, &self.session, self.since)
    }
}

impl Apply for ClearRestore {
    async fn apply(&self, cx: &Ctx<'_>, _st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        clear_restore(cx, report, &self.backup, &self.used_by)
    }
}
