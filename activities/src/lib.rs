//! Homeward's activities: everything a workflow asks the outside world to do.
//!
//! - [`store`]: the case store (sqlx; SQLite or PostgreSQL by URL scheme).
//! - [`users`]: users and their API keys (hashed; expiry, revocation, rotation).
//! - [`case_store`]: the activities that write workflow facts into the store.
//! - [`reports`]: statistics, the audit export, mirrored outcomes and idempotency keys.
//! - [`partners`]: travel, payments and outreach as traits, and their activities.
//! - [`travel`], [`airports`]: what the travel partner is asked (airports, fares by age,
//!   named passengers), built at call time.
//! - [`http_partners`]: the partners' HTTP clients, and the payment webhook's signature.
//! - [`wire`]: the partners' wire formats, one submodule per partner (shared with the
//!   development sandbox in `homeward-devkit`).
//! - [`notices`]: notice templates per language, rendered by the notify activity.
//! - [`consulate_pack`], [`offices`]: the PDF a request for travel documents carries, and the
//!   offices' contact details it names.
//! - [`work`], [`escalation`]: the open-task projection (inbox, workload) and the overdue sweep.
//!
//! Activities are thin: each body calls a plain function that can be tested without Temporal.
//! Only this crate knows SQL and partner wire formats; it knows nothing of HTTP status codes.
//! Fakes (the in-process ledger, the sandbox, the benchmark's twin and its no-op activity)
//! live in `homeward-devkit`, which no production worker registers.

pub mod access;
pub mod accounts;
pub mod airports;
pub mod case_store;
pub mod codec;
pub mod consulate_pack;
pub mod escalation;
pub mod http_partners;
pub mod links;
pub mod notices;
pub mod offices;
pub mod partners;
pub mod reports;
pub mod retention;
pub mod sharing;
pub mod store;
pub mod suppliers;
pub mod travel;
pub mod users;
pub mod vault;
pub mod wire;
pub mod work;

pub use case_store::CaseStoreActivitiesImpl;
pub use partners::{PartnerActivities, Partners};
pub use store::{CaseStore, StoreError};
