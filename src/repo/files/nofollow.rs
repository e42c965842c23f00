//! One path under the repo root, opened, read, listed or written without
//! following a link at any step: every component with `openat(…, O_NOFOLLOW)`
//! from the directory opened before it, the type and size from `fstat` of the
//! open file, the size limit enforced while reading.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;

use super::{FileError, Limit};

fn io(path: &str) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_string(),
        source,
    }
}

fn kind_of(mode: libc::mode_t) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => "a directory",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFLNK => "a symbolic link",
        _ => "a regular file",
    }
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; `None` when it does not exist.
fn lstat_at(dir: &File, name: &CString) -> std::io::Result<Option<libc::stat>> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `dir` is an open descriptor, `name` is NUL-terminated and `st` is
    // large enough for a `stat`; the kernel fills it on success.
    let rc = unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 {
        // SAFETY: fstatat succeeded, so `st` is initialised.
        return Ok(Some(unsafe { st.assume_init() }));
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::NotFound {
        return Ok(None);
    }
    Err(e)
}

fn fstat(f: &File) -> std::io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `f` is an open descriptor and `st` is large enough for a `stat`.
    let rc = unsafe { libc::fstat(f.as_raw_fd(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded.
    Ok(unsafe { st.assume_init() })
}

fn open_at(dir: &File, name: &CString, flags: libc::c_int) -> std::io::Result<File> {
    // SAFETY: `dir` is an open descriptor and `name` is NUL-terminated.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC | libc::O_NOFOLLOW) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// The components of a repo-relative path, refusing anything that could
/// leave the repo.
fn components(rel: &str) -> Result<Vec<CString>, FileError> {
    let bad = || FileError::BadPath { path: rel.to_string() };
    rel.split('/')
        .map(|c| {
            if c.is_empty() || c == "." || c == ".." {
                return Err(bad());
            }
            CString::new(c).map_err(|_| bad())
        })
        .collect()
}

/// What [`open`] found at a path.
pub(super) enum Opened {
    Missing,
    File(File, u64),
    Dir(File),
}

/// Open `rel` below `root`, following no link on the way; every file and
/// directory read from the repo is opened here. `dir` says which of the two
/// is wanted.
pub(super) fn open(root: &Path, rel: &str, want_dir: bool) -> Result<Opened, FileError> {
    let parts = components(rel)?;
    let mut dir = match File::open(root) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(e) => return Err(io(".")(e)),
    };
    let mut walked = String::new();
    for (i, part) in parts.iter().enumerate() {
        if !walked.is_empty() {
            walked.push('/');
        }
        walked.push_str(&part.to_string_lossy());
        let last = i + 1 == parts.len();
        let Some(st) = lstat_at(&dir, part).map_err(io(&walked))? else {
            return Ok(Opened::Missing);
        };
        let fmt = st.st_mode & libc::S_IFMT;
        let want = if last && !want_dir { libc::S_IFREG } else { libc::S_IFDIR };
        if fmt == libc::S_IFLNK {
            return Err(FileError::Link { path: walked });
        }
        if fmt != want {
            return Err(FileError::NotRegular {
                path: walked,
                kind: kind_of(st.st_mode),
            });
        }
        let flags = if want == libc::S_IFDIR {
            libc::O_RDONLY | libc::O_DIRECTORY
        } else {
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY
        };
        let f = match open_at(&dir, part, flags) {
            Ok(f) => f,
            // Swapped for a link between the lstat and the open.
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(FileError::Link { path: walked }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Opened::Missing),
            Err(e) => return Err(io(&walked)(e)),
        };
        // The type of what was opened, not of what the path named a moment ago.
        let st = fstat(&f).map_err(io(&walked))?;
        if st.st_mode & libc::S_IFMT != want {
            return Err(FileError::NotRegular {
                path: walked,
                kind: kind_of(st.st_mode),
            });
        }
        if last {
            return Ok(if want_dir {
                Opened::Dir(f)
            } else {
                Opened::File(f, st.st_size.max(0) as u64)
            });
        }
        dir = f;
    }
    Err(FileError::BadPath { path: rel.to_string() })
}

/// Read one repo file whole, if it exists, within `limit`.
pub(crate) fn read_file(root: &Path, rel: &str, limit: Limit) -> Result<Option<Vec<u8>>, FileError> {
    let (f, size) = match open(root, rel, false)? {
        Opened::Missing => return Ok(None),
        Opened::File(f, size) => (f, size),
        Opened::Dir(_) => {
            return Err(FileError::NotRegular {
                path: rel.to_string(),
                kind: "a directory",
            });
        }
    };
    let too_large = |size| FileError::TooLarge {
        path: rel.to_string(),
        size,
        limit,
    };
    if size > limit.bytes {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    f.take(limit.bytes + 1).read_to_end(&mut bytes).map_err(io(rel))?;
    if bytes.len() as u64 > limit.bytes {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(Some(bytes))
}

/// Read one repo file as UTF-8 text.
pub(crate) fn read_text(root: &Path, rel: &str, limit: Limit) -> Result<Option<String>, FileError> {
    match read_file(root, rel, limit)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| FileError::Io {
            path: rel.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
        }),
    }
}

/// A directory's entries (name, is a real directory), in name order, read
/// without following links. A link, even to a directory, is not a
/// directory here: reading it as a file refuses it by name.
pub(crate) fn list_dir(root: &Path, rel: &str, max: usize, max_name: &'static str) -> Result<Option<Vec<(String, bool)>>, FileError> {
    let Opened::Dir(dir) = open(root, rel, true)? else {
        return Ok(None);
    };
    // The directory was opened without following links; list it through
    // that descriptor, so a link swapped in at its path is not listed.
    let listing = std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd())).map_err(io(rel))?;
    let mut out = Vec::new();
    for entry in listing {
        let entry = entry.map_err(io(rel))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = format!("{rel}/{name}");
        let ft = entry.file_type().map_err(io(&child))?;
        out.push((name, ft.is_dir()));
        if out.len() > max {
            return Err(FileError::TooMany {
                path: rel.to_string(),
                max,
                name: max_name,
            });
        }
    }
    out.sort();
    Ok(Some(out))
}

/// Make the directories of `rel` below `root`, refusing to go through a
/// link (a committed `costs -> /home/runner` would send the bot's writes
/// out of the repo).
fn make_dirs(root: &Path, rel: &str) -> Result<(), FileError> {
    let mut walked = String::new();
    for part in rel.split('/') {
        if !walked.is_empty() {
            walked.push('/');
        }
        walked.push_str(part);
        let path = root.join(&walked);
        match path.symlink_metadata() {
            Ok(m) if m.file_type().is_symlink() => return Err(FileError::Link { path: walked }),
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(FileError::NotRegular {
                    path: walked,
                    kind: "a file where a directory belongs",
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(&path) {
                Ok(()) => {}
                // Another run made it between the look and the create (two
                // applies writing one month's first session): fine if it is
                // a real directory, refused like above if it is not.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match path.symlink_metadata() {
                    Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {}
                    Ok(m) if m.file_type().is_symlink() => return Err(FileError::Link { path: walked }),
                    Ok(_) => {
                        return Err(FileError::NotRegular {
                            path: walked,
                            kind: "a file where a directory belongs",
                        });
                    }
                    Err(e) => return Err(io(&walked)(e)),
                },
                Err(e) => return Err(io(&walked)(e)),
            },
            Err(e) => return Err(io(&walked)(e)),
        }
    }
    Ok(())
}

/// Write a repo file atomically (a temporary file renamed over it), never
/// through a link: its directories are checked, the temporary file is
/// created new with `O_NOFOLLOW`, and the rename replaces a link at `rel`
/// rather than writing where it points.
pub(crate) fn write_atomic(root: &Path, rel: &str, bytes: &[u8]) -> Result<(), FileError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let parts = components(rel)?;
    if let Some((dir, _)) = rel.rsplit_once('/') {
        make_dirs(root, dir)?;
    }
    debug_assert!(!parts.is_empty());
    let tmp_rel = format!("{rel}.tmp{}", std::process::id());
    let tmp = root.join(&tmp_rel);
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&tmp_rel)(e)),
        _ => {}
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(io(&tmp_rel))?;
    f.write_all(bytes).map_err(io(&tmp_rel))?;
    drop(f);
    std::fs::rename(&tmp, root.join(rel)).map_err(io(rel))
}
