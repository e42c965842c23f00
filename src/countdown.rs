//! Warnings before a stop that players would feel (the admin's stop, the
//! budget, `max_session`): a `say` countdown in game, so nobody is cut off
//! mid-build. An idle stop has nobody to warn and never counts down.
//!
//! One definition for every place the countdown appears: server.toml's
//! `[lifecycle] stop_warnings` and desired.json's `stop_warnings`
//! ([`StopWarnings`], defined with the state files in
//! `repo::stop_warnings`, is both the value and its wire form),
//! the agent's countdown ([`Countdown`], pure, driven by the agent's clock),
//! and the plan's wait.
//!
//! The countdown is anchored to the stop request's time (`stop_requested`,
//! the reconciler's clock), not to the moment an agent first saw it: an
//! agent restarted mid-countdown goes on where the countdown is instead of
//! starting it again from the top. Only when the request was seen late (the
//! agent polls `desired.json` every `control_poll`) is the end pushed out,
//! to the shortest warning after that first sight, so players online always
//! hear at least one line before Minecraft stops; lines whose time passed
//! unseen fold into one line that says the time really left.
//!
//! What players read is built here from numbers and the stop's reason, an
//! enum: nothing anyone typed reaches the console ([`Line`] has no public
//! constructor).

use chrono::{DateTime, TimeDelta, Utc};

use crate::lifecycle::EndReason;
use crate::repo::duration::Duration;

pub use crate::repo::stop_warnings::{MAX_STOP_WARNING, MAX_STOP_WARNINGS, StopWarnings};

/// A line said this close after its time still uses its own words ("in 5
/// minutes"), not the time left: the agent's timer wakes within this.
const ON_TIME: TimeDelta = TimeDelta::seconds(2);

/// Whether a stop for `reason` is one players would feel and are warned
/// of: the admin's, the budget's, `max_session`'s. Not an idle stop
/// (nobody is on), a crash loop (Minecraft is down) or an orphan's.
pub fn warns(reason: EndReason) -> bool {
    matches!(reason, EndReason::Admin | EndReason::Budget | EndReason::MaxSession)
}

/// Why the server stops, in the words players read (`None`: a document
/// that names no reason).
fn cause(reason: Option<EndReason>) -> &'static str {
    match reason {
        Some(EndReason::Admin) => " (admin stop)",
        Some(EndReason::Budget) => " (monthly budget reached)",
        Some(EndReason::MaxSession) => " (max session length reached)",
        Some(EndReason::Forced) => " (forced stop)",
        Some(EndReason::Crash) => " (crash)",
        Some(EndReason::Idle) => " (idle)",
        Some(EndReason::Drift) => " (server no longer in use)",
        None => "",
    }
}

/// "5 minutes", "1 minute 30 seconds", "10 seconds".
pub fn spoken(secs: u64) -> String {
    let parts = [(secs / 3600, "hour"), (secs / 60 % 60, "minute"), (secs % 60, "second")];
    let words: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if words.is_empty() { "0 seconds".into() } else { words.join(" ") }
}

/// One line of a countdown, as players read it: printable ASCII, built
/// only here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line(String);

impl Line {
    fn new(left_secs: u64, reason: Option<EndReason>) -> Self {
        Line(format!("Server stopping in {}{}", spoken(left_secs), cause(reason)))
    }

    /// Said once before the agent suspends Minecraft on an admin's
    /// `suspend` request with players online: fixed text, nothing the
    /// admin typed.
    pub fn suspending() -> Self {
        Line(SUSPENDING.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The line players hear before an admin's suspend ([`Line::suspending`]).
pub const SUSPENDING: &str = "Server suspending now (admin request): join again to wake it";

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A countdown under way: the lines still to say and when the stop comes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Countdown {
    reason: Option<EndReason>,
    ends: DateTime<Utc>,
    /// Leads not said yet, longest first.
    pending: Vec<Duration>,
}

impl Countdown {
    /// The countdown of a stop asked at `asked`, first seen by this agent at
    /// `seen`; `None` without warnings. It ends `longest` after the request,
    /// or `shortest` after it was seen when that is later.
    pub fn begin(warnings: &StopWarnings, reason: Option<EndReason>, asked: DateTime<Utc>, seen: DateTime<Utc>) -> Option<Self> {
        if warnings.is_empty() {
            return None;
        }
        let ends = (asked + warnings.longest()).max(seen + warnings.shortest());
        Some(Countdown {
            reason,
            ends,
            pending: warnings.leads().to_vec(),
        })
    }

    /// When Minecraft is stopped.
    pub fn ends(&self) -> DateTime<Utc> {
        self.ends
    }

    pub fn reason(&self) -> Option<EndReason> {
        self.reason
    }

    /// When something is due next: a line, or the end.
    pub fn next_at(&self) -> DateTime<Utc> {
        self.pending.first().map_or(self.ends, |lead| self.ends - lead.to_chrono())
    }

    pub fn over(&self, now: DateTime<Utc>) -> bool {
        now >= self.ends
    }

    /// The line to say at `now`, if one is due. Every lead whose time has
    /// come is used up, and one line is said: in its own words when on
    /// time, else with the time really left (rounded up to the second).
    pub fn due(&mut self, now: DateTime<Utc>) -> Option<Line> {
        let left = self.ends - now;
        let n = self.pending.iter().take_while(|lead| lead.to_chrono() >= left).count();
        let last = *self.pending.get(n.checked_sub(1)?)?;
        self.pending.drain(..n);
        if left <= TimeDelta::zero() {
            return None;
        }
        let secs = if last.to_chrono() - left <= ON_TIME {
            last.as_secs()
        } else {
            u64::try_from((left + TimeDelta::milliseconds(999)).num_seconds()).unwrap_or(0)
        };
        Some(Line::new(secs, self.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn lines_say_the_reason_from_the_enum() {
        assert_eq!(
            Line::new(300, Some(EndReason::Admin)).as_str(),
            "Server stopping in 5 minutes (admin stop)"
        );
        assert_eq!(
            Line::new(61, Some(EndReason::MaxSession)).as_str(),
            "Server stopping in 1 minute 1 second (max session length reached)"
        );
        assert_eq!(Line::new(1, None).as_str(), "Server stopping in 1 second");
        for r in EndReason::ALL.into_iter().map(Some).chain([None]) {
            let l = Line::new(10, r);
            assert!(l.as_str().bytes().all(|b| (b' '..=b'~').contains(&b)), "{l}");
        }
    }

    /// Seen on time: each line at its lead, in its own words, then the end.
    #[test]
    fn an_on_time_countdown_says_each_line_at_its_time() {
        let asked = t("2026-11-22T19:30:00Z");
        let mut c = Countdown::begin(&StopWarnings::standard(), Some(EndReason::Budget), asked, asked).unwrap();
        assert_eq!(c.ends(), t("2026-11-22T19:35:00Z"));
        let mut said = Vec::new();
        let mut now = asked;
        while !c.over(now) {
            now = c.next_at();
            if let Some(l) = c.due(now) {
                said.push((now, l.to_string()));
            }
        }
        assert_eq!(
            said,
            vec![
                (
                    t("2026-11-22T19:30:00Z"),
                    "Server stopping in 5 minutes (monthly budget reached)".into()
                ),
                (
                    t("2026-11-22T19:34:00Z"),
                    "Server stopping in 1 minute (monthly budget reached)".into()
                ),
                (
                    t("2026-11-22T19:34:50Z"),
                    "Server stopping in 10 seconds (monthly budget reached)".into()
                ),
            ]
        );
        assert_eq!(now, c.ends());
    }

    /// Seen 30 s late (the control poll): the missed line says the time left.
    #[test]
    fn a_late_sight_folds_missed_lines_into_the_time_left() {
        let asked = t("2026-11-22T19:30:00Z");
        let seen = t("2026-11-22T19:30:30Z");
        let mut c = Countdown::begin(&StopWarnings::standard(), Some(EndReason::Admin), asked, seen).unwrap();
        assert_eq!(c.ends(), t("2026-11-22T19:35:00Z"), "anchored to the request");
        assert_eq!(
            c.due(seen).unwrap().as_str(),
            "Server stopping in 4 minutes 30 seconds (admin stop)"
        );
        assert_eq!(c.due(seen), None, "said once");
        assert_eq!(c.next_at(), t("2026-11-22T19:34:00Z"));
    }

    /// Regression guard for the restart rule: an agent restarted mid-countdown
    /// goes on from where the countdown is, never from the top.
    #[test]
    fn a_restarted_agent_goes_on_where_the_countdown_is() {
        let asked = t("2026-11-22T19:30:00Z");
        let restarted = t("2026-11-22T19:34:20Z");
        let mut c = Countdown::begin(&StopWarnings::standard(), Some(EndReason::Admin), asked, restarted).unwrap();
        assert_eq!(c.ends(), t("2026-11-22T19:35:00Z"));
        assert_eq!(c.due(restarted).unwrap().as_str(), "Server stopping in 40 seconds (admin stop)");
        assert_eq!(c.next_at(), t("2026-11-22T19:34:50Z"));
    }

    /// Seen after the whole countdown would have ended: pushed out by the
    /// shortest warning, so the players online still hear one line.
    #[test]
    fn a_request_seen_after_its_countdown_still_warns_once() {
        let asked = t("2026-11-22T19:30:00Z");
        let seen = t("2026-11-22T19:40:00Z");
        let mut c = Countdown::begin(&StopWarnings::standard(), None, asked, seen).unwrap();
        assert_eq!(c.ends(), t("2026-11-22T19:40:10Z"));
        assert_eq!(c.due(seen).unwrap().as_str(), "Server stopping in 10 seconds");
        assert_eq!(c.next_at(), c.ends());
        assert!(!c.over(seen) && c.over(c.ends()));
    }

    #[test]
    fn no_warnings_no_countdown() {
        let now = t("2026-11-22T19:30:00Z");
        assert_eq!(Countdown::begin(&StopWarnings::default(), None, now, now), None);
    }
}
