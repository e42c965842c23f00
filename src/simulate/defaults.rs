//! The simulator's figures for the world outside the lifecycle, in one
//! place (docs/simulate.md lists each with where it comes from). The cold
//! and warm start durations are the ones issue 17's cold-start work
//! measures; change them here (or per run with `--cold-start`,
//! `--warm-start`) when its measurements land.

use chrono::Duration;
use rust_decimal::Decimal;

/// Press Start → joinable: dispatch (~20 s), Hetzner create and VPS boot
/// (~40 s), cloud-init's packages (Java, ~60 s), world restore and jars
/// (~20 s for a small world), JVM and Fabric boot (~40 s). An estimate
/// from those published and observed figures until the cold start budget
/// (docs/vps.md) measures each step.
pub const COLD_START_SECS: i64 = 180;
/// Join at the sleeping listener → joinable: the JVM and the world load on
/// a VPS that kept everything on disk (the Fabric boot above).
pub const WARM_START_SECS: i64 = 40;
/// The termination timer → the final snapshot verified (the world is already
/// saved at the suspension; a small world uploads in seconds).
pub const FINAL_SNAPSHOT_SECS: i64 = 30;
/// A dispatched run (workflow_dispatch, push) starts 10–60 s later: GitHub's
/// hosted runners usually pick a job up within a minute.
pub const DISPATCH_DELAY_SECS: (i64, i64) = (10, 60);
/// A scheduled run starts 1–15 min after its tick: GitHub documents that
/// scheduled workflows may be delayed at busy times, and the top of the hour is busiest.
pub const SCHEDULE_DELAY_SECS: (i64, i64) = (60, 900);
/// A reconcile job with nothing to do: checkout, the binary, a plan → 1 billed minute.
pub const JOB_IDLE_SECS: i64 = 40;
/// A reconcile job that creates or deletes a server and commits back → 2 billed minutes.
pub const JOB_WORK_SECS: i64 = 100;
/// The hourly net price of the example's first server type (cx33 in an EU
/// location, Hetzner's `/pricing` as the fakes carry it), in EUR.
pub const PRICE_HOURLY: Decimal = Decimal::from_parts(80, 0, 0, false, 4);

pub fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}
