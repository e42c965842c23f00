//! The fake Hetzner's fixed world: locations, server types (current and
//! retired), prices, images, and the JSON builders that give servers,
//! actions and firewalls the exact shapes of the OpenAPI document's
//! `server`, `action`, `server_type` and `firewall` schemas (checked by
//! `tests/hetzner_client.rs` against the document itself).
//!
//! Prices are EUR, net, in the shape `/pricing` uses (10-decimal net,
//! 16-decimal gross at 19 % VAT), close to Hetzner's 2025 list prices.

use rust_decimal::Decimal;
use serde_json::{Value, json};

pub(crate) const VAT_PERCENT: i64 = 19;

pub(crate) struct LocationSeed {
    pub id: u64,
    pub name: &'static str,
    pub description: &'static str,
    pub city: &'static str,
    pub country: &'static str,
    pub latitude: f64,
    pub longitude: f64,
    pub network_zone: &'static str,
    pub datacenter: &'static str,
}

#[rustfmt::skip]
pub(crate) const LOCATIONS: &[LocationSeed] = &[
    LocationSeed { id: 1, name: "fsn1", description: "Falkenstein DC Park 1", city: "Falkenstein", country: "DE", latitude: 50.47612, longitude: 12.370071, network_zone: "eu-central", datacenter: "fsn1-dc14" },
    LocationSeed { id: 2, name: "nbg1", description: "Nuremberg DC Park 1", city: "Nuremberg", country: "DE", latitude: 49.452102, longitude: 11.076665, network_zone: "eu-central", datacenter: "nbg1-dc3" },
    LocationSeed { id: 3, name: "hel1", description: "Helsinki DC Park 1", city: "Helsinki", country: "FI", latitude: 60.169855, longitude: 24.938379, network_zone: "eu-central", datacenter: "hel1-dc2" },
    LocationSeed { id: 4, name: "ash", description: "Ashburn, VA", city: "Ashburn, VA", country: "US", latitude: 39.045821, longitude: -77.487073, network_zone: "us-east", datacenter: "ash-dc1" },
    LocationSeed { id: 5, name: "hil", description: "Hillsboro, OR", city: "Hillsboro, OR", country: "US", latitude: 45.54222, longitude: -122.95161, network_zone: "us-west", datacenter: "hil-dc1" },
];

pub(crate) const EU: &[&str] = &["fsn1", "nbg1", "hel1"];
pub(crate) const ALL: &[&str] = &["fsn1", "nbg1", "hel1", "ash", "hil"];

pub(crate) struct TypeSeed {
    pub id: u64,
    pub name: &'static str,
    pub cores: u32,
    pub memory: f64,
    pub disk: u32,
    pub arch: &'static str,
    pub locations: &'static [&'static str],
    /// Monthly and hourly net EUR in the EU, then in the US.
    pub eu: (&'static str, &'static str),
    pub us: (&'static str, &'static str),
    /// Retired in 2025: listed, with `deprecation` set everywhere.
    pub retired: bool,
}

#[rustfmt::skip]
pub(crate) const SERVER_TYPES: &[TypeSeed] = &[
    TypeSeed { id: 104, name: "cx22", cores: 2, memory: 4.0, disk: 40, arch: "x86", locations: EU, eu: ("3.7900", "0.0060"), us: ("", ""), retired: true },
    TypeSeed { id: 9, name: "cpx31", cores: 4, memory: 8.0, disk: 160, arch: "x86", locations: ALL, eu: ("13.6000", "0.0216"), us: ("15.5900", "0.0250"), retired: true },
    TypeSeed { id: 114, name: "cx23", cores: 2, memory: 4.0, disk: 40, arch: "x86", locations: EU, eu: ("2.9900", "0.0048"), us: ("", ""), retired: false },
    TypeSeed { id: 115, name: "cx33", cores: 4, memory: 8.0, disk: 80, arch: "x86", locations: EU, eu: ("4.9900", "0.0080"), us: ("", ""), retired: false },
    TypeSeed { id: 108, name: "cpx22", cores: 2, memory: 4.0, disk: 80, arch: "x86", locations: ALL, eu: ("5.9900", "0.0096"), us: ("6.9900", "0.0112"), retired: false },
    TypeSeed { id: 109, name: "cpx32", cores: 4, memory: 8.0, disk: 160, arch: "x86", locations: ALL, eu: ("10.4900", "0.0168"), us: ("11.9900", "0.0192"), retired: false },
    TypeSeed { id: 45, name: "cax21", cores: 4, memory: 8.0, disk: 80, arch: "arm", locations: EU, eu: ("6.4900", "0.0104"), us: ("", ""), retired: false },
];

/// Primary IPv4: billed per hour on top of the server since 2024.
pub(crate) const IPV4_PRICE: (&str, &str) = ("0.5000", "0.0008");

/// System images the fake can boot: (id, name, architecture).
pub(crate) const IMAGES: &[(u64, &str, &str)] = &[
    (161547269, "ubuntu-24.04", "x86"),
    (161547270, "ubuntu-24.04", "arm"),
    (114690387, "debian-12", "x86"),
    (114690389, "debian-12", "arm"),
];

pub(crate) const RETIRED_ANNOUNCED: &str = "2025-10-16T06:00:00Z";
pub(crate) const RETIRED_UNAVAILABLE_AFTER: &str = "2026-01-01T00:00:00Z";

pub(crate) fn is_us(location: &str) -> bool {
    matches!(location, "ash" | "hil")
}

pub(crate) fn location_seed(name: &str) -> Option<&'static LocationSeed> {
    LOCATIONS.iter().find(|l| l.name == name)
}

pub(crate) fn location_json(name: &str) -> Option<Value> {
    let l = location_seed(name)?;
    Some(json!({
        "id": l.id, "name": l.name, "description": l.description, "city": l.city, "country": l.country,
        "latitude": l.latitude, "longitude": l.longitude, "network_zone": l.network_zone,
    }))
}

/// The deprecated `datacenter` object servers still carry (until July 2026).
pub(crate) fn datacenter_json(location: &str, available_type_ids: &[u64]) -> Value {
    let l = location_seed(location).expect("a known location");
    json!({
        "id": l.id + 100, "name": l.datacenter, "description": format!("{} DC", l.city),
        "location": location_json(location),
        "server_types": { "supported": available_type_ids, "available": available_type_ids, "available_for_migration": available_type_ids },
    })
}

/// A `/datacenters` entry: what its location supports, and what of that
/// can be bought now (`available`; a sold-out type is only `supported`).
pub(crate) fn datacenter_listing_json(location: &str, supported: &[u64], available: &[u64]) -> Value {
    let mut dc = datacenter_json(location, supported);
    dc["server_types"]["available"] = json!(available);
    dc
}

pub(crate) fn money(net: &str) -> Value {
    let net: Decimal = net.parse().expect("a decimal price");
    let gross = net * Decimal::new(100 + VAT_PERCENT, 2);
    json!({ "net": format!("{net:.10}"), "gross": format!("{gross:.16}") })
}

/// Net (monthly, hourly) of a type at a location; None where it is not sold.
pub(crate) fn net_price(t: &TypeSeed, location: &str) -> Option<(&'static str, &'static str)> {
    if !t.locations.contains(&location) {
        return None;
    }
    let p = if is_us(location) { t.us } else { t.eu };
    (!p.0.is_empty()).then_some(p)
}

pub(crate) fn included_traffic(location: &str) -> u64 {
    if is_us(location) { 1 << 40 } else { 20 << 40 }
}

/// `price_per_time` entries of a type.
pub(crate) fn type_prices(t: &TypeSeed) -> Vec<Value> {
    t.locations
        .iter()
        .filter_map(|l| {
            let (monthly, hourly) = net_price(t, l)?;
            Some(json!({
                "location": l, "price_hourly": money(hourly), "price_monthly": money(monthly),
                "included_traffic": included_traffic(l), "price_per_tb_traffic": money("1.0000"),
            }))
        })
        .collect()
}

pub(crate) fn deprecation_json(announced: &str, unavailable_after: &str) -> Value {
    json!({ "announced": announced, "unavailable_after": unavailable_after })
}

/// `server_type`, with `deprecation` (deprecated field, still sent) and
/// `locations[].deprecation` set for retired types.
pub(crate) fn server_type_json(t: &TypeSeed) -> Value {
    let dep = t.retired.then(|| deprecation_json(RETIRED_ANNOUNCED, RETIRED_UNAVAILABLE_AFTER));
    let locations: Vec<Value> = t
        .locations
        .iter()
        .map(|l| {
            let id = location_seed(l).map(|x| x.id).unwrap_or_default();
            json!({ "id": id, "name": l, "deprecation": dep })
        })
        .collect();
    json!({
        "id": t.id, "name": t.name, "description": t.name.to_uppercase(),
        "cores": t.cores, "memory": t.memory, "disk": t.disk,
        "architecture": t.arch, "cpu_type": "shared", "storage_type": "local",
        "category": if t.arch == "arm" { "cost_optimized" } else { "regular_purpose" },
        "deprecated": t.retired, "deprecation": dep,
        "locations": locations, "prices": type_prices(t),
    })
}

/// The whole `/pricing` object (every required key of `list_prices_response`).
pub(crate) fn pricing_json(types: &[Value]) -> Value {
    let per_location = |(monthly, hourly): (&str, &str)| -> Vec<Value> {
        ALL.iter()
            .map(|l| json!({ "location": l, "price_hourly": money(hourly), "price_monthly": money(monthly) }))
            .collect()
    };
    let server_types: Vec<Value> = types
        .iter()
        .map(|t| json!({ "id": t["id"], "name": t["name"], "prices": t["prices"] }))
        .collect();
    json!({
        "pricing": {
            "currency": "EUR",
            "vat_rate": format!("{VAT_PERCENT}.00"),
            "server_types": server_types,
            "primary_ips": [
                { "type": "ipv4", "prices": per_location(IPV4_PRICE) },
                { "type": "ipv6", "prices": per_location(("0.0000", "0.0000")) },
            ],
            "floating_ip": { "price_monthly": money("3.0000") },
            "floating_ips": [
                { "type": "ipv4", "prices": ALL.iter().map(|l| json!({ "location": l, "price_monthly": money("3.0000") })).collect::<Vec<_>>() },
            ],
            "image": { "price_per_gb_month": money("0.0110") },
            "volume": { "price_per_gb_month": money("0.0440") },
            "server_backup": { "percentage": "20.00" },
            "load_balancer_types": [],
        }
    })
}

pub(crate) fn image_json(name: &str, arch: &str, created: &str) -> Option<Value> {
    let (id, name, arch) = IMAGES.iter().find(|i| i.1 == name && i.2 == arch)?;
    let (flavor, version) = name.split_once('-').unwrap_or((name, ""));
    Some(json!({
        "id": id, "name": name, "type": "system", "status": "available",
        "description": format!("{} {version}", flavor[..1].to_uppercase() + &flavor[1..]),
        "architecture": arch, "os_flavor": flavor, "os_version": version,
        "disk_size": 5, "image_size": null, "rapid_deploy": true,
        "bound_to": null, "created": created, "created_from": null, "deleted": null, "deprecated": null,
        "labels": {}, "protection": { "delete": false },
    }))
}

pub(crate) struct NewServer<'a> {
    pub id: u64,
    pub name: &'a str,
    pub labels: &'a Value,
    pub location: &'a str,
    pub server_type: &'a Value,
    pub image: Value,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub firewalls: Vec<u64>,
    pub created: &'a str,
}

/// `server`, every required field present.
pub(crate) fn server_json(s: NewServer<'_>) -> Value {
    let type_ids: Vec<u64> = SERVER_TYPES
        .iter()
        .filter(|t| !t.retired && t.locations.contains(&s.location))
        .map(|t| t.id)
        .collect();
    let ipv4 = s
        .ipv4
        .map(|ip| json!({ "id": s.id + 1_000_000, "ip": ip, "blocked": false, "dns_ptr": format!("static.{ip}.clients.your-server.de") }));
    let ipv6 = s
        .ipv6
        .map(|ip| json!({ "id": s.id + 2_000_000, "ip": ip, "blocked": false, "dns_ptr": [] }));
    json!({
        "id": s.id, "name": s.name, "status": "initializing", "created": s.created,
        "labels": s.labels, "locked": false, "rescue_enabled": false, "backup_window": null,
        "location": location_json(s.location), "datacenter": datacenter_json(s.location, &type_ids),
        "server_type": s.server_type, "image": s.image, "iso": null,
        "primary_disk_size": s.server_type["disk"], "placement_group": null,
        "included_traffic": included_traffic(s.location), "ingoing_traffic": 0, "outgoing_traffic": 0,
        "protection": { "delete": false, "rebuild": false },
        "public_net": {
            "ipv4": ipv4, "ipv6": ipv6, "floating_ips": [],
            "firewalls": s.firewalls.iter().map(|id| json!({ "id": id, "status": "applied" })).collect::<Vec<_>>(),
        },
        "private_net": [], "volumes": [], "load_balancers": [],
    })
}

/// `action`, running at 0 %.
pub(crate) fn action_json(id: u64, command: &str, resources: &[(u64, &str)], started: &str) -> Value {
    json!({
        "id": id, "command": command, "status": "running", "progress": 0,
        "started": started, "finished": null, "error": null,
        "resources": resources.iter().map(|(id, t)| json!({ "id": id, "type": t })).collect::<Vec<_>>(),
    })
}

/// A rule as `firewall.rules[]` (`RuleResponse`) returns it: every key
/// present, IPv6 CIDRs rewritten to their canonical form (RFC 5952) as the
/// document says Hetzner does.
pub(crate) fn rule_response(rule: &Value) -> Value {
    let ips = |key: &str| -> Value {
        let list = rule.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        list.iter()
            .map(|ip| ip.as_str().map(canonical_cidr).map_or(ip.clone(), Value::String))
            .collect()
    };
    json!({
        "direction": rule["direction"],
        "protocol": rule["protocol"],
        "port": rule.get("port").cloned().unwrap_or(Value::Null),
        "source_ips": ips("source_ips"),
        "destination_ips": ips("destination_ips"),
        "description": rule.get("description").cloned().unwrap_or(Value::Null),
    })
}

fn canonical_cidr(cidr: &str) -> String {
    match cidr.split_once('/') {
        Some((ip, len)) => match ip.parse::<std::net::Ipv6Addr>() {
            Ok(v6) => format!("{v6}/{len}"),
            Err(_) => cidr.to_string(),
        },
        None => cidr.to_string(),
    }
}

/// Hetzner's documented status and code for a status a test injects.
pub(crate) fn documented_error(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("json_error", "Invalid JSON input in your request."),
        401 => ("unauthorized", "unable to authenticate"),
        403 => ("forbidden", "Insufficient permissions for this request."),
        404 => ("not_found", "Entity not found."),
        409 => ("conflict", "The resource has changed during the request, please retry."),
        412 => ("resource_unavailable", "The requested resource is currently unavailable."),
        422 => ("invalid_input", "Error while parsing or processing the input."),
        423 => ("locked", "The item you are trying to access is locked."),
        429 => ("rate_limit_exceeded", "Error when sending too many requests."),
        503 => ("unavailable", "A service or product is currently not available."),
        504 => ("timeout", "The request could not be answered in time, please retry."),
        _ => ("server_error", "Error within the API backend."),
    }
}
