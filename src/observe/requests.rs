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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{RegionKey, ServerName, SessionId};
    use crate::storage::requests::{Action, Outcome, RequestDoc, ResultDoc, VERSION};

    fn answer(store_id: &str, session: &str) -> ResultDoc {
        let asked = "2026-11-22T19:00:00Z".parse().unwrap();
        let req = RequestDoc {
            version: VERSION,
            id: RequestId::parse(store_id).unwrap(),
            action: Action::Console,
            command: Some("time set day".into()),
            actor: "grove-admin".into(),
            asked,
            expires: asked,
        };
        ResultDoc::answer(&req, asked, Outcome::Ok, "Set the time to 1000", Some(SessionId::new(session)))
    }

    #[tokio::test]
    async fn only_this_sessions_unrecorded_answers_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        let mut s = Session::opened(
            &SessionId::new("20261122-1800-eu"),
            &ServerName::new("grove"),
            &RegionKey::new("eu"),
            "2026-11-22T18:00:00Z".parse().unwrap(),
        );
        let mine = answer("20261122T190000Z-0000000a", "20261122-1800-eu");
        let recorded = answer("20261122T190100Z-0000000b", "20261122-1800-eu");
        let other = answer("20261122T190200Z-0000000c", "20261101-1802-eu");
        let before = answer("20261101T190000Z-0000000d", "20261122-1800-eu");
        for r in [&mine, &recorded, &other, &before] {
            store.put_result(r).await.unwrap();
        }
        s.requests.push(RequestRecord::of(&recorded));
        store
            .put_bytes(
                &store.result_key(&RequestId::parse("20261122T190300Z-0000000e").unwrap()),
                b"{\"forged\":1}".to_vec(),
            )
            .await
            .unwrap();
        let (new, bad) = answered(&store, Some(&s)).await.unwrap();
        assert_eq!(new, vec![RequestRecord::of(&mine)]);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(answered(&store, None).await.unwrap().0.is_empty());
    }
}
