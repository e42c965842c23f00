//! `mc-gitops completions SHELL` and `mc-gitops man`: the shell completion
//! script and the manual pages, both generated from the same clap
//! definition as `--help`, so they cannot drift from the commands.
//!
//! `man` prints the top page (mc-gitops.1) by default; `--out DIR` writes
//! one page per command as packagers install them: mc-gitops.1,
//! mc-gitops-plan.1, mc-gitops-world-backup.1, …

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;

use super::{Cli, Done};

/// The name users type, and the one the completion script registers.
const BIN: &str = "mc-gitops";

#[derive(clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

impl CompletionsArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        completions(self.shell)
    }
}

#[derive(clap::Args)]
pub(crate) struct ManArgs {
    /// Write every page into this directory instead of printing the top one.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

impl ManArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        man(self.out.as_deref())
    }
}

fn completions(shell: clap_complete::Shell) -> anyhow::Result<Done> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut script);
    let mut script = String::from_utf8(script).context("the completion script is not UTF-8")?;
    if shell == clap_complete::Shell::Bash {
        script = bash_hyphen_quirk(&script);
    }
    print!("{script}");
    Ok(Done::Ok)
}

/// clap_complete's bash script spells a subcommand's state two ways when
/// the binary's name has a hyphen (clap-rs/clap#6421, open in 4.6.12): the
/// loop that walks the words builds `mc__gitops__subcmd__init`, the `case`
/// arms read `mc__subcmd__gitops__subcmd__init`, so nothing after a
/// subcommand completes (`mc-gitops init --<Tab>`). The arms are respelt
/// the loop's way; once clap fixes it the buggy spelling is absent and
/// this changes nothing.
fn bash_hyphen_quirk(script: &str) -> String {
    let broken = format!("{}__subcmd__", BIN.replace('-', "__subcmd__"));
    let fixed = format!("{}__subcmd__", BIN.replace('-', "__"));
    script.replace(&broken, &fixed)
}

fn man(out: Option<&Path>) -> anyhow::Result<Done> {
    let cmd = Cli::command();
    match out {
        None => {
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .context("cannot write the man page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir).with_context(|| format!("cannot write man pages into {}", dir.display()))?;
            let mut pages: Vec<_> = std::fs::read_dir(dir)
                .with_context(|| format!("cannot list {}", dir.display()))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(BIN) && n.ends_with(".1"))
                .collect();
            pages.sort();
            for p in pages {
                eprintln!("wrote {}", dir.join(p).display());
            }
        }
    }
    Ok(Done::Ok)
}
