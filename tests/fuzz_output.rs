//! Fuzz target (tests/common/fuzz.rs): everything the binary prints about a
//! repo's values, fed arbitrary strings biased towards what the Actions
//! runner parses (`::`, `##[`, CR, LF, `%`, blanks it trims, colour codes)
//! and what Markdown renders (`@`, `<`, backticks). Properties, for every
//! input: no printed line (split at LF and CR, as the runner splits) is a
//! workflow command unless it is one of our annotations; an annotation is
//! one line whose data decodes back to the message; an escaped value has no
//! raw line break; the PR comment has one marker, no raw mention, no HTML
//! from a value, and stays under GitHub's size limit. Long run:
//! `bash scripts/fuzz 600 fuzz_output`.

mod common;

use mc_gitops::check::{CheckResult, MAX_COMMENT_CHARS, markdown};
use mc_gitops::escape;
use mc_gitops::output::{github_annotation, text};
use mc_gitops::repo::diag::{Diagnostic, Severity};
use proptest::prelude::*;
use serde_json::Value;

/// The runner's rule (actions/runner ActionCommand): `::` after leading
/// white space, or `##[` anywhere.
fn runner_would_run(line: &str) -> bool {
    line.trim_start().starts_with("::") || line.contains("##[")
}

fn assert_safe(output: &str, ours: impl Fn(&str) -> bool) {
    for l in output.split(['\n', '\r']) {
        assert!(!runner_would_run(l) || ours(l), "command line {l:?} in {output:?}");
    }
    assert!(!output.contains('\r'), "raw CR in {output:?}");
}

/// Strings made of the pieces that matter, and anything else.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("::".to_string()),
        Just("::add-mask::".to_string()),
        Just("::stop-commands::".to_string()),
        Just("##[".to_string()),
        Just("#".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just("%".to_string()),
        Just("%0A".to_string()),
        Just(" ".to_string()),
        Just("\u{a0}".to_string()),
        Just("\u{2028}".to_string()),
        Just("\u{1b}[31m".to_string()),
        Just("@".to_string()),
        Just("<".to_string()),
        Just("`".to_string()),
        Just("<!-- mc-gitops-plan -->".to_string()),
        "[a-z]{1,5}",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

fn unescape_data(s: &str) -> String {
    s.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
}

#[test]
fn fuzz_output() {
    let strategy = (hostile(), hostile(), hostile(), any::<bool>(), 0usize..3);
    let plan = example_plan();
    common::fuzz::run("output", strategy, |(file, message, help, warn, line)| {
        // Diagnostics, as text and as annotations.
        let d = Diagnostic {
            severity: if warn { Severity::Warning } else { Severity::Error },
            file: file.clone(),
            line,
            col: line,
            message: message.clone(),
            help: Some(help.clone()).filter(|h| !h.is_empty()),
        };
        let listed = anstream::adapter::strip_str(&text::render_diagnostics(std::slice::from_ref(&d))).to_string();
        assert_safe(&listed, |_| false);
        let a = github_annotation(&d);
        assert!(!a.contains('\n') && !a.contains('\r'), "{a:?}");
        let kind = if warn { "::warning file=" } else { "::error file=" };
        assert!(a.starts_with(kind), "{a:?}");
        // The properties end at the first `::` after the command name: the
        // data after it is the whole message, nothing else.
        let sep = a[2..].find("::").map(|i| i + 2).expect("a separator");
        let mut want = message.clone();
        if let Some(h) = &d.help {
            want.push_str(" — ");
            want.push_str(h);
        }
        assert_eq!(unescape_data(&a[sep + 2..]), want, "{a:?}");

        // Values and lines.
        let v = escape::value(&message);
        assert!(!v.contains('\n') && !v.contains('\r') && !v.contains('\u{1b}'), "{v:?}");
        assert_safe(&escape::text(&message), |_| false);
        let json = serde_json::to_string_pretty(&serde_json::json!({ "v": message })).unwrap();
        let safe = escape::json(&json);
        assert_safe(&safe, |_| false);
        assert_eq!(serde_json::from_str::<Value>(&safe).unwrap()["v"], message.as_str());

        // The plan, with its values replaced by the input.
        let mut p = plan.clone();
        if let Some(c) = p.changes.first_mut() {
            c.resource = file.clone();
            c.reason = message.clone();
            c.after = serde_json::json!({ help.clone(): message.clone() });
            c.diff = Some(format!("--- a/x\n+++ b/x\n@@ -1 +1 @@\n {message}\n+{help}\n"));
        }
        if let Some(n) = p.notices.first_mut() {
            n.message = help.clone();
        }
        let shown = anstream::adapter::strip_str(&mc_gitops::plan::render::text(&p)).to_string();
        assert_safe(&shown, |_| false);
        assert_safe(&mc_gitops::plan::render::json(&p), |_| false);

        // The PR comment.
        let r = CheckResult {
            version: 1,
            pr: Some(7),
            problems: vec![d.clone(); 3],
            plan: format!("{message}\n{help}"),
            summary: file.clone(),
        };
        let body = markdown(&r);
        assert!(body.chars().count() <= MAX_COMMENT_CHARS, "{}", body.chars().count());
        assert_eq!(body.matches("<!-- mc-gitops-plan -->").count(), 1, "{body:?}");
        let before_plan = body.split("<details>").next().unwrap();
        assert!(!before_plan[25..].contains('<'), "HTML from a value: {body:?}");
        let mut chars = before_plan.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '@' {
                assert!(!chars.peek().is_some_and(|n| n.is_alphanumeric()), "a raw mention: {body:?}");
            }
        }
    });
}

/// The example repo's plan (from the ledger), whose strings the target replaces.
fn example_plan() -> mc_gitops::plan::Plan {
    let loaded = mc_gitops::repo::load(&common::example()).expect("the example loads");
    let d = &loaded.desired;
    let now = chrono::Utc::now();
    let observed = mc_gitops::observe::ledger_only::observe(&loaded.ledger, &d.server, now);
    let plan = mc_gitops::plan::plan(d, &observed);
    assert!(
        !plan.changes.is_empty() && !plan.notices.is_empty(),
        "the example plans changes and notes"
    );
    plan
}
