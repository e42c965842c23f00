//! The ledger summaries as files: `costs/YYYY-MM.toml`, `COSTS.md` and
//! `STATUS.md`, rendered from templates compiled in (a state repo may ship
//! its own under `.mc-gitops/templates/<name>`, like the session template).
//!
//! Writing is incremental by content: every file is rendered, and only a
//! file whose text differs from what is on disk is written, so a month whose
//! sessions did not change keeps its bytes and its mtime, and a run that saw
//! nothing new leaves the checkout clean (no bot commit every ten minutes).
//! STATUS.md's "last reconcile" line alone does not count as a change.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use minijinja::Value;

use super::figures::{self, MonthSummary, R2_FREE_GB_MONTH, R2_USD_PER_GB_MONTH, Status, StorageUsage, YearMonth};
use crate::repo::files;
use crate::repo::ledger::Ledger;
use crate::repo::ledger::templates::{self, TemplateError, Templates};
use crate::repo::ledger::write::WriteError;

/// Month files `costs/` may hold: as many as there can be sessions.
const MAX_COST_MONTHS: usize = crate::repo::limits::MAX_SESSIONS;
use crate::observe::Observed;
use crate::repo::Desired;

/// What the summaries are made of besides the ledger.
#[derive(Default)]
pub struct Inputs<'a> {
    /// The observation of this run; `None` when there is none (`ledger` command).
    pub observed: Option<&'a Observed>,
    /// Bytes in the bucket by month (history from `costs/`, plus this month's measurement).
    pub storage: StorageUsage,
    /// Problems this run met, for STATUS.md.
    pub warnings: Vec<String>,
}

/// Everything the summary files say, before rendering.
#[derive(Clone, Debug, PartialEq)]
pub struct Summaries {
    pub months: Vec<MonthSummary>,
    pub status: Status,
    /// This month's GitHub Actions minutes, when observed (COSTS.md).
    pub actions: Option<crate::actions_minutes::ActionsUsage>,
}

pub fn summarize(ledger: &Ledger, desired: &Desired, inputs: &Inputs<'_>, now: DateTime<Utc>) -> Summaries {
    let months = figures::months(ledger, desired, &inputs.storage, now);
    let status = figures::status(ledger, desired, inputs.observed, &months, &inputs.warnings, now);
    let actions = inputs.observed.and_then(|o| o.actions.clone());
    Summaries { months, status, actions }
}

/// Every summary file, by path in the repo, rendered.
pub fn render_all(repo: &Path, s: &Summaries) -> Result<BTreeMap<String, String>, WriteError> {
    let t = Templates::load(repo, &[templates::COSTS_MONTH, templates::COSTS_MD, templates::STATUS_MD])?;
    Ok(render_all_with(&t, s)?)
}

/// Every summary file through the given templates.
pub fn render_all_with(t: &Templates, s: &Summaries) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut out = BTreeMap::new();
    for m in &s.months {
        let ctx = minijinja::context! {
            m => Value::from_serialize(m),
            price_per_gb_month => R2_USD_PER_GB_MONTH.to_string(),
            free_gb_months => R2_FREE_GB_MONTH,
        };
        out.insert(format!("costs/{}.toml", m.month), t.render(templates::COSTS_MONTH, ctx)?);
    }
    let ctx = minijinja::context! {
        months => Value::from_serialize(&s.months),
        currency => s.status.currency.clone(),
        actions => Value::from_serialize(&s.actions),
    };
    out.insert("COSTS.md".into(), t.render(templates::COSTS_MD, ctx)?);
    out.insert(
        "STATUS.md".into(),
        t.render(templates::STATUS_MD, minijinja::context! { s => Value::from_serialize(&s.status) })?,
    );
    Ok(out)
}

/// Does the text differ in more than STATUS.md's reconcile time, or
/// COSTS.md's running Actions minutes (which grow with every run: they are
/// brought up to date whenever the bot commits for another reason)?
fn changed(path: &str, old: &str, new: &str) -> bool {
    let volatile = match path {
        "STATUS.md" => "| last reconcile |",
        "COSTS.md" => ACTIONS_ROW,
        _ => return old != new,
    };
    let strip = |t: &str| t.lines().filter(|l| !l.starts_with(volatile)).collect::<Vec<_>>().join("\n");
    strip(old) != strip(new)
}

/// How COSTS.md's row of the month's Actions minutes begins.
pub const ACTIONS_ROW: &str = "| Actions ";

/// Write the summary files whose content changed; returns the paths written.
pub fn write_summaries(repo: &Path, s: &Summaries) -> Result<Vec<String>, WriteError> {
    let mut written = Vec::new();
    for (rel, text) in render_all(repo, s)? {
        // What is there now, if it reads: otherwise (a link, say) it is replaced.
        if let Ok(Some(old)) = files::read_text(repo, &rel, files::SUMMARY_FILE)
            && !changed(&rel, &old, &text)
        {
            continue;
        }
        files::write_atomic(repo, &rel, text.as_bytes())?;
        written.push(rel);
    }
    Ok(written)
}

/// The storage measurements earlier runs recorded in `costs/YYYY-MM.toml`,
/// so a month keeps its figure after it has passed. Unreadable files are
/// skipped: they are the bot's own output and are rewritten from the ledger.
pub fn storage_history(repo: &Path) -> StorageUsage {
    let mut out = StorageUsage::new();
    let Ok(Some(entries)) = files::list_dir(repo, "costs", MAX_COST_MONTHS, "MAX_SESSIONS") else {
        return out;
    };
    for (name, _) in entries {
        let Some(month) = name.strip_suffix(".toml").and_then(YearMonth::parse) else {
            continue;
        };
        let Ok(Some(text)) = files::read_text(repo, &format!("costs/{name}"), files::COSTS_FILE) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml::Table>() else { continue };
        if let Some(bytes) = doc.get("storage").and_then(|s| s.get("bytes")).and_then(|b| b.as_integer()) {
            out.insert(month, bytes.max(0) as u64);
        }
    }
    out
}

/// The summaries for a repo: history from its files, and this month's
/// storage measurement if there is one.
pub fn gather(
    repo: &Path,
    ledger: &Ledger,
    desired: &Desired,
    observed: Option<&Observed>,
    measured_bytes: Option<u64>,
    warnings: Vec<String>,
    now: DateTime<Utc>,
) -> Summaries {
    let mut storage = storage_history(repo);
    if let Some(b) = measured_bytes {
        storage.insert(YearMonth::of(now), b);
    }
    let inputs = Inputs {
        observed,
        storage,
        warnings,
    };
    summarize(ledger, desired, &inputs, now)
}

/// The summaries for a repo ([`gather`]), written where they changed.
pub fn regenerate(
    repo: &Path,
    ledger: &Ledger,
    desired: &Desired,
    observed: Option<&Observed>,
    measured_bytes: Option<u64>,
    warnings: Vec<String>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, WriteError> {
    write_summaries(repo, &gather(repo, ledger, desired, observed, measured_bytes, warnings, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    // The figures' own fixtures: one price (eu's cx22), one way to make a session.
    use crate::ledger::figures::tests::{desired, eu as price, session};
    use crate::repo::ledger::Ledger;
    use rust_decimal::Decimal;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn ledger() -> Ledger {
        Ledger::new(vec![
            session(
                "20261024-1905-eu",
                "eu",
                "2026-10-24T19:05:00Z",
                Some("2026-10-24T22:00:00Z"),
                Some(price()),
            ),
            session(
                "20261031-2230-eu",
                "eu",
                "2026-10-31T22:30:00Z",
                Some("2026-11-01T01:10:00Z"),
                Some(price()),
            ),
            session(
                "20261104-0100-us",
                "us\"\n[x]",
                "2026-11-04T01:00:00Z",
                Some("2026-11-04T03:00:01Z"),
                Some(price()),
            ),
        ])
    }

    fn inputs() -> Inputs<'static> {
        Inputs {
            observed: None,
            storage: StorageUsage::from([(YearMonth { year: 2026, month: 11 }, 25_300_000_000)]),
            warnings: vec!["a | pipe\nand a newline".into()],
        }
    }

    #[test]
    fn the_month_files_are_valid_toml_with_the_computed_figures() {
        let s = summarize(&ledger(), &desired(), &inputs(), t("2026-12-01T00:00:00Z"));
        let files = render_all(Path::new("/nonexistent"), &s).unwrap();
        assert_eq!(
            files.keys().cloned().collect::<Vec<_>>(),
            ["COSTS.md", "STATUS.md", "costs/2026-10.toml", "costs/2026-11.toml"]
        );
        let nov: toml::Table = files["costs/2026-11.toml"].parse().unwrap();
        // November: eu 1 h (the 00:30 hour of the session that began in October), and
        // the hostile region name 3 h; 4 h × 0.0105 = 0.0420 gross.
        assert_eq!(nov["hours"].as_integer(), Some(4));
        assert_eq!(nov["gross"].as_str(), Some("0.0420"));
        assert_eq!(nov["budget_left"].as_str(), Some("9.9580"));
        assert_eq!(nov["regions"]["us\"\n[x]"]["hours"].as_integer(), Some(3));
        assert_eq!(nov["storage"]["cost"].as_str(), Some("0.2400"));
        assert_eq!(nov["storage"]["currency"].as_str(), Some("USD"));
        // Round trip: what the file says is what was computed, month by month.
        for m in &s.months {
            let doc: toml::Table = files[&format!("costs/{}.toml", m.month)].parse().unwrap();
            assert_eq!(doc["net"].as_str().unwrap().parse::<Decimal>().unwrap(), m.net);
            assert_eq!(doc["sessions"].as_integer(), Some(m.sessions.into()));
        }
        let costs = &files["COSTS.md"];
        assert!(
            costs.contains("| **2026-11** | **all** | **4** | **2** | **0.04** | **0.04** | **9.96** of 10.00 | 0.24 |"),
            "{costs}"
        );
        let status = &files["STATUS.md"];
        assert!(status.contains("- a \\| pipe and a newline\n"), "{status}");
        assert!(status.contains("| address | `mc.grove.place` |"), "{status}");
    }

    /// COSTS.md shows the month's Actions minutes, and a change in that row
    /// alone is not a change (the tally grows every run; no commit for it).
    #[test]
    fn costs_md_shows_the_actions_minutes_without_a_commit_per_run() {
        let now = t("2026-12-07T00:00:00Z");
        let l = ledger();
        let mut o = crate::observe::ledger_only::observe(&l, &desired().server, now);
        let mut tally = crate::actions_minutes::ActionsTally::new("2026-12".into());
        tally.private = Some(true);
        for id in 0..240 {
            tally.runs.insert(id, 2);
        }
        o.actions = Some(tally.usage(now));
        let with = Inputs {
            observed: Some(&o),
            ..inputs()
        };
        let files = render_all(Path::new("/nonexistent"), &summarize(&l, &desired(), &with, now)).unwrap();
        let costs = &files["COSTS.md"];
        assert!(costs.contains("| Actions 2026-12 | 240 | 480 | 2000 | 2480 |"), "{costs}");
        let status = &files["STATUS.md"];
        assert!(status.contains("GitHub Actions minutes for 2026-12 are projected past"), "{status}");

        tally.runs.insert(999, 1);
        o.actions = Some(tally.usage(now));
        let with = Inputs {
            observed: Some(&o),
            ..inputs()
        };
        let later = render_all(Path::new("/nonexistent"), &summarize(&l, &desired(), &with, now)).unwrap();
        assert_ne!(later["COSTS.md"], *costs);
        assert!(
            !changed("COSTS.md", costs, &later["COSTS.md"]),
            "the minutes alone are not a change"
        );
        assert!(
            !changed("STATUS.md", status, &later["STATUS.md"]),
            "nor is the warning, which has no figures"
        );
        assert!(changed("COSTS.md", costs, &costs.replace("| **4** |", "| **5** |")));
    }

    #[test]
    fn status_md_shows_the_next_scheduled_start_and_quiet_hours() {
        let mut d = desired();
        d.server.schedule = Some(crate::repo::schedule::Schedule {
            timezone: chrono_tz::Europe::Berlin,
            sittings: vec![crate::repo::schedule::Sitting::new("0 19 * * FRI").unwrap()],
            quiet: vec![crate::repo::schedule::QuietHours {
                from: chrono::NaiveTime::from_hms_opt(23, 30, 0).unwrap(),
                to: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            }],
        });
        let s = summarize(&ledger(), &d, &inputs(), t("2026-12-01T00:00:00Z"));
        let status = &render_all(Path::new("/nonexistent"), &s).unwrap()["STATUS.md"];
        assert!(
            status.contains("| next scheduled start | Fri 2026-12-04 19:00 Europe/Berlin |"),
            "{status}"
        );
        assert!(
            status.contains("| quiet hours (no start) | 23:30-08:00 Europe/Berlin |"),
            "{status}"
        );
        // Without a schedule, neither line.
        let plain = summarize(&ledger(), &desired(), &inputs(), t("2026-12-01T00:00:00Z"));
        assert!(!render_all(Path::new("/nonexistent"), &plain).unwrap()["STATUS.md"].contains("scheduled"));
    }

    #[test]
    fn the_same_ledger_gives_the_same_bytes() {
        let now = t("2026-12-01T00:00:00Z");
        let a = render_all(Path::new("/x"), &summarize(&ledger(), &desired(), &inputs(), now)).unwrap();
        let b = render_all(Path::new("/x"), &summarize(&ledger(), &desired(), &inputs(), now)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn only_changed_months_are_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let now = t("2026-12-01T00:00:00Z");
        let first = write_summaries(dir.path(), &summarize(&ledger(), &desired(), &inputs(), now)).unwrap();
        assert_eq!(first.len(), 4);
        // Mark every file so an untouched one is recognisable by content, not only mtime.
        let oct = dir.path().join("costs/2026-10.toml");
        let before = std::fs::metadata(&oct).unwrap().modified().unwrap();
        // Nothing changed, a later run: nothing written, STATUS.md's reconcile time included.
        let later = t("2026-12-01T00:10:00Z");
        let again = write_summaries(dir.path(), &summarize(&ledger(), &desired(), &inputs(), later)).unwrap();
        assert_eq!(again, Vec::<String>::new());
        // A new November session: November, COSTS.md and STATUS.md change; October does not.
        let mut l = ledger();
        l.sessions.push(session(
            "20261120-1800-eu",
            "eu",
            "2026-11-20T18:00:00Z",
            Some("2026-11-20T19:00:00Z"),
            Some(price()),
        ));
        let third = write_summaries(dir.path(), &summarize(&l, &desired(), &inputs(), later)).unwrap();
        assert_eq!(third, ["COSTS.md", "costs/2026-11.toml"]);
        assert_eq!(std::fs::metadata(&oct).unwrap().modified().unwrap(), before);
        // The storage figure survives in the month file for later runs.
        assert_eq!(storage_history(dir.path())[&YearMonth { year: 2026, month: 11 }], 25_300_000_000);
    }

    #[test]
    fn a_repo_template_overrides_the_builtin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".mc-gitops/templates")).unwrap();
        std::fs::write(
            dir.path().join(".mc-gitops/templates/COSTS.md.j2"),
            "months: {{ months | length }}\n",
        )
        .unwrap();
        let s = summarize(&ledger(), &desired(), &inputs(), t("2026-12-01T00:00:00Z"));
        assert_eq!(render_all(dir.path(), &s).unwrap()["COSTS.md"], "months: 2\n");
    }
}
