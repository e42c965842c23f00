//! What the agent's status tells the ledger while a session runs: that
//! Minecraft is up (once per session), each suspension (once each), and
//! who played, the peak, the backups and the world's size.
//! Recording them is what sends friends "ready" and "suspend" on Discord:
//! the webhook is a long-lived secret the VPS never holds, so the reconciler
//! posts when it sees the agent's phase change (the agent nudges it on each
//! transition, so a run follows promptly). The session file is the memory
//! that keeps a rerun from posting twice.

use serde_json::json;

use super::Builder;
use crate::lifecycle::Phase;
use crate::plan::{Op, RecordActivity, RecordReady, RecordRequests, RecordSuspend, Step};

impl Builder<'_> {
    /// What the agent reports of this session (players seen, peak, backups,
    /// world size) that the session file does not record yet.
    pub(super) fn record_activity(&mut self) {
        let o = self.o;
        let (Some(session), Some(agent)) = (&o.session, o.report_of_session()) else {
            return;
        };
        let mut after = session.clone();
        if !after.take_activity(&agent.activity()) {
            return;
        }
        let a = after.activity();
        self.change(
            Op::Update,
            format!("session {}", session.id),
            Step::RecordActivity(RecordActivity {
                session: session.id.clone(),
                players_seen: a.players_seen.clone(),
                presence: a.presence.clone(),
                peak_players: a.peak_players,
                backups: a.backups,
                world_bytes: a.world_bytes,
            }),
            json!(session.activity()),
            json!(a),
            "the agent reports who played, the most online at once, its verified backups and the world's size",
        );
    }

    /// The admin requests the agent answered this session that the session
    /// file does not record yet (each id once).
    pub(super) fn record_requests(&mut self) {
        let o = self.o;
        let Some(session) = &o.session else { return };
        let new: Vec<crate::repo::ledger::RequestRecord> = o
            .answered
            .iter()
            .filter(|r| !session.requests.iter().any(|have| have.id == r.id))
            .cloned()
            .collect();
        if new.is_empty() {
            return;
        }
        let ids: Vec<&str> = new.iter().map(|r| r.id.as_str()).collect();
        self.change(
            Op::Update,
            format!("session {}", session.id),
            Step::RecordRequests(RecordRequests {
                session: session.id.clone(),
                requests: new.clone(),
            }),
            json!({ "requests": session.requests.len() }),
            json!({ "requests": session.requests.len() + new.len(), "new": ids }),
            "the agent answered admin requests (mc-gitops console): the session file records who asked what, when, and the answer",
        );
    }

    pub(super) fn record_agent_phase(&mut self) {
        let o = self.o;
        let (Some(session), Some(agent)) = (&o.session, &o.agent) else {
            return;
        };
        // A report written for another session says nothing about this one.
        if agent.session.as_ref() != Some(&session.id) {
            return;
        }
        // The reconciler's view of the phase (the agent's, moved by a stop it asked).
        let phase = o.phase();
        if session.ready.is_none()
            && matches!(phase, Phase::Running | Phase::Idle)
            && let Some(at) = agent.ready
        {
            self.change(
                Op::Update,
                format!("session {}", session.id),
                Step::RecordReady(RecordReady {
                    session: session.id.clone(),
                    at,
                }),
                json!({ "ready": null }),
                json!({ "ready": at }),
                "the agent reports Minecraft up: the session records it and friends are told it is ready",
            );
        }
        if phase == Phase::Suspended
            && let Some(at) = agent.stopped_at
            && session.last_suspended.is_none_or(|seen| seen < at)
        {
            self.change(
                Op::Update,
                format!("session {}", session.id),
                Step::RecordSuspend(RecordSuspend {
                    session: session.id.clone(),
                    at,
                }),
                json!({ "last_suspended": session.last_suspended }),
                json!({ "last_suspended": at }),
                "the agent suspended Minecraft (nobody online): the session records it and friends are told",
            );
        }
    }
}
