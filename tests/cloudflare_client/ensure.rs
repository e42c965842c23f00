//! The convergent calls apply and observe use, with exact call counts:
//! the calls that must happen and, as much, the ones that must not.

use mc_gitops::cloudflare::{DnsObservation, Ensured};

use super::*;

#[tokio::test]
async fn ensure_a_creates_a_missing_record_with_one_list_and_one_post() {
    let (fake, cf, z) = setup().await;
    assert_eq!(cf.ensure_a(&z, HOST, IP, COMMENT).await.unwrap(), Ensured::Created);
    assert_eq!(methods(&fake), [Method::GET, Method::POST]);
    let recs = fake.records();
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(
        (r.content.as_str(), r.ttl, r.proxied, r.comment.as_deref()),
        ("203.0.113.7", 60, false, Some(COMMENT))
    );
}

#[tokio::test]
async fn ensure_a_on_a_correct_record_is_exactly_one_get() {
    let (fake, cf, z) = setup().await;
    seed_a(&fake, "203.0.113.7", 60, false);
    assert_eq!(
        cf.ensure_a(&z, HOST, IP, "mc-gitops: grove session 20261123-0800-eu")
            .await
            .unwrap(),
        Ensured::Unchanged
    );
    assert_eq!(methods(&fake), [Method::GET], "no POST, PATCH or DELETE");
}

#[tokio::test]
async fn ensure_a_patches_a_proxied_record_to_dns_only() {
    let (fake, cf, z) = setup().await;
    let id = seed_a(&fake, "203.0.113.7", 60, true);
    assert_eq!(cf.ensure_a(&z, HOST, IP, COMMENT).await.unwrap(), Ensured::Updated);
    assert_eq!(methods(&fake), [Method::GET, Method::PATCH]);
    let recs = fake.records();
    assert_eq!((recs.len(), recs[0].id.as_str(), recs[0].proxied), (1, id.as_str(), false));
}

#[tokio::test]
async fn ensure_a_patches_another_address_or_ttl() {
    let (fake, cf, z) = setup().await;
    seed_a(&fake, "198.51.100.2", 300, false);
    assert_eq!(cf.ensure_a(&z, HOST, IP, COMMENT).await.unwrap(), Ensured::Updated);
    assert_eq!(methods(&fake), [Method::GET, Method::PATCH]);
    let r = &fake.records()[0];
    assert_eq!((r.content.as_str(), r.ttl), ("203.0.113.7", 60));
}

#[tokio::test]
async fn ensure_a_keeps_the_correct_duplicate_and_deletes_the_rest() {
    let (fake, cf, z) = setup().await;
    seed_a(&fake, "198.51.100.2", 60, false);
    let good = seed_a(&fake, "203.0.113.7", 60, false);
    seed_a(&fake, "198.51.100.3", 1, true);
    assert_eq!(cf.ensure_a(&z, HOST, IP, COMMENT).await.unwrap(), Ensured::Updated);
    assert_eq!(methods(&fake), [Method::GET, Method::DELETE, Method::DELETE]);
    let left = of_type(&fake, "A");
    assert_eq!((left.len(), left[0].id.as_str()), (1, good.as_str()));
}

#[tokio::test]
async fn ensure_a_fixes_one_of_several_wrong_records_and_deletes_the_others() {
    let (fake, cf, z) = setup().await;
    seed_a(&fake, "198.51.100.2", 60, false);
    seed_a(&fake, "198.51.100.3", 60, false);
    assert_eq!(cf.ensure_a(&z, HOST, IP, COMMENT).await.unwrap(), Ensured::Updated);
    assert_eq!(methods(&fake), [Method::GET, Method::PATCH, Method::DELETE]);
    let left = of_type(&fake, "A");
    assert_eq!((left.len(), left[0].content.as_str()), (1, "203.0.113.7"));
    fake.clear_calls();
    assert_eq!(
        cf.ensure_a(&z, HOST, IP, COMMENT).await.unwrap(),
        Ensured::Unchanged,
        "a second run converges"
    );
    assert_eq!(fake.count(None), 1);
}

/// Regression guard: a POST whose answer is lost to a timeout must not leave
/// a duplicate; the retried POST meets 81058 and the record is adopted.
#[tokio::test]
async fn ensure_a_adopts_its_own_create_after_a_lost_response() {
    let fake = FakeCloudflare::start().await;
    let cf = client_with(
        &fake,
        TOKEN,
        Policy {
            timeout: Duration::from_millis(400),
            ..policy()
        },
    );
    let z = zone(&fake);
    fake.hang_next_for(Method::POST, "/zones/", Duration::from_millis(1500));
    assert_eq!(cf.ensure_a(&z, HOST, IP, COMMENT).await.unwrap(), Ensured::Created);
    assert_eq!(methods(&fake), [Method::GET, Method::POST, Method::POST, Method::GET]);
    assert_eq!(fake.records().len(), 1);
}

#[tokio::test]
async fn ensure_srv_uses_the_documented_data_object() {
    let (fake, cf, z) = setup().await;
    let made = cf.ensure_srv(&z, SRV, HOST, 25565, 0, 5, COMMENT).await.unwrap();
    assert_eq!(made, Ensured::Created);
    let req = fake.requests().pop().unwrap();
    let data = json!({ "priority": 0, "weight": 5, "port": 25565, "target": HOST });
    let want = json!({ "type": "SRV", "name": SRV, "data": data, "ttl": 60, "comment": COMMENT });
    assert_eq!(
        req.body,
        Some(want),
        "no proxied, no read-only content, no deprecated service/proto"
    );
    fake.clear_calls();
    assert_eq!(
        cf.ensure_srv(&z, SRV, HOST, 25565, 0, 5, COMMENT).await.unwrap(),
        Ensured::Unchanged
    );
    assert_eq!(methods(&fake), [Method::GET]);
}

#[tokio::test]
async fn ensure_srv_patches_a_wrong_port() {
    let (fake, cf, z) = setup().await;
    seed_srv(&fake, 25566);
    assert_eq!(cf.ensure_srv(&z, SRV, HOST, 25565, 0, 5, COMMENT).await.unwrap(), Ensured::Updated);
    assert_eq!(methods(&fake), [Method::GET, Method::PATCH]);
    assert_eq!(of_type(&fake, "SRV")[0].data.as_ref().unwrap()["port"], 25565);
}

#[tokio::test]
async fn remove_a_deletes_every_a_record_and_keeps_the_srv() {
    let (fake, cf, z) = setup().await;
    seed_a(&fake, "203.0.113.7", 60, false);
    seed_a(&fake, "198.51.100.2", 60, false);
    seed_srv(&fake, 25565);
    assert!(cf.remove_a(&z, HOST).await.unwrap());
    assert_eq!(methods(&fake), [Method::GET, Method::DELETE, Method::DELETE]);
    assert!(of_type(&fake, "A").is_empty());
    assert_eq!(of_type(&fake, "SRV").len(), 1);
    fake.clear_calls();
    assert!(!cf.remove_a(&z, HOST).await.unwrap(), "nothing left to remove");
    assert_eq!(methods(&fake), [Method::GET]);
}

#[tokio::test]
async fn observe_reads_both_records_in_two_calls() {
    let (fake, cf, z) = setup().await;
    seed_a(&fake, "203.0.113.7", 60, false);
    seed_srv(&fake, 25565);
    let seen = cf.observe(&z, HOST, Some(SRV)).await.unwrap();
    let want = DnsObservation {
        a: Some(IP),
        srv: Some((HOST.to_string(), 25565)),
        drift: vec![],
    };
    assert_eq!(seen, want);
    assert_eq!(methods(&fake), [Method::GET, Method::GET]);
    fake.clear_calls();
    assert_eq!(cf.observe(&z, HOST, None).await.unwrap().srv, None);
    assert_eq!(fake.count(None), 1, "no SRV wanted, no SRV call");
}

#[tokio::test]
async fn observe_reports_drift_the_plan_must_fix() {
    let (fake, cf, z) = setup().await;
    seed_a(&fake, "203.0.113.7", 60, true);
    seed_a(&fake, "198.51.100.2", 300, false);
    let seen = cf.observe(&z, HOST, Some(SRV)).await.unwrap();
    assert_eq!((seen.a, seen.srv), (Some(IP), None));
    assert_eq!(
        seen.drift,
        [
            "2 A records named mc.grove.place, expected one",
            "A mc.grove.place 203.0.113.7 is proxied",
            "A mc.grove.place 198.51.100.2 has TTL 300, expected 60",
        ]
    );
}
