//! `mc-gitops check`: everything a pull request is checked for, and where
//! the verdict goes.
//!
//! Checks: every loader problem; new players' UUIDs and name spelling
//! against Mojang ([`mojang`]); who may change what ([`privilege`]). The
//! verdict is one [`CheckResult`] (problems + plan text + PR number), then
//! shown in as many places as the run can reach: annotations on stdout, the
//! job's step summary, a result file, and the PR comment when there is a
//! token. A pull request from a fork runs without secrets, so it writes the
//! result file as an artifact and a separate `workflow_run` job posts it with
//! `--post-result`, never checking out the PR's code (docs/workflows.md).

pub(crate) mod comment;
pub mod github;
pub mod mojang;
pub mod origin;

pub use comment::{MAX_COMMENT_CHARS, MAX_LISTED_PROBLEMS, inline, markdown};
pub mod privilege;
pub(crate) mod templates;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::inputs::{Inputs, Var};
use crate::repo::diag::{Diagnostic, Severity};
use crate::repo::{self, LoadError};

/// What `check` was asked to do.
pub struct Options {
    pub root: PathBuf,
    /// Write looked-up UUIDs into player files.
    pub fix: bool,
    /// The PR's base ref, for the changed files and the privilege rule.
    pub base: Option<String>,
    pub author: Option<String>,
    pub pr: Option<u64>,
    pub result_file: Option<PathBuf>,
    /// `MOJANG_API_BASE_URL` (tests point it at a fake).
    pub mojang_base: Option<String>,
}

/// The verdict, as the `check-result` artifact carries it (docs/workflows.md).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub version: u32,
    pub pr: Option<u64>,
    pub problems: Vec<Diagnostic>,
    /// The plan as text, or empty when the repo did not load.
    pub plan: String,
    /// One line about the repo ("valid: 3 players, …").
    pub summary: String,
}

impl CheckResult {
    pub fn failed(&self) -> bool {
        self.problems.iter().any(|d| d.severity == Severity::Error)
    }
}

fn problem(file: &str, message: String, help: Option<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        file: file.into(),
        line: 0,
        col: 0,
        message,
        help,
    }
}

/// Run every check; I/O errors that stop the check itself (not a repo) are `Err`.
pub async fn run(opts: &Options) -> Result<CheckResult, LoadError> {
    let mut result = CheckResult {
        version: RESULT_VERSION,
        pr: opts.pr,
        ..CheckResult::default()
    };
    let changed = match &opts.base {
        None => None,
        Some(base) => match privilege::changed_files(&opts.root, base) {
            Ok(c) => Some(c),
            Err(e) => {
                result.problems.push(problem(
                    ".",
                    format!("cannot compare with --base {base}: {}", e.message()),
                    Some("fetch the base branch (actions/checkout with fetch-depth: 0)".into()),
                ));
                None
            }
        },
    };
    let loaded = match repo::load(&opts.root) {
        Ok(l) => l,
        Err(LoadError::Invalid(diags)) => {
            result.problems.extend(diags);
            // Templates cannot be rendered without a valid repo; links and
            // oversized ones are still worth knowing about now.
            result.problems.extend(templates::refusals(&opts.root));
            return Ok(result);
        }
        Err(e) => return Err(e),
    };
    result.problems.extend(loaded.warnings.iter().cloned());
    result.problems.extend(templates::check(&opts.root, &loaded, chrono::Utc::now()));
    let d = &loaded.desired;

    if let Some(changed) = &changed {
        match &opts.author {
            None => result.problems.push(problem(
                ".",
                "--base is given but not --author, so privileges cannot be checked".into(),
                Some("pass --author ${{ github.event.pull_request.user.login }}".into()),
            )),
            Some(author) => match privilege::admins_at(&opts.root, opts.base.as_deref().unwrap_or("HEAD")) {
                Ok(admins) => result.problems.extend(privilege::judge(changed, author, &admins)),
                Err(e) => result
                    .problems
                    .push(problem(".", format!("cannot read the admins from the base: {}", e.message()), None)),
            },
        }
    }

    let touched: Vec<&str> = changed.iter().flatten().map(|c| c.path.as_str()).collect();
    let to_look_up: Vec<&crate::repo::Player> = d
        .players
        .iter()
        .filter(|p| p.uuid.is_none() || touched.contains(&format!("players/{}.toml", p.name).as_str()))
        .collect();
    if !to_look_up.is_empty() {
        result
            .problems
            .extend(players(&opts.root, &to_look_up, opts.fix, opts.mojang_base.as_deref()).await);
    }

    let now = chrono::Utc::now();
    let mut observed = crate::observe::ledger_only::observe(&loaded.ledger, &d.server, now);
    observed.reconcile_ticks = crate::observe::reconcile_ticks(&opts.root, now);
    let plan = crate::plan::plan(d, &observed);
    result.plan = anstream::adapter::strip_str(&crate::plan::render::text(&plan)).to_string();
    result.problems.extend(quiet_start(&plan));
    result.summary = format!(
        "{} players, {} ops, {} mods, {} sessions",
        d.players.len(),
        d.ops.len(),
        d.mods.wanted.len(),
        loaded.ledger.sessions.len()
    );
    Ok(result)
}

/// A pull request whose merge would start the server in quiet hours: the
/// start would be refused (and state set back to stopped), so the check says
/// so before the merge. A warning, not a failure: merged later, it starts.
fn quiet_start(plan: &crate::plan::Plan) -> Option<Diagnostic> {
    let until = plan.changes.iter().find_map(|c| match c.step {
        crate::plan::Step::RefuseQuietStart(crate::plan::RefuseQuietStart { until }) => Some(until),
        _ => None,
    })?;
    let hours = plan.schedule.as_ref().and_then(|s| s.quiet_now.clone()).unwrap_or_default();
    Some(Diagnostic {
        severity: Severity::Warning,
        file: "server.toml".into(),
        line: 0,
        col: 0,
        message: format!(
            "merged now, this would start the server during quiet hours ({hours}, [schedule] quiet): the start is refused and state set back to \"stopped\" until {}",
            until.format("%Y-%m-%d %H:%M UTC")
        ),
        help: Some("merge after the quiet hours end, or change `quiet` in [schedule]".into()),
    })
}

/// Look each player up at Mojang; with `fix`, record missing UUIDs.
async fn players(root: &Path, players: &[&crate::repo::Player], fix: bool, mojang_base: Option<&str>) -> Vec<Diagnostic> {
    let mojang = match mojang::Mojang::new(mojang_base) {
        Ok(m) => m,
        Err(e) => return vec![problem("players/", format!("MOJANG_API_BASE_URL: {e}"), None)],
    };
    let mut out = Vec::new();
    for p in players {
        let rel = format!("players/{}.toml", p.name);
        match mojang.profile(p.name.as_str()).await {
            Err(e) => out.push(problem(
                &rel,
                crate::error::render_error(&e),
                Some("the name could not be checked; run the check again".into()),
            )),
            Ok(None) => out.push(problem(
                &rel,
                format!("there is no Minecraft account named \"{}\"", p.name),
                Some("check the spelling of the in-game name (not the Microsoft account e-mail)".into()),
            )),
            Ok(Some(profile)) if profile.name != p.name.as_str() => out.push(problem(
                &rel,
                format!("the account is spelt \"{}\", not \"{}\"", profile.name, p.name),
                Some(format!(
                    "rename the file to players/{}.toml and write name = \"{}\"",
                    profile.name, profile.name
                )),
            )),
            Ok(Some(profile)) => match &p.uuid {
                Some(u) if Some(*u) != crate::ids::PlayerUuid::parse(&profile.uuid) => out.push(problem(
                    &rel,
                    format!("uuid {u} is not {}'s; Mojang says {}", p.name, profile.uuid),
                    Some(format!("write uuid = \"{}\" (or remove it and run check --fix)", profile.uuid)),
                )),
                Some(_) => {}
                None if fix => {
                    if let Err(e) = mojang::write_uuid(root, &rel, &profile.uuid) {
                        out.push(problem(&rel, e, None));
                    } else {
                        eprintln!("{}: wrote uuid = \"{}\"", crate::escape::value(&rel), profile.uuid);
                    }
                }
                // The loader already warns that the uuid is missing.
                None => {}
            },
        }
    }
    out
}

/// A check-result file bigger than this is refused unread: the largest a
/// real check writes is the plan (tens of KB) and the problems; the comment
/// it becomes is cut to [`MAX_COMMENT_CHARS`] anyway.
pub const MAX_RESULT_BYTES: u64 = 1024 * 1024;

/// The `version` of [`CheckResult`] this binary writes and reads.
pub const RESULT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ResultFileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is {size} bytes, over MAX_RESULT_BYTES ({MAX_RESULT_BYTES}): not a check-result file")]
    TooBig { path: String, size: u64 },
    #[error("{path} is not a check-result file (docs/workflows.md): {cause}")]
    Invalid { path: String, cause: String },
    #[error("{path} has version {found}; this mc-gitops reads version {RESULT_VERSION}")]
    Version { path: String, found: u32 },
    #[error("{path} names no pull request (run check with --pr N)")]
    NoPr { path: String },
}

/// Read a check-result file written by another job (possibly a fork's
/// modified check.yml): size-capped, unknown fields refused, version checked.
/// Its text stays untrusted: [`markdown`] escapes it.
pub fn read_result_file(path: &Path) -> Result<CheckResult, ResultFileError> {
    let p = path.display().to_string();
    let io = |source| ResultFileError::Io { path: p.clone(), source };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_RESULT_BYTES {
        return Err(ResultFileError::TooBig { path: p, size });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let result: CheckResult = serde_json::from_str(&text).map_err(|e| ResultFileError::Invalid {
        path: p.clone(),
        cause: e.to_string(),
    })?;
    if result.version != RESULT_VERSION {
        return Err(ResultFileError::Version {
            path: p,
            found: result.version,
        });
    }
    if result.pr.is_none() {
        return Err(ResultFileError::NoPr { path: p });
    }
    Ok(result)
}

/// Where the comment would go, if this run has what it takes.
pub fn comment_target(inputs: &Inputs, pr: Option<u64>) -> Option<github::Target> {
    Some(github::Target {
        api: inputs.var(Var::GithubApiUrl).unwrap_or_else(|| "https://api.github.com".into()),
        repo: inputs.var(Var::GithubRepository)?,
        pr: pr?,
        token: inputs.secret(Var::GithubToken)?,
    })
}

/// Append to `$GITHUB_STEP_SUMMARY`, if the job has one.
pub fn write_step_summary(inputs: &Inputs, r: &CheckResult) -> std::io::Result<bool> {
    inputs.append_step_summary(&markdown(r))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;

    use crate::repo::schedule::{QuietHours, Schedule};

    /// A pull request merged during quiet hours would have its start refused:
    /// the check says so (a warning on server.toml), and not outside them.
    #[test]
    fn a_start_merged_in_quiet_hours_is_flagged_before_the_merge() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
        let mut loaded = crate::repo::load(&root).unwrap();
        loaded.desired.server.schedule = Some(Schedule {
            timezone: chrono_tz::Europe::Berlin,
            sittings: vec![],
            quiet: vec![QuietHours {
                from: NaiveTime::from_hms_opt(23, 30, 0).unwrap(),
                to: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            }],
        });
        let d = &loaded.desired;
        let at = |t: &str| {
            let o = crate::observe::ledger_only::observe(&loaded.ledger, &d.server, t.parse().unwrap());
            super::quiet_start(&crate::plan::plan(d, &o))
        };
        let flagged = at("2026-12-05T01:00:00Z").expect("flagged at 02:00 Berlin");
        assert_eq!(flagged.severity, super::Severity::Warning);
        assert_eq!(flagged.file, "server.toml");
        assert!(
            flagged.message.contains("quiet hours (23:30-08:00") && flagged.message.contains("2026-12-05 07:00 UTC"),
            "{}",
            flagged.message
        );
        assert!(at("2026-12-05T12:00:00Z").is_none());
    }
}
