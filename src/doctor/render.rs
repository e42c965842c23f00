//! The doctor's report for people (text, one line per check and its fix),
//! for the Actions step summary (Markdown) and for scripts (JSON, shape in
//! docs/doctor.md). Every value is escaped on the way out: details quote
//! server.toml and API answers, which must not become workflow commands,
//! terminal escapes or Markdown.

use super::{Report, Status};
use crate::escape;

/// Text: `✓ id  detail`, then `    fix: …` under a ✗ or !, then a verdict.
pub fn text(r: &Report) -> String {
    let width = r.checks.iter().map(|c| c.id.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for c in &r.checks {
        let optional = if c.needed || c.status == Status::Pass || c.status == Status::Skip {
            ""
        } else {
            " (optional)"
        };
        out.push_str(&escape::line(&format!(
            "{} {:width$}  {}{optional}",
            c.status.mark(),
            c.id,
            escape::value(&c.detail)
        )));
        out.push('\n');
        if let Some(fix) = c.fix.as_ref().filter(|_| matches!(c.status, Status::Fail | Status::Warn)) {
            out.push_str(&escape::line(&format!("  {:width$}  fix: {}", "", escape::value(fix))));
            out.push('\n');
        }
    }
    out.push_str(&verdict(r));
    out.push('\n');
    out
}

/// The last line: what the exit status says, in words.
pub fn verdict(r: &Report) -> String {
    let optional = match r.failed_optional() {
        0 => String::new(),
        n => format!(" ({n} optional check(s) failed)"),
    };
    if r.ok {
        format!("doctor: everything a first run needs works{optional}")
    } else {
        format!("doctor: {} needed check(s) failed{optional}", r.failed_needed())
    }
}

/// Markdown for `$GITHUB_STEP_SUMMARY`.
pub fn markdown(r: &Report) -> String {
    use crate::check::inline;
    let mut out = String::from("## 🩺 mc-gitops doctor\n\n");
    for c in &r.checks {
        let optional = if c.needed { "" } else { " *(optional)*" };
        out.push_str(&format!("- {} `{}` {}{optional}\n", c.status.mark(), c.id, inline(&c.detail)));
        if let Some(fix) = c.fix.as_ref().filter(|_| matches!(c.status, Status::Fail | Status::Warn)) {
            out.push_str(&format!("  - fix: {}\n", inline(fix)));
        }
    }
    out.push_str(&format!("\n**{}**\n", inline(&verdict(r))));
    out
}

/// JSON, escaped like every JSON the binary prints.
pub fn json(r: &Report) -> String {
    let text = serde_json::to_string_pretty(r).expect("a report always serialises");
    escape::json(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::Check;
    use super::*;

    fn report(checks: Vec<Check>) -> Report {
        Report::new(checks)
    }

    #[test]
    fn an_optional_failure_is_marked_and_does_not_fail_the_report() {
        let r = report(vec![
            Check::pass("hetzner.token", "ok"),
            Check::fail("discord", "the Discord webhook was deleted", "create one").optional(),
        ]);
        assert!(r.ok);
        let t = text(&r);
        assert!(t.contains("✗ discord        the Discord webhook was deleted (optional)"), "{t}");
        assert!(t.contains("fix: create one"), "{t}");
        assert!(
            t.ends_with("doctor: everything a first run needs works (1 optional check(s) failed)\n"),
            "{t}"
        );
    }

    #[test]
    fn a_needed_failure_fails_the_report() {
        let r = report(vec![Check::fail("r2.write", "read-only", "give it write")]);
        assert!(!r.ok);
        assert!(verdict(&r).contains("1 needed check(s) failed"));
    }

    #[test]
    fn values_cannot_become_workflow_commands_or_markdown() {
        let r = report(vec![Check::fail("repo.check", "x\n::add-mask::y <b>[l](u)</b>", "z\r\n::error::w")]);
        let t = text(&r);
        assert!(!t.lines().any(|l| l.trim_start().starts_with("::")), "{t}");
        let m = markdown(&r);
        assert!(!m.contains("<b>") && !m.contains("[l](u)"), "{m}");
        assert!(!m.lines().any(|l| l.trim_start().starts_with("::")), "{m}");
    }
}
