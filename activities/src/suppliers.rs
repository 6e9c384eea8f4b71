//! Suppliers of in-kind reintegration support: the businesses an office pays against invoices
//! (a landlord, a school, a tool seller). A disbursement of in-kind support names its supplier
//! by id and the supplier's invoice; the payment activity reads the supplier's name and account
//! here at call time, so no account number enters workflow history. Who may register one is the
//! API's rule (`api/routes/suppliers.rs`); registering is audited.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sqlx::Row;

use homeward_workflows::person::Iban;

use crate::store::{CaseStore, NewAuditEvent, StoreError, format_ts, insert_audit, parse_ts};

/// A registered supplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Supplier {
    /// `sup-` and 16 hex digits.
    pub id: String,
    /// The office (ISO alpha-3) that buys from it.
    pub office: String,
    /// The business's name, as on its invoices.
    pub name: String,
    /// Its bank account (validated IBAN, electronic form).
    pub iban: String,
    /// Who registered it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

pub use homeward_workflows::outcomes::is_supplier_id;

/// A new supplier's fields, checked: a name of 1 to 200 characters and a valid IBAN. Answers
/// each wrong field and its problem.
pub fn check(name: &str, iban: &str) -> Result<(String, String), Vec<(&'static str, String)>> {
    let mut problems = vec![];
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        problems.push(("name", "must be 1 to 200 characters".to_owned()));
    }
    let iban = Iban::parse(iban);
    if iban.is_err() {
        problems.push(("iban", "is not a valid IBAN".to_owned()));
    }
    match iban {
        Ok(iban) if problems.is_empty() => Ok((name.to_owned(), iban.as_str().to_owned())),
        _ => Err(problems),
    }
}

impl CaseStore {
    /// Registers a supplier for `office` (fields already [`check`]ed), audited.
    pub async fn add_supplier(
        &self,
        office: &str,
        (name, iban): (&str, &str),
        by: (&str, &str),
        at: DateTime<Utc>,
    ) -> Result<Supplier, StoreError> {
        let mut bytes = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut bytes);
        let supplier = Supplier {
            id: format!("sup-{}", hex::encode(bytes)),
            office: office.to_owned(),
            name: name.to_owned(),
            iban: iban.to_owned(),
            created_by: by.0.to_owned(),
            created_at: at,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO suppliers (id, office, name, iban, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&supplier.id)
        .bind(office)
        .bind(name)
        .bind(iban)
        .bind(by.0)
        .bind(format_ts(at))
        .execute(&mut *tx)
        .await?;
        insert_audit(
            &mut tx,
            &NewAuditEvent {
                case_ref: None,
                actor: by.0.to_owned(),
                role: by.1.to_owned(),
                action: "supplier_registered".into(),
                outcome: "accepted".into(),
                detail: Some(format!("{} for office {office}", supplier.id)),
                occurred_at: at,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(supplier)
    }

    /// The suppliers of `office`, by name.
    pub async fn suppliers(&self, office: &str) -> Result<Vec<Supplier>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, office, name, iban, created_by, created_at FROM suppliers \
             WHERE office = $1 ORDER BY name, id",
        )
        .bind(office)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read).collect()
    }

    /// One supplier, if registered.
    pub async fn supplier(&self, id: &str) -> Result<Option<Supplier>, StoreError> {
        let row = sqlx::query(
            "SELECT id, office, name, iban, created_by, created_at FROM suppliers WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(read).transpose()
    }
}

fn read(row: &sqlx::any::AnyRow) -> Result<Supplier, StoreError> {
    Ok(Supplier {
        id: row.try_get("id")?,
        office: row.try_get("office")?,
        name: row.try_get("name")?,
        iban: row.try_get("iban")?,
        created_by: row.try_get("created_by")?,
        created_at: parse_ts(
            "suppliers.created_at",
            &row.try_get::<String, _>("created_at")?,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supplier_needs_a_name_and_a_valid_iban() {
        assert_eq!(
            check(" Erbil Tools Ltd ", "NL91 ABNA 0417 1643 00"),
            Ok(("Erbil Tools Ltd".into(), "NL91ABNA0417164300".into()))
        );
        assert_eq!(check("", "NL91ABNA0417164300").unwrap_err()[0].0, "name");
        assert_eq!(
            check("Tools", "NL91ABNA0417164301").unwrap_err()[0].0,
            "iban"
        );
        assert_eq!(check(" ", "x").unwrap_err().len(), 2, "both named at once");
        assert!(is_supplier_id("sup-0123456789abcdef"));
        assert!(!is_supplier_id("sup-0123456789ABCDEF") && !is_supplier_id("sup-1"));
    }
}
