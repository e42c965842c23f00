//! `mc-gitops init DIR`: a new state repo from the example compiled into the
//! binary (`state-repo-example/`), so an admin starts from files that are
//! known to pass `check`, with their comments explaining every key.
//!
//! The example's history is not copied: `sessions/` and anything the bot
//! writes (costs, STATUS.md) or keeps locally (`.mc-gitops/storage`, cache)
//! belong to the example's own server. The new repo is stopped, carries the
//! given name and DNS zone, and its workflows name this binary's version.

use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry, include_dir};

use crate::repo::edit::EditError;

static EXAMPLE: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/state-repo-example");

/// Paths of the example that a new repo does not get.
const LEFT_OUT: &[&str] = &[
    "sessions",
    "costs",
    "COSTS.md",
    "STATUS.md",
    ".mc-gitops/storage",
    ".mc-gitops/cache",
];

/// The example's own server name and zone, replaced in the copied text.
const EXAMPLE_ZONE: &str = "grove.place";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} exists and is not empty; init only writes into a new or empty directory")]
    NotEmpty(PathBuf),
    #[error(
        "{name:?} is not a valid server name: use 2–32 lowercase letters, digits and '-', starting with a letter and not ending with '-'"
    )]
    Name { name: String },
    #[error("{zone:?} is not a DNS zone name like example.org")]
    Zone { zone: String },
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("editing server.toml")]
    Edit(#[from] EditError),
    #[error("editing server.toml")]
    Toml(#[from] toml_edit::TomlError),
}

fn left_out(path: &Path) -> bool {
    LEFT_OUT.iter().any(|p| path.starts_with(p))
}

/// The loader's own rule, so `init` never writes a name `check` refuses.
fn valid_name(n: &str) -> bool {
    crate::repo::server::valid_server_name(n)
}

fn valid_zone(z: &str) -> bool {
    z.contains('.')
        && z.len() <= 253
        && z.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Create the repo; returns the files written, relative to `dir`.
pub fn init(dir: &Path, name: &str, zone: &str) -> Result<Vec<String>, InitError> {
    if !valid_name(name) {
        return Err(InitError::Name { name: name.into() });
    }
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    if !valid_zone(&zone) {
        return Err(InitError::Zone { zone });
    }
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(InitError::NotEmpty(dir.to_path_buf()));
    }
    let mut written = Vec::new();
    copy(&EXAMPLE, dir, name, &zone, &mut written)?;
    written.sort();
    Ok(written)
}

fn copy(d: &Dir<'_>, out: &Path, name: &str, zone: &str, written: &mut Vec<String>) -> Result<(), InitError> {
    for entry in d.entries() {
        if left_out(entry.path()) {
            continue;
        }
        match entry {
            DirEntry::Dir(sub) => copy(sub, out, name, zone, written)?,
            DirEntry::File(f) => {
                let rel = f.path();
                let bytes = match f.contents_utf8() {
                    Some(text) => adapt(rel, text, name, zone)?.into_bytes(),
                    None => f.contents().to_vec(),
                };
                let path = out.join(rel);
                let io = |source| InitError::Io {
                    path: path.clone(),
                    source,
                };
                std::fs::create_dir_all(path.parent().expect("a file is inside the repo")).map_err(io)?;
                std::fs::write(&path, bytes).map_err(io)?;
                written.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(())
}

/// The example's text, made the new repo's.
fn adapt(rel: &Path, text: &str, name: &str, zone: &str) -> Result<String, InitError> {
    let text = text.replace(EXAMPLE_ZONE, zone);
    if rel == Path::new("server.toml") {
        let mut doc: toml_edit::DocumentMut = text.parse()?;
        let keep = |item: &toml_edit::Item, v: &str| {
            let mut value = toml_edit::Value::from(v);
            if let Some(d) = item.as_value().map(|x| x.decor().clone()) {
                *value.decor_mut() = d;
            }
            toml_edit::Item::Value(value)
        };
        doc["name"] = keep(&doc["name"], name);
        doc["state"] = keep(&doc["state"], "stopped");
        if let Some(storage) = doc.get_mut("storage").and_then(|s| s.as_table_mut()) {
            let bucket = format!("{name}-worlds");
            storage["bucket"] = keep(&storage["bucket"], &bucket);
        }
        return Ok(doc.to_string());
    }
    if rel.starts_with(".github/workflows") {
        // The workflows download the release this binary came from.
        return Ok(text.replace(
            "MC_GITOPS_VERSION: \"0.1.0\"",
            &format!("MC_GITOPS_VERSION: \"{}\"", env!("CARGO_PKG_VERSION")),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_zones_are_checked() {
        assert!(valid_name("grove") && valid_name("a-1") && !valid_name("Grove") && !valid_name("1a") && !valid_name("a-"));
        assert!(valid_zone("example.org") && !valid_zone("example") && !valid_zone("-a.org") && !valid_zone("a..org"));
    }

    #[test]
    fn the_history_is_not_embedded_in_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let files = init(&dir.path().join("new"), "oak", "oak.example").unwrap();
        assert!(files.iter().all(|f| !f.starts_with("sessions")), "{files:?}");
        assert!(files.contains(&"server.toml".to_string()) && files.contains(&"README.md".to_string()));
        for wf in ["reconcile.yml", "check.yml", "check-comment.yml", "console.yml"] {
            assert!(files.contains(&format!(".github/workflows/{wf}")), "{wf}: {files:?}");
        }
        let again = init(&dir.path().join("new"), "oak", "oak.example");
        assert!(matches!(again, Err(InitError::NotEmpty(_))));
    }
}
