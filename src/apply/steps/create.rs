//! A new session: record it (or rebuild it from the server's labels after a
//! lost run), create the server with its user-data, and hand the agent its
//! document at once.

use super::{Apply, ApplyError, Ctx, Outcome, Report, RunState, control, flush_control, write};
use crate::hetzner::{FirewallRule, ServerSpec, candidates};
use crate::ids::SessionId;
use crate::plan::{CreateServer, OpenSession};
use crate::repo::ledger::{Event, Price, Session};

pub(super) fn new_session(cx: &Ctx<'_>, id: &SessionId, region: &crate::ids::RegionKey, started: chrono::DateTime<chrono::Utc>) -> Session {
    Session::opened(id, &cx.desired.server.name, region, started)
}

impl Apply for OpenSession {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        let OpenSession {
            session: id,
            region,
            recovered,
            restore,
        } = self;
        let resource = format!("session {id}");
        let servers = cx
            .hetzner
            .list_servers(&crate::observe::live::selector(cx.desired))
            .await
            .map_err(|source| ApplyError::Hetzner {
                resource: resource.clone(),
                source: source.into(),
            })?;
        if *recovered {
            let Some(server) = servers.iter().find(|s| crate::labels::session_of(&s.labels) == Some(id.as_str())) else {
                return Err(ApplyError::Stale {
                    resource,
                    why: "the server to recover the session from is gone".into(),
                });
            };
            let mut s = new_session(cx, id, region, server.created);
            fill_from_server(&mut s, server, None);
            // The backup the lost run told this session's agent to restore; or,
            // when its agent was never handed a document (it waits), the one
            // the plan honours now (`plan::planner::handover`).
            let doc = control(cx, st).await?;
            if doc.session.as_ref() == Some(id) {
                s.restored_from = doc.restore.clone();
            } else if let Some(backup) = restore {
                s.restored_from = Some(backup.to_string());
                s.events.push(Event {
                    at: cx.now,
                    what: format!("the world starts from backup {backup} (server.toml `restore`)"),
                });
            }
            s.events.push(Event {
                at: cx.now,
                what: "session record rebuilt from the server (an earlier run did not record it)".into(),
            });
            write(cx, st, report, s)?;
            report.message.push(format!("recover session {id}"));
            return Ok(Outcome::Done("rebuilt from the server's labels".into()));
        }
        if let Some(existing) = servers.first() {
            forget_control(st);
            return Err(ApplyError::Stale {
                resource,
                why: format!("server {} already exists", existing.name),
            });
        }
        let mut s = new_session(cx, id, region, cx.now);
        s.events.push(Event {
            at: cx.now,
            what: format!("start requested in {region}"),
        });
        write(cx, st, report, s)?;
        Ok(Outcome::Done(format!("{} written", id.file())))
    }
}

pub(super) fn fill_from_server(s: &mut Session, server: &crate::hetzner::Server, price: Option<Price>) {
    s.location = Some(server.location.clone());
    s.server_type = Some(server.server_type.clone());
    s.server_id = Some(server.id);
    s.ipv4 = server.ipv4.clone();
    if price.is_some() {
        s.price = price;
    }
}

/// The server's price plus its primary IPv4's, which Hetzner bills separately.
pub(super) fn session_price(server: Option<Price>, ipv4: Option<Price>) -> Option<Price> {
    let mut p = server?;
    if let Some(ip) = ipv4 {
        p.hourly_net += ip.hourly_net;
        p.hourly_gross += ip.hourly_gross;
        p.monthly_net += ip.monthly_net;
        p.monthly_gross += ip.monthly_gross;
    }
    Some(p)
}

impl Apply for CreateServer {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        let CreateServer {
            name,
            session,
            region,
            locations,
            server_types,
            image,
            snapshot,
            labels,
            ..
        } = self;
        let resource = format!("hetzner server {name}");
        let h = |source: crate::hetzner::HetznerError| ApplyError::Hetzner {
            resource: resource.clone(),
            source: source.into(),
        };
        let listing = cx.hetzner.server_types().await.map_err(h)?;
        let mut choice = candidates(locations, server_types, &listing).map_err(|e| h(e.into()))?;
        // The prebuilt image boots only types of its architecture: those are
        // kept, in the region's order; with none of them, the stock image.
        let image = match boot_image(snapshot.as_ref(), &mut choice.candidates, &listing) {
            Some(id) => id,
            None => image.clone(),
        };
        let fw_labels = crate::labels::owned(cx.desired.server.name.as_str());
        let firewall = cx
            .hetzner
            .ensure_firewall(
                &format!("{}-minecraft", cx.desired.server.name),
                &fw_labels,
                &FirewallRule::minecraft(&cx.desired.server.ssh.allow_from),
                &crate::observe::live::selector(cx.desired),
            )
            .await
            .map_err(h)?;
        let mut ssh_keys = Vec::new();
        for key in &cx.desired.server.ssh.keys {
            match cx.hetzner.ssh_key_by_name(key).await.map_err(h)? {
                Some(k) => ssh_keys.push(k.id.to_string()),
                None => {
                    return Err(ApplyError::Invalid {
                        resource,
                        why: format!("SSH key {key:?} (ssh.keys in server.toml) does not exist in the Hetzner project"),
                    });
                }
            }
        }
        let mut spec = ServerSpec::new(name.clone(), image);
        spec.labels = labels.clone();
        // The life of the credentials minted for this server, which the planner
        // reads back to know when to renew them (`plan::planner::renew`).
        if let Some(c) = &cx.agent_credentials {
            spec.labels.extend(c.life().labels());
        }
        // Rendered now, right before the create request: the agent counts its
        // paid hours from this time. Hetzner's own `created` is a few seconds
        // later, so the agent's paid hour ends a little early, never late.
        spec.user_data = match &cx.user_data {
            Some(u) => Some(u.render_at(chrono::Utc::now()).map_err(|source| ApplyError::UserData {
                resource: resource.clone(),
                source,
            })?),
            None => None,
        };
        spec.ssh_keys = ssh_keys;
        spec.firewalls = vec![firewall];
        let created = cx.hetzner.create_with_fallback(&spec, &choice.candidates).await.map_err(h)?;
        let server = created.server.clone();
        let theirs = crate::labels::session_of(&server.labels);
        if created.adopted && theirs != Some(session.as_str()) {
            // Another run created the server for its own session first. This
            // run's session record goes (it was written by this run and never
            // had a server); the next run plans from what is there.
            let mine = cx.repo.join(session.file());
            if st.sessions.remove(session.as_str()).is_some() {
                let _ = std::fs::remove_file(&mine);
                report.files.retain(|f| f != &session.file());
            }
            forget_control(st);
            return Err(ApplyError::Stale {
                resource,
                why: format!("another run created it for session {} first", theirs.unwrap_or("?")),
            });
        }
        // The server exists; nothing records its session yet.
        crate::apply::crash_here("server-created")?;

        let mut s = st
            .sessions
            .get(session.as_str())
            .cloned()
            .unwrap_or_else(|| new_session(cx, session, region, cx.now));
        fill_from_server(&mut s, &server, session_price(created.price.clone(), created.ipv4_price.clone()));
        if let Some(m) = &cx.restore {
            s.restored_from = Some(m.name.to_string());
            s.events.push(Event {
                at: cx.now,
                what: format!("the world starts from backup {} (server.toml `restore`)", m.name),
            });
        }
        for r in &created.refused {
            s.events.push(Event {
                at: cx.now,
                what: format!("{} in {} refused: {}", r.candidate.server_type, r.candidate.location, r.code),
            });
        }
        s.events.push(Event {
            at: cx.now,
            what: format!(
                "{} {} in {} (server {}){}",
                if created.adopted { "adopted" } else { "created" },
                server.server_type,
                server.location,
                server.id,
                server.ipv4.as_ref().map(|ip| format!(", {ip}")).unwrap_or_default()
            ),
        });
        write(cx, st, report, s)?;

        // The agent's control document for the new session.
        let desired = cx.desired;
        let doc = control(cx, st).await?;
        doc.session = Some(session.clone());
        doc.restore = cx.restore.as_ref().map(|m| m.name.to_string());
        doc.stop_requested = None;
        doc.stop_reason = None;
        doc.stop_warnings = Default::default();
        doc.whitelist = crate::plan::assets::whitelist_names(desired);
        doc.whitelist_uuids = crate::plan::assets::whitelist_uuids(desired);
        doc.ops = crate::plan::assets::op_entries(desired);
        st.control_dirty = true;
        // Written now, not at the end of the run: the new server's agent reads it
        // at boot, and a crash later in this run must not leave it an earlier
        // session's document (with that session's `restore`).
        flush_control(cx, st).await?;

        report.message.insert(
            0,
            format!("start {region} session {session} ({}, {})", server.server_type, server.location),
        );
        let what = format!(
            "{} {} in {}",
            if created.adopted { "adopted" } else { "created" },
            server.id,
            server.location
        );
        st.created = Some(server);
        Ok(Outcome::Done(what))
    }
}

/// Another run started the server first: the document this run read before
/// (and gave its files) may already be replaced by that run's, naming its
/// session. Not written back, so it cannot take that session's document from
/// its agent; the files it stored stay (content-addressed) for the next run.
fn forget_control(st: &mut RunState) {
    st.control = None;
    st.control_dirty = false;
}

/// The snapshot image to boot, as the create request names it, after
/// keeping only the candidates of its architecture; `None` (candidates
/// untouched) when there is no snapshot or no candidate could boot it.
fn boot_image(
    snapshot: Option<&crate::plan::BootImage>,
    candidates: &mut Vec<crate::hetzner::Candidate>,
    listing: &[crate::hetzner::ServerTypeInfo],
) -> Option<String> {
    let s = snapshot?;
    let arch_of = |c: &crate::hetzner::Candidate| listing.iter().find(|t| t.name == c.server_type).map(|t| t.architecture.as_str());
    let fitting: Vec<_> = candidates
        .iter()
        .filter(|c| arch_of(c) == Some(s.architecture.as_str()))
        .cloned()
        .collect();
    if fitting.is_empty() {
        tracing::warn!(image = %s.id, arch = %s.architecture, "no server type of the region can boot the prebuilt image; using the stock image");
        return None;
    }
    *candidates = fitting;
    Some(s.id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hetzner::images::ImageId;
    use crate::hetzner::{Candidate, ServerTypeInfo};
    use crate::ids::{Location, ServerType};
    use crate::plan::BootImage;

    fn ty(name: &str, arch: &str) -> ServerTypeInfo {
        ServerTypeInfo {
            id: 1,
            name: ServerType::new(name),
            description: name.into(),
            cores: 4,
            memory_gb: 8.0,
            disk_gb: 80.0,
            architecture: arch.into(),
            cpu_type: "shared".into(),
            deprecated: false,
            deprecation: None,
            locations: vec![],
        }
    }

    fn at(t: &str) -> Candidate {
        Candidate {
            location: Location::new("fsn1"),
            server_type: ServerType::new(t),
        }
    }

    #[test]
    fn the_prebuilt_image_keeps_only_the_types_of_its_architecture() {
        let listing = [ty("cax21", "arm"), ty("cx33", "x86"), ty("cpx32", "x86")];
        let x86 = BootImage {
            id: ImageId(4711),
            architecture: "x86".into(),
        };
        let mut c = vec![at("cax21"), at("cx33"), at("cpx32")];
        assert_eq!(boot_image(Some(&x86), &mut c, &listing).as_deref(), Some("4711"));
        assert_eq!(c, [at("cx33"), at("cpx32")], "in the region's order");
        // No type of its architecture: the stock image on every candidate.
        let mut arm_only = vec![at("cax21")];
        assert_eq!(boot_image(Some(&x86), &mut arm_only, &listing), None);
        assert_eq!(arm_only, [at("cax21")]);
        let mut none = vec![at("cx33")];
        assert_eq!(boot_image(None, &mut none, &listing), None);
    }
}
