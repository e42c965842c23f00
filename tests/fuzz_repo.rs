//! Fuzzing the state-file loader: the example repo with one of its real
//! files (server.toml, a player file, mods.toml, mods.lock) replaced by a
//! mutation of itself, loaded from disk by the real loader
//! (`repo::load`, the path `check` and `plan` take). No input may panic,
//! and every refusal must name a file of the repo, at a line the file has.
//! `MC_GITOPS_FUZZ_SECS` per target (3 s in CI); `bash scripts/fuzz 600
//! fuzz_repo` is the long run.

mod common;
use common::{copy_dir, example, fuzz};

use std::path::Path;

use mc_gitops::repo::{self, LoadError};

/// Up to twice the largest seed, so mutations can grow past the real file.
const MAX_LEN: usize = 16 * 1024;

fn target(name: &str, rel: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    copy_dir(&example(), &root);
    let seed = std::fs::read(root.join(rel)).unwrap();
    fuzz::run(name, fuzz::bytes_near(seed, MAX_LEN), |input| {
        std::fs::write(root.join(rel), &input).unwrap();
        check_outcome(&root, rel, &input);
    });
}

fn check_outcome(root: &Path, rel: &str, input: &[u8]) {
    match repo::load(root) {
        Ok(_) => {}
        Err(LoadError::Invalid(diags)) => {
            assert!(!diags.is_empty(), "refused with no problem named");
            assert!(
                diags
                    .iter()
                    .any(|d| d.file == rel || d.file.starts_with("mods.lock") || d.file.starts_with("ops.toml")),
                "{rel} was mutated but no problem names it (or what depends on it): {diags:?}"
            );
            for d in &diags {
                assert!(!d.file.is_empty(), "a problem without a file: {d:?}");
                assert!(root.join(&d.file).exists(), "{d:?} names a file the repo does not have");
                if d.line > 0 && d.file == rel {
                    let lines = input.split(|b| *b == b'\n').count();
                    assert!(d.line <= lines, "{d:?} is past the file's {lines} lines");
                }
            }
        }
        Err(e) => panic!("{rel}: not a repo problem but {e}"),
    }
}

#[test]
fn fuzz_server_toml() {
    target("repo-server-toml", "server.toml");
}

#[test]
fn fuzz_player_file() {
    target("repo-player", "players/Steve.toml");
}

#[test]
fn fuzz_mods_toml() {
    target("repo-mods-toml", "mods.toml");
}

#[test]
fn fuzz_mods_lock() {
    target("repo-mods-lock", "mods.lock");
}
