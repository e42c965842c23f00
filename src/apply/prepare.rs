//! What a run needs before its first change when the plan creates a server:
//! the backup `restore = "<name>"` asks for must exist (checked before any
//! session file is written, so a typo costs nothing), and the agent's R2
//! credentials are minted, scoped to the server's own prefixes, for
//! whoever writes the agent's config ([`super::Ctx::agent_credentials`]). The
//! backup the new server will restore (the named one, else the one
//! `current.json` points at) is first mended from the vault if the VPS of an
//! earlier session deleted or altered it (`crate::world::vault::mend`).

use chrono::{DateTime, Utc};

use super::ApplyError;
use crate::cloudflare::Cloudflare;
use crate::plan::{CreateServer, OpenSession, Plan, Step};
use crate::repo::Desired;
use crate::storage::Store;
use crate::storage::credentials::{AgentCredentials, MintSettings, mint_agent_credentials, session_ttl};
use crate::world::Manifest;

#[derive(Clone, Debug, Default)]
pub struct Prepared {
    pub agent_credentials: Option<AgentCredentials>,
    pub restore: Option<Manifest>,
}

pub async fn prepare(
    cloudflare: &Cloudflare,
    store: &Store,
    mint: Option<&MintSettings>,
    desired: &Desired,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<Prepared, ApplyError> {
    let Some(planned_restore) = plan.changes.iter().find_map(|c| match &c.step {
        Step::CreateServer(CreateServer { restore, .. }) => Some(restore),
        _ => None,
    }) else {
        return recovered_restore(store, plan).await;
    };
    // The plan's, not server.toml's: a backup a session already restored is
    // not restored again (the planner left it out).
    let to_mend = match planned_restore {
        Some(name) => crate::world::BackupName::parse(name).ok(),
        None => store
            .current_snapshot()
            .await
            .map_err(|source| ApplyError::Storage {
                resource: "worlds current.json".into(),
                source,
            })?
            .and_then(|p| crate::world::BackupName::from_key(&p.key)),
    };
    if let Some(name) = to_mend {
        mend(store, &name).await?;
    }
    let restore = match planned_restore {
        None => None,
        Some(name) => Some(resolve(store, name).await?),
    };
    let agent_credentials = match mint {
        None => None,
        Some(m) => {
            let ttl = session_ttl(&desired.server.lifecycle);
            let c = mint_agent_credentials(cloudflare, m, &desired.server.name, ttl, now)
                .await
                .map_err(|source| ApplyError::Cloudflare {
                    resource: format!("R2 credentials for the agent of {}", desired.server.name),
                    source: source.into(),
                })?;
            tracing::info!(
                access_key_id = %c.access_key_id,
                prefixes = ?c.prefixes,
                expires = %c.expires,
                "minted the agent's R2 credentials"
            );
            Some(c)
        }
    };
    Ok(Prepared {
        agent_credentials,
        restore,
    })
}

/// A session recovered from its server whose agent was never handed its
/// document starts from server.toml's `restore` (the plan's `OpenSession`):
/// the backup must exist before the session records it.
async fn recovered_restore(store: &Store, plan: &Plan) -> Result<Prepared, ApplyError> {
    let name = plan.changes.iter().find_map(|c| match &c.step {
        Step::OpenSession(OpenSession { restore: Some(name), .. }) => Some(name),
        _ => None,
    });
    if let Some(parsed) = name.and_then(|n| crate::world::BackupName::parse(n).ok()) {
        mend(store, &parsed).await?;
    }
    let restore = match name {
        None => None,
        Some(name) => Some(resolve(store, name).await?),
    };
    Ok(Prepared {
        agent_credentials: None,
        restore,
    })
}

async fn mend(store: &Store, name: &crate::world::BackupName) -> Result<(), ApplyError> {
    let mended = crate::world::vault::mend(store, name).await.map_err(|e| ApplyError::World {
        resource: format!("world backup {name}"),
        source: Box::new(e),
    })?;
    if mended {
        tracing::warn!(backup = %name, "the backup under worlds/ was missing or altered; put back from the vault");
    }
    Ok(())
}

async fn resolve(store: &Store, name: &str) -> Result<Manifest, ApplyError> {
    crate::world::resolve(store, name).await.map_err(|e| ApplyError::Invalid {
        resource: "server.toml `restore`".into(),
        why: crate::error::render_error(&e),
    })
}
