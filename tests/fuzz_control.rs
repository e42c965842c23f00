//! Fuzzing the documents the reconciler and the agent read from storage,
//! which anything holding the VPS's credentials can write: desired.json
//! (`ControlDoc`), status.json (`AgentStatusDoc`), current.json
//! (`SnapshotPointer`), snapshot manifests, credentials.json, nudge.json,
//! and the admin's requests and their answers (`requests/<id>.json`,
//! `<id>.result.json`).
//! Each input goes through the one decoder every read uses
//! (`mc_gitops::storage::decode`); it must answer Ok or Err without
//! panicking, an accepted document must round-trip (written by the same
//! type, read back equal), and an accepted desired.json must be safe for the
//! agent's whitelist/ops diff and the guard's rule. Budget:
//! `MC_GITOPS_FUZZ_SECS` (3 s in CI); `bash scripts/fuzz 600 fuzz_control`.

mod common;

use common::fuzz;
use mc_gitops::agent::control::{Applied, changes};
use mc_gitops::storage::{AgentStatusDoc, ControlDoc, SnapshotPointer, decode};
use mc_gitops::world::Manifest;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decode, and if accepted, write it back and read it again: equal.
fn round_trips<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(key: &str, bytes: &[u8]) -> Option<T> {
    let doc: T = decode(key, bytes).ok()?;
    let again: T = decode(key, &serde_json::to_vec(&doc).unwrap()).expect("a document this type wrote reads back");
    assert_eq!(again, doc, "{key} does not round-trip");
    Some(doc)
}

const DESIRED: &str = r#"{"version": 1, "session": "20261122-1930-eu", "stop_requested": "2026-11-22T21:00:00Z",
  "stop_reason": "budget", "whitelist": ["Steve", "Alex"], "ops": [{"name": "Steve", "level": 4}],
  "assets": {"server.properties": {"hash": "sha256:ab"}, "mods/x.jar": {"hash": "sha512:cd", "url": "https://cdn.modrinth.com/x.jar", "size": 12}},
  "written": "2026-11-22T21:00:00Z", "restore": "2026-11-01T18-00-00Z"}"#;

const STATUS: &str = r#"{"phase": "terminating", "players_online": ["Steve"], "players_seen": ["Steve", "Alex"],
  "heartbeat": "2026-11-22T21:01:00Z", "stopped_at": "2026-11-22T21:00:30Z", "minecraft_version": "1.20.1",
  "protocol": 763, "session": "20261122-1930-eu", "last_backup": {"key": "worlds/grove/backups/2026-11-22T21-00-40Z.tar.zst",
  "size": 1234, "sha256": "00", "taken": "2026-11-22T21:00:40Z"}, "boot": {"started": "2026-11-22T19:31:00Z",
  "ready": "2026-11-22T19:33:00Z", "deadline": "2026-11-22T19:41:00Z"}, "crashes": 1, "ready_to_terminate": true,
  "credentials": {"expires": "2026-11-23T19:31:00Z", "problem": "x"}, "peak_players": 2, "backups": 5, "world_bytes": 99}"#;

const POINTER: &str = r#"{"key": "worlds/grove/backups/2026-11-22T21-00-40Z.tar.zst", "taken": "2026-11-22T21:00:40.123Z",
  "sha256": "00", "size": 1234, "verified": true, "session": "20261122-1930-eu", "kind": "final"}"#;

const MANIFEST: &str = r#"{"version": 1, "name": "2026-11-22T21-00-40-123Z-7f3a", "key": "worlds/grove/backups/2026-11-22T21-00-40-123Z-7f3a.tar.zst",
  "sha256": "00", "size": 1234, "files": 5, "world_bytes": 4096, "taken": "2026-11-22T21:00:40.123Z", "part_size": 8388608,
  "uploaded": "2026-11-22T21:01:00Z", "verified": "2026-11-22T21:01:02Z", "session": "20261122-1930-eu", "kind": "final"}"#;

#[test]
fn the_seeds_are_accepted() {
    assert!(round_trips::<ControlDoc>("desired.json", DESIRED.as_bytes()).is_some());
    assert!(round_trips::<AgentStatusDoc>("status.json", STATUS.as_bytes()).is_some());
    assert!(round_trips::<SnapshotPointer>("current.json", POINTER.as_bytes()).is_some());
    assert!(round_trips::<Manifest>("manifest", MANIFEST.as_bytes()).is_some());
}

#[test]
fn fuzz_desired_json() {
    fuzz::run("desired.json", fuzz::bytes_near(DESIRED.as_bytes().to_vec(), 2048), |bytes| {
        if let Some(doc) = round_trips::<ControlDoc>("control/grove/desired.json", &bytes) {
            // What the agent does with an accepted document: the live diff.
            let _ = changes(&Applied::default(), &doc);
            let _ = changes(&Applied::from_doc(&doc), &ControlDoc::default());
        }
    });
}

#[test]
fn fuzz_status_json() {
    fuzz::run("status.json", fuzz::bytes_near(STATUS.as_bytes().to_vec(), 2048), |bytes| {
        if let Some(doc) = round_trips::<AgentStatusDoc>("control/grove/status.json", &bytes) {
            let _ = mc_gitops::observe::AgentStatus::from(doc);
        }
    });
}

#[test]
fn fuzz_current_json_and_manifests() {
    let seeds = [POINTER, MANIFEST].join("\n");
    fuzz::run("current.json+manifest", fuzz::bytes_near(seeds.into_bytes(), 2048), |bytes| {
        let half = bytes.len() / 2;
        for part in [&bytes[..], &bytes[..half], &bytes[half..]] {
            if let Some(p) = round_trips::<SnapshotPointer>("worlds/grove/current.json", part) {
                let _ = mc_gitops::world::BackupName::from_key(&p.key);
            }
            if let Some(m) = round_trips::<Manifest>("worlds/grove/backups/x.json", part) {
                // The guard's rule on whatever a manifest claims.
                let s = mc_gitops::ids::SessionId::new("20261122-1930-eu");
                let _ = mc_gitops::world::guard::refuses(m.claim(), &s, m.taken, m.verified);
            }
        }
    });
}

#[test]
fn fuzz_credentials_and_nudge_documents() {
    let seed = br#"{"version": 1, "issued": "2026-11-22T19:30:00Z", "expires": "2026-11-23T19:30:00Z"}"#.to_vec();
    fuzz::run("credentials.json+nudge.json", fuzz::bytes_near(seed, 1024), |bytes| {
        let _ = decode::<mc_gitops::storage::credentials::CredentialsDoc>("control/grove/credentials.json", &bytes);
        let _ = decode::<mc_gitops::storage::nudge::NudgeDoc>("control/grove/nudge.json", &bytes);
    });
}

const REQUEST: &str = r#"{"version": 1, "id": "20261204T210301Z-3f9a0c1d", "action": "console", "command": "time set day",
  "actor": "grove-admin", "asked": "2026-12-04T21:03:01Z", "expires": "2026-12-04T21:05:01Z"}"#;

const RESULT: &str = r#"{"version": 1, "id": "20261204T210301Z-3f9a0c1d", "action": "console", "command": "time set day",
  "actor": "grove-admin", "asked": "2026-12-04T21:03:01Z", "ran": "2026-12-04T21:03:05Z", "outcome": "ok",
  "reply": "Set the time to 1000", "session": "20261204-2100-eu"}"#;

// Admin requests and their answers (issue 13): an accepted request is judged
// by the agent's refusal rule and an accepted answer becomes a session
// record, neither panicking; the checks every read makes run too.
#[test]
fn fuzz_requests_and_results() {
    use mc_gitops::storage::requests::{RequestDoc, RequestId, ResultDoc};
    let id = RequestId::parse("20261204T210301Z-3f9a0c1d").unwrap();
    assert!(round_trips::<RequestDoc>("request", REQUEST.as_bytes()).is_some_and(|r| r.check("request", &id).is_ok()));
    assert!(round_trips::<ResultDoc>("result", RESULT.as_bytes()).is_some_and(|r| r.check("result", &id).is_ok()));
    let seeds = [REQUEST, RESULT].join("\n");
    fuzz::run("requests", fuzz::bytes_near(seeds.into_bytes(), 2048), |bytes| {
        let half = bytes.len() / 2;
        for part in [&bytes[..half], &bytes[half..], &bytes[..]] {
            if let Some(r) = round_trips::<RequestDoc>("control/grove/requests/x.json", part) {
                let _ = r.check("x", &r.id);
                if let Some(c) = &r.command {
                    let _ = mc_gitops::agent::requests::refusal(c);
                }
            }
            if let Some(r) = round_trips::<ResultDoc>("control/grove/requests/x.result.json", part) {
                let _ = r.check("x", &r.id);
                let rec = r.record();
                assert!(
                    rec.reply.chars().count() <= mc_gitops::repo::ledger::MAX_RECORDED_REPLY + 1,
                    "{rec:?}"
                );
                let _ = mc_gitops::console::markdown(&r);
            }
        }
    });
}
