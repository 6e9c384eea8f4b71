//! The retention sweep's activity: finds the cases closed longer ago than their programme keeps
//! personal data (`personal_data_retention`), erases each through the vault, and writes an
//! audit row for each (actor `system`, reason `retention`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::Row;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use homeward_workflows::activities::markers;
use homeward_workflows::domain::CaseRef;
use homeward_workflows::programme::Span;

use crate::store::{NewAuditEvent, StoreError, parse_ts};
use crate::vault::{Vault, VaultError};

/// Finds and erases what is due; how many cases were erased.
pub async fn sweep(
    vault: &Vault,
    retention: &BTreeMap<String, Span>,
    now: DateTime<Utc>,
) -> Result<u32, VaultError> {
    let store = vault.store();
    let rows = sqlx::query(
        "SELECT c.reference AS reference, c.programme AS programme, \
         MAX(h.entered_at) AS closed_at FROM cases c \
         JOIN case_stage_history h ON h.reference = c.reference AND h.stage = 'closed' \
         LEFT JOIN case_keys k ON k.reference = c.reference \
         WHERE c.stage = 'closed' AND k.erased_at IS NULL \
         GROUP BY c.reference, c.programme",
    )
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::from)?;
    let mut erased = 0;
    for row in rows {
        let programme: String = row.try_get("programme").map_err(StoreError::from)?;
        let Some(keep) = retention.get(&programme) else {
            continue;
        };
        let closed_at = parse_ts(
            "case_stage_history.entered_at",
            &row.try_get::<String, _>("closed_at")
                .map_err(StoreError::from)?,
        )?;
        if closed_at + keep.chrono() > now {
            continue;
        }
        let reference = CaseRef::parse(
            &row.try_get::<String, _>("reference")
                .map_err(StoreError::from)?,
        )
        .map_err(|e| StoreError::Corrupt {
            column: "cases.reference",
            problem: e.to_string(),
        })?;
        vault.erase(&reference, now).await?;
        store
            .append_audit(&NewAuditEvent {
                case_ref: Some(reference.clone()),
                actor: "system".into(),
                role: "system".into(),
                action: "personal_data_erased".into(),
                outcome: "recorded".into(),
                detail: Some(format!("reason: retention ({keep} after closure)")),
                occurred_at: now,
            })
            .await?;
        tracing::info!(case = %reference, "personal data erased: retention period over");
        erased += 1;
    }
    Ok(erased)
}

/// The activity implementer registered with the worker.
pub struct RetentionActivitiesImpl {
    /// The vault it erases through.
    vault: Vault,
    /// Each programme's retention, from the programme files loaded at start.
    retention: BTreeMap<String, Span>,
}

impl RetentionActivitiesImpl {
    /// Over `vault`, with each programme's retention.
    pub fn new(vault: Vault, retention: BTreeMap<String, Span>) -> Self {
        Self { vault, retention }
    }
}

#[activities]
impl RetentionActivitiesImpl {
    #[activity(definition = markers::SweepRetention)]
    pub async fn sweep_retention(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _input: (),
    ) -> Result<u32, ActivityError> {
        sweep(&self.vault, &self.retention, Utc::now())
            .await
            .map_err(|e| match e {
                VaultError::Store(e) => e.into_activity_error(),
                other => StoreError::Corrupt {
                    column: "case_keys",
                    problem: other.to_string(),
                }
                .into_activity_error(),
            })
    }
}
