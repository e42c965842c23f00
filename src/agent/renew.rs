//! The agent's R2 credentials, kept current. They are short-lived (DESIGN:
//! invariant 5), so the S3 client does not hold them: it asks a
//! [`RenewingProvider`] before each request, and that hands out whatever
//! [`SharedCredentials`] holds now. [`Renewer::check`] swaps newer ones in:
//! once less than a quarter of the current life is left it reads
//! `control/<s>/credentials/<session>.json` (its own session's), which the
//! reconciler writes when it renews (`plan::planner::renew`), and takes it
//! when it expires later than what the agent has.
//!
//! The check runs at every control poll; a failure (nothing renewed yet,
//! storage unreachable, a bad document) is logged and reported in the
//! status, never fatal, and the next poll tries again. Nothing here prints
//! a secret: the key id and the expiry are all that is logged.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, SecondsFormat, Utc};
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;
use tracing::{info, warn};

use crate::ids::SessionId;
use crate::storage::credentials::{CredentialsDoc, CredentialsLife};
use crate::storage::{CredentialsStatus, StorageError, Store};

/// What the agent holds now: the credential the S3 client signs with, and
/// its life (`None` for keys that do not expire, which are never renewed).
struct Current {
    credential: Arc<AwsCredential>,
    life: Option<CredentialsLife>,
}

/// The agent's current credentials, shared between the S3 client and the renewer.
pub struct SharedCredentials {
    current: RwLock<Current>,
}

impl std::fmt::Debug for SharedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.current.read().expect("never poisoned: no panics while held");
        f.debug_struct("SharedCredentials")
            .field("key_id", &c.credential.key_id)
            .field("life", &c.life)
            .finish_non_exhaustive()
    }
}

impl SharedCredentials {
    pub fn new(credential: AwsCredential, life: Option<CredentialsLife>) -> Arc<Self> {
        Arc::new(SharedCredentials {
            current: RwLock::new(Current {
                credential: Arc::new(credential),
                life,
            }),
        })
    }

    fn credential(&self) -> Arc<AwsCredential> {
        self.current.read().expect("never poisoned").credential.clone()
    }

    pub fn life(&self) -> Option<CredentialsLife> {
        self.current.read().expect("never poisoned").life
    }

    pub fn key_id(&self) -> String {
        self.current.read().expect("never poisoned").credential.key_id.clone()
    }

    fn swap(&self, doc: &CredentialsDoc) {
        let mut c = self.current.write().expect("never poisoned");
        c.credential = Arc::new(AwsCredential {
            key_id: doc.access_key_id.clone(),
            secret_key: doc.secret_access_key.expose().to_string(),
            token: Some(doc.session_token.expose().to_string()),
        });
        c.life = Some(doc.life());
    }
}

/// The S3 client's view of [`SharedCredentials`]: the current credential,
/// read again for every request.
#[derive(Clone, Debug)]
pub struct RenewingProvider(pub Arc<SharedCredentials>);

#[async_trait::async_trait]
impl CredentialProvider for RenewingProvider {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        Ok(self.0.credential())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    #[error("reading renewed storage credentials from {key}")]
    Read {
        key: String,
        #[source]
        source: StorageError,
    },
    #[error("storage credentials expire {expires} and {key} holds nothing newer yet (the reconciler renews them on its next run)")]
    NothingNewer { key: String, expires: String },
}

/// What one check did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// More than a quarter of the life is left, or the keys do not expire.
    NotDue,
    /// Newer credentials were swapped in.
    Renewed { key_id: String, expires: DateTime<Utc> },
}

/// Swaps renewed credentials in from the control channel.
#[derive(Debug)]
pub struct Renewer {
    pub store: Store,
    pub shared: Arc<SharedCredentials>,
    /// Whose renewals to take: the session this VPS was created for.
    pub session: SessionId,
    problem: Option<String>,
}

impl Renewer {
    pub fn new(store: Store, shared: Arc<SharedCredentials>, session: SessionId) -> Self {
        Renewer {
            store,
            shared,
            session,
            problem: None,
        }
    }

    /// One check at `now`: when due, read the session's document and swap it in
    /// if it expires later than the current credentials.
    pub async fn check(&self, now: DateTime<Utc>) -> Result<Renewal, RenewError> {
        let Some(life) = self.shared.life() else {
            return Ok(Renewal::NotDue);
        };
        if !life.needs_renewal(now) {
            return Ok(Renewal::NotDue);
        }
        let key = self.store.credentials_key(&self.session);
        let doc: Option<CredentialsDoc> = self
            .store
            .get_json(&key)
            .await
            .map_err(|source| RenewError::Read { key: key.clone(), source })?;
        match doc {
            Some(doc) if doc.expires > life.expires => {
                self.shared.swap(&doc);
                Ok(Renewal::Renewed {
                    key_id: doc.access_key_id,
                    expires: doc.expires,
                })
            }
            _ => Err(RenewError::NothingNewer {
                key,
                expires: life.expires.to_rfc3339_opts(SecondsFormat::Secs, true),
            }),
        }
    }

    /// [`Renewer::check`], logged and remembered for the status.
    pub async fn poll(&mut self, now: DateTime<Utc>) {
        match self.check(now).await {
            Ok(Renewal::NotDue) => {}
            Ok(Renewal::Renewed { key_id, expires }) => {
                self.problem = None;
                info!(%key_id, "storage credentials renewed, valid until {}", expires.to_rfc3339_opts(SecondsFormat::Secs, true));
            }
            Err(e) => {
                let message = crate::error::render_error(&e);
                warn!(%message, "cannot renew the storage credentials; trying again at the next poll");
                self.problem = Some(message);
            }
        }
    }

    pub fn report(&self) -> Option<CredentialsStatus> {
        self.shared.life().map(|life| CredentialsStatus {
            expires: life.expires,
            problem: self.problem.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ServerName;
    use crate::secret::Secret;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn doc(key: &str, issued: &str, expires: &str) -> CredentialsDoc {
        CredentialsDoc {
            version: 1,
            access_key_id: key.into(),
            secret_access_key: Secret::new(format!("secret-of-{key}")),
            session_token: Secret::new(format!("token-of-{key}")),
            issued: t(issued),
            expires: t(expires),
        }
    }

    fn setup() -> (tempfile::TempDir, Renewer, RenewingProvider) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        let first = AwsCredential {
            key_id: "OLD".into(),
            secret_key: "secret-of-OLD".into(),
            token: Some("token-of-OLD".into()),
        };
        let life = CredentialsLife {
            issued: t("2026-11-22T00:00:00Z"),
            expires: t("2026-11-22T16:00:00Z"),
        };
        let shared = SharedCredentials::new(first, Some(life));
        let session = SessionId::new("20261122-0000-eu");
        (dir, Renewer::new(store, shared.clone(), session), RenewingProvider(shared))
    }

    #[tokio::test]
    async fn newer_credentials_are_swapped_in_once_a_quarter_is_left() {
        let (_dir, mut r, provider) = setup();
        let key = r.store.credentials_key(&r.session);
        assert_eq!(key, "control/grove/credentials/20261122-0000-eu.json");
        r.store
            .put_json(&key, &doc("NEW", "2026-11-22T11:00:00Z", "2026-11-23T03:00:00Z"))
            .await
            .unwrap();
        assert_eq!(r.check(t("2026-11-22T11:30:00Z")).await.unwrap(), Renewal::NotDue);
        assert_eq!(provider.get_credential().await.unwrap().key_id, "OLD");

        r.poll(t("2026-11-22T12:30:00Z")).await;
        let now = provider.get_credential().await.unwrap();
        assert_eq!(
            (now.key_id.as_str(), now.secret_key.as_str(), now.token.as_deref()),
            ("NEW", "secret-of-NEW", Some("token-of-NEW"))
        );
        assert_eq!(
            r.report(),
            Some(CredentialsStatus {
                expires: t("2026-11-23T03:00:00Z"),
                problem: None
            })
        );
        assert_eq!(
            r.check(t("2026-11-22T13:00:00Z")).await.unwrap(),
            Renewal::NotDue,
            "the new life counts"
        );
        assert!(!format!("{r:?} {provider:?}").contains("secret-of"), "Debug never shows a secret");
    }

    #[tokio::test]
    async fn nothing_newer_is_a_reported_problem_and_retried() {
        let (_dir, mut r, provider) = setup();
        r.poll(t("2026-11-22T13:00:00Z")).await;
        let problem = r.report().unwrap().problem.unwrap();
        assert!(
            problem.contains("expire 2026-11-22T16:00:00Z") && problem.contains("control/grove/credentials/20261122-0000-eu.json"),
            "{problem}"
        );
        // Another session's renewal is not this agent's.
        let other = r.store.credentials_key(&SessionId::new("20261121-0000-eu"));
        r.store
            .put_json(&other, &doc("OTHER", "2026-11-22T13:00:00Z", "2026-11-23T03:00:00Z"))
            .await
            .unwrap();
        assert!(matches!(
            r.check(t("2026-11-22T13:00:30Z")).await,
            Err(RenewError::NothingNewer { .. })
        ));
        // The same credentials, written again, are not newer.
        let key = r.store.credentials_key(&r.session);
        r.store
            .put_json(&key, &doc("OLD", "2026-11-22T00:00:00Z", "2026-11-22T16:00:00Z"))
            .await
            .unwrap();
        assert!(matches!(
            r.check(t("2026-11-22T13:01:00Z")).await,
            Err(RenewError::NothingNewer { .. })
        ));
        // A bad document is a problem too, never a crash.
        r.store.put_bytes(&key, b"{\"version\": 1}".to_vec()).await.unwrap();
        r.poll(t("2026-11-22T13:02:00Z")).await;
        assert!(r.report().unwrap().problem.unwrap().contains("not valid JSON"));
        // The next poll after the reconciler renewed clears it.
        r.store
            .put_json(&key, &doc("NEW", "2026-11-22T13:00:00Z", "2026-11-23T03:00:00Z"))
            .await
            .unwrap();
        r.poll(t("2026-11-22T13:03:00Z")).await;
        assert_eq!(r.report().unwrap().problem, None);
        assert_eq!(provider.get_credential().await.unwrap().key_id, "NEW");
    }

    #[tokio::test]
    async fn keys_that_do_not_expire_are_never_renewed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        let shared = SharedCredentials::new(
            AwsCredential {
                key_id: "LONG".into(),
                secret_key: "s".into(),
                token: None,
            },
            None,
        );
        let r = Renewer::new(store, shared, SessionId::new("20261122-0000-eu"));
        assert_eq!(r.check(t("2030-01-01T00:00:00Z")).await.unwrap(), Renewal::NotDue);
        assert_eq!(r.report(), None);
    }
}
