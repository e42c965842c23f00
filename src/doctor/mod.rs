//! `mc-gitops doctor`: everything a first run needs, checked before it is
//! needed, each as one line with the fix in one sentence.
//!
//! It reads the same environment `apply` does (the variables in [`Env`]),
//! and asks each outside system the cheapest question that proves a
//! setting works: Hetzner's catalogue and stock, Cloudflare's token status,
//! the zone, R2 listing. Three permissions have no read-only proof, so
//! they are proved by a write that is undone at once, under names nothing
//! else uses: Hetzner Read & Write (an empty firewall `mc-gitops-doctor-<id>`,
//! deleted again), a DNS edit (an A record `mc-gitops-doctor-<id>.<zone>` →
//! 192.0.2.1, the documentation address, deleted again) and an R2 write (one
//! object under `doctor/<id>`, read back and deleted). R2 temporary credentials
//! are minted read-only, for `doctor/` only, living 60 s, and dropped
//! unprinted (`--no-write` leaves the three probes out, and says what that
//! leaves unproven). Nothing else is written; no server is created, no message is
//! posted, no workflow is dispatched.
//!
//! Each check is `needed` (a first run fails without it) or optional
//! (Discord, the nudge token). The exit status is 0 when no needed check
//! failed: an optional one that fails is shown as ✗ (optional) but does
//! not fail the run, so a dead Discord webhook cannot block the server.
//!
//! The checks are split by what they talk to: `repo_checks` (the state
//! repo and its workflows), `cloud` (Hetzner and Cloudflare),
//! `storage` (R2) and `github` (GitHub and Discord); [`render`] prints
//! the report as text, Markdown (the step summary) or JSON.

use std::path::Path;

use serde::Serialize;

use crate::cloudflare::Cloudflare;
use crate::hetzner::Hetzner;
use crate::notify::Discord;
use crate::secret::Secret;
use crate::storage::r2::R2Credentials;

mod cloud;
mod github;
pub mod render;
mod repo_checks;
mod storage;

/// The `version` of the JSON report (docs/doctor.md).
pub const REPORT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// ✓ works.
    Pass,
    /// ! works, with something worth knowing.
    Warn,
    /// ✗ will not work.
    Fail,
    /// – not checked: not configured, or a check it depends on failed.
    Skip,
}

impl Status {
    pub fn mark(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
            Status::Skip => "–",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable, for scripts: `hetzner.token`, `region.eu`, `r2.write`, …
    pub id: String,
    pub status: Status,
    /// False for what a first run can do without (Discord, the nudge).
    pub needed: bool,
    /// What was found, in one line (never a secret).
    pub detail: String,
    /// What to do about it, in one sentence (for ✗ and !).
    pub fix: Option<String>,
}

impl Check {
    fn new(id: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            status,
            needed: true,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(crate) fn pass(id: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(id, Status::Pass, detail)
    }

    pub(crate) fn fail(id: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(id, Status::Fail, detail).with_fix(fix)
    }

    pub(crate) fn warn(id: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(id, Status::Warn, detail).with_fix(fix)
    }

    pub(crate) fn skip(id: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(id, Status::Skip, detail)
    }

    fn with_fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    pub(crate) fn optional(mut self) -> Check {
        self.needed = false;
        self
    }
}

/// Everything doctor found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub version: u32,
    /// True when no needed check failed: the exit status is 0.
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    fn new(checks: Vec<Check>) -> Report {
        Report {
            version: REPORT_VERSION,
            ok: !checks.iter().any(|c| c.needed && c.status == Status::Fail),
            checks,
        }
    }

    pub fn failed_needed(&self) -> usize {
        self.checks.iter().filter(|c| c.needed && c.status == Status::Fail).count()
    }

    pub fn failed_optional(&self) -> usize {
        self.checks.iter().filter(|c| !c.needed && c.status == Status::Fail).count()
    }
}

/// The environment apply reads, gathered once. A malformed value (one R2
/// key without the other, a webhook that is not a URL) is kept as its
/// error, reported on its own line.
pub struct Env {
    pub hetzner: Option<Result<Hetzner, crate::hetzner::HetznerError>>,
    pub cloudflare: Option<Result<Cloudflare, crate::cloudflare::CloudflareError>>,
    pub r2: Result<Option<R2Credentials>, crate::storage::StorageError>,
    /// `R2_ENDPOINT`, when set (tests, another S3).
    pub r2_endpoint: Option<String>,
    pub discord: Option<Result<Discord, crate::notify::NotifyError>>,
    /// `GITHUB_TOKEN`: what apply --push pushes with.
    pub github_token: Option<Secret>,
    /// `MC_GITOPS_NUDGE_TOKEN`: what the agent dispatches reconcile with.
    pub nudge_token: Option<Secret>,
    /// `GITHUB_REPOSITORY`, when set (Actions sets it).
    pub github_repository: Option<String>,
    /// `GITHUB_API_URL`, default `https://api.github.com`.
    pub github_api: String,
    /// `GITHUB_ACTIONS=true`: running in a workflow job.
    pub in_actions: bool,
    /// `MOJANG_API_BASE_URL`, for the repo check's player lookups.
    pub mojang_base: Option<String>,
    /// False with `--no-write`: the three write probes are not made, and
    /// their lines say what is left unproven (`!`).
    pub probes: bool,
}

impl Env {
    pub fn from_inputs(inputs: &crate::inputs::Inputs) -> Env {
        use crate::inputs::Var;
        let var = |v: Var| inputs.nonempty(v);
        Env {
            hetzner: Hetzner::from_inputs(inputs),
            cloudflare: Cloudflare::from_inputs(inputs),
            r2: R2Credentials::from_inputs(inputs),
            r2_endpoint: var(Var::R2Endpoint),
            discord: Discord::from_inputs(inputs),
            github_token: inputs.secret(Var::GithubToken),
            nudge_token: inputs.secret(Var::NudgeToken),
            github_repository: var(Var::GithubRepository),
            github_api: var(Var::GithubApiUrl).unwrap_or_else(|| crate::actions_minutes::github::DEFAULT_API.to_string()),
            in_actions: var(Var::GithubActions).is_some_and(|v| v == "true"),
            mojang_base: inputs.var(Var::MojangApiBaseUrl),
            probes: true,
        }
    }
}

/// Run every check against the repo at `root`, in the order a first run
/// needs them. Never fails: what cannot be checked is a line saying why.
pub async fn run(root: &Path, env: &Env) -> Report {
    let mut checks = Vec::new();
    let loaded = repo_checks::check_repo(root, env.mojang_base.as_deref(), &mut checks).await;
    checks.push(repo_checks::release_pin(root));
    let Some(loaded) = loaded else {
        checks.push(Check::skip(
            "cloud",
            "the cloud checks need a repo that loads (server.toml names the regions, zone and bucket)",
        ));
        return Report::new(checks);
    };
    let d = &loaded.desired;
    checks.extend(cloud::hetzner(env.hetzner.as_ref(), d, env.probes).await);
    let cf = cloud::cloudflare_token(env.cloudflare.as_ref(), &mut checks).await;
    checks.extend(cloud::dns(cf, d, env.probes).await);
    checks.extend(storage::r2(env, d).await);
    checks.push(storage::mint(cf, env, d).await);
    checks.push(github::discord(env.discord.as_ref(), d).await);
    let repo = env
        .github_repository
        .clone()
        .or_else(|| d.server.github.as_ref().and_then(|g| g.repo.clone()));
    checks.push(github::push_token(env, repo.as_deref()).await);
    checks.push(github::nudge_token(env, repo.as_deref()).await);
    Report::new(checks)
}

/// A short random id for probe names (`doctor/<id>`), so two runs (or a
/// probe left by a crash) never collide.
pub(crate) fn probe_id() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// An error with its causes, on one line (never a secret: the clients'
/// errors name resources, not credentials).
pub(crate) fn why(e: &dyn std::error::Error) -> String {
    crate::error::render_error(e)
}
