//! Who may change what in a pull request.
//!
//! The rule (documented in docs/workflows.md):
//! - admins (CODEOWNERS owners, plus `[github] admins` in server.toml, both
//!   as the base commit has them) may change anything;
//! - anyone else may add or edit exactly one player file, their own: one
//!   `players/<Name>.toml` whose `added_by` is their GitHub login;
//! - anyone else changing a privileged file (ops.toml, server.toml,
//!   mods.toml, mods.lock, config/, .github/, .mc-gitops/, CODEOWNERS), the bot's ledger
//!   (sessions/, costs/, COSTS.md, STATUS.md), a second player file,
//!   someone else's, or deleting one, is flagged.
//!
//! Deciding is pure ([`judge`]); reading the changed files from git is the
//! one I/O step ([`changed_files`]), done with git2 as `git diff
//! --name-only base...HEAD` would.

use std::collections::BTreeSet;
use std::path::Path;

use git2::Repository;

use crate::repo::diag::{Diagnostic, Severity};

/// The people's files only an admin may change; the same paths as the
/// example's `.github/CODEOWNERS` (a test holds the two together), plus the
/// other places GitHub reads a CODEOWNERS file from.
const PRIVILEGED_FILES: &[&str] = &["ops.toml", "server.toml", "mods.toml", "mods.lock", "CODEOWNERS", "docs/CODEOWNERS"];
/// `.mc-gitops/` holds the templates the server's files are rendered from
/// and the schemas editors check the files against.
const PRIVILEGED_DIRS: &[&str] = &["config/", ".github/", ".mc-gitops/"];

/// One path the pull request touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    pub path: String,
    pub deleted: bool,
    /// `added_by` of a player file as the PR leaves it (or as it was, if deleted).
    pub added_by: Option<String>,
}

/// `base...HEAD`: what HEAD changed since it forked from `base`.
pub fn changed_files(root: &Path, base: &str) -> Result<Vec<Changed>, git2::Error> {
    let repo = Repository::open(root)?;
    let head = repo.head()?.peel_to_commit()?;
    let base = repo.revparse_single(base)?.peel_to_commit()?;
    let fork = repo.find_commit(repo.merge_base(base.id(), head.id())?)?;
    let (old, new) = (fork.tree()?, head.tree()?);
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    let mut out = Vec::new();
    for d in diff.deltas() {
        let deleted = d.status() == git2::Delta::Deleted;
        let file = if deleted { d.old_file() } else { d.new_file() };
        let path = file.path().and_then(|p| p.to_str()).unwrap_or_default().to_string();
        // A blob over the loader's limit is refused there; it is not parsed here.
        let added_by = if path.starts_with("players/") {
            repo.find_blob(file.id())
                .ok()
                .filter(|b| b.size() as u64 <= crate::repo::files::PLAYER_FILE.bytes)
                .and_then(|b| added_by(&String::from_utf8_lossy(b.content())))
        } else {
            None
        };
        out.push(Changed { path, deleted, added_by });
    }
    Ok(out)
}

fn added_by(text: &str) -> Option<String> {
    let v: toml::Table = toml::from_str(text).ok()?;
    v.get("added_by")?.as_str().map(str::to_string)
}

/// Admins as the base commit says: every `@owner` in its CODEOWNERS (root,
/// .github/ or docs/) plus its server.toml's `[github] admins`. Read from
/// `base`, never from the PR's own files: a pull request that adds its
/// author to `admins` must not thereby become an admin's pull request.
pub fn admins_at(root: &Path, base: &str) -> Result<BTreeSet<String>, git2::Error> {
    let repo = Repository::open(root)?;
    let tree = repo.revparse_single(base)?.peel_to_commit()?.tree()?;
    let read = |rel: &str| -> Option<String> {
        let entry = tree.get_path(Path::new(rel)).ok()?;
        let blob = repo.find_blob(entry.id()).ok()?;
        Some(String::from_utf8_lossy(blob.content()).into_owned())
    };
    let mut out = BTreeSet::new();
    if let Some(server) = read("server.toml").and_then(|t| toml::from_str::<toml::Table>(&t).ok())
        && let Some(list) = server.get("github").and_then(|g| g.get("admins")).and_then(|a| a.as_array())
    {
        out.extend(list.iter().filter_map(|v| v.as_str()).map(str::to_ascii_lowercase));
    }
    for rel in ["CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS"] {
        out.extend(read(rel).iter().flat_map(|t| codeowners(t)));
    }
    Ok(out)
}

/// Admins as the checkout on disk says (a workflow_dispatch run checks out
/// main, which only admins change): `listed` (server.toml's `[github]
/// admins`) plus every CODEOWNERS owner, lower case. For `mc-gitops
/// console`, where there is no pull request to read a base from.
pub fn admins_in_checkout(root: &Path, listed: &[String]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = listed.iter().map(|a| a.to_ascii_lowercase()).collect();
    for rel in ["CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS"] {
        if let Ok(t) = std::fs::read_to_string(root.join(rel)) {
            out.extend(codeowners(&t));
        }
    }
    out
}

/// The `@login` owners of a CODEOWNERS file, lower case.
fn codeowners(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split_whitespace().skip(1))
        .filter_map(|o| o.strip_prefix('@'))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// A privileged file, anything below a privileged directory, or the
/// directory's own name (a pull request that turns `.mc-gitops` into a
/// link changes no path below it).
fn privileged(path: &str) -> bool {
    PRIVILEGED_FILES.contains(&path)
        || PRIVILEGED_DIRS
            .iter()
            .any(|d| path.starts_with(d) || path == d.trim_end_matches('/'))
}

/// Problems with who changed what; empty for an admin.
pub fn judge(changed: &[Changed], author: &str, admins: &BTreeSet<String>) -> Vec<Diagnostic> {
    if admins.contains(&author.to_ascii_lowercase()) {
        return Vec::new();
    }
    let flag = |file: &str, message: String, help: &str| Diagnostic {
        severity: Severity::Error,
        file: file.into(),
        line: 0,
        col: 0,
        message,
        help: Some(help.into()),
    };
    let who: Vec<&str> = admins.iter().map(String::as_str).collect();
    let admin_help = format!("only an admin ({}) may change it; ask one to make this change", who.join(", "));
    let mut out = Vec::new();
    let players: Vec<&Changed> = changed.iter().filter(|c| c.path.starts_with("players/")).collect();
    for c in changed {
        if privileged(&c.path) {
            out.push(flag(
                &c.path,
                format!("@{author} is not an admin and changed {}", c.path),
                &admin_help,
            ));
        } else if crate::gitback::bot_owned(&c.path) {
            out.push(flag(
                &c.path,
                format!("{} is written by the bot, not by pull requests", c.path),
                "leave the ledger to mc-gitops; drop this file from the pull request",
            ));
        }
    }
    if players.len() > 1 {
        for c in &players {
            out.push(flag(
                &c.path,
                format!(
                    "@{author} changed {} player files; a friend's pull request adds only their own",
                    players.len()
                ),
                "open one pull request per player, or ask an admin",
            ));
        }
        return out;
    }
    if let Some(c) = players.first() {
        let own = c.added_by.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(author));
        if c.deleted {
            if !own {
                out.push(flag(
                    &c.path,
                    format!("@{author} removed {}, someone else's player", c.path),
                    &admin_help,
                ));
            }
        } else if !own {
            out.push(flag(
                &c.path,
                format!(
                    "{} says added_by = {:?}, but this pull request is from @{author}",
                    c.path,
                    c.added_by.as_deref().unwrap_or("")
                ),
                &format!("a friend adds only their own player: set added_by = \"{author}\" in your own file"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(path: &str, added_by: Option<&str>) -> Changed {
        Changed {
            path: path.into(),
            deleted: false,
            added_by: added_by.map(str::to_string),
        }
    }

    #[test]
    fn codeowners_lists_owners_not_paths_or_comments() {
        let text = "# owners\n/ops.toml  @Grove-Admin @other # not @me\n/config/ @grove-admin\n";
        assert_eq!(codeowners(text), ["grove-admin", "other", "grove-admin"]);
    }

    fn admins() -> BTreeSet<String> {
        ["grove-admin".to_string()].into()
    }

    #[test]
    fn a_friend_adding_their_own_player_passes() {
        assert_eq!(
            judge(&[ch("players/Alex.toml", Some("Alex-Builds"))], "alex-builds", &admins()),
            vec![]
        );
    }

    #[test]
    fn a_friend_touching_ops_or_two_players_or_someone_elses_is_flagged() {
        let ops = judge(&[ch("ops.toml", None)], "alex", &admins());
        assert_eq!(ops.len(), 1);
        assert!(ops[0].message.contains("@alex is not an admin and changed ops.toml"));
        let two = judge(
            &[ch("players/A.toml", Some("alex")), ch("players/B.toml", Some("alex"))],
            "alex",
            &admins(),
        );
        assert_eq!(two.len(), 2);
        let other = judge(&[ch("players/B.toml", Some("bob"))], "alex", &admins());
        assert!(other[0].message.contains("added_by = \"bob\""), "{other:?}");
        let none = judge(&[ch("players/B.toml", None)], "alex", &admins());
        assert_eq!(none.len(), 1);
        assert!(!judge(&[ch(".github/workflows/x.yml", None)], "alex", &admins()).is_empty());
        assert!(!judge(&[ch("sessions/2026/11/x.toml", None)], "alex", &admins()).is_empty());
    }

    /// Regression: a friend's pull request could change `.mc-gitops/`
    /// (the templates the server's files are rendered from) unflagged.
    #[test]
    fn a_friend_changing_the_templates_is_flagged() {
        let t = judge(&[ch(".mc-gitops/templates/server.properties", None)], "alex", &admins());
        assert_eq!(t.len(), 1, "{t:?}");
        assert!(t[0].message.contains("is not an admin"), "{t:?}");
    }

    #[test]
    fn an_admin_may_change_anything() {
        let all = [ch("ops.toml", None), ch("players/A.toml", None), ch("players/B.toml", None)];
        assert_eq!(judge(&all, "Grove-Admin", &admins()), vec![]);
    }
}
