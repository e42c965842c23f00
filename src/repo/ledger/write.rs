//! Writing session files from the session template (built in, or the
//! repo's own under `.mc-gitops/templates/`, see `super::templates`).
//! Every value goes through the `toml` filter, which serialises it as a
//! TOML literal, so nothing a player or admin wrote can break the file's
//! syntax.
//!
//! The ledger is the bot's memory and the budget is computed from it, so a
//! session is written through a repo template only if the text reads back
//! as exactly the same session. A repo template that drops the price, or
//! that does not read, parse or render, is not used: the built-in one
//! writes the file, and the caller gets a warning that says why. The
//! ledger never loses a session to a template.

use std::path::Path;

use minijinja::Value;

use super::Session;
use super::templates::{self, TemplateError, Templates};
use crate::repo::diag::{Diagnostics, Source};
use crate::repo::reader::{Cx, parse_document};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot write the ledger")]
    File(#[from] crate::repo::files::FileError),
}

/// A session through the given templates.
pub fn render_with(t: &Templates, s: &Session) -> Result<String, TemplateError> {
    t.render(templates::SESSION, minijinja::context! { s => Value::from_serialize(s) })
}

/// A session through the built-in template.
pub fn render_session(s: &Session) -> Result<String, TemplateError> {
    render_with(&Templates::builtin()?, s)
}

/// The session a file's text reads back as, or what was wrong with it.
pub fn read_back(s: &Session, text: &str) -> Result<Session, String> {
    let src = Source::new(s.file.clone(), text);
    let mut diags = Diagnostics::default();
    let mut cx = Cx {
        src: &src,
        diags: &mut diags,
    };
    let back = parse_document(&mut cx, &src.text).and_then(|doc| super::parse::parse_session(&mut cx, &doc, s.id.as_str()));
    match back {
        Some(b) if !diags.has_errors() => Ok(b),
        _ => Err(diags
            .into_sorted()
            .first()
            .map_or("it does not read as a session".to_string(), |d| d.message.clone())),
    }
}

/// The top-level fields of a session that `back` does not keep, by name.
pub fn lost_fields(s: &Session, back: &Session) -> Vec<String> {
    let (a, b) = (serde_json::to_value(s), serde_json::to_value(back));
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) = (a, b) else {
        return vec!["everything".into()];
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| format!("`{k}`"))
        .collect()
}

/// The session's text through the repo's template when that is faithful,
/// else through the built-in one with the reason as a warning.
fn faithful_text(repo: &Path, s: &Session) -> Result<(String, Option<String>), TemplateError> {
    let shown = templates::repo_path(templates::SESSION);
    let why = match Templates::load(repo, &[templates::SESSION]) {
        Ok(t) if !t.is_custom(templates::SESSION) => return Ok((render_with(&t, s)?, None)),
        Ok(t) => match render_with(&t, s) {
            Ok(text) => match read_back(s, &text) {
                Ok(back) if back == *s => return Ok((text, None)),
                Ok(back) => format!("{shown} drops or changes {} of the session", lost_fields(s, &back).join(", ")),
                Err(e) => format!("{shown} renders a file that does not read back: {e}"),
            },
            Err(e) => crate::error::render_error(&e),
        },
        Err(e) => crate::error::render_error(&e),
    };
    let text = render_session(s)?;
    Ok((text, Some(format!("{why}; {} was written with the built-in template", s.file))))
}

/// Write (or rewrite) a session's file, atomically. Returns a warning when
/// the repo's session template could not be used.
pub fn write_session(repo: &Path, s: &Session) -> Result<Option<String>, WriteError> {
    let (text, warning) = faithful_text(repo, s)?;
    crate::repo::files::write_atomic(repo, &s.file, text.as_bytes())?;
    Ok(warning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::diag::{Diagnostics, Source};
    use crate::repo::reader::{Cx, parse_document};

    fn roundtrip(s: &Session) -> Session {
        let text = render_session(s).unwrap();
        let src = Source::new(s.file.clone(), text.clone());
        let mut diags = Diagnostics::default();
        let mut cx = Cx {
            src: &src,
            diags: &mut diags,
        };
        let doc = parse_document(&mut cx, &src.text).unwrap_or_else(|| panic!("{text}"));
        let stem = s.id.as_str();
        let back = crate::repo::ledger::parse::parse_session(&mut cx, &doc, stem);
        assert!(diags.is_empty(), "{text}\n{:?}", diags.into_sorted());
        back.unwrap()
    }

    #[test]
    fn the_example_sessions_round_trip_through_the_template() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
        let loaded = crate::repo::load(&root).unwrap();
        for s in &loaded.ledger.sessions {
            assert_eq!(&roundtrip(s), s);
        }
    }

    #[test]
    fn what_a_session_remembers_for_the_next_run_round_trips() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
        let mut s = crate::repo::load(&root).unwrap().ledger.sessions[0].clone();
        s.restored_from = Some("2026-10-25T20-00-00Z".into());
        s.last_suspended = Some("2026-11-01T20:51:10Z".parse().unwrap());
        assert_eq!(roundtrip(&s), s);
    }

    #[test]
    fn presence_round_trips_and_stays_bounded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
        let mut s = crate::repo::load(&root).unwrap().ledger.sessions[0].clone();
        let t0: chrono::DateTime<chrono::Utc> = "2026-11-01T19:00:00Z".parse().unwrap();
        let many: Vec<crate::repo::ledger::Presence> = (0..crate::repo::ledger::MAX_PRESENCE as i64 + 50)
            .map(|i| crate::repo::ledger::Presence {
                player: crate::ids::PlayerName::new(if i % 2 == 0 { "Steve" } else { "Alex" }),
                join: t0 + chrono::Duration::minutes(i),
                leave: (i % 7 != 0).then(|| t0 + chrono::Duration::minutes(i) + chrono::Duration::seconds(50)),
            })
            .collect();
        assert!(crate::repo::ledger::merge_presence(&mut s.presence, &many));
        assert_eq!(s.presence.len(), crate::repo::ledger::MAX_PRESENCE, "the newest are kept");
        assert_eq!(s.presence.last().unwrap().join, t0 + chrono::Duration::minutes(449));
        assert!(!crate::repo::ledger::merge_presence(&mut s.presence, &many[100..]), "nothing new");
        assert_eq!(roundtrip(&s), s);
        let text = crate::repo::ledger::write::render_session(&s).unwrap();
        assert!(
            (text.len() as u64) < crate::repo::limits::MAX_SESSION_FILE_BYTES,
            "{} bytes",
            text.len()
        );
    }

    #[test]
    fn hostile_text_cannot_break_the_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
        let mut s = crate::repo::load(&root).unwrap().ledger.sessions[0].clone();
        s.events[0].what = "x\"\nend_reason = \"forced\"\n[[events]]\n'''".into();
        // A request's reply is Minecraft's output: players and mods shape it.
        s.requests.push(crate::repo::ledger::RequestRecord {
            id: "20261204T210301Z-3f9a0c1d".into(),
            by: "grove-admin".into(),
            what: "console `say \"hi\"`".into(),
            at: "2026-11-01T19:00:00Z".parse().unwrap(),
            ok: false,
            reply: "refused: x\"\n[[requests]]\nok = true\n'''\u{1b}[31m".into(),
        });
        let back = roundtrip(&s);
        assert_eq!(back.requests, s.requests);
        assert_eq!(back.events[0].what, s.events[0].what);
        assert_eq!(back.end_reason, s.end_reason);
    }
}
