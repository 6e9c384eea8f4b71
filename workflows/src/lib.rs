//! Homeward's domain types and workflow definitions.
//!
//! A tour:
//! - [`domain`]: newtypes that parse, don't validate (`CaseRef`, `CountryCode`, `Stage`, …).
//! - [`ids`]: workflow IDs, built in one place, never carrying personal data.
//! - [`activities`]: the contracts of the activities workflows call (implemented elsewhere).
//! - [`return_case`]: the ReturnCase workflow, one per case, from intake to closure: `run` tells
//!   the story, a file per stage.
//! - [`rules`]: the AVRR rules a case applies, as pure functions with their unit tests.
//! - [`visibility`], [`idempotency`]: contracts with other processes (search attributes and
//!   memo; idempotency keys), defined once.
//! - [`person`]: the returnee as a person (names, documents, phone, …): never in a workflow.
//! - [`retention`]: the daily sweep that erases personal data past its programme's retention.
//! - [`work`], [`escalation`]: who holds a task (claim, assign, release), the open-task
//!   projection a case writes, and the hourly sweep that tells supervisors about overdue work.
//! - [`seal`]: decision seals: the API signs each decision, the worker refuses unsigned ones.
//!
//! This crate does no I/O and reads no clock: everything here must replay deterministically.
//! It depends on neither sqlx, reqwest nor tokio; CI checks that.

pub mod activities;
pub mod actors;
pub mod domain;
pub mod escalation;
pub mod idempotency;
pub mod ids;
pub mod outcomes;
pub mod person;
pub mod programme;
pub mod retention;
pub mod return_case;
pub mod rules;
pub mod seal;
pub mod tasks;
pub mod visibility;
pub mod work;

/// The task queue every Homeward worker polls.
pub const TASK_QUEUE: &str = "homeward-cases";
