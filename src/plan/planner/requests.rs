//! Pruning `control/<s>/requests/`, run by the reconciler: the VPS only
//! adds requests' answers, and nothing else ever deletes them. A request
//! and its answer go once a closed session's file records the answer (the
//! session file is the lasting record; `mc-gitops console` has long stopped
//! waiting for a closed session's answers). Decided at any run, not only at
//! the close, so a run that crashed halfway converges on the next.
//!
//! Also pruned: a request never answered and past its `expires` by
//! [`EXPIRED_GRACE`] (no agent runs it any more: it refuses expired ones),
//! an answer whose request is gone that no open session can record, and a
//! request that cannot be read, once the agent answered it (refused unread)
//! and no open session can record that answer, [`UNREADABLE_KEPT`] after
//! the time its id names: its `expires` cannot be read, so the longest a
//! `--no-wait` request lives stands in for it, with the same grace.
//! Never: an unanswered request that has not expired (an agent may still
//! run it), one whose expiry could not be read and that no agent answered
//! yet, an answer the open session may still record, and the agent's local
//! started-record on the VPS (not reachable from here). At most
//! [`MAX_REQUESTS_PRUNED`] per run, oldest first: the rest the next run.

use serde_json::json;

use super::Builder;
use crate::plan::{Op, PruneRequest, RequestPrune, Step};
use crate::storage::requests::{NO_WAIT_EXPIRY, RequestId};

/// Requests (each with its answer) deleted per run, at most.
pub const MAX_REQUESTS_PRUNED: usize = 16;
/// How long after its `expires` an unanswered request is kept: room for an
/// agent that started it just before (a backup takes minutes) to answer.
pub const EXPIRED_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(1);
/// How long after the time in its id an answered request that cannot be
/// read is kept: `--no-wait`'s expiry ([`NO_WAIT_EXPIRY`], the longest a
/// request lives unless `--wait` says longer) and [`EXPIRED_GRACE`].
pub const UNREADABLE_KEPT: chrono::TimeDelta = chrono::TimeDelta::seconds(NO_WAIT_EXPIRY.as_secs() as i64)
    .checked_add(&EXPIRED_GRACE)
    .expect("70 minutes");

impl Builder<'_> {
    pub(super) fn prune_requests(&mut self) {
        let o = self.o;
        let Some(r) = &o.requests else { return };
        let since = o.session.as_ref().map(crate::observe::requests::recordable_since);
        let recordable = |id: &RequestId| crate::observe::requests::recordable(since.as_deref(), id);
        let mut gone: Vec<(RequestId, RequestPrune)> = Vec::new();
        for id in &r.answered {
            if let Some(file) = r.recorded.get(id) {
                gone.push((id.clone(), RequestPrune::Recorded { file: file.clone() }));
            } else if recordable(id) {
                continue;
            } else if r.results_alone.contains(id) {
                gone.push((id.clone(), RequestPrune::ResultAlone));
            } else if r.unreadable.contains(id) && id.asked() + UNREADABLE_KEPT <= o.now {
                gone.push((id.clone(), RequestPrune::Unreadable));
            }
        }
        for (id, expires) in &r.unanswered {
            if let Some(file) = r.recorded.get(id) {
                gone.push((id.clone(), RequestPrune::Recorded { file: file.clone() }));
            } else if let Some(expires) = expires
                && *expires + EXPIRED_GRACE <= o.now
            {
                gone.push((id.clone(), RequestPrune::Expired { expires: *expires }));
            }
        }
        gone.sort_by(|a, b| a.0.cmp(&b.0));
        gone.truncate(MAX_REQUESTS_PRUNED);
        for (id, because) in gone {
            let has_request = !r.results_alone.contains(&id);
            let has_result = r.answered.contains(&id);
            let reason = match &because {
                RequestPrune::Recorded { file } => {
                    format!("recorded in {file} (its session is closed): the request and its answer are deleted")
                }
                RequestPrune::Expired { expires } => format!(
                    "never answered, expired {}: no agent runs it any more",
                    expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                RequestPrune::ResultAlone => "an answer whose request is gone, that no open session can record".to_string(),
                RequestPrune::Unreadable => format!(
                    "cannot be read (the agent refused it unread), asked {} by its id, and no open session can record the answer: the request and its answer are deleted",
                    id.asked().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            };
            let server = &self.d.server.name;
            let request = crate::storage::requests::request_key_of(server, &id);
            let result = crate::storage::requests::result_key_of(server, &id);
            let before = match &because {
                RequestPrune::Expired { .. } => json!({ "request": request }),
                _ => json!({ "request": has_request.then_some(request), "result": has_result.then_some(result) }),
            };
            self.change(
                Op::Delete,
                format!("request {id}"),
                Step::PruneRequest(PruneRequest { id, because }),
                before,
                serde_json::Value::Null,
                reason,
            );
        }
    }
}
