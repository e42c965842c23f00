//! Minecraft's online-mode key exchange, server side, as the sleeping
//! listener needs it to know who is knocking before it wakes the server
//! (a whitelisted name alone is public knowledge).
//!
//! The exchange (1.20.1, protocol 763): the server sends Encryption Request
//! (server id, its RSA public key as X.509 DER, a random verify token); the
//! client picks a 16-byte shared secret, tells Mojang's session server it
//! joins "the server whose hash is H" (H = [`server_hash`] of server id,
//! secret and key), and answers Encryption Response with secret and token
//! encrypted to the server's key (PKCS#1 v1.5). The server decrypts both,
//! checks the token, computes H itself and asks the session server
//! `hasJoined(name, H)`; only a client holding the account's access token
//! could have made that true. From the response on, both directions are
//! AES-128-CFB8 with the secret as key and IV ([`Cfb8`]).
//!
//! Each packet is one type, read and written by the same code (the writers
//! serve the tests' own client and the round-trip property of the fuzz
//! target). Every length off the wire is bounded before anything is read.
//!
//! PKCS#1 v1.5 decryption in the `rsa` crate is exposed to timing attacks
//! (Marvin, RUSTSEC-2023-0071): decryption here is blinded, the key is made
//! anew for every listener, and failed logins are rate-limited
//! (`agent::wake_limit`), which keeps the millions of queries such an
//! attack needs out of reach; and all it could recover is one session's
//! shared secret, which protects nothing but a disconnect message.

use aes::Aes128;
use cfb8::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, generic_array::GenericArray};
use rsa::pkcs8::EncodePublicKey;
use rsa::rand_core::{OsRng, RngCore};
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};
use sha1::{Digest, Sha1};

use super::packets::{self, Cursor, PacketError};

/// What vanilla sends as the server id since 1.7: the empty string.
pub const SERVER_ID: &str = "";
/// The server id is a protocol String of at most 20 characters.
pub const MAX_SERVER_ID: usize = 20;
/// Vanilla's key size; every client is tested against it.
pub const KEY_BITS: usize = 1024;
/// An encrypted value is one RSA block: 128 bytes for a 1024-bit key.
pub const MAX_ENCRYPTED_LEN: usize = KEY_BITS / 8;
/// A 1024-bit key's X.509 DER is 162 bytes; a client reading our request
/// refuses more than this, so it cannot be made to allocate.
pub const MAX_PUBLIC_KEY_LEN: usize = 512;
/// Vanilla's verify token is 4 random bytes.
pub const VERIFY_TOKEN_LEN: usize = 4;
/// AES-128: the shared secret is the key (and the IV).
pub const SHARED_SECRET_LEN: usize = 16;
/// Packet ids in the login state.
pub const ENCRYPTION_REQUEST_ID: i32 = 0x01;
pub const ENCRYPTION_RESPONSE_ID: i32 = 0x01;

#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    #[error("generating the listener's RSA key: {0}")]
    KeyGeneration(#[source] rsa::Error),
    #[error("encoding the listener's public key: {0}")]
    KeyEncoding(String),
    #[error("the {what} does not decrypt with the listener's key")]
    Decrypt { what: &'static str },
    #[error("the verify token does not match the one sent")]
    VerifyToken,
    #[error("the shared secret is {len} bytes, not {SHARED_SECRET_LEN}")]
    SecretLength { len: usize },
}

/// The listener's RSA key pair, made once per listener (vanilla makes one
/// per server start), and its public half as the DER the client gets.
pub struct ServerKey {
    private: RsaPrivateKey,
    der: Vec<u8>,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey").field("bits", &KEY_BITS).finish_non_exhaustive()
    }
}

impl ServerKey {
    /// A fresh key pair (CPU-bound for a few milliseconds in a release build:
    /// call it off the async threads).
    pub fn generate() -> Result<ServerKey, EncryptionError> {
        let private = RsaPrivateKey::new(&mut OsRng, KEY_BITS).map_err(EncryptionError::KeyGeneration)?;
        let der = RsaPublicKey::from(&private)
            .to_public_key_der()
            .map_err(|e| EncryptionError::KeyEncoding(e.to_string()))?
            .into_vec();
        Ok(ServerKey { private, der })
    }

    pub fn public_der(&self) -> &[u8] {
        &self.der
    }

    /// Decrypt one PKCS#1 v1.5 block (blinded, see the module comment).
    pub fn decrypt(&self, what: &'static str, ciphertext: &[u8]) -> Result<Vec<u8>, EncryptionError> {
        self.private
            .decrypt_blinded(&mut OsRng, Pkcs1v15Encrypt, ciphertext)
            .map_err(|_| EncryptionError::Decrypt { what })
    }

    /// Check the response against the token sent and return the shared
    /// secret: the token first, as vanilla does.
    pub fn open(&self, response: &EncryptionResponse, token: &[u8]) -> Result<[u8; SHARED_SECRET_LEN], EncryptionError> {
        let got = self.decrypt("verify token", &response.verify_token)?;
        if got != token {
            return Err(EncryptionError::VerifyToken);
        }
        let secret = self.decrypt("shared secret", &response.shared_secret)?;
        secret
            .as_slice()
            .try_into()
            .map_err(|_| EncryptionError::SecretLength { len: secret.len() })
    }
}

/// A fresh random verify token.
pub fn verify_token() -> [u8; VERIFY_TOKEN_LEN] {
    let mut t = [0u8; VERIFY_TOKEN_LEN];
    OsRng.fill_bytes(&mut t);
    t
}

/// Login 0x01, clientbound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptionRequest {
    pub server_id: String,
    pub public_key: Vec<u8>,
    pub verify_token: Vec<u8>,
}

impl EncryptionRequest {
    pub fn write(&self) -> Vec<u8> {
        let mut body = Vec::new();
        packets::write_string(&mut body, &self.server_id);
        packets::write_bytes(&mut body, &self.public_key);
        packets::write_bytes(&mut body, &self.verify_token);
        packets::frame(ENCRYPTION_REQUEST_ID, &body)
    }

    pub fn parse(body: &[u8]) -> Result<EncryptionRequest, PacketError> {
        let mut c = Cursor::new(body);
        let r = EncryptionRequest {
            server_id: c.string(MAX_SERVER_ID * 4)?,
            public_key: c.bytes(MAX_PUBLIC_KEY_LEN)?.to_vec(),
            verify_token: c.bytes(MAX_ENCRYPTED_LEN)?.to_vec(),
        };
        c.finish("Encryption Request")?;
        Ok(r)
    }
}

/// Login 0x01, serverbound: both fields encrypted to the server's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptionResponse {
    pub shared_secret: Vec<u8>,
    pub verify_token: Vec<u8>,
}

impl EncryptionResponse {
    /// The body of a serverbound 0x01 in the login state (protocol 763: no
    /// signature variant, that was 759 and 760 only).
    pub fn parse(body: &[u8]) -> Result<EncryptionResponse, PacketError> {
        let mut c = Cursor::new(body);
        let r = EncryptionResponse {
            shared_secret: c.bytes(MAX_ENCRYPTED_LEN)?.to_vec(),
            verify_token: c.bytes(MAX_ENCRYPTED_LEN)?.to_vec(),
        };
        c.finish("Encryption Response")?;
        Ok(r)
    }

    pub fn write(&self) -> Vec<u8> {
        let mut body = Vec::new();
        packets::write_bytes(&mut body, &self.shared_secret);
        packets::write_bytes(&mut body, &self.verify_token);
        packets::frame(ENCRYPTION_RESPONSE_ID, &body)
    }
}

/// Minecraft's server hash: SHA-1 over server id, shared secret and public
/// key DER, printed as Java's `new BigInteger(digest).toString(16)` does (a
/// signed two's-complement number: a leading `-` and no leading zeros).
pub fn server_hash(server_id: &str, shared_secret: &[u8], public_key_der: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(server_id.as_bytes());
    h.update(shared_secret);
    h.update(public_key_der);
    java_hex_digest(h.finalize().into())
}

fn java_hex_digest(mut digest: [u8; 20]) -> String {
    let negative = digest[0] & 0x80 != 0;
    if negative {
        // Two's complement: invert every bit, then add one.
        let mut carry = true;
        for b in digest.iter_mut().rev() {
            let (v, c) = (!*b).overflowing_add(u8::from(carry));
            *b = v;
            carry = c;
        }
    }
    let hex = hex::encode(digest);
    let trimmed = hex.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    if negative { format!("-{digits}") } else { digits.to_string() }
}

/// AES-128-CFB8 in both directions, keyed (and IV'd) by the shared secret:
/// what each side turns on right after the Encryption Response.
pub struct Cfb8 {
    enc: cfb8::Encryptor<Aes128>,
    dec: cfb8::Decryptor<Aes128>,
}

impl Cfb8 {
    pub fn new(shared_secret: &[u8; SHARED_SECRET_LEN]) -> Cfb8 {
        let key = GenericArray::from_slice(shared_secret);
        Cfb8 {
            enc: cfb8::Encryptor::new(key, key),
            dec: cfb8::Decryptor::new(key, key),
        }
    }

    /// Encrypt bytes going out, in place; the state carries over calls.
    pub fn encrypt(&mut self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            self.enc.encrypt_block_mut(GenericArray::from_mut_slice(std::slice::from_mut(b)));
        }
    }

    /// Decrypt bytes coming in, in place; the state carries over calls.
    pub fn decrypt(&mut self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            self.dec.decrypt_block_mut(GenericArray::from_mut_slice(std::slice::from_mut(b)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digests wiki.vg's "Protocol Encryption" page gives for SHA-1 of
    /// the bare names, which cover a positive, a negative and a short value.
    #[test]
    fn the_server_hash_prints_as_java_does() {
        let sha = |s: &str| java_hex_digest(Sha1::digest(s.as_bytes()).into());
        assert_eq!(sha("Notch"), "4ed1f46bbe04bc756bcb17c0c7ce3e4632f06a48");
        assert_eq!(sha("jeb_"), "-7c9d5b0044c130109a5d7b5fb5c317c02b4e28c1");
        assert_eq!(sha("simon"), "88e16a1019277b15d58faf0541e11910eb756f6");
        assert_eq!(server_hash("", b"", b"Notch"), sha("Notch"));
    }

    #[test]
    fn a_response_made_for_the_key_opens_and_a_wrong_token_does_not() {
        let key = ServerKey::generate().unwrap();
        let public = <RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(key.public_der()).unwrap();
        let seal = |m: &[u8]| public.encrypt(&mut OsRng, Pkcs1v15Encrypt, m).unwrap();
        let secret = [7u8; SHARED_SECRET_LEN];
        let token = verify_token();
        let response = EncryptionResponse {
            shared_secret: seal(&secret),
            verify_token: seal(&token),
        };
        assert_eq!(key.open(&response, &token).unwrap(), secret);
        let other = [token[0] ^ 1, token[1], token[2], token[3]];
        assert!(matches!(key.open(&response, &other), Err(EncryptionError::VerifyToken)));
        let short = EncryptionResponse {
            shared_secret: seal(&secret[..8]),
            ..response.clone()
        };
        assert!(matches!(key.open(&short, &token), Err(EncryptionError::SecretLength { len: 8 })));
        let garbage = EncryptionResponse {
            verify_token: vec![1; MAX_ENCRYPTED_LEN],
            ..response
        };
        assert!(matches!(key.open(&garbage, &token), Err(EncryptionError::Decrypt { .. })));
    }

    #[test]
    fn packets_round_trip_and_oversized_fields_are_refused() {
        let req = EncryptionRequest {
            server_id: SERVER_ID.into(),
            public_key: vec![3; 162],
            verify_token: verify_token().to_vec(),
        };
        let frame = req.write();
        let mut c = Cursor::new(&frame);
        c.varint().unwrap();
        assert_eq!(c.varint().unwrap(), ENCRYPTION_REQUEST_ID);
        assert_eq!(EncryptionRequest::parse(&frame[c.pos..]).unwrap(), req);

        let resp = EncryptionResponse {
            shared_secret: vec![1; MAX_ENCRYPTED_LEN + 1],
            verify_token: vec![2; 4],
        };
        let frame = resp.write();
        let err = EncryptionResponse::parse(&frame[3..]).unwrap_err();
        assert!(matches!(err, PacketError::BytesLength { len: 129, max: 128 }), "{err}");
    }

    #[test]
    fn cfb8_is_a_stream_both_ways() {
        let secret = [9u8; SHARED_SECRET_LEN];
        let (mut server, mut client) = (Cfb8::new(&secret), Cfb8::new(&secret));
        let mut msg = b"hello, sleeping server".to_vec();
        let (a, b) = msg.split_at_mut(5);
        server.encrypt(a);
        server.encrypt(b);
        assert_ne!(&msg[..], b"hello, sleeping server");
        client.decrypt(&mut msg);
        assert_eq!(&msg[..], b"hello, sleeping server");
    }
}
