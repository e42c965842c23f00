//! The simulator's figures for the world outside the lifecycle, in one
//! place (docs/simulate.md lists each with where it comes from). The cold
//! and warm start durations are the cold start budget's totals
//! (docs/coldstart.md); change them here, or per run with `--cold-start`
//! and `--warm-start` (e.g. `--cold-start 59s` with the prebuilt image).

use chrono::Duration;
use rust_decimal::Decimal;

/// Press Start → joinable on the stock image with the installs overlapping
/// the restore and mods.lock's `[[cache]]` (docs/coldstart.md, "after the
/// cuts, stock image": ≈ 94 s; ≈ 59 s with `mc-gitops image build`).
pub const COLD_START_SECS: i64 = 94;
/// Join at the sleeping listener → joinable: the JVM and Fabric boot on a
/// VPS that kept everything on disk (docs/coldstart.md step 12, ≈ 15 s,
/// an assumption there).
pub const WARM_START_SECS: i64 = 15;
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
