//! Activity contracts: the names, inputs and outputs that workflows call.
//!
//! Only the signatures live here; `homeward-activities` implements them (and the macro checks at
//! compile time that each implementation matches its definition). This keeps the workflow crate
//! free of sqlx and reqwest.
#![allow(clippy::unused_async)]

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

use crate::domain::{CaseRef, OpenCase, Stage};

/// A stage change to mirror into the case store, so lists and statistics need not query every
/// workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChange {
    /// The case that moved.
    pub reference: CaseRef,
    /// The stage it moved to.
    pub stage: Stage,
    /// Workflow time of the move, so a replayed or retried write stores the same instant.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The case store, as workflows see it.
pub struct CaseStoreActivities;

#[activity_definitions]
impl CaseStoreActivities {
    /// Writes the case row and its `case_opened` audit event. Idempotent: a retry after a
    /// crash finds the row and changes nothing.
    #[activity(name = "case_store.record_case_opened")]
    pub fn record_case_opened(_case: OpenCase) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Mirrors a stage change into the case row. Idempotent.
    #[activity(name = "case_store.record_stage")]
    pub fn record_stage(_change: StageChange) -> Result<(), ActivityError> {
        unimplemented!()
    }
}

/// The definitions' marker types, for `#[activity(definition = …)]` on implementations, which
/// makes the compiler check that an implementation's input and output match its contract.
pub mod markers {
    pub use super::case_store_activities::{RecordCaseOpened, RecordStage};
}
