//! Hostile inputs at the workflows' trust boundary (issue 12, items 5 and 8):
//! the `check-result` artifact a fork's modified `check.yml` can write, read
//! by the comment job that holds a token that may comment; and repo values
//! that would inject workflow commands (`::add-mask::`, `::error::`,
//! `::stop-commands::`, `##[…]`) into the Actions log through the binary's
//! output. Each test is one attack, reproduced against the real binary.

mod common;

#[path = "fakes/github.rs"]
mod github_fake;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::actions::{Event, Outcome, Run, RunReport, UsesCall, Workflow};
use github_fake::{FakeGithub, TOKEN};
use serde_json::{Value, json};

const BASE_REPO: &str = "grove-friends/grove-state";
const SHA_7: &str = "7777777777777777777777777777777777777777";
const SHA_9: &str = "9999999999999999999999999999999999999999";

/// A comment job's world: the fake GitHub with PR 7 (a friend's branch in
/// the base repository) and PR 9 (mallory's fork), an artifact and an event.
struct CommentJob {
    dir: tempfile::TempDir,
    gh: FakeGithub,
}

impl CommentJob {
    async fn new() -> CommentJob {
        let gh = FakeGithub::start().await;
        gh.add_pull(7, SHA_7, BASE_REPO, "new-friend");
        gh.add_pull(9, SHA_9, "mallory/grove-state", "evil");
        CommentJob {
            dir: tempfile::tempdir().unwrap(),
            gh,
        }
    }

    fn artifact(&self, result: &Value) -> PathBuf {
        let p = self.dir.path().join("check-result.json");
        std::fs::write(&p, serde_json::to_vec_pretty(result).unwrap()).unwrap();
        p
    }

    /// The `workflow_run` event GitHub gives the comment job for a run of
    /// check.yml on `head_sha` in `head_repo`.
    fn event(&self, head_sha: &str, head_repo: &str, head_branch: &str) -> PathBuf {
        let p = self.dir.path().join("event.json");
        let event = json!({
            "action": "completed",
            "workflow_run": {
                "id": 4242, "event": "pull_request", "head_sha": head_sha, "head_branch": head_branch,
                "head_repository": { "full_name": head_repo },
                "repository": { "full_name": BASE_REPO },
                "pull_requests": []
            }
        });
        std::fs::write(&p, serde_json::to_vec_pretty(&event).unwrap()).unwrap();
        p
    }

    async fn post(&self, artifact: &Path, event: Option<&Path>) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
        c.args(["check", "--post-result"])
            .arg(artifact)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", BASE_REPO)
            .env("GITHUB_API_URL", self.gh.base_url())
            .env("GITHUB_TOKEN", TOKEN)
            .env_remove("GITHUB_STEP_SUMMARY");
        match event {
            Some(e) => c.env("GITHUB_EVENT_NAME", "workflow_run").env("GITHUB_EVENT_PATH", e),
            None => c.env_remove("GITHUB_EVENT_NAME").env_remove("GITHUB_EVENT_PATH"),
        };
        let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!all.contains(TOKEN), "the token was printed: {all}");
        out
    }

    fn writes(&self) -> Vec<String> {
        self.gh
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("POST") || c.starts_with("PATCH"))
            .collect()
    }
}

fn result_for(pr: u64) -> Value {
    json!({"version": 1, "pr": pr, "problems": [], "plan": "Plan for grove at 2026-12-04 18:00 UTC\n", "summary": "3 players"})
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// The attack (issue 12 item 5): a fork's check.yml writes an artifact
// naming PR 7 while its own run is PR 9's; the comment job must not post on 7.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_result_refuses_an_artifact_aimed_at_another_pull_request() {
    let job = CommentJob::new().await;
    let artifact = job.artifact(&result_for(7));
    let event = job.event(SHA_9, "mallory/grove-state", "evil");
    let out = job.post(&artifact, Some(&event)).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("names pull request #7") && err.contains("#9"),
        "the refusal names both: {err}"
    );
    assert_eq!(job.writes(), Vec::<String>::new(), "nothing is posted anywhere");
    assert!(job.gh.comments().is_empty());
}

// The same run, honest: the artifact names PR 9, whose head is the run's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_result_comments_on_the_pull_request_the_run_belongs_to() {
    let job = CommentJob::new().await;
    let out = job
        .post(
            &job.artifact(&result_for(9)),
            Some(&job.event(SHA_9, "mallory/grove-state", "evil")),
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let comments = job.gh.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].1, 9);
}

// A fork branch named like the victim's, in another repository: the head
// repository must match too, not only the branch name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_result_refuses_a_head_sha_that_no_open_pull_request_has() {
    let job = CommentJob::new().await;
    let forged = "abababababababababababababababababababab";
    let out = job
        .post(&job.artifact(&result_for(7)), Some(&job.event(forged, BASE_REPO, "new-friend")))
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no open pull request"), "{}", stderr(&out));
    assert!(job.writes().is_empty());
}

// Without the workflow_run event there is nothing to check the artifact
// against: --post-result refuses rather than trusting it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_result_refuses_without_the_workflow_run_event() {
    let job = CommentJob::new().await;
    let out = job.post(&job.artifact(&result_for(7)), None).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("workflow_run"), "{}", stderr(&out));
    assert!(job.gh.calls().iter().all(|c| !c.contains("/repos/")), "{:?}", job.gh.calls());
}

/// check-comment.yml through its own steps (tests/common/actions.rs): the
/// artifact download copies `artifact` in, the release download is skipped
/// (the binary under test is on PATH), and the event is GitHub's
/// workflow_run for a check run on `head_sha` in `head_repo`.
async fn run_check_comment(job: &CommentJob, result: &Value, head_sha: &str, head_repo: &str, branch: &str) -> RunReport {
    let wf = Workflow::load(&common::example().join(".github/workflows/check-comment.yml"));
    let artifact = job.dir.path().join("uploaded");
    std::fs::create_dir_all(&artifact).unwrap();
    std::fs::write(artifact.join("check-result.json"), serde_json::to_vec(result).unwrap()).unwrap();
    let event = Event {
        payload: json!({"action": "completed", "workflow_run": {
            "id": 4242, "event": "pull_request", "head_sha": head_sha, "head_branch": branch,
            "head_repository": {"full_name": head_repo}, "pull_requests": []}}),
        ..Event::new("workflow_run")
    };
    let mut run = Run::new(event, job.dir.path());
    run.repository = BASE_REPO.into();
    run.token = TOKEN.into();
    run.api_url = job.gh.base_url();
    run.skip_steps = vec!["Install mc-gitops".into()];
    run.path = vec![Path::new(env!("CARGO_BIN_EXE_mc-gitops")).parent().unwrap().to_path_buf()];
    let mut download = |call: &UsesCall<'_>| {
        let action = call.step.uses.as_deref().unwrap_or_default();
        if !action.starts_with("actions/download-artifact@") {
            return Err(format!("the comment job must not run {action}"));
        }
        assert_eq!(call.with["run-id"], "4242", "the artifact of the triggering run");
        common::copy_dir(&artifact, &call.workspace.join(&call.with["path"]));
        Ok(())
    };
    let report = tokio::task::block_in_place(|| common::actions::run(&wf, &run, &mut download));
    assert!(!report.log().contains(TOKEN), "the token is in the log");
    report
}

// The attack of post_result_refuses_an_artifact_aimed_at_another_pull_request
// through the shipped workflow: its Comment step fails and posts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_comment_workflow_refuses_an_artifact_aimed_at_another_pull_request() {
    let job = CommentJob::new().await;
    let report = run_check_comment(&job, &result_for(7), SHA_9, "mallory/grove-state", "evil").await;
    let comment = report.job("comment");
    assert_eq!(comment.result, Outcome::Failure, "{}", report.log());
    assert!(comment.step("Comment").stderr.contains("names pull request #7"), "{}", report.log());
    assert!(job.writes().is_empty() && job.gh.comments().is_empty(), "{:?}", job.gh.calls());

    let honest = run_check_comment(&job, &result_for(9), SHA_9, "mallory/grove-state", "evil").await;
    assert!(honest.ok(), "{}", honest.log());
    let comments = job.gh.comments();
    assert_eq!(comments.iter().map(|c| c.1).collect::<Vec<_>>(), [9]);
}

/// Whether GitHub's runner would take `line` as a workflow command: the
/// `::name …::` form after leading white space, or the legacy `##[name]`
/// anywhere in the line (actions/runner ActionCommand.TryParseV2/TryParse).
/// Written here from the runner's rules, not taken from the code under test.
fn runner_would_run(line: &str) -> bool {
    line.trim_start().starts_with("::") || line.contains("##[")
}

/// The binary's own annotations: the only command lines it may print.
/// The runner parses the `::` form first, so a `##[` in their data is
/// never read as a legacy command.
fn ours(line: &str) -> bool {
    line.starts_with("::error file=") || line.starts_with("::warning file=")
}

/// The runner splits output at LF and at CR; no line but ours may be a
/// command, and ours carry their values `%`-escaped.
fn assert_no_injected_command(output: &str) {
    for l in output.split(['\n', '\r']) {
        assert!(
            !runner_would_run(l) || ours(l),
            "the output carries a workflow command: {l:?}\n{output}"
        );
    }
}

/// A copy of the example repo with `files` written over it.
fn hostile_repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&common::example(), dir.path());
    for (rel, text) in files {
        std::fs::write(dir.path().join(rel), text).unwrap();
    }
    dir
}

/// `mc-gitops <args> --repo <dir>` as a workflow step runs it: both streams.
fn run_in_actions(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
        .args(args)
        .arg("--repo")
        .arg(dir)
        .env("GITHUB_ACTIONS", "true")
        .env("MOJANG_API_BASE_URL", "http://127.0.0.1:9")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_TOKEN")
        .output()
        .unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

const STEVE: &str = "name = \"Steve\"\nuuid = \"8667ba71-b85a-4004-af54-457a9734eed7\"\n";

// A player name with a newline: the diagnostic echoed it raw, and its second
// line was `::stop-commands::t`, which silences every later annotation.
#[test]
fn a_player_name_cannot_stop_the_runners_commands() {
    let repo = hostile_repo(&[("players/Bad.toml", "name = \"Bad\\n::stop-commands::t\"\n")]);
    let out = run_in_actions(repo.path(), &["check", "--annotations"]);
    assert!(out.contains("players/Bad.toml:1:8: error:"), "{out}");
    assert!(out.contains("Bad\\n::stop-commands::t"), "the value is shown, escaped: {out}");
    assert_no_injected_command(&out);
}

// An unknown key in a player file (a friend's PR writes it): the message
// echoed the key, whose newline started an `::add-mask::` line.
#[test]
fn an_unknown_key_cannot_add_a_mask() {
    let file = format!("{STEVE}\"evil\\n::add-mask::grove\" = 1\n");
    let repo = hostile_repo(&[("players/Steve.toml", &file)]);
    let out = run_in_actions(repo.path(), &["check", "--annotations"]);
    assert!(out.contains("players/Steve.toml:3:1: error: unknown key"), "{out}");
    assert_no_injected_command(&out);
}

// A carriage return is a line break to the runner, too.
#[test]
fn a_carriage_return_in_a_value_cannot_start_an_error_annotation() {
    let file = format!("{STEVE}\"x\\r::error::pwned\" = 1\n");
    let repo = hostile_repo(&[("players/Steve.toml", &file)]);
    let out = run_in_actions(repo.path(), &["check", "--annotations"]);
    assert!(out.contains("x\\r::error::pwned"), "{out}");
    assert_no_injected_command(&out);
}

// The legacy form needs no line break: `##[error]` anywhere in a line.
#[test]
fn a_legacy_command_inside_a_value_is_defused() {
    let file = format!("{STEVE}\"##[error]pwned\" = 1\n");
    let repo = hostile_repo(&[("players/Steve.toml", &file)]);
    let out = run_in_actions(repo.path(), &["check", "--annotations"]);
    assert!(out.contains("#\\#[error]pwned"), "{out}");
    assert_no_injected_command(&out);
}

// Lines of a repo config file shown in the plan's diff: `::` after blanks
// (the runner trims them) and a legacy `##[error]`, which the text plan
// printed as is; the JSON plan must still decode to the file's text.
#[test]
fn a_config_file_cannot_inject_a_command_through_the_plans_diff() {
    let props = std::fs::read_to_string(common::example().join("config/lithium.properties")).unwrap();
    let hostile = format!("{props}  ::add-mask::grove\n::error file=x::pwned\n\u{a0}::warning::y\n##[error]pwned\n");
    let repo = hostile_repo(&[("config/lithium.properties", &hostile)]);
    let out = run_in_actions(repo.path(), &["plan"]);
    assert!(
        out.contains("add-mask::grove") && out.contains("#\\#[error]pwned"),
        "the diff shows the lines: {out}"
    );
    assert_no_injected_command(&out);
    let out = Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
        .args(["plan", "--json", "--repo"])
        .arg(repo.path())
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout);
    assert_no_injected_command(&json);
    let plan: Value = serde_json::from_str(&json).unwrap();
    assert!(
        plan.to_string().contains("+##[error]pwned"),
        "the JSON decodes to the file's line: {json}"
    );
}

// A friend writes the bot's hidden marker into their own comment: the bot
// took it for its comment and overwrote it with the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_comment_with_the_marker_is_not_overwritten() {
    let job = CommentJob::new().await;
    let theirs = job.gh.add_comment_by_a_person(9, "<!-- mc-gitops-plan -->\nlgtm, ship it");
    let out = job
        .post(
            &job.artifact(&result_for(9)),
            Some(&job.event(SHA_9, "mallory/grove-state", "evil")),
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let comments = job.gh.comments();
    assert_eq!(comments[0], (theirs, 9, "<!-- mc-gitops-plan -->\nlgtm, ship it".to_string()));
    assert_eq!(comments.len(), 2, "the bot made its own: {comments:?}");
    assert!(job.writes().iter().all(|w| w.starts_with("POST")), "{:?}", job.writes());
}

// An artifact just over MAX_RESULT_BYTES: refused unread, naming the limit
// and the size, nothing asked of GitHub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_result_refuses_a_result_file_just_over_the_cap() {
    let job = CommentJob::new().await;
    let cap = mc_gitops::check::MAX_RESULT_BYTES as usize;
    let mut result = result_for(9);
    result["plan"] = Value::String(String::new());
    let bare = serde_json::to_vec_pretty(&result).unwrap().len();
    result["plan"] = Value::String("x".repeat(cap + 1 - bare));
    let artifact = job.artifact(&result);
    assert_eq!(std::fs::metadata(&artifact).unwrap().len() as usize, cap + 1);
    let out = job.post(&artifact, Some(&job.event(SHA_9, "mallory/grove-state", "evil"))).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("is {} bytes, over MAX_RESULT_BYTES ({cap})", cap + 1)),
        "{}",
        stderr(&out)
    );
    assert!(job.gh.calls().is_empty(), "{:?}", job.gh.calls());
}

// A result file a modified check.yml fills with fields this version does
// not know (or leaves out): refused, not guessed at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_result_refuses_a_result_file_with_unknown_fields() {
    let job = CommentJob::new().await;
    let mut result = result_for(9);
    result["comment_md"] = Value::String("@everyone".into());
    let out = job
        .post(&job.artifact(&result), Some(&job.event(SHA_9, "mallory/grove-state", "evil")))
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown field `comment_md`"), "{}", stderr(&out));
    assert!(job.gh.calls().is_empty());
}
