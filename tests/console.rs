//! Admin requests end to end (issue 13): the real binary as agent (with the
//! fake "java", `tests/peers/fake_minecraft.py`, serving RCON with rconx and
//! logging every command it runs to console.log) and as `mc-gitops
//! console`, over a local-dir store; and `console.yml` run through its own
//! steps (`tests/common/actions.rs`) with the binary under test on `PATH`.
//!
//! Each request is proved by what Minecraft received: console.log counts
//! how often a command ran, across agent restarts and racing askers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::git;
#[path = "common/requests_agent.rs"]
mod requests_agent;

use common::actions::{Event, Outcome, Run, Workflow, checkout_from};
use common::agent_status;
use requests_agent::*;

#[test]
fn a_command_runs_once_and_its_answer_is_printed_and_kept_across_an_agent_restart() {
    let s = setup();
    let a = agent(&s);
    let out = console(&s, &["--", "time", "set", "day"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("console `time set day`: ok") && t.contains("Set the time to 1000"),
        "{t}"
    );
    assert_eq!(times(&s, "time set day"), 1);
    let r = &results(&s)[0];
    assert_eq!((r["outcome"].as_str(), r["session"].as_str()), (Some("ok"), Some(SESSION)), "{r}");

    // A request interrupted by a crash between running and answering: the
    // agent's record says it started; the next agent answers it, never runs it.
    stop(a);
    let id = fresh_id("0000cafe");
    plant(&s, &id, planted(&id, "time set night").to_string().as_bytes());
    let state = s.tmp.path().join("minecraft-agent-state/requests");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join(format!("{id}.started")), b"before the crash").unwrap();
    let a = agent(&s);
    wait_for("the interrupted request's answer", || results(&s).len() == 2);
    let interrupted = results(&s).into_iter().find(|r| r["id"] == id.as_str()).unwrap();
    assert_eq!(interrupted["outcome"], "error", "{interrupted}");
    assert!(
        interrupted["reply"].as_str().unwrap().contains("may or may not have run"),
        "{interrupted}"
    );
    // Several polls later, after a restart: each ran at most once.
    let beats = agent_status(&s.storage).unwrap()["heartbeat"].clone();
    wait_for("a later heartbeat", || {
        agent_status(&s.storage).is_some_and(|v| v["heartbeat"] != beats)
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(times(&s, "time set day"), 1, "{:?}", received(&s));
    assert_eq!(times(&s, "time set night"), 0, "{:?}", received(&s));
    assert!(
        !state.join(format!("{id}.started")).exists(),
        "the record is dropped once the answer is stored"
    );
    stop(a);
}

#[test]
fn a_forbidden_command_is_refused_by_the_cli_and_again_by_the_agent_naming_why() {
    let s = setup();
    let out = console(&s, &["--", "stop"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("state = \"stopped\""), "{}", text(&out));
    assert!(!requests_dir(&s).exists(), "nothing was enqueued");

    let a = agent(&s);
    let id = fresh_id("000000aa");
    plant(&s, &id, planted(&id, "execute as @a run op Mallory").to_string().as_bytes());
    wait_for("the refusal", || !results(&s).is_empty());
    let r = &results(&s)[0];
    assert_eq!(r["outcome"], "refused", "{r}");
    assert!(r["reply"].as_str().unwrap().contains("ops.toml"), "{r}");
    assert!(received(&s).iter().all(|c| !c.contains("op")), "{:?}", received(&s));
    stop(a);
}

#[test]
fn two_racing_requests_both_run_once() {
    let s = setup();
    let a = agent(&s);
    let asks: Vec<Child> = ["day", "night"]
        .iter()
        .map(|t| {
            console_cmd(&s, &["--", "time", "set", t])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in asks {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    // Both ran, once each. Which ran first depends on whether one agent
    // poll saw both (id order) or the second arrived later (arrival order):
    // the order itself is proved below, with both queued before the agent looks.
    assert_eq!(results(&s).len(), 2, "{:?}", results(&s));
    assert_eq!(
        (times(&s, "time set day"), times(&s, "time set night")),
        (1, 1),
        "{:?}",
        received(&s)
    );
    stop(a);
}

#[test]
fn queued_requests_run_in_the_order_of_their_ids() {
    let s = setup();
    // Ids sort by time, then by their random tail: `first` sorts before
    // `second` whatever second they were made in. Planted the other way round.
    let first = fresh_id("000000aa");
    let second = fresh_id("000000bb");
    plant(&s, &second, planted(&second, "time set night").to_string().as_bytes());
    plant(&s, &first, planted(&first, "time set day").to_string().as_bytes());
    let a = agent(&s);
    wait_for("both answers", || results(&s).len() == 2);
    assert_eq!(
        received(&s).into_iter().filter(|c| c.starts_with("time")).collect::<Vec<_>>(),
        ["time set day", "time set night"],
        "run in id order"
    );
    stop(a);
}

#[test]
fn a_backup_request_leaves_a_verified_manual_snapshot_that_restore_reads() {
    let s = setup();
    let a = agent(&s);
    let out = console(&s, &["--backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    let name = t
        .lines()
        .find_map(|l| l.strip_prefix("snapshot: "))
        .unwrap_or_else(|| panic!("{t}"))
        .to_string();
    let log = received(&s);
    let at = |c: &str| log.iter().position(|x| x == c).unwrap_or_else(|| panic!("{c}: {log:?}"));
    assert!(
        at("save-off") < at("save-all flush") && at("save-all flush") < at("save-on"),
        "{log:?}"
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(s.storage.join(format!("worlds/grove/backups/{name}.json"))).unwrap()).unwrap();
    assert_eq!(
        (manifest["kind"].as_str(), manifest["session"].as_str()),
        (Some("manual"), Some(SESSION)),
        "{manifest}"
    );
    // `world backup --remote` is the same request.
    let out = Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
        .args(["world", "backup", "--remote", "--repo"])
        .arg(&s.repo)
        .env("MC_GITOPS_STORAGE_DIR", &s.storage)
        .env("MC_GITOPS_POLL_INTERVAL_MS", "100")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("R2_ACCESS_KEY_ID")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("backup: ok") && text(&out).contains("snapshot: "),
        "{}",
        text(&out)
    );
    assert_eq!(results(&s).len(), 2);
    stop(a);

    let restored = s.tmp.path().join("restored");
    let out = Command::new(env!("CARGO_BIN_EXE_mc-gitops"))
        .args(["world", "restore", &name, "--repo"])
        .arg(&s.repo)
        .arg("--dir")
        .arg(&restored)
        .env("MC_GITOPS_STORAGE_DIR", &s.storage)
        .env_remove("R2_ACCESS_KEY_ID")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(restored.join("level.dat")).unwrap(), b"the group's world");
}

#[test]
fn a_suspend_request_stops_minecraft_and_later_requests_are_told_so() {
    let s = setup();
    let a = agent(&s);
    let out = console(&s, &["--suspend"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("suspended: Minecraft stopped after snapshot"), "{}", text(&out));
    assert_eq!(agent_status(&s.storage).unwrap()["phase"], "suspended");
    assert!(s.mc.join("stopped.marker").is_file(), "Minecraft saved and stopped");
    let out = console(&s, &["--", "time", "set", "day"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("the server is suspended"), "{}", text(&out));
    assert_eq!(times(&s, "time set day"), 0);
    stop(a);
}

// With a player online, the agent says one fixed line over the console
// before it saves and stops: nothing the admin typed reaches the chat.
#[test]
fn a_suspend_request_with_a_player_online_is_announced_in_game_first() {
    let s = setup();
    let a = common::agent_process(&s.config, &[("FAKE_MINECRAFT_PLAYERS", "Steve")]);
    wait_for("the agent to see Steve online", || {
        agent_status(&s.storage).is_some_and(|v| v["phase"] == "running" && v["players_online"] == serde_json::json!(["Steve"]))
    });
    let out = console(&s, &["--suspend"]);
    assert!(out.status.success(), "{}", text(&out));
    let got = received(&s);
    let at = |c: &str| got.iter().position(|x| x == c).unwrap_or_else(|| panic!("{c} missing: {got:?}"));
    let said = format!("say {}", mc_gitops::countdown::SUSPENDING);
    assert!(at(&said) < at("save-all flush") && at("save-all flush") < at("stop"), "{got:?}");
    assert_eq!(got.iter().filter(|c| c.starts_with("say ")).count(), 1, "{got:?}");
    stop(a);
}

#[test]
fn no_agent_means_a_clear_answer_at_once_not_a_wait() {
    let s = setup();
    let out = console(&s, &["--", "time", "set", "day"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("the server is not running"), "{}", text(&out));
    assert!(!requests_dir(&s).exists(), "nothing was enqueued");

    // Nothing asked, or two things at once: a usage error, nothing written.
    let out = console(&s, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("`-- <command>`, --backup or --suspend"), "{}", text(&out));
    let out = console(&s, &["--backup", "--", "time", "set", "day"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error: {}", text(&out));
    assert!(!requests_dir(&s).exists());
}

// --- console.yml through its own steps ----------------------------------

/// The setup's repo committed on main and cloned bare beside it.
fn remote(s: &Setup) -> PathBuf {
    git(&s.repo, &["init", "-q", "-b", "main"]);
    git(&s.repo, &["add", "-A"]);
    git(&s.repo, &["commit", "-q", "-m", "seed"]);
    let bare = s.tmp.path().join("grove-state.git");
    git(
        s.tmp.path(),
        &["clone", "-q", "--bare", s.repo.to_str().unwrap(), bare.to_str().unwrap()],
    );
    bare
}

fn dispatch(s: &Setup, bare: &Path, actor: &str, inputs: &[(&str, &str)]) -> common::actions::RunReport {
    let wf = Workflow::load(&common::example().join(".github/workflows/console.yml"));
    let mut run = Run::new(Event::dispatch(inputs), s.tmp.path());
    run.actor = actor.into();
    run.skip_steps = vec!["Install mc-gitops".into()];
    run.path = vec![Path::new(env!("CARGO_BIN_EXE_mc-gitops")).parent().unwrap().to_path_buf()];
    run.env = vec![
        ("MC_GITOPS_STORAGE_DIR".into(), s.storage.display().to_string()),
        ("MC_GITOPS_POLL_INTERVAL_MS".into(), "100".into()),
    ];
    common::actions::run(&wf, &run, &mut checkout_from(bare))
}

#[test]
fn the_console_workflow_puts_minecrafts_reply_in_the_step_summary_and_refuses_a_non_admin() {
    let s = setup();
    let bare = remote(&s);
    let a = agent(&s);
    let report = dispatch(&s, &bare, "grove-admin", &[("action", "console"), ("command", "time set day")]);
    assert!(report.ok(), "{}", report.log());
    let job = report.job("ask");
    assert_eq!(job.step("Install mc-gitops").outcome, Outcome::Skipped);
    assert!(
        job.summary.contains("### mc-gitops console: ok") && job.summary.contains("Set the time to 1000"),
        "{}",
        job.summary
    );
    assert!(job.summary.contains("by grove-admin"), "who asked: {}", job.summary);
    assert_eq!(times(&s, "time set day"), 1);

    let report = dispatch(&s, &bare, "mallory", &[("action", "console"), ("command", "time set night")]);
    let job = report.job("ask");
    assert_eq!(job.result, Outcome::Failure, "{}", report.log());
    assert!(job.summary.contains("mallory is not an admin"), "{}", job.summary);
    assert_eq!(times(&s, "time set night"), 0);
    assert_eq!(results(&s).len(), 1, "the non-admin's request was never written");
    stop(a);
}
