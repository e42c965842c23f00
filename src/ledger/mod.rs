//! The ledger's summaries: `COSTS.md`, `STATUS.md`, the monthly cost files
//! ([`reports`], the figures they show in `figures`) and the public status
//! page ([`site`], its chart in `site_chart`), all built from the session
//! records in [`crate::repo::ledger`] and written back by the bot after apply.

pub(crate) mod figures;
pub mod reports;
pub mod site;
pub(crate) mod site_chart;
