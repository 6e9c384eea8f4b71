//! Lists, the inbox, idempotent opening, statistics and the audit export, through the HTTP API
//! on a real Temporal dev server (visibility included).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{TestStack, client_with_key, create_key, create_user};

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let resp = client.get(url).send().await.expect("get");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

/// Polls `url` until `done` holds (visibility and the case store follow the workflows closely,
/// not instantly).
async fn eventually(client: &reqwest::Client, url: String, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(client, url.clone()).await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "never reached: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn references(list: &Value) -> Vec<String> {
    let mut refs: Vec<String> = list["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["reference"].as_str().expect("reference").to_owned())
        .collect();
    refs.sort();
    refs
}

#[tokio::test]
async fn lists_and_the_inbox_show_each_office_its_own_cases() {
    let stack = TestStack::start().await;
    let uk_officer =
        client_with_key(&create_key(&stack.settings, "UK", "return_officer", Some("GBR")).await);
    let ops = client_with_key(&create_key(&stack.settings, "Ops", "operations", Some("NLD")).await);
    let mut nl = vec![stack.open_case().await, stack.open_case().await];
    nl.sort();
    // The UK scheme admits by immigration status (config/programmes/uk-vrs.toml): none given,
    // an ineligible one, or an unknown word is refused, naming the field.
    for (status, says) in [
        (None, "is required by programme uk-vrs"),
        (
            Some("settled_or_protected"),
            "settled_or_protected is not eligible",
        ),
        (Some("tourist"), "must be one of no_permission"),
    ] {
        let mut body = json!({
            "programme": "uk-vrs", "host_country": "GBR", "origin_country": "IRQ",
            "household_size": 1
        });
        if let Some(s) = status {
            body["immigration_status"] = json!(s);
        }
        let resp = uk_officer
            .post(stack.url("/api/v1/cases"))
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status().as_u16(), 400, "{status:?}");
        let err: Value = resp.json().await.expect("json");
        let message = err["fields"]["immigration_status"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(says), "{message}");
    }
    let resp = uk_officer
        .post(stack.url("/api/v1/cases"))
        .json(&json!({
            "programme": "uk-vrs", "host_country": "GBR", "origin_country": "IRQ",
            "household_size": 1, "immigration_status": "refused_asylum"
        }))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 201);
    let uk: Value = resp.json().await.expect("json");
    let uk = uk["reference"].as_str().expect("reference").to_owned();

    // Each office lists its own cases, with their stage and open tasks.
    let list = eventually(&stack.http, stack.url("/api/v1/cases"), |l| {
        // The stage is published a moment before the counselling session opens.
        let waiting = |c: &Value| {
            c["stage"] == "counselling" && c["open_tasks"][0]["task_type"] == "counselling_session"
        };
        l["cases"]
            .as_array()
            .is_some_and(|c| c.len() == 2 && c.iter().all(waiting))
    })
    .await;
    assert_eq!(references(&list), nl);
    assert_eq!(list["cases"][0]["host_country"], "NLD");
    assert_eq!(
        list["cases"][0]["open_tasks"][0]["task_type"],
        "counselling_session"
    );
    // Visibility is eventually consistent: the UK case may be indexed a moment later.
    let theirs = eventually(&uk_officer, stack.url("/api/v1/cases"), |l| {
        l["cases"].as_array().is_some_and(|c| !c.is_empty())
    })
    .await;
    assert_eq!(references(&theirs), std::slice::from_ref(&uk));

    // Pages of one, then filters that match nothing.
    let (status, first) = get(&stack.http, stack.url("/api/v1/cases?page_size=1")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["cases"].as_array().map(Vec::len), Some(1));
    let token = first["next_page_token"].as_str().expect("a next page");
    let (_, second) = get(
        &stack.http,
        stack.url(&format!("/api/v1/cases?page_size=1&page_token={token}")),
    )
    .await;
    let mut both = [references(&first), references(&second)].concat();
    both.sort();
    assert_eq!(both, nl);
    for query in [
        "stage=closed",
        "programme=uk-vrs",
        "status=closed",
        "overdue=true",
    ] {
        let (status, none) = get(&stack.http, stack.url(&format!("/api/v1/cases?{query}"))).await;
        assert_eq!(status, 200, "{query}: {none}");
        assert_eq!(references(&none), Vec::<String>::new(), "{query}");
    }

    // Bad parameters are named, all at once.
    let (status, bad) = get(
        &stack.http,
        stack.url("/api/v1/cases?stage=nowhere&page_size=0&colour=red&page_token=zz"),
    )
    .await;
    assert_eq!(status, 400, "{bad}");
    let fields: Vec<&str> = bad["fields"]
        .as_object()
        .expect("fields")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, ["colour", "page_size", "stage"]);
    let (status, bad) = get(&stack.http, stack.url("/api/v1/cases?page_token=zz")).await;
    assert_eq!(status, 400, "{bad}");
    assert!(bad["fields"]["page_token"].is_string(), "{bad}");

    // The officer's inbox holds both counselling sessions, earliest due first; operations have
    // nothing yet; a task type of another role is refused.
    let count = |i: &Value| i["tasks"].as_array().map_or(0, Vec::len);
    let inbox = eventually(&stack.http, stack.url("/api/v1/inbox"), |i| count(i) == 2).await;
    let tasks = inbox["tasks"].as_array().expect("tasks");
    assert!(
        tasks
            .iter()
            .all(|t| t["task_type"] == "counselling_session")
    );
    // Every task is due now, counselling included.
    assert!(tasks.iter().all(|t| t["due_at"].is_string()), "{inbox}");
    assert!(tasks[0]["due_at"].as_str() <= tasks[1]["due_at"].as_str());
    assert!(
        tasks[0]["href"]
            .as_str()
            .expect("href")
            .starts_with("/api/v1/cases/HW-")
    );
    // Keyset pages: the second page starts after the first, and is the last.
    let (_, page) = get(&stack.http, stack.url("/api/v1/inbox?limit=1")).await;
    assert_eq!(count(&page), 1);
    let token = page["next_page_token"].as_str().expect("a next page");
    let (_, second) = get(
        &stack.http,
        stack.url(&format!("/api/v1/inbox?limit=1&page_token={token}")),
    )
    .await;
    assert_eq!(count(&second), 1, "{second}");
    assert_ne!(
        second["tasks"][0]["reference"],
        page["tasks"][0]["reference"]
    );
    assert!(second["next_page_token"].is_null(), "{second}");
    let (status, forged) = get(
        &stack.http,
        stack.url("/api/v1/inbox?page_token=696e626f787c7c48572d7c31.00"),
    )
    .await;
    assert_eq!(status, 400, "{forged}");
    assert!(forged["fields"]["page_token"].is_string(), "{forged}");
    let (_, long_ago) = get(
        &stack.http,
        stack.url("/api/v1/inbox?due_before=2000-01-01"),
    )
    .await;
    assert_eq!(count(&long_ago), 0, "{long_ago}");
    let (status, ops_inbox) = get(&ops, stack.url("/api/v1/inbox")).await;
    assert_eq!(status, 200);
    assert_eq!(count(&ops_inbox), 0, "{ops_inbox}");
    // The other office's officer sees only their own case's task.
    let uk_inbox = eventually(&uk_officer, stack.url("/api/v1/inbox"), |i| count(i) == 1).await;
    assert_eq!(uk_inbox["tasks"][0]["reference"], uk.as_str());
    let (status, bad) = get(
        &stack.http,
        stack.url("/api/v1/inbox?type=tranche_approval"),
    )
    .await;
    assert_eq!(status, 400, "{bad}");
    stack.stop().await;
}

#[tokio::test]
async fn a_retried_open_returns_the_same_case_and_auditors_export_the_trail() {
    let stack = TestStack::start().await;
    let auditor = client_with_key(&create_key(&stack.settings, "Audit", "auditor", None).await);
    let body = json!({
        "programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
        "household_size": 2
    });
    let open = |body: Value, key: &'static str| {
        stack
            .http
            .post(stack.url("/api/v1/cases"))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = open(body.clone(), "retry-1").await.expect("post");
    assert_eq!(first.status(), 201);
    assert_eq!(first.headers()["idempotent-replayed"], "false");
    let first: Value = first.json().await.expect("json");
    let again = open(body.clone(), "retry-1").await.expect("post");
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.expect("json");
    assert_eq!(first["reference"], again["reference"]);
    let mut other = body.clone();
    other["household_size"] = json!(3);
    let clash = open(other, "retry-1").await.expect("post");
    assert_eq!(clash.status(), 422);
    let blank = stack
        .http
        .post(stack.url("/api/v1/cases"))
        .header("Idempotency-Key", "")
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(blank.status(), 400);

    // One case, not two: the statistics count it once.
    let stats = eventually(&auditor, stack.url("/api/v1/statistics"), |s| {
        s["cases_by_stage"]["counselling"] == 1
    })
    .await;
    assert_eq!(stats["cases"], 1, "{stats}");
    assert_eq!(stats["cases_by_programme"]["nl-avrr"], 1);
    assert_eq!(stats["median_days_in_stage"]["intake"], 0.0, "{stats}");
    assert_eq!(stats["rss"]["follow_ups"], 0);

    // Auditors export the trail as CSV; nobody else may.
    let resp = auditor
        .get(stack.url("/api/v1/audit"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    let csv = resp.text().await.expect("text");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,occurred_at,case,actor,role,action,outcome,detail")
    );
    let reference = first["reference"].as_str().expect("reference");
    let opened: Vec<&str> = lines
        .filter(|l| l.contains(reference) && l.contains("case_opened"))
        .collect();
    // The API's accepted request and the worker's recorded case, once each despite the retry.
    assert_eq!(opened.len(), 2, "{csv}");
    let (status, _) = get(&stack.http, stack.url("/api/v1/audit")).await;
    assert_eq!(status, 403);
    let (status, bad) = get(&auditor, stack.url("/api/v1/audit?case=nobody")).await;
    assert_eq!(status, 400, "{bad}");
    stack.stop().await;
}

/// Cases of one family or group are linked: both show the link and its "departs together"
/// decision, every link is audited on both cases, and nobody outside the office — nor a partner,
/// nor finance (who may read but not link) — links or sees them.
#[tokio::test]
async fn a_family_split_across_cases_is_linked_and_each_case_shows_it() {
    let stack = TestStack::start().await;
    let (a, b) = (stack.open_case().await, stack.open_case().await);
    let officer = &stack.http;
    // Links check both cases in the case store, which the workflows write as they start.
    for r in [&a, &b] {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while officer
            .get(stack.url(&format!("/api/v1/cases/{r}/links")))
            .send()
            .await
            .expect("get")
            .status()
            != 200
        {
            assert!(tokio::time::Instant::now() < deadline, "{r} never stored");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let post = |client: &reqwest::Client, on: &str, body: Value| {
        let req = client
            .post(stack.url(&format!("/api/v1/cases/{on}/links")))
            .json(&body);
        async move {
            let resp = req.send().await.expect("post");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or_default())
        }
    };
    // Bad input is named field by field; a case is not linked to itself.
    let (status, err) = post(officer, &a, json!({"case": a, "kind": "clan"})).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["fields"]["kind"].is_string(), "{err}");
    assert!(err["fields"]["case"].is_string(), "{err}");
    let (status, err) = post(officer, &a, json!({"kind": "family"})).await;
    assert_eq!(
        (status, err["fields"]["case"].as_str()),
        (400, Some("is required"))
    );
    // Another office and finance may not link; a case of another office is a 404.
    let uk =
        client_with_key(&create_key(&stack.settings, "UK", "return_officer", Some("GBR")).await);
    let finance =
        client_with_key(&create_key(&stack.settings, "Fin", "finance", Some("NLD")).await);
    let partner =
        client_with_key(&create_key(&stack.settings, "Ptn", "partner", Some("NLD/IRQ")).await);
    let link = json!({"case": b, "kind": "family", "departs_together": true});
    assert_eq!(post(&uk, &a, link.clone()).await.0, 404);
    assert_eq!(post(&finance, &a, link.clone()).await.0, 403);
    // The officer links them: both cases show it.
    let (status, made) = post(officer, &a, link.clone()).await;
    assert_eq!(status, 201, "{made}");
    for (on, other) in [(&a, &b), (&b, &a)] {
        let (status, seen) = get(officer, stack.url(&format!("/api/v1/cases/{on}/links"))).await;
        assert_eq!(status, 200, "{seen}");
        assert_eq!(seen["links"].as_array().map(Vec::len), Some(1), "{seen}");
        assert_eq!(seen["links"][0]["case"], json!(other));
        assert_eq!(seen["links"][0]["kind"], "family");
        assert_eq!(seen["links"][0]["departs_together"], true);
    }
    // Linking again changes the decision (200, not a second link).
    let (status, again) = post(
        officer,
        &b,
        json!({"case": a, "kind": "group", "departs_together": false}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    let (_, seen) = get(officer, stack.url(&format!("/api/v1/cases/{a}/links"))).await;
    assert_eq!(
        (
            seen["links"][0]["kind"].as_str(),
            seen["links"][0]["departs_together"].as_bool()
        ),
        (Some("group"), Some(false))
    );
    // Finance read; another office and a partner see nothing.
    assert_eq!(
        get(&finance, stack.url(&format!("/api/v1/cases/{a}/links")))
            .await
            .0,
        200
    );
    assert_eq!(
        get(&uk, stack.url(&format!("/api/v1/cases/{a}/links")))
            .await
            .0,
        404
    );
    assert_eq!(
        get(&partner, stack.url(&format!("/api/v1/cases/{a}/links")))
            .await
            .0,
        404
    );
    // Every link and change is on both cases' audit trail.
    let auditor = client_with_key(&create_key(&stack.settings, "Aud", "auditor", None).await);
    for on in [&a, &b] {
        let csv = auditor
            .get(stack.url(&format!("/api/v1/audit?case={on}")))
            .send()
            .await
            .expect("audit")
            .text()
            .await
            .expect("csv");
        assert_eq!(csv.matches("case_linked").count(), 2, "{csv}");
    }
    // Unlinked: gone from both; unlinking again is a 404.
    let unlink = |client: &reqwest::Client| {
        let req = client.delete(stack.url(&format!("/api/v1/cases/{a}/links/{b}")));
        async move { req.send().await.expect("delete").status().as_u16() }
    };
    assert_eq!(unlink(&finance).await, 403);
    assert_eq!(unlink(officer).await, 204);
    assert_eq!(unlink(officer).await, 404);
    let (_, seen) = get(officer, stack.url(&format!("/api/v1/cases/{b}/links"))).await;
    assert_eq!(seen["links"], json!([]), "{seen}");
}

/// An invoice names a supplier of the case's own office: another office's supplier (or none)
/// is refused before anything reaches the case, naming `outcome.supplier`. Admins list an
/// office's suppliers by naming it.
#[tokio::test]
async fn an_invoice_and_a_plans_lines_name_suppliers_of_the_cases_own_office() {
    let stack = TestStack::start().await;
    let r = stack.open_case().await;
    let finance =
        client_with_key(&create_key(&stack.settings, "Fin", "finance", Some("NLD")).await);
    let uk = client_with_key(&create_key(&stack.settings, "UK", "finance", Some("GBR")).await);
    let admin = client_with_key(&create_key(&stack.settings, "Adm", "admin", None).await);
    let made: Value = uk
        .post(stack.url("/api/v1/suppliers"))
        .json(&json!({"name": "London Tools", "iban": "GB82WEST12345698765432"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let theirs = made["id"].as_str().expect("id");
    for supplier in [theirs, "sup-0000000000000000"] {
        let resp = finance
            .post(stack.url(&format!("/api/v1/cases/{r}/tasks/1")))
            .json(&json!({"outcome": {"type": "invoice", "supplier": supplier,
                "invoice_reference": "INV-1", "amount": {"minor": 100, "currency": "EUR"}},
                "reason": "stock"}))
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), 400);
        let err: Value = resp.json().await.expect("json");
        assert!(
            err["fields"]["outcome.supplier"]
                .as_str()
                .is_some_and(|m| m.contains("office NLD")),
            "{err}"
        );
    }
    // So does each supplier line of a costed plan, named by its path.
    let resp = stack
        .http
        .post(stack.url(&format!("/api/v1/cases/{r}/tasks/1")))
        .json(
            &json!({"outcome": {"type": "plan", "support": ["economic"], "lines": [
            {"member": 0, "area": "business_start_up", "amount": {"minor": 100, "currency": "EUR"},
             "payee": {"type": "cash"}},
            {"member": 1, "area": "housing", "amount": {"minor": 100, "currency": "EUR"},
             "payee": {"type": "supplier", "supplier": theirs}}]},
            "reason": "plan"}),
        )
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.expect("json");
    assert!(
        err["fields"]["outcome.lines[1].payee.supplier"]
            .as_str()
            .is_some_and(|m| m.contains("office NLD")),
        "{err}"
    );
    let resp = admin
        .get(stack.url("/api/v1/suppliers"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 400);
    let listed: Value = admin
        .get(stack.url("/api/v1/suppliers?office=GBR"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["suppliers"][0]["name"], "London Tools");
}

/// A trafficking victim's case is opened on a need-to-know basis: by the officer who opened it,
/// the staff they (or a supervisor) name, the office's supervisors and auditors. Colleagues see
/// it in lists without its details and get 403 on the case, its people and its tasks; naming
/// and removing are audited; a plain case is open to the office as before.
#[tokio::test]
async fn a_trafficking_victims_case_is_opened_only_by_the_staff_named_on_it() {
    let stack = TestStack::start().await;
    let s = &stack.settings;
    let (a_id, a_key) = create_user(s, "Officer A", "return_officer", Some("NLD"), false).await;
    let (b_id, b_key) = create_user(s, "Officer B", "return_officer", Some("NLD"), false).await;
    let (_, sup_key) = create_user(s, "Supervisor", "operations", Some("NLD"), true).await;
    let (uk_id, _) = create_user(s, "UK Officer", "return_officer", Some("GBR"), false).await;
    let (a, b, sup) = (
        client_with_key(&a_key),
        client_with_key(&b_key),
        client_with_key(&sup_key),
    );
    let auditor = client_with_key(&create_key(s, "Aud", "auditor", None).await);
    let finance = client_with_key(&create_key(s, "Fin", "finance", Some("NLD")).await);
    let resp = a
        .post(stack.url("/api/v1/cases"))
        .json(&json!({"programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
                      "household_size": 1,
                      "members": [{"age_group": "adult", "vulnerabilities": ["victim_of_trafficking"]}],
                      "people": [{"names": {"document": {"given": "Nadia", "family": "Restricted7731"}},
                                  "date_of_birth": "1995-04-02"}]}))
        .send()
        .await
        .expect("open");
    assert_eq!(resp.status(), 201);
    let r = resp.json::<Value>().await.expect("json")["reference"]
        .as_str()
        .expect("ref")
        .to_owned();
    let plain = stack.open_case().await;
    let status = |client: &reqwest::Client, path: String| {
        let req = client.get(stack.url(&path));
        async move { req.send().await.expect("get").status().as_u16() }
    };
    let case = format!("/api/v1/cases/{r}");
    // Who opens it.
    assert_eq!(
        status(&a, case.clone()).await,
        200,
        "the officer who opened it"
    );
    assert_eq!(
        status(&sup, case.clone()).await,
        200,
        "a supervisor of the office"
    );
    assert_eq!(status(&auditor, case.clone()).await, 200);
    for (who, client) in [("a colleague", &b), ("finance", &finance)] {
        assert_eq!(status(client, case.clone()).await, 403, "{who}");
        assert_eq!(status(client, format!("{case}/people")).await, 403, "{who}");
        assert_eq!(status(client, format!("{case}/access")).await, 403, "{who}");
    }
    assert_eq!(
        status(&b, format!("/api/v1/cases/{plain}")).await,
        200,
        "a plain case"
    );
    // Nor does a colleague find the person by name.
    let found = |client: &reqwest::Client| {
        let req = client.get(stack.url(
            "/api/v1/people/search?given=Nadia&family=Restricted7731&date_of_birth=1995-04-02",
        ));
        async move {
            let v: Value = req
                .send()
                .await
                .expect("search")
                .json()
                .await
                .expect("json");
            v.as_array().map_or(0, Vec::len)
        }
    };
    assert_eq!(found(&a).await, 1);
    assert_eq!(found(&b).await, 0);
    // A colleague's list shows it, without details.
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let list: Value = b
            .get(stack.url("/api/v1/cases"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        if let Some(row) = list["cases"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["reference"] == r.as_str()))
        {
            break row.clone();
        }
        assert!(Instant::now() < deadline, "never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(listed["restricted"], true, "{listed}");
    // The inbox lists its tasks, marked restricted, to the staff named on it, and not at all to
    // a colleague (their types are details: a risk assessment, a safe reception).
    let inbox_of = |client: &reqwest::Client| {
        let req = client.get(stack.url("/api/v1/inbox"));
        async move {
            let inbox: Value = req.send().await.expect("inbox").json().await.expect("json");
            inbox["tasks"].as_array().cloned().unwrap_or_default()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let task = loop {
        let inbox: Value = a
            .get(stack.url("/api/v1/inbox"))
            .send()
            .await
            .expect("inbox")
            .json()
            .await
            .expect("json");
        let tasks = inbox["tasks"].as_array().cloned().unwrap_or_default();
        if let Some(t) = tasks.iter().find(|t| t["reference"] == r.as_str()) {
            assert!(
                tasks
                    .iter()
                    .filter(|t| t["reference"] != r.as_str())
                    .all(|t| t.get("restricted").is_none()),
                "{inbox}"
            );
            break t.clone();
        }
        assert!(Instant::now() < deadline, "no task in the inbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(task["restricted"], true, "{task}");
    assert!(
        !inbox_of(&b)
            .await
            .iter()
            .any(|t| t["reference"] == r.as_str()),
        "a colleague's inbox lists none of its work"
    );
    assert!(
        listed["programme"].is_null() && listed["origin_country"].is_null(),
        "{listed}"
    );
    // Naming: the officer names B (not a user of another office, nor someone unknown).
    let grant = |client: &reqwest::Client, user: &str| {
        let req = client
            .post(stack.url(&format!("{case}/access")))
            .json(&json!({"user": user}));
        async move {
            let resp = req.send().await.expect("post");
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or_default(),
            )
        }
    };
    let (code, err) = grant(&a, &uk_id).await;
    assert_eq!(
        (code, err["fields"]["user"].is_string()),
        (400, true),
        "{err}"
    );
    assert_eq!(grant(&a, "nobody").await.0, 400);
    assert_eq!(
        grant(&auditor, &b_id).await.0,
        403,
        "an auditor reads, never names"
    );
    let (code, named) = grant(&a, &b_id).await;
    assert_eq!(code, 201, "{named}");
    let ids: Vec<&str> = named["named"]
        .as_array()
        .expect("named")
        .iter()
        .filter_map(|n| n["user"].as_str())
        .collect();
    assert_eq!(ids, [a_id.as_str(), b_id.as_str()]);
    assert_eq!(status(&b, case.clone()).await, 200, "named: opens it");
    assert!(
        inbox_of(&b)
            .await
            .iter()
            .any(|t| t["reference"] == r.as_str() && t["restricted"] == true),
        "named: its work is in their inbox"
    );
    assert_eq!(grant(&b, &b_id).await.0, 200, "named twice: no change");
    // A plain case has no list to be on.
    let (code, err) = {
        let resp = a
            .post(stack.url(&format!("/api/v1/cases/{plain}/access")))
            .json(&json!({"user": b_id}))
            .send()
            .await
            .expect("post");
        (
            resp.status().as_u16(),
            resp.json::<Value>().await.unwrap_or_default(),
        )
    };
    assert_eq!(
        (code, err["fields"]["reference"].is_string()),
        (400, true),
        "{err}"
    );
    // Removed again: closed to B.
    let resp = sup
        .delete(stack.url(&format!("{case}/access/{b_id}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 204);
    assert_eq!(status(&b, case.clone()).await, 403);
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
    let actions: Vec<&str> = trail
        .iter()
        .map(|e| e.event.action.as_str())
        .filter(|a| a.starts_with("case_access"))
        .collect();
    assert_eq!(actions, ["case_access_granted", "case_access_revoked"]);
}

/// Issue "Protection pathways", item 1: an unaccompanied child's return is decided in sequence,
/// through the API. The reception partner in the country of origin is referred the case for the
/// family assessment only (another country's partner is not; once answered, the case leaves its
/// sight until hand-over); the best-interests determination is a child protection officer's,
/// never the return officer's; a child of 14 cannot go unheard under a programme that hears
/// children from 12, and that age check's read of the birth date is audited.
#[tokio::test]
async fn a_childs_family_is_assessed_by_the_partner_at_origin_and_a_child_of_14_is_heard() {
    let stack = TestStack::start().await;
    let s = &stack.settings;
    let officer = &stack.http;
    let partner = client_with_key(&create_key(s, "Partner IRQ", "partner", Some("NLD/IRQ")).await);
    let other_partner =
        client_with_key(&create_key(s, "Partner AFG", "partner", Some("NLD/AFG")).await);
    let bid = client_with_key(&create_key(s, "BID", "child_protection", Some("NLD")).await);
    let uk_bid = client_with_key(&create_key(s, "UK BID", "child_protection", Some("GBR")).await);
    let born = (chrono::Utc::now() - chrono::Duration::days(14 * 365 + 30)).date_naive();
    let resp = officer
        .post(stack.url("/api/v1/cases"))
        .json(&json!({"programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
                      "household_size": 1,
                      "members": [{"age_group": "minor_under16", "vulnerabilities": ["unaccompanied_child"]}],
                      "people": [{"names": {"document": {"given": "Ali", "family": "Child5519"}},
                                  "date_of_birth": born.to_string()}]}))
        .send()
        .await
        .expect("open");
    assert_eq!(resp.status(), 201);
    let r = resp.json::<Value>().await.expect("json")["reference"]
        .as_str()
        .expect("ref")
        .to_owned();
    let case = format!("/api/v1/cases/{r}");
    let complete = |client: &reqwest::Client, id: u64, outcome: Value| {
        let req = client
            .post(stack.url(&format!("{case}/tasks/{id}")))
            .json(&json!({"outcome": outcome, "reason": "recorded"}));
        async move {
            let resp = req.send().await.expect("complete");
            let code = resp.status().as_u16();
            (code, resp.json::<Value>().await.unwrap_or_default())
        }
    };
    let status = |client: &reqwest::Client, path: String| {
        let req = client.get(stack.url(&path));
        async move { req.send().await.expect("get").status().as_u16() }
    };
    // Before any referral the partner does not see the case.
    assert_eq!(status(&partner, case.clone()).await, 404);
    let id = stack.task_id(&r, "counselling_session").await;
    let (code, _) = complete(
        officer,
        id,
        json!({"type": "counselling", "decision": "wants_to_return"}),
    )
    .await;
    assert_eq!(code, 200);
    // The family assessment alone is open, and it is the partner's.
    let assessment = stack.task_id(&r, "family_assessment").await;
    let view: Value = officer
        .get(stack.url(&case))
        .send()
        .await
        .expect("view")
        .json()
        .await
        .expect("json");
    let open: Vec<&str> = view["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["task_type"].as_str())
        .collect();
    assert_eq!(open, ["family_assessment"], "nothing else moves before");
    // Referred: the partner at origin sees it in its inbox and opens the case; a partner in
    // another country does neither.
    let inbox: Value = partner
        .get(stack.url("/api/v1/inbox"))
        .send()
        .await
        .expect("inbox")
        .json()
        .await
        .expect("json");
    assert!(
        inbox["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .any(|t| t["reference"] == r.as_str() && t["task_type"] == "family_assessment"),
        "{inbox}"
    );
    assert_eq!(status(&partner, case.clone()).await, 200);
    assert_eq!(status(&other_partner, case.clone()).await, 404);
    let yes = json!({"type": "assessment", "supports_return": true});
    assert_eq!(
        complete(&other_partner, assessment, yes.clone()).await.0,
        404
    );
    assert_eq!(
        complete(officer, assessment, yes.clone()).await.0,
        403,
        "the host-country officer does not assess the family at origin"
    );
    assert_eq!(complete(&partner, assessment, yes.clone()).await.0, 200);
    // Answered: out of the partner's sight again until hand-over.
    assert_eq!(status(&partner, case.clone()).await, 404);
    // The best-interests determination: a child protection officer of the office, no one else.
    let determination = stack.task_id(&r, "best_interests_determination").await;
    assert_eq!(complete(officer, determination, yes.clone()).await.0, 403);
    assert_eq!(complete(&uk_bid, determination, yes.clone()).await.0, 404);
    assert_eq!(complete(&bid, determination, yes).await.0, 200);
    // Then the child's views and the guardian's consent.
    let views = stack.task_id(&r, "child_views").await;
    stack.task_id(&r, "guardian_consent").await;
    let (code, err) = complete(
        officer,
        views,
        json!({"type": "child_views", "heard": false}),
    )
    .await;
    assert_eq!(code, 400, "{err}");
    let problem = err["fields"]["outcome.heard"].as_str().unwrap_or_default();
    assert!(
        problem.contains("12 or over") && problem.contains("14"),
        "{err}"
    );
    let (code, _) = complete(
        officer,
        views,
        json!({"type": "child_views", "heard": true, "wants_to_return": true}),
    )
    .await;
    assert_eq!(code, 200);
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
    assert!(
        trail.iter().any(|e| e.event.action == "people_read"
            && e.event
                .detail
                .as_deref()
                .is_some_and(|d| d.contains("date_of_birth"))
            && !e
                .event
                .detail
                .as_deref()
                .unwrap_or_default()
                .contains(&born.to_string())),
        "{trail:?}"
    );
    stack.stop().await;
}
