//! The VPS's cloud-init user-data, rendered per session.
//!
//! Shaped so that nothing a person writes can inject into YAML or a shell:
//! the template (`cloud-init/user-data.yaml.j2`) is fixed, and minijinja's
//! formatter turns every `{{ value }}` into a JSON string literal with all
//! non-ASCII escaped — JSON strings are YAML double-quoted scalars, so a
//! value can never close its string, add a key or a line. The shell script
//! is a fixed file; it reads the per-session values (release URL, checksum)
//! from files, never from pasted text. The agent's settings go into one TOML
//! file written by the agent's own config type (`agent_toml::AgentConfig`,
//! whose reader the agent uses), mode 0600, owned by root: the agent runs as
//! root with a few capabilities and starts Minecraft as `minecraft`
//! ([`MINECRAFT_USER`], see `agent::user`), which cannot read it.
//!
//! The only credentials in it are the short-lived R2 ones scoped to this
//! server's prefixes (DESIGN: invariant 5).

use chrono::{DateTime, Utc};

use crate::agent_toml::{AgentConfig, StorageConfig, Timers};
use crate::ids::{ServerName, SessionId};
use crate::repo::model::Desired;
use crate::repo::properties::{GAME_PORT, RCON_PORT};
use crate::secret::Secret;
use crate::storage::credentials::AgentCredentials;
use crate::storage::r2::r2_endpoint;

/// Hetzner accepts 32 KiB; staying under a quarter leaves room to grow.
pub const MAX_USER_DATA: usize = 8 * 1024;
/// Where the template says the agent reads its settings.
pub const AGENT_CONFIG_PATH: &str = "/etc/mc-gitops/agent.toml";
/// Where Minecraft lives on the VPS (the agent unit's `ReadWritePaths`).
pub const MINECRAFT_DIR: &str = "/srv/minecraft";
/// The user cloud-init creates to run Minecraft (agent.toml `minecraft_user`).
pub const MINECRAFT_USER: &str = "minecraft";
/// Marks every value `render cloud-init` fills in without credentials.
pub const PLACEHOLDER: &str = "PLACEHOLDER-not-minted";

const TEMPLATE: &str = include_str!("../cloud-init/user-data.yaml.j2");
const IMAGE_TEMPLATE: &str = include_str!("../cloud-init/image.yaml.j2");
const INSTALL_AGENT: &str = include_str!("../cloud-init/install-agent.sh");
const INSTALL_PACKAGES: &str = include_str!("../cloud-init/install-packages.sh");
const AGENT_SERVICE: &str = include_str!("../cloud-init/mc-gitops-agent.service");
const NFTABLES: &str = include_str!("../cloud-init/nftables.conf");

#[derive(Debug, thiserror::Error)]
pub enum CloudInitError {
    #[error("agent release URL {url:?} is not usable: {reason}")]
    AgentUrl { url: String, reason: &'static str },
    #[error("agent sha256 {value:?} is not 64 lowercase hex digits")]
    AgentSha256 { value: String },
    #[error("user-data for {server} is {size} bytes, over the {MAX_USER_DATA}-byte bound")]
    TooLarge { server: ServerName, size: usize },
    #[error("cannot render the user-data template: {0}")]
    Template(#[from] minijinja::Error),
}

/// The agent binary to download: a release asset and its checksum.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentRelease {
    pub url: String,
    pub sha256: String,
}

impl AgentRelease {
    fn check(&self) -> Result<(), CloudInitError> {
        let bad = |reason| {
            Err(CloudInitError::AgentUrl {
                url: self.url.clone(),
                reason,
            })
        };
        match url::Url::parse(&self.url) {
            Err(_) => return bad("not a URL"),
            Ok(u) if u.scheme() != "https" => return bad("only https is allowed"),
            Ok(u) if u.as_str() != self.url => return bad("it is not in canonical form (spaces or odd characters?)"),
            Ok(_) => {}
        }
        let hex = self.sha256.len() == 64 && self.sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex {
            return Err(CloudInitError::AgentSha256 {
                value: self.sha256.clone(),
            });
        }
        Ok(())
    }
}

/// The agent's settings for one session of `desired`, reaching its world
/// through `storage`. `server_created` is left unset: [`UserData::render_at`]
/// fills it in at the moment the server is asked for.
pub fn for_session(desired: &Desired, session: SessionId, storage: StorageConfig) -> AgentConfig {
    let s = &desired.server;
    let l = &s.lifecycle;
    let heap = format!("-Xmx{}M", s.minecraft.memory_mb);
    AgentConfig {
        server: s.name.clone(),
        server_created: None,
        // The agent provisions only from a desired.json naming this session.
        session: Some(session),
        storage,
        motd: s.minecraft.motd.clone(),
        game_port: GAME_PORT,
        rcon_port: RCON_PORT,
        minecraft_dir: MINECRAFT_DIR.into(),
        minecraft_user: Some(MINECRAFT_USER.into()),
        java: ["java", heap.as_str(), "-jar", "server.jar", "nogui"].map(String::from).to_vec(),
        session_server: crate::agent_toml::MOJANG_SESSION_SERVER.into(),
        // `max_session` and `keep_backups` stay with the reconciler (see
        // `agent_toml`); the polls and margins keep the agent's defaults.
        timers: Timers {
            idle: l.idle,
            suspended: l.suspended,
            backup_every: l.backup_every,
            boot_deadline: l.boot_deadline,
            warm_until_paid: l.warm_until_paid,
            ..Timers::default()
        },
    }
}

/// The agent's R2 store with the short-lived credentials minted for it: the
/// endpoint apply itself uses (`R2_ENDPOINT`, else the account's R2 address,
/// see `connect::mint_settings`), scoped to the server's own prefixes.
pub fn minted_storage(c: &AgentCredentials) -> StorageConfig {
    StorageConfig::R2 {
        endpoint: c.endpoint.clone(),
        bucket: c.bucket.clone(),
        access_key_id: Secret::new(c.access_key_id.clone()),
        secret_access_key: c.secret_access_key.clone(),
        session_token: Some(c.session_token.clone()),
        life: Some(c.life()),
    }
}

/// Clearly marked stand-ins, for `render cloud-init` without credentials.
pub fn placeholder_storage(desired: &Desired) -> StorageConfig {
    let (bucket, account) = match &desired.server.storage {
        Some(st) => (st.bucket.clone(), st.account_id.clone()),
        None => (format!("{PLACEHOLDER}-bucket"), None),
    };
    let account = account.unwrap_or_else(|| format!("{PLACEHOLDER}-account"));
    StorageConfig::R2 {
        endpoint: r2_endpoint(&account),
        bucket,
        access_key_id: Secret::new(PLACEHOLDER),
        secret_access_key: Secret::new(PLACEHOLDER),
        session_token: Some(Secret::new(PLACEHOLDER)),
        life: None,
    }
}

/// Everything a new server's user-data is made of but the moment it is
/// created: checked when built, rendered by [`UserData::render_at`] right
/// before the create request.
#[derive(Clone, Debug)]
pub struct UserData {
    config: AgentConfig,
    release: AgentRelease,
}

impl UserData {
    /// Checks the release and renders once, so a problem is found before
    /// anything is created.
    pub fn new(config: AgentConfig, release: AgentRelease, now: DateTime<Utc>) -> Result<Self, CloudInitError> {
        let u = UserData { config, release };
        u.render_at(now)?;
        Ok(u)
    }

    /// The user-data for a server asked for at `created`: the agent counts
    /// its paid hours from there (`server_created`).
    pub fn render_at(&self, created: DateTime<Utc>) -> Result<String, CloudInitError> {
        let config = AgentConfig {
            server_created: Some(created),
            ..self.config.clone()
        };
        render(&config, &self.release)
    }
}

/// The template engine with the formatter that makes every value a JSON
/// string literal (see the module comment).
fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_formatter(|out, _state, value| {
        let text = value
            .as_str()
            .ok_or_else(|| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "only strings may be rendered"))?;
        out.write_str(&yaml_string(text)).map_err(minijinja::Error::from)
    });
    env
}

/// A shipped file without its comment lines (a `#!` first line stays): the
/// comments are for the repo's readers and would take a quarter of the
/// [`MAX_USER_DATA`] budget. Every file shipped is a shell script, a unit or
/// an nftables ruleset, where a line whose first non-blank is `#` is a
/// comment and nothing else.
pub fn shipped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        let comment = line.trim_start().starts_with('#') && !(i == 0 && line.starts_with("#!"));
        if !comment {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Render the user-data for one session.
pub fn render(config: &AgentConfig, release: &AgentRelease) -> Result<String, CloudInitError> {
    release.check()?;
    let mut env = environment();
    env.add_template("user-data", TEMPLATE)?;
    let agent_config = format!(
        "# mc-gitops agent settings for this session. Mode 0600: holds short-lived R2 credentials.\n{}",
        config.to_toml()
    );
    let ctx = minijinja::context! {
        nftables => shipped(NFTABLES),
        agent_url => format!("{}\n", release.url),
        agent_sha256 => format!("{}  mc-gitops.download\n", release.sha256),
        agent_config => agent_config,
        install_agent => shipped(INSTALL_AGENT),
        install_packages => shipped(INSTALL_PACKAGES),
        agent_service => shipped(AGENT_SERVICE),
    };
    let text = env.get_template("user-data")?.render(ctx)?;
    if text.len() > MAX_USER_DATA {
        return Err(CloudInitError::TooLarge {
            server: config.server.clone(),
            size: text.len(),
        });
    }
    Ok(text)
}

/// The user-data of the server `mc-gitops image build` snapshots: the
/// packages and the checked agent binary of `release`, then a power-off.
/// Nothing of a session (no agent.toml, no credentials, no unit).
pub fn render_image(server: &ServerName, release: &AgentRelease) -> Result<String, CloudInitError> {
    release.check()?;
    let mut env = environment();
    env.add_template("image", IMAGE_TEMPLATE)?;
    let ctx = minijinja::context! {
        agent_url => format!("{}\n", release.url),
        agent_sha256 => format!("{}  mc-gitops.download\n", release.sha256),
        install_agent => shipped(INSTALL_AGENT),
    };
    let text = env.get_template("image")?.render(ctx)?;
    if text.len() > MAX_USER_DATA {
        return Err(CloudInitError::TooLarge {
            server: server.clone(),
            size: text.len(),
        });
    }
    Ok(text)
}

/// A JSON string literal, pure ASCII: YAML 1.1 and 1.2 parsers read it as
/// the same string (no raw U+2028/NEL line breaks, no `\/`).
pub fn yaml_string(s: &str) -> String {
    let json = serde_json::to_string(s).expect("a string always serializes");
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_strings_are_ascii_json() {
        assert_eq!(
            yaml_string("a\"b\n{{ x }}: é\u{2028}😀"),
            r#""a\"b\n{{ x }}: \u00e9\u2028\ud83d\ude00""#
        );
    }

    #[test]
    fn shipped_files_lose_their_comment_lines_only() {
        let text = "#!/bin/sh\n# why\nset -eu\n    # indented why\necho '#not a comment' # trailing\n";
        assert_eq!(shipped(text), "#!/bin/sh\nset -eu\necho '#not a comment' # trailing\n");
        // A unit's first line is a comment, not a shebang.
        assert_eq!(shipped("# unit\n[Unit]\n"), "[Unit]\n");
    }

    #[test]
    fn release_is_checked() {
        let ok = "0123456789abcdef".repeat(4);
        let r = |url: &str, sha: &str| {
            AgentRelease {
                url: url.into(),
                sha256: sha.into(),
            }
            .check()
        };
        assert!(r("https://example.com/a", &ok).is_ok());
        assert!(matches!(r("http://example.com/a", &ok), Err(CloudInitError::AgentUrl { .. })));
        assert!(matches!(r("https://example.com/a b", &ok), Err(CloudInitError::AgentUrl { .. })));
        assert!(matches!(
            r("https://example.com/a", &ok.to_uppercase()),
            Err(CloudInitError::AgentSha256 { .. })
        ));
        assert!(matches!(r("https://example.com/a", "abc"), Err(CloudInitError::AgentSha256 { .. })));
    }
}

#[cfg(test)]
mod agent_config_tests {
    use super::*;

    /// Regression (issue 11, break 2): cloud-init wrote agent.toml through
    /// its own type and dropped the motd, `boot_deadline`, `server_created`
    /// and the lifecycle switches. The agent reads every one of them now.
    #[test]
    fn the_agent_reads_every_setting_cloud_init_writes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
        let mut loaded = crate::repo::load(&root).unwrap();
        let l = &mut loaded.desired.server.lifecycle;
        l.boot_deadline = crate::repo::duration::Duration::from_mins(7);
        l.warm_until_paid = false;
        loaded.desired.server.minecraft.motd = "Grove \"after dark\" é".into();
        let session = SessionId::new("20261122-1930-eu");
        let creds = AgentCredentials {
            endpoint: "http://127.0.0.1:9000".into(),
            bucket: "grove-worlds".into(),
            prefixes: vec![],
            access_key_id: "AKIA\"quoted\"".into(),
            secret_access_key: Secret::new("s3cr3t\nnewline"),
            session_token: Secret::new("tok'en"),
            issued: "2026-11-22T19:30:00Z".parse().unwrap(),
            expires: "2026-11-23T09:30:00Z".parse().unwrap(),
        };
        let cfg = for_session(&loaded.desired, session, minted_storage(&creds));
        let release = AgentRelease {
            url: "https://example.com/mc-gitops".into(),
            sha256: "0".repeat(64),
        };
        let created: DateTime<Utc> = "2026-11-22T19:30:04Z".parse().unwrap();
        let text = UserData::new(cfg.clone(), release, created).unwrap().render_at(created).unwrap();
        let line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("content: \"# mc-gitops agent"))
            .unwrap();
        let toml: String = serde_json::from_str(&format!("\"# mc-gitops agent{line}")).unwrap();
        let parsed = crate::agent_toml::parse("agent.toml", &toml).unwrap_or_else(|e| panic!("{e:?}\n{toml}"));
        assert_eq!(
            parsed,
            AgentConfig {
                server_created: Some(created),
                ..cfg
            }
        );
        assert_eq!(parsed.motd, "Grove \"after dark\" é");
        assert_eq!(parsed.timers.boot_deadline.as_secs(), 7 * 60);
        assert!(!parsed.timers.warm_until_paid);
        assert_eq!(parsed.java[1], "-Xmx6144M");
        assert_eq!((parsed.game_port, parsed.rcon_port), (GAME_PORT, RCON_PORT));
        match parsed.storage {
            StorageConfig::R2 { endpoint, life, .. } => {
                assert_eq!(endpoint, "http://127.0.0.1:9000", "the endpoint apply itself uses");
                assert_eq!(life.map(|l| l.expires), Some(creds.expires), "the agent knows when to renew");
            }
            other => panic!("{other:?}"),
        }
    }
}
