//! Linked cases (one family split across cases, or a group travelling together):
//! `GET/POST /api/v1/cases/{ref}/links`, `DELETE /api/v1/cases/{ref}/links/{other}`. Both cases
//! must be in the caller's scope; return officers and operations link and unlink, staff of the
//! office, auditors and admins read; partners see no links. The record and its audit rows:
//! `homeward_activities::links`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use homeward_activities::links::{CaseLink, LinkKind, Linker};
use homeward_workflows::actors::Role;
use homeward_workflows::domain::{CaseRef, DomainError};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::fields::{FieldReader, as_str};
use crate::json::ApiJson;
use crate::routes::cases::check_scope;
use crate::state::AppState;

/// The link routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/cases/{reference}/links",
            get(list_links).post(link_case),
        )
        .route(
            "/api/v1/cases/{reference}/links/{other}",
            delete(unlink_case),
        )
}

/// A case's links.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CaseLinks {
    /// The linked cases, in the order they were linked: `case`, `kind` (`family` or `group`),
    /// `departs_together`, `linked_by`, `linked_at`.
    #[schema(value_type = Vec<Object>)]
    pub links: Vec<CaseLink>,
}

/// Partners see no links (they see only what was handed over to them); everyone else reads
/// the links of a case in their scope.
async fn readable(state: &AppState, caller: &Caller, reference: &CaseRef) -> Result<(), ApiError> {
    if caller.actor.role == Role::Partner {
        return Err(ApiError::NotFound(format!("no case {reference}")));
    }
    check_scope(state, caller, reference).await
}

/// The cases linked to this one.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{reference}/links",
    tag = "cases",
    params(("reference" = String, Path, description = "HW- and 12 characters")),
    responses(
        (status = 200, description = "The links", body = CaseLinks),
        (status = 400, description = "A bad reference", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 404, description = "No such case in your scope", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn list_links(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<CaseLinks>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    readable(&state, &caller, &reference).await?;
    Ok(Json(CaseLinks {
        links: state.store.links_of(&reference).await?,
    }))
}

/// Links another case of the office to this one (`{"case", "kind": "family"|"group",
/// "departs_together"}`); linking again changes the kind and the decision.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{reference}/links",
    tag = "cases",
    params(("reference" = String, Path, description = "HW- and 12 characters")),
    request_body(content = Object, description = "{\"case\": \"HW-…\", \"kind\": \"family\"|\"group\", \"departs_together\": true}"),
    responses(
        (status = 201, description = "Linked", body = CaseLinks),
        (status = 200, description = "Already linked: kind and decision updated", body = CaseLinks),
        (status = 400, description = "A bad field, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Only return officers and operations link cases", body = crate::error::ErrorBody),
        (status = 404, description = "Either case is not in your scope", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn link_case(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<CaseLinks>), ApiError> {
    let reference = CaseRef::parse(&reference)?;
    caller.require(&[Role::ReturnOfficer, Role::Operations])?;
    check_scope(&state, &caller, &reference).await?;
    let mut r = FieldReader::new(body)?;
    let other = r.required("case", |v| {
        CaseRef::parse(as_str("case", v)?).map_err(|e| DomainError {
            field: "case",
            problem: e.problem,
        })
    });
    let kind = r.required("kind", |v| {
        serde_json::from_value::<LinkKind>(v.clone()).map_err(|_| DomainError {
            field: "kind",
            problem: "must be family or group".into(),
        })
    });
    let together = r
        .optional("departs_together", |v| {
            v.as_bool().ok_or(DomainError {
                field: "departs_together",
                problem: "must be true or false".into(),
            })
        })
        .unwrap_or(false);
    if other.as_ref() == Some(&reference) {
        r.problem("case", "a case cannot be linked to itself");
    }
    r.finish()?;
    let (Some(other), Some(kind)) = (other, kind) else {
        return Err(ApiError::Internal(
            "link read without problems but incomplete".into(),
        ));
    };
    // The other case must be the caller's too: the same 404 as for one that does not exist.
    check_scope(&state, &caller, &other).await?;
    let by = Linker {
        id: caller.actor.id.clone(),
        role: caller.actor.role.as_str().to_owned(),
    };
    let new = state
        .store
        .link_cases(
            (&reference, &other),
            kind,
            together,
            &by,
            chrono::Utc::now(),
        )
        .await?;
    let links = state.store.links_of(&reference).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(CaseLinks { links })))
}

/// Removes a link (from both cases).
#[utoipa::path(
    delete,
    path = "/api/v1/cases/{reference}/links/{other}",
    tag = "cases",
    params(
        ("reference" = String, Path, description = "HW- and 12 characters"),
        ("other" = String, Path, description = "The linked case"),
    ),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 400, description = "A bad reference", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Only return officers and operations unlink cases", body = crate::error::ErrorBody),
        (status = 404, description = "No such link in your scope", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn unlink_case(
    State(state): State<AppState>,
    caller: Caller,
    Path((reference, other)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    let other = CaseRef::parse(&other)?;
    caller.require(&[Role::ReturnOfficer, Role::Operations])?;
    check_scope(&state, &caller, &reference).await?;
    check_scope(&state, &caller, &other).await?;
    let by = Linker {
        id: caller.actor.id.clone(),
        role: caller.actor.role.as_str().to_owned(),
    };
    if state
        .store
        .unlink_cases((&reference, &other), &by, chrono::Utc::now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no link between {reference} and {other}"
        )))
    }
}
