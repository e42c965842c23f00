//! The decision a plan is built around, derived from the evidence alone:
//! start, refuse (budget, quiet hours, a fresh world over backups), keep
//! running, stop (and why), finish an interrupted stop, or nothing. The
//! decision carries what it was made on (the server, the schedule), so the
//! builder never looks it up again.

use chrono::{DateTime, Utc};

use crate::lifecycle::Phase;
use crate::observe::{Observed, ObservedServer};
use crate::plan::EndReason;
use crate::repo::schedule::Schedule;
use crate::repo::{Desired, SwitchState};

/// What the plan does, with what it was decided on (the server a running
/// or stopping session has, the schedule whose quiet hours refuse a start).
#[derive(Clone, Copy, Debug)]
pub(super) enum Decision<'a> {
    Start,
    RefuseStart,
    /// `state = "running"` during quiet hours: refused until they end.
    RefuseQuiet(&'a Schedule, DateTime<Utc>),
    /// Storage holds backups but no `current.json`: a start would begin a
    /// fresh world over them.
    RefuseFreshWorld,
    KeepRunning(&'a ObservedServer),
    Stop(EndReason, &'a ObservedServer),
    /// The server of a stop is gone but its session is still open (a run
    /// deleted it and ended before closing): finish the stop's records.
    FinishStop(EndReason),
    Nothing,
}

fn over_budget(d: &Desired, o: &Observed) -> bool {
    o.month_to_date > d.server.budget.monthly
}

fn budget_reached(d: &Desired, o: &Observed) -> bool {
    o.month_to_date >= d.server.budget.monthly
}

/// Every branch on the phase goes through [`Observed::phase`], the
/// reconciler's view from the lifecycle's transition function.
pub(super) fn decide<'a>(d: &'a Desired, o: &'a Observed) -> Decision<'a> {
    let wants_run = d.server.state == SwitchState::Running;
    let phase = o.phase();
    // A phase with a server is only ever observed with the server itself.
    let server = o.server.as_ref().filter(|_| phase.has_server());
    let Some(server) = server else {
        if let Some(reason) = interrupted_stop(o).filter(|r| *r != EndReason::Admin) {
            return Decision::FinishStop(reason);
        }
        return match (wants_run, budget_reached(d, o)) {
            (true, false) if let Some((s, until)) = super::schedule::quiet_refusal(d, o) => Decision::RefuseQuiet(s, until),
            (true, false) if fresh_world_over_backups(d, o).is_some() => Decision::RefuseFreshWorld,
            (true, false) => Decision::Start,
            (true, true) => Decision::RefuseStart,
            (false, _) => Decision::Nothing,
        };
    };
    if phase == Phase::Terminating {
        // A stop under way is finished, not reversed: Minecraft may already
        // be down. If the admin wants the server again, it starts afresh.
        return Decision::Stop(ending_reason(d, o), server);
    }
    if o.agent.as_ref().is_some_and(|a| a.crashed) {
        return Decision::Stop(EndReason::Crash, server);
    }
    match stop_reason(d, o) {
        Some(reason) => Decision::Stop(reason, server),
        None => Decision::KeepRunning(server),
    }
}

/// Why a session in the terminating phase ends: the reason its stop was
/// asked for (kept in desired.json), or else the agent's own: a crash loop,
/// or the suspended countdown (idle).
fn ending_reason(d: &Desired, o: &Observed) -> EndReason {
    if let Some(c) = o.control.as_ref().filter(|c| c.stop_requested.is_some()) {
        // A document that names no reason (written before reasons were read back).
        return c.stop_reason.or_else(|| stop_reason(d, o)).unwrap_or(EndReason::Admin);
    }
    if o.agent.as_ref().is_some_and(|a| a.crashed) {
        EndReason::Crash
    } else {
        EndReason::Idle
    }
}

/// The open session's stop, when its server is gone but the stop left its
/// trace: desired.json still asks this session to stop, or its agent's last
/// report said it was terminating. `None`: the server went without a stop.
pub(super) fn interrupted_stop(o: &Observed) -> Option<EndReason> {
    let session = o.session.as_ref()?;
    if let Some(c) = o.control.as_ref()
        && c.session.as_ref() == Some(&session.id)
        && c.stop_requested.is_some()
    {
        return Some(c.stop_reason.unwrap_or(EndReason::Admin));
    }
    let report = o.report_of_session()?;
    (report.phase == Phase::Terminating).then_some(if report.crashed { EndReason::Crash } else { EndReason::Idle })
}

/// The newest backup, when storage holds complete backups but no
/// `current.json` and server.toml names no unused `restore`: the agent would
/// start a fresh world, and the next snapshot would make it current.
pub(super) fn fresh_world_over_backups<'o>(d: &Desired, o: &'o Observed) -> Option<&'o crate::world::BackupName> {
    let backups = o.backups.as_ref().filter(|b| b.current.is_none())?;
    let restoring = d.server.restore.as_ref().is_some_and(|r| !o.restores_done.contains_key(r));
    if restoring {
        return None;
    }
    backups.newest_complete()
}

fn stop_reason(d: &Desired, o: &Observed) -> Option<EndReason> {
    if d.server.state == SwitchState::Stopped {
        return Some(EndReason::Admin);
    }
    if over_budget(d, o) {
        return Some(EndReason::Budget);
    }
    let started = o.session.as_ref().map(|s| s.started)?;
    (o.now - started >= d.server.lifecycle.max_session.to_chrono()).then_some(EndReason::MaxSession)
}
