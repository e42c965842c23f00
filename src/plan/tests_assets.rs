//! Planner tests for the stored copies of the server's files: a start after
//! the VPS deleted or changed one that desired.json still lists sends it
//! again (`assets/<s>/` is inside the VPS's credentials).

use std::collections::BTreeMap;

use chrono::Duration;

use super::effect::simulate;
use super::tests::{both, example, now, running};
use super::*;
use crate::observe::assets::AssetDamage;

/// Offline after a session: desired.json lists every file, stored by that session's start.
fn after_a_session(d: &crate::repo::Desired) -> crate::observe::Observed {
    let mut o = running(d, now() - Duration::hours(3));
    (o.server, o.session, o.agent) = (None, None, None);
    o.dns.as_mut().unwrap().a = None;
    o
}

fn puts(p: &Plan) -> Vec<(&str, &str)> {
    p.changes
        .iter()
        .filter_map(|c| match &c.step {
            Step::PutAsset(PutAsset { path, .. }) => Some((path.as_str(), c.reason.as_str())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_start_sends_again_the_listed_files_whose_stored_copy_is_damaged() {
    let l = example();
    let mut o = after_a_session(&l.desired);
    assert_eq!(puts(&plan(&l.desired, &o)), [], "whole copies are not sent twice");
    o.control.as_mut().unwrap().damaged = BTreeMap::from([
        ("whitelist.json".to_string(), AssetDamage::Missing),
        ("server.properties".to_string(), AssetDamage::Resized { stored: 18, expected: 900 }),
        ("eula.txt".to_string(), AssetDamage::Altered),
    ]);
    let p = plan(&l.desired, &o);
    assert_eq!(
        puts(&p),
        [
            (
                "eula.txt",
                "stored copy altered: its sha256 is not the listed one; shipped for the new session"
            ),
            (
                "server.properties",
                "stored copy altered: 18 bytes, 900 expected; shipped for the new session"
            ),
            ("whitelist.json", "stored copy missing; shipped for the new session"),
        ]
    );
    // Before the server is created, so its agent's first document lists whole files.
    let create = p
        .changes
        .iter()
        .position(|c| matches!(c.step, Step::CreateServer(CreateServer { .. })))
        .unwrap();
    let last_put = p
        .changes
        .iter()
        .rposition(|c| matches!(c.step, Step::PutAsset(PutAsset { .. })))
        .unwrap();
    assert!(last_put < create);
    let (text, _) = both(&p);
    assert!(text.contains("~ file server.properties"), "{text}");
    assert!(text.contains("# stored copy missing; shipped for the new session"), "{text}");
    // Once sent, nothing is sent again.
    let (d, o) = simulate(&l.desired, &o, &p);
    assert_eq!(puts(&plan(&d, &o)), []);
}

#[test]
fn a_provisioning_agent_gets_a_damaged_copy_sent_again_once() {
    let l = example();
    let mut o = running(&l.desired, now() - Duration::minutes(2));
    o.agent.as_mut().unwrap().phase = crate::lifecycle::Phase::Provisioning;
    o.control.as_mut().unwrap().damaged = BTreeMap::from([("ops.json".to_string(), AssetDamage::Missing)]);
    let p = plan(&l.desired, &o);
    assert_eq!(
        puts(&p),
        [("ops.json", "stored copy missing; sent again for the agent, still provisioning")]
    );
    let (d, o) = simulate(&l.desired, &o, &p);
    assert!(o.control.as_ref().unwrap().damaged.is_empty());
    assert_eq!(puts(&plan(&d, &o)), []);
}
