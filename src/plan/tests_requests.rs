//! Planner tests for pruning `control/<s>/requests/`: what goes (recorded
//! in a closed session's file, expired unanswered, an answer alone that no
//! session can record, an answered request that cannot be read), what
//! stays, the bound per run, and a rerun after a simulated apply planning
//! nothing.

use chrono::Duration;

use super::effect::simulate;
use super::tests::{both, desired, now, running};
use super::*;
use crate::observe::Observed;
use crate::observe::requests::ObservedRequests;
use crate::repo::Desired;
use crate::storage::requests::RequestId;

const CLOSED: &str = "sessions/2026/11/20261121-1800-eu.toml";

fn id(s: &str) -> RequestId {
    RequestId::parse(s).unwrap()
}

fn pruned(p: &Plan) -> Vec<(String, RequestPrune)> {
    p.changes
        .iter()
        .filter_map(|c| match &c.step {
            Step::PruneRequest(PruneRequest { id, because }) => Some((id.to_string(), because.clone())),
            _ => None,
        })
        .collect()
}

/// A running session started an hour ago, and a requests/ listing with one
/// of each case.
fn observed() -> (Desired, Observed) {
    let d = desired();
    let mut o = running(&d, now() - Duration::hours(1));
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    o.requests = Some(ObservedRequests {
        unanswered: vec![
            (id("20261122T160000Z-0000000c"), None),
            (id("20261122T170000Z-0000000a"), Some(at("2026-11-22T17:10:00Z"))),
            (id("20261122T180000Z-000000b2"), Some(at("2026-11-22T19:00:00Z"))),
            (id("20261122T192500Z-0000000b"), Some(at("2026-11-22T19:35:00Z"))),
        ],
        answered: vec![
            id("20261121T190000Z-0000000d"),
            id("20261121T200000Z-0000000f"),
            id("20261122T190000Z-0000000e"),
            id("20261122T190500Z-00000001"),
        ],
        results_alone: vec![id("20261121T200000Z-0000000f"), id("20261122T190500Z-00000001")],
        unreadable: vec![],
        recorded: [(id("20261121T190000Z-0000000d"), CLOSED.to_string())].into(),
    });
    (d, o)
}

#[test]
fn recorded_expired_and_lone_answers_go_and_everything_an_agent_or_session_may_need_stays() {
    let (d, o) = observed();
    let p = plan(&d, &o);
    assert_eq!(
        pruned(&p),
        [
            (
                "20261121T190000Z-0000000d".to_string(),
                RequestPrune::Recorded { file: CLOSED.into() }
            ),
            ("20261121T200000Z-0000000f".to_string(), RequestPrune::ResultAlone),
            (
                "20261122T170000Z-0000000a".to_string(),
                RequestPrune::Expired {
                    expires: "2026-11-22T17:10:00Z".parse().unwrap()
                }
            ),
        ],
        "kept: unreadable expiry (c), expired within the grace (b2), not expired (b), unrecorded answer (e), a lone answer the open session may record (1)"
    );
    let (text, json) = both(&p);
    assert!(text.contains("- request 20261121T190000Z-0000000d"), "{text}");
    assert!(text.contains(&format!("recorded in {CLOSED}")), "{text}");
    assert!(json.contains("\"kind\": \"prune-request\""), "{json}");
    assert!(json.contains("\"because\": \"recorded\""), "{json}");
    assert!(json.contains("\"because\": \"expired\""), "{json}");
    assert!(json.contains("\"because\": \"result-alone\""), "{json}");

    let (d, o) = simulate(&d, &o, &p);
    assert!(pruned(&plan(&d, &o)).is_empty(), "a rerun prunes nothing twice");
}

#[test]
fn with_no_open_session_every_lone_answer_goes_and_nothing_without_storage() {
    let (d, mut o) = observed();
    o.session = None;
    let ids: Vec<String> = pruned(&plan(&d, &o)).into_iter().map(|(i, _)| i).collect();
    assert!(ids.contains(&"20261122T190500Z-00000001".to_string()), "{ids:?}");
    o.requests = None;
    assert!(pruned(&plan(&d, &o)).is_empty(), "not observed: nothing planned");
}

#[test]
fn at_most_a_bounded_number_go_per_run_oldest_first() {
    let (d, mut o) = observed();
    let r = o.requests.as_mut().unwrap();
    for i in 0..40u32 {
        let x = id(&format!("20261120T1{:05}Z-{i:08x}", i));
        r.answered.push(x.clone());
        r.recorded.insert(x, CLOSED.into());
    }
    r.answered.sort();
    let p = plan(&d, &o);
    let got = pruned(&p);
    assert_eq!(got.len(), MAX_REQUESTS_PRUNED);
    assert_eq!(got[0].0, "20261120T100000Z-00000000");
    let (d, o) = simulate(&d, &o, &p);
    assert_eq!(pruned(&plan(&d, &o)).len(), MAX_REQUESTS_PRUNED, "the rest next run");
}

/// Unreadable requests were never pruned: an answered one that no session
/// file records stayed forever. Now it goes with its answer once no open
/// session can record it and its id is [`UNREADABLE_KEPT`] old; one not
/// answered (expiry unreadable: `None`) still stays.
#[test]
fn an_answered_unreadable_request_goes_once_past_its_window_and_unrecordable() {
    let (d, mut o) = observed();
    let old = id("20261122T170000Z-000000e1");
    let young = id("20261122T190000Z-000000e2");
    let r = o.requests.as_mut().unwrap();
    r.answered.extend([old.clone(), young.clone()]);
    r.answered.sort();
    r.unreadable = vec![old.clone(), young.clone()];
    let unreadable = |p: &Plan| -> Vec<String> {
        pruned(p)
            .into_iter()
            .filter(|(_, b)| *b == RequestPrune::Unreadable)
            .map(|(i, _)| i)
            .collect()
    };
    let p = plan(&d, &o);
    assert_eq!(unreadable(&p), [old.to_string()], "the young one the open session may record");
    let c = p.changes.iter().find(|c| c.resource == format!("request {old}")).unwrap();
    assert!(c.reason.contains("cannot be read"), "{}", c.reason);
    assert_eq!(
        c.before,
        serde_json::json!({
            "request": format!("control/grove/requests/{old}.json"),
            "result": format!("control/grove/requests/{old}.result.json"),
        })
    );
    let (d2, o2) = simulate(&d, &o, &p);
    assert!(unreadable(&plan(&d2, &o2)).is_empty(), "a rerun prunes nothing twice");

    // No open session: the young one (asked 30 minutes ago) is still inside
    // its window, and goes once the id is UNREADABLE_KEPT old.
    o.session = None;
    assert_eq!(unreadable(&plan(&d, &o)), [old.to_string()]);
    o.now = young.asked() + UNREADABLE_KEPT;
    assert_eq!(unreadable(&plan(&d, &o)), [old.to_string(), young.to_string()]);
    o.requests.as_mut().unwrap().unreadable.clear();
    assert!(unreadable(&plan(&d, &o)).is_empty(), "readable: only the other rules apply");
}
