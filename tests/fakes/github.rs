//! An in-process fake of the GitHub REST API's issue comments (what
//! octocrab calls for a PR's plan comment), and of Mojang's profile lookup:
//! - `GET  /repos/{owner}/{repo}/issues/{n}/comments` (list),
//! - `POST /repos/{owner}/{repo}/issues/{n}/comments` (create, 201),
//! - `PATCH /repos/{owner}/{repo}/issues/comments/{id}` (update; the only
//!   method the fake takes there, as documented — POST gets 405),
//!   every one answering 401 `Bad credentials` without `Bearer <TOKEN>`;
//! - `GET /repos/{owner}/{repo}/pulls?head=owner:branch` and
//!   `GET /repos/{owner}/{repo}/commits/{sha}/pulls`: the pull requests in
//!   [`Inner::pulls`] (how `check --post-result` finds which pull request a
//!   `workflow_run` belongs to), with the token like the rest;
//! - `GET /users/profiles/minecraft/{name}`: `{"id", "name"}` for a known
//!   name (any case), 404 with Mojang's error body for an unknown one, 400
//!   for the name `Boom` (a lookup that fails).
//!
//! Comments carry every field octocrab's `Comment` model requires.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use serde_json::{Value, json};

pub(crate) const TOKEN: &str = "ghs_fakeWorkflowToken0000000000000000";

/// Known Minecraft accounts: canonical name and undashed id.
pub(crate) const PROFILES: &[(&str, &str)] = &[
    ("Steve", "8667ba71b85a4004af54457a9734eed7"),
    ("Alex", "dd3ec016bb8a4efe9cc11796b7a57df9"),
    ("Notch_", "43a6e636d11c4d78b63f9ec5dfd111a5"),
    ("NewFriend", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    ("Second", "11112222333344445555666677778888"),
];

#[derive(Default)]
pub(crate) struct Inner {
    /// (id, pr, body)
    pub comments: Vec<(u64, u64, String)>,
    pub calls: Vec<String>,
    /// The repository's open pull requests.
    pub pulls: Vec<Pull>,
    /// Ids of comments written by a person (`mallory`, type User); every
    /// other comment is `github-actions[bot]`'s.
    pub by_people: Vec<u64>,
    next: u64,
}

/// One pull request as the pulls endpoints describe it.
#[derive(Clone, Debug)]
pub(crate) struct Pull {
    pub number: u64,
    pub head_sha: String,
    /// `owner/name` of the repository the head branch is in (a fork's, or the base's own).
    pub head_repo: String,
    pub head_branch: String,
}

fn pull_json(base_repo: &str, p: &Pull) -> Value {
    let owner = p.head_repo.split('/').next().unwrap_or_default();
    json!({
        "url": format!("https://api.github.com/repos/{base_repo}/pulls/{}", p.number),
        "id": 500_000 + p.number, "number": p.number, "state": "open",
        "title": format!("pull request {}", p.number),
        "head": {
            "label": format!("{owner}:{}", p.head_branch), "ref": p.head_branch, "sha": p.head_sha,
            "repo": { "full_name": p.head_repo, "fork": p.head_repo != base_repo }
        },
        "base": { "ref": "main", "repo": { "full_name": base_repo, "fork": false } }
    })
}

#[derive(Clone)]
pub(crate) struct FakeGithub {
    pub inner: Arc<Mutex<Inner>>,
    base: String,
}

impl FakeGithub {
    pub(crate) async fn start() -> FakeGithub {
        let inner = Arc::new(Mutex::new(Inner {
            next: 1000,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/repos/{owner}/{repo}/issues/{n}/comments", get(list).post(create))
            .route("/repos/{owner}/{repo}/issues/comments/{id}", patch(update))
            .route("/repos/{owner}/{repo}/pulls", get(pulls_by_head))
            .route("/repos/{owner}/{repo}/commits/{sha}/pulls", get(pulls_by_commit))
            .route("/users/profiles/minecraft/{name}", get(profile))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGithub { inner, base }
    }

    pub(crate) fn base_url(&self) -> String {
        self.base.clone()
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        self.inner.lock().unwrap().calls.clone()
    }

    pub(crate) fn comments(&self) -> Vec<(u64, u64, String)> {
        self.inner.lock().unwrap().comments.clone()
    }

    /// A comment by a person (not the bot) on pull request `pr`.
    pub(crate) fn add_comment_by_a_person(&self, pr: u64, body: &str) -> u64 {
        let mut inner = self.inner.lock().unwrap();
        inner.next += 1;
        let id = inner.next;
        inner.comments.push((id, pr, body.to_string()));
        inner.by_people.push(id);
        id
    }

    pub(crate) fn add_pull(&self, number: u64, head_sha: &str, head_repo: &str, head_branch: &str) {
        self.inner.lock().unwrap().pulls.push(Pull {
            number,
            head_sha: head_sha.into(),
            head_repo: head_repo.into(),
            head_branch: head_branch.into(),
        });
    }
}

type St = State<Arc<Mutex<Inner>>>;

/// `Some(401)` unless the request carries the token.
fn rejected(st: &St, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
    st.lock().unwrap().calls.push(format!("{method} {path}"));
    let want = format!("Bearer {TOKEN}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str()) {
        None
    } else {
        Some(
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})),
            )
                .into_response(),
        )
    }
}

fn comment_json(base: &str, id: u64, pr: u64, body: &str, by_person: bool) -> Value {
    let u = |p: &str| format!("https://api.github.com/{p}");
    let (login, kind) = if by_person {
        ("mallory", "User")
    } else {
        ("github-actions[bot]", "Bot")
    };
    json!({
        "id": id, "node_id": format!("IC_{id}"),
        "url": u(&format!("repos/o/r/issues/comments/{id}")),
        "html_url": format!("https://github.com/o/r/pull/{pr}#issuecomment-{id}"),
        "issue_url": u(&format!("repos/o/r/issues/{pr}")),
        "body": body,
        "user": {
            "login": login, "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=",
            "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4", "gravatar_id": "",
            "url": u("users/github-actions%5Bbot%5D"), "html_url": "https://github.com/apps/github-actions",
            "followers_url": u("users/x/followers"), "following_url": u("users/x/following"),
            "gists_url": u("users/x/gists"), "starred_url": u("users/x/starred"),
            "subscriptions_url": u("users/x/subscriptions"), "organizations_url": u("users/x/orgs"),
            "repos_url": u("users/x/repos"), "events_url": u("users/x/events"),
            "received_events_url": u("users/x/received_events"), "type": kind, "site_admin": false
        },
        "author_association": "NONE",
        "created_at": "2026-11-22T19:30:00Z", "updated_at": "2026-11-22T19:30:00Z",
        "_base": base
    })
}

async fn list(st: St, method: Method, headers: HeaderMap, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
    if let Some(e) = rejected(&st, &method, &format!("/repos/{o}/{r}/issues/{n}/comments"), &headers) {
        return e;
    }
    let inner = st.lock().unwrap();
    let items: Vec<Value> = inner
        .comments
        .iter()
        .filter(|(_, pr, _)| *pr == n)
        .map(|(id, pr, body)| comment_json("", *id, *pr, body, inner.by_people.contains(id)))
        .collect();
    axum::Json(items).into_response()
}

async fn create(
    st: St,
    method: Method,
    headers: HeaderMap,
    Path((o, r, n)): Path<(String, String, u64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(e) = rejected(&st, &method, &format!("/repos/{o}/{r}/issues/{n}/comments"), &headers) {
        return e;
    }
    let mut inner = st.lock().unwrap();
    inner.next += 1;
    let id = inner.next;
    let text = body["body"].as_str().unwrap_or_default().to_string();
    inner.comments.push((id, n, text.clone()));
    (StatusCode::CREATED, axum::Json(comment_json("", id, n, &text, false))).into_response()
}

async fn update(
    st: St,
    method: Method,
    headers: HeaderMap,
    Path((o, r, id)): Path<(String, String, u64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(e) = rejected(&st, &method, &format!("/repos/{o}/{r}/issues/comments/{id}"), &headers) {
        return e;
    }
    let mut inner = st.lock().unwrap();
    let text = body["body"].as_str().unwrap_or_default().to_string();
    let Some(c) = inner.comments.iter_mut().find(|c| c.0 == id) else {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Not Found"}))).into_response();
    };
    c.2 = text.clone();
    let pr = c.1;
    let by_person = inner.by_people.contains(&id);
    axum::Json(comment_json("", id, pr, &text, by_person)).into_response()
}

/// `?head=owner:branch` as GitHub filters it (owner is the head repository's).
async fn pulls_by_head(
    st: St,
    method: Method,
    headers: HeaderMap,
    Path((o, r)): Path<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let path = format!(
        "/repos/{o}/{r}/pulls?head={}",
        q.get("head").map(String::as_str).unwrap_or_default()
    );
    if let Some(e) = rejected(&st, &method, &path, &headers) {
        return e;
    }
    let base = format!("{o}/{r}");
    let inner = st.lock().unwrap();
    let items: Vec<Value> = inner
        .pulls
        .iter()
        .filter(|p| match q.get("head") {
            None => true,
            Some(h) => {
                let owner = p.head_repo.split('/').next().unwrap_or_default();
                *h == format!("{owner}:{}", p.head_branch)
            }
        })
        .map(|p| pull_json(&base, p))
        .collect();
    axum::Json(items).into_response()
}

async fn pulls_by_commit(st: St, method: Method, headers: HeaderMap, Path((o, r, sha)): Path<(String, String, String)>) -> Response {
    if let Some(e) = rejected(&st, &method, &format!("/repos/{o}/{r}/commits/{sha}/pulls"), &headers) {
        return e;
    }
    let base = format!("{o}/{r}");
    let inner = st.lock().unwrap();
    let items: Vec<Value> = inner
        .pulls
        .iter()
        .filter(|p| p.head_sha == sha)
        .map(|p| pull_json(&base, p))
        .collect();
    axum::Json(items).into_response()
}

async fn profile(st: St, Path(name): Path<String>) -> Response {
    st.lock().unwrap().calls.push(format!("GET /users/profiles/minecraft/{name}"));
    if name == "Boom" {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "BadRequestException", "errorMessage": "boom"})),
        )
            .into_response();
    }
    match PROFILES.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
        Some((n, id)) => axum::Json(json!({"id": id, "name": n})).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({
                "path": format!("/users/profiles/minecraft/{name}"),
                "errorMessage": format!("Couldn't find any profile with name {name}")
            })),
        )
            .into_response(),
    }
}
