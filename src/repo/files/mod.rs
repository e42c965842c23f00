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

pub(crate) const SERVER_TOML: Limit = Limit {
    name: "MAX_SERVER_TOML_BYTES",
    bytes: MAX_SERVER_TOML_BYTES,
    what: "server.toml",
};
pub(crate) const PLAYER_FILE: Limit = Limit {
    name: "MAX_PLAYER_FILE_BYTES",
    bytes: MAX_PLAYER_FILE_BYTES,
    what: "a player file",
};
pub(crate) const OPS_TOML: Limit = Limit {
    name: "MAX_OPS_TOML_BYTES",
    bytes: MAX_OPS_TOML_BYTES,
    what: "ops.toml",
};
pub(crate) const MODS_TOML: Limit = Limit {
    name: "MAX_MODS_TOML_BYTES",
    bytes: MAX_MODS_TOML_BYTES,
    what: "mods.toml",
};
pub(crate) const MODS_LOCK: Limit = Limit {
    name: "MAX_MODS_LOCK_BYTES",
    bytes: MAX_MODS_LOCK_BYTES,
    what: "mods.lock",
};
pub(crate) const CONFIG_FILE: Limit = Limit {
    name: "MAX_CONFIG_FILE_BYTES",
    bytes: MAX_CONFIG_FILE_BYTES,
    what: "a config/ file",
};
pub(crate) const SESSION_FILE: Limit = Limit {
    name: "MAX_SESSION_FILE_BYTES",
    bytes: MAX_SESSION_FILE_BYTES,
    what: "a session file",
};
pub(crate) const TEMPLATE: Limit = Limit {
    name: "MAX_TEMPLATE_BYTES",
    bytes: MAX_TEMPLATE_BYTES,
    what: "a template",
};
pub(crate) const COSTS_FILE: Limit = Limit {
    name: "MAX_COSTS_FILE_BYTES",
    bytes: MAX_COSTS_FILE_BYTES,
    what: "a costs/ month file",
};

/// A file the bot renders (COSTS.md, STATUS.md), read back to compare.
pub(crate) const SUMMARY_FILE: Limit = Limit {
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

mod budget;
mod nofollow;
#[cfg(test)]
mod tests;

pub(crate) use budget::Budget;
pub(crate) use nofollow::{list_dir, read_file, read_text, write_atomic};
