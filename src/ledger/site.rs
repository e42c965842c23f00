//! The public status page: one static `index.html` (and the modpack beside
//! it) for friends who never open GitHub, written by the same run that
//! writes STATUS.md, from the same summaries, and published by the
//! workflow (GitHub Pages), never committed to the repo.
//!
//! [`page`] turns the ledger, the run's observation and the summaries into
//! a [`Page`] (pure: every figure, time and label is computed here, so the
//! template only lays it out); [`write_site`] renders it through
//! `status.html.j2` (built in, or the repo's own under
//! `.mc-gitops/templates/`, read like every repo file: no links, size and
//! fuel limits) and writes the directory. The template is rendered with
//! HTML auto-escaping on (set explicitly in `crate::repo::ledger::templates`, not left
//! to minijinja's guess from the name): player names, mod slugs and every
//! other value from the repo or the VPS are text, never markup.
//!
//! The page works with JavaScript off (it has none), and reads the state
//! as of the run: "observed at" says when.

use std::path::Path;

use chrono::{DateTime, Utc};
use minijinja::Value;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::figures::YearMonth;
use super::reports::Summaries;
use super::site_chart::{self, Chart};
use crate::lifecycle::Phase;
use crate::observe::{Observed, ObservedFrom};
use crate::repo::ledger::templates::{self, TemplateError, Templates};
use crate::repo::ledger::{Ledger, Session};
use crate::repo::{Desired, Loader, Side};

/// Sessions the history table lists, newest first; older ones are in the repo.
pub const MAX_SESSIONS_SHOWN: usize = 100;

/// What a friend needs to know first, in five words or fewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Offline,
    Starting,
    Running,
    Suspended,
    Stopping,
}

impl State {
    /// The state after this run, as STATUS.md's phase line reads it: the
    /// observation was made before the run's changes, and where it and the
    /// ledger disagree the run started or stopped the server.
    pub fn after_run(observed: Option<Phase>, open_session: bool) -> Self {
        match (observed, open_session) {
            (None, true) => State::Running,
            (None, false) => State::Offline,
            (Some(Phase::Offline), true) => State::Starting,
            (Some(_), false) => State::Offline,
            (Some(Phase::Provisioning), true) => State::Starting,
            (Some(Phase::Running | Phase::Idle), true) => State::Running,
            (Some(Phase::Suspended), true) => State::Suspended,
            (Some(Phase::Terminating), true) => State::Stopping,
        }
    }
}

/// Everything the page shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page {
    pub server: String,
    pub motd: String,
    pub address: String,
    /// "1.20.1 (fabric)".
    pub minecraft: String,
    pub state: State,
    /// "Running — 2 players online", "Suspended — join to wake it", …
    pub headline: String,
    /// One sentence more: what to do, or what is happening.
    pub detail: String,
    /// Who is online, when the agent reported names.
    pub players_online: Option<Vec<String>>,
    pub observed_at: DateTime<Utc>,
    pub observed_at_text: String,
    /// "live" (the cloud, the agent and a ping) or "ledger" (the repo alone).
    pub observed_from: String,
    /// The next planned sitting, in the group's time zone (STATUS.md's line).
    pub next_start: Option<String>,
    /// Quiet hours in which no start is allowed, with the zone.
    pub quiet: Option<String>,
    /// The reconcile workflow's page, where collaborators press "Run workflow".
    pub start_url: Option<String>,
    pub repo_url: Option<String>,
    pub sessions: Vec<SessionRow>,
    /// All sessions in the ledger (the table shows [`MAX_SESSIONS_SHOWN`]).
    pub sessions_total: usize,
    pub month: YearMonth,
    pub month_gross: String,
    pub budget: String,
    pub budget_left: String,
    pub currency: String,
    /// Spend as a share of the budget, 0–100 (more when over), for the meter.
    pub budget_percent: u32,
    pub over_budget: bool,
    pub chart: Chart,
    pub mods: Vec<ModRow>,
    /// The `.mrpack` beside the page, when there is one.
    pub mrpack: Option<String>,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionRow {
    pub started: DateTime<Utc>,
    pub started_text: String,
    /// "eu · fsn1 · cx33".
    pub place: String,
    /// "2 h 35 min", or "running".
    pub duration: String,
    pub players: Vec<String>,
    pub peak_players: u32,
    /// "0.04 EUR", or "" when no price was recorded.
    pub cost: String,
    /// "idle", "admin", …, or "running" for the open session.
    pub ended_by: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModRow {
    pub slug: String,
    pub version: String,
    /// "client and server", "server only", "client only".
    pub side: String,
    pub url: String,
}

/// The page for the state after this run. `observed` is `None` when only
/// the ledger is known (the `ledger` command).
pub fn page(ledger: &Ledger, desired: &Desired, observed: Option<&Observed>, s: &Summaries, mrpack: Option<String>) -> Page {
    let status = &s.status;
    let now = status.reconciled;
    let open = ledger.open_session();
    let state = State::after_run(observed.map(|o| o.phase()), open.is_some());
    let players_online: Option<Vec<String>> = observed
        .and_then(|o| o.report_of_session())
        .map(|a| a.players_online.iter().map(|p| p.as_str().to_string()).collect());
    let player_count = players_online
        .as_ref()
        .map(|p| p.len() as u32)
        .or_else(|| observed.and_then(|o| o.game.as_ref()).and_then(|g| g.players()));
    let (headline, detail) = words(state, player_count, &status.address, desired);
    let repo = desired.server.github.as_ref().and_then(|g| g.repo.clone());
    let gross = status.month_gross;
    let percent = if status.budget > Decimal::ZERO {
        (gross * Decimal::from(100) / status.budget).round()
    } else {
        Decimal::ZERO
    };
    // The ledger is sorted by start: newest first is its reverse.
    let rows: Vec<SessionRow> = ledger
        .sessions
        .iter()
        .rev()
        .take(MAX_SESSIONS_SHOWN)
        .map(|x| session_row(x, now))
        .collect();
    Page {
        server: status.server.clone(),
        motd: desired.server.minecraft.motd.clone(),
        address: status.address.clone(),
        minecraft: status.minecraft.clone(),
        state,
        headline,
        detail,
        players_online: players_online.filter(|_| state == State::Running),
        observed_at: observed.map_or(now, |o| o.now),
        observed_at_text: time_text(observed.map_or(now, |o| o.now)),
        observed_from: match observed.map(|o| o.from) {
            Some(ObservedFrom::Live) => "live",
            _ => "ledger",
        }
        .to_string(),
        next_start: status.next_start.clone(),
        quiet: status.quiet.clone(),
        start_url: repo
            .as_ref()
            .map(|r| format!("https://github.com/{r}/actions/workflows/reconcile.yml")),
        repo_url: repo.as_ref().map(|r| format!("https://github.com/{r}")),
        sessions: rows,
        sessions_total: ledger.sessions.len(),
        month: status.month,
        month_gross: cents(gross),
        budget: cents(status.budget),
        budget_left: cents(status.budget_left),
        currency: status.currency.clone(),
        budget_percent: percent.to_u32().unwrap_or(0),
        over_budget: gross >= status.budget,
        chart: site_chart::chart(&s.months, status.month, status.budget, &status.currency),
        mods: mod_rows(desired),
        mrpack,
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn words(state: State, players: Option<u32>, address: &str, desired: &Desired) -> (String, String) {
    let idle = desired.server.lifecycle.idle;
    match state {
        State::Offline => (
            "Offline".into(),
            "No server is running. Someone allowed to start it can press \"Start server\"; it takes a few minutes.".into(),
        ),
        State::Starting => (
            "Starting".into(),
            format!("A server is being created and the world restored. Join {address} in a few minutes."),
        ),
        State::Running => match players {
            Some(0) => (
                "Running — nobody online".into(),
                format!("Join {address} now. With nobody online for {idle} it goes to sleep."),
            ),
            Some(1) => ("Running — 1 player online".into(), format!("Join {address} now.")),
            Some(n) => (format!("Running — {n} players online"), format!("Join {address} now.")),
            None => ("Running".into(), format!("Join {address} now.")),
        },
        State::Suspended => (
            "Suspended — join to wake it".into(),
            format!("The server is asleep with the world saved. Join {address}: your login wakes it, and it is ready in a minute or two."),
        ),
        State::Stopping => (
            "Stopping".into(),
            "The world is being saved to storage and the server deleted. Start it again once it is offline.".into(),
        ),
    }
}

fn session_row(s: &Session, now: DateTime<Utc>) -> SessionRow {
    let end = s.ended.unwrap_or(now).max(s.started);
    let mins = (end - s.started).num_minutes();
    let place = [
        Some(s.region.as_str()),
        s.location.as_ref().map(|l| l.as_str()),
        s.server_type.as_ref().map(|t| t.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let duration = match (mins / 60, mins % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    };
    SessionRow {
        started: s.started,
        started_text: s.started.format("%Y-%m-%d %H:%M").to_string(),
        place,
        duration: if s.is_open() { format!("{duration} so far") } else { duration },
        players: s.players_seen.iter().map(|p| p.as_str().to_string()).collect(),
        peak_players: s.peak_players,
        cost: match (&s.price, &s.cost) {
            (None, None) => String::new(),
            (p, _) => format!("{} {}", cents(s.cost_gross(now)), p.as_ref().map_or("", |p| p.currency.as_str()))
                .trim()
                .to_string(),
        },
        ended_by: if s.is_open() {
            "still running".into()
        } else {
            ended_by(s.end_reason.as_deref())
        },
    }
}

/// An end reason (`END_REASONS`) in a friend's words.
fn ended_by(reason: Option<&str>) -> String {
    match reason {
        Some("idle") => "nobody online",
        Some("admin") => "stopped by an admin",
        Some("budget") => "the budget ran out",
        Some("max-session") => "the session limit",
        Some("crash") => "a crash",
        Some("drift") => "the server vanished",
        Some("forced") => "a forced stop",
        Some(other) => other,
        None => "ended",
    }
    .to_string()
}

fn mod_rows(desired: &Desired) -> Vec<ModRow> {
    let mut rows: Vec<ModRow> = desired
        .lock
        .mods
        .iter()
        .map(|m| ModRow {
            slug: m.slug.clone(),
            version: m.version_number.clone(),
            side: match m.side {
                Side::Both => "client and server",
                Side::Server => "server only",
                Side::Client => "client only",
            }
            .into(),
            url: format!("https://modrinth.com/mod/{}", urlencoding(&m.slug)),
        })
        .collect();
    rows.sort_by_key(|r| r.slug.to_lowercase());
    rows
}

/// A path segment: unreserved characters as they are, every other byte escaped.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn time_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn cents(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

/// The page through the given templates.
pub fn render_with(t: &Templates, p: &Page) -> Result<String, TemplateError> {
    t.render(templates::STATUS_HTML, minijinja::context! { p => Value::from_serialize(p) })
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot write the status page into {}", dir.display())]
    Io {
        dir: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the status page")]
    File(#[from] crate::repo::files::FileError),
}

/// What [`write_site`] wrote, and what it left out and why.
#[derive(Debug, Default)]
pub struct Written {
    /// File names inside the site directory.
    pub files: Vec<String>,
    pub warnings: Vec<String>,
}

/// The modpack's file name beside the page.
pub fn mrpack_name(desired: &Desired) -> String {
    format!("{}.mrpack", desired.server.name.as_str())
}

/// Write `index.html` (and `<server>.mrpack` for a modded server) into
/// `dir`, creating it. A modpack that cannot be made is left out with a
/// warning; the page is still written, without its link.
pub fn write_site(
    repo: &Path,
    dir: &Path,
    ledger: &Ledger,
    desired: &Desired,
    observed: Option<&Observed>,
    s: &Summaries,
) -> Result<Written, SiteError> {
    std::fs::create_dir_all(dir).map_err(|source| SiteError::Io { dir: dir.into(), source })?;
    let mut out = Written::default();
    let mut mrpack = None;
    if desired.lock.loader == Loader::Fabric && !desired.lock.mods.is_empty() {
        let name = mrpack_name(desired);
        match crate::modrinth::mrpack::write(&desired.lock, desired.server.name.as_str(), &dir.join(&name)) {
            Ok(_) => {
                out.files.push(name.clone());
                mrpack = Some(name);
            }
            Err(e) => out.warnings.push(format!("the status page has no modpack: {e}")),
        }
    }
    let t = Templates::load(repo, &[templates::STATUS_HTML])?;
    let html = render_with(&t, &page(ledger, desired, observed, s, mrpack))?;
    crate::repo::files::write_atomic(dir, "index.html", html.as_bytes())?;
    out.files.insert(0, "index.html".into());
    Ok(out)
}

#[cfg(test)]
#[path = "site_tests.rs"]
mod tests;
