//! `ensure_firewall` runs on every reconcile, so its call counts are the
//! point: one GET when all is well, and only the writes that are needed.

use mc_gitops::hetzner::{FirewallId, FirewallRule};
use reqwest::Method;
use serde_json::json;

use super::{LABELS, labels, paths, setup};

const FW: &str = "mc-gitops-grove";
const APPLY: &str = "mc-gitops/server=grove";
const FW_LABELS: &[(&str, &str)] = &[("managed-by", "mc-gitops"), ("mc-gitops/server", "grove")];
const LIST: &str = "GET /firewalls?label_selector=managed-by%3Dmc-gitops%2Cmc-gitops%2Fserver%3Dgrove&page=1&per_page=50";

fn ssh_from() -> Vec<String> {
    vec!["198.51.100.7/32".into(), "2001:DB8:0:0::/48".into()]
}

#[tokio::test]
async fn a_missing_firewall_is_created_with_the_minecraft_rules() {
    let (fake, h) = setup().await;

    let id = h
        .ensure_firewall(FW, &labels(FW_LABELS), &FirewallRule::minecraft(&ssh_from()), APPLY)
        .await
        .unwrap();

    assert_eq!(paths(&fake), [LIST, "POST /firewalls"]);
    let body = &fake.bodies(Method::POST, "/firewalls")[0];
    assert_eq!(body["name"], FW);
    assert_eq!(body["labels"], json!({ "managed-by": "mc-gitops", "mc-gitops/server": "grove" }));
    assert_eq!(
        body["rules"],
        json!([
            { "direction": "in", "protocol": "tcp", "port": "25565", "source_ips": ["0.0.0.0/0", "::/0"], "description": "minecraft" },
            { "direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["198.51.100.7/32", "2001:DB8:0:0::/48"], "description": "ssh" },
        ])
    );
    assert_eq!(
        body["apply_to"],
        json!([{ "type": "label_selector", "label_selector": { "selector": APPLY } }])
    );
    assert!(fake.firewall(id.0).is_some());
}

#[tokio::test]
async fn no_ssh_sources_means_no_port_22() {
    let (fake, h) = setup().await;
    h.ensure_firewall(FW, &labels(FW_LABELS), &FirewallRule::minecraft(&[]), APPLY)
        .await
        .unwrap();
    let rules = &fake.bodies(Method::POST, "/firewalls")[0]["rules"];
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(rules[0]["port"], "25565");
}

#[tokio::test]
async fn an_existing_correct_firewall_costs_one_get() {
    let (fake, h) = setup().await;
    let rules = FirewallRule::minecraft(&ssh_from());
    let first = h.ensure_firewall(FW, &labels(FW_LABELS), &rules, APPLY).await.unwrap();
    fake.clear_calls();

    // The API stored `2001:DB8:0:0::/48` as `2001:db8::/48`; that is no change.
    let again = h.ensure_firewall(FW, &labels(FW_LABELS), &rules, APPLY).await.unwrap();

    assert_eq!(again, first);
    assert_eq!(paths(&fake), [LIST]);
}

#[tokio::test]
async fn rules_that_differ_are_set_once() {
    let (fake, h) = setup().await;
    let wide_open = json!([{ "direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["0.0.0.0/0"] }]);
    let id = fake.seed_firewall(FW, FW_LABELS, wide_open, Some(APPLY));

    let got = h
        .ensure_firewall(FW, &labels(FW_LABELS), &FirewallRule::minecraft(&[]), APPLY)
        .await
        .unwrap();

    assert_eq!(got, FirewallId(id));
    assert_eq!(paths(&fake), [LIST.to_string(), format!("POST /firewalls/{id}/actions/set_rules")]);
    let stored = fake.firewall(id).unwrap();
    assert_eq!(stored["rules"].as_array().unwrap().len(), 1);
    assert_eq!(stored["rules"][0]["port"], "25565");
}

#[tokio::test]
async fn a_missing_selector_is_applied() {
    let (fake, h) = setup().await;
    let rules = FirewallRule::minecraft(&[]);
    let id = fake.seed_firewall(FW, FW_LABELS, serde_json::to_value(&rules).unwrap(), None);
    fake.seed_server("grove-20261122-1930-eu", LABELS, "fsn1", "cx33");

    h.ensure_firewall(FW, &labels(FW_LABELS), &rules, APPLY).await.unwrap();

    assert_eq!(
        paths(&fake),
        [LIST.to_string(), format!("POST /firewalls/{id}/actions/apply_to_resources")]
    );
    let applied = &fake.firewall(id).unwrap()["applied_to"];
    assert_eq!(applied[0]["label_selector"]["selector"], APPLY);
}

#[tokio::test]
async fn an_unlabelled_firewall_of_that_name_is_taken_over() {
    let (fake, h) = setup().await;
    let rules = FirewallRule::minecraft(&[]);
    let id = fake.seed_firewall(FW, &[("made-by", "hand")], serde_json::to_value(&rules).unwrap(), Some(APPLY));

    let got = h.ensure_firewall(FW, &labels(FW_LABELS), &rules, APPLY).await.unwrap();

    assert_eq!(got, FirewallId(id));
    assert_eq!(
        paths(&fake),
        [
            LIST.to_string(),
            "POST /firewalls".into(),
            format!("GET /firewalls?name={FW}"),
            format!("PUT /firewalls/{id}"),
        ]
    );
    assert_eq!(fake.firewall(id).unwrap()["labels"]["made-by"], "hand", "the admin's labels stay");
    fake.clear_calls();
    h.ensure_firewall(FW, &labels(FW_LABELS), &rules, APPLY).await.unwrap();
    assert_eq!(paths(&fake), [LIST], "found by its labels from now on");
}

#[tokio::test]
async fn the_write_probe_creates_an_empty_firewall_and_deletes_it() {
    let (fake, h) = setup().await;
    h.probe_write("mc-gitops-doctor-0123456789ab").await.unwrap();
    assert_eq!(paths(&fake)[0], "POST /firewalls");
    assert!(paths(&fake)[1].starts_with("DELETE /firewalls/"), "{:?}", paths(&fake));
    assert_eq!(paths(&fake).len(), 2);
    assert_eq!(fake.firewall_count(), 0, "the probe is gone");
    let body = &fake.bodies(Method::POST, "/firewalls")[0];
    assert_eq!(
        body,
        &json!({ "name": "mc-gitops-doctor-0123456789ab", "labels": { "managed-by": "mc-gitops-doctor" } })
    );
}

#[tokio::test]
async fn a_read_only_token_fails_the_write_probe_with_403_forbidden() {
    let (fake, _) = setup().await;
    let h = mc_gitops::hetzner::Hetzner::new(
        &fake.base_url(),
        mc_gitops::secret::Secret::new(super::hetzner_fake::READ_ONLY_TOKEN),
        super::policy(),
    )
    .unwrap();
    assert!(h.server_types().await.is_ok(), "a read-only token reads");
    let err = h.probe_write("mc-gitops-doctor-0123456789ab").await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert_eq!(fake.firewall_count(), 0);
}

#[tokio::test]
async fn availability_reads_what_each_data_centre_sells_now() {
    let (fake, h) = setup().await;
    fake.sold_out("nbg1");
    fake.retire("cx33");
    let all = h.availability().await.unwrap();
    assert_eq!(all.len(), 5, "one data centre per location");
    let at = |l: &str| all.iter().find(|a| a.location.as_str() == l).unwrap();
    let cx33 = 115;
    assert!(
        at("fsn1").supported.contains(&cx33) && !at("fsn1").available.contains(&cx33),
        "retired"
    );
    assert!(at("fsn1").available.contains(&109), "cpx32 is on sale in fsn1");
    assert!(at("nbg1").available.is_empty() && !at("nbg1").supported.is_empty(), "sold out");
    assert_eq!(at("fsn1").datacenter, "fsn1-dc14");
}
