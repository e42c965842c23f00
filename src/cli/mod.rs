//! The command line: every subcommand's arguments (clap derive) and its
//! `run()`, one file per command. `main.rs` parses, hands each command what
//! it needs and maps the outcome to the exit code; the work itself is the
//! library's. The help texts of the commands live on [`Command`]'s variants.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use mc_gitops::output;
use mc_gitops::repo::{self, LoadError};

pub(crate) mod agent;
pub(crate) mod apply;
pub(crate) mod check;
pub(crate) mod console;
pub(crate) mod docs;
pub(crate) mod doctor;
pub(crate) mod image;
pub(crate) mod init;
pub(crate) mod ledger;
pub(crate) mod mods;
pub(crate) mod plan;
pub(crate) mod render;
pub(crate) mod schema;
pub(crate) mod set_state;
pub(crate) mod simulate;
pub(crate) mod world;

const ABOUT: &str = "GitOps for an on-demand Minecraft server: a git repo in, a Hetzner VPS, Cloudflare DNS and R2 snapshots out.";

#[derive(Parser)]
#[command(name = "mc-gitops", version, about = ABOUT, long_about = None)]
pub(crate) struct Cli {
    /// When to colour output.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub(crate) color: Color,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Replay play traces through the lifecycle per shutdown policy.
    ///
    /// Each policy (the seed's 15/45, billing-hour aware, learned from the
    /// history, and with --frontier the fixed keep times X = 0…240) is run
    /// through the agent's own decision and lifecycle code, with the
    /// reconcile workflow's schedule in the loop. Prints billed hours and
    /// money, cold and warm starts, instant joins, total and p95 wait to
    /// play, reconcile jobs and Actions minutes. docs/simulate.md has the
    /// trace format, the synthetic traces and the defaults.
    #[command(
        after_help = "Examples:\n  mc-gitops simulate --repo state-repo-example --synthetic --seeds 20 --days 30 --frontier\n  mc-gitops simulate --synthetic --seed 3 --write-trace trace.json\n  mc-gitops simulate --trace trace.json --cron '0 * * * *' --json"
    )]
    Simulate(simulate::SimulateArgs),
    /// Show what apply would change, without changing anything.
    ///
    /// Loads the state repo, observes what is true now, and prints the plan.
    /// Without cloud credentials it observes from the repo's own ledger
    /// (sessions/) and calls nothing outside. With them it also pings the
    /// session's server (Server List Ping, 3 s at most);
    /// MC_GITOPS_GAME_PING=off turns that off.
    ///
    /// Exit status: 0 nothing to do, 2 changes planned, 1 error.
    #[command(after_help = "Examples:\n  mc-gitops plan --repo state-repo-example\n  mc-gitops plan --json | jq '.changes[].resource'")]
    Plan(plan::PlanArgs),
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
    Apply(apply::ApplyArgs),
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
    /// run without a token (a fork's PR), without reading any repo, and only
    /// in a workflow_run job, on the open pull request whose head is the
    /// triggering run's head commit (GITHUB_EVENT_PATH), which must be the
    /// file's pr.
    ///
    /// Exit status: 0 valid, 1 problems or error.
    #[command(
        after_help = "Examples:\n  mc-gitops check --repo .\n  mc-gitops check --fix\n  mc-gitops check --base origin/main --author alex-gh --pr 7 --result-file check-result.json\n  mc-gitops check --post-result check-result.json"
    )]
    Check(check::CheckArgs),
    /// Resolve mods.toml against Modrinth into mods.lock (which also pins the server jar), update it, or export a modpack.
    ///
    /// MODRINTH_API_BASE_URL, FABRIC_META_BASE_URL and MOJANG_META_BASE_URL override the API addresses
    /// (mods.lock still records the public URLs the VPS downloads from).
    #[command(
        after_help = "Examples:\n  mc-gitops mods lock --repo .\n  mc-gitops mods update lithium\n  mc-gitops mods export --mrpack grove.mrpack"
    )]
    Mods(mods::ModsArgs),
    /// Back up, restore, list, verify and prune world snapshots in storage.
    ///
    /// Storage is R2 when server.toml has [storage] and R2_ACCESS_KEY_ID and
    /// R2_SECRET_ACCESS_KEY are set (R2_SESSION_TOKEN for temporary ones,
    /// R2_ENDPOINT to override the address), else the local directory
    /// MC_GITOPS_STORAGE_DIR or .mc-gitops/storage.
    #[command(
        after_help = "Examples:\n  mc-gitops world backup --repo . --dir world\n  mc-gitops world list\n  mc-gitops world restore 2026-11-22T19-30-00Z --dir world"
    )]
    World(world::WorldArgs),
    /// Ask the running server's agent to run a console command, back up now, or suspend now.
    ///
    /// The request goes into the control channel
    /// (control/<server>/requests/<id>.json, never overwriting another);
    /// the agent runs it at its next control poll, once (never again, not
    /// even after an agent restart), and answers in <id>.result.json, which is printed (and, in GitHub Actions,
    /// written to $GITHUB_STEP_SUMMARY). In GitHub Actions (GITHUB_ACTIONS=true)
    /// only admins may ask: GITHUB_ACTOR must be in server.toml's [github]
    /// admins or a CODEOWNERS owner. Commands the agent owns are refused
    /// here and again by the agent: stop (use state, or --suspend),
    /// save-off / save-on, whitelist and op / deop (use the repo's files),
    /// and anything touching rcon.password. Storage as for `world`.
    ///
    /// Exit status: 0 answered ok (or enqueued with --no-wait), 1 refused,
    /// failed, not running, or no answer in time.
    #[command(
        after_help = "Examples:\n  mc-gitops console -- time set day\n  mc-gitops console -- say the server restarts at 22:00\n  mc-gitops console --backup\n  mc-gitops console --suspend --wait 5m\n  mc-gitops console --no-wait -- weather clear"
    )]
    Console(console::ConsoleArgs),
    /// Prebuilt Hetzner snapshot images: a cold start that skips the installs.
    #[command(subcommand, after_help = "Examples:\n  HCLOUD_TOKEN=… mc-gitops image build --repo .")]
    Image(image::ImageCommand),
    /// Print what the bot would hand to a new server.
    #[command(subcommand, after_help = "Examples:\n  mc-gitops render cloud-init --repo state-repo-example")]
    Render(render::RenderCommand),
    /// Run the watchdog beside the Minecraft server (on the VPS, under systemd).
    ///
    /// Restores the world, fetches the server's files, starts Minecraft and
    /// drives the lifecycle: idle → suspended → final snapshot → ready to
    /// terminate, backups, crash restarts, whitelist and ops changes from
    /// the control channel. Reports to control/<server>/status.json every
    /// heartbeat. The config is written by cloud-init; unknown keys are
    /// errors with file:line:col. SIGTERM or Ctrl-C stops Minecraft (it
    /// saves) and exits. GITHUB_API_URL overrides the nudge's API address.
    ///
    /// Exit status: 0 after a clean shutdown, 1 error.
    #[command(
        after_help = "Examples:\n  mc-gitops agent --config /etc/mc-gitops/agent.toml\n  MC_GITOPS_LOG=info mc-gitops agent --config agent.toml"
    )]
    Agent(agent::AgentArgs),
    /// Check everything a first run needs, with the fix for each problem.
    ///
    /// Reads the environment apply reads (HCLOUD_TOKEN, CLOUDFLARE_API_TOKEN,
    /// R2_ACCESS_KEY_ID / R2_SECRET_ACCESS_KEY, DISCORD_WEBHOOK_URL,
    /// GITHUB_TOKEN, MC_GITOPS_NUDGE_TOKEN and their *_ENDPOINT / *_URL
    /// overrides) and checks: the repo passes check; the workflows pin a
    /// real release sha256; the Hetzner token works and each region can
    /// order a server type somewhere now (with its hourly price); the
    /// Cloudflare token is active, reads the zone and edits its DNS; the R2
    /// key lists the bucket and writes, reads and deletes a probe object;
    /// temporary R2 credentials can be minted; the Discord webhook exists;
    /// GITHUB_TOKEN can push and sees reconcile.yml; the nudge token sees it.
    ///
    /// Three proofs are writes undone at once: an empty Hetzner firewall
    /// mc-gitops-doctor-<id>, a probe A record mc-gitops-doctor-<id>.<zone>
    /// → 192.0.2.1 and an R2 object doctor/<id>; --no-write leaves them out.
    /// Nothing is posted, dispatched or created otherwise; no secret is
    /// printed. In Actions the report also goes to $GITHUB_STEP_SUMMARY.
    ///
    /// Exit status: 0 every needed check passes (optional ones, Discord and
    /// the nudge token, may have failed: they are marked), 1 otherwise.
    #[command(
        after_help = "Examples:\n  mc-gitops doctor --repo .\n  mc-gitops doctor --json | jq '.checks[] | select(.status == \"fail\")'"
    )]
    Doctor(doctor::DoctorArgs),
    /// Create a new group's state repo in DIR from the example built into this binary.
    ///
    /// The new repo is stopped, has no session history, and has one player
    /// and op: the admin (--player, --github), whose GitHub handle is
    /// [github] admins and the CODEOWNER; further ops are a commented
    /// template in ops.toml, and friends add their own players/ files by
    /// pull request. When stdin is a terminal, the values not given as
    /// flags are asked for; otherwise a missing --name, --zone, --region,
    /// --player or --github is an error. DIR must be new or empty.
    /// docs/setup.md is the whole path from here to the first start.
    #[command(
        after_help = "Examples:\n  mc-gitops init grove-state --name grove --zone grove.place --region eu --player Steve --github grove-admin\n  mc-gitops init grove-state    # asks for each value\n  cd grove-state && mc-gitops check --fix && mc-gitops mods update"
    )]
    Init(init::InitArgs),
    /// Print the shell completion script for bash, zsh or fish (also elvish, powershell).
    ///
    /// bash: `mc-gitops completions bash > ~/.local/share/bash-completion/completions/mc-gitops`;
    /// zsh: write `_mc-gitops` into a directory on $fpath; fish: write
    /// `mc-gitops.fish` into ~/.config/fish/completions/.
    #[command(
        after_help = "Examples:\n  mc-gitops completions bash > ~/.local/share/bash-completion/completions/mc-gitops\n  mc-gitops completions zsh > ~/.zfunc/_mc-gitops\n  mc-gitops completions fish > ~/.config/fish/completions/mc-gitops.fish"
    )]
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff), or write one page per command with --out.
    ///
    /// Without --out, mc-gitops.1 goes to stdout (`mc-gitops man | man -l -`).
    /// With --out DIR: mc-gitops.1 and mc-gitops-<command>.1 for every
    /// command and subcommand (mc-gitops-world-backup.1), for
    /// ~/.local/share/man/man1 or a package.
    #[command(after_help = "Examples:\n  mc-gitops man | man -l -\n  mc-gitops man --out ~/.local/share/man/man1")]
    Man(docs::ManArgs),
    /// Set `state` (and `region`) in server.toml, keeping every comment.
    ///
    /// What the "Start server" button in reconcile.yml runs before it
    /// commits server.toml in the name of whoever pressed it. Checks the
    /// repo before and after the edit; exits 0 whether or not the file
    /// changed (it prints which).
    #[command(
        name = "set-state",
        after_help = "Examples:\n  mc-gitops set-state running --region us\n  mc-gitops set-state stopped --repo ."
    )]
    SetState(set_state::SetStateArgs),
    /// Rewrite costs/YYYY-MM.toml, COSTS.md and STATUS.md from the ledger.
    ///
    /// `apply` does this after every run; this command does it on demand,
    /// from the repo alone (no credentials, nothing outside is called; the
    /// R2 storage figures already recorded in costs/ are kept). Only files
    /// whose content changes are written. With --site, the status page is
    /// written too, its state read from the ledger alone (an open session
    /// reads as running).
    #[command(
        after_help = "Examples:\n  mc-gitops ledger --repo .\n  mc-gitops ledger --now 2026-12-01T00:00:00Z\n  mc-gitops ledger --site public && python3 -m http.server -d public"
    )]
    Ledger(ledger::LedgerArgs),
    /// Print or write the JSON Schemas (draft-07) of the state files.
    ///
    /// Editors with Taplo / Even Better TOML validate while typing through
    /// the `#:schema ./.mc-gitops/schema/server.json` line at the top of
    /// each file.
    #[command(after_help = "Examples:\n  mc-gitops schema --out .mc-gitops/schema\n  mc-gitops schema server.json")]
    Schema(schema::SchemaArgs),
}

#[derive(clap::Args)]
pub(crate) struct RepoArg {
    /// The state repo's checkout.
    #[arg(long, value_name = "DIR", default_value = ".", global = true)]
    pub(crate) repo: PathBuf,
}

/// What a command tells `main` about how it ended.
pub(crate) enum Done {
    Ok,
    Changes,
    /// A fault injected with `MC_GITOPS_CRASH_AFTER` ended the run (exit 70).
    #[cfg(feature = "fault-injection")]
    Crashed,
}

impl Color {
    /// Colour choice for every later `anstream` print.
    pub(crate) fn apply(self) {
        match self {
            Color::Auto => anstream::ColorChoice::Auto,
            Color::Always => anstream::ColorChoice::Always,
            Color::Never => anstream::ColorChoice::Never,
        }
        .write_global();
    }
}

/// An error as the user sees it: the repo's diagnostics first, then the
/// error and its causes, each one escaped line.
pub(crate) fn report(e: &anyhow::Error) {
    if let Some(LoadError::Invalid(diags)) = e.downcast_ref::<LoadError>() {
        anstream::eprint!("{}", output::text::render_diagnostics(diags));
    }
    if let Some(mc_gitops::agent_toml::ConfigError::Invalid { diags, .. }) = e.downcast_ref::<mc_gitops::agent_toml::ConfigError>() {
        anstream::eprint!("{}", output::text::render_diagnostics(diags));
    }
    // Errors echo values from the repo: one line each, escaped (mc_gitops::escape).
    let value = |s: String| mc_gitops::escape::line(&mc_gitops::escape::value(&s)).into_owned();
    anstream::eprintln!("error: {}", value(e.to_string()));
    for cause in e.chain().skip(1) {
        anstream::eprintln!("  caused by: {}", value(cause.to_string()));
    }
    if let Some(LoadError::NotARepo(_)) = e.downcast_ref::<LoadError>() {
        anstream::eprintln!("  hint: pass --repo DIR pointing at a checkout of your state repo");
    }
}

/// The whole repo, its warnings printed.
pub(crate) fn load(root: &Path) -> anyhow::Result<repo::Loaded> {
    let loaded = repo::load(root)?;
    if !loaded.warnings.is_empty() {
        anstream::eprint!("{}", output::text::render_diagnostics(&loaded.warnings));
    }
    Ok(loaded)
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
