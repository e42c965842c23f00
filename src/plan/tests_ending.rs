//! Planner tests for how a session ends and what its file records (issue
//! 11): the real end reason, carried across runs in desired.json; a crash
//! loop stopped as `crash`; the agent's activity recorded; retention run by
//! the reconciler; no fresh world started over backups.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::effect::simulate;
use super::tests::{arb_backups, arb_observed, both, desired, example, final_at, now, offline, running};
use super::*;
use crate::ids::PlayerName;
use crate::lifecycle::Phase;
use crate::observe::Observed;
use crate::world::BackupName;

fn closes_with(p: &Plan) -> Option<EndReason> {
    p.changes.iter().find_map(|c| match c.step {
        Step::CloseSession(CloseSession { reason, .. }) => Some(reason),
        _ => None,
    })
}

fn stopped_with(p: &Plan) -> Option<EndReason> {
    p.changes.iter().find_map(|c| match c.step {
        Step::SetStateStopped(SetStateStopped { reason }) => Some(reason),
        _ => None,
    })
}

/// A running session whose agent reports for it by name.
fn reporting(d: &crate::repo::Desired) -> Observed {
    let mut o = running(d, now() - Duration::hours(2));
    let id = o.session.as_ref().unwrap().id.clone();
    o.agent.as_mut().unwrap().session = Some(id);
    o
}

/// The stop was asked with `reason` in an earlier run; the agent has since
/// stopped Minecraft and verified its final snapshot.
fn asked_and_terminating(reason: EndReason) -> (crate::repo::Desired, Observed) {
    let d = desired();
    let mut o = reporting(&d);
    let c = o.control.as_mut().unwrap();
    c.stop_requested = Some(now() - Duration::minutes(10));
    c.stop_reason = Some(reason);
    let a = o.agent.as_mut().unwrap();
    a.phase = Phase::Terminating;
    a.players_online.clear();
    a.stopped_at = Some(now() - Duration::minutes(9));
    super::tests::final_at(&mut o, now() - Duration::minutes(8));
    (d, o)
}

/// Break 5 of issue 11: once the agent reported terminating, every session
/// was closed as `idle`, whatever had asked for the stop.
#[test]
fn a_stop_closes_with_the_reason_it_was_asked_for_not_idle() {
    for reason in [EndReason::Budget, EndReason::MaxSession, EndReason::Crash, EndReason::Admin] {
        let (d, o) = asked_and_terminating(reason);
        let p = plan(&d, &o);
        assert_eq!(closes_with(&p), Some(reason), "{:#?}", p.changes);
        assert!(!p.changes.iter().any(|c| matches!(c.step, Step::RequestStop(RequestStop { .. }))));
        let automatic = reason != EndReason::Admin;
        assert_eq!(stopped_with(&p), automatic.then_some(reason));
    }
    // Nobody asked: the agent ended the session after the suspended countdown.
    let (d, mut o) = asked_and_terminating(EndReason::Budget);
    let c = o.control.as_mut().unwrap();
    c.stop_requested = None;
    c.stop_reason = None;
    assert_eq!(closes_with(&plan(&d, &o)), Some(EndReason::Idle));
}

/// Break 5 of issue 11: a crash loop was reported and never acted on.
#[test]
fn an_agent_that_gave_up_on_a_crashing_minecraft_is_stopped_as_crash() {
    let d = desired();
    let mut o = reporting(&d);
    let a = o.agent.as_mut().unwrap();
    a.phase = Phase::Idle;
    a.players_online.clear();
    a.crashed = true;
    let p = plan(&d, &o);
    assert!(
        p.changes.iter().any(|c| matches!(
            c.step,
            Step::RequestStop(RequestStop {
                reason: EndReason::Crash,
                ..
            })
        )),
        "{:#?}",
        p.changes
    );
    assert_eq!(closes_with(&p), Some(EndReason::Crash));
    assert_eq!(p.phase.after, Phase::Offline);
}

/// Break 5 of issue 11: a run that deleted the server and crashed before
/// closing the session left the next run to close it as `drift`, and (the
/// state still "running") to start a new server.
#[test]
fn a_stop_whose_server_is_gone_is_finished_with_its_reason() {
    let (d, mut o) = asked_and_terminating(EndReason::MaxSession);
    o.server = None;
    o.credentials = None;
    o.agent.as_mut().unwrap().heartbeat = now() - Duration::hours(1);
    let p = plan(&d, &o);
    assert_eq!(closes_with(&p), Some(EndReason::MaxSession), "{:#?}", p.changes);
    assert_eq!(stopped_with(&p), Some(EndReason::MaxSession));
    assert!(!p.changes.iter().any(|c| matches!(c.step, Step::CreateServer(CreateServer { .. }))));
    assert!(
        !p.notices.iter().any(|n| n.message.contains("heartbeat")),
        "the gone server's last report is no witness: {:#?}",
        p.notices
    );
    let (d2, o2) = simulate(&d, &o, &p);
    assert!(plan(&d2, &o2).is_empty());

    // The agent ended it itself: its last report says so.
    let (d, mut o) = asked_and_terminating(EndReason::Budget);
    o.server = None;
    let c = o.control.as_mut().unwrap();
    c.stop_requested = None;
    c.stop_reason = None;
    assert_eq!(closes_with(&plan(&d, &o)), Some(EndReason::Idle));

    // Nothing says a stop was under way: drift.
    o.agent = None;
    assert_eq!(closes_with(&plan(&d, &o)), Some(EndReason::Drift));
}

fn activity(p: &Plan) -> Option<&Change> {
    p.changes
        .iter()
        .find(|c| matches!(c.step, Step::RecordActivity(RecordActivity { .. })))
}

/// Break 6 of issue 11: `peak_players`, `world_bytes` and `backups` were
/// never written to the session file.
#[test]
fn what_the_agent_reports_of_the_session_is_recorded_in_its_file() {
    let d = desired();
    let mut o = reporting(&d);
    let s = o.session.as_mut().unwrap();
    s.peak_players = 5;
    s.players_seen = vec![PlayerName::new("Herobrine")];
    let a = o.agent.as_mut().unwrap();
    a.players_seen = vec![PlayerName::new("Steve"), PlayerName::new("Alex")];
    a.peak_players = 2;
    a.backups = 3;
    a.world_bytes = Some(52_428_800);
    let p = plan(&d, &o);
    let change = activity(&p).unwrap_or_else(|| panic!("{:#?}", p.changes));
    insta::assert_json_snapshot!("activity_change", change);
    match &change.step {
        Step::RecordActivity(RecordActivity {
            players_seen,
            peak_players,
            backups,
            world_bytes,
            ..
        }) => {
            assert_eq!(*peak_players, 5, "a peak is never lowered");
            assert_eq!(players_seen.len(), 3, "a union");
            assert_eq!((*backups, *world_bytes), (3, Some(52_428_800)));
        }
        _ => unreachable!(),
    }
    let (d2, o2) = simulate(&d, &o, &p);
    assert!(activity(&plan(&d2, &o2)).is_none(), "recorded once");

    // A report from another session's agent is not this session's.
    o.agent.as_mut().unwrap().session = Some(crate::ids::SessionId::new("20261101-1802-eu"));
    assert!(activity(&plan(&d, &o)).is_none());
}

#[test]
fn the_stop_records_the_agents_report_before_closing() {
    let (d, mut o) = asked_and_terminating(EndReason::Admin);
    o.agent.as_mut().unwrap().backups = 4;
    let p = plan(&d, &o);
    let at = |f: fn(&Step) -> bool| p.changes.iter().position(|c| f(&c.step));
    assert!(
        at(|s| matches!(s, Step::RecordActivity(RecordActivity { .. }))) < at(|s| matches!(s, Step::CloseSession(CloseSession { .. }))),
        "{:#?}",
        p.changes
    );
}

fn pruned(p: &Plan) -> Vec<String> {
    p.changes
        .iter()
        .find_map(|c| match &c.step {
            Step::PruneBackups(PruneBackups { backups, .. }) => Some(backups.iter().map(|b| b.to_string()).collect()),
            _ => None,
        })
        .unwrap_or_default()
}

/// Break 4 of issue 11: `keep_backups` was applied only by a manual
/// `world prune`, so storage grew without bound.
#[test]
fn backups_beyond_keep_backups_are_pruned_by_the_reconciler() {
    let d = desired();
    assert_eq!(d.server.lifecycle.keep_backups, 10);
    let mut o = running(&d, now() - Duration::hours(1));
    let mut backups = arb_backups(14);
    let names: Vec<String> = backups.all.iter().map(|b| b.name.to_string()).collect();
    o.backups = Some(backups.clone());
    let p = plan(&d, &o);
    assert_eq!(pruned(&p), names[..4], "the four oldest");
    let c = p
        .changes
        .iter()
        .find(|c| matches!(c.step, Step::PruneBackups(PruneBackups { .. })))
        .unwrap();
    assert!(c.reason.starts_with("prune 4 old snapshot(s)"), "{}", c.reason);
    let (d2, o2) = simulate(&d, &o, &p);
    assert!(plan(&d2, &o2).is_empty(), "safe to repeat: nothing left to prune");

    // A pinned one and one a restore names stay; so does the current one
    // even when it is old. They stay beside the newest ten, not in their place.
    backups.all[0].pinned = true;
    backups.current = Some(backups.all[1].name.clone());
    o.backups = Some(backups.clone());
    o.session.as_mut().unwrap().restored_from = Some(names[2].clone());
    assert_eq!(pruned(&plan(&d, &o)), [names[3].clone()]);
    let mut pending = d.clone();
    pending.server.restore = Some(names[3].clone());
    assert!(
        pruned(&plan(&pending, &o)).is_empty(),
        "server.toml's restore is kept for the next start"
    );

    // No current.json: nothing is pruned.
    backups.current = None;
    o.backups = Some(backups);
    assert!(pruned(&plan(&d, &o)).is_empty());
}

/// Break 10 of issue 11: a missing current.json started a fresh world even
/// though storage held backups.
#[test]
fn a_start_over_backups_without_current_json_is_refused_naming_the_newest() {
    let l = example();
    let mut o = offline(&l);
    o.backups = Some(arb_backups(15));
    let newest = o.backups.as_ref().unwrap().newest_complete().unwrap().to_string();
    let p = plan(&l.desired, &o);
    assert!(!p.changes.iter().any(|c| matches!(c.step, Step::CreateServer(CreateServer { .. }))));
    let refusal = p.notices.iter().find(|n| n.level == Level::Error).expect("an error");
    assert!(
        refusal.message.contains(&format!("set restore = \"{newest}\" in server.toml")),
        "{}",
        refusal.message
    );
    let (text, _) = both(&p);
    insta::assert_snapshot!("fresh_world_refused_text", text);

    // Naming a backup to restore starts from it.
    let mut d = l.desired.clone();
    d.server.restore = Some(newest.clone());
    let p = plan(&d, &o);
    assert!(
        p.changes
            .iter()
            .any(|c| matches!(&c.step, Step::CreateServer(CreateServer { restore: Some(r), .. }) if *r == newest))
    );

    // No backups at all: a new world is what there is.
    o.backups = Some(arb_backups(0));
    assert!(
        plan(&l.desired, &o)
            .changes
            .iter()
            .any(|c| matches!(c.step, Step::CreateServer(CreateServer { .. })))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever is observed, a session is closed with the reason its stop
    /// was asked for, and retention never lists the current or a pinned backup.
    #[test]
    fn a_session_closes_with_its_asked_reason_and_retention_spares_the_current((d, o) in arb_observed(desired())) {
        let p = plan(&d, &o);
        if let (Some(closed), Some(asked)) = (closes_with(&p), o.control.as_ref().filter(|c| c.stop_requested.is_some()).and_then(|c| c.stop_reason)) {
            prop_assert_eq!(closed, asked);
        }
        let current = o.backups.as_ref().and_then(|b| b.current.as_ref()).map(BackupName::to_string);
        for name in pruned(&p) {
            prop_assert!(Some(&name) != current.as_ref());
        }
    }
}

/// Issue 12: an orphan of a closed session was deleted on any snapshot taken
/// after its session started; it is now asked to stop (once desired.json is
/// free) and deleted only after its own final snapshot.
#[test]
fn an_orphan_is_deleted_only_after_its_own_final_snapshot() {
    let d = desired();
    let mut o = running(&d, now() - Duration::hours(1));
    let mut orphan = o.server.clone().unwrap();
    orphan.name = "grove-old".into();
    orphan.session = crate::ids::SessionId::new("20261101-1802-eu");
    o.orphans = vec![orphan.clone()];
    let p = plan(&d, &o);
    assert!(p.changes.is_empty(), "unexplained: reported only");
    assert!(p.notices.iter().any(|n| n.message.contains("grove-old")));
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    o.orphans[0].closed_session = Some((t("2026-11-01T18:02:11Z"), t("2026-11-01T21:37:52Z")));
    // Our session's snapshot is newer than the orphan's start: not the orphan's.
    final_at(&mut o, now() - Duration::minutes(1));
    let p = plan(&d, &o);
    assert!(p.changes.is_empty(), "{:#?}", p.changes);
    assert!(
        p.notices
            .iter()
            .any(|n| n.message.contains("grove-old") && n.message.contains("once the current session ends")),
        "{:#?}",
        p.notices
    );
    // With no session of ours, desired.json is free: the orphan is asked.
    let mut idle = o.clone();
    idle.server = None;
    idle.session = None;
    idle.agent = None;
    idle.control.as_mut().unwrap().session = None;
    let mut stopped = d.clone();
    stopped.server.state = crate::repo::SwitchState::Stopped;
    let p = plan(&stopped, &idle);
    assert!(
        p.changes
            .iter()
            .any(|c| matches!(&c.step, Step::AskOrphanToStop(AskOrphanToStop { name, .. }) if name == "grove-old")),
        "{:#?}",
        p.changes
    );
    let (_, asked) = simulate(&stopped, &idle, &p);
    let p = plan(&stopped, &asked);
    assert!(p.changes.is_empty(), "asked once, then it waits: {:#?}", p.changes);
    // Its final snapshot, taken after its session ended: deleted.
    o.final_snapshot = Some(crate::observe::FinalSnapshot {
        session: orphan.session.clone(),
        taken: t("2026-11-01T21:40:00Z"),
    });
    let p = plan(&d, &o);
    assert!(
        matches!(&p.changes[..], [Change { step: Step::DeleteServer(DeleteServer { name, .. }), .. }] if name == "grove-old"),
        "{:#?}",
        p.changes
    );
    let (d2, o2) = simulate(&d, &o, &p);
    assert!(plan(&d2, &o2).is_empty());
}
