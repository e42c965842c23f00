//! A login on the sleeping listener: the cheap refusals first (stopping,
//! another protocol version, a name not on the whitelist, an address past
//! the failed-login limit), then Minecraft's online-mode handshake
//! (`super::crate::minecraft::encryption`) and the session server's `hasJoined`, and a
//! wake only for an account the session server names that is on the
//! whitelist: by name, and by account UUID when the whitelist has one (a
//! name can change hands; a UUID cannot). Every refusal after the cheap
//! ones is logged with the address and the name the client gave (and both
//! UUIDs when they differ; UUIDs are public), never a secret, token or hash.

use std::net::IpAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{
    AUTH_SERVERS_DOWN, NOT_WHITELISTED, RATE_LIMITED, RESPONSE_DEADLINE, STOPPING_MESSAGE, Shared, UNVERIFIED, WAKE_MESSAGE, Woken,
    disconnect, read_packet,
};
use crate::ids::{PlayerName, PlayerUuid};
use crate::minecraft::encryption::{
    Cfb8, ENCRYPTION_RESPONSE_ID, EncryptionError, EncryptionRequest, EncryptionResponse, SERVER_ID, server_hash, verify_token,
};
use crate::minecraft::handshake::{Disconnect, LoginStart};
use crate::minecraft::packets::PacketError;
use crate::minecraft::session_server::{JoinedProfile, SessionServerError};

/// Why an authenticated login did not wake the server.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("no Encryption Response within {}s", RESPONSE_DEADLINE.as_secs())]
    NoResponse,
    #[error("no valid Encryption Response: {0}")]
    BadResponse(#[source] PacketError),
    #[error("{0}")]
    Key(#[source] EncryptionError),
    #[error("the session server does not know of this join")]
    NotJoined,
    #[error("the session server names {0:?}, who is not on the whitelist")]
    OtherAccount(String),
    #[error("the session server names {name}'s account {joined}, not the whitelisted {listed}")]
    OtherUuid {
        name: PlayerName,
        listed: PlayerUuid,
        joined: PlayerUuid,
    },
    #[error("{0}")]
    SessionServer(#[source] Box<SessionServerError>),
    #[error("the server began stopping during the login")]
    Stopping,
}

pub(super) async fn login(s: &mut TcpStream, peer: IpAddr, shared: &Shared, protocol: i32) -> Result<(), PacketError> {
    let c = &shared.config;
    if protocol != c.protocol {
        // Another version's Login Start may not even parse: answer first.
        return disconnect(s, &format!("This server runs Minecraft {}; join with that version", c.version_name)).await;
    }
    let (id, body) = read_packet(s).await?;
    if id != LoginStart::ID {
        return Ok(());
    }
    let start = LoginStart::parse(&body)?;
    if shared.stopping() {
        return disconnect(s, STOPPING_MESSAGE).await;
    }
    if shared.whitelisted(&start.name).is_none() {
        return disconnect(s, NOT_WHITELISTED).await;
    }
    let ticket = match shared.limit.begin(peer) {
        Ok(t) => t,
        Err(limited) => {
            tracing::warn!(%peer, name = ?start.name, "refused to wake the server: {limited}");
            return disconnect(s, RATE_LIMITED).await;
        }
    };
    match authenticate(s, shared, &start).await? {
        Ok(player) => {
            ticket.succeeded();
            tracing::info!(%peer, player = %player, "an authenticated whitelisted login wakes the server");
            let _ = shared.events.send(Woken(player)).await;
        }
        Err(refusal) => {
            tracing::warn!(%peer, name = ?start.name, "refused to wake the server: {refusal}");
        }
    }
    Ok(())
}

/// The handshake after a whitelisted Login Start. The outer `Err` is the
/// connection failing; the inner result is the verdict, which the client
/// has been told (encrypted, once encryption is on).
async fn authenticate(s: &mut TcpStream, shared: &Shared, start: &LoginStart) -> Result<Result<PlayerName, Refusal>, PacketError> {
    let token = verify_token();
    let request = EncryptionRequest {
        server_id: SERVER_ID.into(),
        public_key: shared.key.public_der().to_vec(),
        verify_token: token.to_vec(),
    };
    s.write_all(&request.write()).await?;
    s.flush().await?;
    let response = match tokio::time::timeout(RESPONSE_DEADLINE, read_packet(s)).await {
        Err(_) => return Ok(Err(Refusal::NoResponse)),
        Ok(Err(e)) => return Ok(Err(Refusal::BadResponse(e))),
        Ok(Ok((id, _))) if id != ENCRYPTION_RESPONSE_ID => {
            return Ok(Err(Refusal::BadResponse(PacketError::UnexpectedPacket {
                expected: ENCRYPTION_RESPONSE_ID,
                got: id,
            })));
        }
        Ok(Ok((_, body))) => match EncryptionResponse::parse(&body) {
            Ok(r) => r,
            Err(e) => return Ok(Err(Refusal::BadResponse(e))),
        },
    };
    // Without the secret there is no cipher to tell the client anything
    // with (it has already turned encryption on): just hang up.
    let secret = match shared.key.open(&response, &token) {
        Ok(secret) => secret,
        Err(e) => return Ok(Err(Refusal::Key(e))),
    };
    let mut cipher = Cfb8::new(&secret);
    let hash = server_hash(SERVER_ID, &secret, shared.key.public_der());
    let verdict = match shared.config.session_server.has_joined(&start.name, &hash).await {
        Ok(None) => Err(Refusal::NotJoined),
        Ok(Some(profile)) => on_whitelist(shared, profile),
        Err(e) => Err(Refusal::SessionServer(Box::new(e))),
    };
    // Checked again: the agent may have begun stopping while the session
    // server was asked.
    let verdict = verdict.and_then(|p| if shared.stopping() { Err(Refusal::Stopping) } else { Ok(p) });
    let reason = match &verdict {
        Ok(_) => WAKE_MESSAGE,
        Err(Refusal::NotJoined) => UNVERIFIED,
        Err(Refusal::OtherAccount(_) | Refusal::OtherUuid { .. }) => NOT_WHITELISTED,
        Err(Refusal::SessionServer(_)) => AUTH_SERVERS_DOWN,
        Err(_) => STOPPING_MESSAGE,
    };
    let mut frame = Disconnect::text(reason).write();
    cipher.encrypt(&mut frame);
    // The verdict stands even if the client hung up before reading it.
    if let Err(e) = s.write_all(&frame).await.and(s.flush().await) {
        tracing::debug!("the login's Disconnect was not delivered: {e}");
    }
    Ok(verdict)
}

/// The whitelist's player for the account the session server vouched for:
/// the entry of that name (any case), if it lists a UUID only for that
/// very account. An entry without one is matched by name alone, as before
/// UUIDs were carried; the log says so once per name.
fn on_whitelist(shared: &Shared, profile: JoinedProfile) -> Result<PlayerName, Refusal> {
    let Some(entry) = shared.whitelisted(&profile.name) else {
        return Err(Refusal::OtherAccount(profile.name));
    };
    // `has_joined` accepts only 32 hex digits, so this always parses.
    let Some(joined) = PlayerUuid::parse(&profile.id) else {
        return Err(Refusal::OtherAccount(profile.name));
    };
    match entry.uuid {
        Some(listed) if listed != joined => Err(Refusal::OtherUuid {
            name: entry.name,
            listed,
            joined,
        }),
        Some(_) => Ok(entry.name),
        None => {
            shared.name_only_match(&entry.name, joined);
            Ok(entry.name)
        }
    }
}
