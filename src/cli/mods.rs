//! `mc-gitops mods lock | update | export`: the admin's commands for mods.

use super::{Done, RepoArg, runtime};

#[derive(clap::Args)]
pub(crate) struct ModsArgs {
    #[command(flatten)]
    repo: RepoArg,
    #[command(subcommand)]
    command: mc_gitops::modrinth::cli::ModsCommand,
}

impl ModsArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        runtime()?.block_on(mc_gitops::modrinth::cli::run(self.command, &self.repo.repo))?;
        Ok(Done::Ok)
    }
}
