//! The reconcile workflow's schedule is only a safety net (issue 17 item 5):
//! transitions are driven by the agent's nudges and by pushes, and when a
//! nudge is lost the next scheduled run acts. These tests read the schedule
//! from the example's reconcile.yml itself, through the reconciler's own
//! reader (`repo::workflow_schedule`), so a slower cron line fails here.

use chrono::{DateTime, Duration, Utc};

use super::planner::schedule::SAFETY_NET_INTERVAL;
use super::tests::{desired, final_at, now, running};
use super::*;
use crate::lifecycle::Phase;
use crate::repo::workflow_schedule::WorkflowSchedule;

/// The example's reconcile.yml schedule, read as the reconciler reads it.
fn workflow() -> WorkflowSchedule {
    WorkflowSchedule::read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example")).unwrap()
}

fn next_tick(ws: &WorkflowSchedule, after: DateTime<Utc>) -> DateTime<Utc> {
    ws.next_tick(after).expect("the schedule ticks")
}

/// The agent ended its session (suspended countdown over, final snapshot
/// verified at `snapshot`) and its "ready to terminate" nudge was lost: the
/// run at `run_at` is the next scheduled one.
fn lost_nudge(snapshot: DateTime<Utc>, run_at: DateTime<Utc>) -> (crate::repo::Desired, crate::observe::Observed) {
    let d = desired();
    let mut o = running(&d, snapshot - Duration::hours(2));
    let id = o.session.as_ref().unwrap().id.clone();
    if let Some(s) = o.session.as_mut() {
        s.started = snapshot - Duration::hours(2);
        s.ready = Some(snapshot - Duration::hours(2) + Duration::minutes(3));
    }
    let a = o.agent.as_mut().unwrap();
    a.session = Some(id);
    a.phase = Phase::Terminating;
    a.players_online.clear();
    a.stopped_at = Some(snapshot - Duration::minutes(1));
    a.heartbeat = run_at - Duration::seconds(12);
    final_at(&mut o, snapshot);
    o.now = run_at;
    (d, o)
}

#[test]
fn no_deletion_waits_more_than_one_safety_net_interval_when_a_nudge_is_lost() {
    let crons = workflow();
    // Every minute of a day (the schedule repeats daily), and the seconds in between.
    for minute in 0..(24 * 60) {
        let snapshot = now() + Duration::minutes(minute) + Duration::seconds(31);
        let run_at = next_tick(&crons, snapshot);
        assert!(
            run_at - snapshot <= SAFETY_NET_INTERVAL,
            "a snapshot at {snapshot} waits until {run_at}"
        );
        let (d, o) = lost_nudge(snapshot, run_at);
        let p = plan(&d, &o);
        assert!(
            p.changes.iter().any(|c| matches!(c.step, Step::DeleteServer(DeleteServer { .. }))),
            "the scheduled run at {run_at} deletes the server: {:#?}",
            p.changes
        );
    }
}

#[test]
fn the_safety_net_costs_at_most_720_jobs_a_month() {
    let ws = workflow();
    let start: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
    let end = start + Duration::days(30);
    let jobs = ws.ticks_between(start, end);
    assert!(jobs <= 720, "{jobs} scheduled runs in 30 days");
    // And none at :00, when GitHub delays scheduled runs the most.
    let ticks = crate::plan::ticks_between(|t| ws.next_tick(t), start, end);
    assert!(ticks.iter().all(|t| chrono::Timelike::minute(t) != 0));
}

#[test]
fn the_plan_warns_before_the_included_actions_minutes_run_out() {
    let d = desired();
    let mut o = super::tests::offline(&super::tests::example());
    o.now = "2026-12-07T00:00:00Z".parse().unwrap();
    let mut tally = crate::actions_minutes::ActionsTally::new("2026-12".into());
    tally.private = Some(true);
    tally.runs.insert(1, 300);
    o.actions = Some(tally.usage(o.now));
    let quiet = plan(&d, &o);
    assert!(!quiet.notices.iter().any(|n| n.message.contains("GitHub Actions")));
    // 480 minutes in 6 days of 31: 2,480 projected.
    tally.runs.insert(2, 180);
    o.actions = Some(tally.usage(o.now));
    let p = plan(&d, &o);
    let w = p.notices.iter().find(|n| n.message.contains("GitHub Actions")).expect("a warning");
    assert_eq!(w.level, Level::Warning);
    assert!(
        w.message.contains("480 of the 2000 minutes") && w.message.contains("2480 projected"),
        "{}",
        w.message
    );
    // A public repository's minutes are free: no warning whatever the count.
    tally.private = Some(false);
    o.actions = Some(tally.usage(o.now));
    assert!(!plan(&d, &o).notices.iter().any(|n| n.message.contains("GitHub Actions")));
}
