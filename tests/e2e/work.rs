//! Work management (issue "Work management"): claiming, assigning and releasing tasks per role,
//! scope and supervision; the inbox and the workload view from the open-task projection; the
//! projection after withdrawal, closure, rebooking and continue-as-new; `homeward reindex`
//! rebuilding what the cases wrote.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use homeward_activities::CaseStore;
use homeward_activities::work::OpenTask;
use homeward_workflows::domain::CaseRef;

use crate::support::{TestStack, client_with_key, create_user};

async fn call(client: &reqwest::Client, method: &str, url: String) -> (u16, Value) {
    let req = match method {
        "GET" => client.get(url),
        _ => client.post(url),
    };
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

async fn store_of(stack: &TestStack) -> CaseStore {
    CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&stack.settings.database.url),
        2,
    )
    .await
    .expect("store")
}

/// Waits until the case's rows in the projection satisfy `done`.
async fn rows_until(
    store: &CaseStore,
    reference: &str,
    what: &str,
    done: impl Fn(&[OpenTask]) -> bool,
) -> Vec<OpenTask> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows: Vec<OpenTask> = store
            .all_open_tasks()
            .await
            .expect("rows")
            .into_iter()
            .filter(|t| t.reference.as_str() == reference)
            .collect();
        if done(&rows) {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "{reference}: never {what}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ids(inbox: &Value) -> Vec<(String, u64)> {
    inbox["tasks"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    (
                        t["reference"].as_str().unwrap_or_default().to_owned(),
                        t["id"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn claims_assignments_and_releases_follow_role_scope_and_supervision() {
    let stack = TestStack::start().await;
    let user = |name: &'static str, role: &'static str, office: &'static str, sup: bool| {
        let settings = stack.settings.clone();
        async move {
            let (id, key) = create_user(&settings, name, role, Some(office), sup).await;
            (id, client_with_key(&key))
        }
    };
    let (ann_id, ann) = user("Ann", "return_officer", "NLD", false).await;
    let (bob_id, bob) = user("Bob", "return_officer", "NLD", false).await;
    let (_, sue) = user("Sue", "operations", "NLD", true).await;
    let (ops_id, ops) = user("Olu", "operations", "NLD", false).await;
    let (uk_id, uk) = user("Una", "return_officer", "GBR", false).await;
    let (_, partner) = user("Pia", "partner", "NLD/IRQ", false).await;
    let store = store_of(&stack).await;

    let r = stack.open_case_of(1).await;
    let rows = rows_until(&store, &r, "a counselling session", |rows| rows.len() == 1).await;
    let task = rows[0].task_id;
    let url = |action: &str| stack.url(&format!("/api/v1/cases/{r}/tasks/{task}/{action}"));

    // Outside the office, or not yet handed over: no such case. Another role: refused.
    assert_eq!(call(&uk, "POST", url("claim")).await.0, 404);
    assert_eq!(call(&partner, "POST", url("claim")).await.0, 404);
    assert_eq!(call(&ops, "POST", url("claim")).await.0, 403);

    // Ann claims it: hers in the projection, out of Bob's inbox, in hers under `mine`.
    let (status, view) = call(&ann, "POST", url("claim")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["tasks"][0]["assignee"], ann_id.as_str(), "{view}");
    rows_until(&store, &r, "held by Ann", |rows| {
        rows.iter()
            .any(|t| t.assignee.as_deref() == Some(ann_id.as_str()))
    })
    .await;
    let key = (r.clone(), u64::from(task));
    let (_, bobs) = call(&bob, "GET", stack.url("/api/v1/inbox")).await;
    assert!(!ids(&bobs).contains(&key), "{bobs}");
    let (_, mine) = call(&ann, "GET", stack.url("/api/v1/inbox?holder=mine")).await;
    assert_eq!(ids(&mine), std::slice::from_ref(&key));
    assert_eq!(mine["tasks"][0]["held_by_you"], true);

    // Bob can neither take it, nor complete it, nor release it.
    let (status, body) = call(&bob, "POST", url("claim")).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("held by a colleague")
    );
    let complete = |who: reqwest::Client| {
        let url = stack.url(&format!("/api/v1/cases/{r}/tasks/{task}"));
        async move {
            let resp = who
                .post(url)
                .json(&json!({"outcome": {"type": "counselling", "decision": "undecided"}}))
                .send()
                .await
                .expect("post");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or_default())
        }
    };
    let (status, body) = complete(bob.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("held by a colleague")
    );
    assert_eq!(call(&bob, "POST", url("release")).await.0, 403);

    // Only a supervisor assigns, and only to someone of the task's role in the office.
    let assign = |who: reqwest::Client, to: String| {
        let url = url("assign");
        async move {
            let resp = who
                .post(url)
                .json(&json!({ "assignee": to }))
                .send()
                .await
                .expect("post");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or_default())
        }
    };
    assert_eq!(assign(ann.clone(), bob_id.clone()).await.0, 403);
    let (status, body) = assign(sue.clone(), uk_id.clone()).await;
    assert_eq!(status, 422, "another office's officer: {body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("assignee")
    );
    assert_eq!(
        assign(sue.clone(), ops_id.clone()).await.0,
        422,
        "another role"
    );
    assert_eq!(assign(sue.clone(), "u-nobody".into()).await.0, 422);
    let (status, view) = assign(sue.clone(), bob_id.clone()).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["tasks"][0]["assignee"], bob_id.as_str());

    // A supervisor sees a colleague's tasks and the office's workload; others do not.
    rows_until(&store, &r, "held by Bob", |rows| {
        rows.iter()
            .any(|t| t.assignee.as_deref() == Some(bob_id.as_str()))
    })
    .await;
    let (status, _) = call(
        &ann,
        "GET",
        stack.url(&format!("/api/v1/inbox?holder={bob_id}")),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = call(&ann, "GET", stack.url("/api/v1/workload")).await;
    assert_eq!(status, 403, "{body}");
    let (status, workload) = call(&sue, "GET", stack.url("/api/v1/workload")).await;
    assert_eq!(status, 200, "{workload}");
    let bobs_line = workload["lines"]
        .as_array()
        .and_then(|ls| {
            ls.iter()
                .find(|l| l["assignee"] == bob_id.as_str())
                .cloned()
        })
        .expect("Bob's line");
    assert_eq!(bobs_line["name"], "Bob");
    assert_eq!(bobs_line["task_type"], "counselling_session");
    assert_eq!(bobs_line["open"], 1);
    assert!(workload["held"].as_u64().unwrap_or(0) >= 1);

    // Now Ann cannot complete it; Bob can.
    assert_eq!(complete(ann.clone()).await.0, 409);
    let (status, body) = complete(bob.clone()).await;
    assert_eq!(status, 200, "{body}");

    // Every attempt is in the audit trail, accepted or refused.
    let trail = store
        .audit_trail(&CaseRef::parse(&r).expect("ref"))
        .await
        .expect("trail");
    let seen = |action: &str, outcome: &str| {
        trail
            .iter()
            .any(|e| e.event.action == format!("{action}:{task}") && e.event.outcome == outcome)
    };
    assert!(seen("task_claimed", "accepted"));
    assert!(seen("task_claimed", "rejected"));
    assert!(seen("task_assigned", "accepted"));
    assert!(seen("task_released", "rejected"));
    stack.stop().await;
}

#[tokio::test]
async fn withdrawal_and_early_closure_empty_the_cases_rows_and_reindex_rebuilds_the_rest() {
    let stack = TestStack::start().await;
    let (_, ops) = create_user(&stack.settings, "Olu", "operations", Some("NLD"), false).await;
    let ops = client_with_key(&ops);
    let store = store_of(&stack).await;
    let (withdrawn, closed, open_a, open_b) = (
        stack.open_case_of(1).await,
        stack.open_case_of(1).await,
        stack.open_case_of(2).await,
        stack.open_case_of(1).await,
    );
    for r in [&withdrawn, &closed, &open_a, &open_b] {
        rows_until(&store, r, "its first task", |rows| !rows.is_empty()).await;
    }
    let post = |who: &reqwest::Client, path: String, body: Value| {
        let (who, url) = (who.clone(), stack.url(&path));
        async move {
            let resp = who.post(url).json(&body).send().await.expect("post");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or_default())
        }
    };
    let (status, body) = post(
        &stack.http,
        format!("/api/v1/cases/{withdrawn}/withdrawal"),
        json!({"reason": "changed their mind"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        &ops,
        format!("/api/v1/cases/{closed}/closure"),
        json!({"reason": "re_migrated", "note": "left"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for r in [&withdrawn, &closed] {
        rows_until(&store, r, "emptied", <[OpenTask]>::is_empty).await;
    }
    // A claim, so the rebuild must carry holders too.
    let task = rows_until(&store, &open_a, "a task", |rows| !rows.is_empty()).await[0].task_id;
    let (status, body) = post(
        &stack.http,
        format!("/api/v1/cases/{open_a}/tasks/{task}/claim"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    rows_until(&store, &open_a, "held", |rows| rows[0].assignee.is_some()).await;
    let live = store.all_open_tasks().await.expect("live");
    assert!(live.len() >= 2, "{live:?}");

    // The case store is lost (or restored from an old backup with a closed case's stale rows).
    store
        .execute_raw("DELETE FROM open_tasks")
        .await
        .expect("wipe");
    store
        .execute_raw("DELETE FROM task_revisions")
        .await
        .expect("wipe");
    assert!(store.all_open_tasks().await.expect("rows").is_empty());
    let stale = live
        .iter()
        .find(|t| t.reference.as_str() == open_b)
        .expect("a row of open_b");
    let mut ghost = homeward_workflows::work::TaskProjection {
        reference: CaseRef::parse(&closed).expect("ref"),
        revision: 0,
        host_country: "NLD".into(),
        origin_country: "IRQ".into(),
        programme: "nl-avrr".into(),
        tasks: vec![],
    };
    ghost.tasks.push(homeward_workflows::work::OpenTaskRow {
        task_id: 99,
        task_type: stale.task_type,
        role: stale.role,
        subject: None,
        opened_at: stale.opened_at,
        due_at: stale.due_at,
        requested_by: None,
        assignee: None,
        claimed_at: None,
    });
    store.project_tasks(&ghost).await.expect("ghost");

    let client = homeward_worker::connect(&homeward_worker::TemporalConnection {
        address: stack.settings.temporal.address.clone(),
        namespace: stack.settings.temporal.namespace.clone(),
        api_key: None,
        connect_timeout: Duration::from_secs(10),
        identity: "reindex-test".into(),
        codec: Some(crate::support::keys(&stack.settings).payloads),
    })
    .await
    .expect("client");
    let done = homeward::reindex::rebuild(&client, &store)
        .await
        .expect("rebuild");
    assert!(done.cases >= 2, "{done:?}");
    assert_eq!(done.dropped, 1, "the closed case's stale row: {done:?}");
    let rebuilt = store.all_open_tasks().await.expect("rebuilt");
    assert_eq!(rebuilt, live, "the rebuilt projection equals the live one");
    // Run again: nothing newer to write, nothing to drop.
    let again = homeward::reindex::rebuild(&client, &store)
        .await
        .expect("again");
    assert_eq!((again.written, again.dropped), (0, 0), "{again:?}");
    stack.stop().await;
}

#[tokio::test]
async fn the_scheduled_overdue_sweep_tells_supervisors_once_per_task() {
    use homeward_devkit::ledger::{LocalLedger, local_partners};
    use homeward_workflows::tasks::{Role, TaskType};
    use homeward_workflows::work::{OpenTaskRow, TaskProjection};
    use std::sync::Arc;

    let ledger = Arc::new(LocalLedger::new());
    let stack = TestStack::start_full(
        |s| s.worker.overdue_sweep_every = Duration::from_secs(1),
        local_partners(ledger.clone()),
    )
    .await;
    let store = store_of(&stack).await;
    // A task a week past due (nl-avrr's grace is two days) and one due tomorrow.
    let now = chrono::Utc::now();
    let reference = CaseRef::from_entropy(0x5eed);
    let row = |task_id, due_days: i64| OpenTaskRow {
        task_id,
        task_type: TaskType::EligibilityApproval,
        role: Role::Operations,
        subject: None,
        opened_at: now - chrono::Duration::days(20),
        due_at: Some(now + chrono::Duration::days(due_days)),
        requested_by: None,
        assignee: None,
        claimed_at: None,
    };
    store
        .project_tasks(&TaskProjection {
            reference: reference.clone(),
            revision: 1,
            host_country: "NLD".into(),
            origin_country: "IRQ".into(),
            programme: "nl-avrr".into(),
            tasks: vec![row(1, -7), row(2, 1)],
        })
        .await
        .expect("project");

    let escalated = rows_until(&store, reference.as_str(), "escalated", |rows| {
        rows.iter().any(|t| t.escalated_at.is_some())
    })
    .await;
    assert_eq!(
        escalated
            .iter()
            .map(|t| (t.task_id, t.escalated_at.is_some()))
            .collect::<Vec<_>>(),
        [(1, true), (2, false)]
    );
    // A few more runs of the schedule change nothing: one notice, one audit row.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let notices: Vec<_> = ledger
        .snapshot()
        .notices
        .into_iter()
        .filter(|(key, _)| key.starts_with(reference.as_str()))
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].0, format!("{reference}:task_overdue:1"));
    let audit = store.audit_trail(&reference).await.expect("audit");
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.event.action == "task_escalated")
            .count(),
        1
    );
    stack.stop().await;
}
