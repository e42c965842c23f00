//! The stat cache beside a world (`.<world>.pieces.json`): what the last
//! backup read of each large file (size, mtime, inode, hash, pieces), so an
//! unchanged file is not read again. Lost or unreadable, it is only rebuilt.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `.<world>.pieces.json` beside the world directory.
pub(crate) fn cache_path(dir: &Path) -> PathBuf {
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = dir.file_name().map_or_else(|| "world".into(), |n| n.to_string_lossy().into_owned());
    parent.join(format!(".{name}.pieces.json"))
}

/// What the last backup read of each large file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct StatCache {
    /// When it was written, in ns since the epoch.
    pub written_ns: i128,
    pub files: HashMap<String, Cached>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cached {
    pub size: u64,
    pub mtime_ns: i128,
    pub ino: u64,
    pub sha256: String,
    pub pieces: Vec<String>,
}

impl StatCache {
    pub(super) fn load(path: &Path) -> StatCache {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
    pub(super) fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).expect("the cache serialises"))?;
        std::fs::rename(tmp, path)
    }
}

pub(super) fn mtime_ns(m: &std::fs::Metadata) -> i128 {
    i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
}
