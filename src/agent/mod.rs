//! The VPS agent's protocol pieces: RCON to the local Minecraft server, the
//! Server List Ping client (also the reconciler's game observer), and the
//! sleeping listener that answers on the game port while Minecraft is stopped.

pub mod packets;
pub mod rcon;
pub mod sleeping;
pub mod slp;
