//! The values the Cloudflare client speaks in: ids, DNS records as the API
//! returns them, the records the bot wants, and temporary R2 credentials.
//!
//! Shapes follow the v4 OpenAPI document (2024-08), not memory:
//! - a record's `ttl` is seconds, `1` meaning "automatic";
//! - an SRV record carries its parts in `data` (`priority`, `weight`, `port`,
//!   `target`) and its full name in the top-level `name`; the document marks
//!   `data.service` / `data.proto` / `data.name` deprecated, so they are never
//!   sent and ignored when read; `content` is read-only for SRV;
//! - the PATCH body is the same `dns-record` schema as POST (type, name and
//!   content required), so [`NewRecord::body`] serves both.
//!
//! Responses are read leniently (unknown fields ignored, `comment: null` and a
//! missing `comment` alike): the API adds fields over time and the bot must
//! not break on them.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::ids::ZoneName;
use crate::secret::Secret;

/// A Cloudflare zone id: 32 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ZoneId(String);

/// A DNS record id: 32 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(String);

macro_rules! string_id {
    ($name:ident) => {
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

string_id!(ZoneId);
string_id!(RecordId);

/// A zone as the record calls need it: the id for the URL, the name for
/// error messages ("A record mc.grove.place in zone grove.place").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub id: ZoneId,
    pub name: ZoneName,
}

/// The record types the bot reads or writes; anything else reads as `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordType {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "CNAME")]
    Cname,
    #[serde(rename = "SRV")]
    Srv,
    #[serde(rename = "TXT")]
    Txt,
    /// Any type the bot neither reads nor writes; never sent as a filter.
    #[serde(other)]
    Other,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Srv => "SRV",
            RecordType::Txt => "TXT",
            RecordType::Other => "OTHER",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A DNS record as the API returns it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DnsRecord {
    pub id: RecordId,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: RecordType,
    /// Read-only for SRV (the API formats it from `data`).
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub proxied: bool,
    #[serde(default = "automatic_ttl")]
    pub ttl: u32,
    #[serde(default)]
    pub comment: Option<String>,
    /// Kept raw: its shape depends on the type (SRV, CAA, LOC, …).
    #[serde(default)]
    pub data: Option<Value>,
}

fn automatic_ttl() -> u32 {
    1
}

impl DnsRecord {
    /// The SRV parts, when this is an SRV record with a readable `data`.
    pub fn srv(&self) -> Option<SrvData> {
        if self.kind != RecordType::Srv {
            return None;
        }
        serde_json::from_value(self.data.clone()?).ok()
    }

    /// The IPv4 address, when this is an A record with a valid address.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        (self.kind == RecordType::A).then(|| self.content.parse().ok()).flatten()
    }
}

/// The non-deprecated parts of an SRV record's `data`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrvData {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// What a record should hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordContent {
    A(Ipv4Addr),
    Srv(SrvData),
}

/// A record as the bot wants it; the body of a create or a patch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecord {
    /// The full name, `mc.grove.place`.
    pub name: String,
    pub content: RecordContent,
    pub ttl: u32,
    /// Only meaningful for A records; SRV records cannot be proxied.
    pub proxied: bool,
    pub comment: Option<String>,
}

impl NewRecord {
    pub fn kind(&self) -> RecordType {
        match self.content {
            RecordContent::A(_) => RecordType::A,
            RecordContent::Srv(_) => RecordType::Srv,
        }
    }

    /// The JSON body for POST and PATCH (the document gives both the same
    /// schema, so a patch carries the whole record).
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), json!(self.kind().as_str()));
        body.insert("name".into(), json!(self.name));
        match &self.content {
            RecordContent::A(ip) => {
                body.insert("content".into(), json!(ip.to_string()));
                body.insert("proxied".into(), json!(self.proxied));
            }
            RecordContent::Srv(srv) => {
                body.insert("data".into(), json!(srv));
            }
        }
        body.insert("ttl".into(), json!(self.ttl));
        if let Some(c) = &self.comment {
            body.insert("comment".into(), json!(c));
        }
        Value::Object(body)
    }

    /// Whether `have` already answers DNS queries as this record would.
    /// The comment is not compared: it records who last wrote the record,
    /// and rewriting it alone would cost a write on every converged run.
    pub fn matches(&self, have: &DnsRecord) -> bool {
        if have.kind != self.kind() || have.ttl != self.ttl || !same_host(&have.name, &self.name) {
            return false;
        }
        match &self.content {
            RecordContent::A(ip) => have.ipv4() == Some(*ip) && have.proxied == self.proxied,
            RecordContent::Srv(want) => have.srv().is_some_and(|got| {
                (got.priority, got.weight, got.port) == (want.priority, want.weight, want.port) && same_host(&got.target, &want.target)
            }),
        }
    }

    /// "A record mc.grove.place in zone grove.place", for errors.
    pub fn describe(&self, zone: &Zone) -> String {
        describe(self.kind(), &self.name, zone)
    }
}

pub(crate) fn describe(kind: RecordType, name: &str, zone: &Zone) -> String {
    format!("{kind} record {name} in zone {}", zone.name)
}

/// Host names compare without case and without a trailing dot.
pub(crate) fn same_host(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// What an `ensure_*` call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ensured {
    Created,
    /// A record was patched, or duplicates of it were deleted, or both.
    Updated,
    Unchanged,
}

/// The bot's two records as found, for the planner.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsObservation {
    /// The A record's address (the first valid one when there are several).
    pub a: Option<Ipv4Addr>,
    /// The SRV record's target host and port.
    pub srv: Option<(String, u16)>,
    /// How the records differ from what `ensure_a` / `ensure_srv` leave
    /// behind (duplicates, proxied, another TTL, unreadable content), one
    /// line each. Non-empty means "set them again" even if `a` looks right.
    pub drift: Vec<String>,
}

/// `permission` of a temporary-credentials request (the document's enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum R2Permission {
    AdminReadWrite,
    AdminReadOnly,
    ObjectReadWrite,
    ObjectReadOnly,
}

/// Short-lived S3 credentials for R2, scoped to a bucket and prefixes. The
/// secret parts are [`Secret`]s, so `Debug` never shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TempCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
}

/// One entry of an envelope's `errors` array.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ApiMessage {
    pub code: u32,
    #[serde(default)]
    pub message: String,
}

/// The `errors` of a failed response, shown as "81058 An identical record
/// already exists."; empty when the body had none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiErrors(pub Vec<ApiMessage>);

impl ApiErrors {
    /// Read `errors[]` from any envelope-shaped body; anything else is empty.
    pub fn from_body(body: &Value) -> Self {
        let list = body.get("errors").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        ApiErrors(list.iter().filter_map(|e| serde_json::from_value(e.clone()).ok()).collect())
    }

    pub fn codes(&self) -> Vec<u32> {
        self.0.iter().map(|e| e.code).collect()
    }

    pub fn has(&self, codes: &[u32]) -> bool {
        self.0.iter().any(|e| codes.contains(&e.code))
    }
}

impl fmt::Display for ApiErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no error details");
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} {}", e.code, e.message)?;
        }
        Ok(())
    }
}
