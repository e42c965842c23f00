//! Reading `sessions/YYYY/MM/<id>.toml`. The bot writes these, but people can
//! edit them (to correct a cost, say), so they are checked as strictly as the
//! admin's files.

use rust_decimal::Decimal;
use toml::Spanned;
use toml::de::DeTable;

use super::{Cost, END_REASONS, Event, Price, RequestRecord, Session};
use crate::ids::{HetznerServerId, Location, PlayerName, RegionKey, ServerName, ServerType, SessionId};
use crate::repo::reader::{self, Cx, Table};
use crate::repo::server::decimal;

fn money(cx: &mut Cx<'_>, t: &mut Table<'_, '_>, key: &'static str) -> Option<Decimal> {
    t.required(cx, key, "amounts are strings like \"0.0105\"", |cx, n, v| {
        if let Some(s) = v.get_ref().as_str() {
            return s.parse::<Decimal>().ok().or_else(|| {
                cx.error(v.span(), format!("`{n}` = \"{s}\" is not an amount"));
                None
            });
        }
        decimal(cx, n, v).map(|d| d.value)
    })
}

/// One session file; `stem` is its file name without `.toml` and must be its id.
pub(crate) fn parse_session(cx: &mut Cx<'_>, doc: &Spanned<DeTable<'_>>, stem: &str) -> Option<Session> {
    let mut t = Table::new(doc, "");
    let id = t.required(cx, "id", &format!("add `id = \"{stem}\"`"), |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        if s.value != stem {
            cx.error(s.span, format!("`id` = \"{}\" does not match the file name `{stem}.toml`", s.value));
            return None;
        }
        Some(SessionId::new(s.value))
    });
    let server = t
        .required(cx, "server", "the server's name", reader::string)
        .map(|s| ServerName::new(s.value));
    let region = t
        .required(cx, "region", "the region key the session ran in", reader::string)
        .map(|s| RegionKey::new(s.value));
    let location = t.optional(cx, "location", reader::string).map(|s| Location::new(s.value));
    let server_type = t.optional(cx, "server_type", reader::string).map(|s| ServerType::new(s.value));
    let server_id = t
        .optional(cx, "server_id", |cx, n, v| reader::integer_in(cx, n, v, 1, i64::MAX))
        .map(|n| HetznerServerId(n as u64));
    let ipv4 = t.optional(cx, "ipv4", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        s.value
            .parse::<std::net::Ipv4Addr>()
            .is_ok()
            .then_some(s.value.clone())
            .or_else(|| {
                cx.error(s.span, format!("`{n}` = \"{}\" is not an IPv4 address", s.value));
                None
            })
    });
    let started = t.required(cx, "started", "when the server was created", reader::datetime);
    let ready = t.optional(cx, "ready", reader::datetime);
    let ended = t.optional(cx, "ended", reader::datetime);
    let end_reason = t
        .optional(cx, "end_reason", |cx, n, v| reader::choice(cx, n, v, END_REASONS))
        .map(|s| s.value);
    let billed_hours = t
        .optional(cx, "billed_hours", |cx, n, v| reader::integer_in(cx, n, v, 0, 24 * 31))
        .map(|n| n as u32);
    let peak_players = t
        .optional(cx, "peak_players", |cx, n, v| reader::integer_in(cx, n, v, 0, 1000))
        .unwrap_or(0) as u32;
    let players_seen = t
        .optional(cx, "players_seen", |cx, n, v| {
            reader::array(cx, n, v, |cx, n, v| reader::string(cx, n, v).map(|s| PlayerName::new(s.value)))
        })
        .unwrap_or_default();
    let world_bytes = t
        .optional(cx, "world_bytes", |cx, n, v| reader::integer_in(cx, n, v, 0, i64::MAX))
        .map(|n| n as u64);
    let backups = t
        .optional(cx, "backups", |cx, n, v| reader::integer_in(cx, n, v, 0, 100_000))
        .unwrap_or(0) as u32;
    let restored_from = t.optional(cx, "restored_from", reader::string).map(|s| s.value);
    let last_suspended = t.optional(cx, "last_suspended", reader::datetime);
    let price = t.table(cx, "price").and_then(|mut p| {
        let currency = p
            .required(cx, "currency", "\"EUR\" or \"USD\"", |cx, n, v| {
                reader::choice(cx, n, v, &["EUR", "USD"])
            })
            .map(|s| s.value);
        let hourly_net = money(cx, &mut p, "hourly_net");
        let hourly_gross = money(cx, &mut p, "hourly_gross");
        let monthly_net = money(cx, &mut p, "monthly_net");
        let monthly_gross = money(cx, &mut p, "monthly_gross");
        p.finish(cx);
        Some(Price {
            currency: currency?,
            hourly_net: hourly_net?,
            hourly_gross: hourly_gross?,
            monthly_net: monthly_net?,
            monthly_gross: monthly_gross?,
        })
    });
    let cost = t.table(cx, "cost").and_then(|mut c| {
        let net = money(cx, &mut c, "net");
        let gross = money(cx, &mut c, "gross");
        c.finish(cx);
        Some(Cost { net: net?, gross: gross? })
    });
    let events = t
        .get("events")
        .map(|v| {
            reader::tables(cx, "events", v)
                .into_iter()
                .filter_map(|mut e| {
                    let at = e.required(cx, "at", "when it happened", reader::datetime);
                    let what = e.required(cx, "what", "what happened", reader::string).map(|s| s.value);
                    e.finish(cx);
                    Some(Event { at: at?, what: what? })
                })
                .collect()
        })
        .unwrap_or_default();
    let requests = t
        .get("requests")
        .map(|v| {
            reader::tables(cx, "requests", v)
                .into_iter()
                .filter_map(|mut r| {
                    let id = r.required(cx, "id", "the request's id", reader::string).map(|s| s.value);
                    let by = r.required(cx, "by", "who asked", reader::string).map(|s| s.value);
                    let what = r.required(cx, "what", "what was asked", reader::string).map(|s| s.value);
                    let at = r.required(cx, "at", "when it was answered", reader::datetime);
                    let ok = r.required(cx, "ok", "true or false", reader::boolean);
                    let reply = r.optional(cx, "reply", reader::string).map(|s| s.value).unwrap_or_default();
                    r.finish(cx);
                    Some(RequestRecord {
                        id: id?,
                        by: by?,
                        what: what?,
                        at: at?,
                        ok: ok?,
                        reply,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let presence = t
        .get("presence")
        .map(|v| {
            reader::tables(cx, "presence", v)
                .into_iter()
                .filter_map(|mut r| {
                    let player = r
                        .required(cx, "player", "who was online", reader::string)
                        .map(|s| PlayerName::new(s.value));
                    let join = r.required(cx, "join", "when they came online", reader::datetime);
                    let leave = r.optional(cx, "leave", reader::datetime);
                    r.finish(cx);
                    Some(crate::repo::ledger::Presence {
                        player: player?,
                        join: join?,
                        leave,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let span = t.span();
    t.finish(cx);
    let (started, ended) = (started?, ended);
    if let Some(end) = ended
        && end < started
    {
        cx.error(span, format!("session ends ({end}) before it starts ({started})"));
        return None;
    }
    Some(Session {
        id: id?,
        file: cx.src.path.clone(),
        server: server?,
        region: region?,
        location,
        server_type,
        server_id,
        ipv4,
        started,
        ready,
        ended,
        end_reason,
        billed_hours,
        peak_players,
        players_seen,
        presence,
        world_bytes,
        backups,
        restored_from,
        last_suspended,
        price,
        cost,
        events,
        requests,
    })
}
