//! The nudge: a `workflow_dispatch` of the state repo's reconcile workflow,
//! so a transition is acted on now instead of at the next scheduled run.
//!
//! It carries no data (the body is only the git ref): the reconciler reads
//! the agent's status from storage and trusts nothing else, so a forged or
//! lost nudge changes nothing but timing. The token is optional and should be
//! able to start workflows and nothing more; without one the agent sends
//! nothing and the schedule picks the change up. Requests go through the
//! crate's one HTTP sender; `GITHUB_API_URL` (set by Actions, and by tests)
//! overrides the API address.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::config::NudgeConfig;
use super::traits::{Nudge, PortError, PortResult};
use crate::http::{Api, HttpError, Policy, RateLimit, Retry};

pub const DEFAULT_API: &str = "https://api.github.com";

#[derive(Debug, thiserror::Error)]
pub enum NudgeError {
    #[error("cannot reach GitHub")]
    Http(#[source] Box<HttpError>),
    #[error("POST {path} answered {status}: {message}")]
    Refused { path: String, status: StatusCode, message: String },
}

impl From<HttpError> for NudgeError {
    fn from(e: HttpError) -> Self {
        NudgeError::Http(Box::new(e))
    }
}

/// The dispatcher; `None` inside means no token was configured.
#[derive(Debug)]
pub struct GitHubNudge {
    target: Option<(Api, NudgeConfig)>,
}

impl GitHubNudge {
    /// From the config, with the API address from `GITHUB_API_URL` or GitHub's.
    pub fn from_config(config: Option<NudgeConfig>) -> Result<Self, NudgeError> {
        let base = std::env::var("GITHUB_API_URL").unwrap_or_else(|_| DEFAULT_API.to_string());
        Self::new(&base, config)
    }

    pub fn new(base: &str, config: Option<NudgeConfig>) -> Result<Self, NudgeError> {
        let target = match config {
            None => None,
            Some(c) => {
                let policy = Policy {
                    attempts: 3,
                    ..Policy::default()
                };
                Some((
                    Api::new(base, c.token.clone(), RateLimit::RetryAfterSeconds("retry-after"), policy)?,
                    c,
                ))
            }
        };
        Ok(GitHubNudge { target })
    }

    /// Send the dispatch; `Ok(false)` when there is no token.
    pub async fn dispatch(&self) -> Result<bool, NudgeError> {
        let Some((api, c)) = &self.target else {
            return Ok(false);
        };
        let path = format!("/repos/{}/actions/workflows/{}/dispatches", c.repo, c.workflow);
        // A dispatch starts a run each time it is accepted, so it is sent
        // again only when GitHub did not answer or said to come back.
        let resp = api
            .send(Method::POST, &path, Some(&json!({ "ref": c.git_ref })), Retry::Transient)
            .await?;
        if resp.status == StatusCode::NO_CONTENT || resp.status.is_success() {
            return Ok(true);
        }
        let message = resp.body.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_string();
        Err(NudgeError::Refused {
            path,
            status: resp.status,
            message,
        })
    }
}

impl Nudge for GitHubNudge {
    async fn nudge(&mut self) -> PortResult<bool> {
        self.dispatch().await.map_err(|e| PortError::Nudge(super::control::chain(&e)))
    }
}
