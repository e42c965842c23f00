//! The planner: small named steps over (desired, observed), no I/O, no clock.
//!
//! First a decision is derived from the evidence (start, keep running, stop
//! for a reason, refuse, or nothing), branching on the phase the lifecycle's
//! own transition function gives ([`Observed::phase`]), then each branch lists its changes in
//! the order apply must take them. A stop is a sequence whose later steps are
//! guarded: the server is deleted only after a verified snapshot taken after
//! Minecraft stopped, so an apply that cannot see one stops there and the
//! next run continues.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

mod countdown;
mod decide;
mod force;
mod given;
mod handover;
mod phases;
mod renew;
mod requests;
mod restore;
mod retention;
pub(crate) mod schedule;
mod stop;
mod witness;

use super::assets;
use super::*;
use crate::ids::SessionId;
use crate::labels;
use crate::lifecycle::{self, Event};
use crate::observe::{Observed, ObservedFrom, ObservedServer};
use crate::repo::{Desired, SwitchState};
use decide::{Decision, decide, fresh_world_over_backups, interrupted_stop};

/// A stop that has waited this long for its verified final snapshot is
/// reported as overdue (Discord, STATUS.md, the Actions summary): the agent
/// may be dead, and the server bills until an admin forces the stop. Half
/// an hour is several scheduled runs, and far longer than a final snapshot
/// of a large world takes to upload.
pub use force::OVERDUE_EVENT;
pub use requests::{EXPIRED_GRACE, MAX_REQUESTS_PRUNED, UNREADABLE_KEPT};

pub const STOP_ALERT_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(30);

/// A status heartbeat older than this means the agent is not reporting.
pub(super) const HEARTBEAT_STALE_SECS: i64 = 180;
pub(super) const DNS_TTL: u32 = 60;
pub(super) use crate::minecraft::GAME_PORT;

pub fn plan(d: &Desired, o: &Observed) -> Plan {
    // A due sitting plans as if server.toml said running, and says so with
    // its own change (committed with the session it opens).
    let sitting = (d.server.state == SwitchState::Stopped && o.server.is_none())
        .then(|| schedule::due_sitting(d, o))
        .flatten();
    let scheduled;
    let d = match sitting {
        Some(_) => {
            let mut running = d.clone();
            running.server.state = SwitchState::Running;
            scheduled = running;
            &scheduled
        }
        None => d,
    };
    let decision = decide(d, o);
    let mut b = Builder {
        d,
        o,
        changes: Vec::new(),
        notices: Vec::new(),
        restoring: None,
    };
    b.context_notices();
    b.schedule_notices();
    b.recover_session();
    b.delete_safe_orphans(decision);
    let starts = matches!(decision, Decision::Start);
    if let Some(planned) = sitting.filter(|_| starts) {
        b.set_running_for_sitting(planned);
    }
    match decision {
        Decision::Start => b.start(),
        Decision::RefuseQuiet(schedule, until) => b.refuse_quiet(schedule, until),
        Decision::RefuseStart => b.refuse_start(),
        Decision::RefuseFreshWorld => b.refuse_fresh_world(),
        Decision::KeepRunning(server) => b.keep_running(server),
        Decision::Stop(reason, server) => b.stop(reason, server),
        Decision::FinishStop(reason) => b.finish_stop(reason),
        Decision::Nothing => b.nothing(),
    }
    if !starts {
        let recovered = b.restoring.as_ref().map(|(s, _)| s.clone());
        b.clear_used_restore(recovered.as_ref());
    }
    b.prune_backups();
    b.seal_backups();
    b.prune_requests();
    // The phase the plan leads to, through the lifecycle's transition function.
    let before = o.phase();
    let after = match decision {
        Decision::Start => lifecycle::replay(before, &[Event::StartRequested]),
        Decision::Stop(..) => lifecycle::replay(before, &[Event::StopRequested, Event::SnapshotVerified, Event::ServerDeleted]),
        Decision::RefuseStart | Decision::RefuseQuiet(..) | Decision::RefuseFreshWorld | Decision::Nothing | Decision::FinishStop(_) => {
            before
        }
        Decision::KeepRunning(_) => before,
    };
    let mut summary = Summary::default();
    for c in &b.changes {
        match c.op {
            Op::Create => summary.create += 1,
            Op::Update => summary.update += 1,
            Op::Delete => summary.delete += 1,
            Op::Wait => summary.wait += 1,
        }
    }
    Plan {
        format_version: FORMAT_VERSION,
        server: d.server.name.to_string(),
        now: o.now,
        observed_from: o.from,
        phase: PhaseChange { before, after },
        changes: b.changes,
        notices: b.notices,
        summary,
        game: o.game.clone(),
        schedule: schedule::plan_schedule(d, o, sitting.filter(|_| starts)),
    }
}

struct Builder<'a> {
    d: &'a Desired,
    o: &'a Observed,
    changes: Vec<Change>,
    notices: Vec<Notice>,
    /// A session recovered in this plan that starts from server.toml's
    /// `restore` (its agent was never handed its document), with the backup.
    restoring: Option<(SessionId, String)>,
}

fn money(v: Decimal) -> String {
    format!("{:.2}", v.round_dp(2))
}

impl Builder<'_> {
    fn change(&mut self, op: Op, resource: impl Into<String>, step: Step, before: Value, after: Value, reason: impl Into<String>) {
        self.changes.push(Change {
            op,
            resource: resource.into(),
            step,
            before,
            after,
            reason: reason.into(),
            diff: None,
        });
    }

    fn notice(&mut self, level: Level, message: impl Into<String>) {
        self.notices.push(Notice {
            level,
            message: message.into(),
        });
    }

    fn context_notices(&mut self) {
        let (d, o) = (self.d, self.o);
        if o.from == ObservedFrom::Ledger {
            self.notice(
                Level::Info,
                "observed from the ledger only (no cloud credentials): nothing outside the repo was called",
            );
        }
        let cur = &d.server.budget.currency;
        self.notice(
            Level::Info,
            format!(
                "spent this month: {} {cur} of {} {cur}",
                money(o.month_to_date),
                money(d.server.budget.monthly)
            ),
        );
        if let Some(server) = &o.server
            && server.region != d.server.region
            && d.server.state == SwitchState::Running
        {
            self.notice(
                Level::Warning,
                format!(
                    "region change {} → {} deferred: a session is running in {}; it applies at the next start",
                    server.region, d.server.region, server.region
                ),
            );
        }
        if let Some(w) = o.actions.as_ref().and_then(|a| a.warning()) {
            self.notice(Level::Warning, w);
        }
        self.witness_notices();
        if let Some(error) = o.control.as_ref().and_then(|c| c.unreadable.as_ref()) {
            self.notice(Level::Warning, format!("{error}: this run writes it anew"));
        }
        for error in &o.unreadable {
            self.notice(Level::Warning, format!("{error}: read as if absent"));
        }
        if let Some(problem) = o.agent.as_ref().filter(|_| o.server.is_some()).and_then(|a| a.problem.as_ref()) {
            self.notice(Level::Warning, format!("the agent reports: {problem}"));
        }
        for orphan in o.orphans.iter().filter(|x| x.closed_session.is_none()) {
            self.notice(
                Level::Warning,
                format!(
                    "server {} carries this repo's label but no session explains it: reported, not deleted, until its world is known safe",
                    orphan.name
                ),
            );
        }
    }

    /// Orphans whose session the ledger has closed: only their bill runs,
    /// but their world may have changed since (anyone who knew the address
    /// could play). Such an orphan is deleted only after a verified final
    /// snapshot of its own session taken after that session ended (the
    /// guard of [`crate::world::guard`]). To get one it is asked to stop
    /// through the control channel: desired.json names its session with a
    /// stop request, which its agent obeys like any stop. The document is
    /// the current session's while one is open or starting, so the ask
    /// waits for it to end; past [`STOP_ALERT_AFTER`] the plan says so.
    fn delete_safe_orphans(&mut self, decision: Decision<'_>) {
        let o = self.o;
        for orphan in &o.orphans {
            let Some((_, ended)) = orphan.closed_session else { continue };
            let secs = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let refused = match &o.final_snapshot {
                None => Some("the current snapshot is not a final one".to_string()),
                Some(f) => f.refuses(&orphan.session, ended, o.now),
            };
            let Some(why) = refused else {
                self.change(
                    Op::Delete,
                    format!("hetzner server {} (orphan)", orphan.name),
                    Step::DeleteServer(DeleteServer {
                        name: orphan.name.clone(),
                        id: orphan.id,
                        session: orphan.session.clone(),
                        snapshot_after: ended,
                        force: None,
                    }),
                    json!({ "id": orphan.id, "session": orphan.session, "location": orphan.location }),
                    Value::Null,
                    format!(
                        "its session {} ended {} and its final snapshot is verified; a server nobody uses is only a bill",
                        orphan.session,
                        secs(ended)
                    ),
                );
                continue;
            };
            let asked = o
                .control
                .as_ref()
                .filter(|c| c.session.as_ref() == Some(&orphan.session))
                .and_then(|c| c.stop_requested);
            let free = o.server.is_none()
                && o.session.is_none()
                && !matches!(decision, Decision::Start)
                && o.control.as_ref().is_some_and(|c| c.session.is_none());
            match asked {
                Some(at) => {
                    let level = if o.now - at > STOP_ALERT_AFTER { Level::Alert } else { Level::Warning };
                    self.notice(
                        level,
                        format!(
                            "orphan server {} was asked to stop at {} and is deleted once its final snapshot is verified ({why}){}",
                            orphan.name,
                            secs(at),
                            if level == Level::Alert { "; it has waited past the bound: its agent may be dead, delete it by hand in the Hetzner console if its world does not matter" } else { "" }
                        ),
                    );
                }
                None if free => self.change(
                    Op::Update,
                    format!("stop request (orphan {})", orphan.name),
                    Step::AskOrphanToStop(AskOrphanToStop {
                        name: orphan.name.clone(),
                        session: orphan.session.clone(),
                    }),
                    json!({ "session": null }),
                    json!({ "session": orphan.session, "stop_requested": "(now)" }),
                    format!(
                        "its session {} ended {}; it is deleted once it has saved its world ({why})",
                        orphan.session,
                        secs(ended)
                    ),
                ),
                None => self.notice(
                    Level::Warning,
                    format!(
                        "orphan server {} (session {}, ended {}) is asked to stop and save its world once the current session ends; not deleted before that",
                        orphan.name,
                        orphan.session,
                        secs(ended)
                    ),
                ),
            }
        }
    }

    fn recover_session(&mut self) {
        let o = self.o;
        let (Some(server), None) = (&o.server, &o.session) else { return };
        let restore = self.restore_for_recovered(&server.session);
        let mut after = json!({ "file": session_path(&server.session), "region": server.region, "server": server.name });
        if let Some(backup) = &restore {
            after["restored_from"] = json!(backup);
        }
        self.change(
            Op::Create,
            format!("session {}", server.session),
            Step::OpenSession(OpenSession {
                session: server.session.clone(),
                region: server.region.clone(),
                recovered: true,
                restore: restore.clone(),
            }),
            Value::Null,
            after,
            format!(
                "server {} runs but the ledger has no session for it: the record is rebuilt from the server",
                server.name
            ),
        );
    }

    fn start(&mut self) {
        let (d, o) = (self.d, self.o);
        let region = d.region();
        // An open session without a server: its server is gone (or was never
        // created: a run crashed in between). It is closed before a new one opens.
        self.close_dangling_session();
        // The files first: the create writes the new session's desired.json
        // at once (`apply::steps::create`), and its agent provisions from the
        // first document naming its session and takes its whitelist and ops
        // as given. Stored before the server exists, they are all listed in
        // that document; a run that fails or crashes before the create left
        // no server to read a partial one (it names no session).
        self.assets(true);
        let session = SessionId::at(o.now, &d.server.region);
        let name = d.server.name.hetzner_name();
        self.change(
            Op::Create,
            format!("session {session}"),
            Step::OpenSession(OpenSession {
                session: session.clone(),
                region: d.server.region.clone(),
                recovered: false,
                restore: None,
            }),
            Value::Null,
            json!({ "file": session_path(&session), "region": d.server.region }),
            "state = \"running\" and no server exists",
        );
        let labels = labels(d, &session);
        let restore = self.restore_for_start();
        let snapshot = o.image.as_ref().map(|i| BootImage {
            id: i.id,
            architecture: i.architecture.clone(),
        });
        let mut after = json!({
            "region": d.server.region,
            "locations": region.locations,
            "server_types": region.server_types,
            "image": region.image,
            "labels": labels,
        });
        if let Some(s) = &snapshot {
            after["snapshot"] = json!({ "id": s.id, "architecture": s.architecture });
        }
        self.change(
            Op::Create,
            format!("hetzner server {name}"),
            Step::CreateServer(CreateServer {
                name: name.clone(),
                session: session.clone(),
                region: d.server.region.clone(),
                locations: region.locations.clone(),
                server_types: region.server_types.clone(),
                image: region.image.clone(),
                snapshot: snapshot.clone(),
                labels: labels.clone(),
                restore: restore.clone(),
            }),
            Value::Null,
            after,
            format!(
                "first orderable type at the first location with capacity in region {}{}",
                d.server.region,
                match &snapshot {
                    Some(s) => format!(", booting prebuilt image {} where the type is {}", s.id, s.architecture),
                    None => String::new(),
                }
            ),
        );
        self.clear_used_restore(restore.is_some().then_some(&session));
        self.dns_for(&IpTarget::NewServer);
    }

    fn refuse_start(&mut self) {
        let (d, o) = (self.d, self.o);
        let cur = &d.server.budget.currency;
        self.notice(
            Level::Error,
            format!(
                "not starting: {} {cur} spent this month has reached the budget of {} {cur}",
                money(o.month_to_date),
                money(d.server.budget.monthly)
            ),
        );
        self.set_stopped(EndReason::Budget);
    }

    fn refuse_fresh_world(&mut self) {
        let (d, o) = (self.d, self.o);
        let Some(newest) = fresh_world_over_backups(d, o) else { return };
        let count = o.backups.as_ref().map_or(0, |b| b.all.iter().filter(|x| x.complete()).count());
        self.notice(
            Level::Error,
            format!(
                "not starting: storage holds {count} backup(s) of {} but no worlds/{}/current.json, so a start would begin a fresh world; to start from the newest backup, set restore = \"{newest}\" in server.toml (`mc-gitops world list` shows them all)",
                d.server.name, d.server.name
            ),
        );
        self.close_dangling_session();
    }

    fn keep_running(&mut self, server: &ObservedServer) {
        let o = self.o;
        self.record_agent_phase();
        self.record_activity();
        self.record_requests();
        match (&server.ipv4, &o.dns) {
            (_, None) => self.notice(Level::Info, "DNS records were not observed (no Cloudflare credentials)"),
            (Some(ip), Some(_)) => self.dns_for(&IpTarget::Address(ip.clone())),
            (None, Some(_)) => self.notice(
                Level::Warning,
                format!("server {} has no IPv4 address yet; DNS waits for it", server.name),
            ),
        }
        match &o.control {
            Some(control) => {
                // A hand-over writes the lists with the document, and ships
                // the files for this session's start.
                let handing_over = self.hand_over_due().is_some();
                if !handing_over {
                    self.live_lists(control);
                }
                self.assets(handing_over);
                self.hand_over();
            }
            None => self.notice(
                Level::Info,
                "whitelist, ops and files on the server were not observed (no storage credentials): changes reach it when storage is reachable",
            ),
        }
        self.renew_credentials();
    }
}

pub(super) fn labels(d: &Desired, session: &SessionId) -> BTreeMap<String, String> {
    let mut l = labels::owned(d.server.name.as_str());
    l.insert(labels::SESSION.into(), session.to_string());
    l.insert(labels::REGION.into(), d.server.region.to_string());
    if let Some(repo) = d.server.github.as_ref().and_then(|g| g.repo.as_ref()) {
        // Label values allow [a-z0-9_.-]; `owner/name` becomes `owner.name`.
        l.insert(labels::REPO.into(), repo.replace('/', "."));
    }
    l
}

pub(super) fn session_path(session: &SessionId) -> String {
    session.file()
}

fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    crate::repo::duration::Duration::from_secs((now - then).num_seconds().max(0) as u64).to_string()
}
