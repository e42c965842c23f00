//! The desired state: what the state repo's people-written files say, after
//! validation. Plain data, no spans, no I/O; the planner reads only this and
//! the observed state.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::duration::Duration;
use crate::ids::{Location, PlayerName, RegionKey, ServerName, ServerType, ZoneName};

/// Everything a state repo asks for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Desired {
    pub server: ServerConfig,
    /// Sorted by name, case-insensitively, so rendered files are stable.
    pub players: Vec<Player>,
    pub ops: Vec<Op>,
    pub mods: Mods,
    /// Every repo has one: it pins the server jar even when no mod is wanted.
    pub lock: ModsLock,
    /// Files under `config/`, keyed by their path below it (`lithium.properties`).
    pub config_files: BTreeMap<String, Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SwitchState {
    Running,
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerConfig {
    pub name: ServerName,
    pub state: SwitchState,
    pub region: RegionKey,
    /// A backup to restore at the next start, by its key name.
    pub restore: Option<String>,
    pub minecraft: Minecraft,
    pub lifecycle: Lifecycle,
    pub budget: Budget,
    pub dns: Dns,
    pub storage: Option<Storage>,
    pub notify: Notify,
    pub github: Option<Github>,
    pub ssh: Ssh,
    pub regions: BTreeMap<RegionKey, Region>,
    /// `server.properties` overrides, already checked against the known keys.
    pub properties: BTreeMap<String, String>,
    /// `[stop]`: an admin's force-stop of a stop that waits for a snapshot.
    pub stop: StopSettings,
    /// `[schedule]`: planned sittings and quiet hours (`repo::schedule`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<super::schedule::Schedule>,
}

/// `[stop]` in server.toml.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StopSettings {
    pub force: Option<ForceStop>,
}

/// `[stop] force = { session = "…", accept_backup = "…", reason = "…" }`:
/// delete `session`'s server without its final snapshot, accepting the loss
/// of every change since `accept_backup`, which must be the current verified
/// snapshot. server.toml is admin-only (CODEOWNERS and the check's privilege
/// rule), so only an admin can write it; the session file records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForceStop {
    pub session: crate::ids::SessionId,
    pub accept_backup: String,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Loader {
    Fabric,
    Vanilla,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Minecraft {
    pub version: String,
    pub loader: Loader,
    /// JVM heap in MiB.
    pub memory_mb: u32,
    pub motd: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lifecycle {
    pub idle: Duration,
    pub suspended: Duration,
    pub backup_every: Duration,
    pub keep_backups: u32,
    pub max_session: Duration,
    pub boot_deadline: Duration,
    /// A suspended server stays warm until shortly before its paid hour
    /// ends (`false`: it is terminated as soon as `suspended` elapses).
    pub warm_until_paid: bool,
    /// Said in game before a stop players would feel (`[]`: no countdown).
    pub stop_warnings: crate::repo::stop_warnings::StopWarnings,
}

/// The motd when server.toml names none (and what the agent shows without one).
pub const DEFAULT_MOTD: &str = "A Minecraft server";

/// The defaults, in one place.
impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            idle: Duration::from_mins(15),
            suspended: Duration::from_mins(45),
            backup_every: Duration::from_mins(30),
            keep_backups: 10,
            max_session: Duration::from_hours(12),
            boot_deadline: Duration::from_mins(10),
            warm_until_paid: true,
            stop_warnings: crate::repo::stop_warnings::StopWarnings::standard(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Budget {
    pub monthly: Decimal,
    pub currency: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dns {
    pub zone: ZoneName,
    /// `mc`, or `@` for the apex.
    pub record: String,
    pub srv: bool,
}

impl Dns {
    /// The A record's full name: `mc.grove.place`.
    pub fn host(&self) -> String {
        if self.record == "@" {
            self.zone.to_string()
        } else {
            format!("{}.{}", self.record, self.zone)
        }
    }

    /// The SRV record's full name: `_minecraft._tcp.grove.place`.
    pub fn srv_name(&self) -> String {
        format!("_minecraft._tcp.{}", self.zone)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Storage {
    pub bucket: String,
    pub account_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Notify {
    pub discord: bool,
    pub events: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Github {
    pub repo: Option<String>,
    pub admins: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Ssh {
    pub keys: Vec<String>,
    pub allow_from: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Region {
    pub locations: Vec<Location>,
    pub server_types: Vec<ServerType>,
    pub image: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Player {
    pub name: PlayerName,
    pub uuid: Option<crate::ids::PlayerUuid>,
    pub added_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Op {
    pub name: PlayerName,
    pub level: u8,
    pub bypass_players_limit: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Server,
    Client,
    Both,
}

impl Side {
    pub fn on_server(self) -> bool {
        matches!(self, Side::Server | Side::Both)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Mods {
    pub allow_beta: bool,
    /// By slug.
    pub wanted: BTreeMap<String, WantedMod>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WantedMod {
    pub version: Option<String>,
    pub side: Option<Side>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModsLock {
    pub minecraft: String,
    pub loader: Loader,
    /// Fabric's loader and installer (server launcher) versions; `None` for vanilla.
    pub loader_version: Option<String>,
    pub installer_version: Option<String>,
    /// The jar the server runs (`[server]`). `None` only in a lock written
    /// before server jars were pinned, which the loader reports as stale, so
    /// a loaded [`Desired`] always has it.
    pub server: Option<ServerJar>,
    pub mods: Vec<LockedMod>,
    /// What a first Fabric boot would download itself (`[[cache]]`), stored
    /// in `assets/<server>/` by the reconciler and placed by the agent. Empty
    /// in an older lock: no cache, the server downloads them as before.
    pub cache: Vec<CachedFile>,
}

/// A file placed in the server directory before the first boot so that the
/// server does not download it (docs/coldstart.md, "The library cache"):
/// the reconciler fetches `url` once, stores it by sha256, and the agent
/// keeps it only with this sha256. `path` is relative to the server
/// directory and stays inside it (the parser checks).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CachedFile {
    pub path: String,
    pub url: String,
    pub size: u64,
    pub sha256: String,
    /// The publisher's own hash (Mojang's sha1), checked when locking.
    pub sha1: Option<String>,
}

/// The jar installed as `server.jar`: Fabric's server launcher or Mojang's
/// server jar, with the size and hashes `mods lock` computed from its bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerJar {
    pub file: String,
    pub url: String,
    pub size: u64,
    pub sha1: String,
    pub sha512: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LockedMod {
    pub slug: String,
    pub project_id: String,
    pub version_id: String,
    pub version_number: String,
    pub side: Side,
    pub requested: bool,
    pub file: String,
    pub url: String,
    pub size: u64,
    pub sha1: String,
    pub sha512: String,
    pub dependencies: Vec<String>,
}

impl Desired {
    pub fn region(&self) -> &Region {
        // The loader refuses a `region` that is not a key of `[regions]`.
        &self.server.regions[&self.server.region]
    }
}
