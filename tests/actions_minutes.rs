//! The Actions minutes tally against a fake GitHub (issue 17 item 5): each
//! finished run's jobs rounded up to a minute as GitHub bills them, skipped
//! jobs free, runs of another month left out, paging past 100 runs, a run
//! counted once (the second refresh asks for no jobs), the tally kept in
//! storage between runs, and a token without Actions: read named in the error.

#[path = "fakes/github_dispatch.rs"]
mod github_fake;

use github_fake::{FakeGitHub, FakeRun, Grant};
use mc_gitops::actions_minutes::{self, ActionsTally, GithubRun, github};
use mc_gitops::ids::ServerName;
use mc_gitops::secret::Secret;
use mc_gitops::storage::Store;

const REPO: &str = "friends/grove-state";

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

fn run(id: u64, created: &str, jobs: &[(&str, &str, &'static str)]) -> FakeRun {
    FakeRun {
        id,
        created_at: created.into(),
        jobs: jobs.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), *c)).collect(),
    }
}

fn jobs_calls(gh: &FakeGitHub) -> usize {
    gh.reads().iter().filter(|c| c.path.ends_with("/jobs")).count()
}

#[tokio::test]
async fn each_job_is_billed_rounded_up_and_each_run_counted_once() {
    let gh = FakeGitHub::start().await;
    // A scheduled run: reconcile 42 s (1 min), press skipped, pages skipped.
    gh.add_run(run(
        1,
        "2026-12-01T00:17:05Z",
        &[
            ("2026-12-01T00:17:10Z", "2026-12-01T00:17:52Z", "success"),
            ("2026-12-01T00:17:08Z", "2026-12-01T00:17:08Z", "skipped"),
        ],
    ));
    // A press: press 15 s (1), reconcile 1 min 40 s (2).
    gh.add_run(run(
        2,
        "2026-12-01T18:40:00Z",
        &[
            ("2026-12-01T18:40:03Z", "2026-12-01T18:40:18Z", "success"),
            ("2026-12-01T18:40:20Z", "2026-12-01T18:42:00Z", "success"),
        ],
    ));
    // Last month's: not this month's minutes.
    gh.add_run(run(
        3,
        "2026-11-30T23:17:00Z",
        &[("2026-11-30T23:17:05Z", "2026-11-30T23:17:40Z", "success")],
    ));
    let api = github::api(&gh.url, Secret::new("ghs_installation")).unwrap();
    let mut tally = ActionsTally::new("2026-12".into());
    let added = github::refresh(&api, REPO, &mut tally, t("2026-12-02T00:00:00Z")).await.unwrap();
    assert_eq!(added, 2);
    assert_eq!(tally.runs.get(&1), Some(&1));
    assert_eq!(tally.runs.get(&2), Some(&3));
    assert_eq!(tally.minutes(), 4);
    assert_eq!(tally.newest_created, Some(t("2026-12-01T18:40:00Z")));
    let first = gh.reads();
    assert!(
        first[0]
            .path
            .starts_with("/repos/friends/grove-state/actions/runs?status=completed&created=%3E%3D2026-12-01T00:00:00Z&per_page=100&page=1"),
        "{first:?}"
    );
    assert_eq!(first[0].authorization.as_deref(), Some("Bearer ghs_installation"));
    assert_eq!(jobs_calls(&gh), 2);

    // The next run: one more finished; only its jobs are asked for, and the
    // list starts a little before the newest run counted.
    gh.add_run(run(
        4,
        "2026-12-02T01:17:00Z",
        &[("2026-12-02T01:17:02Z", "2026-12-02T01:18:03Z", "success")],
    ));
    let added = github::refresh(&api, REPO, &mut tally, t("2026-12-02T02:00:00Z")).await.unwrap();
    assert_eq!((added, tally.minutes()), (1, 6));
    assert_eq!(jobs_calls(&gh), 3);
    let last_list = gh.reads().into_iter().rfind(|c| c.path.contains("/runs?")).unwrap();
    assert!(last_list.path.contains("created=%3E%3D2026-12-01T15:40:00Z"), "{}", last_list.path);
}

#[tokio::test]
async fn more_than_a_page_of_runs_is_read_to_the_end() {
    let gh = FakeGitHub::start().await;
    for i in 0..150u64 {
        let at = t("2026-12-01T00:17:00Z") + chrono::Duration::hours(i as i64);
        let s = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let e = (at + chrono::Duration::seconds(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        gh.add_run(run(100 + i, &s, &[(&s, &e, "success")]));
    }
    let api = github::api(&gh.url, Secret::new("ghs_installation")).unwrap();
    let mut tally = ActionsTally::new("2026-12".into());
    github::refresh(&api, REPO, &mut tally, t("2026-12-08T00:00:00Z")).await.unwrap();
    assert_eq!((tally.runs.len(), tally.minutes()), (150, 150));
    assert_eq!(gh.reads().iter().filter(|c| c.path.contains("/runs?")).count(), 2);
}

#[tokio::test]
async fn a_token_without_actions_read_is_named_and_the_stored_tally_kept() {
    let gh = FakeGitHub::start().await;
    gh.add_run(run(
        1,
        "2026-12-01T00:17:05Z",
        &[("2026-12-01T00:17:10Z", "2026-12-01T00:17:52Z", "success")],
    ));
    gh.grant(
        "ghs_no_actions",
        Grant {
            push: None,
            actions: false,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::local(dir.path(), &ServerName::new("grove")).unwrap();
    let now = t("2026-12-02T00:00:00Z");
    let mut stored = ActionsTally::new("2026-12".into());
    stored.private = Some(true);
    stored.runs.insert(99, 7);
    store
        .put_json(&actions_minutes::tally_key(store.server(), "2026-12"), &stored)
        .await
        .unwrap();

    let refused = GithubRun {
        api: github::api(&gh.url, Secret::new("ghs_no_actions")).unwrap(),
        repo: REPO.into(),
        private: Some(true),
    };
    let (usage, warnings) = actions_minutes::observe(&store, Some(&refused), now).await;
    assert_eq!(usage.unwrap().minutes, 7);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("403") && warnings[0].contains("Resource not accessible by integration"),
        "{warnings:?}"
    );

    // With Actions: read the run is added, stored, and read back by the next run.
    let allowed = GithubRun {
        api: github::api(&gh.url, Secret::new("ghs_installation")).unwrap(),
        repo: REPO.into(),
        private: Some(true),
    };
    let (usage, warnings) = actions_minutes::observe(&store, Some(&allowed), now).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(usage.as_ref().unwrap().minutes, 8);
    let (read_back, _) = actions_minutes::observe(&store, None, now).await;
    assert_eq!(read_back, usage);
}
