//! The admin's answered requests (`control/<s>/requests/*.result.json`) for
//! the open session, as the session file will record them.
//!
//! Cheap on a run with nothing new: one listing; a result is read only when
//! its id is not in the session file yet and was asked after the session
//! could have received it, at most [`MAX_READS`] per run (the rest next
//! run). Results are untrusted (the VPS can write them): one that cannot be
//! read or names another session is skipped, the unreadable ones with a
//! warning in the plan.

use crate::ledger::{RequestRecord, Session};
use crate::storage::requests::RequestId;
use crate::storage::{StorageError, Store};

/// Results read per run, at most.
pub const MAX_READS: usize = 32;

/// New answers for `session`, and why any could not be read.
pub async fn answered(store: &Store, session: Option<&Session>) -> Result<(Vec<RequestRecord>, Vec<String>), StorageError> {
    let Some(session) = session else {
        return Ok((Vec::new(), Vec::new()));
    };
    // A request may wait (unrun) up to its expiry, ten minutes by default,
    // before the session's agent answers it: older ids cannot be this session's.
    let since = (session.started - chrono::Duration::from_std(crate::console::NO_WAIT_EXPIRY).unwrap_or_default())
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let listing = store.list_requests().await?;
    let todo: Vec<RequestId> = listing
        .answered
        .into_iter()
        .filter(|id| id.as_str() >= since.as_str() && !session.requests.iter().any(|r| r.id == id.as_str()))
        .take(MAX_READS)
        .collect();
    let (mut out, mut unreadable) = (Vec::new(), Vec::new());
    for id in todo {
        match store.result(&id).await? {
            Some(Ok(r)) if r.session.as_ref() == Some(&session.id) => out.push(RequestRecord::of(&r)),
            Some(Ok(_)) | None => {}
            Some(Err(why)) => unreadable.push(why),
        }
    }
    Ok((out, unreadable))
}
