//! RCON client for the local Minecraft server (Source RCON over TCP): the
//! protocol only; the commands and the answers Minecraft gives them live in
//! `agent::console`.
//!
//! Shaped around the protocol's traps: a reply may span several packets
//! with no end marker, so every command is followed by an empty
//! `SERVERDATA_RESPONSE_VALUE` packet whose echo closes the reply (vanilla
//! answers it with "Unknown request 0", SRCDS-style servers with an empty
//! packet and a second one, which is skipped on the next read). The marker
//! goes out only once the first packet of the reply is in: vanilla reads
//! each request with one `read()` and drops the connection when that read
//! holds more than one packet. Lengths are checked before allocating,
//! request ids stay positive (id -1 means "auth failed", and some servers
//! reject 0), and commands longer than Minecraft's limit are refused before
//! they are sent. `cmd` takes `&mut self`, so one command runs at a time.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::secret::Secret;

/// Smallest packet: id + type + two NULs.
pub const MIN_PACKET: i32 = 10;
/// Largest packet accepted. Vanilla cuts replies every 4096 UTF-16 units,
/// and each is up to 3 bytes in UTF-8.
pub const MAX_PACKET: i32 = 3 * 4096 + MIN_PACKET;
/// Minecraft drops commands longer than this (RconClient's 1446-byte buffer).
pub const MAX_COMMAND: usize = 1446;
/// Stops a misbehaving server from growing a reply without bound.
const MAX_REPLY: usize = 1 << 20;

const SERVERDATA_AUTH: i32 = 3;
const SERVERDATA_AUTH_RESPONSE: i32 = 2;
const SERVERDATA_EXECCOMMAND: i32 = 2;
const SERVERDATA_RESPONSE_VALUE: i32 = 0;

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
}

impl RconError {
    /// Whether the command never left this side (the connection is still good).
    pub fn refused_before_sending(&self) -> bool {
        matches!(self, RconError::CommandTooLong { .. } | RconError::BadCommand)
    }

    /// Whether the server hung up or reset: the JVM stopped or restarted.
    pub fn connection_lost(&self) -> bool {
        matches!(self, RconError::Closed | RconError::Truncated { .. } | RconError::Io(_))
    }
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

    /// Run one command and return its whole reply, each packet awaited up
    /// to the connection's timeout.
    pub async fn cmd(&mut self, command: &str) -> Result<String, RconError> {
        self.cmd_within(command, self.timeout).await
    }

    /// [`Rcon::cmd`] with another wait per packet, for a command that
    /// answers only when its work is done (`save-all flush`).
    pub async fn cmd_within(&mut self, command: &str, after: Duration) -> Result<String, RconError> {
        let id = self.send_command(command).await?;
        let mut reply = self.recv_reply_to(id, after).await?;
        // The server is done with the command: now it may read the marker.
        let marker = self.take_id();
        self.send(marker, SERVERDATA_RESPONSE_VALUE, b"").await?;
        loop {
            let p = self.recv_within("command", after).await?;
            if p.id == id {
                if reply.len() + p.body.len() > MAX_REPLY {
                    return Err(RconError::ReplyTooLong);
                }
                reply.extend_from_slice(&p.body);
            } else if p.id == marker {
                break;
            } else if Some(p.id) != self.stale {
                return Err(RconError::UnexpectedId { expected: id, got: p.id });
            }
        }
        self.stale = Some(marker);
        Ok(String::from_utf8_lossy(&reply).into_owned())
    }

    /// Ask Minecraft to stop. The first reply packet is enough (no marker:
    /// the server is going away, and may close the connection before it
    /// answers at all, which is success too).
    pub async fn stop(&mut self) -> Result<(), RconError> {
        let id = self.send_command("stop").await?;
        match self.recv_reply_to(id, self.timeout).await {
            Ok(_) | Err(RconError::Closed) => Ok(()),
            Err(RconError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Check a command and send it; its request id.
    async fn send_command(&mut self, command: &str) -> Result<i32, RconError> {
        if command.len() > MAX_COMMAND {
            return Err(RconError::CommandTooLong { len: command.len() });
        }
        if command.contains(['\0', '\n', '\r']) {
            return Err(RconError::BadCommand);
        }
        let id = self.take_id();
        self.send(id, SERVERDATA_EXECCOMMAND, command.as_bytes()).await?;
        Ok(id)
    }

    /// The first packet answering `id`, past the previous marker's leftovers.
    async fn recv_reply_to(&mut self, id: i32, after: Duration) -> Result<Vec<u8>, RconError> {
        loop {
            let p = self.recv_within("command", after).await?;
            match p.id {
                got if got == id => return Ok(p.body),
                got if Some(got) == self.stale => continue,
                got => return Err(RconError::UnexpectedId { expected: id, got }),
            }
        }
    }

    /// Ids count up from 1 and wrap back to 1: never 0 (rejected by some
    /// servers) and never negative (-1 is the auth-failure id).
    fn take_id(&mut self) -> i32 {
        let id = self.next_id;
        self.next_id = if id == i32::MAX { 1 } else { id + 1 };
        id
    }

    async fn send(&mut self, id: i32, kind: i32, body: &[u8]) -> Result<(), RconError> {
        let after = self.timeout;
        tokio::time::timeout(after, self.stream.write_all(&encode(id, kind, body)))
            .await
            .map_err(|_| RconError::Timeout { what: "write", after })??;
        Ok(())
    }

    async fn recv(&mut self, what: &'static str) -> Result<Packet, RconError> {
        self.recv_within(what, self.timeout).await
    }

    async fn recv_within(&mut self, what: &'static str, after: Duration) -> Result<Packet, RconError> {
        tokio::time::timeout(after, read_packet(&mut self.stream))
            .await
            .map_err(|_| RconError::Timeout { what, after })?
    }
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
        assert!(err.refused_before_sending() && !err.connection_lost());
        let err = rcon.cmd("list\nop Eve").await.unwrap_err();
        assert!(matches!(err, RconError::BadCommand), "{err}");
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

    /// Vanilla reads a request with one `read()` of up to 1460 bytes and
    /// hangs up unless it holds exactly one packet.
    async fn vanilla_like(listener: tokio::net::TcpListener) {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1460];
        loop {
            // Let whatever the client sends back to back arrive first.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let n = s.read(&mut buf).await.unwrap();
            if n < 12 || i32::from_le_bytes(buf[0..4].try_into().unwrap()) as usize != n - 4 {
                return;
            }
            let id = i32::from_le_bytes(buf[4..8].try_into().unwrap());
            let reply = match i32::from_le_bytes(buf[8..12].try_into().unwrap()) {
                SERVERDATA_AUTH => encode(id, SERVERDATA_AUTH_RESPONSE, b""),
                SERVERDATA_EXECCOMMAND => [
                    encode(id, SERVERDATA_RESPONSE_VALUE, &[b'x'; 4096]),
                    encode(id, SERVERDATA_RESPONSE_VALUE, b"yz"),
                ]
                .concat(),
                kind => encode(id, SERVERDATA_RESPONSE_VALUE, format!("Unknown request {kind:x}").as_bytes()),
            };
            s.write_all(&reply).await.unwrap();
        }
    }

    /// Regression: the end marker once went out in the same write as the
    /// command, and vanilla dropped the connection without answering.
    #[tokio::test]
    async fn vanilla_gets_one_packet_per_read_and_multi_packet_replies_join() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(vanilla_like(listener));
        let mut rcon = Rcon::connect(addr, &Secret::new("pw"), Duration::from_secs(5)).await.unwrap();
        for _ in 0..2 {
            let reply = rcon.cmd("list").await.unwrap();
            assert_eq!(reply.len(), 4098);
            assert!(reply.ends_with("xyz"));
        }
    }
}
