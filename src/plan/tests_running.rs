//! Planner tests for a running server's upkeep: the agent's storage
//! credentials renewed before they expire, verified backups sealed into the
//! vault, and the learned shutdown policy handed over once.

use chrono::{DateTime, Duration, Utc};

use super::effect::simulate;
use super::tests::{arb_backups, both, desired, example, final_at, now, running};
use super::*;
use crate::ids::SessionId;
use crate::lifecycle::Phase;

// Renewing the agent's storage credentials.

fn renewals(p: &Plan) -> Vec<&Change> {
    p.changes
        .iter()
        .filter(|c| matches!(c.step, Step::RenewCredentials(RenewCredentials { .. })))
        .collect()
}

fn life(issued: DateTime<Utc>, hours: i64) -> crate::observe::ObservedCredentials {
    crate::observe::ObservedCredentials::Known(crate::storage::credentials::CredentialsLife {
        issued,
        expires: issued + Duration::hours(hours),
    })
}

#[test]
fn a_long_session_renews_the_agents_credentials_for_the_rest_of_it() {
    let mut l = example();
    l.desired.server.lifecycle.max_session = crate::repo::duration::Duration::from_hours(10 * 24);
    let started = now() - Duration::hours(5 * 24 + 12);
    let mut o = running(&l.desired, started);
    assert_eq!(o.credentials, Some(life(started, 7 * 24)), "minted at the start for 7 days");
    let p = plan(&l.desired, &o);
    let (text, json) = both(&p);
    insta::assert_snapshot!("renew_text", text);
    insta::assert_snapshot!("renew_json", json);
    let [renewal] = renewals(&p)[..] else { panic!("{:#?}", p.changes) };
    // What is left of 10 days + idle + suspended + 1 h, after 5.5 days.
    let want = (10 * 24 + 2) * 3600 - (5 * 24 + 12) * 3600;
    assert!(
        matches!(renewal.step, Step::RenewCredentials(RenewCredentials { ttl_seconds, id: Some(_), .. }) if ttl_seconds == want),
        "{renewal:#?}"
    );
    let (d2, o2) = simulate(&l.desired, &o, &p);
    assert!(plan(&d2, &o2).is_empty(), "renewed once, then nothing");

    // Three quarters of the life is the line.
    o.now = started + Duration::hours(7 * 24 * 3 / 4);
    assert!(renewals(&plan(&l.desired, &o)).is_empty(), "exactly a quarter left: not yet");
    o.now += Duration::minutes(1);
    assert_eq!(renewals(&plan(&l.desired, &o)).len(), 1);
}

#[test]
fn no_renewal_for_fresh_credentials_local_storage_or_a_server_being_deleted() {
    let d = desired();
    let started = now() - Duration::hours(11);
    let mut o = running(&d, started);
    assert_eq!(renewals(&plan(&d, &o)).len(), 1, "11 h into 14 h: a quarter is left");
    o.credentials = None;
    assert!(plan(&d, &o).is_empty(), "local storage: nothing to renew");
    o.credentials = Some(life(now() - Duration::hours(1), 14));
    assert!(plan(&d, &o).is_empty(), "fresh credentials");

    // A stop waiting for the final snapshot renews first: the agent needs storage to upload it.
    o.credentials = Some(life(started, 14));
    let agent = o.agent.as_mut().unwrap();
    agent.phase = Phase::Terminating;
    agent.stopped_at = Some(now() - Duration::minutes(5));
    let p = plan(&d, &o);
    let pos = |f: fn(&Step) -> bool| p.changes.iter().position(|c| f(&c.step)).unwrap();
    assert!(
        pos(|s| matches!(s, Step::RenewCredentials(RenewCredentials { .. })))
            < pos(|s| matches!(s, Step::AwaitSnapshot(AwaitSnapshot { .. }))),
        "{:#?}",
        p.changes
    );
    // Once the final snapshot is verified the server is deleted: no renewal.
    final_at(&mut o, now() - Duration::minutes(1));
    let p = plan(&d, &o);
    assert!(renewals(&p).is_empty(), "{:#?}", p.changes);
    assert!(p.changes.iter().any(|c| matches!(c.step, Step::DeleteServer(DeleteServer { .. }))));
}

#[test]
fn a_server_without_credential_labels_is_renewed_once() {
    let d = desired();
    let mut o = running(&d, now() - Duration::hours(1));
    o.credentials = Some(crate::observe::ObservedCredentials::Unlabelled);
    let p = plan(&d, &o);
    assert_eq!(renewals(&p).len(), 1, "{:#?}", p.changes);
    assert_eq!(
        renewals(&p)[0].before,
        serde_json::json!("(unknown: the server has no credential labels)")
    );
    let (d2, o2) = simulate(&d, &o, &p);
    assert!(plan(&d2, &o2).is_empty());
}

#[test]
fn expired_credentials_are_renewed_with_a_warning() {
    let d = desired();
    let mut o = running(&d, now() - Duration::hours(3));
    o.credentials = Some(life(now() - Duration::hours(15), 14));
    let p = plan(&d, &o);
    assert_eq!(renewals(&p).len(), 1);
    assert!(
        p.notices
            .iter()
            .any(|n| n.level == Level::Warning && n.message.contains("storage credentials expired")),
        "{:#?}",
        p.notices
    );
}

/// Renewals are per session: a server whose session is not the ledger's
/// open one (an orphan of an ended session, or no session on record) never
/// gets new credentials, so a key leaked from it dies with its life.
#[test]
fn no_renewal_for_a_server_whose_session_is_not_the_open_one() {
    let d = desired();
    let started = now() - Duration::hours(11);
    let mut o = running(&d, started);
    let p = plan(&d, &o);
    let [renewal] = renewals(&p)[..] else { panic!("{:#?}", p.changes) };
    let open = o.session.as_ref().unwrap().id.clone();
    assert!(matches!(&renewal.step, Step::RenewCredentials(RenewCredentials { session, .. }) if *session == open));

    o.server.as_mut().unwrap().session = SessionId::new("20261101-0000-eu");
    assert!(renewals(&plan(&d, &o)).is_empty(), "the server of another session");
    let mut o = running(&d, started);
    o.session.as_mut().unwrap().ended = Some(now() - Duration::minutes(1));
    assert!(renewals(&plan(&d, &o)).is_empty(), "an ended session");
    o.session = None;
    assert!(renewals(&plan(&d, &o)).is_empty(), "no session on record");
}

/// Verified backups are copied to the vault once, out of the VPS's reach;
/// one about to be pruned is not copied first.
#[test]
fn verified_backups_are_sealed_once_and_pruned_ones_are_not() {
    let mut d = desired();
    d.server.lifecycle.keep_backups = 3;
    let mut o = running(&d, now() - Duration::hours(1));
    let mut b = arb_backups(5);
    b.all.iter_mut().for_each(|x| x.sealed = false);
    b.all[4].sealed = true;
    let want: Vec<_> = b.all[2..4].iter().map(|x| x.name.clone()).collect();
    o.backups = Some(b);
    let p = plan(&d, &o);
    let seals: Vec<_> = p
        .changes
        .iter()
        .filter_map(|c| match &c.step {
            Step::SealBackups(SealBackups { backups }) => Some(backups.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(seals, [want], "the two oldest are pruned, the newest is sealed: {:#?}", p.changes);
    let (d2, o2) = simulate(&d, &o, &p);
    assert!(plan(&d2, &o2).is_empty(), "sealed once");
}

/// The shutdown policy learned from the ledger reaches `desired.json`
/// (`update-shutdown-policy`, shown per context), and once written the
/// plan is quiet about it.
#[test]
fn a_learned_shutdown_policy_is_handed_to_the_running_agent_once() {
    let l = example();
    let mut o = running(&l.desired, now() - Duration::hours(2));
    o.learned_shutdown = Some(crate::shutdown::ShutdownPolicy::fixed(Duration::minutes(30)));
    let p = plan(&l.desired, &o);
    let change = p
        .changes
        .iter()
        .find(|c| matches!(c.step, Step::UpdateShutdownPolicy(UpdateShutdownPolicy { .. })))
        .expect("the policy is sent");
    assert_eq!(change.after["keep"]["weekday 18-21h #1"], "30 min");
    assert_eq!(change.before, serde_json::Value::Null);
    let (d, o) = simulate(&l.desired, &o, &p);
    let again = plan(&d, &o);
    assert!(
        !again
            .changes
            .iter()
            .any(|c| matches!(c.step, Step::UpdateShutdownPolicy(UpdateShutdownPolicy { .. })))
    );
}
