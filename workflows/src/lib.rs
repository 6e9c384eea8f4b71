//! Homeward's domain types and workflow definitions.
//!
//! A tour:
//! - [`domain`]: newtypes that parse, don't validate (`CaseRef`, `CountryCode`, `Stage`, …).
//! - [`ids`]: workflow IDs, built in one place, never carrying personal data.
//! - [`activities`]: the contracts of the activities workflows call (implemented elsewhere).
//! - [`return_case`]: the ReturnCase workflow, one per case, from intake to closure.
//! - [`seal`]: decision seals: the API signs each decision, the worker refuses unsigned ones.
//!
//! This crate does no I/O and reads no clock: everything here must replay deterministically.
//! It depends on neither sqlx, reqwest nor tokio; CI checks that.

pub mod activities;
pub mod domain;
pub mod ids;
pub mod programme;
pub mod return_case;
pub mod seal;
mod steps;
pub mod tasks;

/// The task queue every Homeward worker polls.
pub const TASK_QUEUE: &str = "homeward-cases";
