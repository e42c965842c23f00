//! Hands the agent its nudge settings (`control/<s>/nudge.json`) beside its
//! control document: the token is long-lived, so it reaches the VPS through
//! the server's own storage prefix and never through user-data (DESIGN
//! invariant 5). Written only when missing or different, so an unchanged
//! token costs one read per run; a failed write is retried by the next run.

use crate::storage::nudge::NudgeDoc;
use crate::storage::{StorageError, Store};

/// Write `doc` unless the stored one is the same. `Ok(true)`: written.
pub(super) async fn hand_over(store: &Store, doc: &NudgeDoc) -> Result<bool, StorageError> {
    // A stored document that does not parse (an older shape) is replaced.
    let current = match store.nudge().await {
        Ok(d) => d,
        Err(StorageError::Decode { .. } | StorageError::TooLarge { .. }) => None,
        Err(e) => return Err(e),
    };
    if current.as_ref() == Some(doc) {
        return Ok(false);
    }
    store.put_json(&store.nudge_key(), doc).await?;
    // The key and the target, never the token.
    tracing::info!(key = %store.nudge_key(), repo = %doc.repo, workflow = %doc.workflow, "handed the agent its nudge settings");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ServerName;
    use crate::secret::Secret;

    fn doc(token: &str) -> NudgeDoc {
        NudgeDoc::from_github(Some(Secret::new(token)), Some("friends/grove-state"), None)
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn written_when_missing_or_different_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
        assert!(hand_over(&store, &doc("one")).await.unwrap(), "missing: written");
        assert!(!hand_over(&store, &doc("one")).await.unwrap(), "the same: left alone");
        assert!(hand_over(&store, &doc("two")).await.unwrap(), "a new token: written");
        assert_eq!(store.nudge().await.unwrap(), Some(doc("two")));
        assert!(dir.path().join("control/grove/nudge.json").is_file());
    }
}
