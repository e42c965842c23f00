//! The hand-over of a new server to its session. The agent provisions only
//! from a `desired.json` that names its own session (its agent.toml says
//! which), so a document left by the previous session (the write after the
//! create failed, or the run crashed in between) is never provisioned from:
//! the agent waits. While a session is open and its server live, this step
//! writes the document the create would have written, if the observed one
//! names another session (or none).
//!
//! A session recovered from the server's labels (the run crashed before
//! recording it) whose agent still waits has not restored anything yet, so
//! server.toml's `restore`, unused by any session, is honoured now: the
//! recovered session records it and the document carries it.

use serde_json::json;

use super::Builder;
use super::assets;
use crate::ids::SessionId;
use crate::plan::{HandOver, Op, Step};

impl Builder<'_> {
    /// The backup a recovered session starts from when its agent was never
    /// handed its document; `None` otherwise. Notes the decision.
    pub(super) fn restore_for_recovered(&mut self, session: &SessionId) -> Option<String> {
        let control = self.o.control.as_ref()?;
        if control.session.as_ref() == Some(session) {
            // The agent had its document: apply reads its `restore` back.
            return None;
        }
        let backup = self.restore_for_start()?;
        self.restoring = Some((session.clone(), backup.clone()));
        Some(backup)
    }

    /// The live server's session, when the observed desired.json names
    /// another (or none); `None` when there is nothing to hand over or the
    /// document was not observed.
    pub(super) fn hand_over_due(&self) -> Option<&SessionId> {
        let o = self.o;
        let (Some(server), Some(control)) = (&o.server, &o.control) else {
            return None;
        };
        let session = o.session.as_ref().map_or(&server.session, |s| &s.id);
        (control.session.as_ref() != Some(session)).then_some(session)
    }

    /// Write desired.json for the live server's session when the observed
    /// one names another. Planned after the session's files, so a failure
    /// before it never hands the agent a half-updated document.
    pub(super) fn hand_over(&mut self) {
        let (d, o) = (self.d, self.o);
        let Some(session) = self.hand_over_due().cloned() else { return };
        let (Some(server), Some(control)) = (&o.server, &o.control) else {
            return;
        };
        let session = &session;
        let restore = match &o.session {
            Some(s) => s.restored_from.clone(),
            // Recovered in this plan (`recover_session`).
            None => self
                .restoring
                .as_ref()
                .filter(|(s, _)| s == session)
                .map(|(_, backup)| backup.clone()),
        };
        let whitelist = assets::whitelist_names(d);
        let whitelist_uuids = assets::whitelist_uuids(d);
        let ops = assets::op_entries(d);
        self.change(
            Op::Update,
            "desired.json",
            Step::HandOver(HandOver {
                session: session.clone(),
                restore: restore.clone(),
                whitelist: whitelist.clone(),
                whitelist_uuids: whitelist_uuids.clone(),
                ops: ops.clone(),
            }),
            json!({ "session": control.session, "whitelist": control.whitelist, "ops": control.ops }),
            json!({ "session": session, "restore": restore, "whitelist": whitelist, "ops": ops }),
            format!(
                "server {} was created for session {session}, whose agent provisions only from a document naming it",
                server.name
            ),
        );
    }
}
