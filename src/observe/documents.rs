//! The control channel's documents as the planner sees them: one `From`
//! conversion per document (`status.json`'s [`AgentStatusDoc`] into
//! [`AgentStatus`], `desired.json`'s [`ControlDoc`] into [`ControlState`]),
//! so a field added to a document is carried over in one place.

use std::collections::BTreeMap;

use super::{AgentStatus, ControlState, FileState};
use crate::storage::{AgentStatusDoc, ControlDoc};

/// The problem an agent's status reports, in a sentence; `None` when all is well.
pub(crate) fn agent_problem(s: &crate::storage::AgentStatusDoc) -> Option<String> {
    if s.crashed {
        return Some(format!("Minecraft crashed {} times in a row and is not restarted", s.crashes));
    }
    if s.boot.as_ref().is_some_and(|b| b.deadline_missed && b.ready.is_none()) {
        return Some("Minecraft has not finished loading by its boot deadline".into());
    }
    if let Some(problem) = s.credentials.as_ref().and_then(|c| c.problem.as_ref()) {
        return Some(format!("cannot renew its storage credentials: {problem}"));
    }
    // Not a failure: the plan hands it its document (`Step::HandOver`).
    s.waiting.clone()
}

impl From<AgentStatusDoc> for AgentStatus {
    fn from(s: AgentStatusDoc) -> Self {
        AgentStatus {
            problem: agent_problem(&s),
            ready: s.boot.as_ref().and_then(|b| b.ready),
            session: s.session,
            phase: s.phase,
            players_online: s.players_online,
            heartbeat: s.heartbeat,
            stopped_at: s.stopped_at,
            players_seen: s.players_seen,
            presence: s.presence,
            peak_players: s.peak_players,
            backups: s.backups,
            world_bytes: s.world_bytes,
            crashed: s.crashed,
        }
    }
}

/// The stored files' hashes only: the live observation fetches the text of
/// those that changed, for the plan's diffs.
impl From<ControlDoc> for ControlState {
    fn from(doc: ControlDoc) -> Self {
        ControlState {
            session: doc.session,
            stop_requested: doc.stop_requested,
            stop_reason: doc.stop_reason,
            stop_warnings: doc.stop_warnings,
            whitelist: doc.whitelist,
            whitelist_uuids: doc.whitelist_uuids,
            ops: doc.ops,
            shutdown: doc.shutdown,
            assets: doc
                .assets
                .into_iter()
                .map(|(path, a)| (path, FileState { hash: a.hash, text: None }))
                .collect(),
            damaged: BTreeMap::new(),
            unreadable: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Phase;
    use crate::storage::BootReport;

    #[test]
    fn an_agents_status_names_its_problem() {
        let t = "2026-11-22T18:00:00Z".parse().unwrap();
        let mut s: AgentStatusDoc =
            serde_json::from_value(serde_json::json!({ "phase": "idle", "heartbeat": "2026-11-22T18:00:00Z" })).unwrap();
        assert_eq!(s.phase, Phase::Idle, "an older agent's status still reads");
        assert_eq!(agent_problem(&s), None);
        s.waiting = Some("waiting for desired.json for session 20261122-1800-eu (it names none)".into());
        assert_eq!(agent_problem(&s), s.waiting, "an agent waiting for its document says so");
        s.waiting = None;
        s.boot = Some(BootReport {
            started: t,
            ready: None,
            deadline: t,
            deadline_missed: true,
        });
        assert_eq!(
            agent_problem(&s).unwrap(),
            "Minecraft has not finished loading by its boot deadline"
        );
        s.boot = None;
        s.credentials = Some(crate::storage::CredentialsStatus {
            expires: t,
            problem: Some("control/grove/credentials.json holds nothing newer yet".into()),
        });
        assert_eq!(
            agent_problem(&s).unwrap(),
            "cannot renew its storage credentials: control/grove/credentials.json holds nothing newer yet"
        );
        s.crashed = true;
        s.crashes = 5;
        assert_eq!(
            agent_problem(&s).unwrap(),
            "Minecraft crashed 5 times in a row and is not restarted"
        );
    }

    #[test]
    fn a_desired_json_is_observed_with_every_field_and_hashes_only() {
        let t: chrono::DateTime<chrono::Utc> = "2026-11-22T18:00:00Z".parse().unwrap();
        let mut doc = ControlDoc {
            session: Some(crate::ids::SessionId::new("20261122-1800-eu")),
            stop_requested: Some(t),
            whitelist: vec![crate::ids::PlayerName::new("Alex")],
            shutdown: Some(crate::shutdown::ShutdownPolicy::fixed(chrono::Duration::minutes(30))),
            ..ControlDoc::default()
        };
        let hash = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".to_string();
        doc.assets.insert(
            "server.properties".into(),
            crate::storage::AssetRef {
                hash: hash.clone(),
                url: None,
                size: None,
                cache: false,
            },
        );
        let c = ControlState::from(doc.clone());
        assert_eq!(c.session, doc.session);
        assert_eq!(c.stop_requested, Some(t));
        assert_eq!(c.whitelist, doc.whitelist);
        assert_eq!(c.shutdown, doc.shutdown);
        assert_eq!(c.assets["server.properties"], FileState { hash, text: None });
        assert!(c.damaged.is_empty() && c.unreadable.is_none());
    }

    #[test]
    fn a_status_json_is_observed_with_its_problem_and_ready_time() {
        let t: chrono::DateTime<chrono::Utc> = "2026-11-22T18:00:00Z".parse().unwrap();
        let mut s: AgentStatusDoc =
            serde_json::from_value(serde_json::json!({ "phase": "running", "heartbeat": "2026-11-22T18:00:00Z" })).unwrap();
        s.boot = Some(BootReport {
            started: t,
            ready: Some(t),
            deadline: t,
            deadline_missed: false,
        });
        s.crashed = true;
        s.crashes = 3;
        s.peak_players = 4;
        let a = AgentStatus::from(s);
        assert_eq!(a.phase, Phase::Running);
        assert_eq!(a.ready, Some(t));
        assert_eq!(a.peak_players, 4);
        assert!(a.crashed);
        assert_eq!(
            a.problem.as_deref(),
            Some("Minecraft crashed 3 times in a row and is not restarted")
        );
    }
}
