//! The status page's spend chart: one bar per month of gross Hetzner spend
//! against the monthly budget, laid out here as plain numbers so the
//! template only prints SVG elements (no JavaScript, no chart library, the
//! same ledger giving the same bytes).
//!
//! The chart shows the last [`MONTHS_SHOWN`] calendar months up to the
//! current one, months without sessions as empty bars, so a gap reads as
//! "nothing spent" instead of vanishing. Coordinates are in the SVG's
//! `viewBox` units; the page scales it to the screen's width.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::figures::{MonthSummary, YearMonth};

/// How many months the chart shows.
pub(crate) const MONTHS_SHOWN: usize = 12;

/// The `viewBox`: wide enough for twelve "2026-11" labels at the page's font size.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
/// Room for the axis labels (money on the left, months below, the budget's
/// label above its line) at the phone's larger letters.
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const BOTTOM: f64 = 32.0;
const TOP: f64 = 28.0;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    /// The plot's left and right edges, baseline (the x axis) and top.
    pub left: f64,
    pub right: f64,
    pub baseline: f64,
    pub top: f64,
    pub bars: Vec<Bar>,
    /// The budget line's height, and its label.
    pub budget_y: f64,
    pub budget_label: String,
    /// Gridlines with their money labels, bottom up.
    pub ticks: Vec<Tick>,
    /// What the chart says in words, for screen readers (`<desc>`).
    pub desc: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bar {
    pub month: String,
    /// Under the bar: "Nov 26".
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The label's centre.
    pub label_x: f64,
    /// "0.42 EUR", as the bar's tooltip and in `desc`.
    pub value: String,
    pub over_budget: bool,
    pub current: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tick {
    pub y: f64,
    pub label: String,
}

/// The chart of the months up to `current`, from the ledger's month summaries.
pub(crate) fn chart(months: &[MonthSummary], current: YearMonth, budget: Decimal, currency: &str) -> Chart {
    let shown = last_months(current, MONTHS_SHOWN);
    let gross: Vec<Decimal> = shown
        .iter()
        .map(|m| months.iter().find(|s| s.month == *m).map_or(Decimal::ZERO, |s| s.gross))
        .collect();
    let top_value = gross.iter().copied().fold(budget, Decimal::max);
    let scale_max = nice_ceiling(top_value.to_f64().unwrap_or(0.0));
    let plot_h = HEIGHT - BOTTOM - TOP;
    let baseline = HEIGHT - BOTTOM;
    let y_of = |v: f64| round1(baseline - plot_h * (v / scale_max));
    let slot = (WIDTH - LEFT - RIGHT) / shown.len() as f64;
    let bars = shown
        .iter()
        .zip(&gross)
        .enumerate()
        .map(|(i, (m, g))| {
            let v = g.to_f64().unwrap_or(0.0);
            let y = y_of(v);
            Bar {
                month: m.to_string(),
                label: short(*m),
                x: round1(LEFT + slot * i as f64 + slot * 0.15),
                y,
                width: round1(slot * 0.7),
                height: round1(baseline - y),
                label_x: round1(LEFT + slot * (i as f64 + 0.5)),
                value: format!("{:.2} {currency}", g.round_dp(2)),
                over_budget: *g > budget,
                current: *m == current,
            }
        })
        .collect::<Vec<_>>();
    let ticks = (0..=4)
        .map(|k| {
            let v = scale_max * f64::from(k) / 4.0;
            Tick {
                y: y_of(v),
                label: format!("{v:.2}"),
            }
        })
        .collect();
    let spent: Vec<String> = bars.iter().map(|b| format!("{} {}", b.month, b.value)).collect();
    Chart {
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right: WIDTH - RIGHT,
        baseline,
        top: TOP,
        budget_y: y_of(budget.to_f64().unwrap_or(0.0)),
        budget_label: format!("budget {:.2} {currency}", budget.round_dp(2)),
        desc: format!(
            "Gross Hetzner spend by month, {} to {}, against a monthly budget of {:.2} {currency}: {}.",
            shown[0],
            current,
            budget.round_dp(2),
            spent.join("; ")
        ),
        bars,
        ticks,
    }
}

/// "Nov 26": short enough for twelve labels on a phone.
fn short(m: YearMonth) -> String {
    const NAMES: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{} {:02}", NAMES[(m.month as usize + 11) % 12], m.year.rem_euclid(100))
}

/// `n` months ending with `current`, oldest first.
fn last_months(current: YearMonth, n: usize) -> Vec<YearMonth> {
    let mut m = current;
    for _ in 1..n {
        m = if m.month == 1 {
            YearMonth {
                year: m.year - 1,
                month: 12,
            }
        } else {
            YearMonth {
                year: m.year,
                month: m.month - 1,
            }
        };
    }
    let mut out = vec![m];
    while out.len() < n {
        out.push(out[out.len() - 1].next());
    }
    out
}

/// The smallest of 1, 2, 2.5, 5 × 10^k at or above `v` (1 for nothing), so
/// the four gridlines fall on round amounts.
fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|f| f * mag)
        .find(|c| *c >= v - 1e-9)
        .unwrap_or(10.0 * mag)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn month(y: i32, m: u32, gross: Decimal) -> MonthSummary {
        MonthSummary {
            month: YearMonth { year: y, month: m },
            currency: "EUR".into(),
            regions: vec![],
            hours: 0,
            sessions: 0,
            net: gross,
            gross,
            budget: dec!(10),
            budget_left: dec!(10) - gross,
            open: false,
            storage: None,
            excluded: vec![],
        }
    }

    #[test]
    fn twelve_months_up_to_the_current_one_across_a_year() {
        let now = YearMonth { year: 2027, month: 2 };
        let c = chart(&[month(2026, 11, dec!(4.2)), month(2027, 2, dec!(12))], now, dec!(10), "EUR");
        let names: Vec<&str> = c.bars.iter().map(|b| b.month.as_str()).collect();
        assert_eq!(names.first(), Some(&"2026-03"));
        assert_eq!(names.last(), Some(&"2027-02"));
        assert_eq!(names.len(), 12);
        let nov = &c.bars[8];
        assert_eq!(
            (nov.month.as_str(), nov.value.as_str(), nov.over_budget),
            ("2026-11", "4.20 EUR", false)
        );
        assert_eq!((nov.label.as_str(), feb_label(&c)), ("Nov 26", "Feb 27"));
        let feb = &c.bars[11];
        assert!(feb.over_budget && feb.current);
        // The tallest bar (12 of a scale of 20) and an empty month.
        assert!(feb.height > nov.height && nov.height > 0.0);
        assert_eq!(c.bars[0].height, 0.0);
        assert!(c.budget_y < c.baseline && c.budget_y > c.top);
        assert!(c.desc.contains("2026-11 4.20 EUR"), "{}", c.desc);
    }

    fn feb_label(c: &Chart) -> &str {
        &c.bars[11].label
    }

    #[test]
    fn gridlines_fall_on_round_amounts() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(12.0), 20.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        let c = chart(&[], YearMonth { year: 2026, month: 11 }, dec!(10), "EUR");
        let labels: Vec<&str> = c.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0.00", "2.50", "5.00", "7.50", "10.00"]);
        assert_eq!(c.budget_y, c.top, "the budget is the top of a chart with no spend");
    }
}
