//! `homeward bench --inbox-rows 100000,1000000`: the open-task projection on its own, on SQLite
//! and (with `--inbox-postgres`) PostgreSQL. Fills `open_tasks` with synthetic rows shaped like
//! a large programme (20 offices, four roles, a tenth of the tasks held by one of 40 people per
//! office, due dates over four months) through the store code the cases use, then times the
//! store's queries the inbox and the
//! workload view make. No Temporal: the inbox reads nothing else.

use std::time::Instant;

use chrono::{Duration, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;

use homeward_activities::CaseStore;
use homeward_activities::work::{Holder, InboxQuery, OpenTask};
use homeward_workflows::domain::CaseRef;
use homeward_workflows::tasks::{Role, TaskType};
use homeward_workflows::work::{OpenTaskRow, TaskProjection};

use super::measure::Percentiles;

/// Offices (host countries) the rows are spread over; the queries read the first.
const OFFICES: [&str; 20] = [
    "NLD", "GBR", "DEU", "BEL", "FRA", "AUT", "CHE", "SWE", "NOR", "DNK", "FIN", "IRL", "ESP",
    "ITA", "PRT", "GRC", "POL", "CZE", "HUN", "LUX",
];

/// Timed runs of each query.
const RUNS: usize = 200;

/// One query's latency at one size on one backend.
#[derive(Debug, Serialize)]
pub struct InboxReading {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Rows in `open_tasks`.
    pub rows: usize,
    /// Which query.
    pub query: &'static str,
    /// Rows it returned (the last run).
    pub returned: usize,
    /// Its latency.
    pub latency: Percentiles,
}

/// The report: every reading, and whether the goal held (the pool's first page p99 ≤ 50 ms at
/// 100,000 rows on every backend measured).
#[derive(Debug, Serialize)]
pub struct InboxReport {
    /// Every reading.
    pub readings: Vec<InboxReading>,
    /// The goal.
    pub goal: &'static str,
    /// Whether it held.
    pub goal_met: bool,
}

/// Runs the projection benchmark on a fresh SQLite file and, given its URL, a fresh PostgreSQL
/// database (created and dropped here).
pub async fn run(rows: &[usize], postgres: Option<&str>) -> anyhow::Result<InboxReport> {
    let mut readings = vec![];
    for &n in rows {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
        let store = CaseStore::connect(&url, 4).await?;
        store.migrate().await?;
        readings.extend(measure("sqlite", &store, n).await?);
        store.close().await;
        if let Some(admin_url) = postgres {
            let admin = CaseStore::connect(admin_url, 1).await?;
            let db = format!("hw_inbox_bench_{n}");
            admin
                .execute_raw(&format!("DROP DATABASE IF EXISTS {db}"))
                .await?;
            admin.execute_raw(&format!("CREATE DATABASE {db}")).await?;
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .ok_or_else(|| anyhow::anyhow!("--inbox-postgres: the URL names no database"))?;
            let store = CaseStore::connect(&format!("{base}/{db}"), 4).await?;
            store.migrate().await?;
            readings.extend(measure("postgres", &store, n).await?);
            store.close().await;
            admin.execute_raw(&format!("DROP DATABASE {db}")).await?;
            admin.close().await;
        }
    }
    let goal_met = readings
        .iter()
        .filter(|r| r.rows == 100_000 && r.query == "pool, first page")
        .all(|r| r.latency.p99_ms <= 50.0);
    Ok(InboxReport {
        readings,
        goal: "the pool's first page p99 <= 50 ms at 100,000 open tasks",
        goal_met,
    })
}

/// Fills `store` with `n` rows and times each query.
async fn measure(backend: &str, store: &CaseStore, n: usize) -> anyhow::Result<Vec<InboxReading>> {
    eprintln!("{backend}: filling open_tasks with {n} rows …");
    fill(store, n).await?;
    store.execute_raw("ANALYZE").await?;
    let now = Utc::now();
    let officer = |holder, after| InboxQuery {
        user: "u-NLD-1".into(),
        role: Some(Role::ReturnOfficer),
        office: Some("NLD".into()),
        origin_country: None,
        holder,
        task_type: None,
        due_before: None,
        after,
        limit: 50,
    };
    // The 20th page's start, found by paging as a user would.
    let mut after = None;
    for _ in 0..20 {
        let page = store.inbox(&officer(Holder::MineAndPool, after)).await?;
        after = page.last().map(key);
    }
    let queries: Vec<(&'static str, InboxQuery)> = vec![
        ("pool, first page", officer(Holder::Pool, None)),
        (
            "mine and pool, first page",
            officer(Holder::MineAndPool, None),
        ),
        (
            "mine and pool, 21st page",
            officer(Holder::MineAndPool, after),
        ),
        ("mine", officer(Holder::Mine, None)),
        (
            "one type, overdue",
            InboxQuery {
                task_type: Some(TaskType::CounsellingSession),
                due_before: Some(now),
                ..officer(Holder::MineAndPool, None)
            },
        ),
        (
            "a supervisor's view of the office",
            InboxQuery {
                role: None,
                ..officer(Holder::Anyone, None)
            },
        ),
    ];
    let mut readings = vec![];
    for (name, query) in queries {
        let mut ms = Vec::with_capacity(RUNS);
        let mut returned = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            returned = store.inbox(&query).await?.len();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        readings.push(InboxReading {
            backend: backend.into(),
            rows: n,
            query: name,
            returned,
            latency: Percentiles::of(&ms),
        });
    }
    let mut ms = vec![];
    let mut returned = 0;
    for _ in 0..20 {
        let t = Instant::now();
        returned = store.workload(Some("NLD"), now).await?.len();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    readings.push(InboxReading {
        backend: backend.into(),
        rows: n,
        query: "workload of the office",
        returned,
        latency: Percentiles::of(&ms),
    });
    Ok(readings)
}

fn key(t: &OpenTask) -> (Option<chrono::DateTime<Utc>>, CaseRef, u32) {
    (t.due_at, t.reference.clone(), t.task_id)
}

/// Writes `n` synthetic rows (two tasks per case) through the store code the cases use
/// (`project_tasks`, one transaction per case), eight cases at a time.
async fn fill(store: &CaseStore, n: usize) -> anyhow::Result<()> {
    use futures_util::{StreamExt, TryStreamExt, stream};
    let mut rng = StdRng::seed_from_u64(7);
    let now = Utc::now();
    let types = [
        (TaskType::CounsellingSession, 5),
        (TaskType::Consent, 3),
        (TaskType::EligibilityApproval, 2),
        (TaskType::TrancheApproval, 2),
        (TaskType::ArrivalConfirmation, 1),
    ];
    let total: u32 = types.iter().map(|(_, w)| w).sum();
    let cases = n.div_ceil(2);
    let projections: Vec<TaskProjection> = (0..cases)
        .map(|c| {
            let office = OFFICES[rng.gen_range(0..OFFICES.len())];
            let tasks = (1..=2u32)
                .take(n - 2 * c)
                .map(|task_id| {
                    let mut pick = rng.gen_range(0..total);
                    let task_type = types
                        .iter()
                        .find(|(_, w)| {
                            let hit = pick < *w;
                            pick = pick.saturating_sub(*w);
                            hit
                        })
                        .map_or(TaskType::CounsellingSession, |(t, _)| *t);
                    let held = rng.gen_ratio(1, 10);
                    OpenTaskRow {
                        task_id,
                        task_type,
                        role: task_type.role(),
                        subject: None,
                        opened_at: now - Duration::days(rng.gen_range(0..90)),
                        due_at: Some(now + Duration::hours(rng.gen_range(-24 * 60..24 * 60))),
                        requested_by: None,
                        assignee: held.then(|| format!("u-{office}-{}", rng.gen_range(1..=40))),
                        claimed_at: held.then_some(now),
                    }
                })
                .collect();
            TaskProjection {
                reference: CaseRef::from_entropy(c as u64 + 1),
                revision: 1,
                host_country: office.into(),
                origin_country: "IRQ".into(),
                programme: "nl-avrr".into(),
                tasks,
            }
        })
        .collect();
    stream::iter(projections.iter())
        .map(|p| store.project_tasks(p))
        .buffer_unordered(8)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    Ok(())
}

/// The readings as a table.
pub fn summary(report: &InboxReport) -> String {
    let mut out =
        String::from("backend   rows       query                              p50 ms  p99 ms\n");
    for r in &report.readings {
        out.push_str(&format!(
            "{:<9} {:<10} {:<34} {:>6.1} {:>7.1}\n",
            r.backend, r.rows, r.query, r.latency.p50_ms, r.latency.p99_ms
        ));
    }
    out.push_str(&format!(
        "goal ({}): {}\n",
        report.goal,
        if report.goal_met { "met" } else { "NOT met" }
    ));
    out
}
