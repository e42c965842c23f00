//! Planned sittings and quiet hours (`[schedule]` in server.toml) in the plan.
//!
//! A sitting is pre-warmed: the run that would otherwise leave the start to
//! a later run too late for the planned minute (that run's tick plus a cold
//! start is past it) starts it, by setting `state = "running"` in the same
//! commit that opens the session, so every later run, the idle rules and the
//! automatic stop see an ordinary running session. The bot cannot add cron
//! lines to its own workflow (GITHUB_TOKEN may not push workflow files), so
//! when the workflow's ticks would start a sitting much earlier than needed
//! the plan warns and names the line to add.
//!
//! Quiet hours refuse a start of a new server: an explicit `state =
//! "running"` inside them is set back to stopped with the reason, and a
//! sitting whose minute falls inside them is skipped with a warning. They do
//! not stop a session already running, and a player joining a suspended
//! server (wake on join) still wakes it: the VPS exists and is billed for
//! the hour anyway (docs/state-repo.md, `[schedule]`).

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use serde::Serialize;

use crate::observe::Observed;
use crate::plan::{RefuseQuietStart, SetStateRunning};
use crate::repo::schedule::Schedule;
use crate::repo::{Desired, SwitchState};

/// From the create to joinable, for pre-warming: the cold start on a fresh
/// Debian VPS (boot, packages, world restore, Minecraft's boot) with room
/// to spare. The cold-start budget (issue 17 item 6) measures its parts.
pub const COLD_START_ALLOWANCE: TimeDelta = TimeDelta::minutes(10);

/// The reconcile workflow's safety-net interval (reconcile.yml's
/// `schedule:`), assumed for the next tick when the run was not told the
/// workflow's ticks ([`Observed::reconcile_ticks`] empty).
pub const SAFETY_NET_INTERVAL: TimeDelta = TimeDelta::minutes(60);

/// GitHub starts scheduled runs late, worst at :00; a run this late after
/// a sitting's minute still starts it rather than skip the evening.
pub(crate) const LATE_START_GRACE: TimeDelta = TimeDelta::minutes(60);

/// A workflow tick that would start a sitting more than this before it is
/// needed leaves the server waiting (and perhaps idling into suspension):
/// the plan names a cron line to add.
pub(crate) const PREWARM_SLACK: TimeDelta = TimeDelta::minutes(20);

/// GitHub's usual delay of a scheduled run, added before the cold start in
/// the cron line the plan suggests.
pub(crate) const GITHUB_DELAY_ALLOWANCE: TimeDelta = TimeDelta::minutes(5);

/// The schedule as the plan shows it (`--json`: `schedule`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanSchedule {
    /// The next planned start still to come (or started by this plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_start: Option<DateTime<Utc>>,
    /// The same in the schedule's time zone: `Fri 2026-12-11 19:00 Europe/Berlin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_start_local: Option<String>,
    /// Quiet hours holding `now`, as written ("23:30-08:00").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_now: Option<String>,
}

/// The sitting this run must start now (its planned minute), if any.
pub(super) fn due_sitting(d: &Desired, o: &Observed) -> Option<DateTime<Utc>> {
    let s = d.server.schedule.as_ref()?;
    let planned = s.next_start(o.now - LATE_START_GRACE)?;
    // Quiet hours skip it (a warning says so); the budget refuses it like any start.
    if s.quiet_at(planned).is_some() || o.month_to_date >= d.server.budget.monthly {
        return None;
    }
    let next_tick = next_tick(o);
    if next_tick + COLD_START_ALLOWANCE <= planned {
        return None; // a later run is soon enough
    }
    // Once per sitting: a session started since its pre-warm window opened is it.
    let window = planned - COLD_START_ALLOWANCE - (next_tick - o.now).max(SAFETY_NET_INTERVAL) - PREWARM_SLACK;
    if o.last_start.is_some_and(|t| t >= window) {
        return None;
    }
    Some(planned)
}

/// The next run of the reconcile workflow on its schedule.
fn next_tick(o: &Observed) -> DateTime<Utc> {
    o.reconcile_ticks
        .iter()
        .copied()
        .find(|t| *t > o.now)
        .unwrap_or(o.now + SAFETY_NET_INTERVAL)
}

/// Until when an explicit start is refused, when `now` is in quiet hours.
pub(super) fn quiet_refusal<'a>(d: &'a Desired, o: &Observed) -> Option<(&'a Schedule, DateTime<Utc>)> {
    if d.server.state != SwitchState::Running {
        return None;
    }
    let s = d.server.schedule.as_ref()?;
    Some((s, s.quiet_until(o.now)?))
}

/// The schedule as the plan shows it: the sitting this plan starts, or else the next one.
pub(super) fn plan_schedule(d: &Desired, o: &Observed, starting: Option<DateTime<Utc>>) -> Option<PlanSchedule> {
    let s = d.server.schedule.as_ref()?;
    let next = starting.or_else(|| s.next_start(o.now));
    Some(PlanSchedule {
        next_start: next,
        next_start_local: next.map(|t| s.local(t)),
        quiet_now: s.quiet_at(o.now).map(|q| q.to_string()),
    })
}

impl super::Builder<'_> {
    /// `state = "running"` for a due sitting: one commit with the session it opens.
    pub(super) fn set_running_for_sitting(&mut self, planned: DateTime<Utc>) {
        let local = self
            .d
            .server
            .schedule
            .as_ref()
            .map_or_else(|| planned.to_rfc3339(), |s| s.local(planned));
        self.change(
            super::Op::Update,
            "server.toml state",
            super::Step::SetStateRunning(SetStateRunning { sitting: planned }),
            serde_json::json!("stopped"),
            serde_json::json!("running"),
            format!(
                "planned sitting {local}: started now so the server is joinable then (a cold start takes up to {} min)",
                COLD_START_ALLOWANCE.num_minutes()
            ),
        );
    }

    pub(super) fn refuse_quiet(&mut self, s: &Schedule, until: DateTime<Utc>) {
        let hours = s.quiet_at(self.o.now).map(|q| q.to_string()).unwrap_or_default();
        let until_local = s.local(until);
        self.notice(
            super::Level::Error,
            format!(
                "not starting: quiet hours {hours} ({}) until {until_local}; set state = \"running\" again after that",
                s.timezone.name()
            ),
        );
        self.change(
            super::Op::Update,
            "server.toml state",
            super::Step::RefuseQuietStart(RefuseQuietStart { until }),
            serde_json::json!("running"),
            serde_json::json!("stopped"),
            format!("quiet hours {hours} until {until_local}: no start is allowed"),
        );
    }

    /// The next sitting, quiet hours now, and whether the workflow's ticks can meet the sitting.
    pub(super) fn schedule_notices(&mut self) {
        let (d, o) = (self.d, self.o);
        let Some(s) = d.server.schedule.as_ref() else { return };
        if let Some(q) = s.quiet_at(o.now) {
            self.notice(super::Level::Info, format!("quiet hours now ({q} {}): no start", s.timezone.name()));
        }
        let Some(planned) = s.next_start(o.now) else { return };
        self.notice(super::Level::Info, format!("next scheduled start: {}", s.local(planned)));
        if s.quiet_at(planned).is_some() {
            self.notice(
                super::Level::Warning,
                format!("the sitting at {} falls in quiet hours: it will not start", s.local(planned)),
            );
            return;
        }
        if let Some(line) = missing_cron_line(o, planned) {
            self.notice(
                super::Level::Warning,
                format!(
                    "reconcile.yml's schedule starts the sitting at {} more than {} min early; add `- cron: \"{line}\"` (UTC) under `schedule:` in .github/workflows/reconcile.yml to start it just in time",
                    s.local(planned),
                    PREWARM_SLACK.num_minutes()
                ),
            );
        }
    }
}

/// The crontab line (UTC) that would start the sitting at `planned` just in
/// time, when the workflow's known ticks would start it more than
/// [`PREWARM_SLACK`] early. `None` when the ticks are not known (empty) or
/// one falls close enough.
pub(crate) fn missing_cron_line(o: &Observed, planned: DateTime<Utc>) -> Option<String> {
    if o.reconcile_ticks.is_empty() {
        return None;
    }
    let needed = planned - COLD_START_ALLOWANCE;
    let last = o.reconcile_ticks.iter().copied().filter(|t| *t <= needed).max();
    if last.is_some_and(|t| needed - t <= PREWARM_SLACK) {
        return None;
    }
    Some(cron_line_for(planned))
}

/// `M H * * D` in UTC, [`GITHUB_DELAY_ALLOWANCE`] and [`COLD_START_ALLOWANCE`]
/// before `planned`.
pub(crate) fn cron_line_for(planned: DateTime<Utc>) -> String {
    let at = planned - COLD_START_ALLOWANCE - GITHUB_DELAY_ALLOWANCE;
    const DAYS: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let day = DAYS[chrono::Datelike::weekday(&at).num_days_from_monday() as usize];
    format!("{} {} * * {day}", at.minute(), at.hour())
}
