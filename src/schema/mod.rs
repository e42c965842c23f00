//! JSON Schemas (draft-07) for the state repo's files, for editors: Taplo /
//! Even Better TOML read the `#:schema ./.mc-gitops/schema/server.json` line at
//! the top of each file. `mc-gitops schema --out DIR` writes them.
//!
//! The types in `raw` are never built: they mirror the keys the loader in
//! [`crate::repo`] and `crate::repo::ledger::parse` accepts, and derive their
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

/// The types the schemas are derived from (never built: they only describe
/// files).
#[allow(dead_code)]
mod raw;

#[cfg(test)]
mod tests;
