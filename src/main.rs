//! The `homeward` binary: parses the command line (`cli.rs`), loads configuration, and hands
//! the subcommand to its module in `commands/`. A configuration error prints one line and
//! exits with code 2; any other failure prints its cause chain and exits with code 1. Nothing
//! here panics on bad input.

use std::process::ExitCode;

use clap::Parser;

use homeward::cli::{Cli, Command};
use homeward::commands;
use homeward::settings::{ConfigError, Settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The API's clients need no configuration, no case store: only HTTP.
    if matches!(
        cli.command,
        Command::Case { .. }
            | Command::Person { .. }
            | Command::Inbox { .. }
            | Command::Task { .. }
    ) {
        return commands::client::run(cli.command);
    }
    let mut settings = match Settings::load(&cli.config_dir, cli.config.as_deref()) {
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
        let result = match cli.command {
            Command::Dev => commands::serve::dev(settings).await,
            Command::Api {
                bench_plain_payloads,
            } => {
                settings.plain_payloads = bench_plain_payloads;
                commands::serve::api(&settings).await
            }
            Command::Worker {
                bench_twin,
                bench_plain_payloads,
            } => {
                settings.plain_payloads = bench_plain_payloads;
                commands::serve::worker(&settings, bench_twin).await
            }
            Command::Migrate => commands::serve::migrate(&settings).await,
            Command::Reindex => commands::serve::reindex(&settings).await,
            Command::Sandbox => commands::serve::sandbox(&settings).await,
            Command::User { command } => commands::users::run(&settings, command).await,
            Command::Keys { command } => commands::keys::run(&settings, command).await,
            bench @ Command::Bench { .. } => {
                commands::bench::run(bench, &settings, &cli.config_dir).await
            }
            Command::Case { .. }
            | Command::Person { .. }
            | Command::Inbox { .. }
            | Command::Task { .. } => Err(anyhow::anyhow!(
                "API client commands run without configuration"
            )),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            // Configuration found bad after start-up began (programme files, keys) exits 2 too.
            Err(e) if e.downcast_ref::<ConfigError>().is_some() => {
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
