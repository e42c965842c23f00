//! Reading an untrusted world archive into an empty directory: every rule
//! of the format (see the parent module) checked per header before its data
//! is read, and every file and directory made relative to a handle on the
//! directory above it, never through a link.
//!
//! The tar reader runs in raw mode: its own handling of GNU long names and
//! pax headers reads them whole into memory whatever size they declare, so
//! long names are read here, capped at [`MAX_MEMBER_PATH`], and pax headers
//! are refused.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::{Limits, MAX_MEMBER_PATH, MAX_WINDOW_LOG, shown};
use crate::world::{WorldError, io};

/// Bytes after the end-of-archive block that may follow it (zeros only):
/// the second end block, and padding some writers add to a 10 KiB record.
const MAX_TRAILER: u64 = 64 * 1024;

/// The longest name of one path component (Linux's NAME_MAX).
const MAX_NAME: usize = 255;

/// Unpack tar + zstd from `input` into the empty directory `root` with the
/// world's caps; `archive` names it in errors. Returns the number of
/// regular files.
pub fn unpack(input: impl Read, root: &Path, archive: &str) -> Result<u64, WorldError> {
    unpack_with(input, root, archive, Limits::WORLD)
}

/// [`unpack`] with other caps.
pub fn unpack_with(input: impl Read, root: &Path, archive: &str, limits: Limits) -> Result<u64, WorldError> {
    let damaged = |why: String| WorldError::Damaged {
        archive: archive.into(),
        why,
    };
    let mut dec = zstd::Decoder::new(input).map_err(|e| damaged(format!("zstd: {e}")))?;
    dec.window_log_max(MAX_WINDOW_LOG).map_err(|e| damaged(format!("zstd: {e}")))?;
    let mut ar = tar::Archive::new(Watch { inner: dec, ended: false });
    let mut state = State {
        archive,
        limits,
        tree: Tree::open(root)?,
        total: 0,
        members: 0,
        files: 0,
        dirs: HashSet::new(),
        last: None,
    };
    {
        let mut entries = ar.entries().map_err(|e| damaged(e.to_string()))?;
        entries = entries.raw(true);
        let mut long_name: Option<Vec<u8>> = None;
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => return Err(state.broken(e)),
            };
            if entry.header().entry_type().is_gnu_longname() {
                long_name = Some(state.long_name(&mut entry, long_name.is_some())?);
                continue;
            }
            let path = long_name.take().unwrap_or_else(|| entry.header().path_bytes().into_owned());
            state.member(&mut entry, &path)?;
            state.last = Some(path);
        }
        if long_name.is_some() {
            return Err(damaged("it ends after a long name, before its member".into()));
        }
    }
    let mut rest = ar.into_inner();
    if rest.ended {
        return Err(state.truncated("before its end-of-archive block"));
    }
    // What follows the end block must be zeros, and not many.
    let mut tail = Vec::new();
    (&mut rest)
        .take(MAX_TRAILER + 1)
        .read_to_end(&mut tail)
        .map_err(|e| state.broken(e))?;
    if tail.len() as u64 > MAX_TRAILER || tail.iter().any(|b| *b != 0) {
        return Err(damaged("it has data after the end-of-archive block".into()));
    }
    Ok(state.files)
}

/// The decompressed stream, noting whether it ended: the tar reader stops
/// alike at an end-of-archive block and at the end of the stream, and only
/// the first is a whole archive.
struct Watch<R: Read> {
    inner: R,
    ended: bool,
}

impl<R: Read> Read for Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if !buf.is_empty() => {
                self.ended = true;
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                self.ended |= e.kind() == std::io::ErrorKind::UnexpectedEof;
                Err(e)
            }
        }
    }
}

struct State<'a> {
    archive: &'a str,
    limits: Limits,
    tree: Tree,
    total: u64,
    members: u64,
    files: u64,
    /// Directory members seen, so one named twice is refused.
    dirs: HashSet<PathBuf>,
    /// The last member read, for messages about what follows it.
    last: Option<Vec<u8>>,
}

impl State<'_> {
    fn refuse(&self, path: &[u8], why: impl Into<String>) -> WorldError {
        WorldError::Unsafe {
            archive: self.archive.into(),
            member: shown(path),
            why: why.into(),
        }
    }

    fn truncated(&self, at: &str) -> WorldError {
        let after = self
            .last
            .as_deref()
            .map_or("before its first member".into(), |p| format!("after member {}", shown(p)));
        WorldError::Damaged {
            archive: self.archive.into(),
            why: format!("it is truncated: it ends {at}, {after}"),
        }
    }

    /// A read error from the tar reader: truncation, zstd damage, or a bad header.
    fn broken(&self, e: std::io::Error) -> WorldError {
        // The reader's state is behind the tar archive; its error kinds say enough.
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            return self.truncated("inside a header or a zstd frame");
        }
        let after = self
            .last
            .as_deref()
            .map_or(String::new(), |p| format!(" after member {}", shown(p)));
        WorldError::Damaged {
            archive: self.archive.into(),
            why: format!("{e}{after}"),
        }
    }

    fn long_name<E: Read>(&self, entry: &mut tar::Entry<'_, E>, pending: bool) -> Result<Vec<u8>, WorldError> {
        let size = entry.size();
        if pending {
            return Err(self.refuse(b"././@LongLink", "two long names for one member"));
        }
        if size > MAX_MEMBER_PATH as u64 + 1 {
            // Name the member by the start of its name.
            let mut start = Vec::new();
            entry.take(100).read_to_end(&mut start).map_err(|e| self.broken(e))?;
            return Err(WorldError::Unsafe {
                archive: self.archive.into(),
                member: format!("{}…", shown(&start)),
                why: format!("a path of {} bytes, over MAX_MEMBER_PATH ({MAX_MEMBER_PATH} bytes)", size - 1),
            });
        }
        let mut name = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut name).map_err(|e| self.broken(e))?;
        if (name.len() as u64) < size {
            return Err(self.truncated("inside a long name"));
        }
        while name.last() == Some(&0) {
            name.pop();
        }
        Ok(name)
    }

    fn member<E: Read>(&mut self, entry: &mut tar::Entry<'_, E>, path: &[u8]) -> Result<(), WorldError> {
        self.members += 1;
        if self.members > self.limits.members {
            return Err(self.refuse(
                path,
                format!("it is member {}, over MAX_MEMBERS ({})", self.members, self.limits.members),
            ));
        }
        let kind = entry.header().entry_type();
        let what = match kind {
            tar::EntryType::Regular | tar::EntryType::Directory => None,
            tar::EntryType::Symlink => Some("a symlink".to_string()),
            tar::EntryType::Link => Some("a hard link".into()),
            tar::EntryType::Char | tar::EntryType::Block => Some("a device file".into()),
            tar::EntryType::Fifo => Some("a fifo".into()),
            tar::EntryType::XHeader | tar::EntryType::XGlobalHeader => Some("a pax extended header".into()),
            tar::EntryType::GNULongLink => Some("a long link name".into()),
            tar::EntryType::GNUSparse => Some("a sparse file".into()),
            other => Some(format!("an entry of type {:?}", other.as_byte() as char)),
        };
        if let Some(what) = what {
            return Err(self.refuse(path, what));
        }
        let rel = self.relative(path)?;
        let size = entry.size();
        let total = self.total.saturating_add(size);
        if total > self.limits.bytes {
            return Err(self.refuse(
                path,
                format!(
                    "it declares {size} bytes, which takes the archive to {total} bytes, over MAX_UNPACKED_BYTES ({} bytes)",
                    self.limits.bytes
                ),
            ));
        }
        self.total = total;
        if kind.is_dir() {
            if rel.as_os_str().is_empty() {
                return Ok(()); // "./": the directory itself
            }
            if !self.dirs.insert(rel.clone()) {
                return Err(self.refuse(path, "it appears more than once"));
            }
            return self.tree.dir(&rel).map(drop).map_err(|e| self.place(path, &rel, e));
        }
        if rel.as_os_str().is_empty() {
            return Err(self.refuse(path, "a file without a name"));
        }
        let parent = rel.parent().unwrap_or(Path::new(""));
        let name = rel.file_name().expect("a normal last component");
        let mut file = self
            .tree
            .dir(parent)
            .and_then(|d| create(d, Path::new(name)).map_err(|e| (rel.clone(), e)))
            .map_err(|e| self.place(path, &rel, e))?;
        let written = std::io::copy(entry, &mut file).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => WorldError::Damaged {
                archive: self.archive.into(),
                why: format!("it is truncated: it ends inside the data of member {}", shown(path)),
            },
            // Write errors are the disk's (an OS error); the rest came from the archive.
            _ if e.raw_os_error().is_none() => self.broken(e),
            _ => io(&self.tree.path.join(&rel))(e),
        })?;
        if written < size {
            return Err(WorldError::Damaged {
                archive: self.archive.into(),
                why: format!(
                    "it is truncated: member {} declares {size} bytes, the archive ends after {written}",
                    shown(path)
                ),
            });
        }
        self.files += 1;
        Ok(())
    }

    /// The member's path as a relative one inside the root, or a refusal.
    fn relative(&self, path: &[u8]) -> Result<PathBuf, WorldError> {
        relative(path).map_err(|why| self.refuse(path, why))
    }

    /// Why a file or directory could not be made where the member says.
    fn place(&self, path: &[u8], rel: &Path, (at, e): (PathBuf, std::io::Error)) -> WorldError {
        match e.raw_os_error().map(Errno::from_raw_os_error) {
            Some(Errno::EXIST) if at == rel => self.refuse(path, "it appears more than once"),
            Some(Errno::NOTDIR | Errno::LOOP) if at == rel => self.refuse(path, "it appears more than once"),
            Some(Errno::NOTDIR | Errno::LOOP | Errno::EXIST) => self.refuse(
                path,
                format!("its path goes through {:?}, which is not a directory", at.display().to_string()),
            ),
            _ => io(&self.tree.path.join(at))(e),
        }
    }
}

/// A member path as a relative path inside the root, or why it is refused:
/// at most [`MAX_MEMBER_PATH`] bytes, no NUL, no `..`, not absolute, no
/// name over [`MAX_NAME`] bytes. The one rule for archive members and for
/// the paths a snapshot's file list names (`crate::world::pieces`).
pub(crate) fn relative(path: &[u8]) -> Result<PathBuf, String> {
    if path.len() > MAX_MEMBER_PATH {
        return Err(format!(
            "a path of {} bytes, over MAX_MEMBER_PATH ({MAX_MEMBER_PATH} bytes)",
            path.len()
        ));
    }
    if path.contains(&0) {
        return Err("a path with a NUL byte".into());
    }
    let p = Path::new(std::ffi::OsStr::from_bytes(path));
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) if s.len() > MAX_NAME => return Err(format!("a name over {MAX_NAME} bytes")),
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err("a `..` component".into()),
            Component::RootDir | Component::Prefix(_) => return Err("an absolute path".into()),
        }
    }
    Ok(out)
}

/// Create a new file `name` in `dir`: never over an existing entry, never
/// through a link.
pub(crate) fn create(dir: BorrowedFd<'_>, name: &Path) -> std::io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o644))?.into())
}

/// The directory being filled, as a handle, with the directory last
/// written into kept open (members arrive grouped by directory).
pub(crate) struct Tree {
    path: PathBuf,
    root: OwnedFd,
    last: Option<(PathBuf, OwnedFd)>,
}

impl Tree {
    pub(crate) fn open(root: &Path) -> Result<Tree, WorldError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(rustix::fs::CWD, root, flags, Mode::empty()).map_err(|e| io(root)(e.into()))?;
        Ok(Tree {
            path: root.to_path_buf(),
            root: fd,
            last: None,
        })
    }

    /// The root directory's handle (for one `syncfs` of the whole tree).
    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// The directory `rel`, each missing component made, none followed if
    /// it is a link. Errors name the component that failed.
    pub(crate) fn dir(&mut self, rel: &Path) -> Result<BorrowedFd<'_>, (PathBuf, std::io::Error)> {
        if rel.as_os_str().is_empty() {
            return Ok(self.root.as_fd());
        }
        if self.last.as_ref().is_some_and(|(p, _)| p == rel) {
            return Ok(self.last.as_ref().expect("checked").1.as_fd());
        }
        let mut at = PathBuf::new();
        let mut cur: Option<OwnedFd> = None;
        for c in rel.components() {
            at.push(c);
            let parent = cur.as_ref().map_or(self.root.as_fd(), |f| f.as_fd());
            match rustix::fs::mkdirat(parent, c.as_os_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err((at, e.into())),
            }
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let next = rustix::fs::openat(parent, c.as_os_str(), flags, Mode::empty()).map_err(|e| (at.clone(), e.into()))?;
            cur = Some(next);
        }
        self.last = Some((rel.to_path_buf(), cur.expect("a non-empty path has a component")));
        Ok(self.last.as_ref().expect("just set").1.as_fd())
    }
}
