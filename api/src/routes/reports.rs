//! `/api/v1/statistics` (M&E figures, scoped like cases) and `/api/v1/audit` (the audit trail
//! as CSV, for auditors and admins).

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;

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
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn statistics(
    State(state): State<AppState>,
    caller: Caller,
    q: QueryReader,
) -> Result<Json<Statistics>, ApiError> {
    q.finish()?;
    // Heavy: a few at once per process, the others wait their turn.
    let _permit = state
        .limits
        .heavy
        .acquire()
        .await
        .map_err(|_| ApiError::Unavailable("shutting down".into()))?;
    Ok(Json(state.store.statistics(&caller.actor.scope()).await?))
}

/// Rows read from the store at a time while streaming an export.
const EXPORT_PAGE: i64 = 1000;

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
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100000, description = "Default 10000; for more, pass the last row's id as `after`"),
    ),
    responses(
        (status = 200, description = "CSV", content_type = "text/csv", body = String),
        (status = 400, description = "A bad field or parameter, named", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "Not an auditor or admin", body = crate::error::ErrorBody),
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
    let permit = state
        .limits
        .heavy
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::Unavailable("shutting down".into()))?;
    // The first page is read before answering, so a database failure is still an error
    // status; the rest is streamed page by page (memory stays flat whatever the limit).
    let first = state
        .store
        .audit_export(case.as_ref(), after, EXPORT_PAGE.min(limit))
        .await?;
    let store = state.store.clone();
    let mut head = String::from(AUDIT_COLUMNS);
    head.push_str("\r\n");
    let pages =
        futures_util::stream::unfold((Some(first), 0i64, permit), move |(page, sent, permit)| {
            let (store, case) = (store.clone(), case.clone());
            async move {
                let page = page?;
                if page.is_empty() {
                    return None;
                }
                let sent = sent + i64::try_from(page.len()).unwrap_or(i64::MAX);
                let last = page.last().map_or(0, |e| e.id);
                let csv: String = page.iter().map(csv_row).collect();
                let next = if sent >= limit || (page.len() as i64) < EXPORT_PAGE {
                    None
                } else {
                    match store
                        .audit_export(case.as_ref(), last, EXPORT_PAGE.min(limit - sent))
                        .await
                    {
                        Ok(next) => Some(next),
                        Err(e) => {
                            // The status is sent; the cut-off export ends without its last rows.
                            tracing::error!(error = %e, "audit export cut short");
                            None
                        }
                    }
                };
                Some((Ok::<_, std::convert::Infallible>(csv), (next, sent, permit)))
            }
        });
    let body = futures_util::stream::once(async move { Ok(head) }).chain(pages);
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        axum::body::Body::from_stream(body),
    ))
}

/// One RFC 4180 row: fields with a comma, quote or line break are quoted, quotes doubled. A
/// field starting with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'` so a
/// spreadsheet does not run it as a formula (OWASP, "CSV Injection").
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
    let safe = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
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
        assert_eq!(csv_field("\t=1+1"), "'\t=1+1");
        assert_eq!(csv_field("\r=1+1"), "\"'\r=1+1\"");
    }
}
