//! Mojang's session server, the one question the sleeping listener asks it:
//! `GET /session/minecraft/hasJoined?username=<name>&serverId=<hash>`, "did
//! the account with this name tell you it is joining the server whose hash
//! is this?" (the client says so with `POST /session/minecraft/join`, which
//! takes the account's access token). 200 with the profile (`id`, `name`,
//! `properties`) means yes; 204 with no body means no.
//!
//! One attempt, no retries: a client waits for the answer with its own
//! timeout (vanilla's is 30 s, the listener's connection deadline is
//! shorter), and a player whose login failed simply joins again. The base
//! address is agent.toml's `session_server` (Mojang's unless a test points
//! it at a fake).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::http::{Api, HttpError, Policy, RateLimit, Retry};

/// Mojang's session server: agent.toml's default `session_server`.
pub const MOJANG_SESSION_SERVER: &str = "https://sessionserver.mojang.com";
/// The whole request, so an answer arrives inside the listener's
/// connection deadline (`sleeping::CONNECTION_DEADLINE`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum SessionServerError {
    #[error("asking the session server whether {name} joined")]
    Http {
        name: String,
        #[source]
        source: HttpError,
    },
    #[error("the session server answered {status} for {name}: {body}")]
    Unexpected { name: String, status: StatusCode, body: String },
}

/// The account that joined, as the session server names it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct JoinedProfile {
    /// 32 hex digits, no dashes.
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct SessionServer {
    api: Api,
}

impl SessionServer {
    /// `base` is `https://sessionserver.mojang.com` or a fake's address.
    pub fn new(base: &str) -> Result<SessionServer, HttpError> {
        let policy = Policy {
            attempts: 1,
            timeout: REQUEST_TIMEOUT,
            ..Policy::default()
        };
        Ok(SessionServer {
            api: Api::anonymous(base, RateLimit::RetryAfterSeconds("retry-after"), policy)?,
        })
    }

    pub fn base(&self) -> &str {
        self.api.base()
    }

    /// `Ok(None)`: the session server does not know of this join (204).
    pub async fn has_joined(&self, name: &str, server_hash: &str) -> Result<Option<JoinedProfile>, SessionServerError> {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("username", name)
            .append_pair("serverId", server_hash)
            .finish();
        let path = format!("/session/minecraft/hasJoined?{query}");
        let resp = self
            .api
            .send(Method::GET, &path, None, Retry::Never)
            .await
            .map_err(|source| SessionServerError::Http { name: name.into(), source })?;
        let unexpected = || SessionServerError::Unexpected {
            name: name.into(),
            status: resp.status,
            body: resp.body.to_string().chars().take(200).collect(),
        };
        match resp.status {
            StatusCode::NO_CONTENT => Ok(None),
            StatusCode::OK => serde_json::from_value::<JoinedProfile>(resp.body.clone())
                .ok()
                .filter(|p| p.id.len() == 32 && p.id.bytes().all(|c| c.is_ascii_hexdigit()))
                .map(Some)
                .ok_or_else(unexpected),
            _ => Err(unexpected()),
        }
    }
}
