//! Identifiers get their own types so a session id is never passed where a
//! server name was meant. Each is validated where it is parsed; the types
//! here only carry an already-valid value.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                $name(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id!(
    /// `name` in server.toml: labels, hostnames and storage prefixes derive from it.
    ServerName
);
id!(
    /// A session: the UTC start minute and the region, `20261101-1802-eu`.
    SessionId
);
id!(
    /// A Minecraft username as written in `players/<name>.toml`.
    PlayerName
);
id!(
    /// A key of `[regions.*]` in server.toml.
    RegionKey
);
id!(
    /// A Hetzner location name (`fsn1`).
    Location
);
id!(
    /// A Hetzner server type name (`cx33`).
    ServerType
);
id!(
    /// A Cloudflare zone name (`grove.place`).
    ZoneName
);

/// A Hetzner server id, as the API returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HetznerServerId(pub u64);

impl fmt::Display for HetznerServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl SessionId {
    /// The id of a session started at `at` in `region`. Minute precision: two
    /// sessions of one server never start in the same minute.
    pub fn at(at: chrono::DateTime<chrono::Utc>, region: &RegionKey) -> Self {
        SessionId(format!("{}-{region}", at.format("%Y%m%d-%H%M")))
    }
}

impl SessionId {
    /// `sessions/YYYY/MM/<id>.toml`, by the start month the id begins with.
    pub fn file(&self) -> String {
        let s = self.as_str();
        match (s.get(0..4), s.get(4..6)) {
            (Some(y), Some(m)) if y.bytes().chain(m.bytes()).all(|c| c.is_ascii_digit()) => format!("sessions/{y}/{m}/{s}.toml"),
            _ => format!("sessions/unknown/{s}.toml"),
        }
    }
}

impl ServerName {
    /// The Hetzner server name: one per state repo, whatever the session.
    /// Hetzner names are unique in a project, so two runs that race to
    /// create (push + schedule + dispatch) collide on `uniqueness_error`
    /// and the loser adopts or steps back: never a second server. The
    /// session lives in the labels.
    pub fn hetzner_name(&self) -> String {
        format!("{self}-mc")
    }
}
