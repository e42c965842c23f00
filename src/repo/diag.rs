//! Problems found in a state repo, each pinned to a file, line and column.
//!
//! Loading never stops at the first problem: every check pushes into one
//! [`Diagnostics`] so an admin fixing a pull request sees the whole list at once
//! (ripgrep's config parsing does the same). Positions are computed from byte
//! spans only when a diagnostic is created, against the file's own text.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// How bad a problem is. Errors stop `plan`; warnings are shown and let it go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Path relative to the repo root, with `/` separators.
    pub file: String,
    /// 1-based; 0 when the problem is about the file as a whole.
    pub line: usize,
    /// 1-based, counted in characters.
    pub col: usize,
    pub message: String,
    /// What would be valid, when there is something useful to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.line == 0 {
            write!(f, "{}: {sev}: {}", self.file, self.message)?;
        } else {
            write!(f, "{}:{}:{}: {sev}: {}", self.file, self.line, self.col, self.message)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// A file's text with a line index, so byte spans become line:col.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Source {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and character column of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// Every problem found so far, across files.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error(&mut self, src: &Source, span: Range<usize>, message: impl Into<String>) -> Pending<'_> {
        self.push(Severity::Error, src, Some(span), message.into())
    }

    pub fn warning(&mut self, src: &Source, span: Range<usize>, message: impl Into<String>) -> Pending<'_> {
        self.push(Severity::Warning, src, Some(span), message.into())
    }

    /// A problem with a whole file (missing, unreadable, misnamed).
    pub fn file_error(&mut self, path: &str, message: impl Into<String>) -> Pending<'_> {
        self.items.push(Diagnostic {
            severity: Severity::Error,
            file: path.to_string(),
            line: 0,
            col: 0,
            message: message.into(),
            help: None,
        });
        Pending(self.items.last_mut().expect("just pushed"))
    }

    pub fn push_warning_file(&mut self, path: &str, message: impl Into<String>, help: impl Into<String>) {
        self.items.push(Diagnostic {
            severity: Severity::Warning,
            file: path.to_string(),
            line: 0,
            col: 0,
            message: message.into(),
            help: Some(help.into()),
        });
    }

    fn push(&mut self, severity: Severity, src: &Source, span: Option<Range<usize>>, message: String) -> Pending<'_> {
        let (line, col) = span.map_or((0, 0), |s| src.position(s.start));
        self.items.push(Diagnostic {
            severity,
            file: src.path.clone(),
            line,
            col,
            message,
            help: None,
        });
        Pending(self.items.last_mut().expect("just pushed"))
    }

    /// A problem found elsewhere (a refused file).
    pub fn add(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// All problems in a stable order: by file, then position.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items
            .sort_by(|a, b| (&a.file, a.line, a.col, a.severity, &a.message).cmp(&(&b.file, b.line, b.col, b.severity, &b.message)));
        self.items.dedup();
        self.items
    }
}

/// A just-pushed diagnostic, to which a `help` line may be added.
pub struct Pending<'a>(&'a mut Diagnostic);

impl Pending<'_> {
    pub fn help(self, help: impl Into<String>) {
        self.0.help = Some(help.into());
    }
}

/// "did you mean `x`?" for a misspelt key or value, when one is close enough.
pub fn did_you_mean<'a>(given: &str, valid: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    valid
        .into_iter()
        .map(|v| (strsim::jaro_winkler(given, v), v))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| v)
}

/// `a`, `b` or `c` — for "valid values are …" help lines.
pub fn one_of(valid: &[&str]) -> String {
    let quoted: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = Source::new("f.toml", "a = 1\nmotd = \"é x\"\n");
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(6), (2, 1));
        // 'x' sits after a two-byte 'é' and a space.
        let x = src.text.find('x').unwrap();
        assert_eq!(src.position(x), (2, 11));
    }

    #[test]
    fn suggestions_only_when_close() {
        assert_eq!(did_you_mean("backup_evry", ["idle", "backup_every"]), Some("backup_every"));
        assert_eq!(did_you_mean("zzz", ["idle", "backup_every"]), None);
    }

    #[test]
    fn one_of_reads_as_english() {
        assert_eq!(one_of(&["eu", "us"]), "`eu` or `us`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
