//! The one way this crate talks HTTP to an API: a base URL that tests point at
//! a fake, a bearer token that is never logged, timeouts, and retries with
//! exponential backoff on 5xx, 429 and transport errors.
//!
//! Each API module (hetzner, cloudflare, …) owns an [`Api`] and calls
//! [`Api::send`]; that is the only place its requests leave the process. How
//! long to wait after a 429 differs per API (Hetzner sends a `RateLimit-Reset`
//! unix time, Cloudflare a `Retry-After` in seconds), so it is a [`RateLimit`]
//! value the module chooses.
//!
//! Retrying a mutating request is safe only because every caller's request is
//! idempotent by construction (deterministic names adopted on conflict,
//! deletes that accept 404); callers that cannot guarantee it pass
//! [`Retry::Never`].

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tracing::{debug, warn};

use crate::secret::Secret;

/// How a 429 says when to come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimit {
    /// `RateLimit-Reset: <unix seconds>` (Hetzner Cloud).
    ResetUnixTime(&'static str),
    /// `Retry-After: <seconds>` (Cloudflare, GitHub, most others).
    RetryAfterSeconds(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Retry 5xx, 429 and transport errors up to the policy's limit.
    Transient,
    /// One attempt only.
    Never,
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A response that was received, whatever its status.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{method} {path}: no answer after {attempts} attempt(s)")]
    Transport {
        method: Method,
        path: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {path}: still {status} after {attempts} attempt(s)")]
    GaveUp {
        method: Method,
        path: String,
        status: StatusCode,
        attempts: u32,
        body: Value,
    },
    #[error("invalid base URL {0}")]
    BaseUrl(String),
}

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    /// `None` for public APIs (Modrinth, Fabric meta): no Authorization header.
    token: Option<Secret>,
    rate_limit: RateLimit,
    pub policy: Policy,
    user_agent: HeaderValue,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("base", &self.base).field("token", &self.token).finish()
    }
}

impl Api {
    pub fn new(base: &str, token: Secret, rate_limit: RateLimit, policy: Policy) -> Result<Self, HttpError> {
        Self::build(base, Some(token), rate_limit, policy)
    }

    /// For public APIs that take no token.
    pub fn anonymous(base: &str, rate_limit: RateLimit, policy: Policy) -> Result<Self, HttpError> {
        Self::build(base, None, rate_limit, policy)
    }

    fn build(base: &str, token: Option<Secret>, rate_limit: RateLimit, policy: Policy) -> Result<Self, HttpError> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(HttpError::BaseUrl(base));
        }
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(Duration::from_secs(10))
            // object_store's S3 client turns on reqwest's native roots; loading
            // them blocks every client build for a while, and the compiled-in
            // webpki roots are what this client was always meant to use.
            .tls_built_in_native_certs(false)
            .build()
            .map_err(|_| HttpError::BaseUrl(base.clone()))?;
        let user_agent = HeaderValue::from_str(&format!(
            "mc-gitops/{} (+https://github.com/mc-gitops/mc-gitops)",
            env!("CARGO_PKG_VERSION")
        ))
        .expect("a static ASCII user agent");
        Ok(Api {
            client,
            base,
            token,
            rate_limit,
            policy,
            user_agent,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Send one request, retrying per `retry`. Returns any response that is
    /// not a retryable failure (4xx included: the caller maps those to its
    /// own errors). `path` includes the query string and is what gets logged.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>, retry: Retry) -> Result<Response, HttpError> {
        let url = format!("{}{}", self.base, path);
        let attempts = match retry {
            Retry::Transient => self.policy.attempts.max(1),
            Retry::Never => 1,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self.client.request(method.clone(), &url);
            if let Some(token) = &self.token {
                req = req.bearer_auth(token.expose());
            }
            req = req
                .header(reqwest::header::USER_AGENT, self.user_agent.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            debug!(%method, path, attempt, "request");
            // A body that breaks off is a transport failure, never an empty body.
            let sent = match req.send().await {
                Ok(resp) => {
                    let (status, headers) = (resp.status(), resp.headers().clone());
                    resp.bytes().await.map(|bytes| (status, headers, bytes))
                }
                Err(e) => Err(e),
            };
            let wait = match sent {
                Ok((status, headers, bytes)) => {
                    let body: Value = if bytes.is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
                    };
                    debug!(%method, path, status = status.as_u16(), "response");
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !retryable {
                        return Ok(Response { status, headers, body });
                    }
                    if attempt >= attempts {
                        return Err(HttpError::GaveUp {
                            method,
                            path: path.to_string(),
                            status,
                            attempts: attempt,
                            body,
                        });
                    }
                    let wait = if status == StatusCode::TOO_MANY_REQUESTS {
                        self.rate_limit_wait(&headers).unwrap_or_else(|| self.backoff(attempt))
                    } else {
                        self.backoff(attempt)
                    };
                    warn!(%method, path, status = status.as_u16(), wait_ms = wait.as_millis() as u64, "retrying");
                    wait
                }
                Err(e) => {
                    if attempt >= attempts {
                        return Err(HttpError::Transport {
                            method,
                            path: path.to_string(),
                            attempts: attempt,
                            source: e.without_url(),
                        });
                    }
                    let wait = self.backoff(attempt);
                    warn!(%method, path, error = %e.without_url(), wait_ms = wait.as_millis() as u64, "retrying after transport error");
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Exponential backoff with a little jitter, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.policy.base_delay.saturating_mul(1 << (attempt - 1).min(16));
        let jitter = Duration::from_millis(u64::from(std::process::id() ^ attempt) % 100);
        exp.min(self.policy.max_delay) + jitter
    }

    fn rate_limit_wait(&self, headers: &HeaderMap) -> Option<Duration> {
        let get = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        let wait = match self.rate_limit {
            RateLimit::ResetUnixTime(h) => {
                let reset = get(h)?;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
                Duration::from_secs(reset.saturating_sub(now))
            }
            RateLimit::RetryAfterSeconds(h) => Duration::from_secs(get(h)?),
        };
        Some(wait.min(self.policy.max_delay))
    }
}

/// A client for plain file downloads (not API calls): the cached files apply
/// stores (`apply::cache`). Five minutes per file, compiled-in roots.
pub fn download_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300))
        .user_agent(concat!("mc-gitops/", env!("CARGO_PKG_VERSION")))
        .tls_built_in_native_certs(false)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that promises a 100-byte body, sends 9 bytes and hangs up.
    async fn breaks_off() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"servers")
                    .await;
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_body_that_breaks_off_is_a_transport_error_not_a_short_body() {
        let base = breaks_off().await;
        let policy = Policy {
            attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            timeout: Duration::from_secs(30),
        };
        let api = Api::anonymous(&base, RateLimit::RetryAfterSeconds("retry-after"), policy).unwrap();
        match api.send(Method::GET, "/servers", None, Retry::Transient).await {
            Err(HttpError::Transport { attempts, .. }) => assert_eq!(attempts, 2, "retried like any transport failure"),
            other => panic!("a broken body must fail, got {other:?}"),
        }
    }
}
