//! The ReturnCase workflow: one durable workflow per case, from intake to closure.
//!
//! It owns the case's state and the order of its stages. It must not do I/O, read the clock or
//! draw random numbers outside the workflow context: every effect goes through an activity.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityOptions, RetryPolicy, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::activities::{CaseStoreActivities, StageChange};
use crate::domain::{CaseRef, Intake, OpenCase, Stage};

/// What `GET /api/v1/cases/{ref}` shows of a case: no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseView {
    /// The case's public reference.
    pub reference: CaseRef,
    /// Where the case stands.
    pub stage: Stage,
    /// The intake it was opened with.
    pub intake: Intake,
    /// When it was opened.
    pub opened_at: chrono::DateTime<chrono::Utc>,
}

/// The state of one case, kept by Temporal across worker crashes and months of sleep.
#[workflow]
pub struct ReturnCase {
    /// The input the case was opened with; never changes.
    case: OpenCase,
    /// Where the case stands now.
    stage: Stage,
}

/// Store writes are cheap and idempotent: retry them patiently, for as long as the database is
/// down, rather than fail a case.
fn store_activity() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(60))
                .build(),
        )
        .build()
}

#[workflow_methods]
impl ReturnCase {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, case: OpenCase) -> Self {
        Self {
            case,
            stage: Stage::Intake,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<Stage> {
        // 1. Intake: write the case row (idempotent) so lists and statistics can see it.
        let case = ctx.state(|s| s.case.clone());
        ctx.execute_activity(
            CaseStoreActivities::record_case_opened,
            case.clone(),
            store_activity(),
        )
        .await?;

        // 2. Counselling opens as soon as the case is on record.
        move_to(ctx, Stage::Counselling).await?;

        // The rest of the lifecycle (consent, approvals, travel, reintegration) follows in
        // later stages; until then the case waits, durably, for closure.
        ctx.wait_condition(|s| s.stage == Stage::Closed).await?;
        Ok(Stage::Closed)
    }

    /// The case as the API shows it.
    #[query]
    pub fn view(&self, _ctx: &WorkflowContextView) -> CaseView {
        CaseView {
            reference: self.case.reference.clone(),
            stage: self.stage,
            intake: self.case.intake.clone(),
            opened_at: self.case.opened_at,
        }
    }
}

/// Moves the case to `stage` and mirrors the change into the case store.
async fn move_to(ctx: &mut WorkflowContext<ReturnCase>, stage: Stage) -> WorkflowResult<()> {
    ctx.state_mut(|s| s.stage = stage);
    let at = ctx
        .workflow_time()
        .map(chrono::DateTime::<chrono::Utc>::from)
        .unwrap_or_default();
    let reference = ctx.state(|s| s.case.reference.clone());
    ctx.execute_activity(
        CaseStoreActivities::record_stage,
        StageChange {
            reference,
            stage,
            at,
        },
        store_activity(),
    )
    .await?;
    Ok(())
}
