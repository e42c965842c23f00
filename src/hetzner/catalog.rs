//! What can be ordered, where, and at what price: `/server_types`,
//! `/locations` and `/pricing`. Read-only and cheap; the planner uses them
//! to choose candidates ([`super::choose`]) and the ledger records the
//! price read here, never a price written into the code.
//!
//! `/datacenters` is the one read-only place that shows a type sold out in
//! a location (`server_types.available` drops it while `supported` keeps
//! it); `mc-gitops doctor` reads it, the planner does not need to (a
//! sold-out create answers 412 and apply tries the next candidate).

use reqwest::Method;
use serde::Deserialize;

use super::error::HetznerError;
use super::types::{LocationInfo, Pricing, ServerTypeInfo};
use super::{Hetzner, wire};
use crate::ids::Location;

/// One entry of `/datacenters`: which server types (by id) its location
/// supports, and which of those can be bought right now.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "WireDatacenter")]
pub struct Availability {
    pub datacenter: String,
    pub location: Location,
    /// Types that "can currently be purchased" here.
    pub available: Vec<u64>,
    /// Types generally offered here, "but might be temporarily out of stock".
    pub supported: Vec<u64>,
}

#[derive(Deserialize)]
struct WireDatacenter {
    name: String,
    location: wire::Named,
    server_types: WireDatacenterTypes,
}

#[derive(Deserialize)]
struct WireDatacenterTypes {
    available: Vec<u64>,
    supported: Vec<u64>,
}

impl From<WireDatacenter> for Availability {
    fn from(w: WireDatacenter) -> Self {
        Availability {
            datacenter: w.name,
            location: Location::new(w.location.name),
            available: w.server_types.available,
            supported: w.server_types.supported,
        }
    }
}

impl Hetzner {
    /// Every server type, all pages, with per-location deprecation.
    pub async fn server_types(&self) -> Result<Vec<ServerTypeInfo>, HetznerError> {
        let wire: Vec<wire::WireServerType> = self.list_all("server types", "/server_types", &[], "server_types").await?;
        Ok(wire.into_iter().map(ServerTypeInfo::from).collect())
    }

    /// Server type prices per location (hourly and monthly, net and gross)
    /// and the primary IPv4 price, in the project's currency.
    pub async fn pricing(&self) -> Result<Pricing, HetznerError> {
        let body: wire::PricingBody = self.request_json("pricing", Method::GET, "/pricing", None).await?;
        Ok(Pricing::from(body.pricing))
    }

    /// What each data centre can sell now (`/datacenters`, all pages).
    pub async fn availability(&self) -> Result<Vec<Availability>, HetznerError> {
        self.list_all("datacenters", "/datacenters", &[], "datacenters").await
    }

    pub async fn locations(&self) -> Result<Vec<LocationInfo>, HetznerError> {
        self.list_all("locations", "/locations", &[], "locations").await
    }
}
