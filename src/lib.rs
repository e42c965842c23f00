//! mc-gitops: an on-demand Minecraft server run from a git repository.
//!
//! The pipeline runs one way: [`repo`] parses the state repo into the desired
//! state, [`observe`] gathers what is true now, [`plan::plan`] compares the two
//! (pure), and `apply` carries the plan out one step at a time.

pub mod actions_minutes;
pub mod agent;
pub mod agent_toml;
pub mod apply;
pub mod assets;
pub mod check;
pub mod cloudflare;
pub mod cloudinit;
pub mod connect;
pub mod console;
pub mod countdown;
pub mod doctor;
pub mod error;
pub mod escape;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod gitback;
pub mod hetzner;
pub mod http;
pub mod ids;
pub mod image;
pub mod init;
pub mod inputs;
pub(crate) mod labels;
pub mod ledger;
pub mod lifecycle;
pub mod minecraft;
pub mod modrinth;
pub mod notify;
pub mod observe;
pub mod output;
pub mod plan;
pub mod repo;
pub mod schema;
pub mod secret;
pub mod shutdown;
pub mod simulate;
pub mod storage;
pub mod world;
pub mod world_admin;
