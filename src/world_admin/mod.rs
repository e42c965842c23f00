//! The admin's (and the agent's) hands on the world in storage: `mc-gitops
//! world backup | restore | list | verify | prune | pin`, whose arguments
//! are `src/cli/world.rs`. It sits above `world` (layer 4) because
//! `backup --remote` asks the running agent through `console`, and storage
//! is found the way `connect` finds it.
//!
//! Only server.toml is read (its `name`, `[storage]` and `[lifecycle]`), with
//! the loader's own parser ([`crate::repo::read_server`]), so these work on the VPS from a config directory
//! holding server.toml alone, and on a repo whose other files are broken —
//! exactly when someone may need a backup most. Progress goes to stderr,
//! only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::repo::read_server;
use crate::storage::Store;
use crate::world::{self, BackupName, WorldError, retention};

/// One command on the world in storage (`mc-gitops world …` parses into this).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorldCommand {
    /// Snapshot `dir` into storage, verify it, point current.json at it;
    /// `remote` asks the running server's agent instead.
    Backup {
        dir: PathBuf,
        taken: Option<DateTime<Utc>>,
        pin: bool,
        remote: bool,
    },
    /// Replace `dir` with the named backup (default: the current one).
    Restore { name: Option<String>, dir: PathBuf },
    /// List backups, newest first.
    List,
    /// Download a backup (default: the current one) and check every sha256.
    Verify { name: Option<String> },
    /// Delete backups beyond the newest `keep` (default: lifecycle.keep_backups).
    Prune { keep: Option<usize> },
    /// Pin a backup (`off`: unpin it).
    Pin { name: String, off: bool },
}

/// Run one command; messages to `out`.
pub async fn run(inputs: &crate::inputs::Inputs, cmd: WorldCommand, repo: &Path, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    if let WorldCommand::Backup { remote: true, .. } = cmd {
        let ask = crate::console::Ask {
            action: crate::storage::requests::Action::Backup,
            command: None,
            wait: Some(crate::console::DEFAULT_WAIT),
        };
        return crate::console::run(inputs, repo, ask, out).await;
    }
    let server = read_server(repo)?;
    let store = Store::from_settings(
        inputs,
        server.storage.as_ref(),
        &crate::connect::local_storage_dir(inputs, repo),
        &server.name,
    )?;
    let progress = Meter::new();
    let tick = |n: u64| progress.tick(n);
    match cmd {
        WorldCommand::Backup { dir, taken, pin, .. } => {
            let now = Utc::now();
            if let Some(t) = taken.filter(|t| *t > now + world::MAX_CLOCK_SKEW) {
                return Err(WorldError::FutureTaken { taken: t, now }.into());
            }
            let m = world::snapshot(&store, &dir, taken.unwrap_or(now), &tick).await?;
            progress.done();
            if pin {
                retention::set_pin(&store, &m.name, true).await?;
            }
            writeln!(
                out,
                "backed up {} as {} ({} files, {}; uploaded {} in {} new pieces, the rest stored already) to {}",
                dir.display(),
                m.name,
                m.files,
                human(m.world_bytes.unwrap_or_default()),
                human(m.added_bytes.unwrap_or_default()),
                m.added_pieces.unwrap_or_default(),
                store.describe
            )?;
        }
        WorldCommand::Restore { name, dir } => {
            let m = pick(&store, name.as_deref()).await?;
            let files = world::restore(&store, &m, &dir, &tick).await?;
            progress.done();
            writeln!(
                out,
                "restored {} into {} ({files} files, every sha256 verified)",
                m.name,
                dir.display()
            )?;
        }
        WorldCommand::List => {
            let current = store.current_snapshot().await?.and_then(|p| BackupName::from_key(&p.key));
            writeln!(out, "{:<30}  {:>10}  {:>10}  marks", "backup", "world", "added")?;
            for b in retention::list(&store).await?.iter().rev() {
                // Its size and what it added: from its manifest (an old
                // archive added all of itself).
                let m = match b.manifest {
                    true => world::manifest(&store, &b.name).await.ok().flatten(),
                    false => None,
                };
                let world = m.as_ref().and_then(|m| m.world_bytes).map(human).unwrap_or_default();
                let added = match &m {
                    Some(m) if m.is_pieces() => m.added_bytes.map(human).unwrap_or_default(),
                    _ => b.size.map(human).unwrap_or_default(),
                };
                let mut marks = vec![];
                if Some(&b.name) == current.as_ref() {
                    marks.push("current");
                }
                if b.pinned {
                    marks.push("pinned");
                }
                if !b.complete() {
                    marks.push("incomplete");
                }
                writeln!(out, "{:<30}  {:>10}  {:>10}  {}", b.name.to_string(), world, added, marks.join(" "))?;
            }
        }
        WorldCommand::Verify { name } => {
            let m = pick(&store, name.as_deref()).await?;
            world::verify(&store, &m, &tick).await?;
            progress.done();
            writeln!(out, "{} is intact ({}, sha256 {})", m.name, human(m.size), m.sha256)?;
        }
        WorldCommand::Prune { keep } => {
            let keep = keep.unwrap_or(server.lifecycle.keep_backups as usize);
            // The backup server.toml's `restore` names stays, as in the reconciler's retention.
            let spare: Vec<BackupName> = server.restore.iter().filter_map(|n| BackupName::parse(n).ok()).collect();
            let gone = retention::prune(&store, keep, &spare).await?;
            for g in &gone {
                writeln!(out, "deleted {g}")?;
            }
            writeln!(
                out,
                "{} deleted, newest {keep} kept (plus pinned, current and the one `restore` names)",
                gone.len()
            )?;
        }
        WorldCommand::Pin { name, off } => {
            let n = BackupName::parse(&name)?;
            retention::set_pin(&store, &n, !off).await?;
            writeln!(out, "{} {n}", if off { "unpinned" } else { "pinned" })?;
        }
    }
    Ok(())
}

/// The named backup's manifest, or the current one's.
async fn pick(store: &Store, name: Option<&str>) -> Result<world::Manifest, WorldError> {
    match name {
        Some(n) => world::resolve(store, n).await,
        None => {
            let p = store.current_snapshot().await?.ok_or_else(|| WorldError::NoCurrent {
                store: store.describe.clone(),
            })?;
            let n = BackupName::from_key(&p.key).ok_or_else(|| WorldError::BadName { name: p.key.clone() })?;
            world::resolve(store, &n.to_string()).await
        }
    }
}

fn human(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / MIB)
    } else {
        format!("{n} B")
    }
}

/// A one-line progress meter on stderr, at most once a second, only on a terminal.
struct Meter {
    on: bool,
    start: Instant,
    last: AtomicU64,
}

impl Meter {
    fn new() -> Self {
        Meter {
            on: std::io::stderr().is_terminal(),
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }
    fn tick(&self, bytes: u64) -> bool {
        if self.on {
            let secs = self.start.elapsed().as_secs();
            if self.last.swap(secs, Ordering::Relaxed) != secs {
                let rate = bytes as f64 / self.start.elapsed().as_secs_f64().max(0.001);
                eprint!("\r{} at {}/s   ", human(bytes), human(rate as u64));
            }
        }
        true
    }
    fn done(&self) {
        if self.on {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests;
