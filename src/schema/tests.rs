//! The schemas checked against the example state repo (every file passes)
//! and against typical mistakes (each is rejected).

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
