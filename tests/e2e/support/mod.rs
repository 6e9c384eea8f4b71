//! The one test harness: a real Temporal dev server (the installed CLI, never a download), a
//! fresh SQLite case store per test, and the real application on port 0.
#![allow(dead_code)]

pub mod browser;
pub mod histories;
pub mod idp;
pub mod lifecycle;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use homeward::application::{Application, Role};
use homeward::devserver::{DevServer, DevServerConfig, free_port};
use homeward::settings::Settings;
use homeward_activities::Partners;
use homeward_devkit::ledger::{LocalLedger, local_partners};
use tokio::sync::oneshot;

/// The project folder (for config/ and .tools/).
pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Temporal CLI installed by `make` (override with TEMPORAL_CLI).
pub fn temporal_cli() -> PathBuf {
    let path = std::env::var_os("TEMPORAL_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_dir().join(".tools/py/bin/temporal"));
    assert!(
        path.is_file(),
        "the Temporal CLI is not installed at {}: run `make test`",
        path.display()
    );
    path
}

/// Starts a dev server persisting to `db_file` on `port`.
pub async fn start_temporal(db_file: &Path, port: u16) -> DevServer {
    DevServer::start(&DevServerConfig {
        cli: temporal_cli(),
        port,
        ui_port: None,
        db_file: Some(db_file.to_owned()),
        namespace: "default".into(),
        startup_timeout: Duration::from_secs(60),
        inherit_output: false,
        ui_codec_endpoint: None,
    })
    .await
    .expect("failed to start the Temporal dev server")
}

/// Settings for a test: the shipped defaults, with a private database and ports, a fresh
/// decision key, and rate limits no test's traffic reaches (the limits have tests of their own).
pub fn test_settings(data_dir: &Path, temporal: &DevServer) -> Settings {
    let mut settings = base_settings();
    settings.database.url = format!("sqlite://{}", data_dir.join("homeward.db").display()).into();
    settings.temporal.address = temporal.url().parse().expect("url");
    settings
}

/// The shipped defaults with a fresh decision key, port 0 and unreachable rate limits.
pub fn base_settings() -> Settings {
    let mut settings =
        Settings::load(&project_dir().join("config"), None).expect("default config loads");
    settings.api.port = 0;
    settings.keys.decisions = Some(random_key().into());
    settings.keys.kek = Some(random_key().into());
    settings.keys.blind_index = Some(random_key().into());
    // Histories recorded for the replay corpus are encrypted with the corpus's published
    // test key (`replay_corpus.rs`), so the replay test can read them.
    settings.keys.payloads = Some(if std::env::var_os("RECORD_HISTORIES").is_some() {
        "07".repeat(32).into()
    } else {
        random_key().into()
    });
    settings.api.rate_limit_per_second = 1_000_000;
    settings.api.rate_limit_burst = 1_000_000;
    settings
}

/// 32 random bytes as hex: a key for `[keys]`.
pub fn random_key() -> String {
    (0..4)
        .map(|_| format!("{:016x}", rand::random::<u64>()))
        .collect()
}

/// The keys of `settings` (to seal Updates sent straight to Temporal, to read payloads).
pub fn keys(settings: &Settings) -> homeward::keys::Keys {
    homeward::keys::Keys::from_settings(settings).expect("test settings have keys")
}

/// The decision key of `settings`, to seal Updates sent straight to Temporal.
pub fn decision_key(settings: &Settings) -> homeward_workflows::seal::DecisionKey {
    keys(settings).decisions
}

/// The application running in the background, on its own thread and tokio runtime, as it
/// would in its own process (the SDK's worker future is not `Send`).
pub struct RunningApp {
    /// The API's base URL, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl RunningApp {
    /// Builds and runs the application (worker and API) with `settings`.
    pub async fn start(settings: &Settings) -> Self {
        Self::start_with(settings, local_partners(Arc::new(LocalLedger::new()))).await
    }

    /// Like [`RunningApp::start`], with the partners the worker talks to.
    pub async fn start_with(settings: &Settings, partners: Partners) -> Self {
        let settings = settings.clone();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let app = match Application::build_with(&settings, Role::Both, true, partners, None)
                    .await
                {
                    Ok(app) => app,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("{e:#}")));
                        return Err(e);
                    }
                };
                let _ = ready_tx.send(Ok(format!("http://{}", app.http_addr())));
                app.run_until(async move {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let base = ready_rx
            .await
            .expect("app thread answers")
            .unwrap_or_else(|e| panic!("application failed to build: {e}"));
        Self {
            base,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops it and waits until the worker has drained.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .expect("join task")
                .expect("app thread did not panic")
                .expect("app stops cleanly");
        }
    }

    /// A URL under the API.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Creates a user in the stack's case store and returns their API key. `office` is the host
/// country; a partner's `office` is written `NLD/IRQ` (office, then country of origin).
pub async fn create_key(
    settings: &Settings,
    name: &str,
    role: &str,
    office: Option<&str>,
) -> String {
    create_user(settings, name, role, office, false).await.1
}

/// Like [`create_key`], optionally a supervisor of the office; the user's id and key.
pub async fn create_user(
    settings: &Settings,
    name: &str,
    role: &str,
    office: Option<&str>,
    supervisor: bool,
) -> (String, String) {
    use homeward_workflows::domain::CountryCode;
    use secrecy::ExposeSecret;
    let role = homeward_api::auth::parse_role(role).expect("a role");
    let (office, country) = match office.map(|o| o.split_once('/')) {
        Some(Some((o, c))) => (Some(o), Some(c)),
        _ => (office, None),
    };
    let office = office.map(|o| CountryCode::parse(o).expect("office"));
    let country = country.map(|c| CountryCode::parse(c).expect("country"));
    let store = homeward_activities::CaseStore::connect(settings.database.url.expose_secret(), 1)
        .await
        .expect("store");
    let new = homeward_activities::users::NewUser {
        name,
        role,
        office: office.as_ref(),
        country: country.as_ref(),
        supervisor,
    };
    let (user, key) = store
        .create_user(&new, None, chrono::Utc::now())
        .await
        .expect("user");
    store.close().await;
    (user.id, key)
}

/// An HTTP client that authenticates every request with `key`.
pub fn client_with_key(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

/// A whole stack for one test: its own folder, Temporal server and application.
pub struct TestStack {
    pub dir: tempfile::TempDir,
    pub temporal_port: u16,
    pub temporal: Option<DevServer>,
    pub settings: Settings,
    pub app: Option<RunningApp>,
    pub http: reqwest::Client,
}

impl TestStack {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestStack::start`], with `tweak` applied to the settings first.
    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start_full(tweak, local_partners(Arc::new(LocalLedger::new()))).await
    }

    /// Like [`TestStack::start`], with the partners the worker talks to (a ledger the test
    /// holds, to see what the partners received).
    pub async fn start_with_partners(partners: Partners) -> Self {
        Self::start_full(|_| {}, partners).await
    }

    /// Like [`TestStack::start`], with `tweak` applied to the settings and `partners`.
    pub async fn start_full(tweak: impl FnOnce(&mut Settings), partners: Partners) -> Self {
        homeward::telemetry::init(homeward::settings::LogFormat::Pretty, "error");
        let dir = tempfile::tempdir().expect("tempdir");
        let temporal_port = free_port().expect("free port");
        let temporal = start_temporal(&dir.path().join("temporal.db"), temporal_port).await;
        let mut settings = test_settings(dir.path(), &temporal);
        tweak(&mut settings);
        let app = RunningApp::start_with(&settings, partners).await;
        let officer = create_key(&settings, "Officer", "return_officer", Some("NLD")).await;
        Self {
            dir,
            temporal_port,
            temporal: Some(temporal),
            settings,
            app: Some(app),
            http: client_with_key(&officer),
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.app.as_ref().expect("app running").url(path)
    }

    /// A new client (own connection pool) authenticated as a new officer of the NLD office.
    pub fn fresh_client(&self) -> reqwest::Client {
        let settings = self.settings.clone();
        let key = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(create_key(
                    &settings,
                    "Officer 2",
                    "return_officer",
                    Some("NLD"),
                ))
        })
        .join()
        .expect("key");
        client_with_key(&key)
    }

    pub fn temporal_address(&self) -> String {
        format!("127.0.0.1:{}", self.temporal_port)
    }

    /// Opens a case of `n` adults (Iraq, from the Netherlands); returns its reference.
    pub async fn open_case_of(&self, n: u8) -> String {
        let resp = self
            .http
            .post(self.url("/api/v1/cases"))
            .json(&serde_json::json!({
                "programme": "nl-avrr",
                "host_country": "NLD",
                "origin_country": "IRQ",
                "household_size": n
            }))
            .send()
            .await
            .expect("request");
        assert_eq!(
            resp.status(),
            201,
            "{}",
            resp.text().await.unwrap_or_default()
        );
        let body: serde_json::Value = resp.json().await.expect("json");
        body["reference"].as_str().expect("reference").to_owned()
    }

    /// Waits (bounded) until the case has an open task of this type; its id.
    pub async fn task_id(&self, reference: &str, task_type: &str) -> u64 {
        let view = self
            .wait_for(reference, &format!("a {task_type} task"), |v| {
                v["tasks"]
                    .as_array()
                    .is_some_and(|ts| ts.iter().any(|t| t["task_type"] == task_type))
            })
            .await;
        view["tasks"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["task_type"] == task_type))
            .and_then(|t| t["id"].as_u64())
            .expect("id")
    }

    /// Opens a case of three adults; returns its reference.
    pub async fn open_case(&self) -> String {
        self.open_case_of(3).await
    }

    /// Waits (bounded) until the case reaches `stage`; returns its view.
    pub async fn wait_for_stage(&self, reference: &str, stage: &str) -> serde_json::Value {
        self.wait_for(reference, &format!("stage {stage}"), |v| {
            v["stage"] == stage
        })
        .await
    }

    /// Polls the case until `done` holds of its view (for 30 s at most).
    pub async fn wait_for(
        &self,
        reference: &str,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let resp = self
                .http
                .get(self.url(&format!("/api/v1/cases/{reference}")))
                .send()
                .await
                .expect("request");
            let status = resp.status();
            let view: serde_json::Value = resp.json().await.unwrap_or_default();
            if status == 200 && done(&view) {
                return view;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "case {reference}: no {what} within 30s; last answer: {status} {view}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the application, then the Temporal server.
    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
        if let Some(t) = self.temporal.take() {
            t.stop(Duration::from_secs(10)).await;
        }
    }
}
