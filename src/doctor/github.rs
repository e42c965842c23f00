//! GitHub and Discord: the push token, the nudge token and the webhook,
//! each by a GET that changes nothing.
//!
//! - `GITHUB_TOKEN` (what `apply --push` pushes with): `GET /repos/{o}/{r}`
//!   answers `permissions.push` for a user's token, and then the reconcile
//!   workflow must exist and be active (what a dispatch starts). An
//!   Actions job's own token gets no `permissions` (its rights are the
//!   workflow's `permissions:`, which do not include reading workflows),
//!   which is said, not failed.
//! - `MC_GITOPS_NUDGE_TOKEN` (optional; the agent's `workflow_dispatch`):
//!   it can see the workflow. Whether it may *write* (dispatch) is only
//!   proved by dispatching, which would start a run; doctor does not.
//! - `DISCORD_WEBHOOK_URL` (optional): `GET` on the webhook answers its
//!   name, or 404 once it was deleted; nothing is posted.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{Check, Env, why};
use crate::http::{Api, Policy, RateLimit, Retry};
use crate::notify::{Discord, NotifyError};
use crate::repo::Desired;
use crate::secret::Secret;
use crate::storage::nudge::DEFAULT_WORKFLOW;

/// GitHub answers 429 and secondary limits with `Retry-After` in seconds.
const RATE_LIMIT: RateLimit = RateLimit::RetryAfterSeconds("retry-after");

fn api(env: &Env, token: &Secret) -> Result<Api, Check> {
    let policy = Policy {
        attempts: 3,
        ..Policy::default()
    };
    Api::new(&env.github_api, token.clone(), RATE_LIMIT, policy)
        .map_err(|e| Check::fail("github", why(&e), "set GITHUB_API_URL to an http(s) URL, or unset it"))
}

/// One GET: the status and body, or the line for a request that failed.
async fn get(api: &Api, path: &str, id: &str) -> Result<(StatusCode, Value), Check> {
    api.send(Method::GET, path, None, Retry::Transient)
        .await
        .map(|r| (r.status, r.body))
        .map_err(|e| Check::fail(id, why(&e), "check GITHUB_API_URL and the network, then run doctor again"))
}

fn message(body: &Value) -> String {
    let m = body.get("message").and_then(Value::as_str).unwrap_or("no message");
    crate::escape::value(m).into_owned()
}

/// The workflow a dispatch starts, seen with `api`'s token.
async fn workflow_visible(api: &Api, repo: &str, id: &str, token_var: &str) -> Result<(), Check> {
    let path = format!("/repos/{repo}/actions/workflows/{DEFAULT_WORKFLOW}");
    match get(api, &path, id).await? {
        (s, body) if s.is_success() => match body.get("state").and_then(Value::as_str) {
            Some("active") | None => Ok(()),
            Some(state) => Err(Check::fail(
                id,
                format!("{DEFAULT_WORKFLOW} in {repo} is {}", crate::escape::value(state)),
                format!("enable the workflow (Actions → {DEFAULT_WORKFLOW} → Enable workflow)"),
            )),
        },
        (StatusCode::NOT_FOUND, _) => Err(Check::fail(
            id,
            format!("{token_var} cannot see .github/workflows/{DEFAULT_WORKFLOW} in {repo}"),
            format!("push .github/workflows/{DEFAULT_WORKFLOW} to the default branch, or give the token access to {repo}"),
        )),
        (s, body) => Err(Check::fail(
            id,
            format!("{token_var} cannot read the workflow ({s}: {})", message(&body)),
            format!("give {token_var} Actions: Read and write on {repo}"),
        )),
    }
}

/// `GITHUB_TOKEN`: can push; a person's token also sees the workflow it
/// could dispatch. An Actions job's own token reports no permissions and
/// cannot read workflows under reconcile.yml's `contents: write`: its push
/// right is that line, which is said.
pub(super) async fn push_token(env: &Env, repo: Option<&str>) -> Check {
    const ID: &str = "github.push";
    let Some(token) = &env.github_token else {
        return Check::skip(
            ID,
            "GITHUB_TOKEN is not set (the reconcile workflow passes its own; apply --push needs it)",
        );
    };
    let Some(repo) = repo else {
        return Check::fail(
            ID,
            "GITHUB_TOKEN is set but neither GITHUB_REPOSITORY nor [github] repo names the repository",
            "add repo = \"owner/name\" under [github] in server.toml",
        );
    };
    let repo = crate::escape::value(repo).into_owned();
    let api = match api(env, token) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let (status, body) = match get(&api, &format!("/repos/{repo}"), ID).await {
        Ok(r) => r,
        Err(c) => return c,
    };
    let fix = format!("use a token with Contents: Read and write on {repo}");
    match status {
        s if s.is_success() => {}
        StatusCode::UNAUTHORIZED => return Check::fail(ID, format!("GitHub refused GITHUB_TOKEN: {}", message(&body)), fix),
        StatusCode::NOT_FOUND => {
            return Check::fail(
                ID,
                format!("GITHUB_TOKEN cannot see {repo}"),
                format!("check [github] repo, and give the token access to {repo}"),
            );
        }
        s => return Check::fail(ID, format!("GET /repos/{repo}: {s}: {}", message(&body)), fix),
    }
    match body.get("permissions").and_then(|p| p.get("push")).and_then(Value::as_bool) {
        Some(false) => Check::fail(ID, format!("GITHUB_TOKEN can read {repo} but not push to it"), fix),
        Some(true) => match workflow_visible(&api, &repo, ID, "GITHUB_TOKEN").await {
            Ok(()) => Check::pass(
                ID,
                format!("GITHUB_TOKEN can push to {repo}, and {DEFAULT_WORKFLOW} is there to dispatch"),
            ),
            Err(c) => c,
        },
        None if env.in_actions => Check::pass(
            ID,
            format!("GITHUB_TOKEN (this job's token) reads {repo}; it pushes with the workflow's contents: write"),
        ),
        None => Check::warn(
            ID,
            format!("GITHUB_TOKEN reads {repo}, but GitHub does not report its push permission (an app's token?)"),
            format!("nothing to do if it has Contents: Read and write on {repo}"),
        ),
    }
}

/// `MC_GITOPS_NUDGE_TOKEN`: optional; it can see the workflow it dispatches.
pub(super) async fn nudge_token(env: &Env, repo: Option<&str>) -> Check {
    const ID: &str = "github.nudge";
    let Some(token) = &env.nudge_token else {
        return Check::skip(
            ID,
            "MC_GITOPS_NUDGE_TOKEN is not set (optional: without it the server's changes wait for the next scheduled run)",
        )
        .optional();
    };
    let Some(repo) = repo else {
        return Check::fail(
            ID,
            "MC_GITOPS_NUDGE_TOKEN is set but neither GITHUB_REPOSITORY nor [github] repo names the repository",
            "add repo = \"owner/name\" under [github] in server.toml",
        )
        .optional();
    };
    let repo = crate::escape::value(repo).into_owned();
    let api = match api(env, token) {
        Ok(a) => a,
        Err(c) => return c.optional(),
    };
    match workflow_visible(&api, &repo, ID, "MC_GITOPS_NUDGE_TOKEN").await {
        Ok(()) => Check::pass(
            ID,
            format!("MC_GITOPS_NUDGE_TOKEN sees {DEFAULT_WORKFLOW} in {repo} (dispatching is not tried: it would start a run)"),
        )
        .optional(),
        Err(c) => c.optional(),
    }
}

/// `DISCORD_WEBHOOK_URL`: optional; the webhook exists. Needed only when
/// `[notify] discord = true`, and even then a dead webhook loses messages,
/// not servers.
pub(super) async fn discord(discord: Option<&Result<Discord, NotifyError>>, d: &Desired) -> Check {
    const ID: &str = "discord";
    let wanted = d.server.notify.discord;
    let fix =
        "create a webhook (channel → Edit → Integrations → Webhooks → New Webhook) and store its URL as the DISCORD_WEBHOOK_URL secret";
    let c = match discord {
        None if wanted => Check::fail(ID, "[notify] discord = true but DISCORD_WEBHOOK_URL is not set", fix),
        None => Check::skip(ID, "DISCORD_WEBHOOK_URL is not set and [notify] discord is off"),
        Some(Err(e)) => Check::fail(ID, why(e), fix),
        Some(Ok(hook)) => match hook.exists().await {
            Ok(name) if wanted => Check::pass(
                ID,
                format!("the Discord webhook {:?} exists (nothing was posted)", crate::escape::value(&name)),
            ),
            Ok(_) => Check::warn(
                ID,
                "the Discord webhook exists, but [notify] discord is off",
                "set discord = true under [notify] in server.toml to use it",
            ),
            Err(NotifyError::Refused { status: 404 }) => Check::fail(ID, "the Discord webhook was deleted (404 Unknown Webhook)", fix),
            Err(NotifyError::Refused { status: 401 }) => {
                Check::fail(ID, "Discord refused the webhook's token (401 Invalid Webhook Token)", fix)
            }
            Err(e) => Check::fail(ID, format!("the Discord webhook: {}", why(&e)), fix),
        },
    };
    c.optional()
}
