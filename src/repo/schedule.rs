//! `[schedule]` in server.toml: planned sittings (a cron line in the
//! group's time zone, pre-warmed so the server is joinable at that minute)
//! and quiet hours in which no start is allowed. Parsing reports every bad
//! entry with file:line:col; the queries (`next_start`, `quiet_at`) are pure
//! and take the moment as a parameter, so the planner stays free of clocks.
//!
//! Cron lines are the 5 fields people know from crontab and GitHub
//! (minute hour day-of-month month day-of-week). The `cron` crate wants a
//! seconds field first and numbers days of the week 1 = Sunday, where
//! crontab says 0 = Sunday and 5 = Friday; numeric days are rewritten to
//! names here, so `0 19 * * 5` means Friday as it does everywhere else.

use std::str::FromStr;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};
use toml::Spanned;
use toml::de::DeValue;

use super::reader::{self, Cx, Table};

/// The most sittings one server.toml may plan (each is checked by every run).
pub(crate) const MAX_SITTINGS: usize = 16;

/// `[schedule]`: all times in `timezone`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Schedule {
    #[serde(serialize_with = "tz_name")]
    pub timezone: Tz,
    pub sittings: Vec<Sitting>,
    pub quiet: Vec<QuietHours>,
}

/// One `[[schedule.sitting]]`: `start = "0 19 * * FRI"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sitting {
    /// As written, for people (plan, STATUS.md).
    pub start: String,
    cron: cron::Schedule,
}

impl Serialize for Sitting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.start)
    }
}

/// `quiet = ["23:30-08:00"]`: every day from `from` to `to` (crossing
/// midnight when `to` is earlier), local time. `to` itself is outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuietHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl Serialize for QuietHours {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl std::fmt::Display for QuietHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.from.format("%H:%M"), self.to.format("%H:%M"))
    }
}

fn tz_name<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl QuietHours {
    fn contains(&self, t: NaiveTime) -> bool {
        if self.from <= self.to {
            self.from <= t && t < self.to
        } else {
            t >= self.from || t < self.to
        }
    }
}

impl Sitting {
    /// A sitting from its crontab line (what `start = "…"` holds).
    pub fn new(start: &str) -> Result<Sitting, String> {
        Ok(Sitting {
            start: start.to_string(),
            cron: cron_line(start)?,
        })
    }

    /// The first planned start strictly after `after`.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.after(&after.with_timezone(&tz)).next().map(|t| t.with_timezone(&Utc))
    }
}

impl Schedule {
    /// The next planned start after `after`, over all sittings.
    pub fn next_start(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.sittings.iter().filter_map(|s| s.next_after(self.timezone, after)).min()
    }

    /// The quiet hours `at` falls in, if any.
    pub fn quiet_at(&self, at: DateTime<Utc>) -> Option<&QuietHours> {
        let local = at.with_timezone(&self.timezone).time();
        self.quiet.iter().find(|q| q.contains(local))
    }

    /// When the quiet hours holding `at` end (the first minute outside all of them).
    pub fn quiet_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.quiet_at(at)?;
        let mut t = at;
        // Quiet hours are at most a day long each; two days of minutes bound the walk.
        for _ in 0..(2 * 24 * 60) {
            t += chrono::TimeDelta::minutes(1);
            if self.quiet_at(t).is_none() {
                return Some(chrono::DurationRound::duration_trunc(t, chrono::TimeDelta::minutes(1)).unwrap_or(t));
            }
        }
        None
    }

    /// `at` as the group reads it: `Fri 2026-12-11 19:00 Europe/Berlin`.
    pub fn local(&self, at: DateTime<Utc>) -> String {
        format!(
            "{} {}",
            self.timezone.from_utc_datetime(&at.naive_utc()).format("%a %Y-%m-%d %H:%M"),
            self.timezone.name()
        )
    }
}

pub(crate) fn parse(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<Schedule> {
    let timezone = t.required(
        cx,
        "timezone",
        "add `timezone = \"Europe/Berlin\"`: the zone sittings and quiet hours are written in",
        |cx, n, v| {
            let s = reader::string(cx, n, v)?;
            Tz::from_str(&s.value).ok().or_else(|| {
                cx.error(s.span, format!("`{n}` = \"{}\" is not an IANA time zone", s.value))
                    .help("write a zone name like \"Europe/Berlin\", \"America/New_York\" or \"UTC\"");
                None
            })
        },
    );
    let sittings = t.get("sitting").map(|v| {
        let name = t.key_name("sitting");
        let tables = reader::tables(cx, &name, v);
        if tables.len() > MAX_SITTINGS {
            cx.error(v.span(), format!("{} sittings: at most {MAX_SITTINGS}", tables.len()))
                .help("one cron line can name several days: \"0 19 * * FRI,SAT\"");
        }
        tables.into_iter().filter_map(|s| sitting(cx, s)).collect::<Vec<_>>()
    });
    let quiet = t.optional(cx, "quiet", |cx, n, v| reader::array(cx, n, v, quiet_hours));
    t.finish(cx);
    Some(Schedule {
        timezone: timezone?,
        sittings: sittings.unwrap_or_default(),
        quiet: quiet.unwrap_or_default(),
    })
}

fn sitting(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<Sitting> {
    let start = t.required(
        cx,
        "start",
        "add `start = \"0 19 * * FRI\"`: minute hour day-of-month month day-of-week, in the schedule's time zone",
        |cx, n, v| {
            let s = reader::string(cx, n, v)?;
            match cron_line(&s.value) {
                Ok(cron) => Some(Sitting { start: s.value, cron }),
                Err(why) => {
                    cx.error(s.span, format!("`{n}` = \"{}\" is not a cron line: {why}", s.value))
                        .help("write 5 fields, minute hour day-of-month month day-of-week, like \"0 19 * * FRI\" or \"30 14 * * SAT,SUN\"");
                    None
                }
            }
        },
    );
    t.finish(cx);
    start
}

/// A crontab line (5 fields) as the `cron` crate's schedule.
pub(crate) fn cron_line(line: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("{} fields, not 5", fields.len()));
    }
    if fields[0].contains(['*', '/', ',', '-']) {
        // Starts every minute (or every few) are not sittings; each start is a VPS.
        return Err("the minute must be one number: a sitting starts once".into());
    }
    // Crontab's numeric days of the week (0 or 7 = Sunday) as names, which
    // the `cron` crate reads as crontab does (its own numbers start at 1).
    let dow = super::workflow_schedule::day_names(fields[4])?;
    let six = format!("0 {} {} {} {} {}", fields[0], fields[1], fields[2], fields[3], dow);
    // The crate's errors quote its own 6-field form; say which ranges hold instead.
    cron::Schedule::from_str(&six).map_err(|_| {
        "a field is out of range (minute 0–59, hour 0–23, day 1–31, month 1–12 or JAN–DEC, day of week 0–7 or SUN–SAT)".to_string()
    })
}

fn quiet_hours(cx: &mut Cx<'_>, n: &str, v: &Spanned<DeValue<'_>>) -> Option<QuietHours> {
    let s = reader::string(cx, n, v)?;
    let parsed = s.value.split_once('-').and_then(|(a, b)| {
        let from = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
        let to = NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?;
        (from != to).then_some(QuietHours { from, to })
    });
    parsed.or_else(|| {
        cx.error(s.span, format!("`{n}` entry \"{}\" is not a time range", s.value))
            .help("write \"HH:MM-HH:MM\" in the schedule's time zone, like \"23:30-08:00\" (crossing midnight is fine)");
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::workflow_schedule::day_names;

    fn schedule(lines: &[&str], quiet: &[&str]) -> Schedule {
        Schedule {
            timezone: chrono_tz::Europe::Berlin,
            sittings: lines
                .iter()
                .map(|l| Sitting {
                    start: l.to_string(),
                    cron: cron_line(l).unwrap(),
                })
                .collect(),
            quiet: quiet
                .iter()
                .map(|q| {
                    let (a, b) = q.split_once('-').unwrap();
                    QuietHours {
                        from: NaiveTime::parse_from_str(a, "%H:%M").unwrap(),
                        to: NaiveTime::parse_from_str(b, "%H:%M").unwrap(),
                    }
                })
                .collect(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn friday_at_seven_in_berlin_is_six_utc_in_winter_and_five_in_summer() {
        let s = schedule(&["0 19 * * FRI"], &[]);
        // Thursday 2026-12-03: the next Friday is 2026-12-04.
        assert_eq!(s.next_start(utc("2026-12-03T12:00:00Z")), Some(utc("2026-12-04T18:00:00Z")));
        assert_eq!(s.next_start(utc("2026-06-01T12:00:00Z")), Some(utc("2026-06-05T17:00:00Z")));
        assert_eq!(s.local(utc("2026-12-04T18:00:00Z")), "Fri 2026-12-04 19:00 Europe/Berlin");
    }

    #[test]
    fn numeric_days_of_week_mean_what_crontab_means() {
        // 5 is Friday in crontab (the cron crate alone would read Thursday).
        let by_number = schedule(&["0 19 * * 5"], &[]);
        let by_name = schedule(&["0 19 * * FRI"], &[]);
        let t = utc("2026-12-01T00:00:00Z");
        assert_eq!(by_number.next_start(t), by_name.next_start(t));
        assert_eq!(day_names("0,6").unwrap(), "SUN,SAT");
        assert_eq!(day_names("1-5").unwrap(), "MON-FRI");
        assert_eq!(day_names("*/2").unwrap(), "*/2");
        assert!(day_names("8").is_err());
    }

    #[test]
    fn the_earliest_sitting_comes_next() {
        let s = schedule(&["0 19 * * FRI", "30 14 * * SAT,SUN"], &[]);
        assert_eq!(s.next_start(utc("2026-12-04T19:00:00Z")), Some(utc("2026-12-05T13:30:00Z")));
    }

    #[test]
    fn quiet_hours_cross_midnight_and_end_at_their_last_minute() {
        let s = schedule(&[], &["23:30-08:00"]);
        assert!(s.quiet_at(utc("2026-12-04T22:30:00Z")).is_some()); // 23:30 Berlin
        assert!(s.quiet_at(utc("2026-12-05T06:59:00Z")).is_some()); // 07:59
        assert!(s.quiet_at(utc("2026-12-05T07:00:00Z")).is_none()); // 08:00
        assert!(s.quiet_at(utc("2026-12-04T22:29:00Z")).is_none());
        assert_eq!(s.quiet_until(utc("2026-12-05T01:17:30Z")), Some(utc("2026-12-05T07:00:00Z")));
    }

    #[test]
    fn a_sitting_must_start_once_in_five_fields() {
        assert!(cron_line("0 19 * * FRI *").is_err());
        assert!(cron_line("*/5 19 * * FRI").is_err());
        assert!(cron_line("0 25 * * FRI").is_err());
        assert!(cron_line("0 19 * * FRY").is_err());
    }
}

#[cfg(test)]
mod dst_tests {
    use super::*;

    /// Regression guard: a sitting in the hour daylight saving time skips or
    /// repeats must not panic or loop; it yields some start near it.
    #[test]
    fn sittings_across_daylight_saving_time_changes_do_not_panic() {
        let s = Schedule {
            timezone: chrono_tz::Europe::Berlin,
            sittings: vec![Sitting::new("30 2 * * SUN").unwrap()],
            quiet: vec![],
        };
        // 2027-03-28: 02:00 → 03:00 in Berlin; 2027-10-31: 03:00 → 02:00.
        for at in ["2027-03-27T12:00:00Z", "2027-10-30T12:00:00Z"] {
            let next = s.next_start(at.parse().unwrap()).expect("a next start");
            assert!(next > at.parse::<DateTime<Utc>>().unwrap());
            assert!(next < at.parse::<DateTime<Utc>>().unwrap() + chrono::TimeDelta::days(8), "{next}");
            let _ = s.quiet_until(next);
        }
    }
}
