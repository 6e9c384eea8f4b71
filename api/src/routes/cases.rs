//! `/api/v1/cases`: open a case (start its workflow) and read one (query its workflow).
//!
//! Handlers only turn HTTP into domain types and start, query, signal or update workflows; they
//! never write case state themselves.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use temporalio_client::errors::{WorkflowQueryError, WorkflowStartError};
use temporalio_client::{WorkflowQueryOptions, WorkflowStartOptions};

use homeward_workflows::domain::{
    CaseRef, CountryCode, DomainError, HouseholdSize, Intake, Member, OpenCase, ProgrammeId, Stage,
};
use homeward_workflows::ids::return_case_workflow_id;
use homeward_workflows::programme::ProgrammeRules;
use homeward_workflows::return_case::{CaseInput, CaseView, ReturnCase};
use homeward_workflows::tasks::Role;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::fields::{FieldReader, as_integer, as_str};
use crate::json::ApiJson;
use crate::state::AppState;

/// The case routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", post(open_case))
        .route("/api/v1/cases/{reference}", get(get_case))
}

/// The answer to `POST /api/v1/cases`.
#[derive(Debug, Serialize)]
struct CaseOpened {
    reference: CaseRef,
    stage: Stage,
    href: String,
}

/// Turns the request body into an [`Intake`], naming every bad field.
fn parse_intake(body: Value) -> Result<Intake, ApiError> {
    let mut r = FieldReader::new(body)?;
    let programme = r.required("programme", |v| ProgrammeId::parse(as_str("programme", v)?));
    let host_country = r.required("host_country", |v| {
        CountryCode::parse_field(as_str("host_country", v)?, "host_country")
    });
    let origin_country = r.required("origin_country", |v| {
        CountryCode::parse_field(as_str("origin_country", v)?, "origin_country")
    });
    let household_size = r.required("household_size", |v| {
        HouseholdSize::parse(as_integer("household_size", v)?)
    });
    let members = r
        .optional("members", |v| {
            serde_json::from_value::<Vec<Member>>(v.clone()).map_err(|e| DomainError {
                field: "members",
                problem: format!(
                    "must be a list of {{age_group, vulnerabilities}}: {}",
                    e.to_string().split(" at line").next().unwrap_or_default()
                ),
            })
        })
        .unwrap_or_default();
    if let Some(size) = household_size
        && !members.is_empty()
        && members.len() != usize::from(size.get())
    {
        r.problem("members", "must list exactly household_size members");
    }
    r.finish()?;
    match (programme, host_country, origin_country, household_size) {
        (Some(programme), Some(host_country), Some(origin_country), Some(household_size)) => {
            Ok(Intake {
                programme,
                host_country,
                origin_country,
                household_size,
                members,
            })
        }
        // `finish` has already reported every missing or bad field.
        _ => Err(ApiError::Internal(
            "intake parsed without problems but incomplete".into(),
        )),
    }
}

/// The programme's current rules, checked against the intake: they will be pinned into the case.
fn programme_for(state: &AppState, intake: &Intake) -> Result<ProgrammeRules, ApiError> {
    let rules = state.programmes.get(&intake.programme).ok_or_else(|| {
        ApiError::field(
            "programme",
            format!("no programme {:?}", intake.programme.as_str()),
        )
    })?;
    if rules.host_country != intake.host_country {
        return Err(ApiError::field(
            "host_country",
            format!(
                "programme {} runs in {}, not {}",
                rules.id, rules.host_country, intake.host_country
            ),
        ));
    }
    if !rules.serves(&intake.origin_country) {
        return Err(ApiError::field(
            "origin_country",
            format!(
                "programme {} does not serve returns to {}",
                rules.id, intake.origin_country
            ),
        ));
    }
    Ok(rules.clone())
}

async fn open_case(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(&[Role::ReturnOfficer])?;
    let intake = parse_intake(body)?;
    if let Some(office) = &caller.office
        && office != intake.host_country.as_str()
    {
        return Err(ApiError::field(
            "host_country",
            format!("you open cases for the {office} office only"),
        ));
    }
    let rules = programme_for(&state, &intake)?;
    let reference = CaseRef::from_entropy(rand::random::<u64>());
    let case = OpenCase {
        reference: reference.clone(),
        intake,
        opened_at: chrono::Utc::now(),
        rules,
    };
    let workflow_id = return_case_workflow_id(&reference);
    let options = WorkflowStartOptions::new(state.task_queue.clone(), workflow_id).build();
    state
        .temporal
        .start_workflow(ReturnCase::run, CaseInput::new(case), options)
        .await
        .map_err(|e| match e {
            WorkflowStartError::AlreadyStarted { .. } => {
                ApiError::Conflict(format!("case {reference} already exists; retry"))
            }
            WorkflowStartError::Rpc(status) => {
                tracing::warn!(code = ?status.code(), "temporal refused to start a case");
                ApiError::Unavailable("the workflow engine is unavailable; retry later".into())
            }
            other => ApiError::Internal(other.to_string()),
        })?;
    state.metrics.cases_opened.inc();
    crate::audit::record(
        &state,
        &caller,
        &reference,
        "case_opened".into(),
        "accepted",
    )
    .await;
    tracing::info!(case = %reference, "case opened");
    let href = format!("/api/v1/cases/{reference}");
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, href.clone())],
        Json(CaseOpened {
            reference,
            stage: Stage::Intake,
            href,
        }),
    ))
}

async fn get_case(
    State(state): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    let reference = CaseRef::parse(&reference)?;
    let handle = state
        .temporal
        .get_workflow_handle::<ReturnCase>(return_case_workflow_id(&reference));
    let view = handle
        .query(ReturnCase::view, (), WorkflowQueryOptions::default())
        .await
        .map_err(|e| match e {
            WorkflowQueryError::NotFound(_) => ApiError::NotFound(format!("no case {reference}")),
            WorkflowQueryError::Rpc(status) => {
                tracing::warn!(code = ?status.code(), "temporal query failed");
                ApiError::Unavailable("the workflow engine is unavailable; retry later".into())
            }
            other => ApiError::Internal(other.to_string()),
        })?;
    // Offices see their own cases; partners the cases handed over to their country. A case out
    // of scope is answered as if it did not exist.
    if !in_scope(&caller, &view) {
        return Err(ApiError::NotFound(format!("no case {reference}")));
    }
    Ok(Json(view))
}

/// Whether the caller may see the case.
pub(crate) fn in_scope(caller: &Caller, view: &CaseView) -> bool {
    match (&caller.office, caller.actor.role) {
        (None, _) | (_, Role::Auditor | Role::Admin) => true,
        (Some(office), Role::Partner) => office == view.intake.origin_country.as_str(),
        (Some(office), _) => office == view.intake.host_country.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_bad_field_is_named_at_once() {
        let err = parse_intake(json!({
            "programme": "NL AVRR",
            "host_country": 12,
            "household_size": 0,
            "nickname": "x"
        }))
        .unwrap_err();
        let ApiError::BadRequest { fields, .. } = err else {
            panic!("expected a 400, got {err:?}")
        };
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "host_country",
                "household_size",
                "nickname",
                "origin_country",
                "programme"
            ]
        );
    }

    #[test]
    fn a_good_intake_parses() {
        let intake = parse_intake(json!({
            "programme": "nl-avrr",
            "host_country": "nld",
            "origin_country": "IRQ",
            "household_size": 3
        }))
        .unwrap();
        assert_eq!(intake.host_country.as_str(), "NLD");
    }
}
