//! Restricted cases: a trafficking victim's case is opened on a need-to-know basis, by the staff
//! named on it (`case_access`: the officer who opened it, then whom they or a supervisor name),
//! besides the office's supervisors and auditors. Who may open and name is the API's rule
//! (`api/routes/access.rs`); this module keeps the record, each change audited.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use homeward_workflows::domain::CaseRef;

use crate::store::{CaseStore, NewAuditEvent, StoreError, format_ts, insert_audit, parse_ts};

/// One person named on a restricted case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    /// The user's id.
    pub user: String,
    /// Who named them (the officer who opened the case names themself).
    pub granted_by: String,
    /// When.
    pub granted_at: DateTime<Utc>,
}

impl CaseStore {
    /// Marks a case restricted and names the officer who opened it.
    pub async fn restrict_case(
        &self,
        reference: &CaseRef,
        officer: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO restricted_cases (reference, created_at) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(reference.as_str())
        .bind(format_ts(at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO case_access (reference, user_id, granted_by, granted_at) \
             VALUES ($1, $2, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(reference.as_str())
        .bind(officer)
        .bind(format_ts(at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The staff named on a case; `None` when it is not restricted. One query.
    pub async fn case_access(
        &self,
        reference: &CaseRef,
    ) -> Result<Option<Vec<Access>>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.user_id, a.granted_by, a.granted_at FROM restricted_cases r \
             LEFT JOIN case_access a ON a.reference = r.reference \
             WHERE r.reference = $1 ORDER BY a.granted_at, a.user_id",
        )
        .bind(reference.as_str())
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut named = Vec::with_capacity(rows.len());
        for row in &rows {
            // A restricted case with nobody named yields one row of nulls.
            let Some(user) = row.try_get::<Option<String>, _>("user_id")? else {
                continue;
            };
            named.push(Access {
                user,
                granted_by: row.try_get("granted_by")?,
                granted_at: parse_ts(
                    "case_access.granted_at",
                    &row.try_get::<String, _>("granted_at")?,
                )?,
            });
        }
        Ok(Some(named))
    }

    /// Of `references` (a list's page), the restricted ones, each with the ids of the staff
    /// named on it. One query for the page.
    pub async fn restricted_among(
        &self,
        references: &[CaseRef],
    ) -> Result<BTreeMap<CaseRef, Vec<String>>, StoreError> {
        let mut out: BTreeMap<CaseRef, Vec<String>> = BTreeMap::new();
        if references.is_empty() {
            return Ok(out);
        }
        let placeholders: Vec<String> = (1..=references.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT r.reference, a.user_id FROM restricted_cases r \
             LEFT JOIN case_access a ON a.reference = r.reference \
             WHERE r.reference IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for reference in references {
            query = query.bind(reference.as_str());
        }
        for row in query.fetch_all(&self.pool).await? {
            let reference: String = row.try_get("reference")?;
            let reference = CaseRef::parse(&reference).map_err(|_| StoreError::Corrupt {
                column: "restricted_cases.reference",
                problem: format!("{reference:?} is not a case reference"),
            })?;
            let named = out.entry(reference).or_default();
            if let Some(user) = row.try_get::<Option<String>, _>("user_id")? {
                named.push(user);
            }
        }
        Ok(out)
    }

    /// Names `user` on a restricted case (again: no change), audited. Answers whether new.
    pub async fn grant_access(
        &self,
        reference: &CaseRef,
        user: &str,
        by: (&str, &str),
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let added = sqlx::query(
            "INSERT INTO case_access (reference, user_id, granted_by, granted_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(reference.as_str())
        .bind(user)
        .bind(by.0)
        .bind(format_ts(at))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if added {
            audit(&mut tx, reference, by, "case_access_granted", user, at).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Removes `user` from a restricted case, audited. Answers whether they were named.
    pub async fn revoke_access(
        &self,
        reference: &CaseRef,
        user: &str,
        by: (&str, &str),
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let removed = sqlx::query("DELETE FROM case_access WHERE reference = $1 AND user_id = $2")
            .bind(reference.as_str())
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if removed {
            audit(&mut tx, reference, by, "case_access_revoked", user, at).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }
}

async fn audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    reference: &CaseRef,
    by: (&str, &str),
    action: &str,
    user: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    insert_audit(
        tx,
        &NewAuditEvent {
            case_ref: Some(reference.clone()),
            actor: by.0.to_owned(),
            role: by.1.to_owned(),
            action: action.to_owned(),
            outcome: "accepted".into(),
            detail: Some(format!("user {user}")),
            occurred_at: at,
        },
    )
    .await?;
    Ok(())
}
