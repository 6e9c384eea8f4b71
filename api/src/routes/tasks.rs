//! Decisions on a case: complete a task, withdraw consent, close early. Each is a workflow
//! Update whose validator has the last word; the authenticated caller is the actor, and every
//! attempt, accepted or refused, is appended to the audit trail.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use temporalio_client::errors::{WorkflowQueryError, WorkflowUpdateError};
use temporalio_client::{WorkflowExecuteUpdateOptions, WorkflowQueryOptions};

use homeward_workflows::domain::CaseRef;
use homeward_workflows::ids::return_case_workflow_id;
use homeward_workflows::return_case::{
    CaseView, ClosureReason, EarlyClosure, ReturnCase, Withdrawal,
};
use homeward_workflows::tasks::{RejectionCode, Role, TaskCompletion, TaskOutcome};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

/// The decision routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/cases/{reference}/tasks/{task}",
            post(complete_task),
        )
        .route("/api/v1/cases/{reference}/withdrawal", post(withdraw))
        .route("/api/v1/cases/{reference}/closure", post(close))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteBody {
    outcome: TaskOutcome,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WithdrawBody {
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    reason: ClosureReason,
    note: String,
}

/// Maps an Update's failure to the API's errors: the validator's code decides the status.
fn update_error(reference: &CaseRef, e: WorkflowUpdateError) -> ApiError {
    match e {
        WorkflowUpdateError::NotFound(_) => ApiError::NotFound(format!("no case {reference}")),
        WorkflowUpdateError::Failed(failure) => {
            let message = failure.message.clone();
            match RejectionCode::from_message(&message) {
                Some(RejectionCode::TaskNotOpen) => ApiError::Conflict(message),
                Some(RejectionCode::WrongRole | RejectionCode::FourEyes) => {
                    ApiError::Forbidden(message)
                }
                Some(RejectionCode::Invalid) | None => ApiError::Unprocessable(message),
            }
        }
        WorkflowUpdateError::Rpc(status) => {
            tracing::warn!(code = ?status.code(), "temporal refused an update");
            ApiError::Unavailable("the workflow engine is unavailable; retry later".into())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

async fn view(state: &AppState, reference: &CaseRef) -> Result<Json<CaseView>, ApiError> {
    state
        .temporal
        .get_workflow_handle::<ReturnCase>(return_case_workflow_id(reference))
        .query(ReturnCase::view, (), WorkflowQueryOptions::default())
        .await
        .map(Json)
        .map_err(|e| match e {
            WorkflowQueryError::NotFound(_) => ApiError::NotFound(format!("no case {reference}")),
            other => ApiError::Internal(other.to_string()),
        })
}

/// Refuses (as "no such case") a caller outside the case's office or partner country.
async fn check_scope(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
) -> Result<(), ApiError> {
    let Json(v) = view(state, reference).await?;
    if crate::routes::cases::in_scope(caller, &v) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no case {reference}")))
    }
}

async fn complete_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, task)): Path<(String, String)>,
    ApiJson(body): ApiJson<CompleteBody>,
) -> Result<Json<CaseView>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    let task_id: u32 = task
        .parse()
        .map_err(|_| ApiError::field("task", "must be a task number"))?;
    check_scope(&state, &caller, &reference).await?;
    let completion = TaskCompletion {
        task_id,
        actor: caller.actor.clone(),
        reason: body.reason,
        outcome: body.outcome,
    };
    let result = state
        .temporal
        .get_workflow_handle::<ReturnCase>(return_case_workflow_id(&reference))
        .execute_update(
            ReturnCase::complete_task,
            completion,
            WorkflowExecuteUpdateOptions::default(),
        )
        .await;
    let action = format!("task_completed:{task_id}");
    settle(&state, &caller, &reference, action, result).await
}

/// Audits an Update's result, accepted or refused, and answers with the case's new state.
async fn settle<T>(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
    action: String,
    result: Result<T, WorkflowUpdateError>,
) -> Result<Json<CaseView>, ApiError> {
    let outcome = if result.is_ok() {
        "accepted"
    } else {
        "rejected"
    };
    crate::audit::record(state, caller, reference, action, outcome).await;
    result.map_err(|e| update_error(reference, e))?;
    view(state, reference).await
}

async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    ApiJson(body): ApiJson<WithdrawBody>,
) -> Result<Json<CaseView>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    caller.require(&[Role::ReturnOfficer, Role::Operations])?;
    check_scope(&state, &caller, &reference).await?;
    let result = state
        .temporal
        .get_workflow_handle::<ReturnCase>(return_case_workflow_id(&reference))
        .execute_update(
            ReturnCase::withdraw_consent,
            Withdrawal {
                actor: caller.actor.clone(),
                reason: body.reason,
            },
            WorkflowExecuteUpdateOptions::default(),
        )
        .await;
    settle(
        &state,
        &caller,
        &reference,
        "consent_withdrawn".into(),
        result,
    )
    .await
}

async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    ApiJson(body): ApiJson<CloseBody>,
) -> Result<Json<CaseView>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    caller.require(&[Role::Operations])?;
    check_scope(&state, &caller, &reference).await?;
    let result = state
        .temporal
        .get_workflow_handle::<ReturnCase>(return_case_workflow_id(&reference))
        .execute_update(
            ReturnCase::close_case,
            EarlyClosure {
                actor: caller.actor.clone(),
                reason: body.reason,
                note: body.note,
            },
            WorkflowExecuteUpdateOptions::default(),
        )
        .await;
    settle(
        &state,
        &caller,
        &reference,
        "case_closed_early".into(),
        result,
    )
    .await
}
