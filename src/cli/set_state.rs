//! `mc-gitops set-state`: set `state` (and `region`) in server.toml the way
//! the "Start server" button does, keeping every comment.

use anyhow::Context;

use mc_gitops::repo;

use super::{Done, RepoArg, load};

#[derive(clap::Args)]
pub(crate) struct SetStateArgs {
    #[command(flatten)]
    repo: RepoArg,
    /// The switch: running or stopped (start and stop are accepted too).
    #[arg(value_parser = ["running", "stopped", "start", "stop"])]
    state: String,
    /// A key of [regions] in server.toml; left as it is when omitted.
    #[arg(long)]
    region: Option<String>,
}

impl SetStateArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        let SetStateArgs { repo, state, region } = self;
        let (root, region) = (&repo.repo, region.as_deref());
        let state = match state.as_str() {
            "start" | "running" => "running",
            _ => "stopped",
        };
        let loaded = load(root)?;
        let mut pairs = vec![("state", state)];
        if let Some(r) = region {
            if !loaded.desired.server.regions.keys().any(|k| k.as_str() == r) {
                let known: Vec<&str> = loaded.desired.server.regions.keys().map(|k| k.as_str()).collect();
                anyhow::bail!("server.toml has no [regions.{r}]; the regions are: {}", known.join(", "));
            }
            pairs.push(("region", r));
        }
        let changed = repo::edit::set_top_level(root, &pairs)?;
        load(root).context("server.toml after the edit")?;
        let what = pairs.iter().map(|(k, v)| format!("{k} = {v:?}")).collect::<Vec<_>>().join(", ");
        println!("server.toml: {what}{}", if changed { "" } else { " (already so)" });
        Ok(Done::Ok)
    }
}
