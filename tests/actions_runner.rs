//! The test runner for GitHub Actions workflows (`tests/common/actions.rs`)
//! behaves as GitHub documents it, so the tests that run the state repo's
//! workflows through it prove something about GitHub, not about the runner.

use std::path::Path;
use std::process::Command;

mod common;
use common::actions::{Event, Outcome, Run, Workflow, checkout_from, eval, run};
use serde_json::{Value, json};

const WORKFLOW: &str = r#"
name: demo
on:
  workflow_dispatch:
    inputs:
      action:
        type: choice
        options: [start, stop, reconcile]
        default: reconcile
env:
  TOP: top-${{ github.event_name }}
jobs:
  press:
    if: github.event_name == 'workflow_dispatch' && inputs.action != 'reconcile'
    runs-on: ubuntu-24.04
    steps:
      - run: echo "pressed $ACTION" >> "$GITHUB_STEP_SUMMARY"
        env:
          ACTION: ${{ inputs.action }}
  work:
    needs: press
    if: ${{ !cancelled() && needs.press.result != 'failure' }}
    runs-on: ubuntu-24.04
    concurrency:
      group: demo-${{ github.repository }}
      cancel-in-progress: false
    steps:
      - uses: actions/checkout@v5
        with:
          ref: main
      - name: Write
        id: write
        run: |
          test -f README
          echo "value=$(cat README)" >> "$GITHUB_OUTPUT"
          { echo 'MULTI<<EOF'; echo one; echo two; echo EOF; } >> "$GITHUB_ENV"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
          mkdir -p "$RUNNER_TEMP/bin"; printf '#!/bin/sh\necho tool-ran\n' > "$RUNNER_TEMP/bin/tool"; chmod +x "$RUNNER_TEMP/bin/tool"
      - name: Read
        env:
          FROM_STEP: ${{ steps.write.outputs.value }}
        run: |
          echo "top=$TOP from=$FROM_STEP multi=$(echo "$MULTI" | tr '\n' ,) token=${GITHUB_TOKEN:-unset} actor=$GITHUB_ACTOR"
          tool
      - name: Fails
        run: false
      - name: After failure
        run: echo never
      - name: Cleanup
        if: always()
        run: echo cleaned
"#;

fn remote(dir: &Path) -> std::path::PathBuf {
    let work = dir.join("seed");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("README"), "from-the-remote").unwrap();
    let git = |args: &[&str], cwd: &Path| {
        let out = Command::new("git").args(args).current_dir(cwd).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q", "-b", "main"], &work);
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "add", "."], &work);
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "seed"], &work);
    let bare = dir.join("remote.git");
    git(&["clone", "-q", "--bare", work.to_str().unwrap(), bare.to_str().unwrap()], dir);
    bare
}

#[test]
fn the_runner_follows_githubs_rules_for_conditions_contexts_and_file_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let wf_path = tmp.path().join("demo.yml");
    std::fs::write(&wf_path, WORKFLOW).unwrap();
    let wf = Workflow::load(&wf_path);
    assert_eq!(wf.job("work").concurrency.as_ref().unwrap()["cancel-in-progress"], false);
    let bare = remote(tmp.path());

    // A dispatch with no inputs takes the default (reconcile): press is
    // skipped, work still runs because its `if` names a status function.
    let r = run(&wf, &Run::new(Event::dispatch(&[]), tmp.path()), &mut checkout_from(&bare));
    assert_eq!(r.job("press").result, Outcome::Skipped, "{}", r.log());
    let work = r.job("work");
    assert_eq!(work.result, Outcome::Failure, "{}", r.log());
    let read = work.step("Read");
    assert!(
        read.stdout
            .contains("top=top-workflow_dispatch from=from-the-remote multi=one,two, token=unset actor=grove-admin"),
        "{}",
        r.log()
    );
    assert!(read.stdout.contains("tool-ran"), "GITHUB_PATH is honoured: {}", r.log());
    assert_eq!(work.step("Fails").exit, Some(1), "{}", r.log());
    assert_eq!(work.step("After failure").outcome, Outcome::Skipped);
    assert_eq!(work.step("Cleanup").outcome, Outcome::Success);
    assert!(!r.ok());

    // An explicit start runs press, whose summary is kept.
    let r = run(
        &wf,
        &Run::new(Event::dispatch(&[("action", "start")]), tmp.path()),
        &mut checkout_from(&bare),
    );
    assert_eq!(r.job("press").result, Outcome::Success, "{}", r.log());
    assert_eq!(r.job("press").summary, "pressed start\n");

    // Steps can be skipped by name; a schedule event has no inputs.
    let mut sched = Run::new(Event::new("schedule"), tmp.path());
    sched.skip_steps = vec!["Fails".into()];
    let r = run(&wf, &sched, &mut checkout_from(&bare));
    assert_eq!(r.job("press").result, Outcome::Skipped);
    assert_eq!(r.job("work").result, Outcome::Success, "{}", r.log());
    assert!(r.job("work").step("Read").stdout.contains("top=top-schedule"));
}

fn ev(src: &str) -> Value {
    let ctx = json!({
        "github": { "event_name": "workflow_dispatch", "event": { "inputs": { "action": "Start" } } },
        "inputs": { "action": "start", "n": "3" },
        "needs": { "press": { "result": "skipped" } },
    });
    eval(src, &ctx, &|f| f == "success" || f == "always")
}

#[test]
fn expressions_follow_the_documented_rules() {
    assert_eq!(
        ev("github.event_name == 'workflow_dispatch' && inputs.action != 'reconcile'"),
        json!(true)
    );
    assert_eq!(ev("inputs.action == 'START'"), json!(true), "strings compare without case");
    assert_eq!(ev("inputs.n == 3"), json!(true), "mixed types compare as numbers");
    assert_eq!(ev("inputs.missing || 'default'"), json!("default"));
    assert_eq!(ev("!cancelled() && needs.press.result != 'failure'"), json!(true));
    assert_eq!(ev("github.event.inputs['action']"), json!("Start"));
    assert_eq!(ev("contains(fromJSON('[\"a\",\"b\"]'), 'B')"), json!(true));
    assert_eq!(ev("format('{0}-{1}', 'a', inputs.n)"), json!("a-3"));
    assert_eq!(ev("'it''s'"), json!("it's"));
}
