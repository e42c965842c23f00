//! One handler per plan step. Each checks its precondition, makes one
//! attempt, and records what it did in the report (and, for the ledger, in
//! the session file), so a crash between two steps leaves a state the next
//! plan continues from.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use rust_decimal::Decimal;

use super::{ApplyError, Ctx, Outcome, Report, RunState, flush_control, ledger_steps};
use crate::hetzner::{FirewallRule, ServerSpec, candidates};
use crate::ids::SessionId;
use crate::plan::{Change, EndReason, IpTarget, Step};
use crate::repo::ledger::{self, Event, Price, Session};
use crate::storage::{AssetRef, ControlDoc, ControlOp};

mod create;
use create::{create_server, open_session};

pub(super) async fn run(cx: &Ctx<'_>, st: &mut RunState, change: &Change, report: &mut Report) -> Result<Outcome, ApplyError> {
    let resource = change.resource.clone();
    match &change.step {
        Step::OpenSession {
            session,
            region,
            recovered,
            restore,
        } => open_session(cx, st, report, session, region, *recovered, restore.as_deref()).await,
        Step::CreateServer { .. } => create_server(cx, st, report, &change.step).await,
        Step::SetDnsA { name, target, .. } => {
            let ip = match target {
                IpTarget::NewServer => st.created.as_ref().and_then(|s| s.ipv4.clone()),
                IpTarget::Address(ip) => Some(ip.clone()),
            };
            let ip: Ipv4Addr = ip.and_then(|s| s.parse().ok()).ok_or_else(|| ApplyError::Invalid {
                resource: resource.clone(),
                why: "the server has no IPv4 address to point at".into(),
            })?;
            let out = cx
                .cloudflare
                .ensure_a(cx.zone, name, ip, &comment(cx, st))
                .await
                .map_err(|source| ApplyError::Cloudflare {
                    resource,
                    source: source.into(),
                })?;
            Ok(ensured(out, format!("{name} → {ip}")))
        }
        Step::SetDnsSrv {
            name,
            target,
            port,
            priority,
            weight,
            ..
        } => {
            let out = cx
                .cloudflare
                .ensure_srv(cx.zone, name, target, *port, *priority, *weight, &comment(cx, st))
                .await
                .map_err(|source| ApplyError::Cloudflare {
                    resource,
                    source: source.into(),
                })?;
            Ok(ensured(out, format!("{name} → {target}:{port}")))
        }
        Step::PutAsset { path, file } => {
            let r = st.files.get(path).cloned().ok_or_else(|| ApplyError::Invalid {
                resource: resource.clone(),
                why: "the repo no longer renders this file".into(),
            })?;
            let mut sent = false;
            if let Some(bytes) = r.bytes {
                sent = cx
                    .store
                    .put_asset(&file.hash, bytes)
                    .await
                    .map_err(|source| ApplyError::Storage { resource, source })?;
            } else if let (Some(url), Some(size)) = (&r.source, r.size) {
                let client = crate::http::download_client().map_err(|e| ApplyError::Invalid {
                    resource: resource.clone(),
                    why: e.to_string(),
                })?;
                let from = crate::modrinth::server_jar::mojang_source(&crate::modrinth::Endpoints::from_env().mojang_meta, url);
                match super::cache::store_cached(cx.store, &client, &file.hash, &from, size).await {
                    Ok(uploaded) => sent = uploaded,
                    Err(e) => {
                        // A cache only saves time: without it the launcher
                        // downloads the file at first boot, as it always did.
                        control(cx, st).await?.assets.remove(path);
                        st.control_dirty = true;
                        report.warnings.push(format!(
                            "{resource}: not cached, the server downloads it at first boot: {}",
                            crate::error::render_error(&e)
                        ));
                        return Ok(Outcome::Unchanged("not cached (see the warning)".into()));
                    }
                }
            }
            control(cx, st).await?.assets.insert(
                path.clone(),
                AssetRef {
                    hash: file.hash.clone(),
                    url: r.url,
                    size: r.size,
                    cache: r.source.is_some(),
                },
            );
            st.control_dirty = true;
            Ok(if sent {
                Outcome::Done("uploaded".into())
            } else {
                Outcome::Done("already stored; manifest updated".into())
            })
        }
        Step::RemoveAsset { path } => {
            control(cx, st).await?.assets.remove(path);
            st.control_dirty = true;
            Ok(Outcome::Done("removed from the manifest".into()))
        }
        Step::UpdateWhitelist { players } => {
            control(cx, st).await?.whitelist = players.clone();
            st.control_dirty = true;
            report.message.push(format!("whitelist: {} players", players.len()));
            Ok(Outcome::Done("the agent applies it through RCON".into()))
        }
        Step::UpdateShutdownPolicy { policy } => {
            control(cx, st).await?.shutdown = policy.clone();
            st.control_dirty = true;
            Ok(Outcome::Done("the agent follows it at the next leave".into()))
        }
        Step::UpdateOps { ops } => {
            control(cx, st).await?.ops = ops
                .iter()
                .map(|o| ControlOp {
                    name: o.name.clone(),
                    level: o.level,
                })
                .collect();
            st.control_dirty = true;
            Ok(Outcome::Done("the agent applies it through RCON".into()))
        }
        Step::HandOver {
            session,
            restore,
            whitelist,
            ops,
        } => super::handover::hand_over(cx, st, report, session, restore, whitelist, ops).await,
        Step::RequestStop { reason, warnings } => {
            let doc = control(cx, st).await?;
            if doc.stop_requested.is_some() {
                return Ok(Outcome::Unchanged("a stop was already requested".into()));
            }
            doc.stop_requested = Some(cx.now);
            doc.stop_reason = Some(*reason);
            doc.stop_warnings = warnings.clone();
            st.control_dirty = true;
            flush_control(cx, st).await?;
            report.message.push(format!("ask the agent to stop and sync ({})", reason.as_str()));
            Ok(Outcome::Done("the agent stops Minecraft and uploads a final snapshot".into()))
        }
        Step::RenewCredentials {
            id, session, ttl_seconds, ..
        } => {
            let ended = st
                .sessions
                .get(session.as_str())
                .or_else(|| cx.ledger.sessions.iter().find(|s| &s.id == session))
                .is_none_or(|s| s.ended.is_some());
            if ended {
                return Err(ApplyError::Stale {
                    resource,
                    why: format!("session {session} has ended (or is not in the ledger): no credentials are issued for it"),
                });
            }
            super::renew::renew(cx, report, &resource, session, *id, *ttl_seconds).await
        }
        Step::AwaitCountdown { ends, .. } => Ok(super::stop::await_countdown(cx, *ends)),
        Step::AwaitSnapshot { session, taken_after } => super::stop::await_snapshot(cx, st, &resource, session, *taken_after).await,
        Step::AskOrphanToStop { name, session } => super::stop::ask_orphan(cx, st, report, &resource, name, session).await,
        Step::DeleteServer {
            name,
            id,
            session,
            snapshot_after,
            force,
        } => {
            if let Some(force) = force {
                super::stop::check_force(cx, &resource, force).await?;
                return super::stop::delete_server(cx, st, report, &resource, name, *id, session).await;
            }
            // The termination guard, checked again right before the delete.
            if let Err(why) = super::stop::guard(cx, session, *snapshot_after, &resource).await? {
                return Ok(Outcome::Waiting(format!("the world is not safe in storage yet: {why}")));
            }
            super::stop::delete_server(cx, st, report, &resource, name, *id, session).await
        }
        Step::DeleteDnsA { name } => {
            let removed = cx
                .cloudflare
                .remove_a(cx.zone, name)
                .await
                .map_err(|source| ApplyError::Cloudflare {
                    resource,
                    source: source.into(),
                })?;
            Ok(if removed {
                Outcome::Done("removed".into())
            } else {
                Outcome::Unchanged("no A record".into())
            })
        }
        Step::CloseSession { session, reason } => close_session(cx, st, report, session, *reason).await,
        Step::SetStateStopped { reason } => {
            let changed = crate::repo::edit::set_state(cx.repo, "stopped")?;
            if changed {
                report.files.push("server.toml".into());
                report.message.push(format!("set state = \"stopped\" ({})", reason.as_str()));
            }
            Ok(if changed {
                Outcome::Done("server.toml says stopped".into())
            } else {
                Outcome::Unchanged("already stopped".into())
            })
        }
        Step::RecordReady { session, at } => ledger_steps::record_ready(cx, st, report, session, *at).await,
        Step::RecordSuspend { session, at } => ledger_steps::record_suspend(cx, st, report, session, *at),
        Step::RecordStopOverdue { session, since } => ledger_steps::record_stop_overdue(cx, st, report, session, *since),
        Step::SetStateRunning { sitting } => {
            let changed = crate::repo::edit::set_state(cx.repo, "running")?;
            if changed {
                report.files.push("server.toml".into());
                report.message.push(format!(
                    "set state = \"running\" (planned sitting {})",
                    sitting.format("%Y-%m-%d %H:%M UTC")
                ));
            }
            Ok(if changed {
                Outcome::Done("server.toml says running".into())
            } else {
                Outcome::Unchanged("already running".into())
            })
        }
        Step::RefuseQuietStart { until } => {
            let changed = crate::repo::edit::set_state(cx.repo, "stopped")?;
            if changed {
                report.files.push("server.toml".into());
                report.message.push(format!(
                    "set state = \"stopped\" (quiet hours until {})",
                    until.format("%Y-%m-%d %H:%M UTC")
                ));
            }
            Ok(if changed {
                Outcome::Done("server.toml says stopped".into())
            } else {
                Outcome::Unchanged("already stopped".into())
            })
        }
        Step::ClearRestore { backup, used_by } => ledger_steps::clear_restore(cx, report, backup, used_by),
        Step::RecordActivity {
            session,
            players_seen,
            presence,
            peak_players,
            backups,
            world_bytes,
        } => {
            let a = ledger::Activity {
                players_seen: players_seen.clone(),
                presence: presence.clone(),
                peak_players: *peak_players,
                backups: *backups,
                world_bytes: *world_bytes,
            };
            ledger_steps::record_activity(cx, st, report, session, &a)
        }
        Step::RecordRequests { session, requests } => ledger_steps::record_requests(cx, st, report, session, requests),
        Step::PruneRequest { id, because } => super::prune::prune_request(cx, report, &resource, id, because).await,
        Step::PruneBackups { keep, backups } => super::prune::prune(cx, report, &resource, *keep, backups).await,
        Step::SealBackups { backups } => super::prune::seal(cx, report, &resource, backups).await,
    }
}

fn ensured(out: crate::cloudflare::Ensured, what: String) -> Outcome {
    match out {
        crate::cloudflare::Ensured::Unchanged => Outcome::Unchanged(what),
        _ => Outcome::Done(what),
    }
}

fn comment(cx: &Ctx<'_>, st: &RunState) -> String {
    let session = st
        .sessions
        .keys()
        .next()
        .cloned()
        .or_else(|| cx.observed.session.as_ref().map(|s| s.id.to_string()))
        .unwrap_or_default();
    format!("mc-gitops: {} session {session}", cx.desired.server.name)
}

/// The control document, read once per run. One this version cannot decode
/// starts afresh, as observe saw it: the plan rewrote every part of it, and
/// this run's write replaces the stored one.
pub(super) async fn control<'s>(cx: &Ctx<'_>, st: &'s mut RunState) -> Result<&'s mut ControlDoc, ApplyError> {
    if st.control.is_none() {
        let key = cx.store.control_key();
        let doc = match cx.store.control().await {
            Ok(doc) => doc.unwrap_or_default(),
            Err(e @ (crate::storage::StorageError::Decode { .. } | crate::storage::StorageError::TooLarge { .. })) => {
                tracing::warn!(error = %crate::error::render_error(&e), "replacing an unreadable desired.json");
                ControlDoc::default()
            }
            Err(source) => return Err(ApplyError::Storage { resource: key, source }),
        };
        st.control = Some(doc);
    }
    Ok(st.control.as_mut().expect("just set"))
}

pub(super) fn write(cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, s: Session) -> Result<(), ApplyError> {
    if let Some(warning) = ledger::write::write_session(cx.repo, &s)? {
        tracing::warn!("{warning}");
        if !report.warnings.contains(&warning) {
            report.warnings.push(warning);
        }
    }
    if !report.files.contains(&s.file) {
        report.files.push(s.file.clone());
    }
    st.sessions.insert(s.id.to_string(), s);
    Ok(())
}

async fn close_session(
    cx: &Ctx<'_>,
    st: &mut RunState,
    report: &mut Report,
    id: &SessionId,
    reason: EndReason,
) -> Result<Outcome, ApplyError> {
    let found = st
        .sessions
        .get(id.as_str())
        .cloned()
        .or_else(|| cx.ledger.sessions.iter().find(|s| &s.id == id).cloned());
    let Some(mut s) = found else {
        return Err(ApplyError::Invalid {
            resource: format!("session {id}"),
            why: "no such session in the ledger".into(),
        });
    };
    if s.ended.is_some() {
        return Ok(Outcome::Unchanged("already closed".into()));
    }
    // The closing write takes in the agent's newest report of this session
    // (its final snapshot may have come after the plan was made).
    if let Some(status) = cx.store.status().await.ok().flatten()
        && status.session.as_ref().is_none_or(|x| x == id)
    {
        let mut seen = status.players_seen;
        for p in status.players_online {
            if !seen.contains(&p) {
                seen.push(p);
            }
        }
        s.take_activity(&ledger::Activity {
            players_seen: seen,
            presence: status.presence,
            peak_players: status.peak_players,
            backups: status.backups,
            world_bytes: status.world_bytes,
        });
    }
    // A session whose server was never created (a crash in between) bills nothing.
    let hours = if s.server_id.is_some() {
        ledger::billed_hours(s.started, cx.now)
    } else {
        0
    };
    s.ended = Some(cx.now);
    s.end_reason = Some(reason.as_str().into());
    s.billed_hours = Some(hours);
    s.cost = s.price.as_ref().map(|p| ledger::cost_of(p, hours));
    if let Some(f) = cx
        .desired
        .server
        .stop
        .force
        .as_ref()
        .filter(|f| reason == EndReason::Forced && &f.session == id)
    {
        // The record of the admin's decision: what was accepted lost, and why.
        let what = format!(
            "force-stop by the admin: deleted without a final snapshot, play since backup {} lost ({})",
            f.accept_backup, f.reason
        );
        report.message.push(format!("session {id}: {what}"));
        s.events.push(Event { at: cx.now, what });
    }
    s.events.push(Event {
        at: cx.now,
        what: format!("session closed ({})", reason.as_str()),
    });
    let cost = s.cost.as_ref().map_or(Decimal::ZERO, |c| c.gross);
    let currency = s.price.as_ref().map_or("", |p| p.currency.as_str()).to_string();
    write(cx, st, report, s)?;

    // Its renewed credentials go with it (and the one document older
    // versions kept for every session): no successor for a leaked key.
    for key in [
        cx.store.credentials_key(id),
        crate::storage::credentials::legacy_credentials_key(cx.store.server()),
    ] {
        cx.store.delete(&key).await.map_err(|source| ApplyError::Storage {
            resource: key.clone(),
            source,
        })?;
    }

    // The next session starts from a clean control document; the stored
    // files stay (content-addressed), so unchanged ones are not re-sent.
    let doc = control(cx, st).await?;
    doc.session = None;
    doc.restore = None;
    doc.stop_requested = None;
    doc.stop_reason = None;
    doc.stop_warnings = Default::default();
    st.control_dirty = true;

    report.message.push(format!(
        "stop session {id} ({}): {hours} h billed, {cost} {currency}",
        reason.as_str()
    ));
    Ok(Outcome::Done(format!("closed after {hours} billed hour(s)")))
}
