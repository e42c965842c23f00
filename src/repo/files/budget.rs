//! The budget on everything read from one repo, and the walk of a directory
//! that reads each file against it and refuses (never skips) what it cannot read.

use std::path::Path;

use super::{FileError, Limit, list_dir, read_file};
use crate::repo::limits::*;

/// A budget on everything read from one repo ([`MAX_REPO_BYTES`]).
pub(crate) struct Budget {
    pub(super) left: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { left: MAX_REPO_BYTES }
    }
}

impl Budget {
    /// [`read_file`], counted against the budget.
    pub(crate) fn read(&mut self, root: &Path, rel: &str, limit: Limit) -> Result<Option<Vec<u8>>, FileError> {
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
    pub(crate) fn walk(&mut self, root: &Path, dir: &str, limit: Limit, max: usize, max_name: &'static str) -> Walked {
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
pub(crate) struct Walked {
    pub files: Vec<(String, Vec<u8>)>,
    pub refused: Vec<FileError>,
}
