//! The fake Cloudflare's routes: what each documented endpoint does with a
//! request, and the checks it makes on the way (the document's schemas and
//! limits, plus the rules its prose states). Kept apart from `cloudflare.rs`,
//! which holds the server, its state and the fault injection.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::{ACCOUNT_ID, FakeRecord, FakeZone, Inner, PREFIX, Permission, Reply, TOKEN, TOKEN_ID, code};

/// The document's `dns-records_type` enum.
const RECORD_TYPES: [&str; 20] = [
    "A", "AAAA", "CAA", "CERT", "CNAME", "DNSKEY", "DS", "HTTPS", "LOC", "MX", "NAPTR", "NS", "PTR", "SMIMEA", "SRV", "SSHFP", "SVCB",
    "TLSA", "TXT", "URI",
];
const RECORD_FIELDS: [&str; 8] = ["type", "name", "content", "ttl", "proxied", "comment", "tags", "data"];
const CRED_FIELDS: [&str; 6] = ["bucket", "parentAccessKeyId", "permission", "prefixes", "objects", "ttlSeconds"];
const PERMISSIONS: [&str; 4] = ["admin-read-write", "admin-read-only", "object-read-write", "object-read-only"];

impl Inner {
    pub(super) fn route(&mut self, method: &Method, path: &str, query: Option<&str>, auth: Option<&str>, body: Option<&Value>) -> Reply {
        let Some(local) = path.strip_prefix(PREFIX) else {
            return Reply::err(StatusCode::NOT_FOUND, code::NO_ROUTE, "No route for that URI");
        };
        match auth.and_then(|a| a.strip_prefix("Bearer ")) {
            None => return Reply::err(StatusCode::UNAUTHORIZED, code::AUTHENTICATION, "Authentication error"),
            Some(t) if t != TOKEN => return Reply::err(StatusCode::FORBIDDEN, code::INVALID_TOKEN, "Invalid access token"),
            Some(_) => {}
        }
        let segs: Vec<&str> = local.trim_start_matches('/').split('/').collect();
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
        let denied = |p: Permission| self.denied.contains(&p);
        let no_permission = || Reply::err(StatusCode::FORBIDDEN, code::AUTHENTICATION, "Authentication error");
        match (method, segs.as_slice()) {
            (&Method::GET, ["user", "tokens", "verify"]) => Reply::ok(json!({
                "id": TOKEN_ID,
                "status": self.token_status.as_deref().unwrap_or("active"),
            })),
            (&Method::GET, ["zones"]) => self.list_zones(&params),
            (m, ["zones", _, "dns_records", ..]) if m != Method::GET && denied(Permission::DnsEdit) => no_permission(),
            (&Method::POST, ["accounts", _, "r2", "temp-access-credentials"]) if denied(Permission::R2Edit) => no_permission(),
            (_, ["zones", zid, "dns_records", rest @ ..]) if rest.len() <= 1 => {
                let zone = match self.zones.iter().find(|z| z.id == *zid) {
                    None => {
                        return Reply::err(
                            StatusCode::NOT_FOUND,
                            code::BAD_IDENTIFIER,
                            format!("Could not route to {local}, perhaps your object identifier is invalid?"),
                        );
                    }
                    Some(z) if !z.readable => return Reply::err(StatusCode::FORBIDDEN, code::AUTHENTICATION, "Authentication error"),
                    Some(z) => z.clone(),
                };
                match (method, rest) {
                    (&Method::GET, []) => self.list_records(&zone, &params),
                    (&Method::POST, []) => self.write_record(&zone, None, body, false),
                    (&Method::GET, [rid]) => self
                        .find(&zone, rid)
                        .map_or_else(|r| r, |i| Reply::ok(record_json(&self.records[i], &zone))),
                    (&Method::PATCH, [rid]) => self.write_record(&zone, Some(rid), body, true),
                    (&Method::PUT, [rid]) => self.write_record(&zone, Some(rid), body, false),
                    (&Method::DELETE, [rid]) => match self.find(&zone, rid) {
                        Ok(i) => Reply::ok(json!({ "id": self.records.remove(i).id })),
                        Err(r) => r,
                    },
                    _ => Reply::err(StatusCode::METHOD_NOT_ALLOWED, code::METHOD_NOT_ALLOWED, "Method not allowed"),
                }
            }
            (&Method::POST, ["accounts", aid, "r2", "temp-access-credentials"]) => self.temp_credentials(aid, body),
            _ => Reply::err(StatusCode::NOT_FOUND, code::NO_ROUTE, "No route for that URI"),
        }
    }

    fn list_zones(&self, params: &[(String, String)]) -> Reply {
        let (page, per_page) = match paging(params, &["name"], 20, 5, 50) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let name = param(params, "name");
        let zones: Vec<Value> = self
            .zones
            .iter()
            .filter(|z| z.readable && name.is_none_or(|n| n.eq_ignore_ascii_case(&z.name)))
            .map(zone_json)
            .collect();
        paginated(&zones, page, per_page)
    }

    fn list_records(&self, zone: &FakeZone, params: &[(String, String)]) -> Reply {
        let (page, per_page) = match paging(params, &["name", "type"], 100, 1, 5_000_000) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let kind = param(params, "type");
        if let Some(k) = kind.filter(|k| !RECORD_TYPES.contains(k)) {
            return Reply::err(
                StatusCode::BAD_REQUEST,
                code::INVALID_TYPE,
                format!("Invalid DNS record type {k:?}"),
            );
        }
        let name = param(params, "name").map(|n| full_name(n, &zone.name));
        let mut rows: Vec<&FakeRecord> = self
            .records
            .iter()
            .filter(|r| r.zone_id == zone.id && kind.is_none_or(|k| k == r.kind) && name.as_ref().is_none_or(|n| *n == r.name))
            .collect();
        // The document's default order is by type, ascending; ties keep creation order.
        rows.sort_by(|a, b| a.kind.cmp(&b.kind));
        let rows: Vec<Value> = rows.into_iter().map(|r| record_json(r, zone)).collect();
        paginated(&rows, page, per_page)
    }

    fn find(&self, zone: &FakeZone, rid: &str) -> Result<usize, Reply> {
        self.records
            .iter()
            .position(|r| r.zone_id == zone.id && r.id == rid)
            .ok_or_else(|| Reply::err(StatusCode::NOT_FOUND, code::RECORD_NOT_FOUND, "Record does not exist."))
    }

    /// POST (no id), PATCH (merge over the stored record) or PUT (replace).
    fn write_record(&mut self, zone: &FakeZone, rid: Option<&str>, body: Option<&Value>, merge: bool) -> Reply {
        let Some(body) = body else {
            return Reply::invalid("Request body is required");
        };
        let existing = match rid.map(|rid| self.find(zone, rid)).transpose() {
            Ok(i) => i,
            Err(r) => return r,
        };
        let input = match (existing, merge, body) {
            (Some(i), true, Value::Object(patch)) => {
                let mut base = input_form(&self.records[i]);
                base.extend(patch.clone());
                Value::Object(base)
            }
            _ => body.clone(),
        };
        let id = existing.map(|i| self.records[i].id.clone());
        let mut rec = match self.build_record(zone, &input, id) {
            Ok(r) => r,
            Err(r) => return r,
        };
        if let Some(conflict) = self.conflict(&rec) {
            return conflict;
        }
        match existing {
            Some(i) => {
                rec.created_on = self.records[i].created_on.clone();
                self.records[i] = rec.clone();
            }
            None => self.records.push(rec.clone()),
        }
        Reply::ok(record_json(&rec, zone))
    }

    /// The document's `dns-record` schema, plus the rules its prose states
    /// (TTL 1 or 60–86400, only A/AAAA/CNAME proxiable).
    pub(super) fn build_record(&mut self, zone: &FakeZone, body: &Value, id: Option<String>) -> Result<FakeRecord, Reply> {
        let obj = body
            .as_object()
            .ok_or_else(|| Reply::invalid("Request body must be a JSON object"))?;
        if let Some(k) = obj.keys().find(|k| !RECORD_FIELDS.contains(&k.as_str())) {
            return Err(Reply::invalid(format!("Unknown field {k:?} (the fake accepts {RECORD_FIELDS:?})")));
        }
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
        if !RECORD_TYPES.contains(&kind) {
            return Err(Reply::err(
                StatusCode::BAD_REQUEST,
                code::INVALID_TYPE,
                format!("Invalid DNS record type {kind:?}"),
            ));
        }
        let name = match obj.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n.len() <= 255 => full_name(n, &zone.name),
            _ => return Err(Reply::invalid("name is required: a DNS name of at most 255 characters")),
        };
        let ttl = match obj.get("ttl") {
            None => 1,
            Some(t) => match t.as_u64() {
                Some(t @ (1 | 60..=86400)) => t as u32,
                _ => {
                    return Err(Reply::err(
                        StatusCode::BAD_REQUEST,
                        code::INVALID_TTL,
                        "TTL must be between 60 and 86400 seconds, or 1 for Automatic",
                    ));
                }
            },
        };
        let proxied = match obj.get("proxied") {
            None => false,
            Some(Value::Bool(p)) => *p,
            Some(_) => return Err(Reply::invalid("proxied must be a boolean")),
        };
        if proxied && !proxiable(kind) {
            return Err(Reply::err(
                StatusCode::BAD_REQUEST,
                code::NOT_PROXIABLE,
                format!("{kind} records cannot be proxied."),
            ));
        }
        let comment = match obj.get("comment") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(c.clone()),
            Some(_) => return Err(Reply::invalid("comment must be a string")),
        };
        let tags = match obj.get("tags") {
            None => Vec::new(),
            Some(t) => strings(t).ok_or_else(|| Reply::invalid("tags must be a list of strings"))?,
        };
        let content_str = obj.get("content").and_then(Value::as_str).unwrap_or_default().to_string();
        let (content, data) = match kind {
            "A" if content_str.parse::<Ipv4Addr>().is_ok() => (content_str, None),
            "A" => {
                return Err(Reply::err(
                    StatusCode::BAD_REQUEST,
                    code::INVALID_A_CONTENT,
                    "Content for A record must be a valid IPv4 address.",
                ));
            }
            "AAAA" if content_str.parse::<Ipv6Addr>().is_ok() => (content_str, None),
            "AAAA" => {
                return Err(Reply::err(
                    StatusCode::BAD_REQUEST,
                    code::INVALID_AAAA_CONTENT,
                    "Content for AAAA record must be a valid IPv6 address.",
                ));
            }
            "SRV" => srv_data(obj.get("data"))?,
            _ if !content_str.is_empty() => (content_str, obj.get("data").cloned()),
            _ => return Err(Reply::invalid(format!("content is required for {kind} records"))),
        };
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        Ok(FakeRecord {
            id: id.unwrap_or_else(|| self.hex_id()),
            zone_id: zone.id.clone(),
            name,
            kind: kind.to_string(),
            content,
            data,
            ttl,
            proxied,
            comment,
            tags,
            created_on: now.clone(),
            modified_on: now,
        })
    }

    /// What the create notes in the document imply, with the real API's codes.
    fn conflict(&self, rec: &FakeRecord) -> Option<Reply> {
        let same_name = self
            .records
            .iter()
            .filter(|r| r.zone_id == rec.zone_id && r.id != rec.id && r.name == rec.name);
        for other in same_name {
            let address = |k: &str| k == "A" || k == "AAAA";
            if (rec.kind == "CNAME" && (address(&other.kind) || other.kind == "CNAME")) || (address(&rec.kind) && other.kind == "CNAME") {
                return Some(Reply::err(
                    StatusCode::BAD_REQUEST,
                    code::HOST_TAKEN,
                    "An A, AAAA, or CNAME record with that host already exists.",
                ));
            }
            if other.kind == rec.kind && other.content == rec.content {
                return Some(Reply::err(
                    StatusCode::BAD_REQUEST,
                    code::IDENTICAL_RECORD,
                    "An identical record already exists.",
                ));
            }
        }
        None
    }

    fn temp_credentials(&mut self, account: &str, body: Option<&Value>) -> Reply {
        if account != ACCOUNT_ID {
            return Reply::err(StatusCode::FORBIDDEN, code::AUTHENTICATION, "Authentication error");
        }
        let Some(obj) = body.and_then(Value::as_object) else {
            return Reply::invalid("Request body must be a JSON object");
        };
        if let Some(k) = obj.keys().find(|k| !CRED_FIELDS.contains(&k.as_str())) {
            return Reply::invalid(format!("Unknown field {k:?}"));
        }
        let s = |k: &str| obj.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
        let (Some(bucket), Some(_parent)) = (s("bucket"), s("parentAccessKeyId")) else {
            return Reply::invalid("bucket and parentAccessKeyId are required strings");
        };
        if !s("permission").is_some_and(|p| PERMISSIONS.contains(&p)) {
            return Reply::invalid(format!("permission must be one of {PERMISSIONS:?}"));
        }
        if !obj
            .get("ttlSeconds")
            .and_then(Value::as_f64)
            .is_some_and(|t| t > 0.0 && t <= 604_800.0)
        {
            return Reply::invalid("ttlSeconds is required and must be at most 604800 (7 days)");
        }
        if ["prefixes", "objects"]
            .iter()
            .any(|k| obj.get(*k).is_some_and(|v| strings(v).is_none()))
        {
            return Reply::invalid("prefixes and objects must be lists of strings");
        }
        if !self.buckets.iter().any(|b| b == bucket) {
            return Reply::err(StatusCode::NOT_FOUND, code::NO_SUCH_BUCKET, "The specified bucket does not exist.");
        }
        let result = json!({
            "accessKeyId": self.hex_id(),
            "secretAccessKey": format!("{}{}", self.hex_id(), self.hex_id()),
            "sessionToken": format!("fake-session-{}{}", self.hex_id(), self.hex_id()),
        });
        self.issued.push(result.clone());
        self.issued_for.push(Value::Object(obj.clone()));
        Reply::ok(result)
    }
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `page` and `per_page` within the document's bounds; any parameter other
/// than those and `filters` is refused, since the fake would ignore it.
fn paging(params: &[(String, String)], filters: &[&str], default: u64, min: u64, max: u64) -> Result<(u64, u64), Reply> {
    if let Some((k, _)) = params
        .iter()
        .find(|(k, _)| k != "page" && k != "per_page" && !filters.contains(&k.as_str()))
    {
        return Err(Reply::invalid(format!("the fake does not implement the query parameter {k:?}")));
    }
    let number = |key: &str, default: u64, min: u64, max: u64| match param(params, key) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| Reply::invalid(format!("{key} must be a number from {min} to {max}"))),
    };
    Ok((number("page", 1, 1, u64::MAX)?, number("per_page", default, min, max)?))
}

fn paginated(rows: &[Value], page: u64, per_page: u64) -> Reply {
    let start = ((page - 1).saturating_mul(per_page)).min(rows.len() as u64) as usize;
    let end = (start as u64 + per_page).min(rows.len() as u64) as usize;
    let mut reply = Reply::ok(Value::Array(rows[start..end].to_vec()));
    reply.body["result_info"] = json!({
        "page": page,
        "per_page": per_page,
        "count": end - start,
        "total_count": rows.len(),
        "total_pages": (rows.len() as u64).div_ceil(per_page),
    });
    reply
}

/// A record name as stored: lower case, no trailing dot, `@` the apex,
/// relative names completed with the zone (as the real API does).
fn full_name(name: &str, zone: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "@" || name == zone {
        zone.to_string()
    } else if name.ends_with(&format!(".{zone}")) {
        name
    } else {
        format!("{name}.{zone}")
    }
}

fn proxiable(kind: &str) -> bool {
    matches!(kind, "A" | "AAAA" | "CNAME")
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect()
}

/// An SRV record's `data`, all four parts required; `content` is derived
/// ("priority weight port target", as the document describes it).
fn srv_data(data: Option<&Value>) -> Result<(String, Option<Value>), Reply> {
    let d = data
        .and_then(Value::as_object)
        .ok_or_else(|| Reply::invalid("SRV records need a data object"))?;
    let num = |k: &str| d.get(k).and_then(Value::as_u64).filter(|n| *n <= 65535);
    let target = d.get("target").and_then(Value::as_str).filter(|t| !t.is_empty());
    let (Some(priority), Some(weight), Some(port), Some(target)) = (num("priority"), num("weight"), num("port"), target) else {
        return Err(Reply::invalid("SRV data needs priority, weight and port (0-65535) and a target"));
    };
    let target = target.trim_end_matches('.').to_ascii_lowercase();
    let data = json!({ "priority": priority, "weight": weight, "port": port, "target": target });
    Ok((format!("{priority} {weight} {port} {target}"), Some(data)))
}

/// The writable fields of a stored record, for PATCH to merge over.
fn input_form(r: &FakeRecord) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(r.kind));
    m.insert("name".into(), json!(r.name));
    m.insert("content".into(), json!(r.content));
    m.insert("ttl".into(), json!(r.ttl));
    m.insert("proxied".into(), json!(r.proxied));
    m.insert("comment".into(), json!(r.comment));
    m.insert("tags".into(), json!(r.tags));
    if let Some(d) = &r.data {
        m.insert("data".into(), d.clone());
    }
    m
}

fn record_json(r: &FakeRecord, zone: &FakeZone) -> Value {
    let mut v = json!({
        "id": r.id,
        "zone_id": zone.id,
        "zone_name": zone.name,
        "name": r.name,
        "type": r.kind,
        "content": r.content,
        "proxiable": proxiable(&r.kind),
        "proxied": r.proxied,
        "ttl": r.ttl,
        "tags": r.tags,
        "meta": { "auto_added": false, "source": "primary" },
        "created_on": r.created_on,
        "modified_on": r.modified_on,
    });
    // The document's `comment` is a non-nullable string: omit it when unset.
    if let Some(c) = &r.comment {
        v["comment"] = json!(c);
    }
    if let Some(d) = &r.data {
        v["data"] = d.clone();
    }
    v
}

fn zone_json(z: &FakeZone) -> Value {
    json!({
        "id": z.id,
        "name": z.name,
        "status": "active",
        "paused": false,
        "type": "full",
        "development_mode": 0,
        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
        "original_name_servers": null,
        "original_registrar": null,
        "original_dnshost": null,
        "owner": { "id": "7c5dae5552338874e5053f2534d2767a", "type": "user", "name": "admin@grove.place" },
        "account": { "id": ACCOUNT_ID, "name": "Grove" },
        "meta": { "step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3, "phishing_detected": false },
        "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
        "created_on": "2024-08-01T10:00:00.000000Z",
        "modified_on": "2024-08-01T10:00:00.000000Z",
        "activated_on": "2024-08-01T10:05:00.000000Z",
    })
}
