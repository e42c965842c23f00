//! World snapshots against the local file system: round trips, the guard,
//! interruption, corruption, retention and hostile archives. The same
//! paths against a real S3 server are in tests/world.rs.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::retention::{Backup, to_prune};
use super::*;
use crate::ids::ServerName;
use crate::storage::cas::Expect;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn store(dir: &Path) -> Store {
    Store::local(dir, &ServerName::new("grove")).unwrap()
}

fn session() -> SessionId {
    SessionId::new("20261122-1800-eu")
}

/// What the agent writes after Minecraft stopped.
fn fin() -> Origin {
    Origin {
        session: Some(session()),
        kind: SnapshotKind::Final,
    }
}

/// The guard for the stop at `stop`, judged an hour later.
async fn guard_passes(s: &Store, stop: DateTime<Utc>) -> bool {
    crate::world::guard::final_snapshot(s, &session(), stop, stop + chrono::Duration::hours(1))
        .await
        .unwrap()
        .is_ok()
}

/// A small world: region files of pseudo-random bytes and some text.
pub(crate) fn make_world(dir: &Path, regions: usize, region_bytes: usize) {
    std::fs::create_dir_all(dir.join("region")).unwrap();
    std::fs::create_dir_all(dir.join("playerdata")).unwrap();
    std::fs::write(dir.join("level.dat"), b"level data").unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for r in 0..regions {
        let bytes: Vec<u8> = (0..region_bytes)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        std::fs::write(dir.join(format!("region/r.{r}.0.mca")), bytes).unwrap();
    }
    std::fs::write(dir.join("playerdata/8667ba71.dat"), b"steve").unwrap();
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

const GO: &(dyn Fn(u64) -> bool + Send + Sync) = &|_| true;

#[test]
fn backup_names_round_trip_and_bad_ones_are_refused() {
    // The usual, second-resolution form.
    let n = BackupName::at(t("2026-11-22T19:30:00.123Z"));
    assert_eq!(n.to_string(), "2026-11-22T19-30-00Z");
    assert_eq!(BackupName::parse("2026-11-22T19-30-00Z").unwrap(), n);
    assert_eq!(
        BackupName::from_key("worlds/grove/backups/2026-11-22T19-30-00Z.tar.zst"),
        Some(n.clone())
    );

    let u = BackupName::unique(t("2026-11-22T19:30:00.123456Z"));
    let text = u.to_string();
    assert!(text.starts_with("2026-11-22T19-30-00-123Z-") && text.len() == 29, "{text}");
    assert_eq!(u.time(), t("2026-11-22T19:30:00.123Z"));
    assert_eq!(BackupName::parse(&text).unwrap(), u);
    assert_eq!(BackupName::from_key(&format!("worlds/grove/backups/{text}.json")), Some(u.clone()));
    let json = serde_json::to_string(&u).unwrap();
    assert_eq!(serde_json::from_str::<BackupName>(&json).unwrap(), u);
    assert!(n < u, "newer sorts later whatever the form");

    for bad in [
        "yesterday",
        "2026-11-22T19-30-00-123Z",
        "2026-11-22T19-30-00-12Z-7f3a",
        "2026-11-22T19-30-00-123Z-7F3A",
        "2026-11-22T19-30-00-123Z-7f3",
    ] {
        let e = BackupName::parse(bad).unwrap_err().to_string();
        assert!(e.contains("2026-11-22T19-30-00-123Z-7f3a") && e.contains(bad), "{e}");
    }
}

/// Regression: a suspend snapshot and the final one in the same second
/// collided ("exists already"), and termination waited a minute more.
#[tokio::test]
async fn two_snapshots_in_one_second_get_two_names() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store"));
    let world = tmp.path().join("world");
    make_world(&world, 1, 1000);
    let a = snapshot(&s, &world, t("2026-11-22T19:30:00.100Z"), GO).await.unwrap();
    let b = snapshot(&s, &world, t("2026-11-22T19:30:00.100Z"), GO).await.unwrap();
    let c = snapshot(&s, &world, t("2026-11-22T19:30:00.900Z"), GO).await.unwrap();
    assert_eq!(a.name.to_string(), "2026-11-22T19-30-00Z", "the usual name while it is free");
    assert!(a.name != b.name && a.key != b.key, "{} {}", a.name, b.name);
    assert_eq!((a.taken, c.taken), (t("2026-11-22T19:30:00.100Z"), t("2026-11-22T19:30:00.900Z")));
    let listed = retention::list(&s).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|b| b.complete()));
    assert_eq!(listed.last().unwrap().name, c.name, "the newest sorts last");
    assert_eq!(s.current_snapshot().await.unwrap().unwrap().key, c.key);
}

#[tokio::test]
async fn both_forms_of_name_list_restore_and_prune_together() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store"));
    let world = tmp.path().join("world");
    make_world(&world, 1, 1000);
    snapshot(&s, &world, t("2026-11-22T10:00:00Z"), GO).await.unwrap();
    let plain = snapshot(&s, &world, t("2026-11-22T11:00:00.200Z"), GO).await.unwrap();
    let tagged = snapshot(&s, &world, t("2026-11-22T11:00:00.500Z"), GO).await.unwrap();
    assert_eq!(plain.name.to_string(), "2026-11-22T11-00-00Z");
    assert!(tagged.name.to_string().starts_with("2026-11-22T11-00-00-500Z-"), "{}", tagged.name);
    let listed: Vec<String> = retention::list(&s).await.unwrap().iter().map(|b| b.name.to_string()).collect();
    assert_eq!(listed, ["2026-11-22T10-00-00Z", "2026-11-22T11-00-00Z", &tagged.name.to_string()]);
    assert_eq!(
        s.current_snapshot().await.unwrap().unwrap().key,
        tagged.key,
        "the newer one is current"
    );

    let m = resolve(&s, &tagged.name.to_string()).await.unwrap();
    let target = tmp.path().join("restored");
    restore(&s, &m, &target, GO).await.unwrap();
    assert_eq!(tree(&target), tree(&world));
    assert_eq!(names(retention::prune(&s, 2, &[]).await.unwrap()), ["2026-11-22T10-00-00Z"]);

    // A manifest written before world_bytes was recorded still reads.
    let key = plain.name.manifest_key(&s);
    let mut v: serde_json::Value = s.get_json(&key).await.unwrap().unwrap();
    v.as_object_mut().unwrap().remove("world_bytes");
    s.put_json(&key, &v).await.unwrap();
    assert_eq!(manifest(&s, &plain.name).await.unwrap().unwrap().world_bytes, None);
}

#[tokio::test]
async fn snapshot_then_restore_gives_the_same_world() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store"));
    let world = tmp.path().join("world");
    make_world(&world, 3, 300_000);
    let m = snapshot(&s, &world, t("2026-11-22T19:30:00Z"), GO).await.unwrap();
    assert_eq!(m.files, 5);
    assert_eq!(
        m.world_bytes,
        Some(3 * 300_000 + 10 + 5),
        "every file's bytes, counted while packing"
    );
    assert_eq!(m.key, "worlds/grove/backups/2026-11-22T19-30-00Z.files");
    let p = s.current_snapshot().await.unwrap().unwrap();
    assert_eq!(
        (p.key.as_str(), p.sha256.as_str(), p.verified),
        (m.key.as_str(), m.sha256.as_str(), true)
    );
    let why = crate::world::guard::final_snapshot(&s, &session(), t("2026-11-22T19:30:00Z"), t("2026-11-22T20:00:00Z"))
        .await
        .unwrap();
    assert!(
        why.unwrap_err().contains("names no session"),
        "a backup by hand never satisfies the guard"
    );

    let target = tmp.path().join("server/world");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("stale.txt"), b"old").unwrap();
    assert_eq!(restore(&s, &m, &target, GO).await.unwrap(), 5);
    assert_eq!(tree(&target), tree(&world), "the old directory is replaced, not merged");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("server"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["world"], "no fresh or old directory left beside it");
}

#[tokio::test]
async fn an_interrupted_upload_leaves_the_pointer_and_previous_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store"));
    let world = tmp.path().join("world");
    make_world(&world, 1, 1000);
    let first = snapshot_as(&s, &world, t("2026-11-22T19:00:00Z"), &fin(), GO).await.unwrap();
    let before = std::fs::read(tmp.path().join("store/worlds/grove/current.json")).unwrap();

    make_world(&world, 4, 3 * 1024 * 1024); // ~12 MiB of noise: more than one part
    let halfway: &(dyn Fn(u64) -> bool + Send + Sync) = &|n| n < 6 * 1024 * 1024;
    let e = snapshot_as(&s, &world, t("2026-11-22T19:30:00Z"), &fin(), halfway)
        .await
        .unwrap_err();
    assert!(matches!(e, WorldError::Cancelled), "{e}");

    assert_eq!(std::fs::read(tmp.path().join("store/worlds/grove/current.json")).unwrap(), before);
    let names: Vec<String> = retention::list(&s).await.unwrap().iter().map(|b| b.name.to_string()).collect();
    assert_eq!(names, [first.name.to_string()], "nothing of the interrupted upload is visible");
    verify(&s, &first, GO).await.unwrap();
    assert!(!guard_passes(&s, t("2026-11-22T19:30:00Z")).await);
    assert!(guard_passes(&s, t("2026-11-22T19:00:00Z")).await, "the one before still does");
}

#[tokio::test]
async fn a_corrupted_snapshot_is_detected_by_verify_restore_and_the_guard() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store"));
    let world = tmp.path().join("world");
    make_world(&world, 2, 100_000);
    let m = snapshot_as(&s, &world, t("2026-11-22T19:30:00Z"), &fin(), GO).await.unwrap();
    assert!(guard_passes(&s, t("2026-11-22T19:00:00Z")).await);
    let file = tmp.path().join("store").join(&m.key);
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();

    let e = verify(&s, &m, GO).await.unwrap_err();
    assert!(matches!(e, WorldError::Corrupt { .. }), "{e}");
    let target = tmp.path().join("restored");
    let e = restore(&s, &m, &target, GO).await.unwrap_err();
    assert!(matches!(e, WorldError::Corrupt { .. }), "{e}");
    assert!(!target.exists(), "nothing swapped in");

    // Truncated: the guard sees the size differ from the manifest.
    bytes.truncate(mid);
    std::fs::write(&file, &bytes).unwrap();
    assert!(!guard_passes(&s, t("2026-11-22T19:00:00Z")).await);
}

#[tokio::test]
async fn the_guard_needs_a_manifest_backed_snapshot_after_the_time() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let stop = t("2026-11-22T19:00:00Z");
    assert!(!guard_passes(&s, stop).await, "nothing stored");
    // A hand-written pointer claiming verification counts for nothing.
    let p = crate::storage::SnapshotPointer {
        key: "worlds/grove/backups/2026-11-22T19-30-00Z.tar.zst".into(),
        taken: t("2026-11-22T19:30:00Z"),
        sha256: "00".into(),
        size: 1,
        verified: true,
        session: Some(session()),
        kind: Some(SnapshotKind::Final),
    };
    s.put_json(&s.current_key(), &p).await.unwrap();
    assert!(!guard_passes(&s, stop).await, "no manifest");

    let world = tmp.path().join("w");
    make_world(&world, 1, 10);
    std::fs::remove_file(tmp.path().join("worlds/grove/current.json")).unwrap();
    snapshot_as(&s, &world, t("2026-11-22T18:57:59Z"), &fin(), GO).await.unwrap();
    assert!(!guard_passes(&s, stop).await, "older than the stop by more than the skew");
    snapshot(&s, &world, t("2026-11-22T19:01:00Z"), GO).await.unwrap();
    assert!(!guard_passes(&s, stop).await, "taken by hand");
    let periodic = Origin {
        kind: SnapshotKind::Backup,
        ..fin()
    };
    snapshot_as(&s, &world, t("2026-11-22T19:02:00Z"), &periodic, GO).await.unwrap();
    assert!(!guard_passes(&s, stop).await, "a periodic backup is not the final snapshot");
    snapshot_as(&s, &world, t("2026-11-22T19:03:00Z"), &fin(), GO).await.unwrap();
    assert!(guard_passes(&s, stop).await);
}

#[tokio::test]
async fn the_pointer_never_moves_back_and_a_stale_writer_loses() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let world = tmp.path().join("w");
    make_world(&world, 1, 10);
    snapshot(&s, &world, t("2026-11-22T20:00:00Z"), GO).await.unwrap();
    let older = snapshot(&s, &world, t("2026-11-22T19:00:00Z"), GO).await.unwrap();
    let p = s.current_snapshot().await.unwrap().unwrap();
    assert_eq!(p.taken, t("2026-11-22T20:00:00Z"), "an older snapshot does not take the pointer");

    // Two writers read the same version; the second write must fail.
    let (_, v) = s
        .get_json_versioned::<crate::storage::SnapshotPointer>(&s.current_key())
        .await
        .unwrap()
        .unwrap();
    s.put_json_if(&s.current_key(), &older.pointer(), &v).await.unwrap();
    let e = s.put_json_if(&s.current_key(), &p, &v).await.unwrap_err();
    assert!(matches!(e, crate::storage::StorageError::Conflict { .. }), "{e}");
    let e = s.put_json_if(&s.current_key(), &p, &Expect::Absent).await.unwrap_err();
    assert!(matches!(e, crate::storage::StorageError::Conflict { .. }), "{e}");
}

fn b(name: &str, complete: bool, pinned: bool) -> Backup {
    Backup {
        name: BackupName::parse(name).unwrap(),
        size: Some(1),
        manifest: complete,
        pinned,
        sealed: false,
    }
}

fn names(v: Vec<BackupName>) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

#[test]
fn retention_keeps_the_newest_n_plus_pinned_and_current() {
    let all: Vec<Backup> = (0..6).map(|h| b(&format!("2026-11-22T1{h}-00-00Z"), true, h == 1)).collect();
    let current = BackupName::parse("2026-11-22T10-00-00Z").unwrap();
    assert_eq!(
        names(to_prune(&all, 2, Some(&current))),
        ["2026-11-22T12-00-00Z", "2026-11-22T13-00-00Z"],
        "10 is current, 11 pinned, 14 and 15 the newest two"
    );
    assert!(to_prune(&all, 6, None).is_empty());
    assert_eq!(to_prune(&all, 0, None).len(), 5, "only the pinned one stays");
}

#[test]
fn retention_removes_incomplete_backups_only_behind_a_complete_one() {
    let all = vec![
        b("2026-11-22T10-00-00Z", false, false),
        b("2026-11-22T11-00-00Z", true, false),
        b("2026-11-22T12-00-00Z", false, false),
    ];
    assert_eq!(
        names(to_prune(&all, 5, None)),
        ["2026-11-22T10-00-00Z"],
        "12 may still be being verified"
    );
}

#[tokio::test]
async fn prune_deletes_exactly_what_the_rule_says() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let world = tmp.path().join("w");
    make_world(&world, 1, 10);
    let mut made = Vec::new();
    for h in 0..5 {
        made.push(snapshot(&s, &world, t(&format!("2026-11-22T1{h}:00:00Z")), GO).await.unwrap().name);
    }
    retention::set_pin(&s, &made[0], true).await.unwrap();
    let gone = retention::prune(&s, 2, &[]).await.unwrap();
    assert_eq!(gone, [made[1].clone(), made[2].clone()]);
    let left: Vec<BackupName> = retention::list(&s).await.unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(left, [made[0].clone(), made[3].clone(), made[4].clone()]);
    assert!(!tmp.path().join(made[1].manifest_key(&s)).exists());
    assert!(
        retention::prune(&s, 2, &[]).await.unwrap().is_empty(),
        "a second prune has nothing to do"
    );
}

#[tokio::test]
async fn restore_names_a_backup_that_does_not_exist_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let world = tmp.path().join("w");
    make_world(&world, 1, 10);
    let m = snapshot(&s, &world, t("2026-11-22T10:00:00Z"), GO).await.unwrap();
    let e = resolve(&s, "2026-11-01T18-00-00Z").await.unwrap_err().to_string();
    assert!(
        e.contains("no backup named 2026-11-01T18-00-00Z") && e.contains(&m.name.to_string()),
        "{e}"
    );
    assert_eq!(resolve(&s, &m.name.to_string()).await.unwrap(), m, "a new name resolves");
    let e = resolve(&s, "last-week").await.unwrap_err().to_string();
    assert!(e.contains("not a backup name"), "{e}");
}

#[tokio::test]
async fn a_future_dated_pointer_holds_no_later_snapshot_back() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let world = tmp.path().join("w");
    make_world(&world, 1, 10);
    let now = Utc::now();
    snapshot(&s, &world, now + chrono::Duration::days(365), GO).await.unwrap();
    let real = snapshot_as(&s, &world, now, &fin(), GO).await.unwrap();
    assert_eq!(
        s.current_snapshot().await.unwrap().unwrap().key,
        real.key,
        "the real snapshot is current"
    );
    // Within the skew, a pointer is believed, and an older snapshot stays out.
    let ahead = snapshot(&s, &world, now + chrono::Duration::seconds(60), GO).await.unwrap();
    snapshot_as(&s, &world, now + chrono::Duration::seconds(30), &fin(), GO)
        .await
        .unwrap();
    assert_eq!(s.current_snapshot().await.unwrap().unwrap().key, ahead.key);
}
