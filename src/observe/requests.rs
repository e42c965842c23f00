//! The admin's requests (`control/<s>/requests/`), as the reconciler needs
//! them: the answers for the open session that its file will record, and
//! what the listing holds for pruning ([`ObservedRequests`]).
//!
//! Cheap on a run with nothing new: one listing; a result is read only when
//! its id is not in the session file yet and was asked after the session
//! could have received it, an unanswered request only to learn when it
//! expires, and an answered request that no session file records or can
//! still record only to learn whether it reads at all (the agent refused
//! it unread: it is pruned by age, `plan::planner::requests`); at most
//! [`MAX_READS`] each per run (the rest next run). Results are untrusted
//! (the VPS can write them): one that cannot be read or names another
//! session is skipped, the unreadable ones with a warning in the plan.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::repo::ledger::{Ledger, RequestRecord, Session};
use crate::storage::requests::RequestId;
use crate::storage::{StorageError, Store};

/// Results (and unanswered requests) read per run, at most.
pub(crate) const MAX_READS: usize = 32;

/// What `requests/` holds, for the plan's pruning (`plan::planner::requests`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ObservedRequests {
    /// Requests with no answer, oldest first, and when each expires (`None`:
    /// not read this run, or unreadable: such a request is kept).
    pub unanswered: Vec<(RequestId, Option<DateTime<Utc>>)>,
    /// Ids with an answer, oldest first (their request may be gone).
    pub answered: Vec<RequestId>,
    /// Answers whose request is gone.
    pub results_alone: Vec<RequestId>,
    /// Answered ids whose request could not be read this run (so the agent
    /// refused it unread), among those no session file records and none
    /// open can still record: only they are read, oldest first.
    pub unreadable: Vec<RequestId>,
    /// Ids in the listing that a closed session's file records, with that
    /// file (`sessions/YYYY/MM/<id>.toml`).
    pub recorded: BTreeMap<RequestId, String>,
}

/// What [`observe`] found.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observation {
    /// New answers for the open session.
    pub answered: Vec<RequestRecord>,
    /// Why a result could not be read.
    pub unreadable: Vec<String>,
    pub requests: ObservedRequests,
}

/// The oldest id the open session's agent may have answered: a request may
/// wait (unrun) up to its expiry, ten minutes by default, before the
/// session's agent answers it; older ids cannot be this session's.
pub(crate) fn recordable_since(session: &Session) -> String {
    (session.started - chrono::Duration::from_std(crate::storage::requests::NO_WAIT_EXPIRY).unwrap_or_default())
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// Whether an open session recording ids from `since` ([`recordable_since`])
/// may still record an answer to `id`; `None`: no session is open.
pub(crate) fn recordable(since: Option<&str>, id: &RequestId) -> bool {
    since.is_some_and(|s| id.as_str() >= s)
}

/// One listing of `requests/`: the new answers for the open session and
/// what pruning needs.
pub(crate) async fn observe(store: &Store, ledger: &Ledger, session: Option<&Session>) -> Result<Observation, StorageError> {
    let listing = store.list_requests().await?;
    let listed: BTreeSet<&RequestId> = listing.answered.iter().chain(&listing.pending).collect();
    let mut recorded = BTreeMap::new();
    for s in ledger.sessions.iter().filter(|s| !s.is_open()) {
        for r in &s.requests {
            if let Ok(id) = RequestId::parse(&r.id)
                && listed.contains(&id)
            {
                recorded.entry(id).or_insert_with(|| s.file.clone());
            }
        }
    }
    let mut unanswered = Vec::new();
    for (i, id) in listing.pending.iter().enumerate() {
        let expires = if i < MAX_READS && !recorded.contains_key(id) {
            store.request(id).await?.and_then(Result::ok).map(|r| r.expires)
        } else {
            None
        };
        unanswered.push((id.clone(), expires));
    }
    let (answered, unreadable) = match session {
        Some(session) => answered(store, session, &listing.answered).await?,
        None => (Vec::new(), Vec::new()),
    };
    let since = session.map(recordable_since);
    let mut refused_unread = Vec::new();
    let unrecordable = listing
        .answered
        .iter()
        .filter(|id| !recorded.contains_key(*id) && !listing.results_alone.contains(id) && !recordable(since.as_deref(), id));
    for id in unrecordable.take(MAX_READS) {
        if let Some(Err(_)) = store.request(id).await? {
            refused_unread.push(id.clone());
        }
    }
    Ok(Observation {
        answered,
        unreadable,
        requests: ObservedRequests {
            unanswered,
            answered: listing.answered,
            results_alone: listing.results_alone,
            unreadable: refused_unread,
            recorded,
        },
    })
}

/// New answers for `session`, and why any could not be read.
async fn answered(store: &Store, session: &Session, ids: &[RequestId]) -> Result<(Vec<RequestRecord>, Vec<String>), StorageError> {
    let since = recordable_since(session);
    let todo: Vec<&RequestId> = ids
        .iter()
        .filter(|id| id.as_str() >= since.as_str() && !session.requests.iter().any(|r| r.id == id.as_str()))
        .take(MAX_READS)
        .collect();
    let (mut out, mut unreadable) = (Vec::new(), Vec::new());
    for id in todo {
        match store.result(id).await? {
            Some(Ok(r)) if r.session.as_ref() == Some(&session.id) => out.push(r.record()),
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
        s.requests.push(recorded.record());
        store
            .put_bytes(
                &store.result_key(&RequestId::parse("20261122T190300Z-0000000e").unwrap()),
                b"{\"forged\":1}".to_vec(),
            )
            .await
            .unwrap();
        let ledger = Ledger::new(vec![s.clone()]);
        let got = observe(&store, &ledger, Some(&s)).await.unwrap();
        assert_eq!(got.answered, vec![mine.record()]);
        assert_eq!(got.unreadable.len(), 1, "{:?}", got.unreadable);
        assert!(got.requests.recorded.is_empty(), "an open session's records are not pruned");
        assert_eq!(got.requests.results_alone.len(), 5, "no request documents here");
        assert!(observe(&store, &ledger, None).await.unwrap().answered.is_empty());
        // Closed: its recorded answer becomes prunable.
        s.ended = Some("2026-11-22T21:00:00Z".parse().unwrap());
        let got = observe(&store, &Ledger::new(vec![s.clone()]), None).await.unwrap();
        let recorded: Vec<&str> = got.requests.recorded.keys().map(RequestId::as_str).collect();
        assert_eq!(recorded, ["20261122T190100Z-0000000b"]);
        assert_eq!(got.requests.recorded.values().next(), Some(&s.file));
    }

    /// Unreadable requests were never pruned: nothing told the planner an
    /// answered request could not be read. Only answered requests that no
    /// session file records and none open can record are read for it.
    #[tokio::test]
    async fn answered_requests_no_session_can_record_are_read_to_find_the_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        let s = Session::opened(
            &SessionId::new("20261122-1800-eu"),
            &ServerName::new("grove"),
            &RegionKey::new("eu"),
            "2026-11-22T18:00:00Z".parse().unwrap(),
        );
        let plant = |id: &str| {
            let id = RequestId::parse(id).unwrap();
            // The agent's refusal (`agent::requests::unreadable`, a layer above).
            let refusal = ResultDoc {
                action: None,
                command: None,
                outcome: Outcome::Refused,
                reply: "refused, not run: the request cannot be read".into(),
                id: id.clone(),
                ..answer(id.as_str(), "20261122-1800-eu")
            };
            (store.request_key(&id), refusal)
        };
        let (old, young) = (plant("20261122T170000Z-000000e1"), plant("20261122T190000Z-000000e2"));
        for (key, answer) in [&old, &young] {
            store.put_bytes(key, b"{\"version\": 2}".to_vec()).await.unwrap();
            store.put_result(answer).await.unwrap();
        }
        let readable = answer("20261122T170100Z-0000000a", "20261122-1800-eu");
        store.put_result(&readable).await.unwrap();
        let asked = RequestDoc {
            version: VERSION,
            id: readable.id.clone(),
            action: Action::Backup,
            command: None,
            actor: "grove-admin".into(),
            asked: readable.asked,
            expires: readable.asked,
        };
        store.put_request(&asked).await.unwrap();
        let ids = |o: &Observation| o.requests.unreadable.iter().map(|i| i.to_string()).collect::<Vec<_>>();
        let open = observe(&store, &Ledger::new(vec![s.clone()]), Some(&s)).await.unwrap();
        assert_eq!(ids(&open), [old.1.id.to_string()], "the young one the open session may record");
        let closed = observe(&store, &Ledger::new(vec![]), None).await.unwrap();
        assert_eq!(ids(&closed), [old.1.id.to_string(), young.1.id.to_string()]);
    }
}
