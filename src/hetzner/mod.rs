//! The Hetzner Cloud client: servers, actions, server types, pricing,
//! locations, firewalls, SSH keys and snapshot images — the parts of
//! <https://api.hetzner.cloud/v1> a game server's life needs.
//!
//! Every request goes through [`crate::http::Api::send`] (timeouts, retries
//! with backoff, 429 waits until `RateLimit-Reset`, no token in logs); this
//! module only builds paths and bodies and maps answers. Two helpers do all
//! the mapping — `Hetzner::request_json` for one object, `Hetzner::list_all`
//! for paginated lists — so every method handles errors the same way.
//!
//! Retrying mutations is safe here by construction: server names are
//! deterministic and a `uniqueness_error` is adopted, deletes accept 404,
//! `set_rules` overwrites. The shapes follow the OpenAPI document in
//! `shared/reference/hetzner-cloud-openapi.json`; `tests/hetzner_client.rs`
//! checks the fake against it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::{Api, Policy, RateLimit, Retry};
use crate::secret::Secret;

mod catalog;
pub(crate) mod choose;
mod error;
mod firewall;
pub mod images;
mod servers;
mod types;
mod wire;

pub use catalog::Availability;
pub use choose::{Choice, NothingOrderable, Reason, Refusal, candidates};
pub use error::{ErrorCode, HetznerError, Refused};
pub use types::{
    Action, ActionError, ActionId, ActionResource, ActionStatus, Candidate, CreateServerRequest, Created, CreatedServer, Deprecation,
    Direction, FirewallId, FirewallRule, LocationInfo, LocationPrice, Money, Pricing, PublicNet, Server, ServerSpec, ServerStatus,
    ServerTypeInfo, SshKey, SshKeyId, TypeLocation, selector_for,
};

/// Where the API lives unless `HCLOUD_ENDPOINT` says otherwise.
pub const DEFAULT_ENDPOINT: &str = "https://api.hetzner.cloud/v1";
/// The documented maximum page size.
const PER_PAGE: u32 = 50;
/// A list longer than this many pages means the API (or a fake) loops.
const MAX_PAGES: u64 = 1000;
/// Hetzner asks clients not to poll actions too often (rate limit: 3600/h).
const DEFAULT_POLL: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct Hetzner {
    api: Api,
    poll_every: Duration,
}

impl Hetzner {
    pub fn new(base: &str, token: Secret, policy: Policy) -> Result<Self, HetznerError> {
        let api = Api::new(base, token, RateLimit::ResetUnixTime("RateLimit-Reset"), policy).map_err(|source| HetznerError::Http {
            resource: "Hetzner Cloud API".into(),
            source: Box::new(source),
        })?;
        Ok(Hetzner {
            api,
            poll_every: DEFAULT_POLL,
        })
    }

    /// `HCLOUD_TOKEN` (None when unset or empty) and `HCLOUD_ENDPOINT`
    /// (default [`DEFAULT_ENDPOINT`]), the variables the `hcloud` CLI reads.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Option<Result<Self, HetznerError>> {
        use crate::inputs::Var;
        let token = inputs.secret(Var::HcloudToken)?;
        let base = inputs
            .var(Var::HcloudEndpoint)
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        Some(Hetzner::new(base.trim(), token, Policy::default()))
    }

    /// How often [`Hetzner::wait_action`] polls.
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll_every = every;
        self
    }

    /// How often actions (and the image build's builder) are polled.
    pub fn poll_interval(&self) -> Duration {
        self.poll_every
    }

    pub fn base(&self) -> &str {
        self.api.base()
    }

    /// One request through the shared sender; only transport and retry
    /// exhaustion are errors here, every received status is returned.
    async fn send(&self, resource: &str, method: Method, path: &str, body: Option<&Value>) -> Result<(StatusCode, Value), HetznerError> {
        match self.api.send(method, path, body, Retry::Transient).await {
            Ok(resp) => Ok((resp.status, resp.body)),
            Err(source) => Err(HetznerError::Http {
                resource: resource.to_string(),
                source: Box::new(source),
            }),
        }
    }

    /// A 2xx decoded as `T`; anything else mapped to [`HetznerError::Api`].
    async fn request_json<T: DeserializeOwned>(
        &self,
        resource: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, HetznerError> {
        let (status, body) = self.send(resource, method, path, body).await?;
        if !status.is_success() {
            return Err(HetznerError::from_response(resource, status.as_u16(), &body));
        }
        decode(resource, body)
    }

    /// Like [`Hetzner::request_json`], with 404 `not_found` meaning `None`. A 404
    /// without Hetzner's error body (a wrong base URL, a proxy) stays an
    /// error: "gone" must not be concluded from someone else's 404.
    async fn request_json_or_gone<T: DeserializeOwned>(
        &self,
        resource: &str,
        method: Method,
        path: &str,
    ) -> Result<Option<T>, HetznerError> {
        match self.request_json(resource, method, path, None).await {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.status() == Some(404) && e.code() == Some(ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every item of a paginated list, following `meta.pagination.next_page`.
    async fn list_all<T: DeserializeOwned>(
        &self,
        resource: &str,
        path: &str,
        query: &[(&str, &str)],
        key: &str,
    ) -> Result<Vec<T>, HetznerError> {
        let mut items = Vec::new();
        let mut page: u64 = 1;
        loop {
            let (page_s, per_page) = (page.to_string(), PER_PAGE.to_string());
            let mut q = query.to_vec();
            q.extend([("page", page_s.as_str()), ("per_page", per_page.as_str())]);
            let mut body: Value = self.request_json(resource, Method::GET, &with_query(path, &q), None).await?;
            let list = body.get_mut(key).map(Value::take).unwrap_or(Value::Null);
            items.extend(decode::<Vec<T>>(resource, list)?);
            let meta = match body.get_mut("meta").map(Value::take) {
                Some(m) => decode::<wire::Meta>(resource, m)?,
                None => return Ok(items),
            };
            match meta.pagination.next_page {
                None => return Ok(items),
                Some(next) if next <= meta.pagination.page || next > MAX_PAGES => {
                    return Err(HetznerError::Decode {
                        resource: resource.to_string(),
                        why: format!("pagination goes from page {} to {next}", meta.pagination.page),
                    });
                }
                Some(next) => page = next,
            }
        }
    }
}

fn decode<T: DeserializeOwned>(resource: &str, body: Value) -> Result<T, HetznerError> {
    serde_json::from_value(body).map_err(|e| HetznerError::Decode {
        resource: resource.to_string(),
        why: e.to_string(),
    })
}

/// `path?k=v&…`, each pair form-encoded (`label_selector=a%3Db%2Cc`).
fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    format!("{path}?{q}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_form_encoded() {
        assert_eq!(
            with_query(
                "/servers",
                &[("label_selector", "mc-gitops/server=grove,managed-by"), ("page", "2")]
            ),
            "/servers?label_selector=mc-gitops%2Fserver%3Dgrove%2Cmanaged-by&page=2"
        );
        assert_eq!(with_query("/pricing", &[]), "/pricing");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let h = Hetzner::new("https://api.example", Secret::new("tok-very-secret"), Policy::default()).unwrap();
        assert!(!format!("{h:?}").contains("tok-very-secret"));
    }
}
