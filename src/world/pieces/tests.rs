//! Snapshots of pieces against the local file system: the file list's
//! round trip and its rules, incremental uploads, warm restores, old
//! archives still read, the sweep, and the faults issue 15 names (an
//! interrupted incremental backup, a corrupted piece).

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};

use super::sweep::{GRACE, Place, sweep};
use super::*;
use crate::ids::{ServerName, SessionId};
use crate::world::{Origin, SnapshotKind, restore, snapshot_as, verify};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn store(dir: &Path) -> Store {
    Store::local(dir, &ServerName::new("grove")).unwrap()
}

fn fin() -> Origin {
    Origin {
        session: Some(SessionId::new("20261122-1800-eu")),
        kind: SnapshotKind::Final,
    }
}

const GO: &(dyn Fn(u64) -> bool + Send + Sync) = &|_| true;

/// Pseudo-random bytes, different for each seed.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Region files (one over a piece, to be cut), small files, an empty one.
fn make_world(dir: &Path) {
    std::fs::create_dir_all(dir.join("region")).unwrap();
    std::fs::create_dir_all(dir.join("stats")).unwrap();
    std::fs::create_dir_all(dir.join("empty/nested")).unwrap();
    for r in 0..4u64 {
        let n = if r == 0 { PIECE_BYTES as usize * 2 + 4096 } else { 300_000 };
        std::fs::write(dir.join(format!("region/r.{r}.0.mca")), noise(r + 1, n)).unwrap();
    }
    for p in 0..20u64 {
        std::fs::write(dir.join(format!("stats/{p}.json")), noise(100 + p, 700)).unwrap();
    }
    std::fs::write(dir.join("level.dat"), b"level data").unwrap();
    std::fs::write(dir.join("session.lock"), b"").unwrap();
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if p.is_dir() {
                out.push((rel + "/", vec![]));
                stack.push(p);
            } else {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn stored_pieces(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join("worlds/grove/pieces"))
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

async fn list_of(s: &Store, m: &crate::world::Manifest) -> FileList {
    read_list(s, &m.key, &m.sha256, m.size).await.unwrap()
}

#[test]
fn the_file_list_round_trips_through_its_one_type() {
    let list = FileList {
        version: LIST_VERSION,
        dirs: vec!["region".into()],
        files: vec![FileEntry {
            path: "region/r.0.0.mca".into(),
            size: 5,
            mode: 0o644,
            sha256: "a".repeat(64),
            parts: vec![Part {
                piece: 0,
                offset: 2,
                len: 5,
            }],
        }],
        pieces: vec![Piece {
            sha256: "b".repeat(64),
            size: 7,
            stored: 20,
            etag: Some("\"e\"".into()),
        }],
    };
    let bytes = list.to_bytes();
    assert_eq!(FileList::parse("k", &bytes, Limits::WORLD).unwrap(), list);
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["files"][0]["parts"][0]["offset"], 2, "{v}");
    // Unknown fields are refused: one definition of the format.
    let mut extra = v.clone();
    extra["files"][0]["link"] = "../x".into();
    assert!(FileList::parse("k", &serde_json::to_vec(&extra).unwrap(), Limits::WORLD).is_err());
}

#[test]
fn a_piece_is_unpacked_only_when_it_is_one_whole_stream_of_exactly_its_bytes() {
    use sha2::{Digest, Sha256};
    // Several read buffers long.
    let bytes = noise(7, 3 * (128 << 10) + 1234);
    let sha = hex::encode(Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let packed = zstd::bulk::compress(&bytes, put::PIECE_ZSTD_LEVEL).unwrap();
    assert_eq!(unpack_piece("k", &packed, &sha, size).unwrap(), bytes);
    // Two frames that together hold the bytes are one valid stream.
    let (a, b) = bytes.split_at((128 << 10) + 17);
    let two = [zstd::encode_all(a, 3).unwrap(), zstd::encode_all(b, 3).unwrap()].concat();
    assert_eq!(unpack_piece("k", &two, &sha, size).unwrap(), bytes);
    // Another piece's bytes under this name.
    let other = zstd::bulk::compress(&noise(8, bytes.len()), 1).unwrap();
    assert!(matches!(unpack_piece("k", &other, &sha, size), Err(WorldError::Corrupt { .. })));
    // One byte more or less than the list says.
    let longer = zstd::bulk::compress(&[&bytes[..], b"!"].concat(), 1).unwrap();
    assert!(matches!(
        unpack_piece("k", &longer, &sha, size),
        Err(WorldError::WrongSize { actual, .. }) if actual == size + 1
    ));
    let shorter = zstd::bulk::compress(&bytes[1..], 1).unwrap();
    assert!(matches!(
        unpack_piece("k", &shorter, &sha, size),
        Err(WorldError::WrongSize { actual, .. }) if actual == size - 1
    ));
    // A stream cut inside its frame (the bytes all there, the end missing),
    // or with bytes after its frame.
    let cut = &packed[..packed.len() - 1];
    assert!(unpack_piece("k", cut, &sha, size).is_err());
    let trailing = [&packed[..], b"junk"].concat();
    assert!(unpack_piece("k", &trailing, &sha, size).is_err());
    assert!(unpack_piece("k", b"", &sha, size).is_err());
}

#[tokio::test]
async fn backup_uploads_only_what_changed_and_each_snapshot_restores_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let s = store(&root);
    let world = tmp.path().join("world");
    make_world(&world);
    let first = snapshot_as(&s, &world, t("2026-11-22T19:00:00Z"), &fin(), GO).await.unwrap();
    assert_eq!(first.version, 2);
    assert!(first.key.ends_with("backups/2026-11-22T19-00-00Z.files"), "{}", first.key);
    let list = list_of(&s, &first).await;
    // r.0.0 is three pieces; r.1..3 one each; the small files one pack.
    assert_eq!(list.pieces.len(), 3 + 3 + 1, "{:?}", list.pieces);
    assert_eq!(first.added_pieces, Some(7));
    assert_eq!(stored_pieces(&root).len(), 7);
    let first_world = tree(&world);

    // A session rewrites one region file and the level.
    std::fs::write(world.join("region/r.2.0.mca"), noise(99, 300_000)).unwrap();
    std::fs::write(world.join("level.dat"), b"level data, later").unwrap();
    let second = snapshot_as(&s, &world, t("2026-11-22T19:30:00Z"), &fin(), GO).await.unwrap();
    assert_eq!(second.added_pieces, Some(2), "the region file and the pack of small files");
    assert_eq!(stored_pieces(&root).len(), 9);
    // Nothing changed: nothing uploaded (the stat cache skips reading the regions).
    let third = snapshot_as(&s, &world, t("2026-11-22T19:45:00Z"), &fin(), GO).await.unwrap();
    assert_eq!(third.added_pieces, Some(0));

    for (m, want) in [(&first, &first_world), (&second, &tree(&world))] {
        let target = tmp.path().join(format!("restored-{}", m.name));
        assert_eq!(restore(&s, m, &target, GO).await.unwrap(), m.files);
        assert_eq!(&tree(&target), want);
        verify(&s, m, GO).await.unwrap();
    }
}

#[tokio::test]
async fn a_warm_restore_takes_files_it_has_and_fetches_only_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let s = store(&root);
    let world = tmp.path().join("world");
    make_world(&world);
    let m = snapshot_as(&s, &world, t("2026-11-22T19:00:00Z"), &fin(), GO).await.unwrap();
    let target = tmp.path().join("server/world");
    restore(&s, &m, &target, GO).await.unwrap();
    // One file differs on disk; the pieces of every other region file are
    // deleted from storage: the restore must find them on disk.
    std::fs::write(target.join("region/r.1.0.mca"), b"played over").unwrap();
    let list = list_of(&s, &m).await;
    let keep: Vec<&str> = list
        .files
        .iter()
        .filter(|f| f.path == "region/r.1.0.mca")
        .flat_map(|f| f.parts.iter().map(|p| list.pieces[p.piece as usize].sha256.as_str()))
        .collect();
    for f in list
        .files
        .iter()
        .filter(|f| f.path.starts_with("region/") && f.path != "region/r.1.0.mca")
    {
        for p in &f.parts {
            let sha = &list.pieces[p.piece as usize].sha256;
            assert!(!keep.contains(&sha.as_str()));
            s.delete(&piece_key(&s, sha)).await.unwrap();
        }
    }
    restore(&s, &m, &target, GO).await.unwrap();
    assert_eq!(tree(&target), tree(&world));
    // Same size, other bytes: copied, found to differ by its hash, and
    // filled from its pieces instead.
    let played = target.join("region/r.1.0.mca");
    let mut bytes = std::fs::read(&played).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&played, &bytes).unwrap();
    restore(&s, &m, &target, GO).await.unwrap();
    assert_eq!(tree(&target), tree(&world));
}

#[tokio::test]
async fn a_warm_restore_links_the_files_it_has_but_never_one_with_a_name_outside_the_world() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store"));
    let world = tmp.path().join("world");
    make_world(&world);
    let m = snapshot_as(&s, &world, t("2026-11-22T19:00:00Z"), &fin(), GO).await.unwrap();
    let target = tmp.path().join("server/world");
    restore(&s, &m, &target, GO).await.unwrap();
    let meta = |p: &Path| std::fs::metadata(p).unwrap();
    let (kept, shared) = (target.join("region/r.0.0.mca"), target.join("region/r.2.0.mca"));
    let (kept_ino, shared_ino) = (meta(&kept).ino(), meta(&shared).ino());
    // A second name for one region file, outside the world, read-only.
    let outside = tmp.path().join("outside.mca");
    std::fs::hard_link(&shared, &outside).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o400)).unwrap();
    restore(&s, &m, &target, GO).await.unwrap();
    assert_eq!(tree(&target), tree(&world));
    // Linked: the very file, nothing written, one name again after the swap.
    assert_eq!((meta(&kept).ino(), meta(&kept).nlink()), (kept_ino, 1));
    // Copied: the world's file is not the outside one, whose mode and
    // names are as they were.
    assert_ne!(meta(&shared).ino(), shared_ino);
    assert_eq!((meta(&outside).mode() & 0o777, meta(&outside).nlink()), (0o400, 1));
    assert_eq!(
        std::fs::read(&outside).unwrap(),
        std::fs::read(world.join("region/r.2.0.mca")).unwrap()
    );
}

#[tokio::test]
async fn an_old_single_archive_snapshot_still_restores_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(&tmp.path().join("store"));
    let world = tmp.path().join("world");
    make_world(&world);
    let old = crate::world::snapshot::snapshot_archive_as(&s, &world, t("2026-11-22T19:00:00Z"), &fin(), GO)
        .await
        .unwrap();
    assert_eq!((old.version, old.key.ends_with(".tar.zst")), (1, true));
    let target = tmp.path().join("restored");
    restore(&s, &old, &target, GO).await.unwrap();
    assert_eq!(tree(&target), tree(&world));
    verify(&s, &old, GO).await.unwrap();
    // The next backup writes pieces, and the old one is still listed.
    let new = snapshot_as(&s, &world, t("2026-11-22T19:30:00Z"), &fin(), GO).await.unwrap();
    assert_eq!(new.version, 2);
    let names: Vec<_> = crate::world::retention::list(&s)
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.complete(), b.name))
        .map(|(c, n)| (n, c))
        .collect();
    assert_eq!(names, [(old.name, true), (new.name, true)]);
}

// Issue 15 fault: an interrupted incremental backup leaves the previous
// snapshot current, and its uploads are named by no list: swept after the
// grace period, while no piece of a kept snapshot is ever deleted.
#[tokio::test]
async fn an_interrupted_incremental_backup_leaves_the_previous_current_and_only_sweepable_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let s = store(&root);
    let world = tmp.path().join("world");
    make_world(&world);
    let first = snapshot_as(&s, &world, t("2026-11-22T19:00:00Z"), &fin(), GO).await.unwrap();
    let before = std::fs::read(root.join("worlds/grove/current.json")).unwrap();
    let kept = stored_pieces(&root);
    // New pieces of 300,000 bytes each, more than the uploads in flight.
    let in_flight = super::put::IN_FLIGHT as u64;
    for r in 0..in_flight + 3 {
        std::fs::write(world.join(format!("region/r.{r}.0.mca")), noise(500 + r, 300_000)).unwrap();
    }
    // Cancelled when the piece after the first IN_FLIGHT is handed over,
    // which the backup takes only once one of those finished uploading: so
    // at least one piece is stored whatever the timing (a cancel at the
    // second piece stored none when the walker outran the first upload).
    let cut = (in_flight + 1) * 300_000;
    let halfway: &(dyn Fn(u64) -> bool + Send + Sync) = &|n| n < cut;
    let e = snapshot_as(&s, &world, t("2026-11-22T19:30:00Z"), &fin(), halfway)
        .await
        .unwrap_err();
    assert!(matches!(e, crate::world::WorldError::Cancelled), "{e}");
    assert_eq!(std::fs::read(root.join("worlds/grove/current.json")).unwrap(), before);
    let names: Vec<_> = crate::world::retention::list(&s)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(
        names,
        std::slice::from_ref(&first.name),
        "no list, no manifest of the interrupted backup"
    );
    let orphans: Vec<String> = stored_pieces(&root).into_iter().filter(|p| !kept.contains(p)).collect();
    assert!(!orphans.is_empty(), "the test interrupts after some uploads");

    let place = Place::worlds(&s);
    let now = Utc::now();
    let marked = sweep(&s, &place, now, GRACE).await.unwrap();
    assert_eq!((marked.deleted.len(), marked.marked), (0, orphans.len()), "marked, not deleted yet");
    let early = sweep(&s, &place, now + GRACE - TimeDelta::seconds(1), GRACE).await.unwrap();
    assert!(early.deleted.is_empty(), "within the grace period");
    let late = sweep(&s, &place, now + GRACE + TimeDelta::seconds(1), GRACE).await.unwrap();
    let mut deleted = late.deleted.clone();
    deleted.sort();
    let mut want = orphans.clone();
    want.sort();
    assert_eq!(deleted, want, "exactly the orphans: not wrongly kept");
    assert_eq!(stored_pieces(&root), kept, "nothing of the kept snapshot: not wrongly deleted");
    let target = tmp.path().join("restored");
    restore(&s, &first, &target, GO).await.unwrap();
    verify(&s, &first, GO).await.unwrap();
}

// A piece a later backup names again is unmarked, even if it was marked
// before: a list written while the mark aged keeps it.
#[tokio::test]
async fn a_marked_piece_named_again_is_not_swept() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let s = store(&root);
    let world = tmp.path().join("world");
    make_world(&world);
    let first = snapshot_as(&s, &world, t("2026-11-22T19:00:00Z"), &fin(), GO).await.unwrap();
    // Its manifest and list go (retention), its pieces are marked...
    crate::world::retention::remove(&s, &first.name).await.unwrap();
    let place = Place::worlds(&s);
    let now = Utc::now();
    assert_eq!(sweep(&s, &place, now, GRACE).await.unwrap().marked, 7);
    // ...then a backup of the same world names them all again.
    let second = snapshot_as(&s, &world, t("2026-11-22T19:30:00Z"), &fin(), GO).await.unwrap();
    let late = sweep(&s, &place, now + GRACE * 2, GRACE).await.unwrap();
    assert!(late.deleted.is_empty(), "{late:?}");
    verify(&s, &second, GO).await.unwrap();
}

// Issue 15 fault: a corrupted piece fails verification, the guard refuses
// termination on the snapshot naming it, a restore refuses it before the
// swap, and the next backup uploads it again instead of trusting it.
#[tokio::test]
async fn a_corrupted_piece_fails_verification_and_the_guard() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let s = store(&root);
    let world = tmp.path().join("world");
    make_world(&world);
    let stop = t("2026-11-22T19:00:00Z");
    let m = snapshot_as(&s, &world, stop, &fin(), GO).await.unwrap();
    let guard = |s: Store| async move {
        crate::world::guard::final_snapshot(&s, &SessionId::new("20261122-1800-eu"), stop, stop + TimeDelta::hours(1))
            .await
            .unwrap()
    };
    assert!(guard(s.clone()).await.is_ok());
    let list = list_of(&s, &m).await;
    let victim = root.join(piece_key(&s, &list.pieces[1].sha256));
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::thread::sleep(std::time::Duration::from_millis(20)); // a later mtime: a new ETag
    std::fs::write(&victim, &bytes).unwrap();

    let e = verify(&s, &m, GO).await.unwrap_err();
    assert!(
        matches!(
            e,
            crate::world::WorldError::Corrupt { .. } | crate::world::WorldError::Damaged { .. }
        ),
        "{e}"
    );
    let why = guard(s.clone()).await.unwrap_err();
    assert!(why.contains("not a verified snapshot"), "{why}");
    let target = tmp.path().join("server/world");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("keep.txt"), b"the world before").unwrap();
    restore(&s, &m, &target, GO).await.unwrap_err();
    assert_eq!(
        tree(&target),
        [("keep.txt".to_string(), b"the world before".to_vec())],
        "nothing swapped in"
    );
    assert!(!tmp.path().join("server/.world.restore").exists());

    // The next backup does not trust the rewritten piece: it uploads it again.
    let again = snapshot_as(&s, &world, t("2026-11-22T19:10:00Z"), &fin(), GO).await.unwrap();
    assert_eq!(again.added_pieces, Some(1));
    verify(&s, &again, GO).await.unwrap();
}
