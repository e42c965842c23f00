//! `control/<s>/nudge.json`: how the agent nudges the reconciler (a
//! `workflow_dispatch` of the state repo's reconcile workflow).
//!
//! The token is a fine-grained GitHub token (this repo only, Actions: write):
//! long-lived, so it never goes into user-data (DESIGN invariant 5). The
//! reconcile workflow passes it to apply as `MC_GITOPS_NUDGE_TOKEN`, apply
//! writes this document into the server's own control prefix (which only the
//! admin's keys and the agent's scoped credentials reach), and the agent reads
//! it from there. Written by the reconciler only, read by the agent only;
//! `Debug` never shows the token.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The environment variable the reconcile workflow passes the token in.
pub const TOKEN_VAR: &str = "MC_GITOPS_NUDGE_TOKEN";
/// The workflow file nudged when `GITHUB_WORKFLOW_REF` does not say.
pub const DEFAULT_WORKFLOW: &str = "reconcile.yml";
/// The branch nudged when `GITHUB_WORKFLOW_REF` does not say.
pub const DEFAULT_REF: &str = "main";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NudgeDocError {
    #[error("{TOKEN_VAR} is set but GITHUB_REPOSITORY is not: the agent would not know which repository to nudge")]
    NoRepository,
    #[error("GITHUB_REPOSITORY = {0:?} is not owner/name")]
    BadRepository(String),
}

/// `control/<s>/nudge.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NudgeDoc {
    /// The state repo, `owner/name`.
    pub repo: String,
    /// The workflow file name, `reconcile.yml`.
    pub workflow: String,
    /// The branch the workflow runs on.
    #[serde(rename = "ref")]
    pub git_ref: String,
    #[serde(with = "crate::secret::exposed")]
    pub token: Secret,
}

impl NudgeDoc {
    /// From what Actions gives a run: `None` without a token.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Result<Option<Self>, NudgeDocError> {
        use crate::inputs::Var;
        let var = |v: Var| inputs.var(v).filter(|v| !v.trim().is_empty());
        Self::from_github(
            inputs.secret(Var::NudgeToken),
            var(Var::GithubRepository).as_deref(),
            var(Var::GithubWorkflowRef).as_deref(),
        )
    }

    /// `workflow_ref` looks like
    /// `owner/repo/.github/workflows/reconcile.yml@refs/heads/main`: the
    /// workflow file is its last path part, the ref what follows `@`
    /// (`refs/heads/` dropped: the dispatch API takes a branch name).
    pub fn from_github(token: Option<Secret>, repository: Option<&str>, workflow_ref: Option<&str>) -> Result<Option<Self>, NudgeDocError> {
        let Some(token) = token else { return Ok(None) };
        let repo = repository.ok_or(NudgeDocError::NoRepository)?.trim();
        let parts: Vec<&str> = repo.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(NudgeDocError::BadRepository(repo.to_string()));
        }
        let (path, git_ref) = match workflow_ref.and_then(|w| w.trim().split_once('@')) {
            Some((path, r)) => (Some(path), Some(r.strip_prefix("refs/heads/").unwrap_or(r))),
            None => (workflow_ref.map(str::trim), None),
        };
        let workflow = path
            .and_then(|p| p.rsplit('/').next())
            .filter(|f| f.ends_with(".yml") || f.ends_with(".yaml"))
            .unwrap_or(DEFAULT_WORKFLOW);
        Ok(Some(NudgeDoc {
            repo: repo.to_string(),
            workflow: workflow.to_string(),
            git_ref: git_ref.filter(|r| !r.is_empty()).unwrap_or(DEFAULT_REF).to_string(),
            token,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok() -> Option<Secret> {
        Some(Secret::new("github_pat_only-actions"))
    }

    #[test]
    fn the_workflow_and_branch_come_from_the_workflow_ref() {
        let d = NudgeDoc::from_github(
            tok(),
            Some("friends/grove-state"),
            Some("friends/grove-state/.github/workflows/reconcile.yml@refs/heads/trunk"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (d.repo.as_str(), d.workflow.as_str(), d.git_ref.as_str()),
            ("friends/grove-state", "reconcile.yml", "trunk")
        );
        let d = NudgeDoc::from_github(tok(), Some("friends/grove-state"), None).unwrap().unwrap();
        assert_eq!((d.workflow.as_str(), d.git_ref.as_str()), (DEFAULT_WORKFLOW, DEFAULT_REF));
    }

    #[test]
    fn no_token_no_document_and_a_token_needs_a_repository() {
        assert_eq!(NudgeDoc::from_github(None, Some("a/b"), None), Ok(None));
        assert_eq!(NudgeDoc::from_github(tok(), None, None), Err(NudgeDocError::NoRepository));
        assert_eq!(
            NudgeDoc::from_github(tok(), Some("just-a-name"), None),
            Err(NudgeDocError::BadRepository("just-a-name".into()))
        );
    }

    #[test]
    fn the_document_round_trips_and_never_prints_the_token() {
        let d = NudgeDoc::from_github(tok(), Some("friends/grove-state"), None).unwrap().unwrap();
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "repo": "friends/grove-state", "workflow": "reconcile.yml", "ref": "main", "token": "github_pat_only-actions" })
        );
        assert_eq!(serde_json::from_value::<NudgeDoc>(json).unwrap(), d);
        assert!(!format!("{d:?}").contains("github_pat"));
    }
}
