//! Every client method under the same four faults: a 5xx then success, a
//! 429 honoured until `RateLimit-Reset`, a hang past the timeout, and a 5xx
//! that never ends. One table of methods, each case on its own fake, all
//! cases of a scenario concurrently so the whole file takes about a second.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, UNIX_EPOCH};

use mc_gitops::hetzner::{ActionId, ErrorCode, FirewallRule, Hetzner, HetznerError};
use mc_gitops::http::{HttpError, Policy};
use mc_gitops::ids::HetznerServerId;
use reqwest::Method;

use super::{FakeHetzner, LABELS, candidate, client, labels, policy, spec};

type Outcome = Pin<Box<dyn Future<Output = Result<(), HetznerError>> + Send>>;

#[derive(Clone, Copy)]
struct Seeded {
    server: u64,
    action: u64,
}

struct Case {
    name: &'static str,
    method: Method,
    /// The request the fault is aimed at.
    prefix: &'static str,
    run: fn(Hetzner, Seeded) -> Outcome,
}

fn case(name: &'static str, method: Method, prefix: &'static str, run: fn(Hetzner, Seeded) -> Outcome) -> Case {
    Case { name, method, prefix, run }
}

fn cases() -> Vec<Case> {
    vec![
        case("list_servers", Method::GET, "/servers?", |h, _| {
            Box::pin(async move { h.list_servers("managed-by=mc-gitops").await.map(drop) })
        }),
        case("server_by_name", Method::GET, "/servers?name=", |h, _| {
            Box::pin(async move { h.server_by_name("grove-seeded").await.map(drop) })
        }),
        case("get_server", Method::GET, "/servers/", |h, s| {
            Box::pin(async move { h.get_server(HetznerServerId(s.server)).await.map(drop) })
        }),
        case("create_server", Method::POST, "/servers", |h, _| {
            Box::pin(async move { h.create_server(&spec().at(&candidate("fsn1", "cx33"))).await.map(drop) })
        }),
        case("set_server_labels", Method::PUT, "/servers/", |h, s| {
            Box::pin(async move { h.set_server_labels(HetznerServerId(s.server), &labels(LABELS)).await.map(drop) })
        }),
        case("delete_server", Method::DELETE, "/servers/", |h, s| {
            Box::pin(async move { h.delete_server(HetznerServerId(s.server)).await.map(drop) })
        }),
        case("get_action", Method::GET, "/actions/", |h, s| {
            Box::pin(async move { h.get_action(ActionId(s.action)).await.map(drop) })
        }),
        case("wait_action", Method::GET, "/actions/", |h, s| {
            Box::pin(async move { h.wait_action(ActionId(s.action), Duration::from_secs(5)).await.map(drop) })
        }),
        case("server_types", Method::GET, "/server_types", |h, _| {
            Box::pin(async move { h.server_types().await.map(drop) })
        }),
        case("pricing", Method::GET, "/pricing", |h, _| {
            Box::pin(async move { h.pricing().await.map(drop) })
        }),
        case("locations", Method::GET, "/locations", |h, _| {
            Box::pin(async move { h.locations().await.map(drop) })
        }),
        case("availability", Method::GET, "/datacenters", |h, _| {
            Box::pin(async move { h.availability().await.map(drop) })
        }),
        case("probe_write", Method::POST, "/firewalls", |h, _| {
            Box::pin(async move { h.probe_write("mc-gitops-doctor-0123456789ab").await })
        }),
        case("ensure_firewall", Method::GET, "/firewalls", |h, _| {
            Box::pin(async move {
                h.ensure_firewall("fw", &labels(LABELS), &FirewallRule::minecraft(&[]), "a=b")
                    .await
                    .map(drop)
            })
        }),
        case("ssh_key_by_name", Method::GET, "/ssh_keys", |h, _| {
            Box::pin(async move { h.ssh_key_by_name("admin").await.map(drop) })
        }),
        case("create_with_fallback", Method::POST, "/servers", |h, _| {
            Box::pin(async move { h.create_with_fallback(&spec(), &[candidate("fsn1", "cx33")]).await.map(drop) })
        }),
    ]
}

fn seed(fake: &FakeHetzner) -> Seeded {
    fake.set_action_polls(1);
    fake.seed_ssh_key("admin");
    Seeded {
        server: fake.seed_server("grove-seeded", LABELS, "fsn1", "cx33"),
        action: fake.seed_action("start_server"),
    }
}

/// Run every case on its own fake, concurrently: `arm` injects the fault,
/// `check` judges the outcome and the fake's log.
async fn each_case(policy: Policy, arm: fn(&FakeHetzner, &Case), check: fn(&Case, &FakeHetzner, Result<(), HetznerError>)) {
    let mut set = tokio::task::JoinSet::new();
    for case in cases() {
        let policy = policy.clone();
        set.spawn(async move {
            let fake = FakeHetzner::start().await;
            let seeded = seed(&fake);
            arm(&fake, &case);
            let outcome = (case.run)(client(&fake, policy), seeded).await;
            check(&case, &fake, outcome);
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Err(e) = joined {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

fn http_error(err: &HetznerError) -> Option<&HttpError> {
    match err {
        HetznerError::Http { source, .. } => Some(source),
        _ => None,
    }
}

/// The requests aimed at by the case, with their statuses.
fn aimed(case: &Case, fake: &FakeHetzner) -> Vec<(String, u16)> {
    fake.requests()
        .into_iter()
        .filter(|c| c.method == case.method && c.path.starts_with(case.prefix))
        .map(|c| (c.path, c.status))
        .collect()
}

#[tokio::test]
async fn every_method_retries_a_5xx_then_succeeds() {
    each_case(
        Policy { attempts: 2, ..policy() },
        |fake, case| fake.fail_next(case.method.clone(), case.prefix, 503, 1),
        |case, fake, outcome| {
            assert!(outcome.is_ok(), "{}: {outcome:?}", case.name);
            let hits = aimed(case, fake);
            assert_eq!(hits[0].1, 503, "{}", case.name);
            assert_eq!(hits[1].0, hits[0].0, "{}: the same request again", case.name);
            assert!(hits[1].1 < 300, "{}: {hits:?}", case.name);
        },
    )
    .await;
}

#[tokio::test]
async fn every_method_waits_for_rate_limit_reset() {
    each_case(
        Policy { attempts: 2, ..policy() },
        |fake, _| fake.rate_limit_next(1, 1),
        |case, fake, outcome| {
            assert!(outcome.is_ok(), "{}: {outcome:?}", case.name);
            let calls = fake.requests();
            assert_eq!(calls[0].status, 429, "{}", case.name);
            assert_eq!(
                (&calls[1].method, &calls[1].path),
                (&calls[0].method, &calls[0].path),
                "{}",
                case.name
            );
            // The retry came no earlier than the reset the 429 announced
            // (backoff alone would have retried within milliseconds).
            let reset = UNIX_EPOCH + Duration::from_secs(fake.last_rate_limit_reset().unwrap());
            assert!(calls[1].at >= reset, "{}: retried before RateLimit-Reset", case.name);
        },
    )
    .await;
}

#[tokio::test]
async fn every_method_times_out_as_a_transport_error() {
    each_case(
        Policy {
            attempts: 2,
            // Long enough that each attempt reaches the fake's log on a
            // loaded machine (250 ms did not under a load of 12).
            timeout: Duration::from_secs(1),
            ..policy()
        },
        |fake, case| fake.hang(case.prefix, Duration::from_secs(5), 10),
        |case, fake, outcome| {
            let err = outcome.expect_err(case.name);
            assert!(
                matches!(http_error(&err), Some(HttpError::Transport { attempts: 2, .. })),
                "{}: {err:?}",
                case.name
            );
            assert!(!err.to_string().contains(super::TOKEN));
            let hits: Vec<_> = fake.requests().into_iter().filter(|c| c.path.starts_with(case.prefix)).collect();
            assert_eq!(hits.len(), 2, "{}: one request per attempt: {err:?}", case.name);
        },
    )
    .await;
}

#[tokio::test]
async fn every_method_gives_up_on_a_persistent_5xx() {
    each_case(
        Policy { attempts: 3, ..policy() },
        |fake, case| fake.fail_next(case.method.clone(), case.prefix, 500, 99),
        |case, fake, outcome| {
            let err = outcome.expect_err(case.name);
            assert_eq!(
                (err.code(), err.status()),
                (Some(ErrorCode::ServerError), Some(500)),
                "{}",
                case.name
            );
            assert!(
                matches!(http_error(&err), Some(HttpError::GaveUp { attempts: 3, .. })),
                "{}: {err:?}",
                case.name
            );
            assert_eq!(aimed(case, fake).len(), 3, "{}: policy.attempts requests, no more", case.name);
        },
    )
    .await;
}

#[tokio::test]
async fn every_response_carries_rate_limit_headers() {
    let fake = FakeHetzner::start().await;
    let http = reqwest::Client::new();
    for (path, token) in [("/pricing", super::TOKEN), ("/servers/1", super::TOKEN), ("/pricing", "nope")] {
        let resp = http
            .get(format!("{}{path}", fake.base_url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        for h in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
            let v = resp.headers().get(h).unwrap_or_else(|| panic!("{path}: no {h}"));
            assert!(v.to_str().unwrap().parse::<u64>().is_ok(), "{path}: {h}");
        }
    }
    fake.rate_limit_next(1, 30);
    let resp = http
        .get(format!("{}/pricing", fake.base_url()))
        .bearer_auth(super::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["RateLimit-Remaining"], "0");
    assert_eq!(
        resp.headers()["RateLimit-Reset"].to_str().unwrap(),
        fake.last_rate_limit_reset().unwrap().to_string()
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
}
