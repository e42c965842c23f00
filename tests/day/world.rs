//! Everything outside the user's repo for one day: the stateful fakes
//! (Hetzner, Cloudflare, an in-process S3 standing in for R2, Discord, the
//! GitHub dispatch endpoint, Modrinth for the admin's `mods update`,
//! Mojang's session server for the players' online-mode logins), the
//! bare git remote that is "the repository on GitHub", the admin's own clone
//! made with `mc-gitops init`, and the VPS stand-in watching the fake
//! Hetzner. The secrets the workflow reads are the fakes' tokens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::cloudflare_fake::{self, FakeCloudflare};
use crate::discord_fake::{self, FakeDiscord};
use crate::github_dispatch_fake::FakeGitHub;
use crate::hetzner_fake::{self, FakeHetzner};
use crate::modrinth_fake::{self, FakeModrinth};
use crate::s3_fake::{self, S3Server};
use crate::session_fake::FakeSessionServer;
use crate::vps::{Settings, Vps};

/// The token the admin makes for the nudge (fine-grained, Actions: write).
pub(crate) const NUDGE_TOKEN: &str = "github_pat_fake-nudge-Actions-write-7Hq2";
/// The token GitHub gives each run (`secrets.GITHUB_TOKEN`).
pub(crate) const RUN_TOKEN: &str = "ghs_fake-run-token-contents-write-Zp4";
pub(crate) const REPOSITORY: &str = "grove-friends/grove-state";
pub(crate) const ADMIN: &str = "grove-admin";
/// The admin's Minecraft name (given to `init`), then the friend who joins by pull request.
pub(crate) const PLAYERS: [&str; 2] = ["Steve", "Alex"];

pub(crate) struct Day {
    pub started: Instant,
    pub h: FakeHetzner,
    pub cf: Arc<FakeCloudflare>,
    pub s3: Arc<S3Server>,
    pub discord: FakeDiscord,
    pub gh: FakeGitHub,
    pub modrinth: FakeModrinth,
    pub session: FakeSessionServer,
    pub tmp: tempfile::TempDir,
    /// The repository on "GitHub": a bare repo.
    pub remote: PathBuf,
    /// The admin's clone.
    pub admin: PathBuf,
    pub game_port: u16,
    pub vps: Vps,
    /// What happened when, for the failure message and the timing report.
    pub timeline: Mutex<Vec<String>>,
    /// Every reconcile run so far, in order.
    pub runs: Mutex<Vec<crate::github::RunRecord>>,
    /// How many of the dispatch fake's calls became runs.
    pub nudges_taken: Mutex<usize>,
    /// The workflow's concurrency group: one run at a time.
    pub run_lock: Mutex<()>,
}

pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mc-gitops"))
}

/// The mods the repo `init` makes asks for, as the Modrinth fake serves them.
fn modrinth_projects() -> Vec<modrinth_fake::FakeProject> {
    use modrinth_fake::{project, version};
    vec![
        project("fabric-api", "P7dR8mSH").version(version("tFw0iWAk", "0.92.2+1.20.1", 3)),
        project("lithium", "gvQqBUqZ").version(version("ZSNsJrPI", "mc1.20.1-0.11.2", 4)),
        project("ferrite-core", "uXXizFIs").version(version("unerR5MN", "6.0.1", 5)),
        project("sodium", "AANobbMI")
            .client_only()
            .version(version("OihdIimA", "mc1.20.1-0.5.3", 6)),
    ]
}

impl Day {
    /// The fakes, and the admin's repo made with `mc-gitops init` and
    /// pushed, with `edit` applied to server.toml before the first commit.
    pub(crate) async fn new(edit: impl FnOnce(&str) -> String) -> Day {
        let tmp = tempfile::tempdir().unwrap();
        let h = FakeHetzner::start().await;
        let cf = Arc::new(FakeCloudflare::start().await);
        let s3 = Arc::new(S3Server::start().await);
        let discord = FakeDiscord::start().await;
        let gh = FakeGitHub::start().await;
        // A run's own token: GitHub reports no permissions for it.
        gh.grant(
            RUN_TOKEN,
            crate::github_dispatch_fake::Grant {
                push: None,
                actions: false,
            },
        );
        let modrinth = FakeModrinth::start(modrinth_projects()).await;
        let session = FakeSessionServer::start().await;
        let remote = tmp.path().join("grove-state.git");
        let admin = tmp.path().join("admin");
        git(
            tmp.path(),
            &["init", "--quiet", "--bare", "--initial-branch=main", "grove-state.git"],
        );
        let game_port = crate::common::free_port();
        let vps = Vps::watch(
            h.clone(),
            cf.clone(),
            s3.clone(),
            Settings {
                bin: bin(),
                root: tmp.path().join("vps"),
                game_port,
                github_api: gh.url.clone(),
                squid: crate::common::peers().join("squid_server.js"),
                session_server: session.url(),
                downloads: Default::default(),
            },
        );
        let day = Day {
            started: Instant::now(),
            h,
            cf,
            s3,
            discord,
            gh,
            modrinth,
            session,
            tmp,
            remote,
            admin,
            game_port,
            vps,
            timeline: Default::default(),
            runs: Default::default(),
            nudges_taken: Default::default(),
            run_lock: Default::default(),
        };
        day.admin_sets_up(edit).await;
        day
    }

    pub(crate) fn note(&self, what: impl std::fmt::Display) {
        let line = format!("{:>6.1}s {what}", self.started.elapsed().as_secs_f64());
        eprintln!("day: {line}");
        self.timeline.lock().unwrap().push(line);
    }

    /// `mc-gitops init` with the admin's answers, a friend's player file
    /// merged, `check --fix` recording both uuids from (the fake of)
    /// Mojang, the admin's edits, `mods update` against the Modrinth fake,
    /// commit and push: what a new user does before the first press of Start.
    async fn admin_sets_up(&self, edit: impl FnOnce(&str) -> String) {
        let out = Command::new(bin())
            .args(["init"])
            .arg(&self.admin)
            .args(["--name", "grove", "--zone", cloudflare_fake::ZONE, "--region", "eu"])
            .args(["--player", PLAYERS[0], "--github", ADMIN, "--repository", REPOSITORY])
            .args(["--bucket", s3_fake::BUCKET, "--account-id", cloudflare_fake::ACCOUNT_ID])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "init: {}", String::from_utf8_lossy(&out.stderr));
        // Alex's pull request, merged: the one line a friend writes.
        std::fs::write(
            self.admin.join(format!("players/{}.toml", PLAYERS[1])),
            format!("name = \"{}\"\nadded_by = \"alex-builds\"\n", PLAYERS[1]),
        )
        .unwrap();
        for name in PLAYERS {
            self.session.account(name);
        }
        let out = Command::new(bin())
            .args(["check", "--fix", "--repo"])
            .arg(&self.admin)
            .env("MOJANG_API_BASE_URL", self.session.url())
            .output()
            .unwrap();
        assert!(out.status.success(), "check --fix: {}", text_of(&out));
        let p = self.admin.join("server.toml");
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, edit(&text)).unwrap();
        self.pin_release();
        let ep = self.modrinth.endpoints();
        let admin = self.admin.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(bin())
                .args(["mods", "--repo"])
                .arg(&admin)
                .arg("update")
                .env("MODRINTH_API_BASE_URL", ep.modrinth)
                .env("FABRIC_META_BASE_URL", ep.fabric_meta)
                .env("MOJANG_META_BASE_URL", ep.mojang_meta)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "mods update: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.fill_download_cache().await;
        let out = self.mc(&["check", "--repo", &self.admin.display().to_string()]);
        assert!(out.status.success(), "check of the admin's repo: {}", text_of(&out));
        git(&self.admin, &["init", "--quiet", "--initial-branch=main"]);
        git(&self.admin, &["add", "-A"]);
        self.admin_commit("the server, as mc-gitops init made it, tuned");
        git(&self.admin, &["remote", "add", "origin", &self.remote.display().to_string()]);
        git(&self.admin, &["push", "--quiet", "origin", "main"]);
    }

    /// The admin copies the release's sha256 into every workflow (init
    /// leaves the all-zero placeholder, which doctor refuses); the binary
    /// under test is the release here.
    fn pin_release(&self) {
        let hash = mc_gitops::assets::sha256_hex(&std::fs::read(bin()).unwrap());
        let dir = self.admin.join(".github/workflows");
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(&p, text.replace(&"0".repeat(64), &hash)).unwrap();
        }
    }

    /// The jars mods.lock pins, fetched from the Modrinth fake, handed to
    /// the VPS stand-in (which cannot reach the public CDN the lock names).
    async fn fill_download_cache(&self) {
        let lock = mc_gitops::repo::load(&self.admin)
            .unwrap_or_else(|e| panic!("the admin's repo: {e:?}"))
            .desired
            .lock;
        let mut want = vec![];
        if let Some(s) = &lock.server {
            want.push((mc_gitops::assets::SERVER_JAR.to_string(), s.url.clone()));
        }
        for m in lock.mods.iter().filter(|m| m.side.on_server()) {
            want.push((format!("mods/{}", m.file), m.url.clone()));
        }
        let client = reqwest::Client::new();
        let mut cache = BTreeMap::new();
        for (rel, url) in want {
            let local = self.modrinth.local_url(&url);
            let local = local.replacen("https://meta.fabricmc.net", &self.modrinth.base, 1).replacen(
                "https://piston-data.mojang.com",
                &self.modrinth.base,
                1,
            );
            let resp = client.get(&local).send().await.unwrap();
            assert!(resp.status().is_success(), "{local}: {}", resp.status());
            cache.insert(rel, resp.bytes().await.unwrap().to_vec());
        }
        self.vps.set_downloads(cache);
    }

    pub(crate) fn admin_commit(&self, message: &str) {
        git(
            &self.admin,
            &[
                "-c",
                &format!("user.name={ADMIN}"),
                "-c",
                "user.email=admin@example.invalid",
                "commit",
                "--quiet",
                "-m",
                message,
            ],
        );
    }

    /// The admin edits server.toml, commits and pushes.
    pub(crate) fn admin_edits(&self, message: &str, edit: impl FnOnce(&str) -> String) {
        git(&self.admin, &["pull", "--quiet", "--rebase", "origin", "main"]);
        let p = self.admin.join("server.toml");
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, edit(&text)).unwrap();
        git(&self.admin, &["add", "server.toml"]);
        self.admin_commit(message);
        git(&self.admin, &["push", "--quiet", "origin", "main"]);
    }

    /// Run the binary under test directly (the admin's own commands).
    pub(crate) fn mc(&self, args: &[&str]) -> Output {
        Command::new(bin()).args(args).output().unwrap()
    }

    /// The secrets the admin stored in the repository's settings.
    pub(crate) fn secrets(&self) -> BTreeMap<String, String> {
        [
            ("HCLOUD_TOKEN", hetzner_fake::TOKEN.to_string()),
            ("CLOUDFLARE_API_TOKEN", cloudflare_fake::TOKEN.to_string()),
            ("R2_ACCESS_KEY_ID", s3_fake::ACCESS_KEY.to_string()),
            ("R2_SECRET_ACCESS_KEY", s3_fake::SECRET_KEY.to_string()),
            ("DISCORD_WEBHOOK_URL", self.discord.url()),
            ("NUDGE_TOKEN", NUDGE_TOKEN.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The only test-only difference of a run: where the APIs are, and
    /// the port the reconciler's Server List Ping dials on 127.0.0.1.
    pub(crate) fn runner_env(&self) -> Vec<(String, String)> {
        vec![
            ("HCLOUD_ENDPOINT".into(), self.h.base_url()),
            ("CLOUDFLARE_API_BASE_URL".into(), self.cf.base_url()),
            ("R2_ENDPOINT".into(), self.s3.endpoint()),
            // Mojang's jar that mods.lock's [[cache]] pins, stored by apply.
            (
                mc_gitops::modrinth::MOJANG_META_BASE_ENV.into(),
                self.modrinth.endpoints().mojang_meta,
            ),
            (mc_gitops::observe::game::GAME_PING_PORT_VAR.into(), self.game_port.to_string()),
        ]
    }

    /// Every secret there is: none may show up in a log, a commit, an
    /// output or the user-data (the minted, scoped keys may, in user-data).
    pub(crate) fn all_secrets(&self) -> Vec<String> {
        let mut s: Vec<String> = vec![
            hetzner_fake::TOKEN.into(),
            cloudflare_fake::TOKEN.into(),
            s3_fake::SECRET_KEY.into(),
            discord_fake::WEBHOOK_TOKEN.into(),
            NUDGE_TOKEN.into(),
            RUN_TOKEN.into(),
        ];
        s.sort();
        s
    }
}

/// `key = <old>` → `key = <value>` on the first line that sets `key`,
/// keeping the line's comment.
pub(crate) fn replace_value(text: &str, key: &str, value: &str) -> String {
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let trimmed = l.trim_start();
            let is_key = trimmed.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('='));
            if done || !is_key || trimmed.starts_with('#') {
                return l.to_string();
            }
            done = true;
            let comment = l.find(" #").map(|i| &l[i..]).unwrap_or("");
            format!("{key} = {value}{comment}")
        })
        .collect();
    assert!(done, "server.toml has no `{key} =` line");
    lines.join("\n") + "\n"
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?} in {}: {}", dir.display(), text_of(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn text_of(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}
