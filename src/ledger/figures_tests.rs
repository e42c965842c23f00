//! Bills computed by hand, one table row each, against `figures::months`.
//! Prices: cx33 in fsn1 (EUR) 0.0088 net / 0.0105 gross an hour, capped at
//! 5.49 / 6.5331 a month; "cpx32" in ash at 0.02 / 0.0238, cap 12.00 / 14.28.

use std::path::Path;

use rust_decimal_macros::dec;

use super::*;
use crate::ids::{RegionKey, ServerName, SessionId};
use crate::repo::ledger::{Cost, Price};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub(crate) fn eu() -> Price {
    Price {
        currency: "EUR".into(),
        hourly_net: dec!(0.0088),
        hourly_gross: dec!(0.0105),
        monthly_net: dec!(5.49),
        monthly_gross: dec!(6.5331),
    }
}

fn us() -> Price {
    Price {
        currency: "EUR".into(),
        hourly_net: dec!(0.02),
        hourly_gross: dec!(0.0238),
        monthly_net: dec!(12.00),
        monthly_gross: dec!(14.28),
    }
}

pub(crate) fn session(id: &str, region: &str, from: &str, to: Option<&str>, price: Option<Price>) -> Session {
    Session {
        id: SessionId::new(id),
        file: format!("sessions/x/{id}.toml"),
        server: ServerName::new("grove"),
        region: RegionKey::new(region),
        location: None,
        server_type: None,
        server_id: None,
        ipv4: None,
        started: t(from),
        ready: None,
        ended: to.map(t),
        end_reason: to.map(|_| "admin".into()),
        billed_hours: None,
        peak_players: 0,
        players_seen: vec![],
        presence: vec![],
        world_bytes: None,
        backups: 0,
        restored_from: None,
        last_suspended: None,
        price,
        cost: None,
        events: vec![],
        requests: vec![],
    }
}

pub(crate) fn desired() -> Desired {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
    crate::repo::load(&root).unwrap().desired // budget 10.00 EUR
}

/// (month, region, hours, sessions, net, gross)
type Row = (&'static str, &'static str, u32, u32, Decimal, Decimal);

#[test]
fn bills_match_the_hand_computed_ones() {
    let now = t("2026-11-22T04:30:00Z");
    let cases: Vec<(&str, Vec<Session>, Vec<Row>)> = vec![
        (
            // 18:02:11 → 21:37:52 is 3 h 35 min 41 s: 4 started hours.
            // 4 × 0.0088 = 0.0352 net, 4 × 0.0105 = 0.0420 gross.
            "a started hour is a billed hour",
            vec![session("a", "eu", "2026-11-01T18:02:11Z", Some("2026-11-01T21:37:52Z"), Some(eu()))],
            vec![("2026-11", "eu", 4, 1, dec!(0.0352), dec!(0.0420))],
        ),
        (
            // Exactly 3600 s: one hour, not two.
            "a whole hour is one hour",
            vec![session("a", "eu", "2026-11-02T10:00:00Z", Some("2026-11-02T11:00:00Z"), Some(eu()))],
            vec![("2026-11", "eu", 1, 1, dec!(0.0088), dec!(0.0105))],
        ),
        (
            // 22:30 → 01:10 is 2 h 40 min: 3 billed hours, starting 22:30 and
            // 23:30 (October) and 00:30 (November): Oct 2 h, Nov 1 h.
            "a session over midnight at the month's end is split by the hour's start",
            vec![session("a", "eu", "2026-10-31T22:30:00Z", Some("2026-11-01T01:10:00Z"), Some(eu()))],
            vec![
                ("2026-10", "eu", 2, 1, dec!(0.0176), dec!(0.0210)),
                ("2026-11", "eu", 1, 1, dec!(0.0088), dec!(0.0105)),
            ],
        ),
        (
            // 700 h in November: 700 × 0.0088 = 6.16 > 5.49 and
            // 700 × 0.0105 = 7.35 > 6.5331, so both are capped.
            "the monthly cap",
            vec![session("a", "eu", "2026-11-01T00:00:00Z", Some("2026-11-30T04:00:00Z"), Some(eu()))],
            vec![("2026-11", "eu", 700, 1, dec!(5.49), dec!(6.5331))],
        ),
        (
            // Oct 2 → Nov 30: October 30 days = 720 h (6.336 / 7.56, capped to
            // 5.49 / 6.5331), November 29 days = 696 h (6.1248 / 7.308, capped
            // again). One cap over the whole session would have said 5.49.
            "the cap applies to each month",
            vec![session("a", "eu", "2026-10-02T00:00:00Z", Some("2026-11-30T00:00:00Z"), Some(eu()))],
            vec![
                ("2026-10", "eu", 720, 1, dec!(5.49), dec!(6.5331)),
                ("2026-11", "eu", 696, 1, dec!(5.49), dec!(6.5331)),
            ],
        ),
        (
            // eu: 2 h → 0.0176 / 0.0210; us: 2 h 0 min 1 s → 3 h → 0.06 / 0.0714.
            "two regions in one month",
            vec![
                session("a", "eu", "2026-11-03T18:00:00Z", Some("2026-11-03T20:00:00Z"), Some(eu())),
                session("b", "us", "2026-11-04T01:00:00Z", Some("2026-11-04T03:00:01Z"), Some(us())),
            ],
            vec![
                ("2026-11", "eu", 2, 1, dec!(0.0176), dec!(0.0210)),
                ("2026-11", "us", 3, 1, dec!(0.06), dec!(0.0714)),
            ],
        ),
        (
            // Open since 03:00, now 04:30: 1 h 30 min → 2 h so far.
            "an open session accrues up to now",
            vec![session("a", "eu", "2026-11-22T03:00:00Z", None, Some(eu()))],
            vec![("2026-11", "eu", 2, 1, dec!(0.0176), dec!(0.0210))],
        ),
    ];
    let d = desired();
    for (name, sessions, want) in cases {
        let months = months(&Ledger::new(sessions), &d, &StorageUsage::new(), now);
        let got: Vec<Row> = months
            .iter()
            .flat_map(|m| {
                m.regions.iter().map(move |r| {
                    let month: &'static str = Box::leak(m.month.to_string().into_boxed_str());
                    let region: &'static str = Box::leak(r.region.clone().into_boxed_str());
                    (month, region, r.hours, r.sessions, r.net, r.gross)
                })
            })
            .collect();
        assert_eq!(got, want, "{name}");
        for m in &months {
            assert_eq!(m.budget_left, dec!(10.00) - m.gross, "{name}");
        }
    }
}

#[test]
fn month_totals_add_the_regions() {
    let s = vec![
        session("a", "eu", "2026-11-03T18:00:00Z", Some("2026-11-03T20:00:00Z"), Some(eu())),
        session("b", "us", "2026-11-04T01:00:00Z", Some("2026-11-04T03:00:01Z"), Some(us())),
    ];
    let m = &months(&Ledger::new(s), &desired(), &StorageUsage::new(), t("2026-12-01T00:00:00Z"))[0];
    // 2 + 3 h; 0.0176 + 0.06 = 0.0776 net; 0.0210 + 0.0714 = 0.0924 gross; 10 − 0.0924 = 9.9076.
    assert_eq!((m.hours, m.sessions, m.net, m.gross), (5, 2, dec!(0.0776), dec!(0.0924)));
    assert_eq!(m.budget_left, dec!(9.9076));
    assert!(!m.open);
}

#[test]
fn r2_storage_after_the_free_tier() {
    // (bytes, billable GB-months, USD): 10 GB is free; usage is rounded up to
    // whole GB-months (Cloudflare: "1.1 GB-month is billed as 2"); 0.015 each.
    let cases = [
        (0, 0, dec!(0)),
        (10_000_000_000, 0, dec!(0)),           // exactly the free 10
        (10_000_000_001, 1, dec!(0.015)),       // 10 GB + 1 byte → 11 → 1 billable
        (25_300_000_000, 16, dec!(0.240)),      // 25.3 → 26 → 16 × 0.015
        (1_000_000_000_000, 990, dec!(14.850)), // Cloudflare's own example: 1,000 GB → $14.85
    ];
    for (bytes, billable, usd) in cases {
        let c = storage_cost(bytes);
        assert_eq!((c.billable_gb_months, c.usd), (billable, usd), "{bytes} bytes");
    }
}

#[test]
fn storage_is_kept_apart_from_the_hetzner_totals() {
    let s = vec![session("a", "eu", "2026-11-03T18:00:00Z", Some("2026-11-03T20:00:00Z"), Some(eu()))];
    let storage = StorageUsage::from([(YearMonth { year: 2026, month: 11 }, 25_300_000_000)]);
    let m = &months(&Ledger::new(s), &desired(), &storage, t("2026-12-01T00:00:00Z"))[0];
    assert_eq!(m.gross, dec!(0.0210));
    assert_eq!(m.storage.as_ref().unwrap().usd, dec!(0.240));
}

#[test]
fn a_price_in_another_currency_is_never_added() {
    let mut p = eu();
    p.currency = "USD".into();
    let s = vec![
        session("a", "eu", "2026-11-03T18:00:00Z", Some("2026-11-03T20:00:00Z"), Some(eu())),
        session("b", "eu", "2026-11-05T18:00:00Z", Some("2026-11-05T20:00:00Z"), Some(p)),
    ];
    let m = &months(&Ledger::new(s), &desired(), &StorageUsage::new(), t("2026-12-01T00:00:00Z"))[0];
    assert_eq!((m.hours, m.gross), (2, dec!(0.0210)));
    assert_eq!(m.excluded, vec!["b: priced in USD, the budget is in EUR".to_string()]);
}

#[test]
fn a_hand_written_record_without_a_price_keeps_its_cost() {
    let mut s = session("a", "eu", "2026-10-31T23:00:00Z", Some("2026-11-01T01:00:00Z"), None);
    s.cost = Some(Cost {
        net: dec!(0.50),
        gross: dec!(0.60),
    });
    let months = months(&Ledger::new(vec![s]), &desired(), &StorageUsage::new(), t("2026-12-01T00:00:00Z"));
    // 2 h: 23:00 (Oct) and 00:00 (Nov); the recorded cost falls in October, where it started.
    assert_eq!((months[0].hours, months[0].gross), (1, dec!(0.60)));
    assert_eq!((months[1].hours, months[1].gross), (1, dec!(0)));
}

#[test]
fn hours_by_month_adds_up_to_the_billed_hours() {
    let from = t("2026-10-31T22:59:59Z");
    for secs in [0i64, 1, 3599, 3600, 3601, 7200, 100_000, 3_000_000] {
        let to = from + Duration::seconds(secs);
        let split = hours_by_month(from, to);
        assert_eq!(split.values().sum::<u32>(), billed_hours(from, to), "{secs} s");
    }
    let year_end = hours_by_month(t("2026-12-31T23:30:00Z"), t("2027-01-01T00:30:00Z"));
    assert_eq!(
        year_end.into_iter().collect::<Vec<_>>(),
        vec![(YearMonth { year: 2026, month: 12 }, 1)]
    );
}
