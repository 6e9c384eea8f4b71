//! Decisions on a case: complete a task, withdraw consent, close early. Each is a workflow
//! Update whose validator has the last word; the authenticated caller is the actor, and every
//! attempt, accepted or refused, is appended to the audit trail.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use temporalio_client::WorkflowExecuteUpdateOptions;
use temporalio_client::errors::WorkflowUpdateError;
use temporalio_common::{HasWorkflowDefinition, UpdateDefinition};

use homeward_workflows::domain::CaseRef;
use homeward_workflows::ids::return_case_workflow_id;
use homeward_workflows::outcomes::Payee;
use homeward_workflows::return_case::{
    CaseView, ClosureReason, EarlyClosure, ReturnCase, Withdrawal,
};
use homeward_workflows::tasks::{RejectionCode, Role, TaskCompletion, TaskOutcome, TaskType};
use homeward_workflows::work::{TaskAssignment, TaskProjection};

use homeward_workflows::domain::MAX_FREE_TEXT;
use homeward_workflows::seal::{DecisionKey, SEAL_HEADER};
use temporalio_common::protos::temporal::api::common::v1::Header;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::routes::cases::{case_in_scope, check_scope};
use crate::state::AppState;
use crate::views::CaseFor;

/// The decision routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/cases/{reference}/tasks/{task}",
            post(complete_task),
        )
        .route(
            "/api/v1/cases/{reference}/tasks/{task}/claim",
            post(claim_task),
        )
        .route(
            "/api/v1/cases/{reference}/tasks/{task}/release",
            post(release_task),
        )
        .route(
            "/api/v1/cases/{reference}/tasks/{task}/assign",
            post(assign_task),
        )
        .route("/api/v1/cases/{reference}/withdrawal", post(withdraw))
        .route("/api/v1/cases/{reference}/closure", post(close))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteBody {
    outcome: TaskOutcome,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignBody {
    /// The colleague's user id (`u-…`): of the task's role, in the case's office.
    assignee: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WithdrawBody {
    reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CloseBody {
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
                Some(RejectionCode::TaskNotOpen | RejectionCode::Claimed) => {
                    ApiError::Conflict(message)
                }
                // Outside the caller's office: answered as if the case did not exist.
                Some(RejectionCode::OutOfScope) => {
                    ApiError::NotFound(format!("no case {reference}"))
                }
                Some(
                    RejectionCode::WrongRole | RejectionCode::FourEyes | RejectionCode::Unsealed,
                ) => ApiError::Forbidden(message),
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

/// Complete a task as the authenticated caller (a workflow Update; its validator decides).
#[utoipa::path(
    post,
    path = "/api/v1/cases/{reference}/tasks/{task}",
    tag = "decisions",
    params(
        ("reference" = String, Path, pattern = r"^HW-[0-9A-HJKMNP-TV-Z]{12}$", description = "HW- and 12 characters"),
        ("task" = u32, Path, description = "The task number"),
    ),
    request_body = CompleteBody,
    responses(
        (status = 200, description = "Accepted: the case's new state, as the caller may see it", body = CaseFor),
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Wrong role or four-eyes violation", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
        (status = 409, description = "The task is no longer open", body = crate::error::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::error::ErrorBody),
        (status = 422, description = "The workflow refused it", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn complete_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, task)): Path<(String, String)>,
    ApiJson(body): ApiJson<CompleteBody>,
) -> Result<Json<CaseFor>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    let task_id: u32 = task
        .parse()
        .map_err(|_| ApiError::field("task", "must be a task number"))?;
    // One round trip: the validator checks scope, role, four-eyes and content, and the Update
    // answers with the case's new state.
    check_text("reason", &body.reason)?;
    // A supplier's invoice names a supplier of the case's own office (the workflow cannot
    // read the register; the payment activity reads the account from it later).
    // So do a costed plan's budget lines, and an amendment's.
    let suppliers: Vec<(String, &str)> = match &body.outcome {
        TaskOutcome::Invoice { supplier, .. } => vec![("outcome.supplier".into(), supplier)],
        TaskOutcome::Plan { lines, .. }
        | TaskOutcome::Milestone {
            amended_lines: Some(lines),
            ..
        } => {
            let field = if matches!(body.outcome, TaskOutcome::Plan { .. }) {
                "lines"
            } else {
                "amended_lines"
            };
            lines
                .iter()
                .enumerate()
                .filter_map(|(i, l)| match &l.payee {
                    Payee::Supplier { supplier } => Some((
                        format!("outcome.{field}[{i}].payee.supplier"),
                        supplier.as_str(),
                    )),
                    Payee::Cash => None,
                })
                .collect()
        }
        _ => vec![],
    };
    if !suppliers.is_empty()
        && let Ok(case) = case_in_scope(&state, &caller, &reference).await
    {
        for (field, supplier) in suppliers {
            crate::routes::suppliers::check_office_supplier(
                &state,
                supplier,
                &case.host_country,
                &field,
            )
            .await?;
        }
    }
    if let TaskOutcome::ChildViews { heard: false, .. } = &body.outcome {
        check_child_not_heard(&state, &caller, &reference, task_id).await?;
    }
    let completion = TaskCompletion {
        task_id,
        actor: caller.actor.clone(),
        reason: body.reason,
        outcome: body.outcome,
    };
    let action = format!("task_completed:{task_id}");
    decide(
        &state,
        &caller,
        &reference,
        action,
        ReturnCase::complete_task,
        completion,
    )
    .await
}

/// A child's views may go unheard only below the programme's age
/// (`children.views_required_from_age`, `rules::child_views_required`): the child's age on the
/// day comes from their person record (the task's subject), read here and audited, since the
/// case itself holds no birth date. A child whose birth date is not recorded is heard.
async fn check_child_not_heard(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
    task_id: u32,
) -> Result<(), ApiError> {
    let case = case_in_scope(state, caller, reference).await?;
    let Some(task) = state
        .store
        .open_tasks_of(reference)
        .await?
        .into_iter()
        .find(|t| t.task_id == task_id && t.task_type == TaskType::ChildViews)
    else {
        // Not an open child's-views task: the case's validator names what is wrong.
        return Ok(());
    };
    let from_age = homeward_workflows::domain::ProgrammeId::parse(&case.programme)
        .ok()
        .and_then(|id| state.programmes.get(&id))
        .map(|p| p.children.views_required_from_age)
        .unwrap_or_default();
    let member = task.subject.unwrap_or_default();
    let born = match state.vault.person(reference, member).await {
        Ok(record) => record.person.date_of_birth,
        Err(_) => None,
    };
    crate::audit::record_detail(
        state,
        caller,
        reference,
        "people_read",
        format!("member {member}: date_of_birth (the child's age, for hearing their views)"),
    )
    .await;
    let Some(born) = born else {
        return Err(ApiError::field(
            "outcome.heard",
            "the child's date of birth is not recorded: a child whose age is unknown is heard",
        ));
    };
    homeward_workflows::rules::child_views_required(
        born.age_on(chrono::Utc::now().date_naive()),
        from_age,
    )
    .map_err(|m| ApiError::field("outcome.heard", m.trim_start_matches("heard: ").to_owned()))
}

/// Sends a decision Update to the case, sealed with the decision key (the worker refuses an
/// unsealed one), audits the attempt, accepted or refused, and answers with the case's new
/// state as the caller may see it (every decision Update returns it: one round trip).
async fn decide<U>(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
    action: String,
    update: U,
    input: U::Input,
) -> Result<Json<CaseFor>, ApiError>
where
    U: UpdateDefinition<Workflow = <ReturnCase as HasWorkflowDefinition>::Run, Output = CaseView>,
    U::Input: Send + serde::Serialize,
{
    if let Err(e) = check_scope(state, caller, reference).await {
        if matches!(e, ApiError::NotFound(_)) {
            crate::audit::record(state, caller, reference, action, "rejected").await;
        }
        return Err(e);
    }
    let workflow_id = return_case_workflow_id(reference);
    let options = sealed(state, &workflow_id, update.name(), &input);
    let result = state
        .temporal
        .get_workflow_handle::<ReturnCase>(workflow_id)
        .execute_update(update, input, options)
        .await;
    let outcome = if result.is_ok() {
        "accepted"
    } else {
        "rejected"
    };
    crate::audit::record(state, caller, reference, action, outcome).await;
    if let Ok(view) = &result
        && view.tasks_revision == 0
    {
        // A run recorded before cases wrote their own tasks: keep its inbox rows current.
        let tasks = if view.closure.is_some() {
            &[][..]
        } else {
            &view.tasks[..]
        };
        let projection = TaskProjection::of(&view.reference, &view.intake, tasks, 0);
        if let Err(e) = state.store.project_tasks(&projection).await {
            tracing::warn!(case = %reference, error = %e, "the open-task projection lags");
        }
    }
    result
        .map(|view| Json(CaseFor::new(caller, view)))
        .map_err(|e| update_error(reference, e))
}

fn task_number(task: &str) -> Result<u32, ApiError> {
    task.parse()
        .map_err(|_| ApiError::field("task", "must be a task number"))
}

/// Claim a task: it is yours until you complete or release it (a workflow Update).
#[utoipa::path(
    post,
    path = "/api/v1/cases/{reference}/tasks/{task}/claim",
    tag = "decisions",
    params(
        ("reference" = String, Path, pattern = r"^HW-[0-9A-HJKMNP-TV-Z]{12}$", description = "HW- and 12 characters"),
        ("task" = u32, Path, description = "The task number"),
    ),
    responses(
        (status = 200, description = "Yours: the case's new state", body = CaseFor),
        (status = 400, description = "A bad parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Not your role's task, or you requested it", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
        (status = 409, description = "Not open, or a colleague holds it", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn claim_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, task)): Path<(String, String)>,
) -> Result<Json<CaseFor>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    let task_id = task_number(&task)?;
    let a = TaskAssignment {
        task_id,
        actor: caller.actor.clone(),
        assignee: Some(caller.actor.id.clone()),
    };
    reassign(&state, &caller, &reference, a).await
}

/// Release a task you hold (or, for a supervisor, anyone's) back to its role's pool.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{reference}/tasks/{task}/release",
    tag = "decisions",
    params(
        ("reference" = String, Path, pattern = r"^HW-[0-9A-HJKMNP-TV-Z]{12}$", description = "HW- and 12 characters"),
        ("task" = u32, Path, description = "The task number"),
    ),
    responses(
        (status = 200, description = "Released: the case's new state", body = CaseFor),
        (status = 400, description = "A bad parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "A colleague holds it and you are not a supervisor", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
        (status = 409, description = "Not open", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn release_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, task)): Path<(String, String)>,
) -> Result<Json<CaseFor>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    let task_id = task_number(&task)?;
    let a = TaskAssignment {
        task_id,
        actor: caller.actor.clone(),
        assignee: None,
    };
    reassign(&state, &caller, &reference, a).await
}

/// Assign a task to a colleague of its role in the case's office (supervisors).
#[utoipa::path(
    post,
    path = "/api/v1/cases/{reference}/tasks/{task}/assign",
    tag = "decisions",
    params(
        ("reference" = String, Path, pattern = r"^HW-[0-9A-HJKMNP-TV-Z]{12}$", description = "HW- and 12 characters"),
        ("task" = u32, Path, description = "The task number"),
    ),
    request_body = AssignBody,
    responses(
        (status = 200, description = "Assigned: the case's new state", body = CaseFor),
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Not a supervisor, or the requester of an approval", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
        (status = 409, description = "Not open", body = crate::error::ErrorBody),
        (status = 422, description = "The assignee cannot take this task", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn assign_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, task)): Path<(String, String)>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<Json<CaseFor>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    let task_id = task_number(&task)?;
    let case = crate::routes::cases::case_in_scope(&state, &caller, &reference).await?;
    // The colleague must exist, in this office (for a partner task: the partner the case was
    // handed over to), with the task's role. The workflow checks the rest.
    let view = crate::routes::cases::query_view(&state, &reference).await?;
    let task_role = view
        .tasks
        .iter()
        .find(|t| t.id == task_id)
        .map(|t| t.role)
        .ok_or_else(|| ApiError::Conflict(format!("task {task_id} is not open")))?;
    let assignee = state.store.get_user(&body.assignee).await?;
    let fits = assignee.as_ref().is_some_and(|u| {
        Role::parse(&u.role) == Some(task_role)
            && u.office.as_deref() == Some(case.host_country.as_str())
            && (task_role != Role::Partner
                || u.country.as_deref() == Some(case.origin_country.as_str()))
    });
    if !fits {
        return Err(ApiError::Unprocessable(format!(
            "assignee: no {} of this case's office with that id",
            task_role.as_str()
        )));
    }
    let a = TaskAssignment {
        task_id,
        actor: caller.actor.clone(),
        assignee: Some(body.assignee),
    };
    reassign(&state, &caller, &reference, a).await
}

async fn reassign(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
    a: TaskAssignment,
) -> Result<Json<CaseFor>, ApiError> {
    let action = format!("{}:{}", a.action(), a.task_id);
    decide(state, caller, reference, action, ReturnCase::assign_task, a).await
}

/// Update options carrying the decision's seal (`homeward_workflows::seal`), issued now.
pub fn sealed<T: serde::Serialize>(
    state: &AppState,
    workflow_id: &str,
    update: &str,
    input: &T,
) -> WorkflowExecuteUpdateOptions {
    sealed_at(
        &state.decision_key,
        workflow_id,
        update,
        input,
        chrono::Utc::now(),
    )
}

/// Update options carrying a seal issued at `at` (tests on the time-skipping server seal with
/// its clock).
pub fn sealed_at<T: serde::Serialize>(
    key: &DecisionKey,
    workflow_id: &str,
    update: &str,
    input: &T,
    at: chrono::DateTime<chrono::Utc>,
) -> WorkflowExecuteUpdateOptions {
    let seal = key.seal(workflow_id, update, input, at);
    let header = Header {
        fields: [(SEAL_HEADER.to_owned(), DecisionKey::header(&seal))].into(),
    };
    WorkflowExecuteUpdateOptions::builder()
        .header(header)
        .build()
}

/// Refuses free text longer than the audit trail and the case's history should carry.
fn check_text(field: &'static str, text: &str) -> Result<(), ApiError> {
    if text.chars().count() > MAX_FREE_TEXT {
        return Err(ApiError::field(
            field,
            format!("must be at most {MAX_FREE_TEXT} characters"),
        ));
    }
    Ok(())
}

/// Withdraw consent (before departure): the case unwinds and closes.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{reference}/withdrawal",
    tag = "decisions",
    params(("reference" = String, Path, pattern = r"^HW-[0-9A-HJKMNP-TV-Z]{12}$", description = "HW- and 12 characters")),
    request_body = WithdrawBody,
    responses(
        (status = 200, description = "Accepted: the case's new state, as the caller may see it", body = CaseFor),
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Wrong role or four-eyes violation", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
        (status = 409, description = "The task is no longer open", body = crate::error::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::error::ErrorBody),
        (status = 422, description = "The workflow refused it", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    ApiJson(body): ApiJson<WithdrawBody>,
) -> Result<Json<CaseFor>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    caller.require(&[Role::ReturnOfficer, Role::Operations])?;
    check_text("reason", &body.reason)?;
    let withdrawal = Withdrawal {
        actor: caller.actor.clone(),
        reason: body.reason,
    };
    let action = "consent_withdrawn".to_owned();
    decide(
        &state,
        &caller,
        &reference,
        action,
        ReturnCase::withdraw_consent,
        withdrawal,
    )
    .await
}

/// Close a case early, with a reason (operations).
#[utoipa::path(
    post,
    path = "/api/v1/cases/{reference}/closure",
    tag = "decisions",
    params(("reference" = String, Path, pattern = r"^HW-[0-9A-HJKMNP-TV-Z]{12}$", description = "HW- and 12 characters")),
    request_body = CloseBody,
    responses(
        (status = 200, description = "Accepted: the case's new state, as the caller may see it", body = CaseFor),
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Wrong role or four-eyes violation", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
        (status = 409, description = "The task is no longer open", body = crate::error::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::error::ErrorBody),
        (status = 422, description = "The workflow refused it", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    ApiJson(body): ApiJson<CloseBody>,
) -> Result<Json<CaseFor>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    caller.require(&[Role::Operations])?;
    check_text("note", &body.note)?;
    let closure = EarlyClosure {
        actor: caller.actor.clone(),
        reason: body.reason,
        note: body.note,
    };
    let action = "case_closed_early".to_owned();
    decide(
        &state,
        &caller,
        &reference,
        action,
        ReturnCase::close_case,
        closure,
    )
    .await
}
