//! The type the schema of a ledger session file
//! (`sessions/YYYY/MM/<id>.toml`, written by the bot) is derived from: kept
//! apart from the configuration files an admin edits.

use super::*;

/// One session, written by the bot: where, when, what it cost. A session without `ended` is open: the bot believes a server is running.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Session {
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
