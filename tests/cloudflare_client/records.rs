//! The plain record calls: request shape, decoding, paging, and each
//! documented failure mapped to its typed error.

use super::*;

#[tokio::test]
async fn list_records_filters_by_name_and_type_and_decodes() {
    let (fake, cf, z) = setup().await;
    let id = seed_a(&fake, "203.0.113.7", 60, false);
    seed_srv(&fake, 25565);
    fake.seed(ZONE, json!({ "type": "A", "name": "other.grove.place", "content": "192.0.2.1" }));
    let got = cf.list_records(&z, HOST, RecordType::A).await.unwrap();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(
        (r.id.as_str(), r.name.as_str(), r.kind, r.ttl, r.proxied),
        (id.as_str(), HOST, RecordType::A, 60, false)
    );
    assert_eq!((r.ipv4(), r.comment.as_deref()), (Some(IP), Some(COMMENT)));
    let path = format!("/zones/{}/dns_records?name=mc.grove.place&type=A&page=1&per_page=100", z.id);
    assert_eq!(fake.calls(), vec![(Method::GET, path)]);
}

#[tokio::test]
async fn list_records_follows_every_page() {
    let (fake, cf, z) = setup().await;
    for i in 0..130 {
        fake.seed(
            ZONE,
            json!({ "type": "A", "name": HOST, "content": format!("10.0.{}.{}", i / 200, i % 200 + 1) }),
        );
    }
    let got = cf.list_records(&z, HOST, RecordType::A).await.unwrap();
    assert_eq!(got.len(), 130);
    let mut ids: Vec<&RecordId> = got.iter().map(|r| &r.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 130, "no record twice, none missed");
    let pages: Vec<String> = fake
        .calls()
        .into_iter()
        .map(|(_, p)| p.split('&').nth(2).unwrap().to_string())
        .collect();
    assert_eq!(pages, ["page=1", "page=2"]);
}

#[tokio::test]
async fn an_unknown_zone_id_is_not_found_naming_the_record() {
    let (_fake, cf, _) = setup().await;
    let ghost = Zone {
        id: ZoneId::new("0123456789abcdef0123456789abcdef"),
        name: ZoneName::new("ghost.place"),
    };
    let err = cf.list_records(&ghost, "mc.ghost.place", RecordType::A).await.unwrap_err();
    assert!(matches!(err, CloudflareError::NotFound { .. }), "{err:?}");
    assert_eq!(err.codes(), vec![code::BAD_IDENTIFIER]);
    assert_eq!(err.resource(), Some("A record mc.ghost.place in zone ghost.place"));
}

#[tokio::test]
async fn create_record_sends_the_documented_body() {
    let (fake, cf, z) = setup().await;
    let made = cf.create_record(&z, &a_record(IP, 60)).await.unwrap();
    assert_eq!((made.ipv4(), made.ttl, made.proxied), (Some(IP), 60, false));
    assert_eq!(made.id.as_str().len(), 32);
    let req = fake.requests().pop().unwrap();
    assert_eq!((req.method, req.path), (Method::POST, format!("/zones/{}/dns_records", z.id)));
    let want = json!({ "type": "A", "name": HOST, "content": "203.0.113.7", "proxied": false, "ttl": 60, "comment": COMMENT });
    assert_eq!(req.body, Some(want));
    assert_eq!(fake.records().len(), 1);
}

#[tokio::test]
async fn create_of_an_identical_record_is_already_exists_with_81058() {
    let (fake, cf, z) = setup().await;
    seed_a(&fake, "203.0.113.7", 60, false);
    let err = cf.create_record(&z, &a_record(IP, 60)).await.unwrap_err();
    assert!(matches!(err, CloudflareError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(err.codes(), vec![code::IDENTICAL_RECORD]);
    assert_eq!(
        err.to_string(),
        "A record mc.grove.place in zone grove.place already exists (81058 An identical record already exists.)"
    );
}

#[tokio::test]
async fn an_a_record_where_a_cname_lives_is_already_exists_with_81053() {
    let (fake, cf, z) = setup().await;
    fake.seed(ZONE, json!({ "type": "CNAME", "name": HOST, "content": "elsewhere.example" }));
    let err = cf.ensure_a(&z, HOST, IP, COMMENT).await.unwrap_err();
    assert_eq!(err.codes(), vec![code::HOST_TAKEN]);
    // list, create (refused), list again to adopt: nothing to adopt.
    assert_eq!(methods(&fake), [Method::GET, Method::POST, Method::GET]);
}

#[tokio::test]
async fn a_ttl_cloudflare_refuses_is_rejected_with_its_code() {
    let (_fake, cf, z) = setup().await;
    let err = cf.create_record(&z, &a_record(IP, 30)).await.unwrap_err();
    assert!(
        matches!(
            err,
            CloudflareError::Rejected {
                status: StatusCode::BAD_REQUEST,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.codes(), vec![code::INVALID_TTL]);
}

#[tokio::test]
async fn patch_record_sends_the_whole_record() {
    let (fake, cf, z) = setup().await;
    let id = seed_a(&fake, "198.51.100.2", 300, true);
    let got = cf.patch_record(&z, &RecordId::new(&id), &a_record(IP, 60)).await.unwrap();
    assert_eq!((got.ipv4(), got.ttl, got.proxied), (Some(IP), 60, false));
    let req = fake.requests().pop().unwrap();
    assert_eq!((req.method, req.path), (Method::PATCH, format!("/zones/{}/dns_records/{id}", z.id)));
    assert_eq!(
        req.body.unwrap()["type"],
        "A",
        "the document's PATCH schema requires type, name and content"
    );
    assert_eq!(fake.records()[0].content, "203.0.113.7");
}

#[tokio::test]
async fn patch_of_a_missing_record_is_not_found_with_81044() {
    let (_fake, cf, z) = setup().await;
    let err = cf
        .patch_record(&z, &RecordId::new("ffffffffffffffffffffffffffffffff"), &a_record(IP, 60))
        .await
        .unwrap_err();
    assert!(matches!(err, CloudflareError::NotFound { .. }), "{err:?}");
    assert_eq!(err.codes(), vec![code::RECORD_NOT_FOUND]);
}

#[tokio::test]
async fn delete_record_is_idempotent() {
    let (fake, cf, z) = setup().await;
    let id = RecordId::new(seed_a(&fake, "203.0.113.7", 60, false));
    assert!(cf.delete_record(&z, &id).await.unwrap());
    assert!(!cf.delete_record(&z, &id).await.unwrap(), "404: already gone");
    let reqs = fake.requests();
    assert!(
        reqs.iter()
            .all(|r| r.method == Method::DELETE && r.path == format!("/zones/{}/dns_records/{id}", z.id) && r.body.is_none())
    );
    assert_eq!(reqs.len(), 2);
    assert!(fake.records().is_empty());
}
