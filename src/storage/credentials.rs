//! The VPS's R2 credentials: minted by the reconciler when it creates a
//! server, object read-write, limited to that server's own prefixes, living
//! as long as a session can (never more than Cloudflare's 7 days), and renewed
//! when a quarter of their life is left.
//!
//! Renewal: the server's labels record when its credentials were issued and
//! when they expire ([`CredentialsLife::labels`]), so the reconciler sees it
//! in the server list it reads anyway; apply mints new ones and hands them to
//! the agent as `control/<s>/credentials/<session>.json` ([`CredentialsDoc`],
//! [`credentials_key`]), a key only the admin's keys and the agent's own
//! scoped credentials can read. One document per session, deleted when the
//! session closes, and never written for a session that has ended: a key
//! that leaked from an old VPS gets no successor.
//!
//! This is the only secret that reaches the VPS (DESIGN invariant 5). The
//! secret parts stay [`Secret`]s; [`AgentCredentials::agent_env`] and
//! [`CredentialsDoc`]'s serializer are the places that expose them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cloudflare::{Cloudflare, CloudflareError, MAX_TEMP_CREDENTIALS_TTL, R2Permission};
use crate::ids::{ServerName, SessionId};
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
        self.life().needs_renewal(now)
    }

    pub fn life(&self) -> CredentialsLife {
        CredentialsLife {
            issued: self.issued,
            expires: self.expires,
        }
    }

    /// What `control/<s>/credentials.json` carries for the agent.
    pub fn doc(&self) -> CredentialsDoc {
        CredentialsDoc {
            version: 1,
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: self.session_token.clone(),
            issued: self.issued,
            expires: self.expires,
        }
    }

    /// The agent's environment (the names [`super::r2::R2Credentials::from_inputs`]
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

/// The server label with the Unix time its agent's credentials expire.
pub use crate::labels::CREDENTIALS_EXPIRES as EXPIRES_LABEL;
/// The server label with the Unix time its agent's credentials were issued.
pub use crate::labels::CREDENTIALS_ISSUED as ISSUED_LABEL;
/// The shortest life a renewal mints: time for a final snapshot.
pub const MIN_RENEWAL_TTL: u64 = 3600;

/// When a set of credentials was issued and when it expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CredentialsLife {
    pub issued: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

impl CredentialsLife {
    /// Less than a quarter of the life left (or expired).
    pub fn needs_renewal(&self, now: DateTime<Utc>) -> bool {
        let life = self.expires - self.issued;
        self.expires - now < life / 4
    }

    /// The two server labels that record it. Label values allow only
    /// `[a-zA-Z0-9._-]`, alphanumeric at both ends, so times are Unix seconds.
    pub fn labels(&self) -> [(String, String); 2] {
        [
            (ISSUED_LABEL.to_string(), self.issued.timestamp().to_string()),
            (EXPIRES_LABEL.to_string(), self.expires.timestamp().to_string()),
        ]
    }

    /// Read back from a server's labels; `None` when either is missing or
    /// not a time (a server created before renewal existed, or edited).
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Self> {
        let time = |k: &str| {
            let secs: i64 = labels.get(k)?.parse().ok()?;
            DateTime::<Utc>::from_timestamp(secs, 0)
        };
        let (issued, expires) = (time(ISSUED_LABEL)?, time(EXPIRES_LABEL)?);
        (issued < expires).then_some(CredentialsLife { issued, expires })
    }
}

/// `control/<s>/credentials.json`: renewed credentials for the agent. Written
/// by the reconciler only, read by the agent only; `Debug` never shows the
/// secret parts, and nothing else prints or commits them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsDoc {
    pub version: u32,
    pub access_key_id: String,
    #[serde(with = "crate::secret::exposed")]
    pub secret_access_key: Secret,
    #[serde(with = "crate::secret::exposed")]
    pub session_token: Secret,
    pub issued: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

impl CredentialsDoc {
    pub fn life(&self) -> CredentialsLife {
        CredentialsLife {
            issued: self.issued,
            expires: self.expires,
        }
    }
}

/// The credentials document's key: one per session.
pub fn credentials_key(server: &ServerName, session: &SessionId) -> String {
    format!("control/{server}/credentials/{session}.json")
}

/// Where one document served every session (before it was per session):
/// deleted at every close, so none is left behind.
pub fn legacy_credentials_key(server: &ServerName) -> String {
    format!("control/{server}/credentials.json")
}

/// `worlds/<s>/`, `control/<s>/`, `assets/<s>/`: everything the agent reads or writes.
pub fn agent_prefixes(server: &ServerName) -> Vec<String> {
    ["worlds", "control", "assets"].iter().map(|p| format!("{p}/{server}/")).collect()
}

/// A session's longest life: `max_session`, then the idle and suspended
/// wait, then an hour for the final snapshot; capped at 7 days.
pub fn session_ttl(l: &Lifecycle) -> u64 {
    session_ttl_uncapped(l).clamp(1, MAX_TEMP_CREDENTIALS_TTL)
}

/// A renewal's life: what is left of the session's longest life (started +
/// [`session_ttl`]), never less than [`MIN_RENEWAL_TTL`] (a stop that runs
/// late still needs to upload its final snapshot), never more than 7 days.
pub fn renewal_ttl(l: &Lifecycle, started: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let want = session_ttl_uncapped(l) as i64 - (now - started).num_seconds();
    (want.max(MIN_RENEWAL_TTL as i64) as u64).min(MAX_TEMP_CREDENTIALS_TTL)
}

fn session_ttl_uncapped(l: &Lifecycle) -> u64 {
    l.max_session.as_secs() + l.idle.as_secs() + l.suspended.as_secs() + 3600
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
    fn a_renewal_lives_for_the_rest_of_the_session() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let l = Lifecycle::default(); // 12 h + 15 min + 45 min + 1 h = 14 h
        let started = t("2026-11-22T00:00:00Z");
        assert_eq!(renewal_ttl(&l, started, t("2026-11-22T11:00:00Z")), 3 * 3600);
        assert_eq!(
            renewal_ttl(&l, started, t("2026-11-22T13:30:00Z")),
            MIN_RENEWAL_TTL,
            "a late stop still gets an hour"
        );
        let long = Lifecycle {
            max_session: crate::repo::duration::Duration::from_hours(30 * 24),
            ..Lifecycle::default()
        };
        assert_eq!(
            renewal_ttl(&long, started, t("2026-11-27T06:00:00Z")),
            MAX_TEMP_CREDENTIALS_TTL,
            "capped at 7 days"
        );
    }

    #[test]
    fn the_life_round_trips_through_labels() {
        let c = creds("2026-11-22T00:00:00Z", 16);
        let labels: BTreeMap<String, String> = c.life().labels().into_iter().collect();
        assert_eq!(labels[EXPIRES_LABEL], "1795363200");
        assert!(
            labels
                .values()
                .all(|v| v.len() <= 63 && v.bytes().all(|b| b.is_ascii_alphanumeric())),
            "Hetzner's label value syntax"
        );
        assert_eq!(CredentialsLife::from_labels(&labels), Some(c.life()));
        let mut broken = labels.clone();
        broken.insert(EXPIRES_LABEL.into(), "soon".into());
        assert_eq!(CredentialsLife::from_labels(&broken), None);
        assert_eq!(CredentialsLife::from_labels(&BTreeMap::new()), None);
    }

    #[test]
    fn the_credentials_document_carries_the_secrets_only_when_serialized() {
        let doc = creds("2026-11-22T00:00:00Z", 16).doc();
        assert!(!format!("{doc:?}").contains("sekrit"));
        let json = serde_json::to_string(&doc).unwrap();
        assert!(json.contains("sekrit-key") && json.contains("sekrit-token"));
        let back: CredentialsDoc = serde_json::from_str(&json).unwrap();
        assert_eq!(back, doc);
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
