//! What can go wrong talking to Cloudflare, one variant per thing a caller
//! (or a person reading the log) would do differently about it. Every variant
//! names the resource ("A record mc.grove.place in zone grove.place") and
//! keeps the API's `errors[].code`s, because Cloudflare's codes (81058
//! identical record, 9109 invalid token, 10000 authentication error) say more
//! than the status does. No variant can hold the token or a credential: the
//! token lives only inside `http::Api`, and response bodies are reduced to
//! their `errors` before they get here.

use reqwest::StatusCode;

use super::types::ApiErrors;
use crate::http::HttpError;
use crate::ids::ZoneName;

/// Cloudflare's "a record like this already exists" codes: 81053 (an A,
/// AAAA or CNAME record already holds the name), 81057 (record already
/// exists) and 81058 (an identical record already exists).
pub const RECORD_EXISTS_CODES: [u32; 3] = [81053, 81057, 81058];

/// The most `ttlSeconds` the temporary-credentials endpoint accepts (7 days,
/// the document's `maximum`).
pub const MAX_TEMP_CREDENTIALS_TTL: u64 = 604_800;

#[derive(Debug, thiserror::Error)]
pub enum CloudflareError {
    #[error("Cloudflare API base URL {0:?} is not an http(s) URL")]
    BaseUrl(String),

    #[error("zone {zone} not found: it is not in the account, or the API token lacks Zone:Read on it")]
    ZoneNotFound { zone: ZoneName },

    #[error(
        "{resource}: the API token was refused ({status}: {errors}); check CLOUDFLARE_API_TOKEN and that it has the permission this needs"
    )]
    Unauthorized {
        resource: String,
        status: StatusCode,
        errors: ApiErrors,
    },

    #[error("{resource} not found ({errors})")]
    NotFound { resource: String, errors: ApiErrors },

    #[error("{resource} already exists ({errors})")]
    AlreadyExists { resource: String, errors: ApiErrors },

    #[error("{resource}: rejected ({status}: {errors})")]
    Rejected {
        resource: String,
        status: StatusCode,
        errors: ApiErrors,
    },

    #[error("{resource}: {source}")]
    Http {
        resource: String,
        /// Boxed: `HttpError` keeps the last body and would make every
        /// `Result` carrying this error large.
        #[source]
        source: Box<HttpError>,
    },

    #[error("{resource}: unexpected response: {detail}")]
    Decode { resource: String, detail: String },

    #[error("{resource}: ttl of {ttl_seconds}s is outside 1..={MAX_TEMP_CREDENTIALS_TTL} (7 days), what Cloudflare allows")]
    TtlOutOfRange { resource: String, ttl_seconds: u64 },
}

impl CloudflareError {
    /// The API's `errors[].code`s, wherever the error carries them
    /// (including the last body of a request that was retried to exhaustion).
    pub fn codes(&self) -> Vec<u32> {
        match self {
            CloudflareError::Unauthorized { errors, .. }
            | CloudflareError::NotFound { errors, .. }
            | CloudflareError::AlreadyExists { errors, .. }
            | CloudflareError::Rejected { errors, .. } => errors.codes(),
            CloudflareError::Http { source, .. } => match source.as_ref() {
                HttpError::GaveUp { body, .. } => ApiErrors::from_body(body).codes(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The resource the error is about, when it names one.
    pub fn resource(&self) -> Option<&str> {
        match self {
            CloudflareError::Unauthorized { resource, .. }
            | CloudflareError::NotFound { resource, .. }
            | CloudflareError::AlreadyExists { resource, .. }
            | CloudflareError::Rejected { resource, .. }
            | CloudflareError::Http { resource, .. }
            | CloudflareError::Decode { resource, .. }
            | CloudflareError::TtlOutOfRange { resource, .. } => Some(resource),
            CloudflareError::ZoneNotFound { .. } | CloudflareError::BaseUrl(_) => None,
        }
    }
}

/// Map a non-success response to an error about `resource`.
pub(crate) fn from_status(resource: &str, status: StatusCode, errors: ApiErrors) -> CloudflareError {
    let resource = resource.to_string();
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => CloudflareError::Unauthorized { resource, status, errors },
        StatusCode::NOT_FOUND => CloudflareError::NotFound { resource, errors },
        _ if errors.has(&RECORD_EXISTS_CODES) || status == StatusCode::CONFLICT => CloudflareError::AlreadyExists { resource, errors },
        _ => CloudflareError::Rejected { resource, status, errors },
    }
}
