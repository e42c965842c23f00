//! The state repo's own checks: it passes `check` (the same code path the
//! pull request check runs, without a base), and its workflows pin the
//! release they download by a real sha256.

use std::path::Path;

use super::Check;
use crate::check;
use crate::repo::{self, LoadError, diag::Severity};

/// The env key the workflows pin the release's hash in (see
/// `state-repo-example/.github/workflows/reconcile.yml`, and `init`, which
/// edits the version line beside it the same way).
pub(super) const PIN_KEY: &str = "MC_GITOPS_SHA256";

/// `check` on the repo; the loaded repo when it loads at all (the cloud
/// checks need its regions, zone and bucket even if, say, a player file
/// has a problem).
pub(super) async fn check_repo(root: &Path, mojang_base: Option<&str>, out: &mut Vec<Check>) -> Option<repo::Loaded> {
    let opts = check::Options {
        root: root.to_path_buf(),
        fix: false,
        base: None,
        author: None,
        pr: None,
        result_file: None,
        mojang_base: mojang_base.map(str::to_string),
    };
    let fix_cmd = format!("run `mc-gitops check --repo {}` and fix each problem it lists", root.display());
    match check::run(&opts).await {
        Err(e) => out.push(Check::fail("repo.check", super::why(&e), fix_cmd.clone())),
        Ok(r) if r.failed() => {
            let errors: Vec<_> = r.problems.iter().filter(|d| d.severity == Severity::Error).collect();
            let first = errors
                .first()
                .map(|d| format!("; first: {}:{}: {}", d.file, d.line, d.message))
                .unwrap_or_default();
            out.push(Check::fail(
                "repo.check",
                format!("{} problem(s) in the repo{first}", errors.len()),
                fix_cmd.clone(),
            ));
        }
        Ok(r) => out.push(Check::pass("repo.check", format!("the repo passes check ({})", r.summary))),
    }
    match repo::load(root) {
        Ok(l) => Some(l),
        Err(LoadError::Invalid(_)) => None,
        Err(e) => {
            if out.iter().all(|c| c.id != "repo.check" || c.status != super::Status::Fail) {
                out.push(Check::fail("repo.load", super::why(&e), fix_cmd));
            }
            None
        }
    }
}

/// What a workflow file pins.
#[derive(Debug, PartialEq, Eq)]
enum Pin {
    Missing,
    Zeros,
    Malformed(String),
    Hash(String),
}

/// The `MC_GITOPS_SHA256: "<hex>"` line, as the shipped workflows write it
/// (a top-level `env:` entry, quoted or not, maybe with a comment).
fn pin_in(text: &str) -> Pin {
    let Some(value) = text.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix(PIN_KEY)?.trim_start().strip_prefix(':')?;
        let v = rest.split(" #").next().unwrap_or_default().trim();
        Some(v.trim_matches(|c| c == '"' || c == '\'').to_string())
    }) else {
        return Pin::Missing;
    };
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Pin::Malformed(value);
    }
    if value.bytes().all(|b| b == b'0') {
        return Pin::Zeros;
    }
    Pin::Hash(value)
}

/// Every workflow in `.github/workflows/` that installs mc-gitops pins a
/// real hash; the all-zero placeholder the example ships fails.
pub(super) fn release_pin(root: &Path) -> Check {
    const ID: &str = "release.pin";
    let fix =
        format!("copy the sha256 from the release's .sha256 file into {PIN_KEY} in each workflow (docs/setup.md, \"Pin the release\")");
    let dir = root.join(".github/workflows");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Check::fail(
            ID,
            ".github/workflows/ is missing: nothing runs the bot",
            "run `mc-gitops init` or copy the example's workflows",
        );
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    let mut bad = Vec::new();
    let mut pinned = Vec::new();
    for f in &files {
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(f) else {
            bad.push(format!("{name} is unreadable"));
            continue;
        };
        if !text.contains("mc-gitops") {
            continue;
        }
        match pin_in(&text) {
            Pin::Missing => bad.push(format!("{name} has no {PIN_KEY}")),
            Pin::Zeros => bad.push(format!("{name} pins the all-zero placeholder")),
            Pin::Malformed(v) => bad.push(format!(
                "{name}: {PIN_KEY} {:?} is not 64 lowercase hex digits",
                crate::escape::value(&v)
            )),
            Pin::Hash(h) => pinned.push((name, h)),
        }
    }
    if !bad.is_empty() {
        return Check::fail(ID, bad.join("; "), fix);
    }
    if pinned.is_empty() {
        return Check::fail(
            ID,
            "no workflow in .github/workflows/ installs mc-gitops",
            "copy reconcile.yml from the example repo",
        );
    }
    let mut hashes: Vec<&str> = pinned.iter().map(|(_, h)| h.as_str()).collect();
    hashes.dedup();
    if hashes.len() > 1 {
        let list: Vec<String> = pinned.iter().map(|(n, h)| format!("{n} {}…", &h[..12])).collect();
        return Check::warn(
            ID,
            format!("the workflows pin different releases: {}", list.join(", ")),
            format!("use the same {PIN_KEY} (and MC_GITOPS_VERSION) in every workflow"),
        );
    }
    let names: Vec<&str> = pinned.iter().map(|(n, _)| n.as_str()).collect();
    Check::pass(ID, format!("{} pin the release by sha256 {}…", names.join(", "), &hashes[0][..12]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_is_read_as_the_shipped_workflows_write_it() {
        let h = "ab".repeat(32);
        assert_eq!(pin_in(&format!("env:\n  {PIN_KEY}: \"{h}\"\n")), Pin::Hash(h.clone()));
        assert_eq!(pin_in(&format!("env:\n  {PIN_KEY}: {h} # v0.1.0\n")), Pin::Hash(h.clone()));
        assert_eq!(pin_in(&format!("  {PIN_KEY}: '{}'\n", "0".repeat(64))), Pin::Zeros);
        assert_eq!(pin_in("env:\n  MC_GITOPS_VERSION: \"0.1.0\"\n"), Pin::Missing);
        assert_eq!(
            pin_in(&format!("  {PIN_KEY}: \"{}\"\n", "AB".repeat(32))),
            Pin::Malformed("AB".repeat(32))
        );
        // The shell's use of the variable is not the pin.
        assert_eq!(pin_in("run: echo \"${MC_GITOPS_SHA256}  file\"\n"), Pin::Missing);
    }
}
