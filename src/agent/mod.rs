//! `mc-gitops agent`: the watchdog beside the Minecraft server on the VPS.
//!
//! [`run::Agent`] is the loop (one task, driven by the shared lifecycle
//! transition function); [`traits`] are the ports it drives, so the loop is
//! tested on tokio's paused clock with in-memory fakes; [`config`] reads
//! `agent.toml`; [`control`] is the control channel's agent end; [`nudge`]
//! asks the reconciler to look now.

pub mod billing;
pub mod config;
pub mod control;
pub mod run;
pub mod traits;

#[cfg(test)]
mod tests;
