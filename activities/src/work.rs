//! The open-task projection (`homeward_workflows::work`): each case writes its open tasks here
//! when they change, and the inbox, the workload view and the overdue sweep read them with one
//! indexed query each. A write carries the case's revision; an older one than stored is
//! ignored, so retries, replays and a concurrent `homeward reindex` never go backwards.

use chrono::{DateTime, Utc};
use sqlx::Row;

use homeward_workflows::domain::CaseRef;
use homeward_workflows::tasks::{Role, TaskType};
use homeward_workflows::work::TaskProjection;

use crate::store::{CaseStore, StoreError, format_ts, parse_ts};

/// `due_at` of a task without a due date: sorts after every real one.
const NO_DUE: &str = "9999-12-31T00:00:00.000000Z";

/// One open task as the inbox and the workload view read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTask {
    /// The case.
    pub reference: CaseRef,
    /// The task number within the case.
    pub task_id: u32,
    /// What is asked.
    pub task_type: TaskType,
    /// Who may complete it.
    pub role: Role,
    /// The office.
    pub host_country: String,
    /// The country of origin.
    pub origin_country: String,
    /// The programme.
    pub programme: String,
    /// The member, tranche or follow-up it concerns.
    pub subject: Option<u32>,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
    /// Who asked for it.
    pub requested_by: Option<String>,
    /// Who holds it.
    pub assignee: Option<String>,
    /// Since when.
    pub claimed_at: Option<DateTime<Utc>>,
    /// When the office's supervisors were told it is overdue.
    pub escalated_at: Option<DateTime<Utc>>,
}

/// Whose tasks an inbox shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Unheld tasks and the caller's own (what one can work on).
    MineAndPool,
    /// The caller's own.
    Mine,
    /// Unheld tasks only.
    Pool,
    /// One colleague's (a supervisor's view).
    User(String),
    /// Everyone's (a supervisor's, an auditor's view).
    Anyone,
}

/// Which tasks, for an inbox page.
#[derive(Debug, Clone)]
pub struct InboxQuery {
    /// The caller.
    pub user: String,
    /// Only tasks of this role (`None`: every role, for auditors and admins).
    pub role: Option<Role>,
    /// Only this office's cases (`None`: every office).
    pub office: Option<String>,
    /// Only cases bound for this country (partners).
    pub origin_country: Option<String>,
    /// Whose.
    pub holder: Holder,
    /// Only this type.
    pub task_type: Option<TaskType>,
    /// Only tasks due before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// Start after this task (keyset pagination): its due date, case and number.
    pub after: Option<(Option<DateTime<Utc>>, CaseRef, u32)>,
    /// At most this many.
    pub limit: u32,
}

/// Open, overdue and held tasks of one person (or of nobody: the pool) and one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadRow {
    /// Who holds them (`None`: unheld).
    pub assignee: Option<String>,
    /// What they are.
    pub task_type: TaskType,
    /// How many are open.
    pub open: u64,
    /// How many of them are overdue.
    pub overdue: u64,
}

fn due_text(due: Option<DateTime<Utc>>) -> String {
    due.map(format_ts).unwrap_or_else(|| NO_DUE.to_owned())
}

fn parse_due(raw: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    if raw == NO_DUE {
        Ok(None)
    } else {
        parse_ts("open_tasks.due_at", raw).map(Some)
    }
}

fn corrupt(column: &'static str, problem: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        column,
        problem: problem.into(),
    }
}

fn read_task(row: &sqlx::any::AnyRow) -> Result<OpenTask, StoreError> {
    let opt_ts = |column: &'static str| -> Result<Option<DateTime<Utc>>, StoreError> {
        row.try_get::<Option<String>, _>(column)?
            .map(|r| parse_ts(column, &r))
            .transpose()
    };
    let task_type: String = row.try_get("task_type")?;
    let role: String = row.try_get("role")?;
    Ok(OpenTask {
        reference: CaseRef::parse(&row.try_get::<String, _>("reference")?)
            .map_err(|e| corrupt("open_tasks.reference", e.to_string()))?,
        task_id: u32::try_from(row.try_get::<i64, _>("task_id")?)
            .map_err(|_| corrupt("open_tasks.task_id", "out of range"))?,
        task_type: TaskType::ALL
            .into_iter()
            .find(|t| t.as_str() == task_type)
            .ok_or_else(|| corrupt("open_tasks.task_type", task_type.clone()))?,
        role: homeward_workflows::actors::Role::parse(&role)
            .ok_or_else(|| corrupt("open_tasks.role", role.clone()))?,
        host_country: row.try_get("host_country")?,
        origin_country: row.try_get("origin_country")?,
        programme: row.try_get("programme")?,
        subject: row
            .try_get::<Option<i64>, _>("subject")?
            .map(|s| u32::try_from(s).unwrap_or(u32::MAX)),
        opened_at: parse_ts(
            "open_tasks.opened_at",
            &row.try_get::<String, _>("opened_at")?,
        )?,
        due_at: parse_due(&row.try_get::<String, _>("due_at")?)?,
        requested_by: row.try_get("requested_by")?,
        assignee: row.try_get("assignee")?,
        claimed_at: opt_ts("claimed_at")?,
        escalated_at: opt_ts("escalated_at")?,
    })
}

const COLUMNS: &str = "reference, task_id, task_type, role, host_country, origin_country, \
                       programme, subject, opened_at, due_at, requested_by, assignee, \
                       claimed_at, escalated_at";

impl CaseStore {
    /// Replaces a case's open tasks with `p`'s, unless the store holds a newer revision;
    /// whether it did. Revision 0 (a run recorded before cases numbered their writes, written
    /// by the API or `homeward reindex`) always replaces. A task still open keeps when it was
    /// escalated.
    pub async fn project_tasks(&self, p: &TaskProjection) -> Result<bool, StoreError> {
        let revision = i64::try_from(p.revision).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        // Claim the revision first: of two concurrent writers, the older one changes nothing.
        let claimed = sqlx::query(
            "INSERT INTO task_revisions (reference, revision) VALUES ($1, $2) \
             ON CONFLICT (reference) DO UPDATE SET revision = excluded.revision \
             WHERE task_revisions.revision < excluded.revision OR excluded.revision = 0",
        )
        .bind(p.reference.as_str())
        .bind(revision)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let keep: Vec<String> = p.tasks.iter().map(|t| t.task_id.to_string()).collect();
        let stale = if keep.is_empty() {
            "DELETE FROM open_tasks WHERE reference = $1".to_owned()
        } else {
            // Task ids are numbers: safe to inline.
            format!(
                "DELETE FROM open_tasks WHERE reference = $1 AND task_id NOT IN ({})",
                keep.join(", ")
            )
        };
        sqlx::query(&stale)
            .bind(p.reference.as_str())
            .execute(&mut *tx)
            .await?;
        for t in &p.tasks {
            sqlx::query(
                "INSERT INTO open_tasks (reference, task_id, task_type, role, host_country, \
                 origin_country, programme, subject, opened_at, due_at, requested_by, assignee, \
                 claimed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (reference, task_id) DO UPDATE SET task_type = excluded.task_type, \
                 role = excluded.role, subject = excluded.subject, due_at = excluded.due_at, \
                 requested_by = excluded.requested_by, assignee = excluded.assignee, \
                 claimed_at = excluded.claimed_at",
            )
            .bind(p.reference.as_str())
            .bind(i64::from(t.task_id))
            .bind(t.task_type.as_str())
            .bind(t.role.as_str())
            .bind(&p.host_country)
            .bind(&p.origin_country)
            .bind(&p.programme)
            .bind(t.subject.map(i64::from))
            .bind(format_ts(t.opened_at))
            .bind(due_text(t.due_at))
            .bind(t.requested_by.as_deref())
            .bind(t.assignee.as_deref())
            .bind(t.claimed_at.map(format_ts))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// An inbox page: one indexed query, earliest due first, then by case and task.
    pub async fn inbox(&self, q: &InboxQuery) -> Result<Vec<OpenTask>, StoreError> {
        enum Bind {
            Text(String),
            Number(i64),
        }
        let mut sql = format!("SELECT {COLUMNS} FROM open_tasks WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        let mut bind = |sql: &mut String, clause: &str, value: String| {
            binds.push(Bind::Text(value));
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(office) = &q.office {
            bind(&mut sql, " AND host_country = ?", office.clone());
        }
        if let Some(role) = q.role {
            bind(&mut sql, " AND role = ?", role.as_str().to_owned());
        }
        if let Some(country) = &q.origin_country {
            bind(&mut sql, " AND origin_country = ?", country.clone());
        }
        if let Some(t) = q.task_type {
            bind(&mut sql, " AND task_type = ?", t.as_str().to_owned());
        }
        match &q.holder {
            Holder::MineAndPool => bind(
                &mut sql,
                " AND (assignee IS NULL OR assignee = ?)",
                q.user.clone(),
            ),
            Holder::Mine => bind(&mut sql, " AND assignee = ?", q.user.clone()),
            Holder::Pool => sql.push_str(" AND assignee IS NULL"),
            Holder::User(u) => bind(&mut sql, " AND assignee = ?", u.clone()),
            Holder::Anyone => {}
        }
        if let Some(before) = q.due_before {
            bind(&mut sql, " AND due_at < ?", format_ts(before));
        }
        if let Some((due, reference, task)) = &q.after {
            let due = due_text(*due);
            bind(&mut sql, " AND (due_at > ?", due.clone());
            bind(&mut sql, " OR (due_at = ?", due);
            bind(
                &mut sql,
                " AND (reference > ?",
                reference.as_str().to_owned(),
            );
            bind(
                &mut sql,
                " OR (reference = ?",
                reference.as_str().to_owned(),
            );
            binds.push(Bind::Number(i64::from(*task)));
            sql.push_str(&format!(" AND task_id > ${}))))", binds.len()));
        }
        sql.push_str(&format!(
            " ORDER BY due_at, reference, task_id LIMIT {}",
            q.limit.clamp(1, 1000)
        ));
        let mut query = sqlx::query(&sql);
        for b in binds {
            query = match b {
                Bind::Text(t) => query.bind(t),
                Bind::Number(n) => query.bind(n),
            };
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(read_task)
            .collect()
    }

    /// Open, overdue and held tasks per person and type, in an office (`None`: all offices).
    pub async fn workload(
        &self,
        office: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<WorkloadRow>, StoreError> {
        let sql = format!(
            "SELECT assignee, task_type, COUNT(*) AS open, \
             SUM(CASE WHEN due_at < $1 THEN 1 ELSE 0 END) AS overdue FROM open_tasks {} \
             GROUP BY assignee, task_type ORDER BY assignee, task_type",
            if office.is_some() {
                "WHERE host_country = $2 AND role <> 'partner'"
            } else {
                ""
            }
        );
        let mut query = sqlx::query(&sql).bind(format_ts(now));
        if let Some(o) = office {
            query = query.bind(o.to_owned());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let task_type: String = row.try_get("task_type")?;
                Ok(WorkloadRow {
                    assignee: row.try_get("assignee")?,
                    task_type: TaskType::ALL
                        .into_iter()
                        .find(|t| t.as_str() == task_type)
                        .ok_or_else(|| corrupt("open_tasks.task_type", task_type.clone()))?,
                    open: u64::try_from(row.try_get::<i64, _>("open")?).unwrap_or(0),
                    overdue: u64::try_from(row.try_get::<i64, _>("overdue")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Tasks due before `before` that no supervisor has been told about yet, earliest first.
    pub async fn unescalated_overdue(
        &self,
        programme: &str,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OpenTask>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM open_tasks WHERE escalated_at IS NULL AND due_at < $1 \
             AND programme = $2 ORDER BY due_at, reference, task_id LIMIT {limit}"
        ))
        .bind(format_ts(before))
        .bind(programme)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_task).collect()
    }

    /// Records that a task's lateness was reported (once: a second call changes nothing).
    pub async fn mark_escalated(
        &self,
        reference: &CaseRef,
        task_id: u32,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE open_tasks SET escalated_at = $1 WHERE reference = $2 AND task_id = $3 \
             AND escalated_at IS NULL",
        )
        .bind(format_ts(at))
        .bind(reference.as_str())
        .bind(i64::from(task_id))
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Every open task, by case and number (for `homeward reindex` and its test).
    pub async fn all_open_tasks(&self) -> Result<Vec<OpenTask>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM open_tasks ORDER BY reference, task_id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_task).collect()
    }

    /// One case's open tasks, by number (its primary key's prefix: one indexed read).
    pub async fn open_tasks_of(&self, reference: &CaseRef) -> Result<Vec<OpenTask>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM open_tasks WHERE reference = $1 ORDER BY task_id"
        ))
        .bind(reference.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_task).collect()
    }

    /// The revision of a case's rows (`None`: never written).
    pub async fn task_revision(&self, reference: &CaseRef) -> Result<Option<u64>, StoreError> {
        Ok(
            sqlx::query("SELECT revision FROM task_revisions WHERE reference = $1")
                .bind(reference.as_str())
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get::<i64, _>("revision"))
                .transpose()?
                .map(|r| u64::try_from(r).unwrap_or(0)),
        )
    }

    /// The cases that have open-task rows.
    pub async fn cases_with_tasks(&self) -> Result<Vec<CaseRef>, StoreError> {
        sqlx::query("SELECT DISTINCT reference FROM open_tasks ORDER BY reference")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                CaseRef::parse(&r.try_get::<String, _>("reference")?)
                    .map_err(|e| corrupt("open_tasks.reference", e.to_string()))
            })
            .collect()
    }

    /// Drops a closed case's open-task rows; how many.
    pub async fn drop_tasks_of(&self, reference: &CaseRef) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM open_tasks WHERE reference = $1")
            .bind(reference.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
