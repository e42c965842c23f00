//! `mc-gitops world backup | restore | list | verify | prune | pin`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use mc_gitops::world_admin::{self as admin, WorldCommand};

use super::{Done, RepoArg, runtime};

#[derive(clap::Args)]
pub(crate) struct WorldArgs {
    #[command(flatten)]
    repo: RepoArg,
    #[command(subcommand)]
    command: WorldSubcommand,
}

impl WorldArgs {
    pub(crate) fn run(self, inputs: &mc_gitops::inputs::Inputs) -> anyhow::Result<Done> {
        runtime()?.block_on(admin::run(inputs, self.command.into(), &self.repo.repo, &mut std::io::stdout()))?;
        Ok(Done::Ok)
    }
}

#[derive(clap::Subcommand)]
pub(crate) enum WorldSubcommand {
    /// Snapshot the world directory into storage, verify it, point current.json at it.
    ///
    /// Only the pieces storage does not hold yet are uploaded (a region
    /// file unchanged since the last backup is not sent again).
    ///
    /// With --remote, ask the agent on the running server for a backup now
    /// instead (`mc-gitops console --backup`): it saves, snapshots and
    /// verifies as its periodic backup does, and the backup's name is printed.
    #[command(
        after_help = "Examples:\n  mc-gitops world backup --repo . --dir /srv/minecraft/world\n  mc-gitops world backup --dir world --pin\n  mc-gitops world backup --remote"
    )]
    Backup {
        #[command(flatten)]
        dir: DirArg,
        /// When Minecraft stopped or last saved (RFC 3339); names the backup. Default: now.
        /// A time in the future is refused (see `world::guard::MAX_CLOCK_SKEW`).
        #[arg(long, value_name = "TIME")]
        taken: Option<DateTime<Utc>>,
        /// Keep this backup whatever retention says.
        #[arg(long)]
        pin: bool,
        /// Ask the running server's agent for the backup (waits up to 2 minutes for its answer).
        #[arg(long, conflicts_with_all = ["taken", "pin"])]
        remote: bool,
    },
    /// Replace the world directory with a backup (default: the current one).
    ///
    /// Its pieces are downloaded in parallel, each checked against its
    /// sha256 before it is written beside the directory (files and
    /// directories only; a file already in the directory with the same
    /// sha256 is copied instead of downloaded), and only then swapped in.
    /// An older single-archive backup is downloaded, checked and unpacked.
    #[command(after_help = "Examples:\n  mc-gitops world restore --dir world\n  mc-gitops world restore 2026-11-22T19-30-00Z --dir world")]
    Restore {
        /// A backup name from `world list`.
        name: Option<String>,
        #[command(flatten)]
        dir: DirArg,
    },
    /// List backups, newest first: the world's size, what each added to storage, current and pinned ones.
    #[command(after_help = "Examples:\n  mc-gitops world list --repo .")]
    List,
    /// Download a backup (default: the current one) and check its sha256 (every piece's).
    ///
    /// Exit status: 0 intact, 1 corrupt or missing.
    #[command(after_help = "Examples:\n  mc-gitops world verify\n  mc-gitops world verify 2026-11-22T19-30-00Z")]
    Verify { name: Option<String> },
    /// Delete backups beyond the newest N (pinned, current and the one
    /// server.toml's `restore` names stay).
    #[command(after_help = "Examples:\n  mc-gitops world prune\n  mc-gitops world prune --keep 3")]
    Prune {
        /// How many to keep (default: lifecycle.keep_backups in server.toml).
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
    },
    /// Pin a backup so retention never deletes it (`--off` to unpin).
    #[command(after_help = "Examples:\n  mc-gitops world pin 2026-11-01T18-00-00Z\n  mc-gitops world pin 2026-11-01T18-00-00Z --off")]
    Pin {
        name: String,
        #[arg(long)]
        off: bool,
    },
}

#[derive(clap::Args)]
pub(crate) struct DirArg {
    /// The world directory.
    #[arg(long, value_name = "DIR", default_value = "world")]
    dir: PathBuf,
}

impl From<WorldSubcommand> for WorldCommand {
    fn from(c: WorldSubcommand) -> Self {
        match c {
            WorldSubcommand::Backup { dir, taken, pin, remote } => WorldCommand::Backup {
                dir: dir.dir,
                taken,
                pin,
                remote,
            },
            WorldSubcommand::Restore { name, dir } => WorldCommand::Restore { name, dir: dir.dir },
            WorldSubcommand::List => WorldCommand::List,
            WorldSubcommand::Verify { name } => WorldCommand::Verify { name },
            WorldSubcommand::Prune { keep } => WorldCommand::Prune { keep },
            WorldSubcommand::Pin { name, off } => WorldCommand::Pin { name, off },
        }
    }
}
