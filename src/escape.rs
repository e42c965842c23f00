//! Escaping for everything the binary prints, because in GitHub Actions its
//! output is parsed: the runner takes a line whose first non-blank
//! characters are `::` as a workflow command (`::add-mask::`, `::error::`,
//! `::stop-commands::`, …), a `##[command]` anywhere in a line as the legacy
//! form, and CR as well as LF as a line break. Values from a state repo (a
//! player name, a motd, a file's contents echoed in an error, a PR title)
//! must therefore never carry a raw line break and never begin a line.
//!
//! Two layers, both applied by every renderer (`plan::render`, `output`,
//! `doctor`, `console`…); it sits in the foundation so any layer can:
//! - [`value`]: one value shown to people. CR and LF become a visible `\r`
//!   and `\n`, every other control character (ESC included, so a value
//!   cannot recolour or rewrite the terminal) and U+2028/U+2029 a visible
//!   `\u{…}`. Tabs stay. Backslashes are not doubled: the escape is for
//!   reading, not for reversing.
//! - [`line()`] / [`text`]: every line the binary prints. A line whose
//!   command-relevant start (after blanks, zero-width characters and colour
//!   codes) is `::` gets a `\` in front; every `##[` becomes `#\#[`; a lone
//!   CR becomes `\r`. Our own annotations (`output::github_annotation`) are
//!   the only lines printed without it; their values use [`annotation_data`]
//!   and [`annotation_property`], GitHub's `%XX` escapes.

use std::borrow::Cow;

/// A value with CR, LF and other control characters made visible.
pub fn value(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_value_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs_value_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_value_escape(c: char) -> bool {
    (c.is_control() && c != '\t') || c == '\u{2028}' || c == '\u{2029}'
}

/// Characters the check for a leading `::` looks past: blanks (the runner
/// trims Unicode white space), zero-width and byte-order marks (harmless to
/// over-guard), and what is left of colour codes once stripped.
fn skippable(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

/// Whether the runner could read `line` as a workflow command.
pub fn is_command_line(line: &str) -> bool {
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches(skippable);
        // An ANSI CSI sequence (ESC [ params final): colour, which anstream
        // strips when the output is not a terminal.
        if let Some(after) = rest.strip_prefix("\u{1b}[") {
            let end = after.find(|c: char| ('@'..='~').contains(&c)).map_or(after.len(), |i| i + 1);
            rest = &after[end..];
            continue;
        }
        break;
    }
    rest.starts_with("::") || line.contains("##[")
}

/// One line of output (no LF inside) made safe to print in an Actions log.
pub fn line(l: &str) -> Cow<'_, str> {
    if !l.contains('\r') && !is_command_line(l) {
        return Cow::Borrowed(l);
    }
    let mut s = l.replace('\r', "\\r").replace("##[", "#\\#[");
    if is_command_line(&s) {
        s.insert(0, '\\');
    }
    Cow::Owned(s)
}

/// Multi-line output: [`line()`] on each line; line breaks kept.
pub fn text(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for (i, l) in t.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&line(l));
    }
    out
}

/// JSON output made safe for an Actions log without changing what it
/// decodes to: pretty JSON never starts a line with `::` (strings are
/// quoted, control characters escaped), but a `##[` inside a string would
/// be a legacy command, so its second `#` becomes `\u0023`.
pub fn json(t: &str) -> Cow<'_, str> {
    if t.contains("##[") {
        Cow::Owned(t.replace("##[", "#\\u0023["))
    } else {
        Cow::Borrowed(t)
    }
}

/// A writer for log lines (tracing's): each write is one or more whole
/// lines, each passed through [`line()`] before it reaches stderr.
pub struct SafeStderr;

impl std::io::Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(self::text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A workflow command's data (after the second `::`): `%`, CR and LF as
/// GitHub's toolkit escapes them.
pub fn annotation_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value: the data escapes plus `:` and `,`,
/// which would end the property.
pub fn annotation_property(s: &str) -> String {
    annotation_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_lose_their_line_breaks_and_control_characters() {
        assert_eq!(value("plain"), "plain");
        assert_eq!(value("a\n::add-mask::x"), "a\\n::add-mask::x");
        assert_eq!(value("a\r::error::x"), "a\\r::error::x");
        assert_eq!(value("\u{1b}[2Jhi\tthere\u{2028}"), "\\u{1b}[2Jhi\tthere\\u{2028}");
    }

    #[test]
    fn lines_that_the_runner_would_read_as_commands_are_defused() {
        assert_eq!(line("error: bad"), "error: bad");
        assert_eq!(line("::error::pwned"), "\\::error::pwned");
        assert_eq!(line("      \u{a0}::add-mask::x"), "\\      \u{a0}::add-mask::x");
        assert_eq!(
            line("\u{1b}[31m::stop-commands::t\u{1b}[0m"),
            "\\\u{1b}[31m::stop-commands::t\u{1b}[0m"
        );
        assert_eq!(line("motd = hi ##[error]pwned"), "motd = hi #\\#[error]pwned");
        assert_eq!(line("a\r::error::x"), "a\\r::error::x");
        assert_eq!(text("ok\n  ::warning::x\nok"), "ok\n\\  ::warning::x\nok");
        let j = json("{\"motd\": \"##[error]x\"}");
        assert_eq!(j, "{\"motd\": \"#\\u0023[error]x\"}");
        let back: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(back["motd"], "##[error]x");
        for l in ["::error::pwned", "  ::x::", "##[set-output]", "\u{1b}[1m::e::", "a\r::e::b"] {
            let safe = line(l);
            assert!(!is_command_line(&safe) && !safe.contains('\r'), "{l:?} → {safe:?}");
        }
    }
}
