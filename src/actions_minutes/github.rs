//! Reads the finished workflow runs of the state repository and their jobs'
//! timing from the GitHub REST API, with the reconcile job's own
//! `GITHUB_TOKEN` (`actions: read`):
//!
//! - `GET /repos/{owner}/{repo}/actions/runs?status=completed&created=>=…&per_page=100&page=N`
//! - `GET /repos/{owner}/{repo}/actions/runs/{id}/jobs?per_page=100`
//!
//! Only runs not in the tally yet are asked for their jobs, so a run costs
//! one or two list pages and a jobs request per run finished since the last
//! one. Runs are asked for from a little before the newest one counted
//! ([`OVERLAP`]), since runs finish out of the order they were created in.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;

use super::{ActionsTally, JobTiming, billed_minutes};
use crate::http::{Api, HttpError, Policy, RateLimit, Retry};

/// GitHub's REST API, unless `GITHUB_API_URL` names another (GitHub Enterprise, a fake).
pub const DEFAULT_API: &str = "https://api.github.com";

/// A run created this long before the newest counted one and still running
/// then is counted when it finishes; older stragglers are missed (a job
/// times out after 30 minutes, and a pending run waits for one apply).
pub const OVERLAP: chrono::TimeDelta = chrono::TimeDelta::hours(3);

/// At most this many pages of 100 runs are read in one refresh.
pub const MAX_PAGES: u32 = 20;

#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    #[error("cannot reach GitHub")]
    Http(#[from] HttpError),
    #[error("GET {path} answered {status}: {message}")]
    Refused { path: String, status: u16, message: String },
    #[error("GET {path}: unexpected answer: {source}")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct RunsPage {
    workflow_runs: Vec<Run>,
}

#[derive(Deserialize)]
struct Run {
    id: u64,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct JobsPage {
    jobs: Vec<Job>,
}

#[derive(Deserialize)]
struct Job {
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    conclusion: Option<String>,
}

pub fn api(base: &str, token: crate::secret::Secret) -> Result<Api, HttpError> {
    let policy = Policy {
        attempts: 3,
        ..Policy::default()
    };
    Api::new(base, token, RateLimit::RetryAfterSeconds("retry-after"), policy)
}

async fn get<T: for<'de> Deserialize<'de>>(api: &Api, path: &str) -> Result<T, ActionsError> {
    let r = api.send(Method::GET, path, None, Retry::Transient).await?;
    if !r.status.is_success() {
        let message = r.body.get("message").and_then(|m| m.as_str()).unwrap_or("").to_string();
        return Err(ActionsError::Refused {
            path: path.to_string(),
            status: r.status.as_u16(),
            message,
        });
    }
    serde_json::from_value(r.body).map_err(|source| ActionsError::Decode {
        path: path.to_string(),
        source,
    })
}

/// Add to `tally` (this month's) every finished run of `repo` created in its
/// month and not counted yet. Returns how many runs were added.
pub async fn refresh(api: &Api, repo: &str, tally: &mut ActionsTally, now: DateTime<Utc>) -> Result<usize, ActionsError> {
    let month_start = chrono::NaiveDate::parse_from_str(&format!("{}-01", tally.month), "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .unwrap_or(now);
    let since = tally.newest_created.map_or(month_start, |t| (t - OVERLAP).max(month_start));
    let mut added = 0;
    for page in 1..=MAX_PAGES {
        let path = format!(
            "/repos/{repo}/actions/runs?status=completed&created=%3E%3D{}&per_page=100&page={page}",
            since.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let runs: RunsPage = get(api, &path).await?;
        let n = runs.workflow_runs.len();
        for run in runs.workflow_runs {
            if run.created_at < month_start || tally.runs.contains_key(&run.id) {
                continue;
            }
            let jobs: JobsPage = get(api, &format!("/repos/{repo}/actions/runs/{}/jobs?per_page=100", run.id)).await?;
            let timings: Vec<JobTiming> = jobs
                .jobs
                .iter()
                .map(|j| JobTiming {
                    started: j.started_at,
                    completed: j.completed_at,
                    skipped: j.conclusion.as_deref() == Some("skipped"),
                })
                .collect();
            tally.runs.insert(run.id, billed_minutes(&timings));
            tally.newest_created = Some(tally.newest_created.map_or(run.created_at, |t| t.max(run.created_at)));
            added += 1;
        }
        if n < 100 {
            break;
        }
    }
    Ok(added)
}
