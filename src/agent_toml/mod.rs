//! `agent.toml`: what the agent on the VPS needs to know, written by
//! cloud-init from the reconciler's data (never by hand, but read as strictly
//! as the state repo: it is read through the same spanned reader, so an
//! unknown key or a bad value is an error with file:line:col and what would be
//! valid, and every problem is reported at once).
//!
//! Defaults live here and nowhere else. Credentials (the scoped R2 keys)
//! become [`Secret`]s the moment they are read. [`AgentConfig::to_toml`]
//! (`write`) is the one writer: cloud-init renders agent.toml through it, so
//! what the reconciler writes is exactly what this reader accepts.
//!
//! Not carried, on purpose: `max_session` (the reconciler enforces it by
//! asking the agent to stop), `keep_backups` (retention runs in the
//! reconciler; the VPS can never destroy older backups) and the nudge token
//! (long-lived, so it never goes into user-data: the agent reads it from
//! `control/<s>/nudge.json`, see `crate::storage::nudge`).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::ids::{ServerName, SessionId};
pub use crate::minecraft::session_server::MOJANG_SESSION_SERVER;
use crate::repo::diag::{Diagnostic, Diagnostics, Source};
use crate::repo::duration::Duration;
use crate::repo::reader::{self, Cx, Table};
use crate::secret::Secret;
use crate::storage::credentials::CredentialsLife;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the agent config {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the agent config {file} has {} problem(s)", diags.len())]
    Invalid { file: String, diags: Vec<Diagnostic> },
}

mod write;

/// What the sleeping listener shows before server.toml's motd is known.
pub use crate::repo::model::DEFAULT_MOTD;

/// Where the world, the assets and the control channel live.
#[derive(Clone, Debug, PartialEq)]
pub enum StorageConfig {
    /// A local directory (tests, a home server).
    Dir(PathBuf),
    /// An R2 (S3) bucket with short-lived credentials scoped to this server's prefixes.
    R2 {
        endpoint: String,
        bucket: String,
        access_key_id: Secret,
        secret_access_key: Secret,
        session_token: Option<Secret>,
        /// When the keys were issued and expire (`credentials_issued` /
        /// `credentials_expires`): the agent fetches renewed ones once a
        /// quarter of that life is left. `None`: keys that do not expire.
        life: Option<CredentialsLife>,
    },
}

pub use crate::lifecycle::Timers;

/// A user name as `useradd` accepts it, without the odd corners: a-z, 0-9,
/// `_` and `-`, starting with a letter or `_`, at most 32 characters.
pub fn valid_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    first_ok && s.len() <= 32 && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[derive(Clone, Debug, PartialEq)]
pub struct AgentConfig {
    pub server: ServerName,
    /// When Hetzner created the VPS: billed hours count from here. `None`: the agent's start.
    pub server_created: Option<DateTime<Utc>>,
    /// The session this VPS was created for: the agent provisions only from
    /// a `desired.json` naming it. `None`: a config written before the
    /// session was carried (the agent then takes whatever document it finds).
    pub session: Option<SessionId>,
    pub storage: StorageConfig,
    /// server.toml's motd: what the sleeping listener shows while Minecraft is stopped.
    pub motd: String,
    pub game_port: u16,
    pub rcon_port: u16,
    pub minecraft_dir: PathBuf,
    /// The user the JVM runs as, who gets `minecraft_dir` (cloud-init sets
    /// `minecraft`; see `agent::user`). `None`: the agent's own user, as in
    /// tests and on a home server.
    pub minecraft_user: Option<String>,
    /// The JVM command line, program first.
    pub java: Vec<String>,
    pub timers: Timers,
    /// The session server the sleeping listener asks whether a login is who
    /// it says (Mojang's unless a test points it at a fake).
    pub session_server: String,
}

pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&path.display().to_string(), &text)
}

/// Parse the config's text; `file` names it in messages.
pub fn parse(file: &str, text: &str) -> Result<AgentConfig, ConfigError> {
    let src = Source::new(file, text);
    let mut diags = Diagnostics::default();
    let cfg = {
        let mut cx = Cx {
            src: &src,
            diags: &mut diags,
        };
        reader::parse_document(&mut cx, text).and_then(|doc| read(&mut cx, Table::new(&doc, "")))
    };
    match cfg {
        Some(c) if !diags.has_errors() => Ok(c),
        _ => Err(ConfigError::Invalid {
            file: file.to_string(),
            diags: diags.into_sorted(),
        }),
    }
}

fn read(cx: &mut Cx<'_>, mut root: Table<'_, '_>) -> Option<AgentConfig> {
    let server = root.required(cx, "server", "add `server = \"grove\"`, the `name` from server.toml", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        let ok = !s.value.is_empty() && s.value.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        ok.then(|| ServerName::new(s.value.clone())).or_else(|| {
            cx.error(s.span, format!("`{n}` = \"{}\" is not a server name", s.value))
                .help("use a-z, 0-9 and -, as in server.toml");
            None
        })
    });
    let server_created = root.optional(cx, "server_created", reader::datetime);
    let session = root.optional(cx, "session", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        let ok = !s.value.is_empty() && s.value.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        ok.then(|| SessionId::new(s.value.clone())).or_else(|| {
            cx.error(s.span, format!("`{n}` = \"{}\" is not a session id", s.value))
                .help("a session id looks like \"20261122-1930-eu\" (start time and region key)");
            None
        })
    });
    let motd = root
        .optional(cx, "motd", |cx, n, v| reader::string(cx, n, v).map(|s| s.value))
        .unwrap_or_else(|| DEFAULT_MOTD.to_string());
    let game_port = root
        .optional(cx, "game_port", |cx, n, v| reader::integer_in(cx, n, v, 1, 65535))
        .map_or(crate::minecraft::GAME_PORT, |p| p as u16);
    let rcon_port = root
        .optional(cx, "rcon_port", |cx, n, v| reader::integer_in(cx, n, v, 1, 65535))
        .map_or(crate::minecraft::RCON_PORT, |p| p as u16);
    let minecraft_dir = root.required(cx, "minecraft_dir", "add `minecraft_dir = \"/srv/minecraft\"`", |cx, n, v| {
        reader::string(cx, n, v).map(|s| PathBuf::from(s.value))
    });
    let minecraft_user = root.optional(cx, "minecraft_user", |cx, n, v| {
        let s = reader::string(cx, n, v)?;
        valid_name(&s.value).then_some(s.value.clone()).or_else(|| {
            cx.error(s.span, format!("`{n}` = \"{}\" is not a user name", s.value))
                .help("a system user such as \"minecraft\": a-z, 0-9, _ and -, starting with a letter or _, at most 32 characters");
            None
        })
    });
    let java = root.required(
        cx,
        "java",
        "add `java = [\"java\", \"-Xmx6G\", \"-jar\", \"server.jar\", \"nogui\"]`",
        |cx, n, v| {
            let args = reader::array(cx, n, v, |cx, n, v| reader::string(cx, n, v).map(|s| s.value))?;
            if args.is_empty() {
                cx.error(v.span(), format!("`{n}` is empty"))
                    .help("name the program first, then its arguments");
                return None;
            }
            Some(args)
        },
    );
    let session_server = root
        .optional(cx, "session_server", |cx, n, v| {
            let s = reader::string(cx, n, v)?;
            let ok = url::Url::parse(&s.value).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.has_host());
            ok.then_some(s.value.clone()).or_else(|| {
                cx.error(s.span, format!("`{n}` = \"{}\" is not an http(s) URL", s.value))
                    .help(format!("leave it out for Mojang's, {MOJANG_SESSION_SERVER}"));
                None
            })
        })
        .unwrap_or_else(|| MOJANG_SESSION_SERVER.to_string());
    let storage = match root.table(cx, "storage") {
        Some(t) => storage(cx, t),
        None => root.required(
            cx,
            "storage",
            "add a [storage] table with `dir` or `endpoint` + `bucket` + keys",
            |_, _, _| None,
        ),
    };
    let timers = match root.table(cx, "lifecycle") {
        Some(t) => timers(cx, t),
        None => Timers::default(),
    };
    root.finish(cx);
    Some(AgentConfig {
        server: server?,
        server_created,
        session,
        storage: storage?,
        motd,
        game_port,
        rcon_port,
        minecraft_dir: minecraft_dir?,
        minecraft_user,
        java: java?,
        timers,
        session_server,
    })
}

fn secret(cx: &mut Cx<'_>, n: &str, v: &toml::Spanned<toml::de::DeValue<'_>>) -> Option<Secret> {
    reader::string(cx, n, v).map(|s| Secret::new(s.value))
}

fn storage(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Option<StorageConfig> {
    let span = t.span();
    let dir = t.optional(cx, "dir", reader::string);
    let endpoint = t.optional(cx, "endpoint", reader::string);
    let bucket = t.optional(cx, "bucket", reader::string);
    let key_id = t.optional(cx, "access_key_id", secret);
    let key = t.optional(cx, "secret_access_key", secret);
    let token = t.optional(cx, "session_token", secret);
    let issued = t.optional(cx, "credentials_issued", reader::datetime);
    let expires = t.optional(cx, "credentials_expires", |cx, n, v| {
        let e = reader::datetime(cx, n, v)?;
        if issued.is_some_and(|i| i >= e) {
            cx.error(v.span(), format!("`{n}` is not after `credentials_issued`"))
                .help("credentials expire after they are issued");
            return None;
        }
        Some(e)
    });
    t.finish(cx);
    match (dir, endpoint) {
        (Some(dir), None) => Some(StorageConfig::Dir(PathBuf::from(dir.value))),
        (None, Some(endpoint)) => {
            if !endpoint.value.starts_with("https://") && !endpoint.value.starts_with("http://") {
                cx.error(endpoint.span, format!("`storage.endpoint` = \"{}\" is not a URL", endpoint.value))
                    .help("write it like https://<account>.r2.cloudflarestorage.com");
                return None;
            }
            let mut missing = |what: &str| {
                cx.error(span.clone(), format!("missing `{what}` in [storage]"))
                    .help("an R2 store needs endpoint, bucket, access_key_id and secret_access_key");
            };
            if bucket.is_none() {
                missing("bucket");
            }
            if key_id.is_none() {
                missing("access_key_id");
            }
            if key.is_none() {
                missing("secret_access_key");
            }
            Some(StorageConfig::R2 {
                endpoint: endpoint.value,
                bucket: bucket?.value,
                access_key_id: key_id?,
                secret_access_key: key?,
                session_token: token,
                life: issued.zip(expires).map(|(issued, expires)| CredentialsLife { issued, expires }),
            })
        }
        (Some(_), Some(e)) => {
            cx.error(e.span, "[storage] has both `dir` and `endpoint`")
                .help("use `dir` for a local directory or `endpoint` + `bucket` for R2, not both");
            None
        }
        (None, None) => {
            cx.error(span, "[storage] names no store")
                .help("add `dir = \"/var/lib/mc-gitops/storage\"` or `endpoint` + `bucket` + keys for R2");
            None
        }
    }
}

fn timers(cx: &mut Cx<'_>, mut t: Table<'_, '_>) -> Timers {
    let d = Timers::default();
    let mut dur = |cx: &mut Cx<'_>, key: &'static str, default: Duration| {
        t.optional(cx, key, |cx, n, v| {
            let d = reader::duration(cx, n, v)?;
            if d.as_secs() == 0 && key != "billing_margin" {
                cx.error(v.span(), format!("`{n}` cannot be zero"))
                    .help("write a duration like \"30s\" or \"15m\"");
                return None;
            }
            Some(d)
        })
        .unwrap_or(default)
    };
    let out = Timers {
        idle: dur(cx, "idle", d.idle),
        suspended: dur(cx, "suspended", d.suspended),
        backup_every: dur(cx, "backup_every", d.backup_every),
        boot_deadline: dur(cx, "boot_deadline", d.boot_deadline),
        heartbeat: dur(cx, "heartbeat", d.heartbeat),
        control_poll: dur(cx, "control_poll", d.control_poll),
        players_poll: dur(cx, "players_poll", d.players_poll),
        billing_margin: dur(cx, "billing_margin", d.billing_margin),
        max_crashes: d.max_crashes,
        warm_until_paid: d.warm_until_paid,
    };
    let max_crashes = t
        .optional(cx, "max_crashes", |cx, n, v| reader::integer_in(cx, n, v, 1, 100))
        .map_or(d.max_crashes, |n| n as u32);
    let warm_until_paid = t.optional(cx, "warm_until_paid", reader::boolean).unwrap_or(d.warm_until_paid);
    t.finish(cx);
    Timers {
        max_crashes,
        warm_until_paid,
        ..out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
server = "grove"
server_created = 2026-11-22T18:00:00Z
minecraft_dir = "/srv/minecraft"
java = ["java", "-jar", "server.jar", "nogui"]
[storage]
endpoint = "https://abc.r2.cloudflarestorage.com"
bucket = "grove-worlds"
access_key_id = "AKID"
secret_access_key = "very-secret-key"
credentials_issued = 2026-11-22T18:00:00Z
credentials_expires = 2026-11-29T18:00:00Z
[lifecycle]
idle = "10m"
"#;

    #[test]
    fn the_session_is_read_and_a_bad_one_named() {
        let c = parse("agent.toml", &format!("session = \"20261122-1800-eu\"\n{GOOD}")).unwrap();
        assert_eq!(c.session, Some(SessionId::new("20261122-1800-eu")));
        let Err(ConfigError::Invalid { diags, .. }) = parse("agent.toml", &format!("session = \"Nov 22\"\n{GOOD}")) else {
            panic!("a bad session id is refused");
        };
        let text = diags.iter().map(|d| d.to_string()).collect::<String>();
        assert!(text.contains("`session` = \"Nov 22\" is not a session id"), "{text}");
    }

    #[test]
    fn the_minecraft_user_is_read_and_a_bad_one_named() {
        assert_eq!(
            parse("agent.toml", GOOD).unwrap().minecraft_user,
            None,
            "absent: the agent's own user"
        );
        let c = parse("agent.toml", &format!("minecraft_user = \"minecraft\"\n{GOOD}")).unwrap();
        assert_eq!(c.minecraft_user.as_deref(), Some("minecraft"));
        let Err(ConfigError::Invalid { diags, .. }) = parse("agent.toml", &format!("minecraft_user = \"root:x\"\n{GOOD}")) else {
            panic!("a bad user name is refused");
        };
        let text = diags.iter().map(|d| d.to_string()).collect::<String>();
        assert!(
            text.contains("agent.toml:1:18: error: `minecraft_user` = \"root:x\" is not a user name"),
            "{text}"
        );
    }

    #[test]
    fn a_full_config_reads_with_defaults_filled_in() {
        let c = parse("agent.toml", GOOD).unwrap();
        assert_eq!(c.server.as_str(), "grove");
        assert_eq!(c.server_created, Some("2026-11-22T18:00:00Z".parse().unwrap()));
        assert_eq!(c.session, None, "optional: configs written before it carry none");
        assert_eq!(c.timers.idle, Duration::from_mins(10));
        assert_eq!(c.timers.suspended, Duration::from_mins(45));
        assert_eq!(c.timers.heartbeat, Duration::from_secs(30));
        assert_eq!(c.game_port, 25565);
        assert!(matches!(c.storage, StorageConfig::R2 { ref bucket, .. } if bucket == "grove-worlds"));
        let StorageConfig::R2 { life: Some(life), .. } = &c.storage else {
            panic!("{:?}", c.storage)
        };
        assert_eq!(life.expires, "2026-11-29T18:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(c.motd, DEFAULT_MOTD);
        assert!(c.timers.warm_until_paid);
        assert_eq!(c.session_server, MOJANG_SESSION_SERVER);
        assert!(!format!("{c:?}").contains("very-secret-key"), "secrets never print");
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let text = "server = \"grove\"\nminecraft_dir = \"/srv\"\njava = []\nidle = \"15m\"\n[storage]\ndir = \"/x\"\n[lifecycle]\nidle = \"15 minutes\"\nheartbeet = \"30s\"\n";
        let Err(ConfigError::Invalid { diags, .. }) = parse("agent.toml", text) else {
            panic!("should be refused")
        };
        let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        let all = lines.join("\n");
        assert!(all.contains("agent.toml:3:8: error: `java` is empty"), "{all}");
        assert!(all.contains("agent.toml:4:1: error: unknown key `idle` at the top level"), "{all}");
        assert!(
            all.contains("agent.toml:8:8: error: `lifecycle.idle` = \"15 minutes\" is not a duration"),
            "{all}"
        );
        assert!(
            all.contains("agent.toml:9:1: error: unknown key `heartbeet` in [lifecycle]"),
            "{all}"
        );
        assert!(all.contains("did you mean `heartbeat`?"), "{all}");
        assert_eq!(diags.len(), 4, "{all}");
    }

    #[test]
    fn storage_must_name_exactly_one_store() {
        let base = "server = \"grove\"\nminecraft_dir = \"/srv\"\njava = [\"java\"]\n";
        let both = format!("{base}[storage]\ndir = \"/x\"\nendpoint = \"https://e\"\n");
        let none = format!("{base}[storage]\n");
        let half = format!("{base}[storage]\nendpoint = \"https://e\"\nbucket = \"b\"\n");
        for (text, want) in [
            (both, "has both `dir` and `endpoint`"),
            (none, "names no store"),
            (half, "missing `access_key_id` in [storage]"),
        ] {
            let Err(ConfigError::Invalid { diags, .. }) = parse("agent.toml", &text) else {
                panic!("{text} should be refused")
            };
            assert!(diags.iter().any(|d| d.message.contains(want)), "{diags:?}");
        }
    }
}
