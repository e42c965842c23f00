//! The plan's JSON (docs/plan-json.md) with typed steps: each step is a
//! newtype variant around its struct, internally tagged by `kind`, which
//! serde writes exactly as the struct variants it replaced: `kind` beside
//! the struct's own fields, flat. One of every kind is checked here; the
//! snapshot tests (`tests.rs`) hold whole plans to their recorded JSON.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::ids::{HetznerServerId, Location, PlayerName, PlayerUuid, RegionKey, ServerType, SessionId};
use crate::observe::{FileState, OpEntry};

fn at() -> DateTime<Utc> {
    "2026-11-22T03:50:00Z".parse().unwrap()
}

/// `kind` for every step; exhaustive, so a new kind must be added here
/// (and to [`every_kind`]).
fn kind(s: &Step) -> &'static str {
    match s {
        Step::OpenSession(_) => "open-session",
        Step::CreateServer(_) => "create-server",
        Step::SetDnsA(_) => "set-dns-a",
        Step::SetDnsSrv(_) => "set-dns-srv",
        Step::PutAsset(_) => "put-asset",
        Step::RemoveAsset(_) => "remove-asset",
        Step::UpdateWhitelist(_) => "update-whitelist",
        Step::UpdateShutdownPolicy(_) => "update-shutdown-policy",
        Step::UpdateOps(_) => "update-ops",
        Step::RequestStop(_) => "request-stop",
        Step::AwaitCountdown(_) => "await-countdown",
        Step::AskOrphanToStop(_) => "ask-orphan-to-stop",
        Step::HandOver(_) => "hand-over",
        Step::RenewCredentials(_) => "renew-credentials",
        Step::AwaitSnapshot(_) => "await-snapshot",
        Step::DeleteServer(_) => "delete-server",
        Step::RecordStopOverdue(_) => "record-stop-overdue",
        Step::DeleteDnsA(_) => "delete-dns-a",
        Step::CloseSession(_) => "close-session",
        Step::SetStateStopped(_) => "set-state-stopped",
        Step::SetStateRunning(_) => "set-state-running",
        Step::RefuseQuietStart(_) => "refuse-quiet-start",
        Step::ClearRestore(_) => "clear-restore",
        Step::RecordReady(_) => "record-ready",
        Step::RecordSuspend(_) => "record-suspend",
        Step::RecordActivity(_) => "record-activity",
        Step::RecordRequests(_) => "record-requests",
        Step::PruneRequest(_) => "prune-request",
        Step::PruneBackups(_) => "prune-backups",
        Step::SealBackups(_) => "seal-backups",
    }
}

/// The struct inside a step, serialised on its own.
fn inner(s: &Step) -> Value {
    let v = match s {
        Step::OpenSession(x) => serde_json::to_value(x),
        Step::CreateServer(x) => serde_json::to_value(x),
        Step::SetDnsA(x) => serde_json::to_value(x),
        Step::SetDnsSrv(x) => serde_json::to_value(x),
        Step::PutAsset(x) => serde_json::to_value(x),
        Step::RemoveAsset(x) => serde_json::to_value(x),
        Step::UpdateWhitelist(x) => serde_json::to_value(x),
        Step::UpdateShutdownPolicy(x) => serde_json::to_value(x),
        Step::UpdateOps(x) => serde_json::to_value(x),
        Step::RequestStop(x) => serde_json::to_value(x),
        Step::AwaitCountdown(x) => serde_json::to_value(x),
        Step::AskOrphanToStop(x) => serde_json::to_value(x),
        Step::HandOver(x) => serde_json::to_value(x),
        Step::RenewCredentials(x) => serde_json::to_value(x),
        Step::AwaitSnapshot(x) => serde_json::to_value(x),
        Step::DeleteServer(x) => serde_json::to_value(x),
        Step::RecordStopOverdue(x) => serde_json::to_value(x),
        Step::DeleteDnsA(x) => serde_json::to_value(x),
        Step::CloseSession(x) => serde_json::to_value(x),
        Step::SetStateStopped(x) => serde_json::to_value(x),
        Step::SetStateRunning(x) => serde_json::to_value(x),
        Step::RefuseQuietStart(x) => serde_json::to_value(x),
        Step::ClearRestore(x) => serde_json::to_value(x),
        Step::RecordReady(x) => serde_json::to_value(x),
        Step::RecordSuspend(x) => serde_json::to_value(x),
        Step::RecordActivity(x) => serde_json::to_value(x),
        Step::RecordRequests(x) => serde_json::to_value(x),
        Step::PruneRequest(x) => serde_json::to_value(x),
        Step::PruneBackups(x) => serde_json::to_value(x),
        Step::SealBackups(x) => serde_json::to_value(x),
    };
    v.unwrap()
}

fn every_kind() -> Vec<Step> {
    let s = SessionId::new("20261122-0350-eu");
    let backup = crate::world::BackupName::parse("2026-11-22T03-50-00Z").unwrap();
    let ops = vec![OpEntry {
        name: PlayerName::new("Steve"),
        level: 4,
    }];
    vec![
        Step::OpenSession(OpenSession {
            session: s.clone(),
            region: RegionKey::new("eu"),
            recovered: false,
            restore: None,
        }),
        Step::CreateServer(CreateServer {
            name: "grove-20261122-0350-eu".into(),
            session: s.clone(),
            region: RegionKey::new("eu"),
            locations: vec![Location::new("fsn1")],
            server_types: vec![ServerType::new("cx33")],
            image: "debian-12".into(),
            snapshot: None,
            labels: crate::labels::owned("grove"),
            restore: None,
        }),
        Step::SetDnsA(SetDnsA {
            name: "mc.example.org".into(),
            target: IpTarget::NewServer,
            ttl: 60,
            proxied: false,
        }),
        Step::SetDnsSrv(SetDnsSrv {
            name: "_minecraft._tcp.mc.example.org".into(),
            target: "mc.example.org".into(),
            port: 25565,
            priority: 0,
            weight: 5,
            ttl: 60,
        }),
        Step::PutAsset(PutAsset {
            path: "server.properties".into(),
            file: FileState {
                hash: "sha256:00".into(),
                text: None,
            },
        }),
        Step::RemoveAsset(RemoveAsset {
            path: "mods/old.jar".into(),
        }),
        Step::UpdateWhitelist(UpdateWhitelist {
            players: vec![PlayerName::new("Steve")],
            uuids: [(PlayerName::new("Steve"), PlayerUuid(0x8667ba71_b85a_4004_af54_457a9734eed7))].into(),
        }),
        Step::UpdateShutdownPolicy(UpdateShutdownPolicy { policy: None }),
        Step::UpdateOps(UpdateOps { ops: ops.clone() }),
        Step::RequestStop(RequestStop {
            reason: EndReason::Idle,
            warnings: Default::default(),
        }),
        Step::AwaitCountdown(AwaitCountdown {
            session: s.clone(),
            reason: EndReason::Admin,
            ends: at(),
        }),
        Step::AskOrphanToStop(AskOrphanToStop {
            name: "grove-old".into(),
            session: s.clone(),
        }),
        Step::HandOver(HandOver {
            session: s.clone(),
            restore: Some(backup.to_string()),
            whitelist: vec![],
            whitelist_uuids: Default::default(),
            ops,
        }),
        Step::RenewCredentials(RenewCredentials {
            name: "grove-20261122-0350-eu".into(),
            id: Some(HetznerServerId(42)),
            session: s.clone(),
            ttl_seconds: 3600,
        }),
        Step::AwaitSnapshot(AwaitSnapshot {
            session: s.clone(),
            taken_after: at(),
        }),
        Step::DeleteServer(DeleteServer {
            name: "grove-20261122-0350-eu".into(),
            id: None,
            session: s.clone(),
            snapshot_after: at(),
            force: None,
        }),
        Step::RecordStopOverdue(RecordStopOverdue {
            session: s.clone(),
            since: at(),
        }),
        Step::DeleteDnsA(DeleteDnsA {
            name: "mc.example.org".into(),
        }),
        Step::CloseSession(CloseSession {
            session: s.clone(),
            reason: EndReason::Budget,
        }),
        Step::SetStateStopped(SetStateStopped { reason: EndReason::Idle }),
        Step::SetStateRunning(SetStateRunning { sitting: at() }),
        Step::RefuseQuietStart(RefuseQuietStart { until: at() }),
        Step::ClearRestore(ClearRestore {
            backup: backup.to_string(),
            used_by: s.clone(),
        }),
        Step::RecordReady(RecordReady {
            session: s.clone(),
            at: at(),
        }),
        Step::RecordSuspend(RecordSuspend {
            session: s.clone(),
            at: at(),
        }),
        Step::RecordActivity(RecordActivity {
            session: s.clone(),
            players_seen: vec![PlayerName::new("Alex")],
            presence: vec![],
            peak_players: 1,
            backups: 2,
            world_bytes: Some(1024),
        }),
        Step::RecordRequests(RecordRequests {
            session: s.clone(),
            requests: vec![],
        }),
        Step::PruneRequest(PruneRequest {
            id: crate::storage::requests::RequestId::parse("20261121T200000Z-0000000f").unwrap(),
            because: RequestPrune::ResultAlone,
        }),
        Step::PruneBackups(PruneBackups {
            keep: 3,
            backups: vec![backup.clone()],
        }),
        Step::SealBackups(SealBackups { backups: vec![backup] }),
    ]
}

#[test]
fn every_step_kind_is_its_struct_flat_beside_its_kind() {
    let steps = every_kind();
    let kinds: std::collections::BTreeSet<_> = steps.iter().map(kind).collect();
    assert_eq!(kinds.len(), 30, "one of every kind, each once");
    for step in &steps {
        let Value::Object(mut want) = inner(step) else {
            panic!("{step:?}: a struct serialises as an object")
        };
        assert!(!want.contains_key("kind"), "{step:?}: no field may be called kind");
        want.insert("kind".into(), json!(kind(step)));
        assert_eq!(serde_json::to_value(step).unwrap(), Value::Object(want), "{step:?}");
    }
}

#[test]
fn a_step_serialises_as_the_struct_variant_did() {
    // Written down from docs/plan-json.md's shape before the steps were structs.
    let open = Step::OpenSession(OpenSession {
        session: SessionId::new("20261122-0350-eu"),
        region: RegionKey::new("eu"),
        recovered: false,
        restore: None,
    });
    assert_eq!(
        serde_json::to_value(&open).unwrap(),
        json!({"kind": "open-session", "session": "20261122-0350-eu", "region": "eu"})
    );
    let dns = Step::SetDnsA(SetDnsA {
        name: "mc.example.org".into(),
        target: IpTarget::Address("203.0.113.7".into()),
        ttl: 60,
        proxied: false,
    });
    assert_eq!(
        serde_json::to_value(&dns).unwrap(),
        json!({"kind": "set-dns-a", "name": "mc.example.org", "target": {"address": "203.0.113.7"}, "ttl": 60, "proxied": false})
    );
    let prune = Step::PruneRequest(PruneRequest {
        id: crate::storage::requests::RequestId::parse("20261121T200000Z-0000000f").unwrap(),
        because: RequestPrune::Expired { expires: at() },
    });
    assert_eq!(
        serde_json::to_value(&prune).unwrap(),
        json!({"kind": "prune-request", "id": "20261121T200000Z-0000000f", "because": {"because": "expired", "expires": "2026-11-22T03:50:00Z"}})
    );
    let unreadable = Step::PruneRequest(PruneRequest {
        id: crate::storage::requests::RequestId::parse("20261121T200000Z-0000000f").unwrap(),
        because: RequestPrune::Unreadable,
    });
    assert_eq!(
        serde_json::to_value(&unreadable).unwrap(),
        json!({"kind": "prune-request", "id": "20261121T200000Z-0000000f", "because": {"because": "unreadable"}})
    );
}
