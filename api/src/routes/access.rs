//! Who may open a restricted case (a trafficking victim's): `GET/POST
//! /api/v1/cases/{ref}/access`, `DELETE /api/v1/cases/{ref}/access/{user}`. Whoever may open
//! the case sees who is named; the return officers named on it and the office's supervisors
//! name (`{"user": "<id>"}`: a user of the office) and remove staff. Each change is audited on
//! the case. The record: `homeward_activities::access`; the check every case route makes:
//! `routes::cases::case_in_scope`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use homeward_activities::access::Access;
use homeward_workflows::actors::Role;
use homeward_workflows::domain::CaseRef;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::fields::{FieldReader, as_str};
use crate::json::ApiJson;
use crate::routes::cases::case_in_scope;
use crate::state::AppState;

/// The access routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/cases/{reference}/access",
            get(list_access).post(grant_access),
        )
        .route(
            "/api/v1/cases/{reference}/access/{user}",
            delete(revoke_access),
        )
}

/// Who may open a case.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CaseAccess {
    /// Whether the case is restricted (named staff only).
    pub restricted: bool,
    /// The staff named on it: `user`, `granted_by`, `granted_at` (besides them: the office's
    /// supervisors and auditors).
    #[schema(value_type = Vec<Object>)]
    pub named: Vec<Access>,
}

/// The named staff, for whoever may open the case.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{reference}/access",
    tag = "cases",
    params(("reference" = String, Path, description = "HW- and 12 characters")),
    responses(
        (status = 200, description = "Who may open the case", body = CaseAccess),
        (status = 403, description = "A restricted case you are not named on", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn list_access(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<CaseAccess>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    case_in_scope(&state, &caller, &reference).await?;
    let named = state.store.case_access(&reference).await?;
    Ok(Json(CaseAccess {
        restricted: named.is_some(),
        named: named.unwrap_or_default(),
    }))
}

/// Who may name and remove staff: a return officer named on the case, or a supervisor.
async fn may_name(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
) -> Result<homeward_activities::store::CaseRecord, ApiError> {
    let case = case_in_scope(state, caller, reference).await?;
    let Some(named) = state.store.case_access(reference).await? else {
        return Err(ApiError::field(
            "reference",
            format!("case {reference} is not restricted: the office's staff open it"),
        ));
    };
    let officer =
        caller.actor.role == Role::ReturnOfficer && named.iter().any(|a| a.user == caller.actor.id);
    let supervisor = caller.actor.supervisor
        && caller.actor.office.as_deref() == Some(case.host_country.as_str());
    if officer || supervisor {
        Ok(case)
    } else {
        Err(ApiError::Forbidden(
            "only a return officer named on the case or a supervisor names staff".into(),
        ))
    }
}

/// Names a user of the office on a restricted case: `{"user": "<id>"}`.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{reference}/access",
    tag = "cases",
    params(("reference" = String, Path, description = "HW- and 12 characters")),
    request_body(content = Object, description = "{\"user\": \"<user id>\"}"),
    responses(
        (status = 201, description = "Named", body = CaseAccess),
        (status = 200, description = "Already named", body = CaseAccess),
        (status = 400, description = "A bad field, named", body = crate::error::ErrorBody),
        (status = 403, description = "Not a named officer or a supervisor", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn grant_access(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<CaseAccess>), ApiError> {
    let reference = CaseRef::parse(&reference)?;
    let case = may_name(&state, &caller, &reference).await?;
    let mut r = FieldReader::new(body)?;
    let user = r.required("user", |v| as_str("user", v).map(str::to_owned));
    let staff = match &user {
        Some(id) => state.store.get_user(id).await?,
        None => None,
    };
    let fits = staff.as_ref().is_some_and(|u| {
        u.office.as_deref() == Some(case.host_country.as_str())
            && ["return_officer", "operations", "finance"].contains(&u.role.as_str())
    });
    if user.is_some() && !fits {
        r.problem(
            "user",
            "must be a return officer, operations or finance user of the case's office",
        );
    }
    r.finish()?;
    let Some(user) = user else {
        return Err(ApiError::Internal(
            "read without problems but incomplete".into(),
        ));
    };
    let new = state
        .store
        .grant_access(
            &reference,
            &user,
            (&caller.actor.id, caller.actor.role.as_str()),
            chrono::Utc::now(),
        )
        .await?;
    let named = state
        .store
        .case_access(&reference)
        .await?
        .unwrap_or_default();
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(CaseAccess {
            restricted: true,
            named,
        }),
    ))
}

/// Removes a user from a restricted case.
#[utoipa::path(
    delete,
    path = "/api/v1/cases/{reference}/access/{user}",
    tag = "cases",
    params(
        ("reference" = String, Path, description = "HW- and 12 characters"),
        ("user" = String, Path, description = "The user's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not a named officer or a supervisor", body = crate::error::ErrorBody),
        (status = 404, description = "No such case, or the user is not named", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn revoke_access(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    may_name(&state, &caller, &reference).await?;
    if state
        .store
        .revoke_access(
            &reference,
            &user,
            (&caller.actor.id, caller.actor.role.as_str()),
            chrono::Utc::now(),
        )
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "{user} is not named on {reference}"
        )))
    }
}
