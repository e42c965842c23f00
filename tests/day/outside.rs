//! What the test may look at: only what is outside the code under test.
//! The bare remote's history and files, the objects in storage (the S3
//! server's directory), the fakes' logs, Server List Pings. And `wait`,
//! which on a timeout fails with everything needed to see which seam broke:
//! the timeline, every run's log, the agents' log tails, the watcher's errors.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::world::{Day, git, text_of};

impl Day {
    /// Wait (bounded) until `cond` holds; fail with the whole day's story.
    pub(crate) fn wait(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let until = Instant::now() + timeout;
        while !cond() {
            if Instant::now() > until {
                self.fail(&format!("timed out after {timeout:?} waiting for: {what}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.note(format!("✓ {what}"));
    }

    /// Check `cond` now; fail with the whole day's story when it does not hold.
    pub(crate) fn check(&self, what: &str, cond: bool) {
        if !cond {
            self.fail(&format!("does not hold: {what}"));
        }
        self.note(format!("✓ {what}"));
    }

    /// Run `n` succeeded; else fail with its Apply step's output.
    pub(crate) fn check_run(&self, n: usize, what: &str) {
        if !self.run_ok(n) {
            self.fail(&format!("does not hold: {what} (run {n}):\n{}", self.apply_output(n)));
        }
        self.note(format!("✓ {what} (run {n})"));
    }

    pub(crate) fn fail(&self, why: &str) -> ! {
        let mut story = format!(
            "THE DAY BROKE: {why}\n\n== timeline\n{}\n",
            self.timeline.lock().unwrap().join("\n")
        );
        if let Ok(runs) = self.runs.try_lock() {
            for (i, r) in runs.iter().enumerate() {
                story.push_str(&format!("\n== run {} ({} {:?})\n{}", i + 1, r.event, r.inputs, r.log()));
            }
        }
        story.push_str(&format!("\n== VPS stand-in errors: {:?}\n", self.vps.seen().errors));
        story.push_str(&self.vps.logs_tail(60));
        story.push_str(&format!("\n== Discord posts: {:?}\n", self.discord_posts()));
        story.push_str(&format!("\n== remote history:\n{}", self.remote_log()));
        story.push_str(&format!("\n== full logs kept in {}\n", self.keep_logs(&story).display()));
        panic!("{story}");
    }

    /// Copy the story, every agent log and user-data, and every run's log
    /// out of the temp dir, for reading after the test.
    fn keep_logs(&self, story: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "day-{}-{}",
            std::process::id(),
            std::thread::current().name().unwrap_or("main")
        ));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("story.txt"), story);
        for m in &self.vps.seen().machines {
            let _ = std::fs::write(dir.join(format!("agent-{}.log", m.server_id)), m.log_text());
            for f in ["whitelist.json", "ops.json"] {
                let _ = std::fs::copy(m.minecraft_dir.join(f), dir.join(format!("{}-{f}", m.server_id)));
            }
        }
        if let Ok(runs) = self.runs.try_lock() {
            for (i, r) in runs.iter().enumerate() {
                let _ = std::fs::write(dir.join(format!("run-{}.log", i + 1)), r.log());
            }
        }
        dir
    }

    // --- the remote ------------------------------------------------------

    /// `main`'s history: `<author name> | <subject>` per commit, newest first.
    pub(crate) fn remote_log(&self) -> String {
        git(&self.remote, &["log", "--format=%an <%ae> | %s", "main"])
    }

    /// A file as it is on the remote's `main`.
    pub(crate) fn remote_file(&self, path: &str) -> Option<String> {
        let out = std::process::Command::new("git")
            .args(["show", &format!("main:{path}")])
            .current_dir(&self.remote)
            .output()
            .unwrap();
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub(crate) fn remote_files(&self, under: &str) -> Vec<String> {
        git(&self.remote, &["ls-tree", "-r", "--name-only", "main", "--", under])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Session files on `main`: (path, text).
    pub(crate) fn sessions(&self) -> Vec<(String, String)> {
        self.remote_files("sessions")
            .into_iter()
            .map(|p| {
                let t = self.remote_file(&p).unwrap();
                (p, t)
            })
            .collect()
    }

    // --- storage ---------------------------------------------------------

    /// Every object key in the bucket.
    pub(crate) fn storage_keys(&self) -> Vec<String> {
        let root = self.s3.object_file("");
        let mut out = vec![];
        walk(&root, &mut |p| {
            let key = p.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            if !key.starts_with('.') && !key.contains("/.") {
                out.push(key);
            }
        });
        out.sort();
        out
    }

    pub(crate) fn storage_json(&self, key: &str) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.s3.object_file(key)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The agent's `status.json` phase, as storage holds it now.
    pub(crate) fn agent_phase(&self) -> Option<String> {
        self.storage_json("control/grove/status.json")
            .and_then(|v| v["phase"].as_str().map(str::to_string))
    }

    /// Snapshot manifests in storage (one per backup).
    pub(crate) fn snapshots(&self) -> Vec<String> {
        self.storage_keys()
            .into_iter()
            .filter(|k| k.starts_with("worlds/grove/backups/") && k.ends_with(".json"))
            .collect()
    }

    /// `mc-gitops world restore` of the current snapshot, as the admin
    /// runs it with the account's keys, into a new directory.
    pub(crate) fn restore_current(&self) -> PathBuf {
        let clone = self.tmp.path().join("restore-repo");
        if !clone.exists() {
            git(
                self.tmp.path(),
                &["clone", "--quiet", &self.remote.display().to_string(), "restore-repo"],
            );
        }
        let dir = self.tmp.path().join("restored-world");
        let out = std::process::Command::new(crate::world::bin())
            .args(["world", "restore", "--repo"])
            .arg(&clone)
            .arg("--dir")
            .arg(&dir)
            .envs(self.s3.env())
            .env_remove("MC_GITOPS_STORAGE_DIR")
            .output()
            .unwrap();
        if !out.status.success() {
            self.fail(&format!("world restore of the current snapshot failed: {}", text_of(&out)));
        }
        dir
    }

    // --- fakes -----------------------------------------------------------

    pub(crate) fn discord_posts(&self) -> Vec<String> {
        self.discord
            .posts()
            .iter()
            .map(|p| p["content"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub(crate) fn discord_said(&self, needle: &str) -> bool {
        self.discord_posts().iter().any(|p| p.contains(needle))
    }

    /// Server List Ping with mcstatus (a third-party client).
    pub(crate) fn ping(&self) -> Result<serde_json::Value, String> {
        let out = std::process::Command::new(crate::common::python())
            .arg(crate::common::peers().join("mcstatus_ping.py"))
            .arg(self.game_port.to_string())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(text_of(&out));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.lines().last().unwrap_or_default()).map_err(|e| format!("{e}: {text}"))
    }

    /// The A record's address: where DNS sends the players.
    pub(crate) fn a_record(&self) -> Option<String> {
        self.cf
            .records()
            .into_iter()
            .find(|r| r.kind == "A" && r.name == format!("mc.{}", crate::cloudflare_fake::ZONE))
            .map(|r| r.content)
    }
}

pub(crate) fn walk(dir: &Path, f: &mut impl FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

/// Files under `dir`, relative, with their bytes.
pub(crate) fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    walk(dir, &mut |p| {
        out.insert(
            p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(),
            std::fs::read(p).unwrap_or_default(),
        );
    });
    out
}
