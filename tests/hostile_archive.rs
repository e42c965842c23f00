//! Hostile world archives (issue 12, item 1), through the user's path:
//! `mc-gitops world restore` against a real S3 server in-process, with the
//! archive and a manifest that matches it written by whoever can write
//! `worlds/<server>/` (the VPS's scoped credentials, so any mod running in a
//! session). Each case asserts the restore is refused with a message that
//! names the member (or the archive) and what a world archive may hold,
//! that nothing was written outside the target directory, and that the
//! previous world is untouched.

mod common;

#[path = "fakes/s3.rs"]
mod s3_fake;

#[path = "common/restore_case.rs"]
mod restore_case;

use std::process::Output;

use chrono::{DateTime, Utc};
use mc_gitops::world::archive::{MAX_MEMBER_PATH, MAX_UNPACKED_BYTES};
use mc_gitops::world::{BackupName, Manifest};
use restore_case::Case;
use sha2::{Digest, Sha256};

const NAME: &str = "2026-11-22T19-30-00Z";
/// What every member refusal says a world archive may hold.
const ALLOWED: &str = "regular files and directories";

/// A tar stream written header by header, so entries `tar::Builder` itself
/// would refuse (links, `..`, devices, lying sizes) can be made.
#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    fn header(&mut self, path: &[u8], kind: tar::EntryType, link: &str, size: u64) {
        if path.len() > 99 {
            // GNU long name: a `L` entry whose data is the name.
            let mut name = path.to_vec();
            name.push(0);
            self.header(b"././@LongLink", tar::EntryType::GNULongName, "", name.len() as u64);
            self.data(&name);
        }
        let mut h = tar::Header::new_gnu();
        let short = &path[..path.len().min(99)];
        h.as_mut_bytes()[..short.len()].copy_from_slice(short);
        h.as_mut_bytes()[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
    }
    fn data(&mut self, data: &[u8]) {
        self.0.extend_from_slice(data);
        self.pad();
    }
    fn pad(&mut self) {
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
    }
    fn file(mut self, path: &str, data: &[u8]) -> Self {
        self.header(path.as_bytes(), tar::EntryType::Regular, "", data.len() as u64);
        self.data(data);
        self
    }
    fn dir(mut self, path: &str) -> Self {
        self.header(path.as_bytes(), tar::EntryType::Directory, "", 0);
        self
    }
    fn link(mut self, path: &str, kind: tar::EntryType, target: &str) -> Self {
        self.header(path.as_bytes(), kind, target, 0);
        self
    }
    /// The tar with its end marker, as tar + zstd.
    fn zst(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0; 1024]);
        zstd::encode_all(&self.0[..], 3).unwrap()
    }
}

/// A zstd frame of `len` zero bytes (a multiple of 128 KiB) made of RLE
/// blocks: 4 bytes per 128 KiB, so 64 GiB fit in 2 MiB.
fn zero_frame(len: u64) -> Vec<u8> {
    const BLOCK: u64 = 128 * 1024;
    assert_eq!(len % BLOCK, 0);
    let mut f = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x38]; // magic; no size, no checksum; 128 KiB window
    let blocks = len / BLOCK;
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let h = last | (1 << 1) | ((BLOCK as u32) << 3); // an RLE block of BLOCK bytes
        f.extend_from_slice(&h.to_le_bytes()[..3]);
        f.push(0);
    }
    f
}

impl Case {
    /// Store `archive` as backup [`NAME`] with a manifest and pointer whose
    /// sha256 and size are `claimed` (the archive's own unless a test lies).
    async fn plant(&self, archive: Vec<u8>, claimed: Option<&[u8]>) {
        self.plant_at(archive, claimed, None).await;
    }

    /// [`Case::plant`], the archive stored at `key` and the manifest naming it.
    async fn plant_at(&self, archive: Vec<u8>, claimed: Option<&[u8]>, key: Option<&str>) {
        let s = self.store();
        let name = BackupName::parse(NAME).unwrap();
        let taken: DateTime<Utc> = "2026-11-22T19:30:00Z".parse().unwrap();
        let of = claimed.unwrap_or(&archive);
        let m = Manifest {
            version: 1,
            name: name.clone(),
            key: key.map_or_else(|| name.archive_key(&s), String::from),
            sha256: hex::encode(Sha256::digest(of)),
            size: of.len() as u64,
            files: 1,
            world_bytes: None,
            taken,
            part_size: 8 << 20,
            uploaded: taken,
            verified: taken,
            session: None,
            kind: None,
            added_pieces: None,
            added_bytes: None,
        };
        s.put_bytes(&m.key, archive).await.unwrap();
        s.put_json(&name.manifest_key(&s), &m).await.unwrap();
        s.put_json(&s.current_key(), &m.pointer()).await.unwrap();
    }

    async fn restore(&self) -> Output {
        self.world_cmd(&["restore", NAME]).await
    }

    /// Plant `archive`, restore, and check the refusal: exit status 1, a
    /// message holding each of `says`, nothing under the sandbox changed.
    async fn refused(&self, archive: Vec<u8>, claimed: Option<&[u8]>, says: &[&str]) -> String {
        self.plant(archive, claimed).await;
        let before = self.tree();
        let out = self.restore().await;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "the restore must be refused:\n{text}");
        for s in says {
            assert!(text.contains(s), "the refusal should say {s:?}:\n{text}");
        }
        let after = self.tree();
        assert_eq!(before, after, "a refused restore changes nothing around the world:\n{text}");
        assert_eq!(std::fs::read(self.world().join("level.dat")).unwrap(), b"the previous world");
        text
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_chained_symlink_escape() {
    // `d/up -> ..` then `d/up/esc -> ..`: each link's text stays inside, but
    // followed one after the other they climb out, and later members land in
    // the server's directory (a planted mod) and above it.
    let c = Case::new().await;
    let ar = Raw::default()
        .dir("d")
        .link("d/up", tar::EntryType::Symlink, "..")
        .link("d/up/esc", tar::EntryType::Symlink, "..")
        .file("d/up/esc/mods/evil.jar", b"planted")
        .link("d/up/esc/esc2", tar::EntryType::Symlink, "..")
        .file("d/up/esc/esc2/top.txt", b"two levels up")
        .zst();
    c.refused(ar, None, &["\"d/up\"", "symlink", ALLOWED]).await;
    assert!(!c.tmp.path().join("srv/mods").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_absolute_symlink() {
    // A link to an absolute path, then a file written through it.
    let c = Case::new().await;
    let outside = c.tmp.path().join("srv");
    let ar = Raw::default()
        .link("srv", tar::EntryType::Symlink, &outside.display().to_string())
        .file("srv/mods/evil.jar", b"planted")
        .zst();
    c.refused(ar, None, &["\"srv\"", "symlink", ALLOWED]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_hardlink_entry() {
    // A hard link, even to a member inside: a world never holds one, and a
    // link shares its inode with whatever it names.
    let c = Case::new().await;
    let ar = Raw::default()
        .file("level.dat", b"x")
        .link("copy.dat", tar::EntryType::Link, "level.dat")
        .zst();
    c.refused(ar, None, &["\"copy.dat\"", "hard link", ALLOWED]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_parent_dir_components() {
    // `..` in a member path climbs out of the directory.
    let c = Case::new().await;
    let ar = Raw::default().file("region/../../mods/evil.jar", b"planted").zst();
    c.refused(ar, None, &["\"region/../../mods/evil.jar\"", "..", ALLOWED]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_absolute_member_path() {
    // A member named by an absolute path into the server's directory.
    let c = Case::new().await;
    let abs = c.tmp.path().join("srv/mods/evil.jar").display().to_string();
    let ar = Raw::default().file(&abs, b"planted").zst();
    c.refused(ar, None, &[&format!("{abs:?}"), "absolute", ALLOWED]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_device_and_fifo_entries() {
    // Device files and fifos: never world data, and a device node is a door.
    for (kind, what) in [
        (tar::EntryType::Char, "device"),
        (tar::EntryType::Block, "device"),
        (tar::EntryType::Fifo, "fifo"),
    ] {
        let c = Case::new().await;
        let ar = Raw::default().file("level.dat", b"x").link("dev", kind, "").zst();
        c.refused(ar, None, &["\"dev\"", what, ALLOWED]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_member_through_a_regular_file() {
    // `level.dat` as a file, then `level.dat/x`: a path through a file.
    let c = Case::new().await;
    let ar = Raw::default().file("level.dat", b"x").file("level.dat/x", b"y").zst();
    c.refused(ar, None, &["\"level.dat/x\"", "not a directory", ALLOWED]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_duplicate_entries() {
    // The same file twice: which one wins would depend on the reader.
    let c = Case::new().await;
    let ar = Raw::default().file("level.dat", b"first").file("level.dat", b"second").zst();
    c.refused(ar, None, &["\"level.dat\"", "more than once"]).await;
    // A directory where a file was, and a file where a directory was.
    let ar = Raw::default().file("region", b"x").dir("region").zst();
    c.refused(ar, None, &["\"region\"", "more than once"]).await;
    let ar = Raw::default().dir("region").file("region", b"x").zst();
    c.refused(ar, None, &["\"region\"", "more than once"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_member_declaring_more_than_the_cap() {
    // A header declaring a size over the cap (the data never follows).
    let c = Case::new().await;
    let mut raw = Raw::default();
    raw.header(b"region/r.0.0.mca", tar::EntryType::Regular, "", 1 << 40);
    raw.0.extend_from_slice(&[0; 4096]);
    let ar = zstd::encode_all(&raw.0[..], 3).unwrap();
    c.refused(ar, None, &["\"region/r.0.0.mca\"", "MAX_UNPACKED_BYTES", "1099511627776"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_decompression_bomb() {
    // 2 MiB of zstd RLE blocks that decompress to 64 GiB + 128 KiB of zeros:
    // a member whose data is all there, over the unpacked cap.
    let c = Case::new().await;
    let size = MAX_UNPACKED_BYTES + 128 * 1024;
    let mut raw = Raw::default();
    raw.header(b"region/r.0.0.mca", tar::EntryType::Regular, "", size);
    let mut ar = zstd::encode_all(&raw.0[..], 3).unwrap();
    ar.extend(zero_frame(size));
    ar.extend(zstd::encode_all(&[0u8; 1024][..], 3).unwrap());
    assert!(ar.len() < 3 << 20, "{}", ar.len());
    c.refused(ar, None, &["\"region/r.0.0.mca\"", "MAX_UNPACKED_BYTES"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_truncated_archive() {
    // Cut in the middle of a member's data, with a manifest that matches the
    // cut bytes (so only the reader can notice).
    let c = Case::new().await;
    let mut raw = Raw::default();
    raw.header(b"region/r.0.0.mca", tar::EntryType::Regular, "", 100_000);
    raw.0.extend_from_slice(&[1; 5000]);
    let ar = zstd::encode_all(&raw.0[..], 3).unwrap();
    c.refused(ar, None, &["\"region/r.0.0.mca\"", "truncated"]).await;
    // And cut inside the zstd frame.
    let whole = Raw::default().file("level.dat", &[5; 20_000]).zst();
    let cut = whole[..whole.len() - 5].to_vec();
    c.refused(cut, None, &["truncated"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_an_archive_that_does_not_match_its_sha256_before_unpacking() {
    // The chained-symlink escape again, stored under a manifest made for
    // other bytes: refused on the hash, before a single member is unpacked.
    let c = Case::new().await;
    let ar = Raw::default()
        .dir("d")
        .link("d/up", tar::EntryType::Symlink, "..")
        .link("d/up/esc", tar::EntryType::Symlink, "..")
        .file("d/up/esc/mods/evil.jar", b"planted")
        .zst();
    let mut other = ar.clone();
    other[20] ^= 1; // the manifest's bytes: same size, one bit apart
    let text = c.refused(ar, Some(&other), &["is corrupt", "sha256"]).await;
    assert!(!text.contains("d/up"), "no member was read: {text}");
    assert!(!c.tmp.path().join("srv/mods").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_an_over_long_path() {
    // A GNU long name of 3000 nested directories: deeper than any world.
    let c = Case::new().await;
    let long = format!("{}f", "a/".repeat(3000));
    assert!(long.len() > MAX_MEMBER_PATH);
    let ar = Raw::default().file(&long, b"x").zst();
    c.refused(ar, None, &["\"a/a/a/a/", "MAX_MEMBER_PATH", "6001 bytes"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_pax_header_and_data_after_the_end() {
    // A pax extended header (never written by `world backup`; it can rename
    // the next member) and bytes after the end-of-archive marker.
    let c = Case::new().await;
    let mut raw = Raw::default();
    let pax = b"30 path=mods/../../evil.jar.x\n";
    raw.header(b"pax", tar::EntryType::XHeader, "", pax.len() as u64);
    raw.data(pax);
    let ar = raw.file("level.dat", b"x").zst();
    c.refused(ar, None, &["pax", ALLOWED]).await;
    let mut raw = Raw::default().file("level.dat", b"x");
    raw.0.extend_from_slice(&[0; 1024]);
    raw.0.extend_from_slice(b"hidden after the end");
    let ar = zstd::encode_all(&raw.0[..], 3).unwrap();
    c.refused(ar, None, &["after the end"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_manifest_naming_another_object() {
    // A manifest whose `key` names some other object in the bucket (another
    // server's world, an asset): a restore reads only the backup's own archive.
    let c = Case::new().await;
    let ar = Raw::default().file("level.dat", b"someone else's world").zst();
    c.plant_at(ar, None, Some("worlds/other/backups/2026-11-22T19-30-00Z.tar.zst"))
        .await;
    let before = c.tree();
    let out = c.restore().await;
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("\"worlds/other/backups/2026-11-22T19-30-00Z.tar.zst\"")
            && text.contains("only its own archive, worlds/grove/backups/2026-11-22T19-30-00Z.tar.zst"),
        "{text}"
    );
    assert_eq!(c.tree(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_skips_a_planted_symlink_with_a_warning() {
    // A mod plants links in the world to the agent's config and to the
    // server's directory: `world backup` leaves them out, says so, never
    // reads through them, and the backup restores without them.
    let c = Case::new().await;
    let secret = c.tmp.path().join("srv/agent.toml");
    std::fs::write(&secret, b"secret_access_key = \"planted-link-target\"").unwrap();
    std::os::unix::fs::symlink(&secret, c.world().join("agent.toml")).unwrap();
    std::os::unix::fs::symlink("..", c.world().join("region/up")).unwrap();
    let out = c.world_cmd(&["backup", "--taken", "2026-11-22T19:30:00Z"]).await;
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("not backed up").count(), 2, "one warning per link:\n{text}");
    assert!(text.contains("agent.toml") && text.contains("region/up"), "{text}");
    // Every piece the backup stored, decompressed: none holds the link's target.
    let pieces = c.s3.object_file("worlds/grove/pieces/x");
    let pieces = pieces.parent().unwrap();
    assert!(std::fs::read_dir(pieces).unwrap().count() > 0);
    for e in std::fs::read_dir(pieces).unwrap() {
        let bytes = zstd::decode_all(&std::fs::read(e.unwrap().path()).unwrap()[..]).unwrap();
        assert!(
            !bytes.windows(19).any(|w| w == b"planted-link-target"),
            "nothing read through a link"
        );
    }
    let out = c.restore().await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::symlink_metadata(c.world().join("agent.toml")).is_err());
    assert!(std::fs::symlink_metadata(c.world().join("region/up")).is_err());
    assert_eq!(std::fs::read(c.world().join("level.dat")).unwrap(), b"the previous world");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_made_by_backup_still_restores() {
    // The control: `world backup`'s own archive of a world restores over the
    // previous one, so the refusals above are not refusing everything.
    let c = Case::new().await;
    let src = c.tmp.path().join("new");
    std::fs::create_dir_all(src.join("region")).unwrap();
    std::fs::create_dir_all(src.join("datapacks/a").join("b".repeat(120))).unwrap();
    std::fs::write(src.join("level.dat"), b"the new world").unwrap();
    std::fs::write(src.join("datapacks/a").join("b".repeat(120)).join("pack.mcmeta"), b"{}").unwrap();
    let mut ar = Vec::new();
    mc_gitops::world::archive::pack(&src, &mut ar).unwrap();
    c.plant(ar, None).await;
    let out = c.restore().await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(c.world().join("level.dat")).unwrap(), b"the new world");
    assert!(c.world().join("region").is_dir());
    assert!(!c.world().join("region/r.0.0.mca").exists(), "replaced, not merged");
    let mut sibling: Vec<_> = std::fs::read_dir(c.tmp.path().join("srv"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    sibling.sort();
    assert_eq!(sibling, ["world"], "no download, fresh or old directory left beside it");
}
