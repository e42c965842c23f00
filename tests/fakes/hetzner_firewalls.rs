//! The fake Hetzner's firewall routes: the rule checks the API documents
//! (direction, protocol, ports, source IPs), the firewall view with its
//! `applied_to`, and the actions that set rules or apply a firewall.

use serde_json::{Value, json};

use super::*;

fn check_rules(rules: &Value) -> Result<Vec<Value>, Answer> {
    let Some(list) = rules.as_array() else {
        return Err(invalid("rules", "must be a list"));
    };
    for r in list {
        let dir_ok = r["direction"] == "in" || r["direction"] == "out";
        let proto = r["protocol"].as_str().unwrap_or_default();
        let needs_port = proto == "tcp" || proto == "udp";
        let ips = if r["direction"] == "in" {
            &r["source_ips"]
        } else {
            &r["destination_ips"]
        };
        let ips_ok = ips
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|ip| ip.as_str().is_some_and(|s| s.contains('/'))));
        if !dir_ok || !["tcp", "udp", "icmp", "esp", "gre"].contains(&proto) || (needs_port && !r["port"].is_string()) || !ips_ok {
            return Err(invalid("rules", &format!("invalid rule {r}")));
        }
    }
    Ok(list.iter().map(catalog::rule_response).collect())
}

/// A firewall as returned, with `applied_to_resources` resolved now.
pub(super) fn firewall_view(w: &World, f: &Value) -> Value {
    let mut f = f.clone();
    for a in f["applied_to"].as_array_mut().into_iter().flatten() {
        if let Some(sel) = a["label_selector"]["selector"].as_str() {
            let matched: Vec<Value> = w
                .servers
                .values()
                .filter(|s| selector_matches(&s.json["labels"], sel).unwrap_or(false))
                .map(|s| json!({ "type": "server", "server": { "id": s.json["id"] } }))
                .collect();
            a["applied_to_resources"] = json!(matched);
        }
    }
    f
}

pub(super) fn create_firewall(w: &mut World, body: Option<Value>) -> Answer {
    let b = body.unwrap_or(Value::Null);
    let Some(name) = b["name"].as_str() else {
        return invalid("name", "is required");
    };
    if let Err(a) = check_labels(&b["labels"]) {
        return a;
    }
    let rules = match check_rules(b.get("rules").unwrap_or(&json!([]))) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if w.firewalls.values().any(|f| f["name"] == name) {
        return error(
            409,
            "uniqueness_error",
            "firewall name is already used",
            json!({ "fields": [{ "name": "name" }] }),
        );
    }
    let id = w.id();
    let applied: Vec<Value> = b["apply_to"].as_array().cloned().unwrap_or_default();
    let labels = if b["labels"].is_object() { b["labels"].clone() } else { json!({}) };
    let fw = json!({ "id": id, "name": name, "labels": labels, "rules": rules, "applied_to": applied, "created": now_rfc3339() });
    w.firewalls.insert(id, fw);
    let mut actions = vec![w.new_action("set_firewall_rules", &[(id, "firewall")])];
    if !applied.is_empty() {
        actions.push(w.new_action("apply_firewall", &[(id, "firewall")]));
    }
    let actions: Vec<Value> = actions.iter().map(|a| w.actions[a].json.clone()).collect();
    ok(201, json!({ "firewall": firewall_view(w, &w.firewalls[&id]), "actions": actions }))
}

pub(super) fn update_firewall(w: &mut World, id: u64, body: Option<Value>) -> Answer {
    let b = body.unwrap_or(Value::Null);
    if let Err(a) = check_labels(&b["labels"]) {
        return a;
    }
    let fw = w.firewalls.get_mut(&id).expect("checked by the route");
    if b["labels"].is_object() {
        fw["labels"] = b["labels"].clone();
    }
    if let Some(name) = b["name"].as_str() {
        fw["name"] = json!(name);
    }
    ok(200, json!({ "firewall": firewall_view(w, &w.firewalls[&id]) }))
}

pub(super) fn set_rules(w: &mut World, id: u64, body: Option<Value>) -> Answer {
    let rules = match check_rules(&body.unwrap_or(Value::Null)["rules"]) {
        Ok(r) => r,
        Err(a) => return a,
    };
    w.firewalls.get_mut(&id).expect("checked by the route")["rules"] = json!(rules);
    let action = w.new_action("set_firewall_rules", &[(id, "firewall")]);
    ok(201, json!({ "actions": [w.actions[&action].json] }))
}

pub(super) fn apply_to_resources(w: &mut World, id: u64, body: Option<Value>) -> Answer {
    let Some(apply) = body.and_then(|b| b["apply_to"].as_array().cloned()) else {
        return invalid("apply_to", "is required");
    };
    let fw = w.firewalls.get_mut(&id).expect("checked by the route");
    for a in &apply {
        let already = fw["applied_to"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["type"] == a["type"] && x["label_selector"] == a["label_selector"] && x["server"] == a["server"]);
        if already {
            return error(
                422,
                "firewall_already_applied",
                "Firewall is already applied to resource",
                Value::Null,
            );
        }
    }
    fw["applied_to"].as_array_mut().expect("a list").extend(apply);
    let action = w.new_action("apply_firewall", &[(id, "firewall")]);
    ok(201, json!({ "actions": [w.actions[&action].json] }))
}
