//! A reader over a spanned TOML tree that reports problems instead of failing.
//!
//! serde stops at the first bad field, and an admin fixing a pull request
//! wants every problem at once. So files are parsed into toml's spanned
//! `DeTable`, then read key by key through [`Table`]: each accessor records
//! the key as known, reports a missing or mistyped value with its position and
//! returns `None`, and [`Table::finish`] reports every key nobody asked for,
//! with a suggestion when one is close.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostics, Source, did_you_mean, one_of};
use super::duration::Duration;

/// What every accessor needs: the file being read and where problems go.
pub struct Cx<'a> {
    pub src: &'a Source,
    pub diags: &'a mut Diagnostics,
}

impl Cx<'_> {
    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> super::diag::Pending<'_> {
        self.diags.error(self.src, span, message)
    }
}

/// Parse a whole file. Syntax errors are all reported (toml recovers where
/// it can); `None` only when nothing usable came out.
pub(crate) fn parse_document<'i>(cx: &mut Cx<'_>, text: &'i str) -> Option<Spanned<DeTable<'i>>> {
    let (doc, errors) = DeTable::parse_recoverable(text);
    for e in &errors {
        let span = e.span().unwrap_or(0..0);
        cx.error(span, format!("invalid TOML: {}", e.message().trim_end()));
    }
    errors.is_empty().then_some(doc)
}

/// A value with the byte span it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub span: Range<usize>,
}

/// One table being read. `path` is its dotted name for messages (`""` for the
/// document root).
pub struct Table<'t, 'i> {
    table: &'t DeTable<'i>,
    span: Range<usize>,
    path: String,
    known: Vec<&'static str>,
}

impl<'t, 'i> Table<'t, 'i> {
    pub fn new(table: &'t Spanned<DeTable<'i>>, path: impl Into<String>) -> Self {
        Table {
            table: table.get_ref(),
            span: table.span(),
            path: path.into(),
            known: Vec::new(),
        }
    }

    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// `key` as it reads in messages: `minecraft.memory`, or just `name` at the root.
    pub fn key_name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn where_(&self) -> String {
        if self.path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in [{}]", self.path)
        }
    }

    /// Look a key up and mark it known.
    pub fn get(&mut self, key: &'static str) -> Option<&'t Spanned<DeValue<'i>>> {
        self.known.push(key);
        self.table.get(key)
    }

    /// Report a missing required key; returns `None` for chaining.
    fn missing<T>(&self, cx: &mut Cx<'_>, key: &str, help: &str) -> Option<T> {
        cx.error(self.span(), format!("missing `{key}` {}", self.where_()))
            .help(help.to_string());
        None
    }

    pub fn required<T>(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        help: &str,
        read: impl FnOnce(&mut Cx<'_>, &str, &'t Spanned<DeValue<'i>>) -> Option<T>,
    ) -> Option<T> {
        let name = self.key_name(key);
        match self.get(key) {
            Some(v) => read(cx, &name, v),
            None => self.missing(cx, key, help),
        }
    }

    pub fn optional<T>(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        read: impl FnOnce(&mut Cx<'_>, &str, &'t Spanned<DeValue<'i>>) -> Option<T>,
    ) -> Option<T> {
        let name = self.key_name(key);
        self.get(key).and_then(|v| read(cx, &name, v))
    }

    /// A sub-table; `None` (and an error) when the key holds something else.
    pub fn table(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<Table<'t, 'i>> {
        let name = self.key_name(key);
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Table {
                table: t,
                span: v.span(),
                path: name,
                known: Vec::new(),
            }),
            other => {
                wrong_type(cx, &name, v, "a table", other);
                None
            }
        }
    }

    /// Every entry, for tables whose keys are data (`[regions.*]`, `[mods]`).
    /// Marks them all known.
    pub fn entries(&mut self) -> impl Iterator<Item = (At<&'t str>, &'t Spanned<DeValue<'i>>)> + use<'t, 'i> {
        self.known.clear();
        self.path.push_str(".*");
        self.table.iter().map(|(k, v)| {
            (
                At {
                    value: k.get_ref().as_ref(),
                    span: k.span(),
                },
                v,
            )
        })
    }

    /// Report every key nobody asked for.
    pub fn finish(self, cx: &mut Cx<'_>) {
        if self.path.ends_with(".*") {
            return;
        }
        for (k, _) in self.table.iter() {
            let key = k.get_ref().as_ref();
            if self.known.contains(&key) {
                continue;
            }
            let mut valid = self.known.clone();
            valid.sort_unstable();
            valid.dedup();
            let help = match did_you_mean(key, valid.iter().copied()) {
                Some(close) => format!("did you mean `{close}`? valid keys here: {}", one_of(&valid)),
                None => format!("valid keys here: {}", one_of(&valid)),
            };
            cx.error(k.span(), format!("unknown key `{key}` {}", self.where_())).help(help);
        }
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn wrong_type(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>, want: &str, got: &DeValue<'_>) {
    cx.error(v.span(), format!("`{name}` must be {want}, found {}", type_name(got)));
}

// Readers for one value. Each takes the key's display name for messages.

pub(crate) fn string(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>) -> Option<At<String>> {
    match v.get_ref() {
        DeValue::String(s) => Some(At {
            value: s.to_string(),
            span: v.span(),
        }),
        other => {
            wrong_type(cx, name, v, "a string", other);
            None
        }
    }
}

/// A string of at most `max` characters; `limit` names the bound (a
/// constant in `repo::limits`) in the refusal.
pub(crate) fn bounded_string(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>, max: usize, limit: &str) -> Option<At<String>> {
    let s = string(cx, name, v)?;
    let n = s.value.chars().count();
    if n > max {
        cx.error(
            s.span,
            format!("`{name}` is {n} characters, over the {max}-character limit ({limit})"),
        )
        .help(format!("shorten it to {max} characters or fewer"));
        return None;
    }
    Some(s)
}

pub(crate) fn boolean(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>) -> Option<bool> {
    match v.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        other => {
            wrong_type(cx, name, v, "`true` or `false`", other);
            None
        }
    }
}

pub(crate) fn integer(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>) -> Option<At<i64>> {
    match v.get_ref() {
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Some(At { value: n, span: v.span() }),
            Err(_) => {
                cx.error(v.span(), format!("`{name}` is out of range"));
                None
            }
        },
        other => {
            wrong_type(cx, name, v, "an integer", other);
            None
        }
    }
}

/// An integer within `lo..=hi`.
pub(crate) fn integer_in(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>, lo: i64, hi: i64) -> Option<i64> {
    let n = integer(cx, name, v)?;
    if n.value < lo || n.value > hi {
        cx.error(n.span, format!("`{name}` is {}, outside {lo}–{hi}", n.value))
            .help(format!("use a whole number from {lo} to {hi}"));
        return None;
    }
    Some(n.value)
}

/// A number written as an integer or a float (money, mostly).
pub(crate) fn number(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>) -> Option<At<f64>> {
    let value = match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok().map(|n| n as f64),
        DeValue::Float(f) => f.as_str().parse::<f64>().ok().filter(|f| f.is_finite()),
        other => {
            wrong_type(cx, name, v, "a number", other);
            return None;
        }
    };
    match value {
        Some(value) => Some(At { value, span: v.span() }),
        None => {
            cx.error(v.span(), format!("`{name}` must be a finite number"));
            None
        }
    }
}

pub(crate) fn datetime(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = match v.get_ref() {
        DeValue::Datetime(d) => d.to_string(),
        DeValue::String(s) => s.to_string(),
        other => {
            wrong_type(cx, name, v, "a date-time like 2026-11-01T18:02:11Z", other);
            return None;
        }
    };
    match chrono::DateTime::parse_from_rfc3339(&text) {
        Ok(t) => Some(t.with_timezone(&chrono::Utc)),
        Err(_) => {
            cx.error(v.span(), format!("`{name}` = {text} is not a full date-time with an offset"))
                .help("write it like 2026-11-01T18:02:11Z");
            None
        }
    }
}

pub(crate) fn duration(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>) -> Option<Duration> {
    let s = string(cx, name, v)?;
    match s.value.parse::<Duration>() {
        Ok(d) => Some(d),
        Err(e) => {
            cx.error(s.span, format!("`{name}` = \"{}\" is not a duration: {e}", s.value))
                .help("write a duration like \"45s\", \"15m\", \"12h\" or \"1h30m\"");
            None
        }
    }
}

/// One of a fixed set of strings.
pub(crate) fn choice(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>, valid: &[&str]) -> Option<At<String>> {
    let s = string(cx, name, v)?;
    if valid.contains(&s.value.as_str()) {
        return Some(s);
    }
    let help = match did_you_mean(&s.value, valid.iter().copied()) {
        Some(close) => format!("did you mean \"{close}\"? valid values: {}", one_of(valid)),
        None => format!("valid values: {}", one_of(valid)),
    };
    cx.error(s.span, format!("`{name}` = \"{}\" is not allowed", s.value)).help(help);
    None
}

/// An array whose every element goes through `item`; bad elements are
/// reported and skipped.
pub(crate) fn array<'t, 'i, T>(
    cx: &mut Cx<'_>,
    name: &str,
    v: &'t Spanned<DeValue<'i>>,
    mut item: impl FnMut(&mut Cx<'_>, &str, &'t Spanned<DeValue<'i>>) -> Option<T>,
) -> Option<Vec<T>> {
    match v.get_ref() {
        DeValue::Array(items) => Some(items.iter().filter_map(|i| item(cx, name, i)).collect()),
        other => {
            wrong_type(cx, name, v, "an array", other);
            None
        }
    }
}

/// An array of tables (`[[op]]`), each read as a [`Table`].
pub(crate) fn tables<'t, 'i>(cx: &mut Cx<'_>, name: &str, v: &'t Spanned<DeValue<'i>>) -> Vec<Table<'t, 'i>> {
    match v.get_ref() {
        DeValue::Array(items) => items
            .iter()
            .filter_map(|i| match i.get_ref() {
                DeValue::Table(t) => Some(Table {
                    table: t,
                    span: i.span(),
                    path: name.to_string(),
                    known: Vec::new(),
                }),
                other => {
                    wrong_type(cx, name, i, "a table", other);
                    None
                }
            })
            .collect(),
        other => {
            wrong_type(cx, name, v, "an array of tables (`[[...]]`)", other);
            Vec::new()
        }
    }
}

/// A value that is itself a table (inline or not), read as a [`Table`].
pub(crate) fn as_table<'t, 'i>(cx: &mut Cx<'_>, name: &str, v: &'t Spanned<DeValue<'i>>) -> Option<Table<'t, 'i>> {
    match v.get_ref() {
        DeValue::Table(t) => Some(Table {
            table: t,
            span: v.span(),
            path: name.to_string(),
            known: Vec::new(),
        }),
        other => {
            wrong_type(cx, name, v, "a table", other);
            None
        }
    }
}
