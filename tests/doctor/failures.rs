//! Doctor's failing lines: each bad token, key, zone, region, webhook or release
//! hash fails its own line with the provider's answer and what to do; in
//! Actions the report goes to the step summary, escaped.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_hetzner_token_fails_with_hetzners_answer() {
    let s = Setup::new().await;
    let out = s.run(&[], &[("HCLOUD_TOKEN", Some("not-the-token"))]);
    assert_eq!(out.code, 1);
    let line = out.line("hetzner.token");
    assert!(line.starts_with("✗") && line.contains("unable to authenticate"), "{line}");
    assert!(line.contains("fix: create a Read & Write API token"), "{line}");
    assert_eq!(out.mark("regions"), "–");
    assert!(out.stderr.contains("1 needed check(s) failed"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_hetzner_token_fails_at_the_write_probe() {
    let s = Setup::new().await;
    let out = s.run(&[], &[("HCLOUD_TOKEN", Some(hetzner_fake::READ_ONLY_TOKEN))]);
    assert_eq!(out.code, 1);
    let line = out.line("hetzner.token");
    assert!(
        line.starts_with("✗") && line.contains("HCLOUD_TOKEN is read-only") && line.contains("403"),
        "{line}"
    );
    assert!(line.contains("fix: create a Read & Write API token"), "{line}");
    // The regions are still read with it.
    assert_eq!(out.mark("region.eu"), "✓", "{}", out.stdout);
    assert_eq!(s.h.count_route(Method::POST, "/firewalls"), 1);
    assert_eq!(s.h.count_route(Method::POST, "/servers"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tokens_at_all_say_which_secret_to_create() {
    let s = Setup::new().await;
    let unset: Vec<(&str, Option<&str>)> = s.env().iter().map(|(k, _)| (*k, None)).collect();
    let out = s.run(&[], &unset);
    assert_eq!(out.code, 1);
    for (id, var) in [
        ("hetzner.token", "HCLOUD_TOKEN"),
        ("cloudflare.token", "CLOUDFLARE_API_TOKEN"),
        ("r2.key", "R2_ACCESS_KEY_ID"),
    ] {
        let line = out.line(id);
        assert!(line.starts_with("✗") && line.contains(&format!("{var} ")), "{line}");
    }
    assert_eq!(out.mark("github.push"), "–");
    assert!(out.line("discord").contains("(optional)"), "{}", out.line("discord"));
    insta::assert_snapshot!(out.stdout);
    assert!(s.h.calls().is_empty() && s.cf.calls().is_empty());
    let json = s.run(&["--json"], &unset);
    assert_eq!(json.code, 1);
    insta::assert_json_snapshot!(serde_json::from_str::<Value>(&json.stdout).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudflare_token_without_dns_edit_fails_the_dns_line_only() {
    let s = Setup::new().await;
    s.cf.deny(Permission::DnsEdit);
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 1);
    let line = out.line("cloudflare.dns");
    assert!(line.starts_with("✗") && line.contains("can read DNS but not edit it"), "{line}");
    assert!(line.contains("fix: give the token Zone → DNS → Edit on grove.place"), "{line}");
    assert_eq!(out.mark("cloudflare.zone"), "✓");
    assert_eq!(out.mark("r2.mint"), "✓");
    assert!(s.cf.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_the_token_cannot_see_is_not_found() {
    let s = Setup::new().await;
    s.cf.hide_zone(cloudflare_fake::ZONE);
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 1);
    let line = out.line("cloudflare.zone");
    assert!(line.starts_with("✗") && line.contains("zone grove.place not found"), "{line}");
    assert!(line.contains("Zone → Zone → Read"), "{line}");
    assert_eq!(out.mark("cloudflare.dns"), "–");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_cloudflare_token_fails() {
    let s = Setup::new().await;
    s.cf.set_token_status("expired");
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 1);
    assert!(
        out.line("cloudflare.token").contains("CLOUDFLARE_API_TOKEN is expired"),
        "{}",
        out.stdout
    );
    assert_eq!(out.mark("cloudflare.zone"), "–");
    assert_eq!(out.mark("r2.mint"), "–");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_r2_key_that_can_read_but_not_write_fails_the_write_probe() {
    let s = Setup::new().await;
    s.s3.allow_read_only("AKREADONLY0000001", "read-only-secret-never-printed");
    let out = s.run(
        &[],
        &[
            ("R2_ACCESS_KEY_ID", Some("AKREADONLY0000001")),
            ("R2_SECRET_ACCESS_KEY", Some("read-only-secret-never-printed")),
        ],
    );
    assert_eq!(out.code, 1);
    assert!(!out.stdout.contains("read-only-secret-never-printed"));
    assert_eq!(out.mark("r2.key"), "✓", "{}", out.stdout);
    let line = out.line("r2.write");
    assert!(
        line.starts_with("✗") && line.contains("can read but not write: AccessDenied: PutObject needs a key with write permission"),
        "{line}"
    );
    assert!(line.contains("Object Read & Write"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_r2_key_cannot_list_the_bucket() {
    let s = Setup::new().await;
    let out = s.run(&[], &[("R2_ACCESS_KEY_ID", Some("AKUNKNOWN00000001"))]);
    assert_eq!(out.code, 1);
    let line = out.line("r2.key");
    assert!(
        line.starts_with("✗") && line.contains("cannot list bucket grove-worlds: InvalidAccessKeyId: The access key does not exist"),
        "{line}"
    );
    assert!(
        line.contains("fix: R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY are not a key pair of this account"),
        "{line}"
    );
    assert_eq!(line.matches("InvalidAccessKeyId").count(), 1, "said once: {line}");
    assert_eq!(out.mark("r2.write"), "–");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_cannot_mint_r2_credentials_fails_the_mint_line() {
    let s = Setup::new().await;
    s.cf.deny(Permission::R2Edit);
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 1);
    let line = out.line("r2.mint");
    assert!(
        line.starts_with("✗") && line.contains("cannot mint temporary R2 credentials"),
        "{line}"
    );
    assert!(s.cf.issued_credentials().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_whose_types_are_all_retired_cannot_order() {
    let s = Setup::new().await;
    for t in ["cx33", "cpx32"] {
        s.h.retire(t);
    }
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 1);
    for key in ["eu", "us"] {
        let line = out.line(&format!("region.{key}"));
        assert!(line.starts_with("✗") && line.contains("nothing can be ordered"), "{line}");
        assert!(line.contains("deprecated"), "{line}");
        assert!(line.contains(&format!("[regions.{key}]")), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sold_out_locations_are_passed_over_then_fail_the_region() {
    let s = Setup::new().await;
    s.h.sold_out("fsn1");
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let line = out.line("region.eu");
    assert!(line.starts_with("!") && line.contains("cx33 can be ordered in nbg1"), "{line}");
    assert!(line.contains("cx33 in fsn1: sold out"), "{line}");

    for l in ["nbg1", "hel1"] {
        s.h.sold_out(l);
    }
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 1);
    let line = out.line("region.eu");
    assert!(line.starts_with("✗") && line.contains("cpx32 in hel1: sold out"), "{line}");
    assert_eq!(out.mark("region.us"), "✓");
    assert!(
        out.line("region.us").contains("cpx32 can be ordered in ash at 0.0228 EUR/h gross"),
        "{}",
        out.line("region.us")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_discord_webhook_fails_an_optional_line() {
    let s = Setup::new().await;
    s.discord.delete_webhook();
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 0, "optional: {}", out.stdout);
    let line = out.line("discord");
    assert!(
        line.starts_with("✗") && line.contains("404 Unknown Webhook") && line.contains("(optional)"),
        "{line}"
    );
    assert!(out.stdout.contains("(1 optional check(s) failed)"), "{}", out.stdout);
    assert!(s.discord.posts().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_token_without_push_fails() {
    let s = Setup::new().await;
    s.gh.grant(
        GITHUB_TOKEN,
        Grant {
            push: Some(false),
            actions: true,
        },
    );
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 1);
    let line = out.line("github.push");
    assert!(
        line.starts_with("✗") && line.contains("can read grove-friends/grove-state but not push"),
        "{line}"
    );
    assert!(line.contains("Contents: Read and write"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actions_job_token_and_a_nudge_token_without_actions_access() {
    let s = Setup::new().await;
    s.gh.grant(GITHUB_TOKEN, Grant { push: None, actions: true });
    s.gh.grant(
        NUDGE_TOKEN,
        Grant {
            push: Some(false),
            actions: false,
        },
    );
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.mark("github.push"), "!", "{}", out.stdout);
    assert!(
        out.line("github.push").contains("does not report its push permission"),
        "{}",
        out.stdout
    );
    let line = out.line("github.nudge");
    assert!(
        line.starts_with("✗") && line.contains("(optional)") && line.contains("403"),
        "{line}"
    );
    assert!(line.contains("Actions: Read and write"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_all_zero_release_hash_fails() {
    let s = Setup::new().await;
    s.edit(".github/workflows/reconcile.yml", PINNED, &"0".repeat(64));
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 1);
    let line = out.line("release.pin");
    assert!(
        line.starts_with("✗") && line.contains("reconcile.yml pins the all-zero placeholder"),
        "{line}"
    );
    assert!(!line.contains("check.yml pins"), "only reconcile.yml is wrong: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repo_that_fails_check_stops_before_the_cloud() {
    let s = Setup::new().await;
    s.edit("server.toml", "region = \"eu\"", "region = \"eu\"\nflavour = \"vanilla\"");
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 1);
    let line = out.line("repo.check");
    assert!(line.starts_with("✗") && line.contains("server.toml:"), "{line}");
    assert!(line.contains("fix: run `mc-gitops check --repo"), "{line}");
    assert_eq!(out.mark("cloud"), "–");
    assert!(s.h.calls().is_empty() && s.cf.calls().is_empty(), "nothing outside is asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_actions_the_report_goes_to_the_step_summary_escaped() {
    let s = Setup::new().await;
    s.discord.delete_webhook();
    let summary = s.repo.path().join("summary.md");
    let out = s.run(&[], &[("GITHUB_STEP_SUMMARY", Some(summary.to_str().unwrap()))]);
    assert_eq!(out.code, 0);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("## 🩺 mc-gitops doctor\n"), "{md}");
    assert!(
        md.contains("- ✗ `discord` the Discord webhook was deleted (404 Unknown Webhook) *(optional)*"),
        "{md}"
    );
    assert!(
        md.contains("**doctor: everything a first run needs works (1 optional check(s) failed)**"),
        "{md}"
    );
}
