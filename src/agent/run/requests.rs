//! The admin's requests, handled at each control poll: up to
//! [`MAX_PER_POLL`] in id order, each recorded as started before it runs
//! and answered once ([`crate::agent::requests`] has the record and the
//! rules). A console command goes over the same RCON console as everything
//! else (one command at a time); a backup is the periodic backup's own
//! steps with a `manual` snapshot; a suspend is an event through the
//! lifecycle's transition function, as an idle suspension is.
//!
//! A suspend with players online is announced in game first, one fixed
//! line over the console ([`crate::countdown::Line::suspending`]: nothing
//! the admin typed), then carried out at once (the admin asked for it now;
//! a line that cannot be said does not hold it up); while a stop's countdown
//! runs ([`crate::countdown`]), suspend and backup requests are refused
//! (the stop's own snapshot follows).
//!
//! A request waits (unanswered) while Minecraft boots: it runs once the
//! server is ready, unless it expires first. Every other phase answers at
//! once, so an admin never waits on a server that cannot do it.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::{Agent, Trouble};
use crate::agent::requests::{MAX_PER_POLL, judge_reply};
use crate::agent::traits::{Console, Control, Incoming, Listener, Minecraft, Nudge, Provision, SnapshotReason, Snapshots};
use crate::lifecycle::{Event, Phase};
use crate::minecraft::commands::refusal;
use crate::storage::requests::{Action, Outcome, RequestDoc, ResultDoc};

/// What to do with one request now.
enum Step {
    /// Leave it pending: Minecraft is still booting.
    Wait,
    Answer(Outcome, String),
    Run,
}

impl<M, C, S, L, P, K, N> Agent<M, C, S, L, P, K, N>
where
    M: Minecraft,
    C: Console,
    S: Snapshots,
    L: Listener,
    P: Provision,
    K: Control,
    N: Nudge,
{
    pub(super) async fn handle_requests(&mut self) {
        let incoming = match self.ports.control.requests(MAX_PER_POLL).await {
            Ok(v) => v,
            Err(e) => return self.error(Trouble::Control, crate::error::render_error(&e)),
        };
        for item in incoming {
            let result = match item {
                Incoming::Answered(mut r) => {
                    r.session = r.session.or_else(|| self.session());
                    r
                }
                Incoming::Run(req) => match self.step(&req) {
                    Step::Wait => continue,
                    Step::Answer(outcome, why) => self.answer_of(&req, outcome, &why),
                    Step::Run => {
                        if let Err(e) = self.ports.control.starting(&req.id).await {
                            // Not recorded as started: not run (the next poll tries again).
                            self.error(Trouble::Control, crate::error::render_error(&e));
                            return;
                        }
                        info!(id = %req.id, action = req.action.as_str(), actor = %req.actor, "running an admin request");
                        self.run_request(&req).await
                    }
                },
            };
            info!(id = %result.id, outcome = result.outcome.as_str(), "answering an admin request");
            if let Err(e) = self.ports.control.answer(&result).await {
                // Kept locally; stored at the next poll, never run again.
                self.error(Trouble::Control, crate::error::render_error(&e));
                return;
            }
        }
    }

    fn session(&self) -> Option<crate::ids::SessionId> {
        self.session.clone().or_else(|| self.doc.session.clone())
    }

    fn answer_of(&self, req: &RequestDoc, outcome: Outcome, reply: &str) -> ResultDoc {
        ResultDoc::answer(req, self.clock.now(), outcome, reply, self.session())
    }

    /// Judge a request against the phase, its expiry and the refusal rules.
    fn step(&self, req: &RequestDoc) -> Step {
        let now: DateTime<Utc> = self.clock.now();
        if now > req.expires {
            let at = req.expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            return Step::Answer(Outcome::Refused, format!("expired at {at} before the server could run it; not run"));
        }
        if let (Action::Console, Some(why)) = (req.action, req.command.as_deref().and_then(refusal)) {
            return Step::Answer(Outcome::Refused, why);
        }
        let up = matches!(self.phase, Phase::Running | Phase::Idle);
        // A stop is being announced in game: its own snapshot follows it,
        // and a suspend now would cut the countdown players were promised.
        if self.countdown.is_some() && matches!(req.action, Action::Suspend | Action::Backup) {
            return Step::Answer(
                Outcome::Refused,
                "a stop is counting down in game; its final snapshot follows it; not run".into(),
            );
        }
        match (req.action, self.phase) {
            (Action::Suspend, Phase::Suspended) => Step::Answer(Outcome::Ok, "already suspended: Minecraft is stopped".into()),
            (Action::Suspend, _) if up => Step::Run,
            (_, Phase::Suspended) => Step::Answer(Outcome::Refused, self.suspended_note()),
            (_, Phase::Terminating) => Step::Answer(
                Outcome::Refused,
                "the server is shutting down (final snapshot, then the VPS is deleted); not run".into(),
            ),
            (_, Phase::Offline) => Step::Answer(Outcome::Refused, "the server is offline; not run".into()),
            // Booting (or restarting after a crash): run once it answers.
            _ if up && self.ready => Step::Run,
            _ if self.crashed => Step::Answer(Outcome::Refused, "Minecraft crashed too often and is not restarted; not run".into()),
            _ => Step::Wait,
        }
    }

    fn suspended_note(&self) -> String {
        let last = self
            .last_backup
            .as_ref()
            .and_then(|b| crate::world::BackupName::from_key(&b.key))
            .map_or(String::new(), |n| format!("; its world is in snapshot {n}"));
        format!("the server is suspended: Minecraft is stopped (a whitelisted player's login wakes it){last}; not run")
    }

    async fn run_request(&mut self, req: &RequestDoc) -> ResultDoc {
        match req.action {
            Action::Console => {
                let command = req.command.as_deref().unwrap_or_default().trim().trim_start_matches('/');
                match self.ports.console.command(command).await {
                    Ok(reply) => self.answer_of(req, judge_reply(&reply), &reply),
                    Err(e) => self.answer_of(req, Outcome::Error, &crate::error::render_error(&e)),
                }
            }
            Action::Backup => match self.backup_as(SnapshotReason::Manual).await {
                Ok(s) => {
                    let name = crate::world::BackupName::from_key(&s.key).map_or(s.key.clone(), |n| n.to_string());
                    let mut r = self.answer_of(req, Outcome::Ok, &format!("backed up as {name} (verified, sha256 {})", s.sha256));
                    r.snapshot = Some(name);
                    r
                }
                Err(e) => self.answer_of(req, Outcome::Error, &e),
            },
            Action::Suspend => {
                let before = self.last_backup.clone();
                if !self.players_online.is_empty() {
                    let line = crate::countdown::Line::suspending();
                    match self.ports.console.say(&line).await {
                        Ok(()) => info!(%line, "told the players online"),
                        Err(e) => warn!(error = %crate::error::render_error(&e), "could not tell the players online before the suspend"),
                    }
                }
                self.fire(Event::SuspendRequested).await;
                if self.phase != Phase::Suspended {
                    warn!(phase = %self.phase, "a suspend request did not suspend");
                    return self.answer_of(req, Outcome::Error, &format!("not suspended: the server is {}", self.phase));
                }
                let snapshot = self
                    .last_backup
                    .as_ref()
                    .filter(|b| Some(*b) != before.as_ref())
                    .map(|b| crate::world::BackupName::from_key(&b.key).map_or(b.key.clone(), |n| n.to_string()));
                let until = self
                    .terminate_at
                    .map(|t| {
                        format!(
                            "; the VPS stays warm until {}",
                            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        )
                    })
                    .unwrap_or_default();
                let (outcome, what) = match &snapshot {
                    Some(n) => (Outcome::Ok, format!("suspended: Minecraft stopped after snapshot {n}{until}")),
                    None => (
                        Outcome::Error,
                        format!("suspended, but the snapshot before the stop failed (see the status's last_error){until}"),
                    ),
                };
                let mut r = self.answer_of(req, outcome, &what);
                r.snapshot = snapshot;
                r
            }
        }
    }
}
