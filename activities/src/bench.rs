//! The benchmark twin's activity: the cost of an activity round trip, and nothing else.

use std::sync::Arc;

use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use homeward_workflows::activities::markers;

/// The activity implementer registered with the worker.
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
