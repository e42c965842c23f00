//! The pull request's one plan comment, through octocrab.
//!
//! The comment is found again by a hidden marker at the start of its body
//! (and a bot as its author), so every run after the first updates it
//! instead of adding another. `GITHUB_API_URL`
//! (set by Actions; tests point it at a fake) is octocrab's base URI.
//! [`pulls_with_head`] is the lookup `--post-result` checks an artifact's
//! pull request number against ([`super::origin`]).

use octocrab::Octocrab;

use super::origin::{PullHead, RunHead};
use crate::secret::Secret;

/// Hidden in the body: how the bot recognises its own comment.
pub const MARKER: &str = "<!-- mc-gitops-plan -->";

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GITHUB_REPOSITORY {0:?} is not owner/name")]
    Repo(String),
    #[error("{what} on {repo}#{pr}")]
    Api {
        what: &'static str,
        repo: String,
        pr: u64,
        #[source]
        source: Box<octocrab::Error>,
    },
    #[error("{what} in {repo}")]
    Lookup {
        what: &'static str,
        repo: String,
        #[source]
        source: Box<octocrab::Error>,
    },
    #[error("setting up the GitHub client for {0}")]
    Client(String, #[source] Box<octocrab::Error>),
}

/// Where the comment goes.
pub struct Target {
    pub api: String,
    pub repo: String,
    pub pr: u64,
    pub token: Secret,
}

/// Whether the comment was created or updated.
#[derive(Debug, PartialEq, Eq)]
pub enum Posted {
    Created(u64),
    Updated(u64),
}

fn client(api: &str, token: &Secret) -> Result<Octocrab, GithubError> {
    Octocrab::builder()
        .base_uri(api)
        .map_err(|e| GithubError::Client(api.to_string(), Box::new(e)))?
        .personal_token(token.expose().to_string())
        .build()
        .map_err(|e| GithubError::Client(api.to_string(), Box::new(e)))
}

/// The open pull requests of `t.repo` whose head is `run`'s commit in
/// `run`'s repository: first by `head=owner:branch`, then, when that finds
/// none (a renamed branch), by the commit. `t.pr` is not used.
pub async fn pulls_with_head(t: &Target, run: &RunHead) -> Result<Vec<u64>, GithubError> {
    let (owner, name) = t.repo.split_once('/').ok_or_else(|| GithubError::Repo(t.repo.clone()))?;
    let client = client(&t.api, &t.token)?;
    let lookup = |what| {
        let repo = t.repo.clone();
        move |source| GithubError::Lookup {
            what,
            repo,
            source: Box::new(source),
        }
    };
    let query = [("head", run.head_filter()), ("state", "open".into()), ("per_page", "100".into())];
    let by_head: Vec<PullHead> = client
        .get(format!("/repos/{owner}/{name}/pulls"), Some(&query))
        .await
        .map_err(lookup("listing pull requests by head"))?;
    let found = super::origin::matching(&by_head, run);
    if !found.is_empty() {
        return Ok(found);
    }
    let by_commit: Vec<PullHead> = client
        .get(format!("/repos/{owner}/{name}/commits/{}/pulls", run.sha), None::<&()>)
        .await
        .map_err(lookup("listing pull requests by commit"))?;
    Ok(super::origin::matching(&by_commit, run))
}

pub async fn upsert_comment(t: &Target, body: &str) -> Result<Posted, GithubError> {
    let (owner, name) = t.repo.split_once('/').ok_or_else(|| GithubError::Repo(t.repo.clone()))?;
    let client = client(&t.api, &t.token)?;
    let api = |what| {
        let repo = t.repo.clone();
        let pr = t.pr;
        move |source| GithubError::Api {
            what,
            repo,
            pr,
            source: Box::new(source),
        }
    };
    let issues = client.issues(owner, name);
    let first = issues
        .list_comments(t.pr)
        .per_page(100)
        .send()
        .await
        .map_err(api("listing comments"))?;
    let all = client.all_pages(first).await.map_err(api("listing comments"))?;
    let body = if body.contains(MARKER) {
        body.to_string()
    } else {
        format!("{MARKER}\n{body}")
    };
    // Only a bot's comment that starts with the marker is ours: anyone can
    // write the marker into their own comment, and the bot would overwrite it.
    let ours = |c: &&octocrab::models::issues::Comment| c.user.r#type == "Bot" && c.body.as_deref().is_some_and(|b| b.starts_with(MARKER));
    match all.iter().find(ours) {
        Some(c) => {
            // PATCH, the documented method: octocrab 0.54's `update_comment` sends POST.
            let route = format!("/repos/{owner}/{name}/issues/comments/{}", c.id);
            let _: octocrab::models::issues::Comment = client
                .patch(route, Some(&serde_json::json!({ "body": body })))
                .await
                .map_err(api("updating the plan comment"))?;
            Ok(Posted::Updated(c.id.into_inner()))
        }
        None => {
            let c = issues.create_comment(t.pr, &body).await.map_err(api("creating the plan comment"))?;
            Ok(Posted::Created(c.id.into_inner()))
        }
    }
}
