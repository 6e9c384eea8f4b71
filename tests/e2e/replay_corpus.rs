//! The replay corpus: every history in `tests/histories/` (recorded by earlier versions of the
//! workflow code; format in `homeward::histories`) must replay on today's code. A change to what
//! a case does that would break a recorded case fails here, before it can break a running one.

use homeward::histories::{Scenario, corpus_files};
use homeward_workflows::return_case::ReturnCase;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

use crate::support::histories::corpus_dir;

/// The replayer as a worker is configured: with the payload codec, which passes the
/// plaintext payloads of histories recorded before it through unchanged.
fn replayer() -> WorkflowReplayer {
    let keys = homeward_activities::codec::PayloadCodecKeys::new([7; 32], vec![]);
    WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<ReturnCase>()
            .expect("register")
            .data_converter(homeward_activities::codec::data_converter(keys))
            .build(),
    )
    .expect("replayer")
}

fn corpus() -> Vec<(String, Scenario)> {
    corpus_files(&corpus_dir())
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (
                name,
                Scenario::read(&path).unwrap_or_else(|e| panic!("{e:#}")),
            )
        })
        .collect()
}

/// Replays every run of a scenario; the problems, one line each.
async fn replay(replayer: &WorkflowReplayer, name: &str, scenario: &Scenario) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, run) in scenario.runs.iter().enumerate() {
        if let Err(e) = replayer.replay_workflow(run.clone().into()).await {
            problems.push(format!("{name} run {}: {e}", i + 1));
        }
    }
    problems
}

#[tokio::test]
async fn every_recorded_history_replays_on_todays_workflow_code() {
    let corpus = corpus();
    assert!(
        corpus.len() >= 20,
        "the corpus holds {} scenarios; it should hold every lifecycle scenario",
        corpus.len()
    );
    let replayer = replayer();
    let mut problems = Vec::new();
    let mut runs = 0;
    for (name, scenario) in &corpus {
        runs += scenario.runs.len();
        problems.extend(replay(&replayer, name, scenario).await);
    }
    assert!(
        problems.is_empty(),
        "{} of {runs} recorded runs no longer replay:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The check above can fail: a history whose first activity is renamed is one the workflow
/// code never wrote, and the replayer says so.
#[tokio::test]
async fn a_history_the_code_did_not_write_fails_to_replay() {
    let (name, mut tampered) = corpus()
        .into_iter()
        .find(|(_, s)| {
            s.runs[0].events.iter().any(|e| {
                matches!(
                    e.attributes,
                    Some(Attributes::ActivityTaskScheduledEventAttributes(_))
                )
            })
        })
        .expect("a recorded scenario with an activity");
    tampered.runs.truncate(1);
    for event in &mut tampered.runs[0].events {
        if let Some(Attributes::ActivityTaskScheduledEventAttributes(a)) = &mut event.attributes {
            if let Some(t) = a.activity_type.as_mut() {
                t.name = "not_an_activity_of_this_workflow".into();
            }
            break;
        }
    }
    let problems = replay(&replayer(), &name, &tampered).await;
    assert_eq!(problems.len(), 1, "the tampered history replayed: {name}");
}
