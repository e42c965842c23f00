//! Which pull request a `check-result` artifact may be posted on.
//!
//! The comment job (`check-comment.yml`) runs on `workflow_run` with a token
//! that may comment, but its artifact was written by `check.yml`, which a
//! fork's pull request can modify: the artifact's `pr` is a claim, not a
//! fact. The facts are in the event GitHub hands the comment job
//! (`$GITHUB_EVENT_PATH`): the triggering run's head commit, head branch and
//! head repository. The pull request is looked up from those through the API
//! and the claim must be one of the open pull requests whose head is exactly
//! that commit in that repository; anything else is refused before a single
//! write is sent.

use serde::Deserialize;

/// The triggering run as GitHub describes it in a `workflow_run` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunHead {
    /// The commit check.yml ran on (40 hex digits).
    pub sha: String,
    /// The branch, in `repo` (a fork's branch name for a fork's pull request).
    pub branch: String,
    /// `owner/name` of the repository the head commit came from.
    pub repo: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error(
        "--post-result runs only in a workflow_run job (GITHUB_EVENT_NAME is {0:?}): without the triggering run's head commit the artifact's pull request number cannot be checked"
    )]
    NotWorkflowRun(String),
    #[error("cannot read the workflow_run event {path}: {cause}")]
    Event { path: String, cause: String },
    #[error("the triggering run was a {0:?} event, not a pull_request: there is no pull request to comment on")]
    NotPullRequest(String),
    #[error("the event's {field} is {value:?}, not {what}")]
    Field {
        field: &'static str,
        value: String,
        what: &'static str,
    },
    #[error("no open pull request in {base} has head {sha} from {repo} (branch {branch:?}); the artifact names #{claimed}")]
    NoPullRequest {
        base: String,
        sha: String,
        repo: String,
        branch: String,
        claimed: u64,
    },
    #[error(
        "the artifact names pull request #{claimed}, but the run that wrote it checked {sha} from {repo}, the head of {found}: refusing to comment (a modified check.yml can write any number)"
    )]
    Mismatch {
        claimed: u64,
        sha: String,
        repo: String,
        found: String,
    },
}

#[derive(Deserialize)]
struct Event {
    workflow_run: Run,
}

#[derive(Deserialize)]
struct Run {
    event: String,
    head_sha: String,
    head_branch: Option<String>,
    head_repository: Option<Repo>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Repo {
    pub full_name: String,
}

/// The event file is GitHub's; it is small. Anything bigger is not it.
const MAX_EVENT_BYTES: u64 = 4 * 1024 * 1024;

impl RunHead {
    /// From `GITHUB_EVENT_NAME` and `GITHUB_EVENT_PATH`, as Actions sets them.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Result<RunHead, OriginError> {
        use crate::inputs::Var;
        let name = inputs.var(Var::GithubEventName).unwrap_or_default();
        if name != "workflow_run" {
            return Err(OriginError::NotWorkflowRun(name));
        }
        let path = inputs.var(Var::GithubEventPath).unwrap_or_default();
        let err = |cause: String| OriginError::Event { path: path.clone(), cause };
        let len = std::fs::metadata(&path).map_err(|e| err(e.to_string()))?.len();
        if len > MAX_EVENT_BYTES {
            return Err(err(format!("{len} bytes, over MAX_EVENT_BYTES ({MAX_EVENT_BYTES})")));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
        Self::parse(&text).map_err(|e| match e {
            OriginError::Event { cause, .. } => err(cause),
            other => other,
        })
    }

    /// The head of a `workflow_run` event's run, checked for shape.
    pub fn parse(event: &str) -> Result<RunHead, OriginError> {
        let e: Event = serde_json::from_str(event).map_err(|e| OriginError::Event {
            path: String::new(),
            cause: e.to_string(),
        })?;
        let r = e.workflow_run;
        if r.event != "pull_request" {
            return Err(OriginError::NotPullRequest(r.event));
        }
        if r.head_sha.len() != 40 || !r.head_sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(OriginError::Field {
                field: "workflow_run.head_sha",
                value: r.head_sha,
                what: "40 hex digits",
            });
        }
        let repo = r.head_repository.map(|h| h.full_name).unwrap_or_default();
        if repo.split('/').filter(|p| !p.is_empty()).count() != 2 {
            return Err(OriginError::Field {
                field: "workflow_run.head_repository.full_name",
                value: repo,
                what: "owner/name",
            });
        }
        Ok(RunHead {
            sha: r.head_sha.to_ascii_lowercase(),
            branch: r.head_branch.unwrap_or_default(),
            repo,
        })
    }

    /// `owner:branch`, the pulls endpoint's `head` filter.
    pub fn head_filter(&self) -> String {
        let owner = self.repo.split('/').next().unwrap_or_default();
        format!("{owner}:{}", self.branch)
    }
}

/// A pull request as the pulls endpoints return it: only what is compared.
#[derive(Clone, Debug, Deserialize)]
pub struct PullHead {
    pub number: u64,
    #[serde(default)]
    pub state: Option<String>,
    pub head: Head,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Head {
    pub sha: String,
    /// `null` when the fork was deleted.
    pub repo: Option<Repo>,
}

/// The numbers of the open pull requests whose head is `run`'s commit in
/// `run`'s repository.
pub fn matching(pulls: &[PullHead], run: &RunHead) -> Vec<u64> {
    let mut out: Vec<u64> = pulls
        .iter()
        .filter(|p| p.state.as_deref().is_none_or(|s| s == "open"))
        .filter(|p| p.head.sha.eq_ignore_ascii_case(&run.sha))
        .filter(|p| p.head.repo.as_ref().is_some_and(|r| r.full_name.eq_ignore_ascii_case(&run.repo)))
        .map(|p| p.number)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The claim against the facts: `claimed` must be one of `found`.
pub fn verify(claimed: u64, found: &[u64], base: &str, run: &RunHead) -> Result<u64, OriginError> {
    if found.contains(&claimed) {
        return Ok(claimed);
    }
    if found.is_empty() {
        return Err(OriginError::NoPullRequest {
            base: base.to_string(),
            sha: run.sha.clone(),
            repo: run.repo.clone(),
            branch: run.branch.clone(),
            claimed,
        });
    }
    Err(OriginError::Mismatch {
        claimed,
        sha: run.sha.clone(),
        repo: run.repo.clone(),
        found: found.iter().map(|n| format!("#{n}")).collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunHead {
        RunHead {
            sha: "9".repeat(40),
            branch: "evil".into(),
            repo: "mallory/grove-state".into(),
        }
    }

    fn pull(number: u64, sha: &str, repo: Option<&str>) -> PullHead {
        PullHead {
            number,
            state: Some("open".into()),
            head: Head {
                sha: sha.into(),
                repo: repo.map(|r| Repo { full_name: r.into() }),
            },
        }
    }

    #[test]
    fn only_a_pull_request_with_the_same_head_commit_and_repository_matches() {
        let pulls = [
            pull(7, &"7".repeat(40), Some("grove-friends/grove-state")),
            pull(9, &"9".repeat(40), Some("mallory/grove-state")),
            // Same commit pushed to another fork: not this run's.
            pull(11, &"9".repeat(40), Some("someone/grove-state")),
            // A deleted fork.
            pull(12, &"9".repeat(40), None),
        ];
        assert_eq!(matching(&pulls, &run()), [9]);
        assert_eq!(verify(9, &[9], "o/r", &run()).unwrap(), 9);
        assert!(matches!(
            verify(7, &[9], "o/r", &run()),
            Err(OriginError::Mismatch { claimed: 7, .. })
        ));
        assert!(matches!(verify(7, &[], "o/r", &run()), Err(OriginError::NoPullRequest { .. })));
    }

    #[test]
    fn the_event_must_be_a_pull_request_run_with_a_full_sha() {
        let ok = r#"{"workflow_run":{"event":"pull_request","head_sha":"ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFABCD","head_branch":"b","head_repository":{"full_name":"m/r"}}}"#;
        let head = RunHead::parse(ok).unwrap();
        assert_eq!(head.sha, "abcdefabcdefabcdefabcdefabcdefabcdefabcd");
        assert_eq!(head.head_filter(), "m:b");
        let push = ok.replace("\"pull_request\"", "\"push\"");
        assert!(matches!(RunHead::parse(&push), Err(OriginError::NotPullRequest(_))));
        let short = ok.replace("ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFABCD", "abc");
        assert!(matches!(RunHead::parse(&short), Err(OriginError::Field { .. })));
        let no_repo = ok.replace(r#","head_repository":{"full_name":"m/r"}"#, "");
        assert!(matches!(RunHead::parse(&no_repo), Err(OriginError::Field { .. })));
    }
}
