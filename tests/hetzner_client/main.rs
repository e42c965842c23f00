//! The Hetzner Cloud client against the in-process fake
//! (`tests/fakes/hetzner.rs`): for each method the request as the fake
//! received it, the decoded answer, documented errors mapped to typed ones,
//! and exact call counts. Creating with fallback and adoption, firewalls,
//! images, what Hetzner offers (types, prices, locations, SSH keys),
//! 429/5xx/timeout behaviour of every method, and checking the fake against
//! the OpenAPI document live in the modules below.

#[path = "../common/mod.rs"]
mod common;
#[path = "../fakes/hetzner.rs"]
mod hetzner_fake;

mod catalog;
mod create;
mod firewalls;
mod images;
mod openapi;
mod resilience;

use std::collections::BTreeMap;
use std::time::Duration;

use hetzner_fake::{FakeHetzner, TOKEN};
use mc_gitops::hetzner::{ActionId, ActionStatus, ErrorCode, Hetzner, HetznerError, ServerSpec, ServerStatus};
use mc_gitops::http::Policy;
use mc_gitops::ids::{HetznerServerId, Location, ServerType};
use mc_gitops::secret::Secret;
use reqwest::Method;
use rust_decimal_macros::dec;

/// The labels the planner puts on a session's server.
const LABELS: &[(&str, &str)] = &[
    ("managed-by", "mc-gitops"),
    ("mc-gitops/server", "grove"),
    ("mc-gitops/session", "20261122-1930-eu"),
];
const NAME: &str = "grove-20261122-1930-eu";

/// Fast retries, patient timeouts: retry tests stay quick, nothing flakes.
fn policy() -> Policy {
    Policy {
        attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
    }
}

fn client(fake: &FakeHetzner, policy: Policy) -> Hetzner {
    Hetzner::new(&fake.base_url(), Secret::new(TOKEN), policy)
        .expect("a valid base URL")
        .with_poll_interval(Duration::from_millis(5))
}

async fn setup() -> (FakeHetzner, Hetzner) {
    let fake = FakeHetzner::start().await;
    let h = client(&fake, policy());
    (fake, h)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn spec() -> ServerSpec {
    let mut s = ServerSpec::new(NAME, "ubuntu-24.04");
    s.labels = labels(LABELS);
    s.user_data = Some("#cloud-config\nwrite_files: []\n".into());
    s
}

fn candidate(location: &str, server_type: &str) -> mc_gitops::hetzner::Candidate {
    mc_gitops::hetzner::Candidate {
        location: Location::new(location),
        server_type: ServerType::new(server_type),
    }
}

fn paths(fake: &FakeHetzner) -> Vec<String> {
    fake.calls().into_iter().map(|(m, p)| format!("{m} {p}")).collect()
}

/// Not a test on its own: `from_env_reads_token_and_endpoint` runs it in a
/// child process with the environment set, so no test mutates the
/// environment of this (multi-threaded) process.
#[test]
fn from_env_child() {
    let Ok(case) = std::env::var("MC_GITOPS_FROM_ENV_CASE") else {
        return;
    };
    match case.as_str() {
        "unset" => assert!(Hetzner::from_inputs(&mc_gitops::inputs::Inputs::from_env()).is_none()),
        "default" => assert_eq!(
            Hetzner::from_inputs(&mc_gitops::inputs::Inputs::from_env())
                .unwrap()
                .unwrap()
                .base(),
            "https://api.hetzner.cloud/v1"
        ),
        "endpoint" => assert_eq!(
            Hetzner::from_inputs(&mc_gitops::inputs::Inputs::from_env())
                .unwrap()
                .unwrap()
                .base(),
            "http://127.0.0.1:9/v1"
        ),
        "bad-endpoint" => assert!(Hetzner::from_inputs(&mc_gitops::inputs::Inputs::from_env()).unwrap().is_err()),
        other => panic!("unknown case {other}"),
    }
}

#[test]
fn from_env_reads_token_and_endpoint() {
    let exe = std::env::current_exe().unwrap();
    for (case, token, endpoint) in [
        ("unset", None, None),
        ("default", Some("t0ken"), None),
        ("endpoint", Some("t0ken"), Some("http://127.0.0.1:9/v1/")),
        ("bad-endpoint", Some("t0ken"), Some("ftp://example")),
    ] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["--exact", "from_env_child", "--test-threads=1"])
            .env("MC_GITOPS_FROM_ENV_CASE", case)
            .env_remove("HCLOUD_TOKEN")
            .env_remove("HCLOUD_ENDPOINT");
        if let Some(t) = token {
            cmd.env("HCLOUD_TOKEN", t);
        }
        if let Some(e) = endpoint {
            cmd.env("HCLOUD_ENDPOINT", e);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "case {case}: {}", String::from_utf8_lossy(&out.stdout));
    }
}

#[tokio::test]
async fn the_token_never_shows_in_debug_or_errors() {
    let fake = FakeHetzner::start().await;
    let good = client(&fake, policy());
    assert!(!format!("{good:?}").contains(TOKEN));

    let wrong = Hetzner::new(&fake.base_url(), Secret::new("wrong-token-123"), policy()).unwrap();
    let err = wrong.list_servers("").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized));
    assert_eq!(err.status(), Some(401));
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("wrong-token-123") && !shown.contains(TOKEN), "{shown}");
    assert_eq!(fake.count(Method::GET, "/servers"), 1, "401 is not retried");

    let nowhere = Hetzner::new("http://127.0.0.1:9/v1", Secret::new(TOKEN), Policy { attempts: 1, ..policy() }).unwrap();
    let err = nowhere.pricing().await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}

#[tokio::test]
async fn the_token_never_shows_in_logs() {
    // Everything logged on this thread (the test's current-thread runtime
    // runs the client and the fake here).
    let (logs, _guard) = common::log::Log::capture_at(tracing::Level::TRACE);
    let (fake, h) = setup().await;
    fake.fail_next(Method::POST, "/servers", 503, 1);
    fake.sold_out("fsn1");

    h.create_with_fallback(&spec(), &[candidate("fsn1", "cx33"), candidate("nbg1", "cx33")])
        .await
        .unwrap();

    let text = logs.text();
    assert!(
        text.contains("/servers") && text.contains("retrying") && text.contains("created"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
    assert!(!text.contains("cloud-config"), "user data stays out of the logs");
}

#[tokio::test]
async fn list_servers_follows_every_page() {
    let (fake, h) = setup().await;
    for i in 0..120 {
        fake.seed_server(&format!("grove-{i:03}"), LABELS, "fsn1", "cx33");
    }
    fake.seed_server("other", &[("managed-by", "someone-else")], "nbg1", "cpx32");

    let servers = h.list_servers("managed-by=mc-gitops,mc-gitops/server=grove").await.unwrap();

    assert_eq!(servers.len(), 120);
    assert!(servers.iter().all(|s| s.labels["mc-gitops/server"] == "grove"));
    assert!(
        servers
            .iter()
            .all(|s| s.ipv4.as_deref().is_some_and(|ip| ip.starts_with("203.0.113.")))
    );
    let q = "label_selector=managed-by%3Dmc-gitops%2Cmc-gitops%2Fserver%3Dgrove";
    assert_eq!(
        paths(&fake),
        [1, 2, 3].map(|p| format!("GET /servers?{q}&page={p}&per_page=50")),
        "exactly one GET per page"
    );
}

#[tokio::test]
async fn list_servers_label_selectors() {
    let (fake, h) = setup().await;
    fake.seed_server("a", &[("role", "mc"), ("env", "prod")], "fsn1", "cx33");
    fake.seed_server("b", &[("role", "mc")], "fsn1", "cx33");
    fake.seed_server("c", &[("env", "prod")], "fsn1", "cx33");
    let names = |v: Vec<mc_gitops::hetzner::Server>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(names(h.list_servers("role").await.unwrap()), ["a", "b"]);
    assert_eq!(names(h.list_servers("role=mc,env=prod").await.unwrap()), ["a"]);
    assert_eq!(names(h.list_servers("env==prod,!role").await.unwrap()), ["c"]);
    assert_eq!(names(h.list_servers("").await.unwrap()), ["a", "b", "c"]);
    assert_eq!(paths(&fake).last().unwrap(), "GET /servers?page=1&per_page=50");
}

#[tokio::test]
async fn server_by_name_is_one_get_with_the_name() {
    let (fake, h) = setup().await;
    let id = fake.seed_server(NAME, LABELS, "nbg1", "cpx32");

    let found = h.server_by_name(NAME).await.unwrap().unwrap();
    assert_eq!(found.id, HetznerServerId(id));
    assert_eq!((found.location.as_str(), found.server_type.as_str()), ("nbg1", "cpx32"));
    assert_eq!(found.image.as_deref(), Some("ubuntu-24.04"));
    assert!(h.server_by_name("grove-nope").await.unwrap().is_none());
    assert_eq!(
        paths(&fake),
        [format!("GET /servers?name={NAME}"), "GET /servers?name=grove-nope".to_string()]
    );
}

#[tokio::test]
async fn get_server_reads_status_and_404_is_none() {
    let (fake, h) = setup().await;
    let id = fake.seed_server(NAME, LABELS, "fsn1", "cx33");

    let first = h.get_server(HetznerServerId(id)).await.unwrap().unwrap();
    assert_eq!(first.status, ServerStatus::Initializing);
    let second = h.get_server(HetznerServerId(id)).await.unwrap().unwrap();
    assert_eq!(second.status, ServerStatus::Running);
    assert!(h.get_server(HetznerServerId(999_999)).await.unwrap().is_none());
    assert_eq!(fake.count_route(Method::GET, &format!("/servers/{id}")), 2);
    assert_eq!(fake.count_route(Method::GET, "/servers/999999"), 1, "404 is an answer, not retried");
}

#[tokio::test]
async fn set_server_labels_replaces_the_set_and_404_is_none() {
    let (fake, h) = setup().await;
    let id = fake.seed_server(NAME, LABELS, "fsn1", "cx33");
    let mut want = labels(LABELS);
    want.insert("mc-gitops/credentials-expires".into(), "1795363200".into());
    let server = h.set_server_labels(HetznerServerId(id), &want).await.unwrap().unwrap();
    assert_eq!(server.labels, want);
    assert_eq!(
        fake.bodies(Method::PUT, &format!("/servers/{id}")),
        vec![serde_json::json!({ "labels": want })],
        "the whole set, nothing else"
    );
    assert_eq!(fake.server(id).unwrap()["labels"]["mc-gitops/credentials-expires"], "1795363200");
    assert!(h.set_server_labels(HetznerServerId(999_999), &want).await.unwrap().is_none());
    let mut bad = want.clone();
    bad.insert("mc-gitops/credentials-expires".into(), "not valid!".into());
    let err = h.set_server_labels(HetznerServerId(id), &bad).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidInput), "{err}");
}

#[tokio::test]
async fn create_server_sends_the_documented_body() {
    let (fake, h) = setup().await;
    fake.seed_ssh_key("admin");
    let fw = fake.seed_firewall("grove-mc", LABELS, serde_json::json!([]), None);
    let mut s = spec();
    s.ssh_keys = vec!["admin".into()];
    s.firewalls = vec![mc_gitops::hetzner::FirewallId(fw)];
    s.enable_ipv6 = false;

    let created = h.create_server(&s.at(&candidate("hel1", "cx33"))).await.unwrap();

    let body = &fake.bodies(Method::POST, "/servers")[0];
    assert_eq!(
        body,
        &serde_json::json!({
            "name": NAME, "server_type": "cx33", "location": "hel1", "image": "ubuntu-24.04",
            "user_data": "#cloud-config\nwrite_files: []\n",
            "labels": { "managed-by": "mc-gitops", "mc-gitops/server": "grove", "mc-gitops/session": "20261122-1930-eu" },
            "ssh_keys": ["admin"], "firewalls": [{ "firewall": fw }],
            "public_net": { "enable_ipv4": true, "enable_ipv6": false },
            "start_after_create": true,
        })
    );
    assert_eq!(created.server.name, NAME);
    assert_eq!(created.server.status, ServerStatus::Initializing);
    assert!(created.server.ipv4.as_deref().unwrap().starts_with("203.0.113."));
    assert_eq!(created.server.ipv6, None);
    assert_eq!(created.action.command, "create_server");
    assert_eq!(
        created.next_actions.iter().map(|a| a.command.as_str()).collect::<Vec<_>>(),
        ["start_server"]
    );
    assert_eq!(fake.count(Method::POST, "/servers"), 1);
}

#[tokio::test]
async fn the_root_password_is_never_kept() {
    let (fake, h) = setup().await;
    let created = h.create_server(&spec().at(&candidate("fsn1", "cx33"))).await.unwrap();
    // The fake did send one (no SSH keys were given) …
    assert_eq!(fake.requests()[0].status, 201);
    // … and nothing the client returns can show it.
    assert!(!format!("{created:?}").contains("FakeRootPw"));
    assert!(!serde_json::to_string(&created).unwrap().contains("FakeRootPw"));
    assert!(!format!("{:?}", spec()).contains("cloud-config"), "user_data is not printed either");
}

#[tokio::test]
async fn create_server_errors_are_typed() {
    let (fake, h) = setup().await;
    fake.seed_server(NAME, LABELS, "fsn1", "cx33");

    let dup = h.create_server(&spec().at(&candidate("fsn1", "cx33"))).await.unwrap_err();
    assert_eq!((dup.status(), dup.code()), (Some(409), Some(ErrorCode::UniquenessError)));
    assert!(dup.to_string().starts_with(&format!("server {NAME} (cx33 in fsn1): ")), "{dup}");

    let mut other = spec();
    other.name = "grove-other".into();
    let bad_type = h.create_server(&other.at(&candidate("fsn1", "cx99"))).await.unwrap_err();
    assert_eq!((bad_type.status(), bad_type.code()), (Some(422), Some(ErrorCode::InvalidInput)));
    let HetznerError::Api { details, .. } = &bad_type else {
        panic!("{bad_type:?}")
    };
    assert_eq!(details.as_ref().unwrap()["fields"][0]["name"], "server_type");

    fake.sold_out("nbg1");
    let sold_out = h.create_server(&other.at(&candidate("nbg1", "cx33"))).await.unwrap_err();
    assert_eq!(
        (sold_out.status(), sold_out.code()),
        (Some(412), Some(ErrorCode::ResourceUnavailable))
    );
    assert_eq!(fake.count(Method::POST, "/servers"), 3, "4xx answers are not retried");
    assert_eq!(fake.server_count(), 1);
}

#[tokio::test]
async fn delete_server_returns_the_action_and_404_means_gone() {
    let (fake, h) = setup().await;
    let id = fake.seed_server(NAME, LABELS, "fsn1", "cx33");

    let action = h.delete_server(HetznerServerId(id)).await.unwrap().unwrap();
    assert_eq!(action.command, "delete_server");
    assert_eq!(action.resources[0].id, id);
    assert!(h.delete_server(HetznerServerId(id)).await.unwrap().is_none(), "already gone");
    assert_eq!(fake.count_route(Method::DELETE, &format!("/servers/{id}")), 2);
    assert_eq!(fake.server_count(), 0);
}

#[tokio::test]
async fn get_action_reports_progress() {
    let (fake, h) = setup().await;
    let id = ActionId(fake.seed_action("start_server"));

    let running = h.get_action(id).await.unwrap();
    assert_eq!(
        (running.status, running.progress, running.finished),
        (ActionStatus::Running, 50, None)
    );
    let done = h.get_action(id).await.unwrap();
    assert_eq!((done.status, done.progress), (ActionStatus::Success, 100));
    assert!(done.finished.is_some());

    let missing = h.get_action(ActionId(4242)).await.unwrap_err();
    assert_eq!(missing.code(), Some(ErrorCode::NotFound));
    assert_eq!(missing.to_string(), "action 4242: action not found (not_found, HTTP 404)");
}

#[tokio::test]
async fn wait_action_polls_until_success() {
    let (fake, h) = setup().await;
    fake.set_action_polls(3);
    let id = fake.seed_action("create_server");

    let action = h.wait_action(ActionId(id), Duration::from_secs(5)).await.unwrap();
    assert_eq!(action.status, ActionStatus::Success);
    assert_eq!(fake.count_route(Method::GET, &format!("/actions/{id}")), 3);
}

#[tokio::test]
async fn wait_action_error_names_the_command_and_code() {
    let (fake, h) = setup().await;
    fake.fail_actions("start_server", "server_error", "the host did not answer");
    let id = fake.seed_action("start_server");

    let err = h.wait_action(ActionId(id), Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ServerError));
    assert_eq!(
        err.to_string(),
        format!("action {id} (start_server) failed: the host did not answer (server_error)")
    );
}

#[tokio::test]
async fn wait_action_gives_up_at_the_timeout() {
    let (fake, h) = setup().await;
    fake.set_action_polls(10_000);
    let id = fake.seed_action("create_server");

    let err = h.wait_action(ActionId(id), Duration::from_millis(40)).await.unwrap_err();
    let HetznerError::ActionTimeout { command, progress, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((command.as_str(), *progress), ("create_server", 0));
    assert!(
        err.to_string().starts_with(&format!("action {id} (create_server) still running")),
        "{err}"
    );
    assert!(fake.count_route(Method::GET, &format!("/actions/{id}")) <= 9);
}
