//! Writing ledger files from minijinja templates compiled into the binary.
//! A state repo may override a template by shipping its own under
//! `.mc-gitops/templates/` (same file name). Every value goes through the
//! `toml` filter, which serialises it as a TOML literal, so nothing a player
//! or admin wrote can break the file's syntax.

use std::path::Path;

use minijinja::{Environment, Error, ErrorKind, Value};

use super::Session;

const SESSION: &str = include_str!("../../templates/session.toml.j2");

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot render {template}")]
    Render {
        template: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("cannot write {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn toml_filter(v: Value) -> Result<String, Error> {
    let json: serde_json::Value = serde_json::to_value(&v).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
    let tv: toml::Value = serde_json::from_value(json).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
    Ok(match tv {
        toml::Value::String(s) => toml::Value::String(s).to_string(),
        other => other.to_string(),
    })
}

/// An RFC 3339 time written as a native TOML date-time.
pub(crate) fn datetime_filter(v: Value) -> Result<String, Error> {
    let s = v
        .as_str()
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "datetime expects a string"))?;
    let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
    Ok(t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn env(repo: &Path) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    env.add_filter("toml", toml_filter);
    env.add_filter("datetime", datetime_filter);
    let custom = repo.join(".mc-gitops/templates/session.toml.j2");
    let source = std::fs::read_to_string(custom).unwrap_or_else(|_| SESSION.to_string());
    env.add_template_owned("session.toml.j2", source)
        .expect("the session template parses");
    env
}

pub fn render_session(repo: &Path, s: &Session) -> Result<String, WriteError> {
    let env = env(repo);
    let tmpl = env.get_template("session.toml.j2").map_err(|source| WriteError::Render {
        template: "session.toml.j2".into(),
        source,
    })?;
    tmpl.render(minijinja::context! { s => Value::from_serialize(s) })
        .map_err(|source| WriteError::Render {
            template: "session.toml.j2".into(),
            source,
        })
}

/// Write (or rewrite) a session's file, atomically.
pub fn write_session(repo: &Path, s: &Session) -> Result<(), WriteError> {
    let text = render_session(repo, s)?;
    let path = repo.join(&s.file);
    let io = |source| WriteError::Io {
        path: s.file.clone(),
        source,
    };
    std::fs::create_dir_all(path.parent().expect("session files live in sessions/YYYY/MM")).map_err(io)?;
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::diag::{Diagnostics, Source};
    use crate::repo::reader::{Cx, parse_document};

    fn roundtrip(s: &Session) -> Session {
        let text = render_session(Path::new("/nonexistent"), s).unwrap();
        let src = Source::new(s.file.clone(), text.clone());
        let mut diags = Diagnostics::default();
        let mut cx = Cx {
            src: &src,
            diags: &mut diags,
        };
        let doc = parse_document(&mut cx, &src.text).unwrap_or_else(|| panic!("{text}"));
        let stem = s.id.as_str();
        let back = crate::ledger::parse::parse_session(&mut cx, &doc, stem);
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
    fn hostile_text_cannot_break_the_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
        let mut s = crate::repo::load(&root).unwrap().ledger.sessions[0].clone();
        s.events[0].what = "x\"\nend_reason = \"forced\"\n[[events]]\n'''".into();
        let back = roundtrip(&s);
        assert_eq!(back.events[0].what, s.events[0].what);
        assert_eq!(back.end_reason, s.end_reason);
    }
}
