//! The API's JSON shapes, as the OpenAPI document names them, and their
//! conversion into the types in [`super::types`]. Only fields we read are
//! declared; serde ignores the rest, so Hetzner adding fields breaks nothing,
//! and a required field going missing is a decode error naming the resource.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::types::{
    Action, Deprecation, FirewallId, FirewallRule, LocationPrice, Money, Pricing, Server, ServerStatus, ServerTypeInfo, SshKey,
    TypeLocation,
};
use crate::ids::{HetznerServerId, Location, ServerType};

/// `meta.pagination`.
#[derive(Debug, Deserialize)]
pub(crate) struct Pagination {
    pub page: u64,
    pub next_page: Option<u64>,
    #[allow(dead_code)]
    pub last_page: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Meta {
    pub pagination: Pagination,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Named {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Ip {
    pub ip: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PublicNet {
    pub ipv4: Option<Ip>,
    pub ipv6: Option<Ip>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Image {
    pub id: u64,
    pub name: Option<String>,
}

/// `server`.
#[derive(Debug, Deserialize)]
pub(crate) struct WireServer {
    pub id: u64,
    pub name: String,
    pub status: ServerStatus,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub location: Named,
    pub server_type: Named,
    pub public_net: PublicNet,
    pub image: Option<Image>,
}

impl From<WireServer> for Server {
    fn from(w: WireServer) -> Self {
        Server {
            id: HetznerServerId(w.id),
            name: w.name,
            status: w.status,
            created: w.created,
            labels: w.labels,
            location: Location::new(w.location.name),
            server_type: ServerType::new(w.server_type.name),
            ipv4: w.public_net.ipv4.map(|i| i.ip),
            ipv6: w.public_net.ipv6.map(|i| i.ip),
            image: w.image.map(|i| i.name.unwrap_or_else(|| i.id.to_string())),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServersBody {
    pub servers: Vec<WireServer>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServerBody {
    pub server: WireServer,
}

/// `create_server_response`; `root_password` deliberately absent.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateServerBody {
    pub server: WireServer,
    pub action: Action,
    #[serde(default)]
    pub next_actions: Vec<Action>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActionBody {
    pub action: Action,
}

/// `delete_server_response`: `action` is not in its `required` list.
#[derive(Debug, Deserialize)]
pub(crate) struct MaybeActionBody {
    pub action: Option<Action>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireTypeLocation {
    pub name: String,
    pub deprecation: Option<Deprecation>,
}

/// `server_type`.
#[derive(Debug, Deserialize)]
pub(crate) struct WireServerType {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub cores: u32,
    pub memory: f64,
    pub disk: f64,
    pub architecture: String,
    pub cpu_type: String,
    pub deprecated: Option<bool>,
    #[serde(default)]
    pub deprecation: Option<Deprecation>,
    #[serde(default)]
    pub locations: Vec<WireTypeLocation>,
}

impl From<WireServerType> for ServerTypeInfo {
    fn from(w: WireServerType) -> Self {
        ServerTypeInfo {
            id: w.id,
            name: ServerType::new(w.name),
            description: w.description,
            cores: w.cores,
            memory_gb: w.memory,
            disk_gb: w.disk,
            architecture: w.architecture,
            cpu_type: w.cpu_type,
            deprecated: w.deprecated.unwrap_or(false) || w.deprecation.is_some(),
            deprecation: w.deprecation,
            locations: w
                .locations
                .into_iter()
                .map(|l| TypeLocation {
                    location: Location::new(l.name),
                    deprecation: l.deprecation,
                })
                .collect(),
        }
    }
}

/// `price_per_time` and `price_per_time_without_traffic` alike.
#[derive(Debug, Deserialize)]
pub(crate) struct WirePrice {
    pub location: String,
    pub price_hourly: Money,
    pub price_monthly: Money,
}

impl From<WirePrice> for LocationPrice {
    fn from(w: WirePrice) -> Self {
        LocationPrice {
            location: Location::new(w.location),
            hourly: w.price_hourly,
            monthly: w.price_monthly,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireTypePrices {
    pub name: String,
    pub prices: Vec<WirePrice>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireIpPrices {
    #[serde(rename = "type")]
    pub kind: String,
    pub prices: Vec<WirePrice>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WirePricing {
    pub currency: String,
    pub vat_rate: rust_decimal::Decimal,
    pub server_types: Vec<WireTypePrices>,
    #[serde(default)]
    pub primary_ips: Vec<WireIpPrices>,
    pub image: Option<WireImagePrice>,
}

/// `pricing.image`: snapshots are billed per GB stored and month.
#[derive(Debug, Deserialize)]
pub(crate) struct WireImagePrice {
    pub price_per_gb_month: Money,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PricingBody {
    pub pricing: WirePricing,
}

impl From<WirePricing> for Pricing {
    fn from(w: WirePricing) -> Self {
        Pricing {
            currency: w.currency,
            vat_rate: w.vat_rate,
            server_types: w
                .server_types
                .into_iter()
                .map(|t| (ServerType::new(t.name), t.prices.into_iter().map(LocationPrice::from).collect()))
                .collect(),
            primary_ipv4: w
                .primary_ips
                .into_iter()
                .filter(|p| p.kind == "ipv4")
                .flat_map(|p| p.prices)
                .map(LocationPrice::from)
                .collect(),
            image_per_gb_month: w.image.map(|i| i.price_per_gb_month),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LabelSelector {
    pub selector: String,
}

/// `firewall_resource_id`.
#[derive(Debug, Deserialize)]
pub(crate) struct AppliedTo {
    #[serde(rename = "type")]
    pub kind: String,
    pub label_selector: Option<LabelSelector>,
}

/// `firewall`.
#[derive(Debug, Deserialize)]
pub(crate) struct WireFirewall {
    pub id: FirewallId,
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub rules: Vec<FirewallRule>,
    #[serde(default)]
    pub applied_to: Vec<AppliedTo>,
}

impl WireFirewall {
    pub(super) fn applied_to_selector(&self, selector: &str) -> bool {
        self.applied_to
            .iter()
            .any(|a| a.kind == "label_selector" && a.label_selector.as_ref().is_some_and(|l| l.selector == selector))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct FirewallBody {
    pub firewall: WireFirewall,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FirewallsBody {
    pub firewalls: Vec<WireFirewall>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SshKeysBody {
    pub ssh_keys: Vec<SshKey>,
}
