//! Learning the shutdown policy from the group's history: pure, from the
//! sittings the ledger records (who was online when, merged over players).
//!
//! Each leave with the gap until the group came back is a sample. For a
//! keep time X the VPS asks for termination at the first paid-hour end at
//! least X after the leave, less the billing margin, and is gone a reconcile
//! delay later; where in its paid hour the leave falls is not known ahead,
//! so it is averaged over the hour. A sample then costs the hours the VPS
//! runs after the leave (until the return, or until it is deleted) and a cold
//! start when the group returns after the request. Per context
//! ([`super::Context`]) the X minimising hours + λ × cold starts is chosen,
//! with λ the least that keeps the expected cold starts over the history at
//! [`COLD_TARGET`] of the seed rule's (which asks for termination
//! `idle + suspended` after each leave). A context with few samples is decided from a pool of
//! similar ones (drop weekday, then hour, then sitting); the widest pool
//! holds [`PRIOR_GAPS`], the prior a new group starts from. No history at
//! all: no policy, and the agent keeps the seed's rule.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{Context, DayKind, KeepRule, ShutdownPolicy};

/// A stretch of time with at least one player online.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sitting {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The prior's return gaps in minutes (`None`: not back that day), each one
/// pseudo-sample in the widest pool: evening groups often return within
/// the hour or two, and otherwise the next day.
pub const PRIOR_GAPS: [Option<u32>; 4] = [Some(30), Some(120), None, None];
/// Samples a pool needs before it decides for a context.
pub const MIN_SAMPLES: u32 = 8;
/// The expected cold starts over the history aimed at, as a share of the
/// seed rule's. The spread gaps (`SPREAD`) make the expectation a little
/// pessimistic; 1.01 was calibrated on the benchmark's synthetic traces
/// (bench/simulate.py, 30 days of history), where it meets the seed's cold
/// starts on the days that follow — a group with other habits may land a
/// few per cent either side (docs/simulate.md has the figures).
pub const COLD_TARGET: f64 = 1.01;
/// Keep times tried, in minutes.
pub const CANDIDATES: [u32; 17] = [0, 15, 30, 45, 60, 75, 90, 105, 120, 135, 150, 165, 180, 195, 210, 225, 240];
/// A gap seen once stands for gaps around it (next time the group may be
/// back a little sooner or later): each sample is spread over these factors,
/// which keeps a keep time from fitting the history's exact gaps.
const SPREAD: [f64; 5] = [0.6, 0.8, 1.0, 1.25, 1.6];
/// Where in its paid hour a leave may fall: the hour in 12 steps.
const PHASES: u32 = 12;

/// What learning assumes of the agent and the reconciler.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// The seed rule's time from leave to termination request (`idle + suspended`).
    pub seed_keep: Duration,
    pub billing_margin: Duration,
    /// From the termination request to the deletion (nudge → reconcile run).
    pub delete_delay: Duration,
}

/// Per keep candidate: expected hours run after leaves, and expected cold starts.
#[derive(Clone, Debug, Default)]
struct Stats {
    n: f64,
    hours: [f64; CANDIDATES.len()],
    cold: [f64; CANDIDATES.len()],
    seed_cold: f64,
}

impl Stats {
    fn add(&mut self, gap: Option<Duration>, s: &Settings, weight: f64) {
        self.n += weight;
        let margin = s.billing_margin.num_seconds() as f64 / 60.0;
        let delay = s.delete_delay.num_seconds() as f64 / 60.0;
        let g0 = gap.map_or(f64::INFINITY, |g| g.num_seconds() as f64 / 60.0);
        let n = f64::from(PHASES) * SPREAD.len() as f64;
        for (k, x) in CANDIDATES.iter().enumerate() {
            let (mut hours, mut cold) = (0.0, 0.0);
            for f in SPREAD {
                let g = g0 * f;
                for p in 0..PHASES {
                    // The first paid-hour end at least X after the leave is X + u.
                    let u = (f64::from(p) + 0.5) * 60.0 / f64::from(PHASES);
                    let ask = f64::from(*x) + (u - margin).max(0.0);
                    let gone = ask + delay;
                    hours += g.min(gone) / 60.0;
                    if g > ask {
                        cold += 1.0;
                    }
                }
            }
            self.hours[k] += weight * hours / n;
            self.cold[k] += weight * cold / n;
        }
        let seed = s.seed_keep.num_seconds() as f64 / 60.0;
        let later = SPREAD.iter().filter(|f| g0 * *f > seed).count();
        self.seed_cold += weight * later as f64 / SPREAD.len() as f64;
    }

    fn best(&self, lambda: f64) -> usize {
        (0..CANDIDATES.len())
            .min_by(|a, b| {
                let ca = self.hours[*a] + lambda * self.cold[*a];
                let cb = self.hours[*b] + lambda * self.cold[*b];
                ca.total_cmp(&cb)
            })
            .unwrap_or(0)
    }
}

/// The pools a context is decided from, most specific first.
fn pools(c: Context) -> [(Option<DayKind>, Option<u32>, Option<u32>); 4] {
    [
        (Some(c.days), Some(c.hour_from), Some(c.sitting)),
        (None, Some(c.hour_from), Some(c.sitting)),
        (None, None, Some(c.sitting)),
        (None, None, None),
    ]
}

/// Each leave's context and return gap (`None`: the last one, not back yet).
pub fn samples(sittings: &[Sitting]) -> Vec<(Context, Option<Duration>)> {
    let mut sorted = sittings.to_vec();
    sorted.sort();
    let mut out = Vec::with_capacity(sorted.len());
    let mut day: Option<NaiveDate> = None;
    let mut today = 0;
    for (i, s) in sorted.iter().enumerate() {
        let d = s.end.date_naive();
        today = if day == Some(d) { today + 1 } else { 1 };
        day = Some(d);
        let gap = sorted.get(i + 1).map(|n| (n.start - s.end).max(Duration::zero()));
        out.push((Context::at(s.end, today), gap));
    }
    out
}

/// The mean delay from a dispatched run's trigger to its start (the agent's
/// nudge after a termination request); `crate::simulate::defaults` has its range.
pub const DELETE_DELAY_SECS: i64 = 35;

/// The sittings the session files record: each `[[presence]]` record (one
/// still open ends when its session ended; dropped while the session is open).
pub fn sittings_of(sessions: &[crate::repo::ledger::Session]) -> Vec<Sitting> {
    sittings_in(sessions.iter())
}

fn sittings_in<'a>(sessions: impl Iterator<Item = &'a crate::repo::ledger::Session>) -> Vec<Sitting> {
    merge(sessions.flat_map(|s| {
        s.presence.iter().filter_map(move |p| {
            let end = p.leave.or(s.ended)?;
            Some(Sitting {
                start: p.join,
                end: end.max(p.join),
            })
        })
    }))
}

/// Merge overlapping or touching stretches into sittings, in order.
pub fn merge(stretches: impl Iterator<Item = Sitting>) -> Vec<Sitting> {
    let mut all: Vec<Sitting> = stretches.collect();
    all.sort();
    let mut out: Vec<Sitting> = Vec::with_capacity(all.len());
    for s in all {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// The newest sittings the reconciler learns from: about a year and a half
/// of evening play. A group's older habits say less about next week, and
/// each sitting costs the learner a few thousand evaluations, so a
/// 5,000-session ledger would otherwise add about 0.1 s to every `plan`
/// (`bench/plan_ledger.py`).
pub const MAX_HISTORY: usize = 1000;

/// The policy the reconciler hands the agent: learned from the ledger with
/// the repo's `[lifecycle]` timers; `None` without any recorded leave.
pub fn from_ledger(sessions: &[crate::repo::ledger::Session], lifecycle: &crate::repo::Lifecycle) -> Option<ShutdownPolicy> {
    let s = Settings {
        seed_keep: lifecycle.idle.to_chrono() + lifecycle.suspended.to_chrono(),
        billing_margin: crate::lifecycle::Timers::default().billing_margin.to_chrono(),
        delete_delay: Duration::seconds(DELETE_DELAY_SECS),
    };
    let all = sittings_of(sessions);
    let mut policy = learn(&all[all.len().saturating_sub(MAX_HISTORY)..], &s)?;
    // The day of the newest sitting in a closed session and how many ended
    // that day: the agent of a new session on that day goes on counting
    // from there (it counts its own sittings itself). No closed session can
    // have a later sitting, so no clock is needed here.
    let closed = sittings_in(sessions.iter().filter(|s| s.ended.is_some()));
    if let Some(last) = closed.last().map(|s| s.end.date_naive()) {
        policy.today = Some(last);
        policy.sittings_before = closed.iter().filter(|s| s.end.date_naive() == last).count() as u32;
    }
    Some(policy)
}

/// The policy learned from `sittings`; `None` without any leave to learn from.
pub fn learn(sittings: &[Sitting], s: &Settings) -> Option<ShutdownPolicy> {
    let mut l = Learner::new(*s);
    for (c, gap) in samples(sittings) {
        l.add(c, gap);
    }
    l.policy()
}

type Pool = (Option<DayKind>, Option<u32>, Option<u32>);

/// Samples added one at a time (the simulator learns again at each
/// server's creation from what happened before it), decided on demand.
#[derive(Clone, Debug)]
pub struct Learner {
    settings: Settings,
    leaves: u32,
    by_pool: HashMap<Pool, Stats>,
    own: HashMap<Context, Stats>,
}

impl Learner {
    pub fn new(settings: Settings) -> Self {
        let mut global = Stats::default();
        for gap in PRIOR_GAPS {
            global.add(gap.map(|m| Duration::minutes(i64::from(m))), &settings, 1.0);
        }
        Learner {
            settings,
            leaves: 0,
            by_pool: HashMap::from([((None, None, None), global)]),
            own: HashMap::new(),
        }
    }

    /// A leave in context `c` and the gap until the group came back (`None`: not yet).
    pub fn add(&mut self, c: Context, gap: Option<Duration>) {
        self.leaves += 1;
        for pool in pools(c) {
            self.by_pool.entry(pool).or_default().add(gap, &self.settings, 1.0);
        }
        self.own.entry(c).or_default().add(gap, &self.settings, 1.0);
    }

    /// The policy from the samples so far; `None` before the first.
    pub fn policy(&self) -> Option<ShutdownPolicy> {
        if self.leaves == 0 {
            return None;
        }
        let global = &self.by_pool[&(None, None, None)];
        // Each context's deciding pool.
        let deciding: Vec<(Context, &Stats)> = Context::all()
            .map(|c| {
                let pool = pools(c)
                    .into_iter()
                    .find_map(|p| self.by_pool.get(&p).filter(|st| st.n >= f64::from(MIN_SAMPLES)))
                    .unwrap_or(global);
                (c, pool)
            })
            .collect();
        let seed_cold: f64 = self.own.values().map(|st| st.seed_cold).sum();
        let target = seed_cold * COLD_TARGET;
        // Only contexts with leaves of their own count towards the cold starts.
        let counted: Vec<(&Stats, &Stats)> = deciding
            .iter()
            .filter_map(|(c, pool)| self.own.get(c).map(|st| (*pool, st)))
            .collect();
        let expected_cold = |lambda: f64| -> f64 { counted.iter().map(|(pool, own)| own.cold[pool.best(lambda)]).sum() };
        // The least λ (hours per cold start) that meets the seed's cold starts.
        let mut lambda = 0.0_f64;
        if expected_cold(lambda) > target {
            let (mut lo, mut hi) = (0.0_f64, 64.0_f64);
            // 64 / 2^24: far finer than any change of decision.
            for _ in 0..24 {
                let mid = (lo + hi) / 2.0;
                if expected_cold(mid) <= target { hi = mid } else { lo = mid }
            }
            lambda = hi;
        }
        let rules = deciding
            .iter()
            .map(|(c, pool)| KeepRule {
                days: c.days,
                hour_from: c.hour_from,
                sitting: c.sitting,
                keep_minutes: CANDIDATES[pool.best(lambda)],
                samples: pool.n as u32,
            })
            .collect();
        Some(ShutdownPolicy {
            leaves: self.leaves,
            expected_cold_starts: (expected_cold(lambda) * 10.0).round() / 10.0,
            seed_cold_starts: seed_cold.round() as u32,
            today: None,
            sittings_before: 0,
            rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            seed_keep: Duration::minutes(60),
            billing_margin: Duration::minutes(5),
            delete_delay: Duration::minutes(1),
        }
    }

    fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        format!("2026-11-{day:02}T{h:02}:{m:02}:00Z").parse().unwrap()
    }

    #[test]
    fn no_history_no_policy() {
        assert_eq!(learn(&[], &settings()), None);
    }

    #[test]
    fn the_days_second_sitting_is_kept_for_and_the_last_is_not() {
        // Every day for four weeks: 18:00–19:00, back at 19:40, play to 22:00.
        let mut sittings = Vec::new();
        for day in 1..=28 {
            sittings.push(Sitting {
                start: at(day, 18, 0),
                end: at(day, 19, 0),
            });
            sittings.push(Sitting {
                start: at(day, 19, 40),
                end: at(day, 22, 0),
            });
        }
        let p = learn(&sittings, &settings()).unwrap();
        let keep = |h, n| p.keep_for(Context::at(at(4, h, 0), n)).unwrap();
        // The seed keeps the VPS an hour and so never cold-starts the second sitting: nor may this.
        assert!(keep(19, 1) >= Duration::minutes(30), "back after 40 min: keep ({:?})", keep(19, 1));
        assert_eq!(keep(22, 2), Duration::zero(), "back the next day: delete at the paid hour's end");
        assert!(p.expected_cold_starts <= f64::from(p.seed_cold_starts));
        assert_eq!(p.leaves, 56);
    }

    #[test]
    fn the_reconciler_learns_from_the_ledgers_presence_and_not_without_it() {
        use crate::ids::{PlayerName, RegionKey, ServerName, SessionId};
        let lifecycle = crate::repo::Lifecycle::default();
        let mut s = crate::repo::ledger::Session::opened(
            &SessionId::new("20261101-1800-eu"),
            &ServerName::new("grove"),
            &RegionKey::new("eu"),
            at(1, 18, 0),
        );
        assert_eq!(
            from_ledger(std::slice::from_ref(&s), &lifecycle),
            None,
            "no presence: the seed's rule"
        );
        s.presence = vec![
            crate::repo::ledger::Presence {
                player: PlayerName::new("Steve"),
                join: at(1, 18, 5),
                leave: Some(at(1, 19, 0)),
            },
            crate::repo::ledger::Presence {
                player: PlayerName::new("Alex"),
                join: at(1, 18, 30),
                leave: Some(at(1, 19, 10)),
            },
            // Still online in an open session: not a leave yet.
            crate::repo::ledger::Presence {
                player: PlayerName::new("Steve"),
                join: at(1, 20, 0),
                leave: None,
            },
        ];
        assert_eq!(
            sittings_of(std::slice::from_ref(&s)),
            [Sitting {
                start: at(1, 18, 5),
                end: at(1, 19, 10)
            }]
        );
        let p = from_ledger(std::slice::from_ref(&s), &lifecycle).expect("one leave is history");
        assert_eq!(p.leaves, 1);
        assert_eq!(p.rules.len(), Context::all().count());
        assert_eq!(
            (p.today, p.sittings_before),
            (None, 0),
            "an open session's sittings are the agent's own count"
        );

        // Closed: its sitting is counted for the next session's agent that day, and only that day.
        s.ended = Some(at(1, 21, 0));
        let mut later = s.clone();
        later.id = SessionId::new("20261101-2200-eu");
        later.ended = Some(at(1, 23, 30));
        later.presence = vec![crate::repo::ledger::Presence {
            player: PlayerName::new("Alex"),
            join: at(1, 22, 0),
            leave: Some(at(1, 23, 0)),
        }];
        let p = from_ledger(&[s, later], &lifecycle).unwrap();
        let day = at(1, 0, 0).date_naive();
        // 18:05-19:10, 20:00-21:00 (left open, closed by the session's end), 22:00-23:00.
        assert_eq!((p.today, p.sittings_before), (Some(day), 3));
        assert_eq!(p.sittings_before_on(day), 3);
        assert_eq!(p.sittings_before_on(day.succ_opt().unwrap()), 0);
    }
}
