//! When the reconcile workflow runs by itself: the `on.schedule[].cron`
//! entries of `.github/workflows/reconcile.yml`, and the next tick after a
//! time. The simulator puts the schedule in the loop (a deletion the agent
//! asks for happens when a reconcile runs: nudged at once, or at the next
//! tick when the nudge is lost), and the reconciler can say when its next
//! safety-net run is due.
//!
//! GitHub's cron is POSIX's: five fields (minute hour day-of-month month
//! day-of-week), UTC, Sunday is 0 (or 7), and when both day fields are
//! restricted a day matching either one runs. The `cron` crate wants a
//! seconds field first, numbers Sunday as 1 and needs both day fields to
//! match, so each entry is converted: `0 ` is prepended, day-of-week
//! numbers become names (`1-5` → `MON-FRI`; a step after `/` stays a
//! number), and an entry restricting both day fields becomes two schedules
//! whose earliest tick wins.

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};

/// Where the workflow lives, relative to the repo's root.
pub const RECONCILE_WORKFLOW: &str = ".github/workflows/reconcile.yml";

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cannot read the workflow {file}")]
    Read {
        file: String,
        #[source]
        source: crate::repo::files::FileError,
    },
    #[error("{file} is not YAML: {message}")]
    Yaml { file: String, message: String },
    #[error(
        "{file}: on.schedule[{index}].cron = {cron:?} is not a GitHub cron (five fields: minute hour day-of-month month day-of-week): {why}"
    )]
    Cron {
        file: String,
        index: usize,
        cron: String,
        why: String,
    },
}

/// One `cron:` entry: as written, and as the `cron` crate reads it.
#[derive(Clone, Debug)]
struct Entry {
    written: String,
    schedules: Vec<cron::Schedule>,
}

/// The workflow's schedule; empty when it has no `schedule:` trigger.
#[derive(Clone, Debug, Default)]
pub struct WorkflowSchedule {
    entries: Vec<Entry>,
}

impl WorkflowSchedule {
    /// Read `.github/workflows/reconcile.yml` under `repo_root`.
    pub fn read(repo_root: &Path) -> Result<Self, ScheduleError> {
        // Through the repo's no-follow reader with a template's size cap: a
        // pull request's reconcile.yml is untrusted (a link, a fifo, a
        // gigabyte) when `check` plans it.
        let path = repo_root.join(RECONCILE_WORKFLOW);
        let read = crate::repo::files::read_text(repo_root, RECONCILE_WORKFLOW, crate::repo::files::TEMPLATE);
        let text = read.map_err(|source| ScheduleError::Read {
            file: path.display().to_string(),
            source,
        })?;
        // No workflow, no scheduled runs.
        let Some(text) = text else { return Ok(Self::default()) };
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parse a workflow's text; `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScheduleError> {
        let doc: serde_norway::Value = serde_norway::from_str(text).map_err(|e| ScheduleError::Yaml {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        // YAML 1.1 readers turn the key `on` into `true`: accept both.
        let on = doc.get("on").or_else(|| doc.get(serde_norway::Value::Bool(true)));
        let list = on.and_then(|on| on.get("schedule")).and_then(|s| s.as_sequence());
        let mut entries = Vec::new();
        for (index, item) in list.into_iter().flatten().enumerate() {
            let written = item.get("cron").and_then(|c| c.as_str()).unwrap_or_default();
            let schedules = convert(written).map_err(|why| ScheduleError::Cron {
                file: file.to_string(),
                index,
                cron: written.to_string(),
                why,
            })?;
            entries.push(Entry {
                written: written.to_string(),
                schedules,
            });
        }
        Ok(WorkflowSchedule { entries })
    }

    /// A schedule from GitHub cron strings (tests, the simulator's `--cron`).
    pub fn from_crons<S: AsRef<str>>(crons: &[S]) -> Result<Self, ScheduleError> {
        let mut entries = Vec::new();
        for (index, c) in crons.iter().enumerate() {
            let written = c.as_ref().to_string();
            let schedules = convert(&written).map_err(|why| ScheduleError::Cron {
                file: "--cron".into(),
                index,
                cron: written.clone(),
                why,
            })?;
            entries.push(Entry { written, schedules });
        }
        Ok(WorkflowSchedule { entries })
    }

    /// The entries as written.
    pub fn crons(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.written.as_str()).collect()
    }

    /// The first tick strictly after `after`; `None` with no schedule.
    pub fn next_tick(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.entries
            .iter()
            .flat_map(|e| &e.schedules)
            .filter_map(|s| s.after(&after).next())
            .min()
    }

    /// How many ticks fall in `(from, to]`.
    pub fn ticks_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
        let mut n = 0;
        let mut t = from;
        while let Some(next) = self.next_tick(t).filter(|n| *n <= to) {
            n += 1;
            t = next;
        }
        n
    }
}

const DAY_NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// A GitHub cron entry as `cron` crate schedules (two when both day fields are restricted).
fn convert(github: &str) -> Result<Vec<cron::Schedule>, String> {
    let fields: Vec<&str> = github.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields[..] else {
        return Err(format!("{} field(s)", fields.len()));
    };
    let dow = day_names(dow)?;
    let one = |dom: &str, dow: &str| cron::Schedule::from_str(&format!("0 {minute} {hour} {dom} {month} {dow}")).map_err(|e| e.to_string());
    if dom != "*" && dow != "*" {
        Ok(vec![one(dom, "*")?, one("*", &dow)?])
    } else {
        one(dom, &dow).map(|s| vec![s])
    }
}

/// Day-of-week numbers (Sunday 0 or 7) as names; a step after `/` stays a
/// number. Also server.toml's sittings (`repo::schedule`).
pub(crate) fn day_names(field: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut digits = String::new();
    let mut after_slash = false;
    let flush = |digits: &mut String, out: &mut String, after_slash: bool| -> Result<(), String> {
        if digits.is_empty() {
            return Ok(());
        }
        if after_slash {
            out.push_str(digits);
        } else {
            let n: usize = digits.parse().map_err(|_| format!("day of week {digits:?}"))?;
            let name = DAY_NAMES.get(n).ok_or_else(|| format!("day of week {n} is not 0-7"))?;
            out.push_str(name);
        }
        digits.clear();
        Ok(())
    };
    for c in field.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        flush(&mut digits, &mut out, after_slash)?;
        match c {
            '/' => after_slash = true,
            ',' | '-' => after_slash = false,
            _ => {}
        }
        out.push(c);
    }
    flush(&mut digits, &mut out, after_slash)?;
    Ok(out)
}

/// The workflow's ticks from `from` to `until`, for the observation's `reconcile_ticks`,
/// from any `next_tick(after)` (the strictly later tick of reconcile.yml's
/// `schedule:` crons). At most 20,000.
pub fn ticks_between(
    next_tick: impl Fn(DateTime<Utc>) -> Option<DateTime<Utc>>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from;
    while let Some(n) = next_tick(t).filter(|n| *n <= until && out.len() < 20_000) {
        out.push(n);
        // A next_tick that is not strictly later still moves on.
        t = n.max(t + TimeDelta::seconds(1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn next(cron: &str, after: &str) -> DateTime<Utc> {
        WorkflowSchedule::from_crons(&[cron]).unwrap().next_tick(t(after)).unwrap()
    }

    #[test]
    fn every_ten_minutes() {
        assert_eq!(next("*/10 * * * *", "2026-12-04T23:35:00Z"), t("2026-12-04T23:40:00Z"));
        assert_eq!(
            next("*/10 * * * *", "2026-12-04T23:40:00Z"),
            t("2026-12-04T23:50:00Z"),
            "strictly after"
        );
        let s = WorkflowSchedule::from_crons(&["*/10 * * * *"]).unwrap();
        assert_eq!(s.ticks_between(t("2026-12-01T00:00:00Z"), t("2026-12-02T00:00:00Z")), 144);
    }

    #[test]
    fn github_sunday_is_zero_and_seven_and_names_read_as_names() {
        // 2026-12-04 is a Friday.
        assert_eq!(next("0 19 * * 0", "2026-12-04T12:00:00Z"), t("2026-12-06T19:00:00Z"));
        assert_eq!(next("0 19 * * 7", "2026-12-04T12:00:00Z"), t("2026-12-06T19:00:00Z"));
        assert_eq!(next("0 19 * * SUN", "2026-12-04T12:00:00Z"), t("2026-12-06T19:00:00Z"));
        assert_eq!(next("0 19 * * 5", "2026-12-04T12:00:00Z"), t("2026-12-04T19:00:00Z"));
        assert_eq!(next("0 19 * * FRI", "2026-12-04T12:00:00Z"), t("2026-12-04T19:00:00Z"));
        // Monday to Friday: the Friday evening, then Monday.
        assert_eq!(next("0 19 * * 1-5", "2026-12-04T20:00:00Z"), t("2026-12-07T19:00:00Z"));
        assert_eq!(next("0 19 * * MON-FRI", "2026-12-04T20:00:00Z"), t("2026-12-07T19:00:00Z"));
        assert_eq!(next("30 6 * * 1,3", "2026-12-04T20:00:00Z"), t("2026-12-07T06:30:00Z"));
    }

    #[test]
    fn a_step_in_day_of_week_stays_a_step() {
        // GitHub's */2 is Sunday, Tuesday, Thursday, Saturday; from Friday: Saturday.
        assert_eq!(next("0 0 * * */2", "2026-12-04T12:00:00Z"), t("2026-12-05T00:00:00Z"));
        // 1-5/2: Monday, Wednesday, Friday.
        assert_eq!(next("0 0 * * 1-5/2", "2026-12-05T12:00:00Z"), t("2026-12-07T00:00:00Z"));
        assert_eq!(next("0 0 * * 1-5/2", "2026-12-07T12:00:00Z"), t("2026-12-09T00:00:00Z"));
    }

    #[test]
    fn both_day_fields_restricted_run_on_either() {
        // The 1st of the month or a Monday: from Friday 4 December, Monday the 7th.
        assert_eq!(next("0 0 1 * 1", "2026-12-04T12:00:00Z"), t("2026-12-07T00:00:00Z"));
        assert_eq!(next("0 0 1 * 1", "2026-12-29T12:00:00Z"), t("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn hourly_and_bad_entries() {
        assert_eq!(next("17 * * * *", "2026-12-04T23:35:00Z"), t("2026-12-05T00:17:00Z"));
        for bad in ["* * * *", "0 0 * * 8", "61 * * * *", "0 0 * * 1-9"] {
            let e = WorkflowSchedule::from_crons(&[bad]).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn reads_the_example_workflow_and_a_workflow_without_a_schedule() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
        let s = WorkflowSchedule::read(&root).unwrap();
        assert!(!s.crons().is_empty(), "the example reconcile.yml has a schedule");
        assert!(s.next_tick(t("2026-12-04T23:35:00Z")).is_some());
        let none = WorkflowSchedule::parse("w.yml", "on:\n  push:\n    branches: [main]\n").unwrap();
        assert_eq!(none.next_tick(t("2026-12-04T23:35:00Z")), None);
        let e = WorkflowSchedule::parse("w.yml", "on:\n  schedule:\n    - cron: \"nope\"\n").unwrap_err();
        assert!(e.to_string().starts_with("w.yml: on.schedule[0].cron"), "{e}");
    }
}
