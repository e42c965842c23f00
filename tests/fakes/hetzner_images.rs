//! The fake Hetzner's images: the system images of the catalog and the
//! snapshots made by `POST /servers/{id}/actions/create_image`, listed with
//! the documented filters (`type`, `label_selector`, `name`, `sort`),
//! read and deleted by id. A snapshot is `creating` (`image_size` null)
//! until its action has succeeded, then `available` with a size; a failed
//! action leaves it `unavailable`. A server created with a snapshot's id
//! boots it when the architectures match.

use serde_json::{Value, json};

use super::{Answer, Query, World, catalog, check_labels, error, invalid, list, not_found, now_rfc3339, ok, param};

/// The size the fake gives a finished snapshot, in GB (what it is billed by).
pub(crate) const SNAPSHOT_GB: f64 = 1.37;

/// Every image the fake knows, snapshots with their state brought up to date.
fn all_images(w: &mut World) -> Vec<Value> {
    let mut out: Vec<Value> = catalog::IMAGES
        .iter()
        .filter_map(|(_, name, arch)| catalog::image_json(name, arch, "2024-01-01T00:00:00Z"))
        .collect();
    let ids: Vec<u64> = w.images.keys().copied().collect();
    out.extend(ids.into_iter().filter_map(|id| snapshot(w, id)));
    out
}

/// A snapshot as read now: `available` once its create action succeeded.
pub(super) fn snapshot(w: &mut World, id: u64) -> Option<Value> {
    let action = w.image_actions.get(&id).copied();
    let status = action.and_then(|a| w.actions.get(&a)).map(|a| a.json["status"].clone());
    let image = w.images.get_mut(&id)?;
    if image["status"] == "creating" {
        match status.as_ref().and_then(Value::as_str) {
            Some("success") => {
                image["status"] = json!("available");
                image["image_size"] = json!(SNAPSHOT_GB);
            }
            Some("error") => image["status"] = json!("unavailable"),
            _ => {}
        }
    }
    Some(image.clone())
}

pub(super) fn list_images(w: &mut World, q: &Query) -> Answer {
    let types: Vec<&str> = q.iter().filter(|(k, _)| k == "type").map(|(_, v)| v.as_str()).collect();
    for t in &types {
        if !["system", "app", "snapshot", "backup"].contains(t) {
            return invalid("type", "must be one of system, app, snapshot, backup");
        }
    }
    let mut all: Vec<Value> = all_images(w)
        .into_iter()
        .filter(|i| types.is_empty() || types.iter().any(|t| i["type"] == *t))
        .collect();
    match param(q, "sort") {
        None | Some("id") | Some("id:asc") => all.sort_by_key(|i| i["id"].as_u64()),
        Some("id:desc") => all.sort_by_key(|i| std::cmp::Reverse(i["id"].as_u64())),
        Some("created") | Some("created:asc") => all.sort_by_key(|i| (i["created"].as_str().map(String::from), i["id"].as_u64())),
        Some("created:desc") => all.sort_by_key(|i| std::cmp::Reverse((i["created"].as_str().map(String::from), i["id"].as_u64()))),
        Some(_) => return invalid("sort", "unknown sort key"),
    }
    list(all, "images", q)
}

pub(super) fn get_image(w: &mut World, id: Option<u64>) -> Answer {
    match id.and_then(|id| all_images(w).into_iter().find(|i| i["id"].as_u64() == Some(id))) {
        Some(image) => ok(200, json!({ "image": image })),
        None => not_found("image"),
    }
}

pub(super) fn delete_image(w: &mut World, id: Option<u64>) -> Answer {
    let Some(id) = id else { return not_found("image") };
    if w.images.remove(&id).is_some() {
        w.image_actions.remove(&id);
        return ok(204, Value::Null);
    }
    if catalog::IMAGES.iter().any(|(i, _, _)| *i == id) {
        return invalid("id", "system images cannot be deleted");
    }
    not_found("image")
}

pub(super) fn create_image(w: &mut World, server: Option<u64>, body: Option<Value>) -> Answer {
    let Some(server) = server.and_then(|id| w.servers.get(&id).map(|s| (id, s.json.clone()))) else {
        return not_found("server");
    };
    let b = body.filter(Value::is_object).unwrap_or_else(|| json!({}));
    let kind = b["type"].as_str().unwrap_or("snapshot");
    if !["snapshot", "backup"].contains(&kind) {
        return invalid("type", "must be snapshot or backup");
    }
    if let Err(a) = check_labels(&b["labels"]) {
        return a;
    }
    let (sid, s) = server;
    let id = w.id();
    let created = now_rfc3339();
    let arch = s["server_type"]["architecture"].clone();
    let description = b["description"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| format!("{}-{created}", s["name"].as_str().unwrap_or("")));
    let image = json!({
        "id": id, "name": null, "type": kind, "status": "creating", "description": description,
        "architecture": arch, "os_flavor": s["image"]["os_flavor"], "os_version": s["image"]["os_version"],
        "disk_size": s["server_type"]["disk"], "image_size": null, "rapid_deploy": false,
        "bound_to": null, "created": created, "created_from": { "id": sid, "name": s["name"] },
        "deleted": null, "deprecated": null,
        "labels": if b["labels"].is_object() { b["labels"].clone() } else { json!({}) },
        "protection": { "delete": false },
    });
    w.images.insert(id, image.clone());
    let action = w.new_action("create_image", &[(sid, "server"), (id, "image")]);
    w.image_actions.insert(id, action);
    ok(201, json!({ "image": image, "action": w.actions[&action].json }))
}

/// The image JSON a server created with `image` (a system image's name or
/// a snapshot's id) carries, if it can boot on `arch`.
pub(crate) fn boot_image(w: &mut World, image: &str, arch: &str) -> Result<Value, Answer> {
    if let Some(system) = catalog::image_json(image, arch, &now_rfc3339()) {
        return Ok(system);
    }
    let snap = image.parse::<u64>().ok().and_then(|id| snapshot(w, id));
    match snap {
        Some(s) if s["status"] != "available" => Err(error(
            422,
            "invalid_input",
            "image is not available yet",
            json!({ "fields": [{ "name": "image", "messages": ["image is not available"] }] }),
        )),
        Some(s) if s["architecture"] != arch => Err(invalid("image", "image architecture does not match the server type")),
        Some(s) => Ok(s),
        None => Err(invalid("image", "image not found")),
    }
}

impl super::super::FakeHetzner {
    /// An available snapshot with these labels, as if built earlier.
    pub(crate) fn seed_snapshot(&self, labels: &[(&str, &str)], arch: &str, created: &str) -> u64 {
        let mut w = self.world();
        let id = w.id();
        let labels: serde_json::Map<String, Value> = labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let mut image = catalog::image_json("debian-12", arch, created).expect("a catalog image");
        image["id"] = json!(id);
        image["name"] = Value::Null;
        image["type"] = json!("snapshot");
        image["description"] = json!("seeded snapshot");
        image["image_size"] = json!(SNAPSHOT_GB);
        image["rapid_deploy"] = json!(false);
        image["created_from"] = json!({ "id": 1, "name": "builder" });
        image["labels"] = Value::Object(labels);
        w.images.insert(id, image);
        id
    }

    /// Every snapshot image, as stored (not advanced by the read).
    pub(crate) fn snapshots(&self) -> Vec<Value> {
        self.world().images.values().cloned().collect()
    }
}
