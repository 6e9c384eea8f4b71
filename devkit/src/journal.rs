//! The sandbox ledger's SQLite journal: every entry the ledger records (offers, orders,
//! cancellations, payments and their states, notices, hand-overs), written before the sandbox
//! answers, so a restarted sandbox remembers what it booked and paid, and under which
//! idempotency keys. Without it, a retry that reached a restarted sandbox would pay again.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::{ConnectOptions, Row};

use homeward_activities::partners::PartnerError;

/// An append-or-replace journal of ledger entries, one row per (kind, key).
#[derive(Debug, Clone)]
pub struct Journal {
    pool: SqlitePool,
}

/// Entry kinds.
pub mod kind {
    /// An offer made, by offer id.
    pub const OFFER: &str = "offer";
    /// An order, by idempotency key.
    pub const ORDER: &str = "order";
    /// The passengers' fares of an offer, by offer id.
    pub const OFFER_FARES: &str = "offer_fares";
    /// A cancelled order id.
    pub const CANCELLED: &str = "cancelled";
    /// A payment (disbursement and receipt), by idempotency key.
    pub const PAYMENT: &str = "payment";
    /// A payment's pending bookkeeping (status reads left, doomed), by payment id.
    pub const PAYMENT_META: &str = "payment_meta";
    /// A notice, by idempotency key.
    pub const NOTICE: &str = "notice";
    /// A notice's attachments (names, types and sizes; never the bytes), by idempotency key.
    pub const ATTACHMENTS: &str = "attachments";
    /// A hand-over, by idempotency key.
    pub const HAND_OVER: &str = "hand_over";
    /// A counter, by name.
    pub const COUNTER: &str = "counter";
}

impl Journal {
    /// Opens (creating if missing) the journal at a `sqlite://` URL.
    pub async fn open(url: &str) -> Result<Self, String> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| format!("{url:?} is not a sqlite:// URL"))?;
        homeward_activities::store::prepare_sqlite_path(url);
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5))
            .disable_statement_logging();
        let pool = SqlitePool::connect_with(options)
            .await
            .map_err(|e| format!("cannot open the sandbox ledger {path}: {e}"))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS sandbox_ledger (
                 kind TEXT NOT NULL,
                 key TEXT NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (kind, key)
             )",
        )
        .execute(&pool)
        .await
        .map_err(|e| format!("cannot create the sandbox ledger table: {e}"))?;
        Ok(Self { pool })
    }

    /// Writes (or replaces) one entry.
    pub async fn put(
        &self,
        kind: &'static str,
        key: &str,
        value: &impl Serialize,
    ) -> Result<(), PartnerError> {
        let body = serde_json::to_string(value).map_err(|e| PartnerError::Unavailable {
            partner: "sandbox",
            message: format!("cannot encode a ledger entry: {e}"),
            retry_after: None,
        })?;
        sqlx::query(
            "INSERT INTO sandbox_ledger (kind, key, body) VALUES (?, ?, ?)
             ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
        )
        .bind(kind)
        .bind(key)
        .bind(body)
        .execute(&self.pool)
        .await
        .map_err(|e| PartnerError::Unavailable {
            partner: "sandbox",
            message: format!("cannot write the ledger: {e}"),
            retry_after: Some(std::time::Duration::from_secs(1)),
        })?;
        Ok(())
    }

    /// Every entry of one kind, by key.
    pub async fn all<T: DeserializeOwned>(
        &self,
        kind: &'static str,
    ) -> Result<Vec<(String, T)>, String> {
        let rows = sqlx::query("SELECT key, body FROM sandbox_ledger WHERE kind = ? ORDER BY key")
            .bind(kind)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| format!("cannot read the sandbox ledger: {e}"))?;
        rows.iter()
            .map(|row| {
                let key: String = row.get("key");
                let body: String = row.get("body");
                serde_json::from_str(&body)
                    .map(|v| (key.clone(), v))
                    .map_err(|e| format!("sandbox ledger entry {kind}/{key} is unreadable: {e}"))
            })
            .collect()
    }
}
