//! How long to keep the VPS after the last player leaves: the one decision
//! the agent makes at each leave, as pure functions that the agent's loop
//! and `mc-gitops simulate` both call.
//!
//! Without a learned policy the agent keeps its timers (the seed's rule:
//! `idle`, then `suspended`, then, with `warm_until_paid`, until shortly
//! before the paid hour ends). A learned [`ShutdownPolicy`] (computed by the
//! reconciler from the ledger's return gaps, [`learn`], and carried in
//! `desired.json`) instead says, for the leave's context (weekday or
//! weekend, hour of the day, sittings so far that day), a keep time X: the
//! VPS is kept until the first paid-hour end at least X after the leave
//! (less `billing_margin`), the idle countdown never outlasting X.
//!
//! Days and hours are UTC, as the ledger's times are.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

pub(crate) mod billing;

use crate::lifecycle::Timers;
use billing::termination_time;

pub mod learn;

/// Weekday or weekend: groups play differently on each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DayKind {
    Weekday,
    Weekend,
}

impl DayKind {
    pub const ALL: [DayKind; 2] = [DayKind::Weekday, DayKind::Weekend];

    pub fn of(day: NaiveDate) -> Self {
        match day.weekday() {
            Weekday::Sat | Weekday::Sun => DayKind::Weekend,
            _ => DayKind::Weekday,
        }
    }
}

/// Hours of the day per bucket of [`Context::hour_from`].
pub const HOURS_PER_BUCKET: u32 = 3;
/// The last sittings count told apart: 3 means "3 or more".
pub const MAX_SITTINGS: u32 = 3;

/// What the decision at a leave depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Context {
    pub days: DayKind,
    /// The first hour (UTC) of the 3-hour bucket the leave falls in.
    pub hour_from: u32,
    /// Sittings that ended so far that day, this one included (1…3, 3 = 3 or more).
    pub sitting: u32,
}

impl Context {
    /// The context of a leave at `left`, the `sittings_today`th that day (this one included).
    pub fn at(left: DateTime<Utc>, sittings_today: u32) -> Self {
        Context {
            days: DayKind::of(left.date_naive()),
            hour_from: left.hour() / HOURS_PER_BUCKET * HOURS_PER_BUCKET,
            sitting: sittings_today.clamp(1, MAX_SITTINGS),
        }
    }

    /// Every context, in the order a policy's rules list them.
    pub fn all() -> impl Iterator<Item = Context> {
        DayKind::ALL.into_iter().flat_map(|days| {
            (0..24 / HOURS_PER_BUCKET).flat_map(move |b| {
                (1..=MAX_SITTINGS).map(move |sitting| Context {
                    days,
                    hour_from: b * HOURS_PER_BUCKET,
                    sitting,
                })
            })
        })
    }
}

/// One row of a learned policy: in this context, keep the VPS `keep_minutes`
/// after the leave (then to the paid hour's end).
// No deny_unknown_fields: a newer reconciler's field must not make an older
// agent's whole desired.json unreadable (ControlDoc does the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepRule {
    pub days: DayKind,
    /// The bucket's first hour (UTC); it covers three hours.
    pub hour_from: u32,
    /// The sitting of the day (1, 2, or 3 for 3 or more).
    pub sitting: u32,
    pub keep_minutes: u32,
    /// Leaves in the ledger this rule was decided from (after pooling sparse contexts).
    pub samples: u32,
}

/// `desired.json`'s `shutdown`: the learned policy the agent follows at each leave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShutdownPolicy {
    /// Leaves (with their return gaps) in the history it was learned from.
    pub leaves: u32,
    /// Cold starts over that history, expected under this policy and counted under the seed's rule.
    pub expected_cold_starts: f64,
    pub seed_cold_starts: u32,
    /// Sittings that ended on `today` (UTC) in earlier sessions, so the
    /// agent counts the day's sittings across a deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub today: Option<NaiveDate>,
    #[serde(default)]
    pub sittings_before: u32,
    /// One rule per [`Context`].
    pub rules: Vec<KeepRule>,
}

impl ShutdownPolicy {
    /// The same keep time in every context (the fixed rules of the benchmark's frontier).
    pub fn fixed(keep: Duration) -> Self {
        let keep_minutes = u32::try_from(keep.num_minutes().max(0)).unwrap_or(u32::MAX);
        ShutdownPolicy {
            leaves: 0,
            expected_cold_starts: 0.0,
            seed_cold_starts: 0,
            today: None,
            sittings_before: 0,
            rules: Context::all()
                .map(|c| KeepRule {
                    days: c.days,
                    hour_from: c.hour_from,
                    sitting: c.sitting,
                    keep_minutes,
                    samples: 0,
                })
                .collect(),
        }
    }

    /// The keep time for a context; `None` when no rule covers it (the seed's rule then).
    pub fn keep_for(&self, c: Context) -> Option<Duration> {
        self.rules
            .iter()
            .find(|r| r.days == c.days && r.hour_from == c.hour_from && r.sitting == c.sitting)
            .map(|r| Duration::minutes(i64::from(r.keep_minutes)))
    }

    /// Sittings earlier on `day` the reconciler counted in earlier sessions.
    pub fn sittings_before_on(&self, day: NaiveDate) -> u32 {
        if self.today == Some(day) { self.sittings_before } else { 0 }
    }
}

/// The decision at a leave: how long the idle countdown runs, and (with a
/// learned policy) from when the keep time counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AfterLeave {
    pub idle: Duration,
    /// The leave and the keep time X; `None`: the timers' own rule.
    pub keep: Option<(DateTime<Utc>, Duration)>,
}

/// What to do when the last player leaves at `left` (or a booted server
/// waits for its first player), the `sittings_today`th sitting to end that day.
pub fn after_leave(timers: &Timers, policy: Option<&ShutdownPolicy>, left: DateTime<Utc>, sittings_today: u32) -> AfterLeave {
    let idle = timers.idle.to_chrono();
    match policy.and_then(|p| p.keep_for(Context::at(left, sittings_today))) {
        Some(keep) => AfterLeave {
            idle: idle.min(keep),
            keep: Some((left, keep)),
        },
        None => AfterLeave { idle, keep: None },
    }
}

/// When a server suspended at `since` asks for termination: by the timers
/// (`billing::terminate_at`) without a keep time, else at the
/// first paid-hour end at least X after the leave, less `billing_margin`
/// (with `warm_until_paid = false`: X after the leave), never before `since`.
pub fn terminate_at(
    timers: &Timers,
    keep: Option<(DateTime<Utc>, Duration)>,
    created: DateTime<Utc>,
    since: DateTime<Utc>,
) -> DateTime<Utc> {
    let Some((left, x)) = keep else {
        return billing::terminate_at(timers, created, since);
    };
    let limit = (left + x - since).max(Duration::zero());
    if timers.warm_until_paid {
        termination_time(created, since, limit, timers.billing_margin.to_chrono())
    } else {
        since + limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn without_a_policy_the_timers_decide() {
        let timers = Timers::default();
        let left = t("2026-12-04T20:10:00Z");
        let a = after_leave(&timers, None, left, 1);
        assert_eq!(
            a,
            AfterLeave {
                idle: Duration::minutes(15),
                keep: None
            }
        );
        let created = t("2026-12-04T19:00:00Z");
        let since = left + a.idle;
        assert_eq!(
            terminate_at(&timers, a.keep, created, since),
            billing::terminate_at(&timers, created, since)
        );
    }

    #[test]
    fn a_keep_time_runs_to_the_first_paid_hour_end_after_it() {
        let timers = Timers::default();
        let created = t("2026-12-04T19:00:00Z");
        let left = t("2026-12-04T20:10:00Z");
        let mut p = ShutdownPolicy::fixed(Duration::minutes(60));
        let a = after_leave(&timers, Some(&p), left, 1);
        assert_eq!(a.idle, Duration::minutes(15));
        // 20:10 + 60 min = 21:10, in the hour paid until 22:00: ask at 21:55.
        assert_eq!(terminate_at(&timers, a.keep, created, left + a.idle), t("2026-12-04T21:55:00Z"));
        // Keep 0: the idle countdown is cut to 0 and the paid hour ends at 21:00.
        p = ShutdownPolicy::fixed(Duration::zero());
        let a = after_leave(&timers, Some(&p), left, 1);
        assert_eq!(a.idle, Duration::zero());
        assert_eq!(terminate_at(&timers, a.keep, created, left), t("2026-12-04T20:55:00Z"));
    }

    #[test]
    fn contexts_cover_the_week_and_the_day() {
        assert_eq!(Context::all().count(), 2 * 8 * 3);
        let p = ShutdownPolicy::fixed(Duration::minutes(30));
        for c in Context::all() {
            assert_eq!(p.keep_for(c), Some(Duration::minutes(30)));
        }
        // 2026-12-05 is a Saturday.
        let c = Context::at(t("2026-12-05T23:59:00Z"), 7);
        assert_eq!((c.days, c.hour_from, c.sitting), (DayKind::Weekend, 21, 3));
    }

    #[test]
    fn the_policy_reads_back_what_it_writes() {
        let mut p = ShutdownPolicy::fixed(Duration::minutes(45));
        p.today = Some(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
        p.sittings_before = 2;
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<ShutdownPolicy>(&json).unwrap(), p);
        assert_eq!(p.sittings_before_on(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()), 0);
    }
}
