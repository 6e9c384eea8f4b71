//! Appends the API's audit events: who did what to which case, and whether it was accepted.
//! A failed write is logged, never turned into an error for a decision already taken.

use homeward_activities::store::NewAuditEvent;
use homeward_workflows::domain::CaseRef;

use crate::auth::Caller;
use crate::state::AppState;

/// Records `action` on `reference` by `caller` with `outcome` (`accepted` or `rejected`).
pub async fn record(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
    action: String,
    outcome: &str,
) {
    let event = NewAuditEvent {
        case_ref: Some(reference.clone()),
        actor: caller.actor.id.clone(),
        role: caller.actor.role.as_str().to_owned(),
        action,
        outcome: outcome.to_owned(),
        detail: None,
        occurred_at: chrono::Utc::now(),
    };
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, case = %reference, "audit event not written");
    }
}

/// Records `action` on `reference` by `caller` with a detail (field names, counts: never a
/// value of personal data).
pub async fn record_detail(
    state: &AppState,
    caller: &Caller,
    reference: &CaseRef,
    action: &str,
    detail: String,
) {
    let event = NewAuditEvent {
        case_ref: Some(reference.clone()),
        actor: caller.actor.id.clone(),
        role: caller.actor.role.as_str().to_owned(),
        action: action.to_owned(),
        outcome: "accepted".to_owned(),
        detail: Some(detail),
        occurred_at: chrono::Utc::now(),
    };
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, case = %reference, "audit event not written");
    }
}
