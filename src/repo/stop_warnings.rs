//! How long before a stop each warning is said: server.toml's `[lifecycle]
//! stop_warnings` and desired.json's `stop_warnings`, one type for both (the
//! value and its wire form). The countdown that says them is
//! `crate::countdown`, above; this is the state-file value it reads.

use chrono::TimeDelta;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::repo::duration::Duration;

/// The most warnings a countdown may have.
pub const MAX_STOP_WARNINGS: usize = 8;
/// The longest warning: a stop is not put off for longer than this (the
/// overdue alert counts from the countdown's end).
pub const MAX_STOP_WARNING: Duration = Duration::from_mins(30);

/// How long before a stop each warning is said, longest first; empty: no
/// countdown. In desired.json a list of durations (`["5m", "1m", "10s"]`);
/// a document without the key (an older reconciler) means no countdown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StopWarnings(Vec<Duration>);

impl StopWarnings {
    /// server.toml's default: 5 minutes, 1 minute, 10 seconds.
    pub fn standard() -> Self {
        StopWarnings(vec![Duration::from_mins(5), Duration::from_mins(1), Duration::from_secs(10)])
    }

    /// Checked and sorted longest first: each from 1s to [`MAX_STOP_WARNING`],
    /// no two alike, at most [`MAX_STOP_WARNINGS`]. The error says why.
    pub fn new(leads: impl IntoIterator<Item = Duration>) -> Result<Self, String> {
        let mut leads: Vec<Duration> = leads.into_iter().collect();
        if leads.len() > MAX_STOP_WARNINGS {
            return Err(format!("{} warnings; at most {MAX_STOP_WARNINGS} (MAX_STOP_WARNINGS)", leads.len()));
        }
        if let Some(d) = leads.iter().find(|d| d.as_secs() == 0) {
            return Err(format!("\"{d}\" is no warning (use [] for none)"));
        }
        if let Some(d) = leads.iter().find(|d| **d > MAX_STOP_WARNING) {
            return Err(format!("\"{d}\" is longer than {MAX_STOP_WARNING} (MAX_STOP_WARNING)"));
        }
        leads.sort_by(|a, b| b.cmp(a));
        if let Some(w) = leads.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("\"{}\" is listed twice", w[0]));
        }
        Ok(StopWarnings(leads))
    }

    pub fn leads(&self) -> &[Duration] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How long the countdown runs when it starts on time (zero: none).
    pub fn longest(&self) -> TimeDelta {
        self.0.first().map_or(TimeDelta::zero(), |d| d.to_chrono())
    }

    pub(crate) fn shortest(&self) -> TimeDelta {
        self.0.last().map_or(TimeDelta::zero(), |d| d.to_chrono())
    }
}

impl std::fmt::Display for StopWarnings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let leads: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&leads.join(", "))
    }
}

impl Serialize for StopWarnings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for StopWarnings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let texts = Vec::<String>::deserialize(d)?;
        let leads = texts
            .iter()
            .map(|t| {
                t.parse::<Duration>()
                    .map_err(|e| D::Error::custom(format!("stop warning {t:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        StopWarnings::new(leads).map_err(|e| D::Error::custom(format!("stop_warnings: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Duration {
        s.parse().unwrap()
    }

    #[test]
    fn warnings_are_sorted_and_checked() {
        let w = StopWarnings::new([d("10s"), d("5m"), d("1m")]).unwrap();
        assert_eq!(w, StopWarnings::standard());
        assert_eq!(w.to_string(), "5m, 1m, 10s");
        assert_eq!(StopWarnings::new([]).unwrap().to_string(), "none");
        for (bad, why) in [
            (vec![d("0s")], "no warning"),
            (vec![d("31m")], "longer than 30m"),
            (vec![d("1m"), d("60s")], "listed twice"),
            ((1..=9).map(Duration::from_secs).collect(), "at most 8"),
        ] {
            let e = StopWarnings::new(bad).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn the_wire_form_is_a_list_of_durations_read_back_as_written() {
        let w = StopWarnings::standard();
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(json, serde_json::json!(["5m", "1m", "10s"]));
        assert_eq!(serde_json::from_value::<StopWarnings>(json).unwrap(), w);
        for bad in [r#"["5 minutes"]"#, r#"["2h"]"#, r#"["1m","1m"]"#, r#"[300]"#] {
            assert!(serde_json::from_str::<StopWarnings>(bad).is_err(), "{bad}");
        }
    }
}
