//! Renewing the agent's storage credentials. They are minted for a
//! session's longest life, capped at Cloudflare's 7 days, so a longer session
//! (or a stop that runs late) would leave the agent without storage: no
//! backups, no heartbeat, and no final snapshot, so the server could never
//! be deleted safely. The server's labels say when its credentials expire;
//! once less than a quarter of their life is left, new ones are minted for
//! the rest of the session and handed over through the control channel.
//!
//! A server whose labels do not say (created before renewal existed, or
//! edited by hand) is renewed once: its expiry is unknown, and a renewal
//! costs one mint, one small write and one label update, after which it is
//! known. While the server is being deleted (its final snapshot is
//! verified) nothing is renewed: the agent has nothing left to upload.
//! Renewals are per session (`control/<s>/credentials/<session>.json`):
//! only a server whose session is the ledger's open one is renewed, so a
//! server left from an ended session (an orphan) never gets new keys.

use serde_json::json;

use super::Builder;
use crate::observe::ObservedCredentials;
use crate::plan::{Level, Op, RenewCredentials, Step};
use crate::storage::credentials::renewal_ttl;

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Builder<'_> {
    /// A renewal step when the running server's credentials need one.
    pub(super) fn renew_credentials(&mut self) {
        let (d, o) = (self.d, self.o);
        let (Some(server), Some(seen)) = (&o.server, o.credentials) else {
            return;
        };
        let Some(open) = o.session.as_ref().filter(|s| s.id == server.session && s.ended.is_none()) else {
            return;
        };
        let (before, why) = match seen {
            ObservedCredentials::Known(life) if !life.needs_renewal(o.now) => return,
            ObservedCredentials::Known(life) if life.expires <= o.now => {
                self.notice(
                    Level::Warning,
                    format!(
                        "the agent's storage credentials expired at {}: it cannot fetch renewed ones until it is restarted with new user-data",
                        stamp(life.expires)
                    ),
                );
                (json!({ "issued": life.issued, "expires": life.expires }), "expired".to_string())
            }
            ObservedCredentials::Known(life) => (
                json!({ "issued": life.issued, "expires": life.expires }),
                format!("less than a quarter of their life is left (they expire {})", stamp(life.expires)),
            ),
            ObservedCredentials::Unlabelled => (
                json!("(unknown: the server has no credential labels)"),
                "the server's labels do not say when they expire".to_string(),
            ),
        };
        let ttl = renewal_ttl(&d.server.lifecycle, open.started, o.now);
        let expires = o.now + chrono::Duration::seconds(ttl as i64);
        self.change(
            Op::Update,
            format!("storage credentials of {}", server.name),
            Step::RenewCredentials(RenewCredentials {
                name: server.name.clone(),
                id: server.id,
                session: open.id.clone(),
                ttl_seconds: ttl,
            }),
            before,
            json!({ "issued": o.now, "expires": expires }),
            format!(
                "{why}; new ones last to the session's end (at most 7 days), and the agent picks them up from control/{}/credentials/{}.json",
                d.server.name, open.id
            ),
        );
    }
}
