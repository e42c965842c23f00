//! What the running server is given: the live whitelist and ops, the files
//! for this or the next start, and the DNS records that lead players to it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Builder, DNS_TTL, GAME_PORT};
use crate::observe::ControlState;
use crate::plan::{
    Change, IpTarget, Op, PutAsset, RemoveAsset, SetDnsA, SetDnsSrv, Step, UpdateOps, UpdateShutdownPolicy, UpdateWhitelist, assets,
};

impl Builder<'_> {
    pub(super) fn live_lists(&mut self, control: &ControlState) {
        let d = self.d;
        let want = assets::whitelist_names(d);
        let want_uuids = assets::whitelist_uuids(d);
        if control.whitelist != want || control.whitelist_uuids != want_uuids {
            let (added, removed) = delta(&control.whitelist, &want);
            // The names when they change (the step carries the UUIDs too);
            // the UUIDs when only they do (`check --fix` filled one in).
            let (before, after, why) = if control.whitelist != want {
                (json!(control.whitelist), json!(want), added_removed(&added, &removed))
            } else {
                (json!(control.whitelist_uuids), json!(want_uuids), "players' uuids changed".into())
            };
            self.change(
                Op::Update,
                "whitelist (live)",
                Step::UpdateWhitelist(UpdateWhitelist {
                    players: want.clone(),
                    uuids: want_uuids.clone(),
                }),
                before,
                after,
                format!("players/ changed: {why}"),
            );
        }
        let learned = &self.o.learned_shutdown;
        if control.shutdown != *learned {
            self.change(
                Op::Update,
                "shutdown policy (live)",
                Step::UpdateShutdownPolicy(UpdateShutdownPolicy { policy: learned.clone() }),
                policy_summary(control.shutdown.as_ref()),
                policy_summary(learned.as_ref()),
                "learned from the ledger's join and leave times (docs/simulate.md)",
            );
        }
        let want_ops = assets::op_entries(d);
        if control.ops != want_ops {
            self.change(
                Op::Update,
                "ops (live)",
                Step::UpdateOps(UpdateOps { ops: want_ops.clone() }),
                json!(control.ops),
                json!(want_ops),
                "ops.toml changed",
            );
        }
    }

    /// Files the server needs. At a start every file is shipped; while
    /// running, only what changed, used at the next start.
    pub(super) fn assets(&mut self, starting: bool) {
        let want = assets::render(self.d);
        let (empty, no_damage) = (BTreeMap::new(), BTreeMap::new());
        let (have, damaged) = match &self.o.control {
            Some(c) => (&c.assets, &c.damaged),
            None => (&empty, &no_damage),
        };
        let when = if starting {
            "shipped for the new session"
        } else {
            "stored for the next start"
        };
        for (path, file) in &want {
            let before = have.get(path);
            if before.is_some_and(|b| b.hash == file.hash) {
                // Listed unchanged, but its stored copy is gone or not these
                // bytes (the VPS can write `assets/<s>/`): sent again, or the
                // new agent refuses it and the server never becomes playable.
                if let Some(damage) = damaged.get(path) {
                    self.changes.push(Change {
                        op: Op::Update,
                        resource: format!("file {path}"),
                        step: Step::PutAsset(PutAsset {
                            path: path.clone(),
                            file: file.clone(),
                        }),
                        before: json!(damage.to_string()),
                        after: json!(file.hash),
                        reason: match starting {
                            true => format!("{damage}; {when}"),
                            false => format!("{damage}; sent again for the agent, still provisioning"),
                        },
                        diff: None,
                    });
                }
                continue;
            }
            let op = if before.is_some() { Op::Update } else { Op::Create };
            let diff = file.text.as_ref().map(|after| {
                let old = before.and_then(|b| b.text.clone()).unwrap_or_default();
                unified_diff(path, &old, after)
            });
            self.changes.push(Change {
                op,
                resource: format!("file {path}"),
                step: Step::PutAsset(PutAsset {
                    path: path.clone(),
                    file: file.clone(),
                }),
                before: before.map_or(Value::Null, |b| json!(b.hash)),
                after: json!(file.hash),
                reason: match (starting, path.as_str()) {
                    (false, "whitelist.json" | "ops.json") => format!("{when}; the running server gets the change live"),
                    (false, "server.properties") => format!("{when}: Minecraft reads it only at boot"),
                    _ => when.to_string(),
                },
                diff,
            });
        }
        for (path, old) in have {
            if want.contains_key(path) {
                continue;
            }
            self.changes.push(Change {
                op: Op::Delete,
                resource: format!("file {path}"),
                step: Step::RemoveAsset(RemoveAsset { path: path.clone() }),
                before: json!(old.hash),
                after: Value::Null,
                reason: format!("no longer in the repo; {when}"),
                diff: old.text.as_ref().map(|t| unified_diff(path, t, "")),
            });
        }
    }

    pub(super) fn dns_for(&mut self, target: &IpTarget) {
        let d = self.d;
        let host = d.server.dns.host();
        let observed = self.o.dns.as_ref();
        let drift = observed.is_some_and(|x| !x.drift.is_empty());
        let a_ok = !drift
            && match (observed.and_then(|x| x.a.as_ref()), target) {
                (Some(have), IpTarget::Address(want)) => have == want,
                _ => false,
            };
        if !a_ok {
            let before = observed.map_or(json!("(not observed)"), |x| json!(x.a));
            let op = if observed.is_some_and(|x| x.a.is_some()) {
                Op::Update
            } else {
                Op::Create
            };
            let after_ip = match target {
                IpTarget::NewServer => json!("(the new server's address)"),
                IpTarget::Address(ip) => json!(ip),
            };
            self.change(
                op,
                format!("dns A {host}"),
                Step::SetDnsA(SetDnsA {
                    name: host.clone(),
                    target: target.clone(),
                    ttl: DNS_TTL,
                    proxied: false,
                }),
                before,
                json!({ "content": after_ip, "ttl": DNS_TTL, "proxied": false }),
                "players connect by name; TTL 60 and DNS only, so a new address is seen within a minute",
            );
        }
        if d.server.dns.srv {
            let want = (host.clone(), GAME_PORT);
            let have = observed.and_then(|x| x.srv.clone());
            if drift || have.as_ref() != Some(&want) {
                let srv_name = d.server.dns.srv_name();
                let op = if have.is_some() { Op::Update } else { Op::Create };
                self.change(
                    op,
                    format!("dns SRV {srv_name}"),
                    Step::SetDnsSrv(SetDnsSrv {
                        name: srv_name,
                        target: host.clone(),
                        port: GAME_PORT,
                        priority: 0,
                        weight: 5,
                        ttl: DNS_TTL,
                    }),
                    observed.map_or(json!("(not observed)"), |_| json!(have.map(|(h, p)| format!("{h}:{p}")))),
                    json!(format!("0 5 {GAME_PORT} {host}")),
                    "lets players type the zone name alone",
                );
            }
        }
    }
}

fn delta<T: Ord + Clone>(have: &[T], want: &[T]) -> (Vec<T>, Vec<T>) {
    let added = want.iter().filter(|w| !have.contains(w)).cloned().collect();
    let removed = have.iter().filter(|h| !want.contains(h)).cloned().collect();
    (added, removed)
}

fn added_removed(added: &[crate::ids::PlayerName], removed: &[crate::ids::PlayerName]) -> String {
    let list = |v: &[crate::ids::PlayerName]| v.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
    match (added.is_empty(), removed.is_empty()) {
        (false, false) => format!("adds {}; removes {}", list(added), list(removed)),
        (false, true) => format!("adds {}", list(added)),
        (true, false) => format!("removes {}", list(removed)),
        (true, true) => "order only".into(),
    }
}

pub(super) fn unified_diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// A learned policy as the plan shows it: per context (`weekday 18-21h #1`), the keep time.
fn policy_summary(p: Option<&crate::shutdown::ShutdownPolicy>) -> Value {
    match p {
        None => Value::Null,
        Some(p) => {
            let keep: serde_json::Map<String, Value> = p
                .rules
                .iter()
                .map(|r| {
                    let days = match r.days {
                        crate::shutdown::DayKind::Weekday => "weekday",
                        crate::shutdown::DayKind::Weekend => "weekend",
                    };
                    let key = format!(
                        "{days} {:02}-{:02}h #{}",
                        r.hour_from,
                        r.hour_from + crate::shutdown::HOURS_PER_BUCKET,
                        r.sitting
                    );
                    (key, json!(format!("{} min", r.keep_minutes)))
                })
                .collect();
            json!({
                "leaves": p.leaves,
                "expected_cold_starts": p.expected_cold_starts,
                "seed_cold_starts": p.seed_cold_starts,
                "keep": keep,
            })
        }
    }
}
