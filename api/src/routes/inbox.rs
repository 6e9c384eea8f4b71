//! `/api/v1/inbox`: the open tasks a caller can act on, earliest due first.
//!
//! Answered from visibility (see `visibility.rs`): the cases of the caller's office (or partner
//! country) with an open task of the caller's role, their tasks taken from each case's memo.
//! Auditors and admins see every open task and act on none.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;

use homeward_workflows::domain::CaseRef;
use homeward_workflows::tasks::{Role, TaskType};
use homeward_workflows::visibility::{self as sa, TaskSummary};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::QueryReader;
use crate::routes::cases::scope_filter;
use crate::state::AppState;
use crate::visibility::{list_all, quoted};

/// The most cases one inbox request reads from visibility.
const CASE_CAP: usize = 10_000;

/// The inbox routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/inbox", get(inbox))
}

/// One task in an inbox.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct InboxItem {
    /// The case.
    reference: CaseRef,
    /// The task.
    #[serde(flatten)]
    task: TaskSummary,
    /// Past its due date.
    overdue: bool,
    /// The caller asked for this approval, so another person must give it (four-eyes).
    requested_by_you: bool,
    /// Where to complete it.
    href: String,
}

/// An inbox page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Inbox {
    /// The tasks on this page, earliest due first.
    tasks: Vec<InboxItem>,
    /// Tasks matching, over every page.
    total: usize,
    /// Pass as `offset` for the next page.
    next_offset: Option<usize>,
    /// More than the cap of cases matched: narrow the filter to see the rest.
    truncated: bool,
}

/// The open tasks the caller can act on, earliest due first.
#[utoipa::path(
    get,
    path = "/api/v1/inbox",
    tag = "inbox",
    params(
        ("type" = Option<homeward_workflows::tasks::TaskType>, Query, description = "Only this task type"),
        ("overdue" = Option<bool>, Query, description = "Only overdue tasks"),
        ("due_before" = Option<String>, Query, description = "A date (2027-01-31) or RFC 3339 time"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Default 50"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "From next_offset"),
    ),
    responses(
        (status = 200, description = "Tasks", body = Inbox),
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn inbox(
    State(state): State<AppState>,
    caller: Caller,
    mut q: QueryReader,
) -> Result<Json<Inbox>, ApiError> {
    let task_type: Option<TaskType> = q.name("type", "task type");
    let overdue = q.flag("overdue").unwrap_or(false);
    let due_before = q.instant("due_before");
    let limit = q.number("limit", 1, 500, 50) as usize;
    let offset = q.number("offset", 0, i64::from(u32::MAX), 0) as usize;
    let role = caller.actor.role;
    if let Some(t) = task_type
        && !matches!(role, Role::Auditor | Role::Admin)
        && t.role() != role
    {
        q.problem(
            "type",
            format!(
                "{} tasks are not for the {} role",
                t.as_str(),
                role.as_str()
            ),
        );
    }
    q.finish()?;

    let types: Vec<TaskType> = TaskType::ALL
        .into_iter()
        .filter(|t| matches!(role, Role::Auditor | Role::Admin) || t.role() == role)
        .filter(|t| task_type.is_none_or(|wanted| wanted == *t))
        .collect();
    if types.is_empty() {
        return Ok(Json(Inbox {
            tasks: vec![],
            total: 0,
            next_offset: None,
            truncated: false,
        }));
    }
    let now = Utc::now();
    // Due before the earlier of the two bounds asked for.
    let bound: Option<DateTime<Utc>> = match (overdue.then_some(now), due_before) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // Cases publish the roles whose work waits; runs recorded before that published task
    // types, and are found by those until they end.
    let mut roles: Vec<Role> = types.iter().map(|t| t.role()).collect();
    roles.sort();
    roles.dedup();
    let mut filter = format!(
        "ExecutionStatus = 'Running' AND ({} IN ({}) OR {} IN ({}))",
        sa::WAITING_ON,
        roles
            .iter()
            .map(|r| quoted(r.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        sa::OPEN_TASKS_RECORDED,
        types
            .iter()
            .map(|t| quoted(t.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(scope) = scope_filter(&caller) {
        filter.push_str(" AND ");
        filter.push_str(&scope);
    }
    if let Some(bound) = bound {
        filter.push_str(&format!(
            " AND {} < {}",
            sa::NEXT_DUE,
            quoted(&bound.to_rfc3339())
        ));
    }
    let (cases, truncated) = list_all(&state, &filter, CASE_CAP).await?;

    let mut items: Vec<InboxItem> = cases
        .into_iter()
        .flat_map(|case| {
            let reference = case.reference;
            case.open_tasks
                .into_iter()
                .map(move |task| (reference.clone(), task))
        })
        .filter(|(_, task)| types.contains(&task.task_type))
        .filter(|(_, task)| bound.is_none_or(|b| task.due_at.is_some_and(|d| d < b)))
        .map(|(reference, task)| InboxItem {
            href: format!("/api/v1/cases/{reference}/tasks/{}", task.id),
            overdue: task.due_at.is_some_and(|d| d < now),
            requested_by_you: task.requested_by.as_deref() == Some(caller.actor.id.as_str()),
            reference,
            task,
        })
        .collect();
    // Earliest due first; undated tasks last, oldest first.
    items.sort_by(|a, b| {
        (a.task.due_at.is_none(), a.task.due_at, a.task.opened_at).cmp(&(
            b.task.due_at.is_none(),
            b.task.due_at,
            b.task.opened_at,
        ))
    });
    let total = items.len();
    let tasks: Vec<InboxItem> = items.into_iter().skip(offset).take(limit).collect();
    let next_offset = (offset + tasks.len() < total).then_some(offset + tasks.len());
    Ok(Json(Inbox {
        tasks,
        total,
        next_offset,
        truncated,
    }))
}
