//! No file of hand-written code over 500 lines (issue 14): a long file is a
//! sign that two topics share it, and a newcomer reads one topic at a time.
//!
//! Checked: every `*.rs` under `src/`, `tests/` and `benches/`, every file
//! under `scripts/`, `bench/` and `.ci/`, and the `*.js`/`*.py` peers in
//! `tests/peers/`. Generated or vendored trees (`node_modules`, `__pycache__`,
//! snapshots, lock files) are not hand-written and are skipped. The failure
//! names every file over the limit with its line count.

use std::path::{Path, PathBuf};

const LIMIT: usize = 500;

/// Directories never descended into: generated or vendored content (and any
/// hidden directory, such as a peer's `.venv`).
const SKIPPED_DIRS: &[&str] = &["node_modules", "__pycache__", "snapshots", "target"];

fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("read_dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !SKIPPED_DIRS.contains(&name) && !name.starts_with('.') {
                walk(&path, keep, out);
            }
        } else if keep(&path) {
            out.push(path);
        }
    }
}

fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.contains(&e))
}

/// Every hand-written code file the limit applies to, relative to the crate.
fn checked_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let rust = |p: &Path| has_ext(p, &["rs"]);
    for dir in ["src", "tests", "benches"] {
        walk(&root.join(dir), &rust, &mut files);
    }
    let script = |p: &Path| !has_ext(p, &["md", "lock", "json", "toml", "txt", "snap", "png", "pyc"]);
    for dir in ["scripts", "bench", ".ci"] {
        walk(&root.join(dir), &script, &mut files);
    }
    let peer = |p: &Path| has_ext(p, &["js", "py"]);
    walk(&root.join("tests/peers"), &peer, &mut files);
    files.sort();
    files.dedup();
    files
}

#[test]
fn no_hand_written_file_is_over_500_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = checked_files(root);
    // The walk must have found the crate, or the check passes vacuously.
    assert!(
        files.iter().any(|f| f.ends_with("src/lib.rs")),
        "no src/lib.rs among {} files under {}",
        files.len(),
        root.display()
    );
    assert!(files.iter().any(|f| f.ends_with(".ci/run")));
    let mut over = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let lines = text.lines().count();
        if lines > LIMIT {
            let shown = file.strip_prefix(root).unwrap_or(file);
            over.push(format!("{}: {lines} lines", shown.display()));
        }
    }
    assert!(
        over.is_empty(),
        "{} file(s) over {LIMIT} lines; split each by topic (docs/architecture.md):\n{}",
        over.len(),
        over.join("\n")
    );
}
