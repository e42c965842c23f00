//! `mc-gitops mods lock | update | export`: the admin's commands for mods.

use std::path::PathBuf;

use mc_gitops::modrinth::admin::{self, ModsCommand};

use super::{Done, RepoArg, runtime};

#[derive(clap::Args)]
pub(crate) struct ModsArgs {
    #[command(flatten)]
    repo: RepoArg,
    #[command(subcommand)]
    command: ModsSubcommand,
}

impl ModsArgs {
    pub(crate) fn run(self, inputs: &mc_gitops::inputs::Inputs) -> anyhow::Result<Done> {
        runtime()?.block_on(admin::run(inputs, self.command.into(), &self.repo.repo))?;
        Ok(Done::Ok)
    }
}

#[derive(clap::Subcommand)]
pub(crate) enum ModsSubcommand {
    /// Resolve mods.toml into mods.lock, keeping the versions already locked.
    ///
    /// New mods get their newest fitting version and their required
    /// dependencies, removed ones leave, pins and sides apply; every other
    /// mod keeps its locked version. The server jar (Fabric's launcher, or
    /// Mojang's jar for vanilla) is pinned too: downloaded once and its size,
    /// sha1 and sha512 recorded, which the VPS checks before running it.
    /// For Fabric, the vanilla jar the launcher would download on its first
    /// boot is pinned in `[[cache]]` (Mojang's sha1 checked, sha256
    /// recorded): apply stores it in R2 and the VPS places it during the
    /// world's restore. Every state repo needs a mods.lock, even without mods.
    /// mods.lock is written only if it changes.
    #[command(after_help = "Examples:\n  mc-gitops mods lock --repo .")]
    Lock,
    /// Move mods to their newest fitting versions and print what changed.
    ///
    /// Without SLUGs every mod and the Fabric loader and installer move (and
    /// with them the server jar); with them, only those mods. Pins in
    /// mods.toml still hold.
    #[command(after_help = "Examples:\n  mc-gitops mods update\n  mc-gitops mods update lithium sodium")]
    Update {
        /// Mods to update, as named in mods.toml or mods.lock.
        #[arg(value_name = "SLUG")]
        slugs: Vec<String>,
    },
    /// Write the locked mods as a Modrinth modpack for friends' launchers.
    #[command(after_help = "Examples:\n  mc-gitops mods export --mrpack grove.mrpack")]
    Export {
        /// Where to write the .mrpack file.
        #[arg(long, value_name = "OUT")]
        mrpack: PathBuf,
    },
}

impl From<ModsSubcommand> for ModsCommand {
    fn from(c: ModsSubcommand) -> Self {
        match c {
            ModsSubcommand::Lock => ModsCommand::Lock,
            ModsSubcommand::Update { slugs } => ModsCommand::Update { slugs },
            ModsSubcommand::Export { mrpack } => ModsCommand::Export { mrpack },
        }
    }
}
