//! Notifications to a Discord webhook: start, ready, suspend, stop, crash
//! and budget stop, when `[notify] discord = true` lists the event.
//!
//! The webhook URL is the secret (anyone holding it can post), so it comes
//! only from `DISCORD_WEBHOOK_URL`, is kept as the HTTP client's base and is
//! never a logged path, an error or a message. Requests go through
//! [`crate::http::Api`] like every other API (Discord's 429 carries
//! `Retry-After` in seconds). A notification that cannot be sent is a
//! warning in the report: it never fails the apply that caused it.
//!
//! `apply` posts what the plan and report show it did: start, stop (with the
//! reason the session file records), crash,
//! budget, a stop overdue for its final snapshot, and ready and suspend when it recorded the agent's report of
//! them in the session file (the VPS never holds the webhook; the session
//! file keeps a rerun from posting twice).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::apply::{Outcome, Report};
use crate::http::{Api, HttpError, Policy, RateLimit, Retry};
use crate::plan::{CloseSession, CreateServer, EndReason, Plan, RecordReady, RecordStopOverdue, RecordSuspend, Step};
use crate::repo::Desired;
use crate::secret::Secret;

pub const WEBHOOK_VAR: &str = "DISCORD_WEBHOOK_URL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Start,
    Ready,
    Suspend,
    Stop,
    Crash,
    Budget,
    /// A stop has waited past `plan::STOP_ALERT_AFTER` for its final snapshot.
    Overdue,
}

impl Event {
    /// The name used in `[notify] events`.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::Ready => "ready",
            Event::Suspend => "suspend",
            Event::Stop => "stop",
            Event::Crash => "crash",
            Event::Budget => "budget",
            Event::Overdue => "overdue",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The URL itself is not repeated: it is the secret.
    #[error("{WEBHOOK_VAR} is not an http(s) URL")]
    Url,
    #[error("Discord webhook")]
    Http(#[source] Box<HttpError>),
    #[error("Discord webhook answered {status}")]
    Refused { status: u16 },
}

/// What a notification says. `detail` is what happened in this instance
/// (region, reason); it carries names and numbers only, never a credential.
pub fn content(desired: &Desired, event: Event, detail: &str) -> String {
    let name = desired.server.name.as_str();
    let host = desired.server.dns.host();
    let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
    match event {
        Event::Start => format!("🟡 **{name}** is starting{detail}. Wait for \"ready\" before joining `{host}`."),
        Event::Ready => format!("🟢 **{name}** is ready: join `{host}`{detail}."),
        Event::Suspend => format!("💤 **{name}** is suspended: nobody was online{detail}. Joining wakes it."),
        Event::Stop => format!("⚪ **{name}** stopped{detail}. The world is saved."),
        Event::Crash => format!("🔴 **{name}** stopped: Minecraft kept crashing{detail}. The world is saved as Minecraft last wrote it."),
        Event::Budget => format!("💸 **{name}** stopped: this month's budget is reached{detail}."),
        Event::Overdue => format!(
            "🚨 **{name}** is still billing: its stop has waited too long for the final snapshot{detail}. The agent may be dead; an admin can force the stop (STATUS.md says how)."
        ),
    }
}

/// The post for a session that ended, with the reason its file records.
pub fn ended(reason: EndReason) -> (Event, String) {
    match reason {
        EndReason::Budget => (Event::Budget, String::new()),
        EndReason::Crash => (Event::Crash, String::new()),
        r => (Event::Stop, format!("{}: {}", r.as_str(), r.why())),
    }
}

/// The events this run caused: changes of the plan that were carried out.
pub fn events(plan: &Plan, report: &Report) -> Vec<(Event, String)> {
    let mut out = Vec::new();
    for (change, (_, outcome)) in plan.changes.iter().zip(&report.results) {
        if !matches!(outcome, Outcome::Done(_)) {
            continue;
        }
        match &change.step {
            Step::CreateServer(CreateServer { region, .. }) => out.push((Event::Start, format!("region {region}"))),
            Step::RecordReady(RecordReady { .. }) => out.push((Event::Ready, String::new())),
            Step::RecordSuspend(RecordSuspend { .. }) => out.push((Event::Suspend, String::new())),
            Step::RecordStopOverdue(RecordStopOverdue { since, .. }) => out.push((
                Event::Overdue,
                format!("asked {}", since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            )),
            Step::CloseSession(CloseSession { reason, .. }) => out.push(ended(*reason)),
            _ => {}
        }
    }
    out
}

/// The webhook client.
pub struct Discord {
    api: Api,
}

impl std::fmt::Debug for Discord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Discord { webhook: [redacted] }")
    }
}

impl Discord {
    /// `None` when no webhook is configured.
    /// `DISCORD_WEBHOOK_URL`; `None` when unset or empty.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Option<Result<Self, NotifyError>> {
        inputs.secret(crate::inputs::Var::DiscordWebhookUrl).map(|url| Discord::new(&url))
    }

    pub fn new(url: &Secret) -> Result<Self, NotifyError> {
        let policy = Policy {
            attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        };
        // The whole URL is the base, so the only path ever logged is "".
        let api = Api::anonymous(url.expose(), RateLimit::RetryAfterSeconds("retry-after"), policy).map_err(|_| NotifyError::Url)?;
        Ok(Discord { api })
    }

    /// `GET` the webhook: Discord answers its name without posting
    /// anything (404 "Unknown Webhook" once it is deleted, 401 "Invalid
    /// Webhook Token" when the URL's token part is wrong). For `doctor`.
    pub async fn exists(&self) -> Result<String, NotifyError> {
        let r = self
            .api
            .send(Method::GET, "", None, Retry::Transient)
            .await
            .map_err(|e| NotifyError::Http(Box::new(e)))?;
        if !r.status.is_success() {
            return Err(NotifyError::Refused { status: r.status.as_u16() });
        }
        Ok(r.body.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_string())
    }

    /// Post one message. Mentions are disabled: a player name like
    /// `@everyone` in a message must not ping the channel.
    pub async fn post(&self, content: &str) -> Result<(), NotifyError> {
        let body = json!({
            "content": content,
            "username": "mc-gitops",
            "allowed_mentions": { "parse": [] },
        });
        // Retried on 429 and 5xx like any request: a rare duplicate message
        // is better than a lost "ready".
        let r = self
            .api
            .send(Method::POST, "", Some(&body), Retry::Transient)
            .await
            .map_err(|e| NotifyError::Http(Box::new(e)))?;
        if r.status.is_success() {
            Ok(())
        } else {
            Err(NotifyError::Refused { status: r.status.as_u16() })
        }
    }
}

/// Post the run's events that `[notify]` asks for. Returns warnings for the
/// report; never an error.
pub async fn after_apply(desired: &Desired, plan: &Plan, report: &Report, discord: Option<&Discord>) -> Vec<String> {
    let notify = &desired.server.notify;
    let wanted: Vec<(Event, String)> = events(plan, report)
        .into_iter()
        .filter(|(e, _)| notify.discord && notify.events.iter().any(|n| n == e.as_str()))
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let Some(discord) = discord else {
        return vec![format!(
            "[notify] discord = true but {WEBHOOK_VAR} is not set: no notification sent"
        )];
    };
    let mut warnings = Vec::new();
    for (event, detail) in wanted {
        if let Err(e) = discord.post(&content(desired, event, &detail)).await {
            warnings.push(format!(
                "notifying Discord of {}: {}",
                event.as_str(),
                crate::error::render_error(&e)
            ));
        }
    }
    warnings
}
