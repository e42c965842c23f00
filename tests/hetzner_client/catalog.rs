//! What Hetzner offers, read through the client: server types with their
//! deprecation and locations, prices (net, gross, currency, IPv4), locations
//! and SSH keys by name.

use super::*;

#[tokio::test]
async fn server_types_carry_deprecation_and_locations() {
    let (fake, h) = setup().await;
    let types = h.server_types().await.unwrap();
    let by = |n: &str| types.iter().find(|t| t.name.as_str() == n).unwrap();

    for retired in ["cx22", "cpx31"] {
        let t = by(retired);
        assert!(t.deprecated && t.deprecation.is_some(), "{retired}");
        assert!(t.locations.iter().all(|l| l.deprecation.is_some()), "{retired}");
    }
    let cx33 = by("cx33");
    assert!(!cx33.deprecated);
    assert_eq!(
        cx33.locations.iter().map(|l| l.location.as_str()).collect::<Vec<_>>(),
        ["fsn1", "nbg1", "hel1"]
    );
    assert_eq!((cx33.cores, cx33.memory_gb, cx33.architecture.as_str()), (4, 8.0, "x86"));
    assert!(by("cpx32").offered_in(&Location::new("ash")).is_some());
    assert_eq!(by("cax21").architecture, "arm");
    assert_eq!(paths(&fake), ["GET /server_types?page=1&per_page=50"]);

    fake.retire("cx33");
    let again = h.server_types().await.unwrap();
    assert!(again.iter().find(|t| t.name.as_str() == "cx33").unwrap().deprecated);
}

#[tokio::test]
async fn pricing_reads_net_gross_currency_and_ipv4() {
    let (fake, h) = setup().await;
    let p = h.pricing().await.unwrap();

    assert_eq!((p.currency.as_str(), p.vat_rate), ("EUR", dec!(19)));
    let cx33 = p.server(&ServerType::new("cx33"), &Location::new("fsn1")).unwrap();
    assert_eq!(
        (cx33.hourly_net, cx33.hourly_gross, cx33.monthly_net, cx33.monthly_gross),
        (dec!(0.008), dec!(0.00952), dec!(4.99), dec!(5.9381))
    );
    let us = p.server(&ServerType::new("cpx32"), &Location::new("ash")).unwrap();
    assert_eq!(us.monthly_net, dec!(11.99));
    assert!(
        p.server(&ServerType::new("cx33"), &Location::new("ash")).is_none(),
        "cx33 is not sold in the US"
    );
    assert_eq!(p.ipv4(&Location::new("hil")).unwrap().monthly_net, dec!(0.5));
    assert_eq!(paths(&fake), ["GET /pricing"]);
}

#[tokio::test]
async fn locations_are_listed() {
    let (fake, h) = setup().await;
    let locations = h.locations().await.unwrap();
    let names: Vec<_> = locations.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["fsn1", "nbg1", "hel1", "ash", "hil"]);
    assert_eq!(locations[3].network_zone, "us-east");
    assert_eq!(paths(&fake), ["GET /locations?page=1&per_page=50"]);
}

#[tokio::test]
async fn ssh_key_by_name_found_and_missing() {
    let (fake, h) = setup().await;
    let id = fake.seed_ssh_key("admin");

    let key = h.ssh_key_by_name("admin").await.unwrap().unwrap();
    assert_eq!((key.id.0, key.name.as_str()), (id, "admin"));
    assert!(key.public_key.starts_with("ssh-ed25519 "));
    assert!(h.ssh_key_by_name("nobody").await.unwrap().is_none());
    assert_eq!(paths(&fake), ["GET /ssh_keys?name=admin", "GET /ssh_keys?name=nobody"]);
}
