//! Connecting to the outside systems from the environment ([`Inputs`]):
//! which credentials are present decides whether `plan` observes live or
//! from the ledger alone. Tokens are handed to the clients; they go nowhere else.

use std::path::{Path, PathBuf};

use crate::cloudflare::Cloudflare;
use crate::hetzner::Hetzner;
use crate::inputs::{Inputs, Var};
use crate::observe::live::Live;
use crate::repo::Desired;
use crate::storage::Store;
use crate::storage::credentials::MintSettings;
use crate::storage::r2::{R2Credentials, r2_endpoint};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{have} is set but {missing} is not: live observation needs both (unset both to plan from the ledger alone)")]
    Partial { have: &'static str, missing: &'static str },
    #[error("connecting to Hetzner Cloud")]
    Hetzner(#[from] crate::hetzner::HetznerError),
    #[error("connecting to Cloudflare")]
    Cloudflare(#[from] crate::cloudflare::CloudflareError),
    #[error("opening storage")]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    GamePing(#[from] crate::observe::game::GamePingSettingError),
}

/// Where storage lives when no R2 bucket is configured: `MC_GITOPS_STORAGE_DIR`,
/// or `.mc-gitops/storage` in the repo checkout (git-ignored in the example).
pub fn local_storage_dir(inputs: &Inputs, repo: &Path) -> PathBuf {
    inputs
        .var_os(Var::StorageDir)
        .map_or_else(|| repo.join(".mc-gitops/storage"), PathBuf::from)
}

/// `None` when no cloud credentials are set at all.
pub fn live(inputs: &Inputs, repo: &Path, d: &Desired) -> Result<Option<Live>, ConnectError> {
    match (Hetzner::from_inputs(inputs), Cloudflare::from_inputs(inputs)) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConnectError::Partial {
            have: "HCLOUD_TOKEN",
            missing: "CLOUDFLARE_API_TOKEN",
        }),
        (None, Some(_)) => Err(ConnectError::Partial {
            have: "CLOUDFLARE_API_TOKEN",
            missing: "HCLOUD_TOKEN",
        }),
        (Some(h), Some(c)) => {
            let store = Store::from_settings(inputs, d.server.storage.as_ref(), &local_storage_dir(inputs, repo), &d.server.name)?;
            let mut hetzner = h?;
            // How often to poll Hetzner actions; tests and impatient admins lower it.
            if let Some(ms) = poll_interval_ms(inputs) {
                hetzner = hetzner.with_poll_interval(std::time::Duration::from_millis(ms.max(10)));
            }
            Ok(Some(Live {
                hetzner,
                cloudflare: c?,
                store,
                game_ping: crate::observe::game::GamePingSettings::from_inputs(inputs)?,
            }))
        }
    }
}

/// What the reconciler mints the agent's R2 credentials with: `[storage]`
/// with an `account_id`, and the account's R2 key in the environment (its
/// id is the parent of the temporary credentials). `None` when any is
/// missing: then the store is local and there is nothing to scope.
pub fn mint_settings(inputs: &Inputs, d: &Desired) -> Result<Option<MintSettings>, ConnectError> {
    let Some(storage) = &d.server.storage else { return Ok(None) };
    let Some(account_id) = &storage.account_id else { return Ok(None) };
    let Some(creds) = R2Credentials::from_inputs(inputs)? else {
        return Ok(None);
    };
    let endpoint = inputs
        .var(Var::R2Endpoint)
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| r2_endpoint(account_id));
    Ok(Some(MintSettings {
        account_id: account_id.clone(),
        bucket: storage.bucket.clone(),
        endpoint,
        parent_access_key_id: creds.access_key_id,
    }))
}

/// `MC_GITOPS_POLL_INTERVAL_MS`: how often Hetzner actions (and control
/// answers) are polled; tests and impatient admins lower it.
pub fn poll_interval_ms(inputs: &Inputs) -> Option<u64> {
    inputs.var(Var::PollIntervalMs).and_then(|v| v.parse::<u64>().ok())
}
