//! The VPS's R2 credentials: minted by the reconciler when it creates a
//! server, object read-write, limited to that server's own prefixes, living
//! as long as a session can (never more than Cloudflare's 7 days), and renewed
//! when a quarter of their life is left.
//!
//! This is the only secret that reaches the VPS (DESIGN invariant 5). The
//! secret parts stay [`Secret`]s; [`AgentCredentials::agent_env`] is the one
//! place that exposes them, for whoever writes the agent's environment file.

use chrono::{DateTime, Utc};

use crate::cloudflare::{Cloudflare, CloudflareError, MAX_TEMP_CREDENTIALS_TTL, R2Permission};
use crate::ids::ServerName;
use crate::repo::model::Lifecycle;
use crate::secret::Secret;

/// What the agent needs to reach its prefixes of the bucket.
#[derive(Clone, Debug)]
pub struct AgentCredentials {
    pub endpoint: String,
    pub bucket: String,
    pub prefixes: Vec<String>,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub issued: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

impl AgentCredentials {
    /// Renew when less than a quarter of the lifetime is left: early enough
    /// that a reconciler run on the usual schedule gets there before expiry.
    pub fn needs_renewal(&self, now: DateTime<Utc>) -> bool {
        let life = self.expires - self.issued;
        self.expires - now < life / 4
    }

    /// The agent's environment (the names [`super::r2::R2Credentials::from_env`]
    /// reads), secrets included: for the agent's config file only.
    pub fn agent_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("R2_ENDPOINT", self.endpoint.clone()),
            ("R2_BUCKET", self.bucket.clone()),
            ("R2_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("R2_SECRET_ACCESS_KEY", self.secret_access_key.expose().to_string()),
            ("R2_SESSION_TOKEN", self.session_token.expose().to_string()),
            ("R2_EXPIRES", self.expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ]
    }
}

/// `worlds/<s>/`, `control/<s>/`, `assets/<s>/`: everything the agent reads or writes.
pub fn agent_prefixes(server: &ServerName) -> Vec<String> {
    ["worlds", "control", "assets"].iter().map(|p| format!("{p}/{server}/")).collect()
}

/// A session's longest life: `max_session`, then the idle and suspended
/// wait, then an hour for the final snapshot; capped at 7 days.
pub fn session_ttl(l: &Lifecycle) -> u64 {
    let want = l.max_session.as_secs() + l.idle.as_secs() + l.suspended.as_secs() + 3600;
    want.clamp(1, MAX_TEMP_CREDENTIALS_TTL)
}

/// Where and with what parent key the reconciler mints.
#[derive(Clone, Debug)]
pub struct MintSettings {
    pub account_id: String,
    pub bucket: String,
    pub endpoint: String,
    /// The account's R2 access key id the temporary credentials derive from.
    pub parent_access_key_id: String,
}

/// Ask Cloudflare for the agent's credentials.
pub async fn mint_agent_credentials(
    cf: &Cloudflare,
    m: &MintSettings,
    server: &ServerName,
    ttl_seconds: u64,
    now: DateTime<Utc>,
) -> Result<AgentCredentials, CloudflareError> {
    let prefixes = agent_prefixes(server);
    let t = cf
        .r2_temp_credentials(
            &m.account_id,
            &m.bucket,
            &m.parent_access_key_id,
            R2Permission::ObjectReadWrite,
            &prefixes,
            ttl_seconds,
        )
        .await?;
    Ok(AgentCredentials {
        endpoint: m.endpoint.clone(),
        bucket: m.bucket.clone(),
        prefixes,
        access_key_id: t.access_key_id,
        secret_access_key: t.secret_access_key,
        session_token: t.session_token,
        issued: now,
        expires: now + chrono::Duration::seconds(ttl_seconds as i64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(issued: &str, hours: i64) -> AgentCredentials {
        let issued: DateTime<Utc> = issued.parse().unwrap();
        AgentCredentials {
            endpoint: "https://x.r2.cloudflarestorage.com".into(),
            bucket: "grove-worlds".into(),
            prefixes: agent_prefixes(&ServerName::new("grove")),
            access_key_id: "AK".into(),
            secret_access_key: Secret::new("sekrit-key"),
            session_token: Secret::new("sekrit-token"),
            issued,
            expires: issued + chrono::Duration::hours(hours),
        }
    }

    #[test]
    fn renewal_starts_when_a_quarter_is_left() {
        let c = creds("2026-11-22T00:00:00Z", 16);
        assert!(!c.needs_renewal("2026-11-22T11:59:00Z".parse().unwrap()));
        assert!(!c.needs_renewal("2026-11-22T12:00:00Z".parse().unwrap()), "exactly a quarter left");
        assert!(c.needs_renewal("2026-11-22T12:01:00Z".parse().unwrap()));
        assert!(c.needs_renewal("2026-11-23T00:00:00Z".parse().unwrap()), "expired");
    }

    #[test]
    fn ttl_covers_the_session_and_never_exceeds_seven_days() {
        let l = Lifecycle::default();
        assert_eq!(session_ttl(&l), (12 * 3600) + (15 + 45) * 60 + 3600);
        let long = Lifecycle {
            max_session: crate::repo::duration::Duration::from_hours(30 * 24),
            ..Lifecycle::default()
        };
        assert_eq!(session_ttl(&long), 604_800);
    }

    #[test]
    fn prefixes_are_the_servers_own() {
        assert_eq!(
            agent_prefixes(&ServerName::new("grove")),
            ["worlds/grove/", "control/grove/", "assets/grove/"]
        );
    }

    #[test]
    fn debug_never_shows_the_secret_parts() {
        let c = creds("2026-11-22T00:00:00Z", 16);
        let shown = format!("{c:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(
            c.agent_env().iter().any(|(_, v)| v == "sekrit-token"),
            "the agent's env carries them"
        );
    }
}
