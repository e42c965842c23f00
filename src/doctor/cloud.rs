//! Hetzner and Cloudflare: the tokens work, each region can order a server
//! somewhere (and at what price), the zone is readable and its DNS editable.
//!
//! Hetzner has no "who am I": reading `/server_types` proves the token (401
//! `unauthorized` otherwise), and only a write proves it is Read & Write
//! (a read-only token answers 403 `forbidden` to writes): an empty firewall
//! `mc-gitops-doctor-<id>` is created and deleted (firewalls cost nothing). Whether a type can be bought where is the
//! planner's own rule ([`crate::hetzner::choose::refusal`]: listed, not
//! retired, offered there) plus stock from `/datacenters`, which is the
//! only read-only place a sold-out location shows.
//!
//! Cloudflare's `GET /user/tokens/verify` proves the token is active but
//! not what it may do, and a token cannot read its own permissions without
//! a further permission nobody should grant it; so DNS edit is proved the
//! only honest way, by creating a probe A record under a name nothing else
//! uses and deleting it again.

use std::net::Ipv4Addr;

use super::{Check, Status, why};
use crate::cloudflare::{Cloudflare, CloudflareError, NewRecord, RecordContent, RecordType, Zone};
use crate::hetzner::{Availability, Hetzner, HetznerError, Pricing, ServerTypeInfo, choose};
use crate::ids::{Location, ServerType};
use crate::repo::Desired;

/// TEST-NET-1 (RFC 5737): an address for documentation, routed nowhere, so
/// a probe record that outlived a crash points at nothing.
const PROBE_IPV4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

const HETZNER_FIX_TOKEN: &str = "create a Read & Write API token in the Hetzner Cloud console (project → Security → API tokens) and store it as the HCLOUD_TOKEN secret";

/// The token line, then one line per region.
pub(super) async fn hetzner(h: Option<&Result<Hetzner, HetznerError>>, d: &Desired, probes: bool) -> Vec<Check> {
    let h = match h {
        None => {
            return vec![
                Check::fail("hetzner.token", "HCLOUD_TOKEN is not set", HETZNER_FIX_TOKEN),
                Check::skip("regions", "the regions cannot be checked without HCLOUD_TOKEN"),
            ];
        }
        Some(Err(e)) => {
            return vec![Check::fail(
                "hetzner.token",
                why(e),
                "set HCLOUD_ENDPOINT to an http(s) URL, or unset it",
            )];
        }
        Some(Ok(h)) => h,
    };
    let listing = match h.server_types().await {
        Ok(l) => l,
        Err(e) => {
            let fix = match e.status() {
                Some(401) => HETZNER_FIX_TOKEN.to_string(),
                _ => "check HCLOUD_ENDPOINT and the network, then run doctor again".to_string(),
            };
            let detail = match e.status() {
                Some(401) => format!("Hetzner refused the token: {}", why(&e)),
                _ => why(&e),
            };
            return vec![
                Check::fail("hetzner.token", detail, fix),
                Check::skip("regions", "the regions cannot be checked without a working HCLOUD_TOKEN"),
            ];
        }
    };
    let mut out = vec![hetzner_write(h, listing.len(), probes).await];
    // Stock and prices make the region lines better; without them the
    // catalogue alone still says what cannot be ordered at all.
    let stock = h.availability().await;
    let pricing = h.pricing().await;
    if let Err(e) = &stock {
        out.push(Check::warn(
            "hetzner.stock",
            format!("stock is unknown: {}", why(e)),
            "nothing to do unless a start fails with resource_unavailable",
        ));
    }
    if let Err(e) = &pricing {
        out.push(Check::warn(
            "hetzner.pricing",
            format!("prices are unknown: {}", why(e)),
            "run doctor again later",
        ));
    }
    for (key, region) in &d.server.regions {
        out.push(region_line(
            key.as_str(),
            &region.locations,
            &region.server_types,
            &listing,
            stock.as_deref().ok(),
            pricing.as_ref().ok(),
        ));
    }
    out
}

/// Reading proved the token; only a write proves it is not read-only.
async fn hetzner_write(h: &Hetzner, types: usize, probes: bool) -> Check {
    const ID: &str = "hetzner.token";
    if !probes {
        return Check::warn(
            ID,
            format!("HCLOUD_TOKEN reads the project ({types} server types listed); that it may write is not proven (--no-write)"),
            "make sure it is a Read & Write token, or run doctor without --no-write",
        );
    }
    let probe = format!("mc-gitops-doctor-{}", super::probe_id());
    match h.probe_write(&probe).await {
        Ok(()) => Check::pass(
            ID,
            format!("HCLOUD_TOKEN reads and writes the project ({types} server types listed; a probe firewall was created and deleted)"),
        ),
        Err(e) if e.status() == Some(403) => Check::fail(
            ID,
            format!("HCLOUD_TOKEN is read-only: {}", why(&e)),
            "create a Read & Write API token in the Hetzner Cloud console and store it as the HCLOUD_TOKEN secret",
        ),
        Err(e) => Check::warn(
            ID,
            format!("HCLOUD_TOKEN reads the project; the write probe failed: {}", why(&e)),
            format!("delete the firewall {probe} in the Hetzner console if it is there, and run doctor again"),
        ),
    }
}

/// Why a (type, location) pair cannot be bought now, or `None`.
fn blocked(location: &Location, t: &ServerType, listing: &[ServerTypeInfo], stock: Option<&[Availability]>) -> Option<String> {
    if let Some(r) = choose::refusal(location, t, listing) {
        return Some(r.to_string());
    }
    let id = listing.iter().find(|i| &i.name == t)?.id;
    let here: Vec<&Availability> = stock?.iter().filter(|a| &a.location == location).collect();
    (!here.is_empty() && !here.iter().any(|a| a.available.contains(&id))).then(|| "sold out".to_string())
}

/// The first pair, in the region's order, that can be ordered now, with
/// its price; or everything that was tried and why not.
fn region_line(
    key: &str,
    locations: &[Location],
    types: &[ServerType],
    listing: &[ServerTypeInfo],
    stock: Option<&[Availability]>,
    pricing: Option<&Pricing>,
) -> Check {
    let id = format!("region.{key}");
    let mut refused = Vec::new();
    for location in locations {
        for t in types {
            match blocked(location, t, listing, stock) {
                Some(why) => refused.push(format!("{t} in {location}: {why}")),
                None => {
                    let price = pricing.and_then(|p| Some((p.server(t, location)?, p.ipv4(location))));
                    let price = match price {
                        Some((s, ip)) => {
                            // Rounded, not cut: 0.000952 is 0.0010, as Hetzner's own price list shows it.
                            let h = |d: rust_decimal::Decimal| d.round_dp(4);
                            let ip = ip.map(|ip| format!(" + {} for its IPv4", h(ip.hourly_gross))).unwrap_or_default();
                            format!(" at {} {}/h gross{ip}", h(s.hourly_gross), s.currency)
                        }
                        None => String::new(),
                    };
                    let mut c = Check::pass(&id, format!("region {key}: {t} can be ordered in {location}{price}"));
                    if !refused.is_empty() {
                        c.status = Status::Warn;
                        c.detail.push_str(&format!(" (passed over: {})", refused.join("; ")));
                        c.fix = Some(format!(
                            "nothing to do; to prefer another, reorder [regions.{key}] locations or server_types"
                        ));
                    }
                    return c;
                }
            }
        }
    }
    Check::fail(
        id,
        format!("region {key}: nothing can be ordered ({})", refused.join("; ")),
        format!("add a current type (see `hcloud server-type list`) or another location to [regions.{key}] in server.toml"),
    )
}

const CF_FIX_TOKEN: &str = "create a Cloudflare API token (My Profile → API Tokens) with Zone → DNS → Edit on the zone and Account → Workers R2 Storage → Edit, and store it as the CLOUDFLARE_API_TOKEN secret";

/// The token line; the client when the token works.
pub(super) async fn cloudflare_token<'a>(
    cf: Option<&'a Result<Cloudflare, CloudflareError>>,
    out: &mut Vec<Check>,
) -> Option<&'a Cloudflare> {
    let cf = match cf {
        None => {
            out.push(Check::fail("cloudflare.token", "CLOUDFLARE_API_TOKEN is not set", CF_FIX_TOKEN));
            return None;
        }
        Some(Err(e)) => {
            out.push(Check::fail(
                "cloudflare.token",
                why(e),
                "set CLOUDFLARE_API_BASE_URL to an http(s) URL, or unset it",
            ));
            return None;
        }
        Some(Ok(cf)) => cf,
    };
    match cf.verify_token().await {
        Ok(t) if t.status == "active" => {
            out.push(Check::pass("cloudflare.token", "CLOUDFLARE_API_TOKEN is active"));
            Some(cf)
        }
        Ok(t) => {
            out.push(Check::fail(
                "cloudflare.token",
                format!("CLOUDFLARE_API_TOKEN is {}", crate::escape::value(&t.status)),
                "roll or re-create the token (My Profile → API Tokens) and update the CLOUDFLARE_API_TOKEN secret",
            ));
            None
        }
        Err(e) => {
            out.push(Check::fail(
                "cloudflare.token",
                format!("Cloudflare refused the token: {}", why(&e)),
                CF_FIX_TOKEN,
            ));
            None
        }
    }
}

/// The zone is readable, and its DNS editable (a probe record, deleted).
pub(super) async fn dns(cf: Option<&Cloudflare>, d: &Desired, probes: bool) -> Vec<Check> {
    let zone_name = &d.server.dns.zone;
    let Some(cf) = cf else {
        return vec![Check::skip(
            "cloudflare.zone",
            format!("zone {zone_name} is not checked without a working CLOUDFLARE_API_TOKEN"),
        )];
    };
    let zone = match cf.zone(zone_name).await {
        Ok(z) => z,
        Err(e) => {
            let fix = match &e {
                CloudflareError::ZoneNotFound { .. } => format!(
                    "add {zone_name} to the Cloudflare account, or give the token Zone → Zone → Read and DNS → Edit on it (or fix [dns] zone)"
                ),
                _ => "check CLOUDFLARE_API_BASE_URL and the network, then run doctor again".to_string(),
            };
            return vec![
                Check::fail("cloudflare.zone", why(&e), fix),
                Check::skip("cloudflare.dns", "DNS edit is not checked without the zone"),
            ];
        }
    };
    let mut out = vec![Check::pass("cloudflare.zone", format!("zone {zone_name} is readable"))];
    out.push(match cf.list_records(&zone, &d.server.dns.host(), RecordType::A).await {
        Ok(_) if probes => dns_edit(cf, &zone).await,
        Ok(_) => Check::warn(
            "cloudflare.dns",
            format!("DNS records of {zone_name} are readable; that they are editable is not proven (--no-write)"),
            format!("make sure the token has Zone → DNS → Edit on {zone_name}, or run doctor without --no-write"),
        ),
        Err(e) => Check::fail(
            "cloudflare.dns",
            format!("cannot list DNS records: {}", why(&e)),
            format!("give the token Zone → DNS → Edit on {zone_name}"),
        ),
    });
    out
}

/// Create and delete `mc-gitops-doctor-<id>.<zone>` A 192.0.2.1.
async fn dns_edit(cf: &Cloudflare, zone: &Zone) -> Check {
    const ID: &str = "cloudflare.dns";
    let name = format!("mc-gitops-doctor-{}.{}", super::probe_id(), zone.name);
    let probe = NewRecord {
        name: name.clone(),
        content: RecordContent::A(PROBE_IPV4),
        ttl: crate::cloudflare::BOT_TTL,
        proxied: false,
        comment: Some("mc-gitops doctor: a probe of DNS edit, deleted at once; safe to delete".into()),
    };
    let created = match cf.create_record(zone, &probe).await {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                ID,
                format!("the token can read DNS but not edit it: {}", why(&e)),
                format!("give the token Zone → DNS → Edit on {}", zone.name),
            );
        }
    };
    match cf.delete_record(zone, &created.id).await {
        Ok(_) => Check::pass(
            ID,
            format!("DNS of {} is editable (a probe record was created and deleted)", zone.name),
        ),
        Err(e) => Check::warn(
            ID,
            format!("DNS is editable, but the probe record {name} could not be deleted: {}", why(&e)),
            format!("delete the A record {name} in the Cloudflare dashboard"),
        ),
    }
}
