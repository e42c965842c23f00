//! When a suspended server should ask to be terminated.
//!
//! Hetzner bills every started hour, counted from the server's creation. A
//! suspended server that would be deleted early in an hour it has already
//! paid for may stay warm (and wake for a late player) until shortly before
//! that hour ends, at no extra cost. Pure, so the promise "never dearer than
//! terminating when `suspended` elapses" is a property test. server.toml's
//! `warm_until_paid = false` turns the extra wait off (a day compressed into
//! minutes cannot wait for the hour to end).

use chrono::{DateTime, Duration, Utc};

use crate::lifecycle::Timers;

/// When a server suspended at `suspended_since` asks for termination, by
/// the agent's settings: [`termination_time`] when it stays warm until the
/// paid hour ends, else as soon as `suspended` elapses.
pub(crate) fn terminate_at(timers: &Timers, created: DateTime<Utc>, suspended_since: DateTime<Utc>) -> DateTime<Utc> {
    let limit = timers.suspended.to_chrono();
    if timers.warm_until_paid {
        termination_time(created, suspended_since, limit, timers.billing_margin.to_chrono())
    } else {
        suspended_since + limit
    }
}

/// Hours Hetzner bills for a server created at `created` and deleted at
/// `deleted`: every started hour, and at least one.
pub(crate) fn billed_hours(created: DateTime<Utc>, deleted: DateTime<Utc>) -> i64 {
    let secs = (deleted - created).num_seconds().max(0);
    (secs + 3599).div_euclid(3600).max(1)
}

/// When to ask for termination: `suspended_limit` after `suspended_since`, or
/// later, up to `margin` before the end of the billed hour that time falls in.
/// Never earlier than the plain limit and never in a later billed hour.
pub(crate) fn termination_time(
    created: DateTime<Utc>,
    suspended_since: DateTime<Utc>,
    suspended_limit: Duration,
    margin: Duration,
) -> DateTime<Utc> {
    let plain = suspended_since + suspended_limit;
    let paid_until = created + Duration::hours(billed_hours(created, plain));
    plain.max(paid_until - margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn waits_until_shortly_before_the_paid_hour_ends() {
        let created = t("2026-11-22T18:00:00Z");
        // Suspended at 18:25, the plain limit is 19:10, in the second hour: wait until 19:55.
        let at = termination_time(created, t("2026-11-22T18:25:00Z"), Duration::minutes(45), Duration::minutes(5));
        assert_eq!(at, t("2026-11-22T19:55:00Z"));
    }

    #[test]
    fn never_earlier_than_the_limit() {
        let created = t("2026-11-22T18:00:00Z");
        // The plain limit, 19:58, is already inside the margin: keep it.
        let at = termination_time(created, t("2026-11-22T19:13:00Z"), Duration::minutes(45), Duration::minutes(5));
        assert_eq!(at, t("2026-11-22T19:58:00Z"));
        // Exactly on the boundary: that hour is complete, not a new one.
        let at = termination_time(created, t("2026-11-22T19:15:00Z"), Duration::minutes(45), Duration::minutes(5));
        assert_eq!(at, t("2026-11-22T20:00:00Z"));
        assert_eq!(billed_hours(created, at), 2);
    }

    #[test]
    fn warm_until_paid_off_terminates_when_suspended_elapses() {
        let created = t("2026-11-22T18:00:00Z");
        let since = t("2026-11-22T18:00:20Z");
        let mut timers = Timers {
            suspended: crate::repo::duration::Duration::from_secs(5),
            ..Timers::default()
        };
        assert_eq!(
            terminate_at(&timers, created, since),
            t("2026-11-22T18:55:00Z"),
            "warm until the margin"
        );
        timers.warm_until_paid = false;
        assert_eq!(terminate_at(&timers, created, since), t("2026-11-22T18:00:25Z"));
    }

    proptest! {
        /// The extra wait never costs an hour the plain termination would not have paid.
        #[test]
        fn never_costs_more_than_terminating_at_the_limit(
            created_s in 0i64..1_000_000,
            since_after in -600i64..20_000,
            limit_s in 0i64..10_000,
            margin_s in 0i64..7_200,
        ) {
            let created = DateTime::<Utc>::from_timestamp(1_790_000_000 + created_s, 0).unwrap();
            let since = created + Duration::seconds(since_after);
            let limit = Duration::seconds(limit_s);
            let at = termination_time(created, since, limit, Duration::seconds(margin_s));
            let plain = since + limit;
            prop_assert!(at >= plain);
            prop_assert_eq!(billed_hours(created, at), billed_hours(created, plain));
        }
    }
}
