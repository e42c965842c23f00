//! Planned sittings and quiet hours in the plan: a sitting is started by
//! the last run that can still make its minute, once; an explicit start in
//! quiet hours is refused with the reason; the plan names a missing cron line.

use chrono::{DateTime, NaiveTime, Utc};

use super::tests::{example, offline};
use super::*;
use crate::repo::schedule::{QuietHours, Schedule, Sitting};
use crate::repo::{Loaded, SwitchState};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The example with state = "stopped" and Friday 19:00 Berlin (18:00 UTC
/// in December) planned, quiet from 23:30 to 08:00.
fn scheduled() -> Loaded {
    let mut l = example();
    l.desired.server.state = SwitchState::Stopped;
    l.desired.server.schedule = Some(Schedule {
        timezone: chrono_tz::Europe::Berlin,
        sittings: vec![Sitting::new("0 19 * * FRI").unwrap()],
        quiet: vec![QuietHours {
            from: NaiveTime::from_hms_opt(23, 30, 0).unwrap(),
            to: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        }],
    });
    l
}

fn at(l: &Loaded, now: &str) -> crate::observe::Observed {
    let mut o = offline(l);
    o.now = t(now);
    o
}

fn starts(p: &Plan) -> bool {
    p.changes.iter().any(|c| matches!(c.step, Step::CreateServer(CreateServer { .. })))
}

#[test]
fn a_sitting_starts_at_the_last_run_that_can_make_its_minute() {
    let l = scheduled();
    // Hourly ticks at :17: the 17:17 run is the last before 18:00 - 10 min.
    let mut o = at(&l, "2026-12-04T16:17:00Z");
    o.reconcile_ticks = vec![t("2026-12-04T17:17:00Z"), t("2026-12-04T18:17:00Z")];
    let p = plan(&l.desired, &o);
    assert!(!starts(&p), "{:?}", p.changes);
    assert_eq!(p.schedule.as_ref().unwrap().next_start, Some(t("2026-12-04T18:00:00Z")));
    assert_eq!(
        p.schedule.as_ref().unwrap().next_start_local.as_deref(),
        Some("Fri 2026-12-04 19:00 Europe/Berlin")
    );

    o.now = t("2026-12-04T17:17:00Z");
    o.reconcile_ticks = vec![t("2026-12-04T18:17:00Z")];
    let p = plan(&l.desired, &o);
    assert!(starts(&p), "{:?}", p.notices);
    let set = p
        .changes
        .iter()
        .position(|c| matches!(c.step, Step::SetStateRunning(SetStateRunning { sitting }) if sitting == t("2026-12-04T18:00:00Z")));
    let open = p
        .changes
        .iter()
        .position(|c| matches!(c.step, Step::OpenSession(OpenSession { .. })));
    assert!(set.is_some() && open.is_some(), "{:?}", p.changes);
    // The ticks start it 43 minutes early: the plan names the line to add.
    assert!(
        p.notices
            .iter()
            .any(|n| n.level == Level::Warning && n.message.contains("`- cron: \"45 17 * * FRI\"`")),
        "{:?}",
        p.notices
    );
}

#[test]
fn a_sitting_starts_once_even_after_its_session_ended() {
    let l = scheduled();
    let mut o = at(&l, "2026-12-04T18:17:00Z");
    // A session started by the 17:17 run, already over (say nobody came).
    o.last_start = Some(t("2026-12-04T17:17:30Z"));
    assert!(!starts(&plan(&l.desired, &o)));
    // Without it, a late run (GitHub's delay) still starts the sitting.
    o.last_start = None;
    assert!(starts(&plan(&l.desired, &o)));
}

#[test]
fn without_known_ticks_one_per_safety_net_interval_is_assumed() {
    let l = scheduled();
    // 16:55: the next tick is assumed at 17:55, past 18:00 - 10 min.
    assert!(starts(&plan(&l.desired, &at(&l, "2026-12-04T16:55:00Z"))));
    assert!(!starts(&plan(&l.desired, &at(&l, "2026-12-04T16:45:00Z"))));
}

#[test]
fn an_explicit_start_in_quiet_hours_is_refused_with_when_they_end() {
    let mut l = scheduled();
    l.desired.server.state = SwitchState::Running;
    let p = plan(&l.desired, &at(&l, "2026-12-05T01:00:00Z")); // 02:00 Berlin
    assert!(!starts(&p));
    assert!(
        p.changes
            .iter()
            .any(|c| matches!(c.step, Step::RefuseQuietStart(RefuseQuietStart { until }) if until == t("2026-12-05T07:00:00Z")))
    );
    let refusal = p.notices.iter().find(|n| n.level == Level::Error).expect("an error notice");
    assert!(refusal.message.contains("quiet hours 23:30-08:00"), "{}", refusal.message);
    assert!(
        refusal.message.contains("Sat 2026-12-05 08:00 Europe/Berlin"),
        "{}",
        refusal.message
    );
    assert_eq!(p.schedule.as_ref().unwrap().quiet_now.as_deref(), Some("23:30-08:00"));
    // Outside them the same switch starts.
    assert!(starts(&plan(&l.desired, &at(&l, "2026-12-05T07:00:00Z"))));
}

#[test]
fn quiet_hours_do_not_stop_a_running_session() {
    let mut l = scheduled();
    l.desired.server.state = SwitchState::Running;
    let mut o = super::tests::running(&l.desired, t("2026-12-04T21:00:00Z"));
    o.now = t("2026-12-04T23:00:00Z"); // 00:00 Berlin
    let p = plan(&l.desired, &o);
    assert!(
        !p.changes.iter().any(|c| matches!(
            c.step,
            Step::RequestStop(RequestStop { .. }) | Step::RefuseQuietStart(RefuseQuietStart { .. })
        )),
        "{:?}",
        p.changes
    );
}

#[test]
fn a_sitting_in_quiet_hours_is_skipped_with_a_warning() {
    let mut l = scheduled();
    l.desired.server.schedule.as_mut().unwrap().sittings = vec![Sitting::new("0 7 * * SAT").unwrap()];
    let p = plan(&l.desired, &at(&l, "2026-12-05T05:55:00Z"));
    assert!(!starts(&p));
    assert!(
        p.notices
            .iter()
            .any(|n| n.level == Level::Warning && n.message.contains("falls in quiet hours"))
    );
}

#[test]
fn the_effect_of_a_scheduled_start_is_a_running_switch() {
    let l = scheduled();
    let o = at(&l, "2026-12-04T17:55:00Z");
    let p = plan(&l.desired, &o);
    let (d, _) = super::effect::simulate(&l.desired, &o, &p);
    assert_eq!(d.server.state, SwitchState::Running);
}

#[test]
fn a_sitting_over_the_budget_is_not_started_and_the_switch_stays_stopped() {
    let l = scheduled();
    let mut o = at(&l, "2026-12-04T17:55:00Z");
    o.month_to_date = l.desired.server.budget.monthly;
    let p = plan(&l.desired, &o);
    assert!(!starts(&p));
    assert!(
        p.changes.iter().all(|c| !matches!(
            c.step,
            Step::SetStateRunning(SetStateRunning { .. }) | Step::SetStateStopped(SetStateStopped { .. })
        )),
        "{:?}",
        p.changes
    );
}

#[test]
fn ticks_between_lists_a_cron_s_ticks_in_the_window() {
    use crate::repo::workflow_schedule::ticks_between;
    let hourly = |after: DateTime<Utc>| {
        let at17 = after
            .date_naive()
            .and_hms_opt(chrono::Timelike::hour(&after), 17, 0)
            .unwrap()
            .and_utc();
        Some(if at17 > after { at17 } else { at17 + chrono::Duration::hours(1) })
    };
    let ticks = ticks_between(hourly, t("2026-12-04T10:20:00Z"), t("2026-12-04T13:17:00Z"));
    assert_eq!(
        ticks,
        [t("2026-12-04T11:17:00Z"), t("2026-12-04T12:17:00Z"), t("2026-12-04T13:17:00Z")]
    );
    assert!(ticks_between(|_| None, t("2026-12-04T10:20:00Z"), t("2026-12-05T00:00:00Z")).is_empty());
}
