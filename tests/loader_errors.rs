//! Bad input: every kind of problem is reported with its exact file:line:col
//! and a hint at what would be valid, all in one run.

use mc_gitops::repo::{self, RepoFiles};

const SERVER: &str = r#"name = "grove"
state = "running"
region = "eu"

[minecraft]
version = "1.20.1"
loader = "fabric"
memory = "6G"
eula = true

[budget]
monthly = 10.00

[dns]
zone = "grove.place"

[regions.eu]
locations = ["fsn1"]
server_types = ["cx33"]
"#;

fn files(extra: &[(&str, &str)]) -> RepoFiles {
    let mut f = RepoFiles::default();
    f.files.insert("server.toml".into(), SERVER.as_bytes().to_vec());
    for (path, text) in extra {
        f.files.insert(path.to_string(), text.as_bytes().to_vec());
    }
    f
}

/// `file:line:col: severity: message` for each problem, help lines dropped.
fn problems(f: &RepoFiles) -> Vec<String> {
    match repo::parse(f) {
        Ok(_) => vec![],
        Err(diags) => diags.iter().map(|d| d.to_string().lines().next().unwrap().to_string()).collect(),
    }
}

fn helps(f: &RepoFiles) -> Vec<String> {
    repo::parse(f)
        .err()
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d.help.clone())
        .collect()
}

#[test]
fn a_minimal_repo_is_valid() {
    assert_eq!(problems(&files(&[])), Vec::<String>::new());
}

#[test]
fn every_problem_in_server_toml_is_reported_at_once() {
    let bad = r#"name = "Grove!"
state = "on"
region = "mars"

[minecraft]
version = "1.20.1"
loader = "forge"
memory = "6 GB"
eula = true

[lifecycle]
idle = "15 minutes"
backup_evry = "30m"
keep_backups = 0

[budget]
monthly = -5

[dns]
zone = "grove.place"

[regions.eu]
locations = ["fsn9"]
server_types = ["cx33"]

[properties]
view_distance = 10
white-list = false
difficulty = "impossible"
"#;
    let mut f = files(&[]);
    f.files.insert("server.toml".into(), bad.as_bytes().to_vec());
    assert_eq!(
        problems(&f),
        vec![
            "server.toml:1:8: error: `name` = \"Grove!\" cannot name servers, hosts and storage prefixes",
            "server.toml:2:9: error: `state` = \"on\" is not allowed",
            "server.toml:7:10: error: `minecraft.loader` = \"forge\" is not allowed",
            "server.toml:8:10: error: `minecraft.memory` = \"6 GB\" is not a heap size from 1G to 64G",
            "server.toml:12:8: error: `lifecycle.idle` = \"15 minutes\" is not a duration: unknown unit ` ` (use h, m or s)",
            "server.toml:13:1: error: unknown key `backup_evry` in [lifecycle]",
            "server.toml:14:16: error: `lifecycle.keep_backups` is 0, outside 1–100",
            "server.toml:17:11: error: `budget.monthly` = -5 is below zero",
            "server.toml:23:14: error: `regions.eu.locations` = \"fsn9\" is not allowed",
            "server.toml:27:1: error: `view_distance` is not a server.properties key",
            "server.toml:28:1: error: `white-list` is managed by mc-gitops and cannot be overridden",
            "server.toml:29:14: error: `properties.difficulty` is not allowed here",
        ]
    );
    let helps = helps(&f);
    assert!(helps.iter().any(|h| h.contains("did you mean `backup_every`?")), "{helps:#?}");
    assert!(helps.iter().any(|h| h.contains("did you mean `view-distance`?")), "{helps:#?}");
    assert!(
        helps.iter().any(|h| h.contains("`fsn1`, `nbg1`, `hel1`, `ash`, `hil` or `sin`")),
        "{helps:#?}"
    );
}

#[test]
fn a_region_that_does_not_exist_names_the_valid_ones() {
    let mut f = files(&[]);
    f.files.insert(
        "server.toml".into(),
        SERVER.replace("region = \"eu\"", "region = \"us\"").into_bytes(),
    );
    assert_eq!(
        problems(&f),
        vec!["server.toml:3:10: error: `region` = \"us\" is not a key of [regions]"]
    );
    assert_eq!(helps(&f), vec!["valid regions: `eu`"]);
}

#[test]
fn toml_syntax_errors_are_positioned() {
    let mut f = files(&[]);
    f.files
        .insert("server.toml".into(), b"name = \"grove\nstate = \"running\"\n".to_vec());
    let p = problems(&f);
    assert!(p[0].starts_with("server.toml:1:"), "{p:?}");
    assert!(p[0].contains("invalid TOML"), "{p:?}");
}

#[test]
fn player_files_are_checked_and_cross_checked() {
    let f = files(&[
        (
            "players/Steve.toml",
            "name = \"Steve\"\nuuid = \"8667ba71-b85a-4004-af54-457a9734eed7\"\n",
        ),
        ("players/steve.toml", "name = \"steve\"\n"),
        ("players/Alex.toml", "name = \"Alexa\"\n"),
        ("players/ab.toml", "name = \"ab\"\n"),
        (
            "players/Notch_.toml",
            "name = \"Notch_\"\nuuid = \"not-a-uuid\"\nrole = \"admin\"\n",
        ),
        (
            "players/Jeb.toml",
            "name = \"Jeb\"\nuuid = \"8667ba71-b85a-4004-af54-457a9734eed7\"\n",
        ),
        ("players/README.md", "hello"),
    ]);
    assert_eq!(
        problems(&f),
        vec![
            "players/Alex.toml:1:8: error: `name` = \"Alexa\" does not match the file name `Alex.toml`",
            "players/Notch_.toml: warning: Notch_ has no uuid yet",
            "players/Notch_.toml:2:8: error: `uuid` = \"not-a-uuid\" is not a UUID",
            "players/Notch_.toml:3:1: error: unknown key `role` at the top level",
            "players/README.md: error: players/ holds only one `<Name>.toml` per player",
            // Files are read in path order: Jeb.toml claimed the UUID first.
            "players/Steve.toml: error: UUID 8667ba71-b85a-4004-af54-457a9734eed7 already belongs to players/Jeb.toml",
            "players/ab.toml:1:8: error: `name` = \"ab\" is not a Minecraft username",
            "players/steve.toml: error: player steve is already whitelisted by players/Steve.toml",
        ]
    );
}

#[test]
fn ops_must_be_players_with_a_valid_level() {
    let f = files(&[
        (
            "players/Steve.toml",
            "name = \"Steve\"\nuuid = \"8667ba71-b85a-4004-af54-457a9734eed7\"\n",
        ),
        (
            "ops.toml",
            "[[op]]\nname = \"Herobrine\"\nlevel = 4\n\n[[op]]\nname = \"steve\"\nlevel = 9\n",
        ),
    ]);
    assert_eq!(
        problems(&f),
        vec![
            "ops.toml:2:8: error: op \"Herobrine\" has no players/Herobrine.toml",
            "ops.toml:6:8: error: op \"steve\" is spelt \"Steve\" in players/Steve.toml",
            "ops.toml:7:9: error: `op.level` is 9, outside 1–4",
        ]
    );
}

#[test]
fn a_stale_or_missing_lock_is_an_error() {
    let f = files(&[("mods.toml", "[mods]\nlithium = {}\n")]);
    assert_eq!(problems(&f), vec!["mods.lock: error: is missing, but mods.toml asks for mods"]);
    let lock = "version = 1\nminecraft = \"1.20.1\"\nloader = \"fabric\"\nloader_version = \"0.16.10\"\ninstaller_version = \"1.0.1\"\n";
    let f = files(&[("mods.toml", "[mods]\nlithium = {}\n"), ("mods.lock", lock)]);
    assert_eq!(
        problems(&f),
        vec!["mods.lock: error: is stale: mods.toml asks for `lithium` but mods.lock has no entry for it"]
    );
}

#[test]
fn session_files_are_checked_too() {
    let f = files(&[
        (
            "sessions/2026/11/20261101-1802-eu.toml",
            "id = \"20261101-1802-eu\"\nserver = \"grove\"\nregion = \"eu\"\nstarted = 2026-11-01T18:02:11Z\nended = 2026-11-01T17:00:00Z\n",
        ),
        (
            "sessions/2026/11/x.toml",
            "id = \"y\"\nserver = \"grove\"\nregion = \"eu\"\nstarted = 2026-11-01\n",
        ),
        ("sessions/stray.toml", ""),
    ]);
    assert_eq!(
        problems(&f),
        vec![
            "sessions/2026/11/20261101-1802-eu.toml:1:1: error: session ends (2026-11-01 17:00:00 UTC) before it starts (2026-11-01 18:02:11 UTC)",
            "sessions/2026/11/x.toml:1:6: error: `id` = \"y\" does not match the file name `x.toml`",
            "sessions/2026/11/x.toml:4:11: error: `started` = 2026-11-01 is not a full date-time with an offset",
            "sessions/stray.toml: error: sessions/ holds only sessions/YYYY/MM/<id>.toml",
        ]
    );
}

#[test]
fn a_missing_uuid_is_a_warning_not_an_error() {
    let f = files(&[("players/Steve.toml", "name = \"Steve\"\n")]);
    let loaded = repo::parse(&f).expect("valid");
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].to_string().contains("Steve has no uuid yet"));
}
