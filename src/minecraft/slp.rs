//! Server List Ping client: handshake (next state 1), status request, JSON
//! status, ping/pong. The agent uses it to see its own server come up; the
//! reconciler uses [`ping`] as its independent "game" observation.
//!
//! The whole exchange runs under one timeout, and every length read off the
//! wire is bounded (see `packets`), so a hostile or broken server cannot
//! hang the reconciler or make it allocate.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::handshake::{Handshake, NextState, Ping, StatusRequest};
use super::packets::{self, Cursor, PacketError};

/// A Minecraft Server List Ping's answer: players online, the limit, and the
/// server's version name and protocol number.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GamePing {
    pub online: u32,
    pub max: u32,
    pub version: String,
    pub protocol: i32,
}

/// Minecraft 1.20.1.
pub const PROTOCOL_1_20_1: i32 = 763;
/// The status JSON is a protocol String: at most 32767 UTF-16 units, so at
/// most 4 × that in UTF-8 bytes; the frame adds a few bytes around it.
const MAX_STATUS_JSON: usize = 32767 * 4;
const MAX_STATUS_FRAME: usize = MAX_STATUS_JSON + 8;

#[derive(Debug, thiserror::Error)]
pub enum SlpError {
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect { host: String, port: u16, source: std::io::Error },
    #[error("server list ping of {host}:{port} timed out after {after:?}")]
    Timeout { host: String, port: u16, after: Duration },
    #[error("server list ping of {host}:{port}: {source}")]
    Protocol { host: String, port: u16, source: PacketError },
    #[error("server list ping of {host}:{port}: expected packet {expected:#04x}, got {got:#04x}")]
    UnexpectedPacket { host: String, port: u16, expected: i32, got: i32 },
    #[error("server list ping of {host}:{port}: status JSON is invalid: {source}")]
    Json {
        host: String,
        port: u16,
        source: serde_json::Error,
    },
    #[error("server list ping of {host}:{port}: pong carries {got}, sent {sent}")]
    PongMismatch { host: String, port: u16, sent: i64, got: i64 },
}

/// What a status response says, plus the measured round trip.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub online: u32,
    pub max: u32,
    pub version: String,
    pub protocol: i32,
    /// The description flattened to plain text (chat components joined).
    pub description: String,
    pub latency: Duration,
}

#[derive(Deserialize)]
struct StatusJson {
    version: VersionJson,
    players: Option<PlayersJson>,
    #[serde(default)]
    description: serde_json::Value,
}

#[derive(Deserialize)]
struct VersionJson {
    name: String,
    protocol: i32,
}

#[derive(Deserialize)]
struct PlayersJson {
    max: u32,
    online: u32,
}

/// Ping `host:port` and return what the observer needs.
pub async fn ping(host: &str, port: u16, timeout: Duration) -> Result<GamePing, SlpError> {
    let s = status(host, port, timeout).await?;
    Ok(GamePing {
        online: s.online,
        max: s.max,
        version: s.version,
        protocol: s.protocol,
    })
}

/// The full status exchange, under one `timeout`.
pub async fn status(host: &str, port: u16, timeout: Duration) -> Result<Status, SlpError> {
    match tokio::time::timeout(timeout, exchange(host, port)).await {
        Ok(r) => r,
        Err(_) => Err(SlpError::Timeout {
            host: host.to_string(),
            port,
            after: timeout,
        }),
    }
}

async fn exchange(host: &str, port: u16) -> Result<Status, SlpError> {
    let proto = |source: PacketError| SlpError::Protocol {
        host: host.to_string(),
        port,
        source,
    };
    let mut stream = TcpStream::connect((host, port)).await.map_err(|source| SlpError::Connect {
        host: host.to_string(),
        port,
        source,
    })?;
    let _ = stream.set_nodelay(true);

    let mut out = Handshake {
        protocol: PROTOCOL_1_20_1,
        host: host.to_string(),
        port,
        next: NextState::Status,
    }
    .write();
    out.extend(StatusRequest.write());
    stream.write_all(&out).await.map_err(|e| proto(e.into()))?;

    let (id, body) = packets::read_frame(&mut stream, MAX_STATUS_FRAME).await.map_err(proto)?;
    if id != 0x00 {
        return Err(SlpError::UnexpectedPacket {
            host: host.to_string(),
            port,
            expected: 0,
            got: id,
        });
    }
    let json = Cursor::new(&body).string(MAX_STATUS_JSON).map_err(proto)?;
    let parsed: StatusJson = serde_json::from_str(&json).map_err(|source| SlpError::Json {
        host: host.to_string(),
        port,
        source,
    })?;

    let sent = chrono::Utc::now().timestamp_millis();
    let started = Instant::now();
    stream.write_all(&Ping(sent).write()).await.map_err(|e| proto(e.into()))?;
    let (id, body) = packets::read_frame(&mut stream, 64).await.map_err(proto)?;
    let latency = started.elapsed();
    if id != 0x01 {
        return Err(SlpError::UnexpectedPacket {
            host: host.to_string(),
            port,
            expected: 1,
            got: id,
        });
    }
    let Ping(got) = Ping::parse(&body).map_err(proto)?;
    if got != sent {
        return Err(SlpError::PongMismatch {
            host: host.to_string(),
            port,
            sent,
            got,
        });
    }
    let players = parsed.players.unwrap_or(PlayersJson { max: 0, online: 0 });
    Ok(Status {
        online: players.online,
        max: players.max,
        version: parsed.version.name,
        protocol: parsed.version.protocol,
        description: flatten(&parsed.description),
        latency,
    })
}

/// A chat component (string, `{"text", "extra"}` or an array) as plain text.
pub fn flatten(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(flatten).collect(),
        Value::Object(o) => {
            let mut s = o.get("text").map(flatten).unwrap_or_default();
            if let Some(extra) = o.get("extra") {
                s.push_str(&flatten(extra));
            }
            s
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn chat_components_flatten() {
        let v = serde_json::json!({"text": "Grove", "extra": [{"text": " — "}, "sleeping"]});
        assert_eq!(flatten(&v), "Grove — sleeping");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 64];
            while s.read(&mut buf).await.unwrap_or(0) > 0 {}
        });
        let err = ping("127.0.0.1", port, Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(err, SlpError::Timeout { .. }), "{err}");
        hold.abort();
    }

    #[tokio::test]
    async fn oversized_status_frame_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut len = Vec::new();
            packets::write_varint(&mut len, MAX_STATUS_FRAME as i32 + 1);
            s.write_all(&len).await.unwrap();
            let mut buf = [0u8; 64];
            while s.read(&mut buf).await.unwrap_or(0) > 0 {}
        });
        let err = ping("127.0.0.1", port, Duration::from_secs(5)).await.unwrap_err();
        assert!(
            matches!(
                err,
                SlpError::Protocol {
                    source: PacketError::FrameLength { .. },
                    ..
                }
            ),
            "{err}"
        );
    }
}
