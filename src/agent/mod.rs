//! `mc-gitops agent`: the watchdog beside the Minecraft server on the VPS.
//!
//! `run::Agent` is the loop (one task, driven by the shared lifecycle
//! transition function); [`traits`] are the ports it drives, so the loop is
//! tested on tokio's paused clock with in-memory fakes; [`crate::agent_toml`] reads
//! `agent.toml`; [`control`] is the control channel's agent end, and
//! [`renew`] keeps its short-lived storage credentials current;
//! [`requests`] runs the admin's requests (a console command, a backup,
//! suspend) exactly once; [`nudge`]
//! asks the reconciler to look now (with the settings apply leaves in the
//! store); `crate::shutdown::billing` decides how long a suspended server stays warm;
//! [`start`] wires the real ports together.
//! The Minecraft side: [`jvm`] runs the server as the agent's child (the one
//! process model: the agent unit is the JVM's parent, see docs/vps.md), as
//! the separate user [`user`] resolves, and
//! [`console`] drives it over RCON with the password [`start`] generates.
//! The protocol itself lives in [`crate::minecraft`] (RCON, the Server List
//! Ping client the reconciler uses too, the login packets, Mojang's session
//! server); here [`sleeping`] is the listener that answers on the game port
//! while Minecraft is stopped, which wakes the server only for a whitelisted
//! player who passes Minecraft's online-mode login ([`wake_limit`] the bound
//! on failed logins).

pub mod console;
pub mod control;
pub mod jvm;
pub mod nudge;
pub(crate) mod provision;
pub mod renew;
pub mod requests;
pub(crate) mod run;
pub mod sleeping;
pub mod traits;
pub mod user;
pub mod wake_limit;
pub(crate) mod wiring;

use std::future::Future;
use std::sync::Arc;

use chrono::Utc;

use crate::agent_toml::{AgentConfig, StorageConfig};
use crate::lifecycle::Phase;
use crate::storage::{StorageError, Store};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("opening storage")]
    Storage(#[from] StorageError),
    #[error("opening the R2 bucket {bucket} at {endpoint}")]
    R2 {
        bucket: String,
        endpoint: String,
        #[source]
        source: Box<object_store::Error>,
    },
    #[error("building the download client")]
    Client(#[source] reqwest::Error),
    #[error("the session server address {url}")]
    SessionServer {
        url: String,
        #[source]
        source: Box<crate::http::HttpError>,
    },
    #[error("the user Minecraft runs as")]
    User(#[from] user::UserError),
}

/// The store the config names: a local directory or an R2 bucket, and for
/// expiring R2 keys the [`renew::Renewer`] that keeps them current (the S3
/// client signs with whatever it holds now).
pub fn open_store(cfg: &AgentConfig) -> Result<(Store, Option<renew::Renewer>), StartError> {
    match &cfg.storage {
        StorageConfig::Dir(dir) => Ok((Store::local(dir, &cfg.server)?, None)),
        StorageConfig::R2 {
            endpoint,
            bucket,
            access_key_id,
            secret_access_key,
            session_token,
            life,
        } => {
            let shared = renew::SharedCredentials::new(
                object_store::aws::AwsCredential {
                    key_id: access_key_id.expose().to_string(),
                    secret_key: secret_access_key.expose().to_string(),
                    token: session_token.as_ref().map(|t| t.expose().to_string()),
                },
                *life,
            );
            let s3 = object_store::aws::AmazonS3Builder::new()
                .with_endpoint(endpoint)
                .with_bucket_name(bucket)
                .with_region("auto")
                .with_credentials(Arc::new(renew::RenewingProvider(shared.clone())))
                // Plain http only for a local test server.
                .with_allow_http(endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"))
                .build()
                .map_err(|source| StartError::R2 {
                    bucket: bucket.clone(),
                    endpoint: endpoint.clone(),
                    source: Box::new(source),
                })?;
            let store = Store::from_object_store(Arc::new(s3), &cfg.server, format!("R2 bucket {bucket}"));
            let renewer = match (life, &cfg.session) {
                (Some(_), Some(session)) => Some(renew::Renewer::new(store.clone(), shared, session.clone())),
                (Some(_), None) => {
                    tracing::warn!("agent.toml names no session, and renewed credentials are per session: these are never renewed");
                    None
                }
                (None, _) => None,
            };
            Ok((store, renewer))
        }
    }
}

/// Run the agent with the real ports until `shutdown` resolves.
pub async fn start(cfg: AgentConfig, inputs: &crate::inputs::Inputs, shutdown: impl Future<Output = ()>) -> Result<Phase, StartError> {
    let run_as = cfg.minecraft_user.as_deref().map(user::RunAs::lookup).transpose()?;
    let (store, renewer) = open_store(&cfg)?;
    // Made once, here: written into server.properties, used by the console, nowhere else.
    let rcon_password = provision::rcon_password();
    let console = console::RconConsole::new(std::net::SocketAddr::from(([127, 0, 0, 1], cfg.rcon_port)), rcon_password.clone())
        .with_properties(cfg.minecraft_dir.join("server.properties"));
    let minecraft = jvm::Jvm::new(cfg.minecraft_dir.clone(), cfg.java.clone(), console.clone()).run_as(run_as.clone());
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(StartError::Client)?;
    let ports = run::Ports {
        minecraft,
        console,
        snapshots: wiring::WorldSnapshots {
            store: store.clone(),
            world_dir: cfg.minecraft_dir.join("world"),
            session: cfg.session.clone(),
        },
        listener: wiring::GamePortListener {
            addr: std::net::SocketAddr::from(([0, 0, 0, 0], cfg.game_port)),
            motd: cfg.motd.clone(),
            max_players: 20,
            session_server: crate::minecraft::session_server::SessionServer::new(&cfg.session_server).map_err(|source| {
                StartError::SessionServer {
                    url: cfg.session_server.clone(),
                    source: Box::new(source),
                }
            })?,
        },
        provision: provision::FilesProvision {
            store: store.clone(),
            dir: cfg.minecraft_dir.clone(),
            client,
            game_port: cfg.game_port,
            rcon_port: cfg.rcon_port,
            rcon_password,
            world: wiring::WorldSnapshots {
                store: store.clone(),
                world_dir: cfg.minecraft_dir.join("world"),
                session: cfg.session.clone(),
            },
            owner: run_as,
            java: cfg.java.first().cloned(),
            placed: None,
        },
        nudge: nudge::GitHubNudge::from_inputs(inputs, store.clone()),
        control: control::StoreControl {
            store,
            renewer,
            record: requests::Record::for_agent(&cfg.minecraft_dir, inputs.var_os(crate::inputs::Var::StateDirectory)),
        },
    };
    let agent = run::Agent::new(ports, cfg.timers.clone(), run::Clock::starting_at(Utc::now()), cfg.server_created)
        .for_session(cfg.session.clone());
    Ok(agent.run(shutdown).await)
}

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_countdown;
#[cfg(test)]
mod tests_requests;
#[cfg(test)]
mod tests_wake_uuid;
#[cfg(test)]
mod tests_warm;
