//! RCON client for the local Minecraft server (Source RCON over TCP).
//!
//! Shaped around the protocol's traps: a reply may span several packets
//! with no end marker, so every command is followed by an empty
//! `SERVERDATA_RESPONSE_VALUE` packet whose echo closes the reply (vanilla
//! answers it with "Unknown request 0", SRCDS-style servers with an empty
//! packet and a second one, which is skipped on the next read). Lengths are
//! checked before allocating, request ids stay positive (id -1 means "auth
//! failed", and some servers reject 0), and commands longer than Minecraft's
//! limit are refused before they are sent. `cmd` takes `&mut self`, so one
//! command runs at a time; share a client as [`SharedRcon`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::ids::PlayerName;
use crate::secret::Secret;

/// Smallest packet: id + type + two NULs.
pub const MIN_PACKET: i32 = 10;
/// Largest packet accepted: a 4096-byte body plus headroom servers use.
pub const MAX_PACKET: i32 = 4110;
/// Minecraft drops commands longer than this (RconClient's 1446-byte buffer).
pub const MAX_COMMAND: usize = 1446;
/// Stops a misbehaving server from growing a reply without bound.
const MAX_REPLY: usize = 1 << 20;

const SERVERDATA_AUTH: i32 = 3;
const SERVERDATA_AUTH_RESPONSE: i32 = 2;
const SERVERDATA_EXECCOMMAND: i32 = 2;
const SERVERDATA_RESPONSE_VALUE: i32 = 0;

pub type SharedRcon = Arc<tokio::sync::Mutex<Rcon>>;

#[derive(Debug, thiserror::Error)]
pub enum RconError {
    #[error("cannot connect to RCON at {addr}: {source}")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("RCON at {addr} rejected the password (check rcon.password in server.properties)")]
    AuthRejected { addr: SocketAddr },
    #[error("RCON {what} timed out after {after:?}")]
    Timeout { what: &'static str, after: Duration },
    #[error("RCON connection closed by the server")]
    Closed,
    #[error("RCON I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("RCON packet length {len} is outside {MIN_PACKET}..={MAX_PACKET}")]
    BadLength { len: i32 },
    #[error("RCON packet ends early ({got} of {want} bytes)")]
    Truncated { got: usize, want: usize },
    #[error("RCON reply carries request id {got}, expected {expected}")]
    UnexpectedId { expected: i32, got: i32 },
    #[error("RCON reply is longer than {MAX_REPLY} bytes")]
    ReplyTooLong,
    #[error("command is {len} bytes; Minecraft accepts at most {MAX_COMMAND}")]
    CommandTooLong { len: usize },
    #[error("command contains a NUL or line break")]
    BadCommand,
    #[error("{name:?} is not a Minecraft name (3–16 of A-Z, a-z, 0-9, _)")]
    BadPlayerName { name: String },
    #[error("unexpected reply to `{command}`: {reply:?}")]
    UnexpectedReply { command: &'static str, reply: String },
}

/// One decoded packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub id: i32,
    pub kind: i32,
    pub body: Vec<u8>,
}

pub fn encode(id: i32, kind: i32, body: &[u8]) -> Vec<u8> {
    let len = body.len() as i32 + MIN_PACKET;
    let mut out = Vec::with_capacity(len as usize + 4);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&[0, 0]);
    out
}

/// Read one packet, checking its length before allocating.
pub async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> Result<Packet, RconError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(RconError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = i32::from_le_bytes(len);
    if !(MIN_PACKET..=MAX_PACKET).contains(&len) {
        return Err(RconError::BadLength { len });
    }
    let want = len as usize;
    let mut buf = vec![0u8; want];
    let mut got = 0;
    while got < want {
        let n = r.read(&mut buf[got..]).await?;
        if n == 0 {
            return Err(RconError::Truncated { got, want });
        }
        got += n;
    }
    let id = i32::from_le_bytes(buf[0..4].try_into().expect("4 bytes"));
    let kind = i32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
    // The body ends at the first of the two trailing NULs.
    let body = &buf[8..want - 2];
    let body = body.iter().position(|b| *b == 0).map_or(body, |i| &body[..i]);
    Ok(Packet {
        id,
        kind,
        body: body.to_vec(),
    })
}

pub struct Rcon {
    stream: TcpStream,
    next_id: i32,
    timeout: Duration,
    /// The previous command's marker id: SRCDS-style servers send a second
    /// packet for it, which arrives at the start of the next reply.
    stale: Option<i32>,
}

impl Rcon {
    /// Connect and authenticate.
    pub async fn connect(addr: SocketAddr, password: &Secret, timeout: Duration) -> Result<Rcon, RconError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| RconError::Timeout {
                what: "connect",
                after: timeout,
            })?
            .map_err(|source| RconError::Connect { addr, source })?;
        let _ = stream.set_nodelay(true);
        let mut rcon = Rcon {
            stream,
            next_id: 1,
            timeout,
            stale: None,
        };
        let id = rcon.take_id();
        rcon.send(id, SERVERDATA_AUTH, password.expose().as_bytes()).await?;
        loop {
            let p = rcon.recv("authentication").await?;
            match (p.kind, p.id) {
                // SRCDS sends an empty RESPONSE_VALUE before the verdict.
                (SERVERDATA_RESPONSE_VALUE, _) => continue,
                (SERVERDATA_AUTH_RESPONSE, -1) => return Err(RconError::AuthRejected { addr }),
                (SERVERDATA_AUTH_RESPONSE, got) if got == id => return Ok(rcon),
                (_, got) => return Err(RconError::UnexpectedId { expected: id, got }),
            }
        }
    }

    /// Run one command and return its whole reply.
    pub async fn cmd(&mut self, command: &str) -> Result<String, RconError> {
        if command.len() > MAX_COMMAND {
            return Err(RconError::CommandTooLong { len: command.len() });
        }
        if command.contains(['\0', '\n', '\r']) {
            return Err(RconError::BadCommand);
        }
        let id = self.take_id();
        let marker = self.take_id();
        let mut out = encode(id, SERVERDATA_EXECCOMMAND, command.as_bytes());
        out.extend(encode(marker, SERVERDATA_RESPONSE_VALUE, b""));
        self.write(&out).await?;
        let mut reply = Vec::new();
        loop {
            let p = self.recv("command").await?;
            if p.id == id {
                if reply.len() + p.body.len() > MAX_REPLY {
                    return Err(RconError::ReplyTooLong);
                }
                reply.extend_from_slice(&p.body);
            } else if p.id == marker {
                break;
            } else if Some(p.id) == self.stale {
                continue;
            } else {
                return Err(RconError::UnexpectedId { expected: id, got: p.id });
            }
        }
        self.stale = Some(marker);
        Ok(String::from_utf8_lossy(&reply).into_owned())
    }

    /// Players online, from 1.20.1's `There are N of a max of M players online: a, b`.
    pub async fn list_players(&mut self) -> Result<Vec<PlayerName>, RconError> {
        let reply = self.cmd("list").await?;
        parse_list(&reply).ok_or(RconError::UnexpectedReply { command: "list", reply })
    }

    pub async fn save_off(&mut self) -> Result<String, RconError> {
        self.cmd("save-off").await
    }

    /// Returns once the world is written: `save-all flush` replies after the flush.
    pub async fn save_all_flush(&mut self) -> Result<String, RconError> {
        self.cmd("save-all flush").await
    }

    pub async fn save_on(&mut self) -> Result<String, RconError> {
        self.cmd("save-on").await
    }

    /// Ask Minecraft to stop. The server may close the connection before
    /// the reply's end marker arrives; that is success too.
    pub async fn stop(&mut self) -> Result<(), RconError> {
        match self.cmd("stop").await {
            Ok(_) | Err(RconError::Closed) => Ok(()),
            Err(RconError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn whitelist_add(&mut self, name: &PlayerName) -> Result<String, RconError> {
        self.cmd(&format!("whitelist add {}", checked(name)?)).await
    }

    pub async fn whitelist_remove(&mut self, name: &PlayerName) -> Result<String, RconError> {
        self.cmd(&format!("whitelist remove {}", checked(name)?)).await
    }

    pub async fn op(&mut self, name: &PlayerName) -> Result<String, RconError> {
        self.cmd(&format!("op {}", checked(name)?)).await
    }

    pub async fn deop(&mut self, name: &PlayerName) -> Result<String, RconError> {
        self.cmd(&format!("deop {}", checked(name)?)).await
    }

    /// Ids count up from 1 and wrap back to 1: never 0 (rejected by some
    /// servers) and never negative (-1 is the auth-failure id).
    fn take_id(&mut self) -> i32 {
        let id = self.next_id;
        self.next_id = if id == i32::MAX { 1 } else { id + 1 };
        id
    }

    async fn send(&mut self, id: i32, kind: i32, body: &[u8]) -> Result<(), RconError> {
        self.write(&encode(id, kind, body)).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), RconError> {
        let after = self.timeout;
        tokio::time::timeout(after, self.stream.write_all(bytes))
            .await
            .map_err(|_| RconError::Timeout { what: "write", after })??;
        Ok(())
    }

    async fn recv(&mut self, what: &'static str) -> Result<Packet, RconError> {
        let after = self.timeout;
        tokio::time::timeout(after, read_packet(&mut self.stream))
            .await
            .map_err(|_| RconError::Timeout { what, after })?
    }
}

/// A name goes into a command line only if it is a valid Minecraft name, so
/// nothing after it can ride along (`Steve op Mallory`).
fn checked(name: &PlayerName) -> Result<&str, RconError> {
    let s = name.as_str();
    if (3..=16).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        Ok(s)
    } else {
        Err(RconError::BadPlayerName { name: s.to_string() })
    }
}

/// `There are 2 of a max of 20 players online: Steve, Alex`; `None` when the
/// reply has another shape or the count disagrees with the names.
pub fn parse_list(reply: &str) -> Option<Vec<PlayerName>> {
    let rest = reply.trim_end().strip_prefix("There are ")?;
    let (count, rest) = rest.split_once(" of a max of ")?;
    let count: usize = count.trim().parse().ok()?;
    let (_max, names) = rest.split_once(" players online:")?;
    let names: Vec<PlayerName> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(PlayerName::new)
        .collect();
    (names.len() == count).then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(len: i32, rest: &[u8]) -> Vec<u8> {
        let mut v = len.to_le_bytes().to_vec();
        v.extend_from_slice(rest);
        v
    }

    #[tokio::test]
    async fn encode_then_read_round_trips() {
        let bytes = encode(7, SERVERDATA_EXECCOMMAND, b"list");
        assert_eq!(&bytes[0..4], &14i32.to_le_bytes());
        let p = read_packet(&mut bytes.as_slice()).await.unwrap();
        assert_eq!(
            p,
            Packet {
                id: 7,
                kind: 2,
                body: b"list".to_vec()
            }
        );
    }

    #[tokio::test]
    async fn oversized_and_undersized_lengths_are_errors() {
        for len in [MAX_PACKET + 1, i32::MAX, MIN_PACKET - 1, 0, -5] {
            let err = read_packet(&mut raw(len, &[0; 16]).as_slice()).await.unwrap_err();
            assert!(matches!(err, RconError::BadLength { len: l } if l == len), "{len}: {err}");
        }
    }

    #[tokio::test]
    async fn truncated_packet_is_an_error() {
        let mut bytes = encode(1, 0, b"hello");
        bytes.truncate(bytes.len() - 3);
        let err = read_packet(&mut bytes.as_slice()).await.unwrap_err();
        assert!(matches!(err, RconError::Truncated { got: 12, want: 15 }), "{err}");
        let err = read_packet(&mut [1u8, 0].as_slice()).await.unwrap_err();
        assert!(matches!(err, RconError::Closed), "{err}");
    }

    #[tokio::test]
    async fn wrong_id_in_a_reply_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let auth = read_packet(&mut s).await.unwrap();
            s.write_all(&encode(auth.id, SERVERDATA_AUTH_RESPONSE, b"")).await.unwrap();
            let _cmd = read_packet(&mut s).await.unwrap();
            s.write_all(&encode(999, SERVERDATA_RESPONSE_VALUE, b"not yours")).await.unwrap();
            s
        });
        let mut rcon = Rcon::connect(addr, &Secret::new("pw"), Duration::from_secs(5)).await.unwrap();
        let err = rcon.cmd("list").await.unwrap_err();
        assert!(matches!(err, RconError::UnexpectedId { expected: 2, got: 999 }), "{err}");
        drop(server.await.unwrap());
    }

    #[tokio::test]
    async fn long_commands_are_refused_before_sending() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let auth = read_packet(&mut s).await.unwrap();
            s.write_all(&encode(auth.id, SERVERDATA_AUTH_RESPONSE, b"")).await.unwrap();
            // Nothing else may arrive: the next read sees the client close.
            read_packet(&mut s).await.unwrap_err()
        });
        let mut rcon = Rcon::connect(addr, &Secret::new("pw"), Duration::from_secs(5)).await.unwrap();
        let err = rcon.cmd(&"a".repeat(MAX_COMMAND + 1)).await.unwrap_err();
        assert!(matches!(err, RconError::CommandTooLong { len: 1447 }), "{err}");
        assert!(matches!(
            rcon.whitelist_add(&PlayerName::new("x op Eve")).await,
            Err(RconError::BadPlayerName { .. })
        ));
        drop(rcon);
        assert!(matches!(server.await.unwrap(), RconError::Closed));
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_ids_skip_zero_and_negatives() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let auth = read_packet(&mut s).await.unwrap();
            s.write_all(&encode(auth.id, SERVERDATA_AUTH_RESPONSE, b"")).await.unwrap();
            // Read the command, never answer.
            let _ = read_packet(&mut s).await;
            let _ = read_packet(&mut s).await;
            s
        });
        let mut rcon = Rcon::connect(addr, &Secret::new("pw"), Duration::from_millis(300)).await.unwrap();
        let err = rcon.cmd("list").await.unwrap_err();
        assert!(matches!(err, RconError::Timeout { what: "command", .. }), "{err}");
        rcon.next_id = i32::MAX;
        assert_eq!((rcon.take_id(), rcon.take_id()), (i32::MAX, 1));
        drop(server);
    }

    #[test]
    fn list_reply_of_1_20_1_parses() {
        let names = |v: Option<Vec<PlayerName>>| v.map(|v| v.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        assert_eq!(
            names(parse_list("There are 2 of a max of 20 players online: Steve, Alex")),
            Some(vec!["Steve".into(), "Alex".into()])
        );
        assert_eq!(names(parse_list("There are 0 of a max of 20 players online: ")), Some(vec![]));
        assert_eq!(parse_list("There are 3 of a max of 20 players online: Steve"), None);
        assert_eq!(parse_list("Unknown command"), None);
    }
}
