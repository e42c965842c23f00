//! The archive format's own rules at the caps and on the packing side; the
//! hostile archives through `world restore` are in tests/hostile_archive.rs.

use std::io::Write;
use std::path::Path;

use super::*;

/// Every path under `dir` with its content (`None` for a directory).
fn tree(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if p.is_dir() {
                out.push((rel, None));
                stack.push(p);
            } else {
                out.push((rel, Some(std::fs::read(&p).unwrap())));
            }
        }
    }
    out.sort();
    out
}

/// Regular files of the given sizes, as `tar::Builder` writes them.
fn files(sizes: &[usize]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (i, n) in sizes.iter().enumerate() {
        let mut h = tar::Header::new_gnu();
        h.set_size(*n as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, format!("f{i}"), &vec![b'x'; *n][..]).unwrap();
    }
    zstd::encode_all(&b.into_inner().unwrap()[..], 3).unwrap()
}

fn unpack_into(ar: &[u8], limits: Limits) -> (Result<u64, WorldError>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    (unpack_with(ar, tmp.path(), "test.tar.zst", limits), tmp)
}

#[test]
fn pack_then_unpack_gives_the_same_tree_and_packing_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("w");
    let deep = w.join("datapacks").join("x".repeat(150)).join("data");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::create_dir_all(w.join("empty")).unwrap();
    std::fs::write(deep.join("pack.mcmeta"), b"{}").unwrap();
    std::fs::write(w.join("level.dat"), vec![3u8; 70_000]).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let packed = pack(&w, &mut a).unwrap();
    pack(&w, &mut b).unwrap();
    assert_eq!(a, b, "two packs of one tree are byte-identical");
    assert_eq!((packed.files, packed.bytes, packed.skipped), (2, 70_002, 0));
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    assert_eq!(unpack(&a[..], &out, "a").unwrap(), 2);
    assert_eq!(tree(&out), tree(&w));
}

#[test]
fn pack_skips_links_and_fifos_and_never_reads_through_them() {
    // A mod plants links to the agent's files and a fifo: the backup leaves
    // them out (with a warning) instead of failing or packing what they name.
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("w");
    std::fs::create_dir_all(w.join("region")).unwrap();
    std::fs::write(w.join("level.dat"), b"level").unwrap();
    std::fs::write(tmp.path().join("agent.toml"), b"secret_access_key = \"s3cr3t\"").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("agent.toml"), w.join("stolen.toml")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), w.join("region/up")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        w.join("pipe"),
        rustix::fs::FileType::Fifo,
        Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let mut ar = Vec::new();
    let packed = pack(&w, &mut ar).unwrap();
    assert_eq!((packed.files, packed.skipped), (1, 3));
    let raw = zstd::decode_all(&ar[..]).unwrap();
    assert!(!raw.windows(6).any(|w| w == b"s3cr3t"), "nothing read through a link");
    let (files, out) = unpack_into(&ar, Limits::WORLD);
    assert_eq!(files.unwrap(), 1, "and what it packed restores");
    assert_eq!(
        tree(out.path()),
        [("level.dat".to_string(), Some(b"level".to_vec())), ("region".into(), None)]
    );
}

#[test]
fn pack_refuses_a_world_no_restore_would_accept() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a"), vec![0u8; 600]).unwrap();
    std::fs::write(tmp.path().join("b"), vec![0u8; 600]).unwrap();
    let small = Limits { bytes: 1000, members: 10 };
    let e = pack_with(tmp.path(), Vec::new(), small).unwrap_err().to_string();
    assert!(
        e.contains("1200 bytes") && e.contains("MAX_UNPACKED_BYTES") && e.contains("1000 bytes"),
        "{e}"
    );
    let few = Limits { bytes: 10_000, members: 1 };
    let e = pack_with(tmp.path(), Vec::new(), few).unwrap_err().to_string();
    assert!(e.contains("has 2 files and directories") && e.contains("MAX_MEMBERS"), "{e}");
    pack_with(tmp.path(), Vec::new(), Limits { bytes: 1200, members: 2 }).unwrap();
}

#[test]
fn unpack_refuses_the_member_that_takes_the_total_over_max_unpacked_bytes() {
    // Just at the cap unpacks; one byte over is refused at that member's
    // header, before its data is written.
    let ar = files(&[600, 600]);
    let (ok, _t) = unpack_into(&ar, Limits { bytes: 1200, members: 10 });
    assert_eq!(ok.unwrap(), 2);
    let (e, t) = unpack_into(&ar, Limits { bytes: 1199, members: 10 });
    let e = e.unwrap_err().to_string();
    assert!(
        e.contains("member \"f1\"") && e.contains("to 1200 bytes") && e.contains("MAX_UNPACKED_BYTES (1199 bytes)"),
        "{e}"
    );
    assert!(!t.path().join("f1").exists());
}

#[test]
fn unpack_refuses_the_member_past_max_members() {
    let ar = files(&[1, 1, 1, 1]);
    let (ok, _t) = unpack_into(&ar, Limits { bytes: 100, members: 4 });
    assert_eq!(ok.unwrap(), 4);
    let (e, t) = unpack_into(&ar, Limits { bytes: 100, members: 3 });
    let e = e.unwrap_err().to_string();
    assert!(e.contains("member \"f3\"") && e.contains("MAX_MEMBERS (3)"), "{e}");
    assert!(!t.path().join("f3").exists());
}

#[test]
fn unpack_refuses_a_zstd_window_over_max_window_log() {
    // A frame that asks the decoder for a 128 MiB window: memory a world
    // archive never needs.
    let mut enc = zstd::Encoder::new(Vec::new(), 3).unwrap();
    enc.window_log(MAX_WINDOW_LOG + 3).unwrap();
    let mut x = 1u64;
    let noise: Vec<u8> = (0..(1 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    enc.write_all(&noise).unwrap();
    let ar = enc.finish().unwrap();
    let (e, _t) = unpack_into(&ar, Limits::WORLD);
    let e = e.unwrap_err();
    assert!(matches!(e, WorldError::Damaged { .. }), "{e}");
}
