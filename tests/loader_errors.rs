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

const LOCK_HEAD: &str =
    "version = 1\nminecraft = \"1.20.1\"\nloader = \"fabric\"\nloader_version = \"0.16.10\"\ninstaller_version = \"1.0.1\"\n";

/// A `[server]` table; `versions` is `loader.X-launcher.Y` as in Fabric's file name.
fn server_table(versions: &str, url_versions: &str) -> String {
    format!(
        "\n[server]\nfile = \"fabric-server-mc.1.20.1-{versions}.jar\"\n\
         url = \"https://meta.fabricmc.net/v2/versions/loader/1.20.1/{url_versions}/server/jar\"\n\
         size = 72\nsha1 = \"{}\"\nsha512 = \"{}\"\n",
        "a".repeat(40),
        "b".repeat(128)
    )
}

/// The lock of a repo without mods: it pins only the server jar.
fn lock() -> String {
    format!("{LOCK_HEAD}{}", server_table("loader.0.16.10-launcher.1.0.1", "0.16.10/1.0.1"))
}

fn files(extra: &[(&str, &str)]) -> RepoFiles {
    let mut f = RepoFiles::default();
    f.files.insert("server.toml".into(), SERVER.as_bytes().to_vec());
    f.files.insert("mods.lock".into(), lock().into_bytes());
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
            // The same UUID in capitals is the same account: the loader
            // reads UUIDs lowercased.
            "players/Jeb.toml",
            "name = \"Jeb\"\nuuid = \"8667BA71-B85A-4004-AF54-457A9734EED7\"\n",
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
    let mut f = files(&[]);
    f.files.remove("mods.lock");
    assert_eq!(
        problems(&f),
        vec!["mods.lock: error: is missing: it pins the server jar the VPS runs, so every state repo has one, even without mods"]
    );
    assert_eq!(helps(&f), vec!["run `mc-gitops mods lock` and commit mods.lock"]);

    let with_server = lock();
    let f = files(&[("mods.toml", "[mods]\nlithium = {}\n"), ("mods.lock", &with_server)]);
    assert_eq!(
        problems(&f),
        vec!["mods.lock: error: is stale: mods.toml asks for `lithium` but mods.lock has no entry for it"]
    );
}

/// A lock written before server jars were pinned still reads, but is stale until `mods lock` runs.
#[test]
fn a_lock_without_a_server_jar_is_stale() {
    let f = files(&[("mods.lock", LOCK_HEAD)]);
    let got = problems(&f);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("mods.lock: error: is stale: mods.lock pins no server jar (it has no [server] table"),
        "{got:?}"
    );
    assert_eq!(helps(&f), vec!["run `mc-gitops mods lock` and commit mods.lock"]);
}

#[test]
fn a_server_jar_for_other_versions_is_stale() {
    let other = format!("{LOCK_HEAD}{}", server_table("loader.0.16.9-launcher.1.0.1", "0.16.9/1.0.1"));
    assert_eq!(
        problems(&files(&[("mods.lock", &other)])),
        vec![
            "mods.lock: error: is stale: mods.lock's [server] is `fabric-server-mc.1.20.1-loader.0.16.9-launcher.1.0.1.jar`, \
             but its minecraft and loader versions call for `fabric-server-mc.1.20.1-loader.0.16.10-launcher.1.0.1.jar`"
        ]
    );
    let moved = format!("{LOCK_HEAD}{}", server_table("loader.0.16.10-launcher.1.0.1", "0.16.10/1.0.0"));
    assert_eq!(
        problems(&files(&[("mods.lock", &moved)])),
        vec![
            "mods.lock: error: is stale: mods.lock's [server] url is https://meta.fabricmc.net/v2/versions/loader/1.20.1/0.16.10/1.0.0/server/jar, \
             but Fabric meta serves `fabric-server-mc.1.20.1-loader.0.16.10-launcher.1.0.1.jar` at \
             https://meta.fabricmc.net/v2/versions/loader/1.20.1/0.16.10/1.0.1/server/jar"
        ]
    );
    // A lock for another game version says so first: the jar follows from it.
    let old_game = lock().replace("minecraft = \"1.20.1\"", "minecraft = \"1.19.4\"");
    assert_eq!(
        problems(&files(&[("mods.lock", &old_game)])),
        vec!["mods.lock: error: is stale: mods.lock was resolved for Minecraft 1.19.4, server.toml asks for 1.20.1"]
    );
}

#[test]
fn every_problem_in_the_server_table_is_positioned() {
    let bad = format!(
        "{LOCK_HEAD}\n[server]\nfile = \"../server.jar\"\nurl = \"http://meta.fabricmc.net/x\"\nsize = 0\nsha1 = \"XYZ\"\nsha512 = \"{}\"\nextra = 1\n",
        "b".repeat(128)
    );
    assert_eq!(
        problems(&files(&[("mods.lock", &bad)])),
        vec![
            "mods.lock:8:8: error: `server.file` = \"../server.jar\" is not a plain file name ending in .jar",
            "mods.lock:9:7: error: `server.url` must be an https:// URL",
            "mods.lock:10:8: error: `server.size` is 0, outside 1–9223372036854775807",
            "mods.lock:11:8: error: `server.sha1` must be 40 lowercase hex digits",
            "mods.lock:13:1: error: unknown key `extra` in [server]",
        ]
    );
}

#[test]
fn fabric_versions_belong_to_fabric_locks_only() {
    let no_installer = lock().replace("installer_version = \"1.0.1\"\n", "");
    assert_eq!(
        problems(&files(&[("mods.lock", &no_installer)])),
        vec!["mods.lock:1:1: error: `installer_version` is required when `loader = \"fabric\"`"]
    );
    let vanilla_server = SERVER.replace("loader = \"fabric\"", "loader = \"vanilla\"");
    let vanilla_lock = format!(
        "version = 1\nminecraft = \"1.20.1\"\nloader = \"vanilla\"\nloader_version = \"0.16.10\"\n\n[server]\nfile = \"minecraft_server.1.20.1.jar\"\n\
         url = \"https://piston-data.mojang.com/v1/objects/{0}/server.jar\"\nsize = 9\nsha1 = \"{0}\"\nsha512 = \"{1}\"\n",
        "a".repeat(40),
        "b".repeat(128)
    );
    let mut f = files(&[("mods.lock", &vanilla_lock)]);
    f.files.insert("server.toml".into(), vanilla_server.into_bytes());
    assert_eq!(
        problems(&f),
        vec!["mods.lock:4:18: error: `loader_version` belongs to a Fabric lock, but `loader = \"vanilla\"`"]
    );
    let fine = vanilla_lock.replace("loader_version = \"0.16.10\"\n", "");
    f.files.insert("mods.lock".into(), fine.into_bytes());
    assert_eq!(problems(&f), Vec::<String>::new(), "a vanilla lock pins only Mojang's jar");
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

/// Regression (issue 11): `idle` and `suspended` had a floor of one minute,
/// so a day could not be played through in minutes; and `warm_until_paid`
/// did not exist, so a suspended server always waited for the paid hour.
#[test]
fn lifecycle_timers_go_down_to_five_seconds_and_warm_until_paid_is_read() {
    let lifecycle = |body: &str| {
        let mut f = files(&[]);
        f.files
            .insert("server.toml".into(), format!("{SERVER}\n[lifecycle]\n{body}").into_bytes());
        f
    };
    let ok = repo::parse(&lifecycle("idle = \"5s\"\nsuspended = \"5s\"\nwarm_until_paid = false\n")).unwrap();
    let l = &ok.desired.server.lifecycle;
    assert_eq!((l.idle.as_secs(), l.suspended.as_secs(), l.warm_until_paid), (5, 5, false));
    let default = repo::parse(&files(&[])).unwrap();
    assert!(default.desired.server.lifecycle.warm_until_paid, "true unless set");

    let short = lifecycle("idle = \"4s\"\nsuspended = \"1s\"\nwarm_until_paid = \"no\"\n");
    let lines = SERVER.lines().count() + 2;
    let p = problems(&short);
    assert!(
        p.contains(&format!(
            "server.toml:{}:8: error: `lifecycle.idle` = \"4s\" is too short",
            lines + 1
        )),
        "{p:#?}"
    );
    assert!(
        p.contains(&format!(
            "server.toml:{}:13: error: `lifecycle.suspended` = \"1s\" is too short",
            lines + 2
        )),
        "{p:#?}"
    );
    assert!(p.iter().any(|l| l.contains("`lifecycle.warm_until_paid`")), "{p:#?}");
    assert_eq!(p.len(), 3, "{p:#?}");
    assert!(helps(&short).iter().any(|h| h == "use at least 5s"), "{:?}", helps(&short));
}

/// `[lifecycle] stop_warnings`: the countdown before a stop players would
/// feel, defaulting to 5m, 1m, 10s; `[]` or `0` turns it off; every bad
/// entry is reported at its own line and column.
#[test]
fn stop_warnings_default_turn_off_and_each_bad_entry_is_positioned() {
    let lifecycle = |body: &str| {
        let mut f = files(&[]);
        f.files
            .insert("server.toml".into(), format!("{SERVER}\n[lifecycle]\n{body}").into_bytes());
        f
    };
    let warnings = |f: &RepoFiles| repo::parse(f).unwrap().desired.server.lifecycle.stop_warnings.to_string();
    assert_eq!(warnings(&files(&[])), "5m, 1m, 10s", "the default");
    assert_eq!(
        warnings(&lifecycle("stop_warnings = [\"3s\", \"2m\"]\n")),
        "2m, 3s",
        "longest first"
    );
    assert_eq!(warnings(&lifecycle("stop_warnings = []\n")), "none");
    assert_eq!(warnings(&lifecycle("stop_warnings = 0\n")), "none");

    let line = SERVER.lines().count() + 3;
    let bad = lifecycle("stop_warnings = [\"5 min\", \"0s\", \"45m\", \"1m\"]\n");
    assert_eq!(
        problems(&bad),
        vec![
            format!(
                "server.toml:{line}:18: error: `lifecycle.stop_warnings` = \"5 min\" is not a duration: unknown unit ` ` (use h, m or s)"
            ),
            format!("server.toml:{line}:27: error: `lifecycle.stop_warnings` entry: \"0s\" is no warning (use [] for none)"),
            format!("server.toml:{line}:33: error: `lifecycle.stop_warnings` entry: \"45m\" is longer than 30m (MAX_STOP_WARNING)"),
        ]
    );
    assert_eq!(
        problems(&lifecycle("stop_warnings = [\"1m\", \"60s\"]\n")),
        vec![format!(
            "server.toml:{line}:17: error: `lifecycle.stop_warnings`: \"1m\" is listed twice"
        )]
    );
    assert_eq!(
        problems(&lifecycle("stop_warnings = 5\n")),
        vec![format!(
            "server.toml:{line}:17: error: `lifecycle.stop_warnings` = 5 is not a list of durations"
        )]
    );
    assert!(
        helps(&lifecycle("stop_warnings = 5\n"))
            .iter()
            .any(|h| h.contains("[] for no countdown")),
        "the help says how to turn it off"
    );
}

/// `[schedule]`: every bad zone, cron line and quiet range at its own place,
/// with what is valid; a good schedule loads.
#[test]
fn schedule_errors_name_the_place_and_what_is_valid() {
    let bad = format!(
        "{SERVER}\n[schedule]\ntimezone = \"Europe/Berln\"\nquiet = [\"23:30-08:00\", \"late\"]\ncolour = 1\n\n\
         [[schedule.sitting]]\nstart = \"0 19 * * FRY\"\n\n[[schedule.sitting]]\nstart = \"*/5 19 * * FRI\"\n\n\
         [[schedule.sitting]]\nstart = \"0 19 * *\"\n\n[[schedule.sitting]]\nbegin = \"0 19 * * FRI\"\n"
    );
    let mut f = files(&[]);
    f.files.insert("server.toml".into(), bad.into_bytes());
    let got = problems(&f);
    assert_eq!(
        got,
        vec![
            "server.toml:22:12: error: `schedule.timezone` = \"Europe/Berln\" is not an IANA time zone",
            "server.toml:23:25: error: `schedule.quiet` entry \"late\" is not a time range",
            "server.toml:24:1: error: unknown key `colour` in [schedule]",
            "server.toml:27:9: error: `schedule.sitting.start` = \"0 19 * * FRY\" is not a cron line: a field is out of range (minute 0–59, hour 0–23, day 1–31, month 1–12 or JAN–DEC, day of week 0–7 or SUN–SAT)",
            "server.toml:30:9: error: `schedule.sitting.start` = \"*/5 19 * * FRI\" is not a cron line: the minute must be one number: a sitting starts once",
            "server.toml:33:9: error: `schedule.sitting.start` = \"0 19 * *\" is not a cron line: 4 fields, not 5",
            "server.toml:35:1: error: missing `start` in [schedule.sitting]",
            "server.toml:36:1: error: unknown key `begin` in [schedule.sitting]",
        ],
        "{got:#?}"
    );
    assert!(helps(&f).iter().any(|h| h.contains("\"Europe/Berlin\"")));
    assert!(helps(&f).iter().any(|h| h.contains("minute hour day-of-month month day-of-week")));
    assert!(helps(&f).iter().any(|h| h.contains("\"HH:MM-HH:MM\"")));

    let good = format!(
        "{SERVER}\n[schedule]\ntimezone = \"Europe/Berlin\"\nquiet = [\"23:30-08:00\"]\n\n[[schedule.sitting]]\nstart = \"0 19 * * 5\"\n"
    );
    f.files.insert("server.toml".into(), good.into_bytes());
    let d = repo::parse(&f).expect("a good schedule loads");
    let s = d.desired.server.schedule.expect("the schedule");
    assert_eq!(s.sittings[0].start, "0 19 * * 5");
    assert_eq!(
        s.next_start("2026-12-03T00:00:00Z".parse().unwrap()),
        Some("2026-12-04T18:00:00Z".parse().unwrap())
    );
}
