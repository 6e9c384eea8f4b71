//! Temporal wiring: the runtime (with its Prometheus exporter), the client connection, and the
//! worker that runs Homeward's workflows and activities (those of production only: anything
//! else is registered by the caller, through [`ExtraRegistrations`]).
//!
//! This crate decides *how* work is executed (task queue, cache size, pollers); it must not
//! contain domain logic, SQL or HTTP handlers.

use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};
use temporalio_common::telemetry::{
    PrometheusExporterOptions, TelemetryOptions, start_prometheus_metric_exporter,
};
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions, WorkflowRegistrationError};

use homeward_activities::codec::{self, PayloadCodecKeys};
use std::collections::BTreeMap;

use homeward_activities::escalation::EscalationActivitiesImpl;
use homeward_activities::retention::RetentionActivitiesImpl;
use homeward_activities::vault::Vault;
use homeward_activities::{CaseStore, CaseStoreActivitiesImpl, PartnerActivities, Partners};
use homeward_workflows::escalation::OverdueSweep;
use homeward_workflows::programme::Span;
use homeward_workflows::retention::RetentionSweep;
use homeward_workflows::return_case::ReturnCase;
use homeward_workflows::seal::{DecisionGate, DecisionKey};

/// Failures while wiring Temporal.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The SDK runtime (telemetry, metrics exporter) could not start.
    #[error("failed to start the Temporal runtime: {0}")]
    Runtime(String),
    /// The Temporal frontend could not be reached.
    #[error("failed to connect to Temporal at {address}: {message}")]
    Connect {
        /// The address tried (no credentials).
        address: String,
        /// Why.
        message: String,
    },
    /// The worker could not be built or stopped with an error.
    #[error("worker failed: {0}")]
    Worker(String),
}

/// How to reach Temporal; built from the `[temporal]` configuration section.
#[derive(Debug, Clone)]
pub struct TemporalConnection {
    /// The frontend's URL.
    pub address: url::Url,
    /// The namespace.
    pub namespace: String,
    /// A Temporal Cloud API key, if any (its `Debug` prints `[REDACTED]`).
    pub api_key: Option<SecretString>,
    /// How long the first connection may take.
    pub connect_timeout: Duration,
    /// The identity reported to the server (process role and pid; no personal data).
    pub identity: String,
    /// The payload codec's keys: every payload this client (and a worker built on it) sends is
    /// encrypted with them, and read back through them. `None` only for a client that must
    /// see payloads as the server holds them (a test proving they are unreadable).
    pub codec: Option<PayloadCodecKeys>,
}

/// The SDK runtime and the address of its Prometheus exporter (served on loopback and merged
/// into the process's own `/metrics`).
pub struct TemporalRuntime {
    /// The runtime workers are built on.
    pub runtime: Runtime,
    /// Where the SDK's Prometheus text can be scraped from.
    pub metrics_addr: SocketAddr,
}

/// Starts the SDK runtime on the current tokio runtime, with metrics on a free loopback port.
pub fn start_runtime() -> Result<TemporalRuntime, WorkerError> {
    let exporter = start_prometheus_metric_exporter(
        PrometheusExporterOptions::builder()
            .socket_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
            .counters_total_suffix(true)
            .build(),
    )
    .map_err(|e| WorkerError::Runtime(e.to_string()))?;
    let telemetry = TelemetryOptions::builder()
        .metrics(exporter.meter.clone() as Arc<_>)
        .build();
    let options = RuntimeOptions::builder()
        .telemetry_options(telemetry)
        .build()
        .map_err(WorkerError::Runtime)?;
    let runtime =
        Runtime::from_current_tokio(options).map_err(|e| WorkerError::Runtime(e.to_string()))?;
    Ok(TemporalRuntime {
        runtime,
        metrics_addr: exporter.bound_addr,
    })
}

/// Connects a client to Temporal.
pub async fn connect(conn: &TemporalConnection) -> Result<Client, WorkerError> {
    // A frontend that is starting answers "not healthy yet" for a moment (a process started with
    // its cluster, a dev server just spawned): keep trying until connect_timeout, then give up.
    let deadline = tokio::time::Instant::now() + conn.connect_timeout;
    let connection = loop {
        let options = ConnectionOptions::new(conn.address.clone())
            .identity(conn.identity.clone())
            .maybe_api_key(conn.api_key.as_ref().map(|k| k.expose_secret().to_owned()))
            .connect_timeout(conn.connect_timeout)
            .build();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let message = match tokio::time::timeout(left, Connection::connect(options)).await {
            Ok(Ok(connection)) => break connection,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {:?}", conn.connect_timeout),
        };
        if tokio::time::Instant::now() + Duration::from_millis(250) >= deadline {
            return Err(WorkerError::Connect {
                address: conn.address.to_string(),
                message,
            });
        }
        tracing::debug!(%message, "Temporal not ready yet; retrying");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let options = match &conn.codec {
        Some(keys) => ClientOptions::new(conn.namespace.clone())
            .data_converter(codec::data_converter(keys.clone()))
            .build(),
        None => ClientOptions::new(conn.namespace.clone()).build(),
    };
    Client::new(connection, options).map_err(|e| WorkerError::Connect {
        address: conn.address.to_string(),
        message: e.to_string(),
    })
}

/// Worker tuning, from the `[worker]` configuration section.
#[derive(Debug, Clone)]
pub struct WorkerTuning {
    /// The task queue to poll.
    pub task_queue: String,
    /// Workflow cache size.
    pub max_cached_workflows: usize,
}

/// Workflows and activities registered beyond Homeward's own, on a worker's options before it
/// starts. Production workers have none; the benchmark's workers add its twin
/// (`homeward_devkit::twin::register`, by `homeward worker --bench-twin`).
pub type ExtraRegistrations = fn(&mut WorkerOptions) -> Result<(), WorkflowRegistrationError>;

/// What the worker's activities work with.
pub struct WorkerParts {
    /// The case store.
    pub store: CaseStore,
    /// The partners.
    pub partners: Partners,
    /// The person vault (partner activities read what a partner may receive from it; the
    /// retention sweep erases through it).
    pub vault: Vault,
    /// Each programme's retention of personal data after closure, by programme id.
    pub retention: BTreeMap<String, Span>,
    /// Each programme's grace after a task's due date before supervisors are told.
    pub overdue_grace: BTreeMap<String, Span>,
    /// `keys.decisions`: the decision gate refuses a decision without the API's seal.
    pub decisions: DecisionKey,
}

/// Builds the worker with every Homeward workflow and activity registered (and `extra`, if
/// any), and the decision gate that refuses a decision without the API's seal.
pub fn build_worker(
    runtime: &Runtime,
    client: Client,
    parts: WorkerParts,
    tuning: &WorkerTuning,
    extra: Option<ExtraRegistrations>,
) -> Result<Worker, WorkerError> {
    let mut options = WorkerOptions::new(tuning.task_queue.clone())
        .max_cached_workflows(tuning.max_cached_workflows)
        .graceful_shutdown_period(Duration::from_secs(10))
        .workflow_interceptor(DecisionGate::constructor(parts.decisions))
        .register_activities(CaseStoreActivitiesImpl::new(parts.store.clone()))
        .register_activities(EscalationActivitiesImpl::new(
            parts.store,
            parts.partners.clone(),
            parts.overdue_grace,
        ))
        .register_activities(PartnerActivities::new(parts.partners, parts.vault.clone()))
        .register_activities(RetentionActivitiesImpl::new(parts.vault, parts.retention))
        .register_workflow::<ReturnCase>()
        .map_err(|e| WorkerError::Worker(e.to_string()))?
        .register_workflow::<RetentionSweep>()
        .map_err(|e| WorkerError::Worker(e.to_string()))?
        .register_workflow::<OverdueSweep>()
        .map_err(|e| WorkerError::Worker(e.to_string()))?
        .build();
    if let Some(register) = extra {
        register(&mut options).map_err(|e| WorkerError::Worker(e.to_string()))?;
    }
    Worker::new(runtime, client, options).map_err(|e| WorkerError::Worker(e.to_string()))
}

/// How often each sweep runs.
#[derive(Debug, Clone, Copy)]
pub struct SweepIntervals {
    /// The retention sweep (`worker.retention_sweep_every`).
    pub retention: Duration,
    /// The overdue sweep (`worker.overdue_sweep_every`).
    pub overdue: Duration,
}

/// Makes sure the sweeps are scheduled (once per namespace; a worker that finds a schedule
/// already there leaves it as it is).
pub async fn ensure_sweep_schedules(
    client: &Client,
    task_queue: &str,
    every: SweepIntervals,
) -> Result<(), WorkerError> {
    use temporalio_client::schedules::{CreateScheduleOptions, ScheduleAction, ScheduleSpec};
    let sweeps = [
        (
            homeward_workflows::retention::SCHEDULE_ID,
            ScheduleAction::start_workflow(
                RetentionSweep::run,
                (),
                task_queue,
                homeward_workflows::retention::SCHEDULE_ID,
            ),
            every.retention,
        ),
        (
            homeward_workflows::escalation::SCHEDULE_ID,
            ScheduleAction::start_workflow(
                OverdueSweep::run,
                (),
                task_queue,
                homeward_workflows::escalation::SCHEDULE_ID,
            ),
            every.overdue,
        ),
    ];
    for (id, action, every) in sweeps {
        let options = CreateScheduleOptions::builder()
            .action(action)
            .spec(ScheduleSpec::from_interval(every))
            .build();
        match client.create_schedule(id, options).await {
            Ok(_) => {}
            Err(e) if e.to_string().to_ascii_lowercase().contains("already") => {}
            Err(e) => {
                return Err(WorkerError::Worker(format!(
                    "could not schedule the sweep {id}: {e}"
                )));
            }
        }
    }
    Ok(())
}
