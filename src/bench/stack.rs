//! The stack a benchmark drives, each part its own process as in production: the Temporal dev
//! server, the partner sandbox, the HTTP API and the worker (this same binary), on free ports,
//! in a temporary folder. The worker can be killed and restarted, the server restarted.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::devserver::{DevServer, DevServerConfig, db_file_in, free_port};
use crate::settings::Settings;

use super::measure;

/// Ports and paths of one benchmark stack.
pub struct Stack {
    /// Where the databases and logs go.
    pub dir: PathBuf,
    /// The Temporal server.
    server: Option<DevServer>,
    server_config: DevServerConfig,
    /// The worker process.
    worker: Option<Child>,
    /// CPU seconds of worker processes killed so far.
    pub dead_worker_cpu: f64,
    /// CPU seconds of server processes stopped so far.
    pub dead_server_cpu: f64,
    /// Highest RSS any worker process reached (bytes).
    pub worker_peak_rss: u64,
    others: Vec<Child>,
    env: Vec<(String, String)>,
    /// The `homeward` executable each part runs.
    exe: PathBuf,
    config_dir: PathBuf,
    /// The API's base URL.
    pub api_url: String,
    /// The partner sandbox's base URL.
    pub sandbox_url: String,
    /// The Temporal frontend's URL.
    pub temporal_url: String,
    /// The worker's health endpoint.
    worker_ready_url: String,
    /// The case store's URL.
    pub database_url: String,
    /// The payload codec's keys the stack's processes share (the bench's own client reads
    /// histories through them).
    pub payload_keys: homeward_activities::codec::PayloadCodecKeys,
    /// Whether the API and the worker run with `--bench-plain-payloads`.
    plain_payloads: bool,
}

impl Stack {
    /// Starts everything, running `exe` for each part, with `overrides` in every part's
    /// environment (e.g. another database or log level) over the bench's own settings, and
    /// waits until the API and the worker are ready. `plain_payloads`: the API and the worker
    /// send Temporal payloads unencrypted (the protection comparison only).
    pub async fn start_with(
        settings: &Settings,
        config_dir: &Path,
        dir: PathBuf,
        max_cached_workflows: usize,
        exe: PathBuf,
        overrides: &[(&str, String)],
        plain_payloads: bool,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let (tport, aport, sport, wport) = (free_port()?, free_port()?, free_port()?, free_port()?);
        let server_config = DevServerConfig {
            cli: settings.dev.temporal_cli.clone(),
            port: tport,
            ui_port: None,
            db_file: Some(db_file_in(&dir)),
            namespace: settings.temporal.namespace.clone(),
            startup_timeout: settings.dev.startup_timeout,
            inherit_output: false,
            ui_codec_endpoint: None,
        };
        let server = DevServer::start(&server_config).await?;
        let sandbox_url = format!("http://127.0.0.1:{sport}");
        let database_url = format!("sqlite://{}/homeward.db", dir.display());
        let temporal_url = server.url();
        let payloads = random_key();
        let payload_keys = homeward_activities::codec::PayloadCodecKeys::new(
            hex::decode(&payloads)
                .ok()
                .and_then(|b| b.try_into().ok())
                .context("a fresh payload key")?,
            vec![],
        );
        let programmes = std::fs::canonicalize(config_dir.join("bench"))
            .context("the bench programme folder (config/bench) is missing")?;
        let env: Vec<(String, String)> = [
            ("HOMEWARD_DATABASE__URL", database_url.clone()),
            ("HOMEWARD_TEMPORAL__ADDRESS", temporal_url.clone()),
            ("HOMEWARD_PROGRAMMES__DIR", programmes.display().to_string()),
            ("HOMEWARD_API__PORT", aport.to_string()),
            ("HOMEWARD_WORKER__METRICS_PORT", wport.to_string()),
            (
                "HOMEWARD_WORKER__MAX_CACHED_WORKFLOWS",
                max_cached_workflows.to_string(),
            ),
            ("HOMEWARD_SANDBOX__PORT", sport.to_string()),
            (
                "HOMEWARD_SANDBOX__LEDGER",
                format!("sqlite://{}/sandbox-ledger.db", dir.display()),
            ),
            ("HOMEWARD_SANDBOX__ERROR_RATE", "0".into()),
            ("HOMEWARD_SANDBOX__TIMEOUT_RATE", "0".into()),
            ("HOMEWARD_SANDBOX__DEPARTS_IN", "2s".into()),
            // Payments stay pending a second, then the sandbox's webhook settles them.
            ("HOMEWARD_SANDBOX__CONFIRM_AFTER", "1s".into()),
            (
                "HOMEWARD_SANDBOX__WEBHOOK_URL",
                format!("http://127.0.0.1:{aport}/api/v1/webhooks/payments"),
            ),
            (
                "HOMEWARD_PARTNERS__WEBHOOK_SECRET",
                format!("bench-{:016x}", rand::random::<u64>()),
            ),
            ("HOMEWARD_KEYS__DECISIONS", random_key()),
            ("HOMEWARD_KEYS__KEK", random_key()),
            ("HOMEWARD_KEYS__BLIND_INDEX", random_key()),
            ("HOMEWARD_KEYS__PAYLOADS", payloads),
            // The bench measures throughput: its few simulated users must not be throttled.
            ("HOMEWARD_API__RATE_LIMIT_PER_SECOND", "1000000".into()),
            ("HOMEWARD_API__RATE_LIMIT_BURST", "1000000".into()),
            ("HOMEWARD_PARTNERS__MODE", "http".into()),
            ("HOMEWARD_PARTNERS__TRAVEL_URL", sandbox_url.clone()),
            ("HOMEWARD_PARTNERS__PAYMENTS_URL", sandbox_url.clone()),
            ("HOMEWARD_PARTNERS__OUTREACH_URL", sandbox_url.clone()),
            ("HOMEWARD_LOG__FILTER", "warn".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k))
        .chain(overrides.iter().map(|(k, v)| ((*k).to_owned(), v.clone())))
        .collect();
        let database_url = overrides
            .iter()
            .find(|(k, _)| *k == "HOMEWARD_DATABASE__URL")
            .map(|(_, v)| v.clone())
            .unwrap_or(database_url);
        let mut stack = Self {
            dir,
            server: Some(server),
            server_config,
            worker: None,
            dead_worker_cpu: 0.0,
            dead_server_cpu: 0.0,
            worker_peak_rss: 0,
            others: vec![],
            env,
            exe,
            config_dir: config_dir.to_owned(),
            api_url: format!("http://127.0.0.1:{aport}"),
            sandbox_url,
            temporal_url,
            payload_keys,
            plain_payloads,
            worker_ready_url: format!("http://127.0.0.1:{wport}/readyz"),
            database_url,
        };
        let status = stack
            .command("migrate")?
            .status()
            .await
            .context("homeward migrate did not run")?;
        if !status.success() {
            bail!("homeward migrate failed; see {}", stack.dir.display());
        }
        let sandbox = stack.spawn("sandbox")?;
        let api = stack.spawn("api")?;
        stack.others.extend([sandbox, api]);
        stack.start_worker().await?;
        wait_ready(&format!("{}/readyz", stack.api_url)).await?;
        wait_ready(&format!("{}/ledger", stack.sandbox_url)).await?;
        Ok(stack)
    }

    fn command(&self, subcommand: &str) -> anyhow::Result<Command> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{subcommand}.log")))?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--config-dir")
            .arg(&self.config_dir)
            .arg(subcommand)
            .args(
                (self.plain_payloads && matches!(subcommand, "api" | "worker"))
                    .then_some("--bench-plain-payloads"),
            )
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        Ok(cmd)
    }

    fn spawn(&self, subcommand: &str) -> anyhow::Result<Child> {
        self.command(subcommand)?
            .spawn()
            .with_context(|| format!("cannot start homeward {subcommand}"))
    }

    /// Starts a worker process, with the twin registered beside the cases (`--bench-twin`),
    /// and waits until it is ready.
    pub async fn start_worker(&mut self) -> anyhow::Result<()> {
        let worker = self
            .command("worker")?
            .arg("--bench-twin")
            .spawn()
            .context("cannot start homeward worker")?;
        self.worker = Some(worker);
        wait_ready(&self.worker_ready_url).await
    }

    /// The worker's process id.
    pub fn worker_pid(&self) -> Option<u32> {
        self.worker.as_ref().and_then(Child::id)
    }

    /// The Temporal server's process id.
    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().and_then(DevServer::pid)
    }

    /// CPU seconds of every worker process so far, the running one included.
    pub fn worker_cpu(&self) -> f64 {
        self.dead_worker_cpu
            + self
                .worker_pid()
                .and_then(measure::cpu_seconds)
                .unwrap_or(0.0)
    }

    /// CPU seconds of every server process so far.
    pub fn server_cpu(&self) -> f64 {
        self.dead_server_cpu
            + self
                .server_pid()
                .and_then(measure::cpu_seconds)
                .unwrap_or(0.0)
    }

    /// The running worker's resident memory (bytes); also tracks the peak.
    pub fn worker_rss(&mut self) -> u64 {
        let Some(pid) = self.worker_pid() else {
            return 0;
        };
        let peak = measure::status_bytes(pid, "VmHWM:").unwrap_or(0);
        self.worker_peak_rss = self.worker_peak_rss.max(peak);
        measure::status_bytes(pid, "VmRSS:").unwrap_or(0)
    }

    /// SIGKILLs the worker: no drain, no goodbye.
    pub async fn kill_worker(&mut self) {
        self.worker_rss();
        self.dead_worker_cpu = self.worker_cpu();
        if let Some(mut child) = self.worker.take() {
            let _ = child.kill().await;
        }
    }

    /// Stops the Temporal server and starts it again on the same port and file.
    pub async fn restart_server(&mut self) -> anyhow::Result<()> {
        self.dead_server_cpu = self.server_cpu();
        if let Some(server) = self.server.take() {
            server.stop(Duration::from_secs(10)).await;
        }
        self.server = Some(DevServer::start(&self.server_config).await?);
        Ok(())
    }

    /// Stops everything, worker first.
    pub async fn stop(mut self) {
        if let Some(mut w) = self.worker.take() {
            let _ = w.kill().await;
        }
        for mut child in self.others.drain(..) {
            let _ = child.kill().await;
        }
        if let Some(server) = self.server.take() {
            server.stop(Duration::from_secs(10)).await;
        }
    }
}

async fn wait_ready(url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    // Generous: on a loaded 2-core CI machine (browser tests beside it), a fresh stack's
    // Temporal server, migrations and API have been seen to take over a minute.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(resp) = http.get(url).send().await
            && resp.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{url} was not ready within 180 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// 32 random bytes as hex: a fresh key for each of the bench stack's `[keys]`.
fn random_key() -> String {
    (0..4)
        .map(|_| format!("{:016x}", rand::random::<u64>()))
        .collect()
}
