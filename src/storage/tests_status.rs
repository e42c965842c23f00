//! status.json, the agent's report, read back exactly as the agent wrote it:
//! the one type (`AgentStatusDoc`) is both the writer and the reader.

use chrono::{DateTime, Utc};

use super::{AgentStatusDoc, BackupRef, BootReport, CredentialsStatus, Presence, decode};
use crate::ids::{PlayerName, SessionId};
use crate::lifecycle::Phase;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn every_field() -> AgentStatusDoc {
    AgentStatusDoc {
        phase: Phase::Suspended,
        players_online: vec![PlayerName::new("Steve")],
        players_seen: vec![PlayerName::new("Steve"), PlayerName::new("Alex")],
        heartbeat: t("2026-11-22T19:30:00Z"),
        stopped_at: Some(t("2026-11-22T19:20:00Z")),
        minecraft_version: Some("1.20.1".into()),
        protocol: Some(763),
        session: Some(SessionId::new("20261122-1800-eu")),
        waiting: Some("a desired.json naming this session".into()),
        last_backup: Some(BackupRef {
            key: "worlds/grove/2026-11-22T19-20-00Z.json".into(),
            size: 1234,
            sha256: "ab".repeat(32),
            taken: t("2026-11-22T19:20:00Z"),
        }),
        boot: Some(BootReport {
            started: t("2026-11-22T18:00:00Z"),
            ready: Some(t("2026-11-22T18:02:00Z")),
            deadline: t("2026-11-22T18:10:00Z"),
            deadline_missed: false,
        }),
        crashes: 1,
        crashed: true,
        restart_at: Some(t("2026-11-22T19:31:00Z")),
        stopping_at: Some(t("2026-11-22T19:35:00Z")),
        terminate_at: Some(t("2026-11-22T19:55:00Z")),
        ready_to_terminate: true,
        last_error: Some("RCON: connection refused".into()),
        credentials: Some(CredentialsStatus {
            expires: t("2026-11-23T18:00:00Z"),
            problem: Some("renewal: 403".into()),
        }),
        peak_players: 2,
        backups: 3,
        world_bytes: Some(987_654),
        presence: vec![Presence {
            player: PlayerName::new("Alex"),
            join: t("2026-11-22T18:05:00Z"),
            leave: Some(t("2026-11-22T19:00:00Z")),
        }],
    }
}

#[test]
fn status_json_round_trips_every_field() {
    let doc = every_field();
    let text = serde_json::to_vec(&doc).unwrap();
    let back: AgentStatusDoc = decode("control/grove/status.json", &text).unwrap();
    assert_eq!(back, doc);
}

/// A report from an older agent (only the fields it always wrote) still
/// reads, with the rest at their defaults.
#[test]
fn an_older_agents_status_json_reads_with_defaults() {
    let old = r#"{"phase": "idle", "heartbeat": "2026-11-22T19:30:00Z"}"#;
    let back: AgentStatusDoc = decode("control/grove/status.json", old.as_bytes()).unwrap();
    assert_eq!(back.phase, Phase::Idle);
    assert!(back.players_online.is_empty() && back.presence.is_empty() && back.session.is_none());
    assert_eq!((back.crashes, back.crashed, back.ready_to_terminate), (0, false, false));
}
