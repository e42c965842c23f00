//! Close a session: its file gets the end, billed hours and cost (taking in
//! the agent's last report), its credentials are deleted, and the control
//! document is cleared for the next session.

use rust_decimal::Decimal;

use super::{Apply, ApplyError, Ctx, Outcome, Report, RunState, control, find_session, write};
use crate::plan::{CloseSession, EndReason};
use crate::repo::ledger::{self, Event};

impl Apply for CloseSession {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        let (id, reason) = (&self.session, self.reason);
        let Some(mut s) = find_session(cx, st, id).cloned() else {
            return Err(ApplyError::Invalid {
                resource: format!("session {id}"),
                why: "no such session in the ledger".into(),
            });
        };
        if s.ended.is_some() {
            return Ok(Outcome::Unchanged("already closed".into()));
        }
        // The closing write takes in the agent's newest report of this session
        // (its final snapshot may have come after the plan was made).
        if let Some(status) = cx.store.status().await.ok().flatten()
            && status.session.as_ref().is_none_or(|x| x == id)
        {
            let mut seen = status.players_seen;
            for p in status.players_online {
                if !seen.contains(&p) {
                    seen.push(p);
                }
            }
            s.take_activity(&ledger::Activity {
                players_seen: seen,
                presence: status.presence,
                peak_players: status.peak_players,
                backups: status.backups,
                world_bytes: status.world_bytes,
            });
        }
        // A session whose server was never created (a crash in between) bills nothing.
        let hours = if s.server_id.is_some() {
            ledger::billed_hours(s.started, cx.now)
        } else {
            0
        };
        s.ended = Some(cx.now);
        s.end_reason = Some(reason.as_str().into());
        s.billed_hours = Some(hours);
        s.cost = s.price.as_ref().map(|p| ledger::cost_of(p, hours));
        if let Some(f) = cx
            .desired
            .server
            .stop
            .force
            .as_ref()
            .filter(|f| reason == EndReason::Forced && &f.session == id)
        {
            // The record of the admin's decision: what was accepted lost, and why.
            let what = format!(
                "force-stop by the admin: deleted without a final snapshot, play since backup {} lost ({})",
                f.accept_backup, f.reason
            );
            report.message.push(format!("session {id}: {what}"));
            s.events.push(Event { at: cx.now, what });
        }
        s.events.push(Event {
            at: cx.now,
            what: format!("session closed ({})", reason.as_str()),
        });
        let cost = s.cost.as_ref().map_or(Decimal::ZERO, |c| c.gross);
        let currency = s.price.as_ref().map_or("", |p| p.currency.as_str()).to_string();
        write(cx, st, report, s)?;

        // Its renewed credentials go with it (and the one document older
        // versions kept for every session): no successor for a leaked key.
        for key in [
            cx.store.credentials_key(id),
            crate::storage::credentials::legacy_credentials_key(cx.store.server()),
        ] {
            cx.store.delete(&key).await.map_err(|source| ApplyError::Storage {
                resource: key.clone(),
                source,
            })?;
        }

        // The next session starts from a clean control document; the stored
        // files stay (content-addressed), so unchanged ones are not re-sent.
        let doc = control(cx, st).await?;
        doc.session = None;
        doc.restore = None;
        doc.stop_requested = None;
        doc.stop_reason = None;
        doc.stop_warnings = Default::default();
        st.control_dirty = true;

        report.message.push(format!(
            "stop session {id} ({}): {hours} h billed, {cost} {currency}",
            reason.as_str()
        ));
        Ok(Outcome::Done(format!("closed after {hours} billed hour(s)")))
    }
}
