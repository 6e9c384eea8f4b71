//! End to end: the HTTP API, the worker and a real Temporal dev server on a real SQLite file.

use std::process::Command;
use std::time::Duration;

use crate::support::{RunningApp, TestStack, start_temporal, temporal_cli};

#[tokio::test]
async fn a_case_opened_through_the_api_is_visible_to_temporal_workflow_describe() {
    let stack = TestStack::start().await;
    let reference = stack.open_case().await;
    let view = stack.wait_for_stage(&reference, "counselling").await;
    assert_eq!(view["intake"]["origin_country"], "IRQ");

    let out = Command::new(temporal_cli())
        .args(["workflow", "describe", "--output", "json", "--address"])
        .arg(stack.temporal_address())
        .args(["--workflow-id", &format!("return-case-{reference}")])
        .output()
        .expect("temporal workflow describe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let described: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let info = &described["workflowExecutionInfo"];
    assert_eq!(info["type"]["name"], "ReturnCase");
    assert_eq!(info["status"], "WORKFLOW_EXECUTION_STATUS_RUNNING");
    assert_eq!(info["taskQueue"], "homeward-cases");
    stack.stop().await;
}

#[tokio::test]
async fn a_case_survives_a_restart_of_the_worker_and_the_temporal_server() {
    let mut stack = TestStack::start().await;
    let reference = stack.open_case().await;
    // Wait for the counselling session to open: the stage changes a moment before.
    let waiting = |v: &serde_json::Value| {
        v["stage"] == "counselling" && v["tasks"][0]["task_type"] == "counselling_session"
    };
    let before = stack
        .wait_for(&reference, "counselling session", waiting)
        .await;

    // Stop everything: the worker and API first, then the Temporal server.
    stack.app.take().expect("app").stop().await;
    stack
        .temporal
        .take()
        .expect("temporal")
        .stop(Duration::from_secs(10))
        .await;

    // Bring both back on the same files and port.
    let temporal = start_temporal(&stack.dir.path().join("temporal.db"), stack.temporal_port).await;
    stack.temporal = Some(temporal);
    stack.app = Some(RunningApp::start(&stack.settings).await);

    let after = stack
        .wait_for(&reference, "counselling session", waiting)
        .await;
    assert_eq!(before, after, "the case came back unchanged");

    // And the restarted stack still takes new work.
    let second = stack.open_case().await;
    stack.wait_for_stage(&second, "counselling").await;
    stack.stop().await;
}

#[tokio::test]
async fn bad_requests_get_a_4xx_naming_the_problem_and_never_a_500() {
    let stack = TestStack::start().await;
    let post = |body: &'static str, content_type: &'static str| {
        stack
            .http
            .post(stack.url("/api/v1/cases"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    // Every bad field is named at once.
    let resp = post(
        r#"{"programme":"NL AVRR","host_country":"Netherlands","household_size":"two","pet":"cat"}"#,
        "application/json",
    )
    .await
    .expect("request");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
    for field in [
        "programme",
        "host_country",
        "origin_country",
        "household_size",
        "pet",
    ] {
        assert!(
            body["fields"][field].is_string(),
            "{field} not named in {body}"
        );
    }

    // Malformed JSON.
    let resp = post(r#"{"programme": "#, "application/json")
        .await
        .expect("request");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(
        body["fields"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("malformed JSON")
    );

    // Not JSON at all.
    let resp = post("programme=nl-avrr", "application/x-www-form-urlencoded")
        .await
        .expect("request");
    assert_eq!(resp.status(), 415);

    // Too large. (Its own client: the server closes a connection whose body it refused.)
    let big = format!(r#"{{"programme":"{}"}}"#, "a".repeat(200_000));
    let resp = stack
        .fresh_client()
        .post(stack.url("/api/v1/cases"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "payload_too_large");

    // A malformed reference, and an unknown one.
    let resp = stack
        .http
        .get(stack.url("/api/v1/cases/not-a-ref"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(body["fields"]["reference"].is_string());
    let resp = stack
        .http
        .get(stack.url("/api/v1/cases/HW-000000000000"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 404);

    stack.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_report_the_real_dependencies() {
    let mut stack = TestStack::start().await;
    let http = stack.http.clone();

    let health = http
        .get(stack.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = http.get(stack.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);

    stack.open_case().await;
    let metrics = http
        .get(stack.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("homeward_cases_opened_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("temporal_"),
        "no Temporal runtime metrics in {metrics}"
    );

    // With the Temporal server gone, the process is still up but no longer ready.
    stack.temporal.take().expect("temporal").kill().await;
    let health = http
        .get(stack.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = http.get(stack.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["temporal"], "unavailable");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn payment_webhooks_need_a_fresh_valid_signature_and_reach_only_a_case_that_exists() {
    use homeward_activities::http_partners::payment_webhook::{SIGNATURE_HEADER, body, sign};
    use homeward_workflows::activities::PaymentState;
    use homeward_workflows::domain::CaseRef;

    let stack = TestStack::start().await;
    let reference = stack.open_case().await;
    stack.wait_for_stage(&reference, "counselling").await;
    let secret = stack
        .settings
        .partners
        .webhook_secret()
        .expect("the dev config has a webhook secret");
    // No API key: the provider signs instead.
    let hook = reqwest::Client::new();
    let send = |event: Vec<u8>, signature: Option<String>| {
        let mut req = hook
            .post(stack.url("/api/v1/webhooks/payments"))
            .header("content-type", "application/json")
            .body(event);
        if let Some(s) = signature {
            req = req.header(SIGNATURE_HEADER, s);
        }
        async move {
            let resp = req.send().await.expect("post");
            let status = resp.status().as_u16();
            (
                status,
                resp.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let now = chrono::Utc::now();
    let case = CaseRef::parse(&reference).expect("ref");
    let event = body("pay-9", PaymentState::Confirmed, &case, "k");

    let (status, _) = send(event.clone(), None).await;
    assert_eq!(status, 401, "unsigned");
    let (status, _) = send(event.clone(), Some(sign(b"guess", &event, now))).await;
    assert_eq!(status, 401, "wrong secret");
    let stale = now - chrono::Duration::hours(1);
    let (status, _) = send(event.clone(), Some(sign(secret.as_bytes(), &event, stale))).await;
    assert_eq!(status, 401, "replayed an hour later");

    // Signed, but not an event we understand: 400 naming the field.
    let odd = br#"{"data":{"id":"pay-9","status":"lost","reference":"HW-0123456789AB"}}"#.to_vec();
    let (status, err) = send(odd.clone(), Some(sign(secret.as_bytes(), &odd, now))).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["fields"]["status"].is_string(), "{err}");

    // Signed, for a case that does not exist: 404.
    let other = CaseRef::parse("HW-0000000000AB").expect("ref");
    let ghost = body("pay-9", PaymentState::Confirmed, &other, "k");
    let (status, _) = send(ghost.clone(), Some(sign(secret.as_bytes(), &ghost, now))).await;
    assert_eq!(status, 404);

    // Signed, for an open case: accepted (the case keeps it until a payment of that id waits).
    let (status, _) = send(event.clone(), Some(sign(secret.as_bytes(), &event, now))).await;
    assert_eq!(status, 202);
    let view = stack.wait_for_stage(&reference, "counselling").await;
    assert!(
        view["facts"]["payments"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    stack.stop().await;
}
