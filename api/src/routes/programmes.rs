//! `/api/v1/programmes`: the programmes a case can be opened under, with their current rules.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use homeward_workflows::programme::ProgrammeRules;

use crate::auth::Caller;
use crate::state::AppState;

/// The programme routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/programmes", get(list))
}

/// Every programme's current rules (a new case pins these; running cases keep their own).
/// Every programme's current rules.
#[utoipa::path(
    get,
    path = "/api/v1/programmes",
    tag = "programmes",
    responses(
        (status = 200, description = "Programmes", body = serde_json::Value),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Json<Vec<ProgrammeRules>> {
    Json(state.programmes.values().cloned().collect())
}
