//! The loop on the paused clock, continued: the game port held once per stop
//! of Minecraft (sleeping, then stopping), and a status document that says
//! what is true now (errors cleared on recovery, `stopped_at`, the phase of a
//! warm start, and the session's counts).

use super::super::fakes::{Port, doc, p, start, start_after, t0};
use super::{local, mins};
use crate::agent::traits::PortMode;
use crate::ids::SessionId;
use crate::lifecycle::Phase;

/// Regression (issue 11, break 11): the listener was bound anew on every
/// pass of the loop and the old socket was not closed yet, so the port was
/// lost after the first timer. It is now bound once per suspension.
#[tokio::test(start_paused = true)]
async fn the_game_port_is_bound_once_for_the_whole_suspension() {
    local(async {
        let w = start(t0(), true);
        w.at(mins(15) + 1).await;
        assert_eq!(w.phase(), Phase::Suspended);
        assert_eq!(w.s.port.get(), Port::Listener(PortMode::Sleeping));
        // 15 minutes of polls, control reads and heartbeats.
        w.at(mins(30)).await;
        assert_eq!(w.s.binds.get(), 1, "one bind for the whole suspension");
        assert!(w.status().last_error.is_none(), "{:?}", w.status().last_error);
        w.take();
        w.players(&["Steve"]);
        w.join.send(p("Steve")).unwrap();
        w.at(mins(30) + 1).await;
        assert_eq!(w.take(), ["release", "start"], "released before Minecraft binds");
        assert_eq!(w.s.port.get(), Port::Minecraft);
        assert_eq!(w.phase(), Phase::Running);
        // The next suspension binds again, once.
        w.players(&[]);
        w.at(mins(47)).await;
        assert_eq!(w.phase(), Phase::Suspended);
        assert_eq!(w.s.binds.get(), 2);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_port_that_cannot_be_bound_is_reported_and_tried_again_within_seconds() {
    local(async {
        let w = start(t0(), true);
        w.s.bind_fails.set(true);
        w.at(mins(15) + 1).await;
        assert_eq!(w.phase(), Phase::Suspended);
        let e = w.status().last_error.unwrap();
        assert!(e.contains("Address already in use"), "{e}");
        w.s.bind_fails.set(false);
        w.at(mins(15) + 7).await;
        assert_eq!(w.s.port.get(), Port::Listener(PortMode::Sleeping));
        assert_eq!(w.status().last_error, None, "cleared once the port is held");
    })
    .await;
}

/// Regression (issue 11, break 13): between the final snapshot and the
/// agent's exit nothing answered on the game port.
#[tokio::test(start_paused = true)]
async fn while_terminating_the_port_answers_stopping_and_a_login_wakes_nothing() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve"]);
        w.at(mins(2) + 1).await;
        *w.s.doc.borrow_mut() = Some(crate::storage::ControlDoc {
            stop_requested: Some(t0() + chrono::Duration::minutes(2)),
            stop_reason: Some(crate::lifecycle::EndReason::Admin),
            ..doc()
        });
        w.at(mins(3)).await;
        assert_eq!(w.phase(), Phase::Terminating);
        assert!(w.status().ready_to_terminate);
        assert_eq!(w.s.port.get(), Port::Listener(PortMode::Stopping));
        w.take();
        w.join.send(p("Steve")).unwrap();
        w.at(mins(30)).await;
        assert_eq!(w.phase(), Phase::Terminating);
        assert_eq!(w.take(), Vec::<String>::new(), "nothing started, nothing bound again");
        assert_eq!(w.s.port.get(), Port::Listener(PortMode::Stopping), "held until the agent exits");
        assert_eq!(w.s.binds.get(), 1);
    })
    .await;
}

/// Regression (issue 11, break 14): SIGTERM overwrote `stopped_at` with the
/// agent's exit, though Minecraft had stopped long before.
#[tokio::test(start_paused = true)]
async fn stopped_at_stays_when_minecraft_stopped_not_when_the_agent_exits() {
    local(async {
        let w = start(t0(), true);
        w.at(mins(20)).await;
        assert_eq!(w.phase(), Phase::Suspended);
        let s = w.s.clone();
        w.shutdown().await;
        let last = s.statuses.borrow().last().cloned().unwrap();
        assert_eq!(last.stopped_at, Some(t0() + chrono::Duration::minutes(15)));
    })
    .await;
}

/// Regression (issue 11, break 14): `last_error` stayed after the thing
/// that failed worked again.
#[tokio::test(start_paused = true)]
async fn last_error_is_cleared_when_the_failing_thing_works_again() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve"]);
        w.s.snapshot_fails.set(true);
        w.at(mins(30) + 1).await;
        assert!(w.status().last_error.unwrap().contains("upload failed"));
        w.s.snapshot_fails.set(false);
        w.at(mins(60) + 1).await;
        assert_eq!(w.status().last_error, None, "the next backup worked");
        assert_eq!(w.status().backups, 1, "only verified snapshots count");

        // A crash, then a healthy restart.
        w.crash.send(1).unwrap();
        w.at(mins(60) + 5).await;
        assert!(w.status().last_error.unwrap().contains("exited by itself"));
        w.at(mins(60) + 12).await;
        let st = w.status();
        assert_eq!((st.phase, st.last_error), (Phase::Running, None));
    })
    .await;
}

/// Regression (issue 11, break 14): a warm start said `running` with nobody
/// online while Minecraft was still booting.
#[tokio::test(start_paused = true)]
async fn a_warm_start_is_never_reported_running_before_a_player_is_online() {
    local(async {
        let w = start(t0(), true);
        w.at(mins(20)).await;
        assert_eq!(w.phase(), Phase::Suspended);
        let from = w.s.statuses.borrow().len();
        // The woken player comes back only later.
        w.join.send(p("Steve")).unwrap();
        w.at(mins(20) + 5).await;
        w.players(&["Steve"]);
        w.at(mins(21)).await;
        let seen: Vec<(Phase, usize)> = w.s.statuses.borrow()[from..]
            .iter()
            .map(|s| (s.phase, s.players_online.len()))
            .collect();
        assert!(seen.iter().all(|(phase, n)| *phase != Phase::Running || *n > 0), "{seen:?}");
        let mut phases: Vec<Phase> = seen.iter().map(|(p, _)| *p).collect();
        phases.dedup();
        assert_eq!(phases, [Phase::Provisioning, Phase::Idle, Phase::Running]);
    })
    .await;
}

/// Issue 11, break 6: the session file's counts come from the status.
#[tokio::test(start_paused = true)]
async fn the_status_counts_peak_players_verified_backups_and_the_world_size() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve", "Alex"]);
        w.at(mins(1)).await;
        w.players(&["Steve"]);
        w.at(mins(31)).await;
        let st = w.status();
        assert_eq!((st.peak_players, st.backups, st.world_bytes), (2, 1, Some(5001)));
        w.players(&[]);
        w.at(mins(50)).await;
        assert_eq!(w.phase(), Phase::Suspended);
        let st = w.status();
        assert_eq!((st.peak_players, st.backups, st.world_bytes), (2, 2, Some(5002)));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_counts_survive_an_agent_restart_within_the_session() {
    local(async {
        let mine = SessionId::new("20261122-1800-eu");
        let mut d = doc();
        d.session = Some(mine.clone());
        let mut previous = crate::agent::fakes::status_of(&mine);
        previous.peak_players = 3;
        previous.backups = 4;
        previous.world_bytes = Some(77);
        previous.players_seen = vec![p("Alex")];
        let w = start_after(t0(), true, Some(mine.clone()), Some(previous.clone()), d.clone());
        w.at(1).await;
        let st = w.status();
        assert_eq!((st.peak_players, st.backups, st.world_bytes), (3, 4, Some(77)));
        assert_eq!(st.players_seen, [p("Alex")]);

        // Another session's counts are not this one's.
        previous.session = Some(SessionId::new("20261121-1700-eu"));
        let w = start_after(t0(), true, Some(mine), Some(previous), d);
        w.at(1).await;
        let st = w.status();
        assert_eq!((st.peak_players, st.backups, st.world_bytes), (0, 0, None));
    })
    .await;
}

/// Who was online when (`presence`): each `list` that shows a player new
/// opens a record, one that no longer shows them closes it; a stop closes all.
#[tokio::test(start_paused = true)]
async fn the_status_records_each_join_and_leave() {
    tokio::task::LocalSet::new()
        .run_until(async {
            let w = start(t0(), true);
            let at = |s: i64| t0() + chrono::Duration::seconds(s);
            let rec = |name: &str, join, leave| crate::storage::Presence {
                player: crate::ids::PlayerName::new(name),
                join,
                leave,
            };
            w.at(1).await;
            w.players(&["Steve"]);
            w.at(11).await;
            w.players(&["Steve", "Alex"]);
            w.at(21).await;
            w.players(&["Alex"]);
            w.at(31).await;
            w.players(&[]);
            w.at(41).await;
            w.players(&["Steve"]);
            // Back to running at 50: the report says it.
            w.at(51).await;
            assert_eq!(
                w.status().presence,
                [
                    rec("Steve", at(10), Some(at(30))),
                    rec("Alex", at(20), Some(at(40))),
                    rec("Steve", at(50), None)
                ]
            );
        })
        .await;
}
