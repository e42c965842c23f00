//! Opening the state repo's files: the one place any of them is read.
//!
//! The repo is written by people the bot must not trust with the runner's
//! secrets: a template linked to `/proc/self/environ` once put
//! `HCLOUD_TOKEN` into STATUS.md. So a repo file is read only if it is a
//! regular file reached without following a link at any step: each path
//! component is opened with `openat(…, O_NOFOLLOW)` from the directory
//! opened before it, so a link swapped in between a check and the open is
//! refused too, and the file's type and size come from the open file itself
//! (`fstat`), never from the path. A FIFO, device or socket is refused
//! before it is opened (opening a FIFO would block the check for ever), and
//! every file has a size limit ([`Limit`], from [`super::limits`]) that is
//! enforced while reading, so a file growing under the reader cannot pass
//! it either.
//!
//! Directories are walked without following links, in name order, with a
//! cap on depth and on how many files one holds; a link found by the walk is
//! refused, never skipped silently (a friend should learn why their file
//! does not count).

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;

use super::limits::*;

/// A size limit and the words a refusal uses for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// The constant's name in `repo::limits`, so a user can find the reason.
    pub name: &'static str,
    pub bytes: u64,
    /// What kind of file it applies to, for messages.
    pub what: &'static str,
}

pub const SERVER_TOML: Limit = Limit {
    name: "MAX_SERVER_TOML_BYTES",
    bytes: MAX_SERVER_TOML_BYTES,
    what: "server.toml",
};
pub const PLAYER_FILE: Limit = Limit {
    name: "MAX_PLAYER_FILE_BYTES",
    bytes: MAX_PLAYER_FILE_BYTES,
    what: "a player file",
};
pub const OPS_TOML: Limit = Limit {
    name: "MAX_OPS_TOML_BYTES",
    bytes: MAX_OPS_TOML_BYTES,
    what: "ops.toml",
};
pub const MODS_TOML: Limit = Limit {
    name: "MAX_MODS_TOML_BYTES",
    bytes: MAX_MODS_TOML_BYTES,
    what: "mods.toml",
};
pub const MODS_LOCK: Limit = Limit {
    name: "MAX_MODS_LOCK_BYTES",
    bytes: MAX_MODS_LOCK_BYTES,
    what: "mods.lock",
};
pub const CONFIG_FILE: Limit = Limit {
    name: "MAX_CONFIG_FILE_BYTES",
    bytes: MAX_CONFIG_FILE_BYTES,
    what: "a config/ file",
};
pub const SESSION_FILE: Limit = Limit {
    name: "MAX_SESSION_FILE_BYTES",
    bytes: MAX_SESSION_FILE_BYTES,
    what: "a session file",
};
pub const TEMPLATE: Limit = Limit {
    name: "MAX_TEMPLATE_BYTES",
    bytes: MAX_TEMPLATE_BYTES,
    what: "a template",
};
pub const COSTS_FILE: Limit = Limit {
    name: "MAX_COSTS_FILE_BYTES",
    bytes: MAX_COSTS_FILE_BYTES,
    what: "a costs/ month file",
};

/// A file the bot renders (COSTS.md, STATUS.md), read back to compare.
pub const SUMMARY_FILE: Limit = Limit {
    name: "MAX_RENDERED_BYTES",
    bytes: MAX_RENDERED_BYTES as u64,
    what: "a rendered file",
};

/// Why a repo file was not read. Every variant names the path it is about
/// (for a link in the middle of a path, the link).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path} is a symbolic link; the state repo's files are read only as regular files, never through links")]
    Link { path: String },
    #[error("{path} is {kind}, not a regular file")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path} is {size} bytes, over the {}-byte limit for {} ({})", limit.bytes, limit.what, limit.name)]
    TooLarge { path: String, size: u64, limit: Limit },
    #[error("{path}/ holds more than {max} entries, the limit ({name})")]
    TooMany { path: String, max: usize, name: &'static str },
    #[error("{path} is nested more than {MAX_DIR_DEPTH} directories deep (MAX_DIR_DEPTH)")]
    TooDeep { path: String },
    #[error("{path} would take the repo's files over {MAX_REPO_BYTES} bytes in all (MAX_REPO_BYTES)")]
    RepoTooLarge { path: String },
    #[error("{path:?} is not a relative path inside the repo")]
    BadPath { path: String },
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl FileError {
    /// The repo path the refusal is about.
    pub fn path(&self) -> &str {
        match self {
            FileError::Link { path }
            | FileError::NotRegular { path, .. }
            | FileError::TooLarge { path, .. }
            | FileError::TooMany { path, .. }
            | FileError::TooDeep { path }
            | FileError::RepoTooLarge { path }
            | FileError::BadPath { path }
            | FileError::Io { path, .. } => path,
        }
    }

    /// The message without the leading path (diagnostics print the path
    /// themselves), with the I/O cause when there is one.
    pub fn message(&self) -> String {
        let full = match self {
            FileError::Io { source, .. } => format!("{self}: {source}"),
            _ => self.to_string(),
        };
        let path = self.path();
        full.strip_prefix(path)
            .or_else(|| full.strip_prefix(&format!("{path:?}")))
            .map_or(full.clone(), |rest| rest.trim_start_matches('/').trim_start().to_string())
    }

    /// What would be valid.
    pub fn help(&self) -> &'static str {
        match self {
            FileError::Link { .. } => "commit the file itself, not a link to it (git shows a link as mode 120000)",
            FileError::NotRegular { .. } => "only regular files belong in the state repo",
            FileError::TooLarge { .. } | FileError::RepoTooLarge { .. } => {
                "the limits are in src/repo/limits.rs; a state repo holds small text files"
            }
            FileError::TooMany { .. } => "the limits are in src/repo/limits.rs; remove files you do not need",
            FileError::TooDeep { .. } => "keep config/ and sessions/ shallow",
            FileError::BadPath { .. } => "name a file by its path relative to the repo root",
            FileError::Io { .. } => "check the file's permissions",
        }
    }

    pub fn diagnostic(&self) -> super::diag::Diagnostic {
        super::diag::Diagnostic {
            severity: super::diag::Severity::Error,
            file: self.path().to_string(),
            line: 0,
            col: 0,
            message: self.message(),
            help: Some(self.help().to_string()),
        }
    }
}

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
pub enum Opened {
    Missing,
    File(File, u64),
    Dir(File),
}

/// Open `rel` below `root`, following no link on the way; every file and
/// directory read from the repo is opened here. `dir` says which of the two
/// is wanted.
pub fn open(root: &Path, rel: &str, want_dir: bool) -> Result<Opened, FileError> {
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
pub fn read_file(root: &Path, rel: &str, limit: Limit) -> Result<Option<Vec<u8>>, FileError> {
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
pub fn read_text(root: &Path, rel: &str, limit: Limit) -> Result<Option<String>, FileError> {
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
pub fn list_dir(root: &Path, rel: &str, max: usize, max_name: &'static str) -> Result<Option<Vec<(String, bool)>>, FileError> {
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&path).map_err(io(&walked))?;
            }
            Err(e) => return Err(io(&walked)(e)),
        }
    }
    Ok(())
}

/// Write a repo file atomically (a temporary file renamed over it), never
/// through a link: its directories are checked, the temporary file is
/// created new with `O_NOFOLLOW`, and the rename replaces a link at `rel`
/// rather than writing where it points.
pub fn write_atomic(root: &Path, rel: &str, bytes: &[u8]) -> Result<(), FileError> {
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

/// A budget on everything read from one repo ([`MAX_REPO_BYTES`]).
pub struct Budget {
    left: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { left: MAX_REPO_BYTES }
    }
}

impl Budget {
    /// [`read_file`], counted against the budget.
    pub fn read(&mut self, root: &Path, rel: &str, limit: Limit) -> Result<Option<Vec<u8>>, FileError> {
        if self.left == 0 {
            return Err(FileError::RepoTooLarge { path: rel.to_string() });
        }
        let capped = Limit {
            bytes: limit.bytes.min(self.left),
            ..limit
        };
        match read_file(root, rel, capped) {
            Err(FileError::TooLarge { size, .. }) if size <= limit.bytes => Err(FileError::RepoTooLarge { path: rel.to_string() }),
            Ok(Some(bytes)) => {
                self.left -= bytes.len() as u64;
                Ok(Some(bytes))
            }
            other => other,
        }
    }

    /// Every regular file below `dir` (none if it does not exist), at most
    /// `max` of them, each within `limit`; what could not be read is
    /// refused one by one, and reading stops at the first count or depth
    /// problem.
    pub fn walk(&mut self, root: &Path, dir: &str, limit: Limit, max: usize, max_name: &'static str) -> Walked {
        let mut out = Walked::default();
        let mut stack = vec![(dir.to_string(), 0usize)];
        let mut count = 0usize;
        while let Some((rel, depth)) = stack.pop() {
            if depth > MAX_DIR_DEPTH {
                out.refused.push(FileError::TooDeep { path: rel });
                continue;
            }
            let entries = match list_dir(root, &rel, max, max_name) {
                Ok(Some(e)) => e,
                Ok(None) => continue,
                Err(e) => {
                    out.refused.push(e);
                    continue;
                }
            };
            for (name, is_dir) in entries.into_iter().rev() {
                let child = format!("{rel}/{name}");
                if is_dir {
                    stack.push((child, depth + 1));
                    continue;
                }
                count += 1;
                if count > max {
                    out.refused.push(FileError::TooMany {
                        path: dir.to_string(),
                        max,
                        name: max_name,
                    });
                    return out;
                }
                match self.read(root, &child, limit) {
                    Ok(Some(bytes)) => out.files.push((child, bytes)),
                    Ok(None) => {}
                    Err(e) => out.refused.push(e),
                }
            }
        }
        out
    }
}

/// What a walk read and what it refused.
#[derive(Debug, Default)]
pub struct Walked {
    pub files: Vec<(String, Vec<u8>)>,
    pub refused: Vec<FileError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::write(d.path().join("a/b/f.toml"), "x = 1\n").unwrap();
        d
    }

    #[test]
    fn a_regular_file_within_its_limit_reads() {
        let d = dir();
        assert_eq!(read_file(d.path(), "a/b/f.toml", TEMPLATE).unwrap().unwrap(), b"x = 1\n");
        assert!(read_file(d.path(), "a/b/none.toml", TEMPLATE).unwrap().is_none());
        assert!(read_file(d.path(), "nope/none.toml", TEMPLATE).unwrap().is_none());
    }

    #[test]
    fn paths_that_leave_the_repo_are_refused() {
        let d = dir();
        for bad in ["../etc/passwd", "/etc/passwd", "a/./b/f.toml", "a//f", ""] {
            assert!(
                matches!(read_file(d.path(), bad, TEMPLATE), Err(FileError::BadPath { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_link_anywhere_on_the_path_is_refused_and_named() {
        let d = dir();
        std::os::unix::fs::symlink(d.path().join("a"), d.path().join("l")).unwrap();
        std::os::unix::fs::symlink("f.toml", d.path().join("a/b/g.toml")).unwrap();
        let e = read_file(d.path(), "l/b/f.toml", TEMPLATE).unwrap_err();
        assert!(matches!(&e, FileError::Link { path } if path == "l"), "{e}");
        let e = read_file(d.path(), "a/b/g.toml", TEMPLATE).unwrap_err();
        assert!(matches!(&e, FileError::Link { path } if path == "a/b/g.toml"), "{e}");
        assert_eq!(
            e.message(),
            "is a symbolic link; the state repo's files are read only as regular files, never through links"
        );
    }

    #[test]
    fn a_file_one_byte_over_its_limit_is_refused_with_the_limit_named() {
        let d = dir();
        let limit = Limit {
            name: "MAX_TEST",
            bytes: 5,
            what: "a test file",
        };
        let e = read_file(d.path(), "a/b/f.toml", limit).unwrap_err();
        assert_eq!(e.message(), "is 6 bytes, over the 5-byte limit for a test file (MAX_TEST)");
        assert!(read_file(d.path(), "a/b/f.toml", Limit { bytes: 6, ..limit }).is_ok());
    }

    #[test]
    fn the_repo_budget_stops_reading_once_spent() {
        let d = dir();
        let mut b = Budget { left: 8 };
        assert!(b.read(d.path(), "a/b/f.toml", TEMPLATE).unwrap().is_some());
        let e = b.read(d.path(), "a/b/f.toml", TEMPLATE).unwrap_err();
        assert!(matches!(e, FileError::RepoTooLarge { .. }), "{e}");
    }

    #[test]
    fn a_walk_caps_the_count_and_refuses_links_by_name() {
        let d = dir();
        for i in 0..3 {
            std::fs::write(d.path().join(format!("a/{i}.toml")), "").unwrap();
        }
        let w = Budget::default().walk(d.path(), "a", TEMPLATE, 10, "MAX_T");
        assert_eq!(w.files.len(), 4);
        assert!(w.refused.is_empty());
        let w = Budget::default().walk(d.path(), "a", TEMPLATE, 2, "MAX_T");
        assert!(matches!(&w.refused[..], [FileError::TooMany { max: 2, .. }]), "{:?}", w.refused);
        std::os::unix::fs::symlink("/etc", d.path().join("a/b/etc")).unwrap();
        let w = Budget::default().walk(d.path(), "a", TEMPLATE, 10, "MAX_T");
        assert!(
            matches!(&w.refused[..], [FileError::Link { path }] if path == "a/b/etc"),
            "{:?}",
            w.refused
        );
    }
}
