//! The VPS's cloud-init user-data, rendered per session.
//!
//! Shaped so that nothing a person writes can inject into YAML or a shell:
//! the template (`cloud-init/user-data.yaml.j2`) is fixed, and minijinja's
//! formatter turns every `{{ value }}` into a JSON string literal with all
//! non-ASCII escaped — JSON strings are YAML double-quoted scalars, so a
//! value can never close its string, add a key or a line. The shell script
//! is a fixed file; it reads the per-session values (release URL, checksum)
//! from files, never from pasted text. The agent's settings go into one TOML
//! file written by `toml`'s serializer, mode 0600, owned by `minecraft`.
//!
//! The only credentials in it are the short-lived R2 ones scoped to this
//! server's prefixes (DESIGN: invariant 5).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ServerName, SessionId};
use crate::repo::model::Desired;
use crate::secret::Secret;

/// Hetzner accepts 32 KiB; staying under a quarter leaves room to grow.
pub const MAX_USER_DATA: usize = 8 * 1024;
/// Where the template says the agent reads its settings.
pub const AGENT_CONFIG_PATH: &str = "/etc/mc-gitops/agent.toml";
pub const GAME_PORT: u16 = 25565;
pub const RCON_PORT: u16 = 25575;
/// Marks every value `render cloud-init` fills in without credentials.
pub const PLACEHOLDER: &str = "PLACEHOLDER-not-minted";

const TEMPLATE: &str = include_str!("../cloud-init/user-data.yaml.j2");
const INSTALL_AGENT: &str = include_str!("../cloud-init/install-agent.sh");
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
    #[error("cannot serialize the agent config: {0}")]
    Config(#[from] toml::ser::Error),
}

/// The agent binary to download: a release asset and its checksum.
#[derive(Clone, Debug)]
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

/// `/etc/mc-gitops/agent.toml`: everything the agent needs to know.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub server: ServerName,
    pub session: SessionId,
    pub minecraft: AgentMinecraft,
    pub lifecycle: AgentLifecycle,
    pub storage: AgentStorage,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentMinecraft {
    pub version: String,
    pub motd: String,
    pub memory_mb: u32,
    pub dir: String,
    pub game_port: u16,
    /// RCON listens here; the host firewall keeps it on loopback.
    pub rcon_port: u16,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentLifecycle {
    pub idle_secs: u64,
    pub suspended_secs: u64,
    pub backup_every_secs: u64,
    pub keep_backups: u32,
    pub max_session_secs: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentStorage {
    /// The S3 endpoint (`https://<account>.r2.cloudflarestorage.com`).
    pub endpoint: String,
    pub bucket: String,
    pub control_key: String,
    pub status_key: String,
    pub worlds_prefix: String,
    pub assets_prefix: String,
    pub credentials: AgentCredentials,
}

/// Short-lived, scoped R2 credentials (`r2_temp_credentials`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentCredentials {
    pub access_key_id: String,
    #[serde(with = "crate::secret::exposed")]
    pub secret_access_key: Secret,
    #[serde(with = "crate::secret::exposed")]
    pub session_token: Secret,
    /// When they were issued: with `expires`, when the agent looks for renewed ones.
    #[serde(default)]
    pub issued: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
}

impl AgentCredentials {
    /// Clearly marked stand-ins, for `render cloud-init` without credentials.
    pub fn placeholder() -> Self {
        AgentCredentials {
            access_key_id: PLACEHOLDER.into(),
            secret_access_key: Secret::new(PLACEHOLDER),
            session_token: Secret::new(PLACEHOLDER),
            issued: None,
            expires: None,
        }
    }
}

impl AgentConfig {
    /// The agent's settings for one session of `desired`.
    pub fn for_session(desired: &Desired, session: SessionId, credentials: AgentCredentials) -> Self {
        let s = &desired.server;
        let name = &s.name;
        let secs = |d: crate::repo::duration::Duration| d.to_chrono().num_seconds().max(0) as u64;
        let (bucket, account) = match &s.storage {
            Some(st) => (st.bucket.clone(), st.account_id.clone()),
            None => (format!("{PLACEHOLDER}-bucket"), None),
        };
        let account = account.unwrap_or_else(|| format!("{PLACEHOLDER}-account"));
        AgentConfig {
            server: name.clone(),
            session,
            minecraft: AgentMinecraft {
                version: s.minecraft.version.clone(),
                motd: s.minecraft.motd.clone(),
                memory_mb: s.minecraft.memory_mb,
                dir: "/srv/minecraft".into(),
                game_port: GAME_PORT,
                rcon_port: RCON_PORT,
            },
            lifecycle: AgentLifecycle {
                idle_secs: secs(s.lifecycle.idle),
                suspended_secs: secs(s.lifecycle.suspended),
                backup_every_secs: secs(s.lifecycle.backup_every),
                keep_backups: s.lifecycle.keep_backups,
                max_session_secs: secs(s.lifecycle.max_session),
            },
            storage: AgentStorage {
                endpoint: format!("https://{account}.r2.cloudflarestorage.com"),
                bucket,
                control_key: format!("control/{name}/desired.json"),
                status_key: format!("control/{name}/status.json"),
                worlds_prefix: format!("worlds/{name}/"),
                assets_prefix: format!("assets/{name}/"),
                credentials,
            },
        }
    }

    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// `agent.toml` in the shape `mc-gitops agent` reads (`agent::config`),
/// built as a TOML table so every value is escaped by the serialiser.
pub fn agent_toml(config: &AgentConfig) -> String {
    use toml::{Table, Value};
    let dur = |secs: u64| Value::String(crate::repo::duration::Duration::from_secs(secs).to_string());
    let mut root = Table::new();
    root.insert("server".into(), Value::String(config.server.to_string()));
    // The agent provisions only from a desired.json naming this session.
    root.insert("session".into(), Value::String(config.session.to_string()));
    root.insert("minecraft_dir".into(), Value::String(config.minecraft.dir.clone()));
    root.insert("game_port".into(), Value::Integer(i64::from(config.minecraft.game_port)));
    root.insert("rcon_port".into(), Value::Integer(i64::from(config.minecraft.rcon_port)));
    let heap = format!("-Xmx{}M", config.minecraft.memory_mb);
    let java = ["java", heap.as_str(), "-jar", "server.jar", "nogui"];
    root.insert(
        "java".into(),
        Value::Array(java.iter().map(|a| Value::String(a.to_string())).collect()),
    );
    let c = &config.storage.credentials;
    let mut storage = Table::new();
    storage.insert("endpoint".into(), Value::String(config.storage.endpoint.clone()));
    storage.insert("bucket".into(), Value::String(config.storage.bucket.clone()));
    storage.insert("access_key_id".into(), Value::String(c.access_key_id.clone()));
    storage.insert("secret_access_key".into(), Value::String(c.secret_access_key.expose().to_string()));
    storage.insert("session_token".into(), Value::String(c.session_token.expose().to_string()));
    if let (Some(issued), Some(expires)) = (c.issued, c.expires) {
        let time = |t: DateTime<Utc>| {
            let text = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            Value::Datetime(text.parse().expect("RFC 3339 is a TOML datetime"))
        };
        storage.insert("credentials_issued".into(), time(issued));
        storage.insert("credentials_expires".into(), time(expires));
    }
    root.insert("storage".into(), Value::Table(storage));
    let l = &config.lifecycle;
    let mut lifecycle = Table::new();
    lifecycle.insert("idle".into(), dur(l.idle_secs));
    lifecycle.insert("suspended".into(), dur(l.suspended_secs));
    lifecycle.insert("backup_every".into(), dur(l.backup_every_secs));
    root.insert("lifecycle".into(), Value::Table(lifecycle));
    toml::to_string(&root).expect("a TOML table always serialises")
}

/// Render the user-data for one session.
pub fn render(config: &AgentConfig, release: &AgentRelease) -> Result<String, CloudInitError> {
    release.check()?;
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_formatter(|out, _state, value| {
        let text = value
            .as_str()
            .ok_or_else(|| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "only strings may be rendered"))?;
        out.write_str(&yaml_string(text)).map_err(minijinja::Error::from)
    });
    env.add_template("user-data", TEMPLATE)?;
    let agent_config = format!(
        "# mc-gitops agent settings for this session. Mode 0600: holds short-lived R2 credentials.\n{}",
        agent_toml(config)
    );
    let ctx = minijinja::context! {
        nftables => NFTABLES,
        agent_url => format!("{}\n", release.url),
        agent_sha256 => format!("{}  mc-gitops.download\n", release.sha256),
        agent_config => agent_config,
        install_agent => INSTALL_AGENT,
        agent_service => AGENT_SERVICE,
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

    /// Regression: cloud-init once wrote its own config shape, which the
    /// agent refused. What it writes must be what `mc-gitops agent` reads.
    #[test]
    fn the_agent_reads_the_config_cloud_init_writes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
        let loaded = crate::repo::load(&root).unwrap();
        let session = SessionId::new("20261122-1930-eu");
        let creds = AgentCredentials {
            access_key_id: "AKIA\"quoted\"".into(),
            secret_access_key: Secret::new("s3cr3t\nnewline"),
            session_token: Secret::new("tok'en"),
            issued: Some("2026-11-22T19:30:00Z".parse().unwrap()),
            expires: Some("2026-11-23T09:30:00Z".parse().unwrap()),
        };
        let cfg = AgentConfig::for_session(&loaded.desired, session, creds);
        let text = agent_toml(&cfg);
        let parsed = crate::agent::config::parse("agent.toml", &text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        assert_eq!(parsed.server.as_str(), "grove");
        assert_eq!(parsed.rcon_port, RCON_PORT);
        assert_eq!(parsed.java[1], "-Xmx6144M");
        match parsed.storage {
            crate::agent::config::StorageConfig::R2 {
                secret_access_key,
                bucket,
                life,
                ..
            } => {
                assert_eq!(secret_access_key.expose(), "s3cr3t\nnewline");
                assert_eq!(bucket, "grove-worlds");
                assert_eq!(
                    life.map(|l| l.expires.to_rfc3339()),
                    Some("2026-11-23T09:30:00+00:00".into()),
                    "the agent knows when to look for renewed credentials"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
