//! The status page's model and rendering: the state each observation reads
//! as, hostile values escaped, the repo's template used (and refused through
//! a link), the files written. The page in a real browser is
//! tests/status_page.rs.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::*;
use crate::ids::PlayerName;
use crate::ledger::reports::{Inputs, summarize};
use crate::observe::AgentStatus;
use crate::repo::Loaded;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The example repo, with a session opened at 18:30 on 22 November (it
/// has only closed ones).
fn example() -> (PathBuf, Loaded) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
    let mut loaded = crate::repo::load(&root).unwrap();
    let mut open = loaded.ledger.sessions.last().unwrap().clone();
    open.id = crate::ids::SessionId::new("20261122-1830-eu");
    open.started = t("2026-11-22T18:30:00Z");
    (open.ended, open.end_reason, open.cost, open.billed_hours) = (None, None, None, None);
    open.players_seen = vec![PlayerName::new("Notch_")];
    let mut sessions = loaded.ledger.sessions.clone();
    sessions.push(open);
    loaded.ledger = crate::repo::ledger::Ledger::new(sessions);
    (root, loaded)
}

fn summaries_of(loaded: &Loaded, now: DateTime<Utc>) -> Summaries {
    summarize(&loaded.ledger, &loaded.desired, &Inputs::default(), now)
}

/// A live observation of the example's open session, with the agent in `phase`.
fn live(loaded: &Loaded, phase: Phase, online: &[&str], now: DateTime<Utc>) -> Observed {
    let mut o = crate::observe::ledger_only::observe(&loaded.ledger, &loaded.desired.server, now);
    o.from = ObservedFrom::Live;
    let session = o.session.as_ref().map(|s| s.id.clone());
    o.agent = Some(AgentStatus {
        phase,
        players_online: online.iter().map(|n| PlayerName::new(*n)).collect(),
        heartbeat: now,
        stopped_at: None,
        problem: None,
        session,
        ready: Some(now),
        players_seen: vec![],
        presence: vec![],
        peak_players: 0,
        backups: 0,
        world_bytes: None,
        crashed: false,
    });
    o
}

#[test]
fn each_observation_reads_as_the_state_friends_see() {
    use State::*;
    let cases = [
        (None, false, Offline),
        (None, true, Running),
        (Some(Phase::Offline), false, Offline),
        (Some(Phase::Offline), true, Starting),
        (Some(Phase::Provisioning), true, Starting),
        (Some(Phase::Idle), true, Running),
        (Some(Phase::Running), true, Running),
        (Some(Phase::Suspended), true, Suspended),
        (Some(Phase::Terminating), true, Stopping),
        // The run closed the session: the server it saw is gone.
        (Some(Phase::Terminating), false, Offline),
        (Some(Phase::Running), false, Offline),
    ];
    for (observed, open, want) in cases {
        assert_eq!(State::after_run(observed, open), want, "{observed:?}, open: {open}");
    }
}

#[test]
fn the_page_says_who_is_online_and_where_to_join() {
    let (_, loaded) = example();
    let now = t("2026-11-22T19:40:00Z");
    let o = live(&loaded, Phase::Running, &["Steve", "Alex"], now);
    let p = page(&loaded.ledger, &loaded.desired, Some(&o), &summaries_of(&loaded, now), None);
    assert_eq!(p.state, State::Running);
    assert_eq!(p.headline, "Running — 2 players online");
    assert_eq!(p.players_online.as_deref(), Some(&["Steve".to_string(), "Alex".to_string()][..]));
    assert_eq!(p.address, "mc.grove.place");
    assert_eq!(
        p.start_url.as_deref(),
        Some("https://github.com/grove-friends/grove-state/actions/workflows/reconcile.yml")
    );
    assert_eq!(p.sessions.len(), loaded.ledger.sessions.len());
    assert!(p.sessions[0].started > p.sessions[1].started, "newest first");
    assert_eq!(p.sessions[0].ended_by, "still running");
    assert_eq!(p.sessions[1].ended_by, "nobody online", "the example's idle stop");
    assert_eq!(
        (p.sessions[1].duration.as_str(), p.sessions[1].cost.as_str()),
        ("3 h 35 min", "0.04 EUR")
    );
    let suspended = live(&loaded, Phase::Suspended, &[], now);
    let p = page(&loaded.ledger, &loaded.desired, Some(&suspended), &summaries_of(&loaded, now), None);
    assert_eq!((p.state, p.headline.as_str()), (State::Suspended, "Suspended — join to wake it"));
    assert_eq!(p.players_online, None);
}

#[test]
fn hostile_mod_and_session_values_are_escaped_in_the_page() {
    let (root, mut loaded) = example();
    let now = t("2026-11-22T19:40:00Z");
    loaded.desired.lock.mods[0].slug = "<script>alert('slug')</script>".into();
    loaded.desired.lock.mods[0].version_number = "\"><img src=x onerror=alert(1)>".into();
    let s = loaded.ledger.sessions.last_mut().unwrap();
    s.players_seen.push(PlayerName::new("<script>alert(\"player\")</script>"));
    s.region = crate::ids::RegionKey::new("eu</td><script>alert(2)</script>");
    let o = live(&loaded, Phase::Running, &["</li><script>alert(3)</script>"], now);
    let p = page(
        &loaded.ledger,
        &loaded.desired,
        Some(&o),
        &summaries_of(&loaded, now),
        Some("grove.mrpack".into()),
    );
    let t = Templates::load(&root, &[templates::STATUS_HTML]).unwrap();
    let html = render_with(&t, &p).unwrap();
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;script&gt;alert("), "{html}");
    // The slug is escaped in the link too: a path segment, then HTML.
    assert!(html.contains("modrinth.com&#x2f;mod&#x2f;%3Cscript%3Ealert%28"), "{html}");
}

#[test]
fn a_repo_template_is_used_and_a_linked_one_refused() {
    let (_, loaded) = example();
    let now = t("2026-11-22T19:40:00Z");
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path().join(".mc-gitops/templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("status.html.j2"), "<p>{{ p.address }} {{ p.state }} {{ p.motd }}</p>\n").unwrap();
    let mut desired = loaded.desired.clone();
    desired.server.minecraft.motd = "<b>bold</b>".into();
    let site = tempfile::tempdir().unwrap();
    let s = summaries_of(&loaded, now);
    write_site(repo.path(), site.path(), &loaded.ledger, &desired, None, &s).unwrap();
    let html = std::fs::read_to_string(site.path().join("index.html")).unwrap();
    assert_eq!(html, "<p>mc.grove.place running &lt;b&gt;bold&lt;&#x2f;b&gt;</p>\n");
    std::fs::remove_file(dir.join("status.html.j2")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("status.html.j2")).unwrap();
    let err = write_site(repo.path(), site.path(), &loaded.ledger, &desired, None, &s).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[test]
fn the_site_has_the_page_and_the_modpack_it_links() {
    let (root, loaded) = example();
    let now = t("2026-11-22T19:40:00Z");
    let site = tempfile::tempdir().unwrap();
    let out = site.path().join("public");
    let w = write_site(&root, &out, &loaded.ledger, &loaded.desired, None, &summaries_of(&loaded, now)).unwrap();
    assert_eq!(w.files, ["index.html", "grove.mrpack"]);
    assert!(w.warnings.is_empty(), "{:?}", w.warnings);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("href=\"grove.mrpack\""), "{html}");
    assert!(html.contains("<svg id=\"chart\""), "{html}");
    assert!(std::fs::metadata(out.join("grove.mrpack")).unwrap().len() > 0);
    // The ledger alone: an open session reads as running, names unknown.
    assert!(html.contains("data-state=\"running\""), "{html}");
    // Same inputs, same bytes: a run that saw nothing new publishes the same page.
    let again = tempfile::tempdir().unwrap();
    write_site(
        &root,
        again.path(),
        &loaded.ledger,
        &loaded.desired,
        None,
        &summaries_of(&loaded, now),
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(again.path().join("index.html")).unwrap(), html);
}

#[test]
fn every_end_reason_has_words_for_friends() {
    for reason in crate::repo::ledger::END_REASONS {
        let words = ended_by(Some(reason));
        assert_ne!(&words, reason, "{reason} has no friendly words in site::ended_by");
    }
}

#[test]
fn the_page_shows_the_next_planned_sitting_and_the_quiet_hours() {
    let (root, mut loaded) = example();
    let now = t("2026-12-01T12:00:00Z");
    let t_ = Templates::load(&root, &[templates::STATUS_HTML]).unwrap();
    let o = live(&loaded, Phase::Offline, &[], now);
    let plain = render_with(
        &t_,
        &page(&loaded.ledger, &loaded.desired, Some(&o), &summaries_of(&loaded, now), None),
    )
    .unwrap();
    assert!(!plain.contains("id=\"next-start\"") && !plain.contains("id=\"quiet\""));
    loaded.desired.server.schedule = Some(crate::repo::schedule::Schedule {
        timezone: chrono_tz::Europe::Berlin,
        sittings: vec![crate::repo::schedule::Sitting::new("0 19 * * FRI").unwrap()],
        quiet: vec![crate::repo::schedule::QuietHours {
            from: chrono::NaiveTime::from_hms_opt(23, 30, 0).unwrap(),
            to: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        }],
    });
    let p = page(&loaded.ledger, &loaded.desired, Some(&o), &summaries_of(&loaded, now), None);
    assert_eq!(p.next_start.as_deref(), Some("Fri 2026-12-04 19:00 Europe/Berlin"));
    let html = render_with(&t_, &p).unwrap();
    assert!(
        html.contains("Next planned sitting: <strong>Fri 2026-12-04 19:00 Europe&#x2f;Berlin</strong>"),
        "{html}"
    );
    assert!(html.contains("Quiet hours, no start: 23:30-08:00 Europe&#x2f;Berlin."), "{html}");
}
