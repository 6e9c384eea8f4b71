//! `homeward bench`: drives the real stack (Temporal dev server, worker, API, partner sandbox,
//! each its own process) as its users would, on the compressed `bench` programme, and reports
//! throughput against a twin workflow, approval latency against the raw Update round trip,
//! worker cost, memory per parked case, history size and inbox latency. `--chaos` kills the
//! worker at random and restarts the server once, then proves nothing was lost or paid twice.

pub mod driver;
pub mod inbox;
mod measure;
pub mod stack;
mod web;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::Value;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::IntoRequest;
use temporalio_client::{
    Client, NamespacedClient, WorkflowCountOptions, WorkflowExecuteUpdateOptions,
    WorkflowGetResultOptions, WorkflowListOptions, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::workflowservice::v1::GetWorkflowExecutionHistoryRequest;
use tokio::sync::Semaphore;

use homeward_devkit::sandbox::LedgerView;
use homeward_devkit::twin::{Twin, TwinShape};
use homeward_workflows::activities::PaymentState;
use homeward_workflows::domain::CountryCode;
use homeward_workflows::tasks::Role;

use crate::settings::Settings;
use driver::{Pair, Tally};
use measure::{Percentiles, round};
use stack::Stack;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Cases to carry from intake to closure.
    pub cases: usize,
    /// Parked-case counts at which to read the worker's memory (e.g. 1000 and 10000).
    pub parked: Vec<usize>,
    /// Kill the worker at random and restart the server once.
    pub chaos: bool,
    /// Where to write the JSON report.
    pub out: PathBuf,
    /// Requests in flight at once, per kind.
    pub parallel: usize,
    /// The worker's workflow cache size.
    pub cache: usize,
    /// Give up waiting for cases to close after this long.
    pub timeout: Duration,
    /// Write the history of the first case opened (every run) here, for the replay corpus.
    pub record_history: Option<PathBuf>,
    /// Also run the cases unprotected (see [`ProtectionReport`]).
    pub compare_protection: bool,
    /// Cases carry person records (in the vault, shared with partners by consent) and the
    /// stack encrypts Temporal payloads; `false` for the comparison run only.
    pub protected: bool,
}

/// The JSON report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The command's options, and the machine.
    pub setup: Value,
    /// Cases: throughput and cost.
    pub cases: PhaseReport,
    /// The twin, run on the same worker and server.
    pub twin: PhaseReport,
    /// Case throughput over twin throughput.
    pub case_twin_ratio: f64,
    /// HTTP task completion (HTTP in, Update accepted, response).
    pub approval_latency: Percentiles,
    /// The raw Temporal Update round trip (the twin's updates).
    pub raw_update_latency: Percentiles,
    /// History per closed case.
    pub history: HistoryReport,
    /// Worker memory with cases parked on a human task.
    pub parked: Vec<ParkedReport>,
    /// Correctness after the run (chaos or not).
    pub checks: Checks,
    /// What the person vault and the payload codec cost (with `--compare-protection`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protection: Option<ProtectionReport>,
    /// Each goal, met or not, and why.
    pub goals: Vec<Goal>,
}

/// The same cases, run on two fresh stacks of the same build one after the other: without
/// protection (no person records, plain payloads), then with it (a record per member,
/// consent to share with every partner, so every booking, hand-over and payment reads the
/// vault; encrypted payloads).
#[derive(Debug, Serialize)]
pub struct ProtectionReport {
    /// Cases per second without protection.
    pub plain_per_second: f64,
    /// Cases per second with it.
    pub protected_per_second: f64,
    /// 1 - protected / plain, in percent (negative: protected was faster, i.e. noise).
    pub throughput_cost_percent: f64,
    /// Approval latency via the API without protection.
    pub plain_approval: Percentiles,
    /// Approval latency via the API with it.
    pub protected_approval: Percentiles,
    /// Worker CPU seconds per case without protection.
    pub plain_worker_cpu_per_case: f64,
    /// Worker CPU seconds per case with it.
    pub protected_worker_cpu_per_case: f64,
}

/// Throughput and cost of one phase.
#[derive(Debug, Default, Serialize)]
pub struct PhaseReport {
    /// Workflows run to completion.
    pub completed: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Completed per second.
    pub per_second: f64,
    /// History events written per second (Temporal's state transitions, near enough).
    pub events_per_second: f64,
    /// Worker CPU seconds per workflow.
    pub worker_cpu_per_workflow: f64,
    /// Worker CPU over server CPU during the phase.
    pub worker_to_server_cpu: f64,
    /// Worker CPU seconds in the phase.
    pub worker_cpu: f64,
    /// Server CPU seconds in the phase.
    pub server_cpu: f64,
}

/// History per closed case (every run of it).
#[derive(Debug, Default, Serialize)]
pub struct HistoryReport {
    /// Median events.
    pub events_median: f64,
    /// Most events.
    pub events_max: f64,
    /// Median bytes.
    pub bytes_median: f64,
    /// Most bytes.
    pub bytes_max: f64,
    /// The twin's shape, counted from one case's history.
    pub shape: Option<TwinShape>,
}

/// Worker memory at one parked count.
#[derive(Debug, Serialize)]
pub struct ParkedReport {
    /// Cases waiting on a human task.
    pub parked: usize,
    /// Worker RSS then (bytes).
    pub worker_rss: u64,
    /// RSS added per case since the previous reading (bytes).
    pub rss_per_case: f64,
    /// Inbox query latency with this many open cases.
    pub inbox_latency: Percentiles,
    /// The web pages' latency (server time as a browser on this machine waits for it): the
    /// inbox, the case list, a case page, signed in as an officer.
    pub web_inbox: Percentiles,
    /// The case list page.
    pub web_cases: Percentiles,
    /// A case page.
    pub web_case: Percentiles,
}

/// What must hold after every run.
#[derive(Debug, Default, Serialize)]
pub struct Checks {
    /// Cases that closed, of those opened.
    pub closed: usize,
    /// Cases opened.
    pub opened: usize,
    /// Cases with more than one live order in the sandbox ledger.
    pub duplicate_orders: usize,
    /// Payments beyond one per case and tranche.
    pub duplicate_payments: usize,
    /// Payments in the ledger the cases do not know about, or the other way round.
    pub payment_mismatches: usize,
    /// Payments the provider still holds as pending at the end (every case closed: must be 0).
    pub pending_payments: usize,
    /// Settlements the sandbox announced by webhook (the rest the cases learnt by polling).
    pub webhooks_sent: u64,
    /// People the partners received by name (bookings, hand-overs, payments): read from the
    /// vault at call time in a protected run, none in a plain one.
    pub people_shared: usize,
    /// Completions the API accepted that the case does not record.
    pub lost_completions: usize,
    /// Completions refused as no longer open (stale inbox entries), for information.
    pub stale_completions: u32,
    /// Tasks the simulated staff claimed before completing them.
    pub claimed: u32,
    /// Refusals other than that.
    pub refused: Vec<String>,
    /// Where the cases that did not close stand: stage and open tasks (at most 20).
    pub unclosed: Vec<String>,
    /// Worker kills and server restarts done.
    pub worker_kills: u32,
    /// Server restarts done.
    pub server_restarts: u32,
}

/// One goal of docs/BENCHMARKS.md.
#[derive(Debug, Serialize)]
pub struct Goal {
    /// What is measured.
    pub measure: &'static str,
    /// The goal.
    pub goal: String,
    /// What this run measured.
    pub measured: String,
    /// Whether it was met.
    pub met: bool,
}

type Shared<T> = Arc<tokio::sync::Mutex<T>>;

/// Runs the benchmark, writes the report and prints a summary.
pub async fn run(settings: &Settings, config_dir: &Path, opts: Options) -> anyhow::Result<Report> {
    let dir = std::env::temp_dir().join(format!(
        "homeward-bench-{}-{}",
        std::process::id(),
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    ));
    let plain = if opts.compare_protection {
        let plain_opts = Options {
            protected: false,
            parked: vec![],
            record_history: None,
            out: opts.out.with_extension("plain.json"),
            ..opts.clone()
        };
        eprintln!("unprotected run first (no person records, plain payloads) …");
        Some(run_in(settings, config_dir, &plain_opts, dir.join("plain")).await?)
    } else {
        None
    };
    let mut report = run_in(settings, config_dir, &opts, dir.join("protected")).await?;
    if let Some(plain) = plain {
        let cost = if plain.cases.per_second > 0.0 {
            round(100.0 * (1.0 - report.cases.per_second / plain.cases.per_second))
        } else {
            0.0
        };
        report.goals.push(Goal {
            measure: "protection throughput cost",
            goal: "at most 5 %".into(),
            measured: format!(
                "{cost} % ({} vs {} cases/s)",
                report.cases.per_second, plain.cases.per_second
            ),
            met: cost <= 5.0,
        });
        report.protection = Some(ProtectionReport {
            plain_per_second: plain.cases.per_second,
            protected_per_second: report.cases.per_second,
            throughput_cost_percent: cost,
            plain_approval: plain.approval_latency,
            protected_approval: report.approval_latency.clone(),
            plain_worker_cpu_per_case: plain.cases.worker_cpu_per_workflow,
            protected_worker_cpu_per_case: report.cases.worker_cpu_per_workflow,
        });
        std::fs::write(&opts.out, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", opts.out.display()))?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(report)
}

/// One run on a fresh stack in `dir` (kept, with its logs, if the run fails).
async fn run_in(
    settings: &Settings,
    config_dir: &Path,
    opts: &Options,
    dir: PathBuf,
) -> anyhow::Result<Report> {
    eprintln!("starting the stack in {} …", dir.display());
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let stack = Stack::start_with(
        settings,
        config_dir,
        dir.clone(),
        opts.cache,
        exe,
        &[],
        !opts.protected,
    )
    .await?;
    let result = run_on(settings, opts, stack).await;
    if result.is_err() {
        eprintln!("logs kept in {}", dir.display());
    }
    result
}

async fn run_on(settings: &Settings, opts: &Options, stack: Stack) -> anyhow::Result<Report> {
    let temporal = homeward_worker::connect(&homeward_worker::TemporalConnection {
        address: stack.temporal_url.parse().context("temporal URL")?,
        namespace: settings.temporal.namespace.clone(),
        api_key: None,
        connect_timeout: Duration::from_secs(30),
        identity: "homeward-bench".into(),
        codec: opts.protected.then(|| stack.payload_keys.clone()),
    })
    .await?;
    let store = homeward_activities::CaseStore::connect(&stack.database_url, 2).await?;
    let mut pairs = BTreeMap::new();
    let nld = CountryCode::parse("NLD")?;
    let irq = CountryCode::parse("IRQ")?;
    for (role, name, country) in [
        (Role::ReturnOfficer, "return_officer", None),
        (Role::Operations, "operations", None),
        (Role::Finance, "finance", None),
        (Role::Partner, "partner", Some(&irq)),
        (Role::ChildProtection, "child_protection", None),
    ] {
        let mut users = vec![];
        for n in 0..2 {
            let display = format!("bench {name} {n}");
            let new = homeward_activities::users::NewUser {
                name: &display,
                role,
                office: Some(&nld),
                country,
                supervisor: false,
            };
            let (user, key) = store.create_user(&new, None, chrono::Utc::now()).await?;
            users.push((user.id, client_with_key(&key)?));
        }
        let [a, b]: [(String, reqwest::Client); 2] =
            users.try_into().map_err(|_| anyhow::anyhow!("two users"))?;
        // Finance register the office's supplier of in-kind support.
        let supplier = if role == Role::Finance {
            let made: serde_json::Value =
                a.1.post(format!("{}/api/v1/suppliers", stack.api_url))
                    .json(&serde_json::json!({"name": "Bench Supplies Ltd",
                                          "iban": "GB82WEST12345698765432"}))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
            made["id"].as_str().map(str::to_owned)
        } else {
            None
        };
        pairs.insert(
            name,
            Pair {
                users: [a, b],
                supplier,
            },
        );
    }
    let officer = pairs["return_officer"].users[0].1.clone();
    let api = stack.api_url.clone();
    // The officer also signs in to the web pages (timed with the parked cases).
    let web_password = format!("bench-{:016x}", rand::random::<u64>());
    store
        .set_credentials(
            &pairs["return_officer"].users[0].0,
            "bench-officer",
            &web_password,
        )
        .await?;
    let stack: Shared<Stack> = Arc::new(tokio::sync::Mutex::new(stack));

    // --- Cases, from intake to closure, with every task completed through the API. ---
    let (cpu_w0, cpu_s0) = cpu(&stack).await;
    let started = Instant::now();
    let refs =
        driver::open_cases(&api, &officer, opts.cases, 0, opts.parallel, opts.protected).await?;
    let done = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let in_flight = Arc::new(Mutex::new(HashSet::new()));
    let gate = Arc::new(Semaphore::new(opts.parallel));
    let mut loops = vec![];
    for pair in pairs.values() {
        let (pair, api, done, tally, in_flight, gate) = (
            pair.clone(),
            api.clone(),
            done.clone(),
            tally.clone(),
            in_flight.clone(),
            gate.clone(),
        );
        loops.push(tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if driver::work_inbox(&api, &pair, &in_flight, &tally, &gate).await == 0 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }));
    }
    let chaos = opts
        .chaos
        .then(|| tokio::spawn(chaos_monkey(stack.clone(), done.clone())));
    let closed = wait_closed(&temporal, opts.cases, opts.timeout, &tally).await;
    let case_seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    for l in loops {
        let _ = l.await;
    }
    let (worker_kills, server_restarts) = match chaos {
        Some(c) => c.await.unwrap_or((0, 0)),
        None => (0, 0),
    };
    // A worker killed at the very end must be back for what follows.
    {
        let mut s = stack.lock().await;
        if s.worker_pid().is_none() {
            s.start_worker().await?;
        }
    }
    let (cpu_w1, cpu_s1) = cpu(&stack).await;
    let history = history(&temporal, "ReturnCase").await?;
    let events: f64 = history.iter().map(|h| h.0).sum();
    let cases = phase(
        closed,
        case_seconds,
        events,
        cpu_w1 - cpu_w0,
        cpu_s1 - cpu_s0,
    );
    eprintln!(
        "\ncases: {closed}/{} closed in {case_seconds:.1} s",
        opts.cases
    );
    if let (Some(path), Some(first)) = (&opts.record_history, refs.first()) {
        let id = homeward_workflows::ids::return_case_workflow_id(
            &homeward_workflows::domain::CaseRef::parse(first)?,
        );
        let runs = crate::histories::fetch_runs(&temporal, &id).await?;
        crate::histories::Scenario::new("bench", runs).write(path)?;
        eprintln!("history of {first} written to {}", path.display());
    }

    // --- Correctness: every case closed, nothing paid twice, no completion lost. ---
    let tally = match Arc::try_unwrap(tally) {
        Ok(m) => m.into_inner().unwrap_or_default(),
        Err(_) => bail!("driver tasks still running"),
    };
    let checks = check(
        &api,
        &officer,
        &stack.lock().await.sandbox_url.clone(),
        &refs,
        &tally,
        closed,
        worker_kills,
        server_restarts,
    )
    .await?;

    // --- The twin: the same engine work, no domain logic. ---
    let shape = match refs.first() {
        Some(r) => Some(shape_of(&temporal, r).await?),
        None => None,
    };
    let (twin, raw_update) = match shape {
        Some(shape) => run_twins(&temporal, &stack, shape, opts.cases, opts.parallel).await?,
        None => (PhaseReport::default(), vec![]),
    };

    // --- Parked cases: memory per case waiting on a human, and the inbox with them. ---
    let mut parked = vec![];
    let mut opened = 0;
    let (mut last_rss, mut last_count) = (stack.lock().await.worker_rss(), 0usize);
    for &target in &opts.parked {
        let add = target.saturating_sub(opened);
        eprintln!("parking {add} more cases (to {target}) …");
        driver::open_cases(
            &api,
            &officer,
            add,
            1_000_000 + opened,
            opts.parallel,
            opts.protected,
        )
        .await?;
        opened += add;
        wait_parked(&temporal, opened).await?;
        // Let the worker settle (cache fills, allocator returns) before reading.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss = stack.lock().await.worker_rss();
        let per_case = (rss as f64 - last_rss as f64) / (opened - last_count).max(1) as f64;
        let mut inbox_ms = vec![];
        for _ in 0..40 {
            let t = Instant::now();
            let resp = officer
                .get(format!("{api}/api/v1/inbox?limit=50"))
                .send()
                .await?;
            resp.error_for_status()?.bytes().await?;
            inbox_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let web = web::signed_in(&api, "bench-officer", &web_password).await?;
        let reference = web::a_parked_case(&officer, &api).await?;
        let web_inbox = web.time(&format!("{api}/inbox"), 40).await?;
        let web_cases = web.time(&format!("{api}/cases"), 40).await?;
        let web_case = web.time(&format!("{api}/cases/{reference}"), 40).await?;
        parked.push(ParkedReport {
            parked: opened,
            worker_rss: rss,
            rss_per_case: round(per_case),
            inbox_latency: Percentiles::of(&inbox_ms),
            web_inbox,
            web_cases,
            web_case,
        });
        (last_rss, last_count) = (rss, opened);
    }

    let worker_peak = {
        let mut s = stack.lock().await;
        s.worker_rss();
        s.worker_peak_rss
    };
    let approval_latency = Percentiles::of(&tally.approval_ms);
    let raw_update_latency = Percentiles::of(&raw_update);
    let case_twin_ratio = if twin.per_second > 0.0 {
        round(cases.per_second / twin.per_second)
    } else {
        0.0
    };
    let history_report = HistoryReport {
        events_median: measure::median(&history.iter().map(|h| h.0).collect::<Vec<_>>()),
        events_max: history.iter().map(|h| h.0).fold(0.0, f64::max),
        bytes_median: measure::median(&history.iter().map(|h| h.1).collect::<Vec<_>>()),
        bytes_max: history.iter().map(|h| h.1).fold(0.0, f64::max),
        shape,
    };
    let goals = goals(
        case_twin_ratio,
        &approval_latency,
        &raw_update_latency,
        &cases,
        &parked,
        &history_report,
    );
    let report = Report {
        setup: serde_json::json!({
            "cases": opts.cases,
            "parked": opts.parked,
            "chaos": opts.chaos,
            "protected": opts.protected,
            "parallel": opts.parallel,
            "worker": {
                "max_cached_workflows": opts.cache,
                "peak_rss_bytes": worker_peak,
            },
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "programme": "config/bench/bench.toml",
        }),
        cases,
        twin,
        case_twin_ratio,
        approval_latency,
        raw_update_latency,
        history: history_report,
        parked,
        checks,
        protection: None,
        goals,
    };
    std::fs::write(&opts.out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", opts.out.display()))?;
    let stack = Arc::try_unwrap(stack)
        .map_err(|_| anyhow::anyhow!("stack still shared"))?
        .into_inner();
    stack.stop().await;
    Ok(report)
}

fn client_with_key(key: &str) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse()?,
    );
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .build()?)
}

async fn cpu(stack: &Shared<Stack>) -> (f64, f64) {
    let s = stack.lock().await;
    (s.worker_cpu(), s.server_cpu())
}

fn phase(completed: usize, seconds: f64, events: f64, worker: f64, server: f64) -> PhaseReport {
    PhaseReport {
        completed,
        seconds: round(seconds),
        per_second: round(completed as f64 / seconds.max(1e-9)),
        events_per_second: round(events / seconds.max(1e-9)),
        worker_cpu_per_workflow: (worker / completed.max(1) as f64 * 1000.0).round() / 1000.0,
        worker_to_server_cpu: round(worker / server.max(1e-9)),
        worker_cpu: round(worker),
        server_cpu: round(server),
    }
}

async fn count(temporal: &Client, query: &str) -> usize {
    temporal
        .count_workflows(query, WorkflowCountOptions::default())
        .await
        .map(|c| c.count())
        .unwrap_or(0)
}

/// Waits until `n` cases completed (or the timeout), drawing a progress bar.
async fn wait_closed(
    temporal: &Client,
    n: usize,
    timeout: Duration,
    tally: &Arc<Mutex<Tally>>,
) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let closed = count(
            temporal,
            "WorkflowType = 'ReturnCase' AND ExecutionStatus = 'Completed'",
        )
        .await;
        let tasks = tally.lock().map(|t| t.approval_ms.len()).unwrap_or(0);
        let width = 30;
        let filled = (closed * width).checked_div(n).unwrap_or(width);
        eprint!(
            "\r[{}{}] {closed}/{n} cases closed, {tasks} tasks completed   ",
            "#".repeat(filled.min(width)),
            " ".repeat(width - filled.min(width))
        );
        if closed >= n || Instant::now() > deadline {
            return closed;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until `n` cases wait on their counselling session.
async fn wait_parked(temporal: &Client, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let parked = count(
            temporal,
            &format!(
                "WorkflowType = 'ReturnCase' AND ExecutionStatus = 'Running' AND {} = {} \
                 AND {} = 'return_officer'",
                homeward_workflows::visibility::STAGE,
                "'counselling'",
                homeward_workflows::visibility::WAITING_ON
            ),
        )
        .await;
        eprint!("\r{parked}/{n} cases parked   ");
        if parked >= n {
            eprintln!();
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {parked} of {n} cases parked within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Kills the worker at random moments and restarts it; restarts the server once.
async fn chaos_monkey(stack: Shared<Stack>, done: Arc<AtomicBool>) -> (u32, u32) {
    let (mut kills, mut restarts) = (0, 0);
    let mut rng = rand::rngs::StdRng::from_entropy();
    loop {
        let wait = rng.gen_range(2_000..6_000);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if done.load(Ordering::Relaxed) {
            return (kills, restarts);
        }
        let mut s = stack.lock().await;
        if kills == 2 && restarts == 0 {
            eprintln!("\nchaos: restarting the Temporal server");
            if let Err(e) = s.restart_server().await {
                eprintln!("chaos: the server did not come back: {e:#}");
                return (kills, restarts);
            }
            restarts += 1;
        }
        s.kill_worker().await;
        kills += 1;
        drop(s);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..1_500))).await;
        if let Err(e) = stack.lock().await.start_worker().await {
            eprintln!("chaos: the worker did not come back: {e:#}");
            return (kills, restarts);
        }
    }
}

/// (events, bytes) per workflow ID of a type, summed over its runs.
async fn history(temporal: &Client, workflow_type: &str) -> anyhow::Result<Vec<(f64, f64)>> {
    let mut per_id: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut stream = temporal.list_workflows(
        format!("WorkflowType = '{workflow_type}'"),
        WorkflowListOptions::default(),
    );
    while let Some(exec) = stream.next().await {
        let exec = exec?;
        let raw = exec.raw();
        let e = per_id.entry(exec.id().to_owned()).or_default();
        e.0 += raw.history_length as f64;
        e.1 += raw.history_size_bytes as f64;
    }
    Ok(per_id.into_values().collect())
}

/// The engine work in one case's history: updates, activities, local activities, timers.
async fn shape_of(temporal: &Client, reference: &str) -> anyhow::Result<TwinShape> {
    let mut shape = TwinShape {
        updates: 0,
        activities: 0,
        local_activities: 0,
        timers: 0,
        timer_ms: 100,
    };
    let id = homeward_workflows::ids::return_case_workflow_id(
        &homeward_workflows::domain::CaseRef::parse(reference)?,
    );
    let mut runs = vec![];
    let mut stream = temporal.list_workflows(
        format!("WorkflowId = '{id}'"),
        WorkflowListOptions::default(),
    );
    while let Some(exec) = stream.next().await {
        runs.push(exec?.run_id().to_owned());
    }
    for run_id in runs {
        let mut token = vec![];
        loop {
            let mut client = temporal.clone();
            let request = GetWorkflowExecutionHistoryRequest {
                namespace: client.namespace(),
                execution: Some(WorkflowExecution {
                    workflow_id: id.clone(),
                    run_id: run_id.clone(),
                }),
                next_page_token: token,
                ..Default::default()
            }
            .into_request();
            let page = client
                .get_workflow_execution_history(request)
                .await?
                .into_inner();
            for event in page.history.map(|h| h.events).unwrap_or_default() {
                match EventType::try_from(event.event_type) {
                    Ok(EventType::ActivityTaskScheduled) => shape.activities += 1,
                    Ok(EventType::MarkerRecorded) => shape.local_activities += 1,
                    Ok(EventType::TimerStarted) => shape.timers += 1,
                    Ok(EventType::WorkflowExecutionUpdateAccepted) => shape.updates += 1,
                    _ => {}
                }
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
    }
    Ok(shape)
}

/// Runs `n` twins of `shape`, each driven by raw Updates; returns the phase and the Updates'
/// round trips (ms).
async fn run_twins(
    temporal: &Client,
    stack: &Shared<Stack>,
    shape: TwinShape,
    n: usize,
    parallel: usize,
) -> anyhow::Result<(PhaseReport, Vec<f64>)> {
    eprintln!("twin: {n} workflows of {shape:?} …");
    let (cpu_w0, cpu_s0) = cpu(stack).await;
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(parallel));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let stamp = chrono::Utc::now().timestamp_millis();
    let mut handles = vec![];
    for i in 0..n {
        let (temporal, gate, latencies) = (temporal.clone(), gate.clone(), latencies.clone());
        handles.push(tokio::spawn(async move {
            let id = format!("bench-twin-{stamp}-{i}");
            let options =
                WorkflowStartOptions::new(homeward_workflows::TASK_QUEUE.to_owned(), id.clone())
                    .build();
            let handle = temporal.start_workflow(Twin::run, shape, options).await?;
            for step in 0..shape.updates {
                let _permit = gate.acquire().await?;
                let t = Instant::now();
                handle
                    .execute_update(Twin::step, step, WorkflowExecuteUpdateOptions::default())
                    .await?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if let Ok(mut l) = latencies.lock() {
                    l.push(ms);
                }
            }
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await?;
            Ok::<(), anyhow::Error>(())
        }));
    }
    let mut completed = 0;
    for h in handles {
        match h.await {
            Ok(Ok(())) => completed += 1,
            Ok(Err(e)) => eprintln!("twin failed: {e:#}"),
            Err(e) => eprintln!("twin task panicked: {e}"),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let (cpu_w1, cpu_s1) = cpu(stack).await;
    let events: f64 = history(temporal, "Twin").await?.iter().map(|h| h.0).sum();
    let latencies = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    Ok((
        phase(completed, seconds, events, cpu_w1 - cpu_w0, cpu_s1 - cpu_s0),
        latencies,
    ))
}

/// Closure, the sandbox ledger and the cases' own records, compared.
#[allow(clippy::too_many_arguments)]
async fn check(
    api: &str,
    officer: &reqwest::Client,
    sandbox: &str,
    refs: &[String],
    tally: &Tally,
    closed: usize,
    worker_kills: u32,
    server_restarts: u32,
) -> anyhow::Result<Checks> {
    let ledger: LedgerView = reqwest::get(format!("{sandbox}/ledger"))
        .await?
        .json()
        .await?;
    let mut live_orders: BTreeMap<String, usize> = BTreeMap::new();
    for o in ledger.orders.iter().filter(|o| !o.cancelled) {
        let case = homeward_workflows::idempotency::IdempotencyKey::parse(&o.idempotency_key)
            .map(|k| k.reference().to_string())
            .unwrap_or_default();
        *live_orders.entry(case).or_default() += 1;
    }
    let mut ledger_payments: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut pending_payments = 0;
    for p in &ledger.payments {
        // A payment the provider failed was not made; a retry under a new key is no duplicate.
        match p.state {
            PaymentState::Failed => continue,
            PaymentState::Pending => pending_payments += 1,
            PaymentState::Confirmed => {}
        }
        *ledger_payments
            .entry((p.case.clone(), p.tranche.clone()))
            .or_default() += 1;
    }
    let mut checks = Checks {
        closed,
        opened: refs.len(),
        duplicate_orders: live_orders.values().filter(|&&n| n > 1).count(),
        duplicate_payments: ledger_payments.values().map(|&n| n.saturating_sub(1)).sum(),
        pending_payments,
        webhooks_sent: ledger.webhooks_sent,
        people_shared: ledger.people.len(),
        stale_completions: tally.stale,
        claimed: tally.claimed,
        refused: tally.refused.iter().take(20).cloned().collect(),
        worker_kills,
        server_restarts,
        ..Checks::default()
    };
    let mut case_payments = 0usize;
    for reference in refs {
        let view: Value = officer
            .get(format!("{api}/api/v1/cases/{reference}"))
            .send()
            .await?
            .json()
            .await?;
        if view["stage"] != "closed" && checks.unclosed.len() < 20 {
            let tasks: Vec<String> = view["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| format!("{}#{}", t["task_type"].as_str().unwrap_or("?"), t["id"]))
                .collect();
            checks
                .unclosed
                .push(format!("{reference}: {} {tasks:?}", view["stage"]));
        }
        let recorded: HashSet<u64> = view["decisions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["task_id"].as_u64())
            .collect();
        checks.lost_completions += tally
            .accepted
            .get(reference)
            .into_iter()
            .flatten()
            .filter(|id| !recorded.contains(id))
            .count();
        for p in view["facts"]["payments"].as_array().into_iter().flatten() {
            case_payments += 1;
            let key = (
                reference.clone(),
                p["tranche"].as_str().unwrap_or_default().to_owned(),
            );
            if !ledger_payments.contains_key(&key) {
                checks.payment_mismatches += 1;
            }
        }
    }
    checks.payment_mismatches += ledger_payments.len().abs_diff(case_payments);
    Ok(checks)
}

fn goals(
    ratio: f64,
    approval: &Percentiles,
    raw: &Percentiles,
    cases: &PhaseReport,
    parked: &[ParkedReport],
    history: &HistoryReport,
) -> Vec<Goal> {
    let mut goals = vec![
        Goal {
            measure: "case/twin throughput",
            goal: "at least 0.8".into(),
            measured: format!("{ratio}"),
            met: ratio >= 0.8,
        },
        Goal {
            measure: "API approval p99",
            goal: format!("at most 1.5 × raw Update p99 ({} ms)", raw.p99_ms),
            measured: format!(
                "{} ms ({:.2} ×)",
                approval.p99_ms,
                approval.p99_ms / raw.p99_ms.max(1e-9)
            ),
            met: approval.p99_ms <= 1.5 * raw.p99_ms,
        },
        Goal {
            measure: "worker CPU",
            goal: "at most 0.25 × server CPU".into(),
            measured: format!("{} ×", cases.worker_to_server_cpu),
            met: cases.worker_to_server_cpu <= 0.25,
        },
        Goal {
            measure: "history events per standard case",
            goal: "at most 400".into(),
            measured: format!(
                "median {}, max {}",
                history.events_median, history.events_max
            ),
            met: history.events_max <= 400.0,
        },
    ];
    for p in parked {
        let worst = p
            .web_inbox
            .p95_ms
            .max(p.web_cases.p95_ms)
            .max(p.web_case.p95_ms);
        goals.push(Goal {
            measure: "web pages p95 (inbox, cases, case)",
            goal: "at most 150 ms".into(),
            measured: format!(
                "{} / {} / {} ms at {} parked",
                p.web_inbox.p95_ms, p.web_cases.p95_ms, p.web_case.p95_ms, p.parked
            ),
            met: worst <= 150.0,
        });
        goals.push(Goal {
            measure: "RSS per parked case",
            goal: "at most 64 KiB".into(),
            measured: format!("{:.1} KiB at {} parked", p.rss_per_case / 1024.0, p.parked),
            met: p.rss_per_case <= 64.0 * 1024.0,
        });
    }
    goals
}

/// The human summary of a report.
pub fn summary(r: &Report) -> String {
    let mut s = String::new();
    let c = &r.checks;
    s.push_str(&format!(
        "cases   {} closed of {} in {} s: {} cases/s, {} history events/s\n",
        r.cases.completed, c.opened, r.cases.seconds, r.cases.per_second, r.cases.events_per_second
    ));
    s.push_str(&format!(
        "twin    {} in {} s: {} /s, {} events/s; case/twin = {}\n",
        r.twin.completed,
        r.twin.seconds,
        r.twin.per_second,
        r.twin.events_per_second,
        r.case_twin_ratio
    ));
    s.push_str(&format!(
        "latency approval via API p50/p95/p99 {}/{}/{} ms; raw Update {}/{}/{} ms\n",
        r.approval_latency.p50_ms,
        r.approval_latency.p95_ms,
        r.approval_latency.p99_ms,
        r.raw_update_latency.p50_ms,
        r.raw_update_latency.p95_ms,
        r.raw_update_latency.p99_ms
    ));
    s.push_str(&format!(
        "cost    worker {} CPU s per case; worker/server CPU {}; peak RSS {} MiB\n",
        r.cases.worker_cpu_per_workflow,
        r.cases.worker_to_server_cpu,
        r.setup["worker"]["peak_rss_bytes"].as_u64().unwrap_or(0) / (1024 * 1024)
    ));
    s.push_str(&format!(
        "history events median {} max {}; bytes median {} max {}\n",
        r.history.events_median, r.history.events_max, r.history.bytes_median, r.history.bytes_max
    ));
    for p in &r.parked {
        s.push_str(&format!(
            "parked  {}: worker RSS {} MiB, {:.1} KiB per case; inbox p99 {} ms; web p50/p95 ms: inbox {}/{}, cases {}/{}, case {}/{}\n",
            p.parked,
            p.worker_rss / (1024 * 1024),
            p.rss_per_case / 1024.0,
            p.inbox_latency.p99_ms,
            p.web_inbox.p50_ms,
            p.web_inbox.p95_ms,
            p.web_cases.p50_ms,
            p.web_cases.p95_ms,
            p.web_case.p50_ms,
            p.web_case.p95_ms
        ));
    }
    s.push_str(&format!(
        "checks  closed {}/{}, duplicate orders {}, duplicate payments {}, payment mismatches {}, pending payments {} (webhooks {}), lost completions {}, claimed {}, stale {}, refused {}; worker kills {}, server restarts {}\n",
        c.closed,
        c.opened,
        c.duplicate_orders,
        c.duplicate_payments,
        c.payment_mismatches,
        c.pending_payments,
        c.webhooks_sent,
        c.lost_completions,
        c.claimed,
        c.stale_completions,
        c.refused.len(),
        c.worker_kills,
        c.server_restarts
    ));
    s.push_str("goals\n");
    for g in &r.goals {
        s.push_str(&format!(
            "  {} {:<34} goal {:<40} measured {}\n",
            if g.met { "met   " } else { "MISSED" },
            g.measure,
            g.goal,
            g.measured
        ));
    }
    s
}

/// Whether the run proved what it must (every case closed, nothing lost or paid twice).
pub fn passed(r: &Report) -> bool {
    let c = &r.checks;
    c.closed == c.opened
        && c.duplicate_orders == 0
        && c.duplicate_payments == 0
        && c.payment_mismatches == 0
        && c.pending_payments == 0
        && c.lost_completions == 0
}
