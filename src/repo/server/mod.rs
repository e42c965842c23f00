//! `server.toml`: the admin's switch and every knob. Reads one file and
//! reports every problem in it; cross-file rules live in `load`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::one_of;
use super::model::*;
use super::properties;
use super::reader::{self, At, Cx, Table};
use crate::ids::{Location, RegionKey, ServerName, ServerType, ZoneName};
use crate::repo::stop_warnings::StopWarnings;

/// Hetzner locations servers can be created in.
pub(crate) const LOCATIONS: &[&str] = &["fsn1", "nbg1", "hel1", "ash", "hil", "sin"];
pub(crate) const NOTIFY_EVENTS: &[&str] = &["start", "ready", "suspend", "stop", "crash", "budget", "overdue"];

pub(crate) fn parse(cx: &mut Cx<'_>, doc: &Spanned<DeTable<'_>>) -> Option<ServerConfig> {
    let mut root = Table::new(doc, "");
    let name = root.required(
        cx,
        "name",
        "add `name = \"grove\"`: 2–32 of a-z 0-9 -, starting with a letter",
        |cx, n, v| {
            let s = reader::string(cx, n, v)?;
            valid_server_name(&s.value).then(|| ServerName::new(&s.value)).or_else(|| {
                cx.error(
                    s.span,
                    format!("`name` = \"{}\" cannot name servers, hosts and storage prefixes", s.value),
                )
                .help("use 2–32 of a-z, 0-9 and -, starting with a letter and not ending with -");
                None
            })
        },
    );
    let state = root.required(cx, "state", "add `state = \"stopped\"` (or \"running\")", |cx, n, v| {
        reader::choice(cx, n, v, &["running", "stopped"]).map(|s| match s.value.as_str() {
            "running" => SwitchState::Running,
            _ => SwitchState::Stopped,
        })
    });
    let region = root.required(cx, "region", "add `region = \"eu\"`, a key of [regions]", reader::string);
    let restore = root.optional(cx, "restore", reader::string).map(|s| s.value);
    let minecraft = match root.table(cx, "minecraft") {
        Some(t) => minecraft(cx, t),
        None => {
            cx.error(root.span(), "missing [minecraft]")
                .help("add [minecraft] with version = \"1.20.1\", loader = \"fabric\", memory = \"6G\" and eula = true");
            None
        }
    };
    let lifecycle = root.table(cx, "lifecycle").map_or_else(Lifecycle::default, |t| lifecycle(cx, t));
    let budget = match root.table(cx, "budget") {
        Some(t) => budget(cx, t),
        None => {
            cx.error(root.span(), "missing [budget]")
                .help("add [budget] with monthly = 10.00: the bot never spends past it");
            None
        }
    };
    let dns = match root.table(cx, "dns") {
        Some(t) => dns(cx, t),
        None => {
            cx.error(root.span(), "missing [dns]")
                .help("add [dns] with zone = \"example.org\": the Cloudflare zone players connect through");
            None
        }
    };
    let storage = root.table(cx, "storage").map(|t| storage(cx, t));
    let notify = root.table(cx, "notify").map_or(Some(Notify::default()), |t| notify(cx, t));
    let github = root.table(cx, "github").map(|t| github(cx, t));
    let ssh = root.table(cx, "ssh").map_or(Some(Ssh::default()), |t| ssh(cx, t));
    let regions = match root.table(cx, "regions") {
        Some(t) => regions(cx, t),
        None => {
            cx.error(root.span(), "missing [regions]")
                .help("add at least one region, e.g. [regions.eu] with locations = [\"fsn1\"] and server_types = [\"cx33\"]");
            None
        }
    };
    let properties = root
        .table(cx, "properties")
        .map_or(Some(BTreeMap::new()), |t| properties::parse(cx, t));
    let stop = root.table(cx, "stop").map_or(Some(StopSettings::default()), |t| stop(cx, t));
    let schedule = root.table(cx, "schedule").map(|t| super::schedule::parse(cx, t));
    root.finish(cx);

    let (regions, region) = (regions?, region?);
    let region_key = RegionKey::new(&region.value);
    if !regions.contains_key(&region_key) {
        let keys: Vec<&str> = regions.keys().map(|k| k.as_str()).collect();
        cx.error(region.span, format!("`region` = \"{}\" is not a key of [regions]", region.value))
            .help(format!("valid regions: {}", one_of(&keys)));
        return None;
    }
    Some(ServerConfig {
        name: name?,
        state: state?,
        region: region_key,
        restore,
        minecraft: minecraft?,
        lifecycle,
        budget: budget?,
        dns: dns?,
        storage: storage.flatten(),
        notify: notify?,
        github: github.flatten(),
        ssh: ssh?,
        regions,
        properties: properties?,
        stop: stop?,
        schedule: match schedule {
            Some(s) => Some(s?),
            None => None,
        },
    })
}

/// `[stop]`: `force = { session, accept_backup, reason }`, every part
/// required and non-empty (the planner checks them against what is observed).
fn stop(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<StopSettings> {
    let force = t.optional(cx, "force", |cx, n, v| {
        let mut f = reader::as_table(cx, n, v)?;
        let part = |cx: &mut Cx<'_>, f: &mut Table<'_, '_>, key: &'static str, help: &str| {
            f.required(cx, key, help, |cx, n, v| {
                let s = reader::string(cx, n, v)?;
                (!s.value.trim().is_empty()).then(|| s.value.clone()).or_else(|| {
                    cx.error(s.span, format!("`{n}` is empty")).help(help.to_string());
                    None
                })
            })
        };
        let session = part(
            cx,
            &mut f,
            "session",
            "the session whose stop waits, like \"20261122-1930-eu\" (STATUS.md names it)",
        );
        let accept_backup = part(
            cx,
            &mut f,
            "accept_backup",
            "the current backup, like \"2026-11-22T19-30-00Z\": play since it is lost (`mc-gitops world list` marks it current)",
        );
        let reason = part(cx, &mut f, "reason", "why, for the session file: \"the VPS is unreachable\"");
        f.finish(cx);
        Some(ForceStop {
            session: crate::ids::SessionId::new(session?),
            accept_backup: accept_backup?,
            reason: reason?,
        })
    });
    t.finish(cx);
    Some(StopSettings { force })
}

pub(crate) fn valid_server_name(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=32).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn minecraft(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<Minecraft> {
    let version = t.required(cx, "version", "add `version = \"1.20.1\"`", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        let ok = s.value.split('.').count() >= 2 && s.value.split('.').all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
        ok.then_some(s.value.clone()).or_else(|| {
            cx.error(s.span, format!("`{n}` = \"{}\" is not a release version", s.value))
                .help("write a release like \"1.20.1\"");
            None
        })
    });
    let loader = t.required(cx, "loader", "add `loader = \"fabric\"`", |cx, n, v| {
        reader::choice(cx, n, v, &["fabric", "vanilla"]).map(|s| if s.value == "fabric" { Loader::Fabric } else { Loader::Vanilla })
    });
    let memory = t.required(cx, "memory", "add `memory = \"6G\"`", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        let mb = parse_memory(&s.value);
        mb.filter(|mb| (1024..=65536).contains(mb)).or_else(|| {
            cx.error(s.span, format!("`{n}` = \"{}\" is not a heap size from 1G to 64G", s.value))
                .help("write it like \"6G\" or \"6144M\"");
            None
        })
    });
    let motd = t.optional(cx, "motd", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        if s.value.chars().count() > 59 || s.value.contains(['\n', '\r']) {
            cx.error(s.span, format!("`{n}` must be one line of at most 59 characters"))
                .help("the server list shows no more than that");
            return None;
        }
        Some(s.value)
    });
    let eula = t.required(
        cx,
        "eula",
        "add `eula = true` to accept https://aka.ms/MinecraftEULA",
        |cx, n, v| {
            let at = v.span();
            let b = reader::boolean(cx, n, v)?;
            if !b {
                cx.error(at, "the Minecraft EULA must be accepted to run a server")
                    .help("set `eula = true` once you have read https://aka.ms/MinecraftEULA");
            }
            Some(b)
        },
    );
    t.finish(cx);
    let motd = motd.unwrap_or_else(|| super::model::DEFAULT_MOTD.to_string());
    eula.filter(|b| *b)?;
    Some(Minecraft {
        version: version?,
        loader: loader?,
        memory_mb: memory?,
        motd,
    })
}

fn parse_memory(s: &str) -> Option<u32> {
    let (num, mult) = match s.strip_suffix('G') {
        Some(n) => (n, 1024),
        None => (s.strip_suffix('M')?, 1),
    };
    num.parse::<u32>().ok()?.checked_mul(mult)
}

fn lifecycle(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Lifecycle {
    let d = Lifecycle::default();
    // A broken value is reported by its reader; falling back to the default
    // afterwards is harmless because any error fails the whole load.
    let dur = |cx: &mut Cx<'_>, t: &mut Table<'_, '_>, key: &'static str, default, min_secs: u64| {
        t.optional(cx, key, |cx, n, v| {
            let span = v.span();
            let d = reader::duration(cx, n, v)?;
            if d.as_secs() < min_secs {
                cx.error(span, format!("`{n}` = \"{d}\" is too short"))
                    .help(format!("use at least {}", super::duration::Duration::from_secs(min_secs)));
                return None;
            }
            Some(d)
        })
        .unwrap_or(default)
    };
    // Seconds, not minutes, at the low end: a day can be played through in
    // minutes (the end-to-end test); the defaults are what a group wants.
    let idle = dur(cx, &mut t, "idle", d.idle, MIN_IDLE_SECS);
    let suspended = dur(cx, &mut t, "suspended", d.suspended, MIN_SUSPENDED_SECS);
    let backup_every = dur(cx, &mut t, "backup_every", d.backup_every, 300);
    let max_session = dur(cx, &mut t, "max_session", d.max_session, 600);
    let boot_deadline = dur(cx, &mut t, "boot_deadline", d.boot_deadline, 60);
    let keep_backups = t.optional(cx, "keep_backups", |cx, n, v| reader::integer_in(cx, n, v, 1, 100));
    let warm_until_paid = t.optional(cx, "warm_until_paid", reader::boolean);
    let stop_warnings = t.optional(cx, "stop_warnings", stop_warnings);
    t.finish(cx);
    Lifecycle {
        idle,
        suspended,
        backup_every,
        keep_backups: keep_backups.map_or(d.keep_backups, |n| n as u32),
        max_session,
        boot_deadline,
        warm_until_paid: warm_until_paid.unwrap_or(d.warm_until_paid),
        stop_warnings: stop_warnings.unwrap_or(d.stop_warnings),
    }
}

/// `stop_warnings = ["5m", "1m", "10s"]`; `[]` or `0` for none. Each bad
/// entry is reported at its own place.
fn stop_warnings(cx: &mut Cx<'_>, n: &str, v: &Spanned<DeValue<'_>>) -> Option<StopWarnings> {
    let help = "write durations like [\"5m\", \"1m\", \"10s\"], or [] for no countdown";
    if let DeValue::Integer(_) = v.get_ref() {
        let zero = reader::integer(cx, n, v)?;
        if zero.value == 0 {
            return Some(StopWarnings::default());
        }
        cx.error(zero.span, format!("`{n}` = {} is not a list of durations", zero.value))
            .help(help);
        return None;
    }
    let leads = reader::array(cx, n, v, |cx, n, item| {
        let at = item.span();
        let d = reader::duration(cx, n, item)?;
        if let Err(why) = StopWarnings::new([d]) {
            cx.error(at, format!("`{n}` entry: {why}")).help(help);
            return None;
        }
        Some(d)
    })?;
    // A bad entry was reported (and skipped): the list as a whole is not read.
    let written = if let DeValue::Array(items) = v.get_ref() { items.len() } else { 0 };
    if leads.len() != written {
        return None;
    }
    match StopWarnings::new(leads) {
        Ok(w) => Some(w),
        Err(why) => {
            cx.error(v.span(), format!("`{n}`: {why}")).help(help);
            None
        }
    }
}

/// The shortest `idle` server.toml accepts.
pub(crate) const MIN_IDLE_SECS: u64 = 5;
/// The shortest `suspended` server.toml accepts.
pub(crate) const MIN_SUSPENDED_SECS: u64 = 5;

fn budget(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<Budget> {
    let monthly = t.required(cx, "monthly", "add `monthly = 10.00`", |cx, n, v| {
        let d = decimal(cx, n, v)?;
        if d.value.is_sign_negative() {
            cx.error(d.span, format!("`{n}` = {} is below zero", d.value))
                .help("use 0 to never start, or the most you will spend in a month");
            return None;
        }
        Some(d.value)
    });
    let currency = t
        .optional(cx, "currency", |cx, n, v| reader::choice(cx, n, v, &["EUR", "USD"]))
        .map(|s| s.value);
    t.finish(cx);
    Some(Budget {
        monthly: monthly?,
        currency: currency.unwrap_or_else(|| "EUR".into()),
    })
}

/// A decimal from the number's own text, so 10.10 stays 10.10.
pub(crate) fn decimal(cx: &mut Cx<'_>, name: &str, v: &Spanned<DeValue<'_>>) -> Option<At<Decimal>> {
    let n = reader::number(cx, name, v)?;
    let text = &cx.src.text[v.span()];
    let parsed = text
        .replace('_', "")
        .parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::try_from(n.value).ok());
    match parsed {
        Some(value) => Some(At { value, span: n.span }),
        None => {
            cx.error(n.span, format!("`{name}` = {text} is not an amount of money"));
            None
        }
    }
}

mod tables;

use tables::*;
