//! Snapshot images (`mc-gitops image build`, and the start that boots one):
//! listing by label with the documented query, creating a snapshot of a
//! server and waiting for it, booting a server from it, deleting it, and
//! the documented errors mapped to typed ones.

use std::time::Duration;

use mc_gitops::hetzner::images::{ImageId, image_labels, image_selector, newest_usable};
use mc_gitops::hetzner::{ErrorCode, HetznerError, ServerSpec};
use mc_gitops::ids::{HetznerServerId, ServerName};
use reqwest::Method;

use super::{LABELS, candidate, labels, setup, spec};

fn grove() -> ServerName {
    ServerName::new("grove")
}

#[tokio::test]
async fn snapshots_are_listed_by_label_with_the_documented_query() {
    let (fake, h) = setup().await;
    let ours = image_labels(&grove(), "0.1.0", "x86");
    let pairs: Vec<(&str, &str)> = ours.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let old = fake.seed_snapshot(&pairs, "x86", "2026-11-01T00:00:00Z");
    let new = fake.seed_snapshot(&pairs, "x86", "2026-11-20T00:00:00Z");
    fake.seed_snapshot(
        &[("managed-by", "mc-gitops"), ("mc-gitops/server", "other")],
        "x86",
        "2026-11-21T00:00:00Z",
    );

    let found = h.list_snapshots(&image_selector(&grove(), Some("0.1.0"))).await.unwrap();
    assert_eq!(
        found.iter().map(|i| i.id).collect::<Vec<_>>(),
        [ImageId(new), ImageId(old)],
        "newest first"
    );
    assert!(found.iter().all(|i| i.available() && i.image_size == Some(1.37)));
    assert_eq!(newest_usable(&found, "0.1.0").map(|i| i.id), Some(ImageId(new)));
    let call = fake.requests().pop().unwrap();
    assert_eq!(call.route(), "/images");
    let q = call.query();
    for (k, v) in [
        ("type", "snapshot"),
        ("sort", "created:desc"),
        ("label_selector", image_selector(&grove(), Some("0.1.0")).as_str()),
    ] {
        assert!(q.iter().any(|(a, b)| a == k && b == v), "{k}={v} in {q:?}");
    }
    assert!(h.list_snapshots(&image_selector(&grove(), Some("9.9.9"))).await.unwrap().is_empty());
    assert_eq!(fake.count(Method::GET, "/images"), 2, "one page each");
}

#[tokio::test]
async fn a_snapshot_is_made_waited_for_booted_and_deleted() {
    let (fake, h) = setup().await;
    let created = h.create_with_fallback(&spec(), &[candidate("fsn1", "cx33")]).await.unwrap();
    let server = created.server.id;
    let l = image_labels(&grove(), "0.1.0", "x86");
    let (image, action) = h.create_snapshot(server, "mc-gitops grove 0.1.0", &l).await.unwrap();
    assert_eq!((image.status.as_str(), image.image_size, &image.labels), ("creating", None, &l));
    let body = fake
        .bodies(Method::POST, &format!("/servers/{server}/actions/create_image"))
        .pop()
        .unwrap();
    assert_eq!(body["type"], "snapshot");
    assert_eq!(body["description"], "mc-gitops grove 0.1.0");
    h.wait_action(action.id, Duration::from_secs(10)).await.unwrap();
    let ready = h.get_image(image.id).await.unwrap().unwrap();
    assert!(ready.available());
    assert_eq!((ready.image_size, ready.architecture.as_str()), (Some(1.37), "x86"));

    // A server boots it by id on a type of its architecture, not on another.
    let mut boot = ServerSpec::new("grove-booted", image.id.to_string());
    boot.labels = labels(LABELS);
    let booted = h.create_with_fallback(&boot, &[candidate("fsn1", "cpx22")]).await.unwrap();
    assert_eq!(booted.server.image.as_deref(), Some(image.id.to_string().as_str()));
    let mut arm = ServerSpec::new("grove-arm", image.id.to_string());
    arm.labels = labels(LABELS);
    let e = h.create_with_fallback(&arm, &[candidate("fsn1", "cax21")]).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::InvalidInput), "{e}");

    assert!(h.delete_image(image.id).await.unwrap());
    assert!(!h.delete_image(image.id).await.unwrap(), "already gone is not an error");
    assert_eq!(h.get_image(image.id).await.unwrap(), None);
    assert!(fake.snapshots().is_empty());
}

#[tokio::test]
async fn snapshot_errors_are_typed_and_name_the_resource() {
    let (fake, h) = setup().await;
    let e = h
        .create_snapshot(HetznerServerId(4242), "x", &Default::default())
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(404), Some(ErrorCode::NotFound)));
    assert!(e.to_string().contains("snapshot of server 4242"), "{e}");
    fake.fail_next(Method::GET, "/images", 503, 3);
    let e = h.list_snapshots("a=b").await.unwrap_err();
    assert!(matches!(e, HetznerError::Api { .. } | HetznerError::Http { .. }), "{e:?}");
    fake.fail_next(Method::DELETE, "/images/", 403, 1);
    let e = h.delete_image(ImageId(1)).await.unwrap_err();
    assert_eq!(e.status(), Some(403));
}
