//! `/api/v1/statistics` (M&E figures, scoped like cases) and `/api/v1/audit` (the audit trail
//! as CSV, for auditors and admins).

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use homeward_activities::reports::Statistics;
use homeward_activities::store::AuditEvent;
use homeward_workflows::domain::CaseRef;
use homeward_workflows::tasks::Role;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::QueryReader;
use crate::state::AppState;

/// The report routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/statistics", get(statistics))
        .route("/api/v1/audit", get(audit_csv))
}

/// M&E statistics over the cases in the caller's scope.
#[utoipa::path(
    get,
    path = "/api/v1/statistics",
    tag = "reports",
    responses(
        (status = 200, description = "Statistics", body = serde_json::Value),
        (status = 400, description = "A bad field or parameter, named", body = crate::openapi::ErrorDoc),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorDoc),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn statistics(
    State(state): State<AppState>,
    caller: Caller,
    q: QueryReader,
) -> Result<Json<Statistics>, ApiError> {
    q.finish()?;
    state
        .store
        .statistics(&caller.actor.scope())
        .await
        .map(Json)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The CSV columns, in order.
const AUDIT_COLUMNS: &str = "id,occurred_at,case,actor,role,action,outcome,detail";

/// The audit trail as CSV (auditors and admins).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "reports",
    params(
        ("case" = Option<String>, Query, description = "Only this case"),
        ("after" = Option<i64>, Query, minimum = 0, description = "Events after this id"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100000, description = "Default 10000"),
    ),
    responses(
        (status = 200, description = "CSV", content_type = "text/csv", body = String),
        (status = 400, description = "A bad field or parameter, named", body = crate::openapi::ErrorDoc),
        (status = 401, description = "No valid API key", body = crate::openapi::ErrorDoc),
        (status = 403, description = "Not an auditor or admin", body = crate::openapi::ErrorDoc),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn audit_csv(
    State(state): State<AppState>,
    caller: Caller,
    mut q: QueryReader,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(&[Role::Auditor, Role::Admin])?;
    let case = q.optional("case", |r| CaseRef::parse(r).map_err(|e| e.problem));
    let after = q.number("after", 0, i64::MAX, 0);
    let limit = q.number("limit", 1, 100_000, 10_000);
    q.finish()?;
    let events = state
        .store
        .audit_export(case.as_ref(), after, limit)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut csv = String::from(AUDIT_COLUMNS);
    csv.push_str("\r\n");
    for event in &events {
        csv.push_str(&csv_row(event));
    }
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        csv,
    ))
}

/// One RFC 4180 row: fields with a comma, quote or line break are quoted, quotes doubled. A
/// field starting with `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does not run
/// it as a formula.
fn csv_row(e: &AuditEvent) -> String {
    let fields = [
        e.id.to_string(),
        e.event
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        e.event
            .case_ref
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        e.event.actor.clone(),
        e.event.role.clone(),
        e.event.action.clone(),
        e.event.outcome.clone(),
        e.event.detail.clone().unwrap_or_default(),
    ];
    let mut row = fields.map(|f| csv_field(&f)).join(",");
    row.push_str("\r\n");
    row
}

fn csv_field(raw: &str) -> String {
    let safe = if raw.starts_with(['=', '+', '-', '@']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if safe.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
    }
}
