//! Commit-back against real git repositories: a bare remote in a temp dir
//! (pushed to by `file://` path), the bot's clone, and an admin's clone
//! made with the git command line, racing the bot. Also the token's path:
//! an https-style remote served by a fake that demands basic auth, to prove
//! the token is sent as an `x-access-token` credential and nowhere else.

mod common;
use common::copy_dir;
use common::git;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mc_gitops::gitback::{self, Bot, GitError, PushTarget};
use mc_gitops::secret::Secret;

const SERVER_TOML: &str = r#"#:schema ./.mc-gitops/schema/server.json
# The admin's file. Comments must survive the bot.
name = "grove"
state = "running"       # THE switch
region = "eu"           # where we play

[minecraft]
version = "1.20.1"
motd = "Grove"          # the line under the name
"#;

const SESSION: &str = "sessions/2026/11/20261122-1930-eu.toml";

struct Repos {
    _tmp: tempfile::TempDir,
    remote: PathBuf,
    bot: PathBuf,
    admin: PathBuf,
}

fn setup() -> Repos {
    setup_with(SERVER_TOML)
}

fn setup_with(server_toml: &str) -> Repos {
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote.git");
    std::fs::create_dir_all(&remote).unwrap();
    git(&remote, &["init", "-q", "--bare", "-b", "main"]);
    let seed = tmp.path().join("seed");
    std::fs::create_dir_all(seed.join("players")).unwrap();
    git(&seed, &["init", "-q", "-b", "main"]);
    std::fs::write(seed.join("server.toml"), server_toml).unwrap();
    std::fs::write(seed.join("players/Steve.toml"), "name = \"Steve\"\n").unwrap();
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    let url = format!("file://{}", remote.display());
    git(&seed, &["push", "-q", &url, "main"]);
    let bot = tmp.path().join("bot");
    let admin = tmp.path().join("admin");
    git(tmp.path(), &["clone", "-q", &url, "bot"]);
    git(tmp.path(), &["clone", "-q", &url, "admin"]);
    Repos {
        _tmp: tmp,
        remote,
        bot,
        admin,
    }
}

fn target(attempts: u32) -> PushTarget {
    PushTarget {
        remote: "origin".into(),
        branch: None,
        token: None,
        attempts,
        base_delay: Duration::from_millis(1),
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn remote_file(r: &Repos, rel: &str) -> String {
    git(&r.remote, &["show", &format!("main:{rel}")])
}

#[test]
fn commit_and_push_land_with_the_bot_author_and_message() {
    let r = setup();
    write(&r.bot, SESSION, "id = \"20261122-1930-eu\"\n");
    let lines = vec!["start eu session 20261122-1930-eu (cx33, fsn1)".to_string()];
    let oid = gitback::commit(&r.bot, &[SESSION.into()], &lines, &Bot::default()).unwrap();
    assert!(oid.is_some());
    assert_eq!(gitback::push(&r.bot, &target(3)).unwrap(), 1);
    let log = git(&r.remote, &["log", "-1", "--format=%an <%ae>%n%cn%n%B", "main"]);
    assert_eq!(
        log,
        "mc-gitops[bot] <mc-gitops@users.noreply.github.com>\nmc-gitops[bot]\nstart eu session 20261122-1930-eu (cx33, fsn1)\n\n"
    );
    assert_eq!(remote_file(&r, SESSION), "id = \"20261122-1930-eu\"\n");
    // Nothing new to commit: no empty commit.
    assert_eq!(gitback::commit(&r.bot, &[SESSION.into()], &lines, &Bot::default()).unwrap(), None);
}

#[test]
fn summaries_are_committed_with_the_listed_files() {
    let r = setup();
    write(&r.bot, "COSTS.md", "# Costs\n");
    write(&r.bot, "costs/2026-11.toml", "month = \"2026-11\"\n");
    write(&r.bot, "players/Mallory.toml", "name = \"Mallory\"\n");
    gitback::commit(&r.bot, &[], &["costs for 2026-11".into()], &Bot::default())
        .unwrap()
        .unwrap();
    let files = git(&r.bot, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files, "COSTS.md\ncosts/2026-11.toml\n", "a stray people's file is never swept in");
}

#[test]
fn a_listed_file_that_is_not_the_bots_is_refused() {
    let r = setup();
    write(&r.bot, "ops.toml", "");
    let err = gitback::commit(&r.bot, &["ops.toml".into()], &[], &Bot::default()).unwrap_err();
    assert!(matches!(err, GitError::NotBotFile { ref path } if path == "ops.toml"), "{err}");
}

#[test]
fn racing_the_admin_rebases_and_keeps_both_edits() {
    let r = setup();
    // The bot stops the server: state = "stopped" plus the session record.
    mc_gitops::repo::edit::set_state(&r.bot, "stopped").unwrap();
    write(&r.bot, SESSION, "ended = 2026-11-22T21:00:00Z\n");
    let lines = vec![
        "stop session 20261122-1930-eu (idle): 2 h billed, 0.02 EUR".to_string(),
        "set state = \"stopped\" (idle)".to_string(),
    ];
    gitback::commit(&r.bot, &["server.toml".into(), SESSION.into()], &lines, &Bot::default())
        .unwrap()
        .unwrap();
    // Meanwhile the admin changed the motd and pushed first.
    let admin_text = SERVER_TOML.replace("motd = \"Grove\"", "motd = \"Grove — new season\"");
    write(&r.admin, "server.toml", &admin_text);
    git(&r.admin, &["commit", "-q", "-am", "new season motd"]);
    git(&r.admin, &["push", "-q", "origin", "main"]);

    assert_eq!(gitback::push(&r.bot, &target(3)).unwrap(), 2, "rejected once, then landed");

    let merged = remote_file(&r, "server.toml");
    let want = admin_text.replace("state = \"running\"       # THE switch", "state = \"stopped\"       # THE switch");
    assert_eq!(merged, want, "the admin's motd, the bot's state, every comment byte for byte");
    assert_eq!(remote_file(&r, SESSION), "ended = 2026-11-22T21:00:00Z\n");
    let log = git(&r.remote, &["log", "--format=%an|%s", "main"]);
    assert_eq!(
        log,
        "mc-gitops[bot]|stop session 20261122-1930-eu (idle): 2 h billed, 0.02 EUR (+1 more)\nGrove Admin|new season motd\nGrove Admin|seed\n",
        "linear history: the bot's commit rebased on the admin's"
    );
    // The bot's checkout is the pushed head, working tree included.
    assert_eq!(std::fs::read_to_string(r.bot.join("server.toml")).unwrap(), want);
    assert_eq!(git(&r.bot, &["status", "--porcelain"]), "");
}

#[test]
fn racing_the_admin_keeps_a_used_restore_line_removed() {
    let with = SERVER_TOML.replace(
        "region = \"eu\"",
        "restore = \"2026-11-01T18-00-00Z\"   # before the creeper\nregion = \"eu\"",
    );
    let r = setup_with(&with);
    assert!(mc_gitops::repo::edit::clear_restore(&r.bot, "2026-11-01T18-00-00Z").unwrap());
    assert_eq!(std::fs::read_to_string(r.bot.join("server.toml")).unwrap(), SERVER_TOML);
    gitback::commit(&r.bot, &["server.toml".into()], &["remove restore".into()], &Bot::default())
        .unwrap()
        .unwrap();
    // Meanwhile the admin changed the motd and pushed first.
    write(&r.admin, "server.toml", &with.replace("motd = \"Grove\"", "motd = \"Grove II\""));
    git(&r.admin, &["commit", "-q", "-am", "motd"]);
    git(&r.admin, &["push", "-q", "origin", "main"]);
    assert_eq!(gitback::push(&r.bot, &target(3)).unwrap(), 2, "rejected once, then landed");
    assert_eq!(
        remote_file(&r, "server.toml"),
        SERVER_TOML.replace("motd = \"Grove\"", "motd = \"Grove II\""),
        "the admin's motd, the restore line gone, every other byte kept"
    );
}

#[test]
fn both_wrote_the_same_session_file_and_the_bots_version_wins() {
    let r = setup();
    write(&r.admin, SESSION, "# hand-edited by someone\n");
    git(&r.admin, &["add", "."]);
    git(&r.admin, &["commit", "-q", "-m", "hand edit"]);
    git(&r.admin, &["push", "-q", "origin", "main"]);
    write(&r.bot, SESSION, "id = \"20261122-1930-eu\"\n");
    gitback::commit(&r.bot, &[SESSION.into()], &["record".into()], &Bot::default())
        .unwrap()
        .unwrap();
    assert_eq!(gitback::push(&r.bot, &target(3)).unwrap(), 2);
    assert_eq!(remote_file(&r, SESSION), "id = \"20261122-1930-eu\"\n");
}

#[test]
fn the_admin_already_stopped_it_so_the_rebased_commit_is_dropped() {
    let r = setup();
    mc_gitops::repo::edit::set_state(&r.bot, "stopped").unwrap();
    gitback::commit(&r.bot, &["server.toml".into()], &["set state".into()], &Bot::default())
        .unwrap()
        .unwrap();
    mc_gitops::repo::edit::set_state(&r.admin, "stopped").unwrap();
    git(&r.admin, &["commit", "-q", "-am", "stop"]);
    git(&r.admin, &["push", "-q", "origin", "main"]);
    assert_eq!(gitback::push(&r.bot, &target(3)).unwrap(), 2);
    let log = git(&r.remote, &["log", "--format=%s", "main"]);
    assert_eq!(log, "stop\nseed\n", "no empty bot commit");
}

#[test]
fn retries_are_bounded_and_the_error_names_remote_and_branch() {
    let r = setup();
    write(&r.admin, "players/Alex.toml", "name = \"Alex\"\n");
    git(&r.admin, &["add", "."]);
    git(&r.admin, &["commit", "-q", "-m", "alex"]);
    git(&r.admin, &["push", "-q", "origin", "main"]);
    write(&r.bot, SESSION, "x = 1\n");
    gitback::commit(&r.bot, &[SESSION.into()], &["record".into()], &Bot::default())
        .unwrap()
        .unwrap();
    let err = gitback::push(&r.bot, &target(1)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, GitError::GaveUp { attempts: 1, .. }), "{msg}");
    assert!(msg.contains("origin") && msg.contains(&r.remote.display().to_string()), "{msg}");
    assert!(msg.contains("branch main"), "{msg}");
    assert_eq!(remote_file(&r, "players/Alex.toml"), "name = \"Alex\"\n", "nothing forced");
}

/// A git smart-HTTP remote that always demands basic auth, and records what it got.
async fn auth_demanding_remote() -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::http::{HeaderMap, StatusCode, header};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let s = s.clone();
        async move {
            if let Some(v) = headers.get(header::AUTHORIZATION) {
                s.lock().unwrap().push(v.to_str().unwrap().to_string());
            }
            (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"GitHub\"")], "")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/grove/state.git"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_goes_only_into_the_credentials_callback() {
    const TOKEN: &str = "ghs_s3cr3tTokenValue0123456789";
    let r = setup();
    let (url, seen) = auth_demanding_remote().await;
    git(&r.bot, &["remote", "set-url", "origin", &url]);
    write(&r.bot, SESSION, "x = 1\n");
    gitback::commit(&r.bot, &[SESSION.into()], &["record".into()], &Bot::default())
        .unwrap()
        .unwrap();
    let bot = r.bot.clone();
    let err = tokio::task::spawn_blocking(move || {
        let mut t = target(2);
        t.token = Some(Secret::new(TOKEN));
        gitback::push(&bot, &t).unwrap_err()
    })
    .await
    .unwrap();
    let rendered = format!("{err} {err:?} {}", mc_gitops::error::render_error(&err));
    assert!(!rendered.contains(TOKEN), "token in the error: {rendered}");
    assert!(
        rendered.contains("refused the token") && rendered.contains("branch main"),
        "{rendered}"
    );
    use base64_check::encode;
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        [format!("Basic {}", encode(&format!("x-access-token:{TOKEN}")))],
        "offered once, as x-access-token basic auth"
    );
    let config = std::fs::read_to_string(r.bot.join(".git/config")).unwrap();
    assert!(!config.contains(TOKEN) && !config.contains("x-access-token"), "{config}");
}

/// Standard base64, enough to check one header (no dependency for a test).
mod base64_check {
    pub(crate) fn encode(s: &str) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let b = s.as_bytes();
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &c)| n | (c as u32) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

/// The path a user takes: `mc-gitops apply --commit --push` in a clone of
/// the state repo, against the Hetzner and Cloudflare fakes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_commit_push_records_the_session_as_the_bot() {
    let (remote, bot, _tmp) = apply_commit_push(|_, _| {}).await;
    let files = git(&remote, &["show", "--name-only", "--format=", "main"]);
    // The session, and the summaries regenerated after the apply: bot files only.
    assert!(files.lines().any(|f| f.starts_with("sessions/")), "{files}");
    assert!(
        files
            .lines()
            .all(|f| f.starts_with("sessions/") || f.starts_with("costs/") || f == "COSTS.md" || f == "STATUS.md"),
        "{files}"
    );
    assert_eq!(git(&bot, &["status", "--porcelain"]), "", "everything apply wrote is committed");
}

/// A start from `restore = "<backup>"`: the bot's commit removes that line,
/// says why, and leaves every other byte of server.toml as the admin wrote it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_restore_line_is_removed_by_the_bots_commit() {
    let original = std::fs::read_to_string(common::example().join("server.toml")).unwrap();
    let (remote, bot, _tmp) = apply_commit_push(|seed, storage| {
        let path = seed.join("server.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let at = text.find("region = ").unwrap();
        let text = format!("{}restore = \"2026-11-01T18-00-00Z\"   # go back\n{}", &text[..at], &text[at..]);
        std::fs::write(&path, text).unwrap();
        let world = storage.join("w");
        std::fs::create_dir_all(world.join("region")).unwrap();
        std::fs::write(world.join("level.dat"), "old").unwrap();
        let store = mc_gitops::storage::Store::local(storage, &mc_gitops::ids::ServerName::new("grove")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(mc_gitops::world::snapshot(
            &store,
            &world,
            "2026-11-01T18:00:00Z".parse().unwrap(),
            &|_| true,
        ))
        .unwrap();
    })
    .await;
    assert_eq!(git(&remote, &["show", "main:server.toml"]), original);
    let log = git(&remote, &["log", "-1", "--format=%B", "main"]);
    assert!(
        log.contains("- remove restore = \"2026-11-01T18-00-00Z\" from server.toml: session ")
            && log.contains("restored it, later starts use the newest snapshot"),
        "{log}"
    );
    let files = git(&remote, &["show", "--name-only", "--format=", "main"]);
    assert!(files.lines().any(|f| f == "server.toml"), "{files}");
    assert_eq!(git(&bot, &["status", "--porcelain"]), "", "everything apply wrote is committed");
}

/// Seed a remote with the example repo (`prepare` may change the seed and
/// the storage directory first), clone it, and run `apply --commit --push`
/// in the clone. Returns the remote, the clone, and the temp dir holding both.
async fn apply_commit_push(prepare: impl FnOnce(&Path, &Path) + Send + 'static) -> (PathBuf, PathBuf, tempfile::TempDir) {
    let h = hetzner_fake::FakeHetzner::start().await;
    let cf = cloudflare_fake::FakeCloudflare::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote.git");
    std::fs::create_dir_all(&remote).unwrap();
    git(&remote, &["init", "-q", "--bare", "-b", "main"]);
    let seed = tmp.path().join("seed");
    copy_dir(&common::example(), &seed);
    let storage = tmp.path().join("storage");
    std::fs::create_dir_all(&storage).unwrap();
    let (s2, st2) = (seed.clone(), storage.clone());
    tokio::task::spawn_blocking(move || prepare(&s2, &st2)).await.unwrap();
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    let url = format!("file://{}", remote.display());
    git(&seed, &["push", "-q", &url, "main"]);
    git(tmp.path(), &["clone", "-q", &url, "bot"]);
    let bot = tmp.path().join("bot");
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut c = Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
    c.args(["apply", "--commit", "--push", "--repo"])
        .arg(&bot)
        .env("HCLOUD_TOKEN", hetzner_fake::TOKEN)
        .env("HCLOUD_ENDPOINT", h.base_url())
        .env("CLOUDFLARE_API_TOKEN", cloudflare_fake::TOKEN)
        .env("CLOUDFLARE_API_BASE_URL", cf.base_url())
        .env("MC_GITOPS_STORAGE_DIR", &storage)
        .env("MC_GITOPS_NOW", &now)
        .env("MC_GITOPS_GAME_PING", "off")
        .env("GITHUB_TOKEN", "ghs_neverPrinted000")
        .env_remove("GITHUB_ACTIONS");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{all}");
    assert!(!all.contains("ghs_neverPrinted000"));
    assert!(all.contains("push: origin in 1 attempt(s)"), "{all}");
    let log = git(&remote, &["log", "-1", "--format=%an|%s", "main"]);
    assert!(log.starts_with("mc-gitops[bot]|start eu session "), "{log}");
    (remote, bot, tmp)
}

/// Issue 12 (item 8): the bot's rebase wrote its `state = "stopped"` (a
/// budget stop) over the admin's concurrent `state = "running"`.
#[test]
fn the_admins_newer_state_wins_over_the_bots_and_the_commit_says_so() {
    let r = setup();
    mc_gitops::repo::edit::set_state(&r.bot, "stopped").unwrap();
    write(&r.bot, SESSION, "ended = 2026-11-22T21:00:00Z\n");
    let lines = vec![
        "stop session 20261122-1930-eu (budget)".to_string(),
        "set state = \"stopped\" (budget)".to_string(),
    ];
    gitback::commit(&r.bot, &["server.toml".into(), SESSION.into()], &lines, &Bot::default())
        .unwrap()
        .unwrap();
    // Meanwhile the admin stopped it and started it again (raising the
    // budget): the last word on the remote is "running".
    mc_gitops::repo::edit::set_state(&r.admin, "stopped").unwrap();
    git(&r.admin, &["commit", "-q", "-am", "stop for a moment"]);
    mc_gitops::repo::edit::set_state(&r.admin, "running").unwrap();
    git(&r.admin, &["commit", "-q", "-am", "raise the budget, keep it running"]);
    git(&r.admin, &["push", "-q", "origin", "main"]);

    assert_eq!(gitback::push(&r.bot, &target(3)).unwrap(), 2);
    assert_eq!(
        remote_file(&r, "server.toml"),
        SERVER_TOML,
        "the admin's state stands, byte for byte"
    );
    assert_eq!(remote_file(&r, SESSION), "ended = 2026-11-22T21:00:00Z\n", "the bot's record lands");
    let message = git(&r.remote, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.contains("`state` was changed on the remote meanwhile")
            && message.contains("raise the budget, keep it running")
            && message.contains("the next run plans from it"),
        "{message}"
    );

    // Without a concurrent edit of `state`, the bot's value is still applied.
    let r = setup();
    mc_gitops::repo::edit::set_state(&r.bot, "stopped").unwrap();
    gitback::commit(&r.bot, &["server.toml".into()], &["set state".into()], &Bot::default())
        .unwrap()
        .unwrap();
    write(&r.admin, "players/Alex.toml", "name = \"Alex\"\n");
    git(&r.admin, &["add", "."]);
    git(&r.admin, &["commit", "-q", "-m", "alex"]);
    git(&r.admin, &["push", "-q", "origin", "main"]);
    assert_eq!(gitback::push(&r.bot, &target(3)).unwrap(), 2);
    assert!(remote_file(&r, "server.toml").contains("state = \"stopped\""));
}
