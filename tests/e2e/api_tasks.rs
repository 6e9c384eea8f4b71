//! Decisions through the HTTP API, as the people who make them, on a real Temporal dev server.

use crate::support::{TestStack, client_with_key, create_key};
use serde_json::{Value, json};

async fn task_id(stack: &TestStack, reference: &str, task_type: &str) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let view: Value = stack
            .http
            .get(stack.url(&format!("/api/v1/cases/{reference}")))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if let Some(t) = view["tasks"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["task_type"] == task_type))
        {
            return t["id"].as_u64().expect("id");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {task_type} task: {view}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let resp = client.post(url).json(&body).send().await.expect("post");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test]
async fn people_decide_through_the_api_and_the_validator_has_the_last_word() {
    let stack = TestStack::start().await;
    let ops = client_with_key(&create_key(&stack.settings, "Ops", "operations", Some("NLD")).await);
    let partner_elsewhere =
        client_with_key(&create_key(&stack.settings, "Partner", "partner", Some("NLD/AFG")).await);
    let r = stack.open_case().await;
    let task_url = |id: u64| stack.url(&format!("/api/v1/cases/{r}/tasks/{id}"));

    // Unauthenticated and out-of-scope callers see nothing.
    let anon = reqwest::Client::new()
        .get(stack.url(&format!("/api/v1/cases/{r}")))
        .send()
        .await
        .expect("get");
    assert_eq!(anon.status(), 401);
    let elsewhere = partner_elsewhere
        .get(stack.url(&format!("/api/v1/cases/{r}")))
        .send()
        .await
        .expect("get");
    assert_eq!(elsewhere.status(), 404);
    // Nor can they act on it: the workflow's validator knows the actor's country.
    let (status, body) = post(
        &partner_elsewhere,
        task_url(1),
        json!({"outcome": {"type": "arrival", "received": true}}),
    )
    .await;
    assert_eq!(status, 404, "{body}");

    // The officer records counselling and the three adults' declarations.
    let id = task_id(&stack, &r, "counselling_session").await;
    let (status, view) = post(
        &stack.http,
        task_url(id),
        json!({"outcome": {"type": "counselling", "decision": "wants_to_return"}}),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["decisions"][0]["what"], "counselling_session");
    for _ in 0..3 {
        let id = task_id(&stack, &r, "consent").await;
        let (status, body) = post(
            &stack.http,
            task_url(id),
            json!({"outcome": {"type": "consent", "signed": true}}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    // Eligibility: not the officer's to approve (403), not a consent (422), then approved (200),
    // and a second answer finds the task closed (409).
    let id = task_id(&stack, &r, "eligibility_approval").await;
    let approve = json!({"outcome": {"type": "approval", "approved": true}});
    let (status, body) = post(&stack.http, task_url(id), approve.clone()).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(
        &ops,
        task_url(id),
        json!({"outcome": {"type": "consent", "signed": true}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = post(&ops, task_url(id), json!({"outcome": {"type": "approval"}})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(&ops, task_url(id), approve.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&ops, task_url(id), approve).await;
    assert_eq!(status, 409, "{body}");

    // The officer withdraws consent; the case unwinds and closes.
    let (status, body) = post(
        &stack.http,
        stack.url(&format!("/api/v1/cases/{r}/withdrawal")),
        json!({"reason": "the returnee changed their mind"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let closed = stack.wait_for_stage(&r, "closed").await;
    assert_eq!(closed["closure"]["reason"], "consent_withdrawn");

    // Every attempt is in the audit trail, refused ones included.
    let store = homeward_activities::CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&stack.settings.database.url),
        1,
    )
    .await
    .expect("store");
    let trail = store
        .audit_trail(&homeward_workflows::domain::CaseRef::parse(&r).expect("ref"))
        .await
        .expect("trail");
    let rejected = trail
        .iter()
        .filter(|e| e.event.outcome == "rejected")
        .count();
    let accepted = trail
        .iter()
        .filter(|e| e.event.outcome == "accepted")
        .count();
    // 403, 422, 409, and the foreign partner's attempt (404).
    assert_eq!(rejected, 4, "{trail:?}");
    assert!(accepted >= 6, "{trail:?}");
    stack.stop().await;
}

#[tokio::test]
async fn the_programme_list_shows_each_programmes_pinned_version_and_rules() {
    let stack = TestStack::start().await;
    let resp = stack
        .http
        .get(stack.url("/api/v1/programmes"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    let list: Value = resp.json().await.expect("json");
    let ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["nl-avrr", "uk-vrs"]);
    assert!(list[0]["version"].as_str().expect("version").contains('+'));
    assert_eq!(list[0]["deadlines"]["consent"], "7days");
    let anon = reqwest::Client::new()
        .get(stack.url("/api/v1/programmes"))
        .send()
        .await
        .expect("get");
    assert_eq!(anon.status(), 401);
    stack.stop().await;
}
