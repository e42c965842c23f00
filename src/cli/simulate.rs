//! `mc-gitops simulate`: the arguments, the inputs (a trace file, synthetic
//! traces, or the repo's ledger) and the printing. The simulation itself is
//! `mc_gitops::simulate`, pure.

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{Duration, NaiveDate};
use clap::Args;
use rust_decimal::Decimal;

use mc_gitops::lifecycle::Timers;
use mc_gitops::repo::duration::Duration as RepoDuration;
use mc_gitops::repo::workflow_schedule::{RECONCILE_WORKFLOW, WorkflowSchedule};
use mc_gitops::shutdown::learn::Sitting;
use mc_gitops::simulate::defaults::{self as d, secs};
use mc_gitops::simulate::report::{FrontierPoint, Report, Row};
use mc_gitops::simulate::trace::Trace;
use mc_gitops::simulate::{Policy, Settings, Tally, simulate, synthetic};

use super::Done;

#[derive(Args)]
pub(crate) struct SimulateArgs {
    /// The state repo: its ledger (sessions/, join and leave times) is the
    /// input without --trace or --synthetic, and its
    /// .github/workflows/reconcile.yml gives the schedule.
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo: PathBuf,
    /// Replay this trace file (docs/simulate.md has the format).
    #[arg(long, value_name = "FILE", conflicts_with = "synthetic")]
    trace: Option<PathBuf>,
    /// Replay synthetic evening-play traces, seeds --seed … --seed + --seeds - 1.
    #[arg(long)]
    synthetic: bool,
    /// The first synthetic trace's seed (also seeds the delays).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many synthetic traces (consecutive seeds).
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Days per synthetic trace.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// The synthetic traces' first day (UTC).
    #[arg(long, value_name = "DATE", default_value = "2026-11-02")]
    first_day: NaiveDate,
    /// Days of synthetic play before --first-day that only the learned
    /// policy knows (as a ledger's history), for each synthetic trace.
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    history_days: u32,
    /// Write the synthetic trace of --seed to FILE (the trace format) and stop.
    #[arg(long, value_name = "FILE", requires = "synthetic")]
    write_trace: Option<PathBuf>,
    /// The schedule as GitHub cron entries instead of reconcile.yml's (repeat for several).
    #[arg(long, value_name = "CRON")]
    cron: Vec<String>,
    /// Press Start → joinable.
    #[arg(long, value_name = "DURATION", default_value_t = RepoDuration::from_secs(d::COLD_START_SECS as u64))]
    cold_start: RepoDuration,
    /// A join at the sleeping listener → joinable.
    #[arg(long, value_name = "DURATION", default_value_t = RepoDuration::from_secs(d::WARM_START_SECS as u64))]
    warm_start: RepoDuration,
    /// The longest delay from a dispatch (Start, a nudge) to its run (the shortest is a sixth of it).
    #[arg(long, value_name = "DURATION", default_value_t = RepoDuration::from_secs(d::DISPATCH_DELAY_SECS.1 as u64))]
    dispatch_delay: RepoDuration,
    /// The longest delay from a schedule tick to its run (the shortest is a fifteenth of it).
    #[arg(long, value_name = "DURATION", default_value_t = RepoDuration::from_secs(d::SCHEDULE_DELAY_SECS.1 as u64))]
    schedule_delay: RepoDuration,
    /// The share of the agent's nudges that start no run (0 to 1).
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    nudge_loss: f64,
    /// The server's hourly price.
    #[arg(long, value_name = "PRICE", default_value_t = d::PRICE_HOURLY)]
    price: Decimal,
    /// Also print the fixed rules X = 0 … 240 min, every STEP minutes.
    #[arg(long, value_name = "STEP", num_args = 0..=1, default_missing_value = "15")]
    frontier: Option<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl SimulateArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        simulate_cmd(self)
    }
}

fn simulate_cmd(a: SimulateArgs) -> anyhow::Result<Done> {
    if a.synthetic
        && let Some(out) = &a.write_trace
    {
        let t = synthetic::generate(a.seed, a.days, a.first_day);
        std::fs::write(out, t.to_json()).with_context(|| format!("cannot write {}", out.display()))?;
        return Ok(Done::Ok);
    }
    if !(0.0..=1.0).contains(&a.nudge_loss) {
        bail!("--nudge-loss {} is not a share between 0 and 1", a.nudge_loss);
    }
    let schedule = if a.cron.is_empty() {
        WorkflowSchedule::read(&a.repo).with_context(|| format!("add {RECONCILE_WORKFLOW} to --repo, or pass --cron"))?
    } else {
        WorkflowSchedule::from_crons(&a.cron)?
    };
    let traces: Vec<(u64, Vec<Sitting>, Vec<Sitting>)> = if a.synthetic {
        let start = a.first_day - Duration::days(i64::from(a.history_days));
        let cut = a.first_day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        (a.seed..a.seed + a.seeds)
            .map(|s| {
                let all = synthetic::generate(s, a.history_days + a.days, start).sittings();
                let (history, trace): (Vec<Sitting>, Vec<Sitting>) = all.into_iter().partition(|x| x.start < cut);
                (s, history, trace)
            })
            .collect()
    } else if let Some(path) = &a.trace {
        vec![(a.seed, Vec::new(), Trace::read(path)?.sittings())]
    } else {
        vec![(a.seed, Vec::new(), ledger_sittings(&a.repo)?)]
    };
    let dispatch = secs(a.dispatch_delay.as_secs() as i64);
    let schedule_delay = secs(a.schedule_delay.as_secs() as i64);
    let base = Settings {
        timers: Timers::default(),
        cold_start: secs(a.cold_start.as_secs() as i64),
        warm_start: secs(a.warm_start.as_secs() as i64),
        final_snapshot: secs(d::FINAL_SNAPSHOT_SECS),
        dispatch_delay: (dispatch / 6, dispatch),
        schedule_delay: (schedule_delay / 15, schedule_delay),
        nudge_loss: a.nudge_loss,
        schedule,
        job_idle: secs(d::JOB_IDLE_SECS),
        job_work: secs(d::JOB_WORK_SECS),
        price_hourly: a.price,
        seed: a.seed,
    };
    let run = |policy: Policy| -> Tally {
        let mut total = Tally::default();
        for (seed, history, sittings) in &traces {
            let s = Settings {
                seed: *seed,
                ..base.clone()
            };
            total.add(&simulate(history, sittings, policy, &s));
        }
        total
    };
    let rows = [Policy::Seed, Policy::BillingAware, Policy::Learned]
        .into_iter()
        .map(|p| Row::of(p.name(), &run(p), a.price))
        .collect();
    let frontier = match a.frontier {
        Some(step) => (0..=240)
            .step_by(step.max(1) as usize)
            .map(|x| {
                let t = run(Policy::Fixed(x));
                FrontierPoint {
                    keep_minutes: x,
                    billed_hours: t.billed_hours,
                    cold_starts: t.cold_starts,
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let days = traces
        .iter()
        .filter_map(|(_, _, s)| Some((s.last()?.end - s.first()?.start).num_seconds() as f64 / 86_400.0))
        .sum();
    let mut report = Report {
        traces: traces.len(),
        days,
        sittings: traces.iter().map(|(_, _, s)| s.len()).sum(),
        rows,
        frontier,
        learned_vs_seed: None,
        best_fixed: None,
    };
    report.compare();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(Done::Ok)
}

/// The sittings the repo's session files record (`[[presence]]`, join and
/// leave times; a record still open ends when its session ended).
fn ledger_sittings(repo: &std::path::Path) -> anyhow::Result<Vec<Sitting>> {
    let loaded = mc_gitops::repo::load(repo)?;
    let sittings = mc_gitops::shutdown::learn::sittings_of(&loaded.ledger.sessions);
    if sittings.is_empty() {
        bail!(
            "the ledger in {} records no join and leave times ([[presence]] in sessions/): pass --trace FILE or --synthetic",
            repo.display()
        );
    }
    Ok(sittings)
}
