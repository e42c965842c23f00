//! DNS records: the four plain calls (list every page, create, patch, delete)
//! and the convergent ones apply and observe use.
//!
//! The `ensure_*` calls are shaped like a finalizer step: one list call
//! derives what is there, then at most one write fixes the record the bot
//! keeps, then duplicates go. A correct record costs exactly one GET. Re-run
//! after any failure they converge, because the create is adopted when
//! Cloudflare says an identical record already exists (a POST whose answer
//! was lost to a timeout and then retried meets 81058, not a duplicate).
//!
//! Bot records are always TTL 60 and never proxied: Minecraft is not HTTP,
//! and Cloudflare's proxy would hide the server's address behind one that
//! does not speak the game's protocol.

use std::net::Ipv4Addr;

use reqwest::Method;
use serde_json::Value;
use tracing::info;

use super::types::{DnsObservation, DnsRecord, Ensured, NewRecord, RecordContent, RecordId, RecordType, SrvData, Zone, describe};
use super::{Cloudflare, CloudflareError, query};

/// TTL of the bot's records: a new server address is seen within a minute.
pub const BOT_TTL: u32 = 60;
/// Page size for listing records: the document's default and a size every
/// plan accepts (the document allows far larger).
pub const PER_PAGE: u32 = 100;
/// A listing that claims more pages than this is broken, not large: stop
/// instead of looping on it.
const MAX_PAGES: u32 = 1000;

impl Cloudflare {
    /// Every record of `kind` named `name` (a full name, `mc.grove.place`),
    /// following all pages.
    pub async fn list_records(&self, zone: &Zone, name: &str, kind: RecordType) -> Result<Vec<DnsRecord>, CloudflareError> {
        let resource = describe(kind, name, zone);
        let per_page = PER_PAGE.to_string();
        let mut records = Vec::new();
        for page in 1..=MAX_PAGES {
            let page_s = page.to_string();
            let q = query(&[("name", name), ("type", kind.as_str()), ("page", &page_s), ("per_page", &per_page)]);
            let env = self
                .request(Method::GET, &format!("/zones/{}/dns_records?{q}", zone.id), None, &resource)
                .await?;
            let rows: Vec<DnsRecord> = serde_json::from_value(env.result).map_err(|e| CloudflareError::Decode {
                resource: resource.clone(),
                detail: format!("result is not a list of DNS records: {e}"),
            })?;
            let got = rows.len();
            records.extend(rows);
            if !more_pages(env.result_info.as_ref(), page, got) {
                return Ok(records);
            }
        }
        Err(CloudflareError::Decode {
            resource,
            detail: format!("the listing did not end after {MAX_PAGES} pages"),
        })
    }

    pub async fn create_record(&self, zone: &Zone, record: &NewRecord) -> Result<DnsRecord, CloudflareError> {
        let resource = record.describe(zone);
        let env = self
            .request(
                Method::POST,
                &format!("/zones/{}/dns_records", zone.id),
                Some(&record.body()),
                &resource,
            )
            .await?;
        decode_record(env.result, &resource)
    }

    /// Overwrite the record's fields with `record`'s (the whole record is
    /// sent: the document's PATCH schema requires type, name and content).
    pub async fn patch_record(&self, zone: &Zone, id: &RecordId, record: &NewRecord) -> Result<DnsRecord, CloudflareError> {
        let resource = record.describe(zone);
        let env = self
            .request(
                Method::PATCH,
                &format!("/zones/{}/dns_records/{id}", zone.id),
                Some(&record.body()),
                &resource,
            )
            .await?;
        decode_record(env.result, &resource)
    }

    /// Delete a record. `Ok(false)` when it was already gone (404), so a
    /// retried or repeated delete is not an error.
    pub async fn delete_record(&self, zone: &Zone, id: &RecordId) -> Result<bool, CloudflareError> {
        let resource = format!("DNS record {id} in zone {}", zone.name);
        match self
            .request(Method::DELETE, &format!("/zones/{}/dns_records/{id}", zone.id), None, &resource)
            .await
        {
            Ok(_) => Ok(true),
            Err(CloudflareError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Make `name` have exactly one A record: `ipv4`, TTL 60, DNS only.
    pub async fn ensure_a(&self, zone: &Zone, name: &str, ipv4: Ipv4Addr, comment: &str) -> Result<Ensured, CloudflareError> {
        let want = NewRecord {
            name: name.to_string(),
            content: RecordContent::A(ipv4),
            ttl: BOT_TTL,
            proxied: false,
            comment: Some(comment.to_string()),
        };
        let outcome = self.ensure(zone, &want).await?;
        info!(record = name, zone = %zone.name, %ipv4, ?outcome, "dns A");
        Ok(outcome)
    }

    /// Make `name` (`_minecraft._tcp.grove.place`) have exactly one SRV
    /// record pointing at `target:port`, TTL 60.
    #[allow(clippy::too_many_arguments)] // mirrors Step::SetDnsSrv field for field
    pub async fn ensure_srv(
        &self,
        zone: &Zone,
        name: &str,
        target: &str,
        port: u16,
        priority: u16,
        weight: u16,
        comment: &str,
    ) -> Result<Ensured, CloudflareError> {
        let want = NewRecord {
            name: name.to_string(),
            content: RecordContent::Srv(SrvData {
                priority,
                weight,
                port,
                target: target.to_string(),
            }),
            ttl: BOT_TTL,
            proxied: false,
            comment: Some(comment.to_string()),
        };
        let outcome = self.ensure(zone, &want).await?;
        info!(record = name, zone = %zone.name, target, port, ?outcome, "dns SRV");
        Ok(outcome)
    }

    /// Delete every A record named `name`; `true` if any was deleted. The
    /// SRV record stays: it names the host, not an address, so it is right
    /// again as soon as the next session sets the A record.
    pub async fn remove_a(&self, zone: &Zone, name: &str) -> Result<bool, CloudflareError> {
        let mut removed = false;
        for r in self.list_records(zone, name, RecordType::A).await? {
            removed |= self.delete_record(zone, &r.id).await?;
        }
        info!(record = name, zone = %zone.name, removed, "dns A removed");
        Ok(removed)
    }

    /// The bot's records as they are: one list call for the A record and,
    /// when `srv_name` is given, one for the SRV record.
    pub async fn observe(&self, zone: &Zone, a_name: &str, srv_name: Option<&str>) -> Result<DnsObservation, CloudflareError> {
        let mut seen = DnsObservation::default();
        let a = self.list_records(zone, a_name, RecordType::A).await?;
        seen.a = a.iter().find_map(DnsRecord::ipv4);
        shape_drift(&a, &mut seen.drift);
        if let Some(srv_name) = srv_name {
            let srv = self.list_records(zone, srv_name, RecordType::Srv).await?;
            seen.srv = srv
                .iter()
                .find_map(DnsRecord::srv)
                .map(|d| (d.target.trim_end_matches('.').to_ascii_lowercase(), d.port));
            shape_drift(&srv, &mut seen.drift);
        }
        Ok(seen)
    }

    /// One list call, then at most one create or patch, then duplicates go.
    async fn ensure(&self, zone: &Zone, want: &NewRecord) -> Result<Ensured, CloudflareError> {
        let existing = self.list_records(zone, &want.name, want.kind()).await?;
        let Some(first) = existing.first() else {
            return self.create_or_adopt(zone, want).await;
        };
        let (keep, mut outcome) = match existing.iter().find(|r| want.matches(r)) {
            Some(r) => (&r.id, Ensured::Unchanged),
            None => {
                self.patch_record(zone, &first.id, want).await?;
                (&first.id, Ensured::Updated)
            }
        };
        for dup in existing.iter().filter(|r| &r.id != keep) {
            if self.delete_record(zone, &dup.id).await? && outcome == Ensured::Unchanged {
                outcome = Ensured::Updated;
            }
        }
        Ok(outcome)
    }

    /// Create; on "already exists", look again and adopt an identical record
    /// (our own earlier attempt, or a concurrent run's).
    async fn create_or_adopt(&self, zone: &Zone, want: &NewRecord) -> Result<Ensured, CloudflareError> {
        let exists = match self.create_record(zone, want).await {
            Ok(_) => return Ok(Ensured::Created),
            Err(e @ CloudflareError::AlreadyExists { .. }) => e,
            Err(e) => return Err(e),
        };
        let now = self.list_records(zone, &want.name, want.kind()).await?;
        if now.iter().any(|r| want.matches(r)) {
            info!(record = %want.name, zone = %zone.name, "adopted a record that already existed");
            Ok(Ensured::Created)
        } else {
            Err(exists)
        }
    }
}

/// Whether to ask for the page after `page`, which held `got` records.
/// `total_pages` is what Cloudflare sends; the 2024-08 document lists only
/// `count`/`total_count` (and describes `total_count` as the total "without
/// any search parameters", so it cannot bound a filtered listing): without
/// `total_pages`, a full page means there may be more.
fn more_pages(info: Option<&Value>, page: u32, got: usize) -> bool {
    if got == 0 {
        return false;
    }
    match info.and_then(|i| i.get("total_pages")).and_then(Value::as_u64) {
        Some(total) => u64::from(page) < total,
        None => got >= PER_PAGE as usize,
    }
}

fn decode_record(result: Value, resource: &str) -> Result<DnsRecord, CloudflareError> {
    serde_json::from_value(result).map_err(|e| CloudflareError::Decode {
        resource: resource.to_string(),
        detail: format!("result is not a DNS record: {e}"),
    })
}

/// Note how `records` (all of one name and type) differ from one record
/// with TTL 60, not proxied, with readable content.
fn shape_drift(records: &[DnsRecord], drift: &mut Vec<String>) {
    if let [first, _, ..] = records {
        drift.push(format!(
            "{} {} records named {}, expected one",
            records.len(),
            first.kind,
            first.name
        ));
    }
    for r in records {
        let what = format!("{} {} {}", r.kind, r.name, r.content);
        if r.proxied {
            drift.push(format!("{what} is proxied"));
        }
        if r.ttl != BOT_TTL {
            drift.push(format!("{what} has TTL {}, expected {BOT_TTL}", r.ttl));
        }
        let readable = match r.kind {
            RecordType::A => r.ipv4().is_some(),
            RecordType::Srv => r.srv().is_some(),
            _ => true,
        };
        if !readable {
            drift.push(format!("{what} has content the bot cannot read"));
        }
    }
}
