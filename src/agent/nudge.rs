//! The nudge: a `workflow_dispatch` of the state repo's reconcile workflow
//! with the one input `action=reconcile`, so a transition is acted on now
//! instead of at the next scheduled run. Without that input GitHub would use
//! the workflow's defaults, which press Start.
//!
//! It carries no data: the reconciler reads the agent's status from storage
//! and trusts nothing else, so a forged or lost nudge changes nothing but
//! timing. Where to send it and the token (fine-grained, Actions: write on
//! the state repo only) come from `control/<s>/nudge.json`, which apply
//! writes into the server's storage prefix; the token never travels in
//! user-data. The document is read at the first nudge, kept, and read again
//! when GitHub refuses the token or the workflow (401/403/404: rotated or
//! renamed). Without it the agent sends nothing, says so once, and the
//! schedule picks the change up. Requests go through the crate's one HTTP
//! sender; `GITHUB_API_URL` (set by Actions, and by tests) overrides the API
//! address.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::traits::{Nudge, PortError, PortResult};
use crate::http::{Api, HttpError, Policy, RateLimit, Retry};
use crate::storage::nudge::NudgeDoc;
use crate::storage::{StorageError, Store};

pub use crate::actions_minutes::github::DEFAULT_API;

#[derive(Debug, thiserror::Error)]
pub enum NudgeError {
    #[error("cannot reach GitHub")]
    Http(#[source] Box<HttpError>),
    #[error("POST {path} answered {status}: {message}")]
    Refused { path: String, status: StatusCode, message: String },
    #[error("reading the nudge settings")]
    Settings(#[source] Box<StorageError>),
}

impl From<HttpError> for NudgeError {
    fn from(e: HttpError) -> Self {
        NudgeError::Http(Box::new(e))
    }
}

/// GitHub's answers that mean the settings are stale, not GitHub unwell:
/// a revoked or rotated token, one without access, a renamed workflow.
fn stale_settings(e: &NudgeError) -> bool {
    matches!(e, NudgeError::Refused { status, .. }
        if [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(status))
}

/// The dispatcher, reading its settings from the server's store.
#[derive(Debug)]
pub struct GitHubNudge {
    base: String,
    store: Store,
    settings: Option<NudgeDoc>,
    said_missing: bool,
}

impl GitHubNudge {
    /// With the API address from `GITHUB_API_URL` or GitHub's.
    pub fn from_inputs(inputs: &crate::inputs::Inputs, store: Store) -> Self {
        let base = inputs
            .var(crate::inputs::Var::GithubApiUrl)
            .unwrap_or_else(|| DEFAULT_API.to_string());
        Self::new(&base, store)
    }

    pub fn new(base: &str, store: Store) -> Self {
        GitHubNudge {
            base: base.trim_end_matches('/').to_string(),
            store,
            settings: None,
            said_missing: false,
        }
    }

    /// Send the dispatch; `Ok(false)` when there are no nudge settings.
    pub async fn dispatch(&mut self) -> Result<bool, NudgeError> {
        let Some(doc) = self.settings().await? else {
            return Ok(false);
        };
        match self.send(&doc).await {
            Err(e) if stale_settings(&e) => {
                // Read the document again: when apply has written a new
                // one (a rotated token), try once more with it.
                self.settings = None;
                match self.settings().await? {
                    Some(fresh) if fresh != doc => self.send(&fresh).await.map(|()| true),
                    _ => Err(e),
                }
            }
            other => other.map(|()| true),
        }
    }

    /// The kept settings, or the stored ones.
    async fn settings(&mut self) -> Result<Option<NudgeDoc>, NudgeError> {
        if self.settings.is_none() {
            self.settings = self.store.nudge().await.map_err(|e| NudgeError::Settings(Box::new(e)))?;
            if self.settings.is_none() && !self.said_missing {
                self.said_missing = true;
                tracing::info!(
                    key = %self.store.nudge_key(),
                    "no nudge settings: the reconciler acts on this agent's reports at its next scheduled run"
                );
            }
        }
        Ok(self.settings.clone())
    }

    async fn send(&self, doc: &NudgeDoc) -> Result<(), NudgeError> {
        let policy = Policy {
            attempts: 3,
            ..Policy::default()
        };
        let api = Api::new(&self.base, doc.token.clone(), RateLimit::RetryAfterSeconds("retry-after"), policy)?;
        let path = format!("/repos/{}/actions/workflows/{}/dispatches", doc.repo, doc.workflow);
        // "Look now", never "start": the workflow's own defaults press Start.
        let body = json!({ "ref": doc.git_ref, "inputs": { "action": "reconcile" } });
        // A dispatch starts a run each time it is accepted, so it is sent
        // again only when GitHub did not answer or said to come back.
        let resp = api.send(Method::POST, &path, Some(&body), Retry::Transient).await?;
        if resp.status.is_success() {
            tracing::info!(repo = %doc.repo, workflow = %doc.workflow, "nudged the reconciler");
            return Ok(());
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
        self.dispatch().await.map_err(PortError::Nudge)
    }
}
