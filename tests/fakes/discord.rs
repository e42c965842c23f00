//! A fake Discord webhook: an axum server on 127.0.0.1:0 that answers
//! `POST /api/webhooks/{id}/{token}` like Discord does (204 No Content, or
//! 429 with `Retry-After` when told to), and records every request body.
//! `GET` on the same path answers the webhook object (what `doctor` reads),
//! 404 "Unknown Webhook" (10015) once [`FakeDiscord::delete_webhook`] ran,
//! and 401 "Invalid Webhook Token" (50027) for another token; `gets()`
//! counts them.
//!
//! Used by test files as `#[path = "fakes/discord.rs"] mod discord_fake;`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

pub(crate) const WEBHOOK_ID: &str = "1180000000000000001";
pub(crate) const WEBHOOK_TOKEN: &str = "fake-discord-webhook-t0ken-9f8e7d";

#[derive(Default)]
struct Inner {
    posts: Vec<Value>,
    content_types: Vec<String>,
    /// Statuses to answer before the next 204s (429 sends `Retry-After: 0`).
    script: VecDeque<u16>,
    deleted: bool,
    gets: usize,
}

#[derive(Clone)]
pub(crate) struct FakeDiscord {
    inner: Arc<Mutex<Inner>>,
    addr: std::net::SocketAddr,
}

impl FakeDiscord {
    pub(crate) async fn start() -> FakeDiscord {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/api/webhooks/{id}/{token}", get(webhook).post(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeDiscord { inner, addr }
    }

    /// The secret webhook URL, as the admin would store it.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}", self.addr)
    }

    pub(crate) fn then_answer(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().script.extend(statuses);
    }

    /// The admin deleted the webhook in Discord's channel settings.
    pub(crate) fn delete_webhook(&self) {
        self.inner.lock().unwrap().deleted = true;
    }

    pub(crate) fn gets(&self) -> usize {
        self.inner.lock().unwrap().gets
    }

    pub(crate) fn posts(&self) -> Vec<Value> {
        self.inner.lock().unwrap().posts.clone()
    }

    pub(crate) fn content_types(&self) -> Vec<String> {
        self.inner.lock().unwrap().content_types.clone()
    }
}

/// `GET /webhooks/{id}/{token}`: the webhook object, without its token.
async fn webhook(State(inner): State<Arc<Mutex<Inner>>>, Path((id, token)): Path<(String, String)>) -> Response {
    let mut g = inner.lock().unwrap();
    g.gets += 1;
    if g.deleted {
        return (StatusCode::NOT_FOUND, r#"{"message": "Unknown Webhook", "code": 10015}"#).into_response();
    }
    if id != WEBHOOK_ID || token != WEBHOOK_TOKEN {
        return (StatusCode::UNAUTHORIZED, r#"{"message": "Invalid Webhook Token", "code": 50027}"#).into_response();
    }
    let body = serde_json::json!({
        "type": 1, "id": WEBHOOK_ID, "name": "Grove bot", "avatar": null,
        "channel_id": "1180000000000000002", "guild_id": "1180000000000000003",
        "application_id": null,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((id, token)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if id != WEBHOOK_ID || token != WEBHOOK_TOKEN {
        return (StatusCode::UNAUTHORIZED, r#"{"message": "Invalid Webhook Token", "code": 50027}"#).into_response();
    }
    let mut g = inner.lock().unwrap();
    if g.deleted {
        return (StatusCode::NOT_FOUND, r#"{"message": "Unknown Webhook", "code": 10015}"#).into_response();
    }
    g.content_types.push(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    );
    if let Some(status) = g.script.pop_front() {
        let mut r = (
            StatusCode::from_u16(status).unwrap(),
            r#"{"message": "You are being rate limited.", "retry_after": 0.0, "global": false}"#,
        )
            .into_response();
        if status == 429 {
            r.headers_mut().insert("retry-after", "0".parse().unwrap());
        }
        return r;
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(v)
            if v.get("content")
                .and_then(|c| c.as_str())
                .is_some_and(|c| !c.is_empty() && c.len() <= 2000) =>
        {
            g.posts.push(v);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            r#"{"message": "Cannot send an empty message", "code": 50006}"#,
        )
            .into_response(),
    }
}
