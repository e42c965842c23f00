//! `mc-gitops apply`: observe, plan, carry the plan out, then the ledger
//! summaries, notifications and commit-back. The steps themselves live in
//! the library (`mc_gitops::apply`); this is the command's wiring.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};

use mc_gitops::repo;
use mc_gitops::{connect, ledger, observe, output, plan};

use mc_gitops::inputs::{Inputs, Var};

use super::{Done, RepoArg, load, runtime};

#[derive(clap::Args)]
pub(crate) struct ApplyArgs {
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
    /// Also write the public status page (index.html and the modpack) into DIR, outside the commit; see docs/status-page.md.
    #[arg(long, value_name = "DIR")]
    site: Option<PathBuf>,
    /// Apply as if it were this time (RFC 3339); for tests.
    #[arg(long, value_name = "TIME", env = "MC_GITOPS_NOW", hide = true)]
    now: Option<DateTime<Utc>>,
}

impl ApplyArgs {
    pub(crate) fn run(self, inputs: &Inputs) -> anyhow::Result<Done> {
        let ApplyArgs {
            repo,
            json,
            commit,
            push,
            remote,
            branch,
            site,
            now,
        } = self;
        let push = push.then(|| mc_gitops::gitback::PushTarget {
            remote,
            branch,
            ..mc_gitops::gitback::PushTarget::from_inputs(inputs)
        });
        apply(
            inputs,
            &repo.repo,
            json,
            now.unwrap_or_else(Utc::now),
            commit,
            push,
            site.as_deref(),
        )
    }
}

fn apply(
    inputs: &Inputs,
    root: &Path,
    json: bool,
    now: DateTime<Utc>,
    commit: bool,
    push: Option<mc_gitops::gitback::PushTarget>,
    site: Option<&Path>,
) -> anyhow::Result<Done> {
    let loaded = load(root)?;
    let Some(live) = connect::live(inputs, root, &loaded.desired)? else {
        anyhow::bail!("apply needs HCLOUD_TOKEN and CLOUDFLARE_API_TOKEN in the environment (use `plan` to see what it would do)");
    };
    let rt = runtime()?;
    let (mut observed, facts) = rt.block_on(observe::live::observe(&live, &loaded.desired, &loaded.ledger, now))?;
    observed.reconcile_ticks = observe::reconcile_ticks(root, now);
    // This month's Actions minutes: the stored tally, brought up to date
    // from the runs GitHub says finished (in a run; docs/workflows.md).
    let mut actions_warnings = Vec::new();
    let github = match mc_gitops::actions_minutes::GithubRun::from_inputs(inputs) {
        Some(Ok(g)) => Some(g),
        Some(Err(e)) => {
            actions_warnings.push(format!("counting the Actions minutes: {e}"));
            None
        }
        None => None,
    };
    let (usage, more) = rt.block_on(mc_gitops::actions_minutes::observe(&live.store, github.as_ref(), now));
    observed.actions = usage;
    actions_warnings.extend(more);
    let plan = plan::plan(&loaded.desired, &observed);
    if !json {
        anstream::print!("{}", plan::render::text(&plan));
    }
    let mint = connect::mint_settings(inputs, &loaded.desired)?;
    let prepared = rt.block_on(mc_gitops::apply::prepare::prepare(
        &live.cloudflare,
        &live.store,
        mint.as_ref(),
        &loaded.desired,
        &plan,
        now,
    ))?;
    let user_data = user_data_for(inputs, &loaded.desired, &plan, prepared.agent_credentials.as_ref(), now)?;
    let nudge = mc_gitops::storage::nudge::NudgeDoc::from_inputs(inputs);
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
        user_data,
        agent_credentials: prepared.agent_credentials,
        restore: prepared.restore,
        mint: mint.as_ref(),
        nudge: nudge.as_ref().ok().cloned().flatten(),
        mojang_meta: mc_gitops::modrinth::Endpoints::from_inputs(inputs).mojang_meta,
    };
    let mut report = rt.block_on(mc_gitops::apply::apply(&cx, &plan));
    #[cfg(feature = "fault-injection")]
    if let Some(at) = &report.crashed {
        // As a crash: nothing after this point, not even the report.
        eprintln!("MC_GITOPS_CRASH_AFTER: exiting {at}");
        return Ok(Done::Crashed);
    }
    report.warnings.extend(actions_warnings);
    if let Err(e) = nudge {
        report.warnings.push(format!("the agent gets no nudge settings: {e}"));
    }
    let discord = match mc_gitops::notify::Discord::from_inputs(inputs) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            report.warnings.push(e.to_string());
            None
        }
    };
    let warnings = rt.block_on(mc_gitops::notify::after_apply(&loaded.desired, &plan, &report, discord.as_ref()));
    report.warnings.extend(warnings);
    // What the plan refused (a start over lost backups, past the budget)
    // reaches STATUS.md, and fails the run once its records are committed.
    let refused: Vec<String> = plan
        .notices
        .iter()
        .filter(|n| n.level == plan::Level::Error)
        .map(|n| n.message.clone())
        .collect();
    report.warnings.extend(refused.iter().cloned());
    // What costs money until an admin acts (a stop overdue for its final
    // snapshot): STATUS.md every run (through the warnings), the Actions
    // summary, and Discord once (the session file records it).
    let alerts: Vec<String> = plan
        .notices
        .iter()
        .filter(|n| n.level == plan::Level::Alert)
        .map(|n| n.message.clone())
        .collect();
    report.warnings.extend(alerts.iter().map(|a| format!("ALERT: {a}")));
    if let Err(e) = step_summary_alerts(inputs, &alerts) {
        report.warnings.push(format!("writing the alerts to $GITHUB_STEP_SUMMARY: {e}"));
    }
    rt.block_on(after_apply(root, &loaded, &observed, &live.store, &mut report, site, now));
    if json {
        let json = serde_json::to_string_pretty(&serde_json::json!({ "plan": plan, "report": report }))?;
        println!("{}", mc_gitops::escape::json(&json));
    } else {
        anstream::print!("{}", output::text::render_report(&report));
    }
    // What was done is recorded even when a later change failed: the ledger
    // must not lose a session because the run stopped halfway.
    if commit && let Err(e) = commit_back(root, &report, &mc_gitops::gitback::Bot::from_inputs(inputs), push.as_ref()) {
        return Err(match &report.failed {
            Some(failed) => e.context(format!("apply stopped at {failed}; then committing")),
            None => e,
        });
    }
    match &report.failed {
        Some(failed) => anyhow::bail!("apply stopped at {failed}"),
        None if !refused.is_empty() => anyhow::bail!("apply refused: {}", refused.join("; ")),
        None => Ok(Done::Ok),
    }
}

/// Append the alerts to `$GITHUB_STEP_SUMMARY`, when the job has one.
fn step_summary_alerts(inputs: &Inputs, alerts: &[String]) -> std::io::Result<()> {
    if alerts.is_empty() {
        return Ok(());
    }
    let mut text = String::from("## 🚨 mc-gitops apply: alert\n\n");
    for a in alerts {
        // One line per alert: a newline in a value cannot start a new block.
        text.push_str(&format!("- {}\n", a.replace(['\r', '\n'], " ")));
    }
    inputs.append_step_summary(&text).map(drop)
}

/// Cloud-init for the server this plan creates, carrying the agent's minted,
/// scoped R2 credentials; rendered by apply right before it asks for the
/// server, so the agent knows when its paid hours started. The agent binary
/// is this one: by default the release asset of this version, checked
/// against this executable's sha256 (`MC_GITOPS_AGENT_URL` /
/// `MC_GITOPS_AGENT_SHA256` override both). Without minted credentials
/// (local storage) the server gets no user-data: an agent there could not
/// reach the world, so none is installed.
fn user_data_for(
    inputs: &Inputs,
    desired: &repo::Desired,
    plan: &plan::Plan,
    minted: Option<&mc_gitops::storage::credentials::AgentCredentials>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<mc_gitops::cloudinit::UserData>> {
    use mc_gitops::cloudinit::{self, UserData};
    let Some(session) = plan.changes.iter().find_map(|c| match &c.step {
        plan::Step::CreateServer(plan::CreateServer { session, .. }) => Some(session.clone()),
        _ => None,
    }) else {
        return Ok(None);
    };
    let Some(m) = minted else {
        tracing::warn!("storage is a local directory: the new server gets no agent (configure [storage] and R2 keys)");
        return Ok(None);
    };
    let config = cloudinit::for_session(desired, session, cloudinit::minted_storage(m));
    Ok(Some(UserData::new(config, agent_release(inputs)?, now)?))
}

/// The agent binary a VPS installs: the release asset of this version,
/// checked against this executable's sha256 (`MC_GITOPS_AGENT_URL` /
/// `MC_GITOPS_AGENT_SHA256` override both). The prebuilt image carries the
/// same one (`mc-gitops image build`).
pub(crate) fn agent_release(inputs: &Inputs) -> anyhow::Result<mc_gitops::cloudinit::AgentRelease> {
    let url = inputs.var(Var::AgentUrl).unwrap_or_else(|| {
        format!(
            "https://github.com/mc-gitops/mc-gitops/releases/download/v{}/mc-gitops-x86_64-unknown-linux-musl",
            env!("CARGO_PKG_VERSION")
        )
    });
    let sha256 = match inputs.var(Var::AgentSha256) {
        Some(s) => s,
        None => {
            let exe = std::env::current_exe().context("cannot find this executable to hash it for the VPS")?;
            let bytes = std::fs::read(&exe).with_context(|| format!("cannot read {}", exe.display()))?;
            mc_gitops::assets::sha256_hex(&bytes)
        }
    };
    Ok(mc_gitops::cloudinit::AgentRelease { url, sha256 })
}

/// The ledger summaries after an apply, from the session files as this run
/// left them. A failure here is reported but does not undo what was applied.
async fn after_apply(
    root: &Path,
    loaded: &repo::Loaded,
    observed: &observe::Observed,
    store: &mc_gitops::storage::Store,
    report: &mut mc_gitops::apply::Report,
    site: Option<&Path>,
    now: DateTime<Utc>,
) {
    let ledger = match repo::load(root) {
        Ok(fresh) => fresh.ledger,
        Err(e) => {
            report.warnings.push(format!("re-reading the ledger for the summaries: {e}"));
            loaded.ledger.clone()
        }
    };
    let measured = match store.stored_bytes().await {
        Ok(b) => Some(b),
        Err(e) => {
            report
                .warnings
                .push(format!("measuring storage: {}", mc_gitops::error::render_error(&e)));
            None
        }
    };
    let mut warnings = report.warnings.clone();
    if let Some(failed) = &report.failed {
        warnings.push(format!("the last apply stopped at {failed}"));
    }
    let summaries = ledger::reports::gather(root, &ledger, &loaded.desired, Some(observed), measured, warnings, now);
    match ledger::reports::write_summaries(root, &summaries) {
        Ok(files) => report.files.extend(files),
        Err(e) => report
            .warnings
            .push(format!("writing the summaries: {}", mc_gitops::error::render_error(&e))),
    }
    // The status page is published by the workflow, never committed: it is
    // not one of report.files.
    if let Some(dir) = site {
        match ledger::site::write_site(root, dir, &ledger, &loaded.desired, Some(observed), &summaries) {
            Ok(written) => report.warnings.extend(written.warnings),
            Err(e) => report
                .warnings
                .push(format!("writing the status page: {}", mc_gitops::error::render_error(&e))),
        }
    }
}

fn commit_back(
    root: &Path,
    report: &mc_gitops::apply::Report,
    bot: &mc_gitops::gitback::Bot,
    push: Option<&mc_gitops::gitback::PushTarget>,
) -> anyhow::Result<()> {
    use mc_gitops::gitback;
    match gitback::commit(root, &report.files, &report.message, bot)? {
        None => eprintln!("commit: nothing to commit"),
        Some(oid) => eprintln!("commit: {oid}"),
    }
    if let Some(target) = push {
        let attempts = gitback::push(root, target)?;
        eprintln!("push: {} in {attempts} attempt(s)", target.remote);
    }
    Ok(())
}
