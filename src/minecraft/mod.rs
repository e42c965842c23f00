//! The Minecraft protocol, on its own: packets, the handshake, the Server List
//! Ping client, online-mode encryption, Mojang's session server, RCON, and the
//! port constants.
//!
//! It depends only on the foundation (`http`, `secret`), so both the agent
//! (its own server's health, the sleeping listener, the console) and the
//! reconciler (the independent "game" observation) use one protocol
//! implementation without depending on each other. Every length read off the
//! wire is bounded; each protocol quirk is a named constant beside its reason.

pub(crate) mod commands;
pub mod encryption;
pub mod handshake;
pub mod packets;
pub mod rcon;
pub mod session_server;
pub mod slp;

/// The game port: the firewall, the DNS SRV record, the sleeping listener and
/// `server.properties` all use it.
pub const GAME_PORT: u16 = 25565;
/// The RCON port of the local Minecraft server (never opened in the firewall).
pub const RCON_PORT: u16 = 25575;
