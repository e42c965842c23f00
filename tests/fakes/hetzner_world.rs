//! The fake Hetzner's world as it changes: a fresh world with the catalog,
//! ids, actions that run over polls, servers inserted and observed as they
//! boot (`initializing` → `running`, then `off` for a `power_state` user-data).

use super::*;

impl World {
    pub(super) fn seeded() -> World {
        World {
            next_id: 1000,
            next_ip: 10,
            next_ipv4: None,
            servers: BTreeMap::new(),
            actions: BTreeMap::new(),
            server_types: catalog::SERVER_TYPES.iter().map(catalog::server_type_json).collect(),
            firewalls: BTreeMap::new(),
            images: BTreeMap::new(),
            image_actions: BTreeMap::new(),
            powers_off: BTreeSet::new(),
            ssh_keys: BTreeMap::new(),
            sold_out: BTreeSet::new(),
            failing: BTreeMap::new(),
            polls_to_running: 2,
            action_polls: 2,
            faults: vec![],
            hangs: vec![],
            rate_limited: 0,
            rate_limit_secs: 1,
            last_reset: None,
            remaining: RATE_LIMIT,
            calls: vec![],
        }
    }

    pub(crate) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(crate) fn new_action(&mut self, command: &str, resources: &[(u64, &str)]) -> u64 {
        let id = self.id();
        let json = catalog::action_json(id, command, resources, &now_rfc3339());
        self.actions.insert(id, Polled { json, polls: 0 });
        id
    }

    /// Create a server record; `None` when the image does not exist for the
    /// type's architecture.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert_server(
        &mut self,
        name: &str,
        labels: &Value,
        location: &str,
        t: &Value,
        image: &str,
        firewalls: Vec<u64>,
        (v4, v6): (bool, bool),
    ) -> Option<u64> {
        let created = now_rfc3339();
        let image = routes::images::boot_image(self, image, t["architecture"].as_str().unwrap_or("x86")).ok()?;
        let id = self.id();
        let n = self.next_ip;
        self.next_ip += 1;
        let json = catalog::server_json(catalog::NewServer {
            id,
            name,
            labels,
            location,
            server_type: t,
            image,
            ipv4: v4.then(|| {
                self.next_ipv4
                    .take()
                    .unwrap_or_else(|| format!("203.0.113.{}", 10 + (n - 10) % 240))
            }),
            ipv6: v6.then(|| format!("2001:db8:{n:x}::/64")),
            firewalls,
            created: &created,
        });
        self.servers.insert(id, Polled { json, polls: 0 });
        Some(id)
    }

    /// A read of a server: after enough of them it is `running`.
    pub(crate) fn observe_server(&mut self, id: u64) -> Option<Value> {
        let n = self.polls_to_running;
        let s = self.servers.get_mut(&id)?;
        s.polls += 1;
        if s.polls >= n && s.json["status"] == "initializing" {
            s.json["status"] = json!("running");
        } else if s.polls > n && s.json["status"] == "running" && self.powers_off.contains(&id) {
            s.json["status"] = json!("off");
        }
        Some(s.json.clone())
    }

    /// A read of an action: progress advances, then success (or error).
    pub(crate) fn observe_action(&mut self, id: u64) -> Option<Value> {
        let n = self.action_polls;
        let a = self.actions.get_mut(&id)?;
        if a.json["status"] != "running" {
            return Some(a.json.clone());
        }
        a.polls += 1;
        if a.polls >= n {
            a.json["progress"] = json!(100);
            a.json["finished"] = json!(now_rfc3339());
            let command = a.json["command"].as_str().unwrap_or_default().to_string();
            match self.failing.get(&command) {
                Some((code, message)) => {
                    a.json["status"] = json!("error");
                    a.json["error"] = json!({ "code": code, "message": message });
                }
                None => a.json["status"] = json!("success"),
            }
        } else {
            a.json["progress"] = json!(a.polls * 100 / n);
        }
        Some(a.json.clone())
    }
}
