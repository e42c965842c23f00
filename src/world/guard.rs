//! The termination guard's rule, in one place: which snapshot makes a
//! server safe to delete, and which pointer a newer snapshot may replace.
//!
//! No writer's clock is trusted on its own (a fast laptop, a hostile VPS, a
//! mistyped `--taken`). A snapshot is the final one of a stop only when its
//! manifest names the session being stopped and says it was taken after
//! Minecraft stopped (`kind = "final"`, which only the agent writes), and
//! its `taken` lies between the stop's time and the reconciler's own clock,
//! each widened by [`MAX_CLOCK_SKEW`]. Snapshots without a session (taken by
//! hand, or written before sessions were recorded) stay readable and
//! restorable but never satisfy the guard.
//!
//! The pointer is ordered by `taken`, but a pointer whose snapshot claims a
//! time later than storage's own record of the upload (the archive's
//! `LastModified`, set by the server, which no writer can forge) plus the
//! skew holds nothing back: one bad write cannot freeze `current.json`.

use chrono::{DateTime, TimeDelta, Utc};

use crate::ids::SessionId;
use crate::storage::{StorageError, Store};

/// How far two honest clocks (the reconciler's runner, the VPS, storage)
/// may disagree. NTP keeps them within a second; two minutes also covers a
/// VPS whose time service started late. Wider would let a periodic
/// snapshot taken just before a stop pass for the final one — it cannot,
/// because the guard also wants `kind = "final"`, so the skew only bounds
/// how far a clock may run ahead or behind.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::seconds(120);

pub use crate::storage::SnapshotKind;

/// Who took a snapshot and why, as its manifest records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub session: Option<SessionId>,
    pub kind: SnapshotKind,
}

impl Origin {
    /// A snapshot by hand: no session, so never a stop's final snapshot.
    pub fn manual() -> Self {
        Origin {
            session: None,
            kind: SnapshotKind::Manual,
        }
    }
}

/// What the guard reads of a snapshot (from its verified manifest in
/// apply, from the pointer's copy in the plan).
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    pub session: Option<&'a SessionId>,
    pub kind: Option<SnapshotKind>,
    pub taken: DateTime<Utc>,
}

/// `None` when the snapshot is the final one of `session`'s stop asked at
/// `stop_at`, judged at the reconciler's `now`; else why not, in a phrase.
pub fn refuses(c: Claim<'_>, session: &SessionId, stop_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
    let secs = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match c.session {
        None => return Some("it names no session (taken by hand, or by an agent older than this check)".into()),
        Some(s) if s != session => return Some(format!("it is session {s}'s, not {session}'s")),
        Some(_) => {}
    }
    if c.kind != Some(SnapshotKind::Final) {
        let kind = c
            .kind
            .map_or("an unknown".to_string(), |k| format!("a {}", format!("{k:?}").to_lowercase()));
        return Some(format!("it is {kind} snapshot, not the final one taken after Minecraft stopped"));
    }
    if c.taken < stop_at - MAX_CLOCK_SKEW {
        return Some(format!("it was taken at {}, before the stop at {}", secs(c.taken), secs(stop_at)));
    }
    if c.taken > now + MAX_CLOCK_SKEW {
        return Some(format!(
            "it claims to be taken at {}, later than now ({}) by more than the allowed clock skew",
            secs(c.taken),
            secs(now)
        ));
    }
    None
}

/// Whether a snapshot claiming `taken` is dated later than storage's record
/// of its upload (`stored`) allows: such a snapshot is future-dated and
/// holds the pointer back for nobody.
pub fn future_dated(taken: DateTime<Utc>, stored: DateTime<Utc>) -> bool {
    taken > stored + MAX_CLOCK_SKEW
}

/// The termination guard: the current snapshot, verified, when it is
/// the final one of `session`'s stop asked at `stop_at` (judged at the
/// reconciler's `now`, see this module); else why not.
/// Nothing deletes a server without `Ok(Ok(_))` here (or an admin's
/// recorded force-stop). Verified means what the snapshot's manifest
/// says after the upload was re-read and hashed, and that the archive is
/// still there at the manifest's size; the pointer alone is not trusted.
pub async fn final_snapshot(
    store: &Store,
    session: &SessionId,
    stop_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Result<super::Manifest, String>, StorageError> {
    let Some(p) = store.current_snapshot().await? else {
        return Ok(Err(format!("{} holds no current.json", store.world_prefix())));
    };
    let Some((m, _)) = super::backing(store, &p).await?.filter(|_| p.verified) else {
        return Ok(Err(format!("current.json names {}, which is not a verified snapshot", p.key)));
    };
    Ok(match refuses(m.claim(), session, stop_at, now) {
        None => Ok(m),
        Some(why) => Err(format!("the current snapshot {} is not the final one: {why}", m.name)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_final_snapshot_of_this_session_within_the_skew_passes() {
        let s = SessionId::new("20261122-1800-eu");
        let other = SessionId::new("20261101-1802-eu");
        let stop = t("2026-11-22T19:00:00Z");
        let now = t("2026-11-22T19:10:00Z");
        let claim = |session, kind, taken: &str| Claim {
            session,
            kind,
            taken: t(taken),
        };
        let fin = Some(SnapshotKind::Final);
        assert_eq!(refuses(claim(Some(&s), fin, "2026-11-22T19:01:00Z"), &s, stop, now), None);
        assert_eq!(
            refuses(claim(Some(&s), fin, "2026-11-22T18:58:30Z"), &s, stop, now),
            None,
            "a VPS clock behind by less than the skew"
        );
        for (c, why) in [
            (claim(None, fin, "2026-11-22T19:01:00Z"), "names no session"),
            (claim(Some(&other), fin, "2026-11-22T19:01:00Z"), "session 20261101-1802-eu's"),
            (
                claim(Some(&s), Some(SnapshotKind::Backup), "2026-11-22T19:01:00Z"),
                "a backup snapshot",
            ),
            (claim(Some(&s), None, "2026-11-22T19:01:00Z"), "an unknown snapshot"),
            (claim(Some(&s), fin, "2026-11-22T18:57:00Z"), "before the stop"),
            (claim(Some(&s), fin, "2026-11-22T19:13:00Z"), "later than now"),
            (claim(Some(&s), fin, "2030-01-01T00:00:00Z"), "later than now"),
        ] {
            let got = refuses(c, &s, stop, now).unwrap_or_default();
            assert!(got.contains(why), "{got:?} should say {why:?}");
        }
    }

    #[test]
    fn a_time_beyond_the_upload_plus_skew_is_future_dated() {
        let stored = t("2026-11-22T19:00:00Z");
        assert!(!future_dated(t("2026-11-22T19:02:00Z"), stored));
        assert!(future_dated(t("2026-11-22T19:02:01Z"), stored));
        assert!(!future_dated(t("2020-01-01T00:00:00Z"), stored), "backdating holds nothing back");
    }
}
