//! `warm_until_paid` at the agent's decision level: the loop on tokio's
//! paused clock, suspended with a `suspended` of seconds, either waits for
//! the paid hour to end or terminates as soon as `suspended` elapses.

use super::fakes::{start_with, t0};
use crate::lifecycle::Phase;
use crate::lifecycle::Timers;
use crate::repo::duration::Duration;

async fn local(f: impl std::future::Future<Output = ()>) {
    tokio::task::LocalSet::new().run_until(f).await;
}

/// idle 5 s, suspended 5 s, as the day test runs.
fn short(warm_until_paid: bool) -> Timers {
    Timers {
        idle: Duration::from_secs(5),
        suspended: Duration::from_secs(5),
        warm_until_paid,
        ..Timers::default()
    }
}

#[tokio::test(start_paused = true)]
async fn without_warm_until_paid_a_suspended_server_terminates_when_suspended_elapses() {
    local(async {
        let w = start_with(t0(), true, None, short(false));
        // Ready at 0, idle; suspended at 5 s; the limit ends at 10 s.
        w.at(7).await;
        assert_eq!(w.phase(), Phase::Suspended);
        assert_eq!(w.status().terminate_at, Some(t0() + chrono::Duration::seconds(10)));
        w.take();
        w.at(11).await;
        assert_eq!(w.phase(), Phase::Terminating);
        assert_eq!(
            w.take_timed(),
            [
                (10, "port stopping".to_string()),
                (10, "snapshot final".into()),
                (10, "nudge".into())
            ]
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn with_warm_until_paid_the_same_server_stays_warm_until_the_paid_hour_ends() {
    local(async {
        let w = start_with(t0(), true, None, short(true));
        w.at(7).await;
        assert_eq!(w.phase(), Phase::Suspended);
        // Paid until 19:00; five minutes' margin.
        assert_eq!(w.status().terminate_at, Some(t0() + chrono::Duration::minutes(55)));
        w.at(60).await;
        assert_eq!(w.phase(), Phase::Suspended, "the hour is paid");
    })
    .await;
}

/// A learned policy in `desired.json` (`shutdown`) decides at the leave:
/// here the boot, nobody joining. Keep 90 min: the first paid-hour end at
/// least 90 min after it is 20:00, so the request is due at 19:55.
#[tokio::test(start_paused = true)]
async fn a_learned_keep_time_in_desired_json_moves_the_termination_request() {
    local(async {
        let doc = crate::storage::ControlDoc {
            shutdown: Some(crate::shutdown::ShutdownPolicy::fixed(chrono::Duration::minutes(90))),
            ..super::fakes::doc()
        };
        let w = super::fakes::start_after_with(t0(), true, None, None, doc, Timers::default());
        w.at(16 * 60).await;
        assert_eq!(w.phase(), Phase::Suspended, "idle 15 min as the timers say");
        assert_eq!(w.status().terminate_at, Some(t0() + chrono::Duration::minutes(115)));
    })
    .await;
}

/// Keep 0: the idle countdown is cut to nothing and the request comes at
/// the first paid hour's end (less the margin), not at `idle + suspended`.
#[tokio::test(start_paused = true)]
async fn a_learned_keep_of_zero_suspends_at_once_and_ends_with_the_paid_hour() {
    local(async {
        let doc = crate::storage::ControlDoc {
            shutdown: Some(crate::shutdown::ShutdownPolicy::fixed(chrono::Duration::zero())),
            ..super::fakes::doc()
        };
        let w = super::fakes::start_after_with(t0(), true, None, None, doc, Timers::default());
        w.at(60).await;
        assert_eq!(w.phase(), Phase::Suspended);
        assert_eq!(w.status().terminate_at, Some(t0() + chrono::Duration::minutes(55)));
    })
    .await;
}
