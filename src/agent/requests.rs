//! The agent's end of the admin requests (`control/<s>/requests/`, see
//! [`crate::storage::requests`]): which console commands it refuses and
//! why ([`crate::minecraft::commands::refusal`]), how a reply is judged ([`judge_reply`]), and the
//! record that makes every request run at most once across agent restarts.
//!
//! Exactly once, and what happens in the crash window:
//! 1. A request whose `<id>.result.json` exists is done: never run again
//!    (the listing says so before anything is read).
//! 2. Before a request runs, `<id>.started` is written to the agent's own
//!    state directory (fsynced; `$STATE_DIRECTORY`, which systemd makes
//!    root-only, or `<minecraft_dir>-agent-state`).
//! 3. After it ran, its answer is written there too (`<id>.result.json`),
//!    then stored with a conditional create. A storage failure is retried
//!    at the next poll from the local copy, without running anything again.
//! 4. A request found started with no answer anywhere was interrupted (the
//!    agent or the VPS died while it ran): it is answered `error`, "may or
//!    may not have run", and never run again. At most once, and always
//!    answered: a command such as `give` must not run twice because the
//!    agent restarted.
//!
//! The queue is never trusted: what the CLI refuses is refused here again,
//! because anyone with the server's storage credentials can write a request.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::traits::{Incoming, PortError, PortResult};
pub use crate::minecraft::commands::refusal;
use crate::storage::Store;
use crate::storage::requests::{Outcome, RequestDoc, RequestId, ResultDoc, VERSION};

/// How many requests one control poll handles; the rest wait for the next.
pub const MAX_PER_POLL: usize = 8;

/// Vanilla 1.20.1's answers to a command it could not run
/// (`command.unknown.command`, `command.unknown.argument`,
/// `command.expected.separator`, `permissions.requires.player`).
const FAILED: &[&str] = &[
    "Unknown or incomplete command",
    "Incorrect argument for command",
    "Expected whitespace to end one argument",
    "A player is required to run this command here",
];

/// Minecraft's reply to an admin's command, as an outcome.
pub fn judge_reply(reply: &str) -> Outcome {
    if FAILED.iter().any(|f| reply.contains(f)) {
        Outcome::Error
    } else {
        Outcome::Ok
    }
}

/// The answer to a request that could not be read at all.
pub fn unreadable(id: &RequestId, why: &str, now: DateTime<Utc>, session: Option<crate::ids::SessionId>) -> ResultDoc {
    ResultDoc {
        version: VERSION,
        id: id.clone(),
        action: None,
        command: None,
        actor: "unknown".into(),
        asked: now,
        ran: now,
        outcome: Outcome::Refused,
        reply: crate::storage::requests::cap(&format!("refused, not run: the request cannot be read: {why}"), 1024),
        snapshot: None,
        session,
    }
}

/// The agent's local record of requests started and answered.
#[derive(Clone, Debug)]
pub struct Record {
    dir: PathBuf,
}

/// What the local record knows of a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Local {
    Unknown,
    /// Started, never answered: interrupted.
    Started,
    /// Answered, maybe not stored yet.
    Answered(ResultDoc),
}

fn io_err(what: &str, path: &Path, source: std::io::Error) -> PortError {
    PortError::Record {
        what: what.into(),
        path: path.to_path_buf(),
        source,
    }
}

impl Record {
    pub fn new(dir: PathBuf) -> Self {
        Record { dir }
    }

    /// `state_directory` (`$STATE_DIRECTORY`, systemd's, root-only) or
    /// `<minecraft_dir>-agent-state`.
    pub fn for_agent(minecraft_dir: &Path, state_directory: Option<std::ffi::OsString>) -> Self {
        let dir = match state_directory.filter(|v| !v.is_empty()) {
            // systemd may pass several, separated by ':'; the first is ours.
            Some(v) => PathBuf::from(v.to_string_lossy().split(':').next().unwrap_or_default()),
            None => {
                let mut name = minecraft_dir.file_name().unwrap_or_default().to_os_string();
                name.push("-agent-state");
                minecraft_dir.with_file_name(name)
            }
        };
        Record::new(dir.join("requests"))
    }

    fn path(&self, id: &RequestId, ext: &str) -> PathBuf {
        self.dir.join(format!("{id}.{ext}"))
    }

    fn write_durably(&self, path: &Path, bytes: &[u8]) -> PortResult<()> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err("creating", &self.dir, e))?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| io_err("writing", &tmp, e))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| io_err("writing", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_err("renaming", path, e))?;
        // The rename itself is durable once the directory is synced.
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("syncing", &self.dir, e))
    }

    pub fn get(&self, id: &RequestId) -> Local {
        if let Ok(bytes) = std::fs::read(self.path(id, "result.json"))
            && let Ok(r) = serde_json::from_slice::<ResultDoc>(&bytes)
        {
            return Local::Answered(r);
        }
        if self.path(id, "started").exists() {
            Local::Started
        } else {
            Local::Unknown
        }
    }

    pub fn start(&self, id: &RequestId) -> PortResult<()> {
        self.write_durably(&self.path(id, "started"), Utc::now().to_rfc3339().as_bytes())
    }

    pub fn keep(&self, r: &ResultDoc) -> PortResult<()> {
        let bytes = serde_json::to_vec(r).expect("a result serialises");
        self.write_durably(&self.path(&r.id, "result.json"), &bytes)
    }

    /// Stored: storage's result is the record from now on.
    pub fn forget(&self, id: &RequestId) {
        let _ = std::fs::remove_file(self.path(id, "result.json"));
        let _ = std::fs::remove_file(self.path(id, "started"));
    }
}

/// The interrupted request's answer.
pub fn interrupted(req: &RequestDoc, now: DateTime<Utc>, session: Option<crate::ids::SessionId>) -> ResultDoc {
    ResultDoc::answer(
        req,
        now,
        Outcome::Error,
        "interrupted: the agent restarted while this request ran; it may or may not have run (check the server before asking again)",
        session,
    )
}

/// Up to `limit` pending requests from `store`, each to run or already answered.
pub async fn incoming(store: &Store, record: &Record, limit: usize) -> PortResult<Vec<Incoming>> {
    let listing = store.list_requests().await.map_err(PortError::Control)?;
    let now = Utc::now();
    let mut out = Vec::new();
    for id in listing.pending.into_iter().take(limit) {
        if let Local::Answered(r) = record.get(&id) {
            out.push(Incoming::Answered(r));
            continue;
        }
        let doc = match store.request(&id).await.map_err(PortError::Control)? {
            None => continue, // deleted since the listing
            Some(Err(why)) => {
                tracing::warn!(%id, %why, "refusing a request that cannot be read");
                out.push(Incoming::Answered(unreadable(&id, &why, now, None)));
                continue;
            }
            Some(Ok(doc)) => doc,
        };
        out.push(match record.get(&id) {
            Local::Started => Incoming::Answered(interrupted(&doc, now, None)),
            _ => Incoming::Run(doc),
        });
    }
    Ok(out)
}

/// Keep the answer locally, then store it; the local copy goes once stored.
pub async fn answer(store: &Store, record: &Record, r: &ResultDoc) -> PortResult<()> {
    record.keep(r)?;
    match store.put_result(r).await {
        Ok(stored) => {
            if !stored {
                tracing::warn!(id = %r.id, "an answer was stored already; it is kept");
            }
            record.forget(&r.id);
            Ok(())
        }
        Err(e) => Err(PortError::Control(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vanillas_failure_answers_are_errors() {
        assert_eq!(judge_reply("Set the time to 1000"), Outcome::Ok);
        assert_eq!(judge_reply(""), Outcome::Ok, "`say` answers nothing");
        assert_eq!(judge_reply("Unknown or incomplete command, see below for error"), Outcome::Error);
        assert_eq!(judge_reply("Incorrect argument for command"), Outcome::Error);
    }

    #[test]
    fn the_record_knows_started_and_answered_requests() {
        let tmp = tempfile::tempdir().unwrap();
        let rec = Record::new(tmp.path().join("requests"));
        let id = RequestId::parse("20261204T210301Z-3f9a0c1d").unwrap();
        assert_eq!(rec.get(&id), Local::Unknown);
        rec.start(&id).unwrap();
        assert_eq!(rec.get(&id), Local::Started);
        let r = unreadable(&id, "x", Utc::now(), None);
        rec.keep(&r).unwrap();
        assert_eq!(rec.get(&id), Local::Answered(r));
        rec.forget(&id);
        assert_eq!(rec.get(&id), Local::Unknown);
    }

    #[test]
    fn without_systemd_the_record_sits_beside_the_minecraft_directory() {
        let r = Record::for_agent(Path::new("/srv/minecraft"), None);
        assert_eq!(r.dir, Path::new("/srv/minecraft-agent-state/requests"));
    }

    #[test]
    fn under_systemd_the_record_sits_in_the_first_state_directory() {
        let r = Record::for_agent(Path::new("/srv/minecraft"), Some("/var/lib/mc-gitops:/var/lib/other".into()));
        assert_eq!(r.dir, Path::new("/var/lib/mc-gitops/requests"));
        let r = Record::for_agent(Path::new("/srv/minecraft"), Some("".into()));
        assert_eq!(r.dir, Path::new("/srv/minecraft-agent-state/requests"));
    }
}
