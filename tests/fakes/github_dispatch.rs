//! A fake of GitHub's `workflow_dispatch` endpoint for the nudge tests:
//! `POST /repos/{owner}/{repo}/actions/workflows/{file}/dispatches` answers
//! 204 with an empty body like GitHub, 401 without a bearer token, 404 for an
//! unknown workflow (GitHub's JSON error body), or whatever status a test
//! injects; every request is logged with its headers and body.
//!
//! Also the two reads `mc-gitops doctor` makes: `GET /repos/{owner}/{repo}`
//! (the repository, with `permissions` for a user's token and without them
//! for an installation token, as GitHub answers) and
//! `GET /repos/{owner}/{repo}/actions/workflows/{file}` (the workflow, 404
//! for another file). Any bearer token may do everything unless
//! [`FakeGitHub::grant`] says otherwise for it; none gets 401. They are
//! logged in [`FakeGitHub::reads`], apart from the dispatches in `calls()`.
//!
//! And the two reads of the Actions minutes tally (`src/actions_minutes`):
//! `GET /repos/{owner}/{repo}/actions/runs` (`status=completed`,
//! `created=>=<time>`, `per_page`, `page`; newest first, like GitHub) and
//! `GET /repos/{owner}/{repo}/actions/runs/{id}/jobs`, over the runs a test
//! adds with [`FakeGitHub::add_run`]; 403 without Actions: read.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// Statuses to answer with, first to last, before answering normally.
    inject: Vec<u16>,
    grants: Vec<(String, Grant)>,
    reads: Vec<Call>,
    runs: Vec<FakeRun>,
}

/// A finished run and its jobs: (started, completed, conclusion).
#[derive(Clone, Debug)]
pub(crate) struct FakeRun {
    pub id: u64,
    pub created_at: String,
    pub jobs: Vec<(String, String, &'static str)>,
}

/// What one token may do in the fake's repository.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grant {
    /// `permissions.push` in `GET /repos/{o}/{r}`; `None` leaves
    /// `permissions` out (an Actions job's installation token).
    pub push: Option<bool>,
    /// Actions: read (the workflow is visible; 403 otherwise).
    pub actions: bool,
}

#[derive(Clone)]
pub(crate) struct FakeGitHub {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

/// The one workflow the fake knows.
pub(crate) const WORKFLOW: &str = "reconcile.yml";

impl FakeGitHub {
    pub(crate) async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/repos/{owner}/{repo}/actions/workflows/{file}/dispatches", post(dispatch))
            .route("/repos/{owner}/{repo}", get(repository))
            .route("/repos/{owner}/{repo}/actions/workflows/{file}", get(workflow))
            .route("/repos/{owner}/{repo}/actions/runs", get(runs))
            .route("/repos/{owner}/{repo}/actions/runs/{id}/jobs", get(jobs))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGitHub { url, inner }
    }

    /// The GETs received (doctor's reads), in order.
    pub(crate) fn reads(&self) -> Vec<Call> {
        self.inner.lock().unwrap().reads.clone()
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Limit what `token` may do (GET answers; the dispatch stays lenient).
    pub(crate) fn grant(&self, token: &str, grant: Grant) {
        self.inner.lock().unwrap().grants.push((token.to_string(), grant));
    }

    pub(crate) fn add_run(&self, run: FakeRun) {
        self.inner.lock().unwrap().runs.push(run);
    }

    pub(crate) fn inject(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().inject = statuses.to_vec();
    }
}

async fn dispatch(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((owner, repo, file)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(String::from);
    let call = Call {
        path: format!("/repos/{owner}/{repo}/actions/workflows/{file}/dispatches"),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let mut inner = inner.lock().unwrap();
    let auth_ok = call
        .authorization
        .as_deref()
        .is_some_and(|a| a.starts_with("Bearer ") && a.len() > 7);
    inner.calls.push(call);
    if !inner.inject.is_empty() {
        let status = StatusCode::from_u16(inner.inject.remove(0)).unwrap();
        return (status, axum::Json(json!({ "message": "injected" }))).into_response();
    }
    if !auth_ok {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "message": "Bad credentials" }))).into_response();
    }
    if file != WORKFLOW {
        return (StatusCode::NOT_FOUND, axum::Json(json!({ "message": "Not Found" }))).into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let a = headers.get("authorization")?.to_str().ok()?;
    a.strip_prefix("Bearer ").filter(|t| !t.is_empty()).map(String::from)
}

fn grant_for(inner: &Inner, headers: &HeaderMap) -> Option<Grant> {
    let token = bearer(headers)?;
    Some(inner.grants.iter().find(|(t, _)| *t == token).map_or(
        Grant {
            push: Some(true),
            actions: true,
        },
        |(_, g)| *g,
    ))
}

fn bad_credentials() -> Response {
    let body = json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401" });
    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
}

fn log_get(inner: &mut Inner, path: String, headers: &HeaderMap) {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(String::from);
    inner.reads.push(Call {
        path,
        authorization: header("authorization"),
        content_type: None,
        body: Value::Null,
    });
}

/// `GET /repos/{owner}/{repo}` (`full-repository`, the fields doctor reads).
async fn repository(State(inner): State<Arc<Mutex<Inner>>>, Path((owner, repo)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let mut inner = inner.lock().unwrap();
    log_get(&mut inner, format!("/repos/{owner}/{repo}"), &headers);
    let Some(grant) = grant_for(&inner, &headers) else {
        return bad_credentials();
    };
    let mut body = json!({
        "id": 700_000_001u64, "name": repo, "full_name": format!("{owner}/{repo}"),
        "private": true, "default_branch": "main", "archived": false,
    });
    if let Some(push) = grant.push {
        body["permissions"] = json!({ "admin": false, "maintain": false, "push": push, "triage": push, "pull": true });
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// `GET /repos/{owner}/{repo}/actions/workflows/{file}` (`workflow`).
async fn workflow(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((owner, repo, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    log_get(&mut inner, format!("/repos/{owner}/{repo}/actions/workflows/{file}"), &headers);
    let Some(grant) = grant_for(&inner, &headers) else {
        return bad_credentials();
    };
    if !grant.actions {
        let body = json!({ "message": "Resource not accessible by personal access token", "status": "403" });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    if file != WORKFLOW {
        let body = json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404" });
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    let body = json!({
        "id": 161_335u64, "node_id": "MDg6V29ya2Zsb3cxNjEzMzU=", "name": "reconcile",
        "path": format!(".github/workflows/{WORKFLOW}"), "state": "active",
        "created_at": "2026-11-01T10:00:00.000Z", "updated_at": "2026-11-01T10:00:00.000Z",
        "url": format!("https://api.github.com/repos/{owner}/{repo}/actions/workflows/161335"),
        "html_url": format!("https://github.com/{owner}/{repo}/blob/main/.github/workflows/{WORKFLOW}"),
        "badge_url": format!("https://github.com/{owner}/{repo}/workflows/reconcile/badge.svg"),
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn forbidden_without_actions(inner: &Inner, headers: &HeaderMap) -> Option<Response> {
    let Some(grant) = grant_for(inner, headers) else {
        return Some(bad_credentials());
    };
    (!grant.actions).then(|| {
        let body = json!({ "message": "Resource not accessible by integration", "status": "403" });
        (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
    })
}

/// `GET /repos/{owner}/{repo}/actions/runs` (`workflow-run` list, newest first).
async fn runs(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((owner, repo)): Path<(String, String)>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let query = query.unwrap_or_default();
    log_get(&mut inner, format!("/repos/{owner}/{repo}/actions/runs?{query}"), &headers);
    if let Some(r) = forbidden_without_actions(&inner, &headers) {
        return r;
    }
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .map(|v| v.replace("%3E", ">").replace("%3D", "=").replace("%3A", ":"))
    };
    assert_eq!(param("status").as_deref(), Some("completed"), "only finished runs are asked for");
    let since = param("created").map(|c| c.trim_start_matches(">=").to_string()).unwrap_or_default();
    let per_page: usize = param("per_page").and_then(|p| p.parse().ok()).unwrap_or(30).min(100);
    let page: usize = param("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let mut matching: Vec<&FakeRun> = inner.runs.iter().filter(|r| r.created_at.as_str() >= since.as_str()).collect();
    matching.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    let total = matching.len();
    let body: Vec<Value> = matching
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| {
            json!({
                "id": r.id, "name": "reconcile", "event": "schedule", "status": "completed",
                "conclusion": "success", "workflow_id": 161_335u64, "created_at": r.created_at,
                "updated_at": r.created_at, "run_started_at": r.created_at,
            })
        })
        .collect();
    (StatusCode::OK, axum::Json(json!({ "total_count": total, "workflow_runs": body }))).into_response()
}

/// `GET /repos/{owner}/{repo}/actions/runs/{id}/jobs` (`job` list).
async fn jobs(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    log_get(&mut inner, format!("/repos/{owner}/{repo}/actions/runs/{id}/jobs"), &headers);
    if let Some(r) = forbidden_without_actions(&inner, &headers) {
        return r;
    }
    let Some(run) = inner.runs.iter().find(|r| r.id == id) else {
        return (StatusCode::NOT_FOUND, axum::Json(json!({ "message": "Not Found" }))).into_response();
    };
    let jobs: Vec<Value> = run
        .jobs
        .iter()
        .enumerate()
        .map(|(i, (started, completed, conclusion))| {
            json!({
                "id": id * 10 + i as u64, "run_id": id, "status": "completed", "conclusion": conclusion,
                "started_at": started, "completed_at": completed, "name": format!("job {i}"),
            })
        })
        .collect();
    (StatusCode::OK, axum::Json(json!({ "total_count": jobs.len(), "jobs": jobs }))).into_response()
}
