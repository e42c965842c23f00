//! Choosing candidates from the live listing and creating with fallback:
//! sold-out locations, retired types, adoption on `uniqueness_error`, and
//! the invariant behind it — re-running never makes a second server.

use std::time::Duration;

use mc_gitops::hetzner::{Candidate, ErrorCode, HetznerError, Reason, candidates};
use mc_gitops::ids::{Location, ServerType};
use reqwest::Method;
use rust_decimal_macros::dec;

use super::{FakeHetzner, LABELS, NAME, candidate, client, policy, setup, spec};

async fn choose(h: &mc_gitops::hetzner::Hetzner, locations: &[&str], types: &[&str]) -> Vec<Candidate> {
    let listing = h.server_types().await.unwrap();
    let locations: Vec<Location> = locations.iter().map(|l| Location::new(*l)).collect();
    let types: Vec<ServerType> = types.iter().map(|t| ServerType::new(*t)).collect();
    candidates(&locations, &types, &listing).unwrap().candidates
}

fn pairs(c: &[Candidate]) -> Vec<(&str, &str)> {
    c.iter().map(|c| (c.location.as_str(), c.server_type.as_str())).collect()
}

#[tokio::test]
async fn sold_out_fsn1_is_created_in_nbg1() {
    let (fake, h) = setup().await;
    fake.sold_out("fsn1");
    let cands = choose(&h, &["fsn1", "nbg1", "hel1"], &["cx33", "cpx32"]).await;
    assert_eq!(pairs(&cands), [("fsn1", "cx33"), ("nbg1", "cx33"), ("hel1", "cx33")]);
    fake.clear_calls();

    let created = h.create_with_fallback(&spec(), &cands).await.unwrap();

    assert!(!created.adopted);
    assert_eq!(created.placed, candidate("nbg1", "cx33"));
    assert_eq!(created.server.location.as_str(), "nbg1");
    let price = created.price.unwrap();
    assert_eq!(
        (price.currency.as_str(), price.hourly_net, price.monthly_gross),
        ("EUR", dec!(0.008), dec!(5.9381))
    );
    assert_eq!(created.ipv4_price.unwrap().monthly_net, dec!(0.5));
    assert_eq!(created.refused.len(), 1);
    assert_eq!(
        (created.refused[0].candidate.location.as_str(), &created.refused[0].code),
        ("fsn1", &ErrorCode::ResourceUnavailable)
    );
    assert_eq!(super::paths(&fake), ["GET /pricing", "POST /servers", "POST /servers"]);
    assert_eq!(fake.requests().iter().map(|c| c.status).collect::<Vec<_>>(), [200, 412, 201]);
    assert_eq!(
        fake.bodies(Method::POST, "/servers")
            .iter()
            .map(|b| b["location"].clone())
            .collect::<Vec<_>>(),
        ["fsn1", "nbg1"]
    );
}

#[tokio::test]
async fn a_retired_preferred_type_falls_to_the_next() {
    let (fake, h) = setup().await;
    let listing = h.server_types().await.unwrap();
    let us = candidates(
        &[Location::new("ash"), Location::new("hil")],
        &[ServerType::new("cpx31"), ServerType::new("cpx32")],
        &listing,
    )
    .unwrap();
    assert_eq!(pairs(&us.candidates), [("ash", "cpx32"), ("hil", "cpx32")]);
    assert!(
        us.refusals
            .iter()
            .all(|r| r.server_type.as_str() == "cpx31" && r.reason == Reason::Deprecated)
    );
    fake.clear_calls();

    let created = h.create_with_fallback(&spec(), &us.candidates).await.unwrap();

    assert_eq!(created.placed, candidate("ash", "cpx32"));
    assert_eq!(created.price.unwrap().monthly_net, dec!(11.99));
    assert_eq!(fake.count(Method::POST, "/servers"), 1, "the retired type is never ordered");
    assert_eq!(fake.bodies(Method::POST, "/servers")[0]["server_type"], "cpx32");
}

#[tokio::test]
async fn a_type_retired_after_listing_is_skipped_at_order_time() {
    let (fake, h) = setup().await;
    let cands = choose(&h, &["fsn1", "nbg1"], &["cx33"]).await;
    fake.retire("cx33");
    fake.clear_calls();

    let err = h.create_with_fallback(&spec(), &cands).await.unwrap_err();

    let HetznerError::NoCapacity { refused, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(refused.len(), 2);
    assert!(err.to_string().contains("cx33 in fsn1: server type cx33 is deprecated"), "{err}");
    assert_eq!(fake.server_count(), 0);
}

#[tokio::test]
async fn nothing_orderable_says_which_types_and_locations_and_why() {
    let (_fake, h) = setup().await;
    let listing = h.server_types().await.unwrap();
    let err = candidates(
        &[Location::new("ash")],
        &[ServerType::new("cx33"), ServerType::new("cx22"), ServerType::new("cx11")],
        &listing,
    )
    .unwrap_err();
    let msg = HetznerError::from(err).to_string();
    assert!(msg.contains("considered types [cx33, cx22, cx11] in locations [ash]"), "{msg}");
    assert!(msg.contains("cx33 in ash: not offered in this location"), "{msg}");
    assert!(msg.contains("cx22 in ash: deprecated"), "{msg}");
    assert!(msg.contains("cx11 in ash: not listed by /server_types"), "{msg}");
}

#[tokio::test]
async fn uniqueness_error_adopts_the_existing_server() {
    let (fake, h) = setup().await;
    let id = fake.seed_server(NAME, LABELS, "hel1", "cpx32");

    let created = h
        .create_with_fallback(&spec(), &[candidate("fsn1", "cx33"), candidate("nbg1", "cx33")])
        .await
        .unwrap();

    assert!(created.adopted);
    assert_eq!(created.server.id.0, id);
    assert!(created.action.is_none());
    // The price is the adopted server's, not the candidate's.
    assert_eq!(created.placed, candidate("hel1", "cpx32"));
    assert_eq!(created.price.unwrap().monthly_net, dec!(10.49));
    assert_eq!(fake.servers_named(NAME), 1);
    assert_eq!(
        super::paths(&fake),
        [
            "GET /pricing".to_string(),
            "POST /servers".into(),
            format!("GET /servers?name={NAME}")
        ]
    );
    assert_eq!(fake.requests()[1].status, 409, "the one POST was refused; no second POST was made");
}

/// Regression guard for invariant 2: a create whose answer was lost (timeout)
/// is retried, meets `uniqueness_error`, and adopts — one server, not two.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_adopted_on_retry() {
    let fake = FakeHetzner::start().await;
    let h = client(
        &fake,
        mc_gitops::http::Policy {
            attempts: 2,
            timeout: Duration::from_millis(250),
            ..policy()
        },
    );
    fake.hang_next("/servers", Duration::from_secs(2));

    let created = h.create_with_fallback(&spec(), &[candidate("fsn1", "cx33")]).await.unwrap();

    assert!(created.adopted);
    assert_eq!(fake.servers_named(NAME), 1);
    let posts: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|c| c.method == Method::POST)
        .map(|c| c.status)
        .collect();
    assert_eq!(posts, [201, 409]);
}

#[tokio::test]
async fn a_server_with_our_name_but_not_our_labels_is_not_adopted() {
    let (fake, h) = setup().await;
    fake.seed_server(NAME, &[("owner", "someone-else")], "fsn1", "cx33");

    let err = h
        .create_with_fallback(&spec(), &[candidate("fsn1", "cx33"), candidate("nbg1", "cx33")])
        .await
        .unwrap_err();

    let HetznerError::NameTaken { missing, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(missing.contains("managed-by=mc-gitops"), "{missing}");
    assert_eq!(fake.count(Method::POST, "/servers"), 1, "no other candidate is tried");
    assert_eq!(fake.servers_named(NAME), 1);
}

#[tokio::test]
async fn our_server_from_another_session_is_returned_for_the_caller_to_judge() {
    let (fake, h) = setup().await;
    let theirs = [LABELS[0], LABELS[1], ("mc-gitops/session", "20261122-1929-eu")];
    let id = fake.seed_server(NAME, &theirs, "fsn1", "cx33");

    let created = h.create_with_fallback(&spec(), &[candidate("fsn1", "cx33")]).await.unwrap();

    assert!(created.adopted);
    assert_eq!(created.server.id.0, id);
    assert_eq!(created.server.labels["mc-gitops/session"], "20261122-1929-eu");
    assert_eq!(fake.servers_named(NAME), 1);
}

#[tokio::test]
async fn every_candidate_sold_out_lists_what_was_tried() {
    let (fake, h) = setup().await;
    for l in ["fsn1", "nbg1", "hel1"] {
        fake.sold_out(l);
    }
    let cands = choose(&h, &["fsn1", "nbg1", "hel1"], &["cx33"]).await;

    let err = h.create_with_fallback(&spec(), &cands).await.unwrap_err();

    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("server {NAME}: no candidate could be created: cx33 in fsn1: ")),
        "{msg}"
    );
    assert!(
        msg.contains("cx33 in hel1: server type cx33 is currently unavailable in hel1 (resource_unavailable)"),
        "{msg}"
    );
    assert_eq!(fake.count(Method::POST, "/servers"), 3);
    assert_eq!(fake.server_count(), 0);
}

#[tokio::test]
async fn other_refusals_stop_the_fallback() {
    let (fake, h) = setup().await;
    let mut bad = spec();
    bad.image = "windows-95".into();

    let err = h
        .create_with_fallback(&bad, &[candidate("fsn1", "cx33"), candidate("nbg1", "cx33")])
        .await
        .unwrap_err();

    assert_eq!(err.code(), Some(ErrorCode::InvalidInput));
    assert_eq!(
        fake.count(Method::POST, "/servers"),
        1,
        "another location would refuse the same image"
    );
}

#[tokio::test]
async fn pricing_failure_creates_nothing() {
    let (fake, h) = setup().await;
    fake.fail_next(Method::GET, "/pricing", 503, 10);

    let err = h.create_with_fallback(&spec(), &[candidate("fsn1", "cx33")]).await.unwrap_err();

    assert_eq!(err.code(), Some(ErrorCode::Unavailable));
    assert_eq!(fake.count(Method::POST, "/servers"), 0);
}
