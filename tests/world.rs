//! World storage against a real S3 server in-process (s3s-fs): objects,
//! conditional writes, presigned URLs, multipart snapshots, interruption,
//! corruption, and the `world` commands and `apply` through the binary,
//! including the agent's scoped credentials minted from the Cloudflare fake.

mod common;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "fakes/s3.rs"]
mod s3_fake;

use std::path::Path;
use std::process::Output;

use chrono::{DateTime, Utc};
use mc_gitops::ids::ServerName;
use mc_gitops::secret::Secret;
use mc_gitops::storage::cas::Expect;
use mc_gitops::storage::r2::R2Credentials;
use mc_gitops::storage::{StorageError, Store};
use mc_gitops::world::{self, WorldError};
use s3_fake::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};

const GO: &(dyn Fn(u64) -> bool + Send + Sync) = &|_| true;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn session() -> mc_gitops::ids::SessionId {
    mc_gitops::ids::SessionId::new("20261122-1800-eu")
}

fn final_of_session() -> world::Origin {
    world::Origin {
        session: Some(session()),
        kind: world::SnapshotKind::Final,
    }
}

fn store(s: &S3Server, secret: &str) -> Store {
    let creds = R2Credentials {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: Secret::new(secret),
        session_token: None,
    };
    Store::s3(&s.endpoint(), BUCKET, &creds, &ServerName::new("grove")).unwrap()
}

/// Region-file-like noise, `regions` files of `bytes` each.
fn make_world(dir: &Path, regions: usize, bytes: usize, seed: u64) {
    std::fs::create_dir_all(dir.join("region")).unwrap();
    std::fs::write(dir.join("level.dat"), seed.to_le_bytes()).unwrap();
    let mut x = seed | 1;
    for r in 0..regions {
        let data: Vec<u8> = (0..bytes)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        std::fs::write(dir.join(format!("region/r.{r}.0.mca")), data).unwrap();
    }
}

fn copy_repo(to: &Path) {
    common::copy_dir(&common::example(), to);
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_conditional_writes_and_presigned_urls_against_s3() {
    let s3 = S3Server::start().await;
    let s = store(&s3, SECRET_KEY);
    s.put_bytes("control/grove/a.json", b"{}".to_vec()).await.unwrap();
    s.put_bytes("control/grove/b.json", b"[]".to_vec()).await.unwrap();
    assert_eq!(s.get_bytes("control/grove/a.json").await.unwrap().unwrap(), b"{}");
    assert!(s.get_bytes("control/grove/none").await.unwrap().is_none());
    let keys: Vec<String> = s
        .list("control/grove/")
        .await
        .unwrap()
        .iter()
        .map(|m| m.location.to_string())
        .collect();
    assert_eq!(keys, ["control/grove/a.json", "control/grove/b.json"]);
    s.delete("control/grove/b.json").await.unwrap();
    s.delete("control/grove/b.json").await.unwrap();
    assert!(!s.exists("control/grove/b.json").await.unwrap());

    // Conditional writes, decided by the server.
    let key = s.current_key();
    s.put_json_if(&key, &serde_json::json!({"n": 1}), &Expect::Absent).await.unwrap();
    let e = s
        .put_json_if(&key, &serde_json::json!({"n": 2}), &Expect::Absent)
        .await
        .unwrap_err();
    assert!(matches!(e, StorageError::Conflict { .. }), "{e}");
    let (_, v) = s.get_json_versioned::<serde_json::Value>(&key).await.unwrap().unwrap();
    s.put_json_if(&key, &serde_json::json!({"n": 3}), &v).await.unwrap();
    let e = s.put_json_if(&key, &serde_json::json!({"n": 4}), &v).await.unwrap_err();
    assert!(matches!(e, StorageError::Conflict { .. }), "a stale version loses: {e}");
    let now: serde_json::Value = s.get_json(&key).await.unwrap().unwrap();
    assert_eq!(now["n"], 3);

    // Presigned URLs work without credentials, and only for what they sign.
    let http = reqwest::Client::new();
    let get = s
        .signed_url(reqwest::Method::GET, "control/grove/a.json", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(http.get(get.clone()).send().await.unwrap().bytes().await.unwrap().as_ref(), b"{}");
    let put = s
        .signed_url(reqwest::Method::PUT, "assets/grove/x", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(http.put(put).body("via url").send().await.unwrap().status().is_success());
    assert_eq!(s.get_bytes("assets/grove/x").await.unwrap().unwrap(), b"via url");
    let other = get.as_str().replace("a.json", "b.json");
    assert_eq!(http.get(other).send().await.unwrap().status(), 403, "the signature covers the key");

    // A wrong secret is refused by the server.
    let bad = store(&s3, "not-the-secret");
    assert!(bad.get_bytes("control/grove/a.json").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_snapshots_round_trip_and_an_interrupted_one_leaves_no_trace() {
    let s3 = S3Server::start().await;
    let s = store(&s3, SECRET_KEY);
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("world");
    make_world(&w, 5, 4 * 1024 * 1024, 7); // ~20 MiB: three parts
    // The old format (one multipart archive), which stays readable; the
    // interrupted backup below writes pieces.
    let m = world::snapshot::snapshot_archive_as(&s, &w, t("2026-11-22T19:00:00Z"), &final_of_session(), GO)
        .await
        .unwrap();
    assert!(m.size > 2 * world::PART_SIZE as u64, "{m:?}");
    let guard = world::guard::final_snapshot(&s, &session(), t("2026-11-22T19:00:00Z"), t("2026-11-22T20:00:00Z"))
        .await
        .unwrap();
    assert_eq!(guard.map(|g| g.key), Ok(m.key.clone()));
    let before = s.get_bytes(&s.current_key()).await.unwrap().unwrap();

    make_world(&w, 5, 4 * 1024 * 1024, 8);
    let halfway: &(dyn Fn(u64) -> bool + Send + Sync) = &|n| n < 12 * 1024 * 1024;
    let e = world::snapshot(&s, &w, t("2026-11-22T19:30:00Z"), halfway).await.unwrap_err();
    assert!(matches!(e, WorldError::Cancelled), "{e}");
    assert_eq!(
        s.get_bytes(&s.current_key()).await.unwrap().unwrap(),
        before,
        "current.json untouched"
    );
    let keys: Vec<String> = s
        .list("worlds/grove/")
        .await
        .unwrap()
        .iter()
        .map(|m| m.location.to_string())
        .filter(|k| !k.starts_with("worlds/grove/pieces/"))
        .collect();
    // Pieces it uploaded may stay, named by no list: retention sweeps them.
    assert_eq!(
        keys,
        [
            "worlds/grove/backups/2026-11-22T19-00-00Z.json",
            "worlds/grove/backups/2026-11-22T19-00-00Z.tar.zst",
            "worlds/grove/current.json"
        ]
    );
    world::verify(&s, &m, GO).await.unwrap();

    let restored = tmp.path().join("restored");
    make_world(&w, 5, 4 * 1024 * 1024, 7);
    assert_eq!(world::restore(&s, &m, &restored, GO).await.unwrap(), 6);
    for f in ["level.dat", "region/r.0.0.mca", "region/r.4.0.mca"] {
        assert!(std::fs::read(w.join(f)).unwrap() == std::fs::read(restored.join(f)).unwrap(), "{f}");
    }

    // Bytes damaged at rest: verify and restore say so; the guard still
    // trusts the manifest (it checks presence and size, not every byte).
    let file = s3.object_file(&m.key);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let e = world::verify(&s, &m, GO).await.unwrap_err();
    assert!(matches!(e, WorldError::Corrupt { .. }), "{e}");
}

struct Cli {
    repo: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Cli {
    fn new(s3: &S3Server) -> Cli {
        let repo = tempfile::tempdir().unwrap();
        copy_repo(repo.path());
        Cli { repo, env: s3.env() }
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
        c.arg("world")
            .args(args)
            .arg("--repo")
            .arg(self.repo.path())
            .env("MC_GITOPS_LOG", "debug");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
        assert!(!text(&out).contains(SECRET_KEY), "the secret key was printed:\n{}", text(&out));
        out
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        text(&out)
    }
}

// Issue 12: a future-dated snapshot froze current.json; S3's own LastModified (which no writer sets) says it is future-dated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_dated_pointer_is_judged_by_the_servers_last_modified() {
    let s3 = S3Server::start().await;
    let s = store(&s3, SECRET_KEY);
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("world");
    make_world(&w, 1, 1024, 3);
    let now = Utc::now();
    let bogus = world::snapshot(&s, &w, now + chrono::Duration::days(30), GO).await.unwrap();
    let stored = s.head(&bogus.key).await.unwrap().unwrap().last_modified;
    assert!((stored - now).num_seconds().abs() < 60, "the server stamps its own time: {stored}");
    let real = world::snapshot_as(&s, &w, now, &final_of_session(), GO).await.unwrap();
    assert_eq!(s.current_snapshot().await.unwrap().unwrap().key, real.key);
    let guard = world::guard::final_snapshot(&s, &session(), now - chrono::Duration::minutes(1), now)
        .await
        .unwrap();
    assert_eq!(guard.map(|g| g.key), Ok(real.key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_world_commands_back_up_list_prune_verify_and_restore_against_s3() {
    let s3 = S3Server::start().await;
    let cli = Cli::new(&s3);
    let w = cli.repo.path().join("world");
    let w_arg = w.display().to_string();
    make_world(&w, 2, 100_000, 1);
    for (i, at) in ["2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z", "2026-11-22T12:00:00Z"]
        .iter()
        .enumerate()
    {
        let mut args = vec!["backup", "--dir", &w_arg, "--taken", at];
        if i == 0 {
            args.push("--pin");
        }
        let out = cli.ok(&args).await;
        assert!(out.contains("R2 bucket grove-worlds at http://127.0.0.1"), "{out}");
    }
    assert!(
        s3.object_file("worlds/grove/backups/2026-11-22T11-00-00Z.files").is_file(),
        "stored in S3"
    );

    let list = cli.ok(&["list"]).await;
    let lines: Vec<&str> = list.lines().filter(|l| l.starts_with("2026")).collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[0].starts_with("2026-11-22T12-00-00Z") && lines[0].ends_with("current"),
        "{list}"
    );
    assert!(lines[2].ends_with("pinned"), "{list}");

    let out = cli.ok(&["prune", "--keep", "1"]).await;
    assert!(out.contains("deleted 2026-11-22T11-00-00Z") && out.contains("1 deleted"), "{out}");

    let out = cli.ok(&["verify"]).await;
    assert!(out.contains("2026-11-22T12-00-00Z is intact"), "{out}");

    let target = cli.repo.path().join("restored");
    let out = cli
        .ok(&["restore", "2026-11-22T10-00-00Z", "--dir", &target.display().to_string()])
        .await;
    assert!(out.contains("restored 2026-11-22T10-00-00Z"), "{out}");
    assert_eq!(
        std::fs::read(target.join("region/r.1.0.mca")).unwrap(),
        std::fs::read(w.join("region/r.1.0.mca")).unwrap()
    );

    let out = cli
        .run(&["restore", "2026-11-01T18-00-00Z", "--dir", &target.display().to_string()])
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no backup named 2026-11-01T18-00-00Z"), "{}", text(&out));

    // Damage the current snapshot where S3 keeps it: verify fails with 1.
    let file = s3.object_file("worlds/grove/backups/2026-11-22T12-00-00Z.files");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&file, bytes).unwrap();
    let out = cli.run(&["verify"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("is corrupt"), "{}", text(&out));
    let out = cli.run(&["restore", "--dir", &target.display().to_string()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        target.join("region/r.1.0.mca").is_file(),
        "a failed restore leaves the directory as it was"
    );
}

/// Runs `apply` against the Hetzner and Cloudflare fakes with R2 (S3) configured.
async fn apply(repo: &Path, s3: &S3Server, h: &hetzner_fake::FakeHetzner, cf: &cloudflare_fake::FakeCloudflare) -> Output {
    apply_with(repo, s3, h, cf, &[]).await
}

/// `apply` with more environment (the nudge token and what Actions sets).
async fn apply_with(
    repo: &Path,
    s3: &S3Server,
    h: &hetzner_fake::FakeHetzner,
    cf: &cloudflare_fake::FakeCloudflare,
    env: &[(&str, &str)],
) -> Output {
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
    c.arg("apply")
        .arg("--repo")
        .arg(repo)
        .env("HCLOUD_TOKEN", hetzner_fake::TOKEN)
        .env("HCLOUD_ENDPOINT", h.base_url())
        .env("CLOUDFLARE_API_TOKEN", cloudflare_fake::TOKEN)
        .env("CLOUDFLARE_API_BASE_URL", cf.base_url())
        .env("MC_GITOPS_POLL_INTERVAL_MS", "10")
        .env("MC_GITOPS_GAME_PING", "off")
        .env("MC_GITOPS_NOW", now)
        .env("MC_GITOPS_LOG", "debug")
        .env_remove("MC_GITOPS_STORAGE_DIR")
        .env_remove("MC_GITOPS_NUDGE_TOKEN")
        .env_remove("GITHUB_REPOSITORY")
        .env_remove("GITHUB_WORKFLOW_REF");
    for (k, v) in s3.env() {
        c.env(k, v);
    }
    c.envs(env.iter().copied());
    tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap()
}

fn use_fake_account(repo: &Path, extra: &str) {
    let p = repo.join("server.toml");
    let t = std::fs::read_to_string(&p).unwrap();
    let t = t.replace("5f3c9a1e7b2d4c6e8a0f1b3d5e7c9a2b", cloudflare_fake::ACCOUNT_ID);
    let t = t.replacen("state = \"running\"", &format!("state = \"running\"\n{extra}"), 1);
    std::fs::write(p, t).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_mints_agent_credentials_scoped_to_the_servers_prefixes_and_never_prints_them() {
    let s3 = S3Server::start().await;
    let h = hetzner_fake::FakeHetzner::start().await;
    let cf = cloudflare_fake::FakeCloudflare::start().await;
    let repo = tempfile::tempdir().unwrap();
    copy_repo(repo.path());
    use_fake_account(repo.path(), "");
    let nudge_token = "github_pat_11LONGLIVEDnudge";
    let before = Utc::now();
    let out = apply_with(
        repo.path(),
        &s3,
        &h,
        &cf,
        &[
            ("MC_GITOPS_NUDGE_TOKEN", nudge_token),
            ("GITHUB_REPOSITORY", "friends/grove-state"),
            (
                "GITHUB_WORKFLOW_REF",
                "friends/grove-state/.github/workflows/reconcile.yml@refs/heads/main",
            ),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(h.server_count(), 1);

    let asks: Vec<_> = cf
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/r2/temp-access-credentials"))
        .collect();
    assert_eq!(asks.len(), 1, "minted once, for the one server created");
    let body = asks[0].body.clone().unwrap();
    assert_eq!(
        body["prefixes"],
        serde_json::json!(["worlds/grove/", "control/grove/", "assets/grove/"])
    );
    assert_eq!(body["parentAccessKeyId"], ACCESS_KEY);
    assert_eq!(body["bucket"], BUCKET);
    assert_eq!(body["ttlSeconds"], 12 * 3600 + 60 * 60 + 3600);
    let issued = cf.issued_credentials();
    let all = text(&out);
    for secret in [
        SECRET_KEY,
        issued[0]["secretAccessKey"].as_str().unwrap(),
        issued[0]["sessionToken"].as_str().unwrap(),
        nudge_token,
    ] {
        assert!(!all.contains(secret), "a secret was printed:\n{all}");
    }
    assert!(
        all.contains(issued[0]["accessKeyId"].as_str().unwrap()),
        "the key id (not a secret) is logged"
    );

    // The new server's user-data carries the agent's config with the minted,
    // scoped credentials — and nothing long-lived: not the account's R2
    // secret, not the Hetzner or Cloudflare tokens.
    let creates = h.bodies(axum::http::Method::POST, "/servers");
    let user_data = creates[0]["user_data"].as_str().expect("user-data is sent");
    assert!(user_data.starts_with("#cloud-config"), "{user_data}");
    let config_line = user_data
        .lines()
        .find(|l| l.contains("secret_access_key"))
        .expect("agent.toml in user-data");
    assert!(config_line.contains(issued[0]["secretAccessKey"].as_str().unwrap()));
    // Nor the nudge token (issue 11, break 3): it reaches the agent through
    // the server's control prefix instead.
    for long_lived in [SECRET_KEY, hetzner_fake::TOKEN, cloudflare_fake::TOKEN, nudge_token] {
        assert!(!user_data.contains(long_lived), "a long-lived secret went into user-data");
    }
    assert!(user_data.len() <= 8 * 1024);
    // Regression (issue 11, break 2): the agent's settings arrive whole —
    // the endpoint apply itself uses (R2_ENDPOINT here), the repo's motd,
    // and when the server was asked for (billed hours count from there).
    let toml = user_data
        .lines()
        .find_map(|l| l.trim().strip_prefix("content: \"# mc-gitops agent"))
        .map(|rest| serde_json::from_str::<String>(&format!("\"# mc-gitops agent{rest}")).unwrap())
        .expect("agent.toml in user-data");
    let agent = mc_gitops::agent_toml::parse("agent.toml", &toml).unwrap();
    match &agent.storage {
        mc_gitops::agent_toml::StorageConfig::R2 { endpoint, .. } => assert_eq!(endpoint, &s3.endpoint()),
        other => panic!("{other:?}"),
    }
    assert_eq!(agent.motd, "Grove — friends only");
    let created = agent.server_created.expect("server_created is written");
    assert!(
        before <= created && created <= Utc::now(),
        "{created} is not the create request's time"
    );

    // The control channel went to S3, not to a local directory.
    assert!(s3.object_file("control/grove/desired.json").is_file());
    let nudge: serde_json::Value = serde_json::from_slice(&std::fs::read(s3.object_file("control/grove/nudge.json")).unwrap()).unwrap();
    assert_eq!(
        nudge,
        serde_json::json!({ "repo": "friends/grove-state", "workflow": "reconcile.yml", "ref": "main", "token": nudge_token })
    );
    assert!(!repo.path().join(".mc-gitops/storage").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_naming_a_missing_backup_stops_apply_before_anything_is_created() {
    let s3 = S3Server::start().await;
    let h = hetzner_fake::FakeHetzner::start().await;
    let cf = cloudflare_fake::FakeCloudflare::start().await;
    let repo = tempfile::tempdir().unwrap();
    copy_repo(repo.path());
    use_fake_account(repo.path(), "restore = \"2026-11-01T18-00-00Z\"");
    let sessions_before = std::fs::read_dir(repo.path().join("sessions")).unwrap().count();
    let out = apply(repo.path(), &s3, &h, &cf).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no backup named 2026-11-01T18-00-00Z"), "{}", text(&out));
    assert_eq!(h.server_count(), 0);
    assert_eq!(std::fs::read_dir(repo.path().join("sessions")).unwrap().count(), sessions_before);
    assert!(cf.issued_credentials().is_empty(), "nothing minted for a start that cannot happen");

    // With the backup there, the start goes ahead and tells the agent.
    let s = store(&s3, SECRET_KEY);
    let w = repo.path().join("w");
    make_world(&w, 1, 1000, 3);
    world::snapshot(&s, &w, t("2026-11-01T18:00:00Z"), GO).await.unwrap();
    let out = apply(repo.path(), &s3, &h, &cf).await;
    assert!(out.status.success(), "{}", text(&out));
    let control: serde_json::Value = serde_json::from_slice(&std::fs::read(s3.object_file("control/grove/desired.json")).unwrap()).unwrap();
    assert_eq!(control["restore"], "2026-11-01T18-00-00Z");
}
