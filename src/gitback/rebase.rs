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
                if let Some(blob) = replay_server_toml(repo, &root, &base_tree, parent, delta.new_file().id())? {
                    update.upsert(&path, blob, FileMode::Blob);
                }
            } else {
                update.upsert(&path, delta.new_file().id(), FileMode::Blob);
            }
        }
        let new_tree = update
            .create_updated(repo, &base_tree)
            .map_err(git(&root, "building the rebased tree"))?;
        if new_tree == base_tree.id() {
            continue;
        }
        let new_tree = repo.find_tree(new_tree).map_err(git(&root, "reading the rebased tree"))?;
        let oid = repo
            .commit(None, &c.author(), &c.committer(), c.message().unwrap_or(""), &new_tree, &[&tip])
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

/// The bot's edits to server.toml, made again in the remote's server.toml:
/// its `state` value, and the removal of a `restore` line its parent had.
/// `None` when the remote already says so.
fn replay_server_toml(
    repo: &Repository,
    root: &std::path::Path,
    base: &git2::Tree<'_>,
    parent: Option<Oid>,
    ours: Oid,
) -> Result<Option<Oid>, GitError> {
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
        Err(_) => return Ok(None),
    };
    let mut text = theirs.clone();
    if let Some(state) = top(&ours, "state")?
        && let Some(t) = set_state_text(&text, &state).map_err(replay)?
    {
        text = t;
    }
    let removed = match parent {
        Some(p) if top(&ours, "restore")?.is_none() => top(&read(p)?, "restore")?,
        _ => None,
    };
    if let Some(backup) = removed
        && let Some(t) = clear_restore_text(&text, &backup).map_err(replay)?
    {
        text = t;
    }
    if text == theirs {
        return Ok(None);
    }
    Ok(Some(repo.blob(text.as_bytes()).map_err(git(root, "writing server.toml"))?))
}
