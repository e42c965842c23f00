//! Hostile snapshots of pieces (issue 15, item 4), through the user's path:
//! `mc-gitops world restore` against a real S3 server in-process, with a
//! file list, pieces and a manifest that matches the list written by
//! whoever can write `worlds/<server>/` (the VPS's scoped credentials, so
//! any mod running in a session). A list obeys the archive's rules; a piece
//! is trusted only by its sha256. Each case asserts the restore is refused
//! with a message naming what was wrong, that nothing was written outside
//! the target directory, and that the previous world is untouched.

mod common;

#[path = "fakes/s3.rs"]
mod s3_fake;

#[path = "common/restore_case.rs"]
mod restore_case;

use std::process::Output;

use chrono::{DateTime, Utc};
use mc_gitops::world::pieces::{self, FileEntry, FileList, LIST_VERSION, Part, Piece};
use mc_gitops::world::{BackupName, Manifest};
use restore_case::Case;
use sha2::{Digest, Sha256};

const NAME: &str = "2026-11-22T19-30-00Z";

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A piece as a backup stores it: (its entry, its stored bytes).
fn piece(bytes: &[u8]) -> (Piece, Vec<u8>) {
    let stored = zstd::encode_all(bytes, 3).unwrap();
    let p = Piece {
        sha256: sha(bytes),
        size: bytes.len() as u64,
        stored: stored.len() as u64,
        etag: None,
    };
    (p, stored)
}

/// A one-file list: `path` holding `bytes` in piece 0.
fn one_file(path: &str, bytes: &[u8]) -> (FileList, Vec<(Piece, Vec<u8>)>) {
    let (p, stored) = piece(bytes);
    let list = FileList {
        version: LIST_VERSION,
        dirs: vec![],
        files: vec![FileEntry {
            path: path.into(),
            size: bytes.len() as u64,
            mode: 0o644,
            sha256: sha(bytes),
            parts: vec![Part {
                piece: 0,
                offset: 0,
                len: bytes.len() as u64,
            }],
        }],
        pieces: vec![p.clone()],
    };
    (list, vec![(p, stored)])
}

impl Case {
    /// Store the list's bytes (`raw`, else the list's own), its pieces, a
    /// manifest naming the list by its sha256 (at `key`, else its own),
    /// and the pointer.
    async fn plant(&self, list: &FileList, pieces_: &[(Piece, Vec<u8>)], raw: Option<Vec<u8>>, key: Option<String>) {
        let s = self.store();
        let name = BackupName::parse(NAME).unwrap();
        let bytes = raw.unwrap_or_else(|| list.to_bytes());
        let taken: DateTime<Utc> = "2026-11-22T19:30:00Z".parse().unwrap();
        let m = Manifest {
            version: 2,
            name: name.clone(),
            key: key.unwrap_or_else(|| pieces::list_key(&s, &name)),
            sha256: sha(&bytes),
            size: bytes.len() as u64,
            files: list.files.len() as u64,
            world_bytes: None,
            taken,
            part_size: pieces::PIECE_BYTES,
            uploaded: taken,
            verified: taken,
            session: None,
            kind: None,
            added_pieces: None,
            added_bytes: None,
        };
        for (p, stored) in pieces_ {
            s.put_bytes(&pieces::piece_key(&s, &p.sha256), stored.clone()).await.unwrap();
        }
        s.put_bytes(&m.key, bytes).await.unwrap();
        s.put_json(&name.manifest_key(&s), &m).await.unwrap();
        s.put_json(&s.current_key(), &m.pointer()).await.unwrap();
    }

    async fn restore(&self) -> Output {
        self.world_cmd(&["restore", NAME]).await
    }

    /// Restore and check the refusal: exit 1, each of `says` in the
    /// message, nothing under the sandbox changed.
    async fn refused(&self, says: &[&str]) -> String {
        let before = self.tree();
        let out = self.restore().await;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "the restore must be refused:\n{text}");
        for s in says {
            assert!(text.contains(s), "the refusal should say {s:?}:\n{text}");
        }
        assert_eq!(before, self.tree(), "a refused restore changes nothing:\n{text}");
        assert_eq!(std::fs::read(self.world().join("level.dat")).unwrap(), b"the previous world");
        text
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_path_that_climbs_out_or_is_absolute_is_refused() {
    for (path, why) in [
        ("../../escape.txt", "a `..` component"),
        ("region/../../escape.txt", "a `..` component"),
        ("/tmp/escape.txt", "an absolute path"),
    ] {
        let c = Case::new().await;
        let (list, ps) = one_file(path, b"planted");
        c.plant(&list, &ps, None, None).await;
        c.refused(&[why]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_naming_a_path_twice_or_a_file_under_a_file_is_refused() {
    let c = Case::new().await;
    let (mut list, ps) = one_file("level.dat", b"x");
    list.files.push(list.files[0].clone());
    c.plant(&list, &ps, None, None).await;
    c.refused(&["appears more than once"]).await;

    let c = Case::new().await;
    let (mut list, ps) = one_file("level.dat", b"x");
    let mut under = list.files[0].clone();
    under.path = "level.dat/inside".into();
    list.files.push(under);
    c.plant(&list, &ps, None, None).await;
    c.refused(&["level.dat/inside"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substituted_piece_is_refused_by_its_hash_before_the_swap() {
    // The list names the real bytes' hash; the object under that name holds others.
    let c = Case::new().await;
    let (list, mut ps) = one_file("level.dat", b"the real level");
    ps[0].1 = zstd::encode_all(&b"a planted level"[..], 3).unwrap();
    c.plant(&list, &ps, None, None).await;
    c.refused(&["pieces/"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piece_that_inflates_past_its_size_is_refused_without_reading_it_all() {
    // 64 MiB of zeros in a few KiB: the list says 14 bytes.
    let c = Case::new().await;
    let (list, mut ps) = one_file("level.dat", b"the real level");
    ps[0].1 = zstd::encode_all(&vec![0u8; 64 << 20][..], 19).unwrap();
    c.plant(&list, &ps, None, None).await;
    c.refused(&["bytes but its manifest says 14"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_outside_its_piece_or_parts_that_do_not_add_up_are_refused() {
    let c = Case::new().await;
    let (mut list, ps) = one_file("level.dat", b"abc");
    list.files[0].parts[0].offset = 2;
    c.plant(&list, &ps, None, None).await;
    c.refused(&["names bytes 2+3 of piece"]).await;

    let c = Case::new().await;
    let (mut list, ps) = one_file("level.dat", b"abc");
    list.files[0].size = 4;
    c.plant(&list, &ps, None, None).await;
    c.refused(&["its parts hold 3 bytes, its size is 4"]).await;

    let c = Case::new().await;
    let (mut list, ps) = one_file("level.dat", b"abc");
    list.files[0].parts[0].piece = 9;
    c.plant(&list, &ps, None, None).await;
    c.refused(&["names piece 9"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_declaring_more_than_a_restore_writes_is_refused() {
    // One piece of 2 MiB of zeros (a few bytes stored), named 32,769 times
    // by one file: 64 GiB and 2 MiB declared, over MAX_UNPACKED_BYTES.
    let c = Case::new().await;
    let zeros = vec![0u8; pieces::PIECE_BYTES as usize];
    let (p, stored) = piece(&zeros);
    let n = (mc_gitops::world::archive::MAX_UNPACKED_BYTES / pieces::PIECE_BYTES) + 1;
    let list = FileList {
        version: LIST_VERSION,
        dirs: vec![],
        files: vec![FileEntry {
            path: "region/r.0.0.mca".into(),
            size: n * pieces::PIECE_BYTES,
            mode: 0o644,
            sha256: "0".repeat(64),
            parts: (0..n)
                .map(|_| Part {
                    piece: 0,
                    offset: 0,
                    len: pieces::PIECE_BYTES,
                })
                .collect(),
        }],
        pieces: vec![p.clone()],
    };
    c.plant(&list, &[(p, stored)], None, None).await;
    c.refused(&["MAX_UNPACKED_BYTES"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_naming_another_backups_list_or_a_list_that_is_not_one_is_refused() {
    let c = Case::new().await;
    let (list, ps) = one_file("level.dat", b"x");
    c.plant(&list, &ps, None, Some("worlds/grove/backups/2026-11-01T00-00-00Z.files".into()))
        .await;
    c.refused(&["names only its own"]).await;

    let c = Case::new().await;
    let (list, ps) = one_file("level.dat", b"x");
    c.plant(
        &list,
        &ps,
        Some(b"{\"version\":1,\"dirs\":[],\"files\":[],\"pieces\":[],\"links\":[]}".to_vec()),
        None,
    )
    .await;
    c.refused(&["not a file list"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_restore_never_reads_through_a_link_in_the_old_world() {
    // The old world holds a link where the list has a file, pointing at a
    // file outside with exactly the listed bytes; the piece itself is gone.
    // Following the link would restore from outside; the restore must not.
    let c = Case::new().await;
    let secret = b"bytes that live outside the world";
    std::fs::write(c.tmp.path().join("outside.txt"), secret).unwrap();
    std::os::unix::fs::symlink(c.tmp.path().join("outside.txt"), c.world().join("region/r.1.0.mca")).unwrap();
    let (list, _) = one_file("region/r.1.0.mca", secret);
    c.plant(&list, &[], None, None).await;
    c.refused(&["pieces/"]).await;
}
