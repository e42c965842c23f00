//! Commit-back: after `apply`, the ledger files it wrote are committed with
//! the bot's fixed author and a message saying what happened, and pushed.
//!
//! The bot only ever writes its own files ([`bot_owned`]): sessions/,
//! costs/, COSTS.md, STATUS.md, and in server.toml the `state` line and the
//! removal of a used `restore` line. That is
//! what makes a push race cheap to settle without a merge: when the remote
//! moved, `rebase` replays the bot's commits onto the new remote head by
//! those ownership rules (the bot's version of its own files wins; in
//! server.toml only the bot's edits are re-applied to the remote's text),
//! and the push is tried again, a bounded number of times.
//!
//! The token travels only through git2's credentials callback as an
//! `x-access-token` basic-auth password: never in a URL, never in
//! .git/config, never in an error. Why a bot push cannot start another
//! reconcile run is in docs/commit-back.md.

mod rebase;

use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use git2::{Cred, FetchOptions, IndexAddOption, PushOptions, RemoteCallbacks, Repository, Signature};

use crate::secret::Secret;

pub use rebase::rebase_onto;

/// Files and folders the bot may commit. Everything else belongs to people.
pub const BOT_DIRS: &[&str] = &["sessions/", "costs/"];
pub const BOT_FILES: &[&str] = &["COSTS.md", "STATUS.md", "server.toml"];

pub fn bot_owned(path: &str) -> bool {
    BOT_DIRS.iter().any(|d| path.starts_with(d)) || BOT_FILES.contains(&path)
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "{path} is not a file the bot may commit (only sessions/, costs/, COSTS.md, STATUS.md, and server.toml's state and used restore lines)"
    )]
    NotBotFile { path: String },
    #[error("{what} in {repo}")]
    Git {
        what: String,
        repo: String,
        #[source]
        source: git2::Error,
    },
    #[error(
        "push to {remote} ({url}) branch {branch}: still rejected after {attempts} attempt(s), the remote keeps moving; run apply again"
    )]
    GaveUp {
        remote: String,
        url: String,
        branch: String,
        attempts: u32,
    },
    #[error("push to {remote} ({url}) branch {branch} was refused: {why}")]
    Refused {
        remote: String,
        url: String,
        branch: String,
        why: String,
    },
    #[error("replaying the bot's change to {path} onto the remote's version")]
    Replay {
        path: String,
        #[source]
        source: toml_edit::TomlError,
    },
}

/// Who the bot commits as: `MC_GITOPS_BOT_NAME` / `MC_GITOPS_BOT_EMAIL`, else the default.
#[derive(Clone, Debug)]
pub struct Bot {
    pub name: String,
    pub email: String,
}

impl Default for Bot {
    fn default() -> Self {
        Bot {
            name: "mc-gitops[bot]".into(),
            email: "mc-gitops@users.noreply.github.com".into(),
        }
    }
}

impl Bot {
    /// `MC_GITOPS_BOT_NAME` and `MC_GITOPS_BOT_EMAIL`, else the default.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Self {
        use crate::inputs::Var;
        let d = Bot::default();
        Bot {
            name: inputs.var(Var::BotName).unwrap_or(d.name),
            email: inputs.var(Var::BotEmail).unwrap_or(d.email),
        }
    }

    fn signature(&self) -> Result<Signature<'static>, git2::Error> {
        Signature::now(&self.name, &self.email)
    }
}

/// Where and how to push.
pub struct PushTarget {
    pub remote: String,
    /// The remote branch; `None` = the branch checked out.
    pub branch: Option<String>,
    /// `GITHUB_TOKEN`; `None` for remotes that need none (a file:// path).
    pub token: Option<Secret>,
    pub attempts: u32,
    pub base_delay: Duration,
}

impl PushTarget {
    /// To `origin`, the branch checked out, with `GITHUB_TOKEN`.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Self {
        PushTarget {
            remote: "origin".into(),
            branch: None,
            token: inputs.secret(crate::inputs::Var::GithubToken),
            attempts: 5,
            base_delay: Duration::from_secs(2),
        }
    }
}

pub(crate) fn git(repo: &Path, what: impl Into<String>) -> impl FnOnce(git2::Error) -> GitError {
    let repo = repo.display().to_string();
    let what = what.into();
    move |source| GitError::Git { what, repo, source }
}

/// The commit message: a subject line of at most 72 characters, then every
/// line of the report as the body.
pub fn message(lines: &[String]) -> String {
    const MAX: usize = 72;
    let Some(first) = lines.first() else {
        return "update ledger".into();
    };
    let more = lines.len() - 1;
    let suffix = if more > 0 { format!(" (+{more} more)") } else { String::new() };
    let mut subject = if first.chars().count() + suffix.chars().count() <= MAX {
        format!("{first}{suffix}")
    } else {
        let keep: String = first.chars().take(MAX - 1).collect();
        format!("{}…", keep.trim_end())
    };
    if lines.len() == 1 && subject == *first {
        subject.push('\n');
        return subject;
    }
    let body: Vec<String> = lines.iter().map(|l| format!("- {l}")).collect();
    format!("{subject}\n\n{}\n", body.join("\n"))
}

/// Commit `files` (repo-relative, as `apply::Report.files` lists them) plus
/// any changed summaries (bot-owned paths git sees as changed) on HEAD.
/// Returns `None` when nothing differs from HEAD.
pub fn commit(root: &Path, files: &[String], lines: &[String], bot: &Bot) -> Result<Option<git2::Oid>, GitError> {
    if let Some(bad) = files.iter().find(|f| !bot_owned(f)) {
        return Err(GitError::NotBotFile { path: bad.clone() });
    }
    let repo = Repository::open(root).map_err(git(root, "opening the repository"))?;
    let mut index = repo.index().map_err(git(root, "reading the index"))?;
    for f in files {
        if root.join(f).exists() {
            index.add_path(Path::new(f)).map_err(git(root, format!("staging {f}")))?;
        } else {
            index
                .remove_path(Path::new(f))
                .map_err(git(root, format!("staging the removal of {f}")))?;
        }
    }
    // Summaries (costs/, COSTS.md, STATUS.md) and any session file apply did
    // not list: every bot-owned path but server.toml, whose bot edits (the
    // state line, a used restore line) apply reports itself.
    let summaries: Vec<&str> = BOT_DIRS.iter().copied().chain(["COSTS.md", "STATUS.md"]).collect();
    index
        .add_all(summaries.iter(), IndexAddOption::DEFAULT, None)
        .map_err(git(root, "staging the summaries"))?;
    index.write().map_err(git(root, "writing the index"))?;
    let tree_id = index.write_tree().map_err(git(root, "writing the tree"))?;
    let head = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    if head.as_ref().is_some_and(|h| h.tree_id() == tree_id) {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id).map_err(git(root, "reading the tree"))?;
    let sig = bot.signature().map_err(git(root, "making the bot's signature"))?;
    let parents: Vec<&git2::Commit<'_>> = head.iter().collect();
    let oid = repo
        .commit(Some("HEAD"), &sig, &sig, &message(lines), &tree, &parents)
        .map_err(git(root, "committing"))?;
    Ok(Some(oid))
}

/// Credentials for the remote: the token as an `x-access-token` password,
/// offered once (libgit2 asks again after a refusal; a second ask means the
/// token was refused, and asking forever would hang).
fn callbacks<'a>(token: Option<&'a Secret>, asked: &'a Cell<u32>) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    cb.credentials(move |_url, _user, _allowed| {
        asked.set(asked.get() + 1);
        match token {
            Some(t) if asked.get() == 1 => Cred::userpass_plaintext("x-access-token", t.expose()),
            Some(_) => Err(git2::Error::from_str("the remote refused the token (GITHUB_TOKEN)")),
            None => Err(git2::Error::from_str("the remote asks for credentials and GITHUB_TOKEN is not set")),
        }
    });
    cb
}

/// A URL fit for messages: no user or password, whatever the config holds.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.has_authority() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

enum Attempt {
    Pushed,
    Rejected,
}

/// Push HEAD to the remote branch; on a non-fast-forward, fetch, rebase the
/// bot's commits onto the remote head and try again (bounded, with backoff).
/// Returns how many attempts it took.
pub fn push(root: &Path, target: &PushTarget) -> Result<u32, GitError> {
    let repo = Repository::open(root).map_err(git(root, "opening the repository"))?;
    let branch = match &target.branch {
        Some(b) => b.clone(),
        None => repo
            .head()
            .ok()
            .and_then(|h| h.shorthand().map(str::to_string))
            .ok_or_else(|| GitError::Git {
                what: "finding the branch checked out (HEAD is detached: pass the branch)".into(),
                repo: root.display().to_string(),
                source: git2::Error::from_str("detached HEAD"),
            })?,
    };
    let mut remote = repo
        .find_remote(&target.remote)
        .map_err(git(root, format!("finding remote {}", target.remote)))?;
    let url = shown_url(remote.url().unwrap_or("?"));
    let tracking = format!("refs/remotes/{}/{branch}", target.remote);
    for attempt in 1..=target.attempts.max(1) {
        match push_once(&mut remote, &branch, target.token.as_ref()) {
            Ok(Attempt::Pushed) => {
                if let Ok(head) = repo.head().and_then(|h| h.peel_to_commit()) {
                    let _ = repo.reference(&tracking, head.id(), true, "mc-gitops: pushed");
                }
                return Ok(attempt);
            }
            Ok(Attempt::Rejected) => {
                tracing::info!(attempt, %url, branch, "push rejected: remote moved; fetching and rebasing");
                if attempt == target.attempts.max(1) {
                    break;
                }
                std::thread::sleep(target.base_delay.saturating_mul(1 << (attempt - 1).min(5)));
                let asked = Cell::new(0);
                let mut fo = FetchOptions::new();
                fo.remote_callbacks(callbacks(target.token.as_ref(), &asked));
                remote
                    .fetch(&[format!("+refs/heads/{branch}:{tracking}")], Some(&mut fo), None)
                    .map_err(|e| refused(&target.remote, &url, &branch, e))?;
                let upstream = repo.refname_to_id(&tracking).map_err(git(root, format!("reading {tracking}")))?;
                rebase_onto(&repo, upstream)?;
            }
            Err(e) => return Err(refused(&target.remote, &url, &branch, e)),
        }
    }
    Err(GitError::GaveUp {
        remote: target.remote.clone(),
        url,
        branch,
        attempts: target.attempts.max(1),
    })
}

fn refused(remote: &str, url: &str, branch: &str, e: git2::Error) -> GitError {
    GitError::Refused {
        remote: remote.into(),
        url: url.into(),
        branch: branch.into(),
        why: e.message().to_string(),
    }
}

fn push_once(remote: &mut git2::Remote<'_>, branch: &str, token: Option<&Secret>) -> Result<Attempt, git2::Error> {
    let asked = Cell::new(0);
    let rejected = Cell::new(None::<String>);
    let mut cb = callbacks(token, &asked);
    // A smart-HTTP server reports a per-ref refusal here rather than as an error.
    cb.push_update_reference(|_refname, status| {
        if let Some(s) = status {
            rejected.set(Some(s.to_string()));
        }
        Ok(())
    });
    let mut po = PushOptions::new();
    po.remote_callbacks(cb);
    let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
    match remote.push(&[spec.as_str()], Some(&mut po)) {
        Err(e) if e.code() == git2::ErrorCode::NotFastForward => Ok(Attempt::Rejected),
        Err(e) => Err(e),
        Ok(()) => match rejected.take() {
            None => Ok(Attempt::Pushed),
            Some(why) if why.contains("fast-forward") || why.contains("fetch first") || why.contains("stale") => Ok(Attempt::Rejected),
            Some(why) => Err(git2::Error::from_str(&why)),
        },
    }
}
