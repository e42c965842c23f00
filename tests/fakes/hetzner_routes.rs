//! The fake Hetzner's routes: what each endpoint checks, in the order the
//! real API reports problems (malformed input → 422 `invalid_input`, then a
//! taken name → 409 `uniqueness_error`, then capacity → 412
//! `resource_unavailable`), and what it changes in the world.

use axum::http::Method;
use serde_json::{Value, json};

use super::{Answer, World, catalog, error, now_rfc3339, ok};

#[path = "hetzner_firewalls.rs"]
mod firewalls;
#[path = "hetzner_images.rs"]
pub(super) mod images;

use firewalls::{apply_to_resources, create_firewall, firewall_view, set_rules, update_firewall};

type Query = [(String, String)];

pub(super) fn route(w: &mut World, method: &Method, path: &str, body: Option<Value>) -> Answer {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let q: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let segs: Vec<&str> = route.trim_matches('/').split('/').collect();
    let id = |s: &str| s.parse::<u64>().ok();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["servers"]) => list_servers(w, &q),
        ("POST", ["servers"]) => create_server(w, body),
        ("GET", ["servers", s]) => match id(s).and_then(|id| w.observe_server(id)) {
            Some(server) => ok(200, json!({ "server": server })),
            None => not_found("server"),
        },
        ("PUT", ["servers", s]) => match id(s).filter(|id| w.servers.contains_key(id)) {
            Some(id) => update_server(w, id, body),
            None => not_found("server"),
        },
        ("DELETE", ["servers", s]) => match id(s).and_then(|id| w.servers.remove(&id).map(|_| id)) {
            Some(id) => {
                let action = w.new_action("delete_server", &[(id, "server")]);
                ok(200, json!({ "action": w.actions[&action].json }))
            }
            None => not_found("server"),
        },
        ("GET", ["actions", s]) => match id(s).and_then(|id| w.observe_action(id)) {
            Some(action) => ok(200, json!({ "action": action })),
            None => not_found("action"),
        },
        ("POST", ["servers", s, "actions", "create_image"]) => images::create_image(w, id(s), body),
        ("GET", ["images"]) => images::list_images(w, &q),
        ("GET", ["images", s]) => images::get_image(w, id(s)),
        ("DELETE", ["images", s]) => images::delete_image(w, id(s)),
        ("GET", ["server_types"]) => list(w.server_types.clone(), "server_types", &q),
        ("GET", ["locations"]) => {
            let all = catalog::LOCATIONS.iter().filter_map(|l| catalog::location_json(l.name)).collect();
            list(all, "locations", &q)
        }
        ("GET", ["datacenters"]) => {
            let mut answer = list(datacenters(w), "datacenters", &q);
            // Required beside the list: the data centre new servers should go to.
            answer.body["recommendation"] = json!(catalog::LOCATIONS[0].id + 100);
            answer
        }
        ("GET", ["pricing"]) => ok(200, catalog::pricing_json(&w.server_types)),
        ("GET", ["ssh_keys"]) => list(w.ssh_keys.values().cloned().collect(), "ssh_keys", &q),
        ("GET", ["firewalls"]) => {
            let all = w.firewalls.values().map(|f| firewall_view(w, f)).collect();
            list(all, "firewalls", &q)
        }
        ("POST", ["firewalls"]) => create_firewall(w, body),
        ("GET", ["firewalls", s]) => match id(s).and_then(|id| w.firewalls.get(&id)) {
            Some(f) => ok(200, json!({ "firewall": firewall_view(w, f) })),
            None => not_found("firewall"),
        },
        ("DELETE", ["firewalls", s]) => match id(s).filter(|id| w.firewalls.contains_key(id)) {
            Some(id) if w.firewalls[&id]["applied_to"].as_array().is_some_and(|a| !a.is_empty()) => {
                error(422, "resource_in_use", "firewall is still applied", Value::Null)
            }
            Some(id) => {
                w.firewalls.remove(&id);
                ok(204, Value::Null)
            }
            None => not_found("firewall"),
        },
        ("PUT", ["firewalls", s]) => match id(s).filter(|id| w.firewalls.contains_key(id)) {
            Some(id) => update_firewall(w, id, body),
            None => not_found("firewall"),
        },
        ("POST", ["firewalls", s, "actions", action]) => match id(s).filter(|id| w.firewalls.contains_key(id)) {
            Some(id) if *action == "set_rules" => set_rules(w, id, body),
            Some(id) if *action == "apply_to_resources" => apply_to_resources(w, id, body),
            _ => not_found("firewall"),
        },
        _ => not_found("route"),
    }
}

/// One data centre per location: the types offered there are `supported`;
/// those neither retired nor in a location marked [`super::FakeHetzner::sold_out`]
/// are also `available`, as the document says of stock.
fn datacenters(w: &World) -> Vec<Value> {
    catalog::LOCATIONS
        .iter()
        .map(|l| {
            let offered: Vec<&Value> = w
                .server_types
                .iter()
                .filter(|t| t["locations"].as_array().into_iter().flatten().any(|x| x["name"] == l.name))
                .collect();
            let supported: Vec<u64> = offered.iter().filter_map(|t| t["id"].as_u64()).collect();
            let available: Vec<u64> = offered
                .iter()
                .filter(|t| t["deprecated"] != true && !w.sold_out.contains(l.name))
                .filter_map(|t| t["id"].as_u64())
                .collect();
            catalog::datacenter_listing_json(l.name, &supported, &available)
        })
        .collect()
}

fn not_found(what: &str) -> Answer {
    error(404, "not_found", &format!("{what} not found"), Value::Null)
}

/// 422 `invalid_input` with the documented `details.fields` shape.
fn invalid(field: &str, message: &str) -> Answer {
    error(
        422,
        "invalid_input",
        &format!("invalid input in field '{field}'"),
        json!({ "fields": [{ "name": field, "messages": [message] }] }),
    )
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn param<'a>(q: &'a Query, key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `name` and `label_selector` filters, then one page.
fn list(items: Vec<Value>, key: &str, q: &Query) -> Answer {
    match filter(items, q) {
        Ok(items) => paginate(items, key, q),
        Err(a) => a,
    }
}

fn filter(items: Vec<Value>, q: &Query) -> Result<Vec<Value>, Answer> {
    let name = param(q, "name");
    let selector = param(q, "label_selector");
    let mut out = Vec::new();
    for item in items {
        if name.is_some_and(|n| item["name"] != n) {
            continue;
        }
        if let Some(s) = selector {
            match selector_matches(&item["labels"], s) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(why) => return Err(invalid("label_selector", &why)),
            }
        }
        out.push(item);
    }
    Ok(out)
}

/// One page and `meta.pagination`: `per_page` defaults to 25, at most 50.
fn paginate(items: Vec<Value>, key: &str, q: &Query) -> Answer {
    let number = |k: &str, default: u64| {
        param(q, k)
            .map(|v| v.parse::<u64>().map_err(|_| k.to_string()))
            .unwrap_or(Ok(default))
    };
    let (page, per_page) = match (number("page", 1), number("per_page", 25)) {
        (Ok(p), Ok(pp)) => (p.max(1), pp.clamp(1, 50)),
        (Err(k), _) | (_, Err(k)) => return invalid(&k, "must be a positive integer"),
    };
    let total = items.len() as u64;
    let last_page = total.div_ceil(per_page).max(1);
    let page_items: Vec<Value> = items
        .into_iter()
        .skip(((page - 1) * per_page) as usize)
        .take(per_page as usize)
        .collect();
    ok(
        200,
        json!({
            key: page_items,
            "meta": { "pagination": {
                "page": page, "per_page": per_page,
                "previous_page": if page > 1 { json!(page - 1) } else { Value::Null },
                "next_page": if page < last_page { json!(page + 1) } else { Value::Null },
                "last_page": last_page, "total_entries": total,
            }},
        }),
    )
}

fn list_servers(w: &mut World, q: &Query) -> Answer {
    let all: Vec<Value> = w.servers.values().map(|s| s.json.clone()).collect();
    let mut answer = list(all, "servers", q);
    // Listing a server is a read like any other: it moves towards running.
    if answer.status == 200 {
        let ids: Vec<u64> = answer.body["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["id"].as_u64())
            .collect();
        let servers: Vec<Value> = ids.into_iter().filter_map(|id| w.observe_server(id)).collect();
        answer.body["servers"] = json!(servers);
    }
    answer
}

/// The documented label selector language: `k=v`, `k==v`, `k!=v`, `k`,
/// `!k`, `k in (a,b)`, `k notin (a,b)`; a comma means AND.
pub(super) fn selector_matches(labels: &Value, selector: &str) -> Result<bool, String> {
    let label = |k: &str| labels.get(k.trim()).and_then(Value::as_str).map(str::to_string);
    for term in split_terms(selector) {
        let term = term.trim();
        let matched = if term.is_empty() {
            true
        } else if let Some(k) = term.strip_prefix('!') {
            label(k).is_none()
        } else if let Some((k, v)) = term.split_once("!=") {
            label(k).as_deref() != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            label(k).as_deref() == Some(v.trim())
        } else if let Some((k, set)) = term.split_once(" notin ") {
            !set_of(set)?.contains(&label(k).unwrap_or_default())
        } else if let Some((k, set)) = term.split_once(" in ") {
            let set = set_of(set)?;
            label(k).is_some_and(|v| set.contains(&v))
        } else if term.contains(char::is_whitespace) || term.contains(['(', ')']) {
            return Err(format!("cannot parse `{term}`"));
        } else {
            label(term).is_some()
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

fn split_terms(selector: &str) -> Vec<String> {
    let (mut terms, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for c in selector.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    terms.push(cur);
    terms
}

fn set_of(s: &str) -> Result<Vec<String>, String> {
    let inner = s
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or(format!("`{s}` is not a (set)"))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
}

/// RFC 1123 hostnames, as `create_server_request.name` demands.
fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The `labels` schema's value pattern: empty, or ≤ 63 of `[a-zA-Z0-9._-]`
/// starting and ending alphanumeric.
fn valid_label_value(v: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    v.is_empty()
        || (v.len() <= 63
            && edge(v.chars().next())
            && edge(v.chars().last())
            && v.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
}

fn check_labels(labels: &Value) -> Result<(), Answer> {
    match labels {
        Value::Null => Ok(()),
        Value::Object(m) if m.values().all(|v| v.as_str().is_some_and(valid_label_value)) => Ok(()),
        _ => Err(invalid(
            "labels",
            "label values must be ≤ 63 of [a-zA-Z0-9._-], alphanumeric at both ends",
        )),
    }
}

fn create_server(w: &mut World, body: Option<Value>) -> Answer {
    let Some(b) = body.filter(Value::is_object) else {
        return invalid("body", "must be a JSON object");
    };
    for field in ["name", "server_type", "image"] {
        if !b[field].is_string() {
            return invalid(field, "is required");
        }
    }
    let (name, type_name, image) = (str_of(&b["name"]), str_of(&b["server_type"]), str_of(&b["image"]));
    if !valid_hostname(name) {
        return invalid("name", "must be a valid hostname (RFC 1123)");
    }
    let Some(t) = w.server_types.iter().find(|t| t["name"] == type_name).cloned() else {
        return invalid("server_type", "server type not found");
    };
    let offered = |l: &str| t["locations"].as_array().into_iter().flatten().find(|x| x["name"] == l).cloned();
    let location = match b["location"].as_str() {
        Some(l) => l.to_string(),
        None => t["locations"][0]["name"].as_str().unwrap_or("fsn1").to_string(),
    };
    if catalog::location_json(&location).is_none() {
        return invalid("location", "location not found");
    }
    let Some(here) = offered(&location) else {
        return invalid("server_type", "unsupported location for server type");
    };
    if let Err(a) = check_labels(&b["labels"]) {
        return a;
    }
    for key in b["ssh_keys"].as_array().into_iter().flatten() {
        let known = key
            .as_str()
            .is_some_and(|k| w.ssh_keys.values().any(|s| s["name"] == k || s["id"].as_u64() == k.parse().ok()));
        if !known {
            return invalid("ssh_keys", &format!("ssh key {key} not found"));
        }
    }
    let mut firewalls = Vec::new();
    for f in b["firewalls"].as_array().into_iter().flatten() {
        match f["firewall"].as_u64().filter(|id| w.firewalls.contains_key(id)) {
            Some(id) => firewalls.push(id),
            None => return invalid("firewalls", &format!("firewall {} not found", f["firewall"])),
        }
    }
    if w.servers.values().any(|s| s.json["name"] == name) {
        return error(
            409,
            "uniqueness_error",
            "server name is already used",
            json!({ "fields": [{ "name": "name" }] }),
        );
    }
    if t["deprecated"] == true || !here["deprecation"].is_null() {
        return error(
            412,
            "resource_unavailable",
            &format!("server type {type_name} is deprecated and can no longer be ordered"),
            Value::Null,
        );
    }
    if w.sold_out.contains(&location) {
        return error(
            412,
            "resource_unavailable",
            &format!("server type {type_name} is currently unavailable in {location}"),
            Value::Null,
        );
    }
    if let Err(a) = images::boot_image(w, image, t["architecture"].as_str().unwrap_or("x86")) {
        return a;
    }
    let labels = if b["labels"].is_object() { b["labels"].clone() } else { json!({}) };
    let nets = (b["public_net"]["enable_ipv4"] != false, b["public_net"]["enable_ipv6"] != false);
    let Some(id) = w.insert_server(name, &labels, &location, &t, image, firewalls, nets) else {
        return invalid("image", "image not found");
    };
    // cloud-init's `power_state` (the image build's user-data): the server
    // powers itself off once it has run.
    if b["user_data"].as_str().is_some_and(|u| u.contains("\npower_state:")) {
        w.powers_off.insert(id);
    }
    let create = w.new_action("create_server", &[(id, "server")]);
    let mut next_actions = Vec::new();
    if b["start_after_create"] != false {
        let start = w.new_action("start_server", &[(id, "server")]);
        next_actions.push(w.actions[&start].json.clone());
    }
    // Hetzner returns a root password when no SSH key is given; the client
    // must drop it.
    let no_keys = b["ssh_keys"].as_array().is_none_or(|k| k.is_empty());
    let root_password = if no_keys {
        json!(format!("FakeRootPw-{id}-zQ3"))
    } else {
        Value::Null
    };
    ok(
        201,
        json!({
            "server": w.servers[&id].json, "action": w.actions[&create].json,
            "next_actions": next_actions, "root_password": root_password,
        }),
    )
}

/// `PUT /servers/{id}` (`replace_server`): `name` and `labels` only; the
/// labels sent replace the server's whole set, as the document says.
fn update_server(w: &mut World, id: u64, body: Option<Value>) -> Answer {
    let Some(b) = body.filter(Value::is_object) else {
        return invalid("body", "must be a JSON object");
    };
    if let Some(k) = b
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| *k != "name" && *k != "labels")
    {
        return invalid(k, "is not a field of UpdateServerRequest");
    }
    if let Err(a) = check_labels(&b["labels"]) {
        return a;
    }
    if let Some(name) = b.get("name") {
        let Some(name) = name.as_str().filter(|n| !n.is_empty()) else {
            return invalid("name", "must be a non-empty string");
        };
        if w.servers.iter().any(|(other, s)| *other != id && s.json["name"] == name) {
            return error(409, "uniqueness_error", "server name is already used", Value::Null);
        }
        w.servers.get_mut(&id).expect("checked by the route").json["name"] = json!(name);
    }
    let server = w.servers.get_mut(&id).expect("checked by the route");
    if b["labels"].is_object() {
        server.json["labels"] = b["labels"].clone();
    }
    let json = server.json.clone();
    ok(200, json!({ "server": json }))
}
