//! The archive format, both ways: a world directory into tar + zstd, and
//! tar + zstd back into a directory. An archive is read from storage that
//! anything on the VPS can write (a mod included), so it is untrusted input.
//!
//! A world archive holds regular files and directories only, each once, at
//! relative paths without `..`, no longer than [`MAX_MEMBER_PATH`], within
//! [`MAX_UNPACKED_BYTES`] and [`MAX_MEMBERS`]; GNU long-name headers carry
//! paths over 100 bytes. That is all `world backup` writes and all a
//! restore accepts: symlinks, hard links, devices, fifos, pax headers and
//! sparse files are refused, naming the member. Minecraft never makes links,
//! and a link is how an archive writes outside its directory (issue 12: a
//! link `d/up -> ..` made earlier, then `d/up/esc -> ..`, each "inside" as
//! text, chained out of the directory).
//!
//! Both sides work on directory handles, never on paths (`openat` with
//! `O_NOFOLLOW`, `mkdirat`, `O_EXCL`, through rustix): packing never follows
//! a link a mod swapped in while it walked, and unpacking never writes
//! through one, even if something races it. cap-std would give the same
//! no-follow walk, but it resolves symlinks that stay inside its root, which
//! a world archive has no use for; a dozen lines of `openat` that refuse
//! every link are stricter and need no new dependency tree.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::{WorldError, io};

#[cfg(test)]
mod tests;
mod unpack;

pub(crate) use unpack::{Tree as DirHandles, create, relative};
pub use unpack::{unpack, unpack_with};

/// zstd's default level: several times faster than gzip -6 and at least as
/// small on region files (whose chunks are already zlib-compressed).
pub const ZSTD_LEVEL: i32 = 3;

/// The total of the sizes the members of one archive may declare: 64 GiB.
/// A large friends' world is a few GiB; the snapshot upload itself stops
/// near 80 GB (8 MiB parts, 10,000 of them). A restore never writes more
/// than this, and a decompression bomb is refused at the first header that
/// would pass it, before its data is read.
pub const MAX_UNPACKED_BYTES: u64 = 64 << 30;

/// Members (files and directories) in one archive. A world of 64 GiB in
/// 8 MiB region files is ~8,000 files; player data adds one per player.
pub const MAX_MEMBERS: u64 = 1_000_000;

/// The longest member path, in bytes. World paths are short
/// (`region/r.-12.5.mca`); data packs nest a few levels deeper.
pub const MAX_MEMBER_PATH: usize = 1024;

/// The zstd window a reader accepts, as a power of two: 16 MiB, which
/// bounds the decoder's memory. Level 3 writes 2 MiB windows (2^21).
pub const MAX_WINDOW_LOG: u32 = 24;

/// What a world archive may hold, said in every refusal.
pub const ALLOWED: &str = "a world archive holds only regular files and directories, each once, at relative paths without `..`";

/// The caps one unpack enforces: [`Limits::WORLD`] for a restore; tests
/// and fuzzing pass smaller ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// [`MAX_UNPACKED_BYTES`].
    pub bytes: u64,
    /// [`MAX_MEMBERS`].
    pub members: u64,
}

impl Limits {
    pub const WORLD: Limits = Limits {
        bytes: MAX_UNPACKED_BYTES,
        members: MAX_MEMBERS,
    };
}

/// Write `dir` as tar + zstd into `out`; returns how many regular files and
/// bytes it packed.
///
/// Symlinks, sockets, fifos and devices in the world directory are skipped
/// with a warning (a restore would refuse them, and a mod must not be able
/// to make every backup fail by planting one), as are paths longer than
/// [`MAX_MEMBER_PATH`]. A world over [`MAX_UNPACKED_BYTES`] or
/// [`MAX_MEMBERS`] is refused: a backup that no restore accepts is not one.
pub fn pack(dir: &Path, out: impl Write) -> Result<Packed, WorldError> {
    pack_with(dir, out, Limits::WORLD)
}

/// [`pack`] with other caps.
pub fn pack_with(dir: &Path, out: impl Write, limits: Limits) -> Result<Packed, WorldError> {
    let enc = zstd::Encoder::new(out, ZSTD_LEVEL).map_err(io(dir))?;
    let mut tar = tar::Builder::new(enc);
    // The directory itself is the caller's path (it may be a link to
    // another disk); only what is inside it is never followed.
    let root = rustix::fs::openat(
        rustix::fs::CWD,
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(dir)(e.into()))?;
    let root = File::from(root);
    let mut packed = Packed::default();
    let mut walk = Walk {
        root: dir,
        tar: &mut tar,
        packed: &mut packed,
        members: 0,
        limits,
    };
    walk.dir(&root, Path::new(""))?;
    let enc = tar.into_inner().map_err(io(dir))?;
    enc.finish().map_err(io(dir))?.flush().map_err(io(dir))?;
    Ok(packed)
}

/// What [`pack`] found while it walked the tree, so nothing walks it twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packed {
    /// Regular files packed.
    pub files: u64,
    /// Their sizes added up: the world's size on disk, uncompressed.
    pub bytes: u64,
    /// Entries left out: links, fifos, sockets, devices, over-long paths.
    pub skipped: u64,
}

struct Walk<'a, W: Write> {
    root: &'a Path,
    tar: &'a mut tar::Builder<W>,
    packed: &'a mut Packed,
    members: u64,
    limits: Limits,
}

impl<W: Write> Walk<'_, W> {
    fn dir(&mut self, dir: &File, rel: &Path) -> Result<(), WorldError> {
        let here = self.root.join(rel);
        for name in dir_names(dir, &here)? {
            let name = std::ffi::OsStr::from_bytes(&name).to_owned();
            let rel = rel.join(&name);
            let path = self.root.join(&rel);
            let f: File = match open_nofollow(dir, Path::new(&name)) {
                Ok(fd) => fd.into(),
                // A symlink (ELOOP), a socket (ENXIO), gone meanwhile (ENOENT).
                Err(e)
                    if e.raw_os_error()
                        .is_some_and(|n| [libc::ELOOP, libc::ENXIO, libc::ENOENT].contains(&n)) =>
                {
                    self.skip(&path, "a symlink, socket or vanished entry");
                    continue;
                }
                Err(e) => return Err(io(&path)(e)),
            };
            let meta = f.metadata().map_err(io(&path))?;
            if !meta.is_dir() && !meta.is_file() {
                self.skip(&path, "not a regular file or directory");
                continue;
            }
            if rel.as_os_str().len() > MAX_MEMBER_PATH {
                self.skip(&path, "a path longer than MAX_MEMBER_PATH");
                continue;
            }
            self.members += 1;
            let size = if meta.is_file() { meta.len() } else { 0 };
            if self.members > self.limits.members || self.packed.bytes + size > self.limits.bytes {
                return Err(WorldError::TooBig {
                    dir: self.root.display().to_string(),
                    members: self.members,
                    bytes: self.packed.bytes + size,
                    max_members: self.limits.members,
                    max_bytes: self.limits.bytes,
                });
            }
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
            if meta.is_dir() {
                self.tar.append_data(&mut header, &rel, std::io::empty()).map_err(io(&path))?;
                self.dir(&f, &rel)?;
            } else {
                let exact = Exact { file: f, left: size };
                self.tar.append_data(&mut header, &rel, exact).map_err(io(&path))?;
                self.packed.files += 1;
                self.packed.bytes += size;
            }
        }
        Ok(())
    }

    fn skip(&mut self, path: &Path, why: &str) {
        tracing::warn!(path = %path.display(), why, "not backed up: {ALLOWED}");
        self.packed.skipped += 1;
    }
}

/// A file's bytes, exactly as many as its header declared: a file that
/// shrank or grew while it was packed fails the backup instead of writing
/// an archive whose headers lie.
struct Exact {
    file: File,
    left: u64,
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being backed up",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The names in the open directory `dir` (at `here`, for messages), sorted,
/// without `.` and `..`: the world walk of both snapshot formats.
pub(crate) fn dir_names(dir: &File, here: &Path) -> Result<Vec<Vec<u8>>, WorldError> {
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(dir).map_err(|e| io(here)(e.into()))? {
        let e = e.map_err(|e| io(here)(e.into()))?;
        let name = e.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    names.sort();
    Ok(names)
}

/// Open `name` under `dir` for reading without following a final symlink
/// and without blocking on a fifo.
pub(crate) fn open_nofollow(dir: impl AsFd, name: &Path) -> std::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
}

/// A member path for messages: quoted, escaped, and cut after 100
/// characters (a hostile one can be kilobytes long).
pub(crate) fn shown(path: &[u8]) -> String {
    let s = String::from_utf8_lossy(path);
    if s.chars().count() > 100 {
        format!("{:?}… ({} bytes)", s.chars().take(100).collect::<String>(), path.len())
    } else {
        format!("{s:?}")
    }
}
