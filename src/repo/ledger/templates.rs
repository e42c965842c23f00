//! The templates the ledger's files are rendered from: compiled in, or the
//! state repo's own under `.mc-gitops/templates/<name>` (an admin-only
//! path: CODEOWNERS and the check's privilege rule guard it).
//!
//! A repo's template is read like every repo file ([`crate::repo::files`]:
//! no links, a size limit), runs on a fuel budget and renders into a
//! bounded buffer, so a template can neither read outside the repo nor run
//! or grow without end. Errors are values naming the template's repo path
//! and line, never panics; `check` renders every template against a sample
//! ledger (`crate::check::templates`) so they surface in the pull request, not in apply.
//!
//! What the bot relies on is never read back from rendered text it does not
//! control: a session file is written through a repo template only if it
//! reads back as exactly the session (price and cost included, which the
//! budget is computed from); otherwise the built-in template writes it and
//! the run says why ([`super::write::write_session`]).

use std::io::Write;
use std::path::Path;

use minijinja::{Environment, Error, ErrorKind, Value};
use rust_decimal::Decimal;

use crate::repo::files::{self, FileError};
use crate::repo::limits::{MAX_RENDERED_BYTES, TEMPLATE_FUEL};

/// Where a repo's own templates live.
pub(crate) const DIR: &str = ".mc-gitops/templates";

pub(crate) const SESSION: &str = "session.toml.j2";
pub(crate) const COSTS_MONTH: &str = "costs-month.toml.j2";
pub(crate) const COSTS_MD: &str = "COSTS.md.j2";
pub(crate) const STATUS_MD: &str = "STATUS.md.j2";
/// The public status page ([`crate::ledger::site`]): HTML, rendered with auto-escaping.
pub(crate) const STATUS_HTML: &str = "status.html.j2";

/// Every template by name, with its built-in text.
pub(crate) const BUILTIN: &[(&str, &str)] = &[
    (SESSION, include_str!("../../../templates/session.toml.j2")),
    (COSTS_MONTH, include_str!("../../../templates/costs-month.toml.j2")),
    (COSTS_MD, include_str!("../../../templates/COSTS.md.j2")),
    (STATUS_MD, include_str!("../../../templates/STATUS.md.j2")),
    (STATUS_HTML, include_str!("../../../templates/status.html.j2")),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(transparent)]
    Refused(#[from] FileError),
    #[error("cannot render {template}")]
    Render {
        /// The repo path of a repo template, or the built-in's name.
        template: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("{template} renders more than {MAX_RENDERED_BYTES} bytes (MAX_RENDERED_BYTES)")]
    TooLarge { template: String },
}

impl TemplateError {
    /// The template's line the error is at, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            TemplateError::Render { source, .. } => source.line(),
            _ => None,
        }
    }
}

/// The repo path of a repo template.
pub(crate) fn repo_path(name: &str) -> String {
    format!("{DIR}/{name}")
}

/// The repo's own text for template `name`, if it ships one.
pub(crate) fn custom(repo: &Path, name: &str) -> Result<Option<String>, FileError> {
    files::read_text(repo, &repo_path(name), files::TEMPLATE)
}

/// An environment with the filters and the fuel every template runs with,
/// and no templates yet.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_fuel(Some(TEMPLATE_FUEL));
    // HTML-escape every value printed into an HTML template (player names
    // and mod slugs are untrusted), and nothing else: the TOML and Markdown
    // templates have their own filters. Explicit, not minijinja's guess
    // from the name, so a change of its defaults cannot turn escaping off.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html.j2") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.add_filter("toml", toml_filter);
    env.add_filter("datetime", datetime_filter);
    env.add_filter("money", money_filter);
    env.add_filter("cents", cents_filter);
    env.add_filter("cell", cell_filter);
    env.add_filter("key", key_filter);
    env
}

/// Templates ready to render, each from the repo or built in.
pub struct Templates {
    env: Environment<'static>,
    /// Names the repo supplied.
    custom: Vec<String>,
}

impl Templates {
    /// The built-in templates only.
    pub fn builtin() -> Result<Self, TemplateError> {
        Self::with(&[])
    }

    /// `names` from the repo where it ships them, every other one built in.
    pub fn load(repo: &Path, names: &[&str]) -> Result<Self, TemplateError> {
        let mut sources = Vec::new();
        for name in names {
            if let Some(text) = custom(repo, name)? {
                sources.push((name.to_string(), text));
            }
        }
        Self::with(&sources)
    }

    /// The built-ins with `sources` (name, text) in their place.
    pub fn with(sources: &[(String, String)]) -> Result<Self, TemplateError> {
        let mut env = environment();
        let mut custom = Vec::new();
        for (name, text) in BUILTIN {
            let (text, shown) = match sources.iter().find(|(n, _)| n == name) {
                Some((_, t)) => {
                    custom.push(name.to_string());
                    (t.clone(), repo_path(name))
                }
                None => (text.to_string(), name.to_string()),
            };
            env.add_template_owned(*name, text)
                .map_err(|source| TemplateError::Render { template: shown, source })?;
        }
        Ok(Templates { env, custom })
    }

    /// How `name` reads in messages: its repo path when the repo ships it.
    pub fn shown(&self, name: &str) -> String {
        if self.custom.iter().any(|n| n == name) {
            repo_path(name)
        } else {
            name.to_string()
        }
    }

    pub fn is_custom(&self, name: &str) -> bool {
        self.custom.iter().any(|n| n == name)
    }

    /// Render `name` into at most [`MAX_RENDERED_BYTES`].
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, TemplateError> {
        let err = |source| TemplateError::Render {
            template: self.shown(name),
            source,
        };
        let tmpl = self.env.get_template(name).map_err(err)?;
        let mut out = Bounded(Vec::new());
        match tmpl.render_captured_to(ctx, &mut out) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WriteFailure && out.0.len() > MAX_RENDERED_BYTES => {
                return Err(TemplateError::TooLarge {
                    template: self.shown(name),
                });
            }
            Err(e) => return Err(err(e)),
        }
        String::from_utf8(out.0).map_err(|_| err(Error::new(ErrorKind::BadEscape, "rendered text is not UTF-8")))
    }
}

/// A buffer that refuses to grow past [`MAX_RENDERED_BYTES`].
struct Bounded(Vec<u8>);

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_RENDERED_BYTES {
            self.0.resize(MAX_RENDERED_BYTES + 1, 0);
            return Err(std::io::Error::other("template output over MAX_RENDERED_BYTES"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Filters. Every value a template prints goes through one of these, so
// nothing a player or admin wrote can break a file's syntax.

/// A value as a TOML literal.
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

fn decimal(v: &Value) -> Result<Decimal, Error> {
    let s = v.to_string();
    s.parse::<Decimal>()
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("{s:?} is not a decimal: {e}")))
}

/// Money in a TOML file: a string with four decimals, as session files keep it.
fn money_filter(v: Value) -> Result<String, Error> {
    Ok(format!("\"{:.4}\"", decimal(&v)?.round_dp(4)))
}

/// Money for people: two decimals.
fn cents_filter(v: Value) -> Result<String, Error> {
    Ok(format!("{:.2}", decimal(&v)?.round_dp(2)))
}

/// A TOML key, quoted and escaped on one line when it is not bare.
fn key_filter(v: Value) -> String {
    toml_edit::Key::new(v.to_string()).display_repr().into_owned()
}

/// Text inside a Markdown table cell: no line breaks, no column breaks.
fn cell_filter(v: Value) -> String {
    v.to_string().replace(['\n', '\r'], " ").replace('|', "\\|")
}
