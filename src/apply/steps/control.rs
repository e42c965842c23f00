//! The steps that change the agent's control document (`desired.json`): the
//! asset manifest, whitelist, ops, shutdown policy and the stop request.
//! Each edits the document read once per run ([`super::control()`]); the run
//! writes it back once, or at once where the agent must see it now.

use super::{Apply, ApplyError, Ctx, Outcome, Report, RunState, control, flush_control};
use crate::plan::{PutAsset, RemoveAsset, RequestStop, UpdateOps, UpdateShutdownPolicy, UpdateWhitelist};
use crate::storage::AssetRef;

impl Apply for PutAsset {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        let Self { path, file } = self;
        let r = st.files.get(path).cloned().ok_or_else(|| ApplyError::Invalid {
            resource: resource.to_string(),
            why: "the repo no longer renders this file".into(),
        })?;
        let mut sent = false;
        if let Some(bytes) = r.bytes {
            sent = cx.store.put_asset(&file.hash, bytes).await.map_err(|source| ApplyError::Storage {
                resource: resource.to_string(),
                source,
            })?;
        } else if let (Some(url), Some(size)) = (&r.source, r.size) {
            let client = crate::http::download_client().map_err(|source| ApplyError::Download {
                resource: resource.to_string(),
                source,
            })?;
            let from = crate::modrinth::server_jar::mojang_source(&cx.mojang_meta, url);
            match crate::apply::cache::store_cached(cx.store, &client, &file.hash, &from, size).await {
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
}

impl Apply for RemoveAsset {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, _report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        control(cx, st).await?.assets.remove(&self.path);
        st.control_dirty = true;
        Ok(Outcome::Done("removed from the manifest".into()))
    }
}

impl Apply for UpdateWhitelist {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        let doc = control(cx, st).await?;
        doc.whitelist = self.players.clone();
        doc.whitelist_uuids = self.uuids.clone();
        st.control_dirty = true;
        report.message.push(format!("whitelist: {} players", self.players.len()));
        Ok(Outcome::Done("the agent applies it through RCON".into()))
    }
}

impl Apply for UpdateShutdownPolicy {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, _report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        control(cx, st).await?.shutdown = self.policy.clone();
        st.control_dirty = true;
        Ok(Outcome::Done("the agent follows it at the next leave".into()))
    }
}

impl Apply for UpdateOps {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, _report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        control(cx, st).await?.ops = self.ops.to_vec();
        st.control_dirty = true;
        Ok(Outcome::Done("the agent applies it through RCON".into()))
    }
}

impl Apply for RequestStop {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        let doc = control(cx, st).await?;
        if doc.stop_requested.is_some() {
            return Ok(Outcome::Unchanged("a stop was already requested".into()));
        }
        doc.stop_requested = Some(cx.now);
        doc.stop_reason = Some(self.reason);
        doc.stop_warnings = self.warnings.clone();
        st.control_dirty = true;
        flush_control(cx, st).await?;
        report
            .message
            .push(format!("ask the agent to stop and sync ({})", self.reason.as_str()));
        Ok(Outcome::Done("the agent stops Minecraft and uploads a final snapshot".into()))
    }
}
