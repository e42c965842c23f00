//! What the agent's status tells the ledger while a session runs: that
//! Minecraft is up (once per session) and each suspension (once each).
//! Recording them is what sends friends "ready" and "suspend" on Discord:
//! the webhook is a long-lived secret the VPS never holds, so the reconciler
//! posts when it sees the agent's phase change (the agent nudges it on each
//! transition, so a run follows promptly). The session file is the memory
//! that keeps a rerun from posting twice.

use serde_json::json;

use super::Builder;
use crate::lifecycle::Phase;
use crate::plan::{Op, Step};

impl Builder<'_> {
    pub(super) fn record_agent_phase(&mut self) {
        let o = self.o;
        let (Some(session), Some(agent)) = (&o.session, &o.agent) else {
            return;
        };
        // A report written for another session says nothing about this one.
        if agent.session.as_ref() != Some(&session.id) {
            return;
        }
        if session.ready.is_none()
            && matches!(agent.phase, Phase::Running | Phase::Idle)
            && let Some(at) = agent.ready
        {
            self.change(
                Op::Update,
                format!("session {}", session.id),
                Step::RecordReady {
                    session: session.id.clone(),
                    at,
                },
                json!({ "ready": null }),
                json!({ "ready": at }),
                "the agent reports Minecraft up: the session records it and friends are told it is ready",
            );
        }
        if agent.phase == Phase::Suspended
            && let Some(at) = agent.stopped_at
            && session.last_suspended.is_none_or(|seen| seen < at)
        {
            self.change(
                Op::Update,
                format!("session {}", session.id),
                Step::RecordSuspend {
                    session: session.id.clone(),
                    at,
                },
                json!({ "last_suspended": session.last_suspended }),
                json!({ "last_suspended": at }),
                "the agent suspended Minecraft (nobody online): the session records it and friends are told",
            );
        }
    }
}
