//! Admin requests in the loop, on tokio's paused clock: each runs once at
//! a control poll, in id order, through the same console and lifecycle
//! transitions as everything else; refused, interrupted, expired and
//! too-early requests are answered (or wait) as `run/requests.rs` says.

use super::fakes::{World, start, t0};
use crate::lifecycle::Phase;
use crate::storage::requests::{Action, Outcome, RequestDoc, RequestId, VERSION};

async fn local(f: impl std::future::Future<Output = ()>) {
    tokio::task::LocalSet::new().run_until(f).await;
}

/// A request asked `secs` after t0, expiring ten minutes later.
fn request(secs: i64, tag: &str, action: Action, command: Option<&str>) -> RequestDoc {
    let asked = t0() + chrono::Duration::seconds(secs);
    RequestDoc {
        version: VERSION,
        id: RequestId::parse(&format!("{}-{tag}", asked.format("%Y%m%dT%H%M%SZ"))).unwrap(),
        action,
        command: command.map(str::to_string),
        actor: "grove-admin".into(),
        asked,
        expires: asked + chrono::Duration::minutes(10),
    }
}

fn enqueue(w: &World, r: RequestDoc) {
    w.s.queue.borrow_mut().push(r);
}

fn answers(w: &World) -> Vec<(String, Outcome, String)> {
    w.s.answers
        .borrow()
        .iter()
        .map(|r| (r.id.to_string(), r.outcome, r.reply.clone()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn two_console_requests_run_once_each_in_id_order() {
    local(async {
        let w = start(t0(), true);
        w.at(1).await;
        w.take();
        // Enqueued out of order: the later id first.
        let later = request(2, "0000000b", Action::Console, Some("say second"));
        let first = request(2, "0000000a", Action::Console, Some("/time set day"));
        enqueue(&w, later.clone());
        enqueue(&w, first.clone());
        w.at(35).await;
        let calls: Vec<String> = w
            .take()
            .into_iter()
            .filter(|c| c.starts_with("console") || c.starts_with("answer"))
            .collect();
        assert_eq!(
            calls,
            [
                "console time set day".to_string(),
                format!("answer {} ok", first.id),
                "console say second".into(),
                format!("answer {} ok", later.id),
            ]
        );
        assert_eq!(answers(&w)[0].2, "reply to time set day");
        assert_eq!(w.s.answers.borrow()[0].actor, "grove-admin");
        w.at(125).await;
        assert!(
            !w.take().iter().any(|c| c.starts_with("console")),
            "nothing runs twice over later polls"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_command_names_why_and_never_reaches_the_console() {
    local(async {
        let w = start(t0(), true);
        w.at(1).await;
        w.take();
        enqueue(&w, request(2, "00000001", Action::Console, Some("execute as @a run op Mallory")));
        w.at(35).await;
        assert!(!w.take().iter().any(|c| c.starts_with("console") || c.starts_with("op")));
        let (_, outcome, reply) = answers(&w).remove(0);
        assert_eq!(outcome, Outcome::Refused);
        assert!(reply.contains("ops.toml"), "{reply}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_backup_request_takes_a_manual_snapshot_between_save_off_and_save_on() {
    local(async {
        let w = start(t0(), true);
        w.at(1).await;
        w.take();
        enqueue(&w, request(2, "00000001", Action::Backup, None));
        w.at(35).await;
        let calls: Vec<String> = w.take().into_iter().filter(|c| !c.starts_with("bind")).collect();
        let id = w.s.answers.borrow()[0].id.clone();
        assert_eq!(
            calls,
            [
                "save-off".to_string(),
                "save-all flush".into(),
                "snapshot manual".into(),
                "save-on".into(),
                format!("answer {id} ok"),
            ]
        );
        let r = w.s.answers.borrow()[0].clone();
        assert_eq!(r.snapshot.as_deref(), Some("worlds/grove/backups/1-manual.tar.zst"), "{r:?}");
        assert_eq!(w.status().backups, 1, "a manual snapshot counts among the session's backups");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_suspend_request_suspends_through_the_transition_and_keeps_the_vps_warm() {
    local(async {
        let w = start(t0(), true);
        w.at(1).await;
        w.players(&["Steve"]);
        w.at(12).await;
        assert_eq!(w.phase(), Phase::Running);
        w.take();
        enqueue(&w, request(20, "00000001", Action::Suspend, None));
        w.at(35).await;
        assert_eq!(w.phase(), Phase::Suspended);
        let calls = w.take();
        let at = |c: &str| {
            calls
                .iter()
                .position(|x| x == c)
                .unwrap_or_else(|| panic!("{c} missing: {calls:?}"))
        };
        let said = format!("say {}", crate::countdown::SUSPENDING);
        assert!(
            at(&said) < at("save-all flush") && at("save-all flush") < at("snapshot suspend") && at("snapshot suspend") < at("stop"),
            "the players online hear it first, then the save, snapshot and stop: {calls:?}"
        );
        assert_eq!(calls.iter().filter(|c| c.starts_with("say ")).count(), 1, "one line: {calls:?}");
        assert!(at("stop") < at("bind Sleeping"), "the port is held for a wake: {calls:?}");
        let r = w.s.answers.borrow()[0].clone();
        assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
        assert!(r.reply.contains("suspended") && r.reply.contains("stays warm until"), "{}", r.reply);
        assert!(w.status().terminate_at.is_some());
        // Asked again while suspended: answered, nothing done.
        enqueue(&w, request(40, "00000002", Action::Suspend, None));
        enqueue(&w, request(40, "00000003", Action::Console, Some("list")));
        w.at(65).await;
        let got = answers(&w);
        assert_eq!((got[1].1, got[2].1), (Outcome::Ok, Outcome::Refused), "{got:?}");
        assert!(got[2].2.contains("suspended"), "{got:?}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_request_started_and_never_answered_is_not_run_again() {
    local(async {
        let w = start(t0(), true);
        w.at(1).await;
        let r = request(2, "00000001", Action::Console, Some("give Steve diamond 64"));
        w.s.started.borrow_mut().push(r.id.clone());
        enqueue(&w, r);
        w.at(35).await;
        assert!(!w.take().iter().any(|c| c.starts_with("console")));
        let (_, outcome, reply) = answers(&w).remove(0);
        assert_eq!(outcome, Outcome::Error);
        assert!(reply.contains("may or may not have run"), "{reply}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_request_waits_while_minecraft_boots_and_an_expired_one_is_refused() {
    local(async {
        let w = start(t0(), false); // never loads
        enqueue(&w, request(-1, "00000001", Action::Console, Some("say hi")));
        w.at(65).await;
        assert!(answers(&w).is_empty(), "waiting for Minecraft, not refused");
        w.at(11 * 60).await;
        let (_, outcome, reply) = answers(&w).remove(0);
        assert_eq!(outcome, Outcome::Refused);
        assert!(reply.contains("expired"), "{reply}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_suspend_or_backup_request_during_a_stop_countdown_is_refused_and_the_countdown_goes_on() {
    local(async {
        let w = start(t0(), true);
        w.players(&["Steve"]);
        w.at(121).await;
        *w.s.doc.borrow_mut() = Some(crate::storage::ControlDoc {
            stop_requested: Some(t0() + chrono::Duration::seconds(150)),
            stop_reason: Some(crate::lifecycle::EndReason::Admin),
            stop_warnings: crate::countdown::StopWarnings::standard(),
            ..super::fakes::doc()
        });
        w.at(200).await;
        w.take();
        enqueue(&w, request(200, "00000001", Action::Suspend, None));
        enqueue(&w, request(200, "00000002", Action::Backup, None));
        enqueue(&w, request(200, "00000003", Action::Console, Some("say hold on")));
        w.at(245).await;
        let got = answers(&w);
        assert_eq!(
            got.iter().map(|a| a.1).collect::<Vec<_>>(),
            [Outcome::Refused, Outcome::Refused, Outcome::Ok],
            "{got:?}"
        );
        assert!(got[0].2.contains("counting down"), "{got:?}");
        assert_eq!(w.phase(), Phase::Running, "the countdown goes on");
        assert!(!w.take().iter().any(|c| c.starts_with("snapshot")));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_suspend_request_with_nobody_online_says_nothing() {
    local(async {
        let w = start(t0(), true);
        w.at(1).await;
        w.at(12).await;
        assert_eq!(w.phase(), Phase::Idle, "nobody on");
        w.take();
        enqueue(&w, request(20, "00000001", Action::Suspend, None));
        w.at(35).await;
        assert_eq!(w.phase(), Phase::Suspended);
        let calls = w.take();
        assert!(calls.iter().any(|c| c == "stop"), "{calls:?}");
        assert!(!calls.iter().any(|c| c.starts_with("say ")), "nobody to tell: {calls:?}");
    })
    .await;
}
