//! `mc-gitops agent`: the watchdog beside the Minecraft server on the VPS,
//! run until SIGTERM or Ctrl-C.

use std::path::PathBuf;

use mc_gitops::agent;

use super::{Done, runtime};

#[derive(clap::Args)]
pub(crate) struct AgentArgs {
    /// The agent's config file (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

impl AgentArgs {
    pub(crate) fn run(self, inputs: &mc_gitops::inputs::Inputs) -> anyhow::Result<Done> {
        let cfg = mc_gitops::agent_toml::load(&self.config)?;
        let rt = runtime()?;
        let phase = rt.block_on(agent::start(cfg, inputs, shutdown_signal()))?;
        eprintln!("agent stopped in phase {phase}");
        Ok(Done::Ok)
    }
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
