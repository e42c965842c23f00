//! `mc-gitops console` (and `world backup --remote`): the admin's side of
//! the requests in `control/<s>/requests/` ([`crate::storage::requests`]).
//!
//! One request per run: checked here first (who asks, and the commands the
//! agent would refuse, so a refusal needs no round trip), written with a
//! conditional create, then waited for (bounded) and printed. Inside
//! GitHub Actions the asker must be an admin (`GITHUB_ACTOR` in
//! server.toml's `[github] admins` or a CODEOWNERS owner) and the answer
//! also goes to `$GITHUB_STEP_SUMMARY`, escaped: the reply is Minecraft's
//! output, which players and mods can shape.
//!
//! The agent re-checks everything it runs; this side's checks are for a
//! quick, clear answer, not the security boundary.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::escape;
use crate::inputs::{Inputs, Var};
use crate::lifecycle::Phase;
use crate::minecraft::commands::refusal;
use crate::storage::requests::{Action, RequestDoc, RequestId, ResultDoc, VERSION, check_command};
use crate::storage::{StorageError, Store};

/// How long `console` waits for the answer by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(120);
pub use crate::storage::requests::NO_WAIT_EXPIRY;
/// A status older than this says no agent is running: the request would hang.
pub const STALE_HEARTBEAT: Duration = Duration::from_secs(300);

/// What one run asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ask {
    pub action: Action,
    /// The console command (for [`Action::Console`]).
    pub command: Option<String>,
    /// How long to wait for the answer; `None`: enqueue and return.
    pub wait: Option<Duration>,
}

/// How the request ended, for the exit status.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("{0}")]
    Refused(String),
    #[error("the request {id} was {outcome}")]
    Answered { id: RequestId, outcome: &'static str },
    #[error("no answer to request {id} within {waited}s; it expires at {expires} and will not run after that")]
    TimedOut { id: RequestId, waited: u64, expires: String },
}

/// Who asks: `GITHUB_ACTOR` inside Actions, else the local user.
fn actor(inputs: &Inputs, in_actions: bool) -> Result<String, AskError> {
    let var = |v: Var| inputs.var(v).filter(|v| !v.trim().is_empty());
    if in_actions {
        return var(Var::GithubActor)
            .ok_or_else(|| AskError::Refused("GITHUB_ACTIONS=true but GITHUB_ACTOR is not set: who asks is unknown".into()));
    }
    // Bounded and printable, as a request's actor must be.
    let user: Option<String> = var(Var::User).map(|u| u.chars().filter(|c| !c.is_control()).take(40).collect());
    Ok(user
        .filter(|u| !u.is_empty())
        .map_or_else(|| "local".to_string(), |u| format!("{u} (local)")))
}

/// Refuse what needs no agent to refuse: a non-admin in Actions, a bad or
/// forbidden command.
pub fn preflight(ask: &Ask, actor: &str, admins: Option<&std::collections::BTreeSet<String>>) -> Result<(), AskError> {
    if let Some(admins) = admins
        && !admins.contains(&actor.to_ascii_lowercase())
    {
        return Err(AskError::Refused(format!(
            "{actor} is not an admin of this repo (server.toml [github] admins, or a CODEOWNERS owner): only admins may send requests to the server"
        )));
    }
    if let Some(c) = &ask.command {
        check_command(c).map_err(AskError::Refused)?;
        if let Some(why) = refusal(c) {
            return Err(AskError::Refused(why));
        }
    }
    Ok(())
}

/// Whether a request can be answered now, from the agent's status: no
/// status, an old heartbeat or an offline server would leave it unanswered.
pub fn reachable(status: Option<&crate::storage::AgentStatusDoc>, now: DateTime<Utc>, server: &str) -> Result<(), AskError> {
    let Some(s) = status else {
        return Err(AskError::Refused(format!(
            "no agent has reported for server {server}: the server is not running (set state = \"running\" in server.toml to start it); not asked"
        )));
    };
    let age = (now - s.heartbeat).to_std().unwrap_or_default();
    if s.phase == Phase::Offline || age > STALE_HEARTBEAT {
        return Err(AskError::Refused(format!(
            "the server is not running: its agent last reported {} ({}s ago, phase {}); not asked",
            s.heartbeat.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            age.as_secs(),
            s.phase
        )));
    }
    Ok(())
}

/// Ask, wait, print; `Ok` only for an `ok` answer (or an enqueued `--no-wait`).
pub async fn run(inputs: &Inputs, repo: &Path, ask: Ask, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let server = crate::repo::read_server(repo)?;
    let in_actions = inputs.in_actions();
    let actor = actor(inputs, in_actions)?;
    let admins = in_actions.then(|| {
        let listed = server.github.as_ref().map(|g| g.admins.clone()).unwrap_or_default();
        crate::check::privilege::admins_in_checkout(repo, &listed)
    });
    if let Err(e) = preflight(&ask, &actor, admins.as_ref()) {
        summary(
            inputs,
            &format!(
                "### mc-gitops console: refused\n\n{}\n",
                crate::check::comment::inline(&e.to_string())
            ),
        );
        return Err(e.into());
    }
    let store = Store::from_settings(
        inputs,
        server.storage.as_ref(),
        &crate::connect::local_storage_dir(inputs, repo),
        &server.name,
    )?;
    let now = Utc::now();
    let status = store.status().await?;
    if let Err(e) = reachable(status.as_ref(), now, server.name.as_str()) {
        summary(
            inputs,
            &format!(
                "### mc-gitops console: not asked\n\n{}\n",
                crate::check::comment::inline(&e.to_string())
            ),
        );
        return Err(e.into());
    }
    let booting = status.is_some_and(|s| s.phase == Phase::Provisioning);
    let life = ask.wait.unwrap_or(NO_WAIT_EXPIRY);
    let req = enqueue(&store, &ask, &actor, now, life).await?;
    let what = describe(Some(req.action), req.command.as_deref());
    writeln!(out, "asked {what} as request {} (by {})", req.id, escape::value(&actor))?;
    if booting {
        writeln!(
            out,
            "note: Minecraft is still starting; the request runs once it is up, or expires unrun at {}",
            req.expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?;
    }
    let Some(wait) = ask.wait else {
        writeln!(out, "not waiting: the answer will be {}", store.result_key(&req.id))?;
        return Ok(());
    };
    let result = match wait_for(inputs, &store, &req.id, wait).await? {
        Some(r) => r,
        None => {
            let e = AskError::TimedOut {
                id: req.id.clone(),
                waited: wait.as_secs(),
                expires: req.expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            };
            summary(
                inputs,
                &format!(
                    "### mc-gitops console: no answer\n\n{}\n",
                    crate::check::comment::inline(&e.to_string())
                ),
            );
            return Err(e.into());
        }
    };
    print_result(&result, out)?;
    summary(inputs, &markdown(&result));
    if result.ok() {
        Ok(())
    } else {
        Err(AskError::Answered {
            id: result.id,
            outcome: result.outcome.as_str(),
        }
        .into())
    }
}

async fn enqueue(store: &Store, ask: &Ask, actor: &str, now: DateTime<Utc>, life: Duration) -> anyhow::Result<RequestDoc> {
    // A second draw only if the first id was taken (same second, same 32 random bits).
    for _ in 0..2 {
        let req = RequestDoc {
            version: VERSION,
            id: RequestId::new(now),
            action: ask.action,
            command: ask.command.clone(),
            actor: actor.to_string(),
            asked: now,
            expires: now + chrono::Duration::from_std(life).unwrap_or(chrono::Duration::minutes(10)),
        };
        match store.put_request(&req).await {
            Ok(()) => return Ok(req),
            Err(StorageError::Conflict { .. }) => continue,
            Err(e) => return Err(e).with_context(|| format!("writing the request to {}", store.describe)),
        }
    }
    anyhow::bail!("two request ids in a row were taken already in {}", store.describe)
}

/// The answer, once there (polled each second, or `MC_GITOPS_POLL_INTERVAL_MS`).
async fn wait_for(inputs: &Inputs, store: &Store, id: &RequestId, wait: Duration) -> anyhow::Result<Option<ResultDoc>> {
    let every = crate::connect::poll_interval_ms(inputs).map_or(Duration::from_secs(1), Duration::from_millis);
    // A little past the expiry: the agent may answer at its last moment.
    let until = tokio::time::Instant::now() + wait + Duration::from_secs(5);
    loop {
        match store.result(id).await? {
            Some(Ok(r)) => return Ok(Some(r)),
            Some(Err(why)) => anyhow::bail!("the answer to request {id} cannot be read: {why}"),
            None => {}
        }
        if tokio::time::Instant::now() >= until {
            return Ok(None);
        }
        tokio::time::sleep(every).await;
    }
}

/// `console `time set day``, `backup`, `suspend`, escaped for one line.
pub fn describe(action: Option<Action>, command: Option<&str>) -> String {
    match (action, command) {
        (Some(Action::Console), Some(c)) => format!("console `{}`", escape::value(c)),
        (Some(a), _) => a.as_str().to_string(),
        (None, _) => "an unreadable request".into(),
    }
}

/// The answer for a terminal (every line escaped, see [`escape`]).
pub fn print_result(r: &ResultDoc, out: &mut (dyn Write + Send)) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} (ran {}{})",
        describe(r.action, r.command.as_deref()),
        r.outcome.as_str(),
        r.ran.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        r.session.as_ref().map_or(String::new(), |s| format!(", session {s}"))
    )?;
    if let Some(s) = &r.snapshot {
        writeln!(out, "snapshot: {}", escape::value(s))?;
    }
    if !r.reply.is_empty() {
        write!(out, "{}", escape::text(&format!("{}\n", r.reply.replace('\r', "\\r"))))?;
    }
    Ok(())
}

/// The answer as the step summary's Markdown: values inline-escaped, the
/// reply in a fence no backtick run in it can close.
pub fn markdown(r: &ResultDoc) -> String {
    let inline = crate::check::comment::inline;
    let mut s = format!(
        "### mc-gitops console: {}\n\n- request: `{}`\n- asked: {} by {}\n- ran: {}\n",
        r.outcome.as_str(),
        r.id,
        inline(&describe(r.action, r.command.as_deref())),
        inline(&r.actor),
        r.ran.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    if let Some(snap) = &r.snapshot {
        s.push_str(&format!("- snapshot: {}\n", inline(snap)));
    }
    if !r.reply.is_empty() {
        let (body, _) = crate::check::comment::cut(&r.reply, crate::storage::requests::MAX_REPLY_BYTES);
        let fence = crate::check::comment::fence_for(&body);
        s.push_str(&format!("\n{fence}text\n{body}\n{fence}\n"));
    }
    s
}

/// Append to `$GITHUB_STEP_SUMMARY` when there is one; a failure to write
/// it is a warning, never the run's result.
fn summary(inputs: &Inputs, markdown: &str) {
    if let Err(e) = inputs.append_step_summary(markdown) {
        tracing::warn!(error = %e, "cannot write the step summary");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::requests::Outcome;

    fn ask(command: &str) -> Ask {
        Ask {
            action: Action::Console,
            command: Some(command.into()),
            wait: Some(DEFAULT_WAIT),
        }
    }

    #[test]
    fn a_non_admin_or_a_forbidden_command_is_refused_before_anything_is_written() {
        let admins = ["grove-admin".to_string()].into_iter().collect();
        let e = preflight(&ask("say hi"), "Mallory", Some(&admins)).unwrap_err().to_string();
        assert!(e.contains("Mallory is not an admin"), "{e}");
        assert!(
            preflight(&ask("say hi"), "Grove-Admin", Some(&admins)).is_ok(),
            "logins are case-insensitive"
        );
        assert!(
            preflight(&ask("say hi"), "anyone", None).is_ok(),
            "outside Actions the storage keys are the check"
        );
        let e = preflight(&ask("stop"), "grove-admin", Some(&admins)).unwrap_err().to_string();
        assert!(e.contains("state = \"stopped\""), "{e}");
        let e = preflight(&ask("say a\nop Mallory"), "grove-admin", None).unwrap_err().to_string();
        assert!(e.contains("one command per request"), "{e}");
    }

    #[test]
    fn no_agent_or_an_old_heartbeat_is_answered_at_once() {
        let now: DateTime<Utc> = "2026-12-04T21:00:00Z".parse().unwrap();
        let e = reachable(None, now, "grove").unwrap_err().to_string();
        assert!(e.contains("not running"), "{e}");
        let mut st: crate::storage::AgentStatusDoc =
            serde_json::from_value(serde_json::json!({ "phase": "idle", "heartbeat": "2026-12-04T20:59:30Z" })).unwrap();
        assert!(reachable(Some(&st), now, "grove").is_ok());
        st.heartbeat = "2026-12-04T20:50:00Z".parse().unwrap();
        let e = reachable(Some(&st), now, "grove").unwrap_err().to_string();
        assert!(e.contains("600s ago"), "{e}");
    }

    #[test]
    fn the_summary_escapes_the_reply_and_the_values() {
        let req = RequestDoc {
            version: VERSION,
            id: RequestId::parse("20261204T210301Z-3f9a0c1d").unwrap(),
            action: Action::Console,
            command: Some("say <b>@everyone</b>".into()),
            actor: "grove-admin".into(),
            asked: "2026-12-04T21:03:01Z".parse().unwrap(),
            expires: "2026-12-04T21:05:01Z".parse().unwrap(),
        };
        let reply = "```\n<script>x</script> @everyone\n::error::forged";
        let r = ResultDoc::answer(&req, req.asked, Outcome::Ok, reply, None);
        let md = markdown(&r);
        assert!(md.contains("````text\n```\n<script>"), "the fence outlasts the reply's: {md}");
        assert!(md.contains("&lt;b&gt;@\u{200b}everyone"), "{md}");
        let mut out = Vec::new();
        print_result(&r, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().all(|l| !l.starts_with("::")), "{text}");
    }
}
