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

/// A Minecraft account's UUID as a 128-bit value, so the dashed form
/// (`players/<name>.toml`, `whitelist.json`) and the undashed one (the session
/// server's `id`) compare equal. Written dashed and lowercase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlayerUuid(pub u128);

impl PlayerUuid {
    /// 32 hex digits, with or without the four dashes of the 8-4-4-4-12
    /// form; `None` for anything else.
    pub fn parse(s: &str) -> Option<PlayerUuid> {
        let hex: String = if s.len() == 36 {
            let dashes_at = [8, 13, 18, 23];
            let ok = s.char_indices().all(|(i, c)| (c == '-') == dashes_at.contains(&i));
            if !ok {
                return None;
            }
            s.chars().filter(|c| *c != '-').collect()
        } else {
            s.to_string()
        };
        if hex.len() != 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(&hex, 16).ok().map(PlayerUuid)
    }
}

impl fmt::Display for PlayerUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = format!("{:032x}", self.0);
        write!(f, "{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
}

impl Serialize for PlayerUuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PlayerUuid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PlayerUuid::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a UUID (32 hex digits, dashed or not)")))
    }
}

#[cfg(test)]
mod tests {
    use super::PlayerUuid;

    #[test]
    fn a_uuid_is_the_same_value_dashed_or_not_and_writes_dashed() {
        let dashed = PlayerUuid::parse("DD3EC016-bb8a-4efe-9cc1-1796b7a57df9").unwrap();
        let plain = PlayerUuid::parse("dd3ec016bb8a4efe9cc11796b7a57df9").unwrap();
        assert_eq!(dashed, plain);
        assert_eq!(plain.to_string(), "dd3ec016-bb8a-4efe-9cc1-1796b7a57df9");
        assert_ne!(plain, PlayerUuid::parse("dd3ec016bb8a4efe9cc11796b7a57df8").unwrap());
        for bad in [
            "",
            "dd3ec016-bb8a-4efe-9cc1-1796b7a57df",
            "dd3ec016bb8a-4efe-9cc1-1796b7a57df9-",
            "+d3ec016bb8a4efe9cc11796b7a57df9",
            "dd3ec016-bb8a-4efe-9cc1-1796b7a57dfg",
        ] {
            assert_eq!(PlayerUuid::parse(bad), None, "{bad:?}");
        }
        let json = serde_json::to_string(&plain).unwrap();
        assert_eq!(serde_json::from_str::<PlayerUuid>(&json).unwrap(), plain);
        assert!(serde_json::from_str::<PlayerUuid>("\"Steve\"").is_err());
    }
}
