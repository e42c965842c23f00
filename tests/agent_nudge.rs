//! The nudge against a fake GitHub: the request's shape and auth header, 204
//! handling, errors that name the request, and no call at all without a token.

#[path = "fakes/github_dispatch.rs"]
mod github_fake;

use github_fake::{FakeGitHub, WORKFLOW};
use mc_gitops::agent::config::NudgeConfig;
use mc_gitops::agent::nudge::{GitHubNudge, NudgeError};
use mc_gitops::secret::Secret;
use serde_json::json;

fn config(workflow: &str) -> NudgeConfig {
    NudgeConfig {
        token: Secret::new("ghp_onlyworkflows"),
        repo: "friends/grove-state".into(),
        workflow: workflow.into(),
        git_ref: "main".into(),
    }
}

#[tokio::test]
async fn a_dispatch_carries_only_the_ref_and_the_token() {
    let gh = FakeGitHub::start().await;
    let n = GitHubNudge::new(&gh.url, Some(config(WORKFLOW))).unwrap();
    assert!(n.dispatch().await.unwrap());
    let calls = gh.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].path,
        "/repos/friends/grove-state/actions/workflows/reconcile.yml/dispatches"
    );
    assert_eq!(calls[0].authorization.as_deref(), Some("Bearer ghp_onlyworkflows"));
    assert_eq!(calls[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(calls[0].body, json!({ "ref": "main" }));
}

#[tokio::test]
async fn no_token_means_no_call() {
    let gh = FakeGitHub::start().await;
    let n = GitHubNudge::new(&gh.url, None).unwrap();
    assert!(!n.dispatch().await.unwrap());
    assert!(gh.calls().is_empty());
}

#[tokio::test]
async fn a_refusal_is_an_error_naming_the_request_and_is_not_retried() {
    let gh = FakeGitHub::start().await;
    let n = GitHubNudge::new(&gh.url, Some(config("missing.yml"))).unwrap();
    let err = n.dispatch().await.unwrap_err();
    assert!(matches!(err, NudgeError::Refused { status, .. } if status == 404));
    let text = err.to_string();
    assert!(text.contains("/actions/workflows/missing.yml/dispatches answered 404"), "{text}");
    assert!(text.contains("Not Found"), "{text}");
    assert!(!text.contains("ghp_"), "{text}");
    assert_eq!(gh.calls().len(), 1);
}

#[tokio::test]
async fn a_server_error_is_retried_then_succeeds() {
    let gh = FakeGitHub::start().await;
    gh.inject(&[502]);
    let n = GitHubNudge::new(&gh.url, Some(config(WORKFLOW))).unwrap();
    assert!(n.dispatch().await.unwrap());
    assert_eq!(gh.calls().len(), 2);
}

#[tokio::test]
async fn a_server_that_keeps_failing_gives_up_after_three_attempts() {
    let gh = FakeGitHub::start().await;
    gh.inject(&[500, 500, 500]);
    let n = GitHubNudge::new(&gh.url, Some(config(WORKFLOW))).unwrap();
    let err = n.dispatch().await.unwrap_err();
    assert!(matches!(err, NudgeError::Http(_)), "{err:?}");
    assert_eq!(gh.calls().len(), 3);
}

#[tokio::test]
async fn an_unreachable_github_is_an_error_not_a_hang() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let n = GitHubNudge::new(&format!("http://127.0.0.1:{port}"), Some(config(WORKFLOW))).unwrap();
    assert!(matches!(n.dispatch().await, Err(NudgeError::Http(_))));
}
