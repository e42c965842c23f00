//! Fault injection for the crash tests, compiled only with the cargo feature
//! `fault-injection` (`bash scripts/test` passes it; release builds leave it
//! out). Each switch is an environment variable read where it fires, not
//! through [`crate::inputs::Inputs`] (whose doc lists these exceptions): a
//! build without the feature has no code that reads them.
//!
//! - `MC_GITOPS_CRASH_AFTER=N`: apply ends right after its Nth change, as a
//!   crash would (no flush, no report, nothing after); `=<point>` ends it at
//!   a named point inside a change (`server-created`,
//!   `credentials-delivered`). The command exits 70.
//! - `MC_GITOPS_FAIL_CONTROL_WRITE=1`: every write of desired.json fails as
//!   storage answering 5xx past the client's retries does.

/// `MC_GITOPS_CRASH_AFTER` as a change count.
pub fn crash_after() -> Option<usize> {
    std::env::var("MC_GITOPS_CRASH_AFTER").ok()?.parse().ok()
}

/// Whether `MC_GITOPS_CRASH_AFTER` names this point.
pub fn crash_at(point: &str) -> bool {
    std::env::var("MC_GITOPS_CRASH_AFTER").is_ok_and(|v| v == point)
}

/// Whether `MC_GITOPS_FAIL_CONTROL_WRITE=1`.
pub fn control_write_fails() -> bool {
    std::env::var("MC_GITOPS_FAIL_CONTROL_WRITE").is_ok_and(|v| v == "1")
}

/// The exit status of a run a fault ended, as a crash's would be.
pub const CRASH_EXIT: u8 = 70;
