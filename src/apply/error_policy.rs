//! The one place that decides what a failed change means for the next run
//! (kube-rs' `error_policy`): [`ErrorClass::Transient`] when the same
//! attempt may succeed later (5xx, 429, timeouts, transport, a lost race),
//! [`ErrorClass::Permanent`] when it needs a human (4xx other than 429,
//! invalid input, refused by a guard, a repo file that cannot be written).
//! Apply's report carries the class; the run fails either way (exit status
//! 1), and the message says whether waiting is enough.

use serde::Serialize;

use super::ApplyError;
use crate::cloudflare::CloudflareError;
use crate::hetzner::HetznerError;
use crate::http::HttpError;
use crate::storage::StorageError;
use crate::world::WorldError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorClass {
    /// The next scheduled run may retry it as it is.
    Transient,
    /// It fails the same way until someone changes something.
    Permanent,
}

impl ErrorClass {
    /// What the next run does about it, for people.
    pub fn what_next(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient: the next run retries it",
            ErrorClass::Permanent => "permanent: it needs a human, the next run fails the same way",
        }
    }
}

use ErrorClass::{Permanent, Transient};

pub fn error_policy(e: &ApplyError) -> ErrorClass {
    match e {
        ApplyError::Hetzner { source, .. } => hetzner(source),
        ApplyError::Cloudflare { source, .. } => cloudflare(source),
        ApplyError::Storage { source, .. } => storage(source),
        ApplyError::World { source, .. } => world(source),
        // Another run got there first: the next plan starts from what is there.
        ApplyError::Stale { .. } => Transient,
        ApplyError::Ledger(_) | ApplyError::Edit(_) | ApplyError::Invalid { .. } | ApplyError::UserData { .. } => Permanent,
        ApplyError::Download { .. } => Permanent,
        // Never reported: the run ends there, as a crash would (src/fault.rs).
        #[cfg(feature = "fault-injection")]
        ApplyError::Crashed { .. } => Transient,
    }
}

/// A status the HTTP client retries itself (and gave up on) or any 5xx.
fn retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

fn http(e: &HttpError) -> ErrorClass {
    match e {
        HttpError::Transport { .. } | HttpError::GaveUp { .. } => Transient,
        HttpError::BaseUrl(_) => Permanent,
    }
}

fn hetzner(e: &HetznerError) -> ErrorClass {
    match e {
        HetznerError::Api { status, .. } if retryable_status(*status) => Transient,
        HetznerError::Http { source, .. } => http(source),
        // Capacity comes back; an action still running may finish.
        HetznerError::NoCapacity { .. } | HetznerError::ActionTimeout { .. } => Transient,
        HetznerError::Api { .. }
        | HetznerError::Decode { .. }
        | HetznerError::ActionFailed { .. }
        | HetznerError::NothingOrderable(_)
        | HetznerError::NameTaken { .. } => Permanent,
    }
}

fn cloudflare(e: &CloudflareError) -> ErrorClass {
    match e {
        CloudflareError::Rejected { status, .. } if retryable_status(status.as_u16()) => Transient,
        CloudflareError::Http { source, .. } => http(source),
        CloudflareError::BaseUrl(_)
        | CloudflareError::ZoneNotFound { .. }
        | CloudflareError::Unauthorized { .. }
        | CloudflareError::NotFound { .. }
        | CloudflareError::AlreadyExists { .. }
        | CloudflareError::Rejected { .. }
        | CloudflareError::Decode { .. }
        | CloudflareError::TtlOutOfRange { .. } => Permanent,
    }
}

fn storage(e: &StorageError) -> ErrorClass {
    match e {
        StorageError::Object { source, .. } => object(source),
        // A conditional write lost to another writer: read again next run.
        StorageError::Conflict { .. } => Transient,
        StorageError::Decode { .. } | StorageError::TooLarge { .. } | StorageError::Config(_) | StorageError::Local { .. } => Permanent,
    }
}

/// object_store reports 5xx, timeouts and transport failures (after its own
/// retries) as `Generic`; refusals have their own variants.
fn object(e: &object_store::Error) -> ErrorClass {
    match e {
        object_store::Error::Generic { .. }
        | object_store::Error::Precondition { .. }
        | object_store::Error::AlreadyExists { .. }
        | object_store::Error::NotModified { .. } => Transient,
        _ => Permanent,
    }
}

fn world(e: &WorldError) -> ErrorClass {
    match e {
        WorldError::Storage(source) => storage(source),
        WorldError::Upload { source, .. } => object(source),
        WorldError::Cancelled | WorldError::TooSlow { .. } => Transient,
        // Damaged, unsafe or missing data, bad names: a human looks.
        _ => Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gave_up(status: u16) -> HttpError {
        HttpError::GaveUp {
            method: reqwest::Method::GET,
            path: "/servers".into(),
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            attempts: 3,
            body: serde_json::Value::Null,
        }
    }

    fn hetzner_api(status: u16) -> ApplyError {
        ApplyError::Hetzner {
            resource: "hetzner server grove".into(),
            source: Box::new(HetznerError::Api {
                resource: "servers".into(),
                status,
                code: crate::hetzner::ErrorCode::Other("some_code".into()),
                message: "no".into(),
                details: None,
            }),
        }
    }

    fn object_error(e: object_store::Error) -> ApplyError {
        ApplyError::Storage {
            resource: "desired.json".into(),
            source: StorageError::Object {
                key: "control/grove/desired.json".into(),
                source: Box::new(e),
            },
        }
    }

    #[test]
    fn server_errors_rate_limits_and_transport_are_transient() {
        assert_eq!(error_policy(&hetzner_api(503)), Transient);
        assert_eq!(error_policy(&hetzner_api(429)), Transient);
        let http = ApplyError::Hetzner {
            resource: "hetzner server grove".into(),
            source: Box::new(HetznerError::Http {
                resource: "servers".into(),
                source: Box::new(gave_up(502)),
            }),
        };
        assert_eq!(error_policy(&http), Transient);
        let injected = object_error(object_store::Error::Generic {
            store: "S3",
            source: "503 Service Unavailable".into(),
        });
        assert_eq!(error_policy(&injected), Transient);
        let stale = ApplyError::Stale {
            resource: "session x".into(),
            why: "another run".into(),
        };
        assert_eq!(error_policy(&stale), Transient);
    }

    #[test]
    fn refusals_and_invalid_input_need_a_human() {
        assert_eq!(error_policy(&hetzner_api(403)), Permanent);
        assert_eq!(error_policy(&hetzner_api(422)), Permanent);
        let invalid = ApplyError::Invalid {
            resource: "hetzner server grove".into(),
            why: "SSH key missing".into(),
        };
        assert_eq!(error_policy(&invalid), Permanent);
        let denied = object_error(object_store::Error::PermissionDenied {
            path: "control/grove/desired.json".into(),
            source: "403".into(),
        });
        assert_eq!(error_policy(&denied), Permanent);
    }
}
