//! The `mc-gitops` command. Parses arguments, runs one subcommand, and maps
//! every outcome to an exit code in one place: 0 nothing to do (or success),
//! 2 the plan has changes, 1 an error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use mc_gitops::repo::{self, LoadError};
use mc_gitops::{connect, observe, output, plan};

const ABOUT: &str = "GitOps for an on-demand Minecraft server: a git repo in, a Hetzner VPS, Cloudflare DNS and R2 snapshots out.";

#[derive(Parser)]
#[command(name = "mc-gitops", version, about = ABOUT, long_about = None)]
struct Cli {
    /// When to colour output.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Show what apply would change, without changing anything.
    ///
    /// Loads the state repo, observes what is true now, and prints the plan.
    /// Without cloud credentials it observes from the repo's own ledger
    /// (sessions/) and calls nothing outside.
    ///
    /// Exit status: 0 nothing to do, 2 changes planned, 1 error.
    #[command(after_help = "Examples:\n  mc-gitops plan --repo state-repo-example\n  mc-gitops plan --json | jq '.changes[].resource'")]
    Plan {
        #[command(flatten)]
        repo: RepoArg,
        /// Print the plan as JSON (shape documented in docs/plan-json.md).
        #[arg(long)]
        json: bool,
        /// Plan as if it were this time (RFC 3339), for reproducing a plan.
        #[arg(long, value_name = "TIME", env = "MC_GITOPS_NOW")]
        now: Option<DateTime<Utc>>,
    },
    /// Plan, then carry the plan out against Hetzner, Cloudflare and storage.
    ///
    /// Needs HCLOUD_TOKEN and CLOUDFLARE_API_TOKEN (HCLOUD_ENDPOINT and
    /// CLOUDFLARE_API_BASE_URL override the API addresses). Each change is
    /// one attempt that checks its precondition first, so running apply
    /// again after any failure converges. Session files and server.toml are
    /// written into the repo checkout.
    ///
    /// With --commit the files it wrote are committed as the bot
    /// (mc-gitops[bot], or MC_GITOPS_BOT_NAME / MC_GITOPS_BOT_EMAIL); with
    /// --push too, pushed to origin with GITHUB_TOKEN, rebasing the bot's
    /// commit onto a remote that moved (see docs/commit-back.md).
    ///
    /// Exit status: 0 applied (or nothing to do, or waiting for the agent), 1 error.
    #[command(
        after_help = "Examples:\n  HCLOUD_TOKEN=… CLOUDFLARE_API_TOKEN=… mc-gitops apply --repo .\n  mc-gitops apply --commit --push\n  mc-gitops apply --json > report.json"
    )]
    Apply {
        #[command(flatten)]
        repo: RepoArg,
        /// Print the plan and the report as JSON.
        #[arg(long)]
        json: bool,
        /// Commit the files apply wrote (and any summaries) as the bot.
        #[arg(long)]
        commit: bool,
        /// Push the commit (needs --commit); GITHUB_TOKEN authenticates https remotes.
        #[arg(long, requires = "commit")]
        push: bool,
        /// The remote to push to.
        #[arg(long, value_name = "NAME", default_value = "origin")]
        remote: String,
        /// The remote branch (default: the branch checked out).
        #[arg(long, value_name = "BRANCH")]
        branch: Option<String>,
        /// Apply as if it were this time (RFC 3339); for tests.
        #[arg(long, value_name = "TIME", env = "MC_GITOPS_NOW", hide = true)]
        now: Option<DateTime<Utc>>,
    },
    /// Validate a state repo (or a pull request) and report every problem.
    ///
    /// Every problem has file:line:col; inside GitHub Actions
    /// (GITHUB_ACTIONS=true) each is also an annotation on the PR's line.
    /// Players without a uuid (and players the PR touched) are looked up at
    /// Mojang (MOJANG_API_BASE_URL overrides the address); --fix writes the
    /// uuid into the player file. With --base and --author, changes a
    /// non-admin may not make are flagged (docs/workflows.md has the rule).
    /// The verdict goes to $GITHUB_STEP_SUMMARY, to --result-file, and, with
    /// GITHUB_TOKEN, GITHUB_REPOSITORY and --pr, into one PR comment that
    /// later runs update. --post-result posts a result file written by a
    /// run without a token (a fork's PR), without reading any repo.
    ///
    /// Exit status: 0 valid, 1 problems or error.
    #[command(
        after_help = "Examples:\n  mc-gitops check --repo .\n  mc-gitops check --fix\n  mc-gitops check --base origin/main --author alex-gh --pr 7 --result-file check-result.json\n  mc-gitops check --post-result check-result.json"
    )]
    Check {
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
        /// Post a result file's verdict as the PR comment; checks nothing.
        #[arg(long, value_name = "PATH", conflicts_with_all = ["fix", "base", "author", "result_file"])]
        post_result: Option<PathBuf>,
    },
    /// Resolve mods.toml against Modrinth into mods.lock, update it, or export a modpack.
    ///
    /// MODRINTH_API_BASE_URL and FABRIC_META_BASE_URL override the API addresses.
    #[command(
        after_help = "Examples:\n  mc-gitops mods lock --repo .\n  mc-gitops mods update lithium\n  mc-gitops mods export --mrpack grove.mrpack"
    )]
    Mods {
        #[command(flatten)]
        repo: RepoArg,
        #[command(subcommand)]
        command: mc_gitops::modrinth::cli::ModsCommand,
    },
    /// Print or write the JSON Schemas (draft-07) of the state files.
    ///
    /// Editors with Taplo / Even Better TOML validate while typing through
    /// the `#:schema ./.mc-gitops/schema/server.json` line at the top of
    /// each file.
    #[command(after_help = "Examples:\n  mc-gitops schema --out .mc-gitops/schema\n  mc-gitops schema server.json")]
    Schema {
        /// Write every schema into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print only this schema (server.json, player.json, ops.json, mods.json, mods-lock.json, session.json).
        name: Option<String>,
    },
}

#[derive(clap::Args)]
struct RepoArg {
    /// The state repo's checkout.
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo: PathBuf,
}

/// What a command tells `main` about how it ended.
enum Done {
    Ok,
    Changes,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.color {
        Color::Auto => anstream::ColorChoice::Auto,
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
    }
    .write_global();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MC_GITOPS_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command) {
        Ok(Done::Ok) => ExitCode::SUCCESS,
        Ok(Done::Changes) => ExitCode::from(2),
        Err(e) => {
            report(&e);
            ExitCode::from(1)
        }
    }
}

fn report(e: &anyhow::Error) {
    if let Some(LoadError::Invalid(diags)) = e.downcast_ref::<LoadError>() {
        anstream::eprint!("{}", output::text::render_diagnostics(diags));
    }
    anstream::eprintln!("error: {e}");
    for cause in e.chain().skip(1) {
        anstream::eprintln!("  caused by: {cause}");
    }
    if let Some(LoadError::NotARepo(_)) = e.downcast_ref::<LoadError>() {
        anstream::eprintln!("  hint: pass --repo DIR pointing at a checkout of your state repo");
    }
}

fn run(cmd: Command) -> anyhow::Result<Done> {
    match cmd {
        Command::Plan { repo, json, now } => cmd_plan(&repo.repo, json, now.unwrap_or_else(Utc::now)),
        Command::Apply {
            repo,
            json,
            now,
            commit,
            push,
            remote,
            branch,
        } => {
            let push = push.then(|| mc_gitops::gitback::PushTarget {
                remote,
                branch,
                ..mc_gitops::gitback::PushTarget::from_env()
            });
            cmd_apply(&repo.repo, json, now.unwrap_or_else(Utc::now), commit, push)
        }
        Command::Check {
            repo,
            annotations,
            fix,
            base,
            author,
            pr,
            result_file,
            post_result,
        } => {
            let annotate = annotations || std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
            if let Some(path) = post_result {
                return cmd_post_result(&path);
            }
            let opts = mc_gitops::check::Options {
                root: repo.repo,
                fix,
                base,
                author,
                pr,
                result_file,
            };
            cmd_check(&opts, annotate)
        }
        Command::Schema { out, name } => cmd_schema(out.as_deref(), name.as_deref()),
        Command::Mods { repo, command } => {
            runtime()?.block_on(mc_gitops::modrinth::cli::run(command, &repo.repo))?;
            Ok(Done::Ok)
        }
    }
}

fn load(root: &Path) -> anyhow::Result<repo::Loaded> {
    let loaded = repo::load(root)?;
    if !loaded.warnings.is_empty() {
        anstream::eprint!("{}", output::text::render_diagnostics(&loaded.warnings));
    }
    Ok(loaded)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn cmd_plan(root: &Path, json: bool, now: DateTime<Utc>) -> anyhow::Result<Done> {
    let loaded = load(root)?;
    let plan = match connect::live(root, &loaded.desired)? {
        None => {
            let observed = observe::ledger_only::observe(&loaded.ledger, &loaded.desired.server.name, now);
            plan::plan(&loaded.desired, &observed)
        }
        Some(live) => {
            let rt = runtime()?;
            let (observed, _) = rt.block_on(observe::live::observe(&live, &loaded.desired, &loaded.ledger, now))?;
            plan::plan(&loaded.desired, &observed)
        }
    };
    if json {
        print!("{}", output::plan_json(&plan));
    } else {
        anstream::print!("{}", output::text::render_plan(&plan));
    }
    Ok(if plan.is_empty() { Done::Ok } else { Done::Changes })
}

fn cmd_apply(
    root: &Path,
    json: bool,
    now: DateTime<Utc>,
    commit: bool,
    push: Option<mc_gitops::gitback::PushTarget>,
) -> anyhow::Result<Done> {
    let loaded = load(root)?;
    let Some(live) = connect::live(root, &loaded.desired)? else {
        anyhow::bail!("apply needs HCLOUD_TOKEN and CLOUDFLARE_API_TOKEN in the environment (use `plan` to see what it would do)");
    };
    let rt = runtime()?;
    let (observed, facts) = rt.block_on(observe::live::observe(&live, &loaded.desired, &loaded.ledger, now))?;
    let plan = plan::plan(&loaded.desired, &observed);
    if !json {
        anstream::print!("{}", output::text::render_plan(&plan));
    }
    let cx = mc_gitops::apply::Ctx {
        repo: root,
        desired: &loaded.desired,
        ledger: &loaded.ledger,
        observed: &observed,
        hetzner: &live.hetzner,
        cloudflare: &live.cloudflare,
        zone: &facts.zone,
        store: &live.store,
        now,
        user_data: None,
    };
    let report = rt.block_on(mc_gitops::apply::apply(&cx, &plan));
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "plan": plan, "report": report }))?
        );
    } else {
        anstream::print!("{}", output::text::render_report(&report));
    }
    // What was done is recorded even when a later change failed: the ledger
    // must not lose a session because the run stopped halfway.
    if commit && let Err(e) = commit_back(root, &report, push.as_ref()) {
        return Err(match &report.failed {
            Some((resource, error)) => e.context(format!("apply stopped at {resource}: {error}; then committing")),
            None => e,
        });
    }
    match &report.failed {
        Some((resource, error)) => anyhow::bail!("apply stopped at {resource}: {error}"),
        None => Ok(Done::Ok),
    }
}

fn commit_back(root: &Path, report: &mc_gitops::apply::Report, push: Option<&mc_gitops::gitback::PushTarget>) -> anyhow::Result<()> {
    use mc_gitops::gitback;
    match gitback::commit(root, &report.files, &report.message, &gitback::Bot::from_env())? {
        None => eprintln!("commit: nothing to commit"),
        Some(oid) => eprintln!("commit: {oid}"),
    }
    if let Some(target) = push {
        let attempts = gitback::push(root, target)?;
        eprintln!("push: {} in {attempts} attempt(s)", target.remote);
    }
    Ok(())
}

fn cmd_check(opts: &mc_gitops::check::Options, annotate: bool) -> anyhow::Result<Done> {
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

fn cmd_post_result(path: &Path) -> anyhow::Result<Done> {
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

fn cmd_schema(out: Option<&Path>, name: Option<&str>) -> anyhow::Result<Done> {
    let all = mc_gitops::schema::all();
    let pick: Vec<_> = all.iter().filter(|(n, _)| name.is_none_or(|want| *n == want)).collect();
    if pick.is_empty() {
        let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
        anyhow::bail!("no schema named {:?}; there are: {}", name.unwrap_or_default(), names.join(", "));
    }
    for (n, schema) in pick {
        let text = format!("{}\n", serde_json::to_string_pretty(schema)?);
        match out {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
                let path = dir.join(n);
                std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
            None => print!("{text}"),
        }
    }
    Ok(Done::Ok)
}
