//! `mc-gitops simulate` as a user runs it: a synthetic trace written to a
//! file and replayed, the JSON report's shape, and the ledger input refused
//! with the reason when the session files hold no join and leave times.

use assert_cmd::Command;
use std::path::Path;

fn bin() -> Command {
    Command::cargo_bin("mc-gitops").unwrap()
}

fn example() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/state-repo-example"))
}

#[test]
fn a_written_synthetic_trace_replays_with_the_same_figures_as_the_synthetic_run() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.json");
    bin()
        .args(["simulate", "--synthetic", "--seed", "4", "--days", "14", "--write-trace"])
        .arg(&trace)
        .assert()
        .success();
    let json = |args: &[&str]| -> serde_json::Value {
        let out = bin()
            .args(["simulate", "--cron", "0 * * * *", "--json"])
            .args(args)
            .arg("--repo")
            .arg(example())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let from_file = json(&["--seed", "4", "--trace", trace.to_str().unwrap()]);
    let synthetic = json(&["--seed", "4", "--days", "14", "--synthetic"]);
    assert_eq!(from_file["rows"], synthetic["rows"]);
    let rows = from_file["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["policy"].as_str().unwrap()).collect();
    assert_eq!(names, ["seed 15/45", "billing-hour aware", "learned"]);
    for r in rows {
        for key in [
            "billed_hours",
            "cost",
            "cold_starts",
            "warm_starts",
            "instant_joins",
            "total_wait_secs",
            "p95_wait_secs",
            "reconcile_jobs",
            "actions_minutes",
            "actions_minutes_per_month",
        ] {
            assert!(r.get(key).is_some(), "{key} in {r}");
        }
    }
}

#[test]
fn the_frontier_lists_each_fixed_rule_and_the_comparison() {
    let out = bin()
        .args([
            "simulate",
            "--synthetic",
            "--seeds",
            "2",
            "--days",
            "10",
            "--frontier",
            "60",
            "--cron",
            "*/10 * * * *",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for x in ["     0 ", "    60 ", "   120 ", "   180 ", "   240 "] {
        assert!(text.contains(x), "X row {x:?} in\n{text}");
    }
    assert!(text.contains("learned vs seed:"), "{text}");
}

#[test]
fn a_ledger_without_join_and_leave_times_is_refused_with_the_reason() {
    let out = bin().args(["simulate", "--repo"]).arg(example()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[[presence]]") && err.contains("--synthetic"), "{err}");
}
