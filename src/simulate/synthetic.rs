//! Synthetic play traces for tests and the benchmark
//! (`mc-gitops simulate --synthetic --seed N --days D`, `--write-trace`):
//! a group of friends playing in the evening, 1–3 sittings a day with gaps
//! of 5 minutes to 4 hours, weekends heavier. The random numbers come from
//! SplitMix64 written out here, so a seed gives the same trace on every
//! machine and every version of the `rand` crate.
//!
//! The model, per UTC day (the numbers are the generator's, documented in
//! docs/simulate.md): the group plays on 60 % of weekdays and 85 % of
//! weekend days; 1, 2 or 3 sittings (weekdays 50/35/15 %, weekends
//! 30/40/30 %); the first starts 18:00–20:30 on weekdays, 14:00–20:00 on
//! weekends; a sitting lasts 30–150 min (weekends 45–180); the gap to the
//! next is uniform between 5 min and 4 h; nobody starts after 01:00.
//! Each sitting has 1–3 players, joining in its first 10 minutes and
//! leaving in its last 10 (the first to join and the last to leave bound it).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

use super::trace::{Interval, Trace};

/// SplitMix64: small, fast and the same everywhere.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi].
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn pick(&mut self, weights: &[f64]) -> usize {
        let mut r = self.unit() * weights.iter().sum::<f64>();
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }
}

const FRIENDS: [&str; 4] = ["Steve", "Alex", "Kai", "Noor"];

fn minutes(m: f64) -> Duration {
    Duration::seconds((m * 60.0).round() as i64)
}

/// `days` days of evening play from `first_day`, by `seed`.
pub fn generate(seed: u64, days: u32, first_day: NaiveDate) -> Trace {
    let mut rng = SplitMix::new(seed);
    let mut intervals = Vec::new();
    for d in 0..days {
        let day = first_day + Duration::days(i64::from(d));
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        if rng.unit() >= if weekend { 0.85 } else { 0.60 } {
            continue;
        }
        let sittings = 1 + rng.pick(if weekend { &[0.30, 0.40, 0.30] } else { &[0.50, 0.35, 0.15] });
        let midnight: DateTime<Utc> = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        let latest_start = midnight + Duration::hours(25);
        let (from, to) = if weekend { (14.0, 20.0) } else { (18.0, 20.5) };
        let mut start = midnight + minutes(rng.between(from, to) * 60.0);
        for _ in 0..sittings {
            if start > latest_start {
                break;
            }
            let length = if weekend {
                rng.between(45.0, 180.0)
            } else {
                rng.between(30.0, 150.0)
            };
            let end = start + minutes(length);
            let players = 1 + rng.pick(&[0.3, 0.4, 0.3]);
            for (i, name) in FRIENDS.iter().take(players).enumerate() {
                // The first player opens the sitting and the last closes it.
                let join = if i == 0 { start } else { start + minutes(rng.between(0.0, 10.0)) };
                let leave = if i == players - 1 {
                    end
                } else {
                    end - minutes(rng.between(0.0, 10.0))
                };
                intervals.push(Interval {
                    player: Some((*name).to_string()),
                    join,
                    leave: leave.max(join),
                });
            }
            let gap = rng.between(5.0, 240.0);
            start = end + minutes(gap);
        }
    }
    Trace { intervals }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
    }

    #[test]
    fn a_seed_gives_the_same_trace_and_another_seed_another() {
        assert_eq!(generate(7, 30, day()), generate(7, 30, day()));
        assert_ne!(generate(7, 30, day()), generate(8, 30, day()));
    }

    #[test]
    fn evening_play_with_gaps_of_five_minutes_to_four_hours() {
        let t = generate(1, 60, day());
        let s = t.sittings();
        assert!(s.len() > 60, "about 1.5 sittings a day: {}", s.len());
        for w in s.windows(2) {
            // Within a day 5 min to 4 h; otherwise overnight (past 01:00 to 14:00 at the earliest).
            let gap = w[1].start - w[0].end;
            let within = gap >= Duration::minutes(4) && gap <= Duration::minutes(241);
            assert!(within || gap >= Duration::hours(9), "{gap:?}");
        }
        let weekend = s
            .iter()
            .filter(|x| matches!(x.start.weekday(), Weekday::Sat | Weekday::Sun))
            .count();
        let days = |we: bool| {
            (0..60)
                .filter(|d| matches!((day() + Duration::days(*d)).weekday(), Weekday::Sat | Weekday::Sun) == we)
                .count()
        };
        let (weekend_days, weekdays) = (days(true), days(false));
        // Sittings per weekend day above sittings per weekday.
        assert!(
            weekend * weekdays > (s.len() - weekend) * weekend_days,
            "weekends heavier: {weekend} of {}",
            s.len()
        );
    }
}
