//! Running the jobs: order, conditions, contexts, the step processes and the
//! runner's file commands.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::{Event, Job, JobReport, Outcome, Run, RunReport, StepReport, Uses, UsesCall, Workflow, eval, interpolate, truthy};

/// A step may run this long at most (GitHub's default is 6 hours; a test
/// has no such patience), unless the job's `timeout-minutes` is shorter.
const STEP_LIMIT: Duration = Duration::from_secs(600);

/// Run every job of `wf` for `run`, in `needs` order.
pub(crate) fn run(wf: &Workflow, run: &Run, uses: &mut Uses<'_>) -> RunReport {
    let base = run.root.join(format!("run-{}", run.run_id));
    std::fs::create_dir_all(&base).unwrap();
    let event = event_payload(wf, &run.event);
    let event_path = base.join("event.json");
    std::fs::write(&event_path, serde_json::to_vec_pretty(&event).unwrap()).unwrap();
    let mut done: Vec<JobReport> = Vec::new();
    for job in ordered(wf) {
        let needs: Vec<&JobReport> = job
            .needs
            .iter()
            .map(|n| {
                done.iter()
                    .find(|r| &r.id == n)
                    .unwrap_or_else(|| panic!("job {} needs unknown {n}", job.id))
            })
            .collect();
        let needs_ctx: Map<String, Value> = needs
            .iter()
            .map(|r| (r.id.clone(), json!({ "result": r.result.as_str(), "outputs": {} })))
            .collect();
        let all_ok = needs.iter().all(|r| r.result == Outcome::Success);
        let any_failed = needs.iter().any(|r| r.result == Outcome::Failure);
        let status = move |f: &str| match f {
            "success" => all_ok,
            "failure" => any_failed,
            "always" => true,
            _ => false, // cancelled(): nothing is cancelled here
        };
        let ctx = context(wf, run, &event, Map::new(), Value::Object(needs_ctx.clone()), &Map::new(), &base);
        let go = decide(job.condition.as_deref(), &ctx, &status, all_ok);
        let report = if go {
            run_job(wf, job, run, &event, &event_path, Value::Object(needs_ctx), &base, uses)
        } else {
            JobReport {
                id: job.id.clone(),
                result: Outcome::Skipped,
                steps: Vec::new(),
                summary: String::new(),
                workspace: PathBuf::new(),
                outputs: BTreeMap::new(),
            }
        };
        done.push(report);
    }
    RunReport { jobs: done }
}

/// An `if:`: without a status function, `success() && (…)` is implied.
fn decide(cond: Option<&str>, ctx: &Value, status: &dyn Fn(&str) -> bool, ok: bool) -> bool {
    let Some(c) = cond else { return ok };
    let c = c.trim();
    let c = c.strip_prefix("${{").and_then(|x| x.strip_suffix("}}")).unwrap_or(c);
    let lower = c.to_ascii_lowercase();
    let has_status = ["success(", "failure(", "always(", "cancelled("].iter().any(|f| lower.contains(f));
    (has_status || ok) && truthy(&eval(c, ctx, status))
}

fn ordered(wf: &Workflow) -> Vec<&Job> {
    let mut out: Vec<&Job> = Vec::new();
    while out.len() < wf.jobs.len() {
        let before = out.len();
        for j in &wf.jobs {
            if !out.iter().any(|o| o.id == j.id) && j.needs.iter().all(|n| out.iter().any(|o| &o.id == n)) {
                out.push(j);
            }
        }
        assert!(out.len() > before, "{}: the jobs' needs form a cycle", wf.file);
    }
    out
}

fn event_payload(wf: &Workflow, e: &Event) -> Value {
    let mut payload = e.payload.clone();
    if e.name == "workflow_dispatch" {
        payload["inputs"] = Value::Object(wf.dispatch_inputs(&e.inputs));
    }
    payload
}

fn github(wf: &Workflow, run: &Run, event: &Value, workspace: &Path) -> Value {
    let pr = &event["pull_request"];
    let git_ref = match run.event.name.as_str() {
        "pull_request" => format!("refs/pull/{}/merge", pr["number"]),
        _ => "refs/heads/main".into(),
    };
    json!({
        "event_name": run.event.name,
        "event": event,
        "repository": run.repository,
        "repository_owner": run.repository.split('/').next().unwrap(),
        "actor": run.actor,
        "actor_id": run.actor_id.to_string(),
        "triggering_actor": run.actor,
        "token": run.token,
        "ref": git_ref,
        "ref_name": git_ref.trim_start_matches("refs/heads/"),
        "base_ref": pr["base"]["ref"].as_str().unwrap_or(""),
        "head_ref": pr["head"]["ref"].as_str().unwrap_or(""),
        "sha": event["after"].as_str().or(pr["head"]["sha"].as_str()).unwrap_or(""),
        "workflow": wf.name,
        "workflow_ref": format!("{}/.github/workflows/{}@refs/heads/main", run.repository, wf.file),
        "run_id": run.run_id.to_string(),
        "run_number": run.run_id.to_string(),
        "run_attempt": "1",
        "server_url": "https://github.com",
        "api_url": run.api_url,
        "workspace": workspace.display().to_string(),
    })
}

fn context(
    wf: &Workflow,
    run: &Run,
    event: &Value,
    env: Map<String, Value>,
    needs: Value,
    steps: &Map<String, Value>,
    temp: &Path,
) -> Value {
    let mut secrets: Map<String, Value> = run.secrets.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    secrets.insert("GITHUB_TOKEN".into(), json!(run.token));
    json!({
        "github": github(wf, run, event, temp),
        "inputs": event.get("inputs").cloned().unwrap_or(json!({})),
        "secrets": secrets,
        "env": env,
        "needs": needs,
        "steps": steps,
        "runner": { "os": "Linux", "arch": "X64", "temp": temp.display().to_string() },
        "vars": run.vars,
    })
}

#[allow(clippy::too_many_arguments)]
fn run_job(
    wf: &Workflow,
    job: &Job,
    run: &Run,
    event: &Value,
    event_path: &Path,
    needs: Value,
    base: &Path,
    uses: &mut Uses<'_>,
) -> JobReport {
    let dir = base.join(&job.id);
    let workspace = dir.join("work");
    let temp = dir.join("tmp");
    let home = dir.join("home");
    for d in [&workspace, &temp, &home] {
        std::fs::create_dir_all(d).unwrap();
    }
    let limit = job
        .timeout_minutes
        .map_or(STEP_LIMIT, |m| Duration::from_secs(m * 60).min(STEP_LIMIT));
    let gh = github(wf, run, event, &workspace);
    let mut defaults: Vec<(String, String)> = vec![
        ("CI".into(), "true".into()),
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_JOB".into(), job.id.clone()),
        ("GITHUB_EVENT_PATH".into(), event_path.display().to_string()),
        ("GITHUB_WORKSPACE".into(), workspace.display().to_string()),
        ("RUNNER_TEMP".into(), temp.display().to_string()),
        ("RUNNER_OS".into(), "Linux".into()),
        ("RUNNER_ARCH".into(), "X64".into()),
        ("HOME".into(), home.display().to_string()),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    for (var, key) in [
        ("GITHUB_EVENT_NAME", "event_name"),
        ("GITHUB_REPOSITORY", "repository"),
        ("GITHUB_REPOSITORY_OWNER", "repository_owner"),
        ("GITHUB_ACTOR", "actor"),
        ("GITHUB_ACTOR_ID", "actor_id"),
        ("GITHUB_TRIGGERING_ACTOR", "triggering_actor"),
        ("GITHUB_REF", "ref"),
        ("GITHUB_REF_NAME", "ref_name"),
        ("GITHUB_BASE_REF", "base_ref"),
        ("GITHUB_HEAD_REF", "head_ref"),
        ("GITHUB_SHA", "sha"),
        ("GITHUB_WORKFLOW", "workflow"),
        ("GITHUB_WORKFLOW_REF", "workflow_ref"),
        ("GITHUB_RUN_ID", "run_id"),
        ("GITHUB_RUN_NUMBER", "run_number"),
        ("GITHUB_RUN_ATTEMPT", "run_attempt"),
        ("GITHUB_SERVER_URL", "server_url"),
        ("GITHUB_API_URL", "api_url"),
    ] {
        defaults.push((var.into(), gh[key].as_str().unwrap_or_default().to_string()));
    }

    let mut env: Map<String, Value> = Map::new();
    let mut steps_ctx: Map<String, Value> = Map::new();
    let mut extra_path: Vec<String> = Vec::new();
    let mut reports = Vec::new();
    let mut summary = String::new();
    let mut failed = false;
    let no_steps = Map::new();
    // Workflow and job `env:` may use the contexts too.
    for (k, v) in wf.env.iter().chain(&job.env) {
        let ctx = context(wf, run, event, env.clone(), needs.clone(), &no_steps, &temp);
        env.insert(k.clone(), json!(interpolate(v, &ctx, &|f| f != "cancelled" && f != "failure")));
    }
    for (n, step) in job.steps.iter().enumerate() {
        let f = failed;
        let status = move |name: &str| match name {
            "success" => !f,
            "failure" => f,
            "always" => true,
            _ => false,
        };
        let ctx = context(wf, run, event, env.clone(), needs.clone(), &steps_ctx, &temp);
        let skip = run.skip_steps.contains(&step.name) || !decide(step.condition.as_deref(), &ctx, &status, !failed);
        if skip {
            reports.push(StepReport {
                name: step.name.clone(),
                outcome: Outcome::Skipped,
                exit: None,
                stdout: String::new(),
                stderr: String::new(),
            });
            if let Some(id) = &step.id {
                steps_ctx.insert(id.clone(), json!({ "outputs": {}, "outcome": "skipped", "conclusion": "skipped" }));
            }
            continue;
        }
        let mut step_env = env.clone();
        for (k, v) in &step.env {
            let ctx = context(wf, run, event, step_env.clone(), needs.clone(), &steps_ctx, &temp);
            step_env.insert(k.clone(), json!(interpolate(v, &ctx, &status)));
        }
        let ctx = context(wf, run, event, step_env.clone(), needs.clone(), &steps_ctx, &temp);
        let files = temp.join(format!("_files/{n}"));
        std::fs::create_dir_all(&files).unwrap();
        let file = |name: &str| files.join(name);
        for f in ["output", "env", "path", "summary"] {
            std::fs::write(file(f), "").unwrap();
        }
        let report = if let Some(script) = &step.run {
            let script = interpolate(script, &ctx, &status);
            let path = temp.join(format!("step-{n}.sh"));
            std::fs::write(&path, script).unwrap();
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]).arg(&path);
            cmd.env_clear();
            let system_path = std::env::var("PATH").unwrap_or_default();
            let mut path_parts: Vec<String> = extra_path.iter().rev().cloned().collect();
            path_parts.extend(run.path.iter().map(|p| p.display().to_string()));
            path_parts.push(system_path);
            cmd.env("PATH", path_parts.join(":"));
            cmd.envs(run.env.iter().map(|(k, v)| (k, v)));
            cmd.envs(defaults.iter().map(|(k, v)| (k, v)));
            cmd.envs(
                step_env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())),
            );
            cmd.env("GITHUB_OUTPUT", file("output"))
                .env("GITHUB_ENV", file("env"))
                .env("GITHUB_PATH", file("path"))
                .env("GITHUB_STEP_SUMMARY", file("summary"));
            let wd = step.working_directory.as_ref().map_or(workspace.clone(), |d| workspace.join(d));
            cmd.current_dir(wd);
            execute(&step.name, cmd, &files, limit)
        } else {
            let with = step.with.iter().map(|(k, v)| (k.clone(), interpolate(v, &ctx, &status))).collect();
            let call = UsesCall {
                job: &job.id,
                step,
                with,
                workspace: &workspace,
                event: &run.event,
            };
            let res = uses(&call);
            StepReport {
                name: step.name.clone(),
                outcome: if res.is_ok() { Outcome::Success } else { Outcome::Failure },
                exit: None,
                stdout: String::new(),
                stderr: res.err().unwrap_or_default(),
            }
        };
        let outputs = read_pairs(&file("output"));
        for (k, v) in read_pairs(&file("env")) {
            env.insert(k, json!(v));
        }
        extra_path.extend(
            std::fs::read_to_string(file("path"))
                .unwrap()
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
        summary.push_str(&std::fs::read_to_string(file("summary")).unwrap());
        let outcome = report.outcome;
        if let Some(id) = &step.id {
            let conclusion = if outcome == Outcome::Failure && step.continue_on_error {
                "success"
            } else {
                outcome.as_str()
            };
            steps_ctx.insert(
                id.clone(),
                json!({ "outputs": outputs, "outcome": outcome.as_str(), "conclusion": conclusion }),
            );
        }
        if outcome == Outcome::Failure && !step.continue_on_error {
            failed = true;
        }
        reports.push(report);
    }
    let outputs = steps_ctx
        .iter()
        .map(|(id, s)| {
            let o = s["outputs"].as_object().cloned().unwrap_or_default();
            (
                id.clone(),
                o.into_iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                    .collect(),
            )
        })
        .collect();
    JobReport {
        id: job.id.clone(),
        result: if failed { Outcome::Failure } else { Outcome::Success },
        steps: reports,
        summary,
        workspace,
        outputs,
    }
}

/// Run one step's process with its output in files (no pipe can fill up),
/// killed at `limit`.
fn execute(name: &str, mut cmd: Command, files: &Path, limit: Duration) -> StepReport {
    let out_path = files.join("stdout");
    let err_path = files.join("stderr");
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start bash for step {name:?}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    if status.is_none() {
        stderr.push_str(&format!("\n[test runner] step {name:?} killed after {limit:?}\n"));
    }
    let exit = status.and_then(|s| s.code());
    StepReport {
        name: name.to_string(),
        outcome: if exit == Some(0) { Outcome::Success } else { Outcome::Failure },
        exit,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr,
    }
}

/// `NAME=value` lines and `NAME<<DELIM` … `DELIM` blocks, as GitHub reads
/// `GITHUB_OUTPUT` and `GITHUB_ENV`.
pub(super) fn read_pairs(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        } else if !line.trim().is_empty() {
            panic!("{}: unrecognised line {line:?}", path.display());
        }
    }
    out
}
