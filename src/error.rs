//! The one error-chain renderer: an error and its causes on one line.
//!
//! Status documents, reports, warnings and the ledger all show an error the same
//! way (`outer: cause: root cause`). It sits in the foundation layer so that every
//! module, the agent and the reconciler alike, renders through this one function
//! instead of keeping a copy.

/// An error with its causes, one line: `outer: cause: root cause`.
pub fn render_error(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading {0}")]
    struct Outer(&'static str, #[source] std::io::Error);

    #[test]
    fn every_cause_is_on_the_line_in_order() {
        let e = Outer("status.json", std::io::Error::other("disk full"));
        assert_eq!(render_error(&e), "reading status.json: disk full");
    }
}
