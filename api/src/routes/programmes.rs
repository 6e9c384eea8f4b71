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
async fn list(State(state): State<AppState>, _caller: Caller) -> Json<Vec<ProgrammeRules>> {
    Json(state.programmes.values().cloned().collect())
}
