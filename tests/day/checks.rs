//! The assertions at the end of a day, all from outside: the ledger on the
//! remote's `main`, the fakes' call logs, storage and the world in it, and
//! no secret in any log, commit, output or user-data.

use std::time::Duration;

use axum::http::Method;

use crate::bots::Bots;
use crate::cloudflare_fake;
use crate::outside::tree;
use crate::world::Day;

impl Day {
    /// Wait for a bot event; fail with the day's story.
    pub(crate) fn wait_bot(&self, bots: &Bots, name: &str, kinds: &[&str], after: usize) -> serde_json::Value {
        match bots.wait(name, kinds, after, Duration::from_secs(45)) {
            Ok(e) => {
                self.note(format!("{name}: {e}"));
                e
            }
            Err(e) => self.fail(&e),
        }
    }

    /// Successful `DELETE /servers/{id}` calls.
    pub(crate) fn server_deletes(&self) -> usize {
        self.h
            .requests()
            .iter()
            .filter(|c| c.method == Method::DELETE && c.route().starts_with("/servers/") && c.status < 300)
            .filter(|c| c.route().matches('/').count() == 2)
            .count()
    }

    /// Creates and deletes in call order never leave two servers at once.
    fn never_two_servers(&self) -> bool {
        let mut live = 0i32;
        let mut max = 0;
        for c in self.h.requests().iter().filter(|c| c.status < 300) {
            if c.method == Method::POST && c.route() == "/servers" {
                live += 1;
            } else if c.method == Method::DELETE && c.route().starts_with("/servers/") && c.route().matches('/').count() == 2 {
                live -= 1;
            }
            max = max.max(live);
        }
        max <= 1 && self.vps.seen().max_servers <= 1
    }
}

/// After the server is gone: one created, one deleted, DNS, the ledger.
pub(crate) fn after_the_day(day: &Day, reason: &str) {
    day.check("one server was created", day.h.count_route(Method::POST, "/servers") == 1);
    day.check("one server was deleted", day.server_deletes() == 1);
    day.check("never two servers at once", day.never_two_servers());
    day.check("the A record is removed", day.a_record().is_none());
    let mut writes: Vec<_> = day
        .cf
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/dns_records") && r.method != Method::GET)
        .collect();
    // The first run's doctor proves DNS edit with a probe record it deletes at once.
    let probe = |r: &cloudflare_fake::Recorded| {
        r.body
            .as_ref()
            .and_then(|b| b["name"].as_str())
            .is_some_and(|n| n.starts_with("mc-gitops-doctor-"))
    };
    if writes.first().is_some_and(probe) && writes.get(1).is_some_and(|r| r.method == Method::DELETE) {
        writes.drain(..2);
    }
    day.check("no other doctor probe was written", !writes.iter().any(probe));
    let dns: Vec<String> = writes
        .iter()
        .map(|r| format!("{} {}", r.method, r.body.as_ref().map_or(String::new(), |b| b["type"].to_string())))
        .collect();
    day.check(
        &format!("DNS: A and SRV created, then only the A removed: {dns:?}"),
        dns == ["POST \"A\"", "POST \"SRV\"", "DELETE "] && day.cf.records().iter().any(|r| r.kind == "SRV"),
    );
    let machines: Vec<String> = day
        .vps
        .seen()
        .machines
        .iter()
        .map(|m| format!("{}: {}", m.server_id, m.exit.clone().unwrap_or_default()))
        .collect();
    day.check(
        &format!("the agent exited cleanly at the deletion: {machines:?}"),
        machines.len() == 1 && machines[0].contains("terminated: exit status: 0"),
    );
    let sessions = day.sessions();
    day.check(&format!("one session file: {sessions:?}"), sessions.len() == 1);
    let (path, text) = &sessions[0];
    let s: toml::Value = toml::from_str(text).unwrap_or_else(|e| day.fail(&format!("{path} is not TOML: {e}\n{text}")));
    day.check(
        &format!("{path} ends for `{reason}`:\n{text}"),
        s.get("end_reason").and_then(|v| v.as_str()) == Some(reason),
    );
    if reason == "idle" {
        day.check(
            &format!("{path} has peak_players = 2"),
            s.get("peak_players").and_then(|v| v.as_integer()) == Some(2),
        );
    }
    let backups = s.get("backups").and_then(|v| v.as_integer()).unwrap_or(0);
    day.check(&format!("{path} counts the backups ({backups})"), backups >= 1);
    day.check(
        &format!("{path} has the world's size"),
        s.get("world_bytes").and_then(|v| v.as_integer()).is_some_and(|b| b > 0),
    );
    let month = path.trim_start_matches("sessions/").get(..7).unwrap_or_default().replace('/', "-");
    for f in [format!("costs/{month}.toml"), "COSTS.md".into(), "STATUS.md".into()] {
        day.check(&format!("{f} is on main"), day.remote_file(&f).is_some());
    }
    day.check(
        "server.toml on main says stopped",
        day.remote_file("server.toml").is_some_and(|t| t.contains("state = \"stopped\"")),
    );
    let last_edit = crate::world::git(&day.remote, &["log", "-1", "--format=%an", "main", "--", "server.toml"]);
    day.check(
        &format!("the bot set it ({last_edit:?} made the last change to server.toml)"),
        last_edit.trim() == "mc-gitops[bot]",
    );
    let message = crate::world::git(&day.remote, &["log", "-1", "--format=%B", "main", "--", "server.toml"]);
    day.check(
        &format!("the bot's commit of the stop says why ({reason}):\n{message}"),
        message.contains(reason),
    );
    day.check("Discord heard the stop", day.discord_said("stopped"));
}

/// Storage: snapshots present, retention held, the world restorable and
/// equal to what the Minecraft peer wrote; the agent's keys scoped.
pub(crate) fn storage_and_world(day: &Day) {
    let snapshots = day.snapshots();
    day.check(&format!("snapshots are in storage: {snapshots:?}"), !snapshots.is_empty());
    let restored = day.restore_current();
    let world = day.vps.seen().machines.last().map(|m| m.minecraft_dir.join("world")).unwrap();
    let (want, got) = (tree(&world), tree(&restored));
    day.check(
        &format!("the Minecraft peer wrote a world ({} files)", want.len()),
        !want.is_empty(),
    );
    for (rel, bytes) in want.iter().filter(|(rel, _)| !rel.ends_with("session.lock")) {
        day.check(
            &format!("the restored world has {rel} as the peer left it"),
            got.get(rel) == Some(bytes),
        );
    }
    day.check(&format!("retention keeps at most 2: {snapshots:?}"), snapshots.len() <= 2);
    // mods.lock's [[cache]]: apply stored Mojang's jar, the agent placed it
    // from storage (the stand-in's download cache holds only server.jar and
    // the mods), where Fabric's launcher looks before downloading it.
    let lock = mc_gitops::repo::load(&day.admin).unwrap().desired.lock;
    for c in &lock.cache {
        let placed = day.vps.seen().machines.last().map(|m| m.minecraft_dir.join(&c.path)).unwrap();
        let sha = std::fs::read(&placed)
            .map(|b| {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(&b))
            })
            .unwrap_or_default();
        day.check(
            &format!("{} was placed from storage with the locked sha256", c.path),
            sha == c.sha256,
        );
    }
    day.check("mods.lock pins the vanilla jar for the cache", !lock.cache.is_empty());
    let user_data: Vec<String> = day.vps.seen().machines.iter().map(|m| m.user_data.clone()).collect();
    day.check(
        "the VPS holds minted keys, never the account's",
        user_data.iter().all(|u| !u.contains(crate::s3_fake::ACCESS_KEY))
            && day
                .cf
                .issued_with_requests()
                .iter()
                .filter(|(_, asked)| !doctors(asked))
                .all(|(c, _)| {
                    let id = c["accessKeyId"].as_str().unwrap_or("?");
                    user_data.iter().any(|u| u.contains(id))
                }),
    );
    for (_, body) in day.cf.issued_with_requests() {
        if doctors(&body) {
            day.check(
                &format!("doctor's probe credentials are read-only, for doctor/ only, for a minute: {body}"),
                body["permission"] == "object-read-only" && body["ttlSeconds"] == 60,
            );
            continue;
        }
        let prefixes: Vec<&str> = body["prefixes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str())
            .collect();
        day.check(
            &format!("the agent's keys are scoped to the server's prefixes: {body}"),
            !prefixes.is_empty() && prefixes.iter().all(|p| p.contains("/grove/")),
        );
    }
}

/// No secret in any log, commit, output or user-data (the minted, scoped
/// keys only in the user-data and storage; the nudge token only in storage).
pub(crate) fn no_secret_anywhere(day: &Day) {
    let history = crate::world::git(&day.remote, &["log", "-p", "--all", "--format=%an %ae %s %b"]);
    let mut minted = vec![];
    for c in day.cf.issued_credentials() {
        minted.push(c["secretAccessKey"].as_str().unwrap_or_default().to_string());
        minted.push(c["sessionToken"].as_str().unwrap_or_default().to_string());
    }
    let machines: Vec<(u64, String, String)> = day
        .vps
        .seen()
        .machines
        .iter()
        .map(|m| (m.server_id, m.user_data.clone(), m.log_text()))
        .collect();
    let runs: Vec<String> = day.runs.lock().unwrap().iter().map(|r| r.log()).collect();
    day.note("checking every log, commit, output, user-data and object for secrets");
    for secret in day.all_secrets().iter().chain(&minted) {
        ensure(day, "no secret in the remote's history", !history.contains(secret.as_str()));
        for (id, user_data, log) in &machines {
            ensure(
                day,
                &format!("no secret in server {id}'s agent log"),
                !log.contains(secret.as_str()),
            );
            if !minted.contains(secret) {
                ensure(
                    day,
                    &format!("no secret in server {id}'s user-data"),
                    !user_data.contains(secret.as_str()),
                );
            }
        }
        for (i, log) in runs.iter().enumerate() {
            ensure(day, &format!("no secret in run {}'s output", i + 1), !log.contains(secret.as_str()));
        }
    }
    for secret in day.all_secrets().iter().filter(|s| s.as_str() != crate::world::NUDGE_TOKEN) {
        for key in day.storage_keys() {
            let bytes = std::fs::read(day.s3.object_file(&key)).unwrap_or_default();
            ensure(
                day,
                &format!("no secret in storage object {key}"),
                !String::from_utf8_lossy(&bytes).contains(secret.as_str()),
            );
        }
    }
}

/// `Day::check` without a timeline line (for checks made in loops).
/// Credentials `mc-gitops doctor` minted to prove it can (scoped to its probe prefix).
fn doctors(asked: &serde_json::Value) -> bool {
    asked["prefixes"] == serde_json::json!(["doctor/"])
}

fn ensure(day: &Day, what: &str, cond: bool) {
    if !cond {
        day.fail(&format!("does not hold: {what}"));
    }
}
