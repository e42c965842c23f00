//! Honesty: the fake's answers and the client's request bodies checked
//! against the schemas of the API's own OpenAPI document
//! (`../shared/reference/cloudflare-openapi-2024-08.json`, beside the repo).
//! Where the document cannot be used as written, the test says why and
//! pins the quirk, so a fixed document shows up as a failing assertion.

use std::sync::OnceLock;

use super::*;

/// The document, with OpenAPI 3.0's `nullable` rewritten into JSON
/// Schema (`type: [T, "null"]`) so `jsonschema` understands it.
fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/cloudflare-openapi-2024-08.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut doc: Value = serde_json::from_str(&text).expect("the document is JSON");
        nullable_to_json_schema(&mut doc);
        doc
    })
}

fn nullable_to_json_schema(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.values_mut().for_each(nullable_to_json_schema);
            if m.get("nullable") != Some(&Value::Bool(true)) {
                return;
            }
            m.remove("nullable");
            if let Some(Value::String(t)) = m.get("type").cloned() {
                m.insert("type".into(), json!([t, "null"]));
                if let Some(Value::Array(e)) = m.get_mut("enum") {
                    if !e.contains(&Value::Null) {
                        e.push(Value::Null);
                    }
                }
            } else {
                let inner = Value::Object(std::mem::take(m));
                m.insert("anyOf".into(), json!([{ "type": "null" }, inner]));
            }
        }
        Value::Array(a) => a.iter_mut().for_each(nullable_to_json_schema),
        _ => {}
    }
}

/// A validator for `schema`, with the document's `components` embedded
/// so its `#/components/schemas/…` references resolve.
fn validator(schema: &Value) -> jsonschema::Validator {
    let root = json!({ "allOf": [schema], "components": document()["components"] });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&root)
        .expect("schema compiles")
}

fn operation(path: &str, method: &str) -> &'static Value {
    &document()["paths"][path][method]
}

fn response_schema(path: &str, method: &str, status: &str) -> &'static Value {
    &operation(path, method)["responses"][status]["content"]["application/json"]["schema"]
}

fn component(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

#[track_caller]
fn assert_valid(schema: &Value, instance: &Value, what: &str) {
    let v = validator(schema);
    let errors: Vec<String> = v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the document:\n{}\n{instance:#}",
        errors.join("\n")
    );
}

/// The checks have teeth: `instance` with the field at `pointer` removed
/// (or replaced by `with`) no longer matches.
#[track_caller]
fn assert_rejects(schema: &Value, instance: &Value, pointer: &str, with: Option<Value>) {
    let mut broken = instance.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    let slot = broken.pointer_mut(parent).unwrap_or_else(|| panic!("{parent} in {instance}"));
    match (slot, with) {
        (Value::Object(m), None) => assert!(m.remove(key).is_some(), "{pointer} absent"),
        (Value::Object(m), Some(v)) => assert!(m.insert(key.into(), v).is_some(), "{pointer} absent"),
        (Value::Array(a), Some(v)) => a[key.parse::<usize>().expect("an index")] = v,
        _ => panic!("cannot change {pointer}"),
    }
    assert!(!validator(schema).is_valid(&broken), "still valid with {pointer} changed");
}

async fn raw(fake: &FakeCloudflare, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", fake.base_url()))
        .bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

const ZONES: &str = "/zones";
const RECORDS: &str = "/zones/{zone_id}/dns_records";
const RECORD: &str = "/zones/{zone_id}/dns_records/{dns_record_id}";
const CREDS: &str = "/accounts/{account_id}/r2/temp-access-credentials";
const VERIFY: &str = "/user/tokens/verify";

#[tokio::test]
async fn the_fakes_answers_match_the_documents_response_schemas() {
    let (fake, cf, z) = setup().await;
    let (_, zones) = raw(&fake, Method::GET, "/zones?name=grove.place", None).await;
    assert_valid(response_schema(ZONES, "get", "200"), &zones, "GET /zones");
    assert_rejects(response_schema(ZONES, "get", "200"), &zones, "/result/0/owner", None);

    seed_srv(&fake, 25565);
    let created = cf.create_record(&z, &a_record(IP, 60)).await.unwrap();
    let records = format!("/zones/{}/dns_records", z.id);
    let one = format!("{records}/{}", created.id);
    let (_, list) = raw(&fake, Method::GET, &records, None).await;
    assert_eq!(list["result"].as_array().unwrap().len(), 2, "an A and an SRV record");
    assert_valid(response_schema(RECORDS, "get", "200"), &list, "GET dns_records");
    assert_rejects(response_schema(RECORDS, "get", "200"), &list, "/result/0/ttl", Some(json!(5)));
    let body = json!({ "type": "A", "name": "play.grove.place", "content": "192.0.2.10", "ttl": 1 });
    let (_, post) = raw(&fake, Method::POST, &records, Some(body)).await;
    assert_valid(response_schema(RECORDS, "post", "200"), &post, "POST dns_records");
    assert_rejects(response_schema(RECORDS, "post", "200"), &post, "/result/created_on", None);
    let (_, patch) = raw(&fake, Method::PATCH, &one, Some(json!({ "proxied": true }))).await;
    assert_valid(response_schema(RECORD, "patch", "200"), &patch, "PATCH dns_records/{id}");
    let (_, get) = raw(&fake, Method::GET, &one, None).await;
    assert_valid(response_schema(RECORD, "get", "200"), &get, "GET dns_records/{id}");
    let (_, delete) = raw(&fake, Method::DELETE, &one, None).await;
    assert_valid(response_schema(RECORD, "delete", "200"), &delete, "DELETE dns_records/{id}");

    let body = json!({ "bucket": BUCKET, "parentAccessKeyId": PARENT_KEY, "permission": "object-read-write", "ttlSeconds": 900 });
    let (_, creds) = raw(
        &fake,
        Method::POST,
        &format!("/accounts/{ACCOUNT_ID}/r2/temp-access-credentials"),
        Some(body),
    )
    .await;
    assert_valid(response_schema(CREDS, "post", "200"), &creds, "POST temp-access-credentials");
    assert_rejects(
        response_schema(CREDS, "post", "200"),
        &creds,
        "/result/secretAccessKey",
        Some(json!(1)),
    );

    let (_, verify) = raw(&fake, Method::GET, VERIFY, None).await;
    assert_valid(response_schema(VERIFY, "get", "200"), &verify, "GET /user/tokens/verify");
    assert_rejects(
        response_schema(VERIFY, "get", "200"),
        &verify,
        "/result/status",
        Some(json!("revoked")),
    );
}

#[tokio::test]
async fn the_fakes_error_bodies_match_the_documents_failure_schemas() {
    let (fake, _cf, z) = setup().await;
    let (status, bad_token) = {
        let resp = reqwest::Client::new()
            .get(format!("{}/zones", fake.base_url()))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_valid(response_schema(ZONES, "get", "4XX"), &bad_token, "GET /zones 4XX");

    let not_ipv4 = json!({ "type": "A", "name": HOST, "content": "nope" });
    let (status, invalid) = raw(&fake, Method::POST, &format!("/zones/{}/dns_records", z.id), Some(not_ipv4)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_valid(
        &component("dns-records_api-response-common-failure"),
        &invalid,
        "POST dns_records 4xx",
    );
    // The operation's own 4xx schema is allOf(success response, failure
    // response): `success` must be both true and false, so no body can
    // match it. The failure component above is what it means.
    assert!(!validator(response_schema(RECORDS, "post", "4xx")).is_valid(&invalid));

    let body = json!({ "bucket": "nope", "parentAccessKeyId": PARENT_KEY, "permission": "object-read-write", "ttlSeconds": 900 });
    let (status, no_bucket) = raw(
        &fake,
        Method::POST,
        &format!("/accounts/{ACCOUNT_ID}/r2/temp-access-credentials"),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_valid(
        response_schema(CREDS, "post", "4XX"),
        &no_bucket,
        "POST temp-access-credentials 4XX",
    );
}

#[tokio::test]
async fn the_clients_request_bodies_match_the_documents_request_schemas() {
    let (fake, cf, z) = setup().await;
    cf.ensure_a(&z, HOST, IP, COMMENT).await.unwrap();
    cf.ensure_srv(&z, SRV, HOST, 25565, 0, 5, COMMENT).await.unwrap();
    cf.ensure_a(&z, HOST, Ipv4Addr::new(192, 0, 2, 44), COMMENT).await.unwrap();
    cf.r2_temp_credentials(
        ACCOUNT_ID,
        BUCKET,
        PARENT_KEY,
        R2Permission::ObjectReadWrite,
        &["worlds/grove/".into()],
        3600,
    )
    .await
    .unwrap();
    let bodies: Vec<(Method, String, Value)> = fake
        .requests()
        .into_iter()
        .filter_map(|r| Some((r.method, r.path, r.body?)))
        .collect();
    let kinds: Vec<&Method> = bodies.iter().map(|(m, ..)| m).collect();
    assert_eq!(kinds, [&Method::POST, &Method::POST, &Method::PATCH, &Method::POST]);
    for (method, path, body) in &bodies {
        let (template, op) = match (method.as_str(), path.as_str()) {
            ("POST", p) if p.starts_with("/accounts/") => (CREDS, "post"),
            ("POST", _) => (RECORDS, "post"),
            _ => (RECORD, "patch"),
        };
        assert_valid(&request_schema(template, op), body, &format!("{method} {path} body"));
    }
    // As written, the record schema also demands response-only fields.
    let as_written = &operation(RECORDS, "post")["requestBody"]["content"]["application/json"]["schema"];
    assert!(
        !validator(as_written).is_valid(&bodies[0].2),
        "the document's own POST schema requires an id"
    );
    // Formats are checked, so a bad address would be caught here.
    let bad = json!({ "type": "A", "name": HOST, "content": "203.0.113" });
    assert!(!validator(&request_schema(RECORDS, "post")).is_valid(&bad));
}

/// The request body schema of an operation. The record operations use
/// `dns-records_dns-record`, which responses share, and whose top-level
/// `required` lists id, content, proxiable, created_on and modified_on:
/// read-only or server-assigned fields (OpenAPI applies `required` on a
/// readOnly property to responses only; `id` is not marked readOnly but
/// no create can know it). For requests, that list is dropped and the
/// per-type schemas it wraps (type, name, content or data) are checked.
fn request_schema(path: &str, op: &str) -> Value {
    let schema = &operation(path, op)["requestBody"]["content"]["application/json"]["schema"];
    if schema["$ref"] != "#/components/schemas/dns-records_dns-record" {
        return schema.clone();
    }
    let mut record = document()["components"]["schemas"]["dns-records_dns-record"].clone();
    record.as_object_mut().expect("a schema object").remove("required");
    record
}
