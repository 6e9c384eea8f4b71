//! `homeward bench`: the load, latency and chaos benchmark on a private stack.

use std::path::Path;

use crate::cli::Command;
use crate::settings::Settings;

/// Runs the benchmark and prints its summary; fails when its checks did.
pub async fn run(command: Command, settings: &Settings, config_dir: &Path) -> anyhow::Result<()> {
    let Command::Bench {
        cases,
        parked,
        chaos,
        out,
        parallel,
        cache,
        timeout,
        compare_protection,
        record_history,
        inbox_rows,
        inbox_postgres,
    } = command
    else {
        anyhow::bail!("not the bench command");
    };
    if !inbox_rows.is_empty() {
        let report = crate::bench::inbox::run(&inbox_rows, inbox_postgres.as_deref()).await?;
        println!("{}", crate::bench::inbox::summary(&report));
        std::fs::write(&out, serde_json::to_vec_pretty(&report)?)?;
        println!("report: {}", out.display());
        if !report.goal_met {
            anyhow::bail!("the inbox goal was not met (see the report)");
        }
        return Ok(());
    }
    let options = crate::bench::Options {
        cases,
        parked,
        chaos,
        out: out.clone(),
        parallel: parallel.max(1),
        cache,
        timeout,
        record_history,
        compare_protection,
        protected: true,
    };
    let report = crate::bench::run(settings, config_dir, options).await?;
    println!("{}", crate::bench::summary(&report));
    println!("report: {}", out.display());
    if !crate::bench::passed(&report) {
        anyhow::bail!("the benchmark's checks failed (see the report)");
    }
    Ok(())
}
