//! The case-store activities: thin bodies over [`CaseStore`], which is testable alone.
//!
//! A database error is retryable (the workflow's retry policy waits the outage out); a value the
//! store rejects as corrupt is not, and fails the activity for a human to look at.

use std::sync::Arc;

use temporalio_common::error::ApplicationFailure;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use homeward_workflows::activities::{CaseOutcome, DecisionsAccepted, StageChange, markers};
use homeward_workflows::domain::OpenCase;

use crate::store::{CaseStore, StoreError};

impl StoreError {
    /// The one place that decides which store failures are worth retrying: an unreachable or
    /// busy database is (the workflow's retry policy waits the outage out); anything else needs
    /// a human and fails the activity at once, with a type name to search for.
    pub fn into_activity_error(self) -> ActivityError {
        let type_name = match &self {
            StoreError::Database(_) => {
                return ActivityError::application(ApplicationFailure::new(self));
            }
            StoreError::Corrupt { .. } => "StoreCorrupt",
            StoreError::UnsupportedScheme { .. } => "StoreMisconfigured",
            StoreError::Migrate(_) => "StoreMigration",
            StoreError::Invalid { .. } => "StoreInvalid",
        };
        ActivityError::application(
            ApplicationFailure::builder(self)
                .type_name(type_name.to_owned())
                .non_retryable(true)
                .build(),
        )
    }
}

/// The activity implementer registered with the worker.
pub struct CaseStoreActivitiesImpl {
    /// The store every activity writes through.
    store: CaseStore,
}

impl CaseStoreActivitiesImpl {
    /// Wraps a connected, migrated store.
    pub fn new(store: CaseStore) -> Self {
        Self { store }
    }
}

#[activities]
impl CaseStoreActivitiesImpl {
    #[activity(definition = markers::RecordCaseOpened)]
    pub async fn record_case_opened(
        self: Arc<Self>,
        _ctx: ActivityContext,
        case: OpenCase,
    ) -> Result<(), ActivityError> {
        let inserted = self
            .store
            .record_case_opened(&case)
            .await
            .map_err(StoreError::into_activity_error)?;
        tracing::info!(case = %case.reference, inserted, "case recorded");
        Ok(())
    }

    #[activity(definition = markers::RecordStage)]
    pub async fn record_stage(
        self: Arc<Self>,
        _ctx: ActivityContext,
        change: StageChange,
    ) -> Result<(), ActivityError> {
        self.store
            .record_stage(&change.reference, change.stage, change.at)
            .await
            .map_err(StoreError::into_activity_error)?;
        tracing::info!(case = %change.reference, stage = %change.stage, "stage recorded");
        Ok(())
    }

    #[activity(definition = markers::RecordOutcome)]
    pub async fn record_outcome(
        self: Arc<Self>,
        _ctx: ActivityContext,
        outcome: CaseOutcome,
    ) -> Result<(), ActivityError> {
        self.store
            .record_outcome(&outcome)
            .await
            .map_err(StoreError::into_activity_error)
    }

    #[activity(definition = markers::ProjectTasks)]
    pub async fn project_tasks(
        self: Arc<Self>,
        _ctx: ActivityContext,
        projection: homeward_workflows::work::TaskProjection,
    ) -> Result<(), ActivityError> {
        self.store
            .project_tasks(&projection)
            .await
            .map(|_| ())
            .map_err(StoreError::into_activity_error)
    }

    #[activity(definition = markers::RecordDecisions)]
    pub async fn record_decisions(
        self: Arc<Self>,
        _ctx: ActivityContext,
        accepted: DecisionsAccepted,
    ) -> Result<(), ActivityError> {
        self.store
            .record_decisions(&accepted)
            .await
            .map_err(StoreError::into_activity_error)
    }
}
