//! Just enough lexing of Rust for the layering check: comments and string,
//! char and raw-string literals blanked (line numbers kept), then the text cut
//! into identifiers, `::` and single punctuation, each with its line.

/// The source with comments and string/char literals blanked, newlines kept,
/// so line numbers still match.
pub(crate) fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let keep_newlines = |out: &mut String, s: &[u8]| {
        for &c in s {
            out.push(if c == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            keep_newlines(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = 0;
            while j < rest.len() {
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            keep_newlines(&mut out, &rest[..j]);
            i += j;
        } else if let Some(len) = raw_string_len(rest, i == 0 || !is_ident(b[i - 1])) {
            keep_newlines(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(rest.len());
            keep_newlines(&mut out, &rest[..end]);
            i += end;
        } else if rest[0] == b'\'' && (rest.get(1) == Some(&b'\\') || rest.get(2) == Some(&b'\'')) {
            // a char literal ('x', '\n', '\u{..}'), not a lifetime
            let mut j = 1;
            while j < rest.len() && rest[j] != b'\'' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(rest.len());
            keep_newlines(&mut out, &rest[..end]);
            i += end;
        } else {
            // copy one whole UTF-8 character
            let ch = src[i..].chars().next().expect("in bounds");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The length of a raw string (`r"…"`, `r#"…"#`, `br"…"`) starting here.
fn raw_string_len(rest: &[u8], at_token_start: bool) -> Option<usize> {
    if !at_token_start {
        return None;
    }
    let mut j = usize::from(rest.first() == Some(&b'b'));
    if rest.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = rest[j..].iter().take_while(|&&c| c == b'#').count();
    j += hashes;
    if rest.get(j) != Some(&b'"') {
        return None;
    }
    let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
    let body = j + 1;
    let end = rest[body..].windows(close.len()).position(|w| w == close.as_slice())?;
    Some(body + end + close.len())
}

pub(crate) fn is_name(t: &str) -> bool {
    t.bytes().all(is_ident) && t.bytes().next().is_some_and(|c| c.is_ascii_lowercase() || c == b'_') && t != "self"
}

/// Identifiers, `::`, braces and single punctuation, each with its line.
pub(crate) fn tokenize(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if is_ident(c) {
                let start = i;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                out.push((n + 1, line[start..i].to_string()));
            } else if b[i..].starts_with(b"::") {
                out.push((n + 1, "::".into()));
                i += 2;
            } else if c.is_ascii_whitespace() {
                i += 1;
            } else {
                let ch = line[i..].chars().next().expect("in bounds");
                out.push((n + 1, ch.to_string()));
                i += ch.len_utf8();
            }
        }
    }
    out
}
