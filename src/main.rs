//! The `mc-gitops` command. Parses arguments, runs one subcommand, and maps
//! every outcome to an exit code in one place: 0 nothing to do (or success),
//! 2 the plan has changes, 1 an error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use mc_gitops::repo::{self, LoadError};
use mc_gitops::{agent, connect, ledger, observe, output, plan};

mod cmd_apply;
mod cmd_check;
mod cmd_docs;
mod cmd_doctor;
mod cmd_init;
mod cmd_simulate;

use cmd_apply::cmd_apply;
use cmd_check::{cmd_check, cmd_post_result};

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
    Simulate(cmd_simulate::SimulateArgs),
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
        /// Also write the public status page (index.html and the modpack) into DIR, outside the commit; see docs/status-page.md.
        #[arg(long, value_name = "DIR")]
        site: Option<PathBuf>,
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
    /// run without a token (a fork's PR), without reading any repo, and only
    /// in a workflow_run job, on the open pull request whose head is the
    /// triggering run's head commit (GITHUB_EVENT_PATH), which must be the
    /// file's pr.
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
        /// Post a result file's verdict as the PR comment (in a workflow_run job, on the run's pull request only); checks no repo.
        #[arg(long, value_name = "PATH", conflicts_with_all = ["fix", "base", "author", "result_file"])]
        post_result: Option<PathBuf>,
    },
    /// Resolve mods.toml against Modrinth into mods.lock (which also pins the server jar), update it, or export a modpack.
    ///
    /// MODRINTH_API_BASE_URL, FABRIC_META_BASE_URL and MOJANG_META_BASE_URL override the API addresses
    /// (mods.lock still records the public URLs the VPS downloads from).
    #[command(
        after_help = "Examples:\n  mc-gitops mods lock --repo .\n  mc-gitops mods update lithium\n  mc-gitops mods export --mrpack grove.mrpack"
    )]
    Mods {
        #[command(flatten)]
        repo: RepoArg,
        #[command(subcommand)]
        command: mc_gitops::modrinth::cli::ModsCommand,
    },
    /// Back up, restore, list, verify and prune world snapshots in storage.
    ///
    /// Storage is R2 when server.toml has [storage] and R2_ACCESS_KEY_ID and
    /// R2_SECRET_ACCESS_KEY are set (R2_SESSION_TOKEN for temporary ones,
    /// R2_ENDPOINT to override the address), else the local directory
    /// MC_GITOPS_STORAGE_DIR or .mc-gitops/storage.
    #[command(
        after_help = "Examples:\n  mc-gitops world backup --repo . --dir world\n  mc-gitops world list\n  mc-gitops world restore 2026-11-22T19-30-00Z --dir world"
    )]
    World {
        #[command(flatten)]
        repo: RepoArg,
        #[command(subcommand)]
        command: mc_gitops::world::cli::WorldCommand,
    },
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
    Console {
        #[command(flatten)]
        repo: RepoArg,
        /// Take a verified backup now (the answer names it).
        #[arg(long, conflicts_with_all = ["suspend", "command"])]
        backup: bool,
        /// Suspend now: save, snapshot, stop Minecraft; the VPS stays warm for a wake.
        #[arg(long, conflicts_with = "command")]
        suspend: bool,
        /// How long to wait for the answer (the request expires then, unrun if still waiting).
        #[arg(long, value_name = "DURATION", default_value = "2m")]
        wait: mc_gitops::repo::duration::Duration,
        /// Enqueue and exit (the request still expires after 10 minutes).
        #[arg(long, conflicts_with = "wait")]
        no_wait: bool,
        /// The console command, after `--` (no leading slash needed).
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Prebuilt Hetzner snapshot images: a cold start that skips the installs.
    #[command(subcommand, after_help = "Examples:\n  HCLOUD_TOKEN=… mc-gitops image build --repo .")]
    Image(ImageCommand),
    /// Print what the bot would hand to a new server.
    #[command(subcommand, after_help = "Examples:\n  mc-gitops render cloud-init --repo state-repo-example")]
    Render(RenderCommand),
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
    Agent {
        /// The agent's config file (TOML).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
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
    Doctor {
        #[command(flatten)]
        repo: RepoArg,
        /// Print the report as JSON (shape in docs/doctor.md).
        #[arg(long)]
        json: bool,
        /// Make no write probe (Hetzner firewall, DNS record, R2 object):
        /// what only they prove is reported as unproven (!).
        #[arg(long)]
        no_write: bool,
    },
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
    Init(cmd_init::InitArgs),
    /// Print the shell completion script for bash, zsh or fish (also elvish, powershell).
    ///
    /// bash: `mc-gitops completions bash > ~/.local/share/bash-completion/completions/mc-gitops`;
    /// zsh: write `_mc-gitops` into a directory on $fpath; fish: write
    /// `mc-gitops.fish` into ~/.config/fish/completions/.
    #[command(
        after_help = "Examples:\n  mc-gitops completions bash > ~/.local/share/bash-completion/completions/mc-gitops\n  mc-gitops completions zsh > ~/.zfunc/_mc-gitops\n  mc-gitops completions fish > ~/.config/fish/completions/mc-gitops.fish"
    )]
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command with --out.
    ///
    /// Without --out, mc-gitops.1 goes to stdout (`mc-gitops man | man -l -`).
    /// With --out DIR: mc-gitops.1 and mc-gitops-<command>.1 for every
    /// command and subcommand (mc-gitops-world-backup.1), for
    /// ~/.local/share/man/man1 or a package.
    #[command(after_help = "Examples:\n  mc-gitops man | man -l -\n  mc-gitops man --out ~/.local/share/man/man1")]
    Man {
        /// Write every page into this directory instead of printing the top one.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
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
    SetState {
        #[command(flatten)]
        repo: RepoArg,
        /// The switch: running or stopped (start and stop are accepted too).
        #[arg(value_parser = ["running", "stopped", "start", "stop"])]
        state: String,
        /// A key of [regions] in server.toml; left as it is when omitted.
        #[arg(long)]
        region: Option<String>,
    },
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
    Ledger {
        #[command(flatten)]
        repo: RepoArg,
        /// Summarise as if it were this time (RFC 3339): open sessions accrue up to it.
        #[arg(long, value_name = "TIME", env = "MC_GITOPS_NOW")]
        now: Option<DateTime<Utc>>,
        /// Also write the public status page (index.html and the modpack) into DIR; see docs/status-page.md.
        #[arg(long, value_name = "DIR")]
        site: Option<PathBuf>,
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

#[derive(Subcommand)]
enum ImageCommand {
    /// Build the snapshot image new servers of this repo boot from.
    ///
    /// Creates a builder server from the region's stock image whose
    /// cloud-init installs Java, nftables, zstd and this version's agent
    /// (checked against its sha256) and powers off; snapshots it
    /// (`create_image`, type snapshot, labelled with the server and the agent
    /// version); deletes the builder; deletes the server's older images
    /// (unless --keep-old); prints the image's monthly cost from the pricing
    /// API's price per GB-month. A start by this version boots the newest
    /// image labelled with it, on the region's server types of its
    /// architecture, and falls back to the stock image otherwise. Needs
    /// HCLOUD_TOKEN (HCLOUD_ENDPOINT overrides the API address); the agent
    /// binary is as for apply (MC_GITOPS_AGENT_URL, MC_GITOPS_AGENT_SHA256).
    ///
    /// Exit status: 0 built, 1 error (the builder server is deleted).
    #[command(
        after_help = "Examples:\n  HCLOUD_TOKEN=… mc-gitops image build --repo .\n  mc-gitops image build --server-type cx33 --keep-old"
    )]
    Build {
        #[command(flatten)]
        repo: RepoArg,
        /// Build on this server type (its architecture is the image's); default the region's first orderable.
        #[arg(long, value_name = "TYPE")]
        server_type: Option<String>,
        /// How long the builder may take to install and power off.
        #[arg(long, value_name = "DURATION", default_value = "20m")]
        timeout: mc_gitops::repo::duration::Duration,
        /// Keep the server's older images (each is billed per GB-month).
        #[arg(long)]
        keep_old: bool,
    },
}

#[derive(Subcommand)]
enum RenderCommand {
    /// Print the cloud-init user-data a new VPS of this repo would boot with.
    ///
    /// Credentials are not minted here: the R2 credentials (and, unless
    /// given, the agent's URL and checksum) are PLACEHOLDER values, clearly
    /// marked, so the output is safe to paste anywhere.
    #[command(
        name = "cloud-init",
        after_help = "Examples:\n  mc-gitops render cloud-init --repo state-repo-example\n  mc-gitops render cloud-init --agent-url https://github.com/o/r/releases/download/v0.1.0/mc-gitops --agent-sha256 <hex> > user-data.yaml\n  cloud-init schema --config-file user-data.yaml"
    )]
    CloudInit {
        #[command(flatten)]
        repo: RepoArg,
        #[command(flatten)]
        agent: AgentReleaseArgs,
        /// Render as if the session started at this time (RFC 3339).
        #[arg(long, value_name = "TIME", env = "MC_GITOPS_NOW")]
        now: Option<DateTime<Utc>>,
    },
    /// Print the user-data `mc-gitops image build` gives its builder server.
    ///
    /// The packages and the checked agent binary, then a power-off; nothing
    /// of a session (no agent.toml, no credentials). Without --agent-url and
    /// --agent-sha256, PLACEHOLDER values stand in for them.
    #[command(
        name = "image",
        after_help = "Examples:\n  mc-gitops render image --repo state-repo-example > image.yaml\n  cloud-init schema --config-file image.yaml"
    )]
    Image(ImageUserData),
}

#[derive(clap::Args)]
struct ImageUserData {
    #[command(flatten)]
    repo: RepoArg,
    #[command(flatten)]
    agent: AgentReleaseArgs,
}

/// The agent binary a rendered user-data installs.
#[derive(clap::Args)]
struct AgentReleaseArgs {
    /// The agent binary's https release URL.
    #[arg(long, value_name = "URL")]
    agent_url: Option<String>,
    /// The agent binary's sha256 (64 lowercase hex digits).
    #[arg(long, value_name = "HEX")]
    agent_sha256: Option<String>,
}

impl AgentReleaseArgs {
    /// The release, PLACEHOLDER values where a flag was not given.
    fn release(self) -> mc_gitops::cloudinit::AgentRelease {
        use mc_gitops::cloudinit::PLACEHOLDER;
        mc_gitops::cloudinit::AgentRelease {
            url: self
                .agent_url
                .unwrap_or_else(|| format!("https://example.invalid/{PLACEHOLDER}/mc-gitops")),
            sha256: self.agent_sha256.unwrap_or_else(|| "0".repeat(64)),
        }
    }
}

#[derive(clap::Args)]
struct RepoArg {
    /// The state repo's checkout.
    #[arg(long, value_name = "DIR", default_value = ".", global = true)]
    repo: PathBuf,
}

/// What a command tells `main` about how it ended.
pub(crate) enum Done {
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
        .with_writer(|| output::escape::SafeStderr)
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
    if let Some(mc_gitops::agent_toml::ConfigError::Invalid { diags, .. }) = e.downcast_ref::<mc_gitops::agent_toml::ConfigError>() {
        anstream::eprint!("{}", output::text::render_diagnostics(diags));
    }
    // Errors echo values from the repo: one line each, escaped (output::escape).
    let value = |s: String| output::escape::line(&output::escape::value(&s)).into_owned();
    anstream::eprintln!("error: {}", value(e.to_string()));
    for cause in e.chain().skip(1) {
        anstream::eprintln!("  caused by: {}", value(cause.to_string()));
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
            site,
        } => {
            let push = push.then(|| mc_gitops::gitback::PushTarget {
                remote,
                branch,
                ..mc_gitops::gitback::PushTarget::from_env()
            });
            cmd_apply(&repo.repo, json, now.unwrap_or_else(Utc::now), commit, push, site.as_deref())
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
        Command::Simulate(args) => cmd_simulate::cmd_simulate(args),
        Command::Doctor { repo, json, no_write } => cmd_doctor::cmd_doctor(&repo.repo, json, no_write),
        Command::Render(RenderCommand::CloudInit { repo, agent, now }) => {
            cmd_render_cloud_init(&repo.repo, agent.release(), now.unwrap_or_else(Utc::now))
        }
        Command::Render(RenderCommand::Image(a)) => cmd_render_image(&a.repo.repo, &a.agent.release()),
        Command::Image(ImageCommand::Build {
            repo,
            server_type,
            timeout,
            keep_old,
        }) => cmd_image_build(&repo.repo, server_type, timeout, keep_old),
        Command::Init(args) => cmd_init::cmd_init(args),
        Command::Completions { shell } => cmd_docs::cmd_completions(shell),
        Command::Man { out } => cmd_docs::cmd_man(out.as_deref()),
        Command::SetState { repo, state, region } => cmd_set_state(&repo.repo, &state, region.as_deref()),
        Command::Ledger { repo, now, site } => cmd_ledger(&repo.repo, now.unwrap_or_else(Utc::now), site.as_deref()),
        Command::Schema { out, name } => cmd_schema(out.as_deref(), name.as_deref()),
        Command::World { repo, command } => {
            runtime()?.block_on(mc_gitops::world::cli::run(command, &repo.repo, &mut std::io::stdout()))?;
            Ok(Done::Ok)
        }
        Command::Agent { config } => cmd_agent(&config),
        Command::Console {
            repo,
            backup,
            suspend,
            wait,
            no_wait,
            command,
        } => {
            use mc_gitops::storage::requests::Action;
            let (action, command) = match (backup, suspend, command.is_empty()) {
                (true, _, _) => (Action::Backup, None),
                (_, true, _) => (Action::Suspend, None),
                (_, _, false) => (Action::Console, Some(command.join(" "))),
                _ => anyhow::bail!("say what to ask: `-- <command>`, --backup or --suspend"),
            };
            let ask = mc_gitops::console::Ask {
                action,
                command,
                wait: (!no_wait).then(|| std::time::Duration::from_secs(wait.as_secs())),
            };
            runtime()?.block_on(mc_gitops::console::run(&repo.repo, ask, &mut std::io::stdout()))?;
            Ok(Done::Ok)
        }
        Command::Mods { repo, command } => {
            runtime()?.block_on(mc_gitops::modrinth::cli::run(command, &repo.repo))?;
            Ok(Done::Ok)
        }
    }
}

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

fn cmd_plan(root: &Path, json: bool, now: DateTime<Utc>) -> anyhow::Result<Done> {
    let loaded = load(root)?;
    let plan = match connect::live(root, &loaded.desired)? {
        None => {
            let mut observed = observe::ledger_only::observe(&loaded.ledger, &loaded.desired.server.name, now);
            observed.reconcile_ticks = observe::reconcile_ticks(root, now);
            plan::plan(&loaded.desired, &observed)
        }
        Some(live) => {
            let rt = runtime()?;
            let (mut observed, _) = rt.block_on(observe::live::observe(&live, &loaded.desired, &loaded.ledger, now))?;
            observed.reconcile_ticks = observe::reconcile_ticks(root, now);
            // The stored Actions minutes tally, read only: apply brings it up to date.
            let (usage, warnings) = rt.block_on(mc_gitops::actions_minutes::observe(&live.store, None, now));
            for w in warnings {
                tracing::warn!("{w}");
            }
            observed.actions = usage;
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

fn cmd_set_state(root: &Path, state: &str, region: Option<&str>) -> anyhow::Result<Done> {
    let state = match state {
        "start" | "running" => "running",
        _ => "stopped",
    };
    let loaded = load(root)?;
    let mut pairs = vec![("state", state)];
    if let Some(r) = region {
        if !loaded.desired.server.regions.keys().any(|k| k.as_str() == r) {
            let known: Vec<&str> = loaded.desired.server.regions.keys().map(|k| k.as_str()).collect();
            anyhow::bail!("server.toml has no [regions.{r}]; the regions are: {}", known.join(", "));
        }
        pairs.push(("region", r));
    }
    let changed = repo::edit::set_top_level(root, &pairs)?;
    load(root).context("server.toml after the edit")?;
    let what = pairs.iter().map(|(k, v)| format!("{k} = {v:?}")).collect::<Vec<_>>().join(", ");
    println!("server.toml: {what}{}", if changed { "" } else { " (already so)" });
    Ok(Done::Ok)
}

fn cmd_ledger(root: &Path, now: DateTime<Utc>, site: Option<&Path>) -> anyhow::Result<Done> {
    let loaded = load(root)?;
    let summaries = ledger::summaries::gather(root, &loaded.ledger, &loaded.desired, None, None, Vec::new(), now);
    let files = ledger::summaries::write_summaries(root, &summaries)?;
    if files.is_empty() {
        println!("summaries are up to date");
    }
    for f in files {
        println!("wrote {}", output::escape::value(&f));
    }
    if let Some(dir) = site {
        let written = ledger::site::write_site(root, dir, &loaded.ledger, &loaded.desired, None, &summaries)?;
        for w in &written.warnings {
            eprintln!("warning: {}", output::escape::line(&output::escape::value(w)));
        }
        for f in &written.files {
            println!("wrote {}", output::escape::value(&dir.join(f).display().to_string()));
        }
    }
    Ok(Done::Ok)
}

fn cmd_render_cloud_init(root: &Path, release: mc_gitops::cloudinit::AgentRelease, now: DateTime<Utc>) -> anyhow::Result<Done> {
    use mc_gitops::cloudinit::{self, PLACEHOLDER, UserData};
    let loaded = load(root)?;
    let session = mc_gitops::ids::SessionId::at(now, &loaded.desired.server.region);
    let config = cloudinit::for_session(&loaded.desired, session, cloudinit::placeholder_storage(&loaded.desired));
    // As if the server were created now.
    let text = UserData::new(config, release, now)?.render_at(now)?;
    eprintln!("note: R2 credentials are {PLACEHOLDER} placeholders; apply mints short-lived ones per session");
    print!("{text}");
    Ok(Done::Ok)
}

fn cmd_render_image(root: &Path, release: &mc_gitops::cloudinit::AgentRelease) -> anyhow::Result<Done> {
    let loaded = load(root)?;
    print!("{}", mc_gitops::cloudinit::render_image(&loaded.desired.server.name, release)?);
    Ok(Done::Ok)
}

fn cmd_image_build(
    root: &Path,
    server_type: Option<String>,
    timeout: mc_gitops::repo::duration::Duration,
    keep_old: bool,
) -> anyhow::Result<Done> {
    let loaded = load(root)?;
    let h = mc_gitops::hetzner::Hetzner::from_env().context("HCLOUD_TOKEN is not set: the image is built in the Hetzner project")??;
    let h = match std::env::var("MC_GITOPS_POLL_INTERVAL_MS").ok().and_then(|v| v.parse::<u64>().ok()) {
        Some(ms) => h.with_poll_interval(std::time::Duration::from_millis(ms.max(10))),
        None => h.with_poll_interval(std::time::Duration::from_secs(5)),
    };
    let opts = mc_gitops::image::BuildOptions {
        server_type: server_type.map(mc_gitops::ids::ServerType::new),
        install_timeout: std::time::Duration::from_secs(timeout.as_secs()),
        keep_old,
        ..Default::default()
    };
    let release = cmd_apply::agent_release()?;
    runtime()?.block_on(mc_gitops::image::build(
        &h,
        &loaded.desired,
        &release,
        &opts,
        &mut std::io::stdout(),
    ))?;
    Ok(Done::Ok)
}

fn cmd_agent(config: &Path) -> anyhow::Result<Done> {
    let cfg = mc_gitops::agent_toml::load(config)?;
    let rt = runtime()?;
    let phase = rt.block_on(agent::start(cfg, shutdown_signal()))?;
    eprintln!("agent stopped in phase {phase}");
    Ok(Done::Ok)
}

/// SIGTERM (systemd) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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
