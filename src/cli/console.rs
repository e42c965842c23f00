//! `mc-gitops console`: ask the running server's agent to run a console
//! command, back up now, or suspend now, through the control channel.

use super::{Done, RepoArg, runtime};

#[derive(clap::Args)]
pub(crate) struct ConsoleArgs {
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
}

impl ConsoleArgs {
    pub(crate) fn run(self, inputs: &mc_gitops::inputs::Inputs) -> anyhow::Result<Done> {
        let ConsoleArgs {
            repo,
            backup,
            suspend,
            wait,
            no_wait,
            command,
        } = self;
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
        runtime()?.block_on(mc_gitops::console::run(inputs, &repo.repo, ask, &mut std::io::stdout()))?;
        Ok(Done::Ok)
    }
}
