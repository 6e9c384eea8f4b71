//! The overdue sweep: a Temporal Schedule starts it every hour (the worker makes sure the
//! schedule exists); it tells the supervisors of each office about the open tasks past their
//! due date and their programme's grace (`deadlines.overdue_grace`), once per task. The reading
//! of the open-task projection, the notices and the marks happen in the activity: this
//! workflow gives the sweep a durable, retried, observable run, apart from every case (a
//! case's history never grows by a sweep).

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{WorkflowContext, WorkflowContextView, WorkflowResult};

use crate::activities::EscalationActivities;
use crate::retention::sweep_options;

/// The schedule's id, and the prefix of each run's workflow id.
pub const SCHEDULE_ID: &str = "homeward-overdue-sweep";

/// One sweep.
#[workflow]
pub struct OverdueSweep;

#[workflow_methods]
impl OverdueSweep {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, _input: ()) -> Self {
        Self
    }

    /// Escalates what is due; answers how many tasks were escalated.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<u32> {
        Ok(ctx
            .execute_activity(EscalationActivities::escalate_overdue, (), sweep_options())
            .await?)
    }
}
