//! The returnee as a person (issue "The returnee as a person"): the record per member, shown
//! per role and audited; search by name variant and birth date or by document; the duplicate
//! warning at opening; erasure; the codec endpoint; and the sentinel test that proves nothing
//! personal reaches Temporal's database, the case store in clear, or a log line.

use std::time::Duration;

use serde_json::{Value, json};

use crate::security::case_at_departure;
use crate::support::{TestStack, client_with_key, create_key};

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let resp = client.get(url).send().await.expect("get");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

/// A person record whose every identifying value carries `tag`.
fn person(tag: &str, born: &str) -> Value {
    json!({
        "names": {
            "document": {"given": format!("Amal{tag}"), "family": format!("Hassan{tag}")},
            "original": {"given": format!("أمل{tag}"), "family": "حسن", "script": "Arab"}
        },
        "sex": "female",
        "date_of_birth": born,
        "place_of_birth": format!("Mosul{tag}"),
        "nationality": "IRQ",
        "documents": [{"kind": "passport", "number": format!("P{tag}"), "issuing_country": "IRQ",
                       "expires_on": "2031-05-31"}],
        "phone": format!("+96477{}", &format!("{tag:0>7}")[..7]),
        "destination": {"place": format!("Erbil{tag}"), "nearest_airport": "EBL"},
        "consents": [{"purpose": "consulate", "given": true}]
    })
}

/// Opens a case of `people.len()` adults with their records; its reference and answer.
async fn open_with(stack: &TestStack, people: Vec<Value>) -> (String, Value) {
    let resp = stack
        .http
        .post(stack.url("/api/v1/cases"))
        .json(&json!({
            "programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
            "household_size": people.len(), "people": people
        }))
        .send()
        .await
        .expect("open");
    let status = resp.status();
    let body: Value = resp.json().await.expect("json");
    assert_eq!(status, 201, "{body}");
    (body["reference"].as_str().expect("ref").to_owned(), body)
}

#[tokio::test]
async fn each_role_sees_the_fields_it_needs_and_every_read_is_audited_without_values() {
    let stack = TestStack::start().await;
    let key = |role: &'static str, office: Option<&'static str>| {
        let settings = stack.settings.clone();
        async move { client_with_key(&create_key(&settings, role, role, office).await) }
    };
    let ops = key("operations", Some("NLD")).await;
    let finance = key("finance", Some("NLD")).await;
    let partner = key("partner", Some("NLD/IRQ")).await;
    let partner_elsewhere = key("partner", Some("GBR/IRQ")).await;
    let auditor = key("auditor", None).await;
    let admin = key("admin", None).await;
    let officer_elsewhere = key("return_officer", Some("GBR")).await;
    let (r, _) = open_with(
        &stack,
        vec![person("901", "1990-05-31"), person("902", "1992")],
    )
    .await;
    let url = |m: u32| stack.url(&format!("/api/v1/cases/{r}/people/{m}"));
    let fields = |v: &Value| -> Vec<String> {
        let mut f: Vec<String> = v["fields"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        f.sort();
        f
    };
    // Who sees what, before the hand-over.
    let (s, v) = get(&stack.http, url(0)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["fields"]["names"]["document"]["given"], "Amal901");
    assert_eq!(
        fields(&v).len(),
        9,
        "every field given (no e-mail, no language): {v}"
    );
    let (s, v) = get(&ops, url(0)).await;
    assert_eq!(
        (s, fields(&v)),
        (200, vec!["documents".into(), "names".into()])
    );
    let (s, v) = get(&finance, url(1)).await;
    assert_eq!((s, fields(&v)), (200, vec!["names".to_owned()]));
    for (who, client, status) in [
        ("auditor", &auditor, 403),
        ("admin", &admin, 403),
        ("partner before hand-over", &partner, 404),
        ("partner of another office", &partner_elsewhere, 404),
        ("officer of another office", &officer_elsewhere, 404),
    ] {
        assert_eq!(get(client, url(0)).await.0, status, "{who}");
    }
    assert_eq!(
        get(&stack.http, url(5)).await.0,
        404,
        "no member 5 in a household of 2"
    );
    // Only the office's return officers write.
    let put = |client: &reqwest::Client, body: Value| {
        let (client, url) = (client.clone(), url(1));
        async move {
            let resp = client.put(url).json(&body).send().await.expect("put");
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or_default(),
            )
        }
    };
    assert_eq!(put(&ops, person("903", "1991")).await.0, 403);
    let (s, body) = put(
        &stack.http,
        json!({"names": {"document": {"given": "X"}}, "phone": "12"}),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert!(
        body["fields"]["names.document.family"].is_string() && body["fields"]["phone"].is_string(),
        "{body}"
    );
    let resp = stack
        .http
        .patch(url(1))
        .json(&json!({"phone": "+9647709990000"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), 200);

    // After the hand-over the partner sees names, phone and destination, nothing else.
    let handed = case_at_departure(&stack, &ops).await;
    let resp = stack
        .http
        .put(stack.url(&format!("/api/v1/cases/{handed}/people/0")))
        .json(&person("904", "1988"))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 200);
    let (s, v) = get(
        &partner,
        stack.url(&format!("/api/v1/cases/{handed}/people/0")),
    )
    .await;
    assert_eq!(
        (s, fields(&v)),
        (
            200,
            vec!["destination".into(), "names".into(), "phone".into()]
        ),
        "{v}"
    );
    assert_eq!(
        get(
            &partner_elsewhere,
            stack.url(&format!("/api/v1/cases/{handed}/people/0"))
        )
        .await
        .0,
        404
    );

    // Every read and change is on record: who, which member, which fields; never a value.
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
    let reads: Vec<_> = trail
        .iter()
        .filter(|e| e.event.action == "people_read")
        .collect();
    assert!(reads.len() >= 3, "{trail:?}");
    assert!(reads.iter().any(|e| e.event.role == "operations"
        && e.event.detail.as_deref() == Some("member 0: names,documents")));
    for e in &trail {
        let d = e.event.detail.clone().unwrap_or_default();
        assert!(
            !d.contains("901") && !d.contains("Amal"),
            "a value in the audit trail: {d}"
        );
    }
    assert!(trail.iter().any(|e| e.event.action == "people_changed"));
    stack.stop().await;
}

#[tokio::test]
async fn a_returnee_is_found_by_a_name_variant_and_birth_date_or_by_document_in_the_office_only() {
    let stack = TestStack::start().await;
    let (r, opened) = open_with(&stack, vec![person("911", "1990-05-31")]).await;
    assert!(opened.get("warnings").is_none(), "{opened}");
    let search = |client: &reqwest::Client, query: &str| {
        let (client, url) = (
            client.clone(),
            stack.url(&format!("/api/v1/people/search?{query}")),
        );
        async move { get(&client, url).await }
    };
    // The family name first, upper case, accents: the same person; a year matches a date.
    for query in [
        "given=HASSAN911&family=amal911&date_of_birth=1990-05-31",
        "given=Amál911&family=Hassan911&date_of_birth=1990",
        "document=p911",
    ] {
        let (s, hits) = search(&stack.http, query).await;
        assert_eq!(s, 200, "{query}: {hits}");
        assert_eq!(hits[0]["reference"], r.as_str(), "{query}: {hits}");
    }
    let (_, none) = search(
        &stack.http,
        "given=Amal911&family=Hassan911&date_of_birth=1991",
    )
    .await;
    assert_eq!(none, json!([]));
    let (s, body) = search(&stack.http, "given=Amal911").await;
    assert_eq!(s, 400, "{body}");
    // Another office's officer finds nothing of it.
    let uk =
        client_with_key(&create_key(&stack.settings, "UK", "return_officer", Some("GBR")).await);
    let (_, hits) = search(&uk, "document=P911").await;
    assert_eq!(hits, json!([]));
    // Opening a second case for the same person warns, naming the first.
    let (_, second) = open_with(&stack, vec![person("911", "1990-05-31")]).await;
    assert_eq!(
        second["warnings"][0]["references"][0],
        r.as_str(),
        "{second}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn an_erased_case_answers_410_its_export_is_empty_and_its_statistics_stay() {
    let stack = TestStack::start().await;
    let admin = client_with_key(&create_key(&stack.settings, "Admin", "admin", None).await);
    let (r, _) = open_with(&stack, vec![person("921", "1985-01-01")]).await;
    let export = stack.url(&format!("/api/v1/cases/{r}/people/0/export"));
    let (s, before) = get(&admin, export.clone()).await;
    assert_eq!(s, 200, "{before}");
    assert_eq!(before["record"]["names"]["document"]["given"], "Amal921");
    // Only an admin erases, with a reason from the list.
    let erase = |client: &reqwest::Client, body: Value| {
        let (client, url) = (
            client.clone(),
            stack.url(&format!("/api/v1/cases/{r}/erasure")),
        );
        async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("post")
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        erase(&stack.http, json!({"reason": "subject_request"})).await,
        403
    );
    assert_eq!(erase(&admin, json!({"reason": "because"})).await, 400);
    assert_eq!(
        erase(&admin, json!({"reason": "subject_request"})).await,
        202
    );
    assert_eq!(
        get(
            &stack.http,
            stack.url(&format!("/api/v1/cases/{r}/people/0"))
        )
        .await
        .0,
        410
    );
    assert_eq!(
        get(&stack.http, stack.url(&format!("/api/v1/cases/{r}/people")))
            .await
            .0,
        410
    );
    let (_, after) = get(&admin, export).await;
    assert_eq!(
        (after["erased"].clone(), after["record"].clone()),
        (json!(true), Value::Null)
    );
    let (_, hits) = get(
        &stack.http,
        stack.url("/api/v1/people/search?document=P921"),
    )
    .await;
    assert_eq!(hits, json!([]));
    // The database holds neither the records nor a key to open what is left.
    let store = homeward_activities::CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&stack.settings.database.url),
        1,
    )
    .await
    .expect("store");
    assert_eq!(
        store
            .execute_raw(&format!(
                "UPDATE people SET sealed = sealed WHERE reference = '{r}'"
            ))
            .await
            .expect("sql"),
        0
    );
    assert_eq!(
        store
            .execute_raw(&format!(
                "UPDATE case_keys SET wrapped = wrapped WHERE reference = '{r}' AND wrapped = '' \
                 AND erased_at IS NOT NULL"
            ))
            .await
            .expect("sql"),
        1
    );
    // Statistics still count the case.
    let (_, stats) = get(&admin, stack.url("/api/v1/statistics")).await;
    assert!(stats["cases"].as_i64().unwrap_or(0) >= 1, "{stats}");
    stack.stop().await;
}

#[tokio::test]
async fn the_codec_endpoint_decodes_what_the_worker_encoded_for_admins_and_auditors_only() {
    use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
    let stack = TestStack::start().await;
    let r = stack.open_case().await;
    stack.wait_for_stage(&r, "counselling").await;
    // What Temporal holds, read without the codec: encrypted.
    let raw = homeward_worker::connect(&homeward_worker::TemporalConnection {
        address: stack.settings.temporal.address.clone(),
        namespace: "default".into(),
        api_key: None,
        connect_timeout: Duration::from_secs(10),
        identity: "codec-test".into(),
        codec: None,
    })
    .await
    .expect("client");
    let id = homeward_workflows::ids::return_case_workflow_id(
        &homeward_workflows::domain::CaseRef::parse(&r).expect("ref"),
    );
    let runs = homeward::histories::fetch_runs(&raw, &id)
        .await
        .expect("history");
    let input = runs[0]
        .events
        .iter()
        .find_map(|e| match &e.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => a.input.clone(),
            _ => None,
        })
        .expect("input")
        .payloads[0]
        .clone();
    assert_eq!(input.metadata["encoding"], b"binary/encrypted");
    assert!(!String::from_utf8_lossy(&input.data).contains("nl-avrr"));
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let body = json!({"payloads": [{
        "metadata": input.metadata.iter().map(|(k, v)| (k.clone(), Value::String(b64(v)))).collect::<serde_json::Map<String, Value>>(),
        "data": b64(&input.data),
    }]});
    let post = |client: &reqwest::Client| {
        let (client, url, body) = (client.clone(), stack.url("/codec/decode"), body.clone());
        async move {
            let resp = client.post(url).json(&body).send().await.expect("post");
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or_default(),
            )
        }
    };
    assert_eq!(post(&stack.http).await.0, 403, "an officer may not");
    for role in ["admin", "auditor"] {
        let client = client_with_key(&create_key(&stack.settings, role, role, None).await);
        let (s, decoded) = post(&client).await;
        assert_eq!(s, 200, "{decoded}");
        let data = decoded["payloads"][0]["data"].as_str().expect("data");
        let plain = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data)
            .expect("base64");
        assert!(
            String::from_utf8_lossy(&plain).contains("nl-avrr"),
            "{role}"
        );
    }
    // The browser's preflight from the Web UI's origin is allowed.
    let resp = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, stack.url("/codec/decode"))
        .header("origin", "http://127.0.0.1:8233")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-namespace",
        )
        .send()
        .await
        .expect("preflight");
    assert_eq!(
        resp.headers()
            .get("access-control-allow-origin")
            .map(|v| v.as_bytes().to_vec()),
        Some(b"http://127.0.0.1:8233".to_vec())
    );
    stack.stop().await;
}
