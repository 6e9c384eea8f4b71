//! The `homeward` binary: parses the command line, loads configuration, and runs a subcommand.
//! A configuration error prints one line and exits with code 2; any other failure prints its
//! cause chain and exits with code 1. Nothing here panics on bad input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use secrecy::ExposeSecret;

use homeward::application::{Application, Role, partners_from, shutdown_signal};
use homeward::devserver::{DevServer, DevServerConfig, db_file_in};
use homeward::settings::{CONFIG_FILE_ENV, LogFormat, Settings};
use homeward_devkit::sandbox::{Sandbox, SandboxFaults, Webhook};
use homeward_worker::ExtraRegistrations;

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
    Worker {
        /// Also register the benchmark's twin workflow and its no-op activity (from
        /// homeward-devkit): for the workers `homeward bench` starts, never in production.
        #[arg(long, hide = true)]
        bench_twin: bool,
    },
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
        command: homeward::user_commands::UserCommand,
    },
    /// Open, show and list cases through the HTTP API (needs an API key).
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
    /// The open tasks your role can act on, earliest due first (through the HTTP API).
    Inbox {
        /// Only this task type, e.g. eligibility_approval.
        #[arg(long = "type")]
        task_type: Option<String>,
        /// Only overdue tasks.
        #[arg(long)]
        overdue: bool,
        /// Only tasks due before this date (2027-01-31) or RFC 3339 time.
        #[arg(long)]
        due_before: Option<String>,
        /// How many tasks to show.
        #[arg(long)]
        limit: Option<u32>,
        /// Skip this many (the number printed under the previous page).
        #[arg(long)]
        offset: Option<u32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Act on tasks through the HTTP API.
    Task {
        #[command(subcommand)]
        command: TaskCommand,
    },
    /// Benchmark: start a private stack (Temporal dev server, sandbox, API and worker as separate
    /// processes), carry cases from intake to closure through the API on the compressed
    /// config/bench programme, run a twin workflow for comparison, and report (see
    /// docs/BENCHMARKS.md). Exits 1 if a case did not close or anything was lost or paid twice.
    Bench {
        /// Cases to carry from intake to closure.
        #[arg(long, default_value_t = 50)]
        cases: usize,
        /// Parked-case counts at which to read the worker's memory and the inbox's latency,
        /// e.g. 1000,10000.
        #[arg(long, value_delimiter = ',')]
        parked: Vec<usize>,
        /// Kill the worker (SIGKILL) at random moments and restart the Temporal server once.
        #[arg(long)]
        chaos: bool,
        /// Where to write the JSON report.
        #[arg(long, default_value = "bench-report.json")]
        out: PathBuf,
        /// Requests in flight at once (case openings, task completions, twin updates).
        #[arg(long, default_value_t = 16)]
        parallel: usize,
        /// The worker's workflow cache size (worker.max_cached_workflows).
        #[arg(long, default_value_t = 1000)]
        cache: usize,
        /// Give up waiting for the cases to close after this long.
        #[arg(long, default_value = "20m", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Write the first case's history (every run) to this file, for the replay corpus
        /// (tests/histories/).
        #[arg(long)]
        record_history: Option<PathBuf>,
    },
}

/// How the API clients reach the API.
#[derive(Debug, Args)]
struct ClientArgs {
    /// The API's base URL.
    #[arg(
        long,
        env = "HOMEWARD_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    api_url: String,
    /// A file holding your API key (from `homeward user create`). Without it the key comes
    /// from HOMEWARD_API_KEY. There is no --api-key: a key on the command line is visible to
    /// every local user in `ps`.
    #[arg(long)]
    api_key_file: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum CaseCommand {
    /// Open a case; prints its reference.
    Open {
        /// Programme id, e.g. nl-avrr (see GET /api/v1/programmes).
        #[arg(long)]
        programme: String,
        /// Host country (ISO alpha-3), your office.
        #[arg(long)]
        host_country: String,
        /// Country of origin (ISO alpha-3).
        #[arg(long)]
        origin_country: String,
        /// How many people return together.
        #[arg(long)]
        household_size: u32,
        /// Members as JSON: '[{"age_group":"adult","vulnerabilities":[]}]'.
        #[arg(long)]
        members: Option<String>,
        /// The language the returnee reads messages in (ISO 639-1), e.g. ar.
        #[arg(long)]
        language: Option<String>,
        /// Any unique string: running the command again with it opens no second case.
        #[arg(long)]
        idempotency_key: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a case: stage, open tasks, decisions.
    Show {
        /// The case reference, HW-…
        reference: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List cases, newest first.
    List {
        /// Only cases in this stage, e.g. counselling.
        #[arg(long)]
        stage: Option<String>,
        /// Only this programme.
        #[arg(long)]
        programme: Option<String>,
        /// Only this host country.
        #[arg(long)]
        host_country: Option<String>,
        /// Only this country of origin.
        #[arg(long)]
        origin_country: Option<String>,
        /// open or closed.
        #[arg(long)]
        status: Option<String>,
        /// Only cases with an overdue task.
        #[arg(long)]
        overdue: bool,
        /// Cases per page (1-100).
        #[arg(long)]
        page_size: Option<u32>,
        /// The token printed under the previous page.
        #[arg(long)]
        page_token: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, Subcommand)]
enum TaskCommand {
    /// Complete a task as yourself; prints the case's new state.
    Complete {
        /// The case reference, HW-…
        reference: String,
        /// The task number (see `homeward inbox` or `homeward case show`).
        task: u32,
        /// The outcome as JSON, e.g. '{"type":"approval","approved":true}'.
        #[arg(long)]
        outcome: String,
        /// Why (required for refusals).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Case { .. } | Command::Inbox { .. } | Command::Task { .. }
    ) {
        return run_client(cli.command);
    }
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
        match run(cli.command, settings, &cli.config_dir).await {
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

/// Runs an API client subcommand: no configuration, no case store, only HTTP.
fn run_client(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("homeward: failed to start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(client_command(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("homeward: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn client_command(command: Command) -> anyhow::Result<()> {
    use homeward::client::{self, ApiClient};
    let connect = |args: &ClientArgs| {
        let key = match &args.api_key_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("--api-key-file {}: cannot be read", path.display()))?,
            None => std::env::var("HOMEWARD_API_KEY").unwrap_or_default(),
        };
        ApiClient::new(&args.api_url, &key)
    };
    let (args, result) = match command {
        Command::Case {
            command:
                CaseCommand::Open {
                    programme,
                    host_country,
                    origin_country,
                    household_size,
                    members,
                    language,
                    idempotency_key,
                    client: args,
                },
        } => {
            let new = client::NewCase {
                programme,
                host_country,
                origin_country,
                household_size,
                members,
                language,
                idempotency_key,
            };
            let result = client::open_case(&connect(&args)?, &new).await;
            (args, result)
        }
        Command::Case {
            command:
                CaseCommand::Show {
                    reference,
                    client: args,
                },
        } => {
            let result = client::show_case(&connect(&args)?, &reference).await;
            (args, result)
        }
        Command::Case {
            command:
                CaseCommand::List {
                    stage,
                    programme,
                    host_country,
                    origin_country,
                    status,
                    overdue,
                    page_size,
                    page_token,
                    client: args,
                },
        } => {
            let filters = client::ListFilters {
                stage,
                programme,
                host_country,
                origin_country,
                status,
                overdue,
                page_size,
                page_token,
            };
            let result = client::list_cases(&connect(&args)?, &filters).await;
            (args, result)
        }
        Command::Inbox {
            task_type,
            overdue,
            due_before,
            limit,
            offset,
            client: args,
        } => {
            let filters = client::InboxFilters {
                task_type,
                overdue,
                due_before,
                limit,
                offset,
            };
            let result = client::inbox(&connect(&args)?, &filters).await;
            (args, result)
        }
        Command::Task {
            command:
                TaskCommand::Complete {
                    reference,
                    task,
                    outcome,
                    reason,
                    client: args,
                },
        } => {
            let result = client::complete_task(
                &connect(&args)?,
                &reference,
                task,
                &outcome,
                reason.as_deref(),
            )
            .await;
            (args, result)
        }
        _ => anyhow::bail!("not an API client command"),
    };
    let (json, out) = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", client::render(&out));
    }
    Ok(())
}

async fn run(command: Command, settings: Settings, config_dir: &Path) -> anyhow::Result<()> {
    match command {
        Command::Bench {
            cases,
            parked,
            chaos,
            out,
            parallel,
            cache,
            timeout,
            record_history,
        } => {
            let options = homeward::bench::Options {
                cases,
                parked,
                chaos,
                out: out.clone(),
                parallel: parallel.max(1),
                cache,
                timeout,
                record_history,
            };
            let report = homeward::bench::run(&settings, config_dir, options).await?;
            println!("{}", homeward::bench::summary(&report));
            println!("report: {}", out.display());
            if !homeward::bench::passed(&report) {
                anyhow::bail!("the benchmark's checks failed (see the report)");
            }
            Ok(())
        }
        Command::Migrate => {
            let store =
                homeward_activities::CaseStore::connect(settings.database.url.expose_secret(), 1)
                    .await
                    .context("failed to open the case store (database.url)")?;
            store.migrate().await.context("failed to migrate")?;
            println!("migrations applied ({:?})", store.backend());
            Ok(())
        }
        Command::User { command } => homeward::user_commands::run(&settings, command).await,
        Command::Sandbox => {
            let (addr, task) = start_sandbox(&settings).await?;
            println!("partner sandbox on http://{addr} (ledger: http://{addr}/ledger)");
            shutdown_signal().await;
            task.abort();
            Ok(())
        }
        Command::Api => serve(&settings, Role::Api, None).await,
        Command::Worker { bench_twin } => {
            let extra = bench_twin.then_some(homeward_devkit::twin::register as ExtraRegistrations);
            serve(&settings, Role::Worker, extra).await
        }
        Command::Dev => dev(settings).await,
        Command::Case { .. } | Command::Inbox { .. } | Command::Task { .. } => {
            anyhow::bail!("API client commands run without configuration")
        }
    }
}

/// Starts the partner sandbox on sandbox.port (loopback).
async fn start_sandbox(
    settings: &Settings,
) -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let sb = &settings.sandbox;
    let faults = SandboxFaults {
        error_rate: sb.error_rate,
        timeout_rate: sb.timeout_rate,
        hang: settings.partners.timeout + Duration::from_secs(5),
        latency: sb.latency,
        refuse_offers_containing: sb.refuse_offers_containing.clone(),
        refuse_keys_containing: sb.refuse_keys_containing.clone(),
        departs_in: sb.departs_in,
        confirm_after: sb.confirm_after,
        webhook: sb
            .webhook_url
            .clone()
            .zip(settings.partners.webhook_secret())
            .map(|(url, secret)| Webhook { url, secret }),
    };
    let sandbox = if sb.ledger == "memory" {
        Sandbox::new(faults, sb.seed)
    } else {
        Sandbox::durable(faults, sb.seed, &sb.ledger)
            .await
            .map_err(|e| anyhow::anyhow!("key sandbox.ledger: {e}"))?
    };
    sandbox
        .serve(sb.port)
        .await
        .with_context(|| format!("failed to bind the sandbox on 127.0.0.1:{}", sb.port))
}

/// Runs the API or a worker against an external cluster; `extra` registers workflows and
/// activities beside Homeward's own (the benchmark's twin, on its workers only).
async fn serve(
    settings: &Settings,
    role: Role,
    extra: Option<ExtraRegistrations>,
) -> anyhow::Result<()> {
    // Outside `homeward dev`, the secrets published in config/default.toml are refused.
    settings.refuse_published_secrets()?;
    let partners = partners_from(settings)?;
    let app = Application::build_with(settings, role, false, partners, extra).await?;
    tracing::info!(addr = %app.http_addr(), ?role, "listening");
    app.run_until(shutdown_signal()).await
}

async fn dev(mut settings: Settings) -> anyhow::Result<()> {
    let dev = settings.dev.clone();
    // Everything the stack writes (databases, keys, Temporal's files) is the user's alone.
    homeward::files::private_umask();
    homeward::files::secure_data_dir(&dev.data_dir)
        .with_context(|| format!("failed to prepare {}", dev.data_dir.display()))?;
    homeward::keys::fill_dev_keys(&mut settings)?;
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
    // The embedded sandbox calls this stack's own API with its webhooks, whatever its port.
    let api_port = settings.api.port;
    if let Some(url) = settings.sandbox.webhook_url.as_mut()
        && settings.sandbox.embedded
        && api_port != 0
        && url.host_str() == Some("127.0.0.1")
    {
        let _ = url.set_port(Some(api_port));
    }
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
