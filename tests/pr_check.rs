//! `mc-gitops check` on a pull request, end to end: the real binary on a git
//! copy of the example repo with the PR as a branch, against a fake GitHub
//! (issue comments, as octocrab calls them) and a fake Mojang.

mod common;
use common::copy_dir;
use common::git;

#[path = "fakes/github.rs"]
mod github_fake;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use github_fake::{FakeGithub, TOKEN};

struct Pr {
    dir: tempfile::TempDir,
    gh: FakeGithub,
    summary: PathBuf,
}

impl Pr {
    /// The example repo committed on `main`, then a `pr` branch with `files` written.
    async fn new(files: &[(&str, &str)]) -> Pr {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example"), &root);
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "base"]);
        git(&root, &["checkout", "-q", "-b", "pr"]);
        for (rel, text) in files {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), text).unwrap();
        }
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "--allow-empty", "-m", "the pr"]);
        let summary = dir.path().join("step-summary.md");
        Pr {
            dir,
            gh: FakeGithub::start().await,
            summary,
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    async fn check(&self, args: &[&str], token: bool) -> Output {
        self.check_with(args, token, &[]).await
    }

    async fn check_with(&self, args: &[&str], token: bool, env: &[(&str, &std::ffi::OsStr)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
        c.envs(env.iter().copied());
        c.arg("check")
            .args(args)
            .arg("--repo")
            .arg(self.root())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "grove-friends/grove-state")
            .env("GITHUB_API_URL", self.gh.base_url())
            .env("MOJANG_API_BASE_URL", self.gh.base_url())
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env_remove("HCLOUD_TOKEN")
            .env_remove("CLOUDFLARE_API_TOKEN");
        if token {
            c.env("GITHUB_TOKEN", TOKEN);
        } else {
            c.env_remove("GITHUB_TOKEN");
        }
        let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!all.contains(TOKEN), "the token was printed: {all}");
        out
    }

    async fn pr_check(&self, author: &str, token: bool) -> Output {
        self.check(&["--base", "main", "--author", author, "--pr", "7"], token).await
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const NEW_FRIEND: &str =
    "#:schema ../.mc-gitops/schema/player.json\n# hi, I'm new\nname = \"NewFriend\"   # my in-game name\nadded_by = \"newfriend-gh\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_comment_is_created_once_then_updated() {
    let pr = Pr::new(&[("players/NewFriend.toml", NEW_FRIEND)]).await;
    let first = pr.pr_check("newfriend-gh", true).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(stderr(&first).contains("commented on #7"), "{}", stderr(&first));
    let second = pr.pr_check("newfriend-gh", true).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(stderr(&second).contains("updated the comment on #7"), "{}", stderr(&second));

    let comments = pr.gh.comments();
    assert_eq!(comments.len(), 1, "never duplicated: {comments:?}");
    let body = &comments[0].2;
    assert!(body.starts_with("<!-- mc-gitops-plan -->\n### mc-gitops check"), "{body}");
    assert!(body.contains("NewFriend has no uuid yet"), "{body}");
    assert!(body.contains("```text\n"), "the plan is in the comment: {body}");
    let gh_calls: Vec<String> = pr.gh.calls().into_iter().filter(|c| c.contains("/repos/")).collect();
    assert_eq!(
        gh_calls,
        [
            "GET /repos/grove-friends/grove-state/issues/7/comments",
            "POST /repos/grove-friends/grove-state/issues/7/comments",
            "GET /repos/grove-friends/grove-state/issues/7/comments",
            "PATCH /repos/grove-friends/grove-state/issues/comments/1001",
        ]
    );
    // The step summary holds the same verdict.
    let summary = std::fs::read_to_string(&pr.summary).unwrap();
    assert!(
        summary.contains("### mc-gitops check") && summary.contains("0 error(s), 1 warning(s)"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forks_pr_without_a_token_writes_the_summary_and_result_file_then_post_result_comments() {
    let pr = Pr::new(&[("players/NewFriend.toml", NEW_FRIEND)]).await;
    let result = pr.dir.path().join("check-result.json");
    let out = pr
        .check(
            &[
                "--base",
                "main",
                "--author",
                "newfriend-gh",
                "--pr",
                "7",
                "--result-file",
                result.to_str().unwrap(),
            ],
            false,
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("no GITHUB_TOKEN"), "{}", stderr(&out));
    assert!(
        pr.gh.calls().iter().all(|c| !c.contains("/repos/")),
        "no GitHub call without a token"
    );
    assert!(std::fs::read_to_string(&pr.summary).unwrap().contains("<!-- mc-gitops-plan -->"));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["pr"], 7);
    assert_eq!(json["problems"][0]["file"], "players/NewFriend.toml");
    assert!(json["plan"].as_str().unwrap().contains("grove"), "{json}");

    // The workflow_run job: no checkout, only the artifact and the event,
    // whose head commit must be PR 7's (tests/hostile_workflows.rs has the
    // artifact that lies about it).
    let head = "0123456789abcdef0123456789abcdef01234567";
    pr.gh.add_pull(7, head, "newfriend-gh/grove-state", "add-me");
    let event = pr.dir.path().join("event.json");
    let run = serde_json::json!({"workflow_run": {"event": "pull_request", "head_sha": head, "head_branch": "add-me",
        "head_repository": {"full_name": "newfriend-gh/grove-state"}}});
    std::fs::write(&event, run.to_string()).unwrap();
    let env = [
        ("GITHUB_EVENT_NAME", "workflow_run".as_ref()),
        ("GITHUB_EVENT_PATH", event.as_os_str()),
    ];
    let post = pr.check_with(&["--post-result", result.to_str().unwrap()], true, &env).await;
    assert_eq!(post.status.code(), Some(0), "{}", stderr(&post));
    assert_eq!(pr.gh.comments().len(), 1);
    assert!(pr.gh.comments()[0].2.contains("NewFriend has no uuid yet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fix_writes_the_uuid_and_keeps_the_comments() {
    let pr = Pr::new(&[("players/NewFriend.toml", NEW_FRIEND)]).await;
    let out = pr.check(&["--fix"], false).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(pr.root().join("players/NewFriend.toml")).unwrap(),
        "#:schema ../.mc-gitops/schema/player.json\n# hi, I'm new\nname = \"NewFriend\"   # my in-game name\nuuid = \"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\"\nadded_by = \"newfriend-gh\"\n"
    );
    // Cached now: the next check asks Mojang nothing.
    let before = pr.gh.calls().len();
    let again = pr.check(&[], false).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(pr.gh.calls().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_misspelt_and_unreachable_players_are_errors() {
    let pr = Pr::new(&[
        ("players/Nobody123.toml", "name = \"Nobody123\"\n"),
        ("players/NEWFRIEND.toml", "name = \"NEWFRIEND\"\n"),
        ("players/Boom.toml", "name = \"Boom\"\n"),
    ])
    .await;
    let out = pr.check(&[], false).await;
    assert_eq!(out.status.code(), Some(1), "a failed lookup is not a pass");
    let annotations = stdout(&out);
    assert!(
        annotations.contains("::error file=players/Nobody123.toml::there is no Minecraft account named \"Nobody123\""),
        "{annotations}"
    );
    assert!(
        annotations.contains("::error file=players/NEWFRIEND.toml::the account is spelt \"NewFriend\", not \"NEWFRIEND\" — rename the file to players/NewFriend.toml"),
        "{annotations}"
    );
    assert!(
        annotations.contains("::error file=players/Boom.toml::looking up Minecraft account Boom at Mojang: unexpected 400"),
        "{annotations}"
    );
    assert!(stderr(&out).contains("3 problem(s) found"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_changes_need_an_admin() {
    let ops = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example/ops.toml")).unwrap();
    let pr = Pr::new(&[("ops.toml", &ops.replace("level = 2 ", "level = 4 "))]).await;
    let friend = pr.pr_check("alex-builds", false).await;
    assert_eq!(friend.status.code(), Some(1));
    assert!(
        stdout(&friend).contains(
            "::error file=ops.toml::@alex-builds is not an admin and changed ops.toml — only an admin (grove-admin) may change it"
        ),
        "{}",
        stdout(&friend)
    );
    let admin = pr.pr_check("grove-admin", false).await;
    assert_eq!(admin.status.code(), Some(0), "{}", stderr(&admin));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_friend_adds_only_their_own_single_player_file() {
    let own = Pr::new(&[("players/NewFriend.toml", NEW_FRIEND)]).await;
    assert_eq!(own.pr_check("NewFriend-GH", false).await.status.code(), Some(0));

    let someone_elses = own.pr_check("mallory", false).await;
    assert_eq!(someone_elses.status.code(), Some(1));
    assert!(
        stdout(&someone_elses).contains("players/NewFriend.toml says added_by = \\\"newfriend-gh\\\"")
            || stdout(&someone_elses)
                .contains("players/NewFriend.toml says added_by = \"newfriend-gh\", but this pull request is from @mallory"),
        "{}",
        stdout(&someone_elses)
    );

    let two = Pr::new(&[
        ("players/NewFriend.toml", NEW_FRIEND),
        ("players/Second.toml", "name = \"Second\"\nadded_by = \"newfriend-gh\"\n"),
    ])
    .await;
    let out = two.pr_check("newfriend-gh", false).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("@newfriend-gh changed 2 player files"), "{}", stdout(&out));
}

/// Regression guard: admins come from the base, so a PR that makes its
/// author an admin is still judged as the friend's PR it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_yourself_to_admins_does_not_make_you_one() {
    let server = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example/server.toml")).unwrap();
    let grab = server.replace("admins = [\"grove-admin\"]", "admins = [\"grove-admin\", \"mallory\"]");
    assert_ne!(grab, server);
    let ops = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example/ops.toml")).unwrap();
    let pr = Pr::new(&[("server.toml", &grab), ("ops.toml", &ops.replace("level = 2 ", "level = 4 "))]).await;
    let out = pr.pr_check("mallory", false).await;
    assert_eq!(out.status.code(), Some(1));
    let annotations = stdout(&out);
    assert!(
        annotations.contains("@mallory is not an admin and changed server.toml"),
        "{annotations}"
    );
    assert!(
        annotations.contains("@mallory is not an admin and changed ops.toml"),
        "{annotations}"
    );
}
