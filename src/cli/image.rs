//! `mc-gitops image build`: the prebuilt Hetzner snapshot a cold start
//! boots from.

use anyhow::Context;
use clap::Subcommand;

use super::{Done, RepoArg, load, runtime};

#[derive(Subcommand)]
pub(crate) enum ImageCommand {
    /// Build the snapshot image new servers of this repo boot from.
    ///
    /// Creates a builder server from the region's stock image whose
    /// cloud-init installs Java, nftables, zstd and this version's agent
    /// (checked against its sha256) and powers off; snapshots it
    /// (`create_image`, type snapshot, labelled with the server and the agent
    /// version); deletes the builder; deletes the server's older images
    /// (unless --keep-old); prints the image's monthly cost from the pricing
    /// API's price per GB-month. A start by this version boots the newest
    /// image labelled with it, on the region's server types of its
    /// architecture, and falls back to the stock image otherwise. Needs
    /// HCLOUD_TOKEN (HCLOUD_ENDPOINT overrides the API address); the agent
    /// binary is as for apply (MC_GITOPS_AGENT_URL, MC_GITOPS_AGENT_SHA256).
    /// In a job with $GITHUB_STEP_SUMMARY, what it printed (and, when it
    /// failed, why) is appended there too: the reconcile workflow's image
    /// button.
    ///
    /// Exit status: 0 built, 1 error (the builder server is deleted).
    #[command(
        after_help = "Examples:\n  HCLOUD_TOKEN=… mc-gitops image build --repo .\n  mc-gitops image build --server-type cx33 --keep-old"
    )]
    Build(BuildArgs),
}

#[derive(clap::Args)]
pub(crate) struct BuildArgs {
    #[command(flatten)]
    repo: RepoArg,
    /// Build on this server type (its architecture is the image's); default the region's first orderable.
    #[arg(long, value_name = "TYPE")]
    server_type: Option<String>,
    /// How long the builder may take to install and power off.
    #[arg(long, value_name = "DURATION", default_value = "20m")]
    timeout: mc_gitops::repo::duration::Duration,
    /// Keep the server's older images (each is billed per GB-month).
    #[arg(long)]
    keep_old: bool,
}

impl BuildArgs {
    pub(crate) fn run(self, inputs: &mc_gitops::inputs::Inputs) -> anyhow::Result<Done> {
        let BuildArgs {
            repo,
            server_type,
            timeout,
            keep_old,
        } = self;
        let root = &repo.repo;
        let loaded = load(root)?;
        let h = mc_gitops::hetzner::Hetzner::from_inputs(inputs)
            .context("HCLOUD_TOKEN is not set: the image is built in the Hetzner project")??;
        let h = match mc_gitops::connect::poll_interval_ms(inputs) {
            Some(ms) => h.with_poll_interval(std::time::Duration::from_millis(ms.max(10))),
            None => h.with_poll_interval(std::time::Duration::from_secs(5)),
        };
        let opts = mc_gitops::image::BuildOptions {
            server_type: server_type.map(mc_gitops::ids::ServerType::new),
            install_timeout: std::time::Duration::from_secs(timeout.as_secs()),
            keep_old,
            ..Default::default()
        };
        let release = super::apply::agent_release(inputs)?;
        let mut out = Shown::default();
        let built = runtime()?.block_on(mc_gitops::image::build(&h, &loaded.desired, &release, &opts, &mut out));
        if let Err(e) = inputs.append_step_summary(&summary(&out.kept, built.as_ref().err())) {
            tracing::warn!(error = %e, "cannot write the step summary");
        }
        built?;
        Ok(Done::Ok)
    }
}

/// Standard output, and a copy of what went there for the step summary.
#[derive(Default)]
struct Shown {
    kept: Vec<u8>,
}

impl std::io::Write for Shown {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stdout().write_all(buf)?;
        self.kept.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

/// The step summary: the build's own lines, and why it failed (the command
/// then exits 1).
fn summary(printed: &[u8], failed: Option<&mc_gitops::image::ImageError>) -> String {
    let fence = "```";
    let shown = String::from_utf8_lossy(printed).replace(fence, "'''");
    let mut text = format!("## 🖼️ mc-gitops image build\n\n{fence}\n{shown}{fence}\n");
    if let Some(e) = failed {
        let why = mc_gitops::error::render_error(e).replace(['\r', '\n'], " ");
        text.push_str(&format!("\nThe build failed (exit status 1): {why}\n"));
    }
    text
}
