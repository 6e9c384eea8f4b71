//! What development, tests and the benchmark use; never registered by a production worker.
//!
//! - [`ledger`]: the in-process partner ledger (`LocalLedger`, its faults), which implements
//!   the production partner traits; [`ledger::local_partners`] serves every partner from one.
//! - [`journal`]: the ledger's SQLite journal, so a restarted sandbox remembers its keys.
//! - [`sandbox`]: an HTTP server playing the travel, payment and outreach partners, on the
//!   wire formats of `homeward_activities::wire`, with fault injection and signed webhooks.
//! - [`twin`]: the benchmark's twin workflow, its no-op activity, and [`twin::register`],
//!   which only the benchmark's workers call (`homeward worker --bench-twin`).
//!
//! `homeward dev`, `homeward sandbox`, `homeward bench` and `partners.mode = "local"` use this
//! crate; the production crates (`activities`, `worker`, `api`) do not depend on it.

pub mod journal;
pub mod ledger;
pub mod sandbox;
pub mod twin;
