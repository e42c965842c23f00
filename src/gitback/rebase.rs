//! Replaying the bot's commits onto a remote head that moved.
//!
//! Not a general rebase: the bot only writes its own files, so each of its
//! commits is re-made from what it changed, path by path, by ownership
//! rules instead of a three-way merge. A bot file (sessions/, costs/, …)
//! takes the bot's version, whatever the remote did to it: the ledger is
//! the bot's record. server.toml is the admin's file: only the bot's edits
//! are made again, into the remote's text (the `state` value it set, and a
//! used `restore` line it removed), so an admin's concurrent edit (and every
//! comment) survives.
//!
//! Except the `state` line when the admin changed it on the remote since the
//! bot's commits were made (in any commit, even one later undone): then the
//! admin's newer word wins, the bot's `state` edit is not made again, and
//! the rebased commit's message says so. The next run plans from what the
//! admin wrote (a start over budget is refused and recorded again, say), so
//! the bot never silently writes over a decision made after its own.

use git2::build::{CheckoutBuilder, TreeUpdateBuilder};
use git2::{Delta, DiffOptions, FileMode, Oid, Repository};

use super::{GitError, bot_owned, git};
use crate::repo::edit::{clear_restore_text, set_state_text};

/// Re-make the commits in `upstream..HEAD` on top of `upstream`, move the
/// branch there and check it out. Commits that end up changing nothing are dropped.
pub fn rebase_onto(repo: &Repository, upstream: Oid) -> Result<Oid, GitError> {
    let root = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(git(&root, "reading HEAD"))?;
    let mut walk = repo.revwalk().map_err(git(&root, "walking history"))?;
    walk.push(head.id()).map_err(git(&root, "walking history"))?;
    walk.hide(upstream).map_err(git(&root, "walking history"))?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
        .map_err(git(&root, "walking history"))?;
    let ours: Vec<Oid> = walk.collect::<Result<_, _>>().map_err(git(&root, "walking history"))?;
    let base = repo
        .merge_base(head.id(), upstream)
        .map_err(git(&root, "finding where the bot's commits left the remote"))?;
    let admin_state = state_edited_since(repo, &root, base, upstream)?;

    let mut tip = repo.find_commit(upstream).map_err(git(&root, "reading the remote head"))?;
    for id in ours {
        let c = repo.find_commit(id).map_err(git(&root, "reading a bot commit"))?;
        if c.parent_count() > 1 {
            return Err(GitError::Git {
                what: format!("replaying {id}: a merge commit is not the bot's"),
                repo: root.display().to_string(),
                source: git2::Error::from_str("merge commit"),
            });
        }
        let parent_tree = c.parent(0).ok().and_then(|p| p.tree().ok());
        let tree = c.tree().map_err(git(&root, "reading a bot commit"))?;
        let base_tree = tip.tree().map_err(git(&root, "reading the remote tree"))?;
        let mut opts = DiffOptions::new();
        let diff = repo
            .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut opts))
            .map_err(git(&root, "diffing a bot commit"))?;
        let mut update = TreeUpdateBuilder::new();
        let mut kept_theirs = false;
        for delta in diff.deltas() {
            let path = delta
                .new_file()
                .path()
                .or(delta.old_file().path())
                .and_then(|p| p.to_str())
                .unwrap_or_default()
                .to_string();
            if !bot_owned(&path) {
                return Err(GitError::NotBotFile { path });
            }
            if delta.status() == Delta::Deleted {
                update.remove(&path);
            } else if path == "server.toml" {
                let parent = (delta.status() != Delta::Added).then(|| delta.old_file().id());
                let replayed = replay_server_toml(repo, &root, &base_tree, parent, delta.new_file().id(), admin_state.is_none())?;
                kept_theirs |= replayed.kept_theirs;
                if let Some(blob) = replayed.blob {
                    update.upsert(&path, blob, FileMode::Blob);
                }
            } else {
                update.upsert(&path, delta.new_file().id(), FileMode::Blob);
            }
        }
        let new_tree = update
            .create_updated(repo, &base_tree)
            .map_err(git(&root, "building the rebased tree"))?;
        // A commit that changes nothing is dropped, unless it carries the
        // note that the admin's `state` was kept over the bot's.
        if new_tree == base_tree.id() && !kept_theirs {
            continue;
        }
        let new_tree = repo.find_tree(new_tree).map_err(git(&root, "reading the rebased tree"))?;
        let mut message = c.message().unwrap_or("").to_string();
        if kept_theirs && let Some(by) = &admin_state {
            message = format!(
                "{}\n\nserver.toml: `state` was changed on the remote meanwhile ({by}); that newer edit stands and this commit's `state` is not applied: the next run plans from it.\n",
                message.trim_end()
            );
        }
        let oid = repo
            .commit(None, &c.author(), &c.committer(), &message, &new_tree, &[&tip])
            .map_err(git(&root, "committing the rebased change"))?;
        tip = repo.find_commit(oid).map_err(git(&root, "reading the rebased commit"))?;
    }

    let branch = repo.head().map_err(git(&root, "reading HEAD"))?;
    let name = branch.name().unwrap_or("HEAD").to_string();
    repo.reference(&name, tip.id(), true, "mc-gitops: rebase the bot's commits onto the remote")
        .map_err(git(&root, format!("moving {name}")))?;
    repo.checkout_head(Some(CheckoutBuilder::new().force()))
        .map_err(git(&root, "checking out the rebased head"))?;
    Ok(tip.id())
}

/// The newest remote commit in `base..upstream` that changed server.toml's
/// `state` line, as `<short id> "<summary>"`; `None` when none did.
fn state_edited_since(repo: &Repository, root: &std::path::Path, base: Oid, upstream: Oid) -> Result<Option<String>, GitError> {
    let state_at = |commit: &git2::Commit<'_>| -> Result<Option<String>, GitError> {
        let tree = commit.tree().map_err(git(root, "reading a remote commit"))?;
        let Ok(entry) = tree.get_path(std::path::Path::new("server.toml")) else {
            return Ok(None);
        };
        let blob = repo.find_blob(entry.id()).map_err(git(root, "reading server.toml"))?;
        Ok(state_line(&String::from_utf8_lossy(blob.content())).map(str::to_string))
    };
    let mut walk = repo.revwalk().map_err(git(root, "walking the remote's history"))?;
    walk.push(upstream).map_err(git(root, "walking the remote's history"))?;
    walk.hide(base).map_err(git(root, "walking the remote's history"))?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL)
        .map_err(git(root, "walking the remote's history"))?;
    // Newest first: each commit against its parent(s), so an edit later undone counts too.
    for id in walk {
        let id = id.map_err(git(root, "walking the remote's history"))?;
        let c = repo.find_commit(id).map_err(git(root, "reading a remote commit"))?;
        let mut changed = c.parent_count() == 0;
        for parent in c.parents() {
            changed |= state_at(&parent)? != state_at(&c)?;
        }
        if changed {
            let short = id.to_string()[..7].to_string();
            return Ok(Some(format!("{short} \"{}\"", c.summary().unwrap_or(""))));
        }
    }
    Ok(None)
}

/// The text of server.toml's top-level `state = …` line (before any table).
fn state_line(text: &str) -> Option<&str> {
    text.lines().take_while(|l| !l.trim_start().starts_with('[')).find(|l| {
        l.trim_start()
            .strip_prefix("state")
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    })
}

/// server.toml as the rebased commit has it.
struct Replayed {
    /// The new blob; `None` when the remote's text already says so.
    blob: Option<Oid>,
    /// The bot changed `state` but the admin's newer edit was kept.
    kept_theirs: bool,
}

/// The bot's edits to server.toml, made again in the remote's server.toml:
/// its `state` value (unless `replay_state` is false: the admin changed it
/// meanwhile), and the removal of a `restore` line its parent had.
fn replay_server_toml(
    repo: &Repository,
    root: &std::path::Path,
    base: &git2::Tree<'_>,
    parent: Option<Oid>,
    ours: Oid,
    replay_state: bool,
) -> Result<Replayed, GitError> {
    let read = |id: Oid| -> Result<String, GitError> {
        let blob = repo.find_blob(id).map_err(git(root, "reading server.toml"))?;
        Ok(String::from_utf8_lossy(blob.content()).into_owned())
    };
    let replay = |source| GitError::Replay {
        path: "server.toml".into(),
        source,
    };
    let top = |text: &str, key: &str| -> Result<Option<String>, GitError> {
        let doc: toml_edit::DocumentMut = text.parse().map_err(replay)?;
        Ok(doc.get(key).and_then(|v| v.as_str()).map(str::to_string))
    };
    let ours = read(ours)?;
    let theirs = match base.get_path(std::path::Path::new("server.toml")) {
        Ok(entry) => read(entry.id())?,
        Err(_) => {
            return Ok(Replayed {
                blob: None,
                kept_theirs: false,
            });
        }
    };
    let parent_text = parent.map(read).transpose()?;
    let bot_changed_state = parent_text.as_deref().map(state_line) != Some(state_line(&ours));
    let mut text = theirs.clone();
    let mut kept_theirs = false;
    if let Some(state) = top(&ours, "state")? {
        if !replay_state && bot_changed_state && top(&theirs, "state")?.as_deref() != Some(state.as_str()) {
            kept_theirs = true;
        } else if let Some(t) = set_state_text(&text, &state).map_err(replay)? {
            text = t;
        }
    }
    let removed = match &parent_text {
        Some(p) if top(&ours, "restore")?.is_none() => top(p, "restore")?,
        _ => None,
    };
    if let Some(backup) = removed
        && let Some(t) = clear_restore_text(&text, &backup).map_err(replay)?
    {
        text = t;
    }
    if text == theirs {
        return Ok(Replayed { blob: None, kept_theirs });
    }
    let blob = repo.blob(text.as_bytes()).map_err(git(root, "writing server.toml"))?;
    Ok(Replayed {
        blob: Some(blob),
        kept_theirs,
    })
}
