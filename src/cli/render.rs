//! `mc-gitops render cloud-init | image`: the user-data the bot would hand
//! to a new server or to the image builder, with placeholder credentials.

use chrono::{DateTime, Utc};

use clap::Subcommand;

use super::{Done, RepoArg, load};

#[derive(Subcommand)]
pub(crate) enum RenderCommand {
    /// Print the cloud-init user-data a new VPS of this repo would boot with.
    ///
    /// Credentials are not minted here: the R2 credentials (and, unless
    /// given, the agent's URL and checksum) are PLACEHOLDER values, clearly
    /// marked, so the output is safe to paste anywhere.
    #[command(
        name = "cloud-init",
        after_help = "Examples:\n  mc-gitops render cloud-init --repo state-repo-example\n  mc-gitops render cloud-init --agent-url https://github.com/o/r/releases/download/v0.1.0/mc-gitops --agent-sha256 <hex> > user-data.yaml\n  cloud-init schema --config-file user-data.yaml"
    )]
    CloudInit(CloudInitArgs),
    /// Print the user-data `mc-gitops image build` gives its builder server.
    ///
    /// The packages and the checked agent binary, then a power-off; nothing
    /// of a session (no agent.toml, no credentials). Without --agent-url and
    /// --agent-sha256, PLACEHOLDER values stand in for them.
    #[command(
        name = "image",
        after_help = "Examples:\n  mc-gitops render image --repo state-repo-example > image.yaml\n  cloud-init schema --config-file image.yaml"
    )]
    Image(ImageArgs),
}

#[derive(clap::Args)]
pub(crate) struct ImageArgs {
    #[command(flatten)]
    repo: RepoArg,
    #[command(flatten)]
    agent: AgentReleaseArgs,
}

/// The agent binary a rendered user-data installs.
#[derive(clap::Args)]
struct AgentReleaseArgs {
    /// The agent binary's https release URL.
    #[arg(long, value_name = "URL")]
    agent_url: Option<String>,
    /// The agent binary's sha256 (64 lowercase hex digits).
    #[arg(long, value_name = "HEX")]
    agent_sha256: Option<String>,
}

impl AgentReleaseArgs {
    /// The release, PLACEHOLDER values where a flag was not given.
    fn release(self) -> mc_gitops::cloudinit::AgentRelease {
        use mc_gitops::cloudinit::PLACEHOLDER;
        mc_gitops::cloudinit::AgentRelease {
            url: self
                .agent_url
                .unwrap_or_else(|| format!("https://example.invalid/{PLACEHOLDER}/mc-gitops")),
            sha256: self.agent_sha256.unwrap_or_else(|| "0".repeat(64)),
        }
    }
}

#[derive(clap::Args)]
pub(crate) struct CloudInitArgs {
    #[command(flatten)]
    repo: RepoArg,
    #[command(flatten)]
    agent: AgentReleaseArgs,
    /// Render as if the session started at this time (RFC 3339).
    #[arg(long, value_name = "TIME", env = "MC_GITOPS_NOW")]
    now: Option<DateTime<Utc>>,
}

impl CloudInitArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        use mc_gitops::cloudinit::{self, PLACEHOLDER, UserData};
        let (root, release, now) = (&self.repo.repo, self.agent.release(), self.now.unwrap_or_else(Utc::now));
        let loaded = load(root)?;
        let session = mc_gitops::ids::SessionId::at(now, &loaded.desired.server.region);
        let config = cloudinit::for_session(&loaded.desired, session, cloudinit::placeholder_storage(&loaded.desired));
        // As if the server were created now.
        let text = UserData::new(config, release, now)?.render_at(now)?;
        eprintln!("note: R2 credentials are {PLACEHOLDER} placeholders; apply mints short-lived ones per session");
        print!("{text}");
        Ok(Done::Ok)
    }
}

impl ImageArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        let loaded = load(&self.repo.repo)?;
        print!(
            "{}",
            mc_gitops::cloudinit::render_image(&loaded.desired.server.name, &self.agent.release())?
        );
        Ok(Done::Ok)
    }
}
