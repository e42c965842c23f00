//! Errors of the Hetzner Cloud client. Every variant names the resource it is
//! about ("server grove-20261122-1930-eu", "action 42 (create_server)") and
//! keeps the API's machine-readable error code as a typed [`ErrorCode`], so
//! callers branch on codes, never on message text.
//!
//! The codes are Hetzner's general error table (401 `unauthorized`, 404
//! `not_found`, 409 `uniqueness_error`, 412 `resource_unavailable`, 422
//! `invalid_input`, 429 `rate_limit_exceeded`, …) plus the operation-specific
//! ones the OpenAPI document lists for the endpoints used here
//! (`placement_error` on `POST /servers`, `firewall_already_applied`, …).
//! Unknown codes are kept verbatim in [`ErrorCode::Other`]: Hetzner adds
//! codes, and a new one must not turn into a decoding failure.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::choose::NothingOrderable;
use super::types::{ActionId, Candidate};
use crate::http::HttpError;

macro_rules! codes {
    ($($variant:ident = $s:literal,)*) => {
        /// A Hetzner API error code (`error.code` in an error body or a failed action).
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
            /// A code this client does not know by name.
            Other(String),
        }

        impl ErrorCode {
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $s,)*
                    ErrorCode::Other(s) => s,
                }
            }

            pub fn parse(s: &str) -> Self {
                match s {
                    $($s => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other.to_string()),
                }
            }
        }
    };
}

codes! {
    JsonError = "json_error",
    Unauthorized = "unauthorized",
    TokenReadonly = "token_readonly",
    Forbidden = "forbidden",
    Maintenance = "maintenance",
    ResourceLimitExceeded = "resource_limit_exceeded",
    NotFound = "not_found",
    MethodNotAllowed = "method_not_allowed",
    UniquenessError = "uniqueness_error",
    Conflict = "conflict",
    DeprecatedApiEndpoint = "deprecated_api_endpoint",
    ResourceUnavailable = "resource_unavailable",
    InvalidInput = "invalid_input",
    ServiceError = "service_error",
    UnsupportedError = "unsupported_error",
    Locked = "locked",
    Protected = "protected",
    RateLimitExceeded = "rate_limit_exceeded",
    ServerError = "server_error",
    Unavailable = "unavailable",
    Timeout = "timeout",
    PlacementError = "placement_error",
    ActionFailed = "action_failed",
    FirewallAlreadyApplied = "firewall_already_applied",
}

impl ErrorCode {
    /// Codes after which creating the same server elsewhere may succeed:
    /// the location (or the type there) is sold out, or placement failed.
    pub fn means_no_capacity(&self) -> bool {
        matches!(self, ErrorCode::ResourceUnavailable | ErrorCode::PlacementError)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ErrorCode::parse(&String::deserialize(d)?))
    }
}

/// A candidate that the API refused, and what it said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refused {
    pub candidate: Candidate,
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HetznerError {
    /// The API answered with a documented error body.
    #[error("{resource}: {message} ({code}, HTTP {status})")]
    Api {
        resource: String,
        status: u16,
        code: ErrorCode,
        message: String,
        /// `error.details` (for `invalid_input`: the fields at fault).
        details: Option<Box<Value>>,
    },
    /// No usable answer: transport failures, timeouts, or still 429/5xx
    /// after the retry policy gave up.
    #[error("{resource}: {source}")]
    Http {
        resource: String,
        #[source]
        source: Box<HttpError>,
    },
    /// The answer did not have the documented shape.
    #[error("{resource}: unexpected response: {why}")]
    Decode { resource: String, why: String },
    #[error("action {id} ({command}) failed: {message} ({code})")]
    ActionFailed {
        id: ActionId,
        command: String,
        code: ErrorCode,
        message: String,
    },
    #[error("action {id} ({command}) still {status} at {progress}% after {waited_ms} ms")]
    ActionTimeout {
        id: ActionId,
        command: String,
        status: String,
        progress: u8,
        waited_ms: u64,
    },
    #[error("{0}")]
    NothingOrderable(#[from] NothingOrderable),
    #[error("server {name}: no candidate could be created: {}", refused_list(.refused))]
    NoCapacity { name: String, refused: Vec<Refused> },
    /// A server of this name exists but does not carry our labels: it is
    /// not ours to adopt (and never ours to delete).
    #[error("server {name}: the name is taken by server {id}, which lacks the labels {missing}; refusing to adopt it")]
    NameTaken { name: String, id: u64, missing: String },
}

fn refused_list(refused: &[Refused]) -> String {
    if refused.is_empty() {
        return "no candidates were given".into();
    }
    refused
        .iter()
        .map(|r| {
            format!(
                "{} in {}: {} ({})",
                r.candidate.server_type, r.candidate.location, r.message, r.code
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl HetznerError {
    /// The API error code behind this error, wherever it came from: an
    /// error body, a failed action, or the last body before retries gave up.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            HetznerError::Api { code, .. } | HetznerError::ActionFailed { code, .. } => Some(code.clone()),
            HetznerError::Http { source, .. } => match source.as_ref() {
                HttpError::GaveUp { body, .. } => body.pointer("/error/code").and_then(Value::as_str).map(ErrorCode::parse),
                _ => None,
            },
            _ => None,
        }
    }

    /// The HTTP status of an API error, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            HetznerError::Api { status, .. } => Some(*status),
            HetznerError::Http { source, .. } => match source.as_ref() {
                HttpError::GaveUp { status, .. } => Some(status.as_u16()),
                _ => None,
            },
            _ => None,
        }
    }

    /// Map a non-success response to an error, reading Hetzner's
    /// `{"error": {"code", "message", "details"}}` body.
    pub(crate) fn from_response(resource: &str, status: u16, body: &Value) -> Self {
        let error = body.get("error");
        let text = |key: &str| error.and_then(|e| e.get(key)).and_then(Value::as_str);
        match text("code") {
            Some(code) => HetznerError::Api {
                resource: resource.to_string(),
                status,
                code: ErrorCode::parse(code),
                message: text("message").unwrap_or_default().to_string(),
                details: error.and_then(|e| e.get("details")).filter(|d| !d.is_null()).cloned().map(Box::new),
            },
            // Not a documented error body (a proxy's HTML page, say): keep
            // the status and a short excerpt, never the whole page.
            None => HetznerError::Api {
                resource: resource.to_string(),
                status,
                code: ErrorCode::Other(format!("http_{status}")),
                message: excerpt(body),
                details: None,
            },
        }
    }
}

fn excerpt(body: &Value) -> String {
    let s = match body {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    s.chars().take(200).collect()
}
