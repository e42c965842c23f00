//! `mc-gitops apply` and the admin's requests (`control/<s>/requests/`):
//! the agent's answers recorded in the open session's file once, and what
//! the reconciler prunes from storage and when (`plan/planner/requests.rs`).

mod common;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/discord.rs"]
mod discord_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "common/apply_world.rs"]
mod world;

use world::{World, at, ok, session0};

/// An answer as the agent stores it: `control/grove/requests/<id>.result.json`.
fn agent_answers(w: &World, id: &str, session: &str, command: &str, reply: &str) {
    let path = w.storage_file(&format!("control/grove/requests/{id}.result.json"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let doc = serde_json::json!({
        "version": 1, "id": id, "action": "console", "command": command, "actor": "grove-admin",
        "asked": at(4), "ran": at(5), "outcome": "ok", "reply": reply, "session": session,
    });
    std::fs::write(path, serde_json::to_vec(&doc).unwrap()).unwrap();
}

// Issue 13: each request the agent answered is committed in the session's
// file once, and an answer for another session is not this one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_answers_are_recorded_in_the_session_file_once() {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    let session = session0().0;
    let id = format!(
        "{}-0000000a",
        chrono::DateTime::parse_from_rfc3339(&at(4)).unwrap().format("%Y%m%dT%H%M%SZ")
    );
    agent_answers(&w, &id, &session, "time set day", "Set the time to 1000\n\"[[requests]]\"");
    let other = format!(
        "{}-0000000b",
        chrono::DateTime::parse_from_rfc3339(&at(4)).unwrap().format("%Y%m%dT%H%M%SZ")
    );
    agent_answers(&w, &other, "20261101-1802-eu", "time set night", "Set the time to 13000");
    let text = ok(&w.apply(&at(6)).await);
    assert!(text.contains("1 admin request(s) answered"), "{text}");
    let file = std::fs::read_to_string(w.repo.path().join(session0().1)).unwrap();
    assert!(file.contains(&format!("id = \"{id}\"")), "{file}");
    assert!(
        file.contains("what = \"console `time set day`\"") && file.contains("ok = true"),
        "{file}"
    );
    assert!(!file.contains(&other), "another session's answer: {file}");
    let loaded = mc_gitops::repo::load(w.repo.path()).unwrap();
    let s = loaded.ledger.sessions.iter().find(|s| s.id.as_str() == session).unwrap();
    assert_eq!(s.requests.len(), 1);
    assert_eq!(s.requests[0].reply, "Set the time to 1000 \"[[requests]]\"");
    ok(&w.apply(&at(7)).await);
    let again = std::fs::read_to_string(w.repo.path().join(session0().1)).unwrap();
    let tables = again.lines().filter(|l| l.starts_with("[[requests]]")).count();
    assert_eq!(tables, 1, "recorded once: {again}");
}

/// The id of a request asked at `when` (an `at(..)` time), with `tag`.
fn request_id(when: &str, tag: &str) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(when).unwrap();
    format!("{}-{tag}", t.format("%Y%m%dT%H%M%SZ"))
}

/// `mc-gitops console`'s request document, asked at `asked`.
fn admin_asks(w: &World, id: &str, asked: &str, expires: &str) {
    let path = w.storage_file(&format!("control/grove/requests/{id}.json"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let doc = serde_json::json!({
        "version": 1, "id": id, "action": "console", "command": "time set day", "actor": "grove-admin",
        "asked": asked, "expires": expires,
    });
    std::fs::write(path, serde_json::to_vec(&doc).unwrap()).unwrap();
}

fn requests_left(w: &World) -> Vec<String> {
    let dir = w.storage_file("control/grove/requests");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

// Once the session that recorded them is closed, its requests and answers
// leave storage; so does a request never answered and long expired. A
// request not answered and not expired stays: an agent may still run it.
// A run that stopped between deleting a request and its answer converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_requests_are_pruned_once_their_session_is_closed() {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    let session = session0().0;
    let (a, b) = (request_id(&at(4), "0000000a"), request_id(&at(4), "0000000b"));
    for id in [&a, &b] {
        admin_asks(&w, id, &at(4), &at(14));
        agent_answers(&w, id, &session, "time set day", "Set the time to 1000");
    }
    let waiting = request_id(&at(5), "0000000c");
    admin_asks(&w, &waiting, &at(5), &at(600));
    let expired = request_id(&at(-180), "0000000d");
    admin_asks(&w, &expired, &at(-180), &at(-120));

    let text = ok(&w.apply(&at(6)).await);
    assert!(text.contains("2 admin request(s) answered"), "{text}");
    assert!(text.contains(&format!("request {expired}")), "{text}");
    assert!(
        !requests_left(&w).iter().any(|n| n.starts_with(&expired)),
        "expired over an hour ago, never answered: {:?}",
        requests_left(&w)
    );
    assert_eq!(
        requests_left(&w).len(),
        5,
        "an open session's requests stay: {:?}",
        requests_left(&w)
    );

    w.stop_through(10).await;
    // A run that deleted b's request and stopped before its answer.
    std::fs::remove_file(w.storage_file(&format!("control/grove/requests/{b}.json"))).unwrap();
    let text = ok(&w.apply(&at(13)).await);
    assert!(
        text.contains(&format!("request {a}")) && text.contains(&format!("recorded in {}", session0().1)),
        "{text}"
    );
    assert_eq!(
        requests_left(&w),
        [format!("{waiting}.json")],
        "the unanswered, unexpired request stays"
    );
    let file = std::fs::read_to_string(w.repo.path().join(session0().1)).unwrap();
    assert_eq!(file.matches("[[requests]]").count(), 2, "the session file keeps the record: {file}");
    let text = ok(&w.apply(&at(14)).await);
    assert!(!text.contains("request 2"), "nothing left to prune: {text}");
    assert_eq!(requests_left(&w), [format!("{waiting}.json")]);
}

/// A request document this version cannot read, as planted (or written by
/// a newer `mc-gitops console`), and the agent's answer to it when `ran`
/// is given: `refused`, "cannot be read", naming the session it served.
fn unreadable_request(w: &World, id: &str, ran: Option<(&str, &str)>) {
    let path = w.storage_file(&format!("control/grove/requests/{id}.json"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, br#"{"version": 2, "action": "teleport"}"#).unwrap();
    let Some((ran, session)) = ran else { return };
    let id = mc_gitops::storage::requests::RequestId::parse(id).unwrap();
    let answer = mc_gitops::agent::requests::unreadable(
        &id,
        "version 2",
        ran.parse().unwrap(),
        Some(mc_gitops::ids::SessionId::new(session)),
    );
    let path = w.storage_file(&format!("control/grove/requests/{id}.result.json"));
    std::fs::write(path, serde_json::to_vec(&answer).unwrap()).unwrap();
}

// Unreadable requests were never pruned: one asked before the session the
// agent refused it in (so no session file records it) stayed in storage
// forever, re-listed at every run. Now it goes with its answer by the same
// age as an expired request; one the agent has not answered still stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_requests_are_pruned_once_answered_and_past_their_answer_window() {
    let w = World::new().await;
    ok(&w.apply(&at(0)).await);
    let session = session0().0;
    let old = request_id(&at(-30), "000000e1");
    unreadable_request(&w, &old, Some((&at(4), &session)));
    let fresh = request_id(&at(4), "000000e2");
    unreadable_request(&w, &fresh, Some((&at(5), &session)));
    let unanswered = request_id(&at(5), "000000e3");
    unreadable_request(&w, &unanswered, None);
    let text = ok(&w.apply(&at(6)).await);
    assert!(
        text.contains("1 admin request(s) answered"),
        "only the fresh one is recordable: {text}"
    );

    w.stop_through(10).await;
    let text = ok(&w.apply(&at(13)).await);
    assert!(text.contains(&format!("request {fresh}")), "recorded, session closed: {text}");
    assert_eq!(
        requests_left(&w),
        [format!("{old}.json"), format!("{old}.result.json"), format!("{unanswered}.json")],
        "asked 43 minutes ago: inside its answer window (10 minutes and the hour's grace)"
    );
    let text = ok(&w.apply(&at(45)).await);
    assert!(
        text.contains(&format!("request {old}")) && text.contains("cannot be read"),
        "{text}"
    );
    assert_eq!(
        requests_left(&w),
        [format!("{unanswered}.json")],
        "never answered: an agent may still refuse it"
    );
    let file = std::fs::read_to_string(w.repo.path().join(session0().1)).unwrap();
    assert!(file.contains("what = \"unreadable\""), "{file}");
    assert!(!ok(&w.apply(&at(46)).await).contains("request 2"), "nothing left to prune");
}
