//! What an attacker's probe of the running stack found (issue "Security fixes"), one test per
//! finding, each on the real stack: a partner sees only what was handed over to it, a forged
//! payment webhook pays nothing twice, Temporal is no longer the only trust boundary, search
//! attributes single out no vulnerability, and abuse of the API is limited.

use std::time::Duration;

use serde_json::{Value, json};
use temporalio_client::WorkflowExecuteUpdateOptions;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use homeward_activities::http_partners::payment_webhook;
use homeward_workflows::activities::PaymentState;
use homeward_workflows::return_case::ReturnCase;
use homeward_workflows::tasks::{Actor, Role, TaskCompletion, TaskOutcome, TaskType};

use crate::lifecycle::{pay_next_tranche, signed, to_documents, to_reintegration, wants_to_return};
use crate::support::lifecycle::Lifecycle;
use crate::support::{TestStack, client_with_key, create_key};

/// The webhook secret config/default.toml publishes for the sandbox.
const PUBLISHED_SECRET: &str = "sandbox-only-webhook-secret";

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let resp = client.get(url).send().await.expect("get");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let resp = client.post(url).json(&body).send().await.expect("post");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

/// Sends a signed payment webhook to the stack's API; its status.
async fn webhook(url: String, secret: &str, body: &[u8]) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header(
            payment_webhook::SIGNATURE_HEADER,
            payment_webhook::sign(secret.as_bytes(), body, chrono::Utc::now()),
        )
        .body(body.to_vec())
        .send()
        .await
        .expect("webhook")
        .status()
        .as_u16()
}

/// Item 2: a "failed" webhook signed with the published secret, for a payment still pending at
/// the provider, once made finance pay again. Now the case asks the provider first: nothing
/// happens until the provider itself settles the payment; one payment in the end.
#[tokio::test]
async fn a_forged_failed_webhook_is_checked_with_the_provider_and_nothing_is_paid_twice() {
    use homeward_activities::http_partners::{Endpoint, HttpPartner};
    use homeward_devkit::sandbox::{Sandbox, SandboxFaults};
    use std::sync::Arc;

    // The provider keeps payments pending for an hour of real time: longer than this test.
    let sandbox = Sandbox::new(
        SandboxFaults {
            confirm_after: Some(Duration::from_secs(3600)),
            ..SandboxFaults::default()
        },
        7,
    );
    let ledger = sandbox.ledger.clone();
    let (addr, _task) = sandbox.serve(0).await.expect("serve");
    let partner = |name| {
        Arc::new(
            HttpPartner::new(
                name,
                Endpoint {
                    base_url: format!("http://{addr}").parse().expect("url"),
                    token: None,
                    timeout: Duration::from_secs(5),
                },
            )
            .expect("client"),
        )
    };
    let partners = homeward_activities::Partners {
        travel: partner("travel"),
        payments: partner("payments"),
        outreach: partner("outreach"),
        templates: Arc::new(homeward_activities::notices::Templates::builtin()),
        routes: Arc::new(homeward_activities::travel::Routes::default()),
        offices: Arc::new(homeward_devkit::ledger::placeholder_offices()),
    };
    let lc = Lifecycle::start_partners(partners, ledger.clone()).await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    lc.wait_for_history(&r, "the disbursement", |events| {
        events.iter().any(|e| is_activity(e, "payments.disburse"))
    })
    .await;
    // The history says it was scheduled; the provider has it once the call arrives.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (disbursement, receipt) = loop {
        if let Some(p) = ledger.snapshot().payments.into_values().next() {
            break p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no payment at the provider"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(receipt.state, PaymentState::Pending);
    let reference = disbursement.reference.clone();
    let hook = lc.api_url("/api/v1/webhooks/payments");

    // The forgery: correctly signed with the published secret, claiming the payment failed.
    let forged = payment_webhook::body(
        &receipt.payment_id,
        PaymentState::Failed,
        &reference,
        &receipt.idempotency_key,
    );
    assert_eq!(webhook(hook.clone(), PUBLISHED_SECRET, &forged).await, 202);
    // The case asks the provider, which still says pending: the claim changes nothing.
    lc.wait_for_history(&r, "the provider asked after the webhook", |events| {
        let signalled = events
            .iter()
            .position(|e| e.event_type == EventType::WorkflowExecutionSignaled as i32);
        signalled.is_some_and(|i| {
            events[i..]
                .iter()
                .any(|e| e.event_type == EventType::ActivityTaskCompleted as i32)
        })
    })
    .await;
    let view = lc.view(&r).await;
    assert!(
        view.tasks
            .iter()
            .all(|t| t.task_type != TaskType::PaymentFailed),
        "a forged webhook opened a payment-failed task: {:?}",
        view.tasks
    );
    assert!(view.facts.payments.is_empty());

    // The provider settles it, and its genuine webhook arrives (twice: the second is ignored).
    ledger.settle(&receipt.payment_id).await.expect("settle");
    let genuine = payment_webhook::body(
        &receipt.payment_id,
        PaymentState::Confirmed,
        &reference,
        &receipt.idempotency_key,
    );
    assert_eq!(webhook(hook.clone(), PUBLISHED_SECRET, &genuine).await, 202);
    assert_eq!(
        webhook(hook, PUBLISHED_SECRET, &genuine).await,
        200,
        "replayed event"
    );
    let view = lc
        .wait_for(&r, "the payment recorded", |v| !v.facts.payments.is_empty())
        .await;
    assert_eq!(view.facts.payments.len(), 1);
    let seen = ledger.snapshot();
    assert_eq!(seen.payments.len(), 1, "one payment at the provider");
    assert_eq!(seen.disburse_calls, 1, "never paid again");
    lc.replay(&r).await;
    lc.stop().await;
}

fn is_activity(
    e: &temporalio_common::protos::temporal::api::history::v1::HistoryEvent,
    name: &str,
) -> bool {
    matches!(&e.attributes,
        Some(Attributes::ActivityTaskScheduledEventAttributes(a))
            if a.activity_type.as_ref().is_some_and(|t| t.name == name))
}

/// Item 4: an Update sent straight to the namespace with an invented actor closed a case. Now
/// the worker refuses every decision without the API's seal (missing, another key, stale, or
/// sealed for another decision), and accepted decisions are audited by the case itself.
#[tokio::test]
async fn a_decision_sent_straight_to_temporal_without_the_apis_seal_is_refused() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    let task = lc.task(&r, TaskType::CounsellingSession).await;
    let nobody = Actor {
        id: "u-nobody".into(),
        role: Role::ReturnOfficer,
        office: Some("NLD".into()),
        country: None,
        supervisor: false,
    };
    let decision = TaskCompletion {
        task_id: task.id,
        actor: nobody.clone(),
        reason: "invented".into(),
        outcome: TaskOutcome::Counselling {
            decision: homeward_workflows::tasks::CounsellingDecision::DoesNotWantToReturn,
        },
    };
    let now = lc.now().await;
    let wf = homeward_workflows::ids::return_case_workflow_id(
        &homeward_workflows::domain::CaseRef::parse(&r).expect("ref"),
    );
    let other_key = homeward_workflows::seal::DecisionKey::new(&[9; 32]).expect("key");
    let mut honest = decision.clone();
    honest.actor.id = "u-officer".into();
    let own_key = crate::support::decision_key(lc.settings());
    let attempts: Vec<(&str, WorkflowExecuteUpdateOptions)> = vec![
        ("no seal", WorkflowExecuteUpdateOptions::default()),
        (
            "another key",
            homeward_api::routes::tasks::sealed_at(
                &other_key,
                &wf,
                "complete_task",
                &decision,
                now,
            ),
        ),
        (
            "a stale seal",
            homeward_api::routes::tasks::sealed_at(
                &own_key,
                &wf,
                "complete_task",
                &decision,
                now - chrono::Duration::minutes(10),
            ),
        ),
        (
            "a seal of another decision",
            homeward_api::routes::tasks::sealed_at(&own_key, &wf, "complete_task", &honest, now),
        ),
    ];
    for (what, options) in attempts {
        let err = lc
            .handle(&r)
            .execute_update(ReturnCase::complete_task, decision.clone(), options)
            .await
            .expect_err(what);
        assert!(err.to_string().contains("unsealed"), "{what}: {err}");
    }
    let view = lc.view(&r).await;
    assert!(
        view.decisions.is_empty() && view.closure.is_none(),
        "{view:?}"
    );

    // A sealed decision (as the API sends it) is accepted, and the case writes it to the audit
    // trail itself: who, what, when.
    lc.complete(
        &r,
        TaskType::CounsellingSession,
        crate::support::lifecycle::officer(),
        wants_to_return(),
    )
    .await;
    lc.complete(
        &r,
        TaskType::Consent,
        crate::support::lifecycle::officer(),
        signed(),
    )
    .await;
    let store = homeward_activities::CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&lc.settings().database.url),
        1,
    )
    .await
    .expect("store");
    let reference = homeward_workflows::domain::CaseRef::parse(&r).expect("ref");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let trail = store.audit_trail(&reference).await.expect("trail");
        let recorded: Vec<_> = trail
            .iter()
            .filter(|e| e.event.outcome == "recorded" && e.event.action.starts_with("decision:"))
            .collect();
        if recorded.len() == 2 {
            assert_eq!(recorded[0].event.action, "decision:counselling_session");
            assert_eq!(recorded[0].event.actor, "u-officer");
            assert!(trail.iter().all(|e| e.event.actor != "u-nobody"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "decisions not audited by the case: {trail:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lc.replay(&r).await;
    lc.stop().await;
}

/// Drives a two-adult case through the API to its booked departure (hand-over to the
/// partner); answers its reference.
pub(crate) async fn case_at_departure(stack: &TestStack, ops: &reqwest::Client) -> String {
    let r = stack.open_case_of(2).await;
    carry_to_departure(stack, ops, &r).await;
    r
}

/// Carries an opened case of two adults to a booked departure.
pub(crate) async fn carry_to_departure(stack: &TestStack, ops: &reqwest::Client, r: &str) {
    let r = r.to_owned();
    let complete = |who: &reqwest::Client, task: &str, outcome: Value| {
        let (who, task, r) = (who.clone(), task.to_owned(), r.clone());
        async move {
            let id = stack.task_id(&r, &task).await;
            let (status, body) = post(
                &who,
                stack.url(&format!("/api/v1/cases/{r}/tasks/{id}")),
                json!({ "outcome": outcome }),
            )
            .await;
            assert_eq!(status, 200, "{task}: {body}");
        }
    };
    complete(
        &stack.http,
        "counselling_session",
        json!({"type": "counselling", "decision": "wants_to_return"}),
    )
    .await;
    complete(
        &stack.http,
        "consent",
        json!({"type": "consent", "signed": true}),
    )
    .await;
    complete(
        &stack.http,
        "consent",
        json!({"type": "consent", "signed": true}),
    )
    .await;
    complete(
        ops,
        "eligibility_approval",
        json!({"type": "approval", "approved": true}),
    )
    .await;
    let expires = (chrono::Utc::now() + chrono::Duration::days(365)).date_naive();
    complete(
        &stack.http,
        "travel_document",
        json!({"type": "travel_document", "expires_on": expires}),
    )
    .await;
    stack.wait_for_stage(&r, "departure").await;
}

/// Item 1: an origin-country partner saw every case bound for its country from intake on, of
/// every office, with reasons and flags. Now: only its office's cases bound for its country,
/// only from the booked departure, only the reception view; never before, never another's.
#[tokio::test]
async fn a_partner_sees_a_case_only_once_handed_over_to_it_and_only_the_reception_view() {
    let stack = TestStack::start().await;
    let key = |role: &'static str, office: &'static str| {
        let settings = stack.settings.clone();
        async move { client_with_key(&create_key(&settings, role, role, Some(office)).await) }
    };
    let ops = key("operations", "NLD").await;
    let partner = key("partner", "NLD/IRQ").await;
    let other_office = key("partner", "GBR/IRQ").await;
    let other_country = key("partner", "NLD/AFG").await;
    let before = stack.open_case_of(2).await;
    let handed_over = case_at_departure(&stack, &ops).await;
    let case_url = |r: &str| stack.url(&format!("/api/v1/cases/{r}"));

    // Before the hand-over: no partner sees the case, in any read.
    for p in [&partner, &other_office, &other_country] {
        assert_eq!(get(p, case_url(&before)).await.0, 404);
    }
    // After: only the partner it was handed over to, and only the reception view.
    for p in [&other_office, &other_country] {
        assert_eq!(get(p, case_url(&handed_over)).await.0, 404);
    }
    let (status, view) = get(&partner, case_url(&handed_over)).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["stage"], "departure");
    assert!(view["arrives_at"].is_string(), "{view}");
    for hidden in ["decisions", "intake", "facts", "closure"] {
        assert!(
            view.get(hidden).is_none(),
            "a partner sees {hidden}: {view}"
        );
    }
    let (_, officer_view) = get(&stack.http, case_url(&handed_over)).await;
    assert!(
        officer_view["decisions"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    );

    // Lists and the inbox follow the same rule (visibility is eventually consistent: wait).
    let listed = |client: &reqwest::Client| {
        let (client, url) = (client.clone(), stack.url("/api/v1/cases"));
        async move {
            let (_, page) = get(&client, url).await;
            page["cases"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| c["reference"].as_str().map(str::to_owned))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen = listed(&partner).await;
        if seen == [handed_over.clone()] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "partner lists {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for p in [&other_office, &other_country] {
        assert!(listed(p).await.is_empty());
    }

    // Closure ends the hand-over.
    let (status, body) = post(
        &ops,
        stack.url(&format!("/api/v1/cases/{handed_over}/closure")),
        json!({"reason": "re_migrated", "note": "left before the flight"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    stack.wait_for_stage(&handed_over, "closed").await;
    assert_eq!(get(&partner, case_url(&handed_over)).await.0, 404);
    stack.stop().await;
}

/// Item 5: `HomewardOpenTasks` listed an unaccompanied child's guardian-consent and
/// best-interests tasks (and a medical case's fit-to-travel) for anyone with visibility access.
/// Now search attributes carry the roles whose work waits, never a task type, nor a role that
/// waits only on a child's case.
#[tokio::test]
async fn a_visibility_query_for_child_protection_task_types_finds_nothing() {
    use futures_util::StreamExt;
    let stack = TestStack::start().await;
    let resp = stack
        .http
        .post(stack.url("/api/v1/cases"))
        .json(&json!({
            "programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
            "household_size": 1,
            "members": [{"age_group": "minor_under16", "vulnerabilities": ["unaccompanied_child"]}]
        }))
        .send()
        .await
        .expect("open");
    assert_eq!(resp.status(), 201);
    let r = resp.json::<Value>().await.expect("json")["reference"]
        .as_str()
        .expect("ref")
        .to_owned();
    let id = stack.task_id(&r, "counselling_session").await;
    let client = homeward_worker::connect(&homeward_worker::TemporalConnection {
        address: stack.settings.temporal.address.clone(),
        namespace: "default".into(),
        api_key: None,
        connect_timeout: Duration::from_secs(10),
        identity: "security-test".into(),
        codec: Some(crate::support::keys(&stack.settings).payloads),
    })
    .await
    .expect("client");
    let count = |query: String| {
        let client = client.clone();
        async move {
            client
                .list_workflows(query, temporalio_client::WorkflowListOptions::default())
                .collect::<Vec<_>>()
                .await
                .len()
        }
    };
    // The case is visible by the role whose work waits…
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count("HomewardWaitingOn = 'return_officer'".into()).await == 0 {
        assert!(std::time::Instant::now() < deadline, "never listed by role");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The family assessment at origin, then the best-interests determination: the partner's
    // and the child protection officer's work waits only on a child's case, so neither role is
    // listed while it does (the case shows as the officer's, like any case in consent).
    let (status, _) = post(
        &stack.http,
        stack.url(&format!("/api/v1/cases/{r}/tasks/{id}")),
        json!({"outcome": {"type": "counselling", "decision": "wants_to_return"}}),
    )
    .await;
    assert_eq!(status, 200);
    stack.task_id(&r, "family_assessment").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count("HomewardStage = 'consent'".into()).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "never listed in consent"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        count("HomewardWaitingOn = 'return_officer'".into()).await,
        1,
        "shown as the officer's case, as any other case in consent"
    );
    for role in ["partner", "child_protection"] {
        let query = format!("HomewardWaitingOn = '{role}'");
        assert_eq!(count(query.clone()).await, 0, "{query}");
    }
    // …and by no task type, in either list attribute (stage names are stages, not tasks).
    for t in TaskType::ALL {
        for attribute in ["HomewardOpenTasks", "HomewardWaitingOn"] {
            let query = format!("{attribute} = '{}'", t.as_str());
            assert_eq!(count(query.clone()).await, 0, "{query}");
        }
    }
    stack.stop().await;
}

/// Item 7: nothing throttled 300 wrong keys in 3 s. Now each address has a failed-sign-in
/// allowance (then 429 with Retry-After), and each key and address a request rate.
#[tokio::test]
async fn wrong_keys_and_floods_are_answered_429_with_retry_after() {
    let stack = TestStack::start_with(|s| {
        s.api.rate_limit_per_second = 1;
        s.api.rate_limit_burst = 30;
        s.api.failed_auth_per_minute = 5;
    })
    .await;
    let url = stack.url("/api/v1/programmes");
    let mut statuses = Vec::new();
    for n in 0..8 {
        let resp = reqwest::Client::new()
            .get(&url)
            .bearer_auth(format!("hwk_wrong_{n}"))
            .send()
            .await
            .expect("get");
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            assert!(resp.headers().get("retry-after").is_some());
        }
    }
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(statuses[5..], [429; 3], "{statuses:?}");
    // A flood with a good key: the burst, then 429.
    let mut limited = 0;
    for _ in 0..40 {
        if stack.http.get(&url).send().await.expect("get").status() == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 5, "only {limited} of 40 were limited");
    stack.stop().await;
}

/// Item 8: inputs that answered 500, 503 after 7 s, or panicked, are 400s naming the field.
#[tokio::test]
async fn inputs_that_broke_the_api_are_400s_naming_the_parameter() {
    let stack = TestStack::start().await;
    for (path, field) in [
        ("/api/v1/inbox?due_before=%2B10000-01-01", "due_before"),
        ("/api/v1/cases?page_token=00", "page_token"),
        ("/api/v1/cases?page_token=00.00", "page_token"),
    ] {
        let (status, body) = get(&stack.http, stack.url(path)).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["fields"][field].is_string(), "{path}: {body}");
    }
    let resp = reqwest::Client::new()
        .post(stack.url("/api/v1/webhooks/payments"))
        .header("content-type", "application/json")
        .header(
            payment_webhook::SIGNATURE_HEADER,
            "t=-9223372036854775808,v1=00",
        )
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert!(body["fields"]["Webhook-Signature"].is_string(), "{body}");
    // Members: an unknown field is named; free text is bounded.
    let (status, body) = post(
        &stack.http,
        stack.url("/api/v1/cases"),
        json!({"programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
               "household_size": 1, "members": [{"age_group": "adult", "nickname": "x"}]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["fields"]["members"]
            .as_str()
            .is_some_and(|m| m.contains("nickname")),
        "{body}"
    );
    let r = stack.open_case().await;
    let id = stack.task_id(&r, "counselling_session").await;
    let (status, body) = post(
        &stack.http,
        stack.url(&format!("/api/v1/cases/{r}/tasks/{id}")),
        json!({"outcome": {"type": "counselling", "decision": "undecided"}, "reason": "x".repeat(2001)}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["fields"]["reason"].is_string(), "{body}");
    stack.stop().await;
}

/// Item 9 and 10: a revoked key is refused at once; a missing case and one out of scope
/// answer the same.
#[tokio::test]
async fn a_revoked_key_is_refused_at_once_and_out_of_scope_looks_like_missing() {
    let stack = TestStack::start().await;
    let key = create_key(&stack.settings, "Ops", "operations", Some("NLD")).await;
    let ops = client_with_key(&key);
    assert_eq!(get(&ops, stack.url("/api/v1/programmes")).await.0, 200);
    let store = homeward_activities::CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&stack.settings.database.url),
        1,
    )
    .await
    .expect("store");
    let users = store.list_users().await.expect("users");
    let (user, _) = users
        .iter()
        .find(|(u, _)| u.name == "Ops")
        .expect("the user");
    store
        .revoke_keys(&user.id, chrono::Utc::now())
        .await
        .expect("revoke");
    assert_eq!(get(&ops, stack.url("/api/v1/programmes")).await.0, 401);

    let r = stack.open_case().await;
    let uk =
        client_with_key(&create_key(&stack.settings, "UK", "return_officer", Some("GBR")).await);
    let (s1, out_of_scope) = get(&uk, stack.url(&format!("/api/v1/cases/{r}"))).await;
    let (s2, missing) = get(&uk, stack.url("/api/v1/cases/HW-0000000000AB")).await;
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(
        out_of_scope["error"], missing["error"],
        "{out_of_scope} vs {missing}"
    );
    stack.stop().await;
}
