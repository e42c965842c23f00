//! The renewal step: mint the agent's new storage credentials, deliver them
//! in `control/<s>/credentials/<session>.json`, then record their life in
//! the server's labels. Refused for a session that has ended; closing a
//! session deletes its document (`super::close`).
//!
//! The order makes every interruption converge. The labels are what the
//! next plan reads, so they move last: a crash or a failure after the file
//! is written leaves the old life on the labels, the next run renews again
//! and overwrites the file with newer credentials (the agent takes whichever
//! is newest; credentials minted in between simply expire unused). A
//! renewal another run already recorded is seen in the labels read first.

use chrono::SecondsFormat;

use super::{Apply, ApplyError, Ctx, Outcome, Report, RunState, find_session};
use crate::ids::{HetznerServerId, SessionId};
use crate::plan::RenewCredentials;
use crate::storage::credentials::{CredentialsLife, mint_agent_credentials};

async fn renew(
    cx: &Ctx<'_>,
    report: &mut Report,
    resource: &str,
    session: &SessionId,
    id: Option<HetznerServerId>,
    ttl_seconds: u64,
) -> Result<Outcome, ApplyError> {
    let invalid = |why: &str| ApplyError::Invalid {
        resource: resource.to_string(),
        why: why.to_string(),
    };
    let hetzner = |source: crate::hetzner::HetznerError| ApplyError::Hetzner {
        resource: resource.to_string(),
        source: source.into(),
    };
    let Some(mint) = cx.mint else {
        return Err(invalid(
            "nothing to mint with: renewal needs [storage] account_id in server.toml and R2_ACCESS_KEY_ID / R2_SECRET_ACCESS_KEY",
        ));
    };
    let id = id.ok_or_else(|| invalid("the server's id was not observed"))?;
    // The precondition, and the labels to keep: the update replaces them all.
    let Some(server) = cx.hetzner.get_server(id).await.map_err(hetzner)? else {
        return Err(ApplyError::Stale {
            resource: resource.to_string(),
            why: format!("server {id} is gone"),
        });
    };
    if let Some(life) = CredentialsLife::from_labels(&server.labels)
        && !life.needs_renewal(cx.now)
    {
        return Ok(Outcome::Unchanged(format!("already renewed, valid until {}", stamp(life.expires))));
    }

    let creds = mint_agent_credentials(cx.cloudflare, mint, &cx.desired.server.name, ttl_seconds, cx.now)
        .await
        .map_err(|source| ApplyError::Cloudflare {
            resource: resource.to_string(),
            source: source.into(),
        })?;
    let key = cx.store.credentials_key(session);
    cx.store.put_json(&key, &creds.doc()).await.map_err(|source| ApplyError::Storage {
        resource: key.clone(),
        source,
    })?;
    tracing::info!(
        access_key_id = %creds.access_key_id,
        expires = %creds.expires,
        %key,
        "delivered the agent's renewed R2 credentials"
    );
    crate::apply::crash_here("credentials-delivered")?;

    let mut labels = server.labels.clone();
    labels.extend(creds.life().labels());
    if cx.hetzner.set_server_labels(id, &labels).await.map_err(hetzner)?.is_none() {
        return Err(ApplyError::Stale {
            resource: resource.to_string(),
            why: format!("server {id} went away before its labels were updated"),
        });
    }
    let until = stamp(creds.expires);
    report
        .message
        .push(format!("renew the agent's storage credentials (valid until {until})"));
    Ok(Outcome::Done(format!("delivered to {key}; valid until {until}")))
}

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Apply for RenewCredentials {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        let session = &self.session;
        if find_session(cx, st, session).is_none_or(|s| s.ended.is_some()) {
            return Err(ApplyError::Stale {
                resource: resource.to_string(),
                why: format!("session {session} has ended (or is not in the ledger): no credentials are issued for it"),
            });
        }
        renew(cx, report, resource, session, self.id, self.ttl_seconds).await
    }
}
