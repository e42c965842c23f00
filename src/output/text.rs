//! The plan for people: one block per change with a `+ ~ - …` marker, the
//! reason on the next line, before/after values, and unified diffs of
//! rendered files. Colour comes from anstream, which strips it when the
//! output is not a terminal.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use serde_json::Value;

use super::escape::{self, value};
use crate::observe::ObservedFrom;
use crate::plan::{Change, Level, Op, Plan};
use crate::repo::diag::{Diagnostic, Severity};

const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const RED: Style = AnsiColor::Red.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

fn paint(s: Style, text: &str) -> String {
    format!("{s}{text}{s:#}")
}

fn marker(op: Op) -> (Style, &'static str) {
    match op {
        Op::Create => (GREEN, "+"),
        Op::Update => (YELLOW, "~"),
        Op::Delete => (RED, "-"),
        Op::Wait => (CYAN, "…"),
    }
}

/// The plan for people; every line made safe for an Actions log
/// ([`escape::text`]) and every value from the repo escaped ([`value`]).
pub fn render_plan(plan: &Plan) -> String {
    escape::text(&plan_text(plan))
}

fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    let source = match plan.observed_from {
        ObservedFrom::Ledger => "from the ledger",
        ObservedFrom::Live => "live",
    };
    let _ = writeln!(
        out,
        "{} for {} at {} (observed {source})",
        paint(BOLD, "Plan"),
        paint(BOLD, &value(&plan.server)),
        plan.now.format("%Y-%m-%d %H:%M UTC")
    );
    if plan.phase.before == plan.phase.after {
        let _ = writeln!(out, "phase: {}", plan.phase.before);
    } else {
        let _ = writeln!(out, "phase: {} → {}", plan.phase.before, plan.phase.after);
    }
    for n in &plan.notices {
        let (style, tag) = match n.level {
            Level::Info => (DIM, "note"),
            Level::Warning => (YELLOW, "warning"),
            Level::Alert => (RED, "alert"),
            Level::Error => (RED, "refused"),
        };
        let _ = writeln!(out, "{} {}", paint(style, &format!("{tag}:")), value(&n.message));
    }
    out.push('\n');
    if plan.changes.is_empty() {
        let _ = writeln!(out, "No changes: what is observed matches the repo.");
        return out;
    }
    for c in &plan.changes {
        change(&mut out, c);
    }
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "{} {} to create, {} to update, {} to delete, {} waiting.",
        paint(BOLD, "Plan:"),
        s.create,
        s.update,
        s.delete,
        s.wait
    );
    out
}

fn change(out: &mut String, c: &Change) {
    let (style, m) = marker(c.op);
    let _ = writeln!(out, "  {} {}", paint(style, m), paint(BOLD, &value(&c.resource)));
    let _ = writeln!(out, "      {}", paint(DIM, &format!("# {}", value(&c.reason))));
    match (c.op, &c.before, &c.after) {
        (_, _, _) if c.diff.is_some() => {}
        (Op::Create, _, after) => fields(out, after, GREEN),
        (Op::Delete, before, _) => fields(out, before, RED),
        (_, Value::Object(before), Value::Object(after)) => {
            let width = after.keys().map(|k| k.len()).max().unwrap_or(0);
            for (k, a) in after {
                let b = before.get(k).unwrap_or(&Value::Null);
                if a != b {
                    let k = value(k);
                    let _ = writeln!(out, "      {k:width$} = {} → {}", scalar(b), paint(YELLOW, &scalar(a)));
                }
            }
        }
        (_, before, after) => {
            let _ = writeln!(out, "      {} → {}", scalar(before), paint(YELLOW, &scalar(after)));
        }
    }
    if let Some(diff) = &c.diff {
        // A new long file is summarised; its full text is in --json and in
        // storage. Changes to a file are always shown in full.
        let added = diff.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++")).count();
        if c.op == Op::Create && added > MAX_NEW_FILE_LINES {
            let _ = writeln!(
                out,
                "      {}",
                paint(GREEN, &format!("({added} lines, {})", short_hash(&scalar(&c.after))))
            );
            out.push('\n');
            return;
        }
        for line in diff.lines() {
            let style = match line.as_bytes().first() {
                Some(b'+') if !line.starts_with("+++") => GREEN,
                Some(b'-') if !line.starts_with("---") => RED,
                Some(b'@') => CYAN,
                _ => Style::new(),
            };
            let _ = writeln!(out, "      {}", paint(style, &value(line)));
        }
    }
    out.push('\n');
}

fn fields(out: &mut String, v: &Value, style: Style) {
    match v {
        Value::Object(map) => {
            let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
            for (k, v) in map {
                let _ = writeln!(out, "      {}", paint(style, &format!("{:width$} = {}", value(k), scalar(v))));
            }
        }
        Value::Null => {}
        other => {
            let _ = writeln!(out, "      {}", paint(style, &scalar(other)));
        }
    }
}

/// New files longer than this are summarised in the text plan.
const MAX_NEW_FILE_LINES: usize = 16;

/// `sha512:bee96697…`: enough to compare by eye.
fn short_hash(s: &str) -> String {
    match s.split_once(':') {
        Some((algo, hex)) if (algo == "sha256" || algo == "sha512") && hex.len() > 12 => format!("{algo}:{}…", &hex[..12]),
        _ => s.to_string(),
    }
}

/// A value on one line: strings escaped ([`value`]), containers flattened.
fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => value(&short_hash(s)).into_owned(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{}={}", value(k), scalar(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            format!("[{}]", items.iter().map(scalar).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

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
