//! The case's open tasks in the case store, for the inbox (`crate::work::TaskProjection`):
//! written whenever they changed since the last write (a task opened, answered, retracted,
//! claimed, assigned or released; the case closed), each write one revision higher. Runs
//! recorded before `task-projection` write nothing; `homeward reindex` covers them.

use temporalio_workflow::ActivityExecutionError;

use super::ReturnCase;
use super::effects::{Ctx, store};
use crate::activities::CaseStoreActivities;
use crate::work::{TaskProjection, rows};

/// Whether the case store's copy of the open tasks is behind the case.
pub(super) fn behind(s: &ReturnCase) -> bool {
    s.patches.task_projection && s.projected.as_ref() != Some(&rows(&s.tasks))
}

/// Writes the open tasks if they changed since the last write (a local activity,
/// idempotent; an older revision never overwrites a newer one).
pub(super) async fn project(ctx: &Ctx) -> Result<(), ActivityExecutionError> {
    let Some(projection) = ctx.state_mut(|s| {
        behind(s).then(|| {
            s.tasks_revision += 1;
            TaskProjection::of(
                &s.case.reference,
                &s.case.intake,
                &s.tasks,
                s.tasks_revision,
            )
        })
    }) else {
        return Ok(());
    };
    let written = projection.tasks.clone();
    ctx.execute_local_activity(CaseStoreActivities::project_tasks, projection, store())
        .await?;
    ctx.state_mut(|s| s.projected = Some(written));
    Ok(())
}
