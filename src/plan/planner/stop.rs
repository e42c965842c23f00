//! The stop half of the planner: ask the agent to stop and sync, wait for a
//! verified snapshot, delete the server and the A record, close the session,
//! and record an automatic stop in server.toml. Also what "nothing to do"
//! still cleans up (a dangling session, a stray A record).

use serde_json::{Value, json};

use super::Builder;
use super::session_path;
use crate::lifecycle::Phase;
use crate::plan::{EndReason, Op, Step};
use crate::repo::SwitchState;

impl Builder<'_> {
    pub(super) fn stop(&mut self, reason: EndReason) {
        let (d, o) = (self.d, self.o);
        let server = o.server.as_ref().expect("stop needs a server");
        let requested = o.control.as_ref().and_then(|c| c.stop_requested);
        // An agent still waiting for its document cannot stop and sync.
        self.hand_over();
        if requested.is_none() && o.agent.as_ref().is_none_or(|a| a.phase != Phase::Terminating) {
            self.change(
                Op::Update,
                "stop request",
                Step::RequestStop { reason },
                json!("run"),
                json!("stop-and-sync"),
                stop_why(reason),
            );
        }
        // The guard's time: when Minecraft was asked to stop, or when the agent
        // stopped it on its own, or now for the request this plan makes. The
        // final snapshot must be newer than that.
        let agent_stopped = o
            .agent
            .as_ref()
            .filter(|a| a.phase == Phase::Terminating)
            .and_then(|a| a.stopped_at);
        let stop_at = requested.or(agent_stopped).unwrap_or(o.now);
        if o.latest_snapshot.is_none_or(|t| t < stop_at) {
            // The final snapshot is still to come: the agent needs storage for it.
            self.renew_credentials();
            self.change(
                Op::Wait,
                "world snapshot",
                Step::AwaitSnapshot { taken_after: stop_at },
                json!(o.latest_snapshot),
                json!(format!(
                    "verified, taken after {}",
                    stop_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )),
                "no server is deleted before its world is safe in storage",
            );
        }
        self.change(
            Op::Delete,
            format!("hetzner server {}", server.name),
            Step::DeleteServer {
                name: server.name.clone(),
                id: server.id,
                snapshot_after: stop_at,
            },
            json!({ "id": server.id, "location": server.location, "server_type": server.server_type, "ipv4": server.ipv4 }),
            Value::Null,
            "only deletion stops Hetzner's billing",
        );
        self.remove_a_record();
        let session = o.session.as_ref().map_or(&server.session, |s| &s.id);
        self.change(
            Op::Update,
            format!("session {session}"),
            Step::CloseSession {
                session: session.clone(),
                reason,
            },
            json!({ "ended": null, "end_reason": null }),
            json!({ "ended": "(when the server is gone)", "end_reason": reason.as_str() }),
            format!(
                "{}: the ledger records how the session ended and what it cost",
                session_path(session)
            ),
        );
        if reason != EndReason::Admin && d.server.state == SwitchState::Running {
            self.set_stopped(reason);
        }
    }

    fn remove_a_record(&mut self) {
        let host = self.d.server.dns.host();
        let observed = self.o.dns.as_ref();
        if observed.is_none_or(|x| x.a.is_some()) {
            self.change(
                Op::Delete,
                format!("dns A {host}"),
                Step::DeleteDnsA { name: host },
                observed.map_or(json!("(not observed)"), |x| json!(x.a)),
                Value::Null,
                "no server behind it; the SRV record stays for the next session",
            );
        }
    }

    pub(super) fn set_stopped(&mut self, reason: EndReason) {
        self.change(
            Op::Update,
            "server.toml state",
            Step::SetStateStopped { reason },
            json!("running"),
            json!("stopped"),
            format!(
                "{}: the repo says what is true, so the next push does not start it again",
                stop_why(reason)
            ),
        );
    }

    pub(super) fn nothing(&mut self) {
        self.close_dangling_session();
        if self.o.dns.as_ref().is_some_and(|x| x.a.is_some()) {
            self.remove_a_record();
        }
    }

    pub(super) fn close_dangling_session(&mut self) {
        let o = self.o;
        if let Some(session) = &o.session {
            // Live observation found no server for an open session: it is gone
            // (deleted by hand, or by a run that crashed before closing it).
            self.change(
                Op::Update,
                format!("session {}", session.id),
                Step::CloseSession {
                    session: session.id.clone(),
                    reason: EndReason::Drift,
                },
                json!({ "ended": null, "end_reason": null }),
                json!({ "ended": o.now, "end_reason": "drift" }),
                format!("{}: the session is open but its server no longer exists", session.file),
            );
        }
    }
}

pub(super) fn stop_why(reason: EndReason) -> String {
    match reason {
        EndReason::Admin => "state = \"stopped\" in server.toml".into(),
        EndReason::Idle => "the agent reports nobody played through idle and suspend".into(),
        EndReason::Budget => "this month's spend is over the budget".into(),
        EndReason::MaxSession => "the session reached lifecycle.max_session".into(),
        EndReason::Crash => "Minecraft kept crashing".into(),
        EndReason::Drift => "the server disappeared".into(),
        EndReason::Forced => "forced by the admin".into(),
    }
}
