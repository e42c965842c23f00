//! Fuzz targets for what a restore reads from storage (issue 12, measure):
//! the world archive reader, fed mutated real archives made by
//! `world backup`'s own packer, and the JSON of `current.json` and of a
//! backup's manifest. Each asserts no panic; the archive targets also that
//! nothing appears outside the directory being unpacked into, that only
//! regular files and directories appear inside it, and that an accepted
//! archive packs and unpacks again to the same tree.
//!
//! Short runs are part of the test suite (MC_GITOPS_FUZZ_SECS, 3 s each);
//! the long run is `bash scripts/fuzz 600 fuzz_archive`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::fuzz;
use mc_gitops::storage::SnapshotPointer;
use mc_gitops::world::Manifest;
use mc_gitops::world::archive::{self, Limits};

/// Small caps, so one input never writes much; the real caps are tested at
/// their edge in tests/hostile_archive.rs and src/world/archive/tests.rs.
const LIMITS: Limits = Limits {
    bytes: 16 << 20,
    members: 10_000,
};

/// A small world as `world backup` packs it: files, an empty directory, a
/// path long enough for a GNU long-name header.
fn seed_world(dir: &Path) {
    let long = dir.join("datapacks/pack").join("n".repeat(110));
    std::fs::create_dir_all(&long).unwrap();
    std::fs::create_dir_all(dir.join("region")).unwrap();
    std::fs::create_dir_all(dir.join("entities")).unwrap();
    std::fs::write(long.join("pack.mcmeta"), br#"{"pack":{"pack_format":48}}"#).unwrap();
    std::fs::write(dir.join("level.dat"), b"\x0a\x00\x00level data").unwrap();
    let region: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.join("region/r.0.0.mca"), region).unwrap();
    std::fs::write(dir.join("region/r.-1.0.mca"), [0u8; 600]).unwrap();
}

fn seed_archive() -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    seed_world(tmp.path());
    let mut out = Vec::new();
    archive::pack(tmp.path(), &mut out).unwrap();
    out
}

/// Every entry under `dir`: path → file content, or `dir`; panics on
/// anything else (a link, a fifo, a device).
fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            if kind.is_dir() {
                stack.push(e.path());
                out.insert(rel, None);
            } else {
                assert!(kind.is_file(), "{rel} is neither a file nor a directory: {kind:?}");
                out.insert(rel, Some(std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

/// Unpack `archive` two directories deep in a sandbox, and check what the
/// reader may and may not have done; returns whether it was accepted.
fn unpack_and_check(archive: &[u8]) -> bool {
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path().join("a/b/root");
    std::fs::create_dir_all(&root).unwrap();
    let result = archive::unpack_with(archive, &root, "fuzz.tar.zst", LIMITS);
    let around = tree(sandbox.path());
    let outside: Vec<_> = around.keys().filter(|k| *k != "a/b/root" && !k.starts_with("a/b/root/")).collect();
    assert_eq!(outside, ["a", "a/b"], "written outside the directory: {result:?}");
    let inside = tree(&root);
    if let Ok(files) = result {
        assert_eq!(files as usize, inside.values().filter(|v| v.is_some()).count());
        // Accepted: what it made packs and unpacks to the same tree.
        let mut again = Vec::new();
        archive::pack(&root, &mut again).unwrap();
        let second = sandbox.path().join("second");
        std::fs::create_dir(&second).unwrap();
        archive::unpack_with(&again[..], &second, "again", LIMITS).unwrap();
        assert_eq!(tree(&second), inside, "an accepted archive round-trips");
        return true;
    }
    false
}

/// Recompute the checksum of every 512-byte block that carries a tar magic,
/// so mutations reach the fields behind the header checksum.
fn fix_checksums(tar: &mut [u8]) {
    for block in tar.chunks_exact_mut(512) {
        if &block[257..262] == b"ustar" {
            block[148..156].fill(b' ');
            let sum: u32 = block.iter().map(|b| u32::from(*b)).sum();
            block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        }
    }
}

#[test]
fn fuzz_archive_zstd() {
    // Mutated .tar.zst bytes: the zstd decoder and, where it survives, the
    // tar reader behind it.
    let seed = seed_archive();
    let mut accepted = 0;
    fuzz::run("archive_zstd", fuzz::bytes_near(seed, 4096), |input| {
        accepted += u64::from(unpack_and_check(&input));
    });
    println!("fuzz archive_zstd: {accepted} inputs accepted");
}

#[test]
fn fuzz_archive_tar() {
    // Mutated tar bytes, checksums made valid again, an end block added,
    // compressed afresh: the tar reader and the unpacker's rules, past the
    // decoder.
    let tar = zstd::decode_all(&seed_archive()[..]).unwrap();
    let len = tar.len();
    let mut accepted = 0;
    fuzz::run("archive_tar", fuzz::bytes_near(tar, len + 1024), |mut input| {
        fix_checksums(&mut input);
        // The driver cuts most inputs short: end them as a tar ends, so a
        // cut at a member's edge is a whole (smaller) archive.
        input.resize(input.len().div_ceil(512) * 512 + 1024, 0);
        accepted += u64::from(unpack_and_check(&zstd::encode_all(&input[..], 1).unwrap()));
    });
    println!("fuzz archive_tar: {accepted} inputs accepted");
}

/// A manifest as `world backup` writes it.
fn seed_manifest() -> Vec<u8> {
    br#"{
  "version": 1,
  "name": "2026-11-22T19-30-00-123Z-7f3a",
  "key": "worlds/grove/backups/2026-11-22T19-30-00-123Z-7f3a.tar.zst",
  "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  "size": 123456,
  "files": 42,
  "world_bytes": 7654321,
  "taken": "2026-11-22T19:30:00.123Z",
  "part_size": 8388608,
  "uploaded": "2026-11-22T19:30:05Z",
  "verified": "2026-11-22T19:30:06Z"
}
"#
    .to_vec()
}

#[test]
fn fuzz_manifest_json() {
    // `backups/<name>.json`, read by restore and the guard with
    // `Store::get_json` (serde_json into `Manifest`): no panic, and an
    // accepted one writes back to what it read.
    let seed = seed_manifest();
    assert!(serde_json::from_slice::<Manifest>(&seed).is_ok(), "the seed is valid");
    fuzz::run("manifest_json", fuzz::bytes_near(seed, 1024), |input| {
        if let Ok(m) = serde_json::from_slice::<Manifest>(&input) {
            let back: Manifest = serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
            assert_eq!(back, m);
        }
    });
}

#[test]
fn fuzz_pointer_json() {
    // `current.json`, read by restore and the guard into `SnapshotPointer`.
    let seed = br#"{"key":"worlds/grove/backups/2026-11-22T19-30-00Z.tar.zst","taken":"2026-11-22T19:30:00Z","sha256":"ab","size":1,"verified":true}"#.to_vec();
    assert!(serde_json::from_slice::<SnapshotPointer>(&seed).is_ok(), "the seed is valid");
    fuzz::run("pointer_json", fuzz::bytes_near(seed, 512), |input| {
        if let Ok(p) = serde_json::from_slice::<SnapshotPointer>(&input) {
            let back: SnapshotPointer = serde_json::from_slice(&serde_json::to_vec(&p).unwrap()).unwrap();
            assert_eq!(back, p);
        }
    });
}

#[test]
fn the_seed_archive_unpacks_and_round_trips() {
    // The control: the unmutated seed passes every check above.
    let seed = seed_archive();
    assert!(unpack_and_check(&seed));
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(archive::unpack_with(&seed[..], tmp.path(), "seed", LIMITS).unwrap(), 4);
}
