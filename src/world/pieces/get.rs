//! Restoring an incremental snapshot at disk speed: every file of the list
//! is made (empty, at its size) in a fresh directory beside the target
//! through the no-follow `openat` writer of the archive module; then the
//! pieces are fetched [`IN_FLIGHT`] at a time, each decompressed and hashed
//! as a whole on a blocking thread while others download, and written
//! where the list says only once its hash matched its name. No file is
//! fsynced alone: each write only starts its writeback
//! (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not wait), and one
//! `syncfs` before the swap waits for all of it; the swap happens only
//! after every piece matched. No temporary copy of anything is made.
//!
//! A warm restart fetches less: a file already in the target directory at
//! the same path and size whose sha256 is the list's is taken from there,
//! hashed on several threads, and the pieces only it needed are not
//! fetched. It is hard-linked into the fresh tree, not copied (nothing is
//! written, and the swap's removal of the old tree leaves it one name),
//! when it has no other name (so no file outside the world is ever taken
//! in, to be handed to the server's user later) and did not change while
//! it was hashed; otherwise it is copied, hashed as it is copied.
//!
//! Where the time goes is logged at the end (`restore timings`, the
//! per-phase sums over the workers, but the wall time of taking the files for
//! `reuse`, at `info` under `mc_gitops::world`):
//! bench/world.py prints it.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures::StreamExt;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use sha2::{Digest, Sha256};

use super::{FileList, get_capped, max_stored, piece_key};
use crate::storage::Store;
use crate::world::archive::{self, DirHandles};
use crate::world::restore::{beside, swap};
use crate::world::snapshot::Progress;
use crate::world::{WorldError, io};

/// Pieces downloading or being written at once: enough to hide a
/// request's latency (R2's first byte takes tens of ms), few enough that
/// memory stays within a few tens of MiB (each holds at most a stored and
/// a decompressed piece, 2 MiB or so each). Against a local S3 server
/// (bench/world.py, 1 GiB) 12 and 16 were no faster than 8 (the server is
/// the bound) and took peak RSS from 70 to 92 and 98 MB.
pub(crate) const IN_FLIGHT: usize = 8;

/// Per-phase sums, in ns, over every worker.
#[derive(Default)]
struct Timings {
    reuse: AtomicU64,
    download: AtomicU64,
    decompress: AtomicU64,
    hash: AtomicU64,
    write: AtomicU64,
}

fn add(at: &AtomicU64, since: Instant) {
    at.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
}

/// Restore `list` (already read and checked) into `target`; returns the
/// number of files.
pub(crate) async fn restore(store: &Store, list: FileList, target: &Path, progress: Progress<'_>) -> Result<u64, WorldError> {
    let (fresh, old, _) = beside(target);
    crate::world::restore::clear(&fresh)?;
    let result = fill(store, Arc::new(list), target, &fresh, progress).await;
    match result {
        Ok(files) => {
            let t = Instant::now();
            swap(&fresh, target, &old)?;
            tracing::info!(swap_s = format!("{:.3}", t.elapsed().as_secs_f64()), "restore swapped");
            Ok(files)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&fresh);
            Err(e)
        }
    }
}

async fn fill(store: &Store, list: Arc<FileList>, target: &Path, fresh: &Path, progress: Progress<'_>) -> Result<u64, WorldError> {
    let wall = Instant::now();
    let times = Arc::new(Timings::default());
    let (l, t, f, tm) = (list.clone(), target.to_path_buf(), fresh.to_path_buf(), times.clone());
    // Make every directory and file; take the files already on disk.
    let (root, done) = tokio::task::spawn_blocking(move || prepare(&l, &t, &f, &tm))
        .await
        .expect("preparing does not panic")?;
    let root = Arc::new(root);
    // piece → where its bytes go: (file, offset in file, offset in piece, len).
    let mut wanted: Vec<Vec<(usize, u64, u64, u64)>> = vec![Vec::new(); list.pieces.len()];
    for (i, file) in list.files.iter().enumerate() {
        if done[i] {
            continue;
        }
        let mut at = 0u64;
        for p in &file.parts {
            wanted[p.piece as usize].push((i, at, p.offset, p.len));
            at += p.len;
        }
    }
    let written = AtomicU64::new(0);
    let jobs = wanted.into_iter().enumerate().filter(|(_, w)| !w.is_empty());
    let mut results = futures::stream::iter(jobs)
        .map(|(pi, targets)| {
            let (list, root, times) = (list.clone(), root.clone(), times.clone());
            async move {
                let piece = &list.pieces[pi];
                let key = piece_key(store, &piece.sha256);
                let t = Instant::now();
                let stored = get_capped(store, &key, max_stored()).await?;
                add(&times.download, t);
                let bytes = targets.iter().map(|x| x.3).sum::<u64>();
                tokio::task::spawn_blocking(move || write_piece(&list, pi, &key, &stored, &targets, &root, &times))
                    .await
                    .expect("writing does not panic")?;
                Ok::<u64, WorldError>(bytes)
            }
        })
        .buffer_unordered(IN_FLIGHT);
    while let Some(r) = results.next().await {
        let r = r?;
        let n = written.fetch_add(r, Ordering::Relaxed) + r;
        if !progress(n) {
            return Err(WorldError::Cancelled);
        }
    }
    drop(results);
    // One sync for the whole tree, not one per file.
    let t = Instant::now();
    let r = root.clone();
    tokio::task::spawn_blocking(move || rustix::fs::syncfs(r.root()))
        .await
        .expect("syncfs does not panic")
        .map_err(|e| io(fresh)(e.into()))?;
    let secs = |a: &AtomicU64| format!("{:.3}", a.load(Ordering::Relaxed) as f64 / 1e9);
    tracing::info!(
        reuse_s = secs(&times.reuse),
        download_s = secs(&times.download),
        decompress_s = secs(&times.decompress),
        hash_s = secs(&times.hash),
        write_s = secs(&times.write),
        fsync_s = format!("{:.3}", t.elapsed().as_secs_f64()),
        wall_s = format!("{:.3}", wall.elapsed().as_secs_f64()),
        reused = done.iter().filter(|d| **d).count(),
        "restore timings"
    );
    Ok(list.files.len() as u64)
}

/// Make the tree in `fresh`; for each file, whether it was taken whole
/// (linked or copied) from the same path in `target` (same size, same
/// sha256). The files are taken on [`reuse_threads`] threads at once: each
/// hashes what it takes, so one thread is bound by sha256, not by the disk.
fn prepare(list: &FileList, target: &Path, fresh: &Path, times: &Timings) -> Result<(DirHandles, Vec<bool>), WorldError> {
    std::fs::create_dir_all(fresh).map_err(io(fresh))?;
    let mut tree = DirHandles::open(fresh)?;
    let place = |rel: &Path, (at, e): (PathBuf, std::io::Error)| WorldError::Unsafe {
        archive: "the file list".into(),
        member: archive::shown(rel.as_os_str().as_encoded_bytes()),
        why: format!("it cannot be made at {}: {e}", at.display()),
    };
    for d in &list.dirs {
        let rel = Path::new(d);
        tree.dir(rel).map(drop).map_err(|e| place(rel, e))?;
    }
    let old = open_dir(target);
    let mut done = vec![false; list.files.len()];
    let mut candidates = Vec::new();
    for (i, f) in list.files.iter().enumerate() {
        let rel = Path::new(&f.path);
        let parent = rel.parent().unwrap_or(Path::new(""));
        let name = rel.file_name().expect("checked: a file has a name");
        let dir = tree.dir(parent).map_err(|e| place(rel, e))?;
        let file = archive::create(dir, Path::new(name)).map_err(|e| place(rel, (rel.to_path_buf(), e)))?;
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(f.mode | 0o600))
            .map_err(io(&fresh.join(rel)))?;
        file.set_len(f.size).map_err(io(&fresh.join(rel)))?;
        done[i] = f.size == 0;
        if old.is_some() && f.size > 0 {
            candidates.push(i);
        }
    }
    if let Some(old) = &old
        && !candidates.is_empty()
    {
        let t = Instant::now();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let reused = std::sync::Mutex::new(Vec::new());
        let first_error = std::sync::Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..reuse_threads().min(candidates.len()) {
                s.spawn(|| {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&i) = candidates.get(n) else { break };
                        let f = &list.files[i];
                        let rel = Path::new(&f.path);
                        match reuse(old.as_fd(), tree.root(), rel, f, &f.sha256) {
                            Ok(true) => reused.lock().expect("no worker panics").push(i),
                            Ok(false) => {}
                            Err(e) => {
                                first_error.lock().expect("no worker panics").get_or_insert(io(&fresh.join(rel))(e));
                                next.store(candidates.len(), Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().expect("no worker panics") {
            return Err(e);
        }
        for i in reused.into_inner().expect("no worker panics") {
            done[i] = true;
        }
        add(&times.reuse, t);
    }
    Ok((tree, done))
}

/// Threads taking reused files at once: the machine's cores (a VPS has
/// 2 to 8), at least 2 so one thread's reads overlap another's hashing.
fn reuse_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8)
}

/// Fill `rel` in the fresh tree (made by [`prepare`], never through a
/// link) from the old world when the old file is the same: linked when
/// [`link_if_same`] can, else copied.
fn reuse(old: BorrowedFd<'_>, fresh: BorrowedFd<'_>, rel: &Path, f: &super::FileEntry, sha256: &str) -> std::io::Result<bool> {
    let Some(from) = open_old(old, rel, f.size)? else {
        return Ok(false);
    };
    match link_if_same(&from, fresh, rel, f.mode | 0o600, sha256)? {
        Linked::Yes => return Ok(true),
        Linked::Differs => return Ok(false),
        Linked::CannotLink => {}
    }
    let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let to = File::from(rustix::fs::openat2(fresh, rel, flags, Mode::empty(), resolve)?);
    copy_if_same(&from, &to, f.size, sha256)
}

/// `rel` in the old world when it is a regular file of `size` bytes,
/// opened without following any link.
fn open_old(old: BorrowedFd<'_>, rel: &Path, size: u64) -> std::io::Result<Option<File>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let Ok(fd) = rustix::fs::openat2(old, rel, flags, Mode::empty(), resolve) else {
        return Ok(None);
    };
    let from = File::from(fd);
    let meta = from.metadata()?;
    Ok((meta.is_file() && meta.len() == size).then_some(from))
}

enum Linked {
    Yes,
    /// Its bytes are not the list's.
    Differs,
    /// It has another name, changed while hashed, or cannot be linked
    /// here: copy it instead.
    CannotLink,
}

/// Hash `from` (the old world's file) and, when it is the list's, link
/// that very inode (through `/proc/self/fd`, not its path, which may have
/// changed) over the placeholder at `rel`, with permission bits `mode`.
/// Linked only while the file has no name but its own in the old world,
/// and checked again after: a second name could be a file outside the
/// world, which the agent later hands to the server's user.
fn link_if_same(from: &File, fresh: BorrowedFd<'_>, rel: &Path, mode: u32, sha256: &str) -> std::io::Result<Linked> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let before = from.metadata()?;
    if before.nlink() != 1 {
        return Ok(Linked::CannotLink);
    }
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = from.read_at(&mut buf, at)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        at += n as u64;
        if at > before.len() {
            return Ok(Linked::CannotLink);
        }
    }
    if at != before.len() || hex::encode(hash.finalize()) != sha256 {
        return Ok(Linked::Differs);
    }
    let parent = rel.parent().unwrap_or(Path::new(""));
    let name = rel.file_name().expect("checked: a file has a name");
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let at_parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    let dir = rustix::fs::openat2(fresh, at_parent, dir_flags, Mode::empty(), resolve)?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(".link");
    let proc_path = format!("/proc/self/fd/{}", from.as_raw_fd());
    if rustix::fs::linkat(
        rustix::fs::CWD,
        proc_path.as_str(),
        &dir,
        tmp.as_os_str(),
        rustix::fs::AtFlags::SYMLINK_FOLLOW,
    )
    .is_err()
    {
        return Ok(Linked::CannotLink);
    }
    let after = from.metadata()?;
    let unchanged =
        after.nlink() == 2 && after.len() == before.len() && (after.mtime(), after.mtime_nsec()) == (before.mtime(), before.mtime_nsec());
    if !unchanged {
        rustix::fs::unlinkat(&dir, tmp.as_os_str(), rustix::fs::AtFlags::empty())?;
        return Ok(Linked::CannotLink);
    }
    use std::os::unix::fs::PermissionsExt;
    from.set_permissions(std::fs::Permissions::from_mode(mode))?;
    rustix::fs::renameat(&dir, tmp.as_os_str(), &dir, name)?;
    Ok(Linked::Yes)
}

fn open_dir(p: &Path) -> Option<OwnedFd> {
    rustix::fs::openat(
        rustix::fs::CWD,
        p,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// Copy `from` (the old world's file, checked to be a regular file of
/// `size` bytes) into `to` when its sha256 is `sha256`. `false`, and `to`
/// back to `size` zero bytes, when it is not. Each write's writeback is
/// started at once, as the pieces' are, so the one `syncfs` has little
/// left to wait for.
fn copy_if_same(from: &File, to: &File, size: u64, sha256: &str) -> std::io::Result<bool> {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    let mut from = from;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if at + n as u64 > size {
            at += n as u64;
            break;
        }
        hash.update(&buf[..n]);
        to.write_all_at(&buf[..n], at)?;
        start_writeback(to, at, n as u64);
        at += n as u64;
    }
    if at == size && hex::encode(hash.finalize()) == sha256 {
        return Ok(true);
    }
    to.set_len(0)?;
    to.set_len(size)?;
    Ok(false)
}

/// Ask the kernel to start writing `len` bytes at `at` of `file` to disk
/// now, without waiting: the one `syncfs` before the swap then waits for
/// writes already under way instead of starting them all at the end.
/// Advice only: an error changes nothing (the `syncfs` still syncs).
fn start_writeback(file: &File, at: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open descriptor and plain integers; the call only
    // schedules writeback of the file's own pages.
    let _ = unsafe { libc::sync_file_range(file.as_raw_fd(), at as i64, len as i64, libc::SYNC_FILE_RANGE_WRITE) };
}

/// Decompress piece `pi`, check it against its name, and write its ranges.
fn write_piece(
    list: &FileList,
    pi: usize,
    key: &str,
    stored: &[u8],
    targets: &[(usize, u64, u64, u64)],
    root: &DirHandles,
    times: &Timings,
) -> Result<(), WorldError> {
    let piece = &list.pieces[pi];
    let t = Instant::now();
    let bytes = super::decompress(key, stored, piece.size)?;
    add(&times.decompress, t);
    let t = Instant::now();
    super::check_hash(key, &bytes, &piece.sha256)?;
    add(&times.hash, t);
    let t = Instant::now();
    let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    for &(fi, at, from, len) in targets {
        let rel = Path::new(&list.files[fi].path);
        let fd = rustix::fs::openat2(root.root(), rel, flags, Mode::empty(), resolve).map_err(|e| io(rel)(e.into()))?;
        let file = File::from(fd);
        let slice = &bytes[from as usize..(from + len) as usize];
        file.write_all_at(slice, at).map_err(io(rel))?;
        start_writeback(&file, at, len);
    }
    add(&times.write, t);
    Ok(())
}
