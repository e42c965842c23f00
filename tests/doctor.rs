//! `mc-gitops doctor` through the binary, against every fake at once: a
//! setup that works passes every line (and leaves nothing behind), and each
//! wrong setting we can simulate turns exactly its line into ✗ with a fix,
//! and the exit status into 1 when the line is needed.

mod common;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/discord.rs"]
mod discord_fake;
#[path = "fakes/github_dispatch.rs"]
mod github_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "fakes/s3.rs"]
mod s3_fake;

use std::path::Path;

use axum::http::Method;
use serde_json::Value;

use cloudflare_fake::{FakeCloudflare, Permission};
use discord_fake::FakeDiscord;
use github_fake::{FakeGitHub, Grant};
use hetzner_fake::FakeHetzner;
use s3_fake::S3Server;

const REPOSITORY: &str = "grove-friends/grove-state";
const GITHUB_TOKEN: &str = "ghp_fakeAdminToken00000000000000000000";
const NUDGE_TOKEN: &str = "github_pat_fakeNudgeToken_0000000000";
/// What the admin pins after reading the release's .sha256 file.
const PINNED: &str = "3b1f0c9e5d7a2468ace0bdf13579bdf02468ace13579bdf02468ace13579bdf0";

/// Every fake, and a copy of the example repo set up as a new group would:
/// the release pinned, the fake account's id in `[storage]`.
struct Setup {
    h: FakeHetzner,
    cf: FakeCloudflare,
    s3: S3Server,
    discord: FakeDiscord,
    gh: FakeGitHub,
    repo: tempfile::TempDir,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    /// The line of check `id` (with its fix line, if any).
    fn line(&self, id: &str) -> String {
        let mut lines = self.stdout.lines().skip_while(|l| l.split_whitespace().nth(1) != Some(id));
        let first = lines.next().unwrap_or_else(|| panic!("no line for {id}:\n{}", self.stdout));
        let fix = lines.next().filter(|l| l.trim_start().starts_with("fix:")).unwrap_or_default();
        format!("{first}\n{fix}")
    }

    fn mark(&self, id: &str) -> String {
        self.line(id).chars().next().unwrap().to_string()
    }
}

impl Setup {
    async fn new() -> Setup {
        let repo = tempfile::tempdir().unwrap();
        common::copy_dir(&common::example(), repo.path());
        let s = Setup {
            h: FakeHetzner::start().await,
            cf: FakeCloudflare::start().await,
            s3: S3Server::start().await,
            discord: FakeDiscord::start().await,
            gh: FakeGitHub::start().await,
            repo,
        };
        s.edit("server.toml", "5f3c9a1e7b2d4c6e8a0f1b3d5e7c9a2b", cloudflare_fake::ACCOUNT_ID);
        // Every workflow that installs mc-gitops pins it (the example's
        // reconcile, check, check-comment and console).
        let workflows = s.repo.path().join(".github/workflows");
        let mut pinned = 0;
        for entry in std::fs::read_dir(&workflows).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let text = std::fs::read_to_string(workflows.join(&name)).unwrap();
            if text.contains(&"0".repeat(64)) {
                s.edit(&format!(".github/workflows/{name}"), &"0".repeat(64), PINNED);
                pinned += 1;
            }
        }
        assert!(pinned >= 3, "the example's workflows pin the release: {pinned} found");
        s
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let p = self.repo.path().join(rel);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{rel} has no {from:?}");
        std::fs::write(&p, text.replace(from, to)).unwrap();
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("HCLOUD_TOKEN", hetzner_fake::TOKEN.to_string()),
            ("HCLOUD_ENDPOINT", self.h.base_url()),
            ("CLOUDFLARE_API_TOKEN", cloudflare_fake::TOKEN.to_string()),
            ("CLOUDFLARE_API_BASE_URL", self.cf.base_url()),
            ("DISCORD_WEBHOOK_URL", self.discord.url()),
            ("GITHUB_TOKEN", GITHUB_TOKEN.to_string()),
            ("GITHUB_REPOSITORY", REPOSITORY.to_string()),
            ("GITHUB_API_URL", self.gh.url.clone()),
            ("MC_GITOPS_NUDGE_TOKEN", NUDGE_TOKEN.to_string()),
        ];
        env.extend(self.s3.env());
        env
    }

    /// `doctor` with the setup's environment, `changes` applied on top
    /// (`None` unsets a variable).
    fn run(&self, args: &[&str], changes: &[(&str, Option<&str>)]) -> Out {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
        c.arg("doctor").arg("--repo").arg(self.repo.path()).args(args);
        for var in [
            "GITHUB_ACTIONS",
            "GITHUB_STEP_SUMMARY",
            "R2_SESSION_TOKEN",
            "MC_GITOPS_STORAGE_DIR",
            "MOJANG_API_BASE_URL",
        ] {
            c.env_remove(var);
        }
        c.env("MC_GITOPS_LOG", "debug");
        for (k, v) in self.env() {
            c.env(k, v);
        }
        for (k, v) in changes {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        let out = tokio::task::block_in_place(|| c.output().unwrap());
        let out = Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        for secret in [
            hetzner_fake::TOKEN,
            cloudflare_fake::TOKEN,
            s3_fake::SECRET_KEY,
            discord_fake::WEBHOOK_TOKEN,
            GITHUB_TOKEN,
            NUDGE_TOKEN,
        ] {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "a secret was printed:\n{}\n{}",
                out.stdout,
                out.stderr
            );
        }
        // Minted credentials are never printed either.
        for issued in self.cf.issued_credentials() {
            for field in ["secretAccessKey", "sessionToken"] {
                let v = issued[field].as_str().unwrap_or("never-empty");
                assert!(!out.stdout.contains(v) && !out.stderr.contains(v), "minted {field} printed");
            }
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_setup_passes_every_line_and_leaves_nothing_behind() {
    let s = Setup::new().await;
    let out = s.run(&[], &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // Probe ids are random: filtered.
    insta::with_settings!({ filters => vec![(r"doctor/[0-9a-f]{12}", "doctor/[id]")] }, {
        insta::assert_snapshot!(out.stdout);
    });
    // At Hetzner, reads and the probe firewall, created and deleted; nothing ordered.
    let writes: Vec<String> =
        s.h.calls()
            .into_iter()
            .filter(|(m, _)| *m != Method::GET)
            .map(|(m, p)| format!("{m} {}", p.split('/').nth(1).unwrap_or_default()))
            .collect();
    assert_eq!(writes, ["POST firewalls", "DELETE firewalls"]);
    assert!(s.h.firewall_count() == 0 && s.h.server_count() == 0);
    assert_eq!(s.h.count_route(Method::GET, "/datacenters"), 1);
    // The DNS probe is gone, and nothing else was written to the zone.
    assert!(s.cf.records().is_empty(), "{:?}", s.cf.records());
    assert_eq!(s.cf.count(Some(Method::POST)), 2, "{:?}", s.cf.calls()); // the probe, the mint
    let minted = s.cf.issued_credentials();
    assert_eq!(minted.len(), 1);
    // The R2 probe is gone; no other object was written.
    let left: Vec<_> = walk(&s.s3.root.path().join(s3_fake::BUCKET));
    assert!(left.is_empty(), "{left:?}");
    // Nothing posted to Discord, nothing dispatched at GitHub.
    assert!(s.discord.posts().is_empty());
    assert_eq!(s.discord.gets(), 1);
    assert!(s.gh.calls().is_empty(), "dispatched: {:?}", s.gh.calls());
    assert_eq!(s.gh.reads().len(), 3, "{:?}", s.gh.reads()); // the repo, the workflow with each token
}

/// Every file under `dir` (s3s-fs keeps objects as files).
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_write_makes_no_probe_and_says_what_is_unproven() {
    let s = Setup::new().await;
    let out = s.run(&["--no-write"], &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    for id in ["hetzner.token", "cloudflare.dns", "r2.write"] {
        let line = out.line(id);
        assert!(line.starts_with("!") && line.contains("not proven (--no-write)"), "{line}");
    }
    assert!(s.h.calls().iter().all(|(m, _)| *m == Method::GET), "{:?}", s.h.calls());
    assert!(
        s.cf.calls()
            .iter()
            .all(|(m, p)| *m == Method::GET || p.ends_with("/temp-access-credentials")),
        "only the mint writes: {:?}",
        s.cf.calls()
    );
    assert!(walk(&s.s3.root.path().join(s3_fake::BUCKET)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_report_has_one_entry_per_line_and_the_verdict() {
    let s = Setup::new().await;
    let out = s.run(&["--json"], &[("DISCORD_WEBHOOK_URL", None)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["ok"], true);
    let ids: Vec<&str> = v["checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "repo.check",
            "release.pin",
            "hetzner.token",
            "region.eu",
            "region.us",
            "cloudflare.token",
            "cloudflare.zone",
            "cloudflare.dns",
            "r2.key",
            "r2.write",
            "r2.mint",
            "discord",
            "github.push",
            "github.nudge"
        ]
    );
    let discord = &v["checks"][11];
    assert_eq!(
        (discord["status"].as_str(), discord["needed"].as_bool()),
        (Some("fail"), Some(false))
    );
    assert!(discord["fix"].as_str().unwrap().contains("DISCORD_WEBHOOK_URL"));
}

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
