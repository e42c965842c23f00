//! Minecraft Java protocol framing shared by the ping client and the sleeping
//! listener: VarInts, length-prefixed strings and length-prefixed frames.
//!
//! Every length read off the wire is checked against a limit before anything
//! is allocated, so a peer that announces a 2 GiB frame costs nothing.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest frame the protocol allows: a 3-byte VarInt length.
pub const MAX_FRAME: usize = (1 << 21) - 1;

#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error("connection closed by the peer")]
    Closed,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("VarInt longer than 5 bytes")]
    VarIntTooLong,
    #[error("frame length {len} is outside 1..={max}")]
    FrameLength { len: i64, max: usize },
    #[error("string length {len} is outside 0..={max} bytes")]
    StringLength { len: i64, max: usize },
    #[error("packet ends early while reading {what}")]
    Truncated { what: &'static str },
    #[error("byte array length {len} is outside 0..={max}")]
    BytesLength { len: i64, max: usize },
    #[error("{extra} byte(s) left over after {what}")]
    Trailing { what: &'static str, extra: usize },
    #[error("boolean byte {0:#04x} is neither 0 nor 1")]
    NotBool(u8),
    #[error("string is not UTF-8")]
    NotUtf8,
    #[error("expected packet {expected:#04x}, got {got:#04x}")]
    UnexpectedPacket { expected: i32, got: i32 },
}

pub fn write_varint(out: &mut Vec<u8>, value: i32) {
    let mut v = value as u32;
    loop {
        if v & !0x7f == 0 {
            out.push(v as u8);
            return;
        }
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
}

pub fn write_string(out: &mut Vec<u8>, s: &str) {
    write_varint(out, s.len() as i32);
    out.extend_from_slice(s.as_bytes());
}

/// A VarInt-length-prefixed byte array.
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_varint(out, b.len() as i32);
    out.extend_from_slice(b);
}

/// `len(id + body) ++ id ++ body`.
pub fn frame(id: i32, body: &[u8]) -> Vec<u8> {
    let mut inner = Vec::with_capacity(body.len() + 5);
    write_varint(&mut inner, id);
    inner.extend_from_slice(body);
    let mut out = Vec::with_capacity(inner.len() + 5);
    write_varint(&mut out, inner.len() as i32);
    out.extend_from_slice(&inner);
    out
}

/// Read a VarInt whose first byte was already read (the listener peeks one
/// byte to tell a legacy 0xFE ping from a modern frame).
pub async fn read_varint_after<R: AsyncRead + Unpin>(first: u8, r: &mut R) -> Result<i32, PacketError> {
    let mut value = (first & 0x7f) as u32;
    let mut byte = first;
    let mut shift = 7;
    while byte & 0x80 != 0 {
        if shift >= 35 {
            return Err(PacketError::VarIntTooLong);
        }
        byte = read_u8(r).await?;
        value |= ((byte & 0x7f) as u32) << shift;
        shift += 7;
    }
    Ok(value as i32)
}

pub async fn read_u8<R: AsyncRead + Unpin>(r: &mut R) -> Result<u8, PacketError> {
    let mut b = [0u8; 1];
    match r.read_exact(&mut b).await {
        Ok(_) => Ok(b[0]),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(PacketError::Closed),
        Err(e) => Err(e.into()),
    }
}

/// Read one frame (`max` bounds its length) and return `(packet id, body)`.
pub async fn read_frame_after<R: AsyncRead + Unpin>(first: u8, r: &mut R, max: usize) -> Result<(i32, Vec<u8>), PacketError> {
    let len = read_varint_after(first, r).await?;
    if len < 1 || len as usize > max {
        return Err(PacketError::FrameLength { len: len as i64, max });
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => PacketError::Truncated { what: "the frame" },
        _ => PacketError::Io(e),
    })?;
    let mut cur = Cursor::new(&buf);
    let id = cur.varint()?;
    let body = buf[cur.pos..].to_vec();
    Ok((id, body))
}

pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> Result<(i32, Vec<u8>), PacketError> {
    let first = read_u8(r).await?;
    read_frame_after(first, r, max).await
}

/// A reader over one frame's body; every read is bounds-checked.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PacketError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(PacketError::Truncated { what })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn varint(&mut self) -> Result<i32, PacketError> {
        let mut value = 0u32;
        for i in 0..5 {
            let b = self.take(1, "a VarInt")?[0];
            value |= ((b & 0x7f) as u32) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value as i32);
            }
        }
        Err(PacketError::VarIntTooLong)
    }

    /// A string of at most `max_bytes` UTF-8 bytes.
    pub fn string(&mut self, max_bytes: usize) -> Result<String, PacketError> {
        let len = self.varint()?;
        if len < 0 || len as usize > max_bytes {
            return Err(PacketError::StringLength {
                len: len as i64,
                max: max_bytes,
            });
        }
        let bytes = self.take(len as usize, "a string")?;
        String::from_utf8(bytes.to_vec()).map_err(|_| PacketError::NotUtf8)
    }

    /// A VarInt-length-prefixed byte array of at most `max` bytes.
    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8], PacketError> {
        let len = self.varint()?;
        if len < 0 || len as usize > max {
            return Err(PacketError::BytesLength { len: len as i64, max });
        }
        self.take(len as usize, "a byte array")
    }

    pub fn bool(&mut self) -> Result<bool, PacketError> {
        match self.take(1, "a boolean")?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(PacketError::NotBool(b)),
        }
    }

    pub fn uuid(&mut self) -> Result<[u8; 16], PacketError> {
        Ok(self.take(16, "a UUID")?.try_into().expect("16 bytes"))
    }

    /// The packet `what` must end here.
    pub fn finish(&self, what: &'static str) -> Result<(), PacketError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            extra => Err(PacketError::Trailing { what, extra }),
        }
    }

    pub fn u16(&mut self) -> Result<u16, PacketError> {
        let b = self.take(2, "an unsigned short")?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn i64(&mut self) -> Result<i64, PacketError> {
        let b = self.take(8, "a long")?;
        Ok(i64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_edges() {
        for v in [0, 1, 127, 128, 255, 25565, 2097151, i32::MAX, -1, i32::MIN] {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert!(out.len() <= 5);
            assert_eq!(Cursor::new(&out).varint().unwrap(), v, "{v}");
        }
    }

    #[tokio::test]
    async fn oversized_frame_is_refused_before_allocating() {
        let mut bytes = Vec::new();
        write_varint(&mut bytes, i32::MAX);
        let err = read_frame(&mut bytes.as_slice(), 1024).await.unwrap_err();
        assert!(matches!(err, PacketError::FrameLength { .. }), "{err}");
    }

    #[tokio::test]
    async fn truncated_frame_and_endless_varint_are_errors() {
        let err = read_frame(&mut [5u8, 0, 1].as_slice(), 1024).await.unwrap_err();
        assert!(matches!(err, PacketError::Truncated { .. }), "{err}");
        let err = read_frame(&mut [0xffu8; 8].as_slice(), 1024).await.unwrap_err();
        assert!(matches!(err, PacketError::VarIntTooLong), "{err}");
        let err = Cursor::new(&[200, 1, b'a']).string(16).unwrap_err();
        assert!(matches!(err, PacketError::StringLength { .. }), "{err}");
    }
}
