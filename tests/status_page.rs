//! The public status page in a real browser: for each phase a friend can
//! find the server in (offline, starting, running with players, suspended,
//! stopping), the page the run writes is served from 127.0.0.1 and opened
//! by Debian's headless Chromium through playwright-core
//! (tests/peers/status_page.js): light and dark with JavaScript, and light
//! without it. Each must show the right state and the address, the
//! ledger's sessions in the history table and the chart, log no console
//! error and fail no request, and axe-core must find no violation (of any
//! impact; the issue asks for no serious or critical one). One more page carries a `<script>` in a mod's name and a
//! player's, which must show as text and open no dialog.
//!
//! Screenshots land in `target/status-page/<phase>.png` for a human to look
//! at (docs/status-page.png is one of them, copied by hand).
//!
//! `bash scripts/test --setup-only` installs chromium (apt) and the Node
//! packages (tests/peers/package-lock.json); a missing one fails the test
//! with the command that installs it, because CI always has them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use serde_json::Value;

use mc_gitops::ids::{PlayerName, SessionId};
use mc_gitops::ledger::reports::gather;
use mc_gitops::ledger::site::write_site;
use mc_gitops::lifecycle::Phase;
use mc_gitops::observe::{AgentStatus, ControlState, Observed, ObservedFrom};
use mc_gitops::repo::Loaded;
use mc_gitops::repo::ledger::Ledger;

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL: &str = "run `bash scripts/test --setup-only` (apt-get install chromium; npm ci --prefix tests/peers)";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn example_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example")
}

/// The example repo with a session opened at 18:30 (it has only closed ones).
fn with_open_session(mut loaded: Loaded) -> Loaded {
    let mut open = loaded.ledger.sessions.last().unwrap().clone();
    open.id = SessionId::new("20261122-1830-eu");
    open.started = t("2026-11-22T18:30:00Z");
    (open.ended, open.end_reason, open.cost, open.billed_hours) = (None, None, None, None);
    open.players_seen = vec![PlayerName::new("Notch_")];
    let mut sessions = loaded.ledger.sessions.clone();
    sessions.push(open);
    loaded.ledger = Ledger::new(sessions);
    loaded
}

fn agent(o: &Observed, phase: Phase, online: &[&str]) -> AgentStatus {
    AgentStatus {
        phase,
        players_online: online.iter().map(|n| PlayerName::new(*n)).collect(),
        heartbeat: o.now,
        stopped_at: None,
        problem: None,
        session: o.session.as_ref().map(|s| s.id.clone()),
        ready: None,
        players_seen: vec![],
        presence: vec![],
        peak_players: 0,
        backups: 0,
        world_bytes: None,
        crashed: false,
    }
}

/// A page and what the browser must find on it.
struct Case {
    name: &'static str,
    state: &'static str,
    headline: &'static str,
    sessions: usize,
}

/// Write every phase's site under `root/<name>/`, as apply does after its run.
fn write_sites(root: &Path) -> Vec<Case> {
    let now = t("2026-11-22T19:40:00Z");
    let base = mc_gitops::repo::load(&example_root()).unwrap();
    let closed = base.ledger.sessions.len();
    let mut cases = Vec::new();
    for name in ["offline", "starting", "running", "suspended", "stopping", "hostile"] {
        let mut loaded = if name == "offline" {
            base.clone()
        } else {
            with_open_session(base.clone())
        };
        if name == "starting" {
            // Minecraft has not reported ready yet.
            loaded.ledger.sessions.last_mut().unwrap().ready = None;
        }
        if name == "hostile" {
            loaded.desired.lock.mods[0].slug = "<script>alert('mod')</script>".into();
            loaded.ledger.sessions[0]
                .players_seen
                .push(PlayerName::new("<img src=x onerror=alert(1)>"));
        }
        let mut o = mc_gitops::observe::ledger_only::observe(&loaded.ledger, &loaded.desired.server, now);
        o.from = ObservedFrom::Live;
        let (state, headline) = match name {
            "offline" => ("offline", "Offline"),
            "starting" => ("starting", "Starting"),
            "running" | "hostile" => {
                o.agent = Some(agent(&o, Phase::Running, &["Steve", "Alex"]));
                ("running", "Running — 2 players online")
            }
            "suspended" => {
                o.agent = Some(agent(&o, Phase::Suspended, &[]));
                ("suspended", "Suspended — join to wake it")
            }
            "stopping" => {
                o.agent = Some(agent(&o, Phase::Idle, &[]));
                o.control = Some(ControlState {
                    stop_requested: Some(t("2026-11-22T19:30:00Z")),
                    ..Default::default()
                });
                ("stopping", "Stopping")
            }
            _ => unreachable!(),
        };
        let s = gather(&example_root(), &loaded.ledger, &loaded.desired, Some(&o), None, vec![], now);
        let dir = root.join(name);
        let written = write_site(&example_root(), &dir, &loaded.ledger, &loaded.desired, Some(&o), &s).unwrap();
        assert_eq!(written.files, ["index.html", "grove.mrpack"], "{name}");
        cases.push(Case {
            name,
            state,
            headline,
            sessions: if name == "offline" { closed } else { closed + 1 },
        });
    }
    cases
}

/// A static file server on 127.0.0.1 for `root`, for as long as the test runs.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // Drain the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let rel = path.trim_start_matches('/');
            let rel = if rel.is_empty() || rel.ends_with('/') {
                format!("{rel}index.html")
            } else {
                rel.to_string()
            };
            let file = root.join(&rel);
            let (status, body, kind) = match (rel.contains(".."), std::fs::File::open(&file)) {
                (false, Ok(mut f)) => {
                    let mut body = Vec::new();
                    f.read_to_end(&mut body).unwrap();
                    let kind = if rel.ends_with(".html") {
                        "text/html; charset=utf-8"
                    } else {
                        "application/octet-stream"
                    };
                    ("200 OK", body, kind)
                }
                _ => ("404 Not Found", b"not found".to_vec(), "text/plain"),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn the_status_page_shows_each_phase_in_a_real_browser() {
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing; {INSTALL}");
    for package in ["playwright-core", "axe-core"] {
        assert!(peers.join("node_modules").join(package).exists(), "{package} is missing; {INSTALL}");
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("status-page");
    let sites = out.join("site");
    let _ = std::fs::remove_dir_all(&sites);
    let cases = write_sites(&sites);
    // Known violations, to show that axe runs and would fail the test.
    std::fs::create_dir_all(sites.join("control")).unwrap();
    std::fs::write(
        sites.join("control/index.html"),
        "<!doctype html><html><head><title>control</title><link rel=\"icon\" href=\"data:,\"></head>\
         <body><main><img src=\"data:,\"><p style=\"color:#777;background:#888\">low contrast</p></main></body></html>",
    )
    .unwrap();
    let base = serve(sites.clone());
    let job = serde_json::json!({
        "chromium": CHROMIUM,
        "base": base,
        "shots": out,
        "docsShot": "running",
        "axeControl": "/control/",
        "pages": cases.iter().map(|c| serde_json::json!({"name": c.name, "path": format!("/{}/", c.name)})).collect::<Vec<_>>(),
    });
    let job_file = out.join("job.json");
    std::fs::write(&job_file, job.to_string()).unwrap();
    let run = Command::new("node")
        .arg(peers.join("status_page.js"))
        .arg(&job_file)
        .current_dir(&peers)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("run node");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "status_page.js failed: {stderr}");
    let report: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&report).unwrap()).unwrap();
    let control: Vec<&str> = report["control"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for known in ["image-alt", "html-has-lang", "color-contrast"] {
        assert!(
            control.contains(&known),
            "axe-core did not find {known} on the control page: {control:?}"
        );
    }
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len() * 3, "{results:#?}");
    for r in results {
        let (page, mode) = (r["page"].as_str().unwrap(), r["mode"].as_str().unwrap());
        let case = cases.iter().find(|c| c.name == page).unwrap();
        let at = format!("{page} ({mode})");
        assert_eq!(r["status"], 200, "{at}");
        assert_eq!(r["state"], case.state, "{at}");
        assert_eq!(r["headline"], case.headline, "{at}");
        assert_eq!(r["address"], "mc.grove.place", "{at}");
        assert_eq!(r["addressSelectsAll"], "all", "{at}: the address is copied with one tap");
        assert_eq!(r["historyRows"], case.sessions, "{at}");
        let first_row = r["historyFirstRow"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            first_row.starts_with(if page == "offline" {
                "2026-11-01 18:02"
            } else {
                "2026-11-22 18:30"
            }),
            "{at}: newest first: {first_row}"
        );
        assert_eq!(r["chartBars"], 12, "{at}");
        assert!(r["chartTitle"].as_str().unwrap().starts_with("Spend by month"), "{at}");
        assert_eq!(r["modRows"], 4, "{at}");
        assert_eq!(r["mrpackHref"], "grove.mrpack", "{at}");
        assert_eq!(
            r["startHref"], "https://github.com/grove-friends/grove-state/actions/workflows/reconcile.yml",
            "{at}"
        );
        assert_eq!(r["scripts"], 0, "{at}: the page has no JavaScript");
        assert_eq!(r["horizontalScroll"], false, "{at}: the page fits the screen's width");
        assert_eq!(
            r["problems"],
            serde_json::json!([]),
            "{at}: console errors, failed requests or dialogs"
        );
        if mode == "nojs" {
            assert!(r["axe"].is_null());
        } else {
            // Stricter than the issue asks (no serious or critical one):
            // none at all, of any impact.
            assert_eq!(r["axe"], serde_json::json!([]), "{at}: axe-core's violations");
        }
        let dark = r["background"].as_str().unwrap() == "rgb(13, 17, 23)";
        assert_eq!(
            dark,
            mode == "dark",
            "{at}: the colour scheme follows the reader's: {}",
            r["background"]
        );
        if page == "hostile" {
            assert!(
                r["modsText"].as_str().unwrap().contains("<script>alert('mod')</script>"),
                "{at}: shown as text"
            );
        }
        if let Some(shot) = r["screenshot"].as_str() {
            assert!(std::fs::metadata(shot).unwrap().len() > 10_000, "{at}: {shot}");
        }
    }
    for c in &cases {
        assert!(out.join(format!("{}.png", c.name)).exists(), "{}", c.name);
    }
    eprintln!("screenshots: {}", out.display());
}
