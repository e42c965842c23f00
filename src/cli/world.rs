//! `mc-gitops world backup | restore | list | verify | prune | pin`.

use super::{Done, RepoArg, runtime};

#[derive(clap::Args)]
pub(crate) struct WorldArgs {
    #[command(flatten)]
    repo: RepoArg,
    #[command(subcommand)]
    command: mc_gitops::world::cli::WorldCommand,
}

impl WorldArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        runtime()?.block_on(mc_gitops::world::cli::run(self.command, &self.repo.repo, &mut std::io::stdout()))?;
        Ok(Done::Ok)
    }
}
