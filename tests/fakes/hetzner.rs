//! An in-process fake of the Hetzner Cloud API, for client tests.
//!
//! An axum server on 127.0.0.1:0 with its whole world in one `Mutex`:
//! servers (ids, IPv4s from 203.0.113.0/24, `initializing` → `running` after
//! a few polls, then `off` for one whose user-data has `power_state`),
//! snapshot images (`hetzner_images.rs`), actions (`running` 0→100 % → `success` over polls), server
//! types including the retired cx22 and cpx31, prices, locations, firewalls
//! and SSH keys. Responses follow the OpenAPI document's shapes, pagination
//! (`meta.pagination`), label selectors, `RateLimit-*` headers on every
//! answer and the documented error bodies and statuses (401, 404, 409
//! `uniqueness_error`, 412 `resource_unavailable`, 422 `invalid_input`,
//! 429 `rate_limit_exceeded`).
//!
//! Tests steer it (`fail_next`, `rate_limit_next`, `hang_next`, `sold_out`,
//! `retire`, `fail_actions`) and read its call log, so they can assert exact
//! call counts — including calls that must never happen. Paths in the log
//! are relative to `base_url()` (no `/v1`) and keep the query as sent.
//!
//! Used through `#[path = "fakes/hetzner.rs"] mod hetzner_fake;`, so not
//! every test file uses every helper.
#![allow(dead_code)]

#[path = "hetzner_catalog.rs"]
pub(crate) mod catalog;
#[path = "hetzner_routes.rs"]
mod routes;
#[path = "hetzner_world.rs"]
mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

/// The only token the fake accepts (`Authorization: Bearer …`).
pub(crate) const TOKEN: &str = "fake-hcloud-token-Q7xK2mP9vL4nR8sT";
/// A token created with "Read" only: GETs work, every write is 403
/// `forbidden`, as Hetzner answers a read-only token.
pub(crate) const READ_ONLY_TOKEN: &str = "fake-hcloud-read-only-token-W3zB8";
/// `RateLimit-Limit`: Hetzner's default of 3600 requests per hour.
pub(crate) const RATE_LIMIT: u32 = 3600;

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub method: Method,
    /// Path and query relative to `base_url()`, exactly as sent.
    pub path: String,
    pub body: Option<Value>,
    pub at: SystemTime,
    pub status: u16,
}

impl Call {
    /// The path without its query.
    pub(crate) fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }

    /// The decoded query pairs.
    pub(crate) fn query(&self) -> Vec<(String, String)> {
        let q = self.path.split_once('?').map(|(_, q)| q).unwrap_or_default();
        url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }
}

struct Fault {
    method: Method,
    prefix: String,
    status: u16,
    times: u32,
}

struct Hang {
    prefix: String,
    delay: Duration,
    times: u32,
}

pub(crate) struct World {
    pub next_id: u64,
    pub next_ip: u32,
    /// The address the next created server gets instead of a TEST-NET one.
    pub next_ipv4: Option<String>,
    pub servers: BTreeMap<u64, Polled>,
    pub actions: BTreeMap<u64, Polled>,
    pub server_types: Vec<Value>,
    pub firewalls: BTreeMap<u64, Value>,
    /// Snapshot images by id, and the create_image action of each.
    pub images: BTreeMap<u64, Value>,
    pub image_actions: BTreeMap<u64, u64>,
    /// Servers whose user-data powers them off once they have run.
    pub powers_off: BTreeSet<u64>,
    pub ssh_keys: BTreeMap<u64, Value>,
    pub sold_out: BTreeSet<String>,
    /// Commands whose actions end in `error`, with (code, message).
    pub failing: BTreeMap<String, (String, String)>,
    pub polls_to_running: u32,
    pub action_polls: u32,
    faults: Vec<Fault>,
    hangs: Vec<Hang>,
    rate_limited: u32,
    rate_limit_secs: u64,
    last_reset: Option<u64>,
    remaining: u32,
    calls: Vec<Call>,
}

/// A resource whose state advances each time it is read.
pub(crate) struct Polled {
    pub json: Value,
    pub polls: u32,
}

type Shared = Arc<Mutex<World>>;

#[derive(Clone)]
pub(crate) struct FakeHetzner {
    addr: SocketAddr,
    world: Shared,
}

impl FakeHetzner {
    pub(crate) async fn start() -> FakeHetzner {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a local address");
        let world: Shared = Arc::new(Mutex::new(World::seeded()));
        let app = Router::new().fallback(handle).with_state(world.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the fake Hetzner server runs");
        });
        FakeHetzner { addr, world }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().expect("fake state lock")
    }

    // --- fault injection -------------------------------------------------

    /// The next `times` requests matching `method` and `path_prefix` fail
    /// with `status` and Hetzner's documented error body for it.
    pub(crate) fn fail_next(&self, method: Method, path_prefix: &str, status: u16, times: u32) {
        self.world().faults.push(Fault {
            method,
            prefix: path_prefix.to_string(),
            status,
            times,
        });
    }

    /// The next `times` requests (any) get 429 `rate_limit_exceeded`, with
    /// `RateLimit-Reset` `reset_in_secs` seconds after the current second.
    pub(crate) fn rate_limit_next(&self, times: u32, reset_in_secs: u64) {
        let mut w = self.world();
        w.rate_limited = times;
        w.rate_limit_secs = reset_in_secs;
    }

    /// The next request matching `path_prefix` is processed, but its answer
    /// is held back for `delay` (longer than the client's timeout: the
    /// client sees a timeout while the change already happened).
    pub(crate) fn hang_next(&self, path_prefix: &str, delay: Duration) {
        self.hang(path_prefix, delay, 1);
    }

    pub(crate) fn hang(&self, path_prefix: &str, delay: Duration, times: u32) {
        self.world().hangs.push(Hang {
            prefix: path_prefix.to_string(),
            delay,
            times,
        });
    }

    /// The next server created gets `ip` as its IPv4 (say 127.0.0.1, where a
    /// test runs a real Minecraft peer) instead of a TEST-NET address.
    pub(crate) fn next_server_ipv4(&self, ip: &str) {
        self.world().next_ipv4 = Some(ip.to_string());
    }

    /// Every create in `location` fails with 412 `resource_unavailable`.
    pub(crate) fn sold_out(&self, location: &str) {
        self.world().sold_out.insert(location.to_string());
    }

    /// Mark a server type deprecated everywhere (top-level and per location).
    pub(crate) fn retire(&self, server_type: &str) {
        let now = now_rfc3339();
        let dep = catalog::deprecation_json(&now, catalog::RETIRED_UNAVAILABLE_AFTER);
        let mut w = self.world();
        for t in w.server_types.iter_mut().filter(|t| t["name"] == server_type) {
            t["deprecated"] = json!(true);
            t["deprecation"] = dep.clone();
            for l in t["locations"].as_array_mut().into_iter().flatten() {
                l["deprecation"] = dep.clone();
            }
        }
    }

    /// Actions running `command` end in `error` with this code and message.
    pub(crate) fn fail_actions(&self, command: &str, code: &str, message: &str) {
        self.world()
            .failing
            .insert(command.to_string(), (code.to_string(), message.to_string()));
    }

    /// Polls (GETs) before an action succeeds; 1 = the first poll.
    pub(crate) fn set_action_polls(&self, n: u32) {
        self.world().action_polls = n.max(1);
    }

    /// Reads of a server before it turns `running`.
    pub(crate) fn set_polls_to_running(&self, n: u32) {
        self.world().polls_to_running = n;
    }

    // --- seeding ----------------------------------------------------------

    /// A server that already exists; returns its id.
    pub(crate) fn seed_server(&self, name: &str, labels: &[(&str, &str)], location: &str, server_type: &str) -> u64 {
        let labels: Value = labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        let mut w = self.world();
        let t = w
            .server_types
            .iter()
            .find(|t| t["name"] == server_type)
            .cloned()
            .expect("a seeded server type");
        w.insert_server(name, &labels, location, &t, "ubuntu-24.04", vec![], (true, true))
            .expect("a bootable image")
    }

    /// An action in the log, running; returns its id.
    pub(crate) fn seed_action(&self, command: &str) -> u64 {
        let mut w = self.world();
        w.new_action(command, &[])
    }

    pub(crate) fn seed_firewall(&self, name: &str, labels: &[(&str, &str)], rules: Value, applied_to_selector: Option<&str>) -> u64 {
        let mut w = self.world();
        let id = w.id();
        let applied: Vec<Value> = applied_to_selector
            .map(|s| json!({ "type": "label_selector", "label_selector": { "selector": s }, "applied_to_resources": [] }))
            .into_iter()
            .collect();
        let labels: serde_json::Map<String, Value> = labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let rules: Vec<Value> = rules.as_array().into_iter().flatten().map(catalog::rule_response).collect();
        w.firewalls.insert(
            id,
            json!({ "id": id, "name": name, "labels": labels, "rules": rules, "applied_to": applied, "created": now_rfc3339() }),
        );
        id
    }

    pub(crate) fn seed_ssh_key(&self, name: &str) -> u64 {
        let mut w = self.world();
        let id = w.id();
        w.ssh_keys.insert(
            id,
            json!({
                "id": id, "name": name, "labels": {}, "created": now_rfc3339(),
                "fingerprint": format!("b7:2f:30:a0:2f:6c:58:6c:21:04:58:61:ba:06:3b:{:02x}", id % 256),
                "public_key": format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKey{id} {name}"),
            }),
        );
        id
    }

    // --- inspection -------------------------------------------------------

    pub(crate) fn calls(&self) -> Vec<(Method, String)> {
        self.world().calls.iter().map(|c| (c.method.clone(), c.path.clone())).collect()
    }

    pub(crate) fn requests(&self) -> Vec<Call> {
        self.world().calls.clone()
    }

    /// Requests with this method whose path (query included) starts with `prefix`.
    pub(crate) fn count(&self, method: Method, prefix: &str) -> usize {
        self.world()
            .calls
            .iter()
            .filter(|c| c.method == method && c.path.starts_with(prefix))
            .count()
    }

    /// Requests with this method on exactly this route (query ignored).
    pub(crate) fn count_route(&self, method: Method, route: &str) -> usize {
        self.world()
            .calls
            .iter()
            .filter(|c| c.method == method && c.route() == route)
            .count()
    }

    /// JSON bodies received for `method` on `route`, in order.
    pub(crate) fn bodies(&self, method: Method, route: &str) -> Vec<Value> {
        self.world()
            .calls
            .iter()
            .filter(|c| c.method == method && c.route() == route)
            .filter_map(|c| c.body.clone())
            .collect()
    }

    pub(crate) fn clear_calls(&self) {
        self.world().calls.clear();
    }

    pub(crate) fn servers_named(&self, name: &str) -> usize {
        self.world().servers.values().filter(|s| s.json["name"] == name).count()
    }

    pub(crate) fn server_count(&self) -> usize {
        self.world().servers.len()
    }

    /// Every server that exists now, by id.
    pub(crate) fn servers(&self) -> Vec<(u64, Value)> {
        self.world().servers.iter().map(|(id, s)| (*id, s.json.clone())).collect()
    }

    pub(crate) fn server(&self, id: u64) -> Option<Value> {
        self.world().servers.get(&id).map(|s| s.json.clone())
    }

    pub(crate) fn firewall_count(&self) -> usize {
        self.world().firewalls.len()
    }

    pub(crate) fn firewall(&self, id: u64) -> Option<Value> {
        self.world().firewalls.get(&id).cloned()
    }

    /// The `RateLimit-Reset` the last 429 carried.
    pub(crate) fn last_rate_limit_reset(&self) -> Option<u64> {
        self.world().last_reset
    }
}

/// A response before headers: status and JSON body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

pub(crate) fn error(status: u16, code: &str, message: &str, details: Value) -> Answer {
    Answer {
        status,
        body: json!({ "error": { "code": code, "message": message, "details": details } }),
    }
}

pub(crate) fn ok(status: u16, body: Value) -> Answer {
    Answer { status, body }
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn handle(State(world): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let full = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let path = full.strip_prefix("/v1").unwrap_or(full).to_string();
    let json_body: Option<Result<Value, ()>> = (!body.is_empty()).then(|| serde_json::from_slice(&body).map_err(|_| ()));
    let (answer, delay, rate_headers) = {
        let mut w = world.lock().expect("fake state lock");
        w.calls.push(Call {
            method: method.clone(),
            path: path.clone(),
            body: json_body.clone().and_then(Result::ok),
            at: SystemTime::now(),
            status: 0,
        });
        let answer = w.answer(&method, &path, &headers, json_body);
        let delay = w.take_hang(&path);
        if let Some(c) = w.calls.last_mut() {
            c.status = answer.status;
        }
        let rate_headers = w.rate_headers(answer.status);
        (answer, delay, rate_headers)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let mut resp = Response::builder()
        .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    for (k, v) in rate_headers {
        resp = resp.header(k, HeaderValue::from_str(&v).expect("a numeric header"));
    }
    // 204 No Content has no body at all.
    let body = if answer.status == 204 {
        Body::empty()
    } else {
        Body::from(answer.body.to_string())
    };
    resp.body(body).expect("a valid response")
}

impl World {
    /// Faults first (as a real rate limiter or proxy would answer before
    /// the API), then authentication, then the route.
    fn answer(&mut self, method: &Method, path: &str, headers: &HeaderMap, body: Option<Result<Value, ()>>) -> Answer {
        if self.rate_limited > 0 {
            self.rate_limited -= 1;
            let reset = unix_now() + self.rate_limit_secs;
            self.last_reset = Some(reset);
            let (code, message) = catalog::documented_error(429);
            return error(429, code, message, Value::Null);
        }
        if let Some(f) = self
            .faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == *method && path.starts_with(&f.prefix))
        {
            f.times -= 1;
            let (code, message) = catalog::documented_error(f.status);
            return error(f.status, code, message, Value::Null);
        }
        let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
        if bearer == Some(&format!("Bearer {READ_ONLY_TOKEN}")) && method != Method::GET {
            let (code, message) = catalog::documented_error(403);
            return error(403, code, message, Value::Null);
        }
        if bearer != Some(&format!("Bearer {TOKEN}")) && bearer != Some(&format!("Bearer {READ_ONLY_TOKEN}")) {
            return error(401, "unauthorized", "unable to authenticate", Value::Null);
        }
        let body = match body {
            Some(Err(())) => return error(400, "json_error", "Invalid JSON input in your request.", Value::Null),
            Some(Ok(v)) => Some(v),
            None => None,
        };
        routes::route(self, method, path, body)
    }

    fn take_hang(&mut self, path: &str) -> Option<Duration> {
        let h = self.hangs.iter_mut().find(|h| h.times > 0 && path.starts_with(&h.prefix))?;
        h.times -= 1;
        Some(h.delay)
    }

    fn rate_headers(&mut self, status: u16) -> Vec<(&'static str, String)> {
        let (remaining, reset) = if status == 429 {
            (0, self.last_reset.unwrap_or_else(unix_now))
        } else {
            self.remaining = self.remaining.saturating_sub(1);
            // One request comes back per second (Hetzner's documented refill).
            (self.remaining, unix_now() + u64::from(RATE_LIMIT - self.remaining))
        };
        vec![
            ("RateLimit-Limit", RATE_LIMIT.to_string()),
            ("RateLimit-Remaining", remaining.to_string()),
            ("RateLimit-Reset", reset.to_string()),
        ]
    }
}
