//! The world `apply` runs in for the end-to-end tests: the Hetzner and
//! Cloudflare fakes, a local object store and a copy of the example repo,
//! and the real binary run against them. Shared by the test crates that
//! include it (`#[path = "common/apply_world.rs"]`), beside their own
//! `hetzner_fake`, `cloudflare_fake` and `discord_fake` modules.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::{Path, PathBuf};
use std::process::Output;

use axum::http::Method;
use chrono::{DateTime, Duration, Utc};

use crate::cloudflare_fake::{self, FakeCloudflare};
use crate::common::{assert_no_secret_in, copy_dir};
use crate::discord_fake;
use crate::hetzner_fake::{self, FakeHetzner};

/// The runs' clock: the current minute. The fakes stamp servers with the
/// real time, and a session recovered from a server starts at its `created`,
/// so the runs' `--now` must not be far from the wall clock.
pub(crate) fn t0() -> DateTime<Utc> {
    static T0: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *T0.get_or_init(|| {
        let now = Utc::now();
        now - Duration::seconds(i64::from(now.timestamp() as u32 % 60))
    })
}

pub(crate) fn at(mins: i64) -> String {
    (t0() + Duration::minutes(mins)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The session a start at `at(0)` opens: `20261122-1930-eu`, and its file.
pub(crate) fn session0() -> (String, String) {
    let id = format!("{}-eu", t0().format("%Y%m%d-%H%M"));
    let file = format!("sessions/{}/{id}.toml", t0().format("%Y/%m"));
    (id, file)
}

pub(crate) struct World {
    pub h: FakeHetzner,
    pub cf: FakeCloudflare,
    pub repo: tempfile::TempDir,
    pub storage: tempfile::TempDir,
}

impl World {
    pub(crate) async fn new() -> World {
        let repo = tempfile::tempdir().unwrap();
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example"), repo.path());
        World {
            h: FakeHetzner::start().await,
            cf: FakeCloudflare::start().await,
            repo,
            storage: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn command(&self, args: &[&str], now: &str, extra: &[(&str, &str)]) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
        c.args(args)
            .arg("--repo")
            .arg(self.repo.path())
            .env("HCLOUD_TOKEN", hetzner_fake::TOKEN)
            .env("HCLOUD_ENDPOINT", self.h.base_url())
            .env("CLOUDFLARE_API_TOKEN", cloudflare_fake::TOKEN)
            .env("CLOUDFLARE_API_BASE_URL", self.cf.base_url())
            .env("MC_GITOPS_STORAGE_DIR", self.storage.path())
            .env("MC_GITOPS_POLL_INTERVAL_MS", "10")
            // The fake hands out TEST-NET addresses: never dial them.
            .env("MC_GITOPS_GAME_PING", "off")
            .env("MC_GITOPS_NOW", now)
            .env("MC_GITOPS_LOG", "debug")
            .env_remove("MC_GITOPS_CRASH_AFTER")
            .env_remove("DISCORD_WEBHOOK_URL")
            .env_remove("GITHUB_ACTIONS");
        for (k, v) in extra {
            c.env(k, v);
        }
        c
    }

    pub(crate) async fn run(&self, args: &[&str], now: &str, extra: &[(&str, &str)]) -> Output {
        let mut c = self.command(args, now, extra);
        let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
        // No run may ever print a token, or write one into the repo (which is
        // committed) or into storage (which the VPS reads), whatever it did.
        for secret in [hetzner_fake::TOKEN, cloudflare_fake::TOKEN, discord_fake::WEBHOOK_TOKEN] {
            assert!(!String::from_utf8_lossy(&out.stdout).contains(secret), "token on stdout");
            assert!(!String::from_utf8_lossy(&out.stderr).contains(secret), "token on stderr");
            for dir in [self.repo.path(), self.storage.path()] {
                assert_no_secret_in(dir, secret);
            }
        }
        out
    }

    pub(crate) async fn apply(&self, now: &str) -> Output {
        self.run(&["apply"], now, &[]).await
    }

    pub(crate) fn sessions(&self) -> Vec<(String, String)> {
        let mut out = vec![];
        let mut stack = vec![self.repo.path().join("sessions")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push((
                        p.file_name().unwrap().to_string_lossy().into_owned(),
                        std::fs::read_to_string(&p).unwrap(),
                    ));
                }
            }
        }
        out.sort();
        out
    }

    pub(crate) fn open_sessions(&self) -> Vec<String> {
        self.sessions()
            .into_iter()
            .filter(|(_, t)| !t.contains("\nended = "))
            .map(|(n, _)| n)
            .collect()
    }

    pub(crate) fn records(&self, kind: &str) -> Vec<cloudflare_fake::FakeRecord> {
        self.cf.records().into_iter().filter(|r| r.kind == kind).collect()
    }

    pub(crate) fn mutations(&self) -> usize {
        let h = self.h.calls().into_iter().filter(|(m, _)| *m != Method::GET).count();
        let c = self.cf.calls().into_iter().filter(|(m, _)| *m != Method::GET).count();
        h + c
    }

    pub(crate) fn storage_file(&self, rel: &str) -> PathBuf {
        self.storage.path().join(rel)
    }

    pub(crate) fn set_state(&self, state: &str) {
        let p = self.repo.path().join("server.toml");
        let text = std::fs::read_to_string(&p).unwrap();
        let text = text.replacen("state = \"running\"", &format!("state = \"{state}\""), 1).replacen(
            "state = \"stopped\"",
            &format!("state = \"{state}\""),
            1,
        );
        std::fs::write(p, text).unwrap();
    }

    /// What the agent does at a stop: snapshot the world as the final one
    /// of the session desired.json names (an agent's config names it too),
    /// verify it and move `current.json`, through the same code the agent runs.
    pub(crate) async fn agent_uploads_snapshot(&self, taken: &str) {
        let store = self.store();
        let session = store.control().await.unwrap().and_then(|d| d.session);
        self.upload_snapshot(taken, session.as_ref().map(|s| s.as_str()), mc_gitops::world::SnapshotKind::Final)
            .await;
    }

    /// A stop at minute `from`, carried through: ask, the agent's final
    /// snapshot, the delete and the session's close.
    pub(crate) async fn stop_through(&self, from: i64) {
        self.set_state("stopped");
        ok(&self.apply(&at(from)).await);
        self.agent_uploads_snapshot(&at(from + 1)).await;
        ok(&self.apply(&at(from + 2)).await);
        assert!(self.open_sessions().is_empty(), "{:?}", self.sessions());
        assert_eq!(self.h.server_count(), 0);
    }

    /// A snapshot taken at `taken` by `session` (`None`: by hand) for `kind`.
    pub(crate) async fn upload_snapshot(
        &self,
        taken: &str,
        session: Option<&str>,
        kind: mc_gitops::world::SnapshotKind,
    ) -> mc_gitops::world::Manifest {
        let tmp = tempfile::tempdir().unwrap();
        let world = tmp.path().join("world");
        std::fs::create_dir_all(world.join("region")).unwrap();
        std::fs::write(world.join("level.dat"), taken).unwrap();
        let origin = mc_gitops::world::Origin {
            session: session.map(mc_gitops::ids::SessionId::new),
            kind,
        };
        mc_gitops::world::snapshot_as(&self.store(), &world, taken.parse().unwrap(), &origin, &|_| true)
            .await
            .unwrap()
    }

    /// The local object store the runs use.
    pub(crate) fn store(&self) -> mc_gitops::storage::Store {
        mc_gitops::storage::Store::local(self.storage.path(), &mc_gitops::ids::ServerName::new("grove")).unwrap()
    }
}

pub(crate) fn ok(out: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "exit {:?}\n{text}", out.status.code());
    text
}

pub(crate) fn assert_running_state(w: &World) {
    assert_eq!(w.h.server_count(), 1, "exactly one server");
    assert_eq!(w.h.servers_named("grove-mc"), 1);
    let a = w.records("A");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!((a[0].name.as_str(), a[0].ttl, a[0].proxied), ("mc.grove.place", 60, false));
    let srv = w.records("SRV");
    assert_eq!(srv.len(), 1, "{srv:?}");
    assert_eq!(srv[0].name, "_minecraft._tcp.grove.place");
    assert_eq!(w.open_sessions().len(), 1, "{:?}", w.sessions());
}

/// A `desired.json` that names a session is complete: every file the repo
/// renders is listed with its hash, and each stored one is in storage with
/// those bytes; the whitelist and ops it carries are the repo's. An agent
/// provisions from the first document naming its session and takes its
/// lists as applied, so a document naming a session before its files are
/// in place boots Minecraft without them (`tests/day.rs` once saw Steve
/// "not white-listed"). A document naming no session is not provisioned
/// from, so it may be partial.
pub(crate) fn assert_desired_complete(w: &World, when: &str) {
    let path = w.storage_file("control/grove/desired.json");
    let Ok(bytes) = std::fs::read(&path) else { return };
    let doc: mc_gitops::storage::ControlDoc = serde_json::from_slice(&bytes).unwrap();
    if doc.session.is_none() {
        return;
    }
    let desired = mc_gitops::repo::load(w.repo.path()).unwrap().desired;
    let want = mc_gitops::assets::render_files(&desired);
    let listed: Vec<&String> = doc.assets.keys().collect();
    let wanted: Vec<&String> = want.keys().collect();
    assert_eq!(listed, wanted, "{when}: desired.json names {:?} but lists other files", doc.session);
    let store = w.store();
    for (rel, r) in &want {
        let a = &doc.assets[rel];
        assert_eq!(a.hash, r.state.hash, "{when}: {rel} in desired.json is not the repo's");
        if let Some(bytes) = &r.bytes {
            let stored = std::fs::read(w.storage_file(&store.asset_key(&a.hash)))
                .unwrap_or_else(|e| panic!("{when}: desired.json lists {rel} but its bytes are not stored: {e}"));
            assert_eq!(&stored, bytes, "{when}: {rel}");
        }
    }
    assert_eq!(doc.whitelist, mc_gitops::assets::whitelist_names(&desired), "{when}");
    assert_eq!(doc.whitelist_uuids, mc_gitops::assets::whitelist_uuids(&desired), "{when}");
    let ops: Vec<_> = doc.ops.iter().map(|o| (o.name.clone(), o.level)).collect();
    let want_ops: Vec<_> = mc_gitops::assets::op_entries(&desired)
        .into_iter()
        .map(|o| (o.name, o.level))
        .collect();
    assert_eq!(ops, want_ops, "{when}");
}
