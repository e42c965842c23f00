//! `mc-gitops image build`: the prebuilt Hetzner snapshot a server boots
//! from so a cold start skips installing Java and downloading the agent
//! (docs/coldstart.md). One run: create a builder server from the region's
//! stock image with [`cloudinit::render_image`]'s user-data (the packages,
//! the checked agent binary, then `power_state: poweroff`), wait until it
//! is off, `create_image` type snapshot with [`images::image_labels`], wait
//! for the action, delete the builder, delete the server's older images, and
//! report the new image's monthly cost from the pricing API's price per
//! GB-month.
//!
//! The builder is labelled `managed-by=mc-gitops-image-build`, so the
//! reconciler's selector (`managed-by=mc-gitops,…`) never takes it for a
//! session's server or an orphan. Its name is fixed per server: a build
//! run again after a crash adopts the builder left behind. On any failure
//! after the create, the builder is deleted before the error is returned.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use crate::cloudinit::{self, AgentRelease, CloudInitError};
use crate::hetzner::images::{self, Image, ImageId};
use crate::hetzner::{Hetzner, HetznerError, ServerSpec, ServerStatus, candidates};
use crate::ids::{HetznerServerId, ServerType};
use crate::repo::Desired;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("building the image for {server}: {source}")]
    Hetzner {
        server: String,
        #[source]
        source: Box<HetznerError>,
    },
    #[error("building the image for {server}: {why}")]
    Invalid { server: String, why: String },
    #[error(transparent)]
    CloudInit(#[from] CloudInitError),
    #[error("writing the report: {0}")]
    Output(#[from] std::io::Error),
}

/// What the admin may choose; everything else comes from server.toml.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The type to build on (its architecture is the image's); default the
    /// region's first.
    pub server_type: Option<ServerType>,
    /// How long the builder may take to install and power off.
    pub install_timeout: Duration,
    /// How long the snapshot may take.
    pub snapshot_timeout: Duration,
    /// Keep the server's older images (each is billed per GB-month).
    pub keep_old: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            server_type: None,
            install_timeout: Duration::from_secs(20 * 60),
            snapshot_timeout: Duration::from_secs(30 * 60),
            keep_old: false,
        }
    }
}

/// The image built and what it costs.
#[derive(Clone, Debug)]
pub struct Built {
    pub image: Image,
    /// Gross price per month (size × the price per GB-month), when known.
    pub monthly_gross: Option<(Decimal, String)>,
    pub deleted_old: Vec<ImageId>,
}

/// The builder's labels: not the reconciler's `managed-by=mc-gitops`.
pub fn builder_labels(d: &Desired) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            crate::labels::MANAGED_BY.to_string(),
            crate::labels::MANAGED_BY_IMAGE_BUILD.to_string(),
        ),
        (crate::labels::IMAGE_FOR.to_string(), d.server.name.to_string()),
    ])
}

/// The builder's name (fixed per server, so a rerun adopts it).
pub fn builder_name(d: &Desired) -> String {
    format!("{}-image", d.server.name.hetzner_name())
}

/// The monthly gross cost of `gb` stored at `per_gb` gross.
pub fn monthly_cost(gb: f64, per_gb: Decimal) -> Option<Decimal> {
    Some((Decimal::from_f64(gb)? * per_gb).round_dp(2))
}

pub async fn build(
    h: &Hetzner,
    d: &Desired,
    release: &AgentRelease,
    opts: &BuildOptions,
    out: &mut impl Write,
) -> Result<Built, ImageError> {
    let server = d.server.name.to_string();
    let hz = |source: HetznerError| ImageError::Hetzner {
        server: server.clone(),
        source: Box::new(source),
    };
    let region = d.server.regions.get(&d.server.region).ok_or_else(|| ImageError::Invalid {
        server: server.clone(),
        why: format!("region {} is not in [regions]", d.server.region),
    })?;
    let types = match &opts.server_type {
        Some(t) => vec![t.clone()],
        None => region.server_types.clone(),
    };
    let user_data = cloudinit::render_image(&d.server.name, release)?;
    let listing = h.server_types().await.map_err(hz)?;
    let choice = candidates(&region.locations, &types, &listing).map_err(|e| hz(e.into()))?;
    let mut spec = ServerSpec::new(builder_name(d), region.image.clone());
    spec.labels = builder_labels(d);
    spec.user_data = Some(user_data);
    let created = h.create_with_fallback(&spec, &choice.candidates).await.map_err(hz)?;
    let id = created.server.id;
    let arch = listing
        .iter()
        .find(|t| t.name == created.placed.server_type)
        .map(|t| t.architecture.clone())
        .unwrap_or_else(|| "x86".into());
    writeln!(
        out,
        "building the image for {server} from {} on {} in {} (builder server {id}{})",
        region.image,
        created.placed.server_type,
        created.placed.location,
        if created.adopted { ", left by an earlier build" } else { "" }
    )?;
    let made = snapshot_then_delete(h, id, d, &arch, opts, out).await;
    let image = made.map_err(hz)?;
    let pricing = h.pricing().await.map_err(hz)?;
    let monthly_gross = match (image.image_size, &pricing.image_per_gb_month) {
        (Some(gb), Some(p)) => monthly_cost(gb, p.gross).map(|c| (c, pricing.currency.clone())),
        _ => None,
    };
    let mut deleted_old = Vec::new();
    if !opts.keep_old {
        for old in h.list_snapshots(&images::image_selector(&d.server.name, None)).await.map_err(hz)? {
            if old.id != image.id && h.delete_image(old.id).await.map_err(hz)? {
                writeln!(out, "deleted the older image {} ({})", old.id, old.description)?;
                deleted_old.push(old.id);
            }
        }
    }
    let size = image.image_size.map_or("an unknown size".into(), |gb| format!("{gb:.2} GB"));
    match (&monthly_gross, &pricing.image_per_gb_month) {
        (Some((c, cur)), Some(p)) => writeln!(
            out,
            "image {} is available ({arch}, {size}): {c} {cur} a month gross ({} {cur} per GB-month)",
            image.id, p.gross
        )?,
        _ => writeln!(
            out,
            "image {} is available ({arch}, {size}); its monthly cost is not known yet",
            image.id
        )?,
    }
    writeln!(
        out,
        "the next start of {server} boots it (agent {}); `mc-gitops plan` shows it",
        images::AGENT_VERSION
    )?;
    Ok(Built {
        image,
        monthly_gross,
        deleted_old,
    })
}

/// Wait for the builder to power off, snapshot it, and delete it whatever
/// happened (a builder left running would bill every hour).
async fn snapshot_then_delete(
    h: &Hetzner,
    id: HetznerServerId,
    d: &Desired,
    arch: &str,
    opts: &BuildOptions,
    out: &mut impl Write,
) -> Result<Image, HetznerError> {
    let made = async {
        wait_off(h, id, opts.install_timeout).await?;
        let _ = writeln!(out, "builder server {id} installed everything and powered off");
        let labels = images::image_labels(&d.server.name, images::AGENT_VERSION, arch);
        let description = format!("mc-gitops {} agent {}", d.server.name, images::AGENT_VERSION);
        let (image, action) = h.create_snapshot(id, &description, &labels).await?;
        h.wait_action(action.id, opts.snapshot_timeout).await?;
        Ok::<_, HetznerError>(h.get_image(image.id).await?.unwrap_or(image))
    }
    .await;
    let deleted = h.delete_server(id).await;
    match (&made, deleted) {
        (_, Ok(_)) => {
            let _ = writeln!(out, "deleted the builder server {id}");
        }
        (Ok(_), Err(e)) => return Err(e),
        (Err(_), Err(e)) => {
            let _ = writeln!(out, "could not delete the builder server {id}: {e}; delete it by hand");
        }
    }
    made
}

/// Poll the server until it is `off` (cloud-init's `power_state`).
async fn wait_off(h: &Hetzner, id: HetznerServerId, timeout: Duration) -> Result<(), HetznerError> {
    let start = tokio::time::Instant::now();
    loop {
        match h.get_server(id).await? {
            Some(s) if s.status == ServerStatus::Off => return Ok(()),
            Some(_) => {}
            None => {
                return Err(HetznerError::Decode {
                    resource: format!("builder server {id}"),
                    why: "it disappeared before powering off".into(),
                });
            }
        }
        if start.elapsed() >= timeout {
            return Err(HetznerError::Decode {
                resource: format!("builder server {id}"),
                why: format!(
                    "not powered off after {} s: cloud-init did not finish (see the server's console)",
                    timeout.as_secs()
                ),
            });
        }
        tokio::time::sleep(h.poll_interval()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_monthly_cost_is_size_times_the_price_per_gb() {
        assert_eq!(monthly_cost(1.37, dec!(0.0131)), Some(dec!(0.02)));
        assert_eq!(monthly_cost(10.0, dec!(0.0131)), Some(dec!(0.13)));
    }

    #[test]
    fn the_builder_is_never_the_reconcilers() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example");
        let d = crate::repo::load(&root).unwrap().desired;
        let sel = crate::observe::live::selector(&d);
        let labels = builder_labels(&d);
        let matches = sel.split(',').all(|t| {
            let (k, v) = t.split_once('=').unwrap();
            labels.get(k).map(String::as_str) == Some(v)
        });
        assert!(!matches, "{sel} must not select {labels:?}");
        assert!(builder_name(&d) != d.server.name.hetzner_name());
    }
}
