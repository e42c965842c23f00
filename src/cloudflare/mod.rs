//! Cloudflare: the zone's DNS records that point players at the server, and
//! the short-lived R2 credentials the VPS gets instead of account keys.
//!
//! Built from the v4 OpenAPI document (`reference/cloudflare-openapi-2024-08.json`).
//! Every request goes through [`crate::http::Api::send`] (retries, backoff,
//! timeouts, `Retry-After` on 429, a bearer token that is never logged). The
//! document lists only the old `X-Auth-Key`/`X-Auth-Email` headers for DNS,
//! but API tokens are sent as `Authorization: Bearer`, which is what `Api`
//! does. Every response is the v4 envelope
//! `{success, errors:[{code,message}], messages, result, result_info}`;
//! `Cloudflare::request` unwraps it in one place and turns a failure into a
//! [`CloudflareError`] naming the resource and keeping the error codes.
//!
//! The module is split by what callers need: `dns` (records, and the
//! `ensure_*` calls apply uses, each a fixed small number of requests), `r2`
//! (temporary credentials), `types` and `error`.

use serde::Deserialize;
use serde_json::Value;
use tracing::debug;

use crate::http::{Api, Policy, RateLimit, Retry};
use crate::ids::ZoneName;
use crate::secret::Secret;

mod dns;
mod error;
mod r2;
mod types;

pub use dns::{BOT_TTL, PER_PAGE};
pub use error::{CloudflareError, MAX_TEMP_CREDENTIALS_TTL, RECORD_EXISTS_CODES};
pub use types::{
    ApiErrors, ApiMessage, DnsObservation, DnsRecord, Ensured, NewRecord, R2Permission, RecordContent, RecordId, RecordType, SrvData,
    TempCredentials, Zone, ZoneId,
};

/// The API token. Needs Zone:Read and DNS:Edit on the zone, and for
/// temporary credentials R2 edit on the account.
pub const TOKEN_VAR: &str = "CLOUDFLARE_API_TOKEN";
/// Where the API lives; tests point it at a fake.
pub const BASE_URL_VAR: &str = "CLOUDFLARE_API_BASE_URL";
/// The document's `servers[0].url`.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";
/// Cloudflare answers 429 with `Retry-After: <seconds>`.
const RATE_LIMIT: RateLimit = RateLimit::RetryAfterSeconds("retry-after");

/// `iam_response_single_segment`'s result: the token's id and status.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TokenStatus {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub expires_on: Option<String>,
}

/// A Cloudflare API client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Cloudflare {
    api: Api,
}

/// A successful response, unwrapped from its envelope.
pub(crate) struct Envelope {
    pub result: Value,
    pub result_info: Option<Value>,
}

impl Cloudflare {
    pub fn new(base: &str, token: Secret, policy: Policy) -> Result<Self, CloudflareError> {
        let api = Api::new(base, token, RATE_LIMIT, policy).map_err(|_| CloudflareError::BaseUrl(base.to_string()))?;
        Ok(Cloudflare { api })
    }

    /// `None` when `CLOUDFLARE_API_TOKEN` is unset or empty (the bot then
    /// runs without DNS); the base URL defaults to the public API.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Option<Result<Self, CloudflareError>> {
        use crate::inputs::Var;
        let token = inputs.secret(Var::CloudflareApiToken)?;
        let base = inputs
            .var(Var::CloudflareApiBaseUrl)
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        Some(Cloudflare::new(base.trim(), token, Policy::default()))
    }

    pub fn base_url(&self) -> &str {
        self.api.base()
    }

    /// Look a zone up by name (`GET /zones?name=`). A token without Zone:Read
    /// on the zone does not see it at all, so "not found" says so.
    pub async fn zone(&self, name: &ZoneName) -> Result<Zone, CloudflareError> {
        #[derive(Deserialize)]
        struct Row {
            id: ZoneId,
            name: String,
        }
        let resource = format!("zone {name}");
        let path = format!("/zones?{}", query(&[("name", name.as_str())]));
        let env = self.request(reqwest::Method::GET, &path, None, &resource).await?;
        let rows: Vec<Row> = serde_json::from_value(env.result).map_err(|e| CloudflareError::Decode {
            resource: resource.clone(),
            detail: format!("result is not a list of zones: {e}"),
        })?;
        let row = rows
            .into_iter()
            .find(|z| types::same_host(&z.name, name.as_str()))
            .ok_or_else(|| CloudflareError::ZoneNotFound { zone: name.clone() })?;
        Ok(Zone {
            id: row.id,
            name: name.clone(),
        })
    }

    /// `GET /user/tokens/verify`: whether the token itself is valid, and
    /// its status (`active`, `disabled`, `expired`). Says nothing about
    /// what the token may do; that is only learnt by doing it.
    pub async fn verify_token(&self) -> Result<TokenStatus, CloudflareError> {
        let resource = "the API token (GET /user/tokens/verify)";
        let env = self.request(reqwest::Method::GET, "/user/tokens/verify", None, resource).await?;
        serde_json::from_value(env.result).map_err(|e| CloudflareError::Decode {
            resource: resource.to_string(),
            detail: format!("result is not a token status: {e}"),
        })
    }

    /// The zone's id alone; see [`Cloudflare::zone`].
    pub async fn zone_id(&self, name: &ZoneName) -> Result<ZoneId, CloudflareError> {
        Ok(self.zone(name).await?.id)
    }

    /// Send one request and unwrap the envelope. Non-2xx statuses, and 2xx
    /// bodies that say `success: false`, become errors about `resource`.
    pub(crate) async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        resource: &str,
    ) -> Result<Envelope, CloudflareError> {
        let resp = self
            .api
            .send(method, path, body, Retry::Transient)
            .await
            .map_err(|source| CloudflareError::Http {
                resource: resource.to_string(),
                source: Box::new(source),
            })?;
        let errors = ApiErrors::from_body(&resp.body);
        if !resp.status.is_success() {
            debug!(resource, status = resp.status.as_u16(), codes = ?errors.codes(), "cloudflare refused");
            return Err(error::from_status(resource, resp.status, errors));
        }
        let Value::Object(mut body) = resp.body else {
            return Err(CloudflareError::Decode {
                resource: resource.to_string(),
                detail: format!("{} with a body that is not a JSON object", resp.status),
            });
        };
        if body.get("success") == Some(&Value::Bool(false)) {
            return Err(CloudflareError::Rejected {
                resource: resource.to_string(),
                status: resp.status,
                errors,
            });
        }
        Ok(Envelope {
            result: body.remove("result").unwrap_or(Value::Null),
            result_info: body.remove("result_info"),
        })
    }
}

/// A URL query string, each value percent-encoded.
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}
