//! Durations as people write them in `server.toml`: "45s", "15m", "12h", "1h30m".
//!
//! Only h/m/s, in that order, each at most once: enough for lifecycle timers
//! and unambiguous to read back. Displayed in the same form, so a value
//! round-trips through plans and ledger files unchanged.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Duration(secs)
    }
    pub const fn from_mins(mins: u64) -> Self {
        Duration(mins * 60)
    }
    pub const fn from_hours(hours: u64) -> Self {
        Duration(hours * 3600)
    }
    pub const fn as_secs(self) -> u64 {
        self.0
    }
    pub fn to_chrono(self) -> chrono::Duration {
        chrono::Duration::seconds(self.0 as i64)
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("it is empty".into());
        }
        let mut total: u64 = 0;
        let mut rest = s;
        let mut last_unit = 0; // index into UNITS; units must come in order
        const UNITS: [(char, u64); 3] = [('h', 3600), ('m', 60), ('s', 1)];
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(format!("expected a number before `{}`", &rest[..1]));
            }
            let n: u64 = rest[..digits].parse().map_err(|_| "the number is too large".to_string())?;
            let unit = rest[digits..]
                .chars()
                .next()
                .ok_or_else(|| format!("`{n}` needs a unit: h, m or s"))?;
            let idx = UNITS
                .iter()
                .position(|(c, _)| *c == unit)
                .ok_or_else(|| format!("unknown unit `{unit}` (use h, m or s)"))?;
            if idx < last_unit || (idx == last_unit && total > 0) {
                return Err("units must appear once each, in the order h, m, s".into());
            }
            last_unit = idx;
            total = n
                .checked_mul(UNITS[idx].1)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| "it is too long".to_string())?;
            rest = &rest[digits + unit.len_utf8()..];
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        if self.0 == 0 {
            return f.write_str("0s");
        }
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!("45s".parse(), Ok(Duration(45)));
        assert_eq!("15m".parse(), Ok(Duration(900)));
        assert_eq!("12h".parse(), Ok(Duration(43200)));
        assert_eq!("1h30m".parse(), Ok(Duration(5400)));
    }

    #[test]
    fn rejects_what_would_be_ambiguous() {
        for bad in ["", "15", "m", "15 m", "1m1h", "1h1h", "1d", "-5m", "1.5h"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} should be refused");
        }
    }

    proptest! {
        #[test]
        fn display_round_trips(secs in 0u64..10_000_000) {
            let d = Duration(secs);
            prop_assert_eq!(d.to_string().parse::<Duration>(), Ok(d));
        }
    }
}
