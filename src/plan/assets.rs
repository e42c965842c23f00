//! The files the server needs, rendered from the desired state: whitelist,
//! ops, `server.properties`, `eula.txt`, `config/` and the server-side mods.
//! Rendering is pure and byte-stable so unchanged files hash the same and are
//! never shipped twice.

use std::collections::BTreeMap;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::observe::{FileState, OpEntry};
use crate::repo::Desired;
use crate::repo::properties;

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn text_file(text: String) -> FileState {
    FileState {
        hash: format!("sha256:{}", sha256_hex(text.as_bytes())),
        text: Some(text),
    }
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
    let uuid_of = |name: &str| d.players.iter().find(|p| p.name.as_str() == name).and_then(|p| p.uuid.clone());
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

/// Every file the server should have, by path relative to its directory.
pub fn render(d: &Desired) -> BTreeMap<String, FileState> {
    let mut out = BTreeMap::new();
    out.insert("whitelist.json".into(), text_file(whitelist_json(d)));
    out.insert("ops.json".into(), text_file(ops_json(d)));
    out.insert(
        "server.properties".into(),
        text_file(properties::render(&d.server.properties, &d.server.minecraft.motd)),
    );
    out.insert(
        "eula.txt".into(),
        text_file("# Accepted in server.toml ([minecraft] eula = true)\neula=true\n".into()),
    );
    for (rel, bytes) in &d.config_files {
        let state = match std::str::from_utf8(bytes) {
            Ok(t) => text_file(t.to_string()),
            Err(_) => FileState {
                hash: format!("sha256:{}", sha256_hex(bytes)),
                text: None,
            },
        };
        out.insert(format!("config/{rel}"), state);
    }
    if let Some(lock) = &d.lock {
        for m in lock.mods.iter().filter(|m| m.side.on_server()) {
            out.insert(
                format!("mods/{}", m.file),
                FileState {
                    hash: format!("sha512:{}", m.sha512),
                    text: None,
                },
            );
        }
    }
    out
}
