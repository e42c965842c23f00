//! `mc-gitops plan`: load the repo, observe (live with cloud credentials,
//! else from the ledger alone), print the plan; exit 2 when it has changes.

use chrono::{DateTime, Utc};

use mc_gitops::{connect, observe, plan};

use super::{Done, RepoArg, load, runtime};

#[derive(clap::Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    repo: RepoArg,
    /// Print the plan as JSON (shape documented in docs/plan-json.md).
    #[arg(long)]
    json: bool,
    /// Plan as if it were this time (RFC 3339), for reproducing a plan.
    #[arg(long, value_name = "TIME", env = "MC_GITOPS_NOW")]
    now: Option<DateTime<Utc>>,
}

impl PlanArgs {
    pub(crate) fn run(self, inputs: &mc_gitops::inputs::Inputs) -> anyhow::Result<Done> {
        let PlanArgs { repo, json, now } = self;
        let root = &repo.repo;
        let now = now.unwrap_or_else(Utc::now);
        let loaded = load(root)?;
        let plan = match connect::live(inputs, root, &loaded.desired)? {
            None => {
                let mut observed = observe::ledger_only::observe(&loaded.ledger, &loaded.desired.server, now);
                observed.reconcile_ticks = observe::reconcile_ticks(root, now);
                plan::plan(&loaded.desired, &observed)
            }
            Some(live) => {
                let rt = runtime()?;
                let (mut observed, _) = rt.block_on(observe::live::observe(&live, &loaded.desired, &loaded.ledger, now))?;
                observed.reconcile_ticks = observe::reconcile_ticks(root, now);
                // The stored Actions minutes tally, read only: apply brings it up to date.
                let (usage, warnings) = rt.block_on(mc_gitops::actions_minutes::observe(&live.store, None, now));
                for w in warnings {
                    tracing::warn!("{w}");
                }
                observed.actions = usage;
                plan::plan(&loaded.desired, &observed)
            }
        };
        if json {
            print!("{}", plan::render::json(&plan));
        } else {
            anstream::print!("{}", plan::render::text(&plan));
        }
        Ok(if plan.is_empty() { Done::Ok } else { Done::Changes })
    }
}
