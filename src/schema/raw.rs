//! The types the schemas of the state repo's configuration files
//! (server.toml, players, ops.toml, mods.toml, mods.lock) are derived from.
//! Doc comments become the `description` an editor shows on hover: keep them
//! in docs/state-repo.md's words. The ledger's session file is in [`session`].
// Those comments are an editor's plain hover text, not rustdoc: `<n>G`,
// `[[op]]` and a bare URL are meant as written (and the schemas in
// state-repo-example/.mc-gitops/schema/ carry them so), so rustdoc's
// markup lints do not apply here.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

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
pub(super) struct Server {
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
pub(super) struct Player {
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
pub(super) struct Ops {
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
pub(super) struct Mods {
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
pub(super) struct ModsLock {
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

mod session;
pub(super) use session::Session;
