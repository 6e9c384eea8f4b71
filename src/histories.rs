//! The replay corpus format (`tests/histories/`): one JSON file per scenario, holding every run
//! of one case, oldest first (a case continues as new into reintegration, so most have two), as
//! the SDK's `History` serialises. Written by the lifecycle tests (`RECORD_HISTORIES=dir`) and
//! by `homeward bench --record-history FILE`; replayed by the `replay_corpus` tests. The one
//! definition of the format, so writers and the reader cannot drift apart.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use homeward_workflows::return_case::ReturnCase;
use serde::{Deserialize, Serialize};
use temporalio_client::{
    Client, NamespacedClient, WorkflowExecutionInfo, WorkflowFetchHistoryOptions, WorkflowHandle,
};
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// One scenario: the runs of one case, oldest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct Scenario {
    /// What recorded it (a test's name, or `bench`).
    pub scenario: String,
    /// The Homeward commit it was recorded on (`git rev-parse --short HEAD`), if known.
    pub recorded_on: Option<String>,
    /// Each run's history, oldest first.
    pub runs: Vec<History>,
}

impl Scenario {
    /// A scenario recorded now, from this checkout.
    pub fn new(scenario: impl Into<String>, runs: Vec<History>) -> Self {
        Self {
            scenario: scenario.into(),
            recorded_on: std::process::Command::new("git")
                .args(["rev-parse", "--short", "HEAD"])
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            runs,
        }
    }

    /// Writes it as JSON.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        use anyhow::Context;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        let json = serde_json::to_string(self).context("failed to serialise a history")?;
        std::fs::write(path, json).with_context(|| format!("failed to write {}", path.display()))
    }

    /// Reads one scenario file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a recorded scenario", path.display()))
    }
}

/// Every run of a case's workflow, oldest first, following continue-as-new back to the first run.
pub async fn fetch_runs(client: &Client, workflow_id: &str) -> anyhow::Result<Vec<History>> {
    let mut run_id: Option<String> = None;
    let mut runs = Vec::new();
    loop {
        let handle = WorkflowHandle::<Client, ReturnCase>::new(
            client.clone(),
            WorkflowExecutionInfo::builder()
                .namespace(client.namespace())
                .workflow_id(workflow_id.to_owned())
                .maybe_run_id(run_id.clone())
                .build(),
        );
        let events: Vec<_> = handle
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .collect()
            .await;
        let events = events.into_iter().collect::<Result<Vec<_>, _>>()?;
        let previous = events.first().and_then(|e| match &e.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
                Some(a.continued_execution_run_id.clone()).filter(|r| !r.is_empty())
            }
            _ => None,
        });
        runs.push(History { events });
        match previous {
            Some(p) => run_id = Some(p),
            None => {
                runs.reverse();
                return Ok(runs);
            }
        }
    }
}

/// Every scenario file in `dir`, sorted by name.
pub fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
