//! `warm_until_paid` at the agent's decision level: the loop on tokio's
//! paused clock, suspended with a `suspended` of seconds, either waits for
//! the paid hour to end or terminates as soon as `suspended` elapses.

use super::config::Timers;
use super::fakes::{start_with, t0};
use crate::lifecycle::Phase;
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
