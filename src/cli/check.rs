//! `mc-gitops check` and `check --post-result`: the pull request check's
//! command wiring around `mc_gitops::check`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use mc_gitops::output;

use mc_gitops::inputs::{Inputs, Var};

use super::{Done, RepoArg, runtime};

#[derive(clap::Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    repo: RepoArg,
    /// Print GitHub Actions annotations (default: when GITHUB_ACTIONS=true).
    #[arg(long)]
    annotations: bool,
    /// Write players' UUIDs looked up at Mojang into their files.
    #[arg(long, visible_alias = "write-uuids")]
    fix: bool,
    /// The pull request's base (a ref or commit); the PR is base...HEAD.
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    /// The pull request author's GitHub login.
    #[arg(long, value_name = "LOGIN")]
    author: Option<String>,
    /// The pull request number, for the comment and the result file.
    #[arg(long, value_name = "N")]
    pr: Option<u64>,
    /// Write the verdict as JSON (the check-result artifact).
    #[arg(long, value_name = "PATH")]
    result_file: Option<PathBuf>,
    /// Post a result file's verdict as the PR comment (in a workflow_run job, on the run's pull request only); checks no repo.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["fix", "base", "author", "result_file"])]
    post_result: Option<PathBuf>,
}

impl CheckArgs {
    pub(crate) fn run(self, inputs: &Inputs) -> anyhow::Result<Done> {
        let CheckArgs {
            repo,
            annotations,
            fix,
            base,
            author,
            pr,
            result_file,
            post_result,
        } = self;
        let annotate = annotations || inputs.in_actions();
        if let Some(path) = post_result {
            return post_result_file(inputs, &path);
        }
        let opts = mc_gitops::check::Options {
            root: repo.repo,
            fix,
            base,
            author,
            pr,
            result_file,
            mojang_base: inputs.var(Var::MojangApiBaseUrl),
        };
        check(inputs, &opts, annotate)
    }
}

fn check(inputs: &Inputs, opts: &mc_gitops::check::Options, annotate: bool) -> anyhow::Result<Done> {
    use mc_gitops::check;
    let rt = runtime()?;
    let result = rt.block_on(check::run(opts))?;
    anstream::eprint!("{}", output::text::render_diagnostics(&result.problems));
    if annotate {
        result.problems.iter().for_each(|d| println!("{}", output::github_annotation(d)));
    }
    if check::write_step_summary(inputs, &result).context("cannot write $GITHUB_STEP_SUMMARY")? {
        eprintln!("check: wrote the step summary");
    }
    if let Some(path) = &opts.result_file {
        let text = serde_json::to_string_pretty(&result)? + "\n";
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("check: wrote {}", path.display());
    }
    post_comment(inputs, &rt, &result)?;
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
fn post_comment(inputs: &Inputs, rt: &tokio::runtime::Runtime, result: &mc_gitops::check::CheckResult) -> anyhow::Result<()> {
    use mc_gitops::check;
    match check::comment_target(inputs, result.pr) {
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
fn post_result_file(inputs: &Inputs, path: &Path) -> anyhow::Result<Done> {
    use mc_gitops::check;
    let result = check::read_result_file(path)?;
    let claimed = result.pr.unwrap_or_default();
    let run = check::origin::RunHead::from_inputs(inputs)?;
    let Some(target) = check::comment_target(inputs, Some(claimed)) else {
        anyhow::bail!("--post-result needs GITHUB_TOKEN and GITHUB_REPOSITORY");
    };
    let rt = runtime()?;
    let found = rt.block_on(check::github::pulls_with_head(&target, &run))?;
    check::origin::verify(claimed, &found, &target.repo, &run)?;
    eprintln!(
        "check: #{claimed} is the open pull request with head {} from {}",
        run.sha,
        mc_gitops::escape::value(&run.repo)
    );
    post_comment(inputs, &rt, &result)?;
    Ok(Done::Ok)
}
