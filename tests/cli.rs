//! The binary end to end, as a user runs it: the README's first command, a
//! broken repo, JSON output, `check` and `schema`.

mod common;
use common::copy_dir;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example")
}

fn bin() -> Command {
    let mut c = Command::cargo_bin("mc-gitops").unwrap();
    // No credentials may leak in from the developer's shell.
    for var in ["HCLOUD_TOKEN", "CLOUDFLARE_API_TOKEN", "GITHUB_ACTIONS", "MC_GITOPS_NOW"] {
        c.env_remove(var);
    }
    c
}

/// A copy of the example repo to break.
fn copy_example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&example(), dir.path());
    dir
}

#[test]
fn readme_first_command_exits_2_and_prints_the_plan() {
    let out = bin().args(["plan", "--repo"]).arg(example()).assert().code(2);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("observed from the ledger only (no cloud credentials): nothing outside the repo was called"),
        "{stdout}"
    );
    assert!(stdout.contains("+ hetzner server grove-"), "{stdout}");
    assert!(
        stdout.contains("Plan: 14 to create, 0 to update, 0 to delete, 0 waiting."),
        "{stdout}"
    );
    assert!(!stdout.contains('\u{1b}'), "no colour when not a terminal");
}

#[test]
fn plan_text_is_stable_for_a_given_time() {
    let out = bin()
        .args(["plan", "--now", "2026-11-22T19:30:00Z", "--repo"])
        .arg(example())
        .assert()
        .code(2);
    insta::assert_snapshot!(String::from_utf8(out.get_output().stdout.clone()).unwrap());
}

#[test]
fn plan_json_has_the_documented_shape() {
    let out = bin()
        .args(["plan", "--json", "--now", "2026-11-22T19:30:00Z", "--repo"])
        .arg(example())
        .assert()
        .code(2);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["observed_from"], "ledger");
    assert_eq!(v["phase"]["before"], "offline");
    let kinds: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["step"]["kind"].as_str().unwrap())
        .collect();
    // The files first: the create hands the new agent a desired.json listing them all.
    let n = kinds.len();
    assert!(n > 4, "{kinds:?}");
    assert!(kinds[..n - 4].iter().all(|k| *k == "put-asset"), "{kinds:?}");
    assert_eq!(&kinds[n - 4..], ["open-session", "create-server", "set-dns-a", "set-dns-srv"]);
}

#[test]
fn a_stopped_repo_with_nothing_running_exits_0() {
    let dir = copy_example();
    let server = dir.path().join("server.toml");
    let text = std::fs::read_to_string(&server)
        .unwrap()
        .replacen("state = \"running\"", "state = \"stopped\"", 1);
    std::fs::write(&server, text).unwrap();
    let out = bin().args(["plan", "--repo"]).arg(dir.path()).assert().code(0);
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("No changes"));
}

#[test]
fn a_broken_copy_exits_1_and_lists_every_error() {
    let dir = copy_example();
    let server = dir.path().join("server.toml");
    let text = std::fs::read_to_string(&server)
        .unwrap()
        .replacen("region = \"eu\"", "region = \"mars\"", 1)
        .replacen("[lifecycle]", "[lifecycle]\nidel = \"5m\"", 1);
    std::fs::write(&server, text).unwrap();
    std::fs::write(dir.path().join("players/Bad Name.toml"), "name = \"Bad Name\"\n").unwrap();
    let out = bin().args(["plan", "--repo"]).arg(dir.path()).assert().code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("server.toml:"), "{stderr}");
    assert!(stderr.contains("`region` = \"mars\" is not a key of [regions]"), "{stderr}");
    assert!(stderr.contains("unknown key `idel` in [lifecycle]"), "{stderr}");
    assert!(stderr.contains("did you mean `idle`?"), "{stderr}");
    assert!(
        stderr.contains("players/Bad Name.toml:1:8: error: `name` = \"Bad Name\" is not a Minecraft username"),
        "{stderr}"
    );
    assert!(stderr.contains("error: the state repo has 3 problem(s)"), "{stderr}");
    assert!(out.get_output().stdout.is_empty(), "no plan is printed for a broken repo");
}

#[test]
fn not_a_state_repo_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().args(["plan", "--repo"]).arg(dir.path()).assert().code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(stderr.contains("has no server.toml") && stderr.contains("--repo DIR"), "{stderr}");
}

#[test]
fn check_annotates_for_github() {
    let dir = copy_example();
    std::fs::write(dir.path().join("players/Alex.toml"), "name = \"Alex\"\nuuid = \"nope\"\n").unwrap();
    let out = bin()
        .args(["check", "--repo"])
        .arg(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout);
    assert!(
        stdout.contains("::error file=players/Alex.toml,line=2,col=8::`uuid` = \"nope\" is not a UUID"),
        "{stdout}"
    );
    bin().args(["check", "--repo"]).arg(example()).assert().code(0);
}

#[test]
fn the_example_repo_ships_current_schemas() {
    let dir = tempfile::tempdir().unwrap();
    bin().args(["schema", "--out"]).arg(dir.path()).assert().code(0);
    let shipped = example().join(".mc-gitops/schema");
    let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    for name in names {
        let fresh = std::fs::read_to_string(dir.path().join(&name)).unwrap();
        let old = std::fs::read_to_string(shipped.join(&name)).unwrap_or_default();
        assert!(
            fresh == old,
            "{name:?} is stale: run `cargo run -- schema --out state-repo-example/.mc-gitops/schema`"
        );
    }
}

#[test]
fn help_texts_carry_examples() {
    for cmd in [
        "plan",
        "check",
        "schema",
        "render",
        "render cloud-init",
        "render image",
        "image",
        "image build",
        "init",
        "completions",
        "man",
    ] {
        let out = bin().args(cmd.split(' ')).arg("--help").assert().code(0);
        assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("Examples:"), "{cmd}");
    }
}

/// A repo as `mc-gitops init` makes it, with the admin's uuid recorded
/// the way `check --fix` records it (tests/setup.rs runs the real lookup
/// against a fake of Mojang; here nothing outside is called).
fn init_repo(repo: &Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
        .args(["init", "--name", "oak", "--zone", "oak.example", "--region", "eu"])
        .args(["--player", "Steve", "--github", "oak-admin"])
        .arg(repo)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    mc_gitops::check::mojang::write_uuid(repo, "players/Steve.toml", "8667ba71-b85a-4004-af54-457a9734eed7").unwrap();
}

#[test]
fn the_start_button_edit_goes_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("r");
    let bin = env!("CARGO_BIN_EXE_mc-gitops");
    let ok = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .arg("--repo")
            .arg(&repo)
            .output()
            .unwrap()
    };
    init_repo(&repo);
    let out = ok(&["set-state", "start", "--region", "us"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let server = std::fs::read_to_string(repo.join("server.toml")).unwrap();
    assert!(
        server.contains("state = \"running\"") && server.contains("region = \"us\" "),
        "{server}"
    );
    let bad = ok(&["set-state", "start", "--region", "mars"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("the regions are: eu, us"));
}

#[test]
fn ledger_writes_the_summaries_once_and_then_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("r");
    let bin = env!("CARGO_BIN_EXE_mc-gitops");
    init_repo(&repo);
    // Copy the example's history in, so there is something to sum.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example/sessions/2026/11");
    std::fs::create_dir_all(repo.join("sessions/2026/11")).unwrap();
    for e in std::fs::read_dir(example).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read_to_string(e.path())
            .unwrap()
            .replace("server = \"grove\"", "server = \"oak\"");
        std::fs::write(repo.join("sessions/2026/11").join(e.file_name()), text).unwrap();
    }
    let run = || {
        std::process::Command::new(bin)
            .args(["ledger", "--now", "2026-11-22T05:00:00Z", "--repo"])
            .arg(&repo)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(
        String::from_utf8_lossy(&first.stdout),
        "wrote COSTS.md\nwrote STATUS.md\nwrote costs/2026-11.toml\n"
    );
    let month: toml::Table = std::fs::read_to_string(repo.join("costs/2026-11.toml")).unwrap().parse().unwrap();
    // The example's November session: 4 billed hours of cx33, 0.0420 gross.
    assert_eq!((month["hours"].as_integer(), month["gross"].as_str()), (Some(4), Some("0.0420")));
    let second = run();
    assert_eq!(String::from_utf8_lossy(&second.stdout), "summaries are up to date\n");
    // The repo still passes its check with the bot's files in it.
    let check = std::process::Command::new(bin)
        .args(["check", "--repo"])
        .arg(&repo)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

// The status page from the repo alone: the page and the modpack it links,
// outside the repo, and nothing of it in the repo's own files.
#[test]
fn ledger_site_writes_the_status_page_and_its_modpack() {
    let dir = copy_example();
    let site = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["ledger", "--now", "2026-11-22T05:00:00Z", "--repo"])
        .arg(dir.path())
        .arg("--site")
        .arg(site.path().join("public"))
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("public/index.html\n") && stdout.contains("public/grove.mrpack\n"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(site.path().join("public/index.html")).unwrap();
    assert!(page.contains("<code id=\"address\""), "{page}");
    assert!(page.contains("data-state=\"offline\""), "the example has no open session: {page}");
    assert!(page.contains("Observed <time datetime=\"2026-11-22T05:00:00Z\""), "{page}");
    assert!(!page.contains("<script"), "{page}");
    assert!(!dir.path().join("index.html").exists());
}
