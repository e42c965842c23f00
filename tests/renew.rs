//! Renewing the agent's R2 credentials end to end: the real binary against
//! the Hetzner and Cloudflare fakes and an in-process S3 server that accepts
//! only the key pairs the test allows (standing in for R2 honouring minted
//! temporary credentials until they expire), and the agent's own store and
//! renewer built from the agent.toml the new server received.
//!
//! A 10-day session outlives the 7 days credentials can last: past three
//! quarters of their life apply mints new ones, writes
//! `control/grove/credentials/<session>.json` and moves the server's labels; the agent
//! swaps them in and keeps working after the old key is refused. A crash
//! or a 5xx between the write and the labels converges on the next run, and
//! no secret reaches stdout, stderr or the repo (which is committed).

mod common;

#[path = "fakes/cloudflare.rs"]
mod cloudflare_fake;
#[path = "fakes/hetzner.rs"]
mod hetzner_fake;
#[path = "fakes/s3.rs"]
mod s3_fake;

use std::process::Output;

use axum::http::Method;
use chrono::{DateTime, Duration, Utc};
use mc_gitops::agent::renew::Renewal;
use serde_json::Value;

/// The runs' clock: the current minute (the fakes stamp servers with the real time).
fn t0() -> DateTime<Utc> {
    static T0: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *T0.get_or_init(|| {
        let secs = Utc::now().timestamp();
        DateTime::from_timestamp(secs - secs % 60, 0).unwrap()
    })
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// 5 days 7 hours: past three quarters of a 7-day life.
const LATE: i64 = (5 * 24 + 7) * 60;

struct World {
    s3: s3_fake::S3Server,
    h: hetzner_fake::FakeHetzner,
    cf: cloudflare_fake::FakeCloudflare,
    repo: tempfile::TempDir,
}

impl World {
    /// The example repo with the fakes' R2 account and a 10-day max_session.
    async fn new() -> World {
        let repo = tempfile::tempdir().unwrap();
        common::copy_dir(&common::example(), repo.path());
        let p = repo.path().join("server.toml");
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("5f3c9a1e7b2d4c6e8a0f1b3d5e7c9a2b", cloudflare_fake::ACCOUNT_ID)
            .replacen("max_session = \"12h\"", "max_session = \"240h\"", 1);
        assert!(text.contains("max_session = \"240h\""));
        std::fs::write(p, text).unwrap();
        World {
            s3: s3_fake::S3Server::start().await,
            h: hetzner_fake::FakeHetzner::start().await,
            cf: cloudflare_fake::FakeCloudflare::start().await,
            repo,
        }
    }

    async fn run(&self, cmd: &str, now: DateTime<Utc>, extra: &[(&str, &str)]) -> Output {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mc-gitops"));
        c.arg(cmd)
            .arg("--repo")
            .arg(self.repo.path())
            .env("HCLOUD_TOKEN", hetzner_fake::TOKEN)
            .env("HCLOUD_ENDPOINT", self.h.base_url())
            .env("CLOUDFLARE_API_TOKEN", cloudflare_fake::TOKEN)
            .env("CLOUDFLARE_API_BASE_URL", self.cf.base_url())
            .env("MC_GITOPS_POLL_INTERVAL_MS", "10")
            .env("MC_GITOPS_NOW", stamp(now))
            .env("MC_GITOPS_LOG", "debug")
            .env_remove("MC_GITOPS_STORAGE_DIR")
            .env_remove("MC_GITOPS_CRASH_AFTER")
            .env_remove("DISCORD_WEBHOOK_URL")
            .env_remove("GITHUB_ACTIONS");
        for (k, v) in self.s3.env().into_iter().chain(extra.iter().map(|(k, v)| (*k, v.to_string()))) {
            c.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
        self.assert_no_secret_leaked(&out);
        out
    }

    /// Every secret there is: the tokens, the account's R2 key, and each
    /// minted secret. None may be printed, or written into the repo.
    fn assert_no_secret_leaked(&self, out: &Output) {
        let mut secrets: Vec<String> = vec![
            hetzner_fake::TOKEN.into(),
            cloudflare_fake::TOKEN.into(),
            s3_fake::SECRET_KEY.into(),
        ];
        for c in self.cf.issued_credentials() {
            secrets.push(c["secretAccessKey"].as_str().unwrap().into());
            secrets.push(c["sessionToken"].as_str().unwrap().into());
        }
        let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        for s in &secrets {
            assert!(!printed.contains(s.as_str()), "a secret was printed:\n{printed}");
            common::assert_no_secret_in(self.repo.path(), s);
        }
    }

    fn minted(&self) -> Vec<Value> {
        self.cf.issued_credentials()
    }

    fn server(&self) -> Value {
        self.h.server(self.server_id()).expect("the server exists")
    }

    fn server_id(&self) -> u64 {
        let text = std::fs::read_to_string(self.repo.path().join(session_file())).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("server_id = "))
            .expect("the session names its server");
        line["server_id = ".len()..].trim().parse().unwrap()
    }

    fn label(&self, key: &str) -> Option<i64> {
        self.server()["labels"][key].as_str().map(|v| v.parse().unwrap())
    }

    fn credentials_json(&self) -> Value {
        let key = format!("control/grove/credentials/{}-eu.json", t0().format("%Y%m%d-%H%M"));
        serde_json::from_slice(&std::fs::read(self.s3.object_file(&key)).unwrap()).unwrap()
    }

    /// The agent's settings, as the new server's user-data carries them.
    fn agent_toml(&self) -> String {
        let body = &self.h.bodies(Method::POST, "/servers")[0];
        let user_data = body["user_data"].as_str().unwrap();
        let from = user_data
            .find("path: /etc/mc-gitops/agent.toml")
            .expect("agent.toml is in user-data");
        let line = user_data[from..]
            .lines()
            .find_map(|l| l.trim().strip_prefix("content: "))
            .expect("its content");
        // A JSON string is the YAML double-quoted scalar cloud-init reads.
        serde_json::from_str(line).unwrap()
    }
}

fn session_file() -> String {
    format!("sessions/{}/{}-eu.toml", t0().format("%Y/%m"), t0().format("%Y%m%d-%H%M"))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}\n{}", out.status.code(), text(out));
    text(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_session_renews_the_agents_credentials_and_the_agent_switches_to_them() {
    let w = World::new().await;
    ok(&w.run("apply", at(0), &[]).await);
    let first = w.minted()[0].clone();
    let week = 7 * 24 * 3600;
    assert_eq!(w.label("mc-gitops/credentials-issued"), Some(t0().timestamp()));
    assert_eq!(w.label("mc-gitops/credentials-expires"), Some(t0().timestamp() + week));

    // The agent, from the agent.toml the server received; R2 accepts its key.
    let toml = w.agent_toml();
    assert!(
        toml.contains(&format!("credentials_expires = {}", stamp(t0() + Duration::seconds(week)))),
        "{toml}"
    );
    let cfg = mc_gitops::agent_toml::parse("agent.toml", &toml).unwrap();
    let (store, renewer) = mc_gitops::agent::open_store(&cfg).unwrap();
    let renewer = renewer.expect("expiring keys get a renewer");
    let (key1, secret1) = (first["accessKeyId"].as_str().unwrap(), first["secretAccessKey"].as_str().unwrap());
    w.s3.allow(key1, secret1);
    assert!(store.control().await.unwrap().is_some(), "the agent reads its control document");
    assert_eq!(renewer.check(at(LATE)).await.ok(), None, "nothing to renew from yet");

    // Five days in: three quarters of the life are not used up yet.
    let out = w.run("plan", at(5 * 24 * 60), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Past three quarters: renewed for the rest of the session.
    let out = ok(&w.run("apply", at(LATE), &[]).await);
    assert!(out.contains("renew the agent's storage credentials (valid until"), "{out}");
    let minted = w.minted();
    assert_eq!(minted.len(), 2, "one more mint");
    let second = minted[1].clone();
    assert_ne!(second["accessKeyId"], first["accessKeyId"], "distinct credentials");
    let rest = (240 + 2) * 3600 - LATE * 60;
    let asked =
        w.cf.requests()
            .into_iter()
            .rfind(|r| r.path.ends_with("/r2/temp-access-credentials"))
            .unwrap();
    let body = asked.body.unwrap();
    assert_eq!(body["ttlSeconds"], rest, "the rest of the session");
    assert_eq!(
        body["prefixes"],
        serde_json::json!(["worlds/grove/", "control/grove/", "assets/grove/"]),
        "the same scope"
    );
    let doc = w.credentials_json();
    assert_eq!(doc["access_key_id"], second["accessKeyId"]);
    assert_eq!(doc["expires"], stamp(at(LATE) + Duration::seconds(rest)));
    assert_eq!(w.label("mc-gitops/credentials-expires"), Some(at(LATE).timestamp() + rest));
    assert_eq!(
        w.server()["labels"]["mc-gitops/session"].as_str(),
        Some(format!("{}-eu", t0().format("%Y%m%d-%H%M")).as_str()),
        "the other labels are kept"
    );

    // Converged: a no-op apply within the call budget, no mint.
    w.h.clear_calls();
    w.cf.clear_calls();
    let out = w.run("plan", at(LATE + 1), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    ok(&w.run("apply", at(LATE + 2), &[]).await);
    let calls = w.h.calls().len() + w.cf.calls().len();
    assert!(calls <= 8, "{calls} calls: {:?} {:?}", w.h.calls(), w.cf.calls());
    assert_eq!(w.minted().len(), 2);

    // The agent, still on its old key (which reads the file), swaps the new
    // one in; then the old key expires and the agent keeps working.
    w.s3.allow(second["accessKeyId"].as_str().unwrap(), second["secretAccessKey"].as_str().unwrap());
    let Ok(Renewal::Renewed { key_id, expires }) = renewer.check(at(LATE + 3)).await else {
        panic!("the agent takes the renewed credentials")
    };
    w.s3.revoke(key1);
    assert_eq!(key_id, second["accessKeyId"].as_str().unwrap());
    assert_eq!(expires, at(LATE) + Duration::seconds(rest));
    assert!(store.control().await.unwrap().is_some(), "the agent keeps working on the new key");
    store.put_bytes("control/grove/status.json", b"{}".to_vec()).await.unwrap();
    assert_eq!(renewer.check(at(LATE + 4)).await.unwrap(), Renewal::NotDue);

    // Had it not swapped, the expired key would be refused.
    let (stale, _) = mc_gitops::agent::open_store(&cfg).unwrap();
    assert!(stale.control().await.is_err(), "the old key is refused");
}

#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection (bash scripts/test passes it)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_or_a_5xx_between_delivering_and_labelling_converges() {
    let w = World::new().await;
    ok(&w.run("apply", at(0), &[]).await);
    let expires0 = w.label("mc-gitops/credentials-expires");

    // A crash right after the credentials document is written: the labels still say old.
    let out = w
        .run("apply", at(LATE), &[("MC_GITOPS_CRASH_AFTER", "credentials-delivered")])
        .await;
    assert_eq!(out.status.code(), Some(70), "{}", text(&out));
    let delivered = w.credentials_json();
    assert_eq!(delivered["access_key_id"], w.minted()[1]["accessKeyId"]);
    assert_eq!(w.label("mc-gitops/credentials-expires"), expires0);
    let out = w.run("plan", at(LATE + 1), &[]).await;
    assert_eq!(out.status.code(), Some(2), "still to renew: {}", text(&out));

    // A 5xx on the label update that outlasts the client's 5 attempts: the
    // run fails, nothing is lost.
    w.h.fail_next(Method::PUT, "/servers/", 500, 5);
    let out = w.run("apply", at(LATE + 2), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("storage credentials of grove-mc"), "{}", text(&out));
    assert_eq!(w.label("mc-gitops/credentials-expires"), expires0);

    // The next run renews again and records it; then nothing is left to do.
    ok(&w.run("apply", at(LATE + 3), &[]).await);
    let newest = w.minted().last().unwrap().clone();
    assert_eq!(w.credentials_json()["access_key_id"], newest["accessKeyId"]);
    assert_ne!(newest["accessKeyId"], delivered["access_key_id"]);
    assert_eq!(
        w.label("mc-gitops/credentials-expires").unwrap(),
        w.credentials_json()["expires"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
            .timestamp()
    );
    let out = w.run("plan", at(LATE + 4), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
