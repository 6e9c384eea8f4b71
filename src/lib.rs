//! Homeward runs every assisted-voluntary-return case as a durable Temporal workflow.
//!
//! A tour of the workspace (see ARCHITECTURE.md for the invariants):
//! - `workflows/` (`homeward_workflows`): domain types and the ReturnCase workflow; no I/O.
//! - `activities/` (`homeward_activities`): the case store, partner clients, wire formats.
//! - `devkit/` (`homeward_devkit`): the partner sandbox, the in-process ledger and the
//!   benchmark's twin; for `dev`, `sandbox`, `bench`, local partners and tests only.
//! - `worker/` (`homeward_worker`): Temporal runtime, client and worker wiring.
//! - `api/` (`homeward_api`): the HTTP API; the only place that knows status codes.
//! - this crate: the command line ([`cli`]) and what each command does ([`commands`]), the
//!   API's command-line client ([`client`]), configuration ([`settings`], [`keys`]), logging
//!   ([`telemetry`]), file permissions ([`files`]), the embedded Temporal dev server
//!   ([`devserver`]), the replay corpus format ([`histories`]), the benchmark ([`bench`]), and
//!   [`application`], which assembles the parts for the commands and for the tests.

pub mod application;
pub mod bench;
pub mod cli;
pub mod client;
pub mod commands;
pub mod devserver;
pub mod files;
pub mod histories;
pub mod keys;
pub mod programmes;
pub mod reindex;
pub mod settings;
pub mod telemetry;
