//! The retention sweep: a Temporal Schedule starts it every day (the worker makes sure the
//! schedule exists); it asks the vault to erase the personal data of every case closed longer
//! ago than its programme keeps it. The erasing, and its audit rows, happen in the activity:
//! this workflow only gives the sweep a durable, retried, observable run.

use std::time::Duration;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityOptions, RetryPolicy, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::activities::RetentionActivities;

/// The schedule's id, and the prefix of each run's workflow id.
pub const SCHEDULE_ID: &str = "homeward-retention-sweep";

/// One sweep.
#[workflow]
pub struct RetentionSweep;

#[workflow_methods]
impl RetentionSweep {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, _input: ()) -> Self {
        Self
    }

    /// Erases what is due; answers how many cases were erased.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<u32> {
        Ok(ctx
            .execute_activity(RetentionActivities::sweep_retention, (), sweep_options())
            .await?)
    }
}

/// A sweep's one activity: ten minutes an attempt, retried for about three hours (the next
/// scheduled run takes over after that).
pub(crate) fn sweep_options() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(10))
                .maximum_interval(Duration::from_secs(600))
                .maximum_attempts(20)
                .build(),
        )
        .build()
}
