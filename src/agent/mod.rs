//! `mc-gitops agent`: the watchdog beside the Minecraft server on the VPS.
//!
//! [`run::Agent`] is the loop (one task, driven by the shared lifecycle
//! transition function); [`traits`] are the ports it drives, so the loop is
//! tested on tokio's paused clock with in-memory fakes; [`config`] reads
//! `agent.toml`; [`control`] is the control channel's agent end; [`nudge`]
//! asks the reconciler to look now; [`start`] wires the real ports together.

pub mod billing;
pub mod config;
pub mod control;
pub mod jvm;
pub mod nudge;
pub mod provision;
pub mod run;
pub mod traits;
pub mod unwired;

use std::future::Future;

use chrono::Utc;

use crate::lifecycle::Phase;
use crate::storage::{StorageError, Store};
use config::{AgentConfig, StorageConfig};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("opening storage")]
    Storage(#[from] StorageError),
    #[error("the R2 bucket {bucket} at {endpoint}: this build reaches storage through a local directory only; use `dir` in [storage]")]
    R2 { bucket: String, endpoint: String },
    #[error("setting up the nudge")]
    Nudge(#[from] nudge::NudgeError),
    #[error("building the download client")]
    Client(#[source] reqwest::Error),
}

/// The store the config names: a local directory or an R2 bucket.
pub fn open_store(cfg: &AgentConfig) -> Result<Store, StartError> {
    match &cfg.storage {
        StorageConfig::Dir(dir) => Ok(Store::local(dir, &cfg.server)?),
        // object_store's `aws` feature turns on reqwest's http2, which
        // changes how the shared HTTP sender's timeouts behave (the Hetzner
        // resilience test catches it); R2 waits until that is sorted out.
        StorageConfig::R2 { bucket, endpoint, .. } => Err(StartError::R2 {
            bucket: bucket.clone(),
            endpoint: endpoint.clone(),
        }),
    }
}

/// Run the agent with the real ports until `shutdown` resolves.
pub async fn start(cfg: AgentConfig, shutdown: impl Future<Output = ()>) -> Result<Phase, StartError> {
    let store = open_store(&cfg)?;
    let (minecraft, console) = jvm::Jvm::new(cfg.minecraft_dir.clone(), cfg.java.clone());
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(StartError::Client)?;
    let ports = run::Ports {
        minecraft,
        console,
        snapshots: unwired::NoSnapshots { store: store.clone() },
        listener: unwired::NoListener,
        provision: provision::FilesProvision {
            store: store.clone(),
            dir: cfg.minecraft_dir.clone(),
            client,
            game_port: cfg.game_port,
            rcon_port: cfg.rcon_port,
            rcon_password: provision::rcon_password(),
            world: unwired::NoSnapshots { store: store.clone() },
        },
        control: control::StoreControl { store },
        nudge: nudge::GitHubNudge::from_config(cfg.nudge.clone())?,
    };
    let agent = run::Agent::new(ports, cfg.timers.clone(), run::Clock::starting_at(Utc::now()), cfg.server_created);
    Ok(agent.run(shutdown).await)
}

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod tests;
