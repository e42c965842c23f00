//! The security rules every shipped workflow keeps (issue 12, item 8),
//! checked over the parsed YAML of the project's workflows and the example
//! state repo's (which `mc-gitops init` copies): actions pinned to a commit,
//! no expression interpolated into a script, explicit least permissions per
//! job, and no job that holds a secret or a write token running a pull
//! request's code. Each rule has a companion test feeding it a bad workflow,
//! so the rule can fail.

use std::path::{Path, PathBuf};

mod common;
use common::actions::Workflow;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> Vec<PathBuf> {
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
    assert!(out.len() >= 5, "{out:?}");
    out
}

/// `uses:` lines not pinned as `owner/repo[/path]@<40 hex> # <tag>`.
fn unpinned(text: &str) -> Vec<String> {
    let mut bad = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start().trim_start_matches("- ");
        let Some(rest) = t.strip_prefix("uses:") else { continue };
        let (action, comment) = match rest.split_once(" #") {
            Some((a, c)) => (a.trim(), c.trim()),
            None => (rest.trim(), ""),
        };
        // Local actions (./path) and docker:// images are not tags.
        if action.starts_with("./") {
            continue;
        }
        let sha = action.rsplit_once('@').map(|(_, r)| r).unwrap_or_default();
        let pinned = sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !pinned || comment.is_empty() {
            bad.push(format!("line {}: {}", i + 1, l.trim()));
        }
    }
    bad
}

/// Scripts that interpolate `${{ }}` (script injection: a branch name, a
/// login or a title would be code). Values reach a script through `env:`.
fn interpolating_scripts(wf: &Workflow) -> Vec<String> {
    let mut bad = Vec::new();
    for job in &wf.jobs {
        for s in &job.steps {
            if s.run.as_deref().is_some_and(|r| r.contains("${{")) {
                bad.push(format!("{}: job {} step {:?}", wf.file, job.id, s.name));
            }
        }
    }
    bad
}

/// The write scopes a job may hold, and why; every other scope is `read`
/// or absent.
const WRITES: &[(&str, &str, &str)] = &[
    ("reconcile.yml", "press", "contents"),            // commits the Start/Stop press
    ("reconcile.yml", "reconcile", "contents"),        // commits the ledger back
    ("reconcile.yml", "pages", "pages"),               // deploys the status page
    ("reconcile.yml", "pages", "id-token"),            // deploy-pages' OIDC proof of origin
    ("check-comment.yml", "comment", "pull-requests"), // the PR comment
    ("release.yml", "publish", "contents"),            // creates the release
];

/// Jobs without explicit permissions, or holding more than [`WRITES`] allows.
fn excess_permissions(wf: &Workflow, top: &serde_json::Value) -> Vec<String> {
    let mut bad = Vec::new();
    if !(top.as_object().is_some_and(|m| m.is_empty()) || *top == serde_json::json!({"contents": "read"})) {
        bad.push(format!("{}: top-level permissions {top} (want {{}})", wf.file));
    }
    for job in &wf.jobs {
        let Some(perms) = job.permissions.as_ref().and_then(|p| p.as_object()) else {
            bad.push(format!("{}: job {} has no explicit permissions:", wf.file, job.id));
            continue;
        };
        for (scope, level) in perms {
            let allowed = WRITES.contains(&(wf.file.as_str(), job.id.as_str(), scope.as_str()));
            match level.as_str() {
                Some("read") | Some("none") => {}
                Some("write") if allowed => {}
                _ => bad.push(format!("{}: job {} has {scope}: {level}", wf.file, job.id)),
            }
        }
    }
    bad
}

/// The events that start `wf` (`on:` as a name, a list or a map).
fn triggered_by(wf: &Workflow, event: &str) -> bool {
    match &wf.on {
        serde_json::Value::String(s) => s == event,
        serde_json::Value::Array(a) => a.iter().any(|e| e == event),
        serde_json::Value::Object(m) => m.contains_key(event),
        _ => false,
    }
}

/// Jobs that hold a secret or a write token and check out (or could run)
/// a pull request's code; and triggers that run with the base's token on a
/// fork's event.
fn untrusted_code_with_secrets(wf: &Workflow) -> Vec<String> {
    let mut bad = Vec::new();
    if triggered_by(wf, "pull_request_target") {
        bad.push(format!("{}: pull_request_target runs with the base repository's token", wf.file));
    }
    let on_workflow_run = triggered_by(wf, "workflow_run");
    // On pull_request, checkout's default ref is the pull request's merge commit.
    let on_pull_request = triggered_by(wf, "pull_request");
    for job in &wf.jobs {
        let values = job
            .steps
            .iter()
            .flat_map(|s| s.env.iter().chain(s.with.iter()))
            .chain(job.env.iter())
            .map(|(_, v)| v.as_str());
        let holds_secret = values.clone().any(|v| v.contains("secrets.") || v.contains("github.token"));
        let writes = job
            .permissions
            .as_ref()
            .and_then(|p| p.as_object())
            .is_some_and(|m| m.values().any(|v| v == "write"));
        for s in &job.steps {
            let Some(uses) = &s.uses else { continue };
            if !uses.starts_with("actions/checkout@") {
                continue;
            }
            let reference = s.with.iter().find(|(k, _)| k == "ref").map(|(_, v)| v.as_str()).unwrap_or("");
            let pr_head = ["pull_request.head", "workflow_run.head", "github.head_ref", "refs/pull/"]
                .iter()
                .any(|p| reference.contains(p))
                || (on_pull_request && reference.is_empty());
            if on_workflow_run {
                bad.push(format!("{}: job {} checks out code in a workflow_run job", wf.file, job.id));
            } else if (holds_secret || writes) && pr_head {
                bad.push(format!(
                    "{}: job {} holds a secret or a write token and checks out {reference}",
                    wf.file, job.id
                ));
            }
        }
    }
    bad
}

fn top_permissions(path: &Path) -> serde_json::Value {
    let y: serde_norway::Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::to_value(y).unwrap()["permissions"].clone()
}

#[test]
fn every_shipped_action_is_pinned_to_a_commit_with_its_tag_beside_it() {
    for f in shipped() {
        let bad = unpinned(&std::fs::read_to_string(&f).unwrap());
        assert!(
            bad.is_empty(),
            "{}: pin to a full commit sha with `# vX.Y.Z`: {bad:#?}",
            f.display()
        );
        // The runner in tests/common/actions.rs reads the pinned form too.
        for job in Workflow::load(&f).jobs {
            for s in job.steps.iter().filter_map(|s| s.uses.as_deref()) {
                assert!(s.split_once('@').is_some_and(|(_, sha)| sha.len() == 40), "{s}");
            }
        }
    }
}

#[test]
fn the_pinning_rule_catches_a_tag_a_branch_and_a_missing_comment() {
    let sha = "fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09";
    assert!(unpinned(&format!("    - uses: actions/checkout@{sha} # v5.1.0\n")).is_empty());
    for bad in [
        "    - uses: actions/checkout@v5\n".to_string(),
        "      uses: dtolnay/rust-toolchain@stable\n".to_string(),
        format!("    - uses: actions/checkout@{sha}\n"),
        format!("    - uses: actions/checkout@{} # v5\n", &sha[..39]),
    ] {
        assert_eq!(unpinned(&bad).len(), 1, "{bad}");
    }
}

#[test]
fn no_shipped_script_interpolates_an_expression() {
    for f in shipped() {
        let bad = interpolating_scripts(&Workflow::load(&f));
        assert!(bad.is_empty(), "move these values into env: {bad:#?}");
    }
}

#[test]
fn every_shipped_job_has_explicit_least_permissions() {
    for f in shipped() {
        let bad = excess_permissions(&Workflow::load(&f), &top_permissions(&f));
        assert!(bad.is_empty(), "{bad:#?}");
    }
}

#[test]
fn no_shipped_job_with_a_secret_runs_pull_request_code() {
    for f in shipped() {
        let bad = untrusted_code_with_secrets(&Workflow::load(&f));
        assert!(bad.is_empty(), "{bad:#?}");
    }
}

/// A workflow with every mistake the rules above exist for.
const BAD: &str = r#"
name: bad
on:
  pull_request_target:
  workflow_run:
    workflows: [check]
    types: [completed]
permissions: write-all
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v5
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
        env:
          TOKEN: ${{ secrets.HCLOUD_TOKEN }}
  deploy:
    runs-on: ubuntu-24.04
    permissions:
      contents: write
    steps:
      - run: echo "${{ inputs.region }}"
"#;

/// A pull request's default checkout in a job that holds a secret.
const PR_WITH_SECRET: &str = r#"
name: pr
on: pull_request
permissions: {}
jobs:
  test:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0
      - run: make test
        env:
          TOKEN: ${{ secrets.HCLOUD_TOKEN }}
"#;

#[test]
fn the_rules_catch_a_workflow_that_breaks_each_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yml");
    std::fs::write(&path, BAD).unwrap();
    let wf = Workflow::load(&path);
    assert_eq!(unpinned(BAD).len(), 1);
    assert_eq!(interpolating_scripts(&wf).len(), 2, "{:?}", interpolating_scripts(&wf));
    let perms = excess_permissions(&wf, &top_permissions(&path));
    assert_eq!(perms.len(), 3, "top-level, build without permissions, deploy's write: {perms:#?}");
    let code = untrusted_code_with_secrets(&wf);
    assert!(code.iter().any(|b| b.contains("pull_request_target")), "{code:#?}");
    assert!(code.iter().any(|b| b.contains("workflow_run job")), "{code:#?}");
    let pr = dir.path().join("pr.yml");
    std::fs::write(&pr, PR_WITH_SECRET).unwrap();
    let code = untrusted_code_with_secrets(&Workflow::load(&pr));
    assert_eq!(code.len(), 1, "{code:#?}");
}
