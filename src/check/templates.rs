//! `check` renders every template the repo ships under
//! `.mc-gitops/templates/`, so a template that does not parse, fails to
//! render, runs without end or loses what the bot reads back is an error in
//! the pull request, with its file and line, instead of a surprise in apply.
//!
//! The context is the repo's own ledger plus one sample session with every
//! field set (price, cost, events, a restore), so every branch of a template
//! is taken. The session template must give back exactly the session it was
//! given (the budget is computed from the price and cost in those files);
//! the month template must keep `storage.bytes` (the only figure later runs
//! read back from it).

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use crate::ids::{HetznerServerId, Location, ServerType, SessionId};
use crate::ledger::figures::{StorageUsage, YearMonth};
use crate::ledger::reports::{self, Inputs};
use crate::ledger::site;
use crate::repo::Loaded;
use crate::repo::diag::{Diagnostic, Severity};
use crate::repo::ledger::templates::{self, TemplateError, Templates};
use crate::repo::ledger::{Cost, Event, Ledger, Price, Session, write};

/// How many of the repo's own sessions the session template is tried on.
const SESSIONS_TRIED: usize = 20;

/// Every problem with the repo's templates; empty when it ships none.
pub(crate) fn check(root: &Path, loaded: &Loaded, now: DateTime<Utc>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (name, _) in templates::BUILTIN {
        let text = match templates::custom(root, name) {
            Ok(Some(text)) => text,
            Ok(None) => continue,
            Err(e) => {
                out.push(e.diagnostic());
                continue;
            }
        };
        // One at a time, so each template's own error is reported.
        match Templates::with(&[(name.to_string(), text)]) {
            Ok(t) => out.extend(render_samples(&t, name, loaded, now)),
            Err(e) => out.push(problem(name, &e)),
        }
    }
    out
}

/// Only the templates that cannot be read (links, too large).
pub(crate) fn refusals(root: &Path) -> Vec<Diagnostic> {
    templates::BUILTIN
        .iter()
        .filter_map(|(name, _)| templates::custom(root, name).err())
        .map(|e| e.diagnostic())
        .collect()
}

fn problem(name: &str, e: &TemplateError) -> Diagnostic {
    let line = e.line().unwrap_or(0);
    let message = match e {
        TemplateError::Render { source, .. } => format!("the template does not render: {source}"),
        other => format!("the template {}", other.to_string().replace(&templates::repo_path(name), "").trim()),
    };
    error(name, line, message, "fix the template, or remove it to use the built-in one")
}

fn error(name: &str, line: usize, message: String, help: &str) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        file: templates::repo_path(name),
        line,
        col: usize::from(line > 0),
        message,
        help: Some(help.to_string()),
    }
}

fn render_samples(t: &Templates, name: &str, loaded: &Loaded, now: DateTime<Utc>) -> Vec<Diagnostic> {
    let sample = sample_session(loaded, now);
    if name == templates::SESSION {
        // The newest sessions are enough to see what the template keeps.
        return session_problems(t, loaded.ledger.sessions.iter().rev().take(SESSIONS_TRIED).chain([&sample]));
    }
    let mut sessions = loaded.ledger.sessions.clone();
    sessions.push(sample);
    let ledger = Ledger::new(sessions);
    let inputs = Inputs {
        observed: None,
        storage: StorageUsage::from([(YearMonth::of(now), 25_300_000_000)]),
        warnings: vec!["a sample warning | with a pipe".into()],
    };
    let s = reports::summarize(&ledger, &loaded.desired, &inputs, now);
    if name == templates::STATUS_HTML {
        let page = site::page(&ledger, &loaded.desired, None, &s, Some(site::mrpack_name(&loaded.desired)));
        return match site::render_with(t, &page) {
            Ok(_) => Vec::new(),
            Err(e) => vec![problem(name, &e)],
        };
    }
    let files = match reports::render_all_with(t, &s) {
        Ok(files) => files,
        Err(e) => return vec![problem(name, &e)],
    };
    let mut out = Vec::new();
    if name == templates::COSTS_MONTH {
        for m in s.months.iter().filter(|m| m.storage.is_some()) {
            let text = &files[&format!("costs/{}.toml", m.month)];
            let kept = text
                .parse::<toml::Table>()
                .ok()
                .and_then(|d| d.get("storage")?.get("bytes")?.as_integer())
                .map(|b| b as u64);
            if kept != m.storage.as_ref().map(|s| s.bytes) {
                out.push(error(
                    name,
                    0,
                    format!(
                        "the template does not keep `storage.bytes` in costs/{}.toml, which later runs read back",
                        m.month
                    ),
                    "keep the built-in template's [storage] table",
                ));
                break;
            }
        }
    }
    out
}

fn session_problems<'a>(t: &Templates, sessions: impl Iterator<Item = &'a Session>) -> Vec<Diagnostic> {
    let name = templates::SESSION;
    for s in sessions {
        let text = match write::render_with(t, s) {
            Ok(text) => text,
            Err(e) => return vec![problem(name, &e)],
        };
        let message = match write::read_back(s, &text) {
            Ok(back) if back == *s => continue,
            Ok(back) => format!(
                "the template drops or changes {} of session {}; the budget is computed from what session files record",
                write::lost_fields(s, &back).join(", "),
                s.id
            ),
            Err(e) => format!("the template writes session {} as a file that does not read back: {e}", s.id),
        };
        return vec![error(
            name,
            0,
            message,
            "write every field as the built-in template does; until then the bot writes sessions with the built-in one",
        )];
    }
    Vec::new()
}

/// A closed session with every field set, in the repo's first region.
fn sample_session(loaded: &Loaded, now: DateTime<Utc>) -> Session {
    let d = &loaded.desired.server;
    let started = (now - Duration::hours(3)).with_timezone(&Utc);
    let started = started - Duration::seconds(started.timestamp() % 60);
    let id = SessionId::at(started, &d.region);
    let mut s = Session::opened(&id, &d.name, &d.region, started);
    let dec = |v: &str| v.parse::<Decimal>().unwrap_or_default();
    s.location = Some(Location::new("fsn1"));
    s.server_type = Some(ServerType::new("cx33"));
    s.server_id = Some(HetznerServerId(58_210_437));
    s.ipv4 = Some("203.0.113.24".into());
    s.ready = Some(started + Duration::minutes(2));
    s.last_suspended = Some(started + Duration::minutes(90));
    s.ended = Some(started + Duration::minutes(150));
    s.end_reason = Some("idle".into());
    s.billed_hours = Some(3);
    s.peak_players = 2;
    s.players_seen = loaded.desired.players.iter().take(2).map(|p| p.name.clone()).collect();
    s.world_bytes = Some(187_654_321);
    s.backups = 4;
    s.restored_from = Some("2026-10-25T20-00-00Z".into());
    s.price = Some(Price {
        currency: d.budget.currency.clone(),
        hourly_net: dec("0.0088"),
        hourly_gross: dec("0.0105"),
        monthly_net: dec("5.4900"),
        monthly_gross: dec("6.5331"),
    });
    s.cost = Some(Cost {
        net: dec("0.0264"),
        gross: dec("0.0315"),
    });
    s.events = vec![
        Event {
            at: started,
            what: "created cx33 in fsn1 \"quoted\" | piped".into(),
        },
        Event {
            at: started + Duration::minutes(150),
            what: "deleted server".into(),
        },
    ];
    s
}
