//! What `mc-gitops simulate` prints: one row per policy (text table, or
//! `--json`), the frontier of fixed keep times when asked, and how the
//! learned policy compares with the seed's rule and with that frontier.

use rust_decimal::Decimal;
use serde::Serialize;

use super::Tally;

/// One policy's figures, as the table and `--json` show them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub policy: String,
    pub servers: u32,
    pub billed_hours: i64,
    /// `billed_hours` × the hourly price.
    pub cost: Decimal,
    pub cold_starts: u32,
    pub warm_starts: u32,
    pub instant_joins: u32,
    pub total_wait_secs: i64,
    pub p95_wait_secs: i64,
    /// Reconcile jobs: dispatched (start, nudges) and scheduled.
    pub reconcile_jobs: u64,
    pub actions_minutes: u64,
    /// `actions_minutes` scaled to a 30-day month.
    pub actions_minutes_per_month: u64,
}

impl Row {
    pub fn of(policy: String, t: &Tally, price_hourly: Decimal) -> Row {
        let mut waits = t.waits.clone();
        waits.sort_unstable();
        let p95 = if waits.is_empty() {
            0
        } else {
            waits[((waits.len() * 95).div_ceil(100)).saturating_sub(1)]
        };
        let minutes = t.dispatched_minutes + t.scheduled_minutes;
        Row {
            policy,
            servers: t.servers,
            billed_hours: t.billed_hours,
            cost: (Decimal::from(t.billed_hours) * price_hourly).round_dp(2),
            cold_starts: t.cold_starts,
            warm_starts: t.warm_starts,
            instant_joins: t.instant_joins,
            total_wait_secs: waits.iter().sum(),
            p95_wait_secs: p95,
            reconcile_jobs: u64::from(t.dispatched_jobs) + t.scheduled_jobs,
            actions_minutes: minutes,
            actions_minutes_per_month: if t.days > 0.0 {
                (minutes as f64 * 30.0 / t.days).round() as u64
            } else {
                0
            },
        }
    }
}

/// A fixed keep time's bill and cold starts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrontierPoint {
    pub keep_minutes: u32,
    pub billed_hours: i64,
    pub cold_starts: u32,
}

/// The whole answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub traces: usize,
    pub days: f64,
    pub sittings: usize,
    pub rows: Vec<Row>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frontier: Vec<FrontierPoint>,
    /// The learned policy's hours over the seed's, and whether it has no more cold starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned_vs_seed: Option<Versus>,
    /// The cheapest fixed keep time with no more cold starts than the learned policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_fixed: Option<FrontierPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Versus {
    pub hours_ratio: f64,
    pub cold_starts_ratio: f64,
}

impl Report {
    pub fn compare(&mut self) {
        let row = |name: &str| self.rows.iter().find(|r| r.policy == name);
        if let (Some(seed), Some(learned)) = (row("seed 15/45"), row("learned")) {
            self.learned_vs_seed = Some(Versus {
                hours_ratio: ratio(learned.billed_hours as f64, seed.billed_hours as f64),
                cold_starts_ratio: ratio(f64::from(learned.cold_starts), f64::from(seed.cold_starts)),
            });
            self.best_fixed = self
                .frontier
                .iter()
                .filter(|p| p.cold_starts <= learned.cold_starts)
                .min_by_key(|p| (p.billed_hours, p.keep_minutes))
                .cloned();
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{} trace(s), {:.0} days, {} sittings\n\n{:<20} {:>7} {:>9} {:>8} {:>5} {:>5} {:>7} {:>10} {:>8} {:>6} {:>8} {:>9}\n",
            self.traces,
            self.days,
            self.sittings,
            "policy",
            "servers",
            "billed h",
            "cost",
            "cold",
            "warm",
            "instant",
            "wait total",
            "wait p95",
            "jobs",
            "Actions",
            "min/month"
        );
        for r in &self.rows {
            out += &format!(
                "{:<20} {:>7} {:>9} {:>8} {:>5} {:>5} {:>7} {:>9}m {:>7}s {:>6} {:>8} {:>9}\n",
                r.policy,
                r.servers,
                r.billed_hours,
                r.cost,
                r.cold_starts,
                r.warm_starts,
                r.instant_joins,
                r.total_wait_secs / 60,
                r.p95_wait_secs,
                r.reconcile_jobs,
                r.actions_minutes,
                r.actions_minutes_per_month
            );
        }
        if !self.frontier.is_empty() {
            out += "\nfixed rules (keep until the first paid-hour end at least X min after the last leave):\n";
            out += &format!("{:>6} {:>9} {:>6}\n", "X", "billed h", "cold");
            for p in &self.frontier {
                out += &format!("{:>6} {:>9} {:>6}\n", p.keep_minutes, p.billed_hours, p.cold_starts);
            }
        }
        if let Some(v) = &self.learned_vs_seed {
            out += &format!(
                "\nlearned vs seed: {:.3}× the billed hours, {:.3}× the cold starts\n",
                v.hours_ratio, v.cold_starts_ratio
            );
        }
        if let Some(b) = &self.best_fixed {
            out += &format!(
                "best fixed rule with no more cold starts than learned: X={} ({} h, {} cold)\n",
                b.keep_minutes, b.billed_hours, b.cold_starts
            );
        } else if !self.frontier.is_empty() && self.learned_vs_seed.is_some() {
            out += "no fixed rule has as few cold starts as the learned policy\n";
        }
        out
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        if a == 0.0 { 1.0 } else { f64::INFINITY }
    } else {
        a / b
    }
}
