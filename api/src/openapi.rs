//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! `ToSchema` derives of the real request and response types (no mirror types: the document
//! cannot drift from what the handlers accept and answer), served at `/api/v1/openapi.json`
//! (no key needed).

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;
use crate::state::AppState;

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
        routes::cases::case_messages,
        routes::links::list_links,
        routes::links::link_case,
        routes::links::unlink_case,
        routes::suppliers::list_suppliers,
        routes::suppliers::add_supplier,
        routes::access::list_access,
        routes::access::grant_access,
        routes::access::revoke_access,
        routes::tasks::complete_task,
        routes::tasks::withdraw,
        routes::tasks::close,
        routes::tasks::claim_task,
        routes::tasks::release_task,
        routes::tasks::assign_task,
        routes::inbox::inbox,
        routes::inbox::workload,
        routes::programmes::list,
        routes::reports::statistics,
        routes::reports::audit_csv,
        routes::webhooks::payment_settled,
        routes::webhooks::message_receipt,
        routes::people::list,
        routes::people::read,
        routes::people::replace,
        routes::people::update,
        routes::people::export,
        routes::people::erase,
        routes::people::search,
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
                "/api/v1/cases/{reference}/access",
                "/api/v1/cases/{reference}/access/{user}",
                "/api/v1/cases/{reference}/closure",
                "/api/v1/cases/{reference}/erasure",
                "/api/v1/cases/{reference}/links",
                "/api/v1/cases/{reference}/links/{other}",
                "/api/v1/cases/{reference}/messages",
                "/api/v1/cases/{reference}/people",
                "/api/v1/cases/{reference}/people/{member}",
                "/api/v1/cases/{reference}/people/{member}/export",
                "/api/v1/cases/{reference}/tasks/{task}",
                "/api/v1/cases/{reference}/tasks/{task}/assign",
                "/api/v1/cases/{reference}/tasks/{task}/claim",
                "/api/v1/cases/{reference}/tasks/{task}/release",
                "/api/v1/cases/{reference}/withdrawal",
                "/api/v1/inbox",
                "/api/v1/people/search",
                "/api/v1/programmes",
                "/api/v1/statistics",
                "/api/v1/suppliers",
                "/api/v1/webhooks/messages",
                "/api/v1/webhooks/payments",
                "/api/v1/workload",
            ]
        );
        let json = serde_json::to_value(&doc).expect("serialises");
        assert!(json["components"]["schemas"]["TaskOutcome"].is_object());
    }

    #[test]
    fn the_documented_bounds_are_the_codes_own() {
        let json = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let schemas = &json["components"]["schemas"];
        assert_eq!(
            schemas["HouseholdSize"]["maximum"],
            homeward_workflows::domain::HouseholdSize::MAX
        );
        assert!(schemas["ProgrammeId"]["pattern"].is_string(), "{schemas}");
        let intake = &schemas["Intake"]["properties"];
        assert_eq!(
            intake["household_size"]["$ref"],
            "#/components/schemas/HouseholdSize"
        );
        let body = &json["paths"]["/api/v1/cases"]["post"]["requestBody"];
        assert!(body.to_string().contains("Intake"), "{body}");
    }
}
