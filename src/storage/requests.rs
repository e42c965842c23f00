//! `control/<s>/requests/`: the admin's requests to the agent (a console
//! command, a backup now, suspend now) and the agent's answers, one type
//! each, read and written by the same type.
//!
//! - `control/<s>/requests/<id>.json` ([`RequestDoc`]) — written by
//!   `mc-gitops console` with a conditional create (`If-None-Match: *`), so
//!   a request is never overwritten, not even by another request that drew
//!   the same id.
//! - `control/<s>/requests/<id>.result.json` ([`ResultDoc`]) — written by
//!   the agent, also by a conditional create: the result existing is the
//!   record that the request was done, and it is never replaced.
//!
//! Ids sort by time ([`RequestId`]): the agent runs pending requests in id
//! order. Both documents are untrusted when read (anything holding the
//! VPS's scoped credentials can write here): size-capped by
//! [`super::MAX_DOCUMENT_BYTES`], unknown fields refused, every string
//! bounded, and the id inside must be the one in the key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{StorageError, Store};
use crate::ids::SessionId;
use crate::repo::ledger::RequestRecord;

/// The wire format's version; a document naming another is refused.
pub const VERSION: u32 = 1;
/// The longest console command accepted (vanilla's own limit for a command
/// typed in chat is 256; the server console has none, so this is ours).
pub const MAX_COMMAND_CHARS: usize = 1000;
/// The most of Minecraft's reply a result keeps, in bytes (a `help` is ~6 KiB).
pub const MAX_REPLY_BYTES: usize = 8 * 1024;
/// A GitHub login is at most 39 characters; a little room for `bot` names.
pub const MAX_ACTOR_CHARS: usize = 64;
/// How long a request enqueued with `console --no-wait` may wait to be run.
pub const NO_WAIT_EXPIRY: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("{0:?} is not a request id (ids look like 20261204T210301Z-3f9a0c1d)")]
    BadId(String),
    #[error("{key} names id {inner}, not the id in its key")]
    WrongId { key: String, inner: String },
    #[error("{key} is version {version}; this agent reads version {VERSION}")]
    Version { key: String, version: u32 },
    #[error("{key}: {why}")]
    Invalid { key: String, why: String },
}

/// A request's id: the UTC second it was asked and 8 random hex digits,
/// `20261204T210301Z-3f9a0c1d`. Sorting ids sorts requests by when they
/// were asked (two in one second in random order, both run).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

impl RequestId {
    /// A new id for a request asked at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        let tag: u32 = rand::random();
        RequestId(format!("{}-{tag:08x}", at.format("%Y%m%dT%H%M%SZ")))
    }

    /// Check an id's shape: it becomes part of a storage key.
    pub fn parse(s: &str) -> Result<Self, RequestError> {
        let bad = || RequestError::BadId(s.chars().take(80).collect());
        let (time, tag) = s.split_once('-').ok_or_else(bad)?;
        let time_ok = chrono::NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%SZ").is_ok() && time.len() == 16;
        let tag_ok = tag.len() == 8 && tag.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        if time_ok && tag_ok {
            Ok(RequestId(s.to_string()))
        } else {
            Err(bad())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The second the id says it was asked (untrusted, as the key is: all
    /// that is known of a request that cannot be read).
    pub fn asked(&self) -> DateTime<Utc> {
        let time = self.0.split_once('-').map_or("", |(t, _)| t);
        chrono::NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%SZ")
            .expect("a RequestId is checked by parse")
            .and_utc()
    }
}

impl TryFrom<String> for RequestId {
    type Error = RequestError;
    fn try_from(s: String) -> Result<Self, RequestError> {
        RequestId::parse(&s)
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> String {
        id.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Run `command` on the server console (RCON).
    Console,
    /// A verified snapshot now, as the periodic backup takes it.
    Backup,
    /// Save, snapshot and stop Minecraft now; the VPS stays warm for a wake.
    Suspend,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Console => "console",
            Action::Backup => "backup",
            Action::Suspend => "suspend",
        }
    }
}

/// `control/<s>/requests/<id>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDoc {
    pub version: u32,
    pub id: RequestId,
    pub action: Action,
    /// The console command, without a leading `/` (only for `console`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Who asked: the GitHub login in Actions (`GITHUB_ACTOR`), else the
    /// local user, as `mc-gitops console` found it.
    pub actor: String,
    pub asked: DateTime<Utc>,
    /// After this the agent refuses the request instead of running it: an
    /// answer nobody waits for any more is not run by surprise later.
    pub expires: DateTime<Utc>,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done; `reply` is Minecraft's answer (or the snapshot's name).
    Ok,
    /// Tried and failed (or Minecraft answered with an error).
    Error,
    /// Not run, and `reply` says why.
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
        }
    }
}

/// `control/<s>/requests/<id>.result.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultDoc {
    pub version: u32,
    pub id: RequestId,
    /// `null` when the request could not be read (and so was refused unread).
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub actor: String,
    pub asked: DateTime<Utc>,
    /// When the agent ran (or refused) it.
    pub ran: DateTime<Utc>,
    pub outcome: Outcome,
    /// Minecraft's reply (at most [`MAX_REPLY_BYTES`]), the snapshot's
    /// name, or why it was refused. Untrusted text: escape it before
    /// showing it (`crate::escape`).
    pub reply: String,
    /// A backup's or suspend's verified snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The session the agent served when it answered: the session file it is recorded in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
}

impl ResultDoc {
    /// The answer to `req`, with the reply cut to [`MAX_REPLY_BYTES`].
    pub fn answer(req: &RequestDoc, ran: DateTime<Utc>, outcome: Outcome, reply: &str, session: Option<SessionId>) -> Self {
        ResultDoc {
            version: VERSION,
            id: req.id.clone(),
            action: Some(req.action),
            command: req.command.clone(),
            actor: req.actor.clone(),
            asked: req.asked,
            ran,
            outcome,
            reply: cap(reply, MAX_REPLY_BYTES),
            snapshot: None,
            session,
        }
    }

    pub fn ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }
}

/// `s` cut to at most `max` bytes on a character boundary, saying so.
pub fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let note = format!(" … ({} bytes in all)", s.len());
    let mut end = max.saturating_sub(note.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &s[..end])
}

fn invalid(key: &str, why: impl Into<String>) -> RequestError {
    RequestError::Invalid {
        key: key.into(),
        why: why.into(),
    }
}

fn check_actor(key: &str, actor: &str) -> Result<(), RequestError> {
    if actor.is_empty() || actor.chars().count() > MAX_ACTOR_CHARS || actor.chars().any(char::is_control) {
        return Err(invalid(key, format!("actor must be 1–{MAX_ACTOR_CHARS} printable characters")));
    }
    Ok(())
}

/// A console command as a request may carry it: one line, no leading `/`,
/// at most [`MAX_COMMAND_CHARS`]. Which commands are allowed is the
/// agent's decision (`crate::minecraft::commands::refusal`), not the format's.
pub fn check_command(command: &str) -> Result<(), String> {
    if command.trim().is_empty() {
        return Err("the command is empty".into());
    }
    if command.chars().count() > MAX_COMMAND_CHARS {
        return Err(format!("the command is over {MAX_COMMAND_CHARS} characters"));
    }
    if command.chars().any(char::is_control) {
        return Err("the command holds a control character (a line break, say): one command per request".into());
    }
    Ok(())
}

/// What a request and its answer are both checked for: the format's
/// version, the id inside matching the key's, and a bounded actor.
fn check_header(key: &str, key_id: &RequestId, version: u32, id: &RequestId, actor: &str) -> Result<(), RequestError> {
    if version != VERSION {
        return Err(RequestError::Version { key: key.into(), version });
    }
    if id != key_id {
        return Err(RequestError::WrongId {
            key: key.into(),
            inner: id.to_string(),
        });
    }
    check_actor(key, actor)
}

impl RequestDoc {
    /// The checks a reader makes beyond the shape: the version, the id in
    /// the key, a command exactly for `console`, bounded strings.
    pub fn check(&self, key: &str, key_id: &RequestId) -> Result<(), RequestError> {
        check_header(key, key_id, self.version, &self.id, &self.actor)?;
        match (self.action, &self.command) {
            (Action::Console, Some(c)) => check_command(c).map_err(|why| invalid(key, why))?,
            (Action::Console, None) => return Err(invalid(key, "a console request needs a command")),
            (_, Some(_)) => return Err(invalid(key, format!("a {} request carries no command", self.action.as_str()))),
            (_, None) => {}
        }
        if self.expires < self.asked {
            return Err(invalid(key, "it expires before it was asked"));
        }
        Ok(())
    }
}

impl ResultDoc {
    /// The reader's checks of an answer (the CLI and the reconciler read them).
    pub fn check(&self, key: &str, key_id: &RequestId) -> Result<(), RequestError> {
        check_header(key, key_id, self.version, &self.id, &self.actor)?;
        if self.reply.len() > MAX_REPLY_BYTES {
            return Err(invalid(key, format!("the reply is over {MAX_REPLY_BYTES} bytes")));
        }
        if self.command.as_deref().is_some_and(|c| check_command(c).is_err()) {
            return Err(invalid(key, "the command is not one a request may carry"));
        }
        Ok(())
    }
}

/// What a listing of `requests/` holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Ids with a request and no result yet, oldest first.
    pub pending: Vec<RequestId>,
    /// Ids with a result, oldest first.
    pub answered: Vec<RequestId>,
    /// Ids with a result whose request is gone (a prune that stopped
    /// halfway, or an answer written after the request was pruned).
    pub results_alone: Vec<RequestId>,
    /// Keys under `requests/` that are neither (refused by name, never read).
    pub strays: Vec<String>,
}

/// `control/<s>/requests/<id>.json`, for a caller without a [`Store`] (the
/// planner names what it will delete).
pub fn request_key_of(server: &crate::ids::ServerName, id: &RequestId) -> String {
    format!("control/{server}/requests/{id}.json")
}

/// `control/<s>/requests/<id>.result.json`, the answer beside its request.
pub fn result_key_of(server: &crate::ids::ServerName, id: &RequestId) -> String {
    format!("control/{server}/requests/{id}.result.json")
}

impl Store {
    /// `control/<s>/requests/`.
    pub fn requests_prefix(&self) -> String {
        format!("control/{}/requests/", self.server)
    }
    pub fn request_key(&self, id: &RequestId) -> String {
        request_key_of(&self.server, id)
    }
    pub fn result_key(&self, id: &RequestId) -> String {
        result_key_of(&self.server, id)
    }

    /// Enqueue a request: a conditional create, so an existing request is
    /// never overwritten ([`StorageError::Conflict`] if the id is taken).
    pub async fn put_request(&self, req: &RequestDoc) -> Result<(), StorageError> {
        self.put_json_if(&self.request_key(&req.id), req, &super::cas::Expect::Absent).await
    }

    /// Answer a request; `Ok(false)` when an answer was there already (it is kept).
    pub async fn put_result(&self, result: &ResultDoc) -> Result<bool, StorageError> {
        match self
            .put_json_if(&self.result_key(&result.id), result, &super::cas::Expect::Absent)
            .await
        {
            Ok(()) => Ok(true),
            Err(StorageError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// What `requests/` holds, by id.
    pub async fn list_requests(&self) -> Result<Listing, StorageError> {
        let prefix = self.requests_prefix();
        let mut requests = std::collections::BTreeSet::new();
        let mut results = std::collections::BTreeSet::new();
        let mut strays = Vec::new();
        for meta in self.list(&prefix).await? {
            let key = meta.location.to_string();
            let name = key.strip_prefix(&prefix).unwrap_or(&key);
            let parsed = match name.strip_suffix(".result.json") {
                Some(id) => RequestId::parse(id).map(|id| results.insert(id)),
                None => match name.strip_suffix(".json") {
                    Some(id) => RequestId::parse(id).map(|id| requests.insert(id)),
                    None => Err(RequestError::BadId(name.to_string())),
                },
            };
            if parsed.is_err() {
                strays.push(key);
            }
        }
        Ok(Listing {
            pending: requests.difference(&results).cloned().collect(),
            results_alone: results.difference(&requests).cloned().collect(),
            answered: results.into_iter().collect(),
            strays,
        })
    }

    /// A request, read as untrusted: size-capped, shape and [`RequestDoc::check`].
    pub async fn request(&self, id: &RequestId) -> Result<Option<Result<RequestDoc, String>>, StorageError> {
        let key = self.request_key(id);
        read_checked(self, &key, |d: &RequestDoc| d.check(&key, id)).await
    }

    /// A result, read as untrusted: size-capped, shape and [`ResultDoc::check`].
    pub async fn result(&self, id: &RequestId) -> Result<Option<Result<ResultDoc, String>>, StorageError> {
        let key = self.result_key(id);
        read_checked(self, &key, |d: &ResultDoc| d.check(&key, id)).await
    }
}

/// `None`: absent; `Some(Err(why))`: present but refused (too large, not
/// the shape, failed its checks); other storage failures are errors.
async fn read_checked<T: serde::de::DeserializeOwned>(
    store: &Store,
    key: &str,
    check: impl FnOnce(&T) -> Result<(), RequestError>,
) -> Result<Option<Result<T, String>>, StorageError> {
    let doc = match store.get_json::<T>(key).await {
        Ok(None) => return Ok(None),
        Ok(Some(d)) => d,
        Err(e @ (StorageError::Decode { .. } | StorageError::TooLarge { .. })) => {
            return Ok(Some(Err(crate::error::render_error(&e))));
        }
        Err(e) => return Err(e),
    };
    Ok(Some(check(&doc).map(|()| doc).map_err(|e| e.to_string())))
}

impl ResultDoc {
    /// The session file's record of this answer: the reply on one line, cut short.
    pub fn record(&self) -> RequestRecord {
        let r = self;
        let what = match (r.action, &r.command) {
            (Some(Action::Console), Some(c)) => format!("console `{c}`"),
            (Some(a), _) => a.as_str().to_string(),
            (None, _) => "unreadable".into(),
        };
        // Not ok: which way (refused, error) leads the reply.
        let prefix = if r.ok() {
            String::new()
        } else {
            format!("{}: ", r.outcome.as_str())
        };
        let one_line: String = format!("{prefix}{}", r.reply.split_whitespace().collect::<Vec<_>>().join(" "));
        let reply = match one_line.char_indices().nth(crate::repo::ledger::MAX_RECORDED_REPLY) {
            Some((end, _)) => format!("{}…", &one_line[..end]),
            None => one_line,
        };
        RequestRecord {
            id: r.id.to_string(),
            by: r.actor.clone(),
            what,
            at: r.ran,
            ok: r.ok(),
            reply,
        }
    }
}

#[cfg(test)]
#[path = "requests_tests.rs"]
mod tests;
