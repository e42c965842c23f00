//! agent.toml's one writer: [`AgentConfig::to_toml`] writes every field the
//! reader (`super::parse`) reads, under the same keys, so the file cloud-init
//! puts on the VPS is exactly what the agent accepts (one type, both
//! directions; the round-trip test below sets every field). The document is
//! built as a `toml` table, so every value is escaped by the serializer.

use chrono::{DateTime, Utc};
use toml::{Table, Value};

use super::{AgentConfig, StorageConfig, Timers};
use crate::repo::duration::Duration;

fn string(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

fn duration(d: Duration) -> Value {
    string(d.to_string())
}

/// A TOML datetime at full precision: a value read back is the value written.
fn time(t: DateTime<Utc>) -> Value {
    let text = t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    Value::Datetime(text.parse().expect("RFC 3339 is a TOML datetime"))
}

impl AgentConfig {
    /// agent.toml's text. Secrets are written out: this is the file made to
    /// carry them to the agent (mode 0600 on the VPS).
    pub fn to_toml(&self) -> String {
        let mut root = Table::new();
        root.insert("server".into(), string(self.server.as_str()));
        if let Some(t) = self.server_created {
            root.insert("server_created".into(), time(t));
        }
        if let Some(s) = &self.session {
            root.insert("session".into(), string(s.as_str()));
        }
        root.insert("motd".into(), string(self.motd.clone()));
        root.insert("game_port".into(), Value::Integer(i64::from(self.game_port)));
        root.insert("rcon_port".into(), Value::Integer(i64::from(self.rcon_port)));
        root.insert("minecraft_dir".into(), string(self.minecraft_dir.to_string_lossy().into_owned()));
        if let Some(user) = &self.minecraft_user {
            root.insert("minecraft_user".into(), string(user.clone()));
        }
        root.insert("java".into(), Value::Array(self.java.iter().cloned().map(string).collect()));
        root.insert("session_server".into(), string(self.session_server.clone()));
        root.insert("storage".into(), Value::Table(storage(&self.storage)));
        root.insert("lifecycle".into(), Value::Table(lifecycle(&self.timers)));
        toml::to_string(&root).expect("a TOML table always serialises")
    }
}

fn storage(s: &StorageConfig) -> Table {
    let mut t = Table::new();
    match s {
        StorageConfig::Dir(dir) => {
            t.insert("dir".into(), string(dir.to_string_lossy().into_owned()));
        }
        StorageConfig::R2 {
            endpoint,
            bucket,
            access_key_id,
            secret_access_key,
            session_token,
            life,
        } => {
            t.insert("endpoint".into(), string(endpoint.clone()));
            t.insert("bucket".into(), string(bucket.clone()));
            t.insert("access_key_id".into(), string(access_key_id.expose()));
            t.insert("secret_access_key".into(), string(secret_access_key.expose()));
            if let Some(token) = session_token {
                t.insert("session_token".into(), string(token.expose()));
            }
            if let Some(life) = life {
                t.insert("credentials_issued".into(), time(life.issued));
                t.insert("credentials_expires".into(), time(life.expires));
            }
        }
    }
    t
}

fn lifecycle(timers: &Timers) -> Table {
    let Timers {
        idle,
        suspended,
        backup_every,
        boot_deadline,
        heartbeat,
        control_poll,
        players_poll,
        billing_margin,
        max_crashes,
        warm_until_paid,
    } = timers;
    let mut t = Table::new();
    for (key, d) in [
        ("idle", idle),
        ("suspended", suspended),
        ("backup_every", backup_every),
        ("boot_deadline", boot_deadline),
        ("heartbeat", heartbeat),
        ("control_poll", control_poll),
        ("players_poll", players_poll),
        ("billing_margin", billing_margin),
    ] {
        t.insert(key.into(), duration(*d));
    }
    t.insert("max_crashes".into(), Value::Integer(i64::from(*max_crashes)));
    t.insert("warm_until_paid".into(), Value::Boolean(*warm_until_paid));
    t
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::ids::{ServerName, SessionId};
    use crate::secret::Secret;
    use crate::storage::credentials::CredentialsLife;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Every field away from its default, strings with quotes, newlines,
    /// TOML and YAML syntax and non-ASCII.
    fn everything(storage: StorageConfig) -> AgentConfig {
        AgentConfig {
            server: ServerName::new("grove-2"),
            server_created: Some(t("2026-11-22T18:00:07.123456789Z")),
            session: Some(SessionId::new("20261122-1800-eu")),
            storage,
            motd: "Grove \"quoted\" 'single' \\ back\\slash # not a comment ] [x] é😀 §6gold".into(),
            game_port: 25566,
            rcon_port: 25576,
            minecraft_dir: PathBuf::from("/srv/mine craft/\"q\""),
            minecraft_user: Some("_mc-2".into()),
            java: vec!["/usr/bin/java".into(), "-Xmx6144M".into(), "-Dx=\"a b\"\n".into(), "".into()],
            session_server: "http://127.0.0.1:8123/mojang \"fake\"".into(),
            timers: Timers {
                idle: Duration::from_secs(5),
                suspended: Duration::from_secs(3661),
                backup_every: Duration::from_mins(7),
                boot_deadline: Duration::from_secs(61),
                heartbeat: Duration::from_secs(2),
                control_poll: Duration::from_secs(3),
                players_poll: Duration::from_secs(4),
                billing_margin: Duration::from_secs(0),
                max_crashes: 9,
                warm_until_paid: false,
            },
        }
    }

    fn r2() -> StorageConfig {
        StorageConfig::R2 {
            endpoint: "http://127.0.0.1:9000/odd\"path".into(),
            bucket: "grove-worlds\n[evil]".into(),
            access_key_id: Secret::new("AKIA\"quoted\""),
            secret_access_key: Secret::new("s3cr3t\nnew'line\u{2028}"),
            session_token: Some(Secret::new("tok'en\"=\\")),
            life: Some(CredentialsLife {
                issued: t("2026-11-22T18:00:00Z"),
                expires: t("2026-11-29T18:00:00.5Z"),
            }),
        }
    }

    /// One type, both directions: whatever the writer writes, the strict
    /// reader reads back as the same config, for every field.
    #[test]
    fn every_field_round_trips_through_agent_toml() {
        for storage in [r2(), StorageConfig::Dir(PathBuf::from("/var/lib/mc gitops/\"s\""))] {
            let c = everything(storage);
            let text = c.to_toml();
            let back = super::super::parse("agent.toml", &text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
            assert_eq!(back, c, "{text}");
        }
        // Nothing here is a default, so a field the writer forgot would be caught.
        let d = Timers::default();
        let c = everything(r2());
        assert_ne!(c.timers.idle, d.idle);
        assert_ne!(c.timers.max_crashes, d.max_crashes);
        assert_ne!(c.timers.warm_until_paid, d.warm_until_paid);
        assert_ne!(c.motd, super::super::DEFAULT_MOTD);
        assert_ne!(c.game_port, crate::minecraft::GAME_PORT);
        assert_ne!(c.rcon_port, crate::minecraft::RCON_PORT);
        assert_ne!(c.session_server, super::super::MOJANG_SESSION_SERVER);
    }

    /// The optional parts left out read back as left out, not as defaults.
    #[test]
    fn absent_optionals_stay_absent() {
        let mut c = everything(r2());
        c.server_created = None;
        c.session = None;
        c.minecraft_user = None;
        if let StorageConfig::R2 { session_token, life, .. } = &mut c.storage {
            *session_token = None;
            *life = None;
        }
        let back = super::super::parse("agent.toml", &c.to_toml()).unwrap();
        assert_eq!(back, c);
    }
}
