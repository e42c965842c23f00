//! The plain-text packets the sleeping listener reads before any encryption
//! (Handshake, Status Request, Ping, Login Start) and the Login Disconnect it
//! answers with, each one type read and written by the same code (the
//! writers serve the Server List Ping client, the tests' clients and the
//! fuzz target's round-trip property).
//!
//! Parsing is strict: every length is bounded before it is read, and bytes
//! left over after a packet's last field make it malformed, so one packet
//! cannot smuggle another's fields.

use super::packets::{self, Cursor, PacketError};

/// The host name field: 255 characters, up to 4 UTF-8 bytes each.
pub const MAX_HOST_BYTES: usize = 255 * 4;
/// A player name is a String of at most 16 characters; names are ASCII,
/// so 16 bytes (a longer one is not a Login Start we serve).
pub const MAX_NAME_BYTES: usize = 16;
/// The Disconnect reason (a chat component JSON) the listener sends is
/// short; a client reading one bounds it by the protocol's String limit.
pub const MAX_REASON_BYTES: usize = 262_144;

/// Handshake 0x00: where the client goes next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    pub protocol: i32,
    pub host: String,
    pub port: u16,
    pub next: NextState,
}

/// The handshake's next state: 1 status, 2 login (anything else is kept
/// as is, and the listener hangs up on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextState {
    Status,
    Login,
    Other(i32),
}

impl Handshake {
    pub const ID: i32 = 0x00;

    pub fn parse(body: &[u8]) -> Result<Handshake, PacketError> {
        let mut c = Cursor::new(body);
        let h = Handshake {
            protocol: c.varint()?,
            host: c.string(MAX_HOST_BYTES)?,
            port: c.u16()?,
            next: match c.varint()? {
                1 => NextState::Status,
                2 => NextState::Login,
                n => NextState::Other(n),
            },
        };
        c.finish("Handshake")?;
        Ok(h)
    }

    pub fn write(&self) -> Vec<u8> {
        let mut body = Vec::new();
        packets::write_varint(&mut body, self.protocol);
        packets::write_string(&mut body, &self.host);
        body.extend_from_slice(&self.port.to_be_bytes());
        packets::write_varint(
            &mut body,
            match self.next {
                NextState::Status => 1,
                NextState::Login => 2,
                NextState::Other(n) => n,
            },
        );
        packets::frame(Self::ID, &body)
    }
}

/// Status 0x00: an empty body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusRequest;

impl StatusRequest {
    pub const ID: i32 = 0x00;

    pub fn parse(body: &[u8]) -> Result<StatusRequest, PacketError> {
        Cursor::new(body).finish("Status Request").map(|()| StatusRequest)
    }

    pub fn write(&self) -> Vec<u8> {
        packets::frame(Self::ID, &[])
    }
}

/// Status 0x01 (and its pong): a long the server echoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping(pub i64);

impl Ping {
    pub const ID: i32 = 0x01;

    pub fn parse(body: &[u8]) -> Result<Ping, PacketError> {
        let mut c = Cursor::new(body);
        let p = Ping(c.i64()?);
        c.finish("Ping")?;
        Ok(p)
    }

    pub fn write(&self) -> Vec<u8> {
        packets::frame(Self::ID, &self.0.to_be_bytes())
    }
}

/// Login 0x00, serverbound (protocol 763): the name and, optionally, the
/// account UUID the client claims (unverified: only the session server's
/// answer says who it is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginStart {
    pub name: String,
    pub uuid: Option<[u8; 16]>,
}

impl LoginStart {
    pub const ID: i32 = 0x00;

    pub fn parse(body: &[u8]) -> Result<LoginStart, PacketError> {
        let mut c = Cursor::new(body);
        let name = c.string(MAX_NAME_BYTES)?;
        let uuid = if c.bool()? { Some(c.uuid()?) } else { None };
        c.finish("Login Start")?;
        Ok(LoginStart { name, uuid })
    }

    pub fn write(&self) -> Vec<u8> {
        let mut body = Vec::new();
        packets::write_string(&mut body, &self.name);
        body.push(u8::from(self.uuid.is_some()));
        if let Some(u) = &self.uuid {
            body.extend_from_slice(u);
        }
        packets::frame(Self::ID, &body)
    }
}

/// Login 0x00, clientbound: the reason as a chat component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnect {
    pub reason: String,
}

impl Disconnect {
    pub const ID: i32 = 0x00;

    /// `{"text": reason}`, escaped by the JSON writer.
    pub fn text(reason: &str) -> Disconnect {
        Disconnect {
            reason: serde_json::json!({ "text": reason }).to_string(),
        }
    }

    pub fn write(&self) -> Vec<u8> {
        let mut body = Vec::new();
        packets::write_string(&mut body, &self.reason);
        packets::frame(Self::ID, &body)
    }

    pub fn parse(body: &[u8]) -> Result<Disconnect, PacketError> {
        let mut c = Cursor::new(body);
        let reason = c.string(MAX_REASON_BYTES)?;
        c.finish("Disconnect")?;
        Ok(Disconnect { reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frame: &[u8], id: i32) -> Vec<u8> {
        let mut c = Cursor::new(frame);
        assert_eq!(c.varint().unwrap() as usize, frame.len() - c.pos);
        assert_eq!(c.varint().unwrap(), id);
        frame[c.pos..].to_vec()
    }

    #[test]
    fn every_packet_round_trips() {
        let h = Handshake {
            protocol: 763,
            host: "mc.grove.place\0FML3\0".into(),
            port: 25565,
            next: NextState::Login,
        };
        assert_eq!(Handshake::parse(&body(&h.write(), 0)).unwrap(), h);
        for uuid in [None, Some([0xab; 16])] {
            let l = LoginStart {
                name: "Steve".into(),
                uuid,
            };
            assert_eq!(LoginStart::parse(&body(&l.write(), 0)).unwrap(), l);
        }
        assert_eq!(Ping::parse(&body(&Ping(-5).write(), 1)).unwrap(), Ping(-5));
        assert_eq!(StatusRequest::parse(&body(&StatusRequest.write(), 0)).unwrap(), StatusRequest);
        let d = Disconnect::text("\"}, {\"text\": \"injected");
        assert_eq!(Disconnect::parse(&body(&d.write(), 0)).unwrap(), d);
        let v: serde_json::Value = serde_json::from_str(&d.reason).unwrap();
        assert_eq!(v["text"], "\"}, {\"text\": \"injected");
    }

    #[test]
    fn trailing_bytes_and_long_names_are_refused() {
        let mut b = body(&StatusRequest.write(), 0);
        b.push(0);
        assert!(matches!(StatusRequest::parse(&b), Err(PacketError::Trailing { extra: 1, .. })));
        let l = LoginStart {
            name: "SteveSteveSteveSt".into(),
            uuid: None,
        };
        let err = LoginStart::parse(&body(&l.write(), 0)).unwrap_err();
        assert!(matches!(err, PacketError::StringLength { len: 17, max: 16 }), "{err}");
        let mut b = body(
            &LoginStart {
                name: "Steve".into(),
                uuid: None,
            }
            .write(),
            0,
        );
        b[6] = 2;
        assert!(matches!(LoginStart::parse(&b), Err(PacketError::NotBool(2))));
    }
}
