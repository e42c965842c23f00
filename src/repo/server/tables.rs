//! The tables of `server.toml` that point at outside systems and places:
//! `[dns]`, `[storage]`, `[notify]`, `[github]`, `[ssh]` and `[regions]`;
//! each read into its model type, every problem reported with its span.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::DeValue;

use super::*;

pub(super) fn dns(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<Dns> {
    let zone = t.required(
        cx,
        "zone",
        "add `zone = \"example.org\"`, a zone in your Cloudflare account",
        |cx, n, v| {
            let s = reader::string(cx, n, v)?;
            valid_hostname(&s.value)
                .then(|| ZoneName::new(s.value.to_ascii_lowercase()))
                .or_else(|| {
                    cx.error(s.span, format!("`{n}` = \"{}\" is not a domain name", s.value))
                        .help("write a zone like \"grove.place\"");
                    None
                })
        },
    );
    let record = t.optional(cx, "record", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        (s.value == "@" || valid_label(&s.value))
            .then(|| s.value.to_ascii_lowercase())
            .or_else(|| {
                cx.error(s.span, format!("`{n}` = \"{}\" is not a DNS label", s.value))
                    .help("use letters, digits and -, like \"mc\", or \"@\" for the zone itself");
                None
            })
    });
    let srv = t.optional(cx, "srv", reader::boolean);
    t.finish(cx);
    Some(Dns {
        zone: zone?,
        record: record.unwrap_or_else(|| "mc".into()),
        srv: srv.unwrap_or(true),
    })
}

fn valid_label(s: &str) -> bool {
    (1..=63).contains(&s.len()) && !s.starts_with('-') && !s.ends_with('-') && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

fn valid_hostname(s: &str) -> bool {
    s.len() <= 253 && s.contains('.') && s.split('.').all(valid_label)
}

pub(super) fn storage(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<Storage> {
    let bucket = t.required(cx, "bucket", "add `bucket = \"my-worlds\"`, an R2 bucket", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        let b = s.value.as_bytes();
        let ok = (3..=63).contains(&b.len())
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-';
        ok.then_some(s.value.clone()).or_else(|| {
            cx.error(s.span, format!("`{n}` = \"{}\" is not a valid bucket name", s.value))
                .help("use 3–63 of a-z, 0-9 and -, not starting or ending with -");
            None
        })
    });
    let account_id = t.optional(cx, "account_id", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        (s.value.len() == 32 && s.value.bytes().all(|c| c.is_ascii_hexdigit()))
            .then_some(s.value.to_ascii_lowercase())
            .or_else(|| {
                cx.error(s.span, format!("`{n}` must be 32 hex digits"))
                    .help("copy it from the R2 page of the Cloudflare dashboard");
                None
            })
    });
    t.finish(cx);
    Some(Storage {
        bucket: bucket?,
        account_id,
    })
}

pub(super) fn notify(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<Notify> {
    let discord = t.optional(cx, "discord", reader::boolean);
    let events = t.optional(cx, "events", |cx, n, v| {
        reader::array(cx, n, v, |cx, n, v| reader::choice(cx, n, v, NOTIFY_EVENTS).map(|s| s.value))
    });
    t.finish(cx);
    Some(Notify {
        discord: discord.unwrap_or(false),
        events: events.unwrap_or_else(|| NOTIFY_EVENTS.iter().map(|s| s.to_string()).collect()),
    })
}

pub(super) fn github(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<Github> {
    let repo = t.optional(cx, "repo", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        let ok = s.value.split('/').count() == 2
            && s.value
                .split('/')
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c)));
        ok.then_some(s.value.clone()).or_else(|| {
            cx.error(s.span, format!("`{n}` = \"{}\" is not owner/name", s.value))
                .help("write it like \"grove-friends/grove-state\"");
            None
        })
    });
    let admins = t.optional(cx, "admins", |cx, n, v| {
        reader::array(cx, n, v, |cx, n, v| reader::string(cx, n, v).map(|s| s.value))
    });
    t.finish(cx);
    Some(Github {
        repo,
        admins: admins.unwrap_or_default(),
    })
}

pub(super) fn ssh(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<Ssh> {
    let keys = t.optional(cx, "keys", |cx, n, v| {
        reader::array(cx, n, v, |cx, n, v| {
            reader::bounded_string(cx, n, v, crate::repo::limits::MAX_SSH_KEY_CHARS, "MAX_SSH_KEY_CHARS").map(|s| s.value)
        })
    });
    let allow_from = t.optional(cx, "allow_from", |cx, n, v| {
        reader::array(cx, n, v, |cx, n, v| {
            let s = reader::string(cx, n, v)?;
            valid_cidr(&s.value).then_some(s.value.clone()).or_else(|| {
                cx.error(s.span, format!("`{n}` entry \"{}\" is not a CIDR", s.value))
                    .help("write an address with its prefix length, like \"203.0.113.7/32\"");
                None
            })
        })
    });
    t.finish(cx);
    Some(Ssh {
        keys: keys.unwrap_or_default(),
        allow_from: allow_from.unwrap_or_default(),
    })
}

fn valid_cidr(s: &str) -> bool {
    let Some((addr, len)) = s.split_once('/') else { return false };
    match (addr.parse::<std::net::IpAddr>(), len.parse::<u8>()) {
        (Ok(std::net::IpAddr::V4(_)), Ok(l)) => l <= 32,
        (Ok(std::net::IpAddr::V6(_)), Ok(l)) => l <= 128,
        _ => false,
    }
}

pub(super) fn regions(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<BTreeMap<RegionKey, Region>> {
    let mut out = BTreeMap::new();
    let mut ok = true;
    let span = t.span();
    for (key, v) in t.entries() {
        let name = format!("regions.{}", key.value);
        // Region keys end up in session ids, file names and labels.
        let k = key.value.as_bytes();
        if !((1..=16).contains(&k.len()) && k[0].is_ascii_lowercase() && k.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())) {
            cx.error(
                key.span.clone(),
                format!("region name `{}` cannot go into session ids and labels", key.value),
            )
            .help("use 1–16 of a-z and 0-9, starting with a letter, like `eu` or `us2`");
            ok = false;
            continue;
        }
        let Some(mut r) = reader::as_table(cx, &name, v) else {
            ok = false;
            continue;
        };
        let locations = r.required(
            cx,
            "locations",
            "list Hetzner locations in order of preference, like [\"fsn1\", \"nbg1\"]",
            |cx, n, v| {
                let list = reader::array(cx, n, v, |cx, n, v| {
                    reader::choice(cx, n, v, LOCATIONS).map(|s| Location::new(s.value))
                })?;
                non_empty(cx, n, v, list)
            },
        );
        let server_types = r.required(
            cx,
            "server_types",
            "list Hetzner server types in order of preference, like [\"cx33\", \"cpx32\"]",
            |cx, n, v| {
                let list = reader::array(cx, n, v, |cx, n, v| {
                    let s = reader::string(cx, n, v)?;
                    let ok = s.value.len() <= 16
                        && s.value.starts_with(|c: char| c.is_ascii_lowercase())
                        && s.value.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
                    ok.then(|| ServerType::new(&s.value)).or_else(|| {
                        cx.error(s.span, format!("`{n}` entry \"{}\" is not a Hetzner server type name", s.value))
                            .help("server types look like \"cx33\" or \"cpx32\"");
                        None
                    })
                })?;
                non_empty(cx, n, v, list)
            },
        );
        let image = r.optional(cx, "image", reader::string).map(|s| s.value);
        r.finish(cx);
        match (locations, server_types) {
            (Some(locations), Some(server_types)) => {
                out.insert(
                    RegionKey::new(key.value),
                    Region {
                        locations,
                        server_types,
                        image: image.unwrap_or_else(|| "debian-12".into()),
                    },
                );
            }
            _ => ok = false,
        }
    }
    t.finish(cx);
    if out.is_empty() && ok {
        cx.error(span, "[regions] has no region")
            .help("add one, like [regions.eu] with locations and server_types");
        return None;
    }
    ok.then_some(out)
}

fn non_empty<T>(cx: &mut Cx<'_>, n: &str, v: &Spanned<DeValue<'_>>, list: Vec<T>) -> Option<Vec<T>> {
    let DeValue::Array(items) = v.get_ref() else { return None };
    if list.len() != items.len() {
        return None; // an element was bad and already reported
    }
    if list.is_empty() {
        cx.error(v.span(), format!("`{n}` is empty")).help("list at least one");
        return None;
    }
    Some(list)
}
