//! What can be ordered, where, and at what price: `/server_types`,
//! `/locations` and `/pricing`. Read-only and cheap; the planner uses them
//! to choose candidates ([`super::choose`]) and the ledger records the
//! price read here, never a price written into the code.

use reqwest::Method;

use super::error::HetznerError;
use super::types::{LocationInfo, Pricing, ServerTypeInfo};
use super::{Hetzner, wire};

impl Hetzner {
    /// Every server type, all pages, with per-location deprecation.
    pub async fn server_types(&self) -> Result<Vec<ServerTypeInfo>, HetznerError> {
        let wire: Vec<wire::WireServerType> = self.list_all("server types", "/server_types", &[], "server_types").await?;
        Ok(wire.into_iter().map(ServerTypeInfo::from).collect())
    }

    /// Server type prices per location (hourly and monthly, net and gross)
    /// and the primary IPv4 price, in the project's currency.
    pub async fn pricing(&self) -> Result<Pricing, HetznerError> {
        let body: wire::PricingBody = self.expect("pricing", Method::GET, "/pricing", None).await?;
        Ok(Pricing::from(body.pricing))
    }

    pub async fn locations(&self) -> Result<Vec<LocationInfo>, HetznerError> {
        self.list_all("locations", "/locations", &[], "locations").await
    }
}
