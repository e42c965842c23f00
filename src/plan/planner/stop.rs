//! The stop half of the planner: ask the agent to stop and sync, wait for a
//! verified snapshot, delete the server and the A record, close the session,
//! and record an automatic stop in server.toml. Also what "nothing to do"
//! still cleans up (a dangling session, a stray A record), and the end of a
//! stop whose server is already gone.
//!
//! The reason a stop was asked for is written into desired.json with the
//! request and read back each run, so the session closes with it however
//! many runs the stop takes, even if one of them crashed between steps.

use serde_json::{Value, json};

use super::Builder;
use super::session_path;
use crate::countdown::{self, StopWarnings};
use crate::lifecycle::Phase;
use crate::observe::ObservedServer;
use crate::plan::{AwaitSnapshot, CloseSession, DeleteDnsA, DeleteServer, EndReason, Op, RequestStop, SetStateStopped, Step};
use crate::repo::SwitchState;

impl Builder<'_> {
    pub(super) fn stop(&mut self, reason: EndReason, server: &ObservedServer) {
        let (d, o) = (self.d, self.o);
        let requested = o.control.as_ref().and_then(|c| c.stop_requested);
        // An agent still waiting for its document cannot stop and sync.
        self.hand_over();
        self.record_activity();
        self.record_requests();
        // Terminating already: the stop was asked (its reason is kept with
        // it), or the agent ended the session itself.
        if o.phase() != Phase::Terminating {
            let warnings = if countdown::warns(reason) {
                d.server.lifecycle.stop_warnings.clone()
            } else {
                StopWarnings::default()
            };
            let after = if warnings.is_empty() {
                json!("stop-and-sync")
            } else {
                json!(format!("stop-and-sync, players warned {warnings} before"))
            };
            self.change(
                Op::Update,
                "stop request",
                Step::RequestStop(RequestStop { reason, warnings }),
                json!("run"),
                after,
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
        let session = o.session.as_ref().map_or(&server.session, |s| &s.id);
        // The guard (`world::guard`): the current snapshot must be this
        // session's final one, taken after the stop, within the clock skew.
        let refused = match &o.final_snapshot {
            None => Some("the current snapshot is not a final one".to_string()),
            Some(f) => f.refuses(&server.session, stop_at, o.now),
        };
        let forced = self.force_for(server, refused.as_deref());
        let reason = if forced.is_some() { EndReason::Forced } else { reason };
        if let (Some(why), None) = (&refused, &forced) {
            // The final snapshot is still to come: the agent needs storage for it.
            self.renew_credentials();
            let ends = self.countdown_ends(reason);
            self.stop_overdue(server, stop_at, ends.unwrap_or(stop_at), why);
            self.await_countdown(reason, ends);
            self.change(
                Op::Wait,
                "world snapshot",
                Step::AwaitSnapshot(AwaitSnapshot {
                    session: server.session.clone(),
                    taken_after: stop_at,
                }),
                json!(why),
                json!(format!(
                    "a verified final snapshot of session {}, taken after {}",
                    server.session,
                    stop_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )),
                "no server is deleted before its world is safe in storage",
            );
        }
        let why_delete = match &forced {
            Some(f) => format!(
                "forced by the admin ([stop] force in server.toml: {}): play since backup {} is lost",
                f.reason, f.accept_backup
            ),
            None => "only deletion stops Hetzner's billing".to_string(),
        };
        self.change(
            Op::Delete,
            format!("hetzner server {}", server.name),
            Step::DeleteServer(DeleteServer {
                name: server.name.clone(),
                id: server.id,
                session: server.session.clone(),
                snapshot_after: stop_at,
                force: forced,
            }),
            json!({ "id": server.id, "location": server.location, "server_type": server.server_type, "ipv4": server.ipv4 }),
            Value::Null,
            why_delete,
        );
        self.remove_a_record();
        self.change(
            Op::Update,
            format!("session {session}"),
            Step::CloseSession(CloseSession {
                session: session.clone(),
                reason,
            }),
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
                Step::DeleteDnsA(DeleteDnsA { name: host }),
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
            Step::SetStateStopped(SetStateStopped { reason }),
            json!("running"),
            json!("stopped"),
            format!(
                "{}: the repo says what is true, so the next push does not start it again",
                stop_why(reason)
            ),
        );
    }

    /// The stop's last records, when its server is already gone (a run
    /// deleted it and ended before closing the session).
    pub(super) fn finish_stop(&mut self, reason: EndReason) {
        self.close_dangling_session();
        if self.o.dns.as_ref().is_some_and(|x| x.a.is_some()) {
            self.remove_a_record();
        }
        if reason != EndReason::Admin && self.d.server.state == SwitchState::Running {
            self.set_stopped(reason);
        }
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
            // A stop that was under way keeps its reason.
            // A force-stop naming it deleted its server (and the run ended before the close).
            let forced = self.d.server.stop.force.as_ref().is_some_and(|f| f.session == session.id);
            let (reason, why) = match super::interrupted_stop(o) {
                Some(_) if forced => (EndReason::Forced, "the admin's force-stop deleted its server".to_string()),
                Some(r) => (r, format!("the stop ({}) deleted its server", stop_why(r))),
                None => (EndReason::Drift, "its server no longer exists".to_string()),
            };
            self.change(
                Op::Update,
                format!("session {}", session.id),
                Step::CloseSession(CloseSession {
                    session: session.id.clone(),
                    reason,
                }),
                json!({ "ended": null, "end_reason": null }),
                json!({ "ended": o.now, "end_reason": reason.as_str() }),
                format!("{}: the session is open but {why}", session.file),
            );
        }
    }
}

pub(super) fn stop_why(reason: EndReason) -> String {
    match reason {
        EndReason::Idle => "the agent reports nobody played through idle and suspend".into(),
        r => r.why().into(),
    }
}
