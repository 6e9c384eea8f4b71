//! Linked cases: one family split across cases, or a group that travels together. A link joins
//! two cases of one office, in both directions (`case_links`), with the decision that holds for
//! both (`departs_together`); linking and unlinking are audited on both cases. Who may link is
//! the API's rule (`api/routes/links.rs`); this module only keeps the record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use homeward_workflows::domain::CaseRef;

use crate::store::{CaseStore, NewAuditEvent, StoreError, format_ts, insert_audit, parse_ts};

/// How two cases belong together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Members of one family, split across cases.
    Family,
    /// A group organised together (a charter, seats blocked on one flight).
    Group,
}

impl LinkKind {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Family => "family",
            LinkKind::Group => "group",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "family" => Some(LinkKind::Family),
            "group" => Some(LinkKind::Group),
            _ => None,
        }
    }
}

/// One link as a case sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseLink {
    /// The other case.
    pub case: CaseRef,
    /// Family or group.
    pub kind: LinkKind,
    /// The two must depart together: neither is booked alone.
    pub departs_together: bool,
    /// Who linked them (a user id).
    pub linked_by: String,
    /// When.
    pub linked_at: DateTime<Utc>,
}

/// Who links or unlinks, for the audit rows.
#[derive(Debug, Clone)]
pub struct Linker {
    /// The user's id.
    pub id: String,
    /// Their role.
    pub role: String,
}

impl CaseStore {
    /// Links `a` and `b` (both directions) and audits it on both; linking again updates the
    /// kind and the decision. Answers whether the link is new.
    pub async fn link_cases(
        &self,
        (a, b): (&CaseRef, &CaseRef),
        kind: LinkKind,
        departs_together: bool,
        by: &Linker,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let existed = sqlx::query("SELECT 1 FROM case_links WHERE reference = $1 AND linked = $2")
            .bind(a.as_str())
            .bind(b.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        for (from, to) in [(a, b), (b, a)] {
            sqlx::query(
                "INSERT INTO case_links \
                 (reference, linked, kind, departs_together, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (reference, linked) DO UPDATE SET kind = excluded.kind, \
                 departs_together = excluded.departs_together",
            )
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(kind.as_str())
            .bind(i64::from(departs_together))
            .bind(&by.id)
            .bind(format_ts(at))
            .execute(&mut *tx)
            .await?;
        }
        let detail = format!(
            "{} link; departs together: {}",
            kind.as_str(),
            if departs_together { "yes" } else { "no" }
        );
        audit_both(&mut tx, (a, b), by, "case_linked", &detail, at).await?;
        tx.commit().await?;
        Ok(!existed)
    }

    /// Removes the link between `a` and `b` (both directions), audited on both. Answers whether
    /// there was one.
    pub async fn unlink_cases(
        &self,
        (a, b): (&CaseRef, &CaseRef),
        by: &Linker,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut removed = 0;
        for (from, to) in [(a, b), (b, a)] {
            removed += sqlx::query("DELETE FROM case_links WHERE reference = $1 AND linked = $2")
                .bind(from.as_str())
                .bind(to.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        if removed == 0 {
            return Ok(false);
        }
        audit_both(&mut tx, (a, b), by, "case_unlinked", "link removed", at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The links of a case, in the order they were made.
    pub async fn links_of(&self, reference: &CaseRef) -> Result<Vec<CaseLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT linked, kind, departs_together, created_by, created_at FROM case_links \
             WHERE reference = $1 ORDER BY created_at, linked",
        )
        .bind(reference.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let linked: String = row.try_get("linked")?;
                let kind: String = row.try_get("kind")?;
                Ok(CaseLink {
                    case: CaseRef::parse(&linked).map_err(|_| StoreError::Corrupt {
                        column: "case_links.linked",
                        problem: format!("{linked:?} is not a case reference"),
                    })?,
                    kind: LinkKind::parse(&kind).ok_or(StoreError::Corrupt {
                        column: "case_links.kind",
                        problem: format!("{kind:?} is not a link kind"),
                    })?,
                    departs_together: row.try_get::<i64, _>("departs_together")? != 0,
                    linked_by: row.try_get("created_by")?,
                    linked_at: parse_ts(
                        "case_links.created_at",
                        &row.try_get::<String, _>("created_at")?,
                    )?,
                })
            })
            .collect()
    }
}

/// The audit row of a link change, on each of the two cases (naming the other).
async fn audit_both(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    (a, b): (&CaseRef, &CaseRef),
    by: &Linker,
    action: &str,
    detail: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    for (from, to) in [(a, b), (b, a)] {
        insert_audit(
            tx,
            &NewAuditEvent {
                case_ref: Some(from.clone()),
                actor: by.id.clone(),
                role: by.role.clone(),
                action: action.to_owned(),
                outcome: "accepted".into(),
                detail: Some(format!("{detail} (with {to})")),
                occurred_at: at,
            },
        )
        .await?;
    }
    Ok(())
}
