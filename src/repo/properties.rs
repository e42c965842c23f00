//! `server.properties`: the vanilla 1.20.1 keys, which of them the bot manages,
//! and the rendered file.
//!
//! Overrides are checked against the real key list so a typo like
//! `view_distance` is an error in the pull request, not a setting the server
//! silently ignores. Managed keys are refused with the reason, because the
//! bot's safety (whitelist, RCON on localhost, snapshots of `world/`) rests on
//! them.

use std::collections::BTreeMap;

use toml::de::DeValue;

use super::diag::{did_you_mean, one_of};
use super::limits::MAX_PROPERTY_CHARS;
use super::reader::{Cx, Table};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Bool,
    Int(i64, i64),
    Str,
    Choice(&'static [&'static str]),
}

use Kind::*;

/// Vanilla 1.20.1 keys with their defaults, as the server writes them.
const KNOWN: &[(&str, Kind, &str)] = &[
    ("allow-flight", Bool, "false"),
    ("allow-nether", Bool, "true"),
    ("broadcast-console-to-ops", Bool, "true"),
    ("broadcast-rcon-to-ops", Bool, "true"),
    ("difficulty", Choice(&["peaceful", "easy", "normal", "hard"]), "easy"),
    ("enable-command-block", Bool, "false"),
    ("enable-jmx-monitoring", Bool, "false"),
    ("enable-query", Bool, "false"),
    ("enable-status", Bool, "true"),
    ("enforce-secure-profile", Bool, "true"),
    ("entity-broadcast-range-percentage", Int(10, 1000), "100"),
    ("force-gamemode", Bool, "false"),
    ("function-permission-level", Int(1, 4), "2"),
    ("gamemode", Choice(&["survival", "creative", "adventure", "spectator"]), "survival"),
    ("generate-structures", Bool, "true"),
    ("generator-settings", Str, "{}"),
    ("hardcore", Bool, "false"),
    ("hide-online-players", Bool, "false"),
    ("initial-disabled-packs", Str, ""),
    ("initial-enabled-packs", Str, "vanilla"),
    ("level-seed", Str, ""),
    (
        "level-type",
        Choice(&[
            "minecraft:normal",
            "minecraft:flat",
            "minecraft:large_biomes",
            "minecraft:amplified",
            "minecraft:single_biome_surface",
        ]),
        "minecraft:normal",
    ),
    ("max-chained-neighbor-updates", Int(-1, i32::MAX as i64), "1000000"),
    ("max-players", Int(1, 1000), "20"),
    ("max-tick-time", Int(-1, i32::MAX as i64), "60000"),
    ("max-world-size", Int(1, 29_999_984), "29999984"),
    ("network-compression-threshold", Int(-1, 65535), "256"),
    ("op-permission-level", Int(0, 4), "4"),
    ("player-idle-timeout", Int(0, 100_000), "0"),
    ("prevent-proxy-connections", Bool, "false"),
    ("pvp", Bool, "true"),
    ("query.port", Int(1, 65535), "25565"),
    ("rate-limit", Int(0, 100_000), "0"),
    ("require-resource-pack", Bool, "false"),
    ("resource-pack", Str, ""),
    ("resource-pack-prompt", Str, ""),
    ("resource-pack-sha1", Str, ""),
    ("simulation-distance", Int(3, 32), "10"),
    ("spawn-animals", Bool, "true"),
    ("spawn-monsters", Bool, "true"),
    ("spawn-npcs", Bool, "true"),
    ("spawn-protection", Int(0, 1000), "16"),
    ("sync-chunk-writes", Bool, "true"),
    ("text-filtering-config", Str, ""),
    ("use-native-transport", Bool, "true"),
    ("view-distance", Int(3, 32), "10"),
];

/// Keys the bot sets itself, and why an override is refused.
const MANAGED: &[(&str, &str)] = &[
    ("white-list", "the whitelist is always on: players/ is the list"),
    ("enforce-whitelist", "always on, so removing a player file kicks them"),
    ("online-mode", "always on: a whitelist by name means nothing in offline mode"),
    ("enable-rcon", "the agent talks to the server over RCON on localhost"),
    ("rcon.port", "the agent owns RCON"),
    ("rcon.password", "generated on the VPS and never stored in git"),
    ("server-port", "the firewall, DNS SRV record and agent all use 25565"),
    ("server-ip", "the server listens on the VPS's own address"),
    ("motd", "set it with `minecraft.motd` in server.toml"),
    ("level-name", "snapshots are taken of the `world` directory"),
];

pub use crate::minecraft::{GAME_PORT, RCON_PORT};

pub fn parse(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (key, v) in t.entries() {
        let name = format!("properties.{}", key.value);
        if let Some((_, why)) = MANAGED.iter().find(|(k, _)| *k == key.value) {
            cx.error(
                key.span.clone(),
                format!("`{}` is managed by mc-gitops and cannot be overridden", key.value),
            )
            .help(why.to_string());
            ok = false;
            continue;
        }
        let Some((_, kind, _)) = KNOWN.iter().find(|(k, _, _)| *k == key.value) else {
            let known = KNOWN.iter().map(|(k, _, _)| *k);
            let help = match did_you_mean(key.value, known) {
                Some(close) => format!("did you mean `{close}`? see the vanilla 1.20.1 server.properties keys"),
                None => "only vanilla 1.20.1 server.properties keys can be set here; mod settings go in config/".to_string(),
            };
            cx.error(key.span.clone(), format!("`{}` is not a server.properties key", key.value))
                .help(help);
            ok = false;
            continue;
        };
        match value(cx, &name, v, *kind) {
            Some(s) => {
                out.insert(key.value.to_string(), s);
            }
            None => ok = false,
        }
    }
    t.finish(cx);
    ok.then_some(out)
}

fn value(cx: &mut Cx<'_>, name: &str, v: &toml::Spanned<DeValue<'_>>, kind: Kind) -> Option<String> {
    match (kind, v.get_ref()) {
        (Bool, DeValue::Boolean(b)) => Some(b.to_string()),
        (Int(lo, hi), DeValue::Integer(i)) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if (lo..=hi).contains(&n) => Some(n.to_string()),
            _ => {
                cx.error(v.span(), format!("`{name}` must be from {lo} to {hi}"));
                None
            }
        },
        (Str, DeValue::String(s)) => {
            if s.contains(['\n', '\r']) {
                cx.error(v.span(), format!("`{name}` must be one line"));
                return None;
            }
            let n = s.chars().count();
            if n > MAX_PROPERTY_CHARS {
                cx.error(
                    v.span(),
                    format!("`{name}` is {n} characters, over the {MAX_PROPERTY_CHARS}-character limit (MAX_PROPERTY_CHARS)"),
                )
                .help("server.properties values are short settings");
                return None;
            }
            Some(s.to_string())
        }
        (Choice(valid), DeValue::String(s)) if valid.contains(&s.as_ref()) => Some(s.to_string()),
        (Choice(valid), _) => {
            cx.error(v.span(), format!("`{name}` is not allowed here"))
                .help(format!("valid values: {}", one_of(valid)));
            None
        }
        (kind, _) => {
            let want = match kind {
                Bool => "`true` or `false`",
                Int(..) => "a whole number",
                _ => "a string",
            };
            cx.error(v.span(), format!("`{name}` must be {want}"));
            None
        }
    }
}

/// The full `server.properties` the VPS starts with, keys sorted so diffs are
/// stable. `rcon.password` is deliberately absent: the agent generates it on
/// the VPS and adds it there.
pub fn render(overrides: &BTreeMap<String, String>, motd: &str) -> String {
    let mut props: BTreeMap<&str, String> = KNOWN.iter().map(|(k, _, d)| (*k, d.to_string())).collect();
    for (k, v) in overrides {
        props.insert(k, v.clone());
    }
    props.insert("white-list", "true".into());
    props.insert("enforce-whitelist", "true".into());
    props.insert("online-mode", "true".into());
    props.insert("enable-rcon", "true".into());
    props.insert("rcon.port", RCON_PORT.to_string());
    props.insert("server-port", GAME_PORT.to_string());
    props.insert("server-ip", String::new());
    props.insert("level-name", "world".into());
    props.insert("motd", motd.to_string());
    let mut out = String::from("# Written by mc-gitops from server.toml; edits on the server are overwritten.\n");
    for (k, v) in props {
        out.push_str(k);
        out.push('=');
        out.push_str(&escape(&v));
        out.push('\n');
    }
    out
}

/// Java `Properties` escaping, so a motd with `:` or `\` or non-ASCII survives.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ':' => out.push_str("\\:"),
            '=' => out.push_str("\\="),
            '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out
}

/// The vanilla keys `[properties]` may set (managed keys are not among them),
/// for the JSON Schema in `crate::schema`.
pub fn known_keys() -> impl Iterator<Item = &'static str> {
    KNOWN.iter().map(|(k, _, _)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_keys_win_over_everything() {
        let out = render(&BTreeMap::from([("difficulty".to_string(), "hard".to_string())]), "hi");
        assert!(out.contains("\ndifficulty=hard\n"));
        assert!(out.contains("\nwhite-list=true\n"));
        assert!(out.contains("\nenforce-whitelist=true\n"));
        assert!(!out.contains("rcon.password"));
    }

    #[test]
    fn motd_is_escaped_for_java_properties() {
        assert_eq!(escape("Grove — a:b\\c"), "Grove \\u2014 a\\:b\\\\c");
    }

    #[test]
    fn no_key_is_both_known_and_managed() {
        for (k, _) in MANAGED {
            assert!(!KNOWN.iter().any(|(n, _, _)| n == k), "{k}");
        }
    }
}
