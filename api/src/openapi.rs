//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! request types' `ToSchema` derives, served at `/api/v1/openapi.json` (no key needed).

use std::collections::BTreeMap;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use homeward_workflows::domain::Member;

use crate::routes;
use crate::state::AppState;

/// Every error's body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDoc {
    /// A stable code: invalid_request, unauthorized, forbidden, not_found, conflict,
    /// unprocessable, payload_too_large, unsupported_media_type, unavailable, internal.
    error: String,
    /// What went wrong, for people.
    message: String,
    /// Field or parameter name to problem, for 400s.
    fields: Option<BTreeMap<String, String>>,
}

/// The body of `POST /api/v1/cases`. The handler reads it field by field (to name every bad
/// field at once); this type documents it, and a test proves the two agree.
#[derive(ToSchema, serde::Serialize)]
pub struct OpenCaseDoc {
    /// A programme id from `GET /api/v1/programmes`, e.g. `nl-avrr`.
    #[schema(example = "nl-avrr")]
    pub programme: String,
    /// The office's country, ISO 3166 alpha-3.
    #[schema(example = "NLD", min_length = 3, max_length = 3)]
    pub host_country: String,
    /// The country of return, ISO 3166 alpha-3.
    #[schema(example = "IRQ", min_length = 3, max_length = 3)]
    pub origin_country: String,
    /// How many people return together.
    #[schema(minimum = 1, maximum = 20)]
    pub household_size: u8,
    /// Optional: each member's age group and vulnerabilities (never names).
    pub members: Option<Vec<Member>>,
    /// Optional: the language the returnee reads messages in, ISO 639-1.
    #[schema(example = "ar", pattern = "^[A-Za-z]{2}$")]
    pub language: Option<String>,
}

/// The answer to `POST /api/v1/cases`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CaseOpenedDoc {
    /// The new case's reference.
    reference: String,
    /// Its stage.
    stage: homeward_workflows::domain::Stage,
    /// Where to read it.
    href: String,
}

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from `homeward user create`"))
                    .build(),
            ),
        );
    }
}

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Homeward",
        description = "Assisted voluntary return and reintegration cases, each a durable workflow."
    ),
    paths(
        routes::cases::open_case,
        routes::cases::list_cases,
        routes::cases::get_case,
        routes::tasks::complete_task,
        routes::tasks::withdraw,
        routes::tasks::close,
        routes::inbox::inbox,
        routes::programmes::list,
        routes::reports::statistics,
        routes::reports::audit_csv,
        routes::webhooks::payment_settled,
    ),
    components(schemas(
        homeward_workflows::tasks::TaskType,
        homeward_workflows::domain::Stage,
    )),
    modifiers(&BearerKey)
)]
pub struct ApiDoc;

/// The route serving the document.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_covers_every_api_route() {
        let doc = ApiDoc::openapi();
        let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "/api/v1/audit",
                "/api/v1/cases",
                "/api/v1/cases/{reference}",
                "/api/v1/cases/{reference}/closure",
                "/api/v1/cases/{reference}/tasks/{task}",
                "/api/v1/cases/{reference}/withdrawal",
                "/api/v1/inbox",
                "/api/v1/programmes",
                "/api/v1/statistics",
                "/api/v1/webhooks/payments",
            ]
        );
        let json = serde_json::to_value(&doc).expect("serialises");
        assert!(json["components"]["schemas"]["TaskOutcome"].is_object());
    }

    #[test]
    fn the_documented_case_body_is_what_the_handler_accepts() {
        let doc = OpenCaseDoc {
            programme: "nl-avrr".into(),
            host_country: "NLD".into(),
            origin_country: "IRQ".into(),
            household_size: 1,
            members: Some(vec![Member {
                age_group: homeward_workflows::domain::AgeGroup::Adult,
                vulnerabilities: vec![],
            }]),
            language: Some("ar".into()),
        };
        let body = serde_json::to_value(&doc).expect("serialises");
        let intake = crate::routes::cases::parse_intake(body)
            .expect("the handler accepts the documented body");
        assert_eq!(intake.language.map(|l| l.to_string()), Some("ar".into()));
    }
}
