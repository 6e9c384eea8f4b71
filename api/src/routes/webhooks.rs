//! Partners' webhooks. `POST /api/v1/webhooks/payments`: the payment provider announces that a
//! pending disbursement settled. No API key: the body is signed with a shared secret
//! (`partners.webhook_secret`), checked by `homeward_activities::http_partners::payment_webhook`,
//! which reads the provider's event (`homeward_activities::wire::payments::Event`). The
//! settlement reaches the case as the `payment_settled` signal, durable once Temporal accepts
//! it, even while no worker runs.
//!
//! `POST /api/v1/webhooks/messages`: the notification gateway's delivery receipts, signed the
//! same way, read by `homeward_activities::http_partners::message_receipts`. What became of
//! each message is kept in the case store (`message_receipts`) and shown with the case
//! (`GET /api/v1/cases/{ref}/messages`, the case page): an SMS the returnee never got is for the
//! officer to pass on.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use temporalio_client::WorkflowSignalOptions;
use temporalio_client::errors::WorkflowInteractionError;

use homeward_activities::http_partners::message_receipts;
use homeward_activities::http_partners::payment_webhook::{self, WebhookError};
use homeward_workflows::ids::return_case_workflow_id;
use homeward_workflows::return_case::ReturnCase;

use crate::error::ApiError;
use crate::state::AppState;

/// The webhook routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks/payments", post(payment_settled))
        .route("/api/v1/webhooks/messages", post(message_receipt))
}

/// A partner webhook's reader: secret, signature header, body, now.
type WebhookReader<T> = fn(
    Option<&[u8]>,
    Option<&str>,
    &[u8],
    chrono::DateTime<chrono::Utc>,
) -> Result<T, WebhookError>;

/// Reads a signed partner webhook with `read` (its signature header, the shared secret, now),
/// answering a refusal as the API does.
fn read_signed<T>(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    read: WebhookReader<T>,
) -> Result<T, ApiError> {
    let signature = headers
        .get(payment_webhook::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    read(
        state.payment_webhook_secret.as_deref().map(str::as_bytes),
        signature,
        body,
        chrono::Utc::now(),
    )
    .map_err(refused)
}

/// A webhook's refusal as the API answers it.
fn refused(e: WebhookError) -> ApiError {
    match e {
        WebhookError::Signature(why) => {
            tracing::warn!(why, "partner webhook refused");
            ApiError::Unauthorized(why.into())
        }
        WebhookError::Malformed(why) => ApiError::field("Webhook-Signature", why),
        WebhookError::Body { field, problem } => ApiError::field(field, problem),
    }
}

/// The notification gateway's delivery receipt (signed; no API key).
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/messages",
    tag = "webhooks",
    params(("Webhook-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")),
    request_body(content = serde_json::Value, description = "{\"id\",\"type\":\"message.status\",\"data\":{\"idempotency_key\",\"reference\",\"status\":\"delivered|failed|undelivered\",\"error_code\"}}"),
    responses(
        (status = 202, description = "Recorded"),
        (status = 200, description = "An event seen before: acknowledged, ignored"),
        (status = 400, description = "A malformed signature header or body; the field named", body = crate::error::ErrorBody),
        (status = 401, description = "Missing, stale or wrong signature", body = crate::error::ErrorBody),
        (status = 404, description = "No case with that reference", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn message_receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let receipt = read_signed(&state, &headers, &body, message_receipts::read)?;
    if state.store.webhook_event_seen(&receipt.id).await? {
        return Ok(StatusCode::OK);
    }
    if state.store.get_case(&receipt.reference).await?.is_none() {
        return Err(ApiError::NotFound(format!("no case {}", receipt.reference)));
    }
    // The template and the outcome only: never a recipient.
    tracing::info!(case = %receipt.reference, delivery = receipt.delivery.as_str(),
                   "message receipt received");
    let now = chrono::Utc::now();
    state.store.record_message_receipt(&receipt, now).await?;
    state.store.record_webhook_event(&receipt.id, now).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A payment provider's settlement notice (signed; no API key).
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/payments",
    tag = "webhooks",
    params(("Webhook-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")),
    request_body(content = serde_json::Value, description = "{\"type\":\"disbursement.updated\",\"data\":{\"id\",\"status\",\"reference\",\"idempotency_key\"}}"),
    responses(
        (status = 202, description = "Accepted: the case was told (it confirms with the provider)"),
        (status = 200, description = "An event seen before: acknowledged, ignored"),
        (status = 400, description = "A malformed signature header, or a signed body that is not a disbursement event; the field named", body = crate::error::ErrorBody),
        (status = 401, description = "Missing, stale or wrong signature", body = crate::error::ErrorBody),
        (status = 404, description = "No open case with that reference", body = crate::error::ErrorBody),
        (status = 503, description = "Temporal is unavailable; send it again", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn payment_settled(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let event = read_signed(&state, &headers, &body, payment_webhook::read)?;
    let settlement = event.settlement;
    let reference = settlement.reference.clone();
    // An event acted on before (the provider retried, or someone replays a captured one) is
    // acknowledged and ignored. Recorded only once the case was told, so a delivery that
    // failed here can be retried by the provider.
    if state.store.webhook_event_seen(&event.id).await? {
        tracing::info!(case = %reference, "payment webhook event seen before; ignored");
        return Ok(StatusCode::OK);
    }
    tracing::info!(case = %reference, payment = %settlement.payment_id,
                   state = ?settlement.state, "payment settlement received");
    // Only a wake-up: the case confirms the state with the provider before acting on it.
    state
        .temporal
        .get_workflow_handle::<ReturnCase>(return_case_workflow_id(&reference))
        .signal(
            ReturnCase::payment_settled,
            settlement,
            WorkflowSignalOptions::default(),
        )
        .await
        .map_err(|e| match e {
            WorkflowInteractionError::NotFound(_) => {
                ApiError::NotFound(format!("no open case {reference}"))
            }
            other => {
                tracing::warn!(error = %other, "signalling a payment settlement failed");
                ApiError::Unavailable("the workflow engine is unavailable; retry later".into())
            }
        })?;
    state
        .store
        .record_webhook_event(&event.id, chrono::Utc::now())
        .await?;
    Ok(StatusCode::ACCEPTED)
}
