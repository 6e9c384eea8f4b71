//! Suppliers of in-kind reintegration support: `GET/POST /api/v1/suppliers`. Finance and
//! operations of an office register its suppliers (a business name and its IBAN); the office's
//! staff list them, to name one on a supplier's invoice; auditors and admins list any office's
//! with `?office=`; partners see none. The register and its audit row:
//! `homeward_activities::suppliers`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use homeward_activities::suppliers::{self, Supplier};
use homeward_workflows::actors::{Role, Scope};
use homeward_workflows::domain::CountryCode;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::fields::FieldReader;
use crate::json::ApiJson;
use crate::query::QueryReader;
use crate::state::AppState;

/// The supplier routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/suppliers", get(list_suppliers).post(add_supplier))
}

/// An office's suppliers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Suppliers {
    /// By name: `id`, `office`, `name`, `iban`, `created_by`, `created_at`.
    #[schema(value_type = Vec<Object>)]
    pub suppliers: Vec<Supplier>,
}

/// The office whose suppliers the caller works with: their own; for auditors and admins, the
/// one the query names.
fn office_of(caller: &Caller, asked: Option<String>) -> Result<String, ApiError> {
    match (caller.actor.scope(), asked) {
        (Scope::HostCountry(office), _) if caller.actor.role != Role::Partner => Ok(office),
        // A partner costs reintegration plans with the office's suppliers (ids and names).
        (Scope::Partner { office, .. }, _) => Ok(office),
        (Scope::All, Some(office)) => Ok(office),
        (Scope::All, None) => Err(ApiError::field(
            "office",
            "is required: the office whose suppliers to list",
        )),
        _ => Err(ApiError::Forbidden(
            "suppliers are the office's staff's to see".into(),
        )),
    }
}

/// The suppliers of the caller's office (auditors and admins: `?office=NLD`; a partner, the
/// office that hands cases over to it, without their bank accounts).
#[utoipa::path(
    get,
    path = "/api/v1/suppliers",
    tag = "suppliers",
    params(("office" = Option<String>, Query, description = "Auditors and admins: the office (ISO alpha-3)")),
    responses(
        (status = 200, description = "The office's suppliers", body = Suppliers),
        (status = 400, description = "A bad field, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "No office", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn list_suppliers(
    State(state): State<AppState>,
    caller: Caller,
    mut q: QueryReader,
) -> Result<Json<Suppliers>, ApiError> {
    let asked = q.optional("office", |s| {
        CountryCode::parse(s)
            .map(|c| c.as_str().to_owned())
            .map_err(|e| e.problem)
    });
    q.finish()?;
    let office = office_of(&caller, asked)?;
    let mut suppliers = state.store.suppliers(&office).await?;
    if caller.actor.role == Role::Partner {
        // Whom to buy from, not how the office pays them.
        for s in &mut suppliers {
            s.iban.clear();
            s.created_by.clear();
        }
    }
    Ok(Json(Suppliers { suppliers }))
}

/// Registers a supplier of the caller's office: `{"name": "Erbil Tools Ltd", "iban": "…"}`.
#[utoipa::path(
    post,
    path = "/api/v1/suppliers",
    tag = "suppliers",
    request_body(content = Object, description = "{\"name\": \"Erbil Tools Ltd\", \"iban\": \"GB82WEST12345698765432\"}"),
    responses(
        (status = 201, description = "Registered", body = Object),
        (status = 400, description = "A bad field, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Only finance and operations of an office register suppliers", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn add_supplier(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Supplier>), ApiError> {
    caller.require(&[Role::Finance, Role::Operations])?;
    let Scope::HostCountry(office) = caller.actor.scope() else {
        return Err(ApiError::Forbidden("you act for no office".into()));
    };
    let mut r = FieldReader::new(body)?;
    let text = |name: &'static str| {
        move |v: &Value| {
            v.as_str()
                .map(str::to_owned)
                .ok_or(homeward_workflows::domain::DomainError {
                    field: name,
                    problem: "must be a string".into(),
                })
        }
    };
    let name = r.required("name", text("name"));
    let iban = r.required("iban", text("iban"));
    let checked = match (&name, &iban) {
        (Some(n), Some(i)) => match suppliers::check(n, i) {
            Ok(c) => Some(c),
            Err(problems) => {
                for (field, problem) in problems {
                    r.problem(field, problem);
                }
                None
            }
        },
        _ => None,
    };
    r.finish()?;
    let Some((name, iban)) = checked else {
        return Err(ApiError::Internal(
            "supplier read without problems but incomplete".into(),
        ));
    };
    let supplier = state
        .store
        .add_supplier(
            &office,
            (&name, &iban),
            (&caller.actor.id, caller.actor.role.as_str()),
            chrono::Utc::now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(supplier)))
}

/// A supplier's invoice names a supplier registered with the case's office: refused, naming
/// `outcome.supplier`, otherwise (the workflow holds only the id; the account is read at
/// payment time).
pub(crate) async fn check_office_supplier(
    state: &AppState,
    supplier: &str,
    office: &str,
    field: &str,
) -> Result<(), ApiError> {
    match state.store.supplier(supplier).await? {
        Some(s) if s.office == office => Ok(()),
        _ => Err(ApiError::field(
            field,
            format!("no supplier {supplier} is registered for office {office}"),
        )),
    }
}
