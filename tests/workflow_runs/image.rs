//! The "image" button (Run workflow → image): the image job builds the
//! prebuilt server image through `mc-gitops image build` with only the
//! Hetzner token, reports into the run's summary, and reconciles nothing.

use mc_gitops::hetzner::images::{AGENT_VERSION, VERSION_LABEL, image_labels};
use mc_gitops::ids::ServerName;

use super::*;

const BUILD: &str = "Build the server image";

fn press_image(w: &World, r: &Remote) -> RunReport {
    run_workflow(
        &workflow("reconcile.yml"),
        &github_run(w, r, Event::dispatch(&[("action", "image")])),
        &r.bare,
    )
}

// The builder powers off, is snapshotted and deleted; the server's older
// image goes; the cost is in the summary. The reconcile job does not run,
// although server.toml says running: no server, no record, no commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_button_builds_the_image_into_the_summary_and_reconciles_nothing() {
    let w = World::new().await;
    let older = image_labels(&ServerName::new("grove"), "0.0.9", "x86");
    let older: Vec<(&str, &str)> = older.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    w.h.seed_snapshot(&older, "x86", "2026-10-01T00:00:00Z");
    let r = Remote::new(&w, "running");
    let before = r.log();

    let report = press_image(&w, &r);
    let job = report.job("image");
    assert_eq!(job.result, Outcome::Success, "{}", report.log());
    assert_eq!(job.step(BUILD).exit, Some(0), "{}", report.log());
    assert_eq!(report.job("press").result, Outcome::Skipped);
    assert_eq!(report.job("reconcile").result, Outcome::Skipped, "{}", report.log());

    let snaps = w.h.snapshots();
    assert_eq!(snaps.len(), 1, "the new image only, the older one deleted: {snaps:#?}");
    assert_eq!(snaps[0]["labels"]["mc-gitops/server"], "grove");
    assert_eq!(snaps[0]["labels"][VERSION_LABEL], AGENT_VERSION);
    assert_eq!(w.h.server_count(), 0, "the builder is deleted and nothing was started");
    assert!(w.cf.records().is_empty(), "{:?}", w.cf.records());
    assert_eq!(r.log(), before, "the button committed something");

    assert!(job.summary.starts_with("## 🖼️ mc-gitops image build\n"), "{}", job.summary);
    for line in [
        "installed everything and powered off",
        "deleted the builder server",
        "deleted the older image",
        "a month gross",
    ] {
        assert!(job.summary.contains(line), "{line}: {}", job.summary);
    }
    assert!(!job.summary.contains("The build failed"), "{}", job.summary);
}

// A failed snapshot fails the run, says so in the summary, and still
// deletes the builder (it would bill every hour).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_image_build_fails_the_run_and_leaves_no_builder() {
    let w = World::new().await;
    w.h.fail_actions("create_image", "action_failed", "Action failed");
    let r = Remote::new(&w, "stopped");

    let report = press_image(&w, &r);
    let job = report.job("image");
    assert_eq!(job.result, Outcome::Failure, "{}", report.log());
    assert_eq!(job.step(BUILD).exit, Some(1), "{}", report.log());
    assert!(
        job.summary.contains("deleted the builder server") && job.summary.contains("The build failed (exit status 1)"),
        "{}",
        job.summary
    );
    assert_eq!(w.h.server_count(), 0, "a builder is left billing");
}

// The build step holds the Hetzner token and nothing else: no GitHub
// token, no DNS or bucket keys, no nudge token.
#[test]
fn the_image_job_holds_only_the_hetzner_token() {
    let wf = workflow("reconcile.yml");
    let job = wf.job("image");
    assert_eq!(job.permissions, Some(json!({"contents": "read"})));
    let build = job.steps.iter().find(|s| s.name == BUILD).expect("a build step");
    assert_eq!(
        build.env,
        vec![("HCLOUD_TOKEN".to_string(), "${{ secrets.HCLOUD_TOKEN }}".to_string())]
    );
    assert_eq!(
        build.run.as_deref().map(|r| r.contains("mc-gitops image build --repo .")),
        Some(true)
    );
}
