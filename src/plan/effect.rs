//! What a plan does to the world, as a pure function: the model of apply
//! the planner's tests hold it to. The property tests plan, simulate the
//! plan's effect, and check that planning again comes back empty (it
//! converges). Test-only: apply's own tests (`tests/apply*.rs`) check the
//! real effects against the fakes, not against this model.

use chrono::Duration;

use super::{
    AskOrphanToStop, AwaitCountdown, AwaitSnapshot, ClearRestore, CloseSession, CreateServer, DeleteDnsA, DeleteServer, HandOver, IpTarget,
    OpenSession, Plan, PruneBackups, PruneRequest, PutAsset, RecordActivity, RecordReady, RecordRequests, RecordStopOverdue, RecordSuspend,
    RefuseQuietStart, RemoveAsset, RenewCredentials, RequestStop, SealBackups, SetDnsA, SetDnsSrv, SetStateRunning, SetStateStopped, Step,
    UpdateOps, UpdateShutdownPolicy, UpdateWhitelist,
};
use crate::observe::Observed;
use crate::observe::{ControlState, ObservedCredentials, ObservedDns, ObservedServer};
use crate::plan::assets;
use crate::repo::ledger::Session;
use crate::repo::{Desired, SwitchState};
use crate::storage::credentials::{CredentialsLife, session_ttl};

/// The address a simulated server gets (TEST-NET-3, never routed).
pub(super) const SIMULATED_IP: &str = "203.0.113.77";

pub(super) fn simulate(d: &Desired, o: &Observed, plan: &Plan) -> (Desired, Observed) {
    let (mut d, mut o) = (d.clone(), o.clone());
    for change in &plan.changes {
        // Any write of desired.json replaces a document observe could not read.
        let writes_control = matches!(
            change.step,
            Step::PutAsset(PutAsset { .. })
                | Step::RemoveAsset(RemoveAsset { .. })
                | Step::UpdateWhitelist(UpdateWhitelist { .. })
                | Step::UpdateOps(UpdateOps { .. })
                | Step::UpdateShutdownPolicy(UpdateShutdownPolicy { .. })
                | Step::HandOver(HandOver { .. })
                | Step::RequestStop(RequestStop { .. })
        );
        if let Some(c) = o.control.as_mut().filter(|_| writes_control) {
            c.unreadable = None;
        }
        match &change.step {
            Step::OpenSession(OpenSession {
                session, region, restore, ..
            }) => {
                let mut s = Session::opened(session, &d.server.name, region, o.now);
                if let Some(backup) = restore {
                    s.restored_from = Some(backup.clone());
                    o.restores_done.entry(backup.clone()).or_insert_with(|| session.clone());
                }
                o.session = Some(s);
            }
            Step::CreateServer(CreateServer {
                name,
                session,
                region,
                locations,
                server_types,
                restore,
                ..
            }) => {
                if let Some(backup) = restore {
                    o.restores_done.entry(backup.clone()).or_insert_with(|| session.clone());
                }
                o.server = Some(ObservedServer {
                    id: Some(crate::ids::HetznerServerId(1)),
                    name: name.clone(),
                    session: session.clone(),
                    region: region.clone(),
                    location: locations.first().cloned(),
                    server_type: server_types.first().cloned(),
                    ipv4: Some(SIMULATED_IP.into()),
                    closed_session: None,
                });
                // Apply mints the agent's credentials when it can (an R2
                // account to mint with) and labels the server with their life.
                o.credentials = d.server.storage.as_ref().and_then(|s| s.account_id.as_ref()).map(|_| {
                    ObservedCredentials::Known(CredentialsLife {
                        issued: o.now,
                        expires: o.now + Duration::seconds(session_ttl(&d.server.lifecycle) as i64),
                    })
                });
                let assets = o.control.take().map(|c| c.assets).unwrap_or_default();
                o.control = Some(ControlState {
                    session: Some(session.clone()),
                    stop_requested: None,
                    stop_reason: None,
                    stop_warnings: Default::default(),
                    whitelist: assets::whitelist_names(&d),
                    whitelist_uuids: assets::whitelist_uuids(&d),
                    ops: assets::op_entries(&d),
                    shutdown: None,
                    assets,
                    damaged: Default::default(),
                    unreadable: None,
                });
            }
            Step::SetDnsA(SetDnsA { target, .. }) => {
                let ip = match target {
                    IpTarget::NewServer => o.server.as_ref().and_then(|s| s.ipv4.clone()),
                    IpTarget::Address(ip) => Some(ip.clone()),
                };
                let dns = o.dns.get_or_insert_with(ObservedDns::default);
                dns.a = ip;
                dns.drift.clear();
            }
            Step::SetDnsSrv(SetDnsSrv { target, port, .. }) => {
                let dns = o.dns.get_or_insert_with(ObservedDns::default);
                dns.srv = Some((target.clone(), *port));
                dns.drift.clear();
            }
            Step::PutAsset(PutAsset { path, file }) => {
                let c = o.control.get_or_insert_with(ControlState::default);
                c.assets.insert(path.clone(), file.clone());
                c.damaged.remove(path);
            }
            Step::RemoveAsset(RemoveAsset { path }) => {
                if let Some(c) = o.control.as_mut() {
                    c.assets.remove(path);
                }
            }
            Step::UpdateWhitelist(UpdateWhitelist { players, uuids }) => {
                let c = o.control.get_or_insert_with(ControlState::default);
                c.whitelist = players.clone();
                c.whitelist_uuids = uuids.clone();
            }
            Step::UpdateOps(UpdateOps { ops }) => o.control.get_or_insert_with(ControlState::default).ops = ops.clone(),
            Step::UpdateShutdownPolicy(UpdateShutdownPolicy { policy }) => {
                o.control.get_or_insert_with(ControlState::default).shutdown = policy.clone()
            }
            Step::HandOver(HandOver {
                session,
                whitelist,
                whitelist_uuids,
                ops,
                ..
            }) => {
                let c = o.control.get_or_insert_with(ControlState::default);
                c.session = Some(session.clone());
                c.whitelist = whitelist.clone();
                c.whitelist_uuids = whitelist_uuids.clone();
                c.ops = ops.clone();
            }
            Step::RequestStop(RequestStop { reason, warnings }) => {
                let c = o.control.get_or_insert_with(ControlState::default);
                c.stop_requested = Some(o.now);
                c.stop_reason = Some(*reason);
                c.stop_warnings = warnings.clone();
            }
            // The countdown ends: the agent stops Minecraft, its players gone.
            Step::AwaitCountdown(AwaitCountdown { .. }) => {
                if let Some(a) = o.agent.as_mut() {
                    a.phase = crate::lifecycle::Phase::Terminating;
                    a.players_online.clear();
                }
            }
            Step::RenewCredentials(RenewCredentials { ttl_seconds, .. }) => {
                o.credentials = Some(ObservedCredentials::Known(CredentialsLife {
                    issued: o.now,
                    expires: o.now + Duration::seconds(*ttl_seconds as i64),
                }));
            }
            Step::AwaitSnapshot(AwaitSnapshot { session, taken_after }) => {
                let taken = *taken_after + Duration::seconds(1);
                o.latest_snapshot = Some(taken);
                o.final_snapshot = Some(crate::observe::FinalSnapshot {
                    session: session.clone(),
                    taken,
                });
            }
            Step::AskOrphanToStop(AskOrphanToStop { session, .. }) => {
                let c = o.control.get_or_insert_with(ControlState::default);
                c.session = Some(session.clone());
                c.stop_requested = Some(o.now);
                c.stop_reason = Some(crate::lifecycle::EndReason::Drift);
                c.stop_warnings = Default::default();
            }
            Step::DeleteServer(DeleteServer { name, session, .. })
                if o.orphans.iter().any(|x| &x.name == name && x.closed_session.is_some()) =>
            {
                o.orphans.retain(|x| &x.name != name);
                if let Some(c) = o.control.as_mut().filter(|c| c.session.as_ref() == Some(session)) {
                    c.session = None;
                    c.stop_requested = None;
                    c.stop_reason = None;
                    c.stop_warnings = Default::default();
                }
            }
            Step::DeleteServer(DeleteServer { .. }) => {
                o.server = None;
                o.agent = None;
                o.credentials = None;
                // The control document is reset when the server goes; the
                // shipped assets stay, content-addressed, for the next start.
                if let Some(c) = o.control.as_mut() {
                    c.stop_requested = None;
                    c.stop_reason = None;
                    c.stop_warnings = Default::default();
                }
            }
            Step::DeleteDnsA(DeleteDnsA { .. }) => o.dns.get_or_insert_with(ObservedDns::default).a = None,
            Step::CloseSession(CloseSession { .. }) => {
                o.session = None;
                if o.server.is_none() {
                    // The last report of a closed session is no longer read.
                    o.agent = None;
                }
                if let Some(c) = o.control.as_mut() {
                    c.session = None;
                    c.stop_requested = None;
                    c.stop_reason = None;
                    c.stop_warnings = Default::default();
                }
            }
            Step::SetStateStopped(SetStateStopped { .. }) | Step::RefuseQuietStart(RefuseQuietStart { .. }) => {
                d.server.state = SwitchState::Stopped
            }
            Step::SetStateRunning(SetStateRunning { .. }) => d.server.state = SwitchState::Running,
            Step::ClearRestore(ClearRestore { .. }) => d.server.restore = None,
            Step::RecordReady(RecordReady { at, .. }) => {
                if let Some(s) = o.session.as_mut() {
                    s.ready = Some(*at);
                }
            }
            Step::RecordStopOverdue(RecordStopOverdue { since, .. }) => {
                if let Some(s) = o.session.as_mut() {
                    s.events.push(crate::repo::ledger::Event {
                        at: *since,
                        what: format!("{}: (simulated)", crate::plan::OVERDUE_EVENT),
                    });
                }
            }
            Step::RecordSuspend(RecordSuspend { at, .. }) => {
                if let Some(s) = o.session.as_mut() {
                    s.last_suspended = Some(*at);
                }
            }
            Step::RecordActivity(RecordActivity {
                players_seen,
                presence,
                peak_players,
                backups,
                world_bytes,
                ..
            }) => {
                if let Some(s) = o.session.as_mut() {
                    s.take_activity(&crate::repo::ledger::Activity {
                        players_seen: players_seen.clone(),
                        presence: presence.clone(),
                        peak_players: *peak_players,
                        backups: *backups,
                        world_bytes: *world_bytes,
                    });
                }
            }
            Step::RecordRequests(RecordRequests { requests, .. }) => {
                if let Some(s) = o.session.as_mut() {
                    s.requests.extend(requests.iter().cloned());
                }
            }
            Step::PruneRequest(PruneRequest { id, because }) => {
                if let Some(r) = o.requests.as_mut() {
                    let result_too = !matches!(because, crate::plan::RequestPrune::Expired { .. });
                    r.unanswered.retain(|(x, _)| x != id);
                    r.recorded.remove(id);
                    r.unreadable.retain(|x| x != id);
                    if result_too {
                        r.answered.retain(|x| x != id);
                        r.results_alone.retain(|x| x != id);
                    }
                }
            }
            Step::PruneBackups(PruneBackups { backups, .. }) => {
                if let Some(b) = o.backups.as_mut() {
                    b.all.retain(|x| !backups.contains(&x.name));
                }
            }
            Step::SealBackups(SealBackups { backups }) => {
                if let Some(b) = o.backups.as_mut() {
                    b.all.iter_mut().filter(|x| backups.contains(&x.name)).for_each(|x| x.sealed = true);
                }
            }
        }
    }
    (d, o)
}
