//! The case store: cases, personal data, the append-only audit trail, users and API keys.
//!
//! One code path for SQLite (the embedded default) and PostgreSQL, chosen by the URL scheme and
//! run through sqlx's `Any` driver. Timestamps are stored as fixed-width RFC 3339 UTC text so
//! that both databases compare and sort them alike. This module knows SQL; it knows nothing of
//! HTTP or Temporal.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};

use homeward_workflows::domain::{CaseRef, OpenCase, Stage};
use homeward_workflows::ids::return_case_workflow_id;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Errors of the case store. Messages never contain the database URL (it may hold a password)
/// nor row contents.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL's scheme is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("database.url must start with sqlite: or postgres:, not {scheme:?}")]
    UnsupportedScheme {
        /// The scheme that was given.
        scheme: String,
    },
    /// The database could not be reached or refused a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed to apply.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value no longer parses into its domain type (the database was edited by hand).
    #[error("stored value in {column} is invalid: {problem}")]
    Corrupt {
        /// The column holding the bad value.
        column: &'static str,
        /// What was wrong with it.
        problem: String,
    },
    /// A value given to the store is refused (a password too short, a user that does not
    /// exist): the caller's mistake, named.
    #[error("{field}: {problem}")]
    Invalid {
        /// What was refused.
        field: &'static str,
        /// Why.
        problem: String,
    },
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file, in WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Chooses the backend from a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            other => Err(StoreError::UnsupportedScheme {
                scheme: other.to_owned(),
            }),
        }
    }
}

/// A case as the store knows it: enough for lists and statistics, no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    /// The case's public reference.
    pub reference: CaseRef,
    /// Its ReturnCase workflow ID.
    pub workflow_id: String,
    /// The programme the case was opened under.
    pub programme: String,
    /// The host country (ISO alpha-3).
    pub host_country: String,
    /// The country of origin (ISO alpha-3).
    pub origin_country: String,
    /// How many people return together.
    pub household_size: i64,
    /// The last stage the workflow reported.
    pub stage: String,
    /// When the case was opened.
    pub opened_at: DateTime<Utc>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
}

/// An audit event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// The case concerned, if any.
    pub case_ref: Option<CaseRef>,
    /// Who acted: a user id, or `system`.
    pub actor: String,
    /// The role they acted in.
    pub role: String,
    /// What they did, e.g. `case_opened`.
    pub action: String,
    /// How it ended, e.g. `accepted` or `rejected`.
    pub outcome: String,
    /// A short note without personal data.
    pub detail: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// An audit event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the trail; strictly increasing.
    pub id: i64,
    /// The event itself.
    pub event: NewAuditEvent,
}

/// Formats a timestamp the one way the store sorts correctly.
pub fn format_ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(column: &'static str, raw: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            column,
            problem: e.to_string(),
        })
}

/// The case store. Cheap to clone: it wraps a connection pool.
#[derive(Debug, Clone)]
pub struct CaseStore {
    /// The shared connection pool.
    pub(crate) pool: AnyPool,
    /// Which database the pool talks to; picks the migration set.
    backend: Backend,
}

impl CaseStore {
    /// Connects to `url`. A SQLite file (and its folder) is created if missing and put in WAL
    /// mode, so the API and the worker can read while the other writes.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite => {
                prepare_sqlite_path(url);
                if url.contains('?') || url.contains(":memory:") {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                }
            }
            Backend::Postgres => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Self { pool, backend })
    }

    /// The database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every pending migration for this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Records a newly opened case and its `case_opened` audit event, once: a retry finds the
    /// row and writes nothing.
    pub async fn record_case_opened(&self, case: &OpenCase) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let opened = format_ts(case.opened_at);
        let inserted = sqlx::query(
            "INSERT INTO cases (reference, workflow_id, programme, host_country, origin_country, \
             household_size, stage, opened_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (reference) DO NOTHING",
        )
        .bind(case.reference.as_str())
        .bind(return_case_workflow_id(&case.reference))
        .bind(case.intake.programme.as_str())
        .bind(case.intake.host_country.as_str())
        .bind(case.intake.origin_country.as_str())
        .bind(i64::from(case.intake.household_size.get()))
        .bind(Stage::Intake.as_str())
        .bind(&opened)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            sqlx::query(
                "INSERT INTO case_stage_history (reference, stage, entered_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(case.reference.as_str())
            .bind(Stage::Intake.as_str())
            .bind(&opened)
            .execute(&mut *tx)
            .await?;
            insert_audit(
                &mut tx,
                &NewAuditEvent {
                    case_ref: Some(case.reference.clone()),
                    actor: "system".into(),
                    role: "system".into(),
                    action: "case_opened".into(),
                    outcome: "recorded".into(),
                    detail: Some(format!("programme {}", case.intake.programme)),
                    occurred_at: case.opened_at,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Mirrors the workflow's stage into the case row. A stale write (older than the row) is
    /// ignored, so retries and reorderings cannot move a case backwards.
    pub async fn record_stage(
        &self,
        reference: &CaseRef,
        stage: Stage,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE cases SET stage = $1, updated_at = $2 WHERE reference = $3 AND updated_at <= $2",
        )
        .bind(stage.as_str())
        .bind(format_ts(at))
        .bind(reference.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO case_stage_history (reference, stage, entered_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(reference.as_str())
        .bind(stage.as_str())
        .bind(format_ts(at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads one case.
    pub async fn get_case(&self, reference: &CaseRef) -> Result<Option<CaseRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT reference, workflow_id, programme, host_country, origin_country, \
             household_size, stage, opened_at, updated_at FROM cases WHERE reference = $1",
        )
        .bind(reference.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let reference: String = row.try_get("reference")?;
        Ok(Some(CaseRecord {
            reference: CaseRef::parse(&reference).map_err(|e| StoreError::Corrupt {
                column: "cases.reference",
                problem: e.to_string(),
            })?,
            workflow_id: row.try_get("workflow_id")?,
            programme: row.try_get("programme")?,
            host_country: row.try_get("host_country")?,
            origin_country: row.try_get("origin_country")?,
            household_size: row.try_get::<i64, _>("household_size")?,
            stage: row.try_get("stage")?,
            opened_at: parse_ts("cases.opened_at", &row.try_get::<String, _>("opened_at")?)?,
            updated_at: parse_ts("cases.updated_at", &row.try_get::<String, _>("updated_at")?)?,
        }))
    }

    /// Appends an audit event and returns its position. There is no way to change or remove
    /// one: this type has no such method, and database triggers refuse it.
    pub async fn append_audit(&self, event: &NewAuditEvent) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = insert_audit(&mut tx, event).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Appends the decisions a case accepted (written by the workflow itself), once each: the
    /// row's key is the case and the decision's position, so a retried write adds nothing.
    pub async fn record_decisions(
        &self,
        accepted: &homeward_workflows::activities::DecisionsAccepted,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for d in &accepted.decisions {
            sqlx::query(
                "INSERT INTO audit_events (case_ref, actor, role, action, outcome, detail, \
                 occurred_at, source_key) VALUES ($1, $2, $3, $4, 'recorded', $5, $6, $7) \
                 ON CONFLICT (source_key) DO NOTHING",
            )
            .bind(accepted.reference.as_str())
            .bind(&d.actor)
            .bind(d.role.as_str())
            .bind(format!("decision:{}", d.what))
            .bind(format!("accepted by the case (task {})", d.task_id))
            .bind(format_ts(d.at))
            .bind(format!("{}:decision:{}", accepted.reference, d.index))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The audit trail of one case, oldest first.
    pub async fn audit_trail(&self, reference: &CaseRef) -> Result<Vec<AuditEvent>, StoreError> {
        self.audit_export(Some(reference), 0, i64::MAX).await
    }

    /// Every row of every table as text, for tests that prove what the database does not
    /// hold (no personal value in clear).
    #[doc(hidden)]
    pub async fn dump_text(&self) -> Result<String, StoreError> {
        let tables: Vec<String> = match self.backend {
            Backend::Postgres => sqlx::query(
                "SELECT CAST(table_name AS TEXT) AS t FROM information_schema.tables \
                 WHERE table_schema = 'public'",
            ),
            Backend::Sqlite => {
                sqlx::query("SELECT name AS t FROM sqlite_master WHERE type = 'table'")
            }
        }
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("t"))
        .collect::<Result<_, _>>()?;
        let mut out = String::new();
        for t in tables {
            let sql = match self.backend {
                Backend::Postgres => format!("SELECT CAST(x AS TEXT) AS row FROM \"{t}\" x"),
                Backend::Sqlite => continue,
            };
            for row in sqlx::query(&sql).fetch_all(&self.pool).await? {
                out.push_str(&row.try_get::<String, _>("row")?);
                out.push('\n');
            }
        }
        Ok(out)
    }

    /// Executes raw SQL. For tests that prove what the database itself refuses.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected())
    }
}

pub(crate) async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &NewAuditEvent,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO audit_events (case_ref, actor, role, action, outcome, detail, occurred_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(event.case_ref.as_ref().map(CaseRef::as_str))
    .bind(&event.actor)
    .bind(&event.role)
    .bind(&event.action)
    .bind(&event.outcome)
    .bind(event.detail.as_deref())
    .bind(format_ts(event.occurred_at))
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}

/// Prepares a SQLite file so that a fresh checkout's `./data` need not exist, and so that no
/// other local user can read it: a missing folder is created 0700 and a missing file 0600
/// (SQLite gives its WAL and shared-memory files the database file's mode); an existing file
/// readable by others is tightened to 0600, with a log line. (The devkit's sandbox journal
/// prepares its file the same way.)
pub fn prepare_sqlite_path(url: &str) {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return;
    }
    let path = std::path::Path::new(path);
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
        && !parent.exists()
    {
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent);
    }
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .is_ok();
    if created {
        return;
    }
    for file in [
        path.to_path_buf(),
        path.with_extension("db-wal"),
        path.with_extension("db-shm"),
    ] {
        if let Ok(meta) = std::fs::metadata(&file)
            && meta.permissions().mode() & 0o077 != 0
        {
            let was = meta.permissions().mode() & 0o777;
            if std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).is_ok() {
                tracing::warn!(path = %file.display(), was = format!("{was:o}"),
                               "tightened a database file to 0600: other local users could read it");
            }
        }
    }
}
