//! The benchmark's twin: a workflow with the same number of Updates, activities, local
//! activities and timers as a ReturnCase, and no domain logic. `homeward bench` runs both on the
//! same worker and server; the ratio of their throughputs says how much of the engine's ceiling
//! the domain logic costs.
//!
//! Here too are the twin's own activity contract ([`BenchActivities`], `bench.noop`), its
//! implementation ([`BenchActivitiesImpl`]) and [`register`], which adds both to a worker's
//! options: only `homeward worker --bench-twin` (the benchmark's workers) calls it. The
//! workflow code follows the workflow crate's rules (no I/O, no clock: it must replay).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::{activities, activity_definitions, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{WorkerOptions, WorkflowRegistrationError};
use temporalio_workflow::{
    ActivityOptions, LocalActivityOptions, SyncWorkflowContext, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};

/// The twin's one activity (its contract).
pub struct BenchActivities;

#[activity_definitions]
impl BenchActivities {
    /// Does nothing and returns its input: the cost of an activity, and nothing else.
    #[activity(name = "bench.noop")]
    pub fn noop(_n: u32) -> Result<u32, ActivityError> {
        unimplemented!()
    }
}

/// The contract's marker type, for `#[activity(definition = …)]` on the implementation.
pub mod markers {
    pub use super::bench_activities::Noop;
}

/// The twin's activity implementer, registered by [`register`].
pub struct BenchActivitiesImpl;

#[activities]
impl BenchActivitiesImpl {
    #[activity(definition = markers::Noop)]
    pub async fn noop(
        self: Arc<Self>,
        _ctx: ActivityContext,
        n: u32,
    ) -> Result<u32, ActivityError> {
        Ok(n)
    }
}

/// Registers the twin workflow and its activity on a worker's options (beside Homeward's
/// own, on the same task queue): what `homeward worker --bench-twin` adds.
pub fn register(options: &mut WorkerOptions) -> Result<(), WorkflowRegistrationError> {
    options
        .register_activities(BenchActivitiesImpl)
        .register_workflow::<Twin>()?;
    Ok(())
}

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
