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

pub(crate) fn cmd_post_result(path: &Path) -> anyhow::Result<Done> {
    use mc_gitops::check;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let result: check::CheckResult =
        serde_json::from_str(&text).with_context(|| format!("{} is not a check-result file", path.display()))?;
    if result.pr.is_none() {
        anyhow::bail!("{} names no pull request (run check with --pr N)", path.display());
    }
    if check::comment_target(result.pr).is_none() {
        anyhow::bail!("--post-result needs GITHUB_TOKEN and GITHUB_REPOSITORY");
    }
    post_comment(&runtime()?, &result)?;
    Ok(Done::Ok)
}
