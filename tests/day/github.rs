//! The GitHub stand-in: a run of `reconcile.yml` is the workflow file as it
//! is on the remote's `main`, executed by the test Actions runner
//! (`tests/common/actions.rs`) with the event, inputs and secrets GitHub
//! would give it; `actions/checkout` clones the bare remote; the release
//! download is skipped and the binary under test is on `PATH` instead.
//! A nudge the GitHub dispatch fake received queues a run with the inputs
//! it carried (GitHub fills in the workflow's defaults for missing ones).
//! Runs are sequential, as the workflow's concurrency group makes them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::actions::{self, Event, Run, RunReport, Workflow};
use crate::world::{ADMIN, Day, NUDGE_TOKEN, REPOSITORY, RUN_TOKEN, bin, git};

pub(crate) const WORKFLOW: &str = ".github/workflows/reconcile.yml";
/// The step that downloads the release: the binary under test stands in.
pub(crate) const INSTALL_STEP: &str = "Install mc-gitops";

/// One run, as the test keeps it.
pub(crate) struct RunRecord {
    pub event: String,
    pub inputs: BTreeMap<String, String>,
    pub report: RunReport,
}

impl RunRecord {
    pub(crate) fn ok(&self) -> bool {
        self.report.ok()
    }

    pub(crate) fn log(&self) -> String {
        self.report.log()
    }
}

impl Day {
    /// Run reconcile.yml for `event` and keep its report.
    pub(crate) fn run_workflow(&self, event: Event) -> usize {
        let _group = self.run_lock.lock().unwrap();
        let n = self.runs.lock().unwrap().len() + 1;
        let dir = self.tmp.path().join(format!("runs/{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let wf_path = dir.join("reconcile.yml");
        std::fs::write(&wf_path, git(&self.remote, &["show", &format!("main:{WORKFLOW}")])).unwrap();
        let wf = Workflow::load(&wf_path);
        let mut run = Run::new(event.clone(), &dir);
        run.secrets = self.secrets();
        run.token = RUN_TOKEN.into();
        run.repository = REPOSITORY.into();
        run.actor = ADMIN.into();
        run.api_url = self.gh.url.clone();
        run.env = self.runner_env();
        run.path = vec![bin().parent().unwrap().to_path_buf()];
        run.skip_steps = vec![INSTALL_STEP.into()];
        let what = format!("{} {:?}", event.name, event.inputs);
        self.note(format!("run {n}: reconcile.yml on {what}"));
        let mut checkout = actions::checkout_from(&self.remote);
        let report = actions::run(&wf, &run, &mut checkout);
        self.note(format!("run {n}: {}", if report.ok() { "succeeded" } else { "FAILED" }));
        let log = report.log();
        for s in self.all_secrets() {
            assert!(!log.contains(&s), "run {n} ({what}) printed a secret:\n{log}");
        }
        self.runs.lock().unwrap().push(RunRecord {
            event: event.name.clone(),
            inputs: event.inputs.clone(),
            report,
        });
        n
    }

    pub(crate) fn run_ok(&self, n: usize) -> bool {
        self.runs.lock().unwrap()[n - 1].ok()
    }

    /// The output of the run's Apply step (every step, when it has none).
    pub(crate) fn apply_output(&self, n: usize) -> String {
        let runs = self.runs.lock().unwrap();
        let r = &runs[n - 1].report;
        r.jobs
            .iter()
            .flat_map(|j| j.steps.iter())
            .filter(|s| s.name == "Apply")
            .map(|s| format!("{}{}", s.stdout, s.stderr))
            .next()
            .unwrap_or_else(|| r.log())
    }

    /// What run `n`'s step `name` printed (empty when it did not run).
    pub(crate) fn step_output(&self, n: usize, name: &str) -> String {
        let runs = self.runs.lock().unwrap();
        runs[n - 1]
            .report
            .jobs
            .iter()
            .flat_map(|j| j.steps.iter())
            .filter(|s| s.name == name)
            .map(|s| format!("{}{}", s.stdout, s.stderr))
            .collect()
    }

    /// Nudges received since the last call, each as the dispatch GitHub
    /// would run; every one must carry the nudge token and nothing else.
    pub(crate) fn take_nudges(&self) -> Vec<Event> {
        let calls = self.gh.calls();
        let mut taken = self.nudges_taken.lock().unwrap();
        let new = calls[*taken..].to_vec();
        *taken = calls.len();
        new.into_iter()
            .map(|c| {
                assert_eq!(
                    c.authorization.as_deref(),
                    Some(format!("Bearer {NUDGE_TOKEN}").as_str()),
                    "a nudge without the nudge token: {c:?}"
                );
                assert!(
                    c.path.ends_with("/actions/workflows/reconcile.yml/dispatches"),
                    "a nudge to {}",
                    c.path
                );
                let inputs: Vec<(String, String)> = c.body["inputs"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let inputs: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                self.note(format!("nudge received: {}", c.body));
                Event::dispatch(&inputs)
            })
            .collect()
    }
}

/// GitHub answering nudges: a thread that turns each one into a run.
pub(crate) struct NudgeRunner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NudgeRunner {
    pub(crate) fn start(day: Arc<Day>) -> NudgeRunner {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                for event in day.take_nudges() {
                    day.run_workflow(event);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        NudgeRunner {
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            if let Err(e) = t.join() {
                std::panic::resume_unwind(e);
            }
        }
    }
}

impl Drop for NudgeRunner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
