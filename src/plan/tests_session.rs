//! Planner tests for what a session leaves in the ledger and what the
//! reconciler sees of it: a `restore` used once.

use chrono::Duration;

use super::effect::simulate;
use super::tests::{both, example, now, offline, running};
use super::*;
use crate::ids::SessionId;

const BACKUP: &str = "2026-11-01T18-00-00Z";

fn planned_restore(p: &Plan) -> Option<Option<String>> {
    p.changes.iter().find_map(|c| match &c.step {
        Step::CreateServer(CreateServer { restore, .. }) => Some(restore.clone()),
        _ => None,
    })
}

fn clears(p: &Plan) -> Vec<(String, String)> {
    p.changes
        .iter()
        .filter_map(|c| match &c.step {
            Step::ClearRestore(ClearRestore { backup, used_by }) => Some((backup.clone(), used_by.to_string())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_restore_is_used_by_one_start_and_its_line_removed() {
    let mut l = example();
    l.desired.server.restore = Some(BACKUP.into());
    let o = offline(&l);
    let p = plan(&l.desired, &o);
    assert_eq!(planned_restore(&p), Some(Some(BACKUP.to_string())));
    let session = SessionId::at(now(), &l.desired.server.region).to_string();
    assert_eq!(clears(&p), [(BACKUP.to_string(), session.clone())]);
    assert!(
        p.notices
            .iter()
            .any(|n| n.message.contains("restored from backup 2026-11-01T18-00-00Z"))
    );
    // After the start: the restore is recorded as done, the line is gone,
    // and nothing is left to do.
    let (d2, o2) = simulate(&l.desired, &o, &p);
    assert_eq!(o2.restores_done.get(BACKUP).map(|s| s.to_string()), Some(session));
    assert_eq!(d2.server.restore, None);
}

#[test]
fn a_restore_an_earlier_session_used_is_not_restored_again() {
    // The regression: `restore` stayed in server.toml, and every later start
    // went back to that backup, dropping all play since.
    let mut l = example();
    l.desired.server.restore = Some(BACKUP.into());
    let mut o = offline(&l);
    o.restores_done.insert(BACKUP.into(), SessionId::new("20261101-1802-eu"));
    let p = plan(&l.desired, &o);
    assert_eq!(planned_restore(&p), Some(None), "the start takes the newest snapshot");
    assert_eq!(clears(&p), [(BACKUP.to_string(), "20261101-1802-eu".to_string())]);
    let (text, json) = both(&p);
    assert!(
        text.contains(
            "server.toml `restore = \"2026-11-01T18-00-00Z\"` was already restored by session 20261101-1802-eu: this start uses the newest snapshot"
        ),
        "{text}"
    );
    assert!(json.contains("\"kind\": \"clear-restore\""), "{json}");
}

#[test]
fn a_used_restore_line_is_removed_while_running_and_while_stopped() {
    let mut l = example();
    let mut o = running(&l.desired, now() - Duration::hours(1));
    let session = o.session.as_ref().unwrap().id.clone();
    // Named but not yet used (added mid-session): it waits for the next start.
    l.desired.server.restore = Some(BACKUP.into());
    assert!(plan(&l.desired, &o).is_empty());
    // Used by this session, and the commit-back that removes it was lost.
    o.restores_done.insert(BACKUP.into(), session.clone());
    let p = plan(&l.desired, &o);
    insta::assert_snapshot!("restore_used_text", both(&p).0);
    assert_eq!(clears(&p), [(BACKUP.to_string(), session.to_string())]);
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    let (d2, o2) = simulate(&l.desired, &o, &p);
    assert!(plan(&d2, &o2).is_empty());
    // Stopped with nothing running: still removed.
    l.desired.server.state = crate::repo::SwitchState::Stopped;
    let mut o = offline(&l);
    o.restores_done.insert(BACKUP.into(), session);
    assert_eq!(clears(&plan(&l.desired, &o)).len(), 1);
}

// Ready and suspend: recorded (and so notified) once.

fn recorded(p: &Plan) -> Vec<&'static str> {
    p.changes
        .iter()
        .filter_map(|c| match &c.step {
            Step::RecordReady(RecordReady { .. }) => Some("ready"),
            Step::RecordSuspend(RecordSuspend { .. }) => Some("suspend"),
            _ => None,
        })
        .collect()
}

/// A running session whose agent reports for it, not yet recorded ready.
fn reporting() -> (crate::repo::Desired, crate::observe::Observed) {
    let l = example();
    let mut o = running(&l.desired, now() - Duration::minutes(20));
    let s = o.session.as_mut().unwrap();
    s.ready = None;
    let a = o.agent.as_mut().unwrap();
    a.session = Some(s.id.clone());
    a.ready = Some(now() - Duration::minutes(17));
    (l.desired, o)
}

#[test]
fn minecraft_up_is_recorded_once_per_session() {
    let (d, o) = reporting();
    let p = plan(&d, &o);
    assert_eq!(recorded(&p), ["ready"]);
    let (text, json) = both(&p);
    assert!(text.contains("friends are told it is ready"), "{text}");
    assert!(json.contains("\"kind\": \"record-ready\""), "{json}");
    let (d2, o2) = simulate(&d, &o, &p);
    assert_eq!(o2.session.as_ref().unwrap().ready, o.agent.as_ref().unwrap().ready);
    assert!(plan(&d2, &o2).is_empty(), "a rerun records (and posts) nothing more");
    // Still loading: nothing to tell.
    let mut loading = o.clone();
    loading.agent.as_mut().unwrap().ready = None;
    assert!(recorded(&plan(&d, &loading)).is_empty());
    // A report the agent wrote for an earlier session says nothing about this one.
    let mut stale = o.clone();
    stale.agent.as_mut().unwrap().session = Some(SessionId::new("20261101-1802-eu"));
    assert!(recorded(&plan(&d, &stale)).is_empty());
}

#[test]
fn each_suspension_is_recorded_once() {
    let (d, mut o) = reporting();
    o.session.as_mut().unwrap().ready = o.agent.as_ref().unwrap().ready;
    let a = o.agent.as_mut().unwrap();
    a.phase = crate::lifecycle::Phase::Suspended;
    a.players_online.clear();
    a.stopped_at = Some(now() - Duration::minutes(2));
    let p = plan(&d, &o);
    assert_eq!(recorded(&p), ["suspend"]);
    let (d, mut o) = simulate(&d, &o, &p);
    assert!(plan(&d, &o).is_empty(), "the same suspension is not told twice");
    // A player woke it, it ran, and it suspended again: told again.
    o.agent.as_mut().unwrap().stopped_at = Some(now() + Duration::minutes(40));
    assert_eq!(recorded(&plan(&d, &o)), ["suspend"]);
}

#[test]
fn each_answered_request_is_recorded_once() {
    let (d, mut o) = reporting();
    o.session.as_mut().unwrap().ready = o.agent.as_ref().unwrap().ready;
    let record = |id: &str| crate::repo::ledger::RequestRecord {
        id: id.into(),
        by: "grove-admin".into(),
        what: "console `time set day`".into(),
        at: now() - Duration::minutes(1),
        ok: true,
        reply: "Set the time to 1000".into(),
    };
    o.answered = vec![record("20261122T190000Z-0000000a")];
    let p = plan(&d, &o);
    let recorded: Vec<_> = p
        .changes
        .iter()
        .filter_map(|c| match &c.step {
            Step::RecordRequests(RecordRequests { requests, .. }) => Some(requests.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(recorded, [vec![record("20261122T190000Z-0000000a")]]);
    let (text, json) = both(&p);
    assert!(text.contains("the agent answered admin requests"), "{text}");
    assert!(json.contains("\"kind\": \"record-requests\""), "{json}");
    let (d, mut o) = simulate(&d, &o, &p);
    assert!(plan(&d, &o).is_empty(), "a rerun records nothing twice");
    o.answered.push(record("20261122T190500Z-0000000b"));
    assert_eq!(plan(&d, &o).changes.len(), 1, "only the new answer");
}

// The reconciler's own ping beside the agent's heartbeat.

use crate::observe::game::{GameAnswer, ObservedGame};

fn answering(players: u32) -> ObservedGame {
    ObservedGame {
        address: "203.0.113.77:25565".into(),
        answer: GameAnswer::Online {
            players,
            max: 20,
            version: "1.20.1".into(),
            protocol: 763,
            latency_ms: 31,
        },
    }
}

fn warnings(p: &Plan) -> Vec<&str> {
    p.notices
        .iter()
        .filter(|n| n.level == Level::Warning)
        .map(|n| n.message.as_str())
        .collect()
}

#[test]
fn the_games_answer_is_in_the_plan() {
    let l = example();
    let mut o = running(&l.desired, now() - Duration::hours(1));
    o.game = Some(answering(2));
    let p = plan(&l.desired, &o);
    assert!(p.is_empty());
    let (text, json) = both(&p);
    insta::assert_snapshot!("pinged_text", text);
    insta::assert_snapshot!("pinged_json", json);
}

#[test]
fn a_silent_agent_while_minecraft_answers_is_said_and_never_deletes_without_a_snapshot() {
    let mut l = example();
    let mut o = running(&l.desired, now() - Duration::hours(1));
    o.agent.as_mut().unwrap().heartbeat = now() - Duration::minutes(12);
    o.game = Some(answering(2));
    let p = plan(&l.desired, &o);
    assert_eq!(
        warnings(&p),
        [
            "agent silent, Minecraft answering 2 player(s): the agent's last heartbeat is 12m old, yet the game at 203.0.113.77:25565 answers; nothing is deleted without a verified snapshot"
        ]
    );
    assert!(p.is_empty(), "a silent agent alone changes nothing: {:#?}", p.changes);
    // The admin stops it: the delete waits for a verified snapshot.
    l.desired.server.state = crate::repo::SwitchState::Stopped;
    let p = plan(&l.desired, &o);
    let at = |f: fn(&Step) -> bool| p.changes.iter().position(|c| f(&c.step));
    let wait = at(|s| matches!(s, Step::AwaitSnapshot(AwaitSnapshot { .. }))).expect("waits for the snapshot");
    assert!(wait < at(|s| matches!(s, Step::DeleteServer(DeleteServer { .. }))).unwrap());
}

#[test]
fn the_agent_says_running_but_nobody_can_reach_the_game() {
    let l = example();
    let mut o = running(&l.desired, now() - Duration::hours(1));
    o.game = Some(ObservedGame {
        address: "203.0.113.77:25565".into(),
        answer: GameAnswer::NoAnswer {
            error: "server list ping of 203.0.113.77:25565 timed out after 3s".into(),
        },
    });
    let p = plan(&l.desired, &o);
    assert_eq!(
        warnings(&p),
        [
            "the agent reports Minecraft running, but it does not answer at 203.0.113.77:25565: server list ping of 203.0.113.77:25565 timed out after 3s (a firewall, or the network?)"
        ]
    );
    // Both silent.
    o.agent.as_mut().unwrap().heartbeat = now() - Duration::minutes(12);
    assert!(
        warnings(&plan(&l.desired, &o))[0]
            .starts_with("the agent's last heartbeat is 12m old and Minecraft does not answer at 203.0.113.77:25565")
    );
}
