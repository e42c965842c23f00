//! What mc-gitops reads from and sends to the Hetzner Cloud API.
//!
//! The public types hold only what the reconciler uses, with our id newtypes
//! and names; the `Wire*` types mirror the OpenAPI document's schemas
//! (`server`, `action`, `server_type`, `list_prices_response`, `firewall`,
//! …) and are converted once, at the edge. Keeping the two apart means a
//! field Hetzner deprecates (`datacenter`, `server_types[].deprecated`) is
//! handled in one conversion, not everywhere it is read.
//!
//! Nothing here can hold `root_password`: the create response's wire type
//! has no such field, so it is dropped while decoding.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};

use super::error::ErrorCode;
use crate::ids::{HetznerServerId, Location, ServerType};
use crate::repo::ledger::Price;

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

numeric_id!(
    /// A Hetzner action id.
    ActionId
);
numeric_id!(
    /// A Hetzner firewall id.
    FirewallId
);
numeric_id!(
    /// A Hetzner SSH key id.
    SshKeyId
);

/// Where to try creating a server: one location and the type to order there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub location: Location,
    pub server_type: ServerType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerStatus {
    Running,
    Initializing,
    Starting,
    Stopping,
    Off,
    Deleting,
    Migrating,
    Rebuilding,
    #[serde(other)]
    Unknown,
}

/// A server as the reconciler sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Server {
    pub id: HetznerServerId,
    pub name: String,
    pub status: ServerStatus,
    pub created: DateTime<Utc>,
    pub labels: BTreeMap<String, String>,
    pub location: Location,
    pub server_type: ServerType,
    pub ipv4: Option<String>,
    /// The server's IPv6 network (`2001:db8::/64`).
    pub ipv6: Option<String>,
    /// The image name (system images) or id (snapshots).
    pub image: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionStatus {
    Running,
    Success,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionError {
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResource {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
}

/// An asynchronous task (`action` in the document).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub id: ActionId,
    pub command: String,
    pub status: ActionStatus,
    pub progress: u8,
    pub started: DateTime<Utc>,
    pub finished: Option<DateTime<Utc>>,
    pub error: Option<ActionError>,
    pub resources: Vec<ActionResource>,
}

/// `POST /servers` as answered, minus the root password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CreatedServer {
    pub server: Server,
    pub action: Action,
    pub next_actions: Vec<Action>,
}

/// What [`super::Hetzner::create_with_fallback`] ended with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Created {
    pub server: Server,
    /// The create action; `None` when an existing server was adopted.
    pub action: Option<Action>,
    pub next_actions: Vec<Action>,
    /// True when the name already existed (a retried or crashed earlier
    /// run) and that server was taken over instead of creating another.
    pub adopted: bool,
    /// Where the server actually is (for an adopted one, where it was made).
    pub placed: Candidate,
    /// The server type's price at that location, from `/pricing`.
    pub price: Option<Price>,
    /// The primary IPv4's price at that location, billed on top.
    pub ipv4_price: Option<Price>,
    /// Candidates tried first and refused for lack of capacity.
    pub refused: Vec<super::error::Refused>,
}

/// `deprecation_info`: set means deprecated; past `unavailable_after` the
/// type can no longer be ordered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deprecation {
    pub announced: DateTime<Utc>,
    pub unavailable_after: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeLocation {
    pub location: Location,
    pub deprecation: Option<Deprecation>,
}

/// One entry of `/server_types`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerTypeInfo {
    pub id: u64,
    pub name: ServerType,
    pub description: String,
    pub cores: u32,
    pub memory_gb: f64,
    pub disk_gb: f64,
    pub architecture: String,
    pub cpu_type: String,
    /// The deprecated top-level fields (`deprecated`, `deprecation`), kept
    /// because a type retired everywhere may only say so there.
    pub deprecated: bool,
    pub deprecation: Option<Deprecation>,
    /// Where the type is offered at all; per-location deprecation inside.
    pub locations: Vec<TypeLocation>,
}

impl ServerTypeInfo {
    pub fn offered_in(&self, location: &Location) -> Option<&TypeLocation> {
        self.locations.iter().find(|l| &l.location == location)
    }
}

/// One entry of `/locations`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocationInfo {
    pub id: u64,
    pub name: Location,
    pub description: String,
    pub city: String,
    pub country: String,
    pub network_zone: String,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub net: Decimal,
    pub gross: Decimal,
}

/// An hourly and a monthly price at one location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocationPrice {
    pub location: Location,
    pub hourly: Money,
    pub monthly: Money,
}

/// The parts of `/pricing` a session's cost is made of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pricing {
    pub currency: String,
    pub vat_rate: Decimal,
    pub server_types: BTreeMap<ServerType, Vec<LocationPrice>>,
    /// `primary_ips[type = ipv4]`: since 2024 a primary IPv4 is billed
    /// separately from the server.
    pub primary_ipv4: Vec<LocationPrice>,
    /// `image.price_per_gb_month`: what a snapshot image costs per GB stored.
    pub image_per_gb_month: Option<Money>,
}

impl Pricing {
    /// The price of `server_type` at `location`, in the ledger's shape.
    pub fn server(&self, server_type: &ServerType, location: &Location) -> Option<Price> {
        let p = self.server_types.get(server_type)?.iter().find(|p| &p.location == location)?;
        Some(self.ledger_price(p))
    }

    pub fn ipv4(&self, location: &Location) -> Option<Price> {
        self.primary_ipv4
            .iter()
            .find(|p| &p.location == location)
            .map(|p| self.ledger_price(p))
    }

    fn ledger_price(&self, p: &LocationPrice) -> Price {
        Price {
            currency: self.currency.clone(),
            hourly_net: p.hourly.net,
            hourly_gross: p.hourly.gross,
            monthly_net: p.monthly.net,
            monthly_gross: p.monthly.gross,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// A firewall rule (`rule` in the document).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    pub direction: Direction,
    /// `tcp`, `udp`, `icmp`, `esp` or `gre`.
    pub protocol: String,
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// Minecraft's port, defined once; Java edition speaks TCP only.
use crate::minecraft::GAME_PORT;

impl FirewallRule {
    /// The game server's rules: 25565/tcp from anywhere, and 22/tcp only
    /// from `ssh_from` (no SSH rule at all when it is empty: inbound
    /// traffic without a rule is dropped).
    pub fn minecraft(ssh_from: &[String]) -> Vec<FirewallRule> {
        let inbound = |port: u16, from: Vec<String>, what: &str| FirewallRule {
            direction: Direction::In,
            protocol: "tcp".into(),
            port: Some(port.to_string()),
            source_ips: from,
            destination_ips: vec![],
            description: Some(what.into()),
        };
        let mut rules = vec![inbound(GAME_PORT, vec!["0.0.0.0/0".into(), "::/0".into()], "minecraft")];
        if !ssh_from.is_empty() {
            rules.push(inbound(22, ssh_from.to_vec(), "ssh"));
        }
        rules
    }

    /// The rule as the API stores it: CIDRs canonical (Hetzner rewrites IPv6
    /// per RFC 5952), lists sorted, the description ignored (it changes no
    /// traffic). Comparing these keeps an admin's cosmetic edits from
    /// triggering a rewrite on every run.
    pub(crate) fn effective(&self) -> (Direction, String, Option<String>, Vec<String>, Vec<String>) {
        let canon = |ips: &[String]| {
            let mut v: Vec<String> = ips.iter().map(|ip| canonical_cidr(ip)).collect();
            v.sort();
            v.dedup();
            v
        };
        (
            self.direction,
            self.protocol.to_ascii_lowercase(),
            self.port.clone(),
            canon(&self.source_ips),
            canon(&self.destination_ips),
        )
    }
}

fn canonical_cidr(s: &str) -> String {
    let (addr, len) = s.split_once('/').unwrap_or((s, ""));
    match addr.trim().parse::<std::net::IpAddr>() {
        Ok(ip) if len.is_empty() => ip.to_string(),
        Ok(ip) => format!("{ip}/{}", len.trim()),
        Err(_) => s.trim().to_string(),
    }
}

/// Whether two rule sets let the same traffic through, order aside.
pub(crate) fn same_rules(a: &[FirewallRule], b: &[FirewallRule]) -> bool {
    let mut x: Vec<_> = a.iter().map(FirewallRule::effective).collect();
    let mut y: Vec<_> = b.iter().map(FirewallRule::effective).collect();
    x.sort();
    y.sort();
    x == y
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKey {
    pub id: SshKeyId,
    pub name: String,
    pub fingerprint: String,
    pub public_key: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A server to create, without where: [`super::Hetzner::create_with_fallback`]
/// adds each candidate's location and type.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// Deterministic (`grove-20261122-1930-eu`): a retry meets
    /// `uniqueness_error` and adopts instead of creating a second server.
    pub name: String,
    pub image: String,
    /// Cloud-init. May hold short-lived scoped credentials, so `Debug`
    /// shows only its length.
    pub user_data: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// SSH key names or ids (the document types them as strings).
    pub ssh_keys: Vec<String>,
    pub firewalls: Vec<FirewallId>,
    pub enable_ipv4: bool,
    pub enable_ipv6: bool,
    pub start_after_create: bool,
}

impl ServerSpec {
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        ServerSpec {
            name: name.into(),
            image: image.into(),
            user_data: None,
            labels: BTreeMap::new(),
            ssh_keys: vec![],
            firewalls: vec![],
            enable_ipv4: true,
            enable_ipv6: true,
            start_after_create: true,
        }
    }

    pub fn at(&self, candidate: &Candidate) -> CreateServerRequest {
        CreateServerRequest {
            name: self.name.clone(),
            server_type: candidate.server_type.clone(),
            location: candidate.location.clone(),
            image: self.image.clone(),
            user_data: self.user_data.clone(),
            labels: self.labels.clone(),
            ssh_keys: self.ssh_keys.clone(),
            firewalls: self.firewalls.clone(),
            public_net: PublicNet {
                enable_ipv4: self.enable_ipv4,
                enable_ipv6: self.enable_ipv6,
            },
            start_after_create: self.start_after_create,
        }
    }
}

impl fmt::Debug for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSpec")
            .field("name", &self.name)
            .field("image", &self.image)
            .field("user_data", &UserDataLen(&self.user_data))
            .field("labels", &self.labels)
            .field("ssh_keys", &self.ssh_keys)
            .field("firewalls", &self.firewalls)
            .field("enable_ipv4", &self.enable_ipv4)
            .field("enable_ipv6", &self.enable_ipv6)
            .field("start_after_create", &self.start_after_create)
            .finish()
    }
}

struct UserDataLen<'a>(&'a Option<String>);

impl fmt::Debug for UserDataLen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "[{} bytes]", s.len()),
            None => f.write_str("None"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublicNet {
    pub enable_ipv4: bool,
    pub enable_ipv6: bool,
}

/// The body of `POST /servers` (`create_server_request`).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct CreateServerRequest {
    pub name: String,
    pub server_type: ServerType,
    pub location: Location,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub ssh_keys: Vec<String>,
    #[serde(serialize_with = "firewall_refs")]
    pub firewalls: Vec<FirewallId>,
    pub public_net: PublicNet,
    pub start_after_create: bool,
}

impl fmt::Debug for CreateServerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateServerRequest")
            .field("name", &self.name)
            .field("server_type", &self.server_type)
            .field("location", &self.location)
            .field("image", &self.image)
            .field("user_data", &UserDataLen(&self.user_data))
            .field("labels", &self.labels)
            .field("ssh_keys", &self.ssh_keys)
            .field("firewalls", &self.firewalls)
            .field("public_net", &self.public_net)
            .field("start_after_create", &self.start_after_create)
            .finish()
    }
}

/// `firewalls: [{"firewall": <id>}]`, as `CreateServerRequestFirewalls` wants.
fn firewall_refs<S: Serializer>(ids: &[FirewallId], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Ref {
        firewall: u64,
    }
    s.collect_seq(ids.iter().map(|id| Ref { firewall: id.0 }))
}

/// Label selector matching every one of `labels` (`k=v,k2=v2`).
pub fn selector_for(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}
