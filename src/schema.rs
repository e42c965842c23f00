//! JSON Schemas (draft-07) for the state repo's files, for editors: Taplo /
//! Even Better TOML read the `#:schema ./.mc-gitops/schema/server.json` line at
//! the top of each file. `mc-gitops schema --out DIR` writes them.
//!
//! The types in [`raw`] are never built: they mirror the keys the loader in
//! [`crate::repo`] and [`crate::repo::ledger::parse`] accepts, and derive their
//! schemas. Choice lists the loader keeps in a constant are taken from it. The
//! loader stays the authority (it also checks what a schema cannot, like
//! `region` naming a key of `[regions]`); a schema only catches mistakes while
//! typing.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

use crate::repo::properties;

/// Every schema, by the file name `mc-gitops schema --out` writes it under.
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("server.json", root::<raw::Server>("server.toml")),
        ("player.json", root::<raw::Player>("players/<Name>.toml")),
        ("ops.json", root::<raw::Ops>("ops.toml")),
        ("mods.json", root::<raw::Mods>("mods.toml")),
        ("mods-lock.json", root::<raw::ModsLock>("mods.lock")),
        ("session.json", root::<raw::Session>("sessions/YYYY/MM/<id>.toml")),
    ]
}

fn root<T: JsonSchema>(title: &str) -> Value {
    let mut v = SchemaSettings::draft07().into_generator().into_root_schema_for::<T>().to_value();
    strip_null(&mut v);
    // `$schema` and `title` first, for people reading the file.
    let Value::Object(rest) = v else {
        unreachable!("a root schema is an object")
    };
    let mut out = Map::new();
    out.insert("$schema".into(), rest["$schema"].clone());
    out.insert("title".into(), title.into());
    out.extend(rest.into_iter().filter(|(k, _)| k != "$schema" && k != "title"));
    Value::Object(out)
}

/// TOML has no null, so `Option`'s "or null" would only mislead an editor.
fn strip_null(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(alts)) = map.get_mut("anyOf") {
                alts.retain(|a| *a != serde_json::json!({ "type": "null" }));
                // `{"anyOf": [X]}` left from `Option<X>` is just X.
                if alts.len() == 1 && map.len() == 1 {
                    *v = map
                        .remove("anyOf")
                        .and_then(|mut a| a.as_array_mut().map(|a| a.remove(0)))
                        .unwrap_or_default();
                    return strip_null(v);
                }
            }
            map.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// `[properties]` lists every vanilla key, so editors complete them, and no others.
fn known_properties(s: &mut Schema) {
    let value = s.remove("additionalProperties").unwrap_or(Value::Bool(true));
    let keys: Map<String, Value> = properties::known_keys().map(|k| (k.to_string(), value.clone())).collect();
    s.insert("properties".into(), keys.into());
    s.insert("additionalProperties".into(), false.into());
}

// Patterns, each the loader's rule for the same value.
const SERVER_NAME: &str = "^[a-z][a-z0-9-]{0,30}[a-z0-9]$";
const USERNAME: &str = "^[A-Za-z0-9_]{3,16}$";
const UUID: &str = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";
/// h, m, s in that order, each at most once, at least one.
const DURATION: &str = "^([0-9]+h([0-9]+m)?([0-9]+s)?|[0-9]+m([0-9]+s)?|[0-9]+s)$";
const MEMORY: &str = "^[0-9]+[GM]$";
const VERSION: &str = r"^[0-9]+(\.[0-9]+)+$";
const ONE_LINE: &str = "^[^\r\n]*$";
const ZONE: &str = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";
const RECORD: &str = "^(@|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)$";
const BUCKET: &str = "^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$";
const ACCOUNT_ID: &str = "^[0-9A-Fa-f]{32}$";
const GITHUB_REPO: &str = "^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$";
const CIDR: &str = "^[0-9A-Fa-f:.]+/[0-9]{1,3}$";
const SERVER_TYPE: &str = "^[a-z][a-z0-9]{0,15}$";
const SLUG: &str = "^[A-Za-z0-9!@$()`.+,\"'_-]{3,64}$";
const SHA1: &str = "^[0-9a-f]{40}$";
const SHA512: &str = "^[0-9a-f]{128}$";
const MONEY: &str = r"^[+-]?[0-9]+(\.[0-9]+)?$";

/// The types the schemas are derived from. Doc comments become the
/// `description` an editor shows on hover: keep them in docs/state-repo.md's words.
#[allow(dead_code)] // never built: they only describe files
mod raw {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

    use super::*;
    use crate::repo::ledger::END_REASONS;
    use crate::repo::server::{LOCATIONS, NOTIFY_EVENTS};

    /// Values the loader reads from text, with no Rust type of their own here.
    macro_rules! text {
        ($($name:ident => $schema:tt),* $(,)?) => {$(
            struct $name;
            impl JsonSchema for $name {
                fn inline_schema() -> bool {
                    true
                }
                fn schema_name() -> Cow<'static, str> {
                    stringify!($name).into()
                }
                fn json_schema(_: &mut SchemaGenerator) -> Schema {
                    json_schema!($schema)
                }
            }
        )*};
    }

    text! {
        Duration => { "type": "string", "pattern": DURATION },
        Username => { "type": "string", "pattern": USERNAME },
        DateTime => { "type": "string", "format": "date-time" },
        Money => { "type": ["string", "number"], "pattern": MONEY },
        PropertyValue => { "type": ["boolean", "integer", "string"] },
        // A list of durations, or 0 (no countdown): the number bounds hold
        // only for a number, the list's only for a list.
        StopWarnings => {
            "type": ["array", "integer"],
            "items": { "type": "string", "pattern": DURATION },
            "maxItems": crate::countdown::MAX_STOP_WARNINGS,
            "uniqueItems": true,
            "minimum": 0,
            "maximum": 0
        },
    }

    /// The switch (`state`), the region and every knob.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Server {
        /// 2–32 of a-z 0-9 -, starts with a letter: labels, hostnames, storage prefixes.
        #[schemars(regex(pattern = SERVER_NAME))]
        name: String,
        /// "running" | "stopped" — the admin's switch.
        #[schemars(extend("enum" = ["running", "stopped"]))]
        state: String,
        /// A key of [regions].
        region: String,
        /// Optional: a backup to restore at the next start, like "2026-11-01T18-00-00Z".
        /// Used once: the bot removes the line when a session has started from it.
        restore: Option<String>,
        minecraft: Minecraft,
        lifecycle: Option<Lifecycle>,
        budget: Budget,
        dns: Dns,
        storage: Option<Storage>,
        notify: Option<Notify>,
        github: Option<Github>,
        ssh: Option<Ssh>,
        /// At least one region; `region` above must name one.
        #[schemars(extend("minProperties" = 1))]
        regions: BTreeMap<String, Region>,
        /// server.properties overrides: vanilla 1.20.1 keys only. Managed properties cannot be overridden, because the bot relies on them: white-list, enforce-whitelist, online-mode, enable-rcon, rcon.port, rcon.password, server-port, server-ip, level-name, motd (set minecraft.motd).
        #[schemars(transform = known_properties)]
        properties: Option<BTreeMap<String, PropertyValue>>,
        stop: Option<Stop>,
        schedule: Option<Schedule>,
    }

    /// Optional: planned sittings (pre-warmed so the server is joinable at the minute) and quiet hours (no start).
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Schedule {
        /// An IANA time zone, like "Europe/Berlin": sittings and quiet hours are written in it.
        timezone: String,
        /// Planned sittings, at most 16 ([[schedule.sitting]]).
        #[schemars(extend("maxItems" = 16))]
        sitting: Option<Vec<Sitting>>,
        /// Daily ranges "HH:MM-HH:MM" (crossing midnight is fine) in which no start is allowed.
        quiet: Option<Vec<String>>,
    }

    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Sitting {
        /// A crontab line, minute hour day-of-month month day-of-week, like "0 19 * * FRI": the server is joinable at that minute.
        start: String,
    }

    /// Optional: an admin's force-stop.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Stop {
        /// Delete the server of a stop that waits for its final snapshot (a dead agent), accepting the loss of play since `accept_backup`, which must be the current verified backup. Recorded in the session file; the session ends as "forced".
        force: Option<Force>,
    }

    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Force {
        /// The session whose stop waits, like "20261122-1930-eu".
        session: String,
        /// The current backup, like "2026-11-22T19-30-00Z": play since it is lost.
        accept_backup: String,
        /// Why, for the session file.
        reason: String,
    }

    /// The game.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Minecraft {
        /// The game version, like "1.20.1".
        #[schemars(regex(pattern = VERSION))]
        version: String,
        /// "fabric" | "vanilla".
        #[schemars(extend("enum" = ["fabric", "vanilla"]))]
        loader: String,
        /// JVM heap: "<n>G" or "<n>M", 1G–64G.
        #[schemars(regex(pattern = MEMORY))]
        memory: String,
        /// At most 59 characters, one line.
        #[schemars(length(max = 59), regex(pattern = ONE_LINE), extend("default" = "A Minecraft server"))]
        motd: Option<String>,
        /// You accept https://aka.ms/MinecraftEULA; must be true.
        #[schemars(extend("const" = true))]
        eula: bool,
    }

    /// Durations: "45s", "15m", "12h", "1h30m".
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Lifecycle {
        /// No players for this long → suspend (JVM stopped, VPS warm). At least 5s.
        #[schemars(extend("default" = "15m"))]
        idle: Option<Duration>,
        /// Suspended this long → final snapshot, VPS deleted. At least 5s.
        #[schemars(extend("default" = "45m"))]
        suspended: Option<Duration>,
        /// Snapshots while running. At least 5m.
        #[schemars(extend("default" = "30m"))]
        backup_every: Option<Duration>,
        /// Newest N snapshots kept (1–100).
        #[schemars(range(min = 1, max = 100), extend("default" = 10))]
        keep_backups: Option<u32>,
        /// A session is stopped after this long whatever happens. At least 10m.
        #[schemars(extend("default" = "12h"))]
        max_session: Option<Duration>,
        /// Minecraft not ready after this long → reported. At least 1m.
        #[schemars(extend("default" = "10m"))]
        boot_deadline: Option<Duration>,
        /// Keep a suspended server warm until shortly before its paid hour
        /// ends (false: delete it as soon as `suspended` elapses).
        #[schemars(extend("default" = true))]
        warm_until_paid: Option<bool>,
        /// Said in game (`say`) this long before a stop players would feel
        /// (the admin's, the budget's, max_session's), e.g. ["5m", "1m",
        /// "10s"]; [] or 0: no countdown. Each 1s–30m, at most 8.
        #[schemars(extend("default" = ["5m", "1m", "10s"]))]
        stop_warnings: Option<StopWarnings>,
    }

    /// What the bot may spend.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Budget {
        /// ≥ 0, in the currency Hetzner bills in.
        #[schemars(range(min = 0))]
        monthly: f64,
        /// "EUR" | "USD".
        #[schemars(extend("enum" = ["EUR", "USD"], "default" = "EUR"))]
        currency: Option<String>,
    }

    /// Where players connect.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Dns {
        /// A Cloudflare zone.
        #[schemars(length(max = 253), regex(pattern = ZONE))]
        zone: String,
        /// The A record (TTL 60, DNS only), like "mc"; "@" for the zone apex.
        #[schemars(regex(pattern = RECORD), extend("default" = "mc"))]
        record: Option<String>,
        /// _minecraft._tcp.<zone> SRV → <record>.<zone>:25565.
        #[schemars(extend("default" = true))]
        srv: Option<bool>,
    }

    /// Optional: where worlds, assets and the control channel live.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Storage {
        /// An R2 bucket (3–63 of a-z 0-9 -).
        #[schemars(regex(pattern = BUCKET))]
        bucket: String,
        /// The Cloudflare account id (32 hex digits); not a secret.
        #[schemars(regex(pattern = ACCOUNT_ID))]
        account_id: Option<String>,
    }

    /// Optional: Discord notifications.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Notify {
        /// Post to the webhook in the DISCORD_WEBHOOK_URL secret.
        #[serde(default)]
        discord: bool,
        /// Which events are posted.
        #[schemars(extend("items" = { "type": "string", "enum": NOTIFY_EVENTS }, "default" = NOTIFY_EVENTS))]
        events: Option<Vec<String>>,
    }

    /// Optional.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Github {
        /// owner/name of this repo.
        #[schemars(regex(pattern = GITHUB_REPO))]
        repo: Option<String>,
        /// GitHub handles allowed to change privileges.
        #[serde(default)]
        admins: Vec<String>,
    }

    /// Optional: by default no SSH port is open at all.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Ssh {
        /// Hetzner SSH key names.
        #[serde(default)]
        keys: Vec<String>,
        /// CIDRs allowed to reach port 22, like "203.0.113.7/32".
        #[serde(default)]
        #[schemars(inner(regex(pattern = CIDR)))]
        allow_from: Vec<String>,
    }

    /// Where a server may be created.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Region {
        /// In order of preference: fsn1 nbg1 hel1 ash hil sin.
        #[schemars(length(min = 1), extend("items" = { "type": "string", "enum": LOCATIONS }))]
        locations: Vec<String>,
        /// Hetzner server types, in order of preference, like "cx33".
        #[schemars(length(min = 1), inner(regex(pattern = SERVER_TYPE)))]
        server_types: Vec<String>,
        /// Optional, default "debian-12".
        #[schemars(extend("default" = "debian-12"))]
        image: Option<String>,
    }

    /// One whitelisted player; grants no privileges.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Player {
        /// Must equal the file name; 3–16 of A-Z a-z 0-9 _.
        name: Username,
        /// Optional; `check` fills it in. Dashed hex, like "8667ba71-b85a-4004-af54-457a9734eed7".
        #[schemars(regex(pattern = UUID))]
        uuid: Option<String>,
        /// Optional: GitHub handle.
        added_by: Option<String>,
    }

    /// Operators and their levels.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Ops {
        /// One [[op]] per operator.
        #[serde(default)]
        op: Vec<Op>,
    }

    /// An operator.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Op {
        /// Must have a players/ file.
        name: Username,
        /// 1–4.
        #[schemars(range(min = 1, max = 4))]
        level: u8,
        /// Optional, default false.
        #[serde(default)]
        bypass_players_limit: bool,
    }

    /// Wanted mods (Modrinth slugs).
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Mods {
        /// Optional: take beta versions when no release fits.
        #[serde(default)]
        allow_beta: bool,
        /// slug = {} takes the newest release for the game version and loader.
        #[schemars(extend("propertyNames" = { "pattern": SLUG }))]
        mods: Option<BTreeMap<String, WantedMod>>,
    }

    /// One wanted mod.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct WantedMod {
        /// Pinned to a Modrinth version number.
        version: Option<String>,
        /// "server" | "client" | "both": override Modrinth's.
        #[schemars(extend("enum" = ["server", "client", "both"]))]
        side: Option<String>,
    }

    /// Written by `mc-gitops mods lock`; do not edit.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ModsLock {
        /// The lock format: 1.
        #[schemars(range(min = 1, max = 1))]
        version: u32,
        /// The game version it was resolved for.
        minecraft: String,
        /// "fabric" | "vanilla".
        #[schemars(extend("enum" = ["fabric", "vanilla"]))]
        loader: String,
        /// The Fabric loader version (Fabric only).
        loader_version: Option<String>,
        /// The Fabric installer version, which is also the server launcher's (Fabric only).
        installer_version: Option<String>,
        /// The jar the VPS installs as server.jar and runs.
        server: ServerJar,
        /// The resolved mods.
        #[serde(default)]
        r#mod: Vec<LockedMod>,
        /// What a first Fabric boot would download (the vanilla server jar), stored by the reconciler and placed by the agent. Absent: no cache.
        #[serde(default)]
        cache: Vec<CachedFile>,
    }

    /// A file placed before the first boot, kept by the VPS only with this sha256.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct CachedFile {
        /// Below ".fabric/server/" or "libraries/", like ".fabric/server/1.20.1-server.jar".
        #[schemars(regex(pattern = "^(\\.fabric/server|libraries)/"))]
        path: String,
        #[schemars(regex(pattern = "^https://"))]
        url: String,
        #[schemars(range(min = 1))]
        size: u64,
        /// 64 lowercase hex digits.
        #[schemars(regex(pattern = "^[0-9a-f]{64}$"))]
        sha256: String,
        /// Mojang's sha1, when it gives one.
        #[schemars(regex(pattern = SHA1))]
        sha1: Option<String>,
    }

    /// The server jar: Fabric's server launcher, or Mojang's server jar for vanilla. `mods lock` downloads it once and records what it computed; the VPS runs it only if its size and sha512 match.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct ServerJar {
        /// Like "fabric-server-mc.1.20.1-loader.0.16.10-launcher.1.0.1.jar" or "minecraft_server.1.20.1.jar".
        file: String,
        #[schemars(regex(pattern = "^https://"))]
        url: String,
        #[schemars(range(min = 1))]
        size: u64,
        /// 40 lowercase hex digits.
        #[schemars(regex(pattern = SHA1))]
        sha1: String,
        /// 128 lowercase hex digits.
        #[schemars(regex(pattern = SHA512))]
        sha512: String,
    }

    /// One resolved mod.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct LockedMod {
        /// The Modrinth slug, as in mods.toml.
        slug: String,
        project_id: String,
        version_id: String,
        version_number: String,
        /// Where it runs: "server" | "client" | "both".
        #[schemars(extend("enum" = ["server", "client", "both"]))]
        side: String,
        /// false: pulled in as a dependency.
        requested: bool,
        file: String,
        #[schemars(regex(pattern = "^https://"))]
        url: String,
        #[schemars(range(min = 1))]
        size: u64,
        /// 40 lowercase hex digits.
        #[schemars(regex(pattern = SHA1))]
        sha1: String,
        /// 128 lowercase hex digits.
        #[schemars(regex(pattern = SHA512))]
        sha512: String,
        /// Project ids.
        #[serde(default)]
        dependencies: Vec<String>,
    }

    /// One session, written by the bot: where, when, what it cost. A session without `ended` is open: the bot believes a server is running.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Session {
        /// The UTC start time and the region, like "20261101-1802-eu"; must equal the file name.
        id: String,
        /// The server's name.
        server: String,
        /// The region key the session ran in.
        region: String,
        /// The Hetzner location, like "fsn1".
        location: Option<String>,
        /// The Hetzner server type, like "cx33".
        server_type: Option<String>,
        /// The Hetzner server id.
        #[schemars(range(min = 1))]
        server_id: Option<u64>,
        /// The server's IPv4 address.
        #[schemars(ipv4)]
        ipv4: Option<String>,
        /// When the server was created, like 2026-11-01T18:02:11Z.
        started: DateTime,
        /// Optional: when Minecraft was ready.
        ready: Option<DateTime>,
        /// Optional: the newest suspension the bot has seen (each is notified once).
        last_suspended: Option<DateTime>,
        /// Absent while the session is open.
        ended: Option<DateTime>,
        /// idle | admin | budget | max-session | crash | drift | forced.
        #[schemars(extend("enum" = END_REASONS))]
        end_reason: Option<String>,
        /// Every started hour counts.
        #[schemars(range(max = 744))]
        billed_hours: Option<u32>,
        /// The most players online at once.
        #[serde(default)]
        #[schemars(range(max = 1000))]
        peak_players: u32,
        /// Everyone who joined.
        #[serde(default)]
        players_seen: Vec<String>,
        /// The world's size in bytes.
        world_bytes: Option<u64>,
        /// Snapshots taken.
        #[serde(default)]
        #[schemars(range(max = 100_000))]
        backups: u32,
        /// The backup server.toml's `restore` named, when this session
        /// started from it; a restore is used once.
        restored_from: Option<String>,
        price: Option<Price>,
        cost: Option<Cost>,
        /// What happened, in order.
        #[serde(default)]
        events: Vec<Event>,
        /// Admin requests (mc-gitops console) and their answers, in order.
        #[serde(default)]
        requests: Vec<Request>,
    }

    /// An admin's request and the agent's answer.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Request {
        /// The request's id, like 20261204T210301Z-3f9a0c1d.
        id: String,
        /// Who asked.
        by: String,
        /// console `<command>`, backup or suspend.
        what: String,
        /// When the agent answered.
        at: DateTime,
        ok: bool,
        /// The start of the reply.
        #[serde(default)]
        reply: String,
    }

    /// As read from Hetzner's /pricing at create; amounts are strings like "0.0105".
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Price {
        /// "EUR" | "USD".
        #[schemars(extend("enum" = ["EUR", "USD"]))]
        currency: String,
        hourly_net: Money,
        hourly_gross: Money,
        monthly_net: Money,
        monthly_gross: Money,
    }

    /// billed_hours × hourly, capped at monthly.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Cost {
        net: Money,
        gross: Money,
    }

    /// Something that happened during the session.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Event {
        at: DateTime,
        what: String,
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use serde_json::json;

    use super::*;

    /// Why `instance` fails the schema `name`, empty when it passes.
    fn errors(name: &str, instance: &Value) -> Vec<String> {
        let (_, schema) = all().into_iter().find(|(n, _)| *n == name).expect("a schema of that name");
        let validator = jsonschema::draft7::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("a valid schema");
        validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect()
    }

    /// TOML as JSON, with datetimes as the RFC 3339 strings editors see.
    fn to_json(v: toml::Value) -> Value {
        match v {
            toml::Value::Datetime(d) => Value::String(d.to_string()),
            toml::Value::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
            toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
            other => serde_json::to_value(other).unwrap(),
        }
    }

    fn read(path: &Path) -> Value {
        let text = std::fs::read_to_string(path).unwrap();
        to_json(toml::from_str::<toml::Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    fn example() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example")
    }

    fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for path in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            if path.is_dir() {
                toml_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_example_file_validates() {
        let root = example();
        let mut files: Vec<_> = [
            ("server.toml", "server.json"),
            ("ops.toml", "ops.json"),
            ("mods.toml", "mods.json"),
            ("mods.lock", "mods-lock.json"),
        ]
        .map(|(f, name)| (root.join(f), name))
        .into();
        for (dir, name) in [("players", "player.json"), ("sessions", "session.json")] {
            let mut found = Vec::new();
            toml_files(&root.join(dir), &mut found);
            assert!(!found.is_empty(), "no example files in {dir}/");
            files.extend(found.into_iter().map(|p| (p, name)));
        }
        for (path, name) in files {
            let errs = errors(name, &read(&path));
            assert!(errs.is_empty(), "{} against {name}: {errs:#?}", path.display());
        }
    }

    #[test]
    fn mistakes_are_rejected() {
        let server = read(&example().join("server.toml"));
        assert_eq!(errors("server.json", &server), Vec::<String>::new());
        for (what, path, value) in [
            ("a misspelt key", "lifecycle/backup_evry", json!("30m")),
            ("a bad state", "state", json!("paused")),
            ("an unknown property", "properties/view_distance", json!(10)),
            ("a managed property", "properties/online-mode", json!(false)),
            ("an empty duration", "lifecycle/idle", json!("")),
            ("units out of order", "lifecycle/idle", json!("15s1m")),
            ("keep_backups 0", "lifecycle/keep_backups", json!(0)),
            ("a stop warning in words", "lifecycle/stop_warnings", json!(["5 minutes"])),
            ("a stop warning twice", "lifecycle/stop_warnings", json!(["1m", "1m"])),
            ("stop warnings as a number", "lifecycle/stop_warnings", json!(5)),
            ("an unknown location", "regions/eu/locations", json!(["fra1"])),
            ("a negative budget", "budget/monthly", json!(-1)),
            ("an upper-case server name", "name", json!("Grove")),
            ("eula = false", "minecraft/eula", json!(false)),
        ] {
            let mut v = server.clone();
            *path.split('/').fold(&mut v, |v, k| &mut v[k]) = value;
            assert!(!errors("server.json", &v).is_empty(), "{what} was accepted");
        }
        assert!(!errors("player.json", &json!({ "name": "St" })).is_empty(), "a short username");
        assert!(
            !errors("ops.json", &json!({ "op": [{ "name": "Steve", "level": 5 }] })).is_empty(),
            "op level 5"
        );
        assert!(
            !errors("mods.json", &json!({ "mods": { "sodium": { "side": "nowhere" } } })).is_empty(),
            "a bad side"
        );
        let mut lock = read(&example().join("mods.lock"));
        let cached = |path: &str| {
            json!([{ "path": path, "url": "https://piston-data.mojang.com/v1/objects/x/server.jar",
                     "size": 9, "sha256": "c".repeat(64), "sha1": "a".repeat(40) }])
        };
        lock["cache"] = cached(".fabric/server/1.20.1-server.jar");
        assert_eq!(errors("mods-lock.json", &lock), Vec::<String>::new(), "a [[cache]] entry");
        lock["cache"] = cached("mods/x.jar");
        assert!(
            !errors("mods-lock.json", &lock).is_empty(),
            "a cache path outside .fabric/server/ and libraries/"
        );
    }

    #[test]
    fn every_schema_is_draft_07_with_a_title() {
        for (name, s) in all() {
            assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#", "{name}");
            assert!(s["title"].is_string() && s.get("$id").is_none(), "{name}");
            assert!(jsonschema::draft7::meta::is_valid(&s), "{name} is not a valid draft-07 schema");
            assert!(!s.to_string().contains("\"null\""), "{name} mentions null, which TOML cannot write");
        }
    }
}
