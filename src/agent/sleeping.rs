//! The sleeping listener: while Minecraft is stopped (suspended), the agent
//! holds the game port itself. A status ping sees the motd with "sleeping —
//! join to wake" and 0 players; a whitelisted player who joins and proves
//! who they are wakes the server (a [`Woken`] event for the agent) and is
//! told to come back in half a minute; anyone else is told they are not on
//! the whitelist.
//!
//! Proving who they are is Minecraft's own online-mode login (`login`):
//! whitelisted names are public, so a name alone would let anyone wake the
//! server and bill until `max_session`; and a name can change hands, so the
//! account must also be the one whose UUID the whitelist lists, when it
//! lists one ([`WhitelistEntry`]). Failed logins are rate-limited per
//! address and overall (`super::wake_limit`).
//!
//! While the server terminates (the final snapshot, then waiting for the
//! reconciler to delete the VPS) it answers in stopping mode instead: a
//! status ping says "stopping", a login is told the server is shutting down,
//! and nobody wakes anything ([`Sleeping::set_stopping`]).
//!
//! Each connection has a deadline and small frame limits, at most
//! [`MAX_CONNECTIONS`] are served at once (more are closed on accept), and a
//! malformed packet just ends its connection. [`Sleeping::close`] releases
//! the port and returns once the socket is closed, so Minecraft can bind it
//! right after; dropping it only aborts the task, and the socket closes when
//! the runtime next gets to it.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

use super::wake_limit::WakeLimit;
use crate::ids::PlayerName;
use crate::minecraft::encryption::ServerKey;
use crate::minecraft::handshake::{Disconnect, Handshake, NextState, Ping, StatusRequest};
use crate::minecraft::packets::{self, PacketError};
use crate::minecraft::session_server::SessionServer;
use crate::storage::WhitelistEntry;

mod login;

pub const MAX_CONNECTIONS: usize = 32;
/// A client gets this long for its whole exchange: an online-mode login
/// needs the client to ask the session server before it answers
/// ([`RESPONSE_DEADLINE`]) and the listener to ask it after
/// (`session_server::REQUEST_TIMEOUT`).
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(20);
/// How long the listener waits for the Encryption Response.
pub const RESPONSE_DEADLINE: Duration = Duration::from_secs(12);
/// The largest frame a client may send: a Handshake (VarInt + 255-byte
/// host + port + VarInt), a Login Start (16-byte name + optional UUID), an
/// Encryption Response (two 128-byte RSA blocks). Anything bigger is not a
/// client we serve.
pub const MAX_CLIENT_FRAME: usize = 512;
/// The legacy (≤1.6) ping starts with this byte instead of a frame length.
const LEGACY_PING: u8 = 0xFE;
pub const WAKE_MESSAGE: &str = "The server is starting, try again in about 30 s";
pub const NOT_WHITELISTED: &str = "You are not on the whitelist of this server";
/// A login while the server terminates.
pub const STOPPING_MESSAGE: &str = "The server is shutting down and saving the world; try again in a few minutes";
/// Vanilla's words when the session server does not know of the join.
pub const UNVERIFIED: &str = "Failed to verify username!";
/// Vanilla's words when the session server cannot be asked.
pub const AUTH_SERVERS_DOWN: &str = "Authentication servers are down. Please try again later, sorry!";
/// A login from an address (or at a time) past the failed-login limit.
pub const RATE_LIMITED: &str = "Too many failed logins; try again in a few minutes";
/// Beside the motd in a status ping, by mode.
pub const SLEEPING_STATUS: &str = "sleeping — join to wake";
pub const STOPPING_STATUS: &str = "stopping — back soon";

#[derive(Clone, Debug)]
pub struct SleepingConfig {
    pub motd: String,
    pub max_players: u32,
    /// Who may wake the server: `desired.json`'s whitelist with its UUIDs.
    pub whitelist: Vec<WhitelistEntry>,
    pub version_name: String,
    pub protocol: i32,
    /// Where a login is checked (`hasJoined`).
    pub session_server: SessionServer,
}

/// A whitelisted player, authenticated, tried to join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Woken(pub PlayerName);

pub struct Sleeping {
    local_addr: SocketAddr,
    events: mpsc::Receiver<Woken>,
    shared: Arc<Shared>,
    /// Tells the accept task to close everything and return.
    stop: Option<oneshot::Sender<()>>,
    accept: Option<tokio::task::JoinHandle<()>>,
}

struct Shared {
    config: SleepingConfig,
    whitelist: RwLock<Vec<WhitelistEntry>>,
    stopping: AtomicBool,
    events: mpsc::Sender<Woken>,
    /// Made for this listener, as vanilla makes one per server start.
    key: ServerKey,
    limit: WakeLimit,
    /// Whitelisted names without a UUID that have woken the server, each
    /// logged once.
    name_only: Mutex<BTreeSet<PlayerName>>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The whitelist's entry for `name` (names match case-insensitively).
    fn whitelisted(&self, name: &str) -> Option<WhitelistEntry> {
        self.whitelist
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|p| p.name.as_str().eq_ignore_ascii_case(name))
            .cloned()
    }

    /// A wake for an entry without a UUID: logged once per name.
    fn name_only_match(&self, name: &PlayerName, joined: crate::ids::PlayerUuid) {
        if self.name_only.lock().unwrap_or_else(|e| e.into_inner()).insert(name.clone()) {
            tracing::warn!(
                player = %name,
                uuid = %joined,
                "{name} is whitelisted without a uuid (its player file has none yet, or desired.json was written by an older reconciler): \
                 matched by name alone; `mc-gitops check --fix` records it"
            );
        }
    }
}

impl Sleeping {
    pub async fn bind(addr: SocketAddr, config: SleepingConfig) -> std::io::Result<Sleeping> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        // RSA key generation is CPU work: off the async threads.
        let key = tokio::task::spawn_blocking(ServerKey::generate)
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        let (tx, rx) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            whitelist: RwLock::new(config.whitelist.clone()),
            config,
            stopping: AtomicBool::new(false),
            events: tx,
            key,
            limit: WakeLimit::default(),
            name_only: Mutex::new(BTreeSet::new()),
        });
        let (stop, stopped) = oneshot::channel();
        let accept = tokio::spawn(accept_loop(listener, shared.clone(), stopped));
        Ok(Sleeping {
            local_addr,
            events: rx,
            shared,
            stop: Some(stop),
            accept: Some(accept),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next wake-up. Cancel-safe, so it can sit in a `select!`.
    pub async fn next_event(&mut self) -> Option<Woken> {
        self.events.recv().await
    }

    pub fn set_whitelist(&self, entries: Vec<WhitelistEntry>) {
        *self.shared.whitelist.write().unwrap_or_else(|e| e.into_inner()) = entries;
    }

    /// Answer as stopping from now on: no login wakes anything any more.
    pub fn set_stopping(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
    }

    /// Close the port and every connection; returns once the listening
    /// socket is closed, so the port can be bound again at once.
    pub async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
    }
}

impl Drop for Sleeping {
    fn drop(&mut self) {
        // Without `close`: aborting the accept task drops the listener and,
        // with its JoinSet, every open connection, when the runtime next
        // polls it (not before this returns).
        if let Some(accept) = &self.accept {
            accept.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let accepted = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => a,
        };
        let Ok((stream, peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        conns.spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(CONNECTION_DEADLINE, serve(stream, peer.ip(), &shared)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, "sleeping listener dropped a connection: {e}"),
                Err(_) => tracing::debug!(%peer, "sleeping listener closed a connection at its deadline"),
            }
        });
    }
    // Connections first, then the listening socket, both before returning.
    conns.shutdown().await;
    drop(listener);
}

/// Read one client packet as the listener does: a frame of at most
/// [`MAX_CLIENT_FRAME`] bytes, as `(packet id, body)`.
pub async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> Result<(i32, Vec<u8>), PacketError> {
    packets::read_frame(r, MAX_CLIENT_FRAME).await
}

async fn serve(mut s: TcpStream, peer: IpAddr, shared: &Shared) -> Result<(), PacketError> {
    let first = packets::read_u8(&mut s).await?;
    if first == LEGACY_PING {
        return legacy_ping(&mut s, shared).await;
    }
    let (id, body) = packets::read_frame_after(first, &mut s, MAX_CLIENT_FRAME).await?;
    if id != Handshake::ID {
        return Err(PacketError::UnexpectedPacket { expected: 0x00, got: id });
    }
    let hs = Handshake::parse(&body)?;
    match hs.next {
        NextState::Status => status(&mut s, shared).await,
        NextState::Login => login::login(&mut s, peer, shared, hs.protocol).await,
        NextState::Other(_) => Ok(()),
    }
}

async fn status(s: &mut TcpStream, shared: &Shared) -> Result<(), PacketError> {
    let (id, body) = read_packet(s).await?;
    if id != StatusRequest::ID {
        return Ok(());
    }
    StatusRequest::parse(&body)?;
    let c = &shared.config;
    let json = serde_json::json!({
        "version": { "name": c.version_name, "protocol": c.protocol },
        "players": { "max": c.max_players, "online": 0, "sample": [] },
        "description": { "text": format!("{}\n", c.motd), "extra": [{ "text": status_text(shared), "color": "gray" }] },
    });
    let mut body = Vec::new();
    packets::write_string(&mut body, &json.to_string());
    s.write_all(&packets::frame(0x00, &body)).await?;
    // Answer the ping if one follows; a client may also just hang up.
    let (id, body) = read_packet(s).await?;
    if id == Ping::ID {
        s.write_all(&Ping::parse(&body)?.write()).await?;
    }
    Ok(())
}

fn status_text(shared: &Shared) -> &'static str {
    if shared.stopping() { STOPPING_STATUS } else { SLEEPING_STATUS }
}

/// Login Disconnect with `reason` as a chat component, in plain text
/// (before any encryption).
async fn disconnect(s: &mut TcpStream, reason: &str) -> Result<(), PacketError> {
    s.write_all(&Disconnect::text(reason).write()).await?;
    s.flush().await?;
    Ok(())
}

/// Pre-1.7 clients send 0xFE (0x01 (0xFA …)); answer with the 1.6 kick
/// packet, `§1\0protocol\0version\0motd\0online\0max` in UTF-16BE.
async fn legacy_ping(s: &mut TcpStream, shared: &Shared) -> Result<(), PacketError> {
    let c = &shared.config;
    let motd = if shared.stopping() {
        format!("{} ({STOPPING_STATUS})", c.motd)
    } else {
        c.motd.clone()
    };
    let text = format!("§1\0{}\0{}\0{}\00\0{}", c.protocol, c.version_name, motd, c.max_players);
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut out = vec![0xFF];
    out.extend_from_slice(&(units.len() as u16).to_be_bytes());
    units.iter().for_each(|u| out.extend_from_slice(&u.to_be_bytes()));
    s.write_all(&out).await?;
    Ok(())
}
