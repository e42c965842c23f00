//! Problems and apply reports for people: `file:line:col: error: …` lists
//! and what apply did, change by change, in the plan's palette
//! ([`crate::plan::render`], where the plan renders itself). Colour comes
//! from anstream, which strips it when the output is not a terminal.

use std::fmt::Write;

use crate::escape::{self, value};
use crate::plan::render::{BOLD, CYAN, DIM, GREEN, RED, YELLOW, paint};
use crate::repo::diag::{Diagnostic, Severity};

/// Problems as a list: `file:line:col: error: message` and a help line,
/// each value escaped ([`escape::value`]) so that none can break a line.
pub fn render_diagnostics(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let (style, sev) = match d.severity {
            Severity::Error => (RED, "error"),
            Severity::Warning => (YELLOW, "warning"),
        };
        let file = value(&d.file);
        let message = value(&d.message);
        let first = if d.line == 0 {
            format!("{file}: {sev}: {message}")
        } else {
            format!("{file}:{}:{}: {sev}: {message}", d.line, d.col)
        };
        let _ = writeln!(out, "{}", paint(style, &first));
        if let Some(help) = &d.help {
            let _ = writeln!(out, "{}", paint(DIM, &format!("  help: {}", value(help))));
        }
    }
    escape::text(&out)
}

/// What apply did, change by change; values escaped, lines made safe.
pub fn render_report(r: &crate::apply::Report) -> String {
    escape::text(&report_text(r))
}

fn report_text(r: &crate::apply::Report) -> String {
    use crate::apply::Outcome;
    let mut out = String::from("\n");
    let _ = writeln!(out, "{}", paint(BOLD, "Applied:"));
    for (resource, outcome) in &r.results {
        let (style, tag, detail) = match outcome {
            Outcome::Done(d) => (GREEN, "done", d),
            Outcome::Unchanged(d) => (DIM, "unchanged", d),
            Outcome::Waiting(d) => (CYAN, "waiting", d),
        };
        let _ = writeln!(
            out,
            "  {} {}: {}",
            paint(style, &format!("{tag:>9}")),
            value(&resource.to_string()),
            value(&detail.to_string())
        );
    }
    if let Some(failed) = &r.failed {
        let (resource, error) = (&failed.resource, format!("{} ({})", failed.rendered(), failed.class.what_next()));
        let _ = writeln!(
            out,
            "  {} {}: {}",
            paint(RED, "   failed"),
            value(&resource.to_string()),
            value(&error.to_string())
        );
    }
    for w in &r.warnings {
        let _ = writeln!(out, "  {} {}", paint(YELLOW, "  warning"), value(&w.to_string()));
    }
    if !r.files.is_empty() {
        let _ = writeln!(out, "\nFiles written (commit them): {}", value(&r.files.join(", ")));
    }
    if !r.message.is_empty() {
        let _ = writeln!(out, "Commit message: {}", value(&r.message.join("; ")));
    }
    out
}
