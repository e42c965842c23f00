//! How problems and apply reports are shown: text for people (colour on a
//! terminal), GitHub annotations for pull requests. The plan renders itself
//! ([`crate::plan::render`]: text and JSON). Everything printed passes
//! through [`escape`], because in GitHub Actions the output is parsed for
//! workflow commands.

pub mod text;

use crate::escape;
use crate::repo::diag::{Diagnostic, Severity};

/// One GitHub Actions workflow command per problem, so each shows on the
/// pull request's line: the only lines the binary prints that start with
/// `::`, with every value in them `%`-escaped so none can end the command.
pub fn github_annotation(d: &Diagnostic) -> String {
    let kind = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut msg = d.message.clone();
    if let Some(h) = &d.help {
        msg.push_str(" — ");
        msg.push_str(h);
    }
    let data = escape::annotation_data(&msg);
    let prop = escape::annotation_property;
    if d.line == 0 {
        format!("::{kind} file={}::{data}", prop(&d.file))
    } else {
        format!("::{kind} file={},line={},col={}::{data}", prop(&d.file), d.line, d.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_what_github_would_misread() {
        let d = Diagnostic {
            severity: Severity::Error,
            file: "players/a,b.toml".into(),
            line: 3,
            col: 7,
            message: "100% wrong\nreally".into(),
            help: Some("fix: it".into()),
        };
        assert_eq!(
            github_annotation(&d),
            "::error file=players/a%2Cb.toml,line=3,col=7::100%25 wrong%0Areally — fix: it"
        );
    }
}
