//! The VPS stand-in: a thread that watches the fake Hetzner and, when a
//! server is created, does what cloud-init and systemd would do on it. It
//! takes the `user_data` the fake received, writes its `write_files` under a
//! temp root, reads agent.toml with the agent's own parser, changes only
//! what must differ on this machine (paths under the temp root, `java`
//! replaced by the flying-squid peer, the game and RCON ports, the session
//! server Mojang's fake) and starts
//! `mc-gitops agent --config` as a child. When the fake deletes the server,
//! the agent gets SIGTERM, as systemd would send it at shutdown.
//!
//! The VPS cannot reach the internet here, so the jars mods.lock pins are
//! put where the agent looks for them first (its download skips a file that
//! is already there with the locked sha512 and size): a download cache.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use serde::Deserialize;

use crate::cloudflare_fake::FakeCloudflare;
use crate::hetzner_fake::FakeHetzner;
use crate::s3_fake::S3Server;

/// The address every created server gets, so DNS points at this machine.
pub(crate) const HOST: &str = "127.0.0.1";
/// How long the agent has to exit after SIGTERM (its STOP_GRACE is 90 s;
/// at a normal deletion Minecraft is already stopped).
const TERM_WAIT: Duration = Duration::from_secs(100);

/// What cloud-init reads from the user-data (everything else is ignored).
#[derive(Deserialize)]
struct CloudConfig {
    #[serde(default)]
    write_files: Vec<WriteFile>,
}

#[derive(Deserialize)]
struct WriteFile {
    path: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    permissions: Option<String>,
}

/// One created server and the agent running as it.
pub(crate) struct Machine {
    pub server_id: u64,
    pub minecraft_dir: PathBuf,
    pub log: PathBuf,
    pub user_data: String,
    agent: Option<Child>,
    /// How the agent ended, once it did.
    pub exit: Option<String>,
}

impl Machine {
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// What the watcher saw, for the test's assertions and failure messages.
#[derive(Default)]
pub(crate) struct Seen {
    pub machines: Vec<Machine>,
    /// The most servers that existed at once.
    pub max_servers: usize,
    /// Problems the watcher met (a user-data it could not use, …).
    pub errors: Vec<String>,
}

pub(crate) struct Settings {
    pub bin: PathBuf,
    pub root: PathBuf,
    pub game_port: u16,
    pub github_api: String,
    pub squid: PathBuf,
    /// The fake of Mojang's session server (this machine cannot reach Mojang).
    pub session_server: String,
    /// Path relative to the Minecraft directory → bytes (the download cache).
    pub downloads: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

pub(crate) struct Vps {
    pub seen: Arc<Mutex<Seen>>,
    downloads: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Vps {
    /// Start watching; the fakes must outlive the returned value.
    pub(crate) fn watch(h: FakeHetzner, cf: Arc<FakeCloudflare>, s3: Arc<S3Server>, settings: Settings) -> Vps {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let downloads = settings.downloads.clone();
        let stop = Arc::new(AtomicBool::new(false));
        h.next_server_ipv4(HOST);
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut w = Watcher {
                    h,
                    cf,
                    s3,
                    settings,
                    seen,
                    handled_posts: 0,
                    known: BTreeSet::new(),
                    allowed: BTreeSet::new(),
                };
                while !stop.load(Ordering::SeqCst) {
                    w.tick();
                    std::thread::sleep(Duration::from_millis(100));
                }
                w.shutdown();
            })
        };
        Vps {
            seen,
            downloads,
            stop,
            thread: Some(thread),
        }
    }

    /// What the machines' download cache holds from now on.
    pub(crate) fn set_downloads(&self, files: BTreeMap<String, Vec<u8>>) {
        *self.downloads.lock().unwrap() = files;
    }

    pub(crate) fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }

    /// Every agent log so far, for failure messages (tail of each).
    pub(crate) fn logs_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for m in &self.seen().machines {
            let text = m.log_text();
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(lines);
            out.push_str(&format!(
                "--- agent of server {} ({}) log tail:\n{}\n",
                m.server_id,
                m.exit.as_deref().unwrap_or("running"),
                all[from..].join("\n")
            ));
        }
        out
    }

    /// Stop watching and SIGTERM any agent still running.
    pub(crate) fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Vps {
    fn drop(&mut self) {
        self.finish();
    }
}

struct Watcher {
    h: FakeHetzner,
    cf: Arc<FakeCloudflare>,
    s3: Arc<S3Server>,
    settings: Settings,
    seen: Arc<Mutex<Seen>>,
    handled_posts: usize,
    known: BTreeSet<u64>,
    allowed: BTreeSet<String>,
}

impl Watcher {
    fn tick(&mut self) {
        self.allow_minted_keys();
        let servers = self.h.servers();
        {
            let mut seen = self.seen.lock().unwrap();
            seen.max_servers = seen.max_servers.max(servers.len());
        }
        let posts: Vec<serde_json::Value> = self
            .h
            .requests()
            .into_iter()
            .filter(|c| c.method == Method::POST && c.route() == "/servers" && c.status == 201)
            .filter_map(|c| c.body)
            .collect();
        for body in posts.iter().skip(self.handled_posts) {
            self.handled_posts += 1;
            // The next create must reach this machine too.
            self.h.next_server_ipv4(HOST);
            let name = body["name"].as_str().unwrap_or_default();
            let Some(id) = servers
                .iter()
                .filter(|(id, s)| s["name"] == name && !self.known.contains(id))
                .map(|(id, _)| *id)
                .max()
            else {
                self.error(format!("a server named {name:?} was created, but the fake has no such server now"));
                continue;
            };
            self.known.insert(id);
            let user_data = body["user_data"].as_str().unwrap_or_default().to_string();
            match self.boot(id, &user_data) {
                Ok(m) => self.seen.lock().unwrap().machines.push(m),
                Err(e) => self.error(format!("server {id}: {e}")),
            }
        }
        let live: BTreeSet<u64> = servers.iter().map(|(id, _)| *id).collect();
        let mut seen = self.seen.lock().unwrap();
        for m in seen.machines.iter_mut().filter(|m| m.exit.is_none()) {
            if !live.contains(&m.server_id) {
                m.exit = Some(terminate(m.agent.as_mut()));
            } else if let Some(Ok(Some(status))) = m.agent.as_mut().map(Child::try_wait) {
                // systemd would restart it (Restart=on-failure); the day treats it as a failure.
                m.exit = Some(format!("exited on its own while its server lived: {status}"));
            }
        }
    }

    fn error(&self, e: String) {
        self.seen.lock().unwrap().errors.push(e);
    }

    /// R2 honours the temporary credentials Cloudflare minted.
    fn allow_minted_keys(&mut self) {
        for c in self.cf.issued_credentials() {
            let (Some(id), Some(secret)) = (c["accessKeyId"].as_str(), c["secretAccessKey"].as_str()) else {
                continue;
            };
            if self.allowed.insert(id.to_string()) {
                self.s3.allow(id, secret);
            }
        }
    }

    fn shutdown(&mut self) {
        let mut seen = self.seen.lock().unwrap();
        for m in seen.machines.iter_mut().filter(|m| m.exit.is_none()) {
            m.exit = Some(format!("still running at the end of the test; {}", terminate(m.agent.as_mut())));
        }
    }

    /// cloud-init's `write_files`, the agent's config made to fit this
    /// machine, and the agent started.
    fn boot(&self, id: u64, user_data: &str) -> Result<Machine, String> {
        let root = self.settings.root.join(format!("server-{id}"));
        write_files(&root, user_data)?;
        let config_path = root.join(mc_gitops::cloudinit::AGENT_CONFIG_PATH.trim_start_matches('/'));
        let text = std::fs::read_to_string(&config_path)
            .map_err(|e| format!("the user-data wrote no {}: {e}", mc_gitops::cloudinit::AGENT_CONFIG_PATH))?;
        let mut cfg = parse_agent(&config_path, &text)?;
        // Only what differs on this machine; written back by the agent's own writer.
        cfg.minecraft_dir = under(&root, &cfg.minecraft_dir);
        // No `minecraft` user here: the JVM runs as the test's own user.
        cfg.minecraft_user = None;
        cfg.java = vec!["node".to_string(), self.settings.squid.display().to_string()];
        cfg.game_port = self.settings.game_port;
        cfg.rcon_port = crate::common::free_port();
        cfg.session_server = self.settings.session_server.clone();
        let minecraft_dir = cfg.minecraft_dir.clone();
        let edited = cfg.to_toml();
        parse_agent(&config_path, &edited)?;
        std::fs::write(&config_path, &edited).map_err(|e| e.to_string())?;
        for (rel, bytes) in self.settings.downloads.lock().unwrap().iter() {
            let p = minecraft_dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).map_err(|e| e.to_string())?;
            std::fs::write(p, bytes).map_err(|e| e.to_string())?;
        }
        let log = root.join("agent.log");
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let agent = Command::new(&self.settings.bin)
            .args(["agent", "--config"])
            .arg(&config_path)
            .current_dir(&root)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &root)
            .env("GITHUB_API_URL", &self.settings.github_api)
            .env("MC_GITOPS_LOG", "debug")
            // Its own process group, so the whole unit can be killed as systemd would.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start the agent: {e}"))?;
        Ok(Machine {
            server_id: id,
            minecraft_dir,
            log,
            user_data: user_data.to_string(),
            agent: Some(agent),
            exit: None,
        })
    }
}

fn parse_agent(path: &Path, text: &str) -> Result<mc_gitops::agent_toml::AgentConfig, String> {
    mc_gitops::agent_toml::parse(&path.display().to_string(), text).map_err(|e| match e {
        mc_gitops::agent_toml::ConfigError::Invalid { diags, .. } => format!(
            "the agent refuses the agent.toml the user-data carries:\n{}\n{text}",
            diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
        ),
        other => other.to_string(),
    })
}

/// An absolute path of the VPS, under this machine's temp root.
fn under(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// What cloud-init's `write_files` does, under `root`.
pub(crate) fn write_files(root: &Path, user_data: &str) -> Result<(), String> {
    if !user_data.starts_with("#cloud-config") {
        return Err(format!(
            "user-data does not start with #cloud-config: {:?}",
            &user_data[..user_data.len().min(40)]
        ));
    }
    let cfg: CloudConfig = serde_norway::from_str(user_data).map_err(|e| format!("user-data is not YAML cloud-init reads: {e}"))?;
    for f in cfg.write_files {
        let bytes = match f.encoding.as_deref() {
            None | Some("text/plain") => f.content.into_bytes(),
            Some(other) => return Err(format!("{}: encoding {other:?} is not handled by the stand-in", f.path)),
        };
        let dest = under(root, Path::new(&f.path));
        std::fs::create_dir_all(dest.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::write(&dest, bytes).map_err(|e| format!("{}: {e}", dest.display()))?;
        if let Some(mode) = f.permissions {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                u32::from_str_radix(mode.trim_start_matches("0o"), 8).map_err(|e| format!("{}: permissions {mode:?}: {e}", f.path))?;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// What systemd's `KillMode=mixed` does: SIGTERM to the agent, a bounded
/// wait, then SIGKILL to whatever is left of the unit (its process group).
fn terminate(agent: Option<&mut Child>) -> String {
    let Some(child) = agent else { return "no agent".into() };
    let how = term_and_wait(child);
    // SAFETY: kill(2) on the process group our child leads.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    how
}

fn term_and_wait(child: &mut Child) -> String {
    if let Ok(Some(status)) = child.try_wait() {
        return format!("had exited before the deletion: {status}");
    }
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let until = Instant::now() + TERM_WAIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return format!("terminated: {status}"),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return format!("did not exit within {TERM_WAIT:?} of SIGTERM; killed");
            }
        }
    }
}
