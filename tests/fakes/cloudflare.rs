//! An in-process fake of the Cloudflare v4 API, for client tests: an axum
//! server on 127.0.0.1:0 that keeps zones, DNS records and issued R2
//! credentials in memory, logs every request it receives, and fails on cue.
//!
//! Built from `reference/cloudflare-openapi-2024-08.json`: the envelope
//! (`success`, `errors[{code,message}]`, `messages`, `result`, `result_info`),
//! the query parameters and bodies of `/zones`, `/zones/{id}/dns_records[/{id}]`
//! and `/accounts/{id}/r2/temp-access-credentials`, and their limits. The
//! document lists no error codes; [`code`] says which ones the fake uses
//! and which of those the real API is known to send (81058, 9109, 10000, …).
//! It is strict where the real API may be lenient (unknown body fields,
//! unimplemented query filters → 400), so a client that sends something
//! the fake does not model fails loudly instead of passing.
//!
//! Auth: only `Authorization: Bearer <TOKEN>` (what API tokens use, though
//! the document lists only X-Auth-Key/X-Auth-Email for DNS); none → 401
//! 10000, another token → 403 9109, a zone hidden with `hide_zone` → absent
//! from `/zones` and 403 10000 on its records.
//!
//! Permissions the token lacks can be taken away one by one
//! ([`FakeCloudflare::deny`]): a denied write answers 403 with code 10000
//! "Authentication error", as Cloudflare does for a token without the
//! permission. `GET /user/tokens/verify` answers the token's `id` and
//! `status` (`active` unless [`FakeCloudflare::set_token_status`] says).
//!
//! Paths in `calls()`, `requests()` and fault prefixes are relative to
//! [`FakeCloudflare::base_url`] (`/zones/…`), queries as sent. The routes
//! themselves live in `cloudflare_routes.rs`.
//!
//! Used by test files as `#[path = "fakes/cloudflare.rs"] mod cloudflare_fake;`.
#![allow(dead_code)] // each test file uses a different part

#[path = "cloudflare_routes.rs"]
mod routes;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The API's path prefix, as in the document's `servers[0].url`.
pub(crate) const PREFIX: &str = "/client/v4";
/// The only token the fake accepts, as `Authorization: Bearer <TOKEN>`.
pub(crate) const TOKEN: &str = "fake-cf-token-s3cr3t-0d9c8b7a";
pub(crate) const ZONE: &str = "grove.place";
pub(crate) const ACCOUNT_ID: &str = "4f7c1a0e9b2d4c6e8a0b1c2d3e4f5a6b";
pub(crate) const BUCKET: &str = "grove-worlds";

/// Error codes. The document lists none; those marked "seen" are what the
/// real API sends in that case, the rest are stand-ins in Cloudflare's ranges
/// (tests compare through these names, never through bare numbers).
pub(crate) mod code {
    /// Seen: "Please wait and consider throttling your request speed"
    /// (below the document's `minimum: 1000` for error codes).
    pub(crate) const RATE_LIMITED: u32 = 971;
    /// Stand-in for an injected 5xx.
    pub(crate) const INTERNAL: u32 = 1000;
    /// Seen: "DNS Validation Error"; also used for any other bad input.
    pub(crate) const VALIDATION: u32 = 1004;
    /// Seen: "No route for that URI".
    pub(crate) const NO_ROUTE: u32 = 7000;
    pub(crate) const METHOD_NOT_ALLOWED: u32 = 7001;
    /// Seen: "Could not route to …, perhaps your object identifier is invalid?"
    pub(crate) const BAD_IDENTIFIER: u32 = 7003;
    pub(crate) const NOT_PROXIABLE: u32 = 9004;
    /// Seen: "Content for A record must be a valid IPv4 address."
    pub(crate) const INVALID_A_CONTENT: u32 = 9005;
    pub(crate) const INVALID_AAAA_CONTENT: u32 = 9006;
    pub(crate) const INVALID_TYPE: u32 = 9020;
    pub(crate) const INVALID_TTL: u32 = 9021;
    /// Seen: "Invalid access token".
    pub(crate) const INVALID_TOKEN: u32 = 9109;
    /// Seen: "Authentication error" (no token, or no permission).
    pub(crate) const AUTHENTICATION: u32 = 10000;
    /// Seen (R2): "The specified bucket does not exist."
    pub(crate) const NO_SUCH_BUCKET: u32 = 10006;
    /// Seen: "Record does not exist."
    pub(crate) const RECORD_NOT_FOUND: u32 = 81044;
    /// Seen: "An A, AAAA, or CNAME record with that host already exists."
    pub(crate) const HOST_TAKEN: u32 = 81053;
    /// Seen: "An identical record already exists."
    pub(crate) const IDENTICAL_RECORD: u32 = 81058;
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FakeRecord {
    pub id: String,
    pub zone_id: String,
    pub name: String,
    pub kind: String,
    pub content: String,
    pub data: Option<Value>,
    pub ttl: u32,
    pub proxied: bool,
    pub comment: Option<String>,
    pub tags: Vec<String>,
    pub created_on: String,
    pub modified_on: String,
}

/// One request as the fake received it (path without [`PREFIX`]).
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub body: Option<Value>,
}

#[derive(Clone, Debug)]
struct FakeZone {
    id: String,
    name: String,
    /// False: the token lacks Zone:Read on it (hidden from lists, 403 on use).
    readable: bool,
}

#[derive(Clone, Copy)]
enum FaultKind {
    Status(StatusCode),
    RateLimit(u64),
    Hang(Duration),
}

struct Fault {
    method: Option<Method>,
    path_prefix: String,
    times: u32,
    kind: FaultKind,
}

#[derive(Default)]
struct Inner {
    zones: Vec<FakeZone>,
    records: Vec<FakeRecord>,
    buckets: Vec<String>,
    faults: Vec<Fault>,
    calls: Vec<Recorded>,
    issued: Vec<Value>,
    /// The request body each of `issued` answered, in the same order.
    issued_for: Vec<Value>,
    counter: u64,
    denied: Vec<Permission>,
    /// `None` is `active`.
    token_status: Option<String>,
}

/// What a token may lack, for [`FakeCloudflare::deny`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Permission {
    /// Zone → DNS → Edit: creating, changing or deleting records.
    DnsEdit,
    /// Account → Workers R2 Storage → Edit: minting temporary credentials.
    R2Edit,
}

/// The id `/user/tokens/verify` reports for [`TOKEN`].
pub(crate) const TOKEN_ID: &str = "ed17574386854bf78a67040be0a770b0";

type Shared = Arc<Mutex<Inner>>;

pub(crate) struct FakeCloudflare {
    addr: SocketAddr,
    inner: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCloudflare {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeCloudflare {
    /// A running fake with zone [`ZONE`], account [`ACCOUNT_ID`] and bucket [`BUCKET`].
    pub(crate) async fn start() -> Self {
        let inner: Shared = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake cloudflare server");
        });
        let fake = FakeCloudflare { addr, inner, server };
        fake.add_zone(ZONE);
        fake.add_bucket(BUCKET);
        fake
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}{PREFIX}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("fake state")
    }

    pub(crate) fn add_zone(&self, name: &str) -> String {
        let mut s = self.lock();
        let id = s.hex_id();
        s.zones.push(FakeZone {
            id: id.clone(),
            name: name.to_string(),
            readable: true,
        });
        id
    }

    /// Take Zone:Read on `name` away from the token.
    pub(crate) fn hide_zone(&self, name: &str) {
        self.lock()
            .zones
            .iter_mut()
            .filter(|z| z.name == name)
            .for_each(|z| z.readable = false);
    }

    pub(crate) fn zone_id(&self, name: &str) -> String {
        self.lock().zones.iter().find(|z| z.name == name).expect("seeded zone").id.clone()
    }

    pub(crate) fn add_bucket(&self, name: &str) {
        self.lock().buckets.push(name.to_string());
    }

    /// Put a record in as a POST body would describe it, skipping the
    /// duplicate checks (to set up states the API would refuse to create).
    pub(crate) fn seed(&self, zone: &str, body: Value) -> String {
        let mut s = self.lock();
        let zone = s.zones.iter().find(|z| z.name == zone).expect("seeded zone").clone();
        let rec = s
            .build_record(&zone, &body, None)
            .unwrap_or_else(|r| panic!("seed {body}: {}", r.body));
        let id = rec.id.clone();
        s.records.push(rec);
        id
    }

    pub(crate) fn records(&self) -> Vec<FakeRecord> {
        self.lock().records.clone()
    }

    /// Every request received, in order: method and path with its query.
    pub(crate) fn calls(&self) -> Vec<(Method, String)> {
        let s = self.lock();
        s.calls
            .iter()
            .map(|c| {
                (
                    c.method.clone(),
                    c.query.as_ref().map_or(c.path.clone(), |q| format!("{}?{q}", c.path)),
                )
            })
            .collect()
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.lock().calls.clone()
    }

    /// How many requests had this method (all of them when `None`).
    pub(crate) fn count(&self, method: Option<Method>) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| method.as_ref().is_none_or(|m| *m == c.method))
            .count()
    }

    pub(crate) fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Credentials issued so far, each with the request that asked for it.
    pub(crate) fn issued_with_requests(&self) -> Vec<(Value, Value)> {
        let s = self.lock();
        s.issued.iter().cloned().zip(s.issued_for.iter().cloned()).collect()
    }

    /// Credentials issued so far, as the fake sent them.
    pub(crate) fn issued_credentials(&self) -> Vec<Value> {
        self.lock().issued.clone()
    }

    /// Take `permission` away from the token.
    pub(crate) fn deny(&self, permission: Permission) {
        self.lock().denied.push(permission);
    }

    /// What `/user/tokens/verify` reports (`active`, `disabled`, `expired`).
    pub(crate) fn set_token_status(&self, status: &str) {
        self.lock().token_status = Some(status.to_string());
    }

    /// Answer the next `times` matching requests with `status` (and an error
    /// envelope) without acting on them.
    pub(crate) fn fail_next(&self, method: Method, path_prefix: &str, status: StatusCode, times: u32) {
        self.add_fault(Some(method), path_prefix, times, FaultKind::Status(status));
    }

    /// Answer the next `times` requests with 429 and `retry-after`.
    pub(crate) fn rate_limit_next(&self, times: u32, retry_after_secs: u64) {
        self.add_fault(None, "", times, FaultKind::RateLimit(retry_after_secs));
    }

    /// Act on the next matching request, then hold its answer back for
    /// `duration`: a response lost to a client timeout, the work done.
    pub(crate) fn hang_next(&self, path_prefix: &str, duration: Duration) {
        self.add_fault(None, path_prefix, 1, FaultKind::Hang(duration));
    }

    /// [`FakeCloudflare::hang_next`] for one method only (a POST, not the GET
    /// before it on the same path).
    pub(crate) fn hang_next_for(&self, method: Method, path_prefix: &str, duration: Duration) {
        self.add_fault(Some(method), path_prefix, 1, FaultKind::Hang(duration));
    }

    fn add_fault(&self, method: Option<Method>, path_prefix: &str, times: u32, kind: FaultKind) {
        self.lock().faults.push(Fault {
            method,
            path_prefix: path_prefix.to_string(),
            times,
            kind,
        });
    }
}

/// A response to send.
struct Reply {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl Reply {
    fn ok(result: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: json!({ "success": true, "errors": [], "messages": [], "result": result }),
            retry_after: None,
        }
    }

    fn err(status: StatusCode, code: u32, message: impl Into<String>) -> Reply {
        Reply {
            status,
            body: json!({ "success": false, "errors": [{ "code": code, "message": message.into() }], "messages": [], "result": null }),
            retry_after: None,
        }
    }

    fn invalid(message: impl Into<String>) -> Reply {
        Reply::err(StatusCode::BAD_REQUEST, code::VALIDATION, message)
    }
}

async fn handle(State(inner): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().map(str::to_string);
    let body =
        (!body.is_empty()).then(|| serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into())));
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (reply, hang) = {
        let mut s = inner.lock().expect("fake state");
        let local = path.strip_prefix(PREFIX).unwrap_or(&path).to_string();
        s.calls.push(Recorded {
            method: method.clone(),
            path: local.clone(),
            query: query.clone(),
            authorization: auth.clone(),
            body: body.clone(),
        });
        match s.take_fault(&method, &local) {
            Some(FaultKind::Status(status)) => (Reply::err(status, code::INTERNAL, "injected failure"), None),
            Some(FaultKind::RateLimit(secs)) => {
                let mut r = Reply::err(
                    StatusCode::TOO_MANY_REQUESTS,
                    code::RATE_LIMITED,
                    "Please wait and consider throttling your request speed",
                );
                r.retry_after = Some(secs);
                (r, None)
            }
            Some(FaultKind::Hang(d)) => (s.route(&method, &path, query.as_deref(), auth.as_deref(), body.as_ref()), Some(d)),
            None => (s.route(&method, &path, query.as_deref(), auth.as_deref(), body.as_ref()), None),
        }
    };
    if let Some(d) = hang {
        tokio::time::sleep(d).await;
    }
    let mut resp = (reply.status, axum::Json(reply.body)).into_response();
    if let Some(secs) = reply.retry_after {
        resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
    }
    resp
}

impl Inner {
    fn take_fault(&mut self, method: &Method, path: &str) -> Option<FaultKind> {
        let i = self
            .faults
            .iter()
            .position(|f| f.times > 0 && f.method.as_ref().is_none_or(|m| m == method) && path.starts_with(&f.path_prefix))?;
        self.faults[i].times -= 1;
        let kind = self.faults[i].kind;
        if self.faults[i].times == 0 {
            self.faults.remove(i);
        }
        Some(kind)
    }

    /// 32 hex digits, like every Cloudflare identifier.
    fn hex_id(&mut self) -> String {
        self.counter += 1;
        format!("{:016x}{:016x}", splitmix(self.counter), splitmix(self.counter ^ 0x5bd1_e995))
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
