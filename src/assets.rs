//! The files the server needs, rendered from the desired state: whitelist,
//! ops, `server.properties`, `eula.txt`, `config/`, and the jars mods.lock
//! pins (`server.jar` and the server-side mods), which the VPS downloads
//! from their URL and verifies by sha512), and the lock's `[[cache]]` files
//! (what a first Fabric boot downloads), which the reconciler fetches once
//! and stores like the text files, by sha256.
//! Rendering is pure and byte-stable so unchanged files hash the same and are
//! never shipped twice.
//!
//! It sits with the state files, below both ends: the planner diffs these
//! against what the agent reports, observe checks the stored copies, and the
//! agent verifies what it downloads with the same hashing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::ids::PlayerName;
use crate::repo::Desired;
use crate::repo::properties;

/// One line of `ops.json`, as the control channel carries it: the one type
/// for the plan's wanted ops, desired.json's `ops` (`storage::ControlOp` is
/// this type) and what observe reads back from it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OpEntry {
    pub name: PlayerName,
    pub level: u8,
}

/// A file for the server: its hash (`sha256:…`, or `sha512:…` for a mod
/// known by its lock entry), and its text when it is text (for diffs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileState {
    pub hash: String,
    #[serde(skip)]
    pub text: Option<String>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `whitelist.json` as the server reads it. Players without a UUID yet are
/// left out (the server drops such entries anyway); the loader warns about them.
pub fn whitelist_json(d: &Desired) -> String {
    let entries: Vec<_> = d
        .players
        .iter()
        .filter_map(|p| p.uuid.as_ref().map(|u| json!({ "uuid": u, "name": p.name })))
        .collect();
    pretty(&entries)
}

pub fn ops_json(d: &Desired) -> String {
    let uuid_of = |name: &str| d.players.iter().find(|p| p.name.as_str() == name).and_then(|p| p.uuid);
    let entries: Vec<_> = d
        .ops
        .iter()
        .filter_map(|o| {
            uuid_of(o.name.as_str())
                .map(|u| json!({ "uuid": u, "name": o.name, "level": o.level, "bypassesPlayerLimit": o.bypass_players_limit }))
        })
        .collect();
    pretty(&entries)
}

fn pretty(v: &impl serde::Serialize) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("JSON values always serialise");
    s.push('\n');
    s
}

pub fn whitelist_names(d: &Desired) -> Vec<crate::ids::PlayerName> {
    d.players.iter().map(|p| p.name.clone()).collect()
}

/// Each whitelisted player's account UUID, by name, for those whose file
/// has one (`desired.json`'s `whitelist_uuids`: the sleeping listener wakes
/// the server only for that account).
pub fn whitelist_uuids(d: &Desired) -> BTreeMap<PlayerName, crate::ids::PlayerUuid> {
    d.players.iter().filter_map(|p| Some((p.name.clone(), p.uuid?))).collect()
}

pub fn op_entries(d: &Desired) -> Vec<OpEntry> {
    let mut v: Vec<OpEntry> = d
        .ops
        .iter()
        .map(|o| OpEntry {
            name: o.name.clone(),
            level: o.level,
        })
        .collect();
    v.sort();
    v
}

/// A file as apply ships it: its state for planning, plus the bytes to store
/// (text and config files), where the VPS downloads it (mods), or where the
/// reconciler fetches the bytes it stores (cached files).
#[derive(Clone, Debug)]
pub struct Rendered {
    pub state: FileState,
    pub bytes: Option<Vec<u8>>,
    pub url: Option<String>,
    pub size: Option<u64>,
    /// A cached file's public URL: apply downloads it, checks its sha256
    /// and size against the lock, and stores it (`apply::cache`).
    pub source: Option<String>,
}

fn stored(bytes: Vec<u8>) -> Rendered {
    let text = String::from_utf8(bytes.clone()).ok();
    Rendered {
        state: FileState {
            hash: format!("sha256:{}", sha256_hex(&bytes)),
            text,
        },
        size: Some(bytes.len() as u64),
        bytes: Some(bytes),
        url: None,
        source: None,
    }
}

/// Every file the server should have, by path relative to its directory.
pub fn render_files(d: &Desired) -> BTreeMap<String, Rendered> {
    let mut out = BTreeMap::new();
    out.insert("whitelist.json".into(), stored(whitelist_json(d).into_bytes()));
    out.insert("ops.json".into(), stored(ops_json(d).into_bytes()));
    out.insert(
        "server.properties".into(),
        stored(properties::render(&d.server.properties, &d.server.minecraft.motd).into_bytes()),
    );
    out.insert(
        "eula.txt".into(),
        stored(b"# Accepted in server.toml ([minecraft] eula = true)\neula=true\n".to_vec()),
    );
    for (rel, bytes) in &d.config_files {
        out.insert(format!("config/{rel}"), stored(bytes.clone()));
    }
    // The loader refuses a lock without a server jar (as stale), so a loaded
    // repo always ships one; it goes where the agent's `java -jar` looks.
    if let Some(jar) = &d.lock.server {
        out.insert(SERVER_JAR.into(), downloaded(&jar.url, &jar.sha512, jar.size));
    }
    for m in d.lock.mods.iter().filter(|m| m.side.on_server()) {
        out.insert(format!("mods/{}", m.file), downloaded(&m.url, &m.sha512, m.size));
    }
    for c in &d.lock.cache {
        out.insert(c.path.clone(), cached(c));
    }
    out
}

/// Where the server jar goes, relative to the Minecraft directory: the agent
/// runs `java -jar server.jar` there, whichever jar mods.lock pins.
pub const SERVER_JAR: &str = "server.jar";

/// A file the VPS downloads from `url` and keeps only if it has this sha512 and size.
fn downloaded(url: &str, sha512: &str, size: u64) -> Rendered {
    Rendered {
        state: FileState {
            hash: format!("sha512:{sha512}"),
            text: None,
        },
        bytes: None,
        url: Some(url.to_string()),
        size: Some(size),
        source: None,
    }
}

/// A cached file: stored by sha256 like a text file, but its bytes come from
/// `url` when apply stores it, never from the repo.
fn cached(c: &crate::repo::CachedFile) -> Rendered {
    Rendered {
        state: FileState {
            hash: format!("sha256:{}", c.sha256),
            text: None,
        },
        bytes: None,
        url: None,
        size: Some(c.size),
        source: Some(c.url.clone()),
    }
}

/// Every file's state, for the planner.
pub fn render(d: &Desired) -> BTreeMap<String, FileState> {
    render_files(d).into_iter().map(|(k, r)| (k, r.state)).collect()
}
