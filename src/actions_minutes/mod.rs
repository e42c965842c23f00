//! GitHub Actions minutes: a cost, and a hard stop. In a private repository
//! every job is billed rounded up to a whole minute, and on GitHub Free
//! Actions stops for the account's private repositories once the 2,000
//! included minutes are used (no stop, no budget guard, a server left
//! running). Public repositories are free.
//!
//! The running tally of a month lives in storage (`ledger/<server>/actions/
//! <YYYY-MM>.json`, [`ActionsTally`]), not in the repository: each reconcile
//! run adds the runs that finished since the last one (their jobs' own
//! `started_at`/`completed_at`, from the GitHub API: [`github`]), so no
//! run needs a bot commit of its own. COSTS.md shows the tally whenever the
//! bot commits for another reason (a session started, ended, or its
//! activity changed), and STATUS.md and the plan warn when the month's
//! projection passes the included minutes.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

pub mod github;

/// Minutes a month GitHub Free includes for private repositories.
pub const FREE_INCLUDED_MINUTES: u32 = 2000;

/// The share of the included minutes past which STATUS.md and the plan warn
/// even when the projection stays under.
pub const WARN_AT_PERCENT: u32 = 80;

/// A month's tally: one wire format, written and read by this type.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsTally {
    /// `YYYY-MM`.
    pub month: String,
    /// The repository's visibility as the last run's event payload said;
    /// `None`: not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<bool>,
    /// Billed minutes of each finished run of this month, by run id.
    pub runs: BTreeMap<u64, u32>,
    /// The creation time of the newest run counted: the next run asks
    /// GitHub for runs created since a little before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_created: Option<DateTime<Utc>>,
}

/// One job of a finished run, as GitHub reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobTiming {
    pub started: Option<DateTime<Utc>>,
    pub completed: Option<DateTime<Utc>>,
    /// `conclusion = skipped`: never started on a runner, not billed.
    pub skipped: bool,
}

/// Minutes GitHub bills for these jobs: each job that ran rounded up to a
/// whole minute (a job of 3 s is a minute, one of 61 s two).
pub fn billed_minutes(jobs: &[JobTiming]) -> u32 {
    jobs.iter()
        .filter(|j| !j.skipped)
        .map(|j| match (j.started, j.completed) {
            (Some(s), Some(c)) if c > s => {
                let secs = (c - s).num_milliseconds().max(0) as u64;
                secs.div_ceil(60_000).max(1) as u32
            }
            _ => 1,
        })
        .sum()
}

/// `YYYY-MM` of `t`.
pub fn month_of(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

/// The storage key of `month`'s tally for `server`.
pub fn tally_key(server: &crate::ids::ServerName, month: &str) -> String {
    format!("ledger/{server}/actions/{month}.json")
}

/// What COSTS.md, STATUS.md and the plan say about a month.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionsUsage {
    pub month: String,
    pub runs: usize,
    pub minutes: u32,
    /// `Some(false)`: public, free. `None`: not known.
    pub private: Option<bool>,
    /// Included minutes, for a private repository (GitHub Free's).
    pub included: Option<u32>,
    /// This month's minutes at this pace by its last day.
    pub projected: u32,
}

impl ActionsTally {
    pub fn new(month: String) -> Self {
        ActionsTally {
            month,
            ..Default::default()
        }
    }

    pub fn minutes(&self) -> u32 {
        self.runs.values().sum()
    }

    /// The month so far, projected to its end at the pace so far.
    pub fn usage(&self, now: DateTime<Utc>) -> ActionsUsage {
        let minutes = self.minutes();
        let projected = if month_of(now) == self.month {
            let start = now
                .with_day(1)
                .and_then(|d| d.date_naive().and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
                .unwrap_or(now);
            let days = days_in_month(now.year(), now.month()) as f64;
            let elapsed = ((now - start).num_seconds() as f64 / 86_400.0).max(1.0);
            ((minutes as f64) * days / elapsed).ceil() as u32
        } else {
            minutes
        };
        ActionsUsage {
            month: self.month.clone(),
            runs: self.runs.len(),
            minutes,
            private: self.private,
            included: (self.private != Some(false)).then_some(FREE_INCLUDED_MINUTES),
            projected: projected.max(minutes),
        }
    }
}

impl ActionsUsage {
    /// For the plan (with figures): past [`WARN_AT_PERCENT`] of the included
    /// minutes, or projected past them. Never for a public repository.
    pub fn warning(&self) -> Option<String> {
        let included = self.included?;
        let high = self.minutes * 100 >= included * WARN_AT_PERCENT;
        if !(high || self.projected > included) {
            return None;
        }
        Some(format!(
            "GitHub Actions: {} of the {included} minutes included for private repositories used in {}, {} projected by its end; when they run out Actions stops, and with it every stop, budget guard and idle deletion (docs/setup.md, Actions minutes)",
            self.minutes, self.month, self.projected
        ))
    }

    /// For STATUS.md: the same without figures, so the file changes when the
    /// warning comes or goes, not at every run (COSTS.md has the figures).
    pub fn status_warning(&self) -> Option<String> {
        self.warning().map(|_| {
            format!(
                "GitHub Actions minutes for {} are projected past (or near) the {} included for private repositories: see COSTS.md",
                self.month,
                self.included.unwrap_or(FREE_INCLUDED_MINUTES)
            )
        })
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    chrono::NaiveDate::from_ymd_opt(next.0, next.1, 1)
        .and_then(|d| d.pred_opt())
        .map_or(30, |d| d.day())
}

/// The repository's visibility from the run's event payload
/// (`$GITHUB_EVENT_PATH`: `repository.private`), when it says.
pub fn private_from_event(payload: &serde_json::Value) -> Option<bool> {
    payload.get("repository")?.get("private")?.as_bool()
}

/// Where the GitHub API is and which repository, from a run's environment.
pub struct GithubRun {
    pub api: crate::http::Api,
    pub repo: String,
    /// From the event payload; `None`: it did not say.
    pub private: Option<bool>,
}

impl GithubRun {
    /// `GITHUB_TOKEN`, `GITHUB_REPOSITORY` (and `GITHUB_API_URL`,
    /// `GITHUB_EVENT_PATH`) as Actions sets them; `None` outside a run.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Option<Result<GithubRun, crate::http::HttpError>> {
        use crate::inputs::Var;
        let token = inputs.secret(Var::GithubToken)?;
        let repo = inputs.var(Var::GithubRepository).filter(|r| r.contains('/'))?;
        let base = inputs.var(Var::GithubApiUrl).unwrap_or_else(|| github::DEFAULT_API.into());
        let private = inputs
            .var(Var::GithubEventPath)
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| private_from_event(&v));
        Some(github::api(&base, token).map(|api| GithubRun { api, repo, private }))
    }
}

/// This month's usage: the tally in storage, brought up to date from GitHub
/// and stored again when `github` is given (a reconcile run) and found new
/// runs. What failed is returned as warnings; the usage is then the stored one.
pub async fn observe(store: &crate::storage::Store, github: Option<&GithubRun>, now: DateTime<Utc>) -> (Option<ActionsUsage>, Vec<String>) {
    let month = month_of(now);
    let key = tally_key(store.server(), &month);
    let mut warnings = Vec::new();
    let stored = match store.get_json::<ActionsTally>(&key).await {
        Ok(t) => t.filter(|t| t.month == month),
        Err(e) => {
            warnings.push(format!(
                "reading the Actions minutes tally {key}: {}",
                crate::error::render_error(&e)
            ));
            None
        }
    };
    let Some(gh) = github else {
        return (stored.map(|t| t.usage(now)), warnings);
    };
    let mut tally = stored.unwrap_or_else(|| ActionsTally::new(month));
    let before = tally.clone();
    if gh.private.is_some() {
        tally.private = gh.private;
    }
    if let Err(e) = github::refresh(&gh.api, &gh.repo, &mut tally, now).await {
        warnings.push(format!("counting the Actions minutes: {}", crate::error::render_error(&e)));
    }
    if tally != before
        && let Err(e) = store.put_json(&key, &tally).await
    {
        warnings.push(format!(
            "storing the Actions minutes tally {key}: {}",
            crate::error::render_error(&e)
        ));
    }
    (Some(tally.usage(now)), warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn job(secs: i64) -> JobTiming {
        let s = t("2026-12-01T10:00:00Z");
        JobTiming {
            started: Some(s),
            completed: Some(s + chrono::Duration::seconds(secs)),
            skipped: false,
        }
    }

    #[test]
    fn each_job_is_rounded_up_to_a_minute_and_skipped_jobs_cost_nothing() {
        assert_eq!(billed_minutes(&[job(3)]), 1);
        assert_eq!(billed_minutes(&[job(60)]), 1);
        assert_eq!(billed_minutes(&[job(61)]), 2);
        // Two jobs of 20 s are two minutes, not one.
        assert_eq!(billed_minutes(&[job(20), job(20)]), 2);
        let skipped = JobTiming { skipped: true, ..job(0) };
        assert_eq!(billed_minutes(&[skipped, job(125)]), 3);
    }

    #[test]
    fn the_projection_scales_the_month_so_far() {
        let mut tally = ActionsTally::new("2026-12".into());
        tally.private = Some(true);
        for id in 0..240 {
            tally.runs.insert(id, 2);
        }
        // 480 minutes in the first 10 days of a 31-day month: 1,488 projected.
        let u = tally.usage(t("2026-12-11T00:00:00Z"));
        assert_eq!((u.minutes, u.projected, u.included), (480, 1488, Some(2000)));
        assert_eq!(u.warning(), None);
        // The same in 6 days: 2,480 projected, warned.
        let u = tally.usage(t("2026-12-07T00:00:00Z"));
        assert_eq!(u.projected, 2480);
        assert!(u.warning().unwrap().contains("480 of the 2000 minutes"), "{:?}", u.warning());
        assert!(u.status_warning().is_some_and(|w| !w.contains("480")));
    }

    #[test]
    fn a_public_repository_is_never_warned() {
        let mut tally = ActionsTally::new("2026-12".into());
        tally.private = Some(false);
        tally.runs.insert(1, 5000);
        let u = tally.usage(t("2026-12-02T00:00:00Z"));
        assert_eq!(u.included, None);
        assert_eq!(u.warning(), None);
    }

    #[test]
    fn the_tally_round_trips_and_visibility_comes_from_the_event() {
        let mut tally = ActionsTally::new("2026-12".into());
        tally.private = Some(true);
        tally.runs.insert(17, 1);
        tally.newest_created = Some(t("2026-12-01T10:17:00Z"));
        let json = serde_json::to_string(&tally).unwrap();
        assert_eq!(serde_json::from_str::<ActionsTally>(&json).unwrap(), tally);
        assert_eq!(
            private_from_event(&serde_json::json!({"repository": {"private": true}})),
            Some(true)
        );
        assert_eq!(private_from_event(&serde_json::json!({"schedule": "17 * * * *"})), None);
    }
}
