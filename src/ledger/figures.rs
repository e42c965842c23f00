//! Monthly cost summaries and the status page, computed from the ledger (pure).
//!
//! `summarize` turns sessions into one [`MonthSummary`] per calendar month
//! (UTC) and a [`Status`]; `summary_write` renders them through templates.
//! Keeping the arithmetic here, free of I/O and of `now` except for open
//! sessions, is what makes the files deterministic: the same ledger gives
//! byte-identical files, so a run that changed nothing commits nothing.
//!
//! Billing rules, as Hetzner and Cloudflare state them:
//! - Hetzner bills every started hour (`billed_hours`) and never more than
//!   the monthly price per server and month (`cost_of`). A session that spans
//!   a month boundary is split hour by hour: each billed hour belongs to the
//!   month in which it *starts*, so the months add up to exactly the
//!   session's billed hours, and the cap is applied to each month's part on
//!   its own (the invoice of each month caps each server separately).
//! - Net and gross are kept as Hetzner reports them (gross includes the VAT
//!   of the account's country); nothing is recomputed from a VAT rate.
//! - R2 storage is billed in USD, Hetzner in the account's currency (EUR):
//!   the two are shown side by side and never added.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::observe::Observed;
use crate::repo::Desired;
use crate::repo::ledger::{Ledger, Session, billed_hours, cost_of};

/// R2 Standard storage, USD per GB-month, from Cloudflare's R2 pricing page
/// (developers.cloudflare.com/r2/pricing, "Standard storage: $0.015 / GB-month").
pub(crate) const R2_USD_PER_GB_MONTH: Decimal = Decimal::from_parts(15, 0, 0, false, 3);
/// The free tier on the same page: "Storage 10 GB-month / month".
pub(crate) const R2_FREE_GB_MONTH: u64 = 10;
/// Cloudflare's page does not define the GB; we assume decimal (10^9 bytes),
/// which slightly over-estimates against a binary GiB, the safe direction.
pub(crate) const BYTES_PER_GB: u64 = 1_000_000_000;

/// `2026-11`: a calendar month in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

impl YearMonth {
    pub fn of(t: DateTime<Utc>) -> Self {
        YearMonth {
            year: t.year(),
            month: t.month(),
        }
    }
    pub fn start(self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
            .expect("the first of a month at midnight UTC exists")
    }
    pub fn next(self) -> Self {
        if self.month == 12 {
            YearMonth {
                year: self.year + 1,
                month: 1,
            }
        } else {
            YearMonth {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        let (y, m) = s.split_once('-')?;
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        (y.len() == 4 && m.len() == 2 && (1..=12).contains(&month)).then_some(YearMonth { year, month })
    }
}

impl std::fmt::Display for YearMonth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Billed hours of `[from, to)` by the month each hour starts in.
pub(crate) fn hours_by_month(from: DateTime<Utc>, to: DateTime<Utc>) -> BTreeMap<YearMonth, u32> {
    let mut out = BTreeMap::new();
    let total = billed_hours(from, to);
    let mut k = 0;
    while k < total {
        let ym = YearMonth::of(from + Duration::hours(k.into()));
        // Hours that start before the next month begins: jump there at once.
        let secs_to_next = (ym.next().start() - from).num_seconds();
        let end_k = (secs_to_next as u64).div_ceil(3600).min(total.into()) as u32;
        *out.entry(ym).or_insert(0) += end_k - k;
        k = end_k;
    }
    out
}

/// Storage measured in the bucket, by month (the bytes under the server's
/// prefixes when a run of that month listed them).
pub(crate) type StorageUsage = BTreeMap<YearMonth, u64>;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RegionMonth {
    pub region: String,
    pub hours: u32,
    pub sessions: u32,
    pub net: Decimal,
    pub gross: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StorageCost {
    pub bytes: u64,
    /// Whole GB-months billed after the free tier (Cloudflare rounds usage up).
    pub billable_gb_months: u64,
    pub usd: Decimal,
}

/// R2 storage cost of a month in which `bytes` were kept the whole month.
/// The measured bytes stand for the month's average: a month with one
/// measurement is an estimate, and the file says so.
pub(crate) fn storage_cost(bytes: u64) -> StorageCost {
    let used_gb_months = bytes.div_ceil(BYTES_PER_GB);
    let billable = used_gb_months.saturating_sub(R2_FREE_GB_MONTH);
    StorageCost {
        bytes,
        billable_gb_months: billable,
        usd: R2_USD_PER_GB_MONTH * Decimal::from(billable),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonthSummary {
    pub month: YearMonth,
    /// Hetzner's billing currency (the budget's).
    pub currency: String,
    pub regions: Vec<RegionMonth>,
    pub hours: u32,
    pub sessions: u32,
    pub net: Decimal,
    pub gross: Decimal,
    pub budget: Decimal,
    /// Budget minus gross spend; negative when over.
    pub budget_left: Decimal,
    /// A session of this month is still open: the figures grow until it ends.
    pub open: bool,
    pub storage: Option<StorageCost>,
    /// Sessions left out of the totals, and why (a price in another currency).
    pub excluded: Vec<String>,
}

/// Compute every month that has sessions or storage measurements.
pub(crate) fn months(ledger: &Ledger, desired: &Desired, storage: &StorageUsage, now: DateTime<Utc>) -> Vec<MonthSummary> {
    let currency = &desired.server.budget.currency;
    let mut by_month: BTreeMap<YearMonth, MonthSummary> = BTreeMap::new();
    let blank = |m: YearMonth| MonthSummary {
        month: m,
        currency: currency.clone(),
        regions: Vec::new(),
        hours: 0,
        sessions: 0,
        net: Decimal::ZERO,
        gross: Decimal::ZERO,
        budget: desired.server.budget.monthly,
        budget_left: desired.server.budget.monthly,
        open: false,
        storage: None,
        excluded: Vec::new(),
    };
    for s in &ledger.sessions {
        let end = s.ended.unwrap_or(now).max(s.started);
        for (m, hours, cost) in session_parts(s, end) {
            let ms = by_month.entry(m).or_insert_with(|| blank(m));
            ms.open |= s.is_open();
            if let Some(p) = &s.price
                && &p.currency != currency
            {
                ms.excluded
                    .push(format!("{}: priced in {}, the budget is in {currency}", s.id.as_str(), p.currency));
                continue;
            }
            let r = match ms.regions.iter_mut().find(|r| r.region == s.region.as_str()) {
                Some(r) => r,
                None => {
                    ms.regions.push(RegionMonth {
                        region: s.region.as_str().to_string(),
                        ..Default::default()
                    });
                    ms.regions.last_mut().expect("just pushed")
                }
            };
            r.hours += hours;
            r.sessions += 1;
            r.net += cost.0;
            r.gross += cost.1;
        }
    }
    for (&m, &bytes) in storage {
        by_month.entry(m).or_insert_with(|| blank(m)).storage = Some(storage_cost(bytes));
    }
    by_month
        .into_values()
        .map(|mut ms| {
            ms.regions.sort_by(|a, b| a.region.cmp(&b.region));
            ms.hours = ms.regions.iter().map(|r| r.hours).sum();
            ms.sessions = ms.regions.iter().map(|r| r.sessions).sum();
            ms.net = ms.regions.iter().map(|r| r.net).sum();
            ms.gross = ms.regions.iter().map(|r| r.gross).sum();
            ms.budget_left = ms.budget - ms.gross;
            ms
        })
        .collect()
}

/// One session's hours and (net, gross) cost in each month it ran. Without a
/// recorded price (a hand-written record) the recorded cost, if any, falls in
/// the month the session started.
fn session_parts(s: &Session, end: DateTime<Utc>) -> Vec<(YearMonth, u32, (Decimal, Decimal))> {
    let mut hours = hours_by_month(s.started, end);
    if hours.is_empty() {
        hours.insert(YearMonth::of(s.started), 0);
    }
    match &s.price {
        Some(p) => hours
            .into_iter()
            .map(|(m, h)| {
                let c = cost_of(p, h);
                (m, h, (c.net, c.gross))
            })
            .collect(),
        None => {
            let start = YearMonth::of(s.started);
            hours
                .into_iter()
                .map(|(m, h)| {
                    let c = s.cost.as_ref().filter(|_| m == start);
                    (m, h, c.map_or((Decimal::ZERO, Decimal::ZERO), |c| (c.net, c.gross)))
                })
                .collect()
        }
    }
}

/// What STATUS.md says: what is true right now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    pub server: String,
    pub address: String,
    pub minecraft: String,
    pub switch: String,
    pub phase: String,
    pub observed_from: String,
    pub region: String,
    pub location: Option<String>,
    pub server_type: Option<String>,
    pub ipv4: Option<String>,
    pub session: Option<String>,
    pub session_started: Option<DateTime<Utc>>,
    pub players_online: Option<Vec<String>>,
    /// The reconciler's own ping, without the latency (which would rewrite
    /// the file every run): "answers, 2/20 players, 1.20.1" or "does not answer".
    pub game: Option<String>,
    pub players_seen: Vec<String>,
    pub month: YearMonth,
    pub month_gross: Decimal,
    pub currency: String,
    pub budget: Decimal,
    pub budget_left: Decimal,
    pub last_backup: Option<DateTime<Utc>>,
    pub reconciled: DateTime<Utc>,
    /// The next planned sitting (server.toml `[schedule]`), in the group's
    /// time zone: `Fri 2026-12-11 19:00 Europe/Berlin`.
    pub next_start: Option<String>,
    /// `[schedule] quiet`, as written, with the zone: `23:30-08:00 Europe/Berlin`.
    pub quiet: Option<String>,
    pub warnings: Vec<String>,
}

pub(crate) fn status(
    ledger: &Ledger,
    desired: &Desired,
    observed: Option<&Observed>,
    months: &[MonthSummary],
    warnings: &[String],
    now: DateTime<Utc>,
) -> Status {
    let open = ledger.open_session();
    let server = observed.and_then(|o| o.server.as_ref());
    let this_month = YearMonth::of(now);
    let month_gross = months.iter().find(|m| m.month == this_month).map_or(Decimal::ZERO, |m| m.gross);
    let budget = desired.server.budget.monthly;
    // The observation was made before this run's changes; the ledger is as
    // the run left it. Where they disagree, the run started or stopped the
    // server, and the ledger is the newer truth.
    let phase = match (observed.map(|o| o.phase()), open) {
        (None, Some(_)) => "running (per ledger)".to_string(),
        (None, None) => "offline".to_string(),
        (Some(crate::lifecycle::Phase::Offline), Some(_)) => "provisioning (started by this run)".to_string(),
        (Some(p), None) if p != crate::lifecycle::Phase::Offline => "offline (stopped by this run)".to_string(),
        (Some(p), _) => p.to_string(),
    };
    let mut warnings: Vec<String> = warnings.to_vec();
    if let Some(w) = observed.and_then(|o| o.actions.as_ref()).and_then(|a| a.status_warning()) {
        warnings.push(w);
    }
    if month_gross >= budget {
        warnings.push(format!(
            "this month's spend {} {} has reached the budget {} {}",
            month_gross.round_dp(2),
            desired.server.budget.currency,
            budget.round_dp(2),
            desired.server.budget.currency
        ));
    }
    Status {
        server: desired.server.name.to_string(),
        address: desired.server.dns.host(),
        minecraft: format!("{} ({:?})", desired.server.minecraft.version, desired.server.minecraft.loader).to_lowercase(),
        switch: format!("{:?}", desired.server.state).to_lowercase(),
        phase,
        observed_from: observed
            .map_or("ledger", |o| match o.from {
                crate::observe::ObservedFrom::Ledger => "ledger",
                crate::observe::ObservedFrom::Live => "live",
            })
            .to_string(),
        region: server
            .map(|s| s.region.as_str().to_string())
            .or_else(|| open.map(|s| s.region.as_str().to_string()))
            .unwrap_or_else(|| desired.server.region.as_str().to_string()),
        location: server
            .and_then(|s| s.location.as_ref())
            .or_else(|| open.and_then(|s| s.location.as_ref()))
            .map(|l| l.as_str().to_string()),
        server_type: server
            .and_then(|s| s.server_type.as_ref())
            .or_else(|| open.and_then(|s| s.server_type.as_ref()))
            .map(|t| t.as_str().to_string()),
        ipv4: server.and_then(|s| s.ipv4.clone()).or_else(|| open.and_then(|s| s.ipv4.clone())),
        session: open.map(|s| s.id.as_str().to_string()),
        session_started: open.map(|s| s.started),
        players_online: observed
            .and_then(|o| o.agent.as_ref())
            .map(|a| a.players_online.iter().map(|p| p.as_str().to_string()).collect()),
        game: observed.and_then(|o| o.game.as_ref()).map(|g| match &g.answer {
            crate::observe::game::GameAnswer::Online { players, max, version, .. } => {
                format!("answers, {players}/{max} players, {version}")
            }
            crate::observe::game::GameAnswer::NoAnswer { .. } => "does not answer".to_string(),
        }),
        players_seen: open
            .map(|s| s.players_seen.iter().map(|p| p.as_str().to_string()).collect())
            .unwrap_or_default(),
        month: this_month,
        month_gross,
        currency: desired.server.budget.currency.clone(),
        budget,
        budget_left: budget - month_gross,
        last_backup: observed.and_then(|o| o.latest_snapshot),
        reconciled: now,
        next_start: desired
            .server
            .schedule
            .as_ref()
            .and_then(|sc| sc.next_start(now).map(|t| sc.local(t))),
        quiet: desired.server.schedule.as_ref().filter(|sc| !sc.quiet.is_empty()).map(|sc| {
            format!(
                "{} {}",
                sc.quiet.iter().map(|q| q.to_string()).collect::<Vec<_>>().join(", "),
                sc.timezone.name()
            )
        }),
        warnings,
    }
}

#[cfg(test)]
#[path = "figures_tests.rs"]
pub(crate) mod tests;
