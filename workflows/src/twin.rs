//! The benchmark's twin: a workflow with the same number of Updates, activities, local
//! activities and timers as a ReturnCase, and no domain logic. `homeward bench` runs both on the
//! same worker and server; the ratio of their throughputs says how much of the engine's ceiling
//! the domain logic costs.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityOptions, LocalActivityOptions, SyncWorkflowContext, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};

use crate::activities::BenchActivities;

/// How much work a twin does, copied from a closed case's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwinShape {
    /// Updates it waits for, one after another.
    pub updates: u32,
    /// Activities it runs.
    pub activities: u32,
    /// Local activities it runs.
    pub local_activities: u32,
    /// Timers it sleeps on.
    pub timers: u32,
    /// How long each timer lasts, in milliseconds.
    pub timer_ms: u64,
}

/// The twin's state: its shape and how many updates arrived.
#[workflow]
pub struct Twin {
    shape: TwinShape,
    received: u32,
}

/// The `i`-th of `n` shares of `total`: spreads work evenly over the updates.
fn share(total: u32, n: u32, i: u32) -> u32 {
    if n == 0 {
        return if i == 0 { total } else { 0 };
    }
    total * (i + 1) / n - total * i / n
}

#[workflow_methods]
impl Twin {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, shape: TwinShape) -> Self {
        Self { shape, received: 0 }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<u32> {
        let shape = ctx.state(|s| s.shape);
        let rounds = shape.updates.max(1);
        for i in 0..rounds {
            if i < shape.updates {
                ctx.wait_condition(|s| s.received > i).await?;
            }
            for _ in 0..share(shape.activities, rounds, i) {
                ctx.execute_activity(
                    BenchActivities::noop,
                    i,
                    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30)).build(),
                )
                .await?;
            }
            for _ in 0..share(shape.local_activities, rounds, i) {
                ctx.execute_local_activity(
                    BenchActivities::noop,
                    i,
                    LocalActivityOptions::builder()
                        .start_to_close_timeout(Duration::from_secs(10))
                        .build(),
                )
                .await?;
            }
            for _ in 0..share(shape.timers, rounds, i) {
                ctx.timer(Duration::from_millis(shape.timer_ms)).await;
            }
        }
        Ok(ctx.state(|s| s.received))
    }

    /// One step: what a task completion is to a case.
    #[update]
    pub fn step(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _n: u32) -> u32 {
        self.received += 1;
        self.received
    }
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_add_up() {
        for (total, n) in [(7, 3), (0, 4), (23, 23), (5, 0), (40, 7)] {
            let sum: u32 = (0..n.max(1)).map(|i| share(total, n, i)).sum();
            assert_eq!(sum, total, "{total} over {n}");
        }
    }
}
