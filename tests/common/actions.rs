//! A GitHub Actions runner for tests: it runs a workflow file's own jobs and
//! `run:` steps the way a hosted runner does, so a workflow that forgets a
//! flag, a variable or a secret fails a test instead of a user's server.
//!
//! What it does as GitHub does (and is tested for in `tests/actions_runner.rs`):
//! jobs in `needs` order, each in a fresh workspace; `if:` with the implicit
//! `success()` unless a status function is named; `${{ }}` in `env:`, `with:`
//! and `run:`; the `github`, `inputs` (dispatch defaults filled in), `secrets`,
//! `env`, `needs`, `steps` and `runner` contexts; `run:` through
//! `bash --noprofile --norc -eo pipefail {0}`; the `GITHUB_OUTPUT`,
//! `GITHUB_ENV`, `GITHUB_PATH` and `GITHUB_STEP_SUMMARY` files (both
//! `NAME=value` and `NAME<<DELIM` forms); the default environment variables
//! (and not `GITHUB_TOKEN`, which a workflow must map itself).
//!
//! What it does not: containers, matrices, services, composite actions,
//! `hashFiles`. `uses:` steps go to a hook ([`Uses`]), by the action's name
//! before the `@` (shipped workflows pin a commit sha: `actions/checkout@<sha>`);
//! [`checkout_from`] implements `actions/checkout` as a clone of a local remote. Concurrency
//! groups are not simulated (runs are sequential): tests assert them on
//! [`Job::concurrency`]. Steps named in [`Run::skip_steps`] are reported as
//! skipped (the release download: the binary under test is on `PATH`).
#![allow(dead_code, unused_imports)] // each test crate uses its own subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};

mod expr;
pub(crate) use expr::{eval, interpolate, truthy};

/// One workflow file, parsed.
#[derive(Clone, Debug)]
pub(crate) struct Workflow {
    pub name: String,
    /// The file name (`reconcile.yml`), as `GITHUB_WORKFLOW_REF` ends.
    pub file: String,
    pub on: Value,
    pub env: Vec<(String, String)>,
    pub concurrency: Option<Value>,
    pub jobs: Vec<Job>,
}

#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub id: String,
    pub needs: Vec<String>,
    pub condition: Option<String>,
    pub env: Vec<(String, String)>,
    pub concurrency: Option<Value>,
    pub permissions: Option<Value>,
    pub timeout_minutes: Option<u64>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub name: String,
    pub id: Option<String>,
    pub condition: Option<String>,
    pub run: Option<String>,
    pub uses: Option<String>,
    pub with: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    pub continue_on_error: bool,
    pub working_directory: Option<String>,
}

fn yaml_to_json(y: serde_norway::Value) -> Value {
    serde_json::to_value(y).expect("YAML maps to JSON")
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
        .unwrap_or_default()
}

fn condition(v: Option<&Value>) -> Option<String> {
    v.map(scalar).filter(|s| !s.trim().is_empty())
}

impl Workflow {
    pub(crate) fn load(path: &Path) -> Workflow {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let yaml: serde_norway::Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
        let doc = yaml_to_json(yaml);
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let jobs = doc["jobs"]
            .as_object()
            .unwrap_or_else(|| panic!("{file} has no jobs"))
            .iter()
            .map(|(id, j)| Job::parse(id, j))
            .collect();
        Workflow {
            name: doc["name"].as_str().unwrap_or(&file).to_string(),
            // YAML 1.1 reads a bare `on` as true; serde_norway (YAML 1.2) keeps "on".
            on: doc.get("on").or_else(|| doc.get("true")).cloned().unwrap_or(Value::Null),
            env: pairs(doc.get("env")),
            concurrency: doc.get("concurrency").cloned(),
            file,
            jobs,
        }
    }

    pub(crate) fn job(&self, id: &str) -> &Job {
        self.jobs
            .iter()
            .find(|j| j.id == id)
            .unwrap_or_else(|| panic!("{} has no job {id}", self.file))
    }

    /// `workflow_dispatch` inputs with their defaults, overridden by `given`.
    pub(crate) fn dispatch_inputs(&self, given: &BTreeMap<String, String>) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(inputs) = self.on["workflow_dispatch"]["inputs"].as_object() {
            for (k, spec) in inputs {
                if let Some(d) = spec.get("default") {
                    out.insert(k.clone(), d.clone());
                }
            }
        }
        for (k, v) in given {
            out.insert(k.clone(), Value::String(v.clone()));
        }
        out
    }
}

impl Job {
    fn parse(id: &str, j: &Value) -> Job {
        let needs = match &j["needs"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(scalar).collect(),
            _ => Vec::new(),
        };
        let steps = j["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("job {id} has no steps"))
            .iter()
            .enumerate()
            .map(|(i, s)| Step {
                name: s["name"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| s["uses"].as_str().map(|u| format!("Run {u}")))
                    .unwrap_or_else(|| format!("step {}", i + 1)),
                id: s["id"].as_str().map(str::to_string),
                condition: condition(s.get("if")),
                // `run: false` is YAML's boolean: GitHub runs it as the text.
                run: s.get("run").filter(|r| !r.is_null()).map(scalar),
                uses: s["uses"].as_str().map(str::to_string),
                with: pairs(s.get("with")),
                env: pairs(s.get("env")),
                continue_on_error: s["continue-on-error"].as_bool().unwrap_or(false),
                working_directory: s["working-directory"].as_str().map(str::to_string),
            })
            .collect();
        Job {
            id: id.to_string(),
            needs,
            condition: condition(j.get("if")),
            env: pairs(j.get("env")),
            concurrency: j.get("concurrency").cloned(),
            permissions: j.get("permissions").cloned(),
            timeout_minutes: j["timeout-minutes"].as_u64(),
            steps,
        }
    }
}

/// How a job or step ended (`needs.<job>.result`, `steps.<id>.outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
    Skipped,
    Cancelled,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Skipped => "skipped",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// What triggered the run.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    /// `schedule`, `workflow_dispatch`, `push`, `pull_request`, …
    pub name: String,
    /// `workflow_dispatch` inputs as sent (defaults are filled in from the workflow).
    pub inputs: BTreeMap<String, String>,
    /// `github.event` beyond the inputs (a pull request, …).
    pub payload: Value,
}

impl Event {
    pub(crate) fn new(name: &str) -> Event {
        Event {
            name: name.to_string(),
            inputs: BTreeMap::new(),
            payload: json!({}),
        }
    }

    pub(crate) fn dispatch(inputs: &[(&str, &str)]) -> Event {
        Event {
            inputs: inputs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Event::new("workflow_dispatch")
        }
    }
}

/// A `uses:` step as the hook sees it.
pub(crate) struct UsesCall<'a> {
    pub job: &'a str,
    pub step: &'a Step,
    /// `with:`, expressions evaluated.
    pub with: BTreeMap<String, String>,
    pub workspace: &'a Path,
    pub event: &'a Event,
}

/// Carries out `uses:` steps; `Err` fails the step with that message.
pub(crate) type Uses<'a> = dyn FnMut(&UsesCall<'_>) -> Result<(), String> + 'a;

/// `actions/checkout` as a clone of `remote` (a bare repository), honouring
/// `ref` and `fetch-depth` (default 1, as the action's); any other action fails.
pub(crate) fn checkout_from(remote: &Path) -> impl FnMut(&UsesCall<'_>) -> Result<(), String> + '_ {
    move |call| {
        let action = call.step.uses.as_deref().unwrap_or_default();
        if !action.starts_with("actions/checkout@") {
            return Err(format!("the test runner cannot run {action}"));
        }
        let depth = call.with.get("fetch-depth").map_or("1", String::as_str);
        let url = format!("file://{}", remote.display());
        let mut clone = Command::new("git");
        clone.args(["clone", "--quiet", "--no-tags"]);
        if depth != "0" {
            clone.args(["--depth", depth]);
        }
        if let Some(r) = call.with.get("ref").filter(|r| !r.is_empty()) {
            clone.args(["--branch", r.trim_start_matches("refs/heads/")]);
        }
        let out = clone.arg(&url).arg(call.workspace).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("git clone: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    }
}

/// Everything about one run that is not in the workflow file.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    pub event: Event,
    /// `secrets.*` (`GITHUB_TOKEN` is added from `token`).
    pub secrets: BTreeMap<String, String>,
    /// `vars.*`: the repository's configuration variables.
    pub vars: BTreeMap<String, String>,
    /// `github.token`.
    pub token: String,
    pub repository: String,
    pub actor: String,
    pub actor_id: u64,
    pub api_url: String,
    /// The runner machine's own environment (fake endpoints, …), beneath
    /// everything the workflow sets.
    pub env: Vec<(String, String)>,
    /// Directories in front of the system `PATH` (the binary under test).
    pub path: Vec<PathBuf>,
    /// Steps not run, by name (reported as skipped).
    pub skip_steps: Vec<String>,
    /// Where job workspaces and runner temp dirs are made.
    pub root: PathBuf,
    pub run_id: u64,
}

impl Run {
    pub(crate) fn new(event: Event, root: &Path) -> Run {
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Run {
            event,
            secrets: BTreeMap::new(),
            vars: BTreeMap::new(),
            token: "ghs_test-runner-token-not-a-secret-0".into(),
            repository: "friends/grove-state".into(),
            actor: "grove-admin".into(),
            actor_id: 4_242,
            api_url: "https://api.github.invalid".into(),
            env: Vec::new(),
            path: Vec::new(),
            skip_steps: Vec::new(),
            root: root.to_path_buf(),
            run_id: RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct StepReport {
    pub name: String,
    pub outcome: Outcome,
    pub exit: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Clone, Debug)]
pub(crate) struct JobReport {
    pub id: String,
    pub result: Outcome,
    pub steps: Vec<StepReport>,
    /// Everything the steps appended to `GITHUB_STEP_SUMMARY`.
    pub summary: String,
    pub workspace: PathBuf,
    pub outputs: BTreeMap<String, BTreeMap<String, String>>,
}

impl JobReport {
    pub(crate) fn step(&self, name: &str) -> &StepReport {
        self.steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("job {} has no step {name:?}", self.id))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct RunReport {
    pub jobs: Vec<JobReport>,
}

impl RunReport {
    pub(crate) fn job(&self, id: &str) -> &JobReport {
        self.jobs
            .iter()
            .find(|j| j.id == id)
            .unwrap_or_else(|| panic!("the run has no job {id}"))
    }

    /// No job failed or was cancelled.
    pub(crate) fn ok(&self) -> bool {
        self.jobs.iter().all(|j| matches!(j.result, Outcome::Success | Outcome::Skipped))
    }

    /// Every step's output, labelled, for assertion messages.
    pub(crate) fn log(&self) -> String {
        let mut out = String::new();
        for j in &self.jobs {
            out.push_str(&format!("== job {} ({})\n", j.id, j.result.as_str()));
            for s in &j.steps {
                out.push_str(&format!(
                    "-- {} ({}, exit {:?})\n{}{}\n",
                    s.name,
                    s.outcome.as_str(),
                    s.exit,
                    s.stdout,
                    s.stderr
                ));
            }
        }
        out
    }
}

mod exec;
pub(crate) use exec::run;
