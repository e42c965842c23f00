//! The nudge against a fake GitHub: the request's shape (a `workflow_dispatch`
//! asking for a reconcile, never the workflow's Start defaults) and auth
//! header, 204 handling, errors that name the request, no call at all
//! without `control/<s>/nudge.json`, a rotated token picked up after a 401,
//! and the agent binary nudging with the token it read from its store.

#[path = "fakes/github_dispatch.rs"]
mod github_fake;

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use github_fake::{FakeGitHub, WORKFLOW};
use mc_gitops::agent::nudge::{GitHubNudge, NudgeError};
use mc_gitops::ids::ServerName;
use mc_gitops::secret::Secret;
use mc_gitops::storage::Store;
use mc_gitops::storage::nudge::NudgeDoc;
use serde_json::json;
use sha2::{Digest, Sha256};

const TOKEN: &str = "github_pat_11ONLYACTIONSWRITE";

fn doc(workflow: &str, token: &str) -> NudgeDoc {
    NudgeDoc {
        repo: "friends/grove-state".into(),
        workflow: workflow.into(),
        git_ref: "main".into(),
        token: Secret::new(token),
    }
}

/// A store holding `doc` as the server's nudge settings (if any).
async fn store(dir: &Path, doc: Option<&NudgeDoc>) -> Store {
    let s = Store::local(dir, &ServerName::new("grove")).unwrap();
    if let Some(d) = doc {
        s.put_json(&s.nudge_key(), d).await.unwrap();
    }
    s
}

/// Regression (issue 11, break 3): the nudge sent no inputs, so GitHub used
/// the workflow's defaults (`action=start, region=eu`) and pressed Start.
#[tokio::test]
async fn a_nudge_asks_for_a_reconcile_and_never_presses_start() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut n = GitHubNudge::new(&gh.url, store(dir.path(), Some(&doc(WORKFLOW, TOKEN))).await);
    assert!(n.dispatch().await.unwrap());
    let calls = gh.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].path,
        "/repos/friends/grove-state/actions/workflows/reconcile.yml/dispatches"
    );
    assert_eq!(calls[0].authorization, Some(format!("Bearer {TOKEN}")));
    assert_eq!(calls[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(calls[0].body, json!({ "ref": "main", "inputs": { "action": "reconcile" } }));
}

#[tokio::test]
async fn no_nudge_settings_means_no_call() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut n = GitHubNudge::new(&gh.url, store(dir.path(), None).await);
    assert!(!n.dispatch().await.unwrap());
    assert!(!n.dispatch().await.unwrap());
    assert!(gh.calls().is_empty());
}

#[tokio::test]
async fn settings_written_later_are_picked_up_at_the_next_nudge() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), None).await;
    let mut n = GitHubNudge::new(&gh.url, s.clone());
    assert!(!n.dispatch().await.unwrap());
    s.put_json(&s.nudge_key(), &doc(WORKFLOW, TOKEN)).await.unwrap();
    assert!(n.dispatch().await.unwrap());
    assert_eq!(gh.calls().len(), 1);
}

#[tokio::test]
async fn a_refusal_is_an_error_naming_the_request_and_is_not_retried() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut n = GitHubNudge::new(&gh.url, store(dir.path(), Some(&doc("missing.yml", TOKEN))).await);
    let err = n.dispatch().await.unwrap_err();
    assert!(matches!(err, NudgeError::Refused { status, .. } if status == 404));
    let text = err.to_string();
    assert!(text.contains("/actions/workflows/missing.yml/dispatches answered 404"), "{text}");
    assert!(text.contains("Not Found"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
    assert_eq!(gh.calls().len(), 1, "the same settings are not tried twice");
}

#[tokio::test]
async fn a_rotated_token_is_read_again_after_a_401_and_used() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), Some(&doc(WORKFLOW, "github_pat_OLD"))).await;
    let mut n = GitHubNudge::new(&gh.url, s.clone());
    assert!(n.dispatch().await.unwrap());
    // The admin rotates the token; apply writes the new one; GitHub refuses the old.
    s.put_json(&s.nudge_key(), &doc(WORKFLOW, "github_pat_NEW")).await.unwrap();
    gh.inject(&[401]);
    assert!(n.dispatch().await.unwrap());
    let auth: Vec<_> = gh.calls().into_iter().map(|c| c.authorization.unwrap()).collect();
    assert_eq!(auth, ["Bearer github_pat_OLD", "Bearer github_pat_OLD", "Bearer github_pat_NEW"]);
}

#[tokio::test]
async fn a_server_error_is_retried_then_succeeds() {
    let gh = FakeGitHub::start().await;
    gh.inject(&[502]);
    let dir = tempfile::tempdir().unwrap();
    let mut n = GitHubNudge::new(&gh.url, store(dir.path(), Some(&doc(WORKFLOW, TOKEN))).await);
    assert!(n.dispatch().await.unwrap());
    assert_eq!(gh.calls().len(), 2);
}

#[tokio::test]
async fn a_server_that_keeps_failing_gives_up_after_three_attempts() {
    let gh = FakeGitHub::start().await;
    gh.inject(&[500, 500, 500]);
    let dir = tempfile::tempdir().unwrap();
    let mut n = GitHubNudge::new(&gh.url, store(dir.path(), Some(&doc(WORKFLOW, TOKEN))).await);
    let err = n.dispatch().await.unwrap_err();
    assert!(matches!(err, NudgeError::Http(_)), "{err:?}");
    assert_eq!(gh.calls().len(), 3);
}

#[tokio::test]
async fn an_unreachable_github_is_an_error_not_a_hang() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut n = GitHubNudge::new(
        &format!("http://127.0.0.1:{port}"),
        store(dir.path(), Some(&doc(WORKFLOW, TOKEN))).await,
    );
    assert!(matches!(n.dispatch().await, Err(NudgeError::Http(_))));
}

/// The real binary: an agent whose agent.toml holds no token nudges the fake
/// GitHub once Minecraft is ready, with the token from `nudge.json`, and
/// never prints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_nudges_with_the_token_from_its_store() {
    let gh = FakeGitHub::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let mc = tmp.path().join("minecraft");
    let s = store(&storage, Some(&doc(WORKFLOW, TOKEN))).await;
    let props = b"motd=Grove\nenable-rcon=false\n".to_vec();
    let hash = format!("sha256:{}", hex::encode(Sha256::digest(&props)));
    s.put_asset(&hash, props.clone()).await.unwrap();
    let desired = json!({
        "version": 1, "session": "20261122-1800-eu", "stop_requested": null, "stop_reason": null,
        "whitelist": ["Steve"], "ops": [],
        "assets": { "server.properties": { "hash": hash, "size": props.len() } },
        "written": "2026-11-22T18:00:00Z"
    });
    s.put_json(&s.control_key(), &desired).await.unwrap();
    let config = tmp.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "server = \"grove\"\nminecraft_dir = {mc:?}\njava = [{python:?}, {fake:?}]\n\
             game_port = {game}\nrcon_port = {rcon}\n[storage]\ndir = {storage:?}\n\
             [lifecycle]\nheartbeat = \"1s\"\ncontrol_poll = \"1s\"\nplayers_poll = \"1s\"\n",
            mc = mc.display().to_string(),
            python = common::python().display().to_string(),
            fake = common::peers().join("fake_minecraft.py").display().to_string(),
            game = common::free_port(),
            rcon = common::free_port(),
            storage = storage.display().to_string(),
        ),
    )
    .unwrap();
    assert!(!std::fs::read_to_string(&config).unwrap().contains(TOKEN));
    let child = Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
        .args(["agent", "--config"])
        .arg(&config)
        .env("MC_GITOPS_LOG", "debug")
        .env("GITHUB_API_URL", &gh.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while gh.calls().is_empty() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let calls = gh.calls();
    assert!(!calls.is_empty(), "the agent never nudged:\n{all}");
    assert_eq!(calls[0].authorization, Some(format!("Bearer {TOKEN}")));
    assert_eq!(calls[0].body, json!({ "ref": "main", "inputs": { "action": "reconcile" } }));
    assert!(out.status.success(), "{all}");
    assert!(all.contains("nudged the reconciler"), "{all}");
    assert!(!all.contains(TOKEN), "the token was printed:\n{all}");
}
