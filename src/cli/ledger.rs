//! `mc-gitops ledger`: the cost summaries (and, with --site, the status
//! page) rewritten from the repo alone.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use mc_gitops::ledger;

use super::{Done, RepoArg, load};

#[derive(clap::Args)]
pub(crate) struct LedgerArgs {
    #[command(flatten)]
    repo: RepoArg,
    /// Summarise as if it were this time (RFC 3339): open sessions accrue up to it.
    #[arg(long, value_name = "TIME", env = "MC_GITOPS_NOW")]
    now: Option<DateTime<Utc>>,
    /// Also write the public status page (index.html and the modpack) into DIR; see docs/status-page.md.
    #[arg(long, value_name = "DIR")]
    site: Option<PathBuf>,
}

impl LedgerArgs {
    pub(crate) fn run(self) -> anyhow::Result<Done> {
        let LedgerArgs { repo, now, site } = self;
        let (root, now, site) = (&repo.repo, now.unwrap_or_else(Utc::now), site.as_deref());
        let loaded = load(root)?;
        let summaries = ledger::reports::gather(root, &loaded.ledger, &loaded.desired, None, None, Vec::new(), now);
        let files = ledger::reports::write_summaries(root, &summaries)?;
        if files.is_empty() {
            println!("summaries are up to date");
        }
        for f in files {
            println!("wrote {}", mc_gitops::escape::value(&f));
        }
        if let Some(dir) = site {
            let written = ledger::site::write_site(root, dir, &loaded.ledger, &loaded.desired, None, &summaries)?;
            for w in &written.warnings {
                eprintln!("warning: {}", mc_gitops::escape::line(&mc_gitops::escape::value(w)));
            }
            for f in &written.files {
                println!("wrote {}", mc_gitops::escape::value(&dir.join(f).display().to_string()));
            }
        }
        Ok(Done::Ok)
    }
}
