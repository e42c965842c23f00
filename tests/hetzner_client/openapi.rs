//! Honesty against the reference: the fake's answers and the client's
//! request bodies are validated against the schemas of
//! `shared/reference/hetzner-cloud-openapi.json` (beside the repo, as in CI),
//! so the fake cannot drift into a shape only this client understands.
//!
//! The document is OpenAPI 3.0: its component schemas are embedded as they
//! are, with two rewrites for JSON Schema 2020-12 — `nullable: true` becomes
//! a union with `null`, and every object schema that lists `properties` gets
//! `unevaluatedProperties: false`, so a field the document does not have
//! (a typo in the fake, an invented field in a request) fails too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use mc_gitops::hetzner::{FirewallId, FirewallRule};
use reqwest::Method;
use serde_json::{Value, json};

use super::{FakeHetzner, LABELS, TOKEN, candidate, labels, setup, spec};

fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/hetzner-cloud-openapi.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (the reference lives beside the repo)", path.display()));
        serde_json::from_str(&text).expect("the reference is JSON")
    })
}

fn components() -> &'static Value {
    static SCHEMAS: OnceLock<Value> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut s = doc()["components"]["schemas"].clone();
        for schema in s.as_object_mut().expect("components.schemas").values_mut() {
            to_json_schema(schema);
        }
        s
    })
}

/// OpenAPI 3.0 schema → JSON Schema 2020-12 (see the module comment).
fn to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k != "example" && k != "enum" && k != "default" {
                    to_json_schema(child);
                }
            }
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("unevaluatedProperties".into(), json!(false));
            }
            if map.remove("nullable") == Some(json!(true)) {
                match map.get("type").cloned() {
                    Some(t) => {
                        map.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(e)) = map.get_mut("enum") {
                            e.push(Value::Null);
                        }
                    }
                    None => {
                        let inner = Value::Object(std::mem::take(map));
                        *v = json!({ "anyOf": [{ "type": "null" }, inner] });
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

/// Validate `instance` against `schema` (a fragment of the document),
/// returning every violation. Compiled validators are kept: each embeds
/// the whole `components` section.
fn violations(schema: &Value, instance: &Value) -> Vec<String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = schema.to_string();
    let cached = cache.lock().unwrap().get(&key).cloned();
    let validator = cached.unwrap_or_else(|| {
        let mut schema = schema.clone();
        to_json_schema(&mut schema);
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema],
            "components": { "schemas": components() },
        });
        let built = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .expect("the document's schemas compile");
        let built = Arc::new(built);
        cache.lock().unwrap().insert(key, built.clone());
        built
    });
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

fn operation(path: &str, method: &str) -> &'static Value {
    let op = &doc()["paths"][path][method];
    assert!(op.is_object(), "the document has no {method} {path}");
    op
}

/// The documented response schema for a status (exact, else `4xx`/`5xx`).
fn response_schema(path: &str, method: &str, status: u16) -> Value {
    let responses = &operation(path, method)["responses"];
    let r = responses
        .get(status.to_string())
        .or_else(|| responses.get(format!("{}xx", status / 100)));
    let r = r.unwrap_or_else(|| panic!("{method} {path} documents no {status}"));
    r["content"]["application/json"]["schema"].clone()
}

fn request_schema(path: &str, method: &str) -> Value {
    operation(path, method)["requestBody"]["content"]["application/json"]["schema"].clone()
}

/// Send a raw request to the fake and check the answer against `template`'s
/// documented response; returns the body for the next step.
async fn check(fake: &FakeHetzner, method: Method, path: &str, template: &str, body: Option<Value>, token: &str) -> Value {
    let mut req = reqwest::Client::new()
        .request(method.clone(), format!("{}{path}", fake.base_url()))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    let schema = response_schema(template, &method.as_str().to_lowercase(), status);
    let bad = violations(&schema, &body);
    assert!(
        bad.is_empty(),
        "{method} {path} → {status} does not match the document:\n{}\n{body:#}",
        bad.join("\n")
    );
    body
}

#[tokio::test]
async fn the_fakes_answers_match_the_document() {
    let fake = FakeHetzner::start().await;
    for i in 0..3 {
        fake.seed_server(&format!("grove-{i}"), LABELS, "fsn1", "cx33");
    }
    fake.seed_ssh_key("admin");
    let g = Method::GET;

    let page = check(&fake, g.clone(), "/servers?per_page=2&page=1", "/servers", None, TOKEN).await;
    assert_eq!(page["meta"]["pagination"]["next_page"], 2);
    let server = json!({ "name": "grove-new", "server_type": "cax21", "image": "debian-12", "location": "hel1", "labels": { "a": "b" } });
    let created = check(&fake, Method::POST, "/servers", "/servers", Some(server), TOKEN).await;
    assert!(created["root_password"].is_string());
    let keyed = json!({ "name": "grove-keyed", "server_type": "cpx32", "image": "ubuntu-24.04", "location": "ash", "ssh_keys": ["admin"] });
    assert!(check(&fake, Method::POST, "/servers", "/servers", Some(keyed), TOKEN).await["root_password"].is_null());
    let id = created["server"]["id"].as_u64().unwrap();
    let action = created["action"]["id"].as_u64().unwrap();
    for _ in 0..2 {
        check(&fake, g.clone(), &format!("/servers/{id}"), "/servers/{id}", None, TOKEN).await;
        check(&fake, g.clone(), &format!("/actions/{action}"), "/actions/{id}", None, TOKEN).await;
    }
    fake.fail_actions("apply_firewall", "action_failed", "Action failed");
    check(&fake, g.clone(), "/server_types", "/server_types", None, TOKEN).await;
    check(&fake, g.clone(), "/pricing", "/pricing", None, TOKEN).await;
    check(&fake, g.clone(), "/locations", "/locations", None, TOKEN).await;
    fake.sold_out("hel1");
    check(&fake, g.clone(), "/datacenters", "/datacenters", None, TOKEN).await;
    check(&fake, g.clone(), "/ssh_keys?name=admin", "/ssh_keys", None, TOKEN).await;
    let fw = json!({ "name": "fw", "labels": { "a": "b" }, "rules": FirewallRule::minecraft(&["10.0.0.0/8".into()]),
                     "apply_to": [{ "type": "label_selector", "label_selector": { "selector": "a=b" } }] });
    let fw = check(&fake, Method::POST, "/firewalls", "/firewalls", Some(fw), TOKEN).await;
    let fw_id = fw["firewall"]["id"].as_u64().unwrap();
    let apply_action = fw["actions"][1]["id"].as_u64().unwrap();
    check(&fake, g.clone(), &format!("/actions/{apply_action}"), "/actions/{id}", None, TOKEN).await;
    check(&fake, g.clone(), "/firewalls?label_selector=a%3Db", "/firewalls", None, TOKEN).await;
    check(&fake, g.clone(), &format!("/firewalls/{fw_id}"), "/firewalls/{id}", None, TOKEN).await;
    check(
        &fake,
        Method::PUT,
        &format!("/firewalls/{fw_id}"),
        "/firewalls/{id}",
        Some(json!({ "labels": { "c": "d" } })),
        TOKEN,
    )
    .await;
    let rules = json!({ "rules": FirewallRule::minecraft(&[]) });
    check(
        &fake,
        Method::POST,
        &format!("/firewalls/{fw_id}/actions/set_rules"),
        "/firewalls/{id}/actions/set_rules",
        Some(rules),
        TOKEN,
    )
    .await;
    let apply = json!({ "apply_to": [{ "type": "label_selector", "label_selector": { "selector": "c=d" } }] });
    let template = "/firewalls/{id}/actions/apply_to_resources";
    check(
        &fake,
        Method::POST,
        &format!("/firewalls/{fw_id}/actions/apply_to_resources"),
        template,
        Some(apply),
        TOKEN,
    )
    .await;
    let relabel = json!({ "labels": { "a": "b", "mc-gitops/credentials-expires": "1795363200" } });
    let relabelled = check(&fake, Method::PUT, &format!("/servers/{id}"), "/servers/{id}", Some(relabel), TOKEN).await;
    assert_eq!(relabelled["server"]["labels"]["mc-gitops/credentials-expires"], "1795363200");
    // Snapshot images: made from the server, listed, read, booted, deleted.
    let snap = json!({ "type": "snapshot", "description": "mc-gitops grove", "labels": { "mc-gitops/server": "grove" } });
    let made = check(
        &fake,
        Method::POST,
        &format!("/servers/{id}/actions/create_image"),
        "/servers/{id}/actions/create_image",
        Some(snap),
        TOKEN,
    )
    .await;
    let image = made["image"]["id"].as_u64().unwrap();
    let made_action = made["action"]["id"].as_u64().unwrap();
    for _ in 0..2 {
        check(&fake, g.clone(), &format!("/actions/{made_action}"), "/actions/{id}", None, TOKEN).await;
    }
    let listed = check(
        &fake,
        g.clone(),
        "/images?type=snapshot&label_selector=mc-gitops%2Fserver%3Dgrove&sort=created%3Adesc",
        "/images",
        None,
        TOKEN,
    )
    .await;
    assert_eq!(listed["images"][0]["status"], "available");
    check(&fake, g.clone(), "/images?type=system&per_page=2", "/images", None, TOKEN).await;
    check(&fake, g.clone(), &format!("/images/{image}"), "/images/{id}", None, TOKEN).await;
    let boot = json!({ "name": "grove-booted", "server_type": "cax21", "image": image.to_string(), "location": "fsn1" });
    let booted = check(&fake, Method::POST, "/servers", "/servers", Some(boot), TOKEN).await;
    assert_eq!(booted["server"]["image"]["id"], image, "{booted:#}");
    let deleted = reqwest::Client::new()
        .delete(format!("{}/images/{image}", fake.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204, "documented: 204 without a body");
    check(&fake, Method::DELETE, &format!("/servers/{id}"), "/servers/{id}", None, TOKEN).await;
}

/// A documented error: the status, the code, and a body matching the
/// operation's `4xx`/`5xx` schema.
async fn check_error(fake: &FakeHetzner, req: (Method, &str, &str), body: Option<Value>, token: &str, status: u16, code: &str) {
    let (method, path, template) = req;
    let err = check(fake, method.clone(), path, template, body, token).await;
    assert_eq!(err["error"]["code"], code, "{method} {path}");
    assert_eq!(fake.requests().last().unwrap().status, status, "{method} {path}");
}

#[tokio::test]
async fn the_fakes_errors_match_the_document() {
    let fake = FakeHetzner::start().await;
    fake.seed_server("taken", LABELS, "fsn1", "cx33");
    fake.sold_out("nbg1");
    let create = |name: &str, server_type: &str, location: &str| {
        Some(json!({ "name": name, "server_type": server_type, "image": "ubuntu-24.04", "location": location }))
    };
    let post = (Method::POST, "/servers", "/servers");

    check_error(&fake, (Method::GET, "/servers", "/servers"), None, "wrong", 401, "unauthorized").await;
    check_error(&fake, (Method::GET, "/servers/1", "/servers/{id}"), None, TOKEN, 404, "not_found").await;
    check_error(&fake, post.clone(), create("taken", "cx33", "fsn1"), TOKEN, 409, "uniqueness_error").await;
    check_error(&fake, post.clone(), create("n", "cx33", "nbg1"), TOKEN, 412, "resource_unavailable").await;
    check_error(&fake, post.clone(), create("n", "cx99", "fsn1"), TOKEN, 422, "invalid_input").await;
    let put = (Method::PUT, "/servers/1", "/servers/{id}");
    check_error(&fake, put, Some(json!({ "labels": {} })), TOKEN, 404, "not_found").await;
    let taken = fake.seed_server("relabelled", LABELS, "fsn1", "cx33").to_string();
    let put = (Method::PUT, &format!("/servers/{taken}")[..], "/servers/{id}");
    let bad_value = json!({ "labels": { "mc-gitops/credentials-expires": "2026-11-22T16:00:00Z" } });
    check_error(&fake, put.clone(), Some(bad_value), TOKEN, 422, "invalid_input").await;
    check_error(
        &fake,
        put,
        Some(json!({ "labels": {}, "status": "off" })),
        TOKEN,
        422,
        "invalid_input",
    )
    .await;
    let bad_selector = (Method::GET, "/servers?label_selector=a%20in%20b", "/servers");
    check_error(&fake, bad_selector, None, TOKEN, 422, "invalid_input").await;
    check_error(&fake, (Method::GET, "/images/1", "/images/{id}"), None, TOKEN, 404, "not_found").await;
    check_error(&fake, (Method::DELETE, "/images/1", "/images/{id}"), None, TOKEN, 404, "not_found").await;
    let snap = (
        Method::POST,
        "/servers/1/actions/create_image",
        "/servers/{id}/actions/create_image",
    );
    check_error(&fake, snap, Some(json!({ "type": "snapshot" })), TOKEN, 404, "not_found").await;
    let path = format!("/servers/{taken}/actions/create_image");
    let snap = (Method::POST, &path[..], "/servers/{id}/actions/create_image");
    check_error(&fake, snap, Some(json!({ "type": "system" })), TOKEN, 422, "invalid_input").await;
    let bad_type = (Method::GET, "/images?type=nonsense", "/images");
    check_error(&fake, bad_type, None, TOKEN, 422, "invalid_input").await;
    let arm = Some(json!({ "name": "arm", "server_type": "cax21", "image": "no-such-image", "location": "fsn1" }));
    check_error(&fake, post.clone(), arm, TOKEN, 422, "invalid_input").await;
    fake.rate_limit_next(1, 5);
    check_error(
        &fake,
        (Method::GET, "/pricing", "/pricing"),
        None,
        TOKEN,
        429,
        "rate_limit_exceeded",
    )
    .await;
    fake.fail_next(Method::GET, "/pricing", 503, 1);
    check_error(&fake, (Method::GET, "/pricing", "/pricing"), None, TOKEN, 503, "unavailable").await;
}

#[tokio::test]
async fn the_clients_requests_match_the_document() {
    let (fake, h) = setup().await;
    fake.seed_ssh_key("admin");
    let mut s = spec();
    s.ssh_keys = vec!["admin".into()];
    let fw = h
        .ensure_firewall(
            "mc-grove",
            &labels(LABELS),
            &FirewallRule::minecraft(&["2001:db8::/32".into()]),
            "mc-gitops/server=grove",
        )
        .await
        .unwrap();
    s.firewalls = vec![fw];
    let created = h.create_with_fallback(&s, &[candidate("fsn1", "cx33")]).await.unwrap();
    let mut relabel = created.server.labels.clone();
    relabel.insert("mc-gitops/credentials-expires".into(), "1795363200".into());
    h.set_server_labels(created.server.id, &relabel).await.unwrap().unwrap();
    let server_id = created.server.id;
    let snapshot_labels = mc_gitops::hetzner::images::image_labels(&mc_gitops::ids::ServerName::new("grove"), "0.1.0", "x86");
    h.create_snapshot(server_id, "mc-gitops grove 0.1.0", &snapshot_labels)
        .await
        .unwrap();
    // set_rules, apply_to_resources and the labelling PUT, on a hand-made firewall.
    let bare = fake.seed_firewall("by-hand", &[], json!([]), None);
    h.ensure_firewall("by-hand", &labels(LABELS), &FirewallRule::minecraft(&[]), "x=y")
        .await
        .unwrap();
    assert_eq!(
        FirewallId(bare),
        h.ensure_firewall("by-hand", &labels(LABELS), &FirewallRule::minecraft(&[]), "x=y")
            .await
            .unwrap()
    );

    let checked = [
        ("/servers", "post", "/servers".to_string()),
        ("/firewalls", "post", "/firewalls".to_string()),
        ("/firewalls/{id}", "put", format!("/firewalls/{bare}")),
        (
            "/servers/{id}/actions/create_image",
            "post",
            format!("/servers/{server_id}/actions/create_image"),
        ),
        ("/servers/{id}", "put", format!("/servers/{server_id}")),
        (
            "/firewalls/{id}/actions/set_rules",
            "post",
            format!("/firewalls/{bare}/actions/set_rules"),
        ),
        (
            "/firewalls/{id}/actions/apply_to_resources",
            "post",
            format!("/firewalls/{bare}/actions/apply_to_resources"),
        ),
    ];
    for (template, method, route) in checked {
        let bodies = fake.bodies(method.to_uppercase().parse().unwrap(), &route);
        assert!(!bodies.is_empty(), "the client never sent {method} {route}");
        for body in bodies {
            let bad = violations(&request_schema(template, method), &body);
            assert!(
                bad.is_empty(),
                "{method} {route} body does not match the document:\n{}\n{body:#}",
                bad.join("\n")
            );
        }
    }
}

/// The checks above would pass vacuously if the schema plumbing were broken.
#[test]
fn the_schema_check_is_not_vacuous() {
    let schema = json!({ "$ref": "#/components/schemas/create_server_request" });
    let good = json!({ "name": "a", "server_type": "cx33", "image": "ubuntu-24.04", "ssh_keys": ["admin"] });
    assert!(violations(&schema, &good).is_empty());
    for bad in [
        json!({ "name": "a", "server_type": "cx33" }),
        json!({ "name": "a", "server_type": "cx33", "image": "x", "ssh_keys": [1] }),
        json!({ "name": "a", "server_type": "cx33", "image": "x", "root_pasword": "typo" }),
        json!({ "name": "a", "server_type": "cx33", "image": "x", "labels": { "k": "not/valid" } }),
    ] {
        assert!(!violations(&schema, &bad).is_empty(), "accepted {bad}");
    }
    let action = json!({ "$ref": "#/components/schemas/action" });
    let finished = json!({ "id": 1, "command": "c", "status": "success", "progress": 100, "started": "2026-01-01T00:00:00Z",
                           "finished": null, "error": null, "resources": [] });
    assert!(violations(&action, &finished).is_empty(), "nullable fields accept null");
    let mut wrong = finished.clone();
    wrong["started"] = json!("yesterday");
    assert!(!violations(&action, &wrong).is_empty(), "date-time formats are checked");
}
