//! Planner tests for the warnings before a stop (issue 13): the countdown
//! travels with the stop request, shows as a wait while the agent reports
//! players online to hear it, and the overdue alert counts from its end.

use chrono::Duration;

use super::tests::{both, desired, now, running};
use super::*;
use crate::countdown::StopWarnings;
use crate::observe::Observed;
use crate::repo::{Desired, SwitchState};

/// The admin flipped `state = "stopped"`; the agent reports for this session
/// with Steve and Alex online.
fn admin_stop() -> (Desired, Observed) {
    let mut d = desired();
    let mut o = running(&d, now() - Duration::hours(2));
    d.server.state = SwitchState::Stopped;
    let id = o.session.as_ref().unwrap().id.clone();
    o.agent.as_mut().unwrap().session = Some(id);
    (d, o)
}

fn wait_of(p: &Plan) -> Option<(&Change, DateTime<Utc>)> {
    p.changes.iter().find_map(|c| match c.step {
        Step::AwaitCountdown(AwaitCountdown { ends, .. }) => Some((c, ends)),
        _ => None,
    })
}

fn warnings_sent(p: &Plan) -> Option<&StopWarnings> {
    p.changes.iter().find_map(|c| match &c.step {
        Step::RequestStop(RequestStop { warnings, .. }) => Some(warnings),
        _ => None,
    })
}

#[test]
fn an_admin_stop_with_players_online_sends_the_countdown_and_waits_for_it() {
    let (d, o) = admin_stop();
    let p = plan(&d, &o);
    let (text, json) = both(&p);
    insta::assert_snapshot!("countdown_text", text);
    insta::assert_snapshot!("countdown_json", json);
    assert_eq!(warnings_sent(&p), Some(&StopWarnings::standard()));
    let (wait, ends) = wait_of(&p).expect("the countdown is a wait");
    assert_eq!(ends, now() + Duration::minutes(5));
    assert_eq!(wait.op, Op::Wait);
    assert_eq!(wait.after, serde_json::json!("stop in 5m (admin), at 2026-11-22T19:35:00Z"));
    let pos = |f: fn(&Step) -> bool| p.changes.iter().position(|c| f(&c.step)).unwrap();
    assert!(
        pos(|s| matches!(s, Step::RequestStop(RequestStop { .. }))) < pos(|s| matches!(s, Step::AwaitCountdown(AwaitCountdown { .. })))
    );
    assert!(
        pos(|s| matches!(s, Step::AwaitCountdown(AwaitCountdown { .. }))) < pos(|s| matches!(s, Step::AwaitSnapshot(AwaitSnapshot { .. })))
    );
}

/// A later run, two minutes into the countdown: no second request, the
/// wait counts from the request's time in desired.json.
#[test]
fn a_run_during_the_countdown_waits_for_what_is_left_of_it() {
    let (d, mut o) = admin_stop();
    let c = o.control.as_mut().unwrap();
    c.stop_requested = Some(now() - Duration::minutes(2));
    c.stop_reason = Some(EndReason::Admin);
    c.stop_warnings = StopWarnings::standard();
    let p = plan(&d, &o);
    assert_eq!(warnings_sent(&p), None, "asked already");
    let (wait, ends) = wait_of(&p).unwrap();
    assert_eq!(ends, now() + Duration::minutes(3));
    assert_eq!(wait.after, serde_json::json!("stop in 3m (admin), at 2026-11-22T19:33:00Z"));
    // Over: the agent stops Minecraft; only the snapshot is waited for.
    o.control.as_mut().unwrap().stop_requested = Some(now() - Duration::minutes(6));
    assert!(wait_of(&plan(&d, &o)).is_none());
}

#[test]
fn no_wait_when_nobody_is_online_or_no_countdown_is_configured() {
    let (d, mut o) = admin_stop();
    let a = o.agent.as_mut().unwrap();
    a.phase = Phase::Idle;
    a.players_online.clear();
    let p = plan(&d, &o);
    assert_eq!(
        warnings_sent(&p),
        Some(&StopWarnings::standard()),
        "sent all the same: someone may join"
    );
    assert!(wait_of(&p).is_none(), "nobody online: the agent stops at once");

    let (mut d, o) = admin_stop();
    d.server.lifecycle.stop_warnings = StopWarnings::default();
    let p = plan(&d, &o);
    assert_eq!(warnings_sent(&p), Some(&StopWarnings::default()));
    assert!(wait_of(&p).is_none());
}

/// Budget and max_session are felt like the admin's stop; a crash loop
/// (Minecraft is down) is not.
#[test]
fn only_stops_players_would_feel_are_warned_of() {
    let (mut d, o) = admin_stop();
    d.server.state = SwitchState::Running;
    let mut over = o.clone();
    over.month_to_date = d.server.budget.monthly + rust_decimal::Decimal::ONE;
    assert_eq!(warnings_sent(&plan(&d, &over)), Some(&StopWarnings::standard()));
    let mut long = o.clone();
    long.session.as_mut().unwrap().started = now() - Duration::hours(13);
    let p = plan(&d, &long);
    assert!(wait_of(&p).unwrap().0.after.as_str().unwrap().contains("(max-session)"));
    let mut crashed = o;
    let a = crashed.agent.as_mut().unwrap();
    a.crashed = true;
    a.players_online.clear();
    assert_eq!(warnings_sent(&plan(&d, &crashed)), Some(&StopWarnings::default()));
}

/// A stop asked 34 minutes ago with a 5-minute countdown has waited 29
/// minutes for its snapshot, not 34: no alert yet. At 36 it has.
#[test]
fn the_overdue_alert_counts_from_the_end_of_the_countdown() {
    let (d, mut o) = admin_stop();
    let a = o.agent.as_mut().unwrap();
    a.phase = Phase::Terminating;
    a.players_online.clear();
    let alert = |o: &Observed| plan(&d, o).notices.into_iter().find(|n| n.level == Level::Alert).map(|n| n.message);
    let c = o.control.as_mut().unwrap();
    c.stop_requested = Some(now() - Duration::minutes(34));
    c.stop_reason = Some(EndReason::Admin);
    c.stop_warnings = StopWarnings::standard();
    assert_eq!(alert(&o), None);
    o.control.as_mut().unwrap().stop_requested = Some(now() - Duration::minutes(36));
    let message = alert(&o).expect("overdue");
    assert!(message.contains("has waited 31 min since its countdown ended"), "{message}");
    // Without a countdown, 31 minutes after the request is overdue, as before.
    let c = o.control.as_mut().unwrap();
    c.stop_requested = Some(now() - Duration::minutes(31));
    c.stop_warnings = StopWarnings::default();
    let message = alert(&o).expect("overdue");
    assert!(message.contains("has waited 31 min for its final snapshot"), "{message}");
}

/// Anything on the VPS can write status.json: an agent that reports players
/// online forever holds neither the stop nor the alert back. The
/// countdown's end is the reconciler's own request time plus its warning.
#[test]
fn an_agent_reporting_players_forever_does_not_stretch_the_countdown() {
    let (d, mut o) = admin_stop();
    let c = o.control.as_mut().unwrap();
    c.stop_requested = Some(now() - Duration::minutes(40));
    c.stop_reason = Some(EndReason::Admin);
    c.stop_warnings = StopWarnings::standard();
    let p = plan(&d, &o);
    assert!(wait_of(&p).is_none(), "{:#?}", p.changes);
    assert!(p.notices.iter().any(|n| n.level == Level::Alert), "{:#?}", p.notices);
}
