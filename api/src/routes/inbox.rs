//! `/api/v1/inbox` and `/api/v1/workload`: the open tasks, read from the case store's open-task
//! projection (`homeward_activities::work`) with one indexed query per page, never from the
//! engine. Each case writes its tasks there when they change, a few milliseconds after the
//! change (see ARCHITECTURE.md on how stale each read can be).
//!
//! An inbox shows the tasks of the caller's role in the caller's scope: by default the unheld
//! ones and the caller's own; `holder=mine|pool`; a supervisor may also ask for one colleague's
//! (`holder=<user id>`) or everyone's (`holder=anyone`). Auditors and admins see every open task
//! and act on none.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;

use homeward_activities::work::{Holder, InboxQuery, OpenTask};
use homeward_workflows::domain::CaseRef;
use homeward_workflows::tasks::{Role, Scope, TaskType};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::QueryReader;
use crate::state::AppState;
use crate::visibility::{open_token, seal_token};

/// The inbox routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/inbox", get(inbox))
        .route("/api/v1/workload", get(workload))
}

/// One task in an inbox.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct InboxItem {
    /// The case.
    reference: CaseRef,
    /// The task number within the case.
    id: u32,
    /// What is asked.
    task_type: TaskType,
    /// Who may complete it.
    role: Role,
    /// The member, tranche or follow-up it concerns (an index, never a name).
    subject: Option<u32>,
    /// When it opened.
    opened_at: DateTime<Utc>,
    /// When it is due.
    due_at: Option<DateTime<Utc>>,
    /// Past its due date.
    overdue: bool,
    /// Who asked for it (they may not complete it: four-eyes).
    requested_by: Option<String>,
    /// The caller asked for this approval, so another person must give it.
    requested_by_you: bool,
    /// Who holds it (absent: nobody; any of the role may claim it).
    assignee: Option<String>,
    /// Since when.
    claimed_at: Option<DateTime<Utc>>,
    /// The caller holds it.
    held_by_you: bool,
    /// Where to complete it (POST), or claim it (`…/claim`).
    href: String,
    /// A restricted case (a trafficking victim's): only the staff named on it act on it; others
    /// ask a return officer named on it or a supervisor to be named (absent: not restricted).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    restricted: bool,
}

/// An inbox page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Inbox {
    /// The tasks on this page, earliest due first (undated last).
    tasks: Vec<InboxItem>,
    /// Pass as `page_token` for the next page; absent on the last.
    next_page_token: Option<String>,
}

fn item(caller: &Caller, t: OpenTask, now: DateTime<Utc>) -> InboxItem {
    let me = caller.actor.id.as_str();
    InboxItem {
        href: format!("/api/v1/cases/{}/tasks/{}", t.reference, t.task_id),
        overdue: t.due_at.is_some_and(|d| d < now),
        requested_by_you: t.requested_by.as_deref() == Some(me),
        held_by_you: t.assignee.as_deref() == Some(me),
        reference: t.reference,
        id: t.task_id,
        task_type: t.task_type,
        role: t.role,
        subject: t.subject,
        opened_at: t.opened_at,
        due_at: t.due_at,
        requested_by: t.requested_by,
        assignee: t.assignee,
        claimed_at: t.claimed_at,
        restricted: false,
    }
}

/// The keyset of the last task of a page: due date, case, task number.
fn token_of(state: &AppState, t: &OpenTask) -> String {
    let due = t.due_at.map(|d| d.to_rfc3339()).unwrap_or_default();
    seal_token(
        state,
        format!("inbox|{due}|{}|{}", t.reference, t.task_id).as_bytes(),
    )
}

type Keyset = (Option<DateTime<Utc>>, CaseRef, u32);

fn keyset_of(state: &AppState, token: &str) -> Result<Keyset, String> {
    let bad = || "is not a token this API gave out".to_owned();
    let raw = open_token(state, token).ok_or_else(bad)?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = raw.split('|');
    if parts.next() != Some("inbox") {
        return Err(bad());
    }
    let due = match parts.next().ok_or_else(bad)? {
        "" => None,
        d => Some(
            DateTime::parse_from_rfc3339(d)
                .map_err(|_| bad())?
                .with_timezone(&Utc),
        ),
    };
    let reference = CaseRef::parse(parts.next().ok_or_else(bad)?).map_err(|_| bad())?;
    let task = parts.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
    Ok((due, reference, task))
}

/// The open tasks the caller can act on, earliest due first.
#[utoipa::path(
    get,
    path = "/api/v1/inbox",
    tag = "inbox",
    params(
        ("type" = Option<homeward_workflows::tasks::TaskType>, Query, description = "Only this task type"),
        ("holder" = Option<String>, Query, description = "`mine`, `pool` (unheld), or for supervisors a colleague's user id or `anyone`; default: unheld and mine"),
        ("overdue" = Option<bool>, Query, description = "Only overdue tasks"),
        ("due_before" = Option<String>, Query, description = "A date (2027-01-31) or RFC 3339 time"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Default 50"),
        ("page_token" = Option<String>, Query, description = "From the previous page"),
    ),
    responses(
        (status = 200, description = "Tasks", body = Inbox),
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Another's tasks, without being a supervisor", body = crate::error::ErrorBody),
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
    let limit = q.number("limit", 1, 500, 50) as u32;
    let holder = q.optional("holder", |h| {
        Ok::<_, String>(match h {
            "mine" => Holder::Mine,
            "pool" => Holder::Pool,
            "anyone" => Holder::Anyone,
            id if id.starts_with("u-") && id.len() <= 40 => Holder::User(id.to_owned()),
            _ => return Err("must be mine, pool, anyone or a user id (u-…)".to_owned()),
        })
    });
    let after = q.optional("page_token", |t| keyset_of(&state, t));
    let role = caller.actor.role;
    let oversees = matches!(role, Role::Auditor | Role::Admin);
    if let Some(t) = task_type
        && !oversees
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
    let holder = match holder {
        Some(Holder::Anyone) if oversees => Holder::Anyone,
        Some(h @ (Holder::User(_) | Holder::Anyone)) => {
            if !caller.actor.supervisor {
                return Err(ApiError::Forbidden(
                    "holder: only a supervisor sees a colleague's tasks".into(),
                ));
            }
            h
        }
        Some(h) => h,
        None if oversees => Holder::Anyone,
        None => Holder::MineAndPool,
    };
    let (office, origin_country) = match caller.actor.scope() {
        Scope::All => (None, None),
        Scope::HostCountry(office) => (Some(office), None),
        Scope::Partner { office, country } => (Some(office), Some(country)),
        Scope::Nobody => {
            return Ok(Json(Inbox {
                tasks: vec![],
                next_page_token: None,
            }));
        }
    };
    let now = Utc::now();
    // Due before the earlier of the two bounds asked for.
    let due_before = match (overdue.then_some(now), due_before) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let query = InboxQuery {
        user: caller.actor.id.clone(),
        role: (!oversees).then_some(role),
        office,
        origin_country,
        holder,
        task_type,
        due_before,
        after,
        limit: limit + 1,
    };
    let mut rows = state.store.inbox(&query).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_page_token = more
        .then(|| rows.last().map(|t| token_of(&state, t)))
        .flatten();
    let refs: Vec<CaseRef> = rows.iter().map(|t| t.reference.clone()).collect();
    let restricted = state.store.restricted_among(&refs).await?;
    Ok(Json(Inbox {
        tasks: rows
            .into_iter()
            // A restricted case's work is listed only to whom may open it: its task types
            // (a safe reception, a risk assessment) are details the need-to-know rule keeps
            // from colleagues, who could not complete them anyway.
            .filter(|t| {
                restricted.get(&t.reference).is_none_or(|named| {
                    crate::routes::cases::may_open_restricted(
                        &caller,
                        named.iter().map(String::as_str),
                    )
                })
            })
            .map(|t| {
                let restricted = restricted.contains_key(&t.reference);
                InboxItem {
                    restricted,
                    ..item(&caller, t, now)
                }
            })
            .collect(),
        next_page_token,
    }))
}

/// One line of the workload view.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct WorkloadLine {
    /// Who holds the tasks (absent: nobody; the role's pool).
    assignee: Option<String>,
    /// Their display name.
    name: Option<String>,
    /// What the tasks are.
    task_type: TaskType,
    /// How many are open.
    open: u64,
    /// How many of them are overdue.
    overdue: u64,
}

/// The workload view.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Workload {
    /// Per person (and the unheld pool) and task type.
    lines: Vec<WorkloadLine>,
    /// Every open task of the office.
    open: u64,
    /// Of which overdue.
    overdue: u64,
    /// Of which held by someone.
    held: u64,
}

/// Open, overdue and held tasks per person and type in the caller's office (supervisors; for
/// auditors, every office's).
#[utoipa::path(
    get,
    path = "/api/v1/workload",
    tag = "inbox",
    responses(
        (status = 200, description = "The office's workload", body = Workload),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Not a supervisor or auditor", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn workload(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Workload>, ApiError> {
    let office = match (caller.actor.scope(), caller.actor.supervisor) {
        (Scope::All, _) if matches!(caller.actor.role, Role::Auditor | Role::Admin) => None,
        (Scope::HostCountry(office), true) => Some(office),
        _ => {
            return Err(ApiError::Forbidden(
                "the workload view is for an office's supervisors and auditors".into(),
            ));
        }
    };
    let rows = state.store.workload(office.as_deref(), Utc::now()).await?;
    let names: std::collections::BTreeMap<String, String> = state
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|(u, _)| (u.id, u.name))
        .collect();
    let (mut open, mut overdue, mut held) = (0, 0, 0);
    let lines = rows
        .into_iter()
        .map(|r| {
            open += r.open;
            overdue += r.overdue;
            if r.assignee.is_some() {
                held += r.open;
            }
            WorkloadLine {
                name: r.assignee.as_ref().and_then(|a| names.get(a).cloned()),
                assignee: r.assignee,
                task_type: r.task_type,
                open: r.open,
                overdue: r.overdue,
            }
        })
        .collect();
    Ok(Json(Workload {
        lines,
        open,
        overdue,
        held,
    }))
}
