//! The `homeward` binary: parses the command line, loads configuration, and runs a subcommand.
//! A configuration error prints one line and exits with code 2; any other failure prints its
//! cause chain and exits with code 1. Nothing here panics on bad input.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

use homeward::application::{Application, Role, shutdown_signal};
use homeward::devserver::{DevServer, DevServerConfig, db_file_in};
use homeward::settings::{CONFIG_FILE_ENV, LogFormat, Settings};

/// Homeward: assisted voluntary return and reintegration cases as durable workflows.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// An extra configuration file layered over config/default.toml.
    #[arg(long, global = true, env = CONFIG_FILE_ENV)]
    config: Option<PathBuf>,
    /// The folder holding default.toml and programmes/.
    #[arg(long, global = true, default_value = "config")]
    config_dir: PathBuf,
    /// Log format; overrides log.format (use json in production).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole embedded stack on this machine: a Temporal dev server persisting to
    /// ./data (Web UI included), the case store, the worker and the HTTP API. Ctrl-C stops all.
    Dev,
    /// Run a worker against an external Temporal cluster (temporal.address). Scale out by
    /// running more. Serves /healthz, /readyz and /metrics on worker.metrics_port.
    Worker,
    /// Run the HTTP API against an external Temporal cluster. Scale out behind a load balancer.
    Api,
    /// Apply the case-store migrations (database.url) and exit.
    Migrate,
    /// Run the local partner sandbox (travel, payments, notifications, reception) on
    /// sandbox.port, with fault injection from [sandbox]; GET /ledger shows what it recorded.
    Sandbox,
    /// Manage users (this talks to the case store directly: it is how the first admin and
    /// every API key come to exist).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user and print their API key, once; it is stored only as a hash.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// return_officer, operations, finance, partner, auditor or admin.
        #[arg(long)]
        role: String,
        /// Office (host country, ISO alpha-3) whose cases the user sees; for a partner, the
        /// country of origin. Omit for all.
        #[arg(long)]
        office: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config_dir, cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("homeward: {e}");
            return ExitCode::from(2);
        }
    };
    let format = cli.log_format.unwrap_or(settings.log.format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("homeward: failed to start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        homeward::telemetry::init(format, &settings.log.filter);
        match run(cli.command, settings).await {
            Ok(()) => ExitCode::SUCCESS,
            // Configuration found bad after start-up began (programme files) exits like the rest.
            Err(e)
                if e.downcast_ref::<homeward::settings::ConfigError>()
                    .is_some() =>
            {
                eprintln!("homeward: {e}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("homeward: {e:#}");
                ExitCode::from(1)
            }
        }
    })
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            let store =
                homeward_activities::CaseStore::connect(settings.database.url.expose_secret(), 1)
                    .await
                    .context("failed to open the case store (database.url)")?;
            store.migrate().await.context("failed to migrate")?;
            println!("migrations applied ({:?})", store.backend());
            Ok(())
        }
        Command::User {
            command: UserCommand::Create { name, role, office },
        } => create_user(&settings, &name, &role, office.as_deref()).await,
        Command::Sandbox => {
            let (addr, task) = start_sandbox(&settings).await?;
            println!("partner sandbox on http://{addr} (ledger: http://{addr}/ledger)");
            shutdown_signal().await;
            task.abort();
            Ok(())
        }
        Command::Api => serve(&settings, Role::Api, false).await,
        Command::Worker => serve(&settings, Role::Worker, false).await,
        Command::Dev => dev(settings).await,
    }
}

async fn create_user(
    settings: &Settings,
    name: &str,
    role: &str,
    office: Option<&str>,
) -> anyhow::Result<()> {
    let Some(parsed) = homeward_api::auth::parse_role(role) else {
        anyhow::bail!(
            "--role {role:?} is not a role; expected return_officer, operations, finance, partner, auditor or admin"
        );
    };
    if parsed == homeward_workflows::tasks::Role::System {
        anyhow::bail!("--role system is reserved for the workflow itself");
    }
    let office = office
        .map(|o| homeward_workflows::domain::CountryCode::parse_field(o, "office"))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--{e}"))?;
    if name.trim().is_empty() {
        anyhow::bail!("--name must not be empty");
    }
    let store = homeward_activities::CaseStore::connect(settings.database.url.expose_secret(), 1)
        .await
        .context("failed to open the case store (database.url)")?;
    store.migrate().await.context("failed to migrate")?;
    let (user, key) = store
        .create_user(
            name.trim(),
            parsed.as_str(),
            office.as_ref().map(|o| o.as_str()),
            chrono::Utc::now(),
        )
        .await
        .context("failed to create the user")?;
    println!("user:    {}", user.id);
    println!("role:    {}", user.role);
    println!("office:  {}", user.office.as_deref().unwrap_or("(all)"));
    println!("API key: {key}");
    println!("Keep the key now: it is stored only as a hash and cannot be shown again.");
    Ok(())
}

/// Starts the partner sandbox on sandbox.port (loopback).
async fn start_sandbox(
    settings: &Settings,
) -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let sb = &settings.sandbox;
    let sandbox = homeward_activities::sandbox::Sandbox::new(
        homeward_activities::sandbox::SandboxFaults {
            error_rate: sb.error_rate,
            timeout_rate: sb.timeout_rate,
            hang: settings.partners.timeout + Duration::from_secs(5),
            latency: sb.latency,
            refuse_offers_containing: sb.refuse_offers_containing.clone(),
        },
        sb.seed,
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", sb.port))
        .await
        .with_context(|| format!("failed to bind the sandbox on 127.0.0.1:{}", sb.port))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, sandbox.router()).await {
            tracing::error!(error = %e, "the partner sandbox stopped");
        }
    });
    Ok((addr, task))
}

async fn serve(settings: &Settings, role: Role, migrate: bool) -> anyhow::Result<()> {
    let app = Application::build(settings, role, migrate).await?;
    tracing::info!(addr = %app.http_addr(), ?role, "listening");
    app.run_until(shutdown_signal()).await
}

async fn dev(mut settings: Settings) -> anyhow::Result<()> {
    let dev = settings.dev.clone();
    std::fs::create_dir_all(&dev.data_dir)
        .with_context(|| format!("failed to create {}", dev.data_dir.display()))?;
    let server = DevServer::start(&DevServerConfig {
        cli: dev.temporal_cli.clone(),
        port: dev.temporal_port,
        ui_port: Some(dev.ui_port),
        db_file: Some(db_file_in(&dev.data_dir)),
        namespace: settings.temporal.namespace.clone(),
        startup_timeout: dev.startup_timeout,
        inherit_output: true,
    })
    .await?;
    settings.temporal.address = server
        .url()
        .parse()
        .context("dev server address is not a URL")?;
    let sandbox = if settings.sandbox.embedded {
        match start_sandbox(&settings).await {
            Ok((addr, task)) => Some((addr, task)),
            Err(e) => {
                server.stop(Duration::from_secs(10)).await;
                return Err(e);
            }
        }
    } else {
        None
    };
    let app = match Application::build(&settings, Role::Both, true).await {
        Ok(app) => app,
        Err(e) => {
            server.stop(Duration::from_secs(10)).await;
            return Err(e);
        }
    };
    let api = app.http_addr();
    println!();
    println!("  Homeward is running.");
    println!("  API:               http://{api}/api/v1/cases");
    println!("  Health / metrics:  http://{api}/readyz  http://{api}/metrics");
    println!("  Temporal Web UI:   http://127.0.0.1:{}", dev.ui_port);
    println!("  Temporal frontend: {}", server.url());
    println!("  Data:              {}", dev.data_dir.display());
    if let Some((addr, _)) = &sandbox {
        println!("  Partner sandbox:   http://{addr}/ledger");
    }
    println!("  Press Ctrl-C to stop everything.");
    println!();
    let result = app.run_until(shutdown_signal()).await;
    if let Some((_, task)) = sandbox {
        task.abort();
    }
    tracing::info!("stopping the Temporal dev server");
    server.stop(Duration::from_secs(10)).await;
    result
}
