//! The plan rendered by itself, so the planner's snapshot tests need nothing
//! above it: for people ([`text`]: one block per change with a `+ ~ - …`
//! marker, the reason on the next line, before/after values, and unified
//! diffs of rendered files) and for programs ([`json`]: the documented,
//! snapshot-tested shape of docs/plan-json.md). Colour comes from anstream,
//! which strips it when the output is not a terminal; the palette
//! ([`paint`] and its styles) is shared with `output`'s problem lists and
//! apply reports.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use serde_json::Value;

use super::{Change, Level, Op, Plan};
use crate::escape::{self, value};
use crate::observe::ObservedFrom;

pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const RED: Style = AnsiColor::Red.on_default();
pub const CYAN: Style = AnsiColor::Cyan.on_default();
pub const DIM: Style = Style::new().dimmed();
pub const BOLD: Style = Style::new().bold();

/// `text` in `s`, reset after.
pub fn paint(s: Style, text: &str) -> String {
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
pub fn text(plan: &Plan) -> String {
    escape::text(&plan_text(plan))
}

/// The plan as JSON: the documented, snapshot-tested shape (see docs/plan-json.md).
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("a plan always serialises");
    s.push('\n');
    escape::json(&s).into_owned()
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
