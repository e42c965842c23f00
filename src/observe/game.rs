//! The reconciler's own look at the game: a Server List Ping of the
//! session's server at its public address, beside the agent's report. Two
//! independent witnesses: an agent that went silent while Minecraft still
//! answers is a different situation from a server that is gone, and the
//! plan says which.
//!
//! One ping per run, under a short timeout, so a server that does not
//! answer costs a run at most [`PING_TIMEOUT`]. A failed ping is an
//! observation ("does not answer: …"), never an error that stops a plan or
//! an apply. `MC_GITOPS_GAME_PING=off` turns it off (the test suites do: the
//! fakes hand out TEST-NET addresses that must never be dialled);
//! `MC_GITOPS_GAME_PING_PORT` pings another port than 25565 (a port-forwarded
//! setup, or a test's local Minecraft peer).

use std::time::Duration;

use serde::Serialize;

use super::ObservedServer;

/// Long enough for a server across the ocean, short enough for a run.
pub const PING_TIMEOUT: Duration = Duration::from_secs(3);
pub const GAME_PING_VAR: &str = "MC_GITOPS_GAME_PING";
pub const GAME_PING_PORT_VAR: &str = "MC_GITOPS_GAME_PING_PORT";

#[derive(Debug, thiserror::Error)]
pub enum GamePingSettingError {
    #[error("{GAME_PING_VAR} = {value:?} is not a setting: use \"on\" (the default) or \"off\"")]
    Switch { value: String },
    #[error("{GAME_PING_PORT_VAR} = {value:?} is not a port (1–65535)")]
    Port { value: String },
}

/// Whether and where the reconciler pings the game.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GamePingSettings {
    pub enabled: bool,
    pub port: u16,
    pub timeout: Duration,
}

impl Default for GamePingSettings {
    fn default() -> Self {
        GamePingSettings {
            enabled: true,
            port: crate::minecraft::GAME_PORT,
            timeout: PING_TIMEOUT,
        }
    }
}

impl GamePingSettings {
    /// From `MC_GITOPS_GAME_PING` and `MC_GITOPS_GAME_PING_PORT`; on, at 25565, by default.
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Result<Self, GamePingSettingError> {
        use crate::inputs::Var;
        Self::from_values(inputs.var(Var::GamePing).as_deref(), inputs.var(Var::GamePingPort).as_deref())
    }

    pub fn from_values(switch: Option<&str>, port: Option<&str>) -> Result<Self, GamePingSettingError> {
        let mut s = GamePingSettings::default();
        match switch.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "on" | "true" | "1") => {}
            Some("off" | "false" | "0") => s.enabled = false,
            Some(_) => {
                return Err(GamePingSettingError::Switch {
                    value: switch.unwrap_or_default().to_string(),
                });
            }
        }
        if let Some(v) = port.filter(|v| !v.trim().is_empty()) {
            s.port = v
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| GamePingSettingError::Port { value: v.to_string() })?;
        }
        Ok(s)
    }
}

/// What the ping found at `address`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObservedGame {
    /// `ip:port` that was pinged.
    pub address: String,
    #[serde(flatten)]
    pub answer: GameAnswer,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum GameAnswer {
    /// Minecraft (or the agent's sleeping listener) answered the status request.
    Online {
        players: u32,
        max: u32,
        version: String,
        protocol: i32,
        latency_ms: u64,
    },
    /// Refused, timed out, or not Minecraft: the error says which.
    NoAnswer { error: String },
}

impl ObservedGame {
    /// Players online, when the game answered.
    pub fn players(&self) -> Option<u32> {
        match &self.answer {
            GameAnswer::Online { players, .. } => Some(*players),
            GameAnswer::NoAnswer { .. } => None,
        }
    }

    /// One line for people: what the ping found.
    pub fn describe(&self) -> String {
        match &self.answer {
            GameAnswer::Online {
                players,
                max,
                version,
                latency_ms,
                ..
            } => format!(
                "Minecraft answers at {}: {players}/{max} players, {version}, {latency_ms} ms",
                self.address
            ),
            GameAnswer::NoAnswer { error } => format!("Minecraft does not answer at {}: {error}", self.address),
        }
    }
}

/// Ping the session's server, if there is one with an address and pinging is on.
pub async fn observe(settings: &GamePingSettings, server: Option<&ObservedServer>) -> Option<ObservedGame> {
    if !settings.enabled {
        return None;
    }
    let host = server?.ipv4.as_deref()?;
    let address = format!("{host}:{}", settings.port);
    let answer = match crate::minecraft::slp::status(host, settings.port, settings.timeout).await {
        Ok(s) => GameAnswer::Online {
            players: s.online,
            max: s.max,
            version: s.version,
            protocol: s.protocol,
            latency_ms: s.latency.as_millis() as u64,
        },
        Err(e) => GameAnswer::NoAnswer {
            error: crate::error::render_error(&e),
        },
    };
    tracing::info!(%address, ?answer, "game ping");
    Some(ObservedGame { address, answer })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_is_on_by_default_and_strict() {
        let on = GamePingSettings::from_values(None, None).unwrap();
        assert!(on.enabled && on.port == 25565 && on.timeout == PING_TIMEOUT);
        assert!(!GamePingSettings::from_values(Some("off"), None).unwrap().enabled);
        assert!(GamePingSettings::from_values(Some("ON"), None).unwrap().enabled);
        assert_eq!(GamePingSettings::from_values(None, Some("30001")).unwrap().port, 30001);
        let e = GamePingSettings::from_values(Some("nope"), None).unwrap_err().to_string();
        assert!(e.contains("MC_GITOPS_GAME_PING = \"nope\"") && e.contains("\"off\""), "{e}");
        assert!(GamePingSettings::from_values(None, Some("0")).is_err());
        assert!(GamePingSettings::from_values(None, Some("70000")).is_err());
    }

    fn server(ip: Option<&str>) -> ObservedServer {
        ObservedServer {
            id: None,
            name: "grove-mc".into(),
            session: crate::ids::SessionId::new("20261122-1930-eu"),
            region: crate::ids::RegionKey::new("eu"),
            location: None,
            server_type: None,
            ipv4: ip.map(str::to_string),
            closed_session: None,
        }
    }

    #[tokio::test]
    async fn off_or_without_an_address_nothing_is_dialled() {
        // TEST-NET-1: dialling it would hang until the timeout.
        let off = GamePingSettings::from_values(Some("off"), None).unwrap();
        assert_eq!(observe(&off, Some(&server(Some("192.0.2.1")))).await, None);
        let on = GamePingSettings::default();
        assert_eq!(observe(&on, Some(&server(None))).await, None);
        assert_eq!(observe(&on, None).await, None);
    }

    #[tokio::test]
    async fn a_refused_ping_is_an_observation_not_an_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let s = GamePingSettings::from_values(None, Some(&port.to_string())).unwrap();
        let game = observe(&s, Some(&server(Some("127.0.0.1")))).await.unwrap();
        assert_eq!(game.address, format!("127.0.0.1:{port}"));
        let GameAnswer::NoAnswer { error } = &game.answer else {
            panic!("{game:?}")
        };
        assert!(error.contains("cannot connect"), "{error}");
        assert!(
            game.describe().starts_with("Minecraft does not answer at 127.0.0.1:"),
            "{}",
            game.describe()
        );
    }

    #[tokio::test]
    async fn a_silent_server_times_out_within_the_timeout() {
        // Accepts the connection and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (_conn, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let mut s = GamePingSettings::from_values(None, Some(&port.to_string())).unwrap();
        s.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let game = observe(&s, Some(&server(Some("127.0.0.1")))).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        let GameAnswer::NoAnswer { error } = &game.answer else {
            panic!("{game:?}")
        };
        assert!(error.contains("timed out"), "{error}");
    }
}
