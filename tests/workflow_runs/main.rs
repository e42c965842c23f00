//! The state repo's workflows, run through their own steps
//! (`tests/common/actions.rs`): `reconcile.yml` against the Hetzner and
//! Cloudflare fakes and a bare git remote, `check.yml` on a pull request.
//! The binary under test stands in for the downloaded release (the
//! "Install mc-gitops" step is skipped and the binary's directory is on
//! `PATH`), so a workflow that forgets a flag, a variable or a secret fails
//! here, as it would for a user.

#[path = "../common/mod.rs"]
mod common;

#[path = "../fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "../fakes/discord.rs"]
mod discord_fake;
#[path = "../fakes/github_dispatch.rs"]
mod github_fake;
#[path = "../fakes/hetzner.rs"]
mod hetzner_fake;
mod image;
mod races;
#[path = "../common/apply_world.rs"]
mod world;

use std::path::{Path, PathBuf};

use common::actions::{Event, Outcome, Run, RunReport, UsesCall, Workflow, checkout_from};
use serde_json::json;
use world::World;

const INSTALL: &str = "Install mc-gitops";

fn workflow(file: &str) -> Workflow {
    Workflow::load(&common::example().join(".github/workflows").join(file))
}

/// `common::git`'s stdout without its last newline.
fn git(dir: &Path, args: &[&str]) -> String {
    common::git(dir, args).trim_end().to_string()
}

/// The example repo (as `World` copied it, with `state` set) committed on
/// `main` and cloned into a bare remote beside it.
struct Remote {
    tmp: tempfile::TempDir,
    bare: PathBuf,
}

impl Remote {
    fn new(w: &World, state: &str) -> Remote {
        w.set_state(state);
        let seed = w.repo.path();
        git(seed, &["init", "-q", "-b", "main"]);
        git(seed, &["add", "-A"]);
        git(seed, &["commit", "-q", "-m", "seed"]);
        let tmp = tempfile::tempdir().unwrap();
        let bare = tmp.path().join("grove-state.git");
        git(
            tmp.path(),
            &["clone", "-q", "--bare", seed.to_str().unwrap(), bare.to_str().unwrap()],
        );
        Remote { tmp, bare }
    }

    /// A file on the remote's `main`.
    fn show(&self, rel: &str) -> String {
        git(&self.bare, &["show", &format!("main:{rel}")])
    }

    /// `author: subject` of each commit on main, newest first.
    fn log(&self) -> Vec<String> {
        git(&self.bare, &["log", "--format=%an: %s", "main"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn changed_by_head(&self) -> Vec<String> {
        git(&self.bare, &["show", "--name-only", "--format=", "main"])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// A run of `event` as a hosted runner would do it, with the secrets
/// pointed at the fakes and the binary under test on `PATH`.
fn github_run(w: &World, r: &Remote, event: Event) -> Run {
    let mut run = Run::new(event, r.tmp.path());
    run.skip_steps = vec![INSTALL.into()];
    run.path = vec![Path::new(env!("CARGO_BIN_EXE_mc-gitops")).parent().unwrap().to_path_buf()];
    run.secrets = [
        ("HCLOUD_TOKEN", hetzner_fake::TOKEN),
        ("CLOUDFLARE_API_TOKEN", cloudflare_fake::TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // The runner machine's environment: where the fakes are.
    run.env = [
        ("HCLOUD_ENDPOINT", w.h.base_url()),
        ("CLOUDFLARE_API_BASE_URL", w.cf.base_url()),
        ("MC_GITOPS_STORAGE_DIR", w.storage.path().display().to_string()),
        ("MC_GITOPS_POLL_INTERVAL_MS", "10".into()),
        ("MC_GITOPS_GAME_PING", "off".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    run
}

fn run_workflow(wf: &Workflow, run: &Run, bare: &Path) -> RunReport {
    let report = tokio::task::block_in_place(|| common::actions::run(wf, run, &mut checkout_from(bare)));
    let log = report.log();
    for secret in [hetzner_fake::TOKEN, cloudflare_fake::TOKEN, &run.token] {
        assert!(!log.contains(secret), "a secret is in the run's log:\n{log}");
    }
    report
}

// Regression (issue 11, break 1): reconcile.yml ran apply without --commit
// --push, so the session, the summaries and the ledger never reached main.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_reconcile_pushes_the_bots_commit() {
    let w = World::new().await;
    let r = Remote::new(&w, "running");
    let before = r.log().len();
    let report = run_workflow(&workflow("reconcile.yml"), &github_run(&w, &r, Event::new("schedule")), &r.bare);
    assert!(report.ok(), "{}", report.log());
    assert_eq!(w.h.server_count(), 1, "{}", report.log());

    let log = r.log();
    assert_eq!(log.len(), before + 1, "one commit pushed: {log:?}\n{}", report.log());
    assert!(log[0].starts_with("mc-gitops[bot]: start eu session "), "{log:?}");
    let files = r.changed_by_head();
    assert!(files.iter().any(|f| f.starts_with("sessions/")), "{files:?}");
    assert!(
        files.contains(&"STATUS.md".to_string()) && files.contains(&"COSTS.md".to_string()),
        "{files:?}"
    );
    let status = r.show("STATUS.md");
    assert!(status.contains("provisioning"), "{status}");
    assert_eq!(report.job("press").result, Outcome::Skipped);
    assert_eq!(report.job("reconcile").step(INSTALL).outcome, Outcome::Skipped);
}

// Issue 17 item 5: the reconcile job counts the Actions minutes of the runs
// that finished before it, with its own token (actions: read), into the
// tally in storage, not into a commit of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_reconcile_counts_the_finished_runs_minutes_into_storage() {
    let w = World::new().await;
    let r = Remote::new(&w, "stopped");
    let gh = github_fake::FakeGitHub::start().await;
    let now = chrono::Utc::now();
    let month_start = chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&now), chrono::Datelike::month(&now), 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let created = (now - chrono::Duration::minutes(5)).max(month_start);
    let at = |d: i64| (created + chrono::Duration::seconds(d)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // The previous run: reconcile 70 s (2 minutes), press skipped.
    gh.add_run(github_fake::FakeRun {
        id: 4242,
        created_at: at(0),
        jobs: vec![(at(2), at(72), "success"), (at(1), at(1), "skipped")],
    });
    let mut run = github_run(&w, &r, Event::new("schedule"));
    run.api_url = gh.url.clone();
    let report = run_workflow(&workflow("reconcile.yml"), &run, &r.bare);
    assert!(report.ok(), "{}", report.log());
    let lists: Vec<_> = gh.reads().into_iter().filter(|c| c.path.contains("/actions/runs")).collect();
    assert!(!lists.is_empty(), "{}", report.log());
    assert_eq!(lists[0].authorization.as_deref(), Some(format!("Bearer {}", run.token).as_str()));
    let month = format!("{:04}-{:02}", chrono::Datelike::year(&now), chrono::Datelike::month(&now));
    let key = w.storage.path().join(format!("ledger/grove/actions/{month}.json"));
    let tally: serde_json::Value = serde_json::from_slice(&std::fs::read(&key).unwrap()).unwrap();
    assert_eq!(tally["runs"]["4242"], 2, "{tally}");
    // The next scheduled run finds one more finished run and nothing else
    // new: the tally grows in storage, and no bot commit is made for it.
    let commits = r.log().len();
    gh.add_run(github_fake::FakeRun {
        id: 4243,
        created_at: at(60),
        jobs: vec![(at(61), at(75), "success")],
    });
    let mut run = github_run(&w, &r, Event::new("schedule"));
    run.api_url = gh.url.clone();
    let report = run_workflow(&workflow("reconcile.yml"), &run, &r.bare);
    assert!(report.ok(), "{}", report.log());
    let tally: serde_json::Value = serde_json::from_slice(&std::fs::read(&key).unwrap()).unwrap();
    assert_eq!(
        (tally["runs"]["4242"].as_u64(), tally["runs"]["4243"].as_u64()),
        (Some(2), Some(1)),
        "{tally}"
    );
    assert_eq!(r.log().len(), commits, "{:?}", r.log());
}

// The status page (issue 16): with STATUS_PAGE = github-pages, the
// reconcile job's own steps write the page outside the checkout, decide to
// publish it (this run committed a start) and hand upload-pages-artifact
// the directory; nothing of it is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_with_the_status_page_on_uploads_the_page_apply_wrote() {
    let w = World::new().await;
    let r = Remote::new(&w, "running");
    let mut run = github_run(&w, &r, Event::new("schedule"));
    run.vars.insert("STATUS_PAGE".into(), "github-pages".into());
    let mut uploaded = Vec::new();
    let mut checkout = checkout_from(&r.bare);
    let mut hook = |call: &UsesCall<'_>| {
        let action = call.step.uses.as_deref().unwrap_or_default();
        if !action.starts_with("actions/upload-pages-artifact@") {
            return checkout(call);
        }
        let dir = PathBuf::from(&call.with["path"]);
        let page = std::fs::read_to_string(dir.join("index.html")).map_err(|e| format!("{}: {e}", dir.display()))?;
        uploaded.push((dir, page));
        Ok(())
    };
    let report = tokio::task::block_in_place(|| common::actions::run(&workflow("reconcile.yml"), &run, &mut hook));
    assert!(report.ok(), "{}", report.log());
    let job = report.job("reconcile");
    assert_eq!(job.step("Upload the status page").outcome, Outcome::Success, "{}", report.log());
    let [(dir, page)] = &uploaded[..] else {
        panic!("one upload: {uploaded:?}")
    };
    assert!(
        dir.ends_with("status-page") && !dir.starts_with(&job.workspace),
        "{}",
        dir.display()
    );
    assert!(page.contains("data-state=\"starting\""), "the run started the server: {page}");
    assert!(dir.join("grove.mrpack").exists());
    assert!(!r.changed_by_head().iter().any(|f| f.contains("index.html")));
}

// Without the variable nothing is uploaded: a repository without Pages gets no failed runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_without_the_status_page_variable_uploads_nothing() {
    let w = World::new().await;
    let r = Remote::new(&w, "stopped");
    let report = run_workflow(&workflow("reconcile.yml"), &github_run(&w, &r, Event::new("schedule")), &r.bare);
    assert!(report.ok(), "{}", report.log());
    let job = report.job("reconcile");
    for step in [
        "Note the commit apply starts from",
        "Decide whether to publish the status page",
        "Upload the status page",
    ] {
        assert_eq!(job.step(step).outcome, Outcome::Skipped, "{step}");
    }
}

// Regression (issue 11, break 3): a dispatch without inputs (the agent's
// nudge) took the defaults action=start, region=eu and started the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_to_reconcile_or_without_inputs_changes_nothing() {
    let w = World::new().await;
    let r = Remote::new(&w, "stopped");
    let server_toml = r.show("server.toml");
    let wf = workflow("reconcile.yml");
    for inputs in [vec![], vec![("action", "reconcile")]] {
        let report = run_workflow(&wf, &github_run(&w, &r, Event::dispatch(&inputs)), &r.bare);
        assert!(report.ok(), "{inputs:?}: {}", report.log());
        assert_eq!(r.show("server.toml"), server_toml, "{inputs:?} edited server.toml");
        assert_eq!(w.h.server_count(), 0, "{inputs:?} started a server: {}", report.log());
        assert!(
            !r.log().iter().any(|c| c.starts_with("grove-admin:")),
            "{inputs:?} committed a press: {:?}",
            r.log()
        );
        assert_eq!(report.job("press").result, Outcome::Skipped, "{inputs:?}");
        assert_eq!(report.job("reconcile").result, Outcome::Success, "{inputs:?}");
    }
}

// The "doctor" button: doctor runs alone (apply does not, whatever
// server.toml says), and its report is the run's summary. The example's
// all-zero release pin and the missing R2 keys are what it must catch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_button_reports_into_the_summary_and_applies_nothing() {
    let w = World::new().await;
    let r = Remote::new(&w, "running");
    let before = r.log();
    let report = run_workflow(
        &workflow("reconcile.yml"),
        &github_run(&w, &r, Event::dispatch(&[("action", "doctor")])),
        &r.bare,
    );
    let job = report.job("reconcile");
    assert_eq!(job.result, Outcome::Failure, "{}", report.log());
    assert_eq!(job.step("Doctor").exit, Some(1), "{}", report.log());
    assert_eq!(job.step("Apply").outcome, Outcome::Skipped);
    assert_eq!(report.job("press").result, Outcome::Skipped);
    assert!(job.summary.starts_with("## 🩺 mc-gitops doctor\n"), "{}", job.summary);
    assert!(
        job.summary
            .contains("- ✗ `release.pin` check-comment.yml pins the all-zero placeholder"),
        "{}",
        job.summary
    );
    assert!(job.summary.contains("- ✗ `r2.key` R2\\_ACCESS\\_KEY\\_ID"), "{}", job.summary);
    assert!(
        job.summary.contains("- ✓ `hetzner.token`") && job.summary.contains("- ✓ `cloudflare.dns`"),
        "{}",
        job.summary
    );
    assert_eq!(w.h.server_count(), 0, "the button started a server");
    assert!(w.cf.records().is_empty(), "the DNS probe is left: {:?}", w.cf.records());
    assert_eq!(r.log(), before, "the button committed something");
}

// Before the first session (no sessions/ yet), a push, and a scheduled
// run once server.toml says running, run doctor first, and a needed check
// that fails stops the run before apply creates a server that could not
// work. A stopped, never-started repo's scheduled runs skip it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_repos_first_run_stops_at_a_failing_doctor() {
    for (event, state, doctor_runs) in [
        ("push", "running", true),
        ("schedule", "running", true),
        ("schedule", "stopped", false),
    ] {
        let w = World::new().await;
        std::fs::remove_dir_all(w.repo.path().join("sessions")).unwrap();
        let r = Remote::new(&w, state);
        let report = run_workflow(&workflow("reconcile.yml"), &github_run(&w, &r, Event::new(event)), &r.bare);
        let job = report.job("reconcile");
        let doctor = job.step("Doctor");
        if doctor_runs {
            assert_eq!(doctor.exit, Some(1), "{event} {state}: {}", report.log());
            assert!(doctor.stdout.contains("✗ release.pin"), "{}", report.log());
            assert_eq!(job.step("Apply").outcome, Outcome::Skipped, "{}", report.log());
        } else {
            assert!(doctor.stdout.contains("stopped and never started"), "{}", report.log());
            assert_eq!(job.step("Apply").outcome, Outcome::Success, "{}", report.log());
        }
        assert_eq!(w.h.server_count(), 0, "{}", report.log());
    }
}

/// `actions/checkout`, plus a `pre-push` hook in the press job's clone that
/// pushes another commit to the remote the first time the job pushes: the
/// race with a reconcile committing its ledger (and an admin editing
/// server.toml) meanwhile.
fn run_workflow_with(wf: &Workflow, r: &Run, uses: &mut dyn FnMut(&UsesCall<'_>) -> Result<(), String>) -> RunReport {
    let report = common::actions::run(wf, r, uses);
    assert!(!report.log().contains(&r.token), "the token is in the log");
    report
}
