//! Hostile input to the admin-request queue (`control/<s>/requests/`):
//! documents planted by the VPS side, or by anyone else holding the
//! server's storage credentials, are refused unread and never run. The
//! agent binary runs with the fake Minecraft, which logs every command it
//! receives (`tests/common/requests_agent.rs`).

use serde_json::json;

mod common;
#[path = "common/requests_agent.rs"]
mod requests_agent;
#[path = "fakes/s3.rs"]
mod s3_fake;

use mc_gitops::ids::ServerName;
use mc_gitops::storage::StorageError;
use mc_gitops::storage::requests::{Action, Outcome, RequestDoc, RequestId, ResultDoc, VERSION};
use requests_agent::*;

// On S3 (the fake enforces If-None-Match and the VPS key's scope as R2
// does): a request or an answer, once written, is never replaced, whoever
// holds the keys; the VPS's scoped keys list and answer the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_a_request_and_its_answer_are_never_overwritten_by_either_side() {
    let s3 = s3_fake::S3Server::start().await;
    let admin = s3.store_as(s3_fake::ACCESS_KEY, s3_fake::SECRET_KEY, "grove");
    let prefixes = mc_gitops::storage::credentials::agent_prefixes(&ServerName::new("grove"));
    s3.allow_scoped("AKVPSSCOPED0001", "vps-scoped-secret", &prefixes);
    let vps = s3.store_as("AKVPSSCOPED0001", "vps-scoped-secret", "grove");
    let asked = chrono::Utc::now();
    let req = RequestDoc {
        version: VERSION,
        id: RequestId::new(asked),
        action: Action::Console,
        command: Some("time set day".into()),
        actor: "grove-admin".into(),
        asked,
        expires: asked + chrono::Duration::minutes(2),
    };
    admin.put_request(&req).await.unwrap();
    let mut forged = req.clone();
    forged.command = Some("kill @a".into());
    for store in [&admin, &vps] {
        assert!(matches!(store.put_request(&forged).await, Err(StorageError::Conflict { .. })));
    }
    assert_eq!(vps.list_requests().await.unwrap().pending, vec![req.id.clone()]);
    assert_eq!(vps.request(&req.id).await.unwrap(), Some(Ok(req.clone())));
    let answer = ResultDoc::answer(&req, asked, Outcome::Ok, "Set the time to 1000", None);
    assert!(vps.put_result(&answer).await.unwrap());
    let mut other = answer.clone();
    other.reply = "forged".into();
    assert!(!admin.put_result(&other).await.unwrap(), "the first answer stays");
    assert_eq!(admin.result(&req.id).await.unwrap(), Some(Ok(answer)));
    assert!(vps.list_requests().await.unwrap().pending.is_empty());
}

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
