//! A fake of Mojang's session server, the two calls of Minecraft's
//! online-mode login, linked as Mojang links them (wiki.vg "Protocol
//! Encryption", "Authentication"):
//!
//! - `POST /session/minecraft/join` with `{accessToken, selectedProfile,
//!   serverId}` from the client: 204 with no body when the access token
//!   belongs to the profile (the join is recorded), else 403 with Mojang's
//!   `{"error": "ForbiddenOperationException", "errorMessage": "Invalid token"}`.
//! - `GET /session/minecraft/hasJoined?username=<name>&serverId=<hash>` from
//!   the server: 200 with the profile (`id`, `name`, `properties` with a
//!   textures entry) when that account recorded a join with that server
//!   hash, else 204 with no body.
//! - `GET /users/profiles/minecraft/<name>` (api.mojang.com's profile
//!   lookup, which `check --fix` calls to write a player's uuid): 200 with
//!   `{"id", "name"}` of the account (any case), 404 with Mojang's error
//!   body for a name no account has. Same accounts, so the uuid a repo
//!   records is the one the login presents.
//!
//! Accounts are made by the test ([`FakeSessionServer::account`]); a test
//! can script the next `hasJoined` answers (a 500, a 204 for a real join).
//! Every call is logged. Used as `#[path = "fakes/session_server.rs"] mod
//! session_fake;`.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

/// A Minecraft account the fake knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Account {
    pub name: String,
    /// 32 hex digits, no dashes, as the session server writes it.
    pub id: String,
    pub access_token: String,
}

/// One call, as the fake saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Join { profile: String, server_id: String, status: u16 },
    HasJoined { username: String, server_id: String, status: u16 },
}

#[derive(Default)]
struct Inner {
    accounts: Vec<Account>,
    /// (profile id, server hash) of every accepted join.
    joins: Vec<(String, String)>,
    calls: Vec<Call>,
    /// Statuses `hasJoined` answers with, first to last, before answering normally.
    script: VecDeque<u16>,
}

#[derive(Clone)]
pub(crate) struct FakeSessionServer {
    inner: Arc<Mutex<Inner>>,
    addr: std::net::SocketAddr,
}

impl FakeSessionServer {
    pub(crate) async fn start() -> FakeSessionServer {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/session/minecraft/join", post(join))
            .route("/session/minecraft/hasJoined", get(has_joined))
            .route("/users/profiles/minecraft/{name}", get(profile))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeSessionServer { inner, addr }
    }

    /// For tests without a runtime of their own: the fake on a runtime that
    /// lives on its own thread for the rest of the test process.
    pub(crate) fn start_in_background() -> FakeSessionServer {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                tx.send(FakeSessionServer::start().await).unwrap();
                std::future::pending::<()>().await
            })
        });
        rx.recv().unwrap()
    }

    /// The base address, for agent.toml's `session_server`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The account called `name`, made on first use with a fresh id and token.
    pub(crate) fn account(&self, name: &str) -> Account {
        let mut g = self.inner.lock().unwrap();
        if let Some(a) = g.accounts.iter().find(|a| a.name == name) {
            return a.clone();
        }
        let n = g.accounts.len() + 1;
        let a = Account {
            name: name.to_string(),
            id: format!("{:08x}{:024x}", 0x5e55_0000u32 + n as u32, n * 7919),
            access_token: format!("fake-access-token-{n}-{:x}", rand_suffix()),
        };
        g.accounts.push(a.clone());
        a
    }

    /// The next `hasJoined` calls answer these statuses (with no body).
    pub(crate) fn then_answer(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().script.extend(statuses);
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    pub(crate) fn has_joined_calls(&self) -> usize {
        self.calls().iter().filter(|c| matches!(c, Call::HasJoined { .. })).count()
    }

    pub(crate) fn join_calls(&self) -> usize {
        self.calls().iter().filter(|c| matches!(c, Call::Join { .. })).count()
    }
}

/// A per-process value, so tokens differ between test runs.
fn rand_suffix() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    t.as_nanos() as u64 ^ u64::from(std::process::id())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinBody {
    access_token: String,
    selected_profile: String,
    server_id: String,
}

async fn join(State(inner): State<Arc<Mutex<Inner>>>, body: axum::body::Bytes) -> Response {
    let mut g = inner.lock().unwrap();
    let Ok(b) = serde_json::from_slice::<JoinBody>(&body) else {
        return (StatusCode::BAD_REQUEST, Vec::new()).into_response();
    };
    let profile = b.selected_profile.replace('-', "").to_ascii_lowercase();
    let ok = g.accounts.iter().any(|a| a.access_token == b.access_token && a.id == profile);
    let status = if ok { 204 } else { 403 };
    g.calls.push(Call::Join {
        profile: profile.clone(),
        server_id: b.server_id.clone(),
        status,
    });
    if !ok {
        let body = json!({"error": "ForbiddenOperationException", "errorMessage": "Invalid token"});
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    g.joins.push((profile, b.server_id));
    StatusCode::NO_CONTENT.into_response()
}

async fn has_joined(State(inner): State<Arc<Mutex<Inner>>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut g = inner.lock().unwrap();
    let username = q.get("username").cloned().unwrap_or_default();
    let server_id = q.get("serverId").cloned().unwrap_or_default();
    let found = g
        .accounts
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(&username))
        .filter(|a| g.joins.iter().any(|(p, s)| *p == a.id && *s == server_id))
        .cloned();
    let scripted = g.script.pop_front();
    let status = scripted.unwrap_or(if found.is_some() { 200 } else { 204 });
    g.calls.push(Call::HasJoined {
        username,
        server_id,
        status,
    });
    match (scripted, found) {
        (None, Some(a)) => {
            let textures = json!({"profileId": a.id, "profileName": a.name, "textures": {}}).to_string();
            let body: Value = json!({
                "id": a.id,
                "name": a.name,
                "properties": [{"name": "textures", "value": base64(&textures), "signature": "ZmFrZQ=="}],
            });
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        _ => StatusCode::from_u16(status).unwrap().into_response(),
    }
}

async fn profile(State(inner): State<Arc<Mutex<Inner>>>, axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let g = inner.lock().unwrap();
    match g.accounts.iter().find(|a| a.name.eq_ignore_ascii_case(&name)) {
        Some(a) => (StatusCode::OK, axum::Json(json!({"id": a.id, "name": a.name}))).into_response(),
        None => {
            let body = json!({
                "path": format!("/users/profiles/minecraft/{name}"),
                "errorMessage": format!("Couldn't find any profile with name {name}"),
            });
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
    }
}

/// Base64 without a dependency: enough for the fake's textures value.
fn base64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8) | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
