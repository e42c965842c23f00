//! The Cloudflare client against the in-process fake: request shapes, typed
//! errors, retries, rate limits and timeouts, paging, exact call counts
//! (including the calls that must not happen), secrets kept out of every
//! printout, and, at the end, the fake's answers and the client's bodies
//! checked against the API's own OpenAPI document.

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;

#[path = "cloudflare_client/ensure.rs"]
mod ensure;
#[path = "cloudflare_client/openapi.rs"]
mod openapi;
#[path = "cloudflare_client/records.rs"]
mod records;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use cloudflare_fake::{ACCOUNT_ID, BUCKET, FakeCloudflare, FakeRecord, TOKEN, ZONE, code};
use mc_gitops::cloudflare::{Cloudflare, CloudflareError, NewRecord, R2Permission, RecordContent, RecordId, RecordType, Zone, ZoneId};
use mc_gitops::http::{HttpError, Policy};
use mc_gitops::ids::ZoneName;
use mc_gitops::secret::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const HOST: &str = "mc.grove.place";
const SRV: &str = "_minecraft._tcp.grove.place";
const COMMENT: &str = "mc-gitops: grove session 20261122-1930-eu";
const IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
const PARENT_KEY: &str = "8c0f5e2b1a3d4c5e6f708192a3b4c5d6";

fn policy() -> Policy {
    Policy {
        attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
    }
}

fn client_with(fake: &FakeCloudflare, token: &str, policy: Policy) -> Cloudflare {
    Cloudflare::new(&fake.base_url(), Secret::new(token), policy).expect("client")
}

fn zone(fake: &FakeCloudflare) -> Zone {
    Zone {
        id: ZoneId::new(fake.zone_id(ZONE)),
        name: ZoneName::new(ZONE),
    }
}

async fn setup() -> (FakeCloudflare, Cloudflare, Zone) {
    let fake = FakeCloudflare::start().await;
    let cf = client_with(&fake, TOKEN, policy());
    let z = zone(&fake);
    (fake, cf, z)
}

fn seed_a(fake: &FakeCloudflare, ip: &str, ttl: u32, proxied: bool) -> String {
    fake.seed(
        ZONE,
        json!({ "type": "A", "name": HOST, "content": ip, "ttl": ttl, "proxied": proxied, "comment": COMMENT }),
    )
}

fn seed_srv(fake: &FakeCloudflare, port: u16) -> String {
    let data = json!({ "priority": 0, "weight": 5, "port": port, "target": HOST });
    fake.seed(ZONE, json!({ "type": "SRV", "name": SRV, "data": data, "ttl": 60 }))
}

fn of_type(fake: &FakeCloudflare, kind: &str) -> Vec<FakeRecord> {
    fake.records().into_iter().filter(|r| r.kind == kind).collect()
}

fn methods(fake: &FakeCloudflare) -> Vec<Method> {
    fake.calls().into_iter().map(|(m, _)| m).collect()
}

fn a_record(ip: Ipv4Addr, ttl: u32) -> NewRecord {
    NewRecord {
        name: HOST.into(),
        content: RecordContent::A(ip),
        ttl,
        proxied: false,
        comment: Some(COMMENT.into()),
    }
}

// ---- zones ----

#[tokio::test]
async fn zone_id_is_looked_up_by_name_with_a_bearer_token() {
    let (fake, cf, z) = setup().await;
    assert_eq!(cf.zone_id(&ZoneName::new(ZONE)).await.unwrap(), z.id);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.clone(), reqs[0].path.as_str(), reqs[0].query.as_deref()),
        (Method::GET, "/zones", Some("name=grove.place"))
    );
    assert_eq!(reqs[0].authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(reqs[0].body, None);
}

#[tokio::test]
async fn a_zone_the_token_cannot_read_is_not_found_and_says_why() {
    let (fake, cf, _) = setup().await;
    fake.hide_zone(ZONE);
    let err = cf.zone(&ZoneName::new(ZONE)).await.unwrap_err();
    assert!(matches!(err, CloudflareError::ZoneNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("zone grove.place") && msg.contains("Zone:Read"), "{msg}");
}

#[tokio::test]
async fn an_invalid_token_is_a_typed_error_that_never_shows_the_token() {
    let fake = FakeCloudflare::start().await;
    let bad = "wrong-token-value-42";
    let cf = client_with(&fake, bad, policy());
    let err = cf.zone_id(&ZoneName::new(ZONE)).await.unwrap_err();
    assert!(
        matches!(
            err,
            CloudflareError::Unauthorized {
                status: StatusCode::FORBIDDEN,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.codes(), vec![code::INVALID_TOKEN]);
    for shown in [err.to_string(), format!("{err:?}"), format!("{cf:?}")] {
        assert!(!shown.contains(bad), "{shown}");
    }
    assert_eq!(fake.count(None), 1, "a refused token is not retried");
}

#[tokio::test]
async fn dns_on_a_zone_without_permission_is_unauthorized_with_code_10000() {
    let (fake, cf, z) = setup().await;
    fake.hide_zone(ZONE);
    let err = cf.list_records(&z, HOST, RecordType::A).await.unwrap_err();
    assert!(matches!(err, CloudflareError::Unauthorized { .. }), "{err:?}");
    assert_eq!(err.codes(), vec![code::AUTHENTICATION]);
    assert!(
        err.to_string()
            .starts_with("A record mc.grove.place in zone grove.place: the API token was refused"),
        "{err}"
    );
}

// ---- transport: retries, rate limits, timeouts ----

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let (fake, cf, _) = setup().await;
    fake.rate_limit_next(1, 1);
    let start = Instant::now();
    cf.zone_id(&ZoneName::new(ZONE)).await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1), "retried after {:?}", start.elapsed());
    assert_eq!(fake.count(None), 2);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_with_their_codes() {
    let (fake, cf, z) = setup().await;
    fake.fail_next(Method::GET, "/zones/", StatusCode::SERVICE_UNAVAILABLE, 2);
    assert!(cf.list_records(&z, HOST, RecordType::A).await.unwrap().is_empty());
    assert_eq!(fake.count(None), 3);

    fake.clear_calls();
    fake.fail_next(Method::POST, "/zones/", StatusCode::BAD_GATEWAY, 3);
    let err = cf.create_record(&z, &a_record(IP, 60)).await.unwrap_err();
    assert!(
        matches!(&err, CloudflareError::Http { source, .. } if matches!(**source, HttpError::GaveUp { .. })),
        "{err:?}"
    );
    assert_eq!(err.codes(), vec![code::INTERNAL]);
    assert!(
        err.to_string().starts_with("A record mc.grove.place in zone grove.place: POST"),
        "{err}"
    );
    assert_eq!(fake.count(None), 3, "the policy's three attempts, no more");
    assert!(fake.records().is_empty());
}

#[tokio::test]
async fn a_request_that_times_out_is_retried() {
    let fake = FakeCloudflare::start().await;
    let cf = client_with(
        &fake,
        TOKEN,
        Policy {
            timeout: Duration::from_millis(300),
            ..policy()
        },
    );
    fake.hang_next("/zones", Duration::from_millis(1500));
    cf.zone_id(&ZoneName::new(ZONE)).await.unwrap();
    assert_eq!(fake.count(None), 2);
}

#[tokio::test]
async fn a_request_that_always_times_out_names_the_resource() {
    let fake = FakeCloudflare::start().await;
    let cf = client_with(
        &fake,
        TOKEN,
        Policy {
            attempts: 2,
            timeout: Duration::from_millis(300),
            ..policy()
        },
    );
    fake.hang_next("/zones", Duration::from_millis(1500));
    fake.hang_next("/zones", Duration::from_millis(1500));
    let start = Instant::now();
    let err = cf.zone_id(&ZoneName::new(ZONE)).await.unwrap_err();
    assert!(
        matches!(&err, CloudflareError::Http { source, .. } if matches!(**source, HttpError::Transport { attempts: 2, .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("zone grove.place: GET /zones?name=grove.place"),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_millis(1400),
        "gave up on time, not when the server answered"
    );
}

// ---- R2 temporary credentials ----

#[tokio::test]
async fn r2_temp_credentials_send_the_documented_body_and_keep_secrets_secret() {
    let (fake, cf, _) = setup().await;
    let prefixes = vec!["worlds/grove/".to_string(), "control/grove/".to_string()];
    let creds = cf
        .r2_temp_credentials(ACCOUNT_ID, BUCKET, PARENT_KEY, R2Permission::ObjectReadWrite, &prefixes, 6 * 3600)
        .await
        .unwrap();
    let req = fake.requests().pop().unwrap();
    assert_eq!(
        (req.method, req.path),
        (Method::POST, format!("/accounts/{ACCOUNT_ID}/r2/temp-access-credentials"))
    );
    let want = json!({ "bucket": BUCKET, "parentAccessKeyId": PARENT_KEY, "permission": "object-read-write", "ttlSeconds": 21600, "prefixes": prefixes });
    assert_eq!(req.body, Some(want));
    let issued = fake.issued_credentials().pop().unwrap();
    assert_eq!(creds.access_key_id, issued["accessKeyId"]);
    assert_eq!(creds.secret_access_key.expose(), issued["secretAccessKey"]);
    assert_eq!(creds.session_token.expose(), issued["sessionToken"]);
    let shown = format!("{creds:?}");
    for secret in [&issued["secretAccessKey"], &issued["sessionToken"]] {
        assert!(!shown.contains(secret.as_str().unwrap()), "{shown}");
    }
}

#[tokio::test]
async fn r2_ttl_beyond_seven_days_is_refused_before_sending() {
    let (fake, cf, _) = setup().await;
    for ttl in [604_801, 0] {
        let err = cf
            .r2_temp_credentials(ACCOUNT_ID, BUCKET, PARENT_KEY, R2Permission::ObjectReadOnly, &[], ttl)
            .await
            .unwrap_err();
        assert!(matches!(err, CloudflareError::TtlOutOfRange { .. }), "{err:?}");
    }
    assert_eq!(fake.count(None), 0);
    cf.r2_temp_credentials(ACCOUNT_ID, BUCKET, PARENT_KEY, R2Permission::ObjectReadOnly, &[], 604_800)
        .await
        .unwrap();
    assert!(
        fake.requests()[0].body.as_ref().unwrap().get("prefixes").is_none(),
        "no prefixes: the field is left out"
    );
}

#[tokio::test]
async fn r2_unknown_bucket_is_not_found_with_its_code() {
    let (_fake, cf, _) = setup().await;
    let err = cf
        .r2_temp_credentials(ACCOUNT_ID, "nope", PARENT_KEY, R2Permission::ObjectReadWrite, &[], 900)
        .await
        .unwrap_err();
    assert!(matches!(err, CloudflareError::NotFound { .. }), "{err:?}");
    assert_eq!(err.codes(), vec![code::NO_SUCH_BUCKET]);
    assert_eq!(
        err.resource(),
        Some(format!("R2 temporary credentials for bucket nope in account {ACCOUNT_ID}").as_str())
    );
}

// ---- configuration and secrets ----

#[test]
fn from_env_needs_a_token_and_defaults_the_base_url() {
    // The only test touching these variables; nothing else reads them.
    unsafe {
        std::env::remove_var("CLOUDFLARE_API_TOKEN");
        std::env::remove_var("CLOUDFLARE_API_BASE_URL");
    }
    assert!(Cloudflare::from_inputs(&mc_gitops::inputs::Inputs::from_env()).is_none());
    unsafe { std::env::set_var("CLOUDFLARE_API_TOKEN", "env-token-123") };
    let cf = Cloudflare::from_inputs(&mc_gitops::inputs::Inputs::from_env()).unwrap().unwrap();
    assert_eq!(cf.base_url(), "https://api.cloudflare.com/client/v4");
    assert!(!format!("{cf:?}").contains("env-token-123"));
    unsafe { std::env::set_var("CLOUDFLARE_API_BASE_URL", "ftp://nope") };
    assert!(matches!(
        Cloudflare::from_inputs(&mc_gitops::inputs::Inputs::from_env()),
        Some(Err(CloudflareError::BaseUrl(_)))
    ));
    unsafe { std::env::set_var("CLOUDFLARE_API_BASE_URL", "http://127.0.0.1:9/client/v4/") };
    assert_eq!(
        Cloudflare::from_inputs(&mc_gitops::inputs::Inputs::from_env())
            .unwrap()
            .unwrap()
            .base_url(),
        "http://127.0.0.1:9/client/v4"
    );
    unsafe {
        std::env::remove_var("CLOUDFLARE_API_TOKEN");
        std::env::remove_var("CLOUDFLARE_API_BASE_URL");
    }
}

#[tokio::test]
async fn the_token_appears_in_no_error_or_debug_output() {
    let (fake, cf, z) = setup().await;
    fake.fail_next(Method::GET, "/zones", StatusCode::INTERNAL_SERVER_ERROR, 3);
    let mut shown = vec![format!("{cf:?}")];
    let e1 = cf.zone_id(&ZoneName::new(ZONE)).await.unwrap_err();
    let e2 = cf
        .patch_record(&z, &RecordId::new("ffffffffffffffffffffffffffffffff"), &a_record(IP, 60))
        .await
        .unwrap_err();
    for e in [e1, e2] {
        shown.push(e.to_string());
        shown.push(format!("{e:?}"));
    }
    for s in shown {
        assert!(!s.contains(TOKEN), "{s}");
    }
}

// ---- the fake itself, answering requests the client never sends ----

#[tokio::test]
async fn the_fake_refuses_what_the_api_refuses() {
    let fake = FakeCloudflare::start().await;
    let http = reqwest::Client::new();
    let records = format!("{}/zones/{}/dns_records", fake.base_url(), fake.zone_id(ZONE));
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.unwrap();
        let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        (resp.status(), retry_after, resp.json::<Value>().await.unwrap())
    };
    let first_code = |body: &Value| body["errors"][0]["code"].as_u64().unwrap() as u32;

    let (status, _, body) = send(http.get(&records)).await;
    assert_eq!(
        (status, first_code(&body), &body["success"]),
        (StatusCode::UNAUTHORIZED, code::AUTHENTICATION, &json!(false))
    );
    let (status, _, body) = send(http.get(&records).header("X-Auth-Key", TOKEN)).await;
    assert_eq!(
        (status, first_code(&body)),
        (StatusCode::UNAUTHORIZED, code::AUTHENTICATION),
        "only Bearer tokens"
    );

    let not_ipv4 = json!({ "type": "A", "name": "mc", "content": "mc.example.com" });
    let (status, _, body) = send(http.post(&records).bearer_auth(TOKEN).json(&not_ipv4)).await;
    assert_eq!(
        (status, first_code(&body), &body["result"]),
        (StatusCode::BAD_REQUEST, code::INVALID_A_CONTENT, &Value::Null)
    );

    let proxied_srv =
        json!({ "type": "SRV", "name": SRV, "proxied": true, "data": { "priority": 0, "weight": 5, "port": 1, "target": HOST } });
    let (status, _, body) = send(http.post(&records).bearer_auth(TOKEN).json(&proxied_srv)).await;
    assert_eq!((status, first_code(&body)), (StatusCode::BAD_REQUEST, code::NOT_PROXIABLE));

    let (status, _, body) = send(http.get(format!("{records}?content=1.2.3.4")).bearer_auth(TOKEN)).await;
    assert_eq!(
        (status, first_code(&body)),
        (StatusCode::BAD_REQUEST, code::VALIDATION),
        "unmodelled filters are refused"
    );

    let (status, _, body) = send(http.get(format!("{records}/ffffffffffffffffffffffffffffffff")).bearer_auth(TOKEN)).await;
    assert_eq!((status, first_code(&body)), (StatusCode::NOT_FOUND, code::RECORD_NOT_FOUND));

    let relative = json!({ "type": "A", "name": "mc", "content": "203.0.113.7" });
    let (status, _, body) = send(http.post(&records).bearer_auth(TOKEN).json(&relative)).await;
    assert_eq!(
        (status, &body["result"]["name"]),
        (StatusCode::OK, &json!(HOST)),
        "relative names complete with the zone"
    );

    fake.rate_limit_next(1, 7);
    let (status, retry_after, body) = send(http.get(&records).bearer_auth(TOKEN)).await;
    assert_eq!(
        (status, retry_after.as_deref(), first_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, Some("7"), code::RATE_LIMITED)
    );

    let (_, _, body) = send(http.get(format!("{records}?per_page=1&page=2")).bearer_auth(TOKEN)).await;
    let info = json!({ "page": 2, "per_page": 1, "count": 0, "total_count": 1, "total_pages": 1 });
    assert_eq!((&body["result"], &body["result_info"]), (&json!([]), &info));
}

#[tokio::test]
async fn verify_token_reads_the_tokens_status_and_refuses_another_token() {
    let (fake, cf, _) = setup().await;
    let t = cf.verify_token().await.unwrap();
    assert_eq!((t.id.as_str(), t.status.as_str()), (cloudflare_fake::TOKEN_ID, "active"));
    fake.set_token_status("disabled");
    assert_eq!(cf.verify_token().await.unwrap().status, "disabled");
    let other = client_with(&fake, "wrong-token-value-42", policy());
    let err = other.verify_token().await.unwrap_err();
    assert_eq!(err.codes(), vec![code::INVALID_TOKEN]);
    assert!(fake.calls().iter().all(|(m, p)| *m == Method::GET && p == "/user/tokens/verify"));
}
