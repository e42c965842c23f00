//! How big and how many: every bound on what the state repo may hold.
//!
//! Anyone who can open a pull request can put a file in the repo, and the
//! check reads it before anyone has reviewed it; without bounds a 107 MB
//! player file took 60 s and 1.1 GB to refuse. Each bound is generous for a
//! friends' server (ten times or more what a real repo needs) and small
//! enough that reading the largest repo accepted stays in seconds and a few
//! hundred MB. Refusals name the constant, so a user hitting one can find
//! the reason here.

/// `server.toml`: the example, with a comment on every key, is about 6 KB.
pub const MAX_SERVER_TOML_BYTES: u64 = 64 * 1024;
/// One `players/<Name>.toml`: three short keys and comments.
pub const MAX_PLAYER_FILE_BYTES: u64 = 8 * 1024;
/// `ops.toml`: a few lines per op, at most one op per player.
pub const MAX_OPS_TOML_BYTES: u64 = 256 * 1024;
/// `mods.toml`: one line per mod.
pub const MAX_MODS_TOML_BYTES: u64 = 256 * 1024;
/// `mods.lock`: about 800 bytes per locked mod.
pub const MAX_MODS_LOCK_BYTES: u64 = 2 * 1024 * 1024;
/// One file under `config/`, shipped to the VPS as it is (mod settings).
pub const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;
/// One `sessions/YYYY/MM/<id>.toml`, written by the bot: about 1 KB plus
/// 80 bytes per event.
pub const MAX_SESSION_FILE_BYTES: u64 = 256 * 1024;
/// One template under `.mc-gitops/templates/`: the built-in ones are under 2 KB.
pub const MAX_TEMPLATE_BYTES: u64 = 64 * 1024;
/// One `costs/YYYY-MM.toml`, the bot's own summary of a month.
pub const MAX_COSTS_FILE_BYTES: u64 = 64 * 1024;

/// Files under `players/`: the whitelist.
pub const MAX_PLAYERS: usize = 1000;
/// `[mods]` entries in mods.toml, and `[[mod]]` entries in mods.lock
/// (which adds dependencies); large modpacks have 300–400.
pub const MAX_MODS: usize = 1000;
/// Files under `config/`.
pub const MAX_CONFIG_FILES: usize = 500;
/// Files under `sessions/`: a session a day for 270 years. The plan
/// benchmark's ledger has 5,000.
pub const MAX_SESSIONS: usize = 100_000;
/// Directory levels below a top-level directory (`sessions/YYYY/MM` is 2;
/// mod configs nest a little deeper).
pub const MAX_DIR_DEPTH: usize = 8;
/// Everything read from the repo together.
pub const MAX_REPO_BYTES: u64 = 128 * 1024 * 1024;

/// A jar's file name in mods.lock (real ones are about 60).
pub const MAX_FILE_NAME_CHARS: usize = 128;
/// A URL in mods.lock (Modrinth's CDN URLs are about 120 characters).
pub const MAX_URL_CHARS: usize = 2048;
/// Any other string mods.lock records (ids, version numbers, dependencies).
pub const MAX_LOCK_STRING_CHARS: usize = 256;
/// `added_by` is a GitHub login: 1–39 letters, digits and `-`.
pub const MAX_GITHUB_LOGIN_CHARS: usize = 39;
/// A `[properties]` string value, written into server.properties on the VPS.
pub const MAX_PROPERTY_CHARS: usize = 4096;
/// One `[ssh] keys` entry, written into the VPS's user-data (an RSA 4096 key is ~750).
pub const MAX_SSH_KEY_CHARS: usize = 2048;

/// What one template may render to; a month summary is a few KB and
/// COSTS.md grows by a few hundred bytes a month.
pub const MAX_RENDERED_BYTES: usize = 4 * 1024 * 1024;
/// Steps a template may take (minijinja's fuel): the built-in templates
/// take a few thousand for a year of sessions.
pub const TEMPLATE_FUEL: u64 = 5_000_000;
