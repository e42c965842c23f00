//! The ledger's summaries: `COSTS.md`, `STATUS.md`, the monthly cost files
//! ([`summaries`], one session's figures in [`summary`]) and the public status
//! page ([`site`], its chart in [`site_chart`]), all built from the session
//! records in [`crate::repo::ledger`] and written back by the bot after apply.

pub mod site;
pub(crate) mod site_chart;
pub mod summaries;
pub(crate) mod summary;
