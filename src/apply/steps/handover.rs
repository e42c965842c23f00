//! Hand a live server's session its `desired.json` (`Step::HandOver`): what
//! `create_server` writes right after the create, written by a later run
//! when that write did not happen. The agent waits for a document naming
//! its session, so nothing was provisioned from the previous one.

use std::collections::BTreeMap;

use super::{Apply, ApplyError, Ctx, Outcome, Report, RunState, control, find_session};
use crate::ids::{PlayerName, PlayerUuid, SessionId};
use crate::observe::OpEntry;
use crate::plan::HandOver;

async fn hand_over(
    cx: &Ctx<'_>,
    st: &mut RunState,
    report: &mut Report,
    session: &SessionId,
    restore: &Option<String>,
    whitelist: (&[PlayerName], &BTreeMap<PlayerName, PlayerUuid>),
    ops: &[OpEntry],
) -> Result<Outcome, ApplyError> {
    let open = find_session(cx, st, session).is_some_and(|s| s.ended.is_none());
    if !open {
        return Err(ApplyError::Stale {
            resource: "desired.json".into(),
            why: format!("session {session} is not open in the ledger"),
        });
    }
    let doc = control(cx, st).await?;
    if doc.session.as_ref() == Some(session) {
        return Ok(Outcome::Unchanged(format!("desired.json already names session {session}")));
    }
    doc.session = Some(session.clone());
    doc.restore = restore.clone();
    doc.whitelist = whitelist.0.to_vec();
    doc.whitelist_uuids = whitelist.1.clone();
    doc.ops = ops.to_vec();
    // A stop already requested stays: the agent provisions, then stops and syncs.
    st.control_dirty = true;
    report.message.push(format!(
        "hand session {session} its desired.json{}",
        restore.as_ref().map(|b| format!(" (restore {b})")).unwrap_or_default()
    ));
    Ok(Outcome::Done("the agent provisions from it".into()))
}

impl Apply for HandOver {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        hand_over(
            cx,
            st,
            report,
            &self.session,
            &self.restore,
            (&self.whitelist, &self.whitelist_uuids),
            &self.ops,
        )
        .await
    }
}
