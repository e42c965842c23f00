//! The `mc-gitops` command. Parses arguments, runs one subcommand (each is a
//! file of `src/cli/`), and maps every outcome to an exit code in one place:
//! 0 nothing to do (or success), 2 the plan has changes, 1 an error.

use std::process::ExitCode;

use clap::Parser;
use mc_gitops::inputs::Inputs;

use cli::image::ImageCommand;
use cli::render::RenderCommand;
use cli::{Cli, Command, Done};

mod cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.color.apply();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MC_GITOPS_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(|| mc_gitops::escape::SafeStderr)
        .init();
    // The environment, read once (src/inputs.rs lists every variable).
    let inputs = mc_gitops::inputs::Inputs::from_env();
    match run(cli.command, &inputs) {
        Ok(Done::Ok) => ExitCode::SUCCESS,
        Ok(Done::Changes) => ExitCode::from(2),
        #[cfg(feature = "fault-injection")]
        Ok(Done::Crashed) => ExitCode::from(mc_gitops::fault::CRASH_EXIT),
        Err(e) => {
            cli::report(&e);
            ExitCode::from(1)
        }
    }
}

fn run(cmd: Command, inputs: &Inputs) -> anyhow::Result<Done> {
    match cmd {
        Command::Simulate(a) => a.run(),
        Command::Plan(a) => a.run(inputs),
        Command::Apply(a) => a.run(inputs),
        Command::Check(a) => a.run(inputs),
        Command::Mods(a) => a.run(inputs),
        Command::World(a) => a.run(inputs),
        Command::Console(a) => a.run(inputs),
        Command::Image(ImageCommand::Build(a)) => a.run(inputs),
        Command::Render(RenderCommand::CloudInit(a)) => a.run(),
        Command::Render(RenderCommand::Image(a)) => a.run(),
        Command::Agent(a) => a.run(inputs),
        Command::Doctor(a) => a.run(inputs),
        Command::Init(a) => a.run(),
        Command::Completions(a) => a.run(),
        Command::Man(a) => a.run(),
        Command::SetState(a) => a.run(),
        Command::Ledger(a) => a.run(),
        Command::Schema(a) => a.run(),
    }
}
