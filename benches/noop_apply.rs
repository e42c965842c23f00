//! Benchmark: a no-op `mc-gitops apply` (server running, DNS right) against
//! the local Hetzner and Cloudflare fakes. Target (issue 3): ≤ 8 API calls
//! and ≤ 0.3 s wall, release build.
//!
//!     cargo build --release && cargo bench --bench noop_apply
//!
//! Prints the median and worst wall time over the runs and the API calls
//! each run made (the fakes' call logs).

#[path = "../tests/common/mod.rs"]
mod common;
use common::copy_dir;

#[path = "../tests/fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "../tests/fakes/hetzner.rs"]
mod hetzner_fake;

use std::path::Path;
use std::time::Instant;

const RUNS: usize = 25;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join("target/release/mc-gitops");
    assert!(bin.exists(), "build the release binary first: cargo build --release");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (h, cf) = rt.block_on(async {
        (
            hetzner_fake::FakeHetzner::start().await,
            cloudflare_fake::FakeCloudflare::start().await,
        )
    });
    let repo = tempfile::tempdir().unwrap();
    let storage = tempfile::tempdir().unwrap();
    copy_dir(&root.join("state-repo-example"), repo.path());
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:00Z").to_string();
    let run = || {
        let t = Instant::now();
        let out = std::process::Command::new(&bin)
            .args(["apply", "--repo"])
            .arg(repo.path())
            .env("HCLOUD_TOKEN", hetzner_fake::TOKEN)
            .env("HCLOUD_ENDPOINT", h.base_url())
            .env("CLOUDFLARE_API_TOKEN", cloudflare_fake::TOKEN)
            .env("CLOUDFLARE_API_BASE_URL", cf.base_url())
            .env("MC_GITOPS_STORAGE_DIR", storage.path())
            .env("MC_GITOPS_POLL_INTERVAL_MS", "10")
            // The fake's TEST-NET address would only time out; a real run adds one ping (a round trip).
            .env("MC_GITOPS_GAME_PING", "off")
            .env("MC_GITOPS_NOW", &now)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        t.elapsed()
    };
    run(); // the start
    let mut walls = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..RUNS {
        h.clear_calls();
        cf.clear_calls();
        walls.push(run());
        calls.push(h.calls().len() + cf.calls().len());
    }
    walls.sort();
    println!(
        "no-op apply: runs={RUNS} wall_median={:.3}s wall_max={:.3}s api_calls={:?} (target <= 8 calls, <= 0.3 s)",
        walls[RUNS / 2].as_secs_f64(),
        walls[RUNS - 1].as_secs_f64(),
        calls.iter().max().unwrap()
    );
}
