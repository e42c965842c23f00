//! `mc-gitops check` and `check --post-result`: the pull request check's
//! command wiring around `mc_gitops::check`.

use std::path::Path;

use anyhow::Context;

use mc_gitops::output;

use crate::{Done, runtime};

pub(crate) fn cmd_check(opts: &mc_gitops::check::Options, annotate: bool) -> anyhow::Result<Done> {
    use mc_gitops::check;
    let rt = runtime()?;
    let result = rt.block_on(check::run(opts))?;
    anstream::eprint!("{}", output::text::render_diagnostics(&result.problems));
    if annotate {
        result.problems.iter().for_each(|d| println!("{}", output::github_annotation(d)));
    }
    if check::write_step_summary(&result).context("cannot write $GITHUB_STEP_SUMMARY")? {
        eprintln!("check: wrote the step summary");
    }
    if let Some(path) = &opts.result_file {
        let text = serde_json::to_string_pretty(&result)? + "\n";
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("check: wrote {}", path.display());
    }
    post_comment(&rt, &result)?;
    if result.failed() {
        let n = result
            .problems
            .iter()
            .filter(|d| d.severity == mc_gitops::repo::diag::Severity::Error)
            .count();
        anyhow::bail!("{}: {n} problem(s) found", opts.root.display());
    }
    println!("{}: valid ({})", opts.root.display(), result.summary);
    Ok(Done::Ok)
}

/// The PR comment, when the run has a token; otherwise say why not.
fn post_comment(rt: &tokio::runtime::Runtime, result: &mc_gitops::check::CheckResult) -> anyhow::Result<()> {
    use mc_gitops::check;
    match check::comment_target(result.pr) {
        None if result.pr.is_some() => {
            eprintln!("check: no GITHUB_TOKEN (a fork's pull request?): the verdict is in the step summary and the result file")
        }
        None => {}
        Some(target) => match rt.block_on(check::github::upsert_comment(&target, &check::markdown(result)))? {
            check::github::Posted::Created(id) => eprintln!("check: commented on #{} ({id})", target.pr),
            check::github::Posted::Updated(id) => eprintln!("check: updated the comment on #{} ({id})", target.pr),
        },
    }
    Ok(())
}

/// The comment job's half: post a result file written by check.yml, on the
/// pull request the triggering run really belongs to. The file's `pr` is a
/// claim (a fork's modified check.yml can write any number); it must be an
/// open pull request whose head is the workflow_run's head commit in its
/// head repository, looked up through the API, or nothing is posted.
pub(crate) fn cmd_post_result(path: &Path) -> anyhow::Result<Done> {
    use mc_gitops::check;
    let result = check::read_result_file(path)?;
    let claimed = result.pr.unwrap_or_default();
    let run = check::origin::RunHead::from_env()?;
    let Some(target) = check::comment_target(Some(claimed)) else {
        anyhow::bail!("--post-result needs GITHUB_TOKEN and GITHUB_REPOSITORY");
    };
    let rt = runtime()?;
    let found = rt.block_on(check::github::pulls_with_head(&target, &run))?;
    check::origin::verify(claimed, &found, &target.repo, &run)?;
    eprintln!(
        "check: #{claimed} is the open pull request with head {} from {}",
        run.sha,
        mc_gitops::output::escape::value(&run.repo)
    );
    post_comment(&rt, &result)?;
    Ok(Done::Ok)
}
