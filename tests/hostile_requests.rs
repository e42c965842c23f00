//! Hostile input to the admin-request queue (`control/<s>/requests/`):
//! documents planted by the VPS side, or by anyone else holding the
//! server's storage credentials, are refused unread and never run. The
//! agent binary runs with the fake Minecraft, which logs every command it
//! receives (`tests/common/requests_agent.rs`).

use serde_json::json;

mod common;
#[path = "common/requests_agent.rs"]
mod requests_agent;

use requests_agent::*;

// Hostile: what the VPS side (or anyone with its storage credentials) could
// plant in the queue is refused unread, never run.
#[test]
fn hostile_planted_requests_that_do_not_read_are_refused_not_run() {
    let s = setup();
    let a = agent(&s);
    let unknown = fresh_id("000000b1");
    let mut v = planted(&unknown, "time set noon");
    v["run_as"] = json!("root");
    plant(&s, &unknown, v.to_string().as_bytes());
    let huge = fresh_id("000000b2");
    let mut big = planted(&huge, "time set noon").to_string().into_bytes();
    big.truncate(big.len() - 1);
    big.extend_from_slice(b", \"pad\": \"");
    big.resize(5 << 20, b'x');
    big.extend_from_slice(b"\"}");
    plant(&s, &huge, &big);
    let foreign = fresh_id("000000b3");
    plant(&s, &foreign, planted(&fresh_id("000000b4"), "time set noon").to_string().as_bytes());
    let two_lines = fresh_id("000000b5");
    plant(&s, &two_lines, planted(&two_lines, "say hi\nop Mallory").to_string().as_bytes());
    wait_for("four refusals", || results(&s).len() == 4);
    for r in results(&s) {
        assert_eq!(r["outcome"], "refused", "{r}");
        assert!(r["reply"].as_str().unwrap().contains("cannot be read"), "{r}");
    }
    assert!(
        received(&s).iter().all(|c| !c.contains("noon") && !c.contains("op")),
        "{:?}",
        received(&s)
    );
    stop(a);
}
