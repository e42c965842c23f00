//! Runs that race or come from a friend: a Start press whose reconcile run is
//! coalesced while the bot pushes, and the pull-request check flagging a
//! friend's change to ops and commenting the plan.

use super::*;

fn checkout_with_a_racing_bot<'a>(bare: &'a Path, scratch: &'a Path) -> impl FnMut(&UsesCall<'_>) -> Result<(), String> + 'a {
    let mut checkout = checkout_from(bare);
    move |call| {
        checkout(call)?;
        let racer = scratch.join("racer");
        git(scratch, &["clone", "-q", bare.to_str().unwrap(), racer.to_str().unwrap()]);
        let hook = call.workspace.join(".git/hooks/pre-push");
        let marker = scratch.join("raced");
        std::fs::write(
            &hook,
            format!(
                "#!/bin/sh\nset -e\nunset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE\n[ -e '{marker}' ] && exit 0\ntouch '{marker}'\ncd '{racer}'\n\
                 echo 'the bot was here' > STATUS.md\n\
                 echo '# and so was the admin' >> server.toml\n\
                 git add -A\n\
                 git -c user.name='mc-gitops[bot]' -c user.email=bot@example.org commit -qm 'ledger'\n\
                 git push -q origin HEAD:main\n",
                marker = marker.display(),
                racer = racer.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut perm = std::fs::metadata(&hook).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&hook, perm).map_err(|e| e.to_string())?;
        Ok(())
    }
}

// Regression (issue 11, break 9): set-state ran inside the reconcile
// concurrency group, whose pending run the next scheduled run cancels, so
// a press queued behind a long apply was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_press_is_committed_even_when_its_reconcile_is_coalesced() {
    let wf = workflow("reconcile.yml");
    // GitHub cancels a pending job in a group when a newer one queues: the
    // press must be in no group, the apply in one that never cancels a
    // running apply, and the apply must read main, not the run's commit.
    assert!(wf.concurrency.is_none(), "a workflow-level group would hold the press too");
    let press = wf.job("press");
    assert!(press.concurrency.is_none(), "{press:?}");
    let reconcile = wf.job("reconcile");
    assert_eq!(reconcile.needs, ["press"]);
    assert_eq!(
        reconcile.concurrency.as_ref(),
        Some(&json!({"group": "mc-gitops-reconcile-${{ github.repository }}", "cancel-in-progress": false}))
    );
    let checkout = reconcile.steps.iter().find(|s| s.uses.is_some()).unwrap();
    assert!(checkout.with.contains(&("ref".into(), "main".into())), "{checkout:?}");

    // The press job alone (its reconcile cancelled or coalesced), racing a
    // bot push: the press still lands on main, on top of the bot's commit.
    let w = World::new().await;
    let r = Remote::new(&w, "stopped");
    let mut alone = wf.clone();
    alone.jobs.retain(|j| j.id == "press");
    let run = github_run(&w, &r, Event::dispatch(&[("action", "start"), ("region", "us")]));
    let scratch = tempfile::tempdir().unwrap();
    let report =
        tokio::task::block_in_place(|| common::actions::run(&alone, &run, &mut checkout_with_a_racing_bot(&r.bare, scratch.path())));
    assert!(report.ok(), "{}", report.log());
    assert!(scratch.path().join("raced").exists(), "the race was not run");
    let server = r.show("server.toml");
    assert!(
        server.contains("state = \"running\"") && server.contains("region = \"us\""),
        "{server}"
    );
    assert!(server.ends_with("# and so was the admin"), "the concurrent edit is kept: {server}");
    let log = r.log();
    assert_eq!(
        log[0], "grove-admin: start the server in us (button pressed by @grove-admin)",
        "{log:?}"
    );
    assert_eq!(
        log[1],
        "mc-gitops[bot]: ledger",
        "the bot's concurrent commit is kept: {log:?}\n{}",
        report.log()
    );
    assert_eq!(r.show("STATUS.md"), "the bot was here");
    assert_eq!(w.h.server_count(), 0, "the press job applies nothing");
}

/// `actions/checkout` of a pull request (its merge commit, detached, as
/// `refs/pull/N/merge` is), honouring `fetch-depth`; `upload-artifact`
/// copies the uploaded directory to `artifact`.
fn pr_actions<'a>(bare: &'a Path, artifact: &'a Path) -> impl FnMut(&UsesCall<'_>) -> Result<(), String> + 'a {
    let mut checkout = checkout_from(bare);
    move |call| {
        let action = call.step.uses.as_deref().unwrap_or_default();
        if action.starts_with("actions/upload-artifact@") {
            common::copy_dir(Path::new(&call.with["path"]), artifact);
            return Ok(());
        }
        checkout(call)?;
        let depth = call.with.get("fetch-depth").map_or("1", String::as_str);
        let mut fetch = vec!["fetch", "-q", "origin", "refs/heads/pr:refs/remotes/origin/pr"];
        let deepen = format!("--depth={depth}");
        if depth != "0" {
            fetch.push(&deepen);
        }
        git(call.workspace, &fetch);
        git(call.workspace, &["checkout", "-q", "--detach", "origin/pr"]);
        Ok(())
    }
}

fn pull_request(r: &Remote, author: &str) -> Event {
    let base = git(&r.bare, &["rev-parse", "main"]);
    let head = git(&r.bare, &["rev-parse", "pr"]);
    Event {
        payload: json!({
            "number": 7,
            "pull_request": {
                "number": 7,
                "user": { "login": author },
                "base": { "ref": "main", "sha": base },
                "head": { "ref": "pr", "sha": head },
            }
        }),
        ..Event::new("pull_request")
    }
}

// Regression (issue 11, break 8): check.yml ran check without --base and
// --author on a depth-1 checkout, so a friend's pull request could change
// ops.toml unflagged, and the comment carried no plan. Since issue 12 the
// artifact is check's own result file, which check-comment.yml posts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pull_request_check_flags_a_friend_changing_ops_and_comments_the_plan() {
    let w = World::new().await;
    let r = Remote::new(&w, "running");
    // The pull request: a friend makes themselves an operator.
    let seed = w.repo.path();
    git(seed, &["checkout", "-q", "-b", "pr"]);
    let ops = std::fs::read_to_string(seed.join("ops.toml")).unwrap();
    std::fs::write(seed.join("ops.toml"), format!("{ops}\n# alex was here\n")).unwrap();
    git(seed, &["commit", "-qam", "make me an op"]);
    git(seed, &["push", "-q", r.bare.to_str().unwrap(), "pr"]);

    let wf = workflow("check.yml");
    for (author, passes) in [("alex-builds", false), ("grove-admin", true)] {
        let artifact = tempfile::tempdir().unwrap();
        let mut run = Run::new(pull_request(&r, author), r.tmp.path());
        run.skip_steps = vec![INSTALL.into()];
        run.path = vec![Path::new(env!("CARGO_BIN_EXE_mc-gitops")).parent().unwrap().to_path_buf()];
        // No player is touched and every example player has a uuid: Mojang
        // is never asked; if it were, this address refuses at once.
        run.env = vec![("MOJANG_API_BASE_URL".into(), "http://127.0.0.1:9".into())];
        let report = tokio::task::block_in_place(|| run_workflow_with(&wf, &run, &mut pr_actions(&r.bare, artifact.path())));
        let job = report.job("check");
        assert_eq!(job.step("Check").outcome, Outcome::Success, "{author}: {}", report.log());
        assert_eq!(
            job.step("Upload the check-result artifact").outcome,
            Outcome::Success,
            "the result is uploaded whatever the verdict: {}",
            report.log()
        );
        let expected = if passes { Outcome::Success } else { Outcome::Failure };
        assert_eq!(job.result, expected, "{author}: {}", report.log());
        let result: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(artifact.path().join("check-result.json")).unwrap()).unwrap();
        assert_eq!(result["pr"], 7);
        let comment = mc_gitops::check::markdown(&serde_json::from_value(result).unwrap());
        // The mention is escaped in the comment (a zero-width space after @).
        let flagged = comment.contains("@\u{200b}alex-builds is not an admin and changed ops.toml");
        assert_eq!(flagged, !passes, "{author}: {comment}");
        assert!(
            comment.contains("<summary>Plan</summary>") && comment.contains("+ hetzner server grove-mc"),
            "the comment carries the plan: {comment}"
        );
    }
}
