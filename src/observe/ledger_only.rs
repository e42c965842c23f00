//! Observation from the repo's own ledger, for machines with no credentials:
//! an open session stands for a server believed to be running. Nothing
//! outside the repo is called. The live observation starts from this one
//! ([`super::live::observe`]): what the ledger says is read here only.

use chrono::{DateTime, Utc};

use super::{LedgerObserver, Observed, ObservedFrom, ObservedServer};
use crate::repo::ServerConfig;
use crate::repo::ledger::Ledger;

impl LedgerObserver for Ledger {
    fn ledger(&self) -> &Ledger {
        self
    }
}

/// What the ledger says of `server` at `now`; the shutdown policy is learned
/// under its `[lifecycle]`.
pub fn observe(ledger: &impl LedgerObserver, server: &ServerConfig, now: DateTime<Utc>) -> Observed {
    let ledger = ledger.ledger();
    let config = server;
    let server = &config.name;
    let session = ledger.open_session().cloned();
    let believed = session.as_ref().map(|s| ObservedServer {
        id: s.server_id,
        name: server.hetzner_name(),
        session: s.id.clone(),
        region: s.region.clone(),
        location: s.location.clone(),
        server_type: s.server_type.clone(),
        ipv4: s.ipv4.clone(),
        closed_session: None,
    });
    Observed {
        now,
        from: ObservedFrom::Ledger,
        server: believed,
        orphans: Vec::new(),
        dns: None,
        agent: None,
        unreadable: Vec::new(),
        control: None,
        latest_snapshot: None,
        final_snapshot: None,
        backups: None,
        session,
        // The ledger cannot see labels: nothing is renewed from it.
        credentials: None,
        month_to_date: ledger.month_to_date(now),
        restores_done: ledger.restores_done(),
        answered: Vec::new(),
        requests: None,
        game: None,
        last_start: ledger.sessions.iter().map(|s| s.started).max(),
        reconcile_ticks: Vec::new(),
        actions: None,
        // Images are Hetzner's: a start planned from the ledger alone uses the stock image.
        image: None,
        learned_shutdown: crate::shutdown::learn::from_ledger(&ledger.sessions, &config.lifecycle),
    }
}
