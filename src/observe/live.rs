//! Live observation: Hetzner (servers with our labels), Cloudflare (the two
//! records), storage (the control channel, the agent's status, the newest
//! verified snapshot), and the ledger for what the bot believes.
//!
//! And the game itself: one Server List Ping of the session's server
//! ([`super::game`]).
//!
//! A no-op run must stay cheap (the budget is ≤ 8 API calls), so each
//! system is read once: one server list, one zone lookup, one list per DNS
//! record, three small storage reads, one list of the backups and one of
//! the admin's requests (`super::requests`). The zone is kept for apply.

use chrono::{DateTime, Utc};

use super::{AgentStatus, ControlState, ObservedBackups, ObservedCredentials, ObservedDns, ObservedFrom, ObservedServer};
use crate::cloudflare::{Cloudflare, CloudflareError, Zone};
use crate::hetzner::{Hetzner, HetznerError, Server};
use crate::ids::{RegionKey, SessionId};
use crate::observe::Observed;
use crate::repo::Desired;
use crate::repo::ledger::Ledger;
use crate::storage::credentials::CredentialsLife;
use crate::storage::{StorageError, Store};

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("observing Hetzner")]
    Hetzner(#[from] HetznerError),
    #[error("observing Cloudflare")]
    Cloudflare(#[from] CloudflareError),
    #[error("observing storage ({0})")]
    Storage(String, #[source] StorageError),
    #[error("listing the world backups ({0})")]
    World(String, #[source] crate::world::WorldError),
}

/// The outside systems, connected.
pub struct Live {
    pub hetzner: Hetzner,
    pub cloudflare: Cloudflare,
    pub store: Store,
    /// Whether (and at which port) the session's server is pinged.
    pub game_ping: super::game::GamePingSettings,
}

/// What observation found that apply reuses.
pub struct Facts {
    pub zone: Zone,
    /// Every server carrying this server's label, ours and orphans.
    pub servers: Vec<Server>,
}

/// The label selector for everything this state repo's server owns.
pub fn selector(d: &Desired) -> String {
    crate::labels::owned_selector(d.server.name.as_str())
}

pub fn to_observed(s: &Server) -> ObservedServer {
    ObservedServer {
        id: Some(s.id),
        name: s.name.clone(),
        session: SessionId::new(s.labels.get(crate::labels::SESSION).cloned().unwrap_or_default()),
        region: RegionKey::new(s.labels.get(crate::labels::REGION).cloned().unwrap_or_default()),
        location: Some(s.location.clone()),
        server_type: Some(s.server_type.clone()),
        ipv4: s.ipv4.clone(),
        closed_session: None,
    }
}

/// The agent's report, if it is about our server's session. A report from
/// another session (the last one's agent said "terminating" before its
/// server went) says nothing about this one, and read as this one's it would
/// stop a server that just started. An older agent that does not name its
/// session is believed. With no server, only a report naming the open
/// session is kept: it says how that session ended (its agent finished,
/// then a run deleted the server and crashed before closing the session).
pub fn agent_of(server: Option<&ObservedServer>, open: Option<&SessionId>, agent: Option<AgentStatus>) -> Option<AgentStatus> {
    match server {
        Some(server) => agent.filter(|a| a.session.as_ref().is_none_or(|s| *s == server.session)),
        None => agent.filter(|a| open.is_some() && a.session.as_ref() == open),
    }
}

pub async fn observe(live: &Live, d: &Desired, ledger: &Ledger, now: DateTime<Utc>) -> Result<(Observed, Facts), ObserveError> {
    let servers = live.hetzner.list_servers(&selector(d)).await?;
    let zone = live.cloudflare.zone(&d.server.dns.zone).await?;
    let srv_name = d.server.dns.srv.then(|| d.server.dns.srv_name());
    let dns = live.cloudflare.observe(&zone, &d.server.dns.host(), srv_name.as_deref()).await?;

    let session = ledger.open_session().cloned();
    // Ours: the server the open session names; with no open session, the
    // newest labelled server (its session is then recovered). The rest are
    // orphans, reported and never silently deleted.
    let ours = match &session {
        Some(s) => servers.iter().find(|v| crate::labels::session_of(&v.labels) == Some(s.id.as_str())),
        // A server whose session the ledger closed is a leftover, never ours.
        None => servers
            .iter()
            .filter(|v| {
                let label = crate::labels::session_of(&v.labels);
                !ledger.sessions.iter().any(|s| Some(s.id.as_str()) == label && s.ended.is_some())
            })
            .max_by_key(|v| v.created),
    };
    let orphans = servers
        .iter()
        .filter(|v| Some(v.id) != ours.map(|o| o.id))
        .map(|v| {
            let mut o = to_observed(v);
            o.closed_session = ledger
                .sessions
                .iter()
                .find(|s| s.id == o.session)
                .and_then(|s| s.ended.map(|e| (s.started, e)));
            o
        })
        .collect();

    let store = &live.store;
    let storage = |e| ObserveError::Storage(store.describe.clone(), e);
    let want = crate::assets::render_files(d);
    // No document yet is an observation too: the agent has been told nothing.
    let mut control = match store.control().await {
        Ok(None) => Some(ControlState::default()),
        // Our own document in a shape this version cannot read (a stop reason
        // it does not know, say): observed as if the agent had been told
        // nothing, so the plan writes the whole document anew.
        Err(e @ (StorageError::Decode { .. } | StorageError::TooLarge { .. })) => Some(ControlState {
            unreadable: Some(crate::error::render_error(&e)),
            ..ControlState::default()
        }),
        Err(e) => return Err(storage(e)),
        Ok(Some(doc)) => {
            let mut control = ControlState::from(doc);
            for (path, have) in control.assets.iter_mut() {
                // Fetch the stored text only for text files that changed, for the diff.
                match want.get(path) {
                    Some(w) if w.state.hash != have.hash && w.state.text.is_some() && have.hash.starts_with("sha256:") => {
                        let bytes = store.get_bytes(&store.asset_key(&have.hash)).await.map_err(storage)?;
                        have.text = bytes.and_then(|b| String::from_utf8(b).ok());
                    }
                    _ => {}
                }
            }
            Some(control)
        }
    };
    let mut unreadable = Vec::new();
    let status = match store.status().await {
        Ok(s) => s,
        Err(e @ (StorageError::Decode { .. } | StorageError::TooLarge { .. })) => {
            unreadable.push(crate::error::render_error(&e));
            None
        }
        Err(e) => return Err(storage(e)),
    };
    let agent = status.map(AgentStatus::from);
    let pointer = match store.current_snapshot_strict().await {
        Ok(p) => p,
        Err(e @ (StorageError::Decode { .. } | StorageError::TooLarge { .. })) => {
            unreadable.push(crate::error::render_error(&e));
            None
        }
        Err(e) => return Err(storage(e)),
    };
    let latest_snapshot = pointer.as_ref().filter(|p| p.verified).map(|p| p.taken);
    let final_snapshot = pointer
        .as_ref()
        .filter(|p| p.verified && p.kind == Some(crate::world::SnapshotKind::Final))
        .and_then(|p| {
            Some(super::FinalSnapshot {
                session: p.session.clone()?,
                taken: p.taken,
            })
        });
    // One list call: what retention and a start without current.json need.
    let backups = Some(ObservedBackups {
        current: pointer.as_ref().and_then(|p| crate::world::BackupName::from_key(&p.key)),
        all: crate::world::retention::list(store)
            .await
            .map_err(|e| ObserveError::World(store.describe.clone(), e))?,
    });

    let asked = super::requests::observe(store, ledger, session.as_ref()).await.map_err(storage)?;
    unreadable.extend(asked.unreadable);

    let server = ours.map(to_observed);
    let game = super::game::observe(&live.game_ping, server.as_ref()).await;
    let agent = agent_of(server.as_ref(), session.as_ref().map(|s| &s.id), agent);
    // The stored copies of the listed files are checked (the VPS can write
    // them) where an agent is about to fetch them: before a start (no server
    // of ours, the repo asks for one), and while our server's agent has not
    // reported past provisioning (it may be refusing one now).
    let may_start = server.is_none() && d.server.state == crate::repo::SwitchState::Running;
    let provisioning = server.is_some() && agent.as_ref().is_none_or(|a| a.phase == crate::lifecycle::Phase::Provisioning);
    // The prebuilt image a start would boot from (`mc-gitops image build`):
    // looked up only when a start may be planned.
    let image = match may_start {
        true => {
            let version = crate::hetzner::images::AGENT_VERSION;
            let images = live
                .hetzner
                .list_snapshots(&crate::hetzner::images::image_selector(&d.server.name, Some(version)))
                .await?;
            crate::hetzner::images::newest_usable(&images, version).cloned()
        }
        false => None,
    };
    if let Some(c) = control.as_mut().filter(|_| may_start || provisioning) {
        c.damaged = super::assets::stored_damage(store, &want, &c.assets).await.map_err(storage)?;
    }
    // Renewable only where apply can mint: R2 storage and an account id.
    let renewable = !store.is_local() && d.server.storage.as_ref().is_some_and(|s| s.account_id.is_some());
    let credentials = ours.filter(|_| renewable).map(|s| match CredentialsLife::from_labels(&s.labels) {
        Some(life) => ObservedCredentials::Known(life),
        None => ObservedCredentials::Unlabelled,
    });

    let observed = Observed {
        now,
        from: ObservedFrom::Live,
        server,
        orphans,
        dns: Some(ObservedDns {
            a: dns.a.map(|ip| ip.to_string()),
            srv: dns.srv,
            drift: dns.drift,
        }),
        agent,
        unreadable,
        control,
        latest_snapshot,
        final_snapshot,
        backups,
        session,
        credentials,
        answered: asked.answered,
        requests: Some(asked.requests),
        game,
        image,
        // The rest is the ledger's (month to date, restores done, the last
        // start, the learned shutdown policy); `actions` is read by the
        // commands (`actions_minutes::observe`), which decide whether to refresh it.
        ..super::ledger_only::observe(ledger, &d.server, now)
    };
    Ok((observed, Facts { zone, servers }))
}

#[cfg(test)]
mod tests {
    use super::agent_of;
    use crate::lifecycle::Phase;

    #[test]
    fn a_report_from_another_sessions_agent_is_not_this_sessions() {
        let t = "2026-11-22T18:00:00Z".parse().unwrap();
        let server = crate::observe::ObservedServer {
            id: None,
            name: "grove-mc".into(),
            session: crate::ids::SessionId::new("20261122-1800-eu"),
            region: crate::ids::RegionKey::new("eu"),
            location: None,
            server_type: None,
            ipv4: None,
            closed_session: None,
        };
        let report = |session: Option<&str>| crate::observe::AgentStatus {
            phase: Phase::Terminating,
            players_online: vec![],
            heartbeat: t,
            stopped_at: Some(t),
            problem: None,
            session: session.map(crate::ids::SessionId::new),
            ready: None,
            players_seen: vec![],
            presence: vec![],
            peak_players: 0,
            backups: 0,
            world_bytes: None,
            crashed: false,
        };
        let open = crate::ids::SessionId::new("20261122-1800-eu");
        assert_eq!(agent_of(Some(&server), None, Some(report(Some("20261101-1802-eu")))), None);
        assert!(agent_of(Some(&server), None, Some(report(Some("20261122-1800-eu")))).is_some());
        assert!(
            agent_of(Some(&server), None, Some(report(None))).is_some(),
            "an older agent names no session"
        );
        assert_eq!(agent_of(None, None, Some(report(None))), None);
        assert_eq!(agent_of(None, Some(&open), Some(report(None))), None);
        assert!(
            agent_of(None, Some(&open), Some(report(Some("20261122-1800-eu")))).is_some(),
            "the last report of the open session says how it ended"
        );
    }
}
