//! The partner sandbox over real HTTP, through Homeward's own HTTP clients: pending payments
//! settled by a signed webhook, a restart on its SQLite ledger, and the refusals it is told
//! to make.

use std::time::Duration;

use chrono::NaiveDate;
use homeward_activities::http_partners::{Endpoint, HttpPartner};
use homeward_activities::partners::{PartnerError, PaymentProvider, TravelPartner};
use homeward_workflows::activities::{Disbursement, OfferRequest, OrderRequest};
use homeward_workflows::domain::{CaseRef, CountryCode};
use homeward_workflows::programme::{Money, PaymentKind};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Serves a sandbox on a free loopback port; answers its address, its task and a client of it.
async fn serve_sandbox(
    sandbox: homeward_devkit::sandbox::Sandbox,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<()>,
    HttpPartner,
) {
    let (addr, task) = sandbox.serve(0).await.expect("serve");
    let endpoint = Endpoint {
        base_url: format!("http://{addr}").parse().expect("url"),
        token: None,
        timeout: Duration::from_secs(5),
    };
    (
        addr,
        task,
        HttpPartner::new("partners", endpoint).expect("client"),
    )
}

fn reference() -> CaseRef {
    CaseRef::parse("HW-0123456789AB").expect("ref")
}

/// A search for two adults from Amsterdam to Baghdad (the offices' and countries' defaults).
fn offer_request() -> homeward_activities::travel::Search {
    let request = OfferRequest {
        reference: reference(),
        from_country: CountryCode::parse("NLD").unwrap(),
        to_country: CountryCode::parse("IRQ").unwrap(),
        earliest: NaiveDate::from_ymd_opt(2027, 1, 10).unwrap(),
        latest: NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
        travellers: 2,
        medical_escort: false,
        child_escort: false,
    };
    homeward_activities::travel::Routes::default()
        .search(&request, &[])
        .expect("search")
}

#[tokio::test]
async fn the_sandbox_answers_status_fetches_and_settles_pending_payments_with_a_signed_webhook() {
    use homeward_activities::http_partners::payment_webhook;
    use homeward_devkit::sandbox::{Sandbox, SandboxFaults, Webhook};
    use homeward_workflows::activities::PaymentState;
    // Homeward's side of the webhook: a fake receiver that records what it gets.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/webhooks/payments"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&receiver)
        .await;
    let sandbox = Sandbox::new(
        SandboxFaults {
            confirm_after: Some(Duration::from_millis(300)),
            webhook: Some(Webhook {
                url: format!("{}/api/v1/webhooks/payments", receiver.uri())
                    .parse()
                    .expect("url"),
                secret: "s3cret".into(),
            }),
            ..SandboxFaults::default()
        },
        1,
    );
    let (addr, _task, partner) = serve_sandbox(sandbox).await;
    let (travel, payments) = (&partner, &partner);

    let offers = travel
        .search_offers(&offer_request())
        .await
        .expect("offers");
    let order = travel
        .create_order(
            &OrderRequest {
                idempotency_key: "HW-0123456789AB:booking:1".into(),
                reference: reference(),
                offer_id: offers[0].offer_id.clone(),
                escort_return_offer_id: None,
            },
            &[],
        )
        .await
        .expect("order");
    let status = travel.order_status(&order.order_id).await.expect("status");
    assert_eq!(
        (status.departs_at, status.cancelled),
        (order.departs_at, false)
    );
    // Cancelled in Duffel's two steps; asked again (a retry), it is still one cancellation.
    let cancel = homeward_workflows::activities::CancelRequest {
        idempotency_key: format!("HW-0123456789AB:cancel:{}", order.order_id),
        order_id: order.order_id.clone(),
        escort_return_order_id: None,
    };
    travel.cancel_order(&cancel).await.expect("cancelled");
    travel.cancel_order(&cancel).await.expect("cancelled again");
    let status = travel.order_status(&order.order_id).await.expect("status");
    assert!(status.cancelled);
    let unknown = homeward_workflows::activities::CancelRequest {
        idempotency_key: "HW-0123456789AB:cancel:ord_nope".into(),
        order_id: "ord_nope".into(),
        escort_return_order_id: None,
    };
    assert!(matches!(
        travel.cancel_order(&unknown).await,
        Err(PartnerError::Refused { .. })
    ));
    let request = Disbursement {
        idempotency_key: "HW-0123456789AB:tranche:start".into(),
        reference: reference(),
        tranche: "start".into(),
        kind: PaymentKind::InKind,
        amount: Money {
            minor: 150000,
            currency: "EUR".into(),
        },
        invoice: Some(invoice()),
    };
    let receipt = payments
        .disburse(&request, None, Some(&supplier()))
        .await
        .expect("accepted");
    assert_eq!(receipt.state, PaymentState::Pending);
    assert_eq!(
        payments
            .disbursement_status(&receipt.payment_id)
            .await
            .expect("status"),
        PaymentState::Pending
    );
    // The same key while pending: the same payment, still pending, never a second one.
    let again = payments
        .disburse(&request, None, Some(&supplier()))
        .await
        .expect("accepted");
    assert_eq!(again, receipt);

    // After confirm_after: confirmed, and one signed webhook announced it.
    let mut received = vec![];
    for _ in 0..50 {
        received = receiver.received_requests().await.unwrap_or_default();
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(received.len(), 1, "one webhook");
    let hook = &received[0];
    let signature = hook
        .headers
        .get(payment_webhook::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let settled = payment_webhook::read(Some(b"s3cret"), signature, &hook.body, chrono::Utc::now())
        .map(|e| e.settlement)
        .expect("a correctly signed settlement");
    assert_eq!(
        (
            settled.payment_id.as_str(),
            settled.state,
            &settled.reference
        ),
        (
            receipt.payment_id.as_str(),
            PaymentState::Confirmed,
            &reference()
        )
    );
    assert!(
        payment_webhook::read(Some(b"other"), signature, &hook.body, chrono::Utc::now()).is_err()
    );
    assert_eq!(
        payments
            .disbursement_status(&receipt.payment_id)
            .await
            .expect("status"),
        PaymentState::Confirmed
    );
    let err = payments.disbursement_status("pay-404").await.unwrap_err();
    assert!(matches!(err, PartnerError::Refused { .. }), "{err:?}");
    let ledger: serde_json::Value = reqwest::get(format!("http://{addr}/ledger"))
        .await
        .expect("ledger")
        .json()
        .await
        .expect("json");
    assert_eq!(
        ledger["payments"].as_array().map(Vec::len),
        Some(1),
        "{ledger}"
    );
    assert_eq!(ledger["payments"][0]["state"], "confirmed");
    assert_eq!(ledger["webhooks_sent"], 1);
}

#[tokio::test]
async fn a_restarted_sandbox_with_a_sqlite_ledger_remembers_its_keys_and_settles_what_was_pending()
{
    use homeward_devkit::sandbox::{Sandbox, SandboxFaults};
    use homeward_workflows::activities::PaymentState;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/ledger.db", dir.path().display());
    let faults = |confirm_after| SandboxFaults {
        confirm_after: Some(confirm_after),
        ..SandboxFaults::default()
    };
    let order_request = |offer_id: String| OrderRequest {
        idempotency_key: "HW-0123456789AB:booking:1".into(),
        reference: reference(),
        offer_id,
        escort_return_offer_id: None,
    };
    let payment = Disbursement {
        idempotency_key: "HW-0123456789AB:tranche:start".into(),
        reference: reference(),
        tranche: "start".into(),
        kind: PaymentKind::InKind,
        amount: Money {
            minor: 150000,
            currency: "EUR".into(),
        },
        invoice: Some(invoice()),
    };

    // First life: book and pay; the payment stays pending (for an hour).
    let first = Sandbox::durable(faults(Duration::from_secs(3600)), 1, &url)
        .await
        .expect("opens");
    let (_, task, partner) = serve_sandbox(first).await;
    let offers = partner
        .search_offers(&offer_request())
        .await
        .expect("offers");
    let order = partner
        .create_order(&order_request(offers[0].offer_id.clone()), &[])
        .await
        .expect("order");
    let receipt = partner
        .disburse(&payment, None, Some(&supplier()))
        .await
        .expect("accepted");
    assert_eq!(receipt.state, PaymentState::Pending);
    task.abort();

    // Second life on the same file: the same keys find the same order and payment, and the
    // pending payment is settled by the restarted sandbox.
    let second = Sandbox::durable(faults(Duration::from_millis(200)), 1, &url)
        .await
        .expect("reopens");
    let (addr, _task, partner) = serve_sandbox(second).await;
    let again = partner
        .create_order(&order_request(offers[0].offer_id.clone()), &[])
        .await
        .expect("order");
    assert_eq!(again.order_id, order.order_id, "no second order");
    let paid = partner
        .disburse(&payment, None, Some(&supplier()))
        .await
        .expect("answered");
    assert_eq!(paid.payment_id, receipt.payment_id, "no second payment");
    let mut state = PaymentState::Pending;
    for _ in 0..50 {
        state = partner
            .disbursement_status(&receipt.payment_id)
            .await
            .expect("status");
        if state != PaymentState::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, PaymentState::Confirmed);
    let ledger: serde_json::Value = reqwest::get(format!("http://{addr}/ledger"))
        .await
        .expect("ledger")
        .json()
        .await
        .expect("json");
    assert_eq!(
        ledger["orders"].as_array().map(Vec::len),
        Some(1),
        "{ledger}"
    );
    assert_eq!(
        ledger["payments"].as_array().map(Vec::len),
        Some(1),
        "{ledger}"
    );
    assert_eq!(ledger["disburse_calls"], 2, "{ledger}");
}

#[tokio::test]
async fn the_sandbox_refuses_the_inputs_it_is_told_to_with_a_4xx() {
    use homeward_devkit::sandbox::{Sandbox, SandboxFaults};
    let sandbox = Sandbox::new(
        SandboxFaults {
            refuse_keys_containing: Some("tranche:cash".into()),
            ..SandboxFaults::default()
        },
        1,
    );
    let (_, _task, payments) = serve_sandbox(sandbox).await;
    let pay = |tranche: &str| Disbursement {
        idempotency_key: format!("HW-0123456789AB:tranche:{tranche}"),
        reference: reference(),
        tranche: tranche.into(),
        kind: PaymentKind::Cash,
        amount: Money {
            minor: 20000,
            currency: "EUR".into(),
        },
        invoice: None,
    };
    let err = payments
        .disburse(&pay("cash"), None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PartnerError::Refused { message, .. } if message.contains("422")),
        "{err:?}"
    );
    payments
        .disburse(&pay("start"), None, None)
        .await
        .expect("others are paid");
}

#[tokio::test]
async fn a_body_the_sandbox_cannot_read_is_refused_with_the_field_named() {
    use homeward_devkit::sandbox::{Sandbox, SandboxFaults};
    let (addr, _task) = Sandbox::new(SandboxFaults::default(), 1)
        .serve(0)
        .await
        .expect("serve");
    let http = reqwest::Client::new();
    let post = |path: &str, key: Option<&str>, body: &str| {
        let mut request = http
            .post(format!("http://{addr}{path}"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send()
    };
    // (path, key, body, status, the start of the partner's message)
    let cases = [
        (
            "/air/orders",
            Some("k1"),
            r#"{"data":{"metadata":{"case":"HW-0123456789AB"},"selected_offers":"off_1"}}"#,
            422,
            "data.selected_offers: invalid type",
        ),
        (
            "/air/orders",
            Some("k2"),
            r#"{"data":{"metadata":{"case":"nobody"},"selected_offers":["off_1"]}}"#,
            422,
            "data.metadata.case",
        ),
        (
            "/disbursements",
            Some("k3"),
            r#"{"reference":"HW-0123456789AB","kind":"cash","tranche":"start"}"#,
            422,
            "body: missing field `amount`",
        ),
        (
            "/disbursements",
            Some("k4"),
            r#"{"reference":"HW-0123456789AB","kind":"cash","amount":"1.234"}"#,
            422,
            "amount: ",
        ),
        // Every cash payment names its payee, and a payee's account must be valid.
        (
            "/disbursements",
            Some("k10"),
            r#"{"reference":"HW-0123456789AB","kind":"cash","amount":"10.00","tranche":"cash"}"#,
            422,
            "payee: is required for a cash payment",
        ),
        (
            "/disbursements",
            Some("k11"),
            r#"{"reference":"HW-0123456789AB","kind":"cash","amount":"10.00","tranche":"cash","payee":{"type":"bank_account","iban":"NL91ABNA0417164301"}}"#,
            422,
            "payee.iban: is not a valid IBAN",
        ),
        (
            "/disbursements",
            Some("k12"),
            r#"{"reference":"HW-0123456789AB","kind":"cash","amount":"10.00","tranche":"cash","payee":{"type":"mobile_money","phone_number":"0770"}}"#,
            422,
            "payee.phone_number: must be E.164",
        ),
        // In-kind support goes to a supplier against an invoice; cash never does.
        (
            "/disbursements",
            Some("k13"),
            r#"{"reference":"HW-0123456789AB","kind":"in_kind","amount":"10.00","tranche":"start"}"#,
            422,
            "payee: in-kind support is paid to a supplier",
        ),
        (
            "/disbursements",
            Some("k14"),
            r#"{"reference":"HW-0123456789AB","kind":"in_kind","amount":"10.00","tranche":"start","payee":{"type":"supplier","name":"Tools","iban":"GB82WEST12345698765432","invoice_reference":" "}}"#,
            422,
            "payee.invoice_reference: is required",
        ),
        (
            "/disbursements",
            Some("k15"),
            r#"{"reference":"HW-0123456789AB","kind":"cash","amount":"10.00","tranche":"cash","payee":{"type":"supplier","name":"Tools","iban":"GB82WEST12345698765432","invoice_reference":"I-1"}}"#,
            422,
            "payee.type: cash goes to the returnee",
        ),
        (
            "/messages",
            Some("k5"),
            r#"{"channel":"sms","language":"en","subject":"s","template":"flight_booked","text":"t","to":{"audience":"neighbours","case":"HW-0123456789AB"}}"#,
            422,
            "to.audience: unknown variant",
        ),
        (
            "/messages",
            Some("k6"),
            r#"{"channel":"sms","language":"en","subject":" ","template":"flight_booked","text":"t","to":{"audience":"returnee","case":"HW-0123456789AB"}}"#,
            422,
            "subject: is required",
        ),
        // An SMS needs the returnee's number; an e-mail carries none.
        (
            "/messages",
            Some("k8"),
            r#"{"channel":"sms","language":"en","subject":"s","template":"flight_booked","text":"t","to":{"audience":"returnee","case":"HW-0123456789AB"}}"#,
            422,
            "to.phone_number: is required for an SMS",
        ),
        (
            "/messages",
            Some("k9"),
            r#"{"channel":"email","language":"en","subject":"s","template":"flight_booked","text":"t","to":{"audience":"return_officer","case":"HW-0123456789AB","phone_number":"+31612345678"}}"#,
            422,
            "to.phone_number: an e-mail",
        ),
        // The key is checked first, as partners do; malformed JSON is a 400.
        ("/disbursements", None, "{}", 400, "Idempotency-Key"),
        ("/disbursements", Some("k7"), "{", 400, ""),
    ];
    for (path, key, body, status, message) in cases {
        let response = post(path, key, body).await.expect("answered");
        assert_eq!(response.status().as_u16(), status, "{path} {body}");
        let text = response.text().await.unwrap_or_default();
        if !message.is_empty() {
            let answer: serde_json::Value = serde_json::from_str(&text).expect("JSON errors");
            let said = answer["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(said.starts_with(message), "{path} {body}: {said}");
        }
    }
    // Nothing was booked, paid or sent.
    let ledger: homeward_devkit::sandbox::LedgerView =
        reqwest::get(format!("http://{addr}/ledger"))
            .await
            .expect("ledger")
            .json()
            .await
            .expect("the ledger's own format");
    assert_eq!(
        (ledger.orders.len(), ledger.payments.len(), ledger.notices),
        (0, 0, 0)
    );
}

/// The sandbox refuses what a real travel partner refuses (Duffel's rules): airports it does
/// not know, an infant without an adult, a child given an adult's age, a passenger without
/// names, an infant on nobody's lap; and books what it accepts.
#[tokio::test]
async fn the_sandbox_is_a_strict_travel_partner() {
    use homeward_devkit::sandbox::{Sandbox, SandboxFaults};
    let (addr, _task) = Sandbox::new(SandboxFaults::default(), 1)
        .serve(0)
        .await
        .expect("serve");
    let http = reqwest::Client::new();
    let post = |path: &str, key: &str, body: serde_json::Value| {
        http.post(format!("http://{addr}{path}"))
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let search = |passengers: serde_json::Value, destination: &str| {
        serde_json::json!({"data": {
            "metadata": {"case": "HW-0123456789AB"},
            "passengers": passengers,
            "slices": [{"origin": "AMS", "destination": destination,
                        "departure_date": "2027-01-10"}]
        }})
    };
    let said = |v: serde_json::Value| {
        v["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let family =
        serde_json::json!([{"type": "adult"}, {"type": "adult"}, {"type": "infant_without_seat"}]);
    for (body, message) in [
        (
            search(family.clone(), "QQQ"),
            "slices[0].destination: \"QQQ\" is not an airport",
        ),
        (
            search(serde_json::json!([{"type": "infant_without_seat"}]), "EBL"),
            "passengers: each infant_without_seat needs an adult",
        ),
        (
            search(serde_json::json!([{"age": 30}]), "EBL"),
            "passengers[0].age",
        ),
        (
            search(serde_json::json!([]), "EBL"),
            "passengers: at least one",
        ),
    ] {
        let r = post("/air/offer_requests", "s", body)
            .await
            .expect("answered");
        assert_eq!(r.status(), 422);
        let text = said(r.json().await.expect("json"));
        assert!(text.starts_with(message), "{text}");
    }
    let r = post("/air/offer_requests", "s", search(family, "EBL"))
        .await
        .expect("answered");
    assert_eq!(r.status(), 201);
    let offers: serde_json::Value = r.json().await.expect("json");
    let offer = &offers["data"]["offers"][0];
    let ids: Vec<String> = offer["passengers"]
        .as_array()
        .expect("passengers")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(offer["passengers"][2]["type"], "infant_without_seat");
    let fetched: serde_json::Value = http
        .get(format!(
            "http://{addr}/air/offers/{}",
            offer["id"].as_str().expect("id")
        ))
        .send()
        .await
        .expect("offer")
        .json()
        .await
        .expect("json");
    assert_eq!(fetched["data"]["passengers"], offer["passengers"]);
    let person = |id: &str, given: &str, born: &str| serde_json::json!({"id": id, "given_name": given, "family_name": "Hassan", "born_on": born});
    let order = |passengers: serde_json::Value| {
        serde_json::json!({"data": {"metadata": {"case": "HW-0123456789AB"},
            "selected_offers": [offer["id"]], "passengers": passengers}})
    };
    let with_services = |id: &str, code: &str| {
        let mut amal = person(id, "Amal", "1990-05-31");
        amal["special_service_requests"] = serde_json::json!([{ "code": code }]);
        amal
    };
    let mut carrier = person(&ids[0], "Amal", "1990-05-31");
    let lina = person(&ids[2], "Lina", "2026-06-01");
    for (key, passengers, message) in [
        (
            "o1",
            serde_json::json!([person(&ids[0], " ", "1990-05-31")]),
            "passengers[0].given_name: is required",
        ),
        (
            "o2",
            serde_json::json!([carrier.clone(), lina.clone()]),
            "passengers: infant",
        ),
        (
            "o3",
            serde_json::json!([person("pas_x", "Amal", "1990-05-31")]),
            "passengers[0].id: not a passenger",
        ),
        (
            "o3a",
            serde_json::json!([with_services(&ids[0], "WCHX")]),
            "passengers[0].special_service_requests[0].code: \"WCHX\" is not",
        ),
        (
            "o3b",
            serde_json::json!([with_services(&ids[0], "UMNR")]),
            "passengers[0].special_service_requests[0].code: UMNR is for a child",
        ),
    ] {
        let r = post("/air/orders", key, order(passengers))
            .await
            .expect("answered");
        assert_eq!(r.status(), 422);
        let text = said(r.json().await.expect("json"));
        assert!(text.starts_with(message), "{text}");
    }
    carrier["infant_passenger_id"] = serde_json::json!(ids[2]);
    carrier["special_service_requests"] = serde_json::json!([{"code": "WCHR"}]);
    let r = post(
        "/air/orders",
        "o4",
        order(serde_json::json!([carrier, lina])),
    )
    .await
    .expect("answered");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    // A child with no adult on the order flies only in the airline's unaccompanied-minor care.
    let r = post(
        "/air/offer_requests",
        "s2",
        search(serde_json::json!([{"age": 12}]), "EBL"),
    )
    .await
    .expect("answered");
    let offers: serde_json::Value = r.json().await.expect("json");
    let alone = &offers["data"]["offers"][0];
    let mut child = person(
        alone["passengers"][0]["id"].as_str().expect("id"),
        "Sami",
        "2014-03-01",
    );
    let book = |key: &'static str, child: serde_json::Value| {
        post(
            "/air/orders",
            key,
            serde_json::json!({"data": {"metadata": {"case": "HW-0123456789AB"},
                "selected_offers": [alone["id"]], "passengers": [child]}}),
        )
    };
    let r = book("o5", child.clone()).await.expect("answered");
    assert_eq!(r.status(), 422);
    let text = said(r.json().await.expect("json"));
    assert!(text.contains("needs UMNR"), "{text}");
    child["special_service_requests"] = serde_json::json!([{"code": "UMNR"}]);
    let r = book("o6", child).await.expect("answered");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
}

/// The sandbox's gateway reports what became of each message with a signed receipt: an SMS to
/// a number ending in 0000 undelivered, others delivered; the receipt names no recipient.
#[tokio::test]
async fn the_sandbox_gateway_posts_a_signed_delivery_receipt_for_each_message() {
    use homeward_activities::http_partners::{message_receipts, payment_webhook};
    use homeward_devkit::sandbox::{Sandbox, SandboxFaults, Webhook};
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/webhooks/messages"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&receiver)
        .await;
    let sandbox = Sandbox::new(
        SandboxFaults {
            receipts: Some(Webhook {
                url: format!("{}/api/v1/webhooks/messages", receiver.uri())
                    .parse()
                    .expect("url"),
                secret: "s3cret".into(),
            }),
            ..SandboxFaults::default()
        },
        1,
    );
    let (addr, _task, _) = serve_sandbox(sandbox).await;
    let sms = |key: &str, phone: &str| {
        let body = format!(
            r#"{{"channel":"sms","language":"en","subject":"s","template":"flight_details","text":"t","to":{{"audience":"returnee","case":"HW-0123456789AB","phone_number":"{phone}"}}}}"#
        );
        let key = key.to_owned();
        async move {
            reqwest::Client::new()
                .post(format!("http://{addr}/messages"))
                .header("content-type", "application/json")
                .header("Idempotency-Key", key)
                .body(body)
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        sms("HW-0123456789AB:flight_details:1", "+31612340000").await,
        202
    );
    assert_eq!(
        sms("HW-0123456789AB:flight_details:2", "+31612345678").await,
        202
    );
    let mut received = vec![];
    for _ in 0..50 {
        received = receiver.received_requests().await.unwrap_or_default();
        if received.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(received.len(), 2, "two receipts");
    let now = chrono::Utc::now();
    let mut seen = received
        .iter()
        .map(|r| {
            let signature = r
                .headers
                .get(payment_webhook::SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok());
            let body = String::from_utf8_lossy(&r.body);
            assert!(!body.contains("+3161234"), "no number in a receipt: {body}");
            let got = message_receipts::read(Some(b"s3cret"), signature, &r.body, now)
                .expect("a signed receipt");
            (got.idempotency_key, got.delivery, got.error_code)
        })
        .collect::<Vec<_>>();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    use homeward_activities::notices::Delivery;
    assert_eq!(
        seen,
        [
            (
                "HW-0123456789AB:flight_details:1".to_owned(),
                Delivery::NotDelivered,
                Some("unknown_subscriber".to_owned())
            ),
            (
                "HW-0123456789AB:flight_details:2".to_owned(),
                Delivery::Delivered,
                None
            ),
        ]
    );
}

/// A notice to the consulate with its request pack, as the notify activity sends it.
fn consulate_request(key: &str) -> homeward_activities::notices::Message {
    use homeward_activities::consulate_pack::ConsulatePack;
    use homeward_activities::notices::Templates;
    use homeward_activities::sharing::Shared;
    use homeward_workflows::activities::{Audience, Notice, NoticeTemplate};
    let mut message = Templates::builtin().render(&Notice {
        idempotency_key: key.into(),
        reference: reference(),
        template: NoticeTemplate::DocumentsRequested,
        audience: Audience::Consulate,
        language: None,
        task: None,
        flight: None,
        safe_phone_only: false,
    });
    let pack = ConsulatePack {
        reference: reference(),
        language: message.language.clone(),
        office: homeward_devkit::ledger::placeholder_offices()
            .contact("NLD")
            .expect("a placeholder office")
            .clone(),
        members: vec![Shared {
            given_name: Some("Amal".into()),
            family_name: Some("HASSAN".into()),
            ..Shared::default()
        }],
    };
    message.attachments.push(pack.attachment());
    message
}

/// The gateway takes a PDF attached to an e-mail, sent by Homeward's client, and keeps its name,
/// type and size (and, in memory, its bytes); `GET /ledger` shows no content.
#[tokio::test]
async fn the_sandbox_gateway_takes_a_pdf_attachment_and_keeps_its_name_type_and_size() {
    use homeward_activities::partners::Outreach;
    use homeward_devkit::sandbox::{LedgerView, Sandbox, SandboxFaults};
    let sandbox = Sandbox::new(SandboxFaults::default(), 1);
    let ledger = sandbox.ledger.clone();
    let (addr, _task, gateway) = serve_sandbox(sandbox).await;
    let message = consulate_request("HW-0123456789AB:documents_requested:4");
    let pdf = message.attachments[0].content.clone();
    for _ in 0..2 {
        gateway.notify(&message, None).await.expect("accepted");
    }
    let state = ledger.snapshot();
    let files = &state.attachments["HW-0123456789AB:documents_requested:4"];
    assert_eq!(files.len(), 1, "sent twice under one key, kept once");
    assert_eq!(files[0].content, pdf, "the bytes arrive intact");
    assert_eq!(files[0].size, pdf.len());
    let body = reqwest::get(format!("http://{addr}/ledger"))
        .await
        .expect("ledger")
        .text()
        .await
        .expect("body");
    let view: LedgerView = serde_json::from_str(&body).expect("the ledger's own format");
    assert_eq!(view.attachments.len(), 1);
    let file = &view.attachments[0];
    assert_eq!(
        (
            file.filename.as_str(),
            file.content_type.as_str(),
            file.size
        ),
        (
            "HW-0123456789AB-travel-document-request.pdf",
            "application/pdf",
            pdf.len()
        )
    );
    assert!(
        !body.contains("HASSAN") && !body.contains("JVBER"),
        "{body}"
    );
}

/// A strict gateway refuses, with a 422 naming the field, a file that is not base64, not a PDF,
/// of another type, larger than 5 MiB, or on an SMS; nothing is sent.
#[tokio::test]
async fn the_sandbox_gateway_refuses_an_attachment_that_is_not_a_small_pdf() {
    use homeward_devkit::sandbox::{Sandbox, SandboxFaults};
    let sandbox = Sandbox::new(SandboxFaults::default(), 1);
    let ledger = sandbox.ledger.clone();
    let (addr, _task) = sandbox.serve(0).await.expect("serve");
    let http = reqwest::Client::new();
    let message = |channel: &str, attachment: serde_json::Value| {
        serde_json::json!({
            "attachments": [attachment],
            "channel": channel, "language": "en", "subject": "s",
            "template": "documents_requested", "text": "t",
            "to": {"audience": "consulate", "case": "HW-0123456789AB"}
        })
    };
    let file = |content: &str, content_type: &str| {
        serde_json::json!({"content": content, "content_type": content_type,
                           "filename": "HW-0123456789AB-travel-document-request.pdf"})
    };
    // "%PDF-1" followed by zero bytes: one byte more than 5 MiB.
    let too_large = format!("JVBERi0x{}", "A".repeat(6_990_500));
    let mut sms = message("sms", file("JVBERi0xLjc=", "application/pdf"));
    sms["to"]["phone_number"] = serde_json::json!("+31612345678");
    let cases = [
        (
            message("email", file("not base64!", "application/pdf")),
            "attachments[0].content: not base64",
        ),
        (
            // "hello"
            message("email", file("aGVsbG8=", "application/pdf")),
            "attachments[0].content: not a PDF",
        ),
        (
            message("email", file("JVBERi0xLjc=", "text/plain")),
            "attachments[0].content_type: must be application/pdf",
        ),
        (
            message("email", file(&too_large, "application/pdf")),
            "attachments[0].content: larger than 5 MiB",
        ),
        (
            message("email", serde_json::json!({"content": "JVBERi0xLjc="})),
            "attachments[0]: missing field `content_type`",
        ),
        (sms, "attachments: an SMS carries none"),
    ];
    for (i, (body, expected)) in cases.into_iter().enumerate() {
        let response = http
            .post(format!("http://{addr}/messages"))
            .header("idempotency-key", format!("k{i}"))
            .json(&body)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status().as_u16(), 422, "{expected}");
        let answer: serde_json::Value = response.json().await.expect("JSON errors");
        let said = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(said.starts_with(expected), "{expected}: {said}");
    }
    let state = ledger.snapshot();
    assert_eq!((state.notices.len(), state.attachments.len()), (0, 0));
}

/// A supplier of in-kind support, as the register holds it.
fn supplier() -> homeward_activities::suppliers::Supplier {
    homeward_activities::suppliers::Supplier {
        id: "sup-0123456789abcdef".into(),
        office: "NLD".into(),
        name: "Erbil Tools Ltd".into(),
        iban: "GB82WEST12345698765432".into(),
        created_by: "u-finance".into(),
        created_at: chrono::Utc::now(),
    }
}

/// The invoice an in-kind payment pays.
fn invoice() -> homeward_workflows::activities::Invoice {
    homeward_workflows::activities::Invoice {
        supplier: "sup-0123456789abcdef".into(),
        invoice_reference: "INV-2027-041".into(),
    }
}
