//! `mc-gitops doctor`: the command's wiring around `mc_gitops::doctor`
//! (read the environment, run the checks, print, write the step summary,
//! map the verdict to the exit status).

use std::path::Path;

use anyhow::Context;

use mc_gitops::doctor;

use super::{Done, RepoArg, runtime};

#[derive(clap::Args)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    repo: RepoArg,
    /// Print the report as JSON (shape in docs/doctor.md).
    #[arg(long)]
    json: bool,
    /// Make no write probe (Hetzner firewall, DNS record, R2 object):
    /// what only they prove is reported as unproven (!).
    #[arg(long)]
    no_write: bool,
}

impl DoctorArgs {
    pub(crate) fn run(self, inputs: &mc_gitops::inputs::Inputs) -> anyhow::Result<Done> {
        doctor(inputs, &self.repo.repo, self.json, self.no_write)
    }
}

fn doctor(inputs: &mc_gitops::inputs::Inputs, root: &Path, json: bool, no_write: bool) -> anyhow::Result<Done> {
    let env = doctor::Env {
        probes: !no_write,
        ..doctor::Env::from_inputs(inputs)
    };
    let rt = runtime()?;
    let report = rt.block_on(doctor::run(root, &env));
    if json {
        println!("{}", doctor::render::json(&report));
    } else {
        anstream::print!("{}", doctor::render::text(&report));
    }
    write_step_summary(inputs, &report).context("cannot write $GITHUB_STEP_SUMMARY")?;
    if report.ok {
        Ok(Done::Ok)
    } else {
        Err(DoctorFailed(report.failed_needed()).into())
    }
}

/// The verdict as an error, so `main` exits 1; the report above says what.
#[derive(Debug, thiserror::Error)]
#[error("{0} needed check(s) failed; each ✗ line above says how to fix it")]
pub(crate) struct DoctorFailed(usize);

/// Append the report to `$GITHUB_STEP_SUMMARY`, when the job has one.
fn write_step_summary(inputs: &mc_gitops::inputs::Inputs, report: &doctor::Report) -> std::io::Result<()> {
    inputs.append_step_summary(&doctor::render::markdown(report)).map(drop)
}
