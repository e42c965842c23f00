//! A stop that waits too long: the alert, and the admin's force-stop.
//!
//! A stop waits for its verified final snapshot without end, which is right
//! for the world and wrong for the bill when the agent is dead. Past
//! [`STOP_ALERT_AFTER`] the plan raises an alert (apply posts it to Discord
//! once, and writes it into STATUS.md and the Actions summary every run)
//! that spells out the force-stop to write. The force is the admin's, in
//! server.toml (`[stop] force = { session, accept_backup, reason }`), so it
//! is reviewed, privileged (CODEOWNERS, the check's privilege rule) and in
//! git's history; it is honoured only for the session it names and only
//! when `accept_backup` is the current backup, so an admin always knows
//! exactly what play is lost. Apply checks the backup again before the
//! delete, and the session file records the force.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Builder, STOP_ALERT_AFTER};
use crate::observe::ObservedServer;
use crate::plan::{Level, Op, RecordStopOverdue, Step};
use crate::repo::model::ForceStop;

/// How the session file's event for the alert begins: recorded once, so
/// Discord hears of it once.
pub const OVERDUE_EVENT: &str = "stop overdue";

impl Builder<'_> {
    /// The admin's force for this stop, when it applies: it names this
    /// session and the current backup, and the guard does not pass already.
    pub(super) fn force_for(&mut self, server: &ObservedServer, refused: Option<&str>) -> Option<ForceStop> {
        let f = self.d.server.stop.force.as_ref()?;
        if f.session != server.session {
            self.notice(
                Level::Warning,
                format!(
                    "[stop] force names session {}, but the server's session is {}: ignored",
                    f.session, server.session
                ),
            );
            return None;
        }
        refused?;
        let current = self.o.backups.as_ref().and_then(|b| b.current.as_ref()).map(|b| b.to_string());
        if current.as_deref() != Some(f.accept_backup.as_str()) {
            self.notice(
                Level::Error,
                format!(
                    "force-stop refused: accept_backup = \"{}\" but the current backup is {}; name the current one (`mc-gitops world list` marks it), so the play that is lost is the play you accepted",
                    f.accept_backup,
                    current.map_or("none (no current.json)".to_string(), |c| format!("\"{c}\""))
                ),
            );
            return None;
        }
        self.notice(
            Level::Warning,
            format!(
                "force-stop of session {} by the admin ({}): the server is deleted without its final snapshot, and play since backup {} is lost",
                f.session, f.reason, f.accept_backup
            ),
        );
        Some(f.clone())
    }

    /// Past [`STOP_ALERT_AFTER`] after `due` (the stop's time, or the end
    /// of its countdown, which is no delay): an alert every run, and the
    /// session file's record of it (and the one Discord post) once.
    pub(super) fn stop_overdue(&mut self, server: &ObservedServer, stop_at: DateTime<Utc>, due: DateTime<Utc>, why: &str) {
        let o = self.o;
        let waited = o.now - due;
        if waited <= STOP_ALERT_AFTER {
            return;
        }
        let minutes = waited.num_minutes();
        let since = if due > stop_at { " since its countdown ended" } else { "" };
        let current = o.backups.as_ref().and_then(|b| b.current.as_ref());
        let force = match current {
            Some(b) => format!(
                "[stop] force = {{ session = \"{}\", accept_backup = \"{b}\", reason = \"...\" }}",
                server.session
            ),
            None => "nothing can be forced: there is no current backup".into(),
        };
        self.notice(
            Level::Alert,
            format!(
                "the stop of session {} has waited {minutes} min{since} for its final snapshot ({why}): the agent may be dead, and server {} bills until it is deleted. To delete it anyway, losing play since the current backup, an admin adds to server.toml: {force}",
                server.session, server.name
            ),
        );
        let recorded = o
            .session
            .as_ref()
            .is_some_and(|s| s.events.iter().any(|e| e.what.starts_with(OVERDUE_EVENT)));
        if let Some(session) = o.session.as_ref().filter(|_| !recorded) {
            self.change(
                Op::Update,
                format!("session {}", session.id),
                Step::RecordStopOverdue(RecordStopOverdue {
                    session: session.id.clone(),
                    since: stop_at,
                }),
                json!(null),
                json!(format!(
                    "{OVERDUE_EVENT}: waiting since {}",
                    stop_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )),
                "a stop that waits this long is reported once, to Discord and in the session file",
            );
        }
    }
}
