//! The ledger's records: what the bot has written back under `sessions/`,
//! read (`parse`) and written ([`write`](mod@write), through `templates`) here. It is
//! the bot's memory of what it started, and, without cloud credentials, the
//! only observation `plan` has (an open session means a server believed
//! running). The summaries and the status page built from it sit at the top,
//! in [`crate::repo::ledger`].
//!
//! Money is `Decimal` throughout: bills are sums of many small hourly prices
//! and must add up to the cent the way Hetzner's invoice does.

use chrono::{DateTime, Datelike, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{HetznerServerId, Location, PlayerName, RegionKey, ServerName, ServerType, SessionId};

pub(crate) mod parse;
pub(crate) mod templates;
pub mod write;

pub const END_REASONS: &[&str] = &["idle", "admin", "budget", "max-session", "crash", "drift", "forced"];

/// Prices of the server type at the location, as Hetzner's `/pricing` gave them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Price {
    pub currency: String,
    pub hourly_net: Decimal,
    pub hourly_gross: Decimal,
    pub monthly_net: Decimal,
    pub monthly_gross: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cost {
    pub net: Decimal,
    pub gross: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub what: String,
}

/// The most of a request's reply a session file keeps, in characters.
pub const MAX_RECORDED_REPLY: usize = 200;

/// An admin's request and its answer (`control/<s>/requests/`), as the
/// session file records it: `[[requests]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub id: String,
    /// Who asked (a GitHub login, or a local user).
    pub by: String,
    /// ``console `<command>` ``, `backup` or `suspend`.
    pub what: String,
    /// When the agent answered.
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// The start of the reply (at most [`MAX_RECORDED_REPLY`] characters).
    pub reply: String,
}

/// One player online from `join` until `leave` (`None`: still on), as the
/// agent saw it in RCON `list`. One type for both places it is written:
/// `presence` in status.json and `[[presence]]` in the session file
/// (`templates/session.toml.j2`, read back by `crate::repo::ledger::parse`).
/// `mc-gitops simulate` and the learned shutdown policy read who was online when from it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    pub player: PlayerName,
    pub join: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leave: Option<DateTime<Utc>>,
}

/// The most presence records a session keeps (status.json and the session
/// file): the newest are kept. About 90 bytes each in the session file,
/// 36 KB at most, well under `MAX_SESSION_FILE_BYTES`.
pub const MAX_PRESENCE: usize = 400;

/// Merge `new` records into `into` (the same player and join is the same
/// record; a leave, once known, is kept), bounded to the newest [`MAX_PRESENCE`].
/// Whether anything changed.
pub fn merge_presence(into: &mut Vec<Presence>, new: &[Presence]) -> bool {
    let before = into.clone();
    for p in new {
        match into.iter_mut().find(|q| q.player == p.player && q.join == p.join) {
            Some(q) => q.leave = p.leave.or(q.leave),
            None => into.push(p.clone()),
        }
    }
    into.sort_by(|a, b| (a.join, &a.player).cmp(&(b.join, &b.player)));
    if into.len() > MAX_PRESENCE {
        into.drain(..into.len() - MAX_PRESENCE);
    }
    *into != before
}

/// One `sessions/YYYY/MM/<id>.toml`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Session {
    pub id: SessionId,
    /// Path in the repo, for messages.
    pub file: String,
    pub server: ServerName,
    pub region: RegionKey,
    pub location: Option<Location>,
    pub server_type: Option<ServerType>,
    pub server_id: Option<HetznerServerId>,
    pub ipv4: Option<String>,
    pub started: DateTime<Utc>,
    pub ready: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    pub billed_hours: Option<u32>,
    pub peak_players: u32,
    pub players_seen: Vec<PlayerName>,
    /// `[[presence]]`: who was online when, as the agent reported it.
    pub presence: Vec<Presence>,
    pub world_bytes: Option<u64>,
    pub backups: u32,
    /// The backup server.toml's `restore` named, when this session started
    /// from it: a restore is used once, and later starts take the newest snapshot.
    pub restored_from: Option<String>,
    /// The agent's newest suspension the bot has seen (when Minecraft
    /// stopped after saving): each suspension is recorded, and notified, once.
    pub last_suspended: Option<DateTime<Utc>>,
    pub price: Option<Price>,
    pub cost: Option<Cost>,
    pub events: Vec<Event>,
    /// Admin requests answered during the session, in the order recorded.
    pub requests: Vec<RequestRecord>,
}

/// What the agent reports of a session, as the session file records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub players_seen: Vec<PlayerName>,
    /// Who was online when ([`Presence`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub presence: Vec<Presence>,
    pub peak_players: u32,
    /// Verified backups this session; 0 means none reported.
    pub backups: u32,
    pub world_bytes: Option<u64>,
}

/// Every started hour is billed: 0 s → 0 h, 1 s → 1 h, 3600 s → 1 h.
pub fn billed_hours(from: DateTime<Utc>, to: DateTime<Utc>) -> u32 {
    let secs = (to - from).num_seconds().max(0) as u64;
    secs.div_ceil(3600) as u32
}

/// What `hours` of a server cost: hourly × hours, but never more than the
/// monthly cap Hetzner applies to one server.
pub fn cost_of(price: &Price, hours: u32) -> Cost {
    let h = Decimal::from(hours);
    Cost {
        net: (price.hourly_net * h).min(price.monthly_net),
        gross: (price.hourly_gross * h).min(price.monthly_gross),
    }
}

impl Session {
    /// A session just opened: nothing known yet but where and when.
    pub fn opened(id: &SessionId, server: &ServerName, region: &RegionKey, started: DateTime<Utc>) -> Self {
        Session {
            id: id.clone(),
            file: id.file(),
            server: server.clone(),
            region: region.clone(),
            location: None,
            server_type: None,
            server_id: None,
            ipv4: None,
            started,
            ready: None,
            ended: None,
            end_reason: None,
            billed_hours: None,
            peak_players: 0,
            players_seen: Vec::new(),
            presence: Vec::new(),
            world_bytes: None,
            backups: 0,
            restored_from: None,
            last_suspended: None,
            price: None,
            cost: None,
            events: Vec::new(),
            requests: Vec::new(),
        }
    }

    /// Take in a report: players seen are a union, the peak is the most
    /// ever seen (never lowered), backups and world size are the latest
    /// report's (a report without them keeps what is recorded). Returns
    /// whether anything changed.
    pub fn take_activity(&mut self, a: &Activity) -> bool {
        let before = self.activity();
        for p in &a.players_seen {
            if !self.players_seen.contains(p) {
                self.players_seen.push(p.clone());
            }
        }
        self.peak_players = self.peak_players.max(a.peak_players);
        if a.backups > 0 {
            self.backups = a.backups;
        }
        if a.world_bytes.is_some() {
            self.world_bytes = a.world_bytes;
        }
        merge_presence(&mut self.presence, &a.presence);
        self.activity() != before
    }

    /// What the file records of the agent's reports.
    pub fn activity(&self) -> Activity {
        Activity {
            players_seen: self.players_seen.clone(),
            presence: self.presence.clone(),
            peak_players: self.peak_players,
            backups: self.backups,
            world_bytes: self.world_bytes,
        }
    }

    pub fn is_open(&self) -> bool {
        self.ended.is_none()
    }

    /// Gross cost: as recorded for a closed session, as accrued so far for an
    /// open one (billing has already charged the hour that is running).
    pub fn cost_gross(&self, now: DateTime<Utc>) -> Decimal {
        if let Some(c) = &self.cost {
            return c.gross;
        }
        match &self.price {
            Some(p) => cost_of(p, billed_hours(self.started, self.ended.unwrap_or(now))).gross,
            None => Decimal::ZERO,
        }
    }
}

/// All sessions, sorted by start.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Ledger {
    pub sessions: Vec<Session>,
}

impl Ledger {
    pub fn new(mut sessions: Vec<Session>) -> Self {
        sessions.sort_by(|a, b| (a.started, &a.id).cmp(&(b.started, &b.id)));
        Ledger { sessions }
    }

    /// The open session, if any (the newest, should a broken ledger hold two).
    pub fn open_session(&self) -> Option<&Session> {
        self.sessions.iter().rev().find(|s| s.is_open())
    }

    /// Backups that sessions restored (server.toml `restore`), each with the
    /// first session that used it.
    pub fn restores_done(&self) -> std::collections::BTreeMap<String, SessionId> {
        let mut done = std::collections::BTreeMap::new();
        for s in &self.sessions {
            if let Some(b) = &s.restored_from {
                done.entry(b.clone()).or_insert_with(|| s.id.clone());
            }
        }
        done
    }

    /// Gross spend of sessions started in `now`'s calendar month (UTC).
    pub fn month_to_date(&self, now: DateTime<Utc>) -> Decimal {
        self.sessions
            .iter()
            .filter(|s| s.started.year() == now.year() && s.started.month() == now.month())
            .map(|s| s.cost_gross(now))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn every_started_hour_is_billed() {
        let start = t("2026-11-01T18:00:00Z");
        assert_eq!(billed_hours(start, start), 0);
        assert_eq!(billed_hours(start, t("2026-11-01T18:00:01Z")), 1);
        assert_eq!(billed_hours(start, t("2026-11-01T19:00:00Z")), 1);
        assert_eq!(billed_hours(start, t("2026-11-01T19:00:01Z")), 2);
    }

    #[test]
    fn activity_is_a_union_a_peak_never_lowered_and_the_latest_counts() {
        let mut s = Session::opened(
            &SessionId::new("20261122-1930-eu"),
            &ServerName::new("grove"),
            &RegionKey::new("eu"),
            t("2026-11-22T19:30:00Z"),
        );
        let report = |seen: &[&str], peak, backups, bytes| Activity {
            players_seen: seen.iter().map(|n| PlayerName::new(*n)).collect(),
            presence: vec![],
            peak_players: peak,
            backups,
            world_bytes: bytes,
        };
        assert!(s.take_activity(&report(&["Steve", "Alex"], 2, 1, Some(100))));
        assert!(!s.take_activity(&report(&["Alex"], 2, 1, Some(100))), "nothing new");
        assert!(s.take_activity(&report(&["Herobrine"], 1, 3, None)));
        assert_eq!(s.activity(), report(&["Steve", "Alex", "Herobrine"], 2, 3, Some(100)));
    }

    #[test]
    fn cost_is_capped_at_the_monthly_price() {
        let p = Price {
            currency: "EUR".into(),
            hourly_net: dec!(0.0088),
            hourly_gross: dec!(0.0105),
            monthly_net: dec!(5.49),
            monthly_gross: dec!(6.5331),
        };
        assert_eq!(cost_of(&p, 4).gross, dec!(0.0420));
        assert_eq!(cost_of(&p, 1000).net, dec!(5.49));
    }
}
