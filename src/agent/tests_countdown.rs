//! The warnings before a stop, as the agent lives them on tokio's paused
//! clock: the countdown's lines at their times over the console, then the
//! stop it always did; none with nobody online; an early stop when
//! everyone leaves; and an agent restarted mid-countdown going on where
//! the countdown is, never from the top.

use chrono::Duration as Delta;

use super::fakes::{doc, start, start_after, t0};
use crate::countdown::StopWarnings;
use crate::lifecycle::{EndReason, Phase};
use crate::storage::ControlDoc;

async fn local(f: impl std::future::Future<Output = ()>) {
    tokio::task::LocalSet::new().run_until(f).await;
}

/// desired.json asking for a stop at `t0 + asked_secs`, with the default countdown.
fn stop_at(asked_secs: i64, reason: EndReason) -> ControlDoc {
    ControlDoc {
        stop_requested: Some(t0() + Delta::seconds(asked_secs)),
        stop_reason: Some(reason),
        stop_warnings: StopWarnings::standard(),
        ..doc()
    }
}

const STOP: [&str; 7] = [
    "save-off",
    "save-all flush",
    "snapshot suspend",
    "stop",
    "bind Stopping",
    "snapshot final",
    "nudge",
];

#[tokio::test(start_paused = true)]
async fn a_stop_with_players_online_is_announced_at_5m_1m_10s_then_carried_out() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve"]);
        w.at(121).await;
        assert_eq!(w.phase(), Phase::Running);
        w.take();
        // Seen at the next control poll (every 30 s), at the request's time.
        *w.s.doc.borrow_mut() = Some(stop_at(150, EndReason::Admin));
        w.at(200).await;
        let st = w.status();
        assert_eq!(st.phase, Phase::Running, "Minecraft runs while the players are warned");
        assert_eq!(st.stopping_at, Some(t0() + Delta::seconds(450)));
        w.at(460).await;
        let calls = w.take_timed();
        let said: Vec<_> = calls.iter().filter(|(_, c)| c.starts_with("say ")).cloned().collect();
        assert_eq!(
            said,
            [
                (150, "say Server stopping in 5 minutes (admin stop)".to_string()),
                (390, "say Server stopping in 1 minute (admin stop)".into()),
                (440, "say Server stopping in 10 seconds (admin stop)".into()),
            ]
        );
        let stop: Vec<_> = calls.iter().filter(|(_, c)| !c.starts_with("say ")).cloned().collect();
        assert_eq!(
            stop.first().map(|(at, _)| *at),
            Some(450),
            "stopped when the countdown ended: {stop:?}"
        );
        assert_eq!(stop.iter().map(|(_, c)| c.as_str()).collect::<Vec<_>>(), STOP);
        assert_eq!(w.phase(), Phase::Terminating);
        let st = w.status();
        assert!(st.ready_to_terminate && st.stopping_at.is_none(), "{st:?}");
        assert_eq!(st.stopped_at, Some(t0() + Delta::seconds(450)));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn with_nobody_online_the_stop_has_no_countdown() {
    local(async {
        let w = start(t0(), true);
        w.at(121).await;
        assert_eq!(w.phase(), Phase::Idle);
        w.take();
        *w.s.doc.borrow_mut() = Some(stop_at(150, EndReason::Budget));
        w.at(151).await;
        assert_eq!(w.take(), STOP, "stopped at once, nothing said");
        assert_eq!(w.phase(), Phase::Terminating);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn everyone_leaving_during_the_countdown_stops_it_early() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve", "Alex"]);
        w.at(121).await;
        w.take();
        *w.s.doc.borrow_mut() = Some(stop_at(150, EndReason::MaxSession));
        w.at(151).await;
        assert_eq!(w.take(), ["say Server stopping in 5 minutes (max session length reached)"]);
        w.players(&["Steve"]);
        w.at(200).await;
        assert_eq!(w.take(), Vec::<String>::new(), "one player left: still counting down");
        w.players(&[]);
        // The player poll (every 10 s) sees nobody: nobody to warn.
        w.at(211).await;
        assert_eq!(w.take(), STOP);
        assert_eq!(w.phase(), Phase::Terminating);
    })
    .await;
}

/// An agent restarted (a crash, an upgrade) after the countdown began
/// finds the same request: it goes on from where the countdown is, by the
/// request's time, instead of starting again from 5 minutes.
#[tokio::test(start_paused = true)]
async fn an_agent_restarted_mid_countdown_goes_on_where_it_is() {
    local(async {
        // Asked 4 minutes before this agent started.
        let w = start_after(t0(), true, None, None, stop_at(-240, EndReason::Admin));
        w.players(&["Steve"]);
        w.at(61).await;
        let said: Vec<_> = w
            .take_timed()
            .into_iter()
            .filter(|(_, c)| c.starts_with("say ") || c == "stop")
            .collect();
        assert_eq!(
            said,
            [
                (0, "say Server stopping in 1 minute (admin stop)".to_string()),
                (50, "say Server stopping in 10 seconds (admin stop)".into()),
                (60, "stop".into()),
            ]
        );
        assert_eq!(w.phase(), Phase::Terminating);
    })
    .await;
}

/// A console that cannot say a line does not hold the stop up.
#[tokio::test(start_paused = true)]
async fn a_line_that_cannot_be_said_is_reported_and_the_stop_still_comes() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve"]);
        w.at(121).await;
        w.take();
        *w.s.doc.borrow_mut() = Some(ControlDoc {
            stop_warnings: StopWarnings::new(["20s".parse().unwrap()]).unwrap(),
            ..stop_at(150, EndReason::Admin)
        });
        w.s.running.set(false); // the console refuses every command
        w.at(151).await;
        let st = w.status();
        assert!(
            st.last_error
                .as_deref()
                .is_some_and(|e| e.contains("say Server stopping in 20 seconds")),
            "{st:?}"
        );
        w.s.running.set(true);
        w.at(175).await;
        assert!(w.take().contains(&"snapshot final".to_string()));
        assert_eq!(w.phase(), Phase::Terminating);
        assert_eq!(w.status().players_online, Vec::<crate::ids::PlayerName>::new());
    })
    .await;
}
