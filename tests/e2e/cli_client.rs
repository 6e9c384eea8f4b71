//! `homeward case|inbox|task`: the binary as a client of a running API, as a person would use it.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{TestStack, create_key};

/// Runs `homeward args…` against the stack with `key`; returns (exit code, stdout, stderr).
async fn homeward(stack: &TestStack, key: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_homeward"));
    cmd.args(args)
        .env("HOMEWARD_API_URL", stack.url(""))
        .env("HOMEWARD_API_KEY", key)
        // A client needs no configuration: run it where there is none.
        .current_dir(std::env::temp_dir());
    let out = cmd.output().await.expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_officer_works_a_case_from_the_terminal() {
    let stack = TestStack::start().await;
    let key = create_key(&stack.settings, "Officer", "return_officer", Some("NLD")).await;

    let open = [
        "case",
        "open",
        "--programme",
        "nl-avrr",
        "--host-country",
        "NLD",
        "--origin-country",
        "IRQ",
        "--household-size",
        "1",
        "--idempotency-key",
        "terminal-1",
        "--json",
    ];
    let (code, out, err) = homeward(&stack, &key, &open).await;
    assert_eq!(code, 0, "{err}");
    let opened: Value = serde_json::from_str(&out).expect("json");
    let reference = opened["reference"].as_str().expect("reference").to_owned();
    // The same command again opens nothing new.
    let (_, again, _) = homeward(&stack, &key, &open).await;
    let again: Value = serde_json::from_str(&again).expect("json");
    assert_eq!(again["reference"], opened["reference"]);

    // The table lists it once visibility has it, and the inbox holds its counselling session.
    let deadline = Instant::now() + Duration::from_secs(30);
    let task_line = loop {
        let (code, out, err) = homeward(&stack, &key, &["inbox"]).await;
        assert_eq!(code, 0, "{err}");
        if let Some(line) = out.lines().find(|l| l.contains(&reference)) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "not in the inbox: {out}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(task_line.contains("counselling_session"), "{task_line}");
    let task_id = task_line.split_whitespace().nth(1).expect("task id");
    let (code, list, err) =
        homeward(&stack, &key, &["case", "list", "--stage", "counselling"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(list.starts_with("REFERENCE"), "{list}");
    assert!(list.contains(&reference), "{list}");

    // Completing the task shows the case's new state.
    let (code, shown, err) = homeward(
        &stack,
        &key,
        &[
            "task",
            "complete",
            &reference,
            task_id,
            "--outcome",
            r#"{"type":"counselling","decision":"wants_to_return"}"#,
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(shown.contains("counselling_session"), "{shown}");
    let (code, shown, _) = homeward(&stack, &key, &["case", "show", &reference]).await;
    assert_eq!(code, 0);
    assert!(
        shown.contains("stage") && shown.contains("consent"),
        "{shown}"
    );

    // Mistakes read as one line and exit 1.
    let (code, _, err) = homeward(&stack, &key, &["case", "show", "HW-NOPE"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("400 invalid_request"), "{err}");
    let (code, _, err) = homeward(
        &stack,
        &key,
        &["task", "complete", &reference, "1", "--outcome", "{oops"],
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("--outcome must be JSON"), "{err}");
    let (code, _, err) = homeward(&stack, "", &["inbox"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("no API key"), "{err}");
    stack.stop().await;
}

#[tokio::test]
async fn an_officer_records_finds_and_exports_a_person_from_the_terminal() {
    let stack = TestStack::start().await;
    let key = create_key(&stack.settings, "Officer", "return_officer", Some("NLD")).await;
    let (code, out, err) = homeward(
        &stack,
        &key,
        &[
            "case",
            "open",
            "--programme",
            "nl-avrr",
            "--host-country",
            "NLD",
            "--origin-country",
            "IRQ",
            "--household-size",
            "1",
            "--json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let opened: Value = serde_json::from_str(&out).expect("json");
    let reference = opened["reference"].as_str().expect("reference").to_owned();

    // The record goes in through a file, not the command line.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("amal.json");
    std::fs::write(
        &file,
        r#"{"names": {"document": {"given": "Amal", "family": "Hassan"}},
            "date_of_birth": "1990-05-31",
            "documents": [{"kind": "passport", "number": "P7712", "issuing_country": "IRQ"}],
            "phone": "+9647701234567"}"#,
    )
    .expect("write");
    let file = file.to_str().expect("utf-8");
    let (code, _, err) = homeward(
        &stack,
        &key,
        &["person", "set", &reference, "0", "--file", file],
    )
    .await;
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = homeward(&stack, &key, &["person", "show", &reference]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Amal Hassan") && out.contains("+9647701234567"),
        "{out}"
    );

    let (code, out, err) = homeward(
        &stack,
        &key,
        &[
            "person", "search", "--given", "HASSAN", "--family", "amal", "--born", "1990",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&reference), "{out}");

    let (code, out, err) = homeward(&stack, &key, &["person", "export", &reference, "0"]).await;
    assert_eq!(code, 0, "{err}");
    let export: Value = serde_json::from_str(&out).expect("the export is JSON");
    assert_eq!(
        export["record"]["documents"][0]["number"], "P7712",
        "{export}"
    );

    // A field the API refuses comes back as one line naming it; an officer may not erase.
    std::fs::write(
        file,
        r#"{"names": {"document": {"given": "A", "family": "B"}}, "phone": "123"}"#,
    )
    .expect("write");
    let (code, _, err) = homeward(
        &stack,
        &key,
        &["person", "set", &reference, "0", "--file", file],
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("phone") && err.starts_with("homeward: 400"),
        "{err}"
    );
    let (code, _, err) = homeward(
        &stack,
        &key,
        &["person", "erase", &reference, "--reason", "subject_request"],
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("403"), "{err}");
    stack.stop().await;
}
