//! The `world` command's library half against the local file system (the
//! world's own snapshot tests are in `world/tests.rs`, the same paths against
//! a real S3 server in tests/world.rs).

use std::path::Path;

use chrono::{DateTime, Utc};

use super::*;
use crate::ids::ServerName;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn store(dir: &Path) -> Store {
    Store::local(dir, &ServerName::new("grove")).unwrap()
}

const GO: &(dyn Fn(u64) -> bool + Send + Sync) = &|_| true;

// Regression (review of issue 11): `world prune` deleted the backup server.toml's
// `restore` names, which the reconciler's retention spares.
#[tokio::test]
async fn world_prune_spares_the_backup_server_toml_restores() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/state-repo-example/server.toml")).unwrap();
    let commented = "# restore = \"2026-11-01T18-00-00Z\"";
    assert!(example.contains(commented));
    let text = example.replacen(commented, "restore = \"2026-11-22T11-00-00Z\"", 1);
    // Without R2 credentials in the environment storage is the repo's local directory.
    std::fs::write(repo.join("server.toml"), text).unwrap();
    let s = store(&repo.join(".mc-gitops/storage"));
    let world = tmp.path().join("w");
    world::tests::make_world(&world, 1, 10);
    let mut made = Vec::new();
    for h in 0..4 {
        made.push(
            world::snapshot(&s, &world, t(&format!("2026-11-22T1{h}:00:00Z")), GO)
                .await
                .unwrap()
                .name,
        );
    }
    let mut out = Vec::new();
    run(
        &crate::inputs::Inputs::default(),
        WorldCommand::Prune { keep: Some(1) },
        &repo,
        &mut out,
    )
    .await
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    let left: Vec<BackupName> = retention::list(&s).await.unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(left, [made[1].clone(), made[3].clone()], "{out}");
    assert!(out.contains("2 deleted"), "{out}");
}
