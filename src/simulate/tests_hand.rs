//! The hand-computed case: four sittings through three policies, every
//! figure worked out below by hand from the rules (transition, the seed's
//! timers, `termination_time`, Hetzner's every-started-hour bill), and the
//! simulator must agree exactly.
//!
//! Settings: cold start 180 s, warm start 40 s, final snapshot 30 s, every
//! dispatched run starts exactly 30 s after (so a new server is created 30 s
//! after the press), no lost nudge, schedule `0 * * * *`, a run with
//! nothing to do bills 1 minute and one that creates or deletes 2.
//!
//! The trace (2026-12-04 is a Friday):
//!   S1 Fri 19:10–20:00, S2 20:30–21:00, S3 22:04–23:00, S4 Sat 19:00–19:20.

use chrono::{DateTime, Duration, Utc};

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn sittings() -> Vec<Sitting> {
    [
        ("2026-12-04T19:10:00Z", "2026-12-04T20:00:00Z"),
        ("2026-12-04T20:30:00Z", "2026-12-04T21:00:00Z"),
        ("2026-12-04T22:04:00Z", "2026-12-04T23:00:00Z"),
        ("2026-12-05T19:00:00Z", "2026-12-05T19:20:00Z"),
    ]
    .map(|(a, b)| Sitting { start: t(a), end: t(b) })
    .to_vec()
}

fn settings() -> Settings {
    Settings {
        timers: Timers::default(),
        cold_start: Duration::seconds(180),
        warm_start: Duration::seconds(40),
        final_snapshot: Duration::seconds(30),
        dispatch_delay: (Duration::seconds(30), Duration::seconds(30)),
        schedule_delay: (Duration::seconds(60), Duration::seconds(60)),
        nudge_loss: 0.0,
        schedule: WorkflowSchedule::from_crons(&["0 * * * *"]).unwrap(),
        job_idle: Duration::seconds(40),
        job_work: Duration::seconds(100),
        price_hourly: Decimal::new(80, 4),
        seed: 1,
    }
}

/// Seed 15/45, terminate when `suspended` elapses:
/// - S1 19:10 offline: created 19:10:30, ready 19:13:00 (wait 180 s, cold);
///   left 20:00, idle until 20:15.
/// - S2 20:30: suspended at 20:15, termination due 21:00 → still suspended:
///   warm (40 s). Left 21:00, idle until 21:15.
/// - S3 22:04: suspended 21:15, due 22:00 → terminating 22:00, snapshot
///   22:00:30, deleted 22:01:00: 19:10:30→22:01:00 is 2 h 50 min 30 s, 3 h.
///   Cold: created 22:04:30, ready 22:07:00. Left 23:00.
/// - S4 Sat 19:00: suspended 23:15, due 00:00, deleted 00:01:00:
///   22:04:30→00:01:00 = 1 h 56 min 30 s, 2 h. Cold: created 19:00:30. Left 19:20.
/// - After: suspended 19:35, due 20:20, deleted 20:21:00: 1 h 20 min 30 s, 2 h.
///
/// 3 + 2 + 2 = 7 h on 3 servers; 3 cold, 1 warm, 0 instant; waits 180, 40,
/// 180, 180 (580 s, p95 180 s). Runs: S1 start + ready; S2's suspend; S3
/// suspend, termination, start, ready; S4 the same four; after: suspend and
/// termination = 13, of which 6 create or delete (2 min) and 7 do not
/// (1 min): 19 min. Hourly ticks over the two days (Fri 00:00, Sun 00:00]: 48.
#[test]
fn the_seed_rule_by_hand() {
    let got = simulate(&[], &sittings(), Policy::Seed, &settings());
    assert_eq!(got.billed_hours, 7);
    assert_eq!(got.servers, 3);
    assert_eq!((got.cold_starts, got.warm_starts, got.instant_joins), (3, 1, 0));
    assert_eq!(got.waits, [180, 40, 180, 180]);
    assert_eq!((got.dispatched_jobs, got.dispatched_minutes), (13, 19));
    assert_eq!((got.scheduled_jobs, got.scheduled_minutes), (48, 48));
    let row = report::Row::of("seed".into(), &got, Decimal::new(80, 4));
    assert_eq!((row.total_wait_secs, row.p95_wait_secs), (580, 180));
    assert_eq!(row.cost, Decimal::new(6, 2), "7 h × 0.0080 = 0.056 → 0.06");
}

/// Billing-hour aware (the agent as shipped): the request waits until 5 min
/// before the paid hour ends (hours count from 19:10:30).
/// - S2 20:30: suspended 20:15, plain 21:00 is in the hour paid to 21:10:30 → due 21:05:30: warm.
/// - S3 22:04: suspended 21:15, plain 22:00, paid to 22:10:30 → due 22:05:30,
///   still suspended at 22:04: warm (the seed's rule cold-starts here).
/// - S4 Sat 19:00: suspended 23:15, plain 00:00, paid to 00:10:30 → due
///   00:05:30, snapshot 00:06:00, deleted 00:06:30: 19:10:30→00:06:30 = 4 h 56 min, 5 h.
///   Cold: created 19:00:30. Left 19:20.
/// - After: suspended 19:35, plain 20:20, paid to 21:00:30 → due 20:55:30,
///   deleted 20:56:30: 1 h 56 min, 2 h.
///
/// 5 + 2 = 7 h on 2 servers; 2 cold, 2 warm; waits 180, 40, 40, 180 (440 s).
/// Runs: S1 2; S2 1; S3 1; S4 4; after 2 = 10; 4 create or delete: 8 + 6 = 14 min.
#[test]
fn the_billing_hour_rule_by_hand() {
    let got = simulate(&[], &sittings(), Policy::BillingAware, &settings());
    assert_eq!(got.billed_hours, 7);
    assert_eq!(got.servers, 2);
    assert_eq!((got.cold_starts, got.warm_starts, got.instant_joins), (2, 2, 0));
    assert_eq!(got.waits, [180, 40, 40, 180]);
    assert_eq!((got.dispatched_jobs, got.dispatched_minutes), (10, 14));
}

/// Fixed X = 0: no idle countdown, terminate 5 min before the first paid-hour end.
/// - S1: created 19:10:30; left 20:00, suspended at once; paid to 20:10:30 →
///   due 20:05:30, deleted 20:06:30: 1 h. S2 20:30 cold: created 20:30:30.
/// - Left 21:00: paid to 21:30:30 → deleted 21:26:30: 1 h. S3 22:04 cold: created 22:04:30.
/// - Left 23:00: paid to 23:04:30, less the margin 22:59:30 is before the
///   leave, so due 23:00, deleted 23:01:00 (still in the hour): 1 h. S4 cold: created 19:00:30.
/// - Left 19:20: paid to 20:00:30 → deleted 19:56:30: 1 h.
///
/// 4 h on 4 servers, 4 cold starts (180 s each). Runs: 4 × (start, ready,
/// suspend, termination) = 16.
#[test]
fn keep_zero_by_hand() {
    let got = simulate(&[], &sittings(), Policy::Fixed(0), &settings());
    assert_eq!(got.billed_hours, 4);
    assert_eq!(got.servers, 4);
    assert_eq!((got.cold_starts, got.warm_starts, got.instant_joins), (4, 0, 0));
    assert_eq!(got.waits, [180; 4]);
    assert_eq!(got.dispatched_jobs, 16);
}

/// A lost nudge: the deletion waits for the next scheduled run. Seed rule,
/// every nudge lost, schedule delay exactly 60 s: after S4 the termination
/// request at 20:20:30 is picked up by the 21:00 tick, run at 21:01:00:
/// 19:00:30→21:01:00 = 2 h 0 min 30 s, 3 h instead of 2.
#[test]
fn a_lost_nudge_waits_for_the_schedule() {
    let s = Settings {
        nudge_loss: 1.0,
        ..settings()
    };
    let one = [Sitting {
        start: t("2026-12-05T19:00:00Z"),
        end: t("2026-12-05T19:20:00Z"),
    }];
    let got = simulate(&[], &one, Policy::Seed, &s);
    assert_eq!(got.billed_hours, 3);
    assert_eq!(
        got.dispatched_jobs, 1,
        "only the start; the ready, suspend and termination nudges are lost"
    );
}
