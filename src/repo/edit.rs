//! The edits the bot makes to a people-written file: `state = "stopped"`
//! in server.toml after an automatic stop (idle, budget, max session), so
//! the repo says what is true and the next push does not start the server
//! again; and `state`/`region` when the "Start server" button is pressed
//! (`mc-gitops set-state`), so the commit shows who started it; and the
//! removal of a used `restore = "<backup>"` line. toml_edit keeps every
//! comment, blank line and key order; only the value's text (or the one
//! `restore` line) changes.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("cannot read or write {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Refused(#[from] super::files::FileError),
    #[error("{path} is not valid TOML")]
    Parse {
        path: String,
        #[source]
        source: toml_edit::TomlError,
    },
}

/// Set `state` in server.toml's text, keeping everything else byte for byte
/// (including a comment after the value). Returns `None` when it already says so.
pub fn set_state_text(text: &str, state: &str) -> Result<Option<String>, toml_edit::TomlError> {
    set_top_level_text(text, &[("state", state)])
}

/// Set top-level string keys, keeping each value's comment. `None` when
/// every key already says so.
pub fn set_top_level_text(text: &str, pairs: &[(&str, &str)]) -> Result<Option<String>, toml_edit::TomlError> {
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    let mut changed = false;
    for (key, want) in pairs {
        if doc.get(key).and_then(|v| v.as_str()) == Some(*want) {
            continue;
        }
        let decor = doc.get(key).and_then(|i| i.as_value()).map(|v| v.decor().clone());
        let mut value = toml_edit::Value::from(*want);
        if let Some(decor) = decor {
            *value.decor_mut() = decor;
        }
        doc[*key] = toml_edit::Item::Value(value);
        changed = true;
    }
    Ok(changed.then(|| doc.to_string()))
}

/// Remove the top-level `restore = "<backup>"` line (with a comment on the
/// same line), keeping every other byte. `None` when server.toml does not
/// name that backup: the admin removed the line or named another backup,
/// and their choice stands.
pub fn clear_restore_text(text: &str, backup: &str) -> Result<Option<String>, toml_edit::TomlError> {
    let doc = toml_edit::Document::parse(text)?;
    let Some((key, item)) = doc.as_table().get_key_value("restore") else {
        return Ok(None);
    };
    if item.as_str() != Some(backup) {
        return Ok(None);
    }
    let (Some(k), Some(v)) = (key.span(), item.span()) else {
        return Ok(None);
    };
    // A key/value pair owns its line in TOML: from the line's start to its
    // newline (a trailing comment goes with it).
    let start = text[..k.start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[v.end..].find('\n').map_or(text.len(), |i| v.end + i + 1);
    Ok(Some(format!("{}{}", &text[..start], &text[end..])))
}

/// Remove a used `restore` line from server.toml in place (atomically).
/// Returns whether the file changed.
pub fn clear_restore(repo: &Path, backup: &str) -> Result<bool, EditError> {
    edit_server_toml(repo, |text| clear_restore_text(text, backup))
}

pub fn set_state(repo: &Path, state: &str) -> Result<bool, EditError> {
    set_top_level(repo, &[("state", state)])
}

/// Edit server.toml's top-level keys in place (atomically). Returns whether
/// the file changed.
pub fn set_top_level(repo: &Path, pairs: &[(&str, &str)]) -> Result<bool, EditError> {
    edit_server_toml(repo, |text| set_top_level_text(text, pairs))
}

fn edit_server_toml(repo: &Path, edit: impl FnOnce(&str) -> Result<Option<String>, toml_edit::TomlError>) -> Result<bool, EditError> {
    let name = "server.toml".to_string();
    let text = super::files::read_text(repo, &name, super::files::SERVER_TOML)?.ok_or_else(|| EditError::Io {
        path: name.clone(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    match edit(&text).map_err(|source| EditError::Parse {
        path: name.clone(),
        source,
    })? {
        None => Ok(false),
        Some(new) => {
            super::files::write_atomic(repo, &name, new.as_bytes())?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_value_changes() {
        let text = "#:schema ./x.json\n# the switch\nname = \"grove\"\nstate   =   \"running\"   # flip me\n\n[minecraft] # mc\nversion = \"1.20.1\"\n";
        let out = set_state_text(text, "stopped").unwrap().unwrap();
        assert_eq!(out, text.replace("\"running\"", "\"stopped\""));
        assert_eq!(set_state_text(&out, "stopped").unwrap(), None);
    }

    #[test]
    fn the_example_server_toml_keeps_every_other_byte() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example/server.toml");
        let text = std::fs::read_to_string(root).unwrap();
        let out = set_state_text(&text, "stopped").unwrap().unwrap();
        let changed: Vec<(&str, &str)> = text.lines().zip(out.lines()).filter(|(a, b)| a != b).collect();
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert!(changed[0].1.starts_with("state") && changed[0].1.contains("\"stopped\""));
        assert_eq!(text.lines().count(), out.lines().count());
    }

    #[test]
    fn a_used_restore_line_goes_and_every_other_byte_stays() {
        let text = "name = \"grove\"\n# go back a week\n  restore = \"2026-11-01T18-00-00Z\"   # the creeper\nstate = \"running\"\n\n[minecraft]\nversion = \"1.20.1\"\n";
        let out = clear_restore_text(text, "2026-11-01T18-00-00Z").unwrap().unwrap();
        assert_eq!(
            out,
            "name = \"grove\"\n# go back a week\nstate = \"running\"\n\n[minecraft]\nversion = \"1.20.1\"\n"
        );
        assert_eq!(clear_restore_text(&out, "2026-11-01T18-00-00Z").unwrap(), None);
        // Another backup named since: the admin's new choice stays.
        assert_eq!(clear_restore_text(text, "2026-11-08T18-00-00Z").unwrap(), None);
        // A `restore` inside a table is not server.toml's key.
        assert_eq!(clear_restore_text("[x]\nrestore = \"a\"\n", "a").unwrap(), None);
        // The last line, without a newline.
        assert_eq!(
            clear_restore_text("name = \"g\"\nrestore = \"a\"", "a").unwrap().unwrap(),
            "name = \"g\"\n"
        );
    }

    #[test]
    fn the_button_sets_state_and_region_keeping_comments() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example/server.toml");
        let text = std::fs::read_to_string(root).unwrap();
        let out = set_top_level_text(&text, &[("state", "running"), ("region", "us")])
            .unwrap()
            .unwrap();
        let changed: Vec<(&str, &str)> = text.lines().zip(out.lines()).filter(|(a, b)| a != b).collect();
        assert_eq!(changed.len(), 1, "state was already running: {changed:?}");
        assert!(changed[0].1.starts_with("region = \"us\"") && changed[0].1.contains("# which [regions.*]"));
        assert_eq!(set_top_level_text(&out, &[("state", "running"), ("region", "us")]).unwrap(), None);
    }
}
