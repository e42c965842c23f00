//! Play traces: who was online when. One definition of the trace file
//! (docs/simulate.md), read and written by [`Trace`], and the sittings it
//! merges into (a stretch with at least one player online), which is all the
//! lifecycle sees: the first join of a sitting wakes or starts the server,
//! its last leave starts the idle countdown.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::shutdown::learn::{Sitting, merge};

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot read the trace {file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the trace {file} is not a trace (docs/simulate.md): {source}")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the trace {file}: interval {index} leaves ({leave}) before it joins ({join})")]
    Backwards {
        file: String,
        index: usize,
        join: DateTime<Utc>,
        leave: DateTime<Utc>,
    },
}

/// One player online from `join` to `leave`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// Who (optional: only the group's presence matters to the lifecycle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player: Option<String>,
    pub join: DateTime<Utc>,
    pub leave: DateTime<Utc>,
}

/// The trace file: `{"intervals": [{"player": "Steve", "join": "…Z", "leave": "…Z"}, …]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub intervals: Vec<Interval>,
}

impl Trace {
    pub fn read(path: &Path) -> Result<Self, TraceError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TraceError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&file, &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, TraceError> {
        let trace: Trace = serde_json::from_str(text).map_err(|source| TraceError::Json {
            file: file.to_string(),
            source,
        })?;
        for (index, i) in trace.intervals.iter().enumerate() {
            if i.leave < i.join {
                return Err(TraceError::Backwards {
                    file: file.to_string(),
                    index,
                    join: i.join,
                    leave: i.leave,
                });
            }
        }
        Ok(trace)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a trace serialises")
    }

    /// The group's sittings: overlapping or touching intervals merged, in order.
    pub fn sittings(&self) -> Vec<Sitting> {
        merge(self.intervals.iter().map(|i| Sitting {
            start: i.join,
            end: i.leave,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_writes_and_merges_overlaps() {
        let text = r#"{"intervals": [
            {"player": "Steve", "join": "2026-12-04T19:00:00Z", "leave": "2026-12-04T20:00:00Z"},
            {"player": "Alex", "join": "2026-12-04T19:30:00Z", "leave": "2026-12-04T20:30:00Z"},
            {"join": "2026-12-04T21:00:00Z", "leave": "2026-12-04T21:10:00Z"}
        ]}"#;
        let t = Trace::parse("t.json", text).unwrap();
        assert_eq!(Trace::parse("t.json", &t.to_json()).unwrap(), t);
        let s = t.sittings();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].end, "2026-12-04T20:30:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn refuses_unknown_keys_and_backwards_intervals() {
        let e = Trace::parse("t.json", r#"{"intervals": [], "extra": 1}"#).unwrap_err();
        assert!(e.to_string().contains("t.json"), "{e}");
        let back = r#"{"intervals": [{"join": "2026-12-04T20:00:00Z", "leave": "2026-12-04T19:00:00Z"}]}"#;
        assert!(matches!(Trace::parse("t.json", back), Err(TraceError::Backwards { index: 0, .. })));
    }
}
