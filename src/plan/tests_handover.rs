//! Planner tests for the hand-over (`planner::handover`): a live session
//! whose desired.json names another session gets its own document, with the
//! backup it starts from; a recovered session whose agent waits honours
//! server.toml's unused `restore`; a converged state plans nothing.

use chrono::Duration;

use super::effect::simulate;
use super::tests::{both, example, now, running};
use super::*;
use crate::ids::SessionId;

const BACKUP: &str = "2026-11-01T18-00-00Z";

fn hand_over(p: &Plan) -> Option<(SessionId, Option<String>)> {
    p.changes.iter().find_map(|c| match &c.step {
        Step::HandOver(HandOver { session, restore, .. }) => Some((session.clone(), restore.clone())),
        _ => None,
    })
}

fn converges(d: &crate::repo::Desired, o: &crate::observe::Observed) {
    let p = plan(d, o);
    let (d2, o2) = simulate(d, o, &p);
    let again = plan(&d2, &o2);
    assert!(again.is_empty(), "{:#?}", again.changes);
}

#[test]
fn a_converged_session_names_itself_in_desired_json_and_plans_nothing() {
    let l = example();
    let o = running(&l.desired, now() - Duration::hours(1));
    let session = o.session.as_ref().unwrap().id.clone();
    assert_eq!(o.control.as_ref().unwrap().session, Some(session));
    assert_eq!(hand_over(&plan(&l.desired, &o)), None);
}

/// Regression: the desired.json write after the create failed (5xx), and the
/// agent was left the previous session's document, without the restore.
#[test]
fn a_live_session_whose_desired_json_names_another_is_handed_its_own() {
    let l = example();
    let mut o = running(&l.desired, now() - Duration::minutes(4));
    let session = o.session.as_ref().unwrap().id.clone();
    o.session.as_mut().unwrap().restored_from = Some(BACKUP.into());
    o.session.as_mut().unwrap().ready = None;
    o.agent = None;
    let c = o.control.as_mut().unwrap();
    c.session = Some(SessionId::new("20261121-1700-eu"));
    c.whitelist.clear();
    let p = plan(&l.desired, &o);
    assert_eq!(hand_over(&p), Some((session, Some(BACKUP.to_string()))));
    assert!(
        !p.changes
            .iter()
            .any(|c| matches!(c.step, Step::UpdateWhitelist(UpdateWhitelist { .. }))),
        "the hand-over writes the whitelist: {:#?}",
        p.changes
    );
    let (text, json) = both(&p);
    insta::assert_snapshot!("handover_text", text);
    insta::assert_snapshot!("handover_json", json);
    converges(&l.desired, &o);
}

/// Regression: a run crashed after the create, before recording the session;
/// the `restore` it was asked for was neither honoured nor used up, and would
/// have applied to a later session (an old backup over newer play).
#[test]
fn a_recovered_session_whose_agent_waits_starts_from_the_unused_restore() {
    let mut l = example();
    l.desired.server.restore = Some(BACKUP.into());
    let mut o = running(&l.desired, now() - Duration::minutes(4));
    let session = o.server.as_ref().unwrap().session.clone();
    o.session = None;
    o.agent = None;
    o.control.as_mut().unwrap().session = None;
    // The run that created the server recorded nothing.
    o.restores_done.clear();
    let p = plan(&l.desired, &o);
    let open = p.changes.iter().find_map(|c| match &c.step {
        Step::OpenSession(OpenSession {
            recovered: true, restore, ..
        }) => Some(restore.clone()),
        _ => None,
    });
    assert_eq!(open, Some(Some(BACKUP.to_string())), "{:#?}", p.changes);
    assert_eq!(hand_over(&p), Some((session.clone(), Some(BACKUP.to_string()))));
    assert!(
        p.changes
            .iter()
            .any(|c| matches!(&c.step, Step::ClearRestore(ClearRestore { backup, used_by }) if backup == BACKUP && used_by == &session))
    );
    insta::assert_snapshot!("recovered_handover_text", both(&p).0);
    converges(&l.desired, &o);
}

#[test]
fn a_recovered_session_whose_agent_had_its_document_takes_the_restore_from_it() {
    let mut l = example();
    l.desired.server.restore = Some(BACKUP.into());
    let mut o = running(&l.desired, now() - Duration::minutes(4));
    o.session = None;
    let p = plan(&l.desired, &o);
    // Apply reads the document's `restore` back; nothing is handed over.
    assert!(p.changes.iter().any(|c| matches!(
        c.step,
        Step::OpenSession(OpenSession {
            recovered: true,
            restore: None,
            ..
        })
    )));
    assert_eq!(hand_over(&p), None);
}

#[test]
fn a_used_restore_is_not_honoured_again_by_a_recovered_session() {
    let mut l = example();
    l.desired.server.restore = Some(BACKUP.into());
    let mut o = running(&l.desired, now() - Duration::minutes(4));
    let session = o.server.as_ref().unwrap().session.clone();
    o.session = None;
    o.control.as_mut().unwrap().session = None;
    o.restores_done.insert(BACKUP.into(), SessionId::new("20261101-1800-eu"));
    let p = plan(&l.desired, &o);
    assert_eq!(hand_over(&p), Some((session, None)));
    converges(&l.desired, &o);
}

#[test]
fn a_stop_hands_a_waiting_agent_its_document_before_asking_it_to_stop() {
    let mut l = example();
    let mut o = running(&l.desired, now() - Duration::minutes(4));
    l.desired.server.state = crate::repo::SwitchState::Stopped;
    o.control.as_mut().unwrap().session = None;
    let p = plan(&l.desired, &o);
    let at = |f: fn(&Step) -> bool| p.changes.iter().position(|c| f(&c.step));
    let (hand, stop) = (
        at(|s| matches!(s, Step::HandOver(HandOver { .. }))),
        at(|s| matches!(s, Step::RequestStop(RequestStop { .. }))),
    );
    assert!(hand.is_some() && hand < stop, "{:#?}", p.changes);
}
