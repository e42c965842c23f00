//! The steps that edit `state` in server.toml: stopped after a stop, running
//! for a planned sitting, stopped again for a start in quiet hours.

use super::{Apply, ApplyError, Ctx, Outcome, Report, RunState};
use crate::plan::{RefuseQuietStart, SetStateRunning, SetStateStopped};

/// Set `state`; the commit message says why (`because`) when it changed.
fn set_state(cx: &Ctx<'_>, report: &mut Report, state: &str, because: String) -> Result<Outcome, ApplyError> {
    let changed = crate::repo::edit::set_state(cx.repo, state)?;
    if changed {
        report.files.push("server.toml".into());
        report.message.push(format!("set state = \"{state}\" ({because})"));
    }
    Ok(if changed {
        Outcome::Done(format!("server.toml says {state}"))
    } else {
        Outcome::Unchanged(format!("already {state}"))
    })
}

impl Apply for SetStateStopped {
    async fn apply(&self, cx: &Ctx<'_>, _st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        set_state(cx, report, "stopped", self.reason.as_str().to_string())
    }
}

impl Apply for SetStateRunning {
    async fn apply(&self, cx: &Ctx<'_>, _st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        let when = self.sitting.format("%Y-%m-%d %H:%M UTC");
        set_state(cx, report, "running", format!("planned sitting {when}"))
    }
}

impl Apply for RefuseQuietStart {
    async fn apply(&self, cx: &Ctx<'_>, _st: &mut RunState, report: &mut Report, _resource: &str) -> Result<Outcome, ApplyError> {
        let until = self.until.format("%Y-%m-%d %H:%M UTC");
        set_state(cx, report, "stopped", format!("quiet hours until {until}"))
    }
}
