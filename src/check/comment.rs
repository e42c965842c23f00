//! The verdict as Markdown: the step summary and the one PR comment.
//!
//! Every string in a [`CheckResult`] is untrusted: problems echo a pull
//! request's files (a player name, a motd, a TOML snippet), and the comment
//! job posts a result that a fork's modified check.yml may have written. So
//! the Markdown is built here from the structured result, never taken as
//! text, and each value is rendered so that it cannot:
//! - ping anyone: `@name` gets a zero-width space after the `@`, and `#12`
//!   after the `#` (no cross-reference notifications);
//! - inject HTML (an `<img>`, a `<details>`, a fake `<!-- mc-gitops-plan -->`
//!   marker that would make the bot edit another comment): `&`, `<`, `>`
//!   become entities;
//! - make links, images, emphasis or tables: Markdown's punctuation is
//!   backslash-escaped, and line breaks become spaces;
//! - break out of the plan's code block: the fence is longer than any run
//!   of backticks inside it (nothing inside a code block is rendered), and
//!   a `<!--` in it gets a zero-width space, so the body holds one marker.
//!
//! Size: GitHub refuses comments over 65,536 characters, so the comment is
//! cut to [`MAX_COMMENT_CHARS`], listing at most [`MAX_LISTED_PROBLEMS`]
//! problems and saying what was left out (the run's log has everything).

use super::{CheckResult, github};
use crate::repo::diag::Severity;

/// The longest comment built, under GitHub's 65,536-character limit with
/// room for the marker and the truncation notes.
pub const MAX_COMMENT_CHARS: usize = 60_000;

/// Problems listed one by one; the rest are counted.
pub const MAX_LISTED_PROBLEMS: usize = 100;

/// The verdict as Markdown, every value from the result escaped.
pub fn markdown(r: &CheckResult) -> String {
    let mut s = format!("{}\n### mc-gitops check\n\n", github::MARKER);
    let errors = r.problems.iter().filter(|d| d.severity == Severity::Error).count();
    if r.problems.is_empty() {
        s.push_str(&format!("✅ valid ({})\n", inline(&r.summary)));
    } else {
        s.push_str(&format!(
            "{} {errors} error(s), {} warning(s)\n\n",
            if errors > 0 { "❌" } else { "⚠️" },
            r.problems.len() - errors
        ));
        let budget = MAX_COMMENT_CHARS / 2;
        let mut listed = 0;
        for d in r.problems.iter().take(MAX_LISTED_PROBLEMS) {
            let at = if d.line == 0 {
                d.file.clone()
            } else {
                format!("{}:{}:{}", d.file, d.line, d.col)
            };
            let mut item = format!("- **{}**: {}", inline(&at), inline(&d.message));
            if let Some(h) = &d.help {
                item.push_str(&format!(" — {}", inline(h)));
            }
            item.push('\n');
            if s.chars().count() + item.chars().count() > budget {
                break;
            }
            s.push_str(&item);
            listed += 1;
        }
        if listed < r.problems.len() {
            s.push_str(&format!("- … and {} more (listed in the check's log)\n", r.problems.len() - listed));
        }
    }
    if !r.plan.is_empty() {
        let room = MAX_COMMENT_CHARS.saturating_sub(s.chars().count() + 200);
        let (plan, cut) = cut(r.plan.trim_end(), room);
        let fence = fence_for(&plan);
        s.push_str(&format!("\n<details><summary>Plan</summary>\n\n{fence}text\n{plan}\n{fence}\n"));
        if cut > 0 {
            s.push_str(&format!("\n(the plan is cut: {cut} more characters in the check's log)\n"));
        }
        s.push_str("</details>\n");
    }
    s
}

/// An untrusted value as inline Markdown text that renders as itself.
pub fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c if c.is_control() && c != '\t' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' | '#' if chars.peek().is_some_and(|n| n.is_alphanumeric() || *n == '_' || *n == '-') => {
                out.push(c);
                out.push('\u{200b}');
            }
            '\\' | '`' | '*' | '_' | '[' | ']' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A backtick fence longer than any run of backticks in `body` (at least 3).
pub(crate) fn fence_for(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// `s` cut to `max` characters (controls but newline and tab made
/// visible), and how many characters were left out.
pub(crate) fn cut(s: &str, max: usize) -> (String, usize) {
    let total = s.chars().count();
    let kept: String = s
        .chars()
        .take(max)
        .map(|c| match c {
            '\r' => "\\r".to_string(),
            c if c.is_control() && c != '\n' && c != '\t' => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect::<String>()
        // The marker is how the bot finds its comment: only one, ours.
        .replace("<!--", "<\u{200b}!--");
    (kept, total.saturating_sub(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::diag::Diagnostic;

    fn hostile(message: &str, plan: &str) -> CheckResult {
        CheckResult {
            version: 1,
            pr: Some(7),
            problems: vec![Diagnostic {
                severity: Severity::Error,
                file: "players/x.toml".into(),
                line: 1,
                col: 1,
                message: message.into(),
                help: None,
            }],
            plan: plan.into(),
            summary: String::new(),
        }
    }

    #[test]
    fn values_cannot_mention_link_or_inject_html() {
        let body = markdown(&hostile(
            "@everyone see <img src=x onerror=alert(1)> [click](https://evil) #12 <!-- mc-gitops-plan -->\n### owned",
            "",
        ));
        assert!(!body.contains("@everyone") && body.contains("@\u{200b}everyone"), "{body}");
        assert!(!body.contains("#12") && !body.contains("<img"), "{body}");
        assert!(body.contains("\\[click\\](https://evil)"), "{body}");
        assert_eq!(body.matches(github::MARKER).count(), 1, "{body}");
        assert!(!body.contains("\n### owned"), "{body}");
    }

    #[test]
    fn the_plan_cannot_close_its_code_block() {
        let body = markdown(&hostile("x", "a\n```\n@everyone <b>hi</b>\n````"));
        assert!(body.contains("\n`````text\na\n```\n"), "{body}");
        assert!(body.contains("\n`````\n</details>"), "{body}");
    }

    #[test]
    fn a_huge_result_is_cut_under_githubs_limit() {
        let mut r = hostile(&"m".repeat(5_000), &"p".repeat(200_000));
        r.problems = vec![r.problems[0].clone(); 1_000];
        let body = markdown(&r);
        assert!(body.chars().count() <= MAX_COMMENT_CHARS, "{}", body.chars().count());
        assert!(body.contains("more (listed in the check's log)"));
        assert!(body.contains("(the plan is cut: "));
    }
}
