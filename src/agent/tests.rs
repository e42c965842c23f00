//! The loop on tokio's paused clock with in-memory ports that record every
//! call in order, with the second it happened at: each transition and timer
//! of the lifecycle, as the agent lives it.

use tokio::time::{Duration, sleep};

use super::fakes::{doc, p, start, start_for, t0};
use crate::ids::SessionId;
use crate::lifecycle::Phase;
use crate::storage::{ControlDoc, ControlOp};

fn mins(m: u64) -> u64 {
    m * 60
}

async fn local(f: impl std::future::Future<Output = ()>) {
    tokio::task::LocalSet::new().run_until(f).await;
}

#[tokio::test(start_paused = true)]
async fn boots_to_idle_then_follows_players_in_and_out() {
    local(async {
        let w = start(t0(), true);
        w.at(1).await;
        assert_eq!(w.phases(), [Phase::Provisioning, Phase::Idle]);
        assert_eq!(w.take(), ["provision", "start", "nudge"]);
        let boot = w.status().boot.unwrap();
        assert_eq!(boot.ready, Some(t0()));
        assert!(!boot.deadline_missed);
        assert_eq!(w.status().minecraft_version.as_deref(), Some("1.20.1"));
        assert_eq!(w.status().protocol, Some(763));

        w.players(&["Steve"]);
        w.at(11).await;
        assert_eq!(w.phase(), Phase::Running);
        assert_eq!(w.status().players_online, [p("Steve")]);

        w.players(&[]);
        w.at(21).await;
        assert_eq!(w.phase(), Phase::Idle);
        assert_eq!(w.status().players_seen, [p("Steve")]);
        assert_eq!(w.take(), Vec::<String>::new(), "no console or snapshot call for joins and leaves");
        assert_eq!(w.shutdown().await, Phase::Idle);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn idle_for_fifteen_minutes_saves_snapshots_and_stops_in_that_order() {
    local(async {
        let w = start(t0(), true);
        w.at(mins(15) - 1).await;
        assert_eq!(w.phase(), Phase::Idle);
        w.take();
        w.at(mins(15) + 1).await;
        assert_eq!(w.phase(), Phase::Suspended);
        assert_eq!(
            w.take_timed(),
            [
                (900, "save-off".to_string()),
                (900, "save-all flush".into()),
                (900, "snapshot suspend".into()),
                (900, "stop".into()),
                (900, "bind Sleeping".into()),
                (900, "nudge".into()),
            ]
        );
        let st = w.status();
        assert_eq!(st.stopped_at, Some(t0() + chrono::Duration::minutes(15)));
        assert_eq!(st.last_backup.unwrap().key, "worlds/grove/backups/1-suspend.tar.zst");
        // Created at t0: 45 minutes later is the end of the first paid hour.
        assert_eq!(st.terminate_at, Some(t0() + chrono::Duration::minutes(60)));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_idle_countdown_restarts_when_the_last_player_leaves() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve"]);
        w.at(mins(10)).await;
        w.players(&[]);
        // Left at about 10 min: no suspension at 15, but at 25.
        w.at(mins(24)).await;
        assert_eq!(w.phase(), Phase::Idle);
        w.at(mins(26)).await;
        assert_eq!(w.phase(), Phase::Suspended);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn suspended_for_forty_five_minutes_takes_a_final_snapshot_and_asks_to_terminate() {
    local(async {
        let w = start(t0(), true);
        w.at(mins(59)).await;
        assert_eq!(w.phase(), Phase::Suspended);
        w.take();
        w.at(mins(60) + 1).await;
        assert_eq!(w.phase(), Phase::Terminating);
        assert_eq!(
            w.take_timed(),
            [
                (3600, "port stopping".to_string()),
                (3600, "snapshot final".into()),
                (3600, "nudge".into())
            ]
        );
        let st = w.status();
        assert!(st.ready_to_terminate);
        let stopped = st.stopped_at.unwrap();
        assert!(
            st.last_backup.as_ref().unwrap().taken >= stopped,
            "the final snapshot is newer than the stop"
        );
        assert_eq!(st.last_backup.unwrap().key, "worlds/grove/backups/2-final.tar.zst");
        // Terminating ignores logins: the listener is no longer consulted.
        w.join.send(p("Steve")).unwrap();
        w.at(mins(70)).await;
        assert_eq!(w.phase(), Phase::Terminating);
        assert!(!w.take().contains(&"start".to_string()));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_final_snapshot_is_retried_and_termination_waits_for_it() {
    local(async {
        let w = start(t0(), true);
        w.at(mins(59)).await;
        w.s.snapshot_fails.set(true);
        w.take();
        w.at(mins(61)).await;
        assert_eq!(w.phase(), Phase::Terminating);
        assert!(!w.status().ready_to_terminate, "no verified snapshot, no termination request");
        assert!(w.status().last_error.unwrap().contains("upload failed"));
        w.s.snapshot_fails.set(false);
        w.at(mins(62)).await;
        assert!(w.status().ready_to_terminate);
        assert_eq!(w.take(), ["port stopping", "snapshot final", "snapshot final", "nudge"]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_login_during_the_suspend_countdown_wakes_the_server() {
    local(async {
        let w = start(t0(), true);
        w.at(mins(30)).await;
        assert_eq!(w.phase(), Phase::Suspended);
        w.take();
        w.players(&["Alex"]);
        w.join.send(p("Alex")).unwrap();
        w.at(mins(30) + 1).await;
        assert_eq!(w.phases().last(), Some(&Phase::Running));
        // Booting is not "running": Alex is online only once it answers.
        assert!(w.phases().ends_with(&[Phase::Suspended, Phase::Provisioning, Phase::Running]));
        assert_eq!(w.take(), ["release", "start"]);
        let st = w.status();
        assert!(st.players_seen.contains(&p("Alex")));
        assert_eq!(st.terminate_at, None);
        // The old termination time passes without effect.
        w.at(mins(61)).await;
        assert_eq!(w.phase(), Phase::Running);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_suspended_server_stays_warm_until_shortly_before_its_paid_hour_ends() {
    local(async {
        // Created 10 minutes before the agent started: suspended at created+25,
        // the plain limit (created+70) falls in the second hour, paid until created+120.
        let w = start(t0() - chrono::Duration::minutes(10), true);
        w.at(mins(16)).await;
        let st = w.status();
        assert_eq!(st.phase, Phase::Suspended);
        assert_eq!(st.terminate_at, Some(t0() + chrono::Duration::minutes(105)));
        w.take();
        w.at(mins(61)).await;
        assert_eq!(w.phase(), Phase::Suspended, "45 minutes passed, but the hour is paid");
        w.at(mins(105) + 1).await;
        assert_eq!(w.phase(), Phase::Terminating);
        assert_eq!(
            w.take_timed(),
            [
                (mins(105), "port stopping".to_string()),
                (mins(105), "snapshot final".into()),
                (mins(105), "nudge".into())
            ]
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_login_during_the_paid_hour_wait_wakes_the_server() {
    local(async {
        let w = start(t0() - chrono::Duration::minutes(10), true);
        w.at(mins(90)).await;
        assert_eq!(w.phase(), Phase::Suspended);
        w.take();
        w.players(&["Steve"]);
        w.join.send(p("Steve")).unwrap();
        w.at(mins(90) + 1).await;
        assert_eq!(w.phase(), Phase::Running);
        assert_eq!(w.take(), ["release", "start"]);
        w.at(mins(106)).await;
        assert_eq!(w.phase(), Phase::Running);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn backups_every_thirty_minutes_between_save_off_and_save_on() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve"]);
        w.at(1).await;
        w.take();
        w.at(mins(61)).await;
        assert_eq!(w.phase(), Phase::Running);
        let backup = ["save-off", "save-all flush", "snapshot backup", "save-on"];
        let calls = w.take_timed();
        let want: Vec<(u64, String)> = [mins(30), mins(60)]
            .iter()
            .flat_map(|t| backup.iter().map(move |c| (*t, c.to_string())))
            .collect();
        assert_eq!(calls, want);
        assert_eq!(w.status().last_backup.unwrap().key, "worlds/grove/backups/2-backup.tar.zst");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn whitelist_and_ops_changes_are_applied_live_once() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve"]);
        w.at(mins(1) + 1).await;
        w.take();
        *w.s.doc.borrow_mut() = Some(ControlDoc {
            whitelist: vec![p("Alex"), p("Steve")],
            ops: vec![ControlOp { name: p("Alex"), level: 2 }],
            ..doc()
        });
        w.at(mins(3)).await;
        assert_eq!(
            w.take_timed(),
            [
                (90, "whitelist add Alex".to_string()),
                (90, "deop Steve".into()),
                (90, "op Alex 2".into())
            ]
        );
        *w.s.doc.borrow_mut() = Some(ControlDoc {
            whitelist: vec![p("Alex")],
            ops: vec![ControlOp { name: p("Alex"), level: 3 }],
            ..doc()
        });
        w.at(mins(4)).await;
        assert_eq!(w.take(), ["whitelist remove Steve", "op Alex 3"]);
    })
    .await;
}

/// Regression (`tests/day.rs`: Steve "not white-listed"): an agent that
/// provisioned from a document listing no whitelist.json or ops.json booted
/// a server without them. It sends the lists over RCON once the server is
/// ready, instead of taking them as given; a complete document sends nothing.
#[tokio::test(start_paused = true)]
async fn lists_the_server_booted_without_are_sent_over_rcon_once_ready() {
    for (bare, want) in [(true, vec!["whitelist add Steve", "op Steve 4"]), (false, vec![])] {
        local(async {
            let mine = SessionId::new("20261122-1800-eu");
            let w = start_for(t0(), true, Some(mine.clone()));
            let mut d = ControlDoc {
                session: Some(mine),
                ..doc()
            };
            if bare {
                d.assets.clear();
            }
            *w.s.doc.borrow_mut() = Some(d);
            w.at(mins(3)).await;
            let sent: Vec<String> = w
                .take()
                .into_iter()
                .filter(|c| c.starts_with("whitelist") || c.starts_with("op ") || c.starts_with("deop"))
                .collect();
            assert_eq!(sent, want, "bare: {bare}");
        })
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn stop_requested_saves_stops_and_takes_a_final_snapshot() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve"]);
        w.at(mins(2) + 1).await;
        assert_eq!(w.phase(), Phase::Running);
        w.take();
        *w.s.doc.borrow_mut() = Some(ControlDoc {
            stop_requested: Some(t0() + chrono::Duration::minutes(2)),
            stop_reason: Some(crate::lifecycle::EndReason::Admin),
            ..doc()
        });
        w.at(mins(3)).await;
        assert_eq!(w.phase(), Phase::Terminating);
        assert_eq!(
            w.take(),
            [
                "save-off",
                "save-all flush",
                "snapshot suspend",
                "stop",
                "bind Stopping",
                "snapshot final",
                "nudge"
            ]
        );
        let st = w.status();
        assert!(st.ready_to_terminate);
        assert_eq!(st.stopped_at, Some(t0() + chrono::Duration::seconds(150)));
        // The same request read again does nothing more.
        w.at(mins(5)).await;
        assert_eq!(w.take(), Vec::<String>::new());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_crashing_jvm_is_restarted_with_backoff_then_reported_as_crashed() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve"]);
        w.at(mins(1)).await;
        w.take();
        // From now on it never finishes loading, and dies each time.
        w.s.loads.set(false);
        let mut restarts = Vec::new();
        for n in 1..=5 {
            w.crash.send(1).unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
            let st = w.status();
            assert_eq!(st.crashes, n);
            if n < 5 {
                let at = st.restart_at.expect("a restart is planned");
                restarts.push(((at - w.s.clock.now()).num_milliseconds() + 500) / 1000);
                assert!(!st.crashed);
                sleep(Duration::from_secs(121)).await;
            } else {
                assert!(st.crashed, "gives up after five crashes in a row");
                assert_eq!(st.restart_at, None);
                assert!(st.last_error.unwrap().contains("crashed 5 times"));
            }
        }
        assert_eq!(restarts, [10, 30, 120, 120]);
        assert_eq!(w.take().iter().filter(|c| *c == "start").count(), 4);
        // Nobody can be online: the phase goes idle and the countdown runs.
        assert_eq!(w.phase(), Phase::Idle);
        sleep(Duration::from_secs(mins(16))).await;
        assert_eq!(w.phase(), Phase::Suspended);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_crash_then_a_good_boot_resets_the_count() {
    local(async {
        let w = start(t0(), true);
        w.at(mins(1)).await;
        w.crash.send(137).unwrap();
        w.at(mins(1) + 5).await;
        assert_eq!(w.status().crashes, 1);
        assert!(w.status().last_error.unwrap().contains("exit code Some(137)"));
        w.at(mins(1) + 11).await;
        assert_eq!(w.status().crashes, 0);
        assert_eq!(w.phase(), Phase::Idle);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_missed_boot_deadline_is_reported_not_killed() {
    local(async {
        let w = start(t0(), false);
        w.at(mins(10) - 1).await;
        assert!(!w.status().boot.unwrap().deadline_missed);
        w.at(mins(10) + 1).await;
        let st = w.status();
        assert_eq!(st.phase, Phase::Provisioning);
        assert!(st.boot.unwrap().deadline_missed);
        assert!(st.last_error.unwrap().contains("did not finish loading within 10m"));
        assert_eq!(w.take(), ["provision", "start"], "not stopped");
        // A late load still counts.
        w.s.loads.set(true);
        w.at(mins(11)).await;
        assert_eq!(w.phase(), Phase::Idle);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_heartbeat_is_written_every_thirty_seconds() {
    local(async {
        let w = start(t0(), true);
        w.at(mins(3) + 1).await;
        let beats: Vec<i64> =
            w.s.statuses
                .borrow()
                .iter()
                .map(|s| (s.heartbeat - t0()).num_seconds())
                .filter(|s| *s >= 60)
                .collect();
        assert_eq!(beats, [60, 90, 120, 150, 180]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_minecraft_and_reports() {
    local(async {
        let w = start(t0(), true);
        w.at(5).await;
        w.take();
        let s = w.s.clone();
        assert_eq!(w.shutdown().await, Phase::Idle);
        assert_eq!(s.calls.borrow().iter().map(|(_, c)| c.as_str()).collect::<Vec<_>>(), ["stop"]);
        let last = s.statuses.borrow().last().cloned().unwrap();
        assert_eq!(last.stopped_at, Some(t0() + chrono::Duration::seconds(5)));
    })
    .await;
}

/// Regression: a VPS whose desired.json write failed after the create booted
/// and provisioned from the previous session's document (its restore
/// cleared, old files). It now waits for a document naming its session.
#[tokio::test(start_paused = true)]
async fn provisions_only_from_the_desired_json_of_its_own_session() {
    local(async {
        let mine = SessionId::new("20261122-1800-eu");
        let mut previous = doc();
        previous.session = Some(SessionId::new("20261121-1700-eu"));
        let w = start_for(t0(), true, Some(mine.clone()));
        *w.s.doc.borrow_mut() = Some(previous);
        w.at(1).await;
        assert_eq!(
            w.take(),
            Vec::<String>::new(),
            "nothing provisioned from another session's document"
        );
        let status = w.status();
        assert_eq!(status.phase, Phase::Provisioning);
        assert_eq!(status.session.as_ref(), Some(&mine), "the status names the agent's own session");
        let waiting = "waiting for desired.json for session 20261122-1800-eu (it names 20261121-1700-eu)";
        assert_eq!(status.waiting.as_deref(), Some(waiting));
        assert_eq!(status.last_error.as_deref(), Some(waiting));

        // A closed session's document (no session) is not this one's either;
        // it is read again every control_poll (30 s), each time a heartbeat.
        w.s.doc.borrow_mut().as_mut().unwrap().session = None;
        w.at(31).await;
        assert_eq!(w.take(), Vec::<String>::new());
        assert_eq!(w.s.statuses.borrow().len(), 2, "one status per read");
        assert!(w.status().waiting.unwrap().ends_with("(it names none)"));

        // The reconciler hands it its document: provisioned at the next read.
        w.s.doc.borrow_mut().as_mut().unwrap().session = Some(mine.clone());
        w.at(59).await;
        assert_eq!(w.take(), Vec::<String>::new());
        w.at(61).await;
        assert_eq!(
            w.take_timed(),
            [(60, "provision".to_string()), (60, "start".into()), (60, "nudge".into())]
        );
        let status = w.status();
        assert_eq!((status.phase, status.waiting, status.last_error), (Phase::Idle, None, None));
        assert_eq!(w.shutdown().await, Phase::Idle);
    })
    .await;
}

#[path = "tests_status.rs"]
mod status;
