//! A fake of GitHub's `workflow_dispatch` endpoint for the nudge tests:
//! `POST /repos/{owner}/{repo}/actions/workflows/{file}/dispatches` answers
//! 204 with an empty body like GitHub, 401 without a bearer token, 404 for an
//! unknown workflow (GitHub's JSON error body), or whatever status a test
//! injects; every request is logged with its headers and body.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct Call {
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
}

#[derive(Clone)]
pub struct FakeGitHub {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

/// The one workflow the fake knows.
pub const WORKFLOW: &str = "reconcile.yml";

impl FakeGitHub {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/repos/{owner}/{repo}/actions/workflows/{file}/dispatches", post(dispatch))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGitHub { url, inner }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    pub fn inject(&self, statuses: &[u16]) {
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
