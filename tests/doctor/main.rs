//! `mc-gitops doctor` through the binary, against every fake at once: a
//! setup that works passes every line (and leaves nothing behind), and each
//! wrong setting we can simulate turns exactly its line into ✗ with a fix,
//! and the exit status into 1 when the line is needed.

#[path = "../common/mod.rs"]
mod common;

#[path = "../fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "../fakes/discord.rs"]
mod discord_fake;
mod failures;
#[path = "../fakes/github_dispatch.rs"]
mod github_fake;
#[path = "../fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "../fakes/s3.rs"]
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
