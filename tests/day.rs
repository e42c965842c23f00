//! One day of the server, through the user's own path (issue 11): the repo
//! `mc-gitops init` makes, pushed to a bare remote; reconcile runs that are
//! `reconcile.yml`'s own steps; a VPS that is the agent binary started from
//! the user-data the fake Hetzner received; Minecraft that is flying-squid
//! with mineflayer bots; real time and the agent's default poll and
//! heartbeat timers (only idle and suspended are shortened, in server.toml).
//! Everything is asserted from outside: the remote's history and files, the
//! fakes' logs, storage, what the bots saw, and no secret anywhere.
//!
//! The harness lives in `tests/day/`: the fakes and the admin's repo
//! (`world.rs`), the VPS stand-in (`vps.rs`), the GitHub
//! stand-in (`github.rs`), the players (`bots.rs`) and what may be looked
//! at (`outside.rs`). On the first seam that is broken the day fails with
//! its whole story: timeline, every run's log, the agents' logs.

mod common;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/discord.rs"]
mod discord_fake;
#[path = "fakes/github_dispatch.rs"]
mod github_dispatch_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "fakes/modrinth.rs"]
mod modrinth_fake;
#[path = "fakes/s3.rs"]
mod s3_fake;
#[path = "fakes/session_server.rs"]
mod session_fake;

#[path = "day/bots.rs"]
mod bots;
#[path = "day/checks.rs"]
mod checks;
#[path = "day/github.rs"]
mod github;
#[path = "day/outside.rs"]
mod outside;
#[path = "day/vps.rs"]
mod vps;
#[path = "day/world.rs"]
mod world;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use common::actions::Event;

use crate::bots::Bots;
use crate::github::NudgeRunner;
use crate::world::{Day, replace_value};

const MOTD: &str = "Grove — friends only";
/// The agent's default `players_poll`, which the day does not shorten.
const PLAYERS_POLL: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What the admin commits before pressing Start: idle and suspended of a
/// few seconds, a suspended server not kept warm for the paid hour, two
/// backups kept (so retention has something to delete), a stop countdown
/// of seconds, and `budget`.
fn quick_lifecycle(budget: &str) -> impl FnOnce(&str) -> String {
    let budget = budget.to_string();
    move |t: &str| {
        let t = replace_value(t, "idle", "\"10s\"");
        let t = replace_value(&t, "suspended", "\"30s\"");
        let t = replace_value(&t, "keep_backups", "2");
        let t = replace_value(&t, "monthly", &budget);
        let t = replace_value(&t, "stop_warnings", "[\"3s\", \"1s\"]");
        replace_value(&t, "warm_until_paid", "false")
    }
}

fn start_button() -> Event {
    Event::dispatch(&[("action", "start"), ("region", "eu")])
}

/// The Start press and what must follow it: one server, DNS, a session
/// committed, Discord told, the agent ready.
fn press_start(day: &Day) {
    let n = day.run_workflow(start_button());
    day.check_run(n, "the Start run succeeded");
    day.check(
        "one server was created",
        day.h.count_route(Method::POST, "/servers") == 1 && day.h.server_count() == 1,
    );
    day.check(
        "the A record points at the server (127.0.0.1)",
        day.a_record().as_deref() == Some(vps::HOST),
    );
    day.check(
        "the SRV record exists",
        day.cf
            .records()
            .iter()
            .any(|r| r.kind == "SRV" && r.name.starts_with("_minecraft._tcp.")),
    );
    day.check(
        "the button's commit carries the admin's name",
        day.remote_log()
            .lines()
            .any(|l| l.starts_with(world::ADMIN) && l.contains("start the server in eu")),
    );
    day.check(
        "server.toml on main says running",
        day.remote_file("server.toml").is_some_and(|t| t.contains("state = \"running\"")),
    );
    day.check(
        "an open session is committed",
        day.sessions().len() == 1 && day.sessions().iter().all(|(_, t)| !t.contains("\nended = ")),
    );
    day.check("Discord heard the start", day.discord_said("is starting"));
    day.wait("the agent is ready and Discord says so", Duration::from_secs(90), || {
        day.discord_said("is ready")
    });
}

#[test]
fn a_day_through_the_users_path() {
    let rt = runtime();
    let day = Arc::new(rt.block_on(Day::new(|t| t.to_string())));
    day.admin_edits("a quick lifecycle for testing", quick_lifecycle("10.00"));
    let mut nudges = NudgeRunner::start(day.clone());
    let mut bots = Bots::start(&day.session);

    press_start(&day);
    let host = day.a_record().unwrap();
    let port = day.game_port;

    // Two friends play; a stranger is turned away.
    bots.join("Steve", &host, port);
    day.wait_bot(&bots, "Steve", &["spawn"], 0);
    bots.join("Herobrine", &host, port);
    let refused = day.wait_bot(&bots, "Herobrine", &["kicked", "end", "error"], 0);
    day.check(
        &format!("the stranger is refused as not whitelisted: {refused}"),
        refused["event"] == "kicked" && refused["reason"].as_str().is_some_and(|r| r.contains("not white-listed")),
    );
    bots.join("Alex", &host, port);
    day.wait_bot(&bots, "Alex", &["spawn"], 0);
    bots.walk("Steve", 3000);
    day.wait_bot(&bots, "Steve", &["walked"], 0);
    day.wait("the server lists two players online", Duration::from_secs(20), || {
        day.ping().is_ok_and(|p| p["online"] == 2)
    });
    // They play on past one of the agent's `list` polls (every 10 s, its default).
    std::thread::sleep(PLAYERS_POLL + Duration::from_secs(1));
    bots.leave("Steve");
    bots.leave("Alex");

    // Idle, then suspended with a snapshot; the sleeping listener shows the motd.
    day.wait("suspended, with a snapshot", Duration::from_secs(60), || {
        day.agent_phase().as_deref() == Some("suspended") && !day.snapshots().is_empty()
    });
    day.wait("Discord says suspended", Duration::from_secs(30), || {
        day.discord_said("is suspended")
    });
    let ping = day.ping().unwrap_or_else(|e| day.fail(&format!("a ping while suspended: {e}")));
    day.check(
        &format!("the sleeping server's ping shows the repo's motd: {ping}"),
        ping["motd"].as_str().and_then(|m| m.lines().next()) == Some(MOTD),
    );

    // A friend comes back during the countdown: the login wakes the server.
    let seen = bots.of("Steve").len();
    bots.join("Steve", &host, port);
    let first = day.wait_bot(&bots, "Steve", &["kicked", "end", "error", "spawn"], seen);
    day.check(
        &format!("Steve's login is answered by the sleeping server, which wakes: {first}"),
        first["event"] == "kicked" && first["logged_in"] == false,
    );
    day.wait("the warm start", Duration::from_secs(60), || {
        // Minecraft answers the ping again, with the motd alone.
        day.ping().is_ok_and(|p| p["motd"] == MOTD)
    });
    let seen = bots.of("Steve").len();
    bots.join("Steve", &host, port);
    day.wait_bot(&bots, "Steve", &["spawn"], seen);
    bots.leave("Steve");

    // Idle, suspended, the countdown runs out: final snapshot, nudge, deletion.
    day.wait("the server is deleted after the countdown", Duration::from_secs(150), || {
        day.h.server_count() == 0
    });
    day.wait("the session is closed on main", Duration::from_secs(30), || {
        day.sessions().iter().all(|(_, t)| t.contains("\nended = "))
    });
    nudges.stop();
    checks::after_the_day(&day, "idle");

    // The next scheduled run: nothing to do, nothing created.
    let n = day.run_workflow(Event::new("schedule"));
    day.check_run(n, "the next scheduled run succeeds");
    let out = day.apply_output(n);
    day.check(&format!("it plans nothing:\n{out}"), out.contains("No changes"));
    day.check("it created nothing", day.h.count_route(Method::POST, "/servers") == 1);
    checks::storage_and_world(&day);
    checks::no_secret_anywhere(&day);
    day.note("the day is over");
}

#[test]
fn a_day_the_budget_runs_out() {
    let rt = runtime();
    let day = Arc::new(rt.block_on(Day::new(|t| t.to_string())));
    day.admin_edits("a quick lifecycle for testing", quick_lifecycle("10.00"));
    let mut nudges = NudgeRunner::start(day.clone());
    let mut bots = Bots::start(&day.session);
    press_start(&day);
    bots.join("Steve", &day.a_record().unwrap(), day.game_port);
    day.wait_bot(&bots, "Steve", &["spawn"], 0);

    // Mid-session the month's budget is cut below what this session has
    // already cost (one started hour of a cx33, 0.0105 EUR gross); the
    // push starts a run, as the workflow's `push` trigger does.
    day.admin_edits("spend less this month", |t| replace_value(t, "monthly", "0.005"));
    let n = day.run_workflow(Event::new("push"));
    day.check_run(n, "the run of the admin's push succeeds");
    let kicked = day.wait_bot(&bots, "Steve", &["kicked", "end"], 1);
    day.note(format!("Steve was sent away: {kicked}"));
    // Warned first, in game, with the reason.
    let events = bots.of("Steve");
    let sent_away = events.iter().position(|e| *e == kicked).unwrap_or(events.len());
    let heard: Vec<&str> = events[..sent_away]
        .iter()
        .filter(|e| e["event"] == "message")
        .filter_map(|e| e["text"].as_str())
        .filter(|t| t.starts_with("[Rcon] Server stopping in "))
        .collect();
    day.check(
        &format!("Steve heard the countdown before he was sent away: {heard:?}"),
        heard.last() == Some(&"[Rcon] Server stopping in 1 second (monthly budget reached)"),
    );
    day.wait("the server is deleted for the budget", Duration::from_secs(120), || {
        day.h.server_count() == 0
    });
    day.wait("the session is closed on main", Duration::from_secs(30), || {
        day.sessions().iter().all(|(_, t)| t.contains("\nended = "))
    });
    nudges.stop();
    checks::after_the_day(&day, "budget");
    day.check("Discord says the budget is reached", day.discord_said("budget is reached"));

    // The next scheduled run starts nothing (the bot set `state = "stopped"`)
    // and says what the month cost; a press of Start is refused, saying why.
    let n = day.run_workflow(Event::new("schedule"));
    day.check_run(n, "the next scheduled run succeeds");
    let out = day.apply_output(n);
    day.check(
        &format!("the scheduled run shows the month's spend against the budget:\n{out}"),
        out.contains("spent this month"),
    );
    let n = day.run_workflow(start_button());
    let out = day.apply_output(n);
    day.check(
        &format!("a Start press is refused for the budget, and says so:\n{out}"),
        out.contains("not starting") && out.contains("budget"),
    );
    day.check("no second server", day.h.count_route(Method::POST, "/servers") == 1);
    checks::no_secret_anywhere(&day);
}
