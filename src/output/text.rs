//! The plan for people: one block per change with a `+ ~ - …` marker, the
//! reason on the next line, before/after values, and unified diffs of
//! rendered files. Colour comes from anstream, which strips it when the
//! output is not a terminal.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use serde_json::Value;

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

pub fn render_plan(plan: &Plan) -> String {
    let mut out = String::new();
    let source = match plan.observed_from {
        ObservedFrom::Ledger => "from the ledger",
        ObservedFrom::Live => "live",
    };
    let _ = writeln!(
        out,
        "{} for {} at {} (observed {source})",
        paint(BOLD, "Plan"),
        paint(BOLD, &plan.server),
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
        let _ = writeln!(out, "{} {}", paint(style, &format!("{tag}:")), n.message);
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
    let _ = writeln!(out, "  {} {}", paint(style, m), paint(BOLD, &c.resource));
    let _ = writeln!(out, "      {}", paint(DIM, &format!("# {}", c.reason)));
    match (c.op, &c.before, &c.after) {
        (_, _, _) if c.diff.is_some() => {}
        (Op::Create, _, after) => fields(out, after, GREEN),
        (Op::Delete, before, _) => fields(out, before, RED),
        (_, Value::Object(before), Value::Object(after)) => {
            let width = after.keys().map(|k| k.len()).max().unwrap_or(0);
            for (k, a) in after {
                let b = before.get(k).unwrap_or(&Value::Null);
                if a != b {
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
            let _ = writeln!(out, "      {}", paint(style, line));
        }
    }
    out.push('\n');
}

fn fields(out: &mut String, v: &Value, style: Style) {
    match v {
        Value::Object(map) => {
            let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
            for (k, v) in map {
                let _ = writeln!(out, "      {}", paint(style, &format!("{k:width$} = {}", scalar(v))));
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

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => short_hash(s),
        Value::Object(map) => map.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect::<Vec<_>>().join(", "),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            format!("[{}]", items.iter().map(scalar).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

/// Problems as a list: `file:line:col: error: message` and a help line.
pub fn render_diagnostics(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let style = match d.severity {
            Severity::Error => RED,
            Severity::Warning => YELLOW,
        };
        let text = d.to_string();
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let _ = writeln!(out, "{}", paint(style, first));
        if !rest.is_empty() {
            let _ = writeln!(out, "{}", paint(DIM, rest));
        }
    }
    out
}

/// What apply did, change by change.
pub fn render_report(r: &crate::apply::Report) -> String {
    use crate::apply::Outcome;
    let mut out = String::from("\n");
    let _ = writeln!(out, "{}", paint(BOLD, "Applied:"));
    for (resource, outcome) in &r.results {
        let (style, tag, detail) = match outcome {
            Outcome::Done(d) => (GREEN, "done", d),
            Outcome::Unchanged(d) => (DIM, "unchanged", d),
            Outcome::Waiting(d) => (CYAN, "waiting", d),
        };
        let _ = writeln!(out, "  {} {resource}: {detail}", paint(style, &format!("{tag:>9}")));
    }
    if let Some((resource, error)) = &r.failed {
        let _ = writeln!(out, "  {} {resource}: {error}", paint(RED, "   failed"));
    }
    for w in &r.warnings {
        let _ = writeln!(out, "  {} {w}", paint(YELLOW, "  warning"));
    }
    if !r.files.is_empty() {
        let _ = writeln!(out, "\nFiles written (commit them): {}", r.files.join(", "));
    }
    if !r.message.is_empty() {
        let _ = writeln!(out, "Commit message: {}", r.message.join("; "));
    }
    out
}
