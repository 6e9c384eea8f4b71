//! The overdue sweep's activity: reads the open-task projection for tasks past their due date
//! and their programme's grace (`deadlines.overdue_grace`) that no supervisor has been told
//! about, sends the office's supervisors one `task_overdue` notice per task (idempotency key
//! `<ref>:task_overdue:<task id>`, so a retried sweep never sends twice), marks the task and
//! writes an audit row (actor `system`, action `task_escalated`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use homeward_workflows::activities::{Audience, Notice, NoticeTemplate, markers};
use homeward_workflows::idempotency::IdempotencyKey;
use homeward_workflows::programme::Span;

use crate::partners::{PartnerError, Partners};
use crate::store::{CaseStore, NewAuditEvent, StoreError};

/// Tasks read per query.
const PAGE: u32 = 200;

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    /// The case store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The notification gateway failed.
    #[error(transparent)]
    Partner(#[from] PartnerError),
}

/// Escalates every task due for it at `now`, programme by programme; how many were escalated.
pub async fn escalate(
    store: &CaseStore,
    partners: &Partners,
    grace: &BTreeMap<String, Span>,
    now: DateTime<Utc>,
) -> Result<u32, EscalationError> {
    let mut escalated = 0;
    for (programme, grace) in grace {
        let before = now - grace.chrono();
        loop {
            let tasks = store.unescalated_overdue(programme, before, PAGE).await?;
            for task in &tasks {
                let notice = Notice {
                    idempotency_key: IdempotencyKey::Notice {
                        reference: task.reference.clone(),
                        template: NoticeTemplate::TaskOverdue,
                        n: task.task_id,
                    }
                    .into(),
                    reference: task.reference.clone(),
                    template: NoticeTemplate::TaskOverdue,
                    audience: Audience::Supervisors,
                    language: None,
                    task: Some(task.task_type),
                    flight: None,
                    safe_phone_only: false,
                };
                partners
                    .outreach
                    .notify(&partners.templates.render(&notice), None)
                    .await?;
                if store
                    .mark_escalated(&task.reference, task.task_id, now)
                    .await?
                {
                    let due = task
                        .due_at
                        .map_or_else(String::new, |d| format!(", due {}", d.to_rfc3339()));
                    store
                        .append_audit(&NewAuditEvent {
                            case_ref: Some(task.reference.clone()),
                            actor: "system".into(),
                            role: "system".into(),
                            action: "task_escalated".into(),
                            outcome: "recorded".into(),
                            detail: Some(format!(
                                "task {} ({}){due}: supervisors told",
                                task.task_id, task.task_type
                            )),
                            occurred_at: now,
                        })
                        .await?;
                    tracing::info!(case = %task.reference, task = task.task_id,
                                   "overdue task escalated to supervisors");
                    escalated += 1;
                }
            }
            if tasks.len() < PAGE as usize {
                break;
            }
        }
    }
    Ok(escalated)
}

/// The activity implementer registered with the worker.
pub struct EscalationActivitiesImpl {
    store: CaseStore,
    partners: Partners,
    /// Each programme's `deadlines.overdue_grace`, from the programme files loaded at start.
    grace: BTreeMap<String, Span>,
}

impl EscalationActivitiesImpl {
    /// Over `store`, telling supervisors through `partners`' gateway, with each programme's
    /// grace.
    pub fn new(store: CaseStore, partners: Partners, grace: BTreeMap<String, Span>) -> Self {
        Self {
            store,
            partners,
            grace,
        }
    }
}

#[activities]
impl EscalationActivitiesImpl {
    #[activity(definition = markers::EscalateOverdue)]
    pub async fn escalate_overdue(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _input: (),
    ) -> Result<u32, ActivityError> {
        escalate(&self.store, &self.partners, &self.grace, Utc::now())
            .await
            .map_err(|e| match e {
                EscalationError::Store(e) => e.into_activity_error(),
                EscalationError::Partner(e) => e.into_activity_error(),
            })
    }
}
