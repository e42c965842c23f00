//! `mc-gitops simulate`: play traces replayed through the lifecycle that
//! runs on the VPS, per shutdown policy, for what each would bill and how
//! long friends would wait to play.
//!
//! Nothing of the lifecycle is re-implemented: phases change only through
//! [`crate::lifecycle::transition`], and its effects are carried out as the
//! agent carries them out (`src/agent/run/effects.rs`): the idle countdown
//! and the termination request come from [`crate::shutdown::after_leave`] and
//! [`crate::shutdown::terminate_at`] (the agent's own calls), the bill from
//! `crate::shutdown::billing::billed_hours`. What the simulator adds is the
//! outside world: a sitting's first join (the Start button while offline),
//! the reconciler's runs (a deletion happens when a reconcile runs: the
//! agent's nudge after a dispatch delay, or, when the nudge is lost, the
//! next tick of reconcile.yml's `schedule:` after a scheduling delay) and
//! the durations of a cold and a warm start ([`defaults`]).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::lifecycle::Timers;
use crate::lifecycle::{Effect, Event, Outcome as Moved, Phase, transition};
use crate::repo::workflow_schedule::WorkflowSchedule;
use crate::shutdown::billing::billed_hours;
use crate::shutdown::learn::{Learner, Settings as LearnSettings, Sitting};
use crate::shutdown::{self, AfterLeave, Context, ShutdownPolicy};

pub mod defaults;
pub mod report;
pub mod synthetic;
pub mod trace;

use synthetic::SplitMix;

/// A shutdown policy to compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The seed's rule: 15 min idle, 45 min suspended, then delete.
    Seed,
    /// The agent's timers as shipped: the seed's, warm until the paid hour ends.
    BillingAware,
    /// Keep the VPS until the first paid-hour end at least X minutes after the last leave.
    Fixed(u32),
    /// Learned from the sittings before each server's creation, as the reconciler learns it.
    Learned,
}

impl Policy {
    pub fn name(self) -> String {
        match self {
            Policy::Seed => "seed 15/45".into(),
            Policy::BillingAware => "billing-hour aware".into(),
            Policy::Fixed(x) => format!("fixed X={x}"),
            Policy::Learned => "learned".into(),
        }
    }

    fn timers(self, base: &Timers) -> Timers {
        Timers {
            warm_until_paid: self != Policy::Seed,
            ..base.clone()
        }
    }
}

/// The outside world's figures.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The agent's timers (the seed's by default).
    pub timers: Timers,
    /// From the Start press to joinable.
    pub cold_start: Duration,
    /// From a join at the sleeping listener to joinable.
    pub warm_start: Duration,
    /// From the termination timer to the verified final snapshot.
    pub final_snapshot: Duration,
    /// A dispatched run (a push, the Start button, the agent's nudge) starts this long after, uniform.
    pub dispatch_delay: (Duration, Duration),
    /// A scheduled run starts this long after its cron tick, uniform.
    pub schedule_delay: (Duration, Duration),
    /// The share of the agent's nudges that never start a run.
    pub nudge_loss: f64,
    pub schedule: WorkflowSchedule,
    /// A reconcile job with nothing to do, and one that creates or deletes (billed rounded up to a minute).
    pub job_idle: Duration,
    pub job_work: Duration,
    pub price_hourly: Decimal,
    /// For the delays and the lost nudges.
    pub seed: u64,
}

/// What one policy did over one or more traces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub servers: u32,
    pub billed_hours: i64,
    pub cold_starts: u32,
    pub warm_starts: u32,
    pub instant_joins: u32,
    /// Each sitting's wait to play, in seconds.
    pub waits: Vec<i64>,
    pub dispatched_jobs: u32,
    pub dispatched_minutes: u64,
    pub scheduled_jobs: u64,
    pub scheduled_minutes: u64,
    /// Days the traces cover (for minutes a month).
    pub days: f64,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.servers += o.servers;
        self.billed_hours += o.billed_hours;
        self.cold_starts += o.cold_starts;
        self.warm_starts += o.warm_starts;
        self.instant_joins += o.instant_joins;
        self.waits.extend(&o.waits);
        self.dispatched_jobs += o.dispatched_jobs;
        self.dispatched_minutes += o.dispatched_minutes;
        self.scheduled_jobs += o.scheduled_jobs;
        self.scheduled_minutes += o.scheduled_minutes;
        self.days += o.days;
    }
}

/// Minutes GitHub bills for a job: every started minute.
pub fn job_minutes(d: Duration) -> u64 {
    (d.num_seconds().max(1) as u64).div_ceil(60)
}

fn uniform(rng: &mut SplitMix, (lo, hi): (Duration, Duration)) -> Duration {
    lo + Duration::milliseconds(((hi - lo).num_milliseconds() as f64 * rng.unit()) as i64)
}

/// The VPS of one session, as the agent on it sees it.
struct Server {
    created: DateTime<Utc>,
    phase: Phase,
    idle_at: Option<DateTime<Utc>>,
    keep: Option<(DateTime<Utc>, Duration)>,
    terminate_at: Option<DateTime<Utc>>,
    /// When the reconciler deletes it (after the termination request).
    deleted_at: Option<DateTime<Utc>>,
    policy: Option<ShutdownPolicy>,
    /// Sittings that ended on this UTC day in this session (the agent's count).
    sittings: (Option<NaiveDate>, u32),
}

struct Run<'a> {
    s: &'a Settings,
    timers: Timers,
    rng: SplitMix,
    tally: Tally,
}

impl Run<'_> {
    /// A reconcile run dispatched at `at` (push, Start button, nudge); when it starts.
    fn dispatch(&mut self, at: DateTime<Utc>, work: bool, nudge: bool) -> DateTime<Utc> {
        let lost = nudge && self.rng.unit() < self.s.nudge_loss;
        let delay = uniform(&mut self.rng, self.s.dispatch_delay);
        if lost {
            // The safety net: the next scheduled run (counted with the schedule's).
            let tick = self.s.schedule.next_tick(at);
            let late = uniform(&mut self.rng, self.s.schedule_delay);
            return tick.map_or(DateTime::<Utc>::MAX_UTC, |t| t + late);
        }
        self.tally.dispatched_jobs += 1;
        self.tally.dispatched_minutes += job_minutes(if work { self.s.job_work } else { self.s.job_idle });
        at + delay
    }

    /// Fire `event` on `srv` at `now` through the transition function, carrying out each effect.
    fn fire(&mut self, srv: &mut Server, first: Event, now: DateTime<Utc>, sittings_today: u32) {
        let mut queue = vec![(first, now)];
        while let Some((event, at)) = queue.pop() {
            let Moved::Moved { to, effects } = transition(srv.phase, event) else {
                continue;
            };
            srv.phase = to;
            if event == Event::AllLeft {
                srv.sittings = match srv.sittings {
                    (Some(d), n) if d == at.date_naive() => (Some(d), n + 1),
                    _ => (Some(at.date_naive()), 1),
                };
            }
            for effect in effects {
                match effect {
                    Effect::StartIdleTimer => {
                        let AfterLeave { idle, keep } = shutdown::after_leave(&self.timers, srv.policy.as_ref(), at, sittings_today);
                        srv.idle_at = Some(at + idle);
                        srv.keep = keep;
                    }
                    Effect::CancelIdleTimer => srv.idle_at = None,
                    Effect::SaveSnapshotAndStop => srv.idle_at = None,
                    Effect::StartSuspendTimer => {
                        let keep = srv.keep.take();
                        srv.terminate_at = Some(shutdown::terminate_at(&self.timers, keep, srv.created, at));
                    }
                    Effect::StartMinecraft => srv.terminate_at = None,
                    Effect::FinalSnapshot => queue.push((Event::SnapshotVerified, at + self.s.final_snapshot)),
                    Effect::RequestTermination => srv.deleted_at = Some(self.dispatch(at, true, true)),
                    Effect::CreateServer | Effect::DeleteServer | Effect::CloseSession | Effect::RestartMinecraft => {}
                }
            }
            if to == Phase::Suspended {
                // The agent nudges on every suspension; the run has nothing to do.
                self.dispatch(at, false, true);
            }
        }
    }

    /// Let `srv`'s timers run until `until`; true when it was deleted by then.
    fn advance(&mut self, srv: &mut Server, until: DateTime<Utc>, sittings_today: u32) -> bool {
        if let Some(at) = srv.idle_at.filter(|t| *t <= until && srv.phase == Phase::Idle) {
            self.fire(srv, Event::IdleElapsed, at, sittings_today);
        }
        if let Some(at) = srv.terminate_at.filter(|t| *t <= until && srv.phase == Phase::Suspended) {
            self.fire(srv, Event::SuspendElapsed, at, sittings_today);
        }
        srv.deleted_at.is_some_and(|d| d <= until)
    }

    fn close(&mut self, srv: &Server, deleted: DateTime<Utc>) {
        self.tally.billed_hours += billed_hours(srv.created, deleted);
    }
}

/// Replay `sittings` under `policy`; the learned policy also knows
/// `history` (earlier sittings, the ledger before the trace) from the start.
pub fn simulate(history: &[Sitting], sittings: &[Sitting], policy: Policy, s: &Settings) -> Tally {
    let timers = policy.timers(&s.timers);
    let mut run = Run {
        s,
        timers: timers.clone(),
        rng: SplitMix::new(s.seed),
        tally: Tally::default(),
    };
    let learn_settings = LearnSettings {
        seed_keep: s.timers.idle.to_chrono() + s.timers.suspended.to_chrono(),
        billing_margin: s.timers.billing_margin.to_chrono(),
        delete_delay: (s.dispatch_delay.0 + s.dispatch_delay.1) / 2,
    };
    let mut learner = Learner::new(learn_settings);
    let mut known = crate::shutdown::learn::samples(history);
    if let (Some(last), Some(first)) = (history.last(), sittings.first()) {
        // The history's last leave came back at the trace's first join.
        if let Some(l) = known.last_mut() {
            l.1 = Some((first.start - last.end).max(Duration::zero()));
        }
    }
    for (c, gap) in known {
        learner.add(c, gap);
    }
    let mut server: Option<Server> = None;
    let mut prev: Option<(Context, DateTime<Utc>)> = None;
    let mut day_count: (Option<NaiveDate>, u32) = (None, 0);
    for sitting in sittings {
        let a = sitting.start;
        if let Some((c, end)) = prev.take().filter(|_| policy == Policy::Learned) {
            learner.add(c, Some((a - end).max(Duration::zero())));
        }
        let today = |dc: (Option<NaiveDate>, u32), at: DateTime<Utc>| if dc.0 == Some(at.date_naive()) { dc.1 } else { 0 };
        if let Some(mut srv) = server.take() {
            let sittings_today = today(day_count, a) + 1;
            if run.advance(&mut srv, a, sittings_today) {
                run.close(&srv, srv.deleted_at.expect("deleted"));
            } else if srv.phase == Phase::Terminating {
                // Back while it shuts down: the Start press's run deletes it and starts anew.
                let d = run.dispatch(a, true, false);
                let deleted = srv.deleted_at.map_or(d, |x| x.min(d));
                run.close(&srv, deleted);
            } else {
                server = Some(srv);
            }
        }
        let before = today(day_count, a);
        let wait = match server.as_mut() {
            None => {
                let created = run.dispatch(a, true, false);
                let policy = match policy {
                    Policy::Seed | Policy::BillingAware => None,
                    Policy::Fixed(x) => Some(ShutdownPolicy::fixed(Duration::minutes(i64::from(x)))),
                    Policy::Learned => learner.policy().map(|mut p| {
                        p.today = Some(a.date_naive());
                        p.sittings_before = before;
                        p
                    }),
                };
                let mut srv = Server {
                    created,
                    phase: Phase::Offline,
                    idle_at: None,
                    keep: None,
                    terminate_at: None,
                    deleted_at: None,
                    policy,
                    sittings: (None, 0),
                };
                let ready = (a + s.cold_start).max(created);
                run.fire(&mut srv, Event::StartRequested, created, before + 1);
                run.fire(&mut srv, Event::Ready, ready, before + 1);
                run.dispatch(ready, false, true);
                run.fire(&mut srv, Event::PlayerJoined, ready, before + 1);
                run.tally.servers += 1;
                run.tally.cold_starts += 1;
                server = Some(srv);
                ready - a
            }
            Some(srv) if srv.phase == Phase::Suspended => {
                run.fire(srv, Event::PlayerJoined, a, before + 1);
                run.tally.warm_starts += 1;
                s.warm_start
            }
            Some(srv) => {
                run.fire(srv, Event::PlayerJoined, a, before + 1);
                run.tally.instant_joins += 1;
                Duration::zero()
            }
        };
        run.tally.waits.push(wait.num_seconds());
        let leave = sitting.end.max(a + wait);
        day_count = match day_count {
            (Some(d), n) if d == leave.date_naive() => (Some(d), n + 1),
            _ => (Some(leave.date_naive()), 1),
        };
        if let Some(srv) = server.as_mut() {
            let before_session = srv.policy.as_ref().map_or(0, |p| p.sittings_before_on(leave.date_naive()));
            let mine = if srv.sittings.0 == Some(leave.date_naive()) {
                srv.sittings.1
            } else {
                0
            };
            run.fire(srv, Event::AllLeft, leave, before_session + mine + 1);
        }
        prev = Some((Context::at(leave, day_count.1), leave));
    }
    if let Some(mut srv) = server.take() {
        run.advance(&mut srv, DateTime::<Utc>::MAX_UTC, 1);
        let deleted = srv.deleted_at.unwrap_or(DateTime::<Utc>::MAX_UTC);
        run.close(&srv, deleted);
    }
    // The schedule's own runs over the whole days the trace covers.
    if let (Some(first), Some(last)) = (sittings.first(), sittings.last()) {
        let from = first.start.date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let to = (last.end.date_naive() + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc();
        run.tally.scheduled_jobs = s.schedule.ticks_between(from, to);
        run.tally.scheduled_minutes = run.tally.scheduled_jobs * job_minutes(s.job_idle);
        run.tally.days = (to - from).num_seconds() as f64 / 86_400.0;
    }
    run.tally
}

#[cfg(test)]
mod tests_hand;
